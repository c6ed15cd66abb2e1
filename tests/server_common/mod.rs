//! Shared helpers for the webhook server tests: start a real server (TLS on loopback, port 0),
//! build clients that verify the server certificate against the test CA, speak raw HTTP/1.1 over
//! TLS where a test needs control over every byte, and read the metrics.
//!
//! Expectations in the tests are written from DESIGN.md (sections 2, 4, 5, 6), not from the code.
#![allow(dead_code)] // each test binary uses a different subset

use base64::Engine as _;
use kubelet_tls_guard::engine::policy::Policy;
use kubelet_tls_guard::install::certs::{CertAuthority, IssuedCert};
use kubelet_tls_guard::server::{self, RunningServer, ServerOptions};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

// The rule ids, spelled once for every black-box test.
#[path = "../common/mod.rs"]
mod common;
#[allow(unused_imports)]
pub use common::skip;
#[allow(unused_imports)] // each test binary uses a different subset
pub use common::{CA, CLIENT, CM, KBOOT, KROT};

/// The longest a test waits for something that should happen promptly. Generous: a loaded
/// 2-core debug build must never make a correct server look wrong.
pub const DEADLINE: Duration = Duration::from_secs(30);

pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture_path(name: &str) -> PathBuf {
    crate_dir()
        .join("tests")
        .join("fixtures")
        .join("admission")
        .join(name)
}

/// An AdmissionReview fixture from tests/fixtures/admission.
pub fn fixture(name: &str) -> Value {
    let path = fixture_path(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `../shared/corpus`, or `None` (after a recorded skip) when it is absent.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = crate_dir().join("..").join("shared").join("corpus");
    if dir.is_dir() {
        Some(dir)
    } else {
        skip::skip(&format!(
            "corpus directory {} is absent; corpus tests not run",
            dir.display()
        ));
        None
    }
}

pub fn policy(yaml: &str) -> Policy {
    Policy::from_yaml(yaml, "test").unwrap_or_else(|e| panic!("policy {yaml:?}: {e}"))
}

/// Poll `probe` until it yields `Some`, or panic after [`DEADLINE`] saying what never happened.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        if start.elapsed() > DEADLINE {
            panic!("{what}: did not happen within {DEADLINE:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Await `fut`, panicking (instead of hanging the suite) if it takes longer than [`DEADLINE`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(DEADLINE, fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: still not done after {DEADLINE:?}"),
    }
}

// --- certificates ---------------------------------------------------------------------------

pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The names the test serving certificates carry: the server is reached at 127.0.0.1.
pub fn server_names() -> Vec<String> {
    vec!["localhost".into(), "127.0.0.1".into()]
}

pub fn new_ca(name: &str) -> CertAuthority {
    CertAuthority::new(name, 30).expect("CA")
}

pub fn first_cert_der(pem: &str) -> Vec<u8> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()
        .expect("a PEM certificate")
        .expect("PEM parses")
        .as_ref()
        .to_vec()
}

/// The serial number of a DER certificate, as hex.
pub fn serial_of(der: &[u8]) -> String {
    let (_, cert) = x509_parser::parse_x509_certificate(der).expect("X.509");
    cert.raw_serial_as_string()
}

pub fn not_after_of(der: &[u8]) -> i64 {
    let (_, cert) = x509_parser::parse_x509_certificate(der).expect("X.509");
    cert.validity().not_after.timestamp()
}

/// Write `contents` to `path` through a temporary file and a rename (readers never see half).
pub fn write_atomic(path: &Path, contents: &[u8]) {
    let tmp = path.with_extension("tmp-write");
    std::fs::write(&tmp, contents).expect("write temp file");
    std::fs::rename(&tmp, path).expect("rename into place");
}

// --- the server -----------------------------------------------------------------------------

/// A server on 127.0.0.1 port 0 with a fresh CA; the certificate files live in `dir`.
pub struct TestServer {
    pub server: Option<RunningServer>,
    pub addr: SocketAddr,
    pub ops_addr: SocketAddr,
    pub ca: CertAuthority,
    pub ca_pem: String,
    pub dir: tempfile::TempDir,
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
    pub ca_path: PathBuf,
}

impl TestServer {
    pub async fn start(policy: Policy) -> TestServer {
        TestServer::start_with(policy, |_| {}).await
    }

