//! The join of application accounts with HR people, as ordered pure rules.
//!
//! Matching: every address is trimmed and lower-cased (a leading `smtp:` dropped); the
//! account's email is tried first, then its login (UPN), then its aliases in the source's
//! order; the first address equal to some person's work email wins. Pseudonymised
//! addresses match the same way (the agent hashes the normalised address for both sides).
//!
//! States, first match wins: `excluded` (an admin rule), `orphaned` (the matched person is
//! offboarded, or ended but not offboarded), `disabled_holding`, `unidentified` (nobody
//! matched, and the HR side is complete), `pre_hire`, then the agent's activity state.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use seatbroker_protocol::{LicenceState, SeatReason, SeatState};

use super::state::SeatLicenceState;

/// One HR person as the join needs them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HrPerson {
    pub(crate) person_id: String,
    pub(crate) work_email: Option<String>,
    pub(crate) state: SeatState,
    pub(crate) reason: Option<SeatReason>,
    pub(crate) since: Option<NaiveDate>,
}

/// The people of an organisation's HR source, indexed by normalised work email.
#[derive(Debug, Default)]
pub(crate) struct People {
    people: Vec<HrPerson>,
    by_email: HashMap<String, usize>,
    /// Whether the HR side can say "nobody matches": it has uploaded, with private access
    /// (so leavers and pre-hires are visible). When false, unmatched accounts keep their
    /// activity state and the figures are marked incomplete.
    pub(crate) complete: bool,
}

impl People {
    /// Indexes `people`; of several people sharing a work email, the smallest person id wins.
    pub(crate) fn new(mut people: Vec<HrPerson>, complete: bool) -> Self {
        people.sort_by(|a, b| a.person_id.cmp(&b.person_id));
        let mut by_email = HashMap::with_capacity(people.len());
        for (index, person) in people.iter().enumerate() {
            if let Some(email) = person.work_email.as_deref().map(normalise)
                && !email.is_empty()
            {
                by_email.entry(email).or_insert(index);
            }
        }
        Self {
            people,
            by_email,
            complete,
        }
    }

    pub(crate) fn get(&self, index: usize) -> &HrPerson {
        &self.people[index]
    }

    fn find(&self, address: &str) -> Option<usize> {
        self.by_email.get(address).copied()
    }
}

/// An address as compared: trimmed, lower-case, without a leading `smtp:`.
pub(crate) fn normalise(address: &str) -> String {
    let trimmed = address.trim();
    let bare = match trimmed.get(..5) {
        Some(prefix) if prefix.eq_ignore_ascii_case("smtp:") => &trimmed[5..],
        _ => trimmed,
    };
    bare.trim().to_lowercase()
}

/// Which of the account's addresses matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MatchedBy {
    Email,
    Login,
    Alias,
}

impl MatchedBy {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Login => "login",
            Self::Alias => "alias",
        }
    }
}

/// One application account as the join reads it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Account<'a> {
    pub(crate) account_id: &'a str,
    pub(crate) login: Option<&'a str>,
    pub(crate) email: Option<&'a str>,
    pub(crate) aliases: &'a [String],
    pub(crate) enabled: bool,
    /// The wire code (`member`, `guest`, `service`, or newer).
    pub(crate) account_type: &'a str,
}

/// The person an account belongs to, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Match {
    /// Index into [`People`].
    pub(crate) person: usize,
    pub(crate) by: MatchedBy,
    /// The normalised address that matched.
    pub(crate) address: String,
}

/// Email, then login, then aliases: the first address equal to a person's work email.
pub(crate) fn match_account(account: &Account<'_>, people: &People) -> Option<Match> {
    let candidates = account
        .email
        .map(|a| (MatchedBy::Email, a))
        .into_iter()
        .chain(account.login.map(|a| (MatchedBy::Login, a)))
        .chain(
            account
                .aliases
                .iter()
                .map(|a| (MatchedBy::Alias, a.as_str())),
        );
    for (by, address) in candidates {
        let address = normalise(address);
        if let Some(person) = people.find(&address) {
            return Some(Match {
                person,
                by,
                address,
            });
        }
    }
    None
}

/// Admin rules that mark accounts `excluded`.
#[derive(Debug, Clone, Default)]
pub(crate) struct ExclusionRules {
    account_types: HashSet<String>,
    login_patterns: Vec<String>,
    accounts: HashSet<String>,
}

