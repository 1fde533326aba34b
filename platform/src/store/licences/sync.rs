//! Writing an application source's accounts, licences and pools, and (re)computing the join
//! with its organisation's HR people, inside the caller's transaction.
//!
//! One function serves both sides of the join: [`sync_source`] loads the source's stored
//! accounts and licences, takes the incoming snapshot's (an app upload) or the stored ones
//! (an HR upload or a rule change: only the join moves), matches and classifies every
//! licence, and writes only what differs. `licence_history` gets a row only when a
//! licence's joined state or reason changes, so storage grows with changes, not uploads,
//! and running it twice changes nothing.

use std::collections::HashMap;

use chrono::NaiveDate;
use seatbroker_protocol::{LicenceSnapshot, LicenceState, SeatReason, SeatState};
use sqlx::{Any, AnyConnection, Row};

use crate::licence::join::{Activity, Decision};
use crate::licence::{Account, ExclusionRules, HrPerson, People, classify_known, match_account};
use crate::store::bulk::{
    BULK_ROWS, Col, analyze_after_large_write, fetch_json_rows, json_agg, json_rows, to_json,
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
}

/// Where a sync's writes are dated and attributed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SyncAt<'a> {
    /// `collected_at` of the snapshot that caused it (or now, for a rule change).
    pub(crate) at: &'a str,
    /// The snapshot (or `rule:<id>` / `approval`) history rows name.
    pub(crate) cause: &'a str,
}

/// The HR side of the organisation an app source belongs to.
async fn load_people(
    conn: &mut AnyConnection,
    backend: Backend,
    source_id: &str,
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
    let sql = format!(
        "SELECT {} AS rows FROM seats_current WHERE source_id = $1",
        json_agg(
            backend,
            &["person_id", "work_email", "state", "reason", "since"]
        )
    );
    type PersonTuple = (
        String,
        Option<String>,
        String,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<PersonTuple> = fetch_json_rows(conn, &sql, &[&hr_id]).await?;
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
/// enabled, account type, created, last activity, person, matched by, matched address.
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
);

async fn load_accounts(
    conn: &mut AnyConnection,
    backend: Backend,
    source_id: &str,
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
            ]
        )
    );
    let rows: Vec<AccountTuple> = fetch_json_rows(conn, &sql, &[source_id]).await?;
    let mut out = HashMap::with_capacity(rows.len());
    for row in rows {
        let (account_id, login, email, aliases, enabled, account_type, created, last_activity) =
            (row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7);
        out.insert(
            account_id,
            AccountRow {
                login,
                email,
                aliases: if aliases.is_empty() {
                    Vec::new()
                } else {
                    serde_json::from_str(&aliases).map_err(|error| {
                        StoreError::Corrupt(format!("stored account aliases: {error}"))
                    })?
                },
                enabled: enabled != 0,
                account_type,
                created,
                last_activity,
                person_id: row.8,
                matched_by: row.9,
                matched_address: row.10,
            },
        );
    }
    Ok(out)
}

type LicenceKey = (String, String);

/// A licence as [`load_licences`] reads it: account, pool, assigned, activity state,
/// activity reason, activity since, state, reason, since.
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
);

async fn load_licences(
    conn: &mut AnyConnection,
    backend: Backend,
    source_id: &str,
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
            ]
        )
    );
    let rows: Vec<LicenceTuple> = fetch_json_rows(conn, &sql, &[source_id]).await?;
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
            },
        );
    }
    Ok(out)
}

