//! The org's objects and fields, as describe tells them (salesforce-api.md §5): names, labels,
//! types, lengths, which fields are required, read-only or defaulted, and what references point
//! to. Custom fields (`Name__c`) are added from the seed file.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A describe field type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    Id,
    String,
    Textarea,
    Email,
    Phone,
    Url,
    Picklist,
    Combobox,
    Reference,
    Boolean,
    Int,
    Double,
    Currency,
    Date,
    Datetime,
    Base64,
}

impl FieldType {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Id => "id",
            FieldType::String => "string",
            FieldType::Textarea => "textarea",
            FieldType::Email => "email",
            FieldType::Phone => "phone",
            FieldType::Url => "url",
            FieldType::Picklist => "picklist",
            FieldType::Combobox => "combobox",
            FieldType::Reference => "reference",
            FieldType::Boolean => "boolean",
            FieldType::Int => "int",
            FieldType::Double => "double",
            FieldType::Currency => "currency",
            FieldType::Date => "date",
            FieldType::Datetime => "datetime",
            FieldType::Base64 => "base64",
        }
    }

    /// Text types, whose values are JSON strings limited by `length`.
    pub fn is_text(self) -> bool {
        matches!(
            self,
            FieldType::String
                | FieldType::Textarea
                | FieldType::Email
                | FieldType::Phone
                | FieldType::Url
                | FieldType::Picklist
                | FieldType::Combobox
        )
    }

    fn soap_type(self) -> &'static str {
        match self {
            FieldType::Id | FieldType::Reference => "tns:ID",
            FieldType::Boolean => "xsd:boolean",
            FieldType::Int => "xsd:int",
            FieldType::Double | FieldType::Currency => "xsd:double",
            FieldType::Date => "xsd:date",
            FieldType::Datetime => "xsd:dateTime",
            FieldType::Base64 => "xsd:base64Binary",
            _ => "xsd:string",
        }
    }
}

/// One field of an object.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldDef {
    pub name: String,
    pub label: String,
    pub kind: FieldType,
    /// Characters, for text types; 18 for ids and references; 0 otherwise.
    pub length: u32,
    pub nillable: bool,
    pub createable: bool,
    pub updateable: bool,
    /// The org fills it on create when the request leaves it out.
    pub defaulted_on_create: bool,
    /// The literal default (Lead Status, Case Priority, ...).
    pub default: Option<Value>,
    pub reference_to: Vec<String>,
    pub relationship_name: Option<String>,
    /// The child relationship this reference makes on its parents (`Contact.AccountId` →
    /// `Account.Contacts`).
    pub child_relationship: Option<String>,
    pub external_id: bool,
    pub unique: bool,
    pub custom: bool,
    pub name_field: bool,
    pub picklist: Vec<String>,
    /// A restricted picklist: a write must use one of `picklist`'s values.
    pub restricted: bool,
}

impl FieldDef {
    fn new(name: &str, label: &str, kind: FieldType, length: u32) -> FieldDef {
        FieldDef {
            name: name.to_string(),
            label: label.to_string(),
            kind,
            length,
            nillable: kind != FieldType::Boolean,
            createable: true,
            updateable: true,
            defaulted_on_create: kind == FieldType::Boolean,
            default: (kind == FieldType::Boolean).then_some(Value::Bool(false)),
            reference_to: Vec::new(),
            relationship_name: None,
            child_relationship: None,
            external_id: false,
            unique: false,
            custom: false,
            name_field: false,
            picklist: Vec::new(),
            restricted: false,
        }
    }

    /// Required on create: the request must carry a value (Salesforce's `createable &&
    /// !nillable && !defaultedOnCreate`).
    pub fn required(&self) -> bool {
        self.createable && !self.nillable && !self.defaulted_on_create
    }

    fn req(mut self) -> Self {
        self.nillable = false;
        self
    }
    fn read_only(mut self) -> Self {
        self.createable = false;
        self.updateable = false;
        self
    }
    fn create_only(mut self) -> Self {
        self.updateable = false;
        self
    }
    fn default(mut self, value: Value) -> Self {
        self.defaulted_on_create = true;
        self.default = Some(value);
        self
    }
    fn defaulted(mut self) -> Self {
        self.defaulted_on_create = true;
        self
    }
    fn name_field(mut self) -> Self {
        self.name_field = true;
        self
    }
    fn values(mut self, values: &[&str]) -> Self {
        self.picklist = values.iter().map(|v| v.to_string()).collect();
        self
    }
    fn restricted(mut self) -> Self {
        self.restricted = true;
        self
    }
    fn refs(mut self, to: &[&str], relationship: &str, children: Option<&str>) -> Self {
        self.reference_to = to.iter().map(|v| v.to_string()).collect();
        self.relationship_name = Some(relationship.to_string());
        self.child_relationship = children.map(str::to_string);
        self
    }

