//! Log lines gathered in memory and written out in batches by one thread.
//!
//! The webhook logs a line per admission decision. Written on the request path, each line cost a
//! `write(2)`; handed over a channel to a writer thread (tracing-appender), each line woke that
//! thread, which then wrote it alone: both cost about a tenth of a request's CPU under load.
//! Here a line is appended to a shared buffer, and only the first line into an empty buffer
//! wakes the thread; it waits [`PAUSE`] for more, then writes them all in one go. Nothing is
//! dropped: a buffer of [`LIMIT`] bytes holds the next line back until the thread has taken it.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long the writer lets lines gather after the first: the delay a line may see.
pub const PAUSE: Duration = Duration::from_millis(5);
/// Bytes held before a line has to wait for the writer.
pub const LIMIT: usize = 1 << 20;

type Out = Box<dyn Write + Send>;

struct Shared {
    state: Mutex<State>,
    /// The first line into an empty buffer, or closing.
    ready: Condvar,
    /// The buffer was taken.
    room: Condvar,
    /// Held while a batch is taken and written, so batches go out in order.
    out: Mutex<Out>,
    pause: Duration,
    limit: usize,
}

#[derive(Default)]
struct State {
    lines: Vec<u8>,
    closing: bool,
    /// The thread has written its last batch: lines go out directly.
    gone: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// Take what has gathered and write it out.
    fn write_out(&self) {
        let mut out = lock(&self.out);
        let lines = std::mem::take(&mut lock(&self.state).lines);
        self.room.notify_all();
        if !lines.is_empty() {
            // Nowhere to report a failure to write the log: the lines are lost, as with stderr.
            let _ = out.write_all(&lines);
            let _ = out.flush();
        }
    }

    fn run(&self) {
        let mut state = lock(&self.state);
        loop {
            while state.lines.is_empty() && !state.closing {
                state = self
                    .ready
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if state.closing && state.lines.is_empty() {
                state.gone = true;
                self.room.notify_all();
                return;
            }
            // Let more lines gather; closing or a full buffer cuts it short.
            let (gathered, _) = self
                .ready
                .wait_timeout_while(state, self.pause, |s| {
                    !s.closing && s.lines.len() < self.limit
                })
                .unwrap_or_else(PoisonError::into_inner);
            drop(gathered);
            self.write_out();
            state = lock(&self.state);
        }
    }
}

/// The `MakeWriter` for tracing-subscriber: each event's line is one `write_all`.
#[derive(Clone)]
pub struct Batched(Arc<Shared>);

/// Keeps the writer thread; dropping it writes out what is left and stops the thread.
#[must_use = "lines still gathered when this is dropped are written then; hold it until the command ends"]
pub struct Guard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// The writer of the process's log, for [`flush`].
static INSTALLED: OnceLock<Batched> = OnceLock::new();

impl Batched {
    /// Start a writer thread writing to `out`.
    pub fn start(
        out: impl Write + Send + 'static,
        pause: Duration,
        limit: usize,
    ) -> (Batched, Guard) {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            ready: Condvar::new(),
            room: Condvar::new(),
            out: Mutex::new(Box::new(out)),
            pause,
            limit,
        });
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || worker.run())
            .ok();
        if thread.is_none() {
            // No thread: every line is written as it comes.
            lock(&shared.state).gone = true;
        }
        let guard = Guard {
            shared: Arc::clone(&shared),
            thread,
        };
        (Batched(shared), guard)
    }

    /// Make this the writer [`flush`] writes out.
    pub fn install(&self) {
        let _ = INSTALLED.set(self.clone());
    }
}

/// Write out the process's gathered log lines now: before `std::process::exit`, which skips
/// destructors.
pub fn flush() {
    if let Some(b) = INSTALLED.get() {
        b.0.write_out();
    }
}

impl Write for &Batched {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let shared = &self.0;
        let mut state = lock(&shared.state);
        while state.lines.len() >= shared.limit && !state.gone {
            shared.ready.notify_one();
            state = shared
                .room
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if state.gone {
            drop(state);
            let mut out = lock(&shared.out);
            out.write_all(line)?;
            out.flush()?;
            return Ok(line.len());
        }
        let first = state.lines.is_empty();
        state.lines.extend_from_slice(line);
        drop(state);
        if first {
            shared.ready.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Batched {
    type Writer = &'a Batched;

    fn make_writer(&'a self) -> &'a Batched {
        self
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        lock(&self.shared.state).closing = true;
        self.shared.ready.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        // The thread may have died mid-batch; whatever is left goes out here.
        lock(&self.shared.state).gone = true;
        self.shared.write_out();
    }
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
