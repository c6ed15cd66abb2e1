use super::*;

fn toks(words: &[&str]) -> Vec<Token<'static>> {
    words
        .iter()
        .enumerate()
        .map(|(i, w)| Token {
            text: w.to_string().into(),
            origin: Origin::Item {
                list: List::Command,
                index: i,
            },
        })
        .collect()
}

#[test]
fn forms_and_repeats() {
    let f = Flags::parse(toks(&[
        "--kubelet-client-key",
        "/k",
        "--kubelet-certificate-authority=/ca",
        "--profiling",
        "--kubelet-client-certificate=/c",
        "--kubelet-certificate-authority=",
    ]));
    assert_eq!(f.value("kubelet-client-key"), Some("/k"));
    assert_eq!(f.value("kubelet-client-certificate"), Some("/c"));
    assert_eq!(f.value("kubelet-certificate-authority"), None);
    assert_eq!(f.bool_value("profiling"), Some(Ok(true)));
    assert_eq!(f.last_flag_token(), Some(5));
}

#[test]
fn value_flag_takes_dashed_word_and_terminator_stops() {
    let f = Flags::parse(toks(&["--config", "-", "--", "--kubelet-client-key=/k"]));
    assert_eq!(f.last("config").and_then(|o| f.value_of(o)), Some("-"));
    assert_eq!(f.terminator, Some(2));
    assert_eq!(f.value("kubelet-client-key"), None);
}

#[test]
fn gates_accumulate_and_trim() {
    let f = Flags::parse(toks(&[
        "--feature-gates=A=true, RotateKubeletServerCertificate = false",
        "--feature-gates",
        "B=1,RotateKubeletServerCertificate=T",
        "--feature-gates=C=yes,D",
    ]));
    let g = f.feature_gates();
    assert_eq!(g.get("A").map(|g| g.value.clone()), Some(Ok(true)));
    assert_eq!(g.get("B").map(|g| g.value.clone()), Some(Ok(true)));
    let r = g.get("RotateKubeletServerCertificate").unwrap();
    assert_eq!(r.value, Ok(true));
    assert_eq!(r.occurrence, 1);
    assert_eq!(
        &"B=1,RotateKubeletServerCertificate=T"[r.span.clone()],
        "RotateKubeletServerCertificate=T"
    );
    assert_eq!(g.get("C").map(|g| g.value.clone()), Some(Err("yes".into())));
    assert_eq!(g.malformed, vec!["D".to_string()]);
}

#[test]
fn go_parse_bool() {
    for t in ["1", "t", "T", "TRUE", "true", "True", " true "] {
        assert_eq!(parse_bool(t), Some(true), "{t}");
    }
    for f in ["0", "f", "F", "FALSE", "false", "False"] {
        assert_eq!(parse_bool(f), Some(false), "{f}");
    }
    for bad in ["yes", "on", "tRuE", ""] {
        assert_eq!(parse_bool(bad), None, "{bad}");
    }
}

/// The last occurrence named `name`, found by a scan of every occurrence.
fn scan(f: &Flags, name: &str) -> Option<usize> {
    f.occurrences.iter().rposition(|o| f.name(o) == name)
}

proptest::proptest! {
    /// The audited flags' last occurrences, kept while parsing, are the ones a scan finds:
    /// through every form (`--f=v`, `--f v`, `-f`), repeats, a value that looks like a flag,
    /// positional words and `--`.
    #[test]
    fn kept_last_occurrences_are_the_scanned_ones(
        picks in proptest::collection::vec(0usize..16, 0..24),
    ) {
        const WORDS: [&str; 16] = [
            "--kubelet-client-certificate=/c",
            "--kubelet-client-certificate",
            "-kubelet-client-key=/k",
            "--kubelet-client-key",
            "--kubelet-certificate-authority",
            "--kubelet-certificate-authority=",
            "--rotate-server-certificates",
            "--rotate-server-certificates=false",
            "--feature-gates=A=true",
            "--feature-gates",
            "--config",
            "-",
            "--",
            "--profiling",
            "positional",
            "--kubelet-client-keys=/x",
        ];
        let words: Vec<&str> = picks.iter().filter_map(|&i| WORDS.get(i).copied()).collect();
        let f = Flags::parse(toks(&words));
        for name in [
            "kubelet-client-certificate",
            "kubelet-client-key",
            "kubelet-certificate-authority",
            "rotate-server-certificates",
            "feature-gates",
            "config",
            "profiling",
            "kubelet-client-keys",
        ] {
            proptest::prop_assert_eq!(f.last_index(name), scan(&f, name), "{} in {:?}", name, words);
        }
    }
}
