//! The control loop: `--once` lists and judges what is pending; watch mode runs a kube-runtime
//! Controller on kubelet-serving CSRs, re-triggered for a Node's pending CSRs whenever that Node
//! changes (a CSR that arrived before its Node is approved once the Node appears). With leader
//! election only the Lease holder writes; the standby replica waits.

use super::metrics::{Health, Metrics};
use super::write::{Approver, NodeSource, Outcome};
use super::{Config, SIGNER, checks::NODE_USER_PREFIX, is_decided};
use futures::StreamExt;
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use k8s_openapi::api::core::v1::{Node, NodeStatus};
use kube::api::{Api, ListParams};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Controller name on Events.
pub const REPORTER: &str = "kubelet-tls-guard-csr-approver";
/// A pending CSR is looked at again this often even without Node events.
pub const PENDING_RECHECK: Duration = Duration::from_secs(300);
const PAGE: u32 = 500;

pub struct Options {
    pub cfg: Config,
    pub dry_run: bool,
    /// CSRs judged and written at the same time.
    pub concurrency: usize,
    /// This replica's name: Lease holder identity and Event reporting instance.
    pub identity: String,
}

/// Totals of one `--once` round.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Totals {
    pub approved: usize,
    pub denied: usize,
    pub pending: usize,
    pub ignored: usize,
    pub errors: usize,
}

fn signer_fields() -> String {
    format!("spec.signerName={SIGNER}")
}

fn approver(client: &Client, opts: &Options, nodes: NodeSource, metrics: Arc<Metrics>) -> Approver {
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: REPORTER.into(),
            instance: Some(opts.identity.clone()),
        },
    );
    Approver::new(
        Api::all(client.clone()),
        nodes,
        opts.cfg.clone(),
        opts.dry_run,
        metrics,
        Some(recorder),
    )
}

/// Judge every undecided kubelet-serving CSR once, `concurrency` at a time, and return totals.
pub async fn run_once(
    client: Client,
    opts: &Options,
    metrics: Arc<Metrics>,
) -> Result<Totals, kube::Error> {
    let csr_api: Api<CertificateSigningRequest> = Api::all(client.clone());
    let lp = ListParams::default().fields(&signer_fields()).limit(PAGE);
    let csrs: Vec<_> = list_all(&csr_api, &lp)
        .await?
        .into_iter()
        .filter(|c| c.spec.signer_name == SIGNER && !is_decided(c))
        .collect();
    let wanted: HashSet<String> = csrs
        .iter()
        .filter_map(|c| c.spec.username.as_deref()?.strip_prefix(NODE_USER_PREFIX))
        .map(str::to_owned)
        .collect();
    let nodes = if wanted.is_empty() {
        HashMap::new()
    } else {
        node_addresses(&Api::all(client.clone()), &wanted).await?
    };
    let approver = approver(&client, opts, NodeSource::Snapshot(nodes), metrics);
    let outcomes: Vec<Outcome> = futures::stream::iter(csrs)
        .map(|c| approver.process(c))
        .buffer_unordered(opts.concurrency.max(1))
        .collect()
        .await;
    let mut t = Totals::default();
    for o in outcomes {
        match o {
            Outcome::Decided(super::Decision::Approve { .. }) => t.approved += 1,
            Outcome::Decided(_) => t.denied += 1,
            Outcome::Pending(_) => t.pending += 1,
            Outcome::Ignored(_) => t.ignored += 1,
            Outcome::Error(_) => t.errors += 1,
        }
    }
    Ok(t)
}

async fn list_all<K>(api: &Api<K>, lp: &ListParams) -> Result<Vec<K>, kube::Error>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut out = Vec::new();
    let mut lp = lp.clone();
    loop {
        let page = api.list(&lp).await?;
        out.extend(page.items);
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => lp.continue_token = Some(token),
            _ => return Ok(out),
        }
    }
}

