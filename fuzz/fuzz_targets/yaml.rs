//! YAML text → the quick block reader and serde_yaml_ng.
//!
//! Invariant: what the quick reader reads (`yaml::block::mapping`), serde_yaml_ng reads too, into
//! the same `Value`, key order included; the quick reader never panics.

#![no_main]

use kubelet_tls_guard::yaml::block;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(quick) = block::mapping(text) {
        let full = serde_yaml_ng::from_str::<Value>(text)
            .unwrap_or_else(|e| panic!("serde_yaml_ng refuses what was read quickly: {e}"));
        assert_eq!(quick.to_string(), full.to_string());
    }
});
