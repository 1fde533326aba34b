//! `seatbroker-install`: installs the Seatbroker agent as a service. Thin: parses arguments
//! and calls the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use seatbroker_installer::{GlobalOptions, InstallInput, LayoutEnv, Scope, TargetOs, UserIdentity};

#[derive(Debug, Parser)]
#[command(
    name = "seatbroker-install",
    version,
    about = "Install, upgrade and remove the Seatbroker agent service"
)]
struct Cli {
    /// Install under this folder instead of `/` (for packaging and tests). Commands that
    /// would touch the real system (systemctl, launchctl, sc.exe, dscl) are printed, not run.
    #[arg(long, global = true, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Print every file it would write and every command it would run; change nothing.
    #[arg(long, global = true)]
    dry_run: bool,
    /// A per-user service (systemd user unit, launchd LaunchAgent) instead of a system one.
    #[arg(long, global = true)]
    user: bool,
    /// Plan for another OS (with --dry-run or --root): linux, macos, windows.
    #[arg(long, global = true, value_enum)]
    target: Option<Target>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Target {
    Linux,
    Macos,
    Windows,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Install (or upgrade) the agent, its config and tokens, register, enroll and start it.
    Install {
        /// Agent config to install (default: keep the existing one, or write a skeleton).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// File holding the Humaans API token (stored as a protected credential).
        #[arg(long, value_name = "FILE")]
        humaans_token_file: Option<PathBuf>,
        /// File holding the enrollment token from the console; enrolls after installing.
        #[arg(long, value_name = "FILE")]
        enrollment_token_file: Option<PathBuf>,
        /// The platform's URL, written into the skeleton config.
        #[arg(long, value_name = "URL")]
        platform_url: Option<String>,
        /// The seatbroker-agent binary (default: the one next to this installer).
        #[arg(long, value_name = "PATH")]
        binary: Option<PathBuf>,
        /// Register the service but do not start it.
        #[arg(long)]
        no_start: bool,
    },
    /// Stop and remove the service and binary; keeps config, credentials and state.
    Uninstall {
        /// Also delete the config, credentials, state (spool, agent identity) and logs.
        #[arg(long)]
        purge: bool,
    },
    /// Show what is installed and whether the service runs.
    Status,
}

fn current_user() -> Option<UserIdentity> {
    let home = std::env::var("HOME").ok().filter(|h| !h.is_empty())?;
    let name = std::env::var("USER").ok().filter(|u| !u.is_empty())?;
    let uid = seatbroker_installer::effective_uid()?;
    Some(UserIdentity { name, uid, home })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let scope = if cli.user { Scope::User } else { Scope::System };
    let opts = GlobalOptions {
        target: match cli.target {
            None => TargetOs::host(),
            Some(Target::Linux) => TargetOs::Linux,
            Some(Target::Macos) => TargetOs::Macos,
            Some(Target::Windows) => TargetOs::Windows,
        },
        scope,
        root: cli.root,
        dry_run: cli.dry_run,
        env: LayoutEnv::from_process(if cli.user { current_user() } else { None }),
    };
    let mut out = std::io::stdout();
    let result = match cli.command {
        Cmd::Install {
            config,
            humaans_token_file,
            enrollment_token_file,
            platform_url,
            binary,
            no_start,
        } => {
            let input = InstallInput {
                config,
                humaans_token_file,
                enrollment_token_file,
                platform_url,
                binary: binary.unwrap_or_else(seatbroker_installer::default_agent_binary),
                start: !no_start,
            };
            seatbroker_installer::install(&opts, &input, &mut out).map(drop)
        }
        Cmd::Uninstall { purge } => {
            seatbroker_installer::uninstall(&opts, purge, &mut out).map(drop)
        }
        Cmd::Status => seatbroker_installer::status(&opts, &mut out).map(drop),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}
