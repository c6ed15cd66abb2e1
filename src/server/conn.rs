//! One webhook connection, from the TLS handshake to its close.
//!
//! hyper bounds a request's headers only once its first byte has arrived, and nothing bounds a
//! connection that completed TLS and then says nothing, or an HTTP/2 connection between
//! requests. So each connection counts its requests in progress, and a connection with none for
//! the idle timeout (from the end of the handshake, or from the end of its last request) is
//! closed. On shutdown, a connection with no request in progress is closed at once; one with a
//! request finishes it first.

use super::http::{AppState, route};
use super::metrics::{CloseLabels, Metrics};
use hyper::service::service_fn;
use hyper_util::rt::TokioExecutor;
use hyper_util::rt::TokioIo;
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, watch};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

/// Requests in progress on one connection. Counted with atomics rather than a channel: a
/// request must not wake the idle timer (that re-armed a timer twice per request, a few per
/// cent of a request's CPU under load); the timer looks at the count when it fires instead.
#[derive(Debug)]
pub struct Activity {
    /// What `since` counts from.
    base: Instant,
    in_flight: AtomicUsize,
    /// When `in_flight` last changed (or the connection became ready): nanoseconds after `base`.
    since: AtomicU64,
}

/// Held while a request is in progress.
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        // `since` first: whoever sees the count fall to zero also sees when it did.
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Activity {
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            base: Instant::now(),
            in_flight: AtomicUsize::new(0),
            since: AtomicU64::new(0),
        })
    }

    fn touch(&self) {
        let nanos = u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.since.store(nanos, Ordering::Release);
    }

    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.touch();
        InFlight(self.clone())
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Completes once no request has been in progress for `limit`. It wakes only at deadlines:
    /// while a request is in progress it looks again `limit` later, and when none is, at
    /// `limit` after the last one ended, so a connection idle for `limit` is closed on time.
    pub async fn idle_for(&self, limit: Duration) {
        loop {
            let now = Instant::now();
            let deadline = if self.in_flight() > 0 {
                now + limit
            } else {
                let since = self.base + Duration::from_nanos(self.since.load(Ordering::Acquire));
                let deadline = since + limit;
                if now >= deadline {
                    return;
                }
                deadline
            };
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// What every connection shares.
#[derive(Clone)]
pub struct ConnContext {
    pub acceptor: TlsAcceptor,
    pub app: Arc<AppState>,
    pub builder: auto::Builder<TokioExecutor>,
    pub handshake_timeout: Duration,
    pub idle_timeout: Duration,
    pub metrics: Arc<Metrics>,
    /// Becomes `true` when the server stops.
    pub stop: watch::Receiver<bool>,
}

/// Open connections, for the gauge: counted from accept to close.
struct Open(Arc<Metrics>);

impl Open {
    fn new(m: &Arc<Metrics>) -> Open {
        m.connections_open.inc();
        Open(m.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.connections_open.dec();
    }
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    // An error means the sender is gone, which also means stop.
    let _ = stop.wait_for(|s| *s).await;
}

/// Serve one accepted TCP connection; `_slot` is its place under the connection limit.
pub async fn serve(tcp: TcpStream, peer: SocketAddr, cx: ConnContext, _slot: OwnedSemaphorePermit) {
    let _open = Open::new(&cx.metrics);
    let mut stop = cx.stop.clone();
    let handshake = tokio::time::timeout(cx.handshake_timeout, cx.acceptor.accept(tcp));
    let tls = tokio::select! {
        r = handshake => match r {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                cx.metrics.tls_handshake_failures.inc();
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                cx.metrics.tls_handshake_failures.inc();
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        },
        // A handshake in progress is not a request: shutdown does not wait for it.
        _ = stopped(&mut stop) => return,
    };
    let activity = Activity::new();
    let service = {
        let activity = activity.clone();
        let app = cx.app.clone();
        service_fn(move |req| {
            let in_flight = activity.begin();
            let app = app.clone();
            async move {
                let answer = route(&app, req).await;
                drop(in_flight);
                Ok::<_, Infallible>(answer)
            }
        })
    };
    let conn = cx.builder.serve_connection(TokioIo::new(tls), service);
    tokio::pin!(conn);
    let reason = tokio::select! {
        ended = conn.as_mut() => {
            if let Err(e) = ended {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            return;
        }
        _ = activity.idle_for(cx.idle_timeout) => "idle",
        _ = stopped(&mut stop) => "shutdown",
    };
    if activity.in_flight() == 0 {
        // Nothing to finish: dropping the connection closes it now.
        cx.metrics
            .connections_closed
            .get_or_create(&CloseLabels { reason })
            .inc();
        tracing::debug!(%peer, reason, "closing a connection with no request in progress");
        return;
    }
    // A request is in progress: let it finish, then close (HTTP/2: GOAWAY).
    conn.as_mut().graceful_shutdown();
    if let Err(e) = conn.await {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}
