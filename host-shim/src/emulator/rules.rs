//! Writes with Salesforce's checks (salesforce-api.md §4.3, §5): unknown and read-only fields,
//! value types, required fields, lengths, email format, references by key prefix, the Task
//! lead rule, converted Leads, duplicate rules; then the values the org fills in itself
//! (defaults, Name, CaseNumber, timestamps, files).

use base64::Engine as _;
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

use super::error::ApiError;
use super::ids;
use super::schema::{FieldDef, FieldType, ObjectDef};
use super::soql::Record;
use super::store::{now_datetime, record_url, DuplicateRules, Org, Row, API_VERSION};

/// Who is writing, and how strictly.
#[derive(Debug, Clone, Copy)]
pub struct Writer<'a> {
    /// The user that owns and creates records (`OwnerId`, `CreatedById`).
    pub user_id: &'a str,
    /// Seed records may set read-only fields and their `Id`, and may point at records that
    /// come later in the file.
    pub seed: bool,
    /// `Sforce-Duplicate-Rule-Header: allowSave=true`.
    pub allow_save: bool,
}

impl<'a> Writer<'a> {
    pub fn api(user_id: &'a str) -> Writer<'a> {
        Writer {
            user_id,
            seed: false,
            allow_save: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Create,
    Update,
}

const DATE: &[time::format_description::FormatItem<'static>] =
    format_description!("[year]-[month]-[day]");
const DATETIME_OUT: &[time::format_description::FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]+0000");

fn deserialize_error(kind: &str, value: &Value) -> ApiError {
    let token = match value {
        Value::String(_) => "VALUE_STRING",
        Value::Number(_) => "VALUE_NUMBER_INT",
        Value::Bool(true) => "VALUE_TRUE",
        Value::Bool(false) => "VALUE_FALSE",
        Value::Array(_) => "START_ARRAY",
        Value::Object(_) => "START_OBJECT",
        Value::Null => "VALUE_NULL",
    };
    let shown = value
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| value.to_string());
    ApiError::json_parse(format!(
        "Cannot deserialize instance of {kind} from {token} value {shown} or request may be missing a required field"
    ))
}

/// Checks a value's JSON type and puts it in Salesforce's form (datetimes in UTC with
/// `+0000`, Ids in 18 characters).
fn coerce(field: &FieldDef, value: &Value) -> Result<Value, ApiError> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    match field.kind {
        kind if kind.is_text() => match value {
            Value::String(_) => Ok(value.clone()),
            Value::Number(n) => Ok(json!(n.to_string())),
            Value::Bool(b) => Ok(json!(b.to_string())),
            _ => Err(deserialize_error("string", value)),
        },
        FieldType::Boolean => value
            .as_bool()
            .map(Value::Bool)
            .ok_or_else(|| deserialize_error("boolean", value)),
        FieldType::Int => match value {
            Value::Number(n) if n.is_i64() => Ok(value.clone()),
            Value::String(s) => s
                .trim()
                .parse::<i64>()
                .map(|n| json!(n))
                .map_err(|_| deserialize_error("int", value)),
            _ => Err(deserialize_error("int", value)),
        },
        FieldType::Double | FieldType::Currency => match value {
            Value::Number(n) => Ok(json!(n.as_f64().unwrap_or_default())),
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .map(|n| json!(n))
                .map_err(|_| deserialize_error("double", value)),
            _ => Err(deserialize_error("double", value)),
        },
        FieldType::Date => value
            .as_str()
            .and_then(|s| Date::parse(s, DATE).ok())
            .map(|d| json!(d.format(DATE).unwrap_or_default()))
            .ok_or_else(|| deserialize_error("date", value)),
        FieldType::Datetime => value
            .as_str()
            .and_then(parse_datetime)
            .map(Value::String)
            .ok_or_else(|| deserialize_error("datetime", value)),
        // Ids and references are checked against the org later; blobs are decoded there.
        _ => value
            .as_str()
            .map(|s| json!(s))
            .ok_or_else(|| deserialize_error("string", value)),
    }
}

/// `2024-05-01T10:00:00Z`, `…+02:00`, `…+0000`, with or without fractions, to UTC `+0000`.
fn parse_datetime(text: &str) -> Option<String> {
    let mut s = text.to_string();
    // Salesforce writes offsets without a colon; RFC 3339 wants one.
    let len = s.len();
    if len > 5
        && matches!(s.as_bytes()[len - 5], b'+' | b'-')
        && s[len - 4..].bytes().all(|b| b.is_ascii_digit())
    {
        s.insert(len - 2, ':');
    }
    let parsed = OffsetDateTime::parse(&s, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(&format!("{s}Z"), &Rfc3339))
        .ok()?;
    parsed
        .to_offset(time::UtcOffset::UTC)
        .format(DATETIME_OUT)
        .ok()
}

/// `local@domain.tld`, without spaces, as Salesforce's email check roughly wants.
fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && !s.chars().any(|c| c.is_whitespace() || c == ',' || c == ';')
        && domain.split('.').count() >= 2
        && domain.split('.').all(|label| !label.is_empty())
}

fn field_list(names: &[&str]) -> String {
    names.join(", ")
}

/// File extension and Salesforce's FileType for a path (`chat.txt` → `txt`, `TEXT`).
fn file_type(path: &str) -> (Option<String>, &'static str) {
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .filter(|e| !e.is_empty());
    let kind = match ext.as_deref() {
        Some("txt") => "TEXT",
        Some("pdf") => "PDF",
        Some("png") => "PNG",
        Some("jpg") | Some("jpeg") => "JPG",
        Some("csv") => "CSV",
        Some("json") => "JSON",
        Some("html") | Some("htm") => "HTML",
        Some("zip") => "ZIP",
        _ => "UNKNOWN",
    };
    (ext, kind)
}

impl Org {
    /// Creates a record of a canonical object and returns its Id.
    pub fn create(
        &mut self,
        object: &str,
        body: &Map<String, Value>,
        who: Writer,
    ) -> Result<String, ApiError> {
        let schema = self.schema.clone();
        let obj = schema.object(object).ok_or_else(ApiError::not_found)?;
        if !obj.createable && !who.seed {
            return Err(ApiError::bad_request(
                "INVALID_TYPE_FOR_OPERATION",
                format!("entity type cannot be inserted: {}", obj.label),
            ));
        }
        let given_id = match body.get("Id").or_else(|| body.get("id")) {
            None | Some(Value::Null) => None,
            Some(id) if who.seed => Some(
                id.as_str()
                    .and_then(ids::normalize)
                    .filter(|id| id.starts_with(obj.key_prefix) && self.row(id).is_none())
                    .ok_or_else(|| {
                        let shown = id.as_str().map_or_else(|| id.to_string(), str::to_string);
                        ApiError::bad_request(
                            "MALFORMED_ID",
                            format!("{}: id value of incorrect type: {shown}", obj.label),
                        )
                    })?,
            ),
            Some(_) => {
                return Err(ApiError::bad_request(
                    "INVALID_FIELD",
                    "The Id field should not be specified in the sobject data.",
                ))
            }
        };
        let values = self.check_values(obj, body, Op::Create, who)?;

        let mut record = Record::new();
        for field in &obj.fields {
            record.insert(
                field.name.clone(),
                field.default.clone().unwrap_or(Value::Null),
            );
        }
        let id = given_id.unwrap_or_else(|| self.next_id(obj.key_prefix));
        let now = now_datetime();
        record.insert("Id".into(), json!(id));
        for field in ["CreatedDate", "LastModifiedDate", "SystemModstamp"] {
            record.insert(field.into(), json!(now));
        }
        for field in ["CreatedById", "LastModifiedById"] {
            record.insert(field.into(), json!(who.user_id));
        }
        if obj.field("OwnerId").is_some() {
            record.insert("OwnerId".into(), json!(who.user_id));
        }
        let mut blob = None;
        for (name, value) in values {
            if obj
                .field(&name)
                .is_some_and(|f| f.kind == FieldType::Base64)
            {
                blob = Some(self.blob_value(&value)?);
                record.insert(
                    name.clone(),
                    json!(record_url(API_VERSION, &obj.name, &id) + "/" + &name),
                );
            } else {
                record.insert(name, value);
            }
        }
        let missing: Vec<&str> = obj
            .fields
            .iter()
            .filter(|f| !f.nillable && !f.defaulted_on_create && (f.createable || who.seed))
            .filter(|f| record.get(&f.name).is_none_or(Value::is_null))
            .map(|f| f.name.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(ApiError::on_fields(
                "REQUIRED_FIELD_MISSING",
                format!("Required fields are missing: [{}]", field_list(&missing)),
                &missing,
            ));
        }
        self.object_rules(obj, &mut record, None, who)?;
        self.derive(obj, &mut record, blob.as_deref(), true);
        if let Some(bytes) = blob {
            self.put_blob(&id, bytes);
        }
        self.put(
            &obj.name,
            &id,
            Row {
                record,
                deleted: false,
            },
        );
        self.after_create(obj, &id, who);
        Ok(id)
    }

