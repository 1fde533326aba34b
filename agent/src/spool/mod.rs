//! The durable outbox. Every snapshot is on disk, synced, before anything is sent; it leaves
//! the spool only when the platform has acknowledged it (or when the spool is full and a
//! newer snapshot of the same source exists).
//!
//! Layout of `state_dir/spool/`:
//! - `SOURCE.SEQUENCE.COLLECTED_MS.SNAPSHOT_ID.snap`: one snapshot (see [`format`]);
//! - `.tmp-*`: a snapshot being written; a leftover one is from a crash and is deleted;
//! - `seq/SOURCE`: the last sequence number handed out for the source; `seq/.lock` serialises
//!   writers across processes;
//! - `quarantine/`: files that could not be read or were refused for good, kept for a person;
//! - `base/SOURCE.json`: what the platform last applied of an app source, for deltas
//!   ([`base`]).
//!
//! The spool keeps no index in memory: every call lists the directory, so several
//! processes (the service and a one-shot `collect`) see the same truth, and a crash at any
//! point leaves nothing to repair but a temporary file.

mod base;
mod format;

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, TimeZone, Utc};
use seatbroker_protocol::SpoolDepth;

pub(crate) use base::Base;
use format::Header;

/// The sub-folder of the spool that holds files set aside.
const QUARANTINE: &str = "quarantine";

/// One snapshot waiting in the spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolEntry {
    pub source: String,
    pub sequence: u64,
    pub snapshot_id: String,
    pub collected_at: DateTime<Utc>,
    /// Size of the file.
    pub bytes: u64,
    pub path: PathBuf,
}

/// The result of spooling a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spooled {
    pub entry: SpoolEntry,
    /// Older snapshots dropped to stay within the size limit.
    pub dropped: Vec<SpoolEntry>,
}

/// A spool operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("cannot {action} {}: {source}; check the disk and the permissions of the state directory", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the spooled snapshot {} is damaged ({reason}); it was moved to {}", path.display(), quarantined_to.display())]
    Corrupt {
        path: PathBuf,
        quarantined_to: PathBuf,
        reason: String,
    },
    #[error("the spooled snapshot {} is gone (sent or purged meanwhile)", path.display())]
    Missing { path: PathBuf },
    #[error("`{0}` is not a valid source or snapshot id")]
    InvalidId(String),
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError {
    let path = path.to_owned();
    move |source| SpoolError::Io {
        action,
        path,
        source,
    }
}

/// The spool directory.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    /// Serialises sequence reservation and size enforcement within this process.
    write_lock: Mutex<()>,
}

