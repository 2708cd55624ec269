//! The sync engine: turns a tenant's queued events into Salesforce records, in as few API calls
//! as it can.
//!
//! For each event it works out what the tenant's settings ask ([`Work`]), then:
//!
//! 1. One composite request looks the visitor up by every identification rule (and the Account
//!    by the visitor's company, and a converted Lead) and, optimistically, writes the Case or
//!    Task (with its files) onto the first rule's match by reference. A known visitor costs
//!    that one call.
//! 2. When the first rule found nothing, a second composite request (all or none) writes onto
//!    another rule's match, or creates the Contact or Lead with the Case or Task.
//!
//! Exactly once: the Case or Task a chat became is remembered in the queue's store, and its
//! Subject carries a key (`[CloudCX tenant/chat]`); when a request's answer was lost (the
//! write may have been applied), the engine looks for that key before writing again. When the
//! org has an external-ID field `CloudCX_Key__c` on Case or Task ([`super::describe::KEY_FIELD`]),
//! the engine writes them by upsert on `tenant/chat` instead, and need not look.
//!
//! Several chats to create in one batch (after an outage, or a burst) are written together,
//! a few calls for up to 200 of them: see [`super::batch`].
//!
//! A field Salesforce rejects (an invalid email, a bad picklist value...) does not lose the
//! chat: the record is written without it and the Description says what was dropped and why.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use serde_json::{json, Value};

use super::api::{salesforce_error, DataApi, Responses, SubRequest, MAX_SUBREQUESTS};
use super::batch;
use super::describe::{Describes, KEY_FIELD};
use super::description::{append_note, cut, utf16_len};
use super::mapping::{self, Fields, TextFile};
use super::soql_text::{like_escaped, quote};
use crate::events::{self, Event, EventKind};
use crate::oauth::{ConnectionError, Connections};
use crate::queue::{ActivityRecord, Queue, QueuedEvent};
use crate::salesforce::{ApiError, Disposition, SalesforceError};
use crate::settings::{
    Action, ChatTrigger, ConversationTrigger, Mode, OnMatch, Rule, SyncObject, TenantSettings,
};
use crate::workers::{Delivery, Hold, Outcome, StopSignal, WrittenRecord};

/// How long a tenant pauses when its org's API limit is reached or near the tenant's ceiling.
const LIMIT_PAUSE: Duration = Duration::from_secs(15 * 60);

/// Rejected fields dropped from one record before giving up on it.
pub(crate) const MAX_REPAIRS: usize = 5;

/// Chats to create in one batch from which they are written together (see [`batch`]).
const BATCH_MIN: usize = 3;

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

pub struct SyncEngine {
    queue: Arc<Queue>,
    pub(super) connections: Arc<Connections>,
    api_version: String,
    /// Per tenant: agent email (lower case) → the active User with that email, if any.
    pub(super) owners: Mutex<HashMap<String, HashMap<String, Option<String>>>>,
    pub(super) describes: Describes,
}

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

/// Why an event's delivery stopped: the outcome to record, or a hold for the whole tenant.
pub(crate) enum Stop {
    Outcome(Outcome),
    Hold(Hold),
}

pub(crate) type Step<T> = Result<T, Stop>;

/// A queued event with work to do.
pub(super) struct Job {
    pub seq: u64,
    pub event: Event,
    pub maybe_applied: bool,
    pub person: Option<SyncObject>,
    pub activity: SyncObject,
    pub phase: Phase,
}

impl SyncEngine {
    pub fn new(queue: Arc<Queue>, connections: Arc<Connections>, api_version: &str) -> SyncEngine {
        SyncEngine {
            queue,
            connections,
            api_version: api_version.to_string(),
            owners: Mutex::new(HashMap::new()),
            describes: Describes::default(),
        }
    }

