//! Mounts: a path is patched in only where a volumeMount covers it, or with a read-only hostPath
//! volume when the policy allows adding one.

use super::ops::add;
use crate::engine::policy::Policy;
use crate::engine::read::at::At;
use crate::engine::read::subjects::KubeadmArgs;
use json_patch::PatchOperation;
use serde_json::{Value, json};

pub(super) fn covered(path: &str, mounts: &[String]) -> bool {
    mounts.iter().any(|m| {
        let m = m.trim_end_matches('/');
        m.is_empty()
            || path == m
            || path
                .strip_prefix(m)
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

pub(super) fn kubeadm_mounts(k: &KubeadmArgs, dir: &str) -> Vec<String> {
    let mut mounts = vec![dir.to_string()];
    if let Some(vols) = k
        .config
        .at("/apiServer/extraVolumes")
        .and_then(Value::as_array)
    {
        mounts.extend(
            vols.iter()
                .filter_map(|v| v.member("mountPath")?.as_str().map(str::to_string)),
        );
    }
    mounts
}

/// Make sure the container can read `paths`: already mounted, or (if the policy allows) a
/// read-only hostPath volume of the parent directory is added. `planned` holds the directories
/// earlier calls for the same container mounted; it grows by the ones this call mounts.
pub(super) fn mount_paths(
    obj: &Value,
    spec: &str,
    container: &str,
    paths: &[&str],
    policy: &Policy,
    planned: &mut Vec<String>,
) -> Result<Vec<PatchOperation>, String> {
    // Each mount's few members are compared, not hashed (`At::member`): a control plane's
    // container has a dozen mounts.
    let mut mounts: Vec<String> = obj
        .at(&format!("{container}/volumeMounts"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|m| m.member("mountPath")?.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    mounts.extend(planned.iter().cloned());
    let missing: Vec<&str> = paths
        .iter()
        .copied()
        .filter(|p| !covered(p, &mounts))
        .collect();
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    if !policy.remediation.add_host_path_volume {
        return Err(format!(
            "{} is not mounted into the container: mount it, or set remediation.addHostPathVolume: true",
            missing.join(", ")
        ));
    }
    let mut dirs: Vec<&str> = missing
        .iter()
        .map(|p| {
            p.rsplit_once('/')
                .map_or("/", |(d, _)| if d.is_empty() { "/" } else { d })
        })
        .collect();
    dirs.sort_unstable();
    dirs.dedup();
    let mut ops = Vec::new();
    // After an earlier call's `add` of the whole list, the list exists: append to it.
    let has_volumes = !planned.is_empty()
        || obj
            .at(&format!("{spec}/volumes"))
            .is_some_and(Value::is_array);
    let has_mounts = !planned.is_empty()
        || obj
            .at(&format!("{container}/volumeMounts"))
            .is_some_and(Value::is_array);
    let mut volumes = Vec::new();
    let mut vmounts = Vec::new();
    for (i, dir) in (planned.len()..).zip(dirs.iter()) {
        let name = if i == 0 {
            "kubelet-tls-guard-pki".to_string()
        } else {
            format!("kubelet-tls-guard-pki-{i}")
        };
        volumes.push(json!({"name": name, "hostPath": {"path": dir, "type": "Directory"}}));
        vmounts.push(json!({"name": name, "mountPath": dir, "readOnly": true}));
    }
    for (has, base, items) in [
        (has_volumes, format!("{spec}/volumes"), volumes),
        (has_mounts, format!("{container}/volumeMounts"), vmounts),
    ] {
        if has {
            ops.extend(items.into_iter().map(|v| add(&format!("{base}/-"), v)));
        } else {
            ops.push(add(&base, Value::Array(items)));
        }
    }
    planned.extend(dirs.iter().map(|d| d.to_string()));
    Ok(ops)
}
