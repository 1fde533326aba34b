use std::io::{Read, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{PayloadEncoding, SnapshotPayload, UploadOutcome, limits};

/// `PUT /api/agent/v1/snapshots/{snapshot_id}/parts/{part}`: one part of a snapshot.
///
/// A snapshot's payload is a [`SnapshotPayload`] serialized as JSON, gzip-compressed, and
/// cut into chunks of at most [`limits::MAX_PART_BYTES`]; each part carries one chunk. The
/// platform concatenates the chunks in part order, checks `snapshot_checksum`, decompresses
/// and applies the snapshot. Every field but `part`, `part_checksum` and `payload` is the
/// same in all parts of a snapshot.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadPart {
    /// Agent-generated id of the snapshot; the idempotency key.
    pub snapshot_id: String,
    /// The platform's source id, as the status response names it.
    pub source_id: String,
    /// Per-source sequence number the agent assigns when it spools the snapshot; strictly
    /// increasing, gaps allowed (the spool may drop old snapshots).
    pub sequence: u64,
    pub collected_at: DateTime<Utc>,
    /// 1-based part number.
    pub part: u32,
    pub part_count: u32,
    pub encoding: PayloadEncoding,
    /// `sha256:<hex>` of this part's chunk (the bytes after base64 decoding).
    pub part_checksum: String,
    /// `sha256:<hex>` of the whole compressed payload (all chunks in order).
    pub snapshot_checksum: String,
    /// Base64 (standard alphabet, padded) of the chunk.
    pub payload: String,
}

/// The platform's acknowledgement of a part. Refusals are not acknowledgements: they come
/// as a 4xx `application/problem+json` body whose `code` gives the reason.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadAck {
    pub snapshot_id: String,
    pub part: u32,
    pub outcome: UploadOutcome,
    /// How many distinct parts of the snapshot the platform holds now.
    pub parts_received: u32,
    pub part_count: u32,
    /// Whether the whole snapshot has been applied (by this request or an earlier one).
    pub snapshot_applied: bool,
}

/// `sha256:<hex>` of `bytes`.
pub fn checksum(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// A snapshot payload, compressed and cut into part-sized chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedSnapshot {
    pub snapshot_checksum: String,
    pub chunks: Vec<Vec<u8>>,
}

impl EncodedSnapshot {
    /// Total compressed size.
    pub fn len(&self) -> usize {
        self.chunks.iter().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// The wire message for part `part` (1-based).
    pub fn part(
        &self,
        snapshot_id: &str,
        source_id: &str,
        sequence: u64,
        collected_at: DateTime<Utc>,
        part: u32,
    ) -> UploadPart {
        let chunk = &self.chunks[(part - 1) as usize];
        UploadPart {
            snapshot_id: snapshot_id.to_owned(),
            source_id: source_id.to_owned(),
            sequence,
            collected_at,
            part,
            part_count: self.chunks.len() as u32,
            encoding: PayloadEncoding::GzipJson,
            part_checksum: checksum(chunk),
            snapshot_checksum: self.snapshot_checksum.clone(),
            payload: BASE64.encode(chunk),
        }
    }
}

/// Serializes, compresses and chunks a payload. `max_part_bytes` is clamped to
/// `1..=limits::MAX_PART_BYTES`.
pub fn encode_snapshot(
    payload: &SnapshotPayload,
    max_part_bytes: usize,
) -> Result<EncodedSnapshot, serde_json::Error> {
    let json = serde_json::to_vec(payload)?;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder
        .write_all(&json)
        .and_then(|()| encoder.finish())
        .map(|compressed| {
            let size = max_part_bytes.clamp(1, limits::MAX_PART_BYTES);
            EncodedSnapshot {
                snapshot_checksum: checksum(&compressed),
                chunks: compressed.chunks(size).map(<[u8]>::to_vec).collect(),
            }
        })
        .map_err(serde_json::Error::io)
}

/// Why a set of parts could not be turned back into a payload.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("part {part} is not valid base64")]
    Base64 { part: u32 },
    #[error("part {part} does not match its checksum")]
    PartChecksum { part: u32 },
    #[error("the assembled snapshot does not match its checksum")]
    SnapshotChecksum,
    #[error("the payload is not valid gzip: {0}")]
    Gzip(std::io::Error),
    #[error(
        "the decompressed payload is larger than its bound: {} times the compressed size (at least {} bytes, at most {} bytes)",
        limits::MAX_EXPANSION_RATIO,
        limits::MIN_EXPANSION_BYTES,
        limits::MAX_PAYLOAD_BYTES
    )]
    TooLarge,
    #[error("the payload is not a valid snapshot: {0}")]
    Json(serde_json::Error),
}

