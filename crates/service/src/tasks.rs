//! Named tasks in one set: the first failure cancels the others, and the failure says which
//! task it was (its name in the logs, its kind in the exit code).

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use dsync_bus::BoxError;
use futures::FutureExt as _;
use tokio::task::{Id, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::shutdown::ShutdownSignal;

/// What a task is; decides the process's exit code when it fails (see the crate docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    /// The admin server (`/metrics`, `/healthz`, `/readyz`).
    Admin,
    /// The service's HTTP API.
    Http,
    /// A consumer loop.
    Consumer,
    /// A follower keeping local state current from a topic.
    Follower,
    /// Any other background task (sweeps, retries, gauges, watchers).
    Background,
}

impl TaskKind {
    /// The process's exit code when a task of this kind fails or panics.
    pub fn exit_code(self) -> u8 {
        match self {
            TaskKind::Admin => 3,
            TaskKind::Http => 4,
            TaskKind::Consumer => 5,
            TaskKind::Follower => 6,
            TaskKind::Background => 7,
        }
    }
}

/// Why a running service stopped other than on request.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// A task returned an error (the first one; the others were cancelled).
    #[error("task {name:?} failed: {source}")]
    Task {
        /// The task's name.
        name: String,
        /// Its kind.
        kind: TaskKind,
        /// What went wrong.
        #[source]
        source: BoxError,
    },
    /// A task panicked.
    #[error("task {name:?} panicked: {message}")]
    Panicked {
        /// The task's name.
        name: String,
        /// Its kind.
        kind: TaskKind,
        /// The panic's message.
        message: String,
    },
    /// Tasks were still running when the drain deadline passed; they were aborted.
    #[error("tasks {left:?} still running {deadline:?} after the shutdown began: aborted")]
    DrainTimeout {
        /// The deadline (`--shutdown-deadline`).
        deadline: Duration,
        /// The tasks that had not stopped.
        left: Vec<String>,
    },
}

impl HostError {
    /// The process's exit code for this failure (see the crate docs).
    pub fn exit_code(&self) -> u8 {
        match self {
            HostError::Task { kind, .. } | HostError::Panicked { kind, .. } => kind.exit_code(),
            HostError::DrainTimeout { .. } => 8,
        }
    }

    /// The failed task's name (none for a drain timeout).
    pub fn task(&self) -> Option<&str> {
        match self {
            HostError::Task { name, .. } | HostError::Panicked { name, .. } => Some(name),
            HostError::DrainTimeout { .. } => None,
        }
    }
}

struct Entry {
    name: String,
    kind: TaskKind,
    /// Stops only once every other task has (the admin server: probes and metrics stay
    /// available while the service drains).
    last: bool,
}

type Outcome = Result<(), TaskOutcome>;

enum TaskOutcome {
    Failed(BoxError),
    Panicked(String),
}

/// A set of named tasks sharing one stop token. [`TaskSet::join`] waits for all of them: the
/// first failure (error or panic) cancels the token, so the others drain; a shutdown request
/// does the same (drain) or aborts them (stop).
pub struct TaskSet {
    set: JoinSet<Outcome>,
    entries: HashMap<Id, Entry>,
    stop: CancellationToken,
    last_stop: CancellationToken,
}

impl std::fmt::Debug for TaskSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.entries.values().map(|e| e.name.as_str()).collect();
        f.debug_struct("TaskSet").field("tasks", &names).finish()
    }
}

impl Default for TaskSet {
    fn default() -> Self {
        Self::new()
    }
}

impl TaskSet {
    /// An empty set.
    pub fn new() -> Self {
        Self {
            set: JoinSet::new(),
            entries: HashMap::new(),
            stop: CancellationToken::new(),
            last_stop: CancellationToken::new(),
        }
    }

    /// The token every task gets: cancelled on shutdown or on the first failure.
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// How many tasks are running.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no task is running.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Starts `task(stop)` now, under `name`. It must return once `stop` is cancelled.
    pub fn spawn<F, Fut, E>(&mut self, name: impl Into<String>, kind: TaskKind, task: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let fut = task(self.stop.clone());
        self.insert(name.into(), kind, false, fut);
    }

