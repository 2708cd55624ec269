//! Composite (`/composite`, salesforce-api.md §3.1), composite graph (`/composite/graph`,
//! §3.3) and sObject Collections (`/composite/sobjects`, §3.5). Each request counts as one API
//! call and runs in one transaction that `allOrNone` (always, for a graph) rolls back.
//! Composite batch (§3.2) and sObject Tree (§3.4) are in the submodules.

mod batch;
mod tree;

use std::collections::{HashMap, HashSet};

use serde_json::{json, Map, Value};

pub use batch::batch;
pub use tree::tree;

use super::data::{self, Call, Ctx};
use super::error::ApiError;
use super::ids;
use super::sobjects::{self, save_result, upsert, writer, UpsertFailure, Upserted};
use super::store::Org;
use super::wire::{parse_form, Reply};

const MAX_SUBREQUESTS: usize = 25;
const MAX_QUERIES: usize = 5;
/// Records (or Ids) per Collections write, and per sObject Tree request.
const MAX_RECORDS: usize = 200;
/// Ids per Collections retrieve: by GET, Salesforce's URL length allows "approximately 800"
/// (beyond, its front end answers 414 URI Too Long; the emulator counts Ids instead and refuses
/// as for the other limits); by POST, 2,000 (the Get Records Using sObject Collections pages).
const MAX_GET_IDS: usize = 800;
const MAX_POST_IDS: usize = 2000;
/// Composite graph limits (salesforce-api.md §3.3): graphs per request, nodes per graph and per
/// request, depth of a graph, different nodes (API version, method, object) per request, and
/// failed graphs after which the rest are not run.
const MAX_GRAPHS: usize = 75;
const MAX_GRAPH_NODES: usize = 500;
const MAX_GRAPH_DEPTH: usize = 15;
const MAX_DISTINCT_NODES: usize = 15;
const MAX_GRAPH_FAILURES: usize = 14;

fn halted() -> Value {
    json!([{"errorCode": "PROCESSING_HALTED", "message": "The transaction was rolled back since another operation in the same transaction failed."}])
}

/// Salesforce's refusal of more records or Ids than a call takes (the Collections wording).
fn too_many(max: usize) -> ApiError {
    ApiError::bad_request(
        "EXCEEDED_ID_LIMIT",
        format!("record limit reached. cannot submit more than {max} records into this call"),
    )
}

/// Evaluates `ref.path` (`refAccount.id`, `refQuery.records[0].Id`) against earlier results.
fn lookup<'a>(expr: &str, done: &'a HashMap<String, Value>) -> Option<&'a Value> {
    let split = expr.find(['.', '[']).unwrap_or(expr.len());
    let mut value = done.get(&expr[..split])?;
    let mut rest = &expr[split..];
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            value = value.get(&after[..end])?;
            rest = &after[end..];
        } else {
            let after = rest.strip_prefix('[')?;
            let close = after.find(']')?;
            value = value.get(after[..close].trim().parse::<usize>().ok()?)?;
            rest = &after[close + 1..];
        }
    }
    Some(value)
}

/// Replaces every `@{…}` reference in a string; a string that is only a reference takes the
/// referenced value's JSON type.
fn resolve_str(s: &str, done: &HashMap<String, Value>) -> Result<Value, String> {
    if let Some(expr) = s
        .strip_prefix("@{")
        .and_then(|r| r.strip_suffix('}'))
        .filter(|e| !e.contains('}'))
    {
        return lookup(expr, done).cloned().ok_or_else(|| expr.to_string());
    }
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("@{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| after.to_string())?;
        let expr = &after[..end];
        match lookup(expr, done).ok_or_else(|| expr.to_string())? {
            Value::String(v) => out.push_str(v),
            other => out.push_str(&other.to_string()),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(Value::String(out))
}

fn resolve(value: &Value, done: &HashMap<String, Value>) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) => resolve_str(s, done)?,
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| resolve(v, done))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), resolve(v, done)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

