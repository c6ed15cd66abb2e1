//! Bad input never panics and never hides the good input next to it: `check` exits 2 with an
//! `error` result whose one-line message (or source) names the file, and still reports the
//! other files of the same run. `fix` never damages a file: on any failure the original is
//! byte-for-byte untouched; `--diff` writes nothing; `--backup-suffix` keeps the original.
//!
//! Big and binary files are generated in temp dirs at test time, never committed.

mod common;
use common::*;
use std::fs;
use std::path::{Path, PathBuf};

/// A compliant apiserver pod: two passes, so it shows up in every run.
const GOOD: &str = "apiVersion: v1
kind: Pod
metadata:
  name: kube-apiserver
  namespace: kube-system
spec:
  containers:
  - name: kube-apiserver
    image: registry.k8s.io/kube-apiserver:v1.34.2
    command:
    - kube-apiserver
    - --kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt
    - --kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt
    - --kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key
";

/// A kubeadm-style apiserver static pod missing only the CA, which `fix` can add
/// (/etc/kubernetes/pki is mounted).
const FIXABLE: &str = "# kubeadm static pod; hand-edited
apiVersion: v1
kind: Pod
metadata:
  labels:
    component: kube-apiserver
    tier: control-plane
  name: kube-apiserver
  namespace: kube-system
spec:
  containers:
  - command:
    - kube-apiserver
    - --advertise-address=10.0.0.10
    - --kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt
    - --kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key   # keep me
    - --secure-port=6443
    image: 'registry.k8s.io/kube-apiserver:v1.34.2'
    name: kube-apiserver
    volumeMounts:
    - mountPath: /etc/kubernetes/pki
      name: k8s-certs
      readOnly: true
  hostNetwork: true
  volumes:
  - hostPath:
      path: /etc/kubernetes/pki
      type: DirectoryOrCreate
    name: k8s-certs
";

const TRUNCATED: &str = "apiVersion: v1
kind: Pod
metadata:
  name: kube-apiserver
  namespace: kube-system
spec:
  containers:
  - name: kube-apiserver
    command: [\"kube-apiserver\", \"--kubelet-client-certificate=/etc/kub";

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        fs::create_dir_all(parent).expect("mkdir");
    }
    fs::write(&p, bytes).expect("write temp file");
    p
}

/// Checks the shared expectations of a run holding one bad input `bad` and the GOOD pod from
/// `good_name`; returns the problems.
fn bad_run_problems(label: &str, run: &Run, bad: &str, good_name: &str) -> Vec<String> {
    let mut p = Vec::new();
    if run.code != 2 {
        p.push(format!("exit code {} (expected 2)", run.code));
    }
    if run.stdout.contains("panicked at") || run.stderr.contains("panicked at") {
        p.push(format!("panicked: {}", run.stderr));
    }
    match run.try_json() {
        Err(e) => p.push(e),
        Ok(report) => {
            p.extend(contract_problems(&report));
            let results = parse_results(&report);
            let errs: Vec<&Res> = results.iter().filter(|r| r.status == "error").collect();
            let naming = errs
                .iter()
                .find(|r| r.source.ends_with(bad) || r.message.contains(bad));
            match naming {
                None => p.push(format!(
                    "no error result names {bad:?}; errors: {:?}",
                    errs.iter()
                        .map(|r| (&r.source, &r.message))
                        .collect::<Vec<_>>()
                )),
                Some(r) => {
                    if r.message.trim().is_empty() || r.message.trim().contains('\n') {
                        p.push(format!("reason is not one non-empty line: {:?}", r.message));
                    }
                    if r.message.len() > 1000 {
                        p.push(format!("reason is {} bytes long", r.message.len()));
                    }
                }
            }
            let good: Vec<Res> = results
                .iter()
                .filter(|r| r.source.ends_with(good_name))
                .cloned()
                .collect();
            p.extend(verdict_problems(
                &good,
                &[
                    e("kube-system/kube-apiserver", "kube-apiserver", CLIENT, PASS),
                    e("kube-system/kube-apiserver", "kube-apiserver", CA, PASS),
                ],
                &[],
            ));
        }
    }
    p.into_iter().map(|x| format!("{label}: {x}")).collect()
}

/// Run `check` on [bad, good] (two path arguments).
fn check_bad_file(label: &str, bad_name: &str, bytes: &[u8]) -> Vec<String> {
    let tmp = tempfile::tempdir().expect("tempdir");
    let bad = write(tmp.path(), bad_name, bytes);
    let good = write(tmp.path(), "good.yaml", GOOD.as_bytes());
    let run = check_paths(None, &[&bad, &good]);
    bad_run_problems(label, &run, bad_name, "good.yaml")
}

