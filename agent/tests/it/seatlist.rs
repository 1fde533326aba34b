//! Seat-list CSV files: spreadsheet exports (BOM, CRLF, quotes), bad rows counted and
//! listed with file, line and column, broken files failing with their place, folders, a
//! file rewritten while it is read; then the licence figures and the dry run of the binary.

use std::collections::BTreeMap;
use std::path::Path;

use seatbroker_agent::seatlist::{SeatList, SeatListError, read_path, read_path_with, to_licences};
use seatbroker_protocol::LicencePolicy;
use serde_json::{Value, json};

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const EXPORT: &str = "\u{feff}Email,Application,Account,Status,Licence,Last_Active,Assigned_At\r\n\
ann@acme.com,Slack,ann,,Business+,2026-11-20,\r\n\
bob@acme.com,Slack,bob,SUSPENDED,Business+,,\r\n\
\"carl@acme.com\",Slack,\"Carl, \"\"CJ\"\" Jr\",active,,2026-01-01T10:00:00Z,2025-01-01\r\n\
dan@acme.com,Slack,\"dan\r\nsmith\",Deactivated,,,\r\n\
,Slack,,,,,\r\n\
eve@acme.com,Slack,eve,on leave,,,\r\n\
fay@acme.com,Slack,fay,,,last tuesday,\r\n\
gus@acme.com,,gus,,,,\r\n\
hal@acme.com,Slack,hal,,\r\n\
ivy@acme.com,Slack,ivy,inactive,,2026-11-24 08:00:00,2026-11-01\r\n";

#[test]
fn spreadsheet_exports_are_read_and_bad_rows_listed() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "slack.csv", EXPORT);
    let list = read_path(&path).unwrap();
    let accounts: Vec<(Option<&str>, bool)> = list
        .rows
        .iter()
        .map(|r| (r.account.as_deref(), r.enabled))
        .collect();
    assert_eq!(
        accounts,
        [
            (Some("ann"), true),
            (Some("bob"), false),
            (Some("Carl, \"CJ\" Jr"), true),
            (Some("dan\r\nsmith"), false),
            (Some("ivy"), false),
        ]
    );
    assert_eq!(list.rows[2].line, 4);
    assert_eq!(
        list.rows[4].line, 12,
        "a quoted line break counts as a line"
    );
    assert_eq!(list.rows_seen, 10);
    let file = path.display().to_string();
    let bad: Vec<String> = list
        .bad_rows
        .iter()
        .map(|b| b.replacen(&file, "FILE", 1))
        .collect();
    assert_eq!(
        bad,
        [
            "FILE:7:8: both account and email are empty; give at least one",
            "FILE:8:24: unknown status `on leave`; use active (or empty), disabled, deactivated, suspended or inactive",
            "FILE:9:26: `last tuesday` is not a date; write 2026-11-25 or 2026-11-25T08:30:00Z",
            "FILE:10:14: the application is empty",
            "FILE:11:25: 5 fields where the header has 7",
        ]
    );
}

#[test]
fn broken_files_fail_with_their_place() {
    let dir = tempfile::tempdir().unwrap();
    let check = |text: &str, expected: &str| {
        let path = write(dir.path(), "x.csv", text);
        let error = read_path(&path).unwrap_err().to_string();
        assert_eq!(
            error.replacen(&path.display().to_string(), "FILE", 1),
            expected
        );
    };
    check(
        "application,account,plan\n",
        "FILE:1:21: unknown column `plan`; the columns are application, account, email, licence, status, last_active, assigned_at",
    );
    check(
        "account,email\nann,ann@acme.com\n",
        "FILE:1:1: the header must name `application` and `account` or `email` (found: account,email); the first line must be the header",
    );
    check(
        "application,account\nSlack,\"ann\n",
        "FILE:2:7: this quoted field is never closed; add the closing `\"`",
    );
    check(
        "application,account,account\n",
        "FILE:1:21: the column `account` appears twice",
    );
    check(
        "",
        "FILE:1:1: the file is empty; the first line must be the header application,account,email,licence,status,last_active,assigned_at",
    );
}

