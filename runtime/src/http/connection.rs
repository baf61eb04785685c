//! One client connection's life: it is closed gracefully once it has carried no request for
//! the idle timeout (a keep-alive connection left open, or one that never sends a request), or
//! when the server shuts down; and the server's limits on connections and request bodies.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::sync::watch;
// tokio's clock, so that tests can pause it.
use tokio::time::Instant;

/// Limits the server puts on clients; the defaults suit a server facing the internet, while
/// staying out of the way of Spin apps (no body limit, as in Spin).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLimits {
    /// A request's headers must arrive within this (HTTP/1.1; slow clients are closed).
    pub header_read_timeout: Duration,
    /// A connection carrying no request for this long is closed.
    pub idle_timeout: Duration,
    /// Connections open at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Request bodies longer than this get 413; `None` accepts any length.
    pub max_request_body_size: Option<u64>,
}

/// hyper's default, and the usual one.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// As nginx's keep-alive timeout.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(75);

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: default_max_connections(open_files_limit()),
            max_request_body_size: None,
        }
    }
}

/// File descriptors kept back from connections: the app's own (stores, outbound connections,
/// compiled-code files, the listener).
const RESERVED_FDS: u64 = 256;

/// As many connections as the process may open files, less a reserve, so that the server
/// stops accepting before `accept` fails with EMFILE.
pub fn default_max_connections(open_files_limit: u64) -> usize {
    open_files_limit
        .saturating_sub(RESERVED_FDS)
        .clamp(64, 1 << 20) as usize
}

/// `--max-connections` / `SPINKUBE_MAX_CONNECTIONS`: a whole number of at least 1.
pub fn parse_max_connections(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=u32::MAX as usize).contains(&n) => Ok(n),
        _ => Err(format!(
            "{s:?} is not a whole number of connections of at least 1"
        )),
    }
}

/// Raises the soft open-files limit to the hard one (as Go's runtime does), and returns it.
pub fn raise_open_files_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    limit.rlim_cur
}

fn open_files_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: as above.
    match unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } {
        0 => limit.rlim_cur,
        _ => 1024,
    }
}

/// Requests in flight on one connection, and when the last one ended.
pub struct Activity {
    active: AtomicUsize,
    /// Milliseconds since `epoch` at the last change.
    last_change_ms: AtomicU64,
    epoch: Instant,
}

impl Activity {
    /// A counter with nothing in flight.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            active: AtomicUsize::new(0),
            last_change_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        })
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// A request arrived; it counts until the returned guard drops (with its response body).
    pub fn begin(self: &Arc<Self>) -> RequestGuard {
        self.active.fetch_add(1, Ordering::SeqCst);
        RequestGuard(self.clone())
    }

    /// How much longer the connection may stay idle: `None` while a request is in flight.
    fn idle_left(&self, idle_timeout: Duration) -> Option<Duration> {
        if self.active.load(Ordering::SeqCst) > 0 {
            return None;
        }
        let idle = self
            .now_ms()
            .saturating_sub(self.last_change_ms.load(Ordering::SeqCst));
        Some(idle_timeout.saturating_sub(Duration::from_millis(idle)))
    }

    /// Resolves once the connection has carried no request for `idle_timeout`.
    pub async fn idle_for(&self, idle_timeout: Duration) {
        loop {
            match self.idle_left(idle_timeout) {
                Some(left) if left.is_zero() => return,
                Some(left) => tokio::time::sleep(left).await,
                // Checked again after a whole timeout: cheap, and a request's end restarts it.
                None => tokio::time::sleep(idle_timeout).await,
            }
        }
    }
}

