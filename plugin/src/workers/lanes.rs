//! Which tenant a worker takes next: round-robin over tenants with due work, one worker per
//! tenant at a time, timers for back-offs, and holds for paused tenants.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::time::Instant;

use super::{instant_of, Hold};

/// What a lane does after a turn.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Look again at once (more may be due).
    Again,
    /// Nothing due before this instant.
    At(Instant),
    /// Nothing waiting.
    Idle,
    /// Paused.
    Hold(Hold),
}

#[derive(Default)]
pub struct Lanes {
    ready: VecDeque<String>,
    in_ready: HashSet<String>,
    busy: HashSet<String>,
    /// Woken while busy: look again when the turn ends.
    woken_while_busy: HashSet<String>,
    /// Released while busy (it reconnected, or got its settings): a hold the turn ends with
    /// is already out of date.
    released_while_busy: HashSet<String>,
    timers: BTreeSet<(Instant, String)>,
    holds: HashMap<String, Hold>,
    /// Held from outside whatever their turns end with, until released.
    paused: HashSet<String>,
}

impl Lanes {
    /// The tenant may have due work. Answers whether a waiting worker should be told.
    pub fn wake(&mut self, tenant: &str) -> bool {
        if self.busy.contains(tenant) {
            self.woken_while_busy.insert(tenant.to_string());
            false
        } else if self.holds.contains_key(tenant) {
            false // a timed hold's timer or `release` brings it back
        } else {
            self.make_ready(tenant)
        }
    }

    /// Holds the tenant until [`release`](Self::release), whatever a turn under way ends with.
    pub fn pause(&mut self, tenant: &str, hold: Hold) {
        self.paused.insert(tenant.to_string());
        self.holds.insert(tenant.to_string(), hold);
        self.timers.retain(|(_, t)| t != tenant);
        if self.in_ready.remove(tenant) {
            self.ready.retain(|t| t != tenant);
        }
    }

    pub fn is_busy(&self, tenant: &str) -> bool {
        self.busy.contains(tenant)
    }

    pub fn release(&mut self, tenant: &str) {
        self.paused.remove(tenant);
        self.holds.remove(tenant);
        if self.busy.contains(tenant) {
            self.released_while_busy.insert(tenant.to_string());
        }
    }

    pub fn hold(&self, tenant: &str) -> Option<Hold> {
        self.holds.get(tenant).cloned()
    }

