//! The per-snapshot summary: counts per state, reason and department, billable and in-use
//! seats, upcoming pre-hires, recent leavers and findings per kind.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rustc_hash::FxHashMap;
use seatbroker_protocol::{
    DepartmentCounts, Finding, FindingKind, InactiveReasonCounts, SeatReason, SeatRecord,
    SeatState, StateCounts, Summary, UsagePolicy,
};

/// Summarises `seats` (and `findings`) as of `today` under `policy`.
pub(crate) fn summarise(
    seats: &[SeatRecord],
    findings: &[Finding],
    policy: &UsagePolicy,
    today: NaiveDate,
) -> Summary {
    let mut counts = StateCounts::default();
    let mut inactive_reasons = InactiveReasonCounts::default();
    let mut departments: FxHashMap<&str, StateCounts> = FxHashMap::default();
    let mut pre_hires_starting_soon = 0;
    let mut recent_leavers = 0;

    for seat in seats {
        counts.add(&seat.state);
        departments
            .entry(seat.department.as_deref().unwrap_or(""))
            .or_default()
            .add(&seat.state);
        match &seat.state {
            SeatState::Inactive => match &seat.reason {
                Some(SeatReason::EndedNotOffboarded) => inactive_reasons.ended_not_offboarded += 1,
                Some(SeatReason::NeverVerified) => inactive_reasons.never_verified += 1,
                Some(other) => {
                    *inactive_reasons
                        .other
                        .entry(other.as_str().to_owned())
                        .or_default() += 1;
                }
                None => {}
            },
            SeatState::PreHire
                if within(
                    seat.employment_start_date,
                    today,
                    policy.upcoming_start_days,
                    1,
                ) =>
            {
                pre_hires_starting_soon += 1;
            }
            SeatState::Offboarded
                if within(
                    seat.employment_end_date,
                    today,
                    policy.leavers_lookback_days,
                    -1,
                ) =>
            {
                recent_leavers += 1;
            }
            _ => {}
        }
    }

    let mut departments: Vec<DepartmentCounts> = departments
        .into_iter()
        .map(|(department, counts)| DepartmentCounts {
            department: department.to_owned(),
            counts,
        })
        .collect();
    departments.sort_unstable_by(|a, b| a.department.cmp(&b.department));

    // Every known kind is present, so the shape does not change with the data.
    let mut by_kind: BTreeMap<String, u64> = FindingKind::KNOWN
        .iter()
        .map(|k| (k.as_str().to_owned(), 0))
        .collect();
    for finding in findings {
        *by_kind.entry(finding.kind.as_str().to_owned()).or_default() += 1;
    }

    let billable = counts.billable();
    let in_use = counts.in_use();
    Summary {
        as_of: today,
        utilisation: (billable > 0).then(|| in_use as f64 / billable as f64),
        billable,
        in_use,
        counts,
        inactive_reasons,
        pre_hires_starting_soon,
        recent_leavers,
        departments,
        findings: by_kind,
    }
}

/// Whether `date` lies within `days` days of `today`, today included: ahead of it when
/// `direction` is 1, behind it when -1.
fn within(date: Option<NaiveDate>, today: NaiveDate, days: u32, direction: i64) -> bool {
    date.is_some_and(|d| (0..=i64::from(days)).contains(&((d - today).num_days() * direction)))
}
