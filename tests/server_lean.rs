//! Issue 14's request-path tests: a huge unrelated field does not change the answer for a
//! relevant object, an irrelevant object is answered without being built, a large one of an
//! irrelevant kind without being read, and the lean first pass (src/server/lean.rs) answers
//! exactly as the full parse does on every fixture.

#[path = "support/admission_fixtures.rs"]
mod admission_fixtures;
#[path = "support/lean_variants.rs"]
mod lean_variants;
#[path = "support/skip.rs"]
mod skip;

use admission_fixtures::violating_pod;

use axum::body::{Body, Bytes};
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine as _;
use http_body_util::BodyExt;
use kubelet_tls_guard::engine::policy::Policy;
use kubelet_tls_guard::server::admission::{parse_review, render};
use kubelet_tls_guard::server::decide::{Endpoint, decide};
use kubelet_tls_guard::server::http::{AppState, route};
use kubelet_tls_guard::server::lean;
use kubelet_tls_guard::server::metrics::Metrics;
use kubelet_tls_guard::server::pool::DecisionPool;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn app(policy: &str) -> Arc<AppState> {
    app_with(policy, Arc::new(Metrics::new()))
}

fn app_with(policy: &str, metrics: Arc<Metrics>) -> Arc<AppState> {
    let policy = Policy::from_yaml(policy, "test").expect("test policy parses");
    Arc::new(AppState {
        policy: Arc::new(policy),
        metrics,
        body_limit: 8 * 1024 * 1024,
        body_timeout: Duration::from_secs(10),
        pool: DecisionPool::new(2, Duration::from_secs(20)),
    })
}

async fn call(app: Arc<AppState>, path: &str, body: Vec<u8>) -> (StatusCode, Bytes) {
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .expect("request");
    let resp = route(&app, req).await;
    let status = resp.status();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, body)
}

fn json(body: &Bytes) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

#[tokio::test]
async fn a_relevant_pod_with_a_2_mib_annotation_is_answered_as_without_it() {
    let small = violating_pod();
    let mut big = small.clone();
    big["request"]["object"]["metadata"]["annotations"]["example.com/blob"] =
        json!("x".repeat(2 << 20));
    let big_body = serde_json::to_vec(&big).expect("serialise");
    assert!(big_body.len() > 2 << 20);
    for (path, mode) in [
        ("/validate", "mode: enforce\n"),
        ("/mutate", "mode: enforce\n"),
        ("/validate", ""),
    ] {
        let (s1, a1) = call(app(mode), path, serde_json::to_vec(&small).expect("ser")).await;
        let (s2, a2) = call(app(mode), path, big_body.clone()).await;
        assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK), "{path} {mode}");
        let (a1, a2) = (json(&a1), json(&a2));
        assert_eq!(a1, a2, "{path} {mode:?}: the annotation changed the answer");
        let response = &a1["response"];
        if path == "/mutate" {
            // The patch adds the CA flag to the object as received, annotation and all.
            let patch = base64::engine::general_purpose::STANDARD
                .decode(response["patch"].as_str().expect("a patch"))
                .expect("base64");
            let patch: json_patch::Patch = serde_json::from_slice(&patch).expect("JSON Patch");
            let mut object = big["request"]["object"].clone();
            json_patch::patch(&mut object, &patch).expect("the patch applies");
            let command = object["spec"]["containers"][0]["command"].to_string();
            assert!(
                command.contains("--kubelet-certificate-authority="),
                "{command}"
            );
            assert_eq!(
                object["metadata"]["annotations"]["example.com/blob"]
                    .as_str()
                    .map(str::len),
                Some(2 << 20)
            );
        } else if mode.contains("enforce") {
            assert_eq!(response["allowed"], false, "{response}");
        } else {
            assert_eq!(response["allowed"], true, "{response}");
            assert!(
                response["warnings"]
                    .to_string()
                    .contains("apiserver-kubelet-ca")
            );
        }
    }
}

/// JSON nested deeper than serde_json builds (128 levels), where the engine never looks.
fn deep() -> Value {
    let mut v = json!([]);
    for _ in 0..1000 {
        v = json!([v]);
    }
    v
}

