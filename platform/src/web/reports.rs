//! Report pages, their JSON twins and CSV exports. Viewers and admins may read them all.

use askama::Template;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Duration, Months, Utc};
use serde::{Deserialize, Serialize};

use super::negotiate::{Format, NoQuery, Page};
use super::pages::{
    AgentView, Column, DataQualityPage, DepartmentView, DepartmentsPage, Layout, OverviewPage,
    SeatsPage, SourceView, SourcesPage, TrendsPage, date_or_dash,
};
use super::{WebError, WebState, href};
use crate::reports::model::{AgentRow, Health, LinkRow, OverviewRow, SeatFilter, TrendPoint};
use crate::reports::{self, ago, percent};
use crate::store::{Store, StoreError};
use seatbroker_protocol::AgentState;

/// Rows per page of the inactive-seats table.
const PAGE_SIZE: i64 = 200;
/// Most rows a CSV export holds.
const EXPORT_LIMIT: i64 = 1_000_000;
/// Most findings listed.
const FINDINGS_LIMIT: i64 = 2000;

fn html(template: &impl Template) -> Result<Response, WebError> {
    Ok(Html(template.render()?).into_response())
}

fn json(value: &impl Serialize) -> Response {
    Json(value).into_response()
}

fn csv_response(body: String, filename: &str) -> Response {
    let disposition = format!("attachment; filename=\"{filename}\"");
    let mut response = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        )],
        body,
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

fn source_view(row: OverviewRow, now: DateTime<Utc>) -> SourceView {
    let (health, health_class) = match row.health {
        Health::Healthy => ("healthy", "healthy"),
        Health::Stale => ("stale", "stale"),
        Health::AwaitingFirstUpload => ("awaiting first upload", "awaiting"),
        Health::Revoked => ("revoked", "revoked"),
    };
    let mut notes = Vec::new();
    if row.health == Health::Stale {
        notes.push(format!(
            "No upload for more than twice its interval ({}); figures are from its last upload. Check the agent under Sources & agents.",
            reports::interval(row.interval_secs)
        ));
    }
    if row.private_access == Some(false) {
        notes.push(
            "The Humaans token lacks private access: pre-hires and leavers are missing.".to_owned(),
        );
    }
    SourceView {
        health,
        health_class,
        note: (!notes.is_empty()).then(|| notes.join(" ")),
        utilisation: percent(row.utilisation),
        last_upload: ago(row.last_upload_at, now),
        as_of: date_or_dash(row.as_of),
        interval: reports::interval(row.interval_secs),
        row,
    }
}

// ----- overview -----

/// `/` and `/api/v1/reports/overview`.
pub(crate) async fn overview(State(state): State<WebState>, page: Page<NoQuery>) -> Response {
    page.format.respond(overview_page(&state, page).await)
}

async fn overview_page(state: &WebState, page: Page<NoQuery>) -> Result<Response, WebError> {
    let rows = state.store.report_overview().await?;
    if page.format == Format::Json {
        return Ok(json(&rows));
    }
    let now = state.store.now();
    html(&OverviewPage {
        layout: Layout::new("overview", &page.user),
        orgs: super::licences::overview_orgs(state).await?,
        deltas: super::licences::overview_deltas(state).await?,
        any_never_verified: rows.iter().any(|r| r.inactive_never_verified > 0),
        // Application sources are summed in the licence figures above; their health is on
        // Applications.
        rows: rows
            .into_iter()
            .filter(|r| !matches!(r.kind.as_str(), "entra_id" | "seat_list"))
            .map(|r| source_view(r, now))
            .collect(),
        never_verified_meaning: reports::NEVER_VERIFIED_MEANING,
    })
}

// ----- inactive seats -----

/// Query of the inactive-seats page: the filter plus the page number.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct SeatQuery {
    #[serde(flatten)]
    filter: SeatFilter,
    /// A string: numbers do not survive `flatten` in query strings.
    page: String,
}

