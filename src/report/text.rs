//! The table for people: one block per file, one line per verdict and its message; `skip`
//! rows are counted, not shown.

use super::{Record, Tally};
use crate::engine::rules::{RuleId, Status};
use std::io::{self, Write};

pub(super) fn write(
    records: &mut dyn Iterator<Item = Record>,
    tally: &mut Tally,
    colour: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    // The widest rule id, known before any row: the column lines up without holding rows back.
    let width = RuleId::ALL
        .iter()
        .map(|r| r.as_str().len())
        .max()
        .unwrap_or(4);
    let mut source: Option<String> = None;
    for r in records {
        tally.add(r.status);
        if r.status == Status::Skip {
            continue;
        }
        if source.as_deref() != Some(r.source.as_str()) {
            writeln!(out, "{}", r.source)?;
            source = Some(r.source.clone());
        }
        let word = paint(r.status, colour);
        // A rule-less record (an unreadable or unparsable input) has no rule or object to name:
        // its reason goes on the status line itself.
        let Some(rule) = r.rule.map(RuleId::as_str) else {
            if r.object.is_empty() || r.object == "-" {
                writeln!(out, "  {word} {}", r.message)?;
            } else {
                writeln!(out, "  {word} {}: {}", r.object, r.message)?;
            }
            continue;
        };
        if r.location.is_empty() {
            writeln!(out, "  {word} {rule:<width$}  {}", r.object)?;
        } else {
            writeln!(
                out,
                "  {word} {rule:<width$}  {} [{}]",
                r.object, r.location
            )?;
        }
        writeln!(out, "        {}", r.message)?;
    }
    writeln!(
        out,
        "{} pass, {} fail, {} warn, {} skip, {} error",
        tally.pass, tally.fail, tally.warn, tally.skip, tally.error
    )
}

/// The status word, padded to five columns, in colour on a terminal.
fn paint(s: Status, colour: bool) -> String {
    let word = s.as_str().to_uppercase();
    if !colour {
        return format!("{word:<5}");
    }
    let code = match s {
        Status::Pass => "32",
        Status::Warn => "33",
        Status::Fail | Status::Error => "31",
        Status::Skip => "2",
    };
    format!("\x1b[{code}m{word:<5}\x1b[0m")
}
