//! Command line: one module per subcommand, each with its clap `Args` and a `run`.

pub mod approve_csrs;
pub mod certs;
pub mod check;
pub mod fix;
pub mod logging;
pub mod scan;
pub mod serve;
pub mod webhook_config;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "kubelet-tls-guard",
    version,
    about = "Admission webhook and node auditor for the control-plane ↔ kubelet TLS link (CIS 1.2.5/1.2.6, 1.3.6, 4.2.12)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the validating and mutating admission webhook over TLS.
    Serve(Box<serve::ServeArgs>),
    /// Audit manifests, kubelet configuration and flag files (exit 0 pass, 1 findings, 2 bad input).
    Check(check::CheckArgs),
    /// Repair the same files: print a diff, or rewrite them atomically.
    Fix(fix::FixArgs),
    /// Generate a CA and a serving certificate for the webhook Service.
    Certs(certs::CertsArgs),
    /// Print the Validating- and MutatingWebhookConfiguration with the caBundle filled in.
    WebhookConfig(webhook_config::WebhookConfigArgs),
    /// Audit a running cluster: control-plane pods, kubeadm ConfigMaps and every kubelet.
    Scan(scan::ScanArgs),
    /// Approve kubelet serving-certificate CSRs that prove they belong to their Node; deny the rest.
    ApproveCsrs(approve_csrs::ApproveCsrsArgs),
}
