//! Windows only: `seatbroker-agent run` started by the service control manager (SCM) speaks
//! the service control protocol.
//!
//! [`dispatch`] hands the main thread to the SCM's dispatcher. The SCM calls the service
//! main on a thread of its own, which registers a control handler (Stop and Shutdown cancel
//! the agent, Interrogate answers), reports StartPending, Running, StopPending and Stopped,
//! and in between runs exactly what `run` runs in the foreground
//! ([`cli::run_until_cancelled`]) on a runtime of its own. Started from a console instead,
//! the dispatcher refuses with ERROR_FAILED_SERVICE_CONTROLLER_CONNECT and `run` runs in the
//! foreground as on every other OS.

use std::ffi::OsString;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use windows_service::service::{
    ServiceControl, ServiceControlAccept, ServiceExitCode, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::{define_windows_service, service_dispatcher};

use crate::cli::{self, Cli, Exit, SHUTDOWN_GRACE};

/// The service name the installer registers (`sc.exe create SeatbrokerAgent`).
pub const SERVICE_NAME: &str = "SeatbrokerAgent";

/// `StartServiceCtrlDispatcherW`: the process was not started by the SCM.
const ERROR_FAILED_SERVICE_CONTROLLER_CONNECT: i32 = 1063;

/// The command line, handed from `main` to the service main (which takes no context).
static CLI: Mutex<Option<Box<Cli>>> = Mutex::new(None);
/// How the service ended, handed back to `main` for the process exit code.
static EXIT: Mutex<Option<Exit>> = Mutex::new(None);

fn lock<T>(slot: &Mutex<T>) -> MutexGuard<'_, T> {
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `cli` (the `run` command) as the service when the SCM started this process:
/// `Ok(exit)` once the service has stopped, `Err(cli)` back when the process was started
/// from a console, for the caller to run in the foreground.
pub fn dispatch(cli: Box<Cli>) -> Result<Exit, Box<Cli>> {
    *lock(&CLI) = Some(cli);
    let result = service_dispatcher::start(SERVICE_NAME, ffi_service_main);
    let unused = lock(&CLI).take();
    match result {
        Ok(()) => Ok(lock(&EXIT).take().unwrap_or(Exit::Failure)),
        Err(windows_service::Error::Winapi(error))
            if error.raw_os_error() == Some(ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) =>
        {
            unused.map_or(Ok(Exit::Failure), Err)
        }
        Err(error) => {
            eprintln!(
                "error: cannot connect to the Windows service control manager as service {SERVICE_NAME}: {error}; start the service with `sc.exe start {SERVICE_NAME}`, or run the agent from a console"
            );
            Ok(Exit::Failure)
        }
    }
}

define_windows_service!(ffi_service_main, service_main);

fn service_main(_arguments: Vec<OsString>) {
    // The arguments of `sc.exe start` are ignored: the service runs its binPath command line.
    let Some(mut cli) = lock(&CLI).take() else {
        return;
    };
    // The service uses the folders the installer creates under %ProgramData%\Seatbroker
    // (explicit --config/--state-dir/--log-dir still win), not the virtual account's profile.
    cli.system = true;
    let exit = serve(&cli);
    *lock(&EXIT) = Some(exit);
}

fn serve(cli: &Cli) -> Exit {
    let cancel = CancellationToken::new();
    let on_control = cancel.clone();
    let handler = move |control| match control {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            on_control.cancel();
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    let status = match service_control_handler::register(SERVICE_NAME, handler) {
        Ok(status) => status,
        Err(error) => {
            eprintln!("error: cannot register the service control handler: {error}");
            return Exit::Failure;
        }
    };
    let report = move |state, accept, exit_code, wait_hint| {
        let reported = status.set_service_status(ServiceStatus {
            service_type: ServiceType::OWN_PROCESS,
            current_state: state,
            controls_accepted: accept,
            exit_code,
            checkpoint: 0,
            wait_hint,
            process_id: None,
        });
        if let Err(error) = reported {
            tracing::warn!(%error, ?state, "Cannot report the service state to the SCM.");
        }
    };
    let none = ServiceControlAccept::empty();
    report(
        ServiceState::StartPending,
        none,
        ServiceExitCode::NO_ERROR,
        Duration::from_secs(10),
    );
    let exit = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => {
            let stopping = cancel.clone();
            let accept = ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN;
            report(
                ServiceState::Running,
                accept,
                ServiceExitCode::NO_ERROR,
                Duration::ZERO,
            );
            let exit = runtime.block_on(async {
                // Tell the SCM how long the stop may take, as soon as it is asked for.
                tokio::spawn(async move {
                    stopping.cancelled().await;
                    tracing::info!("The service control manager asked the agent to stop.");
                    let hint = SHUTDOWN_GRACE + Duration::from_secs(5);
                    report(
                        ServiceState::StopPending,
                        none,
                        ServiceExitCode::NO_ERROR,
                        hint,
                    );
                });
                cli::run_until_cancelled(cli, cancel).await
            });
            // Do not let a stuck blocking task keep the service in StopPending.
            runtime.shutdown_timeout(Duration::from_secs(2));
            exit
        }
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            Exit::Failure
        }
    };
    let exit_code = match exit {
        Exit::Ok => ServiceExitCode::NO_ERROR,
        // 64 bad configuration, 69 unavailable, 1 failure: shown by `sc.exe query` and in
        // the System event log as a service-specific error.
        other => ServiceExitCode::ServiceSpecific(other as u32),
    };
    report(ServiceState::Stopped, none, exit_code, Duration::ZERO);
    exit
}
