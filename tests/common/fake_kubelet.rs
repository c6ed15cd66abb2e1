//! Fake kubelets: real TLS servers on loopback ports, one per Node, with certificates from a test
//! CA made with rcgen. They serve `/configz` and `/metrics` and record every Authorization
//! header they receive, so a test can prove no token reached an unverified kubelet.
#![allow(dead_code)]

use http_body_util::Full;
use hyper::body::Bytes;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use time::{Duration, OffsetDateTime};
use tokio::net::TcpListener;

/// A test CA (ECDSA P-256) that signs kubelet serving and client certificates.
pub struct TestCa {
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A PEM certificate and key.
#[derive(Clone, Debug)]
pub struct Pair {
    pub cert_pem: String,
    pub key_pem: String,
}

fn dn(cn: &str, org: Option<&str>) -> DistinguishedName {
    let mut d = DistinguishedName::new();
    if let Some(o) = org {
        d.push(DnType::OrganizationName, o);
    }
    d.push(DnType::CommonName, cn);
    d
}

impl TestCa {
    pub fn new(cn: &str) -> TestCa {
        let key = KeyPair::generate().expect("CA key");
        let mut p = CertificateParams::default();
        p.distinguished_name = dn(cn, None);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        p.not_before = OffsetDateTime::now_utc() - Duration::days(1);
        p.not_after = OffsetDateTime::now_utc() + Duration::days(30);
        let cert = p.self_signed(&key).expect("CA cert");
        TestCa {
            pem: cert.pem(),
            issuer: Issuer::new(p, key),
        }
    }

