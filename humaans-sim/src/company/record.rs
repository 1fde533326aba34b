//! The JSON a person and a job role are served as. Built once at generation; the server
//! only concatenates the pre-rendered fragments.
//!
//! A person is rendered as two fragments of JSON object members (no braces): the public
//! members and the private ones (those a `public:read`-only token must not see). The full
//! object is `{public,private}`.

use chrono::NaiveDate;
use serde::Serialize;

use super::names;
use crate::rng::Rng;

/// Private members set to `null`: what a public-only token sees in "null" mode. The same for
/// every person.
pub(crate) const PRIVATE_NULLS: &str = concat!(
    r#""personalEmail":null,"personalPhoneNumber":null,"formattedPersonalPhoneNumber":null,"#,
    r#""gender":null,"nationality":null,"nationalities":null,"dietaryPreference":null,"#,
    r#""foodAllergies":null,"birthday":null,"address":null,"city":null,"state":null,"#,
    r#""postcode":null,"countryCode":null,"country":null,"employmentEndDate":null,"#,
    r#""lastWorkingDay":null,"probationEndDate":null,"turnoverImpact":null,"#,
    r#""leavingReason":null,"leavingNote":null,"leavingFileId":null,"taxId":null,"#,
    r#""taxCode":null,"payrollProvider":null,"calendarFeedToken":null"#
);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PublicRecord<'a> {
    id: &'a str,
    company_id: &'a str,
    first_name: &'a str,
    middle_name: Option<&'a str>,
    last_name: &'a str,
    preferred_name: Option<&'a str>,
    email: Option<&'a str>,
    phone_number: Option<String>,
    formatted_phone_number: Option<String>,
    location_id: String,
    remote_city: Option<&'a str>,
    remote_region_code: Option<&'a str>,
    remote_country_code: Option<&'a str>,
    remote_timezone: Option<&'a str>,
    spoken_languages: Vec<&'a str>,
    profile_photo_id: Option<&'a str>,
    profile_photo: Option<ProfilePhoto<'a>>,
    bio: Option<&'a str>,
    linked_in: Option<String>,
    twitter: Option<String>,
    github: Option<String>,
    employment_start_date: Option<NaiveDate>,
    first_working_day: Option<NaiveDate>,
    working_days: Vec<WorkingDay>,
    public_holiday_calendar_id: &'a str,
    contract_type: &'a str,
    employee_id: Option<String>,
    source: Option<&'a str>,
    source_id: Option<String>,
    teams: Vec<Team<'a>>,
    status: Option<&'a str>,
    is_verified: Option<bool>,
    is_work_email_hidden: bool,
    is_birthday_hidden: bool,
    demo: bool,
    role: &'a str,
    seen_documents_at: Option<String>,
    timezone: &'a str,
    created_at: String,
    updated_at: String,
}

#[derive(Serialize)]
struct ProfilePhoto<'a> {
    id: &'a str,
    variants: PhotoVariants,
}

#[derive(Serialize)]
struct PhotoVariants {
    #[serde(rename = "64")]
    s64: String,
    #[serde(rename = "96")]
    s96: String,
    #[serde(rename = "200")]
    s200: String,
    #[serde(rename = "400")]
    s400: String,
}

#[derive(Serialize)]
struct WorkingDay {
    day: &'static str,
}

#[derive(Serialize)]
struct Team<'a> {
    name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PrivateRecord<'a> {
    personal_email: String,
    personal_phone_number: String,
    formatted_personal_phone_number: String,
    gender: &'a str,
    nationality: &'a str,
    nationalities: Vec<&'a str>,
    dietary_preference: &'a str,
    food_allergies: Vec<&'a str>,
    birthday: NaiveDate,
    address: String,
    city: &'a str,
    state: &'a str,
    postcode: String,
    country_code: &'a str,
    country: &'a str,
    employment_end_date: Option<NaiveDate>,
    last_working_day: Option<NaiveDate>,
    probation_end_date: Option<NaiveDate>,
    turnover_impact: Option<&'a str>,
    leaving_reason: Option<&'a str>,
    leaving_note: Option<&'a str>,
    leaving_file_id: Option<String>,
    tax_id: String,
    tax_code: Option<String>,
    payroll_provider: &'a str,
    calendar_feed_token: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JobRoleRecord<'a> {
    id: &'a str,
    company_id: &'a str,
    person_id: &'a str,
    job_title: &'a str,
    department: &'a str,
    effective_date: Option<NaiveDate>,
    end_date: Option<NaiveDate>,
    reporting_to: Option<&'a str>,
    created_at: String,
    updated_at: String,
}

