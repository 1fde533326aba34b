//! `seatbroker-agent collect --dry-run`: collect from Humaans, run the usage engine and
//! print the summary. Nothing is uploaded, nothing is spooled, no configuration file is
//! needed. It is what a person runs to try a token before installing anything.
//!
//! [`run`] is the whole command; the CLI parses its arguments into [`DryRunArgs`].
//! Output: a readable report by default; with `json`, one JSON object whose `counts` and
//! `inactive_reasons` have exactly the shape of `humaans-sim truth`; with `csv`, the seat
//! records written atomically to a file.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use seatbroker_protocol::{
    PolicyError, SeatReason, SeatRecord, SeatState, Secret, Summary, UsagePolicy,
};
use serde::Serialize;

use crate::engine::{self, Evaluation};
use crate::humaans::{
    Collection, HumaansClient, HumaansConfig, HumaansError, NO_PRIVATE_ACCESS, Progress,
};

/// Attempts per request in a dry run (the first included).
pub(crate) const DRY_RUN_ATTEMPTS: u32 = 3;
/// Longest time a dry run spends waiting between attempts of one request.
pub(crate) const DRY_RUN_RETRY_BUDGET: std::time::Duration = std::time::Duration::from_secs(30);

/// Arguments of `collect --dry-run`.
#[derive(Debug, Clone)]
pub struct DryRunArgs {
    /// Humaans host, e.g. `https://app.humaans.io` (the client adds `/api/...`).
    pub humaans_url: String,
    /// File holding the API token (surrounding whitespace is ignored).
    pub token_file: PathBuf,
    /// The day to compute states for; today (UTC) when `None`.
    pub as_of: Option<NaiveDate>,
    /// Print JSON instead of the readable report.
    pub json: bool,
    /// Also write the seat records to this CSV file.
    pub csv: Option<PathBuf>,
    /// Pages fetched at the same time (at least 1).
    pub concurrency: usize,
    /// Allow plain `http://` to a host that is not loopback.
    pub allow_insecure_http: bool,
}

/// Why a dry run failed. Each message says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum DryRunError {
    #[error(
        "cannot read the Humaans token file {}: {source}; create it with the API token on \
         one line (Humaans menu > API access tokens) and make it readable only by you",
        path.display()
    )]
    TokenFile { path: PathBuf, source: io::Error },
    #[error(
        "the Humaans token file {} is empty; put the API token in it (Humaans menu > API \
         access tokens > Generate new token, with 'View public and private data')",
        path.display()
    )]
    TokenEmpty { path: PathBuf },
    #[error(transparent)]
    Humaans(#[from] HumaansError),
    #[error("{0}; fix the policy settings")]
    Policy(#[from] PolicyError),
    #[error(
        "cannot write the CSV file {}: {source}; choose a path in a directory you can write to",
        path.display()
    )]
    Csv { path: PathBuf, source: io::Error },
    #[error("cannot write the report: {0}")]
    Output(#[source] io::Error),
}

/// Collects from Humaans as `args` say, evaluates seats with the default policy and writes
/// the report to `out` (and the CSV file, if asked). A progress line goes to stderr while
/// pages arrive, only when stderr is a terminal.
pub async fn run(args: &DryRunArgs, out: &mut dyn Write) -> Result<(), DryRunError> {
    let token = read_token(&args.token_file)?;
    let mut config = HumaansConfig::new(args.humaans_url.clone(), token);
    config.concurrency = args.concurrency.max(1);
    config.allow_insecure_http = args.allow_insecure_http;
    // A person is waiting: give up on an unreachable or failing Humaans within about half a
    // minute instead of the service's ten minutes.
    config.retry.max_attempts = DRY_RUN_ATTEMPTS;
    config.retry.max_elapsed = DRY_RUN_RETRY_BUDGET;
    let client = HumaansClient::new(config)?;

    let show_progress = io::stderr().is_terminal();
    let progress = move |p: Progress| {
        if show_progress {
            eprint!("\r\x1b[2K{}", progress_line(&p));
        }
    };
    let collected = client.collect(&progress).await;
    if show_progress {
        eprint!("\r\x1b[2K");
    }
    let collection = collected?;

    let today = args
        .as_of
        .unwrap_or_else(|| chrono::Utc::now().date_naive());
    let policy = UsagePolicy::default();
    let evaluation = engine::evaluate(
        &collection.people,
        &collection.job_roles,
        &policy,
        today,
        None,
    )?;

    if let Some(path) = &args.csv {
        write_csv_file(path, &evaluation.seats).map_err(|source| DryRunError::Csv {
            path: path.clone(),
            source,
        })?;
    }
    let report = DryRunReport::new(&collection, &evaluation, &policy);
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &report)
            .map_err(|e| DryRunError::Output(e.into()))?;
        writeln!(out).map_err(DryRunError::Output)?;
    } else {
        render_text(&report, &policy, args.csv.as_deref(), out).map_err(DryRunError::Output)?;
    }
    out.flush().map_err(DryRunError::Output)
}

