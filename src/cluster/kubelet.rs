//! Direct kubelet access: dial the address the API server would, verify the serving
//! certificate first, and only over that verified connection send credentials for
//! `/configz` (and `/metrics` when configz leaves the gate to its default).

use super::client::Credentials;
use super::verify::{self, KubeletCa, Recording};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// `/configz` is a few kilobytes; anything past this is not a kubelet configuration.
pub const CONFIGZ_CAP: usize = 1024 * 1024;
/// `/metrics` is scanned line by line and never kept; reading stops here.
pub const METRICS_CAP: usize = 16 * 1024 * 1024;

/// Where the API server reaches one node's kubelet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub node: String,
    /// `None` when the Node has no usable address: an `error` for that node.
    pub host: Option<String>,
    /// The address type chosen (`InternalIP`, ...).
    pub address_type: String,
    pub port: u16,
}

impl Endpoint {
    pub fn authority(&self) -> String {
        let host = self.host.as_deref().unwrap_or("");
        if host.contains(':') {
            format!("[{host}]:{}", self.port)
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// The serving certificate, as the `kubelet-serving-cert-verified` rule sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Serving {
    /// Chains to the CA, names the dialled address, in its validity period.
    Verified(String),
    /// A certificate was presented and refused: the reason.
    Rejected(String),
    /// No certificate to judge (no address, refused, timed out, not TLS).
    Unreachable(String),
}

/// The outcome of fetching one kubelet endpoint over HTTP.
pub type Fetched = Result<(u16, Vec<u8>), String>;

/// Handshake with the kubelet, verifying its certificate. `identity`: present the kubeconfig's
/// client certificate (rustls only sends it after the server's certificate verified).
pub async fn handshake(
    ep: &Endpoint,
    ca: &KubeletCa,
    creds: Option<&Credentials>,
    deadline: Instant,
) -> (Serving, Option<TlsStream<TcpStream>>) {
    let Some(host) = ep.host.as_deref() else {
        return (
            Serving::Unreachable("the Node has no address in status.addresses".into()),
            None,
        );
    };
    let server_name = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ServerName::IpAddress(ip.into()),
        Err(_) => match ServerName::try_from(host.to_string()) {
            Ok(n) => n,
            Err(e) => return (Serving::Unreachable(format!("address {host:?}: {e}")), None),
        },
    };
    let recording = Arc::new(Recording::new(ca.clone()));
    let seen = recording.seen.clone();
    let builder = match rustls::ClientConfig::builder_with_provider(ca.provider.clone())
        .with_safe_default_protocol_versions()
    {
        Ok(b) => b.dangerous().with_custom_certificate_verifier(recording),
        Err(e) => return (Serving::Unreachable(format!("TLS setup: {e}")), None),
    };
    let identity = creds
        .and_then(|c| c.identity.as_ref())
        .map(|(chain, key)| (chain.clone(), key.clone_key()));
    let config = match identity {
        Some((chain, key)) => match builder.with_client_auth_cert(chain, key) {
            Ok(c) => c,
            Err(e) => {
                return (
                    Serving::Unreachable(format!("kubeconfig client certificate: {e}")),
                    None,
                );
            }
        },
        None => builder.with_no_client_auth(),
    };
    let mut config = config;
    // Only HTTP/1.1 is spoken over the verified stream.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let addr = ep.authority();
    let tcp = match timeout_at(deadline, TcpStream::connect(&addr)).await {
        Err(_) => {
            return (
                Serving::Unreachable(format!("{addr}: connect timed out")),
                None,
            );
        }
        Ok(Err(e)) => return (Serving::Unreachable(format!("{addr}: {e}")), None),
        Ok(Ok(s)) => s,
    };
    let connector = TlsConnector::from(Arc::new(config));
    let tls = match timeout_at(deadline, connector.connect(server_name, tcp)).await {
        Err(_) => {
            return (
                Serving::Unreachable(format!("{addr}: no TLS handshake before the timeout")),
                None,
            );
        }
        Ok(r) => r,
    };
    let seen = seen.lock().map(|s| s.clone()).unwrap_or_default();
    match tls {
        Ok(stream) => {
            let what = seen
                .leaf
                .as_deref()
                .and_then(verify::describe)
                .map(|d| {
                    format!(
                        " ({}, issuer {}, expires {})",
                        d.subject, d.issuer, d.not_after
                    )
                })
                .unwrap_or_default();
            (
                Serving::Verified(format!(
                    "serving certificate{what} verified for {host} against {}",
                    ca.origin
                )),
                Some(stream),
            )
        }
        // The verifier saw a certificate and refused it: say why in words, not as a TLS alert.
        Err(_) if seen.error.is_some() || seen.other.is_some() => (
            Serving::Rejected(verify::reason(&seen, host, &ca.origin)),
            None,
        ),
        Err(e) => (
            Serving::Unreachable(format!("{addr}: TLS handshake failed: {e}")),
            None,
        ),
    }
}

/// An HTTP/1.1 connection over the verified stream; requests carry the credentials.
pub struct Session {
    sender: hyper::client::conn::http1::SendRequest<String>,
    authority: String,
    authorization: Option<http::HeaderValue>,
}

impl Session {
    pub async fn open(
        stream: TlsStream<TcpStream>,
        ep: &Endpoint,
        creds: &Credentials,
    ) -> Result<Session, String> {
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP: {e}"))?;
        // The connection task ends when the session is dropped or the peer closes.
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Session {
            sender,
            authority: ep.authority(),
            authorization: creds.authorization.clone(),
        })
    }

