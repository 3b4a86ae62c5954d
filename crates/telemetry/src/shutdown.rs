//! Graceful-shutdown signals: SIGTERM (what Kubernetes and systemd send) and SIGINT (Ctrl-C).

use tokio_util::sync::CancellationToken;

/// Resolves when the process receives SIGTERM or SIGINT. Must be polled inside a Tokio
/// runtime. The handlers are registered on first poll; once registered they stay so for the
/// life of the process (the default "terminate" action no longer applies).
pub async fn signal() {
    Signals::register().recv().await;
}

/// Which signal arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM: what Kubernetes and systemd send to stop a service (drain, then exit).
    Terminate,
    /// SIGINT (Ctrl-C): stop now.
    Interrupt,
}

/// Resolves with each SIGTERM or SIGINT the process receives, as many times as they arrive
/// (the handlers are registered when this is called; must be called inside a Tokio runtime).
pub fn signals() -> SignalStream {
    SignalStream(Signals::register())
}

/// The handlers of [`signals`].
#[derive(Debug)]
pub struct SignalStream(Signals);

impl SignalStream {
    /// The next signal.
    pub async fn next(&mut self) -> Signal {
        self.0.next().await
    }
}

/// Returns a token that is cancelled when the process receives SIGTERM or SIGINT.
///
/// The signal handlers are registered before this function returns, so a signal arriving
/// right afterwards is not missed. Must be called inside a Tokio runtime.
pub fn token_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let signals = Signals::register();
    let cancel = token.clone();
    tokio::spawn(async move {
        tokio::select! {
            () = signals.recv() => cancel.cancel(),
            // Nobody can observe the token any more; stop waiting.
            () = cancel.cancelled() => {}
        }
    });
    token
}

#[cfg(unix)]
#[derive(Debug)]
struct Signals {
    term: Option<tokio::signal::unix::Signal>,
    int: Option<tokio::signal::unix::Signal>,
}

#[cfg(unix)]
impl Signals {
    fn register() -> Self {
        use tokio::signal::unix::{signal, SignalKind};
        let register = |kind: SignalKind, name: &str| match signal(kind) {
            Ok(s) => Some(s),
            Err(err) => {
                tracing::error!(error = %err, signal = name, "cannot install signal handler");
                None
            }
        };
        Self {
            term: register(SignalKind::terminate(), "SIGTERM"),
            int: register(SignalKind::interrupt(), "SIGINT"),
        }
    }

    async fn recv(mut self) {
        self.next().await;
    }

    async fn next(&mut self) -> Signal {
        async fn wait(sig: Option<&mut tokio::signal::unix::Signal>) {
            match sig {
                Some(sig) => {
                    if sig.recv().await.is_none() {
                        std::future::pending::<()>().await;
                    }
                }
                None => std::future::pending::<()>().await,
            }
        }
        tokio::select! {
            () = wait(self.term.as_mut()) => {
                tracing::info!("received SIGTERM, shutting down");
                Signal::Terminate
            }
            () = wait(self.int.as_mut()) => {
                tracing::info!("received SIGINT, shutting down");
                Signal::Interrupt
            }
        }
    }
}

#[cfg(not(unix))]
#[derive(Debug)]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn register() -> Self {
        Signals
    }

    async fn recv(mut self) {
        self.next().await;
    }

    async fn next(&mut self) -> Signal {
        match tokio::signal::ctrl_c().await {
            Ok(()) => tracing::info!("received Ctrl-C, shutting down"),
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for Ctrl-C");
                std::future::pending::<()>().await;
            }
        }
        Signal::Interrupt
    }
}
