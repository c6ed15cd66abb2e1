//! One CSR from judgement to written decision: judge, write the condition through the
//! `/approval` subresource with the CSR's resourceVersion as precondition, retry a 409 Conflict by
//! re-reading and judging again (a CSR decided meanwhile is then left alone), record an Event,
//! count and log. Nothing is written in dry-run.

use super::metrics::Metrics;
use super::{Config, Decision, judge};
use k8s_openapi::api::certificates::v1::{
    CertificateSigningRequest, CertificateSigningRequestCondition, CertificateSigningRequestStatus,
};
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, PostParams};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Resource, ResourceExt};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Attempts at writing one decision before giving up on that CSR for this round.
pub const MAX_ATTEMPTS: u32 = 5;
/// Longest time one CSR may take (all attempts); the others are never held up longer.
pub const PER_CSR_TIMEOUT: Duration = Duration::from_secs(30);
const REPORTED_CAP: usize = 100_000;

/// Where Nodes are looked up: a listed snapshot (`--once`) or a fresh GET (watch mode, so that a
/// CSR is judged against the Node's current addresses).
pub enum NodeSource {
    Api(Box<Api<Node>>),
    Snapshot(HashMap<String, Arc<Node>>),
}

impl NodeSource {
    async fn get(&self, name: &str) -> Result<Option<Arc<Node>>, kube::Error> {
        match self {
            NodeSource::Api(api) => Ok(api.get_opt(name).await?.map(Arc::new)),
            NodeSource::Snapshot(map) => Ok(map.get(name).cloned()),
        }
    }
}

/// What became of one CSR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Approved or denied (written, or would be in dry-run).
    Decided(Decision),
    Pending(String),
    Ignored(&'static str),
    Error(String),
}

pub struct Approver {
    pub csrs: Api<CertificateSigningRequest>,
    pub nodes: NodeSource,
    pub cfg: Config,
    pub dry_run: bool,
    pub metrics: Arc<Metrics>,
    /// `None` in dry-run: Events are writes too.
    pub recorder: Option<Recorder>,
    /// Last reason reported per CSR uid: a CSR judged again with the same result is not logged
    /// or counted again (watch mode re-examines pending CSRs on every change of their Node).
    reported: Mutex<HashMap<String, &'static str>>,
}

impl Approver {
    pub fn new(
        csrs: Api<CertificateSigningRequest>,
        nodes: NodeSource,
        cfg: Config,
        dry_run: bool,
        metrics: Arc<Metrics>,
        recorder: Option<Recorder>,
    ) -> Self {
        Approver {
            csrs,
            nodes,
            cfg,
            dry_run,
            metrics,
            recorder: if dry_run { None } else { recorder },
            reported: Mutex::default(),
        }
    }

    /// Judge and decide one CSR, within [`PER_CSR_TIMEOUT`].
    pub async fn process(&self, csr: CertificateSigningRequest) -> Outcome {
        let name = csr.name_any();
        let out = match tokio::time::timeout(PER_CSR_TIMEOUT, self.process_inner(csr)).await {
            Ok(o) => o,
            Err(_) => Outcome::Error(format!("gave up after {PER_CSR_TIMEOUT:?}")),
        };
        if let Outcome::Error(why) = &out {
            tracing::warn!(csr = %name, decision = "error", error = %why, "CSR not decided");
            self.metrics.count("error", "ApiError", self.dry_run);
        }
        out
    }

    async fn process_inner(&self, mut csr: CertificateSigningRequest) -> Outcome {
        let name = csr.name_any();
        for attempt in 1..=MAX_ATTEMPTS {
            let decision = match self.decide(&csr).await {
                Ok(d) => d,
                Err(e) => return Outcome::Error(format!("reading the Node: {e}")),
            };
            match &decision {
                Decision::Ignore(why) => {
                    self.forget(&csr);
                    return Outcome::Ignored(why);
                }
                Decision::Pending { node, .. } => {
                    self.report(&csr, &decision);
                    return Outcome::Pending(node.clone());
                }
                Decision::Approve { .. } | Decision::Deny { .. } if self.dry_run => {
                    self.report(&csr, &decision);
                    return Outcome::Decided(decision);
                }
                Decision::Approve { .. } | Decision::Deny { .. } => {}
            }
            match self.write(&csr, &decision).await {
                Ok(()) => {
                    self.report(&csr, &decision);
                    self.forget(&csr);
                    self.event(&csr, &decision).await;
                    return Outcome::Decided(decision);
                }
                Err(kube::Error::Api(s)) if s.code == 409 => {
                    self.metrics.conflicts.inc();
                    tracing::debug!(csr = %name, attempt, "conflict writing the decision; re-reading");
                    tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
                    match self.csrs.get_opt(&name).await {
                        Ok(Some(fresh)) => csr = fresh,
                        Ok(None) => return Outcome::Ignored("Deleted"),
                        Err(e) => {
                            return Outcome::Error(format!("re-reading after a conflict: {e}"));
                        }
                    }
                }
                Err(kube::Error::Api(s)) if s.code == 404 => return Outcome::Ignored("Deleted"),
                Err(e) => return Outcome::Error(format!("writing the decision: {e}")),
            }
        }
        Outcome::Error(format!("still conflicting after {MAX_ATTEMPTS} attempts"))
    }

