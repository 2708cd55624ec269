//! The tenant's `connection` settings section (host contract §2), resolved against the host's
//! default connected app, and the normalized Salesforce server address.

use std::fmt;
use std::net::IpAddr;

use oauth2::url::{Host, Url};
use oauth2::ClientSecret;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::config::{AppCredentials, HostConfig, Secret};
use crate::decode::{self, DecodeError};

/// Where the section sits in the tenant settings, for error paths.
const SECTION: &str = "connection";

/// Which connected app a tenant uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppChoice {
    /// The operator's app from the host configuration (`default_app`).
    Default,
    /// The tenant's own app, whose credentials the section gives.
    Custom,
}

crate::settings::choice!(AppChoice: Default = "default", Custom = "custom");

/// The section as the admin wrote it. Embed it in a larger settings type, or decode it alone
/// with [`ConnectionSettings::from_value`]; either way [`ConnectionSection::resolve`] checks it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
pub struct ConnectionSection {
    pub app: AppChoice,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// The Account Server Address (the OAuth server).
    #[serde(default)]
    pub login_url: Option<String>,
    /// The CRM Address; data calls go to the token's `instance_url` regardless.
    #[serde(default)]
    pub crm_url: Option<String>,
    #[serde(default)]
    pub pkce: bool,
}

/// A tenant's checked connection settings.
#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    pub app: AppChoice,
    pub client_id: String,
    pub client_secret: ClientSecret,
    pub login_url: ServerUrl,
    pub crm_url: Option<ServerUrl>,
    /// Add PKCE (S256) to the authorization.
    pub pkce: bool,
}

impl ConnectionSettings {
    /// Decodes and resolves the `connection` section given alone; error paths start with
    /// `connection.`.
    pub fn from_value(section: &Value, host: &HostConfig) -> Result<Self, DecodeError> {
        let section: ConnectionSection = decode::from_value(section).map_err(|e| {
            DecodeError::new(
                if e.path.is_empty() {
                    SECTION.to_string()
                } else {
                    format!("{SECTION}.{}", e.path)
                },
                e.problem,
            )
        })?;
        section.resolve(host)
    }
}

impl ConnectionSection {
    /// Checks the section and fills in the host's default app where the tenant chose it.
    /// With `"default"`, a tenant may still give `login_url` (a sandbox or My Domain signs in
    /// through the same connected app); the client id and secret are the operator's.
    pub fn resolve(&self, host: &HostConfig) -> Result<ConnectionSettings, DecodeError> {
        let secret = self
            .client_secret
            .as_ref()
            .filter(|s| !s.expose().trim().is_empty());
        let path = |field: &str| format!("{SECTION}.{field}");
        let login_url = given(&self.login_url)
            .map(|url| ServerUrl::parse(url).map_err(|p| DecodeError::new(path("login_url"), p)))
            .transpose()?;
        let crm_url = given(&self.crm_url)
            .map(|url| ServerUrl::parse(url).map_err(|p| DecodeError::new(path("crm_url"), p)))
            .transpose()?;
        let (client_id, client_secret, login_url) = match self.app {
            AppChoice::Default => {
                let Some(app) = &host.default_app else {
                    return Err(DecodeError::new(
                        path("app"),
                        "is default, but this CloudCX host has no default connected app: \
                         choose custom and give client_id, client_secret and login_url",
                    ));
                };
                for (field, value) in [
                    ("client_id", given(&self.client_id).is_some()),
                    ("client_secret", secret.is_some()),
                ] {
                    if value {
                        return Err(DecodeError::new(
                            path(field),
                            "must not be given when app is default (the host's connected app is used)",
                        ));
                    }
                }
                let login_url = match login_url {
                    Some(url) => url,
                    None => default_login_url(app)?,
                };
                (
                    app.client_id.clone(),
                    app.client_secret.expose().to_string(),
                    login_url,
                )
            }
            AppChoice::Custom => {
                let required = || "is required when app is custom";
                let client_id = given(&self.client_id)
                    .ok_or_else(|| DecodeError::new(path("client_id"), required()))?;
                let secret =
                    secret.ok_or_else(|| DecodeError::new(path("client_secret"), required()))?;
                let login_url =
                    login_url.ok_or_else(|| DecodeError::new(path("login_url"), required()))?;
                (
                    client_id.trim().to_string(),
                    secret.expose().to_string(),
                    login_url,
                )
            }
        };
        Ok(ConnectionSettings {
            app: self.app,
            client_id,
            client_secret: ClientSecret::new(client_secret),
            login_url,
            crm_url,
            pkce: self.pkce,
        })
    }
}

