//! The AdmissionReview answer, written out. Its frame and keys never change, so they are copied
//! as they are, and only the values go through serde_json; the bytes are those of serialising
//! the whole review (a test holds the two equal), at a fraction of the cost on every request.

use crate::bytes;
use base64::Engine as _;
use serde::Serialize;
use std::collections::BTreeMap;

pub const V1: &str = "admission.k8s.io/v1";
pub const V1BETA1: &str = "admission.k8s.io/v1beta1";

/// Which AdmissionReview version came in (and goes back out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    V1,
    V1beta1,
}

impl ApiVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V1 => V1,
            ApiVersion::V1beta1 => V1BETA1,
        }
    }
}

/// `response.status` when denying (a metav1.Status).
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub status: &'static str,
    pub reason: &'static str,
    pub code: u16,
    pub message: String,
}

/// What goes into `response`, whatever the endpoint.
#[derive(Debug, Clone, Default)]
pub struct Response {
    pub allowed: bool,
    pub status: Option<Status>,
    /// The RFC 6902 patch as JSON text; sent base64-encoded with `patchType: JSONPatch`.
    pub patch: Option<Vec<u8>>,
    pub warnings: Vec<String>,
    pub audit_annotations: BTreeMap<String, String>,
}

/// Serialise the AdmissionReview answer (same apiVersion, same uid). Only strings, bools and
/// string maps go in, so this should not fail; if it does, the caller says so (never an empty
/// 200).
pub fn render(
    api_version: ApiVersion,
    uid: &str,
    r: &Response,
) -> Result<Vec<u8>, serde_json::Error> {
    let patch_len = r.patch.as_ref().map_or(0, |p| p.len() * 4 / 3 + 40);
    let mut out = Vec::with_capacity(128 + uid.len() + patch_len);
    out.extend_from_slice(b"{\"apiVersion\":\"");
    out.extend_from_slice(api_version.as_str().as_bytes());
    out.extend_from_slice(b"\",\"kind\":\"AdmissionReview\",\"response\":{\"uid\":");
    string(&mut out, uid)?;
    out.extend_from_slice(if r.allowed {
        b",\"allowed\":true"
    } else {
        b",\"allowed\":false"
    });
    if let Some(status) = &r.status {
        // The fields in `Status`'s order, as its derived serialiser writes them.
        out.extend_from_slice(b",\"status\":{\"status\":");
        string(&mut out, status.status)?;
        out.extend_from_slice(b",\"reason\":");
        string(&mut out, status.reason)?;
        out.extend_from_slice(b",\"code\":");
        out.extend_from_slice(itoa::Buffer::new().format(status.code).as_bytes());
        out.extend_from_slice(b",\"message\":");
        string(&mut out, &status.message)?;
        out.push(b'}');
    }
    if let Some(patch) = &r.patch {
        // Base64 needs no escaping.
        out.extend_from_slice(b",\"patchType\":\"JSONPatch\",\"patch\":\"");
        let start = out.len();
        out.resize(start + base64_len(patch.len()), 0);
        let written = base64::engine::general_purpose::STANDARD
            .encode_slice(patch, &mut out[start..])
            .map_err(serde::ser::Error::custom)?;
        out.truncate(start + written);
        out.push(b'"');
    }
    if !r.warnings.is_empty() {
        out.extend_from_slice(b",\"warnings\":");
        let mut open = b'[';
        for w in &r.warnings {
            out.push(open);
            open = b',';
            string(&mut out, w)?;
        }
        out.push(b']');
    }
    if !r.audit_annotations.is_empty() {
        out.extend_from_slice(b",\"auditAnnotations\":");
        let mut open = b'{';
        for (k, v) in &r.audit_annotations {
            out.push(open);
            open = b',';
            string(&mut out, k)?;
            out.push(b':');
            string(&mut out, v)?;
        }
        out.push(b'}');
    }
    // A trailing newline, so a response printed by curl does not run into the prompt.
    out.extend_from_slice(b"}}\n");
    Ok(out)
}

/// `s` as a JSON string, as serde_json writes it. Most strings of an answer (a denial's
/// message runs to hundreds of bytes) hold nothing serde_json escapes, which is a quote, a
/// backslash or a control character: checked several bytes at a time and copied whole, where
/// serde_json looks up every byte.
fn string(out: &mut Vec<u8>, s: &str) -> Result<(), serde_json::Error> {
    if bytes::plain_run(s.as_bytes()) != s.len() {
        return serde_json::to_writer(out, s);
    }
    out.reserve(s.len() + 2);
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
    Ok(())
}

