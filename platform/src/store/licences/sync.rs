//! Writing an application source's accounts, licences and pools, and (re)computing the join
//! with its organisation's HR people, inside the caller's transaction.
//!
//! One function serves both sides of the join: [`sync_source`] loads the source's stored
//! accounts and licences, takes the incoming snapshot's (an app upload) or the stored ones
//! (an HR upload or a rule change: only the join moves), matches and classifies every
//! licence, and writes only what differs. A licence's current joined state is an open
//! period kept on its `licences_current` row (`state_from`, `state_cause`);
//! `licence_history` gets a closed row only when that state or reason changes or the
//! licence disappears, so storage grows with changes, not uploads, a first load writes one
//! row per licence, and running it twice changes nothing.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use seatbroker_protocol::{
    AccountRecord, LicenceSnapshot, LicenceState, SeatReason, SeatState, digest_text,
};
use sqlx::{Any, AnyConnection, Row};

use crate::licence::join::{Activity, Decision};
use crate::licence::{
    Account, ExclusionRules, HrPerson, People, classify_known, match_account, normalise,
};
use crate::store::bulk::{
    ANALYZE_AFTER_ROWS, BULK_ROWS, Col, analyze_after_large_write, execute_rows, fetch_json_rows,
    json_agg, json_rows, json_texts, to_json,
};
use crate::store::intake::{in_list, values_list};
use crate::store::{Backend, Store, StoreError, day, parse_day, ts};

/// An account's stored columns.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AccountRow {
    login: Option<String>,
    email: Option<String>,
    aliases: Vec<String>,
    enabled: bool,
    account_type: String,
    created: Option<String>,
    last_activity: Option<String>,
    person_id: Option<String>,
    matched_by: Option<String>,
    matched_address: Option<String>,
    /// [`fingerprint`] of what the agent sent for the account and its licences, last
    /// activity left out: an upload whose fingerprint for an account is unchanged leaves
    /// that account's licences and their join as they are.
    fingerprint: String,
}

/// A stored fingerprint as a number (a damaged one is corruption, not a mismatch).
fn fingerprint_value(text: &str) -> Result<u64, StoreError> {
    u64::from_str_radix(text, 16).map_err(|_| {
        StoreError::Corrupt(format!(
            "an account fingerprint {text:?} is not 16 hex digits"
        ))
    })
}

/// A licence's stored columns.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LicenceRow {
    assigned: Option<String>,
    activity_state: String,
    activity_reason: Option<String>,
    activity_since: Option<String>,
    state: String,
    reason: Option<String>,
    since: Option<String>,
    /// When the platform first saw the licence in its current (state, reason): the open
    /// period's start, and the snapshot (or `rule:<id>` / `approval`) that opened it.
    state_from: String,
    state_cause: String,
}

/// What one sync changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SyncReport {
    pub(crate) accounts: usize,
    pub(crate) accounts_written: usize,
    pub(crate) accounts_removed: usize,
    pub(crate) licences: usize,
    /// Licences whose joined state or reason changed (new ones included).
    pub(crate) state_changes: usize,
    pub(crate) licences_removed: usize,
    /// An app upload: the digest of the source's accounts after it
    /// ([`seatbroker_protocol::accounts_digest`]).
    pub(crate) digest: Option<u64>,
}

/// What an HR upload changed that the join reads (see [`Scope::People`]).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct PeopleChange {
    /// The HR side's completeness moved (its first upload, private access granted or
    /// lost): every account's join may change.
    pub(crate) everything: bool,
    /// People who appeared or left, or whose state, reason, since-day or work email changed.
    pub(crate) people: HashSet<String>,
    /// Normalised work emails that appeared or disappeared (both the old and the new one of
    /// a changed email): an account holding one may now match someone else.
    pub(crate) addresses: HashSet<String>,
}

/// Which of an app source's accounts a sync recomputes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scope<'a> {
    /// An upload of the app source: its accounts whose fingerprint changed, the new and the
    /// removed ones.
    Snapshot(&'a LicenceSnapshot),
    /// Every account (an exclusion rule changed).
    Everything,
    /// After an HR upload: the accounts matched to a changed person, the unmatched ones,
    /// and those holding a changed address.
    People(&'a PeopleChange),
}

/// Where a sync's writes are dated and attributed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SyncAt<'a> {
    /// `collected_at` of the snapshot that caused it (or now, for a rule change).
    pub(crate) at: &'a str,
    /// The snapshot (or `rule:<id>` / `approval`) history rows name.
    pub(crate) cause: &'a str,
}

/// Joins of at most this many addresses read only the people who may hold one of them.
const SCOPED_PEOPLE_MAX_ADDRESSES: usize = 30_000;

/// Every normalised address the join may look up for `accounts` (email, login, aliases).
fn join_addresses(accounts: &HashMap<String, AccountRow>) -> HashSet<String> {
    let mut out = HashSet::with_capacity(accounts.len() * 3);
    for row in accounts.values() {
        for address in row
            .email
            .iter()
            .chain(row.login.iter())
            .chain(row.aliases.iter())
        {
            out.insert(normalise(address));
        }
    }
    out
}

