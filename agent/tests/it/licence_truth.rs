//! The real binary's `collect --dry-run --json` of app sources against the simulator's
//! truth: the Graph simulator (`humaans_sim::graph`) for `entra_id`, generated seat-list
//! files (`humaans_sim::seat_list`) for `seat_list`. The truth is counted from what the
//! simulator planted, independently of the agent's engine; only `joined` (the platform's
//! part) is left out of the comparison. Then faults, `check` per client secret, and the
//! service's spooled snapshot.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::NaiveDate;
use humaans_sim::graph::{
    AppTruth, GraphFaults, GraphOptions, GraphSimulator, RateLimitWhen, Revoke, Throttle,
    ThrottleStatus,
};
use humaans_sim::seat_list::{SeatList, SeatListOptions};
use humaans_sim::{Company, CompanySpec};
use seatbroker_agent::entra::{EntraClient, EntraConfig, EntraError};
use seatbroker_protocol::Secret;
use serde_json::Value;

const SOURCE: &str = "m365";

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// The dry-run JSON the truth stands for: the truth without `joined`.
fn expected(truth: &AppTruth) -> Value {
    let mut value = serde_json::to_value(truth).unwrap();
    value.as_object_mut().unwrap().remove("joined");
    value
}

/// Writes `text` to `path`, readable only by its owner (as a secret file must be).
fn write_private(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

/// The agent configuration of one `entra_id` source reading `sim` with `secret`.
fn entra_yaml(dir: &Path, sim: &GraphSimulator, secret: &str) -> String {
    let secret_file = dir.join("entra-secret");
    write_private(&secret_file, &format!("{secret}\n"));
    format!(
        "platform:\n  url: http://127.0.0.1:9\nsources:\n  - name: {SOURCE}\n    kind: entra_id\n    tenant_id: {}\n    client_id: {}\n    client_secret_file: {}\n    login_url: {}\n    graph_url: {}\n",
        sim.tenant_id(),
        sim.client_id(),
        secret_file.display(),
        sim.login_url(),
        sim.graph_url(),
    )
}

fn write_config(dir: &Path, yaml: &str) -> PathBuf {
    let config = dir.join("agent.yaml");
    std::fs::write(&config, yaml).unwrap();
    config
}

/// Runs the binary with `--config`, `--state-dir` and `--log-dir` under `dir`, then `args`,
/// off the runtime (the simulator keeps serving meanwhile).
async fn agent(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let mut all: Vec<String> = vec![
        "--config".into(),
        dir.join("agent.yaml").display().to_string(),
        "--state-dir".into(),
        dir.join("state").display().to_string(),
        "--log-dir".into(),
        dir.join("log").display().to_string(),
    ];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = all.iter().map(String::as_str).collect();
        crate::config::agent(&args)
    })
    .await
    .unwrap()
}

async fn dry_run(dir: &Path, source: &str, as_of: NaiveDate) -> (i32, String, String) {
    let as_of = as_of.to_string();
    agent(
        dir,
        &[
            "collect",
            "--dry-run",
            "--source",
            source,
            "--as-of",
            &as_of,
            "--json",
        ],
    )
    .await
}

/// A Graph simulator of `people` people, `seed`, built around `as_of`.
async fn graph(
    people: usize,
    seed: u64,
    as_of: NaiveDate,
    tweak: impl FnOnce(&mut GraphOptions),
) -> GraphSimulator {
    let mut options = GraphOptions {
        people,
        seed,
        as_of,
        ..GraphOptions::default()
    };
    tweak(&mut options);
    GraphSimulator::start(options).await.unwrap()
}

/// Which of the simulator's client secrets a case uses.
fn secret<'a>(sim: &'a GraphSimulator, name: &str) -> &'a str {
    sim.secrets().by_name(name).unwrap()
}

/// Asserts a successful dry run printed exactly `truth`.
fn assert_equals_truth(case: &str, run: &(i32, String, String), truth: &AppTruth) {
    let (code, stdout, stderr) = run;
    assert_eq!(*code, 0, "{case}: {stderr}");
    let printed: Value =
        serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{case}: not JSON ({e}): {stdout}"));
    assert_eq!(printed, expected(truth), "{case}");
}

