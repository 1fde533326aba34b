//! The OpenAPI 3.1 document of the platform's two machine APIs, served at
//! `/api/openapi.json` and committed as `protocol/openapi.json`:
//!
//! - the agent API (`/api/agent/v1/*`): bodies are the `seatbroker-protocol` wire types,
//!   whose schemas are derived from the types themselves (`utoipa::ToSchema`, the protocol
//!   crate's `openapi` feature);
//! - the report API (`/api/v1/reports/*`): rows are the report model's types
//!   (`reports::model`), derived the same way; the licence reports, built as JSON by hand,
//!   are described by the [`docs`] types below.
//!
//! The operations are declared here, one function per route, because the report handlers
//! also serve the HTML console. The integration test `openapi` keeps this list, the router,
//! `protocol/README.md` and `protocol/openapi.json` identical: a route added to one and not
//! the others fails it.

use seatbroker_protocol::{
    EnrollRequest, EnrollResponse, Heartbeat, HeartbeatAck, Problem, StatusResponse, UploadAck,
    UploadPart,
};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::reports::model::{DepartmentRow, OverviewRow};

/// The document, as served.
pub(crate) fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as pretty JSON with a final newline (the committed file's form).
pub(crate) fn document_json() -> String {
    let mut text = document()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Seatbroker platform API",
        description = "The agent API (agent credential) and the report API (report token or console session). Errors are RFC 9457 application/problem+json with a stable `code`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        enroll,
        status,
        heartbeat,
        upload_part,
        overview,
        inactive_seats,
        trends,
        departments,
        data_quality,
        sources,
        licences,
        applications,
        reclaim,
        person,
        changes,
        exclusions,
    ),
    components(schemas(
        Problem,
        docs::SeatStateFilter,
        docs::SeatSort,
        docs::Direction,
        docs::ReclaimState,
        docs::ReclaimSort
    )),
    modifiers(&Security, &EmptyMeansAbsent),
    tags(
        (name = "agent", description = "The agent API: enrollment, approval status, snapshot upload, heartbeat. See protocol/README.md."),
        (name = "reports", description = "The report API: read-only; `Authorization: Bearer <report token>` or a console session."),
    )
)]
struct ApiDoc;

/// The report filters' enums list the empty value (`state=`, `sort=`, as the console's
/// forms send them), which the handlers take as absent: the `docs` enums name it
/// `Absent`, since the derive cannot name a variant "".
struct EmptyMeansAbsent;

impl Modify for EmptyMeansAbsent {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{RefOr, Schema};
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        for name in [
            "SeatStateFilter",
            "SeatSort",
            "Direction",
            "ReclaimState",
            "ReclaimSort",
        ] {
            if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(name)
                && let Some(values) = object.enum_values.as_mut()
            {
                for value in values.iter_mut() {
                    if value == "absent" {
                        *value = serde_json::Value::from("");
                    }
                }
            }
        }
    }
}

/// The security schemes: the agent credential, report tokens and the console session.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "agent_credential",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The credential the agent received at enrollment (`sbk_...`).",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "report_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A read-only report token (`sbr_...`) an admin created on the console's Report tokens page.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "console_session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::web::SESSION_COOKIE_NAME,
            ))),
        );
    }
}

/// Types that describe JSON the handlers build by hand. They are never constructed: they
/// exist to be documented.
#[allow(dead_code)]
mod docs {
    use crate::reports::model::{AgentRow, FindingCount, FindingRow, OverviewRow, SeatFilter};
    use crate::reports::model::{SeatRow, TrendPoint};
    use std::collections::BTreeMap;

    use serde_json::Value;
    use utoipa::ToSchema;

    /// The states the inactive-seats report filters on (`all`: every state but active).
    #[derive(ToSchema)]
    #[schema(rename_all = "snake_case")]
    pub(super) enum SeatStateFilter {
        /// Empty: the same as leaving the parameter out (`EmptyMeansAbsent` writes it "").
        Absent,
        Inactive,
        Leaving,
        PreHire,
        Offboarded,
        Unknown,
        Active,
        All,
    }

