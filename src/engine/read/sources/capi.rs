//! Cluster API: `KubeadmControlPlane` (and its ClusterClass template) and the bootstrap
//! provider's `KubeadmConfig` / `KubeadmConfigTemplate`. The kubeadmConfigSpec holds kubeadm's
//! own configuration, so kubeadm's defaults apply; extraArgs is a map up to v1beta1 and a list
//! of `{name, value}` from v1beta2 (CAPI v1.11) on.

use super::{ArgsBuilder, DeclaredConfig, Distro, Form, Insert, subject};
use crate::engine::read::subjects::Subject;
use crate::engine::read::subjects::parse_embedded;
use crate::engine::rules::{CERT_FLAG, Component, KEY_FLAG};
use serde_json::Value;

/// kubeadm's directory for the cluster's certificates, unless `certificatesDir` says otherwise.
pub(crate) const KUBEADM_PKI: &str = "/etc/kubernetes/pki";

pub(super) fn control_plane(obj: &Value) -> Vec<Subject<'static>> {
    spec_subjects(obj, "/spec/kubeadmConfigSpec", true)
}

pub(super) fn control_plane_template(obj: &Value) -> Vec<Subject<'static>> {
    spec_subjects(obj, "/spec/template/spec/kubeadmConfigSpec", true)
}

pub(super) fn bootstrap(obj: &Value, kind: &str) -> Vec<Subject<'static>> {
    let base = if kind == "KubeadmConfigTemplate" {
        "/spec/template/spec"
    } else {
        "/spec"
    };
    spec_subjects(obj, base, false)
}

/// The form new entries take: the one already written, else the API version's.
fn form_of(obj: &Value, spec: Option<&Value>) -> Form {
    let written = [
        "/clusterConfiguration/apiServer/extraArgs",
        "/clusterConfiguration/controllerManager/extraArgs",
        "/initConfiguration/nodeRegistration/kubeletExtraArgs",
        "/joinConfiguration/nodeRegistration/kubeletExtraArgs",
    ]
    .iter()
    .find_map(|p| {
        spec.and_then(|s| s.pointer(p))
            .filter(|v| v.is_array() || v.is_object())
    });
    match written {
        Some(Value::Array(_)) => Form::NameValue,
        Some(_) => Form::Map,
        None => {
            let api = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
            if api.ends_with("/v1beta1") || api.ends_with("/v1alpha4") || api.ends_with("/v1alpha3")
            {
                Form::Map
            } else {
                Form::NameValue
            }
        }
    }
}

/// Subjects of one kubeadmConfigSpec at `base`. A control plane always has the API server,
/// controller manager and both kubelet configurations (absent ones get kubeadm's defaults); a
/// bootstrap config only the ones it declares (a worker's is the join configuration).
fn spec_subjects(obj: &Value, base: &str, control_plane: bool) -> Vec<Subject<'static>> {
    let spec = obj.pointer(base);
    let form = form_of(obj, spec);
    let at = |p: &str| spec.and_then(|s| s.pointer(p));
    let mut out = Vec::new();
    let has_cluster = at("/clusterConfiguration").is_some();
    if control_plane || has_cluster {
        let dir = at("/clusterConfiguration/certificatesDir")
            .and_then(Value::as_str)
            .unwrap_or(KUBEADM_PKI)
            .trim_end_matches('/')
            .to_string();
        for (component, section) in [
            (Component::ApiServer, "apiServer"),
            (Component::ControllerManager, "controllerManager"),
        ] {
            let rel = format!("/clusterConfiguration/{section}/extraArgs");
            let pointer = format!("{base}{rel}");
            let mut b = ArgsBuilder::default();
            if component == Component::ApiServer {
                b.by_distro(CERT_FLAG, &format!("{dir}/apiserver-kubelet-client.crt"));
                b.by_distro(KEY_FLAG, &format!("{dir}/apiserver-kubelet-client.key"));
            }
            b.extra_args(at(&rel), &None, &pointer);
            let mut d = b.build(
                Distro::Kubeadm,
                "extraArgs",
                Insert::Container {
                    doc: None,
                    pointer: pointer.clone(),
                    form,
                },
                None,
            );
            d.mounts = mounts(at("/clusterConfiguration"), &dir);
            out.push(subject(component, location(&pointer), d));
        }
    }
    let has_init = at("/initConfiguration").is_some();
    let has_join = at("/joinConfiguration").is_some();
    for (section, wanted) in [
        ("initConfiguration", control_plane || has_init),
        ("joinConfiguration", control_plane || has_join || !has_init),
    ] {
        if !wanted {
            continue;
        }
        let rel = format!("/{section}/nodeRegistration/kubeletExtraArgs");
        let pointer = format!("{base}{rel}");
        let mut b = ArgsBuilder::default();
        b.extra_args(at(&rel), &None, &pointer);
        let mut d = b.build(
            Distro::Kubeadm,
            "kubeletExtraArgs",
            Insert::Container {
                doc: None,
                pointer: pointer.clone(),
                form,
            },
            None,
        );
        d.config = config_file(spec, base, d.flags.value("config"));
        out.push(subject(Component::Kubelet, location(&pointer), d));
    }
    out
}

/// The KubeletConfiguration a `--config` kubelet flag points at, when the spec writes that
/// file itself (`files[].content`, not base64): then it is declared here too.
fn config_file(spec: Option<&Value>, base: &str, path: Option<&str>) -> Option<DeclaredConfig> {
    let path = path?;
    let files = spec?.get("files")?.as_array()?;
    let (i, file) = files.iter().enumerate().rev().find(|(_, f)| {
        f.get("path").and_then(Value::as_str) == Some(path) && f.get("encoding").is_none()
    })?;
    let value = parse_embedded(file.get("content")?.as_str()?).ok()?;
    Some(DeclaredConfig {
        value,
        at: Some((Some(format!("{base}/files/{i}/content")), String::new())),
        name: format!("files[{i}] ({path})"),
        prefer: false,
    })
}

/// Directories kubeadm mounts into kube-apiserver: certificatesDir and apiServer.extraVolumes.
pub(crate) fn mounts(cluster: Option<&Value>, dir: &str) -> Vec<String> {
    let mut m = vec![dir.to_string()];
    if let Some(vols) = cluster
        .and_then(|c| c.pointer("/apiServer/extraVolumes"))
        .and_then(Value::as_array)
    {
        m.extend(
            vols.iter()
                .filter_map(|v| v.get("mountPath")?.as_str().map(str::to_string)),
        );
    }
    m
}

/// `/spec/kubeadmConfigSpec/clusterConfiguration/apiServer/extraArgs` →
/// `spec.kubeadmConfigSpec.clusterConfiguration.apiServer.extraArgs`.
pub(crate) fn location(pointer: &str) -> String {
    pointer
        .trim_start_matches('/')
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect::<Vec<_>>()
        .join(".")
}
