//! The workers' delivery step: decides, per tenant, whether its events can go to Salesforce now,
//! and hands them to the sync engine when they can.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;

use crate::oauth::{ConnectionError, Connections};
use crate::queue::QueuedEvent;
use crate::settings::TenantSettings;
use crate::sync::engine::SyncEngine;
use crate::workers::{Deliver, Delivery, Hold, StopSignal};

/// Every enabled tenant's settings, as last handed over by the host.
#[derive(Default)]
pub struct TenantDirectory(RwLock<HashMap<String, Arc<TenantSettings>>>);

impl TenantDirectory {
    pub fn get(&self, tenant: &str) -> Option<Arc<TenantSettings>> {
        self.0.read().get(tenant).cloned()
    }

    pub fn set(&self, tenant: &str, settings: TenantSettings) {
        self.0
            .write()
            .insert(tenant.to_string(), Arc::new(settings));
    }
}

pub struct Deliverer {
    pub tenants: Arc<TenantDirectory>,
    pub connections: Arc<Connections>,
    pub engine: Arc<SyncEngine>,
}

impl Deliver for Deliverer {
    fn deliver(&self, tenant: &str, batch: &[QueuedEvent], stop: &StopSignal) -> Delivery {
        let hold = |reason: String| Delivery {
            outcomes: Vec::new(),
            hold: Some(Hold::UntilResumed(reason)),
        };
        let Some(settings) = self.tenants.get(tenant) else {
            return hold(format!(
                "tenant {tenant} has no settings: its events wait until the host enables it"
            ));
        };
        match self.connections.session(tenant) {
            Ok(_) => self.engine.deliver(tenant, &settings, batch, stop),
            Err(e) => hold(not_connected_reason(tenant, &e)),
        }
    }
}

fn not_connected_reason(tenant: &str, e: &ConnectionError) -> String {
    match e {
        ConnectionError::NotConnected => {
            format!(
                "tenant {tenant} is not connected to Salesforce: connect it to deliver its events"
            )
        }
        other => format!("tenant {tenant} cannot reach Salesforce: {other}"),
    }
}
