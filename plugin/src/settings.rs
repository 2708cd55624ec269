//! A tenant's settings (host contract §2): decoded, checked, defaults applied.
//!
//! Unknown keys are errors (an admin's typo must not be silently ignored). One pass reports
//! every error, each with its JSON path: serde stops at the first, so the document's structure
//! is walked here ([`Check`]) and serde decodes its values one by one. Field names are checked
//! for shape here; whether the org has them is checked against Salesforce's describe once the
//! tenant is connected.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::config::HostConfig;
use crate::decode::{self, listed, DecodeError};
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Automatic,
    Manual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatTrigger {
    ChatStarted,
    ChatEnded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationTrigger {
    ConversationStarted,
    ConversationEnded,
}

/// What a chat or conversation becomes in Salesforce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    ContactCase,
    LeadTask,
    Case,
    ContactTask,
    Nothing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnMatch {
    Keep,
    Overwrite,
    FillEmpty,
}

choice!(Mode: Automatic = "automatic", Manual = "manual");
choice!(ChatTrigger: ChatStarted = "chat_started", ChatEnded = "chat_ended");
choice!(
    ConversationTrigger: ConversationStarted = "conversation_started",
    ConversationEnded = "conversation_ended"
);
choice!(
    Action: ContactCase = "contact_case",
    LeadTask = "lead_task",
    Case = "case",
    ContactTask = "contact_task",
    Nothing = "nothing"
);
choice!(OnMatch: Keep = "keep", Overwrite = "overwrite", FillEmpty = "fill_empty");

/// A setting with a fixed set of values, written by name (`"fill_empty"`).
pub(crate) trait Choice: Sized {
    /// The names, in the order errors list them.
    const NAMES: &'static [&'static str];

    fn from_name(name: &str) -> Option<Self>;
}

/// Implements [`Choice`], `Serialize` and `Deserialize` for an enum from its values' names
/// (every variant, or it does not compile).
macro_rules! choice {
    ($ty:ident: $($variant:ident = $name:literal),+ $(,)?) => {
        impl $crate::settings::Choice for $ty {
            const NAMES: &'static [&'static str] = &[$($name),+];

            fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($name => Some($ty::$variant),)+
                    _ => None,
                }
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(match self {
                    $($ty::$variant => $name,)+
                })
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::settings::deserialize_choice(d)
            }
        }
    };
}
pub(crate) use choice;

/// A [`Choice`] by its name. Any other value, of whatever type, is refused with every name
/// listed: `must be keep, overwrite or fill_empty (found "kep")`, `must be chat_started or
/// chat_ended (found integer `5`)`.
pub(crate) fn deserialize_choice<'de, D: Deserializer<'de>, T: Choice>(
    d: D,
) -> Result<T, D::Error> {
    struct Names<T>(std::marker::PhantomData<T>);

    impl<T: Choice> serde::de::Visitor<'_> for Names<T> {
        type Value = T;

        // serde's "invalid type" errors read "expected <this>"; decode words them "must be ...".
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&listed(T::NAMES))
        }

        fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<T, E> {
            T::from_name(name).ok_or_else(|| {
                E::custom(format!("must be {} (found \"{name}\")", listed(T::NAMES)))
            })
        }
    }

    d.deserialize_str(Names(std::marker::PhantomData))
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identification {
    pub contact: Vec<Rule>,
    pub lead: Vec<Rule>,
    pub account: Vec<Rule>,
}

