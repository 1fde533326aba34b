//! Glue between a configured source and a spoolable snapshot: read the token, collect from
//! Humaans, run the usage engine, and build the [`SnapshotPayload`].
//!
//! The service talks to a [`Collector`], so its tests can use a fake one and the real one
//! ([`HumaansCollector`]) stays a thin composition of the Humaans client and the engine.

use std::future::Future;
use std::path::PathBuf;

use chrono::Utc;
use seatbroker_protocol::{CollectionInfo, SnapshotPayload, SourceKind, UsagePolicy};

use crate::config::{SecretError, SourceConfig};
use crate::engine::{self, PseudonymKeyError, Pseudonymizer};
use crate::humaans::{HumaansClient, HumaansConfig, HumaansError};

/// The tenant a source reads: for Humaans, the company.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub kind: SourceKind,
    pub id: String,
    pub name: String,
}

/// Why a collection produced no snapshot.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("cannot read the Humaans token of source {source_name}: {error}")]
    Token {
        source_name: String,
        error: SecretError,
    },
    #[error("cannot read the pseudonymisation key {} of source {source_name}: {error}", path.display())]
    KeyFile {
        source_name: String,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("the pseudonymisation key of source {source_name} is unusable: {error}")]
    Key {
        source_name: String,
        error: PseudonymKeyError,
    },
    #[error("collecting source {source_name} from Humaans failed: {error}")]
    Humaans {
        source_name: String,
        error: HumaansError,
    },
    #[error("the policy of source {source_name} is invalid: {error}")]
    Policy {
        source_name: String,
        error: seatbroker_protocol::PolicyError,
    },
    #[error("cannot encode the snapshot of source {source_name}: {error}")]
    Encode {
        source_name: String,
        error: serde_json::Error,
    },
    #[error("cannot read the Entra ID client secret of source {source_name}: {error}")]
    ClientSecret {
        source_name: String,
        error: SecretError,
    },
    #[error("collecting source {source_name} from Entra ID failed: {error}")]
    Entra {
        source_name: String,
        error: Box<crate::entra::EntraError>,
    },
    #[error("reading the seat list of source {source_name} failed: {error}")]
    SeatList {
        source_name: String,
        error: crate::seatlist::SeatListError,
    },
    /// A collector for tests or a future source kind.
    #[error("collecting source {source_name} failed: {message}")]
    Other {
        source_name: String,
        message: String,
    },
}

impl CollectError {
    /// Whether a person must fix the configuration (or a credential) before it can work.
    pub fn is_config(&self) -> bool {
        match self {
            Self::Token { .. }
            | Self::ClientSecret { .. }
            | Self::KeyFile { .. }
            | Self::Key { .. }
            | Self::Policy { .. } => true,
            Self::Entra { error, .. } => error.is_config(),
            Self::SeatList { error, .. } => matches!(
                error,
                crate::seatlist::SeatListError::Io { .. }
                    | crate::seatlist::SeatListError::EmptyFolder { .. }
            ),
            _ => false,
        }
    }

    /// Whether the source was unreachable or failing, so a later try may work.
    pub fn is_retriable(&self) -> bool {
        match self {
            Self::Humaans { error, .. } => error.is_retriable(),
            Self::Entra { error, .. } => error.is_retriable(),
            Self::SeatList { error, .. } => {
                matches!(error, crate::seatlist::SeatListError::Unstable { .. })
            }
            _ => false,
        }
    }
}

/// Produces snapshots of configured sources.
pub trait Collector: Send + Sync + 'static {
    /// Collects `source` once and evaluates it under `policy`. All or nothing.
    fn collect(
        &self,
        source: &SourceConfig,
        policy: &UsagePolicy,
    ) -> impl Future<Output = Result<SnapshotPayload, CollectError>> + Send;

    /// Names the tenant of `source`, for enrollment.
    fn tenant(
        &self,
        source: &SourceConfig,
    ) -> impl Future<Output = Result<Tenant, CollectError>> + Send;
}

/// The real collector: Humaans client + usage engine for `humaans` sources; the Entra ID
/// client or the seat-list reader + licence engine for app sources (`crate::appsource`).
#[derive(Debug, Clone, Default)]
pub struct HumaansCollector {
    /// An extra CA to trust for Humaans (a TLS-inspecting proxy); not configurable yet.
    pub ca_file: Option<PathBuf>,
}

