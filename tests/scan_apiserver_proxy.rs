//! `scan --kubelet-access proxy` through the real kube-apiserver's node proxy: the API server
//! dials the fake kubelet with its client certificate and verifies it against
//! `--kubelet-certificate-authority`. kube-apiserver refuses to proxy to loopback addresses
//! ("address not allowed"), so the fake kubelets bind one of this machine's own non-loopback
//! addresses (traffic to it never leaves the host). KTG_PROXYABLE_IP overrides the choice.

mod common;

use common::apiserver;
use common::fake_kubelet::{self as fk, Behaviour, Cert, TestCa};
use common::scan_support::{self as ss, message_of, status_of};
use serde_json::json;
use std::net::{IpAddr, TcpListener, UdpSocket};

/// An address of this host the API server will proxy to: not loopback, link-local or
/// unspecified, and bindable here.
fn proxyable_ip() -> Option<String> {
    if let Ok(ip) = std::env::var("KTG_PROXYABLE_IP") {
        return Some(ip);
    }
    let usable = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => !(v4.is_loopback() || v4.is_link_local() || v4.is_unspecified()),
        IpAddr::V6(_) => false,
    } && TcpListener::bind((ip, 0)).is_ok();
    // The source address the kernel would pick for an outside destination; a connected UDP
    // socket sends nothing.
    let routed = UdpSocket::bind("0.0.0.0:0")
        .and_then(|u| u.connect("192.0.2.1:9").map(|_| u))
        .and_then(|u| u.local_addr())
        .map(|a| a.ip())
        .ok()
        .filter(|ip| usable(*ip));
    if let Some(ip) = routed {
        return Some(ip.to_string());
    }
    // No route out: any global address `ip` lists, or, as root, one from TEST-NET-2 on `lo`.
    let listed = std::process::Command::new("ip")
        .args(["-4", "-o", "addr", "show", "scope", "global"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&listed.stdout).into_owned();
    let found = text
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .and_then(|cidr| cidr.split('/').next())
        .and_then(|ip| ip.parse::<IpAddr>().ok())
        .filter(|ip| usable(*ip));
    if let Some(ip) = found {
        return Some(ip.to_string());
    }
    let added = std::process::Command::new("ip")
        .args(["addr", "add", "198.51.100.77/32", "dev", "lo"])
        .status()
        .is_ok_and(|s| s.success());
    added.then(|| "198.51.100.77".to_string())
}

/// Create Node `name` whose kubelet listens at `port` on `addresses` (Node address objects), and
/// the cluster CA ConfigMap the scan verifies kubelets against.
fn node_at(
    s: &apiserver::ApiServer,
    name: &str,
    addresses: serde_json::Value,
    port: u16,
    ca: &str,
) {
    s.node_listening(name, addresses, port);
    // Once per binary: the tests run in parallel, and two concurrent `kubectl apply`s of a new
    // object race to create it.
    static ROOT_CA: std::sync::Once = std::sync::Once::new();
    ROOT_CA.call_once(|| {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "kube-root-ca.crt", "namespace": "kube-system"}, "data": {"ca.crt": ca}});
        s.apply_yaml(&cm.to_string()).expect("root ca");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_mode_reads_configz_through_the_real_node_proxy() {
    let Some(ip) = proxyable_ip() else {
        common::skip::skip("no non-loopback address on this host for the node proxy to reach");
        return;
    };
    let Some(s) = tokio::task::block_in_place(apiserver::shared) else {
        return;
    };
    let (ca_cert, ca_key) = s.kubelet_ca_pem();
    let ca = TestCa::from_pem(&ca_cert, &ca_key);
    let serve = Behaviour::Serve {
        configz: fk::configz(Some(true), Some(true)),
        metrics: fk::metrics(true),
    };
    let good = fk::start_at(
        &ip,
        "px-a",
        &fk::pair_for_ip(&ca, "px-a", Cert::CaSigned, &ip),
        serve.clone(),
    )
    .await;
    let bad = fk::start_at(
        &ip,
        "px-b",
        &fk::pair_for_ip(&ca, "px-b", Cert::SelfSigned, &ip),
        serve,
    )
    .await;
    tokio::task::block_in_place(|| {
        for (name, port) in [("px-a", good.port()), ("px-b", bad.port())] {
            let addresses = json!([{"type": "InternalIP", "address": ip}]);
            node_at(s, name, addresses, port, &ca_cert);
        }
    });
    let (run, _) = ss::run(ss::args(
        &s.admin_kubeconfig,
        "json",
        "5s",
        &["--kubelet-access", "proxy"],
    ))
    .await;
    let report = run.json();
    // The API server reached the verified kubelet, with its own client certificate (no token).
    assert_eq!(
        status_of(&report, "node/px-a", "kubelet-rotate-server-cert"),
        "pass",
        "{}",
        message_of(&report, "node/px-a", "kubelet-rotate-server-cert")
    );
    assert!(good.requested().contains(&"/configz".to_string()));
    assert!(
        good.auth_headers().iter().all(String::is_empty),
        "the API server sends no bearer token"
    );
    // It refused the self-signed one, exactly as the readiness said it would.
    assert_eq!(
        status_of(&report, "node/px-b", "kubelet-serving-cert-verified"),
        "fail"
    );
    assert_eq!(
        status_of(&report, "node/px-b", "kubelet-rotate-server-cert"),
        "error"
    );
    assert!(bad.requested().is_empty());
}

