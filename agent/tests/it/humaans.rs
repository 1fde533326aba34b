//! The Humaans client against mocked servers: paging, retries, parsing, scope checks.
//!
//! Most tests use mockito with an injected sleep that records delays and returns at once,
//! so retries cost no real time. Tests about timeouts and the order in which pages arrive
//! use a small scripted server inside the test's own runtime under `tokio::time::pause`,
//! where virtual time advances whenever everything waits.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use mockito::{Matcher, Mock, Server, ServerGuard};
use seatbroker_agent::{
    AccessEvidence, Collection, HumaansClient, HumaansConfig, HumaansError, Progress, Resource,
};
use seatbroker_protocol::{PersonStatus, Secret};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "hum_test_token_123";

fn person(i: usize) -> Value {
    json!({
        "id": format!("p{i:05}"),
        "companyId": "co1",
        "firstName": format!("First{i}"),
        "lastName": "Last",
        "preferredName": null,
        "email": format!("person{i}@acme.test"),
        "personalEmail": format!("p{i}@home.test"),
        "status": if i % 7 == 3 { "offboarded" } else { "active" },
        "employmentStartDate": "2020-01-15",
        "employmentEndDate": if i % 7 == 3 { json!("2024-05-01") } else { Value::Null },
        "isVerified": !i.is_multiple_of(5),
        "birthday": "1990-01-01",
        "workingDays": [{"day": "monday"}],
        "someFutureField": {"nested": [1, 2, 3]},
    })
}

fn role(i: usize) -> Value {
    json!({
        "id": format!("jr{i:05}"),
        "personId": format!("p{:05}", i / 2),
        "jobTitle": "Engineer",
        "department": "Product",
        "effectiveDate": if i.is_multiple_of(2) { "2020-01-15" } else { "2023-01-01" },
        "endDate": null,
        "reportingTo": "p00000",
    })
}

fn envelope(total: usize, limit: usize, skip: usize, data: &[Value]) -> String {
    json!({"total": total, "limit": limit, "skip": skip, "data": data}).to_string()
}

type Sleeps = Arc<Mutex<Vec<Duration>>>;

/// A client for `url` with page size `page_size` whose retry sleeps are recorded, not slept.
fn client_with(url: &str, tweak: impl FnOnce(&mut HumaansConfig)) -> (HumaansClient, Sleeps) {
    let mut config = HumaansConfig::new(url, Secret::new(TOKEN));
    tweak(&mut config);
    let sleeps: Sleeps = Arc::default();
    let recorded = sleeps.clone();
    let client = HumaansClient::new(config)
        .expect("valid config")
        .with_sleep(Arc::new(move |d| {
            recorded.lock().unwrap().push(d);
            Box::pin(async {})
        }));
    (client, sleeps)
}

fn no_progress() -> impl Fn(Progress) + Sync {
    |_| {}
}

/// `/api/me`, `/api/token-info` (full scopes) and `/api/companies`.
async fn mock_identity(server: &mut ServerGuard) -> Vec<Mock> {
    vec![
        server
            .mock("GET", "/api/me")
            .with_body(json!({"id": "p00000", "companyId": "co1"}).to_string())
            .create_async()
            .await,
        server
            .mock("GET", "/api/token-info")
            .with_body(
                json!({"id": "t1", "personId": "p00000", "scopes": ["public:read", "private:read"]})
                    .to_string(),
            )
            .create_async()
            .await,
        server
            .mock("GET", "/api/companies")
            .with_body(envelope(1, 100, 0, &[json!({"id": "co1", "name": "Acme"})]))
            .create_async()
            .await,
    ]
}

fn page_query(limit: usize, skip: usize) -> Matcher {
    Matcher::AllOf(vec![
        Matcher::UrlEncoded("$limit".into(), limit.to_string()),
        Matcher::UrlEncoded("$skip".into(), skip.to_string()),
    ])
}

/// Mocks every page of a listing of `records` at `limit` per page.
async fn mock_listing(
    server: &mut ServerGuard,
    path: &str,
    records: &[Value],
    limit: usize,
) -> Vec<Mock> {
    let mut mocks = Vec::new();
    let mut skip = 0;
    loop {
        let end = (skip + limit).min(records.len());
        mocks.push(
            server
                .mock("GET", path)
                .match_query(page_query(limit, skip))
                .with_body(envelope(records.len(), limit, skip, &records[skip..end]))
                .create_async()
                .await,
        );
        skip += limit;
        if skip >= records.len() {
            break mocks;
        }
    }
}

/// A company of `people` people and `roles` job roles served by mockito.
async fn mock_company(people: usize, roles: usize, limit: usize) -> (ServerGuard, Vec<Mock>) {
    let mut server = Server::new_async().await;
    let mut mocks = mock_identity(&mut server).await;
    let people: Vec<Value> = (0..people).map(person).collect();
    let roles: Vec<Value> = (0..roles).map(role).collect();
    mocks.extend(mock_listing(&mut server, "/api/people", &people, limit).await);
    mocks.extend(mock_listing(&mut server, "/api/job-roles", &roles, limit).await);
    (server, mocks)
}

fn ids(collection: &Collection) -> (Vec<String>, Vec<String>) {
    (
        collection.people.iter().map(|p| p.id.clone()).collect(),
        collection.job_roles.iter().map(|r| r.id.clone()).collect(),
    )
}