struct Sub {
    method: String,
    url: String,
    reference_id: String,
    body: Option<Value>,
    allow_save: bool,
}

fn parse_sub(value: &Value) -> Result<Sub, ApiError> {
    let text = |k: &str| value.get(k).and_then(Value::as_str).map(str::to_string);
    let missing = |k: &str| {
        ApiError::bad_request(
            "INVALID_INPUT",
            format!("Composite subrequest is missing required field: {k}"),
        )
    };
    let reference_id = text("referenceId").ok_or_else(|| missing("referenceId"))?;
    if reference_id.is_empty()
        || !reference_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        || !reference_id.starts_with(|c: char| c.is_ascii_alphabetic())
    {
        return Err(ApiError::bad_request("INVALID_INPUT", format!("Invalid referenceId: {reference_id}. Use alphanumeric characters and underscores, starting with a letter.")));
    }
    let allow_save = value
        .get("httpHeaders")
        .and_then(Value::as_object)
        .and_then(|h| {
            h.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("Sforce-Duplicate-Rule-Header"))
        })
        .and_then(|(_, v)| v.as_str())
        .is_some_and(|v| v.replace(' ', "").eq_ignore_ascii_case("allowSave=true"));
    Ok(Sub {
        method: text("method")
            .ok_or_else(|| missing("method"))?
            .to_ascii_uppercase(),
        url: text("url").ok_or_else(|| missing("url"))?,
        reference_id,
        body: value.get("body").cloned(),
        allow_save,
    })
}

/// Whether a subrequest is one of the composite's at most five "query" subrequests: Query,
/// QueryAll or, in Salesforce's newer text, any sObject Collections call (salesforce-api.md §3.1:
/// "up to 5 sObject Collections or query operations").
fn counts_as_query(sub: &Sub) -> bool {
    let path = sub.url.split('?').next().unwrap_or_default();
    (sub.method == "GET" && path.contains("/query")) || path.contains("/composite/sobjects")
}

/// Runs one subrequest, its references resolved; `url` is the full `/services/data/vNN.N/...`
/// path. `allow_save` is the subrequest's own duplicate-rule header.
fn run_sub(
    org: &mut Org,
    ctx: &Ctx,
    method: &str,
    url: &str,
    allow_save: bool,
    body: Option<&Value>,
) -> Reply {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let parsed = path
        .strip_prefix("/services/data/")
        .and_then(|rest| rest.split_once('/').or(Some((rest, ""))))
        .and_then(|(v, rest)| data::version(v).map(|v| (v, rest)));
    let Some((version, rest)) = parsed else {
        return Reply::error(&ApiError::not_found());
    };
    let sub_ctx = Ctx {
        shared: ctx.shared,
        version,
        user_id: ctx.user_id.clone(),
        allow_save: ctx.allow_save || allow_save,
        batch_size: ctx.batch_size,
        in_composite: true,
        if_modified_since: None,
    };
    let query = parse_form(query.as_bytes());
    data::handle(
        org,
        &sub_ctx,
        &Call {
            method,
            path: rest,
            query: &query,
            body,
        },
    )
}

/// Parses a `compositeRequest` array and checks its limits and reference Ids.
fn parse_subs(requests: Option<&Value>, max: usize) -> Result<Vec<Sub>, ApiError> {
    let requests = requests
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::bad_request("INVALID_INPUT", "compositeRequest is required"))?;
    if requests.len() > max {
        return Err(ApiError::bad_request(
            "LIMIT_EXCEEDED",
            format!("Limit Exceeded: the composite request has more than {max} subrequests"),
        ));
    }
    let subs = requests
        .iter()
        .map(parse_sub)
        .collect::<Result<Vec<_>, _>>()?;
    for (i, sub) in subs.iter().enumerate() {
        if subs[..i].iter().any(|s| s.reference_id == sub.reference_id) {
            return Err(ApiError::bad_request(
                "INVALID_INPUT",
                format!(
                    "Duplicate referenceId provided in the request: {}",
                    sub.reference_id
                ),
            ));
        }
    }
    Ok(subs)
}

