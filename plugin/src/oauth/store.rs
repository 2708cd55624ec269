//! Each tenant's connection on disk: one file per tenant under `{state_dir}/connections/`,
//! owner-only (0600 files in a 0700 directory), replaced atomically (temp file, fsync,
//! rename, fsync of the directory), and sealed with the [`SecretKey`] when one is configured.
//!
//! File names are `tenant-{hex of the tenant id's UTF-8}.json`: any tenant id becomes a safe
//! name, distinct even on case-insensitive file systems, and the id can be read back.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use oauth2::{AccessToken, ClientSecret, RefreshToken};
use serde::{Deserialize, Serialize};

use super::identity::Identity;
use super::secret_key::SecretKey;
use super::settings::ServerUrl;
use super::status::PreviousOrg;

const DIR_NAME: &str = "connections";
const PREFIX: &str = "tenant-";
const SUFFIX: &str = ".json";
const TEMP_PREFIX: &str = ".tmp-";
const FORMAT_VERSION: u32 = 1;
/// Keeps file names under common 255-byte limits.
pub const MAX_TENANT_ID_BYTES: usize = 100;

/// The connected app a connection was made with. The default app's secret is not copied: it
/// is read from the host configuration at each use, so the operator can rotate it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StoredApp {
    Default,
    Custom {
        client_id: String,
        client_secret: ClientSecret,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Credentials {
    pub app: StoredApp,
    pub login_url: ServerUrl,
    pub access_token: AccessToken,
    /// Absent when the connected app does not grant the `refresh_token` scope.
    pub refresh_token: Option<RefreshToken>,
    pub instance_url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum StoredState {
    Connected {
        credentials: Credentials,
        identity: Identity,
        connected_since: String,
    },
    /// Salesforce refused the refresh token: the admin must connect again. No tokens kept.
    NeedsReconnect {
        identity: Identity,
        instance_url: String,
        connected_since: String,
        reason: String,
        since: String,
    },
    Disconnected {
        since: String,
        /// The org it was connected to last, so that connecting to another one afterwards is
        /// recognised as a change of org.
        #[serde(default)]
        last_org: Option<PreviousOrg>,
    },
}

impl StoredState {
    /// The org the tenant is, or was last, connected to.
    pub fn org(&self) -> Option<PreviousOrg> {
        match self {
            StoredState::Connected { identity, .. }
            | StoredState::NeedsReconnect { identity, .. } => Some(PreviousOrg {
                org_id: identity.org_id.clone(),
                username: identity.username.clone(),
            }),
            StoredState::Disconnected { last_org, .. } => last_org.clone(),
        }
    }
}

/// A refresh token to revoke once Salesforce can be reached again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingRevoke {
    pub login_url: ServerUrl,
    pub token: RefreshToken,
    pub since: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TenantRecord {
    pub state: StoredState,
    #[serde(default)]
    pub pending_revokes: Vec<PendingRevoke>,
}

#[derive(Deserialize)]
struct Version {
    version: u32,
}

#[derive(Serialize, Deserialize)]
struct StoredFile {
    version: u32,
    #[serde(flatten)]
    content: Content,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "encryption", rename_all = "lowercase")]
enum Content {
    None { record: Box<TenantRecord> },
    Xchacha20poly1305 { nonce: String, ciphertext: String },
}

/// A stored connection that cannot be read or written. Never carries file content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError {
    pub path: String,
    pub problem: String,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stored connection {}: {}", self.path, self.problem)
    }
}

impl std::error::Error for StoreError {}

pub struct TokenStore {
    dir: PathBuf,
    key: Option<SecretKey>,
}

