//! The sync engine: turns a tenant's queued events into Salesforce records, in as few API calls
//! as it can.
//!
//! For each event it works out what the tenant's settings ask ([`Work`]); the planner
//! ([`super::plan`]) says what to send, this executor sends it and reads the answers:
//!
//! 1. One composite request looks the visitor up by every identification rule (and the
//!    Account, a converted Lead, the agent's User when not cached) and, optimistically, writes
//!    the Case or Task (with its files) onto the first rule's match by reference. A known
//!    visitor costs that one call.
//! 2. When the first rule found nothing, a second composite request (all or none) writes onto
//!    another rule's match, or creates the Contact or Lead with the Case or Task.
//!
//! Exactly once: the Case or Task a chat became is remembered in the queue's store as soon as
//! Salesforce names it, and its Subject carries a key (`[CloudCX tenant/chat]`); when a
//! request's answer was lost (the write may have been applied), the engine looks for that key
//! before writing again. When the org has an external-ID field `CloudCX_Key__c` on Case or
//! Task ([`super::describe::KEY_FIELD`]), the engine writes them by upsert on `tenant/chat`
//! instead. Once the Case or Task exists, nothing writes it again: what is still owed to it
//! (files beyond one request, a refused update of the visitor, a fill-empty, notes) is a
//! follow-up on the record ([`FollowUp`]), and files are read back by their markers before
//! being sent again ([`super::files`]).
//!
//! A chat's start (a `*_started` trigger) leaves, beside its Case or Task, what it wrote (its
//! owner, the Contact or Lead it made): the chat's end completes that record whatever the
//! trigger is by then, and gives the person the start made, in the same request, what only the
//! end knows (the ending agent as owner, values in place of placeholders). A person found is left
//! to the match policy. The memory goes with the completion: an end delivered again is a record
//! written already.
//!
//! Several chats to create in one batch (after an outage, or a burst) are written together,
//! a few calls for up to 200 of them: see [`super::batch`]. There a chat's Contact or Lead is
//! made in a request before its Case or Task, and remembered for the chat: a retry writes the
//! Case or Task to it without looking for the visitor again (`Chat::made_person`).
//!
//! A field Salesforce rejects (an invalid email, a bad picklist value...) does not lose the
//! chat: the record is written without it and the Description says what was dropped and why.
//! A file Salesforce refuses does not fail the chat either: the Description says which file
//! was not attached and why, and the log warns.

use std::sync::Arc;
use std::time::SystemTime;

use serde_json::{json, Value};

use super::api::{salesforce_error, DataApi, Responses, SubRequest, SubResponse, MAX_SUBREQUESTS};
use super::batch;
use super::ceiling::{HeldOn, LIMIT_PAUSE};
use super::describe::{Describes, KEY_FIELD};
use super::description::utf16_len;
use super::files::{markers_in, markers_query};
use super::mapping::{self, Fields};
use super::outage::Outages;
use super::owners::OwnerCache;
use super::plan::{
    self, case_only_round, completion, first_round, later_lookups, match_update, note_several,
    person_value, repair, rule_values, second_round, with_key, Draft, Found, Lookups, Owner, Part,
    ACCOUNT_QUERY, ACT, PERSON,
};
use super::soql_text::{like_escaped, quote};
use crate::events::{self, Event, EventKind};
use crate::oauth::{ConnectionError, Connections};
use crate::queue::{ActivityRecord, Queue, QueuedEvent, Started};
use crate::salesforce::{ApiError, Disposition, SalesforceError, TransportErrorKind};
use crate::settings::{OnMatch, SyncObject, TenantSettings};
use crate::workers::{Delivery, Hold, Outcome, StopSignal, WrittenRecord};

pub use super::plan::{
    account_condition, condition, empty_only, link_field, object_name, without, work_for,
    work_for_retry, Phase, Work,
};

/// Rejected fields dropped from one record before giving up on it.
pub(crate) const MAX_REPAIRS: usize = 5;

/// Chats to create in one batch from which they are written together (see [`batch`]).
const BATCH_MIN: usize = 3;

pub struct SyncEngine {
    queue: Arc<Queue>,
    pub(super) connections: Arc<Connections>,
    api_version: String,
    pub(super) owners: OwnerCache,
    pub(super) describes: Describes,
    pub(super) held_on: HeldOn,
    pub(super) outages: Outages,
}

/// Why an event's delivery stopped: the outcome to record, or a hold for the whole tenant.
pub(crate) enum Stop {
    Outcome(Outcome),
    /// Before the event wrote anything: it stays queued as it was.
    Hold(Hold),
    /// After the event's writes went out (its Case or Task is written, files may be on it): it
    /// is retried as maybe applied, so that its retry reads what is on the record first.
    HoldAfterWrites(Hold),
}

impl Stop {
    /// The tenant's hold, if any, and the event's own outcome, if it has one.
    pub(super) fn split(self) -> (Option<Hold>, Option<Outcome>) {
        match self {
            Stop::Outcome(outcome) => (None, Some(outcome)),
            Stop::Hold(hold) => (Some(hold), None),
            Stop::HoldAfterWrites(hold) => {
                let outcome = Outcome::Retry {
                    reason: held_because(&hold).to_string(),
                    maybe_applied: true,
                };
                (Some(hold), Some(outcome))
            }
        }
    }
}

pub(super) fn held_because(hold: &Hold) -> &str {
    match hold {
        Hold::Until(_, why) | Hold::UntilResumed(why) => why,
    }
}

pub(crate) type Step<T> = Result<T, Stop>;

