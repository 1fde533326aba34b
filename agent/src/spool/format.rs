//! The on-disk format of one spooled snapshot.
//!
//! ```text
//! magic    8 bytes   "SBSPOOL\n"
//! version  u32 LE    1
//! hlen     u32 LE    length of the header JSON
//! header   hlen      JSON: source, sequence, snapshot_id, collected_at, content_len,
//!                    content_sha256 (sha256:<hex> of the content)
//! content  ...       the snapshot payload as JSON, gzip-compressed: exactly the bytes the
//!                    uploader cuts into parts, so content_sha256 is the snapshot checksum
//! ```
//! The file name repeats source, sequence, collection time and snapshot id, so listing the
//! spool needs no reads; reading a file checks that the two agree.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub(crate) const MAGIC: &[u8; 8] = b"SBSPOOL\n";
pub(crate) const VERSION: u32 = 1;
/// Suffix of a complete snapshot file.
pub(crate) const SUFFIX: &str = ".snap";
/// Prefix of a file being written; never read, deleted at open.
pub(crate) const TMP_PREFIX: &str = ".tmp-";

/// The header of a spooled snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Header {
    pub(crate) source: String,
    pub(crate) sequence: u64,
    pub(crate) snapshot_id: String,
    pub(crate) collected_at: DateTime<Utc>,
    pub(crate) content_len: u64,
    pub(crate) content_sha256: String,
}

/// The whole file for `header` and `content`.
pub(crate) fn encode(header: &Header, content: &[u8]) -> Vec<u8> {
    let json = serde_json::to_vec(header).unwrap_or_default();
    let mut out = Vec::with_capacity(16 + json.len() + content.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(content);
    out
}

/// Splits and checks a file: magic, version, header, length and checksum.
pub(crate) fn decode(bytes: &[u8]) -> Result<(Header, &[u8]), String> {
    if bytes.len() < 16 || &bytes[..8] != MAGIC {
        return Err("not a spool file (bad magic)".to_owned());
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().unwrap_or_default());
    if version != VERSION {
        return Err(format!("unsupported spool file version {version}"));
    }
    let hlen = u32::from_le_bytes(bytes[12..16].try_into().unwrap_or_default()) as usize;
    let header_bytes = bytes.get(16..16 + hlen).ok_or("the header is truncated")?;
    let header: Header =
        serde_json::from_slice(header_bytes).map_err(|e| format!("unreadable header: {e}"))?;
    let content = &bytes[16 + hlen..];
    if content.len() as u64 != header.content_len {
        return Err(format!(
            "the content is {} bytes, the header says {}",
            content.len(),
            header.content_len
        ));
    }
    if seatbroker_protocol::checksum(content) != header.content_sha256 {
        return Err("the content does not match its checksum".to_owned());
    }
    Ok((header, content))
}

/// `SOURCE.SEQUENCE.COLLECTED_MS.SNAPSHOT_ID.snap`; sequence zero-padded so names sort.
pub(crate) fn file_name(header: &Header) -> String {
    format!(
        "{}.{:020}.{:013}.{}{SUFFIX}",
        header.source,
        header.sequence,
        header.collected_at.timestamp_millis().max(0),
        header.snapshot_id
    )
}

/// The parts of a snapshot file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NameParts {
    pub(crate) source: String,
    pub(crate) sequence: u64,
    pub(crate) collected_ms: i64,
    pub(crate) snapshot_id: String,
}

pub(crate) fn parse_name(name: &str) -> Option<NameParts> {
    let stem = name.strip_suffix(SUFFIX)?;
    let mut parts = stem.split('.');
    let source = parts.next()?;
    let sequence = parts.next()?.parse().ok()?;
    let collected_ms = parts.next()?.parse().ok()?;
    let snapshot_id = parts.next()?;
    if parts.next().is_some()
        || !seatbroker_protocol::is_valid_id(source)
        || !seatbroker_protocol::is_valid_id(snapshot_id)
    {
        return None;
    }
    Some(NameParts {
        source: source.to_owned(),
        sequence,
        collected_ms,
        snapshot_id: snapshot_id.to_owned(),
    })
}
