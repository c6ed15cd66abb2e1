//! `scan` over simulated kubelets on loopback: 50, 100, 250 and 500 nodes at concurrency 32,
//! each a real TLS server verified against a test CA and asked for `/configz` (and `/metrics`).
//! Targets: 500 nodes under 5 s, peak RSS under 60 MB, wall time linear in the node count.
//!
//! The kubelets run in a child process (this binary re-run with KTG_BENCH_ROLE=kubelets), so the
//! peak RSS printed is the scanner's alone. The node inventory is a list, not an API server.
//! Run: `cargo bench --bench scan` (prints one line per size).

use http_body_util::Full;
use hyper::body::Bytes;
use kubelet_tls_guard::cluster::client::Credentials;
use kubelet_tls_guard::cluster::kubelet::Endpoint;
use kubelet_tls_guard::cluster::probe::{Access, Context};
use kubelet_tls_guard::cluster::verify::KubeletCa;
use kubelet_tls_guard::cluster::{judge, readiness, scan};
use kubelet_tls_guard::engine::policy::Policy;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

const NODES: usize = 500;
const CONFIGZ: &str = r#"{"kubeletconfig":{"enableServer":true,"staticPodPath":"/etc/kubernetes/manifests","authentication":{"webhook":{"enabled":true}},"authorization":{"mode":"Webhook"},"serverTLSBootstrap":true}}"#;
const METRICS: &str = "kubernetes_feature_enabled{name=\"AllAlpha\",stage=\"ALPHA\"} 0\nkubernetes_feature_enabled{name=\"RotateKubeletServerCertificate\",stage=\"BETA\"} 1\n";

/// Child: a CA, one certificate for 127.0.0.1, NODES TLS listeners; prints the CA PEM (base64 on
/// one line) and the ports, then serves until stdin closes.
fn kubelets() {
    use base64::Engine;
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca_params = rcgen::CertificateParams::default();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "bench-ca");
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().expect("key");
    let mut p = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).expect("params");
    p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let cert = p.signed_by(&key, &issuer).expect("sign");
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert.pem().as_bytes())
        .collect::<Result<_, _>>()
        .expect("pem");
    let pk = PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes()).expect("key");
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(chain, pk)
    .expect("cert");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let mut ports = Vec::new();
        for _ in 0..NODES {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            ports.push(l.local_addr().expect("addr").port());
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                while let Ok((tcp, _)) = l.accept().await {
                    let acceptor = acceptor.clone();
                    tokio::spawn(async move {
                        let Ok(tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let svc = hyper::service::service_fn(
                            |req: hyper::Request<hyper::body::Incoming>| async move {
                                let body = if req.uri().path() == "/configz" {
                                    CONFIGZ
                                } else {
                                    METRICS
                                };
                                Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                                    Bytes::from_static(body.as_bytes()),
                                )))
                            },
                        );
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                            .await;
                    });
                }
            });
        }
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "{}",
            base64::engine::general_purpose::STANDARD.encode(ca_cert.pem())
        );
        let _ = writeln!(
            out,
            "{}",
            ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(",")
        );
        let _ = out.flush();
        drop(out);
        // Serve until the parent closes our stdin.
        let _ = tokio::task::spawn_blocking(|| {
            let mut s = String::new();
            let _ = std::io::stdin().read_line(&mut s);
        })
        .await;
    });
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    if std::env::var("KTG_BENCH_ROLE").is_ok_and(|r| r == "kubelets") {
        return kubelets();
    }
    use base64::Engine;
    let me = std::env::current_exe().expect("exe");
    let mut child = std::process::Command::new(me)
        .env("KTG_BENCH_ROLE", "kubelets")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the kubelets");
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let ca_pem = base64::engine::general_purpose::STANDARD
        .decode(lines.next().expect("ca line").expect("read").trim())
        .expect("ca b64");
    let ports: Vec<u16> = lines
        .next()
        .expect("ports line")
        .expect("read")
        .split(',')
        .map(|p| p.parse().expect("port"))
        .collect();
    let policy = Policy::load(None, None, None).expect("policy");
    let ctx = Context {
        access: Access::Direct,
        ca: KubeletCa::from_pem(&ca_pem, "bench CA"),
        credentials: Credentials {
            authorization: Some(http::HeaderValue::from_static("Bearer bench-token")),
            identity: None,
        },
        client: None,
        timeout: Duration::from_secs(5),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut per_node = Vec::new();
    for n in [50, 100, 250, 500] {
        let nodes: Vec<Endpoint> = ports[..n]
            .iter()
            .enumerate()
            .map(|(i, p)| Endpoint {
                node: format!("node-{i:04}"),
                host: Some("127.0.0.1".into()),
                address_type: "InternalIP".into(),
                port: *p,
            })
            .collect();
        let t = Instant::now();
        let probes = rt.block_on(scan::probe_all(nodes, &ctx, 32, false));
        let records: usize = probes
            .iter()
            .map(|p| judge::node("cluster:bench", p, None, &policy).len())
            .sum();
        let took = t.elapsed();
        let r = readiness::assess(&probes).kubelet_certificate_authority;
        assert_eq!(r.verified, n, "every simulated kubelet verifies");
        per_node.push(took.as_secs_f64() / n as f64);
        println!(
            "scan {n:>3} kubelets, concurrency 32: {:>7.1} ms wall ({:.2} ms/node), {records} results, peak RSS {:.1} MB",
            took.as_secs_f64() * 1000.0,
            took.as_secs_f64() * 1000.0 / n as f64,
            peak_rss_mb()
        );
    }
    println!(
        "growth: ms/node at 500 vs 50 = {:.2}x (1.0 is linear)",
        per_node[3] / per_node[0]
    );
    drop(child.stdin.take());
    let _ = child.wait();
}
