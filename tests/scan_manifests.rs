//! The scan component: least-privilege RBAC (no nodes/proxy, no Secrets, no wildcards), the
//! CronJob wired to its ServiceAccount, and nodes/proxy only through the opt-in patch.

mod common;

use serde::Deserialize;
use serde_json::Value;
use std::process::Command;

fn build(dir: &std::path::Path) -> Option<Vec<Value>> {
    let out = Command::new("kubectl")
        .args(["kustomize"])
        .arg(dir)
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "kustomize: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    Some(
        serde_yaml_ng::Deserializer::from_str(&text)
            .map(|d| Value::deserialize(d).expect("yaml"))
            .collect(),
    )
}

fn rules(docs: &[Value], kind: &str) -> Vec<(String, String, Vec<String>)> {
    docs.iter()
        .filter(|d| d["kind"] == kind)
        .flat_map(|d| d["rules"].as_array().cloned().unwrap_or_default())
        .flat_map(|r| {
            let verbs: Vec<String> = r["verbs"]
                .as_array()
                .map(|v| {
                    v.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let groups: Vec<String> = r["apiGroups"]
                .as_array()
                .map(|v| {
                    v.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let res: Vec<String> = r["resources"]
                .as_array()
                .map(|v| {
                    v.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            groups.into_iter().flat_map(move |g| {
                let verbs = verbs.clone();
                res.clone()
                    .into_iter()
                    .map(move |r| (g.clone(), r, verbs.clone()))
            })
        })
        .collect()
}

#[test]
fn the_scan_component_grants_the_least_and_no_nodes_proxy() {
    if !common::skip::require_tool("kubectl", "kustomize build of the scan component") {
        return;
    }
    let dir = common::crate_dir().join("manifests/components/scan");
    let Some(docs) = build(&dir) else { return };
    let cluster = rules(&docs, "ClusterRole");
    let ns = rules(&docs, "Role");
    let mut all = cluster.clone();
    all.extend(ns.clone());
    for (g, r, verbs) in &all {
        assert!(
            g != "*" && r != "*" && !verbs.iter().any(|v| v == "*"),
            "wildcard in {g}/{r} {verbs:?}"
        );
        assert!(
            r != "nodes/proxy" && r != "secrets" && r != "pods/exec",
            "{r} granted"
        );
        if !r.contains("reports") {
            assert!(
                verbs.iter().all(|v| v == "get" || v == "list"),
                "{r} may {verbs:?}"
            );
        }
    }
    let has = |set: &[(String, String, Vec<String>)], r: &str, v: &str| {
        set.iter()
            .any(|(_, res, verbs)| res == r && verbs.iter().any(|x| x == v))
    };
    for (r, v) in [
        ("nodes", "list"),
        ("nodes/configz", "get"),
        ("nodes/metrics", "get"),
        ("certificatesigningrequests", "list"),
        ("clusterreports", "patch"),
    ] {
        assert!(has(&cluster, r, v), "ClusterRole lacks {v} {r}");
    }
    for (r, v) in [
        ("pods", "list"),
        ("configmaps", "get"),
        ("reports", "patch"),
    ] {
        assert!(has(&ns, r, v), "Role lacks {v} {r}");
    }
    let role = docs.iter().find(|d| d["kind"] == "Role").expect("Role");
    assert_eq!(role["metadata"]["namespace"], "kube-system");
    let cron = docs
        .iter()
        .find(|d| d["kind"] == "CronJob")
        .expect("CronJob");
    let spec = &cron["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(spec["serviceAccountName"], "kubelet-tls-guard-scan");
    let args: Vec<&str> = spec["containers"][0]["args"]
        .as_array()
        .expect("args")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(args.first(), Some(&"scan"));
    assert!(!args.iter().any(|a| a.contains("proxy")), "{args:?}");

    // The opt-in component, used as its comment says, adds nodes/proxy and the flag, nothing else.
    let tmp = tempfile::tempdir().expect("tmp");
    // Components must be relative: copy both beside a throw-away overlay.
    let overlay = tmp.path().join("overlay");
    std::fs::create_dir_all(&overlay).expect("mkdir");
    for name in ["scan", "scan-nodes-proxy"] {
        let from = common::crate_dir().join("manifests/components").join(name);
        let to = tmp.path().join(name);
        std::fs::create_dir_all(&to).expect("mkdir");
        for e in std::fs::read_dir(&from).expect("read component") {
            let e = e.expect("entry");
            std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
        }
    }
    std::fs::write(
        overlay.join("kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\ncomponents: [../scan, ../scan-nodes-proxy]\n",
    )
    .expect("write");
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(&overlay)
        .output()
        .expect("kubectl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let patched: Vec<Value> =
        serde_yaml_ng::Deserializer::from_str(&String::from_utf8_lossy(&out.stdout))
            .map(|d| Value::deserialize(d).expect("yaml"))
            .collect();
    let after = rules(&patched, "ClusterRole");
    assert!(has(&after, "nodes/proxy", "get"));
    assert_eq!(after.len(), cluster.len() + 1);
    assert_eq!(rules(&patched, "Role").len(), ns.len());
    let cron = patched
        .iter()
        .find(|d| d["kind"] == "CronJob")
        .expect("CronJob");
    let args = &cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"];
    assert!(
        args.as_array()
            .is_some_and(|a| a.iter().any(|x| x == "--kubelet-access=proxy"))
    );
}
