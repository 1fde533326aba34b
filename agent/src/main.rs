//! `seatbroker-agent`: parses the command line and runs [`seatbroker_agent::cli::run_blocking`].

use std::process::ExitCode;

use clap::Parser;
use seatbroker_agent::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return cli::parse_failed(error).into(),
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
    cli::run_blocking(cli).into()
}
