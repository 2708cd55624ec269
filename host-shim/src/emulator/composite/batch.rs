//! Composite batch: `POST /composite/batch` (salesforce-api.md §3.2). Up to 25 independent
//! subrequests run in order, each committing on its own (a failure rolls nothing back), and each
//! counts as one API call. With `haltOnError`, the subrequests after the first failure (a 4xx or
//! 5xx) are not run and answer 412 BATCH_PROCESSING_HALTED.

use serde_json::{json, Value};

use super::{run_sub, MAX_SUBREQUESTS};
use crate::emulator::data::{Call, Ctx};
use crate::emulator::error::ApiError;
use crate::emulator::store::Org;
use crate::emulator::wire::Reply;

/// The oldest API version a subrequest may use; the newest is the batch request's own
/// (Salesforce's Composite Batch page).
const OLDEST_VERSION: u32 = 34;

const METHODS: &[&str] = &["GET", "POST", "PATCH", "PUT", "DELETE"];

/// One parsed subrequest.
struct BatchSub {
    method: String,
    /// The full `/services/data/vNN.N/...` path and query.
    url: String,
    /// `richInput`.
    body: Option<Value>,
}

fn major(version: &str) -> Option<u32> {
    version.strip_prefix('v')?.strip_suffix(".0")?.parse().ok()
}

/// Parses `batchRequests[index]`. A bad method or url refuses the whole request before anything
/// runs, as Salesforce's Batch Request Body page says; the wording is the emulator's.
fn parse(value: &Value, index: usize, batch_version: u32) -> Result<BatchSub, ApiError> {
    let invalid = |what: String| {
        ApiError::bad_request("INVALID_INPUT", format!("batchRequests[{index}]: {what}"))
    };
    let text = |key: &str| value.get(key).and_then(Value::as_str);
    let method = text("method")
        .map(str::to_ascii_uppercase)
        .ok_or_else(|| invalid("method is required".into()))?;
    if !METHODS.contains(&method.as_str()) {
        return Err(invalid(format!("invalid method {method}")));
    }
    let url = text("url").ok_or_else(|| invalid("url is required".into()))?;
    // The documented form is relative to /services/data/ (`v62.0/sobjects/...`); Connect's batch
    // examples also show a leading slash.
    let relative = url.strip_prefix('/').unwrap_or(url);
    let version = relative.split(['/', '?']).next().unwrap_or_default();
    match major(version) {
        Some(v) if (OLDEST_VERSION..=batch_version).contains(&v) => {}
        _ => {
            return Err(invalid(format!(
                "invalid url {url}: it must start with an API version from v{OLDEST_VERSION}.0 to v{batch_version}.0, as in v{batch_version}.0/sobjects/Account"
            )))
        }
    }
    Ok(BatchSub {
        method,
        url: format!("/services/data/{relative}"),
        body: value.get("richInput").cloned(),
    })
}

/// `POST /composite/batch`.
pub fn batch(org: &mut Org, ctx: &Ctx, call: &Call) -> Result<Reply, ApiError> {
    let body = call.object()?;
    let halt_on_error = body
        .get("haltOnError")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let requests = body
        .get("batchRequests")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::bad_request("INVALID_INPUT", "batchRequests is required"))?;
    if requests.len() > MAX_SUBREQUESTS {
        return Err(ApiError::bad_request(
            "LIMIT_EXCEEDED",
            format!(
                "Limit Exceeded: the batch request has more than {MAX_SUBREQUESTS} subrequests"
            ),
        ));
    }
    let batch_version = major(&ctx.version).unwrap_or_default();
    let subs = requests
        .iter()
        .enumerate()
        .map(|(i, r)| parse(r, i, batch_version))
        .collect::<Result<Vec<_>, _>>()?;
    // The code and status are the Batch Request Body page's; the message is the emulator's.
    let halted = json!({"statusCode": 412, "result": [{"errorCode": "BATCH_PROCESSING_HALTED", "message": "Batch processing halted: a previous subrequest was unsuccessful"}]});
    let mut results = Vec::with_capacity(subs.len());
    let mut has_errors = false;
    for (i, sub) in subs.iter().enumerate() {
        if has_errors && halt_on_error {
            results.push(halted.clone());
            continue;
        }
        // Each subrequest is one API call: the batch request's own call (already counted) is
        // the first's, and each further one costs another, refused once the budget is spent.
        let charged = if i == 0 {
            Ok(())
        } else {
            ctx.shared.usage.charge()
        };
        let reply = match charged {
            Ok(()) => run_sub(org, ctx, &sub.method, &sub.url, false, sub.body.as_ref()),
            Err(e) => Reply::error(&e),
        };
        has_errors |= reply.status >= 400;
        results.push(json!({"statusCode": reply.status, "result": reply.json_body()}));
    }
    Ok(Reply::json(
        200,
        json!({"hasErrors": has_errors, "results": results}),
    ))
}
