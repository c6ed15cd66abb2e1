//! Faults a real API server will not produce on demand, from a small fake API server over real TLS
//! on loopback: a storm of 409 Conflicts on the `/approval` write, a CSR decided by someone else
//! between judgement and write. The approver must retry boundedly, re-read and re-judge, and never
//! write a second decision.

mod common;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use common::csr_fixtures::{csr, kubelet_shape, node, request_pem, with_condition};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use kube::runtime::events::{Recorder, Reporter};
use kubelet_tls_guard::cluster::approve::metrics::Metrics;
use kubelet_tls_guard::cluster::approve::write::{Approver, MAX_ATTEMPTS, NodeSource, Outcome};
use kubelet_tls_guard::cluster::approve::{Config, Decision};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What the fake server does and what it saw.
#[derive(Default)]
struct Fake {
    /// 409s still to answer on the approval PUT.
    conflicts_left: usize,
    /// What GET returns for the CSR (the "current" object).
    current: Option<CertificateSigningRequest>,
    puts: usize,
    gets: usize,
    events: usize,
    /// Bodies of the accepted approval writes.
    written: Vec<Value>,
}

type Shared = Arc<Mutex<Fake>>;

fn status(code: u16, reason: &str) -> Response {
    let body = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
        "message": format!("fake: {reason}"), "reason": reason, "code": code});
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn put_approval(State(f): State<Shared>, Path(_name): Path<String>, body: Bytes) -> Response {
    let mut f = f.lock().unwrap_or_else(|p| p.into_inner());
    f.puts += 1;
    if f.conflicts_left > 0 {
        f.conflicts_left -= 1;
        return status(409, "Conflict");
    }
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    f.written.push(v.clone());
    ([("content-type", "application/json")], v.to_string()).into_response()
}

async fn get_csr(State(f): State<Shared>, Path(_name): Path<String>) -> Response {
    let mut f = f.lock().unwrap_or_else(|p| p.into_inner());
    f.gets += 1;
    match &f.current {
        Some(c) => (
            [("content-type", "application/json")],
            serde_json::to_string(c).unwrap_or_default(),
        )
            .into_response(),
        None => status(404, "NotFound"),
    }
}

async fn post_event(State(f): State<Shared>, body: Bytes) -> Response {
    f.lock().unwrap_or_else(|p| p.into_inner()).events += 1;
    (
        StatusCode::CREATED,
        [("content-type", "application/json")],
        body,
    )
        .into_response()
}

/// Serve the fake over TLS on 127.0.0.1; returns a client that trusts only its certificate.
async fn start(fake: Shared) -> kube::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let key = rcgen::KeyPair::generate().expect("key");
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).expect("params");
    let cert = params.self_signed(&key).expect("self-signed");
    let cert_der = cert.der().clone();
    let tls = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert_der.clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let app = Router::new()
        .route(
            "/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}/approval",
            put(put_approval),
        )
        .route(
            "/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}",
            get(get_csr),
        )
        .route(
            "/apis/events.k8s.io/v1/namespaces/{ns}/events",
            post(post_event),
        )
        .with_state(fake);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let service = TowerToHyperService::new(app.clone());
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                }
            });
        }
    });
    let mut config = kube::Config::new(format!("https://{addr}").parse().expect("url"));
    config.root_cert = Some(vec![cert_der.to_vec()]);
    kube::Client::try_from(config).expect("client")
}

fn approver(client: &kube::Client, metrics: Arc<Metrics>) -> Approver {
    let n = node(
        "node-a",
        &[("InternalIP", "10.0.1.11"), ("Hostname", "node-a")],
    );
    let nodes = HashMap::from([("node-a".to_string(), Arc::new(n))]);
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "test".into(),
            instance: None,
        },
    );
    Approver::new(
        kube::Api::all(client.clone()),
        NodeSource::Snapshot(nodes),
        Config::default(),
        false,
        metrics,
        Some(recorder),
    )
}

fn good_csr() -> CertificateSigningRequest {
    csr(
        "csr-a",
        "node-a",
        &request_pem(&kubelet_shape("node-a", &["10.0.1.11"])),
    )
}

#[tokio::test]
async fn a_conflict_storm_is_retried_by_re_reading_then_written_once() {
    let fake = Arc::new(Mutex::new(Fake {
        conflicts_left: 3,
        current: Some(good_csr()),
        ..Fake::default()
    }));
    let client = start(fake.clone()).await;
    let metrics = Arc::new(Metrics::new());
    let out = approver(&client, metrics.clone()).process(good_csr()).await;
    assert!(
        matches!(out, Outcome::Decided(Decision::Approve { .. })),
        "{out:?}"
    );
    let f = fake.lock().unwrap_or_else(|p| p.into_inner());
    assert_eq!((f.puts, f.gets, f.written.len(), f.events), (4, 3, 1, 1));
    let cond = &f.written[0]["status"]["conditions"];
    assert_eq!(cond.as_array().map(Vec::len), Some(1), "{cond}");
    assert_eq!(cond[0]["type"], "Approved");
    assert_eq!(cond[0]["reason"], "AllChecksPassed");
    // The write carries the resourceVersion judged: the API server's precondition.
    assert_eq!(f.written[0]["metadata"]["resourceVersion"], "1");
    assert!(
        metrics
            .encode()
            .contains("kubelet_tls_guard_csr_write_conflicts_total 3")
    );
}

#[tokio::test]
async fn an_endless_conflict_gives_up_after_a_bounded_number_of_attempts() {
    let fake = Arc::new(Mutex::new(Fake {
        conflicts_left: usize::MAX,
        current: Some(good_csr()),
        ..Fake::default()
    }));
    let client = start(fake.clone()).await;
    let metrics = Arc::new(Metrics::new());
    let start = std::time::Instant::now();
    let out = approver(&client, metrics.clone()).process(good_csr()).await;
    assert!(matches!(out, Outcome::Error(_)), "{out:?}");
    let f = fake.lock().unwrap_or_else(|p| p.into_inner());
    assert_eq!(f.puts, MAX_ATTEMPTS as usize);
    assert!(f.written.is_empty() && f.events == 0);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert!(
        metrics.encode().contains(
            "kubelet_tls_guard_csr_decisions_total{decision=\"error\",reason=\"ApiError\",dry_run=\"false\"} 1"
        ),
        "{}",
        metrics.encode()
    );
}

#[tokio::test]
async fn a_csr_decided_by_someone_else_meanwhile_is_left_alone() {
    // The first write conflicts; the re-read shows another approver denied it.
    let fake = Arc::new(Mutex::new(Fake {
        conflicts_left: 1,
        current: Some(with_condition(good_csr(), "Denied")),
        ..Fake::default()
    }));
    let client = start(fake.clone()).await;
    let out = approver(&client, Arc::new(Metrics::new()))
        .process(good_csr())
        .await;
    assert_eq!(out, Outcome::Ignored("AlreadyDecided"));
    let f = fake.lock().unwrap_or_else(|p| p.into_inner());
    assert_eq!((f.puts, f.gets, f.written.len(), f.events), (1, 1, 0, 0));
}

#[tokio::test]
async fn a_csr_deleted_meanwhile_is_dropped() {
    let fake = Arc::new(Mutex::new(Fake {
        conflicts_left: 1,
        current: None,
        ..Fake::default()
    }));
    let client = start(fake.clone()).await;
    let out = approver(&client, Arc::new(Metrics::new()))
        .process(good_csr())
        .await;
    assert_eq!(out, Outcome::Ignored("Deleted"));
}
