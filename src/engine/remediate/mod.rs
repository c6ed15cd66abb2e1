//! RFC 6902 patches that make a subject pass (DESIGN.md section 3): explicit operations on the
//! object as received, touching only what must change. Flags go where the component's flags
//! already are; a gate set to false is flipped in place; embedded YAML is edited as text.

mod argv;
mod declared;
mod flagfile;
mod kubeadm;
mod kubelet;
mod nested;
mod ops;
mod volumes;

use crate::engine::policy::Policy;
use crate::engine::read::subjects::{Settings, Subject, parse_embedded};
use crate::engine::read::tree::Node;
use crate::engine::rules::{CA_FLAG, CERT_FLAG, GATE, GATES_FLAG, KEY_FLAG, ROTATE_FLAG};
use crate::engine::rules::{Finding, RuleId};
use json_patch::PatchOperation;
use ops::replace;
use serde_json::Value;
use std::collections::BTreeMap;

pub use flagfile::flag_file_edits;

/// The warning every patch that adds the kubelet CA flag carries (kept under 256 characters).
pub const CA_WARNING: &str = "adding --kubelet-certificate-authority breaks kubectl logs/exec/port-forward unless every kubelet serves a certificate signed by that CA (serverTLSBootstrap: true + approved kubelet-serving CSRs)";

/// The remediation of one object: RFC 6902 operations against the object exactly as given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Remediation {
    pub patch: Vec<json_patch::PatchOperation>,
    /// Rules whose violation the patch fixes.
    pub fixed: Vec<RuleId>,
    /// Rules that fall short but cannot be patched here, with the reason.
    pub not_remediable: Vec<(RuleId, String)>,
    /// Things the operator must know about the patch (e.g. the CA flag needs serving certs).
    pub warnings: Vec<String>,
}

/// Operations collected across subjects; edits to one embedded document are applied together.
#[derive(Default)]
pub struct Plan {
    ops: Vec<PatchOperation>,
    /// Per embedded document (its pointer), the operations on it.
    embedded: BTreeMap<String, Vec<PatchOperation>>,
    declared: declared::Pendings,
    /// The volumes added to each pod spec, shared by its containers.
    volumes: volumes::Added,
}

impl Plan {
    /// Turn the plan into operations on `obj`. Embedded YAML is edited in place as text
    /// (comments kept); where that is impossible it is re-serialised.
    pub fn finish<N: Node>(mut self, obj: &N, out: &mut Remediation) {
        // Pending only where `subject` had the `Value` (`Node::as_value`).
        if let Some(obj) = obj.as_value() {
            for (doc, ops) in std::mem::take(&mut self.declared).finish(obj) {
                match doc {
                    None => self.ops.extend(ops),
                    Some(p) => self.embedded.entry(p).or_default().extend(ops),
                }
            }
        }
        out.patch.extend(self.ops);
        for (pointer, ops) in self.embedded {
            let Some(text) = obj.at(&pointer).and_then(Node::text) else {
                continue;
            };
            let new_text = match edit_text(text, &ops) {
                Ok(t) => t,
                Err(_) => {
                    // The whole document: a subject may hold only the fields the engine reads.
                    let Ok(mut v) = parse_embedded(text) else {
                        continue;
                    };
                    if json_patch::patch(&mut v, &ops).is_err() {
                        continue;
                    }
                    match serde_yaml_ng::to_string(&v) {
                        Ok(t) => t,
                        Err(_) => continue,
                    }
                }
            };
            out.patch.push(replace(&pointer, Value::String(new_text)));
        }
    }
}

/// Add to `plan` the operations that fix `due` (the violations of `subject` that are selected).
pub fn subject<N: Node>(
    obj: &N,
    subject: &Subject,
    due: &[&Finding],
    policy: &Policy,
    plan: &mut Plan,
    out: &mut Remediation,
) {
    let rules: Vec<RuleId> = due.iter().map(|f| f.rule).collect();
    match &subject.settings {
        Settings::Container {
            pointer,
            invocation,
        } => {
            let ops = argv::container(
                obj,
                pointer,
                invocation,
                &rules,
                policy,
                &mut plan.volumes,
                out,
            );
            plan.ops.extend(ops);
        }
        Settings::KubeletConfig {
            embedded,
            config: Ok(cfg),
        } => {
            let ops = kubelet::config(cfg, &rules, out);
            stage(plan, embedded.as_deref(), ops);
        }
        Settings::KubeletConfig { config: Err(_), .. } => {}
        Settings::Kubeadm(k) => {
            let ops = kubeadm::extra_args(k, &rules, policy, out);
            stage(plan, k.embedded.as_deref(), ops);
        }
        // Declared settings are read from a config object, which is always a `Value`
        // (`subjects::extract_config`); a pod, which may be a tree, has none.
        Settings::Declared(d) => {
            if let Some(obj) = obj.as_value() {
                declared::subject(obj, d, &rules, policy, &mut plan.declared, out)
            }
        }
    }
}

