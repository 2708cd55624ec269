//! Checks a parsed query against the org and turns names and literals into what the evaluator
//! needs: canonical object and field names, relationship hops, and typed operands. This is where
//! `INVALID_TYPE`, `INVALID_FIELD` and filter type errors come from, in Salesforce's order:
//! the FROM object, then the SELECT list, then WHERE, then ORDER BY.

use std::cell::OnceCell;
use std::collections::HashSet;

use super::ast::{Condition, Ident, Literal, LiteralKind, Op, Path, Query, SelectItem, SemiJoin};
use super::error::{self, Source, INVALID_FIELD, INVALID_QUERY_FILTER_OPERATOR, INVALID_TYPE};
use super::escape::{self, Unit};
use super::temporal::MS_PER_DAY;
use super::value::{Kind, Scalar};
use super::{ids, like, Catalog, FieldInfo, SoqlError};

/// Salesforce refuses larger offsets.
const MAX_OFFSET: usize = 2000;

/// What a polymorphic relationship (`Who`, `What`, `Owner` on Lead/Case) exposes: Salesforce
/// answers these through the `Name` pseudo-object, whatever the record's real type.
const NAME_ENTITY: &str = "Name";
const NAME_ENTITY_FIELDS: &[(&str, &str)] = &[
    ("Id", "id"),
    ("Name", "string"),
    ("FirstName", "string"),
    ("LastName", "string"),
    ("Alias", "string"),
    ("Email", "email"),
    ("Phone", "phone"),
    ("Title", "string"),
    ("Type", "picklist"),
    ("Username", "string"),
    ("IsActive", "boolean"),
    ("UserRoleId", "reference"),
    ("ProfileId", "reference"),
    ("RecordTypeId", "reference"),
    ("CommunityNickname", "string"),
    ("NameOrAlias", "string"),
    ("LastReferencedDate", "datetime"),
    ("LastViewedDate", "datetime"),
    ("SmallPhotoUrl", "url"),
    ("MediumPhotoUrl", "url"),
    ("FullPhotoUrl", "url"),
];

#[derive(Debug)]
pub struct Plan {
    pub object: String,
    /// `SELECT COUNT()`: answer the number of rows, not the rows.
    pub count_only: bool,
    pub columns: Vec<Column>,
    pub filter: Option<Filter>,
    pub order: Vec<SortKey>,
    pub limit: Option<usize>,
    pub offset: usize,
}

#[derive(Debug)]
pub enum Column {
    Field(FieldPath),
    /// A child sub-query: the output key, the child's reference field to the parent, its plan.
    Children {
        key: String,
        parent_field: String,
        plan: Box<Plan>,
    },
}

/// A resolved `Rel.Rel.Field`.
#[derive(Debug)]
pub struct FieldPath {
    pub hops: Vec<Hop>,
    /// Canonical field name (on the `Name` pseudo-object after a polymorphic hop).
    pub field: String,
    pub kind: Kind,
}

impl FieldPath {
    /// Whether the field is read through the `Name` pseudo-object.
    pub fn via_name_entity(&self) -> bool {
        self.hops.last().is_some_and(|hop| hop.polymorphic)
    }
}

/// One parent lookup.
#[derive(Debug)]
pub struct Hop {
    /// The reference field holding the parent's id (`AccountId`).
    pub reference_field: String,
    /// The relationship name, the key of the nested parent in the output (`Account`).
    pub relationship: String,
    pub polymorphic: bool,
}

#[derive(Debug)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Test(Test),
    SemiJoin(SubSelect),
}

/// `field [NOT] IN (SELECT column FROM ...)`.
#[derive(Debug)]
pub struct SubSelect {
    pub path: FieldPath,
    pub negated: bool,
    pub column: FieldPath,
    pub plan: Box<Plan>,
    /// The id keys the sub-select answers, computed once on first use.
    pub ids: OnceCell<HashSet<String>>,
}

#[derive(Debug)]
pub struct Test {
    pub path: FieldPath,
    pub op: Op,
    pub operands: Vec<Operand>,
}

#[derive(Debug)]
pub enum Operand {
    Null,
    Value(Scalar),
    /// A relative date: `[start, end)` in the field's unit (days or milliseconds).
    Range(i64, i64),
    /// A folded LIKE pattern.
    Pattern(Vec<Unit>),
}

#[derive(Debug)]
pub struct SortKey {
    pub path: FieldPath,
    pub descending: bool,
    pub nulls_last: bool,
}

/// The object a query's paths start from, its alias, and whether it is a semi-join's
/// sub-select (which may not hold another).
struct Scope<'q> {
    object: &'q str,
    alias: Option<&'q str>,
    in_semi_join: bool,
}

