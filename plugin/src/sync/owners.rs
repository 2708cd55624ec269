//! The owner of the records a chat becomes: the active Salesforce User whose email is the
//! agent's, cached per tenant; many agents are looked up in one `IN (...)` query.

use super::api::DataApi;
use super::batch;
use super::engine::{stop_for, Step, SyncEngine};
use super::soql_text::quote;

impl SyncEngine {
    /// The active User whose email is the agent's (case-insensitive), cached per tenant.
    pub(crate) fn owner(
        &self,
        api: &DataApi<'_>,
        agent_email: Option<&str>,
    ) -> Step<Option<String>> {
        let Some(email) = agent_email.map(str::trim).filter(|e| !e.is_empty()) else {
            return Ok(None);
        };
        self.find_owners(api, [email])?;
        Ok(self.known_owner(api.tenant, email).flatten())
    }

    /// The cached owner for an agent's email; `None` when not looked up yet.
    pub(super) fn known_owner(&self, tenant: &str, email: &str) -> Option<Option<String>> {
        let owners = self.owners.lock();
        owners
            .get(tenant)?
            .get(&email.trim().to_lowercase())
            .cloned()
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
            .map(|e| e.trim().to_lowercase())
            .filter(|e| !e.is_empty() && self.known_owner(api.tenant, e).is_none())
            .collect();
        unknown.sort();
        unknown.dedup();
        for chunk in batch::by_length(&unknown, |e| quote(e).len() + 2) {
            let list: Vec<String> = chunk.iter().map(|e| quote(e)).collect();
            let soql = format!(
                "SELECT Id, Email FROM User WHERE Email IN ({}) AND IsActive = true \
                 ORDER BY LastModifiedDate DESC",
                list.join(", ")
            );
            let rows = api.query(&soql).map_err(|e| stop_for(&e, false))?;
            let mut owners = self.owners.lock();
            let cache = owners.entry(api.tenant.to_string()).or_default();
            for email in chunk {
                // Newest first: the first row with the email wins.
                let owner = rows
                    .iter()
                    .find(|r| r["Email"].as_str().map(str::to_lowercase).as_ref() == Some(email))
                    .and_then(|r| r["Id"].as_str())
                    .map(str::to_string);
                if owner.is_none() {
                    log::info!(
                        "tenant {}: no active Salesforce user has the agent's email; records go to the connected user",
                        api.tenant
                    );
                }
                cache.insert(email.clone(), owner);
            }
        }
        Ok(())
    }
}
