//! pflag semantics over an argv: `--f=v`, `--f v`, bool flags, repeats (last wins), `--`,
//! and `--feature-gates`, which accumulates across occurrences (last value per gate wins).

use crate::bytes;
use crate::engine::rules::{CA_FLAG, CERT_FLAG, GATES_FLAG, KEY_FLAG, ROTATE_FLAG};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;

/// Where an argv word came from, so a remediation can edit it where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Item `index` of the container's `command` (or `args`) list.
    Item { list: List, index: usize },
    /// A word at `span` inside item `index` of a list that holds a shell line (`sh -c "…"`).
    ShellWord {
        list: List,
        index: usize,
        span: Range<usize>,
    },
    /// A word at `span` of some text (a flags file, an extraArgs string).
    Text { span: Range<usize> },
    /// Synthesised (e.g. a kubeadm extraArgs entry); edited through its own path.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    Command,
    Args,
}

impl List {
    pub fn key(self) -> &'static str {
        match self {
            List::Command => "command",
            List::Args => "args",
        }
    }
}

/// One word of an argv. Its text is borrowed from the object the engine reads where it
/// stands there whole (a container's `command` and `args` items): a kube-apiserver's thirty-odd
/// words were each copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token<'a> {
    pub text: Cow<'a, str>,
    pub origin: Origin,
}

/// One occurrence of a flag. Its name and value are spans of the tokens' text, read through
/// [`Flags::name`] and [`Flags::value_of`]: a kube-apiserver's thirty-odd flags cost two
/// allocations each when they were copied out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    /// Index of the token holding the name (and the value, when written `--f=v`).
    pub token: usize,
    /// Index of the separate value token (`--f v`).
    pub value_token: Option<usize>,
    /// The name's span in the text of `token`.
    name: Range<usize>,
    /// Where the value written `--f=v` starts in the text of `token`.
    inline: Option<usize>,
}

/// The flags of one component invocation, as [`Flags::parse`] made them: read them, do not
/// change them (`last_audited` is derived from the occurrences).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags<'a> {
    pub tokens: Vec<Token<'a>>,
    pub occurrences: Vec<Occurrence>,
    /// Index of the `--` token that ends the flags, if any.
    pub terminator: Option<usize>,
    /// The last occurrence of each [`AUDITED`] flag, found while parsing.
    last_audited: [Option<usize>; AUDITED],
}

/// How many flags [`audited`] knows.
const AUDITED: usize = 6;

/// The slot of a flag the rules look up several times per subject: its last occurrence is
/// kept by [`Flags::parse`], where a lookup scanned every occurrence (a kube-apiserver has
/// thirty-odd), some 250 instructions each.
fn audited(name: &str) -> Option<usize> {
    match name {
        CERT_FLAG => Some(0),
        KEY_FLAG => Some(1),
        CA_FLAG => Some(2),
        ROTATE_FLAG => Some(3),
        GATES_FLAG => Some(4),
        "config" => Some(5),
        _ => None,
    }
}

/// Flags that never take the next word as their value (pflag `NoOptDefVal`).
const BOOL_FLAGS: &[&str] = &[
    "add-dir-header",
    "allocate-node-cidrs",
    "allow-privileged",
    "alsologtostderr",
    "anonymous-auth",
    "cgroups-per-qos",
    "configure-cloud-routes",
    "containerized",
    "contention-profiling",
    "enable-aggregator-routing",
    "enable-bootstrap-token-auth",
    "enable-controller-attach-detach",
    "enable-debugging-handlers",
    "enable-dynamic-provisioning",
    "enable-garbage-collector",
    "enable-hostpath-provisioner",
    "enable-logs-handler",
    "enable-priority-and-fairness",
    "enable-server",
    "enable-taint-manager",
    "exit-on-lock-contention",
    "fail-swap-on",
    "help",
    "insecure-allow-any-token",
    "kernel-memcg-notification",
    "keep-terminated-pod-volumes",
    "leader-elect",
    "logtostderr",
    "make-iptables-util-chains",
    "one-output",
    "profiling",
    "protect-kernel-defaults",
    "register-node",
    "register-schedulable",
    "rotate-certificates",
    "rotate-server-certificates",
    "serialize-image-pulls",
    "service-account-lookup",
    "skip-headers",
    "skip-log-headers",
    "use-service-account-credentials",
    "version",
];

/// Flags known to take a value: they always consume the next word, even one starting with `-`.
const VALUE_FLAGS: &[&str] = &[
    "config",
    GATES_FLAG,
    "kubeconfig",
    "kubelet-certificate-authority",
    "kubelet-client-certificate",
    "kubelet-client-key",
];

pub fn is_bool_flag(name: &str) -> bool {
    BOOL_FLAGS.contains(&name)
}

impl Flags<'_> {
    /// The same flags holding their own words, for a caller that keeps them after the object
    /// they were read from.
    pub fn into_owned(self) -> Flags<'static> {
        Flags {
            tokens: self
                .tokens
                .into_iter()
                .map(|t| Token {
                    text: Cow::Owned(t.text.into_owned()),
                    origin: t.origin,
                })
                .collect(),
            occurrences: self.occurrences,
            terminator: self.terminator,
            last_audited: self.last_audited,
        }
    }
}

