//! `serve`: the admission webhook. Without `--tls-cert/--tls-key` it makes (or reuses) a
//! development CA and certificate under `certs/dev/` and prints a curl command to try it.

use super::logging::{self, LogFormat, init_logging};
use crate::engine::policy::{Mode, Policy, Profile};
use crate::install::certs;
use crate::server::{self, ServerOptions};
use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// The AdmissionReview the printed curl command sends: a kubeadm kube-apiserver mirror pod
/// without `--kubelet-certificate-authority`.
pub const EXAMPLE_REVIEW: &str = include_str!("../server/example-review.json");
pub const EXAMPLE_REVIEW_FILE: &str = "example-review.json";

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Durations take a unit: 500ms, 10s, 2m. Exit status: 0 after a clean shutdown \
(SIGTERM/SIGINT), 1 runtime error, 2 bad arguments or policy."
)]
pub struct ServeArgs {
    /// Policy file (YAML); default: the embedded policy (dry-run, strict, remediate on).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Mode for every rule (overrides the policy file).
    #[arg(long, value_enum)]
    pub mode: Option<Mode>,
    /// How an absent feature gate is judged (overrides the policy file).
    #[arg(long, value_enum)]
    pub profile: Option<Profile>,
    /// Address of the TLS webhook endpoint.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8443", value_parser = parse_addr)]
    pub listen: SocketAddr,
    /// Serving certificate (PEM chain); re-read when it changes. Omit both for dev certificates.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Private key of the serving certificate (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Require client certificates signed by this CA bundle (mTLS with the API server).
    #[arg(long, value_name = "FILE")]
    pub client_ca: Option<PathBuf>,
    /// Plain-HTTP address for /healthz, /readyz and /metrics.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:9090", value_parser = parse_addr)]
    pub metrics_listen: SocketAddr,
    /// Log format (one line per admission decision).
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Largest accepted request body in bytes (suffixes Ki, Mi allowed); larger gets 413.
    #[arg(long, value_name = "BYTES", default_value = "8Mi", value_parser = parse_size)]
    pub body_limit: usize,
    /// How often the certificate files are checked for changes.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub cert_reload_interval: Duration,
    /// Time allowed for a request's headers (HTTP/1.1) once they have started.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub header_timeout: Duration,
    /// Time allowed for a request body.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub body_timeout: Duration,
    /// Time allowed for a TLS handshake.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub handshake_timeout: Duration,
    /// Close a connection with no request in progress for this long: from the end of the TLS
    /// handshake on, and between keep-alive requests.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub idle_timeout: Duration,
    /// Open webhook connections at most; more wait to be accepted until one closes.
    #[arg(long, value_name = "N", default_value_t = server::DEFAULT_MAX_CONNECTIONS, value_parser = parse_count)]
    pub max_connections: usize,
    /// Answer a review whose decision takes longer than this per failure policy: deny when the
    /// policy enforces a rule, else allow with a warning. Keep it below the webhook's
    /// timeoutSeconds.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub decision_timeout: Duration,
    /// After SIGTERM, stay up (not ready) this long before closing the listener.
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub shutdown_delay: Duration,
    /// After closing the listener, the longest wait for in-flight requests.
    #[arg(long, value_name = "DURATION", default_value = "25s", value_parser = parse_duration)]
    pub drain_timeout: Duration,
    /// Where development certificates are made or reused (when no --tls-cert is given).
    #[arg(long, value_name = "DIR", default_value = "certs/dev")]
    pub dev_cert_dir: PathBuf,
    /// Namespace named in the development certificate's Service DNS names.
    #[arg(long, value_name = "NS", default_value = certs::DEFAULT_NAMESPACE)]
    pub dev_namespace: String,
}

/// `HOST:PORT`, `[V6]:PORT`, or `:PORT` (all interfaces).
pub fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    let full = match s.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => s.to_string(),
    };
    full.parse::<SocketAddr>().map_err(|e| {
        format!("{s:?}: {e} (expected HOST:PORT with an IP address, e.g. 0.0.0.0:8443)")
    })
}

/// A whole number of at least 1.
pub fn parse_count(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{s:?}: expected a whole number of at least 1")),
    }
}

/// `500ms`, `10s`, `2m`, `1h`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expected a duration like 500ms, 10s or 2m"))?;
    let secs = match unit {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (use ms, s, m or h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{s:?}: {e}"))
}

/// Bytes, with an optional `Ki`/`Mi`/`Gi` (or `K`/`M`/`G`, also binary) suffix.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: usize = num
        .parse()
        .map_err(|_| format!("{s:?}: expected a size like 8388608 or 8Mi"))?;
    let mult: usize = match unit {
        "" => 1,
        "K" | "Ki" | "KiB" => 1 << 10,
        "M" | "Mi" | "MiB" => 1 << 20,
        "G" | "Gi" | "GiB" => 1 << 30,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (use Ki, Mi or Gi)")),
    };
    match n.checked_mul(mult) {
        Some(v) if v > 0 => Ok(v),
        _ => Err(format!(
            "{s:?}: must be between 1 byte and the address space"
        )),
    }
}

/// DNS names and addresses of the development certificate.
pub fn dev_names(namespace: &str) -> Vec<String> {
    let service = certs::DEFAULT_SERVICE;
    vec![
        "localhost".into(),
        "127.0.0.1".into(),
        "::1".into(),
        format!("{service}.{namespace}.svc"),
        format!("{service}.{namespace}.svc.cluster.local"),
    ]
}

