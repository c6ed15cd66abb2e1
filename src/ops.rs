//! The plain-HTTP operations port that `serve` and `approve-csrs` share: `/healthz` (the process
//! answers), `/readyz` (200, or 503 with the reason) and `/metrics` (OpenMetrics text).
//!
//! It shares the process's file descriptors with the webhook, so a peer that connects and says
//! nothing must not be able to hold them: connections are capped, must send their request head
//! within a few seconds, and live a bounded time.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

/// Connections served at once: kubelet probes and a scraper or two need a handful.
pub const MAX_CONNECTIONS: usize = 32;
/// A peer must send its request head within this.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// A keep-alive connection is closed (gracefully) after this; the scraper reconnects.
const LIFETIME: Duration = Duration::from_secs(120);
const MAX_ACCEPT_PAUSE: Duration = Duration::from_secs(1);

pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What a command exposes on its operations port.
pub trait Probe: Send + Sync + 'static {
    /// `Ok` when ready, else why not.
    fn ready(&self) -> Result<(), &'static str>;
    /// The metrics, encoded as OpenMetrics text.
    fn metrics(&self) -> String;
}

pub fn router<P: Probe>(probe: Arc<P>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz::<P>))
        .route("/metrics", get(metrics_text::<P>))
        .with_state(probe)
}

async fn readyz<P: Probe>(State(p): State<Arc<P>>) -> Response {
    match p.ready() {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        )
            .into_response(),
    }
}

async fn metrics_text<P: Probe>(State(p): State<Arc<P>>) -> Response {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], p.metrics()).into_response()
}

/// Serve `app` on `listener` until `stop` completes, under the limits above; then the listener
/// closes and open connections finish their request and close.
pub async fn serve(listener: TcpListener, app: Router, stop: impl Future<Output = ()>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let (closing_tx, closing) = watch::channel(false);
    let mut pause = Duration::from_millis(5);
    tokio::pin!(stop);
    loop {
        // Wait for a free slot before accepting: extra peers wait in the kernel's backlog.
        let slot = tokio::select! {
            s = slots.clone().acquire_owned() => match s {
                Ok(s) => s,
                Err(_) => break,
            },
            () = &mut stop => break,
        };
        let tcp = tokio::select! {
            r = listener.accept() => match r {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    // Typically EMFILE: retry with a growing pause, not a busy loop.
                    tracing::debug!(error = %e, "operations port: accept failed");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_ACCEPT_PAUSE);
                    continue;
                }
            },
            () = &mut stop => break,
        };
        pause = Duration::from_millis(5);
        tokio::spawn(connection(tcp, app.clone(), slot, closing.clone()));
    }
    let _ = closing_tx.send(true);
}

async fn connection(
    tcp: TcpStream,
    app: Router,
    _slot: OwnedSemaphorePermit,
    mut closing: watch::Receiver<bool>,
) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    let conn = builder.serve_connection(TokioIo::new(tcp), TowerToHyperService::new(app));
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = tokio::time::sleep(LIFETIME) => {}
        _ = closing.wait_for(|c| *c) => {}
    }
    // Finish the request in progress, if any, then close.
    conn.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(HEADER_TIMEOUT, conn).await;
}
