//! The Entra ID directory planted from a Humaans company: users (people with a work
//! account, service accounts, guests, members nobody in HR knows) and subscribed SKUs.
//!
//! Every user's [`AccountPlan`] is decided first; addresses and dates are then built so
//! that the join and the licence rules put the user where the plan says. Draws come from
//! their own RNG streams, so the Humaans company and its truth do not change.

use chrono::{NaiveDate, TimeDelta};

use crate::accounts::dates::{self, BOUNDARY_CASES, Planted};
use crate::accounts::{
    AccountPlan, Activity, AppTruth, FreshAddresses, HrAddresses, Owner, Pool, Stamp, Time,
};
use crate::company::{Category, Company};
use crate::rng::Rng;

/// RNG stream numbers of the directory (the company uses 0, 1, 2, 1e6+i, 1e7+i and two
/// token streams).
const STREAM_TENANT: u64 = 0x4752_4150_0000_0000;
const STREAM_PERSON: u64 = 0x4752_4150_0001_0000;
const STREAM_EXTRA: u64 = 0x4752_4150_0002_0000;
const STREAM_SKU: u64 = 0x4752_4150_0003_0000;

/// A subscribed SKU of the tenant.
#[derive(Debug, Clone)]
pub(crate) struct Sku {
    pub(crate) sku_id: &'static str,
    pub(crate) part_number: &'static str,
    pub(crate) enabled: u64,
    pub(crate) suspended: u64,
    pub(crate) warning: u64,
    pub(crate) capability_status: &'static str,
    pub(crate) service_plans: &'static [(&'static str, &'static str)],
    /// Users holding it (`consumedUnits`).
    pub(crate) consumed: u64,
}

/// What `signInActivity` holds.
#[derive(Debug, Clone)]
pub(crate) enum SignIn {
    /// `"signInActivity": null`.
    Null,
    /// The object; `None` members are `null`. Values may be year 1 (`0001-01-01T00:00:00Z`).
    Object {
        interactive: Option<String>,
        non_interactive: Option<String>,
        successful: Option<String>,
    },
}

/// One directory user with everything Graph serves about it.
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub(crate) id: String,
    pub(crate) display_name: String,
    pub(crate) given_name: Option<String>,
    pub(crate) surname: Option<String>,
    pub(crate) job_title: Option<String>,
    pub(crate) upn: String,
    pub(crate) mail: Option<String>,
    pub(crate) other_mails: Vec<String>,
    pub(crate) proxy_addresses: Vec<String>,
    pub(crate) enabled: bool,
    pub(crate) guest: bool,
    pub(crate) created: String,
    pub(crate) sign_in: SignIn,
    /// Indexes into [`Directory::skus`].
    pub(crate) plan: AccountPlan,
}

/// The planted directory. Users are sorted by id (the order Graph serves them in).
#[derive(Debug)]
pub(crate) struct Directory {
    pub(crate) tenant_id: String,
    pub(crate) tenant_domain: String,
    pub(crate) users: Vec<User>,
    /// Sorted by `skuId`.
    pub(crate) skus: Vec<Sku>,
}

const YEAR_ONE: &str = "0001-01-01T00:00:00Z";

