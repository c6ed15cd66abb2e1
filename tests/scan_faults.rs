//! `scan` against an in-test API server for what a real kube-apiserver cannot be made to do:
//! a 503 storm on the node proxy (the kube client retries on its own), list responses that never
//! come; plus paging, the OpenReports output and `--apply-reports`.

mod common;

use common::fake_apiserver::{ApiState, FakeApi, node, root_ca_config_map};
use common::fake_kubelet::{self as fk, Behaviour, Cert, FakeKubelet, TestCa};
use common::scan_support::{self as ss, message_of, status_of};
use serde_json::{Value, json};
use std::sync::atomic::Ordering;
use std::time::Duration;

async fn setup(
    ca: &TestCa,
    n: usize,
    state: ApiState,
) -> (FakeApi, Vec<FakeKubelet>, tempfile::TempDir) {
    let mut kubelets = Vec::new();
    let mut state = state;
    for i in 0..n {
        let name = format!("node-{i}");
        let k = fk::start(
            &name,
            &fk::pair_for(ca, &name, Cert::CaSigned),
            Behaviour::Serve {
                configz: fk::configz(Some(true), Some(true)),
                metrics: fk::metrics(true),
            },
        )
        .await;
        state.nodes.push(node(&name, "127.0.0.1", k.port()));
        kubelets.push(k);
    }
    state
        .config_maps
        .insert("kube-root-ca.crt".into(), root_ca_config_map(&ca.pem));
    let api = FakeApi::start(ca, state).await;
    let dir = tempfile::tempdir().expect("tempdir");
    (api, kubelets, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_storm_on_the_proxy_is_bounded_by_the_per_node_timeout() {
    let ca = TestCa::new("ca");
    let (api, _k, dir) = setup(
        &ca,
        3,
        ApiState {
            proxy_503: true,
            ..Default::default()
        },
    )
    .await;
    let kc = api.kubeconfig(dir.path(), Some("t"), None);
    let (run, took) = ss::run(ss::args(
        &kc,
        "json",
        "1500ms",
        &["--kubelet-access", "proxy"],
    ))
    .await;
    let report = run.json();
    for i in 0..3 {
        let obj = format!("node/node-{i}");
        // The certificate is still judged by a direct handshake; configz failed through the proxy.
        assert_eq!(
            status_of(&report, &obj, "kubelet-serving-cert-verified"),
            "pass"
        );
        assert_eq!(
            status_of(&report, &obj, "kubelet-rotate-server-cert"),
            "error"
        );
        let m = message_of(&report, &obj, "kubelet-rotate-server-cert");
        assert!(
            m.contains("nodes/node-") && m.contains("proxy/configz"),
            "{m}"
        );
    }
    // The client did retry (more than one proxy request per node) and the deadline cut it off.
    let hits = api.proxy_hits.load(Ordering::SeqCst);
    assert!(hits > 3, "only {hits} proxy requests: no retries seen");
    assert!(took < Duration::from_millis(4500), "scan took {took:?}");
    assert_eq!(run.code, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_list_is_an_error_after_the_timeout_not_a_hang() {
    let ca = TestCa::new("ca");
    let (api, _k, dir) = setup(
        &ca,
        1,
        ApiState {
            hang_lists: true,
            ..Default::default()
        },
    )
    .await;
    let kc = api.kubeconfig(dir.path(), Some("t"), None);
    let (run, took) = ss::run(ss::args(&kc, "json", "1s", &[])).await;
    let report = run.json();
    let errors: Vec<&Value> = report["results"]
        .as_array()
        .map(|a| a.iter().filter(|r| r["status"] == "error").collect())
        .unwrap_or_default();
    for what in ["pods", "nodes"] {
        assert!(
            errors.iter().any(|r| r["object"] == what
                && r["message"].as_str().is_some_and(|m| m.contains("list"))),
            "no error for {what}: {errors:?}"
        );
    }
    assert!(took < Duration::from_secs(5), "scan took {took:?}");
    assert_eq!(run.code, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_are_listed_in_pages_and_every_page_is_judged() {
    let ca = TestCa::new("ca");
    let mut pods: Vec<Value> = (0..240)
        .map(|i| {
            json!({"metadata": {"name": format!("app-{i}"), "namespace": "kube-system"},
                        "spec": {"containers": [{"name": "app", "image": "nginx"}]}})
        })
        .collect();
    // The control plane sits on the last page.
    pods.push(ss::fixture_pod("kube-apiserver.pod"));
    pods.push(ss::fixture_pod("kube-controller-manager.pod"));
    let (api, _k, dir) = setup(
        &ca,
        1,
        ApiState {
            pods,
            ..Default::default()
        },
    )
    .await;
    let kc = api.kubeconfig(dir.path(), Some("t"), None);
    let (run, _) = ss::run(ss::args(&kc, "json", "5s", &[])).await;
    let report = run.json();
    assert_eq!(
        status_of(
            &report,
            "kube-system/kube-apiserver-manual",
            "apiserver-kubelet-ca"
        ),
        "pass"
    );
    let pod_lists: Vec<String> = api
        .requests()
        .into_iter()
        .filter(|(m, p, _)| m == "GET" && p.starts_with("/api/v1/namespaces/kube-system/pods?"))
        .map(|(_, p, _)| p)
        .collect();
    assert_eq!(pod_lists.len(), 3, "{pod_lists:?}");
    assert!(
        pod_lists.iter().all(|p| p.contains("limit=100")),
        "{pod_lists:?}"
    );
    assert!(
        pod_lists[1].contains("continue=100") && pod_lists[2].contains("continue=200"),
        "{pod_lists:?}"
    );
    // Ordinary pods add no results.
    assert!(!run.stdout.contains("app-17"));
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Nothing was written: every request was a read.
    assert!(api.requests().iter().all(|(m, _, _)| m == "GET"));
}

fn yaml_docs(text: &str) -> Vec<Value> {
    use serde::Deserialize;
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).expect("yaml document"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openreports_format_and_apply() {
    let ca = TestCa::new("ca");
    let pods = vec![ss::fixture_pod("kube-apiserver.mirror-pod")];
    let (api, _k, dir) = setup(
        &ca,
        2,
        ApiState {
            pods,
            ..Default::default()
        },
    )
    .await;
    let kc = api.kubeconfig(dir.path(), Some("t"), None);

    let (run, _) = ss::run(ss::args(&kc, "openreports", "5s", &[])).await;
    let docs = yaml_docs(&run.stdout);
    let node0 = docs
        .iter()
        .find(|d| d["kind"] == "ClusterReport" && d["scope"]["name"] == "node-0")
        .unwrap_or_else(|| panic!("no ClusterReport for node-0 in\n{}", run.stdout));
    assert_eq!(node0["apiVersion"], "openreports.io/v1alpha1");
    assert_eq!(node0["source"], "kubelet-tls-guard");
    assert_eq!(node0["scope"]["kind"], "Node");
    let policies: Vec<&str> = node0["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["policy"].as_str())
        .collect();
    for p in [
        "kubelet-serving-cert-verified",
        "kubelet-rotate-server-cert",
        "kubelet-server-tls-bootstrap",
    ] {
        assert!(policies.contains(&p), "{p} missing from {policies:?}");
    }
    let rot = node0["results"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|r| r["policy"] == "kubelet-rotate-server-cert")
        })
        .expect("rot");
    assert_eq!(rot["result"], "pass");
    assert_eq!(rot["scored"], true);
    assert_eq!(rot["category"], "CIS Kubernetes Benchmark");
    assert!(rot["rule"].as_str().is_some_and(|r| r.contains("4.2.11")));
    assert!(
        rot["properties"]["evidence"]
            .as_str()
            .is_some_and(|e| e.contains("/configz"))
    );
    assert_eq!(rot["resources"][0]["name"], "node-0");
    let pod = docs
        .iter()
        .find(|d| d["kind"] == "Report" && d["metadata"]["namespace"] == "kube-system")
        .expect("a namespaced Report for the pod");
    assert_eq!(pod["scope"]["kind"], "Pod");
    assert_eq!(pod["scope"]["name"], "kube-apiserver-cp-1");
    for d in &docs {
        let results = d["results"].as_array().expect("results");
        for s in ["pass", "fail", "warn", "error", "skip"] {
            let n = results.iter().filter(|r| r["result"] == s).count();
            assert_eq!(
                d["summary"][s], n,
                "summary.{s} of {}",
                d["metadata"]["name"]
            );
        }
    }

    // No CRDs: a clear error, exit 2, and nothing written.
    let (run, _) = ss::run(ss::args(&kc, "json", "5s", &["--apply-reports"])).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("OpenReports CRDs"), "{}", run.stderr);
    assert!(api.applied().is_empty());

    // With the CRDs: one server-side apply per document, field manager kubelet-tls-guard.
    if let Ok(mut s) = api.state.lock() {
        s.openreports = true;
    }
    let (run, _) = ss::run(ss::args(&kc, "json", "5s", &["--apply-reports"])).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let applied = api.applied();
    assert_eq!(applied.len(), docs.len(), "{applied:?}");
    assert!(applied.iter().all(|(_, m, _)| m == "kubelet-tls-guard"));
    assert!(applied.iter().any(|(p, _, b)| p
        == "/apis/openreports.io/v1alpha1/clusterreports/kubelet-tls-guard-node-node-1"
        && b["kind"] == "ClusterReport"));
    assert!(applied.iter().any(|(p, _, _)| {
        p.starts_with("/apis/openreports.io/v1alpha1/namespaces/kube-system/reports/")
    }));
    let patches: Vec<String> = api
        .requests()
        .into_iter()
        .filter(|(m, _, _)| m == "PATCH")
        .map(|(_, p, _)| p)
        .collect();
    assert!(
        patches.iter().all(|p| p.contains("force=true")),
        "{patches:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_a_stuck_scan_at_once() {
    let ca = TestCa::new("ca");
    let (api, _k, dir) = setup(
        &ca,
        1,
        ApiState {
            hang_lists: true,
            ..Default::default()
        },
    )
    .await;
    let kc = api.kubeconfig(dir.path(), Some("t"), None);
    let args = ss::args(&kc, "json", "60s", &[]);
    let (code, took, stdout) = tokio::task::spawn_blocking(move || {
        let child = std::process::Command::new(common::bin())
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(Duration::from_millis(800));
        let t = std::time::Instant::now();
        let kill = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(kill.success());
        let out = child.wait_with_output().expect("wait");
        (
            out.status.code(),
            t.elapsed(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    })
    .await
    .expect("join");
    assert_eq!(code, Some(130));
    assert!(took < Duration::from_secs(3), "took {took:?} to stop");
    assert!(stdout.is_empty(), "no partial report: {stdout}");
}

/// Kubeconfig resolution as kubectl's: KUBECONFIG when no --kubeconfig, and --context picks a
/// context other than the current one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubeconfig_from_the_environment_and_context_flag() {
    let ca = TestCa::new("ca");
    let (api, _k, dir) = setup(&ca, 1, ApiState::default()).await;
    let kc = api.kubeconfig(dir.path(), Some("t"), None);
    // Add a dead cluster as the current context; "fake" stays the good one.
    let mut v: Value =
        serde_json::from_str(&std::fs::read_to_string(&kc).expect("read")).expect("json");
    v["clusters"]
        .as_array_mut()
        .expect("clusters")
        .push(json!({"name": "dead", "cluster": {"server": "https://127.0.0.1:1"}}));
    v["contexts"]
        .as_array_mut()
        .expect("contexts")
        .push(json!({"name": "dead", "context": {"cluster": "dead", "user": "fake"}}));
    v["current-context"] = json!("dead");
    std::fs::write(&kc, v.to_string()).expect("write");
    let run_env = |extra: Vec<&'static str>| {
        let kc = kc.clone();
        let home = dir.path().to_path_buf();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(common::bin())
                .args(["scan", "--format", "json", "--timeout", "2s"])
                .args(extra)
                .env("KUBECONFIG", &kc)
                .env("HOME", &home)
                .output()
                .expect("run")
        })
    };
    let good = run_env(vec!["--context", "fake"]).await.expect("join");
    assert_eq!(
        good.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    let report: Value = serde_json::from_slice(&good.stdout).expect("json");
    assert_eq!(
        report["readiness"]["kubeletCertificateAuthority"]["verified"],
        1
    );
    let dead = run_env(vec![]).await.expect("join");
    assert_eq!(dead.status.code(), Some(2));
    let report: Value = serde_json::from_slice(&dead.stdout).expect("json");
    assert!(
        report["results"].as_array().is_some_and(|a| a
            .iter()
            .any(|r| r["object"] == "nodes" && r["status"] == "error")),
        "{report}"
    );
}
