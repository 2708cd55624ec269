//! A tenant's settings (host contract §2): decoded, checked, defaults applied.
//!
//! Unknown keys are errors (an admin's typo must not be silently ignored). Each top-level
//! section is checked on its own, so one pass reports every section's first error, each with
//! its JSON path. Field names are checked for shape here; whether the org has them is checked
//! against Salesforce's describe once the tenant is connected.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::config::HostConfig;
use crate::decode::{self, DecodeError};
use crate::oauth::{ConnectionSection, ConnectionSettings};

const MAX_SETTINGS_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct TenantSettings {
    pub connection: ConnectionSettings,
    pub mode: Mode,
    pub webchat: WebchatSettings,
    pub inbox: InboxSettings,
    pub on_match: OnMatch,
    pub max_api_usage_percent: u8,
    pub identification: Identification,
    /// Per object, Salesforce field → source, over the defaults (`None` unmaps a default).
    pub field_mapping: BTreeMap<SyncObject, BTreeMap<FieldName, Option<Source>>>,
    pub display_fields: BTreeMap<ShownObject, Vec<FieldPath>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Automatic,
    Manual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatTrigger {
    ChatStarted,
    ChatEnded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationTrigger {
    ConversationStarted,
    ConversationEnded,
}

/// What a chat or conversation becomes in Salesforce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    ContactCase,
    LeadTask,
    Case,
    ContactTask,
    Nothing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnMatch {
    Keep,
    Overwrite,
    FillEmpty,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
pub struct WebchatSettings {
    #[serde(default = "chat_ended")]
    pub trigger: ChatTrigger,
    #[serde(default = "contact_case")]
    pub action: Action,
    #[serde(default = "lead_task")]
    pub offline_message_action: Action,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
pub struct InboxSettings {
    #[serde(default = "conversation_ended")]
    pub trigger: ConversationTrigger,
    #[serde(default = "contact_case")]
    pub action: Action,
}

/// Ordered rules per object: a rule is fields that must all equal the visitor's values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object")]
pub struct Identification {
    #[serde(default = "by_email")]
    pub contact: Vec<Rule>,
    #[serde(default = "by_email")]
    pub lead: Vec<Rule>,
    #[serde(default = "by_name")]
    pub account: Vec<Rule>,
}

/// One identification rule: a non-empty list of fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule(pub Vec<FieldName>);

impl<'de> Deserialize<'de> for Rule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let fields = Vec::<FieldName>::deserialize(d)?;
        if fields.is_empty() {
            return Err(serde::de::Error::custom("must list at least one field"));
        }
        Ok(Rule(fields))
    }
}

/// A Salesforce field's API name (`Email`, `Customer_Id__c`). Only letters, digits and
/// underscores: it goes into SOQL, where names cannot be quoted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct FieldName(pub String);

impl<'de> Deserialize<'de> for FieldName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        check_api_name(&name).map_err(serde::de::Error::custom)?;
        Ok(FieldName(name))
    }
}

/// A field or a parent's field (`Account.Name`), for the customer view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct FieldPath(pub String);

impl<'de> Deserialize<'de> for FieldPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let path = String::deserialize(d)?;
        let parts: Vec<&str> = path.split('.').collect();
        if parts.len() > 5 || parts.iter().any(|part| check_api_name(part).is_err()) {
            return Err(serde::de::Error::custom(format!(
                "must be a field name or a parent's field such as Account.Name, at most 5 levels deep (found \"{path}\")"
            )));
        }
        Ok(FieldPath(path))
    }
}

fn check_api_name(name: &str) -> Result<(), String> {
    let valid = name.len() <= 80
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.contains("___");
    if valid {
        Ok(())
    } else {
        Err(format!(
            "must be a Salesforce field name: letters, digits and underscores, starting with a letter (found \"{name}\")"
        ))
    }
}

/// The objects the integration writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum SyncObject {
    Lead,
    Contact,
    Case,
    Task,
}

/// The objects the customer view can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum ShownObject {
    Contact,
    Lead,
    Account,
    Case,
    Task,
}

/// Object names are map keys here: decoded from strings, so error paths can name the key.
macro_rules! object_names {
    ($ty:ident: $($name:ident),+) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let name = String::deserialize(d)?;
                match name.as_str() {
                    $(stringify!($name) => Ok($ty::$name),)+
                    _ => Err(serde::de::Error::custom(format!(
                        "is not an object here: use one of {} (found \"{name}\")",
                        [$(stringify!($name)),+].join(", ")
                    ))),
                }
            }
        }
    };
}

