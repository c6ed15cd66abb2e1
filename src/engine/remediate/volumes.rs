//! Mounts: a path is patched in only where a volumeMount covers it, or with a read-only hostPath
//! volume when the policy allows adding one.

use super::ops::add;
use crate::engine::policy::Policy;
use crate::engine::read::subjects::KubeadmArgs;
use crate::engine::read::tree::Node;
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
    if let Some(vols) = k.config.at("/apiServer/extraVolumes").and_then(Node::items) {
        mounts.extend(
            vols.iter()
                .filter_map(|v| v.member("mountPath")?.text().map(str::to_string)),
        );
    }
    mounts
}

/// The hostPath volumes a plan adds, per pod spec (its pointer): each directory's volume and
/// its name. A second container of the pod that needs the same directory mounts the same
/// volume; a new volume takes a name no volume of the pod has. (The API server rejects a pod
/// whose volumes repeat a name, and a second `add` of a missing `volumes` list replaces the
/// first.)
#[derive(Default)]
pub(super) struct Added(Vec<(String, Vec<(String, String)>)>);

impl Added {
    fn of(&mut self, spec: &str) -> &mut Vec<(String, String)> {
        let at = match self.0.iter().position(|(s, _)| s == spec) {
            Some(at) => at,
            None => {
                self.0.push((spec.to_string(), Vec::new()));
                self.0.len() - 1
            }
        };
        &mut self.0[at].1
    }
}

/// The name of a volume added to a pod: the first of `kubelet-tls-guard-pki`,
/// `kubelet-tls-guard-pki-1`, … that neither the pod's volumes nor the plan's have.
fn free_name(existing: &[&str], added: &[(String, String)]) -> String {
    const BASE: &str = "kubelet-tls-guard-pki";
    let taken = |n: &str| existing.contains(&n) || added.iter().any(|(_, a)| a == n);
    let mut name = BASE.to_string();
    let mut i = 0;
    while taken(&name) {
        i += 1;
        name = format!("{BASE}-{i}");
    }
    name
}

/// Make sure the container can read `paths`: already mounted, or (if the policy allows) a
/// read-only hostPath volume of the parent directory is added and mounted. `planned` holds the
/// directories earlier calls for the same container mounted; it grows by the ones this call
/// mounts. `added` holds the volumes the plan adds to each pod spec.
pub(super) fn mount_paths<N: Node>(
    obj: &N,
    spec: &str,
    container: &str,
    paths: &[&str],
    policy: &Policy,
    planned: &mut Vec<String>,
    added: &mut Added,
) -> Result<Vec<PatchOperation>, String> {
    // Each mount's few members are compared, not hashed (`Node::member`): a control plane's
    // container has a dozen mounts.
    let mut mounts: Vec<String> = obj
        .at(&format!("{container}/volumeMounts"))
        .and_then(Node::items)
        .map(|a| {
            a.iter()
                .filter_map(|m| m.member("mountPath")?.text().map(str::to_string))
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
    let pod_volumes = obj.at(&format!("{spec}/volumes")).and_then(Node::items);
    let existing: Vec<&str> = pod_volumes
        .into_iter()
        .flatten()
        .filter_map(|v| v.member("name")?.text())
        .collect();
    let added = added.of(spec);
    // After an earlier `add` of the whole list (this container's or another's), the list
    // exists: append to it.
    let has_volumes = !added.is_empty() || pod_volumes.is_some();
    let has_mounts = !planned.is_empty()
        || obj
            .at(&format!("{container}/volumeMounts"))
            .is_some_and(|m| m.items().is_some());
    let mut volumes = Vec::new();
    let mut vmounts = Vec::new();
    for dir in &dirs {
        let name = match added.iter().find(|(d, _)| d == dir) {
            Some((_, name)) => name.clone(),
            None => {
                let name = free_name(&existing, added);
                volumes.push(json!({"name": name, "hostPath": {"path": dir, "type": "Directory"}}));
                added.push((dir.to_string(), name.clone()));
                name
            }
        };
        vmounts.push(json!({"name": name, "mountPath": dir, "readOnly": true}));
    }
    let mut ops = Vec::new();
    for (has, base, items) in [
        (has_volumes, format!("{spec}/volumes"), volumes),
        (has_mounts, format!("{container}/volumeMounts"), vmounts),
    ] {
        if items.is_empty() {
            continue;
        }
        if has {
            ops.extend(items.into_iter().map(|v| add(&format!("{base}/-"), v)));
        } else {
            ops.push(add(&base, Value::Array(items)));
        }
    }
    planned.extend(dirs.iter().map(|d| d.to_string()));
    Ok(ops)
}

#[cfg(test)]
#[path = "volumes_tests.rs"]
mod tests;
