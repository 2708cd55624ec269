//! Recursive-descent parser for the SOQL subset:
//!
//! ```text
//! query     := SELECT item (',' item)* FROM name [alias] [WHERE cond]
//!              [WITH (SECURITY_ENFORCED | USER_MODE | SYSTEM_MODE)] [ORDER BY order (',' order)*]
//!              [LIMIT int] [OFFSET int] [FOR (VIEW | REFERENCE | UPDATE)]
//!              | SELECT COUNT() FROM ...                 -- top level only
//! item      := path | '(' query ')'                      -- sub-queries only at the top level
//! cond      := unary (AND unary)* | unary (OR unary)*    -- mixing needs parentheses, as in SOQL
//! unary     := NOT unary | '(' cond ')' | path op value | path [NOT] IN '(' value (',' value)* ')'
//!              | path [NOT] IN '(' query ')'             -- semi-join
//! op        := = | != | <> | < | <= | > | >= | LIKE
//! order     := path [ASC | DESC] [NULLS (FIRST | LAST)]
//! ```
//!
//! Keywords are case-insensitive. Syntax errors are `MALFORMED_QUERY` with Salesforce's
//! `unexpected token: '...'` wording at the first token that does not fit.

use super::ast::{
    Comparison, Condition, Count, Ident, Literal, LiteralKind, Op, OrderItem, Path, Query,
    SelectItem, SemiJoin,
};
use super::error::{Source, MALFORMED_QUERY};
use super::lexer::{BadToken, Tok, Token};
use super::relative;
use super::temporal::{parse_date, parse_datetime};
use super::SoqlError;

/// Nesting allowed for parentheses and `NOT` in WHERE: far beyond real queries, and low enough
/// that hostile input cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

/// Salesforce's reserved words: never names, so `SELECT Id, From ...` fails at `From`.
const RESERVED: &[&str] = &[
    "AND", "ASC", "DESC", "EXCLUDES", "FIRST", "FROM", "GROUP", "HAVING", "IN", "INCLUDES", "LAST",
    "LIKE", "LIMIT", "NOT", "NULL", "NULLS", "OR", "SELECT", "WHERE", "WITH",
];

/// Words that may follow the FROM object and so are no alias (WHERE, GROUP... are reserved).
const CLAUSES: &[&str] = &["ORDER", "LIMIT", "OFFSET", "FOR", "USING", "ALL", "UPDATE"];

fn is_one_of(words: &[&str], word: &str) -> bool {
    words.iter().any(|w| w.eq_ignore_ascii_case(word))
}

pub fn parse(tokens: &[Token], source: &Source) -> Result<Query, SoqlError> {
    let mut parser = Parser {
        tokens,
        source,
        at: 0,
        depth: 0,
    };
    let query = parser.query(false)?;
    parser.expect_end()?;
    Ok(query)
}

