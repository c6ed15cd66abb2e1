//! `POST /validate` and `POST /mutate`: read the body within limits, parse once, decide, answer,
//! record the metrics and one log line.

use super::admission::{self, parse_review};
use super::body::{self, BodyError};
use super::decide::{Endpoint, decide, kind_label};
use super::metrics::{EndpointLabels, Metrics, RequestLabels, RuleLabels};
use crate::policy::Policy;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, Version, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What every request handler shares. Built once; never cloned per request.
pub struct AppState {
    pub policy: Arc<Policy>,
    pub metrics: Arc<Metrics>,
    pub body_limit: usize,
    pub body_timeout: Duration,
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/validate", post(validate))
        .route("/mutate", post(mutate))
        .fallback(not_found)
        .with_state(state)
}

async fn validate(State(s): State<Arc<AppState>>, req: Request) -> Response {
    handle(Endpoint::Validate, &s, req).await
}

async fn mutate(State(s): State<Arc<AppState>>, req: Request) -> Response {
    handle(Endpoint::Mutate, &s, req).await
}

async fn not_found() -> Response {
    plain(
        StatusCode::NOT_FOUND,
        "not found: POST AdmissionReviews to /validate or /mutate".into(),
    )
}

/// A one-line plain-text answer for requests that are not AdmissionReviews.
fn plain(code: StatusCode, message: String) -> Response {
    let mut r = (code, format!("{message}\n")).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn is_json(req: &Request) -> Result<(), String> {
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

/// HTTP/1: tell the client the connection ends with this answer (the body was not read).
fn closing(mut r: Response, version: Version) -> Response {
    if version < Version::HTTP_2 {
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    r
}

/// The client waits for `100 Continue` before it sends the body: nothing to drain.
fn expects_continue(req: &Request) -> bool {
    req.headers()
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

async fn handle(endpoint: Endpoint, s: &AppState, req: Request) -> Response {
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
            reason = %message,
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
    let review = match parse_review(&body) {
        Ok(r) => r,
        Err(e) => return reject(StatusCode::BAD_REQUEST, "bad_request", e.to_string()),
    };
    let request = &review.request;
    let outcome = decide(endpoint, request, &s.policy);
    let bytes = admission::render(review.api_version, request.uid(), &outcome.response);

    let kind = kind_label(request.kind());
    let dry_run = if request.is_dry_run() {
        "true"
    } else {
        "false"
    };
    s.metrics
        .requests
        .get_or_create(&RequestLabels {
            endpoint: endpoint.as_str(),
            kind,
            decision: outcome.decision.as_str(),
            dry_run,
        })
        .inc();
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
    let elapsed = start.elapsed();
    s.metrics
        .latency
        .get_or_create(&EndpointLabels {
            endpoint: endpoint.as_str(),
        })
        .observe(elapsed.as_secs_f64());
    let failed: Vec<&str> = outcome.violations.iter().map(|r| r.as_str()).collect();
    tracing::info!(
        endpoint = endpoint.as_str(),
        uid = request.uid(),
        kind = request.kind(),
        namespace = request.namespace(),
        name = request.name(),
        operation = request.operation(),
        dry_run = request.is_dry_run(),
        mirror = outcome.mirror,
        failed_rules = %failed.join(","),
        action = outcome.decision.as_str(),
        skipped = outcome.skipped.unwrap_or(""),
        latency_us = elapsed.as_micros() as u64,
        "admission decision"
    );

    let mut r = (StatusCode::OK, bytes).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}
