//! `check --root DIR` (and `check /`): a node's files judged as the node would run them. The
//! kubelet as its systemd unit starts it, merged with its config file and drop-ins (one verdict
//! per rule, naming the file that decided it); the control plane from the static pod manifests
//! under the kubelet's `staticPodPath`, one file per component. `check FILE` keeps the per-file view.

use crate::engine::policy::Policy;
use crate::engine::rules::{Component, Status};
use crate::node::check::{self as audit, Input};
use crate::node::kubelet_merge::{self, host_path};
use crate::node::running::{self, complete, skip};
use crate::node::{declared, drift};
use crate::report::Record;
use std::path::{Path, PathBuf};

pub const KIND: &str = "KubeletService";

/// Judge the node whose `/` is `root`.
pub fn check_tree(root: &Path, policy: &Policy) -> Vec<Record> {
    let mut out = Vec::new();
    let shown = root.display().to_string();
    let mut pod_dir: Result<PathBuf, String> =
        Err("no kubelet systemd unit, so no staticPodPath".into());
    match declared::kubelet_service(root) {
        None => {
            let why = format!(
                "no kubelet.service unit or drop-in under {shown} ({})",
                declared::UNIT_DIRS.join(", ")
            );
            skip_component(&shown, Component::Kubelet, &why, &mut out);
        }
        Some(d) => {
            let source = d.exec_from.display().to_string();
            match &d.flags {
                None => {
                    let why = format!(
                        "the unit's ExecStart does not run a kubelet: {}",
                        d.argv.join(" ")
                    );
                    skip_component(&source, Component::Kubelet, &why, &mut out);
                }
                Some(flags) => {
                    let merged = kubelet_merge::load(flags, root, None);
                    if let Some(dir) = merged.static_pod_path() {
                        pod_dir = Ok(dir);
                    } else {
                        pod_dir = Err("the kubelet's configuration sets no staticPodPath".into());
                    }
                    let source_of = |name: &str| d.flag_source(name).map(str::to_string);
                    let mut findings = running::kubelet(flags, &merged, policy, &source_of);
                    // systemd does not start a unit whose required environment file it cannot
                    // read, and that file may hold flags: no kubelet rule can be judged.
                    if !d.errors.is_empty() {
                        let errors: Vec<String> =
                            d.errors.iter().map(ToString::to_string).collect();
                        for f in &mut findings {
                            f.status = Status::Error;
                            f.message = format!(
                                "systemd cannot start kubelet.service: {}",
                                errors.join("; ")
                            );
                            f.remediation = None;
                        }
                    }
                    complete(&source, KIND, Component::Kubelet, &findings, &mut out);
                }
            }
        }
    }
    let mut seen: Vec<Component> = Vec::new();
    if let Ok(dir) = &pod_dir {
        let (_, host) = host_path(root, dir, None);
        for file in drift::static_pod_files(&host) {
            let records = audit::audit_input(&Input::File(file), policy);
            for r in &records {
                if r.status != Status::Skip
                    && let Some(c) = r.component
                    && !seen.contains(&c)
                {
                    seen.push(c);
                }
            }
            out.extend(records);
        }
    }
    for c in [Component::ApiServer, Component::ControllerManager] {
        if !seen.contains(&c) {
            let why = match &pod_dir {
                Ok(dir) => format!("no {c} static pod manifest in {}", dir.display()),
                Err(e) => format!("no {c} static pod known: {e}"),
            };
            skip_component(&shown, c, &why, &mut out);
        }
    }
    out
}

fn skip_component(source: &str, c: Component, why: &str, out: &mut Vec<Record>) {
    let skips: Vec<_> = c.rules().iter().map(|&r| skip(r, why)).collect();
    complete(source, "Node", c, &skips, out);
}
