//! The org's records: one table per object, rows kept after delete (Salesforce answers
//! `ENTITY_IS_DELETED` for them), blobs beside the rows, and an undo journal so a composite
//! or collections request with `allOrNone` can roll back.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{json, Map, Value};
use time::format_description::FormatItem;
use time::macros::format_description;
use time::OffsetDateTime;

use super::ids;
use super::schema::{CustomField, Schema};
use super::soql::{Catalog, FieldInfo, Record};

/// The API version the emulator speaks when a path gives none (record and blob URLs).
pub const API_VERSION: &str = "v62.0";

const DATETIME: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]+0000");

/// Now, as Salesforce writes a record's datetimes: `2011-07-07T00:37:00.000+0000`. It keeps
/// them to the second, so records written in one second tie on `LastModifiedDate`.
pub fn now_datetime() -> String {
    now_to_the_second().format(DATETIME).unwrap_or_default()
}

fn now_to_the_second() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}

/// A record's URL: `/services/data/v62.0/sobjects/Lead/00Q…`.
pub fn record_url(version: &str, object: &str, id: &str) -> String {
    format!("/services/data/{version}/sobjects/{object}/{id}")
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub record: Record,
    pub deleted: bool,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Table {
    /// Ids in creation order.
    pub order: Vec<String>,
    pub rows: HashMap<String, Row>,
}

/// What `rollback` puts back: a row or a blob as it was before a write (`None`: it did not
/// exist).
#[derive(Debug)]
enum Undo {
    Row {
        object: String,
        id: String,
        before: Option<Row>,
    },
    Blob {
        id: String,
        before: Option<Vec<u8>>,
    },
}

/// Where a transaction started: `None` for the outermost one.
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct Savepoint(Option<usize>);

/// Duplicate rules on Lead (Email), Contact (Email) and Account (Name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DuplicateRules {
    #[default]
    None,
    /// DUPLICATES_DETECTED with `allowSave: true`; `Sforce-Duplicate-Rule-Header: allowSave=true` saves.
    Alert,
    /// DUPLICATES_DETECTED with `allowSave: false`.
    Block,
}

/// The org: schema, records, blobs.
#[derive(Debug)]
pub struct Org {
    pub schema: Arc<Schema>,
    pub org_id: String,
    /// The User who logs in through OAuth (the first seeded User).
    pub login_user: String,
    /// Custom fields added to the standard schema (kept for the data file).
    pub custom_fields: Vec<CustomField>,
    /// When the schema last changed (start, or a custom field added), to the second, as
    /// HTTP dates count: describe's `If-Modified-Since` compares with it.
    pub schema_changed: OffsetDateTime,
    /// Seeded Users' password digests by User Id ([`super::oauth::password_digest`]), for the
    /// username-password grant; not a field, so no API call ever shows one.
    pub passwords: HashMap<String, String>,
    pub tables: HashMap<String, Table>,
    /// Blob fields (ContentVersion.VersionData, Attachment.Body) by record Id.
    pub blobs: HashMap<String, Vec<u8>>,
    /// The last number used for an Id (all key prefixes share it).
    pub seq: u64,
    /// The last CaseNumber.
    pub case_number: u64,
    pub duplicate_rules: DuplicateRules,
    journal: Option<Vec<Undo>>,
    /// Rows and blobs written and not rolled back: whether a request changed anything.
    changes: u64,
    /// Live records by (object, field) and lower-cased value, for the fields [`Org::find`]
    /// looks up often: external IDs and the duplicate-rule keys.
    index: HashMap<(String, String), HashMap<String, Vec<String>>>,
}

impl Org {
    pub fn new(schema: Schema) -> Org {
        Org {
            schema: Arc::new(schema),
            org_id: ids::OrgId::default().to_string(),
            login_user: String::new(),
            custom_fields: Vec::new(),
            schema_changed: now_to_the_second(),
            passwords: HashMap::new(),
            tables: HashMap::new(),
            blobs: HashMap::new(),
            seq: 0,
            case_number: 1000,
            duplicate_rules: DuplicateRules::None,
            journal: None,
            changes: 0,
            index: HashMap::new(),
        }
    }

