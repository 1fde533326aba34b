//! Configuration: good files load with their defaults, bad files fail with the exact
//! message a person reads (file:line:column: key: what is wrong).

use std::path::Path;
use std::time::Duration;

use seatbroker_agent::Config;

const GOOD: &str = "\
platform:
  url: https://seatbroker.example.com
  enrollment_token_file: /etc/seatbroker/enrollment-token
sources:
  - name: acme
    kind: humaans
    token_file: /etc/seatbroker/humaans-token
";

#[test]
fn good_config_has_documented_defaults() {
    let config = Config::parse(GOOD, Path::new("agent.yaml")).unwrap();
    let source = &config.sources[0];
    assert_eq!(source.base_url, "https://app.humaans.io");
    assert_eq!(source.interval(), Duration::from_secs(6 * 3600));
    assert_eq!(source.jitter.0, 0.1);
    assert_eq!(source.concurrency, 4);
    assert_eq!(
        source.policy.to_policy(),
        seatbroker_protocol::UsagePolicy::default()
    );
    assert!(source.pseudonymize.is_none());
    assert_eq!(config.spool.max_bytes.0, 256 << 20);
    assert_eq!(config.logging.retention_days, 14);
    assert_eq!(config.logging.level, "info");
    assert!(!config.platform.allow_insecure_http);
}

