//! Many chats of one tenant written together, in a few API calls whatever their number: the
//! engine's way for a batch holding several chats to create (after an outage, or a burst).
//!
//! For the batch's chats:
//!
//! 1. the agents' owners, in one `Email IN (...)` query (cached per tenant, as for one chat);
//! 2. per identification rule, one query for every visitor the rule applies to (`Email IN
//!    (...)`, or `(A = 'x' AND B = 'y') OR ...` for a rule of several fields), likewise for
//!    converted Leads and for Accounts; five queries go in one composite request;
//! 3. the people found updated as the match policy says, the new ones created, then the
//!    Cases and Tasks, each through sObject Collections (200 records a call, each on its own);
//! 4. the Cases and Tasks of chats ending (their start made them, whatever the trigger is by
//!    then) completed, with the Contacts and Leads their starts made, one Collections update
//!    for up to 200;
//! 5. the files of all these chats, through Collections too (as many as fit in a request).
//!
//! The outcome is the single chat's: the first rule that matches wins (the most recently
//! modified record), a converted Lead's Contact is used, chats of one visitor make one Contact
//! or Lead, a record refused for a field's value goes again without it (noted in the
//! Description), and a record refused otherwise settles only its own chats. Each Case or Task is
//! remembered as soon as Salesforce answers for it.
//!
//! A chat is settled once its files are attached; one whose files did not all land is retried
//! as "maybe applied", and the single-chat way then reads its record's file markers and sends
//! only the missing ones. A chat tried before, with files or ending, goes the single-chat way
//! from the start, and so does a chat ending whose record is not remembered here, or whose
//! visitor's query answered more rows than one page.
//!
//! A hold (Salesforce's API limit, a broken session) refuses a call whole, before it applies
//! anything, and every chat is settled as soon as Salesforce answers for its record: the chats
//! not settled by then were not written, and stay queued as they were, to go with the next
//! batch. The Contacts and Leads made for them are remembered per chat before the next call
//! (on disk, so a crash there forgets none): a retry, together or one at a time, writes the
//! chat's Case or Task to its person without looking for it again, which the rules could not
//! do for a visitor with no value for any of them.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::api::{DataApi, Save, SubRequest, MAX_COLLECTION, MAX_QUERIES};
use super::describe::KEY_FIELD;
use super::engine::{
    agent_email, held_because, stop_for, stop_for_salesforce, Chat, Job, Step, Stop, SyncEngine,
    MAX_REPAIRS,
};
use super::files::FileSpec;
use super::mapping::Fields;
use super::plan::{
    account_value, completion, known_fields, link_field, match_update, object_name, person_value,
    repair, rule_values, without, Draft, Phase,
};
use super::rows::has_values;
use super::soql_text::{quote, NEWEST_FIRST};
use crate::queue::{ActivityRecord, Started};
use crate::salesforce::SalesforceError;
use crate::settings::{OnMatch, Rule, SyncObject, TenantSettings};
use crate::workers::{Delivery, Outcome};

/// The longest WHERE condition of one query: Salesforce caps a query's URL at about 16,000
/// characters, and escaping a value for a URL can make it longer.
const MAX_CONDITION_CHARS: usize = 8_000;

/// The most base64 sent in one Collections request of files (a larger file goes alone).
const MAX_FILE_BYTES: usize = 8 * 1024 * 1024;