    /// Start with options adjusted by `tweak` (listen addresses and certificate paths are set
    /// before `tweak` runs, so it may override them too).
    pub async fn start_with(policy: Policy, tweak: impl FnOnce(&mut ServerOptions)) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = new_ca("test CA");
        let leaf = ca.issue_server(&server_names(), 30).expect("server cert");
        let cert_path = dir.path().join("tls.crt");
        let key_path = dir.path().join("tls.key");
        let ca_path = dir.path().join("ca.crt");
        std::fs::write(&cert_path, &leaf.cert_pem).unwrap();
        std::fs::write(&key_path, &leaf.key_pem).unwrap();
        std::fs::write(&ca_path, ca.cert_pem()).unwrap();
        let mut opts = ServerOptions::new(cert_path.clone(), key_path.clone());
        opts.listen = "127.0.0.1:0".parse().unwrap();
        opts.metrics_listen = "127.0.0.1:0".parse().unwrap();
        tweak(&mut opts);
        let running = server::start(Arc::new(policy), opts)
            .await
            .expect("server starts");
        TestServer {
            addr: running.addr(),
            ops_addr: running.ops_addr(),
            server: Some(running),
            ca_pem: ca.cert_pem().to_string(),
            ca,
            dir,
            cert_path,
            key_path,
            ca_path,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.addr.port())
    }

    pub fn ops_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.ops_addr.port())
    }

    pub fn running(&self) -> &RunningServer {
        self.server.as_ref().expect("server still owned")
    }

    /// Shut down and wait for the drain to finish.
    pub async fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown();
            within("server drain", s.wait())
                .await
                .expect("server ends cleanly");
        }
    }

    pub fn h1(&self) -> reqwest::Client {
        http_client(&self.ca_pem, Alpn::Http1, None)
    }

    pub fn h2(&self) -> reqwest::Client {
        http_client(&self.ca_pem, Alpn::H2, None)
    }

    /// POST `body` to `path` with `Content-Type: application/json` over HTTP/1.1.
    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        post(&self.h1(), &self.url(path), body).await
    }

    pub async fn metrics(&self) -> Metrics {
        let text = plain_client()
            .get(self.ops_url("/metrics"))
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics body");
        Metrics(text)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // A test that panicked still stops its server's accept loop.
        if let Some(s) = &self.server {
            s.shutdown();
        }
    }
}

// --- clients ----------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alpn {
    Http1,
    H2,
    /// Offer both, h2 first (what browsers and curl do).
    Both,
    None,
}

pub fn roots(ca_pem: &str) -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.expect("CA PEM")).expect("CA cert");
    }
    roots
}

/// A rustls client configuration (ring provider) that verifies against `ca_pem`.
pub fn client_config(
    ca_pem: &str,
    alpn: Alpn,
    versions: &[&'static rustls::SupportedProtocolVersion],
    client_cert: Option<&IssuedCert>,
) -> rustls::ClientConfig {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .expect("protocol versions")
        .with_root_certificates(roots(ca_pem));
    let mut cfg = match client_cert {
        Some(c) => builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(c.cert_pem.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .expect("client cert PEM"),
                PrivateKeyDer::from_pem_slice(c.key_pem.as_bytes()).expect("client key PEM"),
            )
            .expect("client auth"),
        None => builder.with_no_client_auth(),
    };
    cfg.alpn_protocols = match alpn {
        Alpn::Http1 => vec![b"http/1.1".to_vec()],
        Alpn::H2 => vec![b"h2".to_vec()],
        Alpn::Both => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        Alpn::None => Vec::new(),
    };
    cfg
}

pub const BOTH_VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// reqwest over the given rustls configuration; loopback only (no proxy), certificate info kept.
pub fn http_client(ca_pem: &str, alpn: Alpn, client_cert: Option<&IssuedCert>) -> reqwest::Client {
    let cfg = client_config(ca_pem, alpn, BOTH_VERSIONS, client_cert);
    let mut b = reqwest::Client::builder()
        .use_preconfigured_tls(cfg)
        .no_proxy()
        .tls_info(true)
        .timeout(DEADLINE);
    if alpn == Alpn::Http1 {
        b = b.http1_only();
    }
    b.build().expect("reqwest client")
}

/// A client for the plain-HTTP operations port.
pub fn plain_client() -> reqwest::Client {
    // reqwest wants a rustls configuration even for plain HTTP (no provider is compiled in).
    let unused_tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(unused_tls)
        .no_proxy()
        .timeout(DEADLINE)
        .build()
        .expect("reqwest client")
}

/// An HTTP answer from /validate or /mutate.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub text: String,
    /// The served leaf certificate (DER), when the client kept it.
    pub peer_cert: Option<Vec<u8>>,
    pub version: reqwest::Version,
}

