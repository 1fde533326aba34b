//! Application licences: organisations, the join's inputs an administrator controls
//! (exclusion rules, prices) and the licence reports.
//!
//! API:
//! - `Store::list_organisations(&self) -> Result<Vec<Organisation>, StoreError>`
//! - `Store::list_exclusion_rules` / `add_exclusion_rule(actor, kind, value)` /
//!   `remove_exclusion_rule(actor, id)`: audited; the join of every app source is
//!   recomputed in the same transaction.
//! - `Store::set_price(actor, source_id, pool_id, &Price)` / `clear_price`: audited
//!   (`pool_id` empty: every pool of the source without its own price).
//! - `Store::report_licences`, `report_reclaim`, `person_detail`, `licence_changes`
//!   (`report.rs`).
//!
//! `sync.rs` writes accounts, licences and the join; the intake and the rule changes call
//! it. Organisations are assigned when a source is approved (`assign_organisation`).

mod report;
mod sync;

use sqlx::{AnyConnection, Row};

pub(crate) use report::{
    AppFigures, Changes, OrganisationFigures, PersonDetail, ReclaimChoices, ReclaimFilter,
    ReclaimRow, recent_app_activity,
};
pub(crate) use sync::{PeopleChange, Scope, SyncAt};

use super::{Store, StoreError, audit, new_id, ts};
use crate::licence::Price;

/// An organisation: one HR source plus application sources.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Organisation {
    pub id: String,
    pub name: String,
    pub hr_source_id: Option<String>,
}

/// An admin rule marking accounts `excluded`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExclusionRule {
    pub id: String,
    /// `account_type`, `login_pattern` or `account`.
    pub kind: String,
    pub value: String,
    pub created_by: String,
}

/// The kinds of exclusion rule, with what each value means.
pub(crate) const RULE_KINDS: &[(&str, &str)] = &[
    ("account_type", "account type (guest, service, member)"),
    (
        "login_pattern",
        "sign-in name pattern (* and ?), e.g. svc-*@*",
    ),
    ("account", "one account: its id, sign-in name or email"),
];

