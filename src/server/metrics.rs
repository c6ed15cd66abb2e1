//! Prometheus metrics (OpenMetrics text on the operations port).
//!
//! Every label value is a `&'static str` from a small fixed set: bounded cardinality, and no
//! allocation on the request path.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::hash::{Hash, Hasher};

#[derive(Debug, Clone, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub endpoint: &'static str,
    pub kind: &'static str,
    pub decision: &'static str,
    pub dry_run: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, EncodeLabelSet)]
pub struct RuleLabels {
    pub endpoint: &'static str,
    pub rule: &'static str,
    pub result: &'static str,
    pub mode: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    pub endpoint: &'static str,
}

/// A label set's hash: each value's length and first and last bytes, folded into one word.
/// Equal sets hash equal, as `Hash` requires, and `Eq` tells apart the rare values that share
/// these. The derived hash fed every byte of every value to the family's SipHash, about 700
/// instructions per lookup, and each admission request looks up three series or more.
fn fold(values: &[&str]) -> u64 {
    values.iter().fold(0, |hash: u64, value| {
        let b = value.as_bytes();
        let ends = u64::from(b.first().copied().unwrap_or(0)) << 8
            | u64::from(b.last().copied().unwrap_or(0));
        hash.rotate_left(24) ^ (b.len() as u64) << 16 ^ ends
    })
}

impl Hash for RequestLabels {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(fold(&[
            self.endpoint,
            self.kind,
            self.decision,
            self.dry_run,
        ]));
    }
}

impl Hash for RuleLabels {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(fold(&[self.endpoint, self.rule, self.result, self.mode]));
    }
}