#[tokio::test]
async fn pages_concurrently_and_matches_sequential_paging() {
    let (server, _mocks) = mock_company(23, 11, 5).await;
    let mut results = Vec::new();
    for concurrency in [1, 4, 16] {
        let (client, sleeps) = client_with(&server.url(), |c| {
            c.page_size = 5;
            c.concurrency = concurrency;
        });
        let seen = Mutex::new(Vec::new());
        let progress = |p: Progress| seen.lock().unwrap().push(p);
        let collection = client.collect(&progress).await.expect("collect");
        assert!(sleeps.lock().unwrap().is_empty());
        assert_eq!(collection.company_id, "co1");
        assert_eq!(collection.company_name, "Acme");
        assert_eq!(collection.people_seen, 23);
        assert_eq!(collection.job_roles_seen, 11);
        assert!(collection.private_access);
        assert!(collection.unparsable_person_ids.is_empty());
        // Progress ends with every page of each listing done.
        let seen = seen.into_inner().unwrap();
        let last_people = seen
            .iter()
            .rfind(|p| p.resource == Resource::People)
            .unwrap();
        assert_eq!(
            (last_people.pages_done, last_people.pages_total),
            (5, Some(5))
        );
        assert_eq!(last_people.records, 23);
        results.push((ids(&collection), collection.people, collection.job_roles));
    }
    let expected: Vec<String> = (0..23).map(|i| format!("p{i:05}")).collect();
    assert_eq!(results[0].0.0, expected);
    assert_eq!(results[0], results[1]);
    assert_eq!(results[0], results[2]);
    // Parsed fields arrive as the engine needs them.
    let p3 = &results[0].1[3];
    assert_eq!(p3.status, Some(PersonStatus::Offboarded));
    assert_eq!(p3.employment_end_date, Some("2024-05-01".parse().unwrap()));
    assert_eq!(p3.is_verified, Some(true));
    assert_eq!(p3.email.as_deref(), Some("person3@acme.test"));
    let r1 = &results[0].2[1];
    assert_eq!(r1.person_id, "p00000");
    assert_eq!(r1.reporting_to.as_deref(), Some("p00000"));
}

#[tokio::test]
async fn sends_token_user_agent_and_accept() {
    let mut server = Server::new_async().await;
    let me = server
        .mock("GET", "/api/me")
        .match_header("authorization", format!("Bearer {TOKEN}").as_str())
        .match_header(
            "user-agent",
            format!("seatbroker-agent/{}", env!("CARGO_PKG_VERSION")).as_str(),
        )
        .match_header("accept", "application/json")
        .with_body(json!({"id": "p1", "companyId": "co1"}).to_string())
        .create_async()
        .await;
    let _info = server
        .mock("GET", "/api/token-info")
        .with_body(json!({"scopes": ["public:read", "private:read"]}).to_string())
        .create_async()
        .await;
    let (client, _) = client_with(&server.url(), |_| {});
    let access = client.check_access().await.expect("access");
    me.assert_async().await;
    assert!(access.private_access);
    assert_eq!(access.evidence, AccessEvidence::TokenInfo);
    assert_eq!(access.person_id.as_deref(), Some("p1"));
    // The token never shows in Debug output.
    assert!(!format!("{client:?}").contains(TOKEN));
}