impl Answer {
    pub async fn from_response(r: reqwest::Response) -> Answer {
        let status = r.status().as_u16();
        let version = r.version();
        let content_type = r
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let peer_cert = r
            .extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|i| i.peer_certificate())
            .map(<[u8]>::to_vec);
        let text = r.text().await.expect("response body");
        Answer {
            status,
            content_type,
            text,
            peer_cert,
            version,
        }
    }

    /// The body as a JSON AdmissionReview; panics with the body when it is not one.
    pub fn review(&self) -> Review {
        match serde_json::from_str::<Value>(&self.text) {
            Ok(v) if v.is_object() => Review(v),
            _ => panic!(
                "expected an AdmissionReview, got HTTP {} {:?}: {}",
                self.status, self.content_type, self.text
            ),
        }
    }
}

pub async fn post(client: &reqwest::Client, url: &str, body: &Value) -> Answer {
    post_bytes(
        client,
        url,
        "application/json",
        serde_json::to_vec(body).unwrap(),
    )
    .await
}

pub async fn post_bytes(
    client: &reqwest::Client,
    url: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Answer {
    let r = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e:?}"));
    Answer::from_response(r).await
}

/// A parsed AdmissionReview answer.
#[derive(Debug, Clone)]
pub struct Review(pub Value);

impl Review {
    pub fn api_version(&self) -> &str {
        self.0["apiVersion"].as_str().unwrap_or("")
    }

    pub fn response(&self) -> &Value {
        &self.0["response"]
    }

    pub fn uid(&self) -> &str {
        self.response()["uid"].as_str().unwrap_or("")
    }

    pub fn allowed(&self) -> bool {
        match self.response()["allowed"] {
            Value::Bool(b) => b,
            ref other => panic!("response.allowed is {other}, not a bool: {}", self.0),
        }
    }

    pub fn status_code(&self) -> Option<u64> {
        self.response()["status"]["code"].as_u64()
    }

    pub fn message(&self) -> &str {
        self.response()["status"]["message"].as_str().unwrap_or("")
    }

    pub fn warnings(&self) -> Vec<String> {
        match self.response().get("warnings") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|w| w.as_str().expect("warnings are strings").to_string())
                .collect(),
            Some(other) => panic!("warnings is not a list: {other}"),
        }
    }

    pub fn audit(&self) -> serde_json::Map<String, Value> {
        match self.response().get("auditAnnotations") {
            None | Some(Value::Null) => serde_json::Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(other) => panic!("auditAnnotations is not a map: {other}"),
        }
    }

    /// All audit annotation values joined, for "is this mentioned anywhere" checks.
    pub fn audit_text(&self) -> String {
        self.audit()
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn has_patch(&self) -> bool {
        let r = self.response();
        r.get("patch").is_some_and(|p| !p.is_null())
            || r.get("patchType").is_some_and(|p| !p.is_null())
    }

    /// The decoded JSON Patch, checking `patchType: JSONPatch` and the base64 encoding.
    pub fn patch(&self) -> Option<Value> {
        let r = self.response();
        let encoded = r.get("patch").and_then(Value::as_str)?;
        assert_eq!(
            r["patchType"], "JSONPatch",
            "a patch comes with patchType JSONPatch: {}",
            self.0
        );
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap_or_else(|e| panic!("response.patch is not base64 ({e}): {encoded}"));
        let v: Value = serde_json::from_slice(&bytes).expect("decoded patch is JSON");
        assert!(v.is_array(), "a JSON Patch is an array: {v}");
        Some(v)
    }
}

/// Apply a JSON Patch (as JSON) to `obj`.
pub fn apply_patch(obj: &Value, patch: &Value) -> Result<Value, String> {
    let p: json_patch::Patch = serde_json::from_value(patch.clone()).map_err(|e| e.to_string())?;
    let mut out = obj.clone();
    json_patch::patch(&mut out, &p).map_err(|e| e.to_string())?;
    Ok(out)
}

