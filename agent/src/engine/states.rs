//! Rule 1–8 of the seat-state rules: one person's state, reason and "since" date.

use chrono::{Days, NaiveDate};
use seatbroker_protocol::{PersonStatus, SeatReason, SeatState, UsagePolicy};

use crate::humaans::model::Person;

/// The state the engine assigns to one person, with the reason and the date since which it
/// holds. `reason` is `None` only for [`SeatState::Active`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    pub state: SeatState,
    pub reason: Option<SeatReason>,
    pub since: Option<NaiveDate>,
}

impl Classification {
    fn new(state: SeatState, reason: SeatReason, since: Option<NaiveDate>) -> Self {
        Self {
            state,
            reason: Some(reason),
            since,
        }
    }
}

/// Classifies one person for `today`. The first matching rule wins:
///
/// 1. no or unknown status → `unknown` (`unknown_status`);
/// 2. `offboarded` → `offboarded` since the end date;
/// 3. `newHire` → `pre_hire` (`new_hire`) since the start date;
/// 4. `active`, start after today → `pre_hire` (`starts_in_future`);
/// 5. `active`, end before today → `inactive` (`ended_not_offboarded`) since the end date;
/// 6. `active`, rule on, `isVerified == false`, today ≥ start + grace → `inactive`
///    (`never_verified`) since start + grace;
/// 7. `active`, end − today ≤ leaving window → `leaving` (`end_date_within_window`) since the
///    end date (an end date of today is still `leaving`);
/// 8. otherwise `active`.
///
/// The policy is expected to be valid ([`UsagePolicy::validate`]); [`super::evaluate`]
/// checks it.
pub fn classify(person: &Person, policy: &UsagePolicy, today: NaiveDate) -> Classification {
    let start = person.employment_start_date;
    let end = person.employment_end_date;
    match &person.status {
        None | Some(PersonStatus::Other(_)) => Classification {
            state: SeatState::Unknown,
            reason: Some(SeatReason::UnknownStatus),
            since: None,
        },
        Some(PersonStatus::Offboarded) => {
            Classification::new(SeatState::Offboarded, SeatReason::Offboarded, end)
        }
        Some(PersonStatus::NewHire) => {
            Classification::new(SeatState::PreHire, SeatReason::NewHire, start)
        }
        Some(PersonStatus::Active) => classify_active(person, policy, today),
    }
}

fn classify_active(person: &Person, policy: &UsagePolicy, today: NaiveDate) -> Classification {
    let start = person.employment_start_date;
    let end = person.employment_end_date;
    if let Some(s) = start.filter(|s| *s > today) {
        return Classification::new(SeatState::PreHire, SeatReason::StartsInFuture, Some(s));
    }
    if let Some(e) = end.filter(|e| *e < today) {
        return Classification::new(SeatState::Inactive, SeatReason::EndedNotOffboarded, Some(e));
    }
    if policy.never_verified_rule && person.is_verified == Some(false) {
        // A start date so late that adding the grace overflows the calendar never reaches it.
        let grace_end =
            start.and_then(|s| s.checked_add_days(Days::new(policy.unverified_grace_days.into())));
        if let Some(grace_end) = grace_end.filter(|g| today >= *g) {
            return Classification::new(
                SeatState::Inactive,
                SeatReason::NeverVerified,
                Some(grace_end),
            );
        }
    }
    if let Some(e) = end {
        // Rule 5 has ruled out e < today, so the difference is never negative here.
        if (e - today).num_days() <= i64::from(policy.leaving_window_days) {
            return Classification::new(
                SeatState::Leaving,
                SeatReason::EndDateWithinWindow,
                Some(e),
            );
        }
    }
    Classification {
        state: SeatState::Active,
        reason: None,
        since: None,
    }
}
