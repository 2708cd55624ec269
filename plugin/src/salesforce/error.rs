//! Salesforce's error answers, read into one typed [`SalesforceError`] and classified for
//! retrying (salesforce-api.md §4.6).
//!
//! Shapes read: the REST array `[{"message","errorCode","fields"}]` (§4.1), the OAuth object
//! `{"error","error_description"}` (§1.7), a nested `{"error":{"message"}}` seen from outage
//! pages, and anything else (HTML, empty) as a status-only error.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The longest piece of a non-JSON error body kept in a message.
const MAX_SNIPPET_CHARS: usize = 160;

/// An error answer from Salesforce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesforceError {
    /// The HTTP status.
    pub status: u16,
    /// Salesforce's `errorCode` (REST) or `error` (OAuth), e.g. `INVALID_SESSION_ID`,
    /// `invalid_grant`; absent when the body had none.
    pub code: Option<String>,
    pub message: String,
    /// The API names of the fields concerned, when Salesforce names them.
    #[serde(default)]
    pub fields: Vec<String>,
}

/// What a caller should do about a failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// A passing problem (5xx, row lock, network): retry with backoff.
    Retry,
    /// The session expired: refresh the access token once, then retry.
    RefreshSession,
    /// The org's API limit is used up: hold all work until the window frees calls.
    RateLimited,
    /// Retrying cannot help (validation, missing field, permissions, 300 choices…).
    Permanent,
}

impl SalesforceError {
    /// Reads an error answer; never fails, whatever the body holds.
    pub fn from_response(status: http::StatusCode, body: &[u8]) -> Self {
        let parsed = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|value| from_json(&value));
        let (code, message, fields) = parsed.unwrap_or_else(|| (None, snippet(body), Vec::new()));
        let message = if message.is_empty() {
            format!(
                "HTTP {} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            )
            .trim_end()
            .to_string()
        } else {
            message
        };
        SalesforceError {
            status: status.as_u16(),
            code,
            message,
            fields,
        }
    }

    pub fn disposition(&self) -> Disposition {
        let code = self.code.as_deref().unwrap_or("");
        // A row lock also shows up wrapped, e.g. inside CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY.
        if code == "UNABLE_TO_LOCK_ROW" || self.message.contains("UNABLE_TO_LOCK_ROW") {
            return Disposition::Retry;
        }
        match (self.status, code) {
            (401, "INVALID_SESSION_ID" | "") => Disposition::RefreshSession,
            (_, "REQUEST_LIMIT_EXCEEDED") | (429, _) => Disposition::RateLimited,
            (_, "SERVER_UNAVAILABLE") | (408 | 500 | 502 | 503 | 504, _) => Disposition::Retry,
            _ => Disposition::Permanent,
        }
    }
}