fn review(object: Value) -> Vec<u8> {
    let kind = object["kind"].clone();
    // serde_json's serialiser has no depth limit.
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "u-1",
            "kind": {"group": "", "version": "v1", "kind": kind},
            "operation": "CREATE",
            "object": object,
        }
    }))
    .expect("serialise")
}

#[tokio::test]
async fn an_irrelevant_object_is_answered_without_being_built() {
    let blob = deep();
    let irrelevant = [
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "app-settings", "namespace": "default"},
               "data": {"settings": "x"}, "extra": blob}),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "kubelet-config", "namespace": "default"}, "extra": blob}),
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": "kubeadm-config", "namespace": "kube-system"}, "extra": blob}),
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
               "spec": {"containers": [{"name": "web", "image": "nginx"}], "extra": blob}}),
    ];
    for object in irrelevant {
        for path in ["/validate", "/mutate"] {
            let (status, body) = call(app("mode: enforce\n"), path, review(object.clone())).await;
            let text = String::from_utf8_lossy(&body).into_owned();
            assert_eq!(status, StatusCode::OK, "{path} {}: {text}", object["kind"]);
            let v = json(&body);
            assert_eq!(v["response"]["uid"], "u-1");
            assert_eq!(v["response"]["allowed"], true, "{v}");
            assert!(v["response"].get("warnings").is_none(), "{v}");
            assert!(v["response"].get("patch").is_none(), "{v}");
        }
    }
    // The control: where the engine must read the object, the same nesting is refused, as the
    // full parse refuses it, though the members the engine reads are built without it.
    let relevant = [
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "kubelet-config", "namespace": "kube-system"},
            "data": {"kubelet": "kind: KubeletConfiguration\n"}, "extra": blob}),
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "kube-apiserver-n"},
            "spec": {"containers": [{"name": "kube-apiserver", "command": ["kube-apiserver"]}],
                "extra": blob}}),
    ];
    for object in relevant {
        for path in ["/validate", "/mutate"] {
            let (status, body) = call(app("mode: enforce\n"), path, review(object.clone())).await;
            let text = String::from_utf8_lossy(&body);
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {text}");
            assert!(text.contains("recursion limit"), "{path}: {text}");
        }
    }
}

/// A review as the API server writes it (envelope first, then the object), of a 2 MiB object
/// whose text breaks off after its data: whoever reads the object fails on it.
fn large_unreadable(
    kind: &str,
    name: &str,
    namespace: &str,
    operation: &str,
    sub: &str,
) -> Vec<u8> {
    let head = json!({
        "uid": "u-big",
        "kind": {"group": "", "version": "v1", "kind": kind},
        "subResource": sub,
        "name": name,
        "namespace": namespace,
        "operation": operation,
        "userInfo": {"username": "admin"},
    })
    .to_string();
    // Open the request again, to add the object.
    let head = head.strip_suffix('}').unwrap_or(&head);
    let blob = "x".repeat(2 << 20);
    format!(
        r#"{{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{head},"object":{{"apiVersion":"v1","kind":"{kind}","metadata":{{"name":"{name}","namespace":"{namespace}"}},"data":{{"blob":"{blob}"}},!!! not JSON"#
    )
    .into_bytes()
}