    async fn send(&mut self, path: &str) -> Result<http::Response<hyper::body::Incoming>, String> {
        self.sender
            .ready()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        let mut req = http::Request::get(path)
            .header(http::header::HOST, &self.authority)
            .header(http::header::ACCEPT, "application/json, text/plain");
        if let Some(a) = &self.authorization {
            req = req.header(http::header::AUTHORIZATION, a.clone());
        }
        let req = req
            .body(String::new())
            .map_err(|e| format!("GET {path}: {e}"))?;
        self.sender
            .send_request(req)
            .await
            .map_err(|e| format!("GET {path}: {e}"))
    }

    /// GET `path`, keeping at most `cap` bytes of the body (more is an error).
    pub async fn get(&mut self, path: &str, cap: usize) -> Fetched {
        let resp = self.send(path).await?;
        let status = resp.status().as_u16();
        let body = read_capped(resp.into_body(), cap)
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        Ok((status, body))
    }

    /// GET `path` and hand each line to `find` until it answers, reading at most `cap` bytes.
    pub async fn find_line<T>(
        &mut self,
        path: &str,
        cap: usize,
        find: impl Fn(&str) -> Option<T>,
    ) -> Result<(u16, Option<T>), String> {
        let resp = self.send(path).await?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Ok((status, None));
        }
        let found = scan_lines(resp.into_body(), cap, find)
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        Ok((status, found))
    }
}

/// Collect a body, refusing one larger than `cap` as soon as it grows past it.
pub async fn read_capped<B>(body: B, cap: usize) -> Result<Vec<u8>, String>
where
    B: hyper::body::Body + Unpin,
    B::Data: AsRef<[u8]>,
    B::Error: std::fmt::Display,
{
    let mut body = body;
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("reading the body: {e}"))?;
        if let Ok(data) = frame.into_data() {
            let data = data.as_ref();
            if out.len() + data.len() > cap {
                return Err(format!("body larger than {} KiB: refused", cap / 1024));
            }
            out.extend_from_slice(data);
        }
    }
    Ok(out)
}

/// Scan a text body line by line without keeping it; stop at the first answer or at `cap`.
pub async fn scan_lines<B, T>(
    body: B,
    cap: usize,
    find: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, String>
where
    B: hyper::body::Body + Unpin,
    B::Data: AsRef<[u8]>,
    B::Error: std::fmt::Display,
{
    let mut body = body;
    let mut partial: Vec<u8> = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("reading the body: {e}"))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let data = data.as_ref();
        total += data.len();
        partial.extend_from_slice(data);
        while let Some(nl) = partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = partial.drain(..=nl).collect();
            if let Some(t) = find(String::from_utf8_lossy(&line).trim_end()) {
                return Ok(Some(t));
            }
        }
        if total > cap || partial.len() > 64 * 1024 {
            return Ok(None);
        }
    }
    Ok(find(String::from_utf8_lossy(&partial).trim_end()))
}
