//! `POST /validate` and `POST /mutate`: read the body within limits, parse once, decide (in the
//! [`DecisionPool`]), answer, record the metrics and one log line.

use super::admission::{self, Built};
use super::body::{self, BodyError};
use super::decide::{Endpoint, Outcome, decide, kind_label};
use super::lean;
use super::metrics::{EndpointLabels, Metrics, RequestLabels, RuleLabels};
use super::pool::{self, DecisionPool, PoolError};
use super::reply::{self, Reply, closing, plain};
use crate::engine::policy::Policy;
use hyper::body::{Body, Bytes};
use hyper::header;
use hyper::{Request, StatusCode, Version};
use std::borrow::Cow;
use std::fmt::Display;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bodies up to this size are parsed on the async worker (at most a few tens of microseconds).
const INLINE_PARSE_LIMIT: usize = 64 * 1024;
// A pod the parse decides (`lean::tree`) must be one parsed inline.
const _: () = assert!(lean::CHECK_UP_FRONT <= INLINE_PARSE_LIMIT);

/// What every request handler shares. Built once; never cloned per request.
pub struct AppState {
    pub policy: Arc<Policy>,
    pub metrics: Arc<Metrics>,
    pub body_limit: usize,
    pub body_timeout: Duration,
    /// Where decisions run (off the async workers, bounded, with a deadline).
    pub pool: DecisionPool,
}

/// Answer one request: `POST /validate` and `POST /mutate`, a 405 for another method there,
/// a 404 elsewhere. Routed by hand, as two paths need no router: axum's boxed the handler's
/// future and both bodies, and moved the future twice, on every request.
pub async fn route<B>(s: &AppState, req: Request<B>) -> Reply
where
    B: Body<Data = Bytes> + Unpin + Send + 'static,
    B::Error: Display,
{
    let path = req.uri().path();
    let endpoint = match path {
        "/validate" => Endpoint::Validate,
        "/mutate" => Endpoint::Mutate,
        _ => {
            return plain(
                StatusCode::NOT_FOUND,
                "not found: POST AdmissionReviews to /validate or /mutate".into(),
            );
        }
    };
    if req.method() != hyper::Method::POST {
        let mut r = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("method not allowed: POST AdmissionReviews to {path}"),
        );
        r.headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
        return r;
    }
    handle(endpoint, s, req).await
}

fn is_json<B>(req: &Request<B>) -> Result<(), String> {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return Err("missing Content-Type: send application/json".into());
    };
    let text = value.to_str().unwrap_or("");
    let essence = text.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(format!(
            "unsupported Content-Type {:?}: send application/json",
            text.chars().take(100).collect::<String>()
        ))
    }
}

/// What the log line and metrics say about a request. Borrowed from the request when it is
/// decided inline; copied before it goes to the pool, because a timed-out decision keeps it.
struct Summary<'r> {
    uid: Cow<'r, str>,
    kind: Cow<'r, str>,
    kind_label: &'static str,
    namespace: Cow<'r, str>,
    name: Cow<'r, str>,
    operation: Cow<'r, str>,
    /// `None`: answered from the envelope, `dryRun` not read.
    dry_run: Option<bool>,
}

impl<'r> Summary<'r> {
    fn of(r: &'r admission::AdmissionRequest) -> Summary<'r> {
        Summary {
            uid: Cow::Borrowed(r.uid()),
            kind: Cow::Borrowed(r.kind()),
            kind_label: kind_label(r.kind()),
            namespace: Cow::Borrowed(r.namespace()),
            name: Cow::Borrowed(r.name()),
            operation: Cow::Borrowed(r.operation()),
            dry_run: r.dry_run_read(),
        }
    }

    fn into_owned(self) -> Summary<'static> {
        Summary {
            uid: Cow::Owned(self.uid.into_owned()),
            kind: Cow::Owned(self.kind.into_owned()),
            kind_label: self.kind_label,
            namespace: Cow::Owned(self.namespace.into_owned()),
            name: Cow::Owned(self.name.into_owned()),
            operation: Cow::Owned(self.operation.into_owned()),
            dry_run: self.dry_run,
        }
    }

