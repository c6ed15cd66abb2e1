//! Node file bytes → decode → parse → evaluate every object (strict and CIS profiles).
//!
//! Invariant: bad input gives an error, never a panic.

#![no_main]

use kubelet_tls_guard::engine;
use kubelet_tls_guard::engine::policy::Policy;
use kubelet_tls_guard::node::inputs::{self, Item};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static POLICIES: LazyLock<[Policy; 2]> = LazyLock::new(|| {
    [
        Policy::default(),
        Policy::from_yaml("profile: cis\n", "<fuzz cis>").expect("the cis policy parses"),
    ]
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = inputs::decode(data.to_vec()) else {
        return;
    };
    let Ok(parsed) = inputs::parse(&text) else {
        return;
    };
    for item in &parsed.items {
        if let Item::Object { value, .. } = item {
            for policy in POLICIES.iter() {
                let _ = engine::evaluate(value, policy);
            }
        }
    }
});
