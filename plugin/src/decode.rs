//! JSON decoding with errors that name the offending JSON path in plain words
//! (`visitor.email must be a string`), shared by the host configuration, events and settings.

use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::Value;

/// Where a document went wrong and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// The JSON path of the offending value (`messages[2].from`); empty for the whole document.
    pub path: String,
    /// What is wrong with it, worded to follow the path (`must be a string`).
    pub problem: String,
}

impl DecodeError {
    pub fn new(path: impl Into<String>, problem: impl Into<String>) -> Self {
        DecodeError {
            path: path.into(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.problem)
        } else {
            write!(f, "{} {}", self.path, self.problem)
        }
    }
}

/// Parses `bytes` as one JSON document of at most `max_bytes`. serde_json refuses nesting deeper
/// than 128 levels, so hostile input cannot exhaust the stack.
pub fn parse_json(bytes: &[u8], max_bytes: usize) -> Result<Value, DecodeError> {
    if bytes.len() > max_bytes {
        return Err(DecodeError::new(
            "",
            format!(
                "is {} bytes long; the limit is {} bytes",
                bytes.len(),
                max_bytes
            ),
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        DecodeError::new(
            "",
            format!("is not valid UTF-8 (at byte {})", e.valid_up_to()),
        )
    })?;
    serde_json::from_str(text).map_err(|e| DecodeError::new("", format!("is not valid JSON: {e}")))
}

/// Decodes a typed value from a parsed document, naming the path of the first bad field.
pub fn from_value<T: DeserializeOwned>(value: &Value) -> Result<T, DecodeError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        explain(path, &e.into_inner().to_string())
    })
}

/// Rewords serde's messages so that they read after a JSON path.
fn explain(path: String, message: &str) -> DecodeError {
    if let Some(field) = between(message, "missing field `", "`") {
        return DecodeError::new(join(&path, field), "is required");
    }
    // serde_path_to_error's path already ends with the unknown field's name.
    if message.starts_with("unknown field `") {
        let known = message
            .split_once("expected ")
            .map(|(_, rest)| format!(" (expected {})", plain_names(rest)))
            .unwrap_or_default();
        return DecodeError::new(path, format!("is not a known field{known}"));
    }
    if let Some(found) = between(message, "unknown variant `", "`") {
        let expected = message
            .split_once("expected ")
            .map(|(_, rest)| alternatives(rest))
            .unwrap_or_default();
        return DecodeError::new(path, format!("must be {expected} (found \"{found}\")"));
    }
    for prefix in ["invalid type: ", "invalid value: ", "invalid length "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            if let Some((found, expected)) = rest.split_once(", expected ") {
                return DecodeError::new(
                    path,
                    format!(
                        "must be {} (found {})",
                        plain_type(expected),
                        plain_type(found)
                    ),
                );
            }
        }
    }
    DecodeError::new(path, message.to_string())
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = text.strip_prefix(start)?;
    Some(&rest[..rest.find(end)?])
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

/// serde says "one of `a`, `b`"; people read "one of a, b".
fn plain_names(list: &str) -> String {
    list.replace('`', "")
}

/// serde says "one of `a`, `b`, `c`" or "`a` or `b`"; people read "a, b or c".
fn alternatives(list: &str) -> String {
    let names = plain_names(list.strip_prefix("one of ").unwrap_or(list));
    let names: Vec<&str> = names.split(", ").flat_map(|n| n.split(" or ")).collect();
    listed(&names)
}

/// `A or B`, `A, B or C`.
pub fn listed(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => one.to_string(),
        [first @ .., last] => format!("{} or {last}", first.join(", ")),
    }
}

/// serde's names for JSON shapes are Rust's; an admin reads JSON's.
fn plain_type(text: &str) -> String {
    match text {
        "u8" | "u16" | "u32" | "u64" | "usize" => return "a whole number".to_string(),
        "i8" | "i16" | "i32" | "i64" | "isize" => return "an integer".to_string(),
        "f32" | "f64" => return "a number".to_string(),
        _ => {}
    }
    text.replace("a sequence", "an array")
        .replace("sequence", "array")
        .replace("a map", "an object")
        .replace("map", "object")
        .replace("unit value", "null")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        name: String,
        #[serde(default)]
        tags: Vec<String>,
        inner: Option<Inner>,
    }

    #[derive(Deserialize, Debug)]
    #[serde(expecting = "an object")]
    #[allow(dead_code)]
    struct Inner {
        kind: Kind,
    }

    #[derive(Deserialize, Debug)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        Visitor,
        Agent,
    }

    fn err(json: &str) -> String {
        let v = parse_json(json.as_bytes(), 1 << 20).unwrap();
        from_value::<Doc>(&v).unwrap_err().to_string()
    }

    #[test]
    fn names_paths_in_plain_words() {
        assert_eq!(err(r#"{}"#), "name is required");
        assert_eq!(
            from_value::<u64>(&serde_json::json!("four"))
                .unwrap_err()
                .to_string(),
            "must be a whole number (found string \"four\")"
        );
        assert_eq!(
            err(r#"{"name": 5}"#),
            "name must be a string (found integer `5`)"
        );
        assert_eq!(
            err(r#"{"name": "x", "tags": ["a", 7]}"#),
            "tags[1] must be a string (found integer `7`)"
        );
        assert_eq!(
            err(r#"{"name": "x", "tags": {}}"#),
            "tags must be an array (found object)"
        );
        assert_eq!(
            err(r#"{"name": "x", "inner": {}}"#),
            "inner.kind is required"
        );
        assert_eq!(
            err(r#"{"name": "x", "inner": 3}"#),
            "inner must be an object (found integer `3`)"
        );
        assert_eq!(
            err(r#"{"name": "x", "inner": {"kind": "robot"}}"#),
            "inner.kind must be visitor or agent (found \"robot\")"
        );
        assert_eq!(
            err(r#"{"name": "x", "nmae": 1}"#),
            "nmae is not a known field (expected one of name, tags, inner)"
        );
    }

    #[test]
    fn names_are_listed_with_or_before_the_last() {
        assert_eq!(listed(&["a"]), "a");
        assert_eq!(listed(&["a", "b"]), "a or b");
        assert_eq!(listed(&["a", "b", "c"]), "a, b or c");
        assert_eq!(alternatives("one of `a`, `b`, `c`"), "a, b or c");
        assert_eq!(alternatives("`a` or `b`"), "a or b");
        assert_eq!(alternatives("`a`"), "a");
    }

    #[test]
    fn refuses_oversized_non_utf8_and_deep_input() {
        let e = parse_json(&[b'1'; 11], 10).unwrap_err();
        assert_eq!(e.to_string(), "is 11 bytes long; the limit is 10 bytes");
        let e = parse_json(b"{\"a\": \"\xff\"}", 100).unwrap_err();
        assert_eq!(e.to_string(), "is not valid UTF-8 (at byte 7)");
        let deep = "[".repeat(100_000);
        let e = parse_json(deep.as_bytes(), 1 << 20).unwrap_err();
        assert!(e.problem.contains("recursion limit"), "{e}");
    }
}
