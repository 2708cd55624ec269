//! Field values reduced to what SOQL compares: folded text, id keys, numbers, booleans, and
//! dates/datetimes as day or millisecond counts.

use std::cmp::Ordering;

use serde_json::Value;

use super::{ids, like, temporal};

/// How SOQL compares a field, from its describe type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Id,
    Text,
    Bool,
    Number,
    Date,
    DateTime,
}

impl Kind {
    pub fn of(describe_type: &str) -> Kind {
        match describe_type {
            "id" | "reference" => Kind::Id,
            "boolean" => Kind::Bool,
            "int" | "long" | "double" | "currency" | "percent" => Kind::Number,
            "date" => Kind::Date,
            "datetime" => Kind::DateTime,
            // string, textarea, email, phone, url, picklist, combobox, ...
            _ => Kind::Text,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// An id's 15-character key (case-sensitive).
    Id(String),
    /// Case-folded text.
    Text(String),
    Bool(bool),
    Number(f64),
    /// Days for date fields, milliseconds for datetime fields.
    Time(i64),
}

impl Scalar {
    /// A stored value read as a field of `kind`; `None` for null. Salesforce stores no empty
    /// strings, so `""` reads as null too.
    pub fn from_json(kind: Kind, value: &Value) -> Option<Scalar> {
        let text = match value {
            Value::Null => return None,
            Value::String(s) if s.is_empty() => return None,
            Value::String(s) => s.clone(),
            Value::Bool(b) if kind == Kind::Bool => return Some(Scalar::Bool(*b)),
            Value::Number(n) if kind == Kind::Number => return n.as_f64().map(Scalar::Number),
            other => other.to_string(),
        };
        match kind {
            Kind::Id => Some(Scalar::Id(ids::key(&text).to_string())),
            Kind::Text => Some(Scalar::Text(like::fold(&text))),
            Kind::Bool => text.parse().ok().map(Scalar::Bool),
            Kind::Number => text.parse().ok().map(Scalar::Number),
            Kind::Date => temporal::parse_date(&text)
                .or_else(|| {
                    temporal::parse_datetime(&text).map(|ms| ms.div_euclid(temporal::MS_PER_DAY))
                })
                .map(Scalar::Time),
            Kind::DateTime => temporal::parse_datetime(&text)
                .or_else(|| temporal::parse_date(&text).map(|days| days * temporal::MS_PER_DAY))
                .map(Scalar::Time),
        }
    }

    /// Order between two values of the same kind.
    pub fn compare(&self, other: &Scalar) -> Option<Ordering> {
        match (self, other) {
            (Scalar::Id(a), Scalar::Id(b)) | (Scalar::Text(a), Scalar::Text(b)) => Some(a.cmp(b)),
            (Scalar::Bool(a), Scalar::Bool(b)) => Some(a.cmp(b)),
            (Scalar::Number(a), Scalar::Number(b)) => a.partial_cmp(b),
            (Scalar::Time(a), Scalar::Time(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stored_values_by_kind() {
        assert_eq!(
            Scalar::from_json(Kind::Text, &json!("Ab")),
            Some(Scalar::Text("ab".into()))
        );
        assert_eq!(Scalar::from_json(Kind::Text, &json!("")), None);
        assert_eq!(Scalar::from_json(Kind::Text, &json!(null)), None);
        assert_eq!(
            Scalar::from_json(Kind::Id, &json!("001D000000IqhSLIAZ")),
            Some(Scalar::Id("001D000000IqhSL".into()))
        );
        assert_eq!(
            Scalar::from_json(Kind::Number, &json!(23.0)),
            Some(Scalar::Number(23.0))
        );
        assert_eq!(
            Scalar::from_json(Kind::Number, &json!("7")),
            Some(Scalar::Number(7.0))
        );
        assert_eq!(
            Scalar::from_json(Kind::Bool, &json!(true)),
            Some(Scalar::Bool(true))
        );
        assert_eq!(
            Scalar::from_json(Kind::Date, &json!("1970-01-03")),
            Some(Scalar::Time(2))
        );
        assert_eq!(
            Scalar::from_json(Kind::DateTime, &json!("1970-01-01T00:00:01.000+0000")),
            Some(Scalar::Time(1000))
        );
        assert_eq!(Scalar::from_json(Kind::DateTime, &json!("garbage")), None);
    }

    #[test]
    fn only_like_kinds_compare() {
        assert_eq!(
            Scalar::Number(1.0).compare(&Scalar::Number(2.0)),
            Some(Ordering::Less)
        );
        assert_eq!(Scalar::Number(1.0).compare(&Scalar::Text("1".into())), None);
    }
}
