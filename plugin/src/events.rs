//! The events the host sends (host contract §3): typed, decoded and validated.
//!
//! Unknown fields are ignored (hosts add fields over time); a missing or mistyped required field
//! is refused with a message that names it: `chat.ended: visitor.email must be a string`.

use std::fmt;

use base64::engine::{general_purpose::GeneralPurpose, DecodePaddingMode, GeneralPurposeConfig};
use base64::Engine;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::decode::{self, DecodeError};

/// The largest event accepted, in bytes. Attachments travel base64-encoded inside events, and
/// Salesforce takes at most 37.5 MB of base64 per file in a JSON request.
pub const MAX_EVENT_BYTES: usize = 48 * 1024 * 1024;

/// Longest tenant id or event id accepted.
const MAX_ID_CHARS: usize = 255;

/// The five lifecycle hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    ChatStarted,
    ChatEnded,
    ChatOfflineMessage,
    InboxConversationStarted,
    InboxConversationEnded,
}

impl EventKind {
    pub const ALL: [EventKind; 5] = [
        EventKind::ChatStarted,
        EventKind::ChatEnded,
        EventKind::ChatOfflineMessage,
        EventKind::InboxConversationStarted,
        EventKind::InboxConversationEnded,
    ];

    /// The event's `type` as the host contract spells it.
    pub fn type_name(self) -> &'static str {
        match self {
            EventKind::ChatStarted => "chat.started",
            EventKind::ChatEnded => "chat.ended",
            EventKind::ChatOfflineMessage => "chat.offline_message",
            EventKind::InboxConversationStarted => "inbox.conversation_started",
            EventKind::InboxConversationEnded => "inbox.conversation_ended",
        }
    }

    pub fn from_type_name(name: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.type_name() == name)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.type_name())
    }
}

/// A decoded, valid event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub tenant_id: String,
    /// The chat or conversation id, unique within the tenant.
    pub id: String,
    pub channel: String,
    pub at: OffsetDateTime,
    pub body: EventBody,
}

impl Event {
    pub fn kind(&self) -> EventKind {
        match self.body {
            EventBody::ChatStarted(_) => EventKind::ChatStarted,
            EventBody::ChatEnded(_) => EventKind::ChatEnded,
            EventBody::ChatOfflineMessage(_) => EventKind::ChatOfflineMessage,
            EventBody::InboxConversationStarted(_) => EventKind::InboxConversationStarted,
            EventBody::InboxConversationEnded(_) => EventKind::InboxConversationEnded,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum EventBody {
    ChatStarted(ChatStarted),
    ChatEnded(ChatEnded),
    ChatOfflineMessage(ChatOfflineMessage),
    InboxConversationStarted(InboxConversationStarted),
    InboxConversationEnded(InboxConversationEnded),
}

/// A Web Chat visitor. Every detail is optional: a visitor may leave only a name, or nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(expecting = "an object")]
pub struct Visitor {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub company: Option<String>,
}

/// An Inbox contact, with the Inbox's own field names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(expecting = "an object")]
pub struct InboxContact {
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub cell_phone: Option<String>,
    #[serde(default)]
    pub company_name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(expecting = "an object")]
pub struct Agent {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// Who wrote a transcript line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Author {
    Visitor,
    Agent,
    Bot,
    System,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(expecting = "an object")]
pub struct Message {
    #[serde(default, deserialize_with = "opt_time")]
    pub at: Option<OffsetDateTime>,
    pub from: Author,
    #[serde(default)]
    pub name: Option<String>,
    pub text: String,
}

/// A file sent in a chat or conversation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(expecting = "an object")]
pub struct Attachment {
    pub name: String,
    #[serde(default)]
    pub content_type: Option<String>,
    /// The file's bytes, checked to be valid base64 when the event is decoded.
    #[serde(deserialize_with = "base64_text")]
    pub data_base64: String,
}

/// Free-form name/value pairs (custom fields, custom variables) kept as the host sent them.
pub type CustomValues = Map<String, Value>;

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ChatStarted {
    pub visitor: Visitor,
    #[serde(default)]
    pub agent: Option<Agent>,
    #[serde(deserialize_with = "time")]
    pub started_at: OffsetDateTime,
    #[serde(default)]
    pub request_page: Option<String>,
    #[serde(default)]
    pub custom_variables: Option<CustomValues>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ChatEnded {
    pub visitor: Visitor,
    #[serde(default)]
    pub agent: Option<Agent>,
    #[serde(default, deserialize_with = "opt_time")]
    pub started_at: Option<OffsetDateTime>,
    #[serde(default, deserialize_with = "opt_time")]
    pub ended_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub messages: Option<Vec<Message>>,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub wrap_up: Option<String>,
    #[serde(default)]
    pub request_page: Option<String>,
    #[serde(default)]
    pub custom_fields: Option<CustomValues>,
    #[serde(default)]
    pub custom_variables: Option<CustomValues>,
    #[serde(default)]
    pub attachments: Option<Vec<Attachment>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ChatOfflineMessage {
    pub visitor: Visitor,
    pub message: String,
    #[serde(default)]
    pub request_page: Option<String>,
    #[serde(default)]
    pub custom_variables: Option<CustomValues>,
    #[serde(default)]
    pub attachments: Option<Vec<Attachment>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct InboxConversationStarted {
    pub contact: InboxContact,
    #[serde(default)]
    pub agent: Option<Agent>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(deserialize_with = "time")]
    pub started_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct InboxConversationEnded {
    pub contact: InboxContact,
    #[serde(default)]
    pub agent: Option<Agent>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default, deserialize_with = "opt_time")]
    pub started_at: Option<OffsetDateTime>,
    #[serde(default, deserialize_with = "opt_time")]
    pub ended_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub messages: Option<Vec<Message>>,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub attachments: Option<Vec<Attachment>>,
}

/// The fields every event carries.
#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    tenant_id: String,
    id: String,
    channel: String,
    #[serde(deserialize_with = "time")]
    at: OffsetDateTime,
}

/// Why an event was refused. Displays as `chat.ended: visitor.email must be a string`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidEvent {
    pub kind: EventKind,
    pub error: DecodeError,
}

impl fmt::Display for InvalidEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.error.path.is_empty() {
            write!(f, "{}: the event {}", self.kind, self.error.problem)
        } else {
            write!(f, "{}: {}", self.kind, self.error)
        }
    }
}