    /// A CA from an existing PEM certificate and key (e.g. the test kube-apiserver's
    /// `--kubelet-certificate-authority`). Certificates it signs name the CA's CN as issuer.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> TestCa {
        let der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).expect("CA pem");
        let (_, cert) = x509_parser::parse_x509_certificate(&der).expect("CA cert");
        let cn = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|c| c.as_str().ok())
            .expect("CA common name")
            .to_string();
        let key = KeyPair::from_pem(key_pem).expect("CA key");
        let mut p = CertificateParams::default();
        p.distinguished_name = dn(&cn, None);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        TestCa {
            pem: cert_pem.to_string(),
            issuer: Issuer::new(p, key),
        }
    }

    /// A kubelet serving certificate as the kubelet-serving signer issues it.
    pub fn serving(&self, node: &str, sans: &[&str], expired: bool) -> Pair {
        let (p, key) = serving_params(node, sans, expired);
        let cert = p.signed_by(&key, &self.issuer).expect("sign serving");
        Pair {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// A client certificate (CN, O), e.g. a kubeconfig user.
    pub fn client(&self, cn: &str, org: Option<&str>) -> Pair {
        let key = KeyPair::generate().expect("key");
        let mut p = CertificateParams::default();
        p.distinguished_name = dn(cn, org);
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        p.not_before = OffsetDateTime::now_utc() - Duration::days(1);
        p.not_after = OffsetDateTime::now_utc() + Duration::days(30);
        let cert = p.signed_by(&key, &self.issuer).expect("sign client");
        Pair {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

fn serving_params(node: &str, sans: &[&str], expired: bool) -> (CertificateParams, KeyPair) {
    let key = KeyPair::generate().expect("key");
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(&format!("system:node:{node}"), Some("system:nodes"));
    p.subject_alt_names = sans
        .iter()
        .map(|s| match s.parse::<std::net::IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName((*s).try_into().expect("dns name")),
        })
        .collect();
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let now = OffsetDateTime::now_utc();
    if expired {
        p.not_before = now - Duration::days(400);
        p.not_after = now - Duration::days(35);
    } else {
        p.not_before = now - Duration::days(1);
        p.not_after = now + Duration::days(30);
    }
    (p, key)
}

/// What the kubelet's certificate is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cert {
    CaSigned,
    /// What a kubelet without serverTLSBootstrap serves (CN=HOST@TIMESTAMP-like, issuer = itself).
    SelfSigned,
    Expired,
    /// CA-signed but naming another address.
    WrongSan,
}

/// How the kubelet behaves after (or instead of) the handshake.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// Serve this `/configz` body and this `/metrics` body.
    Serve { configz: String, metrics: String },
    /// Accept TCP and never answer the TLS handshake.
    Hang,
    /// Handshake, then answer `/configz` with bytes that are not JSON.
    Garbage,
    /// Handshake, then answer `/configz` with this many bytes.
    Huge(usize),
}

/// A running fake kubelet.
pub struct FakeKubelet {
    pub node: String,
    pub addr: SocketAddr,
    /// Every Authorization header received (`""` when a request had none), in order.
    pub auth: Arc<Mutex<Vec<String>>>,
    /// Paths requested.
    pub paths: Arc<Mutex<Vec<String>>>,
    /// TCP connections accepted.
    pub connections: Arc<AtomicUsize>,
    /// CNs of the client certificates presented (only with `start_full(.., Some(ca))`).
    pub client_cns: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeKubelet {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeKubelet {
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
    pub fn auth_headers(&self) -> Vec<String> {
        self.auth.lock().map(|v| v.clone()).unwrap_or_default()
    }
    pub fn requested(&self) -> Vec<String> {
        self.paths.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A rustls server config for a PEM pair.
pub fn server_config(pair: &Pair) -> Arc<rustls::ServerConfig> {
    server_config_with(pair, None)
}

/// Like `server_config`, but asking for an optional client certificate from `client_ca`
/// (as a kubelet with `authentication.x509.clientCAFile` does).
pub fn server_config_with(pair: &Pair, client_ca: Option<&str>) -> Arc<rustls::ServerConfig> {
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(pair.cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .expect("cert pem");
    let key = PrivateKeyDer::from_pem_slice(pair.key_pem.as_bytes()).expect("key pem");
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions");
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                roots.add(c.expect("client CA pem")).expect("client CA");
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider(),
            )
            .allow_unauthenticated()
            .build()
            .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut cfg = builder.with_single_cert(chain, key).expect("server cert");
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(cfg)
}

/// The certificate a fake kubelet serves for `cert` on 127.0.0.1.
pub fn pair_for(ca: &TestCa, node: &str, cert: Cert) -> Pair {
    pair_for_ip(ca, node, cert, "127.0.0.1")
}

/// The certificate a fake kubelet serves for `cert` on `ip`.
pub fn pair_for_ip(ca: &TestCa, node: &str, cert: Cert, ip: &str) -> Pair {
    match cert {
        Cert::CaSigned => ca.serving(node, &[ip, node], false),
        Cert::Expired => ca.serving(node, &[ip, node], true),
        Cert::WrongSan => ca.serving(node, &["10.9.9.9", "other-node"], false),
        Cert::SelfSigned => {
            let (p, key) = serving_params(node, &[ip, node], false);
            let cert = p.self_signed(&key).expect("self-signed");
            Pair {
                cert_pem: cert.pem(),
                key_pem: key.serialize_pem(),
            }
        }
    }
}

/// Start a fake kubelet on a fresh loopback port (must run inside a tokio runtime).
pub async fn start(node: &str, pair: &Pair, behaviour: Behaviour) -> FakeKubelet {
    start_at("127.0.0.1", node, pair, behaviour).await
}

/// Start a fake kubelet on a fresh port of the local address `ip`.
pub async fn start_at(ip: &str, node: &str, pair: &Pair, behaviour: Behaviour) -> FakeKubelet {
    start_full(ip, node, pair, behaviour, None).await
}

/// Start a fake kubelet that also asks for client certificates from `client_ca` and records
/// the CN of each one presented (in `client_cns`).
pub async fn start_full(
    ip: &str,
    node: &str,
    pair: &Pair,
    behaviour: Behaviour,
    client_ca: Option<&str>,
) -> FakeKubelet {
    let listener = TcpListener::bind((ip, 0)).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let auth: Arc<Mutex<Vec<String>>> = Arc::default();
    let paths: Arc<Mutex<Vec<String>>> = Arc::default();
    let connections = Arc::new(AtomicUsize::new(0));
    let client_cns: Arc<Mutex<Vec<String>>> = Arc::default();
    let acceptor = tokio_rustls::TlsAcceptor::from(server_config_with(pair, client_ca));
    let (a, p, c, cns) = (
        auth.clone(),
        paths.clone(),
        connections.clone(),
        client_cns.clone(),
    );
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            c.fetch_add(1, Ordering::SeqCst);
            let (acceptor, behaviour, a, p, cns) = (
                acceptor.clone(),
                behaviour.clone(),
                a.clone(),
                p.clone(),
                cns.clone(),
            );
            tokio::spawn(async move {
                if matches!(behaviour, Behaviour::Hang) {
                    // Hold the socket open and say nothing.
                    let _keep = tcp;
                    tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                    return;
                }
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                if let Some(cert) = tls.get_ref().1.peer_certificates().and_then(|c| c.first())
                    && let Ok((_, x)) = x509_parser::parse_x509_certificate(cert)
                    && let Some(cn) = x
                        .subject()
                        .iter_common_name()
                        .next()
                        .and_then(|c| c.as_str().ok())
                    && let Ok(mut v) = cns.lock()
                {
                    v.push(cn.to_string());
                }
                let svc = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let (a, p, behaviour) = (a.clone(), p.clone(), behaviour.clone());
                        async move {
                            let header = req
                                .headers()
                                .get(hyper::header::AUTHORIZATION)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_string();
                            if let Ok(mut v) = a.lock() {
                                v.push(header);
                            }
                            if let Ok(mut v) = p.lock() {
                                v.push(req.uri().path().to_string());
                            }
                            let body: Bytes = match (&behaviour, req.uri().path()) {
                                (Behaviour::Serve { configz, .. }, "/configz") => {
                                    configz.clone().into()
                                }
                                (Behaviour::Serve { metrics, .. }, "/metrics") => {
                                    metrics.clone().into()
                                }
                                (Behaviour::Garbage, _) => {
                                    Bytes::from_static(b"\x00\xffnot json{{{")
                                }
                                (Behaviour::Huge(n), _) => Bytes::from(vec![b'a'; *n]),
                                _ => {
                                    return Ok::<_, std::convert::Infallible>(
                                        hyper::Response::builder()
                                            .status(404)
                                            .body(Full::new(Bytes::from_static(
                                                b"404 page not found",
                                            )))
                                            .expect("response"),
                                    );
                                }
                            };
                            Ok(hyper::Response::new(Full::new(body)))
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    FakeKubelet {
        node: node.to_string(),
        addr,
        auth,
        paths,
        connections,
        client_cns,
        task,
    }
}

/// A loopback port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    port
}

/// A `/configz` body like a kubeadm kubelet's, with the gate and serverTLSBootstrap as given
/// (`None`: the field is absent, i.e. the kubelet default).
pub fn configz(gate: Option<bool>, server_tls_bootstrap: Option<bool>) -> String {
    let mut cfg = serde_json::json!({
        "enableServer": true,
        "staticPodPath": "/etc/kubernetes/manifests",
        "syncFrequency": "1m0s",
        "fileCheckFrequency": "20s",
        "httpCheckFrequency": "20s",
        "address": "0.0.0.0",
        "port": 10250,
        "tlsCertFile": "/var/lib/kubelet/pki/kubelet.crt",
        "tlsPrivateKeyFile": "/var/lib/kubelet/pki/kubelet.key",
        "rotateCertificates": true,
        "authentication": {
            "x509": {"clientCAFile": "/etc/kubernetes/pki/ca.crt"},
            "webhook": {"enabled": true, "cacheTTL": "2m0s"},
            "anonymous": {"enabled": false}
        },
        "authorization": {"mode": "Webhook", "webhook": {"cacheAuthorizedTTL": "5m0s", "cacheUnauthorizedTTL": "30s"}},
        "clusterDomain": "cluster.local",
        "clusterDNS": ["10.96.0.10"],
        "cgroupDriver": "systemd",
        "containerRuntimeEndpoint": "unix:///var/run/containerd/containerd.sock"
    });
    if let Some(g) = gate {
        cfg["featureGates"] = serde_json::json!({"RotateKubeletServerCertificate": g});
    }
    if let Some(b) = server_tls_bootstrap {
        cfg["serverTLSBootstrap"] = serde_json::json!(b);
    }
    serde_json::json!({"kubeletconfig": cfg}).to_string()
}

/// A `/metrics` excerpt with the gate's `kubernetes_feature_enabled` line.
pub fn metrics(gate_enabled: bool) -> String {
    format!(
        "# HELP kubernetes_feature_enabled [BETA] This metric records the data about the stage and enablement of a k8s feature.\n\
         # TYPE kubernetes_feature_enabled gauge\n\
         kubernetes_feature_enabled{{name=\"AllAlpha\",stage=\"ALPHA\"}} 0\n\
         kubernetes_feature_enabled{{name=\"RotateKubeletServerCertificate\",stage=\"BETA\"}} {}\n\
         kubernetes_feature_enabled{{name=\"SidecarContainers\",stage=\"\"}} 1\n",
        u8::from(gate_enabled)
    )
}