struct Parser<'t> {
    tokens: &'t [Token],
    source: &'t Source<'t>,
    at: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        // The lexer always ends the list with Eof or Bad, and the parser never passes either.
        &self.tokens[self.at.min(self.tokens.len() - 1)]
    }

    fn bump(&mut self) -> Token {
        let token = self.peek().clone();
        if self.at < self.tokens.len() - 1 {
            self.at += 1;
        }
        token
    }

    fn is_keyword(&self, keyword: &str) -> bool {
        matches!(&self.peek().tok, Tok::Ident(name) if name.eq_ignore_ascii_case(keyword))
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let found = self.is_keyword(keyword);
        if found {
            self.bump();
        }
        found
    }

    fn expect_keyword(&mut self, keyword: &str) -> Result<(), SoqlError> {
        if self.eat_keyword(keyword) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn expect_one_of(&mut self, keywords: &[&str]) -> Result<(), SoqlError> {
        match keywords.iter().find(|k| self.is_keyword(k)) {
            Some(_) => {
                self.bump();
                Ok(())
            }
            None => Err(self.unexpected()),
        }
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        let found = &self.peek().tok == tok;
        if found {
            self.bump();
        }
        found
    }

    /// The error for the current token: Salesforce's `unexpected token`, or the lexer's fault.
    fn unexpected(&self) -> SoqlError {
        self.unexpected_token(self.peek())
    }

    fn unexpected_token(&self, token: &Token) -> SoqlError {
        let message = match &token.tok {
            Tok::Eof => "unexpected token: '<EOF>'".to_string(),
            // Salesforce's wording for these is unrecorded; these messages are the emulator's.
            Tok::Bad(BadToken::Unterminated) => "unterminated string literal".to_string(),
            Tok::Bad(BadToken::Char(c)) => format!("unexpected token: '{c}'"),
            _ => format!("unexpected token: '{}'", self.text(token)),
        };
        self.source.error(MALFORMED_QUERY, token.start, message)
    }

    fn text(&self, token: &Token) -> String {
        self.source.slice(token.start, token.end).to_string()
    }

    fn expect_right_paren(&mut self) -> Result<(), SoqlError> {
        if self.eat(&Tok::RParen) {
            return Ok(());
        }
        let token = self.peek();
        if matches!(token.tok, Tok::Bad(_)) {
            return Err(self.unexpected());
        }
        let found = match token.tok {
            Tok::Eof => "<EOF>".to_string(),
            _ => self.text(token),
        };
        let message = format!("expecting a right parentheses, found '{found}'");
        Err(self.source.error(MALFORMED_QUERY, token.start, message))
    }

    fn expect_end(&self) -> Result<(), SoqlError> {
        match self.peek().tok {
            Tok::Eof => Ok(()),
            _ => Err(self.unexpected()),
        }
    }

    fn query(&mut self, sub: bool) -> Result<Query, SoqlError> {
        self.expect_keyword("SELECT")?;
        let mut select = Vec::new();
        let count_only = !sub && self.count()?;
        if !count_only {
            loop {
                select.push(self.select_item(sub)?);
                if !self.eat(&Tok::Comma) {
                    break;
                }
            }
        }
        self.expect_keyword("FROM")?;
        // Object names may be reserved words: `FROM Group`, `FROM Order`.
        let from = self.ident(true)?;
        let alias = match &self.peek().tok {
            Tok::Ident(word) if !is_one_of(RESERVED, word) && !is_one_of(CLAUSES, word) => {
                Some(self.name()?)
            }
            _ => None,
        };
        let filter = if self.eat_keyword("WHERE") {
            Some(self.condition()?)
        } else {
            None
        };
        // The emulator has one all-seeing user, so access modes change nothing.
        if self.eat_keyword("WITH") {
            self.expect_one_of(&["SECURITY_ENFORCED", "USER_MODE", "SYSTEM_MODE"])?;
        }
        let mut order_by = Vec::new();
        if self.eat_keyword("ORDER") {
            self.expect_keyword("BY")?;
            loop {
                order_by.push(self.order_item()?);
                if !self.eat(&Tok::Comma) {
                    break;
                }
            }
        }
        let limit = if self.eat_keyword("LIMIT") {
            Some(self.number()?)
        } else {
            None
        };
        let offset = if self.eat_keyword("OFFSET") {
            Some(self.number()?)
        } else {
            None
        };
        // Nothing to track or lock in the emulator.
        if !sub && self.eat_keyword("FOR") {
            self.expect_one_of(&["VIEW", "REFERENCE", "UPDATE"])?;
        }
        Ok(Query {
            count_only,
            select,
            from,
            alias,
            filter,
            order_by,
            limit,
            offset,
        })
    }

    /// Consumes `COUNT()` if it comes next. (`COUNT` followed by anything else may be a field.)
    fn count(&mut self) -> Result<bool, SoqlError> {
        let next_is_paren = self
            .tokens
            .get(self.at + 1)
            .is_some_and(|t| t.tok == Tok::LParen);
        if !(self.is_keyword("COUNT") && next_is_paren) {
            return Ok(false);
        }
        self.bump();
        self.bump();
        self.expect_right_paren()?;
        Ok(true)
    }

    fn select_item(&mut self, sub: bool) -> Result<SelectItem, SoqlError> {
        if !sub && self.eat(&Tok::LParen) {
            let query = self.query(true)?;
            self.expect_right_paren()?;
            return Ok(SelectItem::SubQuery(Box::new(query)));
        }
        Ok(SelectItem::Field(self.path()?))
    }

    /// A name that is no reserved word.
    fn name(&mut self) -> Result<Ident, SoqlError> {
        self.ident(false)
    }

    fn ident(&mut self, reserved_ok: bool) -> Result<Ident, SoqlError> {
        let token = self.peek();
        match &token.tok {
            Tok::Ident(name) if reserved_ok || !is_one_of(RESERVED, name) => {
                let ident = Ident {
                    name: name.clone(),
                    pos: token.start,
                };
                self.bump();
                Ok(ident)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn path(&mut self) -> Result<Path, SoqlError> {
        let mut segments = vec![self.name()?];
        // After a dot any word is a name (`GroupMember`'s `Group.Name`).
        while self.eat(&Tok::Dot) {
            segments.push(self.ident(true)?);
        }
        Ok(Path { segments })
    }

    fn enter(&mut self) -> Result<(), SoqlError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let message = format!("conditions nested more than {MAX_DEPTH} deep");
            return Err(self
                .source
                .error(MALFORMED_QUERY, self.peek().start, message));
        }
        Ok(())
    }

    fn condition(&mut self) -> Result<Condition, SoqlError> {
        self.enter()?;
        let mut parts = vec![self.unary()?];
        let mut conjunction: Option<&str> = None;
        loop {
            let next = ["AND", "OR"].into_iter().find(|k| self.is_keyword(k));
            let Some(keyword) = next else { break };
            // SOQL gives AND and OR no precedence: `a AND b OR c` is a syntax error.
            if conjunction.is_some_and(|c| c != keyword) {
                return Err(self.unexpected());
            }
            conjunction = Some(keyword);
            self.bump();
            parts.push(self.unary()?);
        }
        self.depth -= 1;
        Ok(match conjunction {
            None => parts.remove(0),
            Some("AND") => Condition::And(parts),
            Some(_) => Condition::Or(parts),
        })
    }

    fn unary(&mut self) -> Result<Condition, SoqlError> {
        if self.eat_keyword("NOT") {
            self.enter()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Condition::Not(Box::new(inner)));
        }
        if self.eat(&Tok::LParen) {
            let inner = self.condition()?;
            self.expect_right_paren()?;
            return Ok(inner);
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Condition, SoqlError> {
        let path = self.path()?;
        let op = match self.peek().tok {
            Tok::Eq => Op::Eq,
            Tok::Ne => Op::Ne,
            Tok::Lt => Op::Lt,
            Tok::Le => Op::Le,
            Tok::Gt => Op::Gt,
            Tok::Ge => Op::Ge,
            _ if self.is_keyword("LIKE") => Op::Like,
            _ if self.is_keyword("IN") => Op::In,
            _ if self.is_keyword("NOT") => {
                self.bump();
                if !self.is_keyword("IN") {
                    return Err(self.unexpected());
                }
                Op::NotIn
            }
            _ => return Err(self.unexpected()),
        };
        self.bump();
        if !matches!(op, Op::In | Op::NotIn) {
            let values = vec![self.value()?];
            return Ok(Condition::Compare(Comparison { path, op, values }));
        }
        if !self.eat(&Tok::LParen) {
            return Err(self.unexpected());
        }
        if self.is_keyword("SELECT") {
            let query = Box::new(self.query(true)?);
            self.expect_right_paren()?;
            let negated = op == Op::NotIn;
            return Ok(Condition::SemiJoin(SemiJoin {
                path,
                negated,
                query,
            }));
        }
        let values = self.value_list()?;
        Ok(Condition::Compare(Comparison { path, op, values }))
    }

    /// The values of `IN (...)`, after the opening parenthesis.
    fn value_list(&mut self) -> Result<Vec<Literal>, SoqlError> {
        let mut values = vec![self.value()?];
        while self.eat(&Tok::Comma) {
            values.push(self.value()?);
        }
        self.expect_right_paren()?;
        Ok(values)
    }

    fn value(&mut self) -> Result<Literal, SoqlError> {
        let token = self.bump();
        let kind = match &token.tok {
            Tok::Str(raw) => LiteralKind::Str(raw.clone()),
            Tok::Number(n) => LiteralKind::Number(n.clone()),
            Tok::Temporal(t) => {
                let parsed = if t.contains(['T', 't']) {
                    parse_datetime(t).map(LiteralKind::DateTime)
                } else {
                    parse_date(t).map(LiteralKind::Date)
                };
                parsed.ok_or_else(|| self.unexpected_token(&token))?
            }
            Tok::Ident(word) => match word.to_ascii_uppercase().as_str() {
                "NULL" => LiteralKind::Null,
                "TRUE" => LiteralKind::Bool(true),
                "FALSE" => LiteralKind::Bool(false),
                word => match relative::lookup(word) {
                    Some(relative::Literal::Fixed(date)) => LiteralKind::Relative(date),
                    Some(relative::Literal::Counted(direction, period)) => {
                        LiteralKind::Relative(direction.with(period, self.period_count()?))
                    }
                    None => return Err(self.unexpected_token(&token)),
                },
            },
            _ => return Err(self.unexpected_token(&token)),
        };
        Ok(Literal {
            kind,
            pos: token.start,
        })
    }

    /// The `:n` of `LAST_N_DAYS:n`.
    fn period_count(&mut self) -> Result<i64, SoqlError> {
        if !self.eat(&Tok::Colon) {
            return Err(self.unexpected());
        }
        let count = self.number()?;
        // At most i32::MAX, so this always fits.
        Ok(i64::try_from(count.value).unwrap_or(i64::from(i32::MAX)))
    }

    fn order_item(&mut self) -> Result<OrderItem, SoqlError> {
        let path = self.path()?;
        let descending = if self.eat_keyword("DESC") {
            true
        } else {
            self.eat_keyword("ASC");
            false
        };
        let nulls_last = if self.eat_keyword("NULLS") {
            if self.eat_keyword("LAST") {
                true
            } else {
                self.expect_keyword("FIRST")?;
                false
            }
        } else {
            false
        };
        Ok(OrderItem {
            path,
            descending,
            nulls_last,
        })
    }

    /// A non-negative integer (LIMIT, OFFSET, day counts).
    fn number(&mut self) -> Result<Count, SoqlError> {
        let token = self.peek().clone();
        let Tok::Number(text) = &token.tok else {
            return Err(self.unexpected());
        };
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.unexpected());
        }
        // Salesforce reads these as 32-bit integers.
        let value = text
            .parse::<i32>()
            .ok()
            .and_then(|v| usize::try_from(v).ok())
            .ok_or_else(|| {
                let message = format!("numeric value out of range: {text}");
                self.source.error(MALFORMED_QUERY, token.start, message)
            })?;
        self.bump();
        Ok(Count {
            value,
            pos: token.start,
        })
    }
}