/// Runs subrequests in order, resolving references; with `all_or_none`, the first failure
/// rolls everything back and every other subrequest answers PROCESSING_HALTED. Returns the
/// `compositeResponse` entries and whether all succeeded.
fn run_subs(org: &mut Org, ctx: &Ctx, subs: &[Sub], all_or_none: bool) -> (Vec<Value>, bool) {
    let savepoint = org.begin();
    let mut done: HashMap<String, Value> = HashMap::new();
    // (status, headers, body) per subrequest; None: not run.
    let mut results: Vec<Option<(u16, Value, Value)>> = Vec::with_capacity(subs.len());
    let mut failed = false;
    for sub in subs {
        if failed && all_or_none {
            results.push(None);
            continue;
        }
        let resolved = resolve_str(&sub.url, &done).and_then(|url| {
            Ok((
                url,
                sub.body.as_ref().map(|b| resolve(b, &done)).transpose()?,
            ))
        });
        let (status, headers, body) = match resolved {
            Err(expr) => {
                let reference = expr
                    .split(['.', '['])
                    .next()
                    .unwrap_or_default()
                    .to_string();
                (
                    400,
                    json!({}),
                    json!([{"errorCode": "PROCESSING_HALTED",
                    "message": format!("Invalid reference specified. No value for {expr} found in {reference}. Provided referenceId ('{reference}') must be specified in a prior subrequest or the request must have succeeded.")}]),
                )
            }
            Ok((url, body)) => {
                let url = url.as_str().unwrap_or_default().to_string();
                let reply = run_sub(org, ctx, &sub.method, &url, sub.allow_save, body.as_ref());
                let headers: Map<String, Value> = reply
                    .headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), json!(v)))
                    .collect();
                (reply.status, Value::Object(headers), reply.json_body())
            }
        };
        if (200..300).contains(&status) {
            done.insert(sub.reference_id.clone(), body.clone());
        } else {
            failed = true;
        }
        results.push(Some((status, headers, body)));
    }
    let roll_back = failed && all_or_none;
    if roll_back {
        org.rollback(savepoint);
    } else {
        org.commit(savepoint);
    }
    let responses = subs
        .iter()
        .zip(results)
        .map(|(sub, result)| match result {
            Some((status, headers, body)) if !(roll_back && (200..300).contains(&status)) => {
                response(sub, status, headers, body)
            }
            _ => response(sub, 400, json!({}), halted()),
        })
        .collect();
    (responses, !failed)
}

/// One `compositeResponse` entry.
fn response(sub: &Sub, status: u16, headers: Value, body: Value) -> Value {
    json!({"body": body, "httpHeaders": headers, "httpStatusCode": status, "referenceId": sub.reference_id})
}

/// `POST /composite`.
pub fn composite(org: &mut Org, ctx: &Ctx, call: &Call) -> Result<Reply, ApiError> {
    let body = call.object()?;
    let all_or_none = body
        .get("allOrNone")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let subs = parse_subs(body.get("compositeRequest"), MAX_SUBREQUESTS)?;
    if subs.iter().filter(|s| counts_as_query(s)).count() > MAX_QUERIES {
        return Err(ApiError::bad_request(
            "LIMIT_EXCEEDED",
            format!("Limit Exceeded: the composite request has more than {MAX_QUERIES} query or sObject Collections subrequests"),
        ));
    }
    let (responses, _) = run_subs(org, ctx, &subs, all_or_none);
    Ok(Reply::json(200, json!({"compositeResponse": responses})))
}

