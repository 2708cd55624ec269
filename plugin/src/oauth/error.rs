//! Why a connection call failed, in words an admin can act on. No variant carries a token,
//! a client secret, an authorization code or a PKCE verifier.

use std::fmt;

use super::secret_key::KeyFileError;
use super::store::StoreError;
use crate::decode::DecodeError;
use crate::salesforce::{ApiError, Disposition};

/// The step of the flow that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    CodeExchange,
    Identity,
    Refresh,
    /// A data call made through [`super::Connections::send`].
    Call,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::CodeExchange => "exchanging the authorization code",
            Step::Identity => "reading the connected user",
            Step::Refresh => "refreshing the session",
            Step::Call => "calling Salesforce",
        })
    }
}

#[derive(Debug, Clone)]
pub enum ConnectionError {
    /// The tenant id cannot name a connection (empty or too long).
    InvalidTenant(String),
    /// The `state` is not one this plugin issued for the tenant, or was already used.
    UnknownState,
    /// The `state` was issued more than ten minutes ago.
    ExpiredState,
    /// The app or login URL changed between connect start and finish.
    SettingsChanged,
    /// Salesforce sent the admin back with an error instead of a code.
    Denied {
        code: String,
        description: Option<String>,
    },
    /// The redirect carried neither a code nor an error.
    MissingCode,
    NotConnected,
    /// The stored grant no longer works; the admin must connect again.
    NeedsReconnect {
        reason: String,
    },
    /// The tenant connected with the host's default app, which the host no longer has.
    DefaultAppMissing,
    Salesforce {
        step: Step,
        error: ApiError,
    },
    /// Salesforce answered 2xx with something unusable.
    Unreadable {
        step: Step,
        problem: String,
    },
    /// An OAuth endpoint URL could not be built from the login URL.
    BadEndpoint(String),
    /// Salesforce named an endpoint that must not receive a token (not https).
    UnsafeEndpoint {
        what: &'static str,
        url: String,
    },
    /// The host configuration's default app cannot be used.
    HostConfig(DecodeError),
    KeyFile(KeyFileError),
    Storage(StoreError),
}

impl ConnectionError {
    /// Salesforce's answer or the network failure behind this error, if that is what it is:
    /// its [`ApiError::disposition`] says how to go on.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            ConnectionError::Salesforce { error, .. } => Some(error),
            _ => None,
        }
    }

    /// Whether trying the same call later may succeed (Salesforce down, network, storage).
    pub fn is_temporary(&self) -> bool {
        match self {
            ConnectionError::Salesforce { error, .. } => matches!(
                error.disposition(),
                Disposition::Retry | Disposition::RateLimited
            ),
            ConnectionError::Storage(_) => true,
            _ => false,
        }
    }
}

impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionError::InvalidTenant(why) => write!(f, "tenant id {why}"),
            ConnectionError::UnknownState => f.write_str(
                "this Salesforce sign-in is unknown or was already completed: start connecting again",
            ),
            ConnectionError::ExpiredState => f.write_str(
                "this Salesforce sign-in took longer than 10 minutes and expired: start connecting again",
            ),
            ConnectionError::SettingsChanged => f.write_str(
                "the connection settings changed during the Salesforce sign-in: start connecting again",
            ),
            ConnectionError::Denied { code, description } => {
                let what = match code.as_str() {
                    "access_denied" => "the Salesforce user did not allow CloudCX access",
                    "redirect_uri_mismatch" | "redirect_uri_missing" => {
                        "the connected app's Callback URL does not match CloudCX's Authorized Redirect URL"
                    }
                    "invalid_client_id" | "invalid_client" => {
                        "Salesforce does not know the client id (Consumer Key)"
                    }
                    "invalid_scope" => {
                        "the connected app does not allow the scopes api and refresh_token"
                    }
                    "inactive_user" => "the Salesforce user is inactive",
                    "inactive_org" => "the Salesforce org is locked, closed or suspended",
                    "immediate_unsuccessful" => "the Salesforce user must approve the app",
                    "rate_limit_exceeded" => "too many Salesforce logins: try again later",
                    _ => "Salesforce refused the sign-in",
                };
                write!(f, "{what} ({code}")?;
                if let Some(description) = description {
                    write!(f, ": {description}")?;
                }
                f.write_str(")")
            }
            ConnectionError::MissingCode => {
                f.write_str("Salesforce's redirect carried no authorization code")
            }
            ConnectionError::NotConnected => f.write_str("the tenant is not connected to Salesforce"),
            ConnectionError::NeedsReconnect { reason } => {
                write!(f, "the Salesforce connection must be made again: {reason}")
            }
            ConnectionError::DefaultAppMissing => f.write_str(
                "the tenant connected with the host's default connected app, which is no longer configured",
            ),
            ConnectionError::Salesforce { step, error } => write!(f, "{step}: {error}"),
            ConnectionError::Unreadable { step, problem } => {
                write!(f, "{step}: Salesforce's answer is unusable ({problem})")
            }
            ConnectionError::BadEndpoint(problem) => {
                write!(f, "the Salesforce OAuth endpoint URL cannot be built ({problem})")
            }
            ConnectionError::UnsafeEndpoint { what, url } => write!(
                f,
                "Salesforce named {what} {url}, which is not https: no token is sent there"
            ),
            ConnectionError::HostConfig(e) => write!(f, "host configuration: {e}"),
            ConnectionError::KeyFile(e) => e.fmt(f),
            ConnectionError::Storage(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ConnectionError {}

impl From<StoreError> for ConnectionError {
    fn from(e: StoreError) -> Self {
        ConnectionError::Storage(e)
    }
}