/// The API server's constraint on audit annotation keys (prefixed with the webhook's name, the
/// key must be a valid qualified-name part).
pub fn valid_annotation_key(k: &str) -> bool {
    let b = k.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

// --- metrics ----------------------------------------------------------------------------------

/// The Prometheus text of the operations port.
#[derive(Debug, Clone)]
pub struct Metrics(pub String);

impl Metrics {
    /// The value of the sample whose name is `name` and whose labels include every `labels`
    /// pair, summed over all matching series; `None` when no series matches.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut total = None;
        for line in self.0.lines() {
            if line.starts_with('#') {
                continue;
            }
            let (series, value) = match line.rsplit_once(' ') {
                Some(x) => x,
                None => continue,
            };
            let (metric, label_text) = match series.split_once('{') {
                Some((m, rest)) => (m, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            if metric != name {
                continue;
            }
            let has =
                |k: &str, v: &str| label_text.split(',').any(|kv| kv == format!("{k}=\"{v}\""));
            if labels.iter().all(|(k, v)| has(k, v)) {
                let v: f64 = value
                    .parse()
                    .unwrap_or_else(|_| panic!("bad sample {line}"));
                *total.get_or_insert(0.0) += v;
            }
        }
        total
    }

    /// Like [`Metrics::sum`], 0 when absent.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.sum(name, labels).unwrap_or(0.0)
    }
}

pub const M_REQUESTS: &str = "kubelet_tls_guard_admission_requests_total";
pub const M_RULES: &str = "kubelet_tls_guard_rule_results_total";
pub const M_LATENCY_COUNT: &str = "kubelet_tls_guard_admission_duration_seconds_count";
pub const M_LATENCY_BUCKET: &str = "kubelet_tls_guard_admission_duration_seconds_bucket";
pub const M_NOT_AFTER: &str = "kubelet_tls_guard_certificate_not_after_timestamp_seconds";
pub const M_RELOADS: &str = "kubelet_tls_guard_certificate_reloads_total";
pub const M_RELOAD_FAILURES: &str = "kubelet_tls_guard_certificate_reload_failures_total";
pub const M_HANDSHAKE_FAILURES: &str = "kubelet_tls_guard_tls_handshake_failures_total";
pub const M_MIRROR: &str = "kubelet_tls_guard_mirror_pod_violations_total";

// --- raw TLS and HTTP/1.1 ---------------------------------------------------------------------

pub async fn tls_connect(
    addr: SocketAddr,
    cfg: rustls::ClientConfig,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let name = ServerName::try_from("127.0.0.1").expect("server name");
    connector.connect(name, tcp).await
}

/// The leaf certificate the server presented on this connection.
pub fn served_leaf(s: &TlsStream<TcpStream>) -> Vec<u8> {
    s.get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .expect("server sent a certificate")
        .as_ref()
        .to_vec()
}

/// A fresh handshake (ALPN http/1.1) and the serial of the certificate it was served.
pub async fn fresh_serial(addr: SocketAddr, ca_pem: &str) -> std::io::Result<String> {
    let s = tls_connect(
        addr,
        client_config(ca_pem, Alpn::Http1, BOTH_VERSIONS, None),
    )
    .await?;
    Ok(serial_of(&served_leaf(&s)))
}

/// Request head bytes for a POST with a JSON body of `len` bytes.
pub fn post_head(path: &str, len: usize, content_type: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\n\r\n"
    )
    .into_bytes()
}

/// A whole POST request.
pub fn post_request(path: &str, body: &[u8]) -> Vec<u8> {
    let mut r = post_head(path, body.len(), "application/json");
    r.extend_from_slice(body);
    r
}