impl TokenStore {
    /// Opens (creating it owner-only) the connections directory under `state_dir`.
    pub fn open(state_dir: &Path, key: Option<SecretKey>) -> Result<TokenStore, StoreError> {
        let dir = state_dir.join(DIR_NAME);
        let error = |e: std::io::Error| StoreError {
            path: dir.display().to_string(),
            problem: e.to_string(),
        };
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
            builder.mode(0o700);
            builder.create(&dir).map_err(error)?;
            // An existing directory keeps its mode: tighten it.
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).map_err(error)?;
        }
        #[cfg(not(unix))]
        builder.create(&dir).map_err(error)?;
        remove_leftovers(&dir);
        Ok(TokenStore { dir, key })
    }

    pub fn path(&self, tenant: &str) -> PathBuf {
        self.dir
            .join(format!("{PREFIX}{}{SUFFIX}", hex(tenant.as_bytes())))
    }

    pub fn load(&self, tenant: &str) -> Result<Option<TenantRecord>, StoreError> {
        let path = self.path(tenant);
        let error = |problem: String| StoreError {
            path: path.display().to_string(),
            problem,
        };
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(error(format!("cannot be read ({e})"))),
        };
        // serde's messages could quote a value, and values here are secrets: say where only.
        let damaged = |e: serde_json::Error| {
            error(format!(
                "is damaged (line {}, column {})",
                e.line(),
                e.column()
            ))
        };
        let version: Version = serde_json::from_slice(&bytes).map_err(damaged)?;
        if version.version != FORMAT_VERSION {
            return Err(error(format!(
                "has format version {}, which this plugin does not know",
                version.version
            )));
        }
        let file: StoredFile = serde_json::from_slice(&bytes).map_err(damaged)?;
        match (file.content, &self.key) {
            (Content::None { record }, None) => Ok(Some(*record)),
            (Content::None { record }, Some(_)) => {
                // Written before a key was configured: seal it now.
                self.save(tenant, &record)?;
                Ok(Some(*record))
            }
            (Content::Xchacha20poly1305 { .. }, None) => Err(error(
                "is encrypted, but no secret_key_file is configured".to_string(),
            )),
            (Content::Xchacha20poly1305 { nonce, ciphertext }, Some(key)) => {
                let plain = BASE64
                    .decode(nonce)
                    .ok()
                    .zip(BASE64.decode(ciphertext).ok())
                    .and_then(|(n, c)| key.open(&n, &c, tenant.as_bytes()))
                    .ok_or_else(|| {
                        error(
                            "cannot be decrypted with the configured secret key (was the key changed?)"
                                .to_string(),
                        )
                    })?;
                let record = serde_json::from_slice(&plain).map_err(damaged)?;
                Ok(Some(record))
            }
        }
    }

    pub fn save(&self, tenant: &str, record: &TenantRecord) -> Result<(), StoreError> {
        let path = self.path(tenant);
        let error = |problem: String| StoreError {
            path: path.display().to_string(),
            problem,
        };
        let content = match &self.key {
            None => Content::None {
                record: Box::new(record.clone()),
            },
            Some(key) => {
                let plain = serde_json::to_vec(record).map_err(|e| error(e.to_string()))?;
                let (nonce, sealed) = key.seal(&plain, tenant.as_bytes()).map_err(error)?;
                Content::Xchacha20poly1305 {
                    nonce: BASE64.encode(nonce),
                    ciphertext: BASE64.encode(sealed),
                }
            }
        };
        let bytes = serde_json::to_vec_pretty(&StoredFile {
            version: FORMAT_VERSION,
            content,
        })
        .map_err(|e| error(e.to_string()))?;
        write_atomically(&path, &bytes).map_err(|e| error(format!("cannot be written ({e})")))
    }

    /// The tenants that have a stored file.
    pub fn tenants(&self) -> Result<Vec<String>, StoreError> {
        let entries = fs::read_dir(&self.dir).map_err(|e| StoreError {
            path: self.dir.display().to_string(),
            problem: format!("cannot be listed ({e})"),
        })?;
        Ok(entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                let hex = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
                String::from_utf8(unhex(hex)?).ok()
            })
            .collect())
    }
}

