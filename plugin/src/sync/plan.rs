//! The planner: what a chat asks of Salesforce, as data. Pure functions from the tenant's
//! settings, the event, and what Salesforce answered so far, to the subrequests of the next
//! composite request; the engine ([`super::engine`]) runs them and feeds the answers back.
//!
//! A chat with a Contact or Lead takes at most two rounds:
//!
//! 1. [`first_round`] (not all or none): the identification queries, the agent's User when not
//!    cached, the visitor's Account or converted Lead; and, optimistically, the Case or Task
//!    written onto the first rule's match by reference, with its files. A known visitor costs
//!    that one call.
//! 2. [`second_round`] (all or none), when the first rule found nobody: the Case or Task onto
//!    another rule's match, a converted Lead's Contact, or a new Contact or Lead.
//!
//! A chat without a person (the "Case" action) is one round, [`case_only_round`]. What one
//! round could not finish (files beyond a request's 25 subrequests, a refused update of the
//! visitor) is owed to the written record and finished by a follow-up, never by writing the
//! Case or Task again.

use serde_json::{json, Value};

use super::api::{Responses, SubRequest, MAX_QUERIES, MAX_SUBREQUESTS};
use super::describe::KEY_FIELD;
use super::description::{append_note, cut, utf16_len};
use super::files::{self, FileSpec};
use super::mapping::{self, Fields};
use super::soql_text::{quote, NEWEST_FIRST};
use crate::events::{Event, EventKind};
use crate::salesforce::SalesforceError;
use crate::settings::{
    Action, ChatTrigger, ConversationTrigger, Mode, OnMatch, Rule, SyncObject, TenantSettings,
    VisitorField,
};

/// Salesforce error codes that concern one field's value: the record can go without it.
const FIELD_ERRORS: [&str; 8] = [
    "INVALID_EMAIL_ADDRESS",
    "STRING_TOO_LONG",
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
    "INVALID_FIELD_FOR_INSERT_UPDATE",
    "FIELD_INTEGRITY_EXCEPTION",
    "INVALID_TYPE_ON_FIELD_IN_RECORD",
    "NUMBER_OUTSIDE_VALID_RANGE",
    "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY",
];

/// What an event asks of Salesforce under the tenant's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// Nothing to write (manual mode, "do nothing", or the other trigger).
    Skip,
    Write {
        /// The Contact or Lead found or created, if the action has one.
        person: Option<SyncObject>,
        /// The Case or Task.
        activity: SyncObject,
        phase: Phase,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Everything at once (ended trigger, offline message).
    Create,
    /// At the start of a chat (started trigger): the records, without the transcript.
    Start,
    /// At its end (started trigger): the same Case or Task completed.
    Complete,
}

/// Decides the work for an event.
pub fn work_for(event: &Event, settings: &TenantSettings) -> Work {
    if settings.mode == Mode::Manual {
        return Work::Skip;
    }
    let chat = settings.webchat.trigger == ChatTrigger::ChatStarted;
    let inbox = settings.inbox.trigger == ConversationTrigger::ConversationStarted;
    let (action, phase) = match event.kind() {
        EventKind::ChatStarted if chat => (settings.webchat.action, Phase::Start),
        EventKind::ChatEnded if chat => (settings.webchat.action, Phase::Complete),
        EventKind::ChatEnded => (settings.webchat.action, Phase::Create),
        EventKind::ChatOfflineMessage => (settings.webchat.offline_message_action, Phase::Create),
        EventKind::InboxConversationStarted if inbox => (settings.inbox.action, Phase::Start),
        EventKind::InboxConversationEnded if inbox => (settings.inbox.action, Phase::Complete),
        EventKind::InboxConversationEnded => (settings.inbox.action, Phase::Create),
        EventKind::ChatStarted | EventKind::InboxConversationStarted => return Work::Skip,
    };
    write(action, phase)
}

