//! sObject Tree: `POST /composite/tree/{SObject}` (salesforce-api.md §3.4). Creates trees of
//! new records, roots of the URL's object with children under their parent's child relationship
//! (`{"Contacts": {"records": [...]}}`), all or none, in one API call. Success is 201 with each
//! record's `referenceId` and new Id; a failure writes nothing and answers 400 with the failing
//! record's `referenceId` and SaveResult-style errors.

use std::collections::HashSet;
use std::fmt::Display;

use serde_json::{json, Map, Value};

use super::{too_many, MAX_RECORDS};
use crate::emulator::data::{Call, Ctx};
use crate::emulator::error::ApiError;
use crate::emulator::sobjects::{object_def, writer};
use crate::emulator::store::Org;
use crate::emulator::wire::Reply;

/// Salesforce's sObject Tree page: "sObject trees up to five levels deep" and "up to five
/// records of different types" (objects) in a request. Their refusals' wording is the emulator's.
const MAX_LEVELS: usize = 5;
const MAX_TYPES: usize = 5;

/// One record to create.
struct Node {
    reference_id: String,
    /// The canonical object name.
    object: String,
    fields: Map<String, Value>,
    /// The parent's index in the node list and the field of this record that points at it.
    parent: Option<(usize, String)>,
}

/// A record still to flatten: its parent node, JSON path, body, object and parent field.
type Pending<'a> = (Option<usize>, String, &'a Value, String, Option<String>);

fn invalid(path: &str, what: impl Display) -> ApiError {
    ApiError::bad_request("INVALID_INPUT", format!("{path}: {what}"))
}

/// Reads one record: its node, and its children for the next level.
fn node<'a>(
    org: &Org,
    (parent, path, value, object, parent_field): Pending<'a>,
    index: usize,
    next: &mut Vec<Pending<'a>>,
) -> Result<Node, ApiError> {
    let record = value
        .as_object()
        .ok_or_else(|| ApiError::json_parse(format!("{path}: a record must be a JSON object")))?;
    let attribute = |key: &str| {
        record
            .get("attributes")
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| invalid(&path, format!("attributes.{key} is required")))
    };
    let given = attribute("type")?;
    if !given.eq_ignore_ascii_case(&object) {
        return Err(invalid(
            &path,
            format!("the record's type is {given}, where {object} is expected"),
        ));
    }
    let reference_id = attribute("referenceId")?.to_string();
    let mut fields = Map::new();
    for (key, v) in record.iter().filter(|(k, _)| *k != "attributes") {
        match (org.schema.child_relationship(&object, key), v) {
            (Some((child, field)), Value::Object(children)) => {
                let records = children
                    .get("records")
                    .and_then(Value::as_array)
                    .ok_or_else(|| invalid(&format!("{path}.{key}"), "records is required"))?;
                next.extend(records.iter().enumerate().map(|(i, r)| {
                    let at = format!("{path}.{key}.records[{i}]");
                    (Some(index), at, r, child.clone(), Some(field.clone()))
                }));
            }
            _ => {
                fields.insert(key.clone(), v.clone());
            }
        }
    }
    Ok(Node {
        reference_id,
        object,
        fields,
        parent: parent.zip(parent_field),
    })
}

/// Flattens the trees level by level (every root, then every second-level record, ...): the
/// order in which Salesforce creates the records and lists them in its answer.
fn flatten(org: &Org, root: &str, records: &[Value]) -> Result<Vec<Node>, ApiError> {
    let mut level: Vec<Pending> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (None, format!("records[{i}]"), r, root.to_string(), None))
        .collect();
    let mut nodes = Vec::new();
    for depth in 1.. {
        if level.is_empty() {
            break;
        }
        if depth > MAX_LEVELS {
            return Err(ApiError::bad_request(
                "LIMIT_EXCEEDED",
                format!(
                    "Limit Exceeded: {} is deeper than {MAX_LEVELS} levels",
                    level[0].1
                ),
            ));
        }
        let mut next = Vec::new();
        for pending in level {
            let index = nodes.len();
            nodes.push(node(org, pending, index, &mut next)?);
        }
        if nodes.len() + next.len() > MAX_RECORDS {
            return Err(too_many(MAX_RECORDS));
        }
        level = next;
    }
    let types: HashSet<&str> = nodes.iter().map(|n| n.object.as_str()).collect();
    if types.len() > MAX_TYPES {
        return Err(ApiError::bad_request(
            "LIMIT_EXCEEDED",
            format!(
                "Limit Exceeded: the request has records of {} objects, more than {MAX_TYPES}",
                types.len()
            ),
        ));
    }
    Ok(nodes)
}

