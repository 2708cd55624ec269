//! Manual create: a Lead, Contact, Case or Task from a chat or conversation, on an agent's
//! click, with automatic mode's mapping, identification, match policy and owner rules.
//!
//! A Case goes to the visitor's Contact (created when none is found); a Task to their Contact,
//! else their Lead, else a new Lead; both through the sync engine. A Lead or Contact is found
//! (and updated as the match policy says) or created. What a chat's create made is remembered
//! per object, so a second click answers the record already made (`already_made`, also when an
//! upsert by the key field found it). A click after one that did not end (marked on disk) goes
//! on where it stopped: after a lost answer (the record may have been written all the same) it
//! looks for the record's key first, and it attaches the files a remembered Case or Task
//! lacks, once. A Lead or Contact has no key: after a lost answer, identification finds it,
//! and a visitor it cannot find (no value for any rule) gets no second one (see
//! `find_or_create`).
//!
//! A Lead or Contact is written as automatic mode writes it: values cut to their field's length
//! (the org's describe), and a field Salesforce refuses left out (sync's `repair`), said in a
//! new record's Description, or in the log for a found one, whose Description is its own.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};

use super::identify::{Identify, Match, Scope};
use super::{decode_request, Console, ConsoleError};
use crate::decode::DecodeError;
use crate::error::Error;
use crate::events::{self, Event, EventKind};
use crate::queue::ActivityRecord;
use crate::settings::{OnMatch, SyncObject, TenantSettings};
use crate::sync::api::{Responses, SubRequest};
use crate::sync::describe::OrgSchema;
use crate::sync::description::append_note;
use crate::sync::engine::{
    agent_email, empty_only, lightning_url, object_name, stop_for, without, Stop, Written,
    MAX_REPAIRS,
};
use crate::sync::mapping::{self, Fields};
use crate::sync::plan::repair;
use crate::workers::{Hold, Outcome};

#[derive(Deserialize)]
struct CreateRequest {
    tenant_id: String,
    object: SyncObject,
    event: Value,
}

impl Console {
    /// Creates the record: `{"object", "id", "url", "already_made", "person"?}`.
    pub fn create(
        self: &Arc<Self>,
        request_json: &str,
        deadline_ms: u64,
        settings_of: impl FnOnce(&str) -> Result<Arc<TenantSettings>, Error>,
    ) -> Result<Value, Error> {
        let request: CreateRequest = decode_request(request_json)?;
        let event = chat_of(&request)?;
        let settings = settings_of(&request.tenant_id)?;
        self.connections.session(&request.tenant_id)?;
        let console = self.clone();
        let tenant = request.tenant_id.clone();
        self.actions
            .run(&tenant, super::deadline(deadline_ms), "create", move || {
                console.create_now(&settings, &event, request.object)
            })
    }

    /// One create per chat and object at a time; the cache forgets the tenant's views after.
    fn create_now(
        &self,
        settings: &TenantSettings,
        event: &Event,
        object: SyncObject,
    ) -> Result<Value, Error> {
        let tenant = event.tenant_id.as_str();
        // Apart from what automatic mode wrote for the chat: an agent may want an extra record.
        let key_id = format!("{} (manual {})", event.id, object_name(object));
        let slot_key = (tenant.to_string(), key_id.clone());
        let slot = self
            .creating
            .lock()
            .entry(slot_key.clone())
            .or_default()
            .clone();
        let outcome = {
            let _one_at_a_time = slot.lock();
            self.create_once(settings, event, object, &key_id)
        };
        drop(slot);
        let mut creating = self.creating.lock();
        if creating
            .get(&slot_key)
            .is_some_and(|s| Arc::strong_count(s) == 1)
        {
            creating.remove(&slot_key);
        }
        drop(creating);
        self.forget_tenant(tenant);
        outcome
    }

    fn create_once(
        &self,
        settings: &TenantSettings,
        event: &Event,
        object: SyncObject,
        key_id: &str,
    ) -> Result<Value, Error> {
        let tenant = event.tenant_id.as_str();
        let instance = self.connections.session(tenant)?.instance_url;
        if let Some(known) = self.queue.activity(tenant, key_id)? {
            // A Case or Task whose write did not end may lack files: this click sends them.
            let whole = matches!(object, SyncObject::Lead | SyncObject::Contact)
                || !self.queue.write_unfinished(tenant, key_id)?;
            if whole {
                let mut answer = reference(&instance, &known.object, &known.id);
                answer["already_made"] = json!(true);
                return Ok(answer);
            }
        }
        // Read once per org, as automatic mode does, for the fields' lengths; without it,
        // Salesforce's own checks remain.
        let schema = self.engine.schema(tenant).ok();
        let written = match object {
            SyncObject::Case => self.write(settings, event, key_id, SyncObject::Contact, object)?,
            SyncObject::Task => {
                let identify = Identify::new(event, settings, Scope::Everyone);
                let best = if identify.is_empty() {
                    None
                } else {
                    self.identify(tenant, &identify)?.matches.into_iter().next()
                };
                // A converted Lead's Contact is reached through the Lead rules, as automatic
                // mode does.
                let person = match best {
                    Some(m) if m.object == SyncObject::Contact && !m.converted_lead => {
                        SyncObject::Contact
                    }
                    _ => SyncObject::Lead,
                };
                self.write(settings, event, key_id, person, object)?
            }
            SyncObject::Lead | SyncObject::Contact => {
                let (object, id) = self.find_or_create(settings, event, object, key_id, schema)?;
                let record = ActivityRecord { object, id };
                self.queue.remember_activity(tenant, key_id, &record)?;
                self.queue.end_write(tenant, key_id)?;
                Written {
                    records: vec![(record.object, record.id)],
                    already_made: false,
                }
            }
        };
        let (made, person) = match written.records.as_slice() {
            [person, made] => (made, Some(person)),
            [made] => (made, None),
            _ => return Err(ConsoleError::Salesforce("Salesforce wrote nothing".into()).into()),
        };
        let mut answer = reference(&instance, &made.0, &made.1);
        answer["already_made"] = json!(written.already_made);
        if let Some((object, id)) = person {
            answer["person"] = reference(&instance, object, id);
        }
        Ok(answer)
    }