/// The work of an event an earlier try may have written (its answer lost): as [`work_for`]
/// says, but a chat's start goes on as a start even when the trigger no longer writes at the
/// start (the tenant switched it meanwhile). Its retry finds what it wrote by its key, so that
/// the chat's end completes that record rather than making a second one.
pub fn work_for_retry(event: &Event, settings: &TenantSettings) -> Work {
    if settings.mode == Mode::Manual {
        return Work::Skip;
    }
    match event.kind() {
        EventKind::ChatStarted => write(settings.webchat.action, Phase::Start),
        EventKind::InboxConversationStarted => write(settings.inbox.action, Phase::Start),
        _ => work_for(event, settings),
    }
}

fn write(action: Action, phase: Phase) -> Work {
    let (person, activity) = match action {
        Action::ContactCase => (Some(SyncObject::Contact), SyncObject::Case),
        Action::LeadTask => (Some(SyncObject::Lead), SyncObject::Task),
        Action::Case => (None, SyncObject::Case),
        Action::ContactTask => (Some(SyncObject::Contact), SyncObject::Task),
        Action::Nothing => return Work::Skip,
    };
    Work::Write {
        person,
        activity,
        phase,
    }
}

/// The owner of the records a chat becomes, as far as known before writing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// The agent's active User; `None`: the connecting user, Salesforce's default.
    Known(Option<String>),
    /// Not cached: the round looks the agent's email up and sets the owner by reference, so
    /// that the first chat of an agent costs no call of its own.
    Ask(String),
}

impl Owner {
    pub fn known(&self) -> Option<&str> {
        match self {
            Owner::Known(id) => id.as_deref(),
            Owner::Ask(_) => None,
        }
    }

    /// The owner the round's `owner` query found, once it answered.
    pub fn learn(&mut self, answers: &Responses) {
        if let Owner::Ask(_) = self {
            if let Some(query) = answers.get(OWNER_QUERY).filter(|q| q.ok()) {
                *self = Owner::Known(user_of(query.records()));
            }
        }
    }
}

/// The `owner` query's reference in a round.
pub const OWNER_QUERY: &str = "owner";

/// The active User with the agent's email (newest first, as a cached lookup would pick).
pub fn owner_query(email: &str) -> SubRequest {
    SubRequest::query(
        OWNER_QUERY,
        &format!(
            "SELECT Id, Email FROM User WHERE Email = {} AND IsActive = true \
             {NEWEST_FIRST} LIMIT 1",
            quote(email)
        ),
    )
}

/// The first row's Id of a User query.
pub fn user_of(rows: &[Value]) -> Option<String> {
    rows.first()
        .and_then(|r| r["Id"].as_str())
        .map(str::to_string)
}

/// The records about to be written for a chat, as repairs change them.
#[derive(Debug, Clone)]
pub struct Draft {
    pub act: mapping::Activity,
    pub person: Fields,
    /// Files go with the Case or Task (not at a chat's start).
    pub attach: bool,
    /// Whether this round may carry files (an all-or-none round that failed for a file goes
    /// again without them; they follow once the record exists).
    pub files_in_round: bool,
    /// The markers of the files attached already, or given up for a reason of their own.
    pub settled_files: Vec<String>,
}

impl Draft {
    pub fn new(act: mapping::Activity, attach: bool) -> Draft {
        Draft {
            act,
            person: Fields::new(),
            attach,
            files_in_round: true,
            settled_files: Vec::new(),
        }
    }

    /// Adds a note to the Description; keeps the whole transcript as a file if the note made
    /// the Description cut it.
    pub fn note(&mut self, note: &str) {
        note_in(&mut self.act, note);
    }

    /// Drops from `part` the fields Salesforce refused for their values, noting each in the
    /// Description; `false` when the error is not about a field's value.
    pub fn repair(&mut self, part: Part, error: &SalesforceError) -> bool {
        let fields = match part {
            Part::Person => &mut self.person,
            Part::Act => &mut self.act.fields,
        };
        let notes = repair(fields, error);
        for note in &notes {
            self.note(note);
        }
        !notes.is_empty()
    }