/// Reads the token file: surrounding whitespace (a trailing newline) is ignored; an empty
/// file is an error naming it.
pub(crate) fn read_token(path: &Path) -> Result<Secret, DryRunError> {
    let raw = std::fs::read_to_string(path).map_err(|source| DryRunError::TokenFile {
        path: path.to_owned(),
        source,
    })?;
    let token = raw.trim();
    if token.is_empty() {
        return Err(DryRunError::TokenEmpty {
            path: path.to_owned(),
        });
    }
    Ok(Secret::new(token))
}

fn progress_line(p: &Progress) -> String {
    match p.pages_total {
        Some(total) => format!(
            "Reading {}: page {}/{} ({} records)",
            p.resource, p.pages_done, total, p.records
        ),
        None => format!(
            "Reading {}: page {} ({} records)",
            p.resource, p.pages_done, p.records
        ),
    }
}

/// The JSON form of a dry run: the summary's keys at the top level (so `counts` and
/// `inactive_reasons` sit where `humaans-sim truth` has them), then facts about the
/// collection and any warnings.
#[derive(Debug, Serialize)]
pub(crate) struct DryRunReport<'a> {
    #[serde(flatten)]
    pub summary: &'a Summary,
    pub company_id: &'a str,
    pub company_name: &'a str,
    pub people_seen: u64,
    pub job_roles_seen: u64,
    pub unparsable_person_ids: &'a [String],
    pub private_access: bool,
    pub collection_ms: u64,
    /// What the never-verified heuristic did, so a person can judge it.
    pub never_verified_rule: NeverVerifiedNote,
    pub warnings: Vec<String>,
}

/// The never-verified rule in a dry run: whether it is on, how many seats it alone made
/// `inactive` (reason `never_verified`: the rules before it did not apply), and what it
/// means.
#[derive(Debug, Serialize)]
pub(crate) struct NeverVerifiedNote {
    pub(crate) enabled: bool,
    pub(crate) grace_days: u32,
    pub(crate) inactive_seats: u64,
    pub(crate) meaning: &'static str,
}

/// What `isVerified: false` is taken to mean, and why it is only a heuristic.
pub(crate) const NEVER_VERIFIED_MEANING: &str = "the person has not accepted the Humaans invitation \
     and signed in; no Humaans document defines isVerified, so this is a heuristic: it shows \
     Humaans profiles nobody uses, but a person who works without ever signing in to Humaans \
     still uses their other seats; switch it off with policy never_verified_rule: false";

impl<'a> DryRunReport<'a> {
    pub(crate) fn new(
        collection: &'a Collection,
        evaluation: &'a Evaluation,
        policy: &UsagePolicy,
    ) -> Self {
        let mut warnings = collection.warnings.clone();
        warnings.extend(evaluation.warnings.iter().map(ToString::to_string));
        if !collection.private_access {
            warnings.push(NO_PRIVATE_ACCESS.to_owned());
        }
        if !collection.unparsable_person_ids.is_empty() {
            warnings.push(format!(
                "{} person record(s) could not be read and were left out (ids: {}); check \
                 them in Humaans",
                collection.unparsable_person_ids.len(),
                abbreviate(&collection.unparsable_person_ids, 10)
            ));
        }
        Self {
            summary: &evaluation.summary,
            company_id: &collection.company_id,
            company_name: &collection.company_name,
            people_seen: collection.people_seen,
            job_roles_seen: collection.job_roles_seen,
            unparsable_person_ids: &collection.unparsable_person_ids,
            private_access: collection.private_access,
            collection_ms: u64::try_from(collection.duration.as_millis()).unwrap_or(u64::MAX),
            never_verified_rule: NeverVerifiedNote {
                enabled: policy.never_verified_rule,
                grace_days: policy.unverified_grace_days,
                inactive_seats: evaluation.summary.inactive_reasons.never_verified,
                meaning: NEVER_VERIFIED_MEANING,
            },
            warnings,
        }
    }
}

