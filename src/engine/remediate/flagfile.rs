//! Flag files (kubeadm-flags.env, /etc/default/kubelet, systemd drop-ins): only the words that
//! flip change, each re-quoted for the shell line it stands in.

use super::argv::FlagEdits;
use crate::engine::read::flags::{Flags, Origin};
use crate::engine::read::shell;
use crate::engine::rules::{Finding, GATE, ROTATE_FLAG, RuleId};

/// Text edits (span → new text) that flip kubelet flags set to false in a flags file.
/// Only flags the file sets are touched: an absent flag is the config file's to decide.
pub fn flag_file_edits(flags: &Flags, due: &[&Finding]) -> Vec<(std::ops::Range<usize>, String)> {
    let mut edits = FlagEdits::new(flags);
    for f in due {
        match f.rule {
            RuleId::KubeletRotateServerCert if flags.feature_gates().get(GATE).is_some() => {
                edits.gate()
            }
            RuleId::KubeletServerTlsBootstrap if flags.last(ROTATE_FLAG).is_some() => {
                edits.set(ROTATE_FLAG, "true")
            }
            _ => {}
        }
    }
    edits
        .replaced
        .iter()
        .filter_map(|(i, text)| match &flags.tokens.get(*i)?.origin {
            Origin::Text { span } => Some((span.clone(), shell::quote(text))),
            _ => None,
        })
        .collect()
}
