//! What the generator plants: a category per person, and the seat state that category
//! must produce under the default policy (COMMON.md / DESIGN.md §2.2).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The kind of person the generator plants. Decided first; the record is built from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// `active`, verified, started long ago, no end date.
    Active,
    /// `active`, not verified, but started less than the 30-day grace ago: still `active`.
    ActiveUnverifiedInGrace,
    /// `newHire` (usually with a future start; some whose start already passed).
    NewHire,
    /// `active` with a start date after the as-of date.
    ActiveFutureStart,
    /// `active`, end date within the next 30 days (the as-of date itself included).
    Leaving,
    /// `active`, end date already passed: nobody offboarded them.
    EndedNotOffboarded,
    /// `active`, never verified, started at least 30 days ago.
    NeverVerified,
    /// `offboarded`, end date within the last 90 days (a recent leaver).
    OffboardedRecent,
    /// `offboarded`, end date more than 90 days ago.
    OffboardedOld,
    /// A status value Humaans is not known to send (`suspended`, `archived`, `onLeave`, `null`).
    UnknownStatus,
}

impl Category {
    pub const ALL: [Category; 10] = [
        Category::Active,
        Category::ActiveUnverifiedInGrace,
        Category::NewHire,
        Category::ActiveFutureStart,
        Category::Leaving,
        Category::EndedNotOffboarded,
        Category::NeverVerified,
        Category::OffboardedRecent,
        Category::OffboardedOld,
        Category::UnknownStatus,
    ];

    /// The seat state this category must produce under the default policy.
    pub fn state(self) -> SeatState {
        match self {
            Category::Active | Category::ActiveUnverifiedInGrace => SeatState::Active,
            Category::NewHire | Category::ActiveFutureStart => SeatState::PreHire,
            Category::Leaving => SeatState::Leaving,
            Category::EndedNotOffboarded | Category::NeverVerified => SeatState::Inactive,
            Category::OffboardedRecent | Category::OffboardedOld => SeatState::Offboarded,
            Category::UnknownStatus => SeatState::Unknown,
        }
    }

    /// The reason the engine must give, `None` for plain `active`.
    pub fn reason(self) -> Option<SeatReason> {
        match self {
            Category::Active | Category::ActiveUnverifiedInGrace => None,
            Category::NewHire => Some(SeatReason::NewHire),
            Category::ActiveFutureStart => Some(SeatReason::StartsInFuture),
            Category::Leaving => Some(SeatReason::EndDateWithinWindow),
            Category::EndedNotOffboarded => Some(SeatReason::EndedNotOffboarded),
            Category::NeverVerified => Some(SeatReason::NeverVerified),
            Category::OffboardedRecent | Category::OffboardedOld => Some(SeatReason::Offboarded),
            Category::UnknownStatus => Some(SeatReason::UnknownStatus),
        }
    }

    pub(crate) fn is_offboarded(self) -> bool {
        matches!(self, Category::OffboardedRecent | Category::OffboardedOld)
    }
}

/// Seat states, spelled as the engine and the protocol spell them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeatState {
    PreHire,
    Active,
    Leaving,
    Inactive,
    Offboarded,
    Unknown,
}

impl SeatState {
    pub fn as_str(self) -> &'static str {
        match self {
            SeatState::PreHire => "pre_hire",
            SeatState::Active => "active",
            SeatState::Leaving => "leaving",
            SeatState::Inactive => "inactive",
            SeatState::Offboarded => "offboarded",
            SeatState::Unknown => "unknown",
        }
    }
}

/// Seat reasons, spelled as the engine and the protocol spell them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeatReason {
    UnknownStatus,
    Offboarded,
    NewHire,
    StartsInFuture,
    EndedNotOffboarded,
    NeverVerified,
    EndDateWithinWindow,
}

impl SeatReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SeatReason::UnknownStatus => "unknown_status",
            SeatReason::Offboarded => "offboarded",
            SeatReason::NewHire => "new_hire",
            SeatReason::StartsInFuture => "starts_in_future",
            SeatReason::EndedNotOffboarded => "ended_not_offboarded",
            SeatReason::NeverVerified => "never_verified",
            SeatReason::EndDateWithinWindow => "end_date_within_window",
        }
    }
}

/// The seat the engine must compute for a planted person under the default policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectedSeat {
    pub state: SeatState,
    pub reason: Option<SeatReason>,
    pub since: Option<NaiveDate>,
}

/// Data-quality findings, spelled as the engine and the protocol spell them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Finding {
    NoCurrentJobRole,
    NoManager,
    NoStartDate,
    EndBeforeStart,
    DuplicateWorkEmail,
    ManagerOffboarded,
}

impl Finding {
    pub fn as_str(self) -> &'static str {
        match self {
            Finding::NoCurrentJobRole => "no_current_job_role",
            Finding::NoManager => "no_manager",
            Finding::NoStartDate => "no_start_date",
            Finding::EndBeforeStart => "end_before_start",
            Finding::DuplicateWorkEmail => "duplicate_work_email",
            Finding::ManagerOffboarded => "manager_offboarded",
        }
    }
}

/// Shares per mille of a large company. `Active` takes what the others leave, and the
/// unknown-status share comes from [`super::CompanySpec::unknown_status_permille`].
pub(crate) const SHARES_PERMILLE: [(Category, u32); 8] = [
    (Category::ActiveUnverifiedInGrace, 30),
    (Category::NewHire, 50),
    (Category::ActiveFutureStart, 20),
    (Category::Leaving, 30),
    (Category::EndedNotOffboarded, 30),
    (Category::NeverVerified, 40),
    (Category::OffboardedRecent, 40),
    (Category::OffboardedOld, 130),
];

/// For companies too small for every category: the order categories are handed out in.
pub(crate) const SMALL_COMPANY_ORDER: [Category; 10] = [
    Category::Active,
    Category::NewHire,
    Category::Leaving,
    Category::NeverVerified,
    Category::OffboardedOld,
    Category::EndedNotOffboarded,
    Category::OffboardedRecent,
    Category::ActiveUnverifiedInGrace,
    Category::ActiveFutureStart,
    Category::UnknownStatus,
];
