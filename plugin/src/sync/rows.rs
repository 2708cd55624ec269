//! Reading the rows Salesforce answers a query with: a field's value, whatever the case of its
//! name (a tenant's settings may name `email` what Salesforce answers as `Email`), and whether
//! a row holds the visitor's values as SOQL's `=` compared them.

use serde_json::Value;

/// The value at a dotted path (`Account.Name`), field names in any case; null when absent.
pub fn at(row: &Value, path: &str) -> Value {
    let mut value = row;
    for part in path.split('.') {
        let next = value.as_object().and_then(|o| {
            o.get(part).or_else(|| {
                o.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(part))
                    .map(|(_, v)| v)
            })
        });
        match next {
            Some(v) => value = v,
            None => return Value::Null,
        }
    }
    value.clone()
}

/// Whether `row` has each `(field, value)`, as SOQL's `=` compares them: text whatever its
/// case, numbers as numbers.
pub fn has_values(row: &Value, values: &[(String, String)]) -> bool {
    values.iter().all(|(field, value)| match at(row, field) {
        Value::String(text) => text.to_lowercase() == value.to_lowercase(),
        Value::Number(number) => value.parse::<f64>().ok() == number.as_f64(),
        Value::Bool(b) => value.eq_ignore_ascii_case(&b.to_string()),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_read_parents_in_any_case_and_absent_is_null() {
        let row = json!({"Name": "Jane", "Account": {"Name": "Acme"}, "Owner": null});
        assert_eq!(at(&row, "Account.Name"), "Acme");
        assert_eq!(at(&row, "account.name"), "Acme");
        assert_eq!(at(&row, "Owner.Name"), Value::Null);
        assert_eq!(at(&row, "Phone"), Value::Null);
    }

    #[test]
    fn a_row_has_the_visitors_values_whatever_their_case() {
        let row = json!({"Email": "Jane@Acme.example", "Phone": "+1 415", "Age__c": 42});
        let values = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(f, v)| (f.to_string(), v.to_string()))
                .collect()
        };
        assert!(has_values(&row, &values(&[("Email", "jane@acme.example")])));
        assert!(has_values(&row, &values(&[("email", "jane@acme.example")])));
        assert!(has_values(
            &row,
            &values(&[("Email", "JANE@acme.example"), ("Age__c", "42.0")])
        ));
        assert!(!has_values(
            &row,
            &values(&[("Email", "jane@acme.example"), ("Phone", "+1 416")])
        ));
        assert!(!has_values(&row, &values(&[("Missing", "x")])));
    }
}