    fn object(&self) -> String {
        match (self.namespace.is_empty(), self.kind.is_empty()) {
            (_, true) => "the object".to_string(),
            (true, false) => format!("{} {}", self.kind, self.name),
            (false, false) => format!("{} {}/{}", self.kind, self.namespace, self.name),
        }
    }
}

/// The client waits for `100 Continue` before it sends the body: nothing to drain.
fn expects_continue<B>(req: &Request<B>) -> bool {
    req.headers()
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

async fn handle<B>(endpoint: Endpoint, s: &AppState, req: Request<B>) -> Reply
where
    B: Body<Data = Bytes> + Unpin + Send + 'static,
    B::Error: Display,
{
    let start = Instant::now();
    let reject = |code: StatusCode, decision: &'static str, message: String| {
        s.metrics
            .requests
            .get_or_create(&RequestLabels {
                endpoint: endpoint.as_str(),
                kind: "none",
                decision,
                dry_run: "false",
            })
            .inc();
        tracing::info!(
            endpoint = endpoint.as_str(),
            status = code.as_u16(),
            reason = message.as_str(),
            "request rejected"
        );
        plain(code, message)
    };

    if let Err(why) = is_json(&req) {
        return reject(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            why,
        );
    }
    let version = req.version();
    let too_large = || format!("request body exceeds the {}-byte limit", s.body_limit);
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > s.body_limit as u64) {
        // Answered before reading; a client that sends at once is drained so it sees the 413.
        // An HTTP/1 client that waits for `100 Continue` sends nothing (and reading would send
        // the 100). HTTP/2 has no 100 here, and the stream is kept until the client has the
        // answer: reset at once, curl reports an empty reply.
        if version >= Version::HTTP_2 || !expects_continue(&req) {
            body::drain(req.into_body());
        }
        let r = reject(StatusCode::PAYLOAD_TOO_LARGE, "too_large", too_large());
        return closing(r, version);
    }
    let body = match body::read_body(req.into_body(), s.body_limit, s.body_timeout).await {
        Ok(b) => b,
        Err(BodyError::TooLarge(rest)) => {
            body::drain(rest);
            let r = reject(StatusCode::PAYLOAD_TOO_LARGE, "too_large", too_large());
            return closing(r, version);
        }
        Err(BodyError::Timeout) => {
            return reject(
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                format!(
                    "request body not received within {} s",
                    s.body_timeout.as_secs_f64()
                ),
            );
        }
        Err(BodyError::Read(e)) => {
            return reject(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("could not read the request body: {e}"),
            );
        }
    };
    let received = tokio::time::Instant::now();
    // Parsing is linear in the (limited) body, but megabytes of it still belong off the workers;
    // a typical body parses in microseconds, less than the hand-off to another thread costs.
    let small = body.len() <= INLINE_PARSE_LIMIT;
    let parsed = if small {
        Ok(lean::parse(&body, endpoint, &s.policy))
    } else {
        let policy = s.policy.clone();
        tokio::task::spawn_blocking(move || lean::parse(&body, endpoint, &policy)).await
    };
    let mut review = match parsed {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return reject(StatusCode::BAD_REQUEST, "bad_request", e.to_string()),
        Err(e) => return internal_error(endpoint, s, "parsing the request failed", &e),
    };
    let api_version = review.api_version;
    let answer = move |request: &mut admission::AdmissionRequest, policy: &Policy| {
        // A pod may have been decided by the parse (`lean::tree`).
        let outcome = match request.decided.take() {
            Some(outcome) => *outcome,
            None => decide(endpoint, request, policy),
        };
        let bytes = admission::render(api_version, request.uid(), &outcome.response);
        (outcome, bytes)
    };
    // An object that was not built needs no evaluation, and a small pod's takes microseconds
    // (JSON only, linear): both are answered inline, saving two thread hand-offs. Whatever may
    // parse YAML or is large goes to the bounded pool with its deadline.
    let inline = match review.request.built {
        Built::Envelope | Built::Identity => true,
        Built::PodMembers => small,
        Built::ConfigMapMembers | Built::Whole => false,
    };
    let (who, decided) = if inline {
        let decided = answer(&mut review.request, &s.policy);
        (Summary::of(&review.request), Ok(decided))
    } else {
        let who = Summary::of(&review.request).into_owned();
        let policy = s.policy.clone();
        let decided = s
            .pool
            .run_from(received, move || answer(&mut review.request, &policy))
            .await;
        (who, decided)
    };
    let (outcome, bytes) = match decided {
        Ok((outcome, bytes)) => (Some(outcome), bytes),
        Err(PoolError::Timeout) => {
            let deadline = s.pool.deadline();
            s.metrics
                .decision_timeouts
                .get_or_create(&EndpointLabels {
                    endpoint: endpoint.as_str(),
                })
                .inc();
            let response = pool::timeout_response(&s.policy, endpoint, &who.object(), deadline);
            tracing::warn!(
                endpoint = endpoint.as_str(),
                uid = &*who.uid,
                kind = &*who.kind,
                namespace = &*who.namespace,
                name = &*who.name,
                timeout_s = deadline.as_secs_f64(),
                allowed = response.allowed,
                "admission decision timed out; answered per failure policy"
            );
            (None, admission::render(api_version, &who.uid, &response))
        }
        Err(PoolError::Failed(e)) => {
            return internal_error(endpoint, s, "the decision failed", &e);
        }
    };
    let action = match &outcome {
        Some(o) => o.decision.as_str(),
        None => "timeout",
    };
    s.metrics
        .requests
        .get_or_create(&RequestLabels {
            endpoint: endpoint.as_str(),
            kind: who.kind_label,
            decision: action,
            dry_run: match who.dry_run {
                Some(true) => "true",
                Some(false) => "false",
                None => "unknown",
            },
        })
        .inc();
    if let Some(outcome) = &outcome {
        record_rules(endpoint, s, outcome);
    }
    let elapsed = start.elapsed();
    s.metrics
        .latency
        .get_or_create(&EndpointLabels {
            endpoint: endpoint.as_str(),
        })
        .observe(elapsed.as_secs_f64());
    let failed: Vec<&str> = outcome
        .iter()
        .flat_map(|o| o.violations.iter().map(|r| r.as_str()))
        .collect();
    tracing::info!(
        endpoint = endpoint.as_str(),
        uid = &*who.uid,
        kind = &*who.kind,
        namespace = &*who.namespace,
        name = &*who.name,
        operation = &*who.operation,
        dry_run = who.dry_run,
        mirror = outcome.as_ref().is_some_and(|o| o.mirror),
        failed_rules = failed.join(",").as_str(),
        action,
        skipped = outcome.as_ref().and_then(|o| o.skipped).unwrap_or(""),
        latency_us = elapsed.as_micros() as u64,
        "admission decision"
    );
    match bytes {
        Ok(bytes) => reply::json(bytes),
        Err(e) => internal_error(
            endpoint,
            s,
            "rendering the AdmissionReview response failed",
            &e,
        ),
    }
}