/// Delivers `jobs` (chats to create) together; records each one's outcome in `delivery`, or
/// sets its hold. Answers the jobs left for the single-chat way.
pub(super) fn deliver<'j>(
    engine: &'j SyncEngine,
    tenant: &'j str,
    settings: &'j TenantSettings,
    jobs: &[&'j Job],
    delivery: &mut Delivery,
) -> Vec<&'j Job> {
    let mut declined = Vec::new();
    let mut batch = Batch {
        api: engine.api(tenant),
        engine,
        settings,
        items: Vec::new(),
        completing: Vec::new(),
        completions: Vec::new(),
        owed: Vec::new(),
        unkept: Vec::new(),
        outcomes: Vec::new(),
    };
    for &job in jobs {
        let chat = engine.chat(tenant, settings, job);
        let mut draft = chat.draft(job.activity, job.phase);
        let files = !draft
            .pending_files(&job.event, &chat.key_value())
            .is_empty();
        if job.tried && (files || job.phase == Phase::Complete) {
            // What an earlier try wrote must be read first: the single-chat way does.
            declined.push(job);
            continue;
        }
        if job.phase == Phase::Complete {
            // Completed once the chats starting in this batch are written.
            batch.completing.push(job);
            continue;
        }
        // Its Case or Task written already, else the person an earlier try made for it.
        let known = chat
            .known_activity(job.person, job.activity, job.phase)
            .and_then(|done| match (&done, job.person) {
                (Some(_), _) => Ok((done, None, chat.end_owed(job.phase)?)),
                (None, Some(object)) => Ok((done, chat.made_person(object)?, false)),
                (None, None) => Ok((done, None, false)),
            });
        let made = match known {
            // Made at the chat's start, the trigger changed since: completed with the chats
            // ending.
            Ok((Some(_), _, true)) => {
                batch.completing.push(job);
                continue;
            }
            Ok((Some(done), _, false)) => {
                let outcome = chat.delivered(vec![(done.object, done.id)]);
                delivery.outcomes.push((job.seq, outcome));
                continue;
            }
            Ok((None, made, _)) => made,
            Err(stop) => {
                let (hold, outcome) = stop.split();
                delivery
                    .outcomes
                    .extend(outcome.map(|outcome| (job.seq, outcome)));
                if hold.is_some() {
                    delivery.hold = hold;
                    return declined;
                }
                continue;
            }
        };
        let placeholders = match job.person {
            Some(object) => chat.person(object, &mut draft),
            None => Vec::new(),
        };
        let who = match made {
            Some(made) => Who::Made {
                object: made.object,
                id: made.id,
            },
            None => Who::Nobody,
        };
        batch.items.push(Item {
            job,
            chat,
            draft,
            placeholders,
            who,
            account: None,
            settled: false,
        });
    }
    if let Err(stop) = batch.write(&mut declined) {
        let (hold, outcome) = stop.split();
        let why = match (&outcome, &hold) {
            (Some(outcome), _) => format!("{outcome:?}"),
            (None, hold) => hold
                .as_ref()
                .map(held_because)
                .unwrap_or_default()
                .to_string(),
        };
        // On a hold, the chats not settled were not written: they stay queued as they were.
        if let Some(outcome) = outcome {
            let unsettled = batch
                .items
                .iter_mut()
                .map(|i| (&mut i.settled, i.job.seq))
                .chain(
                    batch
                        .completions
                        .iter_mut()
                        .map(|c| (&mut c.settled, c.job.seq)),
                );
            for (settled, seq) in unsettled {
                if !*settled {
                    *settled = true;
                    batch.outcomes.push((seq, outcome.clone()));
                }
            }
        }
        delivery.hold = hold;
        // Written, their files maybe not: the retry reads what is on their records.
        for owed in std::mem::take(&mut batch.owed) {
            let reason = format!("the files were not all attached: {why}");
            batch.outcomes.push((
                owed.seq,
                Outcome::Retry {
                    reason,
                    maybe_applied: true,
                },
            ));
        }
        // Not reached: they stay queued, as they were.
        declined.append(&mut batch.completing);
    }
    delivery.outcomes.append(&mut batch.outcomes);
    declined
}

struct Batch<'a> {
    engine: &'a SyncEngine,
    api: DataApi<'a>,
    settings: &'a TenantSettings,
    items: Vec<Item<'a>>,
    /// Chats ending, to complete once the chats starting are written.
    completing: Vec<&'a Job>,
    completions: Vec<Completion<'a>>,
    /// Chats written, settled once their files are attached.
    owed: Vec<Owed>,
    /// The people just made (item, record), to remember before the next call.
    unkept: Vec<(usize, ActivityRecord)>,
    outcomes: Vec<(u64, Outcome)>,
}

/// A chat ending, and the Case or Task its start made.
struct Completion<'a> {
    job: &'a Job,
    chat: Chat<'a>,
    record: ActivityRecord,
    draft: Draft,
    /// What the chat's start wrote, when remembered here.
    started: Option<Started>,
    settled: bool,
}

/// A chat whose Case or Task is written, and its files still to attach.
struct Owed {
    seq: u64,
    /// Its outcome once the files are on the record.
    delivered: Outcome,
    record: String,
    files: Vec<FileSpec>,
}

struct Item<'a> {
    job: &'a Job,
    chat: Chat<'a>,
    draft: Draft,
    placeholders: Vec<&'static str>,
    who: Who,
    /// The Account matching the visitor's company, for a new Contact or a Case.
    account: Option<String>,
    settled: bool,
}

/// Whom a chat's Case or Task goes to.
enum Who {
    Nobody,
    Found {
        object: String,
        id: String,
        row: Value,
    },
    /// To create (its chats settle with it when it cannot be).
    New,
    /// Created, by this try or an earlier one.
    Made {
        object: String,
        id: String,
    },
}

/// What a query looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Sought {
    /// A Contact or Lead.
    Person(&'static str),
    Converted,
    Account,
}

impl Sought {
    fn label(self) -> &'static str {
        match self {
            Sought::Person(object) => object,
            Sought::Converted => "converted Lead",
            Sought::Account => "Account",
        }
    }
}

/// One query of the lookups, for the chats in `members`.
struct Probe {
    sought: Sought,
    rule: usize,
    soql: String,
    members: Vec<usize>,
}

/// A Contact or Lead to create, for the chats in `members` (one visitor).
struct NewPerson {
    object: SyncObject,
    members: Vec<usize>,
}

/// A record to write through Collections.
struct Record {
    object: String,
    /// Set to update.
    id: Option<String>,
    fields: Fields,
}

/// What [`Batch::save`] tells about a record.
enum Saved<'r> {
    /// Salesforce refused a field's value; the record goes again without it.
    Noted(&'r str, &'r mut Fields),
    Done(Result<String, SalesforceError>),
}

