//! The emulator's view of an HTTP exchange, independent of the server crate: a request with
//! its body read, and a reply with Salesforce's content types.

use std::collections::HashMap;

use bytes::Bytes;
use serde_json::Value;

use super::error::ApiError;

pub const JSON: &str = "application/json;charset=UTF-8";

/// A request as the routes see it.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    /// As sent (still percent-encoded, so that `%2F` inside a segment stays inside it).
    pub path: String,
    /// Decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    pub body: Bytes,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        param(&self.query, name)
    }

    /// The `Authorization` header as (scheme, credentials). Schemes are case-insensitive
    /// (RFC 9110 §11.1): callers compare them with `eq_ignore_ascii_case`.
    pub fn authorization(&self) -> Option<(&str, &str)> {
        let header = self.header("authorization")?.trim();
        let (scheme, credentials) = header.split_once(' ').unwrap_or((header, ""));
        Some((scheme, credentials.trim()))
    }

    /// The access token of `Authorization: Bearer …` (or Salesforce's older `OAuth …`).
    pub fn bearer_token(&self) -> Option<&str> {
        self.authorization()
            .filter(|(scheme, _)| is_bearer(scheme))
            .map(|(_, token)| token)
    }

    /// The body as form fields (`application/x-www-form-urlencoded`).
    pub fn form(&self) -> Vec<(String, String)> {
        parse_form(&self.body)
    }

    /// The body as JSON, or Salesforce's parser error.
    pub fn json(&self) -> Result<Value, ApiError> {
        parse_json(&self.body)
    }
}

/// `Bearer` or `OAuth`, in any case: the schemes Salesforce takes for an access token.
pub fn is_bearer(scheme: &str) -> bool {
    scheme.eq_ignore_ascii_case("Bearer") || scheme.eq_ignore_ascii_case("OAuth")
}

pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

pub fn parse_form(bytes: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes).into_owned().collect()
}

pub fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::json_parse(
            "No content to map due to end-of-input",
        ));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::json_parse(format!("Unexpected character: {e}")))
}

/// What the emulator answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Empty,
    Json(Value),
    Raw {
        content_type: &'static str,
        bytes: Vec<u8>,
    },
}

impl Reply {
    pub fn json(status: u16, value: Value) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Body::Json(value),
        }
    }

    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Body::Empty,
        }
    }

    pub fn raw(status: u16, content_type: &'static str, bytes: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Body::Raw {
                content_type,
                bytes: bytes.into(),
            },
        }
    }

    pub fn error(e: &ApiError) -> Reply {
        Reply::json(e.status, e.body())
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    /// The JSON body (`null` for none), for composite sub-responses.
    pub fn json_body(&self) -> Value {
        match &self.body {
            Body::Json(v) => v.clone(),
            Body::Raw { bytes, .. } => Value::String(String::from_utf8_lossy(bytes).into_owned()),
            Body::Empty => Value::Null,
        }
    }
}

/// Percent-decodes a path segment (external ID values may be escaped); `+` stays as it is.
pub fn percent_decode(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).and_then(|&b| hex(b)),
            bytes.get(i + 2).and_then(|&b| hex(b)),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
