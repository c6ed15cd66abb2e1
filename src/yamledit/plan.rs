//! Planning edits: turning a pointer operation into candidate text edits.

use super::Edit;
use super::render::{FlowStyle, Layout, Quote, double, flow_text, key_text, literal, scalar_text};
use super::source::Src;
use super::tree::{Coll, Kind, Node, Scalar, read_root};
use json_patch::PatchOperation;
use saphyr_parser::ScalarStyle;
use serde_json::{Map, Value};
use std::ops::Range;

/// Where a node sits.
#[derive(Clone, Copy)]
enum Place<'n> {
    Root,
    Entry { map: &'n Node, key: &'n Node },
    Item { seq: &'n Node, item: &'n Node },
}

/// How a node is written in its parent.
enum Slot<'n> {
    /// Inside a flow collection (`None`: the document root of a JSON document).
    Flow(Option<&'n Node>),
    Block(BlockSlot),
}

#[derive(Clone, Copy, PartialEq)]
enum BlockKind {
    Root,
    Value,
    Item,
}

struct BlockSlot {
    kind: BlockKind,
    /// Just after the `:` or `-` (or the start of the document).
    after: usize,
    /// Column of the key or of the dash.
    col: usize,
}

pub(super) struct Doc<'a> {
    pub(super) src: Src<'a>,
    root: Node,
    root_slot: usize,
    pub(super) lay: Layout,
}

type Candidates = Vec<Vec<Edit>>;

