//! Salesforce record Ids: 15 case-sensitive base-62 characters (3-character key prefix first),
//! returned as 18 with a 3-character checksum that makes them case-insensitive
//! (salesforce-api.md §6).

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
    fn made_ids_are_valid_and_distinct() {
        let a = make("00Q", 1);
        let b = make("00Q", 62);
        assert_eq!(a, "00Q000000000001EAA");
        assert_eq!(normalize(&b).as_deref(), Some(b.as_str()));
        assert_ne!(a, b);
        assert!(b.starts_with("00Q0"));
    }
}
