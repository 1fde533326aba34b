//! Application licences (schema 2): who holds which licence of an application, and when the
//! account was last used. Sent by app sources (`entra_id`, `seat_list`); the platform joins
//! the accounts with HR people by address.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
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

impl AccountRecord {
    /// A hash of everything the agent says about the account and its licences except its
    /// last activity (which moves on most collections and is compared on its own): 64-bit
    /// FNV-1a over the length-prefixed fields, licences in pool order. Stable across
    /// releases and processes (no random seed). The platform stores it per account to skip
    /// unchanged ones, and the sum of all of them is a source's [`accounts_digest`].
    pub fn fingerprint(&self) -> u64 {
        struct Fnv(u64);
        impl Fnv {
            fn bytes(&mut self, bytes: &[u8]) {
                for b in bytes {
                    self.0 ^= u64::from(*b);
                    self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
                }
            }
            /// A text field, length first (absent: a length no text has).
            fn text(&mut self, value: Option<&str>) {
                let len = value.map_or(u64::MAX, |v| v.len() as u64);
                self.bytes(&len.to_le_bytes());
                self.bytes(value.map_or(&[][..], str::as_bytes));
            }
            fn number(&mut self, value: Option<i64>) {
                self.bytes(&[u8::from(value.is_some())]);
                self.bytes(&value.unwrap_or(0).to_le_bytes());
            }
        }
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        h.text(Some(&self.account_id));
        h.text(self.login.as_deref());
        h.text(self.email.as_deref());
        h.number(Some(self.aliases.len() as i64));
        for alias in &self.aliases {
            h.text(Some(alias));
        }
        h.number(Some(i64::from(self.enabled)));
        h.text(Some(self.account_type.as_str()));
        h.number(self.created.map(|t| t.timestamp_micros()));
        let mut held: Vec<_> = self.licences.iter().collect();
        held.sort_by(|a, b| a.pool_id.cmp(&b.pool_id));
        h.number(Some(held.len() as i64));
        let day = |d: Option<NaiveDate>| d.map(|d| i64::from(d.num_days_from_ce()));
        for licence in held {
            h.text(Some(&licence.pool_id));
            h.number(day(licence.assigned));
            h.text(Some(licence.state.as_str()));
            h.text(licence.reason.as_ref().map(|r| r.as_str()));
            h.number(day(licence.since));
        }
        h.0
    }
}

/// The digest of a set of accounts, independent of their order: the wrapping sum of their
/// [`AccountRecord::fingerprint`]s. Adding or removing an account adds or subtracts its
/// fingerprint, so the platform keeps a source's digest up to date from the accounts an
/// upload changes, and compares it with the one a delta names.
pub fn accounts_digest(fingerprints: impl IntoIterator<Item = u64>) -> u64 {
    fingerprints.into_iter().fold(0u64, u64::wrapping_add)
}

/// [`accounts_digest`] (or a fingerprint) as it travels and is stored: 16 hex digits.
pub fn digest_text(digest: u64) -> String {
    format!("{digest:016x}")
}

/// Marks a licence section that carries only what changed since a snapshot the platform
/// already applied (sent only to a platform whose status says `accepts_licence_deltas`:
/// an older one would take the section for the whole collection). Its `accounts` are the
/// accounts that are new or differ from the base in any field, last activity included;
/// every other field of the section (the counts, pools, totals, `as_of`) describes the
/// whole collection as always.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenceDelta {
    /// The snapshot this one changes: the source's last snapshot the platform applied, as
    /// its acknowledgement told the agent. Any other and the platform refuses the upload
    /// with `base_mismatch`, and the agent sends the snapshot whole.
    pub base_snapshot_id: String,
    /// Ids of the base's accounts the collection no longer returned. Sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed_accounts: Vec<String>,
    /// [`accounts_digest`] of every account of the whole collection, as [`digest_text`]:
    /// after applying the delta the platform's digest of the source must equal it, or the
    /// apply is rolled back and refused with `base_mismatch`.
    pub accounts_digest: String,
}

/// What an agent keeps of each account of the last snapshot the platform applied, to send
/// the next one as a delta: its [`AccountRecord::fingerprint`] (as [`digest_text`]) and its
/// last activity, which the fingerprint leaves out.
pub type AccountMarks = BTreeMap<String, (String, Option<DateTime<Utc>>)>;

impl LicenceSnapshot {
    /// The marks of this (whole) section's accounts.
    pub fn marks(&self) -> AccountMarks {
        self.accounts
            .iter()
            .map(|a| {
                (
                    a.account_id.clone(),
                    (digest_text(a.fingerprint()), a.last_activity),
                )
            })
            .collect()
    }

