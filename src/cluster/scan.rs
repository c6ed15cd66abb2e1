//! `scan` from start to end: read the API (control-plane pods, kubeadm ConfigMaps, the CA,
//! CSRs, Nodes), then every kubelet with bounded concurrency and a per-node deadline, and judge
//! it all with the engine. One failing read is one `error` result; the rest goes on.

use super::client::{self, Cluster, Credentials};
use super::kubelet::Endpoint;
use super::probe::{self, Access, Context, NodeProbe};
use super::readiness::{self, Readiness};
use super::verify::KubeletCa;
use super::{inventory, judge};
use crate::engine::policy::Policy;
use crate::engine::rules::{Component, Status};
use crate::report::Record;
use futures::StreamExt;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Options {
    pub access: Access,
    pub kubelet_ca: Option<PathBuf>,
    pub all_namespaces: bool,
    pub concurrency: usize,
    pub timeout: Duration,
    /// Draw a progress bar on stderr (the caller checks it is a terminal).
    pub progress: bool,
    /// Node address types in the order the API server uses them.
    pub address_types: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub records: Vec<Record>,
    pub readiness: Readiness,
}

const NO_CONTROL_PLANE: &str =
    "a managed control plane (EKS, AKS, GKE) or k3s/RKE2 runs it outside pods";

pub async fn run(cluster: &Cluster, opts: &Options, policy: &Policy) -> Outcome {
    let src = cluster.source.as_str();
    let client = &cluster.client;
    let t = opts.timeout;
    let mut records = Vec::new();
    let error = |object: &str, message: String| {
        judge::record(src, object, "", None, Status::Error, message)
    };

    // Control-plane pods, judged page by page.
    let mut pod_records = Vec::new();
    match inventory::pods(client, opts.all_namespaces, t, |pod| {
        pod_records.extend(judge::object(src, pod, policy));
    })
    .await
    {
        Ok(_) => {
            for c in [Component::ApiServer, Component::ControllerManager] {
                if !judge::judged(&pod_records, c) {
                    records.extend(judge::control_plane_skips(src, c, NO_CONTROL_PLANE));
                }
            }
        }
        Err(e) => records.push(error("pods", e)),
    }
    records.extend(pod_records);

    for name in ["kubeadm-config", "kubelet-config"] {
        match inventory::config_map(client, name, t).await {
            Ok(Some(cm)) => {
                if let Ok(mut v) = serde_json::to_value(cm) {
                    if let Some(m) = v.as_object_mut() {
                        m.insert("kind".into(), "ConfigMap".into());
                        m.insert("apiVersion".into(), "v1".into());
                    }
                    records.extend(judge::object(src, v, policy));
                }
            }
            Ok(None) => {}
            Err(e) => records.push(error(&format!("kube-system/{name}"), e)),
        }
    }

    let ca = kubelet_ca(cluster, opts).await;
    let csrs = match inventory::csrs(client, t).await {
        Ok(c) => c,
        Err(e) => {
            records.push(error("certificatesigningrequests", e));
            Default::default()
        }
    };
    let nodes = match inventory::nodes(client, t, &opts.address_types).await {
        Ok(n) => n,
        Err(e) => {
            records.push(error("nodes", e));
            Vec::new()
        }
    };
    let credentials = if opts.access == Access::Direct {
        match client::credentials(&cluster.config).await {
            Ok(c) => c,
            Err(e) => {
                records.push(error("credentials", e));
                Credentials::default()
            }
        }
    } else {
        Credentials::default()
    };
    let ctx = Context {
        access: opts.access,
        ca,
        credentials,
        client: Some(client.clone()),
        timeout: t,
    };
    let probes = probe_all(nodes, &ctx, opts.concurrency, opts.progress).await;
    for p in &probes {
        let note = csrs.get(&p.endpoint.node).and_then(super::csr::note);
        records.extend(judge::node(src, p, note.as_deref(), policy));
    }
    Outcome {
        readiness: readiness::assess(&probes),
        records,
    }
}

/// `--kubelet-ca`, else the cluster CA every pod gets (`kube-root-ca.crt`).
async fn kubelet_ca(cluster: &Cluster, opts: &Options) -> Result<KubeletCa, String> {
    if let Some(path) = &opts.kubelet_ca {
        let pem =
            std::fs::read(path).map_err(|e| format!("--kubelet-ca {}: {e}", path.display()))?;
        return KubeletCa::from_pem(&pem, &format!("--kubelet-ca {}", path.display()));
    }
    let origin = "ConfigMap kube-system/kube-root-ca.crt";
    let cm = inventory::config_map(&cluster.client, "kube-root-ca.crt", opts.timeout)
        .await?
        .ok_or_else(|| format!("{origin} does not exist: give --kubelet-ca"))?;
    let pem = cm
        .data
        .as_ref()
        .and_then(|d| d.get("ca.crt"))
        .ok_or_else(|| format!("{origin} has no ca.crt: give --kubelet-ca"))?;
    KubeletCa::from_pem(pem.as_bytes(), origin)
}

/// Probe every node, at most `concurrency` at once, each within the context's timeout.
pub async fn probe_all(
    nodes: Vec<Endpoint>,
    ctx: &Context,
    concurrency: usize,
    progress: bool,
) -> Vec<NodeProbe> {
    let bar = progress.then(|| {
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(nodes.len() as u64),
            indicatif::ProgressDrawTarget::stderr(),
        );
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("kubelets {bar:30} {pos}/{len} {elapsed}")
        {
            bar.set_style(style);
        }
        bar
    });
    let mut out: Vec<NodeProbe> = futures::stream::iter(nodes)
        .map(|ep| probe::probe(ep, ctx))
        .buffer_unordered(concurrency.max(1))
        .inspect(|_| {
            if let Some(b) = &bar {
                b.inc(1);
            }
        })
        .collect()
        .await;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    out.sort_by(|a, b| a.endpoint.node.cmp(&b.endpoint.node));
    out
}
