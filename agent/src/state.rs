//! What the agent remembers between runs, in the state directory:
//!
//! - `install_id`: random, created once, sent with every enrollment;
//! - `credential`: the agent credential from the last enrollment (mode 0600);
//! - `state.json`: agent id, last known approval state of the agent and of each source,
//!   the last collection of each source, the last error.
//!
//! Every file is written atomically (temporary file, fsync, rename), so a crash leaves the
//! old or the new version, never a mix.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rand::RngCore;
use seatbroker_protocol::{
    AgentState, CollectionOutcome, CollectionReport, EnrollResponse, Secret, SourceState,
    StatusResponse,
};
use serde::{Deserialize, Serialize};

/// A state file that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot {action} {}: {source}; check that the agent may write its state directory", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the state file {} is damaged ({message}); move it away and run `seatbroker-agent enroll` again", path.display())]
    Damaged { path: PathBuf, message: String },
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StateError {
    let path = path.to_owned();
    move |source| StateError::Io {
        action,
        path,
        source,
    }
}

/// The state directory.
#[derive(Debug, Clone)]
pub struct StateStore {
    dir: PathBuf,
}

/// The contents of `state.json`. Internal: not a wire type, but the approval states are
/// the protocol's enums, which write the same strings the platform sends, so a state file
/// keeps loading across versions (an unknown state is kept as `Other`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentRecord {
    pub agent_id: Option<String>,
    pub enrolled_at: Option<DateTime<Utc>>,
    /// The agent's approval state as the platform last said, or `None` before enrollment.
    pub agent_state: Option<AgentState>,
    /// The platform's note about the agent (e.g. why it was revoked).
    pub agent_message: Option<String>,
    /// When the platform last answered a status request.
    pub status_at: Option<DateTime<Utc>>,
    /// Whether the platform's last status said it applies licence deltas.
    pub accepts_licence_deltas: bool,
    pub sources: BTreeMap<String, SourceRecord>,
    /// The most recent error, in words, and when it happened.
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
}

/// What the agent knows about one of its sources.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SourceRecord {
    /// The platform's id uploads name (the target's id for a merged source).
    pub source_id: Option<String>,
    /// The source's approval state as the platform last said.
    pub state: Option<SourceState>,
    pub message: Option<String>,
    pub last_collection: Option<LastCollection>,
    /// When the last successful collection finished: the schedule counts from it.
    pub last_success_at: Option<DateTime<Utc>>,
    pub next_collection_at: Option<DateTime<Utc>>,
    pub last_upload_at: Option<DateTime<Utc>>,
}

/// The result of the last collection of a source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastCollection {
    pub at: DateTime<Utc>,
    pub succeeded: bool,
    pub people: u64,
    pub error: Option<String>,
    /// A succeeded collection whose numbers a person should not trust as they are, such as
    /// one made with a token that cannot read private data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

impl LastCollection {
    pub fn to_report(&self) -> CollectionReport {
        CollectionReport {
            at: self.at,
            outcome: if self.succeeded {
                CollectionOutcome::Succeeded
            } else {
                CollectionOutcome::Failed
            },
            people: self.people,
            error: self.error.clone(),
        }
    }
}

impl SourceRecord {
    /// Uploads may go to the platform for this source.
    pub fn accepts_uploads(&self) -> bool {
        matches!(
            self.state,
            Some(SourceState::Approved | SourceState::Merged)
        ) && self.source_id.is_some()
    }

    /// The platform will never take this source's data: stop collecting it.
    pub fn is_refused(&self) -> bool {
        matches!(
            self.state,
            Some(SourceState::Rejected | SourceState::Revoked)
        )
    }
}

