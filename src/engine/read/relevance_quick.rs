//! The lean view of an object ([`LeanObject`]) read with the quick cursor (`json_cursor`). It is
//! a fast path only: whatever it is not sure of (an escaped string it would keep, `null` where
//! a value is read, a duplicate, an unexpected type, deep nesting) is [`Halt::Unsure`], and the
//! caller takes the serde reader, which decides as before. Members it does not keep are checked
//! as JSON and skipped.

use super::stop::{Command, FirstWord, Image};
use super::{Container, Fields, JobTemplate, Labels, LeanObject, Meta, Spec, Template, Text};
use super::{first_word_may_run, names_kube, pod_spec_pointer};
use crate::engine::read::json_cursor::{Cursor, Unsure};
use std::borrow::Cow;

/// Why a quick read ended early.
#[derive(Debug, PartialEq, Eq)]
pub enum Halt {
    /// A pod's container may run a component: nothing after it can make the object less
    /// relevant (as the serde reader's stop, `take_stopped`).
    Component,
    /// Not sure: read it with the serde reader.
    Unsure,
}

impl From<Unsure> for Halt {
    fn from(_: Unsure) -> Halt {
        Halt::Unsure
    }
}

type Read<T> = Result<T, Halt>;

/// Far deeper than any pod spec (a CronJob's is four levels down); `spec.template.spec…` could
/// otherwise recurse without end.
const MAX_DEPTH: u8 = 12;

/// The mapping next, member by member: `member` reads the value of each key it knows
/// (`Some(index)` into `seen`, which refuses a repeat), every other value is skipped.
fn members<'j, const N: usize>(
    c: &mut Cursor<'j>,
    know: impl Fn(&str) -> Option<usize>,
    mut member: impl FnMut(&mut Cursor<'j>, usize) -> Read<()>,
) -> Read<()> {
    let mut seen = [false; N];
    let mut key = c.first_key()?.map(&know);
    loop {
        match key {
            None => return Ok(()),
            Some(None) => c.skip()?,
            Some(Some(i)) => {
                if std::mem::replace(seen.get_mut(i).ok_or(Halt::Unsure)?, true) {
                    return Err(Halt::Unsure);
                }
                member(c, i)?
            }
        }
        key = c.next_key()?.map(&know);
    }
}

/// A mapping of which only the member `key` is read (`None`: it has none).
fn only<'j, T>(
    c: &mut Cursor<'j>,
    key: &str,
    read: impl FnOnce(&mut Cursor<'j>) -> Read<T>,
) -> Read<Option<T>> {
    present(c)?;
    let mut read = Some(read);
    let mut value = None;
    members::<1>(
        c,
        |k| (k == key).then_some(0),
        |c, _| {
            let read = read.take().ok_or(Halt::Unsure)?;
            value = Some(read(c)?);
            Ok(())
        },
    )?;
    Ok(value)
}

/// `Option<T>` where `null` is `None`: kept out of the quick path, whose few objects with a
/// `null` member go to the serde reader.
fn present(c: &mut Cursor<'_>) -> Read<()> {
    match c.peek()? {
        b'n' => Err(Halt::Unsure),
        _ => Ok(()),
    }
}

fn text<'j>(c: &mut Cursor<'j>) -> Read<Text<'j>> {
    present(c)?;
    Ok(Some(Cow::Borrowed(c.string()?)))
}

/// Read an object's lean view; `Err(Halt::Component)` where the serde reader stops.
pub fn object<'j>(c: &mut Cursor<'j>) -> Read<LeanObject<'j>> {
    let mut f = Fields::default();
    // A repeat is refused before its value is read (`members`), as the serde reader does: a
    // stop inside it must not hide it.
    members::<4>(c, object_field, |c, i| {
        // A container that may run a component stops the read of a pod spec once the kind,
        // written before it, says it is one.
        let watch = f
            .kind
            .as_deref()
            .is_some_and(|k| pod_spec_pointer(k).is_some());
        match i {
            0 => f.kind = text(c)?,
            1 => f.metadata = Some(meta(c)?),
            2 => f.spec = Some(spec(c, watch, 0)?),
            _ => f.template = Some(Box::new(template(c, watch, 0)?)),
        }
        Ok(())
    })?;
    Ok(LeanObject { fields: f })
}

