//! The seeded synthetic company: who works there, in which category, with which records.
//!
//! Generation decides each person's [`Category`] first, then builds the record relative to
//! the as-of date so that the seat-state rules put the person in that category. The truth
//! ([`Truth`]) is counted from the categories, never by running the rules.

mod category;
pub(crate) mod names;
mod record;
mod truth;

use std::collections::HashMap;

use chrono::{NaiveDate, TimeDelta};

pub use self::category::{Category, ExpectedSeat, Finding, SeatReason, SeatState};
pub(crate) use self::record::PRIVATE_NULLS;
use self::record::{PersonFacts, RoleFacts};
pub use self::truth::{FindingCounts, InactiveReasons, StateCounts, Truth};
use crate::rng::Rng;

/// What company to generate. The same spec always gives the same company.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanySpec {
    /// Number of people, 1 to [`CompanySpec::MAX_PEOPLE`].
    pub people: usize,
    pub seed: u64,
    /// The "today" the records are built around.
    pub as_of: NaiveDate,
    /// Share of people with an unknown status value, per mille (0 to 200).
    pub unknown_status_permille: u32,
}

impl CompanySpec {
    pub const MAX_PEOPLE: usize = 2_000_000;
    pub const MAX_UNKNOWN_STATUS_PERMILLE: u32 = 200;

    pub fn new(people: usize, seed: u64, as_of: NaiveDate) -> Self {
        Self {
            people,
            seed,
            as_of,
            unknown_status_permille: 10,
        }
    }

    pub fn validate(&self) -> Result<(), SpecError> {
        if self.people == 0 || self.people > Self::MAX_PEOPLE {
            return Err(SpecError::People {
                people: self.people,
            });
        }
        if self.unknown_status_permille > Self::MAX_UNKNOWN_STATUS_PERMILLE {
            return Err(SpecError::UnknownStatusShare {
                permille: self.unknown_status_permille,
            });
        }
        Ok(())
    }
}

impl Default for CompanySpec {
    fn default() -> Self {
        Self::new(100, 1, chrono::Utc::now().date_naive())
    }
}

/// A company spec that cannot be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error(
        "cannot generate a company of {people} people: choose between 1 and {max} (--people)",
        max = CompanySpec::MAX_PEOPLE
    )]
    People { people: usize },
    #[error(
        "unknown-status share of {permille} per mille is too large: choose at most {max} (--unknown-status-permille)",
        max = CompanySpec::MAX_UNKNOWN_STATUS_PERMILLE
    )]
    UnknownStatusShare { permille: u32 },
}

/// One generated person: the facts the seat engine needs, what was planted, and the
/// pre-rendered JSON.
#[derive(Debug, Clone)]
pub struct PlantedPerson {
    pub id: String,
    pub category: Category,
    /// The seat the engine must compute under the default policy.
    pub expected: ExpectedSeat,
    /// The `status` value sent (`None` is sent as `null`).
    pub status: Option<String>,
    pub first_name: String,
    pub last_name: String,
    /// Work email exactly as sent (planted duplicates differ in case and whitespace).
    pub email: Option<String>,
    pub employment_start_date: Option<NaiveDate>,
    pub employment_end_date: Option<NaiveDate>,
    pub is_verified: Option<bool>,
    /// Id of the job role current at the as-of date, if any.
    pub current_job_role: Option<String>,
    /// `reportingTo` of the current job role.
    pub manager_id: Option<String>,
    /// Findings the engine must report for this person (empty for offboarded people).
    pub findings: Vec<Finding>,
    pub(crate) public_json: Box<str>,
    pub(crate) private_json: Box<str>,
}

impl PlantedPerson {
    /// The full JSON object, as a token with `private:read` receives it.
    pub fn json(&self) -> String {
        format!("{{{},{}}}", self.public_json, self.private_json)
    }
}

/// One generated job role period.
#[derive(Debug, Clone)]
pub struct PlantedJobRole {
    pub id: String,
    pub person_id: String,
    pub job_title: String,
    pub department: String,
    pub effective_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub reporting_to: Option<String>,
    pub(crate) json: Box<str>,
}

impl PlantedJobRole {
    pub fn json(&self) -> &str {
        &self.json
    }
}

