//! Who a visitor is in Salesforce: the tenant's identification rules as one composite request
//! (one query for Contacts and one for Leads, each asking for any of the rules that apply, the
//! Contact a converted Lead became, and the visitor's Account), read back as matches, best
//! first.
//!
//! Best first is ranked here, since SOQL cannot sort by "which rule matched": by the earliest
//! rule a record matches, then by last change (the order the query answers in). One query per
//! object keeps every rule in the request, however many the tenant lists: a composite request
//! holds five queries at most.

use serde_json::Value;

use crate::events::Event;
use crate::salesforce::SalesforceError;
use crate::settings::{FieldPath, Rule, ShownObject, SyncObject, TenantSettings};
use crate::sync::api::{Responses, SubRequest};
use crate::sync::engine::{account_condition, condition, object_name};
use crate::sync::mapping;
use crate::sync::plan::{person_value, rule_values};
use crate::sync::rows::has_values;
use crate::sync::soql_text::NEWEST_FIRST;

/// Records a person query answers, at most: more than are shown, so that a later rule's many
/// newer matches do not crowd out an earlier rule's older one before it is ranked.
const CANDIDATES: usize = 100;
/// Contacts, or Leads, shown to the agent, at most.
const SHOWN: usize = 10;
/// The most recent Cases or Tasks shown with a person.
const RECENT: usize = 5;

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

/// An identification rule the visitor has every value for.
#[derive(Debug, Clone)]
struct Applicable {
    /// `Email`, `FirstName + LastName`.
    label: String,
    /// Each field with the visitor's value.
    values: Vec<(String, String)>,
    /// `A = 'x' AND B = 'y'`.
    condition: String,
}

/// What one query of the request looks for.
enum Part {
    /// The object's records any of `rules` finds.
    People {
        object: SyncObject,
        rules: Vec<Applicable>,
    },
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
        let applicable = |object: SyncObject, rules: &[Rule]| -> Vec<Applicable> {
            let fields = mapping::person_fields(object, event, settings);
            let placeholders = mapping::placeholder_fields(object, event, settings);
            let value_of = |field: &str| person_value(event, &fields, &placeholders, field);
            rules
                .iter()
                .filter_map(|rule| {
                    let label: Vec<&str> = rule.0.iter().map(|f| f.0.as_str()).collect();
                    Some(Applicable {
                        label: label.join(" + "),
                        values: rule_values(rule, value_of)?,
                        condition: condition(rule, value_of)?,
                    })
                })
                .collect()
        };
        let contacts = match scope {
            Scope::Leads => Vec::new(),
            _ => applicable(SyncObject::Contact, &settings.identification.contact),
        };
        let leads = match scope {
            Scope::Contacts => Vec::new(),
            _ => applicable(SyncObject::Lead, &settings.identification.lead),
        };
        let account = (scope == Scope::Contacts)
            .then(|| account_condition(event, settings))
            .flatten();