impl SeatQuery {
    /// The page number: a whole number, 1 when absent.
    fn page(&self) -> Result<i64, WebError> {
        if self.page.is_empty() {
            return Ok(1);
        }
        self.page
            .parse::<i64>()
            // Bounded so that `(page - 1) * PAGE_SIZE` cannot overflow; far past any real table.
            .map(|page| page.clamp(1, 1_000_000))
            .map_err(|_| {
                WebError::bad_request(format!(
                    "Bad page number {:?}: use a whole number from 1, or leave it out for the first page.",
                    self.page
                ))
            })
    }
}

/// The state filter's choices: (value, label).
const STATES: &[(&str, &str)] = &[
    ("inactive", "inactive"),
    ("leaving", "leaving"),
    ("pre_hire", "pre-hire"),
    ("offboarded", "offboarded"),
    ("unknown", "unknown"),
    ("active", "active"),
    ("all", "all but active"),
];

fn filter_params(f: &SeatFilter) -> Vec<(&'static str, String)> {
    vec![
        ("source", f.source.clone()),
        ("state", f.state.clone()),
        ("reason", f.reason.clone()),
        ("department", f.department.clone()),
        ("manager", f.manager.clone()),
    ]
}

fn seats_href(path: &str, f: &SeatFilter, sort: &str, dir: &str, page: Option<i64>) -> String {
    let mut params = filter_params(f);
    params.push(("sort", sort.to_owned()));
    params.push(("dir", dir.to_owned()));
    if let Some(page) = page {
        params.push(("page", page.to_string()));
    }
    let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    href(path, &borrowed)
}

/// Unknown values (a state, reason, sort, source, department or manager nothing has)
/// answer 400 saying what is allowed, never an empty table.
async fn check_seat_filter(state: &WebState, filter: &SeatFilter) -> Result<(), WebError> {
    filter.check().map_err(WebError::bad_request)?;
    state
        .store
        .check_seat_filter_values(filter)
        .await?
        .map_err(WebError::bad_request)
}

/// A source filter naming no source answers 400, not an empty report.
async fn check_source(state: &WebState, source: &str) -> Result<(), WebError> {
    if source.is_empty() || state.store.source_exists(source).await? {
        Ok(())
    } else {
        Err(WebError::bad_request(format!(
            "Unknown source {source:?}: pick one from the list, or leave it out for all sources."
        )))
    }
}

#[derive(Debug, Serialize)]
struct SeatsJson<'a> {
    filter: &'a SeatFilter,
    total: i64,
    offset: i64,
    rows: &'a [crate::reports::model::SeatRow],
}

/// `/seats` and `/api/v1/reports/inactive-seats`.
pub(crate) async fn seats(State(state): State<WebState>, page: Page<SeatQuery>) -> Response {
    page.format.respond(seats_page(&state, page).await)
}

async fn seats_page(state: &WebState, page: Page<SeatQuery>) -> Result<Response, WebError> {
    let Page {
        user,
        format,
        query,
    } = page;
    let page = query.page()?;
    let filter = query.filter;
    check_seat_filter(state, &filter).await?;
    let offset = (page - 1) * PAGE_SIZE;
    let (rows, total) = state.store.report_seats(&filter, PAGE_SIZE, offset).await?;
    if format == Format::Json {
        return Ok(json(&SeatsJson {
            filter: &filter,
            total,
            offset,
            rows: &rows,
        }));
    }
    let choices = state
        .store
        .seat_filter_choices(filter.state_or_default())
        .await?;
    let current_sort = filter.sort_or_default().to_owned();
    let descending = filter.descending();
    let columns = [
        ("Person", "person", false),
        ("Work email", "email", false),
        ("Department", "department", false),
        ("Manager", "manager", false),
        ("State", "state", false),
        ("Reason", "reason", false),
        ("Since", "since", false),
        ("Days", "days", true),
        ("Source", "source", false),
    ]
    .into_iter()
    .map(|(label, key, numeric)| {
        let is_current = key == current_sort;
        // Clicking the current column flips the order; another column starts ascending
        // (days: longest first).
        let dir = match (is_current, descending) {
            (true, true) => "asc",
            (true, false) => "desc",
            (false, _) if key == "days" => "desc",
            (false, _) => "asc",
        };
        Column {
            label,
            href: seats_href("/seats", &filter, key, dir, None),
            indicator: match (is_current, descending) {
                (true, true) => " ▼",
                (true, false) => " ▲",
                _ => "",
            },
            numeric,
        }
    })
    .collect();
    let dir = if descending { "desc" } else { "asc" };
    let shown = rows.len() as i64;
    SeatsPage {
        layout: Layout::new("seats", &user),
        csv_href: seats_href("/seats.csv", &filter, &current_sort, dir, None),
        prev_href: (page > 1)
            .then(|| seats_href("/seats", &filter, &current_sort, dir, Some(page - 1))),
        next_href: (offset + shown < total)
            .then(|| seats_href("/seats", &filter, &current_sort, dir, Some(page + 1))),
        any_stale: rows.iter().any(|r| r.source_stale),
        any_never_verified: rows
            .iter()
            .any(|r| reports::reason_note(r.reason.as_deref()).is_some()),
        never_verified_meaning: reports::NEVER_VERIFIED_MEANING,
        first: if shown == 0 { 0 } else { offset + 1 },
        last: offset + shown,
        states: STATES
            .iter()
            .map(|(value, label)| (*value, *label, *value == filter.state_or_default()))
            .collect(),
        filter,
        choices,
        columns,
        rows,
        total,
    }
    .render()
    .map(|body| Html(body).into_response())
    .map_err(WebError::from)
}

