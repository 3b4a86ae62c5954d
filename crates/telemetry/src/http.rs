//! The one HTTP server loop of the product (every service's API, the admin server, the schema
//! registry): HTTP/1.1 on a bound listener, a header-read timeout, graceful shutdown.
//!
//! `axum::serve` sets no timeout: a client that opens a connection and sends nothing (or half a
//! request line, or nothing more after its last request) holds the connection and its task
//! forever. Here hyper's header-read timeout ([`ServerLimits::header_read_timeout`], 30 s by
//! default) closes a connection whose next request head has not fully arrived in time; it runs
//! from the moment the connection is ready for a request, so it is the idle timeout of
//! keep-alive connections too.

use std::future::Future;
use std::io;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

/// How long a connection may take to send a complete request head, and may stay idle between
/// requests.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The server's connection limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Deadline for the head of each request, counted from when the connection is ready for
    /// it (connection accepted, or the previous response written): an idle connection is
    /// closed after this long.
    pub header_read_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: HEADER_READ_TIMEOUT,
        }
    }
}

/// Serves `router` on `listener` with the default [`ServerLimits`] until `shutdown` resolves;
/// then stops accepting, closes idle connections and waits for in-flight requests.
///
/// # Errors
///
/// None today (accept errors are logged and retried); the `Result` is there for callers that
/// map it like `axum::serve`'s.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_with(listener, router, ServerLimits::default(), shutdown).await
}

/// [`serve`] with explicit limits.
///
/// # Errors
///
/// See [`serve`].
pub async fn serve_with(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, remote) = match accepted {
            Ok(a) => a,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::error!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let service = TowerToHyperService::new(router.clone());
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%remote, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn start(
        limits: ServerLimits,
    ) -> (std::net::SocketAddr, tokio_util::sync::CancellationToken) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let stop = tokio_util::sync::CancellationToken::new();
        let router = Router::new().route("/", get(|| async { "hi" }));
        tokio::spawn(serve_with(
            listener,
            router,
            limits,
            stop.clone().cancelled_owned(),
        ));
        (addr, stop)
    }

    /// Reads until the server closes the connection; what it sent.
    async fn read_to_close(s: &mut tokio::net::TcpStream) -> String {
        let mut out = Vec::new();
        // The bound only keeps a broken build from hanging the test run.
        let r = tokio::time::timeout(Duration::from_secs(60), s.read_to_end(&mut out)).await;
        assert!(r.is_ok(), "the server did not close the connection");
        String::from_utf8_lossy(&out).into_owned()
    }

    #[tokio::test]
    async fn serves_and_closes_connections_that_send_nothing() {
        let limits = ServerLimits {
            header_read_timeout: Duration::from_millis(200),
        };
        let (addr, stop) = start(limits).await;
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .expect("write");
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).await.expect("read");
        let head = String::from_utf8_lossy(&buf[..n]);
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        // Keep-alive: nothing more is sent, the server closes the idle connection.
        let rest = read_to_close(&mut s).await;
        assert!(!rest.contains("HTTP/1.1 200"), "{rest}");

        // Half a request line, never finished.
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        s.write_all(b"GET / HT").await.expect("write");
        let answer = read_to_close(&mut s).await;
        assert!(!answer.contains("200"), "{answer}");
        stop.cancel();
    }

    #[tokio::test]
    async fn shutdown_stops_accepting_and_closes_idle_connections() {
        // A header timeout far beyond the test's bound: only the shutdown can close it.
        let (addr, stop) = start(ServerLimits {
            header_read_timeout: Duration::from_secs(3600),
        })
        .await;
        let mut idle = tokio::net::TcpStream::connect(addr).await.expect("connect");
        idle.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .expect("write");
        let mut buf = [0u8; 512];
        let n = idle.read(&mut buf).await.expect("read");
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        stop.cancel();
        let rest = read_to_close(&mut idle).await;
        assert!(rest.is_empty(), "{rest}");
    }
}
