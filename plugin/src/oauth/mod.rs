//! Connecting tenants to Salesforce: OAuth 2.0 web server flow, token storage and the token
//! lifecycle (issue 4's connection layer; host contract §2 `connection` and §6).
//!
//! The API, all on [`Connections`] (create one per plugin with [`Connections::new`] from the
//! [`HostConfig`](crate::config::HostConfig) and a [`Transport`](crate::salesforce::Transport)):
//! - [`connect_start`](Connections::connect_start)`(tenant, &ConnectionSettings) -> AuthorizeUrl`
//! - [`connect_finish`](Connections::connect_finish)`(tenant, &ConnectionSettings, &CallbackQuery, leaving_old_org) -> ConnectedUser`
//! - [`session`](Connections::session)`(tenant) -> Session` and
//!   [`refresh_after_401`](Connections::refresh_after_401)`(tenant, seen_generation) -> Session`,
//!   or [`send`](Connections::send)`(tenant, build_request) -> Response`, which does both
//! - [`disconnect`](Connections::disconnect)`(tenant) -> Disconnected` and
//!   [`retry_pending_revokes`](Connections::retry_pending_revokes)`()`
//! - [`status`](Connections::status)`(tenant) -> TenantStatus`,
//!   [`api_usage`](Connections::api_usage), [`record_api_usage`](Connections::record_api_usage),
//!   [`record_error`](Connections::record_error)
//!
//! Tenant settings: [`ConnectionSettings::from_value`] (or embed [`ConnectionSection`] and call
//! [`ConnectionSection::resolve`]).
//!
//! Storage: one file per tenant under `{state_dir}/connections/`, owner-only (0600 in a 0700
//! directory), replaced atomically. With `secret_key_file` set, each file is sealed with
//! XChaCha20-Poly1305 (fresh random nonce per write, tenant id as associated data). The key
//! file holds 32 random bytes as 64 hexadecimal characters or as base64, surrounding
//! whitespace ignored: `openssl rand -hex 32 > salesforce.key && chmod 600 salesforce.key`.
//! Files written before a key was configured are sealed when next read.
//!
//! Modules: [`settings`] (the section and server URLs), `callback` (the redirect's query),
//! `token` (the oauth2 crate over the transport seam: authorize URL, code and refresh grants,
//! revoke), `identity` (who connected), `pending` (one-time states), `store` and
//! `secret_key` (tokens on disk), [`status`] (answers), [`error`], and `connections` (the
//! lifecycle that ties them together).

mod callback;
mod connections;
pub mod error;
mod identity;
mod pending;
mod secret_key;
pub mod settings;
pub mod status;
mod store;
mod token;

pub use callback::CallbackQuery;
pub use connections::Connections;
pub use error::{ConnectionError, Step};
pub use identity::Identity;
pub use secret_key::KeyFileError;
pub use settings::{AppChoice, ConnectionSection, ConnectionSettings, ServerUrl};
pub use status::{
    AuthorizeUrl, ConnectedUser, ConnectionState, Disconnected, PreviousOrg, Session, TenantStatus,
};
pub use store::StoreError;

#[cfg(test)]
mod tests;