pub(crate) async fn seats_csv(State(state): State<WebState>, page: Page<SeatQuery>) -> Response {
    let format = page.format;
    format.respond(
        async {
            check_seat_filter(&state, &page.query.filter).await?;
            let (rows, _) = state
                .store
                .report_seats(&page.query.filter, EXPORT_LIMIT, 0)
                .await?;
            let day = state.store.now().date_naive();
            Ok(csv_response(
                reports::seats_csv(&rows),
                &format!("inactive-seats-{day}.csv"),
            ))
        }
        .await,
    )
}

// ----- trends -----

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct TrendQuery {
    source: String,
    months: Option<u32>,
}

impl TrendQuery {
    fn months(&self) -> u32 {
        self.months.filter(|m| matches!(m, 3 | 6 | 12)).unwrap_or(3)
    }

    /// A period other than 3, 6 or 12 months, or an unknown source, answers 400.
    async fn check(&self, state: &WebState) -> Result<(), WebError> {
        if let Some(months) = self.months
            && !matches!(months, 3 | 6 | 12)
        {
            return Err(WebError::bad_request(format!(
                "Unknown period of {months} months: use 3, 6 or 12."
            )));
        }
        check_source(state, &self.source).await
    }
}

#[derive(Debug, Serialize)]
struct TrendJson {
    source: Option<String>,
    months: u32,
    days: Vec<TrendPoint>,
    /// HR headcount per day, reconstructed from employment dates (not from uploads).
    reconstructed_headcount: Vec<HeadcountJson>,
    /// Licences per day, from the first application upload on.
    licences: Vec<crate::reports::LicencePoint>,
}

#[derive(Debug, Serialize)]
struct HeadcountJson {
    day: chrono::NaiveDate,
    headcount: i64,
}

/// The period's first day (inclusive) and today.
fn trend_period(state: &WebState, query: &TrendQuery) -> (chrono::NaiveDate, chrono::NaiveDate) {
    let today = state.store.now().date_naive();
    let from = today
        .checked_sub_months(Months::new(query.months()))
        .unwrap_or(today - Duration::days(366))
        + Duration::days(1);
    (from, today)
}

/// The reconstructed headcount and the licence history over the period.
async fn load_history(
    state: &WebState,
    query: &TrendQuery,
) -> Result<
    (
        Vec<(chrono::NaiveDate, i64)>,
        Vec<crate::reports::LicencePoint>,
    ),
    WebError,
> {
    let (from, today) = trend_period(state, query);
    let source = (!query.source.is_empty()).then_some(query.source.as_str());
    let (starts, stops) = state.store.report_headcount_changes(source).await?;
    let headcount = if starts.is_empty() {
        Vec::new()
    } else {
        reports::running_counts(&starts, &stops, from, today)
    };
    let changes = state.store.report_licence_changes(source).await?;
    let licences = reports::licence_trend(&changes.opened, &changes.closed, from, today);
    Ok((headcount, licences))
}