    /// Delivers a batch of one tenant's events, stopping at a hold: the chats to create
    /// together when there are several, then the others in order.
    pub fn deliver(
        &self,
        tenant: &str,
        settings: &TenantSettings,
        batch: &[QueuedEvent],
        stop: &StopSignal,
    ) -> Delivery {
        let mut delivery = Delivery::default();
        if let Some(hold) = self.over_ceiling(tenant, settings) {
            delivery.hold = Some(hold);
            return delivery;
        }
        // Read once per org, for the lengths (see `Chat::fit`); without it, Salesforce's own
        // checks remain.
        let _ = self.schema(tenant);
        let mut jobs = Vec::new();
        for queued in batch {
            match read(queued, settings) {
                Ok(Some(job)) => jobs.push(job),
                Ok(None) => delivery
                    .outcomes
                    .push((queued.seq, Outcome::Delivered(Vec::new()))),
                Err(outcome) => delivery.outcomes.push((queued.seq, outcome)),
            }
        }
        // Not a chat after a lost answer, which looks for its key first, unless the org has the
        // key field: an upsert finds the record by itself.
        let (together, mut single): (Vec<&Job>, Vec<&Job>) = jobs.iter().partition(|job| {
            job.phase == Phase::Create && (!job.maybe_applied || self.keyed(tenant, job.activity))
        });
        if together.len() >= BATCH_MIN && !stop.is_set() {
            single.extend(batch::deliver(
                self,
                tenant,
                settings,
                &together,
                &mut delivery,
            ));
            if delivery.hold.is_some() {
                return delivery;
            }
        } else {
            single.extend(together);
        }
        single.sort_by_key(|job| job.seq);
        for job in single {
            if stop.is_set() {
                break;
            }
            match self
                .chat(tenant, settings, job)
                .write(job.person, job.activity, job.phase)
            {
                Ok(outcome) | Err(Stop::Outcome(outcome)) => {
                    delivery.outcomes.push((job.seq, outcome))
                }
                Err(Stop::Hold(hold)) => {
                    delivery.hold = Some(hold);
                    break;
                }
            }
        }
        let unknown_field = |outcome: &Outcome| matches!(outcome, Outcome::Failed { code, .. } if code == "INVALID_FIELD");
        if delivery.outcomes.iter().any(|(_, o)| unknown_field(o)) {
            // The org changed under the describe: read it again next time.
            self.describes.forget(tenant);
        }
        if delivery.outcomes.is_empty() && delivery.hold.is_none() {
            // Stopped before the first event: it stays queued, as it was.
            delivery.hold = Some(Hold::Until(SystemTime::now(), "shutting down".into()));
        }
        delivery
    }

    /// Holds the tenant while its org's API usage is at or over the tenant's ceiling, so that
    /// the org's other integrations keep their share.
    fn over_ceiling(&self, tenant: &str, settings: &TenantSettings) -> Option<Hold> {
        let usage = self.connections.api_usage(tenant)?;
        let percent = usage.percent_used()?;
        (percent >= f64::from(settings.max_api_usage_percent)).then(|| {
            Hold::Until(
                SystemTime::now() + LIMIT_PAUSE,
                format!(
                    "the org has used {percent:.0}% of its daily API calls ({}/{}); this tenant's \
                     ceiling is {}%",
                    usage.used, usage.limit, settings.max_api_usage_percent
                ),
            )
        })
    }

    pub(super) fn chat<'a>(
        &'a self,
        tenant: &'a str,
        settings: &'a TenantSettings,
        job: &'a Job,
    ) -> Chat<'a> {
        Chat {
            engine: self,
            tenant,
            settings,
            event: &job.event,
            key_id: &job.event.id,
            maybe_applied: job.maybe_applied,
            settled_later: true,
            api: self.api(tenant),
        }
    }

    /// Drops what is known about the tenant's org (owners, the records chats became): the
    /// tenant reconnected to another org.
    pub fn forget_org(&self, tenant: &str) -> Result<(), crate::queue::QueueError> {
        self.owners.lock().remove(tenant);
        self.describes.forget(tenant);
        self.queue.forget_activities(tenant)
    }

    /// Writes a chat's Case or Task now, as automatic mode would (the agent console's manual
    /// create). `key_id` stands for the chat's id in the Subject's key and in the memory of what
    /// the chat became, so that a manual record is remembered apart from the automatic one.
    pub(crate) fn write_now(
        &self,
        tenant: &str,
        settings: &TenantSettings,
        event: &Event,
        key_id: &str,
        person: Option<SyncObject>,
        activity: SyncObject,
    ) -> Step<Outcome> {
        let chat = Chat {
            engine: self,
            tenant,
            settings,
            event,
            key_id,
            maybe_applied: false,
            settled_later: false,
            api: self.api(tenant),
        };
        chat.write(person, activity, Phase::Create)
    }

    pub(crate) fn api<'a>(&'a self, tenant: &'a str) -> DataApi<'a> {
        DataApi {
            connections: &self.connections,
            tenant,
            version: &self.api_version,
        }
    }
}

