//! `collect --dry-run` against a scripted Humaans (mockito): token file handling, the
//! readable report, the JSON shape, the CSV file and the private-access warning.

use std::path::{Path, PathBuf};

use mockito::{Matcher, Server, ServerGuard};
use seatbroker_agent::{DryRunArgs, DryRunError, dry_run};
use serde_json::{Value, json};

const AS_OF: &str = "2025-06-15";

/// A Humaans with the given people and job roles; `private` decides the token's scopes.
async fn humaans(people: Value, roles: Value, private: bool) -> ServerGuard {
    let mut server = Server::new_async().await;
    let scopes = if private {
        json!(["public:read", "private:read"])
    } else {
        json!(["public:read"])
    };
    let page = |data: &Value| {
        let n = data.as_array().map_or(0, Vec::len);
        json!({"total": n, "limit": 250, "skip": 0, "data": data}).to_string()
    };
    let routes = [
        (
            "/api/me",
            json!({"id": "me", "companyId": "c1"}).to_string(),
        ),
        (
            "/api/token-info",
            json!({"personId": "me", "scopes": scopes}).to_string(),
        ),
        (
            "/api/companies",
            json!({"total": 1, "limit": 250, "skip": 0,
                   "data": [{"id": "c1", "name": "Acme, Ltd"}]})
            .to_string(),
        ),
        ("/api/people", page(&people)),
        ("/api/job-roles", page(&roles)),
    ];
    for (path, body) in routes {
        server
            .mock("GET", path)
            .match_query(Matcher::Any)
            .match_header("authorization", "Bearer tok-123")
            .with_header("content-type", "application/json")
            .with_body(body)
            .create_async()
            .await;
    }
    server
}

fn company() -> (Value, Value) {
    let people = json!([
        {"id": "a", "firstName": "Ann", "lastName": "Lee, Jr.", "email": "ann@acme.test",
         "status": "active", "employmentStartDate": "2020-01-01", "isVerified": true},
        {"id": "b", "firstName": "Bob \"B\"", "email": "ANN@acme.test ",
         "status": "active", "employmentStartDate": "2020-01-01",
         "employmentEndDate": "2025-06-20", "isVerified": true},
        {"id": "c", "firstName": "Cy", "status": "active",
         "employmentStartDate": "2020-01-01", "employmentEndDate": "2025-06-01"},
        {"id": "d", "firstName": "Di", "status": "newHire", "employmentStartDate": "2025-07-01"},
        {"id": "e", "firstName": "Ed", "status": "offboarded",
         "employmentStartDate": "2019-01-01", "employmentEndDate": "2025-05-01"},
        {"id": "f", "firstName": "Fi", "status": "suspended"}
    ]);
    let roles = json!([
        {"id": "r1", "personId": "a", "jobTitle": "CEO", "department": "Board",
         "effectiveDate": "2020-01-01", "endDate": null, "reportingTo": null},
        {"id": "r2", "personId": "b", "jobTitle": "=cmd()", "department": "Engineering",
         "effectiveDate": "2020-01-01", "reportingTo": "a"},
        {"id": "r3", "personId": "c", "jobTitle": "Dev", "department": "Engineering",
         "effectiveDate": "2020-01-01", "reportingTo": "e"}
    ]);
    (people, roles)
}

fn args(url: &str, token_file: &Path) -> DryRunArgs {
    DryRunArgs {
        humaans_url: url.to_owned(),
        token_file: token_file.to_owned(),
        as_of: Some(AS_OF.parse().unwrap()),
        json: false,
        csv: None,
        concurrency: 2,
        allow_insecure_http: false,
    }
}

fn token_file(dir: &Path, content: &str) -> PathBuf {
    let path = dir.join("humaans.token");
    std::fs::write(&path, content).unwrap();
    path
}

async fn run_to_string(args: &DryRunArgs) -> Result<String, DryRunError> {
    let mut out = Vec::new();
    dry_run(args, &mut out).await?;
    Ok(String::from_utf8(out).unwrap())
}

