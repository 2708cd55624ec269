//! Salesforce's REST error: `[{"message", "errorCode", "fields"?}]` with an HTTP status
//! (salesforce-api.md §4), and its sObject Collections form, which says `statusCode`.

use serde_json::{json, Map, Value};

/// One REST API error.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// `None` leaves the `fields` key out, as Salesforce does for session and query errors.
    pub fields: Option<Vec<String>>,
    /// Extra keys Salesforce puts first in some errors (`duplicateResut`).
    pub extra: Option<Box<(&'static str, Value)>>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            fields: None,
            extra: None,
        }
    }

    /// A 400 about the given fields.
    pub fn on_fields(code: &'static str, message: impl Into<String>, fields: &[&str]) -> ApiError {
        ApiError {
            fields: Some(fields.iter().map(|f| f.to_string()).collect()),
            ..ApiError::new(400, code, message)
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(400, code, message)
    }

    pub fn not_found() -> ApiError {
        ApiError::new(404, "NOT_FOUND", "The requested resource does not exist")
    }

    pub fn method_not_allowed(method: &str, allowed: &str) -> ApiError {
        ApiError::new(
            405,
            "METHOD_NOT_ALLOWED",
            format!("HTTP Method '{method}' not allowed. Allowed are {allowed}"),
        )
    }

    pub fn session() -> ApiError {
        ApiError::new(401, "INVALID_SESSION_ID", "Session expired or invalid")
    }

    /// A data call to the login host rather than the instance URL: Salesforce's answer as
    /// clients report it (ex_force#21, amazon-connect-salesforce-lambda#12).
    pub fn url_not_reset() -> ApiError {
        ApiError::new(
            400,
            "URL_NOT_RESET",
            "Destination URL not reset. The URL returned from login must be set",
        )
    }

    pub fn entity_deleted() -> ApiError {
        ApiError {
            fields: Some(Vec::new()),
            ..ApiError::new(404, "ENTITY_IS_DELETED", "entity is deleted")
        }
    }

    pub fn json_parse(message: impl Into<String>) -> ApiError {
        ApiError::bad_request("JSON_PARSER_ERROR", message)
    }

    fn object(&self, code_key: &str) -> Value {
        let mut out = Map::new();
        if let Some((key, value)) = self.extra.as_deref() {
            out.insert(key.to_string(), value.clone());
        }
        out.insert(code_key.to_string(), json!(self.code));
        out.insert("message".to_string(), json!(self.message));
        if let Some(fields) = &self.fields {
            out.insert("fields".to_string(), json!(fields));
        }
        Value::Object(out)
    }

    /// The REST body: a one-element array.
    pub fn body(&self) -> Value {
        json!([self.object("errorCode")])
    }

    /// The entry of a Collections result's `errors` array (always with `fields`).
    pub fn collection_entry(&self) -> Value {
        let mut entry = self.object("statusCode");
        if let Some(map) = entry.as_object_mut() {
            map.entry("fields").or_insert_with(|| json!([]));
        }
        entry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_salesforce_keys() {
        assert_eq!(
            ApiError::session().body(),
            json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
        );
        let e = ApiError::on_fields(
            "REQUIRED_FIELD_MISSING",
            "Required fields are missing: [LastName]",
            &["LastName"],
        );
        assert_eq!(e.body()[0]["fields"], json!(["LastName"]));
        assert_eq!(e.collection_entry()["statusCode"], "REQUIRED_FIELD_MISSING");
        assert!(e.collection_entry().get("errorCode").is_none());
        assert_eq!(
            ApiError::not_found().collection_entry()["fields"],
            json!([])
        );
    }
}
