//! Scheduled reports by email: subscriptions (admin-managed, audited), the queue of sends,
//! and the two claims that keep several platform processes from sending anything twice.
//!
//! - A digest is claimed by [`Store::queue_due_digests`]: it moves the subscription's
//!   `next_due` forward with a compare-and-set on the value it read, and queues the send in
//!   the same transaction. A process that lost the race updates no row and queues nothing.
//! - A queued send is claimed by [`Store::claim_email_send`] (`queued` → `sending`); a
//!   `sending` row whose claim is older than the lease (its process died) is claimed again.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use serde_json::json;
use sqlx::Row;

use super::{Store, StoreError, audit, new_id, parse_opt_ts, parse_ts, ts};

/// How often a subscriber gets the digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Frequency {
    /// Mondays at 07:00 UTC.
    Weekly,
    /// The first of each month at 07:00 UTC.
    Monthly,
}

/// The hour (UTC) digests are due.
const DIGEST_HOUR: u32 = 7;

impl Frequency {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Weekly => "weekly",
            Self::Monthly => "monthly",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "weekly" => Some(Self::Weekly),
            "monthly" => Some(Self::Monthly),
            _ => None,
        }
    }

    /// The first due time strictly after `after`.
    pub(crate) fn next_after(self, after: DateTime<Utc>) -> DateTime<Utc> {
        let at = |day: NaiveDate| {
            Utc.from_utc_datetime(&day.and_hms_opt(DIGEST_HOUR, 0, 0).unwrap_or_default())
        };
        let today = after.date_naive();
        match self {
            Self::Weekly => {
                let back = i64::from(today.weekday().num_days_from_monday());
                let monday = today - Duration::days(back);
                let candidate = at(monday);
                if candidate > after {
                    candidate
                } else {
                    at(monday + Duration::days(7))
                }
            }
            Self::Monthly => {
                let first = today.with_day(1).unwrap_or(today);
                let candidate = at(first);
                if candidate > after {
                    candidate
                } else {
                    let (y, m) = if first.month() == 12 {
                        (first.year() + 1, 1)
                    } else {
                        (first.year(), first.month() + 1)
                    };
                    at(NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(first))
                }
            }
        }
    }

    /// The start of the period a digest due at `due` covers.
    pub(crate) fn period_start(self, due: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Self::Weekly => due - Duration::days(7),
            Self::Monthly => due
                .checked_sub_months(chrono::Months::new(1))
                .unwrap_or(due - Duration::days(30)),
        }
    }
}

/// One subscriber.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Subscription {
    pub(crate) id: String,
    pub(crate) address: String,
    pub(crate) frequency: String,
    pub(crate) next_due: DateTime<Utc>,
    pub(crate) created_by: String,
    pub(crate) created_at: DateTime<Utc>,
}

/// What a send is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SendKind {
    Digest,
    Test,
}

impl SendKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Digest => "digest",
            Self::Test => "test",
        }
    }
}

/// One message queued, being sent, sent or failed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EmailSend {
    pub(crate) id: String,
    pub(crate) subscription_id: Option<String>,
    /// `digest` or `test`.
    pub(crate) kind: String,
    pub(crate) address: String,
    /// A digest's changes are counted from here.
    pub(crate) period_start: Option<DateTime<Utc>>,
    /// `queued`, `sending`, `sent` or `failed`.
    pub(crate) status: String,
    pub(crate) attempts: i64,
    pub(crate) last_error: Option<String>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) finished_at: Option<DateTime<Utc>>,
}

impl EmailSend {
    pub(crate) fn is_test(&self) -> bool {
        self.kind == SendKind::Test.as_str()
    }
}

const SEND_COLUMNS: &str = "id, subscription_id, kind, address, period_start, status, attempts, \
     last_error, created_at, finished_at";

fn send_from_row(row: &sqlx::any::AnyRow) -> Result<EmailSend, StoreError> {
    Ok(EmailSend {
        id: row.try_get("id")?,
        subscription_id: row.try_get("subscription_id")?,
        kind: row.try_get("kind")?,
        address: row.try_get("address")?,
        period_start: parse_opt_ts(row.try_get("period_start")?)?,
        status: row.try_get("status")?,
        attempts: row.try_get("attempts")?,
        last_error: row.try_get("last_error")?,
        created_at: parse_ts(&row.try_get::<String, _>("created_at")?)?,
        finished_at: parse_opt_ts(row.try_get("finished_at")?)?,
    })
}

