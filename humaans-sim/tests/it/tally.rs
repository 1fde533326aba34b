//! An independent, straightforward count of what an application source served, by the
//! rules of `briefs/licences.md`, joined with the Humaans company's people. The simulator's
//! truth is counted from what it planted; the two must agree.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use humaans_sim::{Company, SeatReason, SeatState};
use serde_json::{Value, json};

/// One account as read from the source.
#[derive(Debug, Clone)]
pub(crate) struct Account {
    /// In matching order: mail, login, aliases, other addresses (raw).
    pub(crate) addresses: Vec<String>,
    pub(crate) excluded: bool,
    pub(crate) enabled: bool,
    /// Pool ids.
    pub(crate) licences: Vec<String>,
    pub(crate) last_activity: Option<NaiveDate>,
    pub(crate) grace_start: Option<NaiveDate>,
}

#[derive(Debug, Clone)]
pub(crate) struct PoolIn {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) purchased: Option<u64>,
    pub(crate) assigned: u64,
}

const STATES: [&str; 5] = [
    "in_use",
    "idle",
    "never_used",
    "disabled_holding",
    "unknown_activity",
];
const JOINED: [&str; 9] = [
    "excluded",
    "orphaned",
    "disabled_holding",
    "unidentified",
    "pre_hire",
    "unknown_activity",
    "never_used",
    "idle",
    "in_use",
];

fn state(account: &Account, as_of: NaiveDate, activity: bool) -> &'static str {
    if !account.enabled {
        return "disabled_holding";
    }
    if !activity {
        return "unknown_activity";
    }
    match account.last_activity {
        None => match account.grace_start {
            Some(g) if (as_of - g).num_days() <= 14 => "in_use",
            _ => "never_used",
        },
        Some(l) if (as_of - l).num_days() > 30 => "idle",
        Some(_) => "in_use",
    }
}

/// Work emails of the company, trimmed and lower-cased, with the people holding each.
pub(crate) struct Hr<'a> {
    company: &'a Company,
    by_email: HashMap<String, Vec<usize>>,
}

impl<'a> Hr<'a> {
    pub(crate) fn new(company: &'a Company) -> Self {
        let mut by_email: HashMap<String, Vec<usize>> = HashMap::new();
        for (p, person) in company.people().iter().enumerate() {
            if let Some(email) = &person.email {
                by_email
                    .entry(email.trim().to_lowercase())
                    .or_default()
                    .push(p);
            }
        }
        Self { company, by_email }
    }

    /// The person the account matches: the first of its addresses that is a work email.
    /// Panics when an account's addresses match two different people or an ambiguous
    /// address (the simulator promises never to plant either).
    fn matched(&self, account: &Account) -> Option<usize> {
        let hits: Vec<usize> = account
            .addresses
            .iter()
            .filter_map(|a| self.by_email.get(&a.trim().to_lowercase()))
            .map(|people| {
                assert_eq!(
                    people.len(),
                    1,
                    "an address of {account:?} matches several people"
                );
                people[0]
            })
            .collect();
        assert!(
            hits.windows(2).all(|w| w[0] == w[1]),
            "the addresses of {account:?} match different people"
        );
        hits.first().copied()
    }

    fn joined(&self, account: &Account, state: &'static str) -> &'static str {
        if account.excluded {
            return "excluded";
        }
        let person = self.matched(account).map(|p| &self.company.people()[p]);
        let left = person.is_some_and(|p| {
            p.expected.state == SeatState::Offboarded
                || (p.expected.state == SeatState::Inactive
                    && p.expected.reason == Some(SeatReason::EndedNotOffboarded))
        });
        if left {
            "orphaned"
        } else if !account.enabled {
            "disabled_holding"
        } else if person.is_none() {
            "unidentified"
        } else if person.is_some_and(|p| p.expected.state == SeatState::PreHire) {
            "pre_hire"
        } else {
            state
        }
    }
}

fn zero(keys: &[&str]) -> BTreeMap<String, u64> {
    keys.iter().map(|k| ((*k).to_owned(), 0)).collect()
}

/// The dry-run JSON plus `joined`, tallied from what the source served.
pub(crate) fn tally(
    kind: &str,
    as_of: NaiveDate,
    activity: bool,
    accounts: &[Account],
    mut pools: Vec<PoolIn>,
    hr: &Hr<'_>,
) -> Value {
    pools.sort_by(|a, b| a.id.cmp(&b.id));
    let mut counts = zero(&STATES);
    let mut joined = zero(&JOINED);
    let mut per_pool: HashMap<String, BTreeMap<String, u64>> = pools
        .iter()
        .map(|p| (p.id.clone(), zero(&JOINED)))
        .collect();
    for account in accounts {
        let state = state(account, as_of, activity);
        let join = hr.joined(account, state);
        for licence in &account.licences {
            *counts.get_mut(state).unwrap() += 1;
            *joined.get_mut(join).unwrap() += 1;
            *per_pool
                .get_mut(licence)
                .unwrap_or_else(|| panic!("no pool {licence}"))
                .get_mut(join)
                .unwrap() += 1;
        }
    }
    let reclaimable = |c: &BTreeMap<String, u64>| {
        c["orphaned"] + c["disabled_holding"] + c["never_used"] + c["idle"]
    };
    let unassigned = |p: &PoolIn| p.purchased.map(|n| n.saturating_sub(p.assigned));
    let total_unassigned: u64 = pools.iter().filter_map(unassigned).sum();
    json!({
        "kind": kind,
        "as_of": as_of.to_string(),
        "activity_available": activity,
        "accounts": {"total": accounts.len(), "counts": counts},
        "pools": pools.iter().map(|p| json!({
            "id": p.id, "name": p.name, "purchased": p.purchased, "assigned": p.assigned,
            "unassigned": unassigned(p),
        })).collect::<Vec<_>>(),
        "joined": {
            "counts": joined,
            "unassigned": total_unassigned,
            "reclaimable": total_unassigned + reclaimable(&joined),
            "pools": pools.iter().map(|p| {
                let c = &per_pool[&p.id];
                json!({
                    "id": p.id, "name": p.name, "counts": c, "unassigned": unassigned(p),
                    "reclaimable": unassigned(p).unwrap_or(0) + reclaimable(c),
                })
            }).collect::<Vec<_>>(),
        },
    })
}

/// A UTC date from `YYYY-MM-DD` or an RFC 3339 date-time.
pub(crate) fn date(text: &str) -> NaiveDate {
    if text.len() == 10 {
        return text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .with_timezone(&chrono::Utc)
        .date_naive()
}