async fn load_trend(state: &WebState, query: &TrendQuery) -> Result<Vec<TrendPoint>, WebError> {
    query.check(state).await?;
    let (from, today) = trend_period(state, query);
    let source = (!query.source.is_empty()).then_some(query.source.as_str());
    let rows = state.store.report_daily(source, from).await?;
    Ok(reports::fill_trend(&rows, from, today))
}

/// `/trends` and `/api/v1/reports/trends`.
pub(crate) async fn trends(State(state): State<WebState>, page: Page<TrendQuery>) -> Response {
    page.format.respond(trends_page(&state, page).await)
}

async fn trends_page(state: &WebState, page: Page<TrendQuery>) -> Result<Response, WebError> {
    let Page {
        user,
        format,
        query,
    } = page;
    let points = load_trend(state, &query).await?;
    let (headcount, licences) = load_history(state, &query).await?;
    if format == Format::Json {
        return Ok(json(&TrendJson {
            source: (!query.source.is_empty()).then(|| query.source.clone()),
            months: query.months(),
            days: points,
            reconstructed_headcount: headcount
                .iter()
                .map(|(day, headcount)| HeadcountJson {
                    day: *day,
                    headcount: *headcount,
                })
                .collect(),
            licences,
        }));
    }
    let sources = state.store.source_choices().await?;
    let months = query.months().to_string();
    html(&TrendsPage {
        layout: Layout::new("trends", &user),
        first_upload: points.first().map(|p| p.day.to_string()),
        headcount_svg: (!headcount.is_empty())
            .then(|| reports::headcount_chart(&headcount).to_svg()),
        headcount_now: headcount.last().map(|p| p.1),
        reconstructed_meaning: reports::RECONSTRUCTED_MEANING,
        licence_first: licences.first().map(|p| p.day.to_string()),
        licence_svg: (!licences.is_empty()).then(|| reports::licence_chart(&licences).to_svg()),
        svg: reports::trend_chart(&points, query.months()).to_svg(),
        recent: points.iter().rev().take(14).cloned().collect(),
        csv_href: href(
            "/trends.csv",
            &[("source", &query.source), ("months", &months)],
        ),
        sources,
        months: query.months(),
        source: query.source,
    })
}

pub(crate) async fn trends_csv(State(state): State<WebState>, page: Page<TrendQuery>) -> Response {
    let format = page.format;
    format.respond(
        async {
            let points = load_trend(&state, &page.query).await?;
            let day = state.store.now().date_naive();
            Ok(csv_response(
                reports::trend_csv(&points),
                &format!("trends-{day}.csv"),
            ))
        }
        .await,
    )
}

// ----- departments -----

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct SourceQuery {
    source: String,
    kind: String,
}

impl SourceQuery {
    fn source(&self) -> Option<&str> {
        (!self.source.is_empty()).then_some(self.source.as_str())
    }
}

/// `/departments` and `/api/v1/reports/departments`.
pub(crate) async fn departments(
    State(state): State<WebState>,
    page: Page<SourceQuery>,
) -> Response {
    page.format.respond(departments_page(&state, page).await)
}

async fn departments_page(state: &WebState, page: Page<SourceQuery>) -> Result<Response, WebError> {
    let Page {
        user,
        format,
        query,
    } = page;
    check_source(state, &query.source).await?;
    let rows = state.store.report_departments(query.source()).await?;
    if format == Format::Json {
        return Ok(json(&rows));
    }
    let sources = state.store.source_choices().await?;
    html(&DepartmentsPage {
        layout: Layout::new("departments", &user),
        sources,
        source: query.source.clone(),
        rows: rows
            .into_iter()
            .map(|row| DepartmentView {
                utilisation: percent(row.utilisation),
                href_department: super::encode_query_value(&row.department),
                row,
            })
            .collect(),
    })
}

// ----- data quality -----

