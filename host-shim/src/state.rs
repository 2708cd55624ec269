//! What the shim keeps in its state directory, as a host would: the host configuration, each
//! tenant's saved settings, and the plugin's own `state_dir`.
//!
//! ```text
//! STATE_DIR/host.json           host configuration (written with defaults on first use)
//! STATE_DIR/tenants/T.json      tenant T's settings, re-applied at every start (owner-only)
//! STATE_DIR/plugin/             the plugin's state_dir
//! ```

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where the CloudCX host would route the OAuth redirect; the shim listens there on `connect`.
pub const DEFAULT_REDIRECT_URL: &str = "http://127.0.0.1:8765/callback";

pub struct ShimState {
    dir: PathBuf,
    config: Option<PathBuf>,
}

impl ShimState {
    pub fn new(dir: &Path, config: Option<&Path>) -> Self {
        ShimState {
            dir: dir.to_path_buf(),
            config: config.map(Path::to_path_buf),
        }
    }

    /// The host configuration's text: `--config FILE`, else `STATE_DIR/host.json`, which is
    /// created with defaults the first time.
    pub fn host_config(&self) -> Result<String, String> {
        if let Some(path) = &self.config {
            return fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()));
        }
        let path = self.dir.join("host.json");
        match fs::read_to_string(&path) {
            Ok(text) => Ok(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let text = self.default_host_config()?;
                write_private(&path, &text)?;
                Ok(text)
            }
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// The host configuration's `redirect_url`, where the shim listens during `connect`.
    pub fn redirect_url(&self) -> Result<String, String> {
        let config: serde_json::Value = serde_json::from_str(&self.host_config()?)
            .map_err(|e| format!("host configuration: {e}"))?;
        config["redirect_url"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| "host configuration: redirect_url is required".to_string())
    }

    fn default_host_config(&self) -> Result<String, String> {
        fs::create_dir_all(&self.dir).map_err(|e| format!("{}: {e}", self.dir.display()))?;
        let dir = self
            .dir
            .canonicalize()
            .map_err(|e| format!("{}: {e}", self.dir.display()))?;
        let config = serde_json::json!({
            "state_dir": dir.join("plugin"),
            "redirect_url": DEFAULT_REDIRECT_URL,
            "api_version": "v62.0",
            "workers": 4,
        });
        Ok(serde_json::to_string_pretty(&config).expect("a JSON value serializes") + "\n")
    }

    /// Every saved tenant's settings, as `(tenant id, settings text)`.
    pub fn saved_settings(&self) -> Result<Vec<(String, String)>, String> {
        let dir = self.dir.join("tenants");
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(format!("{}: {e}", dir.display())),
        };
        let mut saved = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
            let Some(tenant) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".json"))
                .and_then(decode_file_name)
            else {
                continue;
            };
            let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            saved.push((tenant, text));
        }
        saved.sort();
        Ok(saved)
    }

    /// Saves a tenant's settings (which may hold a client secret: owner-only).
    pub fn save_settings(&self, tenant: &str, text: &str) -> Result<(), String> {
        let dir = self.dir.join("tenants");
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        write_private(
            &dir.join(format!("{}.json", encode_file_name(tenant))),
            text,
        )
    }
}

/// Writes a file readable by its owner only, atomically (a temporary file renamed over it).
pub fn write_private(path: &Path, text: &str) -> Result<(), String> {
    let failed = |e: std::io::Error| format!("{}: {e}", path.display());
    let tmp = path.with_extension("tmp");
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(failed)?;
    file.write_all(text.as_bytes()).map_err(failed)?;
    file.sync_all().map_err(failed)?;
    fs::rename(&tmp, path).map_err(failed)
}

/// Tenant ids are the host's; a file name gets them percent-encoded beyond `[A-Za-z0-9._-]`.
fn encode_file_name(tenant: &str) -> String {
    let mut name = String::new();
    for byte in tenant.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' => name.push(byte as char),
            b'.' if !name.is_empty() => name.push('.'),
            _ => name.push_str(&format!("%{byte:02X}")),
        }
    }
    name
}

fn decode_file_name(name: &str) -> Option<String> {
    let mut bytes = Vec::new();
    let mut rest = name.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        if first == b'%' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(first);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_file_names_round_trip() {
        for tenant in ["demo", "acme.eu", "../etc", "a/b c", "ünï", ".hidden"] {
            let name = encode_file_name(tenant);
            assert!(!name.contains('/') && !name.starts_with('.'), "{name}");
            assert_eq!(decode_file_name(&name).as_deref(), Some(tenant));
        }
    }

    #[test]
    fn settings_are_saved_owner_only_and_read_back() {
        let tmp = tempfile::tempdir().unwrap();
        let state = ShimState::new(tmp.path(), None);
        state
            .save_settings("t/1", "{\"mode\": \"manual\"}")
            .unwrap();
        assert_eq!(
            state.saved_settings().unwrap(),
            vec![("t/1".to_string(), "{\"mode\": \"manual\"}".to_string())]
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let file = tmp.path().join("tenants/t%2F1.json");
            assert_eq!(
                fs::metadata(file).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }

    #[test]
    fn writes_a_default_host_config_once() {
        let tmp = tempfile::tempdir().unwrap();
        let state = ShimState::new(&tmp.path().join("s"), None);
        let first = state.host_config().unwrap();
        let config: serde_json::Value = serde_json::from_str(&first).unwrap();
        assert!(config["state_dir"].as_str().unwrap().ends_with("/s/plugin"));
        assert_eq!(config["redirect_url"], DEFAULT_REDIRECT_URL);
        fs::write(tmp.path().join("s/host.json"), "{\"edited\": true}").unwrap();
        assert_eq!(state.host_config().unwrap(), "{\"edited\": true}");
    }
}
