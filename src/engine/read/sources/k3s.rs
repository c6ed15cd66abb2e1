//! k3s and RKE2 `config.yaml`: `kube-apiserver-arg`, `kube-controller-manager-arg` and
//! `kubelet-arg` are lists of `name=value` combined with the distribution's own flags as k3s
//! does it (`k3s_args`: an item replaces the default, `name+=`/`name-=` add after/before it; a
//! later item wins by pflag). Both distributions set the API server's kubelet client
//! certificate, key and CA themselves. Drop-ins (`config.yaml.d/`) are merged into one object
//! before this reader sees it (`node::k3s`), with the same merge this reader applies to `+` keys.

use super::k3s_args::{Merged, component_args, merge};
use super::{ArgOrigin, ArgsBuilder, Distro, Form, Insert, subject};
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

/// The `(pointer, text)` items of `key` after k3s merged `key` and `key+` in the order they
/// are written, and where a new item goes.
fn items(merged: &Merged, key: &str) -> (Vec<(String, String)>, Option<String>) {
    let values: Vec<&Value> = match merged.value.get(key) {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(Value::Null) | None => Vec::new(),
        // A single value is a one-item list.
        Some(v) => vec![v],
    };
    let places = merged.items.get(key).cloned().unwrap_or_default();
    let out = places
        .into_iter()
        .zip(values)
        .map(|((_, pointer), v)| (pointer, super::scalar(v)))
        .collect();
    let container = merged
        .container
        .get(key)
        .map(|(_, k)| format!("/{}", super::esc(k)));
    (out, container)
}

pub(super) fn subjects(obj: &Value) -> Vec<Subject<'static>> {
    let map = obj.as_object();
    let has = |k: &str| map.is_some_and(|m| m.keys().any(|x| base_key(x) == k));
    let agent = has("server") && !SERVER_ONLY.iter().any(|k| has(k));
    let mut out = Vec::new();
    // One object is merged as one file: `key` and `key+` combine as they do across drop-ins.
    let empty = serde_json::Map::new();
    let merged = merge(&[map.unwrap_or(&empty)]);
    let mut one = |component: Component, key: &str, defaults: &[(&str, String)]| {
        let (list, container) = items(&merged, key);
        let mut b = ArgsBuilder::default();
        let texts: Vec<String> = list.iter().map(|(_, t)| t.clone()).collect();
        for arg in component_args(defaults, &texts) {
            match arg.item.and_then(|i| list.get(i)) {
                Some((pointer, _)) => b.push(
                    &arg.name,
                    &arg.value,
                    ArgOrigin::Entry {
                        doc: None,
                        pointer: pointer.clone(),
                        form: Form::FlagItem,
                    },
                ),
                None => b.by_distro(&arg.name, &arg.value),
            }
        }
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
