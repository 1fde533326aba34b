//! `check` for app sources: the secret (offline), then the token, the permissions it
//! carries and one probe per need (online); for seat lists, that the files can be read.

use std::io::{self, Write};

use crate::collector::CollectError;
use crate::config::{SourceConfig, SourceKindConfig};

/// The result of checking one source.
#[derive(Debug)]
pub(crate) enum CheckOutcome {
    Ok,
    /// It works, but the figures will be incomplete (e.g. no sign-in activity).
    Warning,
    Failed(CollectError),
}

/// Checks `source`, writing `ok`/`WARN`/`FAIL` lines to `out`. `offline`: only what needs
/// no network (the client secret can be read; the seat list can be read). An error is the
/// output's own (e.g. a closed pipe).
pub(crate) async fn check(
    source: &SourceConfig,
    offline: bool,
    out: &mut dyn Write,
) -> io::Result<CheckOutcome> {
    let name = &source.name;
    let outcome = match source.kind {
        SourceKindConfig::SeatList => {
            let path = source.path.clone().unwrap_or_default();
            match crate::seatlist::read_path(&path) {
                Ok(list) => {
                    writeln!(
                        out,
                        "ok    source {name}: seat list {} ({} file(s), {} rows, applications: {})",
                        path.display(),
                        list.files.len(),
                        list.rows_seen,
                        crate::seatlist::applications(&list)
                    )?;
                    let mut outcome = CheckOutcome::Ok;
                    if !list.bad_rows.is_empty() {
                        writeln!(
                            out,
                            "WARN  source {name}: {} row(s) cannot be read and will be left out, e.g. {}",
                            list.bad_rows.len(),
                            list.bad_rows[0]
                        )?;
                        outcome = CheckOutcome::Warning;
                    }
                    if !list.activity_available {
                        writeln!(
                            out,
                            "WARN  source {name}: no last_active column: nobody can be called idle or never-used"
                        )?;
                        outcome = CheckOutcome::Warning;
                    }
                    outcome
                }
                Err(error) => {
                    let error = CollectError::SeatList {
                        source_name: name.clone(),
                        error,
                    };
                    writeln!(out, "FAIL  {error}")?;
                    CheckOutcome::Failed(error)
                }
            }
        }
        _ if offline => match source.client_secret().map(|s| (s.describe(), s.resolve())) {
            Some((what, Ok(_))) => {
                writeln!(out, "ok    source {name}: Entra ID client secret ({what})")?;
                CheckOutcome::Ok
            }
            Some((what, Err(error))) => {
                writeln!(
                    out,
                    "FAIL  source {name}: Entra ID client secret ({what}): {error}"
                )?;
                CheckOutcome::Failed(CollectError::ClientSecret {
                    source_name: name.clone(),
                    error,
                })
            }
            None => {
                writeln!(out, "FAIL  source {name}: no Entra ID client secret")?;
                CheckOutcome::Failed(CollectError::Other {
                    source_name: name.clone(),
                    message: "no client secret configured".into(),
                })
            }
        },
        _ => {
            let client = match super::entra_client(source, None, |config| {
                config.retry.max_attempts = crate::dryrun::DRY_RUN_ATTEMPTS;
                config.retry.max_elapsed = crate::dryrun::DRY_RUN_RETRY_BUDGET;
            }) {
                Ok(client) => client,
                Err(error) => {
                    writeln!(out, "FAIL  {error}")?;
                    return Ok(CheckOutcome::Failed(error));
                }
            };
            let access = match client.check_access().await {
                Ok(access) => access,
                Err(error) => {
                    let error = CollectError::Entra {
                        source_name: name.clone(),
                        error: Box::new(error),
                    };
                    writeln!(out, "FAIL  {error}")?;
                    return Ok(CheckOutcome::Failed(error));
                }
            };
            writeln!(
                out,
                "ok    source {name}: Entra ID issued a token for tenant {}",
                client.config().tenant_id
            )?;
            let mut outcome = CheckOutcome::Ok;
            match &access.roles {
                Some(roles) if access.missing.is_empty() => {
                    writeln!(
                        out,
                        "ok    source {name}: application permissions: {}",
                        roles.join(", ")
                    )?;
                }
                Some(_) => {
                    writeln!(
                        out,
                        "WARN  source {name}: the app registration lacks the application permission(s) {}; add them under API permissions > Microsoft Graph > Application permissions and grant admin consent",
                        access.missing.join(", ")
                    )?;
                    outcome = CheckOutcome::Warning;
                }
                None => {
                    writeln!(
                        out,
                        "note  source {name}: the access token does not list its permissions; the probes below tell what works"
                    )?;
                }
            }
            let mut failed = None;
            for (what, result) in &access.probes {
                match result {
                    Ok(()) => {
                        writeln!(out, "ok    source {name}: Graph answers {what}")?;
                    }
                    Err(error) if *what == "sign-in activity" => {
                        writeln!(
                            out,
                            "WARN  source {name}: sign-in activity is not available ({error}); licences will be counted but nobody called idle or never-used"
                        )?;
                        if !matches!(outcome, CheckOutcome::Failed(_)) {
                            outcome = CheckOutcome::Warning;
                        }
                    }
                    Err(error) => {
                        writeln!(out, "FAIL  source {name}: {what}: {error}")?;
                        failed.get_or_insert_with(|| error.clone());
                    }
                }
            }
            match failed {
                Some(message) => CheckOutcome::Failed(CollectError::Other {
                    source_name: name.clone(),
                    message,
                }),
                None => outcome,
            }
        }
    };
    Ok(outcome)
}