    /// Updates a live record of a canonical object.
    pub fn update(
        &mut self,
        object: &str,
        id: &str,
        body: &Map<String, Value>,
        who: Writer,
    ) -> Result<(), ApiError> {
        let schema = self.schema.clone();
        let obj = schema.object(object).ok_or_else(ApiError::not_found)?;
        let mut record = self.fetch(obj, id)?.clone();
        let id = record
            .get("Id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if let Some(other) = body.get("Id").or_else(|| body.get("id")) {
            if other.as_str().and_then(ids::normalize).as_deref() != Some(id.as_str()) {
                return Err(ApiError::bad_request(
                    "INVALID_FIELD",
                    "The Id field should not be specified in the sobject data.",
                ));
            }
        }
        if !who.seed && record.get("IsConverted") == Some(&Value::Bool(true)) {
            return Err(ApiError::bad_request(
                "CANNOT_UPDATE_CONVERTED_LEAD",
                "cannot reference converted lead",
            ));
        }
        let values = self.check_values(obj, body, Op::Update, who)?;
        let nulled: Vec<&str> = values
            .iter()
            .filter(|(name, value)| value.is_null() && obj.field(name).is_some_and(|f| !f.nillable))
            .filter_map(|(name, _)| obj.field(name).map(|f| f.name.as_str()))
            .collect();
        if !nulled.is_empty() {
            return Err(ApiError::on_fields(
                "REQUIRED_FIELD_MISSING",
                format!("Required fields are missing: [{}]", field_list(&nulled)),
                &nulled,
            ));
        }
        let mut blob = None;
        for (name, value) in values {
            if obj
                .field(&name)
                .is_some_and(|f| f.kind == FieldType::Base64)
            {
                blob = Some(self.blob_value(&value)?);
            } else {
                record.insert(name, value);
            }
        }
        let before = self.fetch(obj, &id)?.clone();
        self.object_rules(obj, &mut record, Some(&before), who)?;
        self.derive(obj, &mut record, blob.as_deref(), false);
        let now = now_datetime();
        record.insert("LastModifiedDate".into(), json!(now));
        record.insert("SystemModstamp".into(), json!(now));
        record.insert("LastModifiedById".into(), json!(who.user_id));
        if let Some(bytes) = blob {
            self.put_blob(&id, bytes);
        }
        self.put(
            &obj.name,
            &id,
            Row {
                record,
                deleted: false,
            },
        );
        Ok(())
    }