#[test]
fn a_folder_is_every_csv_file_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "b-zoom.csv",
        "application,email\nZoom,a@acme.com\n",
    );
    write(
        dir.path(),
        "a-slack.CSV",
        "application,email\nSlack,a@acme.com\n",
    );
    write(dir.path(), "notes.txt", "not a seat list");
    let list = read_path(dir.path()).unwrap();
    let apps: Vec<&str> = list.rows.iter().map(|r| r.application.as_str()).collect();
    assert_eq!(apps, ["Slack", "Zoom"]);
    assert!(!list.activity_available, "no last_active column");

    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        read_path(empty.path()),
        Err(SeatListError::EmptyFolder { .. })
    ));
    assert!(matches!(
        read_path(&empty.path().join("missing.csv")),
        Err(SeatListError::Io { .. })
    ));
}

#[test]
fn a_file_rewritten_while_read_is_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "s.csv", "application,email\n");
    let versions = [
        "application,email\nSlack,a@acme.com\n",
        "application,email\nSlack,a@acme.com\nSlack,b@acme.com\n",
        "application,email\nSlack,a@acme.com\nSlack,b@acme.com\n",
    ];
    let mut reads = 0;
    let list = read_path_with(&path, &mut |_| {
        reads += 1;
        Ok(versions[(reads - 1).min(2)].as_bytes().to_vec())
    })
    .unwrap();
    assert_eq!(reads, 3);
    assert_eq!(list.rows.len(), 2, "the settled content is used");

    let mut reads = 0;
    let error = read_path_with(&path, &mut |_| {
        reads += 1;
        Ok(format!("application,email\nSlack,u{reads}@acme.com\n").into_bytes())
    })
    .unwrap_err();
    assert!(matches!(error, SeatListError::Unstable { .. }), "{error}");
    assert!(error.to_string().contains("kept changing"), "{error}");
}

fn figures(list: &SeatList, purchased: &[(&str, u64)]) -> Value {
    let purchased: BTreeMap<String, u64> =
        purchased.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    let licences = to_licences(
        list,
        &purchased,
        &LicencePolicy::default(),
        "2026-11-25".parse().unwrap(),
        None,
    )
    .unwrap();
    let pools: Vec<Value> = licences
        .pools
        .iter()
        .map(|p| json!([p.id, p.name, p.purchased, p.assigned, p.unassigned]))
        .collect();
    json!({"total": licences.accounts_total, "counts": licences.counts, "pools": pools})
}

#[test]
fn seat_lists_become_accounts_and_pools() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "slack.csv", EXPORT);
    let list = read_path(&path).unwrap();
    assert_eq!(
        figures(&list, &[("Business+", 5)]),
        json!({
            "total": 5,
            "counts": {"in_use": 1, "idle": 1, "never_used": 0, "disabled_holding": 3, "unknown_activity": 0},
            "pools": [
                ["Slack/Business+", "Business+", 5, 2, 3],
                ["Slack/Slack", "Slack", null, 3, null]
            ]
        })
    );
    // Never used: grace from the assignment day, else no start at all.
    let path = write(
        dir.path(),
        "zoom.csv",
        "application,email,assigned_at,last_active\nZoom,a@acme.com,2026-11-20,\nZoom,b@acme.com,2026-11-01,\nZoom,c@acme.com,,\nZoom,A@ACME.COM,,\n",
    );
    let list = read_path(&path).unwrap();
    assert_eq!(
        figures(&list, &[("Zoom", 2)]),
        json!({
            "total": 3,
            "counts": {"in_use": 1, "idle": 0, "never_used": 2, "disabled_holding": 0, "unknown_activity": 0},
            "pools": [["Zoom/Zoom", "Zoom", 2, 3, 0]]
        })
    );
}