fn object_field(key: &str) -> Option<usize> {
    ["kind", "metadata", "spec", "template"]
        .iter()
        .position(|k| *k == key)
}

fn meta<'j>(c: &mut Cursor<'j>) -> Read<Meta<'j>> {
    present(c)?;
    let mut m = Meta::default();
    let know = |k: &str| {
        ["name", "namespace", "generateName", "labels"]
            .iter()
            .position(|n| *n == k)
    };
    members::<4>(c, know, |c, i| {
        match i {
            0 => m.name = text(c)?,
            1 => m.namespace = text(c)?,
            2 => m.generate_name = text(c)?,
            _ => {
                m.labels = Some(Labels {
                    component: only(c, "component", text)?.flatten(),
                });
            }
        }
        Ok(())
    })?;
    Ok(m)
}

fn spec<'j>(c: &mut Cursor<'j>, watch: bool, depth: u8) -> Read<Spec<'j>> {
    present(c)?;
    let depth = deeper(depth)?;
    let mut s = Spec::default();
    let know = |k: &str| {
        ["containers", "template", "jobTemplate"]
            .iter()
            .position(|n| *n == k)
    };
    members::<3>(c, know, |c, i| {
        match i {
            0 => s.containers = Some(containers(c, watch)?),
            1 => s.template = Some(Box::new(template(c, watch, depth)?)),
            _ => {
                let spec = only(c, "spec", |c| spec(c, watch, depth))?;
                s.job_template = Some(Box::new(JobTemplate { spec }));
            }
        }
        Ok(())
    })?;
    Ok(s)
}

fn deeper(depth: u8) -> Read<u8> {
    if depth >= MAX_DEPTH {
        return Err(Halt::Unsure);
    }
    Ok(depth + 1)
}

fn template<'j>(c: &mut Cursor<'j>, watch: bool, depth: u8) -> Read<Template<'j>> {
    present(c)?;
    let depth = deeper(depth)?;
    let mut t = Template::default();
    let know = |k: &str| ["metadata", "spec"].iter().position(|n| *n == k);
    members::<2>(c, know, |c, i| {
        match i {
            0 => t.metadata = Some(meta(c)?),
            _ => t.spec = Some(spec(c, watch, depth)?),
        }
        Ok(())
    })?;
    Ok(t)
}

fn containers<'j>(c: &mut Cursor<'j>, watch: bool) -> Read<Vec<Container<'j>>> {
    present(c)?;
    let mut list = Vec::new();
    let mut more = c.first_item()?;
    while more {
        list.push(container(c, watch)?);
        more = c.next_item()?;
    }
    Ok(list)
}

fn container<'j>(c: &mut Cursor<'j>, watch: bool) -> Read<Container<'j>> {
    let mut k = Container::default();
    let know = |key: &str| ["image", "command", "args"].iter().position(|n| *n == key);
    members::<3>(c, know, |c, i| {
        match i {
            0 => {
                present(c)?;
                let image = c.string()?;
                if watch && names_kube(image) {
                    return Err(Halt::Component);
                }
                k.image = Some(Image(Cow::Borrowed(image)));
            }
            1 => k.command = Some(Command(words(c, watch)?)),
            _ => k.args = Some(words(c, false)?),
        }
        Ok(())
    })?;
    Ok(k)
}

/// A list of strings, of which the first is kept; `command`: that first word may stop the read.
fn words<'j>(c: &mut Cursor<'j>, command: bool) -> Read<FirstWord<'j>> {
    present(c)?;
    let mut first = None;
    let mut more = c.first_item()?;
    while more {
        if first.is_none() {
            let word = c.string()?;
            if command && first_word_may_run(word) {
                return Err(Halt::Component);
            }
            first = Some(Cow::Borrowed(word));
        } else if c.peek()? == b'"' {
            // Only the first word is kept; the rest need only be strings.
            c.skip()?;
        } else {
            return Err(Halt::Unsure);
        }
        more = c.next_item()?;
    }
    Ok(FirstWord(first))
}