impl<'a> Batch<'a> {
    fn write(&mut self, declined: &mut Vec<&'a Job>) -> Step<()> {
        let emails: Vec<&str> = self
            .items
            .iter()
            .map(|i| i.job)
            .chain(self.completing.iter().copied())
            .filter_map(|job| agent_email(&job.event))
            .collect();
        self.engine.find_owners(&self.api, emails)?;
        for item in &mut self.items {
            let owner = agent_email(&item.job.event)
                .and_then(|email| self.engine.known_owner(self.api.tenant, email))
                .flatten();
            if let Some(owner) = owner {
                item.draft.act.fields.insert("OwnerId".into(), json!(owner));
            }
        }
        let rows = self.look_up(declined)?;
        let people = self.resolve(&rows);
        self.update_found()?;
        self.create_people(&people)?;
        self.create_activities()?;
        self.complete_activities(declined)?;
        self.attach_files()
    }

    /// Runs the lookups; answers the rows found per (sought, rule). Chats whose query had more
    /// rows than one page go back to `declined`.
    fn look_up(
        &mut self,
        declined: &mut Vec<&'a Job>,
    ) -> Step<HashMap<(Sought, usize), Vec<Value>>> {
        let probes = self.probes();
        let mut rows: HashMap<(Sought, usize), Vec<Value>> = HashMap::new();
        let mut unsure: Vec<usize> = Vec::new();
        for chunk in probes.chunks(MAX_QUERIES) {
            let requests: Vec<SubRequest> = chunk
                .iter()
                .enumerate()
                .map(|(i, probe)| SubRequest::query(&format!("q{i}"), &probe.soql))
                .collect();
            let answers = self
                .api
                .composite(&requests, false)
                .map_err(|e| stop_for(&e, false))?;
            if let Some(error) = answers.first_error() {
                return Err(stop_for_salesforce(&error, false));
            }
            for (i, probe) in chunk.iter().enumerate() {
                let Some(answer) = answers.get(&format!("q{i}")) else {
                    unsure.extend(probe.members.iter().copied());
                    continue;
                };
                if answer.body["done"].as_bool() == Some(false) {
                    unsure.extend(probe.members.iter().copied());
                }
                rows.entry((probe.sought, probe.rule))
                    .or_default()
                    .extend(answer.records().iter().cloned());
            }
        }
        unsure.sort_unstable();
        unsure.dedup();
        for &i in &unsure {
            self.items[i].settled = true;
            declined.push(self.items[i].job);
        }
        Ok(rows)
    }

    /// The queries that find every chat's person, converted Lead and Account.
    fn probes(&self) -> Vec<Probe> {
        let ident = &self.settings.identification;
        let mut probes = Vec::new();
        for object in [SyncObject::Contact, SyncObject::Lead] {
            let rules = if object == SyncObject::Lead {
                &ident.lead
            } else {
                &ident.contact
            };
            let of_object: Vec<usize> = (0..self.items.len())
                .filter(|&i| self.items[i].job.person == Some(object) && !self.made(i))
                .collect();
            for (r, rule) in rules.iter().enumerate() {
                let members = of_object
                    .iter()
                    .copied()
                    .filter(|&i| self.person_values(i, rule).is_some())
                    .collect();
                probes.extend(self.probe(Sought::Person(object_name(object)), r, rule, members));
            }
            if object == SyncObject::Lead {
                for (r, rule) in rules.iter().enumerate() {
                    let members = of_object
                        .iter()
                        .copied()
                        .filter(|&i| self.first_rule(i) == Some(r))
                        .collect();
                    probes.extend(self.probe(Sought::Converted, r, rule, members));
                }
            }
        }
        for (r, rule) in ident.account.iter().enumerate() {
            let members = (0..self.items.len())
                .filter(|&i| self.wants_account(i) && self.first_account_rule(i) == Some(r))
                .collect();
            probes.extend(self.probe(Sought::Account, r, rule, members));
        }
        probes
    }

