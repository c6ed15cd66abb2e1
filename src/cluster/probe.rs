//! One node's kubelet, within one deadline: the serving-certificate handshake, then the live
//! configuration (`/configz`) and, where it leaves the gate to its default, `/metrics`.

use super::client::Credentials;
use super::kubelet::{self, CONFIGZ_CAP, Endpoint, METRICS_CAP, Serving, Session};
use super::proxy;
use super::verify::KubeletCa;
use crate::engine::rules::GATE;
use serde_json::Value;
use std::time::Duration;
use tokio::time::{Instant, timeout_at};

/// How kubelet configuration is read (`--kubelet-access`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Access {
    /// Dial each kubelet; send the kubeconfig's credentials only to a verified one.
    Direct,
    /// Through the API server's node proxy: needs nodes/proxy, which can exec into pods.
    Proxy,
    /// Do not read kubelet configuration (the serving certificate is still checked).
    None,
}

/// What a scan brings to every node.
#[derive(Clone)]
pub struct Context {
    pub access: Access,
    /// `Err`: no CA to verify against, said on every node.
    pub ca: Result<KubeletCa, String>,
    /// Sent in direct mode to verified kubelets only.
    pub credentials: Credentials,
    /// For proxy mode.
    pub client: Option<kube::Client>,
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Config {
    /// The inner object of `{"kubeletconfig": {...}}`; `via` names the path read.
    Read { config: Value, via: String },
    /// Could not be read: an `error` for the kubelet configuration rules.
    Failed(String),
    /// Not read on purpose (`--kubelet-access none`).
    Skipped(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct NodeProbe {
    pub endpoint: Endpoint,
    pub serving: Serving,
    pub config: Config,
    /// `kubernetes_feature_enabled` for the gate in the kubelet's `/metrics`, when consulted.
    pub metrics_gate: Option<bool>,
}

/// `kubernetes_feature_enabled{name="RotateKubeletServerCertificate",...} 1`
pub fn metrics_gate_line(line: &str) -> Option<bool> {
    let rest = line.strip_prefix("kubernetes_feature_enabled{")?;
    let (labels, value) = rest.split_once('}')?;
    if !labels
        .split(',')
        .any(|l| l.trim() == format!("name=\"{GATE}\""))
    {
        return None;
    }
    match value.split_whitespace().next()? {
        "1" => Some(true),
        "0" => Some(false),
        _ => None,
    }
}

/// Read a `/configz` answer: the KubeletConfiguration inside `kubeletconfig`.
pub fn parse_configz(status: u16, body: &[u8], via: &str, proxy: bool) -> Result<Value, String> {
    match status {
        200 => {}
        401 => {
            return Err(format!(
                "{via}: 401 Unauthorized: the kubelet did not accept the kubeconfig's credentials"
            ));
        }
        403 if proxy => {
            return Err(format!(
                "{via}: 403 Forbidden: --kubelet-access proxy needs RBAC nodes/proxy"
            ));
        }
        403 => {
            return Err(format!(
                "{via}: 403 Forbidden: grant RBAC nodes/configz (kubelets before Kubernetes 1.33, or without KubeletFineGrainedAuthz, ask for nodes/proxy)"
            ));
        }
        s => {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            return Err(format!("{via}: HTTP {s}: {}", text.trim()));
        }
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("{via}: not JSON: {e}"))?;
    match v.get("kubeletconfig") {
        Some(cfg @ Value::Object(_)) => Ok(cfg.clone()),
        _ => Err(format!(
            "{via}: not a kubelet /configz answer (expected {{\"kubeletconfig\": {{...}}}})"
        )),
    }
}

fn gate_set(cfg: &Value) -> bool {
    cfg.get("featureGates").and_then(|g| g.get(GATE)).is_some()
}

/// Probe one node; never takes longer than the context's timeout.
pub async fn probe(endpoint: Endpoint, ctx: &Context) -> NodeProbe {
    let deadline = Instant::now() + ctx.timeout;
    let secs = ctx.timeout.as_secs_f64();
    let ca = match &ctx.ca {
        Ok(ca) => ca,
        Err(e) => {
            let why = format!("no kubelet CA to verify against: {e}");
            return NodeProbe {
                endpoint,
                serving: Serving::Unreachable(why.clone()),
                config: Config::Failed(why),
                metrics_gate: None,
            };
        }
    };
    let direct = ctx.access == Access::Direct;
    let creds = direct.then_some(&ctx.credentials);
    let (serving, stream) = kubelet::handshake(&endpoint, ca, creds, deadline).await;
    let mut metrics_gate = None;
    let config = match ctx.access {
        Access::None => {
            Config::Skipped("--kubelet-access none: the kubelet configuration was not read".into())
        }
        Access::Direct => match (stream, &serving) {
            (Some(stream), _) => {
                let via = format!("https://{}/configz", endpoint.authority());
                let work = async {
                    let mut s = Session::open(stream, &endpoint, &ctx.credentials).await?;
                    let (status, body) = s.get("/configz", CONFIGZ_CAP).await?;
                    let cfg = parse_configz(status, &body, &via, false)?;
                    if !gate_set(&cfg) {
                        // Evidence only: a failed /metrics read changes nothing.
                        if let Ok((200, found)) = s
                            .find_line("/metrics", METRICS_CAP, metrics_gate_line)
                            .await
                        {
                            metrics_gate = found;
                        }
                    }
                    Ok::<_, String>(cfg)
                };
                match timeout_at(deadline, work).await {
                    Ok(Ok(config)) => Config::Read { config, via },
                    Ok(Err(e)) => Config::Failed(e),
                    Err(_) => Config::Failed(format!("{via}: no answer within {secs}s")),
                }
            }
            (None, Serving::Rejected(_)) => Config::Failed(
                "credentials not sent: the kubelet's serving certificate did not verify (see kubelet-serving-cert-verified)".into(),
            ),
            (None, Serving::Unreachable(why) | Serving::Verified(why)) => {
                Config::Failed(format!("kubelet not reachable: {why}"))
            }
        },
        Access::Proxy => match &ctx.client {
            None => Config::Failed("no API client for --kubelet-access proxy".into()),
            Some(client) => {
                let node = endpoint.node.as_str();
                let via = format!("nodes/{node}/proxy/configz");
                let work = async {
                    let (status, body) = proxy::get(client, node, "/configz", CONFIGZ_CAP).await?;
                    let cfg = parse_configz(status, &body, &via, true)?;
                    if !gate_set(&cfg)
                        && let Ok((200, found)) = proxy::find_line(
                            client,
                            node,
                            "/metrics",
                            METRICS_CAP,
                            metrics_gate_line,
                        )
                        .await
                    {
                        metrics_gate = found;
                    }
                    Ok::<_, String>(cfg)
                };
                match timeout_at(deadline, work).await {
                    Ok(Ok(config)) => Config::Read { config, via },
                    Ok(Err(e)) => Config::Failed(e),
                    Err(_) => Config::Failed(format!(
                        "{via}: no answer within {secs}s (the API server's retries included)"
                    )),
                }
            }
        },
    };
    NodeProbe {
        endpoint,
        serving,
        config,
        metrics_gate,
    }
}