    /// The orders of the inactive-seats report.
    #[derive(ToSchema)]
    #[schema(rename_all = "snake_case")]
    pub(super) enum SeatSort {
        /// Empty: the same as leaving the parameter out (`EmptyMeansAbsent` writes it "").
        Absent,
        Person,
        Email,
        Department,
        Manager,
        State,
        Reason,
        Since,
        Days,
        Source,
    }

    /// A sort direction.
    #[derive(ToSchema)]
    #[schema(rename_all = "snake_case")]
    pub(super) enum Direction {
        /// Empty: the same as leaving the parameter out (`EmptyMeansAbsent` writes it "").
        Absent,
        Asc,
        Desc,
    }

    /// The reclaimable licence states the reclaim report filters on.
    #[derive(ToSchema)]
    #[schema(rename_all = "snake_case")]
    pub(super) enum ReclaimState {
        /// Empty: the same as leaving the parameter out (`EmptyMeansAbsent` writes it "").
        Absent,
        Orphaned,
        DisabledHolding,
        NeverUsed,
        Idle,
    }

    /// The orders of the reclaim report.
    #[derive(ToSchema)]
    #[schema(rename_all = "snake_case")]
    pub(super) enum ReclaimSort {
        /// Empty: the same as leaving the parameter out (`EmptyMeansAbsent` writes it "").
        Absent,
        Days,
        Person,
        Application,
        State,
        Department,
        LastActivity,
        Cost,
    }

    /// A page of the inactive-seats report.
    #[derive(ToSchema)]
    pub(super) struct InactiveSeats {
        pub(super) filter: SeatFilter,
        /// Rows matching the filter, on every page.
        pub(super) total: i64,
        pub(super) offset: i64,
        pub(super) rows: Vec<SeatRow>,
    }

    /// Daily counts over the chosen months, days without data filled from the day before.
    #[derive(ToSchema)]
    pub(super) struct Trends {
        /// The source asked for, `null` for all.
        pub(super) source: Option<String>,
        /// 3, 6 or 12.
        pub(super) months: u32,
        pub(super) days: Vec<TrendPoint>,
    }

    /// Data-quality findings: counts per kind and the findings themselves.
    #[derive(ToSchema)]
    pub(super) struct DataQuality {
        pub(super) counts: Vec<FindingCount>,
        pub(super) findings: Vec<FindingRow>,
    }

    /// Sources with their health, and agents with their source links.
    #[derive(ToSchema)]
    pub(super) struct Sources {
        pub(super) sources: Vec<OverviewRow>,
        pub(super) agents: Vec<AgentRow>,
        pub(super) incomplete_limits: IncompleteLimits,
    }

    /// The bounds every agent's `incomplete_uploads` is held to (the serve limits).
    #[derive(ToSchema)]
    pub(super) struct IncompleteLimits {
        /// Parts of incomplete snapshots an agent may have stored; more are refused with 429.
        pub(super) max_parts_per_agent: u64,
        /// The same in bytes (every part counts as the largest a part may be).
        pub(super) max_bytes_per_agent: u64,
        /// Hours without a part after which an incomplete snapshot is dropped.
        pub(super) expire_after_hours: u64,
    }

    /// Per organisation: licence states, unassigned and reclaimable seats, savings and
    /// applications (keys as README.md's `/api/v1/reports/licences` describes).
    #[derive(ToSchema)]
    pub(super) struct Licences {
        pub(super) organisations: Vec<Value>,
    }

    /// The Applications page as JSON: per organisation, each application's pool figures.
    #[derive(ToSchema)]
    pub(super) struct Applications {
        pub(super) organisations: Vec<Value>,
    }

    /// Reclaimable seats matching the filter.
    #[derive(ToSchema)]
    pub(super) struct Reclaim {
        pub(super) filter: Value,
        pub(super) total: i64,
        pub(super) rows: Vec<Value>,
    }