    /// The describe entry, with every key jsforce's `Field` type lists.
    pub fn describe(&self) -> Value {
        let byte_length = if self.kind.is_text() {
            self.length * 3
        } else {
            self.length
        };
        let picklist: Vec<Value> = self
            .picklist
            .iter()
            .map(|v| {
                json!({"active": true, "defaultValue": self.default.as_ref().and_then(Value::as_str) == Some(v.as_str()),
                       "label": v, "validFor": null, "value": v})
            })
            .collect();
        let entries: Vec<(&str, Value)> = vec![
            (
                "aggregatable",
                json!(self.kind != FieldType::Textarea && self.kind != FieldType::Base64),
            ),
            ("autoNumber", json!(self.name == "CaseNumber")),
            ("byteLength", json!(byte_length)),
            ("calculated", json!(false)),
            ("calculatedFormula", json!(null)),
            ("cascadeDelete", json!(false)),
            ("caseSensitive", json!(false)),
            ("compoundFieldName", json!(null)),
            ("controllerName", json!(null)),
            ("createable", json!(self.createable)),
            ("custom", json!(self.custom)),
            ("defaultValue", json!(self.default)),
            ("defaultValueFormula", json!(null)),
            ("defaultedOnCreate", json!(self.defaulted_on_create)),
            ("dependentPicklist", json!(false)),
            ("deprecatedAndHidden", json!(false)),
            ("digits", json!(0)),
            ("displayLocationInDecimal", json!(false)),
            ("encrypted", json!(false)),
            ("externalId", json!(self.external_id)),
            ("extraTypeInfo", json!(null)),
            (
                "filterable",
                json!(self.kind != FieldType::Textarea && self.kind != FieldType::Base64),
            ),
            ("filteredLookupInfo", json!(null)),
            (
                "groupable",
                json!(self.kind != FieldType::Textarea && self.kind != FieldType::Base64),
            ),
            ("highScaleNumber", json!(false)),
            ("htmlFormatted", json!(false)),
            (
                "idLookup",
                json!(self.kind == FieldType::Id || self.external_id || self.name == "Email"),
            ),
            ("inlineHelpText", json!(null)),
            ("label", json!(self.label)),
            (
                "length",
                json!(if self.kind.is_text()
                    || self.kind == FieldType::Id
                    || self.kind == FieldType::Reference
                {
                    self.length
                } else {
                    0
                }),
            ),
            ("mask", json!(null)),
            ("maskType", json!(null)),
            ("name", json!(self.name)),
            ("nameField", json!(self.name_field)),
            ("namePointing", json!(self.reference_to.len() > 1)),
            ("nillable", json!(self.nillable)),
            (
                "permissionable",
                json!(self.nillable && (self.createable || self.updateable)),
            ),
            ("picklistValues", json!(picklist)),
            ("polymorphicForeignKey", json!(self.reference_to.len() > 1)),
            (
                "precision",
                json!(
                    if matches!(self.kind, FieldType::Double | FieldType::Currency) {
                        18
                    } else {
                        0
                    }
                ),
            ),
            ("queryByDistance", json!(false)),
            ("referenceTargetField", json!(null)),
            ("referenceTo", json!(self.reference_to)),
            ("relationshipName", json!(self.relationship_name)),
            ("relationshipOrder", json!(null)),
            ("restrictedDelete", json!(false)),
            ("restrictedPicklist", json!(self.restricted)),
            (
                "scale",
                json!(
                    if matches!(self.kind, FieldType::Double | FieldType::Currency) {
                        2
                    } else {
                        0
                    }
                ),
            ),
            ("soapType", json!(self.kind.soap_type())),
            (
                "sortable",
                json!(self.kind != FieldType::Textarea && self.kind != FieldType::Base64),
            ),
            ("type", json!(self.kind.as_str())),
            ("unique", json!(self.unique)),
            ("updateable", json!(self.updateable)),
            ("writeRequiresMasterRead", json!(false)),
        ];
        Value::Object(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }
}

/// A custom field declared in the seed file: `{"object": "Lead", "name": "Chat_Id__c",
/// "type": "string", "length": 64, "externalId": true}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomField {
    pub object: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: FieldType,
    #[serde(default)]
    pub length: Option<u32>,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub external_id: bool,
    #[serde(default)]
    pub unique: bool,
    #[serde(default)]
    pub required: bool,
}