/// What a graph node may be (salesforce-api.md §3.3): `POST /sobjects/X` (create),
/// `GET|PATCH|DELETE /sobjects/X/id`, or `/sobjects/X/ExtField/value` (GET, PATCH, DELETE,
/// POST, as the Composite Graph page lists them). Returns what makes nodes "different" for the
/// distinct-nodes limit: the API version, the method and the object.
fn graph_node(sub: &Sub) -> Option<(String, String, String)> {
    let path = sub.url.split('?').next().unwrap_or_default();
    let segments: Vec<&str> = path
        .strip_prefix("/services/data/")?
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let methods: &[&str] = match segments.as_slice() {
        [_, "sobjects", _] => &["POST"],
        [_, "sobjects", _, _] => &["GET", "PATCH", "DELETE"],
        [_, "sobjects", _, _, _] => &["GET", "PATCH", "DELETE", "POST"],
        _ => return None,
    };
    let version = data::version(segments[0])?;
    methods.contains(&sub.method.as_str()).then(|| {
        (
            version,
            sub.method.clone(),
            segments[2].to_ascii_lowercase(),
        )
    })
}

/// The reference Ids that `@{…}` references in `s` name (`@{refAccount.id}` → `refAccount`).
fn referenced_in<'a>(s: &'a str, out: &mut Vec<&'a str>) {
    let mut rest = s;
    while let Some(start) = rest.find("@{") {
        let after = &rest[start + 2..];
        let end = after.find(['.', '[', '}']).unwrap_or(after.len());
        out.push(&after[..end]);
        rest = &after[end..];
    }
}

/// [`referenced_in`] over every string of a JSON body.
fn referenced<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::String(s) => referenced_in(s, out),
        Value::Array(items) => items.iter().for_each(|v| referenced(v, out)),
        Value::Object(map) => map.values().for_each(|v| referenced(v, out)),
        _ => {}
    }
}

/// A graph's depth: its longest chain of nodes, each referring to the one before (a node that
/// refers to none is one deep).
fn graph_depth(subs: &[Sub]) -> usize {
    let mut depths: HashMap<&str, usize> = HashMap::new();
    for sub in subs {
        let mut refs = Vec::new();
        referenced_in(&sub.url, &mut refs);
        if let Some(body) = &sub.body {
            referenced(body, &mut refs);
        }
        let below = refs
            .iter()
            .filter_map(|r| depths.get(r))
            .max()
            .copied()
            .unwrap_or(0);
        depths.insert(&sub.reference_id, below + 1);
    }
    depths.into_values().max().unwrap_or(0)
}

/// Checks a graph request against §3.3's limits and node URLs before anything runs. Salesforce's
/// wording for these refusals is not documented: the messages are the emulator's.
fn check_graphs(graphs: &[(String, Vec<Sub>)]) -> Result<(), ApiError> {
    let limit =
        |what: String| ApiError::bad_request("LIMIT_EXCEEDED", format!("Limit Exceeded: {what}"));
    let nodes: usize = graphs.iter().map(|(_, subs)| subs.len()).sum();
    if nodes > MAX_GRAPH_NODES {
        return Err(limit(format!(
            "the request has {nodes} nodes, more than {MAX_GRAPH_NODES}"
        )));
    }
    let mut distinct = HashSet::new();
    for (id, subs) in graphs {
        for sub in subs {
            let node = graph_node(sub).ok_or_else(|| {
                ApiError::bad_request(
                    "INVALID_INPUT",
                    format!(
                        "Graph {id}, node {}: {} {} is not supported in a composite graph. A node can only be POST /services/data/vXX.X/sobjects/{{SObject}}, GET, PATCH or DELETE /services/data/vXX.X/sobjects/{{SObject}}/{{id}}, or /services/data/vXX.X/sobjects/{{SObject}}/{{ExternalIdField}}/{{value}}",
                        sub.reference_id, sub.method, sub.url
                    ),
                )
            })?;
            distinct.insert(node);
        }
        let depth = graph_depth(subs);
        if depth > MAX_GRAPH_DEPTH {
            return Err(limit(format!(
                "graph {id} is {depth} nodes deep, more than {MAX_GRAPH_DEPTH}"
            )));
        }
    }
    if distinct.len() > MAX_DISTINCT_NODES {
        return Err(limit(format!(
            "the request has {} different nodes (API version, method, object), more than {MAX_DISTINCT_NODES}",
            distinct.len()
        )));
    }
    Ok(())
}

