//! Seat-list CSV files of an application without an API, generated from a seeded Humaans
//! company, with their ground truth.
//!
//! The header is `application,account,email,licence,status,last_active,assigned_at`. Rows
//! mix what spreadsheets export: quoted fields containing commas, ISO 8601 date-times and
//! plain `YYYY-MM-DD` dates, `status` spellings in any case (and empty for active), empty
//! licences (the application's one seat type), empty `last_active` (never used).
//! [`SeatListOptions::bom`] and [`SeatListOptions::crlf`] give the byte-level variants.
//!
//! ```
//! use humaans_sim::{Company, CompanySpec};
//! use humaans_sim::seat_list::{SeatList, SeatListOptions};
//!
//! let spec = CompanySpec::new(200, 7, chrono::NaiveDate::from_ymd_opt(2026, 3, 15).unwrap());
//! let company = Company::generate(&spec).unwrap();
//! let list = SeatList::plant(&company, "Slack");
//! let csv = list.csv(&SeatListOptions::default());
//! assert!(csv.starts_with("application,account,email,licence,status,last_active,assigned_at\n"));
//! let truth = list.truth(&company); // kind "seat_list", plus `joined`
//! assert_eq!(truth.accounts.total, list.rows().len() as u64);
//! ```

use std::collections::{BTreeMap, HashSet};

use chrono::{NaiveDate, TimeDelta};

use crate::accounts::dates::{self, BOUNDARY_CASES, Planted};
use crate::accounts::truth::count;
use crate::accounts::{AccountPlan, Activity, FreshAddresses, HrAddresses, Owner, Stamp};
use crate::company::{Category, Company, CompanySpec, SeatState, SpecError};
use crate::rng::Rng;

pub use crate::accounts::{
    AccountCounts, AccountTotals, AppTruth, Joined, JoinedCounts, JoinedPool, Pool,
};

const STREAM_SEAT: u64 = 0x5345_4154_0000_0000;
const STREAM_SEAT_EXTRA: u64 = 0x5345_4154_0001_0000;

/// Header of every seat list.
pub const HEADER: &str = "application,account,email,licence,status,last_active,assigned_at";

/// How the CSV bytes look.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeatListOptions {
    /// Start with a UTF-8 byte order mark, as Excel writes.
    pub bom: bool,
    /// End lines with CRLF instead of LF.
    pub crlf: bool,
}

/// One row, cells as they are written (before CSV quoting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatRow {
    pub application: String,
    pub account: String,
    pub email: String,
    pub licence: String,
    pub status: String,
    pub last_active: String,
    pub assigned_at: String,
}

/// A planted seat list of one application.
#[derive(Debug, Clone)]
pub struct SeatList {
    app: String,
    rows: Vec<SeatRow>,
    plans: Vec<AccountPlan>,
    /// Sorted by id: `(id, name)`.
    pools: Vec<(String, String)>,
}

/// Licence tiers and their weights (per cent); "" is the application's one seat type.
const TIERS: [(&str, u64); 4] = [
    ("", 30),
    ("Pro", 35),
    ("Business+, annual", 20),
    ("Enterprise", 15),
];
const ACTIVE_SPELLINGS: [&str; 4] = ["active", "Active", "ACTIVE", ""];
const DISABLED_SPELLINGS: [&str; 5] = [
    "disabled",
    "Deactivated",
    "SUSPENDED",
    "inactive",
    "Disabled",
];
const SERVICES: [&str; 4] = ["ci", "backup", "alerts", "billing"];
const OUTSIDERS: [&str; 4] = ["freelancer", "agency", "consultant", "former"];
const OUTSIDE_DOMAINS: [&str; 2] = ["freelance-mail.example", "agency-partners.example"];

