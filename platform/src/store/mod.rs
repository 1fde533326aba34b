//! The platform's storage: one [`Store`] over SQLite or PostgreSQL.
//!
//! `Store` is a cheap-to-clone handle over a `sqlx::AnyPool`. Every query is written once in
//! portable SQL (`$1` placeholders, `ON CONFLICT`, TEXT timestamps, BIGINT integers and
//! 0/1 booleans) and runs on both backends; only the migrations differ
//! (`platform/migrations/{sqlite,postgres}`). Queries live next to the feature that needs
//! them, each file adding an `impl Store` block:
//!
//! - [`tokens`](self::tokens): enrollment tokens;
//! - [`agents`](self::agents): enrollment, agent approval, credentials, heartbeats, status;
//! - [`sources`](self::sources): source approval (as new / merge / reject), health listings;
//! - [`intake`](self::intake): receiving parts (idempotent, concurrency-safe) and applying
//!   a complete snapshot atomically, with one approval check;
//! - [`report_tokens`](self::report_tokens): read-only bearer tokens for the report API;
//! - [`secret_tokens`](self::secret_tokens): what enrollment and report tokens share (a
//!   hashed secret with a prefix, expiry and revocation, listing), never a table;
//! - [`operator`](self::operator): agents by state, sources by health, last applies, for `/metrics`;
//! - [`audit`](self::audit): the audit log every administrative action writes;
//! - [`bulk`](self::bulk): many rows in one statement (a JSON parameter to write, one JSON
//!   aggregate to read), for the licence sync's hundreds of thousands of rows;
//! - [`email`](self::email): email subscriptions and the queue of sends, with the claims
//!   that keep two processes from sending a digest twice;
//! - `web`: users, sessions, login limits and report queries (the console's own file);
//! - `sso`: single sign-on's sign-ins in progress and provider identities of users.
//!
//! Conventions every query follows (the Any driver supports only these types):
//! timestamps are `TEXT` written by [`ts`] (RFC 3339, UTC, microseconds, fixed width, so
//! they compare as strings); days are `TEXT` `YYYY-MM-DD` ([`day`]); integers are `i64`;
//! booleans are `i64` 0/1; `SUM(...)` on PostgreSQL yields NUMERIC, which the Any driver
//! cannot decode, so wrap aggregates in `CAST(... AS BIGINT)`.
//!
//! SQLite: WAL, `busy_timeout`, foreign keys on every connection; write transactions begin
//! with `BEGIN IMMEDIATE` ([`Store::begin_write`]) so concurrent writers queue instead of
//! failing with "database is locked".

mod after_commit;
mod agents;
mod audit;
mod bulk;
pub(crate) mod email;
mod intake;
pub(crate) mod licences;
mod operator;
mod report_tokens;
mod secret_tokens;
mod sources;
mod sso;
mod tokens;
mod web;

use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use sqlx::any::AnyPoolOptions;
use sqlx::{Any, AnyConnection, AnyPool, Transaction};

pub(crate) use agents::AgentRecord;
pub use agents::{EnrolledAgent, EnrollmentOutcome};
pub(crate) use audit::AuditEntry;
pub(crate) use email::{EmailSend, Frequency, Subscription};
pub use intake::{
    ApplyReport, DecodeGate, IncompleteUploads, PartOutcome, PartRefusal, ReceivedPart,
};
pub use licences::{ExclusionRule, Organisation};
pub(crate) use operator::OperatorGauges;
pub use report_tokens::{CreatedReportToken, ReportTokenRecord, ReportTokenState};
pub(crate) use sso::{NO_PASSWORD, PendingLogin, SsoOutcome};
pub(crate) use tokens::EnrollmentTokenRecord;
pub use tokens::TokenState;

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// Errors of the storage layer that a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "unsupported database URL scheme in {url:?}: use sqlite://PATH or postgres://USER@HOST/DB"
    )]
    UnsupportedUrl { url: String },
    #[error(
        "cannot connect to the database at {url}: {source}; check that it is running and the URL is right"
    )]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error(
        "cannot migrate the database schema: {0}; the database may belong to a newer platform release"
    )]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{what} {id:?} does not exist")]
    NotFound { what: &'static str, id: String },
    /// The operation does not apply to the record's current state, e.g. approving a
    /// source whose agent was rejected. The message says why, for the person who tried.
    #[error("{0}")]
    InvalidState(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A licence delta does not apply to what the source holds (`licences::sync`); raised
    /// before the apply writes anything, and answered as the refusal `base_mismatch`.
    #[error("the licence delta does not apply: {0}")]
    BaseMismatch(String),
}

impl StoreError {
    /// Whether retrying the same operation later may succeed (lost connection, lock
    /// timeout, serialization failure), as opposed to a permanent refusal.
    pub(crate) fn is_retriable(&self) -> bool {
        match self {
            Self::Connect { .. } => true,
            Self::Database(error) => {
                matches!(
                    error,
                    sqlx::Error::Io(_)
                        | sqlx::Error::PoolTimedOut
                        | sqlx::Error::PoolClosed
                        | sqlx::Error::WorkerCrashed
                ) || is_busy(error)
            }
            _ => false,
        }
    }

    pub(crate) fn not_found(what: &'static str, id: impl Into<String>) -> Self {
        Self::NotFound {
            what,
            id: id.into(),
        }
    }
}

/// SQLite "database is locked/busy", PostgreSQL serialization/deadlock failures.
fn is_busy(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => {
            matches!(db.code().as_deref(), Some("5" | "6" | "40001" | "40P01"))
        }
        _ => false,
    }
}