    pub fn description(&self) -> Option<&str> {
        self.act.fields.get("Description").and_then(Value::as_str)
    }

    /// The files still to attach: the event's attachments and the whole transcript when the
    /// Description was cut, less those settled.
    pub fn pending_files(&self, event: &Event, key: &str) -> Vec<FileSpec> {
        if !self.attach {
            return Vec::new();
        }
        files::specs(event, self.act.transcript_file.as_ref(), key)
            .into_iter()
            .filter(|f| !self.settled_files.contains(&f.marker))
            .collect()
    }
}

/// The records of a draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Person,
    Act,
}

/// Adds a note to a Case's or Task's Description; keeps the whole transcript as a file if the
/// note made the Description cut it.
pub fn note_in(act: &mut mapping::Activity, note: &str) {
    let mut description = act
        .fields
        .get("Description")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let file = append_note(&mut description, note);
    act.fields
        .insert("Description".into(), Value::String(description));
    if act.transcript_file.is_none() {
        act.transcript_file = file;
    }
}

/// What a round needs to know besides the draft.
pub struct Chat<'a> {
    pub event: &'a Event,
    pub settings: &'a TenantSettings,
    /// `tenant/chat`: the chat's key, for the upsert and the files' markers.
    pub key: &'a str,
    pub activity: SyncObject,
    /// Write the Case or Task by upsert on [`KEY_FIELD`] (the org has it).
    pub upsert: bool,
    pub owner: &'a Owner,
}

impl Chat<'_> {
    /// Creates the chat's Case or Task, or upserts it by its key.
    pub fn write_activity(&self, fields: Fields) -> SubRequest {
        let object = object_name(self.activity);
        if self.upsert {
            SubRequest::upsert(ACT, object, KEY_FIELD, self.key, Value::Object(fields))
        } else {
            SubRequest::create(ACT, object, Value::Object(fields))
        }
    }

    /// The Case or Task tied to `person` (an id or a reference), then what is set on it by
    /// reference (the owner a query finds, the Account), then as many files as the request
    /// has room for.
    fn activity_requests(
        &self,
        draft: &Draft,
        person: Option<&str>,
        account: Option<&str>,
        account_query: bool,
        room: usize,
    ) -> Vec<SubRequest> {
        let mut body = draft.act.fields.clone();
        if let Some(person) = person {
            body.insert(link_field(self.activity).into(), json!(person));
        }
        if let Some(account) = account {
            body.insert("AccountId".into(), json!(account));
        }
        let object = object_name(self.activity);
        let mut requests = vec![self.write_activity(body)];
        let by_reference = |reference: &str, field: &str, query: &str| {
            SubRequest::update(
                reference,
                object,
                "@{act.id}",
                json!({ field: format!("@{{{query}.records[0].Id}}") }),
            )
        };
        if account_query {
            // Set apart: no Account found leaves this one halted, not the Case.
            requests.push(by_reference(SET_ACCOUNT, "AccountId", ACCOUNT_QUERY));
        }
        if let Owner::Ask(_) = self.owner {
            requests.push(by_reference(SET_OWNER, "OwnerId", OWNER_QUERY));
        }
        if draft.files_in_round {
            let room = room.saturating_sub(requests.len());
            requests.extend(
                draft
                    .pending_files(self.event, self.key)
                    .iter()
                    .take(room)
                    .map(|f| f.request("@{act.id}")),
            );
        }
        requests
    }
}

/// References of a round's subrequests.
pub const ACT: &str = "act";
pub const PERSON: &str = "person";
pub const ACCOUNT_QUERY: &str = "acct";
pub const CONVERTED_QUERY: &str = "conv";
const SET_ACCOUNT: &str = "set_account";
const SET_OWNER: &str = "set_owner";

