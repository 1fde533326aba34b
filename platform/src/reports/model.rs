//! The rows every report is made of. They serialize as the reports' JSON, so field names
//! are part of the console's JSON API (`/api/v1/reports/...`).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

/// How fresh a source's figures are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Uploads arrive on schedule.
    Healthy,
    /// No upload for more than twice the collection interval: the figures are those of the
    /// last upload, not a change in anyone's seat.
    Stale,
    /// Approved, but nothing uploaded yet.
    AwaitingFirstUpload,
    /// The source was revoked; its history is kept.
    Revoked,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Stale => "stale",
            Health::AwaitingFirstUpload => "awaiting first upload",
            Health::Revoked => "revoked",
        }
    }
}

/// Collection interval assumed when an agent did not say (daily collection).
pub(crate) const DEFAULT_INTERVAL_SECS: i64 = 24 * 3600;

/// The platform's one staleness rule: a source is stale when its last upload is older than
/// twice its interval, or, when it never uploaded, when it was created (approved) longer
/// ago than that (`created_at` unknown: awaiting its first upload).
pub(crate) fn health(
    revoked: bool,
    last_upload_at: Option<DateTime<Utc>>,
    created_at: Option<DateTime<Utc>>,
    interval_secs: i64,
    now: DateTime<Utc>,
) -> Health {
    if revoked {
        return Health::Revoked;
    }
    let interval = if interval_secs > 0 {
        interval_secs
    } else {
        DEFAULT_INTERVAL_SECS
    };
    let Some(last) = last_upload_at else {
        return match created_at {
            Some(created) if (now - created).num_seconds() > interval.saturating_mul(2) => {
                Health::Stale
            }
            _ => Health::AwaitingFirstUpload,
        };
    };
    if (now - last).num_seconds() > interval.saturating_mul(2) {
        Health::Stale
    } else {
        Health::Healthy
    }
}

/// One source on the overview page.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OverviewRow {
    pub source_id: String,
    pub name: String,
    pub kind: String,
    pub tenant_id: String,
    pub tenant_name: String,
    pub health: Health,
    pub last_upload_at: Option<DateTime<Utc>>,
    /// The day the figures are for (the last applied snapshot's day).
    pub as_of: Option<NaiveDate>,
    pub interval_secs: i64,
    pub people: i64,
    pub billable: i64,
    pub in_use: i64,
    pub active: i64,
    pub leaving: i64,
    pub inactive: i64,
    /// Inactive seats the never-verified heuristic alone made inactive (reason
    /// `never_verified`: no earlier rule applied).
    pub inactive_never_verified: i64,
    pub pre_hires: i64,
    pub pre_hires_starting_soon: i64,
    pub offboarded: i64,
    pub recent_leavers: i64,
    pub unknown: i64,
    pub findings: i64,
    /// `in_use / billable`, `null` when nothing is billable or nothing was uploaded.
    pub utilisation: Option<f64>,
    /// Whether the last snapshot could see private data (pre-hires, leavers); `false`
    /// means those figures undercount.
    pub private_access: Option<bool>,
    /// Seats of `inactive_never_verified` whose person signed in recently to an application
    /// of the organisation (its licence is `in_use`): the heuristic does not hold for them.
    pub never_verified_contradicted: i64,
}

/// Filters and order of the inactive-seats report.
#[derive(Debug, Clone, Default, serde::Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub(crate) struct SeatFilter {
    /// Source id; empty = all.
    pub source: String,
    /// `inactive` (default), `leaving`, `pre_hire`, `offboarded`, `unknown`, `active`, or
    /// `all` (every state but active).
    pub state: String,
    pub reason: String,
    /// A department; `(none)` for people without one.
    pub department: String,
    /// Manager's person id.
    pub manager: String,
    /// `person`, `email`, `department`, `manager`, `state`, `reason`, `since`, `days`,
    /// `source`; default `days`.
    pub sort: String,
    /// `asc` or `desc` (default `desc` for days, else `asc`).
    pub dir: String,
}

impl SeatFilter {
    /// The state filter with its default.
    pub(crate) fn state_or_default(&self) -> &str {
        if self.state.is_empty() {
            "inactive"
        } else {
            &self.state
        }
    }

    pub(crate) fn sort_or_default(&self) -> &str {
        match self.sort.as_str() {
            "person" | "email" | "department" | "manager" | "state" | "reason" | "since"
            | "days" | "source" => &self.sort,
            _ => "days",
        }
    }

