//! The host configuration (host contract §1), given once at load.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer};

use crate::decode::{self, DecodeError};

/// The largest configuration document accepted.
const MAX_CONFIG_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    /// Where the plugin keeps what must survive a restart.
    pub state_dir: PathBuf,
    /// The Authorized Redirect URL that admins paste into their connected app.
    #[serde(deserialize_with = "http_url")]
    pub redirect_url: String,
    /// The operator's connected app, for tenants with `"app": "default"`.
    #[serde(default)]
    pub default_app: Option<AppCredentials>,
    #[serde(default = "default_api_version", deserialize_with = "api_version")]
    pub api_version: String,
    #[serde(default = "default_workers", deserialize_with = "workers")]
    pub workers: usize,
    /// A key to encrypt stored tokens at rest.
    #[serde(default)]
    pub secret_key_file: Option<PathBuf>,
}

/// A connected app's credentials.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
pub struct AppCredentials {
    pub client_id: String,
    pub client_secret: Secret,
    #[serde(deserialize_with = "http_url")]
    pub login_url: String,
}

/// A string that never shows itself in `Debug` or `Display` output.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Parses and checks the host configuration.
pub fn parse(json: &str) -> Result<HostConfig, DecodeError> {
    let value = decode::parse_json(json.as_bytes(), MAX_CONFIG_BYTES)?;
    let config: HostConfig = decode::from_value(&value)?;
    if config.state_dir.as_os_str().is_empty() {
        return Err(DecodeError::new("state_dir", "must not be empty"));
    }
    Ok(config)
}

pub const DEFAULT_API_VERSION: &str = "v62.0";

fn default_api_version() -> String {
    DEFAULT_API_VERSION.to_string()
}

fn default_workers() -> usize {
    4
}

/// `vNN.N`, as Salesforce names its REST API versions.
fn api_version<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    let valid = text
        .strip_prefix('v')
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(major, minor)| {
            !major.is_empty()
                && !minor.is_empty()
                && major.bytes().all(|b| b.is_ascii_digit())
                && minor.bytes().all(|b| b.is_ascii_digit())
        });
    if valid {
        Ok(text)
    } else {
        Err(serde::de::Error::custom(format!(
            "must be a Salesforce API version such as v62.0 (found \"{text}\")"
        )))
    }
}

/// Enough workers to keep many tenants moving, well under Salesforce's 25 concurrent long
/// requests per org.
fn workers<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let n = u64::deserialize(d)?;
    if (1..=64).contains(&n) {
        Ok(n as usize)
    } else {
        Err(serde::de::Error::custom(format!(
            "must be between 1 and 64 (found {n})"
        )))
    }
}

/// An absolute http(s) URL.
fn http_url<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    match rest {
        Some(rest)
            if !rest.is_empty()
                && !rest.starts_with('/')
                && !text.contains(char::is_whitespace) =>
        {
            Ok(text)
        }
        _ => Err(serde::de::Error::custom(format!(
            "must be an http:// or https:// URL (found \"{text}\")"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_defaults() {
        let c = parse(r#"{"state_dir": "/tmp/x", "redirect_url": "https://cx.example.com/cb"}"#)
            .unwrap();
        assert_eq!(c.api_version, "v62.0");
        assert_eq!(c.workers, 4);
        assert!(c.default_app.is_none());
    }

    #[test]
    fn names_the_bad_field() {
        let err = |json: &str| parse(json).unwrap_err().to_string();
        assert_eq!(
            err(r#"{"state_dir": "/x", "redirect_url": "cx.example.com"}"#),
            "redirect_url must be an http:// or https:// URL (found \"cx.example.com\")"
        );
        assert_eq!(
            err(r#"{"state_dir": "/x", "redirect_url": "http://h/", "workers": 0}"#),
            "workers must be between 1 and 64 (found 0)"
        );
        assert_eq!(
            err(r#"{"state_dir": "/x", "redirect_url": "http://h/", "api_version": "62"}"#),
            "api_version must be a Salesforce API version such as v62.0 (found \"62\")"
        );
        assert_eq!(
            err(r#"{"state_dir": "/x", "redirect_url": "http://h/", "worker": 2}"#),
            "worker is not a known field (expected one of state_dir, redirect_url, default_app, api_version, workers, secret_key_file)"
        );
        assert_eq!(
            err(
                r#"{"state_dir": "/x", "redirect_url": "http://h/", "default_app": {"client_id": "a", "login_url": "https://login.salesforce.com"}}"#
            ),
            "default_app.client_secret is required"
        );
    }

    #[test]
    fn never_shows_the_client_secret() {
        let c = parse(
            r#"{"state_dir": "/x", "redirect_url": "http://h/",
                "default_app": {"client_id": "a", "client_secret": "s3cr3t", "login_url": "https://login.salesforce.com"}}"#,
        )
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert_eq!(c.default_app.unwrap().client_secret.expose(), "s3cr3t");
    }
}
