//! Where operators declare the control plane outside kubeadm's ConfigMaps (DESIGN.md section 11):
//! Cluster API, k3s/RKE2, Talos, Kamaji and kind. Each reader turns its source's own form of
//! "extra arguments" into `--name=value` tokens, remembering for every token the entry it came
//! from (so a fix edits that entry in its own form) and the flags the distribution sets itself.

mod capi;
mod k3s;
pub mod k3s_args;
mod kamaji;
mod kind;
mod talos;

use crate::engine::read::at::At;
use crate::engine::read::flags::{Flags, Origin, Token};
use crate::engine::read::subjects::{Settings, Subject, Target};
use crate::engine::rules::Component;
use serde_json::Value;

pub use k3s::looks_like_k3s;

pub use crate::engine::read::declared::{
    ArgOrigin, Declared, DeclaredConfig, Distro, Doc, Form, Insert,
};

/// Collects tokens and their origins in order.
#[derive(Default)]
pub(crate) struct ArgsBuilder {
    tokens: Vec<Token<'static>>,
    origins: Vec<ArgOrigin>,
}

impl ArgsBuilder {
    pub(crate) fn push(&mut self, name: &str, value: &str, origin: ArgOrigin) {
        self.tokens.push(Token {
            text: format!("--{name}={value}").into(),
            origin: Origin::None,
        });
        self.origins.push(origin);
    }

    /// A flag the distribution sets itself.
    pub(crate) fn by_distro(&mut self, name: &str, value: &str) {
        self.push(name, value, ArgOrigin::Default);
    }

    /// Entries of a map (`Form::Map`, string or list values) or a `{name, value}` list.
    pub(crate) fn extra_args(&mut self, args: Option<&Value>, doc: &Doc, pointer: &str) {
        let entry = |p: String, form| ArgOrigin::Entry {
            doc: doc.clone(),
            pointer: p,
            form,
        };
        match args {
            Some(Value::Object(map)) => {
                for (k, v) in map {
                    let p = format!("{pointer}/{}", esc(k));
                    match v {
                        Value::Array(items) => {
                            for (i, item) in items.iter().enumerate() {
                                self.push(
                                    k,
                                    &scalar(item),
                                    entry(format!("{p}/{i}"), Form::ListValue),
                                );
                            }
                        }
                        v => self.push(k, &scalar(v), entry(p, Form::Map)),
                    }
                }
            }
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let Some(name) = item.get("name").and_then(Value::as_str) else {
                        continue;
                    };
                    let value = item.get("value").map(scalar).unwrap_or_default();
                    self.push(
                        name,
                        &value,
                        entry(format!("{pointer}/{i}"), Form::NameValue),
                    );
                }
            }
            _ => {}
        }
    }

    /// Items of a list of `name=value` (`FlagItem`) or `--name=value` (`DashedItem`) strings.
    pub(crate) fn flag_items(&mut self, items: &[(String, String)], doc: &Doc, form: Form) {
        for (pointer, text) in items {
            let body = text.trim();
            let body = match form {
                Form::DashedItem => body.trim_start_matches('-'),
                _ => body.strip_prefix("--").unwrap_or(body),
            };
            let (name, value) = body.split_once('=').unwrap_or((body, "true"));
            self.push(
                name.trim(),
                value,
                ArgOrigin::Entry {
                    doc: doc.clone(),
                    pointer: pointer.clone(),
                    form,
                },
            );
        }
    }

    pub(crate) fn build(
        self,
        distro: Distro,
        args_name: &str,
        insert: Insert,
        config: Option<DeclaredConfig>,
    ) -> Declared {
        Declared {
            distro,
            args_name: args_name.to_string(),
            flags: Flags::parse(self.tokens),
            origins: self.origins,
            insert,
            config,
            mounts: Vec::new(),
        }
    }
}

/// A YAML scalar as the flag value a tool would write (`true`, `120`, a string).
pub(crate) fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Escape one JSON pointer token.
pub(crate) fn esc(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

pub(crate) fn subject(component: Component, location: String, d: Declared) -> Subject<'static> {
    Subject {
        component,
        location,
        settings: Settings::Declared(Box::new(d)),
    }
}

/// Recognise a declared source from its content; `None` when `obj` is none of them.
pub fn extract(obj: &Value) -> Option<(Target, Vec<Subject<'static>>)> {
    // Every object the engine reads comes here first: its few members are scanned, not
    // hashed (`At::member`).
    let kind = obj.member("kind").and_then(Value::as_str).unwrap_or("");
    let api = obj
        .member("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let group = api.split('/').next().unwrap_or("");
    let target = |name: &str| Target::Declared {
        source: name.to_string(),
    };
    match (group, kind) {
        ("controlplane.cluster.x-k8s.io", "KubeadmControlPlane") => {
            Some((target(kind), capi::control_plane(obj)))
        }
        ("controlplane.cluster.x-k8s.io", "KubeadmControlPlaneTemplate") => {
            Some((target(kind), capi::control_plane_template(obj)))
        }
        ("bootstrap.cluster.x-k8s.io", "KubeadmConfigTemplate" | "KubeadmConfig") => {
            Some((target(kind), capi::bootstrap(obj, kind)))
        }
        ("kamaji.clastix.io", "TenantControlPlane") => Some((target(kind), kamaji::subjects(obj))),
        ("kind.x-k8s.io", "Cluster") => Some((target("kind Cluster"), kind::subjects(obj))),
        _ if kind.is_empty() && talos::looks_like_talos(obj) => {
            Some((target("Talos machine config"), talos::subjects(obj)))
        }
        _ if kind.is_empty() && api.is_empty() && looks_like_k3s(obj) => {
            Some((target("k3s/RKE2 config"), k3s::subjects(obj)))
        }
        _ => None,
    }
}
