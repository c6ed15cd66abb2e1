//! The HTTP contract of `/validate` and `/mutate` (DESIGN.md section 5), driven through the
//! request handler itself (`server::http::route`): no TLS, no sockets, every status code and
//! header in reach. What only TLS can show (handshakes, ALPN, slow peers) stays in
//! tests/server.rs.

#[path = "support/admission_fixtures.rs"]
mod admission_fixtures;

use admission_fixtures::violating_pod;
use axum::body::{Body, Bytes};
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine as _;
use http_body_util::BodyExt;
use kubelet_tls_guard::engine::policy::Policy;
use kubelet_tls_guard::server::http::{AppState, route};
use kubelet_tls_guard::server::metrics::Metrics;
use kubelet_tls_guard::server::pool::DecisionPool;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const LIMIT: usize = 64 * 1024;

fn app(policy: &str) -> Arc<AppState> {
    let policy = Policy::from_yaml(policy, "test").expect("test policy parses");
    Arc::new(AppState {
        policy: Arc::new(policy),
        metrics: Arc::new(Metrics::new()),
        body_limit: LIMIT,
        body_timeout: Duration::from_secs(5),
        pool: DecisionPool::new(2, Duration::from_secs(10)),
    })
}

struct Answer {
    status: StatusCode,
    content_type: String,
    body: Bytes,
}

impl Answer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        assert_eq!(self.content_type, "application/json", "{}", self.text());
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// A plain-text, one-line reason (DESIGN.md section 5).
    fn assert_one_line_reason(&self, code: StatusCode, needle: &str) {
        let text = self.text();
        assert_eq!(self.status, code, "{text}");
        assert!(
            self.content_type.starts_with("text/plain"),
            "{:?}: {text}",
            self.content_type
        );
        assert_eq!(text.trim_end().lines().count(), 1, "not one line: {text:?}");
        assert!(text.ends_with('\n'), "{text:?}");
        assert!(
            text.to_lowercase().contains(&needle.to_lowercase()),
            "reason {text:?} lacks {needle:?}"
        );
    }
}

async fn call(app: Arc<AppState>, req: Request<Body>) -> Answer {
    answer(route(&app, req).await).await
}

async fn answer(resp: hyper::Response<http_body_util::Full<Bytes>>) -> Answer {
    let status = resp.status();
    let content_type = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = resp
        .into_body()
        .collect()
        .await
        .expect("response body")
        .to_bytes();
    Answer {
        status,
        content_type,
        body,
    }
}

fn post(path: &str, content_type: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut b = Request::builder().method(Method::POST).uri(path);
    if let Some(ct) = content_type {
        b = b.header(header::CONTENT_TYPE, ct);
    }
    b.body(body.into()).expect("request")
}

fn post_json(path: &str, v: &Value) -> Request<Body> {
    post(path, Some("application/json"), v.to_string())
}