/// The identification queries of a chat's visitor, and how to read their answers.
#[derive(Debug, Clone)]
pub struct Lookups {
    /// Per applicable rule, in order: the query's reference (`p0`, `p1`...) and its WHERE
    /// condition.
    pub rules: Vec<(String, String)>,
    object: SyncObject,
    selected: Vec<String>,
    converted: Option<String>,
    account: Option<String>,
    owner: Option<String>,
}

/// A person found by a rule other than the first, or a converted Lead's Contact.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub object: String,
    pub id: String,
    /// The row as the query answered it (`Null` for a converted Lead's Contact, or the person
    /// an earlier try made for the chat).
    pub row: Value,
}

impl Lookups {
    /// The queries for a visitor whose `object` fields are `fields` (`placeholders` among them
    /// are not the visitor's). `owner`: the agent's email to look up with them.
    pub fn new(
        event: &Event,
        settings: &TenantSettings,
        object: SyncObject,
        fields: &Fields,
        placeholders: &[&str],
        owner: &Owner,
    ) -> Lookups {
        let rules = match object {
            SyncObject::Lead => &settings.identification.lead,
            _ => &settings.identification.contact,
        };
        let conditions: Vec<String> = rules
            .iter()
            .filter_map(|r| condition(r, |f| person_value(event, fields, placeholders, f)))
            .collect();
        let account = (object == SyncObject::Contact)
            .then(|| account_condition(event, settings))
            .flatten();
        let converted = (object == SyncObject::Lead)
            .then(|| conditions.first().cloned())
            .flatten();
        let mut selected: Vec<String> = vec!["Id".into()];
        selected.extend(fields.keys().filter(|k| k.as_str() != "Id").cloned());
        Lookups {
            rules: conditions
                .into_iter()
                .enumerate()
                .map(|(i, c)| (format!("p{i}"), c))
                .collect(),
            object,
            selected,
            converted,
            account,
            owner: match owner {
                Owner::Ask(email) => Some(email.clone()),
                Owner::Known(_) => None,
            },
        }
    }

    /// Every query, the first round's first: the first rule's (the round writes onto its
    /// match), the owner's, the Account's or converted Lead's, then the other rules'.
    pub fn queries(&self) -> Vec<SubRequest> {
        let object = object_name(self.object);
        let live = if self.object == SyncObject::Lead {
            " AND IsConverted = false"
        } else {
            ""
        };
        let rule = |(reference, condition): &(String, String)| {
            SubRequest::query(
                reference,
                &format!(
                    "SELECT {} FROM {object} WHERE {condition}{live} {NEWEST_FIRST} LIMIT 2",
                    self.selected.join(", ")
                ),
            )
        };
        let mut queries: Vec<SubRequest> = self.rules.iter().take(1).map(rule).collect();
        if let Some(email) = &self.owner {
            queries.push(owner_query(email));
        }
        if let Some(condition) = &self.account {
            queries.push(account_query(condition));
        }
        if let Some(condition) = &self.converted {
            queries.push(SubRequest::query(
                CONVERTED_QUERY,
                &format!(
                    "SELECT Id, ConvertedContactId FROM Lead WHERE {condition} AND IsConverted = true \
                     {NEWEST_FIRST} LIMIT 1"
                ),
            ));
        }
        queries.extend(self.rules.iter().skip(1).map(rule));
        queries
    }

    /// Whether a rule after the first found somebody among `answers`.
    pub fn later_rule_matched(&self, answers: &Responses) -> bool {
        self.rules.iter().skip(1).any(|(reference, _)| {
            answers
                .get(reference)
                .is_some_and(|a| !a.records().is_empty())
        })
    }