/// The accounts and licences of an incoming snapshot, not yet joined.
fn incoming_rows(
    snapshot: &LicenceSnapshot,
) -> (HashMap<String, AccountRow>, HashMap<LicenceKey, LicenceRow>) {
    let mut accounts = HashMap::with_capacity(snapshot.accounts.len());
    let mut licences = HashMap::new();
    for account in &snapshot.accounts {
        accounts.insert(
            account.account_id.clone(),
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
            },
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
        incoming: Option<&LicenceSnapshot>,
        when: SyncAt<'_>,
    ) -> Result<SyncReport, StoreError> {
        let mut lap = std::time::Instant::now();
        let mut laps = |name: &str| {
            tracing::debug!(source = %source_id, phase = name, ms = lap.elapsed().as_millis() as u64, "Sync phase done.");
            lap = std::time::Instant::now();
        };
        self.lock_source(conn, source_id).await?;
        let backend = self.backend();
        let people = load_people(conn, backend, source_id).await?;
        let rules = load_rules(conn).await?;
        laps("people");
        let current_accounts = load_accounts(conn, backend, source_id).await?;
        laps("accounts");
        let current_licences = load_licences(conn, backend, source_id).await?;
        laps("licences");
        let (mut accounts, mut licences) = match incoming {
            Some(snapshot) => incoming_rows(snapshot),
            None => (current_accounts.clone(), current_licences.clone()),
        };
        join(&mut accounts, &mut licences, &people, &rules)?;
        laps("join");

        let mut report = SyncReport {
            accounts: accounts.len(),
            licences: licences.len(),
            ..SyncReport::default()
        };
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
        self.write_accounts(conn, source_id, when.at, &upserts, &removed)
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
        let state_of = |row: &LicenceRow| (row.state.clone(), row.reason.clone());
        let changed: Vec<(&LicenceKey, &LicenceRow)> = licence_upserts
            .iter()
            .copied()
            .filter(|(key, row)| current_licences.get(*key).map(state_of) != Some(state_of(row)))
            .collect();
        let closing: Vec<&LicenceKey> = changed
            .iter()
            .filter(|(key, _)| current_licences.contains_key(*key))
            .map(|(key, _)| *key)
            .chain(licences_removed.iter().copied())
            .collect();
        report.state_changes = changed.len();
        report.licences_removed = licences_removed.len();
        self.write_licences(
            conn,
            source_id,
            when.at,
            &licence_upserts,
            &licences_removed,
        )
        .await?;
        laps("write licences");
        self.write_licence_history(conn, source_id, when, &closing, &changed)
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
        analyze_after_large_write(
            conn,
            backend,
            added + removed.len() + licences_removed.len(),
            &["app_accounts", "licences_current", "licence_history"],
        )
        .await?;
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
    ) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO app_accounts (source_id, account_id, login, email, aliases, enabled, account_type, \
             created, last_activity, person_id, matched_by, matched_address, first_seen, updated_at) \
             SELECT $2, c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, $3, $3 FROM ({}) AS j WHERE true \
             ON CONFLICT (source_id, account_id) DO UPDATE SET login = excluded.login, email = excluded.email, \
             aliases = excluded.aliases, enabled = excluded.enabled, account_type = excluded.account_type, \
             created = excluded.created, last_activity = excluded.last_activity, person_id = excluded.person_id, \
             matched_by = excluded.matched_by, matched_address = excluded.matched_address, \
             updated_at = excluded.updated_at",
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
                ]
            )
        );
        for chunk in upserts.chunks(BULK_ROWS) {
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
                    )
                })
                .collect();
            sqlx::query::<Any>(&sql)
                .bind(to_json(&rows)?)
                .bind(source_id)
                .bind(at)
                .execute(&mut *conn)
                .await?;
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

    async fn write_licences(
        &self,
        conn: &mut AnyConnection,
        source_id: &str,
        at: &str,
        upserts: &[(&LicenceKey, &LicenceRow)],
        removed: &[&LicenceKey],
    ) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO licences_current (source_id, account_id, pool_id, assigned, activity_state, \
             activity_reason, activity_since, state, reason, since, first_seen, updated_at) \
             SELECT $2, c0, c1, c2, c3, c4, c5, c6, c7, c8, $3, $3 FROM ({}) AS j WHERE true \
             ON CONFLICT (source_id, account_id, pool_id) DO UPDATE SET assigned = excluded.assigned, \
             activity_state = excluded.activity_state, activity_reason = excluded.activity_reason, \
             activity_since = excluded.activity_since, state = excluded.state, reason = excluded.reason, \
             since = excluded.since, updated_at = excluded.updated_at",
            json_rows(self.backend(), 1, &[Col::Text; 9])
        );
        for chunk in upserts.chunks(BULK_ROWS) {
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
                    )
                })
                .collect();
            sqlx::query::<Any>(&sql)
                .bind(to_json(&rows)?)
                .bind(source_id)
                .bind(at)
                .execute(&mut *conn)
                .await?;
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

    async fn write_licence_history(
        &self,
        conn: &mut AnyConnection,
        source_id: &str,
        when: SyncAt<'_>,
        closing: &[&LicenceKey],
        opened: &[(&LicenceKey, &LicenceRow)],
    ) -> Result<(), StoreError> {
        // Close the open rows of the closing licences: each (account, pool) pair is looked
        // up through `licence_history_licence`.
        let sql = format!(
            "UPDATE licence_history SET valid_to = $3 WHERE source_id = $2 AND valid_to IS NULL \
             AND (account_id, pool_id) IN (SELECT c0, c1 FROM ({}) AS j)",
            json_rows(self.backend(), 1, &[Col::Text, Col::Text])
        );
        for chunk in closing.chunks(BULK_ROWS) {
            let rows: Vec<_> = chunk
                .iter()
                .map(|(account_id, pool_id)| (account_id.as_str(), pool_id.as_str()))
                .collect();
            sqlx::query::<Any>(&sql)
                .bind(to_json(&rows)?)
                .bind(source_id)
                .bind(when.at)
                .execute(&mut *conn)
                .await?;
        }
        let sql = format!(
            "INSERT INTO licence_history (source_id, account_id, pool_id, state, reason, valid_from, snapshot_id) \
             SELECT $2, c0, c1, c2, c3, $3, $4 FROM ({}) AS j",
            json_rows(self.backend(), 1, &[Col::Text; 4])
        );
        for chunk in opened.chunks(BULK_ROWS) {
            let rows: Vec<_> = chunk
                .iter()
                .map(|((account_id, pool_id), row)| {
                    (
                        account_id.as_str(),
                        pool_id.as_str(),
                        row.state.as_str(),
                        row.reason.as_deref(),
                    )
                })
                .collect();
            sqlx::query::<Any>(&sql)
                .bind(to_json(&rows)?)
                .bind(source_id)
                .bind(when.at)
                .bind(when.cause)
                .execute(&mut *conn)
                .await?;
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
    /// `hr_source_id` (after an HR upload). Returns the licences whose state changed.
    pub(crate) async fn rejoin_organisation_of(
        &self,
        conn: &mut AnyConnection,
        hr_source_id: &str,
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
            changed += self.sync_source(conn, &id, None, when).await?.state_changes;
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
            changed += self.sync_source(conn, &id, None, when).await?.state_changes;
        }
        Ok(changed)
    }
}