#[test]
fn truncated_yaml() {
    assert_no_problems(
        "truncated yaml",
        &check_bad_file("truncated", "kube-apiserver.yaml", TRUNCATED.as_bytes()),
    );
}

#[test]
fn truncated_json_kubelet_config() {
    let text = r#"{"kind": "KubeletConfiguration", "apiVersion": "kubelet.config.k8s.io/v1beta1", "featureGates": {"RotateKubeletServerCertificate": tr"#;
    assert_no_problems(
        "truncated json",
        &check_bad_file("truncated json", "kubelet-config.json", text.as_bytes()),
    );
}

#[test]
fn binary_file() {
    // A PNG signature, NULs and every byte value: not text, not YAML.
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    for i in 0..4096u32 {
        bytes.push((i.wrapping_mul(2_654_435_761) >> 24) as u8);
    }
    assert_no_problems(
        "binary",
        &check_bad_file("binary", "kube-controller-manager.yaml", &bytes),
    );
}

#[test]
fn empty_file() {
    assert_no_problems(
        "empty",
        &check_bad_file("empty", "kube-scheduler.yaml", b""),
    );
}

#[test]
fn fifty_megabyte_file() {
    // A valid pod followed by 50 MB of comment lines: an input no node file comes near.
    let mut bytes = Vec::with_capacity(50 * 1024 * 1024 + 4096);
    bytes.extend_from_slice(GOOD.as_bytes());
    let line = format!("# {}\n", "x".repeat(1021));
    while bytes.len() < 50 * 1024 * 1024 {
        bytes.extend_from_slice(line.as_bytes());
    }
    assert_no_problems("50 MB", &check_bad_file("50 MB", "huge.yaml", &bytes));
}

#[test]
fn yaml_alias_bomb() {
    // "Billion laughs": 9^9 strings if the aliases were expanded.
    let mut y = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for w in names.windows(2) {
        let (prev, next) = (w[0], w[1]);
        let refs = vec![format!("*{prev}"); 9].join(",");
        y.push_str(&format!("{next}: &{next} [{refs}]\n"));
    }
    y.push_str("kind: Pod\napiVersion: v1\nmetadata: {name: bomb, namespace: kube-system}\nspec: {containers: [{name: c, image: x, command: *i}]}\n");
    assert_no_problems(
        "alias bomb",
        &check_bad_file("alias bomb", "bomb.yaml", y.as_bytes()),
    );
}

/// Deep flow nesting must neither overflow the stack nor take super-linear time: a 400 KB
/// file is parsed in milliseconds by a linear parser, so 30 s (debug build, shared machine) is
/// a bound only a quadratic parse or a hang exceeds. The child is killed at the bound.
#[test]
fn deeply_nested_yaml_fails_fast() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut y = String::from("apiVersion: v1\nkind: Pod\nmetadata: {name: deep}\nspec: ");
    y.push_str(&"[".repeat(200_000));
    y.push_str(&"]".repeat(200_000));
    y.push('\n');
    let bad = write(tmp.path(), "deep.yaml", y.as_bytes());
    let good = write(tmp.path(), "good.yaml", GOOD.as_bytes());
    let limit = std::time::Duration::from_secs(30);
    let mut child = std::process::Command::new(bin())
        .args(["check", "--format", "json"])
        .arg(&bad)
        .arg(&good)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let started = std::time::Instant::now();
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            break;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "check on 200,000-deep flow nesting (400 KB) still running after {limit:?}: \
                 parse time grows faster than the input"
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_no_problems(
        "deep nesting",
        &bad_run_problems("deep nesting", &run, "deep.yaml", "good.yaml"),
    );
}

#[test]
fn missing_path_argument() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let good = write(tmp.path(), "good.yaml", GOOD.as_bytes());
    let missing = tmp.path().join("no-such-manifest.yaml");
    let run = check_paths(None, &[&missing, &good]);
    assert_no_problems(
        "missing path",
        &bad_run_problems("missing path", &run, "no-such-manifest.yaml", "good.yaml"),
    );
}

#[test]
fn bad_stdin() {
    let run = run(
        &["check", "--format", "json", "-"],
        Some(b"\0\x01\x02\xff\xfe not yaml at all \x00"),
    );
    let mut p = Vec::new();
    if run.code != 2 {
        p.push(format!("exit code {} (expected 2)", run.code));
    }
    match run.try_json() {
        Err(e) => p.push(e),
        Ok(report) => {
            p.extend(contract_problems(&report));
            let errs = parse_results(&report)
                .into_iter()
                .filter(|r| r.status == "error")
                .count();
            if errs == 0 {
                p.push("no error result for stdin".into());
            }
        }
    }
    assert_no_problems("bad stdin", &p);
}

