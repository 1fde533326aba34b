//! Shared state of every request handler.

use std::sync::Arc;

use crate::metrics::Metrics;
use crate::store::Store;

/// Settings of the agent API.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The `poll_after_secs` hint sent to agents.
    pub poll_after_secs: u32,
    /// Parts an agent may have stored for snapshots it has not completed; past it, new
    /// parts are refused with 429 `rate_limited` until old ones are completed or expire.
    pub max_pending_parts_per_agent: u64,
    /// Hours without a part after which an incomplete snapshot is dropped (shown on Sources
    /// & agents; the sweeper of `Server::run` does the dropping).
    pub incomplete_snapshot_hours: u64,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            poll_after_secs: seatbroker_protocol::limits::DEFAULT_POLL_AFTER_SECS,
            max_pending_parts_per_agent: u64::from(seatbroker_protocol::limits::MAX_PARTS),
            incomplete_snapshot_hours: 24,
        }
    }
}

/// What every handler can reach. Cheap to clone. Holds no state another platform process
/// would need: everything shared lives in the database.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub api: Arc<ApiConfig>,
}

impl AppState {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            metrics: Arc::new(Metrics::default()),
            api: Arc::new(ApiConfig::default()),
        }
    }
}
