//! Starting, watching and reaping the etcd and kube-apiserver processes of `apiserver.rs`.

use super::{ApiServer, kubeconfig, pki, user_cert_lines};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Run directories live here, named `<prefix><test pid>-<nanos>`.
const RUN_PREFIX: &str = "ktg-apiserver-";
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `CMD...` with output to LOG, writes its pid to PIDFILE, and kills it (TERM, then KILL
/// after 5 s) as soon as process OWNER is gone. `kill -0` polling rather than a pipe: it also
/// notices an OWNER killed with SIGKILL.
const WATCHDOG: &str = r#"owner=$1 pidfile=$2 log=$3; shift 3
"$@" >"$log" 2>&1 </dev/null &
child=$!
echo "$child" >"$pidfile"
while kill -0 "$owner" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 0.3; done
kill -TERM "$child" 2>/dev/null
i=0
while kill -0 "$child" 2>/dev/null && [ $i -lt 20 ]; do sleep 0.25; i=$((i+1)); done
kill -KILL "$child" 2>/dev/null
wait "$child"
"#;

/// Once OWNER is gone and the processes in DIR/*.pid have exited, remove DIR.
const CLEANUP: &str = r#"owner=$1 dir=$2
while kill -0 "$owner" 2>/dev/null; do sleep 0.5; done
for f in "$dir"/*.pid; do
  [ -f "$f" ] || continue
  p=$(cat "$f")
  i=0
  while [ -n "$p" ] && kill -0 "$p" 2>/dev/null && [ $i -lt 60 ]; do sleep 0.25; i=$((i+1)); done
done
rm -rf "$dir"
"#;

pub fn clear_proxy(cmd: &mut Command) {
    // Loopback only: a proxy from the environment must never see these requests.
    for var in [
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("find a free loopback port: {e}"))
}

fn alive(pid: &str) -> bool {
    Path::new("/proc").join(pid.trim()).exists()
}

pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Kill what an earlier, killed run left behind (its watchdogs died with it) and remove its
/// directory. Only processes whose command line names our binaries are touched.
pub fn reap_stale() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let dir = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(owner) = name
            .strip_prefix(RUN_PREFIX)
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if owner.is_empty() || alive(owner) {
            continue;
        }
        for pidfile in ["etcd.pid", "kube-apiserver.pid"] {
            let pid = std::fs::read_to_string(dir.join(pidfile)).unwrap_or_default();
            let pid = pid.trim();
            let cmdline = std::fs::read(Path::new("/proc").join(pid).join("cmdline"))
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            if !pid.is_empty() && cmdline.contains(&dir.to_string_lossy().into_owned()) {
                let _ = Command::new("kill").args(["-KILL", pid]).status();
            }
        }
        // KTG_KEEP_APISERVER_DIR asked to keep it for a look: only its processes go.
        if !dir.join("keep").exists() {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

fn spawn_watched(dir: &Path, name: &str, program: &Path, args: &[String]) -> Result<(), String> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(WATCHDOG)
        .arg("watchdog")
        .arg(std::process::id().to_string())
        .arg(dir.join(format!("{name}.pid")))
        .arg(dir.join(format!("{name}.log")))
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    clear_proxy(&mut cmd);
    // The watchdog is never waited for: it outlives this process on purpose.
    cmd.spawn()
        .map(|_| ())
        .map_err(|e| format!("spawn the {name} watchdog: {e}"))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("write {}: {e}", path.display()))
}

const AUDIT_POLICY: &str = "apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  # Probes and the API server's own loopback traffic only add noise.
  - level: None
    nonResourceURLs: ['/readyz*', '/healthz*', '/livez*']
  - level: None
    users: ['system:apiserver']
  # Metadata keeps annotations, admission webhooks' included.
  - level: Metadata
";

/// Start etcd and kube-apiserver in a fresh directory and wait for `/readyz`.
pub fn launch(apiserver_bin: &Path, etcd_bin: &Path) -> Result<ApiServer, String> {
    let started = Instant::now();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("{RUN_PREFIX}{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let keep = std::env::var_os("KTG_KEEP_APISERVER_DIR").is_some();
    if keep {
        write(&dir.join("keep"), "")?;
    } else {
        let mut cleanup = Command::new("sh");
        cleanup
            .args(["-c", CLEANUP, "cleanup"])
            .arg(std::process::id().to_string())
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cleanup
            .spawn()
            .map_err(|e| format!("spawn the cleanup watchdog: {e}"))?;
    }

    let server_ca = pki::Ca::new("test-apiserver-ca");
    let client_ca = pki::Ca::new("test-client-ca");
    let kubelet_ca = pki::Ca::new("test-kubelet-ca");
    let serving = server_ca.server(&[
        "127.0.0.1",
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "10.96.0.1",
    ]);
    let kubelet_client = client_ca.client("kube-apiserver-kubelet-client", None);
    let sa = pki::new_key();
    let (sa_key, sa_pub) = (sa.serialize_pem(), sa.public_key_pem());
    let f = |name: &str| dir.join(name);
    for (name, text) in [
        ("ca.crt", server_ca.pair.cert_pem.as_str()),
        ("apiserver.crt", &serving.cert_pem),
        ("apiserver.key", &serving.key_pem),
        ("client-ca.crt", &client_ca.pair.cert_pem),
        ("kubelet-ca.crt", &kubelet_ca.pair.cert_pem),
        ("apiserver-kubelet-client.crt", &kubelet_client.cert_pem),
        ("apiserver-kubelet-client.key", &kubelet_client.key_pem),
        ("sa.key", &sa_key),
        ("sa.pub", &sa_pub),
        ("audit-policy.yaml", AUDIT_POLICY),
    ] {
        write(&f(name), text)?;
    }

    let (etcd_client, etcd_peer, port) = (free_port()?, free_port()?, free_port()?);
    let client_url = format!("http://127.0.0.1:{etcd_client}");
    let peer_url = format!("http://127.0.0.1:{etcd_peer}");
    let etcd_args: Vec<String> = vec![
        "--name=test".into(),
        format!("--data-dir={}", f("etcd").display()),
        format!("--listen-client-urls={client_url}"),
        format!("--advertise-client-urls={client_url}"),
        format!("--listen-peer-urls={peer_url}"),
        format!("--initial-advertise-peer-urls={peer_url}"),
        format!("--initial-cluster=test={peer_url}"),
        // Test data: durability is not worth the fsync latency on a shared disk.
        "--unsafe-no-fsync".into(),
        "--log-level=warn".into(),
    ];
    spawn_watched(&dir, "etcd", etcd_bin, &etcd_args)?;

    let p = |name: &str| f(name).display().to_string();
    let apiserver_args: Vec<String> = vec![
        format!("--etcd-servers={client_url}"),
        "--bind-address=127.0.0.1".into(),
        "--advertise-address=127.0.0.1".into(),
        format!("--secure-port={port}"),
        // The kubernetes Service endpoint may not be a loopback address: don't maintain it.
        "--endpoint-reconciler-type=none".into(),
        "--service-cluster-ip-range=10.96.0.0/16".into(),
        format!("--tls-cert-file={}", p("apiserver.crt")),
        format!("--tls-private-key-file={}", p("apiserver.key")),
        format!("--client-ca-file={}", p("client-ca.crt")),
        format!("--kubelet-certificate-authority={}", p("kubelet-ca.crt")),
        format!(
            "--kubelet-client-certificate={}",
            p("apiserver-kubelet-client.crt")
        ),
        format!("--kubelet-client-key={}", p("apiserver-kubelet-client.key")),
        "--service-account-issuer=https://kubernetes.default.svc".into(),
        format!("--service-account-key-file={}", p("sa.pub")),
        format!("--service-account-signing-key-file={}", p("sa.key")),
        "--authorization-mode=Node,RBAC".into(),
        "--enable-admission-plugins=NodeRestriction".into(),
        "--disable-admission-plugins=ServiceAccount".into(),
        "--allow-privileged=true".into(),
        format!("--audit-policy-file={}", p("audit-policy.yaml")),
        format!("--audit-log-path={}", p("audit.log")),
        "--audit-log-format=json".into(),
        "--audit-log-mode=blocking".into(),
        "--profiling=false".into(),
        "--v=1".into(),
    ];
    spawn_watched(&dir, "kube-apiserver", apiserver_bin, &apiserver_args)?;

    let url = format!("https://127.0.0.1:{port}");
    let admin = client_ca.client("kubernetes-admin", Some("system:masters"));
    let mut server = ApiServer::new_parts(
        url.clone(),
        dir.clone(),
        server_ca.pair.cert_pem.clone(),
        client_ca,
        kubelet_ca,
    );
    write(
        &server.admin_kubeconfig,
        &kubeconfig(&url, &server.ca_pem, &user_cert_lines(&admin)),
    )?;
    if let Err(e) = wait_ready(&server, started) {
        stop(&dir);
        return Err(e);
    }
    server.startup = started.elapsed();
    eprintln!(
        "test kube-apiserver ready at {url} in {:.1} s (dir {})",
        server.startup.as_secs_f64(),
        dir.display()
    );
    Ok(server)
}

fn wait_ready(server: &ApiServer, started: Instant) -> Result<(), String> {
    let dir = &server.dir;
    let mut last = String::new();
    while started.elapsed() < START_TIMEOUT {
        for name in ["etcd", "kube-apiserver"] {
            let pid = std::fs::read_to_string(dir.join(format!("{name}.pid"))).unwrap_or_default();
            if !pid.trim().is_empty() && !alive(&pid) {
                return Err(format!(
                    "{name} exited during start-up; its log ends:\n{}",
                    tail(&dir.join(format!("{name}.log")), 30)
                ));
            }
        }
        let out = server.kubectl(&["get", "--raw=/readyz", "--request-timeout=5s"]);
        if out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok" {
            return Ok(());
        }
        last = String::from_utf8_lossy(&out.stderr).into_owned();
        std::thread::sleep(Duration::from_millis(250));
    }
    Err(format!(
        "/readyz not ok within {} s (last kubectl error: {last}); kube-apiserver log ends:\n{}\netcd log ends:\n{}",
        START_TIMEOUT.as_secs(),
        tail(&dir.join("kube-apiserver.log"), 30),
        tail(&dir.join("etcd.log"), 10)
    ))
}

/// Kill a failed attempt's processes now rather than at exit, so a retry starts clean.
fn stop(dir: &Path) {
    for name in ["kube-apiserver", "etcd"] {
        let pid = std::fs::read_to_string(dir.join(format!("{name}.pid"))).unwrap_or_default();
        if !pid.trim().is_empty() {
            let _ = Command::new("kill").args(["-KILL", pid.trim()]).status();
        }
    }
}