/// Where "now" comes from: the system clock, or a fixed instant tests move by hand.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    #[default]
    System,
    Fixed(Arc<Mutex<DateTime<Utc>>>),
}

impl Clock {
    pub fn fixed(at: DateTime<Utc>) -> Self {
        Self::Fixed(Arc::new(Mutex::new(at)))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Self::System => Utc::now(),
            Self::Fixed(at) => *at.lock().unwrap_or_else(|poison| poison.into_inner()),
        }
    }

    /// Moves a fixed clock (no effect on the system clock).
    pub fn set(&self, to: DateTime<Utc>) {
        if let Self::Fixed(at) = self {
            *at.lock().unwrap_or_else(|poison| poison.into_inner()) = to;
        }
    }
}

/// Handle to the database. Clone freely: clones share the pool.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    clock: Clock,
    /// SQLite allows one writer at a time. Writers of this process queue here, before
    /// taking a connection, so waiting writers do not starve readers of connections;
    /// `BEGIN IMMEDIATE` still orders writers of different processes.
    write_lock: Arc<tokio::sync::Mutex<()>>,
    /// Which snapshots this process is decoding, and the decode gate of tests.
    decodes: Arc<intake::Decodes>,
    /// The Reclaim page's filter choices, with the version of the sources they were read
    /// at (`licences::report`).
    reclaim_choices: Arc<std::sync::Mutex<Option<(String, licences::ReclaimChoices)>>>,
    /// Upkeep that runs after write transactions commit, not inside them.
    after_commit: Arc<after_commit::AfterCommit>,
}

/// A write transaction ([`Store::begin_write`]): derefs to the connection, so queries
/// run on `&mut *tx`; `commit` or drop (= rollback).
pub(crate) struct WriteTx {
    tx: Transaction<'static, Any>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
    /// Where to ask for the upkeep once committed.
    after_commit: (AnyPool, Arc<after_commit::AfterCommit>),
}

impl WriteTx {
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        let WriteTx {
            tx,
            _turn,
            after_commit: (pool, upkeep),
        } = self;
        tx.commit().await?;
        drop(_turn);
        upkeep.request(&pool);
        Ok(())
    }

    pub(crate) async fn rollback(self) -> Result<(), StoreError> {
        Ok(self.tx.rollback().await?)
    }
}

impl Deref for WriteTx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}