/// Everything the record renderer needs that the generator decided.
pub(crate) struct PersonFacts<'a> {
    pub(crate) id: &'a str,
    pub(crate) company_id: &'a str,
    pub(crate) employee_number: usize,
    pub(crate) first_name: &'a str,
    pub(crate) last_name: &'a str,
    pub(crate) email: Option<&'a str>,
    pub(crate) status: Option<&'a str>,
    pub(crate) is_verified: Option<bool>,
    pub(crate) start: Option<NaiveDate>,
    pub(crate) end: Option<NaiveDate>,
    pub(crate) has_left: bool,
    pub(crate) department: &'a str,
    pub(crate) is_owner: bool,
    pub(crate) as_of: NaiveDate,
}

/// ISO 8601 UTC timestamp with milliseconds and `Z`, as JavaScript's `toISOString` writes.
pub(crate) fn timestamp(date: NaiveDate, rng: &mut Rng) -> String {
    let secs = rng.below(86_400);
    format!(
        "{date}T{:02}:{:02}:{:02}.{:03}Z",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60,
        rng.below(1000)
    )
}

fn days(n: i64) -> chrono::TimeDelta {
    chrono::TimeDelta::days(n)
}

fn digits(rng: &mut Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'0' + rng.below(10) as u8))
        .collect()
}

/// Renders a person as (public members, private members).
pub(crate) fn render_person(f: &PersonFacts<'_>, rng: &mut Rng) -> (String, String) {
    let place = *rng.pick(names::PLACES);
    let (city, region, country_code, country, tz, calendar, prefix) = place;
    let remote = rng.chance(200);
    let local_digits = digits(rng, 7);
    let formatted_phone = format!("{prefix} {} {}", &local_digits[..3], &local_digits[3..]);
    let phone = formatted_phone.replace(' ', "");
    let middle = rng.chance(100).then(|| *rng.pick(names::FIRST_NAMES));
    let preferred = rng
        .chance(80)
        .then(|| &f.first_name[..f.first_name.len().min(3)]);
    let photo_id = rng.id(24);
    let has_photo = rng.chance(700);
    let photo_url =
        |size: u32| format!("https://files.humaans-sim.example/p/{photo_id}/{size}.jpg");
    let profile_photo = has_photo.then(|| ProfilePhoto {
        id: &photo_id,
        variants: PhotoVariants {
            s64: photo_url(64),
            s96: photo_url(96),
            s200: photo_url(200),
            s400: photo_url(400),
        },
    });
    let slug = format!(
        "{}-{}-{}",
        f.first_name.to_lowercase(),
        f.last_name.to_lowercase(),
        digits(rng, 3)
    );
    let part_time = rng.chance(120);
    let weekdays: &[&str] = if part_time {
        &["monday", "tuesday", "wednesday"]
    } else {
        &["monday", "tuesday", "wednesday", "thursday", "friday"]
    };
    let mut languages = vec![*rng.pick(names::LANGUAGES)];
    if rng.chance(400) {
        languages.push(*rng.pick(names::LANGUAGES));
    }
    let mut teams = Vec::new();
    for _ in 0..rng.below(3) {
        teams.push(Team {
            name: rng.word(names::TEAMS),
        });
    }
    let anchor = f.start.unwrap_or(f.as_of - days(400)).min(f.as_of);
    let created = anchor - days(rng.range(1, 60));
    let updated = created + days(rng.range(0, (f.as_of - created).num_days().max(0)));
    let imported = rng.chance(150);
    let public = PublicRecord {
        id: f.id,
        company_id: f.company_id,
        first_name: f.first_name,
        middle_name: middle,
        last_name: f.last_name,
        preferred_name: preferred,
        email: f.email,
        phone_number: Some(phone),
        formatted_phone_number: Some(formatted_phone),
        location_id: if remote {
            "remote".to_owned()
        } else {
            format!("loc{}", calendar.replace('-', ""))
        },
        remote_city: remote.then_some(city),
        remote_region_code: remote.then_some(region),
        remote_country_code: remote.then_some(country_code),
        remote_timezone: remote.then_some(tz),
        spoken_languages: languages,
        profile_photo_id: has_photo.then_some(photo_id.as_str()),
        profile_photo,
        bio: rng.chance(400).then(|| *rng.pick(names::BIOS)),
        linked_in: rng
            .chance(500)
            .then(|| format!("https://www.linkedin.com/in/{slug}")),
        twitter: rng
            .chance(100)
            .then(|| format!("https://twitter.com/{slug}")),
        github: (f.department == "Engineering" && rng.chance(600))
            .then(|| format!("https://github.com/{slug}")),
        employment_start_date: f.start,
        first_working_day: f.start.map(|s| s + days(rng.range(0, 3))),
        working_days: weekdays.iter().map(|day| WorkingDay { day }).collect(),
        public_holiday_calendar_id: calendar,
        contract_type: if part_time {
            "Part time"
        } else {
            rng.word(names::CONTRACT_TYPES)
        },
        employee_id: rng
            .chance(950)
            .then(|| format!("E{:06}", f.employee_number)),
        source: imported.then_some("csv-import"),
        source_id: imported.then(|| digits(rng, 8)),
        teams,
        status: f.status,
        is_verified: f.is_verified,
        is_work_email_hidden: false,
        is_birthday_hidden: rng.chance(100),
        demo: false,
        role: if f.is_owner {
            "owner"
        } else if rng.chance(20) {
            "admin"
        } else {
            "user"
        },
        seen_documents_at: (f.is_verified == Some(true) && rng.chance(600))
            .then(|| timestamp(updated, rng)),
        timezone: tz,
        created_at: timestamp(created, rng),
        updated_at: timestamp(updated, rng),
    };

    let personal_digits = digits(rng, 7);
    let leaver = f.end.is_some();
    let private = PrivateRecord {
        personal_email: format!(
            "{}.{}{}@mailbox.example",
            f.first_name.to_lowercase(),
            f.last_name.to_lowercase(),
            digits(rng, 2)
        ),
        personal_phone_number: format!("{}{}", prefix.replace(' ', ""), personal_digits),
        formatted_personal_phone_number: format!(
            "{prefix} {} {}",
            &personal_digits[..3],
            &personal_digits[3..]
        ),
        gender: rng.word(names::GENDERS),
        nationality: country,
        nationalities: vec![country],
        dietary_preference: rng.word(names::DIETS),
        food_allergies: if rng.chance(100) {
            vec![*rng.pick(names::ALLERGIES)]
        } else {
            Vec::new()
        },
        birthday: f.as_of - days(rng.range(21 * 365, 64 * 365)),
        address: format!("{} {}", rng.range(1, 220), rng.pick(names::STREETS)),
        city,
        state: region,
        postcode: format!("{}{}", country_code, digits(rng, 5)),
        country_code,
        country,
        employment_end_date: f.end,
        last_working_day: f.end,
        probation_end_date: f.start.filter(|_| rng.chance(700)).map(|s| s + days(90)),
        turnover_impact: (f.has_left && rng.chance(700)).then(|| *rng.pick(names::TURNOVER_IMPACT)),
        leaving_reason: leaver.then(|| *rng.pick(names::LEAVING_REASONS)),
        leaving_note: (leaver && rng.chance(300))
            .then_some("Handover notes are in the shared drive."),
        leaving_file_id: (leaver && rng.chance(200)).then(|| rng.id(24)),
        tax_id: format!("{}{}", country_code, digits(rng, 9)),
        tax_code: (country_code == "GB").then(|| format!("{}L", rng.range(1000, 1300))),
        payroll_provider: rng.word(names::PAYROLL_PROVIDERS),
        calendar_feed_token: rng.id(32),
    };

    let mut public = members(&public);
    if rng.chance(50) {
        public.push(',');
        public.push_str(rng.word(names::EXTRA_PERSON_FIELDS));
    }
    (public, members(&private))
}

