//! Ground truth: what the generator planted, counted.

use serde::{Deserialize, Serialize};

use super::{Category, Finding, SeatReason, SeatState};

/// Seat-state counts and extras, computed from the planted categories (never by running
/// the seat-state rules). The first two keys are the shape `humaans-sim truth` promises:
/// `{"counts":{...},"inactive_reasons":{...}, ...}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Truth {
    pub counts: StateCounts,
    pub inactive_reasons: InactiveReasons,
    /// Planted data-quality findings, counted per person (people not offboarded).
    pub findings: FindingCounts,
    /// Pre-hires starting within 30 days of the as-of date (both ends included).
    pub pre_hires_starting_soon: u64,
    /// Offboarded people whose end date is within the 90 days before the as-of date.
    pub recent_leavers: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateCounts {
    pub pre_hire: u64,
    pub active: u64,
    pub leaving: u64,
    pub inactive: u64,
    pub offboarded: u64,
    pub unknown: u64,
}

impl StateCounts {
    pub fn total(&self) -> u64 {
        self.pre_hire + self.active + self.leaving + self.inactive + self.offboarded + self.unknown
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InactiveReasons {
    pub ended_not_offboarded: u64,
    pub never_verified: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingCounts {
    pub no_current_job_role: u64,
    pub no_manager: u64,
    pub no_start_date: u64,
    pub end_before_start: u64,
    pub duplicate_work_email: u64,
    pub manager_offboarded: u64,
}

impl Truth {
    pub(crate) fn add(&mut self, category: Category, findings: &[Finding]) {
        let c = &mut self.counts;
        match category.state() {
            SeatState::PreHire => c.pre_hire += 1,
            SeatState::Active => c.active += 1,
            SeatState::Leaving => c.leaving += 1,
            SeatState::Inactive => c.inactive += 1,
            SeatState::Offboarded => c.offboarded += 1,
            SeatState::Unknown => c.unknown += 1,
        }
        match category.reason() {
            Some(SeatReason::EndedNotOffboarded) => self.inactive_reasons.ended_not_offboarded += 1,
            Some(SeatReason::NeverVerified) => self.inactive_reasons.never_verified += 1,
            _ => {}
        }
        let f = &mut self.findings;
        for finding in findings {
            match finding {
                Finding::NoCurrentJobRole => f.no_current_job_role += 1,
                Finding::NoManager => f.no_manager += 1,
                Finding::NoStartDate => f.no_start_date += 1,
                Finding::EndBeforeStart => f.end_before_start += 1,
                Finding::DuplicateWorkEmail => f.duplicate_work_email += 1,
                Finding::ManagerOffboarded => f.manager_offboarded += 1,
            }
        }
    }
}
