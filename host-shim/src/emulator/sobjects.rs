//! sObject resources: create, retrieve, update, delete, upsert by external ID, blobs and
//! describe (salesforce-api.md §2.3–2.8).

use serde_json::{json, Map, Value};

use super::data::{major, Call, Ctx};
use super::error::ApiError;
use super::ids;
use super::rules::Writer;
use super::schema::{FieldType, ObjectDef};
use super::soql::Record;
use super::store::{record_url, Org};
use super::wire::Reply;

pub fn writer<'a>(ctx: &'a Ctx) -> Writer<'a> {
    Writer {
        allow_save: ctx.allow_save,
        ..Writer::api(&ctx.user_id)
    }
}

/// The canonical object for a path segment.
pub fn object_def<'a>(org: &'a Org, name: &str) -> Result<&'a ObjectDef, ApiError> {
    org.schema.object(name).ok_or_else(ApiError::not_found)
}

/// `{"id", "success": true, "errors": []}` (plus `created` for upserts).
pub fn save_result(id: &str, created: Option<bool>) -> Value {
    let mut out = json!({"id": id, "success": true, "errors": []});
    if let Some(created) = created {
        out["created"] = json!(created);
    }
    out
}

/// A record as GET returns it: `attributes` first, then the fields (all, or `fields`).
pub fn record_json(
    ctx: &Ctx,
    obj: &ObjectDef,
    record: &Record,
    fields: Option<&str>,
) -> Result<Value, ApiError> {
    let id = record.get("Id").and_then(Value::as_str).unwrap_or_default();
    let mut out = Map::new();
    out.insert(
        "attributes".into(),
        json!({"type": obj.name, "url": record_url(&ctx.version, &obj.name, id)}),
    );
    match fields.filter(|f| !f.trim().is_empty()) {
        None => out.extend(record.iter().map(|(k, v)| (k.clone(), v.clone()))),
        Some(list) => {
            for name in list.split(',').map(str::trim) {
                let field = obj.field(name).ok_or_else(|| {
                    ApiError::bad_request("INVALID_FIELD", format!("No such column '{name}' on entity '{}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.", obj.name))
                })?;
                out.insert(
                    field.name.clone(),
                    record.get(&field.name).cloned().unwrap_or(Value::Null),
                );
            }
        }
    }
    Ok(Value::Object(out))
}

/// What an upsert did.
pub enum Upserted {
    Created(String),
    Updated(String),
}

/// Why an upsert did nothing.
pub enum UpsertFailure {
    Error(ApiError),
    /// The external ID matched several records: their Ids.
    Several(Vec<String>),
}

impl From<ApiError> for UpsertFailure {
    fn from(e: ApiError) -> Self {
        UpsertFailure::Error(e)
    }
}

/// The external-ID field of an object by name, or the 404 Salesforce gives.
pub fn external_field<'a>(obj: &'a ObjectDef, name: &str) -> Result<&'a str, ApiError> {
    obj.field(name)
        .filter(|f| f.external_id)
        .map(|f| f.name.as_str())
        .ok_or_else(|| {
            ApiError::new(
                404,
                "NOT_FOUND",
                format!("Provided external ID field does not exist or is not accessible: {name}"),
            )
        })
}

/// Upserts by external ID: creates on no match, updates on one, refuses on several. The body
/// may carry the field (a Collections record must); the value in the URL wins.
pub fn upsert(
    org: &mut Org,
    ctx: &Ctx,
    object: &str,
    field: &str,
    value: &str,
    body: &Map<String, Value>,
    update_only: bool,
) -> Result<Upserted, UpsertFailure> {
    let obj = object_def(org, object)?.clone();
    let field = external_field(&obj, field)?.to_string();
    let matches = org.find(&obj.name, &field, value);
    match matches.as_slice() {
        [] if update_only => Err(ApiError::new(
            404,
            "NOT_FOUND",
            format!("Provided external ID field does not exist or is not accessible: {value}"),
        )
        .into()),
        [] => {
            let mut fields = body.clone();
            fields.retain(|k, _| !k.eq_ignore_ascii_case(&field));
            fields.insert(field.clone(), json!(value));
            Ok(Upserted::Created(org.create(
                &obj.name,
                &fields,
                writer(ctx),
            )?))
        }
        [id] => {
            let mut fields = body.clone();
            fields.retain(|k, _| !k.eq_ignore_ascii_case(&field));
            org.update(&obj.name, id, &fields, writer(ctx))?;
            Ok(Upserted::Updated(id.clone()))
        }
        _ => Err(UpsertFailure::Several(matches)),
    }
}