#[tokio::test]
async fn a_large_object_of_an_irrelevant_kind_is_answered_without_reading_it() {
    let metrics = Arc::new(Metrics::new());
    for (kind, name, ns, op, sub) in [
        ("Secret", "kubeadm-config", "kube-system", "CREATE", ""),
        ("ConfigMap", "app-settings", "default", "UPDATE", ""),
        ("ConfigMap", "kubelet-config", "default", "CREATE", ""),
        ("Pod", "web", "default", "DELETE", ""),
        ("Pod", "web", "default", "UPDATE", "status"),
    ] {
        for path in ["/validate", "/mutate"] {
            let body = large_unreadable(kind, name, ns, op, sub);
            let (status, answer) =
                call(app_with("mode: enforce\n", metrics.clone()), path, body).await;
            let text = String::from_utf8_lossy(&answer).into_owned();
            assert_eq!(status, StatusCode::OK, "{path} {kind} {op} {sub}: {text}");
            let v = json(&answer);
            assert_eq!(v["apiVersion"], "admission.k8s.io/v1");
            assert_eq!(v["response"]["uid"], "u-big");
            assert_eq!(v["response"]["allowed"], true, "{v}");
            assert!(v["response"].get("patch").is_none(), "{v}");
        }
    }
    // dryRun follows the object and was not read: counted as unknown, not as false.
    let text = metrics.encode();
    let counted: Vec<(bool, u64)> = text
        .lines()
        .filter(|l| l.starts_with("kubelet_tls_guard_admission_requests_total{"))
        .map(|l| {
            let n = l.rsplit(' ').next().and_then(|n| n.parse().ok());
            (l.contains("dry_run=\"unknown\""), n.unwrap_or(0))
        })
        .collect();
    assert!(counted.iter().all(|(unknown, _)| *unknown), "{text}");
    assert_eq!(counted.iter().map(|(_, n)| n).sum::<u64>(), 10, "{text}");
    // The controls: where the object must be read, its broken text is found and refused, in a
    // large body (a Pod, a kubelet-config ConfigMap in kube-system, a Pod without a name) as in
    // a small one of an irrelevant kind.
    let small = {
        let mut b = large_unreadable("Secret", "s", "default", "CREATE", "");
        let cut = b.len() - (2 << 20) - 40;
        b.drain(cut..b.len() - 40);
        b
    };
    assert!(small.len() < 64 * 1024);
    // A second request after a whole first one: the body is refused, not answered from the
    // second's envelope.
    let twice = {
        let big = large_unreadable("Secret", "s", "default", "CREATE", "");
        let text = String::from_utf8(big).expect("utf-8");
        let first = r#""request":{"uid":"u-0","operation":"CREATE","object":{}},"#;
        text.replacen(r#""request":"#, &format!("{first}\"request\":"), 1)
    };
    let (status, answer) = call(app("mode: enforce\n"), "/validate", twice.into_bytes()).await;
    let text = String::from_utf8_lossy(&answer);
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("duplicate field `request`"), "{text}");
    for (what, body) in [
        (
            "pod",
            large_unreadable("Pod", "web", "default", "CREATE", ""),
        ),
        (
            "kubelet-config",
            large_unreadable("ConfigMap", "kubelet-config", "kube-system", "CREATE", ""),
        ),
        (
            "no name",
            large_unreadable("Secret", "", "default", "CREATE", ""),
        ),
        ("small secret", small),
    ] {
        let (status, answer) = call(app("mode: enforce\n"), "/validate", body).await;
        let text = String::from_utf8_lossy(&answer);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {text}");
        assert!(text.contains("not JSON"), "{what}: {text}");
    }
}

/// Request bytes to response bytes, through the lean first pass and through the full parse.
fn answers(body: &[u8], endpoint: Endpoint, policy: &Policy) -> [Result<Value, String>; 2] {
    [lean::parse(body, endpoint, policy), parse_review(body)].map(|parsed| {
        let review = parsed.map_err(|e| e.to_string())?;
        let out = decide(endpoint, &review.request, policy);
        let bytes = render(review.api_version, review.request.uid(), &out.response)
            .map_err(|e| e.to_string())?;
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        // What the log line and the metrics name: a pod decided on its borrowed tree has no
        // object built, only its identity (`lean::tree`).
        let r = &review.request;
        let who = [r.kind(), r.namespace(), r.name(), r.operation()];
        Ok(
            json!({"answer": v, "decision": out.decision.as_str(), "skipped": out.skipped,
            "who": who, "dryRun": r.dry_run_read(), "results": format!("{:?}", out.results),
            "violations": format!("{:?}", out.violations), "mirror": out.mirror}),
        )
    })
}

/// Did the lean pass decide while parsing (a small pod, `lean::tree`)?
fn decided_in_parse(body: &[u8], endpoint: Endpoint, policy: &Policy) -> bool {
    lean::parse(body, endpoint, policy).is_ok_and(|r| r.request.decided.is_some())
}