/// Reuse the bundle in `dir` if it is whole, matches and is valid for another day; else make one.
fn ensure_dev_certs(dir: &Path, namespace: &str) -> Result<(), String> {
    let names = dev_names(namespace);
    match certs::check_bundle(dir, &names, time::Duration::days(1)) {
        Ok(()) => {
            tracing::info!(dir = %dir.display(), "reusing development certificates");
        }
        Err(why) => {
            if dir.join(certs::CA_CERT_FILE).exists() {
                tracing::info!(dir = %dir.display(), reason = %why, "replacing development certificates");
            }
            let bundle = certs::generate(&names, 365).map_err(|e| e.to_string())?;
            certs::write_bundle(dir, &bundle, true).map_err(|e| {
                format!("{e} (pass --tls-cert and --tls-key, or --dev-cert-dir with a writable directory)")
            })?;
            tracing::info!(dir = %dir.display(), "generated a development CA and serving certificate");
        }
    }
    let example = dir.join(EXAMPLE_REVIEW_FILE);
    if std::fs::read_to_string(&example).ok().as_deref() != Some(EXAMPLE_REVIEW) {
        std::fs::write(&example, EXAMPLE_REVIEW)
            .map_err(|e| format!("{}: {e}", example.display()))?;
    }
    Ok(())
}

/// The curl command that works as printed against a server on `addr` with dev certificates.
pub fn curl_hint(dir: &Path, addr: SocketAddr) -> String {
    let port = addr.port();
    let ip = addr.ip();
    let dir = dir.display();
    // localhost is in the certificate; any other bound address is reached through --resolve.
    let resolve = if ip.is_unspecified() || ip.is_loopback() {
        String::new()
    } else {
        let shown = match ip {
            IpAddr::V6(v6) => format!("[{v6}]"),
            IpAddr::V4(v4) => v4.to_string(),
        };
        format!(" --resolve localhost:{port}:{shown}")
    };
    format!(
        "curl -s --cacert {dir}/ca.crt{resolve} https://localhost:{port}/validate -H 'Content-Type: application/json' --data-binary @{dir}/{EXAMPLE_REVIEW_FILE}"
    )
}

pub fn run(args: ServeArgs) -> ExitCode {
    let _logs = init_logging(args.log_format);
    let policy = match Policy::load(args.config.as_deref(), args.mode, args.profile) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("kubelet-tls-guard serve: {e}");
            return ExitCode::from(2);
        }
    };
    tracing::info!(
        mode = policy.mode.as_str(),
        profile = policy.profile.as_str(),
        remediate = policy.remediate,
        exemptions = policy.exemptions.len(),
        "policy loaded"
    );
    let (cert, key, dev) = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => (c.clone(), k.clone(), false),
        _ => {
            if let Err(e) = ensure_dev_certs(&args.dev_cert_dir, &args.dev_namespace) {
                eprintln!("kubelet-tls-guard serve: development certificates: {e}");
                return ExitCode::from(1);
            }
            (
                args.dev_cert_dir.join(certs::TLS_CERT_FILE),
                args.dev_cert_dir.join(certs::TLS_KEY_FILE),
                true,
            )
        }
    };
    let opts = ServerOptions {
        listen: args.listen,
        metrics_listen: args.metrics_listen,
        tls_cert: cert,
        tls_key: key,
        client_ca: args.client_ca.clone(),
        cert_reload_interval: args.cert_reload_interval,
        body_limit: args.body_limit,
        header_timeout: args.header_timeout,
        body_timeout: args.body_timeout,
        handshake_timeout: args.handshake_timeout,
        idle_timeout: args.idle_timeout,
        max_connections: args.max_connections,
        decision_timeout: args.decision_timeout,
        decision_concurrency: 0,
        shutdown_delay: args.shutdown_delay,
        drain_timeout: args.drain_timeout,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kubelet-tls-guard serve: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let dev_dir = args.dev_cert_dir.clone();
    runtime.block_on(async move {
        // Listen before the address is printed: a SIGTERM right after must drain, not kill.
        let mut signals = match server::shutdown::Signals::listen() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("kubelet-tls-guard serve: cannot listen for signals: {e}");
                return ExitCode::from(1);
            }
        };
        let server = match server::start(Arc::new(policy), opts).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("kubelet-tls-guard serve: {e}");
                return ExitCode::from(1);
            }
        };
        if dev {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "Serving with development certificates from {} (CA: {}/ca.crt). Try:\n  {}",
                dev_dir.display(),
                dev_dir.display(),
                curl_hint(&dev_dir, server.addr())
            );
            let _ = out.flush();
        }
        match signals.next().await {
            Ok(signal) => tracing::info!(signal, "shutting down"),
            Err(e) => tracing::error!(error = %e, "cannot wait for signals; shutting down"),
        }
        server.shutdown();
        // A second signal means: do not wait for the drain.
        tokio::spawn(async move {
            if signals.next().await.is_ok() {
                tracing::warn!("second signal: exiting without finishing the drain");
                // exit skips destructors: write out the log first.
                logging::flush();
                std::process::exit(1);
            }
        });
        match server.wait().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("kubelet-tls-guard serve: {e}");
                ExitCode::from(1)
            }
        }
    })
}

#[cfg(test)]
#[path = "serve_tests.rs"]
mod tests;
