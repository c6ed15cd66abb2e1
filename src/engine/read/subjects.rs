//! Find what the rules look at inside an object: the component invocations of a pod (or pod
//! template), a KubeletConfiguration, or kubeadm's extraArgs. Parsing only; no verdicts here.

use crate::engine::read::component::{self, Invocation};
use crate::engine::read::flags::{Flags, Origin, Token};
use crate::engine::read::tree::Node;
use crate::engine::rules::{CONFIG_BOOTSTRAP, CONFIG_GATES, Component};
use serde_json::Value;
use std::sync::Arc;

/// One component found in an object, with where its settings live.
#[derive(Debug, Clone, PartialEq)]
pub struct Subject<'a> {
    pub component: Component,
    /// Container name, or the place in the object (`data.kubelet`, `apiServer.extraArgs`).
    pub location: String,
    pub settings: Settings<'a>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Settings<'a> {
    /// A container running the component; `pointer` is the container's JSON pointer.
    Container {
        pointer: String,
        invocation: Invocation<'a>,
    },
    /// A KubeletConfiguration: the document itself (`embedded: None`) or a YAML string at
    /// `embedded` (a ConfigMap key). `config` is `Err` when that string does not parse.
    KubeletConfig {
        embedded: Option<String>,
        config: Result<Value, String>,
    },
    /// kubeadm ClusterConfiguration extraArgs of one component, as flags.
    Kubeadm(KubeadmArgs),
    /// A component as Cluster API, k3s/RKE2, Talos, Kamaji or kind declares it.
    Declared(Box<crate::engine::read::declared::Declared>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct KubeadmArgs {
    /// The ConfigMap key holding the ClusterConfiguration (`None`: the document itself).
    pub embedded: Option<String>,
    /// The ClusterConfiguration value (parsed from `embedded` when set), shared by the
    /// document's two subjects.
    pub config: Arc<Value>,
    /// `apiServer` or `controllerManager`.
    pub section: &'static str,
    /// v1beta4 writes extraArgs as a list of `{name, value}`; earlier versions as a map.
    pub list_form: bool,
    /// extraArgs as `--name=value` tokens (`Origin::None`), in order.
    pub flags: Flags<'static>,
}

/// What kind of object was evaluated, as far as the rules care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Nothing control-plane related: allowed at once, no findings.
    NotRelevant,
    /// A Pod. `mirror`: the API copy of a static pod (never patched).
    Pod { mirror: bool },
    /// The pod template of a workload (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob).
    PodTemplate { workload: String },
    /// A KubeletConfiguration document, or the kubelet-config ConfigMap holding one.
    KubeletConfig,
    /// kubeadm's ClusterConfiguration, alone or in the kubeadm-config ConfigMap.
    KubeadmConfig,
    /// Where an operator declares the control plane (DESIGN.md section 11): `source` names it.
    Declared { source: String },
}

const WORKLOADS: &[&str] = &[
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
];

fn str_at<'a, N: Node>(v: &'a N, pointer: &str) -> Option<&'a str> {
    v.at(pointer).and_then(N::text)
}

/// Is this Pod the API copy of a static pod?
pub fn is_mirror<N: Node>(obj: &N) -> bool {
    let annotated = obj
        .at("/metadata/annotations")
        .and_then(|a| a.member("kubernetes.io/config.mirror"))
        .is_some();
    let node_owned = obj
        .at("/metadata/ownerReferences")
        .and_then(N::items)
        .is_some_and(|refs| refs.iter().any(|r| str_at(r, "/kind") == Some("Node")));
    annotated || node_owned
}

/// The pod spec pointer of a Pod or workload kind.
pub fn pod_spec_pointer(kind: &str) -> Option<&'static str> {
    match kind {
        "Pod" => Some("/spec"),
        "PodTemplate" => Some("/template/spec"),
        "CronJob" => Some("/spec/jobTemplate/spec/template/spec"),
        k if WORKLOADS.contains(&k) => Some("/spec/template/spec"),
        _ => None,
    }
}

pub(crate) fn is_kubelet_config_map_name(name: &str) -> bool {
    name == "kubelet-config"
        || name
            .strip_prefix("kubelet-config-")
            .is_some_and(|v| v.starts_with("1.") && v[2..].chars().all(|c| c.is_ascii_digit()))
}