/// A generated company. People and job roles are kept in the order the API serves them
/// (sorted by id: stable, and unrelated to any field a client could rely on).
#[derive(Debug)]
pub struct Company {
    spec: CompanySpec,
    id: String,
    name: String,
    domain: String,
    created_at: String,
    people: Vec<PlantedPerson>,
    job_roles: Vec<PlantedJobRole>,
    person_pos: HashMap<Box<str>, u32>,
    role_pos: HashMap<Box<str>, u32>,
    roles_by_person: Vec<Vec<u32>>,
    owner_full: u32,
    owner_public: u32,
    truth: Truth,
}

impl Company {
    /// Generates the company `spec` describes. Takes about a second per 100,000 people in
    /// a release build.
    pub fn generate(spec: &CompanySpec) -> Result<Company, SpecError> {
        spec.validate()?;
        Ok(generate(spec))
    }

    pub fn spec(&self) -> &CompanySpec {
        &self.spec
    }
    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The email domain (under the reserved `.example` TLD).
    pub fn domain(&self) -> &str {
        &self.domain
    }
    /// Everyone, in the order `/api/people` serves them.
    pub fn people(&self) -> &[PlantedPerson] {
        &self.people
    }
    /// Every job role, in the order `/api/job-roles` serves them.
    pub fn job_roles(&self) -> &[PlantedJobRole] {
        &self.job_roles
    }
    pub fn person(&self, id: &str) -> Option<&PlantedPerson> {
        self.person_pos.get(id).map(|&p| &self.people[p as usize])
    }
    pub fn job_role(&self, id: &str) -> Option<&PlantedJobRole> {
        self.role_pos.get(id).map(|&p| &self.job_roles[p as usize])
    }
    /// A person's job roles, sorted by role id.
    pub fn job_roles_of(&self, person_id: &str) -> impl Iterator<Item = &PlantedJobRole> {
        self.person_pos
            .get(person_id)
            .map(|&p| self.roles_by_person[p as usize].as_slice())
            .unwrap_or_default()
            .iter()
            .map(|&r| &self.job_roles[r as usize])
    }
    /// The counts the agent's engine must reproduce under the default policy.
    pub fn truth(&self) -> &Truth {
        &self.truth
    }
    /// The person who owns the full-access token (the top of the hierarchy).
    pub fn full_token_owner(&self) -> &PlantedPerson {
        &self.people[self.owner_full as usize]
    }
    /// The person who owns the public-only token (an active person).
    pub fn public_token_owner(&self) -> &PlantedPerson {
        &self.people[self.owner_public as usize]
    }

    /// The `/api/companies/:id` object.
    pub fn company_json(&self) -> String {
        serde_json::json!({
            "id": self.id,
            "name": self.name,
            "domains": [self.domain],
            "trialEndDate": null,
            "status": "active",
            "paymentStatus": "ok",
            "package": "growth",
            "isTimesheetEnabled": false,
            "autogenerateEmployeeId": true,
            "createdAt": self.created_at,
            "updatedAt": self.created_at,
        })
        .to_string()
    }

    pub(crate) fn position(&self, person_id: &str) -> Option<usize> {
        self.person_pos.get(person_id).map(|&p| p as usize)
    }
    pub(crate) fn role_position(&self, role_id: &str) -> Option<usize> {
        self.role_pos.get(role_id).map(|&p| p as usize)
    }
    pub(crate) fn role_positions_of(&self, person_pos: usize) -> &[u32] {
        &self.roles_by_person[person_pos]
    }
    pub(crate) fn owner_positions(&self) -> (usize, usize) {
        (self.owner_full as usize, self.owner_public as usize)
    }
}

fn days(n: i64) -> TimeDelta {
    TimeDelta::days(n)
}

