//! `collect --dry-run` against a scripted Humaans (mockito): token file handling, the
//! readable report, the JSON shape, the CSV file and the private-access warning.

use std::path::{Path, PathBuf};

use mockito::{Matcher, Server, ServerGuard};
use seatbroker_agent::dryrun::{DryRunArgs, DryRunError, run};
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
    run(args, &mut out).await?;
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
         job_title,department,manager_id,is_verified,state,reason,since"
    );
    assert_eq!(
        lines[1],
        "a,\"Ann Lee, Jr.\",ann@acme.test,active,2020-01-01,,CEO,Board,,true,active,,"
    );
    assert_eq!(
        lines[2],
        "b,\"Bob \"\"B\"\"\",ANN@acme.test,active,2020-01-01,2025-06-20,\"'=cmd()\",\
         Engineering,a,true,leaving,end_date_within_window,2025-06-20"
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
