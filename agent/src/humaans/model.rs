//! Humaans API records as the agent needs them, parsed tolerantly.
//!
//! See `../shared/reference/humaans-api.md`: every field but `id` is optional, unknown
//! fields are ignored, unknown status values are kept (`PersonStatus::Other`). Only the
//! fields the usage engine and the minimised seat record need are kept, so memory follows
//! the minimised records, not the raw JSON (Humaans sends ~60 fields per person).

use chrono::NaiveDate;
use seatbroker_protocol::PersonStatus;
use serde::Deserialize;

/// A person, reduced to what seat usage needs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    pub id: String,
    #[serde(default)]
    pub company_id: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub preferred_name: Option<String>,
    /// Work email.
    #[serde(default)]
    pub email: Option<String>,
    /// `None` when Humaans omitted the field.
    #[serde(default)]
    pub status: Option<PersonStatus>,
    #[serde(default)]
    pub employment_start_date: Option<NaiveDate>,
    #[serde(default)]
    pub employment_end_date: Option<NaiveDate>,
    #[serde(default)]
    pub is_verified: Option<bool>,
}

impl Person {
    /// `preferredName ?? firstName`, then `lastName`, as the Humaans app shows it.
    pub fn display_name(&self) -> Option<String> {
        let first = self.preferred_name.as_deref().or(self.first_name.as_deref());
        match (first, self.last_name.as_deref()) {
            (Some(f), Some(l)) => Some(format!("{f} {l}")),
            (Some(f), None) => Some(f.to_owned()),
            (None, Some(l)) => Some(l.to_owned()),
            (None, None) => None,
        }
    }
}

/// One role period of one person (`/api/job-roles`). A person has a history of them;
/// the current one is chosen by date.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRole {
    pub id: String,
    pub person_id: String,
    #[serde(default)]
    pub job_title: Option<String>,
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub effective_date: Option<NaiveDate>,
    #[serde(default)]
    pub end_date: Option<NaiveDate>,
    /// Manager's person id. The field name is the best guess of the reference notes
    /// (unconfirmed by Humaans' documentation).
    #[serde(default)]
    pub reporting_to: Option<String>,
}