impl AgentRecord {
    /// Takes in a status answer from the platform.
    pub fn apply_status(&mut self, status: &StatusResponse, now: DateTime<Utc>) {
        self.agent_id = Some(status.agent_id.clone());
        self.agent_state = Some(status.state.clone());
        self.agent_message = status.message.clone();
        self.status_at = Some(now);
        self.accepts_licence_deltas = status.accepts_licence_deltas;
        for source in &status.sources {
            let record = self.sources.entry(source.local_name.clone()).or_default();
            record.source_id = Some(source.source_id.clone());
            record.state = Some(source.state.clone());
            record.message = source.message.clone();
            if source.state == SourceState::Merged
                && let Some(target) = &source.merged_into
            {
                record.source_id = Some(target.clone());
            }
        }
    }

    /// Takes in the platform's answer to an enrollment: a new agent id and state, no
    /// error; the sources it names get their new id and state, the others keep theirs.
    pub fn apply_enrollment(&mut self, response: &EnrollResponse, now: DateTime<Utc>) {
        self.agent_id = Some(response.agent_id.clone());
        self.enrolled_at = Some(now);
        self.agent_state = Some(response.state.clone());
        self.agent_message = None;
        self.last_error = None;
        self.last_error_at = None;
        for source in &response.sources {
            let record = self.sources.entry(source.local_name.clone()).or_default();
            record.source_id = Some(source.source_id.clone());
            record.state = Some(source.state.clone());
            record.message = source.message.clone();
        }
    }

    pub fn is_approved(&self) -> bool {
        self.agent_state == Some(AgentState::Approved)
    }

    pub fn is_revoked(&self) -> bool {
        self.agent_state == Some(AgentState::Revoked)
    }

    pub fn record_error(&mut self, error: impl Into<String>, now: DateTime<Utc>) {
        self.last_error = Some(error.into());
        self.last_error_at = Some(now);
    }
}

impl StateStore {
    /// Opens the state directory, creating it (mode 0700 on Unix) if needed.
    pub fn open(dir: &Path) -> Result<Self, StateError> {
        fs::create_dir_all(dir).map_err(io("create", dir))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
        }
        remove_stale_temp_files(dir);
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn spool_dir(&self) -> PathBuf {
        spool_dir(&self.dir)
    }

