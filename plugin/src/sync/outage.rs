//! Salesforce unavailable to a tenant (no answer, or a server error): its lane stops at the
//! first call that finds it so, and the tenant waits out a back-off that grows while the outage
//! lasts, instead of trying each of its due chats in turn, each failing after its own timeout
//! or call. The chat whose call failed is retried on its own back-off; the others were not
//! tried and stay queued as they were.

use std::collections::HashMap;
use std::time::SystemTime;

use parking_lot::Mutex;

use super::engine::SyncEngine;
use crate::oauth::ConnectionError;
use crate::queue::retry_delay;
use crate::salesforce::{ApiError, Disposition, TransportErrorKind};
use crate::workers::Hold;

/// Per tenant, how the engine's calls to Salesforce fared.
#[derive(Default)]
pub struct Outages(Mutex<HashMap<String, Outage>>);

#[derive(Default)]
struct Outage {
    /// Calls in a row that found Salesforce unavailable: the back-off grows with them.
    in_a_row: u32,
    /// All calls that found it so: tells a delivery whether its own calls did.
    seen: u64,
    /// The last one's error.
    error: String,
}

/// Where a tenant's calls stood, to ask later whether one found Salesforce unavailable since.
pub struct Mark(u64);

impl Outages {
    /// Records how a call went: its error, if it failed.
    pub fn record(&self, tenant: &str, error: Option<&ConnectionError>) {
        let mut outages = self.0.lock();
        match error.filter(|e| unavailable(e)) {
            Some(e) => {
                let outage = outages.entry(tenant.to_string()).or_default();
                outage.in_a_row = outage.in_a_row.saturating_add(1);
                outage.seen += 1;
                outage.error = e.to_string();
            }
            None => {
                if let Some(outage) = outages.get_mut(tenant) {
                    outage.in_a_row = 0;
                }
            }
        }
    }

    pub fn mark(&self, tenant: &str) -> Mark {
        Mark(self.0.lock().get(tenant).map_or(0, |o| o.seen))
    }

    /// The tenant's hold when a call since `mark` found Salesforce unavailable and it has not
    /// answered since: until a back-off grown with the calls that failed in a row.
    fn hold_since(&self, tenant: &str, mark: &Mark) -> Option<Hold> {
        let outages = self.0.lock();
        let outage = outages.get(tenant)?;
        if outage.seen == mark.0 || outage.in_a_row == 0 {
            return None;
        }
        let until = SystemTime::now() + retry_delay(outage.in_a_row - 1);
        let reason = format!("Salesforce is unavailable: {}", outage.error);
        Some(Hold::Until(until, reason))
    }
}

/// Whether a failed call says Salesforce is unavailable: no answer (but for a request refused
/// before it left), or a server error. Not a refusal of the request itself (a row lock, say).
fn unavailable(e: &ConnectionError) -> bool {
    match e.api_error() {
        Some(ApiError::Transport(t)) => !matches!(
            t.kind(),
            TransportErrorKind::InvalidRequest | TransportErrorKind::ShutDown
        ),
        Some(ApiError::Salesforce(error)) => {
            matches!(error.status, 408 | 500..=599) && error.disposition() == Disposition::Retry
        }
        None => false,
    }
}

impl SyncEngine {
    /// The tenant's hold when this delivery's calls (since `mark`) found Salesforce unavailable:
    /// the events it did not try yet wait with it.
    pub(super) fn outage_hold(&self, tenant: &str, mark: &Mark) -> Option<Hold> {
        let hold = self.outages.hold_since(tenant, mark)?;
        if let Hold::Until(until, reason) = &hold {
            log::warn!(
                "tenant {tenant}: {reason}; its other events wait until {}",
                crate::clock::rfc3339(*until)
            );
        }
        Some(hold)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::salesforce::{SalesforceError, TransportError};
    use std::time::Duration;

    fn failed(error: ApiError) -> ConnectionError {
        ConnectionError::Salesforce {
            step: crate::oauth::Step::Call,
            error,
        }
    }

    fn answered(status: u16, code: &str) -> ConnectionError {
        let body = format!(r#"[{{"errorCode": "{code}", "message": "m"}}]"#);
        let status = http::StatusCode::from_u16(status).unwrap();
        failed(ApiError::Salesforce(SalesforceError::from_response(
            status,
            body.as_bytes(),
        )))
    }

    fn unanswered(kind: TransportErrorKind) -> ConnectionError {
        failed(ApiError::Transport(TransportError::new(kind, "gone")))
    }

    #[test]
    fn no_answer_or_a_server_error_is_an_outage_and_a_refusal_is_not() {
        assert!(unavailable(&answered(503, "SERVER_UNAVAILABLE")));
        assert!(unavailable(&answered(500, "UNKNOWN_EXCEPTION")));
        assert!(unavailable(&unanswered(TransportErrorKind::Timeout)));
        assert!(unavailable(&unanswered(TransportErrorKind::Connect)));
        assert!(!unavailable(&answered(400, "UNABLE_TO_LOCK_ROW")));
        assert!(!unavailable(&answered(403, "REQUEST_LIMIT_EXCEEDED")));
        assert!(!unavailable(&answered(400, "INVALID_FIELD")));
        assert!(!unavailable(&unanswered(TransportErrorKind::ShutDown)));
        assert!(!unavailable(&ConnectionError::NotConnected));
    }

    #[test]
    fn a_delivery_is_held_when_its_calls_found_salesforce_unavailable_until_it_answers() {
        let outages = Outages::default();
        let down = answered(503, "SERVER_UNAVAILABLE");
        outages.record("a", Some(&down));
        // An outage before the delivery began is not this delivery's.
        let mark = outages.mark("a");
        assert_eq!(outages.hold_since("a", &mark), None);
        outages.record("a", Some(&down));
        let Some(Hold::Until(until, reason)) = outages.hold_since("a", &mark) else {
            panic!("held");
        };
        assert!(reason.contains("503 SERVER_UNAVAILABLE"), "{reason}");
        // The second in a row: the back-off of a second attempt (at most 4 s).
        assert!(
            until <= SystemTime::now() + Duration::from_secs(4),
            "{until:?}"
        );
        assert_eq!(outages.hold_since("b", &outages.mark("b")), None);
        // Salesforce answered since (even a refusal): not unavailable now.
        outages.record("a", Some(&answered(400, "INVALID_FIELD")));
        assert_eq!(outages.hold_since("a", &mark), None);
        outages.record("a", Some(&down));
        outages.record("a", None);
        assert_eq!(outages.hold_since("a", &mark), None);
    }
}
