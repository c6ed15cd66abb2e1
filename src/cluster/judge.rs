//! The one place `scan` calls the engine: live objects and kubelet configurations go through
//! the same record building as `check` (`audit::audit_parsed`), then get cluster names.

use super::kubelet::Serving;
use super::probe::{Config, NodeProbe};
use crate::engine::policy::Policy;
use crate::engine::rules::{Component, RuleId, Status};
use crate::engine::{self, Target};
use crate::node::check as audit;
use crate::node::inputs::{Format, Item, Parsed};
use crate::report::Record;
use serde_json::{Value, json};

fn parsed(value: Value) -> Parsed {
    Parsed {
        format: Format::Json,
        items: vec![Item::Object {
            doc: 0,
            item: None,
            value,
        }],
    }
}

/// Records for a Pod or ConfigMap read from the API; nothing when it holds no control-plane
/// component, so a cluster's ordinary pods do not flood the report.
pub fn object(source: &str, value: Value, policy: &Policy) -> Vec<Record> {
    match engine::evaluate(&value, policy) {
        Ok(e) if e.target == Target::NotRelevant => Vec::new(),
        _ => audit::audit_parsed(source, &parsed(value), policy),
    }
}

/// Does this record say something real about `component` (not a skip)?
pub fn judged(records: &[Record], component: Component) -> bool {
    records
        .iter()
        .any(|r| r.component == Some(component) && r.status != Status::Skip)
}

pub fn record(
    source: &str,
    object: &str,
    kind: &str,
    rule: Option<RuleId>,
    status: Status,
    message: String,
) -> Record {
    Record {
        source: source.to_string(),
        object: object.to_string(),
        kind: kind.to_string(),
        component: rule.map(RuleId::component),
        location: String::new(),
        rule,
        controls: rule.map(|r| r.controls().to_vec()).unwrap_or_default(),
        status,
        message,
        remediation: None,
    }
}

/// No control-plane pod of `component` was visible: its rules skip, with the reason.
pub fn control_plane_skips(source: &str, component: Component, why: &str) -> Vec<Record> {
    component
        .rules()
        .iter()
        .map(|&rule| {
            record(
                source,
                "control-plane",
                "ControlPlane",
                Some(rule),
                Status::Skip,
                format!("no {component} pod visible ({why}): judge it where it runs (kubelet-tls-guard check --node on a control-plane node, or the provider's settings)"),
            )
        })
        .collect()
}

/// Every record for one node: its serving certificate, its live configuration, CSR notes.
pub fn node(source: &str, p: &NodeProbe, csr_note: Option<&str>, policy: &Policy) -> Vec<Record> {
    let object = format!("node/{}", p.endpoint.node);
    let rule = RuleId::KubeletServingCertVerified;
    let mut out = vec![match &p.serving {
        Serving::Verified(m) => {
            record(source, &object, "Node", Some(rule), Status::Pass, m.clone())
        }
        Serving::Rejected(m) => {
            let mut r = record(
                source,
                &object,
                "Node",
                Some(rule),
                Status::Fail,
                format!(
                    "{m}; kube-apiserver with --kubelet-certificate-authority would refuse this kubelet (kubectl logs/exec break)"
                ),
            );
            r.remediation = Some(
                "serverTLSBootstrap: true in the kubelet configuration, then approve its kubelet-serving CSR".into(),
            );
            r
        }
        Serving::Unreachable(m) => record(
            source,
            &object,
            "Node",
            Some(rule),
            Status::Error,
            m.clone(),
        ),
    }];
    if p.endpoint.host.is_some() {
        out[0].location = p.endpoint.authority();
    }
    let kubelet_rules = [
        RuleId::KubeletRotateServerCert,
        RuleId::KubeletServerTlsBootstrap,
    ];
    match &p.config {
        Config::Read { config, via } => {
            let mut cfg = config.clone();
            if let Some(m) = cfg.as_object_mut() {
                m.insert("kind".into(), json!("KubeletConfiguration"));
                m.entry("apiVersion")
                    .or_insert_with(|| json!("kubelet.config.k8s.io/v1beta1"));
            }
            for mut r in audit::audit_parsed(source, &parsed(cfg), policy) {
                r.object = object.clone();
                r.kind = "Node".into();
                if r.component == Some(Component::Kubelet) {
                    r.location = via.clone();
                    // configz already merges the flags: drop the "unless a flag overrides" caveat.
                    r.message = r
                        .message
                        .replace(" (unless a kubelet flag overrides this file)", "");
                }
                if r.rule == Some(RuleId::KubeletRotateServerCert) {
                    match p.metrics_gate {
                        Some(true) => r.message.push_str(
                            "; the kubelet's /metrics reports the gate enabled (its default), but strict requires it set explicitly",
                        ),
                        Some(false) => r
                            .message
                            .push_str("; the kubelet's /metrics reports the gate disabled"),
                        None => {}
                    }
                }
                out.push(r);
            }
        }
        Config::Failed(why) => {
            for rule in kubelet_rules {
                out.push(record(
                    source,
                    &object,
                    "Node",
                    Some(rule),
                    Status::Error,
                    why.clone(),
                ));
            }
        }
        Config::Skipped(why) => {
            for rule in kubelet_rules {
                out.push(record(
                    source,
                    &object,
                    "Node",
                    Some(rule),
                    Status::Skip,
                    why.clone(),
                ));
            }
        }
    }
    if let Some(note) = csr_note {
        for r in out
            .iter_mut()
            .filter(|r| r.component == Some(Component::Kubelet))
        {
            r.message.push_str("; ");
            r.message.push_str(note);
        }
    }
    out
}
