//! App sources (`entra_id`, `seat_list`): from a configured source to a schema-2 snapshot,
//! a tenant for enrollment, a dry run and `check` lines. The service's collector
//! dispatches here for every kind but `humaans`.
//!
//! Tenants: an `entra_id` source's tenant is its `tenant_id`, named after the
//! organisation's display name when `GET /v1.0/organization` may be read (else the id). A
//! `seat_list` source has no tenant of its own: its id is derived from the source name and
//! the configured path ([`crate::seatlist::tenant_id`]), stable across restarts, and its name
//! lists the applications in the files.

mod check;
mod dryrun;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use seatbroker_protocol::{
    CollectionInfo, InactiveReasonCounts, LicenceSnapshot, SCHEMA_LICENCES, SnapshotPayload,
    StateCounts, Summary, UsagePolicy,
};

pub(crate) use check::{CheckOutcome, check};
pub(crate) use dryrun::{dry_run, write_dry_run};

use crate::collector::{CollectError, HumaansCollector, Tenant};
use crate::config::{SourceConfig, SourceKindConfig};
use crate::engine::Pseudonymizer;
use crate::entra::{EntraClient, EntraConfig};

/// What one collection of an app source produced.
#[derive(Debug, Clone)]
pub(crate) struct AppCollection {
    pub tenant_id: String,
    pub licences: LicenceSnapshot,
    pub duration: Duration,
}

/// The Entra ID client of an `entra_id` source; `tune` adjusts its settings (the dry run
/// shortens the retry budget).
pub(crate) fn entra_client(
    source: &SourceConfig,
    ca_file: Option<PathBuf>,
    tune: impl FnOnce(&mut EntraConfig),
) -> Result<EntraClient, CollectError> {
    let secret_ref = source
        .client_secret()
        .ok_or_else(|| CollectError::ClientSecret {
            source_name: source.name.clone(),
            error: crate::config::SecretError::Env {
                name: "(no client secret configured)".into(),
            },
        })?;
    let secret = secret_ref
        .resolve()
        .map_err(|error| CollectError::ClientSecret {
            source_name: source.name.clone(),
            error,
        })?;
    let mut config = EntraConfig::new(
        source.tenant_id.clone().unwrap_or_default(),
        source.client_id.clone().unwrap_or_default(),
        secret,
    );
    config.login_url = source.login_url();
    config.graph_url = source.graph_url();
    config.ca_certificate = ca_file;
    tune(&mut config);
    EntraClient::new(config).map_err(|error| CollectError::Entra {
        source_name: source.name.clone(),
        error: Box::new(error),
    })
}

/// Collects an app source once and evaluates it as of `today`. All or nothing.
pub(crate) async fn collect(
    source: &SourceConfig,
    today: NaiveDate,
    pseudonymizer: Option<&Pseudonymizer>,
    ca_file: Option<PathBuf>,
    tune: impl FnOnce(&mut EntraConfig),
) -> Result<AppCollection, CollectError> {
    let policy = source.policy.licence_policy();
    let policy_error = |error| CollectError::Policy {
        source_name: source.name.clone(),
        error,
    };
    match source.kind {
        SourceKindConfig::EntraId => {
            let client = entra_client(source, ca_file, tune)?;
            let directory = client
                .collect()
                .await
                .map_err(|error| CollectError::Entra {
                    source_name: source.name.clone(),
                    error: Box::new(error),
                })?;
            let licences = crate::entra::to_licences(&directory, &policy, today, pseudonymizer)
                .map_err(policy_error)?;
            tracing::info!(
                source = %source.name,
                users = directory.users_seen,
                pages = directory.pages,
                activity_available = directory.activity_available,
                "Read the Entra ID directory."
            );
            Ok(AppCollection {
                tenant_id: client.config().tenant_id.trim().to_owned(),
                licences,
                duration: directory.duration,
            })
        }
        SourceKindConfig::SeatList => {
            let started = std::time::Instant::now();
            let path = source.path.clone().unwrap_or_default();
            // File reads block; a seat list is small, but keep the runtime's threads free.
            let list = tokio::task::spawn_blocking({
                let path = path.clone();
                move || crate::seatlist::read_path(&path)
            })
            .await
            .map_err(|e| CollectError::Other {
                source_name: source.name.clone(),
                message: format!("the seat-list reader stopped: {e}"),
            })?
            .map_err(|error| CollectError::SeatList {
                source_name: source.name.clone(),
                error,
            })?;
            let licences = crate::seatlist::to_licences(
                &list,
                &source.purchased,
                &policy,
                today,
                pseudonymizer,
            )
            .map_err(policy_error)?;
            Ok(AppCollection {
                tenant_id: crate::seatlist::tenant_id(&source.name, &path),
                licences,
                duration: started.elapsed(),
            })
        }
        SourceKindConfig::Humaans => Err(CollectError::Other {
            source_name: source.name.clone(),
            message: "a humaans source is not an app source".into(),
        }),
    }
}

