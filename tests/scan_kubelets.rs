//! `scan` against fake kubelets (real TLS on loopback, certificates from a test CA) listed by an
//! in-test API server: each serving-certificate verdict, the readiness object, that no token
//! reaches an unverified kubelet, and that a hanging kubelet costs no more than the timeout.

mod common;

use common::fake_apiserver::{ApiState, FakeApi, csr, node, root_ca_config_map};
use common::fake_kubelet::{self as fk, Behaviour, Cert, FakeKubelet, TestCa};
use common::scan_support::{self as ss, message_of, status_of};
use serde_json::Value;
use std::time::Duration;

const TOKEN: &str = "scan-test-token-7f3a";
const SERVING: &str = "kubelet-serving-cert-verified";

struct Cluster {
    api: FakeApi,
    kubelets: Vec<FakeKubelet>,
    dir: tempfile::TempDir,
    kubeconfig: std::path::PathBuf,
}

impl Cluster {
    fn kubelet(&self, node: &str) -> &FakeKubelet {
        self.kubelets
            .iter()
            .find(|k| k.node == node)
            .expect("kubelet")
    }
}

fn serve(gate: Option<bool>, bootstrap: Option<bool>) -> Behaviour {
    Behaviour::Serve {
        configz: fk::configz(gate, bootstrap),
        metrics: fk::metrics(true),
    }
}

/// Start one fake kubelet per (node, cert, behaviour), plus `closed` nodes whose port is shut,
/// and an API server listing them all with the control-plane pods given.
async fn cluster(
    ca: &TestCa,
    specs: Vec<(&str, Cert, Behaviour)>,
    closed: &[&str],
    pods: Vec<Value>,
    csrs: Vec<Value>,
) -> Cluster {
    let mut kubelets = Vec::new();
    let mut nodes = Vec::new();
    for (name, cert, behaviour) in specs {
        let k = fk::start(name, &fk::pair_for(ca, name, cert), behaviour).await;
        nodes.push(node(name, "127.0.0.1", k.port()));
        kubelets.push(k);
    }
    for name in closed {
        nodes.push(node(name, "127.0.0.1", fk::closed_port()));
    }
    let mut state = ApiState {
        nodes,
        pods,
        csrs,
        ..Default::default()
    };
    state
        .config_maps
        .insert("kube-root-ca.crt".into(), root_ca_config_map(&ca.pem));
    let api = FakeApi::start(ca, state).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = api.kubeconfig(dir.path(), Some(TOKEN), None);
    Cluster {
        api,
        kubelets,
        dir,
        kubeconfig,
    }
}

