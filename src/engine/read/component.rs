//! Which control-plane component a container runs, and the flags it is given
//! (DESIGN.md section 2: command, args, image entrypoint, hyperkube, `sh -c` lines, labels).

use crate::bytes;
use crate::engine::read::flags::{Flags, List, Origin, Token};
use crate::engine::read::shell;
use crate::engine::read::tree::Node;
use crate::engine::rules::Component;
use std::borrow::Cow;

/// A recognised component invocation inside one container.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation<'a> {
    pub component: Component,
    /// Its words borrowed from the container (a shell line's words are copied).
    pub flags: Flags<'a>,
    /// Where a missing flag is added.
    pub insert: Insert,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Insert {
    /// Add an item to `list` at `index` (`at_end`: append with `-`).
    List {
        list: List,
        index: usize,
        at_end: bool,
    },
    /// Insert ` --flag` at byte `at` of the shell line in item `index` of `list`.
    Shell { list: List, index: usize, at: usize },
}

/// The last `/`-separated part of `path`. A byte scan: `rsplit` sets up a char searcher on
/// every call, which costs more than scanning the short words it is given.
pub fn basename(path: &str) -> &str {
    match path.bytes().rposition(|b| b == b'/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// A component from an executable name, or from a hyperkube subcommand.
fn component_named(name: &str) -> Option<Component> {
    match name {
        "kube-apiserver" | "apiserver" => Some(Component::ApiServer),
        "kube-controller-manager" | "controller-manager" => Some(Component::ControllerManager),
        "kubelet" => Some(Component::Kubelet),
        _ => None,
    }
}

fn executable(word: &str) -> Option<Component> {
    match basename(word) {
        n @ ("kube-apiserver" | "kube-controller-manager" | "kubelet") => component_named(n),
        _ => None,
    }
}

fn is_hyperkube(word: &str) -> bool {
    basename(word) == "hyperkube"
}

/// Does `s` contain `kube`? `bytes::contains` finds its `k`s eight bytes at a time and
/// compares only there: most images and words hold no `k`, and a comparison at every byte
/// cost four instructions a byte.
pub fn names_kube(s: &str) -> bool {
    bytes::contains(s.as_bytes(), b"kube")
}

/// `registry.k8s.io/kube-apiserver-amd64:v1.34.2@sha256:…` → kube-apiserver.
pub fn image_component(image: &str) -> Option<Component> {
    // Every name `executable` knows holds `kube`: most images are turned away here.
    if !names_kube(image) {
        return None;
    }
    let last = basename(image);
    let name = last.split(['@', ':']).next().unwrap_or(last);
    let name = ["-amd64", "-arm64", "-arm", "-ppc64le", "-s390x"]
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .unwrap_or(name);
    executable(name)
}

fn is_image_hyperkube(image: &str) -> bool {
    if !names_kube(image) {
        return false;
    }
    let last = basename(image);
    last.split(['@', ':'])
        .next()
        .unwrap_or(last)
        .starts_with("hyperkube")
}

fn shell_name(word: &str) -> bool {
    matches!(
        basename(word),
        "sh" | "bash" | "ash" | "dash" | "ksh" | "zsh" | "busybox"
    )
}

/// Could [`recognize`] find a component in a container that is not its pod's only one? A
/// superset, from the first word of its command (or args), its image and name, and whether it
/// has a command: every executable, hyperkube and component image name holds `kube`, a shell
/// may run one in its `-c` line, and a component label must name the container (`by_label`).
pub fn may_run(first: Option<&str>, image: &str, name: Option<&str>, has_command: bool) -> bool {
    first.is_some_and(|w| shell_name(w) || names_kube(w))
        || names_kube(image)
        || (has_command && name.is_some_and(names_kube))
}

/// [`may_run`] of a `containers[]` item, read as [`recognize`] reads it: what the quick pod
/// pass's borrowed read is held to.
#[cfg(test)]
pub(crate) fn may_run_item(container: &serde_json::Value) -> bool {
    use serde_json::Value;
    let list = |key: &str| container.member(key).and_then(Value::as_array);
    let (command, args) = (list("command"), list("args"));
    let first = command
        .into_iter()
        .chain(args)
        .flatten()
        .next()
        .map(|w| w.as_str().unwrap_or(""));
    let image = container.member("image").and_then(Value::as_str);
    let name = container.member("name").and_then(Value::as_str);
    may_run(first, image.unwrap_or(""), name, command.is_some())
}

/// Recognise the component of `container` (a `containers[]` item). `labels` are the pod's labels;
/// `sole` says the container is the pod's only one.
pub fn recognize<'v, N: Node>(
    container: &'v N,
    labels: Option<&N>,
    sole: bool,
) -> Option<Invocation<'v>> {
    // The lists as they stand: most containers run no component, so nothing is copied yet.
    let list = |key: &str| container.member(key).and_then(N::items);
    let command = list("command");
    let args = list("args");
    fn word<N: Node>(v: &N) -> &str {
        v.text().unwrap_or("")
    }
    let mut words = command.into_iter().chain(args).flatten().map(word);
    let (first, second) = (words.next(), words.next());
    // The words after the first `skip`, each with where it stands: the component's own word
    // (and a hyperkube's) is never copied.
    let argv = |skip: usize| {
        let len = command.map_or(0, <[N]>::len) + args.map_or(0, <[N]>::len);
        let mut argv: Vec<Token> = Vec::with_capacity(len.saturating_sub(skip));
        let mut skip = skip;
        for (list, items) in [(List::Command, command), (List::Args, args)] {
            for (index, item) in items.into_iter().flatten().enumerate() {
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                argv.push(Token {
                    text: Cow::Borrowed(word(item)),
                    origin: Origin::Item { list, index },
                });
            }
        }
        argv
    };
    let has_args = args.is_some_and(|a| !a.is_empty());
    let image = container.member("image").and_then(N::text).unwrap_or("");

    // `sh -c "<line>"`: the component is a simple command inside the line.
    if first.is_some_and(shell_name)
        && let Some(inv) = from_shell(&argv(0))
    {
        return Some(inv);
    }

    let found = if command.is_none() {
        // The image's entrypoint runs; args are its flags (or a hyperkube subcommand).
        match first {
            Some(first) if executable(first).is_some() => executable(first).map(|c| (c, 1)),
            Some(first) if is_image_hyperkube(image) => component_named(first).map(|c| (c, 1)),
            _ => image_component(image).map(|c| (c, 0)),
        }
    } else {
        let first = first.unwrap_or("");
        if let Some(c) = executable(first) {
            Some((c, 1))
        } else if is_hyperkube(first) {
            second.and_then(component_named).map(|c| (c, 2))
        } else {
            by_label(container, labels, sole).map(|c| (c, 1))
        }
    };
    let (component, skip) = found?;
    let flags = Flags::parse(argv(skip));
    let insert = list_insert(
        &flags,
        command.map_or(0, <[N]>::len),
        args.map_or(0, <[N]>::len),
        has_args,
        command.is_some(),
    );
    Some(Invocation {
        component,
        flags,
        insert,
    })
}

