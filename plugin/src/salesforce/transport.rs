//! The one seam between the plugin and the network: [`Transport`] sends a request and returns
//! the response, whatever its status. Production uses [`UreqTransport`]; tests replay recorded
//! exchanges beneath the client through the same trait.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Sends one HTTP request. A response with any status is `Ok`: reading Salesforce's error body
/// is the caller's job ([`super::SalesforceError`]).
pub trait Transport: Send + Sync {
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, TransportError>;
}

/// Why no response came back, split by what a retry must assume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportErrorKind {
    /// The request was malformed or not allowed; nothing was sent.
    InvalidRequest,
    /// No connection could be made (name lookup, connect, proxy); nothing was sent.
    Connect,
    /// The transport was shut down: the request was refused before any byte of it left.
    ShutDown,
    /// A time limit ran out. The request MAY have been sent, and even acted on.
    Timeout,
    /// The exchange broke off, or the answer could not be read. The request MAY have been sent.
    Dispatch,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError {
    kind: TransportErrorKind,
    detail: String,
}

impl TransportError {
    pub fn new(kind: TransportErrorKind, detail: impl Into<String>) -> Self {
        TransportError {
            kind,
            detail: detail.into(),
        }
    }

    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }

    /// Whether Salesforce may have received (and acted on) the request: retrying a
    /// non-idempotent call after such an error needs an idempotency key.
    pub fn may_have_been_sent(&self) -> bool {
        matches!(
            self.kind,
            TransportErrorKind::Timeout | TransportErrorKind::Dispatch
        )
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            TransportErrorKind::InvalidRequest => "the request could not be sent",
            TransportErrorKind::Connect => "Salesforce could not be reached",
            TransportErrorKind::ShutDown => "the plugin is shutting down; nothing was sent",
            TransportErrorKind::Timeout => "Salesforce did not answer in time",
            TransportErrorKind::Dispatch => "the connection to Salesforce failed",
        };
        write!(f, "{what} ({})", self.detail)
    }
}

impl std::error::Error for TransportError {}

/// Time limits and pooling for [`UreqTransport`]. No limit is ever unbounded: ureq's own
/// defaults would let a stalled Salesforce hang a worker forever.
#[derive(Debug, Clone, Copy)]
pub struct TransportConfig {
    /// Name lookup, TCP connect and TLS handshake.
    pub connect_timeout: Duration,
    /// The whole exchange, from connect to the last byte of the response body.
    pub overall_timeout: Duration,
    /// Idle keep-alive connections kept per host; about the number of workers.
    pub idle_connections_per_host: usize,
    /// The largest response body read; Salesforce query pages stay far below this.
    pub max_response_bytes: u64,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            connect_timeout: Duration::from_secs(10),
            overall_timeout: Duration::from_secs(60),
            idle_connections_per_host: 4,
            max_response_bytes: 32 * 1024 * 1024,
        }
    }
}

/// The production transport: ureq 3 with rustls, no redirects (a redirect could carry a bearer
/// token to another host) and no status-as-error (Salesforce's error bodies matter).
pub struct UreqTransport {
    agent: ureq::Agent,
    max_response_bytes: u64,
    /// Set by [`UreqTransport::shutdown`] before the agent is shut, so that ureq's refusals
    /// that follow are known for what they are (see [`classify`]).
    shut: AtomicBool,
}

impl UreqTransport {
    pub fn new(config: TransportConfig) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(config.connect_timeout))
            .timeout_global(Some(config.overall_timeout))
            .max_idle_connections_per_host(config.idle_connections_per_host.max(1))
            .user_agent(concat!("cloudcx-salesforce/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        UreqTransport {
            agent,
            max_response_bytes: config.max_response_bytes,
            shut: AtomicBool::new(false),
        }
    }

    /// Cuts every request in flight (they fail as "may have been sent") and refuses new ones
    /// ([`TransportErrorKind::ShutDown`], not sent): the plugin's shutdown must not wait for a
    /// slow Salesforce.
    pub fn shutdown(&self) {
        self.shut.store(true, Ordering::SeqCst);
        self.agent.clone().shutdown();
    }
}

impl Transport for UreqTransport {
    fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        let mut response = self
            .agent
            .run(request)
            .map_err(|e| classify(e, self.shut.load(Ordering::SeqCst)))?;
        // Answered, so sent: no failure of the body is a refusal.
        let body = response
            .body_mut()
            .with_config()
            .limit(self.max_response_bytes)
            .read_to_vec()
            .map_err(|e| classify(e, false))?;
        let (parts, _) = response.into_parts();
        Ok(http::Response::from_parts(parts, body))
    }
}

