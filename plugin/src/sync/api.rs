//! The REST data calls the sync engine makes for a tenant: SOQL queries and composite requests,
//! over [`Connections::send`] (which adds the session and refreshes it on a 401).

use http::Method;
use serde_json::{json, Value};

use super::outage::Outages;
use crate::oauth::{ConnectionError, Connections};
use crate::salesforce::{ApiError, SalesforceError};

/// Salesforce takes at most 25 subrequests in one composite request, 5 of them queries.
pub const MAX_SUBREQUESTS: usize = 25;
pub const MAX_QUERIES: usize = 5;

/// Records in one sObject Collections request, at most.
pub const MAX_COLLECTION: usize = 200;

/// One tenant's view of the data API.
pub struct DataApi<'a> {
    pub connections: &'a Connections,
    pub tenant: &'a str,
    /// Like `v62.0`.
    pub version: &'a str,
    /// Told how each call went.
    pub outages: &'a Outages,
}

/// How [`DataApi::save_many`] writes its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Save<'a> {
    Create,
    Update,
    /// By an external ID (records of one object only).
    Upsert {
        object: &'a str,
        field: &'a str,
    },
}

/// One subrequest of a composite request.
#[derive(Debug, Clone)]
pub struct SubRequest {
    pub reference: String,
    pub method: Method,
    /// The path after `/services/data/vNN.N` (`/sobjects/Case`), references allowed.
    pub path: String,
    pub body: Option<Value>,
}

impl SubRequest {
    pub fn query(reference: &str, soql: &str) -> SubRequest {
        let q: String = form_urlencoded::byte_serialize(soql.as_bytes()).collect();
        SubRequest {
            reference: reference.to_string(),
            method: Method::GET,
            path: format!("/query?q={q}"),
            body: None,
        }
    }

    /// A GET of `path` (a describe, say).
    pub fn get(reference: &str, path: &str) -> SubRequest {
        SubRequest {
            reference: reference.to_string(),
            method: Method::GET,
            path: path.to_string(),
            body: None,
        }
    }

    pub fn create(reference: &str, object: &str, fields: Value) -> SubRequest {
        SubRequest {
            reference: reference.to_string(),
            method: Method::POST,
            path: format!("/sobjects/{object}"),
            body: Some(fields),
        }
    }

    /// Writes a record by an external ID: creates it, or updates the one with that value.
    pub fn upsert(
        reference: &str,
        object: &str,
        field: &str,
        value: &str,
        fields: Value,
    ) -> SubRequest {
        SubRequest {
            reference: reference.to_string(),
            method: Method::PATCH,
            path: format!("/sobjects/{object}/{field}/{}", path_segment(value)),
            body: Some(fields),
        }
    }

    /// Updates a record; `id` may be a reference such as `@{person.records[0].Id}`.
    pub fn update(reference: &str, object: &str, id: &str, fields: Value) -> SubRequest {
        SubRequest {
            reference: reference.to_string(),
            method: Method::PATCH,
            path: format!("/sobjects/{object}/{id}"),
            body: Some(fields),
        }
    }
}

/// One subrequest's answer.
#[derive(Debug, Clone)]
pub struct SubResponse {
    pub reference: String,
    pub status: u16,
    pub body: Value,
}

impl SubResponse {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The new record's id (create) .
    pub fn id(&self) -> Option<&str> {
        self.body.get("id").and_then(Value::as_str)
    }

    /// An upsert that found the record by its external ID (200 with `created: false`).
    pub fn existed(&self) -> bool {
        self.body.get("created") == Some(&Value::Bool(false))
    }

    /// A query's rows.
    pub fn records(&self) -> &[Value] {
        self.body
            .get("records")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }

    pub fn total_size(&self) -> u64 {
        self.body
            .get("totalSize")
            .and_then(Value::as_u64)
            .unwrap_or(0)
    }

    /// The subrequest's own error: not one that only says another subrequest failed, or that
    /// a reference to an empty query result could not be resolved.
    pub fn own_error(&self) -> Option<SalesforceError> {
        if self.ok() || self.halted() {
            return None;
        }
        let body = serde_json::to_vec(&self.body).unwrap_or_default();
        let status =
            http::StatusCode::from_u16(self.status).unwrap_or(http::StatusCode::BAD_REQUEST);
        Some(SalesforceError::from_response(status, &body))
    }

    /// Not run because something it depends on failed or found nothing.
    pub fn halted(&self) -> bool {
        self.body
            .as_array()
            .and_then(|errors| errors.first())
            .and_then(|e| e.get("errorCode"))
            .and_then(Value::as_str)
            == Some("PROCESSING_HALTED")
    }
}

/// The answers of a composite request, by reference.
pub struct Responses(pub Vec<SubResponse>);

impl Responses {
    pub fn get(&self, reference: &str) -> Option<&SubResponse> {
        self.0.iter().find(|r| r.reference == reference)
    }

    /// The first subrequest error that is not a consequence of another.
    pub fn first_error(&self) -> Option<SalesforceError> {
        self.0.iter().find_map(SubResponse::own_error)
    }
}