/// Picks (or creates) the organisation a newly approved source joins, inside the
/// approval's transaction, and records it on the source. Returns its id.
///
/// - an HR source (`humaans`): the requested organisation if it has no HR source yet;
///   otherwise the only organisation without one; otherwise a new organisation named
///   after the source;
/// - an app source: the requested organisation, else the only one, else (none yet) a new
///   organisation without HR side; several and none chosen is refused with the choices.
pub(crate) async fn assign_organisation(
    conn: &mut AnyConnection,
    source_id: &str,
    kind: &str,
    name: &str,
    requested: Option<&str>,
    actor: &str,
    now: &str,
) -> Result<Option<String>, StoreError> {
    let is_hr = kind == "humaans";
    if !is_hr && !matches!(kind, "entra_id" | "seat_list") {
        return Ok(None);
    }
    let orgs = sqlx::query("SELECT id, name, hr_source_id FROM organisations ORDER BY name, id")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            Ok(Organisation {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                hr_source_id: r.try_get("hr_source_id")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let chosen = match requested.map(str::trim).filter(|r| !r.is_empty()) {
        Some(id) => {
            let org = orgs
                .iter()
                .find(|o| o.id == id)
                .ok_or_else(|| StoreError::not_found("organisation", id))?;
            if is_hr && org.hr_source_id.is_some() {
                return Err(StoreError::InvalidState(format!(
                    "organisation {} already has an HR source; approve this one into another organisation or as a new one",
                    org.name
                )));
            }
            Some(org.id.clone())
        }
        None if is_hr => {
            let without_hr: Vec<_> = orgs.iter().filter(|o| o.hr_source_id.is_none()).collect();
            (without_hr.len() == 1).then(|| without_hr[0].id.clone())
        }
        None => match orgs.len() {
            0 => None,
            1 => Some(orgs[0].id.clone()),
            _ => {
                return Err(StoreError::InvalidState(format!(
                    "there are {} organisations ({}); choose the one this application source belongs to",
                    orgs.len(),
                    orgs.iter()
                        .map(|o| o.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        },
    };
    let org_id = match chosen {
        Some(id) => id,
        None => {
            let id = new_id();
            sqlx::query(
                "INSERT INTO organisations (id, name, hr_source_id, created_at, created_by) VALUES ($1, $2, NULL, $3, $4)",
            )
            .bind(&id)
            .bind(name)
            .bind(now)
            .bind(actor)
            .execute(&mut *conn)
            .await?;
            id
        }
    };
    if is_hr {
        sqlx::query("UPDATE organisations SET hr_source_id = $1, name = $2 WHERE id = $3")
            .bind(source_id)
            .bind(name)
            .bind(&org_id)
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("UPDATE sources SET organisation_id = $1 WHERE id = $2")
        .bind(&org_id)
        .bind(source_id)
        .execute(&mut *conn)
        .await?;
    Ok(Some(org_id))
}

impl Store {
    pub async fn list_organisations(&self) -> Result<Vec<Organisation>, StoreError> {
        sqlx::query("SELECT id, name, hr_source_id FROM organisations ORDER BY name, id")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| {
                Ok(Organisation {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    hr_source_id: r.try_get("hr_source_id")?,
                })
            })
            .collect()
    }

    pub async fn list_exclusion_rules(&self) -> Result<Vec<ExclusionRule>, StoreError> {
        sqlx::query("SELECT id, kind, value, created_by FROM exclusion_rules ORDER BY kind, value")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| {
                Ok(ExclusionRule {
                    id: r.try_get("id")?,
                    kind: r.try_get("kind")?,
                    value: r.try_get("value")?,
                    created_by: r.try_get("created_by")?,
                })
            })
            .collect()
    }

    /// Adds an exclusion rule and recomputes every join. Adding an existing rule is a no-op.
    pub async fn add_exclusion_rule(
        &self,
        actor: &str,
        kind: &str,
        value: &str,
    ) -> Result<(), StoreError> {
        let value = value.trim().to_lowercase();
        if !RULE_KINDS.iter().any(|(k, _)| *k == kind) {
            return Err(StoreError::InvalidState(format!(
                "exclusion rules are of kind account_type, login_pattern or account, not {kind:?}"
            )));
        }
        if value.is_empty() || value.len() > 256 || value.contains('\0') {
            return Err(StoreError::InvalidState(
                "an exclusion rule needs a value of 1 to 256 characters".to_owned(),
            ));
        }
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let exists = sqlx::query("SELECT id FROM exclusion_rules WHERE kind = $1 AND value = $2")
            .bind(kind)
            .bind(&value)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_some() {
            tx.rollback().await?;
            return Ok(());
        }
        let id = new_id();
        sqlx::query(
            "INSERT INTO exclusion_rules (id, kind, value, created_at, created_by) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&id)
        .bind(kind)
        .bind(&value)
        .bind(ts(now))
        .bind(actor)
        .execute(&mut *tx)
        .await?;
        let at = ts(now);
        let cause = format!("rule:{id}");
        let changed = self
            .rejoin_all(
                &mut tx,
                SyncAt {
                    at: &at,
                    cause: &cause,
                },
            )
            .await?;
        audit::write(
            &mut tx,
            now,
            actor,
            "exclusion.add",
            &id,
            &serde_json::json!({"kind": kind, "value": value, "licences_changed": changed}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes an exclusion rule and recomputes every join.
    pub async fn remove_exclusion_rule(&self, actor: &str, id: &str) -> Result<(), StoreError> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let row = sqlx::query("SELECT kind, value FROM exclusion_rules WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::not_found("exclusion rule", id))?;
        let (kind, value): (String, String) = (row.try_get("kind")?, row.try_get("value")?);
        sqlx::query("DELETE FROM exclusion_rules WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let at = ts(now);
        let cause = format!("rule:{id}");
        let changed = self
            .rejoin_all(
                &mut tx,
                SyncAt {
                    at: &at,
                    cause: &cause,
                },
            )
            .await?;
        audit::write(
            &mut tx,
            now,
            actor,
            "exclusion.remove",
            id,
            &serde_json::json!({"kind": kind, "value": value, "licences_changed": changed}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets the price of one pool of an app source (`pool_id` empty: of every pool of the
    /// source without a price of its own).
    pub async fn set_price(
        &self,
        actor: &str,
        source_id: &str,
        pool_id: &str,
        price: &Price,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let kind: Option<String> = sqlx::query("SELECT kind FROM sources WHERE id = $1")
            .bind(source_id)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get("kind"))
            .transpose()?;
        match kind.as_deref() {
            None => return Err(StoreError::not_found("source", source_id)),
            Some("entra_id" | "seat_list") => {}
            Some(other) => {
                return Err(StoreError::InvalidState(format!(
                    "source {source_id} is a {other} source; prices belong to application sources"
                )));
            }
        }
        if !pool_id.is_empty() {
            let pool = sqlx::query(
                "SELECT pool_id FROM licence_pools WHERE source_id = $1 AND pool_id = $2",
            )
            .bind(source_id)
            .bind(pool_id)
            .fetch_optional(&mut *tx)
            .await?;
            if pool.is_none() {
                return Err(StoreError::not_found("licence pool", pool_id));
            }
        }
        sqlx::query(
            "INSERT INTO prices (source_id, pool_id, amount_minor, currency, period, set_at, set_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (source_id, pool_id) DO UPDATE SET \
             amount_minor = excluded.amount_minor, currency = excluded.currency, period = excluded.period, \
             set_at = excluded.set_at, set_by = excluded.set_by",
        )
        .bind(source_id)
        .bind(pool_id)
        .bind(price.amount_minor)
        .bind(price.currency.as_str())
        .bind(price.period.as_str())
        .bind(ts(now))
        .bind(actor)
        .execute(&mut *tx)
        .await?;
        audit::write(
            &mut tx,
            now,
            actor,
            "price.set",
            source_id,
            &serde_json::json!({
                "pool": pool_id,
                "amount": price.amount_text(),
                "currency": price.currency,
                "period": price.period.as_str(),
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a price; the pool then shows seats and no amount.
    pub async fn clear_price(
        &self,
        actor: &str,
        source_id: &str,
        pool_id: &str,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query("DELETE FROM prices WHERE source_id = $1 AND pool_id = $2")
            .bind(source_id)
            .bind(pool_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted > 0 {
            audit::write(
                &mut tx,
                now,
                actor,
                "price.clear",
                source_id,
                &serde_json::json!({"pool": pool_id}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