/// One object.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectDef {
    pub name: String,
    pub label: String,
    pub label_plural: String,
    pub key_prefix: &'static str,
    /// Whether the API may insert it (ContentDocument is made by inserting a ContentVersion).
    pub createable: bool,
    pub fields: Vec<FieldDef>,
}

impl ObjectDef {
    /// A field by case-insensitive name.
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }
}

/// The whole org's schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub objects: Vec<ObjectDef>,
}

/// The objects the polymorphic "any record" references (files, attachments) may point to.
const ANY_PARENT: &[&str] = &["Account", "Case", "Contact", "Lead", "Task", "User"];

fn system_fields(object: &str, owned: bool) -> Vec<FieldDef> {
    use FieldType::*;
    let mut fields = vec![
        FieldDef::new("Id", &format!("{} ID", object_label(object)), Id, 18)
            .req()
            .read_only()
            .defaulted(),
        FieldDef::new("IsDeleted", "Deleted", Boolean, 0).read_only(),
    ];
    if owned {
        // Only these may be owned by a queue (§5.1, §5.4, §5.5); others' owners are Users.
        let owners: &[&str] = if matches!(object, "Lead" | "Case" | "Task") {
            &["Group", "User"]
        } else {
            &["User"]
        };
        fields.push(
            FieldDef::new("OwnerId", "Owner ID", Reference, 18)
                .req()
                .defaulted()
                .refs(owners, "Owner", None),
        );
    }
    for (name, label) in [
        ("CreatedDate", "Created Date"),
        ("LastModifiedDate", "Last Modified Date"),
        ("SystemModstamp", "System Modstamp"),
    ] {
        fields.push(
            FieldDef::new(name, label, Datetime, 0)
                .req()
                .read_only()
                .defaulted(),
        );
    }
    for (name, label, rel) in [
        ("CreatedById", "Created By ID", "CreatedBy"),
        ("LastModifiedById", "Last Modified By ID", "LastModifiedBy"),
    ] {
        fields.push(
            FieldDef::new(name, label, Reference, 18)
                .req()
                .read_only()
                .defaulted()
                .refs(&["User"], rel, None),
        );
    }
    fields
}

fn object_label(name: &str) -> &str {
    match name {
        "ContentVersion" => "Content Version",
        "ContentDocument" => "Content Document",
        "ContentDocumentLink" => "Content Document Link",
        other => other,
    }
}

fn object(
    name: &str,
    plural: &str,
    prefix: &'static str,
    owned: bool,
    fields: Vec<FieldDef>,
) -> ObjectDef {
    let mut all = system_fields(name, owned);
    all.extend(fields);
    ObjectDef {
        name: name.to_string(),
        label: object_label(name).to_string(),
        label_plural: plural.to_string(),
        key_prefix: prefix,
        createable: true,
        fields: all,
    }
}

fn person_name_fields() -> Vec<FieldDef> {
    use FieldType::*;
    vec![
        FieldDef::new("FirstName", "First Name", String, 40),
        FieldDef::new("LastName", "Last Name", String, 80).req(),
        FieldDef::new("Name", "Full Name", String, 121)
            .read_only()
            .name_field(),
    ]
}

