//! `check --node`: judge the components running on this node by what they really run with
//! (DESIGN.md section 9). Records follow section 6; `source` is `process:PID`, `object` the
//! component, and every object shows all five rules like `check` does.

use crate::engine::checks;
use crate::engine::policy::Policy;
use crate::engine::read::flags::Flags;
use crate::engine::rules::{Component, Finding, RuleId, Status};
use crate::node::drift;
use crate::node::kubelet_merge::{self, Field, Layer, Merged};
use crate::node::proc::{self, Process, Scan};
use crate::report::Record;
use std::path::{Path, PathBuf};

pub const KIND: &str = "Process";

const COMPONENTS: [Component; 3] = [
    Component::ApiServer,
    Component::ControllerManager,
    Component::Kubelet,
];

/// Scan `proc_dir` and judge every component found; `root` is the node's `/`.
pub fn check_node(root: &Path, proc_dir: &Path, policy: &Policy) -> Vec<Record> {
    match proc::scan(proc_dir) {
        Ok(scan) => judge(&scan, root, proc_dir, policy),
        Err(message) => {
            let source = proc_dir.display().to_string();
            vec![Record {
                source,
                object: "-".into(),
                kind: String::new(),
                component: None,
                location: String::new(),
                rule: None,
                controls: Vec::new(),
                status: Status::Error,
                message,
                remediation: None,
            }]
        }
    }
}

/// Judge the processes of a scan: kubelets first (their config names the static pod directory
/// the other components are compared with), then the rest; absent components skip.
pub fn judge(scan: &Scan, root: &Path, proc_dir: &Path, policy: &Policy) -> Vec<Record> {
    let mut out = Vec::new();
    let mut pod_dirs: Vec<PathBuf> = Vec::new();
    let kubelets = scan
        .processes
        .iter()
        .filter(|p| p.component == Component::Kubelet);
    for p in kubelets {
        let merged = kubelet_merge::load(&p.flags, root, p.cwd.as_deref());
        if let Some(dir) = merged.static_pod_path()
            && !pod_dirs.contains(&dir)
        {
            pod_dirs.push(dir);
        }
        let findings = kubelet(&p.flags, &merged, policy, &|_| None);
        complete(
            &format!("process:{}", p.pid),
            KIND,
            p.component,
            &findings,
            &mut out,
        );
    }
    for p in scan
        .processes
        .iter()
        .filter(|p| p.component != Component::Kubelet)
    {
        let findings = control_plane(p, root, &pod_dirs, policy);
        complete(
            &format!("process:{}", p.pid),
            KIND,
            p.component,
            &findings,
            &mut out,
        );
    }
    for c in COMPONENTS {
        if !scan.processes.iter().any(|p| p.component == c) {
            let message = format!(
                "no {c} process is running on this node ({} processes in {}, {} of them unreadable)",
                scan.seen,
                proc_dir.display(),
                scan.unreadable
            );
            let source = proc_dir.display().to_string();
            let skips: Vec<Finding> = c.rules().iter().map(|&r| skip(r, &message)).collect();
            complete(&source, KIND, c, &skips, &mut out);
        }
    }
    out
}

/// kube-apiserver and kube-controller-manager: their argv, and a note when the static pod
/// manifest says something else.
fn control_plane(p: &Process, root: &Path, pod_dirs: &[PathBuf], policy: &Policy) -> Vec<Finding> {
    let loc = "argv";
    let mut findings = match p.component {
        Component::ApiServer => checks::apiserver(&p.flags, loc, policy, false),
        _ => checks::controller_manager(&p.flags, loc, policy),
    };
    let mut found = Vec::new();
    for dir in pod_dirs {
        let (_, host) = kubelet_merge::host_path(root, dir, None);
        found.extend(drift::manifests(root, &host, p.component));
    }
    for note in drift::compare(p.component, &p.flags, &found) {
        if let Some(f) = findings.iter_mut().find(|f| f.rule == note.rule) {
            f.message = format!("{}. Drift: {}", f.message, note.text);
        }
    }
    findings
}

