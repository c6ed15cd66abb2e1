//! kind `Cluster` (`kind.x-k8s.io/v1alpha4`): kubeadm underneath, configured by
//! `kubeadmConfigPatches` (cluster-wide, then per node), each a YAML document inside a YAML
//! string: ClusterConfiguration (API server and controller manager extraArgs),
//! Init/JoinConfiguration (kubeletExtraArgs) and KubeletConfiguration. The top-level
//! `featureGates` map reaches the controller manager and the kubelet too.

use super::{ArgOrigin, ArgsBuilder, DeclaredConfig, Distro, Form, Insert, subject};
use crate::engine::read::subjects::{Settings, Subject, parse_embedded};
use crate::engine::rules::{CERT_FLAG, Component, GATE, GATES_FLAG, KEY_FLAG};
use serde_json::{Map, Value};

/// Every patch string in the order kind applies them: `(pointer, text)`.
fn patch_strings(obj: &Value) -> Vec<(String, &str)> {
    fn list<'a>(out: &mut Vec<(String, &'a str)>, base: String, v: Option<&'a Value>) {
        for (i, p) in v
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Some(s) = p.as_str() {
                out.push((format!("{base}/{i}"), s));
            }
        }
    }
    let mut out = Vec::new();
    list(
        &mut out,
        "/kubeadmConfigPatches".into(),
        obj.get("kubeadmConfigPatches"),
    );
    for (n, node) in obj
        .get("nodes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        list(
            &mut out,
            format!("/nodes/{n}/kubeadmConfigPatches"),
            node.get("kubeadmConfigPatches"),
        );
    }
    out
}

fn kind_gate(obj: &Value, b: &mut ArgsBuilder) {
    if let Some(v) = obj.pointer(&format!("/featureGates/{GATE}")) {
        b.push(
            GATES_FLAG,
            &format!("{GATE}={}", super::scalar(v)),
            ArgOrigin::Entry {
                doc: None,
                pointer: format!("/featureGates/{GATE}"),
                form: Form::KindGate,
            },
        );
    }
}

pub(super) fn subjects(obj: &Value) -> Vec<Subject<'static>> {
    let mut docs = Vec::new();
    let mut bad = Vec::new();
    for (pointer, text) in patch_strings(obj) {
        match parse_embedded(text) {
            Ok(v) => docs.push((pointer, v)),
            Err(e) => bad.push(format!("{pointer}: {e}")),
        }
    }
    if !bad.is_empty() {
        // kind itself refuses such a config; every rule is an error for it.
        let why = format!(
            "kubeadmConfigPatches item does not parse: {}",
            bad.join("; ")
        );
        return [
            Component::ApiServer,
            Component::ControllerManager,
            Component::Kubelet,
        ]
        .into_iter()
        .map(|component| Subject {
            component,
            location: "kubeadmConfigPatches".into(),
            settings: Settings::KubeletConfig {
                embedded: None,
                config: Err(why.clone()),
            },
        })
        .collect();
    }
    let of_kind = |k: &str| -> Vec<&(String, Value)> {
        docs.iter()
            .filter(|(_, v)| v.get("kind").and_then(Value::as_str) == Some(k))
            .collect()
    };
    let mut out = Vec::new();
    let clusters = of_kind("ClusterConfiguration");
    for (component, section) in [
        (Component::ApiServer, "apiServer"),
        (Component::ControllerManager, "controllerManager"),
    ] {
        let mut b = ArgsBuilder::default();
        if component == Component::ApiServer {
            b.by_distro(
                CERT_FLAG,
                "/etc/kubernetes/pki/apiserver-kubelet-client.crt",
            );
            b.by_distro(KEY_FLAG, "/etc/kubernetes/pki/apiserver-kubelet-client.key");
        } else {
            kind_gate(obj, &mut b);
        }
        let rel = format!("/{section}/extraArgs");
        for (p, v) in &clusters {
            b.extra_args(v.pointer(&rel), &Some(p.clone()), &rel);
        }
        let insert = match clusters.last() {
            Some((p, v)) => Insert::Container {
                doc: Some(p.clone()),
                pointer: rel.clone(),
                form: list_form(v),
            },
            None => Insert::KindPatch {
                kind: "ClusterConfiguration",
                path: if component == Component::ApiServer {
                    &["apiServer", "extraArgs"]
                } else {
                    &["controllerManager", "extraArgs"]
                },
            },
        };
        let mut d = b.build(Distro::Kubeadm, "extraArgs", insert, None);
        d.mounts = vec!["/etc/kubernetes/pki".into()];
        for (_, v) in &clusters {
            if let Some(vols) = v
                .pointer("/apiServer/extraVolumes")
                .and_then(Value::as_array)
            {
                d.mounts.extend(
                    vols.iter()
                        .filter_map(|m| m.get("mountPath")?.as_str().map(str::to_string)),
                );
            }
        }
        out.push(subject(
            component,
            format!("kubeadmConfigPatches ClusterConfiguration {section}.extraArgs"),
            d,
        ));
    }

    // The kubelet: flags from Init/JoinConfiguration, fields from KubeletConfiguration patches.
    let mut b = ArgsBuilder::default();
    kind_gate(obj, &mut b);
    for (p, v) in docs.iter().filter(|(_, v)| {
        matches!(
            v.get("kind").and_then(Value::as_str),
            Some("InitConfiguration" | "JoinConfiguration")
        )
    }) {
        let rel = "/nodeRegistration/kubeletExtraArgs";
        b.extra_args(v.pointer(rel), &Some(p.clone()), rel);
    }
    let kubelets = of_kind("KubeletConfiguration");
    let mut merged = Map::new();
    for (_, v) in &kubelets {
        for (k, val) in v.as_object().into_iter().flatten() {
            match (merged.get_mut(k), val) {
                // Strategic merge: maps merge key by key.
                (Some(Value::Object(m)), Value::Object(add)) => {
                    m.extend(add.iter().map(|(a, b)| (a.clone(), b.clone())))
                }
                _ => {
                    merged.insert(k.clone(), val.clone());
                }
            }
        }
    }
    let config = DeclaredConfig {
        value: Value::Object(merged),
        at: kubelets
            .last()
            .map(|(p, _)| (Some(p.clone()), String::new())),
        name: "the KubeletConfiguration patch".into(),
        prefer: true,
    };
    let d = b.build(
        Distro::Kubeadm,
        "kubeletExtraArgs",
        Insert::KindPatch {
            kind: "KubeletConfiguration",
            path: &[],
        },
        Some(config),
    );
    out.push(subject(
        Component::Kubelet,
        "kubeadmConfigPatches kubelet".into(),
        d,
    ));
    out
}

/// A v1beta4 patch (or one already written as a list) takes `{name, value}` items.
fn list_form(v: &Value) -> Form {
    let list = ["/apiServer/extraArgs", "/controllerManager/extraArgs"]
        .iter()
        .any(|p| v.pointer(p).is_some_and(Value::is_array))
        || v.get("apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|a| a.ends_with("/v1beta4"));
    if list { Form::NameValue } else { Form::Map }
}
