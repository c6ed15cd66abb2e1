//! The objects `apiserver_sources` sends: real upstream examples from tests/fixtures/sources
//! (Cluster API Hetzner provider, Kamaji sample), renamed into the test's namespace, and a
//! compliant variant of each with the missing settings added in the source's own form.

use serde_json::{Map, Value, json};
use std::path::Path;

const CA: &str = "apiserver-kubelet-ca";
const CM: &str = "controller-manager-rotate-kubelet-server-cert";
const KROT: &str = "kubelet-rotate-server-cert";
const KBOOT: &str = "kubelet-server-tls-bootstrap";

const CA_FLAG: &str = "kubelet-certificate-authority";
const GATES: &str = "feature-gates";
const ROTATE: &str = "rotate-server-certificates";

/// How a source writes one extra argument.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    /// `extraArgs: {flag: value}` (CAPI v1beta1).
    Map,
    /// `extraArgs: [{name: flag, value: v}]` (CAPI v1beta2).
    NameValue,
    /// `[--flag=value]` (Kamaji).
    Dashed,
}

impl Shape {
    /// Does the container at `at` have this shape and carry `flag` in it?
    pub fn holds(self, at: Option<&Value>, flag: &str) -> bool {
        match (self, at) {
            (Shape::Map, Some(Value::Object(m))) => m.get(flag).is_some_and(Value::is_string),
            (Shape::NameValue, Some(Value::Array(items))) => {
                items.iter().all(Value::is_object)
                    && items
                        .iter()
                        .any(|i| i["name"] == flag && i["value"].is_string())
            }
            (Shape::Dashed, Some(Value::Array(items))) => {
                items.iter().all(Value::is_string)
                    && items.iter().any(|i| {
                        i.as_str()
                            .is_some_and(|s| s.starts_with(&format!("--{flag}=")))
                    })
            }
            _ => false,
        }
    }

    fn add(self, container: &mut Value, flag: &str, value: &str) {
        match self {
            Shape::Map => {
                if !container.is_object() {
                    *container = Value::Object(Map::new());
                }
                container[flag] = json!(value);
            }
            Shape::NameValue | Shape::Dashed => {
                if !container.is_array() {
                    *container = json!([]);
                }
                let item = match self {
                    Shape::NameValue => json!({"name": flag, "value": value}),
                    _ => json!(format!("--{flag}={value}")),
                };
                if let Some(list) = container.as_array_mut() {
                    list.push(item);
                }
            }
        }
    }
}