/// FNV-1a: a stable number for the application name, so every application gets its own
/// accounts.
fn app_key(app: &str) -> u64 {
    app.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn days(n: i64) -> TimeDelta {
    TimeDelta::days(n)
}

/// A stamp as a seat-list cell: date-time in one of the ISO 8601 forms, or a plain date.
fn cell(stamp: Stamp, rng: &mut Rng) -> String {
    match rng.below(10) {
        0..5 => stamp.iso(),
        5..9 => stamp.date.to_string(),
        _ => stamp.iso().replace('Z', ".000+00:00"),
    }
}

fn seat_holder(category: Category, start: Option<NaiveDate>, d: NaiveDate, rng: &mut Rng) -> bool {
    let has_account = match category {
        Category::NewHire | Category::ActiveFutureStart => start.is_some_and(|s| s <= d + days(14)),
        Category::OffboardedRecent => rng.chance(600),
        Category::OffboardedOld => rng.chance(100),
        _ => true,
    };
    has_account && rng.chance(650)
}

impl SeatList {
    /// Plants the seat list of application `app` for `company`.
    pub fn plant(company: &Company, app: &str) -> SeatList {
        let spec = company.spec();
        let d = spec.as_of;
        let key = app_key(app);
        let hr = HrAddresses::of(company);
        let mut fresh = FreshAddresses::default();
        let mut accounts_seen = HashSet::new();
        let mut boundaries = 0..BOUNDARY_CASES;
        let mut rows = Vec::new();
        let mut plans = Vec::new();
        let mut tiers = Vec::new();

        for (p, person) in company.people().iter().enumerate() {
            let mut r = Rng::derive(spec.seed ^ key, STREAM_SEAT + p as u64);
            let Some(work) = hr.unique_address(person) else {
                continue;
            };
            if !seat_holder(person.category, person.employment_start_date, d, &mut r) {
                continue;
            }
            let enabled = if matches!(
                person.category,
                Category::OffboardedRecent | Category::OffboardedOld
            ) {
                !r.chance(400)
            } else {
                !r.chance(40)
            };
            let pre_hire = person.category.state() == SeatState::PreHire;
            let activity = match (pre_hire, r.chance(700)) {
                (true, true) => Activity::Grace,
                (true, false) => Activity::Recent,
                (false, _) => dates::pick_activity(&mut r),
            };
            let boundary = if enabled && !pre_hire {
                boundaries.next()
            } else {
                None
            };
            let planted = match boundary {
                Some(k) => dates::boundary(k, d, &mut r),
                None => dates::planted(activity, d, &mut r),
            };
            let local = work.split('@').next().unwrap_or_default().to_owned();
            let comma = format!("{}, {}", person.last_name, person.first_name);
            let (account, email) = match r.below(100) {
                0..45 => (local, work.clone()),
                45..60 if accounts_seen.insert(comma.clone()) => (comma, work.to_uppercase()),
                45..60 => (local, work.clone()),
                60..90 => (work.clone(), work.clone()),
                _ => (capitalise_first(&work), String::new()),
            };
            let row = Self::row(app, account, email, enabled, &planted, &mut r);
            tiers.push(row.licence.clone());
            rows.push(row);
            plans.push(AccountPlan {
                owner: Owner::Person(p),
                enabled,
                activity: planted.activity,
                licences: vec![],
            });
        }

        let n = company.people().len();
        let services = (n / 200).max(1);
        let outsiders = (n / 100).max(2);
        for k in 0..services + outsiders {
            let mut r = Rng::derive(spec.seed ^ key, STREAM_SEAT_EXTRA + k as u64);
            let service = k < services;
            let enabled = service || !r.chance(150);
            let planted = dates::planted(dates::pick_activity(&mut r), d, &mut r);
            let (account, email) = if service {
                let local = format!("svc-{}", SERVICES[k % SERVICES.len()]);
                let address = fresh.take(&hr, &local, company.domain());
                (address.clone(), address)
            } else {
                let local = format!("{}.{}", *r.pick(&OUTSIDERS), r.id(4).to_lowercase());
                let domain = r.word(&OUTSIDE_DOMAINS);
                let address = fresh.take(&hr, &local, domain);
                (local, address)
            };
            let row = Self::row(app, account, email, enabled, &planted, &mut r);
            tiers.push(row.licence.clone());
            rows.push(row);
            plans.push(AccountPlan {
                owner: if service {
                    Owner::Service
                } else {
                    Owner::Unknown
                },
                enabled,
                activity: planted.activity,
                licences: vec![],
            });
        }

        // Pools by (application, licence), sorted by id; each row holds one.
        let mut by_id: BTreeMap<String, String> = BTreeMap::new();
        let pool_of = |tier: &str| {
            let name = if tier.is_empty() { app } else { tier };
            (format!("{app}/{name}"), name.to_owned())
        };
        for tier in &tiers {
            let (id, name) = pool_of(tier);
            by_id.insert(id, name);
        }
        let pools: Vec<(String, String)> = by_id.into_iter().collect();
        for (plan, tier) in plans.iter_mut().zip(&tiers) {
            let (id, _) = pool_of(tier);
            plan.licences = vec![pools.partition_point(|(p, _)| *p < id)];
        }
        SeatList {
            app: app.to_owned(),
            rows,
            plans,
            pools,
        }
    }

    fn row(
        app: &str,
        account: String,
        email: String,
        enabled: bool,
        planted: &Planted,
        r: &mut Rng,
    ) -> SeatRow {
        let roll = r.below(100);
        let mut acc = 0;
        let licence = TIERS
            .iter()
            .find(|(_, weight)| {
                acc += weight;
                roll < acc
            })
            .map_or("", |(tier, _)| tier);
        let status = if enabled {
            *r.pick(&ACTIVE_SPELLINGS)
        } else {
            *r.pick(&DISABLED_SPELLINGS)
        };
        let last_active = planted.last.map(|s| cell(s, r)).unwrap_or_default();
        // The assignment date is the grace start; it may be missing except where the
        // planted grace period depends on it.
        let assigned_known = match planted.activity {
            Activity::Grace => true,
            Activity::Never => !r.chance(200),
            Activity::Recent | Activity::Idle => !r.chance(200),
        };
        let assigned_at = if assigned_known {
            cell(planted.start, r)
        } else {
            String::new()
        };
        SeatRow {
            application: app.to_owned(),
            account,
            email,
            licence: licence.to_owned(),
            status: status.to_owned(),
            last_active,
            assigned_at,
        }
    }

    pub fn app(&self) -> &str {
        &self.app
    }

    pub fn rows(&self) -> &[SeatRow] {
        &self.rows
    }

    /// The file: header and one line per row.
    pub fn csv(&self, options: &SeatListOptions) -> String {
        let eol = if options.crlf { "\r\n" } else { "\n" };
        let mut out = String::with_capacity(64 + self.rows.len() * 120);
        if options.bom {
            out.push('\u{feff}');
        }
        out.push_str(HEADER);
        out.push_str(eol);
        for row in &self.rows {
            let cells = [
                &row.application,
                &row.account,
                &row.email,
                &row.licence,
                &row.status,
                &row.last_active,
                &row.assigned_at,
            ];
            for (k, cell) in cells.into_iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                quote(&mut out, cell);
            }
            out.push_str(eol);
        }
        out
    }

    /// The truth of this list, counted from the plantings: kind `seat_list`, one pool per
    /// licence (purchased and unassigned unknown), and `joined` with `company`.
    pub fn truth(&self, company: &Company) -> AppTruth {
        self.truth_with_purchased(company, &BTreeMap::new())
    }

    /// As [`SeatList::truth`] for a source configured with `purchased: {"<licence name>": N}`
    /// (the application's name for its one seat type).
    pub fn truth_with_purchased(
        &self,
        company: &Company,
        purchased: &BTreeMap<String, u64>,
    ) -> AppTruth {
        let mut assigned = vec![0u64; self.pools.len()];
        for plan in &self.plans {
            for &l in &plan.licences {
                assigned[l] += 1;
            }
        }
        let pools = self
            .pools
            .iter()
            .zip(assigned)
            .map(|((id, name), assigned)| {
                let bought = purchased.get(name).copied();
                Pool {
                    id: id.clone(),
                    name: name.clone(),
                    purchased: bought,
                    assigned,
                    unassigned: bought.map(|n| n.saturating_sub(assigned)),
                }
            })
            .collect();
        count(
            "seat_list",
            company.spec().as_of,
            true,
            &self.plans,
            pools,
            company,
        )
    }
}

