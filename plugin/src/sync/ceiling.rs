//! The tenant's share of its org's daily API calls (`max_api_usage_percent`): slow down as
//! usage nears the ceiling, hold the tenant at it, and notice when the window has freed calls.
//!
//! Usage is known from the `Sforce-Limit-Info` of the tenant's last response, trusted for ten
//! minutes ([`Connections::api_usage`](crate::oauth::Connections::api_usage)); while the tenant
//! is held it sends nothing, so that figure goes stale, and by the end of a 15-minute pause
//! there is none. A tenant held on a limit therefore goes on neither on the figure it was held
//! on nor on no figure at all: when the hold ends (or the admin resumes the tenant), one cheap
//! request (`GET /limits`) reads the usage afresh before deciding. Once a fresh figure lets it
//! go on, it is no longer held on anything.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;

use super::engine::SyncEngine;
use crate::salesforce::ApiUsage;
use crate::settings::TenantSettings;
use crate::workers::Hold;

/// How long a tenant pauses when its org's API limit is reached or at the tenant's ceiling.
pub const LIMIT_PAUSE: Duration = Duration::from_secs(15 * 60);

/// Within this many points under the ceiling, a tenant's lane rests between batches, so that
/// its chats gather into fewer, larger batches (fewer calls per chat).
const SLOWDOWN_POINTS: f64 = 5.0;
pub const SLOWDOWN_PAUSE: Duration = Duration::from_secs(60);

/// What the usage figure says about sending now.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Go,
    /// Go, then rest: usage is near the ceiling.
    Slow(String),
    /// The tenant was held on a limit, and the figure is the one it was held on, or there is
    /// none now: read it afresh first.
    Probe,
    /// At or over the ceiling.
    Hold(String),
}

/// The verdict for `usage` (the current figure, if any) under a ceiling of `max_percent`, given
/// the figure the tenant is held on, if it is.
pub fn verdict(usage: Option<ApiUsage>, held_on: Option<ApiUsage>, max_percent: u8) -> Verdict {
    let Some(usage) = usage else {
        // Expired while the tenant was held, most likely: going on blindly could overspend,
        // and waiting for a figure that only a call brings would hold it for ever.
        return if held_on.is_some() {
            Verdict::Probe
        } else {
            Verdict::Go
        };
    };
    let Some(percent) = usage.percent_used() else {
        return Verdict::Go;
    };
    let ceiling = f64::from(max_percent);
    let figures = format!(
        "the org has used {percent:.0}% of its daily API calls ({}/{}); this tenant's ceiling is \
         {max_percent}%",
        usage.used, usage.limit
    );
    if percent < ceiling - SLOWDOWN_POINTS {
        Verdict::Go
    } else if percent < ceiling {
        Verdict::Slow(format!("{figures}: slowing down"))
    } else if held_on == Some(usage) {
        Verdict::Probe
    } else {
        Verdict::Hold(figures)
    }
}

/// Per tenant, the usage figure it was last held on.
#[derive(Default)]
pub struct HeldOn(Mutex<HashMap<String, ApiUsage>>);

impl HeldOn {
    pub fn forget(&self, tenant: &str) {
        self.0.lock().remove(tenant);
    }
}

impl SyncEngine {
    /// Whether the tenant may send now; the hold when it may not.
    pub(super) fn admit(&self, tenant: &str, settings: &TenantSettings) -> Result<(), Hold> {
        let max = settings.max_api_usage_percent;
        let held_on = self.held_on.0.lock().get(tenant).copied();
        let mut usage = self.connections.api_usage(tenant);
        let mut decision = verdict(usage, held_on, max);
        if decision == Verdict::Probe {
            if let Err(e) = self.api(tenant).limits() {
                log::warn!("tenant {tenant}: the org's API usage could not be read: {e}");
            }
            // A failed probe leaves the figure as it was: held on it again, or, with none, the
            // tenant goes on (its first answer brings the figure) and probes again next time.
            usage = self.connections.api_usage(tenant);
            decision = verdict(usage, None, max);
        }
        match decision {
            Verdict::Hold(reason) => Err(self.hold(tenant, reason)),
            Verdict::Go | Verdict::Slow(_) | Verdict::Probe => {
                if usage.is_some() {
                    self.held_on.forget(tenant);
                }
                Ok(())
            }
        }
    }

    /// After a delivery, by the usage it reported: a rest near the ceiling, a hold at it.
    pub(super) fn after_delivery(&self, tenant: &str, settings: &TenantSettings) -> Option<Hold> {
        let usage = self.connections.api_usage(tenant);
        match verdict(usage, None, settings.max_api_usage_percent) {
            Verdict::Slow(reason) => Some(Hold::Until(SystemTime::now() + SLOWDOWN_PAUSE, reason)),
            Verdict::Hold(reason) => Some(self.hold(tenant, reason)),
            Verdict::Go | Verdict::Probe => None,
        }
    }

    fn hold(&self, tenant: &str, reason: String) -> Hold {
        self.remember_hold(tenant);
        Hold::Until(SystemTime::now() + LIMIT_PAUSE, reason)
    }

    /// The tenant is held for its API usage (the ceiling, or Salesforce's own limit): the
    /// figure known now is not trusted once the hold ends.
    pub(super) fn remember_hold(&self, tenant: &str) {
        if let Some(usage) = self.connections.api_usage(tenant) {
            self.held_on.0.lock().insert(tenant.to_string(), usage);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(used: u64) -> Option<ApiUsage> {
        Some(ApiUsage { used, limit: 1000 })
    }

    #[test]
    fn holds_at_the_ceiling_slows_near_it_and_probes_a_figure_it_held_on() {
        assert_eq!(verdict(None, None, 90), Verdict::Go);
        assert_eq!(
            verdict(Some(ApiUsage { used: 5, limit: 0 }), None, 90),
            Verdict::Go
        );
        assert_eq!(verdict(usage(849), None, 90), Verdict::Go);
        let Verdict::Slow(reason) = verdict(usage(850), None, 90) else {
            panic!("85% of a 90% ceiling slows down");
        };
        assert!(reason.ends_with("slowing down"), "{reason}");
        assert_eq!(
            verdict(usage(900), None, 90),
            Verdict::Hold(
                "the org has used 90% of its daily API calls (900/1000); this tenant's ceiling \
                 is 90%"
                    .into()
            )
        );
        // The same figure after the hold: stale, read afresh; a new one holds again.
        assert_eq!(verdict(usage(900), usage(900), 90), Verdict::Probe);
        assert!(matches!(
            verdict(usage(901), usage(900), 90),
            Verdict::Hold(_)
        ));
        // Usage fell under the ceiling (the rolling window freed calls): go.
        assert_eq!(verdict(usage(100), usage(900), 90), Verdict::Go);
        // No figure now (it expired during the hold): read it afresh; never held, go.
        assert_eq!(verdict(None, usage(900), 90), Verdict::Probe);
        assert_eq!(verdict(None, None, 90), Verdict::Go);
    }
}