    /// The queries for one rule's chats, as many as the conditions' length needs.
    fn probe(&self, sought: Sought, r: usize, rule: &Rule, members: Vec<usize>) -> Vec<Probe> {
        let mut keyed: Vec<(String, usize)> = members
            .into_iter()
            .filter_map(|i| Some((either(&self.values(sought, i, rule)?), i)))
            .collect();
        keyed.sort();
        let fields: Vec<&str> = rule.0.iter().map(|f| f.0.as_str()).collect();
        let (object, select, tail) = match sought {
            Sought::Person(name) => {
                let object = if name == "Lead" {
                    SyncObject::Lead
                } else {
                    SyncObject::Contact
                };
                let mut select = vec!["Id".to_string()];
                for item in self.items.iter().filter(|i| i.job.person == Some(object)) {
                    select.extend(item.draft.person.keys().cloned());
                }
                let live = (object == SyncObject::Lead).then_some(" AND IsConverted = false");
                (object_name(object), select, live.unwrap_or_default())
            }
            Sought::Converted => (
                "Lead",
                vec!["Id".into(), "ConvertedContactId".into()],
                " AND IsConverted = true",
            ),
            Sought::Account => ("Account", vec!["Id".into()], ""),
        };
        let mut select = select;
        select.extend(fields.iter().map(|f| f.to_string()));
        select.sort();
        select.dedup();
        by_length(&keyed, |(condition, _)| condition.len() + 4)
            .into_iter()
            .map(|chunk| {
                let mut conditions: Vec<&str> = chunk.iter().map(|(c, _)| c.as_str()).collect();
                conditions.dedup();
                let condition = match fields.as_slice() {
                    // One field: `Email IN ('a', 'b')`, shorter than the ORs.
                    [field] => format!(
                        "{field} IN ({})",
                        conditions
                            .iter()
                            .map(|c| c.split_once(" = ").map_or("", |(_, v)| v))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    _ => conditions
                        .iter()
                        .map(|c| format!("({c})"))
                        .collect::<Vec<_>>()
                        .join(" OR "),
                };
                Probe {
                    sought,
                    rule: r,
                    soql: format!(
                        "SELECT {} FROM {object} WHERE ({condition}){tail} {NEWEST_FIRST}",
                        select.join(", ")
                    ),
                    members: chunk.iter().map(|(_, i)| *i).collect(),
                }
            })
            .collect()
    }

    fn values(&self, sought: Sought, i: usize, rule: &Rule) -> Option<Vec<(String, String)>> {
        match sought {
            Sought::Person(_) | Sought::Converted => self.person_values(i, rule),
            Sought::Account => rule_values(rule, |f| {
                account_value(&self.items[i].job.event, self.settings, f)
            }),
        }
    }

    fn person_values(&self, i: usize, rule: &Rule) -> Option<Vec<(String, String)>> {
        let item = &self.items[i];
        rule_values(rule, |f| {
            person_value(&item.job.event, &item.draft.person, &item.placeholders, f)
        })
    }

    /// The first of the person's rules the visitor has values for.
    fn first_rule(&self, i: usize) -> Option<usize> {
        self.person_rules(i)
            .iter()
            .position(|rule| self.person_values(i, rule).is_some())
    }

    fn person_rules(&self, i: usize) -> &'a [Rule] {
        let ident = &self.settings.identification;
        match self.items[i].job.person {
            Some(SyncObject::Lead) => &ident.lead,
            _ => &ident.contact,
        }
    }

    /// Whether the chat's person is made already (by an earlier try): not to look for.
    fn made(&self, i: usize) -> bool {
        matches!(self.items[i].who, Who::Made { .. })
    }

    fn wants_account(&self, i: usize) -> bool {
        let job = self.items[i].job;
        job.person == Some(SyncObject::Contact)
            || (job.person.is_none() && job.activity == SyncObject::Case)
    }

    fn first_account_rule(&self, i: usize) -> Option<usize> {
        self.settings
            .identification
            .account
            .iter()
            .position(|rule| self.values(Sought::Account, i, rule).is_some())
    }

    /// Reads each chat's person and Account from the rows found; answers the people to create.
    fn resolve(&mut self, rows: &HashMap<(Sought, usize), Vec<Value>>) -> Vec<NewPerson> {
        // Rows come newest first: the first that matches is the most recently modified.
        let find = |sought: Sought, r: usize, values: &[(String, String)], chat: &str| {
            let mut matching = rows
                .get(&(sought, r))?
                .iter()
                .filter(|row| has_values(row, values));
            let first = matching.next()?.clone();
            let more = matching.count();
            if more > 0 {
                log::info!(
                    "{} {} records match the visitor of {chat} by rule {}; using the most \
                     recently modified, {}",
                    more + 1,
                    sought.label(),
                    r + 1,
                    first["Id"]
                );
            }
            Some(first)
        };
        let mut people: Vec<NewPerson> = Vec::new();
        let mut by_visitor: HashMap<String, usize> = HashMap::new();
        for i in 0..self.items.len() {
            if self.items[i].settled {
                continue;
            }
            if self.wants_account(i) {
                self.items[i].account = self.first_account_rule(i).and_then(|r| {
                    let rule = &self.settings.identification.account[r];
                    let values = self.values(Sought::Account, i, rule)?;
                    let row = find(Sought::Account, r, &values, &self.items[i].job.event.id)?;
                    row["Id"].as_str().map(str::to_string)
                });
            }
            let Some(object) = self.items[i].job.person.filter(|_| !self.made(i)) else {
                continue;
            };
            let rules = self.person_rules(i);
            let found = rules.iter().enumerate().find_map(|(r, rule)| {
                let row = find(
                    Sought::Person(object_name(object)),
                    r,
                    &self.person_values(i, rule)?,
                    &self.items[i].job.event.id,
                )?;
                Some(Who::Found {
                    object: object_name(object).into(),
                    id: row["Id"].as_str()?.to_string(),
                    row,
                })
            });
            let converted = || {
                let r = self.first_rule(i)?;
                let values = self.person_values(i, &rules[r])?;
                let row = find(Sought::Converted, r, &values, &self.items[i].job.event.id)?;
                let contact = row["ConvertedContactId"].as_str()?;
                log::info!(
                    "the visitor's Lead {} was converted; using its Contact {contact}",
                    row["Id"]
                );
                Some(Who::Found {
                    object: "Contact".into(),
                    id: contact.to_string(),
                    // The Contact's values are not known here: fill_empty leaves it alone.
                    row: Value::Null,
                })
            };
            self.items[i].who =
                match found.or_else(|| (object == SyncObject::Lead).then(converted).flatten()) {
                    Some(who) => who,
                    None => {
                        // One visitor, one new person: known by the first rule's values.
                        let visitor = self.first_rule(i).and_then(|r| {
                            let values = self.person_values(i, &rules[r])?;
                            Some(format!("{object:?}/{r}/{}", either(&values).to_lowercase()))
                        });
                        let index = match visitor.as_ref().and_then(|v| by_visitor.get(v)) {
                            Some(&index) => index,
                            None => {
                                people.push(NewPerson {
                                    object,
                                    members: Vec::new(),
                                });
                                if let Some(visitor) = visitor {
                                    by_visitor.insert(visitor, people.len() - 1);
                                }
                                people.len() - 1
                            }
                        };
                        people[index].members.push(i);
                        Who::New
                    }
                };
        }
        people
    }