#[tokio::test]
async fn json_has_the_truth_shape() {
    let (people, roles) = company();
    let server = humaans(people, roles, true).await;
    let dir = tempfile::tempdir().unwrap();
    let mut args = args(&server.url(), &token_file(dir.path(), "  tok-123\n"));
    args.json = true;
    let out: Value = serde_json::from_str(&run_to_string(&args).await.unwrap()).unwrap();
    assert_eq!(
        out["counts"],
        json!({"pre_hire": 1, "active": 1, "leaving": 1, "inactive": 1,
               "offboarded": 1, "unknown": 1})
    );
    assert_eq!(
        out["inactive_reasons"],
        json!({"ended_not_offboarded": 1, "never_verified": 0})
    );
    assert_eq!(out["as_of"], json!(AS_OF));
    assert_eq!(out["billable"], json!(3));
    assert_eq!(out["in_use"], json!(2));
    assert_eq!(out["pre_hires_starting_soon"], json!(1));
    assert_eq!(out["recent_leavers"], json!(1));
    assert_eq!(out["findings"]["duplicate_work_email"], json!(2));
    assert_eq!(out["findings"]["manager_offboarded"], json!(1));
    assert_eq!(
        out["findings"]["no_manager"],
        json!(0),
        "a is the top: excepted"
    );
    assert_eq!(out["company_name"], json!("Acme, Ltd"));
    assert_eq!(out["private_access"], json!(true));
    assert_eq!(out["warnings"], json!([]));
}