impl Store {
    /// Connects to `url` (`sqlite://PATH?mode=rwc` or `postgres://...`) and brings the
    /// schema up to date.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl {
                url: redact_url(url),
            });
        };
        let options = match backend {
            Backend::Sqlite => {
                AnyPoolOptions::new()
                    .max_connections(4)
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            for pragma in [
                                "PRAGMA journal_mode = WAL",
                                "PRAGMA busy_timeout = 30000",
                                "PRAGMA foreign_keys = ON",
                                "PRAGMA synchronous = NORMAL",
                                // A licence apply touches the B-trees of 300,000 rows: 64 MiB of
                                // page cache per connection (the default is 2 MiB), and reads
                                // through a shared memory map instead of a copy per page.
                                "PRAGMA cache_size = -65536",
                                "PRAGMA mmap_size = 1073741824",
                            ] {
                                sqlx::query(pragma).execute(&mut *conn).await?;
                            }
                            // See `after_commit`.
                            sqlx::query(&format!(
                                "PRAGMA wal_autocheckpoint = {}",
                                after_commit::WAL_SAFETY_PAGES
                            ))
                            .execute(&mut *conn)
                            .await?;
                            Ok(())
                        })
                    })
            }
            Backend::Postgres => AnyPoolOptions::new().max_connections(16),
        };
        let pool = options
            .acquire_timeout(Duration::from_secs(30))
            .connect(url)
            .await
            .map_err(|source| StoreError::Connect {
                url: redact_url(url),
                source,
            })?;
        match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&pool).await?,
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&pool).await?,
        }
        tracing::debug!(backend = ?backend, "Database schema is up to date.");
        Ok(Store {
            pool,
            backend,
            clock: Clock::System,
            write_lock: Arc::new(tokio::sync::Mutex::new(())),
            decodes: Arc::default(),
            reclaim_choices: Arc::default(),
            after_commit: Arc::new(after_commit::AfterCommit::new(backend)),
        })
    }

    /// Uses `clock` for every "now" this store writes (tests).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Holds the decodes `gate` names until it releases them (tests that need a decode in
    /// progress).
    pub fn with_decode_gate(mut self, gate: Arc<DecodeGate>) -> Self {
        self.decodes = Arc::new(intake::Decodes::with_gate(gate));
        self
    }

    /// The upkeep that follows this store's commits.
    pub(crate) fn after_commit(&self) -> &after_commit::AfterCommit {
        &self.after_commit
    }

    pub(crate) fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection pool. Crate code adds `impl Store` blocks that use it; outside the
    /// crate it is for tests and tools that read tables directly.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The current time as this store sees it.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Begins a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so a concurrent writer waits for `busy_timeout` instead of
    /// failing when it upgrades from reading to writing.
    pub(crate) async fn begin_write(&self) -> Result<WriteTx, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => {
                let turn = self.write_lock.clone().lock_owned().await;
                WriteTx {
                    tx: self.pool.begin_with("BEGIN IMMEDIATE").await?,
                    _turn: Some(turn),
                    after_commit: (self.pool.clone(), Arc::clone(&self.after_commit)),
                }
            }
            Backend::Postgres => WriteTx {
                tx: self.pool.begin().await?,
                _turn: None,
                after_commit: (self.pool.clone(), Arc::clone(&self.after_commit)),
            },
        })
    }

    /// Rows per multi-row statement with `columns` parameters each. SQLite's cost per
    /// statement grows faster than linearly with its parameter count, so it gets small
    /// batches; PostgreSQL gets large ones (fewer round trips).
    pub(crate) fn batch_rows(&self, columns: usize) -> usize {
        let params = match self.backend {
            Backend::Sqlite => 480,
            Backend::Postgres => 8000,
        };
        (params / columns.max(1)).max(1)
    }

    /// Checks the database answers (for `/healthz`).
    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes every connection (graceful shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// `sqlite://` URL for a database file, created if missing.
pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

/// A URL with any password replaced, fit for messages.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _password)) => {
                    format!("{}{user}:[REDACTED]{}", &url[..scheme_end + 3], &url[at..])
                }
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// A timestamp as stored: RFC 3339 UTC with microseconds, e.g. `2025-01-02T03:04:05.000006Z`.
pub(crate) fn ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses a stored timestamp.
pub(crate) fn parse_ts(text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|error| StoreError::Corrupt(format!("bad timestamp {text:?}: {error}")))
}

/// Parses an optional stored timestamp.
pub(crate) fn parse_opt_ts(text: Option<String>) -> Result<Option<DateTime<Utc>>, StoreError> {
    text.as_deref().map(parse_ts).transpose()
}

/// A day as stored: `YYYY-MM-DD`.
pub(crate) fn day(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// Parses a stored day.
pub(crate) fn parse_day(text: &str) -> Result<NaiveDate, StoreError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|error| StoreError::Corrupt(format!("bad day {text:?}: {error}")))
}

/// A fresh random id: 32 lowercase hex characters.
pub fn new_id() -> String {
    use rand::RngCore;
    let mut buf = [0u8; 16];
    rand::rng().fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_in_urls() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:[REDACTED]@h/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite:///x.db"), "sqlite:///x.db");
    }

    #[test]
    fn timestamps_are_fixed_width_and_round_trip() {
        let at = DateTime::parse_from_rfc3339("2025-03-04T05:06:07Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(ts(at), "2025-03-04T05:06:07.000000Z");
        assert_eq!(parse_ts(&ts(at)).unwrap(), at);
    }
}
