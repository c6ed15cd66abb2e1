//! Scale, against the real kube-apiserver: N Nodes and N pending kubelet-serving CSRs, each
//! created as its node (impersonated, so spec.username is `system:node:NAME`), 1 in 10 naming a
//! neighbour's IP. One `approve-csrs --once` as the shipped ServiceAccount must decide all of
//! them; the run's wall time and peak RSS (from `/usr/bin/time -v` when installed) are printed.
//! N is 500 in the default run; the benchmark of record is
//! `KTG_SCALE_N=5000 KTG_APPROVER_BIN=target/release/kubelet-tls-guard cargo test --release
//! --test approve_scale -- --nocapture`.

mod common;

use common::apiserver;
use common::approver::{SERVING, install, lock, out_text, run_approver};
use common::csr_fixtures::{Shape, kubelet_shape, request_pem};
use futures::StreamExt;
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::json;
use std::time::Instant;

/// How many Nodes and CSRs (KTG_SCALE_N, default 500).
fn n() -> usize {
    std::env::var("KTG_SCALE_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n >= 10)
        .unwrap_or(500)
}

fn ip(i: usize) -> String {
    format!("10.{}.{}.{}", 100 + i / 65_536, (i / 256) % 256, i % 256)
}

async fn admin(path: &std::path::Path) -> kube::Client {
    let kc = Kubeconfig::read_from(path).expect("admin kubeconfig");
    let mut cfg = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("config");
    cfg.proxy_url = None;
    kube::Client::try_from(cfg).expect("client")
}

/// POST `body` to `path` as `user` in `group` (impersonation: the API server records that user
/// as the CSR's requester).
async fn post(client: &kube::Client, path: &str, body: &serde_json::Value, user: Option<&str>) {
    let mut req = axum::http::Request::post(path).header("content-type", "application/json");
    if let Some(u) = user {
        req = req
            .header("Impersonate-User", u)
            .header("Impersonate-Group", "system:nodes");
    }
    let req = req.body(body.to_string().into_bytes()).expect("request");
    let res: Result<serde_json::Value, _> = client.request(req).await;
    if let Err(e) = res {
        panic!("POST {path}: {e}");
    }
}

#[test]
fn once_decides_every_csr_at_scale() {
    #[allow(non_snake_case)]
    let N = n();
    let Some(s) = apiserver::shared() else { return };
    let _g = lock();
    let kc = install(s);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let t0 = Instant::now();
    rt.block_on(async {
        let client = admin(&s.admin_kubeconfig).await;
        let pems: Vec<String> = (0..N)
            .map(|i| {
                let name = format!("scale-{i:05}");
                let mut shape = kubelet_shape(&name, &[&ip(i)]);
                if i % 10 == 9 {
                    shape = Shape {
                        ips: vec![ip(i).parse().expect("ip"), ip(i - 1).parse().expect("ip")],
                        ..shape
                    };
                }
                request_pem(&shape)
            })
            .collect();
        futures::stream::iter(0..N)
            .map(|i| {
                let client = client.clone();
                let pem = &pems[i];
                async move {
                    let name = format!("scale-{i:05}");
                    let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
                        "status": {"addresses": [{"type": "InternalIP", "address": ip(i)},
                                                 {"type": "Hostname", "address": name}]}});
                    post(&client, "/api/v1/nodes", &node, None).await;
                    use base64::Engine as _;
                    let csr = json!({"apiVersion": "certificates.k8s.io/v1",
                        "kind": "CertificateSigningRequest", "metadata": {"name": name},
                        "spec": {"request": base64::engine::general_purpose::STANDARD.encode(pem),
                                 "signerName": SERVING,
                                 "usages": ["digital signature", "key encipherment", "server auth"]}});
                    let user = format!("system:node:{name}");
                    post(
                        &client,
                        "/apis/certificates.k8s.io/v1/certificatesigningrequests",
                        &csr,
                        Some(&user),
                    )
                    .await;
                }
            })
            .buffer_unordered(16)
            .collect::<Vec<()>>()
            .await;
    });
    eprintln!(
        "setup: {N} Nodes and {N} CSRs created in {:?}",
        t0.elapsed()
    );

    let timed = std::path::Path::new("/usr/bin/time").is_file();
    let concurrency = std::env::var("KTG_APPROVER_CONCURRENCY").unwrap_or_else(|_| "16".into());
    let start = Instant::now();
    let out = if timed {
        let bin = std::env::var("KTG_APPROVER_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_kubelet-tls-guard").to_string());
        let mut cmd = std::process::Command::new("/usr/bin/time");
        cmd.args([
            "-v",
            &bin,
            "approve-csrs",
            "--once",
            "--concurrency",
            &concurrency,
            "--kubeconfig",
        ])
        .arg(&kc)
        .env_remove("KUBECONFIG");
        for v in ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"] {
            cmd.env_remove(v);
        }
        cmd.output().expect("run approve-csrs")
    } else {
        run_approver(&kc, &["--once", "--concurrency", &concurrency])
    };
    let took = start.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", out_text(&out));
    assert!(
        stdout.contains(&format!(
            "approved {}, denied {}, pending 0, errors 0",
            N - N / 10,
            N / 10
        )),
        "{}",
        out_text(&out)
    );
    let rss = String::from_utf8_lossy(&out.stderr)
        .lines()
        .find(|l| l.contains("Maximum resident set size"))
        .map(str::trim)
        .unwrap_or("(no /usr/bin/time)")
        .to_string();
    eprintln!(
        "approve-csrs --once --concurrency {concurrency}: {N} decided in {took:?} ({:.0} decisions/s, each an /approval PUT and an Event); {rss}",
        N as f64 / took.as_secs_f64()
    );
    // Spot-check through the API: decided once, with the right reason.
    let csrs: Vec<CertificateSigningRequest> = rt.block_on(async {
        let client = admin(&s.admin_kubeconfig).await;
        let api: kube::Api<CertificateSigningRequest> = kube::Api::all(client);
        let mut v = Vec::new();
        for name in [
            "scale-00000".to_string(),
            "scale-00009".into(),
            format!("scale-{:05}", N - N % 10 - 1),
        ] {
            v.push(api.get(&name).await.expect("get csr"));
        }
        v
    });
    let reasons: Vec<String> = csrs
        .iter()
        .map(|c| {
            let conds = c
                .status
                .as_ref()
                .and_then(|s| s.conditions.clone())
                .unwrap_or_default();
            assert_eq!(conds.len(), 1, "{:?}", c.metadata.name);
            conds[0].reason.clone().unwrap_or_default()
        })
        .collect();
    assert_eq!(
        reasons,
        ["AllChecksPassed", "SANNotNodeAddress", "SANNotNodeAddress"]
    );
}