    /// The person found by a later rule (the first rule's match was written onto in the first
    /// round), or a converted Lead's Contact. Several matches: the most recently modified,
    /// and the log says so.
    pub fn match_after_first(&self, answers: &Responses, chat: &str) -> Option<Found> {
        let object = object_name(self.object);
        for (reference, _) in self.rules.iter().skip(1) {
            let Some(answer) = answers.get(reference) else {
                continue;
            };
            if let Some(row) = answer.records().first() {
                note_several(answers, reference, object, chat);
                return Some(Found {
                    object: object.to_string(),
                    id: row["Id"].as_str()?.to_string(),
                    row: row.clone(),
                });
            }
        }
        let converted = answers.get(CONVERTED_QUERY)?.records().first()?;
        let contact = converted["ConvertedContactId"].as_str()?;
        log::info!(
            "the visitor's Lead {} was converted; using its Contact {contact}",
            converted["Id"]
        );
        Some(Found {
            object: "Contact".into(),
            id: contact.to_string(),
            // The Contact's values are not known here: fill_empty leaves it alone.
            row: Value::Null,
        })
    }
}

/// Logs that a rule's query found several records (the most recently modified is used).
pub fn note_several(answers: &Responses, reference: &str, object: &str, chat: &str) {
    if let Some(query) = answers.get(reference).filter(|q| q.total_size() > 1) {
        log::info!(
            "{} {object}s match the visitor of {chat}; using the most recently modified, {}",
            query.total_size(),
            query.records()[0]["Id"]
        );
    }
}

fn account_query(condition: &str) -> SubRequest {
    SubRequest::query(
        ACCOUNT_QUERY,
        &format!("SELECT Id FROM Account WHERE {condition} {NEWEST_FIRST} LIMIT 1"),
    )
}

/// The update a found Contact or Lead gets under the match policy. `own`: the record is of the
/// chat's person object (a converted Lead's Contact takes no Lead fields).
pub fn match_update(
    on_match: OnMatch,
    own: bool,
    fields: &Fields,
    placeholders: &[&str],
    row: &Value,
) -> Fields {
    match on_match {
        _ if !own => Fields::new(),
        OnMatch::Keep => Fields::new(),
        OnMatch::Overwrite => without(fields, placeholders),
        OnMatch::FillEmpty => empty_only(fields, placeholders, row),
    }
}

/// The first round: the lookups (as many as one request takes) and, on the first rule's
/// match, the person's overwrite and the Case or Task with its files. Empty when there is
/// nothing to ask.
pub fn first_round(
    chat: &Chat<'_>,
    lookups: &Lookups,
    draft: &Draft,
    placeholders: &[&str],
) -> Vec<SubRequest> {
    let mut round: Vec<SubRequest> = lookups.queries().into_iter().take(MAX_QUERIES).collect();
    let Some((first, _)) = lookups.rules.first() else {
        return round;
    };
    let found = format!("@{{{first}.records[0].Id}}");
    if chat.settings.on_match == OnMatch::Overwrite {
        let update = without(&draft.person, placeholders);
        if !update.is_empty() {
            round.push(SubRequest::update(
                PERSON,
                object_name(lookups.object),
                &found,
                Value::Object(update),
            ));
        }
    }
    let room = MAX_SUBREQUESTS - round.len();
    round.extend(chat.activity_requests(draft, Some(&found), None, false, room));
    round
}

/// The lookups the first round had no room for: asked before the second round when no rule
/// of the first found anybody.
pub fn later_lookups(lookups: &Lookups) -> Vec<Vec<SubRequest>> {
    let later: Vec<SubRequest> = lookups.queries().into_iter().skip(MAX_QUERIES).collect();
    later.chunks(MAX_QUERIES).map(<[_]>::to_vec).collect()
}