/// The SKU catalogue: (skuId, part number, service plans). Sorted by skuId.
/// (skuId, skuPartNumber, service plans as (id, name)).
type CatalogueEntry = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const CATALOGUE: [CatalogueEntry; 6] = [
    (
        "06ebc4ee-1bb5-47dd-8120-11324bc54e06",
        "SPE_E5",
        &[
            (
                "efb87545-963c-4e0d-99df-69c6916d9eb0",
                "EXCHANGE_S_ENTERPRISE",
            ),
            ("57ff2da0-773e-42df-b2af-ffb7a2317929", "TEAMS1"),
        ],
    ),
    (
        "6fd2c87f-b296-42f0-b197-1e91e994b900",
        "ENTERPRISEPACK",
        &[
            (
                "efb87545-963c-4e0d-99df-69c6916d9eb0",
                "EXCHANGE_S_ENTERPRISE",
            ),
            (
                "5dbe027f-2339-4123-9542-606e4d348a72",
                "SHAREPOINTENTERPRISE",
            ),
        ],
    ),
    (
        "c5928f49-12ba-48f7-ada3-0d743a3601d5",
        "VISIOCLIENT",
        &[(
            "663a804f-1c30-4ff0-9915-9db84f0d1cea",
            "VISIO_CLIENT_SUBSCRIPTION",
        )],
    ),
    (
        "efccb6f7-5641-4e0e-bd10-b4976e1bf68e",
        "EMS",
        &[("41781fb2-bc02-4b7c-bd55-b576c07bb09d", "AAD_PREMIUM")],
    ),
    (
        "f30db892-07e9-47e9-837c-80727f46fd3d",
        "FLOW_FREE",
        &[("50e68c76-46c6-4674-81f9-75456511b170", "FLOW_P2_VIRAL")],
    ),
    (
        "f8a1db68-be16-40ed-86d5-cb42ce701560",
        "POWER_BI_PRO",
        &[("70d33638-9c74-4d01-bfd3-562de28bd4ba", "BI_AZURE_P2")],
    ),
];
const SPE_E5: usize = 0;
const ENTERPRISEPACK: usize = 1;
const VISIOCLIENT: usize = 2;
const EMS: usize = 3;
const FLOW_FREE: usize = 4;
const POWER_BI_PRO: usize = 5;

const GUEST_DOMAINS: &[&str] = &[
    "partner-consulting.example",
    "auditors.example",
    "freelance-mail.example",
];
const SERVICES: &[&str] = &[
    "backup",
    "scanner",
    "noreply",
    "sync",
    "build",
    "reports",
    "meeting-room",
    "payroll-bot",
];
const UNKNOWN_LOCALS: &[&str] = &["contractor", "intern", "temp", "shared", "old", "test"];

fn days(n: i64) -> TimeDelta {
    TimeDelta::days(n)
}

pub(crate) fn guid(rng: &mut Rng) -> String {
    let a = rng.next_u64();
    let b = rng.next_u64();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

/// Tenant id and `<name>.onmicrosoft.com` domain for a seed.
pub(crate) fn tenant(seed: u64, company: &Company) -> (String, String) {
    let mut rng = Rng::derive(seed, STREAM_TENANT);
    let label = company.domain().split('.').next().unwrap_or("tenant");
    (
        guid(&mut rng),
        format!("{}.onmicrosoft.com", label.replace('-', "")),
    )
}

/// Whether a person of the company has a work account, from what HR says about them.
fn has_account(category: Category, start: Option<NaiveDate>, d: NaiveDate, rng: &mut Rng) -> bool {
    match category {
        Category::Active
        | Category::ActiveUnverifiedInGrace
        | Category::Leaving
        | Category::EndedNotOffboarded
        | Category::NeverVerified
        | Category::UnknownStatus => true,
        // Accounts are created up to two weeks before the first day.
        Category::NewHire | Category::ActiveFutureStart => start.is_some_and(|s| s <= d + days(14)),
        // Most recent leavers' accounts are still there; a few old ones were forgotten.
        Category::OffboardedRecent => rng.chance(700),
        Category::OffboardedOld => rng.chance(150),
    }
}

struct Builder<'a> {
    company: &'a Company,
    d: NaiveDate,
    domain: String,
    tenant_domain: String,
    fresh: FreshAddresses,
    hr: HrAddresses,
    boundaries_left: std::ops::Range<usize>,
}