/// The host's default app's login URL, normalized.
pub fn default_login_url(app: &AppCredentials) -> Result<ServerUrl, DecodeError> {
    ServerUrl::parse(&app.login_url).map_err(|p| DecodeError::new("default_app.login_url", p))
}

/// A settings value, unless absent or blank (a settings form may send empty fields).
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.trim().is_empty())
}

/// A Salesforce server address reduced to `scheme://host[:port]`, lowercase, without a trailing
/// slash, so that `https://Login.Salesforce.com/` and `https://login.salesforce.com` are one.
/// https only, except plain http to a loopback address (the local emulator).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ServerUrl(String);

impl ServerUrl {
    /// Normalizes `text`, or says what is wrong with it (worded to follow a field name).
    pub fn parse(text: &str) -> Result<ServerUrl, String> {
        let text = text.trim();
        let url = Url::parse(text).map_err(|e| {
            format!("must be a URL such as https://login.salesforce.com/ ({e}, found \"{text}\")")
        })?;
        if !url.username().is_empty()
            || url.password().is_some()
            || url.query().is_some()
            || url.fragment().is_some()
            || !url.path().trim_matches('/').is_empty()
        {
            return Err(format!(
                "must be a server address only, such as https://login.salesforce.com/ (found \"{text}\")"
            ));
        }
        let host = url
            .host()
            .ok_or_else(|| format!("must name a server (found \"{text}\")"))?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&host) => {}
            _ => return Err(format!("must be an https:// address (found \"{text}\")")),
        }
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        Ok(ServerUrl(format!("{}://{host}{port}", url.scheme())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address of `path` (starting with `/`) on this server.
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }
}