    /// Refuses values the filter does not know (a 400 with the allowed ones), instead of
    /// answering an empty table.
    pub(crate) fn check(&self) -> Result<(), String> {
        const STATES: &[&str] = &[
            "",
            "inactive",
            "leaving",
            "pre_hire",
            "offboarded",
            "unknown",
            "active",
            "all",
        ];
        const SORTS: &[&str] = &[
            "",
            "person",
            "email",
            "department",
            "manager",
            "state",
            "reason",
            "since",
            "days",
            "source",
        ];
        if !STATES.contains(&self.state.as_str()) {
            return Err(format!(
                "Unknown state {:?}: use one of {} (all = every state but active).",
                self.state,
                STATES[1..].join(", ")
            ));
        }
        if !SORTS.contains(&self.sort.as_str()) {
            return Err(format!(
                "Unknown sort {:?}: use one of {}.",
                self.sort,
                SORTS[1..].join(", ")
            ));
        }
        if !matches!(self.dir.as_str(), "" | "asc" | "desc") {
            return Err(format!(
                "Unknown direction {:?}: use asc or desc.",
                self.dir
            ));
        }
        Ok(())
    }

    pub(crate) fn descending(&self) -> bool {
        match self.dir.as_str() {
            "asc" => false,
            "desc" => true,
            _ => self.sort_or_default() == "days",
        }
    }
}

/// One row of the inactive-seats report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub(crate) struct SeatRow {
    pub source_id: String,
    pub source_name: String,
    pub person_id: String,
    pub name: Option<String>,
    pub work_email: Option<String>,
    pub department: Option<String>,
    pub job_title: Option<String>,
    pub manager_id: Option<String>,
    pub manager_name: Option<String>,
    pub state: String,
    pub reason: Option<String>,
    pub since: Option<NaiveDate>,
    /// Days from `since` to today; `null` without `since`.
    pub days: Option<i64>,
    /// The source has not uploaded for more than twice its interval: this row is as of
    /// its last upload.
    pub source_stale: bool,
    /// For a `never_verified` seat: the person's most recent sign-in to an application
    /// whose licence is in use, which the console prefers to the heuristic. `null`
    /// otherwise. In JSON: `"<application> <day>"`.
    #[serde(serialize_with = "app_activity_summary")]
    #[schema(value_type = Option<String>)]
    pub app_activity: Option<AppActivity>,
}

impl SeatRow {
    /// The state in words (the code stays in CSV and JSON).
    pub(crate) fn state_label(&self) -> String {
        super::labels::state_label(&self.state)
    }

    /// The reason in words, if any.
    pub(crate) fn reason_label(&self) -> Option<String> {
        self.reason.as_deref().map(super::labels::reason_label)
    }
}

fn app_activity_summary<S: serde::Serializer>(
    value: &Option<AppActivity>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(activity) => serializer.serialize_str(&activity.summary()),
        None => serializer.serialize_none(),
    }
}

/// A recent sign-in to an application, from its source's own activity data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct AppActivity {
    pub application: String,
    pub day: NaiveDate,
}

impl AppActivity {
    /// `<application> <day>`, as the CSV column holds it.
    pub(crate) fn summary(&self) -> String {
        format!("{} {}", self.application, self.day)
    }

    /// The sentence the inactive-seats page shows next to the reason.
    pub(crate) fn note(&self) -> String {
        format!(
            "signed in to {} on {}: the never-verified heuristic does not hold for this person",
            self.application, self.day
        )
    }
}

/// The distinct values the inactive-seat filters offer.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct SeatFilterChoices {
    pub sources: Vec<(String, String)>,
    /// (code, words)
    pub reasons: Vec<(String, String)>,
    pub departments: Vec<String>,
    /// (person id, name)
    pub managers: Vec<(String, String)>,
}

/// One day of the trends report (summed over the selected sources).
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub(crate) struct TrendPoint {
    pub day: NaiveDate,
    pub active: i64,
    pub leaving: i64,
    pub inactive: i64,
    pub pre_hire: i64,
    pub offboarded: i64,
    pub unknown: i64,
    pub billable: i64,
    pub in_use: i64,
}

/// One stored daily summary, as the trend query reads it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DailyRow {
    pub source_id: String,
    pub point: TrendPoint,
}