    /// A Case or Task through the sync engine, remembered under `key_id`.
    fn write(
        &self,
        settings: &TenantSettings,
        event: &Event,
        key_id: &str,
        person: SyncObject,
        activity: SyncObject,
    ) -> Result<Written, Error> {
        let tenant = event.tenant_id.as_str();
        self.engine
            .write_now(tenant, settings, event, key_id, Some(person), activity)
            .map_err(failed)
    }

    /// The visitor's Lead or Contact: found (and updated as the match policy says) or created.
    ///
    /// A click whose create did not end (its answer lost: the record may be made) is followed
    /// by identification, which finds what it made; for a visitor with no value to be found
    /// by, it cannot, and this click makes no second record but says so.
    fn find_or_create(
        &self,
        settings: &TenantSettings,
        event: &Event,
        object: SyncObject,
        key_id: &str,
        schema: Option<Arc<OrgSchema>>,
    ) -> Result<(String, String), Error> {
        let tenant = event.tenant_id.as_str();
        let scope = match object {
            SyncObject::Lead => Scope::Leads,
            _ => Scope::Contacts,
        };
        let identify = Identify::new(event, settings, scope);
        let found = if identify.is_empty() {
            None
        } else {
            Some(self.identify(tenant, &identify)?)
        };
        let account = found.as_ref().and_then(|f| f.account.clone());
        if let Some(best) = found.and_then(|f| f.matches.into_iter().next()) {
            self.update(settings, event, &best, schema)?;
            return Ok((object_name(best.object).to_string(), best.id().to_string()));
        }
        let mut body = mapping::person_fields(object, event, settings);
        let owner = self
            .engine
            .owner(&self.engine.api(tenant), agent_email(event))
            .map_err(failed)?;
        if let Some(owner) = owner {
            body.insert("OwnerId".into(), json!(owner));
        }
        if let (Some(account), SyncObject::Contact) = (account, object) {
            body.insert("AccountId".into(), json!(account));
        }
        let name = object_name(object);
        if self.queue.start_write(tenant, key_id)? && identify.is_empty() {
            return Err(ConsoleError::Salesforce(format!(
                "an earlier Create {name} for this chat may have made it (Salesforce's answer \
                 was lost), and the visitor has nothing to find it by (no value for any \
                 identification rule): look for it in Salesforce before making another there"
            ))
            .into());
        }
        let created = self.write_person(tenant, name, body, schema, |body, notes| {
            let mut body = body.clone();
            if !notes.is_empty() {
                let mut description = body
                    .get("Description")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                for note in notes {
                    // A person's Description holds no transcript: no file to attach.
                    let _ = append_note(&mut description, note);
                }
                body.insert("Description".into(), Value::String(description));
            }
            SubRequest::create("person", name, Value::Object(body))
        });
        let (answers, _) = match created {
            Err(e) if !may_have_written(&e) => {
                // Nothing was made: the next click creates without a doubt.
                self.queue.end_write(tenant, key_id)?;
                return Err(e);
            }
            // The next click finds what this one made, by the identification rules.
            Err(e) if !identify.is_empty() => {
                return Err(ConsoleError::Salesforce(format!("{e}. {ANSWER_LOST}")).into())
            }
            Err(e) => {
                return Err(ConsoleError::Salesforce(format!(
                    "{e}. The {name} may have been made all the same, and the visitor has \
                     nothing to find it by: look for it in Salesforce before making another"
                ))
                .into())
            }
            Ok(created) => created,
        };
        let id = answers
            .get("person")
            .and_then(|a| a.id())
            .ok_or_else(|| ConsoleError::Salesforce(format!("Salesforce made no {name}")))?;
        Ok((name.to_string(), id.to_string()))
    }