/// `POST /composite/graph`: each graph is all-or-nothing on its own (salesforce-api.md §3.3);
/// once 14 graphs have failed, the rest are not run and answer PROCESSING_HALTED.
pub fn graph(org: &mut Org, ctx: &Ctx, call: &Call) -> Result<Reply, ApiError> {
    let graphs = call
        .object()?
        .get("graphs")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::bad_request("INVALID_INPUT", "graphs is required"))?;
    if graphs.len() > MAX_GRAPHS {
        return Err(ApiError::bad_request(
            "LIMIT_EXCEEDED",
            format!("Limit Exceeded: the request has more than {MAX_GRAPHS} graphs"),
        ));
    }
    let parsed = graphs
        .iter()
        .map(|g| {
            let id = g.get("graphId").and_then(Value::as_str).map(str::to_string);
            let id =
                id.ok_or_else(|| ApiError::bad_request("INVALID_INPUT", "graphId is required"))?;
            Ok((id, parse_subs(g.get("compositeRequest"), MAX_GRAPH_NODES)?))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    check_graphs(&parsed)?;
    // The halted graphs' message is the emulator's: the limits page only says their status
    // "is shown as PROCESSING_HALTED".
    let not_run = json!([{"errorCode": "PROCESSING_HALTED", "message": format!("Processing halted: {MAX_GRAPH_FAILURES} graphs of this request failed")}]);
    let mut failures = 0;
    let mut results = Vec::with_capacity(parsed.len());
    for (id, subs) in &parsed {
        let (responses, ok) = if failures < MAX_GRAPH_FAILURES {
            run_subs(org, ctx, subs, true)
        } else {
            let halted = subs
                .iter()
                .map(|sub| response(sub, 400, json!({}), not_run.clone()))
                .collect();
            (halted, false)
        };
        failures += usize::from(!ok);
        results.push(json!({"graphId": id, "graphResponse": {"compositeResponse": responses}, "isSuccessful": ok}));
    }
    Ok(Reply::json(200, json!({"graphs": results})))
}

/// A collections item's outcome: its result, or its error (with the record's Id if known).
type Item = Result<Value, (Option<String>, ApiError)>;

fn item_json(item: Item) -> Value {
    match item {
        Ok(v) => v,
        Err((id, e)) => {
            let mut out = Map::new();
            if let Some(id) = id {
                out.insert("id".into(), json!(id));
            }
            out.insert("success".into(), json!(false));
            out.insert("errors".into(), json!([e.collection_entry()]));
            Value::Object(out)
        }
    }
}

/// Runs items in one transaction when `all_or_none`, Salesforce's way: on any failure every
/// item that had succeeded reports ALL_OR_NONE_OPERATION_ROLLED_BACK.
fn run_items<T>(
    org: &mut Org,
    all_or_none: bool,
    items: &[T],
    mut each: impl FnMut(&mut Org, &T) -> Item,
) -> Reply {
    let savepoint = org.begin();
    let results: Vec<Item> = items.iter().map(|item| each(org, item)).collect();
    let failed = results.iter().any(Result::is_err);
    let results: Vec<Value> = if failed && all_or_none {
        org.rollback(savepoint);
        let rolled_back = ApiError::bad_request(
            "ALL_OR_NONE_OPERATION_ROLLED_BACK",
            "Record rolled back because not all records were valid and the request was using AllOrNone header",
        );
        results
            .into_iter()
            .map(|r| item_json(r.and_then(|_| Err((None, rolled_back.clone())))))
            .collect()
    } else {
        org.commit(savepoint);
        results.into_iter().map(item_json).collect()
    };
    Reply::json(200, Value::Array(results))
}

fn record_type(record: &Map<String, Value>) -> Result<&str, ApiError> {
    record
        .get("attributes")
        .and_then(|a| a.get("type"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ApiError::bad_request(
                "INVALID_TYPE",
                "sObject type not specified: each record needs attributes.type",
            )
        })
}

fn records_of(body: &Map<String, Value>) -> Result<Vec<Map<String, Value>>, ApiError> {
    let records = body
        .get("records")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::bad_request("INVALID_INPUT", "records is required"))?;
    if records.len() > MAX_RECORDS {
        return Err(too_many(MAX_RECORDS));
    }
    records
        .iter()
        .map(|r| {
            r.as_object()
                .cloned()
                .ok_or_else(|| ApiError::json_parse("Each record must be a JSON object"))
        })
        .collect()
}