fn base64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The answer as a derived serialiser writes it: what `render` must equal, byte for byte.
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct ResponseBody<'a> {
        uid: &'a str,
        allowed: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        status: Option<&'a Status>,
        #[serde(skip_serializing_if = "Option::is_none")]
        patch_type: Option<&'static str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        patch: Option<String>,
        #[serde(skip_serializing_if = "<[String]>::is_empty")]
        warnings: &'a [String],
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        audit_annotations: &'a BTreeMap<String, String>,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct ReviewOut<'a> {
        api_version: &'static str,
        kind: &'static str,
        response: ResponseBody<'a>,
    }

    fn derived(api_version: ApiVersion, uid: &str, r: &Response) -> Vec<u8> {
        let patch = r
            .patch
            .as_ref()
            .map(|p| base64::engine::general_purpose::STANDARD.encode(p));
        let out = ReviewOut {
            api_version: api_version.as_str(),
            kind: "AdmissionReview",
            response: ResponseBody {
                uid,
                allowed: r.allowed,
                status: r.status.as_ref(),
                patch_type: patch.as_ref().map(|_| "JSONPatch"),
                patch,
                warnings: &r.warnings,
                audit_annotations: &r.audit_annotations,
            },
        };
        let mut body = serde_json::to_vec(&out).unwrap();
        body.push(b'\n');
        body
    }

    #[test]
    fn writes_what_the_derived_serialiser_writes() {
        let status = Status {
            status: "Failure",
            reason: "Forbidden",
            code: 403,
            message: "kube-apiserver \"quoted\" \u{1} ü\n".into(),
        };
        let mut annotations = BTreeMap::new();
        annotations.insert("kubelet-tls-guard.io/decision".into(), "deny".into());
        annotations.insert("b\"\\".into(), "\u{7f}\t".into());
        let mut cases = vec![Response::default()];
        for n in 0..5 {
            cases.push(Response {
                allowed: true,
                patch: Some(b"[{\"op\":\"add\",\"path\":\"/a\",\"value\":1}]"[..30 + n].to_vec()),
                warnings: vec!["w \"1\"".into(), "ü".into()],
                audit_annotations: annotations.clone(),
                ..Default::default()
            });
        }
        cases.push(Response {
            allowed: false,
            status: Some(Status {
                message: "kube-apiserver: add --kubelet-certificate-authority=/etc/ca.crt".into(),
                ..status.clone()
            }),
            warnings: vec!["plain".into(), String::new(), "a\u{1f}".into()],
            ..Default::default()
        });
        cases.push(Response {
            allowed: false,
            status: Some(status),
            patch: Some(Vec::new()),
            warnings: vec!["x".into()],
            audit_annotations: annotations,
        });
        for r in &cases {
            for v in [ApiVersion::V1, ApiVersion::V1beta1] {
                for uid in [
                    "705ab4f5-6393-11e8-b7cc-42010a800002",
                    "",
                    "a\"b\\c\u{2028}",
                ] {
                    let got = render(v, uid, r).unwrap();
                    let want = derived(v, uid, r);
                    assert_eq!(
                        String::from_utf8_lossy(&got),
                        String::from_utf8_lossy(&want),
                        "{r:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn renders_patch_base64_and_echoes() {
        let r = Response {
            allowed: true,
            patch: Some(br#"[{"op":"add","path":"/a","value":1}]"#.to_vec()),
            warnings: vec!["w".into()],
            ..Default::default()
        };
        let out: Value =
            serde_json::from_slice(&render(ApiVersion::V1beta1, "abc", &r).unwrap()).unwrap();
        assert_eq!(out["apiVersion"], V1BETA1);
        assert_eq!(out["kind"], "AdmissionReview");
        assert_eq!(out["response"]["uid"], "abc");
        assert_eq!(out["response"]["patchType"], "JSONPatch");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(out["response"]["patch"].as_str().unwrap())
            .unwrap();
        assert_eq!(decoded, br#"[{"op":"add","path":"/a","value":1}]"#);
        assert!(out["response"].get("auditAnnotations").is_none());
        assert!(out["response"].get("status").is_none());
    }
}
