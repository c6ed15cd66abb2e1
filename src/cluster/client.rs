//! Reaching the API server as kubectl would: `--kubeconfig`, else `KUBECONFIG`, else
//! `~/.kube/config`, else the in-cluster ServiceAccount; `--context` picks a context.
//! Also the credentials a kubelet is sent in direct mode (only after its certificate verified).

use base64::Engine;
use kube::client::ConfigExt;
use kube::config::{AuthInfo, KubeConfigOptions, Kubeconfig};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::time::Duration;

/// A resolved connection to one cluster.
#[derive(Clone)]
pub struct Cluster {
    pub client: kube::Client,
    pub config: kube::Config,
    /// `cluster:SERVER-URL`, the `source` of every result.
    pub source: String,
}

/// Load the configuration the way kubectl does and build a client. `timeout` bounds connecting
/// and every API response, so a hung list cannot stall the scan.
pub async fn connect(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
    timeout: Duration,
) -> Result<Cluster, String> {
    let options = KubeConfigOptions {
        context: context.map(str::to_string),
        ..Default::default()
    };
    let mut config = if let Some(path) = kubeconfig {
        let kc = Kubeconfig::read_from(path)
            .map_err(|e| format!("kubeconfig {}: {e}", path.display()))?;
        kube::Config::from_custom_kubeconfig(kc, &options)
            .await
            .map_err(|e| format!("kubeconfig {}: {e}", path.display()))?
    } else if context.is_some() || has_kubeconfig() {
        kube::Config::from_kubeconfig(&options)
            .await
            .map_err(|e| format!("kubeconfig: {e}"))?
    } else {
        kube::Config::incluster().map_err(|e| {
            format!(
                "no kubeconfig (--kubeconfig, KUBECONFIG, ~/.kube/config) and not in a cluster: {e}"
            )
        })?
    };
    config.connect_timeout = Some(timeout);
    config.read_timeout = Some(timeout);
    // Count the read timeout from each request, not from when a pooled connection went idle.
    config.reset_reader_on_write = true;
    let client = kube::Client::try_from(config.clone()).map_err(|e| format!("client: {e}"))?;
    let source = format!(
        "cluster:{}",
        config.cluster_url.to_string().trim_end_matches('/')
    );
    Ok(Cluster {
        client,
        config,
        source,
    })
}

fn has_kubeconfig() -> bool {
    std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty())
        || std::env::var_os("HOME")
            .is_some_and(|h| Path::new(&h).join(".kube").join("config").is_file())
}

/// What a verified kubelet may be sent: the kubeconfig's bearer token (static, token file or
/// exec plugin: whatever kube's own auth layer would send) and/or its client certificate.
#[derive(Default)]
pub struct Credentials {
    pub authorization: Option<http::HeaderValue>,
    pub identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secrets themselves.
        f.debug_struct("Credentials")
            .field("authorization", &self.authorization.is_some())
            .field("identity", &self.identity.is_some())
            .finish()
    }
}

impl Clone for Credentials {
    fn clone(&self) -> Self {
        Credentials {
            authorization: self.authorization.clone(),
            identity: self
                .identity
                .as_ref()
                .map(|(c, k)| (c.clone(), k.clone_key())),
        }
    }
}

/// Resolve the credentials once per scan.
pub async fn credentials(config: &kube::Config) -> Result<Credentials, String> {
    use tower::{Layer, ServiceExt};
    let mut out = Credentials::default();
    if let Some(layer) = config
        .auth_layer()
        .map_err(|e| format!("credentials: {e}"))?
    {
        // The auth layer only decorates a request: capture the header it adds.
        let capture = tower::service_fn(|req: http::Request<String>| async move {
            Ok::<_, tower::BoxError>(http::Response::new(
                req.headers().get(http::header::AUTHORIZATION).cloned(),
            ))
        });
        out.authorization = layer
            .layer(capture)
            .oneshot(http::Request::new(String::new()))
            .await
            .map_err(|e| format!("credentials: {e}"))?
            .into_body();
    }
    out.identity = identity(&config.auth_info)?;
    Ok(out)
}

fn load(data: Option<&str>, file: Option<&String>, what: &str) -> Result<Option<Vec<u8>>, String> {
    if let Some(d) = data {
        return base64::engine::general_purpose::STANDARD
            .decode(d.trim())
            .map(Some)
            .map_err(|e| format!("{what}-data: {e}"));
    }
    match file {
        Some(f) => std::fs::read(f)
            .map(Some)
            .map_err(|e| format!("{what} {f}: {e}")),
        None => Ok(None),
    }
}

fn identity(
    auth: &AuthInfo,
) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>, String> {
    use secrecy::ExposeSecret;
    let cert = load(
        auth.client_certificate_data.as_deref(),
        auth.client_certificate.as_ref(),
        "client-certificate",
    )?;
    let key_data = auth.client_key_data.as_ref().map(|s| s.expose_secret());
    let key = load(key_data, auth.client_key.as_ref(), "client-key")?;
    let (Some(cert), Some(key)) = (cert, key) else {
        return Ok(None);
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("client certificate: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(&key).map_err(|e| format!("client key: {e}"))?;
    Ok(Some((chain, key)))
}
