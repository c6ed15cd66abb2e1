//! `check` output formats: a table for people, JSON (the contract of DESIGN.md section 6),
//! JUnit for CI test reports, SARIF for code-scanning dashboards.
//!
//! Every format is written as the records arrive and keeps only what the format itself needs
//! (JUnit: the current file's test cases, its totals spooled to a temporary file), so memory does
//! not grow with the number of files checked.

use crate::engine::rules::Status;
use serde::Serialize;
use std::io::{self, Write};

mod json;
mod junit;
mod record;
mod sarif;
#[cfg(test)]
mod tests;
mod text;

pub use record::{Record, exit_code};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Junit,
    Sarif,
}

/// How many records had each status: the report's summary and the exit code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub pass: usize,
    pub fail: usize,
    pub warn: usize,
    pub skip: usize,
    pub error: usize,
}

impl Tally {
    pub fn add(&mut self, status: Status) {
        let n = match status {
            Status::Pass => &mut self.pass,
            Status::Fail => &mut self.fail,
            Status::Warn => &mut self.warn,
            Status::Skip => &mut self.skip,
            Status::Error => &mut self.error,
        };
        *n += 1;
    }

    pub fn of(records: &[Record]) -> Tally {
        let mut t = Tally::default();
        for r in records {
            t.add(r.status);
        }
        t
    }

    pub fn total(&self) -> usize {
        self.pass + self.fail + self.warn + self.skip + self.error
    }

    /// Exit code of `check`: 2 if anything could not be read, else 1 if anything failed.
    pub fn exit_code(&self) -> u8 {
        if self.error > 0 {
            2
        } else if self.fail > 0 {
            1
        } else {
            0
        }
    }
}

/// Write the report of `records` in `format`, each record as it arrives; returns the tally.
pub fn write(
    format: Format,
    records: impl IntoIterator<Item = Record>,
    colour: bool,
    out: &mut dyn Write,
) -> io::Result<Tally> {
    let mut tally = Tally::default();
    let mut records = records.into_iter();
    match format {
        Format::Text => text::write(&mut records, &mut tally, colour, out)?,
        Format::Json => json::write(&mut records, &mut tally, out)?,
        Format::Junit => junit::write(&mut records, &mut tally, out)?,
        Format::Sarif => sarif::write(&mut records, &mut tally, out)?,
    }
    Ok(tally)
}

/// Write the report of records already collected (`check --node`, `--root`).
pub fn render(
    format: Format,
    records: &[Record],
    colour: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    write(format, records.iter().cloned(), colour, out).map(|_| ())
}

/// The `summary` object of the JSON report.
pub fn summary(records: &[Record]) -> serde_json::Value {
    serde_json::to_value(Tally::of(records)).unwrap_or_default()
}
