//! Template structs: one per page, each with the shared [`Layout`].

use askama::Template;
use chrono::NaiveDate;

use crate::auth::SessionUser;
use crate::reports::model::{
    AgentRow, DepartmentRow, FindingCount, FindingRow, OverviewRow, SeatFilter, SeatFilterChoices,
    SeatRow, TrendPoint, UserRow,
};

/// What the frame of every page needs.
#[derive(Debug)]
pub(crate) struct Layout {
    pub(crate) page: &'static str,
    pub(crate) username: String,
    pub(crate) role: &'static str,
    pub(crate) is_admin: bool,
    pub(crate) csrf: String,
    pub(crate) notice: Option<String>,
    /// Agents waiting for a decision: the badge on Approvals.
    pub(crate) pending: i64,
}

impl Layout {
    pub(crate) fn new(page: &'static str, user: &SessionUser) -> Self {
        Self {
            page,
            username: user.username.clone(),
            role: user.role.as_str(),
            is_admin: user.role.is_admin(),
            csrf: user.csrf.clone(),
            notice: None,
            pending: user.pending_approvals,
        }
    }

    /// The current page is one of those under the navigation's "More" menu.
    pub(crate) fn in_more(&self) -> bool {
        matches!(
            self.page,
            "sources" | "exclusions" | "tokens" | "report-tokens" | "users" | "email" | "audit"
        )
    }

    pub(crate) fn with_notice(mut self, notice: Option<String>) -> Self {
        self.notice = notice;
        self
    }
}

#[derive(Template)]
#[template(path = "login.html")]
pub(crate) struct LoginPage {
    pub(crate) csrf: String,
    /// The local page to return to after logging in (already checked), or empty.
    pub(crate) next: String,
    pub(crate) username: String,
    pub(crate) error: Option<String>,
    /// The single sign-on button's provider name, when single sign-on is configured.
    pub(crate) sso: Option<String>,
    /// Whether every local user signs in with a password (else only the break-glass admin).
    pub(crate) passwords_on: bool,
}

#[derive(Template)]
#[template(path = "message.html")]
pub(crate) struct MessagePage {
    pub(crate) layout: Layout,
    pub(crate) title: String,
    pub(crate) message: String,
    pub(crate) back: String,
}

/// A source row with its display strings.
#[derive(Debug)]
pub(crate) struct SourceView {
    pub(crate) row: OverviewRow,
    pub(crate) health: &'static str,
    pub(crate) health_class: &'static str,
    pub(crate) note: Option<String>,
    pub(crate) utilisation: String,
    pub(crate) last_upload: String,
    pub(crate) as_of: String,
    pub(crate) interval: String,
}

#[derive(Template)]
#[template(path = "overview.html")]
pub(crate) struct OverviewPage {
    pub(crate) layout: Layout,
    /// Licence figures per organisation, shown first.
    pub(crate) orgs: Vec<super::licences::OrgView>,
    /// Licence changes over the last 30 days, in one sentence.
    pub(crate) deltas: String,
    pub(crate) rows: Vec<SourceView>,
    /// A source has seats only the never-verified rule makes inactive.
    pub(crate) any_never_verified: bool,
    /// [`crate::reports::NEVER_VERIFIED_MEANING`].
    pub(crate) never_verified_meaning: &'static str,
}

#[derive(Template)]
#[template(path = "approvals.html")]
pub(crate) struct ApprovalsPage {
    pub(crate) layout: Layout,
    pub(crate) agents: Vec<AgentRow>,
    /// (id, name): where an application source can be approved into.
    pub(crate) organisations: Vec<(String, String)>,
}

/// An agent's new credential, shown once after rotation.
#[derive(Template)]
#[template(path = "credential.html")]
pub(crate) struct CredentialPage {
    pub(crate) layout: Layout,
    pub(crate) agent_id: String,
    pub(crate) credential: String,
}

/// A sortable column header.
#[derive(Debug)]
pub(crate) struct Column {
    pub(crate) label: &'static str,
    pub(crate) href: String,
    pub(crate) indicator: &'static str,
    pub(crate) numeric: bool,
}