/// The second round (all or none): the Case or Task onto `existing` (updated as the match
/// policy says), or onto a new Contact or Lead (owned like the chat, in the visitor's
/// Account).
pub fn second_round(
    chat: &Chat<'_>,
    person: SyncObject,
    draft: &Draft,
    placeholders: &[&str],
    existing: Option<&Found>,
    account: Option<&str>,
) -> Vec<SubRequest> {
    let mut round = Vec::new();
    let person_ref = match existing {
        Some(found) => {
            // A person whose values are not known here (a converted Lead's Contact, the person
            // an earlier try made for the chat) is left as it is.
            let own = found.object == object_name(person) && found.row.is_object();
            let update = match_update(
                chat.settings.on_match,
                own,
                &draft.person,
                placeholders,
                &found.row,
            );
            if !update.is_empty() {
                round.push(SubRequest::update(
                    PERSON,
                    &found.object,
                    &found.id,
                    Value::Object(update),
                ));
            }
            found.id.clone()
        }
        None => {
            let mut body = draft.person.clone();
            if let Some(owner) = chat.owner.known() {
                body.insert("OwnerId".into(), json!(owner));
            }
            if let (Some(account), SyncObject::Contact) = (account, person) {
                body.insert("AccountId".into(), json!(account));
            }
            round.push(SubRequest::create(
                PERSON,
                object_name(person),
                Value::Object(body),
            ));
            "@{person.id}".to_string()
        }
    };
    // A new Contact's Case is in its Account too; a found one's stays as Salesforce has it.
    let account = account.filter(|_| existing.is_none() && chat.activity == SyncObject::Case);
    let room = MAX_SUBREQUESTS - round.len();
    round.extend(chat.activity_requests(draft, Some(&person_ref), account, false, room));
    round
}

/// A Case without a Contact (not all or none): the visitor's Account and the agent's User
/// looked up in the same request and set on the Case by reference, so that finding neither
/// leaves the Case as it is.
pub fn case_only_round(chat: &Chat<'_>, draft: &Draft) -> Vec<SubRequest> {
    let mut round = Vec::new();
    if let Owner::Ask(email) = chat.owner {
        round.push(owner_query(email));
    }
    let account = account_condition(chat.event, chat.settings);
    if let Some(condition) = &account {
        round.push(account_query(condition));
    }
    let room = MAX_SUBREQUESTS - round.len();
    round.extend(chat.activity_requests(draft, None, None, account.is_some(), room));
    round
}

/// The fields that complete, at the chat's end, the Case or Task made at its start: all but
/// the Subject (which keeps its key).
pub fn completion(draft: &Draft) -> Fields {
    let mut fields = draft.act.fields.clone();
    fields.remove("Subject");
    fields
}

/// What the end of a chat gives the Contact or Lead its start made: the visitor's values the
/// start lacked (`known`: those it wrote; they stay, as a person may have edited them since),
/// placeholders replaced; and the ending agent's owner when it is not the start's.
pub fn finish_made(
    fields: &Fields,
    placeholders: &[&str],
    known: &[String],
    owner: Option<&str>,
    started_owner: Option<&str>,
) -> Fields {
    let mut update: Fields = without(fields, placeholders)
        .into_iter()
        .filter(|(k, _)| !known.contains(k))
        .collect();
    if let Some(owner) = owner.filter(|&o| Some(o) != started_owner) {
        update.insert("OwnerId".into(), json!(owner));
    }
    update
}

/// The fields of a person written with the visitor's own values (not placeholders): what a
/// chat's start knew of the Contact or Lead it made.
pub fn known_fields(fields: &Fields, placeholders: &[&str]) -> Vec<String> {
    without(fields, placeholders).keys().cloned().collect()
}

/// `Name = '<company>'`-style condition for the first account rule the visitor has values for.
pub fn account_condition(event: &Event, settings: &TenantSettings) -> Option<String> {
    settings
        .identification
        .account
        .iter()
        .find_map(|rule| condition(rule, |f| account_value(event, settings, f)))
}

/// The visitor's value for an Account field an account rule names: `Name` is the visitor's
/// company, `Phone` their phone, any other field the value the tenant's Contact mapping
/// gives a Contact field of that name (a customer number, say). See [`account_rule_errors`].
pub fn account_value(event: &Event, settings: &TenantSettings, field: &str) -> Option<String> {
    let person = mapping::person_of(event);
    match field.to_ascii_lowercase().as_str() {
        "name" => person.company,
        "phone" => person.phone,
        _ => mapped(settings, SyncObject::Contact, field)
            .then(|| mapping::person_fields(SyncObject::Contact, event, settings))
            .and_then(|fields| {
                fields
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(field))
                    .and_then(|(_, v)| v.as_str().map(str::to_string))
            }),
    }
}

