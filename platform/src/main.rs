//! `seatbroker-platform`: parses the command line, sets up logging, runs the library.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use seatbroker_platform::{
    AdminCommand, Cli, Command, LogFormat, MIN_PASSWORD_LEN, ServeArgs, Server, hash_password,
    open_store,
};
use tokio_util::sync::CancellationToken;

/// Exit code for a configuration the operator must fix (BSD EX_USAGE).
const EXIT_CONFIG: u8 = 64;

fn main() -> ExitCode {
    // A bad flag or environment variable is a configuration to fix: exit 64 like every
    // other configuration error (`--help` and `--version` still exit 0).
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::from(EXIT_CONFIG)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::Serve(args) => {
            init_logging(args.log_format);
            runtime.block_on(serve(*args))
        }
        Command::Admin { command } => {
            init_logging(LogFormat::Text);
            match runtime.block_on(admin(command)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("error: {error:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SEATBROKER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}

async fn serve(args: ServeArgs) -> ExitCode {
    let server = match Server::bind(&args).await {
        Ok(server) => server,
        Err(error) => {
            eprintln!("error: {error}");
            return if error.is_config() {
                ExitCode::from(EXIT_CONFIG)
            } else {
                ExitCode::FAILURE
            };
        }
    };
    if let Some(password) = &server.first_admin_password {
        eprintln!(
            "\nNo console user existed, so one was created:\n  username: admin\n  password: {}\n\
             This password is shown only now. Log in at {}/login, then set your own with\n  \
             seatbroker-platform admin create --username admin --role admin --data-dir ... (reads the new password from stdin)\n",
            password.expose(),
            server.url()
        );
    }
    // The demo and the end-to-end tests read this line.
    println!("{}", serde_json::json!({ "url": server.url() }));
    let _ = std::io::stdout().flush();

    let shutdown = CancellationToken::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("Shutting down: finishing requests in flight.");
        signal.cancel();
    });
    match server.run(shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn admin(command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::Create {
            database,
            username,
            role,
            password_file,
        } => {
            let password = match &password_file {
                Some(path) => std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the password file {}", path.display()))?,
                None => {
                    if std::io::stdin().is_terminal() {
                        eprint!(
                            "Password for {username} (input is shown; pipe it in to hide it): "
                        );
                    }
                    let mut line = String::new();
                    std::io::stdin()
                        .lock()
                        .read_line(&mut line)
                        .context("cannot read the password from standard input")?;
                    line
                }
            };
            let password = password.lines().next().unwrap_or("").to_owned();
            anyhow::ensure!(
                password.chars().count() >= MIN_PASSWORD_LEN,
                "the password is too short: use at least {} characters",
                MIN_PASSWORD_LEN
            );
            let store = open_store(&database).await?;
            let hash = tokio::task::spawn_blocking(move || hash_password(&password)).await??;
            let created = store.upsert_user("cli", &username, role, &hash).await?;
            store.close().await;
            eprintln!(
                "{} {username} ({role}).",
                if created {
                    "Created user"
                } else {
                    "Updated the password and role of"
                }
            );
            Ok(())
        }
    }
}
