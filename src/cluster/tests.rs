//! Unit tests of the pure parts of `scan`: the metrics line, the configz answer, CSR grouping,
//! node endpoints and readiness.

use super::csr;
use super::inventory::{DEFAULT_PREFERRED, endpoint, parse_address_types};
use super::kubelet::{Endpoint, Serving};
use super::probe::{Config, NodeProbe, metrics_gate_line, parse_configz};
use super::readiness::assess;
use serde_json::json;

#[test]
fn metrics_line_for_the_gate_only() {
    let on = r#"kubernetes_feature_enabled{name="RotateKubeletServerCertificate",stage="BETA"} 1"#;
    let off = r#"kubernetes_feature_enabled{stage="BETA",name="RotateKubeletServerCertificate"} 0"#;
    assert_eq!(metrics_gate_line(on), Some(true));
    assert_eq!(metrics_gate_line(off), Some(false));
    assert_eq!(
        metrics_gate_line(
            r#"kubernetes_feature_enabled{name="RotateKubeletServerCertificateX"} 1"#
        ),
        None
    );
    assert_eq!(
        metrics_gate_line(r#"kubernetes_feature_enabled{name="AllAlpha"} 1"#),
        None
    );
    assert_eq!(metrics_gate_line("# HELP kubernetes_feature_enabled"), None);
}

#[test]
fn configz_answers() {
    let ok = br#"{"kubeletconfig": {"serverTLSBootstrap": true}}"#;
    assert_eq!(
        parse_configz(200, ok, "x", false),
        Ok(json!({"serverTLSBootstrap": true}))
    );
    assert!(
        parse_configz(200, br#"{"kind": "Status"}"#, "x", false)
            .is_err_and(|e| e.contains("not a kubelet /configz"))
    );
    assert!(parse_configz(200, b"\xff", "x", false).is_err_and(|e| e.contains("not JSON")));
    assert!(parse_configz(403, b"", "x", false).is_err_and(|e| e.contains("nodes/configz")));
    assert!(parse_configz(403, b"", "x", true).is_err_and(|e| e.contains("nodes/proxy")));
    assert!(parse_configz(401, b"", "x", false).is_err_and(|e| e.contains("401")));
}

#[test]
fn csrs_grouped_by_node_and_state() {
    let csr = |name: &str, user: &str, signer: &str, cond: Option<&str>| {
        serde_json::from_value::<k8s_openapi::api::certificates::v1::CertificateSigningRequest>(json!({
            "metadata": {"name": name},
            "spec": {"signerName": signer, "username": user, "request": ""},
            "status": {"conditions": cond.map(|c| vec![json!({"type": c, "status": "True"})]).unwrap_or_default()}
        }))
        .expect("csr")
    };
    let g = csr::group(&[
        csr("p1", "system:node:a", csr::SIGNER, None),
        csr("ok", "system:node:a", csr::SIGNER, Some("Approved")),
        csr("d1", "system:node:a", csr::SIGNER, Some("Denied")),
        csr(
            "other",
            "system:node:a",
            "kubernetes.io/kube-apiserver-client-kubelet",
            None,
        ),
        csr("user", "alice", csr::SIGNER, None),
    ]);
    assert_eq!(g.len(), 1);
    assert_eq!(g["a"].pending, ["p1"]);
    assert_eq!(g["a"].denied, ["d1"]);
    let note = csr::note(&g["a"]).expect("note");
    assert!(note.contains("p1") && note.contains("d1") && !note.contains("ok"));
}

#[test]
fn endpoint_prefers_internal_ip_and_the_daemon_port() {
    let n: k8s_openapi::api::core::v1::Node = serde_json::from_value(json!({
        "metadata": {"name": "n"},
        "status": {"addresses": [{"type": "Hostname", "address": "n"}, {"type": "ExternalIP", "address": "1.2.3.4"},
                                 {"type": "InternalIP", "address": "10.0.0.5"}],
                   "daemonEndpoints": {"kubeletEndpoint": {"Port": 10255}}}
    }))
    .expect("node");
    let default = parse_address_types(DEFAULT_PREFERRED).expect("default").0;
    let e = endpoint(&n, &default);
    assert_eq!(
        (e.host.as_deref(), e.port, e.address_type.as_str()),
        (Some("10.0.0.5"), 10255, "InternalIP")
    );
    // The API server's own order decides, as `--kubelet-preferred-address-types` does there.
    let upstream = parse_address_types("Hostname,InternalDNS,InternalIP,ExternalDNS,ExternalIP")
        .expect("upstream")
        .0;
    let e = endpoint(&n, &upstream);
    assert_eq!(
        (e.host.as_deref(), e.address_type.as_str()),
        (Some("n"), "Hostname")
    );
    let only_external = parse_address_types("ExternalIP").expect("one").0;
    assert_eq!(
        endpoint(&n, &only_external).host.as_deref(),
        Some("1.2.3.4")
    );
    let none = parse_address_types("ExternalDNS").expect("one").0;
    assert_eq!(endpoint(&n, &none).host, None);
    for bad in [
        "",
        "InternalIp",
        "InternalIP,InternalIP",
        "InternalIP,,Hostname",
    ] {
        assert!(parse_address_types(bad).is_err(), "{bad:?}");
    }
    let bare: k8s_openapi::api::core::v1::Node =
        serde_json::from_value(json!({"metadata": {"name": "b"}})).expect("node");
    let e = endpoint(&bare, &default);
    assert_eq!((e.host, e.port), (None, 10250));
    let v6 = Endpoint {
        node: "x".into(),
        host: Some("fd00::1".into()),
        address_type: String::new(),
        port: 1,
    };
    assert_eq!(v6.authority(), "[fd00::1]:1");
}

#[test]
fn readiness_is_safe_only_when_every_node_verified() {
    let p = |n: &str, s: Serving| NodeProbe {
        endpoint: Endpoint {
            node: n.into(),
            host: None,
            address_type: String::new(),
            port: 1,
        },
        serving: s,
        config: Config::Skipped(String::new()),
        metrics_gate: None,
    };
    assert!(!assess(&[]).kubelet_certificate_authority.safe);
    let all = assess(&[p("a", Serving::Verified("ok".into()))]).kubelet_certificate_authority;
    assert!(all.safe && all.verified == 1 && all.failing.is_empty());
    let some = assess(&[
        p("b", Serving::Unreachable("down".into())),
        p("a", Serving::Verified(String::new())),
    ])
    .kubelet_certificate_authority;
    assert!(!some.safe);
    assert_eq!(
        (some.nodes, some.verified, some.failing[0].node.as_str()),
        (2, 1, "b")
    );
}