impl Spool {
    /// Opens (creating if needed) the spool in `dir`: deletes temporary files left by a
    /// crash and sets aside files whose names it does not recognise.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Self, SpoolError> {
        for sub in [
            dir.to_owned(),
            dir.join("seq"),
            dir.join(QUARANTINE),
            dir.join(base::BASE),
        ] {
            fs::create_dir_all(&sub).map_err(io("create", &sub))?;
        }
        let spool = Self {
            dir: dir.to_owned(),
            max_bytes,
            write_lock: Mutex::new(()),
        };
        // Writers hold this lock from temp file to rename, so a temp file seen while holding
        // it is a leftover of a crash, never another process's write in progress (`status`,
        // `spool list` and a one-shot `collect` open the spool while the service runs).
        let _file_lock = spool.lock_across_processes()?;
        for item in fs::read_dir(dir).map_err(io("list", dir))? {
            let item = item.map_err(io("list", dir))?;
            let path = item.path();
            let name = item.file_name().to_string_lossy().into_owned();
            if item.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                continue;
            }
            if name.starts_with(format::TMP_PREFIX) {
                tracing::info!(path = %path.display(), "Removing a snapshot left half-written by an earlier stop.");
                fs::remove_file(&path).map_err(io("remove", &path))?;
            } else if format::parse_name(&name).is_none() {
                let to = spool.move_to_quarantine(&path)?;
                tracing::warn!(path = %path.display(), moved_to = %to.display(), "Set aside a file the spool does not recognise.");
            }
        }
        Ok(spool)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Where damaged or refused files are set aside.
    pub fn quarantine_dir(&self) -> PathBuf {
        self.dir.join(QUARANTINE)
    }

    /// Every spooled snapshot, by source and then sequence (oldest first).
    pub fn entries(&self) -> Result<Vec<SpoolEntry>, SpoolError> {
        let mut entries = Vec::new();
        for item in fs::read_dir(&self.dir).map_err(io("list", &self.dir))? {
            let item = item.map_err(io("list", &self.dir))?;
            let name = item.file_name().to_string_lossy().into_owned();
            let Some(parts) = format::parse_name(&name) else {
                continue;
            };
            let bytes = match item.metadata() {
                Ok(meta) => meta.len(),
                // Acknowledged by another task between listing and stat.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io("inspect", &item.path())(e)),
            };
            entries.push(SpoolEntry {
                source: parts.source,
                sequence: parts.sequence,
                snapshot_id: parts.snapshot_id,
                collected_at: Utc
                    .timestamp_millis_opt(parts.collected_ms)
                    .single()
                    .unwrap_or_default(),
                bytes,
                path: item.path(),
            });
        }
        entries.sort_by(|a, b| (&a.source, a.sequence).cmp(&(&b.source, b.sequence)));
        Ok(entries)
    }

    /// The snapshots of `source`, oldest first.
    pub fn pending(&self, source: &str) -> Result<Vec<SpoolEntry>, SpoolError> {
        Ok(self
            .entries()?
            .into_iter()
            .filter(|e| e.source == source)
            .collect())
    }

    /// Count and size of everything spooled.
    pub fn depth(&self) -> Result<SpoolDepth, SpoolError> {
        let entries = self.entries()?;
        Ok(SpoolDepth {
            snapshots: entries.len() as u64,
            bytes: entries.iter().map(|e| e.bytes).sum(),
        })
    }

    /// When the newest spooled snapshot of `source` was collected.
    pub fn newest_collected_at(&self, source: &str) -> Result<Option<DateTime<Utc>>, SpoolError> {
        Ok(self.pending(source)?.last().map(|e| e.collected_at))
    }

    /// Writes a snapshot durably: a temporary file, fsync, rename, fsync of the directory.
    /// Assigns the next sequence number of the source. Then drops old snapshots if the
    /// spool is over its limit.
    pub fn write(
        &self,
        source: &str,
        snapshot_id: &str,
        collected_at: DateTime<Utc>,
        content: &[u8],
    ) -> Result<Spooled, SpoolError> {
        let _guard = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        // Another process (a one-shot `collect` next to the service) may write too.
        let _file_lock = self.lock_across_processes()?;
        let header = self.header(source, snapshot_id, collected_at, content)?;
        let name = format::file_name(&header);
        let path = self.dir.join(&name);
        write_atomically(&self.dir, &name, &format::encode(&header, content))?;
        let entry = SpoolEntry {
            source: header.source,
            sequence: header.sequence,
            snapshot_id: header.snapshot_id,
            collected_at: Utc
                .timestamp_millis_opt(collected_at.timestamp_millis().max(0))
                .single()
                .unwrap_or_default(),
            bytes: fs::metadata(&path).map_err(io("inspect", &path))?.len(),
            path,
        };
        let dropped = self.enforce_limit()?;
        Ok(Spooled { entry, dropped })
    }

    /// An exclusive lock on `seq/.lock`, held until the returned file is dropped.
    fn lock_across_processes(&self) -> Result<File, SpoolError> {
        let path = self.dir.join("seq").join(".lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io("open", &path))?;
        file.lock().map_err(io("lock", &path))?;
        Ok(file)
    }

    /// Reserves a sequence number and builds the header; persists the reservation first, so
    /// a crash can leave a gap but never reuse a number.
    fn header(
        &self,
        source: &str,
        snapshot_id: &str,
        collected_at: DateTime<Utc>,
        content: &[u8],
    ) -> Result<Header, SpoolError> {
        for id in [source, snapshot_id] {
            if !seatbroker_protocol::is_valid_id(id) {
                return Err(SpoolError::InvalidId(id.to_owned()));
            }
        }
        let sequence = self.reserve_sequence(source)?;
        Ok(Header {
            source: source.to_owned(),
            sequence,
            snapshot_id: snapshot_id.to_owned(),
            collected_at,
            content_len: content.len() as u64,
            content_sha256: seatbroker_protocol::checksum(content),
        })
    }

    fn reserve_sequence(&self, source: &str) -> Result<u64, SpoolError> {
        let seq_dir = self.dir.join("seq");
        let seq_path = seq_dir.join(source);
        let stored = match fs::read_to_string(&seq_path) {
            Ok(text) => text.trim().parse::<u64>().unwrap_or(0),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(io("read", &seq_path)(e)),
        };
        let spooled = self.pending(source)?.last().map_or(0, |e| e.sequence);
        let next = stored.max(spooled) + 1;
        write_atomically(&seq_dir, source, next.to_string().as_bytes())?;
        Ok(next)
    }

    /// Test support: what a crash in the middle of [`Spool::write`] leaves behind (a
    /// reserved sequence number and a half-written temporary file).
    #[doc(hidden)]
    pub fn write_torn(
        &self,
        source: &str,
        snapshot_id: &str,
        content: &[u8],
    ) -> Result<(), SpoolError> {
        let header = self.header(source, snapshot_id, Utc::now(), content)?;
        let bytes = format::encode(&header, content);
        let tmp = self.dir.join(format!(
            "{}{}",
            format::TMP_PREFIX,
            format::file_name(&header)
        ));
        fs::write(&tmp, &bytes[..bytes.len() / 2]).map_err(io("write", &tmp))
    }

    /// Drops the oldest snapshot of a source that has a newer one until the spool fits.
    fn enforce_limit(&self) -> Result<Vec<SpoolEntry>, SpoolError> {
        let mut dropped = Vec::new();
        loop {
            let entries = self.entries()?;
            let total: u64 = entries.iter().map(|e| e.bytes).sum();
            if total <= self.max_bytes {
                break;
            }
            let newest_of = |source: &str| {
                entries
                    .iter()
                    .filter(|e| e.source == source)
                    .map(|e| e.sequence)
                    .max()
            };
            let victim = entries
                .iter()
                .filter(|e| newest_of(&e.source) != Some(e.sequence))
                .min_by_key(|e| (e.collected_at, e.sequence, e.source.clone()));
            let Some(victim) = victim else {
                tracing::warn!(
                    bytes = total,
                    limit = self.max_bytes,
                    "The spool is over its size limit, but it holds only the newest snapshot of each source, which it keeps."
                );
                break;
            };
            self.remove(victim)?;
            tracing::warn!(
                source = %victim.source,
                sequence = victim.sequence,
                snapshot_id = %victim.snapshot_id,
                collected_at = %victim.collected_at,
                limit = self.max_bytes,
                "The spool is full: dropped an old snapshot that a newer one of the same source replaces. Approve the source in the console, or raise spool.max_bytes."
            );
            dropped.push(victim.clone());
        }
        Ok(dropped)
    }

    /// Reads and checks a snapshot's content. A damaged file is moved to quarantine and
    /// reported as [`SpoolError::Corrupt`].
    pub fn read(&self, entry: &SpoolEntry) -> Result<Vec<u8>, SpoolError> {
        let bytes = match fs::read(&entry.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SpoolError::Missing {
                    path: entry.path.clone(),
                });
            }
            Err(e) => return Err(io("read", &entry.path)(e)),
        };
        let checked = format::decode(&bytes).and_then(|(header, content)| {
            if header.source != entry.source
                || header.sequence != entry.sequence
                || header.snapshot_id != entry.snapshot_id
            {
                Err("the header does not match the file name".to_owned())
            } else {
                Ok(content.to_vec())
            }
        });
        match checked {
            Ok(content) => Ok(content),
            Err(reason) => {
                let quarantined_to = self.move_to_quarantine(&entry.path)?;
                tracing::error!(path = %entry.path.display(), %reason, moved_to = %quarantined_to.display(), "A spooled snapshot is damaged; it was set aside and will not be sent.");
                Err(SpoolError::Corrupt {
                    path: entry.path.clone(),
                    quarantined_to,
                    reason,
                })
            }
        }
    }

    /// The platform has the snapshot: delete it. Deleting one already gone is fine.
    pub fn ack(&self, entry: &SpoolEntry) -> Result<(), SpoolError> {
        self.remove(entry)
    }

    fn remove(&self, entry: &SpoolEntry) -> Result<(), SpoolError> {
        match fs::remove_file(&entry.path) {
            Ok(()) => sync_dir(&self.dir),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("remove", &entry.path)(e)),
        }
    }

    /// Sets a snapshot aside for a person to look at; it is no longer sent.
    pub fn quarantine(&self, entry: &SpoolEntry) -> Result<PathBuf, SpoolError> {
        self.move_to_quarantine(&entry.path)
    }

    fn move_to_quarantine(&self, path: &Path) -> Result<PathBuf, SpoolError> {
        let dir = self.quarantine_dir();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut target = dir.join(&name);
        let mut n = 1;
        while target.exists() {
            target = dir.join(format!("{name}.{n}"));
            n += 1;
        }
        match fs::rename(path, &target) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SpoolError::Missing {
                    path: path.to_owned(),
                });
            }
            Err(e) => return Err(io("move aside", path)(e)),
        }
        sync_dir(&self.dir)?;
        sync_dir(&dir)?;
        Ok(target)
    }

    /// Files set aside in quarantine.
    pub fn quarantined(&self) -> Result<Vec<PathBuf>, SpoolError> {
        let dir = self.quarantine_dir();
        let mut files: Vec<PathBuf> = fs::read_dir(&dir)
            .map_err(io("list", &dir))?
            .filter_map(|item| item.ok().map(|i| i.path()))
            .collect();
        files.sort();
        Ok(files)
    }

    /// Deletes every spooled snapshot of `source`; returns how many.
    pub fn purge(&self, source: &str) -> Result<usize, SpoolError> {
        let entries = self.pending(source)?;
        for entry in &entries {
            self.remove(entry)?;
        }
        Ok(entries.len())
    }
}

/// Writes `dir/name` so that it either exists whole or not at all.
pub(crate) fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), SpoolError> {
    let tmp = dir.join(format!("{}{name}", format::TMP_PREFIX));
    let target = dir.join(name);
    let mut file = File::create(&tmp).map_err(io("create", &tmp))?;
    file.write_all(bytes).map_err(io("write", &tmp))?;
    file.sync_all().map_err(io("sync", &tmp))?;
    drop(file);
    fs::rename(&tmp, &target).map_err(io("rename", &tmp))?;
    sync_dir(dir)
}

/// Makes a rename or delete in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io("sync", dir))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}
