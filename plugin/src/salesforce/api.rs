//! One checked exchange with Salesforce: a 2xx response, or a typed [`ApiError`] that says
//! what a retry must assume.

use std::fmt;

use super::error::{Disposition, SalesforceError};
use super::transport::{Transport, TransportError, TransportErrorKind};

/// Why a Salesforce call failed. With a response that could not be decoded (the caller's
/// concern) this is the five-way split of rust-notes §3.3: not sent, timed out, dispatch
/// failure ([`TransportError`]'s kinds) and a service error ([`SalesforceError`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// No answer came back; see [`TransportError::may_have_been_sent`].
    Transport(TransportError),
    /// Salesforce answered with an error status.
    Salesforce(SalesforceError),
}

impl ApiError {
    pub fn disposition(&self) -> Disposition {
        match self {
            // A request that cannot be built will not build next time either.
            ApiError::Transport(e) if e.kind() == TransportErrorKind::InvalidRequest => {
                Disposition::Permanent
            }
            ApiError::Transport(_) => Disposition::Retry,
            ApiError::Salesforce(e) => e.disposition(),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Transport(e) => e.fmt(f),
            ApiError::Salesforce(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ApiError {}

impl From<TransportError> for ApiError {
    fn from(e: TransportError) -> Self {
        ApiError::Transport(e)
    }
}

/// Sends `request`; any status outside 2xx becomes [`ApiError::Salesforce`].
pub fn send(
    transport: &dyn Transport,
    request: http::Request<Vec<u8>>,
) -> Result<http::Response<Vec<u8>>, ApiError> {
    check(transport.send(request)?)
}

/// Passes a 2xx response; reads any other as Salesforce's error.
pub fn check(response: http::Response<Vec<u8>>) -> Result<http::Response<Vec<u8>>, ApiError> {
    if response.status().is_success() {
        Ok(response)
    } else {
        Err(ApiError::Salesforce(SalesforceError::from_response(
            response.status(),
            response.body(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::salesforce::fixtures::fixture;
    use crate::salesforce::replay::ReplayTransport;
    use http::Method;

    const URL: &str = "https://na1.salesforce.com/services/data/v62.0/sobjects/Lead/00Q1";

    fn get() -> http::Request<Vec<u8>> {
        http::Request::get(URL).body(Vec::new()).unwrap()
    }

    #[test]
    fn passes_2xx_and_types_the_rest() {
        let replay = ReplayTransport::new()
            .expect(Method::GET, URL, 200, b"{}")
            .expect(
                Method::GET,
                URL,
                401,
                &fixture("error_401_invalid_session_id.restforce.json"),
            )
            .expect_failure(Method::GET, URL, TransportErrorKind::Timeout);
        assert_eq!(send(&replay, get()).unwrap().status(), 200);
        let err = send(&replay, get()).unwrap_err();
        assert_eq!(err.disposition(), Disposition::RefreshSession);
        let err = send(&replay, get()).unwrap_err();
        assert!(matches!(&err, ApiError::Transport(t) if t.may_have_been_sent()));
        assert_eq!(err.disposition(), Disposition::Retry);
        let unsendable = ApiError::Transport(TransportError::new(
            TransportErrorKind::InvalidRequest,
            "bad uri",
        ));
        assert_eq!(unsendable.disposition(), Disposition::Permanent);
        replay.assert_done();
    }
}
