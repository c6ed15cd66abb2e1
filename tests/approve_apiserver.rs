//! `approve-csrs` against a real kube-apiserver (issue 12): CSRs created by node identities (so
//! the API server itself sets spec.username and spec.groups), Nodes created with real addresses,
//! and the approver running as its ServiceAccount with only the shipped RBAC. Its decisions go
//! through the real `/approval` subresource, where the API server also checks the `approve` verb
//! on the kubelet-serving signer.
//!
//! `--once` judges everything pending in the cluster, so these tests take one lock and name their
//! objects uniquely.

mod common;

use base64::Engine as _;
use common::apiserver::webhook::{eventually, text};
use common::apiserver::{self, ApiServer};
use common::approver::{SA_NS, SERVING, approver_cmd, install, lock, out_text, run_approver};
use common::csr_fixtures::{Shape, kubelet_shape, request_pem};
use serde_json::{Value, json};
use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn create_as(s: &ApiServer, kubeconfig: &Path, obj: &Value) {
    let out = s.kubectl_as(kubeconfig, &["create", "-f", "-"], Some(&obj.to_string()));
    assert!(
        out.status.success(),
        "create {}: {}",
        obj["metadata"]["name"],
        text(&out)
    );
}

/// Node `name` with `(type, address)` status.addresses, created by the node itself (as a kubelet
/// registers; NodeRestriction lets it create only its own Node).
fn create_node(s: &ApiServer, name: &str, addresses: &[(&str, &str)]) {
    let addrs: Vec<Value> = addresses
        .iter()
        .map(|(t, a)| json!({"type": t, "address": a}))
        .collect();
    let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
                      "status": {"addresses": addrs}});
    create_as(s, &s.node_kubeconfig(name), &node);
    let got = get(s, "node", name);
    assert_eq!(
        got["status"]["addresses"].as_array().map(Vec::len),
        Some(addresses.len()),
        "the API server kept the addresses: {got}"
    );
}

/// A CSR for `signer` with `pem`, created with `kubeconfig` (a node's, usually).
fn create_csr(
    s: &ApiServer,
    kubeconfig: &Path,
    name: &str,
    signer: &str,
    pem: &str,
    usages: &[&str],
) {
    let csr = json!({
        "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
        "spec": {"request": base64::engine::general_purpose::STANDARD.encode(pem),
                 "signerName": signer, "usages": usages}});
    create_as(s, kubeconfig, &csr);
}

fn serving_csr(s: &ApiServer, node: &str, name: &str, shape: &Shape) {
    create_csr(
        s,
        &s.node_kubeconfig(node),
        name,
        SERVING,
        &request_pem(shape),
        &["digital signature", "key encipherment", "server auth"],
    );
}

