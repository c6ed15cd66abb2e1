//! `approve-csrs`: approve or deny kubelet serving-certificate CSRs (DESIGN.md section 10).

use super::logging::{LogFormat, init_logging};
use super::serve::{parse_addr, parse_duration, parse_size};
use crate::cluster::approve::controller::{self, Options};
use crate::cluster::approve::metrics::{Health, Metrics, router};
use crate::cluster::approve::{Config, DEFAULT_MAX_REQUEST_BYTES};
use kube::config::{KubeConfigOptions, Kubeconfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Approves a kubernetes.io/kubelet-serving CSR only when it comes from \
system:node:NAME, asks for a server certificate for CN=system:node:NAME, O=system:nodes, and names \
only DNS names and IPs that Node NAME reports in status.addresses (no in-cluster names). Breaking \
any check denies it with a reason naming the check; a CSR whose Node does not exist yet stays \
pending. Exit status: 0 done (or clean shutdown on SIGTERM), 1 API or runtime error, 2 bad \
arguments or kubeconfig."
)]
pub struct ApproveCsrsArgs {
    /// Kubeconfig file; default: $KUBECONFIG, ~/.kube/config, then the in-cluster ServiceAccount.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context; default: the current context.
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Judge the pending CSRs once and exit (no watch, no leader election).
    #[arg(long)]
    pub once: bool,
    /// Log what would be decided; write nothing (no approval, no Event).
    #[arg(long)]
    pub dry_run: bool,
    /// Plain-HTTP address for /metrics, /healthz and /readyz; none when omitted.
    #[arg(long, value_name = "ADDR", value_parser = parse_addr)]
    pub metrics_listen: Option<SocketAddr>,
    /// Decide only while holding a Lease, so that several replicas never decide at once.
    #[arg(long)]
    pub leader_elect: bool,
    /// Name of the Lease for --leader-elect.
    #[arg(long, value_name = "NAME", default_value = controller::REPORTER)]
    pub lease_name: String,
    /// Namespace of the Lease (default: $POD_NAMESPACE, else kubelet-tls-guard).
    #[arg(
        long,
        value_name = "NS",
        env = "POD_NAMESPACE",
        default_value = "kubelet-tls-guard"
    )]
    pub lease_namespace: String,
    /// Deny a CSR whose spec.expirationSeconds exceeds this (e.g. 720h); default: no cap.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub max_expiration: Option<Duration>,
    /// Cluster DNS domain: names under it (and *.svc, kubernetes.default*) are never approved.
    #[arg(long, value_name = "DOMAIN", default_value = "cluster.local")]
    pub cluster_domain: String,
    /// Largest spec.request accepted (larger is denied unparsed); suffixes Ki, Mi.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_REQUEST_BYTES, value_parser = parse_size)]
    pub max_request_bytes: usize,
    /// CSRs judged and written at the same time.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,
    /// Log format (one line per decision).
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

async fn client(args: &ApproveCsrsArgs) -> Result<kube::Client, String> {
    let options = KubeConfigOptions {
        context: args.context.clone(),
        ..KubeConfigOptions::default()
    };
    let config = match &args.kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path)
                .map_err(|e| format!("kubeconfig {}: {e}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &options)
                .await
                .map_err(|e| format!("kubeconfig {}: {e}", path.display()))?
        }
        None if args.context.is_some() => kube::Config::from_kubeconfig(&options)
            .await
            .map_err(|e| format!("kubeconfig: {e}"))?,
        None => kube::Config::infer()
            .await
            .map_err(|e| format!("no cluster configuration: {e}"))?,
    };
    kube::Client::try_from(config).map_err(|e| format!("API client: {e}"))
}

fn identity() -> String {
    std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| format!("approve-csrs-{}", std::process::id()))
}

pub fn run(args: ApproveCsrsArgs) -> ExitCode {
    let _logs = init_logging(args.log_format);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kubelet-tls-guard approve-csrs: tokio runtime: {e}");
            return ExitCode::from(1);
        }
    };
    rt.block_on(run_async(args))
}

async fn run_async(args: ApproveCsrsArgs) -> ExitCode {
    let client = match client(&args).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kubelet-tls-guard approve-csrs: {e}");
            return ExitCode::from(2);
        }
    };
    let opts = Options {
        cfg: Config {
            max_expiration_seconds: args.max_expiration.map(|d| d.as_secs()),
            cluster_domain: args.cluster_domain.clone(),
            max_request_bytes: args.max_request_bytes,
        },
        dry_run: args.dry_run,
        concurrency: usize::from(args.concurrency),
        identity: identity(),
    };
    let metrics = Arc::new(Metrics::new());
    let health = Arc::new(Health::default());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    if let Some(addr) = args.metrics_listen {
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("kubelet-tls-guard approve-csrs: --metrics-listen {addr}: {e}");
                return ExitCode::from(1);
            }
        };
        let app = router(health.clone(), metrics.clone());
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            crate::ops::serve(listener, app, async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
        });
    }
    if args.once {
        return match controller::run_once(client, &opts, metrics).await {
            Ok(t) => {
                println!(
                    "approved {}, denied {}, pending {}, errors {}{}",
                    t.approved,
                    t.denied,
                    t.pending,
                    t.errors,
                    if opts.dry_run {
                        " (dry run: nothing written)"
                    } else {
                        ""
                    }
                );
                ExitCode::from(if t.errors > 0 { 1 } else { 0 })
            }
            Err(e) => {
                eprintln!("kubelet-tls-guard approve-csrs: {e}");
                ExitCode::from(1)
            }
        };
    }
    // Listen before the watch starts (and before ready), and keep listening; `--once`,
    // above, keeps the default action, as it has nothing to drain.
    let mut signals = match crate::server::shutdown::Signals::listen() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kubelet-tls-guard approve-csrs: cannot listen for signals: {e}");
            return ExitCode::from(1);
        }
    };
    let signal_health = health.clone();
    tokio::spawn(async move {
        match signals.next().await {
            Ok(sig) => tracing::info!(signal = sig, "shutting down"),
            Err(e) => tracing::warn!(error = %e, "cannot listen for signals; shutting down"),
        }
        signal_health.set_draining();
        let _ = stop_tx.send(true);
    });
    let result = if args.leader_elect {
        controller::run_leader_elected(
            client,
            &opts,
            (&args.lease_namespace, &args.lease_name),
            metrics,
            health,
            stop_rx,
        )
        .await
    } else {
        metrics.leader.set(1);
        let mut stop = stop_rx.clone();
        controller::run_watch(client, &opts, metrics, health, async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await;
        Ok(())
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kubelet-tls-guard approve-csrs: {e}");
            ExitCode::from(1)
        }
    }
}