/// Whether the tenant's mapping of `object` gives a value to a field of this name.
fn mapped(settings: &TenantSettings, object: SyncObject, field: &str) -> bool {
    settings.field_mapping.get(&object).is_some_and(|fields| {
        fields
            .iter()
            .any(|(name, source)| source.is_some() && name.0.eq_ignore_ascii_case(field))
    })
}

/// The account rules naming a field no visitor value maps to: such a rule could never find
/// an Account, so the settings are refused by its name rather than it being skipped forever.
pub fn account_rule_errors(settings: &TenantSettings) -> Vec<crate::decode::DecodeError> {
    let mut errors = Vec::new();
    for (i, Rule(fields)) in settings.identification.account.iter().enumerate() {
        for field in fields {
            let known = ["name", "phone"].contains(&field.0.to_ascii_lowercase().as_str());
            if !known && !mapped(settings, SyncObject::Contact, &field.0) {
                errors.push(crate::decode::DecodeError::new(
                    "",
                    format!(
                        "identification.account[{i}]: no visitor value maps to Account field \
                         {:?} (an account rule may name Name, the visitor's company; Phone; or \
                         a field that field_mapping.Contact maps)",
                        field.0
                    ),
                ));
            }
        }
    }
    errors
}

/// The visitor's value for a Contact or Lead field a rule names (integration.md §2: "match by
/// other fields (phone, mobile phone, name, a custom field)"), whatever the field name's case:
///
/// 1. the value the tenant's mapping writes to the field (`fields`), unless a placeholder;
/// 2. else, for a standard field that carries the visitor's value whether or not it is
///    mapped, that value ([`natural_source`]);
/// 3. else none: the rule is skipped for this visitor (host-contract.md §2).
///
/// A rule field that can get no value from any chat is refused with the settings
/// ([`person_rule_problem`]).
pub fn person_value(
    event: &Event,
    fields: &Fields,
    placeholders: &[&str],
    field: &str,
) -> Option<String> {
    let mapped = fields
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(field))
        .filter(|(k, _)| !placeholders.contains(&k.as_str()))
        .and_then(|(_, v)| v.as_str());
    if let Some(value) = mapped {
        return Some(value.to_string());
    }
    let person = mapping::person_of(event);
    match natural_source(field)? {
        VisitorField::Name => person.name,
        VisitorField::Email => person.email,
        VisitorField::Phone => person.phone,
        VisitorField::Company => person.company,
    }
}

/// The standard Contact and Lead fields a rule may name without the mapping writing them, and
/// the visitor value each compares:
///
/// | Rule field                                     | Visitor value                          |
/// |------------------------------------------------|----------------------------------------|
/// | `Name` (the compound full name), `LastName`    | name (Inbox: the contact's last name)  |
/// | `Email`                                        | email                                  |
/// | `Phone`, `MobilePhone`, `HomePhone`, `OtherPhone` | phone (Inbox: the contact's cell phone) |
/// | `Company` (Lead)                               | company                                |
///
/// Not listed, as the visitor has no such value: `FirstName` (a chat gives one full name,
/// which CloudCX writes whole to `LastName`), `Fax`, `AssistantPhone` (someone else's).
/// Whether the object has the field (a Contact has no `Company`, a Lead no `HomePhone`) is
/// the org's describe's to say.
fn natural_source(field: &str) -> Option<VisitorField> {
    const NATURAL: [(&str, VisitorField); 8] = [
        ("Name", VisitorField::Name),
        ("LastName", VisitorField::Name),
        ("Email", VisitorField::Email),
        ("Phone", VisitorField::Phone),
        ("MobilePhone", VisitorField::Phone),
        ("HomePhone", VisitorField::Phone),
        ("OtherPhone", VisitorField::Phone),
        ("Company", VisitorField::Company),
    ];
    NATURAL
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(field))
        .map(|(_, source)| *source)
}

