//! What each Salesforce record gets from an event: the defaults of integration.md §4, then the
//! tenant's `field_mapping` over them. Pure: no HTTP, no describe (lengths are applied later by
//! [`fit_lengths`] with the org's describe).
//!
//! Values are strings; a value CloudCX does not have is left out (never `null`), so that a
//! "fill empty" match policy writes only what CloudCX knows. OwnerId, AccountId, ContactId,
//! WhoId and WhatId are the planner's, not set here.

use serde_json::Value;
use time::OffsetDateTime;

use crate::events::{
    Agent, Attachment, CustomValues, Event, EventBody, EventKind, InboxContact, Message, Visitor,
};
use crate::settings::{ChatField, Source, SyncObject, TenantSettings, VisitorField};

use super::description::{self, utf16_len};

/// Field API name → value, in write order.
pub type Fields = serde_json::Map<String, Value>;

/// `LastName` when CloudCX has neither a name nor an email for the visitor (Salesforce requires
/// a LastName on Contact and Lead).
pub const UNKNOWN_VISITOR: &str = "Unknown visitor";
/// Lead `Company` when CloudCX has no company for the visitor (Salesforce requires it).
pub const UNKNOWN_COMPANY: &str = "Unknown company";
/// The longest `Subject` of a Case or Task.
pub const SUBJECT_MAX_CHARS: usize = 255;

/// The visitor (Web Chat) or contact (Inbox), trimmed, with empty strings as absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Person {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
}

pub fn person_of(event: &Event) -> Person {
    match &event.body {
        EventBody::ChatStarted(b) => visitor(&b.visitor),
        EventBody::ChatEnded(b) => visitor(&b.visitor),
        EventBody::ChatOfflineMessage(b) => visitor(&b.visitor),
        EventBody::InboxConversationStarted(b) => contact(&b.contact),
        EventBody::InboxConversationEnded(b) => contact(&b.contact),
    }
}

fn visitor(v: &Visitor) -> Person {
    Person {
        name: text(v.name.as_deref()),
        email: text(v.email.as_deref()),
        phone: text(v.phone.as_deref()),
        company: text(v.company.as_deref()),
    }
}

fn contact(c: &InboxContact) -> Person {
    Person {
        name: text(c.last_name.as_deref()),
        email: text(c.email.as_deref()),
        phone: text(c.cell_phone.as_deref()),
        company: text(c.company_name.as_deref()),
    }
}

/// Trimmed, or `None` when absent or blank.
pub(crate) fn text(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

/// Everything else an event may carry, whatever its kind: read in one place for the mapping
/// and the Description.
#[derive(Debug, Clone, Copy)]
pub struct Parts<'a> {
    pub agent: Option<&'a Agent>,
    pub started_at: Option<OffsetDateTime>,
    pub ended_at: Option<OffsetDateTime>,
    pub request_page: Option<&'a str>,
    pub note: Option<&'a str>,
    pub wrap_up: Option<&'a str>,
    pub subject: Option<&'a str>,
    /// The text of an offline message.
    pub message: Option<&'a str>,
    pub custom_fields: Option<&'a CustomValues>,
    pub custom_variables: Option<&'a CustomValues>,
    pub messages: &'a [Message],
    pub attachments: &'a [Attachment],
}

