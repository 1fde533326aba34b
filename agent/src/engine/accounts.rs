//! The licence engine: pure functions from application accounts, licence pools, a licence
//! policy and "today" to per-assignment states, counts and pools (the rules of
//! `protocol/README.md`, "Application licences"). No I/O, no clock.
//!
//! The state of one assignment (account x licence) is decided by ordered rules, one
//! function each; the first that answers wins: [`disabled`], [`activity_unknown`],
//! [`never_used`], [`idle`], then [`in_use`].

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use seatbroker_protocol::{
    AccountRecord, AccountType, LicenceHeld, LicencePolicy, LicencePool, LicenceReason,
    LicenceSnapshot, LicenceState, LicenceStateCounts, PolicyError,
};

use super::{Pseudonymizer, normalise_email};

/// One account as a source read it, before evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The source's id of the account.
    pub id: String,
    pub login: Option<String>,
    pub email: Option<String>,
    /// Further addresses (without `smtp:` prefixes).
    pub aliases: Vec<String>,
    pub enabled: bool,
    pub account_type: AccountType,
    pub created: Option<DateTime<Utc>>,
    /// The last activity; `None` when never used (or unknown, see `activity_available`).
    pub last_activity: Option<DateTime<Utc>>,
    pub licences: Vec<Held>,
}

/// A licence an account holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub pool_id: String,
    /// The day it was assigned, when the source says.
    pub assigned: Option<NaiveDate>,
}

/// A licence pool as a source read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    pub id: String,
    pub name: String,
    pub application: Option<String>,
    pub purchased: Option<u64>,
    /// Seats assigned as the source counts them (Graph `consumedUnits`); `None`: count the
    /// accounts holding the pool's licence.
    pub assigned: Option<u64>,
}

/// The state of one assignment: state, reason and since-date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub state: LicenceState,
    pub reason: LicenceReason,
    pub since: Option<NaiveDate>,
}

impl Assessment {
    fn new(state: LicenceState, reason: LicenceReason, since: Option<NaiveDate>) -> Self {
        Self {
            state,
            reason,
            since,
        }
    }
}

/// What the rules look at for one assignment.
#[derive(Debug, Clone, Copy)]
pub struct Facts {
    pub enabled: bool,
    pub activity_available: bool,
    /// The last activity day, already cleaned (year 1 = absent).
    pub last_activity: Option<NaiveDate>,
    /// The day the never-used grace starts: assignment, else account creation.
    pub grace_start: Option<NaiveDate>,
}

/// One ordered rule: an answer, or `None` to let the next rule decide.
pub type Rule = fn(&Facts, &LicencePolicy, NaiveDate) -> Option<Assessment>;

/// The state of one assignment as of `today`.
pub fn assess(facts: &Facts, policy: &LicencePolicy, today: NaiveDate) -> Assessment {
    let rules: [Rule; 4] = [disabled, activity_unknown, never_used, idle];
    rules
        .iter()
        .find_map(|rule| rule(facts, policy, today))
        .unwrap_or_else(|| in_use(facts))
}

/// 1. A disabled account that still holds the licence.
pub fn disabled(facts: &Facts, _: &LicencePolicy, _: NaiveDate) -> Option<Assessment> {
    (!facts.enabled).then(|| {
        Assessment::new(
            LicenceState::DisabledHolding,
            LicenceReason::AccountDisabled,
            None,
        )
    })
}

/// 2. The source could not read activity: never guess.
pub fn activity_unknown(facts: &Facts, _: &LicencePolicy, _: NaiveDate) -> Option<Assessment> {
    (!facts.activity_available).then(|| {
        Assessment::new(
            LicenceState::UnknownActivity,
            LicenceReason::ActivityUnavailable,
            None,
        )
    })
}

/// 3. No activity: in the grace period (in use), or never used.
pub fn never_used(facts: &Facts, policy: &LicencePolicy, today: NaiveDate) -> Option<Assessment> {
    if facts.last_activity.is_some() {
        return None;
    }
    let grace = i64::from(policy.never_used_grace_days);
    Some(match facts.grace_start {
        Some(start) if (today - start).num_days() <= grace => {
            Assessment::new(LicenceState::InUse, LicenceReason::GracePeriod, Some(start))
        }
        start => Assessment::new(
            LicenceState::NeverUsed,
            LicenceReason::NoActivity,
            start.and_then(|s| s.checked_add_days(chrono::Days::new(grace as u64))),
        ),
    })
}