fn control_plane_pods() -> Vec<Value> {
    vec![
        // A kube-apiserver without --kubelet-certificate-authority: a fail to find.
        ss::without_flag(
            ss::fixture_pod("kube-apiserver.mirror-pod"),
            "--kubelet-certificate-authority",
        ),
        ss::fixture_pod("kube-controller-manager.mirror-pod"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_serving_certificate_verdict_and_the_readiness_object() {
    let ca = TestCa::new("test-cluster-ca");
    let c = cluster(
        &ca,
        vec![
            ("node-a", Cert::CaSigned, serve(Some(true), Some(true))),
            ("node-b", Cert::SelfSigned, serve(Some(true), Some(true))),
            ("node-c", Cert::Expired, serve(Some(true), Some(true))),
            ("node-d", Cert::WrongSan, serve(Some(true), Some(true))),
            ("node-e", Cert::CaSigned, Behaviour::Hang),
            ("node-g", Cert::CaSigned, Behaviour::Garbage),
            ("node-h", Cert::CaSigned, Behaviour::Huge(50 * 1024 * 1024)),
            ("node-i", Cert::CaSigned, serve(None, Some(true))),
        ],
        &["node-f"],
        control_plane_pods(),
        vec![
            csr("csr-b1", "node-b", "pending"),
            csr("csr-a1", "node-a", "approved"),
            csr("csr-c1", "node-c", "denied"),
        ],
    )
    .await;
    let (run, took) = ss::run(ss::args(&c.kubeconfig, "json", "2s", &[])).await;
    let report = run.json();
    let src = format!("cluster:{}", c.api.url);
    assert!(
        report["results"]
            .as_array()
            .is_some_and(|a| a.iter().all(|r| r["source"] == src.as_str())),
        "every source is {src}"
    );

    // The serving certificate of each node.
    let expect = [
        ("node-a", "pass", "verified for 127.0.0.1"),
        ("node-b", "fail", "self-signed"),
        ("node-c", "fail", "expired"),
        ("node-d", "fail", "does not name the address 127.0.0.1"),
        ("node-e", "error", "no TLS handshake"),
        ("node-f", "error", "127.0.0.1:"),
        ("node-g", "pass", "verified"),
        ("node-h", "pass", "verified"),
        ("node-i", "pass", "verified"),
    ];
    for (n, status, words) in expect {
        let obj = format!("node/{n}");
        assert_eq!(
            status_of(&report, &obj, SERVING),
            status,
            "{n}: {}",
            message_of(&report, &obj, SERVING)
        );
        assert!(
            message_of(&report, &obj, SERVING).contains(words),
            "{n}: {:?} lacks {words:?}",
            message_of(&report, &obj, SERVING)
        );
    }
    // The live configuration: judged only where the kubelet verified and answered sanely.
    assert_eq!(
        status_of(&report, "node/node-a", "kubelet-rotate-server-cert"),
        "pass"
    );
    assert_eq!(
        status_of(&report, "node/node-a", "kubelet-server-tls-bootstrap"),
        "pass"
    );
    for n in ["node-b", "node-c", "node-d"] {
        let m = message_of(&report, &format!("node/{n}"), "kubelet-rotate-server-cert");
        assert_eq!(
            status_of(&report, &format!("node/{n}"), "kubelet-rotate-server-cert"),
            "error"
        );
        assert!(m.contains("credentials not sent"), "{n}: {m}");
    }
    assert!(message_of(&report, "node/node-g", "kubelet-rotate-server-cert").contains("not JSON"));
    assert!(
        message_of(&report, "node/node-h", "kubelet-server-tls-bootstrap").contains("larger than")
    );
    // Gate absent: strict fails, /metrics adds its evidence to the message.
    assert_eq!(
        status_of(&report, "node/node-i", "kubelet-rotate-server-cert"),
        "fail"
    );
    assert!(
        message_of(&report, "node/node-i", "kubelet-rotate-server-cert")
            .contains("/metrics reports the gate enabled")
    );
    // CSRs: pending and denied ones are named in that node's messages; approved ones are not.
    assert!(message_of(&report, "node/node-b", SERVING).contains("csr-b1"));
    assert!(
        message_of(&report, "node/node-c", SERVING)
            .contains("denied kubelet-serving CSR(s) csr-c1")
    );
    assert!(!message_of(&report, "node/node-a", SERVING).contains("csr-a1"));
    // Control-plane pods through the same engine.
    assert_eq!(
        status_of(
            &report,
            "kube-system/kube-apiserver-cp-1",
            "apiserver-kubelet-ca"
        ),
        "fail"
    );
    assert_eq!(
        status_of(
            &report,
            "kube-system/kube-apiserver-cp-1",
            "apiserver-kubelet-client-cert"
        ),
        "pass"
    );
    assert_eq!(
        status_of(
            &report,
            "kube-system/kube-controller-manager-cp-1",
            "controller-manager-rotate-kubelet-server-cert"
        ),
        "pass"
    );

    // Readiness: 4 of 9 verified; the failing ones named with their reason.
    let r = &report["readiness"]["kubeletCertificateAuthority"];
    assert_eq!(r["safe"], false);
    assert_eq!(r["nodes"], 9);
    assert_eq!(r["verified"], 4);
    let failing: Vec<&str> = r["failing"]
        .as_array()
        .expect("failing")
        .iter()
        .filter_map(|f| f["node"].as_str())
        .collect();
    assert_eq!(failing, ["node-b", "node-c", "node-d", "node-e", "node-f"]);
    assert!(
        r["failing"][0]["reason"]
            .as_str()
            .is_some_and(|s| s.contains("self-signed"))
    );

    // No token reached an unverified kubelet; the verified ones got it.
    for n in ["node-b", "node-c", "node-d", "node-e"] {
        assert!(
            c.kubelet(n).auth_headers().is_empty(),
            "{n} received {:?}",
            c.kubelet(n).auth_headers()
        );
    }
    let bearer = format!("Bearer {TOKEN}");
    for n in ["node-a", "node-g", "node-h", "node-i"] {
        let got = c.kubelet(n).auth_headers();
        assert!(
            !got.is_empty() && got.iter().all(|h| *h == bearer),
            "{n} received {got:?}"
        );
    }
    // /metrics only where configz left the gate to its default.
    assert_eq!(c.kubelet("node-a").requested(), ["/configz"]);
    assert_eq!(c.kubelet("node-i").requested(), ["/configz", "/metrics"]);

    // Errors present: exit 2. The hanging kubelet cost at most the 2s timeout.
    assert_eq!(run.code, 2, "stderr: {}", run.stderr);
    assert!(took < Duration::from_secs(6), "scan took {took:?}");
    let summary = &report["summary"];
    let n = |s: &str| {
        report["results"]
            .as_array()
            .map_or(0, |a| a.iter().filter(|r| r["status"] == s).count())
    };
    for s in ["pass", "fail", "warn", "skip", "error"] {
        assert_eq!(summary[s], n(s), "summary.{s}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_kubelet_costs_no_more_than_the_timeout() {
    let ca = TestCa::new("test-cluster-ca");
    let specs = (0..6)
        .map(|i| {
            (
                ["h0", "h1", "h2", "h3", "h4", "h5"][i],
                Cert::CaSigned,
                Behaviour::Hang,
            )
        })
        .collect();
    let c = cluster(&ca, specs, &[], Vec::new(), Vec::new()).await;
    // Concurrency 2: six hanging kubelets take three rounds of the 1s timeout, not more.
    let (run, took) = ss::run(ss::args(
        &c.kubeconfig,
        "json",
        "1s",
        &["--concurrency", "2"],
    ))
    .await;
    let report = run.json();
    for k in &c.kubelets {
        assert_eq!(
            status_of(&report, &format!("node/{}", k.node), SERVING),
            "error"
        );
        assert_eq!(
            k.connections.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "one dial per node"
        );
    }
    assert!(
        took >= Duration::from_secs(3),
        "took {took:?}: the rounds did not wait"
    );
    assert!(
        took < Duration::from_millis(5500),
        "took {took:?}: more than 3 rounds of 1s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_verified_is_safe_and_text_says_so() {
    let ca = TestCa::new("test-cluster-ca");
    let c = cluster(
        &ca,
        vec![
            ("n1", Cert::CaSigned, serve(Some(true), Some(true))),
            ("n2", Cert::CaSigned, serve(Some(true), Some(true))),
        ],
        &[],
        Vec::new(),
        Vec::new(),
    )
    .await;
    let (run, _) = ss::run(ss::args(&c.kubeconfig, "json", "5s", &[])).await;
    let report = run.json();
    let r = &report["readiness"]["kubeletCertificateAuthority"];
    assert_eq!(
        (
            r["safe"].as_bool(),
            r["nodes"].as_u64(),
            r["verified"].as_u64()
        ),
        (Some(true), Some(2), Some(2))
    );
    // No control-plane pod visible: those rules skip with the reason, never fail.
    for rule in [
        "apiserver-kubelet-ca",
        "apiserver-kubelet-client-cert",
        "controller-manager-rotate-kubelet-server-cert",
    ] {
        assert_eq!(status_of(&report, "control-plane", rule), "skip");
        assert!(message_of(&report, "control-plane", rule).contains("managed control plane"));
    }
    assert_eq!(run.code, 0, "stderr {}", run.stderr);
    let (text, _) = ss::run(ss::args(&c.kubeconfig, "text", "5s", &[])).await;
    assert!(
        text.stdout
            .contains("--kubelet-certificate-authority is safe to add"),
        "{}",
        text.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_none_reads_no_configuration_and_sends_nothing() {
    let ca = TestCa::new("test-cluster-ca");
    let c = cluster(
        &ca,
        vec![
            ("n1", Cert::CaSigned, serve(Some(true), Some(true))),
            ("n2", Cert::SelfSigned, serve(None, None)),
        ],
        &[],
        Vec::new(),
        Vec::new(),
    )
    .await;
    let (run, _) = ss::run(ss::args(
        &c.kubeconfig,
        "json",
        "5s",
        &["--kubelet-access", "none"],
    ))
    .await;
    let report = run.json();
    assert_eq!(status_of(&report, "node/n1", SERVING), "pass");
    assert_eq!(status_of(&report, "node/n2", SERVING), "fail");
    assert_eq!(
        status_of(&report, "node/n1", "kubelet-rotate-server-cert"),
        "skip"
    );
    for k in &c.kubelets {
        assert!(
            k.requested().is_empty(),
            "{} got requests {:?}",
            k.node,
            k.requested()
        );
    }
    assert_eq!(run.code, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubelet_ca_flag_overrides_the_cluster_ca() {
    let ca = TestCa::new("test-cluster-ca");
    let other = TestCa::new("another-ca");
    let c = cluster(
        &ca,
        vec![("n1", Cert::CaSigned, serve(Some(true), Some(true)))],
        &[],
        Vec::new(),
        Vec::new(),
    )
    .await;
    let other_pem = c.dir.path().join("other-ca.crt");
    std::fs::write(&other_pem, &other.pem).expect("write");
    let arg = other_pem.display().to_string();
    let (run, _) = ss::run(ss::args(
        &c.kubeconfig,
        "json",
        "5s",
        &["--kubelet-ca", &arg],
    ))
    .await;
    let report = run.json();
    assert_eq!(status_of(&report, "node/n1", SERVING), "fail");
    assert!(
        message_of(&report, "node/n1", SERVING)
            .contains("not issued by the kubelet CA (--kubelet-ca")
    );
    assert!(c.kubelet("n1").auth_headers().is_empty());
}

/// The kubeconfig's other credential kinds reach a verified kubelet, and only a verified one:
/// a client certificate (rustls presents it only after the server's certificate verified) and
/// an exec plugin's token (obtained through kube's own auth layer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_and_exec_tokens_go_to_verified_kubelets_only() {
    let ca = TestCa::new("test-cluster-ca");
    let user = ca.client("scan-user", Some("scanners"));
    let serve = serve(Some(true), Some(true));
    let good = fk::start_full(
        "127.0.0.1",
        "good",
        &fk::pair_for(&ca, "good", Cert::CaSigned),
        serve.clone(),
        Some(&ca.pem),
    )
    .await;
    let bad = fk::start_full(
        "127.0.0.1",
        "bad",
        &fk::pair_for(&ca, "bad", Cert::SelfSigned),
        serve,
        Some(&ca.pem),
    )
    .await;
    let mut state = ApiState {
        nodes: vec![
            node("good", "127.0.0.1", good.port()),
            node("bad", "127.0.0.1", bad.port()),
        ],
        ..Default::default()
    };
    state
        .config_maps
        .insert("kube-root-ca.crt".into(), root_ca_config_map(&ca.pem));
    let api = FakeApi::start(&ca, state).await;
    let dir = tempfile::tempdir().expect("tempdir");

    // Client certificate only.
    let kc = api.kubeconfig(dir.path(), None, Some(&user));
    let (run, _) = ss::run(ss::args(&kc, "json", "5s", &[])).await;
    let report = run.json();
    assert_eq!(
        status_of(&report, "node/good", "kubelet-rotate-server-cert"),
        "pass"
    );
    assert_eq!(status_of(&report, "node/bad", SERVING), "fail");
    let cns = |k: &FakeKubelet| k.client_cns.lock().map(|v| v.clone()).unwrap_or_default();
    assert_eq!(cns(&good), ["scan-user"]);
    assert!(
        cns(&bad).is_empty(),
        "the self-signed kubelet saw {:?}",
        cns(&bad)
    );
    assert!(good.auth_headers().iter().all(String::is_empty));

    // An exec plugin that prints an ExecCredential.
    let cred = r#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"exec-token-42"}}"#;
    let text = std::fs::read_to_string(&kc).expect("kubeconfig");
    let mut v: Value = serde_json::from_str(&text).expect("json");
    v["users"][0]["user"] = serde_json::json!({"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": "sh",
        "args": ["-c", format!("echo '{cred}'")], "interactiveMode": "Never"}});
    let exec_kc = dir.path().join("exec-kubeconfig");
    std::fs::write(&exec_kc, v.to_string()).expect("write");
    let (run, _) = ss::run(ss::args(&exec_kc, "json", "5s", &[])).await;
    let report = run.json();
    assert_eq!(
        status_of(&report, "node/good", "kubelet-rotate-server-cert"),
        "pass",
        "{}",
        run.stderr
    );
    assert!(
        good.auth_headers()
            .contains(&"Bearer exec-token-42".to_string()),
        "{:?}",
        good.auth_headers()
    );
    assert!(bad.auth_headers().is_empty());
    // The API server got the same token.
    assert!(
        api.requests()
            .iter()
            .any(|(_, _, a)| a == "Bearer exec-token-42")
    );
}
