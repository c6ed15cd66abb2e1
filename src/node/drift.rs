//! Drift between a running static-pod component and its manifest: the file under the kubelet's
//! `staticPodPath` was edited (fixed, or broken) but the pod still runs the old flags.

use crate::engine::read::component;
use crate::engine::read::flags::Flags;
use crate::engine::rules::{CA_FLAG, CERT_FLAG, GATE, KEY_FLAG};
use crate::engine::rules::{Component, RuleId};
use crate::node::inputs::{self, Item};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A rule whose flags differ between the running process and a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub rule: RuleId,
    /// The manifest (kubelet's path).
    pub manifest: PathBuf,
    pub text: String,
}

/// How a rule's settings read in one set of flags, in words for a message.
pub fn setting(rule: RuleId, flags: &Flags) -> String {
    let one = |name: &str| match flags.value(name) {
        Some(v) => format!("--{name}={v}"),
        None => format!("no --{name}"),
    };
    match rule {
        RuleId::ApiserverKubeletClientCert => format!("{} and {}", one(CERT_FLAG), one(KEY_FLAG)),
        RuleId::ApiserverKubeletCa => one(CA_FLAG),
        RuleId::ControllerManagerRotateKubeletServerCert => {
            match flags.feature_gates().get(GATE).map(|g| &g.value) {
                Some(Ok(b)) => format!("{GATE}={b}"),
                Some(Err(raw)) => format!("{GATE}={raw}"),
                None => format!("no {GATE} gate"),
            }
        }
        // The kubelet is not a static pod; its serving certificate is judged live (scan).
        RuleId::KubeletRotateServerCert
        | RuleId::KubeletServerTlsBootstrap
        | RuleId::KubeletServingCertVerified => String::new(),
    }
}

/// The flags of every container running `component` in the manifests under `dir` (host path),
/// with each manifest's kubelet path. The kubelet reads every file there except hidden ones;
/// files it could not read are left to `check`, which reports them on their own.
pub fn manifests(root: &Path, dir: &Path, component: Component) -> Vec<(PathBuf, Flags<'static>)> {
    let mut out = Vec::new();
    for file in static_pod_files(dir) {
        let Ok(text) = inputs::read(&file) else {
            continue;
        };
        let Ok(parsed) = inputs::parse(&text) else {
            continue;
        };
        let shown = match file.strip_prefix(root) {
            Ok(rel) => Path::new("/").join(rel),
            Err(_) => file.clone(),
        };
        for item in parsed.items {
            let Item::Object { value, .. } = item else {
                continue;
            };
            if value.get("kind").and_then(Value::as_str) != Some("Pod") {
                continue;
            }
            let labels = value.pointer("/metadata/labels");
            let containers = value
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            for c in containers {
                if let Some(inv) = component::recognize(c, labels, containers.len() == 1)
                    && inv.component == component
                {
                    out.push((shown.clone(), inv.flags.into_owned()));
                }
            }
        }
    }
    out
}

/// The files the kubelet runs as static pods: every regular, non-hidden file of `dir`.
pub fn static_pod_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Compare the running flags with the manifests for `component`. A rule gets a note when no
/// manifest agrees with the process on that rule's flags.
pub fn compare(component: Component, running: &Flags, found: &[(PathBuf, Flags)]) -> Vec<Note> {
    let mut notes = Vec::new();
    for &rule in component.rules() {
        let now = setting(rule, running);
        if found.is_empty() || found.iter().any(|(_, f)| setting(rule, f) == now) {
            continue;
        }
        for (manifest, flags) in found {
            notes.push(Note {
                rule,
                manifest: manifest.clone(),
                text: format!(
                    "the static pod manifest {} has {}, but the process runs with {}: the pod has not been restarted with that file",
                    manifest.display(),
                    setting(rule, flags),
                    now
                ),
            });
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::read::flags::{Origin, Token};

    fn flags(words: &[&str]) -> Flags<'static> {
        Flags::parse(
            words
                .iter()
                .map(|w| Token {
                    text: w.to_string().into(),
                    origin: Origin::None,
                })
                .collect(),
        )
    }

    #[test]
    fn notes_only_rules_that_differ() {
        let running = flags(&["--kubelet-client-certificate=/c", "--kubelet-client-key=/k"]);
        let file = flags(&[
            "--kubelet-client-certificate",
            "/c",
            "--kubelet-client-key=/k",
            "--kubelet-certificate-authority=/ca",
        ]);
        let found = vec![(PathBuf::from("/m/kube-apiserver.yaml"), file)];
        let notes = compare(Component::ApiServer, &running, &found);
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].rule, RuleId::ApiserverKubeletCa);
        assert!(notes[0].text.contains("/m/kube-apiserver.yaml"));
        assert!(
            notes[0]
                .text
                .contains("--kubelet-certificate-authority=/ca")
        );
        assert!(notes[0].text.contains("has not been restarted"));
        assert!(compare(Component::ApiServer, &running, &[]).is_empty());
    }

    #[test]
    fn gate_values_compare_as_booleans() {
        let running = flags(&["--feature-gates=RotateKubeletServerCertificate=T"]);
        let file = flags(&["--feature-gates=A=false,RotateKubeletServerCertificate=true"]);
        let found = vec![(PathBuf::from("/m/kcm.yaml"), file)];
        assert!(compare(Component::ControllerManager, &running, &found).is_empty());
    }
}
