//! A parsed document and the way to a node in it: the shared ground of planning and inserting.

use super::Edit;
use super::render::Layout;
use super::source::Src;
use super::tree::{Kind, Node, read_root};

/// Where a node sits.
#[derive(Clone, Copy)]
pub(super) enum Place<'n> {
    Root,
    Entry { map: &'n Node, key: &'n Node },
    Item { seq: &'n Node, item: &'n Node },
}

/// How a node is written in its parent.
pub(super) enum Slot<'n> {
    /// Inside a flow collection (`None`: the document root of a JSON document).
    Flow(Option<&'n Node>),
    Block(BlockSlot),
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum BlockKind {
    Root,
    Value,
    Item,
}

pub(super) struct BlockSlot {
    pub(super) kind: BlockKind,
    /// Just after the `:` or `-` (or the start of the document).
    pub(super) after: usize,
    /// Column of the key or of the dash.
    pub(super) col: usize,
}

pub(super) struct Doc<'a> {
    pub(super) src: Src<'a>,
    pub(super) root: Node,
    pub(super) root_slot: usize,
    pub(super) lay: Layout,
}

pub(super) type Candidates = Vec<Vec<Edit>>;

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

    /// The node at `toks` and where it sits.
    pub(super) fn find(&self, toks: &[String]) -> Result<(Place<'_>, &Node), String> {
        let mut at = (Place::Root, &self.root);
        for t in toks {
            at = child(at.1, t)?.ok_or("the path does not exist")?;
        }
        Ok(at)
    }

    pub(super) fn slot<'n>(&self, place: Place<'n>) -> Result<Slot<'n>, String> {
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
}

pub(super) fn tokens(p: &json_patch::jsonptr::Pointer) -> Vec<String> {
    p.tokens().map(|t| t.decoded().into_owned()).collect()
}

/// An RFC 6901 array index (no leading zeros).
pub(super) fn index(tok: &str) -> Option<usize> {
    let digits = !tok.is_empty() && tok.bytes().all(|c| c.is_ascii_digit());
    if !digits || (tok.len() > 1 && tok.starts_with('0')) {
        return None;
    }
    tok.parse().ok()
}

/// Refuse to edit through anchors, aliases, tags and merge keys: the text would not say
/// what the document means.
pub(super) fn check_open(node: &Node) -> Result<(), String> {
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
pub(super) fn child<'n>(
    node: &'n Node,
    tok: &str,
) -> Result<Option<(Place<'n>, &'n Node)>, String> {
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

pub(super) fn compact(lines: &[String], eol: &str) -> String {
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
