//! The console's queries: users, sessions, login limits, and the report queries.
//!
//! Report rows are the types of [`crate::reports`]; pure logic (health, trend filling)
//! lives there, this file only reads and writes rows. Domain rules are not derived here:
//! staleness is [`model::health`] (the only rule), and agents, pending links and merge
//! candidates come from the domain functions in `agents.rs` and `sources.rs`.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use sqlx::Row;

use super::{Store, StoreError, audit, day, new_id, parse_day, parse_opt_ts, parse_ts, ts};
use crate::auth::{LoginUser, Role, SessionUser};
use crate::reports::model::{
    self, DailyRow, DepartmentRow, FindingCount, FindingRow, OverviewRow, SeatFilter,
    SeatFilterChoices, SeatRow, TrendPoint, UserRow,
};

fn opt_bool(value: Option<i64>) -> Option<bool> {
    value.map(|v| v != 0)
}

fn role_of(text: &str) -> Result<Role, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("unknown role {text:?} in users")))
}

impl Store {
    // ----- users -----

    /// Number of console users (disabled ones included).
    pub(crate) async fn count_users(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM users")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Creates a user with an already computed argon2id hash, or, when the username
    /// exists, replaces its password hash and role and enables it. Writes the audit log.
    /// Returns whether a new user was created.
    pub async fn upsert_user(
        &self,
        actor: &str,
        username: &str,
        role: Role,
        password_hash: &str,
    ) -> Result<bool, StoreError> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let existing = sqlx::query("SELECT id, role, disabled FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&mut *tx)
            .await?;
        let created = match existing {
            Some(row) => {
                let id: String = row.try_get("id")?;
                let was_admin = row.try_get::<String, _>("role")? == "admin"
                    && row.try_get::<i64, _>("disabled")? == 0;
                if was_admin && role != Role::Admin {
                    keep_an_admin(&mut tx, &id, username).await?;
                }
                sqlx::query(
                    "UPDATE users SET password_hash = $1, role = $2, disabled = 0 WHERE id = $3",
                )
                .bind(password_hash)
                .bind(role.as_str())
                .bind(&id)
                .execute(&mut *tx)
                .await?;
                // A reset password ends every session of the user, and lifts the lock that
                // failed logins put on the account (an attacker can cause one at will; the
                // reset is the documented way out).
                sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM login_attempts WHERE key = $1")
                    .bind(format!("user:{}", username.to_lowercase()))
                    .execute(&mut *tx)
                    .await?;
                false
            }
            None => {
                sqlx::query(
                    "INSERT INTO users (id, username, password_hash, role, created_at, disabled) \
                     VALUES ($1, $2, $3, $4, $5, 0)",
                )
                .bind(new_id())
                .bind(username)
                .bind(password_hash)
                .bind(role.as_str())
                .bind(ts(now))
                .execute(&mut *tx)
                .await?;
                true
            }
        };
        let action = if created {
            "user.create"
        } else {
            "user.reset_password"
        };
        audit::write(
            &mut tx,
            now,
            actor,
            action,
            username,
            &serde_json::json!({"role": role.as_str()}),
        )
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    /// Creates the first user only if there is no user at all. Returns whether it did
    /// (another process may have been first).
    pub(crate) async fn create_first_user(
        &self,
        username: &str,
        password_hash: &str,
    ) -> Result<bool, StoreError> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let n: i64 = sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM users")
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        if n > 0 {
            return Ok(false);
        }
        let inserted = sqlx::query(
            "INSERT INTO users (id, username, password_hash, role, created_at, disabled) \
             VALUES ($1, $2, $3, 'admin', $4, 0) ON CONFLICT (username) DO NOTHING",
        )
        .bind(new_id())
        .bind(username)
        .bind(password_hash)
        .bind(ts(now))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Ok(false);
        }
        audit::write(
            &mut tx,
            now,
            "system",
            "user.create",
            username,
            &serde_json::json!({"role": "admin", "first_start": true}),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    pub(crate) async fn user_for_login(
        &self,
        username: &str,
    ) -> Result<Option<LoginUser>, StoreError> {
        let row = sqlx::query(
            "SELECT id, username, role, password_hash, disabled FROM users WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| {
            Ok(LoginUser {
                user_id: row.try_get("id")?,
                username: row.try_get("username")?,
                role: role_of(&row.try_get::<String, _>("role")?)?,
                password_hash: row.try_get("password_hash")?,
                disabled: row.try_get::<i64, _>("disabled")? != 0,
            })
        })
        .transpose()
    }

    pub(crate) async fn list_users(&self) -> Result<Vec<UserRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, username, role, created_at, disabled FROM users ORDER BY username",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(UserRow {
                    id: row.try_get("id")?,
                    username: row.try_get("username")?,
                    role: role_of(&row.try_get::<String, _>("role")?)?,
                    created_at: parse_ts(&row.try_get::<String, _>("created_at")?)?,
                    disabled: row.try_get::<i64, _>("disabled")? != 0,
                })
            })
            .collect()
    }

    /// Disables or enables a user; disabling ends its sessions. A user cannot disable
    /// themself, and the last enabled admin cannot be disabled.
    pub async fn set_user_disabled(
        &self,
        actor: &SessionUser,
        username: &str,
        disabled: bool,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let row = sqlx::query("SELECT id, role FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::not_found("user", username))?;
        let id: String = row.try_get("id")?;
        let role: String = row.try_get("role")?;
        if disabled {
            if id == actor.user_id {
                return Err(StoreError::InvalidState(
                    "you cannot disable your own account; ask another admin".into(),
                ));
            }
            if role == "admin" {
                keep_an_admin(&mut tx, &id, username).await?;
            }
        }
        sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
            .bind(i64::from(disabled))
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        if disabled {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(&id)
                .execute(&mut *tx)
                .await?;
        }
        let action = if disabled {
            "user.disable"
        } else {
            "user.enable"
        };
        audit::write(
            &mut tx,
            now,
            &actor.username,
            action,
            username,
            &serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    // ----- sessions -----

    pub(crate) async fn create_session(
        &self,
        user_id: &str,
        id_hash: &str,
        csrf: &str,
        lifetime: Duration,
    ) -> Result<(), StoreError> {
        let now = self.now();
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at, last_seen_at) \
             VALUES ($1, $2, $3, $4, $5, $4)",
        )
        .bind(id_hash)
        .bind(user_id)
        .bind(csrf)
        .bind(ts(now))
        .bind(ts(now + lifetime))
        .execute(self.pool())
        .await?;
        // Housekeeping: expired sessions of anyone go now.
        sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(ts(now))
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The user of an unexpired session of an enabled user.
    pub(crate) async fn session_user(
        &self,
        id_hash: &str,
    ) -> Result<Option<SessionUser>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT s.csrf_token, u.id, u.username, u.role, \
                 (SELECT CAST(COUNT(*) AS BIGINT) FROM agents a WHERE {}) AS waiting \
                 FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.id_hash = $1 AND s.expires_at > $2 AND u.disabled = 0",
            super::sources::WAITING_AGENT
        ))
        .bind(id_hash)
        .bind(ts(self.now()))
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| {
            Ok(SessionUser {
                user_id: row.try_get("id")?,
                username: row.try_get("username")?,
                role: role_of(&row.try_get::<String, _>("role")?)?,
                csrf: row.try_get("csrf_token")?,
                session_hash: id_hash.to_owned(),
                pending_approvals: row.try_get("waiting")?,
            })
        })
        .transpose()
    }

    pub(crate) async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    // ----- login rate limits (fixed windows shared by every process) -----

    /// Reserves one login attempt for `key` before the password is checked, in one
    /// statement, so concurrent attempts (in any process) cannot all read the same count:
    /// `true` when fewer than `limit` attempts are counted in the current window (the count
    /// is then one higher), `false` when the limit is reached (nothing changes). A failed
    /// attempt keeps its reservation; [`Store::release_login_attempt`] gives one back.
    pub(crate) async fn reserve_login_attempt(
        &self,
        key: &str,
        window: Duration,
        limit: u64,
    ) -> Result<bool, StoreError> {
        let now = self.now().timestamp();
        let cutoff = now - window.num_seconds();
        let row = sqlx::query(
            "INSERT INTO login_attempts (key, window_start, count) VALUES ($1, $2, 1) \
             ON CONFLICT (key) DO UPDATE SET \
               count = CASE WHEN login_attempts.window_start <= $3 THEN 1 ELSE login_attempts.count + 1 END, \
               window_start = CASE WHEN login_attempts.window_start <= $3 THEN $2 ELSE login_attempts.window_start END \
             WHERE login_attempts.window_start <= $3 OR login_attempts.count < $4 \
             RETURNING count",
        )
        .bind(key)
        .bind(now)
        .bind(cutoff)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_optional(self.pool())
        .await?;
        Ok(row.is_some())
    }

    /// Gives back an attempt reserved for `key` that did not fail (a successful login, or
    /// one the platform was too busy to check).
    pub(crate) async fn release_login_attempt(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE login_attempts SET count = count - 1 WHERE key = $1 AND count > 0")
            .bind(key)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub(crate) async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_attempts WHERE key = $1")
            .bind(key)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    // ----- reports -----

    /// One row per source, with the figures of its latest daily summary, and how many of its
    /// current `never_verified` seats a recent application sign-in contradicts.
    pub async fn report_overview(&self) -> Result<Vec<OverviewRow>, StoreError> {
        let now = self.now();
        let rows = sqlx::query(&format!(
            "SELECT s.id, s.name, s.kind, s.tenant_id, s.tenant_name, s.state, s.interval_secs, \
                    s.last_upload_at, s.created_at, s.people AS source_people, s.private_access AS source_private, \
                    d.day, d.people, d.active, d.leaving, d.inactive, d.inactive_never_verified, \
                    d.pre_hire, d.offboarded, \
                    d.unknown, d.billable, d.in_use, d.pre_hires_soon, d.recent_leavers, d.findings, \
                    (SELECT CAST(COUNT(*) AS BIGINT) FROM seats_current c \
                     JOIN {activity} act ON act.hr_source_id = c.source_id AND act.person_id = c.person_id \
                     WHERE c.source_id = s.id AND c.state = 'inactive' AND c.reason = 'never_verified') \
                      AS never_verified_contradicted \
             FROM sources s \
             LEFT JOIN daily_summaries d ON d.source_id = s.id \
               AND d.day = (SELECT MAX(d2.day) FROM daily_summaries d2 WHERE d2.source_id = s.id) \
             ORDER BY s.name, s.id",
            activity = super::licences::recent_app_activity(),
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let n = |col: &str| -> Result<i64, StoreError> {
                    Ok(row.try_get::<Option<i64>, _>(col)?.unwrap_or(0))
                };
                let last_upload_at = parse_opt_ts(row.try_get("last_upload_at")?)?;
                let interval_secs: i64 = row.try_get("interval_secs")?;
                let state: String = row.try_get("state")?;
                let billable = n("billable")?;
                let in_use = n("in_use")?;
                let as_of = row
                    .try_get::<Option<String>, _>("day")?
                    .map(|d| parse_day(&d))
                    .transpose()?;
                Ok(OverviewRow {
                    source_id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    kind: row.try_get("kind")?,
                    tenant_id: row.try_get("tenant_id")?,
                    tenant_name: row.try_get("tenant_name")?,
                    health: model::health(
                        state == "revoked",
                        last_upload_at,
                        Some(parse_ts(&row.try_get::<String, _>("created_at")?)?),
                        interval_secs,
                        now,
                    ),
                    last_upload_at,
                    as_of,
                    interval_secs,
                    people: n("people")?,
                    billable,
                    in_use,
                    active: n("active")?,
                    leaving: n("leaving")?,
                    inactive: n("inactive")?,
                    inactive_never_verified: n("inactive_never_verified")?,
                    pre_hires: n("pre_hire")?,
                    pre_hires_starting_soon: n("pre_hires_soon")?,
                    offboarded: n("offboarded")?,
                    recent_leavers: n("recent_leavers")?,
                    unknown: n("unknown")?,
                    findings: n("findings")?,
                    utilisation: (as_of.is_some() && billable > 0)
                        .then(|| in_use as f64 / billable as f64),
                    private_access: opt_bool(row.try_get("source_private")?),
                    never_verified_contradicted: n("never_verified_contradicted")?,
                })
            })
            .collect()
    }

    /// Seats matching `filter`, sorted, at most `limit` rows from `offset`; and the total
    /// number of matches. A `never_verified` seat carries the person's most recent
    /// application sign-in that contradicts it (same query, no per-row lookups).
    pub(crate) async fn report_seats(
        &self,
        filter: &SeatFilter,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<SeatRow>, i64), StoreError> {
        let now = self.now();
        let today = now.date_naive();
        let mut clauses = Vec::new();
        let mut args: Vec<String> = Vec::new();
        let arg = |value: &str, args: &mut Vec<String>| -> String {
            args.push(value.to_owned());
            format!("${}", args.len())
        };
        match filter.state_or_default() {
            "all" => clauses.push("c.state <> 'active'".to_owned()),
            state => {
                let p = arg(state, &mut args);
                clauses.push(format!("c.state = {p}"));
            }
        }
        for (value, column) in [
            (&filter.source, "c.source_id"),
            (&filter.reason, "c.reason"),
            (&filter.manager, "c.manager_id"),
        ] {
            if !value.is_empty() {
                let p = arg(value, &mut args);
                clauses.push(format!("{column} = {p}"));
            }
        }
        if filter.department == "(none)" {
            clauses.push("COALESCE(c.department, '') = ''".to_owned());
        } else if !filter.department.is_empty() {
            let p = arg(&filter.department, &mut args);
            clauses.push(format!("COALESCE(c.department, '') = {p}"));
        }
        let where_sql = clauses.join(" AND ");
        let dir = if filter.descending() { "DESC" } else { "ASC" };
        // Days since `since` grows as `since` falls, so "days" sorts on since reversed.
        let order = match filter.sort_or_default() {
            "person" => format!("COALESCE(c.name, c.person_id) {dir}"),
            "email" => format!("COALESCE(c.work_email, '') {dir}"),
            "department" => format!("COALESCE(c.department, '') {dir}"),
            "manager" => format!("COALESCE(m.name, '') {dir}"),
            "state" => format!("c.state {dir}"),
            "reason" => format!("COALESCE(c.reason, '') {dir}"),
            "since" => format!("COALESCE(c.since, '') {dir}"),
            "source" => format!("s.name {dir}"),
            _ => format!(
                "COALESCE(c.since, '9999-12-31') {}",
                if filter.descending() { "ASC" } else { "DESC" }
            ),
        };
        let from_sql = "FROM seats_current c \
             JOIN sources s ON s.id = c.source_id \
             LEFT JOIN seats_current m ON m.source_id = c.source_id AND m.person_id = c.manager_id";
        let count_sql =
            format!("SELECT CAST(COUNT(*) AS BIGINT) AS n {from_sql} WHERE {where_sql}");
        let mut count_query = sqlx::query(&count_sql);
        for value in &args {
            count_query = count_query.bind(value.as_str());
        }
        let total: i64 = count_query.fetch_one(self.pool()).await?.try_get("n")?;

        let sql = format!(
            "SELECT c.source_id, s.name AS source_name, s.interval_secs, s.last_upload_at, s.state AS source_state, \
                    c.person_id, c.name, c.work_email, c.department, c.job_title, c.manager_id, \
                    m.name AS manager_name, c.state, c.reason, c.since, \
                    act.application AS app_application, act.last_activity AS app_last_activity \
             {from_sql} \
             LEFT JOIN {activity} act ON c.reason = 'never_verified' \
               AND act.hr_source_id = c.source_id AND act.person_id = c.person_id \
             WHERE {where_sql} ORDER BY {order}, c.source_id, c.person_id \
             LIMIT {limit} OFFSET {offset}",
            limit = limit.max(0),
            offset = offset.max(0),
            activity = super::licences::recent_app_activity(),
        );
        let mut query = sqlx::query(&sql);
        for value in &args {
            query = query.bind(value.as_str());
        }
        let rows = query.fetch_all(self.pool()).await?;
        let seats = rows
            .iter()
            .map(|row| {
                let since = row
                    .try_get::<Option<String>, _>("since")?
                    .map(|d| parse_day(&d))
                    .transpose()?;
                let health = model::health(
                    row.try_get::<String, _>("source_state")? == "revoked",
                    parse_opt_ts(row.try_get("last_upload_at")?)?,
                    None,
                    row.try_get("interval_secs")?,
                    now,
                );
                Ok(SeatRow {
                    source_id: row.try_get("source_id")?,
                    source_name: row.try_get("source_name")?,
                    person_id: row.try_get("person_id")?,
                    name: row.try_get("name")?,
                    work_email: row.try_get("work_email")?,
                    department: row.try_get("department")?,
                    job_title: row.try_get("job_title")?,
                    manager_id: row.try_get("manager_id")?,
                    manager_name: row.try_get("manager_name")?,
                    state: row.try_get("state")?,
                    reason: row.try_get("reason")?,
                    since,
                    // A leaver's `since` (the end date) can be ahead: no negative days.
                    days: since.map(|s| (today - s).num_days().max(0)),
                    source_stale: health == model::Health::Stale,
                    app_activity: match (
                        row.try_get::<Option<String>, _>("app_application")?,
                        parse_opt_ts(row.try_get("app_last_activity")?)?,
                    ) {
                        (Some(application), Some(at)) => Some(model::AppActivity {
                            application,
                            day: at.date_naive(),
                        }),
                        _ => None,
                    },
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((seats, total))
    }

    /// Refuses filter values nothing has (a 400 with a reason, instead of an empty table):
    /// a source id that does not exist, a reason neither the platform knows nor a seat has,
    /// a department or a manager no current seat has.
    /// Each check is one indexed look-up; empty values are not checked.
    pub(crate) async fn check_seat_filter_values(
        &self,
        filter: &SeatFilter,
    ) -> Result<Result<(), String>, StoreError> {
        if !filter.source.is_empty() && !self.source_exists(&filter.source).await? {
            return Ok(Err(format!(
                "Unknown source {:?}: pick one from the list, or leave it out for all sources.",
                filter.source
            )));
        }
        // A reason the platform knows, or one a (newer) agent sent that a seat has.
        let known_reason = seatbroker_protocol::SeatReason::KNOWN
            .iter()
            .any(|r| r.as_str() == filter.reason);
        if !filter.reason.is_empty()
            && !known_reason
            && sqlx::query("SELECT 1 AS one FROM seats_current WHERE reason = $1 LIMIT 1")
                .bind(filter.reason.as_str())
                .fetch_optional(self.pool())
                .await?
                .is_none()
        {
            return Ok(Err(format!(
                "Unknown reason {:?}: use one of {}.",
                filter.reason,
                seatbroker_protocol::SeatReason::KNOWN
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if !filter.department.is_empty() && filter.department != "(none)" {
            let found =
                sqlx::query("SELECT 1 AS one FROM seats_current WHERE department = $1 LIMIT 1")
                    .bind(filter.department.as_str())
                    .fetch_optional(self.pool())
                    .await?;
            if found.is_none() {
                return Ok(Err(format!(
                    "Unknown department {:?}: no person has it; use one from the list, or (none) for people without a department.",
                    filter.department
                )));
            }
        }
        if !filter.manager.is_empty() {
            let found =
                sqlx::query("SELECT 1 AS one FROM seats_current WHERE manager_id = $1 LIMIT 1")
                    .bind(filter.manager.as_str())
                    .fetch_optional(self.pool())
                    .await?;
            if found.is_none() {
                return Ok(Err(format!(
                    "Unknown manager {:?}: nobody reports to this person id; use one from the list.",
                    filter.manager
                )));
            }
        }
        Ok(Ok(()))
    }

    /// Whether a source with this id exists (any state).
    pub(crate) async fn source_exists(&self, id: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query("SELECT 1 AS one FROM sources WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .is_some())
    }

    /// Every source as (id, name), for source pickers.
    pub(crate) async fn source_choices(&self) -> Result<Vec<(String, String)>, StoreError> {
        sqlx::query("SELECT id, name FROM sources ORDER BY name, id")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("name")?)))
            .collect()
    }

    /// The values the inactive-seat filters offer, from the seats in `state` (`all`: every
    /// state but active). One scan for reasons and departments; manager names are looked up
    /// for the distinct managers only.
    pub(crate) async fn seat_filter_choices(
        &self,
        state: &str,
    ) -> Result<SeatFilterChoices, StoreError> {
        let (clause, bind) = match state {
            "all" => ("state <> 'active'", None),
            other => ("state = $1", Some(other)),
        };
        let mut reasons = std::collections::BTreeSet::new();
        let mut departments = std::collections::BTreeSet::new();
        let sql = format!(
            "SELECT DISTINCT reason, COALESCE(department, '') AS department FROM seats_current WHERE {clause}"
        );
        let mut query = sqlx::query(&sql);
        if let Some(value) = bind {
            query = query.bind(value);
        }
        for row in query.fetch_all(self.pool()).await? {
            if let Some(reason) = row.try_get::<Option<String>, _>("reason")? {
                reasons.insert(reason);
            }
            departments.insert(row.try_get::<String, _>("department")?);
        }
        let sql = format!(
            "SELECT DISTINCT c.manager_id, COALESCE(m.name, c.manager_id) AS manager_name \
             FROM (SELECT DISTINCT source_id, manager_id FROM seats_current \
                   WHERE {clause} AND manager_id IS NOT NULL) c \
             LEFT JOIN seats_current m ON m.source_id = c.source_id AND m.person_id = c.manager_id \
             ORDER BY 2"
        );
        let mut query = sqlx::query(&sql);
        if let Some(value) = bind {
            query = query.bind(value);
        }
        let managers = query
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| Ok((r.try_get("manager_id")?, r.try_get("manager_name")?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(SeatFilterChoices {
            sources: self.source_choices().await?,
            reasons: reasons
                .into_iter()
                .map(|code| {
                    let label = crate::reports::labels::reason_label(&code);
                    (code, label)
                })
                .collect(),
            departments: departments.into_iter().collect(),
            managers,
        })
    }

    /// Stored daily summaries from `from` (inclusive) on, plus each source's last summary
    /// before `from` (so the trend can carry it forward), ordered by source and day.
    pub(crate) async fn report_daily(
        &self,
        source: Option<&str>,
        from: NaiveDate,
    ) -> Result<Vec<DailyRow>, StoreError> {
        let mut sql = String::from(
            "SELECT d.source_id, d.day, d.active, d.leaving, d.inactive, d.pre_hire, d.offboarded, \
                    d.unknown, d.billable, d.in_use \
             FROM daily_summaries d \
             WHERE (d.day >= $1 OR d.day = (SELECT MAX(d2.day) FROM daily_summaries d2 \
                                             WHERE d2.source_id = d.source_id AND d2.day < $1))",
        );
        if source.is_some() {
            sql.push_str(" AND d.source_id = $2");
        }
        sql.push_str(" ORDER BY d.source_id, d.day");
        let from = day(from);
        let mut query = sqlx::query(&sql).bind(from.as_str());
        if let Some(source) = source {
            query = query.bind(source);
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter()
            .map(|row| {
                Ok(DailyRow {
                    source_id: row.try_get("source_id")?,
                    point: TrendPoint {
                        day: parse_day(&row.try_get::<String, _>("day")?)?,
                        active: row.try_get("active")?,
                        leaving: row.try_get("leaving")?,
                        inactive: row.try_get("inactive")?,
                        pre_hire: row.try_get("pre_hire")?,
                        offboarded: row.try_get("offboarded")?,
                        unknown: row.try_get("unknown")?,
                        billable: row.try_get("billable")?,
                        in_use: row.try_get("in_use")?,
                    },
                })
            })
            .collect()
    }

    /// What the reconstructed HR headcount is made of: how many people (of the Humaans
    /// sources, or of `source`) start on each day, and on which day each leaves the count
    /// (the day after the employment end date). People without a start date, or whose end
    /// date comes before their start, are left out. Two grouped queries: the answer grows
    /// with distinct days, not with people.
    pub(crate) async fn report_headcount_changes(
        &self,
        source: Option<&str>,
    ) -> Result<(Vec<(NaiveDate, i64)>, Vec<(NaiveDate, i64)>), StoreError> {
        let filter = if source.is_some() {
            " AND c.source_id = $1"
        } else {
            ""
        };
        let grouped = |column: &str| {
            format!(
                "SELECT c.{column} AS d, CAST(COUNT(*) AS BIGINT) AS n FROM seats_current c \
                 JOIN sources s ON s.id = c.source_id \
                 WHERE s.kind = 'humaans' AND c.start_date IS NOT NULL AND c.{column} IS NOT NULL \
                 AND (c.end_date IS NULL OR c.end_date >= c.start_date){filter} \
                 GROUP BY c.{column} ORDER BY 1"
            )
        };
        let mut out = Vec::new();
        for column in ["start_date", "end_date"] {
            let sql = grouped(column);
            let mut query = sqlx::query(&sql);
            if let Some(source) = source {
                query = query.bind(source);
            }
            let mut days = Vec::new();
            for row in query.fetch_all(self.pool()).await? {
                let day = parse_day(&row.try_get::<String, _>("d")?)?;
                let n: i64 = row.try_get("n")?;
                // Counted through the end date: they leave the count the day after.
                let day = if column == "end_date" {
                    day.succ_opt().unwrap_or(day)
                } else {
                    day
                };
                days.push((day, n));
            }
            out.push(days);
        }
        let ends = out.pop().unwrap_or_default();
        let starts = out.pop().unwrap_or_default();
        Ok((starts, ends))
    }

    /// What the licence history chart is made of, from `licence_periods` of the approved
    /// application sources (or `source`): per day, how many licence rows in use and how
    /// many reclaimable (orphaned, disabled, never used, idle) were opened and closed.
    /// Returns (day, in use opened, reclaimable opened) and the same for closings.
    pub(crate) async fn report_licence_changes(
        &self,
        source: Option<&str>,
    ) -> Result<LicenceDayChanges, StoreError> {
        let filter = if source.is_some() {
            " AND h.source_id = $1"
        } else {
            ""
        };
        let mut out = Vec::new();
        for column in ["valid_from", "valid_to"] {
            let sql = format!(
                "SELECT SUBSTR(h.{column}, 1, 10) AS d, \
                 CAST(SUM(CASE WHEN h.state = 'in_use' THEN 1 ELSE 0 END) AS BIGINT) AS in_use, \
                 CAST(SUM(CASE WHEN h.state IN ('orphaned', 'disabled_holding', 'never_used', 'idle') \
                          THEN 1 ELSE 0 END) AS BIGINT) AS reclaimable \
                 FROM licence_periods h JOIN sources s ON s.id = h.source_id \
                 WHERE s.state = 'approved' AND h.{column} IS NOT NULL{filter} \
                 GROUP BY SUBSTR(h.{column}, 1, 10) ORDER BY 1"
            );
            let mut query = sqlx::query(&sql);
            if let Some(source) = source {
                query = query.bind(source);
            }
            let mut days = Vec::new();
            for row in query.fetch_all(self.pool()).await? {
                days.push((
                    parse_day(&row.try_get::<String, _>("d")?)?,
                    row.try_get::<i64, _>("in_use")?,
                    row.try_get::<i64, _>("reclaimable")?,
                ));
            }
            out.push(days);
        }
        let closed = out.pop().unwrap_or_default();
        let opened = out.pop().unwrap_or_default();
        Ok(LicenceDayChanges { opened, closed })
    }

    /// Seat counts per department, over one source or all.
    pub(crate) async fn report_departments(
        &self,
        source: Option<&str>,
    ) -> Result<Vec<DepartmentRow>, StoreError> {
        let mut sql = String::from(
            "SELECT COALESCE(department, '') AS department, state, CAST(COUNT(*) AS BIGINT) AS n \
             FROM seats_current",
        );
        if source.is_some() {
            sql.push_str(" WHERE source_id = $1");
        }
        sql.push_str(" GROUP BY COALESCE(department, ''), state ORDER BY 1");
        let mut query = sqlx::query(&sql);
        if let Some(source) = source {
            query = query.bind(source);
        }
        let rows = query.fetch_all(self.pool()).await?;
        let mut out: Vec<DepartmentRow> = Vec::new();
        for row in &rows {
            let department: String = row.try_get("department")?;
            let state: String = row.try_get("state")?;
            let n: i64 = row.try_get("n")?;
            if out.last().is_none_or(|d| d.department != department) {
                out.push(DepartmentRow {
                    department,
                    ..Default::default()
                });
            }
            let Some(dept) = out.last_mut() else { continue };
            dept.people += n;
            match state.as_str() {
                "active" => dept.active += n,
                "leaving" => dept.leaving += n,
                "inactive" => dept.inactive += n,
                "pre_hire" => dept.pre_hire += n,
                "offboarded" => dept.offboarded += n,
                _ => dept.unknown += n,
            }
        }
        for dept in &mut out {
            dept.billable = dept.active + dept.leaving + dept.inactive;
            dept.utilisation = (dept.billable > 0)
                .then(|| (dept.active + dept.leaving) as f64 / dept.billable as f64);
        }
        Ok(out)
    }

    /// Data-quality findings: counts per kind and one row per finding (at most `limit`).
    pub(crate) async fn report_findings(
        &self,
        source: Option<&str>,
        kind: Option<&str>,
        limit: i64,
    ) -> Result<(Vec<FindingCount>, Vec<FindingRow>), StoreError> {
        let mut counts_sql =
            String::from("SELECT kind, CAST(COUNT(*) AS BIGINT) AS n FROM findings_current f");
        let mut where_parts = Vec::new();
        let mut args = Vec::new();
        if let Some(source) = source {
            args.push(source);
            where_parts.push(format!("f.source_id = ${}", args.len()));
        }
        let counts_where = where_parts.clone();
        if let Some(kind) = kind {
            args.push(kind);
            where_parts.push(format!("f.kind = ${}", args.len()));
        }
        if !counts_where.is_empty() {
            counts_sql.push_str(&format!(" WHERE {}", counts_where.join(" AND ")));
        }
        counts_sql.push_str(" GROUP BY kind ORDER BY kind");
        let mut query = sqlx::query(&counts_sql);
        if let Some(source) = source {
            query = query.bind(source);
        }
        let counts = query
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| {
                Ok(FindingCount {
                    kind: r.try_get("kind")?,
                    count: r.try_get("n")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;

        let mut sql = String::from(
            "SELECT f.source_id, s.name AS source_name, f.person_id, c.name, c.work_email, \
                    c.department, f.kind, f.detail \
             FROM findings_current f JOIN sources s ON s.id = f.source_id \
             LEFT JOIN seats_current c ON c.source_id = f.source_id AND c.person_id = f.person_id",
        );
        if !where_parts.is_empty() {
            sql.push_str(&format!(" WHERE {}", where_parts.join(" AND ")));
        }
        sql.push_str(&format!(
            " ORDER BY f.kind, COALESCE(c.name, f.person_id), f.source_id LIMIT {}",
            limit.max(0)
        ));
        let mut query = sqlx::query(&sql);
        for value in &args {
            query = query.bind(*value);
        }
        let rows = query
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| {
                Ok(FindingRow {
                    source_id: r.try_get("source_id")?,
                    source_name: r.try_get("source_name")?,
                    person_id: r.try_get("person_id")?,
                    name: r.try_get("name")?,
                    work_email: r.try_get("work_email")?,
                    department: r.try_get("department")?,
                    kind: r.try_get("kind")?,
                    detail: r.try_get("detail")?,
                    detail_text: None,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let rows = self.name_ids_in_details(rows).await?;
        Ok((counts, rows))
    }

    /// Fills each finding's `detail_text`: its detail with every word that is the id of a
    /// person of the same source replaced by that person's name ("manager Ana Silva is
    /// offboarded"). One query per source, over the distinct words only.
    async fn name_ids_in_details(
        &self,
        mut rows: Vec<FindingRow>,
    ) -> Result<Vec<FindingRow>, StoreError> {
        let is_separator = |c: char| c.is_whitespace() || matches!(c, ',' | ';' | '(' | ')');
        let mut words: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
        for row in &rows {
            if let Some(detail) = &row.detail {
                let set = words.entry(row.source_id.clone()).or_default();
                set.extend(
                    detail
                        .split(is_separator)
                        .filter(|w| !w.is_empty())
                        .map(str::to_owned),
                );
            }
        }
        let mut names: BTreeMap<(String, String), String> = BTreeMap::new();
        for (source, words) in &words {
            let words: Vec<&String> = words.iter().collect();
            for chunk in words.chunks(500) {
                let placeholders: Vec<String> =
                    (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
                let sql = format!(
                    "SELECT person_id, name FROM seats_current \
                     WHERE source_id = $1 AND name IS NOT NULL AND person_id IN ({})",
                    placeholders.join(", ")
                );
                let mut query = sqlx::query(&sql).bind(source.as_str());
                for word in chunk {
                    query = query.bind(word.as_str());
                }
                for row in query.fetch_all(self.pool()).await? {
                    names.insert(
                        (source.clone(), row.try_get("person_id")?),
                        row.try_get("name")?,
                    );
                }
            }
        }
        for row in &mut rows {
            let Some(detail) = &row.detail else { continue };
            let mut text = String::with_capacity(detail.len());
            let mut word = String::new();
            let flush = |word: &mut String, text: &mut String| {
                match names.get(&(row.source_id.clone(), word.clone())) {
                    Some(name) => text.push_str(name),
                    None => text.push_str(word),
                }
                word.clear();
            };
            for c in detail.chars() {
                if is_separator(c) {
                    flush(&mut word, &mut text);
                    text.push(c);
                } else {
                    word.push(c);
                }
            }
            flush(&mut word, &mut text);
            row.detail_text = Some(text);
        }
        Ok(rows)
    }
}

/// Licence rows opened and closed per day: (day, in use, reclaimable).
#[derive(Debug, Clone, Default)]
pub(crate) struct LicenceDayChanges {
    pub(crate) opened: Vec<(NaiveDate, i64, i64)>,
    pub(crate) closed: Vec<(NaiveDate, i64, i64)>,
}

/// Refuses a change that would leave no enabled admin besides user `id`.
async fn keep_an_admin(
    conn: &mut sqlx::AnyConnection,
    id: &str,
    username: &str,
) -> Result<(), StoreError> {
    let others: i64 = sqlx::query(
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM users \
         WHERE role = 'admin' AND disabled = 0 AND id <> $1",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?
    .try_get("n")?;
    if others == 0 {
        return Err(StoreError::InvalidState(format!(
            "{username} is the last enabled admin; create another admin first"
        )));
    }
    Ok(())
}
