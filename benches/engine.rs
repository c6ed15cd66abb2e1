//! The engine per AdmissionReview, from request bytes to response bytes (parse, decide, render;
//! no TLS, no HTTP), in enforce mode. Issue 14 targets: ≤ 5 µs per review, ≤ 1 µs for an
//! unrelated Pod, and a 1 MiB unrelated ConfigMap turned away by kind/name without parsing its
//! data. Run: `cargo bench --bench engine`.

use criterion::{Criterion, Throughput, criterion_group};
use kubelet_tls_guard::engine::policy::{Mode, Policy};
use kubelet_tls_guard::server::admission::render;
use kubelet_tls_guard::server::decide::{Endpoint, decide};
use kubelet_tls_guard::server::lean;
use serde_json::{Value, json};
use std::hint::black_box;

// The binary's allocator (src/main.rs), so that these figures are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/admission/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn review(kind: &str, group: &str, name: &str, namespace: &str, object: Value) -> Vec<u8> {
    let body = json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": group, "version": "v1", "kind": kind},
            "name": name,
            "namespace": namespace,
            "operation": "CREATE",
            "userInfo": {"username": "admin", "groups": ["system:masters"]},
            "object": object,
            "oldObject": null,
            "dryRun": false,
        }
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// A Deployment whose template runs 30 containers: a kube-apiserver without
/// `--kubelet-certificate-authority` (so /mutate patches it), and 29 sidecars.
fn deployment_30() -> Vec<u8> {
    let mut d = fixture("kube-apiserver.deployment.json");
    if let Some(Value::Array(args)) =
        d.pointer_mut("/request/object/spec/template/spec/containers/0/args")
    {
        args.retain(|a| {
            !a.as_str()
                .is_some_and(|s| s.starts_with("--kubelet-certificate-authority="))
        });
    }
    let containers = d.pointer_mut("/request/object/spec/template/spec/containers");
    if let Some(Value::Array(list)) = containers {
        for i in 1..30 {
            list.push(json!({
                "name": format!("sidecar-{i}"),
                "image": "registry.example/sidecar:1.0",
                "args": ["--port", format!("{}", 9000 + i), "--verbose"],
                "ports": [{"containerPort": 9000 + i}],
                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
            }));
        }
    }
    serde_json::to_vec(&d).unwrap_or_default()
}

fn big_config_map() -> Vec<u8> {
    let blob = "x".repeat(1 << 20);
    review(
        "ConfigMap",
        "",
        "app-settings",
        "default",
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "app-settings", "namespace": "default"},
            "data": {"settings.txt": blob},
        }),
    )
}

fn unrelated_pod() -> Vec<u8> {
    review(
        "Pod",
        "",
        "web-7d4b9c",
        "shop",
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web-7d4b9c", "namespace": "shop", "labels": {"app": "web"}},
            "spec": {"containers": [{
                "name": "web",
                "image": "nginx:1.27",
                "ports": [{"containerPort": 80}],
            }]},
        }),
    )
}

fn cases() -> Vec<(&'static str, Endpoint, Vec<u8>)> {
    let bytes = |name: &str| serde_json::to_vec(&fixture(name)).unwrap_or_default();
    vec![
        (
            "validate mirror pod",
            Endpoint::Validate,
            bytes("kube-apiserver.mirror-pod.json"),
        ),
        (
            "mutate deployment 30 containers",
            Endpoint::Mutate,
            deployment_30(),
        ),
        (
            "validate deployment 30 containers",
            Endpoint::Validate,
            deployment_30(),
        ),
        (
            "validate 1 MiB unrelated configmap",
            Endpoint::Validate,
            big_config_map(),
        ),
        (
            "validate kubelet-config",
            Endpoint::Validate,
            bytes("kubelet-config.configmap.json"),
        ),
        (
            "validate kubeadm-config",
            Endpoint::Validate,
            bytes("kubeadm-config.v1beta4.json"),
        ),
        (
            "validate unrelated pod",
            Endpoint::Validate,
            unrelated_pod(),
        ),
    ]
}

/// Request bytes to response bytes, as the handler does it. Not inlined: callgrind can then
/// count it alone (`--toggle-collect=*answer*`).
#[inline(never)]
fn answer(endpoint: Endpoint, body: &[u8], policy: &Policy) -> usize {
    let Ok(mut review) = lean::parse(body, endpoint, policy) else {
        return 0;
    };
    // As the handler: a pod may have been decided by the parse.
    let outcome = match review.request.decided.take() {
        Some(outcome) => *outcome,
        None => decide(endpoint, &review.request, policy),
    };
    render(review.api_version, review.request.uid(), &outcome.response).map_or(0, |b| b.len())
}

fn bench(c: &mut Criterion) {
    let policy = Policy {
        mode: Mode::Enforce,
        ..Policy::default()
    };
    let mut group = c.benchmark_group("engine");
    for (name, endpoint, body) in cases() {
        assert!(answer(endpoint, &body, &policy) > 0, "{name}: no answer");
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| answer(endpoint, black_box(&body), &policy))
        });
    }
    group.finish();
}

/// `ENGINE_LOOP=<case substring>:<n>`: answer the matching cases n times and exit, without
/// criterion, so that `valgrind --tool=callgrind` counts instructions of the request path alone
/// (divide by n; the one-off setup is the same for every n).
fn profile_loop(spec: &str) {
    let (filter, n) = spec.rsplit_once(':').unwrap_or((spec, "1000"));
    let n: usize = n.parse().unwrap_or(1000);
    let policy = Policy {
        mode: Mode::Enforce,
        ..Policy::default()
    };
    for (name, endpoint, body) in cases() {
        if name.contains(filter) {
            let mut total = 0;
            for _ in 0..n {
                total += answer(endpoint, black_box(&body), &policy);
            }
            println!("{name}: {n} answers, {total} bytes");
        }
    }
}

criterion_group!(benches, bench);

fn main() {
    if let Ok(spec) = std::env::var("ENGINE_LOOP") {
        profile_loop(&spec);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
