//! The HTTP server task both simulators run: axum on a bound listener, stopped by a
//! one-shot signal (or by dropping the handle), with a bounded wait on shutdown.

use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running server task. Dropping it stops the server; [`Serving::shutdown`] also waits.
#[derive(Debug)]
pub(crate) struct Serving {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Serving {
    /// Serves `app` on `listener` until stopped. `name` goes into the error log line.
    pub(crate) fn spawn(
        listener: tokio::net::TcpListener,
        app: axum::Router,
        name: &'static str,
    ) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    // A dropped sender stops the server as well.
                    let _ = stopped.await;
                })
                .await;
            if let Err(error) = served {
                tracing::error!(%error, server = name, "A simulator's HTTP server stopped with an error.");
            }
        });
        Self {
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops accepting connections and waits (at most 5 s) for open responses to finish.
    pub(crate) async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
