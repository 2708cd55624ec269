//! How long to wait before trying an event again: full-jitter exponential back-off.
//!
//! The delay is drawn uniformly from `[FLOOR, min(CAP, BASE * 2^attempts)]`, so that many
//! tenants' retries after one Salesforce outage spread out instead of arriving together. There
//! is no attempt limit: retryable work waits as long as it must, never dropped.

use std::time::Duration;

const BASE: Duration = Duration::from_secs(2);
pub(super) const CAP: Duration = Duration::from_secs(15 * 60);
/// Never retry in a tight loop, whatever the draw.
pub(super) const FLOOR: Duration = Duration::from_millis(100);

/// The delay before attempt `attempts + 1`, after `attempts` failed ones.
pub fn retry_delay(attempts: u32) -> Duration {
    let ceiling = BASE
        .checked_mul(1u32.checked_shl(attempts.min(31)).unwrap_or(u32::MAX))
        .unwrap_or(CAP)
        .min(CAP);
    let millis = fastrand::u64(FLOOR.as_millis() as u64..=ceiling.as_millis() as u64);
    Duration::from_millis(millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_with_attempts_up_to_the_cap_and_never_below_the_floor() {
        for attempts in 0..100 {
            let ceiling = (BASE * 2u32.saturating_pow(attempts.min(20))).min(CAP);
            for _ in 0..50 {
                let delay = retry_delay(attempts);
                assert!(
                    delay >= FLOOR && delay <= ceiling,
                    "attempt {attempts}: {delay:?}"
                );
            }
        }
        // Jitter: draws differ, and late attempts can reach far beyond early ones.
        let late: Vec<_> = (0..50).map(|_| retry_delay(30)).collect();
        assert!(late.iter().any(|d| *d > Duration::from_secs(60)));
        assert!(late.windows(2).any(|w| w[0] != w[1]));
    }
}