/// How many people of each category, then shuffled into generation order. Index 0 (the
/// top of the hierarchy) and index 1 (its first report) are always `Active`.
fn assign_categories(n: usize, unknown_permille: u32, rng: &mut Rng) -> Vec<Category> {
    let mut shares: Vec<(Category, u32)> = category::SHARES_PERMILLE.to_vec();
    if unknown_permille > 0 {
        shares.push((Category::UnknownStatus, unknown_permille));
    }
    let mut counts: Vec<(Category, usize)> = shares
        .iter()
        .map(|&(c, share)| {
            let exact = (n as u64 * u64::from(share) + 500) / 1000;
            (c, (exact as usize).max(1))
        })
        .collect();
    let others: usize = counts.iter().map(|&(_, k)| k).sum();
    let mut categories = Vec::with_capacity(n);
    if n >= others + 2 {
        categories.resize(n - others, Category::Active);
        for (c, k) in counts.drain(..) {
            categories.extend(std::iter::repeat_n(c, k));
        }
    } else {
        // Too small for every category: hand them out in a fixed order of interest.
        let order: Vec<Category> = category::SMALL_COMPANY_ORDER
            .into_iter()
            .filter(|&c| c != Category::UnknownStatus || unknown_permille > 0)
            .collect();
        categories.push(Category::Active);
        categories.extend((1..n).map(|i| order[i % order.len()]));
    }
    rng.shuffle(&mut categories);
    for slot in 0..n.min(2) {
        if categories[slot] != Category::Active {
            let other = categories[slot..]
                .iter()
                .position(|&c| c == Category::Active)
                .map(|p| p + slot);
            if let Some(other) = other {
                categories.swap(slot, other);
            }
        }
    }
    categories
}

struct RoleDraft {
    title: &'static str,
    department: &'static str,
    effective: Option<NaiveDate>,
    end: Option<NaiveDate>,
    reporting_to: Option<usize>,
}

struct Draft {
    category: Category,
    status: Option<&'static str>,
    first: &'static str,
    last: &'static str,
    email: Option<String>,
    start: Option<NaiveDate>,
    end: Option<NaiveDate>,
    verified: Option<bool>,
    roles: Vec<RoleDraft>,
    current: Option<usize>,
    duplicate_email: bool,
}