/// Counts one request as in flight on its connection.
pub struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let now = self.0.now_ms();
        self.0.last_change_ms.store(now, Ordering::SeqCst);
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Serves `conn` to its end, asking it to finish gracefully (`graceful_shutdown`: in-flight
/// requests complete) when it has been idle for `idle_timeout` or when `shutdown` turns true.
/// An idle connection that has not finished another `idle_timeout` later is dropped (`None`):
/// an HTTP/2 client that never acknowledges the server's GOAWAY ping would hold it for ever.
pub async fn drive<C: Future>(
    conn: C,
    graceful_shutdown: impl Fn(Pin<&mut C>),
    activity: Arc<Activity>,
    idle_timeout: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> Option<C::Output> {
    tokio::pin!(conn);
    let mut closing = false;
    let hard_stop = tokio::time::sleep(Duration::MAX);
    tokio::pin!(hard_stop);
    let mut hard_stop_set = false;
    loop {
        tokio::select! {
            out = conn.as_mut() => return Some(out),
            _ = shutdown.wait_for(|s| *s), if !closing => {
                graceful_shutdown(conn.as_mut());
                closing = true;
            }
            _ = activity.idle_for(idle_timeout), if !closing => {
                tracing::debug!("closing a connection idle for {idle_timeout:?}");
                graceful_shutdown(conn.as_mut());
                closing = true;
                hard_stop.as_mut().reset(tokio::time::Instant::now() + idle_timeout);
                hard_stop_set = true;
            }
            _ = &mut hard_stop, if hard_stop_set => {
                tracing::debug!("dropping an idle connection that did not close when asked");
                return None;
            }
        }
    }
}

/// A response body that keeps its request counted as in flight until it is done.
pub struct CountedBody<B> {
    inner: B,
    _guard: RequestGuard,
}

impl<B> CountedBody<B> {
    /// Wraps `inner`, holding `guard` until the body is dropped.
    pub fn new(inner: B, guard: RequestGuard) -> Self {
        Self {
            inner,
            _guard: guard,
        }
    }
}

impl<B: http_body::Body + Unpin> http_body::Body for CountedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// What [`LimitedBody`] tells the server once the client sent more than allowed.
#[derive(Default)]
pub struct BodyLimitHit(std::sync::atomic::AtomicBool);

impl BodyLimitHit {
    /// Whether the body limit was exceeded.
    pub fn hit(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A request body that fails once it passes `limit` bytes, and says so in `hit`.
pub struct LimitedBody<B> {
    inner: B,
    left: u64,
    limit: u64,
    hit: Arc<BodyLimitHit>,
}

impl<B> LimitedBody<B> {
    /// Wraps `inner`, failing once more than `limit` bytes have been read and setting `hit`.
    pub fn new(inner: B, limit: u64, hit: Arc<BodyLimitHit>) -> Self {
        Self {
            inner,
            left: limit,
            limit,
            hit,
        }
    }
}

impl<B> http_body::Body for LimitedBody<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<wasmtime_wasi_http::Error>,
{
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let len = frame.data_ref().map_or(0, |d| d.len() as u64);
                if len > self.left {
                    self.hit.0.store(true, Ordering::SeqCst);
                    return Poll::Ready(Some(Err(wasmtime_wasi_http::Error::HttpRequestBodySize(
                        Some(self.limit),
                    ))));
                }
                self.left -= len;
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[test]
    fn connections_stay_inside_the_open_files_limit() {
        assert_eq!(default_max_connections(1024), 768);
        assert_eq!(default_max_connections(20_000), 19_744);
        // A tiny limit still lets a few clients in; a huge one is capped.
        assert_eq!(default_max_connections(100), 64);
        assert_eq!(default_max_connections(u64::MAX), 1 << 20);
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_is_idle_only_without_requests_and_for_the_whole_timeout() {
        let activity = Activity::new();
        let timeout = Duration::from_secs(10);
        let guard = activity.begin();
        assert_eq!(activity.idle_left(timeout), None);
        tokio::time::advance(Duration::from_secs(60)).await;
        drop(guard);
        // The clock restarts when the last request ends.
        let left = activity.idle_left(timeout).unwrap();
        assert!(left > Duration::from_secs(9), "{left:?}");
        let idle = tokio::time::timeout(Duration::from_secs(11), activity.idle_for(timeout));
        assert!(idle.await.is_ok());
    }

    #[tokio::test]
    async fn a_body_past_the_limit_fails_and_is_flagged() {
        let hit = Arc::new(BodyLimitHit::default());
        let body = http_body_util::Full::new(Bytes::from(vec![0u8; 11]))
            .map_err(|never| -> wasmtime_wasi_http::Error { match never {} });
        let limited = LimitedBody::new(body, 10, hit.clone());
        assert!(limited.collect().await.is_err());
        assert!(hit.hit());

        let hit = Arc::new(BodyLimitHit::default());
        let body = http_body_util::Full::new(Bytes::from(vec![0u8; 10]))
            .map_err(|never| -> wasmtime_wasi_http::Error { match never {} });
        let limited = LimitedBody::new(body, 10, hit.clone());
        assert_eq!(limited.collect().await.unwrap().to_bytes().len(), 10);
        assert!(!hit.hit());
    }
}