    /// What changed in the last `days` days.
    #[derive(ToSchema)]
    pub(super) struct Changes {
        pub(super) days: i64,
        /// RFC 3339 timestamp the changes are counted from.
        pub(super) since: String,
        /// Licences that entered each state, by state code.
        pub(super) licences_entered: BTreeMap<String, u64>,
        pub(super) reclaimed: i64,
        /// Per currency.
        pub(super) realised_monthly_savings: BTreeMap<String, f64>,
        /// HR people who entered each seat state, by state code.
        pub(super) hr_entered: BTreeMap<String, u64>,
        pub(super) hr_joined: i64,
        pub(super) changes: Vec<Value>,
    }

    /// The exclusion rules (accounts never counted as reclaimable).
    #[derive(ToSchema)]
    pub(super) struct Exclusions {
        pub(super) rules: Vec<Value>,
    }

    /// One person (HR seat) or account, with their licences.
    #[derive(ToSchema)]
    pub(super) struct Person {
        pub(super) person_id: String,
        pub(super) name: Option<String>,
        pub(super) work_email: Option<String>,
        pub(super) state: Option<String>,
        pub(super) reason: Option<String>,
        pub(super) department: Option<String>,
        pub(super) job_title: Option<String>,
        pub(super) manager_id: Option<String>,
        pub(super) manager_name: Option<String>,
        pub(super) start_date: Option<String>,
        pub(super) end_date: Option<String>,
        /// `[state, reason, valid from, valid to]` per change.
        pub(super) history: Vec<Value>,
        /// Each application account with its licences.
        pub(super) accounts: Vec<Value>,
        /// Data-quality finding kinds.
        pub(super) findings: Vec<String>,
    }
}

// ----- the agent API -----