fn generate(spec: &CompanySpec) -> Company {
    let n = spec.people;
    let t = spec.as_of;
    let mut rng = Rng::derive(spec.seed, 0);
    let (company_name, domain) = *rng.pick(names::COMPANY_NAMES);
    let company_id = rng.id(24);
    let company_created = record::timestamp(t - days(rng.range(800, 2500)), &mut rng);
    let categories = assign_categories(
        n,
        spec.unknown_status_permille,
        &mut Rng::derive(spec.seed, 1),
    );
    let ids: Vec<String> = (0..n).map(|_| rng.id(24)).collect();

    // The hierarchy: the first `managers` people form a tree under person 0; everyone
    // else reports to one of them. Nobody reports to a person at index >= managers.
    let managers = (n / 8).max(1);
    let mut tree_rng = Rng::derive(spec.seed, 2);
    let mut manager_of: Vec<Option<usize>> = (0..n)
        .map(|i| match i {
            0 => None,
            i if i < managers => Some(tree_rng.below(i as u64) as usize),
            _ => Some(tree_rng.below(managers as u64) as usize),
        })
        .collect();
    // Most reports of a manager who left were moved up to the nearest manager still there;
    // the rest are the `manager_offboarded` plantings. Managers precede their reports, so
    // the walk up ends at person 0, who is always active.
    for i in 1..n {
        if let Some(mut m) = manager_of[i]
            && categories[m].is_offboarded()
            && tree_rng.chance(850)
        {
            while categories[m].is_offboarded() {
                m = manager_of[m].unwrap_or(0);
            }
            manager_of[i] = Some(m);
        }
    }

    let mut email_counts: HashMap<(&'static str, &'static str), u32> = HashMap::new();
    let mut drafts: Vec<Draft> = Vec::with_capacity(n);
    let mut first_leaving = true;
    for (i, &category) in categories.iter().enumerate() {
        let mut r = Rng::derive(spec.seed, 1_000_000 + i as u64);
        let first = *r.pick(names::FIRST_NAMES);
        let last = *r.pick(names::LAST_NAMES);
        let count = email_counts.entry((first, last)).or_insert(0);
        *count += 1;
        let local = if *count == 1 {
            format!("{}.{}", first.to_lowercase(), last.to_lowercase())
        } else {
            format!("{}.{}{}", first.to_lowercase(), last.to_lowercase(), count)
        };
        let mut email = Some(format!("{local}@{domain}"));

        let mut status = Some("active");
        let mut verified = Some(true);
        let mut end = None;
        let start: Option<NaiveDate>;
        match category {
            Category::Active => {
                start = if i >= 2 && r.chance(8) {
                    None
                } else {
                    Some(t - days(r.range(60, 3650)))
                };
                if i >= 2 && r.chance(5) {
                    verified = None;
                }
            }
            Category::ActiveUnverifiedInGrace => {
                start = Some(t - days(r.range(0, 29)));
                verified = Some(false);
            }
            Category::NewHire => {
                status = Some("newHire");
                start = Some(if r.chance(100) {
                    t - days(r.range(0, 5))
                } else {
                    t + days(r.range(1, 90))
                });
                verified = Some(false);
                if r.chance(200) {
                    email = None;
                }
            }
            Category::ActiveFutureStart => {
                start = Some(t + days(r.range(1, 60)));
                verified = Some(false);
            }
            Category::Leaving => {
                start = Some(t - days(r.range(60, 3000)));
                end = Some(if first_leaving || r.chance(170) {
                    t
                } else {
                    t + days(r.range(0, 30))
                });
                first_leaving = false;
            }
            Category::EndedNotOffboarded => {
                let e = t - days(r.range(1, 400));
                end = Some(e);
                start = Some(if r.chance(150) {
                    // Data error planted on purpose: the end date is before the start.
                    e + days(r.range(1, (t - e).num_days().min(100)))
                } else {
                    e - days(r.range(90, 2500))
                });
                if r.chance(500) {
                    verified = Some(false);
                }
            }
            Category::NeverVerified => {
                start = Some(t - days(r.range(30, 1500)));
                verified = Some(false);
                if r.chance(100) {
                    // Rule order: never_verified wins over an end date in the window.
                    end = Some(t + days(r.range(0, 30)));
                }
            }
            Category::OffboardedRecent | Category::OffboardedOld => {
                status = Some("offboarded");
                let e = if category == Category::OffboardedRecent {
                    t - days(r.range(0, 90))
                } else {
                    t - days(r.range(91, 2000))
                };
                end = Some(e);
                start = Some(e - days(r.range(60, 2500)));
            }
            Category::UnknownStatus => {
                status = *r.pick(names::UNKNOWN_STATUSES);
                start = Some(t - days(r.range(60, 2000)));
            }
        }

        // Job-role history.
        let &(department, titles) = r.pick(names::DEPARTMENTS);
        let mut roles = Vec::new();
        let mut current = None;
        let plantable = i >= managers.max(2);
        let pre_hire = matches!(category, Category::NewHire | Category::ActiveFutureStart);
        if !(plantable && r.chance(15)) {
            let base = start.unwrap_or(t - days(400));
            let role = |title, effective, end, reporting_to| RoleDraft {
                title,
                department,
                effective: Some(effective),
                end,
                reporting_to,
            };
            if pre_hire {
                roles.push(role(*r.pick(titles), base, None, manager_of[i]));
            } else {
                let last_day = end.unwrap_or(t).min(t);
                let span = (last_day - base).num_days();
                if span > 365 && r.chance(300) {
                    let promoted = base + days(r.range(180, span));
                    let earlier_manager = (i > 0)
                        .then(|| r.below(managers as u64) as usize)
                        .filter(|&m| m != i);
                    roles.push(role(
                        *r.pick(titles),
                        base,
                        Some(promoted - days(1)),
                        earlier_manager,
                    ));
                    roles.push(role(*r.pick(titles), promoted, None, manager_of[i]));
                } else {
                    roles.push(role(*r.pick(titles), base, None, manager_of[i]));
                }
                if category.is_offboarded() {
                    roles.last_mut().expect("just pushed").end = end;
                } else if r.chance(40) {
                    let future = t + days(r.range(1, 90));
                    if r.chance(500) {
                        roles.last_mut().expect("just pushed").end = Some(future - days(1));
                    }
                    roles.push(role(*r.pick(titles), future, None, manager_of[i]));
                }
                if roles.len() == 1 && !category.is_offboarded() && r.chance(3) {
                    roles[0].effective = None;
                }
            }
            // Which role is current at t, by construction.
            current = roles.iter().rposition(|role| {
                role.effective.is_none_or(|e| e <= t) && role.end.is_none_or(|e| e >= t)
            });
            if plantable
                && r.chance(15)
                && let Some(c) = current
            {
                roles[c].reporting_to = None;
            }
        }

        // Duplicate work email with an earlier person (both must be findings-eligible).
        let mut duplicate_email = false;
        if i > 0 && !category.is_offboarded() && r.chance(5) {
            let j = r.below(i as u64) as usize;
            if !drafts[j].category.is_offboarded()
                && let Some(theirs) = drafts[j].email.clone()
            {
                email = Some(match r.below(3) {
                    0 => theirs.to_uppercase(),
                    1 => format!(" {theirs} "),
                    _ => {
                        let mut chars = theirs.chars();
                        chars
                            .next()
                            .map(|c| c.to_uppercase().chain(chars).collect())
                            .unwrap_or_default()
                    }
                });
                duplicate_email = true;
                drafts[j].duplicate_email = true;
            }
        }

        drafts.push(Draft {
            category,
            status,
            first,
            last,
            email,
            start,
            end,
            verified,
            roles,
            current,
            duplicate_email,
        });
    }

    // Who manages someone through a current role: the top of the hierarchy is excused
    // from the no_manager finding.
    let mut reports = vec![0u32; n];
    for d in &drafts {
        if let Some(m) = d.current.and_then(|c| d.roles[c].reporting_to) {
            reports[m] += 1;
        }
    }

    // Rendering is the expensive part and independent per person: spread it over threads.
    let context = RenderContext {
        spec,
        company_id: &company_id,
        ids: &ids,
        categories: &categories,
        reports: &reports,
    };
    let rendered = parallel_map(&drafts, |i, d| render(&context, i, d));

    let mut truth = Truth::default();
    let mut people = Vec::with_capacity(n);
    let mut job_roles = Vec::new();
    for (person, roles) in rendered {
        truth.add(person.category, &person.findings);
        let soon = t..=t + days(30);
        if person.expected.state == SeatState::PreHire
            && person
                .employment_start_date
                .is_some_and(|s| soon.contains(&s))
        {
            truth.pre_hires_starting_soon += 1;
        }
        let lookback = t - days(90)..=t;
        if person.category.is_offboarded()
            && person
                .employment_end_date
                .is_some_and(|e| lookback.contains(&e))
        {
            truth.recent_leavers += 1;
        }
        people.push(person);
        job_roles.extend(roles);
    }

    let owner_full_id = ids[0].clone();
    let owner_public_id = ids[n.min(2) - 1].clone();
    let people = sorted_by_id(people, |p| &p.id);
    let job_roles = sorted_by_id(job_roles, |r| &r.id);
    let person_pos: HashMap<Box<str>, u32> = people
        .iter()
        .enumerate()
        .map(|(p, person)| (person.id.clone().into_boxed_str(), p as u32))
        .collect();
    let role_pos: HashMap<Box<str>, u32> = job_roles
        .iter()
        .enumerate()
        .map(|(p, role)| (role.id.clone().into_boxed_str(), p as u32))
        .collect();
    let mut roles_by_person = vec![Vec::new(); n];
    for (p, role) in job_roles.iter().enumerate() {
        roles_by_person[person_pos[role.person_id.as_str()] as usize].push(p as u32);
    }
    Company {
        spec: spec.clone(),
        id: company_id,
        name: company_name.to_owned(),
        domain: domain.to_owned(),
        created_at: company_created,
        owner_full: person_pos[owner_full_id.as_str()],
        owner_public: person_pos[owner_public_id.as_str()],
        people,
        job_roles,
        person_pos,
        role_pos,
        roles_by_person,
        truth,
    }
}

