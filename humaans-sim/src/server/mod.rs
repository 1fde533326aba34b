//! The HTTP server: [`Simulator`] runs the Humaans endpoints over a generated [`Company`].

mod auth;
pub(crate) mod config;
mod error;
mod faults;
pub(crate) mod query;
mod routes;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use self::auth::{Grant, PRIVATE_READ, PUBLIC_READ, TokenTable};
use self::config::{ApiShape, Faults, ManagerField, PublicView, SimConfig, Tokens};
use crate::company::{Company, SpecError, Truth};

/// Why a simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(
        "cannot listen on {addr}: {source}; choose another --host/--port (port 0 picks a free one)"
    )]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the two simulator tokens must differ and be non-empty (--token-full, --token-public-only)"
    )]
    Tokens,
    #[error("company generation failed: {0}")]
    Generation(String),
}

pub(crate) struct AppState {
    company: Arc<Company>,
    view: PublicView,
    tokens: TokenTable,
    faults: RwLock<Faults>,
    requests: AtomicU64,
    api: ApiShape,
    /// Listing requests without `$sort`, numbering the orders of the unstable mode.
    unsorted_listings: AtomicU64,
    /// Each listing in id order (`unsorted`) and in creation order (`sorted`, for `$sort`).
    people: Orders,
    public_people: Orders,
    roles: Orders,
    public_roles: Orders,
    /// Job roles re-rendered for [`ManagerField::ManagerId`] / [`ManagerField::None`]
    /// (empty with the default `reportingTo`, which serves the pre-rendered JSON).
    role_json: Vec<Box<str>>,
}

impl AppState {
    /// The JSON of job role `r` as this simulator serves it.
    pub(crate) fn role_json(&self, r: usize) -> &str {
        match self.role_json.get(r) {
            Some(json) => json,
            None => self.company.job_roles()[r].json(),
        }
    }
}

/// A pre-rendered job role with its manager member renamed to `managerId` or removed.
fn with_manager_field(json: &str, field: ManagerField) -> String {
    const KEY: &str = "\"reportingTo\":";
    let Some(at) = json.find(KEY) else {
        return json.to_owned();
    };
    match field {
        ManagerField::ReportingTo => json.to_owned(),
        ManagerField::ManagerId => {
            format!("{}\"managerId\":{}", &json[..at], &json[at + KEY.len()..])
        }
        ManagerField::None => {
            // The value is `null` or an id string (ids hold no quotes or commas).
            let rest = &json[at + KEY.len()..];
            let end = rest.find([',', '}']).unwrap_or(rest.len());
            let rest = &rest[end..];
            let before = &json[..at];
            match rest.strip_prefix(',') {
                Some(after) => format!("{before}{after}"),
                None => format!("{}{rest}", before.strip_suffix(',').unwrap_or(before)),
            }
        }
    }
}

/// One listing's positions in the two orders the simulator serves.
#[derive(Debug)]
pub(crate) struct Orders {
    /// Id order: what a request without `$sort` gets unless the order is unstable.
    pub(crate) unsorted: Vec<u32>,
    /// Creation time, then id: what any `$sort` gets.
    pub(crate) sorted: Vec<u32>,
}

impl Orders {
    /// `positions` (a subset of `0..keys.len()`) in both orders; `by_creation` is every
    /// position sorted by creation time, then id, so a subset keeps that order by filtering.
    fn new(positions: Vec<u32>, by_creation: &[u32]) -> Self {
        let sorted = if positions.len() == by_creation.len() {
            by_creation.to_vec()
        } else {
            let mut member = vec![false; by_creation.len()];
            for &p in &positions {
                member[p as usize] = true;
            }
            by_creation
                .iter()
                .copied()
                .filter(|&p| member[p as usize])
                .collect()
        };
        Self {
            sorted,
            unsorted: positions,
        }
    }
}

/// Every position of `keys` ordered by its (creation time, id) key. The keys borrow the
/// pre-rendered records, so a large company costs two slices per record, not copies.
fn creation_order(keys: &[(&str, &str)]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..keys.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| keys[a as usize].cmp(&keys[b as usize]));
    order
}

/// The `createdAt` member of a pre-rendered record (empty if absent). Searched from the end,
/// where the renderer puts it, so a large company is not scanned byte by byte.
fn created_at(json: &str) -> &str {
    const KEY: &str = "\"createdAt\":\"";
    json.rfind(KEY)
        .map(|at| &json[at + KEY.len()..])
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
}

