//! `scan`: audit a running cluster; exit 0 all pass, 1 findings, 2 unreadable input or a failed
//! report write, 130 interrupted.

use crate::cluster::openreports;
use crate::cluster::probe::Access;
use crate::cluster::scan::{self, Options, Outcome};
use crate::engine::policy::{Policy, Profile};
use crate::report;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScanFormat {
    Text,
    Json,
    Junit,
    Sarif,
    /// openreports.io/v1alpha1 Report and ClusterReport YAML.
    Openreports,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Kubeconfig resolution is kubectl's: --kubeconfig, else KUBECONFIG, else ~/.kube/config, else the \
in-cluster ServiceAccount. Nothing is written to the cluster unless --apply-reports is given.

--kubelet-access direct (default) dials each kubelet at the address the API server uses, verifies \
its serving certificate first and sends the kubeconfig's credentials only to a verified kubelet \
(RBAC nodes/configz and nodes/metrics). --kubelet-access proxy reads through the API server's node \
proxy instead: that needs RBAC nodes/proxy, which also allows exec into every pod on the node, \
so grant it only if you accept that.")]
pub struct ScanArgs {
    /// Kubeconfig file (default: KUBECONFIG, ~/.kube/config, or in-cluster).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use.
    #[arg(long)]
    pub context: Option<String>,
    /// Policy file (default: the embedded policy).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// How an absent feature gate is judged (overrides the policy file).
    #[arg(long, value_enum)]
    pub profile: Option<Profile>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ScanFormat,
    /// Write the results as OpenReports with server-side apply (field manager kubelet-tls-guard).
    #[arg(long)]
    pub apply_reports: bool,
    /// How to read kubelet configuration: direct (verified TLS to each kubelet), proxy (through
    /// the API server; needs nodes/proxy, which is exec-equivalent), none.
    #[arg(long, value_enum, default_value = "direct")]
    pub kubelet_access: Access,
    /// CA that kubelet serving certificates must chain to (default: ca.crt of ConfigMap
    /// kube-system/kube-root-ca.crt).
    #[arg(long)]
    pub kubelet_ca: Option<PathBuf>,
    /// Read pods in all namespaces (hosted control planes), not only kube-system.
    #[arg(long)]
    pub all_namespaces: bool,
    /// Kubelets probed at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,
    /// Per-node deadline (retries included), and the bound of each API request.
    #[arg(long, default_value = "5s", value_parser = super::serve::parse_duration)]
    pub timeout: Duration,
    /// Node address types to dial, first found wins: set it to the API server's own
    /// --kubelet-preferred-address-types so the scan reaches each kubelet where it does.
    #[arg(long, value_name = "TYPES", default_value = crate::cluster::inventory::DEFAULT_PREFERRED,
          value_parser = crate::cluster::inventory::parse_address_types)]
    pub kubelet_preferred_address_types: crate::cluster::inventory::AddressTypes,
}

pub fn run(args: ScanArgs) -> ExitCode {
    let policy = match Policy::load(args.config.as_deref(), None, args.profile) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if args.timeout.is_zero() {
        eprintln!("error: --timeout must be more than 0");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let code = runtime.block_on(async move {
        tokio::select! {
            code = scan_and_report(&args, &policy) => code,
            _ = tokio::signal::ctrl_c() => {
                eprintln!("scan interrupted");
                130
            }
        }
    });
    // In-flight kubelet connections are dropped, not waited for.
    runtime.shutdown_background();
    ExitCode::from(code)
}

async fn scan_and_report(args: &ScanArgs, policy: &Policy) -> u8 {
    let cluster = match crate::cluster::client::connect(
        args.kubeconfig.as_deref(),
        args.context.as_deref(),
        args.timeout,
    )
    .await
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let opts = Options {
        access: args.kubelet_access,
        kubelet_ca: args.kubelet_ca.clone(),
        all_namespaces: args.all_namespaces,
        concurrency: usize::from(args.concurrency),
        timeout: args.timeout,
        progress: std::io::stderr().is_terminal(),
        address_types: args.kubelet_preferred_address_types.0.clone(),
    };
    let outcome = scan::run(&cluster, &opts, policy).await;
    let docs = openreports::documents(&outcome.records);
    let mut code = crate::report::exit_code(&outcome.records);
    if let Err(e) = write(args.format, &outcome, &docs) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: writing the report: {e}");
        }
        return 2;
    }
    for r in outcome
        .records
        .iter()
        .filter(|r| r.status == crate::engine::rules::Status::Error)
    {
        eprintln!("error: {}: {}", r.object, r.message);
    }
    if args.apply_reports {
        match openreports::apply(&cluster.client, &docs, args.timeout).await {
            Ok(n) => eprintln!("applied {n} report(s) with field manager kubelet-tls-guard"),
            Err(errors) => {
                for e in errors {
                    eprintln!("error: {e}");
                }
                code = 2;
            }
        }
    }
    code
}

fn write(format: ScanFormat, o: &Outcome, docs: &[serde_json::Value]) -> std::io::Result<()> {
    let stdout = std::io::stdout();
    let colour = stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match format {
        ScanFormat::Text => {
            report::render(report::Format::Text, &o.records, colour, &mut out)?;
            out.write_all(o.readiness.text().as_bytes())?;
        }
        ScanFormat::Json => {
            let v = serde_json::json!({
                "summary": report::summary(&o.records),
                "results": o.records,
                "readiness": o.readiness,
            });
            serde_json::to_writer_pretty(&mut out, &v)?;
            writeln!(out)?;
        }
        ScanFormat::Junit => report::render(report::Format::Junit, &o.records, false, &mut out)?,
        ScanFormat::Sarif => report::render(report::Format::Sarif, &o.records, false, &mut out)?,
        ScanFormat::Openreports => {
            let y = openreports::yaml(docs).map_err(std::io::Error::other)?;
            out.write_all(y.as_bytes())?;
        }
    }
    out.flush()
}
