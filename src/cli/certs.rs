//! `certs`: a CA and a serving certificate for the webhook Service.

use crate::install::certs::{self, DEFAULT_NAMESPACE, DEFAULT_SERVICE};
use crate::install::dns;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Writes ca.crt, tls.crt and tls.key (mode 0600) into --out. The CA key is not kept: \
to renew, run again with --force and update the webhook caBundle.\nExit status: 0 written, 1 error (nothing overwritten without --force), 2 usage."
)]
pub struct CertsArgs {
    /// Directory to write into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Name of the webhook Service.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_SERVICE)]
    pub service: String,
    /// Namespace of the webhook Service.
    #[arg(long, value_name = "NS", default_value = DEFAULT_NAMESPACE)]
    pub namespace: String,
    /// An extra DNS name or IP address for the certificate (repeatable).
    #[arg(long = "san", value_name = "NAME")]
    pub san: Vec<String>,
    /// Validity of the CA and the serving certificate, in days.
    #[arg(long, value_name = "N", default_value_t = 365)]
    pub days: u32,
    /// Replace existing files.
    #[arg(long)]
    pub force: bool,
}

/// An RFC 1123 label, as Service and namespace names must be.
fn check_label(what: &str, s: &str) -> Result<(), String> {
    if dns::is_label(s) {
        Ok(())
    } else {
        Err(format!("--{what} {s:?}: {}", dns::LABEL_RULE))
    }
}

pub fn run(args: CertsArgs) -> ExitCode {
    if let Err(e) = check_label("service", &args.service)
        .and_then(|_| check_label("namespace", &args.namespace))
    {
        eprintln!("kubelet-tls-guard certs: {e}");
        return ExitCode::from(2);
    }
    let mut names = certs::service_dns_names(&args.service, &args.namespace);
    for san in &args.san {
        if !names.contains(san) {
            names.push(san.clone());
        }
    }
    let written = certs::generate(&names, args.days)
        .and_then(|bundle| certs::write_bundle(&args.out, &bundle, args.force));
    if let Err(e) = written {
        eprintln!("kubelet-tls-guard certs: {e}");
        return ExitCode::from(1);
    }
    let dir = args.out.display();
    println!(
        "wrote {dir}/ca.crt, {dir}/tls.crt and {dir}/tls.key (ECDSA P-256, {} days) for {}",
        args.days,
        names.join(", ")
    );
    println!("next:");
    println!(
        "  kubectl -n {} create secret tls {}-tls --cert={dir}/tls.crt --key={dir}/tls.key",
        args.namespace, args.service
    );
    println!(
        "  kubelet-tls-guard webhook-config --ca-bundle {dir}/ca.crt --service {} --namespace {}",
        args.service, args.namespace
    );
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::check_label;

    #[test]
    fn labels() {
        assert!(check_label("service", "kubelet-tls-guard").is_ok());
        for bad in ["", "Upper", "-x", "x-", "a.b", &"a".repeat(64)] {
            assert!(check_label("service", bad).is_err(), "{bad}");
        }
    }
}
