//! Records as readable tables: the console's answers (`lookup`, `create`) and the demo's
//! report.

use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use serde_json::Value;

/// A table with a header row, then one row per record.
pub fn table(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> Table {
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED).set_header(header);
    for row in rows {
        table.add_row(row);
    }
    table
}

/// A JSON value as a cell: strings bare, null empty.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The customer view (`lookup`'s answer): each match's fields, Account and recent records.
pub fn customer_view(answer: &Value) -> String {
    let mut out = Vec::new();
    let matches = answer["matches"].as_array().map_or(&[][..], Vec::as_slice);
    if matches.len() > 1 {
        out.push(format!("{} matches, best first:", matches.len()));
    }
    for (n, found) in matches.iter().enumerate() {
        let via = if found["converted_lead"] == true {
            " (through the Lead it was converted from)".to_string()
        } else {
            format!(" (matched by {})", cell(&found["matched_by"]))
        };
        out.push(format!(
            "\n{}. {} {}{via}\n   {}",
            n + 1,
            cell(&found["object"]),
            cell(&found["id"]),
            cell(&found["url"])
        ));
        let fields = found["fields"].as_object().into_iter().flatten();
        out.push(
            table(
                &["Field", "Value"],
                fields.map(|(k, v)| vec![k.clone(), cell(v)]),
            )
            .to_string(),
        );
        if let Some(account) = found["account"].as_object() {
            let name = account["fields"]
                .as_object()
                .and_then(|f| f.values().next())
                .map(cell)
                .unwrap_or_default();
            out.push(format!("   Account: {name} {}", cell(&account["url"])));
        }
        out.push(recent(&found["recent"]));
    }
    out.join("\n")
}

/// A person's recent Cases or Tasks: their display fields and links.
fn recent(records: &Value) -> String {
    let records = records.as_array().map_or(&[][..], Vec::as_slice);
    let Some(first) = records.first() else {
        return "   No Cases or Tasks yet.".into();
    };
    let names: Vec<String> = first["fields"]
        .as_object()
        .map(|f| f.keys().cloned().collect())
        .unwrap_or_default();
    let mut header: Vec<&str> = names.iter().map(String::as_str).collect();
    header.push("Link");
    let rows = records.iter().map(|r| {
        let mut row: Vec<String> = names.iter().map(|n| cell(&r["fields"][n])).collect();
        row.push(cell(&r["url"]));
        row
    });
    format!(
        "   Recent {}s:\n{}",
        cell(&first["object"]),
        table(&header, rows)
    )
}

/// A manual create's answer: the record, and the person it is attached to.
pub fn created(answer: &Value) -> String {
    let status = if answer["already_made"] == true {
        "already made (this chat's earlier create)"
    } else {
        "created"
    };
    let mut rows = vec![vec![
        cell(&answer["object"]),
        cell(&answer["id"]),
        status.to_string(),
        cell(&answer["url"]),
    ]];
    if let Some(person) = answer["person"].as_object() {
        rows.push(vec![
            cell(&person["object"]),
            cell(&person["id"]),
            "attached to".into(),
            cell(&person["url"]),
        ]);
    }
    table(&["Object", "Id", "", "Link"], rows).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_view_shows_fields_account_and_recent_records() {
        let answer = json!({"matches": [{
            "object": "Contact", "id": "003A", "url": "http://x/003A", "matched_by": "Email",
            "converted_lead": false,
            "fields": {"Name": "Jane Doe", "Account.Name": "Acme"},
            "account": {"object": "Account", "id": "001A", "url": "http://x/001A", "fields": {"Name": "Acme"}},
            "recent": [{"object": "Case", "id": "500A", "url": "http://x/500A", "fields": {"Subject": "Invoice"}}],
        }]});
        let text = customer_view(&answer);
        for expected in [
            "Contact 003A (matched by Email)",
            "Jane Doe",
            "Account: Acme http://x/001A",
            "Recent Cases",
            "Invoice",
            "http://x/500A",
        ] {
            assert!(text.contains(expected), "{expected:?} in\n{text}");
        }
    }

    #[test]
    fn a_create_names_the_record_and_its_person() {
        let text = created(
            &json!({"object": "Case", "id": "500A", "url": "u1", "already_made": true,
            "person": {"object": "Contact", "id": "003A", "url": "u2"}}),
        );
        assert!(text.contains("already made"), "{text}");
        assert!(
            text.contains("attached to") && text.contains("003A"),
            "{text}"
        );
    }
}