    /// Converts a Lead as Salesforce's Convert button does: a new Account (the Company) and
    /// Contact, the Lead marked converted and pointing at them, its Tasks moved to the Contact.
    /// Returns (Contact Id, Account Id).
    pub fn convert_lead(
        &mut self,
        lead_id: &str,
        who: Writer,
    ) -> Result<(String, String), ApiError> {
        let schema = self.schema.clone();
        let lead_def = schema.object("Lead").ok_or_else(ApiError::not_found)?;
        let lead = self.fetch(lead_def, lead_id)?.clone();
        if lead.get("IsConverted") == Some(&Value::Bool(true)) {
            return Err(ApiError::bad_request(
                "CANNOT_UPDATE_CONVERTED_LEAD",
                "cannot reference converted lead",
            ));
        }
        let lead_id = lead
            .get("Id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let copy = |fields: &[&str]| -> Map<String, Value> {
            fields
                .iter()
                .filter_map(|f| {
                    lead.get(*f)
                        .filter(|v| !v.is_null())
                        .map(|v| (f.to_string(), v.clone()))
                })
                .collect()
        };
        let mut account = Map::new();
        account.insert(
            "Name".into(),
            lead.get("Company").cloned().unwrap_or(Value::Null),
        );
        let account = self.create("Account", &account, who)?;
        let mut contact = copy(&[
            "FirstName",
            "LastName",
            "Email",
            "Phone",
            "MobilePhone",
            "Title",
            "LeadSource",
            "Description",
        ]);
        contact.insert("AccountId".into(), json!(account));
        let contact = self.create("Contact", &contact, who)?;
        let seeded = Writer { seed: true, ..who };
        let today = OffsetDateTime::now_utc()
            .date()
            .format(DATE)
            .unwrap_or_default();
        let mut converted = Map::new();
        for (field, value) in [
            ("IsConverted", json!(true)),
            ("Status", json!("Closed - Converted")),
            ("ConvertedContactId", json!(contact)),
            ("ConvertedAccountId", json!(account)),
            ("ConvertedDate", json!(today)),
        ] {
            converted.insert(field.to_string(), value);
        }
        self.update("Lead", &lead_id, &converted, seeded)?;
        let tasks: Vec<String> = self
            .live_records("Task")
            .filter(|t| t.get("WhoId").and_then(Value::as_str) == Some(lead_id.as_str()))
            .filter_map(|t| t.get("Id").and_then(Value::as_str).map(str::to_string))
            .collect();
        for task in tasks {
            let mut moved = Map::new();
            moved.insert("WhoId".to_string(), json!(contact));
            self.update("Task", &task, &moved, seeded)?;
        }
        Ok((contact, account))
    }

