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

use super::AppState;
use super::auth::{Grant, PRIVATE_READ, PUBLIC_READ};
use super::config::PrivateFields;
use super::error::ApiError;
use super::query::{Page, Params};
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

/// Writes `{"total":..,"limit":..,"skip":..,"data":[` + items + `]}`.
fn envelope(
    total: usize,
    page: Page,
    items: impl Iterator<Item = (usize, usize)>,
    mut write: impl FnMut(&mut Vec<u8>, usize),
) -> Response {
    let mut body = Vec::with_capacity(64 + page.limit as usize * 2048);
    body.extend_from_slice(
        format!(
            r#"{{"total":{total},"limit":{},"skip":{},"data":["#,
            page.limit, page.skip
        )
        .as_bytes(),
    );
    for (k, item) in items {
        if k > 0 {
            body.push(b',');
        }
        write(&mut body, item);
    }
    body.extend_from_slice(b"]}");
    json(body)
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
    let filtered: Vec<u32>;
    let positions: &[u32] = match params.get("status") {
        Some(status) => {
            let base = if grant.private() {
                &state.all_people
            } else {
                &state.public_people
            };
            filtered = base
                .iter()
                .copied()
                .filter(|&p| state.company.people()[p as usize].status.as_deref() == Some(status))
                .collect();
            &filtered
        }
        None if grant.private() => &state.all_people,
        None => &state.public_people,
    };
    let range = page.range(positions.len());
    Ok(envelope(
        positions.len(),
        page,
        positions[range].iter().map(|&p| p as usize).enumerate(),
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
    let positions: &[u32] = match params.get("personId") {
        Some(person_id) => match state.company.position(person_id) {
            Some(p) if state.visible(grant, p) => state.company.role_positions_of(p),
            _ => &[],
        },
        None if grant.private() || !state.view.hide_non_active => &state.all_roles,
        None => &state.public_roles,
    };
    let range = page.range(positions.len());
    let roles = state.company.job_roles();
    Ok(envelope(
        positions.len(),
        page,
        positions[range].iter().map(|&p| p as usize).enumerate(),
        |out, r| out.extend_from_slice(roles[r].json.as_bytes()),
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
        .map(|r| &state.company.job_roles()[r]);
    match role {
        Some(role)
            if state
                .company
                .position(&role.person_id)
                .is_some_and(|p| state.visible(grant, p)) =>
        {
            Ok(json(role.json.as_bytes().to_vec()))
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
    Ok(envelope(1, page, page.range(1).enumerate(), |out, _| {
        out.extend_from_slice(company.as_bytes());
    }))
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
