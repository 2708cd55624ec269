//! Salesforce's redirect back to CloudCX's Authorized Redirect URL.

use oauth2::AuthorizationCode;
use serde::Deserialize;

/// The query of Salesforce's redirect to the Authorized Redirect URL. Other keys are ignored.
#[derive(Default, Deserialize)]
pub struct CallbackQuery {
    pub code: Option<AuthorizationCode>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

impl CallbackQuery {
    /// Reads a raw query string (`code=…&state=…`, with or without a leading `?`).
    pub fn from_query_string(query: &str) -> CallbackQuery {
        let mut callback = CallbackQuery::default();
        let query = query.strip_prefix('?').unwrap_or(query);
        for (key, value) in oauth2::url::form_urlencoded::parse(query.as_bytes()) {
            let value = value.into_owned();
            match key.as_ref() {
                "code" => callback.code = Some(AuthorizationCode::new(value)),
                "state" => callback.state = Some(value),
                "error" => callback.error = Some(value),
                "error_description" => callback.error_description = Some(value),
                _ => {}
            }
        }
        callback
    }
}

impl std::fmt::Debug for CallbackQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `state` is single-use and checked, but a log line is no place for it either.
        f.debug_struct("CallbackQuery")
            .field("code", &self.code)
            .field("state", &self.state.as_ref().map(|_| "***"))
            .field("error", &self.error)
            .field("error_description", &self.error_description)
            .finish()
    }
}