impl fmt::Display for SalesforceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Salesforce answered {}", self.status)?;
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        write!(f, ": {}", self.message)?;
        if !self.fields.is_empty() {
            write!(f, " (fields: {})", self.fields.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for SalesforceError {}

type Parts = (Option<String>, String, Vec<String>);

fn from_json(value: &Value) -> Option<Parts> {
    match value {
        Value::Array(items) => {
            let first = items.first()?;
            if let Some(object) = first.as_object() {
                let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_string);
                let fields = object
                    .get("fields")
                    .and_then(Value::as_array)
                    .map(|fields| {
                        fields
                            .iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                let mut message = text("message").unwrap_or_default();
                if items.len() > 1 {
                    message.push_str(&format!(" (and {} more errors)", items.len() - 1));
                }
                Some((text("errorCode"), message, fields))
            } else {
                // A 300 to an upsert lists the URLs of the records that match.
                let urls: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
                Some((
                    None,
                    format!("{} records match: {}", urls.len(), urls.join(", ")),
                    Vec::new(),
                ))
            }
        }
        Value::Object(object) => match object.get("error")? {
            Value::String(code) => {
                let description = object
                    .get("error_description")
                    .and_then(Value::as_str)
                    .unwrap_or(code);
                Some((Some(code.clone()), description.to_string(), Vec::new()))
            }
            Value::Object(inner) => {
                let message = inner.get("message").and_then(Value::as_str)?;
                Some((None, message.to_string(), Vec::new()))
            }
            _ => None,
        },
        _ => None,
    }
}

/// The start of a body that is not JSON (an HTML outage page, say), on one line.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_SNIPPET_CHARS + 1)
        .collect();
    if out.chars().count() > MAX_SNIPPET_CHARS {
        out = out.chars().take(MAX_SNIPPET_CHARS).collect();
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::salesforce::fixtures::fixture;
    use http::StatusCode;

    fn error(status: u16, body: &[u8]) -> SalesforceError {
        SalesforceError::from_response(StatusCode::from_u16(status).unwrap(), body)
    }

    #[test]
    fn reads_the_rest_error_array() {
        let e = error(401, &fixture("error_401_invalid_session_id.restforce.json"));
        assert_eq!(e.code.as_deref(), Some("INVALID_SESSION_ID"));
        assert_eq!(e.message, "Session expired or invalid");
        assert_eq!(e.disposition(), Disposition::RefreshSession);

        let e = error(
            400,
            &fixture("error_400_invalid_field_on_write.restforce.json"),
        );
        assert_eq!(e.code.as_deref(), Some("INVALID_FIELD"));
        assert_eq!(e.disposition(), Disposition::Permanent);
        assert_eq!(
            e.to_string(),
            "Salesforce answered 400 INVALID_FIELD: No such column 'foo' on sobject of type Bar"
        );

        let e = error(404, &fixture("error_404_not_found_resource.restforce.json"));
        assert_eq!(e.code.as_deref(), Some("NOT_FOUND"));
        assert_eq!(e.disposition(), Disposition::Permanent);

        let e = error(
            400,
            br#"[{"message":"Required fields are missing: [LastName]","errorCode":"REQUIRED_FIELD_MISSING","fields":["LastName"]},{"message":"x","errorCode":"Y"}]"#,
        );
        assert_eq!(e.fields, ["LastName"]);
        assert_eq!(
            e.message,
            "Required fields are missing: [LastName] (and 1 more errors)"
        );
    }

    #[test]
    fn reads_oauth_errors() {
        let e = error(
            400,
            &fixture("oauth_error_invalid_grant_expired_refresh_token.restforce.json"),
        );
        assert_eq!(e.code.as_deref(), Some("invalid_grant"));
        assert_eq!(e.message, "expired access/refresh token");
        assert_eq!(e.disposition(), Disposition::Permanent);
    }

    #[test]
    fn tolerates_bodies_that_are_not_salesforce_json() {
        let e = error(
            503,
            b"<html><body>\n  Service   Unavailable\n</body></html>",
        );
        assert_eq!(e.code, None);
        assert_eq!(e.message, "<html><body> Service Unavailable </body></html>");
        assert_eq!(e.disposition(), Disposition::Retry);

        let e = error(503, br#"{"error":{"message":"Service Unavailable"}}"#);
        assert_eq!(e.message, "Service Unavailable");

        let e = error(502, b"");
        assert_eq!(e.message, "HTTP 502 Bad Gateway");

        let long = "x".repeat(1000);
        assert_eq!(error(500, long.as_bytes()).message.chars().count(), 161);

        let e = error(
            300,
            &fixture("upsert_300_multiple_choices_body.restforce.json"),
        );
        assert!(
            e.message.starts_with("2 records match: /services/data/"),
            "{e}"
        );
        assert_eq!(e.disposition(), Disposition::Permanent);
    }

    #[test]
    fn classifies_per_the_retry_table() {
        let d = |status, body: &str| error(status, body.as_bytes()).disposition();
        assert_eq!(
            d(
                403,
                r#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#
            ),
            Disposition::RateLimited
        );
        assert_eq!(d(429, ""), Disposition::RateLimited);
        assert_eq!(
            d(
                400,
                r#"[{"message":"unable to obtain exclusive access to this record","errorCode":"UNABLE_TO_LOCK_ROW"}]"#
            ),
            Disposition::Retry
        );
        assert_eq!(
            d(
                400,
                r#"[{"message":"UNABLE_TO_LOCK_ROW, unable to obtain exclusive access","errorCode":"CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY"}]"#
            ),
            Disposition::Retry
        );
        assert_eq!(
            d(
                401,
                r#"[{"message":"INVALID_HEADER_TYPE","errorCode":"INVALID_AUTH_HEADER"}]"#
            ),
            Disposition::Permanent
        );
        assert_eq!(d(500, "[]"), Disposition::Retry);
        assert_eq!(
            d(
                403,
                r#"[{"message":"insufficient access rights on object id","errorCode":"INSUFFICIENT_ACCESS"}]"#
            ),
            Disposition::Permanent
        );
    }
}
