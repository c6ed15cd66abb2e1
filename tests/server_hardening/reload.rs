//! Certificate reload (item 4): only small regular files are read, the reloader never blocks,
//! and expired or not-yet-valid certificates are never put in service.

use crate::server_common::*;
use crate::skip::require_tool;
use kubelet_tls_guard::engine::policy::Policy;
use kubelet_tls_guard::server::{self, ServerOptions};
use rcgen::{CertificateParams, IsCa, Issuer, KeyPair, PKCS_ECDSA_P256_SHA256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

fn fast_reload(o: &mut ServerOptions) {
    o.cert_reload_interval = Duration::from_millis(100);
}

/// A CA of the test's own, to issue certificates with any validity.
struct TimeCa {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl TimeCa {
    fn new() -> TimeCa {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut p = CertificateParams::default();
        p.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let now = OffsetDateTime::now_utc();
        p.not_before = now - time::Duration::days(10);
        p.not_after = now + time::Duration::days(10);
        let cert = p.self_signed(&key).unwrap();
        TimeCa {
            pem: cert.pem(),
            issuer: Issuer::new(p, key),
        }
    }

    /// A serving certificate for 127.0.0.1 valid from `now + from` to `now + to` (seconds).
    fn leaf(&self, from: i64, to: i64) -> (String, String) {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut p = CertificateParams::new(server_names()).unwrap();
        let now = OffsetDateTime::now_utc();
        p.not_before = now + time::Duration::seconds(from);
        p.not_after = now + time::Duration::seconds(to);
        let cert = p.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

async fn reload_failures(s: &TestServer) -> f64 {
    s.metrics().await.get(M_RELOAD_FAILURES, &[])
}

async fn failures_reach(s: &TestServer, n: f64, what: &str) {
    eventually(what, || async move {
        (reload_failures(s).await >= n).then_some(())
    })
    .await;
}

/// The serial served to a fresh handshake; trusts both the server's CA and `extra_ca`.
async fn serial(s: &TestServer, extra_ca: &str) -> String {
    fresh_serial(s.addr, &format!("{}{extra_ca}", s.ca_pem))
        .await
        .expect("handshake")
}

fn serial_of_pem(pem: &str) -> String {
    serial_of(&first_cert_der(pem))
}

fn replace_with_symlink(path: &Path, target: &Path) {
    let tmp = path.with_extension("tmp-link");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// The certificate and key as a Secret volume presents them: symlinks through a `data`
/// symlink that is swapped in one rename, so no poll ever sees a new key with an old certificate.
struct Volume {
    root: PathBuf,
    version: usize,
}

impl Volume {
    /// Turn the server's files into links to a first version with the same contents.
    fn adopt(s: &TestServer) -> Volume {
        let root = s.dir.path().join("volume");
        std::fs::create_dir(&root).unwrap();
        let mut v = Volume { root, version: 0 };
        let cert = std::fs::read_to_string(&s.cert_path).unwrap();
        let key = std::fs::read_to_string(&s.key_path).unwrap();
        v.put(&cert, &key);
        replace_with_symlink(&s.cert_path, &v.root.join("data").join("tls.crt"));
        replace_with_symlink(&s.key_path, &v.root.join("data").join("tls.key"));
        v
    }

    fn put(&mut self, cert: &str, key: &str) {
        self.version += 1;
        let dir = self.root.join(format!("v{}", self.version));
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("tls.crt"), cert).unwrap();
        std::fs::write(dir.join("tls.key"), key).unwrap();
        replace_with_symlink(&self.root.join("data"), &dir);
    }
}

/// Opens the FIFO for writing on drop (when a reader waits, it gets EOF), so a reloader stuck
/// on it cannot hang the test's runtime when an assertion fails.
struct FifoGuard(PathBuf);

impl Drop for FifoGuard {
    fn drop(&mut self) {
        use std::os::unix::fs::OpenOptionsExt;
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&self.0);
    }
}

/// The peak resident memory of this process so far, in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_zero_and_a_fifo_are_refused_and_good_files_put_back_load() {
    if !require_tool("mkfifo", "the FIFO reload test") {
        return;
    }
    let s = TestServer::start_with(policy("mode: enforce\n"), fast_reload).await;
    let ca = TimeCa::new();
    let first = serial(&s, &ca.pem).await;
    let peak_before = peak_rss_kib();

    // /dev/zero never ends: refused by its type, not read.
    replace_with_symlink(&s.cert_path, Path::new("/dev/zero"));
    failures_reach(&s, 1.0, "a reload failure for /dev/zero").await;
    assert_eq!(
        serial(&s, &ca.pem).await,
        first,
        "the last good certificate stays"
    );
    // Reading /dev/zero would take all memory; other tests of this binary stay far below 1 GiB.
    let grown = peak_rss_kib().saturating_sub(peak_before);
    eprintln!("peak resident memory grew by {grown} KiB");
    assert!(grown < 1024 * 1024, "peak memory grew by {grown} KiB");

    // A FIFO with no writer: opening it must not block the reloader.
    let fifo = s.dir.path().join("fifo.crt");
    let out = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .output()
        .unwrap();
    assert!(out.status.success(), "mkfifo: {out:?}");
    let _unblock = FifoGuard(fifo.clone());
    replace_with_symlink(&s.cert_path, &fifo);
    failures_reach(&s, 2.0, "a reload failure for the FIFO").await;
    assert_eq!(serial(&s, &ca.pem).await, first);

    // Good files put back are loaded.
    let (cert, key) = ca.leaf(-60, 3600);
    write_atomic(&s.key_path, key.as_bytes());
    write_atomic(&s.cert_path, cert.as_bytes());
    let want = serial_of_pem(&cert);
    let s = &s;
    eventually("the good certificate is served", || {
        let ca = ca.pem.clone();
        let want = want.clone();
        async move { (serial(s, &ca).await == want).then_some(()) }
    })
    .await;
    let m = s.metrics().await;
    assert_eq!(m.get(M_RELOADS, &[]), 1.0, "{}", m.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_file_is_refused() {
    let s = TestServer::start_with(policy("mode: enforce\n"), fast_reload).await;
    let first = serial(&s, "").await;
    let mut big = std::fs::read(&s.cert_path).unwrap();
    big.resize(2 * 1024 * 1024, b'\n');
    write_atomic(&s.cert_path, &big);
    failures_reach(&s, 1.0, "a reload failure for a 2 MiB file").await;
    assert_eq!(serial(&s, "").await, first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_and_not_yet_valid_certificates_are_not_served() {
    let s = TestServer::start_with(policy("mode: enforce\n"), fast_reload).await;
    let ca = TimeCa::new();
    let first = serial(&s, &ca.pem).await;
    let mut volume = Volume::adopt(&s);

    // Expired an hour ago.
    let (cert, key) = ca.leaf(-7200, -3600);
    volume.put(&cert, &key);
    failures_reach(&s, 1.0, "a reload failure for an expired certificate").await;
    assert_eq!(serial(&s, &ca.pem).await, first);
    // Reported once, not on every poll.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(reload_failures(&s).await, 1.0);
    let m = s.metrics().await;
    assert_eq!(m.get(M_RELOADS, &[]), 0.0, "{}", m.0);

    // Valid in 3 s: refused now, served once its time has come.
    let (cert, key) = ca.leaf(3, 3600);
    volume.put(&cert, &key);
    failures_reach(&s, 2.0, "a reload failure for a not-yet-valid certificate").await;
    assert_eq!(serial(&s, &ca.pem).await, first);
    let want = serial_of_pem(&cert);
    let s = &s;
    eventually("the certificate is served once valid", || {
        let ca = ca.pem.clone();
        let want = want.clone();
        async move { (serial(s, &ca).await == want).then_some(()) }
    })
    .await;
    assert_eq!(reload_failures(s).await, 2.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_refuses_an_expired_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TimeCa::new();
    let (cert, key) = ca.leaf(-7200, -3600);
    let (c, k) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::write(&c, cert).unwrap();
    std::fs::write(&k, key).unwrap();
    let mut opts = ServerOptions::new(c, k);
    opts.listen = "127.0.0.1:0".parse().unwrap();
    opts.metrics_listen = "127.0.0.1:0".parse().unwrap();
    let policy: Arc<Policy> = Arc::new(policy("mode: enforce\n"));
    match server::start(policy, opts).await {
        Ok(_) => panic!("started with an expired certificate"),
        Err(e) => assert!(e.to_string().contains("expired"), "{e}"),
    }
}