pub struct Case {
    pub label: String,
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    pub name: String,
    /// The upstream example: fails the rules in `failing`.
    pub bad: Value,
    /// The same with every failing setting added.
    pub good: Value,
    pub failing: Vec<&'static str>,
    /// (args container, its shape, a flag a fix must leave there).
    pub fixed: Vec<(String, Shape, &'static str)>,
}

impl Case {
    /// `PLURAL.VERSION.GROUP`: kubectl reads the object in the version it was written in.
    pub fn resource(&self) -> String {
        format!("{}.{}.{}", self.plural, self.version, self.group)
    }
}

fn fixture(rel: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sources")
        .join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{rel}: {e}"));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn value_for(flag: &str) -> &'static str {
    match flag {
        CA_FLAG => "/etc/kubernetes/pki/ca.crt",
        GATES => "RotateKubeletServerCertificate=true",
        _ => "true",
    }
}

#[allow(clippy::too_many_arguments)]
fn case(
    label: &str,
    (group, version, plural): (&'static str, &'static str, &'static str),
    mut obj: Value,
    ns: &str,
    tag: &str,
    failing: Vec<&'static str>,
    fixed: Vec<(&str, Shape, &'static str)>,
) -> Case {
    // Upstream templates carry `${CLUSTER_NAME}` names: a valid, unique name replaces them.
    let name = format!(
        "{}-{tag}",
        label
            .to_lowercase()
            .replace(|c: char| !c.is_ascii_alphanumeric(), "-")
    );
    obj["apiVersion"] = json!(format!("{group}/{version}"));
    obj["metadata"] = json!({"name": name, "namespace": ns});
    let mut good = obj.clone();
    for (pointer, shape, flag) in &fixed {
        let mut at = &mut good;
        for token in pointer.split('/').skip(1) {
            if !at.is_object() {
                *at = Value::Object(Map::new());
            }
            at = &mut at[token];
        }
        shape.add(at, flag, value_for(flag));
    }
    Case {
        label: label.to_string(),
        group,
        version,
        plural,
        name,
        bad: obj,
        good,
        failing,
        fixed: fixed
            .into_iter()
            .map(|(p, s, f)| (p.to_string(), s, f))
            .collect(),
    }
}

const KCP: (&str, &str) = ("controlplane.cluster.x-k8s.io", "kubeadmcontrolplanes");
const BOOT: &str = "bootstrap.cluster.x-k8s.io";

/// Every case, its objects in namespace `ns`, names ending in `tag`.
pub fn cases(ns: &str, tag: &str) -> Vec<Case> {
    let cc = "/spec/kubeadmConfigSpec/clusterConfiguration";
    let init = "/spec/kubeadmConfigSpec/initConfiguration/nodeRegistration/kubeletExtraArgs";
    let join = "/spec/kubeadmConfigSpec/joinConfiguration/nodeRegistration/kubeletExtraArgs";
    let api = format!("{cc}/apiServer/extraArgs");
    let cm = format!("{cc}/controllerManager/extraArgs");
    let tjoin = "/spec/template/spec/joinConfiguration/nodeRegistration/kubeletExtraArgs";
    let cjoin = "/spec/joinConfiguration/nodeRegistration/kubeletExtraArgs";
    let kct1 = fixture("capi/hetzner-kct-md-0.v1beta1.yaml");
    let kct2 = fixture("capi/hetzner-kct-md-0.v1beta2.yaml");
    // A KubeadmConfig is what Cluster API stamps out of a template for one machine.
    let config_of = |t: &Value| {
        let mut c = t.clone();
        c["kind"] = json!("KubeadmConfig");
        c["spec"] = t["spec"]["template"]["spec"].clone();
        c
    };
    use Shape::*;
    vec![
        case(
            "KCP v1beta1",
            (KCP.0, "v1beta1", KCP.1),
            fixture("capi/hetzner-hcloud-kcp.v1beta1.yaml"),
            ns,
            tag,
            vec![CA, CM, KROT],
            vec![
                (&api, Map, CA_FLAG),
                (&cm, Map, GATES),
                (init, Map, GATES),
                (join, Map, GATES),
            ],
        ),
        case(
            "KCP v1beta2",
            (KCP.0, "v1beta2", KCP.1),
            fixture("capi/hetzner-hcloud-kcp.v1beta2.yaml"),
            ns,
            tag,
            vec![CA, CM, KROT, KBOOT],
            vec![
                (&api, NameValue, CA_FLAG),
                (&cm, NameValue, GATES),
                (init, NameValue, GATES),
                (init, NameValue, ROTATE),
                (join, NameValue, GATES),
                (join, NameValue, ROTATE),
            ],
        ),
        case(
            "KCT v1beta1",
            (BOOT, "v1beta1", "kubeadmconfigtemplates"),
            kct1.clone(),
            ns,
            tag,
            vec![KROT],
            vec![(tjoin, Map, GATES)],
        ),
        case(
            "KCT v1beta2",
            (BOOT, "v1beta2", "kubeadmconfigtemplates"),
            kct2.clone(),
            ns,
            tag,
            vec![KROT],
            vec![(tjoin, NameValue, GATES)],
        ),
        case(
            "KC v1beta1",
            (BOOT, "v1beta1", "kubeadmconfigs"),
            config_of(&kct1),
            ns,
            tag,
            vec![KROT],
            vec![(cjoin, Map, GATES)],
        ),
        case(
            "KC v1beta2",
            (BOOT, "v1beta2", "kubeadmconfigs"),
            config_of(&kct2),
            ns,
            tag,
            vec![KROT],
            vec![(cjoin, NameValue, GATES)],
        ),
        case(
            "TCP v1alpha1",
            ("kamaji.clastix.io", "v1alpha1", "tenantcontrolplanes"),
            fixture("kamaji/tenantcontrolplane.sample.yaml"),
            ns,
            tag,
            vec![CA, CM],
            vec![
                (
                    "/spec/controlPlane/deployment/extraArgs/apiServer",
                    Dashed,
                    CA_FLAG,
                ),
                (
                    "/spec/controlPlane/deployment/extraArgs/controllerManager",
                    Dashed,
                    GATES,
                ),
            ],
        ),
    ]
}