/// Only errors that certainly happen before the first byte leaves count as "not sent": calling
/// a sent request unsent could write a record twice. `shut`: the agent has been shut down.
fn classify(error: ureq::Error, shut: bool) -> TransportError {
    use ureq::Error as E;
    use TransportErrorKind as K;
    let kind = match &error {
        E::Http(_) | E::BadUri(_) | E::InvalidProxyUrl | E::RequireHttpsOnly(_) => {
            K::InvalidRequest
        }
        E::HostNotFound | E::ConnectionFailed | E::ConnectProxyFailed(_) | E::TlsRequired => {
            K::Connect
        }
        E::Timeout(ureq::Timeout::Resolve | ureq::Timeout::Connect) => K::Connect,
        E::Timeout(_) => K::Timeout,
        E::Io(e) => match e.kind() {
            io::ErrorKind::ConnectionRefused
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
            | io::ErrorKind::AddrNotAvailable => K::Connect,
            io::ErrorKind::TimedOut => K::Timeout,
            // How a shut agent refuses a request, before it connects or before the first byte
            // on its new connection (ureq's `Agent::shutdown`; it never resends, so no earlier
            // attempt can have left). A request cut mid-flight fails otherwise (end of stream,
            // broken pipe). Before the shutdown, "not connected" is not ureq's refusal.
            io::ErrorKind::NotConnected if shut => K::ShutDown,
            _ => K::Dispatch,
        },
        _ => K::Dispatch,
    };
    TransportError::new(kind, error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::salesforce::loopback::{response, OneShot};
    use std::net::TcpListener;
    use std::thread;
    use std::time::Instant;

    fn transport(overall: Duration) -> UreqTransport {
        UreqTransport::new(TransportConfig {
            connect_timeout: Duration::from_secs(2),
            overall_timeout: overall,
            ..TransportConfig::default()
        })
    }

    fn get(url: &str) -> http::Request<Vec<u8>> {
        http::Request::get(url).body(Vec::new()).unwrap()
    }

    #[test]
    fn error_statuses_and_redirects_come_back_as_responses() {
        let body =
            br#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#;
        let server = OneShot::start(
            Some(response(
                "401 Unauthorized",
                &[("Content-Type", "application/json")],
                body,
            )),
            Duration::ZERO,
        );
        let response_ = transport(Duration::from_secs(5))
            .send(get(&format!("{}/x", server.base_url)))
            .unwrap();
        assert!(server.request().starts_with("GET /x HTTP/1.1"));
        assert_eq!(response_.status(), 401);
        assert_eq!(response_.body(), body);

        let server = OneShot::start(
            Some(response(
                "302 Found",
                &[("Location", "http://127.0.0.1:1/elsewhere")],
                b"",
            )),
            Duration::ZERO,
        );
        let response_ = transport(Duration::from_secs(5))
            .send(get(&server.base_url))
            .unwrap();
        server.request();
        assert_eq!(response_.status(), 302, "redirects must not be followed");
    }

    #[test]
    fn a_refused_connection_was_not_sent() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = transport(Duration::from_secs(5))
            .send(get(&format!("http://127.0.0.1:{port}/")))
            .unwrap_err();
        assert_eq!(err.kind(), TransportErrorKind::Connect, "{err}");
        assert!(!err.may_have_been_sent());
    }

    #[test]
    fn a_silent_server_times_out_and_may_have_received_the_request() {
        let server = OneShot::start(None, Duration::from_millis(800));
        let err = transport(Duration::from_millis(300))
            .send(get(&server.base_url))
            .unwrap_err();
        server.request();
        assert_eq!(err.kind(), TransportErrorKind::Timeout, "{err}");
        assert!(err.may_have_been_sent());
    }

    #[test]
    fn a_request_cut_by_the_shutdown_may_have_been_sent() {
        let server = OneShot::start(None, Duration::from_secs(10));
        let transport = transport(Duration::from_secs(30));
        let started = Instant::now();
        let err = thread::scope(|s| {
            let sending = s.spawn(|| transport.send(get(&server.base_url)));
            server.wait_for_request();
            transport.shutdown();
            sending.join().unwrap().unwrap_err()
        });
        assert!(started.elapsed() < Duration::from_secs(5), "not cut: {err}");
        assert_eq!(err.kind(), TransportErrorKind::Dispatch, "{err}");
        assert!(err.may_have_been_sent());
        server.request(); // returns once the client's side is closed
    }

    #[test]
    fn a_request_after_the_shutdown_is_refused_unsent() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let transport = transport(Duration::from_secs(5));
        transport.shutdown();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let err = transport.send(get(&url)).unwrap_err();
        assert_eq!(err.kind(), TransportErrorKind::ShutDown, "{err}");
        assert!(!err.may_have_been_sent());
        let accepted = listener.accept().map(|_| ());
        assert_eq!(
            accepted.unwrap_err().kind(),
            io::ErrorKind::WouldBlock,
            "no connection was even made"
        );
    }

    #[test]
    fn not_connected_before_a_shutdown_is_no_refusal() {
        let not_connected = || ureq::Error::Io(io::ErrorKind::NotConnected.into());
        let err = classify(not_connected(), false);
        assert_eq!(err.kind(), TransportErrorKind::Dispatch, "{err}");
        assert!(err.may_have_been_sent());
        assert_eq!(
            classify(not_connected(), true).kind(),
            TransportErrorKind::ShutDown
        );
    }

    #[test]
    fn a_bad_uri_is_not_sent() {
        let err = transport(Duration::from_secs(1))
            .send(get("/no-host"))
            .unwrap_err();
        assert_eq!(err.kind(), TransportErrorKind::InvalidRequest, "{err}");
    }
}