        let mut identify = Identify {
            requests: Vec::new(),
            parts: Vec::new(),
        };
        let contact_fields = select(SyncObject::Contact, event, settings);
        let lead_fields = select(SyncObject::Lead, event, settings);
        // As automatic mode does: a converted Lead found by the first Lead rule stands for its Contact.
        let converted = leads.first().map(|rule| rule.condition.clone());
        for (object, rules, fields, live) in [
            (SyncObject::Contact, contacts, &contact_fields, ""),
            (
                SyncObject::Lead,
                leads,
                &lead_fields,
                " AND IsConverted = false",
            ),
        ] {
            if rules.is_empty() {
                continue;
            }
            let any: Vec<String> = rules.iter().map(|r| format!("({})", r.condition)).collect();
            let soql = format!(
                "SELECT {fields} FROM {} WHERE ({}){live} \
                 {NEWEST_FIRST} LIMIT {CANDIDATES}",
                object_name(object),
                any.join(" OR ")
            );
            identify.push(Part::People { object, rules }, &soql);
        }
        if let Some(condition) = converted {
            identify.push(
                Part::Converted,
                &format!(
                    "SELECT {contact_fields} FROM Contact WHERE Id IN (SELECT ConvertedContactId \
                     FROM Lead WHERE {condition} AND IsConverted = true) \
                     {NEWEST_FIRST} LIMIT {SHOWN}"
                ),
            );
        }
        if let Some(condition) = account {
            identify.push(
                Part::Account,
                &format!("SELECT Id FROM Account WHERE {condition} {NEWEST_FIRST} LIMIT 1"),
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

    /// The matches, best first: Contacts, then converted Leads' Contacts, then Leads; Contacts
    /// and Leads each by the earliest rule they match, then by last change.
    pub fn read(&self, answers: &Responses) -> Result<Found, SalesforceError> {
        if let Some(error) = answers.first_error() {
            return Err(error);
        }
        let mut found = Found {
            matches: Vec::new(),
            account: None,
        };
        for (reference, part) in &self.parts {
            let Some(answer) = answers.get(reference) else {
                continue;
            };
            let records = answer.records();
            match part {
                Part::People { object, rules } => {
                    if answer.total_size() > records.len() as u64 {
                        log::info!(
                            "identification: {} {}s match; the {} changed last are ranked",
                            answer.total_size(),
                            object_name(*object),
                            records.len()
                        );
                    }
                    found
                        .matches
                        .extend(ranked(records, rules).into_iter().take(SHOWN).map(
                            |(matched_by, row)| Match {
                                object: *object,
                                row: row.clone(),
                                matched_by,
                                converted_lead: false,
                            },
                        ));
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

/// `rows` (most recently changed first, as the query answers them), each with the label of the
/// earliest of `rules` it matches, in that rule's order; among rows of one rule, the order of
/// last change is kept.
fn ranked<'a>(rows: &'a [Value], rules: &[Applicable]) -> Vec<(String, &'a Value)> {
    let mut ranked: Vec<(Option<usize>, &Value)> = rows
        .iter()
        .map(|row| {
            (
                rules.iter().position(|rule| has_values(row, &rule.values)),
                row,
            )
        })
        .collect();
    // A row no rule matches here (Salesforce compared otherwise) comes last.
    ranked.sort_by_key(|(rule, _)| rule.unwrap_or(usize::MAX));
    let any = || {
        let labels: Vec<&str> = rules.iter().map(|r| r.label.as_str()).collect();
        labels.join(" or ")
    };
    ranked
        .into_iter()
        .map(|(rule, row)| (rule.map_or_else(any, |i| rules[i].label.clone()), row))
        .collect()
}

/// The fields a person's query selects: its display fields (with its Account's), the fields
/// the mapping writes (the match policy compares them), the rules' fields, and its recent
/// Cases or Tasks.
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
    // The rules' own fields (Name, MobilePhone... need not be written), to rank by.
    let rules = match object {
        SyncObject::Lead => &settings.identification.lead,
        _ => &settings.identification.contact,
    };
    fields.extend(rules.iter().flat_map(|r| r.0.iter().map(|f| f.0.clone())));
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
    use serde_json::json;

    use super::*;
    use crate::sync::mapping::tests::chat_ended;

    fn rule(fields: &[(&str, &str)]) -> Applicable {
        let names: Vec<&str> = fields.iter().map(|(f, _)| *f).collect();
        Applicable {
            label: names.join(" + "),
            values: fields
                .iter()
                .map(|(f, v)| (f.to_string(), v.to_string()))
                .collect(),
            condition: String::new(),
        }
    }

    /// The Ids and rules of `rows` ranked by `rules`.
    fn ranking(rows: &[Value], rules: &[Applicable]) -> Vec<(String, String)> {
        ranked(rows, rules)
            .into_iter()
            .map(|(rule, row)| (row["Id"].as_str().unwrap().to_string(), rule))
            .collect()
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn an_earlier_rules_match_comes_before_a_later_rules_newer_one() {
        let rules = [
            rule(&[("Email", "jane@acme.example")]),
            rule(&[("Phone", "+1 415 555 0100")]),
        ];
        // As the query answers: the most recently changed first.
        let rows = [
            json!({"Id": "newer-by-phone", "Email": "desk@acme.example", "Phone": "+1 415 555 0100"}),
            json!({"Id": "newer-by-email", "Email": "jane@acme.example", "Phone": null}),
            json!({"Id": "older-by-phone", "Email": null, "Phone": "+1 415 555 0100"}),
            json!({"Id": "older-by-email", "Email": "jane@acme.example", "Phone": "+1 415 555 0100"}),
        ];
        assert_eq!(
            ranking(&rows, &rules),
            pairs(&[
                ("newer-by-email", "Email"),
                ("older-by-email", "Email"),
                ("newer-by-phone", "Phone"),
                ("older-by-phone", "Phone"),
            ])
        );
    }

    #[test]
    fn a_rule_matches_when_every_field_equals_whatever_the_case() {
        let rules = [
            rule(&[("FirstName", "Jane"), ("LastName", "Doe")]),
            rule(&[("Email", "Jane@ACME.example")]),
        ];
        let rows = [
            json!({"Id": "jane-roe", "FirstName": "Jane", "LastName": "Roe", "Email": "jane@acme.example"}),
            // Field names in another case than the rule's, too.
            json!({"Id": "jane-doe", "firstname": "JANE", "LASTNAME": "doe", "Email": null}),
        ];
        assert_eq!(
            ranking(&rows, &rules),
            pairs(&[("jane-doe", "FirstName + LastName"), ("jane-roe", "Email")])
        );
    }

    #[test]
    fn a_row_no_rule_matches_here_comes_last_named_by_all_the_rules() {
        let rules = [
            rule(&[("Email", "jane@acme.example")]),
            rule(&[("Customer_Number__c", "77.0")]),
        ];
        let rows = [
            json!({"Id": "number", "Email": null, "Customer_Number__c": 77}),
            json!({"Id": "other", "Email": "jane@acme.example ", "Customer_Number__c": 77.5}),
            json!({"Id": "email", "Email": "jane@acme.example", "Customer_Number__c": null}),
        ];
        assert_eq!(
            ranking(&rows, &rules),
            pairs(&[
                ("email", "Email"),
                ("number", "Customer_Number__c"),
                ("other", "Email or Customer_Number__c"),
            ])
        );
    }

    fn settings(identification: Value) -> TenantSettings {
        let host = crate::config::parse(
            r#"{"state_dir": "/tmp/x", "redirect_url": "http://127.0.0.1:8765/callback"}"#,
        )
        .unwrap();
        let json = json!({
            "connection": {"app": "custom", "client_id": "id", "client_secret": "s",
                           "login_url": "https://login.salesforce.com/"},
            "identification": identification,
            "field_mapping": {"Contact": {"Department": "custom.department"}},
        });
        TenantSettings::parse(&json.to_string(), &host).unwrap_or_else(|e| panic!("{e:?}"))
    }

    /// The SOQL of each query of the request.
    fn queries(identify: &Identify) -> Vec<String> {
        identify
            .requests()
            .iter()
            .map(|r| {
                let query = r.path.split_once('?').unwrap().1;
                form_urlencoded::parse(query.as_bytes())
                    .next()
                    .unwrap()
                    .1
                    .into_owned()
            })
            .collect()
    }

    #[test]
    fn every_applicable_rule_is_asked_in_one_query_per_object() {
        let event = chat_ended(
            r#""visitor": {"name": "Jane Doe", "email": "jane@acme.example", "phone": "+1 415 555 0100",
                          "company": "Acme"}, "custom_fields": {"department": "Sales"}"#,
        );
        let settings = settings(json!({
            "contact": [["Email"], ["Phone"], ["MobilePhone"], ["LastName", "Phone"],
                        ["Department"], ["LastName"], ["Name"]],
            "lead": [["Phone"], ["Email"]],
            "account": [["Name"]],
        }));
        let everyone = queries(&Identify::new(&event, &settings, Scope::Everyone));
        assert_eq!(
            everyone.len(),
            3,
            "Contacts, Leads, converted: {everyone:#?}"
        );
        let where_of = |soql: &str| {
            let from = soql.rfind(" WHERE ").unwrap() + 7;
            soql[from..soql.rfind(" ORDER BY").unwrap()].to_string()
        };
        // MobilePhone and Name, though not mapped, compare the visitor's phone and name.
        assert_eq!(
            where_of(&everyone[0]),
            "((Email = 'jane@acme.example') OR (Phone = '+1 415 555 0100') OR \
             (MobilePhone = '+1 415 555 0100') OR \
             (LastName = 'Jane Doe' AND Phone = '+1 415 555 0100') OR (Department = 'Sales') OR \
             (LastName = 'Jane Doe') OR (Name = 'Jane Doe'))"
        );
        // Selected, so that each match is ranked by the rule it meets.
        let selected = &everyone[0][..everyone[0].find(" FROM ").unwrap()];
        assert!(
            selected.contains(", MobilePhone") && selected.contains(", Name"),
            "{selected}"
        );
        assert!(
            everyone[0].starts_with("SELECT Id, AccountId"),
            "{}",
            everyone[0]
        );
        assert!(
            everyone[0].contains(" FROM Contact WHERE "),
            "{}",
            everyone[0]
        );
        assert_eq!(
            where_of(&everyone[1]),
            "((Phone = '+1 415 555 0100') OR (Email = 'jane@acme.example')) AND IsConverted = false"
        );
        assert!(everyone[1].contains(" FROM Lead WHERE "), "{}", everyone[1]);
        assert!(
            everyone[2]
                .contains("FROM Lead WHERE Phone = '+1 415 555 0100' AND IsConverted = true"),
            "the first Lead rule finds a converted Lead: {}",
            everyone[2]
        );

        let contacts = queries(&Identify::new(&event, &settings, Scope::Contacts));
        assert_eq!(contacts.len(), 2, "{contacts:#?}");
        assert!(contacts[0].contains(" FROM Contact WHERE "));
        assert!(contacts[1].starts_with("SELECT Id FROM Account WHERE Name = 'Acme'"));
        let leads = queries(&Identify::new(&event, &settings, Scope::Leads));
        assert_eq!(leads.len(), 2, "{leads:#?}");
        assert!(leads[0].contains(" FROM Lead WHERE "));
        assert!(leads[1].contains("IsConverted = true"));
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