fn record_rules(endpoint: Endpoint, s: &AppState, outcome: &Outcome) {
    for (rule, status) in &outcome.results {
        s.metrics
            .rule_results
            .get_or_create(&RuleLabels {
                endpoint: endpoint.as_str(),
                rule: rule.as_str(),
                result: status.as_str(),
                mode: s.policy.mode_for(*rule).as_str(),
            })
            .inc();
    }
    if outcome.mirror && endpoint == Endpoint::Validate {
        for rule in &outcome.violations {
            s.metrics
                .mirror_pod_reports
                .get_or_create(&super::metrics::MirrorLabels {
                    rule: rule.as_str(),
                })
                .inc();
        }
    }
}

/// A fault of ours, never an empty 200: logged, counted, and a 500 so that the API server
/// applies the webhook's failure policy.
fn internal_error(
    endpoint: Endpoint,
    s: &AppState,
    what: &str,
    error: &dyn std::fmt::Display,
) -> Reply {
    tracing::error!(endpoint = endpoint.as_str(), error = %error, "{what}");
    s.metrics
        .requests
        .get_or_create(&RequestLabels {
            endpoint: endpoint.as_str(),
            kind: "none",
            decision: "internal_error",
            dry_run: "false",
        })
        .inc();
    plain(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("internal error: {what}"),
    )
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
