//! Humaans API records as the agent needs them, parsed tolerantly.
//!
//! See `../shared/reference/humaans-api.md`: every field but `id` is optional, unknown
//! fields are ignored, unknown status values are kept (`PersonStatus::Other`). Only the
//! fields the usage engine and the minimised seat record need are kept, so memory follows
//! the minimised records, not the raw JSON (Humaans sends ~60 fields per person).

use chrono::NaiveDate;
use seatbroker_protocol::PersonStatus;
use serde::{Deserialize, Deserializer};

/// A person, reduced to what seat usage needs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    pub id: String,
    #[serde(default)]
    pub company_id: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub preferred_name: Option<String>,
    /// Work email.
    #[serde(default)]
    pub email: Option<String>,
    /// `None` when Humaans omitted the field.
    #[serde(default)]
    pub status: Option<PersonStatus>,
    #[serde(default, deserialize_with = "lenient_date")]
    pub employment_start_date: Option<NaiveDate>,
    #[serde(default, deserialize_with = "lenient_date")]
    pub employment_end_date: Option<NaiveDate>,
    #[serde(default)]
    pub is_verified: Option<bool>,
}

impl Person {
    /// `preferredName ?? firstName`, then `lastName`, as the Humaans app shows it.
    pub fn display_name(&self) -> Option<String> {
        let first = self
            .preferred_name
            .as_deref()
            .or(self.first_name.as_deref());
        match (first, self.last_name.as_deref()) {
            (Some(f), Some(l)) => Some(format!("{f} {l}")),
            (Some(f), None) => Some(f.to_owned()),
            (None, Some(l)) => Some(l.to_owned()),
            (None, None) => None,
        }
    }
}

/// One role period of one person (`/api/job-roles`). A person has a history of them;
/// the current one is chosen by date.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "RawJobRole")]
pub struct JobRole {
    pub id: String,
    pub person_id: String,
    pub job_title: Option<String>,
    pub department: Option<String>,
    pub effective_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    /// Manager's person id, from `reportingTo` or else `managerId`. No Humaans document
    /// names the member on a job role (`reportingTo` is attested only in the create-person
    /// payload), so both names are read; a blank one counts as missing.
    pub reporting_to: Option<String>,
}

/// A job role as sent, before the two possible manager members are merged.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawJobRole {
    id: String,
    person_id: String,
    #[serde(default)]
    job_title: Option<String>,
    #[serde(default)]
    department: Option<String>,
    #[serde(default, deserialize_with = "lenient_date")]
    effective_date: Option<NaiveDate>,
    #[serde(default, deserialize_with = "lenient_date")]
    end_date: Option<NaiveDate>,
    #[serde(default)]
    reporting_to: Option<String>,
    #[serde(default)]
    manager_id: Option<String>,
}

impl From<RawJobRole> for JobRole {
    fn from(raw: RawJobRole) -> Self {
        let named = |id: Option<String>| id.filter(|m| !m.trim().is_empty());
        Self {
            reporting_to: named(raw.reporting_to).or_else(|| named(raw.manager_id)),
            id: raw.id,
            person_id: raw.person_id,
            job_title: raw.job_title,
            department: raw.department,
            effective_date: raw.effective_date,
            end_date: raw.end_date,
        }
    }
}

/// A `YYYY-MM-DD` date; `null`, a missing key and an empty string are `None`. Anything
/// else that is not a date makes the record unparsable (it is counted and reported).
fn lenient_date<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<NaiveDate>, D::Error> {
    let raw = Option::<std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => {
            // Tolerate a timestamp where a date is expected: keep its date part.
            let date_part = text.get(..10).unwrap_or(text);
            NaiveDate::parse_from_str(date_part, "%Y-%m-%d")
                .map(Some)
                .map_err(|e| serde::de::Error::custom(format!("invalid date {text:?}: {e}")))
        }
    }
}

/// The company (tenant) a token belongs to (`/api/companies`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Company {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// The current job role of one person on day `today`, from that person's role history.
///
/// The rule (shared with the engine and the simulator, see `helpers/COMMON.md`): among the
/// roles with `effectiveDate <= today` (or no effective date) and (`endDate` missing or
/// `endDate >= today`), the one with the greatest `effectiveDate`; a missing effective date
/// ranks below any date; ties go to the greatest `id`. Future-dated and ended roles are
/// never current. Pass only the roles of one person; `None` if none qualifies.
pub fn current_role<'a>(
    roles_of_person: impl IntoIterator<Item = &'a JobRole>,
    today: NaiveDate,
) -> Option<&'a JobRole> {
    roles_of_person
        .into_iter()
        .filter(|r| r.effective_date.is_none_or(|d| d <= today))
        .filter(|r| r.end_date.is_none_or(|d| d >= today))
        .max_by(|a, b| {
            a.effective_date
                .cmp(&b.effective_date)
                .then_with(|| a.id.cmp(&b.id))
        })
}

