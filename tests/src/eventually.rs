//! Waiting for something to become true, with a deadline and a message: the one polling loop of
//! the test kit. A probe looks once and answers [`Check::Done`] with what the test waited for, or
//! [`Check::Pending`] with what it saw instead; the last of those is in the error at the deadline.

use std::future::Future;
use std::time::{Duration, Instant};

/// How often [`eventually`] looks.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// What one look found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check<T> {
    /// What the test waited for.
    Done(T),
    /// Not yet: what was seen instead (for the failure message).
    Pending(String),
}

impl<T> Check<T> {
    /// `Done(value)` when `done`, else `Pending(seen())`.
    pub fn when(done: bool, value: T, seen: impl FnOnce() -> String) -> Self {
        if done {
            Self::Done(value)
        } else {
            Self::Pending(seen())
        }
    }
}

/// Looks with `probe` every [`POLL_INTERVAL`] until it answers [`Check::Done`]; fails after
/// `timeout` with `what` and the last thing seen. An error of the probe ends the wait at once.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, probe: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Check<T>>>,
{
    eventually_every(what, timeout, POLL_INTERVAL, probe).await
}

/// [`eventually`] looking every `interval`.
pub async fn eventually_every<T, F, Fut>(
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut probe: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Check<T>>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match probe().await? {
            Check::Done(v) => return Ok(v),
            Check::Pending(seen) if Instant::now() >= deadline => {
                anyhow::bail!("{what}: not reached within {timeout:?} (last seen: {seen})")
            }
            Check::Pending(_) => tokio::time::sleep(interval).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn returns_the_value_once_the_probe_is_done() -> anyhow::Result<()> {
        let n = AtomicU32::new(0);
        let v = eventually_every(
            "three looks",
            Duration::from_secs(5),
            Duration::ZERO,
            || {
                let seen = n.fetch_add(1, Ordering::SeqCst) + 1;
                async move { Ok(Check::when(seen == 3, seen, || format!("{seen} looks"))) }
            },
        )
        .await?;
        assert_eq!(v, 3);
        Ok(())
    }

    #[tokio::test]
    async fn fails_at_the_deadline_with_the_last_thing_seen() {
        let err = eventually_every(
            "the answer",
            Duration::from_millis(30),
            Duration::from_millis(5),
            || async { Ok(Check::<()>::Pending("41".into())) },
        )
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(err.starts_with("the answer: not reached within"), "{err}");
        assert!(err.ends_with("(last seen: 41)"), "{err}");
    }

    #[tokio::test]
    async fn a_probe_error_ends_the_wait() {
        let err = eventually("anything", Duration::from_secs(60), || async {
            anyhow::bail!("broker gone") as anyhow::Result<Check<()>>
        })
        .await
        .err()
        .map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("broker gone"));
    }
}