/// The job an event asks for: `None` when it asks for nothing, the failure when it cannot be
/// read.
fn read(queued: &QueuedEvent, settings: &TenantSettings) -> Result<Option<Job>, Outcome> {
    let unreadable = || Outcome::Failed {
        code: "UNREADABLE_EVENT".into(),
        message: format!(
            "the queued {} {} cannot be read by this version",
            queued.meta.kind, queued.meta.event_id
        ),
    };
    let kind = EventKind::from_type_name(&queued.meta.kind).ok_or_else(unreadable)?;
    let event = events::decode(kind, &queued.payload).map_err(|_| unreadable())?;
    let Work::Write {
        person,
        activity,
        phase,
    } = work_for(&event, settings)
    else {
        return Ok(None);
    };
    Ok(Some(Job {
        seq: queued.seq,
        maybe_applied: queued.meta.maybe_applied,
        event,
        person,
        activity,
        phase,
    }))
}

/// One event's delivery.
pub(super) struct Chat<'a> {
    engine: &'a SyncEngine,
    tenant: &'a str,
    settings: &'a TenantSettings,
    event: &'a Event,
    /// The chat's id in its key and memory (the event's id, in automatic mode).
    key_id: &'a str,
    maybe_applied: bool,
    /// A queued event, settled in the queue after the write: what it became is remembered
    /// without a flush of its own (the settlement's commit makes it durable).
    settled_later: bool,
    api: DataApi<'a>,
}

/// The records a write made, for the host's notifications.
struct Written {
    records: Vec<(String, String)>,
}

