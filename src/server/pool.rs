//! Where admission decisions run: on blocking threads, a bounded number at a time, within a
//! deadline.
//!
//! A decision is CPU work on the request's object (YAML inside ConfigMaps can be large). Run
//! inline, a slow one would hold an async worker, and with it `/healthz`, `/readyz` and every
//! other connection on that worker. Here it runs on tokio's blocking pool, at most one per core
//! at a time. Parsing, waiting for a slot and deciding share one deadline, counted from the
//! complete request body.
//!
//! A thread cannot be stopped from outside: a decision that misses the deadline runs on to its
//! end, detached, and keeps its slot until then. So however many requests time out, at most
//! `concurrency` decisions burn CPU at once; requests beyond that wait, then time out too.
//!
//! On a timeout the request gets an AdmissionReview answer before the API server's own
//! `timeoutSeconds` (default 3 s) runs out, chosen as the API server would choose on a webhook
//! failure with the `failurePolicy` that `webhook-config` writes for the mode: a policy that
//! enforces any rule denies (HTTP 200, `allowed: false`, status 504 `Timeout`; like
//! `failurePolicy: Fail`), a dry-run policy allows with a warning (like `failurePolicy: Ignore`).

use super::admission::{Response, Status};
use super::decide::Endpoint;
use super::messages::{WARNING_PREFIX, clamp_warning};
use crate::engine::policy::{Mode, Policy};
use crate::engine::rules::RuleId;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Below the webhook's default `timeoutSeconds` (3 s), so our answer arrives first.
pub const DEFAULT_DECISION_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolError {
    /// No answer within the deadline (waiting for a slot included).
    Timeout,
    /// The decision panicked; the message.
    Failed(String),
}

#[derive(Debug)]
pub struct DecisionPool {
    slots: Arc<Semaphore>,
    concurrency: usize,
    deadline: Duration,
}

/// One slot per core the process may use (cgroup CPU limits included).
pub fn default_concurrency() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

impl DecisionPool {
    /// `concurrency` 0 means one per available core.
    pub fn new(concurrency: usize, deadline: Duration) -> Self {
        let concurrency = if concurrency == 0 {
            default_concurrency()
        } else {
            concurrency
        };
        DecisionPool {
            slots: Arc::new(Semaphore::new(concurrency)),
            concurrency,
            deadline,
        }
    }

    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// Run `work` on a blocking thread once a slot is free; give up waiting after the deadline.
    pub async fn run<T, F>(&self, work: F) -> Result<T, PoolError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        self.run_from(tokio::time::Instant::now(), work).await
    }

    /// Like [`DecisionPool::run`], with the deadline counted from `since` (when the request
    /// arrived: parsing it already used part of the time).
    pub async fn run_from<T, F>(&self, since: tokio::time::Instant, work: F) -> Result<T, PoolError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let slots = self.slots.clone();
        let bounded = async move {
            // The semaphore is never closed, so acquiring only ever waits.
            let slot = slots
                .acquire_owned()
                .await
                .map_err(|e| PoolError::Failed(e.to_string()))?;
            tokio::task::spawn_blocking(move || {
                // The slot is held by the thread, not by the request: a timed-out decision
                // still counts until it really ends.
                let _slot = slot;
                work()
            })
            .await
            .map_err(|e| PoolError::Failed(e.to_string()))
        };
        tokio::time::timeout_at(since + self.deadline, bounded)
            .await
            .unwrap_or(Err(PoolError::Timeout))
    }
}

/// Whether `policy` can deny: then a decision that cannot be made denies too.
pub fn fails_closed(policy: &Policy) -> bool {
    RuleId::ALL
        .iter()
        .any(|r| policy.mode_for(*r) == Mode::Enforce)
}

/// The answer for a request whose decision missed the deadline; `what` names the object.
pub fn timeout_response(
    policy: &Policy,
    endpoint: Endpoint,
    what: &str,
    deadline: Duration,
) -> Response {
    let mut r = Response::default();
    let secs = deadline.as_secs_f64();
    r.audit_annotations
        .insert("decision".into(), "timeout".into());
    r.audit_annotations.insert(
        "error".into(),
        format!("{} decision not made within {secs} s", endpoint.as_str()),
    );
    if fails_closed(policy) {
        r.allowed = false;
        r.status = Some(Status {
            status: "Failure",
            reason: "Timeout",
            code: 504,
            message: format!(
                "kubelet-tls-guard could not check {what} within {secs} s; denied because the policy enforces (retry, or ask an administrator to look at the webhook's logs)"
            ),
        });
    } else {
        r.allowed = true;
        r.warnings.push(clamp_warning(&format!(
            "{WARNING_PREFIX}could not check {what} within {secs} s; allowed without evaluation (dry-run)"
        )));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_work_and_times_out_while_the_slot_stays_taken() {
        let pool = DecisionPool::new(1, Duration::from_millis(200));
        assert_eq!(pool.run(|| 7).await, Ok(7));
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let started = Instant::now();
        // Blocks its thread until told: misses the deadline.
        let slow = pool
            .run(move || {
                let _ = rx.recv_timeout(Duration::from_secs(30));
            })
            .await;
        assert_eq!(slow, Err(PoolError::Timeout));
        assert!(started.elapsed() < Duration::from_secs(5));
        // Its slot is still taken: the next request waits and times out without running.
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = ran.clone();
        let r = pool
            .run(move || flag.store(true, std::sync::atomic::Ordering::SeqCst))
            .await;
        assert_eq!(r, Err(PoolError::Timeout));
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
        // Once the slow one ends, the slot is free again.
        tx.send(()).unwrap();
        let mut ok = false;
        for _ in 0..50 {
            if pool.run(|| ()).await.is_ok() {
                ok = true;
                break;
            }
        }
        assert!(ok, "the slot came back");
        // A generous deadline: printing the panic (with a backtrace) takes a while.
        let pool = DecisionPool::new(1, Duration::from_secs(30));
        let r = pool.run(|| panic!("boom")).await;
        assert!(matches!(r, Err(PoolError::Failed(_))), "{r:?}");
    }

    #[test]
    fn timeout_answer_follows_the_policy() {
        let enforce = Policy::from_yaml("mode: enforce\n", "t").unwrap();
        let dry = Policy::from_yaml("mode: dry-run\n", "t").unwrap();
        let d = Duration::from_secs(2);
        let r = timeout_response(&enforce, Endpoint::Validate, "ConfigMap a/b", d);
        assert!(!r.allowed);
        assert_eq!(r.status.as_ref().map(|s| s.code), Some(504));
        let r = timeout_response(&dry, Endpoint::Mutate, "ConfigMap a/b", d);
        assert!(r.allowed);
        assert!(r.patch.is_none());
        assert!(r.warnings[0].contains("ConfigMap a/b"), "{:?}", r.warnings);
        assert_eq!(r.audit_annotations["decision"], "timeout");
    }
}
