//! The licence pages and their JSON: `/api/v1/reports/licences` (the contract scripts and
//! tests rely on), Applications (per application and pool, with the admin's price form),
//! Reclaim (one row per reclaimable seat, CSV and JSON), the Person page and the exclusion
//! rules (admin). Every figure comes from the store's licence reports; the rules that
//! make them live in `crate::licence`.

use askama::Template;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::negotiate::{Format, NoQuery, Page};
use super::session::{AdminForm, CsrfOnly, CsrfProtected};
use super::{WebError, WebState, href};
use crate::licence::state::reason_label;
use crate::licence::{Price, SeatLicenceState};
use crate::reports::csv::CsvWriter;
use crate::reports::percent;
use crate::store::licences::{
    AppFigures, Changes, ExclusionRule, OrganisationFigures, PersonDetail, RULE_KINDS,
    ReclaimFilter, ReclaimRow,
};

/// Most rows the reclaim page lists (exports take all).
const RECLAIM_PAGE_ROWS: i64 = 500;
const EXPORT_LIMIT: i64 = 1_000_000;

fn html(template: &impl Template) -> Result<Response, WebError> {
    Ok(axum::response::Html(template.render()?).into_response())
}

fn price_json(price: &Option<Price>) -> Value {
    match price {
        None => Value::Null,
        Some(p) => json!({
            "amount": p.amount_text(),
            "currency": p.currency,
            "period": p.period.as_str(),
            "monthly": p.monthly(),
        }),
    }
}

fn application_json(app: &AppFigures) -> Value {
    json!({
        "name": app.application,
        "source_kind": app.source_kind,
        "pool": app.pool,
        "purchased": app.purchased,
        "assigned": app.assigned,
        "unassigned": app.figures.unassigned,
        "reclaimable": app.figures.reclaimable(),
        "counts": app.figures.counts_map(),
        "price": price_json(&app.price),
    })
}

