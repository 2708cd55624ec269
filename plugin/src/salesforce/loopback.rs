//! A one-shot HTTP server on 127.0.0.1, to test the production [`super::UreqTransport`] path
//! end to end without leaving the machine.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc::{self, Receiver};
use std::thread::{self, JoinHandle};
use std::time::Duration;

pub struct OneShot {
    /// `http://127.0.0.1:PORT`
    pub base_url: String,
    handle: JoinHandle<String>,
    arrived: Receiver<()>,
}

impl OneShot {
    /// Serves one connection: reads a request, then writes `reply`, or with `None` keeps the
    /// connection open without answering until the client closes it (`silence` at most).
    pub fn start(reply: Option<Vec<u8>>, silence: Duration) -> OneShot {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let (arrival, arrived) = mpsc::channel();
        let handle = thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            socket
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let request = read_request(&mut socket);
            let _ = arrival.send(());
            match reply {
                Some(reply) => socket.write_all(&reply).unwrap(),
                None => {
                    socket.set_read_timeout(Some(silence)).unwrap();
                    let _ = socket.read_to_end(&mut Vec::new());
                }
            }
            request
        });
        OneShot {
            base_url,
            handle,
            arrived,
        }
    }

    /// Waits until the whole request has arrived.
    pub fn wait_for_request(&self) {
        self.arrived
            .recv_timeout(Duration::from_secs(5))
            .expect("the request arrives");
    }

    /// The request as received, once the exchange is over.
    pub fn request(self) -> String {
        self.handle.join().unwrap()
    }
}

/// An HTTP/1.1 response that closes the connection.
pub fn response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// Reads the head and a `Content-Length` body; stops early on a timeout or a closed socket.
fn read_request(socket: &mut impl Read) -> String {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = find(&data, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                break;
            }
        }
        match socket.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&data).into_owned()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