    /// Judge without a Node first, so a Node is read only for a CSR that passed everything else.
    async fn decide(&self, csr: &CertificateSigningRequest) -> Result<Decision, kube::Error> {
        let first = judge(csr, |_| None::<Arc<Node>>, &self.cfg);
        let Decision::Pending { node, .. } = &first else {
            return Ok(first);
        };
        match self.nodes.get(node).await? {
            None => Ok(first),
            Some(n) => Ok(judge(csr, |_| Some(n), &self.cfg)),
        }
    }

    async fn write(
        &self,
        csr: &CertificateSigningRequest,
        decision: &Decision,
    ) -> Result<(), kube::Error> {
        let (type_, message) = match decision {
            Decision::Deny { failure, .. } => ("Denied", format!("kubelet-tls-guard: {failure}")),
            _ => (
                "Approved",
                "kubelet-tls-guard: every check of a kubelet serving certificate passed".into(),
            ),
        };
        let mut body = csr.clone();
        let status = body
            .status
            .get_or_insert_with(CertificateSigningRequestStatus::default);
        status
            .conditions
            .get_or_insert_with(Vec::new)
            .push(CertificateSigningRequestCondition {
                type_: type_.into(),
                status: "True".into(),
                reason: Some(decision.reason().into()),
                message: Some(message),
                last_update_time: Some(Time(k8s_openapi::jiff::Timestamp::now())),
                last_transition_time: None,
            });
        // PUT with the resourceVersion we judged: a CSR changed meanwhile gives 409, never a
        // second decision.
        self.csrs
            .replace_subresource("approval", &csr.name_any(), &PostParams::default(), &body)
            .await
            .map(|_| ())
    }

    async fn event(&self, csr: &CertificateSigningRequest, decision: &Decision) {
        let Some(recorder) = &self.recorder else {
            return;
        };
        let (type_, action, note) = match decision {
            Decision::Deny { failure, .. } => (EventType::Warning, "Deny", failure.to_string()),
            _ => (
                EventType::Normal,
                "Approve",
                "every check of a kubelet serving certificate passed".to_string(),
            ),
        };
        let ev = Event {
            type_,
            reason: decision.reason().into(),
            note: Some(note),
            action: action.into(),
            secondary: None,
        };
        if let Err(e) = recorder.publish(&ev, &csr.object_ref(&())).await {
            tracing::warn!(csr = %csr.name_any(), error = %e, "could not record the Event");
        }
    }

    fn key(csr: &CertificateSigningRequest) -> String {
        csr.uid().unwrap_or_else(|| csr.name_any())
    }

    fn forget(&self, csr: &CertificateSigningRequest) {
        if let Ok(mut m) = self.reported.lock() {
            m.remove(&Self::key(csr));
        }
    }

    /// One log line and one count per CSR and result.
    fn report(&self, csr: &CertificateSigningRequest, decision: &Decision) {
        let reason = decision.reason();
        if let Ok(mut m) = self.reported.lock() {
            if m.len() >= REPORTED_CAP {
                m.clear();
            }
            if m.insert(Self::key(csr), reason) == Some(reason) {
                return;
            }
        }
        self.metrics.count(decision.label(), reason, self.dry_run);
        let name = csr.name_any();
        let (node, detail) = match decision {
            Decision::Approve { node } => (node.as_str(), "all checks passed".to_string()),
            Decision::Deny { node, failure } => {
                (node.as_deref().unwrap_or(""), failure.message.clone())
            }
            Decision::Pending { node, reason } => (
                node.as_str(),
                if *reason == super::PENDING_NO_ADDRESSES {
                    format!("Node {node} reports no address yet; re-examined when it changes")
                } else {
                    format!("Node {node} does not exist yet; re-examined when it appears")
                },
            ),
            Decision::Ignore(_) => ("", String::new()),
        };
        tracing::info!(
            csr = %name,
            node,
            decision = decision.label(),
            reason,
            dry_run = self.dry_run,
            detail = %detail,
            "CSR decision"
        );
    }
}