/// Asserts a failed dry run: `code`, a message holding `words`, nothing on stdout.
fn assert_fails(case: &str, run: &(i32, String, String), code: i32, words: &[&str]) {
    let (got, stdout, stderr) = run;
    assert_eq!(*got, code, "{case}: {stderr}");
    assert!(stdout.is_empty(), "{case}: partial output {stdout}");
    for word in words {
        assert!(stderr.contains(word), "{case}: no `{word}` in {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_dry_run_equals_the_graph_truth() {
    // people, seed, as-of, premium tenant, client secret, activity readable
    let cases: [(usize, u64, &str, bool, &str, bool); 6] = [
        (40, 1, "2026-03-15", true, "full", true),
        (180, 7, "2026-11-25", true, "full", true),
        (260, 42, "2025-02-28", true, "full", true),
        (120, 9, "2026-06-30", true, "organization_read", true),
        (150, 3, "2026-11-25", true, "no_audit_log", false),
        (150, 3, "2026-11-25", false, "full", false),
    ];
    for (people, seed, as_of, premium, secret_name, activity) in cases {
        let case =
            format!("{people} people, seed {seed}, {as_of}, premium {premium}, {secret_name}");
        let as_of = date(as_of);
        let sim = graph(people, seed, as_of, |o| o.premium = premium).await;
        let dir = tempfile::tempdir().unwrap();
        write_config(
            dir.path(),
            &entra_yaml(dir.path(), &sim, secret(&sim, secret_name)),
        );
        let run = dry_run(dir.path(), SOURCE, as_of).await;
        let truth = sim.truth(activity);
        assert_equals_truth(&case, &run, &truth);
        assert!(
            truth.accounts.total > 0,
            "{case}: an empty directory proves little"
        );
        let counts = &truth.accounts.counts;
        if activity {
            assert!(counts.idle + counts.never_used > 0, "{case}: nothing idle");
        } else {
            assert!(!truth.activity_available, "{case}");
            assert_eq!((counts.idle, counts.never_used), (0, 0), "{case}");
            assert!(counts.unknown_activity > 0, "{case}");
            assert!(run.2.contains("AuditLog.Read.All"), "{case}: {}", run.2);
        }
        sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_token_renewal_still_give_the_truth() {
    let as_of = date("2026-11-25");
    let throttle = |status, from| GraphFaults {
        throttle: Some(Throttle {
            when: RateLimitWhen::Requests { from, count: 1 },
            status,
            retry_after_secs: 1,
        }),
        ..GraphFaults::default()
    };
    type Tweak = Box<dyn FnOnce(&mut GraphOptions)>;
    let cases: Vec<(&str, Tweak)> = vec![
        (
            "429 on the first users page",
            Box::new(move |o| o.faults = throttle(ThrottleStatus::TooManyRequests, 2)),
        ),
        (
            "503 on a later page",
            Box::new(move |o| o.faults = throttle(ThrottleStatus::ServiceUnavailable, 3)),
        ),
        (
            "tokens living one second, renewed before each request",
            Box::new(|o| o.token_lifetime = Duration::from_secs(1)),
        ),
    ];
    for (case, tweak) in cases {
        let sim = graph(300, 11, as_of, tweak).await;
        let dir = tempfile::tempdir().unwrap();
        write_config(
            dir.path(),
            &entra_yaml(dir.path(), &sim, &sim.secrets().full),
        );
        let run = dry_run(dir.path(), SOURCE, as_of).await;
        assert_equals_truth(case, &run, &sim.truth(true));
        assert!(sim.requests() >= 4, "{case}: several pages were read");
        sim.shutdown().await;
    }
}

/// Tokens expire while the collection pages through: the 401 gets one new token and the
/// collection goes on, with exactly one Graph request more than without the expiry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_expiring_mid_collection_are_renewed() {
    let as_of = date("2026-11-25");
    let (people, seed) = (400, 5);
    // The same directory without expiry: how many Graph requests a collection takes.
    let plain = graph(people, seed, as_of, |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        &entra_yaml(dir.path(), &plain, &plain.secrets().full),
    );
    assert_equals_truth(
        "no expiry",
        &dry_run(dir.path(), SOURCE, as_of).await,
        &plain.truth(true),
    );
    let requests = plain.requests();
    assert!(requests >= 4, "several pages: {requests}");
    plain.shutdown().await;

    // Every request waits 100 ms before the simulator looks at it, so tokens expired just
    // after the first users page are seen by the second.
    let sim = Arc::new(
        graph(people, seed, as_of, |o| {
            o.faults.latency = Duration::from_millis(100);
        })
        .await,
    );
    write_config(
        dir.path(),
        &entra_yaml(dir.path(), &sim, &sim.secrets().full),
    );
    let expirer = {
        let sim = sim.clone();
        tokio::spawn(async move {
            while sim.requests() < 2 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            sim.expire_tokens();
        })
    };
    let run = dry_run(dir.path(), SOURCE, as_of).await;
    expirer.await.unwrap();
    assert_equals_truth("expired mid-collection", &run, &sim.truth(true));
    assert_eq!(
        sim.requests(),
        requests + 1,
        "one request answered 401, then renewed"
    );
}

/// A dry run with `secret_name`, the full secret revoked after `revoke_after` Graph
/// requests (0: before the collection), fails with exit `code` and a message holding
/// `words`, printing nothing on stdout and never the secret.
async fn check_fault(
    case: &str,
    secret_name: &str,
    revoke_after: Option<u64>,
    code: i32,
    words: &[&str],
) {
    let as_of = date("2026-11-25");
    let sim = graph(300, 13, as_of, |_| {}).await;
    match revoke_after {
        Some(0) => assert!(sim.revoke_secret(&sim.secrets().full)),
        Some(after_requests) => sim.set_faults(GraphFaults {
            revoke: Some(Revoke {
                secret: sim.secrets().full.clone(),
                after_requests,
            }),
            ..GraphFaults::default()
        }),
        None => {}
    }
    let dir = tempfile::tempdir().unwrap();
    let secret = secret(&sim, secret_name).to_owned();
    write_config(dir.path(), &entra_yaml(dir.path(), &sim, &secret));
    let run = dry_run(dir.path(), SOURCE, as_of).await;
    assert_fails(case, &run, code, words);
    assert!(!run.2.contains(&secret), "{case}: the secret leaked");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_faults_fail_with_their_message_and_no_output() {
    let revoked = ["AADSTS7000215", "the client secret is wrong", SOURCE];
    check_fault(
        "revoked before the collection",
        "full",
        Some(0),
        64,
        &revoked,
    )
    .await;
    check_fault("revoked mid-collection", "full", Some(2), 64, &revoked).await;
    check_fault(
        "no User.Read.All",
        "no_user_read",
        None,
        64,
        &["403", "User.Read.All", "Grant admin consent"],
    )
    .await;
    check_fault(
        "no LicenseAssignment.Read.All",
        "no_licence_read",
        None,
        64,
        &["subscribedSkus", "LicenseAssignment.Read.All"],
    )
    .await;
}

/// A page that fails every time fails the whole collection after the retry budget; no
/// directory comes back. (The library with an injected sleep: the binary's dry run waits
/// the service's real backoff, about 15 s, for the same outcome.)
#[tokio::test]
async fn a_page_failing_for_good_fails_the_collection() {
    let as_of = date("2026-11-25");
    let sim = graph(400, 17, as_of, |o| o.faults.fail_page = Some(2)).await;
    let mut config = EntraConfig::new(
        sim.tenant_id(),
        sim.client_id(),
        Secret::new(sim.secrets().full.clone()),
    );
    config.login_url = sim.login_url().to_owned();
    config.graph_url = sim.graph_url().to_owned();
    let sleeps: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let recorded = sleeps.clone();
    let client = EntraClient::new(config)
        .unwrap()
        .with_sleep(Arc::new(move |d| {
            recorded.lock().unwrap().push(d);
            Box::pin(async {})
        }));
    let error = client.collect().await.unwrap_err();
    let EntraError::RetriesExhausted { attempts, last, .. } = &error else {
        panic!("{error}");
    };
    assert!(
        matches!(**last, EntraError::Server { status: 500, .. }),
        "{last}"
    );
    let attempts = u64::from(*attempts);
    assert_eq!(sleeps.lock().unwrap().len() as u64, attempts - 1);
    // subscribedSkus, page 1, then every attempt at page 2.
    assert_eq!(sim.requests(), 2 + attempts);
    assert!(error.is_retriable() && !error.is_config());
    assert!(error.to_string().contains("/v1.0/users"), "{error}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_what_each_client_secret_lacks() {
    let as_of = date("2026-11-25");
    let sim = graph(60, 21, as_of, |_| {}).await;
    let ok = |line: &str| format!("ok    source {SOURCE}: {line}");
    let warn = |line: &str| format!("WARN  source {SOURCE}: {line}");
    let fail = |line: &str| format!("FAIL  source {SOURCE}: {line}");
    let lacks = |p: &str| {
        warn(&format!(
            "the app registration lacks the application permission(s) {p};"
        ))
    };
    // secret, lines that must appear, lines that must not
    let cases: Vec<(&str, Vec<String>, Vec<String>)> = vec![
        (
            "full",
            vec![
                ok("Entra ID issued a token for tenant"),
                ok("application permissions: "),
                ok("Graph answers users"),
                ok("Graph answers sign-in activity"),
            ],
            vec![warn(""), fail("")],
        ),
        (
            "organization_read",
            vec![ok("application permissions: "), ok("Graph answers users")],
            vec![warn(""), fail("")],
        ),
        (
            "no_audit_log",
            vec![
                lacks("AuditLog.Read.All"),
                warn("sign-in activity is not available"),
                ok("Graph answers users"),
            ],
            vec![fail("")],
        ),
        (
            "no_licence_read",
            vec![
                lacks("LicenseAssignment.Read.All or Organization.Read.All"),
                fail("licences (subscribedSkus): "),
                ok("Graph answers users"),
            ],
            vec![ok("application permissions: ")],
        ),
        (
            "no_user_read",
            vec![lacks("User.Read.All"), fail("users: ")],
            vec![ok("Graph answers users")],
        ),
    ];
    for (secret_name, present, absent) in cases {
        let dir = tempfile::tempdir().unwrap();
        write_config(
            dir.path(),
            &entra_yaml(dir.path(), &sim, secret(&sim, secret_name)),
        );
        let (code, stdout, stderr) = agent(dir.path(), &["check"]).await;
        // The platform at 127.0.0.1:9 is down: the check fails, on that if nothing else.
        assert_ne!(code, 0, "{secret_name}: {stdout}{stderr}");
        for line in &present {
            assert!(
                stdout.contains(line.as_str()),
                "{secret_name}: no `{line}` in\n{stdout}"
            );
        }
        for line in &absent {
            assert!(
                !stdout.contains(line.as_str()),
                "{secret_name}: `{line}` in\n{stdout}"
            );
        }
        assert!(
            !stdout.contains(secret(&sim, secret_name)),
            "{secret_name}: the secret leaked"
        );
    }
    sim.shutdown().await;
}

/// The seat-list files of `apps` for `company`, one file each, in `dir`.
fn write_seat_lists(
    dir: &Path,
    company: &Company,
    apps: &[&str],
    options: &SeatListOptions,
) -> Vec<SeatList> {
    apps.iter()
        .map(|app| {
            let list = SeatList::plant(company, app);
            std::fs::write(
                dir.join(format!("{}.csv", app.to_lowercase())),
                list.csv(options),
            )
            .unwrap();
            list
        })
        .collect()
}

/// The truth of several lists read as one source: counts added, pools merged by id.
fn merged_truth(
    lists: &[SeatList],
    company: &Company,
    purchased: &BTreeMap<String, u64>,
) -> AppTruth {
    let mut truths = lists
        .iter()
        .map(|l| l.truth_with_purchased(company, purchased));
    let mut merged = truths.next().unwrap();
    for truth in truths {
        let (a, b) = (&mut merged.accounts, &truth.accounts);
        a.total += b.total;
        a.counts.in_use += b.counts.in_use;
        a.counts.idle += b.counts.idle;
        a.counts.never_used += b.counts.never_used;
        a.counts.disabled_holding += b.counts.disabled_holding;
        a.counts.unknown_activity += b.counts.unknown_activity;
        merged.pools.extend(truth.pools);
    }
    merged.pools.sort_by(|a, b| a.id.cmp(&b.id));
    merged
}

fn seat_list_yaml(path: &Path, purchased: &BTreeMap<String, u64>) -> String {
    let purchased = if purchased.is_empty() {
        String::new()
    } else {
        format!(
            "    purchased: {}\n",
            serde_json::to_string(purchased).unwrap()
        )
    };
    format!(
        "platform:\n  url: http://127.0.0.1:9\nsources:\n  - name: apps\n    kind: seat_list\n    path: {}\n{purchased}",
        path.display()
    )
}

/// A seat-list source of the `apps` lists planted for a company (`people`, `seed`,
/// `as_of`): one file, or a folder of several; `bom`/`crlf` bytes; with `purchased` seats
/// for some licences or none. Its dry run must print the lists' truth.
async fn check_seat_list(
    (people, seed, as_of): (usize, u64, &str),
    apps: &[&str],
    (bom, crlf): (bool, bool),
    with_purchased: bool,
) {
    let purchased: BTreeMap<String, u64> = if with_purchased {
        [
            ("Pro".to_owned(), 40),
            ("Business+, annual".to_owned(), 5),
            ("Slack".to_owned(), 200),
        ]
        .into()
    } else {
        BTreeMap::new()
    };
    let case = format!(
        "{people} people, seed {seed}, {as_of}, {apps:?}, bom {bom}, crlf {crlf}, purchased {with_purchased}"
    );
    let as_of = date(as_of);
    let company = Company::generate(&CompanySpec::new(people, seed, as_of)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("lists");
    std::fs::create_dir(&files).unwrap();
    let lists = write_seat_lists(&files, &company, apps, &SeatListOptions { bom, crlf });
    let path = match apps {
        [app] => files.join(format!("{}.csv", app.to_lowercase())),
        _ => files.clone(),
    };
    write_config(dir.path(), &seat_list_yaml(&path, &purchased));
    let run = dry_run(dir.path(), "apps", as_of).await;
    let truth = merged_truth(&lists, &company, &purchased);
    assert_equals_truth(&case, &run, &truth);
    assert_eq!(
        truth.pools.iter().any(|p| p.purchased.is_some()),
        with_purchased,
        "{case}: purchased seats are exercised"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seat_list_dry_run_equals_the_seat_list_truth() {
    check_seat_list((80, 1, "2026-03-15"), &["Slack"], (false, false), false).await;
    check_seat_list((250, 7, "2026-11-25"), &["Slack"], (true, false), false).await;
    check_seat_list((250, 7, "2026-11-25"), &["Figma"], (false, true), true).await;
    check_seat_list((400, 42, "2025-02-28"), &["Slack"], (true, true), true).await;
    check_seat_list(
        (300, 9, "2026-06-30"),
        &["Slack", "Figma"],
        (false, false),
        true,
    )
    .await;
    check_seat_list(
        (120, 5, "2026-11-25"),
        &["Slack", "Figma"],
        (true, true),
        false,
    )
    .await;
}

/// The service's collection through the simulator: one schema-2 snapshot in the spool
/// whose licence section has the truth's figures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_spools_the_truth_from_the_simulator() {
    use seatbroker_agent::{Config, HumaansCollector, Service, ServiceOptions, StateStore};

    let sim = graph(200, 23, chrono::Utc::now().date_naive(), |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = entra_yaml(dir.path(), &sim, &sim.secrets().full);
    let config = Config::parse(&yaml, Path::new("agent.yaml")).unwrap();
    let source = config.sources[0].clone();
    let store = StateStore::open(&dir.path().join("state")).unwrap();
    let service = Service::new(
        config,
        store,
        HumaansCollector::default(),
        ServiceOptions::default(),
    )
    .unwrap();
    service.collect_once(&source).await.unwrap();
    let pending = service.spool().pending(SOURCE).unwrap();
    assert_eq!(pending.len(), 1);
    let bytes = service.spool().read(&pending[0]).unwrap();
    let payload = seatbroker_protocol::decode_parts(
        std::slice::from_ref(&bytes),
        &seatbroker_protocol::checksum(&bytes),
    )
    .unwrap();
    assert_eq!(payload.schema, 2);
    assert_eq!(payload.collection.tenant_id, sim.tenant_id());
    let licences = payload.licences.unwrap();
    let truth = sim.truth(true);
    // The service evaluates today; the simulator built its directory around today too.
    assert_eq!(licences.as_of, truth.as_of);
    let c = &licences.counts;
    let t = &truth.accounts.counts;
    assert_eq!(
        (
            licences.accounts_total,
            c.in_use,
            c.idle,
            c.never_used,
            c.disabled_holding,
            c.unknown_activity
        ),
        (
            truth.accounts.total,
            t.in_use,
            t.idle,
            t.never_used,
            t.disabled_holding,
            t.unknown_activity
        )
    );
    let pools: Vec<_> = licences
        .pools
        .iter()
        .map(|p| {
            (
                p.id.clone(),
                p.name.clone(),
                p.purchased,
                p.assigned,
                p.unassigned,
            )
        })
        .collect();
    let expected: Vec<_> = truth
        .pools
        .iter()
        .map(|p| {
            (
                p.id.clone(),
                p.name.clone(),
                p.purchased,
                p.assigned,
                p.unassigned,
            )
        })
        .collect();
    assert_eq!(pools, expected);
    sim.shutdown().await;
}

/// App sources' output to a closed pipe (`collect --dry-run | head -0`) ends quietly with
/// success, as every command's does.
#[test]
fn app_source_output_to_a_closed_pipe_ends_quietly() {
    let as_of = date("2026-11-25");
    let company = Company::generate(&CompanySpec::new(60, 3, as_of)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_seat_lists(
        dir.path(),
        &company,
        &["Slack"],
        &SeatListOptions::default(),
    );
    let config = write_config(
        dir.path(),
        &seat_list_yaml(&dir.path().join("slack.csv"), &BTreeMap::new()),
    );
    let state = dir.path().join("state");
    let dry_run = [
        "collect",
        "--dry-run",
        "--source",
        "apps",
        "--as-of",
        "2026-11-25",
    ];
    let commands: [&[&str]; 3] = [
        &dry_run,
        &[&dry_run[..], &["--json"]].concat(),
        &["check", "--offline"],
    ];
    for command in commands {
        // The reader is gone before the agent writes a byte: every write fails with EPIPE.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_seatbroker-agent"))
            .arg("--config")
            .arg(&config)
            .arg("--state-dir")
            .arg(&state)
            .args(command)
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .env_remove("SEATBROKER_SYSTEM")
            .stdout(writer)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{command:?}: {stderr}");
        assert_eq!(stderr, "", "{command:?}");
    }
}

/// `enroll` names an `entra_id` source's tenant by its id when the organisation cannot be
/// read (the simulator has no `/v1.0/organization`) without a word on stderr, and a
/// `seat_list` source by its applications; `status` then shows each app source with its
/// kind, tenant or path, and its last collection in accounts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enroll_names_app_tenants_and_status_shows_app_sources() {
    let as_of = chrono::Utc::now().date_naive();
    let sim = graph(80, 29, as_of, |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let company = Company::generate(&CompanySpec::new(50, 29, as_of)).unwrap();
    let lists = dir.path().join("lists");
    std::fs::create_dir(&lists).unwrap();
    write_seat_lists(
        &lists,
        &company,
        &["Slack", "Figma"],
        &SeatListOptions::default(),
    );

    let mut platform = mockito::Server::new_async().await;
    let enrolled: Arc<Mutex<Option<Value>>> = Arc::default();
    let seen = enrolled.clone();
    let sources = serde_json::json!([
        {"local_name": SOURCE, "state": "pending", "source_id": "src_1"},
        {"local_name": "apps", "state": "approved", "source_id": "src_2"}
    ]);
    let _enroll = platform
        .mock("POST", "/api/agent/v1/enroll")
        .with_status(201)
        .with_header("content-type", "application/json")
        .with_body_from_request(move |request| {
            *seen.lock().unwrap() = serde_json::from_slice(request.body().unwrap()).ok();
            serde_json::json!({"agent_id": "agent1", "agent_credential": "sba_credential",
                               "state": "pending", "sources": sources})
            .to_string()
            .into_bytes()
        })
        .create_async()
        .await;
    let _status = platform
        .mock("GET", "/api/agent/v1/status")
        .with_header("content-type", "application/json")
        .with_body(
            serde_json::json!({"agent_id": "agent1", "state": "pending", "sources": [
                {"local_name": SOURCE, "state": "pending", "source_id": "src_1"},
                {"local_name": "apps", "state": "approved", "source_id": "src_2"}]})
            .to_string(),
        )
        .create_async()
        .await;
    let enrollment = dir.path().join("enrollment-token");
    write_private(&enrollment, "sbe_token");
    let entra = entra_yaml(dir.path(), &sim, &sim.secrets().full)
        .replace("http://127.0.0.1:9", &platform.url())
        .replacen(
            "\nsources:\n",
            &format!(
                "\n  enrollment_token_file: {}\nsources:\n",
                enrollment.display()
            ),
            1,
        );
    write_config(
        dir.path(),
        &format!(
            "{entra}  - name: apps\n    kind: seat_list\n    path: {}\n",
            lists.display()
        ),
    );

    // At info level, as the service logs: still not a word about the organisation.
    let config = dir.path().join("agent.yaml");
    let state = dir.path().join("state");
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_seatbroker-agent"))
            .arg("--config")
            .arg(&config)
            .arg("--state-dir")
            .arg(&state)
            .arg("enroll")
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .env_remove("SEATBROKER_SYSTEM")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stderr.contains("Enrolled with the platform"),
        "info is shown: {stderr}"
    );
    assert!(stdout.contains("Enrolled with"), "{stdout}");
    assert!(
        !stderr.contains("organisation"),
        "the missing organisation name is not worth a word: {stderr}"
    );
    let request = enrolled
        .lock()
        .unwrap()
        .clone()
        .expect("an enrollment request");
    let named: Vec<(&str, &str, &str)> = request["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["kind"].as_str().unwrap(),
                s["tenant_id"].as_str().unwrap(),
                s["tenant_name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(named[0], ("entra_id", sim.tenant_id(), sim.tenant_id()));
    assert_eq!(named[1].0, "seat_list");
    assert!(
        named[1].2.contains("Slack") && named[1].2.contains("Figma"),
        "{named:?}"
    );

    let (code, stdout, stderr) = agent(dir.path(), &["collect"]).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, stdout, stderr) = agent(dir.path(), &["status"]).await;
    assert_eq!(code, 0, "{stderr}");
    let accounts = |truth: &AppTruth| format!("({} accounts)", truth.accounts.total);
    let seat_total: u64 = ["Slack", "Figma"]
        .iter()
        .map(|app| SeatList::plant(&company, app).rows().len() as u64)
        .sum();
    for line in [
        format!(
            "Source {SOURCE} (Entra ID, tenant {}): waiting for approval",
            sim.tenant_id()
        ),
        format!(
            "Source apps (seat list, {}): approved; uploads go to source src_2",
            lists.display()
        ),
        accounts(&sim.truth(true)),
        format!("({seat_total} accounts)"),
    ] {
        assert!(stdout.contains(&line), "no `{line}` in\n{stdout}");
    }
    sim.shutdown().await;
}