struct RenderContext<'a> {
    spec: &'a CompanySpec,
    company_id: &'a str,
    ids: &'a [String],
    categories: &'a [Category],
    reports: &'a [u32],
}

/// Findings, expected seat and JSON of generation index `i`.
fn render(cx: &RenderContext<'_>, i: usize, d: &Draft) -> (PlantedPerson, Vec<PlantedJobRole>) {
    let t = cx.spec.as_of;
    let ids = cx.ids;
    let mut findings = Vec::new();
    if !d.category.is_offboarded() {
        match d.current.map(|c| &d.roles[c]) {
            None => findings.push(Finding::NoCurrentJobRole),
            Some(role) => match role.reporting_to {
                None if cx.reports[i] == 0 => findings.push(Finding::NoManager),
                Some(m) if cx.categories[m].is_offboarded() => {
                    findings.push(Finding::ManagerOffboarded);
                }
                _ => {}
            },
        }
        if d.start.is_none() {
            findings.push(Finding::NoStartDate);
        }
        if let (Some(s), Some(e)) = (d.start, d.end)
            && e < s
        {
            findings.push(Finding::EndBeforeStart);
        }
        if d.duplicate_email {
            findings.push(Finding::DuplicateWorkEmail);
        }
        findings.sort();
    }
    let since = match d.category {
        Category::NewHire | Category::ActiveFutureStart => d.start,
        Category::NeverVerified => d.start.map(|s| s + days(30)),
        Category::Leaving
        | Category::EndedNotOffboarded
        | Category::OffboardedRecent
        | Category::OffboardedOld => d.end,
        Category::Active | Category::ActiveUnverifiedInGrace | Category::UnknownStatus => None,
    };

    let mut r = Rng::derive(cx.spec.seed, 10_000_000 + i as u64);
    let facts = PersonFacts {
        id: &ids[i],
        company_id: cx.company_id,
        employee_number: i + 1,
        first_name: d.first,
        last_name: d.last,
        email: d.email.as_deref(),
        status: d.status,
        is_verified: d.verified,
        start: d.start,
        end: d.end,
        has_left: d.category.is_offboarded(),
        department: d.roles.first().map_or("Operations", |role| role.department),
        is_owner: i == 0,
        as_of: t,
    };
    let (public_json, private_json) = record::render_person(&facts, &mut r);

    let mut current_job_role = None;
    let mut roles = Vec::with_capacity(d.roles.len());
    for (k, role) in d.roles.iter().enumerate() {
        let role_id = r.id(24);
        let json = record::render_role(
            &RoleFacts {
                id: &role_id,
                company_id: cx.company_id,
                person_id: &ids[i],
                job_title: role.title,
                department: role.department,
                effective_date: role.effective,
                end_date: role.end,
                reporting_to: role.reporting_to.map(|m| ids[m].as_str()),
                as_of: t,
            },
            &mut r,
        );
        if d.current == Some(k) {
            current_job_role = Some(role_id.clone());
        }
        roles.push(PlantedJobRole {
            id: role_id,
            person_id: ids[i].clone(),
            job_title: role.title.to_owned(),
            department: role.department.to_owned(),
            effective_date: role.effective,
            end_date: role.end,
            reporting_to: role.reporting_to.map(|m| ids[m].clone()),
            json: json.into_boxed_str(),
        });
    }

    let person = PlantedPerson {
        id: ids[i].clone(),
        category: d.category,
        expected: ExpectedSeat {
            state: d.category.state(),
            reason: d.category.reason(),
            since,
        },
        status: d.status.map(str::to_owned),
        first_name: d.first.to_owned(),
        last_name: d.last.to_owned(),
        email: d.email.clone(),
        employment_start_date: d.start,
        employment_end_date: d.end,
        is_verified: d.verified,
        current_job_role,
        manager_id: d
            .current
            .and_then(|c| d.roles[c].reporting_to)
            .map(|m| ids[m].clone()),
        findings,
        public_json: public_json.into_boxed_str(),
        private_json: private_json.into_boxed_str(),
    };
    (person, roles)
}