#[test]
fn the_lean_pass_answers_as_the_full_parse_on_every_fixture() {
    let mut bodies: Vec<(String, Vec<u8>)> = Vec::new();
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/admission")];
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/admission-reviews");
    if corpus.is_dir() {
        dirs.push(corpus);
    } else {
        skip::skip("../shared/corpus/admission-reviews is absent; fixtures only");
    }
    for dir in dirs {
        for entry in std::fs::read_dir(&dir).expect("read dir").flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "json") {
                let body = std::fs::read(&path).expect("read");
                bodies.push((path.display().to_string(), body));
            }
        }
    }
    // Each fixture's object also renamed, moved, re-kinded and unfixed, so both answers get
    // exercised.
    let variants = lean_variants::variants(&bodies);
    bodies.extend(variants);
    assert!(bodies.len() > 20, "{} bodies", bodies.len());
    // The last policy's patches mount a directory no fixture mounts: they read the mounts and
    // the volumes a pruned pod keeps.
    let mounting = "mode: enforce\nremediation:\n  kubeletCertificateAuthority: /pki/ca.crt\n  \
                    addHostPathVolume: true\n";
    let (mut mounted, mut renamed, mut decided) = (0, 0, [0, 0]);
    for policy in ["", "mode: enforce\n", mounting] {
        let policy = Policy::from_yaml(policy, "test").expect("policy");
        for (name, body) in &bodies {
            for endpoint in [Endpoint::Validate, Endpoint::Mutate] {
                let [lean, full] = answers(body, endpoint, &policy);
                assert_eq!(lean, full, "{name} {endpoint:?}");
                decided[endpoint as usize] +=
                    usize::from(decided_in_parse(body, endpoint, &policy));
                let patch = lean
                    .as_ref()
                    .ok()
                    .and_then(|a| a.pointer("/answer/response/auditAnnotations/patch"));
                let patch = patch.map(Value::to_string).unwrap_or_default();
                mounted += usize::from(patch.contains("kubelet-tls-guard-pki"));
                renamed += usize::from(patch.contains("kubelet-tls-guard-pki-1"));
            }
        }
    }
    // Most pods are decided on the borrowed tree at either endpoint: both readers are compared.
    assert!(
        decided.iter().all(|d| *d > 20),
        "{decided:?} answers decided in the parse"
    );
    assert!(mounted > 0, "no patch mounted a directory");
    assert!(renamed > 0, "no patch named its volume past a pod's own");
}