#[derive(Debug, Serialize)]
struct FindingsJson {
    counts: Vec<crate::reports::model::FindingCount>,
    findings: Vec<crate::reports::model::FindingRow>,
}

async fn load_findings(state: &WebState, query: &SourceQuery) -> Result<FindingsJson, WebError> {
    check_source(state, &query.source).await?;
    let kind = (!query.kind.is_empty()).then_some(query.kind.as_str());
    let (counts, findings) = state
        .store
        .report_findings(query.source(), kind, FINDINGS_LIMIT)
        .await?;
    // A kind the platform knows, or one a (newer) agent sent that is stored.
    let known = seatbroker_protocol::FindingKind::KNOWN;
    if !query.kind.is_empty()
        && !known.iter().any(|k| k.as_str() == query.kind)
        && !counts.iter().any(|c| c.kind == query.kind)
    {
        return Err(WebError::bad_request(format!(
            "Unknown finding kind {:?}: use one of {}, or leave it out for all.",
            query.kind,
            known
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(FindingsJson { counts, findings })
}

/// `/data-quality` and `/api/v1/reports/data-quality`.
pub(crate) async fn data_quality(
    State(state): State<WebState>,
    page: Page<SourceQuery>,
) -> Response {
    page.format.respond(data_quality_page(&state, page).await)
}

async fn data_quality_page(
    state: &WebState,
    page: Page<SourceQuery>,
) -> Result<Response, WebError> {
    let report = load_findings(state, &page.query).await?;
    if page.format == Format::Json {
        return Ok(json(&report));
    }
    html(&DataQualityPage {
        layout: Layout::new("data-quality", &page.user),
        counts: report.counts,
        kind_label: crate::reports::labels::finding_label(&page.query.kind),
        kind: page.query.kind,
        rows: report.findings,
    })
}

// ----- sources & agents -----

#[derive(Debug, Serialize)]
struct SourcesJson {
    sources: Vec<OverviewRow>,
    agents: Vec<AgentRow>,
    incomplete_limits: IncompleteLimits,
}

/// The bounds on incomplete snapshots every agent's `incomplete_uploads` is held to.
#[derive(Debug, Serialize)]
struct IncompleteLimits {
    /// Parts of incomplete snapshots an agent may have stored; more are refused with 429.
    max_parts_per_agent: u64,
    /// The same in bytes (every part counts as the largest a part may be).
    max_bytes_per_agent: u64,
    /// Hours without a part after which an incomplete snapshot is dropped.
    expire_after_hours: u64,
}

async fn load_sources(state: &WebState) -> Result<SourcesJson, WebError> {
    let max_parts = state.api.max_pending_parts_per_agent;
    Ok(SourcesJson {
        sources: state.store.report_overview().await?,
        agents: agent_rows(&state.store, false).await?,
        incomplete_limits: IncompleteLimits {
            max_parts_per_agent: max_parts,
            max_bytes_per_agent: max_parts
                .saturating_mul(seatbroker_protocol::limits::MAX_PART_BYTES as u64),
            expire_after_hours: state.api.incomplete_snapshot_hours,
        },
    })
}

/// Agents with their sources, built from the domain functions: every agent
/// ([`Store::list_agents`]), or with `pending_only` those waiting for a decision (a
/// pending agent, or one owning a link of [`Store::list_pending_links`]). A pending link
/// offers exactly its [`Store::merge_candidates`] and proposes the first.
pub(super) async fn agent_rows(
    store: &Store,
    pending_only: bool,
) -> Result<Vec<AgentRow>, StoreError> {
    let pending = store.list_pending_links().await?;
    let mut incomplete = store.incomplete_uploads().await?;
    let mut out = Vec::new();
    for agent in store.list_agents(None).await? {
        let waits =
            agent.state == AgentState::Pending || pending.iter().any(|l| l.agent_id == agent.id);
        if pending_only && !waits {
            continue;
        }
        let mut sources = Vec::with_capacity(agent.links.len());
        for link in &agent.links {
            let merge_targets = if pending.iter().any(|l| l.id == link.id) {
                store
                    .merge_candidates(&link.id)
                    .await?
                    .into_iter()
                    .map(|s| {
                        let label = format!("{} ({} {})", s.name, s.tenant_name, s.tenant_id);
                        (s.id, label)
                    })
                    .collect()
            } else {
                Vec::new()
            };
            sources.push(LinkRow {
                link_id: link.id.clone(),
                agent_id: link.agent_id.clone(),
                local_name: link.local_name.clone(),
                kind: link.kind.clone(),
                tenant_id: link.tenant_id.clone(),
                tenant_name: link.tenant_name.clone(),
                state: link.state.as_str().to_owned(),
                source_id: link.source_id.clone(),
                proposed_merge: merge_targets.first().map(|(id, _)| id.clone()),
                merge_targets,
            });
        }
        let incomplete_uploads = incomplete.remove(&agent.id).unwrap_or_default();
        out.push(AgentRow {
            agent_id: agent.id,
            host_name: agent.host_name,
            agent_version: agent.agent_version,
            os: agent.os,
            state: agent.state.as_str().to_owned(),
            enrolled_at: agent.enrolled_at,
            last_heartbeat_at: agent.last_heartbeat_at,
            last_seen_at: agent.last_seen_at,
            spool_snapshots: agent.spool_snapshots,
            spool_bytes: agent.spool_bytes,
            last_error: agent.last_error,
            sources,
            incomplete_uploads,
        });
    }
    Ok(out)
}

/// An agent's incomplete snapshots in words: held, against the cap, and since when.
fn incomplete_view(
    held: &crate::store::IncompleteUploads,
    cap: u64,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    if held.snapshots == 0 {
        return "none".to_owned();
    }
    format!(
        "{} in {} of {cap} parts ({} snapshot{}); oldest started {}, last part {}",
        mib(held.bytes),
        held.parts,
        held.snapshots,
        if held.snapshots == 1 { "" } else { "s" },
        ago(held.oldest_at, now),
        ago(held.last_part_at, now)
    )
}

/// Bytes in MiB with one decimal (KiB below one MiB).
fn mib(bytes: u64) -> String {
    if bytes < 1024 * 1024 {
        format!("{} KiB", bytes.div_ceil(1024))
    } else {
        format!("{:.1} MiB", bytes as f64 / 1_048_576.0)
    }
}

/// `/sources` and `/api/v1/reports/sources`.
pub(crate) async fn sources(State(state): State<WebState>, page: Page<NoQuery>) -> Response {
    page.format.respond(sources_page(&state, page).await)
}

async fn sources_page(state: &WebState, page: Page<NoQuery>) -> Result<Response, WebError> {
    let report = load_sources(state).await?;
    if page.format == Format::Json {
        return Ok(json(&report));
    }
    let now = state.store.now();
    let cap = report.incomplete_limits.max_parts_per_agent;
    html(&SourcesPage {
        layout: Layout::new("sources", &page.user),
        incomplete_limits: format!(
            "Each agent may hold {cap} parts of incomplete snapshots ({}); more are refused until \
             they complete or expire. A snapshot that receives no part for {} h is dropped (the \
             agent still has it and sends it again).",
            mib(report.incomplete_limits.max_bytes_per_agent),
            report.incomplete_limits.expire_after_hours
        ),
        sources: report
            .sources
            .into_iter()
            .map(|r| source_view(r, now))
            .collect(),
        agents: report
            .agents
            .into_iter()
            .map(|row| AgentView {
                last_heartbeat: ago(row.last_heartbeat_at, now),
                spool: match (row.spool_snapshots, row.spool_bytes) {
                    (Some(n), Some(bytes)) => {
                        format!("{n} ({} KiB)", bytes.saturating_add(1023) / 1024)
                    }
                    (Some(n), None) => n.to_string(),
                    _ => "–".to_owned(),
                },
                incomplete: incomplete_view(&row.incomplete_uploads, cap, now),
                expired: match &row.incomplete_uploads {
                    u if u.expired == 0 => "none expired".to_owned(),
                    u => format!(
                        "{} expired, last {}",
                        u.expired,
                        ago(u.last_expired_at, now)
                    ),
                },
                row,
            })
            .collect(),
    })
}
