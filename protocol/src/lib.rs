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
mod licence;
mod policy;
mod problem;
mod seat;
mod secret;
mod status;
mod upload;
pub mod version;

pub use enroll::{EnrollRequest, EnrollResponse, SourceDescriptor};
pub use enums::{
    AccountType, AgentState, CollectionOutcome, Disposition, ErrorCode, FindingKind, LicenceReason,
    LicenceState, PayloadEncoding, PersonStatus, SeatReason, SeatState, SourceKind, SourceState,
    UploadOutcome,
};
pub use heartbeat::{CollectionReport, Heartbeat, HeartbeatAck, SourceHealth, SpoolDepth};
pub use licence::{
    AccountMarks, AccountRecord, LicenceDelta, LicenceHeld, LicencePolicy, LicencePool,
    LicenceSnapshot, LicenceStateCounts, accounts_digest, digest_text,
};
pub use policy::{PolicyError, UsagePolicy};
pub use problem::{Problem, VersionRange};
pub use seat::{
    CollectionInfo, DepartmentCounts, Finding, InactiveReasonCounts, SCHEMA_LICENCES,
    SCHEMA_PEOPLE, SeatRecord, SnapshotPayload, StateCounts, Summary,
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
    /// Most a snapshot may expand when decompressed, relative to its compressed size
    /// (snapshot JSON compresses 5 to 20 times; a compression bomb, a thousand).
    pub const MAX_EXPANSION_RATIO: u64 = 64;
    /// The expansion bound of small snapshots, which may compress very well.
    pub const MIN_EXPANSION_BYTES: u64 = 16 * 1024 * 1024;

    /// The most `compressed` bytes of snapshot may decompress to: [`MAX_EXPANSION_RATIO`]
    /// times, at least [`MIN_EXPANSION_BYTES`], at most [`MAX_PAYLOAD_BYTES`].
    pub fn max_expanded_bytes(compressed: usize) -> u64 {
        (compressed as u64)
            .saturating_mul(MAX_EXPANSION_RATIO)
            .max(MIN_EXPANSION_BYTES)
            .min(MAX_PAYLOAD_BYTES as u64)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_negotiation_names_the_range_and_the_remedy() {
        assert_eq!(version::check(2, 2, 3).unwrap(), 2);
        let old = version::check(1, 2, 3).unwrap_err();
        assert_eq!((old.status, &old.code), (400, &ErrorCode::ProtocolTooOld));
        assert_eq!(old.supported, Some(VersionRange { min: 2, max: 3 }));
        assert!(old.action.as_deref().unwrap().contains("upgrade the agent"));
        let new = version::check(4, 2, 3).unwrap_err();
        assert_eq!(new.code, ErrorCode::ProtocolTooNew);
        assert!(
            new.action
                .as_deref()
                .unwrap()
                .contains("upgrade the platform")
        );
        assert!(version::negotiate(version::CURRENT).is_ok());
    }

    #[test]
    fn dispositions() {
        let check = |code: ErrorCode, status: u16, expected: Disposition| {
            assert_eq!(code.disposition(status), expected, "{code} {status}");
        };
        check(ErrorCode::SourcePending, 403, Disposition::WaitForApproval);
        check(ErrorCode::AgentPending, 403, Disposition::WaitForApproval);
        check(ErrorCode::AgentRevoked, 403, Disposition::ReEnroll);
        check(ErrorCode::InvalidCredential, 401, Disposition::ReEnroll);
        check(ErrorCode::StaleSequence, 409, Disposition::DropSnapshot);
        check(ErrorCode::SnapshotConflict, 409, Disposition::DropSnapshot);
        check(ErrorCode::SourceRejected, 403, Disposition::StopSource);
        check(ErrorCode::ChecksumMismatch, 422, Disposition::Retry);
        check(ErrorCode::RateLimited, 429, Disposition::Retry);
        check(ErrorCode::BadRequest, 400, Disposition::Permanent);
        check(ErrorCode::from_wire("brand_new"), 503, Disposition::Retry);
        check(
            ErrorCode::from_wire("brand_new"),
            418,
            Disposition::Permanent,
        );
    }

    #[test]
    fn secrets_do_not_print() {
        let request = EnrollRequest {
            protocol_version: 1,
            enrollment_token: Secret::new("sbe_top_secret"),
            install_id: "i".into(),
            host_name: "h".into(),
            agent_version: "0".into(),
            os: "linux".into(),
            sources: vec![],
        };
        let debug = format!("{request:?}");
        assert!(!debug.contains("top_secret"), "{debug}");
        assert!(debug.contains("[REDACTED]"));
        assert_eq!(request.enrollment_token.expose(), "sbe_top_secret");
        let json = serde_json::to_string(&request).unwrap();
        assert!(
            json.contains("sbe_top_secret"),
            "the wire carries the value"
        );
    }

    #[test]
    fn ids() {
        for ok in ["a", "9b2e6c1f0a4d4e3f8c7b6a5d4e3f2a1b", "agt_3kq-9"] {
            assert!(is_valid_id(ok), "{ok}");
        }
        let long = "x".repeat(65);
        for bad in ["", "a/b", "../x", "a b", "é", long.as_str()] {
            assert!(!is_valid_id(bad), "{bad}");
        }
    }

    #[test]
    fn policy_validation() {
        assert!(UsagePolicy::default().validate().is_ok());
        let bad = UsagePolicy {
            leaving_window_days: 5000,
            ..UsagePolicy::default()
        };
        let err = bad.validate().unwrap_err();
        assert_eq!(err.field, "leaving_window_days");
        assert!(err.to_string().contains("leaving_window_days = 5000"));
        let zero = UsagePolicy {
            leavers_lookback_days: 0,
            ..UsagePolicy::default()
        };
        assert_eq!(zero.validate().unwrap_err().field, "leavers_lookback_days");
    }

    fn tiny_payload(people: usize) -> SnapshotPayload {
        let text = include_str!("../fixtures/snapshot_payload.json");
        let mut payload: SnapshotPayload = serde_json::from_str(text).unwrap();
        let template = payload.seats[0].clone();
        payload.seats = (0..people)
            .map(|i| SeatRecord {
                person_id: format!("p{i:06}"),
                ..template.clone()
            })
            .collect();
        payload
    }

    #[test]
    fn encode_then_decode_in_many_parts() {
        let payload = tiny_payload(2000);
        let encoded = encode_snapshot(&payload, 1000).unwrap();
        assert!(encoded.chunks.len() > 3, "{} chunks", encoded.chunks.len());
        let parts: Vec<UploadPart> = (1..=encoded.chunks.len() as u32)
            .map(|n| encoded.part("s1", "src", 7, payload.collected_at, n))
            .collect();
        assert!(parts.iter().all(|p| p.part_count == parts.len() as u32));
        let chunks: Vec<Vec<u8>> = parts.iter().map(|p| p.chunk().unwrap()).collect();
        let decoded = decode_parts(&chunks, &encoded.snapshot_checksum).unwrap();
        assert_eq!(decoded, payload);
    }

    #[test]
    fn damaged_parts_are_detected() {
        let payload = tiny_payload(50);
        let encoded = encode_snapshot(&payload, 200).unwrap();
        let mut part = encoded.part("s1", "src", 1, payload.collected_at, 1);
        part.payload.replace_range(40..44, "////");
        assert!(matches!(
            part.chunk(),
            Err(DecodeError::PartChecksum { part: 1 })
        ));
        part.payload = "not base64!".into();
        assert!(matches!(part.chunk(), Err(DecodeError::Base64 { .. })));

        let mut chunks = encoded.chunks.clone();
        chunks.swap(0, 1);
        assert!(matches!(
            decode_parts(&chunks, &encoded.snapshot_checksum),
            Err(DecodeError::SnapshotChecksum)
        ));
        let not_gzip = vec![b"hello".to_vec()];
        assert!(matches!(
            decode_parts(&not_gzip, &checksum(b"hello")),
            Err(DecodeError::Gzip(_))
        ));
    }

    #[test]
    fn a_compression_bomb_stops_at_its_expansion_bound() {
        use std::io::Write as _;
        // 40 MiB of blanks (valid JSON whitespace) compress to a few dozen KiB.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let blanks = vec![b' '; 1024 * 1024];
        for _ in 0..40 {
            gz.write_all(&blanks).unwrap();
        }
        gz.write_all(b"{}").unwrap();
        let bomb = gz.finish().unwrap();
        assert!(limits::max_expanded_bytes(bomb.len()) < 40 * 1024 * 1024);
        let sum = checksum(&bomb);
        let chunks: Vec<Vec<u8>> = bomb.chunks(4096).map(<[u8]>::to_vec).collect();
        let error = decode_parts(&chunks, &sum).unwrap_err();
        assert!(matches!(error, DecodeError::TooLarge), "{error}");
        assert!(error.to_string().contains("64 times"), "{error}");
    }
}
