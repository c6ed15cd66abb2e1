//! `scan` against a real kube-apiserver (tests/common/apiserver.rs): Nodes whose status points at
//! fake kubelets on loopback, control-plane Pods and ConfigMaps created through the API, a
//! kubelet-serving CSR created by a node identity, the shipped RBAC as the only rights of the
//! scan's ServiceAccount, the real node proxy, and OpenReports written with server-side apply.

mod common;

use common::apiserver::{self, ApiServer};
use common::fake_kubelet::{self as fk, Behaviour, Cert, FakeKubelet, TestCa};
use common::scan_support::{self as ss, message_of, status_of};
use serde_json::{Value, json};

const SERVING: &str = "kubelet-serving-cert-verified";

fn kubectl_ok(s: &ApiServer, args: &[&str]) -> String {
    let out = s.kubectl(args);
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn apply_json(s: &ApiServer, v: &Value) {
    if let Err(e) = s.apply_yaml(&v.to_string()) {
        panic!("apply {}: {e}", v["metadata"]["name"]);
    }
}

/// A Node reachable only at 127.0.0.1:PORT (no Hostname address: the API server would dial it
/// first and it does not resolve).
fn create_node(s: &ApiServer, name: &str, port: u16) {
    let addresses = json!([{"type": "InternalIP", "address": "127.0.0.1"}]);
    s.node_listening(name, addresses, port);
}

/// An object from a fixture, without the fields the API server sets.
fn clean(mut v: Value) -> Value {
    if let Some(m) = v["metadata"].as_object_mut() {
        for k in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "ownerReferences",
            "managedFields",
            "generation",
        ] {
            m.remove(k);
        }
    }
    if let Some(m) = v.as_object_mut() {
        m.remove("status");
    }
    v
}