    /// Deletes a live record (the row stays, marked deleted).
    pub fn delete(&mut self, object: &str, id: &str) -> Result<(), ApiError> {
        let schema = self.schema.clone();
        let obj = schema.object(object).ok_or_else(ApiError::not_found)?;
        let mut record = self.fetch(obj, id)?.clone();
        record.insert("IsDeleted".into(), json!(true));
        let id = record
            .get("Id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        self.put(
            &obj.name,
            &id,
            Row {
                record,
                deleted: true,
            },
        );
        Ok(())
    }

    /// A live record of `obj` by Id, or Salesforce's 404 for a missing, foreign or deleted one.
    pub fn fetch(&self, obj: &ObjectDef, id: &str) -> Result<&Record, ApiError> {
        let not_found = || {
            ApiError::new(
                404,
                "NOT_FOUND",
                format!("Provided external ID field does not exist or is not accessible: {id}"),
            )
        };
        match self.row(id) {
            Some((object, row)) if object == obj.name => {
                if row.deleted {
                    Err(ApiError::entity_deleted())
                } else {
                    Ok(&row.record)
                }
            }
            _ => Err(not_found()),
        }
    }

    /// The request's fields, checked for existence, writability, type, length, format and
    /// references, as (canonical name, value).
    fn check_values(
        &self,
        obj: &ObjectDef,
        body: &Map<String, Value>,
        op: Op,
        who: Writer,
    ) -> Result<Vec<(String, Value)>, ApiError> {
        let mut values = Vec::new();
        let mut not_writable = Vec::new();
        for (key, value) in body {
            if key == "attributes" || key.eq_ignore_ascii_case("Id") {
                continue;
            }
            let field = obj.field(key).ok_or_else(|| {
                ApiError::bad_request(
                    "INVALID_FIELD",
                    format!("No such column '{key}' on sobject of type {}", obj.name),
                )
            })?;
            let writable = match op {
                Op::Create => field.createable,
                Op::Update => field.updateable,
            };
            if !writable && !who.seed {
                not_writable.push(field.name.as_str());
                continue;
            }
            values.push((field, coerce(field, value)?));
        }
        if !not_writable.is_empty() {
            return Err(ApiError::on_fields(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                format!(
                    "Unable to create/update fields: {}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.",
                    field_list(&not_writable)
                ),
                &not_writable,
            ));
        }
        let mut out = Vec::with_capacity(values.len());
        for (field, value) in values {
            let value = self.check_value(obj, field, value, who)?;
            out.push((field.name.clone(), value));
        }
        Ok(out)
    }