#[tokio::test]
async fn a_listing_that_shifts_under_the_reader_is_read_again_then_refused() {
    let mut server = Server::new_async().await;
    let _identity = mock_identity(&mut server).await;
    let people: Vec<Value> = (0..6).map(person).collect();
    // While paging, someone was inserted before p00002 and p00005 left: `total` stays 6,
    // page 2 repeats p00002 and one person is never seen. Every read looks like this.
    let p0 = server
        .mock("GET", "/api/people")
        .match_query(page_query(3, 0))
        .with_body(envelope(6, 3, 0, &people[0..3]))
        .expect(2)
        .create_async()
        .await;
    let _p1 = server
        .mock("GET", "/api/people")
        .match_query(page_query(3, 3))
        .with_body(envelope(
            6,
            3,
            3,
            &[people[2].clone(), people[3].clone(), people[4].clone()],
        ))
        .create_async()
        .await;
    let _roles = mock_listing(&mut server, "/api/job-roles", &[], 3).await;
    let (client, _) = client_with(&server.url(), |c| c.page_size = 3);
    let error = client
        .collect(&no_progress())
        .await
        .expect_err("a listing missing a person is never a collection");
    assert!(
        matches!(
            error,
            HumaansError::TotalChanged {
                first: 6,
                now: 5,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("changed while it was being read"),
        "{error}"
    );
    p0.assert_async().await;
}

/// What a faulty first answer to the first people page leads to.
#[derive(Debug)]
enum Fault {
    Status(usize, &'static str),
    RetryAfter(&'static str),
    Truncated,
}

/// Serves `fault` once (or always), then the good page; returns the collection result,
/// the recorded retry delays and how often the faulty mock was hit.
async fn run_fault(
    fault: Fault,
    always: bool,
    tweak: impl FnOnce(&mut HumaansConfig),
) -> (Result<Collection, HumaansError>, Vec<Duration>, usize) {
    let mut server = Server::new_async().await;
    let _identity = mock_identity(&mut server).await;
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let mut mock = server
        .mock("GET", "/api/people")
        .match_query(page_query(250, 0))
        .match_request(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
            true
        });
    mock = match fault {
        Fault::Status(status, body) => mock.with_status(status).with_body(body),
        Fault::RetryAfter(value) => mock
            .with_status(429)
            .with_header("retry-after", value)
            .with_body(r#"{"message":"slow down"}"#),
        Fault::Truncated => {
            mock.with_body(r#"{"total": 2, "limit": 250, "skip": 0, "data": [{"id": "p0"#)
        }
    };
    // mockito answers with the first matching mock still short of its expected hits.
    mock = mock.expect(if always { 1000 } else { 1 });
    let _faulty = mock.create_async().await;
    let _good = server
        .mock("GET", "/api/people")
        .match_query(page_query(250, 0))
        .with_body(envelope(2, 250, 0, &[person(0), person(1)]))
        .create_async()
        .await;
    let _roles = mock_listing(&mut server, "/api/job-roles", &[], 250).await;
    let fixed_now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // 2015-10-21 07:28:00Z
    let (client, sleeps) = client_with(&server.url(), tweak);
    let client = client.with_clock(Arc::new(move || fixed_now));
    let result = client.collect(&no_progress()).await;
    let sleeps = sleeps.lock().unwrap().clone();
    (result, sleeps, hits.load(Ordering::SeqCst))
}

#[tokio::test]
async fn transient_errors_are_retried_once_then_succeed() {
    let cases = [
        Fault::Status(500, "Internal Server Error"),
        Fault::Status(502, "<html>Bad Gateway</html>"),
        Fault::Status(503, ""),
        Fault::Status(504, "Gateway Timeout"),
        Fault::Status(408, ""),
        Fault::Status(429, ""),
        Fault::Truncated,
    ];
    for fault in cases {
        let label = format!("{fault:?}");
        let (result, sleeps, _) = run_fault(fault, false, |_| {}).await;
        let collection = result.unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_eq!(collection.people.len(), 2, "{label}");
        assert_eq!(sleeps.len(), 1, "{label}: one backoff");
        assert!(
            sleeps[0] <= Duration::from_secs(1),
            "{label}: first backoff is short: {sleeps:?}"
        );
    }
}

#[tokio::test]
async fn retry_after_is_honoured_in_seconds_and_as_http_date_and_capped() {
    let check = |value: &'static str, want: Duration| async move {
        let (result, sleeps, _) = run_fault(Fault::RetryAfter(value), false, |_| {}).await;
        result.unwrap_or_else(|e| panic!("{value}: {e}"));
        assert_eq!(sleeps, [want], "{value}");
    };
    check("7", Duration::from_secs(7)).await;
    check("0", Duration::ZERO).await;
    // The injected clock says 2015-10-21 07:28:00Z.
    check("Wed, 21 Oct 2015 07:29:30 GMT", Duration::from_secs(90)).await;
    check("Wed, 21 Oct 2015 07:00:00 GMT", Duration::ZERO).await;
    // Capped at max_retry_after (5 minutes by default).
    check("86400", Duration::from_secs(300)).await;
}

#[tokio::test]
async fn permanent_errors_are_not_retried_and_say_what_to_do() {
    let check = |status: usize, body: &'static str, want: &'static str| async move {
        let (result, sleeps, hits) = run_fault(Fault::Status(status, body), true, |_| {}).await;
        let error = result.expect_err("must fail");
        assert!(!error.is_retriable(), "{status}: {error:?}");
        assert!(sleeps.is_empty(), "{status}: no retry");
        assert_eq!(hits, 1, "{status}: one request");
        let text = error.to_string();
        assert!(text.contains(want), "{status}: {text}");
        assert!(!text.contains(TOKEN));
    };
    check(400, r#"{"message":"bad $limit"}"#, "bad $limit").await;
    check(
        401,
        r#"{"name":"NotAuthenticated","message":"Invalid token","code":401}"#,
        "create a new API access token",
    )
    .await;
    check(
        403,
        r#"{"name":"Forbidden","message":"Missing scope private:read","code":403,"className":"forbidden"}"#,
        "lacks the scope private:read",
    )
    .await;
    check(
        403,
        r#"{"message":"Role not allowed"}"#,
        "Humaans says: Role not allowed",
    )
    .await;
    check(404, "Not Found", "without a trailing /api").await;
}

#[tokio::test]
async fn persistent_transient_errors_fail_the_run_after_the_attempt_bound() {
    let (result, sleeps, hits) = run_fault(Fault::Status(503, "down"), true, |_| {}).await;
    let error = result.expect_err("must fail");
    assert!(error.is_retriable());
    match &error {
        HumaansError::RetriesExhausted { attempts, last, .. } => {
            assert_eq!(*attempts, 6);
            assert!(
                matches!(**last, HumaansError::Server { status: 503, .. }),
                "{last:?}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(hits, 6);
    assert_eq!(sleeps.len(), 5);
    // Exponential: each delay at most the cap, and they grow.
    assert!(sleeps.windows(2).all(|w| w[1] >= w[0] / 2), "{sleeps:?}");
    assert!(
        error.to_string().contains("gave up after 6 attempts"),
        "{error}"
    );

    // A smaller bound, and the elapsed budget also stops retries.
    let (result, sleeps, hits) =
        run_fault(Fault::Status(500, "x"), true, |c| c.retry.max_attempts = 2).await;
    assert!(matches!(
        result,
        Err(HumaansError::RetriesExhausted { attempts: 2, .. })
    ));
    assert_eq!((sleeps.len(), hits), (1, 2));
    let (result, sleeps, hits) = run_fault(Fault::RetryAfter("120"), true, |c| {
        c.retry.max_elapsed = Duration::from_secs(250);
    })
    .await;
    assert!(
        matches!(result, Err(HumaansError::RetriesExhausted { .. })),
        "{result:?}"
    );
    assert_eq!(sleeps, [Duration::from_secs(120), Duration::from_secs(120)]);
    assert_eq!(hits, 3);

    // A truncated body every time: fails as unreadable.
    let (result, _, hits) = run_fault(Fault::Truncated, true, |_| {}).await;
    let error = result.expect_err("must fail");
    assert!(
        matches!(error.root(), HumaansError::InvalidBody { .. }),
        "{error:?}"
    );
    assert_eq!(hits, 6);
}

#[tokio::test]
async fn malformed_records_are_counted_and_fail_only_past_the_threshold() {
    async fn run(bad: &[usize], total: usize) -> Result<Collection, HumaansError> {
        let mut server = Server::new_async().await;
        let _identity = mock_identity(&mut server).await;
        let people: Vec<Value> = (0..total)
            .map(|i| {
                let mut p = person(i);
                if bad.contains(&i) {
                    p["status"] = json!(42);
                }
                if i == 1 && bad.contains(&1) {
                    p.as_object_mut().unwrap().remove("id");
                }
                p
            })
            .collect();
        let _people = mock_listing(&mut server, "/api/people", &people, 250).await;
        let _roles = mock_listing(&mut server, "/api/job-roles", &[role(0)], 250).await;
        let (client, _) = client_with(&server.url(), |_| {});
        client.collect(&no_progress()).await
    }
    let collection = run(&[1, 4], 20)
        .await
        .expect("two bad records are tolerated");
    assert_eq!(collection.unparsable_person_ids, ["<no id>", "p00004"]);
    assert_eq!(collection.people.len(), 18);
    assert_eq!(collection.people_seen, 20);

    // 11 bad of 2000 is above 10 but below 1 %: tolerated.
    let bad: Vec<usize> = (0..11).map(|i| i * 100).collect();
    let collection = run(&bad, 2000).await.expect("below 1 %");
    assert_eq!(collection.unparsable_person_ids.len(), 11);

    // 11 bad of 200 is above both: the run fails and names ids.
    let error = run(&bad[..11].iter().map(|i| i / 10).collect::<Vec<_>>(), 200)
        .await
        .expect_err("too many");
    assert!(
        matches!(
            error,
            HumaansError::TooManyUnparsable {
                bad: 11,
                seen: 200,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("p00010"), "{error}");
}

#[tokio::test]
async fn a_total_that_changes_restarts_once_then_fails() {
    // `settles`: true = the total changes on the first pass only; false = on every pass.
    async fn run(settles: bool) -> (Result<Collection, HumaansError>, usize) {
        let mut server = Server::new_async().await;
        let _identity = mock_identity(&mut server).await;
        let people: Vec<Value> = (0..6).map(person).collect();
        let first_page_hits = Arc::new(AtomicUsize::new(0));
        let counter = first_page_hits.clone();
        let _p0 = server
            .mock("GET", "/api/people")
            .match_query(page_query(3, 0))
            .match_request(move |_| {
                counter.fetch_add(1, Ordering::SeqCst);
                true
            })
            .with_body(envelope(6, 3, 0, &people[0..3]))
            .create_async()
            .await;
        let mut changed = server
            .mock("GET", "/api/people")
            .match_query(page_query(3, 3))
            .with_body(envelope(7, 3, 3, &people[3..6]));
        if settles {
            changed = changed.expect(1);
        }
        let _changed = changed.create_async().await;
        let _steady = if settles {
            Some(
                server
                    .mock("GET", "/api/people")
                    .match_query(page_query(3, 3))
                    .with_body(envelope(6, 3, 3, &people[3..6]))
                    .create_async()
                    .await,
            )
        } else {
            None
        };
        let _roles = mock_listing(&mut server, "/api/job-roles", &[], 3).await;
        let (client, _) = client_with(&server.url(), |c| c.page_size = 3);
        let result = client.collect(&no_progress()).await;
        (result, first_page_hits.load(Ordering::SeqCst))
    }
    let (result, first_hits) = run(true).await;
    assert_eq!(result.expect("settles after restart").people.len(), 6);
    assert_eq!(first_hits, 2, "restarted from the first page");

    let (result, first_hits) = run(false).await;
    let error = result.expect_err("keeps changing");
    assert!(
        matches!(
            error,
            HumaansError::TotalChanged {
                first: 6,
                now: 7,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.is_retriable());
    assert_eq!(first_hits, 2, "restarted exactly once");
}

#[tokio::test]
async fn short_pages_and_endless_servers_fail() {
    // A short middle page with an unchanged total: truncated listing.
    let mut server = Server::new_async().await;
    let _identity = mock_identity(&mut server).await;
    let people: Vec<Value> = (0..9).map(person).collect();
    let _p0 = server
        .mock("GET", "/api/people")
        .match_query(page_query(3, 0))
        .with_body(envelope(9, 3, 0, &people[0..3]))
        .create_async()
        .await;
    let _p1 = server
        .mock("GET", "/api/people")
        .match_query(page_query(3, 3))
        .with_body(envelope(9, 3, 3, &people[3..5]))
        .create_async()
        .await;
    let _p2 = server
        .mock("GET", "/api/people")
        .match_query(page_query(3, 6))
        .with_body(envelope(9, 3, 6, &people[6..9]))
        .create_async()
        .await;
    let (client, _) = client_with(&server.url(), |c| c.page_size = 3);
    let error = client.collect(&no_progress()).await.expect_err("truncated");
    assert!(
        matches!(
            error,
            HumaansError::TruncatedListing {
                skip: 3,
                got: 2,
                expected: 3,
                ..
            }
        ),
        "{error:?}"
    );

    // A server without `total` whose pages are always full of new people never ends:
    // page cap.
    let mut server = Server::new_async().await;
    let _identity = mock_identity(&mut server).await;
    let endless = server
        .mock("GET", "/api/people")
        .match_query(Matcher::Any)
        .with_body_from_request(|request| {
            let skip = query_value(request.path_and_query(), "%24skip").unwrap_or(0);
            json!({"data": [person(skip), person(skip + 1)]})
                .to_string()
                .into_bytes()
        })
        .expect(50)
        .create_async()
        .await;
    let (client, _) = client_with(&server.url(), |c| {
        c.page_size = 2;
        c.max_pages = 50;
    });
    let error = client.collect(&no_progress()).await.expect_err("endless");
    assert!(
        matches!(error, HumaansError::TooManyPages { cap: 50, .. }),
        "{error:?}"
    );
    assert!(!error.is_retriable());
    endless.assert_async().await;

    // A `total` beyond the cap fails before fetching more pages.
    let mut server = Server::new_async().await;
    let _identity = mock_identity(&mut server).await;
    let _huge = server
        .mock("GET", "/api/people")
        .match_query(page_query(250, 0))
        .with_body(envelope(1_000_000_000, 250, 0, &[person(0)]))
        .expect(1)
        .create_async()
        .await;
    let (client, _) = client_with(&server.url(), |_| {});
    let error = client.collect(&no_progress()).await.expect_err("huge");
    assert!(
        matches!(error, HumaansError::TooManyPages { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn pages_by_the_limit_the_server_really_uses() {
    let mut server = Server::new_async().await;
    let _identity = mock_identity(&mut server).await;
    let people: Vec<Value> = (0..5).map(person).collect();
    // We ask for 250; this server clamps to 2 per page.
    let _first = server
        .mock("GET", "/api/people")
        .match_query(page_query(250, 0))
        .with_body(envelope(5, 2, 0, &people[0..2]))
        .create_async()
        .await;
    let _rest = mock_listing(&mut server, "/api/people", &people, 2).await;
    let _roles = mock_listing(&mut server, "/api/job-roles", &[], 250).await;
    let (client, _) = client_with(&server.url(), |_| {});
    let collection = client.collect(&no_progress()).await.expect("collect");
    assert_eq!(collection.people.len(), 5);
}

#[tokio::test]
async fn detects_a_token_without_private_read() {
    // token-info lists only public:read.
    let mut server = Server::new_async().await;
    let _me = server
        .mock("GET", "/api/me")
        .with_body(json!({"id": "p1", "companyId": "co1"}).to_string())
        .create_async()
        .await;
    let _info = server
        .mock("GET", "/api/token-info")
        .with_body(json!({"scopes": ["public:read"]}).to_string())
        .create_async()
        .await;
    let (client, _) = client_with(&server.url(), |_| {});
    let access = client.check_access().await.expect("access");
    assert!(!access.private_access);
    assert_eq!(
        access.scopes.as_deref(),
        Some(&["public:read".to_owned()][..])
    );
    let warning = access.warning().expect("warning");
    assert!(
        warning.contains("lacks private:read") && warning.contains("View public and private data")
    );

    // No token-info: probe the people list.
    let check = |people: Vec<Value>, want: bool| async move {
        let mut server = Server::new_async().await;
        let _me = server
            .mock("GET", "/api/me")
            .with_body(json!({"id": "p1", "companyId": "co1"}).to_string())
            .create_async()
            .await;
        let _info = server
            .mock("GET", "/api/token-info")
            .with_status(404)
            .create_async()
            .await;
        let _people = server
            .mock("GET", "/api/people")
            .match_query(page_query(250, 0))
            .with_body(envelope(people.len(), 250, 0, &people))
            .create_async()
            .await;
        let _roles = server
            .mock("GET", "/api/job-roles")
            .match_query(page_query(1, 0))
            .with_body(envelope(1, 1, 0, &[role(0)]))
            .create_async()
            .await;
        let (client, _) = client_with(&server.url(), |_| {});
        let access = client.check_access().await.expect("access");
        assert_eq!(access.evidence, AccessEvidence::Probe);
        assert_eq!(access.private_access, want, "{people:?}");
    };
    let public_view = |i: usize| json!({"id": format!("p{i}"), "status": "active", "email": "a@b.test", "employmentEndDate": null});
    check((0..5).map(public_view).collect(), false).await;
    check((0..5).map(person).collect(), true).await;
    let mut with_new_hire: Vec<Value> = (0..5).map(public_view).collect();
    with_new_hire[2]["status"] = json!("newHire");
    check(with_new_hire, true).await;
}

#[tokio::test]
async fn company_falls_back_to_the_token_owner() {
    let mut server = Server::new_async().await;
    let _me = server
        .mock("GET", "/api/me")
        .with_body(json!({"id": "p1", "companyId": "co9"}).to_string())
        .create_async()
        .await;
    let _info = server
        .mock("GET", "/api/token-info")
        .with_status(404)
        .create_async()
        .await;
    let _companies = server
        .mock("GET", "/api/companies")
        .with_status(403)
        .create_async()
        .await;
    let people: Vec<Value> = (0..2).map(person).collect();
    let _people = mock_listing(&mut server, "/api/people", &people, 250).await;
    let _roles = mock_listing(&mut server, "/api/job-roles", &[], 250).await;
    let _probe = mock_listing(&mut server, "/api/job-roles", &[], 1).await;
    let (client, _) = client_with(&server.url(), |_| {});
    let collection = client.collect(&no_progress()).await.expect("collect");
    assert_eq!(collection.company_id, "co9");
    assert_eq!(collection.company_name, "co9");
}

#[tokio::test]
async fn unreachable_host_names_the_url() {
    // Bind then drop a listener: nothing listens on that port now.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let (client, sleeps) = client_with(&url, |c| c.retry.max_attempts = 3);
    let error = client.check_access().await.expect_err("unreachable");
    assert!(
        matches!(error.root(), HumaansError::Unreachable { .. }),
        "{error:?}"
    );
    assert!(error.is_retriable());
    let text = error.to_string();
    assert!(
        text.contains(&format!("{url}/api/me")) && text.contains("proxy"),
        "{text}"
    );
    assert_eq!(sleeps.lock().unwrap().len(), 2);
}

#[test]
fn configuration_is_validated() {
    let check = |url: &str, token: &str, want: &str| {
        let error =
            HumaansClient::new(HumaansConfig::new(url, Secret::new(token))).expect_err("invalid");
        let text = error.to_string();
        assert!(text.contains(want), "{url}: {text}");
        assert!(!text.contains("sekrit"));
    };
    check("https://app.humaans.io/api", "sekrit", "ends with /api");
    check("http://humaans.example", "sekrit", "plain http");
    check("https://app.humaans.io", "", "token: is empty");
    check("https://app.humaans.io", "sek rit", "spaces");
    let mut config = HumaansConfig::new("https://app.humaans.io", Secret::new("t"));
    config.ca_certificate = Some("/nonexistent/ca.pem".into());
    let text = HumaansClient::new(config).expect_err("no file").to_string();
    assert!(text.contains("/nonexistent/ca.pem"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, "not a certificate").unwrap();
    let mut config = HumaansConfig::new("https://app.humaans.io", Secret::new("t"));
    config.ca_certificate = Some(path);
    assert!(matches!(
        HumaansClient::new(config),
        Err(HumaansError::CaCertificate { .. })
    ));
    let mut config = HumaansConfig::new("https://app.humaans.io", Secret::new("t"));
    config.page_size = 10_000;
    assert_eq!(config.effective_page_size(), 250);
    config.page_size = 0;
    assert_eq!(config.effective_page_size(), 1);
}

// ---------------------------------------------------------------------------------------
// A scripted HTTP/1.1 server inside the test runtime, for paused-time tests.

/// What the scripted server answers: a delay (virtual time) and status + body, or `None`
/// to never answer.
type Script = dyn Fn(&str) -> Option<(Duration, u16, String)> + Send + Sync;

struct Scripted {
    url: String,
    max_in_flight: Arc<AtomicUsize>,
    arrivals: Arc<Mutex<Vec<String>>>,
}

async fn scripted(script: Arc<Script>) -> Scripted {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let in_flight = Arc::new(AtomicUsize::new(0));
    let max_in_flight = Arc::new(AtomicUsize::new(0));
    let arrivals: Arc<Mutex<Vec<String>>> = Arc::default();
    let (max, order) = (max_in_flight.clone(), arrivals.clone());
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let (script, in_flight, max, order) = (
                script.clone(),
                in_flight.clone(),
                max.clone(),
                order.clone(),
            );
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request);
                let target = text.split(' ').nth(1).unwrap_or("/").to_owned();
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                max.fetch_max(now, Ordering::SeqCst);
                let Some((delay, status, body)) = script(&target) else {
                    std::future::pending::<()>().await;
                    return;
                };
                tokio::time::sleep(delay).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                order.lock().unwrap().push(target);
                let response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    Scripted {
        url,
        max_in_flight,
        arrivals,
    }
}

fn query_value(target: &str, key: &str) -> Option<usize> {
    let query = target.split_once('?')?.1;
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| v.parse().ok())?
    })
}

/// A company whose page at offset `skip` answers after `delay(skip)` of virtual time.
fn company_script(people: usize, limit: usize, delay: fn(usize) -> u64) -> Arc<Script> {
    let people: Vec<Value> = (0..people).map(person).collect();
    Arc::new(move |target: &str| {
        let path = target.split('?').next().unwrap_or("");
        let body = match path {
            "/api/me" => json!({"id": "p00000", "companyId": "co1"}).to_string(),
            "/api/token-info" => json!({"scopes": ["public:read", "private:read"]}).to_string(),
            "/api/companies" => envelope(1, 100, 0, &[json!({"id": "co1", "name": "Acme"})]),
            "/api/job-roles" => envelope(0, limit, 0, &[]),
            "/api/people" => {
                let skip = query_value(target, "%24skip").unwrap_or(0);
                let end = (skip + limit).min(people.len());
                let page = envelope(people.len(), limit, skip, &people[skip..end]);
                return Some((Duration::from_secs(delay(skip)), 200, page));
            }
            _ => return Some((Duration::ZERO, 404, "{}".into())),
        };
        Some((Duration::ZERO, 200, body))
    })
}

#[tokio::test(start_paused = true)]
async fn pages_arriving_in_reverse_order_assemble_in_offset_order() {
    let mut results = Vec::new();
    for concurrency in [1, 4] {
        // Later pages answer sooner: with concurrency they arrive out of order.
        let server = scripted(company_script(40, 5, |skip| 50 - skip as u64)).await;
        let client = HumaansClient::new({
            let mut c = HumaansConfig::new(&server.url, Secret::new(TOKEN));
            c.page_size = 5;
            c.concurrency = concurrency;
            c
        })
        .unwrap();
        let collection = client.collect(&no_progress()).await.expect("collect");
        assert_eq!(server.max_in_flight.load(Ordering::SeqCst), concurrency);
        let arrivals = server.arrivals.lock().unwrap().clone();
        let skips: Vec<usize> = arrivals
            .iter()
            .filter(|t| t.starts_with("/api/people"))
            .filter_map(|t| query_value(t, "%24skip"))
            .collect();
        if concurrency > 1 {
            assert!(
                skips.windows(2).any(|w| w[0] > w[1]),
                "out of order: {skips:?}"
            );
        } else {
            assert!(skips.windows(2).all(|w| w[0] < w[1]), "in order: {skips:?}");
        }
        results.push(ids(&collection).0);
    }
    assert_eq!(results[0], results[1]);
    assert_eq!(
        results[0],
        (0..40).map(|i| format!("p{i:05}")).collect::<Vec<_>>()
    );
}

#[tokio::test(start_paused = true)]
async fn requests_that_never_answer_time_out_and_are_retried_with_real_backoff() {
    // /api/me never answers: every attempt hits the 60 s request timeout, in virtual time.
    let never: Arc<Script> = Arc::new(|_: &str| None);
    let server = scripted(never).await;
    let client = HumaansClient::new(HumaansConfig::new(&server.url, Secret::new(TOKEN))).unwrap();
    let started = tokio::time::Instant::now();
    let error = client.check_access().await.expect_err("times out");
    let elapsed = started.elapsed();
    match &error {
        HumaansError::RetriesExhausted {
            attempts: 6, last, ..
        } => {
            assert!(matches!(**last, HumaansError::Timeout { .. }), "{last:?}");
        }
        other => panic!("unexpected {other:?}"),
    }
    // Six 60 s timeouts plus the backoff sleeps between them, all in virtual time.
    assert!(elapsed >= Duration::from_secs(6 * 60), "{elapsed:?}");
    assert!(error.to_string().contains("timed out"), "{error}");
}

#[tokio::test(start_paused = true)]
async fn retry_after_waits_in_tokio_time_with_the_default_sleep() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let script: Arc<Script> = Arc::new(move |target: &str| {
        if target == "/api/me" && counter.fetch_add(1, Ordering::SeqCst) == 0 {
            return Some((Duration::ZERO, 503, "busy".into()));
        }
        Some((Duration::ZERO, 404, "{}".into()))
    });
    let server = scripted(script).await;
    let mut config = HumaansConfig::new(&server.url, Secret::new(TOKEN));
    config.retry.min_delay = Duration::from_secs(20);
    let client = HumaansClient::new(config).unwrap();
    let started = tokio::time::Instant::now();
    let error = client.check_access().await.expect_err("404 after retry");
    assert!(matches!(error, HumaansError::NotFound { .. }), "{error:?}");
    // The backoff slept at least the minimum delay, in virtual time.
    assert!(
        started.elapsed() >= Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

// ---------------------------------------------------------------------------------------
// Against the Humaans simulator (`humaans-sim`).

mod simulator {
    use std::collections::HashMap;

    use humaans_sim::{
        Category, Faults, RateLimit, RateLimitWhen, SimConfig, Simulator, Truncate, TruncateMode,
    };
    use seatbroker_agent::{Collection, HumaansClient, HumaansConfig, current_role};
    use seatbroker_protocol::Secret;

    use super::{Sleeps, no_progress};

    const AS_OF: &str = "2025-06-15";

    async fn start(people: usize, faults: Faults) -> Simulator {
        Simulator::start(SimConfig {
            people,
            seed: 42,
            as_of: AS_OF.parse().unwrap(),
            faults,
            ..SimConfig::default()
        })
        .await
        .expect("simulator starts")
    }

    fn client(sim: &Simulator, token: &str, concurrency: usize) -> (HumaansClient, Sleeps) {
        let sleeps: Sleeps = Sleeps::default();
        let recorded = sleeps.clone();
        let mut config = HumaansConfig::new(sim.url(), Secret::new(token));
        config.concurrency = concurrency;
        let client = HumaansClient::new(config)
            .unwrap()
            .with_sleep(std::sync::Arc::new(move |d| {
                recorded.lock().unwrap().push(d);
                Box::pin(async {})
            }));
        (client, sleeps)
    }

    async fn collect(sim: &Simulator, concurrency: usize) -> Collection {
        let (client, _) = client(sim, &sim.tokens().full, concurrency);
        client.collect(&no_progress()).await.expect("collect")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ten_thousand_people_collect_identically_at_concurrency_1_and_8() {
        let sim = start(10_000, Faults::default()).await;
        let one = collect(&sim, 1).await;
        let eight = collect(&sim, 8).await;
        assert_eq!(one.people, eight.people);
        assert_eq!(one.job_roles, eight.job_roles);
        assert_eq!(one.people.len(), sim.company().people().len());
        assert_eq!(one.job_roles.len(), sim.company().job_roles().len());
        assert_eq!(one.company_id, sim.company().id());
        assert_eq!(one.company_name, sim.company().name());
        assert!(one.private_access);
        assert!(one.unparsable_person_ids.is_empty());
        sim.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_planted_category_arrives_with_the_fields_the_engine_needs() {
        let sim = start(10_000, Faults::default()).await;
        let collection = collect(&sim, 4).await;
        let today = AS_OF.parse().unwrap();
        let people: HashMap<&str, _> = collection
            .people
            .iter()
            .map(|p| (p.id.as_str(), p))
            .collect();
        let mut roles_of: HashMap<&str, Vec<_>> = HashMap::new();
        for role in &collection.job_roles {
            roles_of
                .entry(role.person_id.as_str())
                .or_default()
                .push(role);
        }
        let mut categories_seen = std::collections::BTreeSet::new();
        for planted in sim.company().people() {
            let got = people
                .get(planted.id.as_str())
                .unwrap_or_else(|| panic!("{} missing", planted.id));
            let ctx = format!("{} ({:?})", planted.id, planted.category);
            assert_eq!(
                got.status.as_ref().map(|s| s.as_str()),
                planted.status.as_deref(),
                "{ctx}"
            );
            assert_eq!(
                got.employment_start_date, planted.employment_start_date,
                "{ctx}"
            );
            assert_eq!(
                got.employment_end_date, planted.employment_end_date,
                "{ctx}"
            );
            assert_eq!(got.is_verified, planted.is_verified, "{ctx}");
            assert_eq!(got.email, planted.email, "{ctx}");
            assert_eq!(
                got.first_name.as_deref(),
                Some(planted.first_name.as_str()),
                "{ctx}"
            );
            let current = current_role(
                roles_of
                    .get(planted.id.as_str())
                    .into_iter()
                    .flatten()
                    .copied(),
                today,
            );
            assert_eq!(
                current.map(|r| r.id.as_str()),
                planted.current_job_role.as_deref(),
                "{ctx}"
            );
            assert_eq!(
                current.and_then(|r| r.reporting_to.as_deref()),
                planted.manager_id.as_deref(),
                "{ctx}"
            );
            if let Some(role) = current {
                assert!(
                    role.job_title.is_some() && role.department.is_some(),
                    "{ctx}"
                );
            }
            categories_seen.insert(planted.category);
        }
        assert_eq!(
            categories_seen.len(),
            Category::ALL.len(),
            "{categories_seen:?}"
        );
        sim.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_public_only_token_is_detected() {
        let sim = start(500, Faults::default()).await;
        let (client, _) = client(&sim, &sim.tokens().public_only, 4);
        let access = client.check_access().await.expect("access");
        assert!(!access.private_access, "{access:?}");
        assert!(access.warning().unwrap().contains("private:read"));
        let collection = client.collect(&no_progress()).await.expect("collect");
        assert!(!collection.private_access);
        let active = sim
            .company()
            .people()
            .iter()
            .filter(|p| p.status.as_deref() == Some("active"))
            .count();
        assert_eq!(collection.people.len(), active);
        sim.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn faults_are_retried_to_the_same_result() {
        let clean = start(3_000, Faults::default()).await;
        let expected = collect(&clean, 4).await;
        clean.shutdown().await;
        let faults = Faults {
            rate_limit: Some(RateLimit {
                when: RateLimitWhen::Every(5),
                retry_after_secs: 3,
            }),
            server_error_every: Some(7),
            truncate: Some(Truncate {
                every: 11,
                mode: TruncateMode::CutJson,
            }),
            ..Faults::default()
        };
        let sim = start(3_000, faults).await;
        // The faults follow one request counter shared by the 4 requests in flight, so how
        // many times in a row one page is hit depends on how they interleave; the default 6
        // attempts is then a matter of luck. What is tested is that retries reach the same
        // result, so the budget is generous here.
        let sleeps: Sleeps = Sleeps::default();
        let recorded = sleeps.clone();
        let mut config = HumaansConfig::new(sim.url(), Secret::new(&sim.tokens().full));
        config.concurrency = 4;
        config.retry.max_attempts = 40;
        config.retry.max_elapsed = std::time::Duration::from_secs(24 * 3600);
        let client = HumaansClient::new(config)
            .unwrap()
            .with_sleep(std::sync::Arc::new(move |d| {
                recorded.lock().unwrap().push(d);
                Box::pin(async {})
            }));
        let got = client
            .collect(&no_progress())
            .await
            .expect("collect through faults");
        assert_eq!(got.people, expected.people);
        assert_eq!(got.job_roles, expected.job_roles);
        let sleeps = sleeps.lock().unwrap().clone();
        assert!(
            sleeps.contains(&std::time::Duration::from_secs(3)),
            "{sleeps:?}"
        );
        sim.shutdown().await;
    }
}