/// One identification rule: a non-empty list of fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule(pub Vec<FieldName>);

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
                        "is not an object here: use {} (found \"{name}\")",
                        listed(&[$(stringify!($name)),+])
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
    /// Decodes and checks a tenant's settings, reporting every error.
    pub fn parse(json: &str, host: &HostConfig) -> Result<TenantSettings, Vec<DecodeError>> {
        let value = decode::parse_json(json.as_bytes(), MAX_SETTINGS_BYTES).map_err(|e| vec![e])?;
        let Value::Object(top) = value else {
            return Err(vec![DecodeError::new("", "must be a JSON object")]);
        };
        let mut check = Check::default();
        check.unknown_keys("", &top, &KNOWN_KEYS, "setting");
        let connection = match top.get("connection") {
            None | Some(Value::Null) => {
                check.push("connection", "is required");
                None
            }
            Some(value) => check
                .flat::<ConnectionSection>("connection", value)
                .and_then(|s| s.resolve(host).map_err(|e| check.0.push(e)).ok()),
        };
        let mode = check.section(&top, "mode", Mode::Automatic, Check::decode);
        let webchat = check.section(&top, "webchat", default_webchat(), Check::flat);
        let inbox = check.section(&top, "inbox", default_inbox(), Check::flat);
        let on_match = check.section(&top, "on_match", OnMatch::FillEmpty, Check::decode);
        let percent = check.section(&top, "max_api_usage_percent", Percent(90), Check::decode);
        let identification = check.section(
            &top,
            "identification",
            default_identification(),
            identification,
        );
        let field_mapping = check.section(&top, "field_mapping", BTreeMap::new(), |check, p, v| {
            check.entries(p, v, |check, p, v| check.entries(p, v, Check::decode))
        });
        let display_fields =
            check.section(&top, "display_fields", BTreeMap::new(), |check, p, v| {
                check.entries(p, v, |check, p, v| check.array(p, v, Check::decode))
            });
        match connection {
            Some(connection) if check.0.is_empty() => Ok(TenantSettings {
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
            _ => Err(check.0),
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

/// The errors found so far, each with its JSON path. Its methods walk the document's
/// structure, reporting every error; each answers `None` when its part had one.
#[derive(Default)]
struct Check(Vec<DecodeError>);

impl Check {
    fn push(&mut self, path: impl Into<String>, problem: impl Into<String>) {
        self.0.push(DecodeError::new(path, problem));
    }

    /// A top-level section, or its default when absent or null.
    fn section<T>(
        &mut self,
        top: &Map<String, Value>,
        key: &str,
        default: T,
        read: impl FnOnce(&mut Check, &str, &Value) -> Option<T>,
    ) -> T {
        match top.get(key) {
            None | Some(Value::Null) => default,
            Some(value) => read(self, key, value).unwrap_or(default),
        }
    }

    /// `value` decoded by serde: its first error is its only one.
    fn decode<T: DeserializeOwned>(&mut self, path: &str, value: &Value) -> Option<T> {
        decode::from_value(value)
            .map_err(|e| self.push(join(path, &e.path), e.problem))
            .ok()
    }

    /// An object of plain values (a struct refusing unknown fields), every bad key reported:
    /// serde stops at the first error, so the key it names is reported and left out, and the
    /// rest decoded again.
    fn flat<T: DeserializeOwned>(&mut self, path: &str, value: &Value) -> Option<T> {
        let mut fields = self.as_object(path, value)?.clone();
        let mut left_out: Vec<String> = Vec::new();
        loop {
            let e = match decode::from_value(&Value::Object(fields.clone())) {
                Ok(section) => return left_out.is_empty().then_some(section),
                Err(e) => e,
            };
            let key = e.path.split(['.', '[']).next().unwrap_or_default();
            if left_out.iter().any(|k| k == key) {
                // Required, and reported as bad already.
                return None;
            }
            self.push(join(path, &e.path), e.problem.clone());
            // Not there: a required field missing, or an error of the whole object.
            fields.shift_remove(key)?;
            left_out.push(key.to_string());
        }
    }

    fn as_object<'v>(&mut self, path: &str, value: &'v Value) -> Option<&'v Map<String, Value>> {
        let object = value.as_object();
        if object.is_none() {
            // serde words it: `must be an object (found string "x")`.
            self.decode::<Map<String, Value>>(path, value);
        }
        object
    }

    /// `value` as an object; each key not `known` reported.
    fn object<'v>(
        &mut self,
        path: &str,
        value: &'v Value,
        known: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let object = self.as_object(path, value)?;
        self.unknown_keys(path, object, known, "field");
        Some(object)
    }

    fn unknown_keys(
        &mut self,
        path: &str,
        object: &Map<String, Value>,
        known: &[&str],
        what: &str,
    ) {
        for key in object.keys().filter(|k| !known.contains(&k.as_str())) {
            self.push(
                join(path, key),
                format!(
                    "is not a known {what} (expected one of {})",
                    known.join(", ")
                ),
            );
        }
    }

    /// An array, each item read by `item`.
    fn array<T>(
        &mut self,
        path: &str,
        value: &Value,
        mut item: impl FnMut(&mut Check, &str, &Value) -> Option<T>,
    ) -> Option<Vec<T>> {
        let Some(items) = value.as_array() else {
            // serde words it: `must be an array (found string "x")`.
            self.decode::<Vec<Value>>(path, value);
            return None;
        };
        let read: Vec<Option<T>> = items
            .iter()
            .enumerate()
            .map(|(i, v)| item(self, &format!("{path}[{i}]"), v))
            .collect();
        read.into_iter().collect()
    }

    /// An object whose keys decode as `K` (object or field names), each value read by `entry`.
    fn entries<K: DeserializeOwned + Ord, V>(
        &mut self,
        path: &str,
        value: &Value,
        mut entry: impl FnMut(&mut Check, &str, &Value) -> Option<V>,
    ) -> Option<BTreeMap<K, V>> {
        let object = self.as_object(path, value)?;
        let read: Vec<Option<(K, V)>> = object
            .iter()
            .map(|(key, value)| {
                let path = join(path, key);
                let key = self.decode(&path, &Value::String(key.clone()));
                let value = entry(self, &path, value);
                Some((key?, value?))
            })
            .collect();
        read.into_iter().collect()
    }
}

/// `key` under `path`: `path.key`, or `path[0]` when `key` is an index path.
fn join(path: &str, key: &str) -> String {
    match (path.is_empty(), key.is_empty() || key.starts_with('[')) {
        (true, _) => key.to_string(),
        (false, true) => format!("{path}{key}"),
        (false, false) => format!("{path}.{key}"),
    }
}

/// The `identification` section: per object, its rules (defaults for those left out).
fn identification(check: &mut Check, path: &str, value: &Value) -> Option<Identification> {
    let section = check.object(path, value, &["contact", "lead", "account"])?;
    let mut rules = |key: &str, default: fn() -> Vec<Rule>| match section.get(key) {
        None => Some(default()),
        Some(value) => check.array(&join(path, key), value, rule),
    };
    let contact = rules("contact", by_email);
    let lead = rules("lead", by_email);
    let account = rules("account", by_name);
    Some(Identification {
        contact: contact?,
        lead: lead?,
        account: account?,
    })
}

/// One identification rule: a non-empty array of field names.
fn rule(check: &mut Check, path: &str, value: &Value) -> Option<Rule> {
    let fields = check.array(path, value, Check::decode)?;
    if fields.is_empty() {
        check.push(path, "must list at least one field");
        return None;
    }
    Some(Rule(fields))
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
    use serde_json::json;

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
    fn every_section_reports_its_errors_by_path() {
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
                "identification.lead[0][0] must be a Salesforce field name: letters, digits and underscores, starting with a letter (found \"E-mail\")",
                "field_mapping.Lead.Industry must name the custom field or variable after \"custom.\"",
                "field_mapping.Opportunity is not an object here: use Lead, Contact, Case or Task (found \"Opportunity\")",
                "display_fields.Contact[0] must be a field name or a parent's field such as Account.Name, at most 5 levels deep (found \"Account..Name\")",
            ]
        );
        assert_eq!(
            errors(&format!(r#"{{{CONNECTION}, "field_mapping": {{"Opportunity": {{}}}}}}"#)),
            ["field_mapping.Opportunity is not an object here: use Lead, Contact, Case or Task (found \"Opportunity\")"]
        );
        assert_eq!(errors(r#"{"mode": "manual"}"#), ["connection is required"]);
        assert_eq!(
            errors(r#"{"connection": {"app": "default"}}"#),
            ["connection.app is default, but this CloudCX host has no default connected app: choose custom and give client_id, client_secret and login_url"]
        );
    }

    #[test]
    fn every_error_of_a_section_is_reported_not_only_its_first() {
        let found = errors(
            r#"{"connection": {"app": "own", "client_id": 7, "pkce": "yes", "secret": "x"},
                "webchat": {"trigger": "chat_begun", "acton": "case", "action": "everything"},
                "inbox": {"action": "lead_task", "trigger": 5},
                "identification": {"contact": [["Emial-"], ["Phone", ""]], "lead": [[]],
                                   "acount": [["Name"]], "account": "Name"},
                "field_mapping": {"Lead": {"LeadSource": "literal:x", "Industry": "custom.", "Rating": "visitor.age",
                                           "Bad Name": "chat.id", "Phone": null},
                                  "Case": "Subject"},
                "display_fields": {"Lead": ["Name", "", "Owner..Name"], "Task": "Subject", "Opportunity": []}}"#,
        );
        assert_eq!(
            found,
            [
                "connection.app must be default or custom (found \"own\")",
                "connection.client_id must be a string (found integer `7`)",
                "connection.pkce must be a boolean (found string \"yes\")",
                "connection.secret is not a known field (expected one of app, client_id, client_secret, login_url, crm_url, pkce)",
                "webchat.trigger must be chat_started or chat_ended (found \"chat_begun\")",
                "webchat.acton is not a known field (expected one of trigger, action, offline_message_action)",
                "webchat.action must be contact_case, lead_task, case, contact_task or nothing (found \"everything\")",
                "inbox.trigger must be conversation_started or conversation_ended (found integer `5`)",
                "identification.acount is not a known field (expected one of contact, lead, account)",
                "identification.contact[0][0] must be a Salesforce field name: letters, digits and underscores, starting with a letter (found \"Emial-\")",
                "identification.contact[1][1] must be a Salesforce field name: letters, digits and underscores, starting with a letter (found \"\")",
                "identification.lead[0] must list at least one field",
                "identification.account must be an array (found string \"Name\")",
                "field_mapping.Lead.Industry must name the custom field or variable after \"custom.\"",
                "field_mapping.Lead.Rating must be visitor.name|email|phone|company, chat.id|channel|request_page|note|wrap_up, custom.NAME or literal:TEXT (found \"visitor.age\")",
                "field_mapping.Lead.Bad Name must be a Salesforce field name: letters, digits and underscores, starting with a letter (found \"Bad Name\")",
                "field_mapping.Case must be an object (found string \"Subject\")",
                "display_fields.Lead[1] must be a field name or a parent's field such as Account.Name, at most 5 levels deep (found \"\")",
                "display_fields.Lead[2] must be a field name or a parent's field such as Account.Name, at most 5 levels deep (found \"Owner..Name\")",
                "display_fields.Task must be an array (found string \"Subject\")",
                "display_fields.Opportunity is not an object here: use Contact, Lead, Account, Case or Task (found \"Opportunity\")",
            ]
        );
    }

    #[test]
    fn a_section_of_the_wrong_shape_is_one_error_and_a_required_field_stays_required() {
        assert_eq!(
            errors(
                r#"{"connection": {"client_id": "id", "pkce": 1}, "webchat": [], "identification": 3,
                    "field_mapping": [], "display_fields": {"Lead": null}}"#
            ),
            [
                "connection.pkce must be a boolean (found integer `1`)",
                "connection.app is required",
                "webchat must be an object (found array)",
                "identification must be an object (found integer `3`)",
                "field_mapping must be an object (found array)",
                "display_fields.Lead must be an array (found null)",
            ]
        );
        // A bad required field is reported once, not again as missing.
        assert_eq!(
            errors(r#"{"connection": {"app": "both"}}"#),
            ["connection.app must be default or custom (found \"both\")"]
        );
    }

    #[test]
    fn every_setting_of_fixed_values_lists_them_whatever_the_wrong_value() {
        let actions = "contact_case, lead_task, case, contact_task or nothing";
        for (value, found) in [
            (r#""none""#, r#""none""#),
            (r#""Manual""#, r#""Manual""#),
            ("5", "integer `5`"),
            ("true", "boolean `true`"),
            (r#"["keep"]"#, "array"),
        ] {
            let found_errors = errors(&format!(
                r#"{{"connection": {{"app": {value}, "client_id": "id", "client_secret": "s",
                      "login_url": "https://login.salesforce.com/"}},
                    "mode": {value}, "on_match": {value},
                    "webchat": {{"trigger": {value}, "action": {value}, "offline_message_action": {value}}},
                    "inbox": {{"trigger": {value}, "action": {value}}}}}"#
            ));
            let expected: Vec<String> = [
                ("connection.app", "default or custom"),
                ("mode", "automatic or manual"),
                ("webchat.trigger", "chat_started or chat_ended"),
                ("webchat.action", actions),
                ("webchat.offline_message_action", actions),
                (
                    "inbox.trigger",
                    "conversation_started or conversation_ended",
                ),
                ("inbox.action", actions),
                ("on_match", "keep, overwrite or fill_empty"),
            ]
            .iter()
            .map(|(path, names)| format!("{path} must be {names} (found {found})"))
            .collect();
            assert_eq!(found_errors, expected, "{value}");
        }
    }

    #[test]
    fn fixed_values_are_answered_by_their_names() {
        let settings = TenantSettings::parse(
            &format!(
                r#"{{{CONNECTION}, "mode": "manual", "on_match": "overwrite",
                     "webchat": {{"trigger": "chat_started", "action": "case", "offline_message_action": "nothing"}},
                     "inbox": {{"trigger": "conversation_started", "action": "lead_task"}}}}"#
            ),
            &host(),
        )
        .unwrap();
        let applied = settings.applied_json();
        assert_eq!(applied["connection"]["app"], "custom");
        assert_eq!(applied["mode"], "manual");
        assert_eq!(applied["on_match"], "overwrite");
        assert_eq!(
            applied["webchat"],
            json!({"trigger": "chat_started", "action": "case", "offline_message_action": "nothing"})
        );
        assert_eq!(
            applied["inbox"],
            json!({"trigger": "conversation_started", "action": "lead_task"})
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