impl std::error::Error for InvalidEvent {}

/// Decodes and validates the payload of the `kind` hook.
pub fn decode(kind: EventKind, bytes: &[u8]) -> Result<Event, InvalidEvent> {
    let invalid = |error| InvalidEvent { kind, error };
    let value = decode::parse_json(bytes, MAX_EVENT_BYTES).map_err(invalid)?;
    if !value.is_object() {
        return Err(invalid(DecodeError::new("", "must be a JSON object")));
    }
    let envelope: Envelope = decode::from_value(&value).map_err(invalid)?;
    if envelope.kind != kind.type_name() {
        return Err(invalid(DecodeError::new(
            "type",
            format!(
                "is \"{}\", but this hook takes \"{}\" events",
                envelope.kind, kind
            ),
        )));
    }
    check_id("tenant_id", &envelope.tenant_id).map_err(invalid)?;
    check_id("id", &envelope.id).map_err(invalid)?;
    let body = match kind {
        EventKind::ChatStarted => {
            EventBody::ChatStarted(decode::from_value(&value).map_err(invalid)?)
        }
        EventKind::ChatEnded => EventBody::ChatEnded(decode::from_value(&value).map_err(invalid)?),
        EventKind::ChatOfflineMessage => {
            EventBody::ChatOfflineMessage(decode::from_value(&value).map_err(invalid)?)
        }
        EventKind::InboxConversationStarted => {
            EventBody::InboxConversationStarted(decode::from_value(&value).map_err(invalid)?)
        }
        EventKind::InboxConversationEnded => {
            EventBody::InboxConversationEnded(decode::from_value(&value).map_err(invalid)?)
        }
    };
    Ok(Event {
        tenant_id: envelope.tenant_id,
        id: envelope.id,
        channel: envelope.channel,
        at: envelope.at,
        body,
    })
}

/// Tenant and event ids name records and files: they must be short and printable.
pub fn check_id(path: &str, id: &str) -> Result<(), DecodeError> {
    if id.trim().is_empty() {
        return Err(DecodeError::new(path, "must not be empty"));
    }
    if id.chars().count() > MAX_ID_CHARS {
        return Err(DecodeError::new(
            path,
            format!("must be at most {MAX_ID_CHARS} characters"),
        ));
    }
    if id.chars().any(char::is_control) {
        return Err(DecodeError::new(
            path,
            "must not contain control characters",
        ));
    }
    Ok(())
}