#[tokio::test]
async fn readable_report_and_csv() {
    let (people, roles) = company();
    let server = humaans(people, roles, true).await;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("seats.csv");
    let mut args = args(&server.url(), &token_file(dir.path(), "tok-123"));
    args.csv = Some(csv.clone());
    let text = run_to_string(&args).await.unwrap();

    for expected in [
        "Humaans company Acme, Ltd (c1) as of 2025-06-15: 6 people, 3 job roles",
        "  leaving                          1   16.7%",
        "    ended_not_offboarded           1",
        "  total                            6",
        "Billable seats (active + leaving + inactive)         3",
        "Utilisation (in use / billable)                  66.7%",
        "Pre-hires starting within 30 days                    1",
        "Leavers in the last 90 days                          1",
        "Departments (top 3 of 3)      people  billable  in use  inactive",
        "  (no current role)                3         0       0         0",
        "  Engineering                      2         2       1         1",
        "  duplicate_work_email             2",
        "Seat records written to ",
        "Dry run: nothing was uploaded or stored.",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(!text.contains("Warning"), "{text}");

    let written = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = written.lines().collect();
    assert_eq!(
        lines[0],
        "person_id,name,work_email,status,employment_start_date,employment_end_date,\
         job_title,department,manager_id,is_verified,state,reason,since,reason_note"
    );
    assert_eq!(
        lines[1],
        "a,\"Ann Lee, Jr.\",ann@acme.test,active,2020-01-01,,CEO,Board,,true,active,,,"
    );
    assert_eq!(
        lines[2],
        "b,\"Bob \"\"B\"\"\",ANN@acme.test,active,2020-01-01,2025-06-20,\"'=cmd()\",\
         Engineering,a,true,leaving,end_date_within_window,2025-06-20,"
    );
    assert_eq!(lines.len(), 7, "header and six people:\n{written}");
    // Only the CSV and the token are left in the directory: the temporary file is gone.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[tokio::test]
async fn token_without_private_read_is_reported() {
    let (people, roles) = company();
    // Without private read Humaans hides pre-hires, leavers and end dates.
    let people: Vec<Value> = people
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["status"] == "active" && p["employmentEndDate"].is_null())
        .cloned()
        .collect();
    let server = humaans(Value::Array(people), roles, false).await;
    let dir = tempfile::tempdir().unwrap();
    let text = run_to_string(&args(&server.url(), &token_file(dir.path(), "tok-123")))
        .await
        .unwrap();
    assert!(
        text.contains("Warning: the Humaans token lacks private:read"),
        "{text}"
    );
}

#[tokio::test]
async fn token_file_problems_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens there: the token is checked before any connection.
    let url = "http://127.0.0.1:9";

    let missing = dir.path().join("nope.token");
    let err = run_to_string(&args(url, &missing)).await.unwrap_err();
    assert!(matches!(err, DryRunError::TokenFile { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("nope.token") && message.contains("API token"),
        "{message}"
    );

    let empty = token_file(dir.path(), " \n\t\n");
    let err = run_to_string(&args(url, &empty)).await.unwrap_err();
    assert!(matches!(err, DryRunError::TokenEmpty { .. }), "{err:?}");
    assert!(err.to_string().contains("humaans.token"), "{err}");
}

#[tokio::test]
async fn rejected_token_stops_with_the_clients_message() {
    let mut server = Server::new_async().await;
    server
        .mock("GET", Matcher::Any)
        .with_status(401)
        .with_header("content-type", "application/json")
        .with_body(r#"{"code":401,"message":"Invalid access token"}"#)
        .create_async()
        .await;
    let dir = tempfile::tempdir().unwrap();
    let err = run_to_string(&args(
        &server.url(),
        &token_file(dir.path(), "tok-SECRET-417"),
    ))
    .await
    .unwrap_err();
    assert!(matches!(err, DryRunError::Humaans(_)), "{err:?}");
    let message = err.to_string();
    assert!(
        !message.contains("SECRET"),
        "the token never appears: {message}"
    );
    assert!(message.to_lowercase().contains("token"), "{message}");
}

// ----- against the simulator -----

/// The dry run's JSON against `humaans-sim`'s ground truth, for several seeds, sizes and
/// as-of dates (the simulator builds its company around its as-of date; the dry run gets
/// the same date). Every key of the truth must match; on a mismatch the per-person
/// differences name the culprits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_equals_simulator_truth() {
    use humaans_sim::{SimConfig, Simulator};

    let cases: [(u64, usize, &str); 5] = [
        (1, 50, "2025-06-15"),
        (7, 1_000, "2024-02-29"),
        (42, 5_000, "2025-12-31"),
        (3, 1_000, "2026-03-01"),
        (11, 50, "2023-01-01"),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (seed, people, as_of) in cases {
        let as_of: chrono::NaiveDate = as_of.parse().unwrap();
        let sim = Simulator::start(SimConfig {
            people,
            seed,
            as_of,
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let token = token_file(dir.path(), &sim.tokens().full);
        let mut args = args(sim.url(), &token);
        args.as_of = Some(as_of);
        args.json = true;
        args.concurrency = 4;
        let out: Value = serde_json::from_str(&run_to_string(&args).await.unwrap()).unwrap();
        let truth = serde_json::to_value(sim.truth()).unwrap();
        let Value::Object(truth) = truth else {
            panic!("truth is not an object: {truth}")
        };
        let mismatched: Vec<String> = truth
            .iter()
            .filter(|(key, expected)| out.get(key.as_str()) != Some(*expected))
            .map(|(key, expected)| {
                format!(
                    "{key}: dry run {} != truth {expected}",
                    out.get(key.as_str()).unwrap_or(&Value::Null)
                )
            })
            .collect();
        let context = format!("seed {seed}, {people} people, as of {as_of}");
        assert!(
            truth.contains_key("counts") && truth.contains_key("inactive_reasons"),
            "{context}: the truth lost its shape: {truth:?}"
        );
        // Stronger than the totals: every person's state, reason, since date and findings.
        let people_diff = per_person_differences(&sim, as_of).await;
        assert!(
            mismatched.is_empty() && people_diff.is_empty(),
            "{context}:\n{}\nfirst differing people:\n{}",
            mismatched.join("\n"),
            people_diff.join("\n")
        );
        assert_eq!(out["private_access"], json!(true), "{context}");
        sim.shutdown().await;
    }
}

/// Engine output against each planted person's expected seat and findings, as readable
/// lines (at most 15).
async fn per_person_differences(
    sim: &humaans_sim::Simulator,
    as_of: chrono::NaiveDate,
) -> Vec<String> {
    use seatbroker_agent::{HumaansClient, HumaansConfig, evaluate};
    use seatbroker_protocol::{Secret, UsagePolicy};

    let client = HumaansClient::new(HumaansConfig::new(
        sim.url(),
        Secret::new(sim.tokens().full.clone()),
    ))
    .unwrap();
    let collection = client.collect(&|_| {}).await.unwrap();
    let evaluation = evaluate(
        &collection.people,
        &collection.job_roles,
        &UsagePolicy::default(),
        as_of,
        None,
    )
    .unwrap();
    let mut lines = Vec::new();
    for planted in sim.company().people() {
        let Some(seat) = evaluation.seats.iter().find(|s| s.person_id == planted.id) else {
            lines.push(format!("{}: missing from the engine's output", planted.id));
            continue;
        };
        let expected = (
            planted.expected.state.as_str(),
            planted.expected.reason.map(|r| r.as_str()),
            planted.expected.since,
        );
        let actual = (
            seat.state.as_str(),
            seat.reason.as_ref().map(|r| r.as_str()),
            seat.since,
        );
        let mut expected_findings: Vec<&str> =
            planted.findings.iter().map(|f| f.as_str()).collect();
        expected_findings.sort_unstable();
        let mut actual_findings: Vec<&str> = evaluation
            .findings
            .iter()
            .filter(|f| f.person_id == planted.id)
            .map(|f| f.kind.as_str())
            .collect();
        actual_findings.sort_unstable();
        if expected != actual || expected_findings != actual_findings {
            lines.push(format!(
                "{} ({:?}): planted {expected:?} {expected_findings:?}, engine {actual:?} \
                 {actual_findings:?}; status {:?} start {:?} end {:?} verified {:?} \
                 manager {:?}",
                planted.id,
                planted.category,
                planted.status,
                planted.employment_start_date,
                planted.employment_end_date,
                planted.is_verified,
                planted.manager_id,
            ));
        }
    }
    lines.truncate(15);
    lines
}

/// The never-verified rule is explained as a heuristic with the seats it alone makes
/// inactive; a company whose job roles name no manager gets one warning, not a
/// `no_manager` finding per person.
#[tokio::test]
async fn the_never_verified_heuristic_and_a_missing_manager_field_are_explained() {
    let people = json!([
        {"id": "a", "status": "active", "employmentStartDate": "2020-01-01", "isVerified": true},
        {"id": "b", "status": "active", "employmentStartDate": "2020-01-01", "isVerified": false},
        {"id": "c", "status": "active", "employmentStartDate": "2025-06-01", "isVerified": false},
        // Ended and unverified: the end date decides, not the heuristic.
        {"id": "d", "status": "active", "employmentStartDate": "2020-01-01",
         "employmentEndDate": "2025-01-01", "isVerified": false}
    ]);
    let roles = json!([
        {"id": "r1", "personId": "a", "effectiveDate": "2020-01-01"},
        {"id": "r2", "personId": "b", "effectiveDate": "2020-01-01", "reportingTo": null},
        {"id": "r3", "personId": "c", "effectiveDate": "2025-06-01", "managerId": ""}
    ]);
    let server = humaans(people, roles, true).await;
    let dir = tempfile::tempdir().unwrap();
    let mut args = args(&server.url(), &token_file(dir.path(), "tok-123"));
    let csv = dir.path().join("seats.csv");
    args.csv = Some(csv.clone());
    let text = run_to_string(&args).await.unwrap();
    let written = std::fs::read_to_string(&csv).unwrap();
    let b = written.lines().find(|l| l.starts_with("b,")).unwrap();
    assert!(
        b.contains(",inactive,never_verified,2020-01-31,\"the person has not accepted the Humaans invitation and signed in; no Humaans document defines isVerified, so this is a heuristic"),
        "{b}"
    );
    let d = written.lines().find(|l| l.starts_with("d,")).unwrap();
    assert!(
        d.ends_with(",inactive,ended_not_offboarded,2025-01-01,"),
        "{d}"
    );
    for expected in [
        "never_verified: 1 seat(s) are inactive only because Humaans says the person is not \
         verified 30 days after starting. Read as: the person has not accepted the Humaans \
         invitation and signed in; no Humaans document defines isVerified, so this is a \
         heuristic",
        "Warning: none of the 3 job roles read from Humaans names a manager (reportingTo or \
         managerId), so no_manager is not reported for each person",
        "  no_manager                       0",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }

    args.json = true;
    let out: Value = serde_json::from_str(&run_to_string(&args).await.unwrap()).unwrap();
    assert_eq!(out["inactive_reasons"]["never_verified"], json!(1));
    assert_eq!(out["never_verified_rule"]["inactive_seats"], json!(1));
    assert_eq!(out["never_verified_rule"]["enabled"], json!(true));
    assert_eq!(out["never_verified_rule"]["grace_days"], json!(30));
    assert!(
        out["never_verified_rule"]["meaning"]
            .as_str()
            .unwrap()
            .contains("accepted the Humaans invitation and signed in")
    );
    assert_eq!(out["findings"]["no_manager"], json!(0));
    assert_eq!(out["warnings"].as_array().unwrap().len(), 1, "{out}");
}