/// kubeadm labels (`component: kube-apiserver`) name the component when the container runs it
/// through some wrapper: the container must be named the same, or be the only container of a
/// pod that also carries kubeadm's `tier: control-plane` (then the labels leave no doubt).
fn by_label<N: Node>(container: &N, labels: Option<&N>, sole: bool) -> Option<Component> {
    let labels = labels?;
    let label = labels.member("component")?.text()?;
    let named = container.member("name").and_then(N::text) == Some(label);
    let control_plane = labels.member("tier").and_then(N::text) == Some("control-plane");
    (named || (sole && control_plane))
        .then(|| executable(label))
        .flatten()
}

/// Where to add a flag to a list-form invocation: after the last flag (before `--`).
fn list_insert(
    flags: &Flags,
    command_len: usize,
    args_len: usize,
    has_args: bool,
    has_command: bool,
) -> Insert {
    let origin_of = |i: usize| flags.tokens.get(i).map(|t| t.origin.clone());
    if let Some(Origin::Item { list, index }) = flags.terminator.and_then(origin_of) {
        return Insert::List {
            list,
            index,
            at_end: false,
        };
    }
    let list = match flags.last_flag_token().and_then(origin_of) {
        Some(Origin::Item { list, .. }) => list,
        _ if has_args || !has_command => List::Args,
        _ => List::Command,
    };
    let len = match list {
        List::Command => command_len,
        List::Args => args_len,
    };
    Insert::List {
        list,
        index: len,
        at_end: true,
    }
}

fn from_shell(argv: &[Token<'_>]) -> Option<Invocation<'static>> {
    // The option word must include `c` (`-c`, `-ec`, `-xc`); the line is the next word.
    let opt = argv.get(1)?;
    if !(opt.text.starts_with('-') && !opt.text.starts_with("--") && opt.text.contains('c')) {
        return None;
    }
    let line_token = argv.get(2)?;
    let Origin::Item { list, index } = line_token.origin else {
        return None;
    };
    let line: &str = &line_token.text;
    for words in shell::simple_commands(line).ok()? {
        let mut rest = words.as_slice();
        // `exec`, `env`, and `VAR=value` prefixes do not change what runs.
        while let Some((w, tail)) = rest.split_first() {
            let is_assign = w.text.split_once('=').is_some_and(|(k, _)| {
                !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
            if w.text == "exec" || basename(&w.text) == "env" || is_assign {
                rest = tail;
            } else {
                break;
            }
        }
        let Some((exe, tail)) = rest.split_first() else {
            continue;
        };
        let (component, tail) = if let Some(c) = executable(&exe.text) {
            (c, tail)
        } else if is_hyperkube(&exe.text) {
            match tail.split_first() {
                Some((sub, t)) => match component_named(&sub.text) {
                    Some(c) => (c, t),
                    None => continue,
                },
                None => continue,
            }
        } else {
            continue;
        };
        let tokens: Vec<Token<'static>> = tail
            .iter()
            .map(|w| Token {
                text: Cow::Owned(w.text.clone()),
                origin: Origin::ShellWord {
                    list,
                    index,
                    span: w.span.clone(),
                },
            })
            .collect();
        let flags = Flags::parse(tokens);
        // After the last flag: ahead of positional words, `--`, and redirections.
        let at = flags
            .last_flag_token()
            .and_then(|i| tail.get(i))
            .unwrap_or(exe)
            .span
            .end;
        return Some(Invocation {
            component,
            flags,
            insert: Insert::Shell { list, index, at },
        });
    }
    None
}

#[cfg(test)]
#[path = "component_tests.rs"]
mod tests;
