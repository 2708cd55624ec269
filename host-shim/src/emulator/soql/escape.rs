//! SOQL string literal escapes, exactly as Salesforce documents them ("Quoted String Escape
//! Sequences"): `\n \r \t \b \f` (either case), `\" \' \\`, `\uXXXX`, and in LIKE only `\%` `\_`.
//! Any other backslash sequence is an error.

/// One unit of a decoded literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Char(char),
    /// LIKE `_`: any one character.
    AnyChar,
    /// LIKE `%`: any run of characters.
    AnyRun,
}

/// A backslash sequence Salesforce refuses, with its byte offset in the raw literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IllegalEscape {
    pub offset: usize,
    pub sequence: String,
}

/// Decodes the raw text between the quotes. With `like`, unescaped `%` and `_` are wildcards
/// and `\%` `\_` are the plain characters; without it, `%` and `_` are plain and `\%` `\_` are
/// errors.
pub fn decode(raw: &str, like: bool) -> Result<Vec<Unit>, IllegalEscape> {
    let mut units = Vec::with_capacity(raw.len());
    let mut chars = raw.char_indices();
    while let Some((offset, c)) = chars.next() {
        let unit = match c {
            '%' if like => Unit::AnyRun,
            '_' if like => Unit::AnyChar,
            '\\' => {
                let illegal = |sequence: &str| IllegalEscape {
                    offset,
                    sequence: sequence.to_string(),
                };
                let Some((_, e)) = chars.next() else {
                    return Err(illegal("\\"));
                };
                Unit::Char(match e {
                    'n' | 'N' => '\n',
                    'r' | 'R' => '\r',
                    't' | 'T' => '\t',
                    'b' | 'B' => '\u{8}',
                    'f' | 'F' => '\u{c}',
                    '"' | '\'' | '\\' => e,
                    '%' | '_' if like => e,
                    'u' => {
                        let hex: String = chars.clone().take(4).map(|(_, h)| h).collect();
                        let code = (hex.len() == 4 && hex.chars().all(|h| h.is_ascii_hexdigit()))
                            .then(|| u32::from_str_radix(&hex, 16).ok())
                            .flatten()
                            .and_then(char::from_u32);
                        match code {
                            Some(decoded) => {
                                chars.nth(3);
                                decoded
                            }
                            None => return Err(illegal(&format!("\\u{hex}"))),
                        }
                    }
                    other => return Err(illegal(&format!("\\{other}"))),
                })
            }
            _ => Unit::Char(c),
        };
        units.push(unit);
    }
    Ok(units)
}

/// The plain string of a literal decoded without `like` (which yields only characters).
pub fn text(units: &[Unit]) -> String {
    units
        .iter()
        .filter_map(|u| match u {
            Unit::Char(c) => Some(*c),
            Unit::AnyChar | Unit::AnyRun => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(raw: &str) -> Result<String, IllegalEscape> {
        decode(raw, false).map(|u| text(&u))
    }

    #[test]
    fn every_documented_escape_decodes() {
        assert_eq!(
            plain(r#"a\nb\Nc\rd\Re\tf\Tg\bh\Bi\fj\Fk\"l\'m\\n\u00e9"#).unwrap(),
            "a\nb\nc\rd\re\tf\tg\u{8}h\u{8}i\u{c}j\u{c}k\"l'm\\né"
        );
    }

    #[test]
    fn other_escapes_are_illegal() {
        for (raw, seq, offset) in [
            (r"ab\q", r"\q", 2),
            (r"\%", r"\%", 0),
            (r"x\_", r"\_", 1),
            (r"\u12", r"\u12", 0),
            (r"\uZZZZ", r"\uZZZZ", 0),
            (r"\ud800", r"\ud800", 0),
            ("\\", "\\", 0),
            (r"\U00e9", r"\U", 0),
        ] {
            let err = plain(raw).unwrap_err();
            assert_eq!((err.sequence.as_str(), err.offset), (seq, offset), "{raw}");
        }
    }

    #[test]
    fn like_wildcards_and_their_escapes() {
        assert_eq!(
            decode(r"T_r\%%\_", true).unwrap(),
            vec![
                Unit::Char('T'),
                Unit::AnyChar,
                Unit::Char('r'),
                Unit::Char('%'),
                Unit::AnyRun,
                Unit::Char('_'),
            ]
        );
        // Outside LIKE the same characters are plain.
        assert_eq!(plain("50%_off").unwrap(), "50%_off");
    }
}
