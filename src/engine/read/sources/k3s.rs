//! k3s and RKE2 `config.yaml`: `kube-apiserver-arg`, `kube-controller-manager-arg` and
//! `kubelet-arg` are lists of `name=value` passed as `--name=value` after the distribution's
//! own flags, so a later item wins (pflag). Both distributions set the API server's kubelet
//! client certificate, key and CA themselves. Drop-ins (`config.yaml.d/*.yaml`) are merged into
//! one object before this reader sees it (`node::k3s`).

use super::{ArgsBuilder, Distro, Form, Insert, subject};
use crate::engine::read::subjects::Subject;
use crate::engine::rules::{CA_FLAG, CERT_FLAG, Component, KEY_FLAG};
use serde_json::Value;

/// Where k3s keeps the certificates it passes to kube-apiserver (RKE2: `/var/lib/rancher/rke2`).
pub const K3S_TLS: &str = "/var/lib/rancher/k3s/server/tls";

/// Keys only a k3s/RKE2 configuration has (without a `+` suffix).
const KEYS: &[&str] = &[
    "kube-apiserver-arg",
    "kube-controller-manager-arg",
    "kube-scheduler-arg",
    "kube-cloud-controller-manager-arg",
    "kube-proxy-arg",
    "kubelet-arg",
    "etcd-arg",
    "write-kubeconfig-mode",
    "cluster-init",
    "tls-san",
    "node-label",
    "node-taint",
    "flannel-backend",
    "datastore-endpoint",
    "secrets-encryption",
    "etcd-expose-metrics",
    "agent-token",
    "system-default-registry",
    "disable-cloud-controller",
    "disable-kube-proxy",
    "embedded-registry",
    "protect-kernel-defaults",
];

/// Keys that only a server (not an agent) takes.
const SERVER_ONLY: &[&str] = &[
    "kube-apiserver-arg",
    "kube-controller-manager-arg",
    "kube-scheduler-arg",
    "etcd-arg",
    "write-kubeconfig-mode",
    "cluster-init",
    "tls-san",
    "flannel-backend",
    "datastore-endpoint",
    "secrets-encryption",
    "cluster-cidr",
    "service-cidr",
    "disable",
    "cni",
    "agent-token",
];

fn base_key(k: &str) -> &str {
    k.strip_suffix('+').unwrap_or(k)
}

/// A mapping with kebab-case keys, at least one of them one only k3s/RKE2 uses.
pub fn looks_like_k3s(obj: &Value) -> bool {
    let Some(map) = obj.as_object() else {
        return false;
    };
    let kebab = |k: &str| {
        base_key(k)
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    map.keys().all(|k| kebab(k)) && map.keys().any(|k| KEYS.contains(&base_key(k)))
}

/// The `(pointer, text)` items of `key` and `key+`, in the order k3s reads them.
fn items(obj: &Value, key: &str) -> (Vec<(String, String)>, Option<String>) {
    let mut out = Vec::new();
    let mut container = None;
    for k in [key.to_string(), format!("{key}+")] {
        let pointer = format!("/{k}");
        match obj.get(&k) {
            Some(Value::Array(list)) => {
                for (i, v) in list.iter().enumerate() {
                    out.push((format!("{pointer}/{i}"), super::scalar(v)));
                }
                container = Some(pointer);
            }
            Some(Value::Null) | None => {}
            // A single value is a one-item list.
            Some(v) => {
                out.push((pointer.clone(), super::scalar(v)));
                container = Some(pointer);
            }
        }
    }
    (out, container)
}

pub(super) fn subjects(obj: &Value) -> Vec<Subject> {
    let map = obj.as_object();
    let has = |k: &str| map.is_some_and(|m| m.keys().any(|x| base_key(x) == k));
    let agent = has("server") && !SERVER_ONLY.iter().any(|k| has(k));
    let mut out = Vec::new();
    let mut one = |component: Component, key: &str, defaults: &[(&str, String)]| {
        let (list, container) = items(obj, key);
        let mut b = ArgsBuilder::default();
        for (f, v) in defaults {
            b.by_distro(f, v);
        }
        b.flag_items(&list, &None, Form::FlagItem);
        let pointer = container.unwrap_or_else(|| format!("/{key}"));
        let mut d = b.build(
            Distro::K3s,
            key,
            Insert::Container {
                doc: None,
                pointer,
                form: Form::FlagItem,
            },
            None,
        );
        d.mounts = vec!["/var/lib/rancher".into()];
        out.push(subject(component, key.to_string(), d));
    };
    if !agent {
        one(
            Component::ApiServer,
            "kube-apiserver-arg",
            &[
                (CERT_FLAG, format!("{K3S_TLS}/client-kube-apiserver.crt")),
                (KEY_FLAG, format!("{K3S_TLS}/client-kube-apiserver.key")),
                (CA_FLAG, format!("{K3S_TLS}/server-ca.crt")),
            ],
        );
        one(
            Component::ControllerManager,
            "kube-controller-manager-arg",
            &[],
        );
    }
    one(Component::Kubelet, "kubelet-arg", &[]);
    out
}