/// A comma-separated Id list of at most `max` Ids.
fn ids_param(list: &str, max: usize) -> Result<Vec<String>, ApiError> {
    let ids: Vec<String> = list
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if ids.len() > max {
        return Err(too_many(max));
    }
    Ok(ids)
}

/// A Collections item's Id in its 18-character form, or the SaveResult error Salesforce gives
/// for a string that is no Id (salesforce-api.md §3.5).
fn item_id(id: &str) -> Result<String, (Option<String>, ApiError)> {
    ids::normalize(id).ok_or_else(|| {
        (
            Some(id.to_string()),
            ApiError::bad_request("MALFORMED_ID", format!("malformed id {id}")),
        )
    })
}

/// `/composite/sobjects[/{object}[/{externalIdField}]]`.
pub fn collections(
    org: &mut Org,
    ctx: &Ctx,
    call: &Call,
    rest: &[&str],
) -> Result<Reply, ApiError> {
    let all_or_none_of = |body: &Map<String, Value>| {
        body.get("allOrNone")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    match (call.method, rest) {
        ("POST", []) => {
            let body = call.object()?;
            let records = records_of(body)?;
            Ok(run_items(
                org,
                all_or_none_of(body),
                &records,
                |org, record| {
                    let object = record_type(record).map_err(|e| (None, e))?;
                    if record.keys().any(|k| k.eq_ignore_ascii_case("id")) {
                        return Err((
                            None,
                            ApiError::bad_request(
                                "INVALID_FIELD",
                                "cannot specify Id in an insert call",
                            ),
                        ));
                    }
                    let object = sobjects::object_def(org, object)
                        .map(|o| o.name.clone())
                        .map_err(|e| (None, e))?;
                    org.create(&object, record, writer(ctx))
                        .map(|id| save_result(&id, None))
                        .map_err(|e| (None, e))
                },
            ))
        }
        ("PATCH", []) => {
            let body = call.object()?;
            let records = records_of(body)?;
            Ok(run_items(
                org,
                all_or_none_of(body),
                &records,
                |org, record| {
                    let id = record
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("id"))
                        .and_then(|(_, v)| v.as_str())
                        .map(str::to_string);
                    let Some(id) = id else {
                        return Err((
                            None,
                            ApiError::bad_request(
                                "MISSING_ARGUMENT",
                                "Id not specified in an update call",
                            ),
                        ));
                    };
                    let full = item_id(&id)?;
                    let fail = |e| (Some(id.clone()), e);
                    let object = record_type(record).map_err(fail)?;
                    let object = sobjects::object_def(org, object)
                        .map(|o| o.name.clone())
                        .map_err(fail)?;
                    let mut fields = record.clone();
                    fields.retain(|k, _| !k.eq_ignore_ascii_case("id"));
                    org.update(&object, &full, &fields, writer(ctx))
                        .map_err(fail)?;
                    Ok(save_result(&full, None))
                },
            ))
        }
        ("DELETE", []) => {
            let ids = ids_param(call.param("ids").unwrap_or_default(), MAX_RECORDS)?;
            let all_or_none = call.param("allOrNone") == Some("true");
            Ok(run_items(org, all_or_none, &ids, |org, id| {
                let fail = |e| (Some(id.clone()), e);
                let full = item_id(id)?;
                let Some(object) = org.row(&full).map(|(o, _)| o.to_string()) else {
                    return Err(fail(ApiError::bad_request(
                        "INVALID_CROSS_REFERENCE_KEY",
                        "invalid cross reference id",
                    )));
                };
                org.delete(&object, &full)
                    .map(|_| save_result(&full, None))
                    .map_err(fail)
            }))
        }
        ("GET" | "POST", [object]) => {
            let obj = sobjects::object_def(org, object)?.clone();
            let (ids, fields) = if call.method == "GET" {
                (
                    ids_param(call.param("ids").unwrap_or_default(), MAX_GET_IDS)?,
                    call.param("fields").map(str::to_string),
                )
            } else {
                let body = call.object()?;
                let list = |k: &str| {
                    body.get(k).and_then(Value::as_array).map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                };
                (
                    ids_param(&list("ids").unwrap_or_default(), MAX_POST_IDS)?,
                    list("fields"),
                )
            };
            let records = ids
                .iter()
                .map(|id| match org.fetch(&obj, id) {
                    Ok(record) => sobjects::record_json(ctx, &obj, record, fields.as_deref()),
                    Err(_) => Ok(Value::Null),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Reply::json(200, Value::Array(records)))
        }
        ("PATCH", [object, field]) => {
            let body = call.object()?;
            let records = records_of(body)?;
            let obj = sobjects::object_def(org, object)?.clone();
            let field = sobjects::external_field(&obj, field)?.to_string();
            Ok(run_items(
                org,
                all_or_none_of(body),
                &records,
                |org, record| {
                    let value = record
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(&field))
                        .map(|(_, v)| v.as_str().map_or_else(|| v.to_string(), str::to_string));
                    let Some(value) = value else {
                        return Err((
                            None,
                            ApiError::bad_request(
                                "MISSING_ARGUMENT",
                                format!("{field} not specified"),
                            ),
                        ));
                    };
                    match upsert(org, ctx, &obj.name, &field, &value, record, false) {
                    Ok(Upserted::Created(id)) => Ok(save_result(&id, Some(true))),
                    Ok(Upserted::Updated(id)) => Ok(save_result(&id, Some(false))),
                    Err(UpsertFailure::Error(e)) => Err((None, e)),
                    Err(UpsertFailure::Several(ids)) => Err((None, ApiError::bad_request(
                        "DUPLICATE_EXTERNAL_ID",
                        format!("{field}: more than one record found for external id field: [{}]", ids.join(", ")),
                    ))),
                }
                },
            ))
        }
        _ => Err(ApiError::not_found()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve_fields_indexes_and_types() {
        let mut done = HashMap::new();
        done.insert(
            "refAccount".to_string(),
            json!({"id": "001000000000001AAA"}),
        );
        done.insert(
            "q".to_string(),
            json!({"records": [{"Id": "003000000000002AAA", "N": 5}]}),
        );
        assert_eq!(
            resolve_str("@{refAccount.id}", &done),
            Ok(json!("001000000000001AAA"))
        );
        assert_eq!(resolve_str("@{q.records[0].N}", &done), Ok(json!(5)));
        assert_eq!(
            resolve_str(
                "/services/data/v62.0/sobjects/Contact/@{q.records[0].Id}",
                &done
            ),
            Ok(json!(
                "/services/data/v62.0/sobjects/Contact/003000000000002AAA"
            ))
        );
        assert_eq!(
            resolve_str("@{missing.id}", &done),
            Err("missing.id".to_string())
        );
        assert_eq!(
            resolve_str("@{q.records[3].Id}", &done),
            Err("q.records[3].Id".to_string())
        );
        let body = json!({"AccountId": "@{refAccount.id}", "Nested": ["x @{q.records[0].N}"]});
        assert_eq!(
            resolve(&body, &done),
            Ok(json!({"AccountId": "001000000000001AAA", "Nested": ["x 5"]}))
        );
    }
}
