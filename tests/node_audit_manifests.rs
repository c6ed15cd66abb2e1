//! The node-audit kustomize component (issue 11, point 5): rendered alone and beside the webhook
//! base with the real `kubectl kustomize`, read through the typed Kubernetes models, and held to
//! what the issue asks: hostPID, the host's `/` read-only at /host, `--root /host --proc /proc`,
//! control-plane tolerations, nothing writable, no API access. The container's arguments are then
//! run through the real binary against a fake node, so the manifest cannot drift from the CLI.

mod common;
use common::nodefs::FakeNode;
use common::skip::require_tool;
use common::*;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Container, Namespace};
use serde::Deserialize;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

const NS: &str = "kubelet-tls-guard-node-audit";

fn render(dir: &Path) -> Vec<Value> {
    let out = Command::new("kubectl")
        .args(["kustomize"])
        .arg(dir)
        .output()
        .expect("run kubectl kustomize");
    assert!(
        out.status.success(),
        "{}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_yaml_ng::Deserializer::from_str(&String::from_utf8_lossy(&out.stdout))
        .map(|d| Value::deserialize(d).expect("rendered YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

fn daemonset(objects: &[Value]) -> DaemonSet {
    let found: Vec<&Value> = objects
        .iter()
        .filter(|o| o["kind"] == "DaemonSet")
        .collect();
    assert_eq!(found.len(), 1, "one DaemonSet");
    serde_json::from_value(found[0].clone()).expect("typed DaemonSet")
}

fn assert_locked_down(c: &Container) {
    let sc = c
        .security_context
        .as_ref()
        .expect("container securityContext");
    assert_eq!(sc.allow_privilege_escalation, Some(false), "{}", c.name);
    assert_eq!(sc.read_only_root_filesystem, Some(true), "{}", c.name);
    assert_ne!(sc.privileged, Some(true), "{}", c.name);
    let drop = sc
        .capabilities
        .as_ref()
        .and_then(|caps| caps.drop.clone())
        .unwrap_or_default();
    assert_eq!(drop, vec!["ALL".to_string()], "{}", c.name);
    assert!(
        sc.capabilities
            .as_ref()
            .and_then(|caps| caps.add.as_ref())
            .is_none(),
        "{}",
        c.name
    );
    let limits = c.resources.as_ref().and_then(|r| r.limits.as_ref());
    assert!(
        limits.is_some_and(|l| l.contains_key("memory")),
        "{}",
        c.name
    );
}

fn assert_node_audit(objects: &[Value]) -> Vec<String> {
    let ds = daemonset(objects);
    assert_eq!(ds.metadata.namespace.as_deref(), Some(NS));
    let ns: Namespace = serde_json::from_value(
        objects
            .iter()
            .find(|o| o["kind"] == "Namespace" && o["metadata"]["name"] == NS)
            .expect("the audit's namespace")
            .clone(),
    )
    .expect("typed Namespace");
    let labels = ns.metadata.labels.unwrap_or_default();
    assert_eq!(
        labels
            .get("pod-security.kubernetes.io/enforce")
            .map(String::as_str),
        Some("privileged"),
        "hostPID and hostPath are refused under baseline"
    );
    let spec = ds
        .spec
        .and_then(|s| s.template.spec)
        .expect("pod template spec");
    assert_eq!(spec.host_pid, Some(true));
    assert_ne!(spec.host_network, Some(true));
    assert_ne!(spec.host_ipc, Some(true));
    assert_eq!(spec.automount_service_account_token, Some(false));
    let tolerations = spec.tolerations.clone().unwrap_or_default();
    assert!(
        tolerations.iter().any(|t| {
            t.key.as_deref() == Some("node-role.kubernetes.io/control-plane")
                && t.operator.as_deref() == Some("Exists")
        }),
        "{tolerations:?}"
    );
    let volumes = spec.volumes.clone().unwrap_or_default();
    let host = volumes
        .iter()
        .find(|v| v.host_path.as_ref().is_some_and(|h| h.path == "/"))
        .expect("a hostPath volume of /");
    assert_eq!(volumes.len(), 1, "the host's / is the only volume");
    let init = spec.init_containers.clone().unwrap_or_default();
    let all: Vec<&Container> = init.iter().chain(spec.containers.iter()).collect();
    for c in &all {
        assert_locked_down(c);
        for m in c.volume_mounts.clone().unwrap_or_default() {
            assert_eq!(m.read_only, Some(true), "{}: {}", c.name, m.mount_path);
        }
    }
    let check = init
        .iter()
        .find(|c| {
            c.image
                .as_deref()
                .is_some_and(|i| i.starts_with("kubelet-tls-guard"))
        })
        .expect("the check container");
    let mount = check
        .volume_mounts
        .clone()
        .unwrap_or_default()
        .into_iter()
        .find(|m| m.name == host.name)
        .expect("host / mounted in the check container");
    assert_eq!(mount.mount_path, "/host");
    assert_eq!(mount.recursive_read_only.as_deref(), Some("IfPossible"));
    let args = check.args.clone().unwrap_or_default();
    for want in ["check", "--node", "--root=/host", "--proc=/proc"] {
        assert!(args.iter().any(|a| a == want), "{want} in {args:?}");
    }
    args
}

#[test]
fn node_audit_renders_alone_and_beside_the_webhook() {
    if !require_tool("kubectl", "the node-audit component is not rendered") {
        return;
    }
    let manifests = crate_dir().join("manifests");
    let alone = render(&manifests.join("overlays/node-audit"));
    let args = assert_node_audit(&alone);
    assert_eq!(alone.len(), 3, "namespace, service account, daemonset");

    // Beside the webhook: an overlay of the base plus the component, in a copy of manifests/
    // (kustomize wants relative paths).
    let tmp = tempfile::tempdir().expect("temp dir");
    for entry in walkdir::WalkDir::new(&manifests) {
        let entry = entry.expect("walk manifests");
        let to = tmp.path().join(
            entry
                .path()
                .strip_prefix(&manifests)
                .expect("under manifests"),
        );
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&to).expect("mkdir");
        } else {
            std::fs::copy(entry.path(), &to).expect("copy manifest");
        }
    }
    let overlay = tmp.path().join("overlays/with-node-audit");
    std::fs::create_dir_all(&overlay).expect("mkdir overlay");
    std::fs::write(
        overlay.join("kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../../base\ncomponents:\n  - ../../components/node-audit\n",
    )
    .expect("write kustomization");
    let both = render(&overlay);
    assert_node_audit(&both);
    assert!(both.iter().any(|o| o["kind"] == "Deployment"));
    for o in &both {
        if o["kind"] == "Namespace" && o["metadata"]["name"] == "kubelet-tls-guard" {
            assert_eq!(
                o["metadata"]["labels"]["pod-security.kubernetes.io/enforce"], "restricted",
                "the webhook's namespace stays restricted"
            );
        }
    }

    // The binary accepts exactly these arguments, with /host and /proc pointing at a fake node.
    let n = FakeNode::new();
    n.process(
        7,
        &[
            "kube-controller-manager",
            "--feature-gates=RotateKubeletServerCertificate=true",
        ],
    );
    let root = format!("--root={}", n.root.display());
    let proc_dir = format!("--proc={}", n.proc_dir.display());
    let mut argv: Vec<&str> = args
        .iter()
        .map(|a| match a.as_str() {
            "--root=/host" => root.as_str(),
            "--proc=/proc" => proc_dir.as_str(),
            "--format=text" => "--format=json",
            other => other,
        })
        .collect();
    if !argv.contains(&"--format=json") {
        argv.push("--format=json");
    }
    let out = run(&argv, None);
    assert_eq!(out.code, 0, "{} {}", out.stdout, out.stderr);
    let results = out.results();
    assert!(
        results
            .iter()
            .any(|r| r.source == "process:7" && r.rule == CM && r.status == PASS),
        "{results:#?}"
    );

    // And the audit's own DaemonSet is nothing the rules judge.
    let ds = manifests.join("components/node-audit/daemonset.yaml");
    let run = check_paths(None, &[ds.as_path()]);
    assert_eq!(run.code, 0);
    assert!(run.results().iter().all(|r| r.status == "skip"));
}
