//! The operations port (plain HTTP): `/healthz`, `/readyz`, `/metrics`.

use super::metrics::Metrics;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Readiness: a certificate is loaded and the server is not draining.
#[derive(Debug, Default)]
pub struct Health {
    cert_loaded: AtomicBool,
    draining: AtomicBool,
}

impl Health {
    pub fn set_cert_loaded(&self) {
        self.cert_loaded.store(true, Ordering::SeqCst);
    }

    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// `Ok` when ready, else why not.
    pub fn ready(&self) -> Result<(), &'static str> {
        if self.draining.load(Ordering::SeqCst) {
            Err("draining: shutting down")
        } else if !self.cert_loaded.load(Ordering::SeqCst) {
            Err("no serving certificate loaded yet")
        } else {
            Ok(())
        }
    }
}

struct OpsState {
    health: Arc<Health>,
    metrics: Arc<Metrics>,
}

impl crate::ops::Probe for OpsState {
    fn ready(&self) -> Result<(), &'static str> {
        self.health.ready()
    }
    fn metrics(&self) -> String {
        self.metrics.encode()
    }
}

pub fn router(health: Arc<Health>, metrics: Arc<Metrics>) -> axum::Router {
    crate::ops::router(Arc::new(OpsState { health, metrics }))
}
