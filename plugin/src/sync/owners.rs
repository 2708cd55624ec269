//! The owner of the records a chat becomes: the active Salesforce User whose email is the
//! agent's, cached per tenant for a while (a User created or deactivated later is noticed once
//! the entry expires); many agents are looked up in one `IN (...)` query.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::api::DataApi;
use super::batch;
use super::engine::{stop_for, Step, SyncEngine};
use super::plan::Owner;
use super::soql_text::{quote, NEWEST_FIRST};

/// How long an agent's owner is trusted without asking Salesforce again.
pub const OWNER_TTL: Duration = Duration::from_secs(15 * 60);

/// An agent's User (or none), and when Salesforce said so.
type Entry = (Option<String>, Instant);

/// Per tenant, agent email (trimmed, lower case) → its [`Entry`].
#[derive(Default)]
pub struct OwnerCache(Mutex<HashMap<String, HashMap<String, Entry>>>);

impl OwnerCache {
    /// The owner cached for `email` at `now`; `None` when unknown or expired.
    pub fn get(&self, tenant: &str, email: &str, now: Instant) -> Option<Option<String>> {
        let cache = self.0.lock();
        let (owner, read) = cache.get(tenant)?.get(&normal(email))?;
        (now.duration_since(*read) < OWNER_TTL).then(|| owner.clone())
    }

    pub fn put(&self, tenant: &str, email: &str, owner: Option<String>, now: Instant) {
        if owner.is_none() {
            log::info!(
                "tenant {tenant}: no active Salesforce user has the agent's email; records go to \
                 the connected user"
            );
        }
        self.0
            .lock()
            .entry(tenant.to_string())
            .or_default()
            .insert(normal(email), (owner, now));
    }

    pub fn forget(&self, tenant: &str) {
        self.0.lock().remove(tenant);
    }
}

fn normal(email: &str) -> String {
    email.trim().to_lowercase()
}

impl SyncEngine {
    /// The active User whose email is the agent's (case-insensitive), cached per tenant.
    pub(crate) fn owner(
        &self,
        api: &DataApi<'_>,
        agent_email: Option<&str>,
    ) -> Step<Option<String>> {
        match self.owner_state(api.tenant, agent_email) {
            Owner::Known(owner) => Ok(owner),
            Owner::Ask(email) => {
                self.find_owners(api, [email.as_str()])?;
                Ok(self.known_owner(api.tenant, &email).flatten())
            }
        }
    }

    /// The owner if cached; else the email to ask for in the chat's own request.
    pub(super) fn owner_state(&self, tenant: &str, agent_email: Option<&str>) -> Owner {
        match agent_email.map(str::trim).filter(|e| !e.is_empty()) {
            None => Owner::Known(None),
            Some(email) => match self.known_owner(tenant, email) {
                Some(owner) => Owner::Known(owner),
                None => Owner::Ask(normal(email)),
            },
        }
    }

    /// Caches what a chat's own request found for the agent.
    pub(super) fn learn_owner(&self, tenant: &str, email: &str, owner: Option<String>) {
        self.owners.put(tenant, email, owner, Instant::now());
    }

    /// The cached owner for an agent's email; `None` when not looked up yet (or long ago).
    pub(super) fn known_owner(&self, tenant: &str, email: &str) -> Option<Option<String>> {
        self.owners.get(tenant, email, Instant::now())
    }

    /// Looks up the owners of the agents' emails not cached yet, in as few queries as SOQL's
    /// length allows, and caches them (or that there is none).
    pub(super) fn find_owners<'e>(
        &self,
        api: &DataApi<'_>,
        emails: impl IntoIterator<Item = &'e str>,
    ) -> Step<()> {
        let mut unknown: Vec<String> = emails
            .into_iter()
            .map(normal)
            .filter(|e| !e.is_empty() && self.known_owner(api.tenant, e).is_none())
            .collect();
        unknown.sort();
        unknown.dedup();
        for chunk in batch::by_length(&unknown, |e| quote(e).len() + 2) {
            let list: Vec<String> = chunk.iter().map(|e| quote(e)).collect();
            let soql = format!(
                "SELECT Id, Email FROM User WHERE Email IN ({}) AND IsActive = true \
                 {NEWEST_FIRST}",
                list.join(", ")
            );
            let rows = api.query(&soql).map_err(|e| stop_for(&e, false))?;
            let now = Instant::now();
            for email in chunk {
                // Newest first: the first row with the email wins.
                let owner = rows
                    .iter()
                    .find(|r| r["Email"].as_str().map(str::to_lowercase).as_ref() == Some(email))
                    .and_then(|r| r["Id"].as_str())
                    .map(str::to_string);
                self.owners.put(api.tenant, email, owner, now);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owner_is_cached_per_tenant_whatever_the_case_until_it_expires() {
        let cache = OwnerCache::default();
        let start = Instant::now();
        cache.put("acme", " Bob@CX.example ", Some("005B".into()), start);
        cache.put("acme", "temp@cx.example", None, start);
        assert_eq!(
            cache.get("acme", "bob@cx.example", start),
            Some(Some("005B".into()))
        );
        assert_eq!(
            cache.get("acme", "TEMP@cx.example", start),
            Some(None),
            "none is cached too"
        );
        assert_eq!(
            cache.get("other", "bob@cx.example", start),
            None,
            "per tenant"
        );
        let later = start + OWNER_TTL - Duration::from_secs(1);
        assert_eq!(
            cache.get("acme", "bob@cx.example", later),
            Some(Some("005B".into()))
        );
        assert_eq!(
            cache.get("acme", "bob@cx.example", start + OWNER_TTL),
            None,
            "expired"
        );
        cache.forget("acme");
        assert_eq!(cache.get("acme", "bob@cx.example", start), None);
    }
}