pub fn parts_of(event: &Event) -> Parts<'_> {
    let none = Parts {
        agent: None,
        started_at: None,
        ended_at: None,
        request_page: None,
        note: None,
        wrap_up: None,
        subject: None,
        message: None,
        custom_fields: None,
        custom_variables: None,
        messages: &[],
        attachments: &[],
    };
    match &event.body {
        EventBody::ChatStarted(b) => Parts {
            agent: b.agent.as_ref(),
            started_at: Some(b.started_at),
            request_page: b.request_page.as_deref(),
            custom_variables: b.custom_variables.as_ref(),
            ..none
        },
        EventBody::ChatEnded(b) => Parts {
            agent: b.agent.as_ref(),
            started_at: b.started_at,
            ended_at: b.ended_at,
            request_page: b.request_page.as_deref(),
            note: b.note.as_deref(),
            wrap_up: b.wrap_up.as_deref(),
            custom_fields: b.custom_fields.as_ref(),
            custom_variables: b.custom_variables.as_ref(),
            messages: b.messages.as_deref().unwrap_or_default(),
            attachments: b.attachments.as_deref().unwrap_or_default(),
            ..none
        },
        EventBody::ChatOfflineMessage(b) => Parts {
            request_page: b.request_page.as_deref(),
            message: Some(&b.message),
            custom_variables: b.custom_variables.as_ref(),
            attachments: b.attachments.as_deref().unwrap_or_default(),
            ..none
        },
        EventBody::InboxConversationStarted(b) => Parts {
            agent: b.agent.as_ref(),
            started_at: Some(b.started_at),
            subject: b.subject.as_deref(),
            ..none
        },
        EventBody::InboxConversationEnded(b) => Parts {
            agent: b.agent.as_ref(),
            subject: b.subject.as_deref(),
            started_at: b.started_at,
            ended_at: b.ended_at,
            note: b.note.as_deref(),
            messages: b.messages.as_deref().unwrap_or_default(),
            attachments: b.attachments.as_deref().unwrap_or_default(),
            ..none
        },
    }
}

/// A custom field or variable as text: strings as they are, other JSON as JSON text, `null` as
/// absent.
pub(crate) fn custom_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The value a mapping source gives for this event, if any.
fn source_value(source: &Source, event: &Event, person: &Person, parts: &Parts) -> Option<String> {
    match source {
        Source::Visitor(field) => match field {
            VisitorField::Name => person.name.clone(),
            VisitorField::Email => person.email.clone(),
            VisitorField::Phone => person.phone.clone(),
            VisitorField::Company => person.company.clone(),
        },
        Source::Chat(field) => text(match field {
            ChatField::Id => Some(event.id.as_str()),
            ChatField::Channel => Some(event.channel.as_str()),
            ChatField::RequestPage => parts.request_page,
            ChatField::Note => parts.note,
            ChatField::WrapUp => parts.wrap_up,
        }),
        // A custom field wins over a custom variable of the same name.
        Source::Custom(name) => [parts.custom_fields, parts.custom_variables]
            .into_iter()
            .flatten()
            .find_map(|values| text(custom_text(values.get(name)?).as_deref())),
        Source::Literal(literal) => text(Some(literal)),
    }
}

/// The defaults, then the tenant's mapping for `object` over them: a mapped field replaces the
/// default in place or is added at the end, an unmapped one (`null`) is removed. Absent values
/// are left out.
fn apply_mapping(
    object: SyncObject,
    defaults: Vec<(&str, Option<String>)>,
    event: &Event,
    settings: &TenantSettings,
) -> Fields {
    let person = person_of(event);
    let parts = parts_of(event);
    let mut entries: Vec<(String, Option<String>)> = defaults
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect();
    for (field, source) in settings.field_mapping.get(&object).into_iter().flatten() {
        // Salesforce field names are case-insensitive: `email` replaces the default `Email`.
        let position = entries
            .iter()
            .position(|(name, _)| name.eq_ignore_ascii_case(&field.0));
        match (source, position) {
            (None, Some(i)) => {
                entries.remove(i);
            }
            (None, None) => {}
            (Some(source), at) => {
                let value = source_value(source, event, &person, &parts);
                match at {
                    Some(i) => entries[i].1 = value,
                    None => entries.push((field.0.clone(), value)),
                }
            }
        }
    }
    entries
        .into_iter()
        .filter_map(|(name, value)| Some((name, Value::String(value?))))
        .collect()
}

fn mapped_person_fields(object: SyncObject, event: &Event, settings: &TenantSettings) -> Fields {
    let person = person_of(event);
    let mut defaults = vec![
        ("LastName", person.name.clone()),
        ("Email", person.email.clone()),
        ("Phone", person.phone.clone()),
    ];
    // A Contact has no company field: the company goes to the Case's SuppliedCompany.
    if object == SyncObject::Lead {
        defaults.push(("Company", person.company.clone()));
    }
    apply_mapping(object, defaults, event, settings)
}

/// The fields Salesforce requires on create for `object`.
fn required(object: SyncObject) -> &'static [&'static str] {
    match object {
        SyncObject::Lead => &["LastName", "Company"],
        SyncObject::Contact => &["LastName"],
        SyncObject::Case | SyncObject::Task => &[],
    }
}