fn abbreviate(ids: &[String], max: usize) -> String {
    let text = ids.iter().take(max).cloned().collect::<Vec<_>>().join(", ");
    if ids.len() > max {
        format!("{text} and {} more", ids.len() - max)
    } else {
        text
    }
}

/// Departments shown in the readable report.
const TOP_DEPARTMENTS: usize = 10;

/// Writes the readable report: aligned tables of states, seats, departments and findings.
pub(crate) fn render_text(
    report: &DryRunReport<'_>,
    policy: &UsagePolicy,
    csv: Option<&Path>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let s = report.summary;
    let total = s.counts.total();
    writeln!(
        out,
        "Humaans company {} ({}) as of {}: {} people, {} job roles read in {}",
        report.company_name,
        report.company_id,
        s.as_of,
        total,
        report.job_roles_seen,
        if report.collection_ms < 1000 {
            format!("{} ms", report.collection_ms)
        } else {
            format!("{:.1} s", report.collection_ms as f64 / 1000.0)
        }
    )?;
    writeln!(out)?;

    let pct = |n: u64| {
        if total == 0 {
            "-".to_owned()
        } else {
            format!("{:.1}%", n as f64 * 100.0 / total as f64)
        }
    };
    writeln!(out, "{:<28}{:>8}{:>8}", "Seat state", "people", "share")?;
    for state in SeatState::KNOWN {
        let n = s.counts.get(state);
        writeln!(out, "  {:<26}{:>8}{:>8}", state.as_str(), n, pct(n))?;
        if *state == SeatState::Inactive {
            let r = &s.inactive_reasons;
            for (reason, n) in [
                ("ended_not_offboarded", r.ended_not_offboarded),
                ("never_verified", r.never_verified),
            ]
            .into_iter()
            .chain(r.other.iter().map(|(k, v)| (k.as_str(), *v)))
            {
                writeln!(out, "    {reason:<24}{n:>8}")?;
            }
        }
    }
    for (state, n) in &s.counts.other {
        writeln!(out, "  {:<26}{:>8}{:>8}", state, n, pct(*n))?;
    }
    writeln!(out, "  {:<26}{:>8}", "total", total)?;
    writeln!(out)?;
    let rule = &report.never_verified_rule;
    if rule.enabled {
        writeln!(
            out,
            "never_verified: {} seat(s) are inactive only because Humaans says the person is not \
             verified {} days after starting. Read as: {}.",
            rule.inactive_seats, rule.grace_days, rule.meaning
        )?;
    } else {
        writeln!(
            out,
            "never_verified: the rule is switched off; no seat is inactive for being unverified."
        )?;
    }
    writeln!(out)?;

    let utilisation = s
        .utilisation
        .map_or("-".to_owned(), |u| format!("{:.1}%", u * 100.0));
    let rows = [
        (
            "Billable seats (active + leaving + inactive)".to_owned(),
            s.billable.to_string(),
        ),
        ("In use (active + leaving)".to_owned(), s.in_use.to_string()),
        ("Utilisation (in use / billable)".to_owned(), utilisation),
        (
            format!(
                "Pre-hires starting within {} days",
                policy.upcoming_start_days
            ),
            s.pre_hires_starting_soon.to_string(),
        ),
        (
            format!("Leavers in the last {} days", policy.leavers_lookback_days),
            s.recent_leavers.to_string(),
        ),
    ];
    for (label, value) in rows {
        writeln!(out, "{label:<46}{value:>8}")?;
    }
    writeln!(out)?;

    let mut departments: Vec<_> = s.departments.iter().collect();
    departments.sort_by(|a, b| {
        b.counts
            .total()
            .cmp(&a.counts.total())
            .then_with(|| a.department.cmp(&b.department))
    });
    let shown = departments.len().min(TOP_DEPARTMENTS);
    writeln!(
        out,
        "{:<28}{:>8}{:>10}{:>8}{:>10}",
        format!("Departments (top {shown} of {})", departments.len()),
        "people",
        "billable",
        "in use",
        "inactive"
    )?;
    for d in &departments[..shown] {
        let name = if d.department.is_empty() {
            "(no current role)"
        } else {
            d.department.as_str()
        };
        writeln!(
            out,
            "  {:<26}{:>8}{:>10}{:>8}{:>10}",
            truncate(name, 26),
            d.counts.total(),
            d.counts.billable(),
            d.counts.in_use(),
            d.counts.inactive
        )?;
    }
    writeln!(out)?;

    writeln!(out, "{:<28}{:>8}", "Data-quality findings", "people")?;
    for (kind, n) in &s.findings {
        writeln!(out, "  {kind:<26}{n:>8}")?;
    }
    writeln!(out)?;

    for warning in &report.warnings {
        writeln!(out, "Warning: {warning}")?;
    }
    if let Some(path) = csv {
        writeln!(out, "Seat records written to {}", path.display())?;
    }
    writeln!(out, "Dry run: nothing was uploaded or stored.")
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(max - 1).collect();
        cut.push('…');
        cut
    }
}