#[test]
fn dry_run_prints_the_contract_json_for_a_seat_list() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "slack.csv", EXPORT);
    let config = write(
        dir.path(),
        "agent.yaml",
        &format!(
            "platform:\n  url: https://platform.invalid\nsources:\n  - name: slack\n    kind: seat_list\n    path: {}\n    purchased:\n      Business+: 5\n",
            csv.display()
        ),
    );
    let state = dir.path().join("state");
    let args = |json: bool| {
        let mut args = vec![
            "--config",
            config.to_str().unwrap(),
            "--state-dir",
            state.to_str().unwrap(),
            "collect",
            "--dry-run",
            "--source",
            "slack",
            "--as-of",
            "2026-11-25",
        ];
        if json {
            args.push("--json");
        }
        crate::config::agent(&args)
    };
    let (code, stdout, stderr) = args(true);
    assert_eq!(code, 0, "{stderr}");
    let out: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        out,
        json!({
            "kind": "seat_list",
            "as_of": "2026-11-25",
            "activity_available": true,
            "accounts": {"total": 5, "counts": {"in_use": 1, "idle": 1, "never_used": 0,
                                                 "disabled_holding": 3, "unknown_activity": 0}},
            "pools": [
                {"id": "Slack/Business+", "name": "Business+", "purchased": 5, "assigned": 2, "unassigned": 3},
                {"id": "Slack/Slack", "name": "Slack", "purchased": null, "assigned": 3, "unassigned": null}
            ]
        })
    );
    assert!(stderr.contains("5 record(s) could not be read"), "{stderr}");
    let (code, text, _) = args(false);
    assert_eq!(code, 0);
    let row = text
        .lines()
        .find(|l| l.trim_start().starts_with("disabled_holding"))
        .unwrap();
    assert_eq!(row.split_whitespace().nth(1), Some("3"), "{text}");
    assert!(text.contains("Business+ (Slack/Business+)"), "{text}");
    assert!(!state.join("spool").exists(), "a dry run keeps nothing");
}

#[test]
fn a_pseudonymised_seat_list_shows_no_address() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "slack.csv", EXPORT);
    let list = read_path(&path).unwrap();
    let key = [9u8; 32];
    let pseudonymizer = seatbroker_agent::Pseudonymizer::new(&key).unwrap();
    let licences = to_licences(
        &list,
        &BTreeMap::new(),
        &LicencePolicy::default(),
        "2026-11-25".parse().unwrap(),
        Some(&pseudonymizer),
    )
    .unwrap();
    let text = serde_json::to_string(&licences.accounts).unwrap();
    for secret in ["ann", "acme", "carl", "ivy"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    let ann = pseudonymizer.email("ann@acme.com");
    assert!(
        licences
            .accounts
            .iter()
            .any(|a| a.email.as_deref() == Some(ann.as_str())),
        "the account still matches its pseudonymised person"
    );
}

/// `check` and `status` name the new kinds: a seat list is read offline; `status` says
/// what each source reads.
#[test]
fn check_and_status_show_app_sources() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "slack.csv", EXPORT);
    let secret = write(dir.path(), "entra-secret", "value\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let text = format!(
        "platform:\n  url: https://platform.invalid\nsources:\n  - name: slack\n    kind: seat_list\n    path: {}\n  - name: m365\n    kind: entra_id\n    tenant_id: t-1\n    client_id: c-1\n    client_secret_file: {}\n",
        csv.display(),
        secret.display()
    );
    let config_path = write(dir.path(), "agent.yaml", &text);
    let state = dir.path().join("state");
    let (code, stdout, stderr) = crate::config::agent(&[
        "--config",
        config_path.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
        "check",
        "--offline",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("ok    source slack: seat list") && stdout.contains("10 rows"),
        "{stdout}"
    );
    assert!(
        stdout.contains("WARN  source slack: 5 row(s) cannot be read"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok    source m365: Entra ID client secret (file "),
        "{stdout}"
    );

    let (code, status, stderr) = crate::config::agent(&[
        "--config",
        config_path.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
        "status",
    ]);
    assert_eq!(code, 0, "{status}{stderr}");
    assert!(status.contains("Source slack (seat list, "), "{status}");
    assert!(
        status.contains("Source m365 (Entra ID, tenant t-1)"),
        "{status}"
    );
}