    /// The install id, created (random, 32 hex characters) on first use.
    pub fn install_id(&self) -> Result<String, StateError> {
        let path = self.dir.join("install_id");
        match fs::read_to_string(&path) {
            Ok(text) if seatbroker_protocol::is_valid_id(text.trim()) => {
                return Ok(text.trim().to_owned());
            }
            Ok(_) => {
                return Err(StateError::Damaged {
                    path,
                    message: "not a valid install id".into(),
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("read", &path)(e)),
        }
        let id = random_hex_id();
        self.write("install_id", id.as_bytes(), false)?;
        Ok(id)
    }

    /// The agent credential, if the agent has enrolled.
    pub fn credential(&self) -> Result<Option<Secret>, StateError> {
        let path = self.dir.join("credential");
        match fs::read_to_string(&path) {
            Ok(text) if !text.trim().is_empty() => Ok(Some(Secret::new(text.trim()))),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("read", &path)(e)),
        }
    }

    /// Stores a new credential, readable only by the agent's user.
    pub fn store_credential(&self, credential: &Secret) -> Result<(), StateError> {
        self.write("credential", credential.expose().as_bytes(), true)
    }

    /// `state.json`, or an empty record before the first run.
    pub fn load(&self) -> Result<AgentRecord, StateError> {
        let path = self.dir.join("state.json");
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| StateError::Damaged {
                path,
                message: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(AgentRecord::default()),
            Err(e) => Err(io("read", &path)(e)),
        }
    }

    pub fn save(&self, record: &AgentRecord) -> Result<(), StateError> {
        let json = serde_json::to_vec_pretty(record).map_err(|e| StateError::Damaged {
            path: self.dir.join("state.json"),
            message: e.to_string(),
        })?;
        self.write("state.json", &json, false)
    }

    /// Loads, changes and saves `state.json`.
    pub fn update<T>(&self, change: impl FnOnce(&mut AgentRecord) -> T) -> Result<T, StateError> {
        let mut record = self.load()?;
        let result = change(&mut record);
        self.save(&record)?;
        Ok(result)
    }

    fn write(&self, name: &str, bytes: &[u8], private: bool) -> Result<(), StateError> {
        use std::io::Write;
        // A name of its own per write: two writers (the service and a `status` or `collect`
        // run by hand) must never rename each other's half-written file into place.
        let tmp = self.dir.join(format!(
            ".tmp-{name}.{}.{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        let target = self.dir.join(name);
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(if private { 0o600 } else { 0o644 });
        }
        #[cfg(not(unix))]
        let _ = private;
        let mut file = options.open(&tmp).map_err(io("create", &tmp))?;
        let written = file
            .write_all(bytes)
            .map_err(io("write", &tmp))
            .and_then(|()| file.sync_all().map_err(io("sync", &tmp)))
            .and_then(|()| {
                drop(file);
                fs::rename(&tmp, &target).map_err(io("rename", &tmp))
            });
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written?;
        #[cfg(unix)]
        {
            fs::File::open(&self.dir)
                .and_then(|d| d.sync_all())
                .map_err(io("sync", &self.dir))?;
        }
        Ok(())
    }
}

/// The spool's folder inside the state directory `state_dir`.
pub(crate) fn spool_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("spool")
}

/// 32 random lowercase hex characters (128 bits): install and snapshot ids.
pub(crate) fn random_hex_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Deletes temporary files a crash left behind. Only files older than ten minutes: a younger
/// one may belong to another process writing right now.
fn remove_stale_temp_files(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let cutoff = std::time::SystemTime::now() - std::time::Duration::from_secs(600);
    for entry in entries.flatten() {
        let stale = entry.file_name().to_string_lossy().starts_with(".tmp-")
            && entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|modified| modified < cutoff);
        if stale {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `state.json` as agents wrote it when the states were stored as plain strings.
    const EARLIER_STATE_JSON: &str = r#"{
  "agent_id": "agent1",
  "enrolled_at": "2026-01-05T09:00:00Z",
  "agent_state": "approved",
  "agent_message": null,
  "status_at": "2026-01-06T09:00:00Z",
  "sources": {
    "acme": {
      "source_id": "src_9",
      "state": "merged",
      "message": null,
      "last_collection": {
        "at": "2026-01-06T08:00:00Z",
        "succeeded": true,
        "people": 120,
        "error": null
      },
      "last_success_at": "2026-01-06T08:00:00Z",
      "next_collection_at": "2026-01-06T14:00:00Z",
      "last_upload_at": null
    },
    "beta": { "source_id": "src_2", "state": "revoked" },
    "gamma": { "source_id": "src_3", "state": "frozen" }
  },
  "last_error": null,
  "last_error_at": null
}"#;

    #[test]
    fn an_earlier_state_file_loads_into_the_typed_states_and_saves_the_same_strings() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("state.json"), EARLIER_STATE_JSON).unwrap();
        let store = StateStore::open(dir.path()).unwrap();
        let record = store.load().unwrap();
        assert_eq!(record.agent_state, Some(AgentState::Approved));
        assert!(record.is_approved());
        let state = |name: &str| record.sources[name].state.clone();
        assert_eq!(state("acme"), Some(SourceState::Merged));
        assert!(record.sources["acme"].accepts_uploads());
        assert_eq!(state("beta"), Some(SourceState::Revoked));
        assert!(record.sources["beta"].is_refused());
        // A state a later platform invented is kept as it was written, never guessed.
        assert_eq!(state("gamma"), Some(SourceState::Other("frozen".into())));
        assert!(
            !record.sources["gamma"].accepts_uploads() && !record.sources["gamma"].is_refused()
        );

        store.save(&record).unwrap();
        let saved: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("state.json")).unwrap()).unwrap();
        assert_eq!(saved["agent_state"], "approved");
        assert_eq!(saved["sources"]["acme"]["state"], "merged");
        assert_eq!(saved["sources"]["gamma"]["state"], "frozen");
        assert_eq!(store.load().unwrap(), record);
    }
}
