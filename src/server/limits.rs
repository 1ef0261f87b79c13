//! The server's named limits, and the listener that enforces the connection limit.
//!
//! Every limit answers with a status and a JSON body, never a hang: more connections than
//! [`CONNECTIONS_MAX`] get a 503 written straight on the socket; more requests in flight
//! than [`REQUESTS_IN_FLIGHT_MAX`] or subscribers than [`SUBSCRIBERS_MAX`] get 429; a body
//! over [`BODY_BYTES_MAX`] or a batch over [`BATCH_EVENTS_MAX`] gets 413; a request that takes
//! longer than [`REQUEST_TIME_MAX`] gets 503; more exports at once than [`EXPORTS_MAX`] get
//! 429. A connection the server could not write to for [`CLIENT_STALL_MAX`] (a client that
//! stopped reading its subscription or export) is dropped, and with it what it held; on
//! shutdown, connections still open after [`SHUTDOWN_GRACE`] are dropped.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Largest request body, in bytes: a full batch of ordinary events fits many times over.
pub const BODY_BYTES_MAX: usize = 32 * 1024 * 1024;
/// Most events in one `POST /v1/events` (an import through a server is one request; the
/// store itself takes batches up to `store::BATCH_EVENTS_MAX`).
pub const BATCH_EVENTS_MAX: usize = 10_000;
/// Most open connections; more are answered 503 and closed.
pub const CONNECTIONS_MAX: usize = 1_024;
/// Most requests being handled at once (subscriptions apart); more are answered 429.
pub const REQUESTS_IN_FLIGHT_MAX: usize = 512;
/// Most live subscriptions; more are answered 429.
pub const SUBSCRIBERS_MAX: usize = 256;
/// Longest time to produce a response's head; longer is answered 503. An append that was
/// already handed to the store may still be written: retry it with the same event ids.
pub const REQUEST_TIME_MAX: Duration = Duration::from_secs(30);
/// How far a live subscriber may fall behind the log before it is dropped (it resumes with
/// `Last-Event-ID`): subscribers read the log at their own pace, so they never slow writers,
/// but one that cannot keep up is told so rather than served an ever older past.
pub const SUBSCRIBER_LAG_EVENTS_MAX: u64 = 100_000;
/// Most exports (`GET /v1/export`) streaming at once; more are answered 429.
pub const EXPORTS_MAX: usize = 16;
/// Longest a connection may refuse what the server writes (a client that stopped reading):
/// then it is dropped, freeing its subscription or export slot.
pub const CLIENT_STALL_MAX: Duration = Duration::from_secs(30);
/// How long a shutdown waits for open connections (a slow export, say) before dropping them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Most events in one page of `GET /v1/events` or `GET /v1/streams/…`.
pub const EVENTS_PAGE_MAX: u64 = 10_000;

/// The limits a server runs with: the constants above, changeable for tests.
#[derive(Debug, Clone)]
pub struct Limits {
    /// See [`BODY_BYTES_MAX`].
    pub body_bytes_max: usize,
    /// See [`BATCH_EVENTS_MAX`].
    pub batch_events_max: usize,
    /// See [`CONNECTIONS_MAX`].
    pub connections_max: usize,
    /// See [`REQUESTS_IN_FLIGHT_MAX`].
    pub requests_in_flight_max: usize,
    /// See [`SUBSCRIBERS_MAX`].
    pub subscribers_max: usize,
    /// See [`REQUEST_TIME_MAX`].
    pub request_time_max: Duration,
    /// See [`SUBSCRIBER_LAG_EVENTS_MAX`].
    pub subscriber_lag_events_max: u64,
    /// See [`EXPORTS_MAX`].
    pub exports_max: usize,
    /// See [`CLIENT_STALL_MAX`].
    pub client_stall_max: Duration,
    /// See [`SHUTDOWN_GRACE`].
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            body_bytes_max: BODY_BYTES_MAX,
            batch_events_max: BATCH_EVENTS_MAX,
            connections_max: CONNECTIONS_MAX,
            requests_in_flight_max: REQUESTS_IN_FLIGHT_MAX,
            subscribers_max: SUBSCRIBERS_MAX,
            request_time_max: REQUEST_TIME_MAX,
            subscriber_lag_events_max: SUBSCRIBER_LAG_EVENTS_MAX,
            exports_max: EXPORTS_MAX,
            client_stall_max: CLIENT_STALL_MAX,
            shutdown_grace: SHUTDOWN_GRACE,
        }
    }
}

/// A TCP listener that holds one permit per open connection and answers 503 beyond them.
pub struct LimitedListener {
    inner: TcpListener,
    permits: Arc<Semaphore>,
    stall_max: Duration,
    open: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
}

impl LimitedListener {
    /// Limits `inner` to `max` connections, each dropped once it refused writes for
    /// `stall_max`; `open` and `refused` count them for metrics.
    pub fn new(
        inner: TcpListener,
        max: usize,
        stall_max: Duration,
        open: Arc<AtomicU64>,
        refused: Arc<AtomicU64>,
    ) -> LimitedListener {
        LimitedListener {
            inner,
            permits: Arc::new(Semaphore::new(max)),
            stall_max,
            open,
            refused,
        }
    }
}

/// The body of the 503 written to a connection over the limit.
const FULL_BODY: &str = r#"{"error":{"code":"too_many_connections","message":"the server has as many connections as it takes; retry later","field":null,"index":null}}"#;

fn full_response() -> Vec<u8> {
    format!("HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{FULL_BODY}", FULL_BODY.len()).into_bytes()
}

impl axum::serve::Listener for LimitedListener {
    type Io = Limited;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Limited, std::net::SocketAddr) {
        loop {
            let (mut stream, addr) = match self.inner.accept().await {
                Ok(s) => s,
                Err(e) => {
                    // Out of descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            // Small responses go out at once rather than wait for Nagle's timer.
            let _ = stream.set_nodelay(true);
            match self.permits.clone().try_acquire_owned() {
                Ok(permit) => {
                    self.open.fetch_add(1, Ordering::Relaxed);
                    return (
                        Limited {
                            stream,
                            _permit: permit,
                            open: self.open.clone(),
                            stall_max: self.stall_max,
                            stalled: None,
                        },
                        addr,
                    );
                }
                Err(_) => {
                    self.refused.fetch_add(1, Ordering::Relaxed);
                    tokio::spawn(async move {
                        let _ = stream.write_all(&full_response()).await;
                        let _ = stream.shutdown().await;
                    });
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.inner.local_addr()
    }
}

/// A connection holding its permit until it closes, and failing its writes once the peer
/// has not taken any for the stall limit (hyper then drops the connection).
pub struct Limited {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
    open: Arc<AtomicU64>,
    stall_max: Duration,
    /// Set while a write waits for the peer: when it gives up.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Limited {
    /// Passes a write's result on, timing how long writes have been waiting.
    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        r: Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        if r.is_ready() {
            self.stalled = None;
            return r;
        }
        let stall_max = self.stall_max;
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(stall_max)));
        if timer.as_mut().poll(cx).is_ready() {
            tracing::warn!(
                stall_seconds = stall_max.as_secs_f64(),
                "a client took nothing of what was written to it for too long: dropped"
            );
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client stopped reading",
            )));
        }
        Poll::Pending
    }
}

impl Drop for Limited {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl AsyncRead for Limited {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Limited {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.watch(cx, r)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.stream).poll_flush(cx);
        self.watch(cx, r)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.watch(cx, r)
    }
    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