fn get(s: &ApiServer, kind: &str, name: &str) -> Value {
    let out = s.kubectl(&["get", kind, name, "-o", "json"]);
    assert!(out.status.success(), "get {kind} {name}: {}", text(&out));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// `(type, reason)` of each condition of CSR `name`.
fn conditions(s: &ApiServer, name: &str) -> Vec<(String, String)> {
    get(s, "csr", name)["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["type"].as_str().unwrap_or("").to_string(),
                c["reason"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Successful approval-subresource writes to CSR `name`, by user, from the audit log.
fn approval_writes(s: &ApiServer, name: &str) -> Vec<String> {
    s.audit_events()
        .iter()
        .filter(|e| {
            e["stage"] == "ResponseComplete"
                && e["objectRef"]["resource"] == "certificatesigningrequests"
                && e["objectRef"]["subresource"] == "approval"
                && e["objectRef"]["name"] == name
                && e["verb"] == "update"
                && e["responseStatus"]["code"]
                    .as_i64()
                    .is_some_and(|c| c < 300)
        })
        .map(|e| e["user"]["username"].as_str().unwrap_or("").to_string())
        .collect()
}

fn events_about(s: &ApiServer, name: &str) -> Vec<Value> {
    let out = s.kubectl(&["get", "events.events.k8s.io", "-n", "default", "-o", "json"]);
    assert!(out.status.success(), "list events: {}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["regarding"]["name"] == name)
        .cloned()
        .collect()
}

const SA_USER: &str = "system:serviceaccount:kubelet-tls-guard:kubelet-tls-guard-csr-approver";

#[test]
fn once_and_dry_run_decide_each_csr_on_its_own() {
    let Some(s) = apiserver::shared() else { return };
    let _g = lock();
    let kc = install(s);
    create_node(
        s,
        "once-a",
        &[("InternalIP", "10.20.0.1"), ("Hostname", "once-a")],
    );
    create_node(
        s,
        "once-b",
        &[("InternalIP", "10.20.0.2"), ("Hostname", "once-b")],
    );
    serving_csr(
        s,
        "once-a",
        "once-good",
        &kubelet_shape("once-a", &["10.20.0.1"]),
    );
    serving_csr(
        s,
        "once-a",
        "once-cross",
        &kubelet_shape("once-a", &["10.20.0.1", "10.20.0.2"]),
    );
    serving_csr(
        s,
        "once-a",
        "once-email",
        &Shape {
            emails: vec!["ops@once-a".into()],
            ..kubelet_shape("once-a", &["10.20.0.1"])
        },
    );
    serving_csr(
        s,
        "once-late",
        "once-pending",
        &kubelet_shape("once-late", &["10.20.0.9"]),
    );
    // The admin asks for node once-a's certificate: spec.username is the admin's, not a node's.
    create_csr(
        s,
        &s.admin_kubeconfig,
        "once-impostor",
        SERVING,
        &request_pem(&kubelet_shape("once-a", &["10.20.0.1"])),
        &["digital signature", "key encipherment", "server auth"],
    );
    // Another signer's CSR from the same node is never touched.
    create_csr(
        s,
        &s.node_kubeconfig("once-a"),
        "once-client",
        "kubernetes.io/kube-apiserver-client-kubelet",
        &request_pem(&Shape {
            dns: vec![],
            ..kubelet_shape("once-a", &[])
        }),
        &["digital signature", "key encipherment", "client auth"],
    );
    let all = [
        "once-good",
        "once-cross",
        "once-email",
        "once-pending",
        "once-impostor",
        "once-client",
    ];
    // The API server set the identity from the client certificate.
    let good = get(s, "csr", "once-good");
    assert_eq!(good["spec"]["username"], "system:node:once-a");
    assert!(
        good["spec"]["groups"]
            .as_array()
            .is_some_and(|g| g.iter().any(|x| x == "system:nodes")),
        "{good}"
    );

    // --dry-run: the same judgement, nothing written.
    let dry = run_approver(&kc, &["--once", "--dry-run"]);
    assert!(dry.status.success(), "{}", out_text(&dry));
    let dry_out = String::from_utf8_lossy(&dry.stdout);
    assert!(
        dry_out.contains("approved 1, denied 3, pending 1, errors 0"),
        "{}",
        out_text(&dry)
    );
    for name in all {
        assert!(conditions(s, name).is_empty(), "dry-run wrote to {name}");
        assert!(
            approval_writes(s, name).is_empty(),
            "dry-run wrote to {name}"
        );
        assert!(
            events_about(s, name).is_empty(),
            "dry-run recorded an Event on {name}"
        );
    }

    let once = run_approver(&kc, &["--once", "--log-format", "json"]);
    assert!(once.status.success(), "{}", out_text(&once));
    assert!(
        String::from_utf8_lossy(&once.stdout).contains("approved 1, denied 3, pending 1, errors 0"),
        "{}",
        out_text(&once)
    );
    let want = [
        ("once-good", Some(("Approved", "AllChecksPassed"))),
        ("once-cross", Some(("Denied", "SANNotNodeAddress"))),
        ("once-email", Some(("Denied", "SANTypeForbidden"))),
        ("once-impostor", Some(("Denied", "UsernameNotNode"))),
        ("once-pending", None),
        ("once-client", None),
    ];
    for (name, want) in want {
        let got = conditions(s, name);
        match want {
            Some((t, r)) => {
                assert_eq!(got, vec![(t.to_string(), r.to_string())], "{name}");
                assert_eq!(
                    approval_writes(s, name),
                    vec![SA_USER.to_string()],
                    "{name}"
                );
                let evs = events_about(s, name);
                assert!(
                    evs.iter().any(|e| e["reason"] == r),
                    "{name}: no Event with reason {r}: {evs:?}"
                );
            }
            None => assert!(got.is_empty(), "{name} was touched: {got:?}"),
        }
    }
    // One structured log line per decision, naming the CSR, decision and reason.
    let log = String::from_utf8_lossy(&once.stderr);
    let lines: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["message"] == "CSR decision")
        .collect();
    for (name, decision, reason) in [
        ("once-good", "approved", "AllChecksPassed"),
        ("once-cross", "denied", "SANNotNodeAddress"),
        ("once-pending", "pending", "NodeNotFound"),
    ] {
        let n = lines
            .iter()
            .filter(|l| l["csr"] == name && l["decision"] == decision && l["reason"] == reason)
            .count();
        assert_eq!(n, 1, "{name}: log lines {lines:?}");
    }

    // The ServiceAccount could not approve another signer's CSR even if the code tried: the API
    // server checks `approve` on the signer.
    let forced = s.kubectl_as(&kc, &["certificate", "approve", "once-client"], None);
    assert!(
        !forced.status.success() && text(&forced).contains("forbidden"),
        "{}",
        text(&forced)
    );
    assert!(conditions(s, "once-client").is_empty());

    // A second run decides nothing again: decided CSRs are left alone.
    let again = run_approver(&kc, &["--once"]);
    assert!(
        String::from_utf8_lossy(&again.stdout)
            .contains("approved 0, denied 0, pending 1, errors 0"),
        "{}",
        out_text(&again)
    );
    assert_eq!(approval_writes(s, "once-good").len(), 1);

    // The Node appears: the pending CSR is approved on the next round.
    create_node(
        s,
        "once-late",
        &[("InternalIP", "10.20.0.9"), ("Hostname", "once-late")],
    );
    let last = run_approver(&kc, &["--once"]);
    assert!(last.status.success(), "{}", out_text(&last));
    assert_eq!(
        conditions(s, "once-pending"),
        vec![("Approved".to_string(), "AllChecksPassed".to_string())]
    );
}

/// A running `approve-csrs` (watch mode), killed on drop.
struct Running {
    child: Child,
    metrics: String,
    log: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    fn start(kubeconfig: &Path, extra: &[&str], log: PathBuf) -> Running {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let metrics = format!("127.0.0.1:{port}");
        let file = std::fs::File::create(&log).expect("log file");
        let mut args = vec!["--metrics-listen", &metrics, "--log-format", "json"];
        args.extend_from_slice(extra);
        let child = approver_cmd(kubeconfig, &args)
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start approve-csrs");
        let r = Running {
            child,
            metrics,
            log,
        };
        let ready = eventually(Duration::from_secs(20), || {
            r.http("/readyz")
                .filter(|b| b.starts_with("HTTP/1.1 200"))
                .map(|_| ())
        });
        assert!(ready.is_some(), "not ready: {}", r.log());
        r
    }

    fn http(&self, path: &str) -> Option<String> {
        let mut c = TcpStream::connect(&self.metrics).ok()?;
        use std::io::Write as _;
        write!(
            c,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut body = String::new();
        c.read_to_string(&mut body).ok()?;
        Some(body)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then the exit status (within 10 s).
    fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        eventually(Duration::from_secs(10), || {
            self.child.try_wait().ok().flatten()
        })
    }
}

fn decided(s: &ApiServer, name: &str) -> Option<(String, String)> {
    conditions(s, name).into_iter().next()
}

#[test]
fn watch_mode_decides_new_csrs_and_approves_when_the_node_appears() {
    let Some(s) = apiserver::shared() else { return };
    let _g = lock();
    let kc = install(s);
    create_node(
        s,
        "watch-a",
        &[("InternalIP", "10.30.0.1"), ("Hostname", "watch-a")],
    );
    serving_csr(
        s,
        "watch-a",
        "watch-before",
        &kubelet_shape("watch-a", &["10.30.0.1"]),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let mut run = Running::start(&kc, &[], dir.path().join("approver.log"));

    let wait = |name: &str| {
        eventually(Duration::from_secs(20), || decided(s, name))
            .unwrap_or_else(|| panic!("{name} not decided; log:\n{}", run.log()))
    };
    assert_eq!(wait("watch-before").1, "AllChecksPassed");
    // Added mid-run.
    serving_csr(
        s,
        "watch-a",
        "watch-mid",
        &kubelet_shape("watch-a", &["10.30.0.1"]),
    );
    serving_csr(
        s,
        "watch-a",
        "watch-mid-bad",
        &Shape {
            dns: vec!["watch-a".into(), "kubernetes.default.svc".into()],
            ..kubelet_shape("watch-a", &["10.30.0.1"])
        },
    );
    assert_eq!(
        wait("watch-mid"),
        ("Approved".into(), "AllChecksPassed".into())
    );
    assert_eq!(
        wait("watch-mid-bad"),
        ("Denied".into(), "InClusterName".into())
    );
    // A CSR whose Node does not exist yet stays pending ...
    serving_csr(
        s,
        "watch-late",
        "watch-early-csr",
        &kubelet_shape("watch-late", &["10.30.0.7"]),
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(decided(s, "watch-early-csr"), None);
    // ... until the Node registers: the Node event re-examines it.
    create_node(
        s,
        "watch-late",
        &[("InternalIP", "10.30.0.7"), ("Hostname", "watch-late")],
    );
    let t0 = std::time::Instant::now();
    assert_eq!(wait("watch-early-csr").1, "AllChecksPassed");
    assert!(t0.elapsed() < Duration::from_secs(20));

    let metrics = run.http("/metrics").expect("metrics");
    for line in [
        "kubelet_tls_guard_csr_decisions_total{decision=\"approved\",reason=\"AllChecksPassed\",dry_run=\"false\"} 3",
        "kubelet_tls_guard_csr_decisions_total{decision=\"denied\",reason=\"InClusterName\",dry_run=\"false\"} 1",
        "kubelet_tls_guard_csr_decisions_total{decision=\"pending\",reason=\"NodeNotFound\",dry_run=\"false\"} 1",
    ] {
        assert!(metrics.contains(line), "missing {line} in\n{metrics}");
    }
    for name in [
        "watch-before",
        "watch-mid",
        "watch-mid-bad",
        "watch-early-csr",
    ] {
        assert_eq!(
            approval_writes(s, name).len(),
            1,
            "{name} decided more than once"
        );
    }
    let status = run.terminate();
    assert!(
        status.is_some_and(|s| s.success()),
        "SIGTERM: {status:?}\n{}",
        run.log()
    );
}

#[test]
fn two_leader_elected_replicas_decide_once_and_hand_over_on_sigterm() {
    let Some(s) = apiserver::shared() else { return };
    let _g = lock();
    let kc = install(s);
    create_node(
        s,
        "lease-a",
        &[("InternalIP", "10.40.0.1"), ("Hostname", "lease-a")],
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let args = ["--leader-elect", "--lease-namespace", SA_NS];
    let mut one = Running::start(&kc, &args, dir.path().join("one.log"));
    let mut two = Running::start(&kc, &args, dir.path().join("two.log"));
    let leader_of = |r: &Running| {
        r.http("/metrics").is_some_and(|m| {
            m.lines()
                .any(|l| l == "kubelet_tls_guard_csr_approver_leader 1")
        })
    };
    let Some(first_is_one) = eventually(Duration::from_secs(30), || {
        match (leader_of(&one), leader_of(&two)) {
            (true, false) => Some(true),
            (false, true) => Some(false),
            _ => None,
        }
    }) else {
        panic!(
            "no single leader\none:\n{}\n{:?}\ntwo:\n{}\n{:?}",
            one.log(),
            one.http("/metrics"),
            two.log(),
            two.http("/metrics")
        );
    };
    let shape = kubelet_shape("lease-a", &["10.40.0.1"]);
    serving_csr(s, "lease-a", "lease-1", &shape);
    let got = eventually(Duration::from_secs(20), || decided(s, "lease-1"));
    assert_eq!(got.map(|g| g.1), Some("AllChecksPassed".to_string()));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(approval_writes(s, "lease-1").len(), 1);

    // SIGTERM the leader: it releases the Lease, the other takes over and decides.
    let (leader, standby) = if first_is_one {
        (&mut one, &mut two)
    } else {
        (&mut two, &mut one)
    };
    let status = leader.terminate();
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}\n{}",
        leader.log()
    );
    let took_over = eventually(Duration::from_secs(30), || leader_of(standby).then_some(()));
    assert!(
        took_over.is_some(),
        "standby did not take over:\n{}",
        standby.log()
    );
    serving_csr(s, "lease-a", "lease-2", &shape);
    let got = eventually(Duration::from_secs(20), || decided(s, "lease-2"));
    assert_eq!(got.map(|g| g.1), Some("AllChecksPassed".to_string()));
}
