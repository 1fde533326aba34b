//! What an operator alerts on, read at each `/metrics` scrape: agents by state, sources by
//! health (the one staleness rule, `reports::model::health`) and each source's last
//! successful apply.
//!
//! API: `Store::operator_gauges(&self) -> Result<OperatorGauges, StoreError>`.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Store, StoreError, parse_opt_ts, parse_ts};
use crate::reports::model::{self, Health};

/// Sources with a last-apply series at most: a label per source id stays bounded even if
/// a platform tracked an unusual number of sources (the rest are counted, not labelled).
pub(crate) const MAX_SOURCE_SERIES: usize = 500;

/// Gauges computed from the database at scrape time.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct OperatorGauges {
    /// Agents per state, as stored (`pending`, `approved`, `rejected`, `revoked`).
    pub(crate) agents_by_state: Vec<(String, i64)>,
    /// Sources per health.
    pub(crate) sources_by_health: Vec<(Health, i64)>,
    /// Per non-revoked source that has applied a snapshot: id, kind, when (at most
    /// [`MAX_SOURCE_SERIES`], by id).
    pub(crate) last_apply: Vec<(String, String, DateTime<Utc>)>,
    /// Sources left out of `last_apply` by the cap.
    pub(crate) last_apply_omitted: usize,
}

impl OperatorGauges {
    pub(crate) fn sources_with(&self, health: Health) -> i64 {
        self.sources_by_health
            .iter()
            .find(|(h, _)| *h == health)
            .map_or(0, |(_, n)| *n)
    }
}

impl Store {
    /// Agents by state, sources by health and each source's last apply, now.
    pub(crate) async fn operator_gauges(&self) -> Result<OperatorGauges, StoreError> {
        let now = self.now();
        let agents = sqlx::query(
            "SELECT state, CAST(COUNT(*) AS BIGINT) AS n FROM agents GROUP BY state ORDER BY state",
        )
        .fetch_all(self.pool())
        .await?;
        let agents_by_state = agents
            .iter()
            .map(|row| Ok((row.try_get("state")?, row.try_get("n")?)))
            .collect::<Result<Vec<(String, i64)>, StoreError>>()?;
        let sources = sqlx::query(
            "SELECT id, kind, state, interval_secs, last_upload_at, created_at FROM sources ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?;
        let mut gauges = OperatorGauges {
            agents_by_state,
            sources_by_health: [
                Health::Healthy,
                Health::Stale,
                Health::AwaitingFirstUpload,
                Health::Revoked,
            ]
            .into_iter()
            .map(|h| (h, 0))
            .collect(),
            ..OperatorGauges::default()
        };
        for row in &sources {
            let revoked = row.try_get::<String, _>("state")? == "revoked";
            let last_upload_at = parse_opt_ts(row.try_get("last_upload_at")?)?;
            let health = model::health(
                revoked,
                last_upload_at,
                Some(parse_ts(&row.try_get::<String, _>("created_at")?)?),
                row.try_get("interval_secs")?,
                now,
            );
            if let Some((_, n)) = gauges
                .sources_by_health
                .iter_mut()
                .find(|(h, _)| *h == health)
            {
                *n += 1;
            }
            if let (false, Some(at)) = (revoked, last_upload_at) {
                if gauges.last_apply.len() < MAX_SOURCE_SERIES {
                    gauges
                        .last_apply
                        .push((row.try_get("id")?, row.try_get("kind")?, at));
                } else {
                    gauges.last_apply_omitted += 1;
                }
            }
        }
        Ok(gauges)
    }
}