/// Only kube-system ConfigMaps are read by kubeadm; a CREATE may omit the namespace.
fn in_kube_system(obj: &Value) -> bool {
    str_at(obj, "/metadata/namespace").is_none_or(|ns| ns == "kube-system")
}

/// Classify `obj` and extract its subjects.
/// A Pod or a workload's pod template: its component containers (`None` for other kinds).
pub fn extract_pod<N: Node>(obj: &N) -> Option<(Target, Vec<Subject<'_>>)> {
    let kind = str_at(obj, "/kind").unwrap_or("");
    if let Some(spec) = pod_spec_pointer(kind) {
        let subjects = containers(obj, spec);
        let target = if subjects.is_empty() {
            Target::NotRelevant
        } else if kind == "Pod" {
            Target::Pod {
                mirror: is_mirror(obj),
            }
        } else {
            Target::PodTemplate {
                workload: kind.to_string(),
            }
        };
        return Some((target, subjects));
    }
    None
}

/// A KubeletConfiguration, a ClusterConfiguration, or kubeadm's ConfigMaps.
pub fn extract_config(obj: &Value) -> (Target, Vec<Subject<'_>>) {
    let kind = str_at(obj, "/kind").unwrap_or("");
    match kind {
        "KubeletConfiguration" => (
            Target::KubeletConfig,
            vec![kubelet_subject(
                "KubeletConfiguration",
                None,
                Ok(obj.clone()),
            )],
        ),
        "ClusterConfiguration" => (Target::KubeadmConfig, kubeadm_subjects(obj.clone(), None)),
        "ConfigMap" if in_kube_system(obj) => config_map(obj),
        _ => (Target::NotRelevant, Vec::new()),
    }
}

fn containers<'a, N: Node>(obj: &'a N, spec: &str) -> Vec<Subject<'a>> {
    // A Pod's labels are the object's; a template's are the template's. Walked from the
    // spec's pointer rather than formatted into new pointers: this runs for every pod.
    let labels = obj
        .at(spec.strip_suffix("/spec").unwrap_or(""))
        .and_then(|t| t.at("/metadata/labels"));
    let labels = labels.or_else(|| obj.at("/metadata/labels"));
    let Some(list) = obj
        .at(spec)
        .and_then(|s| s.member("containers"))
        .and_then(N::items)
    else {
        return Vec::new();
    };
    let sole = list.len() == 1;
    list.iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let invocation = component::recognize(c, labels, sole)?;
            let name = c
                .member("name")
                .and_then(N::text)
                .map_or_else(|| format!("containers[{i}]"), str::to_string);
            Some(Subject {
                component: invocation.component,
                location: name,
                settings: Settings::Container {
                    pointer: container_pointer(spec, i),
                    invocation,
                },
            })
        })
        .collect()
}

/// `{spec}/containers/{i}`, pushed: `format!` cost about a thousand instructions a container.
fn container_pointer(spec: &str, i: usize) -> String {
    const LIST: &str = "/containers/";
    let mut index = itoa::Buffer::new();
    let index = index.format(i);
    let mut pointer = String::with_capacity(spec.len() + LIST.len() + index.len());
    pointer.push_str(spec);
    pointer.push_str(LIST);
    pointer.push_str(index);
    pointer
}

fn kubelet_subject(
    location: &str,
    embedded: Option<String>,
    config: Result<Value, String>,
) -> Subject<'_> {
    Subject {
        component: Component::Kubelet,
        location: location.to_string(),
        settings: Settings::KubeletConfig { embedded, config },
    }
}

/// Parse an embedded YAML document (a ConfigMap value).
pub fn parse_embedded(text: &str) -> Result<Value, String> {
    is_mapping(crate::yaml::mapping(text)?)
}

fn is_mapping(v: Value) -> Result<Value, String> {
    if v.is_object() {
        Ok(v)
    } else {
        Err("not a YAML mapping".into())
    }
}

/// The top-level fields of a kubelet-config ConfigMap's KubeletConfiguration that the engine
/// reads (`checks::kubelet` and `kubeconfig_body`, `remediate::kubelet`); a patch that cannot
/// edit the text in place re-reads the whole document (`remediate::Plan::finish`).
const KUBELET_CONFIG_READ: &[&str] = &[
    "apiVersion",
    "kind",
    CONFIG_GATES,
    CONFIG_BOOTSTRAP,
    "clusters",
    "contexts",
    "users",
];

