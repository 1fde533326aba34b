//! The Humaans endpoints the simulator serves.
//!
//! Lists are built by concatenating the JSON pre-rendered at generation: a page costs
//! the bytes of the page, never a walk over the whole company (except `status=` filters).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::auth::{Grant, PRIVATE_READ, PUBLIC_READ};
use super::config::{ListingTotal, PrivateFields, TokenInfo};
use super::error::ApiError;
use super::query::{Page, Params};
use super::{AppState, Orders};
use crate::company::PRIVATE_NULLS;

type Result<T> = std::result::Result<T, ApiError>;

pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/api/people", get(list_people))
        .route("/api/people/{id}", get(get_person))
        .route("/api/job-roles", get(list_job_roles))
        .route("/api/job-roles/{id}", get(get_job_role))
        .route("/api/me", get(me))
        // Unconfirmed: only one (probably machine-written) client knows this endpoint. It is
        // served because it is cheap and lets clients check scopes without probing.
        .route("/api/token-info", get(token_info))
        .route("/api/companies", get(list_companies))
        .route("/api/companies/{id}", get(get_company))
        .fallback(not_found)
        .with_state(state)
}

fn json(body: Vec<u8>) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// Writes one list answer in the configured shape: `{"total":..,"limit":..,"skip":..,"data":[`
/// + items + `]}` (with `total` exact, `-1` or absent), or a bare array of the items.
fn envelope(
    shape: ListingTotal,
    total: usize,
    page: Page,
    items: impl Iterator<Item = (usize, usize)>,
    mut write: impl FnMut(&mut Vec<u8>, usize),
) -> Response {
    let mut body = Vec::with_capacity(64 + page.limit as usize * 2048);
    let head = match shape {
        ListingTotal::Exact => format!(
            r#"{{"total":{total},"limit":{},"skip":{},"data":["#,
            page.limit, page.skip
        ),
        ListingTotal::MinusOne => format!(
            r#"{{"total":-1,"limit":{},"skip":{},"data":["#,
            page.limit, page.skip
        ),
        ListingTotal::Absent => {
            format!(r#"{{"limit":{},"skip":{},"data":["#, page.limit, page.skip)
        }
        ListingTotal::BareArray => "[".to_owned(),
    };
    body.extend_from_slice(head.as_bytes());
    for (k, item) in items {
        if k > 0 {
            body.push(b',');
        }
        write(&mut body, item);
    }
    body.extend_from_slice(match shape {
        ListingTotal::BareArray => b"]",
        _ => b"]}",
    });
    json(body)
}

/// True when the query asks for a sort order (`$sort[field]=1`, raw or encoded).
fn has_sort(params: &Params) -> bool {
    params.keys().any(|k| k.starts_with("$sort"))
}

impl AppState {
    /// Refuses any `$sort` when the simulator is told to (a server that rejects the key).
    fn check_sort(&self, params: &Params) -> Result<()> {
        match params.keys().find(|k| k.starts_with("$sort")) {
            Some(key) if self.api.refuse_sort => Err(ApiError::bad_request(format!(
                "Invalid query parameter {key}: sorting by this field is not allowed"
            ))),
            _ => Ok(()),
        }
    }

    /// The positions of page `range` of `orders`: creation order for a sorted request; id
    /// order otherwise, or, in the unstable mode, id order rotated by an offset that
    /// changes with every unsorted request.
    fn page_of(
        &self,
        orders: &Orders,
        params: &Params,
        range: std::ops::Range<usize>,
    ) -> Vec<usize> {
        if has_sort(params) {
            return orders.sorted[range].iter().map(|&p| p as usize).collect();
        }
        let n = orders.unsorted.len();
        if !self.api.unstable_order || n == 0 {
            return orders.unsorted[range].iter().map(|&p| p as usize).collect();
        }
        let k = self
            .unsorted_listings
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // SplitMix-style scramble of the request number, so consecutive requests differ.
        let rotation = (k.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 17) as usize % n;
        range
            .map(|i| orders.unsorted[(i + rotation) % n] as usize)
            .collect()
    }
}

impl AppState {
    fn authenticate(&self, headers: &HeaderMap) -> Result<&Grant> {
        let grant = self.tokens.authenticate(headers)?;
        grant.require(PUBLIC_READ, "people")?;
        Ok(grant)
    }

    fn visible(&self, grant: &Grant, person_pos: usize) -> bool {
        grant.private()
            || !self.view.hide_non_active
            || self.company.people()[person_pos].status.as_deref() == Some("active")
    }

    fn write_person(&self, grant: &Grant, out: &mut Vec<u8>, person_pos: usize) {
        let person = &self.company.people()[person_pos];
        out.push(b'{');
        out.extend_from_slice(person.public_json.as_bytes());
        if grant.private() {
            out.push(b',');
            out.extend_from_slice(person.private_json.as_bytes());
        } else if self.view.private_fields == PrivateFields::Null {
            out.push(b',');
            out.extend_from_slice(PRIVATE_NULLS.as_bytes());
        }
        out.push(b'}');
    }

    fn person_response(&self, grant: &Grant, person_pos: usize) -> Response {
        let mut body = Vec::with_capacity(2048);
        self.write_person(grant, &mut body, person_pos);
        json(body)
    }
}

async fn list_people(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let grant = state.authenticate(&headers)?;
    let params = Params::parse(query.as_deref());
    let page = params.page()?;
    state.check_sort(&params)?;
    let base = if grant.private() {
        &state.people
    } else {
        &state.public_people
    };
    let filtered: Orders;
    let orders = match params.get("status") {
        Some(status) => {
            let keep = |list: &[u32]| -> Vec<u32> {
                list.iter()
                    .copied()
                    .filter(|&p| {
                        state.company.people()[p as usize].status.as_deref() == Some(status)
                    })
                    .collect()
            };
            filtered = Orders {
                unsorted: keep(&base.unsorted),
                sorted: keep(&base.sorted),
            };
            &filtered
        }
        None => base,
    };
    let total = orders.unsorted.len();
    let positions = state.page_of(orders, &params, page.range(total));
    Ok(envelope(
        state.api.listing_total,
        total,
        page,
        positions.into_iter().enumerate(),
        |out, p| state.write_person(grant, out, p),
    ))
}

async fn get_person(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response> {
    let grant = state.authenticate(&headers)?;
    match state.company.position(&id) {
        Some(p) if state.visible(grant, p) => Ok(state.person_response(grant, p)),
        _ => Err(ApiError::not_found(format!(
            "No record found for id '{id}'"
        ))),
    }
}

async fn me(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Result<Response> {
    let grant = state.authenticate(&headers)?;
    Ok(state.person_response(grant, grant.person_pos))
}

async fn token_info(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Result<Response> {
    match state.api.token_info {
        TokenInfo::Present => {}
        TokenInfo::Absent => return Err(ApiError::not_found("Page not found")),
        TokenInfo::MethodNotAllowed => {
            return Err(ApiError::method_not_allowed(
                "Method 'find' is not allowed on service 'token-info'",
            ));
        }
        TokenInfo::BadRequest => {
            return Err(ApiError::bad_request("Invalid request to token-info"));
        }
    }
    let grant = state.tokens.authenticate(&headers)?;
    let body = serde_json::json!({
        "id": grant.id,
        "personId": state.company.people()[grant.person_pos].id,
        "label": grant.label,
        "scopes": grant.scopes,
    });
    Ok(json(body.to_string().into_bytes()))
}

impl AppState {
    fn authenticate_roles(&self, headers: &HeaderMap) -> Result<&Grant> {
        let grant = self.authenticate(headers)?;
        if self.view.job_roles_need_private {
            grant.require(PRIVATE_READ, "job roles (job titles and reporting lines)")?;
        }
        Ok(grant)
    }
}

async fn list_job_roles(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let grant = state.authenticate_roles(&headers)?;
    let params = Params::parse(query.as_deref());
    let page = params.page()?;
    state.check_sort(&params)?;
    let of_person: Orders;
    let orders = match params.get("personId") {
        Some(person_id) => {
            let positions = match state.company.position(person_id) {
                Some(p) if state.visible(grant, p) => state.company.role_positions_of(p).to_vec(),
                _ => Vec::new(),
            };
            of_person = Orders {
                unsorted: positions.clone(),
                sorted: positions,
            };
            &of_person
        }
        None if grant.private() || !state.view.hide_non_active => &state.roles,
        None => &state.public_roles,
    };
    let total = orders.unsorted.len();
    let positions = state.page_of(orders, &params, page.range(total));
    Ok(envelope(
        state.api.listing_total,
        total,
        page,
        positions.into_iter().enumerate(),
        |out, r| out.extend_from_slice(state.role_json(r).as_bytes()),
    ))
}

async fn get_job_role(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response> {
    let grant = state.authenticate_roles(&headers)?;
    let role = state
        .company
        .role_position(&id)
        .map(|r| (r, &state.company.job_roles()[r]));
    match role {
        Some((r, role))
            if state
                .company
                .position(&role.person_id)
                .is_some_and(|p| state.visible(grant, p)) =>
        {
            Ok(json(state.role_json(r).as_bytes().to_vec()))
        }
        _ => Err(ApiError::not_found(format!(
            "No record found for id '{id}'"
        ))),
    }
}

async fn list_companies(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    state.authenticate(&headers)?;
    let page = Params::parse(query.as_deref()).page()?;
    let company = state.company.company_json();
    Ok(envelope(
        state.api.listing_total,
        1,
        page,
        page.range(1).enumerate(),
        |out, _| {
            out.extend_from_slice(company.as_bytes());
        },
    ))
}

async fn get_company(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response> {
    state.authenticate(&headers)?;
    if id == state.company.id() {
        Ok(json(state.company.company_json().into_bytes()))
    } else {
        Err(ApiError::not_found(format!(
            "No record found for id '{id}'"
        )))
    }
}

async fn not_found() -> ApiError {
    ApiError::not_found("Page not found")
}
