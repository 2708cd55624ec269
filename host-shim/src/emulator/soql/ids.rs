//! Salesforce record ids: 15 case-sensitive base-62 characters, or those 15 plus a 3-character
//! checksum of their letter case. Both forms name the same record, so comparisons use the 15.

const SUFFIX_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/// The 15-character key of a well-formed id (the checksum of an 18-character one must match,
/// in either case), or `None`.
pub fn parse(id: &str) -> Option<&str> {
    if !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    match id.len() {
        15 => Some(id),
        18 if id[15..].eq_ignore_ascii_case(&checksum(&id[..15])) => Some(&id[..15]),
        _ => None,
    }
}

/// The comparison key of an id as stored: its first 15 characters when it has them.
pub fn key(id: &str) -> &str {
    id.get(..15).unwrap_or(id)
}

/// Bit j of chunk c is set when character 5c+j is an uppercase letter.
pub(super) fn checksum(id15: &str) -> String {
    id15.as_bytes()
        .chunks(5)
        .map(|chunk| {
            let bits = chunk
                .iter()
                .enumerate()
                .filter(|(_, b)| b.is_ascii_uppercase())
                .fold(0, |n, (j, _)| n | (1 << j));
            char::from(SUFFIX_ALPHABET[bits])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_vectors() {
        for (short, long) in [
            ("a0RE000000IJmcN", "a0RE000000IJmcNMAT"),
            ("001M000000qfPyS", "001M000000qfPySIAU"),
            ("aBcDEfgHIJKLMNO", "aBcDEfgHIJKLMNO025"),
            ("001D000000IqhSL", "001D000000IqhSLIAZ"),
            ("0014H00002x6HUh", "0014H00002x6HUhQAM"),
        ] {
            assert_eq!(parse(long), Some(short));
            assert_eq!(parse(short), Some(short));
        }
        // The checksum is case-insensitive.
        assert_eq!(parse("001D000000IqhSLiaz"), Some("001D000000IqhSL"));
    }

    #[test]
    fn malformed_ids() {
        for bad in [
            "",
            "abc",
            "001D000000IqhSLIAA",
            "001D000000IqhS-",
            "001D000000IqhSLI",
            "001D000000IqhSéA",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        assert_eq!(key("001D000000IqhSLIAZ"), "001D000000IqhSL");
        assert_eq!(key("short"), "short");
    }
}