/// The Nodes named in `wanted`, reduced to their addresses: a page at a time, so that thousands of
/// full Node objects are never held at once.
async fn node_addresses(
    api: &Api<Node>,
    wanted: &HashSet<String>,
) -> Result<HashMap<String, Arc<Node>>, kube::Error> {
    let mut out = HashMap::new();
    let mut lp = ListParams::default().limit(PAGE);
    loop {
        let page = api.list(&lp).await?;
        for n in page.items {
            let name = n.name_any();
            if wanted.contains(&name) {
                let slim = Node {
                    metadata: n.metadata,
                    spec: None,
                    status: Some(NodeStatus {
                        addresses: n.status.and_then(|s| s.addresses),
                        ..NodeStatus::default()
                    }),
                };
                out.insert(name, Arc::new(slim));
            }
        }
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => lp.continue_token = Some(token),
            _ => return Ok(out),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unreachable")]
pub struct Never;

async fn reconcile(
    csr: Arc<CertificateSigningRequest>,
    ctx: Arc<Approver>,
) -> Result<Action, Never> {
    if csr.spec.signer_name != SIGNER || is_decided(&csr) {
        return Ok(Action::await_change());
    }
    Ok(match ctx.process((*csr).clone()).await {
        Outcome::Pending(_) => Action::requeue(PENDING_RECHECK),
        Outcome::Error(_) => Action::requeue(Duration::from_secs(30)),
        // In dry-run nothing changes the CSR: look again later, reported once per result.
        Outcome::Decided(_) if ctx.dry_run => Action::requeue(PENDING_RECHECK),
        _ => Action::await_change(),
    })
}

fn error_policy(_: Arc<CertificateSigningRequest>, _: &Never, _: Arc<Approver>) -> Action {
    Action::requeue(Duration::from_secs(30))
}

/// Whether `csr` is an undecided kubelet-serving CSR of Node `node`.
fn pending_for(csr: &CertificateSigningRequest, node: &str) -> bool {
    csr.spec.signer_name == SIGNER
        && !is_decided(csr)
        && csr
            .spec
            .username
            .as_deref()
            .and_then(|u| u.strip_prefix(NODE_USER_PREFIX))
            == Some(node)
}

/// Watch and decide until `stop` completes.
pub async fn run_watch(
    client: Client,
    opts: &Options,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    stop: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let csr_api: Api<CertificateSigningRequest> = Api::all(client.clone());
    let node_api: Api<Node> = Api::all(client.clone());
    let ctx = Arc::new(approver(
        &client,
        opts,
        NodeSource::Api(Box::new(node_api.clone())),
        metrics,
    ));
    let controller = Controller::new(csr_api, watcher::Config::default().fields(&signer_fields()));
    let store = controller.store();
    let concurrency = u16::try_from(opts.concurrency.max(1)).unwrap_or(u16::MAX);
    health.set_running();
    controller
        .watches(node_api, watcher::Config::default(), move |node: Node| {
            let name = node.name_any();
            store
                .state()
                .into_iter()
                .filter(|c| pending_for(c, &name))
                .map(|c| ObjectRef::from_obj(&*c))
                .collect::<Vec<_>>()
        })
        .with_config(controller::Config::default().concurrency(concurrency))
        .graceful_shutdown_on(stop)
        .run(reconcile, error_policy, ctx)
        .for_each(|r| async move {
            if let Err(e) = r {
                tracing::debug!(error = %e, "controller");
            }
        })
        .await;
}

/// `run_watch` that writes only while holding Lease `namespace/name`. Returns an error when the
/// Lease is lost (the process should restart and queue up again as a standby).
pub async fn run_leader_elected(
    client: Client,
    opts: &Options,
    lease: (&str, &str),
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), String> {
    let (namespace, name) = lease;
    let manager = kube_lease_manager::LeaseManagerBuilder::new(client.clone(), name)
        .with_namespace(namespace)
        .with_identity(opts.identity.clone())
        .build()
        .await
        .map_err(|e| format!("Lease {namespace}/{name}: {e}"))?;
    let (mut leader, task) = manager.watch().await;
    health.set_running();
    let mut stop_wait = stop.clone();
    tracing::info!(lease = %format!("{namespace}/{name}"), identity = %opts.identity, "waiting for the Lease");
    let stopped = tokio::select! {
        r = leader.wait_for(|held| *held) => r.is_err(),
        _ = stop_wait.wait_for(|s| *s) => true,
    };
    if stopped {
        drop(leader);
        let _ = task.await;
        return Ok(());
    }
    tracing::info!(identity = %opts.identity, "holding the Lease: deciding CSRs");
    metrics.leader.set(1);
    let (lost_tx, lost_rx) = tokio::sync::oneshot::channel::<()>();
    let mut watch_leader = leader.clone();
    let lost_watch = tokio::spawn(async move {
        // A closed channel (the manager's task ended) is a lost Lease too.
        let _ = watch_leader.wait_for(|held| !*held).await;
        let _ = lost_tx.send(());
    });
    let mut stop_rx = stop.clone();
    let end = async move {
        tokio::select! {
            _ = stop_rx.wait_for(|s| *s) => {},
            _ = lost_rx => {},
        }
    };
    run_watch(client, opts, metrics.clone(), health, end).await;
    metrics.leader.set(0);
    lost_watch.abort();
    let lost = !*leader.borrow() && !*stop.borrow();
    drop(leader);
    // Dropping the receiver makes the manager release the Lease; wait so the standby takes over
    // at once instead of after the Lease expires.
    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    if lost {
        Err("lost the Lease".into())
    } else {
        Ok(())
    }
}