impl HumaansCollector {
    fn client(&self, source: &SourceConfig) -> Result<HumaansClient, CollectError> {
        let token_ref = source.token().ok_or_else(|| CollectError::Token {
            source_name: source.name.clone(),
            error: SecretError::Env {
                name: "(no token configured)".into(),
            },
        })?;
        let token = token_ref.resolve().map_err(|error| CollectError::Token {
            source_name: source.name.clone(),
            error,
        })?;
        let mut config = HumaansConfig::new(source.base_url.clone(), token);
        config.concurrency = source.concurrency;
        config.ca_certificate = self.ca_file.clone();
        // Validation allowed plain http only to loopback (a local simulator).
        config.allow_insecure_http = false;
        HumaansClient::new(config).map_err(|error| CollectError::Humaans {
            source_name: source.name.clone(),
            error,
        })
    }

    pub(crate) fn pseudonymizer(
        source: &SourceConfig,
    ) -> Result<Option<Pseudonymizer>, CollectError> {
        let Some(settings) = &source.pseudonymize else {
            return Ok(None);
        };
        if let Some(mode) = crate::config::loose_permissions(&settings.key_file) {
            tracing::warn!(path = %settings.key_file.display(), mode = format!("{mode:o}"), "The pseudonymisation key file can be read by other users; restrict it with `chmod 600`.");
        }
        let key = std::fs::read(&settings.key_file).map_err(|error| CollectError::KeyFile {
            source_name: source.name.clone(),
            path: settings.key_file.clone(),
            error,
        })?;
        Pseudonymizer::new(&key)
            .map(Some)
            .map_err(|error| CollectError::Key {
                source_name: source.name.clone(),
                error,
            })
    }

    /// Checks what the token may see, without collecting: for `check`.
    pub(crate) async fn check_access(
        &self,
        source: &SourceConfig,
    ) -> Result<crate::humaans::Access, CollectError> {
        let client = self.client(source)?;
        client
            .check_access()
            .await
            .map_err(|error| CollectError::Humaans {
                source_name: source.name.clone(),
                error,
            })
    }
}

impl Collector for HumaansCollector {
    async fn collect(
        &self,
        source: &SourceConfig,
        policy: &UsagePolicy,
    ) -> Result<SnapshotPayload, CollectError> {
        if source.kind.is_app() {
            return crate::appsource::collect_snapshot(source, policy, self.ca_file.clone()).await;
        }
        let pseudonymizer = Self::pseudonymizer(source)?;
        let client = self.client(source)?;
        let collected_at = Utc::now();
        let collection = client
            .collect(&|_| {})
            .await
            .map_err(|error| CollectError::Humaans {
                source_name: source.name.clone(),
                error,
            })?;
        let evaluation = engine::evaluate(
            &collection.people,
            &collection.job_roles,
            policy,
            collected_at.date_naive(),
            pseudonymizer.as_ref(),
        )
        .map_err(|error| CollectError::Policy {
            source_name: source.name.clone(),
            error,
        })?;
        // Not carried to the platform: `CollectionInfo` has no place for it yet.
        for warning in &evaluation.warnings {
            tracing::warn!(source = %source.name, "{warning}");
        }
        Ok(SnapshotPayload {
            schema: 1,
            local_source: source.name.clone(),
            collected_at,
            policy: policy.clone(),
            collection: CollectionInfo {
                tenant_id: collection.company_id.clone(),
                people_seen: collection.people_seen,
                job_roles_seen: collection.job_roles_seen,
                unparsable_person_ids: collection.unparsable_person_ids.clone(),
                private_access: collection.private_access,
                duration_ms: collection.duration.as_millis() as u64,
                agent_version: env!("CARGO_PKG_VERSION").to_owned(),
            },
            summary: evaluation.summary,
            seats: evaluation.seats,
            findings: evaluation.findings,
            licences: None,
        })
    }

    async fn tenant(&self, source: &SourceConfig) -> Result<Tenant, CollectError> {
        if source.kind.is_app() {
            return crate::appsource::tenant(source, self.ca_file.clone()).await;
        }
        let client = self.client(source)?;
        let access = client
            .check_access()
            .await
            .map_err(|error| CollectError::Humaans {
                source_name: source.name.clone(),
                error,
            })?;
        let (id, name) = client
            .company(access.company_id.as_deref())
            .await
            .map_err(|error| CollectError::Humaans {
                source_name: source.name.clone(),
                error,
            })?;
        Ok(Tenant {
            kind: SourceKind::Humaans,
            name: name.unwrap_or_else(|| id.clone()),
            id,
        })
    }
}

/// The bytes the spool keeps and the uploader cuts into parts: the payload as JSON,
/// gzip-compressed (exactly what `seatbroker_protocol::encode_snapshot` produces, joined).
pub(crate) fn encode_payload(payload: &SnapshotPayload) -> Result<Vec<u8>, CollectError> {
    seatbroker_protocol::encode_snapshot(payload, seatbroker_protocol::limits::MAX_PART_BYTES)
        .map(|encoded| encoded.chunks.concat())
        .map_err(|error| CollectError::Encode {
            source_name: payload.local_source.clone(),
            error,
        })
}