/// Column names of the seat CSV, in order.
pub(crate) const CSV_HEADER: [&str; 14] = [
    "person_id",
    "name",
    "work_email",
    "status",
    "employment_start_date",
    "employment_end_date",
    "job_title",
    "department",
    "manager_id",
    "is_verified",
    "state",
    "reason",
    "since",
    "reason_note",
];

/// Writes `seats` as CSV (RFC 4180: a header row, CRLF-free `\n` line ends, fields with
/// commas, quotes or line breaks quoted, quotes doubled). A text field that a spreadsheet
/// would run as a formula (starting with `=`, `+`, `-`, `@`, tab or carriage return) is
/// prefixed with `'`.
pub(crate) fn write_seats_csv(seats: &[SeatRecord], out: &mut dyn Write) -> io::Result<()> {
    let mut line = String::new();
    push_row(&mut line, CSV_HEADER.iter().map(|h| Some(h.to_string())));
    out.write_all(line.as_bytes())?;
    for seat in seats {
        line.clear();
        let date = |d: Option<NaiveDate>| d.map(|d| d.to_string());
        push_row(
            &mut line,
            [
                Some(seat.person_id.clone()),
                seat.name.clone(),
                seat.work_email.clone(),
                Some(seat.status.to_string()),
                date(seat.employment_start_date),
                date(seat.employment_end_date),
                seat.job_title.clone(),
                seat.department.clone(),
                seat.manager_id.clone(),
                seat.is_verified.map(|v| v.to_string()),
                Some(seat.state.to_string()),
                seat.reason.as_ref().map(ToString::to_string),
                date(seat.since),
                (seat.reason == Some(SeatReason::NeverVerified))
                    .then(|| NEVER_VERIFIED_MEANING.to_owned()),
            ],
        );
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

fn push_row(line: &mut String, fields: impl IntoIterator<Item = Option<String>>) {
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        push_field(line, field.as_deref().unwrap_or(""));
    }
    line.push('\n');
}

fn push_field(line: &mut String, value: &str) {
    let formula = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let needs_quotes = formula || value.contains([',', '"', '\n', '\r']);
    if needs_quotes {
        line.push('"');
    }
    if formula {
        line.push('\'');
    }
    for c in value.chars() {
        if c == '"' {
            line.push('"');
        }
        line.push(c);
    }
    if needs_quotes {
        line.push('"');
    }
}

/// Writes the CSV to a temporary file next to `path`, syncs it and renames it over `path`,
/// so a reader never sees half a file.
fn write_csv_file(path: &Path, seats: &[SeatRecord]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(file_name);
    temp_name.push(format!(".tmp-{}", std::process::id()));
    let temp = dir.join(temp_name);

    let result = (|| {
        let file = std::fs::File::create(&temp)?;
        let mut writer = io::BufWriter::new(file);
        write_seats_csv(seats, &mut writer)?;
        let file = writer
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        let check = |value: &str, expected: &str| {
            let mut line = String::new();
            push_field(&mut line, value);
            assert_eq!(line, expected, "{value:?}");
        };
        check("plain", "plain");
        check("", "");
        check("a,b", "\"a,b\"");
        check("say \"hi\"", "\"say \"\"hi\"\"\"");
        check("two\nlines", "\"two\nlines\"");
        check("cr\rhere", "\"cr\rhere\"");
        check("=SUM(A1)", "\"'=SUM(A1)\"");
        check("@cmd", "\"'@cmd\"");
        check("2025-06-15", "2025-06-15");
    }
}