/// A queued event with work to do.
pub(super) struct Job {
    pub seq: u64,
    pub event: Event,
    pub maybe_applied: bool,
    /// Tried before: its files may be on its record already, whatever the last outcome said.
    pub tried: bool,
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
            owners: OwnerCache::default(),
            describes: Describes::default(),
            held_on: HeldOn::default(),
            outages: Outages::default(),
        }
    }

    /// Delivers a batch of one tenant's events, stopping at a hold: the chats to create
    /// together when there are several, then the others in order. Salesforce found unavailable
    /// holds the tenant too ([`super::outage`]).
    pub fn deliver(
        &self,
        tenant: &str,
        settings: &TenantSettings,
        batch: &[QueuedEvent],
        stop: &StopSignal,
    ) -> Delivery {
        let mut delivery = Delivery::default();
        let calls = self.outages.mark(tenant);
        if let Err(hold) = self.admit(tenant, settings) {
            delivery.hold = Some(hold);
            return delivery;
        }
        // Read once per org, for the lengths (see `Chat::fit`); without it, Salesforce's own
        // checks remain.
        let _ = self.schema(tenant);
        // The look at the usage or the describe found Salesforce unavailable: no chat goes.
        if let Some(hold) = self.outage_hold(tenant, &calls) {
            delivery.hold = Some(hold);
            return delivery;
        }
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
        let (together, mut single): (Vec<&Job>, Vec<&Job>) = jobs
            .iter()
            .partition(|job| !job.maybe_applied || self.keyed(tenant, job.activity));
        // Set once a call found Salesforce unavailable: the chats not tried yet wait for it.
        let mut outage = None;
        if together.len() >= BATCH_MIN && !stop.is_set() {
            single.extend(batch::deliver(
                self,
                tenant,
                settings,
                &together,
                &mut delivery,
            ));
            outage = self.outage_hold(tenant, &calls);
        } else {
            single.extend(together);
        }
        single.sort_by_key(|job| job.seq);
        let mut refreshed = false;
        for job in single {
            if stop.is_set() || delivery.hold.is_some() || outage.is_some() {
                break;
            }
            let (hold, outcome) = match self.write_job(tenant, settings, job, &mut refreshed) {
                Ok(outcome) => (None, Some(outcome)),
                Err(stop) => stop.split(),
            };
            delivery
                .outcomes
                .extend(outcome.map(|outcome| (job.seq, outcome)));
            delivery.hold = hold;
            outage = self.outage_hold(tenant, &calls);
        }
        if delivery.outcomes.iter().any(|(_, o)| unknown_field(o)) {
            // The org changed under the describe: read it again next time.
            self.forget_schema(tenant);
        }
        if let Some(Hold::Until(..)) = delivery.hold {
            // Salesforce's own limit: the usage known now is stale once the pause ends.
            self.remember_hold(tenant);
        }
        // Not before: an outage says nothing of the usage.
        delivery.hold = delivery.hold.or(outage);
        if delivery.outcomes.is_empty() && delivery.hold.is_none() {
            // Stopped before the first event: it stays queued, as it was.
            delivery.hold = Some(shutting_down());
        }
        if delivery.hold.is_none() {
            delivery.hold = self.after_delivery(tenant, settings);
        }
        delivery
    }

    /// Writes one chat; when Salesforce names a field the org does not have (the first time in
    /// a delivery), reads the org's describe again and tries once more: the describe may have
    /// promised a field (the key field, say) that is gone.
    fn write_job(
        &self,
        tenant: &str,
        settings: &TenantSettings,
        job: &Job,
        refreshed: &mut bool,
    ) -> Step<Outcome> {
        let write = || {
            let chat = self.chat(tenant, settings, job);
            let written = chat.write(job.person, job.activity, job.phase)?;
            Ok(chat.delivered(written.records))
        };
        let failed = match write() {
            Ok(outcome) | Err(Stop::Outcome(outcome)) if unknown_field(&outcome) => outcome,
            other => return other,
        };
        if *refreshed {
            return Ok(failed);
        }
        *refreshed = true;
        if let Outcome::Failed { message, .. } = &failed {
            log::info!(
                "tenant {tenant}: Salesforce named a field the org does not have ({message}); \
                 reading the org's describe again"
            );
        }
        self.forget_schema(tenant);
        let _ = self.schema(tenant);
        write()
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
            files_unsure: job.tried,
            settled_later: true,
            api: self.api(tenant),
        }
    }

    /// Remembers the Contacts and Leads made for chats (chat id, record), on disk before the
    /// next call (see [`Chat::made_person`]). A failure is logged: the chats go on to their
    /// Cases and Tasks all the same, and only a retry of them could make their people again.
    pub(super) fn remember_people(&self, tenant: &str, people: &[(&str, ActivityRecord)]) {
        if people.is_empty() {
            return;
        }
        if let Err(e) = self.queue.remember_people(tenant, people) {
            log::error!(
                "tenant {tenant}: the people made for {} chats could not be remembered: {e}",
                people.len()
            );
        }
    }

    /// Drops what is known about the tenant's org (owners, the records chats became): the
    /// tenant reconnected to another org.
    pub fn forget_org(&self, tenant: &str) -> Result<(), crate::queue::QueueError> {
        self.owners.forget(tenant);
        self.held_on.forget(tenant);
        self.queue.forget_activities(tenant)
    }

    /// Writes a chat's Case or Task now, as automatic mode would (the agent console's manual
    /// create). `key_id` stands for the chat's id in the Subject's key and in the memory of what
    /// the chat became, so that a manual record is remembered apart from the automatic one.
    /// Answers the person and the Case or Task when it wrote them; the Case or Task alone when
    /// an earlier write had made it.
    ///
    /// A write started before for `key_id` that did not end (marked on disk, across restarts)
    /// may have been applied, its answer lost, or left its record without all its files: this
    /// one looks for the record's key first (unless it is remembered), as automatic mode does
    /// after a lost answer, and sends the files the record lacks. A first write costs no look.
    pub(crate) fn write_now(
        &self,
        tenant: &str,
        settings: &TenantSettings,
        event: &Event,
        key_id: &str,
        person: Option<SyncObject>,
        activity: SyncObject,
    ) -> Step<Written> {
        let started_before = self
            .queue
            .start_write(tenant, key_id)
            .map_err(retry_local)?;
        let chat = Chat {
            engine: self,
            tenant,
            settings,
            event,
            key_id,
            maybe_applied: started_before,
            files_unsure: started_before,
            settled_later: false,
            api: self.api(tenant),
        };
        let written = chat.write(person, activity, Phase::Create)?;
        // Whole, files and all: the next click answers it without a look.
        if let Err(e) = self.queue.end_write(tenant, key_id) {
            log::warn!("tenant {tenant}: the end of the write for {key_id} was not recorded: {e}");
        }
        Ok(written)
    }

    /// The owner of a chat's Case or Task as its end makes it: the ending agent's User (looked
    /// up already), else the connecting user; `None` when the end names no agent (the owner
    /// stays as the start made it).
    pub(super) fn ending_owner(&self, tenant: &str, event: &Event) -> Option<String> {
        let email = agent_email(event)
            .map(str::trim)
            .filter(|e| !e.is_empty())?;
        self.known_owner(tenant, email).flatten().or_else(|| {
            let status = self.connections.status(tenant).ok()?;
            Some(status.identity?.user_id)
        })
    }

    pub(crate) fn api<'a>(&'a self, tenant: &'a str) -> DataApi<'a> {
        DataApi {
            connections: &self.connections,
            tenant,
            version: &self.api_version,
            outages: &self.outages,
        }
    }
}

