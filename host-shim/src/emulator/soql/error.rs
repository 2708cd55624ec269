//! Salesforce's query error layout: positional errors quote a few tokens around the fault, put a
//! caret under it and name the row and column (1-based), then the message:
//! `"\n<excerpt>\n<spaces>^\nERROR at Row:1:Column:12\nNo such column ..."`.

use super::lexer::Token;
use super::SoqlError;

pub const MALFORMED_QUERY: &str = "MALFORMED_QUERY";
pub const INVALID_FIELD: &str = "INVALID_FIELD";
pub const INVALID_TYPE: &str = "INVALID_TYPE";
pub const INVALID_QUERY_FILTER_OPERATOR: &str = "INVALID_QUERY_FILTER_OPERATOR";
pub const NUMBER_OUTSIDE_VALID_RANGE: &str = "NUMBER_OUTSIDE_VALID_RANGE";

/// Tokens shown on each side of the fault. Real messages show four: `"LastModifiedById,
/// LastModifiedDate, From Account "` around `From`, and `"SELECT Id, Dispenser__c, Answer__c,
/// Audit_Question__c"` around `Dispenser__c`.
const CONTEXT_TOKENS: usize = 4;

/// The query text with its token spans, to place errors.
pub struct Source<'a> {
    text: &'a str,
    spans: Vec<(usize, usize)>,
}

impl<'a> Source<'a> {
    pub fn new(text: &'a str, tokens: &[Token]) -> Self {
        let spans = tokens.iter().map(|t| (t.start, t.end)).collect();
        Source { text, spans }
    }

    /// The query text between two byte offsets of token boundaries.
    pub fn slice(&self, start: usize, end: usize) -> &'a str {
        &self.text[start..end]
    }

    /// An error with Salesforce's layout pointing at byte offset `pos`.
    pub fn error(&self, code: &'static str, pos: usize, message: impl AsRef<str>) -> SoqlError {
        let text = self.text;
        let pos = floor_char_boundary(text, pos.min(text.len()));
        let line_start = text[..pos].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[pos..].find('\n').map_or(text.len(), |i| pos + i);
        let row = text[..pos].matches('\n').count() + 1;
        let column = text[line_start..pos].chars().count() + 1;

        // The window runs from the start of the fourth token before the fault to the end of the
        // fourth after it, kept on the fault's line.
        let at = self.spans.partition_point(|&(start, _)| start < pos);
        let first = self
            .spans
            .get(at.saturating_sub(CONTEXT_TOKENS))
            .map_or(pos, |s| s.0);
        let last = self
            .spans
            .get((at + CONTEXT_TOKENS).min(self.spans.len().saturating_sub(1)))
            .map_or(pos, |s| s.1);
        let from = floor_char_boundary(text, first.clamp(line_start, pos));
        let to = floor_char_boundary(text, last.clamp(pos, line_end));
        let caret = " ".repeat(text[from..pos].chars().count());
        SoqlError {
            error_code: code,
            message: format!(
                "\n{}\n{caret}^\nERROR at Row:{row}:Column:{column}\n{}",
                &text[from..to],
                message.as_ref()
            ),
        }
    }
}

/// An error Salesforce reports without a position.
pub fn plain(code: &'static str, message: impl Into<String>) -> SoqlError {
    SoqlError {
        error_code: code,
        message: message.into(),
    }
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::super::lexer::tokenize;
    use super::*;

    fn at(text: &str, pos: usize, message: &str) -> String {
        Source::new(text, &tokenize(text))
            .error(MALFORMED_QUERY, pos, message)
            .message
    }

    #[test]
    fn layout_matches_the_recorded_invalid_field_error() {
        let q = "SELECT Id, Dispenser__c, Answer__c, Audit_Question__c FROM Audit_Answer__c";
        assert_eq!(
            at(q, 11, "No such column"),
            "\nSELECT Id, Dispenser__c, Answer__c, Audit_Question__c\n           ^\nERROR at Row:1:Column:12\nNo such column"
        );
    }

    #[test]
    fn window_keeps_four_tokens_before_and_runs_to_the_end() {
        let q = "SELECT Id, CreatedDate, LastModifiedById, LastModifiedDate, From Account ";
        let pos = q.find("From").unwrap();
        let message = at(q, pos, "unexpected token: 'From'");
        assert!(
            message.starts_with("\nLastModifiedById, LastModifiedDate, From Account \n"),
            "{message}"
        );
        assert!(message.ends_with(&format!(
            "^\nERROR at Row:1:Column:{}\nunexpected token: 'From'",
            pos + 1
        )));
    }

    #[test]
    fn rows_and_columns_count_lines_and_characters() {
        let q = "SELECT Id\nFROM Contact\nWHERE Name = 'é' AND x = 1";
        let pos = q.find("AND").unwrap();
        let message = at(q, pos, "x");
        assert!(message.contains("ERROR at Row:3:Column:18\n"), "{message}");
        let caret = " ".repeat(17);
        assert!(
            message.starts_with(&format!("\nWHERE Name = 'é' AND x = 1\n{caret}^\n")),
            "{message}"
        );
    }
}
