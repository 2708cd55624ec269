//! The parsed query, before names are checked against the org. Positions are byte offsets into
//! the query text, kept for Salesforce's `ERROR at Row:..:Column:..` messages.

pub use super::relative::RelativeDate;

/// A name as written, with where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub pos: usize,
}

/// `Field` or `Rel.Rel.Field`, as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    pub segments: Vec<Ident>,
}

impl Path {
    pub fn pos(&self) -> usize {
        self.segments[0].pos
    }

    /// The dotted text, as written (for messages such as `duplicate field selected`).
    pub fn text(&self) -> String {
        let names: Vec<&str> = self.segments.iter().map(|s| s.name.as_str()).collect();
        names.join(".")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// `SELECT COUNT() FROM ...` (then `select` is empty).
    pub count_only: bool,
    pub select: Vec<SelectItem>,
    /// The object, or in a sub-query the child relationship.
    pub from: Ident,
    /// `FROM Contact c`: paths may start with `c.` (or with the object's name).
    pub alias: Option<Ident>,
    pub filter: Option<Condition>,
    pub order_by: Vec<OrderItem>,
    pub limit: Option<Count>,
    pub offset: Option<Count>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SelectItem {
    Field(Path),
    SubQuery(Box<Query>),
}

/// A `LIMIT` or `OFFSET` value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Count {
    pub value: usize,
    pub pos: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
    Compare(Comparison),
    /// `field [NOT] IN (SELECT idField FROM Object ...)`.
    SemiJoin(SemiJoin),
}

#[derive(Debug, Clone, PartialEq)]
pub struct SemiJoin {
    pub path: Path,
    pub negated: bool,
    pub query: Box<Query>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub path: Path,
    pub op: Op,
    /// One literal, or the list of `IN (...)` / `NOT IN (...)`.
    pub values: Vec<Literal>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    In,
    NotIn,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Literal {
    pub kind: LiteralKind,
    pub pos: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LiteralKind {
    /// The text between the quotes, escapes not yet decoded: `\%` is legal only in LIKE, so
    /// decoding waits until the operator is known.
    Str(String),
    /// The number as written (`42`, `-1.5`).
    Number(String),
    Bool(bool),
    Null,
    /// Days since 1970-01-01.
    Date(i64),
    /// Milliseconds since 1970-01-01T00:00:00Z.
    DateTime(i64),
    /// `TODAY`, `LAST_N_DAYS:7`...
    Relative(RelativeDate),
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderItem {
    pub path: Path,
    pub descending: bool,
    /// `NULLS LAST`; Salesforce puts nulls first by default, in either direction.
    pub nulls_last: bool,
}