    /// This whole section as a delta against the applied snapshot `base_snapshot_id`,
    /// whose accounts `base` marks: only the accounts that are new or differ in any field,
    /// the ids of those that are gone, and the digest of all of this section's accounts.
    pub fn delta_against(&self, base_snapshot_id: &str, base: &AccountMarks) -> LicenceSnapshot {
        let mut digest = 0u64;
        let mut accounts = Vec::new();
        let mut present = std::collections::HashSet::with_capacity(self.accounts.len());
        for account in &self.accounts {
            let fingerprint = account.fingerprint();
            digest = digest.wrapping_add(fingerprint);
            present.insert(account.account_id.as_str());
            let same = base.get(&account.account_id).is_some_and(|(fp, last)| {
                *fp == digest_text(fingerprint) && *last == account.last_activity
            });
            if !same {
                accounts.push(account.clone());
            }
        }
        let removed_accounts = base
            .keys()
            .filter(|id| !present.contains(id.as_str()))
            .cloned()
            .collect();
        LicenceSnapshot {
            accounts,
            delta: Some(LicenceDelta {
                base_snapshot_id: base_snapshot_id.to_owned(),
                removed_accounts,
                accounts_digest: digest_text(digest),
            }),
            as_of: self.as_of,
            activity_available: self.activity_available,
            policy: self.policy,
            accounts_total: self.accounts_total,
            counts: self.counts.clone(),
            pools: self.pools.clone(),
            unparsable_records: self.unparsable_records.clone(),
        }
    }
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
    /// Sorted by account id. In a [`delta`](Self::delta), only the new and changed ones.
    pub accounts: Vec<AccountRecord>,
    /// Records that could not be read and were left out: an id, or `file:line` for a
    /// seat list, with what was wrong.
    #[serde(default)]
    pub unparsable_records: Vec<String>,
    /// Set when `accounts` holds only what changed since an applied snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<LicenceDelta>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(id: &str, state: LicenceState) -> AccountRecord {
        AccountRecord {
            account_id: id.to_owned(),
            login: Some(format!("{id}@acme.test")),
            email: Some(format!("{id}@acme.test")),
            aliases: Vec::new(),
            enabled: true,
            account_type: AccountType::Member,
            created: None,
            last_activity: None,
            licences: vec![LicenceHeld {
                pool_id: "sku-e3".to_owned(),
                assigned: None,
                state,
                reason: None,
                since: None,
            }],
        }
    }

    fn section(accounts: Vec<AccountRecord>) -> LicenceSnapshot {
        LicenceSnapshot {
            as_of: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            activity_available: true,
            policy: LicencePolicy::default(),
            accounts_total: accounts.len() as u64,
            counts: LicenceStateCounts::default(),
            pools: Vec::new(),
            accounts,
            unparsable_records: Vec::new(),
            delta: None,
        }
    }

    #[test]
    fn a_delta_carries_what_changed_and_the_digest_of_the_whole() {
        let base = section(vec![
            account("a", LicenceState::InUse),
            account("b", LicenceState::InUse),
            account("c", LicenceState::InUse),
            account("d", LicenceState::Idle),
        ]);
        let marks = base.marks();
        let mut signed_in = account("b", LicenceState::InUse);
        signed_in.last_activity = Some(DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap());
        let whole = section(vec![
            account("a", LicenceState::InUse),
            signed_in,
            account("c", LicenceState::Idle),
            account("e", LicenceState::NeverUsed),
        ]);
        let delta = whole.delta_against("s1", &marks);
        let sent: Vec<&str> = delta
            .accounts
            .iter()
            .map(|a| a.account_id.as_str())
            .collect();
        // Unchanged `a` stays home; a sign-in, a state change and a new account go.
        assert_eq!(sent, ["b", "c", "e"]);
        let meta = delta.delta.as_ref().unwrap();
        assert_eq!(meta.base_snapshot_id, "s1");
        assert_eq!(meta.removed_accounts, ["d"]);
        assert_eq!(
            meta.accounts_digest,
            digest_text(accounts_digest(
                whole.accounts.iter().map(AccountRecord::fingerprint)
            ))
        );
        // The digest moves by exactly what the delta changes.
        let before = accounts_digest(base.accounts.iter().map(AccountRecord::fingerprint));
        let after = before
            .wrapping_sub(account("c", LicenceState::InUse).fingerprint())
            .wrapping_sub(account("d", LicenceState::Idle).fingerprint())
            .wrapping_add(account("c", LicenceState::Idle).fingerprint())
            .wrapping_add(account("e", LicenceState::NeverUsed).fingerprint());
        assert_eq!(digest_text(after), meta.accounts_digest);
        // Against itself a collection is an empty delta.
        let empty = whole.delta_against("s2", &whole.marks());
        assert!(empty.accounts.is_empty());
        assert!(empty.delta.unwrap().removed_accounts.is_empty());
    }
}