/// A kubelet-serving CSR created by the node itself, as a kubelet with serverTLSBootstrap does.
fn create_node_csr(s: &ApiServer, node: &str, name: &str) {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut p = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).expect("params");
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::OrganizationName, "system:nodes");
    dn.push(rcgen::DnType::CommonName, format!("system:node:{node}"));
    p.distinguished_name = dn;
    let pem = p.serialize_request(&key).expect("csr").pem().expect("pem");
    use base64::Engine;
    let csr = json!({"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
        "spec": {"signerName": "kubernetes.io/kubelet-serving",
                 "request": base64::engine::general_purpose::STANDARD.encode(pem),
                 "usages": ["digital signature", "server auth"]}});
    let out = s.kubectl_as(
        &s.node_kubeconfig(node),
        &["create", "-f", "-"],
        Some(&csr.to_string()),
    );
    assert!(
        out.status.success(),
        "create CSR as {node}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

struct Setup {
    s: &'static ApiServer,
    kubelets: Vec<FakeKubelet>,
    sa_kubeconfig: std::path::PathBuf,
}

async fn setup() -> Option<Setup> {
    let s = tokio::task::block_in_place(apiserver::shared)?;
    let (ca_cert, ca_key) = s.kubelet_ca_pem();
    let ca = TestCa::from_pem(&ca_cert, &ca_key);
    let good = fk::start(
        "scan-a",
        &fk::pair_for(&ca, "scan-a", Cert::CaSigned),
        Behaviour::Serve {
            configz: fk::configz(Some(true), Some(true)),
            metrics: fk::metrics(true),
        },
    )
    .await;
    let selfsigned = fk::start(
        "scan-b",
        &fk::pair_for(&ca, "scan-b", Cert::SelfSigned),
        Behaviour::Serve {
            configz: fk::configz(None, None),
            metrics: fk::metrics(true),
        },
    )
    .await;
    let (pa, pb) = (good.port(), selfsigned.port());
    let sa_kubeconfig = tokio::task::block_in_place(|| {
        create_node(s, "scan-a", pa);
        create_node(s, "scan-b", pb);
        create_node_csr(s, "scan-b", "csr-scan-b-1");
        // The control plane and kubeadm's ConfigMaps, as a kubeadm cluster has them.
        apply_json(
            s,
            &clean(ss::without_flag(
                ss::fixture_pod("kube-apiserver.pod"),
                "--kubelet-certificate-authority",
            )),
        );
        apply_json(s, &clean(ss::fixture_pod("kube-controller-manager.pod")));
        let kubeadm = ss::fixture_pod("kubeadm-config.v1beta4");
        apply_json(s, &clean(kubeadm));
        let root_ca = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "kube-root-ca.crt", "namespace": "kube-system"}, "data": {"ca.crt": ca_cert}});
        apply_json(s, &root_ca);
        // The shipped component: its RBAC is all the scan's ServiceAccount may do.
        s.ensure_namespace("kubelet-tls-guard");
        let dir = common::crate_dir().join("manifests/components/scan");
        let built = kubectl_ok(s, &["kustomize", &dir.display().to_string()]);
        s.apply_yaml(&built).expect("apply the scan component");
        s.serviceaccount_kubeconfig("kubelet-tls-guard", "kubelet-tls-guard-scan")
    });
    Some(Setup {
        s,
        kubelets: vec![good, selfsigned],
        sa_kubeconfig,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_a_real_api_server_with_the_shipped_rbac() {
    if !common::skip::require_tool("kubectl", "scan against a real kube-apiserver") {
        return;
    }
    let Some(st) = setup().await else { return };
    let s = st.s;
    let url = s.url.clone();

    // Least privilege, as the API server's authorizer sees it.
    let sa = "system:serviceaccount:kubelet-tls-guard:kubelet-tls-guard-scan";
    // (`kubectl auth can-i get nodes/proxy` would ask about a Node named "proxy".)
    for (verb, what, sub, want) in [
        ("get", "nodes", "configz", "yes"),
        ("get", "nodes", "metrics", "yes"),
        ("list", "nodes", "", "yes"),
        ("get", "nodes", "proxy", "no"),
        ("create", "pods", "exec", "no"),
        ("list", "pods", "", "yes"),
        ("list", "secrets", "", "no"),
        ("get", "configmaps/kube-proxy", "", "no"),
        ("get", "configmaps/kubeadm-config", "", "yes"),
        ("update", "certificatesigningrequests", "approval", "no"),
    ] {
        let mut args = vec!["auth", "can-i", verb, what, "-n", "kube-system", "--as", sa];
        if !sub.is_empty() {
            args.push("--subresource");
            args.push(sub);
        }
        let out = tokio::task::block_in_place(|| s.kubectl(&args));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            want,
            "can-i {verb} {what} {sub}"
        );
    }

    // Direct mode with the ServiceAccount.
    let (run, _) = ss::run(ss::args(&st.sa_kubeconfig, "json", "5s", &[])).await;
    let report = run.json();
    assert!(
        report["results"][0]["source"]
            .as_str()
            .is_some_and(|x| x == format!("cluster:{url}"))
    );
    assert_eq!(status_of(&report, "node/scan-a", SERVING), "pass");
    assert_eq!(
        status_of(&report, "node/scan-a", "kubelet-rotate-server-cert"),
        "pass"
    );
    assert_eq!(status_of(&report, "node/scan-b", SERVING), "fail");
    assert!(
        message_of(&report, "node/scan-b", SERVING).contains("csr-scan-b-1"),
        "pending CSR named"
    );
    assert_eq!(
        status_of(
            &report,
            "kube-system/kube-apiserver-manual",
            "apiserver-kubelet-ca"
        ),
        "fail"
    );
    assert_eq!(
        status_of(
            &report,
            "kube-system/kube-controller-manager-manual",
            "controller-manager-rotate-kubelet-server-cert"
        ),
        "pass"
    );
    assert!(
        report["results"].as_array().is_some_and(|a| a
            .iter()
            .any(|r| r["object"] == "kube-system/kubeadm-config")),
        "kubeadm-config judged"
    );
    // The shipped RBAC was enough: the only errors are the unverified kubelet's configuration.
    let errors: Vec<&Value> = report["results"]
        .as_array()
        .map(|a| a.iter().filter(|r| r["status"] == "error").collect())
        .unwrap_or_default();
    assert!(
        errors.iter().all(|r| r["object"] == "node/scan-b"),
        "unexpected errors: {errors:#?}"
    );
    let r = &report["readiness"]["kubeletCertificateAuthority"];
    assert_eq!(
        (
            r["safe"].as_bool(),
            r["nodes"].as_u64(),
            r["verified"].as_u64()
        ),
        (Some(false), Some(2), Some(1))
    );
    // The ServiceAccount's token went to the verified kubelet only.
    assert!(st.kubelets[1].auth_headers().is_empty());
    assert!(
        st.kubelets[0]
            .auth_headers()
            .iter()
            .all(|h| h.starts_with("Bearer "))
    );
    assert_eq!(run.code, 2, "{}", run.stderr);

    // Proxy mode through the real node proxy: the ServiceAccount lacks nodes/proxy...
    let (run, _) = ss::run(ss::args(
        &st.sa_kubeconfig,
        "json",
        "5s",
        &["--kubelet-access", "proxy"],
    ))
    .await;
    let report = run.json();
    assert!(
        message_of(&report, "node/scan-a", "kubelet-rotate-server-cert").contains("nodes/proxy")
    );
    // ...the admin has it, but kube-apiserver refuses to proxy to a loopback address: the
    // scan reports the API server's own refusal for that node and goes on. (The path where the
    // API server really dials a kubelet is tests/scan_apiserver_proxy.rs.)
    let before = st.kubelets[0].requested().len();
    let (run, _) = ss::run(ss::args(
        &s.admin_kubeconfig,
        "json",
        "5s",
        &["--kubelet-access", "proxy"],
    ))
    .await;
    let report = run.json();
    assert_eq!(
        status_of(&report, "node/scan-a", "kubelet-rotate-server-cert"),
        "error"
    );
    let m = message_of(&report, "node/scan-a", "kubelet-rotate-server-cert");
    assert!(
        m.contains("nodes/scan-a/proxy/configz") && m.contains("address not allowed"),
        "{m}"
    );
    assert_eq!(st.kubelets[0].requested().len(), before);
    assert_eq!(status_of(&report, "node/scan-a", SERVING), "pass");

    // --apply-reports: first without the CRDs, then with them.
    let (run, _) = ss::run(ss::args(
        &st.sa_kubeconfig,
        "json",
        "5s",
        &["--apply-reports"],
    ))
    .await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("OpenReports CRDs"), "{}", run.stderr);
    tokio::task::block_in_place(|| {
        for f in [
            "openreports.io_reports.yaml",
            "openreports.io_clusterreports.yaml",
        ] {
            let path = common::fixtures_dir().join("openreports").join(f);
            kubectl_ok(
                s,
                &["apply", "--server-side", "-f", &path.display().to_string()],
            );
        }
        kubectl_ok(
            s,
            &[
                "wait",
                "--for=condition=Established",
                "crd/reports.openreports.io",
                "crd/clusterreports.openreports.io",
                "--timeout=30s",
            ],
        );
    });
    let (run, _) = ss::run(ss::args(
        &st.sa_kubeconfig,
        "json",
        "5s",
        &["--apply-reports"],
    ))
    .await;
    assert!(run.stderr.contains("applied"), "{}", run.stderr);
    let out = tokio::task::block_in_place(|| {
        kubectl_ok(
            s,
            &[
                "get",
                "clusterreports.openreports.io",
                "kubelet-tls-guard-node-scan-a",
                "-o",
                "json",
                "--show-managed-fields",
            ],
        )
    });
    let cr: Value = serde_json::from_str(&out).expect("ClusterReport JSON");
    assert_eq!(cr["scope"]["name"], "scan-a");
    assert!(cr["metadata"]["managedFields"].as_array().is_some_and(|m| {
        m.iter()
            .any(|f| f["manager"] == "kubelet-tls-guard" && f["operation"] == "Apply")
    }));
    assert!(cr["summary"]["pass"].as_u64().is_some_and(|n| n >= 3));
    let out = tokio::task::block_in_place(|| {
        kubectl_ok(
            s,
            &[
                "get",
                "reports.openreports.io",
                "-n",
                "kube-system",
                "-o",
                "json",
            ],
        )
    });
    let reps: Value = serde_json::from_str(&out).expect("Report list");
    assert!(reps["items"].as_array().is_some_and(|i| {
        i.iter()
            .any(|r| r["scope"]["name"] == "kube-apiserver-manual")
    }));
}
