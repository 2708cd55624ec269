//! Who a visitor is in Salesforce: the tenant's identification rules as one composite request
//! (the rules in order, for Contacts and for Leads, the Contact a converted Lead became, and the
//! visitor's Account), read back as matches, best first.

use serde_json::Value;

use crate::events::Event;
use crate::salesforce::SalesforceError;
use crate::settings::{FieldPath, Rule, ShownObject, SyncObject, TenantSettings};
use crate::sync::api::{Responses, SubRequest, MAX_QUERIES};
use crate::sync::engine::{account_condition, condition, object_name};
use crate::sync::mapping;

/// Records one rule may match that are shown to the agent, at most.
const MATCHES_PER_RULE: usize = 10;
/// The most recent Cases or Tasks shown with a person.
const RECENT: usize = 5;

/// Per applicable rule: its label and its WHERE condition.
type Rules = Vec<(String, String)>;

/// Whom to look for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    /// Contacts, converted Leads' Contacts, and Leads: the customer view, a Task's person.
    Everyone,
    /// Contacts, and the Account a new Contact goes under.
    Contacts,
    /// Leads, and the Contact a converted Lead became.
    Leads,
}

/// What one query of the request looks for.
enum Part {
    Rule { object: SyncObject, rule: String },
    Converted,
    Account,
}

/// The identification request for one visitor.
pub(super) struct Identify {
    requests: Vec<SubRequest>,
    parts: Vec<(String, Part)>,
}

/// A Contact or Lead that matches the visitor, as Salesforce answered it.
#[derive(Debug, Clone)]
pub(super) struct Match {
    pub object: SyncObject,
    pub row: Value,
    /// The rule that found it (`Email`, `FirstName + LastName`).
    pub matched_by: String,
    /// Found as the Contact of a converted Lead.
    pub converted_lead: bool,
}

impl Match {
    pub fn id(&self) -> &str {
        self.row["Id"].as_str().unwrap_or_default()
    }
}

/// The request's answer: the people, best first, and the visitor's Account, if asked.
pub(super) struct Found {
    pub matches: Vec<Match>,
    pub account: Option<String>,
}

