//! Splits SOQL text into tokens. Keywords are plain identifiers here; the parser tells them apart
//! case-insensitively, because SOQL keywords and names share one spelling space.

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Ident(String),
    /// The raw text between single quotes (escapes still in place).
    Str(String),
    Number(String),
    /// Something shaped like a date or datetime literal (`2026-11-24`, `2026-11-24T10:00:00Z`);
    /// the parser checks it.
    Temporal(String),
    Comma,
    Dot,
    LParen,
    RParen,
    Colon,
    Eq,
    /// `!=` or `<>`.
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Eof,
    /// Text that is no token; lexing stops here so that earlier syntax errors win.
    Bad(BadToken),
}

#[derive(Debug, Clone, PartialEq)]
pub enum BadToken {
    /// A character that starts no token.
    Char(char),
    /// A string literal with no closing quote.
    Unterminated,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    /// Byte offsets into the query text.
    pub start: usize,
    pub end: usize,
}

/// The tokens of `text`, ending with `Eof` or with the first `Bad` token.
pub fn tokenize(text: &str) -> Vec<Token> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        let Some(&b) = bytes.get(i) else {
            tokens.push(Token {
                tok: Tok::Eof,
                start,
                end: start,
            });
            return tokens;
        };
        let (tok, end) = match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'_' => {
                let end = scan(bytes, i, |c| c.is_ascii_alphanumeric() || c == b'_');
                (Tok::Ident(text[i..end].to_string()), end)
            }
            b'0'..=b'9' => number_or_temporal(text, i),
            b'-' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => number_or_temporal(text, i),
            b'\'' => string(text, i),
            b',' => (Tok::Comma, i + 1),
            b'.' => (Tok::Dot, i + 1),
            b'(' => (Tok::LParen, i + 1),
            b')' => (Tok::RParen, i + 1),
            b':' => (Tok::Colon, i + 1),
            b'=' => (Tok::Eq, i + 1),
            b'!' if bytes.get(i + 1) == Some(&b'=') => (Tok::Ne, i + 2),
            b'<' => match bytes.get(i + 1) {
                Some(b'=') => (Tok::Le, i + 2),
                Some(b'>') => (Tok::Ne, i + 2),
                _ => (Tok::Lt, i + 1),
            },
            b'>' if bytes.get(i + 1) == Some(&b'=') => (Tok::Ge, i + 2),
            b'>' => (Tok::Gt, i + 1),
            _ => {
                let c = text[i..].chars().next().unwrap_or('\u{fffd}');
                (Tok::Bad(BadToken::Char(c)), i + c.len_utf8())
            }
        };
        let bad = matches!(tok, Tok::Bad(_));
        tokens.push(Token { tok, start, end });
        if bad {
            return tokens;
        }
        i = end;
    }
}

/// The end of the run of bytes from `from` that satisfy `accept`.
fn scan(bytes: &[u8], from: usize, accept: impl Fn(u8) -> bool) -> usize {
    bytes[from..]
        .iter()
        .position(|&c| !accept(c))
        .map_or(bytes.len(), |n| from + n)
}

/// `123`, `-1.5`, or a date/datetime: four digits then `-digit` starts a temporal literal,
/// which runs over the characters a datetime can hold.
fn number_or_temporal(text: &str, start: usize) -> (Tok, usize) {
    let bytes = text.as_bytes();
    let digits_from = if bytes[start] == b'-' {
        start + 1
    } else {
        start
    };
    let int_end = scan(bytes, digits_from, |c| c.is_ascii_digit());
    let temporal = start == digits_from
        && int_end - start == 4
        && bytes.get(int_end) == Some(&b'-')
        && bytes.get(int_end + 1).is_some_and(u8::is_ascii_digit);
    if temporal {
        let end = scan(bytes, start, |c| {
            c.is_ascii_alphanumeric() || matches!(c, b'-' | b'+' | b':' | b'.')
        });
        return (Tok::Temporal(text[start..end].to_string()), end);
    }
    let mut end = int_end;
    if bytes.get(end) == Some(&b'.') && bytes.get(end + 1).is_some_and(u8::is_ascii_digit) {
        end = scan(bytes, end + 1, |c| c.is_ascii_digit());
    }
    (Tok::Number(text[start..end].to_string()), end)
}

/// A quoted string: a backslash protects the next character, the first unprotected quote ends it.
fn string(text: &str, start: usize) -> (Tok, usize) {
    let bytes = text.as_bytes();
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'\'' => return (Tok::Str(text[start + 1..i].to_string()), i + 1),
            _ => i += 1,
        }
    }
    (Tok::Bad(BadToken::Unterminated), text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<Tok> {
        tokenize(text).into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn operators_and_punctuation() {
        assert_eq!(
            toks("= != <> < <= > >= , . ( ) :"),
            vec![
                Tok::Eq,
                Tok::Ne,
                Tok::Ne,
                Tok::Lt,
                Tok::Le,
                Tok::Gt,
                Tok::Ge,
                Tok::Comma,
                Tok::Dot,
                Tok::LParen,
                Tok::RParen,
                Tok::Colon,
                Tok::Eof
            ]
        );
    }

    #[test]
    fn numbers_dates_and_names() {
        assert_eq!(
            toks("Amount>-1.5 AND d=2026-11-24T10:00:00.000+0000)"),
            vec![
                Tok::Ident("Amount".into()),
                Tok::Gt,
                Tok::Number("-1.5".into()),
                Tok::Ident("AND".into()),
                Tok::Ident("d".into()),
                Tok::Eq,
                Tok::Temporal("2026-11-24T10:00:00.000+0000".into()),
                Tok::RParen,
                Tok::Eof
            ]
        );
    }

    #[test]
    fn string_keeps_escapes_and_ends_at_unescaped_quote() {
        assert_eq!(
            toks(r"'Bob\'s' 'x\\'"),
            vec![
                Tok::Str(r"Bob\'s".into()),
                Tok::Str(r"x\\".into()),
                Tok::Eof
            ]
        );
        let last = tokenize("Name = 'abc").pop().unwrap();
        assert_eq!(last.tok, Tok::Bad(BadToken::Unterminated));
        assert_eq!(last.start, 7);
        // A trailing backslash must not index past the end.
        assert_eq!(toks("'\\").pop(), Some(Tok::Bad(BadToken::Unterminated)));
    }

    #[test]
    fn lexing_stops_at_the_first_bad_character() {
        assert_eq!(
            toks("a \"b\" c"),
            vec![Tok::Ident("a".into()), Tok::Bad(BadToken::Char('"'))]
        );
        assert_eq!(toks("é"), vec![Tok::Bad(BadToken::Char('é'))]);
    }
}
