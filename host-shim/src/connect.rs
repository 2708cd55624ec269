//! `cloudcx-shim connect`: the OAuth web-server flow as the CloudCX host runs it.
//!
//! The shim asks the plugin for the authorize URL, listens on the host configuration's
//! `redirect_url` (on 127.0.0.1, at its port and path) for Salesforce's redirect, hands the
//! redirect's query to the plugin, and then shows the person a page with the outcome: connected
//! (they may close the window), or why not. With `--auto` it follows the authorize URL itself, as a browser would, which works
//! with the emulator (it approves at once); when that browser's walk ends without reaching the
//! listener (Salesforce refused the client id, or cannot be reached), the flow fails at once
//! with what the walk met rather than waiting for a redirect that will never come.

use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloudcx_salesforce_abi::abi_stable::std_types::RResult;
use cloudcx_salesforce_abi::{JsonResult, PluginBox};
use serde_json::{Map, Value};

/// Salesforce's one-time `state` lives ten minutes: no point waiting longer.
const CALLBACK_WAIT: Duration = Duration::from_secs(10 * 60);

/// Where the host receives the redirect: the listener's address and the path to expect.
#[derive(Debug, PartialEq, Eq)]
pub struct RedirectTarget {
    pub port: u16,
    pub path: String,
}

impl RedirectTarget {
    /// Reads an `http://127.0.0.1:PORT/PATH` (or `localhost`) redirect URL.
    pub fn parse(redirect_url: &str) -> Result<RedirectTarget, String> {
        let uri: http::Uri = redirect_url
            .parse()
            .map_err(|e| format!("redirect_url {redirect_url} is not a URL: {e}"))?;
        let loopback = matches!(uri.host(), Some("127.0.0.1" | "localhost" | "[::1]"));
        if uri.scheme_str() != Some("http") || !loopback {
            return Err(format!(
                "redirect_url {redirect_url} is not on this machine: the shim can only listen on \
                 http://127.0.0.1:PORT/...; point redirect_url in the host configuration there"
            ));
        }
        Ok(RedirectTarget {
            port: uri.port_u16().unwrap_or(80),
            path: uri.path().to_string(),
        })
    }
}

/// Runs the flow; answers the plugin's "connected" JSON or a message for the person.
pub fn run(
    plugin: &PluginBox,
    tenant: &str,
    redirect_url: &str,
    auto: bool,
) -> Result<String, String> {
    let target = RedirectTarget::parse(redirect_url)?;
    // Listen before anyone can be sent to the redirect.
    let server = tiny_http::Server::http(("127.0.0.1", target.port))
        .map(Arc::new)
        .map_err(|e| {
            format!(
                "cannot listen on 127.0.0.1:{} for the redirect: {e}",
                target.port
            )
        })?;
    let start = match plugin.connect_start(tenant.into()) {
        RResult::ROk(text) => text.to_string(),
        RResult::RErr(e) => return Err(format!("{} ({})", e.message, e.code)),
    };
    let start: Value = serde_json::from_str(&start).map_err(|e| format!("plugin answer: {e}"))?;
    let authorize_url = start["authorize_url"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    println!("Open this address in a browser to connect tenant {tenant} to Salesforce:\n\n  {authorize_url}\n");
    let (walk_done, walk_outcome) = mpsc::channel();
    if auto {
        let server = server.clone();
        // Not joined: once the redirect has arrived, only the listener's answer is left for it
        // to read, and the connection's outcome no longer depends on it.
        std::thread::spawn(move || {
            let _ = walk_done.send(follow(&authorize_url));
            // Whatever the walk met, nothing more will reach the listener: stop its wait.
            server.unblock();
        });
    }
    let (request, query) = wait_for_redirect(&server, &target.path, &walk_outcome, redirect_url)?;
    let finished = plugin.connect_finish(
        tenant.into(),
        Value::Object(query).to_string().as_str().into(),
    );
    let _ = request.respond(outcome_page(&finished));
    match finished {
        RResult::ROk(text) => Ok(text.to_string()),
        RResult::RErr(e) => Err(format!("{} ({})", e.message, e.code)),
    }
}

/// The page the person's browser shows at the end: 200 when connected (as whom), 400 with the
/// plugin's reason when not. Everything from outside (the reason quotes Salesforce's
/// `error_description`) is escaped.
fn outcome_page(finished: &JsonResult) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    let (status, title, text) = match finished {
        RResult::ROk(connected) => {
            let who = serde_json::from_str::<Value>(connected)
                .ok()
                .and_then(|c| c["username"].as_str().map(|u| format!(" as {}", escape(u))))
                .unwrap_or_default();
            (
                200,
                "Connected to Salesforce",
                format!("CloudCX is connected to Salesforce{who}. You may close this window."),
            )
        }
        RResult::RErr(e) => (
            400,
            "Salesforce sign-in failed",
            format!(
                "{}</p><p>You may close this window and start connecting again.",
                escape(&e.message)
            ),
        ),
    };
    let html = format!(
        "<!doctype html><meta charset=utf-8><title>CloudCX: {title}</title>\
         <body style=\"font-family:sans-serif;margin:3em\"><h1>{title}</h1><p>{text}</p></body>\n"
    );
    tiny_http::Response::from_string(html)
        .with_status_code(status)
        .with_header(
            "Content-Type: text/html; charset=utf-8"
                .parse::<tiny_http::Header>()
                .expect("a valid header"),
        )
}