/// One record's entry in a failed answer.
fn failure(reference_id: &str, e: &ApiError) -> Value {
    json!({"referenceId": reference_id, "errors": [e.collection_entry()]})
}

fn failed(results: Vec<Value>) -> Reply {
    Reply::json(400, json!({"hasErrors": true, "results": results}))
}

/// `POST /composite/tree/{object}`.
pub fn tree(org: &mut Org, ctx: &Ctx, call: &Call, object: &str) -> Result<Reply, ApiError> {
    let root = object_def(org, object)?.name.clone();
    let records = call
        .object()?
        .get("records")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::bad_request("INVALID_INPUT", "records is required"))?;
    let nodes = flatten(org, &root, records)?;
    // The Tree Response Body page: "In the case of duplicate reference IDs, results contains one
    // item for each instance of the duplicate ID". The code and message are the emulator's.
    let duplicates: Vec<Value> = nodes
        .iter()
        .filter(|n| {
            nodes
                .iter()
                .filter(|m| m.reference_id == n.reference_id)
                .count()
                > 1
        })
        .map(|n| {
            let message = format!(
                "Duplicate ReferenceId provided in the request: {}",
                n.reference_id
            );
            failure(
                &n.reference_id,
                &ApiError::bad_request("INVALID_INPUT", message),
            )
        })
        .collect();
    if !duplicates.is_empty() {
        return Ok(failed(duplicates));
    }
    let savepoint = org.begin();
    let mut ids: Vec<String> = Vec::with_capacity(nodes.len());
    for node in &nodes {
        let mut fields = node.fields.clone();
        if let Some((parent, field)) = &node.parent {
            fields.retain(|k, _| !k.eq_ignore_ascii_case(field));
            fields.insert(field.clone(), json!(ids[*parent]));
        }
        match org.create(&node.object, &fields, writer(ctx)) {
            Ok(id) => ids.push(id),
            Err(e) => {
                org.rollback(savepoint);
                return Ok(failed(vec![failure(&node.reference_id, &e)]));
            }
        }
    }
    org.commit(savepoint);
    let results: Vec<Value> = nodes
        .iter()
        .zip(&ids)
        .map(|(n, id)| json!({"referenceId": n.reference_id, "id": id}))
        .collect();
    Ok(Reply::json(
        201,
        json!({"hasErrors": false, "results": results}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::schema::Schema;

    /// The standard schema nests at most five levels (Account, Contact, Case, Task,
    /// Attachment); Salesforce's Account.ParentId (child relationship ChildAccounts) nests deeper.
    fn org_with_child_accounts() -> Org {
        let mut schema = Schema::standard();
        let mut parent = schema
            .object("Contact")
            .and_then(|c| c.field("AccountId"))
            .cloned()
            .expect("Contact.AccountId");
        parent.name = "ParentId".into();
        parent.child_relationship = Some("ChildAccounts".into());
        schema
            .objects
            .iter_mut()
            .find(|o| o.name == "Account")
            .expect("Account")
            .fields
            .push(parent);
        Org::new(schema)
    }

    /// One Account `levels` deep through ChildAccounts.
    fn nested(levels: usize) -> Value {
        (1..levels).fold(
            json!({"attributes": {"type": "Account", "referenceId": format!("a{levels}")}, "Name": "Leaf"}),
            |child, level| {
                json!({"attributes": {"type": "Account", "referenceId": format!("a{level}")},
                    "Name": "A", "ChildAccounts": {"records": [child]}})
            },
        )
    }

    #[test]
    fn trees_are_at_most_five_levels_deep() {
        let org = org_with_child_accounts();
        let nodes = flatten(&org, "Account", &[nested(5)]).expect("five levels");
        assert_eq!(nodes.len(), 5);
        assert_eq!(
            nodes[4].parent,
            Some((3, "ParentId".to_string())),
            "each level points at the one above"
        );
        let refused = flatten(&org, "Account", &[nested(6)]).map(|n| n.len());
        assert_eq!(
            refused.map_err(|e| e.message),
            Err("Limit Exceeded: records[0].ChildAccounts.records[0].ChildAccounts.records[0].ChildAccounts.records[0].ChildAccounts.records[0].ChildAccounts.records[0] is deeper than 5 levels".to_string())
        );
    }
}