#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Read one HTTP/1.1 response (Content-Length or chunked body) from `s`; `buf` carries bytes
/// read past the end of one response over to the next.
pub async fn read_response<S: AsyncRead + Unpin>(
    s: &mut S,
    buf: &mut Vec<u8>,
) -> std::io::Result<RawResponse> {
    async fn fill<S: AsyncRead + Unpin>(s: &mut S, buf: &mut Vec<u8>) -> std::io::Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "connection closed; {} unparsed bytes: {:?}",
                    buf.len(),
                    String::from_utf8_lossy(buf)
                ),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        fill(s, buf).await?;
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    buf.drain(..head_end + 4);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut resp = RawResponse {
        status,
        headers,
        body: Vec::new(),
    };
    if let Some(len) = resp.header("content-length") {
        let len: usize = len.parse().expect("content-length");
        while buf.len() < len {
            fill(s, buf).await?;
        }
        resp.body = buf.drain(..len).collect();
    } else if resp
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let line_end = loop {
                if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
                    break i;
                }
                fill(s, buf).await?;
            };
            let size_text = String::from_utf8_lossy(&buf[..line_end]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
                .expect("chunk size");
            buf.drain(..line_end + 2);
            while buf.len() < size + 2 {
                fill(s, buf).await?;
            }
            resp.body.extend(buf.drain(..size));
            buf.drain(..2);
            if size == 0 {
                break;
            }
        }
    }
    Ok(resp)
}

/// Send one request on an open connection and read its response.
pub async fn round_trip<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    buf: &mut Vec<u8>,
    request: &[u8],
) -> std::io::Result<RawResponse> {
    s.write_all(request).await?;
    s.flush().await?;
    read_response(s, buf).await
}

// --- building requests ------------------------------------------------------------------------

/// A copy of `review` with a new uid (the answer must echo it).
pub fn with_uid(review: &Value, uid: &str) -> Value {
    let mut r = review.clone();
    r["request"]["uid"] = Value::String(uid.to_string());
    r
}

/// A copy of `review` whose `request.object` is `obj`.
pub fn with_object(review: &Value, obj: &Value) -> Value {
    let mut r = review.clone();
    r["request"]["object"] = obj.clone();
    r
}

/// Remove from the first container's `field` (command or args) every word starting with one of
/// `prefixes`; panics if nothing was removed (the fixture no longer says what the test thinks).
pub fn drop_flags(review: &mut Value, spec: &str, field: &str, prefixes: &[&str]) {
    let ptr = format!("/request/object{spec}/containers/0/{field}");
    let list = review
        .pointer_mut(&ptr)
        .and_then(Value::as_array_mut)
        .unwrap_or_else(|| panic!("no {ptr}"));
    for p in prefixes {
        let before = list.len();
        list.retain(|w| !w.as_str().is_some_and(|s| s.starts_with(p)));
        assert!(list.len() < before, "{ptr} has no word starting {p:?}");
    }
}

/// Replace one exact word of the first container's `field`.
pub fn replace_flag(review: &mut Value, spec: &str, field: &str, old: &str, new: &str) {
    let ptr = format!("/request/object{spec}/containers/0/{field}");
    let list = review
        .pointer_mut(&ptr)
        .and_then(Value::as_array_mut)
        .unwrap_or_else(|| panic!("no {ptr}"));
    let slot = list
        .iter_mut()
        .find(|w| w.as_str() == Some(old))
        .unwrap_or_else(|| panic!("{ptr} has no {old:?}"));
    *slot = Value::String(new.to_string());
}

/// Edit the embedded text `data.<key>` of a ConfigMap review: replace `old` by `new` (once).
pub fn edit_data(review: &mut Value, key: &str, old: &str, new: &str) {
    let ptr = format!("/request/object/data/{key}");
    let text = review
        .pointer_mut(&ptr)
        .unwrap_or_else(|| panic!("no {ptr}"));
    let s = text.as_str().expect("data is text").to_string();
    assert!(s.contains(old), "{ptr} does not contain {old:?}:\n{s}");
    *text = Value::String(s.replacen(old, new, 1));
}

/// A kube-apiserver Deployment review missing `--kubelet-certificate-authority`: denied in
/// enforce mode, patched by /mutate.
pub fn deployment_without_ca() -> Value {
    let mut r = fixture("kube-apiserver.deployment.json");
    drop_flags(
        &mut r,
        "/spec/template/spec",
        "args",
        &["--kubelet-certificate-authority"],
    );
    r
}

/// Clear the proxy settings of a child process: tests only ever contact loopback.
pub fn without_proxy(cmd: &mut std::process::Command) -> &mut std::process::Command {
    for v in [
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "all_proxy",
    ] {
        cmd.env_remove(v);
    }
    cmd
}
