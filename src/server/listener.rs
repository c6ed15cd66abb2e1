//! The TLS accept loop: every handshake and connection runs in its own task (a slow or hostile
//! client never holds up the others), at most `max_connections` at once. On stop, no new
//! connections are accepted, connections with no request in progress close at once, and the
//! others finish their in-flight requests within the drain timeout.

use super::accept::Acceptor;
use super::conn::{self, ConnContext};
use super::http::AppState;
use super::metrics::Metrics;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

#[derive(Debug, Clone, Copy)]
pub struct ConnSettings {
    pub handshake_timeout: Duration,
    /// HTTP/1: time allowed for a request's headers once they have started.
    pub header_timeout: Duration,
    /// A connection with no request in progress for this long is closed (from the end of the
    /// TLS handshake on, and between keep-alive requests).
    pub idle_timeout: Duration,
    /// How long to wait for in-flight requests once stopping.
    pub drain_timeout: Duration,
    pub max_connections: usize,
}

fn http_builder(s: &ConnSettings) -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(s.header_timeout)
        .keep_alive(true);
    b.http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(256)
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(10));
    b
}

/// Accept TLS connections and serve `app` on them until `stop` completes, then drain.
pub async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    app: Arc<AppState>,
    settings: ConnSettings,
    metrics: Arc<Metrics>,
    stop: impl Future<Output = ()>,
) {
    let (stop_conns, stop_rx) = watch::channel(false);
    let cx = ConnContext {
        acceptor,
        app,
        builder: http_builder(&settings),
        handshake_timeout: settings.handshake_timeout,
        idle_timeout: settings.idle_timeout,
        metrics: metrics.clone(),
        stop: stop_rx,
    };
    let mut accept = Acceptor::new(listener, settings.max_connections, metrics);
    let mut conns = JoinSet::new();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            (tcp, peer, slot) = accept.next() => {
                let _ = tcp.set_nodelay(true);
                conns.spawn(conn::serve(tcp, peer, cx.clone(), slot));
            }
            // Reap finished connections so the set stays as large as what is open.
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(accept);
    let _ = stop_conns.send(true);
    tracing::info!(
        connections = conns.len(),
        "stopped accepting; closing idle connections and finishing in-flight requests"
    );
    let drained = tokio::time::timeout(settings.drain_timeout, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            timeout_s = settings.drain_timeout.as_secs_f64(),
            remaining = conns.len(),
            "drain timed out; closing the remaining connections"
        );
        conns.shutdown().await;
    }
}