/// The Contact or Lead fields for the event's visitor.
///
/// Required fields the mapping left without a value get a placeholder, so creating the record
/// never fails for lack of them: `LastName` ← the local part of the visitor's email
/// (`jane` for `jane@acme.example`), else [`UNKNOWN_VISITOR`]; Lead `Company` ←
/// [`UNKNOWN_COMPANY`]. [`placeholder_fields`] names them, so that updating a found record can
/// leave its real values alone.
pub fn person_fields(object: SyncObject, event: &Event, settings: &TenantSettings) -> Fields {
    let mut fields = mapped_person_fields(object, event, settings);
    let person = person_of(event);
    // Required even when the tenant unmapped them: a placeholder beats a refused record.
    for name in missing_required(object, &fields) {
        let placeholder = match name {
            "LastName" => person
                .email
                .as_deref()
                .and_then(|email| text(email.split('@').next()))
                .unwrap_or_else(|| UNKNOWN_VISITOR.to_string()),
            _ => UNKNOWN_COMPANY.to_string(),
        };
        fields.insert(name.to_string(), Value::String(placeholder));
    }
    fields
}

/// The required fields that [`person_fields`] filled with a placeholder for this event.
pub fn placeholder_fields(
    object: SyncObject,
    event: &Event,
    settings: &TenantSettings,
) -> Vec<&'static str> {
    missing_required(object, &mapped_person_fields(object, event, settings))
}

fn missing_required(object: SyncObject, fields: &Fields) -> Vec<&'static str> {
    required(object)
        .iter()
        .copied()
        .filter(|name| !fields.contains_key(*name))
        .collect()
}

/// A Case or Task for the chat or conversation, with the whole transcript as a file when the
/// Description had to be cut.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    pub fields: Fields,
    pub transcript_file: Option<TextFile>,
}

/// A text file to attach to the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextFile {
    pub name: String,
    pub content: String,
}

/// The Case or Task fields for the event (integration.md §4, second table).
///
/// - `Subject`: see [`subject`].
/// - Case `Origin`: `Email` for the Inbox's `email` channel, else `Web` (the standard picklist
///   has Phone, Email and Web; a tenant with other values maps `Origin` itself). `Status` and
///   `Priority` are left to the org's defaults.
/// - Task `Status`: `In Progress` while the chat or conversation goes on (a started event),
///   `Completed` once it ended or for an offline message; `ActivityDate`: the UTC date it
///   started. `TaskSubtype` is left out: it can be set on create only, and the default is Task.
/// - `Description`: see [`description::description`].
pub fn activity_fields(object: SyncObject, event: &Event, settings: &TenantSettings) -> Activity {
    let person = person_of(event);
    let parts = parts_of(event);
    let description = description::description(event);
    let mut defaults = vec![("Subject", Some(subject(event)))];
    match object {
        SyncObject::Case => defaults.extend([
            ("Origin", Some(case_origin(event).to_string())),
            ("SuppliedName", person.name.clone()),
            ("SuppliedEmail", person.email.clone()),
            ("SuppliedPhone", person.phone.clone()),
            ("SuppliedCompany", person.company.clone()),
        ]),
        _ => defaults.extend([
            ("Status", Some(task_status(event).to_string())),
            ("ActivityDate", Some(activity_date(event, &parts))),
        ]),
    }
    defaults.push(("Description", Some(description.text.clone())));
    let fields = apply_mapping(object, defaults, event, settings);
    // The file only completes our Description: none when the tenant replaced or removed it.
    let ours = fields.get("Description") == Some(&Value::String(description.text));
    Activity {
        fields,
        transcript_file: description.transcript_file.filter(|_| ours),
    }
}

