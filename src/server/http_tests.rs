use super::*;
use std::sync::Mutex;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failure_of_ours_is_logged_counted_and_a_500_not_an_empty_200() {
    let state = AppState {
        policy: Arc::new(Policy::from_yaml("mode: enforce\n", "test").unwrap()),
        metrics: Arc::new(Metrics::new()),
        body_limit: 1024,
        body_timeout: Duration::from_secs(1),
        pool: DecisionPool::new(1, Duration::from_secs(1)),
    };
    let log = Captured::default();
    let sink = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    let r = tracing::subscriber::with_default(subscriber, || {
        internal_error(
            Endpoint::Validate,
            &state,
            "rendering the AdmissionReview response failed",
            &"key must be a string",
        )
    });
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
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