impl Chat<'_> {
    fn write(
        &self,
        person: Option<SyncObject>,
        activity: SyncObject,
        phase: Phase,
    ) -> Step<Outcome> {
        if let Some(done) = self.known_activity(activity, phase)? {
            return match phase {
                Phase::Complete => self.complete(activity, &done),
                // Written before (a delivery repeated after a crash): nothing more to do.
                Phase::Create | Phase::Start => Ok(self.delivered(vec![(done.object, done.id)])),
            };
        }
        let written = self.create(person, activity, phase)?;
        Ok(self.delivered(written.records))
    }

    pub(super) fn delivered(&self, records: Vec<(String, String)>) -> Outcome {
        let instance = self
            .engine
            .connections
            .session(self.tenant)
            .map(|s| s.instance_url)
            .unwrap_or_default();
        Outcome::Delivered(
            records
                .into_iter()
                .map(|(object, id)| WrittenRecord {
                    url: lightning_url(&instance, &object, &id),
                    object,
                    id,
                })
                .collect(),
        )
    }

    /// The value of [`KEY_FIELD`] for the chat.
    pub(super) fn key_value(&self) -> String {
        format!("{}/{}", self.tenant, self.key_id)
    }

    fn keyed(&self, activity: SyncObject) -> bool {
        self.engine.keyed(self.tenant, activity)
    }

    /// Creates the chat's Case or Task, or upserts it by its key when the org has the field.
    fn write_activity(&self, activity: SyncObject, fields: Fields) -> SubRequest {
        let object = object_name(activity);
        if self.keyed(activity) {
            SubRequest::upsert(
                "act",
                object,
                KEY_FIELD,
                &self.key_value(),
                Value::Object(fields),
            )
        } else {
            SubRequest::create("act", object, Value::Object(fields))
        }
    }

    /// The key in the Subject of the Case or Task a chat became.
    fn key(&self) -> String {
        format!("[CloudCX {}/{}]", self.tenant, self.key_id)
    }

    /// The Case or Task already written for this chat: remembered locally, or, when a lost
    /// answer may hide a write, found by its key.
    pub(super) fn known_activity(
        &self,
        activity: SyncObject,
        phase: Phase,
    ) -> Step<Option<ActivityRecord>> {
        let queue = &self.engine.queue;
        if let Some(known) = queue
            .activity(self.tenant, self.key_id)
            .map_err(retry_local)?
        {
            return Ok(Some(known));
        }
        // Salesforce is asked only when a lost answer may hide a write, or when the record made
        // at a chat's start is not remembered here (another host made it, say).
        // With the key field, writing again finds the record by itself (upsert).
        if (!self.maybe_applied && phase != Phase::Complete) || self.keyed(activity) {
            return Ok(None);
        }
        let object = object_name(activity);
        let soql = format!(
            "SELECT Id FROM {object} WHERE Subject LIKE '%{}' ORDER BY CreatedDate LIMIT 1",
            like_escaped(&self.key())
        );
        let rows = self.api.query(&soql).map_err(|e| stop_for(&e, false))?;
        let found = rows
            .first()
            .and_then(|r| r["Id"].as_str())
            .map(|id| ActivityRecord {
                object: object.to_string(),
                id: id.to_string(),
            });
        if let Some(record) = &found {
            self.remember(record)?;
        }
        Ok(found)
    }

    fn remember(&self, record: &ActivityRecord) -> Step<()> {
        let queue = &self.engine.queue;
        if self.settled_later {
            queue.remember_activity_until_settled(self.tenant, self.key_id, record)
        } else {
            queue.remember_activity(self.tenant, self.key_id, record)
        }
        .map_err(retry_local)
    }

    /// Completes, at the chat's end, the Case or Task made at its start.
    fn complete(&self, activity: SyncObject, record: &ActivityRecord) -> Step<Outcome> {
        let mut fields = self.activity(activity);
        fields.fields.remove("Subject");
        let mut requests = vec![SubRequest::update(
            "act",
            &record.object,
            &record.id,
            Value::Object(fields.fields),
        )];
        requests.extend(files(
            self.event,
            fields.transcript_file.as_ref(),
            &record.id,
        ));
        self.run_writes(&requests)?;
        Ok(self.delivered(vec![(record.object.clone(), record.id.clone())]))
    }

    pub(super) fn activity(&self, activity: SyncObject) -> mapping::Activity {
        let mut made = mapping::activity_fields(activity, self.event, self.settings);
        let subject = made
            .fields
            .get("Subject")
            .and_then(Value::as_str)
            .unwrap_or_default();
        made.fields.insert(
            "Subject".into(),
            Value::String(with_key(subject, &self.key())),
        );
        let object = object_name(activity);
        // The Subject keeps its key, the Description its layout: both fit already.
        let notes = self.fit(&mut made.fields, |field| {
            (field != "Subject" && field != "Description").then_some(object)
        });
        for note in notes {
            note_in(&mut made, &note);
        }
        made
    }

    /// Sets the draft's Contact or Lead fields; answers the placeholders among them.
    pub(super) fn person(&self, object: SyncObject, draft: &mut Draft) -> Vec<&'static str> {
        draft.person = mapping::person_fields(object, self.event, self.settings);
        let name = object_name(object);
        for note in self.fit(&mut draft.person, |_| Some(name)) {
            draft.note(&note);
        }
        mapping::placeholder_fields(object, self.event, self.settings)
    }

    /// Cuts the values longer than their field in the org's describe (`object_of` a field: the
    /// object to look it up in, `None` to leave it alone); answers a note per cut.
    fn fit(&self, fields: &mut Fields, object_of: impl Fn(&str) -> Option<&str>) -> Vec<String> {
        let Some(schema) = self.engine.describes.get(self.tenant) else {
            return Vec::new();
        };
        mapping::fit_lengths(fields, &|field| schema.length(object_of(field)?, field))
    }

    /// Finds or creates the person and writes the Case or Task.
    fn create(
        &self,
        person: Option<SyncObject>,
        activity: SyncObject,
        phase: Phase,
    ) -> Step<Written> {
        let owner = self.engine.owner(&self.api, agent_email(self.event))?;
        let mut draft = Draft {
            act: self.activity(activity),
            person: Fields::new(),
            attach: phase != Phase::Start,
        };
        if phase == Phase::Start {
            // The transcript and files come with the chat's end.
            draft.act.transcript_file = None;
        }
        if let Some(owner) = &owner {
            draft.act.fields.insert("OwnerId".into(), json!(owner));
        }
        let Some(person) = person else {
            return self.create_case_only(draft);
        };
        let placeholders = self.person(person, &mut draft);
        let lookups = Lookups::new(self, person, &draft.person, &placeholders);
        let act_object = object_name(activity);

        // Round 1: look up, and write onto the first rule's match by reference.
        let answers = self.with_repairs(&mut draft, false, |draft| {
            let mut round = lookups.queries();
            if lookups.rules.is_empty() {
                return round;
            }
            let found = "@{p0.records[0].Id}";
            if self.settings.on_match == OnMatch::Overwrite {
                let update = without(&draft.person, &placeholders);
                if !update.is_empty() {
                    round.push(SubRequest::update(
                        "person",
                        object_name(person),
                        found,
                        Value::Object(update),
                    ));
                }
            }
            round.extend(draft.activity_requests(self, activity, found, None));
            round
        })?;
        if let Some(id) = answers.get("act").filter(|a| a.ok()).and_then(|a| a.id()) {
            let record = self.remembered(act_object, id)?;
            self.note_several(&answers, "p0", person);
            let found = answers
                .get("p0")
                .and_then(|p| p.records().first())
                .cloned()
                .unwrap_or_default();
            let person_id = found["Id"].as_str().unwrap_or_default().to_string();
            if self.settings.on_match == OnMatch::FillEmpty {
                self.fill_empty(person, &person_id, &found, &draft.person, &placeholders)?;
            }
            return Ok(Written {
                records: vec![
                    (object_name(person).into(), person_id),
                    (record.object, record.id),
                ],
            });
        }

        // Round 2, all or none: another rule's match, a converted Lead's Contact, or a new person.
        let existing = lookups.match_after_first(&answers);
        let account = answers
            .get("acct")
            .and_then(|a| a.records().first())
            .and_then(|r| r["Id"].as_str())
            .map(str::to_string);
        let answers = self.with_repairs(&mut draft, true, |draft| {
            let mut round = Vec::new();
            let person_ref = match &existing {
                Some(found) => {
                    let update = match self.settings.on_match {
                        OnMatch::Keep => Fields::new(),
                        OnMatch::Overwrite => without(&draft.person, &placeholders),
                        OnMatch::FillEmpty => empty_only(&draft.person, &placeholders, &found.row),
                    };
                    if !update.is_empty() {
                        round.push(SubRequest::update(
                            "person",
                            &found.object,
                            &found.id,
                            Value::Object(update),
                        ));
                    }
                    found.id.clone()
                }
                None => {
                    let mut body = draft.person.clone();
                    if let Some(owner) = &owner {
                        body.insert("OwnerId".into(), json!(owner));
                    }
                    if let (Some(account), SyncObject::Contact) = (&account, person) {
                        body.insert("AccountId".into(), json!(account));
                    }
                    round.push(SubRequest::create(
                        "person",
                        object_name(person),
                        Value::Object(body),
                    ));
                    "@{person.id}".to_string()
                }
            };
            let account = account
                .as_deref()
                .filter(|_| existing.is_none() && activity == SyncObject::Case);
            round.extend(draft.activity_requests(self, activity, &person_ref, account));
            round
        })?;
        let id = answers
            .get("act")
            .filter(|a| a.ok())
            .and_then(|a| a.id())
            .ok_or_else(|| retry("Salesforce wrote nothing and named no error"))?;
        let record = self.remembered(act_object, id)?;
        let (person_object, person_id) = match &existing {
            Some(found) => (found.object.clone(), found.id.clone()),
            None => (
                object_name(person).to_string(),
                answers
                    .get("person")
                    .and_then(|p| p.id())
                    .unwrap_or_default()
                    .to_string(),
            ),
        };
        Ok(Written {
            records: vec![(person_object, person_id), (record.object, record.id)],
        })
    }

    /// Runs the round `build` makes; when Salesforce refuses a field's value, builds it again
    /// without that field (noted in the Description), a few times at most. Answers the round's
    /// responses once no subrequest failed for a reason of its own.
    fn with_repairs(
        &self,
        draft: &mut Draft,
        all_or_none: bool,
        build: impl Fn(&Draft) -> Vec<SubRequest>,
    ) -> Step<Responses> {
        for _ in 0..=MAX_REPAIRS {
            let answers = self.run(&build(draft), all_or_none)?;
            let Some(failed) = answers.0.iter().find(|a| a.own_error().is_some()) else {
                return Ok(answers);
            };
            let error = failed.own_error().expect("found by its error");
            let fields = if failed.reference == "person" {
                &mut draft.person
            } else {
                &mut draft.act.fields
            };
            let notes = repair(fields, &error);
            if notes.is_empty() {
                return Err(stop_for_salesforce(&error, true));
            }
            for note in notes {
                draft.note(&note);
            }
        }
        Err(Stop::Outcome(Outcome::Failed {
            code: "TOO_MANY_REJECTED_FIELDS".into(),
            message: format!("Salesforce kept refusing fields after {MAX_REPAIRS} were dropped"),
        }))
    }

    pub(super) fn remembered(&self, object: &str, id: &str) -> Step<ActivityRecord> {
        let record = ActivityRecord {
            object: object.into(),
            id: id.into(),
        };
        self.remember(&record)?;
        Ok(record)
    }

    /// A Case without a Contact, with the visitor's Account when one matches their company.
    fn create_case_only(&self, mut draft: Draft) -> Step<Written> {
        if let Some(condition) = account_condition(self.event, self.settings) {
            let rows = self
                .api
                .query(&format!(
                    "SELECT Id FROM Account WHERE {condition} ORDER BY LastModifiedDate DESC LIMIT 1"
                ))
                .map_err(|e| stop_for(&e, false))?;
            if let Some(id) = rows.first().and_then(|r| r["Id"].as_str()) {
                draft.act.fields.insert("AccountId".into(), json!(id));
            }
        }
        let answers = self.with_repairs(&mut draft, true, |draft| {
            let mut round = vec![self.write_activity(SyncObject::Case, draft.act.fields.clone())];
            if draft.attach {
                round.extend(files(
                    self.event,
                    draft.act.transcript_file.as_ref(),
                    "@{act.id}",
                ));
            }
            round
        })?;
        let id = answers
            .get("act")
            .and_then(|a| a.id())
            .ok_or_else(|| retry("the Case was not written"))?;
        let record = self.remembered("Case", id)?;
        Ok(Written {
            records: vec![(record.object, record.id)],
        })
    }

    /// Writes the values Salesforce has no value for yet (on_match = fill_empty).
    fn fill_empty(
        &self,
        person: SyncObject,
        id: &str,
        found: &Value,
        fields: &Fields,
        placeholders: &[&str],
    ) -> Step<()> {
        let update = empty_only(fields, placeholders, found);
        if update.is_empty() {
            return Ok(());
        }
        let request = SubRequest::update("person", object_name(person), id, Value::Object(update));
        self.run_writes(&[request])
    }

    fn note_several(&self, answers: &Responses, reference: &str, person: SyncObject) {
        if let Some(query) = answers.get(reference).filter(|q| q.total_size() > 1) {
            log::info!(
                "tenant {}: {} {}s match the visitor of {}; using the most recently modified",
                self.tenant,
                query.total_size(),
                object_name(person),
                self.event.id
            );
        }
    }

    /// Runs writes that must all happen or none (a completion, a fill).
    fn run_writes(&self, requests: &[SubRequest]) -> Step<()> {
        let answers = self.run(requests, true)?;
        match answers.first_error() {
            Some(error) => Err(stop_for_salesforce(&error, true)),
            None => Ok(()),
        }
    }

    /// One composite request (split when it has too many subrequests: files only).
    fn run(&self, requests: &[SubRequest], all_or_none: bool) -> Step<Responses> {
        let writes = requests.iter().any(|r| r.method != http::Method::GET);
        let mut answers = Vec::new();
        for chunk in requests.chunks(MAX_SUBREQUESTS) {
            let part = self
                .api
                .composite(chunk, all_or_none)
                .map_err(|e| stop_for(&e, writes))?;
            answers.extend(part.0);
        }
        Ok(Responses(answers))
    }
}

