//! Sending one spooled snapshot: read and check it, cut it into parts, PUT each part with
//! retries, and delete it from the spool once the platform says it is applied. Re-sending
//! is always safe: the platform answers `already_have` for parts it holds.
//!
//! A licence snapshot to a platform that accepts deltas goes as a delta against the last
//! one the platform applied from this agent ([`Base`]), when there is one and the delta is
//! smaller; once applied, it becomes the next base. A delta is built again from the spooled
//! (whole) snapshot on every attempt, and comes out byte for byte the same while the base
//! stays, so a retried upload is still recognised. When the platform answers
//! `base_mismatch` the base is forgotten and the same snapshot goes whole at once.

use seatbroker_protocol::{
    Disposition, EncodedSnapshot, ErrorCode, Secret, checksum, decode_parts, encode_snapshot,
    limits,
};
use tokio_util::sync::CancellationToken;

use super::retry::{Abandoned, RetryPolicy, retry};
use super::{Uplink, UplinkError};
use crate::spool::{Base, Spool, SpoolEntry, SpoolError};

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

/// Where an upload goes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Destination<'a> {
    /// The platform's source id.
    pub(crate) source_id: &'a str,
    /// Whether the platform applies licence deltas (its status says so).
    pub(crate) deltas: bool,
}

/// A licence snapshot's upload plan: its marks (the next base once applied) and, when a
/// base fits, the smaller delta to send instead of the whole.
struct DeltaPlan {
    next_base: Base,
    delta: Option<Vec<u8>>,
}

/// Reads the spooled snapshot's licence section and builds the delta against `base`.
/// `None` for anything that is not a whole licence snapshot (HR snapshots go as they are).
fn plan(
    content: &Vec<u8>,
    snapshot_id: &str,
    source_id: &str,
    base: Option<Base>,
) -> Option<DeltaPlan> {
    let mut payload = decode_parts(std::slice::from_ref(content), &checksum(content)).ok()?;
    let licences = payload.licences.take().filter(|l| l.delta.is_none())?;
    let next_base = Base {
        snapshot_id: snapshot_id.to_owned(),
        source_id: source_id.to_owned(),
        accounts: licences.marks(),
    };
    let delta = base
        .filter(|b| b.source_id == source_id && b.snapshot_id != snapshot_id)
        .and_then(|base| {
            payload.licences = Some(licences.delta_against(&base.snapshot_id, &base.accounts));
            let encoded = encode_snapshot(&payload, limits::MAX_PART_BYTES).ok()?;
            let bytes = encoded.chunks.concat();
            (bytes.len() < content.len()).then_some(bytes)
        });
    Some(DeltaPlan { next_base, delta })
}

/// Uploads `entry` to the platform source `to.source_id`.
pub(crate) async fn send_snapshot(
    uplink: &Uplink,
    credential: &Secret,
    spool: &Spool,
    entry: &SpoolEntry,
    to: Destination<'_>,
    settings: UploadSettings,
    cancel: &CancellationToken,
) -> Sent {
    let content = match spool.read(entry) {
        Ok(content) => content,
        Err(error) => return Sent::Unreadable(error),
    };
    let (content, plan) = if to.deltas {
        let base = spool.base(&entry.source);
        let (snapshot_id, source_id) = (entry.snapshot_id.clone(), to.source_id.to_owned());
        // Decoding and re-encoding 100,000 accounts takes a second: off the runtime.
        match tokio::task::spawn_blocking(move || {
            let plan = plan(&content, &snapshot_id, &source_id, base);
            (content, plan)
        })
        .await
        {
            Ok(done) => done,
            Err(error) => {
                return Sent::Stopped(UplinkError::Decode {
                    what: "an upload",
                    message: format!("preparing the upload failed: {error}"),
                });
            }
        }
    } else {
        (content, None)
    };
    let mut whole = plan.as_ref().is_none_or(|p| p.delta.is_none());
    if let Some(delta) = plan.as_ref().and_then(|p| p.delta.as_ref()) {
        tracing::info!(
            source = %entry.source,
            snapshot_id = %entry.snapshot_id,
            bytes = delta.len(),
            whole_bytes = content.len(),
            "Sending the licence snapshot as a delta against the last one the platform applied."
        );
    }
    loop {
        let body = match plan.as_ref().and_then(|p| p.delta.as_ref()) {
            Some(delta) if !whole => delta,
            _ => &content,
        };
        match send_parts(
            uplink,
            credential,
            entry,
            to.source_id,
            body,
            settings,
            cancel,
        )
        .await
        {
            Ok(()) => break,
            Err(Abandoned::Cancelled) => return Sent::Cancelled,
            Err(Abandoned::Failed(error))
                if !whole && error.disposition() == Disposition::SendWhole =>
            {
                tracing::info!(source = %entry.source, snapshot_id = %entry.snapshot_id, %error, "The platform cannot apply this snapshot as a delta; sending it whole.");
                if let Err(error) = spool.forget_base(&entry.source) {
                    tracing::warn!(%error, "Cannot remove the delta base.");
                }
                whole = true;
            }
            Err(Abandoned::Failed(error)) => return refused(spool, entry, error),
        }
    }
    if let Some(plan) = plan
        && let Err(error) = spool.keep_base(&entry.source, &plan.next_base)
    {
        // Only an optimisation: the next snapshot goes whole.
        tracing::warn!(%error, "Cannot keep the delta base; the next snapshot goes whole.");
        let _ = spool.forget_base(&entry.source);
    }
    match spool.ack(entry) {
        Ok(()) => Sent::Applied,
        Err(error) => Sent::Unreadable(error),
    }
}

/// PUTs every part of `body` until the platform says the snapshot is applied.
async fn send_parts(
    uplink: &Uplink,
    credential: &Secret,
    entry: &SpoolEntry,
    source_id: &str,
    body: &[u8],
    settings: UploadSettings,
    cancel: &CancellationToken,
) -> Result<(), Abandoned> {
    let size = settings.part_bytes.clamp(1, limits::MAX_PART_BYTES);
    let encoded = EncodedSnapshot {
        snapshot_checksum: checksum(body),
        chunks: body.chunks(size).map(<[u8]>::to_vec).collect(),
    };
    let part_count = encoded.chunks.len() as u32;
    for number in 1..=part_count {
        let part = encoded.part(
            &entry.snapshot_id,
            source_id,
            entry.sequence,
            entry.collected_at,
            number,
        );
        let ack = retry(settings.retry, cancel, "an upload", || {
            uplink.put_part(credential, &part)
        })
        .await?;
        tracing::debug!(
            source = %entry.source,
            snapshot_id = %entry.snapshot_id,
            part = number,
            part_count,
            outcome = %ack.outcome,
            parts_received = ack.parts_received,
            bytes = body.len(),
            "Uploaded a part."
        );
        if ack.snapshot_applied {
            return Ok(());
        }
    }
    Err(Abandoned::Failed(UplinkError::Decode {
        what: "an upload",
        message: format!(
            "all {part_count} parts were sent but the platform did not apply snapshot {}; it will be sent again",
            entry.snapshot_id
        ),
    }))
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
