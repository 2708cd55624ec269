//! What a tenant's org says about the objects CloudCX writes: the describe of Contact, Lead,
//! Account, Case and Task, fetched in one composite request when first needed and kept per
//! org, for every tenant connected to it (Salesforce naming an unknown field, or a settings
//! check that finds one missing, reads it again).
//!
//! It serves to cut values to their field's length before Salesforce refuses them, to check the
//! field names of a tenant's settings, and to find the external-ID field [`KEY_FIELD`].

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::Value;

use super::api::SubRequest;
use super::engine::{object_name, stop_for, Step, SyncEngine};
use super::plan::{account_rule_errors, person_rule_problem};
use crate::decode::DecodeError;
use crate::settings::{Rule, SyncObject, TenantSettings};

/// The objects described.
pub const DESCRIBED: [&str; 5] = ["Contact", "Lead", "Account", "Case", "Task"];

/// An external-ID text field by this name on Case or Task makes CloudCX write them by upsert on
/// the chat's key (`tenant/chat`), so that writing a chat again finds its record by itself.
pub const KEY_FIELD: &str = "CloudCX_Key__c";

/// The describe of one org.
#[derive(Debug, Default)]
pub struct OrgSchema {
    pub org_id: String,
    /// Object → lower-case field name → field (Salesforce's names ignore case).
    objects: HashMap<String, HashMap<String, Field>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    /// The length of a text field, in characters.
    length: Option<usize>,
    external_id: bool,
    /// A lookup's relationship (`Account` for `AccountId`) and the objects it points to.
    relationship: Option<(String, Vec<String>)>,
}

/// Field types whose values are free text, cut to their length.
const TEXT_TYPES: [&str; 6] = [
    "string",
    "textarea",
    "email",
    "phone",
    "url",
    "encryptedstring",
];

