//! What a tenant's connection looks like from outside: the answers to connect, disconnect and
//! status calls. All serde-serializable; none holds a secret.

use oauth2::AccessToken;
use serde::{Deserialize, Serialize};

use super::identity::Identity;
use crate::salesforce::ApiUsage;

/// Where to send the admin's browser to connect.
#[derive(Debug, Clone, Serialize)]
pub struct AuthorizeUrl {
    pub url: String,
    /// When the sign-in expires (RFC 3339).
    pub expires_at: String,
}

/// The result of a finished connect.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectedUser {
    #[serde(flatten)]
    pub identity: Identity,
    pub instance_url: String,
    /// RFC 3339.
    pub connected_since: String,
    /// Set when the tenant was connected to another org before: caches of the old org's
    /// records must be cleared, and the admin told.
    pub previous_org: Option<PreviousOrg>,
    /// Salesforce gave no refresh token (the connected app lacks the `refresh_token` scope):
    /// the connection ends with the session.
    pub without_refresh_token: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousOrg {
    pub org_id: String,
    pub username: String,
}

/// What a data call needs: the bearer token, where to send it, and the generation to hand back
/// to [`super::Connections::refresh_after_401`].
#[derive(Debug, Clone)]
pub struct Session {
    pub access_token: AccessToken,
    pub instance_url: String,
    pub generation: u64,
}

/// The result of a disconnect: the tenant is disconnected whatever happened at Salesforce.
#[derive(Debug, Clone, Serialize)]
pub struct Disconnected {
    /// Every refresh token of the tenant is revoked at Salesforce.
    pub revoked: bool,
    /// Why a revoke could not be done now; it is retried later.
    pub revoke_error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    NotConnected,
    Connected,
    NeedsReconnect,
    Disconnected,
}

#[derive(Debug, Clone, Serialize)]
pub struct TenantStatus {
    pub tenant_id: String,
    pub state: ConnectionState,
    /// Why the connection must be made again.
    pub reason: Option<String>,
    /// The user connected as (also kept while the connection needs reconnecting).
    #[serde(flatten)]
    pub identity: Option<Identity>,
    pub instance_url: Option<String>,
    /// RFC 3339.
    pub connected_since: Option<String>,
    /// When the tenant entered its present state, if not connected (RFC 3339).
    pub since: Option<String>,
    pub last_error: Option<String>,
    /// The org's daily API usage at the last call.
    pub api_usage: Option<ApiUsage>,
    /// A disconnect's revoke still waits for Salesforce.
    pub revoke_pending: bool,
}