    /// Adds a custom field to the schema.
    pub fn add_custom_field(&mut self, field: CustomField) -> Result<(), String> {
        Arc::make_mut(&mut self.schema).add_custom_field(&field)?;
        self.custom_fields.push(field);
        self.schema_changed = now_to_the_second();
        Ok(())
    }

    /// A new Id for an object's key prefix.
    pub fn next_id(&mut self, prefix: &str) -> String {
        self.seq += 1;
        ids::make(prefix, self.seq)
    }

    /// A live or deleted row by Id (15 or 18 characters), with its object.
    pub fn row(&self, id: &str) -> Option<(&str, &Row)> {
        let id = ids::normalize(id)?;
        let object = self.schema.object_for_id(&id)?;
        let row = self.tables.get(&object.name)?.rows.get(&id)?;
        Some((object.name.as_str(), row))
    }

    /// A live record by Id.
    pub fn live(&self, id: &str) -> Option<(&str, &Record)> {
        self.row(id)
            .filter(|(_, row)| !row.deleted)
            .map(|(o, row)| (o, &row.record))
    }

    /// Live records of an object, in creation order.
    pub fn live_records(&self, object: &str) -> impl Iterator<Item = &Record> {
        self.tables
            .get(object)
            .into_iter()
            .flat_map(|t| t.order.iter().filter_map(|id| t.rows.get(id)))
            .filter(|row| !row.deleted)
            .map(|row| &row.record)
    }

    /// Every record of an object, deleted ones too (`IsDeleted` true), in creation order.
    pub fn all_records(&self, object: &str) -> impl Iterator<Item = &Record> {
        self.tables
            .get(object)
            .into_iter()
            .flat_map(|t| t.order.iter().filter_map(|id| t.rows.get(id)))
            .map(|row| &row.record)
    }

    /// Writes a row, remembering the old one when a transaction is open.
    pub fn put(&mut self, object: &str, id: &str, row: Row) {
        self.changes += 1;
        self.index_row(object, id, Some(&row));
        let table = self.tables.entry(object.to_string()).or_default();
        let before = table.rows.insert(id.to_string(), row);
        if before.is_none() {
            table.order.push(id.to_string());
        }
        if let Some(journal) = &mut self.journal {
            journal.push(Undo::Row {
                object: object.to_string(),
                id: id.to_string(),
                before,
            });
        }
    }

    /// Stores a record's blob, remembering the old one when a transaction is open.
    pub fn put_blob(&mut self, id: &str, bytes: Vec<u8>) {
        self.changes += 1;
        let before = self.blobs.insert(id.to_string(), bytes);
        if let Some(journal) = &mut self.journal {
            journal.push(Undo::Blob {
                id: id.to_string(),
                before,
            });
        }
    }

    /// A count that moves with every write that stays (a rolled-back one moves it back): equal
    /// before and after a request when that request changed nothing.
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// Whether [`Org::find`] answers `object.field` from the index.
    fn indexed(&self, object: &str, field: &str) -> bool {
        matches!(
            (object, field),
            ("Lead" | "Contact", "Email")
                | ("Account", "Name")
                | ("ContentVersion", "ContentDocumentId")
        ) || self
            .schema
            .object(object)
            .and_then(|o| o.field(field))
            .is_some_and(|f| f.external_id)
    }

