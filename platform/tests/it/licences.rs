//! Application licences: intake of schema-2 snapshots, organisations, the join with HR
//! people (every state, the matching order, pseudonyms, a missing HR side), history,
//! exclusion rules and prices, on SQLite and PostgreSQL; then the licence report and pages
//! through HTTP, and a recent application sign-in contradicting `never_verified` on the
//! inactive seats and the overview.

use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use seatbroker_platform::{PartOutcome, PartRefusal, Price, Store, StoreError};
use seatbroker_protocol::{
    AccountRecord, AccountType, LicenceHeld, LicencePolicy, LicencePool, LicenceReason,
    LicenceSnapshot, LicenceState, LicenceStateCounts, SeatReason, SeatRecord, SeatState,
    SnapshotPayload, SourceKind,
};
use sqlx::Row;

use crate::console::{ADMIN_PASSWORD, Platform, Session, VIEWER_PASSWORD, create_users};
use crate::{TestDb, enroll_request, parts, payload, seat, t0};

pub(crate) const E3: &str = "sku-e3";

/// An HR person with a work email and a state.
fn person(id: &str, email: &str, state: SeatState, reason: Option<SeatReason>) -> SeatRecord {
    let mut s = seat(id, state);
    s.work_email = Some(email.to_owned());
    s.name = Some(format!("Name {id}"));
    if reason.is_some() {
        s.reason = reason;
    }
    s
}

pub(crate) fn hr_people(ana_offboarded: bool) -> Vec<SeatRecord> {
    let ana = if ana_offboarded {
        person(
            "p1",
            "ana@acme.test",
            SeatState::Offboarded,
            Some(SeatReason::Offboarded),
        )
    } else {
        person("p1", "Ana@Acme.test", SeatState::Active, None)
    };
    let mut ed = person("p6", "ed@acme.test", SeatState::Active, None);
    ed.manager_id = Some("p1".to_owned());
    ed.department = Some("Sales".to_owned());
    vec![
        ana,
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
        // A pseudonymised work email: the agent hashed the normalised address.
        person("p5", "5f3a9c0e", SeatState::Active, None),
        ed,
    ]
}

/// An account holding `licences` (pool, activity state).
fn account(
    id: &str,
    email: Option<&str>,
    login: &str,
    aliases: &[&str],
    enabled: bool,
    kind: AccountType,
    licences: &[(&str, LicenceState)],
) -> AccountRecord {
    AccountRecord {
        account_id: id.to_owned(),
        login: Some(login.to_owned()),
        email: email.map(str::to_owned),
        aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
        enabled,
        account_type: kind,
        created: Some(t0() - Duration::days(400)),
        last_activity: Some(t0() - Duration::days(3)),
        licences: licences
            .iter()
            .map(|(pool, state)| LicenceHeld {
                pool_id: (*pool).to_owned(),
                assigned: None,
                reason: Some(match state {
                    LicenceState::DisabledHolding => LicenceReason::AccountDisabled,
                    LicenceState::UnknownActivity => LicenceReason::ActivityUnavailable,
                    LicenceState::NeverUsed => LicenceReason::NoActivity,
                    LicenceState::Idle => LicenceReason::NoRecentActivity,
                    _ => LicenceReason::RecentActivity,
                }),
                state: state.clone(),
                since: None,
            })
            .collect(),
    }
}

/// The tenant's accounts: (account, expected state once HR is in, expected match).
fn directory(drop_ed_licence: bool) -> Vec<(AccountRecord, &'static str, Option<&'static str>)> {
    use AccountType::{Guest, Member};
    use LicenceState::*;
    let mut out = vec![
        (
            account(
                "a01",
                Some("ana@acme.test"),
                "ana@acme.onmicrosoft.test",
                &[],
                true,
                Member,
                &[(E3, InUse)],
            ),
            "in_use",
            Some("email"),
        ),
        (
            account(
                "a02",
                None,
                "BO@acme.test",
                &[],
                false,
                Member,
                &[(E3, DisabledHolding)],
            ),
            "orphaned",
            Some("login"),
        ),
        (
            account(
                "a03",
                Some("x@other.test"),
                "cy.x@acme.test",
                &["smtp:old@acme.test", "SMTP:Cy@acme.test"],
                true,
                Member,
                &[(E3, InUse)],
            ),
            "orphaned",
            Some("alias"),
        ),
        (
            account(
                "a04",
                Some("di@acme.test"),
                "di@acme.test",
                &[],
                true,
                Member,
                &[(E3, NeverUsed)],
            ),
            "pre_hire",
            Some("email"),
        ),
        (
            account(
                "a05",
                Some("5F3A9C0E"),
                "5f3a9c0e",
                &[],
                true,
                Member,
                &[(E3, Idle)],
            ),
            "idle",
            Some("email"),
        ),
        (
            account(
                "a07",
                Some("guest@partner.test"),
                "guest_partner.test#EXT#@acme.test",
                &[],
                true,
                Guest,
                &[(E3, InUse)],
            ),
            "excluded",
            None,
        ),
        (
            account(
                "a08",
                Some("svc-backup@acme.test"),
                "svc-backup@acme.test",
                &[],
                true,
                Member,
                &[(E3, NeverUsed)],
            ),
            "unidentified",
            None,
        ),
        (
            account(
                "a09",
                Some("nobody@acme.test"),
                "nobody@acme.test",
                &[],
                true,
                Member,
                &[(E3, UnknownActivity)],
            ),
            "unidentified",
            None,
        ),
        (
            account(
                "a10",
                None,
                "ed.second@acme.test",
                &["ed@acme.test"],
                true,
                Member,
                &[(E3, NeverUsed)],
            ),
            "never_used",
            Some("alias"),
        ),
        (
            account(
                "a11",
                Some("ed@acme.test"),
                "ed@acme.test",
                &[],
                true,
                Member,
                &[],
            ),
            "",
            Some("email"),
        ),
    ];
    let ed = account(
        "a06",
        Some("ed@acme.test"),
        "ed@acme.test",
        &[],
        false,
        Member,
        &[(E3, DisabledHolding)],
    );
    if !drop_ed_licence {
        out.push((ed, "disabled_holding", Some("email")));
    }
    out
}

