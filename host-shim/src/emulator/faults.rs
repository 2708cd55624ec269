//! Fault injection: failures for the next data requests, latency, and the "applied, then the
//! connection dropped" case. Token faults live in [`super::oauth::OAuth`].

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use serde::Deserialize;

use super::error::ApiError;
use super::store::DuplicateRules;

/// A failure to answer data requests with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum FaultKind {
    /// 503 `SERVER_UNAVAILABLE`.
    #[serde(rename = "503")]
    Unavailable,
    /// 500 `UNKNOWN_EXCEPTION`.
    #[serde(rename = "500")]
    ServerError,
    /// 400 `UNABLE_TO_LOCK_ROW`.
    #[serde(rename = "UNABLE_TO_LOCK_ROW")]
    UnableToLockRow,
    /// 403 `REQUEST_LIMIT_EXCEEDED`.
    #[serde(rename = "REQUEST_LIMIT_EXCEEDED")]
    RequestLimitExceeded,
}

impl FaultKind {
    /// Parses a command-line name: `503`, `500`, `UNABLE_TO_LOCK_ROW`, `REQUEST_LIMIT_EXCEEDED`.
    pub fn parse(name: &str) -> Option<FaultKind> {
        serde_json::from_value(serde_json::Value::String(name.to_string())).ok()
    }

    pub fn error(self) -> ApiError {
        match self {
            FaultKind::Unavailable => ApiError::new(503, "SERVER_UNAVAILABLE", "Server Unavailable"),
            FaultKind::ServerError => ApiError::new(
                500,
                "UNKNOWN_EXCEPTION",
                "An unexpected error occurred. Please include this ErrorId if you contact support: 1234567890-12345 (-123456789)",
            ),
            FaultKind::UnableToLockRow => ApiError {
                fields: Some(Vec::new()),
                ..ApiError::bad_request("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record")
            },
            FaultKind::RequestLimitExceeded => limit_exceeded(),
        }
    }
}

pub fn limit_exceeded() -> ApiError {
    ApiError::new(
        403,
        "REQUEST_LIMIT_EXCEEDED",
        "TotalRequests Limit exceeded.",
    )
}

/// Data-request faults, shared by every connection.
#[derive(Debug, Default)]
pub struct Faults {
    failures: Mutex<Option<(FaultKind, u32)>>,
    latency_ms: AtomicU64,
    drop_after_write: AtomicU32,
    /// Set once a dropped write happened, for tests that wait for it.
    pub dropped_writes: AtomicU32,
}

impl Faults {
    pub fn fail_next(&self, count: u32, kind: FaultKind) {
        *self.failures.lock() = (count > 0).then_some((kind, count));
    }

    /// The failure for this data request, if one is due (counting it down).
    pub fn take_failure(&self) -> Option<ApiError> {
        let mut failures = self.failures.lock();
        let (kind, left) = (*failures)?;
        *failures = (left > 1).then_some((kind, left - 1));
        Some(kind.error())
    }

    pub fn set_latency(&self, latency: Duration) {
        self.latency_ms
            .store(latency.as_millis() as u64, Ordering::Relaxed);
    }

    pub fn latency(&self) -> Duration {
        Duration::from_millis(self.latency_ms.load(Ordering::Relaxed))
    }

    pub fn drop_after_write(&self, count: u32) {
        self.drop_after_write.store(count, Ordering::SeqCst);
    }

    /// Whether this write, once applied, should go unanswered (counting it down).
    pub fn take_drop(&self) -> bool {
        let taken = self
            .drop_after_write
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if taken {
            self.dropped_writes.fetch_add(1, Ordering::SeqCst);
        }
        taken
    }
}

/// The body of `POST /__emulator/faults`, every key optional:
/// `{"expireAccessTokens": true, "revokeRefreshTokens": true, "failNext": {"count": 3, "kind": "503"},
///   "latencyMs": 200, "dropAfterWrite": 1, "apiLimit": 100, "apiUsed": 0, "duplicateRules": "block",
///   "denyAuthorization": false}`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultRequest {
    #[serde(default)]
    pub expire_access_tokens: bool,
    #[serde(default)]
    pub revoke_refresh_tokens: bool,
    pub fail_next: Option<FailNext>,
    pub latency_ms: Option<u64>,
    pub drop_after_write: Option<u32>,
    pub api_limit: Option<u64>,
    pub api_used: Option<u64>,
    pub duplicate_rules: Option<DuplicateRules>,
    pub deny_authorization: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailNext {
    pub count: u32,
    pub kind: FaultKind,
}

/// Daily API budget and usage (salesforce-api.md §3.6, §4.4).
#[derive(Debug)]
pub struct Usage {
    pub used: AtomicU64,
    pub max: AtomicU64,
}

impl Usage {
    pub fn new(max: u64) -> Usage {
        Usage {
            used: AtomicU64::new(0),
            max: AtomicU64::new(max),
        }
    }

    /// Counts one call, or refuses it once the budget is spent.
    pub fn charge(&self) -> Result<(), ApiError> {
        let max = self.max.load(Ordering::SeqCst);
        self.used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |u| {
                (u < max).then_some(u + 1)
            })
            .map(|_| ())
            .map_err(|_| limit_exceeded())
    }

    /// `Sforce-Limit-Info`'s value.
    pub fn header(&self) -> String {
        format!(
            "api-usage={}/{}",
            self.used.load(Ordering::SeqCst),
            self.max.load(Ordering::SeqCst)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_count_down() {
        let faults = Faults::default();
        faults.fail_next(2, FaultKind::UnableToLockRow);
        assert_eq!(
            faults.take_failure().map(|e| e.code),
            Some("UNABLE_TO_LOCK_ROW")
        );
        assert_eq!(faults.take_failure().map(|e| e.status), Some(400));
        assert_eq!(faults.take_failure(), None);
        faults.drop_after_write(1);
        assert!(faults.take_drop());
        assert!(!faults.take_drop());
        assert_eq!(FaultKind::parse("503"), Some(FaultKind::Unavailable));
        assert_eq!(FaultKind::parse("nope"), None);
    }

    #[test]
    fn usage_stops_at_the_budget() {
        let usage = Usage::new(2);
        assert!(usage.charge().is_ok());
        assert!(usage.charge().is_ok());
        assert_eq!(
            usage.charge().map_err(|e| (e.status, e.code)),
            Err((403, "REQUEST_LIMIT_EXCEEDED"))
        );
        assert_eq!(usage.header(), "api-usage=2/2");
    }
}
