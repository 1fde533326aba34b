//! The `humaans-sim` binary: the truth command's exact shape, and serve's JSON line.

use std::process::Stdio;

use humaans_sim::CompanySpec;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::support::as_of;

const BIN: &str = env!("CARGO_BIN_EXE_humaans-sim");

#[tokio::test]
async fn truth_prints_the_documented_shape() {
    let output = Command::new(BIN)
        .args([
            "truth",
            "--people",
            "800",
            "--seed",
            "4",
            "--as-of",
            "2026-03-15",
        ])
        .output()
        .await
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(text.lines().count(), 1);
    let truth: Value = serde_json::from_str(&text).unwrap();
    let keys = |v: &Value| {
        let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(
        keys(&truth["counts"]),
        [
            "active",
            "inactive",
            "leaving",
            "offboarded",
            "pre_hire",
            "unknown"
        ]
    );
    assert_eq!(
        keys(&truth["inactive_reasons"]),
        ["ended_not_offboarded", "never_verified"]
    );
    // The documented order, as printed.
    let order = [
        "\"counts\":{\"pre_hire\":",
        "\"active\":",
        "\"leaving\":",
        "\"inactive\":",
        "\"offboarded\":",
        "\"unknown\":",
        "},\"inactive_reasons\":{\"ended_not_offboarded\":",
        "\"never_verified\":",
    ];
    let positions: Vec<usize> = order.iter().map(|key| text.find(key).expect(key)).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert!(text.starts_with("{\"counts\":{\"pre_hire\":"));
    let library = humaans_sim::truth(&CompanySpec::new(800, 4, as_of())).unwrap();
    assert_eq!(truth, serde_json::to_value(&library).unwrap());
}

#[tokio::test]
async fn bad_configuration_exits_64() {
    let status = Command::new(BIN)
        .args(["truth", "--people", "0"])
        .status()
        .await
        .unwrap();
    assert_eq!(status.code(), Some(64));
}

#[tokio::test]
async fn serve_prints_one_json_line_then_serves() {
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--people",
            "40",
            "--seed",
            "8",
            "--port",
            "0",
            "--as-of",
            "2026-03-15",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .await
        .unwrap();
    let hello: Value = serde_json::from_str(&line).unwrap();
    let url = hello["url"].as_str().unwrap();
    assert!(url.starts_with("http://127.0.0.1:"));
    assert!(line.starts_with(r#"{"url":"#));
    let tokens = &hello["tokens"];
    let expected = humaans_sim::Tokens::for_seed(8);
    assert_eq!(tokens["full"], expected.full.as_str());
    assert_eq!(tokens["public_only"], expected.public_only.as_str());
    let page: Value = reqwest::Client::new()
        .get(format!("{url}/api/people"))
        .bearer_auth(&expected.full)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], 40);
    child.kill().await.unwrap();
}

async fn stdout_of(args: &[&str]) -> String {
    let output = Command::new(BIN).args(args).output().await.unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn graph_truth_and_seat_list_commands_print_the_library_values() {
    let company = ["--people", "300", "--seed", "4", "--as-of", "2026-03-15"];
    let spec = CompanySpec::new(300, 4, as_of());
    let with = |extra: &[&'static str], first: &'static str| {
        let mut args = vec![first];
        args.extend(company);
        args.extend(extra);
        args
    };
    for (extra, activity) in [(&[][..], true), (&["--without-activity"][..], false)] {
        let text = stdout_of(&with(extra, "graph-truth")).await;
        assert_eq!(text.lines().count(), 1);
        assert!(
            text.starts_with(r#"{"kind":"entra_id","as_of":"2026-03-15","activity_available":"#)
        );
        let printed: Value = serde_json::from_str(&text).unwrap();
        let library = humaans_sim::graph::truth(&spec, activity).unwrap();
        assert_eq!(printed, serde_json::to_value(&library).unwrap());
        assert_eq!(printed["activity_available"], activity);
    }
    let csv = stdout_of(&with(&["--app", "Slack", "--bom", "--crlf"], "seat-list")).await;
    let options = humaans_sim::seat_list::SeatListOptions {
        bom: true,
        crlf: true,
    };
    assert_eq!(
        csv,
        humaans_sim::seat_list::csv(&spec, "Slack", &options).unwrap()
    );
    let truth = stdout_of(&with(
        &["--app", "Slack", "--purchased", "Business+, annual=40"],
        "seat-list-truth",
    ))
    .await;
    let printed: Value = serde_json::from_str(&truth).unwrap();
    assert_eq!(printed["kind"], "seat_list");
    let purchased = [("Business+, annual".to_owned(), 40)].into();
    let library = humaans_sim::seat_list::truth(&spec, "Slack", &purchased).unwrap();
    assert_eq!(printed, serde_json::to_value(&library).unwrap());
    assert_eq!(printed["pools"][0]["purchased"], 40, "{printed}");
}

#[tokio::test]
async fn graph_serve_prints_one_json_line_then_serves() {
    let mut child = Command::new(BIN)
        .args([
            "graph-serve",
            "--people",
            "60",
            "--seed",
            "8",
            "--as-of",
            "2026-03-15",
            "--port",
            "0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .await
        .unwrap();
    assert!(
        line.starts_with(r#"{"login_url":"http://127.0.0.1:"#),
        "{line}"
    );
    let hello: Value = serde_json::from_str(&line).unwrap();
    let login = hello["login_url"].as_str().unwrap();
    let graph = hello["graph_url"].as_str().unwrap();
    let tenant = hello["tenant_id"].as_str().unwrap();
    let secrets = humaans_sim::graph::GraphSecrets::for_seed(8);
    assert_eq!(hello["client_secrets"]["full"], secrets.full.as_str());
    assert_eq!(
        hello["client_secrets"]["no_audit_log"],
        secrets.no_audit_log.as_str()
    );
    let client = reqwest::Client::new();
    let scope = format!("{graph}/.default");
    let token: Value = client
        .post(format!("{login}/{tenant}/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", hello["client_id"].as_str().unwrap()),
            ("client_secret", &secrets.full),
            ("scope", &scope),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let page: Value = client
        .get(format!(
            "{graph}/v1.0/users?$select=id,signInActivity&$top=999"
        ))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        page["value"].as_array().unwrap().len(),
        60.min(page["value"].as_array().unwrap().len())
    );
    assert!(page["value"].as_array().unwrap().len() <= 120);
    child.kill().await.unwrap();
}

#[tokio::test]
async fn graph_serve_refuses_unknown_secret_names() {
    let status = Command::new(BIN)
        .args(["graph-serve", "--revoke-secret", "nobody"])
        .stderr(Stdio::null())
        .status()
        .await
        .unwrap();
    assert_eq!(status.code(), Some(64));
}
