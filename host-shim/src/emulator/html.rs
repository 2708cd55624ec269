//! `GET /`: the org's records per object, for people.

use std::fmt::Write as _;

use serde_json::Value;

use super::store::Org;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => escape(s),
        other => escape(&other.to_string()),
    }
}

/// The page: one table per object that has records, with the columns some record fills.
pub fn page(org: &Org) -> String {
    let mut out = String::from(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Salesforce emulator</title><style>\
         body{font-family:sans-serif;margin:1em}table{border-collapse:collapse;margin-bottom:2em;font-size:13px}\
         td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}th{background:#eef}\
         </style></head><body><h1>Salesforce emulator</h1>",
    );
    let _ = write!(out, "<p>Organization {}</p>", escape(&org.org_id));
    for obj in &org.schema.objects {
        let records: Vec<_> = org.live_records(&obj.name).collect();
        if records.is_empty() {
            continue;
        }
        let columns: Vec<&str> = obj
            .fields
            .iter()
            .map(|f| f.name.as_str())
            .filter(|f| {
                records
                    .iter()
                    .any(|r| r.get(*f).is_some_and(|v| !v.is_null()))
            })
            .collect();
        let _ = write!(
            out,
            "<h2 id=\"{0}\">{0} ({1})</h2><table><tr>",
            escape(&obj.name),
            records.len()
        );
        for c in &columns {
            let _ = write!(out, "<th>{}</th>", escape(c));
        }
        out.push_str("</tr>");
        for record in records {
            out.push_str("<tr>");
            for c in &columns {
                let _ = write!(
                    out,
                    "<td>{}</td>",
                    cell(record.get(*c).unwrap_or(&Value::Null))
                );
            }
            out.push_str("</tr>");
        }
        out.push_str("</table>");
    }
    out.push_str("</body></html>");
    out
}
