//! Requests to stop from outside the process: Ctrl-C (SIGINT) and, on unix,
//! SIGTERM, which is how CI runners and process managers cancel a job.
//! Watched here, in one place, so every long-running command treats the
//! two alike.

use std::future::Future;

/// Installs the handlers now and returns a future that resolves, with the
/// signal's name, at the first SIGINT or SIGTERM received after this call.
///
/// From this call on neither signal kills the process by its default
/// action (exit 130/143 at once); the caller decides how to stop. Call it
/// inside a tokio runtime.
pub(crate) fn stop_signal() -> std::io::Result<impl Future<Output = &'static str> + Send + 'static>
{
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = int.recv() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            if tokio::signal::ctrl_c().await.is_err() {
                // Cannot watch: never report a stop that did not happen.
                std::future::pending::<()>().await;
            }
            "Ctrl-C"
        })
    }
}