/// The record's Subject: what it was, on which channel, with whom, for which tenant, e.g.
/// `Web Chat (webchat) with Jane Doe — CloudCX tenant acme`,
/// `Web Chat offline message (webchat) from Sam Lee — CloudCX tenant acme`,
/// `Inbox conversation (email) with Okafor — CloudCX tenant acme`. The visitor is named by
/// name, else email, else phone, else "unknown visitor". At most [`SUBJECT_MAX_CHARS`].
pub fn subject(event: &Event) -> String {
    let person = person_of(event);
    let who = person
        .name
        .or(person.email)
        .or(person.phone)
        .unwrap_or_else(|| "unknown visitor".to_string());
    let (what, with) = match event.kind() {
        EventKind::ChatStarted | EventKind::ChatEnded => ("Web Chat", "with"),
        EventKind::ChatOfflineMessage => ("Web Chat offline message", "from"),
        EventKind::InboxConversationStarted | EventKind::InboxConversationEnded => {
            ("Inbox conversation", "with")
        }
    };
    let full = format!(
        "{what} ({}) {with} {who} — CloudCX tenant {}",
        event.channel, event.tenant_id
    );
    description::cut(&full, SUBJECT_MAX_CHARS, |_| "…".to_string())
}

fn case_origin(event: &Event) -> &'static str {
    let inbox = matches!(
        event.kind(),
        EventKind::InboxConversationStarted | EventKind::InboxConversationEnded
    );
    if inbox && event.channel.trim().eq_ignore_ascii_case("email") {
        "Email"
    } else {
        "Web"
    }
}

fn task_status(event: &Event) -> &'static str {
    match event.kind() {
        EventKind::ChatStarted | EventKind::InboxConversationStarted => "In Progress",
        EventKind::ChatEnded
        | EventKind::ChatOfflineMessage
        | EventKind::InboxConversationEnded => "Completed",
    }
}

/// `YYYY-MM-DD` (UTC) of the start; an ended event without `started_at` uses its end, then
/// the event's time.
fn activity_date(event: &Event, parts: &Parts) -> String {
    description::utc_date(parts.started_at.or(parts.ended_at).unwrap_or(event.at))
}