impl OrgSchema {
    /// Reads the `GET /sobjects/{O}/describe` answers of an org; an object without one is left
    /// unknown (nothing is checked or cut for it).
    pub fn from_describes<'a>(
        org_id: &str,
        describes: impl IntoIterator<Item = &'a Value>,
    ) -> OrgSchema {
        let mut objects = HashMap::new();
        for describe in describes {
            let (Some(name), Some(fields)) =
                (describe["name"].as_str(), describe["fields"].as_array())
            else {
                continue;
            };
            let fields = fields
                .iter()
                .filter_map(|f| {
                    let name = f["name"].as_str()?;
                    let kind = f["type"].as_str().unwrap_or_default();
                    let length = f["length"]
                        .as_u64()
                        .filter(|l| *l > 0 && TEXT_TYPES.contains(&kind))
                        .map(|l| l as usize);
                    let relationship = f["relationshipName"].as_str().map(|r| {
                        let to = f["referenceTo"].as_array().map_or(Vec::new(), |to| {
                            to.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_string)
                                .collect()
                        });
                        (r.to_string(), to)
                    });
                    let field = Field {
                        length,
                        external_id: f["externalId"].as_bool() == Some(true),
                        relationship,
                    };
                    Some((name.to_lowercase(), field))
                })
                .collect();
            objects.insert(name.to_string(), fields);
        }
        OrgSchema {
            org_id: org_id.to_string(),
            objects,
        }
    }

    fn field(&self, object: &str, name: &str) -> Option<&Field> {
        self.objects.get(object)?.get(&name.to_lowercase())
    }

    /// A text field's length; `None` for other fields and unknown ones.
    pub fn length(&self, object: &str, name: &str) -> Option<usize> {
        self.field(object, name)?.length
    }

    /// Whether `object` has the external-ID field [`KEY_FIELD`].
    pub fn has_key_field(&self, object: &str) -> bool {
        self.field(object, KEY_FIELD).is_some_and(|f| f.external_id)
    }

    /// Each field name of the settings that the org does not have, by its path in the settings:
    /// `identification.contact[1]: Contact has no field "Emial"`; and each Contact or Lead
    /// rule field the org has but no chat gives a value ([`person_rule_problem`]; Account
    /// rules are checked without the org, by [`account_rule_errors`]).
    pub fn check(&self, settings: &TenantSettings) -> Vec<DecodeError> {
        let mut errors = Vec::new();
        let ident = &settings.identification;
        for (section, object, person, rules) in [
            (
                "contact",
                "Contact",
                Some(SyncObject::Contact),
                &ident.contact,
            ),
            ("lead", "Lead", Some(SyncObject::Lead), &ident.lead),
            ("account", "Account", None, &ident.account),
        ] {
            for (i, Rule(fields)) in rules.iter().enumerate() {
                for field in fields {
                    let unvalued = || person_rule_problem(settings, person?, &field.0);
                    if let Some(problem) = self.missing(object, &field.0).or_else(unvalued) {
                        errors.push(named(format!("identification.{section}[{i}]"), problem));
                    }
                }
            }
        }
        for (object, fields) in &settings.field_mapping {
            // The settings' object names are their variants' names.
            let object = format!("{object:?}");
            for field in fields.keys() {
                if let Some(problem) = self.missing(&object, &field.0) {
                    errors.push(named(
                        format!("field_mapping.{object}.{}", field.0),
                        problem,
                    ));
                }
            }
        }
        for (object, paths) in &settings.display_fields {
            let object = format!("{object:?}");
            for (i, path) in paths.iter().enumerate() {
                if let Some(problem) = self.missing_path(&object, &path.0) {
                    errors.push(named(format!("display_fields.{object}[{i}]"), problem));
                }
            }
        }
        errors
    }

    /// What is wrong with `object.field`; `None` when it exists or the object is not known.
    fn missing(&self, object: &str, field: &str) -> Option<String> {
        let fields = self.objects.get(object)?;
        (!fields.contains_key(&field.to_lowercase()))
            .then(|| format!("{object} has no field {field:?}"))
    }

    /// Like [`Self::missing`], following a lookup's relationship (`Account.Name`).
    fn missing_path(&self, object: &str, path: &str) -> Option<String> {
        let Some((relationship, rest)) = path.split_once('.') else {
            return self.missing(object, path);
        };
        let fields = self.objects.get(object)?;
        let target = fields.values().find_map(|f| {
            f.relationship
                .as_ref()
                .filter(|(name, _)| name.eq_ignore_ascii_case(relationship))
        });
        match target {
            None => Some(format!("{object} has no relationship {relationship:?}")),
            // A polymorphic lookup (Owner: User or Group) is not checked further.
            Some((_, to)) if to.len() == 1 => self.missing_path(&to[0], rest),
            Some(_) => None,
        }
    }
}

/// `path: problem`, as the issue words a settings error naming a field (`identification.
/// contact[1]: Contact has no field "Emial"`).
fn named(path: String, problem: String) -> DecodeError {
    DecodeError::new("", format!("{path}: {problem}"))
}

/// The describes of the tenants' orgs, by org id: tenants connected to one org share it.
#[derive(Default)]
pub struct Describes(Mutex<HashMap<String, Arc<OrgSchema>>>);

impl Describes {
    fn get(&self, org_id: &str) -> Option<Arc<OrgSchema>> {
        self.0.lock().get(org_id).cloned()
    }

    fn set(&self, schema: Arc<OrgSchema>) {
        self.0.lock().insert(schema.org_id.clone(), schema);
    }

    fn forget(&self, org_id: &str) {
        self.0.lock().remove(org_id);
    }
}

impl SyncEngine {
    /// Whether the tenant's org has [`KEY_FIELD`] on the Case or Task: then it is written by
    /// upsert on the chat's key.
    pub(super) fn keyed(&self, tenant: &str, activity: SyncObject) -> bool {
        self.cached_schema(tenant)
            .is_some_and(|schema| schema.has_key_field(object_name(activity)))
    }

