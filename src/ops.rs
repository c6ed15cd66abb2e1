//! The plain-HTTP operations port that `serve` and `approve-csrs` share: `/healthz` (the process
//! answers), `/readyz` (200, or 503 with the reason) and `/metrics` (OpenMetrics text).

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;

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