/// The contract body of `/api/v1/reports/licences` (keys exactly as issue 12 §5 says).
fn licences_json(orgs: &[OrganisationFigures]) -> Value {
    let organisations: Vec<Value> = orgs
        .iter()
        .map(|org| {
            json!({
                "name": org.name,
                "counts": org.figures.counts_map(),
                "unassigned": org.figures.unassigned,
                "reclaimable": org.figures.reclaimable(),
                "monthly_savings": org.savings.monthly(),
                "applications": org.applications.iter().map(application_json).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({ "organisations": organisations })
}

/// `/api/v1/reports/licences`: every organisation's licence figures (JSON only).
pub(crate) async fn licences_report(
    State(state): State<WebState>,
    page: Page<NoQuery>,
) -> Response {
    let format = page.format;
    format.respond(
        async {
            let orgs = state.store.report_licences().await?;
            Ok(Json(licences_json(&orgs)).into_response())
        }
        .await,
    )
}

// ----- applications -----

/// One pool row of the applications page, with display strings.
#[derive(Debug)]
pub(crate) struct PoolView {
    pub(crate) app: AppFigures,
    pub(crate) in_use: u64,
    pub(crate) idle: u64,
    pub(crate) never_used: u64,
    pub(crate) orphaned: u64,
    pub(crate) unidentified: u64,
    pub(crate) other: u64,
    pub(crate) reclaimable: u64,
    pub(crate) purchased: String,
    pub(crate) utilisation: String,
    pub(crate) price: String,
    pub(crate) waste: String,
}

fn money(amount: f64, currency: &str) -> String {
    format!("{amount:.2} {currency}")
}

fn pool_view(app: AppFigures) -> PoolView {
    let f = &app.figures;
    let count = |s| f.count(s);
    PoolView {
        in_use: count(SeatLicenceState::InUse),
        idle: count(SeatLicenceState::Idle),
        never_used: count(SeatLicenceState::NeverUsed),
        orphaned: count(SeatLicenceState::Orphaned),
        unidentified: count(SeatLicenceState::Unidentified),
        other: count(SeatLicenceState::Excluded)
            + count(SeatLicenceState::DisabledHolding)
            + count(SeatLicenceState::PreHire)
            + count(SeatLicenceState::UnknownActivity),
        reclaimable: f.reclaimable(),
        purchased: app.purchased.map_or("—".to_owned(), |p| p.to_string()),
        utilisation: percent(app.utilisation()),
        price: app.price.as_ref().map_or("not set".to_owned(), |p| {
            format!("{} {} / {}", p.amount_text(), p.currency, p.period.as_str())
        }),
        waste: match (app.monthly_waste(), &app.price) {
            (Some(w), Some(p)) => money(w, &p.currency),
            _ => "—".to_owned(),
        },
        app,
    }
}

/// An organisation on the Overview and Applications pages.
#[derive(Debug)]
pub(crate) struct OrgView {
    pub(crate) name: String,
    pub(crate) paid: u64,
    pub(crate) held: u64,
    pub(crate) in_use: u64,
    pub(crate) reclaimable: u64,
    pub(crate) unassigned: u64,
    pub(crate) savings: String,
    pub(crate) incomplete: Vec<String>,
    pub(crate) pools: Vec<PoolView>,
    /// Top pools by monthly waste (else reclaimable seats): (application, pool, seats, waste).
    pub(crate) top: Vec<(String, String, u64, String)>,
    /// (source id, application): where a price for every pool of a source can be set.
    pub(crate) sources: Vec<(String, String)>,
}

pub(crate) fn org_views(orgs: Vec<OrganisationFigures>) -> Vec<OrgView> {
    orgs.into_iter()
        .map(|org| {
            let savings = org.savings.monthly();
            let savings = if savings.is_empty() {
                "no price set".to_owned()
            } else {
                savings
                    .iter()
                    .map(|(c, a)| money(*a, c))
                    .collect::<Vec<_>>()
                    .join(" + ")
            };
            let paid = org
                .applications
                .iter()
                .map(|a| a.purchased.unwrap_or(a.assigned))
                .sum();
            let mut sources: Vec<(String, String)> = org
                .applications
                .iter()
                .map(|a| (a.source_id.clone(), a.application.clone()))
                .collect();
            sources.dedup();
            let pools: Vec<PoolView> = org.applications.into_iter().map(pool_view).collect();
            let mut ranked: Vec<&PoolView> = pools.iter().filter(|p| p.reclaimable > 0).collect();
            ranked.sort_by(|a, b| {
                let wa = a.app.monthly_waste().unwrap_or(-1.0);
                let wb = b.app.monthly_waste().unwrap_or(-1.0);
                wb.total_cmp(&wa).then(b.reclaimable.cmp(&a.reclaimable))
            });
            let top = ranked
                .iter()
                .take(5)
                .map(|p| {
                    (
                        p.app.application.clone(),
                        p.app.pool.clone(),
                        p.reclaimable,
                        p.waste.clone(),
                    )
                })
                .collect();
            OrgView {
                name: org.name,
                paid,
                held: org.figures.assigned(),
                in_use: org.figures.count(SeatLicenceState::InUse),
                reclaimable: org.figures.reclaimable(),
                unassigned: org.figures.unassigned,
                savings,
                incomplete: org.incomplete,
                pools,
                top,
                sources,
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "applications.html")]
pub(crate) struct ApplicationsPage {
    pub(crate) layout: super::pages::Layout,
    pub(crate) orgs: Vec<OrgView>,
}

/// `/applications` and `/api/v1/reports/applications`.
pub(crate) async fn applications(
    State(state): State<WebState>,
    page: Page<NoticeQuery>,
) -> Response {
    let format = page.format;
    format.respond(
        async {
            let orgs = state.store.report_licences().await?;
            if format == Format::Json {
                let body: Vec<Value> = orgs
                    .iter()
                    .map(|org| {
                        json!({
                            "name": org.name,
                            "incomplete": org.incomplete,
                            "applications": org.applications.iter().map(|a| {
                                let mut v = application_json(a);
                                v["source_id"] = json!(a.source_id);
                                v["pool_id"] = json!(a.pool_id);
                                v["utilisation"] = json!(a.utilisation());
                                v["monthly_waste"] = json!(a.monthly_waste());
                                v
                            }).collect::<Vec<_>>(),
                        })
                    })
                    .collect();
                return Ok(Json(json!({ "organisations": body })).into_response());
            }
            let notice = page.query.notice();
            html(&ApplicationsPage {
                layout: super::pages::Layout::new("applications", &page.user).with_notice(notice),
                orgs: org_views(orgs),
            })
        }
        .await,
    )
}

/// `?done=...` after an admin action on these pages.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct NoticeQuery {
    done: String,
}

impl NoticeQuery {
    fn notice(&self) -> Option<String> {
        let text = match self.done.as_str() {
            "price_set" => "Price saved; savings use it from now on.",
            "price_cleared" => "Price removed: the pool shows seats only.",
            "rule_added" => "Rule added; every application's seats were re-evaluated.",
            "rule_removed" => "Rule removed; every application's seats were re-evaluated.",
            _ => return None,
        };
        Some(text.to_owned())
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct PriceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    source: String,
    /// Empty: every pool of the source without its own price.
    #[serde(default)]
    pool: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    period: String,
    /// `clear`: remove the price instead.
    #[serde(default)]
    action: String,
}

impl CsrfProtected for PriceForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /applications/price` (admin): sets or clears a price.
pub(crate) async fn set_price(
    State(state): State<WebState>,
    AdminForm { user, form }: AdminForm<PriceForm>,
) -> Response {
    let result = async {
        if form.source.is_empty() {
            return Err(WebError::bad_request(
                "Say which application source the price is for.",
            ));
        }
        if form.action == "clear" {
            state
                .store
                .clear_price(&user.username, &form.source, &form.pool)
                .await?;
            return Ok("price_cleared");
        }
        let price = Price::parse(&form.amount, &form.currency, &form.period)
            .map_err(WebError::bad_request)?;
        state
            .store
            .set_price(&user.username, &form.source, &form.pool, &price)
            .await?;
        Ok("price_set")
    }
    .await;
    match result {
        Ok(done) => Redirect::to(&href("/applications", &[("done", done)])).into_response(),
        Err(error) => error.into_response(),
    }
}

// ----- reclaim -----

const RECLAIM_SORTS: &[&str] = &[
    "days",
    "person",
    "application",
    "state",
    "department",
    "last_activity",
    "cost",
];

/// Unknown filter values answer 400 with the allowed ones, instead of an empty table.
fn check_filter(filter: &ReclaimFilter) -> Result<(), WebError> {
    {
        let reclaimable: Vec<&str> = SeatLicenceState::ALL
            .into_iter()
            .filter(|s| s.reclaimable())
            .map(SeatLicenceState::as_str)
            .collect();
        if !filter.state.is_empty() && !reclaimable.contains(&filter.state.as_str()) {
            return Err(WebError::bad_request(format!(
                "Unknown state {:?}: use one of {}, or leave it out for all.",
                filter.state,
                reclaimable.join(", ")
            )));
        }
        if !filter.sort.is_empty() && !RECLAIM_SORTS.contains(&filter.sort.as_str()) {
            return Err(WebError::bad_request(format!(
                "Unknown sort {:?}: use one of {}.",
                filter.sort,
                RECLAIM_SORTS.join(", ")
            )));
        }
        if !matches!(filter.dir.as_str(), "" | "asc" | "desc") {
            return Err(WebError::bad_request(format!(
                "Unknown direction {:?}: use asc or desc.",
                filter.dir
            )));
        }
        if !filter.new_since.is_empty()
            && chrono::NaiveDate::parse_from_str(&filter.new_since, "%Y-%m-%d").is_err()
        {
            return Err(WebError::bad_request(format!(
                "Bad date {:?} for \"new since\": give a day as YYYY-MM-DD, or leave it out.",
                filter.new_since
            )));
        }
        Ok(())
    }
}

/// The reclaim filter's choices: departments, managers (id, name), applications.
use crate::store::licences::ReclaimChoices;

/// Whether the filter names an application, department or manager (values to check).
fn names_a_choice(filter: &ReclaimFilter) -> bool {
    !(filter.application.is_empty() && filter.department.is_empty() && filter.manager.is_empty())
}

/// An application, department or manager that none of the choices has answers 400 with
/// a reason, instead of an empty table.
fn check_filter_values(filter: &ReclaimFilter, choices: &ReclaimChoices) -> Result<(), WebError> {
    let (departments, managers, applications) = choices;
    if !filter.application.is_empty() && !applications.contains(&filter.application) {
        return Err(WebError::bad_request(format!(
            "Unknown application {:?}: use one of {}, or leave it out for all.",
            filter.application,
            applications.join(", ")
        )));
    }
    if !filter.department.is_empty() && !departments.contains(&filter.department) {
        return Err(WebError::bad_request(format!(
            "Unknown department {:?}: no HR person of an organisation has it; pick one from the list.",
            filter.department
        )));
    }
    if !filter.manager.is_empty() && !managers.iter().any(|(id, _)| *id == filter.manager) {
        return Err(WebError::bad_request(format!(
            "Unknown manager {:?}: nobody reports to this person id; pick one from the list.",
            filter.manager
        )));
    }
    Ok(())
}

/// A reclaim row with display strings.
#[derive(Debug)]
pub(crate) struct ReclaimView {
    pub(crate) row: ReclaimRow,
    pub(crate) who: String,
    pub(crate) state_label: &'static str,
    pub(crate) reason: String,
    pub(crate) last_activity: String,
    pub(crate) cost: String,
    /// The holder's HR state in words.
    pub(crate) hr_state: Option<String>,
}

fn reclaim_view(row: ReclaimRow) -> ReclaimView {
    let who = row
        .person_name
        .clone()
        .or_else(|| row.email.clone())
        .or_else(|| row.login.clone())
        .unwrap_or_else(|| row.account_id.clone());
    ReclaimView {
        who,
        state_label: SeatLicenceState::parse(&row.state).map_or("unknown", SeatLicenceState::label),
        hr_state: row
            .hr_state
            .as_deref()
            .map(crate::reports::labels::state_label),
        reason: row.reason.as_deref().map(reason_label).unwrap_or_default(),
        last_activity: row
            .last_activity
            .map_or("never".to_owned(), |t| t.date_naive().to_string()),
        cost: match (row.monthly_cost, &row.currency) {
            (Some(c), Some(cur)) => money(c, cur),
            _ => "—".to_owned(),
        },
        row,
    }
}

#[derive(Template)]
#[template(path = "reclaim.html")]
pub(crate) struct ReclaimPage {
    pub(crate) layout: super::pages::Layout,
    pub(crate) filter: ReclaimFilter,
    pub(crate) states: Vec<(&'static str, &'static str)>,
    pub(crate) applications: Vec<String>,
    pub(crate) departments: Vec<String>,
    pub(crate) managers: Vec<(String, String)>,
    pub(crate) rows: Vec<ReclaimView>,
    /// (label, href, indicator of the current order)
    pub(crate) sorts: Vec<(&'static str, String, &'static str)>,
    pub(crate) truncated: bool,
    pub(crate) csv_href: String,
}

fn reclaim_params(f: &ReclaimFilter) -> Vec<(&'static str, String)> {
    vec![
        ("application", f.application.clone()),
        ("state", f.state.clone()),
        ("department", f.department.clone()),
        ("manager", f.manager.clone()),
        ("new_since", f.new_since.clone()),
        ("sort", f.sort.clone()),
        ("dir", f.dir.clone()),
    ]
}

fn reclaim_href(path: &str, f: &ReclaimFilter) -> String {
    let params = reclaim_params(f);
    let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    href(path, &borrowed)
}

/// `/reclaim` and `/api/v1/reports/reclaim`.
pub(crate) async fn reclaim(State(state): State<WebState>, page: Page<ReclaimFilter>) -> Response {
    let format = page.format;
    format.respond(
        async {
            let filter = page.query;
            check_filter(&filter)?;
            // The page offers the choices; JSON reads only the ones it names, to check them.
            let choices = if format != Format::Json {
                state.store.reclaim_choices(None).await?
            } else if names_a_choice(&filter) {
                state.store.reclaim_choices(Some(&filter)).await?
            } else {
                ReclaimChoices::default()
            };
            check_filter_values(&filter, &choices)?;
            if format == Format::Json {
                let rows = state.store.report_reclaim(&filter, EXPORT_LIMIT).await?;
                return Ok(
                    Json(json!({ "filter": filter, "total": rows.len(), "rows": rows }))
                        .into_response(),
                );
            }
            let rows = state
                .store
                .report_reclaim(&filter, RECLAIM_PAGE_ROWS + 1)
                .await?;
            let truncated = rows.len() as i64 > RECLAIM_PAGE_ROWS;
            let (departments, managers, applications) = choices;
            let sorts = RECLAIM_SORTS
                .iter()
                .map(|s| {
                    let mut f = filter.clone();
                    f.dir = if f.sort == *s && f.dir != "desc" {
                        "desc".to_owned()
                    } else {
                        "asc".to_owned()
                    };
                    f.sort = (*s).to_owned();
                    let label = match *s {
                        "days" => "days in state",
                        "last_activity" => "last activity",
                        "cost" => "monthly cost",
                        other => other,
                    };
                    let current = match (filter.sort.as_str(), filter.dir.as_str()) {
                        ("", _) if *s == "days" => " ▲",
                        (sort, "desc") if sort == *s => " ▼",
                        (sort, _) if sort == *s => " ▲",
                        _ => "",
                    };
                    (label, reclaim_href("/reclaim", &f), current)
                })
                .collect();
            html(&ReclaimPage {
                layout: super::pages::Layout::new("reclaim", &page.user),
                states: SeatLicenceState::ALL
                    .into_iter()
                    .filter(|s| s.reclaimable())
                    .map(|s| (s.as_str(), s.label()))
                    .collect(),
                applications,
                departments,
                managers,
                rows: rows
                    .into_iter()
                    .take(RECLAIM_PAGE_ROWS as usize)
                    .map(reclaim_view)
                    .collect(),
                sorts,
                truncated,
                csv_href: reclaim_href("/reclaim.csv", &filter),
                filter,
            })
        }
        .await,
    )
}

/// The Reclaim CSV: every row given, codes kept. The console's export and the emailed
/// digest's attachment are this one text.
pub(crate) fn reclaim_csv_text(rows: &[ReclaimRow]) -> String {
    let mut csv = CsvWriter::new();
    csv.row([
        "application",
        "source_kind",
        "licence",
        "account_id",
        "login",
        "email",
        "person_id",
        "person_name",
        "matched_by",
        "state",
        "reason",
        "since",
        "days",
        "last_activity",
        "hr_state",
        "department",
        "manager_id",
        "manager_name",
        "monthly_cost",
        "currency",
    ]);
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    for r in rows {
        csv.row([
            r.application.clone(),
            r.source_kind.clone(),
            r.licence.clone(),
            r.account_id.clone(),
            opt(&r.login),
            opt(&r.email),
            opt(&r.person_id),
            opt(&r.person_name),
            opt(&r.matched_by),
            r.state.clone(),
            opt(&r.reason),
            r.since.map(|d| d.to_string()).unwrap_or_default(),
            r.days.map(|d| d.to_string()).unwrap_or_default(),
            r.last_activity.map(|t| t.to_rfc3339()).unwrap_or_default(),
            opt(&r.hr_state),
            opt(&r.department),
            opt(&r.manager_id),
            opt(&r.manager_name),
            r.monthly_cost
                .map(|c| format!("{c:.2}"))
                .unwrap_or_default(),
            opt(&r.currency),
        ]);
    }
    csv.finish()
}

/// `/reclaim.csv`: every row of the filtered reclaim list, codes kept.
pub(crate) async fn reclaim_csv(
    State(state): State<WebState>,
    page: Page<ReclaimFilter>,
) -> Response {
    let format = page.format;
    format.respond(
        async {
            check_filter(&page.query)?;
            if names_a_choice(&page.query) {
                check_filter_values(
                    &page.query,
                    &state.store.reclaim_choices(Some(&page.query)).await?,
                )?;
            }
            let rows = state
                .store
                .report_reclaim(&page.query, EXPORT_LIMIT)
                .await?;
            let csv = reclaim_csv_text(&rows);
            let day = state.store.now().date_naive();
            let mut response = csv.into_response();
            let headers = response.headers_mut();
            headers.insert(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            if let Ok(value) = axum::http::HeaderValue::from_str(&format!(
                "attachment; filename=\"reclaim-{day}.csv\""
            )) {
                headers.insert(axum::http::header::CONTENT_DISPOSITION, value);
            }
            Ok(response)
        }
        .await,
    )
}

// ----- person -----

#[derive(Template)]
#[template(path = "person.html")]
pub(crate) struct PersonPage {
    pub(crate) layout: super::pages::Layout,
    pub(crate) person: PersonDetail,
    pub(crate) accounts: Vec<AccountView>,
    /// The HR state and reason in words.
    pub(crate) state_label: Option<String>,
    pub(crate) reason_label: Option<String>,
    /// (state in words, reason in words, from, to)
    pub(crate) history: Vec<(String, String, String, String)>,
    /// Finding kinds in words.
    pub(crate) findings: Vec<String>,
}

/// One of a person's accounts, in words.
#[derive(Debug)]
pub(crate) struct AccountView {
    pub(crate) application: String,
    pub(crate) account: String,
    /// "by its email ana@…", or "not matched".
    pub(crate) matched: String,
    pub(crate) last_activity: String,
    /// (licence, state label, reason in words, since)
    pub(crate) licences: Vec<(String, &'static str, String, String)>,
}

/// `/people/{id}` and `/api/v1/reports/people/{id}`.
pub(crate) async fn person(
    State(state): State<WebState>,
    Path(person_id): Path<String>,
    page: Page<NoQuery>,
) -> Response {
    let format = page.format;
    format.respond(
        async {
            let person = state
                .store
                .person_detail(&person_id)
                .await?
                .ok_or_else(|| {
                    WebError::not_found(format!(
                        "No person or account matches person id {person_id:?}."
                    ))
                })?;
            if format == Format::Json {
                return Ok(Json(&person).into_response());
            }
            let accounts = person
                .accounts
                .iter()
                .map(|a| {
                    let account = a
                        .login
                        .clone()
                        .or_else(|| a.email.clone())
                        .unwrap_or_else(|| a.account_id.clone());
                    let matched = match (&a.matched_by, &a.matched_address) {
                        (Some(by), Some(address)) => format!("by its {by} {address}"),
                        _ => "not matched".to_owned(),
                    };
                    let licences = a
                        .licences
                        .iter()
                        .map(|(pool, state, reason, since)| {
                            (
                                pool.clone(),
                                SeatLicenceState::parse(state)
                                    .map_or("unknown", SeatLicenceState::label),
                                reason.as_deref().map(reason_label).unwrap_or_default(),
                                since.map(|d| d.to_string()).unwrap_or_default(),
                            )
                        })
                        .collect();
                    AccountView {
                        application: a.source_name.clone(),
                        account: format!("{account}{}", if a.enabled { "" } else { " (disabled)" }),
                        matched,
                        last_activity: a
                            .last_activity
                            .map_or("never".to_owned(), |t| t.date_naive().to_string()),
                        licences,
                    }
                })
                .collect();
            use crate::reports::labels;
            html(&PersonPage {
                layout: super::pages::Layout::new("reclaim", &page.user),
                state_label: person.state.as_deref().map(labels::state_label),
                reason_label: person.reason.as_deref().map(labels::reason_label),
                history: person
                    .history
                    .iter()
                    .map(|(state, reason, from, to)| {
                        (
                            labels::state_label(state),
                            reason
                                .as_deref()
                                .map(labels::reason_label)
                                .unwrap_or_default(),
                            from.clone(),
                            to.clone().unwrap_or_else(|| "now".to_owned()),
                        )
                    })
                    .collect(),
                findings: person
                    .findings
                    .iter()
                    .map(|k| labels::finding_label(k))
                    .collect(),
                person,
                accounts,
            })
        }
        .await,
    )
}

// ----- exclusion rules -----

#[derive(Template)]
#[template(path = "exclusions.html")]
pub(crate) struct ExclusionsPage {
    pub(crate) layout: super::pages::Layout,
    pub(crate) rules: Vec<ExclusionRule>,
    pub(crate) kinds: &'static [(&'static str, &'static str)],
}

/// `/exclusions` and `/api/v1/reports/exclusions`: the rules (everyone reads, admins edit).
pub(crate) async fn exclusions(State(state): State<WebState>, page: Page<NoticeQuery>) -> Response {
    let format = page.format;
    format.respond(
        async {
            let rules = state.store.list_exclusion_rules().await?;
            if format == Format::Json {
                return Ok(Json(json!({ "rules": rules })).into_response());
            }
            html(&ExclusionsPage {
                layout: super::pages::Layout::new("exclusions", &page.user)
                    .with_notice(page.query.notice()),
                rules,
                kinds: RULE_KINDS,
            })
        }
        .await,
    )
}

#[derive(Debug, Deserialize)]
pub(crate) struct RuleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    value: String,
}

impl CsrfProtected for RuleForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /exclusions` (admin): adds a rule.
pub(crate) async fn add_exclusion(
    State(state): State<WebState>,
    AdminForm { user, form }: AdminForm<RuleForm>,
) -> Response {
    if !RULE_KINDS.iter().any(|(k, _)| *k == form.kind) {
        return WebError::bad_request(format!(
            "Unknown rule kind {:?}: use account_type, login_pattern or account.",
            form.kind
        ))
        .into_response();
    }
    match state
        .store
        .add_exclusion_rule(&user.username, &form.kind, &form.value)
        .await
    {
        Ok(()) => Redirect::to("/exclusions?done=rule_added").into_response(),
        Err(error) => WebError::from(error).into_response(),
    }
}

/// `POST /exclusions/{id}/remove` (admin).
pub(crate) async fn remove_exclusion(
    State(state): State<WebState>,
    Path(id): Path<String>,
    AdminForm { user, form: _ }: AdminForm<CsrfOnly>,
) -> Response {
    match state.store.remove_exclusion_rule(&user.username, &id).await {
        Ok(()) => Redirect::to("/exclusions?done=rule_removed").into_response(),
        Err(error) => WebError::from(error).into_response(),
    }
}

/// The organisation figures the Overview leads with.
pub(crate) async fn overview_orgs(state: &WebState) -> Result<Vec<OrgView>, WebError> {
    Ok(org_views(state.store.report_licences().await?))
}

// ----- changes -----

/// Query of the Changes page: the period, in days back from now.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ChangesQuery {
    /// A string, so that a bad value gets our message rather than serde's.
    days: String,
}

impl ChangesQuery {
    fn days(&self) -> Result<i64, WebError> {
        if self.days.is_empty() {
            return Ok(30);
        }
        match self.days.parse::<i64>() {
            Ok(days) if (1..=366).contains(&days) => Ok(days),
            _ => Err(WebError::bad_request(format!(
                "Bad period {:?}: give days as a whole number from 1 to 366 (7, 30 and 90 are offered).",
                self.days
            ))),
        }
    }
}

/// A licence change in words.
#[derive(Debug)]
pub(crate) struct ChangeView {
    pub(crate) day: String,
    pub(crate) who: String,
    pub(crate) person_id: Option<String>,
    pub(crate) application: String,
    pub(crate) licence: String,
    pub(crate) what: String,
}

#[derive(Template)]
#[template(path = "changes.html")]
pub(crate) struct ChangesPage {
    pub(crate) layout: super::pages::Layout,
    pub(crate) days: i64,
    pub(crate) periods: Vec<(i64, bool)>,
    /// (label, count)
    pub(crate) entered: Vec<(&'static str, u64)>,
    pub(crate) reclaimed: u64,
    pub(crate) realised: String,
    pub(crate) hr_entered: Vec<(String, u64)>,
    pub(crate) hr_joined: u64,
    pub(crate) rows: Vec<ChangeView>,
}

fn label_of(code: &str) -> &'static str {
    SeatLicenceState::parse(code).map_or("an unknown state", SeatLicenceState::label)
}

fn realised_text(changes: &Changes) -> String {
    let realised = changes.realised.monthly();
    if realised.is_empty() {
        "no price set".to_owned()
    } else {
        realised
            .iter()
            .map(|(c, a)| money(*a, c))
            .collect::<Vec<_>>()
            .join(" + ")
    }
}

/// `/changes` and `/api/v1/reports/changes`: what changed in the last `days` days.
pub(crate) async fn changes(State(state): State<WebState>, page: Page<ChangesQuery>) -> Response {
    let format = page.format;
    format.respond(
        async {
            let days = page.query.days()?;
            let since = crate::store::ts(state.store.now() - chrono::Duration::days(days));
            let changes = state.store.licence_changes(&since, 1000).await?;
            if format == Format::Json {
                return Ok(Json(json!({
                    "days": days,
                    "since": since,
                    "licences_entered": changes.entered,
                    "reclaimed": changes.reclaimed,
                    "realised_monthly_savings": changes.realised.monthly(),
                    "hr_entered": changes.hr_entered,
                    "hr_joined": changes.hr_joined,
                    "changes": changes.rows,
                }))
                .into_response());
            }
            let rows = changes
                .rows
                .iter()
                .map(|c| ChangeView {
                    day: c.at.get(..10).unwrap_or(&c.at).to_owned(),
                    who: c
                        .person_name
                        .clone()
                        .unwrap_or_else(|| c.account_id.clone()),
                    person_id: c.person_id.clone(),
                    application: c.application.clone(),
                    licence: c.licence.clone(),
                    what: match (&c.from, &c.to) {
                        (None, Some(to)) => format!("new licence: {}", label_of(to)),
                        (Some(from), Some(to)) => {
                            format!("{} → {}", label_of(from), label_of(to))
                        }
                        (Some(from), None) if c.reclaimed() => {
                            format!("reclaimed (was {})", label_of(from).to_lowercase())
                        }
                        (Some(from), None) => {
                            format!("licence removed (was {})", label_of(from).to_lowercase())
                        }
                        (None, None) => String::new(),
                    },
                })
                .collect();
            html(&ChangesPage {
                layout: super::pages::Layout::new("changes", &page.user),
                days,
                periods: [7, 30, 90].into_iter().map(|d| (d, d == days)).collect(),
                entered: SeatLicenceState::ALL
                    .into_iter()
                    .filter_map(|s| {
                        let n = changes.entered.get(s.as_str()).copied().unwrap_or(0);
                        (n > 0).then(|| (s.label(), n))
                    })
                    .collect(),
                reclaimed: changes.reclaimed,
                realised: realised_text(&changes),
                hr_entered: changes
                    .hr_entered
                    .iter()
                    .map(|(s, n)| (crate::reports::labels::state_label(s), *n))
                    .collect(),
                hr_joined: changes.hr_joined,
                rows,
            })
        }
        .await,
    )
}

/// "+3 newly orphaned, −5 reclaimed" over the last 30 days, for the Overview.
pub(crate) async fn overview_deltas(state: &WebState) -> Result<String, WebError> {
    let since = crate::store::ts(state.store.now() - chrono::Duration::days(30));
    let changes = state.store.licence_changes(&since, 0).await?;
    let n = |s: SeatLicenceState| changes.entered.get(s.as_str()).copied().unwrap_or(0);
    Ok(format!(
        "Last 30 days: +{} newly orphaned, +{} newly idle, −{} reclaimed (realised savings: {}).",
        n(SeatLicenceState::Orphaned),
        n(SeatLicenceState::Idle),
        changes.reclaimed,
        realised_text(&changes)
    ))
}