/// Pods decided on the borrowed tree (`lean::tree`) in the forms the fixtures do not have: the
/// request without the object's identity, escapes, repeated keys, words that are not strings,
/// and for a patch, mounts and volumes that are not what they seem.
#[test]
fn a_pod_decided_in_the_parse_is_answered_and_named_as_the_full_parse() {
    let container = r#"{"name":"kube-apiserver","image":"registry.k8s.io/kube-apiserver:v1.34.0","command":["kube-apiserver","--etcd-servers=https://127.0.0.1:2379"]}"#;
    let pod = |metadata: &str, containers: &str| {
        format!(
            r#"{{"apiVersion":"v1","kind":"Pod","metadata":{metadata},"spec":{{"containers":[{containers}]}}}}"#
        )
    };
    let objects = [
        // Named only by generateName, in the object's namespace.
        pod(r#"{"generateName":"kube-apiserver-","namespace":"kube-system"}"#, container),
        // Empty names and namespace: the generateName.
        pod(r#"{"name":"","generateName":"x-","namespace":""}"#, container),
        // A mirror pod by its owner, with a label naming the component.
        pod(
            r#"{"name":"kube-apiserver-cp","namespace":"kube-system","labels":{"component":"kube-apiserver","tier":"control-plane"},"ownerReferences":[{"kind":"Node","name":"cp"}]}"#,
            r#"{"name":"kube-apiserver","image":"example.com/wrapper","command":["/wrapper",7,null,"--kubelet-client-certificate=/a\u002ecrt","--kubelet-client-key=\"/b.key\""]}"#,
        ),
        // A repeated kind: the last is the object's.
        r#"{"kind":"Deployment","apiVersion":"v1","kind":"Pod","metadata":{"name":"p","name":"q"},"spec":{"containers":[CONTAINER]}}"#
            .replace("CONTAINER", container),
        // An escaped word and an annotation that marks a mirror pod with a non-string value.
        pod(
            r#"{"name":"a\tb","annotations":{"kubernetes.io/config.mirror":1}}"#,
            r#"{"name":"kube-apiserver","command":["kube-apiserver","--anonymous-auth=false\n"]}"#,
        ),
        // A workload whose mounts and volumes hold odd members: a patch reads them. A shell
        // line for the flags, a mount without a path, a volume named by a number, and one with
        // the name a patch would give its own.
        r#"{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"d","namespace":"n"},"spec":{"template":{"spec":{"volumes":[{"name":5},{"name":"kubelet-tls-guard-pki"},{"name":"k\u0031"}],"containers":[{"name":"x","image":"busybox"},{"name":"kube-apiserver","image":"registry.k8s.io/kube-apiserver:v1.34.0","command":["sh","-c","exec kube-apiserver --feature-gates=A=true"],"volumeMounts":[{"mountPath":null},{"name":"k","mountPath":"/etc/kubernetes/pki"},7]}]}}}}"#.to_string(),
        // A pod whose container's mounts are not a list, and whose volumes are a mapping.
        pod(
            r#"{"name":"p","namespace":"kube-system"}"#,
            r#"{"name":"kube-apiserver","image":"registry.k8s.io/kube-apiserver:v1.34.0","args":["--etcd-servers=https://127.0.0.1:2379"],"volumeMounts":{"a":"b"}}"#,
        )
        .replace(r#""containers":"#, r#""volumes":{"name":"v"},"containers":"#),
        // No component: kube-proxy, whose image holds `kube`, and a web server beside it.
        pod(
            r#"{"name":"kube-proxy-x7k2p","namespace":"kube-system"}"#,
            r#"{"name":"kube-proxy","image":"registry.k8s.io/kube-proxy:v1.34.0","command":["/usr/local/bin/kube-proxy","--config=/var/lib/kube-proxy/config.conf"]},{"name":"web","image":"nginx:1.27"}"#,
        ),
    ];
    let requests = [
        r#"{"uid":"u-1","operation":"CREATE","object":OBJECT}"#,
        r#"{"uid":"u-2","kind":{"kind":""},"name":"","operation":"CREATE","object":OBJECT,"dryRun":true}"#,
        r#"{"uid":"u-3","kind":{"kind":"Pod"},"name":"named","namespace":"ns","object":OBJECT,"operation":"UPDATE"}"#,
        r#"{"uid":"u-4","operation":"CREATE","object":OBJECT,"subResource":"status"}"#,
        r#"{"uid":"u-5","operation":"DELETE","object":OBJECT}"#,
        // Named `kube…` before the object: read once, by the pod pass (`names_likely_component`).
        r#"{"uid":"u-6","kind":{"kind":"Pod"},"name":"kube-proxy-x7k2p","namespace":"kube-system","operation":"CREATE","object":OBJECT}"#,
        r#"{"uid":"u-7","kind":{"kind":"Deployment"},"name":"kube-apiserver","operation":"UPDATE","object":OBJECT,"dryRun":false}"#,
    ];
    let (mut decided, mut renamed) = ([0, 0], 0);
    for policy in [
        "",
        "mode: enforce\n",
        "mode: enforce\nexemptions:\n- namespace: kube-system\n",
        "mode: enforce\nremediation:\n  kubeletCertificateAuthority: /pki/ca.crt\n  addHostPathVolume: true\n",
    ] {
        let policy = Policy::from_yaml(policy, "test").expect("policy");
        for object in &objects {
            for request in requests {
                let body = format!(
                    r#"{{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}}"#,
                    request.replace("OBJECT", object)
                );
                for endpoint in [Endpoint::Validate, Endpoint::Mutate] {
                    let [lean, full] = answers(body.as_bytes(), endpoint, &policy);
                    assert!(full.is_ok(), "{body}: {full:?}");
                    assert_eq!(lean, full, "{endpoint:?} {body}");
                    let patch = lean
                        .as_ref()
                        .ok()
                        .and_then(|a| a.pointer("/answer/response/auditAnnotations/patch"));
                    renamed += usize::from(
                        patch.is_some_and(|p| p.to_string().contains("kubelet-tls-guard-pki-1")),
                    );
                    decided[endpoint as usize] +=
                        usize::from(decided_in_parse(body.as_bytes(), endpoint, &policy));
                }
            }
        }
    }
    assert!(
        decided.iter().all(|d| *d >= 80),
        "{decided:?} decided in the parse"
    );
    // The workload's patch mounted the directory with a volume named past its own.
    assert!(renamed > 0, "no patch named its volume past the workload's");
}