fn app_payload(
    local: &str,
    tenant: &str,
    collected_at: DateTime<Utc>,
    accounts: Vec<AccountRecord>,
    pools: Vec<LicencePool>,
) -> SnapshotPayload {
    let mut p = payload(local, tenant, collected_at, Vec::new());
    p.schema = 2;
    p.findings.clear();
    let mut counts = LicenceStateCounts::default();
    for a in &accounts {
        for l in &a.licences {
            counts.add(&l.state);
        }
    }
    p.licences = Some(LicenceSnapshot {
        as_of: collected_at.date_naive(),
        activity_available: true,
        policy: LicencePolicy::default(),
        accounts_total: accounts.len() as u64,
        counts,
        pools,
        accounts,
        unparsable_records: Vec::new(),
        delta: None,
    });
    p
}

fn entra(collected_at: DateTime<Utc>, drop_ed_licence: bool) -> SnapshotPayload {
    let accounts: Vec<AccountRecord> = directory(drop_ed_licence)
        .into_iter()
        .map(|(a, _, _)| a)
        .collect();
    let assigned = accounts.iter().filter(|a| !a.licences.is_empty()).count() as u64;
    let pools = vec![LicencePool {
        id: E3.to_owned(),
        name: "ENTERPRISEPACK".to_owned(),
        application: None,
        purchased: Some(15),
        assigned,
        unassigned: Some(15 - assigned),
    }];
    app_payload("m365", "contoso", collected_at, accounts, pools)
}

fn slack(collected_at: DateTime<Utc>) -> SnapshotPayload {
    let pools = vec![LicencePool {
        id: "Slack/Pro".to_owned(),
        name: "Pro".to_owned(),
        application: Some("Slack".to_owned()),
        purchased: Some(5),
        assigned: 2,
        unassigned: Some(3),
    }];
    let accounts = vec![
        account(
            "ana",
            Some("ana@acme.test"),
            "ana",
            &[],
            true,
            AccountType::Member,
            &[("Slack/Pro", LicenceState::Idle)],
        ),
        account(
            "bo",
            Some("bo@acme.test"),
            "bo",
            &[],
            true,
            AccountType::Member,
            &[("Slack/Pro", LicenceState::InUse)],
        ),
    ];
    app_payload("slack", "slack-export", collected_at, accounts, pools)
}

/// The agent, its HR, Entra ID and seat-list sources, all approved.
pub(crate) struct Fixture {
    pub(crate) agent_id: String,
    pub(crate) hr: String,
    /// The HR source's tenant id, which its uploads must carry.
    pub(crate) hr_tenant: String,
    pub(crate) entra: String,
    pub(crate) slack: String,
}

pub(crate) async fn setup(store: &Store) -> Fixture {
    setup_hr(store, "acme", "acme Ltd").await
}

/// [`setup`] with the HR source's tenant id and name (the source is named after the tenant).
pub(crate) async fn setup_hr(store: &Store, tenant_id: &str, tenant_name: &str) -> Fixture {
    let token = store
        .create_enrollment_token("admin", "test", None, None)
        .await
        .unwrap();
    let mut request = enroll_request(
        &token.token,
        &[
            ("hr", tenant_id),
            ("m365", "contoso"),
            ("slack", "slack-export"),
        ],
    );
    request.sources[0].tenant_name = tenant_name.to_owned();
    request.sources[1].kind = SourceKind::EntraId;
    request.sources[2].kind = SourceKind::SeatList;
    let agent = match store.enroll(&request).await.unwrap() {
        seatbroker_platform::EnrollmentOutcome::Enrolled(agent) => agent,
        other => panic!("{other:?}"),
    };
    store.approve_agent("admin", &agent.agent_id).await.unwrap();
    let mut ids = Vec::new();
    for link in &agent.links {
        let source = store
            .approve_source_as_new("admin", &link.id, None)
            .await
            .unwrap();
        ids.push(source.id);
    }
    Fixture {
        agent_id: agent.agent_id,
        hr: ids[0].clone(),
        hr_tenant: tenant_id.to_owned(),
        entra: ids[1].clone(),
        slack: ids[2].clone(),
    }
}

async fn send(
    store: &Store,
    agent_id: &str,
    payload: &SnapshotPayload,
    source_id: &str,
    sequence: u64,
) -> PartOutcome {
    let snapshot_id = seatbroker_platform::new_id();
    send_as(store, agent_id, payload, source_id, sequence, &snapshot_id).await
}

async fn send_as(
    store: &Store,
    agent_id: &str,
    payload: &SnapshotPayload,
    source_id: &str,
    sequence: u64,
    snapshot_id: &str,
) -> PartOutcome {
    let mut last = None;
    for part in parts(payload, snapshot_id, source_id, sequence, 64 * 1024) {
        let chunk = part.chunk().unwrap();
        last = Some(store.receive_part(agent_id, &part, chunk).await.unwrap());
    }
    last.unwrap()
}

pub(crate) async fn applied(
    store: &Store,
    agent_id: &str,
    payload: &SnapshotPayload,
    source: &str,
    seq: u64,
) {
    match send(store, agent_id, payload, source, seq).await {
        PartOutcome::Stored(r) if r.snapshot_applied => {}
        other => panic!("not applied: {other:?}"),
    }
}

/// (account, state, reason) of a source's licences, sorted.
async fn states(store: &Store, source: &str) -> Vec<(String, String)> {
    sqlx::query("SELECT account_id, state FROM licences_current WHERE source_id = $1 ORDER BY account_id, pool_id")
        .bind(source)
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query(sql)
        .fetch_one(store.pool())
        .await
        .unwrap()
        .try_get::<i64, _>(0)
        .unwrap()
}