impl Identify {
    /// The queries for `event`'s visitor. Each record also brings `extra` fields (the values
    /// the match policy compares), its display fields, its Account and its recent Cases or Tasks.
    pub fn new(event: &Event, settings: &TenantSettings, scope: Scope) -> Identify {
        let conditions = |object: SyncObject, rules: &[Rule]| -> Rules {
            let fields = mapping::person_fields(object, event, settings);
            let placeholders = mapping::placeholder_fields(object, event, settings);
            let value_of = |field: &str| {
                fields
                    .get(field)
                    .filter(|_| !placeholders.contains(&field))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            rules
                .iter()
                .filter_map(|rule| {
                    let label: Vec<&str> = rule.0.iter().map(|f| f.0.as_str()).collect();
                    Some((label.join(" + "), condition(rule, value_of)?))
                })
                .collect()
        };
        let contacts = match scope {
            Scope::Leads => Vec::new(),
            _ => conditions(SyncObject::Contact, &settings.identification.contact),
        };
        let leads = match scope {
            Scope::Contacts => Vec::new(),
            _ => conditions(SyncObject::Lead, &settings.identification.lead),
        };
        let account = (scope == Scope::Contacts)
            .then(|| account_condition(event, settings))
            .flatten();
        let (contacts, leads) = share_slots(contacts, leads, usize::from(account.is_some()));

        let mut identify = Identify {
            requests: Vec::new(),
            parts: Vec::new(),
        };
        let contact_fields = select(SyncObject::Contact, event, settings);
        let lead_fields = select(SyncObject::Lead, event, settings);
        for (object, rules, fields, live) in [
            (SyncObject::Contact, contacts, &contact_fields, ""),
            (
                SyncObject::Lead,
                leads.clone(),
                &lead_fields,
                " AND IsConverted = false",
            ),
        ] {
            for (rule, condition) in rules {
                identify.push(
                    Part::Rule { object, rule },
                    &format!(
                        "SELECT {fields} FROM {} WHERE {condition}{live} \
                         ORDER BY LastModifiedDate DESC LIMIT {MATCHES_PER_RULE}",
                        object_name(object)
                    ),
                );
            }
        }
        // As automatic mode does: a converted Lead found by the first Lead rule stands for its Contact.
        if let Some((_, condition)) = leads.first() {
            identify.push(
                Part::Converted,
                &format!(
                    "SELECT {contact_fields} FROM Contact WHERE Id IN (SELECT ConvertedContactId \
                     FROM Lead WHERE {condition} AND IsConverted = true) \
                     ORDER BY LastModifiedDate DESC LIMIT {MATCHES_PER_RULE}"
                ),
            );
        }
        if let Some(condition) = account {
            identify.push(
                Part::Account,
                &format!(
                    "SELECT Id FROM Account WHERE {condition} ORDER BY LastModifiedDate DESC LIMIT 1"
                ),
            );
        }
        identify
    }

    fn push(&mut self, part: Part, soql: &str) {
        let reference = format!("q{}", self.requests.len());
        self.requests.push(SubRequest::query(&reference, soql));
        self.parts.push((reference, part));
    }

    /// Nothing to ask: the visitor has no value any rule needs.
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    pub fn requests(&self) -> &[SubRequest] {
        &self.requests
    }

    /// What the request asks, as text: equal texts are equal requests (for the cache).
    pub fn key(&self) -> String {
        let paths: Vec<&str> = self.requests.iter().map(|r| r.path.as_str()).collect();
        paths.join("\n")
    }

    /// The matches, best first: Contacts of the first Contact rule that found any, then
    /// converted Leads' Contacts, then Leads of the first Lead rule that found any; each in
    /// order of last change.
    pub fn read(&self, answers: &Responses) -> Result<Found, SalesforceError> {
        if let Some(error) = answers.first_error() {
            return Err(error);
        }
        let mut found = Found {
            matches: Vec::new(),
            account: None,
        };
        let mut winners: Vec<SyncObject> = Vec::new();
        for (reference, part) in &self.parts {
            let Some(records) = answers.get(reference).map(|a| a.records()) else {
                continue;
            };
            match part {
                Part::Rule { object, rule } => {
                    if records.is_empty() || winners.contains(object) {
                        continue;
                    }
                    winners.push(*object);
                    found.matches.extend(records.iter().map(|row| Match {
                        object: *object,
                        row: row.clone(),
                        matched_by: rule.clone(),
                        converted_lead: false,
                    }));
                }
                Part::Converted => {
                    for row in records {
                        if found.matches.iter().all(|m| m.row["Id"] != row["Id"]) {
                            found.matches.push(Match {
                                object: SyncObject::Contact,
                                row: row.clone(),
                                matched_by: "converted Lead".into(),
                                converted_lead: true,
                            });
                        }
                    }
                }
                Part::Account => {
                    found.account = records
                        .first()
                        .and_then(|r| r["Id"].as_str())
                        .map(str::to_string);
                }
            }
        }
        // Read in request order, Leads came before converted Leads' Contacts: Contacts first.
        found.matches.sort_by_key(|m| m.object == SyncObject::Lead);
        Ok(found)
    }
}

/// Shares the query slots between Contact and Lead rules (each keeps its first rule when it
/// has one), with room for the converted-Lead query and `reserved` others.
fn share_slots(mut contacts: Rules, mut leads: Rules, reserved: usize) -> (Rules, Rules) {
    let converted = usize::from(!leads.is_empty());
    let room = MAX_QUERIES - reserved - converted;
    let take_contacts = contacts.len().min(room - leads.len().min(1));
    let take_leads = leads.len().min(room - take_contacts);
    if take_contacts < contacts.len() || take_leads < leads.len() {
        log::info!(
            "identification: {} rules left out; one request holds {MAX_QUERIES} queries",
            contacts.len() + leads.len() - take_contacts - take_leads
        );
    }
    contacts.truncate(take_contacts);
    leads.truncate(take_leads);
    (contacts, leads)
}

/// The fields a person's query selects: its display fields (with its Account's), the fields
/// the mapping writes (the match policy compares them), and its recent Cases or Tasks.
fn select(object: SyncObject, event: &Event, settings: &TenantSettings) -> String {
    let mut fields: Vec<String> = vec!["Id".into()];
    let (shown, recent, child) = match object {
        SyncObject::Lead => (ShownObject::Lead, ShownObject::Task, "Tasks"),
        _ => (ShownObject::Contact, ShownObject::Case, "Cases"),
    };
    if object == SyncObject::Contact {
        fields.push("AccountId".into());
        fields.extend(
            settings
                .shown_fields(ShownObject::Account)
                .iter()
                .map(|f| format!("Account.{}", f.0)),
        );
    }
    fields.extend(settings.shown_fields(shown).into_iter().map(|f| f.0));
    fields.extend(
        mapping::person_fields(object, event, settings)
            .keys()
            .cloned(),
    );
    let mut children = vec![FieldPath("Id".into())];
    children.extend(settings.shown_fields(recent));
    fields.push(format!(
        "(SELECT {} FROM {child} ORDER BY CreatedDate DESC, Id DESC LIMIT {RECENT})",
        distinct(children.into_iter().map(|f| f.0).collect()).join(", ")
    ));
    distinct(fields).join(", ")
}

/// Without repeats (field names are case-insensitive), in first-seen order.
fn distinct(fields: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for field in fields {
        if !out.iter().any(|f| f.eq_ignore_ascii_case(&field)) {
            out.push(field);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(n: usize) -> Rules {
        (0..n).map(|i| (format!("r{i}"), format!("c{i}"))).collect()
    }

    #[test]
    fn slots_are_shared_and_never_exceed_five_queries() {
        for contacts in 0..7 {
            for leads in 0..7 {
                for reserved in 0..2 {
                    let (c, l) = share_slots(rules(contacts), rules(leads), reserved);
                    let total = c.len() + l.len() + usize::from(!l.is_empty()) + reserved;
                    assert!(total <= MAX_QUERIES, "{contacts} {leads} {reserved}");
                    assert_eq!(c.is_empty(), contacts == 0);
                    assert_eq!(l.is_empty(), leads == 0);
                }
            }
        }
        let (c, l) = share_slots(rules(2), rules(1), 0);
        assert_eq!((c.len(), l.len()), (2, 1), "the example settings fit whole");
    }

    #[test]
    fn selected_fields_are_distinct_whatever_their_case() {
        assert_eq!(
            distinct(vec![
                "Id".into(),
                "Email".into(),
                "email".into(),
                "Name".into()
            ]),
            ["Id", "Email", "Name"]
        );
    }
}