/// Seat counts for one department.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub(crate) struct DepartmentRow {
    /// Empty for people without a department.
    pub department: String,
    pub people: i64,
    pub active: i64,
    pub leaving: i64,
    pub inactive: i64,
    pub pre_hire: i64,
    pub offboarded: i64,
    pub unknown: i64,
    pub billable: i64,
    pub utilisation: Option<f64>,
}

/// Count of findings of one kind.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub(crate) struct FindingCount {
    pub kind: String,
    pub count: i64,
}

/// One data-quality finding about one person.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub(crate) struct FindingRow {
    pub source_id: String,
    pub source_name: String,
    pub person_id: String,
    pub name: Option<String>,
    pub work_email: Option<String>,
    pub department: Option<String>,
    pub kind: String,
    pub detail: Option<String>,
    /// `detail` with the person ids it names replaced by their names, for the page
    /// (JSON keeps `detail` as the agent sent it).
    #[serde(skip)]
    pub detail_text: Option<String>,
}

impl FindingRow {
    /// The finding kind in words.
    pub(crate) fn kind_label(&self) -> String {
        super::labels::finding_label(&self.kind)
    }
}

impl FindingCount {
    /// The finding kind in words.
    pub(crate) fn kind_label(&self) -> String {
        super::labels::finding_label(&self.kind)
    }
}

/// An agent on the sources & agents page.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub(crate) struct AgentRow {
    pub agent_id: String,
    pub host_name: String,
    pub agent_version: String,
    pub os: String,
    pub state: String,
    pub enrolled_at: DateTime<Utc>,
    pub last_heartbeat_at: Option<DateTime<Utc>>,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub spool_snapshots: Option<i64>,
    pub spool_bytes: Option<i64>,
    pub last_error: Option<String>,
    pub sources: Vec<LinkRow>,
    /// Its incomplete snapshots (parts held, bytes, age) and those the expiry job dropped.
    pub incomplete_uploads: crate::store::IncompleteUploads,
}

/// One of an agent's configured sources.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub(crate) struct LinkRow {
    pub link_id: String,
    pub agent_id: String,
    pub local_name: String,
    pub kind: String,
    pub tenant_id: String,
    pub tenant_name: String,
    pub state: String,
    pub source_id: Option<String>,
    /// For a pending link: an existing source with the same kind and tenant, proposed as the
    /// merge target (the first of `merge_targets`).
    pub proposed_merge: Option<String>,
    /// For a pending link: the approved sources it may be merged into (same kind and
    /// tenant), as (id, label). Only these are offered.
    #[serde(skip)]
    pub merge_targets: Vec<(String, String)>,
}

/// A console user.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct UserRow {
    pub id: String,
    pub username: String,
    pub role: crate::auth::Role,
    pub created_at: DateTime<Utc>,
    pub disabled: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn stale_after_twice_the_interval() {
        let now: DateTime<Utc> = "2026-03-01T12:00:00Z".parse().unwrap();
        let check = |revoked, last: Option<i64>, interval, expected| {
            let last = last.map(|hours| now - Duration::hours(hours));
            assert_eq!(
                health(revoked, last, None, interval, now),
                expected,
                "{last:?} {interval}"
            );
        };
        check(false, None, 3600, Health::AwaitingFirstUpload);
        // Never uploaded: awaiting while young, stale once twice the interval has passed.
        let created = |hours| Some(now - Duration::hours(hours));
        assert_eq!(
            health(false, None, created(1), 3600, now),
            Health::AwaitingFirstUpload
        );
        assert_eq!(health(false, None, created(3), 3600, now), Health::Stale);
        check(false, Some(1), 3600, Health::Healthy);
        check(false, Some(2), 3600, Health::Healthy);
        check(false, Some(3), 3600, Health::Stale);
        // Unknown interval: daily.
        check(false, Some(47), 0, Health::Healthy);
        check(false, Some(49), 0, Health::Stale);
        check(true, Some(1), 3600, Health::Revoked);
    }

    #[test]
    fn seat_filter_defaults() {
        let f = SeatFilter::default();
        assert_eq!(f.state_or_default(), "inactive");
        assert_eq!(f.sort_or_default(), "days");
        assert!(f.descending());
        let f = SeatFilter {
            sort: "person; DROP TABLE".into(),
            ..Default::default()
        };
        assert_eq!(f.sort_or_default(), "days");
        let f = SeatFilter {
            sort: "person".into(),
            ..Default::default()
        };
        assert!(!f.descending());
    }
}
