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

use crate::engine::read::bytes;
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
        w.write_str("{\"timestamp\":\"")?;
        super::stamp::write_now(&mut w)?;
        w.write_str("\",\"level\":\"")?;
        w.write_str(meta.level().as_str())?;
        w.write_str("\"")?;
        let mut fields = Fields {
            w: &mut w,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        w.write_str(",\"target\":")?;
        string(&mut w, meta.target())?;
        w.write_str("}\n")
    }
}

/// Writes each field as `,"name":value`.
struct Fields<'a, 'w> {
    w: &'a mut Writer<'w>,
    result: fmt::Result,
}

impl Fields<'_, '_> {
    fn entry(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        if self.result.is_ok() {
            self.result = (|| {
                // Whole pieces rather than characters: a dozen fields per line.
                self.w.write_str(",\"")?;
                Escaped(&mut *self.w).write_str(field.name())?;
                self.w.write_str("\":")?;
                value(self.w)
            })();
        }
    }
}

impl Visit for Fields<'_, '_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.entry(field, |w| {
            w.write_str("\"")?;
            write!(Escaped(&mut *w), "{value:?}")?;
            w.write_str("\"")
        });
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.entry(field, |w| string(w, value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.entry(field, |w| w.write_str(if value { "true" } else { "false" }));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.entry(field, |w| write!(w, "{value}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.entry(field, |w| write!(w, "{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // serde_json's own form (`0.0`, `1e300`, `null` for NaN): rare enough to allocate.
        self.entry(field, |w| {
            w.write_str(&serde_json::to_string(&value).map_err(|_| fmt::Error)?)
        });
    }
}

fn string(w: &mut Writer<'_>, s: &str) -> fmt::Result {
    w.write_str("\"")?;
    Escaped(&mut *w).write_str(s)?;
    w.write_str("\"")
}

/// Escapes what passes through as serde_json escapes a string's contents.
struct Escaped<'a, W: fmt::Write>(&'a mut W);

impl<W: fmt::Write> fmt::Write for Escaped<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        // Most fields need no escape: checked eight bytes at a time (the JSON cursor's scan),
        // the byte-at-a-time loop below cost a twelfth of a decision's line.
        if bytes::plain_run(s.as_bytes()) == s.len() {
            return self.0.write_str(s);
        }
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
            self.0.write_str(s.get(plain..i).ok_or(fmt::Error)?)?;
            if escape.is_empty() {
                self.0.write_str("\\u00")?;
                self.0.write_char(char::from(HEX[usize::from(b >> 4)]))?;
                self.0.write_char(char::from(HEX[usize::from(b & 0xf)]))?;
            } else {
                self.0.write_str(escape)?;
            }
            plain = i + 1;
        }
        self.0.write_str(s.get(plain..).ok_or(fmt::Error)?)
    }
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