/// Everything the renderer needs to write one job role.
pub(crate) struct RoleFacts<'a> {
    pub(crate) id: &'a str,
    pub(crate) company_id: &'a str,
    pub(crate) person_id: &'a str,
    pub(crate) job_title: &'a str,
    pub(crate) department: &'a str,
    pub(crate) effective_date: Option<NaiveDate>,
    pub(crate) end_date: Option<NaiveDate>,
    pub(crate) reporting_to: Option<&'a str>,
    pub(crate) as_of: NaiveDate,
}

/// Renders a job role as a complete JSON object.
pub(crate) fn render_role(f: &RoleFacts<'_>, rng: &mut Rng) -> String {
    let anchor = f.effective_date.unwrap_or(f.as_of - days(400)).min(f.as_of);
    let created = anchor - days(rng.range(1, 30));
    let updated = created + days(rng.range(0, (f.as_of - created).num_days().max(0)));
    let record = JobRoleRecord {
        id: f.id,
        company_id: f.company_id,
        person_id: f.person_id,
        job_title: f.job_title,
        department: f.department,
        effective_date: f.effective_date,
        end_date: f.end_date,
        reporting_to: f.reporting_to,
        created_at: timestamp(created, rng),
        updated_at: timestamp(updated, rng),
    };
    let mut json = members(&record);
    if rng.chance(30) {
        json.push(',');
        json.push_str(rng.word(names::EXTRA_ROLE_FIELDS));
    }
    format!("{{{json}}}")
}

/// Serializes a struct and strips the outer braces, leaving its members.
fn members<T: Serialize>(value: &T) -> String {
    let mut json = Vec::with_capacity(2048);
    serde_json::to_writer(&mut json, value)
        .expect("records contain only strings, numbers and dates");
    String::from_utf8_lossy(&json[1..json.len() - 1]).into_owned()
}