/// The top-level fields of a kubeadm-config ConfigMap's ClusterConfiguration that the engine
/// reads (`kubeadm_subjects`, `remediate::kubeadm`).
const CLUSTER_CONFIGURATION_READ: &[&str] = &[
    "apiVersion",
    "kind",
    "apiServer",
    "controllerManager",
    "certificatesDir",
];

/// An embedded YAML document with only the top-level fields `keep`: the same `Ok` or `Err` as
/// [`parse_embedded`].
fn parse_embedded_keeping(text: &str, keep: &[&str]) -> Result<Value, String> {
    is_mapping(crate::yaml::mapping_keeping(text, keep)?)
}

fn config_map(obj: &Value) -> (Target, Vec<Subject<'_>>) {
    let name = str_at(obj, "/metadata/name").unwrap_or("");
    if is_kubelet_config_map_name(name)
        && let Some(text) = str_at(obj, "/data/kubelet")
    {
        let config = parse_embedded_keeping(text, KUBELET_CONFIG_READ)
            .map_err(|e| format!("data.kubelet does not parse as a KubeletConfiguration: {e}"));
        return (
            Target::KubeletConfig,
            vec![kubelet_subject(
                "data.kubelet",
                Some("/data/kubelet".into()),
                config,
            )],
        );
    }
    if name == "kubeadm-config"
        && let Some(text) = str_at(obj, "/data/ClusterConfiguration")
    {
        return match parse_embedded_keeping(text, CLUSTER_CONFIGURATION_READ) {
            Ok(cfg) => (
                Target::KubeadmConfig,
                kubeadm_subjects(cfg, Some("/data/ClusterConfiguration".into())),
            ),
            Err(e) => (
                Target::KubeadmConfig,
                vec![Subject {
                    component: Component::ApiServer,
                    location: "data.ClusterConfiguration".into(),
                    settings: Settings::KubeletConfig {
                        embedded: None,
                        config: Err(format!("data.ClusterConfiguration does not parse: {e}")),
                    },
                }],
            ),
        };
    }
    (Target::NotRelevant, Vec::new())
}

fn kubeadm_subjects(config: Value, embedded: Option<String>) -> Vec<Subject<'static>> {
    let config = Arc::new(config);
    let list_form = str_at(&*config, "/apiVersion").is_some_and(|v| v.ends_with("/v1beta4"));
    let prefix = if embedded.is_some() {
        "data.ClusterConfiguration."
    } else {
        ""
    };
    [
        (Component::ApiServer, "apiServer"),
        (Component::ControllerManager, "controllerManager"),
    ]
    .into_iter()
    .map(|(component, section)| {
        // A ClusterConfiguration's few members: compared, not hashed (`At::member`).
        let args = config.member(section).and_then(|s| s.member("extraArgs"));
        let flags = Flags::parse(extra_args_tokens(args));
        Subject {
            component,
            location: [prefix, section, ".extraArgs"].concat(),
            settings: Settings::Kubeadm(KubeadmArgs {
                embedded: embedded.clone(),
                config: Arc::clone(&config),
                section,
                list_form,
                flags,
            }),
        }
    })
    .collect()
}

/// extraArgs (map or `{name, value}` list) as `--name=value` tokens.
fn extra_args_tokens(args: Option<&Value>) -> Vec<Token<'static>> {
    let token = |name: &str, value: &Value| {
        let other;
        let value = match value {
            Value::String(s) => s.as_str(),
            Value::Null => "",
            v => {
                other = v.to_string();
                other.as_str()
            }
        };
        // Pushed, not `format!`ted: a control plane has dozens of extraArgs.
        let mut text = String::with_capacity(name.len() + value.len() + 3);
        for part in ["--", name, "=", value] {
            text.push_str(part);
        }
        Token {
            text: text.into(),
            origin: Origin::None,
        }
    };
    match args {
        Some(Value::Object(map)) => map.iter().map(|(k, v)| token(k, v)).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| {
                Some(token(
                    i.get("name")?.as_str()?,
                    i.get("value").unwrap_or(&Value::Null),
                ))
            })
            .collect(),
        _ => Vec::new(),
    }
}
