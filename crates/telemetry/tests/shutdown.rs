//! SIGTERM handling. Its own test binary, so the signal only reaches this process's handlers.

use std::time::Duration;

#[tokio::test]
async fn token_is_cancelled_on_sigterm() {
    let token = dsync_telemetry::shutdown::token_on_signal();
    assert!(!token.is_cancelled());
    // The handler is registered when token_on_signal returns, so SIGTERM cannot kill us.
    let status = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    tokio::time::timeout(Duration::from_secs(5), token.cancelled())
        .await
        .expect("token cancelled after SIGTERM");
}