impl Builder<'_> {
    /// Activity dates: the boundary cases go to the first enabled licensed members.
    fn dates(&mut self, enabled_member: bool, rng: &mut Rng, activity: Activity) -> Planted {
        if enabled_member && let Some(k) = self.boundaries_left.next() {
            return dates::boundary(k, self.d, rng);
        }
        dates::planted(activity, self.d, rng)
    }

    fn sign_in(&self, planted: &Planted, rng: &mut Rng) -> SignIn {
        match planted.last {
            None => match rng.below(3) {
                0 => SignIn::Null,
                1 => SignIn::Object {
                    interactive: Some(YEAR_ONE.to_owned()),
                    non_interactive: Some(YEAR_ONE.to_owned()),
                    successful: None,
                },
                _ => SignIn::Object {
                    interactive: None,
                    non_interactive: None,
                    successful: None,
                },
            },
            Some(last) => {
                // The latest of the two is `last`; the other is older, year 1 or null.
                let other = match rng.below(4) {
                    0 => Some(YEAR_ONE.to_owned()),
                    1 => None,
                    _ => Some(last.minus_days(rng.range(1, 400)).iso()),
                };
                let last_text = last.iso();
                let successful = rng.chance(500).then(|| last_text.clone());
                if rng.chance(500) {
                    SignIn::Object {
                        interactive: Some(last_text),
                        non_interactive: other,
                        successful,
                    }
                } else {
                    SignIn::Object {
                        interactive: other,
                        non_interactive: Some(last_text),
                        successful,
                    }
                }
            }
        }
    }

    fn licences(&self, rng: &mut Rng) -> Vec<usize> {
        let mut licences = vec![if rng.chance(650) {
            ENTERPRISEPACK
        } else {
            SPE_E5
        }];
        if rng.chance(200) {
            licences.push(POWER_BI_PRO);
        }
        if rng.chance(250) {
            licences.push(FLOW_FREE);
        }
        if rng.chance(50) {
            licences.push(VISIOCLIENT);
        }
        licences.sort_unstable();
        licences
    }
}

/// Plants the directory of `company`.
pub(crate) fn plant(company: &Company) -> Directory {
    let spec = company.spec();
    let d = spec.as_of;
    let seed = spec.seed;
    let (tenant_id, tenant_domain) = tenant(seed, company);
    let mut b = Builder {
        company,
        d,
        domain: company.domain().to_owned(),
        tenant_domain: tenant_domain.clone(),
        fresh: FreshAddresses::default(),
        hr: HrAddresses::of(company),
        boundaries_left: 0..BOUNDARY_CASES,
    };
    let mut users = Vec::new();

    for (p, person) in company.people().iter().enumerate() {
        let mut r = Rng::derive(seed, STREAM_PERSON + p as u64);
        let Some(work) = b.hr.unique_address(person) else {
            continue;
        };
        if !has_account(person.category, person.employment_start_date, d, &mut r) {
            continue;
        }
        let enabled = match person.category {
            Category::OffboardedRecent => r.chance(500),
            Category::OffboardedOld => r.chance(300),
            _ => !r.chance(25),
        };
        let licensed = !r.chance(60);
        let pre_hire = person.category.state() == crate::company::SeatState::PreHire;
        let activity = if pre_hire {
            // Created for a start in the next two weeks; most have not signed in yet.
            if r.chance(700) {
                Activity::Grace
            } else {
                Activity::Recent
            }
        } else {
            dates::pick_activity(&mut r)
        };
        let mut planted = b.dates(enabled && licensed && !pre_hire, &mut r, activity);
        if pre_hire && planted.last.is_none() {
            planted.start = Stamp::at(d - days(r.range(0, 13)), Time::Any, &mut r);
        }
        let first = person.first_name.clone();
        let last = person.last_name.clone();
        let alias_local = format!(
            "{}{}",
            first.chars().next().unwrap_or('x').to_lowercase(),
            last.to_lowercase()
        );
        // How the person's work email appears on the account.
        let (upn, mail, proxies, other_mails) = match r.below(100) {
            0..78 => {
                let alias = b.fresh.take(&b.hr, &alias_local, &b.tenant_domain);
                (
                    work.clone(),
                    Some(work.clone()),
                    vec![format!("SMTP:{work}"), format!("smtp:{alias}")],
                    vec![],
                )
            }
            78..86 => {
                // UPN on the tenant's own domain: the work email only as a proxy address.
                let alt = b.fresh.take(&b.hr, &alias_local, &b.tenant_domain);
                let prefix = if r.chance(500) { "smtp" } else { "SmTp" };
                (
                    alt.clone(),
                    r.chance(500).then(|| alt.clone()),
                    vec![format!("SMTP:{alt}"), format!("{prefix}:{}", shout(&work))],
                    vec![],
                )
            }
            86..93 => {
                // Another address format entirely; the work email is only in otherMails.
                let alt = b
                    .fresh
                    .take(&b.hr, &alias_local, &format!("corp.{}", b.domain));
                (
                    alt.clone(),
                    Some(alt.clone()),
                    vec![format!("SMTP:{alt}")],
                    vec![format!(" {} ", shout(&work))],
                )
            }
            _ => {
                // The work email in other letter case.
                let cased = capitalised(&work);
                (
                    cased.clone(),
                    Some(cased.clone()),
                    vec![format!("SMTP:{cased}")],
                    vec![],
                )
            }
        };
        let plan = AccountPlan {
            owner: Owner::Person(p),
            enabled,
            activity: planted.activity,
            licences: if licensed { b.licences(&mut r) } else { vec![] },
        };
        let sign_in = b.sign_in(&planted, &mut r);
        users.push(User {
            id: guid(&mut r),
            display_name: format!("{first} {last}"),
            given_name: Some(first),
            surname: Some(last),
            job_title: None,
            upn,
            mail,
            other_mails,
            proxy_addresses: proxies,
            enabled,
            guest: false,
            created: planted.start.iso(),
            sign_in,
            plan,
        });
    }

    plant_extras(&mut b, &mut users, seed);
    users.sort_by(|a, b| a.id.cmp(&b.id));
    let skus = plant_skus(&users, seed);
    Directory {
        tenant_id,
        tenant_domain,
        users,
        skus,
    }
}