/// The HR side of the organisation an app source belongs to: every person, or (`only`)
/// at least every person whose work email normalises to one of those addresses (all the
/// join of those accounts asks for, the tie-breaks between people sharing an address
/// included).
async fn load_people(
    conn: &mut AnyConnection,
    backend: Backend,
    source_id: &str,
    only: Option<&HashSet<String>>,
) -> Result<People, StoreError> {
    let hr = sqlx::query(
        "SELECT h.id, h.last_snapshot_at, h.private_access FROM sources a \
         JOIN organisations o ON o.id = a.organisation_id \
         JOIN sources h ON h.id = o.hr_source_id WHERE a.id = $1",
    )
    .bind(source_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(hr) = hr else {
        return Ok(People::default());
    };
    let hr_id: String = hr.try_get("id")?;
    let uploaded = hr
        .try_get::<Option<String>, _>("last_snapshot_at")?
        .is_some();
    let private = hr.try_get::<Option<i64>, _>("private_access")? == Some(1);
    let columns = json_agg(
        backend,
        &["person_id", "work_email", "state", "reason", "since"],
    );
    // `normalise` is Rust's trim and Unicode lower-casing. For an address of plain ASCII
    // letters, digits and `.@_+-` the database's `lower()` gives the same; any other work
    // email (spaces, `smtp:`, non-ASCII) is read anyway and left to `People` to normalise.
    // Each half has its index (migration 0070); the condition must stay as written there.
    let unusual = match backend {
        Backend::Sqlite => "lower(work_email) GLOB '*[^a-z0-9.@_+-]*'",
        Backend::Postgres => "lower(work_email) ~ '[^a-z0-9.@_+-]'",
    };
    let (sql, addresses) = match only {
        Some(addresses) => (
            format!(
                "SELECT {columns} AS rows FROM (\
                 SELECT person_id, work_email, state, reason, since FROM seats_current \
                 WHERE source_id = $1 AND lower(work_email) IN ({}) \
                 UNION SELECT person_id, work_email, state, reason, since FROM seats_current \
                 WHERE source_id = $1 AND {unusual}) AS p",
                json_texts(backend, 2)
            ),
            Some(to_json(&addresses.iter().collect::<Vec<_>>())?),
        ),
        None => (
            format!("SELECT {columns} AS rows FROM seats_current WHERE source_id = $1"),
            None,
        ),
    };
    type PersonTuple = (
        String,
        Option<String>,
        String,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<PersonTuple> = match &addresses {
        Some(list) => fetch_json_rows(conn, &sql, &[&hr_id, list]).await?,
        None => fetch_json_rows(conn, &sql, &[&hr_id]).await?,
    };
    let mut people = Vec::with_capacity(rows.len());
    for (person_id, work_email, state, reason, since) in rows {
        people.push(HrPerson {
            person_id,
            work_email,
            state: SeatState::from_wire(&state),
            reason: reason.map(|r| SeatReason::from_wire(&r)),
            since: opt_day(since)?,
        });
    }
    Ok(People::new(people, uploaded && private))
}

fn opt_day(text: Option<String>) -> Result<Option<NaiveDate>, StoreError> {
    text.map(|t| parse_day(&t)).transpose()
}

pub(crate) async fn load_rules(conn: &mut AnyConnection) -> Result<ExclusionRules, StoreError> {
    let rows = sqlx::query("SELECT kind, value FROM exclusion_rules")
        .fetch_all(&mut *conn)
        .await?;
    let pairs: Vec<(String, String)> = rows
        .iter()
        .map(|r| Ok((r.try_get("kind")?, r.try_get("value")?)))
        .collect::<Result<_, StoreError>>()?;
    Ok(ExclusionRules::new(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    ))
}

/// An account as [`load_accounts`] reads it: id, login, email, aliases (JSON or empty),
/// enabled, account type, created, last activity, person, matched by, matched address,
/// fingerprint.
type AccountTuple = (
    String,
    Option<String>,
    Option<String>,
    String,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

/// An account's stored aliases: a JSON array, or empty for none.
fn parse_aliases(stored: &str) -> Result<Vec<String>, StoreError> {
    if stored.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_str(stored)
        .map_err(|error| StoreError::Corrupt(format!("stored account aliases: {error}")))
}

/// Which of a source's stored rows a sync reads: all, or those of some accounts.
#[derive(Debug, Clone, Copy)]
enum Rows<'a> {
    All,
    Of(&'a [&'a String]),
}

/// Runs `select` (a `SELECT ... WHERE source_id = $1` built by [`json_agg`]) for all of the
/// source's rows, or for the accounts named, [`BULK_ROWS`] ids per statement.
async fn fetch_rows<T: serde::de::DeserializeOwned>(
    conn: &mut AnyConnection,
    backend: Backend,
    select: &str,
    source_id: &str,
    rows: Rows<'_>,
) -> Result<Vec<T>, StoreError> {
    match rows {
        Rows::All => fetch_json_rows(conn, select, &[source_id]).await,
        Rows::Of(ids) => {
            let sql = format!("{select} AND account_id IN ({})", json_texts(backend, 2));
            let mut out = Vec::new();
            for chunk in ids.chunks(BULK_ROWS) {
                let list = to_json(chunk)?;
                out.extend(fetch_json_rows::<T>(conn, &sql, &[source_id, &list]).await?);
            }
            Ok(out)
        }
    }
}

async fn load_accounts(
    conn: &mut AnyConnection,
    backend: Backend,
    source_id: &str,
    which: Rows<'_>,
) -> Result<HashMap<String, AccountRow>, StoreError> {
    let sql = format!(
        "SELECT {} AS rows FROM app_accounts WHERE source_id = $1",
        json_agg(
            backend,
            &[
                "account_id",
                "login",
                "email",
                "aliases",
                "enabled",
                "account_type",
                "created",
                "last_activity",
                "person_id",
                "matched_by",
                "matched_address",
                "fingerprint",
            ]
        )
    );
    let rows: Vec<AccountTuple> = fetch_rows(conn, backend, &sql, source_id, which).await?;
    let mut out = HashMap::with_capacity(rows.len());
    for row in rows {
        let (account_id, login, email, aliases, enabled, account_type, created, last_activity) =
            (row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7);
        out.insert(
            account_id,
            AccountRow {
                login,
                email,
                aliases: parse_aliases(&aliases)?,
                enabled: enabled != 0,
                account_type,
                created,
                last_activity,
                person_id: row.8,
                matched_by: row.9,
                matched_address: row.10,
                fingerprint: row.11,
            },
        );
    }
    Ok(out)
}

/// The fingerprint and last activity of a source's stored accounts (all, or those named).
async fn load_fingerprints(
    conn: &mut AnyConnection,
    backend: Backend,
    source_id: &str,
    which: Rows<'_>,
) -> Result<HashMap<String, (String, Option<String>)>, StoreError> {
    let sql = format!(
        "SELECT {} AS rows FROM app_accounts WHERE source_id = $1",
        json_agg(backend, &["account_id", "fingerprint", "last_activity"])
    );
    let rows: Vec<(String, String, Option<String>)> =
        fetch_rows(conn, backend, &sql, source_id, which).await?;
    Ok(rows
        .into_iter()
        .map(|(id, fp, last)| (id, (fp, last)))
        .collect())
}

/// The accounts of `source_id` whose join an HR change can move: matched to a changed
/// person, matched to nobody (their state depends on the HR side's completeness too), or
/// holding an address that appeared or disappeared.
async fn affected_accounts(
    conn: &mut AnyConnection,
    backend: Backend,
    source_id: &str,
    change: &PeopleChange,
) -> Result<Vec<String>, StoreError> {
    let people: Vec<&String> = change.people.iter().collect();
    if change.addresses.is_empty() {
        let sql = format!(
            "SELECT {} AS rows FROM app_accounts WHERE source_id = $1 \
             AND (person_id IS NULL OR person_id IN ({}))",
            json_agg(backend, &["account_id"]),
            json_texts(backend, 2)
        );
        let rows: Vec<(String,)> =
            fetch_json_rows(conn, &sql, &[source_id, &to_json(&people)?]).await?;
        return Ok(rows.into_iter().map(|(id,)| id).collect());
    }
    let sql = format!(
        "SELECT {} AS rows FROM app_accounts WHERE source_id = $1",
        json_agg(
            backend,
            &["account_id", "person_id", "email", "login", "aliases"]
        )
    );
    type Addresses = (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        String,
    );
    let rows: Vec<Addresses> = fetch_json_rows(conn, &sql, &[source_id]).await?;
    let mut out = Vec::new();
    for (account_id, person_id, email, login, aliases) in rows {
        let aliases = parse_aliases(&aliases)?;
        let holds_changed_address = email
            .iter()
            .chain(login.iter())
            .chain(aliases.iter())
            .any(|a| change.addresses.contains(&normalise(a)));
        let affected = match &person_id {
            None => true,
            Some(person) => change.people.contains(person),
        };
        if affected || holds_changed_address {
            out.push(account_id);
        }
    }
    Ok(out)
}

type LicenceKey = (String, String);

/// A licence as [`load_licences`] reads it: account, pool, assigned, activity state,
/// activity reason, activity since, state, reason, since, state from, state cause.
type LicenceTuple = (
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
);

async fn load_licences(
    conn: &mut AnyConnection,
    backend: Backend,
    source_id: &str,
    which: Rows<'_>,
) -> Result<HashMap<LicenceKey, LicenceRow>, StoreError> {
    let sql = format!(
        "SELECT {} AS rows FROM licences_current WHERE source_id = $1",
        json_agg(
            backend,
            &[
                "account_id",
                "pool_id",
                "assigned",
                "activity_state",
                "activity_reason",
                "activity_since",
                "state",
                "reason",
                "since",
                "state_from",
                "state_cause",
            ]
        )
    );
    let rows: Vec<LicenceTuple> = fetch_rows(conn, backend, &sql, source_id, which).await?;
    let mut out = HashMap::with_capacity(rows.len());
    for row in rows {
        out.insert(
            (row.0, row.1),
            LicenceRow {
                assigned: row.2,
                activity_state: row.3,
                activity_reason: row.4,
                activity_since: row.5,
                state: row.6,
                reason: row.7,
                since: row.8,
                state_from: row.9,
                state_cause: row.10,
            },
        );
    }
    Ok(out)
}

/// An incoming account's row, not yet joined.
fn account_row(account: &AccountRecord, fingerprint: String) -> AccountRow {
    AccountRow {
        login: account.login.clone(),
        email: account.email.clone(),
        aliases: account.aliases.clone(),
        enabled: account.enabled,
        account_type: account.account_type.as_str().to_owned(),
        created: account.created.map(ts),
        last_activity: account.last_activity.map(ts),
        person_id: None,
        matched_by: None,
        matched_address: None,
        fingerprint,
    }
}

/// The rows of incoming accounts (with their fingerprints) and of their licences, not yet
/// joined.
fn incoming_rows(
    changed: Vec<(&AccountRecord, String)>,
) -> (HashMap<String, AccountRow>, HashMap<LicenceKey, LicenceRow>) {
    let mut accounts = HashMap::with_capacity(changed.len());
    let mut licences = HashMap::with_capacity(changed.len() * 3);
    for (account, fingerprint) in changed {
        accounts.insert(
            account.account_id.clone(),
            account_row(account, fingerprint),
        );
        for held in &account.licences {
            licences.insert(
                (account.account_id.clone(), held.pool_id.clone()),
                LicenceRow {
                    assigned: held.assigned.map(day),
                    activity_state: held.state.as_str().to_owned(),
                    activity_reason: held.reason.as_ref().map(|r| r.as_str().to_owned()),
                    activity_since: held.since.map(day),
                    state: String::new(),
                    reason: None,
                    since: None,
                    state_from: String::new(),
                    state_cause: String::new(),
                },
            );
        }
    }
    (accounts, licences)
}

/// Matches every account and classifies every licence (pure).
fn join(
    accounts: &mut HashMap<String, AccountRow>,
    licences: &mut HashMap<LicenceKey, LicenceRow>,
    people: &People,
    rules: &ExclusionRules,
) -> Result<(), StoreError> {
    // Per account: the matched person and the exclusion rule, looked up once for all its
    // licences.
    let mut matched: HashMap<String, (Option<usize>, Option<&'static str>)> =
        HashMap::with_capacity(accounts.len());
    for (account_id, row) in accounts.iter_mut() {
        let account = Account {
            account_id,
            login: row.login.as_deref(),
            email: row.email.as_deref(),
            aliases: &row.aliases,
            enabled: row.enabled,
            account_type: &row.account_type,
        };
        let found = match_account(&account, people);
        let exclusion = rules.excludes(&account);
        row.person_id = found
            .as_ref()
            .map(|m| people.get(m.person).person_id.clone());
        row.matched_by = found.as_ref().map(|m| m.by.as_str().to_owned());
        row.matched_address = found.as_ref().map(|m| m.address.clone());
        matched.insert(account_id.clone(), (found.map(|m| m.person), exclusion));
    }
    for ((account_id, _), licence) in licences.iter_mut() {
        let (Some(row), Some((person, exclusion))) =
            (accounts.get(account_id), matched.get(account_id))
        else {
            continue;
        };
        let account = Account {
            account_id,
            login: row.login.as_deref(),
            email: row.email.as_deref(),
            aliases: &row.aliases,
            enabled: row.enabled,
            account_type: &row.account_type,
        };
        let person = person.map(|i| people.get(i));
        let activity_state = LicenceState::from_wire(&licence.activity_state);
        let Decision {
            state,
            reason,
            since,
        } = classify_known(
            *exclusion,
            &account,
            person,
            people.complete,
            &Activity {
                state: &activity_state,
                reason: licence.activity_reason.as_deref(),
                since: opt_day(licence.activity_since.clone())?,
            },
        );
        licence.state = state.as_str().to_owned();
        licence.reason = reason;
        licence.since = since.map(day);
    }
    Ok(())
}

/// Rows to write in batches of [`BULK_ROWS`], each with its statement: new rows (not in
/// `current`) with `upsert` stripped of its `ON CONFLICT` clause, stored ones with `upsert`.
/// New rows are plainly inserted because PostgreSQL's speculative insertion for `ON
/// CONFLICT` costs on every row; the source is locked, so nothing else adds them.
fn write_batches<'a, K: Eq + std::hash::Hash, V>(
    rows: &[(&'a K, &'a V)],
    current: &HashMap<K, V>,
    upsert: &'a str,
) -> Vec<(Vec<(&'a K, &'a V)>, &'a str)> {
    let insert = upsert
        .split_once(" ON CONFLICT")
        .map_or(upsert, |(insert, _)| insert);
    let (fresh, known): (Vec<_>, Vec<_>) = rows
        .iter()
        .copied()
        .partition(|(key, _)| !current.contains_key(*key));
    fresh
        .chunks(BULK_ROWS)
        .map(|c| (c.to_vec(), insert))
        .chain(known.chunks(BULK_ROWS).map(|c| (c.to_vec(), upsert)))
        .collect()
}

/// Carries each licence's open period over from `current` while its joined (state,
/// reason) is unchanged; a new licence, or one whose state or reason moved, opens a period
/// at `when`.
fn open_periods(
    licences: &mut HashMap<LicenceKey, LicenceRow>,
    current: &HashMap<LicenceKey, LicenceRow>,
    when: SyncAt<'_>,
) {
    for (key, row) in licences.iter_mut() {
        match current.get(key) {
            Some(before) if before.state == row.state && before.reason == row.reason => {
                row.state_from.clone_from(&before.state_from);
                row.state_cause.clone_from(&before.state_cause);
            }
            _ => {
                when.at.clone_into(&mut row.state_from);
                when.cause.clone_into(&mut row.state_cause);
            }
        }
    }
}

/// Whether a delta applies to what the platform holds: its base must be the source's last
/// applied snapshot, it may remove only accounts that are there, and the source's accounts
/// after it must add up to the digest it names. Returns that digest; refuses with
/// [`StoreError::BaseMismatch`] before anything is written.
async fn check_delta(
    conn: &mut AnyConnection,
    source_id: &str,
    delta: &seatbroker_protocol::LicenceDelta,
    stored: &HashMap<String, (String, Option<String>)>,
    incoming_digest: u64,
) -> Result<u64, StoreError> {
    let row = sqlx::query("SELECT last_snapshot_id, accounts_digest FROM sources WHERE id = $1")
        .bind(source_id)
        .fetch_one(&mut *conn)
        .await?;
    let last: Option<String> = row.try_get("last_snapshot_id")?;
    let held: Option<String> = row.try_get("accounts_digest")?;
    let mismatch = |why: String| Err(StoreError::BaseMismatch(why));
    if last.as_deref() != Some(delta.base_snapshot_id.as_str()) {
        return mismatch(format!(
            "the delta is based on snapshot {}, but the source's last applied snapshot is {}",
            delta.base_snapshot_id,
            last.as_deref().unwrap_or("none")
        ));
    }
    let Some(held) = held else {
        return mismatch(
            "the source's accounts have no digest yet (stored before this release)".to_owned(),
        );
    };
    if let Some(gone) = delta
        .removed_accounts
        .iter()
        .find(|id| !stored.contains_key(*id))
    {
        return mismatch(format!(
            "the delta removes account {gone:?}, which the source does not hold"
        ));
    }
    let mut digest = fingerprint_value(&held)?;
    for (stored_fp, _) in stored.values() {
        digest = digest.wrapping_sub(fingerprint_value(stored_fp)?);
    }
    digest = digest.wrapping_add(incoming_digest);
    if digest_text(digest) != delta.accounts_digest {
        return mismatch(format!(
            "after the delta the source's accounts add up to {}, not {} as the agent's do",
            digest_text(digest),
            delta.accounts_digest
        ));
    }
    Ok(digest)
}

impl Store {
    /// Locks an app source's row for this transaction (PostgreSQL; SQLite writes are
    /// serial anyway), so two joins of one source never interleave.
    async fn lock_source(
        &self,
        conn: &mut AnyConnection,
        source_id: &str,
    ) -> Result<(), StoreError> {
        if self.backend() == Backend::Postgres {
            sqlx::query("SELECT id FROM sources WHERE id = $1 FOR UPDATE")
                .bind(source_id)
                .fetch_optional(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// Writes `incoming` (when given) into app source `source_id` and recomputes its join;
    /// without `incoming`, only the join is recomputed. See the module docs.
    pub(crate) async fn sync_source(
        &self,
        conn: &mut AnyConnection,
        source_id: &str,
        scope: Scope<'_>,
        when: SyncAt<'_>,
    ) -> Result<SyncReport, StoreError> {
        let mut lap = std::time::Instant::now();
        let mut laps = |name: &str| {
            tracing::debug!(source = %source_id, phase = name, ms = lap.elapsed().as_millis() as u64, "Sync phase done.");
            lap = std::time::Instant::now();
        };
        self.lock_source(conn, source_id).await?;
        let backend = self.backend();
        let mut report = SyncReport::default();
        let (mut accounts, mut licences, current_accounts, current_licences, touched) = match scope
        {
            Scope::Snapshot(snapshot) => {
                report.accounts = snapshot.accounts.len();
                report.licences = snapshot.accounts.iter().map(|a| a.licences.len()).sum();
                // A whole snapshot is compared with every stored account; a delta names
                // the accounts it changes and removes, and only those are read.
                let stored = match &snapshot.delta {
                    None => load_fingerprints(conn, backend, source_id, Rows::All).await?,
                    Some(delta) => {
                        let named: Vec<&String> = snapshot
                            .accounts
                            .iter()
                            .map(|a| &a.account_id)
                            .chain(&delta.removed_accounts)
                            .collect();
                        load_fingerprints(conn, backend, source_id, Rows::Of(&named)).await?
                    }
                };
                // Accounts whose fingerprint is unchanged keep their licences and join;
                // only a moved last activity is written for them.
                let mut touched = Vec::new();
                let mut unchanged: HashSet<&str> = HashSet::new();
                let mut changed = Vec::new();
                let mut incoming_digest = 0u64;
                for account in &snapshot.accounts {
                    let value = account.fingerprint();
                    incoming_digest = incoming_digest.wrapping_add(value);
                    let fp = digest_text(value);
                    match stored.get(&account.account_id) {
                        Some((stored_fp, last)) if *stored_fp == fp => {
                            unchanged.insert(&account.account_id);
                            if *last != account.last_activity.map(ts) {
                                touched
                                    .push((account.account_id.clone(), account_row(account, fp)));
                            }
                        }
                        _ => changed.push((account, fp)),
                    }
                }
                report.digest = Some(match &snapshot.delta {
                    None => incoming_digest,
                    Some(delta) => {
                        check_delta(conn, source_id, delta, &stored, incoming_digest).await?
                    }
                });
                laps("fingerprints");
                let (accounts, licences) = incoming_rows(changed);
                // The stored side of the changed and the removed accounts (of a delta:
                // `stored` holds only the accounts it names).
                let load: Vec<&String> = stored
                    .keys()
                    .filter(|id| !unchanged.contains(id.as_str()))
                    .collect();
                let (current_accounts, current_licences) =
                    if snapshot.delta.is_none() && load.len() * 4 > stored.len() {
                        // Most accounts changed (a first load, a new fingerprint): one read
                        // of everything is cheaper than lists of ids.
                        let mut a = load_accounts(conn, backend, source_id, Rows::All).await?;
                        let mut l = load_licences(conn, backend, source_id, Rows::All).await?;
                        a.retain(|id, _| !unchanged.contains(id.as_str()));
                        l.retain(|(id, _), _| !unchanged.contains(id.as_str()));
                        (a, l)
                    } else {
                        (
                            load_accounts(conn, backend, source_id, Rows::Of(&load)).await?,
                            load_licences(conn, backend, source_id, Rows::Of(&load)).await?,
                        )
                    };
                (
                    accounts,
                    licences,
                    current_accounts,
                    current_licences,
                    touched,
                )
            }
            Scope::People(_) | Scope::Everything => {
                // Only the join moves: the stored rows are both sides. An HR change reads
                // the accounts it can move; a rule change (or a completeness change) all.
                let affected = match scope {
                    Scope::People(change) if !change.everything => {
                        Some(affected_accounts(conn, backend, source_id, change).await?)
                    }
                    _ => None,
                };
                let ids: Vec<&String> = affected.iter().flatten().collect();
                let which = if affected.is_some() {
                    Rows::Of(&ids)
                } else {
                    Rows::All
                };
                let current_accounts = load_accounts(conn, backend, source_id, which).await?;
                let current_licences = load_licences(conn, backend, source_id, which).await?;
                report.accounts = current_accounts.len();
                report.licences = current_licences.len();
                (
                    current_accounts.clone(),
                    current_licences.clone(),
                    current_accounts,
                    current_licences,
                    Vec::new(),
                )
            }
        };
        laps("load");
        if !accounts.is_empty() {
            // A rule change recomputes everything from everyone: the reference the scoped
            // joins are tested against.
            let addresses = join_addresses(&accounts);
            let only = (addresses.len() <= SCOPED_PEOPLE_MAX_ADDRESSES
                && !matches!(scope, Scope::Everything))
            .then_some(&addresses);
            let people = load_people(conn, backend, source_id, only).await?;
            let rules = load_rules(conn).await?;
            laps("people");
            join(&mut accounts, &mut licences, &people, &rules)?;
        }
        open_periods(&mut licences, &current_licences, when);
        laps("join");

        let mut upserts: Vec<(&String, &AccountRow)> = accounts
            .iter()
            .filter(|(id, row)| current_accounts.get(*id) != Some(*row))
            .collect();
        upserts.sort_by(|a, b| a.0.cmp(b.0));
        let removed: Vec<&String> = current_accounts
            .keys()
            .filter(|id| !accounts.contains_key(*id))
            .collect();
        report.accounts_written = upserts.len();
        report.accounts_removed = removed.len();
        laps("diff accounts");
        self.write_accounts(
            conn,
            source_id,
            when.at,
            &upserts,
            &removed,
            &current_accounts,
        )
        .await?;
        self.write_last_activity(conn, source_id, when.at, &touched)
            .await?;
        laps("write accounts");

        let mut licence_upserts: Vec<(&LicenceKey, &LicenceRow)> = licences
            .iter()
            .filter(|(key, row)| current_licences.get(*key) != Some(*row))
            .collect();
        licence_upserts.sort_by(|a, b| a.0.cmp(b.0));
        let licences_removed: Vec<&LicenceKey> = current_licences
            .keys()
            .filter(|key| !licences.contains_key(*key))
            .collect();
        // A licence keeps its open period while its joined (state, reason) stays; a new
        // or changed one opens a period now, and the one it leaves is closed into history.
        let mut closing: Vec<(&LicenceKey, &LicenceRow)> = licences_removed
            .iter()
            .filter_map(|key| current_licences.get_key_value(*key))
            .collect();
        for (key, row) in &licence_upserts {
            if let Some(before) = current_licences.get(*key)
                && (before.state != row.state || before.reason != row.reason)
            {
                closing.push((*key, before));
            }
        }
        report.state_changes = licence_upserts
            .iter()
            .filter(|(key, row)| {
                current_licences
                    .get(*key)
                    .is_none_or(|before| before.state != row.state || before.reason != row.reason)
            })
            .count();
        report.licences_removed = licences_removed.len();
        self.write_licences(
            conn,
            source_id,
            when.at,
            &licence_upserts,
            &licences_removed,
            &current_licences,
        )
        .await?;
        laps("write licences");
        self.write_licence_history(conn, source_id, when, &closing)
            .await?;
        laps("write history");
        let added = upserts
            .iter()
            .filter(|(id, _)| !current_accounts.contains_key(*id))
            .count()
            + licence_upserts
                .iter()
                .filter(|(key, _)| !current_licences.contains_key(*key))
                .count();
        const TABLES: [&str; 6] = [
            "app_accounts",
            "licences_current",
            "licence_history",
            // Small, but every licence query joins them: see migration 0050.
            "sources",
            "organisations",
            "licence_pools",
        ];
        let grown = added + removed.len() + licences_removed.len();
        analyze_after_large_write(conn, backend, grown, &TABLES).await?;
        // A join that moved many licences between states shifts the distributions the
        // Reclaim queries are planned from; the tables look as large as before, so the
        // refresh can wait until the apply has committed.
        if grown < ANALYZE_AFTER_ROWS && report.state_changes >= ANALYZE_AFTER_ROWS {
            self.after_commit().analyze_soon(&TABLES);
        }
        laps("analyze");
        Ok(report)
    }

    async fn write_accounts(
        &self,
        conn: &mut AnyConnection,
        source_id: &str,
        at: &str,
        upserts: &[(&String, &AccountRow)],
        removed: &[&String],
        current: &HashMap<String, AccountRow>,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO app_accounts (source_id, account_id, login, email, aliases, enabled, account_type, \
             created, last_activity, person_id, matched_by, matched_address, fingerprint, first_seen, updated_at) \
             SELECT $2, c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, $3, $3 FROM ({}) AS j WHERE true \
             ON CONFLICT (source_id, account_id) DO UPDATE SET login = excluded.login, email = excluded.email, \
             aliases = excluded.aliases, enabled = excluded.enabled, account_type = excluded.account_type, \
             created = excluded.created, last_activity = excluded.last_activity, person_id = excluded.person_id, \
             matched_by = excluded.matched_by, matched_address = excluded.matched_address, \
             fingerprint = excluded.fingerprint, updated_at = excluded.updated_at",
            json_rows(
                self.backend(),
                1,
                &[
                    Col::Text,
                    Col::Text,
                    Col::Text,
                    Col::Text,
                    Col::Int,
                    Col::Text,
                    Col::Text,
                    Col::Text,
                    Col::Text,
                    Col::Text,
                    Col::Text,
                    Col::Text,
                ]
            )
        );
        for (chunk, sql) in write_batches(upserts, current, &sql) {
            let rows: Vec<_> = chunk
                .iter()
                .map(|(account_id, row)| {
                    let aliases = if row.aliases.is_empty() {
                        String::new()
                    } else {
                        serde_json::to_string(&row.aliases).unwrap_or_default()
                    };
                    (
                        account_id.as_str(),
                        row.login.as_deref(),
                        row.email.as_deref(),
                        aliases,
                        i64::from(row.enabled),
                        row.account_type.as_str(),
                        row.created.as_deref(),
                        row.last_activity.as_deref(),
                        row.person_id.as_deref(),
                        row.matched_by.as_deref(),
                        row.matched_address.as_deref(),
                        row.fingerprint.as_str(),
                    )
                })
                .collect();
            execute_rows(conn, sql, &rows, &[source_id, at]).await?;
        }
        for chunk in removed.chunks(self.batch_rows(1)) {
            let sql = format!(
                "DELETE FROM app_accounts WHERE source_id = $1 AND account_id IN ({})",
                in_list(chunk.len(), 1)
            );
            let mut query = sqlx::query::<Any>(&sql).bind(source_id);
            for id in chunk {
                query = query.bind(id.as_str());
            }
            query.execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// Writes the last activity of accounts that changed nothing else. Their rows exist (the
    /// source is locked and they were just read); the statement is an upsert rather than an
    /// `UPDATE ... FROM` so that every backend and planner drives it from the primary key.
    async fn write_last_activity(
        &self,
        conn: &mut AnyConnection,
        source_id: &str,
        at: &str,
        touched: &[(String, AccountRow)],
    ) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO app_accounts (source_id, account_id, enabled, account_type, last_activity, \
             fingerprint, first_seen, updated_at) \
             SELECT $2, c0, c1, c2, c3, c4, $3, $3 FROM ({}) AS j WHERE true \
             ON CONFLICT (source_id, account_id) DO UPDATE SET last_activity = excluded.last_activity, \
             updated_at = excluded.updated_at",
            json_rows(
                self.backend(),
                1,
                &[Col::Text, Col::Int, Col::Text, Col::Text, Col::Text]
            )
        );
        for chunk in touched.chunks(BULK_ROWS) {
            let rows: Vec<_> = chunk
                .iter()
                .map(|(account_id, row)| {
                    (
                        account_id.as_str(),
                        i64::from(row.enabled),
                        row.account_type.as_str(),
                        row.last_activity.as_deref(),
                        row.fingerprint.as_str(),
                    )
                })
                .collect();
            execute_rows(conn, &sql, &rows, &[source_id, at]).await?;
        }
        Ok(())
    }

    async fn write_licences(
        &self,
        conn: &mut AnyConnection,
        source_id: &str,
        at: &str,
        upserts: &[(&LicenceKey, &LicenceRow)],
        removed: &[&LicenceKey],
        current: &HashMap<LicenceKey, LicenceRow>,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO licences_current (source_id, account_id, pool_id, assigned, activity_state, \
             activity_reason, activity_since, state, reason, since, state_from, state_cause, first_seen, updated_at) \
             SELECT $2, c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, $3, $3 FROM ({}) AS j WHERE true \
             ON CONFLICT (source_id, account_id, pool_id) DO UPDATE SET assigned = excluded.assigned, \
             activity_state = excluded.activity_state, activity_reason = excluded.activity_reason, \
             activity_since = excluded.activity_since, state = excluded.state, reason = excluded.reason, \
             since = excluded.since, state_from = excluded.state_from, state_cause = excluded.state_cause, \
             updated_at = excluded.updated_at",
            json_rows(self.backend(), 1, &[Col::Text; 11])
        );
        for (chunk, sql) in write_batches(upserts, current, &sql) {
            let rows: Vec<_> = chunk
                .iter()
                .map(|((account_id, pool_id), row)| {
                    (
                        account_id.as_str(),
                        pool_id.as_str(),
                        row.assigned.as_deref(),
                        row.activity_state.as_str(),
                        row.activity_reason.as_deref(),
                        row.activity_since.as_deref(),
                        row.state.as_str(),
                        row.reason.as_deref(),
                        row.since.as_deref(),
                        row.state_from.as_str(),
                        row.state_cause.as_str(),
                    )
                })
                .collect();
            execute_rows(conn, sql, &rows, &[source_id, at]).await?;
        }
        // Grouped by pool, so each statement is an IN list on the primary key's prefix.
        let mut by_pool: HashMap<&str, Vec<&str>> = HashMap::new();
        for (account_id, pool_id) in removed {
            by_pool
                .entry(pool_id.as_str())
                .or_default()
                .push(account_id.as_str());
        }
        for (pool_id, accounts) in by_pool {
            for chunk in accounts.chunks(self.batch_rows(1)) {
                let sql = format!(
                    "DELETE FROM licences_current WHERE source_id = $1 AND pool_id = $2 AND account_id IN ({})",
                    in_list(chunk.len(), 2)
                );
                let mut query = sqlx::query::<Any>(&sql).bind(source_id).bind(pool_id);
                for account_id in chunk {
                    query = query.bind(*account_id);
                }
                query.execute(&mut *conn).await?;
            }
        }
        Ok(())
    }

    /// Appends the closed periods of licences that changed state or disappeared: their
    /// state as stored until now, from its open period's start to `when`.
    async fn write_licence_history(
        &self,
        conn: &mut AnyConnection,
        source_id: &str,
        when: SyncAt<'_>,
        closed: &[(&LicenceKey, &LicenceRow)],
    ) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO licence_history (source_id, account_id, pool_id, state, reason, valid_from, valid_to, snapshot_id) \
             SELECT $2, c0, c1, c2, c3, c4, $3, c5 FROM ({}) AS j",
            json_rows(self.backend(), 1, &[Col::Text; 6])
        );
        for chunk in closed.chunks(BULK_ROWS) {
            let rows: Vec<_> = chunk
                .iter()
                .map(|((account_id, pool_id), row)| {
                    (
                        account_id.as_str(),
                        pool_id.as_str(),
                        row.state.as_str(),
                        row.reason.as_deref(),
                        row.state_from.as_str(),
                        row.state_cause.as_str(),
                    )
                })
                .collect();
            execute_rows(conn, &sql, &rows, &[source_id, when.at]).await?;
        }
        Ok(())
    }

    /// Replaces an app source's pools with the snapshot's.
    pub(crate) async fn write_pools(
        &self,
        conn: &mut AnyConnection,
        source_id: &str,
        snapshot: &LicenceSnapshot,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM licence_pools WHERE source_id = $1")
            .bind(source_id)
            .execute(&mut *conn)
            .await?;
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        for chunk in snapshot.pools.chunks(self.batch_rows(7)) {
            let sql = format!(
                "INSERT INTO licence_pools (source_id, pool_id, name, application, purchased, assigned, unassigned) VALUES {}",
                values_list(chunk.len(), 7, 0)
            );
            let mut query = sqlx::query::<Any>(&sql);
            for pool in chunk {
                query = query
                    .bind(source_id)
                    .bind(pool.id.as_str())
                    .bind(pool.name.as_str())
                    .bind(pool.application.as_deref())
                    .bind(pool.purchased.map(n))
                    .bind(n(pool.assigned))
                    .bind(pool.unassigned.map(n));
            }
            query.execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// Recomputes the join of every app source of the organisation whose HR source is
    /// `hr_source_id` after an HR upload, for the accounts `change` can move. Returns the
    /// licences whose state changed.
    pub(crate) async fn rejoin_organisation_of(
        &self,
        conn: &mut AnyConnection,
        hr_source_id: &str,
        change: &PeopleChange,
        when: SyncAt<'_>,
    ) -> Result<usize, StoreError> {
        let rows = sqlx::query(
            "SELECT a.id FROM sources a JOIN organisations o ON o.id = a.organisation_id \
             WHERE o.hr_source_id = $1 AND a.id <> $1 ORDER BY a.id",
        )
        .bind(hr_source_id)
        .fetch_all(&mut *conn)
        .await?;
        let mut changed = 0;
        for row in &rows {
            let id: String = row.try_get("id")?;
            changed += self
                .sync_source(conn, &id, Scope::People(change), when)
                .await?
                .state_changes;
        }
        Ok(changed)
    }

    /// Recomputes the join of every app source (after an exclusion rule changed).
    pub(crate) async fn rejoin_all(
        &self,
        conn: &mut AnyConnection,
        when: SyncAt<'_>,
    ) -> Result<usize, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM sources WHERE kind IN ('entra_id', 'seat_list') ORDER BY id",
        )
        .fetch_all(&mut *conn)
        .await?;
        let mut changed = 0;
        for row in &rows {
            let id: String = row.try_get("id")?;
            changed += self
                .sync_source(conn, &id, Scope::Everything, when)
                .await?
                .state_changes;
        }
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use seatbroker_protocol::{AccountType, LicenceHeld, LicenceReason};

    use super::*;

    fn held(pool: &str, state: LicenceState) -> LicenceHeld {
        LicenceHeld {
            pool_id: pool.to_owned(),
            assigned: None,
            state,
            reason: Some(LicenceReason::RecentActivity),
            since: None,
        }
    }

    fn account() -> AccountRecord {
        AccountRecord {
            account_id: "a1".to_owned(),
            login: Some("ana@acme.test".to_owned()),
            email: None,
            aliases: vec!["smtp:ana@acme.test".to_owned()],
            enabled: true,
            account_type: AccountType::Member,
            created: Some(Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap()),
            last_activity: Some(Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()),
            licences: vec![
                held("e3", LicenceState::InUse),
                held("e5", LicenceState::Idle),
            ],
        }
    }

    /// An account's fingerprint as stored.
    fn fingerprint(account: &AccountRecord) -> String {
        digest_text(account.fingerprint())
    }

    #[test]
    fn fingerprints_ignore_sign_ins_and_licence_order_only() {
        let base = fingerprint(&account());
        assert_eq!(base.len(), 16);
        let mut signed_in = account();
        signed_in.last_activity = None;
        assert_eq!(fingerprint(&signed_in), base);
        let mut reordered = account();
        reordered.licences.reverse();
        assert_eq!(fingerprint(&reordered), base);

        let changes: [fn(&mut AccountRecord); 8] = [
            |a| a.login = None,
            // Moving a value between fields is a change (fields are length-prefixed).
            |a| a.email = a.login.take(),
            |a| a.aliases.clear(),
            |a| a.enabled = false,
            |a| a.account_type = AccountType::Guest,
            |a| a.created = None,
            |a| a.licences[0].state = LicenceState::Idle,
            |a| a.licences[1].since = NaiveDate::from_ymd_opt(2026, 1, 1),
        ];
        for (i, change) in changes.iter().enumerate() {
            let mut changed = account();
            change(&mut changed);
            assert_ne!(fingerprint(&changed), base, "change {i}");
        }
    }
}