/// Salesforce named a field the org does not have: one the chat maps, or the key field an
/// upsert names (`NOT_FOUND`, "Provided external ID field does not exist or is not
/// accessible").
fn unknown_field(outcome: &Outcome) -> bool {
    match outcome {
        Outcome::Failed { code, message } => {
            code == "INVALID_FIELD"
                || (code == "NOT_FOUND" && message.contains("external ID field does not exist"))
        }
        _ => false,
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
    let work = if queued.meta.maybe_applied {
        work_for_retry(&event, settings)
    } else {
        work_for(&event, settings)
    };
    let Work::Write {
        person,
        activity,
        phase,
    } = work
    else {
        return Ok(None);
    };
    Ok(Some(Job {
        seq: queued.seq,
        maybe_applied: queued.meta.maybe_applied,
        tried: queued.meta.maybe_applied || queued.meta.last_error.is_some(),
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
    /// Files may be on the record already (an earlier attempt): read their markers first.
    files_unsure: bool,
    /// A queued event, settled in the queue after the write: what it became is remembered
    /// without a flush of its own (the settlement's commit makes it durable).
    settled_later: bool,
    api: DataApi<'a>,
}

/// The records a write made (object, id; the person first), for the host's notifications or
/// the agent.
pub(crate) struct Written {
    pub records: Vec<(String, String)>,
    /// The Case or Task was made before this write (by an earlier try, whose answer may have
    /// been lost): remembered here, found by its key, or named by an upsert's `created: false`.
    pub already_made: bool,
}

impl Written {
    /// `records` written now, unless `act` (the Case's or Task's answer) says the upsert found
    /// it made already.
    fn by(records: Vec<(String, String)>, act: Option<&SubResponse>) -> Written {
        Written {
            records,
            already_made: act.is_some_and(SubResponse::existed),
        }
    }
}

impl Chat<'_> {
    fn write(
        &self,
        person: Option<SyncObject>,
        activity: SyncObject,
        phase: Phase,
    ) -> Step<Written> {
        let Some(done) = self.known_activity(person, activity, phase)? else {
            return self.create(person, activity, phase);
        };
        match phase {
            Phase::Complete => self.complete(person, activity, &done)?,
            _ if self.end_owed(phase)? => self.complete(person, activity, &done)?,
            // Written before (a delivery repeated after a lost answer or a crash): only files
            // may be missing.
            Phase::Create if self.files_unsure => {
                let mut draft = self.draft(activity, phase);
                self.follow_up(FollowUp::on(&done), &mut draft)?;
            }
            Phase::Create | Phase::Start => {}
        }
        Ok(Written {
            records: vec![(done.object, done.id)],
            already_made: true,
        })
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

    /// The value of [`KEY_FIELD`] for the chat: `tenant/chat`.
    pub(super) fn key_value(&self) -> String {
        chat_key(self.tenant, self.key_id)
    }

    fn keyed(&self, activity: SyncObject) -> bool {
        self.engine.keyed(self.tenant, activity)
    }

    /// The key in the Subject of the Case or Task a chat became.
    fn key(&self) -> String {
        format!("[CloudCX {}]", self.key_value())
    }

    /// The Case or Task already written for this chat: remembered locally, or, when a lost
    /// answer may hide a write, found by its key.
    pub(super) fn known_activity(
        &self,
        person: Option<SyncObject>,
        activity: SyncObject,
        phase: Phase,
    ) -> Step<Option<ActivityRecord>> {
        if let Some(known) = self.remembered_activity()? {
            return Ok(Some(known));
        }
        let object = object_name(activity);
        let keyed = self.keyed(activity);
        // Salesforce is asked only when a lost answer may hide a write, or when the record made
        // at a chat's start is not remembered here (another host made it, say). With the key
        // field, writing again finds the record by itself (upsert), unless files go with it:
        // those already on it must be known first. Nor does it find the person a lost write
        // made with the record: one the rules cannot find again would be made twice.
        let soql = if keyed {
            let files = !self
                .draft(activity, phase)
                .pending_files(self.event, &self.key_value())
                .is_empty();
            let unfindable = self.maybe_applied && person.is_some_and(|p| self.unfindable(p));
            if !(unfindable || self.files_unsure && files) {
                return Ok(None);
            }
            format!(
                "SELECT Id FROM {object} WHERE {KEY_FIELD} = {} LIMIT 1",
                quote(&self.key_value())
            )
        } else {
            if !self.maybe_applied && phase != Phase::Complete {
                return Ok(None);
            }
            format!(
                "SELECT Id FROM {object} WHERE Subject LIKE '%{}' ORDER BY CreatedDate, Id LIMIT 1",
                like_escaped(&self.key())
            )
        };
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

    /// Whether the identification rules cannot find the visitor as `object`: the visitor has
    /// no value for any of them.
    fn unfindable(&self, object: SyncObject) -> bool {
        let fields = mapping::person_fields(object, self.event, self.settings);
        let placeholders = mapping::placeholder_fields(object, self.event, self.settings);
        let ident = &self.settings.identification;
        let rules = match object {
            SyncObject::Lead => &ident.lead,
            _ => &ident.contact,
        };
        rules.iter().all(|rule| {
            rule_values(rule, |f| {
                person_value(self.event, &fields, &placeholders, f)
            })
            .is_none()
        })
    }

    /// The Case or Task this chat became, as remembered here.
    pub(super) fn remembered_activity(&self) -> Step<Option<ActivityRecord>> {
        self.engine
            .queue
            .activity(self.tenant, self.key_id)
            .map_err(retry_local)
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

    /// The Contact or Lead (`object`) an earlier try made for this chat apart from its Case or
    /// Task (the batch's way), if one did: the chat's person, whatever the rules would find
    /// now (a visitor with no value for any rule would get a second one).
    pub(super) fn made_person(&self, object: SyncObject) -> Step<Option<ActivityRecord>> {
        let made = self
            .engine
            .queue
            .person(self.tenant, self.key_id)
            .map_err(retry_local)?;
        Ok(made.filter(|person| person.object == object_name(object)))
    }

    /// Remembers the Case or Task just written; when the local store fails, the retry must
    /// look for it in Salesforce.
    pub(super) fn remembered(&self, object: &str, id: &str) -> Step<ActivityRecord> {
        let record = ActivityRecord {
            object: object.into(),
            id: id.into(),
        };
        self.remember(&record).map_err(written)?;
        Ok(record)
    }

    /// For a chat whose Case or Task is written already, as this `phase` meets it: whether it
    /// is a chat's end to complete it (made at the chat's start, the trigger changed since: the
    /// end completes it all the same, never a second record, never the end's content dropped).
    /// A start whose answer was lost, its record found again, remembers that its end is owed
    /// (the person it may have made is not known).
    pub(super) fn end_owed(&self, phase: Phase) -> Step<bool> {
        match phase {
            Phase::Create => Ok(self.started()?.is_some()),
            Phase::Start if self.maybe_applied && self.started()?.is_none() => {
                self.remember_started(Started::default())?;
                Ok(false)
            }
            Phase::Start | Phase::Complete => Ok(false),
        }
    }

    /// What the chat's start wrote, while its end has not completed it.
    pub(super) fn started(&self) -> Step<Option<Started>> {
        self.engine
            .queue
            .started(self.tenant, self.key_id)
            .map_err(retry_local)
    }

    /// Remembers what the chat's start wrote, once its Case or Task is remembered; when the
    /// local store fails, the start's retry finds its record by its key.
    fn remember_started(&self, started: Started) -> Step<()> {
        self.engine
            .queue
            .remember_started(self.tenant, self.key_id, &started)
            .map_err(|e| written(retry_local(e)))
    }

    /// At a chat's start, once its Case or Task is remembered: remembers what the start
    /// wrote (the owner, the person it `made` and what it knew of them) for the chat's end.
    pub(super) fn after_start(
        &self,
        phase: Phase,
        draft: &Draft,
        made: Option<(ActivityRecord, Vec<String>)>,
    ) -> Step<()> {
        if phase != Phase::Start {
            return Ok(());
        }
        self.remember_started(Started {
            owner: owned_by(draft),
            made,
        })
    }

    /// Forgets what the chat's start wrote, its record completed: a repeated end is then a
    /// record written already. A failure is logged: a repeated end would complete it again,
    /// the same way.
    pub(super) fn forget_started(&self) {
        if let Err(e) = self.engine.queue.forget_started(self.tenant, self.key_id) {
            log::warn!(
                "tenant {}: the completion of {} was not recorded: {e}",
                self.tenant,
                self.key_id
            );
        }
    }

    /// The update, at the chat's end, of the Contact or Lead (`person`) its start made: the
    /// visitor's values the start lacked, and the ending agent's `owner` when it is not the
    /// start's (object, id, fields). `None` when the start made none (a person found is left to
    /// the match policy) or the end knows nothing more. The person's values go in `draft`.
    pub(super) fn finish_made(
        &self,
        person: Option<SyncObject>,
        started: Option<&Started>,
        owner: Option<&str>,
        draft: &mut Draft,
    ) -> Option<(String, String, Fields)> {
        let (object, started) = person.zip(started)?;
        let (made, known) = started.made.as_ref()?;
        if made.object != object_name(object) {
            return None;
        }
        let placeholders = self.person(object, draft);
        let fields = plan::finish_made(
            &draft.person,
            &placeholders,
            known,
            owner,
            started.owner.as_deref(),
        );
        (!fields.is_empty()).then(|| (made.object.clone(), made.id.clone(), fields))
    }

    /// Completes, at the chat's end, the Case or Task made at its start: its fields (the
    /// owner as the ending agent makes it), and in the same request what only the end knows
    /// for the Contact or Lead the start made; then its files.
    fn complete(
        &self,
        person: Option<SyncObject>,
        activity: SyncObject,
        record: &ActivityRecord,
    ) -> Step<()> {
        let mut draft = self.draft(activity, Phase::Complete);
        self.engine.owner(&self.api, agent_email(self.event))?;
        let owner = self.engine.ending_owner(self.tenant, self.event);
        let started = self.started()?;
        let made = self.finish_made(person, started.as_ref(), owner.as_deref(), &mut draft);
        let mut update = completion(&draft);
        if let Some(owner) = owner {
            update.insert("OwnerId".into(), json!(owner));
        }
        let follow = FollowUp {
            update,
            essential: true,
            person: made,
            ..FollowUp::after(record, &draft)
        };
        self.follow_up(follow, &mut draft)?;
        if started.is_some() {
            self.forget_started();
        }
        Ok(())
    }

    /// What the chat's Case or Task is to be: its fields (the Subject with the chat's key,
    /// values cut to their fields) and, but at a chat's start, its files.
    pub(super) fn draft(&self, activity: SyncObject, phase: Phase) -> Draft {
        let mut act = self.activity(activity);
        if phase == Phase::Start {
            // The transcript and files come with the chat's end.
            act.transcript_file = None;
        }
        Draft::new(act, phase != Phase::Start)
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
            plan::note_in(&mut made, &note);
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
        let Some(schema) = self.engine.cached_schema(self.tenant) else {
            return Vec::new();
        };
        mapping::fit_lengths(fields, &|field| schema.length(object_of(field)?, field))
    }

    fn plan<'a>(&'a self, activity: SyncObject, owner: &'a Owner, key: &'a str) -> plan::Chat<'a> {
        plan::Chat {
            event: self.event,
            settings: self.settings,
            key,
            activity,
            upsert: self.keyed(activity),
            owner,
        }
    }

    /// Finds or creates the person and writes the Case or Task.
    fn create(
        &self,
        person: Option<SyncObject>,
        activity: SyncObject,
        phase: Phase,
    ) -> Step<Written> {
        let mut owner = self
            .engine
            .owner_state(self.tenant, agent_email(self.event));
        let mut draft = self.draft(activity, phase);
        if let Some(id) = owner.known() {
            draft.act.fields.insert("OwnerId".into(), json!(id));
        }
        let Some(person) = person else {
            return self.create_case_only(draft, &mut owner, phase);
        };
        let placeholders = self.person(person, &mut draft);
        let lookups = Lookups::new(
            self.event,
            self.settings,
            person,
            &draft.person,
            &placeholders,
            &owner,
        );
        let key = self.key_value();
        let act_object = object_name(activity);
        // A person an earlier try made for the chat: no lookup, the Case or Task goes to it.
        let made = self.made_person(person)?.map(|made| Found {
            object: made.object,
            id: made.id,
            // Its values are the chat's already: left as they are.
            row: Value::Null,
        });
        let mut answers = Responses(Vec::new());
        if made.is_none() {
            // Round 1: look up, and write onto the first rule's match by reference.
            for attempt in 0..=MAX_REPAIRS {
                let chat = self.plan(activity, &owner, &key);
                let round = first_round(&chat, &lookups, &draft, &placeholders);
                if round.is_empty() {
                    break;
                }
                answers = self.run(&round, false)?;
                self.learn_owner(&mut owner, &answers, &mut draft);
                let act = answers.get(ACT);
                if act.is_some_and(|a| a.ok()) {
                    break;
                }
                if let Some(error) = act.and_then(|a| a.own_error()) {
                    if attempt == MAX_REPAIRS {
                        return Err(too_many_repairs());
                    }
                    repair_or_stop(&mut draft, Part::Act, &error)?;
                    continue;
                }
                // Not written: the first rule found nobody, unless a lookup failed.
                if let Some(error) = answers.first_error() {
                    return Err(stop_for_salesforce(&error, false));
                }
                break;
            }
            if let Some(id) = answers.get(ACT).filter(|a| a.ok()).and_then(|a| a.id()) {
                let record = self.remembered(act_object, id)?;
                self.after_start(phase, &draft, None)?;
                note_several(&answers, "p0", object_name(person), &self.event.id);
                let found = answers
                    .get("p0")
                    .and_then(|p| p.records().first())
                    .cloned()
                    .unwrap_or_default();
                let person_id = found["Id"].as_str().unwrap_or_default().to_string();
                let mut follow = FollowUp::after(&record, &draft);
                self.settle_round_files(&answers, &mut draft);
                let update = match (self.settings.on_match, answers.get(PERSON)) {
                    (OnMatch::FillEmpty, _) => match_update(
                        OnMatch::FillEmpty,
                        true,
                        &draft.person,
                        &placeholders,
                        &found,
                    ),
                    // The overwrite refused: what is left of it goes again.
                    (_, Some(sent)) if !sent.ok() => {
                        let mut update = plan::without(&draft.person, &placeholders);
                        match sent.own_error() {
                            Some(error) if error.disposition() == Disposition::Permanent => {
                                self.repair_or_note(&mut update, &mut draft, &error, &person_id)
                            }
                            _ => update,
                        }
                    }
                    _ => Fields::new(),
                };
                if !update.is_empty() {
                    follow.person = Some((object_name(person).into(), person_id.clone(), update));
                }
                self.follow_up(follow, &mut draft)?;
                let records = vec![
                    (object_name(person).into(), person_id),
                    (record.object, record.id),
                ];
                return Ok(Written::by(records, answers.get(ACT)));
            }

            // The lookups round 1 had no room for, then round 2 (all or none): another rule's
            // match, a converted Lead's Contact, or a new person.
            for queries in later_lookups(&lookups) {
                if lookups.later_rule_matched(&answers) {
                    break;
                }
                let more = self.run(&queries, false)?;
                if let Some(error) = more.first_error() {
                    return Err(stop_for_salesforce(&error, false));
                }
                answers.0.extend(more.0);
            }
        }
        let made_before = made.is_some();
        let existing = made.or_else(|| lookups.match_after_first(&answers, &self.event.id));
        let account = answers
            .get(ACCOUNT_QUERY)
            .and_then(|a| a.records().first())
            .and_then(|r| r["Id"].as_str())
            .map(str::to_string);
        if let Owner::Ask(email) = &owner {
            // The round's own lookup of the agent did not answer: ask apart.
            let found = self.engine.owner(&self.api, Some(email))?;
            owner = Owner::Known(found);
        }
        if let Some(id) = owner.known() {
            draft.act.fields.insert("OwnerId".into(), json!(id));
        }
        let mut answers = Responses(Vec::new());
        for _ in 0..=MAX_REPAIRS {
            let chat = self.plan(activity, &owner, &key);
            let round = second_round(
                &chat,
                person,
                &draft,
                &placeholders,
                existing.as_ref(),
                account.as_deref(),
            );
            answers = self.run(&round, true)?;
            if answers.get(ACT).is_some_and(|a| a.ok()) {
                break;
            }
            let Some(failed) = answers.0.iter().find(|a| a.own_error().is_some()) else {
                return Err(retry("Salesforce wrote nothing and named no error"));
            };
            let error = failed.own_error().expect("found by its error");
            match failed.reference.as_str() {
                PERSON => repair_or_stop(&mut draft, Part::Person, &error)?,
                ACT => repair_or_stop(&mut draft, Part::Act, &error)?,
                // A file refused: the records go without files, which follow on their own.
                _ if draft.files_in_round => draft.files_in_round = false,
                _ => return Err(stop_for_salesforce(&error, false)),
            }
        }
        let id = answers
            .get(ACT)
            .filter(|a| a.ok())
            .and_then(|a| a.id())
            .ok_or_else(too_many_repairs)?;
        let record = self.remembered(act_object, id)?;
        let (person_object, person_id) = match &existing {
            Some(found) => (found.object.clone(), found.id.clone()),
            None => (
                object_name(person).to_string(),
                answers
                    .get(PERSON)
                    .and_then(|p| p.id())
                    .unwrap_or_default()
                    .to_string(),
            ),
        };
        // A person found is left to the match policy; one made for the chat is finished at
        // its end.
        let made = (existing.is_none() || made_before).then(|| {
            let made = ActivityRecord {
                object: person_object.clone(),
                id: person_id.clone(),
            };
            (made, plan::known_fields(&draft.person, &placeholders))
        });
        self.after_start(phase, &draft, made)?;
        let follow = FollowUp::after(&record, &draft);
        self.settle_round_files(&answers, &mut draft);
        draft.files_in_round = true;
        self.follow_up(follow, &mut draft)?;
        let records = vec![(person_object, person_id), (record.object, record.id)];
        Ok(Written::by(records, answers.get(ACT)))
    }

    /// A Case without a Contact, in the visitor's Account when one matches.
    fn create_case_only(&self, mut draft: Draft, owner: &mut Owner, phase: Phase) -> Step<Written> {
        let key = self.key_value();
        let mut answers = Responses(Vec::new());
        for _ in 0..=MAX_REPAIRS {
            let chat = self.plan(SyncObject::Case, owner, &key);
            answers = self.run(&case_only_round(&chat, &draft), false)?;
            self.learn_owner(owner, &answers, &mut draft);
            match answers.get(ACT) {
                Some(act) if act.ok() => break,
                Some(act) => match act.own_error() {
                    Some(error) => repair_or_stop(&mut draft, Part::Act, &error)?,
                    None => return Err(retry("the Case was not written")),
                },
                None => return Err(retry("the Case was not written")),
            }
        }
        let id = answers
            .get(ACT)
            .filter(|a| a.ok())
            .and_then(|a| a.id())
            .ok_or_else(too_many_repairs)?;
        let record = self.remembered("Case", id)?;
        self.after_start(phase, &draft, None)?;
        let follow = FollowUp::after(&record, &draft);
        self.settle_round_files(&answers, &mut draft);
        self.follow_up(follow, &mut draft)?;
        Ok(Written::by(
            vec![(record.object, record.id)],
            answers.get(ACT),
        ))
    }

    /// Caches the owner a round's query found, and gives it to the draft for the next round.
    fn learn_owner(&self, owner: &mut Owner, answers: &Responses, draft: &mut Draft) {
        let Owner::Ask(email) = owner.clone() else {
            return;
        };
        owner.learn(answers);
        if let Owner::Known(found) = owner {
            self.engine.learn_owner(self.tenant, &email, found.clone());
            if let Some(id) = found {
                draft.act.fields.insert("OwnerId".into(), json!(id));
            }
        }
    }

    /// A refused update of a found person, after its Case or Task was written: the update
    /// without the refused fields, or nothing (noted) when the refusal is not about a field.
    fn repair_or_note(
        &self,
        update: &mut Fields,
        draft: &mut Draft,
        error: &SalesforceError,
        person_id: &str,
    ) -> Fields {
        let notes = repair(update, error);
        if notes.is_empty() {
            draft.note(&format!(
                "Salesforce refused the update of the visitor's record {person_id} ({}: {}); \
                 CloudCX left it as it was.",
                error.code.as_deref().unwrap_or("ERROR"),
                error.message
            ));
            return Fields::new();
        }
        for note in notes {
            draft.note(&note);
        }
        std::mem::take(update)
    }

    /// Marks the files a round attached; a file refused for a reason of its own is given up
    /// and noted, the others stay owed.
    fn settle_round_files(&self, answers: &Responses, draft: &mut Draft) {
        for file in draft.pending_files(self.event, &self.key_value()) {
            let Some(answer) = answers.get(&file.reference) else {
                continue;
            };
            if answer.ok() {
                draft.settled_files.push(file.marker);
            } else if let Some(error) = answer.own_error() {
                if error.disposition() == Disposition::Permanent {
                    self.give_up_file(draft, &file.name, &file.marker, &error);
                }
            }
        }
    }

    fn give_up_file(&self, draft: &mut Draft, name: &str, marker: &str, error: &SalesforceError) {
        let why = format!(
            "{}: {}",
            error.code.as_deref().unwrap_or("ERROR"),
            error.message
        );
        log::warn!(
            "tenant {}: the file {name:?} of {} was not attached: {why}",
            self.tenant,
            self.event.id
        );
        draft.note(&format!(
            "Salesforce refused the file {name:?} ({why}); CloudCX did not attach it."
        ));
        draft.settled_files.push(marker.to_string());
    }

    /// Finishes what is owed to a written Case or Task: its update, the found person's update,
    /// its files (those not on it yet), and the notes the Description gained meanwhile. A
    /// field refused is dropped and noted, a file refused is given up and noted; what fails
    /// otherwise is retried later, never by writing the record again.
    fn follow_up(&self, mut follow: FollowUp, draft: &mut Draft) -> Step<()> {
        let record = follow.record.clone();
        let key = self.key_value();
        if self.files_unsure && !draft.pending_files(self.event, &key).is_empty() {
            // The files on the record, and (for the notes a refused file adds) its Description,
            // in one call.
            let mut asked = vec![SubRequest::query("files", &markers_query(&record.id))];
            if follow.description.is_none() {
                asked.push(SubRequest::query(
                    "held",
                    &format!(
                        "SELECT Description FROM {} WHERE Id = {}",
                        record.object,
                        quote(&record.id)
                    ),
                ));
            }
            let answers = self.run(&asked, false).map_err(written)?;
            if let Some(error) = answers.first_error() {
                return Err(written(stop_for_salesforce(&error, false)));
            }
            let files = answers.get("files").map_or(&[][..], |a| a.records());
            draft.settled_files.extend(markers_in(files));
            let held = answers.get("held").and_then(|a| a.records().first());
            if let Some(description) = held.and_then(|r| r["Description"].as_str()) {
                draft
                    .act
                    .fields
                    .insert("Description".into(), json!(description));
                follow.description = Some(description.to_string());
            }
        }
        for _ in 0..=MAX_REPAIRS {
            let mut update = follow.update.clone();
            if let Some(written) = &follow.description {
                if draft.description() != Some(written.as_str()) {
                    if let Some(description) = draft.act.fields.get("Description") {
                        update.insert("Description".into(), description.clone());
                    }
                }
            }
            let mut requests = Vec::new();
            if let Some((object, id, fields)) = &follow.person {
                requests.push(SubRequest::update(
                    PERSON,
                    object,
                    id,
                    Value::Object(fields.clone()),
                ));
            }
            if !update.is_empty() {
                requests.push(SubRequest::update(
                    ACT,
                    &record.object,
                    &record.id,
                    Value::Object(update.clone()),
                ));
            }
            let files = draft.pending_files(self.event, &key);
            requests.extend(files.iter().map(|f| f.request(&record.id)));
            if requests.is_empty() {
                return Ok(());
            }
            let mut answers = Vec::new();
            for chunk in requests.chunks(MAX_SUBREQUESTS) {
                let part = self
                    .api
                    .composite(chunk, false)
                    .map_err(|e| written(stop_for(&e, true)))?;
                answers.extend(part.0);
            }
            let answers = Responses(answers);
            for answer in &answers.0 {
                let Some(error) = answer.own_error() else {
                    continue;
                };
                if error.disposition() == Disposition::RateLimited {
                    return Err(written(stop_for_salesforce(&error, true)));
                }
            }
            if let Some(answer) = answers.get(PERSON) {
                match answer.own_error() {
                    None if answer.ok() => follow.person = None,
                    Some(error) if error.disposition() == Disposition::Permanent => {
                        if let Some((object, id, mut fields)) = follow.person.take() {
                            let left = self.repair_or_note(&mut fields, draft, &error, &id);
                            if !left.is_empty() {
                                follow.person = Some((object, id, left));
                            }
                        }
                    }
                    _ => {}
                }
            }
            if let Some(answer) = answers.get(ACT) {
                match answer.own_error() {
                    None if answer.ok() => {
                        follow.update = Fields::new();
                        follow.essential = false;
                        follow.description = update
                            .get("Description")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                            .or(follow.description);
                    }
                    Some(error) if error.disposition() == Disposition::Permanent => {
                        let mut fields = follow.update.clone();
                        let notes = repair(&mut fields, &error);
                        if notes.is_empty() && follow.essential {
                            return Err(stop_for_salesforce(&error, false));
                        }
                        if notes.is_empty() {
                            log::warn!(
                                "tenant {}: the notes on {} {} were not written: {error}",
                                self.tenant,
                                record.object,
                                record.id
                            );
                            follow.description = None;
                        }
                        follow.update = fields;
                        for note in notes {
                            draft.note(&note);
                        }
                    }
                    _ => {}
                }
            }
            for file in files {
                match answers.get(&file.reference) {
                    Some(answer) if answer.ok() => draft.settled_files.push(file.marker),
                    Some(answer) => {
                        if let Some(error) = answer
                            .own_error()
                            .filter(|e| e.disposition() == Disposition::Permanent)
                        {
                            self.give_up_file(draft, &file.name, &file.marker, &error);
                        }
                    }
                    None => {}
                }
            }
        }
        Err(Stop::Outcome(Outcome::Retry {
            reason: format!(
                "Salesforce did not take everything owed to {} {} after {} tries",
                record.object,
                record.id,
                MAX_REPAIRS + 1
            ),
            maybe_applied: true,
        }))
    }

    /// One composite request (of at most 25 subrequests, as the planner makes them).
    fn run(&self, requests: &[SubRequest], all_or_none: bool) -> Step<Responses> {
        let writes = requests.iter().any(|r| r.method != http::Method::GET);
        self.api
            .composite(requests, all_or_none)
            .map_err(|e| stop_for(&e, writes))
    }
}

/// Drops from the draft's `part` what Salesforce refused, noting it in the Description; stops
/// when the error is not about a field's value.
fn repair_or_stop(draft: &mut Draft, part: Part, error: &SalesforceError) -> Step<()> {
    if draft.repair(part, error) {
        Ok(())
    } else {
        Err(stop_for_salesforce(error, false))
    }
}

/// What is still owed to a written Case or Task.
struct FollowUp {
    record: ActivityRecord,
    /// Fields to write on it (a completion).
    update: Fields,
    /// Whether the chat fails when Salesforce refuses the update for good (a completion is
    /// the chat's content; notes are not).
    essential: bool,
    /// The Description as written, when known: notes added since are written too.
    description: Option<String>,
    /// A found person's update: object, id, fields.
    person: Option<(String, String, Fields)>,
}

impl FollowUp {
    /// Only the files (and notes about them) are owed, the Description as written unknown.
    fn on(record: &ActivityRecord) -> FollowUp {
        FollowUp {
            record: record.clone(),
            update: Fields::new(),
            essential: false,
            description: None,
            person: None,
        }
    }

    /// Just after the record was written from `draft`.
    fn after(record: &ActivityRecord, draft: &Draft) -> FollowUp {
        FollowUp {
            description: draft.description().map(str::to_string),
            ..FollowUp::on(record)
        }
    }
}

/// The owner a draft gives its Case or Task (`None`: the connecting user's default).
fn owned_by(draft: &Draft) -> Option<String> {
    draft
        .act
        .fields
        .get("OwnerId")
        .and_then(Value::as_str)
        .map(str::to_string)
}

pub(crate) fn agent_email(event: &Event) -> Option<&str> {
    mapping::parts_of(event)
        .agent
        .and_then(|a| a.email.as_deref())
}

/// Where a person sees a record in Salesforce's Lightning UI.
pub(crate) fn lightning_url(instance: &str, object: &str, id: &str) -> String {
    format!("{instance}/lightning/r/{object}/{id}/view")
}

fn retry(reason: &str) -> Stop {
    Stop::Outcome(Outcome::Retry {
        reason: reason.into(),
        maybe_applied: false,
    })
}

/// The longest chat key kept whole, in UTF-16 units: in the Subject's `[CloudCX …]` it leaves
/// the rest of the 255 room to say what the chat was, and it fits a Text(255) key field.
const KEY_MAX: usize = 100;

/// A chat's key, `tenant/chat`. Ids may be 255 characters each: a longer key keeps its start
/// and, for the rest, a digest of the whole, so that it stays unique and fits the Subject (a key
/// cut off with the Subject could not be found after a lost answer, and the chat would be
/// written twice).
fn chat_key(tenant: &str, chat: &str) -> String {
    use sha2::{Digest, Sha256};
    let key = format!("{tenant}/{chat}");
    if utf16_len(&key) <= KEY_MAX {
        return key;
    }
    let digest: String = Sha256::digest(key.as_bytes())[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut head = String::new();
    for c in key.chars() {
        if utf16_len(&head) + c.len_utf16() > KEY_MAX - 1 - digest.len() {
            break;
        }
        head.push(c);
    }
    format!("{head}…{digest}")
}

fn too_many_repairs() -> Stop {
    Stop::Outcome(Outcome::Failed {
        code: "TOO_MANY_REJECTED_FIELDS".into(),
        message: format!("Salesforce kept refusing fields after {MAX_REPAIRS} were dropped"),
    })
}

/// A stop once the record exists: a retry must look at what it holds first.
fn written(stop: Stop) -> Stop {
    match stop {
        Stop::Outcome(Outcome::Retry { reason, .. }) => Stop::Outcome(Outcome::Retry {
            reason,
            maybe_applied: true,
        }),
        Stop::Hold(hold) => Stop::HoldAfterWrites(hold),
        other => other,
    }
}

/// The local store failed: try again later; nothing was sent.
fn retry_local(e: crate::queue::QueueError) -> Stop {
    retry(&e.to_string())
}

/// What a failed call means for the event. `wrote`: the call carried writes, so a lost answer
/// may hide an applied write.
pub(crate) fn stop_for(e: &ConnectionError, wrote: bool) -> Stop {
    match e {
        ConnectionError::NotConnected | ConnectionError::NeedsReconnect { .. } => {
            Stop::Hold(Hold::UntilResumed(e.to_string()))
        }
        _ => match (e.api_error(), salesforce_error(e)) {
            (_, Some(error)) => stop_for_salesforce(error, wrote),
            // Refused before it left: as if the delivery had stopped before this event (a
            // retry would count an attempt and wait out a back-off for nothing).
            (Some(ApiError::Transport(t)), None) if t.kind() == TransportErrorKind::ShutDown => {
                Stop::Hold(shutting_down())
            }
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

/// The pause of a delivery the plugin's shutdown cut short: its events not written stay
/// queued as they were.
fn shutting_down() -> Hold {
    Hold::Until(SystemTime::now(), "the plugin is shutting down".into())
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

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
