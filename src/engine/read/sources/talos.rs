//! Talos machine configuration (`version: v1alpha1`): `cluster.apiServer.extraArgs`,
//! `cluster.controllerManager.extraArgs`, `machine.kubelet.extraArgs` (values: a string, or a
//! list of strings passed as repeated flags) and `machine.kubelet.extraConfig` (KubeletConfiguration
//! fields). Talos sets the API server's kubelet client certificate and key and refuses overrides
//! (its merge policy `MergeDenied`: the machine config is rejected). Any other entry replaces
//! Talos's own value of that flag (`MergeOverwrite`); a list becomes repeated flags, in order,
//! so pflag's last occurrence wins; `feature-gates` is joined with Talos's own (`MergeAdditive`),
//! which for the gates is the same as repeated flags.

use super::{ArgsBuilder, DeclaredConfig, Distro, Form, Insert, subject};
use crate::engine::read::subjects::Subject;
use crate::engine::rules::{CERT_FLAG, Component, KEY_FLAG};
use serde_json::Value;

/// Where Talos keeps the API server's certificates.
const TALOS_PKI: &str = "/system/secrets/kubernetes/kube-apiserver";

pub(super) fn looks_like_talos(obj: &Value) -> bool {
    obj.get("version").and_then(Value::as_str) == Some("v1alpha1")
        && (obj.get("machine").is_some_and(Value::is_object)
            || obj.get("cluster").is_some_and(Value::is_object))
}

/// The entries Talos passes on. Its `meta.Args` value is a string or a list of strings (other
/// scalars as their text); an empty string or null reaches the component as no flag at all
/// (`Args.ToMap` drops it), so it is left out here. Keys stay where they are written, so the
/// pointers of the entries kept do not change.
fn passed(args: Option<&Value>) -> Option<Value> {
    let Some(Value::Object(map)) = args else {
        return args.cloned();
    };
    let kept = map
        .iter()
        .filter(|(_, v)| !matches!(v, Value::Null) && v.as_str() != Some(""))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Some(Value::Object(kept))
}

pub(super) fn subjects(obj: &Value) -> Vec<Subject<'static>> {
    let worker = obj.pointer("/machine/type").and_then(Value::as_str) == Some("worker");
    let mut out = Vec::new();
    let one = |component: Component, pointer: &str, config: Option<DeclaredConfig>| {
        let mut b = ArgsBuilder::default();
        b.extra_args(passed(obj.pointer(pointer)).as_ref(), &None, pointer);
        if component == Component::ApiServer {
            b.by_distro(
                CERT_FLAG,
                &format!("{TALOS_PKI}/apiserver-kubelet-client.crt"),
            );
            b.by_distro(
                KEY_FLAG,
                &format!("{TALOS_PKI}/apiserver-kubelet-client.key"),
            );
        }
        let mut d = b.build(
            Distro::Talos,
            &super::capi::location(pointer),
            Insert::Container {
                doc: None,
                pointer: pointer.to_string(),
                form: Form::Map,
            },
            config,
        );
        d.mounts = vec![TALOS_PKI.to_string()];
        subject(component, super::capi::location(pointer), d)
    };
    // A worker runs no control plane: its cluster section is not used.
    if !worker {
        out.push(one(
            Component::ApiServer,
            "/cluster/apiServer/extraArgs",
            None,
        ));
        out.push(one(
            Component::ControllerManager,
            "/cluster/controllerManager/extraArgs",
            None,
        ));
    }
    let config = DeclaredConfig {
        value: obj
            .pointer("/machine/kubelet/extraConfig")
            .filter(|v| v.is_object())
            .cloned()
            .unwrap_or_else(|| Value::Object(Default::default())),
        at: Some((None, "/machine/kubelet/extraConfig".into())),
        name: "machine.kubelet.extraConfig".into(),
        prefer: false,
    };
    out.push(one(
        Component::Kubelet,
        "/machine/kubelet/extraArgs",
        Some(config),
    ));
    out
}