fn capitalise_first(address: &str) -> String {
    let mut chars = address.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// A CSV cell, quoted when it holds a comma, a quote, a line break or edge spaces.
fn quote(out: &mut String, cell: &str) {
    let needs = cell.contains([',', '"', '\r', '\n']) || cell.trim() != cell;
    if needs {
        out.push('"');
        out.push_str(&cell.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(cell);
    }
}

/// The seat-list CSV of `app` for the company `spec` describes.
pub fn csv(spec: &CompanySpec, app: &str, options: &SeatListOptions) -> Result<String, SpecError> {
    let company = Company::generate(spec)?;
    Ok(SeatList::plant(&company, app).csv(options))
}

/// The truth of [`csv`]'s list; `purchased` as in [`SeatList::truth_with_purchased`].
pub fn truth(
    spec: &CompanySpec,
    app: &str,
    purchased: &BTreeMap<String, u64>,
) -> Result<AppTruth, SpecError> {
    let company = Company::generate(spec)?;
    Ok(SeatList::plant(&company, app).truth_with_purchased(&company, purchased))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_where_needed() {
        let mut out = String::new();
        for cell in ["plain", "Doe, Jane", "say \"hi\"", " padded", ""] {
            quote(&mut out, cell);
            out.push('|');
        }
        assert_eq!(out, "plain|\"Doe, Jane\"|\"say \"\"hi\"\"\"|\" padded\"||");
    }

    #[test]
    fn tier_weights_sum_to_100() {
        assert_eq!(TIERS.iter().map(|(_, w)| w).sum::<u64>(), 100);
    }
}
