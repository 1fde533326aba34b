//! The Humaans client against every answer a real account may give that the public
//! clients disagree about: list shapes (`total` exact, `-1`, absent, a bare array), an
//! order that is only stable under `$sort`, a refused sort, `/api/token-info` missing or
//! refused, and the manager under `reportingTo`, `managerId` or nowhere. Each mode is served
//! by the simulator library (`humaans_sim::ApiShape`); a few answers no simulator mode
//! gives come from mockito.

use std::collections::BTreeSet;

use humaans_sim::{ApiShape, ListingTotal, ManagerField, SimConfig, Simulator, TokenInfo};
use mockito::{Matcher, Server};
use seatbroker_agent::{
    AccessEvidence, Collection, CollectionWarning, Evaluation, HumaansClient, HumaansConfig,
    HumaansError, JobRole, Person, Progress,
};
use seatbroker_protocol::{Secret, UsagePolicy};
use serde_json::{Value, json};

const AS_OF: &str = "2025-06-15";

async fn start(people: usize, api: ApiShape) -> Simulator {
    Simulator::start(SimConfig {
        people,
        seed: 77,
        as_of: AS_OF.parse().unwrap(),
        api,
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts")
}

/// A client with small pages (so every listing has several) whose retries do not sleep.
fn client(url: &str, token: &str) -> HumaansClient {
    let mut config = HumaansConfig::new(url, Secret::new(token));
    config.page_size = 40;
    config.concurrency = 4;
    HumaansClient::new(config)
        .expect("valid config")
        .with_sleep(std::sync::Arc::new(|_| Box::pin(async {})))
}

fn no_progress() -> impl Fn(Progress) + Sync {
    |_| {}
}

async fn collect(sim: &Simulator) -> Result<Collection, HumaansError> {
    client(sim.url(), &sim.tokens().full)
        .collect(&no_progress())
        .await
}

/// The collection holds every planted person and job role exactly once, and the engine's
/// counts equal the simulator's truth.
fn check_complete(sim: &Simulator, collection: &Collection, context: &str) {
    let got: Vec<&str> = collection.people.iter().map(|p| p.id.as_str()).collect();
    let unique: BTreeSet<&str> = got.iter().copied().collect();
    let planted: BTreeSet<&str> = sim
        .company()
        .people()
        .iter()
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(got.len(), unique.len(), "{context}: people repeated");
    assert_eq!(unique, planted, "{context}: people");
    let roles: BTreeSet<&str> = collection.job_roles.iter().map(|r| r.id.as_str()).collect();
    let planted_roles: BTreeSet<&str> = sim
        .company()
        .job_roles()
        .iter()
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(
        collection.job_roles.len(),
        roles.len(),
        "{context}: roles repeated"
    );
    assert_eq!(roles, planted_roles, "{context}: job roles");
    let evaluation = evaluate(collection);
    let summary = serde_json::to_value(&evaluation.summary).unwrap();
    let truth = serde_json::to_value(sim.truth()).unwrap();
    for key in ["counts", "inactive_reasons", "findings"] {
        assert_eq!(summary[key], truth[key], "{context}: {key}");
    }
}

fn evaluate(collection: &Collection) -> Evaluation {
    seatbroker_agent::evaluate(
        &collection.people,
        &collection.job_roles,
        &UsagePolicy::default(),
        AS_OF.parse().unwrap(),
        None,
    )
    .expect("default policy")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_listing_shape_in_an_unstable_order_collects_the_truth() {
    for listing_total in [
        ListingTotal::Exact,
        ListingTotal::MinusOne,
        ListingTotal::Absent,
        ListingTotal::BareArray,
    ] {
        let sim = start(
            230,
            ApiShape {
                listing_total,
                unstable_order: true,
                ..ApiShape::default()
            },
        )
        .await;
        let collection = collect(&sim)
            .await
            .unwrap_or_else(|e| panic!("{listing_total:?}: {e}"));
        check_complete(&sim, &collection, &format!("{listing_total:?}"));
        assert!(collection.warnings.is_empty(), "{:?}", collection.warnings);
        sim.shutdown().await;
    }
}

/// Without the sort the agent sends, the unstable order loses and repeats records between
/// pages: the consistency checks must catch it (with a `total`, and without one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_sort_degrades_to_unsorted_and_an_unstable_order_then_fails_the_checks() {
    for listing_total in [
        ListingTotal::Exact,
        ListingTotal::MinusOne,
        ListingTotal::Absent,
        ListingTotal::BareArray,
    ] {
        // A stable server that refuses the sort: read unsorted, with a warning.
        let sim = start(
            150,
            ApiShape {
                listing_total,
                refuse_sort: true,
                ..ApiShape::default()
            },
        )
        .await;
        let collection = collect(&sim).await.expect("collect unsorted");
        check_complete(
            &sim,
            &collection,
            &format!("{listing_total:?} refused sort"),
        );
        assert_eq!(collection.warnings.len(), 2, "{:?}", collection.warnings);
        assert!(
            collection.warnings[0].contains("refused the sort order (createdAt, id) for people"),
            "{:?}",
            collection.warnings
        );
        assert!(collection.warnings[1].contains("for job roles"));
        sim.shutdown().await;

        // The same, in an unstable order: the listing is refused, never silently wrong.
        let sim = start(
            150,
            ApiShape {
                listing_total,
                refuse_sort: true,
                unstable_order: true,
                ..ApiShape::default()
            },
        )
        .await;
        let error = collect(&sim)
            .await
            .expect_err("an unstable order is caught");
        assert!(
            matches!(
                error,
                HumaansError::TotalChanged { .. } | HumaansError::ListingShifted { .. }
            ),
            "{listing_total:?}: {error:?}"
        );
        assert!(
            error
                .to_string()
                .contains("the people listing changed while it was being read"),
            "{error}"
        );
        assert!(error.is_retriable());
        sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_token_info_access_is_judged_from_people_and_job_roles() {
    for token_info in [
        TokenInfo::Absent,
        TokenInfo::MethodNotAllowed,
        TokenInfo::BadRequest,
    ] {
        let sim = start(
            120,
            ApiShape {
                token_info,
                unstable_order: true,
                ..ApiShape::default()
            },
        )
        .await;
        let full = client(sim.url(), &sim.tokens().full);
        let access = full.check_access().await.expect("full token");
        assert_eq!(access.evidence, AccessEvidence::Probe, "{token_info:?}");
        assert!(access.private_access, "{token_info:?}: {access:?}");
        assert_eq!(access.scopes, None);
        let collection = full.collect(&no_progress()).await.expect("collect");
        check_complete(&sim, &collection, &format!("{token_info:?}"));
        assert!(collection.private_access);

        let public = client(sim.url(), &sim.tokens().public_only);
        let access = public.check_access().await.expect("public token");
        assert_eq!(access.evidence, AccessEvidence::Probe, "{token_info:?}");
        assert!(!access.private_access, "{token_info:?}: {access:?}");
        assert!(access.warning().unwrap().contains("lacks private:read"));
        sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_manager_is_read_under_either_name_and_its_absence_is_one_warning() {
    let sim = start(
        140,
        ApiShape {
            manager_field: ManagerField::ManagerId,
            ..ApiShape::default()
        },
    )
    .await;
    let collection = collect(&sim).await.expect("collect");
    check_complete(&sim, &collection, "managerId");
    assert!(evaluate(&collection).warnings.is_empty());
    sim.shutdown().await;

    let sim = start(
        140,
        ApiShape {
            manager_field: ManagerField::None,
            ..ApiShape::default()
        },
    )
    .await;
    let collection = collect(&sim).await.expect("collect");
    assert!(
        collection
            .job_roles
            .iter()
            .all(|r| r.reporting_to.is_none())
    );
    let evaluation = evaluate(&collection);
    assert_eq!(
        evaluation.warnings,
        vec![CollectionWarning::NoManagerOnAnyJobRole {
            job_roles: sim.company().job_roles().len()
        }]
    );
    assert!(
        evaluation.warnings[0]
            .to_string()
            .contains("names a manager (reportingTo or managerId)")
    );
    assert!(
        !evaluation
            .findings
            .iter()
            .any(|f| f.kind == seatbroker_protocol::FindingKind::NoManager),
        "no per-person no_manager finding"
    );
    // Every finding that does not need a manager is still the truth's.
    let summary = serde_json::to_value(&evaluation.summary).unwrap();
    let mut truth = serde_json::to_value(sim.truth()).unwrap();
    truth["findings"]["no_manager"] = json!(0);
    truth["findings"]["manager_offboarded"] = json!(0);
    assert_eq!(summary["counts"], truth["counts"]);
    assert_eq!(summary["findings"], truth["findings"]);
    sim.shutdown().await;
}

// --- answers no simulator mode gives -----------------------------------------------------

async fn identity(server: &mut mockito::ServerGuard) -> Vec<mockito::Mock> {
    vec![
        server
            .mock("GET", "/api/me")
            .with_body(json!({"id": "p0", "companyId": "co1"}).to_string())
            .create_async()
            .await,
        server
            .mock("GET", "/api/token-info")
            .with_body(json!({"scopes": ["public:read", "private:read"]}).to_string())
            .create_async()
            .await,
        server
            .mock("GET", "/api/companies")
            .with_body(json!([{"id": "co1", "name": "Acme"}]).to_string())
            .create_async()
            .await,
    ]
}

fn person(i: usize) -> Value {
    json!({"id": format!("p{i:03}"), "status": "active", "employmentStartDate": "2020-01-01"})
}

/// A bare array of everything, whatever `$limit` and `$skip` say (pagination off): one
/// extra request finds only repeats and ends the listing.
#[tokio::test]
async fn a_bare_array_that_ignores_skip_is_the_whole_listing() {
    let mut server = Server::new_async().await;
    let _identity = identity(&mut server).await;
    let everyone: Vec<Value> = (0..7).map(person).collect();
    let people = server
        .mock("GET", "/api/people")
        .match_query(Matcher::Any)
        .with_body(Value::Array(everyone).to_string())
        .expect(2)
        .create_async()
        .await;
    let _roles = server
        .mock("GET", "/api/job-roles")
        .match_query(Matcher::Any)
        .with_body("[]")
        .create_async()
        .await;
    let mut config = HumaansConfig::new(server.url(), Secret::new("t"));
    config.page_size = 5;
    let client = HumaansClient::new(config).unwrap();
    let collection = client.collect(&no_progress()).await.expect("collect");
    assert_eq!(collection.people.len(), 7);
    assert_eq!(collection.company_name, "Acme", "companies as a bare array");
    people.assert_async().await;
}

/// Every listing asks for the stable order; odd `total` and `limit` values are ignored
/// rather than fatal.
#[tokio::test]
async fn pages_ask_for_a_sort_and_tolerate_odd_totals() {
    let mut server = Server::new_async().await;
    let _identity = identity(&mut server).await;
    let sorted = Matcher::AllOf(vec![
        Matcher::UrlEncoded("$sort[createdAt]".into(), "1".into()),
        Matcher::UrlEncoded("$sort[id]".into(), "1".into()),
    ]);
    let _people = server
        .mock("GET", "/api/people")
        .match_query(sorted.clone())
        .with_body(
            json!({"total": "many", "limit": -5, "skip": 0, "data": [person(1), person(2)],
                   "extra": {"nested": true}})
            .to_string(),
        )
        .create_async()
        .await;
    let _roles = server
        .mock("GET", "/api/job-roles")
        .match_query(sorted)
        .with_body(json!({"total": -1, "data": null}).to_string())
        .create_async()
        .await;
    let client = HumaansClient::new(HumaansConfig::new(server.url(), Secret::new("t"))).unwrap();
    let collection = client.collect(&no_progress()).await.expect("collect");
    assert_eq!(collection.people.len(), 2);
    assert!(collection.job_roles.is_empty());
}

// --- recorded-shape fixtures -------------------------------------------------------------

const PEOPLE_FIXTURE: &str = include_str!("../fixtures/humaans/people.json");
const ROLES_FIXTURE: &str = include_str!("../fixtures/humaans/job_roles.json");

/// The keys of a person the agent reads; every other key must be ignored, whatever it holds.
const PERSON_KEYS_READ: [&str; 10] = [
    "id",
    "companyId",
    "firstName",
    "lastName",
    "preferredName",
    "email",
    "status",
    "employmentStartDate",
    "employmentEndDate",
    "isVerified",
];
const ROLE_KEYS_READ: [&str; 8] = [
    "id",
    "personId",
    "jobTitle",
    "department",
    "effectiveDate",
    "endDate",
    "reportingTo",
    "managerId",
];

/// Each key the agent does not read is replaced by values of other JSON types in turn; the
/// parsed record must not change.
fn check_unknown_keys_ignored<T>(record: &Value, read: &[&str])
where
    T: serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let expected: T = serde_json::from_value(record.clone()).expect("fixture record parses");
    let odd = [
        json!(null),
        json!({"nested": [1, "two", {"three": null}]}),
        json!([true, 2.5]),
        json!(-7),
        json!("text"),
    ];
    let object = record.as_object().unwrap();
    for key in object.keys().filter(|k| !read.contains(&k.as_str())) {
        for value in &odd {
            let mut changed = record.clone();
            changed[key.as_str()] = value.clone();
            let got: T =
                serde_json::from_value(changed).unwrap_or_else(|e| panic!("{key} = {value}: {e}"));
            assert_eq!(got, expected, "{key} = {value}");
        }
    }
    let mut extra = record.clone();
    extra["aFieldHumaansAddsLater"] = json!({"deep": {"er": [1, 2, 3]}});
    assert_eq!(serde_json::from_value::<T>(extra).unwrap(), expected);
}

#[tokio::test]
async fn recorded_shape_fixtures_parse_and_unknown_keys_are_ignored() {
    let people: Value = serde_json::from_str(PEOPLE_FIXTURE).unwrap();
    let roles: Value = serde_json::from_str(ROLES_FIXTURE).unwrap();
    assert_eq!(
        people["data"][0].as_object().unwrap().len(),
        64,
        "the person fixture keeps every documented key"
    );
    for person in people["data"].as_array().unwrap() {
        check_unknown_keys_ignored::<Person>(person, &PERSON_KEYS_READ);
    }
    for role in roles["data"].as_array().unwrap() {
        check_unknown_keys_ignored::<JobRole>(role, &ROLE_KEYS_READ);
    }

    // Through the client, as Humaans would serve them.
    let mut server = Server::new_async().await;
    let _identity = identity(&mut server).await;
    let _people = server
        .mock("GET", "/api/people")
        .match_query(Matcher::Any)
        .with_body(PEOPLE_FIXTURE)
        .create_async()
        .await;
    let _roles = server
        .mock("GET", "/api/job-roles")
        .match_query(Matcher::Any)
        .with_body(ROLES_FIXTURE)
        .create_async()
        .await;
    let client = HumaansClient::new(HumaansConfig::new(server.url(), Secret::new("t"))).unwrap();
    let collection = client.collect(&no_progress()).await.expect("collect");
    assert!(collection.unparsable_person_ids.is_empty());
    let [mara, olu, jun] = &collection.people[..] else {
        panic!("three people: {:?}", collection.people)
    };
    assert_eq!(mara.display_name().as_deref(), Some("Mara Okafor"));
    assert_eq!(olu.display_name().as_deref(), Some("Ole Lindqvist"));
    assert_eq!(mara.email.as_deref(), Some("mara@fixture-co.test"));
    assert_eq!(mara.is_verified, Some(true));
    assert_eq!(olu.status.as_ref().map(|s| s.as_str()), Some("offboarded"));
    assert_eq!(olu.employment_end_date, Some("2024-10-31".parse().unwrap()));
    assert_eq!(jun.status.as_ref().map(|s| s.as_str()), Some("newHire"));
    assert_eq!(jun.is_verified, Some(false));
    let managers: Vec<Option<&str>> = collection
        .job_roles
        .iter()
        .map(|r| r.reporting_to.as_deref())
        .collect();
    assert_eq!(
        managers,
        [None, Some(mara.id.as_str()), Some(mara.id.as_str())]
    );
    assert_eq!(
        collection.job_roles[0].department.as_deref(),
        Some("Engineering")
    );

    let evaluation = evaluate(&collection);
    let states: Vec<String> = evaluation
        .seats
        .iter()
        .map(|s| s.state.to_string())
        .collect();
    let by_id: std::collections::BTreeMap<&str, &str> = evaluation
        .seats
        .iter()
        .zip(&states)
        .map(|(s, state)| (s.person_id.as_str(), state.as_str()))
        .collect();
    assert_eq!(by_id[mara.id.as_str()], "active");
    assert_eq!(by_id[olu.id.as_str()], "offboarded");
    assert_eq!(by_id[jun.id.as_str()], "pre_hire");
}

/// `/api/token-info` answering 200 without scopes (another shape, or another endpoint under
/// that name) tells nothing: access is judged from the listings, as when it is missing.
#[tokio::test]
async fn token_info_without_scopes_is_treated_as_missing() {
    let mut server = Server::new_async().await;
    let _me = server
        .mock("GET", "/api/me")
        .with_body(json!({"id": "p0", "companyId": "co1"}).to_string())
        .create_async()
        .await;
    let _info = server
        .mock("GET", "/api/token-info")
        .with_body(json!({"data": {"token": "x"}}).to_string())
        .create_async()
        .await;
    let mut offboarded = person(1);
    offboarded["status"] = json!("offboarded");
    let _people = server
        .mock("GET", "/api/people")
        .match_query(Matcher::Any)
        .with_body(json!([person(0), offboarded]).to_string())
        .create_async()
        .await;
    let _roles = server
        .mock("GET", "/api/job-roles")
        .match_query(Matcher::Any)
        .with_body("[]")
        .create_async()
        .await;
    let client = HumaansClient::new(HumaansConfig::new(server.url(), Secret::new("t"))).unwrap();
    let access = client.check_access().await.expect("access");
    assert_eq!(access.evidence, AccessEvidence::Probe);
    assert!(access.private_access, "an offboarded person is visible");
    assert_eq!(access.scopes, None);
}