impl UploadPart {
    /// The chunk carried by this part, checked against `part_checksum`.
    pub fn chunk(&self) -> Result<Vec<u8>, DecodeError> {
        let bytes = BASE64
            .decode(self.payload.as_bytes())
            .map_err(|_| DecodeError::Base64 { part: self.part })?;
        if checksum(&bytes) != self.part_checksum {
            return Err(DecodeError::PartChecksum { part: self.part });
        }
        Ok(bytes)
    }
}

/// Checks the chunks against `snapshot_checksum`, then decompresses and parses them as one
/// stream: the chunks are never concatenated and the JSON text never held whole, so memory
/// follows the parsed payload. The decompressed size is bounded by
/// [`limits::max_expanded_bytes`] of the compressed size: a compression bomb stops there
/// with [`DecodeError::TooLarge`].
pub fn decode_parts(
    chunks: &[Vec<u8>],
    snapshot_checksum: &str,
) -> Result<SnapshotPayload, DecodeError> {
    let mut hasher = Sha256::new();
    for chunk in chunks {
        hasher.update(chunk);
    }
    let mut computed = String::with_capacity(7 + 64);
    computed.push_str("sha256:");
    for byte in hasher.finalize() {
        computed.push_str(&format!("{byte:02x}"));
    }
    if computed != snapshot_checksum {
        return Err(DecodeError::SnapshotChecksum);
    }
    let compressed: usize = chunks.iter().map(Vec::len).sum();
    let mut inflated = Bounded {
        inner: flate2::read::GzDecoder::new(Chunks {
            chunks,
            index: 0,
            offset: 0,
        }),
        left: limits::max_expanded_bytes(compressed),
        exceeded: false,
    };
    let parsed =
        serde_json::from_reader(std::io::BufReader::with_capacity(64 * 1024, &mut inflated));
    if inflated.exceeded {
        return Err(DecodeError::TooLarge);
    }
    parsed.map_err(|error| match error.io_error_kind() {
        Some(kind) => DecodeError::Gzip(std::io::Error::new(kind, error.to_string())),
        None => DecodeError::Json(error),
    })
}

/// The chunks of a snapshot read as one stream, without copying them together.
struct Chunks<'a> {
    chunks: &'a [Vec<u8>],
    index: usize,
    offset: usize,
}

impl Read for Chunks<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while let Some(chunk) = self.chunks.get(self.index) {
            let rest = &chunk[self.offset..];
            if rest.is_empty() {
                self.index += 1;
                self.offset = 0;
                continue;
            }
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            self.offset += n;
            return Ok(n);
        }
        Ok(0)
    }
}

/// A reader that fails once more than `left` bytes come out of `inner`.
struct Bounded<R> {
    inner: R,
    left: u64,
    exceeded: bool,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // One byte more than allowed tells "exactly at the bound" from "over it".
        let want = buf.len().min(
            usize::try_from(self.left)
                .unwrap_or(usize::MAX)
                .saturating_add(1),
        );
        let n = self.inner.read(&mut buf[..want])?;
        if n as u64 > self.left {
            self.exceeded = true;
            return Err(std::io::Error::other(
                "the decompressed payload exceeds its bound",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}