    /// Updates the people found, as the match policy says (overwriting, the last chat's values
    /// win).
    fn update_found(&mut self) -> Step<()> {
        let mut records: Vec<Record> = Vec::new();
        let mut members: Vec<Vec<usize>> = Vec::new();
        for (i, item) in self.items.iter().enumerate().filter(|(_, i)| !i.settled) {
            let Who::Found { object, id, row } = &item.who else {
                continue;
            };
            let own = item.job.person.map(object_name) == Some(object.as_str());
            let update = match_update(
                self.settings.on_match,
                own,
                &item.draft.person,
                &item.placeholders,
                row,
            );
            if update.is_empty() {
                continue;
            }
            match records.iter().position(|r| r.id.as_ref() == Some(id)) {
                Some(at) => {
                    let fields = &mut records[at].fields;
                    for (name, value) in update {
                        // Fill-empty: an earlier chat filled it first, as one at a time would.
                        if self.settings.on_match == OnMatch::Overwrite {
                            fields.insert(name, value);
                        } else {
                            fields.entry(name).or_insert(value);
                        }
                    }
                    members[at].push(i);
                }
                None => {
                    records.push(Record {
                        object: object.clone(),
                        id: Some(id.clone()),
                        fields: update,
                    });
                    members.push(vec![i]);
                }
            }
        }
        self.save(Save::Update, &mut records, |batch, r, saved| match saved {
            Saved::Noted(note, _) => {
                for &i in &members[r] {
                    batch.items[i].draft.note(note);
                }
            }
            Saved::Done(Ok(_)) => {}
            Saved::Done(Err(error)) => {
                for &i in &members[r] {
                    batch.settle_error(i, &error);
                }
            }
        })
    }

    /// Creates the new people: the first chat's values, and the later chats' as the match
    /// policy says.
    fn create_people(&mut self, people: &[NewPerson]) -> Step<()> {
        let mut records: Vec<Record> = people
            .iter()
            .map(|person| {
                let first = &self.items[person.members[0]];
                let mut fields = first.draft.person.clone();
                for &i in &person.members[1..] {
                    let later = &self.items[i];
                    let update = match self.settings.on_match {
                        OnMatch::Keep => Fields::new(),
                        OnMatch::Overwrite => without(&later.draft.person, &later.placeholders),
                        OnMatch::FillEmpty => without(&later.draft.person, &later.placeholders)
                            .into_iter()
                            .filter(|(k, _)| {
                                !fields.contains_key(k) || first.placeholders.contains(&k.as_str())
                            })
                            .collect(),
                    };
                    fields.extend(update);
                }
                if let Some(owner) = first.draft.act.fields.get("OwnerId") {
                    fields.insert("OwnerId".into(), owner.clone());
                }
                if let (SyncObject::Contact, Some(account)) = (person.object, &first.account) {
                    fields.insert("AccountId".into(), json!(account));
                }
                Record {
                    object: object_name(person.object).into(),
                    id: None,
                    fields,
                }
            })
            .collect();
        self.save(Save::Create, &mut records, |batch, p, saved| {
            let members = &people[p].members;
            match saved {
                Saved::Noted(note, _) => {
                    for &i in members {
                        batch.items[i].draft.note(note);
                    }
                }
                Saved::Done(Ok(id)) => {
                    let object = object_name(people[p].object);
                    for &i in members {
                        batch.items[i].who = Who::Made {
                            object: object.into(),
                            id: id.clone(),
                        };
                        let record = ActivityRecord {
                            object: object.into(),
                            id: id.clone(),
                        };
                        batch.unkept.push((i, record));
                    }
                }
                Saved::Done(Err(error)) => {
                    for &i in members {
                        batch.settle_error(i, &error);
                    }
                }
            }
        })
    }

