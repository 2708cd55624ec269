//! Authorizations started and not yet finished: the one-time `state` of each, kept in memory
//! (a host restart simply asks the admin to click Connect again).

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use oauth2::PkceCodeVerifier;

use super::error::ConnectionError;
use super::settings::ServerUrl;

/// How long an admin has to sign in to Salesforce.
pub const STATE_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// Starts kept per tenant (several browser windows); older ones are dropped.
const MAX_PER_TENANT: usize = 5;

pub struct Pending {
    pub tenant: String,
    pub started: SystemTime,
    pub client_id: String,
    pub login_url: ServerUrl,
    pub verifier: Option<PkceCodeVerifier>,
}

#[derive(Default)]
pub struct PendingStates(HashMap<String, Pending>);

impl PendingStates {
    pub fn insert(&mut self, state: String, pending: Pending, now: SystemTime) {
        self.0.retain(|_, p| !expired(p, now));
        let mut mine: Vec<(String, SystemTime)> = self
            .0
            .iter()
            .filter(|(_, p)| p.tenant == pending.tenant)
            .map(|(s, p)| (s.clone(), p.started))
            .collect();
        if mine.len() >= MAX_PER_TENANT {
            mine.sort_by_key(|(_, started)| *started);
            for (state, _) in &mine[..=mine.len() - MAX_PER_TENANT] {
                self.0.remove(state);
            }
        }
        self.0.insert(state, pending);
    }

    /// Takes the tenant's pending authorization for `state`: each state works once. A state of
    /// another tenant is refused and left alone.
    pub fn take(
        &mut self,
        state: &str,
        tenant: &str,
        now: SystemTime,
    ) -> Result<Pending, ConnectionError> {
        match self.0.get(state) {
            Some(p) if p.tenant == tenant => {}
            _ => return Err(ConnectionError::UnknownState),
        }
        let pending = self.0.remove(state).ok_or(ConnectionError::UnknownState)?;
        if expired(&pending, now) {
            Err(ConnectionError::ExpiredState)
        } else {
            Ok(pending)
        }
    }
}

fn expired(pending: &Pending, now: SystemTime) -> bool {
    // A clock set back counts as no time passed.
    now.duration_since(pending.started).unwrap_or_default() > STATE_LIFETIME
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(tenant: &str, started: SystemTime) -> Pending {
        Pending {
            tenant: tenant.into(),
            started,
            client_id: "id".into(),
            login_url: ServerUrl::parse("https://login.salesforce.com").unwrap(),
            verifier: None,
        }
    }

    #[test]
    fn keeps_the_latest_starts_of_a_tenant_and_drops_expired_ones() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut states = PendingStates::default();
        states.insert("old".into(), pending("b", t0), t0);
        for i in 0..=MAX_PER_TENANT {
            let at = t0 + STATE_LIFETIME + Duration::from_secs(1 + i as u64);
            states.insert(format!("a{i}"), pending("a", at), at);
        }
        let now = t0 + STATE_LIFETIME + Duration::from_secs(10);
        assert!(matches!(
            states.take("a0", "a", now),
            Err(ConnectionError::UnknownState)
        ));
        assert!(states.take(&format!("a{MAX_PER_TENANT}"), "a", now).is_ok());
        assert!(matches!(
            states.take("old", "b", now),
            Err(ConnectionError::UnknownState)
        ));
        assert_eq!(states.0.len(), MAX_PER_TENANT - 1);
    }

    #[test]
    fn a_clock_set_back_does_not_expire_a_state() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut states = PendingStates::default();
        states.insert("s".into(), pending("a", t0), t0);
        assert!(states
            .take("s", "a", t0 - Duration::from_secs(3600))
            .is_ok());
    }
}
