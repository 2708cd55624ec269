//! The customer view's answer: each match with its display fields, its Account and its recent
//! Cases or Tasks, each record with its Lightning URL.

use serde_json::{json, Map, Value};

use super::identify::Match;
use crate::settings::{FieldPath, ShownObject, SyncObject, TenantSettings};
use crate::sync::engine::{lightning_url, object_name};
use crate::sync::rows::at;

/// One match as the agent console shows it.
pub(super) fn person(found: &Match, settings: &TenantSettings, instance: &str) -> Value {
    let (shown, recent, recent_object, child) = match found.object {
        SyncObject::Lead => (ShownObject::Lead, ShownObject::Task, "Task", "Tasks"),
        _ => (ShownObject::Contact, ShownObject::Case, "Case", "Cases"),
    };
    let row = &found.row;
    let object = object_name(found.object);
    let account = row["AccountId"].as_str().map(|id| {
        record(
            "Account",
            id,
            &at(row, "Account"),
            &settings.shown_fields(ShownObject::Account),
            instance,
        )
    });
    let recent: Vec<Value> = at(row, &format!("{child}.records"))
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let id = r["Id"].as_str().unwrap_or_default();
            record(
                recent_object,
                id,
                r,
                &settings.shown_fields(recent),
                instance,
            )
        })
        .collect();
    let mut answer = record(
        object,
        found.id(),
        row,
        &settings.shown_fields(shown),
        instance,
    );
    answer["matched_by"] = json!(found.matched_by);
    answer["converted_lead"] = json!(found.converted_lead);
    answer["account"] = account.unwrap_or(Value::Null);
    answer["recent"] = Value::Array(recent);
    answer
}

fn record(object: &str, id: &str, row: &Value, shown: &[FieldPath], instance: &str) -> Value {
    let fields: Map<String, Value> = shown.iter().map(|f| (f.0.clone(), at(row, &f.0))).collect();
    json!({"object": object, "id": id, "url": lightning_url(instance, object, id), "fields": fields})
}
