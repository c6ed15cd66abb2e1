use super::*;
use crate::log_capture;

#[test]
fn a_failure_of_ours_is_logged_counted_and_a_500_not_an_empty_200() {
    let state = AppState {
        policy: Arc::new(Policy::from_yaml("mode: enforce\n", "test").unwrap()),
        metrics: Arc::new(Metrics::new()),
        body_limit: 1024,
        body_timeout: Duration::from_secs(1),
        pool: DecisionPool::new(1, Duration::from_secs(1)),
    };
    let (r, text) = log_capture::logged(|| {
        internal_error(
            Endpoint::Validate,
            &state,
            "rendering the AdmissionReview response failed",
            &"key must be a string",
        )
    });
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(text.contains("ERROR"), "{text}");
    assert!(
        text.contains("rendering the AdmissionReview response failed"),
        "{text}"
    );
    assert!(text.contains("key must be a string"), "{text}");
    assert!(
        state
            .metrics
            .encode()
            .contains("decision=\"internal_error\",dry_run=\"false\"} 1"),
        "{}",
        state.metrics.encode()
    );
}
