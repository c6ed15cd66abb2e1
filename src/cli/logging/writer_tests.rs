use super::{Batched, LIMIT, PAUSE};
use crate::log_capture::Captured;
use std::io::Write;
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn line(b: &Batched, text: &str) {
    (&*b).write_all(text.as_bytes()).expect("write");
}

#[test]
fn every_line_goes_out_whole_and_in_order() {
    let out = Captured::default();
    let (b, guard) = Batched::start(out.clone(), PAUSE, LIMIT);
    std::thread::scope(|s| {
        for t in 0..4 {
            let b = &b;
            s.spawn(move || {
                for i in 0..2000 {
                    line(b, &format!("thread {t} line {i}\n"));
                }
            });
        }
    });
    drop(guard);
    let text = out.text();
    assert_eq!(text.lines().count(), 8000);
    for t in 0..4 {
        let mine: Vec<usize> = text
            .lines()
            .filter_map(|l| l.strip_prefix(&format!("thread {t} line ")))
            .map(|n| n.parse().expect(n))
            .collect();
        assert_eq!(mine, (0..2000).collect::<Vec<_>>(), "thread {t}");
    }
}

#[test]
fn a_line_goes_out_soon_without_the_guard_dropped() {
    let out = Captured::default();
    let (b, _guard) = Batched::start(out.clone(), PAUSE, LIMIT);
    line(&b, "first\n");
    let start = Instant::now();
    while out.text().is_empty() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(out.text(), "first\n");
}

/// An output that blocks until the test lets each write through.
struct Gate {
    out: Captured,
    pass: mpsc::Receiver<()>,
}

impl Write for Gate {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = self.pass.recv();
        self.out.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_full_buffer_holds_the_next_line_back_and_loses_nothing() {
    let out = Captured::default();
    let (pass, gate) = mpsc::channel();
    let gate = Gate {
        out: out.clone(),
        pass: gate,
    };
    // 16 bytes: the second 10-byte line fills it.
    let (b, guard) = Batched::start(gate, Duration::ZERO, 16);
    let (done, finished) = mpsc::channel();
    let writer = {
        let b = b.clone();
        std::thread::spawn(move || {
            for i in 0..6 {
                line(&b, &format!("line {i:03}\n"));
                let _ = done.send(i);
            }
        })
    };
    // The output is stuck: some lines are held, and the writer waits rather than drop them.
    std::thread::sleep(Duration::from_millis(200));
    let sent_while_stuck = finished.try_iter().count();
    assert!(sent_while_stuck < 6, "{sent_while_stuck} lines taken");
    assert_eq!(out.text(), "");
    for _ in 0..100 {
        let _ = pass.send(());
    }
    writer.join().expect("writer");
    drop(guard);
    let want: String = (0..6).map(|i| format!("line {i:03}\n")).collect();
    assert_eq!(out.text(), want);
}

#[test]
fn lines_after_the_guard_is_dropped_go_out_directly() {
    let out = Captured::default();
    let (b, guard) = Batched::start(out.clone(), Duration::from_secs(3600), LIMIT);
    line(&b, "before\n");
    // Dropping does not wait out the pause.
    let start = Instant::now();
    drop(guard);
    assert!(start.elapsed() < Duration::from_secs(60));
    line(&b, "after\n");
    assert_eq!(out.text(), "before\nafter\n");
}

#[test]
fn flush_writes_out_what_has_gathered() {
    let out = Captured::default();
    let (b, _guard) = Batched::start(out.clone(), Duration::from_secs(3600), LIMIT);
    line(&b, "one\n");
    line(&b, "two\n");
    b.0.write_out();
    assert_eq!(out.text(), "one\ntwo\n");
}
