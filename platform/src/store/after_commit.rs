//! Upkeep that runs after a write transaction commits, by a task of its own, instead of
//! inside the commit where an agent's upload would wait for it:
//!
//! - SQLite: the write-ahead log is copied back into the database file (a `PASSIVE`
//!   checkpoint, which waits for no one: readers and the next writer go on, and pages a
//!   reader still needs are copied by a later one). A licence apply rewrites pages all over
//!   300,000 rows, and copying them back took 0.3-1 s of its commit (BENCHMARKS.md). The
//!   connections' own automatic checkpoint stays as a safety net at [`WAL_SAFETY_PAGES`].
//! - PostgreSQL: planner statistics of tables whose contents shifted without growing or
//!   shrinking much (a join that moved thousands of licences between states) are refreshed
//!   ([`AfterCommit::analyze_soon`]); about 0.8 s at 300,000 licences. Tables that grew or
//!   shrank by many rows are analysed inside the transaction instead
//!   (`bulk::analyze_after_large_write`): until then they would look empty to the planner.
//!
//! One task runs at a time per store; commits meanwhile ask for one more round.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

use sqlx::AnyPool;

use super::Backend;

/// `wal_autocheckpoint` of every SQLite connection: 100,000 pages (about 400 MiB) of log
/// before a commit checkpoints by itself, should the checkpoint task fall behind.
pub(super) const WAL_SAFETY_PAGES: u32 = 100_000;

/// The upkeep of one store.
#[derive(Debug)]
pub(crate) struct AfterCommit {
    backend: Backend,
    running: AtomicBool,
    again: AtomicBool,
    /// PostgreSQL tables to analyse after the next commit.
    analyze: Mutex<BTreeSet<&'static str>>,
}

impl AfterCommit {
    pub(super) fn new(backend: Backend) -> Self {
        Self {
            backend,
            running: AtomicBool::new(false),
            again: AtomicBool::new(false),
            analyze: Mutex::default(),
        }
    }

    /// Asks for `tables`' statistics to be refreshed once the current transaction commits
    /// (PostgreSQL; SQLite keeps no statistics, see `bulk::analyze_after_large_write`).
    pub(crate) fn analyze_soon(&self, tables: &[&'static str]) {
        if self.backend == Backend::Postgres {
            let mut pending = self.analyze.lock().unwrap_or_else(|p| p.into_inner());
            pending.extend(tables);
        }
    }

    fn has_work(&self) -> bool {
        match self.backend {
            Backend::Sqlite => true,
            Backend::Postgres => !self
                .analyze
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_empty(),
        }
    }

    /// Called after a commit: starts the task unless one runs (then it goes round again).
    pub(super) fn request(self: &Arc<Self>, pool: &AnyPool) {
        if !self.has_work() {
            return;
        }
        if self.running.swap(true, SeqCst) {
            self.again.store(true, SeqCst);
            return;
        }
        let state = Arc::clone(self);
        let pool = pool.clone();
        tokio::spawn(async move {
            loop {
                state.again.store(false, SeqCst);
                if !state.run_once(&pool).await {
                    state.running.store(false, SeqCst);
                    break;
                }
                if state.again.load(SeqCst) {
                    continue;
                }
                state.running.store(false, SeqCst);
                // A request between the check and the store found `running` set and only
                // raised `again`: take it over, unless a new task already did.
                if !state.again.load(SeqCst) || state.running.swap(true, SeqCst) {
                    break;
                }
            }
        });
    }

    /// One round of upkeep; false when the database is closing.
    async fn run_once(&self, pool: &AnyPool) -> bool {
        let started = std::time::Instant::now();
        let (what, sql) = match self.backend {
            Backend::Sqlite => ("checkpoint", "PRAGMA wal_checkpoint(PASSIVE)".to_owned()),
            Backend::Postgres => {
                let tables: Vec<&str> =
                    std::mem::take(&mut *self.analyze.lock().unwrap_or_else(|p| p.into_inner()))
                        .into_iter()
                        .collect();
                if tables.is_empty() {
                    return true;
                }
                ("analyze", format!("ANALYZE {}", tables.join(", ")))
            }
        };
        match sqlx::query(&sql).execute(pool).await {
            Ok(_) => {
                tracing::debug!(
                    what,
                    ms = started.elapsed().as_millis() as u64,
                    "Upkeep after a commit done."
                );
                true
            }
            Err(error) if pool.is_closed() => {
                tracing::debug!(%error, what, "No upkeep: the database is closing.");
                false
            }
            Err(error) => {
                tracing::warn!(%error, what, "Upkeep after a commit failed; the next commit tries again.");
                true
            }
        }
    }
}
