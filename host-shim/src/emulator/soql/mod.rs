//! SOQL for the emulator: a parser and evaluator for the subset integrations use.
//!
//! INTERFACE CONTRACT (agreed between the SOQL module and the emulator core; keep it stable):
//! the core implements [`Catalog`] over its record store and calls [`execute`]; the core owns
//! paging (`nextRecordsUrl`), the HTTP error envelope and API-call accounting.
//!
//! What is understood (grammar in `parser.rs`): field lists with parent paths (`Account.Owner.Name`,
//! polymorphic `Who.Name` through the `Name` pseudo-object), child sub-queries, `COUNT()`,
//! `FROM Object [alias]`, WHERE with `= != <> < <= > >= LIKE IN NOT IN AND OR NOT` and
//! parentheses, semi-joins (`Id IN (SELECT ContactId FROM Case)`), string/number/boolean/null/
//! date/datetime literals and relative dates (`TODAY`, `LAST_N_DAYS:n`, `THIS_MONTH`...),
//! `ORDER BY ... [ASC|DESC] [NULLS FIRST|LAST]`, LIMIT and OFFSET; `WITH SECURITY_ENFORCED`
//! (or `USER_MODE`, `SYSTEM_MODE`) and `FOR VIEW|REFERENCE|UPDATE` are accepted and change
//! nothing. Anything else (GROUP BY, aggregates but `COUNT()`, TYPEOF, USING SCOPE, INCLUDES,
//! nested sub-queries...) is a `MALFORMED_QUERY`.

mod ast;
mod error;
mod escape;
mod eval;
mod ids;
mod lexer;
mod like;
mod parser;
mod plan;
mod relative;
mod temporal;
#[cfg(test)]
mod tests;
mod value;

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

/// A record as stored: field name (canonical case) to JSON value, always with `"Id"`.
pub type Record = Map<String, Value>;

/// What SOQL needs to know about the org. Object and field lookups are case-insensitive and
/// answer the canonical (describe) spelling.
pub trait Catalog {
    /// The canonical name of an object (`"lead"` → `"Lead"`), if the org has it.
    fn object(&self, name: &str) -> Option<String>;
    /// A field of a canonical object, by case-insensitive name.
    fn field(&self, object: &str, field: &str) -> Option<FieldInfo>;
    /// A parent relationship of a canonical object by its case-insensitive relationship name
    /// (`Contact` + `"account"` → the `AccountId` field, whose `reference_to` is `["Account"]`).
    fn parent_relationship(&self, object: &str, relationship: &str) -> Option<FieldInfo>;
    /// A child relationship of a canonical object by case-insensitive name
    /// (`Contact` + `"cases"` → `("Case", "ContactId")`).
    fn child_relationship(&self, object: &str, relationship: &str) -> Option<(String, String)>;
    /// Every live record of a canonical object, in creation order.
    fn records(&self, object: &str) -> Vec<&Record>;
    /// A live record by its 15- or 18-character Id, with its canonical object name.
    fn record_by_id(&self, id: &str) -> Option<(String, &Record)>;
    /// The canonical spelling of a child relationship (`Contact` + `"cases"` → `"Cases"`), the
    /// key of a sub-query's result. Optional (added by the SOQL module): without it the key is
    /// spelled as in the query.
    fn child_relationship_name(&self, object: &str, relationship: &str) -> Option<String> {
        let _ = (object, relationship);
        None
    }
}

/// One field, as describe tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldInfo {
    /// Canonical spelling (`"AccountId"`).
    pub name: String,
    /// Salesforce's describe type: `id`, `string`, `textarea`, `email`, `phone`, `url`,
    /// `picklist`, `reference`, `boolean`, `int`, `double`, `currency`, `date`, `datetime`, ...
    pub kind: String,
    /// For references: the objects it may point to (`["Group", "User"]` for `OwnerId`).
    pub reference_to: Vec<String>,
    /// For references: the relationship name (`"Account"` for `AccountId`, `"Who"` for `WhoId`).
    pub relationship_name: Option<String>,
}

/// A query's rows, shaped as Salesforce returns them: each record starts with
/// `"attributes": {"type": ..., "url": "/services/data/{version}/sobjects/{type}/{Id}"}`, then
/// the selected fields in SELECT order (parent lookups as nested objects with their own
/// `attributes`, or `null`; child sub-queries as nested `{"totalSize", "done", "records"}` or
/// `null`).
#[derive(Debug, Clone, PartialEq)]
pub struct QueryRows {
    /// The canonical object queried (FROM).
    pub object: String,
    pub records: Vec<Value>,
    /// Added by the SOQL module: for `SELECT COUNT() FROM ...`, the number of matching rows,
    /// which Salesforce answers as `totalSize` with empty `records`. `None` for other queries,
    /// whose `totalSize` is the number of records.
    pub count: Option<usize>,
}

/// A query Salesforce would refuse, with its error code and Salesforce's wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoqlError {
    /// `MALFORMED_QUERY`, `INVALID_FIELD` or `INVALID_TYPE`; also
    /// `INVALID_QUERY_FILTER_OPERATOR` (malformed id, LIKE on a non-text field) and
    /// `NUMBER_OUTSIDE_VALID_RANGE` (OFFSET over 2,000). All are HTTP 400.
    pub error_code: &'static str,
    pub message: String,
}

/// Parses and runs `soql` against the catalog. `api_version` is like `"v62.0"` (for record URLs).
pub fn execute(
    catalog: &dyn Catalog,
    soql: &str,
    api_version: &str,
) -> Result<QueryRows, SoqlError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    execute_at(catalog, soql, api_version, now)
}

/// Salesforce's documented cap on the length of a SOQL statement.
const MAX_QUERY_CHARS: usize = 100_000;

/// [`execute`] with the clock given (milliseconds since the epoch), for `TODAY` and friends.
fn execute_at(
    catalog: &dyn Catalog,
    soql: &str,
    api_version: &str,
    now_ms: i64,
) -> Result<QueryRows, SoqlError> {
    if soql.chars().count() > MAX_QUERY_CHARS {
        // Wording unrecorded; the limit is documented.
        return Err(error::plain(
            error::MALFORMED_QUERY,
            format!("SOQL statements cannot be longer than {MAX_QUERY_CHARS} characters"),
        ));
    }
    let tokens = lexer::tokenize(soql);
    let source = error::Source::new(soql, &tokens);
    let query = parser::parse(&tokens, &source)?;
    let binder = plan::Binder {
        catalog,
        source: &source,
        today: now_ms.div_euclid(temporal::MS_PER_DAY),
    };
    let plan = binder.bind(&query)?;
    let evaluator = eval::Evaluator {
        catalog,
        api_version,
    };
    let all = catalog.records(&plan.object);
    let (records, count) = if plan.count_only {
        (Vec::new(), Some(evaluator.select(&plan, all).len()))
    } else {
        (evaluator.rows(&plan, all), None)
    };
    Ok(QueryRows {
        object: plan.object,
        records,
        count,
    })
}
