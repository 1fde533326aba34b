//! Application licences (schema 2): who holds which licence of an application, and when the
//! account was last used. Sent by app sources (`entra_id`, `seat_list`); the platform joins
//! the accounts with HR people by address.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::{AccountType, LicenceReason, LicenceState, PolicyError};

/// The rules that turn account activity into licence states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LicencePolicy {
    /// A licence whose account's last activity is more than this many days old is `idle`.
    pub idle_after_days: u32,
    /// A never-used licence assigned (or whose account was created) at most this many days
    /// ago is still `in_use` (reason `grace_period`).
    pub never_used_grace_days: u32,
}

impl Default for LicencePolicy {
    fn default() -> Self {
        Self {
            idle_after_days: 30,
            never_used_grace_days: 14,
        }
    }
}

impl LicencePolicy {
    /// Checks the policy: both windows 1 to 3650 days for idleness, 0 to 3650 for grace.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.idle_after_days == 0 || self.idle_after_days > crate::UsagePolicy::MAX_DAYS {
            return Err(PolicyError {
                field: "idle_after_days",
                value: self.idle_after_days,
                reason: "must be 1 to 3650 days",
            });
        }
        if self.never_used_grace_days > crate::UsagePolicy::MAX_DAYS {
            return Err(PolicyError {
                field: "never_used_grace_days",
                value: self.never_used_grace_days,
                reason: "must be at most 3650 days (ten years)",
            });
        }
        Ok(())
    }
}

/// Count of licence assignments (account x licence) per state. Always carries the five
/// known keys; unknown states of a newer agent are kept in `other`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LicenceStateCounts {
    pub in_use: u64,
    pub idle: u64,
    pub never_used: u64,
    pub disabled_holding: u64,
    pub unknown_activity: u64,
    #[serde(flatten)]
    pub other: BTreeMap<String, u64>,
}

impl LicenceStateCounts {
    /// Adds one assignment in `state`.
    pub fn add(&mut self, state: &LicenceState) {
        match state {
            LicenceState::InUse => self.in_use += 1,
            LicenceState::Idle => self.idle += 1,
            LicenceState::NeverUsed => self.never_used += 1,
            LicenceState::DisabledHolding => self.disabled_holding += 1,
            LicenceState::UnknownActivity => self.unknown_activity += 1,
            LicenceState::Other(name) => *self.other.entry(name.clone()).or_default() += 1,
        }
    }

    /// The count of one state.
    pub fn get(&self, state: &LicenceState) -> u64 {
        match state {
            LicenceState::InUse => self.in_use,
            LicenceState::Idle => self.idle,
            LicenceState::NeverUsed => self.never_used,
            LicenceState::DisabledHolding => self.disabled_holding,
            LicenceState::UnknownActivity => self.unknown_activity,
            LicenceState::Other(name) => self.other.get(name).copied().unwrap_or(0),
        }
    }

    /// Every assignment counted.
    pub fn total(&self) -> u64 {
        self.in_use
            + self.idle
            + self.never_used
            + self.disabled_holding
            + self.unknown_activity
            + self.other.values().sum::<u64>()
    }
}

/// One licence an account holds, with its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenceHeld {
    /// The [`LicencePool::id`] of the licence.
    pub pool_id: String,
    /// The day the licence was assigned, when the source says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned: Option<NaiveDate>,
    pub state: LicenceState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<LicenceReason>,
    /// Since when the state holds, where the rules define it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<NaiveDate>,
}

/// One account of an application, as it leaves the customer's site. Addresses are trimmed
/// and lower-cased (or keyed pseudonyms, made the same way as people's work emails, so
/// the platform can still match them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRecord {
    /// The source's id of the account (Graph object id; for a seat list the account name,
    /// else the email).
    pub account_id: String,
    /// The sign-in name (Graph `userPrincipalName`, seat-list `account`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
    /// The primary email (Graph `mail`, seat-list `email`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Further addresses, in the source's order: Graph `proxyAddresses` (without `smtp:`),
    /// then `otherMails`. Without duplicates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    pub enabled: bool,
    pub account_type: AccountType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<DateTime<Utc>>,
    /// Last activity; `None` when the account was never used or activity is unavailable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_activity: Option<DateTime<Utc>>,
    /// Licences held, sorted by pool id.
    #[serde(default)]
    pub licences: Vec<LicenceHeld>,
}

/// A licence pool: one SKU of a tenant, or one seat type of an application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicencePool {
    /// Graph `skuId`; for a seat list `<application>/<licence>`.
    pub id: String,
    /// Graph `skuPartNumber` (e.g. `ENTERPRISEPACK`); for a seat list the licence name or,
    /// for an application's single seat type, the application's name.
    pub name: String,
    /// The application (seat lists); absent for Entra ID SKUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<String>,
    /// Seats paid for, when known.
    #[serde(default)]
    pub purchased: Option<u64>,
    /// Seats assigned.
    pub assigned: u64,
    /// `max(0, purchased - assigned)`, when `purchased` is known.
    #[serde(default)]
    pub unassigned: Option<u64>,
}

/// The licence section of a snapshot from an app source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenceSnapshot {
    /// The day the states were computed for.
    pub as_of: NaiveDate,
    /// Whether the source could read account activity. When `false`, every licence held
    /// by an enabled account is `unknown_activity`, and the console says so.
    pub activity_available: bool,
    pub policy: LicencePolicy,
    /// Every account the collection returned (with or without a licence).
    pub accounts_total: u64,
    /// Licence assignments per state (accounts without a licence are not counted).
    pub counts: LicenceStateCounts,
    /// Sorted by id.
    pub pools: Vec<LicencePool>,
    /// Sorted by account id.
    pub accounts: Vec<AccountRecord>,
    /// Records that could not be read and were left out: an id, or `file:line` for a
    /// seat list, with what was wrong.
    #[serde(default)]
    pub unparsable_records: Vec<String>,
}
