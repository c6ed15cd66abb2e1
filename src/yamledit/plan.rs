//! Planning edits: turning a pointer operation into candidate text edits (replacing in place;
//! new keys and items are in `insert`).

use super::Edit;
use super::doc::{
    BlockKind, BlockSlot, Candidates, Doc, Place, Slot, check_open, child, compact, index, tokens,
};
use super::render::{double, flow_text, literal, scalar_text};
use super::tree::{Kind, Node, Quote, Scalar};
use json_patch::PatchOperation;
use saphyr_parser::ScalarStyle;
use serde_json::Value;
use std::ops::Range;

impl Doc<'_> {
    /// Candidate edits for one operation, best first.
    pub(super) fn plan(&self, op: &PatchOperation) -> Result<Candidates, String> {
        match op {
            PatchOperation::Add(o) => self.add(&tokens(&o.path), &o.value),
            PatchOperation::Replace(o) => self.replace_at(&tokens(&o.path), &o.value),
            PatchOperation::Test(_) => Ok(vec![Vec::new()]),
            _ => Err("only add, replace and test operations can be edited in place".into()),
        }
    }

    pub(super) fn add(&self, toks: &[String], v: &Value) -> Result<Candidates, String> {
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

    pub(super) fn replace_at(&self, toks: &[String], v: &Value) -> Result<Candidates, String> {
        let Some((last, parents)) = toks.split_last() else {
            return self.replace_node(Place::Root, &self.root, v);
        };
        let (_, parent) = self.find(parents)?;
        let (place, node) = child(parent, last)?.ok_or("the path does not exist")?;
        self.replace_node(place, node, v)
    }

    pub(super) fn replace_node(
        &self,
        place: Place<'_>,
        node: &Node,
        v: &Value,
    ) -> Result<Candidates, String> {
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

    pub(super) fn flow_replace(&self, parent: Option<&Node>, node: &Node, v: &Value) -> Vec<Edit> {
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

    pub(super) fn block_replace(&self, b: &BlockSlot, node: &Node, v: &Value) -> Candidates {
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
    pub(super) fn block_full(&self, b: &BlockSlot, node: &Node, v: &Value) -> Vec<Edit> {
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
    pub(super) fn over(&self, span: Range<usize>, t: &str) -> Edit {
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
    pub(super) fn put_inline(&self, b: &BlockSlot, node: &Node, t: String) -> Vec<Edit> {
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
    pub(super) fn put_after(&self, b: &BlockSlot, node: &Node, t: &str) -> Vec<Edit> {
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

    pub(super) fn put_literal(&self, b: &BlockSlot, node: &Node, t: String) -> Vec<Edit> {
        if node.is_empty_scalar() {
            vec![self.over(b.after..b.after, &format!(" {t}"))]
        } else if self.src.same_line(b.after, node.start()) {
            vec![self.over(node.span.clone(), &t)]
        } else {
            vec![(b.after..self.src.line_end(node.end()), format!(" {t}"))]
        }
    }

    /// Put a non-empty collection in block style in place of the node.
    pub(super) fn put_block(&self, b: &BlockSlot, node: &Node, v: &Value) -> Vec<Edit> {
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
}
