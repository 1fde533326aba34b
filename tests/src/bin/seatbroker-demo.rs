//! `seatbroker-demo`: the one-command demo (run it with `scripts/demo`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use seatbroker_tests::bins::Bins;
use seatbroker_tests::demo::{self, DemoOptions};

/// Starts a Seatbroker platform on SQLite, a simulated Humaans company and an agent, walks
/// the approval and prints where to look. Runs until Ctrl-C.
#[derive(Debug, Parser)]
#[command(name = "seatbroker-demo", version)]
struct Cli {
    /// Folder for the demo's data (database, agent state, logs).
    #[arg(long, default_value = "demo-data")]
    data_dir: PathBuf,
    /// Delete the demo folder of an earlier run first.
    #[arg(long)]
    clean: bool,
    /// Approve the agent and its source in the console on your behalf.
    #[arg(long)]
    auto_approve: bool,
    /// People in the simulated company.
    #[arg(long, default_value_t = 300)]
    people: usize,
    /// Seed of the simulated company (the same seed gives the same company).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Port of the console; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let options = DemoOptions {
        data_dir: cli.data_dir,
        clean: cli.clean,
        auto_approve: cli.auto_approve,
        people: cli.people,
        seed: cli.seed,
        port: cli.port,
    };
    let bins = match Bins::next_to_current_exe() {
        Ok(bins) => bins,
        Err(error) => {
            eprintln!("seatbroker-demo: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("seatbroker-demo: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(demo::run(options, bins)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("seatbroker-demo: {error:#}");
            ExitCode::FAILURE
        }
    }
}
