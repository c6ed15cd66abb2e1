//! Where a key of the policy file is written, so that errors found after parsing (an unknown
//! rule id, a relative path, a bad glob) name the line as serde's own errors do.

use saphyr_parser::{Event, Parser};

/// How a collection was reached from its parent, and where reading it stands.
struct Frame {
    segment: String,
    kind: Kind,
}

enum Kind {
    /// `None` while the next node is a key.
    Map {
        key: Option<String>,
    },
    Seq {
        index: usize,
    },
}

/// The 1-based line of the key at `path` (mapping keys, sequence items by their index), in the
/// first document that has it; `None` when it is absent or the text does not parse.
pub(super) fn line_of(text: &str, path: &[&str]) -> Option<usize> {
    let mut stack: Vec<Frame> = Vec::new();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.ok()?;
        match event {
            Event::DocumentStart(_) => stack.clear(),
            Event::Scalar(value, ..) => {
                let is_key = matches!(
                    stack.last(),
                    Some(Frame {
                        kind: Kind::Map { key: None },
                        ..
                    })
                );
                if !is_key {
                    node_done(&mut stack);
                } else if is_path(&stack, path, &value) {
                    return Some(span.start.line());
                } else if let Some(Frame {
                    kind: Kind::Map { key },
                    ..
                }) = stack.last_mut()
                {
                    *key = Some(value.into_owned());
                }
            }
            Event::Alias(_) => node_done(&mut stack),
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let segment = match stack.last() {
                    Some(Frame {
                        kind: Kind::Map { key: Some(k) },
                        ..
                    }) => k.clone(),
                    Some(Frame {
                        kind: Kind::Seq { index },
                        ..
                    }) => index.to_string(),
                    _ => String::new(),
                };
                let kind = if matches!(event, Event::MappingStart(..)) {
                    Kind::Map { key: None }
                } else {
                    Kind::Seq { index: 0 }
                };
                stack.push(Frame { segment, kind });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
                node_done(&mut stack);
            }
            _ => {}
        }
    }
    None
}

/// Whether `key`, read in the collection on top of `stack`, is the last segment of `path` and
/// the collections above it were reached through the others.
fn is_path(stack: &[Frame], path: &[&str], key: &str) -> bool {
    stack.len() == path.len()
        && path.last() == Some(&key)
        && stack.iter().skip(1).zip(path).all(|(f, p)| f.segment == *p)
}

/// A node (not a key) was read completely: its parent moves on.
fn node_done(stack: &mut [Frame]) {
    match stack.last_mut() {
        Some(Frame {
            kind: Kind::Map { key },
            ..
        }) => {
            // A value ends its entry; a collection used as a key (rare) leaves its value next.
            *key = if key.is_some() {
                None
            } else {
                Some(String::new())
            };
        }
        Some(Frame {
            kind: Kind::Seq { index },
            ..
        }) => *index += 1,
        None => {}
    }
}
