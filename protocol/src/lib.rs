//! The wire contract between the Seatbroker agent and the Seatbroker platform.
//!
//! This is the only crate whose types are serialized on the wire. Both sides convert them
//! to their own internal types at the edge. The rules every type here follows:
//!
//! - received enums have a catch-all variant (`Other(String)`) that keeps the unknown value;
//! - optional and newer fields have defaults, and unknown fields are ignored, so a newer peer
//!   can add fields without breaking an older one;
//! - secrets ([`Secret`]) never print in `Debug` or `Display` output.
//!
//! `protocol/README.md` is the written specification; its examples are the JSON fixtures in
//! `protocol/fixtures/`, and the crate's tests keep the two identical.

mod enroll;
mod enums;
mod heartbeat;
mod policy;
mod problem;
mod seat;
mod secret;
mod status;
mod upload;
pub mod version;

pub use enroll::{EnrollRequest, EnrollResponse, SourceDescriptor};
pub use enums::{
    AgentState, CollectionOutcome, Disposition, ErrorCode, FindingKind, PayloadEncoding,
    PersonStatus, SeatReason, SeatState, SourceKind, SourceState, UploadOutcome,
};
pub use heartbeat::{CollectionReport, Heartbeat, HeartbeatAck, SourceHealth, SpoolDepth};
pub use policy::{PolicyError, UsagePolicy};
pub use problem::{Problem, VersionRange};
pub use seat::{
    CollectionInfo, DepartmentCounts, Finding, InactiveReasonCounts, SeatRecord, SnapshotPayload,
    StateCounts, Summary,
};
pub use secret::Secret;
pub use status::{SourceStatus, StatusResponse};
pub use upload::{
    DecodeError, EncodedSnapshot, UploadAck, UploadPart, checksum, decode_parts, encode_snapshot,
};

/// Media type of every successful JSON body.
pub const JSON: &str = "application/json";
/// Media type of every error body (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Request header carrying the protocol version the agent speaks (a decimal integer).
pub const PROTOCOL_HEADER: &str = "seatbroker-protocol";

/// Endpoint paths of the agent API, relative to the platform's base URL.
pub mod paths {
    /// `POST`: enroll with an enrollment token.
    pub const ENROLL: &str = "/api/agent/v1/enroll";
    /// `GET`: the approval state of the agent and its sources.
    pub const STATUS: &str = "/api/agent/v1/status";
    /// `POST`: agent health.
    pub const HEARTBEAT: &str = "/api/agent/v1/heartbeat";

    /// `PUT`: one part of a snapshot. `part` is 1-based.
    pub fn snapshot_part(snapshot_id: &str, part: u32) -> String {
        format!("/api/agent/v1/snapshots/{snapshot_id}/parts/{part}")
    }
}

/// Size limits both sides enforce.
pub mod limits {
    /// Largest compressed chunk carried by one part (before base64).
    pub const MAX_PART_BYTES: usize = 1024 * 1024;
    /// Largest request body the platform accepts on the agent API (a part, base64, plus
    /// metadata, with room to spare).
    pub const MAX_REQUEST_BYTES: usize = 2 * 1024 * 1024;
    /// Most parts one snapshot may have.
    pub const MAX_PARTS: u32 = 1024;
    /// Largest decompressed snapshot payload; guards against compression bombs.
    pub const MAX_PAYLOAD_BYTES: usize = 1024 * 1024 * 1024;
    /// Longest identifier (snapshot, source, agent, install) accepted.
    pub const MAX_ID_LEN: usize = 64;
    /// Default and bounds of the `poll_after_secs` hint.
    pub const DEFAULT_POLL_AFTER_SECS: u32 = 30;
}

/// Whether `id` is a well-formed identifier: 1 to [`limits::MAX_ID_LEN`] characters from
/// `[A-Za-z0-9_-]`. Snapshot, source, agent and install ids all follow this rule, so they can
/// appear in URL paths and file names without escaping.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= limits::MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}
