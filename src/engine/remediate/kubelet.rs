//! KubeletConfiguration fields: the gate under `featureGates` and `serverTLSBootstrap`.

use super::ops::{add, replace};
use super::{Remediation, note_fixed};
use crate::engine::rules::{CONFIG_BOOTSTRAP, CONFIG_GATES, GATE, RuleId};
use json_patch::PatchOperation;
use serde_json::{Value, json};

/// The operations on a KubeletConfiguration document that make `rules` pass.
pub(super) fn config(cfg: &Value, rules: &[RuleId], out: &mut Remediation) -> Vec<PatchOperation> {
    let mut ops = Vec::new();
    for rule in rules {
        match rule {
            RuleId::KubeletRotateServerCert => match cfg.get(CONFIG_GATES) {
                Some(Value::Object(g)) if g.contains_key(GATE) => {
                    ops.push(replace(&format!("/featureGates/{GATE}"), json!(true)))
                }
                Some(Value::Object(_)) => {
                    ops.push(add(&format!("/featureGates/{GATE}"), json!(true)))
                }
                Some(_) => ops.push(replace("/featureGates", json!({GATE: true}))),
                None => ops.push(add("/featureGates", json!({GATE: true}))),
            },
            RuleId::KubeletServerTlsBootstrap => match cfg.get(CONFIG_BOOTSTRAP) {
                Some(_) => ops.push(replace("/serverTLSBootstrap", json!(true))),
                None => ops.push(add("/serverTLSBootstrap", json!(true))),
            },
            _ => continue,
        }
        note_fixed(*rule, out);
    }
    ops
}
