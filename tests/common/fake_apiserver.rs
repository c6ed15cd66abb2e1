//! A small in-test HTTPS API server serving Kubernetes API JSON (lists with real paging,
//! ConfigMaps, the node proxy, discovery, server-side apply) for the faults a real kube-apiserver
//! cannot be made to produce: 503 storms on the node proxy, list responses that never come.
#![allow(dead_code)]

use super::fake_kubelet::{Pair, TestCa, server_config};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

#[derive(Default, Debug, Clone)]
pub struct ApiState {
    pub nodes: Vec<Value>,
    /// Pods in kube-system.
    pub pods: Vec<Value>,
    /// ConfigMaps in kube-system, by name.
    pub config_maps: BTreeMap<String, Value>,
    pub csrs: Vec<Value>,
    /// `/configz` answers through the node proxy, by node.
    pub proxy_configz: BTreeMap<String, String>,
    /// Every node proxy request answers 503.
    pub proxy_503: bool,
    /// List requests never answer.
    pub hang_lists: bool,
    /// openreports.io/v1alpha1 is served (the CRDs are installed).
    pub openreports: bool,
    /// Server-side applies received: (path, field manager, body).
    pub applied: Vec<(String, String, Value)>,
}

pub struct FakeApi {
    pub url: String,
    pub ca_pem: String,
    pub state: Arc<Mutex<ApiState>>,
    /// (method, path?query, Authorization header) of every request.
    pub requests: Arc<Mutex<Vec<(String, String, String)>>>,
    pub proxy_hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A Node as the API returns it, with the kubelet at `ip:port`.
pub fn node(name: &str, ip: &str, port: u16) -> Value {
    json!({
        "metadata": {"name": name, "uid": format!("uid-{name}"), "resourceVersion": "1",
                     "labels": {"kubernetes.io/hostname": name}},
        "spec": {},
        "status": {
            "addresses": [{"type": "Hostname", "address": name}, {"type": "InternalIP", "address": ip}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
            "nodeInfo": {"kubeletVersion": "v1.34.2"}
        }
    })
}

/// A kubelet-serving CSR from `node`; `state`: "pending", "approved" or "denied".
pub fn csr(name: &str, node: &str, state: &str) -> Value {
    let conditions = match state {
        "approved" => json!([{"type": "Approved", "status": "True", "reason": "AutoApproved"}]),
        "denied" => json!([{"type": "Denied", "status": "True", "reason": "Bad"}]),
        _ => json!([]),
    };
    json!({
        "metadata": {"name": name},
        "spec": {"signerName": "kubernetes.io/kubelet-serving", "username": format!("system:node:{node}"),
                 "groups": ["system:nodes", "system:authenticated"], "request": "",
                 "usages": ["digital signature", "server auth"]},
        "status": {"conditions": conditions}
    })
}

fn list(kind: &str, items: &[Value], query: &str) -> Value {
    let q: BTreeMap<String, String> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let start: usize = q.get("continue").and_then(|c| c.parse().ok()).unwrap_or(0);
    let limit: usize = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(usize::MAX);
    let end = start.saturating_add(limit).min(items.len());
    let mut metadata = json!({"resourceVersion": "100"});
    if end < items.len() {
        metadata["continue"] = json!(end.to_string());
    }
    json!({"kind": kind, "apiVersion": "v1", "metadata": metadata, "items": items[start.min(end)..end]})
}

fn status(code: u16, reason: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": message, "reason": reason, "code": code}),
    )
}

fn route(
    state: &Mutex<ApiState>,
    method: &str,
    path: &str,
    query: &str,
    body: &[u8],
) -> Option<(u16, Value)> {
    let mut s = state.lock().ok()?;
    let cm_prefix = "/api/v1/namespaces/kube-system/configmaps/";
    Some(match (method, path) {
        ("GET", "/api/v1/nodes") => (200, list("NodeList", &s.nodes, query)),
        ("GET", "/api/v1/namespaces/kube-system/pods") => (200, list("PodList", &s.pods, query)),
        ("GET", "/apis/certificates.k8s.io/v1/certificatesigningrequests") => {
            (200, list("CertificateSigningRequestList", &s.csrs, query))
        }
        ("GET", p) if p.starts_with(cm_prefix) => match s.config_maps.get(&p[cm_prefix.len()..]) {
            Some(cm) => (200, cm.clone()),
            None => status(404, "NotFound", "configmaps not found"),
        },
        ("GET", "/apis/openreports.io/v1alpha1") if s.openreports => (
            200,
            json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "openreports.io/v1alpha1",
                   "resources": [
                       {"name": "reports", "singularName": "report", "namespaced": true, "kind": "Report", "verbs": ["create", "patch", "get"]},
                       {"name": "clusterreports", "singularName": "clusterreport", "namespaced": false, "kind": "ClusterReport", "verbs": ["create", "patch", "get"]}]}),
        ),
        ("PATCH", p) if p.starts_with("/apis/openreports.io/") && s.openreports => {
            let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let manager = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("fieldManager="))
                .unwrap_or("")
                .to_string();
            s.applied.push((p.to_string(), manager, v.clone()));
            (200, v)
        }
        ("GET", p) if p.starts_with("/api/v1/nodes/") && p.contains("/proxy/") => {
            let node = p["/api/v1/nodes/".len()..].split('/').next().unwrap_or("");
            if s.proxy_503 {
                status(
                    503,
                    "ServiceUnavailable",
                    "error trying to reach service: dial tcp: i/o timeout",
                )
            } else if p.ends_with("/configz") {
                match s.proxy_configz.get(node) {
                    Some(c) => (200, serde_json::from_str(c).unwrap_or(Value::Null)),
                    None => status(404, "NotFound", "no configz"),
                }
            } else {
                status(404, "NotFound", "not here")
            }
        }
        _ => status(
            404,
            "NotFound",
            "the server could not find the requested resource",
        ),
    })
}