    /// Moves a record's entries in the index from its current row to `row` (`None`: gone).
    fn index_row(&mut self, object: &str, id: &str, row: Option<&Row>) {
        let key = |v: Option<&Value>| match v {
            Some(Value::String(s)) => Some(s.to_lowercase()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let Some(obj) = self.schema.object(object) else {
            return;
        };
        let fields: Vec<String> = obj
            .fields
            .iter()
            .filter(|f| self.indexed(object, &f.name))
            .map(|f| f.name.clone())
            .collect();
        let old = self
            .tables
            .get(object)
            .and_then(|t| t.rows.get(id))
            .filter(|r| !r.deleted)
            .map(|r| r.record.clone());
        for field in fields {
            let entries = self
                .index
                .entry((object.to_string(), field.clone()))
                .or_default();
            if let Some(k) = key(old.as_ref().and_then(|r| r.get(&field))) {
                if let Some(ids) = entries.get_mut(&k) {
                    ids.retain(|i| i != id);
                }
            }
            if let Some(k) = key(row
                .filter(|r| !r.deleted)
                .and_then(|r| r.record.get(&field)))
            {
                entries.entry(k).or_default().push(id.to_string());
            }
        }
    }

    /// Starts recording writes so that [`Org::rollback`] can undo them; nests (a collections
    /// request inside a composite one) by returning a savepoint into the open journal.
    pub fn begin(&mut self) -> Savepoint {
        match &self.journal {
            Some(journal) => Savepoint(Some(journal.len())),
            None => {
                self.journal = Some(Vec::new());
                Savepoint(None)
            }
        }
    }

    pub fn commit(&mut self, savepoint: Savepoint) {
        if savepoint.0.is_none() {
            self.journal = None;
        }
    }

    /// Undoes every write since the savepoint's [`Org::begin`].
    pub fn rollback(&mut self, savepoint: Savepoint) {
        let undos = match (savepoint.0, &mut self.journal) {
            (Some(mark), Some(journal)) => journal.split_off(mark.min(journal.len())),
            _ => self.journal.take().unwrap_or_default(),
        };
        self.changes -= undos.len() as u64;
        for undo in undos.into_iter().rev() {
            match undo {
                Undo::Blob {
                    id,
                    before: Some(bytes),
                } => {
                    self.blobs.insert(id, bytes);
                }
                Undo::Blob { id, before: None } => {
                    self.blobs.remove(&id);
                }
                Undo::Row { object, id, before } => {
                    self.index_row(&object, &id, before.as_ref());
                    let Some(table) = self.tables.get_mut(&object) else {
                        continue;
                    };
                    match before {
                        Some(row) => {
                            table.rows.insert(id, row);
                        }
                        None => {
                            table.rows.remove(&id);
                            if let Some(pos) = table.order.iter().rposition(|i| *i == id) {
                                table.order.remove(pos);
                            }
                        }
                    }
                }
            }
        }
    }

    /// Live records whose `field` (canonical) equals `value` (case-insensitively for text).
    pub fn find(&self, object: &str, field: &str, value: &str) -> Vec<String> {
        if self.indexed(object, field) {
            let key = (object.to_string(), field.to_string());
            return self
                .index
                .get(&key)
                .and_then(|m| m.get(&value.to_lowercase()))
                .cloned()
                .unwrap_or_default();
        }
        self.live_records(object)
            .filter(|r| match r.get(field) {
                Some(Value::String(s)) => s.eq_ignore_ascii_case(value),
                Some(Value::Number(n)) => n.to_string() == value,
                Some(Value::Bool(b)) => b.to_string() == value,
                _ => false,
            })
            .filter_map(|r| r.get("Id").and_then(Value::as_str).map(str::to_string))
            .collect()
    }

    /// The org as JSON: every live record per object, in creation order.
    pub fn dump(&self) -> Value {
        let objects: Map<String, Value> = self
            .schema
            .objects
            .iter()
            .map(|o| {
                let records: Vec<Value> = self
                    .live_records(&o.name)
                    .map(|r| Value::Object(r.clone()))
                    .collect();
                (o.name.clone(), Value::Array(records))
            })
            .collect();
        json!({"organizationId": self.org_id, "objects": objects})
    }
}

impl Catalog for Org {
    fn object(&self, name: &str) -> Option<String> {
        self.schema.object(name).map(|o| o.name.clone())
    }

    fn field(&self, object: &str, field: &str) -> Option<FieldInfo> {
        self.schema.object(object)?.field(field).map(field_info)
    }

    fn parent_relationship(&self, object: &str, relationship: &str) -> Option<FieldInfo> {
        self.schema
            .object(object)?
            .fields
            .iter()
            .find(|f| {
                f.relationship_name
                    .as_deref()
                    .is_some_and(|r| r.eq_ignore_ascii_case(relationship))
            })
            .map(field_info)
    }

    fn child_relationship(&self, object: &str, relationship: &str) -> Option<(String, String)> {
        self.schema.child_relationship(object, relationship)
    }

    fn records(&self, object: &str) -> Vec<&Record> {
        self.live_records(object).collect()
    }

    fn record_by_id(&self, id: &str) -> Option<(String, &Record)> {
        self.live(id).map(|(o, r)| (o.to_string(), r))
    }
}

/// The org as `queryAll` sees it: the queried object's deleted rows too (salesforce-api.md
/// §2.9). Parents and semi-joins still see live records only.
pub struct WithDeleted<'a>(pub &'a Org);

impl Catalog for WithDeleted<'_> {
    fn object(&self, name: &str) -> Option<String> {
        self.0.object(name)
    }

