//! `scan --kubelet-access proxy` through the real kube-apiserver's node proxy: the API server
//! dials the fake kubelet with its client certificate and verifies it against
//! `--kubelet-certificate-authority`. kube-apiserver refuses to proxy to loopback addresses
//! ("address not allowed"), so this needs a local non-loopback address the fake kubelets may
//! bind, given as KTG_PROXYABLE_IP (e.g. one added to `lo` for the run).

mod common;

use common::apiserver;
use common::fake_kubelet::{self as fk, Behaviour, Cert, TestCa};
use common::scan_support::{self as ss, message_of, status_of};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs KTG_PROXYABLE_IP: kube-apiserver does not proxy to loopback kubelets"]
async fn proxy_mode_reads_configz_through_the_real_node_proxy() {
    let Ok(ip) = std::env::var("KTG_PROXYABLE_IP") else {
        common::skip::skip("KTG_PROXYABLE_IP is not set");
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
            s.apply_yaml(
                &json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
                    .to_string(),
            )
            .expect("node");
            let status = json!({"status": {"addresses": [{"type": "InternalIP", "address": ip}],
                                "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}});
            let out = s.kubectl(&[
                "patch",
                "node",
                name,
                "--subresource=status",
                "--type=merge",
                "-p",
                &status.to_string(),
            ]);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "kube-root-ca.crt", "namespace": "kube-system"}, "data": {"ca.crt": ca_cert}});
        s.apply_yaml(&cm.to_string()).expect("root ca");
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