/// Enroll with an enrollment token; the answer carries the agent credential, once.
#[utoipa::path(
    post, path = "/api/agent/v1/enroll", tag = "agent",
    params(("Seatbroker-Protocol" = Option<u32>, Header, minimum = 1, maximum = 1, description = "Protocol version; 1 when absent. Outside the supported range: 400 `protocol_too_old` / `protocol_too_new`.")),
    request_body = EnrollRequest,
    responses(
        (status = 201, description = "Enrolled, pending approval.", body = EnrollResponse),
        (status = "4XX", description = "Refused; `code` says why.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[allow(dead_code)]
fn enroll() {}

/// The approval state of the agent and its sources.
#[utoipa::path(
    get, path = "/api/agent/v1/status", tag = "agent",
    params(("Seatbroker-Protocol" = Option<u32>, Header, minimum = 1, maximum = 1, description = "Protocol version; 1 when absent. Outside the supported range: 400 `protocol_too_old` / `protocol_too_new`.")),
    responses(
        (status = 200, description = "The agent's state and its sources'.", body = StatusResponse),
        (status = "4XX", description = "Refused; `code` says why.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("agent_credential" = []))
)]
#[allow(dead_code)]
fn status() {}

/// The agent's health: collections, spool depth, last error.
#[utoipa::path(
    post, path = "/api/agent/v1/heartbeat", tag = "agent",
    params(("Seatbroker-Protocol" = Option<u32>, Header, minimum = 1, maximum = 1, description = "Protocol version; 1 when absent. Outside the supported range: 400 `protocol_too_old` / `protocol_too_new`.")),
    request_body = Heartbeat,
    responses(
        (status = 200, description = "Recorded.", body = HeartbeatAck),
        (status = "4XX", description = "Refused; `code` says why.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("agent_credential" = []))
)]
#[allow(dead_code)]
fn heartbeat() {}

/// One part of a snapshot; the last missing part applies it.
#[utoipa::path(
    put, path = "/api/agent/v1/snapshots/{snapshot_id}/parts/{part}", tag = "agent",
    params(
        ("snapshot_id" = String, Path, pattern = "^[A-Za-z0-9_-]{1,64}$", description = "The body's `snapshot_id`: 32 lowercase hex characters chosen by the agent."),
        ("part" = u32, Path, minimum = 1, maximum = 1024, description = "1-based part number, the body's `part`."),
        ("Seatbroker-Protocol" = Option<u32>, Header, minimum = 1, maximum = 1, description = "Protocol version; 1 when absent. Outside the supported range: 400 `protocol_too_old` / `protocol_too_new`."),
    ),
    request_body = UploadPart,
    responses(
        (status = 200, description = "Stored (or already held).", body = UploadAck),
        (status = "4XX", description = "Refused, nothing stored; `code` says why.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("agent_credential" = []))
)]
#[allow(dead_code)]
fn upload_part() {}

// ----- the report API -----

/// Per source: seat counts of the last upload, health, utilisation.
#[utoipa::path(
    get, path = "/api/v1/reports/overview", tag = "reports",
    responses(
        (status = 200, description = "One row per source.", body = Vec<OverviewRow>),
        (status = "4XX", description = "Not signed in, or a bad request.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("report_token" = []), ("console_session" = []))
)]
#[allow(dead_code)]
fn overview() {}

/// Seats in a state (default `inactive`), filtered, sorted, 100 a page.
#[utoipa::path(
    get, path = "/api/v1/reports/inactive-seats", tag = "reports",
    params(
        ("source" = Option<String>, Query, description = "A source id; all when absent."),
        ("state" = Option<docs::SeatStateFilter>, Query, description = "`inactive` when absent."),
        ("reason" = Option<String>, Query, description = "A reason code."),
        ("department" = Option<String>, Query, description = "A department; `(none)` for people without one."),
        ("manager" = Option<String>, Query, description = "A manager's person id."),
        ("sort" = Option<docs::SeatSort>, Query, description = "`days` when absent."),
        ("dir" = Option<docs::Direction>, Query, description = "`desc` for days when absent, else `asc`."),
        ("page" = Option<i64>, Query, description = "Page number from 1 (smaller means 1)."),
    ),
    responses(
        (status = 200, description = "A page of seats.", body = docs::InactiveSeats),
        (status = "4XX", description = "Not signed in, or a bad filter.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("report_token" = []), ("console_session" = []))
)]
#[allow(dead_code)]
fn inactive_seats() {}

/// Daily counts over 3, 6 or 12 months.
#[utoipa::path(
    get, path = "/api/v1/reports/trends", tag = "reports",
    params(
        ("source" = Option<String>, Query, description = "A source id; all when absent."),
        ("months" = Option<i64>, Query, minimum = 0, maximum = 4294967295.0, description = "3, 6 or 12 (the default is 3); any other number is refused with 400."),
    ),
    responses(
        (status = 200, description = "One point per day.", body = docs::Trends),
        (status = "4XX", description = "Not signed in, or a bad request.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("report_token" = []), ("console_session" = []))
)]
#[allow(dead_code)]
fn trends() {}

/// Seat counts per department.
#[utoipa::path(
    get, path = "/api/v1/reports/departments", tag = "reports",
    params(("source" = Option<String>, Query, description = "A source id; all when absent.")),
    responses(
        (status = 200, description = "One row per department.", body = Vec<DepartmentRow>),
        (status = "4XX", description = "Not signed in, or a bad request.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("report_token" = []), ("console_session" = []))
)]
#[allow(dead_code)]
fn departments() {}

/// Data-quality findings.
#[utoipa::path(
    get, path = "/api/v1/reports/data-quality", tag = "reports",
    params(
        ("source" = Option<String>, Query, description = "A source id; all when absent."),
        ("kind" = Option<String>, Query, description = "A finding kind."),
    ),
    responses(
        (status = 200, description = "Counts and findings.", body = docs::DataQuality),
        (status = "4XX", description = "Not signed in, or a bad request.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("report_token" = []), ("console_session" = []))
)]
#[allow(dead_code)]
fn data_quality() {}

/// Sources and agents.
#[utoipa::path(
    get, path = "/api/v1/reports/sources", tag = "reports",
    responses(
        (status = 200, description = "Sources with health; agents with their sources.", body = docs::Sources),
        (status = "4XX", description = "Not signed in, or a bad request.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("report_token" = []), ("console_session" = []))
)]
#[allow(dead_code)]
fn sources() {}

/// Licence figures per organisation.
#[utoipa::path(
    get, path = "/api/v1/reports/licences", tag = "reports",
    responses(
        (status = 200, description = "Per organisation.", body = docs::Licences),
        (status = "4XX", description = "Not signed in, or a bad request.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("report_token" = []), ("console_session" = []))
)]
#[allow(dead_code)]
fn licences() {}

/// Applications and their pools per organisation.
#[utoipa::path(
    get, path = "/api/v1/reports/applications", tag = "reports",
    responses(
        (status = 200, description = "Per organisation.", body = docs::Applications),
        (status = "4XX", description = "Not signed in, or a bad request.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("report_token" = []), ("console_session" = []))
)]
#[allow(dead_code)]
fn applications() {}

/// Reclaimable licence seats.
#[utoipa::path(
    get, path = "/api/v1/reports/reclaim", tag = "reports",
    params(
        ("application" = Option<String>, Query, description = "An application name."),
        ("state" = Option<docs::ReclaimState>, Query, description = "All reclaimable states when absent."),
        ("department" = Option<String>, Query, description = "A department."),
        ("manager" = Option<String>, Query, description = "A manager's person id."),
        ("sort" = Option<docs::ReclaimSort>, Query, description = "`days` when absent."),
        ("dir" = Option<docs::Direction>, Query),
    ),
    responses(
        (status = 200, description = "Every matching seat.", body = docs::Reclaim),
        (status = "4XX", description = "Not signed in, or a bad filter.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("report_token" = []), ("console_session" = []))
)]
#[allow(dead_code)]
fn reclaim() {}

/// One person or account and their licences.
#[utoipa::path(
    get, path = "/api/v1/reports/people/{id}", tag = "reports",
    params(("id" = String, Path, description = "An HR person id or an application account id.")),
    responses(
        (status = 200, description = "The person.", body = docs::Person),
        (status = "4XX", description = "Not signed in, or no such person.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("report_token" = []), ("console_session" = []))
)]
#[allow(dead_code)]
fn person() {}

/// Licence and HR changes in the last days.
#[utoipa::path(
    get, path = "/api/v1/reports/changes", tag = "reports",
    params(("days" = Option<String>, Query, pattern = "^(|[1-9]|[1-9][0-9]|[12][0-9]{2}|3[0-5][0-9]|36[0-6])$", description = "Whole days from 1 to 366; 30 when empty or absent.")),
    responses(
        (status = 200, description = "The changes.", body = docs::Changes),
        (status = "4XX", description = "Not signed in, or a bad number of days.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("report_token" = []), ("console_session" = []))
)]
#[allow(dead_code)]
fn changes() {}

/// Exclusion rules.
#[utoipa::path(
    get, path = "/api/v1/reports/exclusions", tag = "reports",
    responses(
        (status = 200, description = "The rules.", body = docs::Exclusions),
        (status = "4XX", description = "Not signed in, or a bad request.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("report_token" = []), ("console_session" = []))
)]
#[allow(dead_code)]
fn exclusions() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_1_with_both_apis() {
        let doc: serde_json::Value = serde_json::from_str(&document_json()).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        assert!(doc["paths"]["/api/agent/v1/enroll"]["post"].is_object());
        assert!(doc["paths"]["/api/v1/reports/overview"]["get"].is_object());
        // Wire enums are open strings that name their known values.
        let kind = &doc["components"]["schemas"]["SourceKind"];
        assert_eq!(kind["type"], "string", "{kind}");
        assert!(kind["description"].as_str().unwrap().contains("`entra_id`"));
        // Secrets are plain strings on the wire.
        let enroll = &doc["components"]["schemas"]["EnrollRequest"];
        assert!(
            enroll["required"]
                .as_array()
                .unwrap()
                .contains(&"enrollment_token".into())
        );
    }
}