pub struct Binder<'a> {
    pub catalog: &'a dyn Catalog,
    pub source: &'a Source<'a>,
    /// Today, in days since the epoch (UTC), for `TODAY` and friends.
    pub today: i64,
}

impl Binder<'_> {
    /// Binds a top-level query.
    pub fn bind(&self, query: &Query) -> Result<Plan, SoqlError> {
        let plan = self.bind_on(query, self.object(&query.from)?, false)?;
        check_content_document_link(&plan)?;
        Ok(plan)
    }

    /// The canonical name of a FROM object.
    fn object(&self, from: &Ident) -> Result<String, SoqlError> {
        self.catalog.object(&from.name).ok_or_else(|| {
            let message = format!(
                "sObject type '{}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.",
                from.name
            );
            self.source.error(INVALID_TYPE, from.pos, message)
        })
    }

    fn bind_on(
        &self,
        query: &Query,
        object: String,
        in_semi_join: bool,
    ) -> Result<Plan, SoqlError> {
        let scope = Scope {
            object: &object,
            alias: query.alias.as_ref().map(|a| a.name.as_str()),
            in_semi_join,
        };
        let mut columns = Vec::new();
        let mut selected: Vec<String> = Vec::new();
        for item in &query.select {
            let column = match item {
                SelectItem::Field(path) => Column::Field(self.path(&scope, path)?),
                SelectItem::SubQuery(sub) => self.children(&object, sub)?,
            };
            let key = selection_key(&column);
            if selected.contains(&key) {
                return Err(error::plain(
                    INVALID_FIELD,
                    format!("duplicate field selected: {}", item_text(item)),
                ));
            }
            selected.push(key);
            columns.push(column);
        }
        let filter = query
            .filter
            .as_ref()
            .map(|c| self.condition(&scope, c))
            .transpose()?;
        let order = query
            .order_by
            .iter()
            .map(|o| {
                Ok(SortKey {
                    path: self.path(&scope, &o.path)?,
                    descending: o.descending,
                    nulls_last: o.nulls_last,
                })
            })
            .collect::<Result<_, SoqlError>>()?;
        let offset = query.offset.map_or(0, |o| o.value);
        if offset > MAX_OFFSET {
            return Err(error::plain(
                error::NUMBER_OUTSIDE_VALID_RANGE,
                format!("Maximum SOQL offset allowed is {MAX_OFFSET}"),
            ));
        }
        Ok(Plan {
            object,
            count_only: query.count_only,
            columns,
            filter,
            order,
            limit: query.limit.map(|l| l.value),
            offset,
        })
    }

    fn children(&self, parent: &str, sub: &Query) -> Result<Column, SoqlError> {
        let Ident { name, pos } = &sub.from;
        let (child, parent_field) = self.catalog.child_relationship(parent, name).ok_or_else(|| {
            let message = format!(
                "Didn't understand relationship '{name}' in FROM part of query call. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names."
            );
            self.source.error(INVALID_TYPE, *pos, message)
        })?;
        let key = self
            .catalog
            .child_relationship_name(parent, name)
            .unwrap_or_else(|| name.clone());
        Ok(Column::Children {
            key,
            parent_field,
            plan: Box::new(self.bind_on(sub, child, false)?),
        })
    }

    /// Resolves a field path from `object`, hop by hop.
    fn path(&self, scope: &Scope, path: &Path) -> Result<FieldPath, SoqlError> {
        let mut segments = &path.segments[..];
        // `Contact.Email` or `c.Email` in `FROM Contact c`, unless a relationship has that name.
        if let [first, rest @ ..] = segments {
            let qualifier = first.name.eq_ignore_ascii_case(scope.object)
                || scope
                    .alias
                    .is_some_and(|a| a.eq_ignore_ascii_case(&first.name));
            if qualifier
                && !rest.is_empty()
                && self
                    .catalog
                    .parent_relationship(scope.object, &first.name)
                    .is_none()
            {
                segments = rest;
            }
        }
        let (last, relationships) = segments.split_last().expect("paths have a segment");
        // `None` once a polymorphic hop has moved to the `Name` pseudo-object.
        let mut current = Some(scope.object.to_string());
        let mut hops = Vec::new();
        for segment in relationships {
            let parent = current
                .as_deref()
                .and_then(|obj| self.catalog.parent_relationship(obj, &segment.name))
                .ok_or_else(|| {
                    let message = format!(
                        "Didn't understand relationship '{}' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.",
                        segment.name
                    );
                    self.source.error(INVALID_FIELD, path.pos(), message)
                })?;
            let FieldInfo {
                name,
                reference_to,
                relationship_name,
                ..
            } = parent;
            let polymorphic = reference_to.len() != 1;
            current = (!polymorphic).then(|| reference_to[0].clone());
            hops.push(Hop {
                reference_field: name,
                relationship: relationship_name.unwrap_or_else(|| segment.name.clone()),
                polymorphic,
            });
        }
        let field = match &current {
            Some(obj) => self
                .catalog
                .field(obj, &last.name)
                .map(|f| (f.name, Kind::of(&f.kind))),
            None => NAME_ENTITY_FIELDS
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(&last.name))
                .map(|(name, kind)| (name.to_string(), Kind::of(kind))),
        };
        let (field, kind) = field.ok_or_else(|| {
            let message = format!(
                "No such column '{}' on entity '{}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
                last.name,
                current.as_deref().unwrap_or(NAME_ENTITY)
            );
            self.source.error(INVALID_FIELD, path.pos(), message)
        })?;
        Ok(FieldPath { hops, field, kind })
    }

    fn condition(&self, scope: &Scope, condition: &Condition) -> Result<Filter, SoqlError> {
        let all = |parts: &[Condition]| -> Result<Vec<Filter>, SoqlError> {
            parts.iter().map(|c| self.condition(scope, c)).collect()
        };
        Ok(match condition {
            Condition::And(parts) => Filter::And(all(parts)?),
            Condition::Or(parts) => Filter::Or(all(parts)?),
            Condition::Not(inner) => Filter::Not(Box::new(self.condition(scope, inner)?)),
            Condition::Compare(cmp) => {
                let path = self.path(scope, &cmp.path)?;
                let operands = cmp
                    .values
                    .iter()
                    .map(|v| self.operand(&cmp.path, &path, cmp.op, v))
                    .collect::<Result<_, _>>()?;
                Filter::Test(Test {
                    path,
                    op: cmp.op,
                    operands,
                })
            }
            Condition::SemiJoin(semi) => Filter::SemiJoin(self.semi_join(scope, semi)?),
        })
    }

    /// Both sides of a semi-join are ids: an Id or reference field before `IN`, and one such
    /// field selected by the sub-select. (These messages are the emulator's: Salesforce's
    /// wording is unrecorded.)
    fn semi_join(&self, scope: &Scope, semi: &SemiJoin) -> Result<SubSelect, SoqlError> {
        let malformed =
            |pos: usize, message: &str| self.source.error(error::MALFORMED_QUERY, pos, message);
        let sub = &semi.query;
        if scope.in_semi_join {
            return Err(malformed(
                sub.from.pos,
                "Nesting of semi join sub-selects is not supported",
            ));
        }
        let path = self.path(scope, &semi.path)?;
        if path.kind != Kind::Id {
            let message = format!(
                "semi join on '{}': only an Id or reference field can be compared with a sub-select",
                semi.path.text()
            );
            return Err(malformed(semi.path.pos(), &message));
        }
        let mut plan = self.bind_on(sub, self.object(&sub.from)?, true)?;
        let column = match plan.columns.pop() {
            Some(Column::Field(column)) if plan.columns.is_empty() && column.kind == Kind::Id => {
                column
            }
            _ => {
                let message =
                    "a semi join sub-select must select exactly one Id or reference field";
                return Err(malformed(sub.from.pos, message));
            }
        };
        Ok(SubSelect {
            path,
            negated: semi.negated,
            column,
            plan: Box::new(plan),
            ids: OnceCell::new(),
        })
    }

    /// Types a literal for a field. A literal of the wrong type gets Salesforce's
    /// `value of filter criterion for field '...' must be of type ...` with code
    /// `INVALID_FIELD`: real captures of that message (quoted dates and datetimes) carry
    /// INVALID_FIELD, not INVALID_QUERY_FILTER_OPERATOR or MALFORMED_QUERY. A malformed id is
    /// Salesforce's `invalid ID field: ...` with INVALID_QUERY_FILTER_OPERATOR.
    fn operand(
        &self,
        written: &Path,
        field: &FieldPath,
        op: Op,
        literal: &Literal,
    ) -> Result<Operand, SoqlError> {
        let mismatch = || self.type_mismatch(written, field.kind, literal.pos);
        if literal.kind == LiteralKind::Null {
            return Ok(Operand::Null);
        }
        if op == Op::Like {
            if field.kind != Kind::Text {
                let message = format!("invalid operator on {} field", kind_name(field.kind));
                return Err(self
                    .source
                    .error(INVALID_QUERY_FILTER_OPERATOR, literal.pos, message));
            }
            let LiteralKind::Str(raw) = &literal.kind else {
                return Err(mismatch());
            };
            return Ok(Operand::Pattern(like::fold_pattern(&self.decode(
                raw,
                true,
                literal.pos,
            )?)));
        }
        let scalar = match (&literal.kind, field.kind) {
            (LiteralKind::Str(raw), Kind::Text | Kind::Id) => {
                let text = escape::text(&self.decode(raw, false, literal.pos)?);
                if text.is_empty() {
                    // Salesforce stores no empty strings: `= ''` means `= null`.
                    return Ok(Operand::Null);
                }
                if field.kind == Kind::Text {
                    Scalar::Text(like::fold(&text))
                } else {
                    let id = ids::parse(&text).ok_or_else(|| {
                        let message = format!("invalid ID field: {text}");
                        self.source
                            .error(INVALID_QUERY_FILTER_OPERATOR, literal.pos, message)
                    })?;
                    Scalar::Id(id.to_string())
                }
            }
            (LiteralKind::Number(n), Kind::Number) => {
                Scalar::Number(n.parse().map_err(|_| mismatch())?)
            }
            (LiteralKind::Bool(b), Kind::Bool) => Scalar::Bool(*b),
            (LiteralKind::Date(days), Kind::Date) => Scalar::Time(*days),
            (LiteralKind::DateTime(ms), Kind::DateTime) => Scalar::Time(*ms),
            (LiteralKind::Relative(relative), Kind::Date | Kind::DateTime) => {
                let (start, end) = relative.days(self.today);
                let unit = if field.kind == Kind::Date {
                    1
                } else {
                    MS_PER_DAY
                };
                // Saturating: only an absurd clock could reach the limits.
                return Ok(Operand::Range(
                    start.saturating_mul(unit),
                    end.saturating_mul(unit),
                ));
            }
            _ => return Err(mismatch()),
        };
        Ok(Operand::Value(scalar))
    }

    fn decode(&self, raw: &str, like: bool, literal_pos: usize) -> Result<Vec<Unit>, SoqlError> {
        escape::decode(raw, like).map_err(|bad| {
            // The wording of Salesforce's Apex compiler for the same fault; the query API's is
            // unrecorded.
            let message = format!(
                "Invalid string literal '{raw}'. Illegal character sequence '{}' in string literal.",
                bad.sequence
            );
            // +1 for the opening quote.
            self.source.error(error::MALFORMED_QUERY, literal_pos + 1 + bad.offset, message)
        })
    }

    fn type_mismatch(&self, written: &Path, kind: Kind, pos: usize) -> SoqlError {
        let quoted = if matches!(kind, Kind::Text | Kind::Id) {
            "should be enclosed in quotes"
        } else {
            "should not be enclosed in quotes"
        };
        let message = format!(
            "value of filter criterion for field '{}' must be of type {} and {quoted}",
            written.text(),
            kind_name(kind)
        );
        self.source.error(INVALID_FIELD, pos, message)
    }
}