/// Cuts every string value longer than its field's length (`max_chars`, from describe; `None`
/// leaves the field alone), ending it with a visible marker
/// (`… [cut by CloudCX: 1,234 more characters]`) within the limit. Answers one note per cut
/// field, for the Description.
///
/// Lengths count UTF-16 code units: Salesforce is Java, whose string length is that; it is
/// never less than the count of characters, so a value that fits here fits either way.
pub fn fit_lengths(fields: &mut Fields, max_chars: &impl Fn(&str) -> Option<usize>) -> Vec<String> {
    let mut notes = Vec::new();
    for (name, value) in fields.iter_mut() {
        let (Value::String(text), Some(max)) = (&*value, max_chars(name)) else {
            continue;
        };
        let length = utf16_len(text);
        if length <= max {
            continue;
        }
        let cut_text = description::cut(text, max, |cut| {
            format!(
                "… [cut by CloudCX: {} more characters]",
                description::thousands(cut)
            )
        });
        notes.push(format!(
            "{name} was cut from {} to {max} characters, its length in Salesforce.",
            description::thousands(length)
        ));
        *value = Value::String(cut_text);
    }
    notes
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// The events of `examples/events.jsonl`: chat started, chat ended, a short chat ended,
    /// offline message, conversation started, conversation ended.
    pub(crate) fn example(index: usize) -> Event {
        let line = include_str!("../../../examples/events.jsonl")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .nth(index)
            .unwrap();
        event(line)
    }

    pub(crate) fn event(json: &str) -> Event {
        let value: Value = serde_json::from_str(json).unwrap();
        let kind = EventKind::from_type_name(value["type"].as_str().unwrap()).unwrap();
        crate::events::decode(kind, json.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn settings(field_mapping: &str) -> TenantSettings {
        let host = crate::config::parse(
            r#"{"state_dir": "/tmp/x", "redirect_url": "http://127.0.0.1:8765/callback"}"#,
        )
        .unwrap();
        let json = format!(
            r#"{{"connection": {{"app": "custom", "client_id": "id", "client_secret": "s",
                "login_url": "https://login.salesforce.com/"}}, "field_mapping": {field_mapping}}}"#
        );
        TenantSettings::parse(&json, &host).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn defaults() -> TenantSettings {
        settings("{}")
    }

    fn fields(value: Value) -> Fields {
        match value {
            Value::Object(map) => map,
            _ => panic!("not an object"),
        }
    }

    /// A `chat.ended` of tenant `acme`, chat `c-1`, with `extra` fields (visitor included).
    pub(crate) fn chat_ended(extra: &str) -> Event {
        event(&format!(
            r#"{{"type":"chat.ended","tenant_id":"acme","id":"c-1","channel":"webchat",
               "at":"2026-11-24T10:05:00Z",{extra}}}"#
        ))
    }

    fn names(fields: &Fields) -> Vec<&str> {
        fields.keys().map(String::as_str).collect()
    }

    #[test]
    fn contact_and_lead_defaults() {
        let chat = example(1);
        assert_eq!(
            person_fields(SyncObject::Contact, &chat, &defaults()),
            fields(json!({"LastName": "Jane Doe", "Email": "jane@acme.example",
                          "Phone": "+1 415 555 0100"}))
        );
        assert_eq!(
            person_fields(SyncObject::Lead, &chat, &defaults()),
            fields(json!({"LastName": "Jane Doe", "Email": "jane@acme.example",
                          "Phone": "+1 415 555 0100", "Company": "Acme"}))
        );
        assert!(placeholder_fields(SyncObject::Lead, &chat, &defaults()).is_empty());
    }

    #[test]
    fn inbox_contacts_bring_their_own_names() {
        let conversation = example(5);
        assert_eq!(
            person_of(&conversation),
            Person {
                name: Some("Okafor".into()),
                email: Some("c.okafor@initech.example".into()),
                phone: Some("+44 20 7946 0958".into()),
                company: Some("Initech".into()),
            }
        );
        assert_eq!(
            person_fields(SyncObject::Lead, &conversation, &defaults()),
            fields(
                json!({"LastName": "Okafor", "Email": "c.okafor@initech.example",
                          "Phone": "+44 20 7946 0958", "Company": "Initech"})
            )
        );
    }

    #[test]
    fn values_are_trimmed_and_blank_ones_left_out() {
        let chat = chat_ended(
            r#""visitor":{"name":"  Jane Doe ","email":" \t","phone":"","company":" Acme\n"}"#,
        );
        assert_eq!(
            person_of(&chat),
            Person {
                name: Some("Jane Doe".into()),
                company: Some("Acme".into()),
                ..Person::default()
            }
        );
        assert_eq!(
            person_fields(SyncObject::Lead, &chat, &defaults()),
            fields(json!({"LastName": "Jane Doe", "Company": "Acme"}))
        );
    }

    #[test]
    fn required_fields_get_placeholders() {
        let email_only = chat_ended(r#""visitor":{"email":" sam.lee@globex.example "}"#);
        assert_eq!(
            person_fields(SyncObject::Lead, &email_only, &defaults()),
            fields(
                json!({"Email": "sam.lee@globex.example", "LastName": "sam.lee",
                          "Company": UNKNOWN_COMPANY})
            )
        );
        assert_eq!(
            placeholder_fields(SyncObject::Lead, &email_only, &defaults()),
            ["LastName", "Company"]
        );
        let nothing = chat_ended(r#""visitor":{"phone":"+1 555","email":"@example.com"}"#);
        assert_eq!(
            person_fields(SyncObject::Contact, &nothing, &defaults()),
            fields(json!({"Email": "@example.com", "Phone": "+1 555",
                          "LastName": UNKNOWN_VISITOR}))
        );
        assert_eq!(
            placeholder_fields(SyncObject::Contact, &nothing, &defaults()),
            ["LastName"]
        );
        // Unmapped or mapped to a missing value, a required field still gets its placeholder.
        let unmapped =
            settings(r#"{"Contact": {"LastName": null}, "Lead": {"Company": "custom.missing"}}"#);
        let chat = example(1);
        assert_eq!(
            person_fields(SyncObject::Contact, &chat, &unmapped)["LastName"],
            "jane"
        );
        assert_eq!(
            person_fields(SyncObject::Lead, &chat, &unmapped)["Company"],
            UNKNOWN_COMPANY
        );
        assert_eq!(
            placeholder_fields(SyncObject::Lead, &chat, &unmapped),
            ["Company"]
        );
    }

    #[test]
    fn the_tenant_mapping_replaces_adds_and_unmaps() {
        let tenant = settings(
            r#"{"Lead": {"LastName": "custom.plan", "Phone": null, "LeadSource": "literal:Web Chat",
                         "Industry": "custom.industry", "Website": "chat.request_page"},
                "Contact": {"email": "literal:fixed@example.com", "Title": "literal:"}}"#,
        );
        let chat = example(1);
        let lead = person_fields(SyncObject::Lead, &chat, &tenant);
        // Replaced in place, unmapped removed, added ones after the defaults (by name).
        assert_eq!(
            lead,
            fields(
                json!({"LastName": "enterprise", "Email": "jane@acme.example",
                          "Company": "Acme", "Industry": "Manufacturing",
                          "LeadSource": "Web Chat", "Website": "https://acme.example/pricing"})
            )
        );
        // Names match case-insensitively; an empty literal is no value.
        let contact = person_fields(SyncObject::Contact, &chat, &tenant);
        assert_eq!(
            contact,
            fields(json!({"LastName": "Jane Doe", "Email": "fixed@example.com",
                          "Phone": "+1 415 555 0100"}))
        );
    }

    #[test]
    fn every_source_reads_its_value() {
        let tenant = settings(
            r#"{"Contact": {"Name__c": "visitor.name", "Email__c": "visitor.email",
                "Phone__c": "visitor.phone", "Company__c": "visitor.company",
                "Chat__c": "chat.id", "Channel__c": "chat.channel",
                "Page__c": "chat.request_page", "Note__c": "chat.note",
                "Wrap__c": "chat.wrap_up", "Lit__c": "literal:  as is "}}"#,
        );
        let chat = person_fields(SyncObject::Contact, &example(1), &tenant);
        let extra: Vec<(&str, &Value)> =
            chat.iter().skip(3).map(|(k, v)| (k.as_str(), v)).collect();
        assert_eq!(
            extra,
            [
                ("Channel__c", &json!("webchat")),
                ("Chat__c", &json!("chat-1001")),
                ("Company__c", &json!("Acme")),
                ("Email__c", &json!("jane@acme.example")),
                ("Lit__c", &json!("as is")),
                ("Name__c", &json!("Jane Doe")),
                ("Note__c", &json!("Invoice 4411 had the wrong VAT rate")),
                ("Page__c", &json!("https://acme.example/pricing")),
                ("Phone__c", &json!("+1 415 555 0100")),
                ("Wrap__c", &json!("Billing > Invoice correction")),
            ]
        );
        // A started conversation has no note, wrap-up or page: those fields are left out.
        let started = person_fields(SyncObject::Contact, &example(4), &tenant);
        assert_eq!(
            names(&started),
            [
                "LastName",
                "Email",
                "Phone",
                "Channel__c",
                "Chat__c",
                "Company__c",
                "Email__c",
                "Lit__c",
                "Name__c",
                "Phone__c"
            ]
        );
        assert_eq!(started["Name__c"], "Okafor");
        assert_eq!(started["Phone__c"], "+44 20 7946 0958");
    }

    #[test]
    fn custom_values_come_from_fields_then_variables() {
        let chat = chat_ended(
            r#""visitor":{"name":"Jane"},
               "custom_fields":{"a":"from field","n":null,"num":42.5,"flag":true,
                                "list":[1,"x"],"blank":"  "},
               "custom_variables":{"a":"from variable","n":"variable","only":"only variable",
                                   "blank":"variable too","obj":{"k":"v"}}"#,
        );
        let tenant = settings(
            r#"{"Contact": {"A__c": "custom.a", "N__c": "custom.n", "Num__c": "custom.num",
                "Flag__c": "custom.flag", "List__c": "custom.list", "Only__c": "custom.only",
                "Blank__c": "custom.blank", "Obj__c": "custom.obj", "None__c": "custom.none"}}"#,
        );
        let contact = person_fields(SyncObject::Contact, &chat, &tenant);
        assert_eq!(
            contact,
            fields(json!({"LastName": "Jane", "A__c": "from field",
                          "Blank__c": "variable too", "Flag__c": "true",
                          "List__c": "[1,\"x\"]", "N__c": "variable", "Num__c": "42.5",
                          "Obj__c": "{\"k\":\"v\"}", "Only__c": "only variable"}))
        );
    }

    #[test]
    fn case_fields_for_each_kind() {
        let conversation = activity_fields(SyncObject::Case, &example(5), &defaults());
        assert_eq!(conversation.transcript_file, None);
        let mut case = conversation.fields;
        assert!(case
            .remove("Description")
            .unwrap()
            .as_str()
            .unwrap()
            .starts_with("Conversation ID: conv-3001\n"));
        assert_eq!(
            case,
            fields(
                json!({"Subject": "Inbox conversation (email) with Okafor — CloudCX tenant demo",
                          "Origin": "Email", "SuppliedName": "Okafor",
                          "SuppliedEmail": "c.okafor@initech.example",
                          "SuppliedPhone": "+44 20 7946 0958", "SuppliedCompany": "Initech"})
            )
        );
        let offline = activity_fields(SyncObject::Case, &example(3), &defaults()).fields;
        assert_eq!(
            offline["Subject"],
            "Web Chat offline message (webchat) from Sam Lee — CloudCX tenant demo"
        );
        assert_eq!(offline["Origin"], "Web");
        assert!(!offline.contains_key("SuppliedPhone"));
        // Only the Inbox's email channel is an email origin.
        let whatsapp = event(
            r#"{"type":"inbox.conversation_started","tenant_id":"t","id":"w-1","channel":"whatsapp",
                "at":"2026-11-24T09:00:00Z","contact":{},"started_at":"2026-11-24T09:00:00Z"}"#,
        );
        let case = activity_fields(SyncObject::Case, &whatsapp, &defaults()).fields;
        assert_eq!(case["Origin"], "Web");
        assert_eq!(
            case["Subject"],
            "Inbox conversation (whatsapp) with unknown visitor — CloudCX tenant t"
        );
        let email_chat = chat_ended(r#""visitor":{"email":"a@b.example"}"#);
        let mut email_chat = email_chat;
        email_chat.channel = "email".into();
        let case = activity_fields(SyncObject::Case, &email_chat, &defaults()).fields;
        assert_eq!(case["Origin"], "Web");
        assert_eq!(
            case["Subject"],
            "Web Chat (email) with a@b.example — CloudCX tenant acme"
        );
    }

    #[test]
    fn task_status_and_date() {
        let task = |e: &Event| activity_fields(SyncObject::Task, e, &defaults()).fields;
        for (index, status) in [
            (0, "In Progress"),
            (1, "Completed"),
            (3, "Completed"),
            (4, "In Progress"),
            (5, "Completed"),
        ] {
            let fields = task(&example(index));
            assert_eq!(fields["Status"], status, "example {index}");
            assert_eq!(fields["ActivityDate"], "2026-11-24", "example {index}");
            assert_eq!(
                names(&fields),
                ["Subject", "Status", "ActivityDate", "Description"]
            );
        }
        // The UTC date of the start; without a start, of the end; then of the event.
        let late = chat_ended(
            r#""visitor":{},"started_at":"2026-11-25T01:30:00+05:00","ended_at":"2026-11-25T09:00:00Z""#,
        );
        assert_eq!(task(&late)["ActivityDate"], "2026-11-24");
        let no_start = chat_ended(r#""visitor":{},"ended_at":"2026-11-26T23:59:59-01:00""#);
        assert_eq!(task(&no_start)["ActivityDate"], "2026-11-27");
        let no_times = chat_ended(r#""visitor":{}"#);
        assert_eq!(task(&no_times)["ActivityDate"], "2026-11-24");
    }

    #[test]
    fn activity_mapping_overrides() {
        let tenant = settings(
            r#"{"Case": {"Origin": "literal:Chat", "SuppliedPhone": null, "Priority": "literal:High",
                         "Subject": "chat.wrap_up"},
                "Task": {"Description": null, "Status": "literal:Waiting on someone else"}}"#,
        );
        let chat = example(1);
        let case = activity_fields(SyncObject::Case, &chat, &tenant).fields;
        assert_eq!(
            names(&case),
            [
                "Subject",
                "Origin",
                "SuppliedName",
                "SuppliedEmail",
                "SuppliedCompany",
                "Description",
                "Priority"
            ]
        );
        assert_eq!(case["Subject"], "Billing > Invoice correction");
        assert_eq!(case["Origin"], "Chat");
        assert_eq!(case["Priority"], "High");
        let task = activity_fields(SyncObject::Task, &chat, &tenant).fields;
        assert_eq!(names(&task), ["Subject", "Status", "ActivityDate"]);
        assert_eq!(task["Status"], "Waiting on someone else");
    }

    #[test]
    fn the_transcript_file_goes_only_with_our_description() {
        let long = chat_ended(&format!(
            r#""visitor":{{"name":"Jane"}},"messages":[{{"from":"visitor","text":"{}"}}]"#,
            "x".repeat(40_000)
        ));
        let ours = activity_fields(SyncObject::Case, &long, &defaults());
        let file = ours.transcript_file.unwrap();
        assert_eq!(file.name, "transcript-c-1.txt");
        assert!(file.content.contains(&"x".repeat(40_000)));
        let replaced = settings(r#"{"Case": {"Description": "chat.note"}}"#);
        let theirs = activity_fields(SyncObject::Case, &long, &replaced);
        assert_eq!(theirs.transcript_file, None);
        assert!(!theirs.fields.contains_key("Description"));
    }

    #[test]
    fn subjects_stay_within_255() {
        let subject = |name: &str| {
            let chat = chat_ended(&format!(r#""visitor":{{"name":"{name}"}}"#));
            let fields = activity_fields(SyncObject::Task, &chat, &defaults()).fields;
            fields["Subject"].as_str().unwrap().to_string()
        };
        let even = subject(&"🎉".repeat(200));
        assert_eq!(utf16_len(&even), 255);
        assert!(even.starts_with("Web Chat (webchat) with 🎉🎉"));
        assert!(even.ends_with("🎉…"));
        // An emoji is two UTF-16 units: one that would end at 255 is left out whole.
        let odd = subject(&format!("a{}", "🎉".repeat(200)));
        assert_eq!(utf16_len(&odd), 254);
        assert!(odd.ends_with("🎉…"));
        assert_eq!(
            subject("Jane"),
            "Web Chat (webchat) with Jane — CloudCX tenant acme"
        );
    }

    #[test]
    fn fit_lengths_cuts_by_utf16_units_with_a_marker() {
        let mut fields = fields(json!({
            "LastName": "é".repeat(100),
            "Email": "jane@acme.example",
            "Description": "🎉".repeat(50),
            "Long__c": "y".repeat(3_000),
            "Phone": "+1 415 555 0100 ext 99",
            "Count__c": 12345,
            "Free__c": "z".repeat(500),
        }));
        let limits = |name: &str| match name {
            "LastName" | "Email" => Some(80),
            "Description" => Some(60),
            "Long__c" => Some(255),
            "Phone" => Some(10),
            "Count__c" => Some(1),
            _ => None,
        };
        let notes = fit_lengths(&mut fields, &limits);
        assert_eq!(
            fields["LastName"],
            format!("{}… [cut by CloudCX: 59 more characters]", "é".repeat(41))
        );
        assert_eq!(fields["Email"], "jane@acme.example");
        // 50 emoji are 100 UTF-16 units: 10 of them fit before the marker.
        assert_eq!(
            fields["Description"],
            format!("{}… [cut by CloudCX: 80 more characters]", "🎉".repeat(10))
        );
        assert_eq!(
            fields["Long__c"],
            format!(
                "{}… [cut by CloudCX: 2,786 more characters]",
                "y".repeat(214)
            )
        );
        // Too short for the marker: a bare ellipsis.
        assert_eq!(fields["Phone"], "+1 415 55…");
        assert_eq!(fields["Count__c"], 12345);
        assert_eq!(fields["Free__c"], "z".repeat(500));
        for (name, limit) in [
            ("LastName", 80),
            ("Description", 60),
            ("Long__c", 255),
            ("Phone", 10),
        ] {
            assert!(utf16_len(fields[name].as_str().unwrap()) <= limit, "{name}");
        }
        assert_eq!(
            notes,
            [
                "LastName was cut from 100 to 80 characters, its length in Salesforce.",
                "Description was cut from 100 to 60 characters, its length in Salesforce.",
                "Long__c was cut from 3,000 to 255 characters, its length in Salesforce.",
                "Phone was cut from 22 to 10 characters, its length in Salesforce.",
            ]
        );
        let mut empty = fields_of_one("Name", "abc");
        assert_eq!(fit_lengths(&mut empty, &|_| Some(0)).len(), 1);
        assert_eq!(empty["Name"], "");
    }

    fn fields_of_one(name: &str, value: &str) -> Fields {
        let mut fields = Fields::new();
        fields.insert(name.into(), json!(value));
        fields
    }
}