#[tokio::test]
async fn validate_echoes_uid_and_warns_in_dry_run() {
    let review = violating_pod();
    let a = call(app(""), post_json("/validate", &review)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let v = a.json();
    assert_eq!(v["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(v["kind"], "AdmissionReview");
    assert_eq!(v["response"]["uid"], review["request"]["uid"]);
    assert_eq!(v["response"]["allowed"], true, "dry-run admits: {v}");
    let warnings: Vec<&str> = v["response"]["warnings"]
        .as_array()
        .map(|w| w.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(
        warnings.iter().any(|w| w.contains("apiserver-kubelet-ca")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().all(|w| w.chars().count() < 256),
        "{warnings:?}"
    );
    assert!(
        v["response"].get("patch").is_none(),
        "/validate patched: {v}"
    );
}

#[tokio::test]
async fn validate_denies_in_enforce() {
    let a = call(
        app("mode: enforce\n"),
        post_json("/validate", &violating_pod()),
    )
    .await;
    let v = a.json();
    assert_eq!(v["response"]["allowed"], false, "{v}");
    let message = v["response"]["status"]["message"].as_str().unwrap_or("");
    assert!(message.contains("apiserver-kubelet-ca"), "{v}");
    let code = v["response"]["status"]["code"].as_u64().unwrap_or(0);
    assert!((400..500).contains(&code), "{v}");
}

#[tokio::test]
async fn mutate_sends_a_base64_json_patch_that_adds_the_flag() {
    let review = violating_pod();
    let a = call(app("mode: enforce\n"), post_json("/mutate", &review)).await;
    let v = a.json();
    assert_eq!(v["response"]["uid"], review["request"]["uid"]);
    assert_eq!(v["response"]["patchType"], "JSONPatch", "{v}");
    let patch = base64::engine::general_purpose::STANDARD
        .decode(v["response"]["patch"].as_str().expect("patch"))
        .expect("base64");
    let ops: Value = serde_json::from_slice(&patch).expect("the patch is JSON");
    let mut object = review["request"]["object"].clone();
    json_patch::patch(
        &mut object,
        &serde_json::from_value::<json_patch::Patch>(ops).expect("a JSON Patch"),
    )
    .expect("the patch applies");
    let args = object["spec"]["containers"][0]["command"].to_string();
    assert!(args.contains("--kubelet-certificate-authority="), "{args}");
}

#[tokio::test]
async fn v1beta1_is_answered_in_v1beta1() {
    let mut review = violating_pod();
    review["apiVersion"] = json!("admission.k8s.io/v1beta1");
    review["request"]["uid"] = json!("0b9ad7e2-6a51-4f3b-8f0e-3d2a5c7b1e99");
    for path in ["/validate", "/mutate"] {
        let v = call(app(""), post_json(path, &review)).await.json();
        assert_eq!(v["apiVersion"], "admission.k8s.io/v1beta1", "{path}: {v}");
        assert_eq!(
            v["response"]["uid"], "0b9ad7e2-6a51-4f3b-8f0e-3d2a5c7b1e99",
            "{path}"
        );
    }
}

#[tokio::test]
async fn bad_bodies_are_400_with_one_line() {
    let app = app("");
    let cases: [(&str, Vec<u8>, &str); 6] = [
        ("not JSON", b"{\"apiVersion\": ".to_vec(), "not JSON"),
        ("binary", vec![0xff, 0xfe, 0x00, 0x01], "not JSON"),
        (
            "another kind",
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"Pod","request":{"uid":"u"}}"#.to_vec(),
            "AdmissionReview",
        ),
        (
            "no request",
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#.to_vec(),
            "request",
        ),
        (
            "no uid",
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"operation":"CREATE"}}"#
                .to_vec(),
            "uid",
        ),
        (
            "bare request",
            br#"{"uid":"u","operation":"CREATE","object":{}}"#.to_vec(),
            "AdmissionReview",
        ),
    ];
    for (what, body, needle) in cases {
        let a = call(
            app.clone(),
            post("/validate", Some("application/json"), body),
        )
        .await;
        eprintln!("{what}: {}", a.text().trim_end());
        a.assert_one_line_reason(StatusCode::BAD_REQUEST, needle);
    }
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let body = violating_pod().to_string();
    for ct in [None, Some("text/plain"), Some("application/yaml")] {
        let a = call(app(""), post("/validate", ct, body.clone())).await;
        a.assert_one_line_reason(StatusCode::UNSUPPORTED_MEDIA_TYPE, "application/json");
    }
    // Parameters and case do not matter.
    let a = call(
        app(""),
        post("/validate", Some("Application/JSON; charset=utf-8"), body),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let big = vec![b' '; LIMIT + 1];
    // Declared too large: refused from Content-Length.
    let mut req = post("/validate", Some("application/json"), big.clone());
    req.headers_mut()
        .insert(header::CONTENT_LENGTH, (LIMIT + 1).into());
    call(app(""), req)
        .await
        .assert_one_line_reason(StatusCode::PAYLOAD_TOO_LARGE, "limit");
    // Streamed without a length: refused once the limit is crossed.
    let chunks = futures::stream::iter(
        big.chunks(4096)
            .map(|c| Ok::<_, std::io::Error>(Bytes::copy_from_slice(c)))
            .collect::<Vec<_>>(),
    );
    let req = post(
        "/mutate",
        Some("application/json"),
        Body::from_stream(chunks),
    );
    call(app(""), req)
        .await
        .assert_one_line_reason(StatusCode::PAYLOAD_TOO_LARGE, "limit");
    // At the limit exactly: read, and judged as a body (here: not JSON, so 400).
    let at_limit = vec![b' '; LIMIT];
    let a = call(
        app(""),
        post("/validate", Some("application/json"), at_limit),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text());
}

#[tokio::test]
async fn unknown_paths_are_404_and_other_methods_refused() {
    for path in ["/", "/validatex", "/validate/extra", "/healthz", "/metrics"] {
        let a = call(app(""), post_json(path, &violating_pod())).await;
        a.assert_one_line_reason(StatusCode::NOT_FOUND, "/validate");
    }
    for (method, path) in [
        (Method::GET, "/validate"),
        (Method::HEAD, "/mutate"),
        (Method::PUT, "/validate"),
    ] {
        let req = Request::builder()
            .method(method.clone())
            .uri(path)
            .body(Body::empty())
            .expect("request");
        let resp = route(&app(""), req).await;
        assert_eq!(
            resp.headers().get(header::ALLOW).map(|v| v.as_bytes()),
            Some(&b"POST"[..]),
            "{method} {path}"
        );
        answer(resp)
            .await
            .assert_one_line_reason(StatusCode::METHOD_NOT_ALLOWED, path);
    }
}

/// The API server calls a webhook with `?timeout=10s` appended to its path.
#[tokio::test]
async fn a_query_does_not_change_the_route() {
    let review = violating_pod();
    for path in ["/validate?timeout=10s", "/mutate?timeout=30s"] {
        let a = call(app(""), post_json(path, &review)).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.text());
        assert_eq!(a.json()["response"]["uid"], review["request"]["uid"]);
    }
}

/// One bad request leaves the next one unaffected (the state is shared, never poisoned).
#[tokio::test]
async fn a_bad_request_does_not_affect_the_next() {
    let app = app("");
    let a = call(
        app.clone(),
        post("/validate", Some("application/json"), "garbage"),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let review = violating_pod();
    let v = call(app, post_json("/validate", &review)).await.json();
    assert_eq!(v["response"]["uid"], review["request"]["uid"]);
}
