//! Every enum received from the wire, with a catch-all variant that keeps unknown values.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Declares a wire enum: known variants with their exact wire spelling, plus
/// `Other(String)` for any value this version does not know. The unknown value is kept
/// verbatim, so it round-trips and can be shown to a person.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $wire:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version of the protocol does not know, kept as received.
            Other(String),
        }

        impl $name {
            /// Every known variant, in declaration order.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            /// The wire spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $wire, )+
                    Self::Other(value) => value,
                }
            }

            /// Parses a wire spelling; unknown values become `Other`.
            pub fn from_wire(value: &str) -> Self {
                match value {
                    $( $wire => Self::$variant, )+
                    other => Self::Other(other.to_owned()),
                }
            }

            /// Whether this is a value this version knows.
            pub fn is_known(&self) -> bool {
                !matches!(self, Self::Other(_))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
                Ok(Self::from_wire(&value))
            }
        }

        /// A string: the known values are listed, and any other is allowed (a receiver
        /// keeps a value it does not know).
        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                let known: &[&str] = &[$($wire),+];
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .description(Some(format!(
                        "One of `{}`; a later version may send another value, which a receiver keeps as it is.",
                        known.join("`, `")
                    )))
                    .examples(known.iter().take(1).map(|v| serde_json::Value::from(*v)))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}
    };
}

wire_enum! {
    /// Kind of data source an agent reads.
    pub enum SourceKind {
        Humaans = "humaans",
        /// Microsoft Entra ID (Microsoft 365 licences) through Microsoft Graph.
        EntraId = "entra_id",
        /// CSV files exported from an application's admin page.
        SeatList = "seat_list",
    }
}

wire_enum! {
    /// Approval state of an agent.
    pub enum AgentState {
        /// Enrolled, waiting for an administrator.
        Pending = "pending",
        Approved = "approved",
        Rejected = "rejected",
        /// Cut off by an administrator; the agent must enroll again.
        Revoked = "revoked",
    }
}

wire_enum! {
    /// Approval state of one of an agent's data sources.
    pub enum SourceState {
        Pending = "pending",
        /// Approved as a new source; uploads go to its `source_id`.
        Approved = "approved",
        Rejected = "rejected",
        Revoked = "revoked",
        /// Approved and merged into an existing source; uploads go to `merged_into`.
        Merged = "merged",
    }
}

wire_enum! {
    /// The employment status Humaans reports for a person.
    pub enum PersonStatus {
        Active = "active",
        Offboarded = "offboarded",
        NewHire = "newHire",
    }
}

wire_enum! {
    /// The seat state the usage engine assigns to each person (DESIGN.md §2.2).
    pub enum SeatState {
        /// Not started yet: not billable, upcoming.
        PreHire = "pre_hire",
        /// Billable and in use.
        Active = "active",
        /// Billable; the employment ends within the leaving window.
        Leaving = "leaving",
        /// Billable but not used: reclaim it. Always carries a reason.
        Inactive = "inactive",
        /// Left; seats elsewhere must be removed.
        Offboarded = "offboarded",
        /// A Humaans status the engine does not know: counted, never guessed.
        Unknown = "unknown",
    }
}

wire_enum! {
    /// Why a seat is not plainly active.
    pub enum SeatReason {
        /// Status `newHire`.
        NewHire = "new_hire",
        /// Status `active` but the employment starts in the future.
        StartsInFuture = "starts_in_future",
        /// The employment end date falls within the leaving window.
        EndDateWithinWindow = "end_date_within_window",
        /// Status `active` but the employment end date has passed.
        EndedNotOffboarded = "ended_not_offboarded",
        /// Status `active`, started more than the grace period ago, account never verified.
        NeverVerified = "never_verified",
        /// Status `offboarded`.
        Offboarded = "offboarded",
        /// Humaans sent a status value the engine does not know.
        UnknownStatus = "unknown_status",
    }
}

wire_enum! {
    /// The activity state of one licence assignment (account x licence), computed by the
    /// agent's licence engine. The first matching state wins, in declaration order.
    pub enum LicenceState {
        /// The account is disabled but still holds the licence: reclaim it.
        DisabledHolding = "disabled_holding",
        /// The source could not read activity (e.g. a tenant without Entra ID P1/P2):
        /// nobody is called idle or never-used from missing data.
        UnknownActivity = "unknown_activity",
        /// No activity ever, and past the grace period.
        NeverUsed = "never_used",
        /// Last activity older than the idle threshold.
        Idle = "idle",
        /// Recent activity, or never used but still within the grace period.
        InUse = "in_use",
    }
}

wire_enum! {
    /// Why a licence assignment has its state.
    pub enum LicenceReason {
        /// `disabled_holding`: the account is disabled.
        AccountDisabled = "account_disabled",
        /// `unknown_activity`: the source could not read activity.
        ActivityUnavailable = "activity_unavailable",
        /// `in_use`: never used, but assigned (or created) within the grace period.
        GracePeriod = "grace_period",
        /// `never_used`: no activity ever, past the grace period.
        NoActivity = "no_activity",
        /// `idle`: the last activity is older than the idle threshold.
        NoRecentActivity = "no_recent_activity",
        /// `in_use`: activity within the idle threshold.
        RecentActivity = "recent_activity",
    }
}

wire_enum! {
    /// The kind of an application account.
    pub enum AccountType {
        /// A regular account of the organisation.
        Member = "member",
        /// An external guest (Entra ID `userType: Guest`).
        Guest = "guest",
        /// A service or shared account the source marks as such.
        Service = "service",
    }
}