#[derive(Template)]
#[template(path = "seats.html")]
pub(crate) struct SeatsPage {
    pub(crate) layout: Layout,
    pub(crate) filter: SeatFilter,
    pub(crate) choices: SeatFilterChoices,
    /// (value, label, selected)
    pub(crate) states: Vec<(&'static str, &'static str, bool)>,
    pub(crate) columns: Vec<Column>,
    pub(crate) rows: Vec<SeatRow>,
    pub(crate) total: i64,
    pub(crate) first: i64,
    pub(crate) last: i64,
    pub(crate) any_stale: bool,
    /// A row's reason is `never_verified`: the page explains the heuristic.
    pub(crate) any_never_verified: bool,
    /// [`crate::reports::NEVER_VERIFIED_MEANING`].
    pub(crate) never_verified_meaning: &'static str,
    pub(crate) csv_href: String,
    pub(crate) prev_href: Option<String>,
    pub(crate) next_href: Option<String>,
}

#[derive(Template)]
#[template(path = "trends.html")]
pub(crate) struct TrendsPage {
    pub(crate) layout: Layout,
    pub(crate) sources: Vec<(String, String)>,
    pub(crate) source: String,
    pub(crate) months: u32,
    pub(crate) svg: String,
    /// The first day of the uploaded daily counts in the period.
    pub(crate) first_upload: Option<String>,
    /// The reconstructed headcount chart, when any HR person has a start date.
    pub(crate) headcount_svg: Option<String>,
    pub(crate) headcount_now: Option<i64>,
    pub(crate) reconstructed_meaning: &'static str,
    /// The licence history chart and its first day, after an application upload.
    pub(crate) licence_svg: Option<String>,
    pub(crate) licence_first: Option<String>,
    pub(crate) recent: Vec<TrendPoint>,
    pub(crate) csv_href: String,
}

#[derive(Debug)]
pub(crate) struct DepartmentView {
    pub(crate) row: DepartmentRow,
    pub(crate) utilisation: String,
    pub(crate) href_department: String,
}

#[derive(Template)]
#[template(path = "departments.html")]
pub(crate) struct DepartmentsPage {
    pub(crate) layout: Layout,
    pub(crate) sources: Vec<(String, String)>,
    pub(crate) source: String,
    pub(crate) rows: Vec<DepartmentView>,
}

#[derive(Template)]
#[template(path = "data_quality.html")]
pub(crate) struct DataQualityPage {
    pub(crate) layout: Layout,
    pub(crate) counts: Vec<FindingCount>,
    pub(crate) kind: String,
    pub(crate) kind_label: String,
    pub(crate) rows: Vec<FindingRow>,
}

#[derive(Debug)]
pub(crate) struct AgentView {
    pub(crate) row: AgentRow,
    pub(crate) last_heartbeat: String,
    pub(crate) spool: String,
    /// Incomplete snapshots held, against the cap.
    pub(crate) incomplete: String,
    /// What the expiry job dropped.
    pub(crate) expired: String,
}

#[derive(Template)]
#[template(path = "sources.html")]
pub(crate) struct SourcesPage {
    pub(crate) layout: Layout,
    pub(crate) sources: Vec<SourceView>,
    pub(crate) agents: Vec<AgentView>,
    pub(crate) incomplete_limits: String,
}

#[derive(Debug)]
pub(crate) struct TokenView {
    pub(crate) row: crate::store::EnrollmentTokenRecord,
    pub(crate) status: &'static str,
    pub(crate) created: String,
    pub(crate) expires: String,
    pub(crate) uses: String,
}

#[derive(Template)]
#[template(path = "tokens.html")]
pub(crate) struct TokensPage {
    pub(crate) layout: Layout,
    pub(crate) created: Option<String>,
    pub(crate) tokens: Vec<TokenView>,
}

#[derive(Debug)]
pub(crate) struct ReportTokenView {
    pub(crate) row: crate::store::ReportTokenRecord,
    pub(crate) status: &'static str,
    pub(crate) created: String,
    pub(crate) expires: String,
    pub(crate) last_used: String,
}

#[derive(Template)]
#[template(path = "report_tokens.html")]
pub(crate) struct ReportTokensPage {
    pub(crate) layout: Layout,
    pub(crate) created: Option<String>,
    pub(crate) tokens: Vec<ReportTokenView>,
}

#[derive(Template)]
#[template(path = "users.html")]
pub(crate) struct UsersPage {
    pub(crate) layout: Layout,
    pub(crate) users: Vec<UserRow>,
    pub(crate) min_len: usize,
}

#[derive(Template)]
#[template(path = "audit.html")]
pub(crate) struct AuditPage {
    pub(crate) layout: Layout,
    pub(crate) entries: Vec<super::admin::AuditView>,
    pub(crate) limit: i64,
}

/// A date for display, or a dash.
pub(crate) fn date_or_dash(date: Option<NaiveDate>) -> String {
    date.map(|d| d.to_string())
        .unwrap_or_else(|| "–".to_owned())
}
