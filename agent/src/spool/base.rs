//! The base of licence deltas: for each app source, what the agent knows the platform holds
//! (the last snapshot it applied from this agent, as marks per account), so the next
//! snapshot can go as a delta against it (protocol: `LicenceDelta`).
//!
//! One file per source, `state_dir/spool/base/SOURCE.json`, replaced atomically after the
//! platform acknowledged a snapshot as applied. It is only an optimisation: a missing,
//! damaged or outdated base means the next snapshot goes whole (the platform refuses a
//! delta whose base it does not hold, with `base_mismatch`, and nothing is lost).

use std::fs;
use std::path::PathBuf;

use seatbroker_protocol::AccountMarks;
use serde::{Deserialize, Serialize};

use super::{Spool, SpoolError, io, write_atomically};

/// The sub-folder of the spool that holds the bases.
pub(super) const BASE: &str = "base";

/// What the platform holds of one source, as far as this agent knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Base {
    /// The snapshot the platform applied last (from this agent).
    pub snapshot_id: String,
    /// The platform's source it was applied to: a base is used only for uploads to it.
    pub source_id: String,
    pub accounts: AccountMarks,
}

impl Spool {
    fn base_path(&self, source: &str) -> PathBuf {
        self.dir.join(BASE).join(format!("{source}.json"))
    }

    /// The base of `source`, if there is a readable one. A damaged file is removed (the
    /// next snapshot then goes whole).
    pub fn base(&self, source: &str) -> Option<Base> {
        let path = self.base_path(source);
        let text = match fs::read(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return None,
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "Cannot read the delta base; the next snapshot goes whole.");
                return None;
            }
        };
        match serde_json::from_slice(&text) {
            Ok(base) => Some(base),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "The delta base is damaged and was removed; the next snapshot goes whole.");
                let _ = fs::remove_file(&path);
                None
            }
        }
    }

    /// Makes `base` the base of `source` (after the platform applied its snapshot).
    pub fn keep_base(&self, source: &str, base: &Base) -> Result<(), SpoolError> {
        if !seatbroker_protocol::is_valid_id(source) {
            return Err(SpoolError::InvalidId(source.to_owned()));
        }
        let dir = self.dir.join(BASE);
        let bytes = serde_json::to_vec(base).map_err(|error| SpoolError::Io {
            action: "serialize",
            path: self.base_path(source),
            source: std::io::Error::other(error),
        })?;
        write_atomically(&dir, &format!("{source}.json"), &bytes)
    }

    /// Forgets the base of `source` (the platform refused a delta against it).
    pub fn forget_base(&self, source: &str) -> Result<(), SpoolError> {
        let path = self.base_path(source);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(io("remove", &path)(error)),
        }
    }
}