/// Text for an HTML element's content or an attribute.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Plays the browser: asks the authorize URL, then goes where Salesforce redirects; answers
/// where it went, or why it could not.
fn follow(authorize_url: &str) -> Result<String, String> {
    let agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent();
    // The query holds the one-time state: name the address without it.
    let address = authorize_url.split('?').next().unwrap_or_default();
    let mut response = agent
        .get(authorize_url)
        .call()
        .map_err(|e| format!("cannot reach the authorize URL {address}: {e}"))?;
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .map(str::to_string);
    let Some(location) = location else {
        if status.is_success() {
            return Err(format!(
                "the authorize URL {address} answered {status} without a redirect: with --auto, \
                 sign-in must be approved at once (as the emulator does); open the URL in a \
                 browser instead"
            ));
        }
        let page = response
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_string()
            .unwrap_or_default();
        return Err(format!(
            "Salesforce refused the sign-in at {address}: {status}: {}",
            refusal_reason(&page)
        ));
    };
    agent.get(&location).call().map_err(|e| {
        // The query holds the one-time code: name the address without it.
        let to = location.split('?').next().unwrap_or_default();
        format!("cannot follow the redirect to {to}: {e}")
    })?;
    Ok(location)
}

/// What an authorize error page says: Salesforce answers `error=...&error_description=...` as
/// the page's text; anything else, its first line.
fn refusal_reason(page: &str) -> String {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(page.trim().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let reason = match (get("error"), get("error_description")) {
        (Some(error), Some(description)) => format!("{error}: {description}"),
        (Some(error), None) => error.to_string(),
        _ => page.lines().next().unwrap_or("(an empty page)").to_string(),
    };
    reason
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect()
}

/// Serves the listener until the redirect arrives, or until the `--auto` walk ends without it
/// (reported on `walk`); answers the redirect's request, still to be answered, and its query
/// parameters.
fn wait_for_redirect(
    server: &tiny_http::Server,
    path: &str,
    walk: &mpsc::Receiver<Result<String, String>>,
    redirect_url: &str,
) -> Result<(tiny_http::Request, Map<String, Value>), String> {
    let deadline = Instant::now() + CALLBACK_WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let received = server
            .recv_timeout(left)
            .map_err(|e| format!("the redirect listener failed: {e}"))?;
        let Some(request) = received else {
            // Unblocked by the walk's end, or the wait is over.
            if let Ok(walked) = walk.try_recv() {
                let went = walked?;
                let went = went.split('?').next().unwrap_or_default();
                return Err(format!(
                    "the authorize URL led to {went}, not to the redirect URL {redirect_url}: \
                     with --auto, sign-in must be approved at once (as the emulator does); open \
                     the URL in a browser instead"
                ));
            }
            if Instant::now() >= deadline {
                return Err(
                    "no redirect from Salesforce within 10 minutes: start connecting again".into(),
                );
            }
            continue;
        };
        let (request_path, query) = request.url().split_once('?').unwrap_or((request.url(), ""));
        if request_path != path {
            let _ = request.respond(tiny_http::Response::empty(404));
            continue;
        }
        let params: Map<String, Value> = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        return Ok((request, params));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_redirects_can_be_served_here() {
        assert_eq!(
            RedirectTarget::parse("http://127.0.0.1:8765/callback").unwrap(),
            RedirectTarget {
                port: 8765,
                path: "/callback".into()
            }
        );
        assert_eq!(
            RedirectTarget::parse("http://localhost/cb").unwrap().port,
            80
        );
        let err = RedirectTarget::parse("https://cx.example.com/callback").unwrap_err();
        assert!(err.contains("is not on this machine"), "{err}");
    }

    #[test]
    fn an_authorize_error_page_is_read_for_its_reason() {
        assert_eq!(
            refusal_reason(
                "error=invalid_client_id&error_description=client%20identifier%20invalid"
            ),
            "invalid_client_id: client identifier invalid"
        );
        assert_eq!(refusal_reason("error=inactive_org\n"), "inactive_org");
        assert_eq!(
            refusal_reason("<html>Maintenance\n</html>"),
            "<html>Maintenance"
        );
        assert_eq!(refusal_reason(""), "(an empty page)");
    }

    #[test]
    fn a_walk_that_ends_elsewhere_ends_the_wait() {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let (done, outcome) = mpsc::channel();
        done.send(Ok("https://login.example/login?state=s".to_string()))
            .unwrap();
        server.unblock();
        let err = wait_for_redirect(
            &server,
            "/callback",
            &outcome,
            "http://127.0.0.1:1/callback",
        )
        .unwrap_err();
        assert_eq!(
            err,
            "the authorize URL led to https://login.example/login, not to the redirect URL \
             http://127.0.0.1:1/callback: with --auto, sign-in must be approved at once (as the \
             emulator does); open the URL in a browser instead"
        );
    }
}
