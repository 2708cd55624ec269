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