    /// The id of the org the tenant is connected to (or was, while it needs reconnecting).
    fn org_of(&self, tenant: &str) -> Option<String> {
        let identity = self.connections.status(tenant).ok()?.identity?;
        Some(identity.org_id)
    }

    /// The describe of the tenant's org, if read already.
    pub(super) fn cached_schema(&self, tenant: &str) -> Option<Arc<OrgSchema>> {
        self.describes.get(&self.org_of(tenant)?)
    }

    /// Drops the describe of the tenant's org: it is read again when next needed.
    pub(super) fn forget_schema(&self, tenant: &str) {
        if let Some(org) = self.org_of(tenant) {
            self.describes.forget(&org);
        }
    }

    /// Checks the field names of a tenant's settings against its org (`configure_tenant`, and
    /// at connect for settings given before). Only when the tenant is connected and Salesforce
    /// answers; a field that is missing all the same fails its chats with `INVALID_FIELD`.
    pub fn check_settings(
        &self,
        tenant: &str,
        settings: &TenantSettings,
    ) -> Result<(), Vec<DecodeError>> {
        // Needs no org: an account rule no visitor value can ever satisfy.
        let unusable = account_rule_errors(settings);
        if !unusable.is_empty() {
            return Err(unusable);
        }
        if self.connections.session(tenant).is_err() {
            return Ok(());
        }
        let mut errors = self.checked(tenant, settings);
        if errors.as_ref().is_some_and(|e| !e.is_empty()) {
            // The admin may have just added the field: ask the org again before refusing.
            self.forget_schema(tenant);
            errors = self.checked(tenant, settings);
        }
        match errors {
            Some(errors) if !errors.is_empty() => Err(errors),
            Some(_) => Ok(()),
            None => {
                log::warn!(
                    "tenant {tenant}: the org's describe could not be read; the settings are checked at delivery"
                );
                Ok(())
            }
        }
    }

    /// [`Self::check_settings`] with the org's describe read afresh: at connect, since the org
    /// may have changed while the tenant was away.
    pub fn check_settings_afresh(
        &self,
        tenant: &str,
        settings: &TenantSettings,
    ) -> Result<(), Vec<DecodeError>> {
        self.forget_schema(tenant);
        self.check_settings(tenant, settings)
    }

    /// What the org's describe finds wrong in the settings; `None` when it cannot be read.
    fn checked(&self, tenant: &str, settings: &TenantSettings) -> Option<Vec<DecodeError>> {
        self.schema(tenant)
            .ok()
            .map(|schema| schema.check(settings))
    }

