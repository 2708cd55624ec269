//! A chat's files as Salesforce Files (ContentVersion with `FirstPublishLocationId`), each
//! attached exactly once.
//!
//! Every file carries a marker in its `Description` (`[CloudCX acme/chat-1 file 2]`, the
//! whole transcript `[CloudCX acme/chat-1 transcript]`): when a request's answer was lost, the
//! files already on the record are read back by these markers and only the others are sent.

use base64::Engine;
use serde_json::{json, Value};

use super::api::SubRequest;
use super::description::{cut, utf16_len};
use super::mapping::{self, Fields, TextFile};
use crate::events::{Event, BASE64};

/// The longest Title and PathOnClient Salesforce takes (ContentVersion.Title).
const NAME_MAX_CHARS: usize = 255;

/// One file to attach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    /// The subrequest's reference: the file's place among the chat's files.
    pub reference: String,
    pub marker: String,
    pub name: String,
    /// Standard, padded base64 of the file's bytes.
    pub data: String,
}

impl FileSpec {
    /// The ContentVersion that attaches the file to `parent` (an id or a reference).
    pub fn request(&self, parent: &str) -> SubRequest {
        SubRequest::create(
            &self.reference,
            "ContentVersion",
            Value::Object(self.fields(parent)),
        )
    }

    /// The ContentVersion's fields.
    pub fn fields(&self, parent: &str) -> Fields {
        let name = cut(&self.name, NAME_MAX_CHARS, |_| "…".to_string());
        let fields = json!({"Title": name, "PathOnClient": name, "VersionData": self.data,
                            "FirstPublishLocationId": parent, "Description": self.marker});
        match fields {
            Value::Object(fields) => fields,
            _ => unreachable!("an object literal"),
        }
    }
}

/// The chat's files: its attachments in order, then the whole transcript when there is one.
/// `key`: the chat's `tenant/chat`.
pub fn specs(event: &Event, transcript: Option<&TextFile>, key: &str) -> Vec<FileSpec> {
    let engine = base64::engine::general_purpose::STANDARD;
    let mut specs: Vec<FileSpec> = mapping::parts_of(event)
        .attachments
        .iter()
        .enumerate()
        .map(|(i, a)| FileSpec {
            reference: format!("file{i}"),
            marker: format!("[CloudCX {key} file {}]", i + 1),
            name: a.name.clone(),
            // Events take base64 padded or not; Salesforce wants it padded.
            data: engine.encode(BASE64.decode(&a.data_base64).unwrap_or_default()),
        })
        .collect();
    if let Some(file) = transcript {
        specs.push(FileSpec {
            reference: "transcript".into(),
            marker: format!("[CloudCX {key} transcript]"),
            name: file.name.clone(),
            data: engine.encode(file.content.as_bytes()),
        });
    }
    specs
}

/// The query for the markers of the files on a record.
pub fn markers_query(record_id: &str) -> String {
    format!(
        "SELECT Description FROM ContentVersion WHERE FirstPublishLocationId = {}",
        super::soql_text::quote(record_id)
    )
}

/// The markers among a [`markers_query`]'s rows.
pub fn markers_in(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .filter_map(|r| r["Description"].as_str())
        .filter(|d| d.starts_with("[CloudCX ") && utf16_len(d) < 1000)
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::mapping::tests::chat_ended;

    #[test]
    fn each_file_has_its_marker_padded_base64_and_a_name_salesforce_takes() {
        let long = "n".repeat(300);
        let chat = chat_ended(&format!(
            r#""visitor":{{}},"attachments":[{{"name":"a.txt","data_base64":"QQ"}},
                {{"name":"{long}.pdf","data_base64":"QUJD"}}]"#
        ));
        let transcript = TextFile {
            name: "transcript-c-1.txt".into(),
            content: "é".into(),
        };
        let specs = specs(&chat, Some(&transcript), "acme/c-1");
        let markers: Vec<&str> = specs.iter().map(|s| s.marker.as_str()).collect();
        assert_eq!(
            markers,
            [
                "[CloudCX acme/c-1 file 1]",
                "[CloudCX acme/c-1 file 2]",
                "[CloudCX acme/c-1 transcript]"
            ]
        );
        assert_eq!(specs[0].data, "QQ==", "padded");
        assert_eq!(specs[2].data, "w6k=");
        let request = specs[1].request("@{act.id}");
        let body = request.body.unwrap();
        assert_eq!(request.reference, "file1");
        assert_eq!(utf16_len(body["Title"].as_str().unwrap()), 255);
        assert_eq!(body["FirstPublishLocationId"], "@{act.id}");
        assert_eq!(body["Description"], "[CloudCX acme/c-1 file 2]");
        let rows = [
            json!({"Description": "[CloudCX acme/c-1 file 2]"}),
            json!({"Description": "an agent's own file"}),
            json!({"Description": null}),
        ];
        assert_eq!(markers_in(&rows), ["[CloudCX acme/c-1 file 2]"]);
        assert_eq!(
            markers_query("500x"),
            "SELECT Description FROM ContentVersion WHERE FirstPublishLocationId = '500x'"
        );
    }
}