impl ExclusionRules {
    /// From stored `(kind, value)` rows; kinds: `account_type`, `login_pattern`, `account`.
    pub(crate) fn new<'a>(rules: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut out = Self::default();
        for (kind, value) in rules {
            let value = value.trim().to_lowercase();
            match kind {
                "account_type" => {
                    out.account_types.insert(value);
                }
                "login_pattern" => out.login_patterns.push(value),
                "account" => {
                    out.accounts.insert(normalise(&value));
                }
                _ => {}
            }
        }
        out
    }

    /// The reason code when a rule excludes `account`.
    pub(crate) fn excludes(&self, account: &Account<'_>) -> Option<&'static str> {
        if self.account_types.contains(account.account_type) {
            return Some(if account.account_type == "guest" {
                "guest_account"
            } else {
                "account_type_rule"
            });
        }
        let login = account.login.map(normalise);
        if let Some(login) = &login
            && self.login_patterns.iter().any(|p| glob_match(p, login))
        {
            return Some("login_pattern");
        }
        let listed = std::iter::once(account.account_id.trim().to_lowercase())
            .chain(login)
            .chain(account.email.map(normalise))
            .any(|a| self.accounts.contains(&a));
        listed.then_some("listed_account")
    }
}

/// `*` any run of characters, `?` one character; everything else literal.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            backtrack = Some((pi, ti));
            pi += 1;
        } else if let Some((star, matched)) = backtrack {
            pi = star + 1;
            ti = matched + 1;
            backtrack = Some((star, matched + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// What the agent said about one licence held.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Activity<'a> {
    pub(crate) state: &'a LicenceState,
    pub(crate) reason: Option<&'a str>,
    pub(crate) since: Option<NaiveDate>,
}

/// A licence's state after the join, with its reason code and since-day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decision {
    pub(crate) state: SeatLicenceState,
    pub(crate) reason: Option<String>,
    pub(crate) since: Option<NaiveDate>,
}

impl Decision {
    fn new(state: SeatLicenceState, reason: &str, since: Option<NaiveDate>) -> Self {
        Self {
            state,
            reason: Some(reason.to_owned()),
            since,
        }
    }
}

fn excluded(exclusion: Option<&'static str>) -> Option<Decision> {
    exclusion.map(|reason| Decision::new(SeatLicenceState::Excluded, reason, None))
}

fn orphaned(person: Option<&HrPerson>) -> Option<Decision> {
    let person = person?;
    let reason = match (&person.state, &person.reason) {
        (SeatState::Offboarded, _) => "person_offboarded",
        (SeatState::Inactive, Some(SeatReason::EndedNotOffboarded)) => "ended_not_offboarded",
        _ => return None,
    };
    Some(Decision::new(
        SeatLicenceState::Orphaned,
        reason,
        person.since,
    ))
}

fn disabled_holding(account: &Account<'_>, activity: &Activity<'_>) -> Option<Decision> {
    (!account.enabled || *activity.state == LicenceState::DisabledHolding)
        .then(|| Decision::new(SeatLicenceState::DisabledHolding, "account_disabled", None))
}

fn unidentified(person: Option<&HrPerson>, hr_complete: bool) -> Option<Decision> {
    (person.is_none() && hr_complete)
        .then(|| Decision::new(SeatLicenceState::Unidentified, "no_matching_person", None))
}

fn pre_hire(person: Option<&HrPerson>) -> Option<Decision> {
    let person = person.filter(|p| p.state == SeatState::PreHire)?;
    Some(Decision::new(
        SeatLicenceState::PreHire,
        "not_started",
        person.since,
    ))
}

fn by_activity(activity: &Activity<'_>) -> Decision {
    let state = match activity.state {
        LicenceState::NeverUsed => SeatLicenceState::NeverUsed,
        LicenceState::Idle => SeatLicenceState::Idle,
        LicenceState::InUse => SeatLicenceState::InUse,
        // A state this platform does not know is not guessed into idle or in use.
        _ => SeatLicenceState::UnknownActivity,
    };
    let reason = match activity.state {
        LicenceState::Other(code) => Some(code.clone()),
        _ => activity.reason.map(str::to_owned),
    };
    Decision {
        state,
        reason,
        since: activity.since,
    }
}

/// The state of one licence held by `account`, whose matched person (if any) is `person`.
/// The store calls [`classify_known`], which takes the exclusion looked up once per account.
#[cfg(test)]
pub(crate) fn classify(
    account: &Account<'_>,
    person: Option<&HrPerson>,
    hr_complete: bool,
    activity: &Activity<'_>,
    rules: &ExclusionRules,
) -> Decision {
    classify_known(
        rules.excludes(account),
        account,
        person,
        hr_complete,
        activity,
    )
}

/// [`classify`] with the account's exclusion already looked up
/// ([`ExclusionRules::excludes`]), for callers classifying every licence of an account.
pub(crate) fn classify_known(
    exclusion: Option<&'static str>,
    account: &Account<'_>,
    person: Option<&HrPerson>,
    hr_complete: bool,
    activity: &Activity<'_>,
) -> Decision {
    excluded(exclusion)
        .or_else(|| orphaned(person))
        .or_else(|| disabled_holding(account, activity))
        .or_else(|| unidentified(person, hr_complete))
        .or_else(|| pre_hire(person))
        .unwrap_or_else(|| by_activity(activity))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(id: &str, email: &str, state: SeatState, reason: Option<SeatReason>) -> HrPerson {
        HrPerson {
            person_id: id.to_owned(),
            work_email: Some(email.to_owned()),
            state,
            reason,
            since: None,
        }
    }

    fn people() -> People {
        People::new(
            vec![
                person("p1", "Ana@Acme.test", SeatState::Active, None),
                person(
                    "p2",
                    "bo@acme.test",
                    SeatState::Offboarded,
                    Some(SeatReason::Offboarded),
                ),
                person(
                    "p3",
                    "cy@acme.test",
                    SeatState::Inactive,
                    Some(SeatReason::EndedNotOffboarded),
                ),
                person(
                    "p4",
                    "di@acme.test",
                    SeatState::PreHire,
                    Some(SeatReason::NewHire),
                ),
                person(
                    "p5",
                    "ed@acme.test",
                    SeatState::Inactive,
                    Some(SeatReason::NeverVerified),
                ),
                person("p6", "a1b2c3", SeatState::Active, None),
            ],
            true,
        )
    }

    /// (email, login, aliases) -> (person id, matched by, address) or None.
    fn check_match(
        email: Option<&str>,
        login: Option<&str>,
        aliases: &[&str],
        expected: Option<(&str, &str, &str)>,
    ) {
        let people = people();
        let aliases: Vec<String> = aliases.iter().map(|a| (*a).to_owned()).collect();
        let account = Account {
            account_id: "a",
            login,
            email,
            aliases: &aliases,
            enabled: true,
            account_type: "member",
        };
        let got = match_account(&account, &people).map(|m| {
            (
                people.get(m.person).person_id.clone(),
                m.by.as_str(),
                m.address,
            )
        });
        let expected = expected.map(|(p, by, a)| (p.to_owned(), by, a.to_owned()));
        assert_eq!(got, expected, "{email:?} {login:?} {aliases:?}");
    }

    #[test]
    fn accounts_match_by_email_then_login_then_aliases() {
        check_match(
            Some(" ANA@acme.test "),
            None,
            &[],
            Some(("p1", "email", "ana@acme.test")),
        );
        check_match(
            Some("nobody@acme.test"),
            Some("bo@acme.test"),
            &["ana@acme.test"],
            Some(("p2", "login", "bo@acme.test")),
        );
        check_match(
            Some("x@acme.test"),
            Some("y@acme.test"),
            &["z@acme.test", "SMTP:Cy@acme.test", "ana@acme.test"],
            Some(("p3", "alias", "cy@acme.test")),
        );
        // The email wins over a login naming someone else.
        check_match(
            Some("di@acme.test"),
            Some("ana@acme.test"),
            &[],
            Some(("p4", "email", "di@acme.test")),
        );
        // Pseudonyms match like addresses.
        check_match(Some("A1B2C3"), None, &[], Some(("p6", "email", "a1b2c3")));
        check_match(Some("x@acme.test"), None, &["smtp:"], None);
        check_match(None, None, &[], None);
    }

    /// (person, enabled, account type, login, activity state, hr complete) -> (state, reason)
    type Case<'a> = (
        Option<&'a str>,
        bool,
        &'a str,
        &'a str,
        LicenceState,
        bool,
        &'a str,
        &'a str,
    );

    #[test]
    fn states_follow_the_rules_in_order() {
        let people = people();
        let rules = ExclusionRules::new([
            ("account_type", "guest"),
            ("login_pattern", "svc-*@*"),
            ("account", "Kiosk@acme.test"),
        ]);
        let cases: &[Case<'_>] = &[
            (
                Some("p1"),
                true,
                "guest",
                "g@x.test",
                LicenceState::InUse,
                true,
                "excluded",
                "guest_account",
            ),
            (
                None,
                true,
                "member",
                "SVC-build@acme.test",
                LicenceState::Idle,
                true,
                "excluded",
                "login_pattern",
            ),
            (
                None,
                true,
                "member",
                "kiosk@acme.test",
                LicenceState::Idle,
                true,
                "excluded",
                "listed_account",
            ),
            (
                Some("p2"),
                false,
                "member",
                "bo@acme.test",
                LicenceState::DisabledHolding,
                true,
                "orphaned",
                "person_offboarded",
            ),
            (
                Some("p3"),
                true,
                "member",
                "cy@acme.test",
                LicenceState::InUse,
                true,
                "orphaned",
                "ended_not_offboarded",
            ),
            (
                Some("p1"),
                false,
                "member",
                "ana@acme.test",
                LicenceState::DisabledHolding,
                true,
                "disabled_holding",
                "account_disabled",
            ),
            (
                None,
                false,
                "member",
                "zz@acme.test",
                LicenceState::DisabledHolding,
                true,
                "disabled_holding",
                "account_disabled",
            ),
            (
                None,
                true,
                "service",
                "svc@acme.test",
                LicenceState::InUse,
                true,
                "unidentified",
                "no_matching_person",
            ),
            (
                None,
                true,
                "member",
                "zz@acme.test",
                LicenceState::Idle,
                false,
                "idle",
                "no_recent_activity",
            ),
            (
                Some("p4"),
                true,
                "member",
                "di@acme.test",
                LicenceState::NeverUsed,
                true,
                "pre_hire",
                "not_started",
            ),
            (
                Some("p5"),
                true,
                "member",
                "ed@acme.test",
                LicenceState::UnknownActivity,
                true,
                "unknown_activity",
                "activity_unavailable",
            ),
            (
                Some("p1"),
                true,
                "member",
                "ana@acme.test",
                LicenceState::NeverUsed,
                true,
                "never_used",
                "no_activity",
            ),
            (
                Some("p1"),
                true,
                "member",
                "ana@acme.test",
                LicenceState::Idle,
                true,
                "idle",
                "no_recent_activity",
            ),
            (
                Some("p1"),
                true,
                "member",
                "ana@acme.test",
                LicenceState::InUse,
                true,
                "in_use",
                "recent_activity",
            ),
            (
                Some("p1"),
                true,
                "member",
                "ana@acme.test",
                LicenceState::Other("dormant".into()),
                true,
                "unknown_activity",
                "dormant",
            ),
        ];
        for (person, enabled, kind, login, activity, complete, state, reason) in cases {
            let person = person.map(|id| people.people.iter().find(|p| p.person_id == id).unwrap());
            let account = Account {
                account_id: "acc",
                login: Some(login),
                email: None,
                aliases: &[],
                enabled: *enabled,
                account_type: kind,
            };
            let agent_reason = match activity {
                LicenceState::DisabledHolding => Some("account_disabled"),
                LicenceState::UnknownActivity => Some("activity_unavailable"),
                LicenceState::NeverUsed => Some("no_activity"),
                LicenceState::Idle => Some("no_recent_activity"),
                LicenceState::InUse => Some("recent_activity"),
                LicenceState::Other(_) => None,
            };
            let got = classify(
                &account,
                person,
                *complete,
                &Activity {
                    state: activity,
                    reason: agent_reason,
                    since: None,
                },
                &rules,
            );
            assert_eq!(
                (got.state.as_str(), got.reason.as_deref()),
                (*state, Some(*reason)),
                "{person:?} {login} {activity:?}"
            );
        }
    }

    #[test]
    fn globs_match_whole_names() {
        let cases = [
            ("svc-*", "svc-build@acme.test", true),
            ("svc-*@acme.test", "svc-x@acme.test", true),
            ("svc-*@acme.test", "svc-x@other.test", false),
            ("*admin*", "it-admin@acme.test", true),
            ("a?c", "abc", true),
            ("a?c", "abbc", false),
            ("*", "", true),
            ("x", "xy", false),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(glob_match(pattern, text), expected, "{pattern} {text}");
        }
    }
}