wire_enum! {
    /// A data-quality finding about one person's HR record.
    pub enum FindingKind {
        NoCurrentJobRole = "no_current_job_role",
        /// No manager on the current role (people at the top of the hierarchy excepted).
        NoManager = "no_manager",
        NoStartDate = "no_start_date",
        EndBeforeStart = "end_before_start",
        DuplicateWorkEmail = "duplicate_work_email",
        /// The manager on the current role is offboarded.
        ManagerOffboarded = "manager_offboarded",
    }
}

wire_enum! {
    /// Encoding of a snapshot's payload bytes.
    pub enum PayloadEncoding {
        /// UTF-8 JSON of a [`crate::SnapshotPayload`], gzip-compressed.
        GzipJson = "gzip+json",
    }
}

wire_enum! {
    /// What the platform did with an uploaded part.
    pub enum UploadOutcome {
        /// Stored. When it completed the snapshot, `snapshot_applied` says so.
        Accepted = "accepted",
        /// The platform already has this part, or has already applied the whole snapshot.
        /// Nothing changed; the agent treats it as acknowledged.
        AlreadyHave = "already_have",
    }
}

wire_enum! {
    /// Result of one collection run.
    pub enum CollectionOutcome {
        Succeeded = "succeeded",
        Failed = "failed",
    }
}

wire_enum! {
    /// Stable, machine-readable error code in every problem body.
    pub enum ErrorCode {
        /// The request is malformed: unparsable JSON, wrong types, missing fields.
        BadRequest = "bad_request",
        /// The body is larger than the limit.
        PayloadTooLarge = "payload_too_large",
        /// Wrong `Content-Type`.
        UnsupportedMediaType = "unsupported_media_type",
        /// No or malformed `Authorization` header.
        Unauthenticated = "unauthenticated",
        /// The agent credential is unknown or was rotated.
        InvalidCredential = "invalid_credential",
        /// The agent was revoked; it must enroll again.
        AgentRevoked = "agent_revoked",
        /// The agent was rejected.
        AgentRejected = "agent_rejected",
        /// The agent is not approved yet.
        AgentPending = "agent_pending",
        EnrollmentTokenInvalid = "enrollment_token_invalid",
        EnrollmentTokenExpired = "enrollment_token_expired",
        EnrollmentTokenExhausted = "enrollment_token_exhausted",
        EnrollmentTokenRevoked = "enrollment_token_revoked",
        /// The source id is not one of this agent's sources.
        SourceForeign = "source_foreign",
        SourcePending = "source_pending",
        SourceRejected = "source_rejected",
        SourceRevoked = "source_revoked",
        /// A part's bytes do not match its checksum, or the assembled snapshot does not.
        ChecksumMismatch = "checksum_mismatch",
        /// The part number is outside `1..=part_count`, or the count is out of bounds.
        PartOutOfRange = "part_out_of_range",
        /// A part with this snapshot id and number exists with different content or
        /// different snapshot metadata.
        SnapshotConflict = "snapshot_conflict",
        /// The snapshot's sequence is not newer than the last one applied for this
        /// source from this agent; it will never be applied. The agent drops it.
        StaleSequence = "stale_sequence",
        /// The assembled payload cannot be decoded or fails validation.
        PayloadInvalid = "payload_invalid",
        /// A licence delta's base is not the source's last applied snapshot, or the
        /// accounts after applying it do not add up to its digest. Nothing was applied;
        /// the agent sends the same snapshot whole.
        BaseMismatch = "base_mismatch",
        /// The agent speaks an older protocol than the platform supports.
        ProtocolTooOld = "protocol_too_old",
        /// The agent speaks a newer protocol than the platform supports.
        ProtocolTooNew = "protocol_too_new",
        RateLimited = "rate_limited",
        NotFound = "not_found",
        Internal = "internal",
    }
}

/// What an agent should do about a problem, derived from its code and HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Transient: retry the same request later with backoff.
    Retry,
    /// Not approved yet: keep the data, poll status, retry after approval.
    WaitForApproval,
    /// The agent is cut off: stop uploading, keep the spool, enroll again.
    ReEnroll,
    /// This snapshot will never be accepted: drop it and carry on with the next.
    DropSnapshot,
    /// The snapshot went as a delta the platform cannot apply: forget the base and send
    /// the snapshot whole.
    SendWhole,
    /// The source will not be accepted: stop collecting it, keep what is spooled.
    StopSource,
    /// The request or the software is wrong: do not retry; a person must act.
    Permanent,
}

impl ErrorCode {
    /// Classifies a problem for the agent. Unknown codes fall back to the HTTP status:
    /// 429 and 5xx retry, other 4xx are permanent.
    pub fn disposition(&self, http_status: u16) -> Disposition {
        match self {
            Self::RateLimited | Self::Internal => Disposition::Retry,
            Self::AgentPending | Self::SourcePending => Disposition::WaitForApproval,
            Self::AgentRevoked | Self::InvalidCredential | Self::Unauthenticated => {
                Disposition::ReEnroll
            }
            Self::StaleSequence | Self::PayloadInvalid | Self::SnapshotConflict => {
                Disposition::DropSnapshot
            }
            Self::SourceRejected | Self::SourceRevoked | Self::AgentRejected => {
                Disposition::StopSource
            }
            // A platform that is too old may be upgraded soon; keep the data and retry slowly.
            Self::ProtocolTooNew => Disposition::Retry,
            // A checksum mismatch means the bytes were damaged in transit; resend.
            Self::ChecksumMismatch => Disposition::Retry,
            Self::BaseMismatch => Disposition::SendWhole,
            _ if http_status == 429 || http_status >= 500 => Disposition::Retry,
            _ => Disposition::Permanent,
        }
    }
}
