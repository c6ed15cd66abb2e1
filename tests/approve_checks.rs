//! The approver's decision table (DESIGN.md section 10, issue 12): real PKCS#10 requests made with
//! rcgen, kubelet-shaped, and the hostile variants that approvers in the wild let through.
//! Expected verdicts are written from the design, not from the code.

mod common;

use common::csr_fixtures::*;
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use k8s_openapi::api::core::v1::Node;
use kubelet_tls_guard::cluster::approve::checks::Check;
use kubelet_tls_guard::cluster::approve::summary::serving_csrs_by_node;
use kubelet_tls_guard::cluster::approve::{Config, Decision, judge};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const A_IP: &str = "10.0.1.11";
const B_IP: &str = "10.0.1.12";

/// Two nodes as kubeadm reports them: InternalIP and Hostname.
fn nodes() -> HashMap<String, Node> {
    [
        node("node-a", &[("InternalIP", A_IP), ("Hostname", "node-a")]),
        node("node-b", &[("InternalIP", B_IP), ("Hostname", "node-b")]),
        node(
            "node-v6",
            &[
                ("InternalIP", "fd00:10:0:0:0:0:0:21"),
                ("ExternalIP", "::ffff:203.0.113.7"),
                ("Hostname", "Node-V6.Example.COM"),
            ],
        ),
        // A node that lies about its names: the in-cluster check must still hold.
        node(
            "node-liar",
            &[
                ("InternalIP", "10.0.1.13"),
                ("Hostname", "kubernetes.default.svc"),
            ],
        ),
    ]
    .into_iter()
    .map(|n| (n.metadata.name.clone().unwrap_or_default(), n))
    .collect()
}

fn decide(csr: &CertificateSigningRequest, cfg: &Config) -> Decision {
    let nodes = nodes();
    judge(csr, |name| nodes.get(name), cfg)
}

fn year_cap() -> Config {
    Config {
        max_expiration_seconds: Some(365 * 24 * 3600),
        ..Config::default()
    }
}

fn kubelet_a() -> Shape {
    kubelet_shape("node-a", &[A_IP])
}

enum Want {
    Approve,
    Deny(Check),
    Pending,
    Ignore,
}