/// `direct` dials the Node address the API server would: `--kubelet-preferred-address-types`
/// picks it. The kubelet listens only at the InternalIP; the ExternalIP is a closed loopback
/// address, so the chosen address shows in the verdict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_mode_dials_the_preferred_address_type() {
    let Some(s) = tokio::task::block_in_place(apiserver::shared) else {
        return;
    };
    let (ca_cert, ca_key) = s.kubelet_ca_pem();
    let ca = TestCa::from_pem(&ca_cert, &ca_key);
    let kubelet = fk::start(
        "addr-a",
        &fk::pair_for(&ca, "addr-a", Cert::CaSigned),
        Behaviour::Serve {
            configz: fk::configz(Some(true), Some(true)),
            metrics: fk::metrics(true),
        },
    )
    .await;
    let port = kubelet.port();
    let addresses = json!([{"type": "ExternalIP", "address": "127.0.0.2"},
                           {"type": "InternalIP", "address": "127.0.0.1"}]);
    tokio::task::block_in_place(|| node_at(s, "addr-a", addresses, port, &ca_cert));
    const RULE: &str = "kubelet-serving-cert-verified";
    // The default (kubeadm's order) puts InternalIP first.
    let (run, _) = ss::run(ss::args(&s.admin_kubeconfig, "json", "5s", &[])).await;
    let report = run.json();
    assert_eq!(
        status_of(&report, "node/addr-a", RULE),
        "pass",
        "{}",
        message_of(&report, "node/addr-a", RULE)
    );
    let served = kubelet.requested().len();
    assert!(served > 0, "the kubelet was dialled");
    // An API server that prefers ExternalIP reaches the closed address: so does the scan.
    let (run, _) = ss::run(ss::args(
        &s.admin_kubeconfig,
        "json",
        "5s",
        &["--kubelet-preferred-address-types", "ExternalIP,InternalIP"],
    ))
    .await;
    let report = run.json();
    let status = status_of(&report, "node/addr-a", RULE);
    let message = message_of(&report, "node/addr-a", RULE);
    assert_ne!(status, "pass", "{message}");
    assert!(message.contains("127.0.0.2"), "{message}");
    assert_eq!(kubelet.requested().len(), served, "not dialled this time");
    // A type the API server does not know is a usage error.
    let (bad, _) = ss::run(ss::args(
        &s.admin_kubeconfig,
        "json",
        "5s",
        &["--kubelet-preferred-address-types", "InternalIp"],
    ))
    .await;
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("unknown address type"),
        "{}",
        bad.stderr
    );
}
