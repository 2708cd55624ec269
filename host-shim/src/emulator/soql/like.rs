//! LIKE matching over case-folded text: `%` any run, `_` any one character.

use super::escape::Unit;

/// Lower-cases a string character by character, the same way patterns are folded, so that
/// comparisons and LIKE ignore case like Salesforce.
pub fn fold(text: &str) -> String {
    text.chars().flat_map(char::to_lowercase).collect()
}

/// Folds the characters of a decoded LIKE pattern.
pub fn fold_pattern(units: &[Unit]) -> Vec<Unit> {
    units
        .iter()
        .flat_map(|unit| match unit {
            Unit::Char(c) => c.to_lowercase().map(Unit::Char).collect(),
            wildcard => vec![*wildcard],
        })
        .collect()
}

/// Whether folded `text` matches folded `pattern`. Greedy with one backtrack point (the last
/// `%`), so it runs in O(text × pattern) time whatever the input.
pub fn matches(pattern: &[Unit], text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(Unit::AnyRun) => {
                backtrack = Some((p, t));
                p += 1;
            }
            Some(Unit::AnyChar) => {
                p += 1;
                t += 1;
            }
            Some(Unit::Char(c)) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                Some((star, from)) => {
                    p = star + 1;
                    t = from + 1;
                    backtrack = Some((star, from + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..]
        .iter()
        .all(|u| *u == Unit::AnyRun)
}

#[cfg(test)]
mod tests {
    use super::super::escape::decode;
    use super::*;

    fn like(pattern: &str, text: &str) -> bool {
        matches(&fold_pattern(&decode(pattern, true).unwrap()), &fold(text))
    }

    #[test]
    fn documented_examples() {
        assert!(like("Ter%", "Terry"));
        assert!(!like(r"Ter\%", "Terry"));
        assert!(like(r"Ter\%", "Ter%"));
        assert!(like(r"Ter\%%", "Ter%ry"));
        assert!(!like(r"Ter\%%", "Terry"));
    }

    #[test]
    fn wildcards_and_case() {
        assert!(like("%@EXAMPLE.com", "jd@example.COM"));
        assert!(like("a_c", "abc"));
        assert!(!like("a_c", "ac"));
        assert!(like(r"a\_c", "a_c"));
        assert!(!like(r"a\_c", "abc"));
        assert!(like("%", ""));
        assert!(!like("_", ""));
        assert!(like("%a%b%c%", "xxaxxbxxcxx"));
        assert!(!like("%a%b%c", "xxaxxbxxcxx"));
        assert!(like("ÉCOLE%", "école normale"));
    }

    #[test]
    fn pathological_pattern_is_fast() {
        let text = "a".repeat(20_000);
        let pattern = format!("{}b", "%a".repeat(50));
        assert!(!like(&pattern, &text));
    }
}