impl Schema {
    /// The standard objects of salesforce-api.md §5.
    pub fn standard() -> Schema {
        use FieldType::*;
        let sources = &[
            "Web",
            "Phone Inquiry",
            "Partner Referral",
            "Purchased List",
            "Other",
        ];
        let mut lead = person_name_fields();
        lead.extend([
            FieldDef::new("Company", "Company", String, 255).req(),
            FieldDef::new("Title", "Title", String, 128),
            FieldDef::new("Email", "Email", Email, 80),
            FieldDef::new("Phone", "Phone", Phone, 40),
            FieldDef::new("MobilePhone", "Mobile Phone", Phone, 40),
            FieldDef::new("LeadSource", "Lead Source", Picklist, 255).values(sources),
            FieldDef::new("Status", "Status", Picklist, 255)
                .req()
                .default(json!("Open - Not Contacted"))
                .values(&[
                    "Open - Not Contacted",
                    "Working - Contacted",
                    "Closed - Converted",
                    "Closed - Not Converted",
                ]),
            FieldDef::new("Description", "Description", Textarea, 32000),
            FieldDef::new("Street", "Street", Textarea, 255),
            FieldDef::new("City", "City", String, 40),
            FieldDef::new("State", "State/Province", String, 80),
            FieldDef::new("PostalCode", "Zip/Postal Code", String, 20),
            FieldDef::new("Country", "Country", String, 80),
            FieldDef::new("IsConverted", "Converted", Boolean, 0).read_only(),
            FieldDef::new("ConvertedDate", "Converted Date", Date, 0).read_only(),
            FieldDef::new("ConvertedContactId", "Converted Contact ID", Reference, 18)
                .read_only()
                .refs(&["Contact"], "ConvertedContact", None),
            FieldDef::new("ConvertedAccountId", "Converted Account ID", Reference, 18)
                .read_only()
                .refs(&["Account"], "ConvertedAccount", None),
        ]);

        let account = vec![
            FieldDef::new("Name", "Account Name", String, 255)
                .req()
                .name_field(),
            FieldDef::new("Phone", "Account Phone", Phone, 40),
            FieldDef::new("Website", "Website", Url, 255),
            FieldDef::new("Industry", "Industry", Picklist, 255),
            FieldDef::new("Description", "Account Description", Textarea, 32000),
            FieldDef::new("BillingCity", "Billing City", String, 40),
            FieldDef::new("BillingCountry", "Billing Country", String, 80),
        ];

        let mut contact = vec![
            FieldDef::new("AccountId", "Account ID", Reference, 18).refs(
                &["Account"],
                "Account",
                Some("Contacts"),
            ),
        ];
        contact.extend(person_name_fields());
        contact.extend([
            FieldDef::new("Title", "Title", String, 128),
            FieldDef::new("Email", "Email", Email, 80),
            FieldDef::new("Phone", "Business Phone", Phone, 40),
            FieldDef::new("MobilePhone", "Mobile Phone", Phone, 40),
            FieldDef::new("HomePhone", "Home Phone", Phone, 40),
            FieldDef::new("OtherPhone", "Other Phone", Phone, 40),
            FieldDef::new("LeadSource", "Lead Source", Picklist, 255).values(sources),
            FieldDef::new("Description", "Contact Description", Textarea, 32000),
            FieldDef::new("MailingCity", "Mailing City", String, 40),
            FieldDef::new("MailingCountry", "Mailing Country", String, 80),
        ]);

        let case = vec![
            FieldDef::new("CaseNumber", "Case Number", String, 30)
                .read_only()
                .defaulted()
                .name_field(),
            FieldDef::new("ContactId", "Contact ID", Reference, 18).refs(
                &["Contact"],
                "Contact",
                Some("Cases"),
            ),
            FieldDef::new("AccountId", "Account ID", Reference, 18).refs(
                &["Account"],
                "Account",
                Some("Cases"),
            ),
            FieldDef::new("SuppliedName", "Name", String, 80),
            FieldDef::new("SuppliedEmail", "Email Address", Email, 80),
            FieldDef::new("SuppliedPhone", "Phone", String, 40),
            FieldDef::new("SuppliedCompany", "Company", String, 80),
            FieldDef::new("Type", "Case Type", Picklist, 255).values(&[
                "Question",
                "Problem",
                "Feature Request",
            ]),
            FieldDef::new("Status", "Status", Picklist, 255)
                .req()
                .default(json!("New"))
                .values(&["New", "Working", "Escalated", "Closed"]),
            FieldDef::new("Reason", "Case Reason", Picklist, 255),
            FieldDef::new("Origin", "Case Origin", Picklist, 255)
                .values(&["Phone", "Email", "Web"]),
            FieldDef::new("Subject", "Subject", String, 255),
            FieldDef::new("Priority", "Priority", Picklist, 255)
                .default(json!("Medium"))
                .values(&["High", "Medium", "Low"]),
            FieldDef::new("Description", "Description", Textarea, 32000),
            FieldDef::new("IsClosed", "Closed", Boolean, 0).read_only(),
            FieldDef::new("ClosedDate", "Closed Date", Datetime, 0).read_only(),
            FieldDef::new("Comments", "Internal Comments", Textarea, 4000).create_only(),
        ];

        let task = vec![
            FieldDef::new("WhoId", "Name ID", Reference, 18).refs(
                &["Contact", "Lead"],
                "Who",
                Some("Tasks"),
            ),
            FieldDef::new("WhatId", "Related To ID", Reference, 18).refs(
                &["Account", "Case"],
                "What",
                Some("Tasks"),
            ),
            FieldDef::new("Subject", "Subject", Combobox, 255).values(&[
                "Call",
                "Send Letter",
                "Send Quote",
                "Other",
            ]),
            FieldDef::new("ActivityDate", "Due Date Only", Date, 0),
            FieldDef::new("Status", "Status", Picklist, 40)
                .req()
                .default(json!("Not Started"))
                .values(&[
                    "Not Started",
                    "In Progress",
                    "Completed",
                    "Waiting on someone else",
                    "Deferred",
                ]),
            FieldDef::new("Priority", "Priority", Picklist, 40)
                .req()
                .default(json!("Normal"))
                .values(&["High", "Normal", "Low"]),
            FieldDef::new("Description", "Comments", Textarea, 32000),
            FieldDef::new("AccountId", "Account ID", Reference, 18)
                .read_only()
                .refs(&["Account"], "Account", None),
            FieldDef::new("IsClosed", "Closed", Boolean, 0).read_only(),
            FieldDef::new("TaskSubtype", "Task Subtype", Picklist, 40)
                .create_only()
                .default(json!("Task"))
                .values(&["Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn"])
                .restricted(),
            FieldDef::new("CallType", "Call Type", Picklist, 40)
                .values(&["Internal", "Inbound", "Outbound"]),
            FieldDef::new("CallDurationInSeconds", "Call Duration", Int, 0),
            FieldDef::new("CallDisposition", "Call Result", String, 255),
            FieldDef::new("CallObject", "Call Object Identifier", String, 255),
        ];

        let mut user = person_name_fields();
        user.extend([
            FieldDef::new("Username", "Username", String, 80).req(),
            FieldDef::new("Email", "Email", Email, 128).req(),
            FieldDef::new("Alias", "Alias", String, 8).req(),
            FieldDef::new("CommunityNickname", "Nickname", String, 40),
            FieldDef::new("Title", "Title", String, 80),
            FieldDef::new("Phone", "Phone", Phone, 40),
            FieldDef::new("MobilePhone", "Mobile", Phone, 40),
            FieldDef::new("IsActive", "Active", Boolean, 0).default(json!(true)),
            FieldDef::new("TimeZoneSidKey", "Time Zone", Picklist, 40)
                .default(json!("America/Los_Angeles")),
            FieldDef::new("LocaleSidKey", "Locale", Picklist, 40).default(json!("en_US")),
            FieldDef::new("LanguageLocaleKey", "Language", Picklist, 40).default(json!("en_US")),
            FieldDef::new("UserType", "User Type", Picklist, 40)
                .read_only()
                .default(json!("Standard")),
        ]);

        let content_version = vec![
            FieldDef::new("ContentDocumentId", "Content Document ID", Reference, 18)
                .create_only()
                .defaulted()
                .refs(
                    &["ContentDocument"],
                    "ContentDocument",
                    Some("ContentVersions"),
                ),
            FieldDef::new("Title", "Title", String, 255)
                .req()
                .defaulted()
                .name_field(),
            FieldDef::new("PathOnClient", "Path On Client", String, 500)
                .req()
                .create_only(),
            FieldDef::new("VersionData", "Version Data", Base64, 0)
                .req()
                .create_only(),
            FieldDef::new(
                "FirstPublishLocationId",
                "First Publish Location ID",
                Reference,
                18,
            )
            .create_only()
            .refs(ANY_PARENT, "FirstPublishLocation", None),
            FieldDef::new("ReasonForChange", "Reason For Change", String, 1000),
            FieldDef::new("Description", "Description", Textarea, 1000),
            FieldDef::new("ContentSize", "Size", Int, 0).read_only(),
            FieldDef::new("FileExtension", "File Extension", String, 40).defaulted(),
            FieldDef::new("FileType", "File Type", String, 20).read_only(),
            FieldDef::new("IsLatest", "Is Latest", Boolean, 0).read_only(),
            FieldDef::new("VersionNumber", "Version Number", String, 20).read_only(),
        ];

        let content_document = vec![
            FieldDef::new("Title", "Title", String, 255)
                .req()
                .name_field(),
            FieldDef::new(
                "LatestPublishedVersionId",
                "Latest Published Version ID",
                Reference,
                18,
            )
            .read_only()
            .refs(&["ContentVersion"], "LatestPublishedVersion", None),
            FieldDef::new("FileExtension", "File Extension", String, 40).read_only(),
            FieldDef::new("FileType", "File Type", String, 20).read_only(),
            FieldDef::new("ContentSize", "Size", Int, 0).read_only(),
            FieldDef::new("Description", "Description", Textarea, 1000),
        ];

        let content_document_link = vec![
            FieldDef::new("ContentDocumentId", "ContentDocument ID", Reference, 18)
                .req()
                .create_only()
                .refs(
                    &["ContentDocument"],
                    "ContentDocument",
                    Some("ContentDocumentLinks"),
                ),
            FieldDef::new("LinkedEntityId", "Linked Entity ID", Reference, 18)
                .req()
                .create_only()
                .refs(ANY_PARENT, "LinkedEntity", Some("ContentDocumentLinks")),
            FieldDef::new("ShareType", "Share Type", Picklist, 40)
                .req()
                .default(json!("V"))
                .values(&["V", "C", "I"]),
            FieldDef::new("Visibility", "Visibility", Picklist, 40)
                .default(json!("AllUsers"))
                .values(&["AllUsers", "InternalUsers", "SharedUsers"]),
        ];

        let attachment = vec![
            FieldDef::new("ParentId", "Parent ID", Reference, 18)
                .req()
                .create_only()
                .refs(ANY_PARENT, "Parent", Some("Attachments")),
            FieldDef::new("Name", "File Name", String, 255)
                .req()
                .name_field(),
            FieldDef::new("IsPrivate", "Private", Boolean, 0),
            FieldDef::new("ContentType", "Content Type", String, 120),
            FieldDef::new("BodyLength", "Body Length", Int, 0).read_only(),
            FieldDef::new("Body", "Body", Base64, 0).req(),
            FieldDef::new("Description", "Description", Textarea, 500),
        ];

        let mut objects = vec![
            object("Account", "Accounts", "001", true, account),
            object("Contact", "Contacts", "003", true, contact),
            object("Lead", "Leads", "00Q", true, lead),
            object("Case", "Cases", "500", true, case),
            object("Task", "Tasks", "00T", true, task),
            object("User", "Users", "005", false, user),
            object(
                "ContentVersion",
                "Content Versions",
                "068",
                true,
                content_version,
            ),
            object(
                "ContentDocument",
                "Content Documents",
                "069",
                true,
                content_document,
            ),
            object(
                "ContentDocumentLink",
                "Content Document Links",
                "06A",
                false,
                content_document_link,
            ),
            object("Attachment", "Attachments", "00P", true, attachment),
        ];
        if let Some(doc) = objects.iter_mut().find(|o| o.name == "ContentDocument") {
            doc.createable = false;
        }
        Schema { objects }
    }

