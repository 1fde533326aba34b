//! Sending one spooled snapshot: read and check it, cut it into parts, PUT each part with
//! retries, and delete it from the spool once the platform says it is applied. Re-sending
//! is always safe: the platform answers `already_have` for parts it holds.

use seatbroker_protocol::{Disposition, EncodedSnapshot, ErrorCode, Secret, limits};
use tokio_util::sync::CancellationToken;

use super::retry::{Abandoned, RetryPolicy, retry};
use super::{Uplink, UplinkError};
use crate::spool::{Spool, SpoolEntry, SpoolError};

/// What became of one snapshot.
#[derive(Debug)]
pub(crate) enum Sent {
    /// The platform applied it (now or earlier); it left the spool.
    Applied,
    /// The platform will never apply it (`stale_sequence`, `snapshot_conflict`,
    /// `payload_invalid`): dropped from the spool.
    Dropped(UplinkError),
    /// Refused for good for a reason of this snapshot (too large...): set aside in the
    /// spool's quarantine for a person.
    SetAside(UplinkError),
    /// The spool file was damaged (already quarantined) or gone.
    Unreadable(SpoolError),
    /// Stop uploading for now; the error says why, its disposition what to do.
    Stopped(UplinkError),
    /// Shutdown.
    Cancelled,
}

/// How uploads are done.
#[derive(Debug, Clone, Copy)]
pub struct UploadSettings {
    /// Largest chunk per part (clamped to the protocol's limit).
    pub part_bytes: usize,
    pub retry: RetryPolicy,
}

impl Default for UploadSettings {
    fn default() -> Self {
        Self {
            part_bytes: limits::MAX_PART_BYTES,
            retry: RetryPolicy::default(),
        }
    }
}

/// Uploads `entry` to the platform source `source_id`.
pub(crate) async fn send_snapshot(
    uplink: &Uplink,
    credential: &Secret,
    spool: &Spool,
    entry: &SpoolEntry,
    source_id: &str,
    settings: UploadSettings,
    cancel: &CancellationToken,
) -> Sent {
    let content = match spool.read(entry) {
        Ok(content) => content,
        Err(error) => return Sent::Unreadable(error),
    };
    let size = settings.part_bytes.clamp(1, limits::MAX_PART_BYTES);
    let encoded = EncodedSnapshot {
        snapshot_checksum: seatbroker_protocol::checksum(&content),
        chunks: content.chunks(size).map(<[u8]>::to_vec).collect(),
    };
    let part_count = encoded.chunks.len() as u32;
    let mut applied = false;
    for number in 1..=part_count {
        let part = encoded.part(
            &entry.snapshot_id,
            source_id,
            entry.sequence,
            entry.collected_at,
            number,
        );
        let result = retry(settings.retry, cancel, "an upload", || {
            uplink.put_part(credential, &part)
        })
        .await;
        match result {
            Ok(ack) => {
                tracing::debug!(
                    source = %entry.source,
                    snapshot_id = %entry.snapshot_id,
                    part = number,
                    part_count,
                    outcome = %ack.outcome,
                    parts_received = ack.parts_received,
                    "Uploaded a part."
                );
                if ack.snapshot_applied {
                    applied = true;
                    break;
                }
            }
            Err(Abandoned::Cancelled) => return Sent::Cancelled,
            Err(Abandoned::Failed(error)) => return refused(spool, entry, error),
        }
    }
    if !applied {
        return Sent::Stopped(UplinkError::Decode {
            what: "an upload",
            message: format!(
                "all {part_count} parts were sent but the platform did not apply snapshot {}; it will be sent again",
                entry.snapshot_id
            ),
        });
    }
    match spool.ack(entry) {
        Ok(()) => Sent::Applied,
        Err(error) => Sent::Unreadable(error),
    }
}

/// Acts on a refusal.
fn refused(spool: &Spool, entry: &SpoolEntry, error: UplinkError) -> Sent {
    let too_large = error.http_status() == Some(413)
        || matches!(
            error.code(),
            Some(ErrorCode::PayloadTooLarge | ErrorCode::PartOutOfRange)
        );
    match error.disposition() {
        Disposition::DropSnapshot => {
            if let Err(spool_error) = spool.ack(entry) {
                tracing::error!(%spool_error, "Cannot remove a refused snapshot from the spool.");
            }
            Sent::Dropped(error)
        }
        Disposition::Permanent if too_large => {
            if let Err(spool_error) = spool.quarantine(entry) {
                tracing::error!(%spool_error, "Cannot set a refused snapshot aside.");
            }
            Sent::SetAside(error)
        }
        _ => Sent::Stopped(error),
    }
}
