//! The one shutdown model: a drain (SIGTERM, or [`ShutdownSignal::drain`]) stops taking new
//! work, lets what is in flight finish and exits within `--shutdown-deadline`; a stop (SIGINT,
//! a second signal, or [`ShutdownSignal::stop`]) aborts the tasks at once.

use dsync_telemetry::shutdown::Signal;
use tokio_util::sync::CancellationToken;

/// A request to shut down: drain or stop. Clones share the request.
#[derive(Debug, Clone, Default)]
pub struct ShutdownSignal {
    drain: CancellationToken,
    stop: CancellationToken,
}

impl ShutdownSignal {
    /// Nothing requested yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Follows the process's signals: the first SIGTERM drains, SIGINT or any second signal
    /// stops. The handlers are registered before this returns (inside a Tokio runtime).
    pub fn on_signals() -> Self {
        let this = Self::new();
        let mut signals = dsync_telemetry::shutdown::signals();
        let s = this.clone();
        tokio::spawn(async move {
            loop {
                let signal = tokio::select! {
                    signal = signals.next() => signal,
                    () = s.stop.cancelled() => return,
                };
                match signal {
                    Signal::Terminate if !s.drain.is_cancelled() => s.drain(),
                    _ => {
                        s.stop();
                        return;
                    }
                }
            }
        });
        this
    }

    /// Asks for a drain (what SIGTERM does).
    pub fn drain(&self) {
        self.drain.cancel();
    }

    /// Asks for an immediate stop (what SIGINT does); implies a drain.
    pub fn stop(&self) {
        self.drain.cancel();
        self.stop.cancel();
    }

    /// Resolves once a drain (or a stop) was asked for.
    pub async fn draining(&self) {
        self.drain.cancelled().await;
    }

    /// Resolves once a stop was asked for.
    pub async fn stopping(&self) {
        self.stop.cancelled().await;
    }

    /// Whether a drain or a stop was asked for.
    pub fn is_requested(&self) -> bool {
        self.drain.is_cancelled()
    }
}

/// Cancelling the token asks for a drain.
impl From<CancellationToken> for ShutdownSignal {
    fn from(drain: CancellationToken) -> Self {
        Self {
            drain,
            stop: CancellationToken::new(),
        }
    }
}