/// `/sobjects/{object}/...`.
pub fn route(
    org: &mut Org,
    ctx: &Ctx,
    call: &Call,
    object: &str,
    rest: &[&str],
) -> Result<Reply, ApiError> {
    let obj = object_def(org, object)?.clone();
    match (call.method, rest) {
        ("GET", []) => Ok(basic_info(org, ctx, &obj)),
        ("POST", []) => {
            let id = org.create(&obj.name, call.object()?, writer(ctx))?;
            Ok(Reply::json(201, save_result(&id, None))
                .with_header("Location", record_url(&ctx.version, &obj.name, &id)))
        }
        ("GET", ["describe"]) => Ok(unless_unmodified(org, ctx, || describe(org, ctx, &obj))),
        (_, ["describe"]) | (_, []) => {
            Err(ApiError::method_not_allowed(call.method, "GET,HEAD,POST"))
        }
        ("GET", [id]) => Ok(Reply::json(
            200,
            record_json(ctx, &obj, org.fetch(&obj, id)?, call.param("fields"))?,
        )),
        ("PATCH", [id]) => {
            org.update(&obj.name, id, call.object()?, writer(ctx))?;
            Ok(Reply::empty(204))
        }
        ("DELETE", [id]) => {
            org.delete(&obj.name, id)?;
            Ok(Reply::empty(204))
        }
        // Upsert with `Id` as the external ID and no value: a create (v37+, §2.7). The answer
        // is the upsert's, `created` included (its exact body is not shown in the docs).
        ("POST", [key]) if key.eq_ignore_ascii_case("Id") && major(&ctx.version) >= 37 => {
            let id = org.create(&obj.name, call.object()?, writer(ctx))?;
            Ok(Reply::json(201, save_result(&id, Some(true)))
                .with_header("Location", record_url(&ctx.version, &obj.name, &id)))
        }
        (_, [_]) => Err(ApiError::method_not_allowed(
            call.method,
            "GET,HEAD,PATCH,DELETE",
        )),
        ("GET", [id, field])
            if ids::normalize(id).is_some()
                && obj
                    .field(field)
                    .is_some_and(|f| f.kind == FieldType::Base64) =>
        {
            let record = org.fetch(&obj, id)?;
            let id = record.get("Id").and_then(Value::as_str).unwrap_or_default();
            let bytes = org.blobs.get(id).cloned().unwrap_or_default();
            Ok(Reply::raw(200, "application/octetstream", bytes))
        }
        ("GET", [field, value]) => {
            let field = external_field(&obj, field)?;
            match org.find(&obj.name, field, value).as_slice() {
                [] => Err(ApiError::new(
                    404,
                    "NOT_FOUND",
                    "The requested resource does not exist",
                )),
                [id] => Ok(Reply::json(
                    200,
                    record_json(ctx, &obj, org.fetch(&obj, id)?, call.param("fields"))?,
                )),
                several => Ok(multiple_choices(ctx, &obj, several)),
            }
        }
        ("PATCH", [field, value]) => {
            let update_only = call.param("updateOnly") == Some("true");
            let body = call.object()?;
            refuse_key_in_body(&obj, field, body)?;
            match upsert(org, ctx, &obj.name, field, value, body, update_only) {
                Ok(Upserted::Created(id)) => Ok(Reply::json(201, save_result(&id, Some(true)))
                    .with_header("Location", record_url(&ctx.version, &obj.name, &id))),
                Ok(Upserted::Updated(id)) => Ok(Reply::json(200, save_result(&id, Some(false)))),
                Err(UpsertFailure::Error(e)) => Err(e),
                Err(UpsertFailure::Several(ids)) => Ok(multiple_choices(ctx, &obj, &ids)),
            }
        }
        ("DELETE", [field, value]) => {
            let field = external_field(&obj, field)?;
            match org.find(&obj.name, field, value).as_slice() {
                [] => Err(ApiError::new(
                    404,
                    "NOT_FOUND",
                    "The requested resource does not exist",
                )),
                [id] => {
                    let id = id.clone();
                    org.delete(&obj.name, &id)?;
                    Ok(Reply::empty(204))
                }
                several => Ok(multiple_choices(ctx, &obj, several)),
            }
        }
        (_, [_, _]) => Err(ApiError::method_not_allowed(
            call.method,
            "GET,HEAD,PATCH,DELETE",
        )),
        _ => Err(ApiError::not_found()),
    }
}

/// "Do not specify Id or an external ID field in the request body or an error is generated"
/// (salesforce-api.md §2.7): the error Salesforce gives for `Id` on create, worded alike for
/// the external ID field, as clients quote it ("The Key__c field should not be specified in
/// the sobject data.").
fn refuse_key_in_body(
    obj: &ObjectDef,
    field: &str,
    body: &Map<String, Value>,
) -> Result<(), ApiError> {
    let field = external_field(obj, field)?;
    match body
        .keys()
        .find(|k| k.eq_ignore_ascii_case("Id") || k.eq_ignore_ascii_case(field))
    {
        Some(key) => {
            let name = obj.field(key).map_or(key.as_str(), |f| f.name.as_str());
            Err(ApiError::bad_request(
                "INVALID_FIELD",
                format!("The {name} field should not be specified in the sobject data."),
            ))
        }
        None => Ok(()),
    }
}

