//! The real API server harness itself (tests/common/apiserver.rs): identities, authorization,
//! admission setup, the audit log, and that nothing outlives the test process.

mod common;

use common::apiserver::{self, ApiServer};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn both(out: &std::process::Output) -> String {
    format!("{}{}", stdout(out), String::from_utf8_lossy(&out.stderr))
}

/// `kubectl auth whoami -o json` with `kubeconfig`: (user name, groups).
fn whoami(s: &ApiServer, kubeconfig: &Path) -> (String, Vec<String>) {
    let out = s.kubectl_as(kubeconfig, &["auth", "whoami", "-o", "json"], None);
    assert!(out.status.success(), "whoami: {}", both(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("whoami JSON");
    let info = &v["status"]["userInfo"];
    let groups = info["groups"]
        .as_array()
        .map(|g| {
            g.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    (info["username"].as_str().unwrap_or("").to_string(), groups)
}

#[test]
fn starts_quickly_and_admin_is_cluster_admin() {
    let Some(s) = apiserver::shared() else { return };
    assert!(
        s.startup < Duration::from_secs(30),
        "start-up took {:?}",
        s.startup
    );
    let out = s.kubectl(&["version", "-o", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).expect("version JSON");
    assert_eq!(
        v["serverVersion"]["minor"], "34",
        "server version {}",
        v["serverVersion"]
    );
    let (user, groups) = whoami(s, &s.admin_kubeconfig);
    assert_eq!(user, "kubernetes-admin");
    assert!(groups.contains(&"system:masters".to_string()), "{groups:?}");
    let out = s.kubectl(&["auth", "can-i", "*", "*"]);
    assert_eq!(stdout(&out).trim(), "yes", "{}", both(&out));
}

#[test]
fn node_identity_is_restricted_to_its_own_node() {
    let Some(s) = apiserver::shared() else { return };
    let n1 = s.node_kubeconfig("harness-n1");
    let (user, groups) = whoami(s, &n1);
    assert_eq!(user, "system:node:harness-n1");
    assert!(groups.contains(&"system:nodes".to_string()), "{groups:?}");
    // A kubelet registers its own Node...
    let node = |name: &str| format!("apiVersion: v1\nkind: Node\nmetadata:\n  name: {name}\n");
    let out = s.kubectl_as(&n1, &["create", "-f", "-"], Some(&node("harness-n1")));
    assert!(out.status.success(), "own node: {}", both(&out));
    // ...but not another one (the Node authorizer and NodeRestriction both refuse it).
    let out = s.kubectl_as(&n1, &["create", "-f", "-"], Some(&node("harness-n2")));
    assert!(
        !out.status.success(),
        "created another node: {}",
        both(&out)
    );
    assert!(
        both(&out).contains("Forbidden") || both(&out).contains("forbidden"),
        "{}",
        both(&out)
    );
    let out = s.kubectl_as(&n1, &["auth", "can-i", "list", "secrets", "-A"], None);
    assert!(stdout(&out).starts_with("no"), "{}", both(&out));
}

#[test]
fn serviceaccount_token_authenticates_with_no_rights() {
    let Some(s) = apiserver::shared() else { return };
    let kc = s.serviceaccount_kubeconfig("harness-sa", "reader");
    let (user, groups) = whoami(s, &kc);
    assert_eq!(user, "system:serviceaccount:harness-sa:reader");
    assert!(
        groups.contains(&"system:serviceaccounts:harness-sa".to_string()),
        "{groups:?}"
    );
    // The same path twice: one ServiceAccount, one kubeconfig.
    assert_eq!(kc, s.serviceaccount_kubeconfig("harness-sa", "reader"));
    for (verb, what) in [
        ("get", "pods"),
        ("list", "secrets"),
        ("create", "configmaps"),
    ] {
        let out = s.kubectl_as(
            &kc,
            &["auth", "can-i", verb, what, "-n", "harness-sa"],
            None,
        );
        assert_eq!(stdout(&out).trim(), "no", "{verb} {what}: {}", both(&out));
    }
}

#[test]
fn pods_are_created_without_a_default_serviceaccount_and_audited() {
    let Some(s) = apiserver::shared() else { return };
    s.ensure_namespace("harness-pods");
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: harness-pods\nspec:\n  containers:\n  - name: c\n    image: registry.k8s.io/pause:3.10\n";
    s.apply_yaml(pod).expect("create a Pod");
    let out = s.kubectl(&["get", "pod", "p", "-n", "harness-pods", "-o", "name"]);
    assert_eq!(stdout(&out).trim(), "pod/p", "{}", both(&out));
    let event = s.wait_audit_event(Duration::from_secs(10), |e| {
        e["objectRef"]["resource"] == "pods"
            && e["objectRef"]["namespace"] == "harness-pods"
            && e["verb"] == "create"
            && e["stage"] == "ResponseComplete"
    });
    let event = event.expect("an audit event for the Pod create");
    assert_eq!(event["level"], "Metadata");
    assert_eq!(event["user"]["username"], "kubernetes-admin");
    assert_eq!(event["responseStatus"]["code"], 201);
}

/// Run by `nothing_outlives_the_test_process` in a child process (and a no-op otherwise): start
/// a server, print where it lives, and die without unwinding or running any exit code.
#[test]
fn child_starts_a_server_then_aborts() {
    if std::env::var_os("KTG_HARNESS_CHILD").is_none() {
        return;
    }
    let Some(s) = apiserver::shared() else { return };
    let pids: Vec<String> = ["etcd.pid", "kube-apiserver.pid"]
        .iter()
        .map(|f| std::fs::read_to_string(s.dir.join(f)).unwrap_or_default())
        .map(|p| p.trim().to_string())
        .collect();
    println!("CHILD-DIR={}", s.dir.display());
    println!("CHILD-PIDS={}", pids.join(" "));
    std::process::abort();
}

#[test]
fn nothing_outlives_the_test_process() {
    // The binaries must exist for the child to start anything: check it through the parent.
    if apiserver::shared().is_none() {
        return;
    }
    let exe = std::env::current_exe().expect("test executable");
    let out = Command::new(exe)
        .args([
            "--exact",
            "child_starts_a_server_then_aborts",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("KTG_HARNESS_CHILD", "1")
        .env_remove("KTG_KEEP_APISERVER_DIR")
        .output()
        .expect("run the child test");
    let text = both(&out);
    assert!(!out.status.success(), "the child should abort: {text}");
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.split_once(key).map(|(_, v)| v))
            .unwrap_or_else(|| panic!("no {key} in the child's output: {text}"))
            .to_string()
    };
    let dir = field("CHILD-DIR=");
    let pids = field("CHILD-PIDS=");
    let pids: Vec<&str> = pids.split_whitespace().collect();
    assert_eq!(pids.len(), 2, "pids {pids:?}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let alive: Vec<&&str> = pids
            .iter()
            .filter(|p| Path::new("/proc").join(p).exists())
            .collect();
        let dir_left = Path::new(&dir).exists();
        if alive.is_empty() && !dir_left {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "20 s after the test process died: processes {alive:?} alive, dir {dir} exists: {dir_left}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}