/// The schema-2 payload of an app collection: empty people sections, the licence section.
pub(crate) fn payload(
    source: &SourceConfig,
    policy: &UsagePolicy,
    collected_at: chrono::DateTime<Utc>,
    collection: AppCollection,
) -> SnapshotPayload {
    SnapshotPayload {
        schema: SCHEMA_LICENCES,
        local_source: source.name.clone(),
        collected_at,
        policy: policy.clone(),
        collection: CollectionInfo {
            tenant_id: collection.tenant_id,
            people_seen: 0,
            job_roles_seen: 0,
            unparsable_person_ids: Vec::new(),
            // Private HR data does not apply to app sources; activity has its own flag.
            private_access: true,
            duration_ms: u64::try_from(collection.duration.as_millis()).unwrap_or(u64::MAX),
            agent_version: env!("CARGO_PKG_VERSION").to_owned(),
        },
        summary: Summary {
            as_of: collection.licences.as_of,
            counts: StateCounts::default(),
            inactive_reasons: InactiveReasonCounts::default(),
            billable: 0,
            in_use: 0,
            utilisation: None,
            pre_hires_starting_soon: 0,
            recent_leavers: 0,
            departments: Vec::new(),
            findings: BTreeMap::new(),
        },
        seats: Vec::new(),
        findings: Vec::new(),
        licences: Some(collection.licences),
    }
}

/// The collector's path for app sources: collect, evaluate today, build the payload.
pub(crate) async fn collect_snapshot(
    source: &SourceConfig,
    policy: &UsagePolicy,
    ca_file: Option<PathBuf>,
) -> Result<SnapshotPayload, CollectError> {
    let pseudonymizer = HumaansCollector::pseudonymizer(source)?;
    let collected_at = Utc::now();
    let collection = collect(
        source,
        collected_at.date_naive(),
        pseudonymizer.as_ref(),
        ca_file,
        |_| {},
    )
    .await?;
    Ok(payload(source, policy, collected_at, collection))
}

/// The tenant of an app source, for enrollment.
pub(crate) async fn tenant(
    source: &SourceConfig,
    ca_file: Option<PathBuf>,
) -> Result<Tenant, CollectError> {
    match source.kind {
        SourceKindConfig::EntraId => {
            let client = entra_client(source, ca_file, |_| {})?;
            let id = client.config().tenant_id.trim().to_owned();
            let name = match client.organization_name().await {
                Ok(Some(name)) => name,
                Ok(None) => id.clone(),
                Err(error)
                    if error.is_retriable()
                        || matches!(error, crate::entra::EntraError::TokenRefused { .. }) =>
                {
                    return Err(CollectError::Entra {
                        source_name: source.name.clone(),
                        error: Box::new(error),
                    });
                }
                // Reading the name is optional (Organization.Read.All is not asked for):
                // any refusal falls back to the id without a word above debug.
                Err(error) => {
                    tracing::debug!(source = %source.name, %error, "The organisation's name cannot be read; the tenant id names it.");
                    id.clone()
                }
            };
            Ok(Tenant {
                kind: source.kind.wire(),
                id,
                name,
            })
        }
        _ => {
            let path = source.path.clone().unwrap_or_default();
            let id = crate::seatlist::tenant_id(&source.name, &path);
            let name = crate::seatlist::read_path(&path)
                .ok()
                .map(|list| crate::seatlist::applications(&list))
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| source.name.clone());
            Ok(Tenant {
                kind: source.kind.wire(),
                id,
                name,
            })
        }
    }
}

/// The number of records a payload carries: people, or accounts for an app source (what
/// `status` shows for the last collection).
pub(crate) fn records_in(payload: &SnapshotPayload) -> u64 {
    match &payload.licences {
        Some(licences) => licences.accounts_total,
        None => payload.seats.len() as u64,
    }
}

/// The warning a succeeded collection carries, logged once: a Humaans token without
/// private access, or an app source without activity.
pub(crate) fn collection_warning(
    source: &SourceConfig,
    payload: &SnapshotPayload,
) -> Option<String> {
    let warning = match &payload.licences {
        Some(licences) if !licences.activity_available => match source.kind {
            SourceKindConfig::SeatList => "the seat list has no last_active column: licences are counted, but nobody is called idle or never-used".to_owned(),
            _ => crate::entra::NO_ACTIVITY.to_owned(),
        },
        Some(_) => return None,
        None if !payload.collection.private_access => crate::humaans::NO_PRIVATE_ACCESS.to_owned(),
        None => return None,
    };
    tracing::warn!(source = %source.name, "{warning}");
    Some(warning)
}

/// `Humaans, https://app.humaans.io`, `Entra ID, tenant …`, `seat list, /path`: what
/// `status` prints after a source's name.
pub(crate) fn describe(source: &SourceConfig) -> String {
    match source.kind {
        SourceKindConfig::Humaans => format!("Humaans, {}", source.base_url),
        SourceKindConfig::EntraId => format!(
            "Entra ID, tenant {}",
            source.tenant_id.as_deref().unwrap_or("?")
        ),
        SourceKindConfig::SeatList => format!(
            "seat list, {}",
            source
                .path
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        ),
    }
}