fn expected(drop_ed_licence: bool) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = directory(drop_ed_licence)
        .into_iter()
        .filter(|(_, state, _)| !state.is_empty())
        .map(|(a, state, _)| (a.account_id, state.to_owned()))
        .collect();
    out.sort();
    out
}

/// HR then Entra ID, as the demo does: the join as the truth has it.
pub(crate) async fn load(store: &Store, f: &Fixture) {
    applied(
        store,
        &f.agent_id,
        &payload("hr", &f.hr_tenant, t0(), hr_people(false)),
        &f.hr,
        1,
    )
    .await;
    applied(store, &f.agent_id, &entra(t0(), false), &f.entra, 1).await;
    applied(store, &f.agent_id, &slack(t0()), &f.slack, 1).await;
}

on_both_backends!(licence_join, licence_join_body);
async fn licence_join_body(db: TestDb) {
    let store = &db.store;
    let f = setup(store).await;
    // One organisation: the HR source created it, both app sources joined it by default.
    let orgs = store.list_organisations().await.unwrap();
    assert_eq!(orgs.len(), 1, "{orgs:?}");
    assert_eq!(orgs[0].hr_source_id.as_deref(), Some(f.hr.as_str()));
    let members = count(
        store,
        &format!(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM sources WHERE organisation_id = '{}'",
            orgs[0].id
        ),
    )
    .await;
    assert_eq!(members, 3);

    // Entra ID before any HR upload: nobody is called unidentified or orphaned.
    applied(store, &f.agent_id, &entra(t0(), false), &f.entra, 1).await;
    let before = states(store, &f.entra).await;
    assert!(
        before
            .iter()
            .all(|(_, s)| s != "unidentified" && s != "orphaned"),
        "{before:?}"
    );
    assert!(
        before.contains(&("a09".to_owned(), "unknown_activity".to_owned())),
        "{before:?}"
    );
    assert!(
        before.contains(&("a07".to_owned(), "excluded".to_owned())),
        "{before:?}"
    );
    // A first load opens one period per licence, on its own row: no closed one yet.
    let history_rows = format!(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM licence_history WHERE source_id = '{}'",
        f.entra
    );
    assert_eq!(count(store, &history_rows).await, 0);

    // The HR upload recomputes the join in its own transaction.
    applied(
        store,
        &f.agent_id,
        &payload("hr", "acme", t0() + Duration::hours(1), hr_people(false)),
        &f.hr,
        1,
    )
    .await;
    assert_eq!(states(store, &f.entra).await, expected(false));
    // The HR upload moved some licences out of the state they were first seen in: one
    // closed period each.
    assert!(count(store, &history_rows).await > 0);
    let matches: Vec<(String, Option<String>, Option<String>)> = sqlx::query(
        "SELECT account_id, person_id, matched_by FROM app_accounts WHERE source_id = $1 ORDER BY account_id",
    )
    .bind(&f.entra)
    .fetch_all(store.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect();
    for (account, _, by) in directory(false) {
        let got = matches.iter().find(|m| m.0 == account.account_id).unwrap();
        assert_eq!(got.2.as_deref(), by, "{}", account.account_id);
    }
    let a05 = matches.iter().find(|m| m.0 == "a05").unwrap();
    assert_eq!(a05.1.as_deref(), Some("p5"), "pseudonyms match");
    let pools = count(
        store,
        &format!(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM licence_pools WHERE source_id = '{}'",
            f.entra
        ),
    )
    .await;
    assert_eq!(pools, 1);

    // The same content again: idempotent, storage does not grow.
    let history = |store: &Store| {
        let sql = format!(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM licence_periods WHERE source_id = '{}'",
            f.entra
        );
        let store = store.clone();
        async move { count(&store, &sql).await }
    };
    let rows = history(store).await;
    applied(
        store,
        &f.agent_id,
        &entra(t0() + Duration::hours(2), false),
        &f.entra,
        2,
    )
    .await;
    assert_eq!(history(store).await, rows);
    assert_eq!(states(store, &f.entra).await, expected(false));

    // Ana leaves: her licence turns orphaned on the HR upload; one history row more.
    applied(
        store,
        &f.agent_id,
        &payload("hr", "acme", t0() + Duration::hours(3), hr_people(true)),
        &f.hr,
        2,
    )
    .await;
    let now = states(store, &f.entra).await;
    assert!(
        now.contains(&("a01".to_owned(), "orphaned".to_owned())),
        "{now:?}"
    );
    assert_eq!(history(store).await, rows + 1);
    let open_a01 = count(store, &format!("SELECT CAST(COUNT(*) AS BIGINT) FROM licence_periods WHERE source_id = '{}' AND account_id = 'a01' AND valid_to IS NULL", f.entra)).await;
    assert_eq!(open_a01, 1);

    // Ed's disabled account loses its licence: reclaimed, its history row closed.
    applied(
        store,
        &f.agent_id,
        &entra(t0() + Duration::hours(4), true),
        &f.entra,
        3,
    )
    .await;
    assert!(
        !states(store, &f.entra)
            .await
            .iter()
            .any(|(a, _)| a == "a06")
    );
    let a06 = sqlx::query(
        "SELECT state, valid_to FROM licence_periods WHERE source_id = $1 AND account_id = 'a06'",
    )
    .bind(&f.entra)
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(a06.len(), 1);
    assert_eq!(a06[0].get::<String, _>(0), "disabled_holding");
    assert!(a06[0].get::<Option<String>, _>(1).is_some(), "closed");

    // An HR token without private access: leavers may be missing, so nobody is unidentified.
    let mut public_only = payload("hr", "acme", t0() + Duration::hours(5), hr_people(true));
    public_only.collection.private_access = false;
    applied(store, &f.agent_id, &public_only, &f.hr, 3).await;
    let now = states(store, &f.entra).await;
    assert!(now.iter().all(|(_, s)| s != "unidentified"), "{now:?}");
    assert!(
        now.contains(&("a01".to_owned(), "orphaned".to_owned())),
        "matched ones still join: {now:?}"
    );
    let hr = payload("hr", "acme", t0() + Duration::hours(6), hr_people(true));
    applied(store, &f.agent_id, &hr, &f.hr, 4).await;
    assert!(
        states(store, &f.entra)
            .await
            .contains(&("a09".to_owned(), "unidentified".to_owned()))
    );

    // Exclusion rules: audited, recomputed at once, and undone on removal.
    store
        .add_exclusion_rule("alice", "login_pattern", "SVC-*@*")
        .await
        .unwrap();
    assert!(
        states(store, &f.entra)
            .await
            .contains(&("a08".to_owned(), "excluded".to_owned()))
    );
    let rule = store
        .list_exclusion_rules()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.kind == "login_pattern")
        .unwrap();
    assert_eq!(rule.value, "svc-*@*");
    store
        .remove_exclusion_rule("alice", &rule.id)
        .await
        .unwrap();
    assert!(
        states(store, &f.entra)
            .await
            .contains(&("a08".to_owned(), "unidentified".to_owned()))
    );
    // Removing the default guest rule makes the guest an unidentified holder.
    store
        .remove_exclusion_rule("alice", "default-guest")
        .await
        .unwrap();
    assert!(
        states(store, &f.entra)
            .await
            .contains(&("a07".to_owned(), "unidentified".to_owned()))
    );
    assert!(matches!(
        store.add_exclusion_rule("alice", "colour", "blue").await,
        Err(StoreError::InvalidState(_))
    ));

    // Prices: audited, only on application sources and their pools.
    let price = Price::parse("10", "EUR", "month").unwrap();
    store
        .set_price("alice", &f.entra, E3, &price)
        .await
        .unwrap();
    store
        .set_price("alice", &f.slack, "", &price)
        .await
        .unwrap();
    assert!(matches!(
        store.set_price("alice", &f.hr, "", &price).await,
        Err(StoreError::InvalidState(_))
    ));
    assert!(matches!(
        store.set_price("alice", &f.entra, "nope", &price).await,
        Err(StoreError::NotFound { .. })
    ));
    let actions: Vec<String> = store
        .list_audit(100, None)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    for action in ["exclusion.add", "exclusion.remove", "price.set"] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }

    // An app source that sends HR data only is refused; nothing is stored.
    let hr_shaped = payload(
        "m365",
        "contoso",
        t0() + Duration::hours(5),
        hr_people(false),
    );
    match send(store, &f.agent_id, &hr_shaped, &f.entra, 4).await {
        PartOutcome::Refused(PartRefusal::PayloadInvalid(message)) => {
            assert!(message.contains("no licences section"), "{message}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let seats = count(
        store,
        &format!(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM seats_current WHERE source_id = '{}'",
            f.entra
        ),
    )
    .await;
    assert_eq!(seats, 0);
}

on_both_backends!(organisations_on_approval, organisations_on_approval_body);
async fn organisations_on_approval_body(db: TestDb) {
    let store = &db.store;
    let token = store
        .create_enrollment_token("admin", "t", None, None)
        .await
        .unwrap();
    // An app source approved first makes an organisation without HR; the HR source joins it.
    let mut request = enroll_request(
        &token.token,
        &[
            ("m365", "contoso"),
            ("hr", "acme"),
            ("hr2", "globex"),
            ("slack", "s"),
        ],
    );
    request.sources[0].kind = SourceKind::EntraId;
    request.sources[3].kind = SourceKind::SeatList;
    let seatbroker_platform::EnrollmentOutcome::Enrolled(agent) =
        store.enroll(&request).await.unwrap()
    else {
        panic!("not enrolled")
    };
    store.approve_agent("admin", &agent.agent_id).await.unwrap();
    store
        .approve_source_as_new("admin", &agent.links[0].id, None)
        .await
        .unwrap();
    let orgs = store.list_organisations().await.unwrap();
    assert_eq!((orgs.len(), orgs[0].hr_source_id.clone()), (1, None));
    store
        .approve_source_as_new("admin", &agent.links[1].id, None)
        .await
        .unwrap();
    let orgs = store.list_organisations().await.unwrap();
    assert_eq!(orgs.len(), 1);
    assert_eq!(
        orgs[0].hr_source_id.as_deref(),
        Some(agent.links[1].id.as_str())
    );
    // A second HR source makes a second organisation; an app source must then choose.
    store
        .approve_source_as_new("admin", &agent.links[2].id, None)
        .await
        .unwrap();
    let orgs = store.list_organisations().await.unwrap();
    assert_eq!(orgs.len(), 2);
    let refused = store
        .approve_source_as_new("admin", &agent.links[3].id, None)
        .await;
    assert!(
        matches!(&refused, Err(StoreError::InvalidState(m)) if m.contains("choose")),
        "{refused:?}"
    );
    let globex = orgs
        .iter()
        .find(|o| o.hr_source_id.as_deref() == Some(agent.links[2].id.as_str()))
        .unwrap();
    store
        .approve_source_into("admin", &agent.links[3].id, None, Some(&globex.id))
        .await
        .unwrap();
    let org_of_slack: Option<String> =
        sqlx::query("SELECT organisation_id FROM sources WHERE id = $1")
            .bind(&agent.links[3].id)
            .fetch_one(store.pool())
            .await
            .unwrap()
            .get(0);
    assert_eq!(org_of_slack.as_deref(), Some(globex.id.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn licence_report_and_pages() {
    let db = TestDb::sqlite().await;
    let store = &db.store;
    create_users(store).await;
    let f = setup(store).await;
    load(store, &f).await;
    let platform = Platform::start(store.clone()).await;
    let mut alice = Session::new(&platform.url);
    alice.login_ok("alice", ADMIN_PASSWORD).await;

    let (status, body) = alice.get_json("/api/v1/reports/licences").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let org = &body["organisations"][0];
    let counts = serde_json::json!({
        "excluded": 1, "orphaned": 3, "disabled_holding": 1, "unidentified": 2, "pre_hire": 1,
        "unknown_activity": 0, "never_used": 1, "idle": 2, "in_use": 1,
    });
    assert_eq!(org["counts"], counts, "{body}");
    // E3: 15 - 10 = 5 unassigned; Slack Pro: 3.
    assert_eq!(org["unassigned"], 8);
    assert_eq!(org["reclaimable"], 8 + 3 + 1 + 1 + 2);
    assert_eq!(org["monthly_savings"], serde_json::json!({}));
    let apps = org["applications"].as_array().unwrap();
    assert_eq!(apps.len(), 2, "one entry per pool");
    let e3 = apps
        .iter()
        .find(|a| a["source_kind"] == "entra_id")
        .unwrap();
    assert_eq!(e3["pool"], "ENTERPRISEPACK");
    assert_eq!(
        (e3["purchased"].as_u64(), e3["assigned"].as_u64()),
        (Some(15), Some(10))
    );
    assert_eq!(e3["reclaimable"], 5 + 2 + 1 + 1 + 1);
    assert_eq!(e3["price"], serde_json::Value::Null);
    let pro = apps
        .iter()
        .find(|a| a["source_kind"] == "seat_list")
        .unwrap();
    assert_eq!(
        (pro["name"].as_str(), pro["pool"].as_str()),
        (Some("Slack"), Some("Pro"))
    );
    let keys: Vec<&String> = org.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "applications",
            "counts",
            "monthly_savings",
            "name",
            "reclaimable",
            "unassigned"
        ]
    );

    // A price turns reclaimable seats into money; a viewer cannot set one.
    let page = alice
        .act(
            "/applications/price",
            &[
                ("source", &f.entra),
                ("pool", E3),
                ("amount", "12.50"),
                ("currency", "eur"),
                ("period", "month"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let bad = alice
        .act(
            "/applications/price",
            &[
                ("source", &f.entra),
                ("pool", E3),
                ("amount", "12,5"),
                ("currency", "EUR"),
                ("period", "month"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let (_, body) = alice.get_json("/api/v1/reports/licences").await;
    assert_eq!(
        body["organisations"][0]["monthly_savings"],
        serde_json::json!({"EUR": 125.0})
    );
    let mut victor = Session::new(&platform.url);
    victor.login_ok("victor", VIEWER_PASSWORD).await;
    let refused = victor
        .act(
            "/applications/price",
            &[
                ("source", &f.entra),
                ("pool", E3),
                ("amount", "1"),
                ("currency", "EUR"),
                ("period", "month"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let page = victor.get("/applications").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("12.50 EUR / month"),
        "viewers see prices"
    );
    assert!(!page.body.contains("set-price"), "but get no form");

    // Reclaim: one row per reclaimable seat held; filters checked; CSV keeps codes.
    let (status, body) = alice.get_json("/api/v1/reports/reclaim").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total"], 3 + 1 + 1 + 2);
    let (_, body) = alice
        .get_json("/api/v1/reports/reclaim?state=orphaned&sort=person")
        .await;
    let rows = body["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    for row in rows {
        let cost = if row["source_kind"] == "entra_id" {
            serde_json::json!(12.5)
        } else {
            serde_json::Value::Null
        };
        assert_eq!(row["monthly_cost"], cost, "{row}");
    }
    let (status, body) = alice.get_json("/api/v1/reports/reclaim?state=asleep").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("orphaned"),
        "{body}"
    );
    let (status, _) = alice.get_json("/api/v1/reports/reclaim?sort=shoe").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, body) = alice
        .get_json("/api/v1/reports/reclaim?department=Sales")
        .await;
    assert_eq!(
        body["total"], 2,
        "Ed's disabled and never-used accounts: {body}"
    );
    // A manager filter (planned people first on SQLite) finds the same two, and a state
    // narrows them.
    let (_, body) = alice.get_json("/api/v1/reports/reclaim?manager=p1").await;
    assert_eq!(body["total"], 2, "Ed reports to Ana: {body}");
    let (_, body) = alice
        .get_json("/api/v1/reports/reclaim?manager=p1&state=never_used&department=Sales")
        .await;
    assert_eq!(body["total"], 1, "{body}");
    assert_eq!(body["rows"][0]["account_id"], "a10", "{body}");
    let page = alice.get("/reclaim?application=Slack").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("Idle") && page.body.contains("/people/p1"),
        "{}",
        page.body
    );
    let csv = alice.get("/reclaim.csv?state=orphaned").await;
    assert!(
        csv.body.starts_with("application,source_kind,licence"),
        "{}",
        csv.body
    );
    assert!(csv.body.contains("ended_not_offboarded"));

    // The person page says which address matched; the overview leads with licences.
    let page = alice.get("/people/p3").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("by its alias cy@acme.test"),
        "{}",
        page.body
    );
    let (status, body) = alice.get_json("/api/v1/reports/people/p6").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["accounts"].as_array().unwrap().len(), 3, "{body}");
    let (status, _) = alice.get_json("/api/v1/reports/people/nobody").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let page = alice.get("/").await;
    assert!(
        page.body.contains("id=\"licences-reclaimable\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("125.00 EUR"), "{}", page.body);

    // Exclusion rules through the console: admins only.
    let page = alice
        .act(
            "/exclusions",
            &[("kind", "login_pattern"), ("value", "svc-*")],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let (_, body) = alice.get_json("/api/v1/reports/licences").await;
    assert_eq!(body["organisations"][0]["counts"]["excluded"], 2);
    let refused = victor
        .act("/exclusions", &[("kind", "account"), ("value", "x")])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let bad = alice
        .act("/exclusions", &[("kind", "colour"), ("value", "x")])
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

// Two HR people only the never-verified heuristic makes inactive; the Entra ID tenant
// shows Fay signing in three days ago (a licence in use) and Gus idle.
on_both_backends!(prefer_app_activity, prefer_app_activity_body);
async fn prefer_app_activity_body(db: TestDb) {
    let store = &db.store;
    create_users(store).await;
    let f = setup(store).await;
    let never_verified = |id: &str, email: &str| {
        person(
            id,
            email,
            SeatState::Inactive,
            Some(SeatReason::NeverVerified),
        )
    };
    let people = vec![
        never_verified("p7", "fay@acme.test"),
        never_verified("p8", "gus@acme.test"),
    ];
    applied(
        store,
        &f.agent_id,
        &payload("hr", "acme", t0(), people),
        &f.hr,
        1,
    )
    .await;
    let accounts = vec![
        account(
            "a20",
            Some("fay@acme.test"),
            "fay@acme.test",
            &[],
            true,
            AccountType::Member,
            &[(E3, LicenceState::InUse)],
        ),
        account(
            "a21",
            Some("gus@acme.test"),
            "gus@acme.test",
            &[],
            true,
            AccountType::Member,
            &[(E3, LicenceState::Idle)],
        ),
    ];
    let pools = vec![LicencePool {
        id: E3.to_owned(),
        name: "ENTERPRISEPACK".to_owned(),
        application: None,
        purchased: Some(2),
        assigned: 2,
        unassigned: Some(0),
    }];
    let tenant = app_payload("m365", "contoso", t0(), accounts, pools);
    applied(store, &f.agent_id, &tenant, &f.entra, 1).await;

    let platform = Platform::start(store.clone()).await;
    let mut alice = Session::new(&platform.url);
    alice.login_ok("alice", ADMIN_PASSWORD).await;
    // `account` puts the last sign-in three days before t0.
    let fay = "Microsoft 365 2025-05-30";
    let sentence = "signed in to Microsoft 365 on 2025-05-30: the never-verified heuristic does not hold for this person";

    let (status, body) = alice
        .get_json("/api/v1/reports/inactive-seats?sort=person&dir=asc")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rows = body["rows"].as_array().unwrap();
    let found: Vec<(&str, &str, &serde_json::Value)> = rows
        .iter()
        .map(|r| {
            (
                r["person_id"].as_str().unwrap(),
                r["reason"].as_str().unwrap(),
                &r["app_activity"],
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("p7", "never_verified", &serde_json::json!(fay)),
            ("p8", "never_verified", &serde_json::Value::Null),
        ],
        "{body}"
    );
    // The console only says which signal it prefers: the HR seat itself is unchanged.
    assert_eq!(
        (&rows[0]["state"], &rows[0]["days"]),
        (&serde_json::json!("inactive"), &rows[1]["days"])
    );

    let page = alice.get("/seats").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.body.matches(sentence).count(), 1, "{}", page.body);

    let csv = alice.get("/seats.csv?sort=person&dir=asc").await;
    let lines: Vec<&str> = csv.body.lines().collect();
    assert!(
        lines[0].ends_with(",reason_note,app_activity"),
        "{}",
        csv.body
    );
    assert!(lines[1].starts_with("Name p7,") && lines[1].ends_with(&format!(",{fay}")));
    assert!(
        lines[2].starts_with("Name p8,") && lines[2].ends_with(','),
        "{}",
        csv.body
    );

    let (_, overview) = alice.get_json("/api/v1/reports/overview").await;
    let hr = overview
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["source_id"] == f.hr.as_str())
        .unwrap();
    assert_eq!(
        (
            &hr["inactive_never_verified"],
            &hr["never_verified_contradicted"]
        ),
        (&serde_json::json!(2), &serde_json::json!(1)),
        "{overview}"
    );
    let page = alice.get("/").await;
    assert!(
        page.body
            .contains("1 of them signed in to an application recently"),
        "{}",
        page.body
    );

    // Fay's sign-in grows old: her licence turns idle and nothing contradicts the
    // heuristic any more.
    let mut stale = tenant.clone();
    let licences = stale.licences.as_mut().unwrap();
    let fay_account = &mut licences.accounts[0];
    fay_account.last_activity = Some(t0() - Duration::days(120));
    fay_account.licences[0].state = LicenceState::Idle;
    fay_account.licences[0].reason = Some(LicenceReason::NoRecentActivity);
    licences.counts = LicenceStateCounts::default();
    licences.counts.add(&LicenceState::Idle);
    licences.counts.add(&LicenceState::Idle);
    applied(store, &f.agent_id, &stale, &f.entra, 2).await;
    let (_, body) = alice.get_json("/api/v1/reports/inactive-seats").await;
    let rows = body["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{body}");
    assert!(rows.iter().all(|r| r["app_activity"].is_null()), "{body}");
    let page = alice.get("/seats").await;
    assert!(!page.body.contains("does not hold"), "{}", page.body);
    let csv = alice.get("/seats.csv").await;
    assert!(
        csv.body.lines().skip(1).all(|l| l.ends_with(',')),
        "{}",
        csv.body
    );
    let (_, overview) = alice.get_json("/api/v1/reports/overview").await;
    let hr = overview
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["source_id"] == f.hr.as_str())
        .unwrap();
    assert_eq!(hr["never_verified_contradicted"], 0, "{overview}");
    assert!(!alice.get("/").await.body.contains("of them signed in"));
}

/// A timestamp as the store writes it (fixed width, microseconds).
fn stored_ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// (account, person, matched by, pool, state, reason) of every account of `source`.
async fn joined(store: &Store, source: &str) -> Vec<[Option<String>; 6]> {
    sqlx::query(
        "SELECT a.account_id, a.person_id, a.matched_by, l.pool_id, l.state, l.reason \
         FROM app_accounts a LEFT JOIN licences_current l \
         ON l.source_id = a.source_id AND l.account_id = a.account_id \
         WHERE a.source_id = $1 ORDER BY a.account_id, l.pool_id",
    )
    .bind(source)
    .fetch_all(store.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| std::array::from_fn(|i| r.get::<Option<String>, _>(i)))
    .collect()
}

/// A rule that excludes nobody, added and removed: each recomputes every account's join.
async fn full_rejoin(store: &Store) {
    store
        .add_exclusion_rule("alice", "login_pattern", "nobody-at-all-*@none.invalid")
        .await
        .unwrap();
    let rule = store
        .list_exclusion_rules()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.value.starts_with("nobody-at-all"))
        .unwrap();
    store
        .remove_exclusion_rule("alice", &rule.id)
        .await
        .unwrap();
}

// An HR upload recomputes only the accounts it can move, and an app upload only the accounts
// whose fingerprint changed: the result must equal recomputing every account.
on_both_backends!(scoped_joins_equal_a_full_join, scoped_joins_body);
async fn scoped_joins_body(db: TestDb) {
    let store = &db.store;
    let f = setup(store).await;
    load(store, &f).await;
    let account = |rows: &[[Option<String>; 6]], id: &str| {
        rows.iter()
            .find(|r| r[0].as_deref() == Some(id))
            .cloned()
            .unwrap_or_else(|| panic!("{id} in {rows:?}"))
    };

    // Addresses appear and disappear: a new person takes a03's email (a03 matched Cy by an
    // alias, and Cy did not change), Ed's email moves away from a06, a10 and a11, Bo leaves,
    // and a new person owns the address a09 had nobody for.
    let mut people = hr_people(false);
    people.retain(|p| p.person_id != "p2");
    for p in &mut people {
        if p.person_id == "p6" {
            p.work_email = Some("edward@acme.test".to_owned());
        }
    }
    people.push(person("p7", "X@other.test", SeatState::Active, None));
    people.push(person(
        "p8",
        "nobody@acme.test",
        SeatState::Offboarded,
        Some(SeatReason::Offboarded),
    ));
    applied(
        store,
        &f.agent_id,
        &payload("hr", "acme", t0() + Duration::hours(1), people),
        &f.hr,
        2,
    )
    .await;
    let scoped = joined(store, &f.entra).await;
    let a03 = account(&scoped, "a03");
    assert_eq!(
        (a03[1].as_deref(), a03[2].as_deref()),
        (Some("p7"), Some("email"))
    );
    assert_eq!(account(&scoped, "a10")[4].as_deref(), Some("unidentified"));
    // Bo left: a02 matches nobody; its disabled account still comes first.
    let a02 = account(&scoped, "a02");
    assert_eq!(
        (a02[1].as_deref(), a02[4].as_deref()),
        (None, Some("disabled_holding"))
    );
    let a09 = account(&scoped, "a09");
    assert_eq!(
        (a09[1].as_deref(), a09[4].as_deref()),
        (Some("p8"), Some("orphaned"))
    );
    full_rejoin(store).await;
    assert_eq!(joined(store, &f.entra).await, scoped);

    // Only Ana's account signed in again: its last activity is written, nothing else.
    let licence_rows = |store: &Store| {
        let sql = format!(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM licences_current WHERE source_id = '{}' \
             AND updated_at > '{}'",
            f.entra,
            stored_ts(t0() + Duration::hours(1))
        );
        let store = store.clone();
        async move { count(&store, &sql).await }
    };
    let before = licence_rows(store).await;
    let mut signed_in = entra(t0() + Duration::hours(2), false);
    let at = t0() + Duration::hours(2);
    for a in &mut signed_in.licences.as_mut().unwrap().accounts {
        if a.account_id == "a01" {
            a.last_activity = Some(at);
        }
    }
    applied(store, &f.agent_id, &signed_in, &f.entra, 2).await;
    assert_eq!(licence_rows(store).await, before);
    let last: Option<String> = sqlx::query(
        "SELECT last_activity FROM app_accounts WHERE source_id = $1 AND account_id = 'a01'",
    )
    .bind(&f.entra)
    .fetch_one(store.pool())
    .await
    .unwrap()
    .get(0);
    assert_eq!(last, Some(stored_ts(at)));
    assert_eq!(joined(store, &f.entra).await, scoped);

    // One licence of one account changes: that account is joined again, and still agrees
    // with a full join.
    let mut changed = entra(t0() + Duration::hours(3), false);
    for a in &mut changed.licences.as_mut().unwrap().accounts {
        if a.account_id == "a05" {
            a.licences[0].state = LicenceState::InUse;
            a.licences[0].reason = Some(LicenceReason::RecentActivity);
        }
    }
    applied(store, &f.agent_id, &changed, &f.entra, 3).await;
    let after = joined(store, &f.entra).await;
    assert_eq!(account(&after, "a05")[4].as_deref(), Some("in_use"));
    full_rejoin(store).await;
    assert_eq!(joined(store, &f.entra).await, after);
}

/// The last part's outcome, with the report of an applied snapshot.
fn report_of(outcome: PartOutcome) -> seatbroker_platform::ApplyReport {
    match outcome {
        PartOutcome::Stored(r) if r.snapshot_applied => r.applied.expect("applied by this part"),
        other => panic!("not applied: {other:?}"),
    }
}

fn base_mismatch(outcome: PartOutcome) -> String {
    match outcome {
        PartOutcome::Refused(PartRefusal::BaseMismatch(why)) => why,
        other => panic!("expected base_mismatch, got {other:?}"),
    }
}

/// Every stored column of a source's accounts but the write times.
async fn stored_accounts(store: &Store, source: &str) -> Vec<Vec<Option<String>>> {
    sqlx::query(
        "SELECT account_id, login, email, aliases, account_type, created, last_activity, \
         person_id, matched_by, fingerprint FROM app_accounts WHERE source_id = $1 ORDER BY account_id",
    )
    .bind(source)
    .fetch_all(store.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| (0..10).map(|i| r.get::<Option<String>, _>(i)).collect())
    .collect()
}

// A licence delta applies like the whole collection it stands for; a delta that does not fit
// what the source holds (another base, a digest that does not add up, an account removed that
// is not there) is refused, changes nothing, and the same snapshot then goes whole.
on_both_backends!(licence_deltas, licence_deltas_body);
async fn licence_deltas_body(db: TestDb) {
    let store = &db.store;
    let f = setup(store).await;
    // A work email the database's `lower()` does not normalise as the join does (spaces,
    // non-ASCII): a join of a few accounts reads only some people, and must still find her.
    let mut people = hr_people(false);
    people.push(person("p9", "  NËW@Acme.test ", SeatState::Active, None));
    applied(
        store,
        &f.agent_id,
        &payload("hr", "acme", t0(), people),
        &f.hr,
        1,
    )
    .await;
    let base = entra(t0(), false);
    let base_id = seatbroker_platform::new_id();
    report_of(send_as(store, &f.agent_id, &base, &f.entra, 1, &base_id).await);
    let marks = base.licences.as_ref().unwrap().marks();

    // The next collection: Ed's account and a02 gone, a05 idle, a01 signed in, a new one.
    let at = t0() + Duration::hours(1);
    let mut next = entra(at, true);
    {
        let section = next.licences.as_mut().unwrap();
        section.accounts.retain(|a| a.account_id != "a02");
        for a in &mut section.accounts {
            match a.account_id.as_str() {
                "a01" => a.last_activity = Some(at),
                "a05" => a.licences[0].state = LicenceState::Idle,
                _ => {}
            }
        }
        section.accounts.push(account(
            "a99",
            Some("nëw@acme.test"),
            "nëw@acme.test",
            &[],
            true,
            AccountType::Member,
            &[(E3, LicenceState::NeverUsed)],
        ));
        section.accounts_total = section.accounts.len() as u64;
    }
    let whole = next.licences.clone().unwrap();
    let as_delta = |base_id: &str, marks: &seatbroker_protocol::AccountMarks| {
        let mut p = next.clone();
        p.licences = Some(whole.delta_against(base_id, marks));
        p
    };
    let delta = as_delta(&base_id, &marks);
    let sent = &delta.licences.as_ref().unwrap().accounts;
    assert!(sent.len() < whole.accounts.len() / 2, "{} sent", sent.len());

    // Refused: another base; a digest that does not add up; an account removed that the
    // source does not hold. Nothing changes.
    let before = (
        stored_accounts(store, &f.entra).await,
        joined(store, &f.entra).await,
    );
    let next_id = seatbroker_platform::new_id();
    let why = base_mismatch(
        send_as(
            store,
            &f.agent_id,
            &as_delta("another-snapshot", &marks),
            &f.entra,
            2,
            &next_id,
        )
        .await,
    );
    assert!(why.contains("another-snapshot"), "{why}");
    let altered = |change: fn(&mut seatbroker_protocol::LicenceDelta)| {
        let mut p = delta.clone();
        change(p.licences.as_mut().unwrap().delta.as_mut().unwrap());
        p
    };
    let wrong_digest = altered(|d| d.accounts_digest = "0000000000000000".to_owned());
    let why =
        base_mismatch(send_as(store, &f.agent_id, &wrong_digest, &f.entra, 2, &next_id).await);
    assert!(why.contains("add up"), "{why}");
    let unknown = altered(|d| d.removed_accounts.push("zz-never-seen".to_owned()));
    let why = base_mismatch(send_as(store, &f.agent_id, &unknown, &f.entra, 2, &next_id).await);
    assert!(why.contains("zz-never-seen"), "{why}");
    assert_eq!(
        (
            stored_accounts(store, &f.entra).await,
            joined(store, &f.entra).await
        ),
        before
    );

    // The delta applies, under the id the refusals were sent with.
    let report = report_of(send_as(store, &f.agent_id, &delta, &f.entra, 2, &next_id).await);
    assert_eq!(report.removed, 2);
    let after_delta = (
        stored_accounts(store, &f.entra).await,
        joined(store, &f.entra).await,
    );
    let a99 = after_delta
        .1
        .iter()
        .find(|r| r[0].as_deref() == Some("a99"));
    assert_eq!(
        a99.map(|r| (r[1].as_deref(), r[4].as_deref())),
        Some((Some("p9"), Some("never_used")))
    );
    assert!(after_delta.1.iter().all(|r| r[0].as_deref() != Some("a02")));

    // The same collection whole changes nothing: the delta left exactly what it would have.
    let mut again = next.clone();
    again.collected_at = at + Duration::minutes(5);
    let report = report_of(send(store, &f.agent_id, &again, &f.entra, 3).await);
    assert_eq!(
        (report.updated, report.removed, report.state_changes),
        (0, 0, 0)
    );
    assert_eq!(
        (
            stored_accounts(store, &f.entra).await,
            joined(store, &f.entra).await
        ),
        after_delta
    );
    full_rejoin(store).await;
    assert_eq!(joined(store, &f.entra).await, after_delta.1);

    // A delta against the last applied snapshot (`again`'s, not `next`'s) is the only one
    // that applies from now on.
    let mut stale = as_delta(&next_id, &whole.marks());
    stale.collected_at = at + Duration::minutes(10);
    let why = base_mismatch(send(store, &f.agent_id, &stale, &f.entra, 4).await);
    assert!(why.contains(&next_id), "{why}");
}