/// The type name Salesforce's filter messages use.
fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Id => "id",
        Kind::Text => "string",
        Kind::Bool => "boolean",
        Kind::Number => "double",
        Kind::Date => "date",
        Kind::DateTime => "dateTime",
    }
}

/// What a column puts in the output, case-folded, to spot duplicates.
fn selection_key(column: &Column) -> String {
    match column {
        Column::Field(field) => {
            let mut parts: Vec<&str> = field.hops.iter().map(|h| h.relationship.as_str()).collect();
            parts.push(&field.field);
            parts.join(".").to_ascii_lowercase()
        }
        Column::Children { key, .. } => key.to_ascii_lowercase(),
    }
}

fn item_text(item: &SelectItem) -> String {
    match item {
        SelectItem::Field(path) => path.text(),
        SelectItem::SubQuery(sub) => sub.from.name.clone(),
    }
}

/// Salesforce's implementation restriction: a ContentDocumentLink query must filter on
/// ContentDocumentId or LinkedEntityId with `=` or `IN`, in a condition every row must meet
/// (the WHERE itself or one of its top-level ANDs).
fn check_content_document_link(plan: &Plan) -> Result<(), SoqlError> {
    if plan.object != "ContentDocumentLink" {
        return Ok(());
    }
    let restricts = |filter: &Filter| {
        matches!(filter, Filter::Test(Test { path, op: Op::Eq | Op::In, operands })
            if path.hops.is_empty()
                && matches!(path.field.as_str(), "ContentDocumentId" | "LinkedEntityId")
                && operands.iter().all(|o| matches!(o, Operand::Value(_))))
    };
    let ok = match &plan.filter {
        Some(Filter::And(parts)) => parts.iter().any(restricts),
        Some(filter) => restricts(filter),
        None => false,
    };
    if ok {
        return Ok(());
    }
    Err(error::plain(
        error::MALFORMED_QUERY,
        "Implementation restriction: ContentDocumentLink requires a filter by a single Id on ContentDocumentId or LinkedEntityId using the equals operator or multiple Id's using the IN operator.",
    ))
}
