//! Node file bytes → decode → `fix_text` (default policy, and enforce with a hostPath volume).
//!
//! Invariants: no panic; a successful fix is idempotent (fixing the output again gives the
//! same text) and its output still parses.

#![no_main]

use kubelet_tls_guard::engine::policy::Policy;
use kubelet_tls_guard::node::fix;
use kubelet_tls_guard::node::inputs;
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

const ENFORCE: &str = "mode: enforce\nremediation:\n  addHostPathVolume: true\n";

static POLICIES: LazyLock<[Policy; 2]> = LazyLock::new(|| {
    [
        Policy::default(),
        Policy::from_yaml(ENFORCE, "<fuzz enforce>").expect("the enforce policy parses"),
    ]
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = inputs::decode(data.to_vec()) else {
        return;
    };
    for policy in POLICIES.iter() {
        let Ok(fixed) = fix::fix_text(&text, policy) else {
            continue;
        };
        if let Err(e) = inputs::parse(&fixed.text) {
            panic!(
                "the fixed text does not parse: {e}\n--- fixed:\n{}",
                fixed.text
            );
        }
        match fix::fix_text(&fixed.text, policy) {
            Ok(again) => assert!(
                again.text == fixed.text,
                "fix is not idempotent\n--- first:\n{}\n--- second:\n{}",
                fixed.text,
                again.text
            ),
            Err(e) => panic!(
                "fixing the fixed text fails: {e}\n--- fixed:\n{}",
                fixed.text
            ),
        }
    }
});
