//! Talking to Salesforce over HTTP, below OAuth and below any particular API resource.
//!
//! Layers, bottom up:
//! - `transport`: the one-method [`Transport`] seam and its production [`UreqTransport`];
//!   [`TransportError`] says whether a failed request may have been sent.
//! - `error`: Salesforce's error bodies as a typed [`SalesforceError`], and the
//!   [`Disposition`] (retry, refresh the session, back off for the API limit, give up).
//! - `limits`: the org's API usage from `Sforce-Limit-Info`.
//! - `api`: one checked exchange ([`send`], [`check`]): 2xx, or an [`ApiError`].
//!
//! Authenticated data calls, with the session refresh on 401, are
//! [`Connections::send`](crate::oauth::Connections::send).

mod api;
mod error;
mod limits;
mod transport;

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
pub(crate) mod loopback;
#[cfg(test)]
pub(crate) mod replay;

pub use api::{check, send, ApiError};
pub use error::{Disposition, SalesforceError};
pub use limits::ApiUsage;
pub use transport::{
    Transport, TransportConfig, TransportError, TransportErrorKind, UreqTransport,
};
