//! Application accounts planted from the Humaans company, shared by the Microsoft Graph
//! directory (`crate::graph`) and the seat-list generator (`crate::seat_list`).
//!
//! Every account is planted first as an [`AccountPlan`]: whose it is (a person of the
//! company, a service account, a guest, or nobody HR knows), whether it is enabled, and the
//! activity category its dates are then built for. The truth ([`AppTruth`]) counts those
//! plans; it never reads the dates back and never runs the licence rules.

pub(crate) mod dates;
pub(crate) mod truth;

use std::collections::{HashMap, HashSet};

use crate::company::{Category, Company, PlantedPerson};

pub(crate) use self::dates::{Stamp, Time};
pub use self::truth::{
    AccountCounts, AccountTotals, AppTruth, Joined, JoinedCounts, JoinedPool, Pool,
};

/// Who an account belongs to, as planted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    /// A person of the company, by position in [`Company::people`]; their work email
    /// (trimmed, lower-cased) is one of the account's addresses and no other person's is.
    Person(usize),
    /// A service account (`svc-` local part).
    Service,
    /// A guest from another organisation (Graph `userType: Guest`).
    Guest,
    /// A member account matching no person of the company.
    Unknown,
}

/// What the account's activity dates are built for (meaningful only for an enabled account
/// whose activity can be read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Activity {
    /// Last activity at most `idle_after_days` (30) before the as-of day, or after it.
    Recent,
    /// Last activity more than 30 days before the as-of day.
    Idle,
    /// No activity; the grace start (assignment or creation) at most 14 days back.
    Grace,
    /// No activity; grace start more than 14 days back, or unknown.
    Never,
}

/// One planted account: owner, enabled flag, activity category and licences (indexes into
/// the source's pools).
#[derive(Debug, Clone)]
pub(crate) struct AccountPlan {
    pub(crate) owner: Owner,
    pub(crate) enabled: bool,
    pub(crate) activity: Activity,
    pub(crate) licences: Vec<usize>,
}

/// Whether a person of the company counts as someone HR says has left: offboarded, or
/// ended but never offboarded.
pub(crate) fn has_left(category: Category) -> bool {
    matches!(
        category,
        Category::OffboardedRecent | Category::OffboardedOld | Category::EndedNotOffboarded
    )
}

/// Work emails of the company, trimmed and lower-cased, with how many people hold each.
/// An account may be planted for a person only if their address is held by them alone.
#[derive(Debug)]
pub(crate) struct HrAddresses {
    counts: HashMap<String, u32>,
}

impl HrAddresses {
    pub(crate) fn of(company: &Company) -> Self {
        let mut counts = HashMap::with_capacity(company.people().len());
        for person in company.people() {
            if let Some(email) = person.email.as_deref() {
                *counts.entry(normalise(email)).or_insert(0) += 1;
            }
        }
        Self { counts }
    }

    /// The person's address if it identifies them alone.
    pub(crate) fn unique_address(&self, person: &PlantedPerson) -> Option<String> {
        let email = normalise(person.email.as_deref()?);
        (self.counts.get(&email) == Some(&1)).then_some(email)
    }

    pub(crate) fn contains(&self, address: &str) -> bool {
        self.counts.contains_key(&normalise(address))
    }
}

pub(crate) fn normalise(address: &str) -> String {
    address.trim().to_lowercase()
}

/// Hands out addresses that are guaranteed not to be any person's work email and not to
/// repeat.
#[derive(Debug, Default)]
pub(crate) struct FreshAddresses {
    used: HashSet<String>,
}

impl FreshAddresses {
    /// `local@domain`, or `local2@domain`, `local3@domain`... when taken or an HR address.
    pub(crate) fn take(&mut self, hr: &HrAddresses, local: &str, domain: &str) -> String {
        let mut n = 1;
        loop {
            let candidate = if n == 1 {
                format!("{local}@{domain}")
            } else {
                format!("{local}{n}@{domain}")
            };
            if !hr.contains(&candidate) && self.used.insert(normalise(&candidate)) {
                return candidate;
            }
            n += 1;
        }
    }
}