/// Service accounts, guests and members nobody in HR knows.
fn plant_extras(b: &mut Builder<'_>, users: &mut Vec<User>, seed: u64) {
    let n = b.company.people().len();
    let services = (n / 150).max(2);
    let guests = (n / 60).max(2);
    let unknown = (n / 80).max(2);
    for k in 0..services + guests + unknown {
        let mut r = Rng::derive(seed, STREAM_EXTRA + k as u64);
        let owner = if k < services {
            Owner::Service
        } else if k < services + guests {
            Owner::Guest
        } else {
            Owner::Unknown
        };
        // Every fourth unknown member is disabled (and still licensed, mostly).
        let forced_off = owner == Owner::Unknown && k % 4 == 3;
        let enabled = if forced_off { false } else { !r.chance(20) };
        let licensed = match owner {
            Owner::Service => !r.chance(200),
            Owner::Guest => r.chance(300),
            _ => !r.chance(150),
        };
        let activity = dates::pick_activity(&mut r);
        let planted = if owner == Owner::Unknown {
            b.dates(enabled && licensed, &mut r, activity)
        } else {
            dates::planted(activity, b.d, &mut r)
        };
        let (upn, mail, other_mails, display) = match owner {
            Owner::Service => {
                let name = *r.pick(SERVICES);
                let local = if k % 3 == 1 {
                    format!("SVC-{name}")
                } else {
                    format!("svc-{name}")
                };
                let address = b.fresh.take(&b.hr, &local, &b.domain);
                (
                    address.clone(),
                    Some(address),
                    vec![],
                    format!("Service {name}"),
                )
            }
            Owner::Guest => {
                let first = r.pick(crate::company::names::FIRST_NAMES).to_lowercase();
                let home_domain = *r.pick(GUEST_DOMAINS);
                let home = b.fresh.take(&b.hr, &first, home_domain);
                let upn = format!("{}#EXT#@{}", home.replace('@', "_"), b.tenant_domain);
                (
                    upn,
                    Some(home.clone()),
                    vec![home],
                    format!("{first} (guest)"),
                )
            }
            _ => {
                let local = format!("{}.{}", r.pick(UNKNOWN_LOCALS), r.id(4).to_lowercase());
                let address = b.fresh.take(&b.hr, &local, &b.domain);
                (address.clone(), Some(address), vec![], local)
            }
        };
        let licences = match (licensed, owner) {
            (false, _) => vec![],
            (true, Owner::Guest) => vec![POWER_BI_PRO],
            (true, Owner::Service) => vec![ENTERPRISEPACK],
            (true, _) => b.licences(&mut r),
        };
        let proxies = mail.iter().map(|m| format!("SMTP:{m}")).collect();
        let sign_in = b.sign_in(&planted, &mut r);
        users.push(User {
            id: guid(&mut r),
            display_name: display,
            given_name: None,
            surname: None,
            job_title: None,
            upn,
            mail,
            other_mails,
            proxy_addresses: proxies,
            enabled,
            guest: owner == Owner::Guest,
            created: planted.start.iso(),
            sign_in,
            plan: AccountPlan {
                owner,
                enabled,
                activity: planted.activity,
                licences,
            },
        });
    }
}