impl Hash for EndpointLabels {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(fold(&[self.endpoint]));
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MirrorLabels {
    pub rule: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CloseLabels {
    pub reason: &'static str,
}

fn latency_histogram() -> Histogram {
    // 100 µs .. ~3.3 s: decisions take well under a millisecond; the API server times out at 10 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

/// All metrics of one server. Cheap to share behind an `Arc`; updates are atomic.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub rule_results: Family<RuleLabels, Counter>,
    pub latency: Family<EndpointLabels, Histogram, fn() -> Histogram>,
    pub mirror_pod_reports: Family<MirrorLabels, Counter>,
    pub cert_not_after: Gauge,
    pub cert_reloads: Counter,
    pub cert_reload_failures: Counter,
    pub tls_handshake_failures: Counter,
    pub decision_timeouts: Family<EndpointLabels, Counter>,
    pub connections_open: Gauge,
    pub connections_closed: Family<CloseLabels, Counter>,
    pub connection_limit_reached: Counter,
    pub accept_errors: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("kubelet_tls_guard");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "admission_requests",
            "Admission requests by endpoint, object kind and decision (bad requests: kind=\"none\")",
            requests.clone(),
        );
        let rule_results = Family::<RuleLabels, Counter>::default();
        registry.register(
            "rule_results",
            "Rule evaluations by rule, result (pass, fail, warn, skip, error) and the rule's mode",
            rule_results.clone(),
        );
        let latency = Family::<EndpointLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "admission_duration_seconds",
            "Time from the complete request body to the response, by endpoint",
            latency.clone(),
        );
        let mirror_pod_reports = Family::<MirrorLabels, Counter>::default();
        registry.register(
            "mirror_pod_violations",
            "Rule violations on mirror pods (reported, never patched; fix the static pod on the node)",
            mirror_pod_reports.clone(),
        );
        let cert_not_after = Gauge::default();
        registry.register(
            "certificate_not_after_timestamp_seconds",
            "notAfter of the serving certificate in use, as a Unix timestamp",
            cert_not_after.clone(),
        );
        let cert_reloads = Counter::default();
        registry.register(
            "certificate_reloads",
            "Serving certificate reloads after the files changed",
            cert_reloads.clone(),
        );
        let cert_reload_failures = Counter::default();
        registry.register(
            "certificate_reload_failures",
            "Changed certificate files that could not be loaded (the previous certificate stays)",
            cert_reload_failures.clone(),
        );
        let tls_handshake_failures = Counter::default();
        registry.register(
            "tls_handshake_failures",
            "TLS handshakes that failed or timed out (e.g. a client without an accepted certificate)",
            tls_handshake_failures.clone(),
        );
        let decision_timeouts = Family::<EndpointLabels, Counter>::default();
        registry.register(
            "decision_timeouts",
            "Admission decisions not finished within --decision-timeout (answered per failure policy)",
            decision_timeouts.clone(),
        );
        let connections_open = Gauge::default();
        registry.register(
            "connections_open",
            "Open webhook connections, including those still in the TLS handshake",
            connections_open.clone(),
        );
        let connections_closed = Family::<CloseLabels, Counter>::default();
        registry.register(
            "connections_closed_by_server",
            "Connections the server closed with no request in progress (reason: idle, shutdown)",
            connections_closed.clone(),
        );
        let connection_limit_reached = Counter::default();
        registry.register(
            "connection_limit_reached",
            "Times new connections had to wait because --max-connections were open",
            connection_limit_reached.clone(),
        );
        let accept_errors = Counter::default();
        registry.register(
            "accept_errors",
            "Failed accepts on the webhook port (e.g. out of file descriptors)",
            accept_errors.clone(),
        );
        Metrics {
            registry,
            decision_timeouts,
            connections_open,
            connections_closed,
            connection_limit_reached,
            accept_errors,
            requests,
            rule_results,
            latency,
            mirror_pod_reports,
            cert_not_after,
            cert_reloads,
            cert_reload_failures,
            tls_handshake_failures,
        }
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(8 * 1024);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_sets_equal_by_value_share_a_series() {
        let m = Metrics::new();
        let labels = |endpoint: &'static str, decision: &'static str| RequestLabels {
            endpoint,
            kind: "Pod",
            decision,
            dry_run: "false",
        };
        // The same values at another address, and values with the same length and ends.
        let copy: &'static str = String::from("validate").leak();
        m.requests
            .get_or_create(&labels("validate", "denied"))
            .inc();
        m.requests.get_or_create(&labels(copy, "denied")).inc();
        m.requests
            .get_or_create(&labels("validate", "dashed"))
            .inc();
        m.requests.get_or_create(&labels("violate", "denied")).inc();
        let text = m.encode();
        let count = |endpoint: &str, decision: &str| {
            let series = format!(
                "kubelet_tls_guard_admission_requests_total{{endpoint=\"{endpoint}\",kind=\"Pod\",decision=\"{decision}\",dry_run=\"false\"}} "
            );
            let lines: Vec<&str> = text.lines().filter(|l| l.starts_with(&series)).collect();
            assert_eq!(lines.len(), 1, "{series} in {text}");
            lines[0][series.len()..].to_string()
        };
        assert_eq!(count("validate", "denied"), "2");
        assert_eq!(count("validate", "dashed"), "1");
        assert_eq!(count("violate", "denied"), "1");
    }

    #[test]
    fn encodes_every_family() {
        let m = Metrics::new();
        m.requests
            .get_or_create(&RequestLabels {
                endpoint: "validate",
                kind: "Pod",
                decision: "denied",
                dry_run: "false",
            })
            .inc();
        m.latency
            .get_or_create(&EndpointLabels {
                endpoint: "validate",
            })
            .observe(0.0002);
        m.cert_not_after.set(1_900_000_000);
        let text = m.encode();
        assert!(text.contains(
            "kubelet_tls_guard_admission_requests_total{endpoint=\"validate\",kind=\"Pod\",decision=\"denied\",dry_run=\"false\"} 1"
        ), "{text}");
        assert!(
            text.contains(
                "kubelet_tls_guard_admission_duration_seconds_count{endpoint=\"validate\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("kubelet_tls_guard_certificate_not_after_timestamp_seconds 1900000000"),
            "{text}"
        );
        assert!(
            text.contains("kubelet_tls_guard_certificate_reload_failures_total 0"),
            "{text}"
        );
        assert!(text.trim_end().ends_with("# EOF"));
    }
}