/// 4. Last activity older than the idle threshold.
pub fn idle(facts: &Facts, policy: &LicencePolicy, today: NaiveDate) -> Option<Assessment> {
    let last = facts.last_activity?;
    let after = i64::from(policy.idle_after_days);
    ((today - last).num_days() > after).then(|| {
        Assessment::new(
            LicenceState::Idle,
            LicenceReason::NoRecentActivity,
            last.checked_add_days(chrono::Days::new(after as u64)),
        )
    })
}

/// 5. Otherwise: recent activity (activity after `today` included).
pub fn in_use(facts: &Facts) -> Assessment {
    Assessment::new(
        LicenceState::InUse,
        LicenceReason::RecentActivity,
        facts.last_activity,
    )
}

/// A timestamp as a UTC day; year 1 (`0001-01-01T00:00:00Z`, Graph's "never") and earlier
/// count as absent.
pub fn meaningful_day(at: Option<DateTime<Utc>>) -> Option<NaiveDate> {
    at.filter(|t| t.year() > 1).map(|t| t.date_naive())
}

/// Trims and lower-cases an address; empty becomes `None`.
pub fn normalise_address(address: &str) -> Option<String> {
    let normalised = normalise_email(address);
    (!normalised.is_empty()).then_some(normalised)
}

/// Evaluates every assignment of every account as of `today` and builds the snapshot's
/// licence section. Accounts come out sorted by id, licences by pool id, pools by id;
/// addresses normalised, or pseudonymised with `pseudonymizer`.
///
/// Runs in O(accounts · licences · log pools).
pub fn evaluate_licences(
    accounts: Vec<Account>,
    pools: Vec<Pool>,
    activity_available: bool,
    policy: &LicencePolicy,
    today: NaiveDate,
    pseudonymizer: Option<&Pseudonymizer>,
) -> Result<LicenceSnapshot, PolicyError> {
    policy.validate()?;
    let mut counts = LicenceStateCounts::default();
    let mut holders: BTreeMap<String, u64> = BTreeMap::new();
    let accounts_total = accounts.len() as u64;
    let address = |raw: &str| {
        normalise_address(raw).map(|a| match pseudonymizer {
            Some(p) => p.email(&a),
            None => a,
        })
    };
    let mut records: Vec<AccountRecord> = accounts
        .into_iter()
        .map(|account| {
            let last_activity = if activity_available {
                account.last_activity.filter(|t| t.year() > 1)
            } else {
                None
            };
            let created = account.created.filter(|t| t.year() > 1);
            let mut licences: Vec<LicenceHeld> = account
                .licences
                .iter()
                .map(|held| {
                    let facts = Facts {
                        enabled: account.enabled,
                        activity_available,
                        last_activity: meaningful_day(last_activity),
                        grace_start: held.assigned.or(meaningful_day(created)),
                    };
                    let assessment = assess(&facts, policy, today);
                    counts.add(&assessment.state);
                    *holders.entry(held.pool_id.clone()).or_default() += 1;
                    LicenceHeld {
                        pool_id: held.pool_id.clone(),
                        assigned: held.assigned,
                        state: assessment.state,
                        reason: Some(assessment.reason),
                        since: assessment.since,
                    }
                })
                .collect();
            licences.sort_by(|a, b| a.pool_id.cmp(&b.pool_id));
            let mut aliases: Vec<String> = Vec::new();
            for alias in account.aliases.iter().filter_map(|a| address(a)) {
                if !aliases.contains(&alias) {
                    aliases.push(alias);
                }
            }
            AccountRecord {
                account_id: account.id,
                login: account.login.as_deref().and_then(address),
                email: account.email.as_deref().and_then(address),
                aliases,
                enabled: account.enabled,
                account_type: account.account_type,
                created,
                last_activity,
                licences,
            }
        })
        .collect();
    records.sort_by(|a, b| a.account_id.cmp(&b.account_id));
    let mut pools: Vec<LicencePool> = pools
        .into_iter()
        .map(|pool| {
            let assigned = pool
                .assigned
                .unwrap_or_else(|| holders.get(&pool.id).copied().unwrap_or(0));
            LicencePool {
                unassigned: pool.purchased.map(|p| p.saturating_sub(assigned)),
                id: pool.id,
                name: pool.name,
                application: pool.application,
                purchased: pool.purchased,
                assigned,
            }
        })
        .collect();
    pools.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(LicenceSnapshot {
        as_of: today,
        activity_available,
        policy: *policy,
        accounts_total,
        counts,
        pools,
        accounts: records,
        unparsable_records: Vec::new(),
        delta: None,
    })
}
