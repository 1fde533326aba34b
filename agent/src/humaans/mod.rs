//! The agent's view of Humaans: an HTTP client with concurrent paging, retries and a scope
//! check, and the tolerant record types it parses.
//!
//! - [`config`]: [`HumaansConfig`] and its validation (https only, no `/api` suffix, ...).
//! - [`client`]: [`HumaansClient`], one GET with status mapping and `backon` retries.
//! - [`paging`]: whole listings, pages fetched concurrently and reassembled by offset.
//! - [`scope`]: what the token may see ([`HumaansClient::check_access`]).
//! - [`model`]: the reduced records ([`Person`], [`JobRole`]) and [`current_role`].
//! - [`error`]: [`HumaansError`], each variant a message a person can act on.

mod client;
pub(crate) mod config;
mod error;
pub(crate) mod model;
mod paging;
mod scope;

use std::time::{Duration, Instant};

use seatbroker_protocol::PersonStatus;

pub use client::HumaansClient;
pub(crate) use client::{NowFn, SleepFn, parse_retry_after, user_agent};
pub use config::HumaansConfig;
pub(crate) use config::{DEFAULT_BASE_URL, DEFAULT_CONCURRENCY};
pub(crate) use config::{RetryPolicy, UnparsableThreshold};
pub use error::{HumaansError, Resource};
pub(crate) use model::Company;
pub use model::{JobRole, Person, current_role};
pub use paging::Progress;
pub use scope::AccessEvidence;
pub(crate) use scope::{Access, NO_PRIVATE_ACCESS};

/// Everything one collection read from Humaans. Complete or absent: a run that fails
/// part-way returns an error, never a partial `Collection`.
#[derive(Debug, Clone)]
pub struct Collection {
    /// The Humaans company id: the tenant of the data source.
    pub company_id: String,
    /// The company's name; the company id when Humaans did not tell it.
    pub company_name: String,
    /// De-duplicated by id, in listing order.
    pub people: Vec<Person>,
    /// De-duplicated by id, in listing order; all role periods, past and future.
    pub job_roles: Vec<JobRole>,
    /// People records that could not be parsed (below the failure threshold), by id
    /// (`<no id>` when even the id was unreadable).
    pub unparsable_person_ids: Vec<String>,
    /// Person records received, parsed or not.
    pub people_seen: u64,
    /// Job-role records received, parsed or not.
    pub job_roles_seen: u64,
    /// Whether the token sees private data (pre-hires, leavers, end dates). When false,
    /// report `NO_PRIVATE_ACCESS`: the numbers are incomplete (and `job_roles` is empty
    /// if Humaans refused them to the token).
    pub private_access: bool,
    /// Things a person should know that did not stop the collection (Humaans refused the
    /// sort order, ...), each already logged.
    pub warnings: Vec<String>,
    pub duration: Duration,
}

impl HumaansClient {
    /// Reads the company, every person and every job role. Calls `progress` after each
    /// page. Fails as a whole if any part cannot be read.
    pub async fn collect(
        &self,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<Collection, HumaansError> {
        let started = Instant::now();
        let access = self.check_access().await?;
        if let Some(warning) = access.warning() {
            tracing::warn!(evidence = ?access.evidence, "{warning}");
        }
        let company = self.company(access.company_id.as_deref()).await?;
        let mut warnings = Vec::new();
        let people =
            paging::list_all::<Person>(self, Resource::People, progress, &mut warnings).await?;
        let roles =
            match paging::list_all::<JobRole>(self, Resource::JobRoles, progress, &mut warnings)
                .await
            {
                Ok(roles) => roles,
                // A public-only token may not read job roles at all. The collection then says
                // `private_access: false`, which callers report; with private access a 403 is
                // a real failure.
                Err(HumaansError::Forbidden { url, .. }) if !access.private_access => {
                    tracing::warn!(
                        url,
                        "The Humaans token may not read job roles; collecting without them."
                    );
                    paging::Listing::empty()
                }
                Err(e) => return Err(e),
            };

        let sees_private_people = people.records.iter().any(|p| {
            matches!(
                p.status,
                Some(PersonStatus::NewHire | PersonStatus::Offboarded)
            ) || p.employment_end_date.is_some()
        });
        let (company_id, company_name) = company;
        let collection = Collection {
            company_name: company_name.unwrap_or_else(|| company_id.clone()),
            company_id,
            unparsable_person_ids: people.unparsable_ids,
            people_seen: people.seen,
            job_roles_seen: roles.seen,
            people: people.records,
            job_roles: roles.records,
            private_access: access.private_access || sees_private_people,
            warnings,
            duration: started.elapsed(),
        };
        tracing::info!(
            company = %collection.company_id,
            people = collection.people.len(),
            job_roles = collection.job_roles.len(),
            unparsable = collection.unparsable_person_ids.len(),
            private_access = collection.private_access,
            duration_ms = collection.duration.as_millis() as u64,
            "Collected Humaans data."
        );
        Ok(collection)
    }

    /// The company id and name: `/api/companies`, else the token owner's `companyId`.
    pub async fn company(
        &self,
        known_company_id: Option<&str>,
    ) -> Result<(String, Option<String>), HumaansError> {
        match self.get_json::<paging::ListBody>("/api/companies").await {
            Ok(page) => {
                // Any list shape; a company record that cannot be read counts as absent.
                let companies: Vec<Company> = page
                    .data
                    .iter()
                    .filter_map(|raw| serde_json::from_str(raw.get()).ok())
                    .collect();
                let chosen = match known_company_id {
                    Some(id) => companies.iter().find(|c| c.id == id),
                    None => companies.first(),
                };
                if let Some(company) = chosen.or(companies.first()) {
                    return Ok((company.id.clone(), company.name.clone()));
                }
            }
            Err(HumaansError::NotFound { .. } | HumaansError::Forbidden { .. }) => {}
            Err(e) => return Err(e),
        }
        let id = match known_company_id {
            Some(id) => Some(id.to_owned()),
            None => self.me().await?.company_id,
        };
        match id {
            Some(id) => Ok((id, None)),
            None => Err(HumaansError::InvalidBody {
                url: self.url("/api/me"),
                message: "neither /api/companies nor /api/me told the company id; the agent \
                          cannot name the tenant"
                    .into(),
            }),
        }
    }
}
