//! `check --format json`: one object (DESIGN.md section 6), `{"results": [...], "summary": {...}}`.
//! The results are serialized as they arrive and the summary, known only at the end, comes
//! last (JSON object keys have no order).

use super::{Record, Tally};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use std::cell::RefCell;
use std::io::{self, Write};

type State<'a> = RefCell<(&'a mut (dyn Iterator<Item = Record> + 'a), &'a mut Tally)>;

pub(super) fn write<'a>(
    records: &'a mut (dyn Iterator<Item = Record> + 'a),
    tally: &'a mut Tally,
    out: &mut dyn Write,
) -> io::Result<()> {
    let state = RefCell::new((records, tally));
    serde_json::to_writer_pretty(&mut *out, &Report(&state))?;
    writeln!(out)
}

struct Report<'s, 'a>(&'s State<'a>);

impl Serialize for Report<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("results", &Results(self.0))?;
        let summary = *self.0.borrow().1;
        map.serialize_entry("summary", &summary)?;
        map.end()
    }
}

/// The records, consumed while they are written.
struct Results<'s, 'a>(&'s State<'a>);

impl Serialize for Results<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut state = self.0.borrow_mut();
        let (records, tally) = &mut *state;
        let mut seq = s.serialize_seq(None)?;
        for r in records {
            tally.add(r.status);
            seq.serialize_element(&r)?;
        }
        seq.end()
    }
}
