//! The cursor accepts what serde_json accepts, or is not sure; it never accepts what serde_json
//! refuses, apart from `\u` escapes it does not decode in strings it skips.

use super::*;

/// Skip `text` as one value, as the quick readers skip a member they do not keep.
fn skips(text: &str) -> bool {
    let mut c = Cursor::new(text);
    c.skip().and_then(|()| c.finish()).is_ok()
}

fn serde_accepts(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text).is_ok()
}

#[test]
fn it_skips_json_and_refuses_what_is_not() {
    let json = [
        "null",
        "true",
        " false ",
        "0",
        "-0",
        "12.5",
        "-3.25",
        r#""""#,
        r#""a \"quoted\" \\ \/ \b\f\n\r\t \u00e9 word""#,
        r#"{"a": [1, 2, {"b": null}], "c": {}, "d": []}"#,
        "[[], [[]], {\"x\": [\"y\"]}]",
        "\n\t{ \"k\" :\r\n \"v\" }\n",
    ];
    for text in json {
        assert!(serde_accepts(text), "{text}");
        assert!(skips(text), "{text}");
    }
    let not_json = [
        "",
        "nul",
        "truex",
        "01",
        "1.",
        ".5",
        "-",
        "+1",
        "\"open",
        "\"tab\tinside\"",
        r#""bad \x escape""#,
        r#""\u12g4""#,
        "[1,]",
        "[1 2]",
        "{\"a\" 1}",
        "{\"a\": 1,}",
        "{a: 1}",
        "{\"a\": 1} x",
        "[",
        "{",
        "[1}",
        "{\"a\": 1]",
        "{\"a\": [}]",
        "[{]}",
        "[\"a\": 1]",
        "{\"a\", 1}",
        "NaN",
        "Infinity",
    ];
    for text in not_json {
        assert!(!serde_accepts(text), "serde_json accepts {text}");
        assert!(!skips(text), "{text}");
    }
}

#[test]
fn what_serde_json_may_refuse_is_left_to_it() {
    // Out of f64's range for serde_json; not checked here.
    for text in ["1e400", "1E5", "2.5e-3"] {
        assert!(!skips(text), "{text}");
    }
    let long = "9".repeat(400);
    assert!(!skips(&long));
    let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
    assert!(!skips(&deep));
    let shallow = format!("{}{}", "[".repeat(60), "]".repeat(60));
    assert!(skips(&shallow));
    // Up to 63 levels are skipped here, mappings and lists alike; serde_json reads 127.
    for (open, close) in [("[", "]"), ("{\"k\":", "}")] {
        let nested = |n: usize| format!("{}1{}", open.repeat(n), close.repeat(n));
        assert!(skips(&nested(63)), "{open}");
        assert!(!skips(&nested(64)), "{open}");
        assert!(serde_accepts(&nested(64)), "{open}");
    }
}