impl<'a> Flags<'a> {
    /// Parse `tokens` (the words after the executable) the way pflag does.
    pub fn parse(tokens: Vec<Token<'a>>) -> Flags<'a> {
        let mut occurrences = Vec::with_capacity(tokens.len());
        let mut terminator = None;
        let mut last_audited = [None; AUDITED];
        let mut i = 0;
        while i < tokens.len() {
            let text: &str = &tokens[i].text;
            if text == "--" {
                terminator = Some(i);
                break;
            }
            let body = text
                .strip_prefix("--")
                .or_else(|| text.strip_prefix('-').filter(|b| !b.is_empty()));
            let Some(body) = body else {
                // A positional argument: pflag keeps parsing flags after it.
                i += 1;
                continue;
            };
            let start = text.len() - body.len();
            let eq = bytes::find(body.as_bytes(), b'=');
            let name = &body[..eq.unwrap_or(body.len())];
            let mut occ = Occurrence {
                token: i,
                value_token: None,
                name: start..start + name.len(),
                inline: eq.map(|at| start + at + 1),
            };
            if eq.is_none()
                && !is_bool_flag(name)
                && let Some(next) = tokens.get(i + 1)
            {
                // Unknown flags take the next word unless it looks like a flag: a wrong
                // guess there would hide the flags we audit.
                let takes = VALUE_FLAGS.contains(&name) || !next.text.starts_with('-');
                if takes && next.text != "--" {
                    occ.value_token = Some(i + 1);
                    i += 1;
                }
            }
            if let Some(slot) = audited(name).and_then(|n| last_audited.get_mut(n)) {
                *slot = Some(occurrences.len());
            }
            occurrences.push(occ);
            i += 1;
        }
        Flags {
            tokens,
            occurrences,
            terminator,
            last_audited,
        }
    }

    /// The name of `occ` (an occurrence of these flags), without its dashes.
    pub fn name(&self, occ: &Occurrence) -> &str {
        self.text(occ.token).get(occ.name.clone()).unwrap_or("")
    }

    /// The value of `occ` (an occurrence of these flags): `None` for a bare flag
    /// (`--rotate-server-certificates`).
    pub fn value_of(&self, occ: &Occurrence) -> Option<&str> {
        match (occ.value_token, occ.inline) {
            (Some(t), _) => Some(self.text(t)),
            (None, Some(at)) => self.text(occ.token).get(at..),
            (None, None) => None,
        }
    }

    fn text(&self, token: usize) -> &str {
        self.tokens.get(token).map_or("", |t| &*t.text)
    }

    /// Index of the occurrence that takes effect (the last one) of `name`.
    pub fn last_index(&self, name: &str) -> Option<usize> {
        if let Some(slot) = audited(name).and_then(|n| self.last_audited.get(n)) {
            return *slot;
        }
        // The lengths first: most names differ in length, and that needs no slicing.
        self.occurrences
            .iter()
            .rposition(|o| o.name.len() == name.len() && self.name(o) == name)
    }

    /// The occurrence that takes effect (the last one).
    pub fn last(&self, name: &str) -> Option<&Occurrence> {
        self.last_index(name).map(|i| &self.occurrences[i])
    }

    /// The effective value of a string flag: `None` when absent or empty.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.last(name)
            .and_then(|o| self.value_of(o))
            .filter(|v| !v.trim().is_empty())
    }

    /// The effective value of a bool flag; `Some(Err)` when the value does not parse.
    pub fn bool_value(&self, name: &str) -> Option<Result<bool, String>> {
        self.last(name).map(|o| match self.value_of(o) {
            None => Ok(true),
            Some(v) => parse_bool(v).ok_or_else(|| v.to_string()),
        })
    }

    /// All `--feature-gates` occurrences folded together.
    pub fn feature_gates(&self) -> Gates {
        let mut gates = Gates::default();
        for (n, occ) in self.occurrences.iter().enumerate() {
            if self.name(occ) == GATES_FLAG {
                gates.add_flag_value(n, self.value_of(occ).unwrap_or(""));
            }
        }
        gates
    }

    /// Index of the last token that belongs to a flag (name or value), if any.
    pub fn last_flag_token(&self) -> Option<usize> {
        self.occurrences
            .last()
            .map(|o| o.value_token.unwrap_or(o.token))
    }
}

/// Go's `strconv.ParseBool`, after the trimming Kubernetes applies.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim() {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The effective setting of one feature gate and where it was last set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gate {
    /// `Err(raw)` when the value does not parse (the component refuses to start).
    pub value: Result<bool, String>,
    /// Index into `Flags::occurrences` of the `--feature-gates` that set it last.
    pub occurrence: usize,
    /// Byte span of the `Name=value` entry inside that occurrence's value.
    pub span: Range<usize>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gates {
    pub gates: BTreeMap<String, Gate>,
    /// Entries without `=` (`missing bool value`), which also stop the component.
    pub malformed: Vec<String>,
}

impl Gates {
    fn add_flag_value(&mut self, occurrence: usize, value: &str) {
        let mut offset = 0;
        for entry in value.split(',') {
            let span = offset..offset + entry.len();
            offset += entry.len() + 1;
            if entry.trim().is_empty() {
                continue;
            }
            match entry.split_once('=') {
                Some((k, v)) => {
                    let value = parse_bool(v).ok_or_else(|| v.trim().to_string());
                    self.gates.insert(
                        k.trim().to_string(),
                        Gate {
                            value,
                            occurrence,
                            span,
                        },
                    );
                }
                None => self.malformed.push(entry.trim().to_string()),
            }
        }
    }

    pub fn get(&self, name: &str) -> Option<&Gate> {
        self.gates.get(name)
    }
}

#[cfg(test)]
#[path = "flags_tests.rs"]
mod tests;
