//! The seed file: `{"customFields": [...], "records": [{"type": "User", "Email": "...", ...}]}`.
//! The first User is the one who logs in (a demo admin is made when there is none). A User may
//! carry a `Password` (kept apart from its fields) for the username-password grant; without
//! one its password is [`oauth::DEMO_PASSWORD`].

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::oauth;
use super::rules::Writer;
use super::schema::CustomField;
use super::store::Org;

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedFile {
    #[serde(default)]
    pub custom_fields: Vec<CustomField>,
    #[serde(default)]
    pub records: Vec<Map<String, Value>>,
}

impl SeedFile {
    /// Parses a seed document.
    pub fn from_json(value: &Value) -> Result<SeedFile, String> {
        serde_json::from_value(value.clone()).map_err(|e| format!("seed: {e}"))
    }
}

/// A seeded User needs only an Email: Username, LastName and Alias follow from it.
fn fill_user(fields: &mut Map<String, Value>) {
    let email = fields
        .get("Email")
        .and_then(Value::as_str)
        .unwrap_or("admin@example.com")
        .to_string();
    let local = email.split('@').next().unwrap_or("user").to_string();
    fields.entry("Email").or_insert_with(|| json!(email));
    fields.entry("Username").or_insert_with(|| json!(email));
    fields.entry("LastName").or_insert_with(|| json!(local));
    fields
        .entry("Alias")
        .or_insert_with(|| json!(local.chars().take(8).collect::<String>()));
}

/// Makes sure the org has a login user.
pub fn ensure_login_user(org: &mut Org) -> Result<(), String> {
    if !org.login_user.is_empty() {
        return Ok(());
    }
    let mut admin = Map::new();
    admin.insert("FirstName".into(), json!("Demo"));
    admin.insert("LastName".into(), json!("Admin"));
    admin.insert("Email".into(), json!("admin@example.com"));
    create_user(org, admin).map(|_| ())
}

fn create_user(org: &mut Org, mut fields: Map<String, Value>) -> Result<String, String> {
    let password = match fields.shift_remove("Password") {
        None => None,
        Some(Value::String(p)) => Some(p),
        Some(_) => return Err("Password must be a string".into()),
    };
    fill_user(&mut fields);
    let id = org.next_id("005");
    let id = fields
        .get("Id")
        .and_then(Value::as_str)
        .map_or(id, str::to_string);
    fields.insert("Id".into(), json!(id));
    let created = org
        .create(
            "User",
            &fields,
            Writer {
                user_id: &id,
                seed: true,
                allow_save: false,
            },
        )
        .map_err(|e| e.message)?;
    if let Some(password) = password {
        org.passwords
            .insert(created.clone(), oauth::password_digest(&password));
    }
    if org.login_user.is_empty() {
        org.login_user = created.clone();
    }
    Ok(created)
}

/// Adds the seed's custom fields and records; returns the new records' Ids in file order.
pub fn apply(org: &mut Org, seed: &SeedFile) -> Result<Vec<String>, String> {
    for field in &seed.custom_fields {
        if org
            .schema
            .object(&field.object)
            .and_then(|o| o.field(&field.name))
            .is_none()
        {
            org.add_custom_field(field.clone())?;
        }
    }
    let parsed = seed
        .records
        .iter()
        .enumerate()
        .map(|(i, record)| {
            let mut fields = record.clone();
            let object = fields
                .shift_remove("type")
                .and_then(|t| t.as_str().map(str::to_string))
                .ok_or_else(|| format!("seed record {i}: \"type\" is missing"))?;
            fields.shift_remove("attributes");
            let object = org
                .schema
                .object(&object)
                .map(|o| o.name.clone())
                .ok_or_else(|| format!("seed record {i}: no object {object:?}"))?;
            Ok((object, fields))
        })
        .collect::<Result<Vec<_>, String>>()?;
    // The first User logs in, so it exists before anything it will own.
    let first_user = parsed
        .iter()
        .position(|(object, _)| object == "User")
        .filter(|_| org.login_user.is_empty());
    let mut created: Vec<Option<String>> = vec![None; parsed.len()];
    let order = first_user
        .into_iter()
        .chain((0..parsed.len()).filter(|i| Some(*i) != first_user));
    for i in order {
        let (object, fields) = &parsed[i];
        let result = if object == "User" {
            create_user(org, fields.clone())
        } else {
            ensure_login_user(org)?;
            let owner = org.login_user.clone();
            org.create(
                object,
                fields,
                Writer {
                    user_id: &owner,
                    seed: true,
                    allow_save: true,
                },
            )
            .map_err(|e| e.message)
        };
        created[i] = Some(result.map_err(|e| format!("seed record {i} ({object}): {e}"))?);
    }
    ensure_login_user(org)?;
    Ok(created.into_iter().flatten().collect())
}