/// Why a Contact or Lead rule's `field` can never get a visitor value (neither mapped by the
/// tenant's `field_mapping` nor in [`natural_source`]'s table); `None` when it can. Such a
/// rule would be skipped for every chat, so the settings are refused instead.
pub fn person_rule_problem(
    settings: &TenantSettings,
    object: SyncObject,
    field: &str,
) -> Option<String> {
    let usable = mapped(settings, object, field) || natural_source(field).is_some();
    let object = object_name(object);
    (!usable).then(|| {
        format!(
            "{object} field {field:?} gets no value from a chat (a rule may name Name, LastName, \
             Email, Phone, MobilePhone, HomePhone, OtherPhone, Lead Company, or a field that \
             field_mapping.{object} maps); map it in field_mapping.{object} or remove the rule"
        )
    })
}

/// `A = 'x' AND B = 'y'` for a rule whose every field has a value; `None` otherwise.
pub fn condition(rule: &Rule, value_of: impl Fn(&str) -> Option<String>) -> Option<String> {
    let parts: Vec<String> = rule_values(rule, value_of)?
        .into_iter()
        .map(|(field, value)| format!("{field} = {}", quote(&value)))
        .collect();
    Some(parts.join(" AND "))
}

/// Each of a rule's fields with the visitor's value; `None` when one has none.
pub fn rule_values(
    rule: &Rule,
    value_of: impl Fn(&str) -> Option<String>,
) -> Option<Vec<(String, String)>> {
    rule.0
        .iter()
        .map(|field| Some((field.0.clone(), value_of(&field.0)?)))
        .collect()
}

/// The fields with values of CloudCX's own (not placeholders).
pub fn without(fields: &Fields, placeholders: &[&str]) -> Fields {
    fields
        .iter()
        .filter(|(k, _)| !placeholders.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The fields Salesforce has no value for in `row` (fill_empty never overwrites).
pub fn empty_only(fields: &Fields, placeholders: &[&str], row: &Value) -> Fields {
    if !row.is_object() {
        return Fields::new();
    }
    without(fields, placeholders)
        .into_iter()
        .filter(|(k, _)| {
            row.get(k)
                .is_none_or(|v| v.is_null() || v.as_str() == Some(""))
        })
        .collect()
}

/// Drops the fields a field-level error names from `fields`; answers a note per dropped field
/// (none when the error is not about a field's value).
pub fn repair(fields: &mut Fields, error: &SalesforceError) -> Vec<String> {
    let code = error.code.as_deref().unwrap_or_default();
    if !FIELD_ERRORS.contains(&code) {
        return Vec::new();
    }
    error
        .fields
        .iter()
        .filter_map(|field| {
            let name = fields
                .keys()
                .find(|k| k.eq_ignore_ascii_case(field))?
                .clone();
            let value = fields.remove(&name)?;
            Some(format!(
                "Salesforce refused {name} = {value} ({code}: {}); CloudCX wrote the record without it.",
                error.message
            ))
        })
        .collect()
}

/// The Subject with the chat's key at its end, within Salesforce's 255 (UTF-16) characters.
pub fn with_key(subject: &str, key: &str) -> String {
    let room = mapping::SUBJECT_MAX_CHARS.saturating_sub(utf16_len(key) + 1);
    format!("{} {key}", cut(subject, room, |_| "…".to_string()))
}

pub fn object_name(object: SyncObject) -> &'static str {
    match object {
        SyncObject::Lead => "Lead",
        SyncObject::Contact => "Contact",
        SyncObject::Case => "Case",
        SyncObject::Task => "Task",
    }
}

/// The field that ties the Case or Task to its person.
pub fn link_field(activity: SyncObject) -> &'static str {
    match activity {
        SyncObject::Case => "ContactId",
        _ => "WhoId",
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
