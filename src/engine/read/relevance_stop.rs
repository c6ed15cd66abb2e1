//! Stopping the lean read of a pod spec at the first container that surely may run a component
//! (its image or its command's first word names one): nothing after it can make the object less
//! relevant, and the webhook's pod pass reads the whole body again anyway. On a kube-apiserver
//! mirror pod that skips most of the first pass (the flags, probes, volumes and status).
//!
//! serde's derived readers carry no state down to a container, so the watch is a thread-local
//! set around the read of a pod's spec (`watching`), and a stop is an error the caller tells
//! from a real one with [`take_stopped`]. A list's first word is all relevance reads of it; the
//! rest is still checked to be strings, so a malformed list fails as it did when kept whole.

use super::first_word_may_run;
use crate::engine::read::component::names_kube;
use serde::de::{Error, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;
use std::cell::Cell;

#[derive(Clone, Copy, Default)]
struct Watch {
    /// A pod spec is being read: a container that may run a component stops the read.
    on: bool,
    /// The read stopped for that reason.
    stopped: bool,
}

thread_local! {
    static WATCH: Cell<Watch> = const { Cell::new(Watch { on: false, stopped: false }) };
}

/// Run `read` with the watch `on` (or as it was), then restore it.
pub(super) fn watching<T, E>(on: bool, read: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    let before = WATCH.get();
    WATCH.set(Watch {
        on: on || before.on,
        ..before
    });
    let out = read();
    WATCH.set(Watch {
        on: before.on,
        ..WATCH.get()
    });
    out
}

/// Did the last lean read fail because it stopped at a container that may run a component?
/// Clears the mark.
pub fn take_stopped() -> bool {
    let w = WATCH.get();
    WATCH.set(Watch {
        stopped: false,
        ..w
    });
    w.stopped
}

/// When watching, stop: the error the read returns.
fn stop_if<E: Error>(may_run: bool) -> Result<(), E> {
    let w = WATCH.get();
    if w.on && may_run {
        WATCH.set(Watch { stopped: true, ..w });
        return Err(E::custom("stopped: a container may run a component"));
    }
    Ok(())
}

/// A string, borrowed from the body where it has no escapes.
#[derive(Debug, Deserialize)]
pub struct Word<'a>(#[serde(borrow)] pub Cow<'a, str>);

/// A container's image.
#[derive(Debug)]
pub(super) struct Image<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Image<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Word(image) = Word::deserialize(d)?;
        stop_if(names_kube(&image))?;
        Ok(Image(image))
    }
}

/// A list of words (`args`), of which only the first is kept.
#[derive(Debug, Default)]
pub(super) struct FirstWord<'a>(pub Option<Cow<'a, str>>);

/// A container's `command`: its first word is the container's first word.
#[derive(Debug, Default)]
pub(super) struct Command<'a>(pub FirstWord<'a>);

struct Words {
    /// The first word is the container's: it may stop the read.
    command: bool,
}

impl<'de> Visitor<'de> for Words {
    type Value = FirstWord<'de>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a list of strings")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let first = seq.next_element::<Word<'de>>()?.map(|w| w.0);
        if self.command {
            stop_if(first.as_deref().is_some_and(first_word_may_run))?;
        }
        while seq.next_element::<Word<'de>>()?.is_some() {}
        Ok(FirstWord(first))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for FirstWord<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(Words { command: false })
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Command<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(Words { command: true }).map(Command)
    }
}