    /// Creates the Cases and Tasks (or upserts them by their key, when the org has the field),
    /// each remembered as soon as it is written.
    fn create_activities(&mut self) -> Step<()> {
        for activity in [SyncObject::Case, SyncObject::Task] {
            self.create_activities_of(activity)?;
        }
        Ok(())
    }

    fn create_activities_of(&mut self, activity: SyncObject) -> Step<()> {
        let object = object_name(activity);
        let keyed = self.engine.keyed(self.api.tenant, activity);
        let mut chats = Vec::new();
        let mut records = Vec::new();
        for (i, item) in self
            .items
            .iter()
            .enumerate()
            .filter(|(_, i)| !i.settled && i.job.activity == activity)
        {
            let mut fields = item.draft.act.fields.clone();
            let (person, made) = match &item.who {
                Who::Found { id, .. } => (Some(id), false),
                Who::Made { id, .. } => (Some(id), true),
                Who::Nobody => (None, true),
                // Its person was not written: settled with that.
                Who::New => continue,
            };
            if let Some(person) = person {
                fields.insert(link_field(item.job.activity).into(), json!(person));
            }
            if let (SyncObject::Case, true, Some(account)) =
                (item.job.activity, made, &item.account)
            {
                fields.insert("AccountId".into(), json!(account));
            }
            if keyed {
                fields.insert(KEY_FIELD.into(), json!(item.chat.key_value()));
            }
            chats.push(i);
            records.push(Record {
                object: object.into(),
                id: None,
                fields,
            });
        }
        let how = if keyed {
            Save::Upsert {
                object,
                field: KEY_FIELD,
            }
        } else {
            Save::Create
        };
        self.save(how, &mut records, |batch, r, saved| {
            let item = &mut batch.items[chats[r]];
            match saved {
                Saved::Noted(note, fields) => noted(&mut item.draft, note, fields),
                Saved::Done(Ok(id)) => {
                    let remembered = item
                        .chat
                        .remembered(object_name(item.job.activity), &id)
                        .and_then(|record| {
                            // A person made for the chat is finished at its end.
                            let made = match &item.who {
                                Who::Made { object, id } => Some((
                                    ActivityRecord {
                                        object: object.clone(),
                                        id: id.clone(),
                                    },
                                    known_fields(&item.draft.person, &item.placeholders),
                                )),
                                _ => None,
                            };
                            item.chat.after_start(item.job.phase, &item.draft, made)?;
                            Ok(record)
                        });
                    let outcome = match remembered {
                        Ok(record) => {
                            let mut written = Vec::new();
                            if let Who::Found { object, id, .. } | Who::Made { object, id } =
                                &item.who
                            {
                                written.push((object.clone(), id.clone()));
                            }
                            written.push((record.object, record.id));
                            let delivered = item.chat.delivered(written);
                            let files = item
                                .draft
                                .pending_files(&item.job.event, &item.chat.key_value());
                            if !files.is_empty() {
                                item.settled = true;
                                let seq = item.job.seq;
                                batch.owe(seq, delivered, &id, files);
                                return;
                            }
                            delivered
                        }
                        // Written but not remembered: the retry looks for its key first.
                        Err(_) => Outcome::Retry {
                            reason: format!("the local store could not remember {id}"),
                            maybe_applied: true,
                        },
                    };
                    batch.settle(chats[r], outcome);
                }
                Saved::Done(Err(error)) => batch.settle_error(chats[r], &error),
            }
        })
    }