    fn field(&self, object: &str, field: &str) -> Option<FieldInfo> {
        self.0.field(object, field)
    }

    fn parent_relationship(&self, object: &str, relationship: &str) -> Option<FieldInfo> {
        self.0.parent_relationship(object, relationship)
    }

    fn child_relationship(&self, object: &str, relationship: &str) -> Option<(String, String)> {
        self.0.child_relationship(object, relationship)
    }

    fn records(&self, object: &str) -> Vec<&Record> {
        self.0.all_records(object).collect()
    }

    fn record_by_id(&self, id: &str) -> Option<(String, &Record)> {
        self.0.record_by_id(id)
    }
}

fn field_info(f: &super::schema::FieldDef) -> FieldInfo {
    FieldInfo {
        name: f.name.clone(),
        kind: f.kind.as_str().to_string(),
        reference_to: f.reference_to.clone(),
        relationship_name: f.relationship_name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, name: &str) -> Row {
        let mut record = Record::new();
        record.insert("Id".into(), json!(id));
        record.insert("Name".into(), json!(name));
        Row {
            record,
            deleted: false,
        }
    }

    #[test]
    fn rollback_restores_rows_and_order() {
        let mut org = Org::new(Schema::standard());
        let a = org.next_id("001");
        org.put("Account", &a, row(&a, "Acme"));
        let outer = org.begin();
        let b = org.next_id("001");
        org.put("Account", &b, row(&b, "Beta"));
        let inner = org.begin();
        org.put("Account", &a, row(&a, "Renamed"));
        org.rollback(inner);
        assert_eq!(
            org.live(&a).map(|(_, r)| r["Name"].clone()),
            Some(json!("Acme")),
            "inner rollback"
        );
        assert!(
            org.live(&b).is_some(),
            "outer write kept by the inner rollback"
        );
        org.rollback(outer);
        let names: Vec<_> = org
            .live_records("Account")
            .map(|r| r["Name"].clone())
            .collect();
        assert_eq!(names, vec![json!("Acme")]);
        assert!(org.live(&b).is_none());
    }

    #[test]
    fn catalog_answers_canonical_names_and_15_char_ids() {
        let mut org = Org::new(Schema::standard());
        let id = org.next_id("003");
        org.put("Contact", &id, row(&id, "x"));
        assert_eq!(org.object("contact").as_deref(), Some("Contact"));
        assert_eq!(
            org.field("Contact", "accountid").map(|f| f.name),
            Some("AccountId".into())
        );
        let parent = org.parent_relationship("Task", "who").expect("Who");
        assert_eq!(
            parent.reference_to,
            vec!["Contact".to_string(), "Lead".to_string()]
        );
        assert_eq!(
            org.record_by_id(&id[..15]).map(|(o, _)| o),
            Some("Contact".into())
        );
        assert_eq!(org.find("Contact", "Name", "X"), vec![id]);
    }
}
