//! Serving-certificate rotation (DESIGN.md section 5): the files are re-read when they change,
//! without dropping connections. Both ways a certificate is replaced in practice: files renamed
//! into place, and a Kubernetes Secret volume, where the kubelet swaps the `..data` symlink.
//! Clients keep sending throughout; not one request may fail. New handshakes get the new
//! certificate; garbage keeps the old one in service and counts a reload failure.

mod server_common;

use serde_json::Value;
use server_common::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::task::JoinHandle;

/// A client that sends admission requests until told to stop, recording failures and the
/// serials of the certificates its connection was served.
struct Traffic {
    stop: Arc<AtomicBool>,
    /// Answered requests, per client.
    sent: Vec<Arc<AtomicU64>>,
    tasks: Vec<JoinHandle<(Vec<String>, Vec<String>)>>,
}

impl Traffic {
    /// `kind`: a kept-alive HTTP/1.1 client, an h2 client, or a client that makes a new
    /// connection (a new handshake) for every request.
    fn start(s: &TestServer, clients: &[(&'static str, reqwest::Client)]) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let sent: Vec<Arc<AtomicU64>> = clients.iter().map(|_| Arc::default()).collect();
        let review = deployment_without_ca();
        let tasks = clients
            .iter()
            .zip(&sent)
            .map(|((kind, client), sent)| {
                let (stop, sent, client) = (stop.clone(), sent.clone(), client.clone());
                let url = s.url("/validate");
                let review = review.clone();
                let kind = *kind;
                tokio::spawn(async move {
                    let mut failures = Vec::new();
                    let mut serials = Vec::new();
                    let mut i = 0u64;
                    while !stop.load(Ordering::SeqCst) {
                        i += 1;
                        let uid = format!("{kind}-{i}");
                        let body = serde_json::to_vec(&with_uid(&review, &uid)).unwrap();
                        let r = client
                            .post(&url)
                            .header("content-type", "application/json")
                            .body(body)
                            .send()
                            .await;
                        match r {
                            Err(e) => failures.push(format!("{uid}: {e:?}")),
                            Ok(r) => {
                                let a = Answer::from_response(r).await;
                                let ok = a.status == 200
                                    && serde_json::from_str::<Value>(&a.text).is_ok_and(|v| {
                                        v["response"]["uid"] == uid.as_str()
                                            && v["response"]["allowed"] == false
                                    });
                                if !ok {
                                    failures.push(format!("{uid}: HTTP {} {}", a.status, a.text));
                                }
                                if let Some(der) = a.peer_cert {
                                    let serial = serial_of(&der);
                                    if serials.last() != Some(&serial) {
                                        serials.push(serial);
                                    }
                                }
                            }
                        }
                        sent.fetch_add(1, Ordering::SeqCst);
                    }
                    (failures, serials)
                })
            })
            .collect();
        Traffic { stop, sent, tasks }
    }

    /// Wait until every client has had at least `n` more requests answered (proof that
    /// traffic flows across a step of the test).
    async fn flowing(&self, n: u64) {
        let start: Vec<u64> = self.sent.iter().map(|c| c.load(Ordering::SeqCst)).collect();
        eventually("every client's traffic flows", || {
            let done = self
                .sent
                .iter()
                .zip(&start)
                .all(|(c, s)| c.load(Ordering::SeqCst) >= s + n);
            async move { done.then_some(()) }
        })
        .await;
    }

    /// Stop and return, per client, the failures and the serials seen (in order, deduplicated).
    async fn finish(self) -> Vec<(Vec<String>, Vec<String>)> {
        self.stop.store(true, Ordering::SeqCst);
        let mut out = Vec::new();
        for t in self.tasks {
            out.push(within("client task", t).await.unwrap());
        }
        out
    }
}

fn clients(ca_pem: &str) -> Vec<(&'static str, reqwest::Client)> {
    // No session resumption: a resumed session is not served a certificate at all.
    let mut full_handshakes = client_config(ca_pem, Alpn::Http1, BOTH_VERSIONS, None);
    full_handshakes.resumption = rustls::client::Resumption::disabled();
    let fresh = reqwest::Client::builder()
        .use_preconfigured_tls(full_handshakes)
        .no_proxy()
        .tls_info(true)
        .http1_only()
        .pool_max_idle_per_host(0)
        .timeout(DEADLINE)
        .build()
        .unwrap();
    vec![
        ("keep-alive-h1", http_client(ca_pem, Alpn::Http1, None)),
        ("keep-alive-h2", http_client(ca_pem, Alpn::H2, None)),
        ("new-connection-each-time", fresh),
    ]
}

/// Wait until a fresh handshake is served the certificate with `serial`.
async fn served(s: &TestServer, serial: &str) {
    let (addr, ca) = (s.addr, s.ca_pem.clone());
    eventually(&format!("new handshakes get certificate {serial}"), || {
        let ca = ca.clone();
        async move { (fresh_serial(addr, &ca).await.ok()? == serial).then_some(()) }
    })
    .await;
}

async fn reload_failures(s: &TestServer) -> f64 {
    s.metrics().await.get(M_RELOAD_FAILURES, &[])
}

struct Leaf {
    cert_pem: String,
    key_pem: String,
    serial: String,
    not_after: i64,
}

fn leaf(s: &TestServer, days: u32) -> Leaf {
    let c = s.ca.issue_server(&server_names(), days).unwrap();
    let der = first_cert_der(&c.cert_pem);
    Leaf {
        serial: serial_of(&der),
        not_after: not_after_of(&der),
        cert_pem: c.cert_pem,
        key_pem: c.key_pem,
    }
}

fn short_reload(o: &mut kubelet_tls_guard::server::ServerOptions) {
    o.cert_reload_interval = Duration::from_millis(50);
}

/// The traffic's verdict: no failure at all; the kept-alive connections were never dropped
/// (they kept the certificate they were first served); fresh connections saw every rotation.
fn assert_traffic(results: &[(Vec<String>, Vec<String>)], first: &str, all: &[&str]) {
    for (i, (failures, serials)) in results.iter().enumerate() {
        assert!(
            failures.is_empty(),
            "client {i}: {} failed request(s): {:?}",
            failures.len(),
            &failures[..failures.len().min(5)]
        );
        if i < 2 {
            assert_eq!(
                serials,
                &vec![first.to_string()],
                "kept-alive client {i} was reconnected"
            );
        } else {
            assert_eq!(
                serials,
                &all.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                "the new-connection client saw these certificates"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_by_renaming_files_into_place() {
    let s = TestServer::start_with(policy("mode: enforce\n"), short_reload).await;
    let first = serial_of(&first_cert_der(
        &std::fs::read_to_string(&s.cert_path).unwrap(),
    ));
    served(&s, &first).await;
    let traffic = Traffic::start(&s, &clients(&s.ca_pem));
    traffic.flowing(10).await;

    // Rotate: key first, then the certificate, each renamed into place.
    let b = leaf(&s, 60);
    write_atomic(&s.key_path, b.key_pem.as_bytes());
    write_atomic(&s.cert_path, b.cert_pem.as_bytes());
    served(&s, &b.serial).await;
    let m = s.metrics().await;
    assert!(m.get(M_RELOADS, &[]) >= 1.0, "{}", m.0);
    assert_eq!(m.sum(M_NOT_AFTER, &[]), Some(b.not_after as f64));
    traffic.flowing(10).await;

    // Garbage: the previous certificate stays and the failure is counted.
    let failures = reload_failures(&s).await;
    write_atomic(&s.cert_path, b"-----BEGIN CERTIFICATE-----\nnot base64\n");
    eventually("the garbage is noticed", || async {
        (reload_failures(&s).await > failures).then_some(())
    })
    .await;
    assert_eq!(fresh_serial(s.addr, &s.ca_pem).await.unwrap(), b.serial);
    traffic.flowing(10).await;
    assert_eq!(fresh_serial(s.addr, &s.ca_pem).await.unwrap(), b.serial);
    assert_eq!(
        s.metrics().await.sum(M_NOT_AFTER, &[]),
        Some(b.not_after as f64)
    );

    // A good pair again is picked up.
    let c = leaf(&s, 90);
    write_atomic(&s.key_path, c.key_pem.as_bytes());
    write_atomic(&s.cert_path, c.cert_pem.as_bytes());
    served(&s, &c.serial).await;
    traffic.flowing(10).await;

    let results = traffic.finish().await;
    assert_traffic(&results, &first, &[&first, &b.serial, &c.serial]);
}

/// A Secret volume: `tls.crt -> ..data/tls.crt`, `..data -> ..<timestamp>/`; an update writes a
/// new timestamped directory and renames a new `..data` link over the old one.
struct SecretVolume {
    root: PathBuf,
    generation: u32,
}

impl SecretVolume {
    fn create(root: &Path, files: &[(&str, &[u8])]) -> SecretVolume {
        let mut v = SecretVolume {
            root: root.to_path_buf(),
            generation: 0,
        };
        v.update(files);
        for (name, _) in files {
            std::os::unix::fs::symlink(format!("..data/{name}"), root.join(name)).unwrap();
        }
        v
    }

    fn update(&mut self, files: &[(&str, &[u8])]) {
        self.generation += 1;
        let dir_name = format!(
            "..2025_10_14_09_00_{:02}.{}",
            self.generation, self.generation
        );
        let dir = self.root.join(&dir_name);
        std::fs::create_dir(&dir).unwrap();
        for (name, contents) in files {
            std::fs::write(dir.join(name), contents).unwrap();
        }
        let tmp = self.root.join("..data_tmp");
        std::os::unix::fs::symlink(&dir_name, &tmp).unwrap();
        let old = std::fs::read_link(self.root.join("..data")).ok();
        std::fs::rename(&tmp, self.root.join("..data")).unwrap();
        if let Some(old) = old {
            std::fs::remove_dir_all(self.root.join(old)).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_by_secret_volume_symlink_swap() {
    let dir = tempfile::tempdir().unwrap();
    let ca = new_ca("secret CA");
    let a = ca.issue_server(&server_names(), 30).unwrap();
    let mut volume = SecretVolume::create(
        dir.path(),
        &[
            ("tls.crt", a.cert_pem.as_bytes()),
            ("tls.key", a.key_pem.as_bytes()),
        ],
    );
    let (cert_path, key_path) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    let mut s = TestServer::start_with(policy("mode: enforce\n"), |o| {
        short_reload(o);
        o.tls_cert = cert_path.clone();
        o.tls_key = key_path.clone();
    })
    .await;
    // The harness made its own CA; this server serves the Secret's, so trust that one.
    s.ca_pem = ca.cert_pem().to_string();
    s.ca = ca;
    let first = serial_of(&first_cert_der(&a.cert_pem));
    served(&s, &first).await;
    let traffic = Traffic::start(&s, &clients(&s.ca_pem));
    traffic.flowing(10).await;

    let b = leaf(&s, 60);
    volume.update(&[
        ("tls.crt", b.cert_pem.as_bytes()),
        ("tls.key", b.key_pem.as_bytes()),
    ]);
    served(&s, &b.serial).await;
    let m = s.metrics().await;
    assert_eq!(m.get(M_RELOADS, &[]), 1.0, "one swap, one reload: {}", m.0);
    assert_eq!(
        m.get(M_RELOAD_FAILURES, &[]),
        0.0,
        "an atomic swap never shows a half-updated pair: {}",
        m.0
    );
    assert_eq!(m.sum(M_NOT_AFTER, &[]), Some(b.not_after as f64));
    traffic.flowing(10).await;

    // A Secret holding garbage: the previous certificate stays, the failure is counted.
    volume.update(&[("tls.crt", b"garbage"), ("tls.key", b"garbage")]);
    eventually("the garbage is noticed", || async {
        (reload_failures(&s).await >= 1.0).then_some(())
    })
    .await;
    assert_eq!(fresh_serial(s.addr, &s.ca_pem).await.unwrap(), b.serial);
    traffic.flowing(10).await;
    let m = s.metrics().await;
    assert_eq!(m.get(M_RELOAD_FAILURES, &[]), 1.0, "reported once: {}", m.0);
    assert_eq!(m.sum(M_NOT_AFTER, &[]), Some(b.not_after as f64));

    let c = leaf(&s, 90);
    volume.update(&[
        ("tls.crt", c.cert_pem.as_bytes()),
        ("tls.key", c.key_pem.as_bytes()),
    ]);
    served(&s, &c.serial).await;
    traffic.flowing(10).await;

    let results = traffic.finish().await;
    assert_traffic(&results, &first, &[&first, &b.serial, &c.serial]);
    s.stop().await;
}