    fn check_value(
        &self,
        obj: &ObjectDef,
        field: &FieldDef,
        value: Value,
        who: Writer,
    ) -> Result<Value, ApiError> {
        let Some(text) = value.as_str() else {
            return Ok(value);
        };
        let name = field.name.as_str();
        if field.kind.is_text() && field.length > 0 && text.chars().count() > field.length as usize
        {
            return Err(ApiError::on_fields(
                "STRING_TOO_LONG",
                format!(
                    "{}: data value too large: {text} (max length={})",
                    field.label, field.length
                ),
                &[name],
            ));
        }
        if field.kind == FieldType::Email && !valid_email(text) {
            return Err(ApiError::on_fields(
                "INVALID_EMAIL_ADDRESS",
                format!("{}: invalid email address: {text}", field.label),
                &[name],
            ));
        }
        // Exact match: whether Salesforce forgives a difference in case is unverified.
        if field.restricted && !field.picklist.iter().any(|v| v == text) {
            return Err(ApiError::on_fields(
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                format!(
                    "{}: bad value for restricted picklist field: {text}",
                    field.label
                ),
                &[name],
            ));
        }
        if field.kind != FieldType::Reference {
            return Ok(value);
        }
        let id = ids::normalize(text).ok_or_else(|| {
            ApiError::on_fields(
                "MALFORMED_ID",
                format!("{}: id value of incorrect type: {text}", field.label),
                &[name],
            )
        })?;
        let target = self.schema.object_for_id(&id).map(|o| o.name.as_str());
        if !target.is_some_and(|t| field.reference_to.iter().any(|r| r == t)) {
            if id.starts_with("00G") && field.reference_to.iter().any(|r| r == "Group") {
                return Err(ApiError::on_fields(
                    "INVALID_CROSS_REFERENCE_KEY",
                    "invalid cross reference id",
                    &[],
                ));
            }
            return Err(ApiError::on_fields(
                "FIELD_INTEGRITY_EXCEPTION",
                format!("{}: id value of incorrect type: {text}", field.label),
                &[name],
            ));
        }
        if who.seed {
            return Ok(json!(id));
        }
        let Some((target, record)) = self.live(&id) else {
            return Err(ApiError::on_fields(
                "INVALID_CROSS_REFERENCE_KEY",
                "invalid cross reference id",
                &[],
            ));
        };
        if target == "Lead" && record.get("IsConverted") == Some(&Value::Bool(true)) {
            return Err(ApiError::bad_request(
                "CANNOT_UPDATE_CONVERTED_LEAD",
                "cannot reference converted lead",
            ));
        }
        if name == "OwnerId" && record.get("IsActive") == Some(&Value::Bool(false)) {
            return Err(ApiError::on_fields(
                "INACTIVE_OWNER_OR_USER",
                format!(
                    "operation performed with inactive user [{id}] as owner of {}",
                    obj.name.to_lowercase()
                ),
                &[],
            ));
        }
        Ok(json!(id))
    }

    fn blob_value(&self, value: &Value) -> Result<Vec<u8>, ApiError> {
        let text = value.as_str().unwrap_or_default();
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| ApiError::json_parse(format!("Cannot deserialize instance of base64 from VALUE_STRING value {text} or request may be missing a required field")))
    }