    /// Like [`TaskSet::spawn`], but its token is cancelled only once every other task has
    /// stopped (the admin server).
    pub fn spawn_last<F, Fut, E>(&mut self, name: impl Into<String>, kind: TaskKind, task: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let fut = task(self.last_stop.clone());
        self.insert(name.into(), kind, true, fut);
    }

    fn insert<Fut, E>(&mut self, name: String, kind: TaskKind, last: bool, fut: Fut)
    where
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let handle = self.set.spawn(async move {
            match AssertUnwindSafe(fut).catch_unwind().await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(TaskOutcome::Failed(e.into())),
                Err(panic) => Err(TaskOutcome::Panicked(panic_message(panic.as_ref()))),
            }
        });
        self.entries.insert(handle.id(), Entry { name, kind, last });
    }

    fn running_first(&self) -> usize {
        self.entries.values().filter(|e| !e.last).count()
    }

    /// Waits until every task has stopped. A drain (`shutdown`'s SIGTERM, or the first
    /// failure) cancels the stop token and waits up to `deadline`; a stop (SIGINT, a second
    /// signal) or the deadline aborts what is left. Returns the first failure.
    pub async fn join(
        mut self,
        shutdown: &ShutdownSignal,
        deadline: Duration,
    ) -> Result<(), HostError> {
        let mut first: Option<HostError> = None;
        let mut drain_until: Option<Instant> = None;
        let mut aborted = false;
        if self.running_first() == 0 {
            // Nothing but the admin server: it runs until a shutdown is requested.
            self.link_last(shutdown);
        }
        while !self.entries.is_empty() {
            let timer = async {
                match drain_until {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                joined = self.set.join_next_with_id() => {
                    let Some(joined) = joined else { break };
                    let (id, outcome) = match joined {
                        Ok((id, outcome)) => (id, outcome),
                        // Aborted: only after a stop or the deadline, already reported.
                        Err(e) => (e.id(), Ok(())),
                    };
                    let Some(entry) = self.entries.remove(&id) else { continue };
                    match outcome {
                        Ok(()) => info!(task = %entry.name, "stopped"),
                        Err(outcome) => {
                            let failure = match outcome {
                                TaskOutcome::Failed(source) => {
                                    error!(task = %entry.name, error = %source, "task failed; stopping the others");
                                    HostError::Task { name: entry.name, kind: entry.kind, source }
                                }
                                TaskOutcome::Panicked(message) => {
                                    error!(task = %entry.name, %message, "task panicked; stopping the others");
                                    HostError::Panicked { name: entry.name, kind: entry.kind, message }
                                }
                            };
                            first.get_or_insert(failure);
                            if drain_until.is_none() {
                                drain_until = Some(Instant::now() + deadline);
                            }
                            self.stop.cancel();
                        }
                    }
                    if self.running_first() == 0 {
                        self.last_stop.cancel();
                    }
                }
                () = shutdown.draining(), if drain_until.is_none() => {
                    info!(deadline_ms = deadline.as_millis() as u64, "draining");
                    drain_until = Some(Instant::now() + deadline);
                    self.stop.cancel();
                }
                () = shutdown.stopping(), if !aborted => {
                    info!("stopping now");
                    aborted = true;
                    self.stop.cancel();
                    self.last_stop.cancel();
                    self.set.abort_all();
                }
                () = timer, if !aborted => {
                    let left: Vec<String> = self.entries.values().map(|e| e.name.clone()).collect();
                    warn!(?left, "drain deadline passed; aborting");
                    first.get_or_insert(HostError::DrainTimeout { deadline, left });
                    aborted = true;
                    self.last_stop.cancel();
                    self.set.abort_all();
                }
            }
        }
        match first {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn link_last(&self, shutdown: &ShutdownSignal) {
        let (shutdown, last) = (shutdown.clone(), self.last_stop.clone());
        tokio::spawn(async move {
            tokio::select! {
                () = shutdown.draining() => last.cancel(),
                () = last.cancelled() => {}
            }
        });
    }
}

impl Drop for TaskSet {
    fn drop(&mut self) {
        // A set dropped without being joined (a failed build): stop everything.
        self.stop.cancel();
        self.last_stop.cancel();
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn until_stopped(stop: CancellationToken) -> Result<(), BoxError> {
        stop.cancelled().await;
        Ok(())
    }

    #[tokio::test]
    async fn the_first_failure_cancels_the_others_and_names_the_task() {
        let mut set = TaskSet::new();
        set.spawn("http", TaskKind::Http, until_stopped);
        set.spawn_last("admin", TaskKind::Admin, until_stopped);
        set.spawn("consumer", TaskKind::Consumer, |_stop| async {
            Err::<(), BoxError>("broker says no".into())
        });
        let err = set
            .join(&ShutdownSignal::new(), Duration::from_secs(5))
            .await
            .expect_err("must fail");
        assert_eq!(err.task(), Some("consumer"));
        assert_eq!(err.exit_code(), 5);
        assert!(err.to_string().contains("broker says no"), "{err}");
    }

    #[tokio::test]
    async fn a_panic_is_a_failure_of_its_task() {
        let mut set = TaskSet::new();
        set.spawn("sweep", TaskKind::Background, |_stop| async {
            if true {
                panic!("boom");
            }
            Ok::<(), BoxError>(())
        });
        set.spawn("http", TaskKind::Http, until_stopped);
        let err = set
            .join(&ShutdownSignal::new(), Duration::from_secs(5))
            .await
            .expect_err("must fail");
        assert!(
            matches!(&err, HostError::Panicked { name, message, .. } if name == "sweep" && message == "boom"),
            "{err}"
        );
        assert_eq!(err.exit_code(), 7);
    }

    #[tokio::test]
    async fn a_drain_stops_every_task_cleanly_admin_last() {
        let mut set = TaskSet::new();
        let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let o = order.clone();
        set.spawn_last("admin", TaskKind::Admin, move |stop| async move {
            stop.cancelled().await;
            o.lock().map_err(|e| e.to_string())?.push("admin");
            Ok::<(), BoxError>(())
        });
        let o = order.clone();
        set.spawn("consumer", TaskKind::Consumer, move |stop| async move {
            stop.cancelled().await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            o.lock().map_err(|e| e.to_string())?.push("consumer");
            Ok::<(), BoxError>(())
        });
        let shutdown = ShutdownSignal::new();
        shutdown.drain();
        set.join(&shutdown, Duration::from_secs(5))
            .await
            .expect("clean");
        let order = order.lock().map(|o| o.clone()).unwrap_or_default();
        assert_eq!(order, ["consumer", "admin"]);
    }

    #[tokio::test]
    async fn a_drain_past_its_deadline_aborts_and_says_so() {
        let mut set = TaskSet::new();
        set.spawn("stuck", TaskKind::Background, |_stop| async {
            std::future::pending::<()>().await;
            Ok::<(), BoxError>(())
        });
        let shutdown = ShutdownSignal::new();
        shutdown.drain();
        let err = set
            .join(&shutdown, Duration::from_millis(50))
            .await
            .expect_err("deadline");
        assert!(
            matches!(&err, HostError::DrainTimeout { left, .. } if left == &["stuck".to_owned()]),
            "{err}"
        );
        assert_eq!(err.exit_code(), 8);
    }

    #[tokio::test]
    async fn a_stop_aborts_without_waiting() {
        let mut set = TaskSet::new();
        set.spawn("stuck", TaskKind::Background, |_stop| async {
            std::future::pending::<()>().await;
            Ok::<(), BoxError>(())
        });
        let shutdown = ShutdownSignal::new();
        shutdown.stop();
        // A deadline far away: the stop does not wait for it.
        set.join(&shutdown, Duration::from_secs(3600))
            .await
            .expect("a stop is not a failure");
    }
}
