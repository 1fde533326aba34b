//! The run loop: what `seatbroker-agent run` does until it is told to stop.
//!
//! One task per source collects on its schedule and spools each snapshot; one uplink task
//! polls the platform's status, uploads the spool of approved sources oldest first, and
//! sends a heartbeat. Everything waits on timers, notifications or the cancellation token:
//! an idle agent uses no CPU. On cancellation a collection in progress is abandoned (it was
//! not spooled), an upload in progress is abandoned (it is sent again next time; uploads are
//! idempotent), and the tasks end.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use seatbroker_protocol::{
    AgentState, Disposition, EnrollRequest, EnrollResponse, ErrorCode, Heartbeat, SourceDescriptor,
    SourceHealth, SourceState, UsagePolicy, version,
};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use crate::collector::{CollectError, Collector, encode_payload};
use crate::config::{Config, SecretError, SourceConfig};
use crate::scheduler;
use crate::spool::{Spool, SpoolError};
use crate::state::{AgentRecord, LastCollection, StateError, StateStore, random_hex_id};
use crate::uplink::retry::{Abandoned, RetryPolicy, retry};
use crate::uplink::upload::{Destination, Sent, UploadSettings, send_snapshot};
use crate::uplink::{Uplink, UplinkError};

/// Something the service did; sent to [`ServiceOptions::events`] for tests and tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The next collection of a source is due at `at`.
    Scheduled {
        source: String,
        at: DateTime<Utc>,
    },
    CollectionStarted {
        source: String,
    },
    Collected {
        source: String,
        sequence: u64,
    },
    CollectionFailed {
        source: String,
    },
    Uploaded {
        source: String,
        sequence: u64,
    },
    Dropped {
        source: String,
        sequence: u64,
    },
    SetAside {
        source: String,
        sequence: u64,
    },
    /// The source was rejected or revoked; it is no longer collected.
    SourceStopped {
        source: String,
    },
    /// The agent is revoked (or its credential unknown); uploads stop.
    Revoked,
    Enrolled {
        agent_id: String,
    },
    /// One pass of the uplink loop ended.
    RoundDone,
}

/// Knobs of the service that are not in the configuration file (tests shorten them).
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    pub upload: UploadSettings,
    /// Backoff of status requests.
    pub retry: RetryPolicy,
    /// Shortest wait between two uplink rounds, whatever the platform says.
    pub poll_floor: Duration,
    /// Wait between rounds when the platform gave no hint (not enrolled, unreachable).
    pub idle_poll: Duration,
    pub events: Option<mpsc::UnboundedSender<Event>>,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        Self {
            upload: UploadSettings::default(),
            retry: RetryPolicy::default(),
            poll_floor: Duration::from_secs(5),
            idle_poll: Duration::from_secs(300),
            events: None,
        }
    }
}

/// Why the service could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error(transparent)]
    Uplink(#[from] UplinkError),
}