    /// Rules that look at the record as a whole.
    fn object_rules(
        &self,
        obj: &ObjectDef,
        record: &mut Record,
        before: Option<&Record>,
        who: Writer,
    ) -> Result<(), ApiError> {
        let text = |r: &Record, f: &str| r.get(f).and_then(Value::as_str).map(str::to_string);
        if obj.name == "Task"
            && text(record, "WhoId").is_some_and(|w| w.starts_with("00Q"))
            && text(record, "WhatId").is_some()
        {
            return Err(ApiError::on_fields(
                "FIELD_INTEGRITY_EXCEPTION",
                "field integrity exception: WhoId, WhatId (Related To must be blank when Name is a lead)",
                &["WhoId", "WhatId"],
            ));
        }
        let own_id = text(record, "Id").unwrap_or_default();
        for field in obj.fields.iter().filter(|f| f.unique) {
            let Some(value) = record.get(&field.name).filter(|v| !v.is_null()) else {
                continue;
            };
            let value = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_string);
            if let Some(other) = self
                .find(&obj.name, &field.name, &value)
                .into_iter()
                .find(|id| *id != own_id)
            {
                return Err(ApiError::on_fields(
                    "DUPLICATE_VALUE",
                    format!(
                        "duplicate value found: {} duplicates value on record with id: {other}",
                        field.name
                    ),
                    &[&field.name],
                ));
            }
        }
        if who.seed
            || (who.allow_save && self.duplicate_rules == DuplicateRules::Alert)
            || self.duplicate_rules == DuplicateRules::None
        {
            return Ok(());
        }
        let key = match obj.name.as_str() {
            "Lead" | "Contact" => "Email",
            "Account" => "Name",
            _ => return Ok(()),
        };
        let Some(value) = text(record, key) else {
            return Ok(());
        };
        if before.is_some_and(|b| text(b, key).is_some_and(|old| old.eq_ignore_ascii_case(&value)))
        {
            return Ok(());
        }
        let matches: Vec<String> = self
            .find(&obj.name, key, &value)
            .into_iter()
            .filter(|id| *id != own_id)
            .collect();
        if matches.is_empty() {
            return Ok(());
        }
        Err(self.duplicates_error(obj, &matches))
    }

    fn duplicates_error(&self, obj: &ObjectDef, matches: &[String]) -> ApiError {
        let allow_save = self.duplicate_rules == DuplicateRules::Alert;
        let message = if allow_save {
            "You're creating a duplicate record. We recommend you use an existing record instead."
        } else {
            "Use one of these records?"
        };
        let records: Vec<Value> = matches
            .iter()
            .map(|id| {
                json!({"additionalInformation": [], "fieldDiffs": [], "matchConfidence": 100,
                       "record": {"attributes": {"type": obj.name, "url": record_url(API_VERSION, &obj.name, id)}, "Id": id}})
            })
            .collect();
        let result = json!({
            "allowSave": allow_save,
            "duplicateRule": format!("Standard_{}_Duplicate_Rule", obj.name),
            "duplicateRuleEntityType": obj.name,
            "errorMessage": message,
            "matchResults": [{"entityType": obj.name, "errors": [], "matchEngine": "ExactMatchEngine",
                              "matchRecords": records, "rule": format!("Standard_Rule_for_{}s", obj.name),
                              "size": matches.len(), "success": true}],
        });
        ApiError {
            extra: Some(Box::new(("duplicateResut", result))),
            ..ApiError::new(400, "DUPLICATES_DETECTED", message)
        }
    }

    /// Values the org computes: compound names, closed flags, CaseNumber, file facts.
    fn derive(&mut self, obj: &ObjectDef, record: &mut Record, blob: Option<&[u8]>, created: bool) {
        let text = |r: &Record, f: &str| r.get(f).and_then(Value::as_str).map(str::to_string);
        if obj.field("FirstName").is_some() {
            let name = [text(record, "FirstName"), text(record, "LastName")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            record.insert("Name".into(), json!(name));
        }
        match obj.name.as_str() {
            "Case" => {
                if created && record.get("CaseNumber").is_none_or(Value::is_null) {
                    self.case_number += 1;
                    record.insert(
                        "CaseNumber".into(),
                        json!(format!("{:08}", self.case_number)),
                    );
                }
                let closed = text(record, "Status").as_deref() == Some("Closed");
                record.insert("IsClosed".into(), json!(closed));
            }
            "Task" => {
                let closed = text(record, "Status").as_deref() == Some("Completed");
                record.insert("IsClosed".into(), json!(closed));
                let account = match (text(record, "WhatId"), text(record, "WhoId")) {
                    (Some(what), _) if what.starts_with("001") => Some(what),
                    (_, Some(who)) if who.starts_with("003") => {
                        self.live(&who).and_then(|(_, c)| text(c, "AccountId"))
                    }
                    _ => None,
                };
                record.insert(
                    "AccountId".into(),
                    account.map_or(Value::Null, Value::String),
                );
            }
            "Attachment" => {
                if let Some(bytes) = blob {
                    record.insert("BodyLength".into(), json!(bytes.len()));
                }
            }
            "ContentVersion" if created => {
                let path = text(record, "PathOnClient").unwrap_or_default();
                let (ext, kind) = file_type(&path);
                if record.get("Title").is_none_or(Value::is_null) {
                    let stem = path.rsplit(['/', '\\']).next().unwrap_or_default();
                    let stem = stem.rsplit_once('.').map_or(stem, |(s, _)| s);
                    record.insert("Title".into(), json!(stem));
                }
                if record.get("FileExtension").is_none_or(Value::is_null) {
                    record.insert(
                        "FileExtension".into(),
                        ext.map_or(Value::Null, Value::String),
                    );
                }
                record.insert("FileType".into(), json!(kind));
                record.insert("ContentSize".into(), json!(blob.map_or(0, <[u8]>::len)));
                record.insert("IsLatest".into(), json!(true));
            }
            _ => {}
        }
    }

    /// Records a create brings along: a ContentVersion's ContentDocument (new or next version)
    /// and its ContentDocumentLink to `FirstPublishLocationId`.
    fn after_create(&mut self, obj: &ObjectDef, id: &str, who: Writer) {
        if obj.name != "ContentVersion" {
            return;
        }
        let Some((_, version)) = self.live(id) else {
            return;
        };
        let version = version.clone();
        let text = |f: &str| version.get(f).and_then(Value::as_str).map(str::to_string);
        let doc_fields = |number: &str| {
            let mut fields = Map::new();
            for f in ["Title", "FileExtension", "FileType", "ContentSize"] {
                fields.insert(
                    f.to_string(),
                    version.get(f).cloned().unwrap_or(Value::Null),
                );
            }
            fields.insert("LatestPublishedVersionId".into(), json!(id));
            (fields, number.to_string())
        };
        let seeded = Writer { seed: true, ..who };
        let (doc_id, number) = match text("ContentDocumentId").filter(|d| self.live(d).is_some()) {
            Some(doc) => {
                let older: Vec<String> = self
                    .find("ContentVersion", "ContentDocumentId", &doc)
                    .into_iter()
                    .filter(|v| v != id)
                    .collect();
                for old in &older {
                    if let Some((_, row)) = self.row(old) {
                        let mut row = row.clone();
                        row.record.insert("IsLatest".into(), json!(false));
                        self.put("ContentVersion", old, row);
                    }
                }
                let (fields, number) = doc_fields(&(older.len() + 1).to_string());
                let _ = self.update("ContentDocument", &doc, &fields, seeded);
                (doc, number)
            }
            None => {
                let (fields, number) = doc_fields("1");
                match self.create("ContentDocument", &fields, seeded) {
                    Ok(doc) => (doc, number),
                    Err(_) => return,
                }
            }
        };
        if let Some((_, row)) = self.row(id) {
            let mut row = row.clone();
            row.record.insert("ContentDocumentId".into(), json!(doc_id));
            row.record.insert("VersionNumber".into(), json!(number));
            self.put("ContentVersion", id, row);
        }
        if let Some(parent) = text("FirstPublishLocationId") {
            let mut link = Map::new();
            link.insert("ContentDocumentId".into(), json!(doc_id));
            link.insert("LinkedEntityId".into(), json!(parent));
            link.insert("ShareType".into(), json!("I"));
            let _ = self.create("ContentDocumentLink", &link, seeded);
        }
    }
}