/// Entries of a directory that nobody can read, root included (CI runs as root, which reads a
/// chmod 000 file anyway): a symlink to itself (ELOOP) and a FIFO (never opened for a blocking
/// read). The directory's other files are still reported.
#[test]
fn unreadable_file_in_directory() {
    let mut problems = Vec::new();
    for (label, make) in [
        ("symlink loop", make_symlink_loop as fn(&Path)),
        ("fifo", make_fifo),
    ] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("manifests");
        write(&dir, "good.yaml", GOOD.as_bytes());
        make(&dir.join("kube-controller-manager.yaml"));
        let run = check_paths(None, &[&dir]);
        problems.extend(
            bad_run_problems(label, &run, "kube-controller-manager.yaml", "good.yaml")
                .into_iter()
                .map(|p| format!("{label}: {p}")),
        );
    }
    assert_no_problems("unreadable file", &problems);
}

fn make_symlink_loop(path: &Path) {
    std::os::unix::fs::symlink(path, path).expect("symlink to itself");
}

fn make_fifo(path: &Path) {
    let out = std::process::Command::new("mkfifo")
        .arg(path)
        .output()
        .expect("run mkfifo (coreutils)");
    assert!(out.status.success(), "mkfifo: {out:?}");
}

/// A manifest symlink whose target is gone cannot be read, whoever runs the check.
#[test]
fn dangling_symlink_in_directory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("manifests");
    write(&dir, "good.yaml", GOOD.as_bytes());
    std::os::unix::fs::symlink(
        tmp.path().join("gone/kube-controller-manager.yaml"),
        dir.join("kube-controller-manager.yaml"),
    )
    .expect("symlink");
    let run = check_paths(None, &[&dir]);
    assert_no_problems(
        "dangling symlink",
        &bad_run_problems(
            "dangling symlink",
            &run,
            "kube-controller-manager.yaml",
            "good.yaml",
        ),
    );
}

// ---------------------------------------------------------------- fix

fn fix(args: &[&str], paths: &[&Path]) -> Run {
    let mut all: Vec<String> = vec!["fix".into()];
    all.extend(args.iter().map(|s| s.to_string()));
    all.extend(paths.iter().map(|p| p.to_string_lossy().into_owned()));
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    run(&refs, None)
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// `a`'s lines appear in `b` in the same order (b only adds lines).
fn is_subsequence(a: &str, b: &str) -> bool {
    let mut it = b.lines();
    a.lines().all(|line| it.any(|l| l == line))
}

#[test]
fn fix_in_place_leaves_unparseable_file_untouched() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let bad = write(tmp.path(), "kube-apiserver.yaml", TRUNCATED.as_bytes());
    let before = listing(tmp.path());
    let run = fix(&["--in-place"], &[&bad]);
    let mut p = Vec::new();
    if run.code == 0 {
        p.push("exit 0 although the file cannot be parsed".to_string());
    }
    if fs::read(&bad).expect("read") != TRUNCATED.as_bytes() {
        p.push("the unparseable file was modified".into());
    }
    if listing(tmp.path()) != before {
        p.push(format!("stray files left: {:?}", listing(tmp.path())));
    }
    if run.stderr.contains("panicked at") {
        p.push(format!("panicked: {}", run.stderr));
    }
    assert_no_problems("fix unparseable", &p);
}

/// One good and one bad file in the same `fix --in-place` run: the bad one stays byte-for-byte.
#[test]
fn fix_in_place_with_one_bad_file_among_good() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let good = write(tmp.path(), "a-kube-apiserver.yaml", FIXABLE.as_bytes());
    let bad_bytes: Vec<u8> = b"apiVersion: v1\nkind: Pod\n\0\xff\xfe garbage".to_vec();
    let bad = write(tmp.path(), "b-broken.yaml", &bad_bytes);
    let run = fix(&["--in-place"], &[&good, &bad]);
    let mut p = Vec::new();
    if run.code == 0 {
        p.push("exit 0 although one input is invalid".to_string());
    }
    if fs::read(&bad).expect("read") != bad_bytes {
        p.push("the invalid file was modified".into());
    }
    assert_no_problems("fix mixed", &p);
}