/// The identification queries of round 1, and how to read their answers.
struct Lookups {
    /// Per applicable rule: the query's reference and its WHERE condition.
    rules: Vec<(String, String)>,
    object: SyncObject,
    selected: Vec<String>,
    converted: Option<String>,
    account: Option<String>,
}

/// A person found by a rule other than the first.
struct Found {
    object: String,
    id: String,
    row: Value,
}

impl Lookups {
    fn new(chat: &Chat<'_>, object: SyncObject, fields: &Fields, placeholders: &[&str]) -> Lookups {
        let rules = match object {
            SyncObject::Lead => &chat.settings.identification.lead,
            _ => &chat.settings.identification.contact,
        };
        let value_of = |field: &str| person_value(fields, placeholders, field);
        let account = (object == SyncObject::Contact)
            .then(|| account_condition(chat.event, chat.settings))
            .flatten();
        let converted_slots = usize::from(object == SyncObject::Lead);
        let slots = 5 - converted_slots - usize::from(account.is_some());
        let conditions: Vec<String> = rules
            .iter()
            .filter_map(|r| condition(r, value_of))
            .take(slots)
            .collect();
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
        }
    }

    fn queries(&self) -> Vec<SubRequest> {
        let object = object_name(self.object);
        let live = if self.object == SyncObject::Lead {
            " AND IsConverted = false"
        } else {
            ""
        };
        let mut queries: Vec<SubRequest> = self
            .rules
            .iter()
            .map(|(reference, condition)| {
                SubRequest::query(
                    reference,
                    &format!(
                        "SELECT {} FROM {object} WHERE {condition}{live} ORDER BY LastModifiedDate DESC LIMIT 2",
                        self.selected.join(", ")
                    ),
                )
            })
            .collect();
        if let Some(condition) = &self.converted {
            queries.push(SubRequest::query(
                "conv",
                &format!(
                    "SELECT Id, ConvertedContactId FROM Lead WHERE {condition} AND IsConverted = true \
                     ORDER BY LastModifiedDate DESC LIMIT 1"
                ),
            ));
        }
        if let Some(condition) = &self.account {
            queries.push(SubRequest::query(
                "acct",
                &format!("SELECT Id FROM Account WHERE {condition} ORDER BY LastModifiedDate DESC LIMIT 1"),
            ));
        }
        queries
    }

    /// The person found by a later rule, or a converted Lead's Contact.
    fn match_after_first(&self, answers: &Responses) -> Option<Found> {
        let object = object_name(self.object);
        for (reference, _) in self.rules.iter().skip(1) {
            if let Some(row) = answers.get(reference).and_then(|a| a.records().first()) {
                return Some(Found {
                    object: object.to_string(),
                    id: row["Id"].as_str()?.to_string(),
                    row: row.clone(),
                });
            }
        }
        let converted = answers.get("conv")?.records().first()?;
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

/// `Name = '<company>'`-style condition for the first account rule the visitor has values for.
pub(crate) fn account_condition(event: &Event, settings: &TenantSettings) -> Option<String> {
    settings
        .identification
        .account
        .iter()
        .find_map(|rule| condition(rule, |f| account_value(event, f)))
}

/// The visitor's value for an Account field an account rule names.
pub(super) fn account_value(event: &Event, field: &str) -> Option<String> {
    let person = mapping::person_of(event);
    match field {
        "Name" => person.company,
        "Phone" => person.phone,
        _ => None,
    }
}

/// The visitor's value for a Contact or Lead field a rule names: CloudCX's own, not a
/// placeholder.
pub(super) fn person_value(fields: &Fields, placeholders: &[&str], field: &str) -> Option<String> {
    fields
        .get(field)
        .filter(|_| !placeholders.contains(&field))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// `A = 'x' AND B = 'y'` for a rule whose every field has a value; `None` otherwise.
pub(crate) fn condition(rule: &Rule, value_of: impl Fn(&str) -> Option<String>) -> Option<String> {
    let parts: Vec<String> = rule_values(rule, value_of)?
        .into_iter()
        .map(|(field, value)| format!("{field} = {}", quote(&value)))
        .collect();
    Some(parts.join(" AND "))
}

/// Each of a rule's fields with the visitor's value; `None` when one has none.
pub(super) fn rule_values(
    rule: &Rule,
    value_of: impl Fn(&str) -> Option<String>,
) -> Option<Vec<(String, String)>> {
    rule.0
        .iter()
        .map(|field| Some((field.0.clone(), value_of(&field.0)?)))
        .collect()
}

/// The fields with values of CloudCX's own (not placeholders).
pub(crate) fn without(fields: &Fields, placeholders: &[&str]) -> Fields {
    fields
        .iter()
        .filter(|(k, _)| !placeholders.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The fields Salesforce has no value for in `row` (fill_empty never overwrites).
pub(crate) fn empty_only(fields: &Fields, placeholders: &[&str], row: &Value) -> Fields {
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
pub(crate) fn repair(fields: &mut Fields, error: &SalesforceError) -> Vec<String> {
    let code = error.code.as_deref().unwrap_or_default();
    if !FIELD_ERRORS.contains(&code) {
        return Vec::new();
    }
    error
        .fields
        .iter()
        .filter_map(|field| {
            let value = fields.remove(field)?;
            Some(format!(
                "Salesforce refused {field} = {value} ({code}: {}); CloudCX wrote the record without it.",
                error.message
            ))
        })
        .collect()
}

/// The records about to be written for a chat, as repairs change them.
pub(super) struct Draft {
    pub act: mapping::Activity,
    pub person: Fields,
    /// Files go with the Case or Task (not at a chat's start).
    pub attach: bool,
}

impl Draft {
    /// Adds a note to the Description; keeps the whole transcript as a file if the note made
    /// the Description cut it.
    pub(super) fn note(&mut self, note: &str) {
        note_in(&mut self.act, note);
    }

    /// The Case or Task tied to `person` (an id or a reference), with its files.
    fn activity_requests(
        &self,
        chat: &Chat<'_>,
        activity: SyncObject,
        person: &str,
        account: Option<&str>,
    ) -> Vec<SubRequest> {
        let mut body = self.act.fields.clone();
        body.insert(link_field(activity).into(), json!(person));
        if let Some(account) = account {
            body.insert("AccountId".into(), json!(account));
        }
        let mut requests = vec![chat.write_activity(activity, body)];
        if self.attach {
            requests.extend(files(
                chat.event,
                self.act.transcript_file.as_ref(),
                "@{act.id}",
            ));
        }
        requests
    }
}

/// Adds a note to a Case's or Task's Description; keeps the whole transcript as a file if the
/// note made the Description cut it.
fn note_in(act: &mut mapping::Activity, note: &str) {
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

/// The ContentVersion subrequests for the event's attachments and the whole transcript.
fn files(event: &Event, transcript: Option<&TextFile>, parent: &str) -> Vec<SubRequest> {
    let mut files: Vec<(String, String)> = mapping::parts_of(event)
        .attachments
        .iter()
        .map(|a| (a.name.clone(), a.data_base64.clone()))
        .collect();
    if let Some(file) = transcript {
        use base64::Engine;
        let data = base64::engine::general_purpose::STANDARD.encode(file.content.as_bytes());
        files.push((file.name.clone(), data));
    }
    files
        .into_iter()
        .enumerate()
        .map(|(i, (name, data))| {
            SubRequest::create(
                &format!("file{i}"),
                "ContentVersion",
                json!({"Title": name, "PathOnClient": name, "VersionData": data,
                       "FirstPublishLocationId": parent}),
            )
        })
        .collect()
}

pub(crate) fn agent_email(event: &Event) -> Option<&str> {
    mapping::parts_of(event)
        .agent
        .and_then(|a| a.email.as_deref())
}

/// The Subject with the chat's key at its end, within Salesforce's 255 (UTF-16) characters.
fn with_key(subject: &str, key: &str) -> String {
    let room = mapping::SUBJECT_MAX_CHARS.saturating_sub(utf16_len(key) + 1);
    format!("{} {key}", cut(subject, room, |_| "…".to_string()))
}

/// Where a person sees a record in Salesforce's Lightning UI.
pub(crate) fn lightning_url(instance: &str, object: &str, id: &str) -> String {
    format!("{instance}/lightning/r/{object}/{id}/view")
}

pub(crate) fn object_name(object: SyncObject) -> &'static str {
    match object {
        SyncObject::Lead => "Lead",
        SyncObject::Contact => "Contact",
        SyncObject::Case => "Case",
        SyncObject::Task => "Task",
    }
}

/// The field that ties the Case or Task to its person.
pub(super) fn link_field(activity: SyncObject) -> &'static str {
    match activity {
        SyncObject::Case => "ContactId",
        _ => "WhoId",
    }
}

fn retry(reason: &str) -> Stop {
    Stop::Outcome(Outcome::Retry {
        reason: reason.into(),
        maybe_applied: false,
    })
}

/// The local store failed: try again later; nothing was sent.
fn retry_local(e: crate::queue::QueueError) -> Stop {
    retry(&e.to_string())
}

/// What a failed call means for the event. `wrote`: the call carried writes, so a lost answer
/// may hide an applied write.
pub(super) fn stop_for(e: &ConnectionError, wrote: bool) -> Stop {
    match e {
        ConnectionError::NotConnected | ConnectionError::NeedsReconnect { .. } => {
            Stop::Hold(Hold::UntilResumed(e.to_string()))
        }
        _ => match (e.api_error(), salesforce_error(e)) {
            (_, Some(error)) => stop_for_salesforce(error, wrote),
            (Some(ApiError::Transport(t)), None) => Stop::Outcome(Outcome::Retry {
                reason: e.to_string(),
                maybe_applied: wrote && t.may_have_been_sent(),
            }),
            _ => Stop::Outcome(Outcome::Retry {
                reason: e.to_string(),
                maybe_applied: wrote,
            }),
        },
    }
}

pub(super) fn stop_for_salesforce(error: &SalesforceError, wrote: bool) -> Stop {
    match error.disposition() {
        Disposition::RateLimited => Stop::Hold(Hold::Until(
            SystemTime::now() + LIMIT_PAUSE,
            format!("Salesforce's API limit is reached: {}", error.message),
        )),
        Disposition::Retry | Disposition::RefreshSession => Stop::Outcome(Outcome::Retry {
            reason: error.to_string(),
            // Salesforce answered: a failed write was not applied (composite rolls back).
            maybe_applied: wrote && error.status >= 500,
        }),
        Disposition::Permanent => Stop::Outcome(Outcome::Failed {
            code: error
                .code
                .clone()
                .unwrap_or_else(|| format!("HTTP_{}", error.status)),
            message: error.message.clone(),
        }),
    }
}