/// One row: a label, the CSR, what must happen.
fn table() -> Vec<(&'static str, CertificateSigningRequest, Want)> {
    let ok = |shape: &Shape| csr("csr", "node-a", &request_pem(shape));
    let mut rows = vec![
        ("kubelet-shaped", ok(&kubelet_a()), Want::Approve),
        (
            "IP only",
            ok(&Shape {
                dns: vec![],
                ..kubelet_a()
            }),
            Want::Approve,
        ),
        (
            "another node's IP",
            ok(&kubelet_shape("node-a", &[A_IP, B_IP])),
            Want::Deny(Check::SanNotNodeAddress),
        ),
        (
            "another node's name",
            ok(&Shape {
                dns: vec!["node-a".into(), "node-b".into()],
                ..kubelet_a()
            }),
            Want::Deny(Check::SanNotNodeAddress),
        ),
        (
            "an IP of no node",
            ok(&kubelet_shape("node-a", &["192.0.2.1"])),
            Want::Deny(Check::SanNotNodeAddress),
        ),
        (
            "email SAN",
            ok(&Shape {
                emails: vec!["root@node-a".into()],
                ..kubelet_a()
            }),
            Want::Deny(Check::SanTypeForbidden),
        ),
        (
            "URI SAN",
            ok(&Shape {
                uris: vec!["spiffe://cluster.local/ns/kube-system/sa/admin".into()],
                ..kubelet_a()
            }),
            Want::Deny(Check::SanTypeForbidden),
        ),
        (
            "CN is another node",
            ok(&Shape {
                cn: vec!["system:node:node-b".into()],
                ..kubelet_a()
            }),
            Want::Deny(Check::CommonNameMismatch),
        ),
        (
            "two CNs",
            ok(&Shape {
                cn: vec!["system:node:node-a".into(), "system:node:node-b".into()],
                ..kubelet_a()
            }),
            Want::Deny(Check::CommonNameMismatch),
        ),
        (
            "extra O system:masters",
            ok(&Shape {
                o: vec!["system:nodes".into(), "system:masters".into()],
                ..kubelet_a()
            }),
            Want::Deny(Check::OrganizationMismatch),
        ),
        (
            "no O",
            ok(&Shape {
                o: vec![],
                ..kubelet_a()
            }),
            Want::Deny(Check::OrganizationMismatch),
        ),
        (
            "an OU",
            ok(&Shape {
                ou: vec!["ops".into()],
                ..kubelet_a()
            }),
            Want::Deny(Check::SubjectAttributeForbidden),
        ),
        (
            "kubernetes.default.svc",
            ok(&Shape {
                dns: vec!["node-a".into(), "kubernetes.default.svc".into()],
                ..kubelet_a()
            }),
            Want::Deny(Check::InClusterName),
        ),
        (
            "a Service name under the cluster domain",
            ok(&Shape {
                dns: vec!["api.kube-system.svc.cluster.local".into()],
                ..kubelet_a()
            }),
            Want::Deny(Check::InClusterName),
        ),
        (
            "wildcard",
            ok(&Shape {
                dns: vec!["*.node-a".into()],
                ..kubelet_a()
            }),
            Want::Deny(Check::DnsNameInvalid),
        ),
        (
            "no SAN",
            ok(&Shape {
                dns: vec![],
                ips: vec![],
                ..kubelet_a()
            }),
            Want::Deny(Check::SanMissing),
        ),
        (
            "corrupted signature",
            csr("csr", "node-a", &corrupted_request_pem(&kubelet_a())),
            Want::Deny(Check::SignatureInvalid),
        ),
        (
            "second subjectAltName extension",
            ok(&Shape {
                second_san_der: Some(general_names_dns("kubernetes")),
                ..kubelet_a()
            }),
            Want::Deny(Check::RequestInvalid),
        ),
        (
            "Node not created yet",
            csr(
                "csr",
                "node-new",
                &request_pem(&kubelet_shape("node-new", &["10.0.9.9"])),
            ),
            Want::Pending,
        ),
        (
            "Node not created yet, hostile SAN",
            csr(
                "csr",
                "node-new",
                &request_pem(&Shape {
                    emails: vec!["x@y".into()],
                    ..kubelet_shape("node-new", &["10.0.9.9"])
                }),
            ),
            Want::Deny(Check::SanTypeForbidden),
        ),
        (
            "a node listing kubernetes.default.svc as its Hostname",
            csr(
                "csr",
                "node-liar",
                &request_pem(&Shape {
                    dns: vec!["kubernetes.default.svc".into()],
                    ..kubelet_shape("node-liar", &["10.0.1.13"])
                }),
            ),
            Want::Deny(Check::InClusterName),
        ),
    ];

    let mut c = ok(&kubelet_a());
    c.spec.username = Some("system:serviceaccount:kube-system:bootstrap".into());
    rows.push(("non-node username", c, Want::Deny(Check::UsernameNotNode)));
    let mut c = ok(&kubelet_a());
    c.spec.username = None;
    rows.push(("no username", c, Want::Deny(Check::UsernameNotNode)));
    let mut c = ok(&kubelet_a());
    c.spec.groups = Some(vec!["system:authenticated".into()]);
    rows.push(("missing group", c, Want::Deny(Check::GroupMissing)));
    let mut c = ok(&kubelet_a());
    c.spec.usages = Some(vec![
        "digital signature".into(),
        "key encipherment".into(),
        "server auth".into(),
        "client auth".into(),
    ]);
    rows.push(("client-auth usage", c, Want::Deny(Check::UsagesInvalid)));
    let mut c = ok(&kubelet_a());
    c.spec.usages = Some(vec!["digital signature".into(), "key encipherment".into()]);
    rows.push(("no server auth", c, Want::Deny(Check::UsagesInvalid)));
    let mut c = ok(&kubelet_a());
    c.spec.expiration_seconds = Some(10 * 365 * 24 * 3600);
    rows.push(("expiry too long", c, Want::Deny(Check::ExpirationTooLong)));
    let mut c = ok(&kubelet_a());
    c.spec.expiration_seconds = Some(30 * 24 * 3600);
    rows.push(("expiry within the cap", c, Want::Approve));
    let mut c = ok(&kubelet_a());
    c.spec.signer_name = "kubernetes.io/kube-apiserver-client-kubelet".into();
    rows.push(("another signer", c, Want::Ignore));
    rows.push((
        "already approved",
        with_condition(ok(&kubelet_a()), "Approved"),
        Want::Ignore,
    ));
    rows.push((
        "already denied",
        with_condition(ok(&kubelet_a()), "Denied"),
        Want::Ignore,
    ));
    let good = request_pem(&kubelet_a());
    rows.push((
        "two PEM blocks",
        csr("csr", "node-a", &format!("{good}{good}")),
        Want::Deny(Check::RequestInvalid),
    ));
    rows.push((
        "a certificate, not a request",
        csr(
            "csr",
            "node-a",
            &good.replace("CERTIFICATE REQUEST", "CERTIFICATE"),
        ),
        Want::Deny(Check::RequestInvalid),
    ));
    rows.push((
        "not PEM",
        csr("csr", "node-a", "hello"),
        Want::Deny(Check::RequestInvalid),
    ));
    rows
}