    /// Updates a found Lead or Contact as the tenant's match policy says.
    fn update(
        &self,
        settings: &TenantSettings,
        event: &Event,
        found: &Match,
        schema: Option<Arc<OrgSchema>>,
    ) -> Result<(), Error> {
        let fields = mapping::person_fields(found.object, event, settings);
        let placeholders = mapping::placeholder_fields(found.object, event, settings);
        let update: Fields = match settings.on_match {
            OnMatch::Keep => Fields::new(),
            OnMatch::Overwrite => without(&fields, &placeholders),
            OnMatch::FillEmpty => empty_only(&fields, &placeholders, &found.row),
        };
        if update.is_empty() {
            return Ok(());
        }
        let tenant = event.tenant_id.as_str();
        let name = object_name(found.object);
        let (_, notes) = self.write_person(tenant, name, update, schema, |update, _| {
            SubRequest::update("person", name, found.id(), Value::Object(update.clone()))
        })?;
        for note in notes {
            log::warn!("tenant {tenant}: {name} {}: {note}", found.id());
        }
        Ok(())
    }

    /// Writes a Lead's or Contact's `fields` by the subrequest `request` makes of them and the
    /// notes so far: values longer than their field cut first, then a field Salesforce refuses
    /// left out and the write tried again, a few times at most. Answers the notes on both.
    fn write_person(
        &self,
        tenant: &str,
        object: &str,
        mut fields: Fields,
        schema: Option<Arc<OrgSchema>>,
        request: impl Fn(&Fields, &[String]) -> SubRequest,
    ) -> Result<(Responses, Vec<String>), Error> {
        let mut notes = match schema {
            Some(schema) => mapping::fit_lengths(&mut fields, &|f| schema.length(object, f)),
            None => Vec::new(),
        };
        let api = self.engine.api(tenant);
        for _ in 0..=MAX_REPAIRS {
            let answers = api.composite(&[request(&fields, &notes)], true)?;
            let Some(error) = answers.first_error() else {
                return Ok((answers, notes));
            };
            let dropped = repair(&mut fields, &error);
            if dropped.is_empty() {
                return Err(ConsoleError::Salesforce(error.to_string()).into());
            }
            notes.extend(dropped);
        }
        Err(ConsoleError::Salesforce(format!(
            "Salesforce kept refusing fields of the {object} after {MAX_REPAIRS} were dropped"
        ))
        .into())
    }
}

/// The request's chat or conversation: an ended one (or an offline message) of its tenant.
fn chat_of(request: &CreateRequest) -> Result<Event, Error> {
    let invalid = |problem: &str| Error::InvalidRequest(DecodeError::new("event", problem));
    let kind = request.event["type"]
        .as_str()
        .and_then(EventKind::from_type_name)
        .filter(|k| {
            matches!(
                k,
                EventKind::ChatEnded
                    | EventKind::ChatOfflineMessage
                    | EventKind::InboxConversationEnded
            )
        })
        .ok_or_else(|| {
            invalid("must be a chat.ended, chat.offline_message or inbox.conversation_ended event")
        })?;
    let bytes = serde_json::to_vec(&request.event).map_err(|e| invalid(&e.to_string()))?;
    let event = events::decode(kind, &bytes)?;
    if event.tenant_id != request.tenant_id {
        return Err(invalid(&format!(
            "is of tenant {}, not of tenant {}",
            event.tenant_id, request.tenant_id
        )));
    }
    Ok(event)
}

/// What an agent is told when Salesforce's answer to a create was lost.
const ANSWER_LOST: &str = "The record may have been made all the same: creating it again is \
                           safe, it answers the record if it was made";

/// Whether a failed write of a Lead or Contact may have been applied all the same: its answer
/// lost, or a server error (as the sync engine reads them).
fn may_have_written(error: &Error) -> bool {
    match error {
        Error::Connection(e) => matches!(
            stop_for(e, true),
            Stop::Outcome(Outcome::Retry {
                maybe_applied: true,
                ..
            })
        ),
        _ => false,
    }
}

/// Why the engine stopped, for the agent.
fn failed(stop: Stop) -> Error {
    let error = match stop {
        Stop::Hold(Hold::UntilResumed(why)) | Stop::HoldAfterWrites(Hold::UntilResumed(why)) => {
            ConsoleError::NotConnected(why)
        }
        Stop::Outcome(Outcome::Retry {
            reason,
            maybe_applied: true,
        }) => ConsoleError::Salesforce(format!("{reason}. {ANSWER_LOST}")),
        Stop::Hold(Hold::Until(_, why))
        | Stop::HoldAfterWrites(Hold::Until(_, why))
        | Stop::Outcome(Outcome::Retry { reason: why, .. }) => ConsoleError::Salesforce(why),
        Stop::Outcome(Outcome::Failed { code, message }) => {
            ConsoleError::Salesforce(format!("{code}: {message}"))
        }
        Stop::Outcome(Outcome::Delivered(_)) => {
            ConsoleError::Internal("the sync engine stopped after writing".into())
        }
    };
    error.into()
}

fn reference(instance: &str, object: &str, id: &str) -> Value {
    json!({"object": object, "id": id, "url": lightning_url(instance, object, id)})
}
