use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::{FindingKind, PersonStatus, SeatReason, SeatState, UsagePolicy};

/// One person's seat, as it leaves the customer's site. Holds only the minimised fields of
/// DESIGN.md §2.1: never birthday, gender, address, phone numbers, nationality, tax data or
/// compensation. `name` and `work_email` may be keyed pseudonyms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatRecord {
    /// Humaans person id.
    pub person_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work_email: Option<String>,
    /// Humaans `status`, as received.
    pub status: PersonStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employment_start_date: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employment_end_date: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// Humaans person id of the manager on the current job role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager_id: Option<String>,
    /// Humaans `isVerified`; absent when Humaans did not send it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_verified: Option<bool>,
    pub state: SeatState,
    /// Why the seat is not plainly active. Present for every state but `active`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<SeatReason>,
    /// The date since which the state holds (start date, end date, end of grace period...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<NaiveDate>,
}

/// Count of people per seat state. The six known states are always present; states a
/// newer agent adds land in `other`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StateCounts {
    pub pre_hire: u64,
    pub active: u64,
    pub leaving: u64,
    pub inactive: u64,
    pub offboarded: u64,
    pub unknown: u64,
    #[serde(flatten)]
    pub other: BTreeMap<String, u64>,
}

impl StateCounts {
    /// Adds one person in `state`.
    pub fn add(&mut self, state: &SeatState) {
        match state {
            SeatState::PreHire => self.pre_hire += 1,
            SeatState::Active => self.active += 1,
            SeatState::Leaving => self.leaving += 1,
            SeatState::Inactive => self.inactive += 1,
            SeatState::Offboarded => self.offboarded += 1,
            SeatState::Unknown => self.unknown += 1,
            SeatState::Other(name) => *self.other.entry(name.clone()).or_default() += 1,
        }
    }

    /// The count for `state`.
    pub fn get(&self, state: &SeatState) -> u64 {
        match state {
            SeatState::PreHire => self.pre_hire,
            SeatState::Active => self.active,
            SeatState::Leaving => self.leaving,
            SeatState::Inactive => self.inactive,
            SeatState::Offboarded => self.offboarded,
            SeatState::Unknown => self.unknown,
            SeatState::Other(name) => self.other.get(name).copied().unwrap_or(0),
        }
    }

    /// Everyone counted.
    pub fn total(&self) -> u64 {
        self.pre_hire
            + self.active
            + self.leaving
            + self.inactive
            + self.offboarded
            + self.unknown
            + self.other.values().sum::<u64>()
    }

    /// Seats the company pays for: active + leaving + inactive.
    pub fn billable(&self) -> u64 {
        self.active + self.leaving + self.inactive
    }

    /// Billable seats that are used: active + leaving.
    pub fn in_use(&self) -> u64 {
        self.active + self.leaving
    }
}

/// Count of inactive people per reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InactiveReasonCounts {
    pub ended_not_offboarded: u64,
    pub never_verified: u64,
    #[serde(flatten)]
    pub other: BTreeMap<String, u64>,
}

/// Seat counts for one department (the current job role's department; people without
/// one are counted under the empty name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepartmentCounts {
    pub department: String,
    pub counts: StateCounts,
}

/// The summary of one snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The day the states were computed for.
    pub as_of: NaiveDate,
    pub counts: StateCounts,
    pub inactive_reasons: InactiveReasonCounts,
    /// active + leaving + inactive.
    pub billable: u64,
    /// active + leaving.
    pub in_use: u64,
    /// `in_use / billable`, or `null` when nothing is billable.
    #[serde(default)]
    pub utilisation: Option<f64>,
    /// Pre-hires starting within the policy's upcoming window.
    #[serde(default)]
    pub pre_hires_starting_soon: u64,
    /// Offboarded people whose employment ended within the policy's lookback.
    #[serde(default)]
    pub recent_leavers: u64,
    #[serde(default)]
    pub departments: Vec<DepartmentCounts>,
    /// Number of data-quality findings per kind.
    #[serde(default)]
    pub findings: BTreeMap<String, u64>,
}

/// A data-quality finding about one person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub person_id: String,
    pub kind: FindingKind,
    /// Human-readable detail, such as the ids sharing a work email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Facts about the collection run that produced a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionInfo {
    /// Humaans company id (the tenant).
    pub tenant_id: String,
    /// People received from Humaans, including unparsable ones.
    pub people_seen: u64,
    /// Job roles received.
    #[serde(default)]
    pub job_roles_seen: u64,
    /// Ids of person records that could not be parsed and were left out.
    #[serde(default)]
    pub unparsable_person_ids: Vec<String>,
    /// Whether the token could read private data (pre-hires and leavers). A snapshot taken
    /// without it undercounts, and the console says so.
    pub private_access: bool,
    /// Wall time of the collection, milliseconds.
    #[serde(default)]
    pub duration_ms: u64,
    pub agent_version: String,
}

/// The decoded content of an uploaded snapshot: everything one collection of one source
/// produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotPayload {
    /// Layout version of this payload.
    #[serde(default = "payload_schema")]
    pub schema: u32,
    /// The agent's local name of the source.
    pub local_source: String,
    pub collected_at: DateTime<Utc>,
    pub policy: UsagePolicy,
    pub collection: CollectionInfo,
    pub summary: Summary,
    pub seats: Vec<SeatRecord>,
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// Schema 2, app sources (`entra_id`, `seat_list`) only: accounts, licences and pools.
    /// Their `seats` and `findings` are empty and their `summary` counts zero people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licences: Option<crate::LicenceSnapshot>,
}

/// The `schema` of a payload from a Humaans source (and of payloads before schema 2).
pub const SCHEMA_PEOPLE: u32 = 1;
/// The `schema` of a payload that carries a [`SnapshotPayload::licences`] section.
pub const SCHEMA_LICENCES: u32 = 2;

fn payload_schema() -> u32 {
    SCHEMA_PEOPLE
}