    /// Completes the Cases and Tasks the ending chats' starts made (remembered here; the
    /// others go the single-chat way, which looks for them), each with its owner as the
    /// ending agent makes it.
    fn complete_activities(&mut self, declined: &mut Vec<&'a Job>) -> Step<()> {
        for job in std::mem::take(&mut self.completing) {
            let chat = self.engine.chat(self.api.tenant, self.settings, job);
            let known = chat
                .remembered_activity()
                .and_then(|record| Ok((record, chat.started()?)));
            match known {
                Ok((Some(record), started)) => {
                    let draft = chat.draft(job.activity, Phase::Complete);
                    self.completions.push(Completion {
                        job,
                        chat,
                        record,
                        draft,
                        started,
                        settled: false,
                    });
                }
                Ok((None, _)) => declined.push(job),
                Err(Stop::Outcome(outcome)) => self.outcomes.push((job.seq, outcome)),
                Err(hold) => return Err(hold),
            }
        }
        let mut records: Vec<Record> = Vec::new();
        // Per record: its chat's completion, and whether it is the person the start made
        // (updated in the same call as the Case or Task).
        let mut of: Vec<(usize, bool)> = Vec::new();
        for (c, done) in self.completions.iter_mut().enumerate() {
            let owner = self.engine.ending_owner(self.api.tenant, &done.job.event);
            let made = done.chat.finish_made(
                done.job.person,
                done.started.as_ref(),
                owner.as_deref(),
                &mut done.draft,
            );
            if let Some((object, id, fields)) = made {
                records.push(Record {
                    object,
                    id: Some(id),
                    fields,
                });
                of.push((c, true));
            }
            let mut fields = completion(&done.draft);
            if let Some(owner) = owner {
                fields.insert("OwnerId".into(), json!(owner));
            }
            records.push(Record {
                object: done.record.object.clone(),
                id: Some(done.record.id.clone()),
                fields,
            });
            of.push((c, false));
        }
        self.save(Save::Update, &mut records, |batch, r, saved| {
            let (c, person) = of[r];
            let done = &mut batch.completions[c];
            if person {
                // The chat is its Case's or Task's: a refusal of its person's update is told,
                // the person left as it was.
                match saved {
                    Saved::Noted(note, _) => {
                        log::warn!("tenant {}: {}: {note}", batch.api.tenant, done.job.event.id)
                    }
                    Saved::Done(Err(error)) => log::warn!(
                        "tenant {}: the visitor's record of {} was not updated: {error}",
                        batch.api.tenant,
                        done.job.event.id
                    ),
                    Saved::Done(Ok(_)) => {}
                }
                return;
            }
            match saved {
                Saved::Noted(note, fields) => noted(&mut done.draft, note, fields),
                Saved::Done(Ok(_)) => {
                    done.settled = true;
                    if done.started.is_some() {
                        done.chat.forget_started();
                    }
                    let record = done.record.clone();
                    let delivered = done
                        .chat
                        .delivered(vec![(record.object.clone(), record.id.clone())]);
                    let files = done
                        .draft
                        .pending_files(&done.job.event, &done.chat.key_value());
                    let seq = done.job.seq;
                    if files.is_empty() {
                        batch.outcomes.push((seq, delivered));
                    } else {
                        batch.owe(seq, delivered, &record.id, files);
                    }
                }
                Saved::Done(Err(error)) => {
                    done.settled = true;
                    let seq = done.job.seq;
                    batch.outcomes.push((seq, outcome_of(&error)));
                }
            }
        })
    }

    fn owe(&mut self, seq: u64, delivered: Outcome, record: &str, files: Vec<FileSpec>) {
        self.owed.push(Owed {
            seq,
            delivered,
            record: record.to_string(),
            files,
        });
    }

    /// Attaches the written chats' files through Collections, as many as fit in a request;
    /// settles each chat: delivered once all its files are on its record, else retried as
    /// "maybe applied" (the retry sends only the missing files).
    fn attach_files(&mut self) -> Step<()> {
        let owed = std::mem::take(&mut self.owed);
        let files: Vec<(usize, Value)> = owed
            .iter()
            .enumerate()
            .flat_map(|(o, owed)| {
                owed.files.iter().map(move |f| {
                    let mut body = f.fields(&owed.record);
                    body.insert("attributes".into(), json!({"type": "ContentVersion"}));
                    (o, Value::Object(body))
                })
            })
            .collect();
        let mut attached = vec![0; owed.len()];
        let mut stopped = None;
        for chunk in by_size(
            &files,
            |(_, f)| f["VersionData"].as_str().map_or(0, str::len),
            MAX_FILE_BYTES,
        ) {
            for part in chunk.chunks(MAX_COLLECTION) {
                let bodies: Vec<Value> = part.iter().map(|(_, body)| body.clone()).collect();
                match self.api.save_many(&bodies, Save::Create) {
                    Ok(answers) => {
                        for ((o, _), answer) in part.iter().zip(answers) {
                            match answer {
                                Ok(_) => attached[*o] += 1,
                                Err(error) => log::warn!(
                                    "tenant {}: a file was not attached, retried alone: {error}",
                                    self.api.tenant
                                ),
                            }
                        }
                    }
                    Err(e) => {
                        stopped = Some(stop_for(&e, true));
                        break;
                    }
                }
            }
            if stopped.is_some() {
                break;
            }
        }
        for (o, owed) in owed.into_iter().enumerate() {
            let outcome = if attached[o] == owed.files.len() {
                owed.delivered
            } else {
                Outcome::Retry {
                    reason: format!(
                        "{} of its {} files were attached; the retry attaches the others",
                        attached[o],
                        owed.files.len()
                    ),
                    maybe_applied: true,
                }
            };
            self.outcomes.push((owed.seq, outcome));
        }
        match stopped {
            Some(Stop::Hold(hold)) => Err(Stop::Hold(hold)),
            _ => Ok(()),
        }
    }

    /// Remembers the people just made, each for its chats, in one commit: a retry of a chat
    /// whose Case or Task was not written then goes to its person, not to a second one.
    fn keep_people(&mut self) {
        let unkept = std::mem::take(&mut self.unkept);
        let people: Vec<(&str, ActivityRecord)> = unkept
            .into_iter()
            .map(|(i, record)| (self.items[i].job.event.id.as_str(), record))
            .collect();
        self.engine.remember_people(self.api.tenant, &people);
    }

    fn settle(&mut self, i: usize, outcome: Outcome) {
        let item = &mut self.items[i];
        if !item.settled {
            item.settled = true;
            self.outcomes.push((item.job.seq, outcome));
        }
    }