impl Store {
    /// Subscribes `address` to a digest (audited). The first one is due at the next
    /// digest time. Subscribing an address twice to the same frequency is refused.
    pub(crate) async fn add_email_subscription(
        &self,
        actor: &str,
        address: &str,
        frequency: Frequency,
    ) -> Result<Subscription, StoreError> {
        let now = self.now();
        let subscription = Subscription {
            id: new_id(),
            address: address.to_owned(),
            frequency: frequency.as_str().to_owned(),
            next_due: frequency.next_after(now),
            created_by: actor.to_owned(),
            created_at: now,
        };
        let mut tx = self.begin_write().await?;
        let exists =
            sqlx::query("SELECT id FROM email_subscriptions WHERE address = $1 AND frequency = $2")
                .bind(address)
                .bind(frequency.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_some() {
            return Err(StoreError::InvalidState(format!(
                "{address} already gets the {} digest.",
                frequency.as_str()
            )));
        }
        sqlx::query(
            "INSERT INTO email_subscriptions (id, address, frequency, next_due, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&subscription.id)
        .bind(address)
        .bind(frequency.as_str())
        .bind(ts(subscription.next_due))
        .bind(actor)
        .bind(ts(now))
        .execute(&mut *tx)
        .await?;
        audit::write(
            &mut tx,
            now,
            actor,
            "email.subscribe",
            &subscription.id,
            &json!({ "address": address, "frequency": frequency.as_str() }),
        )
        .await?;
        tx.commit().await?;
        Ok(subscription)
    }

    /// Removes a subscription (audited); its sends stay on record.
    pub(crate) async fn remove_email_subscription(
        &self,
        actor: &str,
        id: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query("SELECT address, frequency FROM email_subscriptions WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::not_found("email subscription", id))?;
        let (address, frequency): (String, String) =
            (row.try_get("address")?, row.try_get("frequency")?);
        sqlx::query("DELETE FROM email_subscriptions WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        audit::write(
            &mut tx,
            self.now(),
            actor,
            "email.unsubscribe",
            id,
            &json!({ "address": address, "frequency": frequency }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every subscription, by address.
    pub(crate) async fn list_email_subscriptions(&self) -> Result<Vec<Subscription>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, address, frequency, next_due, created_by, created_at \
             FROM email_subscriptions ORDER BY address, frequency",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Subscription {
                    id: row.try_get("id")?,
                    address: row.try_get("address")?,
                    frequency: row.try_get("frequency")?,
                    next_due: parse_ts(&row.try_get::<String, _>("next_due")?)?,
                    created_by: row.try_get("created_by")?,
                    created_at: parse_ts(&row.try_get::<String, _>("created_at")?)?,
                })
            })
            .collect()
    }

    /// Queues a test message to `address` (audited); the sender picks it up.
    pub(crate) async fn queue_test_email(
        &self,
        actor: &str,
        address: &str,
    ) -> Result<String, StoreError> {
        let now = self.now();
        let id = new_id();
        let mut tx = self.begin_write().await?;
        insert_send(&mut tx, &id, None, SendKind::Test, address, None, now).await?;
        audit::write(
            &mut tx,
            now,
            actor,
            "email.test",
            &id,
            &json!({ "address": address }),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Queues one digest per subscription that is due, moving each one's `next_due` to
    /// the first digest time after now. Returns how many this process queued: a
    /// subscription another process claimed first is left alone.
    pub(crate) async fn queue_due_digests(&self) -> Result<usize, StoreError> {
        let now = self.now();
        let due = sqlx::query(
            "SELECT id, address, frequency, next_due FROM email_subscriptions \
             WHERE next_due <= $1 ORDER BY next_due, id",
        )
        .bind(ts(now))
        .fetch_all(self.pool())
        .await?;
        let mut queued = 0;
        for row in &due {
            let id: String = row.try_get("id")?;
            let address: String = row.try_get("address")?;
            let frequency_text: String = row.try_get("frequency")?;
            let next_due: String = row.try_get("next_due")?;
            let Some(frequency) = Frequency::parse(&frequency_text) else {
                tracing::warn!(subscription = %id, frequency = %frequency_text, "Unknown digest frequency; skipped.");
                continue;
            };
            let due_at = parse_ts(&next_due)?;
            let mut tx = self.begin_write().await?;
            let claimed = sqlx::query(
                "UPDATE email_subscriptions SET next_due = $1 WHERE id = $2 AND next_due = $3",
            )
            .bind(ts(frequency.next_after(now)))
            .bind(&id)
            .bind(&next_due)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if claimed != 1 {
                tx.rollback().await?;
                continue;
            }
            insert_send(
                &mut tx,
                &new_id(),
                Some(&id),
                SendKind::Digest,
                &address,
                Some(frequency.period_start(due_at)),
                now,
            )
            .await?;
            tx.commit().await?;
            queued += 1;
        }
        Ok(queued)
    }

    /// Claims the oldest queued send (or one whose claim is older than `lease`), marking
    /// it `sending`. `None`: nothing to send.
    pub(crate) async fn claim_email_send(
        &self,
        lease: Duration,
    ) -> Result<Option<EmailSend>, StoreError> {
        let now = self.now();
        let expired = ts(now - lease);
        let candidates = sqlx::query(&format!(
            "SELECT {SEND_COLUMNS} FROM email_sends WHERE status = 'queued' \
             OR (status = 'sending' AND claimed_at < $1) ORDER BY created_at, id LIMIT 8"
        ))
        .bind(&expired)
        .fetch_all(self.pool())
        .await?;
        for row in &candidates {
            let mut send = send_from_row(row)?;
            let claimed = sqlx::query(
                "UPDATE email_sends SET status = 'sending', claimed_at = $1 WHERE id = $2 \
                 AND (status = 'queued' OR (status = 'sending' AND claimed_at < $3))",
            )
            .bind(ts(now))
            .bind(&send.id)
            .bind(&expired)
            .execute(self.pool())
            .await?
            .rows_affected();
            if claimed == 1 {
                send.status = "sending".to_owned();
                return Ok(Some(send));
            }
        }
        Ok(None)
    }

    /// Records a failed attempt of a send still being retried.
    pub(crate) async fn record_email_attempt(
        &self,
        id: &str,
        attempts: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE email_sends SET attempts = $1, last_error = $2, claimed_at = $3 WHERE id = $4",
        )
        .bind(attempts)
        .bind(error)
        .bind(ts(self.now()))
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records the outcome of a send: `error` `None` is success.
    pub(crate) async fn finish_email_send(
        &self,
        id: &str,
        attempts: i64,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE email_sends SET status = $1, attempts = $2, last_error = COALESCE($3, last_error), \
             finished_at = $4 WHERE id = $5",
        )
        .bind(if error.is_none() { "sent" } else { "failed" })
        .bind(attempts)
        .bind(error)
        .bind(ts(self.now()))
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The most recent sends, newest first.
    pub(crate) async fn list_email_sends(&self, limit: i64) -> Result<Vec<EmailSend>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {SEND_COLUMNS} FROM email_sends ORDER BY created_at DESC, id LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(send_from_row).collect()
    }
}

async fn insert_send(
    conn: &mut sqlx::AnyConnection,
    id: &str,
    subscription_id: Option<&str>,
    kind: SendKind,
    address: &str,
    period_start: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO email_sends (id, subscription_id, kind, address, period_start, status, attempts, created_at) \
         VALUES ($1, $2, $3, $4, $5, 'queued', 0, $6)",
    )
    .bind(id)
    .bind(subscription_id)
    .bind(kind.as_str())
    .bind(address)
    .bind(period_start.map(ts))
    .bind(ts(now))
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn due_times() {
        let check = |f: Frequency, after: &str, expected: &str| {
            assert_eq!(f.next_after(at(after)), at(expected), "{f:?} after {after}");
        };
        // 2025-06-02 is a Monday.
        check(
            Frequency::Weekly,
            "2025-06-02T06:59:59Z",
            "2025-06-02T07:00:00Z",
        );
        check(
            Frequency::Weekly,
            "2025-06-02T07:00:00Z",
            "2025-06-09T07:00:00Z",
        );
        check(
            Frequency::Weekly,
            "2025-06-08T23:00:00Z",
            "2025-06-09T07:00:00Z",
        );
        check(
            Frequency::Monthly,
            "2025-06-01T06:00:00Z",
            "2025-06-01T07:00:00Z",
        );
        check(
            Frequency::Monthly,
            "2025-06-01T07:00:00Z",
            "2025-07-01T07:00:00Z",
        );
        check(
            Frequency::Monthly,
            "2025-12-15T00:00:00Z",
            "2026-01-01T07:00:00Z",
        );
        assert_eq!(
            Frequency::Monthly.period_start(at("2025-03-01T07:00:00Z")),
            at("2025-02-01T07:00:00Z")
        );
        assert_eq!(
            Frequency::Weekly.period_start(at("2025-06-09T07:00:00Z")),
            at("2025-06-02T07:00:00Z")
        );
    }
}
