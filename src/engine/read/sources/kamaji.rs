//! Kamaji `TenantControlPlane`: `spec.controlPlane.deployment.extraArgs.{apiServer,
//! controllerManager}` are lists of `--flag=value` strings. Kamaji manages the API server's
//! kubelet client certificate and key (a duplicate in extraArgs is dropped), not the CA.

use super::{ArgsBuilder, Distro, Form, Insert, subject};
use crate::engine::read::subjects::Subject;
use crate::engine::rules::{CERT_FLAG, Component, KEY_FLAG};
use serde_json::Value;

const ARGS: &str = "/spec/controlPlane/deployment/extraArgs";
/// kubeadm's certificate directory, which Kamaji mounts into the control-plane pods.
const PKI: &str = "/etc/kubernetes/pki";

pub(super) fn subjects(obj: &Value) -> Vec<Subject<'static>> {
    [
        (Component::ApiServer, "apiServer"),
        (Component::ControllerManager, "controllerManager"),
    ]
    .into_iter()
    .map(|(component, key)| {
        let pointer = format!("{ARGS}/{key}");
        let items: Vec<(String, String)> = match obj.pointer(&pointer) {
            Some(Value::Array(list)) => list
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("{pointer}/{i}"), super::scalar(v)))
                .collect(),
            _ => Vec::new(),
        };
        let mut b = ArgsBuilder::default();
        b.flag_items(&items, &None, Form::DashedItem);
        if component == Component::ApiServer {
            // Managed flags come last: they win over any extraArgs duplicate.
            b.by_distro(CERT_FLAG, &format!("{PKI}/apiserver-kubelet-client.crt"));
            b.by_distro(KEY_FLAG, &format!("{PKI}/apiserver-kubelet-client.key"));
        }
        let mut d = b.build(
            Distro::Kamaji,
            "extraArgs",
            Insert::Container {
                doc: None,
                pointer: pointer.clone(),
                form: Form::DashedItem,
            },
            None,
        );
        d.mounts = vec![PKI.to_string()];
        subject(component, super::capi::location(&pointer), d)
    })
    .collect()
}
