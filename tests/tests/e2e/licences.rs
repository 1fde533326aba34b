//! (9) Humaans + Entra ID + a seat list on one agent, through approval, upload and apply:
//! `/api/v1/reports/licences` equals the simulators' joined truths (`graph-truth` for the
//! Entra ID pools, `seat-list-truth` for the seat list).

use anyhow::{Context, ensure};
use seatbroker_tests::apps::{self, AppSources, GraphSim, LicenceReport, SeatListFile};
use seatbroker_tests::wait;

use crate::support::{AGENT_DEADLINE, COMMAND_DEADLINE, POLL, World, logs_contain};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn licence_figures_equal_the_joined_truths() -> anyhow::Result<()> {
    let mut world = World::start(120, 7).await?;
    let graph = GraphSim::start(&world.bins.sim, &world.company, &world.path("graph.log")).await?;
    let graph_truth = apps::graph_truth(&world.bins.sim, &world.company).await?;
    let seat_list = SeatListFile::write(
        &world.bins.sim,
        &world.company,
        "Slack",
        &world.path("slack.csv"),
        &[("Pro", 30)],
    )
    .await?;
    let seat_list_truth = seat_list.truth(&world.bins.sim, &world.company).await?;

    let agent = world.new_agent("agent").await?;
    AppSources::default()
        .with_entra(&graph)
        .with_seat_list(seat_list)
        .add_to_config(&agent.config)?;
    let agent_id = world.enroll(&agent).await?;
    world.approve_as_new(&agent_id).await?;
    let links = world.agent_row(&agent_id).await?.sources;
    ensure!(
        links.len() == 3 && links.iter().all(|l| l.state == "approved"),
        "the agent's three sources are approved: {links:?}"
    );
    world.start_agent(&agent)?;

    let admin = &world.admin;
    wait::until(
        "a first upload of each of the three sources",
        AGENT_DEADLINE,
        POLL,
        || async {
            let rows = admin.overview().await?;
            Ok(["humaans", "entra_id", "seat_list"]
                .iter()
                .all(|k| {
                    rows.iter()
                        .any(|r| r.kind == *k && r.last_upload_at.is_some())
                })
                .then_some(()))
        },
    )
    .await
    .map_err(|e| e.context(world.logs()))?;

    let report: LicenceReport = admin.json("/api/v1/reports/licences").await?;
    ensure!(
        report.organisations.len() == 1,
        "one organisation (Humaans with its applications): {report:?}"
    );
    let org = report.organisations.first().context("no organisation")?;
    ensure!(
        org.monthly_savings.is_empty(),
        "no price set, no savings: {org:?}"
    );
    let entra = apps::differences(&report.sum("entra_id"), &graph_truth);
    let slack = apps::differences(&report.sum("seat_list"), &seat_list_truth);
    ensure!(
        entra.is_empty() && slack.is_empty(),
        "the licence figures differ from the truths: Entra ID {entra:?}; seat list {slack:?}\n{}",
        world.logs()
    );
    ensure!(
        org.applications
            .iter()
            .filter(|a| a.source_kind == "seat_list")
            .all(|a| a.name == "Slack"),
        "seat-list pools carry their application's name: {:?}",
        org.applications
    );

    // The next collection of the application sources goes as a delta against what the
    // platform applied (the agent kept a base of each), and the figures stay the truths.
    for name in ["m365", "slack"] {
        let base = agent
            .state_dir
            .join("spool")
            .join("base")
            .join(format!("{name}.json"));
        ensure!(
            base.is_file(),
            "the agent keeps the base of {name} at {}",
            base.display()
        );
    }
    let applied = world.wait_applied(3).await?.len();
    let out = agent.run(&["collect"], COMMAND_DEADLINE).await?;
    ensure!(out.status.success(), "a second collection: {out}");
    world
        .wait_applied(applied + 3)
        .await
        .map_err(|e| e.context(world.logs()))?;
    ensure!(
        logs_contain(&agent.log_dir, "as a delta"),
        "the second licence upload went as a delta\n{}",
        world.logs()
    );
    let again: LicenceReport = admin.json("/api/v1/reports/licences").await?;
    let entra = apps::differences(&again.sum("entra_id"), &graph_truth);
    let slack = apps::differences(&again.sum("seat_list"), &seat_list_truth);
    ensure!(
        entra.is_empty() && slack.is_empty(),
        "after the deltas the licence figures differ from the truths: Entra ID {entra:?}; seat list {slack:?}\n{}",
        world.logs()
    );
    drop(graph);
    Ok(())
}
