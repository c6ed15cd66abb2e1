use super::JsonLine;
use crate::log_capture::Captured;
use tracing_subscriber::fmt::format::JsonFields;

/// Events of every shape a field can take, with text that needs escapes.
fn events() {
    let text = "a \"quoted\"\n\tline \u{1}\u{8}\u{c}\r é \u{7f} \\ end \u{1b}[31m";
    tracing::info!("plain message");
    tracing::warn!(
        endpoint = "/validate",
        status = 413u16,
        reason = %text,
        "request rejected"
    );
    tracing::info!(
        uid = %"3c8b6f0e",
        kind = %"Pod",
        dry_run = true,
        mirror = false,
        failed_rules = %"",
        action = "deny",
        latency_us = 17u64,
        delta = -5i64,
        "admission decision"
    );
    tracing::error!(error = ?std::io::Error::other("boom\r\n"), "failed");
    tracing::info!(
        delay_s = 0.0f64,
        ratio = 1.5f64,
        big = 1e300f64,
        tiny = 1e-7f64,
        nan = f64::NAN,
        inf = f64::INFINITY,
        "floats"
    );
    tracing::info!(s = text, "formatted {} {:?} {}", 42, text, text);
    tracing::info!(big = u128::MAX, small = i128::MIN, "wide");
    let err = std::io::Error::other("e \" x");
    let err: &(dyn std::error::Error + 'static) = &err;
    tracing::info!(error = err, "an error value");
    tracing::info!(target: "custom::target", bytes = b"\x00ab".as_slice(), "bytes");
    tracing::info!(log.target = "dep", "looks like a log record");
    tracing::info!(key = "duplicate", key = "twice", "repeated field");
    // A line longer than the buffer a thread keeps, then a short one made in a new buffer.
    let long = "x".repeat(20 * 1024);
    tracing::info!(long = long.as_str(), "a long line");
    tracing::info!(n = 1u64, "a short line after it");
}

/// The lines `events` logs with this event format (`None`: tracing-subscriber's own JSON).
fn logged(ours: bool) -> String {
    let log = Captured::default();
    let writer = log.clone();
    let builder = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .fmt_fields(JsonFields::new());
    if ours {
        let subscriber = builder.event_format(JsonLine::new()).finish();
        tracing::subscriber::with_default(subscriber, events);
    } else {
        let subscriber = builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .finish();
        tracing::subscriber::with_default(subscriber, events);
    }
    log.text()
}

/// Each line without its timestamp, which differs between the two runs.
fn untimed(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| {
            let rest = line.find("\",\"level\"").map_or(line, |at| &line[at..]);
            rest.to_string()
        })
        .collect()
}

#[test]
fn writes_the_line_tracing_subscriber_writes() {
    let ours = logged(true);
    let standard = logged(false);
    assert_eq!(ours.lines().count(), 13, "{ours}");
    assert_eq!(untimed(&ours), untimed(&standard));
    for line in ours.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect(line);
        assert!(
            v["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{line}"
        );
    }
}

#[test]
fn escapes_what_json_needs_escaped() {
    let ours = logged(true);
    let line = ours
        .lines()
        .find(|l| l.contains("request rejected"))
        .expect("the rejected line");
    let v: serde_json::Value = serde_json::from_str(line).expect(line);
    assert_eq!(
        v["reason"],
        "a \"quoted\"\n\tline \u{1}\u{8}\u{c}\r é \u{7f} \\ end \u{1b}[31m"
    );
    assert!(line.contains(r#"\u0001\b\f\r é"#), "{line}");
    assert!(line.contains(r#"\u001b[31m"#), "{line}");
    assert_eq!(v["status"], 413);
    assert_eq!(v["level"], "WARN");
    assert_eq!(v["target"], module_path!());
}

/// The fast path for text without escapes, at every length and offset around its chunks.
#[test]
fn escapes_as_serde_json_at_every_offset() {
    use std::fmt::Write as _;
    const BASE: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ";
    for len in 0..=BASE.len() {
        for at in 0..=len {
            for special in ["\"", "\\", "\n", "\u{1}", "\u{1f}", "é", "\u{7f}", " "] {
                let mut s = BASE[..len].to_string();
                if at < len {
                    s.replace_range(at..at + 1, special);
                }
                let mut out = String::new();
                super::Escaped(&mut out).write_str(&s).expect("written");
                let want = serde_json::to_string(&s).expect("serialised");
                assert_eq!(format!("\"{out}\""), want, "{s:?}");
            }
        }
    }
}

/// A line made while the thread's buffer holds another (a field's `Debug` that logs, under the
/// global subscriber, which lets the event in) is made in a buffer of its own, and the other is
/// left as it was.
#[test]
fn a_line_made_while_another_is_made_is_written_whole() {
    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .fmt_fields(JsonFields::new())
        .event_format(JsonLine::new())
        .finish();
    super::LINE.with_borrow_mut(|held| {
        held.clear();
        held.push_str("{\"partial");
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(n = 1u64, "while another is made");
        });
        assert_eq!(held, "{\"partial");
    });
    let text = log.text();
    assert_eq!(text.lines().count(), 1, "{text}");
    let v: serde_json::Value = serde_json::from_str(text.trim_end()).expect("one JSON line");
    assert_eq!(v["message"], "while another is made");
    assert_eq!(v["n"], 1);
}
