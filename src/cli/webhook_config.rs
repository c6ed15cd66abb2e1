//! `webhook-config`: print the Validating- (and with `--remediate` the Mutating-)
//! WebhookConfiguration for `kubectl apply -f -`.

use crate::install::webhook_config::{self, CaSource, WebhookMode, WebhookOptions};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("ca").required(true).args(["ca_bundle", "inject_ca_from"])))]
pub struct WebhookConfigArgs {
    /// PEM file of the CA that signed the serving certificate (ca.crt from `certs`).
    #[arg(long, value_name = "FILE")]
    pub ca_bundle: Option<PathBuf>,
    /// Let cert-manager's cainjector fill the caBundle from this Certificate (NAMESPACE/NAME).
    #[arg(long, value_name = "NS/CERTIFICATE")]
    pub inject_ca_from: Option<String>,
    /// Service in front of the webhook pods.
    #[arg(long, default_value = webhook_config::DEFAULT_SERVICE, conflicts_with = "url")]
    pub service: String,
    /// Namespace of that Service; it is also excluded from the webhooks.
    #[arg(long, default_value = webhook_config::DEFAULT_NAMESPACE)]
    pub namespace: String,
    /// Service port the API server calls.
    #[arg(long, default_value_t = webhook_config::DEFAULT_PORT, conflicts_with = "url")]
    pub port: i32,
    /// Call the webhook at https://HOST[:PORT] instead of the Service (clientConfig.url).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// enforce: failurePolicy Fail; dry-run: failurePolicy Ignore.
    #[arg(long, value_enum, default_value = "dry-run")]
    pub mode: WebhookMode,
    /// How long the API server waits for an answer (1 to 5).
    #[arg(long, default_value_t = webhook_config::DEFAULT_TIMEOUT_SECONDS)]
    pub timeout_seconds: i32,
    /// Also print the MutatingWebhookConfiguration (patches in enforce mode).
    #[arg(long)]
    pub remediate: bool,
    /// metadata.name of the configurations.
    #[arg(long, default_value = webhook_config::DEFAULT_NAME)]
    pub name: String,
}

pub fn run(args: WebhookConfigArgs) -> ExitCode {
    match render(&args) {
        Ok(yaml) => {
            let mut out = std::io::stdout().lock();
            // A closed pipe (`| head`) is not worth a panic.
            if out
                .write_all(yaml.as_bytes())
                .and_then(|_| out.flush())
                .is_err()
            {
                return ExitCode::from(1);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kubelet-tls-guard webhook-config: {e}");
            ExitCode::from(2)
        }
    }
}

/// The YAML `run` prints, or the one-line reason it cannot.
pub fn render(args: &WebhookConfigArgs) -> Result<String, String> {
    let ca = match (&args.ca_bundle, &args.inject_ca_from) {
        (Some(path), _) => CaSource::Bundle(
            std::fs::read(path).map_err(|e| format!("--ca-bundle {}: {e}", path.display()))?,
        ),
        (None, Some(from)) => CaSource::InjectFrom(from.clone()),
        (None, None) => return Err("one of --ca-bundle or --inject-ca-from is required".into()),
    };
    let opts = WebhookOptions {
        name: args.name.clone(),
        service: args.service.clone(),
        namespace: args.namespace.clone(),
        port: args.port,
        mode: args.mode,
        timeout_seconds: args.timeout_seconds,
        ca,
        url: args.url.clone(),
    };
    if let (CaSource::Bundle(pem), Some(path)) = (&opts.ca, &args.ca_bundle) {
        webhook_config::check_ca_bundle(pem, &path.display().to_string())
            .map_err(|e| e.to_string())?;
    }
    webhook_config::render(&opts, args.remediate).map_err(|e| e.to_string())
}