/// 300: the URLs of every matching record.
fn multiple_choices(ctx: &Ctx, obj: &ObjectDef, ids: &[String]) -> Reply {
    Reply::json(
        300,
        json!(ids
            .iter()
            .map(|id| record_url(&ctx.version, &obj.name, id))
            .collect::<Vec<_>>()),
    )
}

fn object_summary(ctx: &Ctx, obj: &ObjectDef) -> Value {
    let base = format!("/services/data/{}/sobjects/{}", ctx.version, obj.name);
    let host = ctx.shared.hosts.instance();
    json!({
        "activateable": false, "createable": obj.createable, "custom": false, "customSetting": false,
        "deletable": true, "deprecatedAndHidden": false, "feedEnabled": false, "hasSubtypes": false,
        "isSubtype": false, "keyPrefix": obj.key_prefix, "label": obj.label, "labelPlural": obj.label_plural,
        "layoutable": true, "mergeable": matches!(obj.name.as_str(), "Account" | "Contact" | "Lead" | "Case"),
        "mruEnabled": true, "name": obj.name, "queryable": true, "replicateable": true, "retrieveable": true,
        "searchable": true, "triggerable": true, "undeletable": true, "updateable": obj.name != "ContentDocumentLink",
        "urls": {"rowTemplate": format!("{base}/{{ID}}"), "defaultValues": format!("{base}/defaultValues?recordTypeId&fields"),
                 "describe": format!("{base}/describe"), "sobject": base, "uiEditTemplate": format!("{host}/{{ID}}/e"),
                 "uiDetailTemplate": format!("{host}/{{ID}}"), "uiNewRecord": format!("{host}/{}/e", obj.key_prefix)},
    })
}

/// A describe answer, or 304 with no body when the request's `If-Modified-Since` is no older
/// than the schema (salesforce-api.md §2.8).
fn unless_unmodified(org: &Org, ctx: &Ctx, describe: impl FnOnce() -> Value) -> Reply {
    match ctx.if_modified_since {
        Some(since) if since >= org.schema_changed => Reply::empty(304),
        _ => Reply::json(200, describe()),
    }
}

/// `GET /sobjects`.
pub fn describe_global(org: &Org, ctx: &Ctx) -> Reply {
    unless_unmodified(org, ctx, || {
        let objects: Vec<Value> = org
            .schema
            .objects
            .iter()
            .map(|o| object_summary(ctx, o))
            .collect();
        json!({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": objects})
    })
}

/// `GET /sobjects/{object}`: the summary and recent items.
fn basic_info(org: &Org, ctx: &Ctx, obj: &ObjectDef) -> Reply {
    let recent: Vec<Value> = org
        .live_records(&obj.name)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .take(10)
        .map(|r| {
            let id = r.get("Id").and_then(Value::as_str).unwrap_or_default();
            let mut item = json!({"attributes": {"type": obj.name, "url": record_url(&ctx.version, &obj.name, id)}, "Id": id});
            if let Some(name) = obj.fields.iter().find(|f| f.name_field) {
                item[name.name.as_str()] = r.get(&name.name).cloned().unwrap_or(Value::Null);
            }
            item
        })
        .collect();
    Reply::json(
        200,
        json!({"objectDescribe": object_summary(ctx, obj), "recentItems": recent}),
    )
}

/// `GET /sobjects/{object}/describe`.
pub fn describe(org: &Org, ctx: &Ctx, obj: &ObjectDef) -> Value {
    let mut out = object_summary(ctx, obj);
    let children: Vec<Value> = org
        .schema
        .children_of(&obj.name)
        .map(|(child, field, name)| {
            json!({"cascadeDelete": false, "childSObject": child, "deprecatedAndHidden": false, "field": field,
                   "junctionIdListNames": [], "junctionReferenceTo": [], "relationshipName": name, "restrictedDelete": false})
        })
        .collect();
    if let Some(map) = out.as_object_mut() {
        map.insert("childRelationships".into(), Value::Array(children));
        map.insert(
            "fields".into(),
            Value::Array(obj.fields.iter().map(|f| f.describe()).collect()),
        );
        map.insert("listviewable".into(), Value::Null);
        map.insert("lookupLayoutable".into(), Value::Null);
        map.insert("searchLayoutable".into(), json!(true));
        map.insert(
            "recordTypeInfos".into(),
            json!([{"active": true, "available": true, "defaultRecordTypeMapping": true, "developerName": "Master",
                    "master": true, "name": "Master", "recordTypeId": "012000000000000AAA",
                    "urls": {"layout": format!("/services/data/{}/sobjects/{}/describe/layouts/012000000000000AAA", ctx.version, obj.name)}}]),
        );
    }
    out
}