/// SKUs with their holders counted, then purchased units planted around that.
fn plant_skus(users: &[User], seed: u64) -> Vec<Sku> {
    let mut r = Rng::derive(seed, STREAM_SKU);
    let mut consumed = [0u64; CATALOGUE.len()];
    for user in users {
        for &licence in &user.plan.licences {
            consumed[licence] += 1;
        }
    }
    CATALOGUE
        .iter()
        .enumerate()
        .map(|(k, &(sku_id, part_number, service_plans))| {
            let used = consumed[k];
            let (enabled, suspended, warning, status) = match k {
                FLOW_FREE => (10_000, 0, 0, "Enabled"),
                // Units expired: fewer enabled than assigned, so nothing is unassigned.
                VISIOCLIENT => (used.saturating_sub(1), 3, 0, "Enabled"),
                EMS => (10 + r.below(20), 0, 0, "Enabled"),
                POWER_BI_PRO => (used + r.below(4), 0, 2, "Enabled"),
                _ => (used + 1 + r.below(used / 10 + 5), 0, 0, "Enabled"),
            };
            Sku {
                sku_id,
                part_number,
                enabled,
                suspended,
                warning,
                capability_status: status,
                service_plans,
                consumed: used,
            }
        })
        .collect()
}

/// `JANE.DOE@EXAMPLE`: the same address in capitals.
fn shout(address: &str) -> String {
    address.to_uppercase()
}

/// `Jane.Doe@example`: capital letters after the start and every dot of the local part.
fn capitalised(address: &str) -> String {
    let mut out = String::with_capacity(address.len());
    let mut up = true;
    let mut local = true;
    for c in address.chars() {
        if c == '@' {
            local = false;
        }
        if local && up {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        up = c == '.';
    }
    out
}

impl Directory {
    /// The truth as an agent with a full secret (`activity_available`) or without
    /// `AuditLog.Read.All` or P1/P2 sees it.
    pub(crate) fn truth(&self, company: &Company, activity_available: bool) -> AppTruth {
        let plans: Vec<AccountPlan> = self.users.iter().map(|u| u.plan.clone()).collect();
        let pools = self
            .skus
            .iter()
            .map(|sku| Pool {
                id: sku.sku_id.to_owned(),
                name: sku.part_number.to_owned(),
                purchased: Some(sku.enabled),
                assigned: sku.consumed,
                unassigned: Some(sku.enabled.saturating_sub(sku.consumed)),
            })
            .collect();
        crate::accounts::truth::count(
            "entra_id",
            company.spec().as_of,
            activity_available,
            &plans,
            pools,
            company,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_sorted_by_sku_id() {
        assert!(CATALOGUE.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(CATALOGUE[SPE_E5].1, "SPE_E5");
        assert_eq!(CATALOGUE[ENTERPRISEPACK].1, "ENTERPRISEPACK");
        assert_eq!(CATALOGUE[VISIOCLIENT].1, "VISIOCLIENT");
        assert_eq!(CATALOGUE[POWER_BI_PRO].1, "POWER_BI_PRO");
        assert_eq!(CATALOGUE[EMS].1, "EMS");
        assert_eq!(CATALOGUE[FLOW_FREE].1, "FLOW_FREE");
    }

    #[test]
    fn capitalises_the_local_part() {
        assert_eq!(
            capitalised("jane.doe2@north.example"),
            "Jane.Doe2@north.example"
        );
        assert_eq!(shout("a.b@c.example"), "A.B@C.EXAMPLE");
    }
}
