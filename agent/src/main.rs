//! `seatbroker-agent`: parses the command line and runs [`seatbroker_agent::cli::run`].

use std::process::ExitCode;

use clap::Parser;
use seatbroker_agent::cli::{self, Cli, Exit};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let usage = error.use_stderr();
            let _ = error.print();
            // Help and version are not errors; a bad command line is a usage error (64).
            return if usage { Exit::Config } else { Exit::Ok }.into();
        }
    };
    // Started by the Windows service control manager: speak its protocol instead.
    #[cfg(windows)]
    let cli = match cli.command {
        cli::Command::Run => match seatbroker_agent::winsvc::dispatch(Box::new(cli)) {
            Ok(exit) => return exit.into(),
            Err(cli) => *cli,
        },
        _ => cli,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return Exit::Failure.into();
        }
    };
    runtime.block_on(cli::run(cli)).into()
}
