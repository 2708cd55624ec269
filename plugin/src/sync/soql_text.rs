//! Text that goes into SOQL: string literals escaped exactly as salesforce-api.md §2.10 says,
//! and identifiers checked against a whitelist (they cannot be quoted).
//!
//! Visitor text ends up in WHERE clauses (identification rules match on email, phone, name):
//! whatever it contains, it must stay inside its literal.

use std::fmt::Write;

/// The order that makes "the most recently modified" deterministic: Salesforce keeps datetimes
/// to the second, and leaves the order of ties unspecified; among them the newest Id wins.
pub const NEWEST_FIRST: &str = "ORDER BY LastModifiedDate DESC, Id DESC";

/// A SOQL string literal, quotes included: `O'Brien` → `'O\'Brien'`.
pub fn quote(text: &str) -> String {
    literal(text, false)
}

/// A SOQL string literal for the right side of `LIKE` that matches `text` itself: `%` and `_`
/// are escaped too, so they are not wildcards. For a pattern with wildcards, see
/// [`like_escaped`].
pub fn quote_like(text: &str) -> String {
    literal(text, true)
}

/// The escaped inside of a `LIKE` literal, without quotes, for patterns such as
/// `format!("'{}%'", like_escaped(prefix))` (starts with `prefix`).
pub fn like_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text, true);
    out
}

/// `name` if it is a safe object or field name, or a relationship path (`Account.Name`): dot-
/// separated parts of ASCII letters, digits and underscores, each starting with a letter.
pub fn identifier(name: &str) -> Option<&str> {
    let part_ok = |part: &str| {
        part.starts_with(|c: char| c.is_ascii_alphabetic())
            && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    name.split('.').all(part_ok).then_some(name)
}

fn literal(text: &str, like: bool) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    escape_into(&mut out, text, like);
    out.push('\'');
    out
}

/// One pass over the characters: each is replaced on its own, so a backslash in the input is
/// never taken as the start of an escape we add (the "backslash first" rule).
fn escape_into(out: &mut String, text: &str, like: bool) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '%' if like => out.push_str("\\%"),
            '_' if like => out.push_str("\\_"),
            // Control characters are all below U+00A0, so four hex digits always suffice.
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes a literal as Salesforce does (§2.10), refusing anything it would refuse; `None`
    /// when the text is not exactly one literal.
    fn unquote(literal: &str, like: bool) -> Option<String> {
        let inner = literal.strip_prefix('\'')?.strip_suffix('\'')?;
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '\'' => return None, // an unescaped quote would end the literal early
                '\\' => out.push(match chars.next()? {
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    e @ ('"' | '\'' | '\\') => e,
                    e @ ('%' | '_') if like => e,
                    'u' => {
                        let hex: String = chars.by_ref().take(4).collect();
                        char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?
                    }
                    _ => return None,
                }),
                '%' | '_' if like => return None, // a wildcard, not the visitor's character
                c => out.push(c),
            }
        }
        Some(out)
    }

    const NASTY: [&str; 10] = [
        "O'Brien",
        "back\\slash",
        "ends with a backslash\\",
        "\\'",
        "line\nbreak\r\ttab\u{8}\u{c}",
        "' OR Name LIKE '%",
        "say \"hi\"",
        "Zoë 日本 🎉",
        "nul\0 bell\u{7} del\u{7f} c1\u{85}",
        "100%_sure",
    ];

    #[test]
    fn quoted_text_reads_back_as_itself() {
        for text in NASTY {
            assert_eq!(
                unquote(&quote(text), false).as_deref(),
                Some(text),
                "{text:?}"
            );
            assert_eq!(
                unquote(&quote_like(text), true).as_deref(),
                Some(text),
                "{text:?}"
            );
        }
    }

    #[test]
    fn escapes_exactly_as_documented() {
        assert_eq!(quote("O'Brien"), r"'O\'Brien'");
        assert_eq!(quote("a\\b"), r"'a\\b'");
        assert_eq!(quote("x\\"), r"'x\\'");
        assert_eq!(quote("\\'"), r"'\\\''");
        assert_eq!(quote("\"\n\r\t\u{8}\u{c}"), r#"'\"\n\r\t\b\f'"#);
        assert_eq!(quote("\0\u{1b}\u{7f}"), r"'\u0000\u001b\u007f'");
        assert_eq!(quote("Zoë 🎉"), "'Zoë 🎉'");
        assert_eq!(quote("50%_off"), "'50%_off'");
        assert_eq!(quote_like("50%_off"), r"'50\%\_off'");
        assert_eq!(quote("' OR Name LIKE '%"), r"'\' OR Name LIKE \'%'");
        assert_eq!(format!("'{}%'", like_escaped("a_b")), r"'a\_b%'");
    }

    #[test]
    fn identifiers_are_whitelisted() {
        for good in [
            "Email",
            "Customer_Id__c",
            "Account.Name",
            "Owner.Profile.Name",
        ] {
            assert_eq!(identifier(good), Some(good));
        }
        for bad in [
            "",
            "Name OR Id",
            "Name'",
            "Account..Name",
            ".Name",
            "Name.",
            "1Name",
            "_Name",
            "Na-me",
            "Nàme",
            "Name\n",
        ] {
            assert_eq!(identifier(bad), None, "{bad:?}");
        }
    }
}
