//! Test transports that replay recorded exchanges beneath the client: the code under test
//! builds real `http` requests and reads real response bodies; only the socket is replaced.

use std::collections::VecDeque;
use std::time::Duration;

use http::{Method, Request, Response};
use parking_lot::Mutex;

use super::transport::{Transport, TransportError, TransportErrorKind};

/// One request as the code under test sent it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub uri: String,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The decoded `application/x-www-form-urlencoded` body.
    pub fn form(&self) -> Vec<(String, String)> {
        oauth2::url::form_urlencoded::parse(&self.body)
            .into_owned()
            .collect()
    }

    pub fn form_value(&self, key: &str) -> Option<String> {
        self.form()
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
}

enum Outcome {
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    Fail(TransportError),
}

struct Step {
    method: Method,
    uri: String,
    delay: Duration,
    outcome: Outcome,
}

/// Answers requests from an ordered script; a request that does not match the next step is
/// refused and remembered, so [`ReplayTransport::assert_done`] reports it.
#[derive(Default)]
pub struct ReplayTransport {
    script: Mutex<VecDeque<Step>>,
    seen: Mutex<Vec<Recorded>>,
    unexpected: Mutex<Vec<String>>,
}

impl ReplayTransport {
    pub fn new() -> Self {
        Self::default()
    }

    /// Expects `method uri` next and answers it with `status` and a JSON `body`.
    pub fn expect(self, method: Method, uri: &str, status: u16, body: &[u8]) -> Self {
        self.expect_with(
            method,
            uri,
            status,
            &[("content-type", "application/json;charset=UTF-8")],
            body,
            Duration::ZERO,
        )
    }

    pub fn expect_with(
        self,
        method: Method,
        uri: &str,
        status: u16,
        headers: &[(&str, &str)],
        body: &[u8],
        delay: Duration,
    ) -> Self {
        self.push(Step {
            method,
            uri: uri.to_string(),
            delay,
            outcome: Outcome::Respond {
                status,
                headers: headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                body: body.to_vec(),
            },
        })
    }

    /// Expects `method uri` next and fails it the way a dead network would.
    pub fn expect_failure(self, method: Method, uri: &str, kind: TransportErrorKind) -> Self {
        self.push(Step {
            method,
            uri: uri.to_string(),
            delay: Duration::ZERO,
            outcome: Outcome::Fail(TransportError::new(kind, "replayed failure")),
        })
    }

    fn push(self, step: Step) -> Self {
        self.script.lock().push_back(step);
        self
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.seen.lock().clone()
    }

    /// Panics unless every scripted exchange happened and nothing else was asked.
    pub fn assert_done(&self) {
        let unexpected = self.unexpected.lock();
        assert!(unexpected.is_empty(), "unexpected requests: {unexpected:?}");
        let left: Vec<String> = self
            .script
            .lock()
            .iter()
            .map(|s| format!("{} {}", s.method, s.uri))
            .collect();
        assert!(left.is_empty(), "requests not received: {left:?}");
    }
}

impl Transport for ReplayTransport {
    fn send(&self, request: Request<Vec<u8>>) -> Result<Response<Vec<u8>>, TransportError> {
        let (parts, body) = request.into_parts();
        let recorded = Recorded {
            method: parts.method,
            uri: parts.uri.to_string(),
            headers: parts.headers,
            body,
        };
        self.seen.lock().push(recorded.clone());
        let step = {
            let mut script = self.script.lock();
            match script.front() {
                Some(next) if next.method == recorded.method && next.uri == recorded.uri => {
                    script.pop_front()
                }
                _ => None,
            }
        };
        let Some(step) = step else {
            let what = format!("{} {}", recorded.method, recorded.uri);
            self.unexpected.lock().push(what.clone());
            return Err(TransportError::new(
                TransportErrorKind::InvalidRequest,
                format!("replay: {what} was not expected"),
            ));
        };
        std::thread::sleep(step.delay);
        match step.outcome {
            Outcome::Fail(error) => Err(error),
            Outcome::Respond {
                status,
                headers,
                body,
            } => {
                let mut response = Response::builder().status(status);
                for (name, value) in headers {
                    response = response.header(name, value);
                }
                Ok(response.body(body).expect("a valid scripted response"))
            }
        }
    }
}