impl DataApi<'_> {
    /// One call over [`Connections::send`], its outcome recorded in [`Outages`].
    fn send(
        &self,
        build: impl Fn(&str) -> Result<http::Request<Vec<u8>>, http::Error>,
    ) -> Result<http::Response<Vec<u8>>, ConnectionError> {
        let sent = self.connections.send(self.tenant, build);
        self.outages.record(self.tenant, sent.as_ref().err());
        sent
    }

    /// Runs subrequests in order as one API call. With `all_or_none`, any failure rolls back
    /// every write of the request.
    pub fn composite(
        &self,
        requests: &[SubRequest],
        all_or_none: bool,
    ) -> Result<Responses, ConnectionError> {
        let body = json!({
            "allOrNone": all_or_none,
            "collateSubrequests": false,
            "compositeRequest": requests.iter().map(|r| {
                let mut sub = json!({
                    "method": r.method.as_str(),
                    "url": format!("/services/data/{}{}", self.version, r.path),
                    "referenceId": r.reference,
                });
                if let Some(body) = &r.body {
                    sub["body"] = body.clone();
                }
                sub
            }).collect::<Vec<_>>(),
        });
        let body = serde_json::to_vec(&body).expect("a composite request serializes");
        let response = self.send(|instance| {
            http::Request::post(format!(
                "{instance}/services/data/{}/composite",
                self.version
            ))
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .body(body.clone())
        })?;
        let parsed: Value = serde_json::from_slice(response.body()).map_err(|e| unreadable(&e))?;
        let answers = parsed["compositeResponse"]
            .as_array()
            .ok_or_else(|| unreadable(&"no compositeResponse"))?
            .iter()
            .map(|r| SubResponse {
                reference: r["referenceId"].as_str().unwrap_or_default().to_string(),
                status: r["httpStatusCode"].as_u64().unwrap_or(0) as u16,
                body: r["body"].clone(),
            })
            .collect();
        Ok(Responses(answers))
    }

    /// Writes records through sObject Collections, each on its own (`allOrNone` false), as one
    /// API call. Each record carries `attributes.type` (and `id` to update, the external ID's
    /// value to upsert). Answers, in order, each record's id or Salesforce's error for it.
    pub fn save_many(
        &self,
        records: &[Value],
        how: Save<'_>,
    ) -> Result<Vec<Result<String, SalesforceError>>, ConnectionError> {
        let body = json!({"allOrNone": false, "records": records});
        let body = serde_json::to_vec(&body).expect("a collections request serializes");
        let response = self.send(|instance| {
            let url = format!(
                "{instance}/services/data/{}/composite/sobjects",
                self.version
            );
            let builder = match how {
                Save::Create => http::Request::post(url),
                Save::Update => http::Request::patch(url),
                Save::Upsert { object, field } => {
                    http::Request::patch(format!("{url}/{object}/{field}"))
                }
            };
            builder
                .header("Content-Type", "application/json")
                .header("Accept", "application/json")
                .body(body.clone())
        })?;
        let parsed: Value = serde_json::from_slice(response.body()).map_err(|e| unreadable(&e))?;
        let results = parsed
            .as_array()
            .filter(|r| r.len() == records.len())
            .ok_or_else(|| unreadable(&"not one result per record"))?;
        Ok(results.iter().map(saved).collect())
    }

    /// `GET /limits`: one cheap call, made for the fresh `Sforce-Limit-Info` it carries (which
    /// [`Connections::send`] records).
    pub fn limits(&self) -> Result<(), ConnectionError> {
        self.send(|instance| {
            http::Request::get(format!("{instance}/services/data/{}/limits", self.version))
                .header("Accept", "application/json")
                .body(Vec::new())
        })?;
        Ok(())
    }

    /// One SOQL query (its first page; callers ask for few rows).
    pub fn query(&self, soql: &str) -> Result<Vec<Value>, ConnectionError> {
        let q: String = form_urlencoded::byte_serialize(soql.as_bytes()).collect();
        let response = self.send(|instance| {
            http::Request::get(format!(
                "{instance}/services/data/{}/query?q={q}",
                self.version
            ))
            .header("Accept", "application/json")
            .body(Vec::new())
        })?;
        let parsed: Value = serde_json::from_slice(response.body()).map_err(|e| unreadable(&e))?;
        Ok(parsed["records"].as_array().cloned().unwrap_or_default())
    }
}

/// A value as one URL path segment: every byte but letters, digits and `-._~` escaped (`+` and
/// `/` too, which a path would read otherwise).
fn path_segment(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One Collections result: the record's id, or its first error (`statusCode`, not `errorCode`).
fn saved(result: &Value) -> Result<String, SalesforceError> {
    if result["success"].as_bool() == Some(true) {
        if let Some(id) = result["id"].as_str() {
            return Ok(id.to_string());
        }
    }
    let error = &result["errors"][0];
    Err(SalesforceError {
        status: 400,
        code: error["statusCode"].as_str().map(str::to_string),
        message: error["message"]
            .as_str()
            .unwrap_or("Salesforce wrote nothing and named no error")
            .to_string(),
        fields: error["fields"]
            .as_array()
            .map(|f| {
                f.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
    })
}

fn unreadable(problem: &dyn std::fmt::Display) -> ConnectionError {
    ConnectionError::Unreadable {
        step: crate::oauth::Step::Call,
        problem: format!("Salesforce's answer could not be read: {problem}"),
    }
}

/// Salesforce's error inside a connection error, if that is what it is.
pub fn salesforce_error(e: &ConnectionError) -> Option<&SalesforceError> {
    match e.api_error() {
        Some(ApiError::Salesforce(error)) => Some(error),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_external_id_value_is_one_path_segment() {
        let upsert = SubRequest::upsert("act", "Case", "Key__c", "acme/chat 1+é", json!({}));
        assert_eq!(
            upsert.path,
            "/sobjects/Case/Key__c/acme%2Fchat%201%2B%C3%A9"
        );
        assert_eq!(upsert.method, Method::PATCH);
    }
}