/// Temporary files of writes that a crash interrupted: they may hold tokens.
fn remove_leftovers(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        "{TEMP_PREFIX}{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        // The rename itself must survive a crash.
        #[cfg(unix)]
        fs::File::open(dir)?.sync_all()?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(token: &str) -> TenantRecord {
        TenantRecord {
            state: StoredState::Connected {
                credentials: Credentials {
                    app: StoredApp::Custom {
                        client_id: "id".into(),
                        client_secret: ClientSecret::new("client-secret-xyz".into()),
                    },
                    login_url: ServerUrl::parse("https://login.salesforce.com").unwrap(),
                    access_token: AccessToken::new(token.into()),
                    refresh_token: Some(RefreshToken::new("refresh-secret-xyz".into())),
                    instance_url: "https://na1.salesforce.com".into(),
                },
                identity: Identity {
                    user_id: "005x".into(),
                    org_id: "00Dx".into(),
                    username: "admin@acme.com".into(),
                    email: None,
                    display_name: None,
                },
                connected_since: "2026-11-25T12:00:00Z".into(),
            },
            pending_revokes: Vec::new(),
        }
    }

    fn key(hex: &str) -> SecretKey {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        fs::write(&path, hex).unwrap();
        SecretKey::load(&path).unwrap()
    }

    const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    fn access_token(record: &TenantRecord) -> &str {
        match &record.state {
            StoredState::Connected { credentials, .. } => credentials.access_token.secret(),
            _ => panic!("not connected"),
        }
    }

    #[test]
    fn tenant_ids_become_safe_distinct_file_names() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::open(dir.path(), None).unwrap();
        for tenant in ["acme", "Acme", "../../etc/passwd", "a/b", "ü ñ", "."] {
            store.save(tenant, &record(tenant)).unwrap();
        }
        let mut tenants = store.tenants().unwrap();
        tenants.sort();
        assert_eq!(
            tenants,
            [".", "../../etc/passwd", "Acme", "a/b", "acme", "ü ñ"]
        );
        assert_eq!(access_token(&store.load("Acme").unwrap().unwrap()), "Acme");
        assert!(store.load("nobody").unwrap().is_none());
        let names: Vec<_> = fs::read_dir(dir.path().join(DIR_NAME)).unwrap().collect();
        assert_eq!(names.len(), 6, "no temp files left behind");
        // One that a crash left is removed at the next start.
        fs::write(dir.path().join(DIR_NAME).join(".tmp-1-1"), "token").unwrap();
        let store = TokenStore::open(dir.path(), None).unwrap();
        assert_eq!(store.tenants().unwrap().len(), 6);
        assert!(!dir.path().join(DIR_NAME).join(".tmp-1-1").exists());
    }

    #[cfg(unix)]
    #[test]
    fn files_and_directory_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join(DIR_NAME)).unwrap();
        fs::set_permissions(dir.path().join(DIR_NAME), fs::Permissions::from_mode(0o755)).unwrap();
        let store = TokenStore::open(dir.path(), None).unwrap();
        store.save("acme", &record("t")).unwrap();
        store.save("acme", &record("t2")).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join(DIR_NAME)), 0o700);
        assert_eq!(mode(&store.path("acme")), 0o600);
    }

    #[test]
    fn encrypts_at_rest() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::open(dir.path(), Some(key(KEY))).unwrap();
        store
            .save("acme", &record("00Dx!access-secret-xyz"))
            .unwrap();
        let raw = fs::read_to_string(store.path("acme")).unwrap();
        for secret in [
            "access-secret-xyz",
            "refresh-secret-xyz",
            "client-secret-xyz",
            "admin@acme.com",
        ] {
            assert!(!raw.contains(secret), "{secret} in clear: {raw}");
        }
        assert!(
            raw.contains("\"encryption\": \"xchacha20poly1305\""),
            "{raw}"
        );
        let loaded = store.load("acme").unwrap().unwrap();
        assert_eq!(access_token(&loaded), "00Dx!access-secret-xyz");

        // A file renamed to another tenant does not decrypt.
        fs::copy(store.path("acme"), store.path("evil")).unwrap();
        let err = store.load("evil").unwrap_err();
        assert!(err.problem.contains("cannot be decrypted"), "{err}");

        // Nor does it without the key, or with another.
        let err = TokenStore::open(dir.path(), None)
            .unwrap()
            .load("acme")
            .unwrap_err();
        assert!(
            err.problem.contains("no secret_key_file is configured"),
            "{err}"
        );
        let other = TokenStore::open(dir.path(), Some(key(&KEY.replace("ff", "fe")))).unwrap();
        assert!(other
            .load("acme")
            .unwrap_err()
            .problem
            .contains("cannot be decrypted"));
    }

    #[test]
    fn seals_a_plain_file_once_a_key_is_configured() {
        let dir = tempfile::tempdir().unwrap();
        TokenStore::open(dir.path(), None)
            .unwrap()
            .save("acme", &record("plain-token"))
            .unwrap();
        let store = TokenStore::open(dir.path(), Some(key(KEY))).unwrap();
        assert_eq!(
            access_token(&store.load("acme").unwrap().unwrap()),
            "plain-token"
        );
        assert!(!fs::read_to_string(store.path("acme"))
            .unwrap()
            .contains("plain-token"));
    }

    #[test]
    fn a_damaged_file_is_reported_without_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::open(dir.path(), None).unwrap();
        fs::write(
            store.path("acme"),
            r#"{"version":1,"encryption":"none","record":{"state":"x-secret-x"}}"#,
        )
        .unwrap();
        let err = store.load("acme").unwrap_err();
        assert!(err.problem.starts_with("is damaged"), "{err}");
        assert!(!err.to_string().contains("x-secret-x"), "{err}");
        fs::write(store.path("acme"), r#"{"version":9,"encryption":"none"}"#).unwrap();
        assert!(store
            .load("acme")
            .unwrap_err()
            .problem
            .contains("format version 9"));
    }
}
