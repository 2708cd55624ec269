//! Salesforce record Ids: 15 case-sensitive base-62 characters (3-character key prefix first),
//! returned as 18 with a 3-character checksum that makes them case-insensitive
//! (salesforce-api.md §6).

use std::fmt;
use std::str::FromStr;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const SUFFIX: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/// The 3-character checksum of a 15-character Id.
fn suffix(id15: &[u8]) -> [u8; 3] {
    let mut out = [0u8; 3];
    for (chunk, slot) in id15.chunks(5).zip(out.iter_mut()) {
        let bits = chunk
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_ascii_uppercase())
            .fold(0usize, |n, (j, _)| n | (1 << j));
        *slot = SUFFIX[bits];
    }
    out
}

/// The 18-character form of a 15- or 18-character Id, or `None` when `id` is not one.
/// An 18-character input must carry the checksum of its first 15 characters (in any case).
pub fn normalize(id: &str) -> Option<String> {
    let bytes = id.as_bytes();
    if !(bytes.len() == 15 || bytes.len() == 18) || !bytes.iter().all(u8::is_ascii_alphanumeric) {
        return None;
    }
    let sum = suffix(&bytes[..15]);
    if bytes.len() == 18 && !bytes[15..].eq_ignore_ascii_case(&sum) {
        return None;
    }
    let mut out = id[..15].to_string();
    out.extend(sum.iter().map(|&c| c as char));
    Some(out)
}

/// The Id of the `n`-th record with `prefix`: prefix, pod character `0`, 11 base-62 digits of
/// `n`, and the checksum.
pub fn make(prefix: &str, n: u64) -> String {
    let mut digits = [b'0'; 11];
    let mut rest = n;
    for d in digits.iter_mut().rev() {
        *d = BASE62[(rest % 62) as usize];
        rest /= 62;
    }
    let id15 = format!("{prefix}0{}", String::from_utf8_lossy(&digits));
    let mut out = id15.clone();
    out.extend(suffix(id15.as_bytes()).iter().map(|&c| c as char));
    out
}

/// An org's Id: key prefix `00D`, in its 18-character form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgId(String);

impl OrgId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for OrgId {
    /// `00D000000000001EAA`.
    fn default() -> Self {
        OrgId(make("00D", 1))
    }
}

impl FromStr for OrgId {
    type Err = BadOrgId;

    /// Takes 15 characters, or 18 with the checksum of the first 15.
    fn from_str(id: &str) -> Result<OrgId, BadOrgId> {
        normalize(id)
            .filter(|id| id.starts_with("00D"))
            .map(OrgId)
            .ok_or_else(|| BadOrgId(id.to_string()))
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Text that is not an [`OrgId`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadOrgId(String);

impl fmt::Display for BadOrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not an org Id: 15 letters and digits starting 00D, or 18 ending in their \
             checksum",
            self.0
        )
    }
}

impl std::error::Error for BadOrgId {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_the_published_examples() {
        for (id15, id18) in [
            ("a0RE000000IJmcN", "a0RE000000IJmcNMAT"),
            ("a01M00000062mPg", "a01M00000062mPgIAI"),
            ("001M000000qfPyS", "001M000000qfPySIAU"),
            ("aBcDEfgHIJKLMNO", "aBcDEfgHIJKLMNO025"),
            ("0036000000QKv5T", "0036000000QKv5TAAT"),
            ("001D000000IqhSL", "001D000000IqhSLIAZ"),
            ("00190000001pPvH", "00190000001pPvHAAU"),
            ("0014H00002x6HUh", "0014H00002x6HUhQAM"),
        ] {
            assert_eq!(normalize(id15).as_deref(), Some(id18));
            assert_eq!(normalize(id18).as_deref(), Some(id18));
            assert_eq!(
                normalize(&id18.to_lowercase()[..15]).map(|s| s.len()),
                Some(18)
            );
        }
    }

    #[test]
    fn rejects_bad_ids() {
        assert_eq!(normalize("001D000000IqhSLIAA"), None, "wrong checksum");
        assert_eq!(normalize("001D000000IqhS"), None, "too short");
        assert_eq!(normalize("001D000000Iqh-L"), None, "not base 62");
        // The checksum part is case-insensitive.
        assert_eq!(
            normalize("001D000000IqhSLiaz").as_deref(),
            Some("001D000000IqhSLIAZ")
        );
    }

    #[test]
    fn org_ids_are_checked_and_kept_in_18_characters() {
        let org: OrgId = "00D5g000004FyZc".parse().unwrap();
        assert_eq!(org.as_str(), normalize("00D5g000004FyZc").unwrap());
        assert_eq!("00D5g000004FyZcEAK".parse(), Ok(org.clone()));
        assert_eq!(org.to_string().parse(), Ok(org.clone()));
        assert_eq!(OrgId::default().as_str(), "00D000000000001EAA");
        for bad in [
            "00D5g000004FyZcAAA", // wrong checksum
            "0015g000004FyZc",    // an Account's
            "00d5g000004FyZc",    // the prefix is case-sensitive
            "00D5g000004FyZ",
            "",
        ] {
            let err = bad.parse::<OrgId>().unwrap_err();
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn made_ids_are_valid_and_distinct() {
        let a = make("00Q", 1);
        let b = make("00Q", 62);
        assert_eq!(a, "00Q000000000001EAA");
        assert_eq!(normalize(&b).as_deref(), Some(b.as_str()));
        assert_ne!(a, b);
        assert!(b.starts_with("00Q0"));
    }
}