impl AppState {
    fn faults(&self) -> Faults {
        self.faults
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// A running simulator. Dropping it stops the server too; [`Simulator::shutdown`] also
/// waits for it.
#[derive(Debug)]
pub struct Simulator {
    url: String,
    addr: SocketAddr,
    tokens: Tokens,
    state: Arc<AppState>,
    serving: crate::serving::Serving,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("company", &self.company.id())
            .field("people", &self.company.people().len())
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// Generates the company `config` describes (on a blocking thread) and starts serving it.
    pub async fn start(config: SimConfig) -> Result<Simulator, SimError> {
        let spec = config.company_spec();
        spec.validate()?;
        let company = tokio::task::spawn_blocking(move || Company::generate(&spec))
            .await
            .map_err(|e| SimError::Generation(e.to_string()))??;
        Self::start_with(Arc::new(company), config).await
    }

    /// Serves an already generated company (the `people`, `seed`, `as_of` and
    /// `unknown_status_permille` of `config` are ignored; tokens still derive from the
    /// company's seed unless given). Lets tests share one company between simulators.
    pub async fn start_with(
        company: Arc<Company>,
        config: SimConfig,
    ) -> Result<Simulator, SimError> {
        let tokens = config
            .tokens
            .clone()
            .unwrap_or_else(|| Tokens::for_seed(company.spec().seed));
        if tokens.full.is_empty()
            || tokens.public_only.is_empty()
            || tokens.full == tokens.public_only
        {
            return Err(SimError::Tokens);
        }
        let (owner_full, owner_public) = company.owner_positions();
        let mut id_rng = crate::rng::Rng::derive(company.spec().seed, 0x746F_6B69);
        let grants = HashMap::from([
            (
                tokens.full.clone(),
                Grant {
                    id: id_rng.id(24),
                    label: "Seat monitoring (full)",
                    person_pos: owner_full,
                    scopes: vec![PUBLIC_READ, PRIVATE_READ],
                },
            ),
            (
                tokens.public_only.clone(),
                Grant {
                    id: id_rng.id(24),
                    label: "Seat monitoring (public only)",
                    person_pos: owner_public,
                    scopes: vec![PUBLIC_READ],
                },
            ),
        ]);
        let people = company.people();
        let all_people: Vec<u32> = (0..people.len() as u32).collect();
        let is_active = |p: usize| people[p].status.as_deref() == Some("active");
        let public_people: Vec<u32> = if config.public_view.hide_non_active {
            all_people
                .iter()
                .copied()
                .filter(|&p| is_active(p as usize))
                .collect()
        } else {
            all_people.clone()
        };
        let all_roles: Vec<u32> = (0..company.job_roles().len() as u32).collect();
        let public_roles: Vec<u32> = all_roles
            .iter()
            .copied()
            .filter(|&r| {
                let role = &company.job_roles()[r as usize];
                company.position(&role.person_id).is_some_and(is_active)
            })
            .collect();
        let people_by_creation = {
            let keys: Vec<(&str, &str)> = company
                .people()
                .iter()
                .map(|p| (created_at(&p.public_json), p.id.as_str()))
                .collect();
            creation_order(&keys)
        };
        let roles_by_creation = {
            let keys: Vec<(&str, &str)> = company
                .job_roles()
                .iter()
                .map(|r| (created_at(&r.json), r.id.as_str()))
                .collect();
            creation_order(&keys)
        };
        let people_orders = Orders::new(all_people, &people_by_creation);
        let public_people = Orders::new(public_people, &people_by_creation);
        let roles_orders = Orders::new(all_roles, &roles_by_creation);
        let public_roles = Orders::new(public_roles, &roles_by_creation);
        let role_json = match config.api.manager_field {
            ManagerField::ReportingTo => Vec::new(),
            field => company
                .job_roles()
                .iter()
                .map(|r| with_manager_field(r.json(), field).into_boxed_str())
                .collect(),
        };
        let state = Arc::new(AppState {
            company,
            view: config.public_view.clone(),
            tokens: TokenTable::new(grants),
            faults: RwLock::new(config.faults.clone()),
            requests: AtomicU64::new(0),
            api: config.api.clone(),
            unsorted_listings: AtomicU64::new(0),
            people: people_orders,
            public_people,
            roles: roles_orders,
            public_roles,
            role_json,
        });

        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .map_err(|source| SimError::Bind {
                addr: config.bind,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: config.bind,
            source,
        })?;
        let app = routes::router(state.clone()).layer(axum::middleware::from_fn_with_state(
            state.clone(),
            faults::inject,
        ));
        let serving = crate::serving::Serving::spawn(listener, app, "humaans");
        tracing::info!(%addr, people = state.company.people().len(), "Humaans simulator listening.");
        Ok(Simulator {
            url: format!("http://{addr}"),
            addr,
            tokens,
            state,
            serving,
        })
    }

    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:41234` (the API is under `/api`).
    pub fn url(&self) -> &str {
        &self.url
    }
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }
    pub fn company(&self) -> &Arc<Company> {
        &self.state.company
    }
    pub fn truth(&self) -> &Truth {
        self.state.company.truth()
    }
    /// Requests received so far (faulted ones included).
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::Relaxed)
    }
    /// Replaces the faults from the next request on. The request counter keeps running.
    pub fn set_faults(&self, faults: Faults) {
        *self
            .state
            .faults
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = faults;
    }
    /// Makes `token` answer 401 from now on. Returns false for a token the simulator never knew.
    pub fn revoke_token(&self, token: &str) -> bool {
        self.state.tokens.revoke(token)
    }

    /// Stops accepting connections and waits (at most 5 s) for open responses to finish.
    pub async fn shutdown(self) {
        self.serving.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manager_member_is_renamed_or_removed() {
        let check = |json: &str, field: ManagerField, expected: &str| {
            let got = with_manager_field(json, field);
            assert_eq!(got, expected, "{json} as {field:?}");
            serde_json::from_str::<serde_json::Value>(&got).expect("still JSON");
        };
        let middle = r#"{"id":"r1","reportingTo":"p2","createdAt":"x"}"#;
        check(middle, ManagerField::ReportingTo, middle);
        check(
            middle,
            ManagerField::ManagerId,
            r#"{"id":"r1","managerId":"p2","createdAt":"x"}"#,
        );
        check(middle, ManagerField::None, r#"{"id":"r1","createdAt":"x"}"#);
        check(
            r#"{"id":"r1","reportingTo":null}"#,
            ManagerField::None,
            r#"{"id":"r1"}"#,
        );
        check(r#"{"id":"r1"}"#, ManagerField::None, r#"{"id":"r1"}"#);
    }

    #[test]
    fn created_at_is_read_from_the_rendered_record() {
        assert_eq!(
            created_at(r#"{"id":"a","createdAt":"2024-01-02T03:04:05.000Z","x":1}"#),
            "2024-01-02T03:04:05.000Z"
        );
        assert_eq!(created_at(r#"{"id":"a"}"#), "");
    }
}
