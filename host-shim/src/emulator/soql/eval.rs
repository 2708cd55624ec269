//! Runs a bound plan over the catalog's records: filter, sort, page (LIMIT/OFFSET) and shape
//! the rows as Salesforce returns them.

use std::cmp::Ordering;
use std::collections::HashSet;

use serde_json::{json, Map, Value};

use super::ast::Op;
use super::plan::{Column, FieldPath, Filter, Hop, Operand, Plan, SortKey, SubSelect, Test};
use super::value::{Kind, Scalar};
use super::{ids, like, Catalog, Record};

pub struct Evaluator<'a> {
    pub catalog: &'a dyn Catalog,
    pub api_version: &'a str,
}

impl<'a> Evaluator<'a> {
    /// The shaped rows of `plan` over `records` (all of the plan's object, or one parent's
    /// children).
    pub fn rows(&self, plan: &Plan, records: Vec<&'a Record>) -> Vec<Value> {
        let selected = self.select(plan, records);
        selected
            .into_iter()
            .map(|record| self.shape(plan, &plan.object, record))
            .collect()
    }

    /// The records `plan` selects, filtered, sorted and paged.
    pub fn select<'r>(&self, plan: &Plan, records: Vec<&'r Record>) -> Vec<&'r Record> {
        let object = plan.object.as_str();
        let matching: Vec<&Record> = records
            .into_iter()
            .filter(|record| {
                plan.filter
                    .as_ref()
                    .is_none_or(|f| self.test(f, object, record))
            })
            .collect();
        // Sort keys are read once per row, then compared; the sort is stable, so ties keep
        // creation order as Salesforce's unsorted results do.
        let mut keyed: Vec<(Vec<Option<Scalar>>, &Record)> = matching
            .into_iter()
            .map(|record| {
                let keys = plan
                    .order
                    .iter()
                    .map(|k| self.scalar(object, record, &k.path))
                    .collect();
                (keys, record)
            })
            .collect();
        keyed.sort_by(|(a, _), (b, _)| compare_keys(&plan.order, a, b));
        keyed
            .into_iter()
            .skip(plan.offset)
            .take(plan.limit.unwrap_or(usize::MAX))
            .map(|(_, record)| record)
            .collect()
    }

    fn test(&self, filter: &Filter, object: &str, record: &Record) -> bool {
        match filter {
            Filter::And(parts) => parts.iter().all(|f| self.test(f, object, record)),
            Filter::Or(parts) => parts.iter().any(|f| self.test(f, object, record)),
            Filter::Not(inner) => !self.test(inner, object, record),
            Filter::Test(test) => self.compare(test, object, record),
            Filter::SemiJoin(sub) => {
                let ids = sub.ids.get_or_init(|| self.sub_select_ids(sub));
                let found = matches!(
                    self.scalar(object, record, &sub.path),
                    Some(Scalar::Id(key)) if ids.contains(&key)
                );
                found != sub.negated
            }
        }
    }

    /// The id keys a semi-join's sub-select answers.
    fn sub_select_ids(&self, sub: &SubSelect) -> HashSet<String> {
        let object = sub.plan.object.as_str();
        let records = self.select(&sub.plan, self.catalog.records(object));
        records
            .into_iter()
            .filter_map(|record| match self.scalar(object, record, &sub.column) {
                Some(Scalar::Id(key)) => Some(key),
                _ => None,
            })
            .collect()
    }

    /// One comparison, with SOQL's null rules: `= null` finds nulls, `!=` and `NOT IN` accept
    /// nulls, and ordering comparisons and LIKE never match a null.
    fn compare(&self, test: &Test, object: &str, record: &Record) -> bool {
        let value = self.scalar(object, record, &test.path);
        let value = value.as_ref();
        let any_equal = || test.operands.iter().any(|o| equals(value, o));
        match test.op {
            Op::Eq | Op::In => any_equal(),
            Op::Ne | Op::NotIn => !any_equal(),
            Op::Like => match (value, &test.operands[..]) {
                (Some(Scalar::Text(text)), [Operand::Pattern(pattern)]) => {
                    like::matches(pattern, text)
                }
                _ => false,
            },
            Op::Lt | Op::Le | Op::Gt | Op::Ge => match (value, &test.operands[..]) {
                (Some(v), [Operand::Value(literal)]) => v.compare(literal).is_some_and(|o| {
                    matches!(
                        (test.op, o),
                        (Op::Lt, Ordering::Less)
                            | (Op::Le, Ordering::Less | Ordering::Equal)
                            | (Op::Gt, Ordering::Greater)
                            | (Op::Ge, Ordering::Greater | Ordering::Equal)
                    )
                }),
                (Some(Scalar::Time(t)), [Operand::Range(start, end)]) => match test.op {
                    Op::Lt => t < start,
                    Op::Le => t < end,
                    Op::Gt => t >= end,
                    _ => t >= start,
                },
                _ => false,
            },
        }
    }

    fn scalar(&self, object: &str, record: &Record, path: &FieldPath) -> Option<Scalar> {
        let value = self.field_value(object, record, path)?;
        Scalar::from_json(path.kind, &value)
    }

    /// The stored value at the end of a path, or `None` when a parent on the way is missing.
    fn field_value(&self, object: &str, record: &Record, path: &FieldPath) -> Option<Value> {
        let mut current = (object.to_string(), record);
        for hop in &path.hops {
            current = self.parent(current.1, hop)?;
        }
        let (object, record) = current;
        self.own_field(&object, record, path)
    }

    /// A field of the record a path ends on. Through the `Name` pseudo-object the field is
    /// looked up on the record's real object, and `Type` is that object's name, except that a
    /// Group (which owns records only as a queue) is a `Queue`: `WHERE Owner.Type = 'Queue'`.
    /// Checkboxes are never null in Salesforce: an unset one reads `false`.
    fn own_field(&self, object: &str, record: &Record, path: &FieldPath) -> Option<Value> {
        let value = if !path.via_name_entity() {
            record.get(&path.field).cloned()
        } else if path.field == "Type" {
            let type_name = if object == "Group" { "Queue" } else { object };
            Some(Value::String(type_name.to_string()))
        } else {
            let info = self.catalog.field(object, &path.field)?;
            record.get(&info.name).cloned()
        };
        match value {
            None | Some(Value::Null) if path.kind == Kind::Bool => Some(Value::Bool(false)),
            value => value,
        }
    }

    /// The record a reference field points at, with its object.
    fn parent(&self, record: &Record, hop: &Hop) -> Option<(String, &'a Record)> {
        let id = record.get(&hop.reference_field)?.as_str()?;
        self.catalog.record_by_id(id)
    }

    fn shape(&self, plan: &Plan, object: &str, record: &Record) -> Value {
        let mut out = Map::new();
        out.insert("attributes".into(), self.attributes(object, object, record));
        for column in &plan.columns {
            match column {
                Column::Field(path) => self.put(&mut out, object, record, &path.hops, path),
                Column::Children {
                    key,
                    parent_field,
                    plan,
                } => {
                    let children = self.children(record, parent_field, plan);
                    out.insert(key.clone(), children);
                }
            }
        }
        Value::Object(out)
    }

    fn attributes(&self, type_name: &str, object: &str, record: &Record) -> Value {
        let id = record.get("Id").and_then(Value::as_str).unwrap_or_default();
        json!({
            "type": type_name,
            "url": format!("/services/data/{}/sobjects/{object}/{id}", self.api_version),
        })
    }

    /// Puts one selected field into `out`, nesting it under its parents: each parent is an
    /// object with its own `attributes`, or `null` when the reference is empty or dangling.
    fn put(
        &self,
        out: &mut Map<String, Value>,
        object: &str,
        record: &Record,
        hops: &[Hop],
        path: &FieldPath,
    ) {
        let Some((hop, rest)) = hops.split_first() else {
            let value = self.own_field(object, record, path).unwrap_or(Value::Null);
            out.insert(path.field.clone(), value);
            return;
        };
        let Some((parent_object, parent)) = self.parent(record, hop) else {
            out.insert(hop.relationship.clone(), Value::Null);
            return;
        };
        let nested = out.entry(hop.relationship.clone()).or_insert_with(|| {
            // Polymorphic parents come back typed as the `Name` pseudo-object.
            let type_name = if hop.polymorphic {
                "Name"
            } else {
                &parent_object
            };
            json!({ "attributes": self.attributes(type_name, &parent_object, parent) })
        });
        if let Value::Object(nested) = nested {
            self.put(nested, &parent_object, parent, rest, path);
        }
    }

    /// A sub-query's result for one parent: `null` when no child matches.
    fn children(&self, parent: &Record, parent_field: &str, plan: &Plan) -> Value {
        let Some(parent_id) = parent.get("Id").and_then(Value::as_str).map(ids::key) else {
            return Value::Null;
        };
        let children: Vec<&Record> = self
            .catalog
            .records(&plan.object)
            .into_iter()
            .filter(|child| {
                child
                    .get(parent_field)
                    .and_then(Value::as_str)
                    .is_some_and(|id| ids::key(id) == parent_id)
            })
            .collect();
        let rows = self.rows(plan, children);
        if rows.is_empty() {
            return Value::Null;
        }
        json!({ "totalSize": rows.len(), "done": true, "records": rows })
    }
}

fn equals(value: Option<&Scalar>, operand: &Operand) -> bool {
    match (value, operand) {
        (None, Operand::Null) => true,
        (Some(v), Operand::Value(literal)) => v.compare(literal) == Some(Ordering::Equal),
        (Some(Scalar::Time(t)), Operand::Range(start, end)) => start <= t && t < end,
        _ => false,
    }
}

/// Salesforce sorts nulls first unless `NULLS LAST`, whichever the direction.
fn compare_keys(order: &[SortKey], a: &[Option<Scalar>], b: &[Option<Scalar>]) -> Ordering {
    for (key, (a, b)) in order.iter().zip(a.iter().zip(b)) {
        let ordering = match (a, b) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) if key.nulls_last => Ordering::Greater,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) if key.nulls_last => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(a), Some(b)) => {
                let ordering = a.compare(b).unwrap_or(Ordering::Equal);
                if key.descending {
                    ordering.reverse()
                } else {
                    ordering
                }
            }
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}
