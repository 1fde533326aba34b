//! The ground truth of an application source, counted from planted accounts: the shape of
//! the agent's `collect --dry-run --json` plus `joined`, the platform's figures after the
//! join with the company's people.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{AccountPlan, Activity, Owner, has_left};
use crate::company::{Company, SeatState};

/// `humaans-sim graph-truth` / `seat-list-truth`: keys exactly as the agent's dry run prints
/// them, plus `joined`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppTruth {
    /// `entra_id` or `seat_list`.
    pub kind: String,
    pub as_of: NaiveDate,
    pub activity_available: bool,
    pub accounts: AccountTotals,
    /// Sorted by id.
    pub pools: Vec<Pool>,
    pub joined: Joined,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountTotals {
    /// Every account the collection returns, licensed or not.
    pub total: u64,
    /// Licence assignments (account x licence) per activity state.
    pub counts: AccountCounts,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountCounts {
    pub in_use: u64,
    pub idle: u64,
    pub never_used: u64,
    pub disabled_holding: u64,
    pub unknown_activity: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    pub id: String,
    pub name: String,
    pub purchased: Option<u64>,
    pub assigned: u64,
    pub unassigned: Option<u64>,
}

/// The platform's figures once accounts are joined with the company's people.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Joined {
    pub counts: JoinedCounts,
    /// Sum of the pools' `unassigned` (an unknown one counts as 0).
    pub unassigned: u64,
    /// `unassigned + orphaned + disabled_holding + never_used + idle`.
    pub reclaimable: u64,
    /// Sorted by id, one per pool.
    pub pools: Vec<JoinedPool>,
}

/// Licence assignments per joined state; the first matching state wins, in this order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinedCounts {
    pub excluded: u64,
    pub orphaned: u64,
    pub disabled_holding: u64,
    pub unidentified: u64,
    pub pre_hire: u64,
    pub unknown_activity: u64,
    pub never_used: u64,
    pub idle: u64,
    pub in_use: u64,
}

impl JoinedCounts {
    fn reclaimable(&self) -> u64 {
        self.orphaned + self.disabled_holding + self.never_used + self.idle
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinedPool {
    pub id: String,
    pub name: String,
    pub counts: JoinedCounts,
    pub unassigned: Option<u64>,
    pub reclaimable: u64,
}

#[derive(Clone, Copy)]
enum State {
    InUse,
    Idle,
    NeverUsed,
    DisabledHolding,
    UnknownActivity,
}

/// The activity state an account was planted for.
fn planted_state(plan: &AccountPlan, activity_available: bool) -> State {
    if !plan.enabled {
        State::DisabledHolding
    } else if !activity_available {
        State::UnknownActivity
    } else {
        match plan.activity {
            Activity::Recent | Activity::Grace => State::InUse,
            Activity::Idle => State::Idle,
            Activity::Never => State::NeverUsed,
        }
    }
}

fn add_state(counts: &mut AccountCounts, state: State) {
    match state {
        State::InUse => counts.in_use += 1,
        State::Idle => counts.idle += 1,
        State::NeverUsed => counts.never_used += 1,
        State::DisabledHolding => counts.disabled_holding += 1,
        State::UnknownActivity => counts.unknown_activity += 1,
    }
}

fn add_joined(counts: &mut JoinedCounts, plan: &AccountPlan, state: State, company: &Company) {
    // The platform's default exclusion rule (issue 12) excludes guests only; a service
    // account matches no person and stays unidentified until an administrator adds a rule.
    let person = match plan.owner {
        Owner::Guest => {
            counts.excluded += 1;
            return;
        }
        Owner::Person(p) => Some(&company.people()[p]),
        Owner::Service | Owner::Unknown => None,
    };
    if person.is_some_and(|p| has_left(p.category)) {
        counts.orphaned += 1;
    } else if !plan.enabled {
        counts.disabled_holding += 1;
    } else if person.is_none() {
        counts.unidentified += 1;
    } else if person.is_some_and(|p| p.category.state() == SeatState::PreHire) {
        counts.pre_hire += 1;
    } else {
        match state {
            State::UnknownActivity => counts.unknown_activity += 1,
            State::NeverUsed => counts.never_used += 1,
            State::Idle => counts.idle += 1,
            State::InUse => counts.in_use += 1,
            // Disabled accounts were counted above.
            State::DisabledHolding => counts.disabled_holding += 1,
        }
    }
}

/// Counts `plans` over `pools` (indexes in `plans[..].licences` point into `pools`, which
/// must be sorted by id).
pub(crate) fn count(
    kind: &str,
    as_of: NaiveDate,
    activity_available: bool,
    plans: &[AccountPlan],
    pools: Vec<Pool>,
    company: &Company,
) -> AppTruth {
    debug_assert!(pools.windows(2).all(|w| w[0].id < w[1].id));
    let mut accounts = AccountTotals {
        total: plans.len() as u64,
        ..AccountTotals::default()
    };
    let mut per_pool = vec![JoinedCounts::default(); pools.len()];
    let mut joined = Joined::default();
    for plan in plans {
        let state = planted_state(plan, activity_available);
        for &licence in &plan.licences {
            add_state(&mut accounts.counts, state);
            add_joined(&mut joined.counts, plan, state, company);
            add_joined(&mut per_pool[licence], plan, state, company);
        }
    }
    joined.pools = pools
        .iter()
        .zip(per_pool)
        .map(|(pool, counts)| JoinedPool {
            id: pool.id.clone(),
            name: pool.name.clone(),
            reclaimable: pool.unassigned.unwrap_or(0) + counts.reclaimable(),
            counts,
            unassigned: pool.unassigned,
        })
        .collect();
    joined.unassigned = pools.iter().filter_map(|p| p.unassigned).sum();
    joined.reclaimable = joined.unassigned + joined.counts.reclaimable();
    AppTruth {
        kind: kind.to_owned(),
        as_of,
        activity_available,
        accounts,
        pools,
        joined,
    }
}
