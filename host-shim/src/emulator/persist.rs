//! `--data FILE`: the whole org (records, blobs, custom fields, grants and sessions, API usage)
//! as one JSON document, written atomically (temporary file, fsync, rename).

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::{self, Write as _};
use std::path::Path;
use std::sync::atomic::Ordering;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ids::OrgId;
use super::oauth::{Grant, Session};
use super::schema::CustomField;
use super::shared::Shared;
use super::store::{Org, Row};

const FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Snapshot {
    format: u32,
    org_id: String,
    login_user: String,
    seq: u64,
    case_number: u64,
    custom_fields: Vec<CustomField>,
    /// Password digests by User Id (absent from files written before the password grant).
    #[serde(default)]
    passwords: BTreeMap<String, String>,
    /// Per object, rows in creation order.
    records: BTreeMap<String, Vec<StoredRow>>,
    /// Base64, by record Id.
    blobs: BTreeMap<String, String>,
    grants: HashMap<String, Grant>,
    sessions: HashMap<String, Session>,
    grant_seq: u64,
    api_used: u64,
}

#[derive(Serialize, Deserialize)]
struct StoredRow {
    record: Map<String, Value>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    deleted: bool,
}

fn snapshot(shared: &Shared) -> Snapshot {
    let org = shared.org.lock();
    let auth = shared.auth.lock();
    let records = org
        .tables
        .iter()
        .map(|(object, table)| {
            let rows = table
                .order
                .iter()
                .filter_map(|id| table.rows.get(id))
                .map(|row| StoredRow {
                    record: row.record.clone(),
                    deleted: row.deleted,
                })
                .collect();
            (object.clone(), rows)
        })
        .collect();
    Snapshot {
        format: FORMAT,
        org_id: org.org_id.clone(),
        login_user: org.login_user.clone(),
        seq: org.seq,
        case_number: org.case_number,
        custom_fields: org.custom_fields.clone(),
        passwords: org
            .passwords
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        records,
        blobs: org
            .blobs
            .iter()
            .map(|(id, bytes)| (id.clone(), STANDARD.encode(bytes)))
            .collect(),
        grants: auth.grants.clone(),
        sessions: auth.sessions.clone(),
        grant_seq: auth.seq,
        api_used: shared.usage.used.load(Ordering::SeqCst),
    }
}

/// Writes the org to `path` atomically.
pub fn save(shared: &Shared, path: &Path) -> io::Result<()> {
    let bytes = serde_json::to_vec(&snapshot(shared)).map_err(io::Error::other)?;
    let tmp = path.with_extension("tmp");
    {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
    }
    fs::rename(&tmp, path)
}

/// Loads `path` into a fresh org and OAuth state, if the file exists; it must be the org
/// `expected`, when one is.
pub fn load(shared: &Shared, path: &Path, expected: Option<&OrgId>) -> io::Result<bool> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let snap: Snapshot = serde_json::from_slice(&bytes).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })?;
    if snap.format != FORMAT {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: unknown format {}", path.display(), snap.format),
        ));
    }
    let org_id = snap.org_id.parse::<OrgId>().ok();
    if org_id.as_ref().map(OrgId::as_str) != Some(snap.org_id.as_str())
        || super::ids::normalize(&snap.login_user).as_deref() != Some(snap.login_user.as_str())
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: bad orgId or loginUser", path.display()),
        ));
    }
    if let Some(expected) = expected.filter(|&id| Some(id) != org_id.as_ref()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{}: holds org {}, not {expected}",
                path.display(),
                snap.org_id
            ),
        ));
    }
    let mut org = shared.org.lock();
    let mut fresh = Org::new(super::schema::Schema::standard());
    fresh.duplicate_rules = org.duplicate_rules;
    for field in snap.custom_fields {
        fresh
            .add_custom_field(field)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    }
    fresh.org_id = snap.org_id;
    fresh.login_user = snap.login_user;
    fresh.seq = snap.seq;
    fresh.case_number = snap.case_number;
    fresh.passwords = snap.passwords.into_iter().collect();
    for (object, rows) in snap.records {
        for row in rows {
            let id = row
                .record
                .get("Id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            fresh.put(
                &object,
                &id,
                Row {
                    record: row.record,
                    deleted: row.deleted,
                },
            );
        }
    }
    for (id, data) in snap.blobs {
        let bytes = STANDARD
            .decode(data)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        fresh.blobs.insert(id, bytes);
    }
    *org = fresh;
    let mut auth = shared.auth.lock();
    auth.grants = snap.grants;
    auth.sessions = snap.sessions;
    auth.seq = snap.grant_seq;
    shared.usage.used.store(snap.api_used, Ordering::SeqCst);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::mpsc;
    use std::time::Duration;

    use bytes::Bytes;

    use super::snapshot;
    use crate::emulator::wire::{parse_form, Req};
    use crate::emulator::{oauth, Emulator, EmulatorOptions};

    /// The data-file writer and the authorize endpoint both hold the org and OAuth locks at once:
    /// taken in opposite orders, two threads doing so soon wait for each other forever.
    #[test]
    fn writing_the_data_file_while_authorizing_cannot_deadlock() {
        let emulator = Emulator::start(EmulatorOptions::default()).expect("start");
        let authorize = Req {
            method: "GET".into(),
            path: "/services/oauth2/authorize".into(),
            query: parse_form(
                b"response_type=code&client_id=demo-client&redirect_uri=http://127.0.0.1:9/cb",
            ),
            headers: HashMap::new(),
            body: Bytes::new(),
        };
        let (finished, done) = mpsc::channel();
        for writer in [true, false] {
            let (shared, authorize, finished) =
                (emulator.shared.clone(), authorize.clone(), finished.clone());
            std::thread::spawn(move || {
                for _ in 0..3000 {
                    if writer {
                        drop(snapshot(&shared));
                    } else {
                        assert_eq!(oauth::authorize(&shared, &authorize).status, 302);
                    }
                }
                let _ = finished.send(());
            });
        }
        for _ in 0..2 {
            done.recv_timeout(Duration::from_secs(30))
                .expect("both threads finish: no lock-order deadlock");
        }
    }
}
