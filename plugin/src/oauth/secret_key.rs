//! The key that encrypts stored tokens at rest (host configuration `secret_key_file`).
//!
//! Key file format: 32 random bytes written as 64 hexadecimal characters, or as standard
//! base64 (44 characters); surrounding whitespace and a final newline are ignored. Make one
//! with `openssl rand -hex 32 > salesforce.key && chmod 600 salesforce.key`.
//!
//! Cipher: XChaCha20-Poly1305 with a fresh random 24-byte nonce per write (random nonces of
//! that size never realistically repeat) and the tenant id as associated data, so a file
//! copied to another tenant's name does not decrypt.

use std::fmt;
use std::path::Path;

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

pub const NONCE_BYTES: usize = 24;
const KEY_BYTES: usize = 32;

/// Why a key file cannot be used. Never carries the file's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFileError {
    pub path: String,
    pub problem: String,
}

impl fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "secret key file {}: {}", self.path, self.problem)
    }
}

impl std::error::Error for KeyFileError {}

pub struct SecretKey(XChaCha20Poly1305);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

impl SecretKey {
    pub fn load(path: &Path) -> Result<SecretKey, KeyFileError> {
        let error = |problem: String| KeyFileError {
            path: path.display().to_string(),
            problem,
        };
        let text = std::fs::read(path).map_err(|e| error(format!("cannot be read ({e})")))?;
        let bytes = decode_key(&text).ok_or_else(|| {
            error(
                "must hold 32 random bytes written as 64 hexadecimal characters or as base64 \
                 (make one with: openssl rand -hex 32)"
                    .to_string(),
            )
        })?;
        warn_if_shared(path);
        Ok(SecretKey::from_bytes(&bytes))
    }

    fn from_bytes(bytes: &[u8; KEY_BYTES]) -> SecretKey {
        SecretKey(XChaCha20Poly1305::new(&(*bytes).into()))
    }

    /// Encrypts `plaintext`, bound to `context`; returns the nonce and the ciphertext.
    pub fn seal(
        &self,
        plaintext: &[u8],
        context: &[u8],
    ) -> Result<([u8; NONCE_BYTES], Vec<u8>), String> {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(|e| format!("no randomness for a nonce ({e})"))?;
        let sealed = self
            .0
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .map_err(|_| "encryption failed".to_string())?;
        Ok((nonce, sealed))
    }

    /// Decrypts what [`seal`](Self::seal) made with the same key and context; `None` when the
    /// key, the context or the data differ.
    pub fn open(&self, nonce: &[u8], ciphertext: &[u8], context: &[u8]) -> Option<Vec<u8>> {
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().ok()?;
        self.0
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context,
                },
            )
            .ok()
    }
}

/// The key protects every tenant's tokens: say so when others may read it.
fn warn_if_shared(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                log::warn!(
                    "secret key file {} can be read by other users: chmod 600 it",
                    path.display()
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

fn decode_key(text: &[u8]) -> Option<[u8; KEY_BYTES]> {
    let text = std::str::from_utf8(text).ok()?.trim();
    let bytes = if text.len() == KEY_BYTES * 2 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..KEY_BYTES)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()?
    };
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn key_from(text: &str) -> Result<SecretKey, KeyFileError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, text).unwrap();
        SecretKey::load(&path)
    }

    #[test]
    fn reads_hex_and_base64_keys_alike() {
        let hex = key_from(&format!("{HEX}\n")).unwrap();
        let b64 = key_from("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap();
        let (nonce, sealed) = hex.seal(b"token", b"tenant-a").unwrap();
        assert_eq!(b64.open(&nonce, &sealed, b"tenant-a").unwrap(), b"token");
        assert!(!sealed.windows(5).any(|w| w == b"token"));
    }

    #[test]
    fn refuses_bad_key_files_without_showing_them() {
        for bad in [
            "",
            "too short",
            &HEX[..62],
            &format!("{HEX}00"),
            "zz".repeat(32).as_str(),
        ] {
            let err = key_from(bad).unwrap_err();
            assert!(err.problem.contains("64 hexadecimal characters"), "{err}");
            if !bad.is_empty() {
                assert!(!err.to_string().contains(bad), "{err}");
            }
        }
        let err = SecretKey::load(Path::new("/nonexistent/key")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("secret key file /nonexistent/key: cannot be read"),
            "{err}"
        );
        assert_eq!(format!("{:?}", key_from(HEX).unwrap()), "SecretKey(***)");
    }

    #[test]
    fn a_wrong_key_or_tenant_does_not_decrypt() {
        let key = key_from(HEX).unwrap();
        let other = key_from(&HEX.replace("1f", "20")).unwrap();
        let (nonce, sealed) = key.seal(b"token", b"tenant-a").unwrap();
        assert!(other.open(&nonce, &sealed, b"tenant-a").is_none());
        assert!(key.open(&nonce, &sealed, b"tenant-b").is_none());
        let (nonce2, sealed2) = key.seal(b"token", b"tenant-a").unwrap();
        assert_ne!(
            (nonce, &sealed),
            (nonce2, &sealed2),
            "a fresh nonce per write"
        );
    }
}
