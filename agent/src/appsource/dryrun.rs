//! `collect --dry-run` for app sources: collect, evaluate, print; nothing is spooled or
//! uploaded, no enrollment is needed. With `json`, exactly the object `humaans-sim
//! graph-truth` prints (`kind`, `as_of`, `activity_available`, `accounts.total`,
//! `accounts.counts` with its five keys, `pools`); otherwise the same figures as a table.

use std::io::{self, Write};

use chrono::NaiveDate;
use seatbroker_protocol::{LicenceSnapshot, LicenceState, SourceKind};
use serde::Serialize;

use super::AppCollection;
use crate::collector::{CollectError, HumaansCollector};
use crate::config::SourceConfig;

/// The JSON of an app-source dry run. Keys are a contract: do not add any.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct DryRunReport {
    pub kind: SourceKind,
    pub as_of: NaiveDate,
    pub activity_available: bool,
    pub accounts: AccountFigures,
    pub pools: Vec<PoolFigures>,
}

/// `accounts` of the dry-run JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct AccountFigures {
    pub total: u64,
    pub counts: StateFigures,
}

/// `accounts.counts`: licence assignments per state, always the five keys.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct StateFigures {
    pub in_use: u64,
    pub idle: u64,
    pub never_used: u64,
    pub disabled_holding: u64,
    pub unknown_activity: u64,
}

/// One pool of the dry-run JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct PoolFigures {
    pub id: String,
    pub name: String,
    pub purchased: Option<u64>,
    pub assigned: u64,
    pub unassigned: Option<u64>,
}

impl DryRunReport {
    pub(crate) fn new(kind: SourceKind, licences: &LicenceSnapshot) -> Self {
        let c = &licences.counts;
        Self {
            kind,
            as_of: licences.as_of,
            activity_available: licences.activity_available,
            accounts: AccountFigures {
                total: licences.accounts_total,
                counts: StateFigures {
                    in_use: c.in_use,
                    idle: c.idle,
                    never_used: c.never_used,
                    disabled_holding: c.disabled_holding,
                    unknown_activity: c.unknown_activity,
                },
            },
            pools: licences
                .pools
                .iter()
                .map(|p| PoolFigures {
                    id: p.id.clone(),
                    name: p.name.clone(),
                    purchased: p.purchased,
                    assigned: p.assigned,
                    unassigned: p.unassigned,
                })
                .collect(),
        }
    }
}

/// A collected dry run of an app source, ready to be written.
#[derive(Debug)]
pub(crate) struct DryRun {
    report: DryRunReport,
    collection: AppCollection,
    warnings: Vec<String>,
}

/// Collects `source` once as of `as_of` (today, UTC, by default). Nothing is written yet,
/// so a failed collection leaves no partial output.
pub(crate) async fn dry_run(
    source: &SourceConfig,
    as_of: Option<NaiveDate>,
) -> Result<DryRun, CollectError> {
    let today = as_of.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let pseudonymizer = HumaansCollector::pseudonymizer(source)?;
    // Graph says how long to wait when it throttles (`Retry-After`); the dry run honours
    // it with the service's retry policy, so it gives the same figures as a collection.
    let collection = super::collect(source, today, pseudonymizer.as_ref(), None, |_| {}).await?;
    Ok(DryRun {
        report: DryRunReport::new(source.kind.wire(), &collection.licences),
        warnings: warnings(source, &collection),
        collection,
    })
}

/// Writes the report of `run` to `out`: with `json`, the contract object (its warnings go
/// to stderr); otherwise the tables. An error is the output's own (e.g. a closed pipe).
pub(crate) fn write_dry_run(
    source: &SourceConfig,
    run: &DryRun,
    json: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    if json {
        for warning in &run.warnings {
            eprintln!("warning: {warning}");
        }
        serde_json::to_writer_pretty(&mut *out, &run.report)?;
        writeln!(out)?;
    } else {
        render_text(source, &run.report, &run.collection, &run.warnings, out)?;
    }
    out.flush()
}

fn warnings(source: &SourceConfig, collection: &AppCollection) -> Vec<String> {
    let mut warnings = Vec::new();
    let licences = &collection.licences;
    if !licences.activity_available {
        warnings.push(match source.kind {
            crate::config::SourceKindConfig::SeatList => {
                "the seat list has no last_active column: nobody is called idle or never-used"
                    .to_owned()
            }
            _ => crate::entra::NO_ACTIVITY.to_owned(),
        });
    }
    if !licences.unparsable_records.is_empty() {
        let shown: Vec<&str> = licences
            .unparsable_records
            .iter()
            .take(10)
            .map(String::as_str)
            .collect();
        warnings.push(format!(
            "{} record(s) could not be read and were left out: {}{}",
            licences.unparsable_records.len(),
            shown.join("; "),
            if licences.unparsable_records.len() > 10 {
                "; ..."
            } else {
                ""
            }
        ));
    }
    warnings
}

/// Writes the readable report: the same figures as the JSON, as tables.
pub(crate) fn render_text(
    source: &SourceConfig,
    report: &DryRunReport,
    collection: &AppCollection,
    warnings: &[String],
    out: &mut dyn Write,
) -> io::Result<()> {
    let assignments: u64 = LicenceState::KNOWN
        .iter()
        .map(|s| collection.licences.counts.get(s))
        .sum();
    writeln!(
        out,
        "{} source {} ({}) as of {}: {} accounts, {} licence assignments, read in {}",
        source.kind.label(),
        source.name,
        collection.tenant_id,
        report.as_of,
        report.accounts.total,
        assignments,
        if collection.duration.as_millis() < 1000 {
            format!("{} ms", collection.duration.as_millis())
        } else {
            format!("{:.1} s", collection.duration.as_secs_f64())
        }
    )?;
    writeln!(
        out,
        "Activity: {}",
        if report.activity_available {
            "available"
        } else {
            "NOT available (licences counted, no one judged idle or never-used)"
        }
    )?;
    let policy = &collection.licences.policy;
    writeln!(
        out,
        "Policy: idle after {} days, never-used grace {} days\n",
        policy.idle_after_days, policy.never_used_grace_days
    )?;
    let c = &report.accounts.counts;
    writeln!(
        out,
        "{:<28}{:>10}{:>8}",
        "Licence state", "licences", "share"
    )?;
    for (name, n) in [
        ("in_use", c.in_use),
        ("idle", c.idle),
        ("never_used", c.never_used),
        ("disabled_holding", c.disabled_holding),
        ("unknown_activity", c.unknown_activity),
    ] {
        let share = if assignments == 0 {
            "-".to_owned()
        } else {
            format!("{:.1}%", n as f64 * 100.0 / assignments as f64)
        };
        writeln!(out, "  {name:<26}{n:>10}{share:>8}")?;
    }
    writeln!(out, "  {:<26}{:>10}\n", "total", assignments)?;
    writeln!(
        out,
        "{:<40}{:>11}{:>10}{:>12}",
        "Pool", "purchased", "assigned", "unassigned"
    )?;
    let opt = |v: Option<u64>| v.map_or("-".to_owned(), |v| v.to_string());
    for pool in &report.pools {
        let label = if pool.name == pool.id {
            pool.name.clone()
        } else {
            format!("{} ({})", pool.name, pool.id)
        };
        writeln!(
            out,
            "  {:<38}{:>11}{:>10}{:>12}",
            label,
            opt(pool.purchased),
            pool.assigned,
            opt(pool.unassigned)
        )?;
    }
    writeln!(out)?;
    for warning in warnings {
        writeln!(out, "Warning: {warning}")?;
    }
    writeln!(out, "Dry run: nothing was uploaded or stored.")
}
