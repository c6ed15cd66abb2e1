//! The one fact an operator needs before adding `--kubelet-certificate-authority`: does every
//! kubelet serve a certificate that CA verifies for the address the API server dials?
//! (DESIGN.md section 9, the JSON `readiness` object.)

use super::kubelet::Serving;
use super::probe::NodeProbe;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Readiness {
    pub kubelet_certificate_authority: CaReadiness,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaReadiness {
    /// True only when there are nodes and every one verified.
    pub safe: bool,
    pub nodes: usize,
    pub verified: usize,
    pub failing: Vec<Failing>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failing {
    pub node: String,
    pub reason: String,
}

pub fn assess(probes: &[NodeProbe]) -> Readiness {
    let mut failing = Vec::new();
    let mut verified = 0;
    for p in probes {
        match &p.serving {
            Serving::Verified(_) => verified += 1,
            Serving::Rejected(r) => failing.push(Failing {
                node: p.endpoint.node.clone(),
                reason: r.clone(),
            }),
            Serving::Unreachable(r) => failing.push(Failing {
                node: p.endpoint.node.clone(),
                reason: format!("not verified: {r}"),
            }),
        }
    }
    failing.sort_by(|a, b| a.node.cmp(&b.node));
    Readiness {
        kubelet_certificate_authority: CaReadiness {
            // No nodes proves nothing: not safe.
            safe: !probes.is_empty() && failing.is_empty(),
            nodes: probes.len(),
            verified,
            failing,
        },
    }
}

impl Readiness {
    /// The closing lines of the text report.
    pub fn text(&self) -> String {
        let r = &self.kubelet_certificate_authority;
        let mut s = if r.safe {
            format!(
                "readiness: --kubelet-certificate-authority is safe to add: all {} kubelet(s) serve verified certificates\n",
                r.nodes
            )
        } else {
            format!(
                "readiness: --kubelet-certificate-authority is NOT safe yet: {} of {} kubelet(s) verified\n",
                r.verified, r.nodes
            )
        };
        for f in &r.failing {
            s.push_str(&format!("  {}: {}\n", f.node, f.reason));
        }
        s
    }
}