fn field_of(rule: RuleId) -> Field {
    match rule {
        RuleId::KubeletRotateServerCert => Field::Gate,
        _ => Field::ServerTlsBootstrap,
    }
}

/// The kubelet: its merged configuration and its flags together, one finding per rule, each
/// saying which layer decided it. `flag_source` says where a flag was written, when known.
pub fn kubelet(
    flags: &Flags,
    merged: &Merged,
    policy: &Policy,
    flag_source: &dyn Fn(&str) -> Option<String>,
) -> Vec<Finding> {
    let mut findings = checks::kubelet(Some(&merged.files), Some(flags), "", policy);
    for f in &mut findings {
        let field = field_of(f.rule);
        let by_flag = matches!(merged.origin.get(&field), Some(Layer::Flag(_)));
        if !merged.errors.is_empty() && !by_flag {
            let errors: Vec<String> = merged.errors.iter().map(ToString::to_string).collect();
            f.status = Status::Error;
            f.message = format!(
                "cannot read the kubelet's configuration: {}. No flag sets {}, so what the kubelet runs with is unknown (and it will not start again with this configuration)",
                errors.join("; "),
                field.keys().join(".")
            );
            f.remediation = None;
            f.location = merged.errors[0].path.display().to_string();
            continue;
        }
        f.location = merged
            .origin
            .get(&field)
            .map_or_else(|| "kubelet default".to_string(), ToString::to_string);
        f.message = format!("{} ({})", f.message, provenance(merged, field, flag_source));
    }
    findings
}

/// Which layer decided `field`, in words.
pub fn provenance(
    merged: &Merged,
    field: Field,
    flag_source: &dyn Fn(&str) -> Option<String>,
) -> String {
    let show = |l: &Layer| match l {
        Layer::Flag(name) => match flag_source(name) {
            Some(from) => format!("{l} ({from})"),
            None => l.to_string(),
        },
        _ => l.to_string(),
    };
    let name = field.keys().join(".");
    let history = merged.history.get(&field).map(Vec::as_slice).unwrap_or(&[]);
    match history.split_last() {
        None => format!(
            "no layer sets {name} (config file, drop-ins or flags), so the kubelet default applies"
        ),
        Some((last, earlier)) => {
            let verb = if field.get(&merged.effective).is_some() {
                "decided by the"
            } else {
                "removed by the"
            };
            let mut s = format!("{name} {verb} {}", show(last));
            if !earlier.is_empty() {
                let over: Vec<String> = earlier.iter().rev().map(show).collect();
                s.push_str(&format!(", overriding the {}", over.join(" and the ")));
            }
            s
        }
    }
}

/// A `skip` finding for `rule`.
pub(crate) fn skip(rule: RuleId, message: &str) -> Finding {
    Finding {
        rule,
        component: rule.component(),
        location: String::new(),
        status: Status::Skip,
        message: message.to_string(),
        remediation: None,
    }
}

/// Findings as records, plus a `skip` for the rules of the other components.
pub(crate) fn complete(
    source: &str,
    kind: &str,
    component: Component,
    findings: &[Finding],
    out: &mut Vec<Record>,
) {
    let other: Vec<Finding> = RuleId::ALL
        .into_iter()
        .filter(|r| r.component() != component)
        .map(|r| skip(r, &format!("not a {}", r.component())))
        .collect();
    for f in findings.iter().chain(&other) {
        out.push(Record {
            source: source.to_string(),
            object: component.as_str().to_string(),
            kind: kind.to_string(),
            component: Some(f.rule.component()),
            location: f.location.clone(),
            rule: Some(f.rule),
            controls: f.rule.controls().to_vec(),
            status: f.status,
            message: f.message.clone(),
            remediation: f.remediation.clone(),
        });
    }
}