impl FakeApi {
    /// Start on a loopback port with a serving certificate from `ca`.
    pub async fn start(ca: &TestCa, state: ApiState) -> FakeApi {
        let pair: Pair = ca.serving("apiserver", &["127.0.0.1", "localhost"], false);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let acceptor = tokio_rustls::TlsAcceptor::from(server_config(&pair));
        let state = Arc::new(Mutex::new(state));
        let requests: Arc<Mutex<Vec<(String, String, String)>>> = Arc::default();
        let proxy_hits = Arc::new(AtomicUsize::new(0));
        let (st, rq, ph) = (state.clone(), requests.clone(), proxy_hits.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let (acceptor, st, rq, ph) = (acceptor.clone(), st.clone(), rq.clone(), ph.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let svc = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let (st, rq, ph) = (st.clone(), rq.clone(), ph.clone());
                            async move {
                                let method = req.method().to_string();
                                let path = req.uri().path().to_string();
                                let query = req.uri().query().unwrap_or("").to_string();
                                let auth = req
                                    .headers()
                                    .get(hyper::header::AUTHORIZATION)
                                    .and_then(|v| v.to_str().ok())
                                    .unwrap_or("")
                                    .to_string();
                                if let Ok(mut r) = rq.lock() {
                                    r.push((method.clone(), format!("{path}?{query}"), auth));
                                }
                                if path.contains("/proxy/") {
                                    ph.fetch_add(1, Ordering::SeqCst);
                                }
                                let is_list = method == "GET"
                                    && (path == "/api/v1/nodes" || path.ends_with("/pods"));
                                if is_list && st.lock().map(|s| s.hang_lists).unwrap_or(false) {
                                    tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                                }
                                let body = req
                                    .into_body()
                                    .collect()
                                    .await
                                    .map(|b| b.to_bytes())
                                    .unwrap_or_default();
                                let (code, v) = route(&st, &method, &path, &query, &body)
                                    .unwrap_or_else(|| {
                                        status(500, "InternalError", "state poisoned")
                                    });
                                Ok::<_, std::convert::Infallible>(
                                    hyper::Response::builder()
                                        .status(code)
                                        .header("content-type", "application/json")
                                        .body(Full::new(Bytes::from(v.to_string())))
                                        .expect("response"),
                                )
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                        .await;
                });
            }
        });
        FakeApi {
            url: format!("https://{addr}"),
            ca_pem: ca.pem.clone(),
            state,
            requests,
            proxy_hits,
            task,
        }
    }

    /// A kubeconfig for this server with a bearer token and/or a client certificate.
    pub fn kubeconfig(&self, dir: &Path, token: Option<&str>, client: Option<&Pair>) -> PathBuf {
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let mut user = serde_json::Map::new();
        if let Some(t) = token {
            user.insert("token".into(), json!(t));
        }
        if let Some(c) = client {
            user.insert("client-certificate-data".into(), json!(b64(&c.cert_pem)));
            user.insert("client-key-data".into(), json!(b64(&c.key_pem)));
        }
        let kc = json!({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": self.url, "certificate-authority-data": b64(&self.ca_pem)}}],
            "users": [{"name": "fake", "user": user}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}]
        });
        let path = dir.join("kubeconfig");
        std::fs::write(&path, kc.to_string()).expect("write kubeconfig");
        path
    }

    pub fn requests(&self) -> Vec<(String, String, String)> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    pub fn applied(&self) -> Vec<(String, String, Value)> {
        self.state
            .lock()
            .map(|s| s.applied.clone())
            .unwrap_or_default()
    }
}

/// The ConfigMap kube-system/kube-root-ca.crt holding `ca_pem`.
pub fn root_ca_config_map(ca_pem: &str) -> Value {
    json!({"kind": "ConfigMap", "apiVersion": "v1",
           "metadata": {"name": "kube-root-ca.crt", "namespace": "kube-system"},
           "data": {"ca.crt": ca_pem}})
}