object_names!(SyncObject: Lead, Contact, Case, Task);
object_names!(ShownObject: Contact, Lead, Account, Case, Task);

/// Where a mapped field's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `visitor.name|email|phone|company` (an Inbox contact's last_name, email, cell_phone,
    /// company_name).
    Visitor(VisitorField),
    /// `chat.id|channel|request_page|note|wrap_up`
    Chat(ChatField),
    /// `custom.NAME`: a custom field or custom variable of the chat.
    Custom(String),
    /// `literal:TEXT`
    Literal(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisitorField {
    Name,
    Email,
    Phone,
    Company,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatField {
    Id,
    Channel,
    RequestPage,
    Note,
    WrapUp,
}

impl Source {
    pub fn parse(text: &str) -> Result<Source, String> {
        if let Some(literal) = text.strip_prefix("literal:") {
            return Ok(Source::Literal(literal.to_string()));
        }
        if let Some(name) = text.strip_prefix("custom.") {
            if name.trim().is_empty() {
                return Err("must name the custom field or variable after \"custom.\"".into());
            }
            return Ok(Source::Custom(name.to_string()));
        }
        let source = match text {
            "visitor.name" => Source::Visitor(VisitorField::Name),
            "visitor.email" => Source::Visitor(VisitorField::Email),
            "visitor.phone" => Source::Visitor(VisitorField::Phone),
            "visitor.company" => Source::Visitor(VisitorField::Company),
            "chat.id" => Source::Chat(ChatField::Id),
            "chat.channel" => Source::Chat(ChatField::Channel),
            "chat.request_page" => Source::Chat(ChatField::RequestPage),
            "chat.note" => Source::Chat(ChatField::Note),
            "chat.wrap_up" => Source::Chat(ChatField::WrapUp),
            _ => {
                return Err(format!(
                    "must be visitor.name|email|phone|company, chat.id|channel|request_page|note|wrap_up, \
                     custom.NAME or literal:TEXT (found \"{text}\")"
                ))
            }
        };
        Ok(source)
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Visitor(v) => write!(f, "visitor.{}", format!("{v:?}").to_lowercase()),
            Source::Chat(ChatField::RequestPage) => f.write_str("chat.request_page"),
            Source::Chat(ChatField::WrapUp) => f.write_str("chat.wrap_up"),
            Source::Chat(c) => write!(f, "chat.{}", format!("{c:?}").to_lowercase()),
            Source::Custom(name) => write!(f, "custom.{name}"),
            Source::Literal(text) => write!(f, "literal:{text}"),
        }
    }
}

impl<'de> Deserialize<'de> for Source {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Source::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Source {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl TenantSettings {
    /// Decodes and checks a tenant's settings, reporting every section's error.
    pub fn parse(json: &str, host: &HostConfig) -> Result<TenantSettings, Vec<DecodeError>> {
        let value = decode::parse_json(json.as_bytes(), MAX_SETTINGS_BYTES).map_err(|e| vec![e])?;
        let Value::Object(top) = value else {
            return Err(vec![DecodeError::new("", "must be a JSON object")]);
        };
        let mut errors = Vec::new();
        for key in top.keys() {
            if !KNOWN_KEYS.contains(&key.as_str()) {
                errors.push(DecodeError::new(
                    key.clone(),
                    format!(
                        "is not a known setting (expected one of {})",
                        KNOWN_KEYS.join(", ")
                    ),
                ));
            }
        }
        let connection = match top.get("connection") {
            None | Some(Value::Null) => {
                errors.push(DecodeError::new("connection", "is required"));
                None
            }
            Some(_) => section::<ConnectionSection>(&top, "connection", &mut errors)
                .and_then(|s| s.resolve(host).map_err(|e| errors.push(e)).ok()),
        };
        let settings = (
            connection,
            section_or(&top, "mode", Mode::Automatic, &mut errors),
            section_or(&top, "webchat", default_webchat(), &mut errors),
            section_or(&top, "inbox", default_inbox(), &mut errors),
            section_or(&top, "on_match", OnMatch::FillEmpty, &mut errors),
            section_or(&top, "max_api_usage_percent", Percent(90), &mut errors),
            section_or(
                &top,
                "identification",
                default_identification(),
                &mut errors,
            ),
            section_or(&top, "field_mapping", BTreeMap::new(), &mut errors),
            section_or(&top, "display_fields", BTreeMap::new(), &mut errors),
        );
        match settings {
            (
                Some(connection),
                mode,
                webchat,
                inbox,
                on_match,
                percent,
                identification,
                field_mapping,
                display_fields,
            ) if errors.is_empty() => Ok(TenantSettings {
                connection,
                mode,
                webchat,
                inbox,
                on_match,
                max_api_usage_percent: percent.0,
                identification,
                field_mapping,
                display_fields,
            }),
            _ => Err(errors),
        }
    }

    /// The fields the customer view shows for an object: the tenant's, or the defaults.
    pub fn shown_fields(&self, object: ShownObject) -> Vec<FieldPath> {
        self.display_fields
            .get(&object)
            .cloned()
            .unwrap_or_else(|| {
                let defaults: &[&str] = match object {
                    ShownObject::Contact => &["Name", "Email", "Phone", "Account.Name"],
                    ShownObject::Lead => &["Name", "Email", "Company", "Status"],
                    ShownObject::Account => &["Name"],
                    ShownObject::Case => &["CaseNumber", "Subject", "Status"],
                    ShownObject::Task => &["Subject", "Status", "ActivityDate"],
                };
                defaults.iter().map(|f| FieldPath(f.to_string())).collect()
            })
    }

    /// The settings as applied, defaults filled in, secrets left out: the answer to the host.
    pub fn applied_json(&self) -> Value {
        serde_json::json!({
            "connection": {
                "app": self.connection.app,
                "login_url": self.connection.login_url.as_str(),
                "crm_url": self.connection.crm_url.as_ref().map(|u| u.as_str()),
                "pkce": self.connection.pkce,
            },
            "mode": self.mode,
            "webchat": self.webchat,
            "inbox": self.inbox,
            "on_match": self.on_match,
            "max_api_usage_percent": self.max_api_usage_percent,
            "identification": self.identification,
            "field_mapping": self.field_mapping,
            "display_fields": self.display_fields,
        })
    }
}

const KNOWN_KEYS: [&str; 9] = [
    "connection",
    "mode",
    "webchat",
    "inbox",
    "on_match",
    "max_api_usage_percent",
    "identification",
    "field_mapping",
    "display_fields",
];

/// A share of the org's daily API limit, 1 to 100.
struct Percent(u8);

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u64::deserialize(d)?;
        match u8::try_from(n) {
            Ok(p) if (1..=100).contains(&p) => Ok(Percent(p)),
            _ => Err(serde::de::Error::custom(format!(
                "must be between 1 and 100 (found {n})"
            ))),
        }
    }
}

/// Decodes one top-level section, prefixing error paths with its key.
fn section<T: for<'de> Deserialize<'de>>(
    top: &Map<String, Value>,
    key: &str,
    errors: &mut Vec<DecodeError>,
) -> Option<T> {
    let value = top.get(key)?;
    decode::from_value(value)
        .map_err(|e| {
            let path = if e.path.is_empty() {
                key.to_string()
            } else {
                format!("{key}.{}", e.path)
            };
            errors.push(DecodeError::new(path, e.problem));
        })
        .ok()
}

/// A section, or its default when absent or null.
fn section_or<T: for<'de> Deserialize<'de>>(
    top: &Map<String, Value>,
    key: &str,
    default: T,
    errors: &mut Vec<DecodeError>,
) -> T {
    match top.get(key) {
        None | Some(Value::Null) => default,
        Some(_) => section(top, key, errors).unwrap_or(default),
    }
}

fn chat_ended() -> ChatTrigger {
    ChatTrigger::ChatEnded
}
fn conversation_ended() -> ConversationTrigger {
    ConversationTrigger::ConversationEnded
}
fn contact_case() -> Action {
    Action::ContactCase
}
fn lead_task() -> Action {
    Action::LeadTask
}
fn by_email() -> Vec<Rule> {
    vec![Rule(vec![FieldName("Email".into())])]
}
fn by_name() -> Vec<Rule> {
    vec![Rule(vec![FieldName("Name".into())])]
}
fn default_webchat() -> WebchatSettings {
    WebchatSettings {
        trigger: chat_ended(),
        action: contact_case(),
        offline_message_action: lead_task(),
    }
}
fn default_inbox() -> InboxSettings {
    InboxSettings {
        trigger: conversation_ended(),
        action: contact_case(),
    }
}
fn default_identification() -> Identification {
    Identification {
        contact: by_email(),
        lead: by_email(),
        account: by_name(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> HostConfig {
        crate::config::parse(
            r#"{"state_dir": "/tmp/x", "redirect_url": "http://127.0.0.1:8765/callback"}"#,
        )
        .unwrap()
    }

    const CONNECTION: &str = r#""connection": {"app": "custom", "client_id": "id", "client_secret": "s3cret",
        "login_url": "https://login.salesforce.com/"}"#;

    fn errors(json: &str) -> Vec<String> {
        TenantSettings::parse(json, &host())
            .unwrap_err()
            .iter()
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn the_example_settings_parse() {
        let text = include_str!("../../examples/settings.json");
        let settings = TenantSettings::parse(text, &host()).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(settings.webchat.action, Action::ContactCase);
        assert_eq!(settings.inbox.action, Action::ContactTask);
        assert_eq!(settings.identification.contact.len(), 2);
        assert_eq!(
            settings.field_mapping[&SyncObject::Lead][&FieldName("LeadSource".into())],
            Some(Source::Literal("Web Chat".into()))
        );
    }

    #[test]
    fn defaults_fill_what_is_left_out() {
        let settings = TenantSettings::parse(&format!("{{{CONNECTION}}}"), &host()).unwrap();
        assert_eq!(settings.mode, Mode::Automatic);
        assert_eq!(settings.webchat, default_webchat());
        assert_eq!(settings.on_match, OnMatch::FillEmpty);
        assert_eq!(settings.max_api_usage_percent, 90);
        assert_eq!(settings.identification, default_identification());
        assert_eq!(
            settings.shown_fields(ShownObject::Lead)[2],
            FieldPath("Company".into())
        );
        let applied = settings.applied_json().to_string();
        assert!(!applied.contains("s3cret"), "{applied}");
        assert!(applied.contains(r#""on_match":"fill_empty""#), "{applied}");
    }

    #[test]
    fn every_section_reports_its_error_by_path() {
        let found = errors(&format!(
            r#"{{{CONNECTION}, "mode": "auto", "webchat": {{"trigger": "chat_ended", "acton": "case"}},
               "max_api_usage_percent": 0,
               "identification": {{"contact": [["Email"], []], "lead": [["E-mail"]]}},
               "field_mapping": {{"Lead": {{"Industry": "custom."}}, "Opportunity": {{}}}},
               "display_fields": {{"Contact": ["Account..Name"]}},
               "on_mach": "keep"}}"#
        ));
        assert_eq!(
            found,
            [
                "on_mach is not a known setting (expected one of connection, mode, webchat, inbox, on_match, max_api_usage_percent, identification, field_mapping, display_fields)",
                "mode must be automatic or manual (found \"auto\")",
                "webchat.acton is not a known field (expected one of trigger, action, offline_message_action)",
                "max_api_usage_percent must be between 1 and 100 (found 0)",
                "identification.contact[1] must list at least one field",
                "field_mapping.Lead.Industry must name the custom field or variable after \"custom.\"",
                "display_fields.Contact[0] must be a field name or a parent's field such as Account.Name, at most 5 levels deep (found \"Account..Name\")",
            ]
        );
        assert_eq!(
            errors(&format!(r#"{{{CONNECTION}, "field_mapping": {{"Opportunity": {{}}}}}}"#)),
            ["field_mapping.Opportunity is not an object here: use one of Lead, Contact, Case, Task (found \"Opportunity\")"]
        );
        assert_eq!(errors(r#"{"mode": "manual"}"#), ["connection is required"]);
        assert_eq!(
            errors(r#"{"connection": {"app": "default"}}"#),
            ["connection.app is default, but this CloudCX host has no default connected app: choose custom and give client_id, client_secret and login_url"]
        );
    }

    #[test]
    fn sources_round_trip() {
        for text in [
            "visitor.email",
            "chat.wrap_up",
            "chat.request_page",
            "custom.plan",
            "literal:Web Chat",
        ] {
            assert_eq!(Source::parse(text).unwrap().to_string(), text);
        }
        assert!(Source::parse("visitor.age").is_err());
    }
}
