//! The csr-approver kustomize component renders (with `kubectl kustomize`) into the install that
//! DESIGN.md section 10 and issue 12 ask for: 2 replicas under a PDB, the webhook's hardened pod,
//! probes on the metrics port, and RBAC that grants exactly the verbs the approver uses.

#[path = "support/skip.rs"]
mod skip;

use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

const NAME: &str = "kubelet-tls-guard-csr-approver";

fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.expect("walk manifests");
        let target = to.join(entry.path().strip_prefix(from).expect("prefix"));
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Base + component in an overlay of a copy of manifests/, rendered.
fn render() -> Option<Vec<Value>> {
    if !skip::require_tool("kubectl", "the csr-approver component rendering") {
        return None;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests"),
        tmp.path(),
    );
    let overlay = tmp.path().join("overlays/with-approver");
    std::fs::create_dir_all(&overlay).expect("mkdir");
    std::fs::write(
        overlay.join("kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n\
         resources: [../../base]\ncomponents: [../../components/csr-approver]\n",
    )
    .expect("write overlay");
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(&overlay)
        .output()
        .expect("run kubectl kustomize");
    assert!(
        out.status.success(),
        "kubectl kustomize: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    Some(
        serde_yaml_ng::Deserializer::from_str(&text)
            .map(|d| {
                let v: serde_yaml_ng::Value =
                    serde::Deserialize::deserialize(d).expect("YAML document");
                serde_json::to_value(v).expect("JSON")
            })
            .filter(|v| !v.is_null())
            .collect(),
    )
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str, ns: Option<&str>) -> &'a Value {
    objects
        .iter()
        .find(|o| {
            o["kind"] == kind
                && o["metadata"]["name"] == name
                && o["metadata"]["namespace"].as_str() == ns
        })
        .unwrap_or_else(|| panic!("no {kind} {ns:?}/{name} rendered"))
}

/// Each rule as (apiGroup, resource, resourceNames, verb) tuples, so that a rule split or merged
/// differently compares equal and an extra verb anywhere shows.
fn grants(role: &Value) -> BTreeSet<String> {
    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut out = BTreeSet::new();
    for rule in role["rules"].as_array().expect("rules") {
        let names = strs(&rule["resourceNames"]).join("|");
        for g in strs(&rule["apiGroups"]) {
            for r in strs(&rule["resources"]) {
                for v in strs(&rule["verbs"]) {
                    out.insert(format!("{g}/{r}[{names}]:{v}"));
                }
            }
        }
    }
    out
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn rbac_is_exactly_what_the_approver_uses() {
    let Some(objects) = render() else { return };
    let cr = find(&objects, "ClusterRole", NAME, None);
    assert_eq!(
        grants(cr),
        set(&[
            "certificates.k8s.io/certificatesigningrequests[]:get",
            "certificates.k8s.io/certificatesigningrequests[]:list",
            "certificates.k8s.io/certificatesigningrequests[]:watch",
            "certificates.k8s.io/certificatesigningrequests/approval[]:update",
            "certificates.k8s.io/signers[kubernetes.io/kubelet-serving]:approve",
            "/nodes[]:get",
            "/nodes[]:list",
            "/nodes[]:watch",
        ])
    );
    let lease = find(
        &objects,
        "Role",
        &format!("{NAME}-lease"),
        Some("kubelet-tls-guard"),
    );
    assert_eq!(
        grants(lease),
        set(&[
            "coordination.k8s.io/leases[]:create",
            &format!("coordination.k8s.io/leases[{NAME}]:get"),
            &format!("coordination.k8s.io/leases[{NAME}]:patch"),
        ])
    );
    let events = find(&objects, "Role", &format!("{NAME}-events"), Some("default"));
    assert_eq!(
        grants(events),
        set(&[
            "events.k8s.io/events[]:create",
            "events.k8s.io/events[]:patch"
        ])
    );
    // Every grant goes to the approver's ServiceAccount, and only to it.
    for (kind, name, ns) in [
        ("ClusterRoleBinding", NAME.to_string(), None),
        (
            "RoleBinding",
            format!("{NAME}-lease"),
            Some("kubelet-tls-guard"),
        ),
        ("RoleBinding", format!("{NAME}-events"), Some("default")),
    ] {
        let b = find(&objects, kind, &name, ns);
        assert_eq!(
            b["subjects"],
            json!([{"kind": "ServiceAccount", "name": NAME, "namespace": "kubelet-tls-guard"}]),
            "{kind} {name}"
        );
    }
    find(&objects, "ServiceAccount", NAME, Some("kubelet-tls-guard"));
}

#[test]
fn deployment_is_hardened_replicated_and_probed() {
    let Some(objects) = render() else { return };
    let d = find(&objects, "Deployment", NAME, Some("kubelet-tls-guard"));
    assert_eq!(d["spec"]["replicas"], 2);
    let pod = &d["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], NAME);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let containers = pod["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    assert_eq!(c["image"], "kubelet-tls-guard:0.1.0");
    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
    let args: Vec<&str> = c["args"]
        .as_array()
        .expect("args")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(args.first(), Some(&"approve-csrs"));
    assert!(args.contains(&"--leader-elect"), "{args:?}");
    let listen = args
        .iter()
        .find_map(|a| a.strip_prefix("--metrics-listen="))
        .expect("--metrics-listen");
    let port: u64 = listen
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("metrics port");
    let metrics_port = c["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .find(|p| p["name"] == "metrics")
        .expect("metrics port");
    assert_eq!(metrics_port["containerPort"], port);
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["port"], "metrics");
    assert_eq!(c["livenessProbe"]["httpGet"]["port"], "metrics");
    let env: Vec<&str> = c["env"]
        .as_array()
        .expect("env")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert!(
        env.contains(&"POD_NAME") && env.contains(&"POD_NAMESPACE"),
        "{env:?}"
    );

    // The PDB covers these pods and not the webhook's (and the reverse).
    let labels = &d["spec"]["template"]["metadata"]["labels"];
    let pdb = find(
        &objects,
        "PodDisruptionBudget",
        NAME,
        Some("kubelet-tls-guard"),
    );
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    for (k, v) in pdb["spec"]["selector"]["matchLabels"]
        .as_object()
        .expect("selector")
    {
        assert_eq!(&labels[k], v, "PDB selector {k}");
    }
    let webhook = find(
        &objects,
        "Deployment",
        "kubelet-tls-guard",
        Some("kubelet-tls-guard"),
    );
    for (k, v) in webhook["spec"]["selector"]["matchLabels"]
        .as_object()
        .expect("webhook selector")
    {
        assert_ne!(
            &labels[k], v,
            "the webhook's selector {k} would match approver pods"
        );
    }
}

#[test]
fn deployment_args_parse() {
    // The shipped args against the real binary: clap rejects an unknown flag (exit 2) before it
    // gets to the trailing --help.
    let Some(objects) = render() else { return };
    let d = find(&objects, "Deployment", NAME, Some("kubelet-tls-guard"));
    let args: Vec<String> = d["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .expect("args")
        .iter()
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();
    let bin = env!("CARGO_BIN_EXE_kubelet-tls-guard");
    let mut with_help = args.clone();
    with_help.push("--help".into());
    let out = Command::new(bin)
        .args(&with_help)
        .output()
        .expect("run binary");
    assert!(
        out.status.success(),
        "args {args:?} rejected: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
