//! The JSON log line, written straight into the line buffer.
//!
//! tracing-subscriber's JSON format goes through serde for every field: a `%value` is formatted
//! into a new `String`, then serialised again with its escapes, and the line's map is a serde
//! map. The webhook writes one twelve-field line per admission decision; that cost about 7 % of
//! a request's CPU under load. This writes the same line — the same members, order, escapes and
//! number forms as `fmt().json().flatten_event(true)` without spans, which the tests compare
//! byte for byte — escaping each field as it is formatted. Records forwarded from the `log`
//! crate are rare and have their metadata rewritten by tracing-subscriber; they are handed to
//! its own JSON format.

use crate::bytes;
use std::fmt::{self, Write as _};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{Format, Json, Writer};
use tracing_subscriber::fmt::time::SystemTime;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

pub struct JsonLine {
    /// For records from the `log` crate.
    standard: Format<Json, SystemTime>,
}

impl JsonLine {
    pub fn new() -> JsonLine {
        JsonLine {
            standard: tracing_subscriber::fmt::format()
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false),
        }
    }
}

impl<S, N> FormatEvent<S, N> for JsonLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        if meta.fields().field("log.target").is_some() {
            return self.standard.format_event(ctx, w, event);
        }
        // The line is made in this thread's own buffer and handed over in one write: each
        // piece written to `w` went through a `dyn fmt::Write` call, some seventy a line. A
        // line logged while one is being made (a field's `Debug` that logs), or while the
        // thread's buffers are dropped, is made in a buffer of its own.
        let kept = LINE.try_with(|cell| {
            let Ok(mut line) = cell.try_borrow_mut() else {
                return line_into(&mut String::new(), &mut w, event);
            };
            let written = line_into(&mut line, &mut w, event);
            if line.capacity() > LINE_KEPT {
                *line = String::new();
            }
            written
        });
        kept.unwrap_or_else(|_| line_into(&mut String::new(), &mut w, event))
    }
}

/// Make `event`'s line in `line` and write it to `w`.
fn line_into(line: &mut String, w: &mut Writer<'_>, event: &Event<'_>) -> fmt::Result {
    let meta = event.metadata();
    line.clear();
    line.push_str("{\"timestamp\":\"");
    super::stamp::write_now(&mut Writer::new(&mut *line))?;
    line.push_str("\",\"level\":\"");
    line.push_str(meta.level().as_str());
    line.push('"');
    let mut fields = Fields {
        line: &mut *line,
        result: Ok(()),
    };
    event.record(&mut fields);
    fields.result?;
    line.push_str(",\"target\":");
    string(line, meta.target());
    line.push_str("}\n");
    w.write_str(line)
}

thread_local! {
    /// Where [`JsonLine`] makes a line.
    static LINE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// A line buffer grown beyond this by a long line is not kept for the next one.
const LINE_KEPT: usize = 16 * 1024;

/// Writes each field as `,"name":value`.
struct Fields<'a> {
    line: &'a mut String,
    result: fmt::Result,
}

impl Fields<'_> {
    fn entry(&mut self, field: &Field, value: impl FnOnce(&mut String) -> fmt::Result) {
        if self.result.is_ok() {
            self.line.push_str(",\"");
            escaped(self.line, field.name());
            self.line.push_str("\":");
            self.result = value(self.line);
        }
    }
}

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.entry(field, |line| {
            line.push('"');
            write!(Escaped(&mut *line), "{value:?}")?;
            line.push('"');
            Ok(())
        });
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.entry(field, |line| {
            string(line, value);
            Ok(())
        });
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.entry(field, |line| {
            line.push_str(if value { "true" } else { "false" });
            Ok(())
        });
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.entry(field, |line| {
            line.push_str(itoa::Buffer::new().format(value));
            Ok(())
        });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.entry(field, |line| {
            line.push_str(itoa::Buffer::new().format(value));
            Ok(())
        });
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // serde_json's own form (`0.0`, `1e300`, `null` for NaN): rare enough to allocate.
        self.entry(field, |line| {
            line.push_str(&serde_json::to_string(&value).map_err(|_| fmt::Error)?);
            Ok(())
        });
    }
}

fn string(line: &mut String, s: &str) {
    line.push('"');
    escaped(line, s);
    line.push('"');
}

/// `s` with its contents escaped as serde_json escapes a string's.
fn escaped(line: &mut String, s: &str) {
    // Most fields need no escape: checked several bytes at a time (the JSON cursor's scan),
    // the byte-at-a-time loop below cost a twelfth of a decision's line.
    if bytes::plain_run(s.as_bytes()) == s.len() {
        line.push_str(s);
        return;
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut plain = 0;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        // Every byte matched is ASCII, so these are character boundaries.
        line.push_str(s.get(plain..i).unwrap_or_default());
        if escape.is_empty() {
            line.push_str("\\u00");
            line.push(char::from(HEX[usize::from(b >> 4)]));
            line.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            line.push_str(escape);
        }
        plain = i + 1;
    }
    line.push_str(s.get(plain..).unwrap_or_default());
}

/// Escapes what is formatted through it (a `Debug` field), as [`escaped`].
struct Escaped<'a>(&'a mut String);

impl fmt::Write for Escaped<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        escaped(self.0, s);
        Ok(())
    }
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