/// The role a person without a current role is shown with, so that leavers and pre-hires
/// keep a department, title and manager: the last role that ended before `today` (latest
/// end date, then latest start, then greatest id), else the first role that starts after
/// `today` (earliest start, then smallest id). Only for display: whether a person *has* a
/// current role (the `no_current_job_role` finding) is [`current_role`]'s answer alone.
pub(crate) fn last_known_role<'a>(
    roles_of_person: impl IntoIterator<Item = &'a JobRole>,
    today: NaiveDate,
) -> Option<&'a JobRole> {
    let mut ended: Option<&JobRole> = None;
    let mut upcoming: Option<&JobRole> = None;
    for role in roles_of_person {
        if role.end_date.is_some_and(|d| d < today) {
            let key = |r: &JobRole| (r.end_date, r.effective_date, r.id.clone());
            if ended.is_none_or(|best| key(role) > key(best)) {
                ended = Some(role);
            }
        } else if role.effective_date.is_some_and(|d| d > today) {
            let key = |r: &JobRole| (r.effective_date, r.id.clone());
            if upcoming.is_none_or(|best| key(role) < key(best)) {
                upcoming = Some(role);
            }
        }
    }
    ended.or(upcoming)
}

/// A record with an id, used by the pager to de-duplicate.
pub(crate) trait Record {
    fn record_id(&self) -> &str;
}

impl Record for Person {
    fn record_id(&self) -> &str {
        &self.id
    }
}

impl Record for JobRole {
    fn record_id(&self) -> &str {
        &self.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(id: &str, effective: Option<&str>, end: Option<&str>) -> JobRole {
        JobRole {
            id: id.into(),
            person_id: "p".into(),
            job_title: Some(format!("title {id}")),
            department: None,
            effective_date: effective.map(|d| d.parse().unwrap()),
            end_date: end.map(|d| d.parse().unwrap()),
            reporting_to: None,
        }
    }

    #[test]
    fn current_role_rule() {
        let today: NaiveDate = "2025-06-15".parse().unwrap();
        let check = |roles: &[JobRole], want: Option<&str>| {
            assert_eq!(
                current_role(roles, today).map(|r| r.id.as_str()),
                want,
                "{roles:?}"
            );
        };
        check(&[], None);
        // The latest started role wins; a future-dated one does not count yet.
        check(
            &[
                role("a", Some("2020-01-01"), None),
                role("b", Some("2024-01-01"), None),
                role("c", Some("2025-07-01"), None),
            ],
            Some("b"),
        );
        // A role starting today counts; one that ended yesterday does not; ending today does.
        check(&[role("a", Some("2025-06-15"), None)], Some("a"));
        check(&[role("a", Some("2020-01-01"), Some("2025-06-14"))], None);
        check(
            &[role("a", Some("2020-01-01"), Some("2025-06-15"))],
            Some("a"),
        );
        // Missing effective date ranks below any date.
        check(
            &[role("z", None, None), role("a", Some("2021-01-01"), None)],
            Some("a"),
        );
        check(&[role("z", None, None)], Some("z"));
        // Ties: greatest id.
        check(
            &[
                role("a", Some("2021-01-01"), None),
                role("b", Some("2021-01-01"), None),
            ],
            Some("b"),
        );
        // Ended roles are skipped even if newer.
        check(
            &[
                role("a", Some("2020-01-01"), None),
                role("b", Some("2024-01-01"), Some("2025-01-01")),
            ],
            Some("a"),
        );
    }

    #[test]
    fn dates_are_lenient_about_empty_and_timestamps() {
        let check = |json: &str, want: Result<Option<&str>, ()>| {
            let got = serde_json::from_str::<Person>(json)
                .map(|p| p.employment_start_date.map(|d| d.to_string()));
            match want {
                Ok(w) => assert_eq!(got.unwrap().as_deref(), w, "{json}"),
                Err(()) => assert!(got.is_err(), "{json}"),
            }
        };
        check(r#"{"id":"1"}"#, Ok(None));
        check(r#"{"id":"1","employmentStartDate":null}"#, Ok(None));
        check(r#"{"id":"1","employmentStartDate":""}"#, Ok(None));
        check(
            r#"{"id":"1","employmentStartDate":"2024-02-03"}"#,
            Ok(Some("2024-02-03")),
        );
        check(
            r#"{"id":"1","employmentStartDate":"2024-02-03T00:00:00.000Z"}"#,
            Ok(Some("2024-02-03")),
        );
        check(r#"{"id":"1","employmentStartDate":"03/02/2024"}"#, Err(()));
        check(r#"{"id":"1","employmentStartDate":7}"#, Err(()));
        check(r#"{"status":"active"}"#, Err(()));
    }

    #[test]
    fn the_manager_is_read_from_either_member() {
        let check = |json: &str, want: Option<&str>| {
            let role: JobRole = serde_json::from_str(json).expect(json);
            assert_eq!(role.reporting_to.as_deref(), want, "{json}");
        };
        let base = r#""id":"r","personId":"p""#;
        check(&format!("{{{base}}}"), None);
        check(&format!(r#"{{{base},"reportingTo":"m1"}}"#), Some("m1"));
        check(&format!(r#"{{{base},"managerId":"m2"}}"#), Some("m2"));
        check(
            &format!(r#"{{{base},"reportingTo":null,"managerId":"m2"}}"#),
            Some("m2"),
        );
        check(
            &format!(r#"{{{base},"reportingTo":" ","managerId":"m2"}}"#),
            Some("m2"),
        );
        check(
            &format!(r#"{{{base},"reportingTo":"m1","managerId":"m2"}}"#),
            Some("m1"),
        );
        check(&format!(r#"{{{base},"managerId":""}}"#), None);
    }

    #[test]
    fn unknown_status_and_extra_fields_are_kept_and_ignored() {
        let p: Person =
            serde_json::from_str(r#"{"id":"1","status":"suspended","shoeSize":44}"#).unwrap();
        assert_eq!(p.status, Some(PersonStatus::Other("suspended".into())));
    }
}