    /// Settles a chat with the error Salesforce gave one of its records.
    fn settle_error(&mut self, i: usize, error: &SalesforceError) {
        self.settle(i, outcome_of(error));
    }

    /// Writes `records` through Collections, 200 a call. A record refused for a field's value
    /// goes again without it, a few times at most; `heard` hears each note and each record's
    /// end as soon as it is known. A call that fails stops there: the records answered before
    /// it have been heard.
    fn save(
        &mut self,
        how: Save<'_>,
        records: &mut [Record],
        mut heard: impl FnMut(&mut Self, usize, Saved<'_>),
    ) -> Step<()> {
        let mut pending: Vec<usize> = (0..records.len()).collect();
        for round in 0..=MAX_REPAIRS {
            let mut again = Vec::new();
            for chunk in pending.chunks(MAX_COLLECTION) {
                let bodies: Vec<Value> = chunk.iter().map(|&r| records[r].body()).collect();
                let answers = self
                    .api
                    .save_many(&bodies, how)
                    .map_err(|e| stop_for(&e, true))?;
                for (&r, answer) in chunk.iter().zip(answers) {
                    let error = match answer {
                        Ok(id) => {
                            heard(self, r, Saved::Done(Ok(id)));
                            continue;
                        }
                        Err(error) => error,
                    };
                    let notes = repair(&mut records[r].fields, &error);
                    if notes.is_empty() {
                        heard(self, r, Saved::Done(Err(error)));
                    } else if round == MAX_REPAIRS {
                        heard(self, r, Saved::Done(Err(too_many_repairs())));
                    } else {
                        for note in &notes {
                            heard(self, r, Saved::Noted(note, &mut records[r].fields));
                        }
                        again.push(r);
                    }
                }
                // Before the next call, which a hold or a crash may stop.
                self.keep_people();
            }
            pending = again;
        }
        Ok(())
    }
}

impl Record {
    fn body(&self) -> Value {
        let mut body = self.fields.clone();
        body.insert("attributes".into(), json!({"type": self.object}));
        if let Some(id) = &self.id {
            body.insert("id".into(), json!(id));
        }
        Value::Object(body)
    }
}

/// A note about a Case or Task being saved: in its draft's Description, which the record
/// takes for its next try.
fn noted(draft: &mut Draft, note: &str, fields: &mut Fields) {
    draft.note(note);
    if let Some(description) = draft.act.fields.get("Description") {
        fields.insert("Description".into(), description.clone());
    }
}

/// A chat's outcome for the error Salesforce gave one of its records.
fn outcome_of(error: &SalesforceError) -> Outcome {
    match stop_for_salesforce(error, false).split() {
        (_, Some(outcome)) => outcome,
        (hold, None) => Outcome::Retry {
            reason: hold
                .as_ref()
                .map(held_because)
                .unwrap_or_default()
                .to_string(),
            maybe_applied: false,
        },
    }
}

fn too_many_repairs() -> SalesforceError {
    SalesforceError {
        status: 400,
        code: Some("TOO_MANY_REJECTED_FIELDS".into()),
        message: format!("Salesforce kept refusing fields after {MAX_REPAIRS} were dropped"),
        fields: Vec::new(),
    }
}

/// `A = 'x' AND B = 'y'`: one visitor's condition for a rule.
fn either(values: &[(String, String)]) -> String {
    values
        .iter()
        .map(|(field, value)| format!("{field} = {}", quote(value)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// Splits `values` into runs whose total length (`len` each) stays within a query's condition.
pub(super) fn by_length<T>(values: &[T], len: impl Fn(&T) -> usize) -> Vec<&[T]> {
    by_size(values, len, MAX_CONDITION_CHARS)
}

/// Splits `values` into runs whose total size (`size` each) stays within `max`; a value larger
/// than `max` goes alone, never lost.
fn by_size<T>(values: &[T], size: impl Fn(&T) -> usize, max: usize) -> Vec<&[T]> {
    let mut chunks = Vec::new();
    let (mut start, mut total) = (0, 0);
    for (i, value) in values.iter().enumerate() {
        let length = size(value);
        if i > start && total + length > max {
            chunks.push(&values[start..i]);
            (start, total) = (i, 0);
        }
        total += length;
    }
    if start < values.len() {
        chunks.push(&values[start..]);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_values_by_the_length_of_their_conditions() {
        let values: Vec<String> = (0..1000).map(|i| format!("{i:0>20}")).collect();
        let chunks = by_length(&values, |v| v.len());
        assert_eq!(chunks.len(), 3);
        assert!(chunks.iter().all(|c| c.len() <= MAX_CONDITION_CHARS / 20));
        assert_eq!(chunks.iter().map(|c| c.len()).sum::<usize>(), 1000);
        assert!(by_length(&Vec::<String>::new(), |v| v.len()).is_empty());
        let long = vec!["x".repeat(MAX_CONDITION_CHARS + 1)];
        assert_eq!(by_length(&long, |v| v.len()).len(), 1, "alone, never lost");
    }
}