#[test]
fn bad_configs_name_file_line_column_and_key() {
    let cases: &[(&str, &str)] = &[
        (
            "platform:\n  url: https://p.example\n  colour: blue\nsources: []\n",
            "agent.yaml:3:3: platform.colour: unknown field `colour`, expected one of `url`, `ca_file`, `enrollment_token_file`, `enrollment_token_env`, `enrollment_token_credential`, `allow_insecure_http`",
        ),
        (
            "platform:\n  url: https://p.example\nsources:\n  - name: a\n    kind: humaans\n    token_file: /t\n    interval: 6 hours\n",
            "agent.yaml:7:5: sources[0].interval: `6 hours` is not a duration; write a number and a unit (s, m, h, d), e.g. `6h`",
        ),
        (
            "platform:\n  url: https://p.example\nsources:\n  - name: a\n    kind: humaans\n    token_file: /t\n    interval: 300000000d\n",
            "agent.yaml:7:5: sources[0].interval: 300000000d is too long; collect at least once a year (e.g. `6h`)",
        ),
        (
            "platform:\n  url: https://p.example\nsources:\n  - name: a\n    kind: humaans\n    base_url: https://app.humaans.io/api\n    token_file: /t\n",
            "agent.yaml:6:5: sources[0].base_url: \"https://app.humaans.io/api\" ends with /api; give the host only (e.g. https://app.humaans.io): the agent adds /api/... itself",
        ),
        (
            "platform:\n  url: https://p.example\nsources:\n  - name: a\n    kind: humaans\n    token_file: /t\n    interval: 30s\n",
            "agent.yaml:7:5: sources[0].interval: 30s is too short; collect at most once a minute (e.g. `6h`)",
        ),
        (
            "platform:\n  url: https://p.example\nsources:\n  - name: a\n    kind: humaans\n    token_file: /t\n    jitter: 60%\n",
            "agent.yaml:7:13: sources[0].jitter: 60% is out of range; jitter must be between 0% and 50%",
        ),
        (
            "platform:\n  url: https://p.example\nsources:\n  - name: a\n    kind: humaans\n    token_file: /t\n    concurrency: 0\n",
            "agent.yaml:7:5: sources[0].concurrency: 0 is out of range; use 1 to 32",
        ),
        (
            "platform:\n  url: https://p.example\nsources:\n  - name: a\n    kind: humaans\n    token_file: /t\n    policy:\n      leaving_window_days: -3\n",
            "agent.yaml:8:28: sources[0].policy.leaving_window_days: invalid type: integer `-3`, expected u32",
        ),
        (
            "platform:\n  url: https://p.example\nsources:\n  - name: a\n    kind: humaans\n    token_file: /t\n    policy:\n      leaving_window_days: 4000\n",
            "agent.yaml:8:7: sources[0].policy.leaving_window_days: 4000 must be at most 3650 days (ten years)",
        ),
        (
            "platform:\n  url: https://p.example\nsources:\n  - name: a\n    kind: humaans\n    token_file: /t\n    policy:\n      leavers_lookback_days: 0\n",
            "agent.yaml:8:7: sources[0].policy.leavers_lookback_days: 0 must be at least 1 day, or no leaver would ever be counted",
        ),
        (
            "platform:\n  url: https://p.example\nsources:\n  - name: a\n    kind: humaans\n    token_file: /t\n    policy:\n      leaving_days: 3\n",
            "agent.yaml:8:7: sources[0].policy.leaving_days: unknown field `leaving_days`, expected one of `leaving_window_days`, `unverified_grace_days`, `never_verified_rule`, `leavers_lookback_days`, `upcoming_start_days`, `idle_after_days`, `never_used_grace_days`",
        ),
        (
            "platform:\n  url: https://p.example\nsources:\n  - name: a\n    kind: workday\n    token_file: /t\n",
            "agent.yaml:5:11: sources[0].kind: unknown variant `workday`, expected one of `humaans`, `entra_id`, `seat_list`",
        ),
        (
            "platform:\n  url: https://p.example\nsources:\n  - name: a\n    kind: humaans\n    token_file: /t\n  - name: a\n    kind: humaans\n    token_env: T\n",
            "agent.yaml:7:5: sources[1].name: the source name `a` is used twice; give every source its own name",
        ),
        (
            "platform:\n  url: https://p.example\nsources:\n  - name: a b\n    kind: humaans\n    token_file: /t\n",
            "agent.yaml:4:5: sources[0].name: `a b` is not a valid source name; use 1 to 64 characters from A-Z, a-z, 0-9, `_` and `-`",
        ),
        (
            "platform:\n  url: https://p.example\nsources:\n  - name: a\n    kind: humaans\n",
            "agent.yaml:4:3: sources[0]: set exactly one of token_file, token_env and token_credential for the Humaans API token",
        ),
        (
            "platform:\n  url: https://p.example\nsources:\n  - name: a\n    kind: humaans\n    token_file: /t\n    token_env: HUMAANS_TOKEN\n",
            "agent.yaml:4:3: sources[0]: set exactly one of token_file, token_env and token_credential for the Humaans API token",
        ),
        (
            "platform:\n  url: https://p.example\nsources:\n  - name: a\n    kind: humaans\n    token_file: /t\n    base_url: http://humaans.example\n",
            "agent.yaml:7:5: sources[0].base_url: `http://humaans.example` uses plain http to a host that is not this machine; use https",
        ),
        (
            "platform:\n  url: http://seatbroker.example\nsources:\n  - name: a\n    kind: humaans\n    token_file: /t\n",
            "agent.yaml:2:3: platform.url: `http://seatbroker.example` uses plain http to a host that is not this machine; use https, or set platform.allow_insecure_http: true if you really mean it",
        ),
        (
            "platform:\n  url: seatbroker.example\nsources:\n  - name: a\n    kind: humaans\n    token_file: /t\n",
            "agent.yaml:2:3: platform.url: `seatbroker.example` is not a URL (relative URL without a base); write e.g. https://seatbroker.example.com",
        ),
        (
            "platform:\n  url: https://p.example\n  enrollment_token_file: /t\n  enrollment_token_env: T\nsources:\n  - name: a\n    kind: humaans\n    token_file: /t\n",
            "agent.yaml:1:1: platform: set only one of enrollment_token_file, enrollment_token_env and enrollment_token_credential",
        ),
        (
            "platform:\n  url: https://p.example\nsources: []\n",
            "agent.yaml:3:1: sources: no source configured; add at least one source (humaans, entra_id or seat_list)",
        ),
        ("sources: []\n", "agent.yaml:1:1: missing field `platform`"),
        (
            "platform:\n  url: https://p.example\nsources:\n  - name: a\n    kind: humaans\n    token_file: /t\nlogging:\n  retention_days: 0\n",
            "agent.yaml:8:3: logging.retention_days: 0 is out of range; keep logs 1 to 3650 days",
        ),
        (
            "platform:\n  url: https://p.example\nsources:\n  - name: a\n    kind: humaans\n    token_file: /t\nlogging:\n  format: xml\n",
            "agent.yaml:8:11: logging.format: unknown variant `xml`, expected `text` or `json`",
        ),
        (
            "platform:\n  url: https://p.example\nsources:\n  - name: a\n    kind: humaans\n    token_file: /t\nspool:\n  max_bytes: 5 PB\n",
            "agent.yaml:8:14: spool.max_bytes: unknown size unit `PB`; use B, KiB, MiB, GiB, KB, MB or GB",
        ),
        (
            "platform:\n  url: https://p.example\nsources:\n  - name: a\n    kind: humaans\n    token_file: /t\nspool:\n  max_bytes: 1000\n",
            "agent.yaml:8:3: spool.max_bytes: 1000 bytes is too small; give the spool at least 1 MiB",
        ),
        (
            "platform: {url: https://p.example}\nsources: [{name: a, kind: humaans, token_file: /t, extra: 1}]\n",
            "agent.yaml:2:52: sources[0].extra: unknown field `extra`, expected one of `name`, `kind`, `base_url`, `token_file`, `token_env`, `token_credential`, `interval`, `jitter`, `concurrency`, `policy`, `pseudonymize`, `tenant_id`, `client_id`, `client_secret_file`, `client_secret_env`, `client_secret_credential`, `login_url`, `graph_url`, `path`, `purchased`",
        ),
        (
            "platform:\n  url: https://p.example\n sources: []\n",
            "agent.yaml:3:2: not valid YAML: did not find expected key",
        ),
    ];
    let mut failures = Vec::new();
    for (text, expected) in cases {
        let got = Config::parse(text, Path::new("agent.yaml"))
            .map(|_| "<accepted>".to_owned())
            .unwrap_or_else(|e| e.to_string());
        if got != *expected {
            failures.push(format!(
                "config:\n{text}\nexpected: {expected}\n     got: {got}\n"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Runs the real binary with `args`; returns (exit code, stdout, stderr).
pub(crate) fn agent(args: &[&str]) -> (i32, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_seatbroker-agent"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("SEATBROKER_SYSTEM")
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn check_exits_64_on_a_bad_config_and_names_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.yaml");
    std::fs::write(
        &path,
        "platform:\n  url: https://p.example\nsources:\n  - name: a\n    kind: humaans\n    token_file: /t\n    intervall: 6h\n",
    )
    .unwrap();
    let state = dir.path().join("state");
    let (code, _, stderr) = agent(&[
        "--config",
        path.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
        "check",
    ]);
    assert_eq!(code, 64, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}:7:5: sources[0].intervall: unknown field `intervall`",
            path.display()
        )),
        "{stderr}"
    );
    let (code, _, stderr) = agent(&[
        "--config",
        dir.path().join("missing.yaml").to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
        "status",
    ]);
    assert_eq!(code, 64, "{stderr}");
    assert!(
        stderr.contains("cannot read the configuration file"),
        "{stderr}"
    );
    let (code, _, _) = agent(&["no-such-command"]);
    assert_eq!(code, 64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_each_dependency() {
    let sim = humaans_sim::Simulator::start(humaans_sim::SimConfig {
        people: 5,
        seed: 1,
        ..humaans_sim::SimConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, &sim.tokens().full).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let mut platform = mockito::Server::new_async().await;
    platform
        .mock("GET", "/api/agent/v1/status")
        .with_status(401)
        .create_async()
        .await;
    let config = dir.path().join("agent.yaml");
    let write = |platform_url: &str| {
        std::fs::write(
            &config,
            format!(
                "platform:\n  url: {platform_url}\nsources:\n  - name: acme\n    kind: humaans\n    base_url: {}\n    token_file: {}\n",
                sim.url(),
                token.display()
            ),
        )
        .unwrap();
    };
    let state = dir.path().join("state");
    let args = [
        "--config",
        config.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
        "check",
    ]
    .map(str::to_owned);
    let run = |args: [String; 5]| {
        tokio::task::spawn_blocking(move || {
            agent(&args.iter().map(String::as_str).collect::<Vec<_>>())
        })
    };
    write(&platform.url());
    let (code, stdout, stderr) = run(args.clone()).await.unwrap();
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("ok    source acme: the Humaans token can read public and private data"),
        "{stdout}"
    );
    assert!(stdout.contains("answers (HTTP 401)"), "{stdout}");
    assert!(stdout.contains("All checks passed."), "{stdout}");
    // A platform nobody listens on: unavailable (69).
    write("http://127.0.0.1:9");
    let (code, stdout, _) = run(args).await.unwrap();
    assert_eq!(code, 69, "{stdout}");
    assert!(
        stdout.contains("FAIL  cannot reach the platform"),
        "{stdout}"
    );
    sim.shutdown().await;
}

/// `check --offline` is what the systemd unit runs before each start: it must pass with
/// Humaans and the platform unreachable and the enrollment credential absent, and fail with
/// 64 only when the configuration or a Humaans token cannot be read.
#[test]
fn offline_check_needs_no_network_and_no_enrollment_token() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("humaans.token");
    std::fs::write(&token, "secret-token\n").unwrap();
    let config = |token_path: &Path| {
        format!(
            "platform:\n  url: https://platform.invalid\n  enrollment_token_file: {}\nsources:\n  - name: hr\n    kind: humaans\n    base_url: https://humaans.invalid\n    token_file: {}\n",
            dir.path().join("no-enrollment.token").display(),
            token_path.display()
        )
    };
    let path = dir.path().join("agent.yaml");
    let state = dir.path().join("state");
    let run = || {
        agent(&[
            "--config",
            path.to_str().unwrap(),
            "--state-dir",
            state.to_str().unwrap(),
            "check",
            "--offline",
        ])
    };

    std::fs::write(&path, config(&token)).unwrap();
    let (code, stdout, stderr) = run();
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("WARN  enrollment token"), "{stdout}");
    assert!(
        stdout.contains("ok    source hr: Humaans token"),
        "{stdout}"
    );
    assert!(!stdout.contains("secret-token"), "{stdout}");

    std::fs::write(&path, config(&dir.path().join("gone.token"))).unwrap();
    let (code, stdout, stderr) = run();
    assert_eq!(code, 64, "{stdout}{stderr}");
    assert!(
        stdout.contains("FAIL  source hr: Humaans token"),
        "{stdout}"
    );
}