#[test]
fn decision_table() {
    let cfg = year_cap();
    let mut problems = Vec::new();
    for (label, c, want) in table() {
        let got = decide(&c, &cfg);
        let ok = match (&want, &got) {
            (Want::Approve, Decision::Approve { node }) => node == "node-a",
            (Want::Deny(check), Decision::Deny { failure, .. }) => failure.check == *check,
            (Want::Pending, Decision::Pending { node, reason }) => {
                node == "node-new" && *reason == "NodeNotFound"
            }
            (Want::Ignore, Decision::Ignore(_)) => true,
            _ => false,
        };
        if !ok {
            let want = match want {
                Want::Approve => "approve".to_string(),
                Want::Deny(c) => format!("deny {}", c.reason()),
                Want::Pending => "pending".into(),
                Want::Ignore => "ignore".into(),
            };
            problems.push(format!("{label}: want {want}, got {got:?}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_denial_names_its_check_and_the_offending_value() {
    let c = csr(
        "csr",
        "node-a",
        &request_pem(&kubelet_shape("node-a", &[A_IP, B_IP])),
    );
    let Decision::Deny { failure, node } = decide(&c, &Config::default()) else {
        panic!("not denied");
    };
    assert_eq!(node.as_deref(), Some("node-a"));
    assert_eq!(failure.check.reason(), "SANNotNodeAddress");
    assert!(failure.message.contains(B_IP), "{}", failure.message);
    assert!(failure.message.contains("node-a"), "{}", failure.message);
}

#[test]
fn a_node_without_addresses_yet_leaves_the_csr_pending() {
    // With an external cloud provider the Node has no addresses until its controller sets them.
    let bare = node("node-a", &[]);
    let c = csr("csr", "node-a", &request_pem(&kubelet_a()));
    let got = judge(&c, |_| Some(&bare), &Config::default());
    assert_eq!(
        got,
        Decision::Pending {
            node: "node-a".into(),
            reason: "NodeHasNoAddresses"
        }
    );
    // A hostile request from the same node is still denied at once.
    let c = csr(
        "csr",
        "node-a",
        &request_pem(&Shape {
            uris: vec!["https://x".into()],
            ..kubelet_a()
        }),
    );
    assert!(matches!(
        judge(&c, |_| Some(&bare), &Config::default()),
        Decision::Deny { .. }
    ));
}

#[test]
fn no_cap_means_no_expiry_check() {
    let mut c = csr("csr", "node-a", &request_pem(&kubelet_a()));
    c.spec.expiration_seconds = Some(10 * 365 * 24 * 3600);
    assert!(matches!(
        decide(&c, &Config::default()),
        Decision::Approve { .. }
    ));
}

#[test]
fn ipv6_addresses_compare_normalised() {
    let cfg = Config::default();
    for (label, ips, approve) in [
        (
            "compressed form of the node's expanded IPv6",
            vec!["fd00:10::21"],
            true,
        ),
        (
            "IPv4-mapped IPv6 node address vs a plain IPv4 SAN",
            vec!["fd00:10::21", "203.0.113.7"],
            true,
        ),
        ("loopback ::1 is no address of the node", vec!["::1"], false),
        ("a neighbour in the same /64", vec!["fd00:10::22"], false),
    ] {
        let shape = Shape {
            dns: vec!["node-v6.example.com".into()],
            ..kubelet_shape("node-v6", &ips)
        };
        let got = decide(&csr("csr", "node-v6", &request_pem(&shape)), &cfg);
        assert_eq!(
            matches!(got, Decision::Approve { .. }),
            approve,
            "{label}: {got:?}"
        );
    }
}

#[test]
fn loopback_written_two_ways_is_one_address() {
    let n = node("node-lo", &[("InternalIP", "0:0:0:0:0:0:0:1")]);
    let c = csr(
        "csr",
        "node-lo",
        &request_pem(&Shape {
            dns: vec![],
            ..kubelet_shape("node-lo", &["::1"])
        }),
    );
    let got = judge(&c, |_| Some(&n), &Config::default());
    assert!(matches!(got, Decision::Approve { .. }), "{got:?}");
}

#[test]
fn dns_names_compare_case_insensitively() {
    // The node reports "Node-V6.Example.COM"; the kubelet asks for lower case and upper case.
    for name in ["node-v6.example.com", "NODE-V6.EXAMPLE.COM"] {
        let shape = Shape {
            dns: vec![name.into()],
            ..kubelet_shape("node-v6", &["fd00:10::21"])
        };
        let got = decide(
            &csr("csr", "node-v6", &request_pem(&shape)),
            &Config::default(),
        );
        assert!(matches!(got, Decision::Approve { .. }), "{name}: {got:?}");
    }
}

#[test]
fn a_one_megabyte_request_is_denied_unparsed_and_fast() {
    // A real request with ~40,000 DNS SANs: over 1 MB of PEM.
    let shape = Shape {
        dns: (0..40_000).map(|i| format!("host-{i:05}.node-a")).collect(),
        ..kubelet_a()
    };
    let big = request_pem(&shape);
    assert!(big.len() > 1_000_000, "only {} bytes", big.len());
    let c = csr("csr", "node-a", &big);
    let start = Instant::now();
    let got = decide(&c, &Config::default());
    let took = start.elapsed();
    assert!(
        matches!(&got, Decision::Deny { failure, .. } if failure.check == Check::RequestTooLarge),
        "{got:?}"
    );
    // Size is checked before parsing: judging costs no more than for a small request.
    assert!(took < Duration::from_millis(100), "took {took:?}");
}

#[test]
fn hostile_csrs_do_not_slow_the_good_ones() {
    // 200 CSRs, every other one hostile: each is judged on its own, all good ones approved.
    let mut csrs = Vec::new();
    for i in 0..200 {
        let shape = if i % 2 == 0 {
            kubelet_a()
        } else {
            Shape {
                uris: vec!["https://evil".into()],
                ..kubelet_a()
            }
        };
        csrs.push(csr(&format!("csr-{i}"), "node-a", &request_pem(&shape)));
    }
    let cfg = Config::default();
    let approved = csrs
        .iter()
        .filter(|c| matches!(decide(c, &cfg), Decision::Approve { .. }))
        .count();
    assert_eq!(approved, 100);
}

#[test]
fn scan_summary_names_pending_and_denied_per_node() {
    let pem = request_pem(&kubelet_a());
    let pending_a = csr("csr-a1", "node-a", &pem);
    let denied_a = with_condition(csr("csr-a2", "node-a", &pem), "Denied");
    let approved_a = with_condition(csr("csr-a3", "node-a", &pem), "Approved");
    let pending_b = csr("csr-b1", "node-b", &pem);
    let mut other_signer = csr("csr-c1", "node-c", &pem);
    other_signer.spec.signer_name = "kubernetes.io/kube-apiserver-client-kubelet".into();
    let mut not_a_node = csr("csr-x", "node-x", &pem);
    not_a_node.spec.username = Some("alice".into());
    let got = serving_csrs_by_node(&[
        pending_b,
        approved_a,
        denied_a,
        other_signer,
        not_a_node,
        pending_a,
    ]);
    assert_eq!(got.keys().collect::<Vec<_>>(), vec!["node-a", "node-b"]);
    assert_eq!(got["node-a"].pending, vec!["csr-a1"]);
    assert_eq!(got["node-a"].denied, vec!["csr-a2"]);
    assert_eq!(got["node-b"].pending, vec!["csr-b1"]);
    assert!(got["node-b"].denied.is_empty());
}

// Each check on its own, at its edges.
mod each_check {
    use kubelet_tls_guard::cluster::approve::checks::{self, Check};
    use kubelet_tls_guard::cluster::approve::csr::Request;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn node_name() {
        assert_eq!(
            checks::node_name(Some("system:node:ip-10-0-1-11.ec2.internal")),
            Ok("ip-10-0-1-11.ec2.internal")
        );
        for bad in [
            "system:node:",
            "system:node:Node_A",
            "system:nodes:a",
            "node-a",
            "system:node:a..b",
        ] {
            assert_eq!(
                checks::node_name(Some(bad)).map_err(|f| f.check),
                Err(Check::UsernameNotNode),
                "{bad}"
            );
        }
        assert!(checks::node_name(None).is_err());
    }

    #[test]
    fn groups() {
        assert!(checks::groups(Some(&s(&["system:authenticated", "system:nodes"]))).is_ok());
        assert!(checks::groups(Some(&s(&["system:node"]))).is_err());
        assert!(checks::groups(None).is_err());
    }

    #[test]
    fn expiration_cap_is_inclusive() {
        assert!(checks::expiration(Some(3600), Some(3600)).is_ok());
        assert!(checks::expiration(Some(3601), Some(3600)).is_err());
        assert!(checks::expiration(Some(-1), Some(3600)).is_err());
        assert!(checks::expiration(None, Some(3600)).is_ok());
        assert!(checks::expiration(Some(i32::MAX), None).is_ok());
    }

    #[test]
    fn usages() {
        assert!(checks::usages(Some(&s(&["server auth"]))).is_ok());
        assert!(
            checks::usages(Some(&s(&[
                "key encipherment",
                "digital signature",
                "server auth"
            ])))
            .is_ok()
        );
        for bad in [
            vec![],
            s(&["digital signature"]),
            s(&["server auth", "client auth"]),
            s(&["server auth", "cert sign"]),
        ] {
            assert!(checks::usages(Some(&bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn request_size() {
        assert!(checks::request_size(16 * 1024, 16 * 1024).is_ok());
        assert_eq!(
            checks::request_size(16 * 1024 + 1, 16 * 1024).map_err(|f| f.check),
            Err(Check::RequestTooLarge)
        );
    }

    #[test]
    fn in_cluster_names() {
        let req = |d: &str| Request {
            dns: vec![d.into()],
            ..Request::default()
        };
        for bad in [
            "kubernetes",
            "KUBERNETES.default",
            "kubernetes.default.svc.cluster.local",
            "web.prod.svc",
            "web.prod.svc.corp.example",
            "cluster.local",
            "x.cluster.local.",
            "kubernetes.default.svc.",
        ] {
            let r = checks::in_cluster_names(&req(bad), "corp.example");
            let r2 = checks::in_cluster_names(&req(bad), "cluster.local");
            assert!(r.is_err() || r2.is_err(), "{bad}");
        }
        assert!(
            checks::in_cluster_names(&req("web.prod.svc.corp.example"), "corp.example").is_err()
        );
        for ok in [
            "node-a",
            "node-a.example.com",
            "kube-node-1",
            "svc-node.example.com",
        ] {
            assert!(
                checks::in_cluster_names(&req(ok), "cluster.local").is_ok(),
                "{ok}"
            );
        }
    }

    #[test]
    fn dns_syntax() {
        for ok in ["node-a", "Node-A.Example.com", "a.b-c.d", "node-a."] {
            assert!(checks::is_dns_subdomain(&checks::normalise_dns(ok)), "{ok}");
        }
        for bad in [
            "",
            "*.node-a",
            "-a",
            "a-",
            "a..b",
            "a_b",
            "nöde",
            &"a".repeat(64),
        ] {
            assert!(
                !checks::is_dns_subdomain(&checks::normalise_dns(bad)),
                "{bad}"
            );
        }
    }

    #[test]
    fn address_sets_normalise() {
        use k8s_openapi::api::core::v1::NodeAddress;
        let a = |t: &str, v: &str| NodeAddress {
            type_: t.into(),
            address: v.into(),
        };
        let (ips, dns) = checks::address_sets(&[
            a("InternalIP", "0:0:0:0:0:0:0:1"),
            a("ExternalIP", "::ffff:198.51.100.4"),
            a("Hostname", "Node-A."),
            a("InternalDNS", "node-a.internal"),
        ]);
        assert!(ips.contains(&"::1".parse().expect("ip")));
        assert!(ips.contains(&"198.51.100.4".parse().expect("ip")));
        assert!(dns.contains("node-a") && dns.contains("node-a.internal"));
        assert_eq!((ips.len(), dns.len()), (2, 2));
    }

    #[test]
    fn subject() {
        let r = Request {
            common_names: s(&["system:node:a"]),
            organizations: s(&["system:nodes"]),
            ..Request::default()
        };
        assert!(
            checks::common_name(&r, "a").is_ok()
                && checks::organization(&r).is_ok()
                && checks::subject_attributes(&r).is_ok()
        );
        assert!(checks::common_name(&r, "b").is_err());
        let r = Request {
            organizations: s(&["system:nodes", "system:nodes"]),
            ..Request::default()
        };
        assert!(checks::organization(&r).is_err());
        let r = Request {
            other_subject: s(&["2.5.4.11"]),
            ..Request::default()
        };
        assert_eq!(
            checks::subject_attributes(&r).map_err(|f| f.check),
            Err(Check::SubjectAttributeForbidden)
        );
    }
}