/// A write that fails even for root (CI runs as root, which writes into a 0555 directory
/// anyway): a directory sits where the backup must go, so the backup cannot be renamed into
/// place. Both plausible backup names are occupied, the visible and the hidden one.
#[test]
fn fix_in_place_when_the_backup_cannot_be_written_leaves_file_untouched() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("manifests");
    let file = write(&dir, "kube-apiserver.yaml", FIXABLE.as_bytes());
    for name in ["kube-apiserver.yaml.bak", ".kube-apiserver.yaml.bak"] {
        fs::create_dir(dir.join(name)).expect("mkdir in the backup's place");
    }
    let before = listing(&dir);
    let run = fix(&["--in-place", "--backup-suffix", ".bak"], &[&file]);
    let mut p = Vec::new();
    if run.code == 0 {
        p.push("exit 0 although the backup could not be written".to_string());
    }
    if run.stderr.contains("panicked at") {
        p.push(format!("panicked: {}", run.stderr));
    }
    if fs::read(&file).expect("read") != FIXABLE.as_bytes() {
        p.push("file modified without its backup".into());
    }
    if listing(&dir) != before {
        p.push(format!("stray files: {:?}", listing(&dir)));
    }
    for name in ["kube-apiserver.yaml.bak", ".kube-apiserver.yaml.bak"] {
        if !listing(&dir.join(name)).is_empty() {
            p.push(format!("files written inside {name}/"));
        }
    }
    assert_no_problems("fix with the backup blocked", &p);
}

#[test]
fn fix_diff_prints_unified_diff_and_writes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = write(tmp.path(), "kube-apiserver.yaml", FIXABLE.as_bytes());
    let before = listing(tmp.path());
    let run = fix(&["--diff"], &[&file]);
    let mut p = Vec::new();
    if run.code == 2 || run.code < 0 {
        p.push(format!("exit {} ({})", run.code, run.stderr));
    }
    let out = &run.stdout;
    for marker in ["--- ", "+++ ", "@@ "] {
        if !out.lines().any(|l| l.starts_with(marker)) {
            p.push(format!("no {marker:?} line in the diff:\n{out}"));
        }
    }
    if !out.lines().any(|l| {
        l.starts_with('+')
            && !l.starts_with("+++")
            && l.contains("--kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt")
    }) {
        p.push(format!("the diff does not add the CA flag:\n{out}"));
    }
    if out
        .lines()
        .any(|l| l.starts_with('-') && !l.starts_with("---"))
    {
        p.push(format!(
            "the diff removes lines (should only add the flag):\n{out}"
        ));
    }
    if fs::read(&file).expect("read") != FIXABLE.as_bytes() {
        p.push("--diff modified the file".into());
    }
    if listing(tmp.path()) != before {
        p.push(format!("--diff left files: {:?}", listing(tmp.path())));
    }
    assert_no_problems("fix --diff", &p);
}

#[test]
fn fix_in_place_with_backup() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = write(tmp.path(), "kube-apiserver.yaml", FIXABLE.as_bytes());
    fs::set_permissions(&file, fs::Permissions::from_mode(0o640)).expect("chmod 640");
    let run = fix(&["--in-place", "--backup-suffix", ".bak"], &[&file]);
    let mut p = Vec::new();
    if run.code != 0 {
        p.push(format!("exit {} (expected 0): {}", run.code, run.stderr));
    }
    // Hidden: the kubelet runs every non-hidden file of its static pod directory.
    let backup = tmp.path().join(".kube-apiserver.yaml.bak");
    match fs::read(&backup) {
        Ok(b) if b == FIXABLE.as_bytes() => {}
        Ok(_) => p.push("backup differs from the original".into()),
        Err(e) => p.push(format!("no backup {}: {e}", backup.display())),
    }
    let fixed = fs::read_to_string(&file).unwrap_or_default();
    if fixed == FIXABLE {
        p.push("file not changed".into());
    }
    if !is_subsequence(FIXABLE, &fixed) {
        p.push(format!(
            "lines outside the change were altered (comments/quoting/indentation):\n{fixed}"
        ));
    }
    let mode = fs::metadata(&file)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0);
    if mode != 0o640 {
        p.push(format!("file mode {mode:o}, expected 640"));
    }
    let names = listing(tmp.path());
    if names
        != vec![
            ".kube-apiserver.yaml.bak".to_string(),
            "kube-apiserver.yaml".to_string(),
        ]
    {
        p.push(format!("unexpected files after fix: {names:?}"));
    }
    // The fixed file now passes both apiserver rules.
    let check = check_paths(None, &[&file]);
    p.extend(check_case(
        "re-check after fix",
        &check,
        &[
            e("kube-system/kube-apiserver", "kube-apiserver", CLIENT, PASS),
            e("kube-system/kube-apiserver", "kube-apiserver", CA, PASS),
        ],
        &[],
    ));
    assert_no_problems("fix --in-place --backup-suffix", &p);
}