pub(super) fn note_fixed(rule: RuleId, out: &mut Remediation) {
    if !out.fixed.contains(&rule) {
        out.fixed.push(rule);
    }
    if rule == RuleId::ApiserverKubeletCa && !out.warnings.iter().any(|w| w == CA_WARNING) {
        out.warnings.push(CA_WARNING.to_string());
    }
}

fn stage(plan: &mut Plan, embedded: Option<&str>, ops: Vec<PatchOperation>) {
    if ops.is_empty() {
        return;
    }
    match embedded {
        None => plan.ops.extend(ops),
        Some(p) => plan.embedded.entry(p.to_string()).or_default().extend(ops),
    }
}

/// The flags (name, value) a rule needs.
pub(super) fn wanted_flags(rule: RuleId, policy: &Policy) -> Vec<(&'static str, String)> {
    let r = &policy.remediation;
    match rule {
        RuleId::ApiserverKubeletCa => vec![(CA_FLAG, r.kubelet_certificate_authority.clone())],
        RuleId::ApiserverKubeletClientCert => vec![
            (CERT_FLAG, r.kubelet_client_certificate.clone()),
            (KEY_FLAG, r.kubelet_client_key.clone()),
        ],
        RuleId::ControllerManagerRotateKubeletServerCert | RuleId::KubeletRotateServerCert => {
            vec![(GATES_FLAG, format!("{GATE}=true"))]
        }
        RuleId::KubeletServerTlsBootstrap => vec![(ROTATE_FLAG, "true".into())],
        // No flag makes a kubelet serve a verifiable certificate: CSR approval does.
        RuleId::KubeletServingCertVerified => Vec::new(),
    }
}

/// Edit embedded YAML in place (comments and layout kept).
fn edit_text(text: &str, ops: &[PatchOperation]) -> Result<String, String> {
    edit_doc(text, 0, ops)
}

/// Apply `ops` to document `doc` of a YAML/JSON text, editing only the spans that change.
pub fn edit_doc(text: &str, doc: usize, ops: &[PatchOperation]) -> Result<String, String> {
    crate::yamledit::edit_doc(text, doc, ops)
}

#[cfg(test)]
mod tests {
    use crate::engine;
    use crate::engine::policy::Policy;
    use serde_json::json;

    #[test]
    fn kubeadm_list_entry_without_value_gets_one_added() {
        // A v1beta4 extraArgs entry with a name but no `value`: `replace .../value` would not apply.
        let obj = json!({
            "apiVersion": "kubeadm.k8s.io/v1beta4",
            "kind": "ClusterConfiguration",
            "controllerManager": {"extraArgs": [{"name": "feature-gates"}]}
        });
        let policy = Policy::default();
        let rem = engine::remediate(&obj, &policy, &|_| true).unwrap();
        assert!(!rem.patch.is_empty());
        let mut patched = obj.clone();
        json_patch::patch(&mut patched, &rem.patch).unwrap();
        assert_eq!(
            patched["controllerManager"]["extraArgs"][0]["value"],
            "RotateKubeletServerCertificate=true"
        );
        let again = engine::remediate(&patched, &policy, &|_| true).unwrap();
        assert!(again.patch.is_empty(), "{:?}", again.patch);
    }

    /// The engine holds only the fields it reads of a kubelet-config's document; a patch that
    /// cannot edit the text in place (here an alias shares the edited mapping) re-serialises the
    /// whole document, every other field kept.
    #[test]
    fn a_re_serialised_kubelet_config_keeps_every_field() {
        let text = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n\
            cgroupDriver: systemd\nfeatureGates: &gates\n  SomeGate: true\n\
            shadow: *gates\nstaticPodPath: /etc/kubernetes/manifests\n";
        let obj = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "kubelet-config", "namespace": "kube-system"},
            "data": {"kubelet": text}});
        let rem = engine::remediate(&obj, &Policy::default(), &|_| true).unwrap();
        let mut patched = obj.clone();
        json_patch::patch(&mut patched, &rem.patch).unwrap();
        let new_text = patched["data"]["kubelet"].as_str().unwrap();
        assert!(!new_text.contains('&'), "edited in place:\n{new_text}");
        let doc: serde_json::Value = serde_yaml_ng::from_str(new_text).unwrap();
        assert_eq!(doc["featureGates"]["RotateKubeletServerCertificate"], true);
        assert_eq!(doc["serverTLSBootstrap"], true);
        assert_eq!(doc["cgroupDriver"], "systemd");
        assert_eq!(doc["staticPodPath"], "/etc/kubernetes/manifests");
        assert_eq!(doc["shadow"]["SomeGate"], true);
    }
}
