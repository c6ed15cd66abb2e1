//! Inserting: a new mapping entry or sequence item, written in the document's own layout.

use super::doc::{Candidates, Doc, Place, compact};
use super::render::{FlowStyle, flow_text, key_text};
use super::tree::{Coll, Kind, Node};
use saphyr_parser::ScalarStyle;
use serde_json::{Map, Value};

impl Doc<'_> {
    pub(super) fn add_entry(
        &self,
        place: Place<'_>,
        map: &Node,
        c: &Coll<(Node, Node)>,
        key: &str,
        v: &Value,
    ) -> Result<Candidates, String> {
        let (Some((first, _)), Some((_, last))) = (c.items.first(), c.items.last()) else {
            let mut m = Map::new();
            m.insert(key.to_string(), v.clone());
            return self.replace_node(place, map, &Value::Object(m));
        };
        let src = self.src;
        let eol = self.lay.eol;
        if !c.flow {
            let mut lines = Vec::new();
            self.lay
                .entry_lines(key, v, src.col(first.start()), last.quote(), &mut lines);
            return Ok(self.lines_after(last, &lines));
        }
        let fs = self.flow_style(Some(map));
        let (colon, comma) = fs.separators();
        let k = key_text(key, true, fs.json);
        let t = if self.multiline(map) {
            let pad = src.lead(first.start());
            let value = flow_text(v, &fs, last.quote(), Some((pad, &self.lay.unit)), eol);
            format!(",{eol}{pad}{k}{colon}{value}")
        } else {
            let value = flow_text(v, &fs, last.quote(), None, eol);
            format!("{comma}{k}{colon}{value}")
        };
        Ok(vec![vec![(last.end()..last.end(), t)]])
    }

    /// Block lines added after the line on which `last` ends.
    pub(super) fn lines_after(&self, last: &Node, lines: &[String]) -> Candidates {
        let eol = self.lay.eol;
        let at = self.src.line_end(last.end());
        vec![vec![(at..at, format!("{eol}{}", lines.join(eol)))]]
    }

    pub(super) fn add_item(
        &self,
        place: Place<'_>,
        seq: &Node,
        c: &Coll<Node>,
        i: usize,
        v: &Value,
    ) -> Result<Candidates, String> {
        let (Some(first), Some(last)) = (c.items.first(), c.items.last()) else {
            return self.replace_node(place, seq, &Value::Array(vec![v.clone()]));
        };
        let src = self.src;
        let eol = self.lay.eol;
        let before = c.items.get(i);
        let quote = before.unwrap_or(last).quote();
        if !c.flow {
            let dash_of = |n: &Node| {
                src.dash_before(n.start())
                    .ok_or("no '-' found before a sequence item")
            };
            let Some(next) = before else {
                let mut lines = Vec::new();
                self.lay
                    .item_lines(v, src.col(dash_of(first)?), quote, &mut lines);
                return Ok(self.lines_after(last, &lines));
            };
            let dash = dash_of(next)?;
            let col = src.col(dash);
            let mut lines = Vec::new();
            self.lay.item_lines(v, col, quote, &mut lines);
            let edit = if src.first_on_line(dash) {
                let at = src.comments_above(src.line_start(dash));
                (at..at, format!("{}{eol}", lines.join(eol)))
            } else {
                // `- - a`: the new item takes the dash's place, the old one moves down.
                (
                    dash..dash,
                    format!("{}{eol}{}", compact(&lines, eol), " ".repeat(col)),
                )
            };
            return Ok(vec![vec![edit]]);
        }
        let fs = self.flow_style(Some(seq));
        let multi = self.multiline(seq);
        let edit = match before {
            None if multi => {
                let pad = src.lead(first.start());
                let value = flow_text(v, &fs, quote, Some((pad, &self.lay.unit)), eol);
                let at = last.end();
                (at..at, format!(",{eol}{pad}{value}"))
            }
            None => {
                let (_, comma) = fs.separators();
                let at = last.end();
                (
                    at..at,
                    format!("{comma}{}", flow_text(v, &fs, quote, None, eol)),
                )
            }
            Some(next) if multi && src.first_on_line(next.start()) => {
                let pad = src.lead(next.start());
                let value = flow_text(v, &fs, quote, Some((pad, &self.lay.unit)), eol);
                let at = next.start();
                (at..at, format!("{value},{eol}{pad}"))
            }
            Some(next) => {
                let (_, comma) = fs.separators();
                let at = next.start();
                (
                    at..at,
                    format!("{}{comma}", flow_text(v, &fs, quote, None, eol)),
                )
            }
        };
        Ok(vec![vec![edit]])
    }

    /// JSON inside a JSON document or a flow collection whose keys (or strings) are all
    /// double-quoted; YAML flow style otherwise.
    pub(super) fn flow_style(&self, coll: Option<&Node>) -> FlowStyle {
        let Some(coll) = coll else {
            return FlowStyle::default_for(self.lay.json);
        };
        let src = self.src;
        let (json, tight) = match &coll.kind {
            Kind::Map(c) => (
                !c.items.is_empty() && c.items.iter().all(|(k, _)| k.is_double()),
                c.items.first().is_some_and(|(k, _)| {
                    src.colon_after(k.end()).is_some_and(|p| {
                        !matches!(src.byte(p + 1), Some(b' ' | b'\t' | b'\r' | b'\n'))
                    })
                }),
            ),
            Kind::Seq(c) => {
                let strings: Vec<&Node> = c
                    .items
                    .iter()
                    .filter(|i| matches!(&i.kind, Kind::Scalar(s) if s.style != ScalarStyle::Plain))
                    .collect();
                let tight = c.items.first().is_some_and(|f| {
                    let p = src.skip_blank(f.end());
                    src.byte(p) == Some(b',')
                        && c.items.len() > 1
                        && src.byte(p + 1) != Some(b' ')
                        && !matches!(src.byte(p + 1), Some(b'\r' | b'\n'))
                });
                (
                    !strings.is_empty() && strings.iter().all(|i| i.is_double()),
                    tight,
                )
            }
            _ => (false, false),
        };
        FlowStyle {
            json: json || self.lay.json,
            tight,
        }
    }

    /// A flow collection written one entry per line (its closing bracket on a line of its own).
    pub(super) fn multiline(&self, coll: &Node) -> bool {
        let (first, last) = match &coll.kind {
            Kind::Map(c) => (
                c.items.first().map(|(k, _)| k),
                c.items.last().map(|(_, v)| v),
            ),
            Kind::Seq(c) => (c.items.first(), c.items.last()),
            _ => (None, None),
        };
        match (first, last) {
            (Some(f), Some(l)) => {
                self.src.first_on_line(f.start())
                    && !self.src.same_line(l.end(), coll.end().saturating_sub(1))
            }
            _ => false,
        }
    }
}