impl fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ServerUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ServerUrl::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// Whether a URL Salesforce handed back (`instance_url`, the identity URL) may receive an
/// access token: https, or http to a loopback address.
pub fn is_safe_endpoint(url: &str) -> bool {
    Url::parse(url).is_ok_and(|url| match (url.scheme(), url.host()) {
        ("https", Some(_)) => true,
        ("http", Some(host)) => is_loopback(&host),
        _ => false,
    })
}

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => IpAddr::V4(*ip).is_loopback(),
        Host::Ipv6(ip) => IpAddr::V6(*ip).is_loopback(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn host(default_app: bool) -> HostConfig {
        let mut config =
            json!({"state_dir": "/tmp/x", "redirect_url": "https://cx.example.com/cb"});
        if default_app {
            config["default_app"] = json!({"client_id": "op-id", "client_secret": "op-secret", "login_url": "https://login.salesforce.com/"});
        }
        crate::config::parse(&config.to_string()).unwrap()
    }

    fn settings(section: Value, default_app: bool) -> Result<ConnectionSettings, String> {
        ConnectionSettings::from_value(&section, &host(default_app)).map_err(|e| e.to_string())
    }

    #[test]
    fn normalizes_server_addresses() {
        let n = |s: &str| ServerUrl::parse(s).map(|u| u.to_string());
        assert_eq!(
            n("https://login.salesforce.com/").unwrap(),
            "https://login.salesforce.com"
        );
        assert_eq!(
            n(" HTTPS://Login.SALESFORCE.com// ").unwrap(),
            "https://login.salesforce.com"
        );
        assert_eq!(
            n("https://test.salesforce.com").unwrap(),
            "https://test.salesforce.com"
        );
        assert_eq!(
            n("https://Acme--UAT.sandbox.my.salesforce.com/").unwrap(),
            "https://acme--uat.sandbox.my.salesforce.com"
        );
        assert_eq!(
            n("https://login.salesforce.com:443/").unwrap(),
            "https://login.salesforce.com"
        );
        assert_eq!(
            n("http://127.0.0.1:8443/").unwrap(),
            "http://127.0.0.1:8443"
        );
        assert_eq!(n("http://LOCALHOST:9/").unwrap(), "http://localhost:9");
        assert_eq!(n("http://[::1]:9").unwrap(), "http://[::1]:9");

        let refused = |s: &str| n(s).unwrap_err();
        assert!(refused("http://login.salesforce.com/").contains("must be an https://"));
        assert!(
            refused("https://login.salesforce.com/services/oauth2/authorize")
                .contains("server address only")
        );
        assert!(refused("https://login.salesforce.com/?x=1").contains("server address only"));
        assert!(refused("https://user:pw@login.salesforce.com/").contains("server address only"));
        assert!(refused("login.salesforce.com").contains("must be a URL"));
        assert!(refused("ftp://login.salesforce.com").contains("https://"));
    }

    #[test]
    fn resolves_a_custom_app() {
        let s = settings(
            json!({"app": "custom", "client_id": " 3MVG9x ", "client_secret": "shh", "login_url": "https://Test.Salesforce.com/", "crm_url": "https://login.salesforce.com/", "pkce": true}),
            false,
        )
        .unwrap();
        assert_eq!(s.client_id, "3MVG9x");
        assert_eq!(s.client_secret.secret(), "shh");
        assert_eq!(s.login_url.as_str(), "https://test.salesforce.com");
        assert_eq!(s.crm_url.unwrap().as_str(), "https://login.salesforce.com");
        assert!(s.pkce);
    }

    #[test]
    fn resolves_the_default_app_from_the_host() {
        let s = settings(json!({"app": "default"}), true).unwrap();
        assert_eq!(s.client_id, "op-id");
        assert_eq!(s.client_secret.secret(), "op-secret");
        assert_eq!(s.login_url.as_str(), "https://login.salesforce.com");
        assert!(!s.pkce);
        // A sandbox tenant signs in elsewhere with the same app; empty fields count as absent.
        let s = settings(
            json!({"app": "default", "client_id": "", "login_url": "https://test.salesforce.com"}),
            true,
        )
        .unwrap();
        assert_eq!(s.login_url.as_str(), "https://test.salesforce.com");
    }

    #[test]
    fn explains_what_is_wrong() {
        assert_eq!(
            settings(json!({"app": "default"}), false).unwrap_err(),
            "connection.app is default, but this CloudCX host has no default connected app: choose custom and give client_id, client_secret and login_url"
        );
        assert_eq!(
            settings(json!({"app": "custom", "client_id": "a", "login_url": "https://login.salesforce.com"}), false).unwrap_err(),
            "connection.client_secret is required when app is custom"
        );
        assert_eq!(
            settings(json!({"app": "default", "client_secret": "x"}), true).unwrap_err(),
            "connection.client_secret must not be given when app is default (the host's connected app is used)"
        );
        assert_eq!(
            settings(json!({"app": "custom", "clientid": "a"}), false).unwrap_err(),
            "connection.clientid is not a known field (expected one of app, client_id, client_secret, login_url, crm_url, pkce)"
        );
        assert_eq!(
            settings(json!({"app": "mine"}), false).unwrap_err(),
            "connection.app must be default or custom (found \"mine\")"
        );
        assert_eq!(
            settings(json!({"app": "custom", "client_id": "a", "client_secret": "b", "login_url": "http://login.salesforce.com"}), false).unwrap_err(),
            "connection.login_url must be an https:// address (found \"http://login.salesforce.com\")"
        );
        assert_eq!(
            settings(json!("x"), false).unwrap_err(),
            "connection must be an object (found string \"x\")"
        );
    }

    #[test]
    fn never_shows_the_client_secret() {
        let s = settings(
            json!({"app": "custom", "client_id": "a", "client_secret": "s3cr3t-value", "login_url": "https://login.salesforce.com"}),
            false,
        )
        .unwrap();
        assert!(!format!("{s:?}").contains("s3cr3t-value"));
    }

    #[test]
    fn only_safe_endpoints_receive_tokens() {
        assert!(is_safe_endpoint("https://na1.salesforce.com"));
        assert!(is_safe_endpoint("http://127.0.0.1:9/id/00D/005"));
        assert!(!is_safe_endpoint("http://na1.salesforce.com"));
        assert!(!is_safe_endpoint("file:///etc/passwd"));
        assert!(!is_safe_endpoint("not a url"));
    }
}