/// `f` over every item, on up to 8 threads; results in input order. Each item's output
/// depends only on the item, so the result is the same whatever the thread count.
fn parallel_map<T: Sync, U: Send>(items: &[T], f: impl Fn(usize, &T) -> U + Sync) -> Vec<U> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    if threads == 1 || items.len() < 1_000 {
        return items
            .iter()
            .enumerate()
            .map(|(i, item)| f(i, item))
            .collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .enumerate()
            .map(|(c, part)| {
                scope.spawn(move || {
                    part.iter()
                        .enumerate()
                        .map(|(k, item)| f(c * chunk + k, item))
                        .collect::<Vec<U>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// Sorts by id through an index permutation, so the large records move once.
fn sorted_by_id<T>(items: Vec<T>, id: impl Fn(&T) -> &String) -> Vec<T> {
    let mut order: Vec<u32> = (0..items.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| id(&items[a as usize]).cmp(id(&items[b as usize])));
    let mut slots: Vec<Option<T>> = items.into_iter().map(Some).collect();
    order
        .into_iter()
        .map(|i| {
            slots[i as usize]
                .take()
                .expect("a permutation visits each slot once")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_map_keeps_input_order() {
        let items: Vec<u64> = (0..10_007).collect();
        let got = parallel_map(&items, |i, &x| (i as u64) * 3 + x);
        let want: Vec<u64> = items.iter().map(|&x| x * 4).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn sorted_by_id_sorts() {
        let ids: Vec<String> = ["b", "c", "a"].iter().map(|s| s.to_string()).collect();
        assert_eq!(sorted_by_id(ids, |s| s), ["a", "b", "c"]);
    }
}