impl<'a> Doc<'a> {
    pub(super) fn parse(text: &'a str, doc: usize) -> Result<Doc<'a>, String> {
        let src = Src(text);
        let (root_slot, root) = read_root(src, doc)?;
        let lay = Layout::read(src, &root);
        Ok(Doc {
            src,
            root,
            root_slot,
            lay,
        })
    }

    /// Candidate edits for one operation, best first.
    pub(super) fn plan(&self, op: &PatchOperation) -> Result<Candidates, String> {
        match op {
            PatchOperation::Add(o) => self.add(&tokens(&o.path), &o.value),
            PatchOperation::Replace(o) => self.replace_at(&tokens(&o.path), &o.value),
            PatchOperation::Test(_) => Ok(vec![Vec::new()]),
            _ => Err("only add, replace and test operations can be edited in place".into()),
        }
    }

    fn add(&self, toks: &[String], v: &Value) -> Result<Candidates, String> {
        let Some((last, parents)) = toks.split_last() else {
            return self.replace_node(Place::Root, &self.root, v);
        };
        let (place, parent) = self.find(parents)?;
        check_open(parent)?;
        match &parent.kind {
            Kind::Map(c) => match c.items.iter().find(|(k, _)| k.is_key(last)) {
                Some((key, node)) => self.replace_node(Place::Entry { map: parent, key }, node, v),
                None => self.add_entry(place, parent, c, last, v),
            },
            Kind::Seq(c) => {
                let i = if last == "-" {
                    c.items.len()
                } else {
                    index(last).ok_or_else(|| format!("{last:?} is not an array index"))?
                };
                if i > c.items.len() {
                    return Err(format!("index {i} is past the end of the sequence"));
                }
                self.add_item(place, parent, c, i, v)
            }
            _ => Err("the parent is not a mapping or a sequence".into()),
        }
    }

    fn replace_at(&self, toks: &[String], v: &Value) -> Result<Candidates, String> {
        let Some((last, parents)) = toks.split_last() else {
            return self.replace_node(Place::Root, &self.root, v);
        };
        let (_, parent) = self.find(parents)?;
        let (place, node) = child(parent, last)?.ok_or("the path does not exist")?;
        self.replace_node(place, node, v)
    }

    /// The node at `toks` and where it sits.
    fn find(&self, toks: &[String]) -> Result<(Place<'_>, &Node), String> {
        let mut at = (Place::Root, &self.root);
        for t in toks {
            at = child(at.1, t)?.ok_or("the path does not exist")?;
        }
        Ok(at)
    }

    fn slot<'n>(&self, place: Place<'n>) -> Result<Slot<'n>, String> {
        let src = self.src;
        Ok(match place {
            Place::Root if self.lay.json => Slot::Flow(None),
            Place::Root => Slot::Block(BlockSlot {
                kind: BlockKind::Root,
                after: self.root_slot,
                col: 0,
            }),
            Place::Entry { map, .. } if map.is_flow() => Slot::Flow(Some(map)),
            Place::Entry { key, .. } => {
                let colon = src
                    .colon_after(key.end())
                    .ok_or("no ':' found after the key")?;
                Slot::Block(BlockSlot {
                    kind: BlockKind::Value,
                    after: colon + 1,
                    col: src.col(key.start()),
                })
            }
            Place::Item { seq, .. } if seq.is_flow() => Slot::Flow(Some(seq)),
            Place::Item { item, .. } => {
                let dash = src
                    .dash_before(item.start())
                    .ok_or("no '-' found before the sequence item")?;
                Slot::Block(BlockSlot {
                    kind: BlockKind::Item,
                    after: dash + 1,
                    col: src.col(dash),
                })
            }
        })
    }

    fn replace_node(&self, place: Place<'_>, node: &Node, v: &Value) -> Result<Candidates, String> {
        if node.deep {
            return Err("the node (or something in it) has an anchor, alias or tag".into());
        }
        if let Kind::Scalar(s) = &node.kind
            && matches!(s.style, ScalarStyle::Literal | ScalarStyle::Folded)
            && s.block.is_none()
        {
            return Err("the block scalar's header could not be located".into());
        }
        Ok(match self.slot(place)? {
            Slot::Flow(parent) => vec![self.flow_replace(parent, node, v)],
            Slot::Block(b) => self.block_replace(&b, node, v),
        })
    }

    fn flow_replace(&self, parent: Option<&Node>, node: &Node, v: &Value) -> Vec<Edit> {
        let fs = self.flow_style(parent);
        let text = match (&node.kind, v) {
            (_, Value::Object(_) | Value::Array(_)) => {
                let pretty = match parent {
                    Some(p) => self.multiline(p),
                    None => !self.src.same_line(node.start(), node.end()),
                };
                let pretty = pretty.then(|| (self.src.lead(node.start()), self.lay.unit.as_str()));
                flow_text(v, &fs, Quote::Plain, pretty, self.lay.eol)
            }
            _ => scalar_text(v, node.quote(), true, fs.json),
        };
        vec![(node.span.clone(), text)]
    }

    fn block_replace(&self, b: &BlockSlot, node: &Node, v: &Value) -> Candidates {
        let mut out = Vec::new();
        if let (Kind::Scalar(s), Value::String(new)) = (&node.kind, v)
            && let Some(e) = self.minimal_scalar(node, s, new)
        {
            out.push(e);
        }
        out.push(self.block_full(b, node, v));
        if let Value::String(s) = v
            && s.contains('\n')
        {
            out.push(self.put_inline(b, node, double(s)));
        }
        out
    }

    /// Rewrite the whole node.
    fn block_full(&self, b: &BlockSlot, node: &Node, v: &Value) -> Vec<Edit> {
        let filled = match v {
            Value::Object(m) => !m.is_empty(),
            Value::Array(a) => !a.is_empty(),
            _ => false,
        };
        if filled && node.is_filled_flow() {
            let fs = self.flow_style(Some(node));
            return self.put_inline(b, node, flow_text(v, &fs, Quote::Plain, None, self.lay.eol));
        }
        if filled {
            return self.put_block(b, node, v);
        }
        if let Value::String(s) = v
            && s.contains('\n')
        {
            let indent = match &node.kind {
                Kind::Scalar(Scalar {
                    block: Some(blk), ..
                }) if blk.indent > 0 => blk.indent,
                _ if b.kind == BlockKind::Item => b.col + 2,
                _ => b.col + self.lay.step,
            };
            if let Some(t) = literal(s, indent, self.lay.eol) {
                return self.put_literal(b, node, t);
            }
        }
        self.put_inline(b, node, scalar_text(v, node.quote(), false, false))
    }

    /// Replace `span` by `t`. Text after the span on its line (a comment) stays on the
    /// first line of `t`: after the last line it could become part of a block scalar.
    fn over(&self, span: Range<usize>, t: &str) -> Edit {
        let eol = self.lay.eol;
        let le = self.src.line_end(span.end);
        let tail = self.src.slice(span.end..le);
        match t.split_once(eol) {
            Some((first, rest)) if !tail.trim().is_empty() => {
                (span.start..le, format!("{first}{tail}{eol}{rest}"))
            }
            _ => (span, t.to_string()),
        }
    }

    /// Put one-line text where the node is (after its indicator if it is elsewhere).
    fn put_inline(&self, b: &BlockSlot, node: &Node, t: String) -> Vec<Edit> {
        let src = self.src;
        if node.is_empty_scalar() {
            vec![(b.after..b.after, format!(" {t}"))]
        } else if src.same_line(b.after, node.start()) {
            vec![self.over(node.span.clone(), &t)]
        } else {
            self.put_after(b, node, &t)
        }
    }

    /// Put text after the indicator in place of a node that starts on a later line.
    fn put_after(&self, b: &BlockSlot, node: &Node, t: &str) -> Vec<Edit> {
        let src = self.src;
        // Keep a comment after the indicator: the new value goes before it. A comment
        // after the old value goes with it.
        vec![
            (b.after..b.after, format!(" {t}")),
            (
                src.line_end(b.after)..src.line_end(node.end()),
                String::new(),
            ),
        ]
    }

    fn put_literal(&self, b: &BlockSlot, node: &Node, t: String) -> Vec<Edit> {
        if node.is_empty_scalar() {
            vec![self.over(b.after..b.after, &format!(" {t}"))]
        } else if self.src.same_line(b.after, node.start()) {
            vec![self.over(node.span.clone(), &t)]
        } else {
            vec![(b.after..self.src.line_end(node.end()), format!(" {t}"))]
        }
    }

    /// Put a non-empty collection in block style in place of the node.
    fn put_block(&self, b: &BlockSlot, node: &Node, v: &Value) -> Vec<Edit> {
        let src = self.src;
        let eol = self.lay.eol;
        let same = !node.is_empty_scalar() && src.same_line(b.after, node.start());
        match b.kind {
            BlockKind::Value => {
                let lines =
                    self.lay
                        .block_lines(v, b.col + self.lay.step, b.col + self.lay.seq_offset);
                let body = format!("{eol}{}", lines.join(eol));
                if same || node.is_empty_scalar() {
                    let le = src.line_end(node.end());
                    vec![(b.after..node.end(), String::new()), (le..le, body)]
                } else {
                    vec![(src.line_end(b.after)..src.line_end(node.end()), body)]
                }
            }
            BlockKind::Item => {
                let col = if same {
                    src.col(node.start())
                } else {
                    b.col + 2
                };
                let t = compact(&self.lay.block_lines(v, col, col), eol);
                if node.is_empty_scalar() {
                    vec![self.over(b.after..b.after, &format!(" {t}"))]
                } else if same {
                    vec![self.over(node.span.clone(), &t)]
                } else {
                    self.put_after(b, node, &t)
                }
            }
            BlockKind::Root => {
                let t = self.lay.block_lines(v, 0, 0).join(eol);
                if node.is_empty_scalar() {
                    let le = src.line_end(b.after);
                    vec![(le..le, format!("{eol}{t}"))]
                } else {
                    vec![self.over(node.span.clone(), &t)]
                }
            }
        }
    }

    fn add_entry(
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
    fn lines_after(&self, last: &Node, lines: &[String]) -> Candidates {
        let eol = self.lay.eol;
        let at = self.src.line_end(last.end());
        vec![vec![(at..at, format!("{eol}{}", lines.join(eol)))]]
    }

    fn add_item(
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
    fn flow_style(&self, coll: Option<&Node>) -> FlowStyle {
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
    fn multiline(&self, coll: &Node) -> bool {
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

/// `compact` form of block lines: the first line without its indentation (after `- `).
fn compact(lines: &[String], eol: &str) -> String {
    let mut it = lines.iter();
    let mut out = it
        .next()
        .map(|f| f.trim_start_matches(' ').to_string())
        .unwrap_or_default();
    for l in it {
        out.push_str(eol);
        out.push_str(l);
    }
    out
}

fn tokens(p: &json_patch::jsonptr::Pointer) -> Vec<String> {
    p.tokens().map(|t| t.decoded().into_owned()).collect()
}

/// An RFC 6901 array index (no leading zeros).
fn index(tok: &str) -> Option<usize> {
    let digits = !tok.is_empty() && tok.bytes().all(|c| c.is_ascii_digit());
    if !digits || (tok.len() > 1 && tok.starts_with('0')) {
        return None;
    }
    tok.parse().ok()
}

/// Refuse to edit through anchors, aliases, tags and merge keys: the text would not say
/// what the document means.
fn check_open(node: &Node) -> Result<(), String> {
    if node.props || matches!(node.kind, Kind::Alias) {
        return Err("the path goes through an anchor, alias or tag".into());
    }
    if let Kind::Map(c) = &node.kind
        && c.items.iter().any(|(k, _)| k.is_key("<<"))
    {
        return Err("the path goes through a mapping with a merge key (<<)".into());
    }
    Ok(())
}

/// The child of `node` named by `tok`, and where it sits.
fn child<'n>(node: &'n Node, tok: &str) -> Result<Option<(Place<'n>, &'n Node)>, String> {
    check_open(node)?;
    match &node.kind {
        Kind::Map(c) => Ok(c
            .items
            .iter()
            .find(|(k, _)| k.is_key(tok))
            .map(|(key, v)| (Place::Entry { map: node, key }, v))),
        Kind::Seq(c) => Ok(index(tok)
            .and_then(|i| c.items.get(i))
            .map(|item| (Place::Item { seq: node, item }, item))),
        _ => Err("the path goes through a scalar".into()),
    }
}