    /// The next tenant to work, first moving every timer that has fired into line.
    pub fn take_ready(&mut self, now: Instant) -> Option<String> {
        while let Some((at, tenant)) = self.timers.first().cloned() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            if matches!(self.holds.get(&tenant), Some(Hold::Until(..))) {
                self.holds.remove(&tenant);
            }
            if !self.busy.contains(&tenant) && !self.holds.contains_key(&tenant) {
                self.make_ready(&tenant);
            }
        }
        let tenant = self.ready.pop_front()?;
        self.in_ready.remove(&tenant);
        self.busy.insert(tenant.clone());
        Some(tenant)
    }

    pub fn next_timer(&self) -> Option<Instant> {
        self.timers.first().map(|(at, _)| *at)
    }

    /// Ends a tenant's turn. Answers whether a waiting worker should be told.
    pub fn finish(&mut self, tenant: &str, next: Next) -> bool {
        self.busy.remove(tenant);
        let woken = self.woken_while_busy.remove(tenant);
        let released = self.released_while_busy.remove(tenant);
        self.timers.retain(|(_, t)| t != tenant);
        if self.paused.contains(tenant) {
            return false;
        }
        match next {
            Next::Hold(_) if released => self.make_ready(tenant),
            Next::Hold(hold) => {
                if let Hold::Until(until, _) = &hold {
                    self.timers.insert((instant_of(*until), tenant.to_string()));
                }
                self.holds.insert(tenant.to_string(), hold);
                true // the timer may be earlier than the one a worker waits for
            }
            Next::Again => self.make_ready(tenant),
            Next::At(_) | Next::Idle if woken => self.make_ready(tenant),
            Next::At(at) => {
                self.timers.insert((at, tenant.to_string()));
                true
            }
            Next::Idle => false,
        }
    }

    fn make_ready(&mut self, tenant: &str) -> bool {
        if self.in_ready.insert(tenant.to_string()) {
            self.ready.push_back(tenant.to_string());
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    #[test]
    fn one_turn_at_a_time_per_tenant_round_robin() {
        let mut lanes = Lanes::default();
        let now = Instant::now();
        assert!(lanes.wake("a"));
        assert!(lanes.wake("b"));
        assert!(!lanes.wake("a"), "already in line");
        assert_eq!(lanes.take_ready(now).as_deref(), Some("a"));
        assert!(!lanes.wake("a"), "busy: remembered for after the turn");
        assert_eq!(lanes.take_ready(now).as_deref(), Some("b"));
        assert_eq!(lanes.take_ready(now), None, "a is busy, b is busy");
        lanes.finish("a", Next::Idle);
        assert_eq!(
            lanes.take_ready(now).as_deref(),
            Some("a"),
            "woken while busy"
        );
    }

    #[test]
    fn a_release_during_a_turn_outlives_the_hold_that_turn_ends_with() {
        let mut lanes = Lanes::default();
        let now = Instant::now();
        lanes.wake("a");
        assert_eq!(lanes.take_ready(now).as_deref(), Some("a"));
        // The host enables the tenant while its turn still sees it without settings.
        lanes.release("a");
        assert!(lanes.wake("a") || lanes.busy.contains("a"));
        lanes.finish("a", Next::Hold(Hold::UntilResumed("no settings".into())));
        assert_eq!(lanes.hold("a"), None, "the hold was out of date");
        assert_eq!(lanes.take_ready(now).as_deref(), Some("a"));
        // A plain wake during a turn does not lift a hold.
        lanes.wake("a");
        lanes.finish(
            "a",
            Next::Hold(Hold::UntilResumed("needs reconnect".into())),
        );
        assert!(lanes.hold("a").is_some());
    }

    #[test]
    fn a_pause_outlasts_the_turn_under_way_until_released() {
        let mut lanes = Lanes::default();
        let now = Instant::now();
        lanes.wake("a");
        lanes.take_ready(now);
        lanes.pause("a", Hold::UntilResumed("switching orgs".into()));
        assert!(lanes.is_busy("a"));
        assert!(!lanes.finish("a", Next::Again));
        assert!(!lanes.is_busy("a"));
        assert_eq!(lanes.take_ready(now), None, "paused");
        assert!(!lanes.wake("a"));
        lanes.release("a");
        assert!(lanes.wake("a"));
        assert_eq!(lanes.take_ready(now).as_deref(), Some("a"));
    }

    #[test]
    fn timers_and_holds() {
        let mut lanes = Lanes::default();
        let now = Instant::now();
        lanes.wake("a");
        lanes.take_ready(now);
        lanes.finish("a", Next::At(now + Duration::from_secs(5)));
        assert_eq!(lanes.take_ready(now), None);
        assert_eq!(
            lanes.take_ready(now + Duration::from_secs(6)).as_deref(),
            Some("a")
        );

        lanes.finish(
            "a",
            Next::Hold(Hold::UntilResumed("needs reconnect".into())),
        );
        assert!(!lanes.wake("a"), "held");
        assert_eq!(lanes.take_ready(now + Duration::from_secs(3600)), None);
        lanes.release("a");
        assert!(lanes.wake("a"));

        let later = SystemTime::now() + Duration::from_secs(60);
        lanes.take_ready(now);
        lanes.finish("a", Next::Hold(Hold::Until(later, "API limit".into())));
        assert_eq!(
            lanes.hold("a"),
            Some(Hold::Until(later, "API limit".into()))
        );
        assert_eq!(lanes.take_ready(Instant::now()), None);
        assert_eq!(
            lanes
                .take_ready(Instant::now() + Duration::from_secs(61))
                .as_deref(),
            Some("a")
        );
        assert_eq!(lanes.hold("a"), None, "a timed hold ends by itself");
    }
}