/// Why an enrollment failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EnrollError {
    #[error(
        "no enrollment token is configured; set platform.enrollment_token_file (or _env, _credential) to the token created in the console"
    )]
    NoToken,
    #[error("cannot read the enrollment token: {0}")]
    Token(#[from] SecretError),
    #[error("cannot name the tenant for enrollment: {0}")]
    Tenant(#[from] CollectError),
    #[error("enrollment failed: {0}")]
    Uplink(#[from] UplinkError),
    #[error(transparent)]
    State(#[from] StateError),
}

/// The parts the service runs with.
#[derive(Debug)]
pub struct Service<C> {
    config: Arc<Config>,
    store: StateStore,
    spool: Arc<Spool>,
    uplink: Uplink,
    collector: Arc<C>,
    options: ServiceOptions,
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    /// Wakes the uplink loop when a snapshot was spooled.
    spooled: Notify,
    /// Serialises read-modify-write of `state.json` between tasks.
    state_lock: Mutex<()>,
    /// A policy the platform sent, used instead of the configured one.
    policy_override: Mutex<Option<UsagePolicy>>,
    /// The revocation was already announced (logged and emitted) by this process.
    revocation_announced: std::sync::atomic::AtomicBool,
}

impl<C> Clone for Service<C> {
    fn clone(&self) -> Self {
        Self {
            config: self.config.clone(),
            store: self.store.clone(),
            spool: self.spool.clone(),
            uplink: self.uplink.clone(),
            collector: self.collector.clone(),
            options: self.options.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<C: Collector> Service<C> {
    pub fn new(
        config: Config,
        store: StateStore,
        collector: C,
        options: ServiceOptions,
    ) -> Result<Self, ServiceError> {
        let spool = Spool::open(&store.spool_dir(), config.spool.max_bytes.0)?;
        let uplink = Uplink::new(&config.platform)?;
        Ok(Self {
            config: Arc::new(config),
            store,
            spool: Arc::new(spool),
            uplink,
            collector: Arc::new(collector),
            options,
            shared: Arc::default(),
        })
    }

    pub fn spool(&self) -> &Spool {
        &self.spool
    }

    fn emit(&self, event: Event) {
        if let Some(events) = &self.options.events {
            let _ = events.send(event);
        }
    }

    fn update_state<T>(&self, change: impl FnOnce(&mut AgentRecord) -> T) -> Result<T, StateError> {
        let _guard = self
            .shared
            .state_lock
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        self.store.update(change)
    }

    fn record_error(&self, message: String) {
        let now = Utc::now();
        if let Err(error) = self.update_state(|r| r.record_error(message, now)) {
            tracing::error!(%error, "Cannot record the last error in the state file.");
        }
    }

    /// Runs until `cancel` fires. Returns when every task has ended.
    pub async fn run(self, cancel: CancellationToken) -> Result<(), ServiceError> {
        let install_id = self.store.install_id()?;
        tracing::info!(
            version = env!("CARGO_PKG_VERSION"),
            install_id = %install_id,
            state_dir = %self.store.dir().display(),
            sources = self.config.sources.len(),
            "Seatbroker agent started."
        );
        let mut tasks = tokio::task::JoinSet::new();
        for index in 0..self.config.sources.len() {
            let service = self.clone();
            let cancel = cancel.clone();
            tasks.spawn(async move { service.collection_loop(index, cancel).await });
        }
        {
            let service = self.clone();
            let cancel = cancel.clone();
            tasks.spawn(async move { service.uplink_loop(cancel).await });
        }
        notify_systemd(SystemdState::Ready);
        notify_systemd(SystemdState::Status("running"));
        while let Some(joined) = tasks.join_next().await {
            if let Err(error) = joined
                && error.is_panic()
            {
                tracing::error!(%error, "A task of the agent panicked; stopping.");
                cancel.cancel();
            }
        }
        notify_systemd(SystemdState::Stopping);
        tracing::info!("Seatbroker agent stopped.");
        Ok(())
    }

    /// Collects one source on its schedule until cancelled.
    async fn collection_loop(&self, index: usize, cancel: CancellationToken) {
        let source = self.config.sources[index].clone();
        let interval = source.interval();
        let last_success = self.last_success(&source.name);
        let mut due = scheduler::first_due(last_success, interval, Utc::now());
        let mut failures = 0u32;
        let mut told_stopped = false;
        loop {
            self.set_next_collection(&source.name, due);
            self.emit(Event::Scheduled {
                source: source.name.clone(),
                at: due,
            });
            let wait = (due - Utc::now()).to_std().unwrap_or(Duration::ZERO);
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
            if self.source_refused(&source.name) {
                if !told_stopped {
                    tracing::warn!(source = %source.name, "The platform rejected or revoked this source; it is no longer collected. An administrator can approve it in the console.");
                    self.emit(Event::SourceStopped {
                        source: source.name.clone(),
                    });
                    told_stopped = true;
                }
                due = Utc::now() + chrono::Duration::from_std(interval).unwrap_or_default();
                continue;
            }
            told_stopped = false;
            self.emit(Event::CollectionStarted {
                source: source.name.clone(),
            });
            let result = tokio::select! {
                () = cancel.cancelled() => {
                    tracing::info!(source = %source.name, "Collection abandoned: the agent is stopping. Nothing was spooled; it runs again at the next start.");
                    return;
                }
                result = self.collect_once(&source) => result,
            };
            let now = Utc::now();
            match result {
                Ok(sequence) => {
                    failures = 0;
                    self.emit(Event::Collected {
                        source: source.name.clone(),
                        sequence,
                    });
                    self.shared.spooled.notify_one();
                    due = now
                        + chrono::Duration::from_std(scheduler::jittered(
                            interval,
                            source.jitter.0,
                            scheduler::random_unit(),
                        ))
                        .unwrap_or_default();
                }
                Err(error) => {
                    failures += 1;
                    let retry_in = scheduler::retry_after_failure(failures, interval);
                    tracing::error!(source = %source.name, %error, retry_in_secs = retry_in.as_secs(), "Collection failed; no snapshot was made. Retrying later.");
                    self.emit(Event::CollectionFailed {
                        source: source.name.clone(),
                    });
                    due = now + chrono::Duration::from_std(retry_in).unwrap_or_default();
                }
            }
        }
    }

    /// The newest of the state file's last success and the newest spooled snapshot.
    fn last_success(&self, source: &str) -> Option<DateTime<Utc>> {
        let from_state = self
            .store
            .load()
            .ok()
            .and_then(|r| r.sources.get(source).and_then(|s| s.last_success_at));
        let from_spool = self.spool.newest_collected_at(source).ok().flatten();
        from_state.max(from_spool)
    }

    fn set_next_collection(&self, source: &str, at: DateTime<Utc>) {
        let _ = self.update_state(|r| {
            r.sources
                .entry(source.to_owned())
                .or_default()
                .next_collection_at = Some(at);
        });
    }

    fn source_refused(&self, source: &str) -> bool {
        self.store
            .load()
            .ok()
            .and_then(|r| r.sources.get(source).map(|s| s.is_refused()))
            .unwrap_or(false)
    }

    /// Collects `source` once and spools the snapshot; records the result in the state
    /// file. Returns the snapshot's sequence number.
    pub async fn collect_once(&self, source: &SourceConfig) -> Result<u64, CollectError> {
        let policy = self
            .shared
            .policy_override
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or_else(|| source.policy.to_policy());
        let result = async {
            let payload = self.collector.collect(source, &policy).await?;
            let warning = crate::appsource::collection_warning(source, &payload);
            let content = encode_payload(&payload)?;
            let people = crate::appsource::records_in(&payload);
            let spooled = self
                .spool
                .write(
                    &source.name,
                    &random_hex_id(),
                    payload.collected_at,
                    &content,
                )
                .map_err(|e| CollectError::Other {
                    source_name: source.name.clone(),
                    message: e.to_string(),
                })?;
            Ok::<_, CollectError>((spooled.entry, people, warning))
        }
        .await;
        let now = Utc::now();
        let recorded = match &result {
            Ok((entry, people, warning)) => self.update_state(|r| {
                let record = r.sources.entry(source.name.clone()).or_default();
                record.last_collection = Some(LastCollection {
                    at: now,
                    succeeded: true,
                    people: *people,
                    error: None,
                    warning: warning.clone(),
                });
                record.last_success_at = Some(entry.collected_at.max(now));
            }),
            Err(error) => self.update_state(|r| {
                r.sources
                    .entry(source.name.clone())
                    .or_default()
                    .last_collection = Some(LastCollection {
                    at: now,
                    succeeded: false,
                    people: 0,
                    error: Some(error.to_string()),
                    warning: None,
                });
                r.record_error(error.to_string(), now);
            }),
        };
        if let Err(error) = recorded {
            tracing::error!(%error, "Cannot record the collection in the state file.");
        }
        // Said only once the state file knows of the collection: a process killed after
        // this line does not collect again at its next start.
        if let Ok((entry, people, _)) = &result {
            tracing::info!(
                source = %source.name,
                sequence = entry.sequence,
                snapshot_id = %entry.snapshot_id,
                people,
                bytes = entry.bytes,
                "Collected and spooled a snapshot."
            );
        }
        result.map(|(entry, _, _)| entry.sequence)
    }

    /// Talks to the platform until cancelled.
    async fn uplink_loop(&self, cancel: CancellationToken) {
        loop {
            let wait = self.round(&cancel).await;
            self.emit(Event::RoundDone);
            if cancel.is_cancelled() {
                return;
            }
            let status = self.spool.depth().map(|d| d.snapshots).unwrap_or(0);
            notify_systemd(SystemdState::Status(&format!(
                "{status} snapshot(s) spooled; next platform check in {}s",
                wait.as_secs()
            )));
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
                () = self.shared.spooled.notified() => {}
            }
        }
    }

    /// One pass: status, uploads, heartbeat. Returns how long to wait before the next.
    pub async fn round(&self, cancel: &CancellationToken) -> Duration {
        let idle = self.options.idle_poll;
        let credential = match self.store.credential() {
            Ok(Some(credential)) => credential,
            Ok(None) => match self.auto_enroll(cancel).await {
                Some(credential) => credential,
                None => return idle,
            },
            Err(error) => {
                tracing::error!(%error, "Cannot read the agent credential.");
                self.record_error(error.to_string());
                return idle;
            }
        };
        let status = retry(self.options.retry, cancel, "the status request", || {
            self.uplink.status(&credential)
        })
        .await;
        let status = match status {
            Ok(status) => status,
            Err(Abandoned::Cancelled) => return Duration::ZERO,
            Err(Abandoned::Failed(error)) => {
                if error.disposition() == Disposition::ReEnroll {
                    self.revoked(&error.to_string());
                } else {
                    tracing::error!(%error, "The platform refused the status request.");
                    self.record_error(error.to_string());
                }
                return idle;
            }
        };
        let now = Utc::now();
        let before = self.store.load().unwrap_or_default();
        let record = match self.update_state(|r| {
            r.apply_status(&status, now);
            r.clone()
        }) {
            Ok(record) => record,
            Err(error) => {
                tracing::error!(%error, "Cannot save the platform's status.");
                return idle;
            }
        };
        *self
            .shared
            .policy_override
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = status.policy.clone();
        self.log_transitions(&before, &record);
        let wait = scheduler::poll_delay(
            status.poll_after_secs,
            scheduler::random_unit(),
            self.options.poll_floor,
        );
        if record.is_revoked() {
            self.revoked(status.message.as_deref().unwrap_or("the agent was revoked"));
            return wait;
        }
        self.shared
            .revocation_announced
            .store(false, std::sync::atomic::Ordering::SeqCst);
        if record.is_approved()
            && let Some(done) = self.upload_all(&credential, &record, cancel).await
        {
            return done;
        }
        self.heartbeat(&credential).await;
        wait
    }

    /// Uploads every approved source's backlog. `Some(wait)` ends the round early.
    async fn upload_all(
        &self,
        credential: &seatbroker_protocol::Secret,
        record: &AgentRecord,
        cancel: &CancellationToken,
    ) -> Option<Duration> {
        for source in &self.config.sources {
            let Some(source_record) = record.sources.get(&source.name) else {
                continue;
            };
            if !source_record.accepts_uploads() {
                continue;
            }
            let source_id = source_record.source_id.clone().unwrap_or_default();
            let entries = match self.spool.pending(&source.name) {
                Ok(entries) => entries,
                Err(error) => {
                    tracing::error!(%error, "Cannot list the spool.");
                    continue;
                }
            };
            for entry in entries {
                let sent = send_snapshot(
                    &self.uplink,
                    credential,
                    &self.spool,
                    &entry,
                    Destination {
                        source_id: &source_id,
                        // Only application sources send licence sections.
                        deltas: record.accepts_licence_deltas && source.kind.is_app(),
                    },
                    self.options.upload,
                    cancel,
                )
                .await;
                let (name, sequence) = (entry.source.clone(), entry.sequence);
                match sent {
                    Sent::Applied => {
                        tracing::info!(source = %name, sequence, snapshot_id = %entry.snapshot_id, "Uploaded a snapshot; the platform applied it.");
                        let now = Utc::now();
                        let _ = self.update_state(|r| {
                            r.sources.entry(name.clone()).or_default().last_upload_at = Some(now);
                        });
                        self.emit(Event::Uploaded {
                            source: name,
                            sequence,
                        });
                    }
                    Sent::Dropped(error) => {
                        tracing::warn!(source = %name, sequence, %error, "The platform will never apply this snapshot; it was dropped from the spool.");
                        self.record_error(format!(
                            "snapshot {sequence} of source {name} was dropped: {error}"
                        ));
                        self.emit(Event::Dropped {
                            source: name,
                            sequence,
                        });
                    }
                    Sent::SetAside(error) => {
                        tracing::error!(source = %name, sequence, %error, "The platform refused this snapshot for good; it was moved to the spool's quarantine folder.");
                        self.record_error(error.to_string());
                        self.emit(Event::SetAside {
                            source: name,
                            sequence,
                        });
                    }
                    Sent::Unreadable(error) => {
                        tracing::warn!(source = %name, sequence, %error, "Skipped a spooled snapshot.");
                    }
                    Sent::Cancelled => return Some(Duration::ZERO),
                    Sent::Stopped(error) => match error.disposition() {
                        Disposition::WaitForApproval => {
                            tracing::info!(source = %name, %error, "Waiting for approval before uploading.");
                            break;
                        }
                        Disposition::StopSource => {
                            tracing::warn!(source = %name, %error, "The platform refuses this source's data; it is no longer collected or uploaded.");
                            let state = match error.code() {
                                Some(ErrorCode::SourceRevoked) => SourceState::Revoked,
                                _ => SourceState::Rejected,
                            };
                            let _ = self.update_state(|r| {
                                r.sources.entry(name.clone()).or_default().state = Some(state);
                            });
                            self.record_error(error.to_string());
                            break;
                        }
                        Disposition::ReEnroll => {
                            self.revoked(&error.to_string());
                            return Some(self.options.idle_poll);
                        }
                        _ => {
                            // One source's trouble must not hold back the others: go on
                            // with the next source, retry this one at the next round.
                            tracing::error!(source = %name, %error, "Uploads of this source paused until the next check.");
                            self.record_error(error.to_string());
                            break;
                        }
                    },
                }
            }
        }
        None
    }

    async fn heartbeat(&self, credential: &seatbroker_protocol::Secret) {
        let record = self.store.load().unwrap_or_default();
        let heartbeat = Heartbeat {
            agent_version: env!("CARGO_PKG_VERSION").to_owned(),
            sent_at: Utc::now(),
            sources: self
                .config
                .sources
                .iter()
                .map(|s| {
                    let r = record.sources.get(&s.name);
                    SourceHealth {
                        local_name: s.name.clone(),
                        last_collection: r
                            .and_then(|r| r.last_collection.as_ref())
                            .map(LastCollection::to_report),
                        next_collection_at: r.and_then(|r| r.next_collection_at),
                    }
                })
                .collect(),
            spool: self.spool.depth().unwrap_or_default(),
            last_error: record.last_error.clone(),
        };
        if let Err(error) = self.uplink.heartbeat(credential, &heartbeat).await {
            tracing::warn!(%error, "The heartbeat failed; the next round sends another.");
        }
    }

    fn revoked(&self, why: &str) {
        let recorded = self.update_state(|r| {
            r.agent_state = Some(AgentState::Revoked);
            r.record_error(
                format!("{why}; run `seatbroker-agent enroll` to enroll again (the spool is kept)"),
                Utc::now(),
            );
        });
        if let Err(error) = recorded {
            tracing::error!(%error, "Cannot record the revocation in the state file.");
        }
        let announced = self
            .shared
            .revocation_announced
            .swap(true, std::sync::atomic::Ordering::SeqCst);
        if !announced {
            tracing::error!(reason = %why, "The platform no longer accepts this agent. Uploads stopped; the spool is kept. Run `seatbroker-agent enroll` with a new enrollment token.");
            self.emit(Event::Revoked);
        }
    }

    fn log_transitions(&self, before: &AgentRecord, after: &AgentRecord) {
        if before.agent_state != after.agent_state {
            tracing::info!(
                state = after
                    .agent_state
                    .as_ref()
                    .map_or("unknown", AgentState::as_str),
                "The agent's approval state changed."
            );
        }
        for (name, source) in &after.sources {
            let old = before.sources.get(name).and_then(|s| s.state.as_ref());
            if old != source.state.as_ref() {
                tracing::info!(source = %name, state = source.state.as_ref().map_or("unknown", SourceState::as_str), "A source's approval state changed.");
            }
        }
    }

    /// Enrolls on its own when an enrollment token is configured and the agent has no
    /// credential yet.
    async fn auto_enroll(&self, cancel: &CancellationToken) -> Option<seatbroker_protocol::Secret> {
        if self.config.platform.enrollment_token().is_none() {
            let message = "this agent is not enrolled and no enrollment token is configured; run `seatbroker-agent enroll`".to_owned();
            tracing::warn!("{message}");
            self.record_error(message);
            return None;
        }
        let result = tokio::select! {
            () = cancel.cancelled() => return None,
            result = enroll(&self.config, &self.store, &self.uplink, &*self.collector) => result,
        };
        match result {
            Ok(response) => {
                self.emit(Event::Enrolled {
                    agent_id: response.agent_id.clone(),
                });
                Some(response.agent_credential)
            }
            Err(error) => {
                tracing::error!(%error, "Enrollment failed; collections continue and are spooled.");
                self.record_error(error.to_string());
                None
            }
        }
    }
}

/// Enrolls the agent: reads the enrollment token, names each source's tenant, calls the
/// platform, and stores the new credential and state. Keeps the install id and the spool.
pub(crate) async fn enroll<C: Collector>(
    config: &Config,
    store: &StateStore,
    uplink: &Uplink,
    collector: &C,
) -> Result<EnrollResponse, EnrollError> {
    let token = config
        .platform
        .enrollment_token()
        .ok_or(EnrollError::NoToken)?
        .resolve()?;
    let mut sources = Vec::new();
    for source in &config.sources {
        let tenant = collector.tenant(source).await?;
        sources.push(SourceDescriptor {
            local_name: source.name.clone(),
            kind: tenant.kind,
            tenant_id: tenant.id,
            tenant_name: tenant.name,
            interval_secs: source.interval().as_secs(),
        });
    }
    let request = EnrollRequest {
        protocol_version: version::CURRENT,
        enrollment_token: token,
        install_id: store.install_id()?,
        host_name: host_name(),
        agent_version: env!("CARGO_PKG_VERSION").to_owned(),
        os: std::env::consts::OS.to_owned(),
        sources,
    };
    let response = uplink.enroll(&request).await?;
    store.store_credential(&response.agent_credential)?;
    let now = Utc::now();
    store.update(|r| r.apply_enrollment(&response, now))?;
    tracing::info!(agent_id = %response.agent_id, state = %response.state, "Enrolled with the platform; an administrator must approve the agent and its sources in the console.");
    Ok(response)
}

/// This machine's name, for the console.
pub(crate) fn host_name() -> String {
    for var in ["HOSTNAME", "COMPUTERNAME"] {
        if let Ok(name) = std::env::var(var)
            && !name.trim().is_empty()
        {
            return name.trim().to_owned();
        }
    }
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// What the agent tells systemd (`sd_notify`); there is no systemd off Unix.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(unix), allow(dead_code))]
enum SystemdState<'a> {
    Ready,
    Status(&'a str),
    Stopping,
}

#[cfg(unix)]
fn notify_systemd(state: SystemdState<'_>) {
    let state = match state {
        SystemdState::Ready => sd_notify::NotifyState::Ready,
        SystemdState::Status(status) => sd_notify::NotifyState::Status(status),
        SystemdState::Stopping => sd_notify::NotifyState::Stopping,
    };
    if std::env::var_os("NOTIFY_SOCKET").is_some()
        && let Err(error) = sd_notify::notify(&[state])
    {
        tracing::debug!(%error, "Cannot notify systemd.");
    }
}

#[cfg(not(unix))]
fn notify_systemd(_state: SystemdState<'_>) {}
