//! HTTP/1.1 with keep-alive, plain or TLS on the same port, on a small tokio runtime (hyper 1). A request is read whole, routed
//! synchronously, and answered; for the "applied, then dropped" fault the service returns an
//! error, which makes hyper close the connection without writing a response.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

use tokio_rustls::TlsAcceptor;

use super::router::{self, Outcome};
use super::shared::Shared;
use super::tls;
use super::wire::{Body, Reply, Req, JSON};

/// The largest request body accepted (Salesforce's JSON limit for base64 blobs is ~50 MB).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// The error that closes a connection unanswered.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose after applying the request")
    }
}

impl std::error::Error for Dropped {}

/// A running server; stopping it (or dropping it) closes every connection.
pub struct Server {
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves `listener` on a background thread.
    pub fn start(
        listener: std::net::TcpListener,
        shared: Arc<Shared>,
        tls: TlsAcceptor,
    ) -> io::Result<Server> {
        listener.set_nonblocking(true)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("sf-emulator")
            .enable_io()
            .enable_time()
            .build()?;
        let (tx, rx) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("sf-emulator-accept".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            log::error!("emulator: cannot listen: {e}");
                            return;
                        }
                    };
                    accept_loop(listener, shared, tls, rx).await;
                });
                // Ends the connection tasks still open (keep-alive clients).
                runtime.shutdown_background();
            })?;
        Ok(Server {
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    pub fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    tls: TlsAcceptor,
    mut shutdown: oneshot::Receiver<()>,
) {
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    log::warn!("emulator: accept failed: {e}");
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let mut first = [0u8; 1];
            let served = match stream.peek(&mut first).await {
                Ok(1) if first[0] == tls::HANDSHAKE => match tls.accept(stream).await {
                    Ok(stream) => serve_connection(stream, shared).await,
                    Err(e) => Err(e.to_string()),
                },
                _ => serve_connection(stream, shared).await,
            };
            if let Err(e) = served {
                log::debug!("emulator: connection from {peer} ended: {e}");
            }
        });
    }
}

/// HTTP/1.1 with keep-alive over a plain or TLS stream.
async fn serve_connection<S>(stream: S, shared: Arc<Shared>) -> Result<(), String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| serve(shared.clone(), req));
    http1::Builder::new()
        .keep_alive(true)
        .title_case_headers(true)
        .serve_connection(TokioIo::new(stream), service)
        .await
        .map_err(|e| e.to_string())
}

async fn serve(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Ok(to_response(Reply::error(
                &super::error::ApiError::bad_request(
                    "JSON_PARSER_ERROR",
                    "The request body is too large or was cut off",
                ),
            )))
        }
    };
    let headers: HashMap<String, String> = parts
        .headers
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_ascii_lowercase(), v.to_string()))
        })
        .collect();
    // HEAD is answered as GET: hyper then sends the headers (Content-Length too) and no body.
    let method = if parts.method == hyper::Method::HEAD {
        hyper::Method::GET
    } else {
        parts.method
    };
    let req = Req {
        method: method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts
            .uri
            .query()
            .map(|q| super::wire::parse_form(q.as_bytes()))
            .unwrap_or_default(),
        headers,
        body,
    };
    if router::delayed(&req.path) {
        let latency = shared.faults.latency();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
    }
    log::debug!("emulator: {} {}", req.method, req.path);
    match router::route(&shared, &req) {
        Outcome::Reply(reply) => Ok(to_response(reply)),
        Outcome::Drop => Err(Dropped),
    }
}

fn to_response(reply: Reply) -> Response<Full<Bytes>> {
    let (content_type, body) = match reply.body {
        Body::Empty => (None, Bytes::new()),
        Body::Json(value) => (
            Some(JSON),
            Bytes::from(serde_json::to_vec(&value).unwrap_or_default()),
        ),
        Body::Raw {
            content_type,
            bytes,
        } => (Some(content_type), Bytes::from(bytes)),
    };
    let mut builder = Response::builder().status(reply.status);
    if let Some(ct) = content_type {
        builder = builder.header("Content-Type", ct);
    }
    for (name, value) in reply.headers {
        builder = builder.header(name, value);
    }
    builder.body(Full::new(body)).unwrap_or_else(|_| {
        let mut fallback = Response::new(Full::new(Bytes::new()));
        *fallback.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
        fallback
    })
}
