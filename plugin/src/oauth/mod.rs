//! Connecting tenants to Salesforce: OAuth 2.0 web server flow, token storage and the token
//! lifecycle (issue 4's connection layer; host contract §2 `connection` and §6).
//!
//! The API, all on [`Connections`] (create one per plugin with [`Connections::new`] from the
//! [`HostConfig`](crate::config::HostConfig) and a [`Transport`](crate::salesforce::Transport)):
//! - [`connect_start`](Connections::connect_start)`(tenant, &ConnectionSettings) -> AuthorizeUrl`
//! - [`connect_finish`](Connections::connect_finish)`(tenant, &ConnectionSettings, &CallbackQuery) -> ConnectedUser`
//! - [`session`](Connections::session)`(tenant) -> Session` and
//!   [`refresh_after_401`](Connections::refresh_after_401)`(tenant, seen_generation) -> Session`,
//!   or [`send`](Connections::send)`(tenant, build_request) -> Response`, which does both
//! - [`disconnect`](Connections::disconnect)`(tenant) -> Disconnected` and
//!   [`retry_pending_revokes`](Connections::retry_pending_revokes)`()`
//! - [`status`](Connections::status)`(tenant) -> TenantStatus`,
//!   [`record_api_usage`](Connections::record_api_usage), [`record_error`](Connections::record_error)
//!
//! Tenant settings: [`ConnectionSettings::from_value`] (or embed [`ConnectionSection`] and call
//! [`ConnectionSection::resolve`]).
//!
//! Modules: [`settings`] (the section and server URLs), [`callback`] (the redirect's query), [`token`] (the oauth2 crate over the
//! transport seam: authorize URL, code and refresh grants, revoke), [`identity`] (who
//! connected), [`pending`] (one-time states), [`store`] and [`secret_key`] (tokens on disk,
//! sealed at rest), [`status`] (answers), [`connections`] (the lifecycle that ties them).

pub mod callback;
pub mod connections;
pub mod error;
pub mod identity;
pub mod pending;
pub mod secret_key;
pub mod settings;
pub mod status;
pub mod store;
pub mod token;

pub use callback::CallbackQuery;
pub use connections::Connections;
pub use error::{ConnectionError, Step};
pub use identity::Identity;
pub use settings::{AppChoice, ConnectionSection, ConnectionSettings, ServerUrl};
pub use status::{
    AuthorizeUrl, ConnectedUser, ConnectionState, Disconnected, PreviousOrg, Session, TenantStatus,
};

#[cfg(test)]
mod tests;