    /// The describe of the tenant's org: cached, or read in one composite request.
    pub(crate) fn schema(&self, tenant: &str) -> Step<Arc<OrgSchema>> {
        let org_id = self.org_of(tenant).unwrap_or_default();
        if let Some(schema) = self.describes.get(&org_id) {
            return Ok(schema);
        }
        let requests: Vec<SubRequest> = DESCRIBED
            .iter()
            .map(|object| SubRequest::get(object, &format!("/sobjects/{object}/describe")))
            .collect();
        let answers = self
            .api(tenant)
            .composite(&requests, false)
            .map_err(|e| stop_for(&e, false))?;
        let described = answers.0.iter().filter(|a| a.ok()).map(|a| &a.body);
        let schema = Arc::new(OrgSchema::from_describes(&org_id, described));
        if !org_id.is_empty() {
            self.describes.set(schema.clone());
        }
        Ok(schema)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> OrgSchema {
        let contact = json!({"name": "Contact", "fields": [
            {"name": "Id", "type": "id", "length": 18},
            {"name": "LastName", "type": "string", "length": 80},
            {"name": "Email", "type": "email", "length": 80},
            {"name": "Level__c", "type": "picklist", "length": 255},
            {"name": "Fax", "type": "phone", "length": 40},
            {"name": "MobilePhone", "type": "phone", "length": 40},
            {"name": "AccountId", "type": "reference", "length": 18,
             "relationshipName": "Account", "referenceTo": ["Account"]},
            {"name": "OwnerId", "type": "reference", "length": 18,
             "relationshipName": "Owner", "referenceTo": ["User", "Group"]},
        ]});
        let account = json!({"name": "Account", "fields": [{"name": "Name", "type": "string", "length": 255}]});
        let case = json!({"name": "Case", "fields": [
            {"name": "Subject", "type": "string", "length": 255},
            {"name": "CloudCX_Key__c", "type": "string", "length": 255, "externalId": true},
        ]});
        let task = json!({"name": "Task", "fields": [
            {"name": "CloudCX_Key__c", "type": "string", "length": 255, "externalId": false},
        ]});
        OrgSchema::from_describes("00D1", [&contact, &account, &case, &task, &json!([])])
    }

    #[test]
    fn lengths_are_of_text_fields_whatever_the_names_case() {
        let schema = schema();
        assert_eq!(schema.length("Contact", "lastname"), Some(80));
        assert_eq!(schema.length("Contact", "Email"), Some(80));
        assert_eq!(
            schema.length("Contact", "Level__c"),
            None,
            "a picklist is not cut"
        );
        assert_eq!(schema.length("Contact", "AccountId"), None);
        assert_eq!(schema.length("Contact", "Nope"), None);
        assert_eq!(schema.length("Lead", "LastName"), None, "not described");
    }

    #[test]
    fn the_key_field_must_be_an_external_id() {
        let schema = schema();
        assert!(schema.has_key_field("Case"));
        assert!(!schema.has_key_field("Task"));
        assert!(!schema.has_key_field("Contact"));
    }

    #[test]
    fn names_each_field_the_org_does_not_have_by_its_path() {
        let host = crate::config::parse(
            r#"{"state_dir": "/tmp/x", "redirect_url": "http://127.0.0.1:8765/callback"}"#,
        )
        .unwrap();
        let mut settings: Value =
            serde_json::from_str(include_str!("../../../examples/settings.json")).unwrap();
        settings["identification"] = json!({"contact": [["Email"], ["Emial", "LastName"],
                                                        ["MobilePhone"], ["Level__c"], ["Fax"]],
                                            "lead": [["Whatever"]], "account": [["Name"]]});
        settings["field_mapping"] =
            json!({"Contact": {"Level__c": "literal:Gold", "Lvl__c": null}});
        settings["display_fields"] = json!({"Contact": ["Name", "Account.Name", "Acount.Name",
                                                        "Account.Nam", "Owner.Whatever"]});
        let settings = TenantSettings::parse(&settings.to_string(), &host).unwrap();
        let errors: Vec<String> = schema()
            .check(&settings)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errors,
            [
                "identification.contact[1]: Contact has no field \"Emial\"",
                "identification.contact[4]: Contact field \"Fax\" gets no value from a chat (a \
                 rule may name Name, LastName, Email, Phone, MobilePhone, HomePhone, OtherPhone, \
                 Lead Company, or a field that field_mapping.Contact maps); map it in \
                 field_mapping.Contact or remove the rule",
                // Lead is not described: only whether a chat gives the field a value is known.
                "identification.lead[0]: Lead field \"Whatever\" gets no value from a chat (a \
                 rule may name Name, LastName, Email, Phone, MobilePhone, HomePhone, OtherPhone, \
                 Lead Company, or a field that field_mapping.Lead maps); map it in \
                 field_mapping.Lead or remove the rule",
                "field_mapping.Contact.Lvl__c: Contact has no field \"Lvl__c\"",
                "display_fields.Contact[0]: Contact has no field \"Name\"",
                "display_fields.Contact[2]: Contact has no relationship \"Acount\"",
                "display_fields.Contact[3]: Account has no field \"Nam\"",
            ]
        );
    }
}