#[test]
fn kept_strings_are_borrowed_and_escaped_ones_are_left_to_serde_json() {
    let text = r#"{"name": "web", "other": "a\"b", "x": 1}"#;
    let mut c = Cursor::new(text);
    assert_eq!(c.first_key(), Ok(Some("name")));
    let name = c.string().expect("a plain string");
    assert!(std::ptr::eq(name.as_ptr(), &text.as_bytes()[10]));
    assert_eq!(c.next_key(), Ok(Some("other")));
    assert_eq!(c.string(), Err(Unsure));
    let mut c = Cursor::new(r#"{"a\u0062": 1}"#);
    assert_eq!(c.first_key(), Err(Unsure));
}

#[test]
fn lists_and_booleans() {
    let mut c = Cursor::new(r#"[true, false, "x"]"#);
    assert_eq!(c.first_item(), Ok(true));
    assert_eq!(c.boolean(), Ok(true));
    assert_eq!(c.next_item(), Ok(true));
    assert_eq!(c.boolean(), Ok(false));
    assert_eq!(c.next_item(), Ok(true));
    assert_eq!(c.boolean(), Err(Unsure));
    assert_eq!(c.string(), Ok("x"));
    assert_eq!(c.next_item(), Ok(false));
    assert_eq!(c.finish(), Ok(()));
    let mut c = Cursor::new("[]");
    assert_eq!(c.first_item(), Ok(false));
}

/// Strings are scanned sixteen bytes at a time, then eight: a quote, a backslash or a control
/// character is found wherever it falls in a chunk, and multi-byte UTF-8 passes.
#[test]
fn the_string_scan_stops_at_the_first_byte_that_ends_a_run() {
    for len in 0..72 {
        let plain: String = "aé0/-".chars().cycle().take(len).collect();
        let text = format!("\"{plain}\" ");
        let mut c = Cursor::new(&text);
        assert_eq!(c.string(), Ok(plain.as_str()), "{text}");
        assert!(skips(&text));
        for stop in ["\\n", "\\\"", "\u{1}", "\t"] {
            let text = format!("\"{plain}{stop}{plain}\"");
            assert_eq!(Cursor::new(&text).string(), Err(Unsure), "{text:?}");
            assert_eq!(skips(&text), serde_accepts(&text), "{text:?}");
        }
    }
}

/// Whitespace of every kind and run length between tokens, as indented bodies have it: the
/// cursor reads the same members as from the compact text.
#[test]
fn it_reads_past_whitespace_of_any_run() {
    for run in 0..40 {
        for kind in [" ", "\n", "\t", "\r\n", "\n  \t"] {
            let ws = |extra: usize| format!("{kind}{}", " ".repeat(run + extra));
            let text = format!(
                "{0}{{{1}\"a\"{2}:{3}[{4}1{5},{6}\"x\"{7}]{8},{9}\"b\"{10}:{11}true{12}}}{13}",
                ws(0),
                ws(1),
                ws(2),
                ws(3),
                ws(4),
                ws(5),
                ws(6),
                ws(7),
                ws(8),
                ws(9),
                ws(10),
                ws(11),
                ws(12),
                ws(13),
            );
            assert!(serde_accepts(&text), "{text:?}");
            assert!(skips(&text), "{text:?}");
            let mut c = Cursor::new(&text);
            assert_eq!(c.first_key(), Ok(Some("a")), "{text:?}");
            c.skip().expect("the list");
            assert_eq!(c.next_key(), Ok(Some("b")), "{text:?}");
            assert_eq!(c.boolean(), Ok(true), "{text:?}");
            assert_eq!(c.next_key(), Ok(None), "{text:?}");
            assert_eq!(c.finish(), Ok(()), "{text:?}");
            // Cut before the closing brace, it is not whole.
            let end = text.rfind('}').unwrap_or(0);
            assert!(!skips(&text[..end]), "{text:?}");
        }
    }
}

/// A decoded string is serde_json's, for every one-character escape; a `\u` escape or a raw
/// control character is left to serde_json.
#[test]
fn decoded_strings_are_serde_jsons() {
    let decoded = |json: &str| {
        let mut c = Cursor::new(json);
        c.decoded_string().map(|s| (s, c.index()))
    };
    for json in [
        r#""""#,
        r#""plain""#,
        r#""a\"b\\c\/d\be\ff\ng\rh\ti""#,
        r#""\n\n\n""#,
        r#""kind: KubeletConfiguration\nserverTLSBootstrap: true\n""#,
        r#""héllo wörld\n✓""#,
        r#""\"""#,
    ] {
        let serde: String = serde_json::from_str(json).expect(json);
        assert_eq!(decoded(json), Ok((serde, json.len())), "{json}");
    }
    for json in [
        r#""\u0041""#,
        r#""a\qb""#,
        "\"a\u{1}b\"",
        r#""open"#,
        r#""a\"#,
    ] {
        assert_eq!(decoded(json), Err(Unsure), "{json}");
    }
}

/// Strings with escapes are decoded in one buffer a thread keeps: one decoded after a longer
/// one, or after one the buffer does not keep, holds only its own text.
#[test]
fn each_decoded_string_is_its_own() {
    let line = "key: value\n".repeat(8 * 1024);
    for text in ["a\nb", line.as_str(), "c\td", line.as_str(), "e\\"] {
        let json = serde_json::to_string(text).expect("a string serialises");
        let mut c = Cursor::new(&json);
        assert_eq!(c.decoded_string().as_deref(), Ok(text));
        assert_eq!(c.index(), json.len());
    }
    // Refused halfway (a `\u` escape), the next string is decoded whole all the same.
    assert_eq!(Cursor::new(r#""ab\n\u00e9""#).decoded_string(), Err(Unsure));
    assert_eq!(
        Cursor::new(r#""x\ny""#).decoded_string().as_deref(),
        Ok("x\ny")
    );
}

proptest::proptest! {
    /// Any text, written as JSON by serde_json: decoded here as serde_json reads it back, or
    /// left to serde_json (a `\u` escape).
    #[test]
    fn any_string_decodes_as_serde_json_reads_it(text in "(?s).{0,40}") {
        let json = serde_json::to_string(&text).expect("a string serialises");
        let mut c = Cursor::new(&json);
        match c.decoded_string() {
            Ok(s) => {
                proptest::prop_assert_eq!(s, text);
                proptest::prop_assert_eq!(c.index(), json.len());
            }
            Err(Unsure) => proptest::prop_assert!(json.contains("\\u"), "{}", json),
        }
    }
}

/// JSON values without what the cursor leaves to serde_json (exponents, `\u` escapes, deep
/// nesting): mappings and lists of mappings, lists, strings, integers, decimals and literals.
fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    use proptest::prelude::*;
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-999i32..999, 1u32..99).prop_map(|(i, f)| {
            serde_json::from_str(&format!("{i}.{f}")).unwrap_or(Value::Null)
        }),
        "[a-z\"\\\\/\n\té ]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec(("[a-z\"]{0,6}", inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

proptest::proptest! {
    /// Any such value, compact or indented, is skipped to its end.
    #[test]
    fn skips_what_serde_json_writes(v in json_value(), pretty in proptest::bool::ANY) {
        let text = if pretty {
            serde_json::to_string_pretty(&v)
        } else {
            serde_json::to_string(&v)
        }
        .expect("a value serialises");
        let mut c = Cursor::new(&text);
        proptest::prop_assert_eq!(c.skip(), Ok(()), "{}", text);
        proptest::prop_assert_eq!(c.index(), text.len(), "{}", text);
    }

    /// One byte removed, or one piece of JSON put in, anywhere: skipped only when serde_json
    /// reads the text too, and then to the same end.
    #[test]
    fn skips_only_what_serde_json_reads(
        v in json_value(),
        at in proptest::num::usize::ANY,
        piece in proptest::sample::select(vec![
            "", "{", "}", "[", "]", ",", ":", "\"", "\\", "1", "-", ".", "true", "nul", " ",
            "\u{1}", "\"k\":", "[]", "{}",
        ]),
    ) {
        let text = serde_json::to_string(&v).expect("a value serialises");
        let mut bad = text.clone();
        let at = at % (bad.len() + 1);
        if bad.is_char_boundary(at) {
            if piece.is_empty() {
                if let Some(ch) = bad.get(at..).and_then(|rest| rest.chars().next()) {
                    bad.replace_range(at..at + ch.len_utf8(), "");
                }
            } else {
                bad.insert_str(at, piece);
            }
        }
        if skips(&bad) {
            proptest::prop_assert!(serde_accepts(&bad), "{:?}", bad);
        }
    }
}
