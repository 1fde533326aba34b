//! (9) Humaans as a real account may answer: every list shape (`total` exact, `-1`, absent, a
//! bare array) in an order that is stable only under `$sort`, a refused sort,
//! `/api/token-info` missing or refused, the manager under another name or nowhere. The real
//! `humaans-sim serve` and `seatbroker-agent` binaries; the figures must equal
//! `humaans-sim truth`.

use anyhow::{Context, ensure};
use seatbroker_tests::bins::Bins;
use seatbroker_tests::process;
use seatbroker_tests::sim::{self, Company, Sim};
use serde_json::Value;
use tokio::process::Command;

use crate::support::{COMMAND_DEADLINE, World, today};

/// `collect --dry-run --json` against `sim`, parsed.
async fn dry_run(bins: &Bins, sim: &Sim, dir: &std::path::Path) -> anyhow::Result<Value> {
    let token_file = dir.join("humaans.token");
    seatbroker_tests::write_secret_file(&token_file, &sim.token_full)?;
    let mut command = Command::new(&bins.agent);
    command
        .args([
            "collect",
            "--dry-run",
            "--humaans-url",
            &sim.url,
            "--token-file",
        ])
        .arg(&token_file)
        .args(["--as-of", &today().to_string(), "--json"]);
    let out = process::run(
        "seatbroker-agent collect --dry-run",
        command,
        COMMAND_DEADLINE,
    )
    .await?;
    ensure!(out.status.success(), "the dry run failed: {out}");
    serde_json::from_str(&out.stdout).with_context(|| format!("the dry run printed no JSON: {out}"))
}

/// Every `humaans-sim serve` mode: the dry run's counts equal the truth, with exactly the
/// warnings the mode calls for (each names its cause).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_equals_truth_in_every_simulator_mode() -> anyhow::Result<()> {
    let bins = Bins::for_tests()?;
    let tmp = tempfile::Builder::new()
        .prefix("seatbroker-e2e-shapes-")
        .tempdir()?;
    let company = Company {
        people: 180,
        seed: 19,
        as_of: today(),
    };
    let truth = sim::truth(&bins.sim, &company).await?;
    // (serve flags, phrases of the expected warnings, in order)
    let cases: &[(&[&str], &[&str])] = &[
        (&["--listing-total", "exact", "--unstable-order"], &[]),
        (&["--listing-total", "minus-one", "--unstable-order"], &[]),
        (&["--listing-total", "absent", "--unstable-order"], &[]),
        (&["--listing-total", "bare-array", "--unstable-order"], &[]),
        (&["--token-info", "absent", "--unstable-order"], &[]),
        (&["--token-info", "method-not-allowed"], &[]),
        (
            &[
                "--token-info",
                "bad-request",
                "--listing-total",
                "bare-array",
            ],
            &[],
        ),
        (&["--manager-field", "manager-id"], &[]),
        (
            &["--manager-field", "none"],
            &["names a manager (reportingTo or managerId)"],
        ),
        (
            &["--refuse-sort"],
            &[
                "refused the sort order (createdAt, id) for people",
                "for job roles",
            ],
        ),
    ];
    for (n, (flags, warnings)) in cases.iter().enumerate() {
        let sim = Sim::start(
            &bins.sim,
            &company,
            flags,
            &tmp.path().join(format!("sim-{n}.log")),
        )
        .await?;
        let out = dry_run(&bins, &sim, tmp.path()).await?;
        let counts: std::collections::BTreeMap<String, u64> =
            serde_json::from_value(out["counts"].clone())?;
        ensure!(
            counts == truth.counts,
            "{flags:?}: dry run {counts:?} != truth {:?}",
            truth.counts
        );
        let got: Vec<&str> = out["warnings"]
            .as_array()
            .context("warnings is a list")?
            .iter()
            .filter_map(Value::as_str)
            .collect();
        ensure!(
            got.len() == warnings.len() && got.iter().zip(*warnings).all(|(g, w)| g.contains(w)),
            "{flags:?}: warnings {got:?}, expected {warnings:?}"
        );
    }
    Ok(())
}

/// The whole product with a Humaans that has no `/api/token-info` and serves people in an
/// unstable order unless sorted: the agent judges access from the listings, and the
/// console's figures equal the truth.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_token_info_the_whole_product_matches_truth() -> anyhow::Result<()> {
    let mut world = World::start_with(
        160,
        23,
        "info",
        &[
            "--token-info",
            "absent",
            "--unstable-order",
            "--listing-total",
            "minus-one",
        ],
    )
    .await?;
    let (agent, _id) = world.approved_agent("agent").await?;
    world.start_agent(&agent)?;
    let applied = world
        .wait_applied(1)
        .await
        .map_err(|e| e.context(world.logs()))?;
    ensure!(
        applied[0].people == Some(world.truth.total() as i64)
            && applied[0].private_access == Some(1),
        "the snapshot holds every person, read with private access: {applied:?}"
    );
    let row = world.only_source().await?;
    world.assert_matches_truth(&row)?;
    ensure!(
        row.private_access == Some(true),
        "access was judged private from the listings: {row:?}"
    );
    Ok(())
}
