//! YAML text → the quick block reader and serde_yaml_ng.
//!
//! Invariant: what the quick reader reads (`yaml::block::mapping`), serde_yaml_ng reads too, into
//! the same `Value`, key order included; the quick reader never panics. Keeping some top-level
//! keys (`mapping_keeping`) reads the same texts, into the same `Value` less the other keys.

#![no_main]

use kubelet_tls_guard::yaml::block;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let quick = block::mapping(text);
    if let Some(quick) = &quick {
        let full = serde_yaml_ng::from_str::<Value>(text)
            .unwrap_or_else(|e| panic!("serde_yaml_ng refuses what was read quickly: {e}"));
        assert_eq!(quick.to_string(), full.to_string());
    }
    // Every other key the whole reading found, and two common words.
    let mut keep = vec!["a", "featureGates"];
    if let Some(Value::Object(map)) = &quick {
        keep.extend(map.keys().step_by(2).map(String::as_str));
    }
    let kept = quick.clone().map(|mut v| {
        if let Value::Object(map) = &mut v {
            map.retain(|k, _| keep.contains(&k.as_str()));
        }
        v
    });
    assert_eq!(block::mapping_keeping(text, &keep), kept);
});