    /// An object by case-insensitive name.
    pub fn object(&self, name: &str) -> Option<&ObjectDef> {
        self.objects
            .iter()
            .find(|o| o.name.eq_ignore_ascii_case(name))
    }

    /// The object whose Ids start with the Id's key prefix.
    pub fn object_for_id(&self, id: &str) -> Option<&ObjectDef> {
        self.objects.iter().find(|o| id.starts_with(o.key_prefix))
    }

    /// Adds a custom field; the name must end in `__c` and be new on its object.
    pub fn add_custom_field(&mut self, field: &CustomField) -> Result<(), String> {
        let valid_name = field.name.strip_suffix("__c").is_some_and(|stem| {
            !stem.is_empty() && stem.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        if !valid_name {
            return Err(format!(
                "custom field {:?}: the name must be letters, digits and _ ending in __c",
                field.name
            ));
        }
        if matches!(
            field.kind,
            FieldType::Id | FieldType::Reference | FieldType::Base64
        ) {
            return Err(format!(
                "custom field {}: type {} is not supported",
                field.name,
                field.kind.as_str()
            ));
        }
        let object = self
            .objects
            .iter_mut()
            .find(|o| o.name.eq_ignore_ascii_case(&field.object))
            .ok_or_else(|| format!("custom field {}: no object {:?}", field.name, field.object))?;
        if object.field(&field.name).is_some() {
            return Err(format!(
                "custom field {}: {} already has it",
                field.name, object.name
            ));
        }
        let default_length = if field.kind.is_text() { 255 } else { 0 };
        let label = field
            .label
            .clone()
            .unwrap_or_else(|| field.name.trim_end_matches("__c").replace('_', " "));
        let mut def = FieldDef::new(
            &field.name,
            &label,
            field.kind,
            field.length.unwrap_or(default_length),
        );
        def.custom = true;
        def.external_id = field.external_id;
        def.unique = field.unique;
        def.nillable = !field.required && field.kind != FieldType::Boolean;
        object.fields.push(def);
        Ok(())
    }

    /// The field of `child` that makes the child relationship `relationship` on `parent`
    /// (`Account` + `Contacts` → (`Contact`, `AccountId`)).
    pub fn child_relationship(&self, parent: &str, relationship: &str) -> Option<(String, String)> {
        self.children_of(parent)
            .find(|(_, _, name)| name.eq_ignore_ascii_case(relationship))
            .map(|(child, field, _)| (child.to_string(), field.to_string()))
    }

    /// Every (child object, field, relationship name) pointing at `parent`.
    pub fn children_of<'a>(
        &'a self,
        parent: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a str, &'a str)> + 'a {
        self.objects.iter().flat_map(move |o| {
            o.fields.iter().filter_map(move |f| {
                let name = f.child_relationship.as_deref()?;
                f.reference_to.iter().any(|t| t == parent).then_some((
                    o.name.as_str(),
                    f.name.as_str(),
                    name,
                ))
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_fields_carry_salesforce_metadata() {
        let schema = Schema::standard();
        let lead = schema.object("lead").expect("Lead");
        assert_eq!(lead.key_prefix, "00Q");
        let last = lead.field("lastname").expect("LastName");
        assert_eq!(
            (last.name.as_str(), last.length, last.required()),
            ("LastName", 80, true)
        );
        let status = lead.field("Status").expect("Status");
        assert!(!status.required(), "defaulted on create");
        assert_eq!(status.default, Some(json!("Open - Not Contacted")));
        let user_email = schema
            .object("User")
            .and_then(|o| o.field("Email"))
            .expect("User.Email");
        assert_eq!(user_email.length, 128);
        let case_number = schema
            .object("Case")
            .and_then(|o| o.field("CaseNumber"))
            .expect("CaseNumber");
        assert!(!case_number.createable && !case_number.updateable);
        assert_eq!(
            schema
                .object_for_id("500000000000001AAA")
                .map(|o| o.name.as_str()),
            Some("Case")
        );
    }

    #[test]
    fn child_relationships_come_from_reference_fields() {
        let schema = Schema::standard();
        assert_eq!(
            schema.child_relationship("Account", "contacts"),
            Some(("Contact".into(), "AccountId".into()))
        );
        assert_eq!(
            schema.child_relationship("Lead", "Tasks"),
            Some(("Task".into(), "WhoId".into()))
        );
        assert_eq!(schema.child_relationship("Lead", "Contacts"), None);
    }

    #[test]
    fn custom_fields_are_checked_and_added() {
        let mut schema = Schema::standard();
        let field = CustomField {
            object: "lead".into(),
            name: "Chat_Id__c".into(),
            kind: FieldType::String,
            length: Some(64),
            label: None,
            external_id: true,
            unique: false,
            required: false,
        };
        schema.add_custom_field(&field).expect("added");
        let def = schema
            .object("Lead")
            .and_then(|o| o.field("chat_id__c"))
            .expect("present");
        assert_eq!(
            (def.label.as_str(), def.length, def.external_id, def.custom),
            ("Chat Id", 64, true, true)
        );
        assert!(schema.add_custom_field(&field).is_err(), "twice");
        assert!(schema
            .add_custom_field(&CustomField {
                name: "NoSuffix".into(),
                ..field.clone()
            })
            .is_err());
        assert!(schema
            .add_custom_field(&CustomField {
                object: "Nope".into(),
                name: "X__c".into(),
                ..field
            })
            .is_err());
    }
}