/// `fix` of a JSON kubelet config keeps it JSON (and valid).
#[test]
fn fix_keeps_json_json() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let original = "{\n  \"kind\": \"KubeletConfiguration\",\n  \"apiVersion\": \"kubelet.config.k8s.io/v1beta1\",\n  \"maxPods\": 58\n}\n";
    let file = write(tmp.path(), "kubelet-config.json", original.as_bytes());
    let run = fix(&["--in-place"], &[&file]);
    let mut p = Vec::new();
    if run.code == 2 || run.code < 0 {
        p.push(format!("exit {}: {}", run.code, run.stderr));
    }
    let text = fs::read_to_string(&file).unwrap_or_default();
    match serde_json::from_str::<serde_json::Value>(&text) {
        Err(e) => p.push(format!("not JSON after fix ({e}):\n{text}")),
        Ok(v) => {
            if v.get("maxPods") != Some(&serde_json::json!(58)) {
                p.push(format!("other fields not kept: {v}"));
            }
            if v.pointer("/featureGates/RotateKubeletServerCertificate")
                != Some(&serde_json::json!(true))
            {
                p.push(format!("gate not set: {v}"));
            }
            if v.get("serverTLSBootstrap") != Some(&serde_json::json!(true)) {
                p.push(format!("serverTLSBootstrap not set: {v}"));
            }
        }
    }
    assert_no_problems("fix json", &p);
}

#[test]
fn generated_files_stay_out_of_the_repo() {
    // The big/binary inputs above are created in temp dirs; nothing of the kind is committed.
    let dir = fixtures_dir();
    for entry in walkdir::WalkDir::new(&dir) {
        let entry = entry.expect("walk");
        if entry.file_type().is_file() {
            let len = entry.metadata().expect("metadata").len();
            assert!(
                len < 256 * 1024,
                "{} is {len} bytes: generate big inputs at test time",
                entry.path().display()
            );
        }
    }
}

/// Kubelet flags files are repaired in place too: only the gate's line changes, the backup is
/// the original, the result passes.
#[test]
fn fix_in_place_flags_files() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut p = Vec::new();
    let cases: [(&str, &str, Vec<Exp>); 2] = [
        (
            "node/var/lib/kubelet/kubeadm-flags.env",
            "kubeadm-flags.env",
            vec![e(ANY, "KUBELET_KUBEADM_ARGS", KROT, PASS)],
        ),
        (
            "kubelet/dropin-execstart.conf",
            "20-tls.conf",
            vec![e(ANY, ANY, KROT, PASS), e(ANY, ANY, KBOOT, PASS)],
        ),
    ];
    for (fixture, name, after) in cases {
        let original = fs::read_to_string(fixtures_dir().join(fixture)).expect("read fixture");
        let file = write(tmp.path(), name, original.as_bytes());
        fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).expect("chmod 600");
        let run = fix(&["--in-place", "--backup-suffix", ".orig"], &[&file]);
        let mode = fs::metadata(&file)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0);
        if mode != 0o600 {
            p.push(format!(
                "{fixture}: file mode {mode:o} after fix, expected 600"
            ));
        }
        if run.code != 0 {
            p.push(format!("{fixture}: exit {}: {}", run.code, run.stderr));
        }
        let backup = tmp.path().join(format!(".{name}.orig"));
        if fs::read_to_string(&backup).ok().as_deref() != Some(original.as_str()) {
            p.push(format!("{fixture}: backup missing or not the original"));
        }
        let fixed = fs::read_to_string(&file).unwrap_or_default();
        let (a, b): (Vec<&str>, Vec<&str>) = (original.lines().collect(), fixed.lines().collect());
        let changed = a.iter().zip(&b).filter(|(x, y)| x != y).count();
        if a.len() != b.len() || changed != 1 {
            p.push(format!(
                "{fixture}: expected exactly one line to change, got {changed} of {} -> {} lines:\n{fixed}",
                a.len(),
                b.len()
            ));
        }
        let check = check_paths(None, &[&file]);
        p.extend(check_case(
            &format!("{fixture} re-check"),
            &check,
            &after,
            &[],
        ));
    }
    assert_no_problems("fix flags files", &p);
}
