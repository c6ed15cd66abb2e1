//! Prometheus counters of the approver and its operations port (`/metrics`, `/healthz`,
//! `/readyz`). Label values come from fixed sets (decision, check reason): bounded cardinality.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    /// `approved`, `denied`, `pending` or `error`.
    pub decision: &'static str,
    /// The check that failed, `AllChecksPassed`, `NodeNotFound`, or the kind of error.
    pub reason: &'static str,
    pub dry_run: &'static str,
}

pub struct Metrics {
    registry: Registry,
    pub decisions: Family<DecisionLabels, Counter>,
    pub conflicts: Counter,
    pub leader: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("kubelet_tls_guard");
        let decisions = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "csr_decisions",
            "kubelet-serving CSR decisions by decision and reason (dry_run=\"true\": not written)",
            decisions.clone(),
        );
        let conflicts = Counter::default();
        registry.register(
            "csr_write_conflicts",
            "Approval writes refused with 409 Conflict (the CSR was re-read and judged again)",
            conflicts.clone(),
        );
        let leader = Gauge::default();
        registry.register(
            "csr_approver_leader",
            "Whether this replica holds the approver Lease and decides (always 1 without leader election)",
            leader.clone(),
        );
        Metrics {
            registry,
            decisions,
            conflicts,
            leader,
        }
    }

    pub fn count(&self, decision: &'static str, reason: &'static str, dry_run: bool) {
        self.decisions
            .get_or_create(&DecisionLabels {
                decision,
                reason,
                dry_run: if dry_run { "true" } else { "false" },
            })
            .inc();
    }

    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(4096);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Ready once the approver runs (as leader or as a standby replica); not while shutting down.
#[derive(Debug, Default)]
pub struct Health {
    running: AtomicBool,
    draining: AtomicBool,
}

impl Health {
    pub fn set_running(&self) {
        self.running.store(true, Ordering::SeqCst);
    }

    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn ready(&self) -> Result<(), &'static str> {
        if self.draining.load(Ordering::SeqCst) {
            Err("shutting down")
        } else if !self.running.load(Ordering::SeqCst) {
            Err("starting")
        } else {
            Ok(())
        }
    }
}

struct Ops {
    health: Arc<Health>,
    metrics: Arc<Metrics>,
}

impl crate::ops::Probe for Ops {
    fn ready(&self) -> Result<(), &'static str> {
        self.health.ready()
    }
    fn metrics(&self) -> String {
        self.metrics.encode()
    }
}

pub fn router(health: Arc<Health>, metrics: Arc<Metrics>) -> axum::Router {
    crate::ops::router(Arc::new(Ops { health, metrics }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_decision_and_reason() {
        let m = Metrics::new();
        m.count("denied", "SANNotNodeAddress", false);
        m.count("denied", "SANNotNodeAddress", false);
        m.count("approved", "AllChecksPassed", true);
        let text = m.encode();
        assert!(
            text.contains("kubelet_tls_guard_csr_decisions_total{decision=\"denied\",reason=\"SANNotNodeAddress\",dry_run=\"false\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("kubelet_tls_guard_csr_decisions_total{decision=\"approved\",reason=\"AllChecksPassed\",dry_run=\"true\"} 1"),
            "{text}"
        );
    }

    #[test]
    fn readiness_follows_state() {
        let h = Health::default();
        assert_eq!(h.ready(), Err("starting"));
        h.set_running();
        assert_eq!(h.ready(), Ok(()));
        h.set_draining();
        assert_eq!(h.ready(), Err("shutting down"));
    }
}