fn parse_time(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|_| {
        format!("must be an RFC 3339 time such as 2026-11-24T10:00:05Z (found \"{text}\")")
    })
}

fn time<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
    let text = String::deserialize(d)?;
    parse_time(&text).map_err(serde::de::Error::custom)
}

fn opt_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OffsetDateTime>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|text| parse_time(&text).map_err(serde::de::Error::custom))
        .transpose()
}

/// Standard base64, padded or not.
pub(crate) const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn base64_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    BASE64
        .decode(&text)
        .map_err(|e| serde::de::Error::custom(format!("must be base64 ({e})")))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat_ended(extra: &str) -> String {
        format!(
            r#"{{"type":"chat.ended","tenant_id":"t1","id":"c1","channel":"webchat",
               "at":"2026-11-24T10:05:00Z","visitor":{{"name":"Jane"}}{extra}}}"#
        )
    }

    fn refusal(kind: EventKind, json: &str) -> String {
        decode(kind, json.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn decodes_every_kind_from_the_examples() {
        let examples = include_str!("../../examples/events.jsonl");
        let mut seen = std::collections::HashSet::new();
        for line in examples.lines().filter(|l| !l.trim().is_empty()) {
            let kind = serde_json::from_str::<Value>(line).unwrap()["type"]
                .as_str()
                .and_then(EventKind::from_type_name)
                .unwrap();
            let event = decode(kind, line.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(event.kind(), kind);
            seen.insert(kind);
        }
        assert_eq!(
            seen.len(),
            EventKind::ALL.len(),
            "examples cover every event type"
        );
    }

    #[test]
    fn ignores_unknown_fields_and_reads_optional_ones() {
        let event = decode(
            EventKind::ChatEnded,
            chat_ended(r#","future_field":{"x":1},"note":null,"wrap_up":"Refund","messages":[{"from":"bot","text":"hi"}]"#)
                .as_bytes(),
        )
        .unwrap();
        let EventBody::ChatEnded(body) = event.body else {
            panic!()
        };
        assert_eq!(body.note, None);
        assert_eq!(body.wrap_up.as_deref(), Some("Refund"));
        assert_eq!(body.messages.unwrap()[0].from, Author::Bot);
    }

    #[test]
    fn names_the_missing_or_mistyped_field() {
        assert_eq!(
            refusal(
                EventKind::ChatEnded,
                &chat_ended(r#","visitor":{"email":5}"#)
            ),
            "chat.ended: visitor.email must be a string (found integer `5`)"
        );
        let no_visitor = r#"{"type":"chat.ended","tenant_id":"t","id":"c","channel":"w","at":"2026-11-24T10:05:00Z"}"#;
        assert_eq!(
            refusal(EventKind::ChatEnded, no_visitor),
            "chat.ended: visitor is required"
        );
        assert_eq!(
            refusal(
                EventKind::ChatEnded,
                &chat_ended(r#","messages":[{"from":"robot","text":"x"}]"#)
            ),
            "chat.ended: messages[0].from must be visitor, agent, bot or system (found \"robot\")"
        );
        assert_eq!(
            refusal(EventKind::ChatEnded, &chat_ended(r#","ended_at":"yesterday""#)),
            "chat.ended: ended_at must be an RFC 3339 time such as 2026-11-24T10:00:05Z (found \"yesterday\")"
        );
        assert_eq!(
            refusal(
                EventKind::ChatEnded,
                &chat_ended(r#","attachments":[{"name":"a.pdf","data_base64":"%%%"}]"#)
            ),
            "chat.ended: attachments[0].data_base64 must be base64 (Invalid symbol 37, offset 0.)"
        );
        assert_eq!(
            refusal(EventKind::ChatStarted, &chat_ended("")),
            "chat.started: type is \"chat.ended\", but this hook takes \"chat.started\" events"
        );
        assert_eq!(
            refusal(
                EventKind::ChatEnded,
                &chat_ended("").replace("\"t1\"", "\"  \"")
            ),
            "chat.ended: tenant_id must not be empty"
        );
        assert_eq!(
            refusal(EventKind::ChatEnded, "[1]"),
            "chat.ended: the event must be a JSON object"
        );
    }
}
