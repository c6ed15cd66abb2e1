//! `check` over many files: inputs judged on every core, a bounded batch at a time, their
//! records handed on in input order while the next batch is judged. Memory holds a few batches,
//! whatever the number of files.

use crate::engine::policy::Policy;
use crate::node::check::{self, Input};
use crate::report::Record;
use std::path::PathBuf;
use std::sync::mpsc;

/// Inputs judged together: large enough to keep every core busy, small enough not to matter.
const BATCH: usize = 256;
/// Batches judged ahead of the writer.
const AHEAD: usize = 2;

/// Judge the files under `paths` and hand `consume` their records, in input order.
pub fn audit_paths<R>(
    paths: &[PathBuf],
    policy: &Policy,
    consume: impl FnOnce(&mut dyn Iterator<Item = Record>) -> R,
) -> R {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<Vec<Record>>(AHEAD);
        scope.spawn(move || {
            let mut inputs = check::inputs(paths);
            loop {
                let batch: Vec<Input> = inputs.by_ref().take(BATCH).collect();
                if batch.is_empty() {
                    break;
                }
                // The writer stopped (e.g. a closed pipe): stop judging.
                if tx.send(audit_batch(&batch, policy, threads)).is_err() {
                    break;
                }
            }
        });
        let mut records = rx.into_iter().flatten();
        consume(&mut records)
    })
}

/// One batch, split in contiguous parts across `threads`; records in input order.
fn audit_batch(batch: &[Input], policy: &Policy, threads: usize) -> Vec<Record> {
    let audit = |part: &[Input]| -> Vec<Record> {
        part.iter()
            .flat_map(|i| check::audit_input(i, policy))
            .collect()
    };
    if threads <= 1 || batch.len() < 2 {
        return audit(batch);
    }
    let size = batch.len().div_ceil(threads);
    let mut parts = batch.chunks(size);
    let first = parts.next().unwrap_or(&[]);
    std::thread::scope(|scope| {
        let helpers: Vec<_> = parts.map(|p| scope.spawn(move || audit(p))).collect();
        let mut out = audit(first);
        for h in helpers {
            match h.join() {
                Ok(records) => out.extend(records),
                // A panic is a bug: surface it as the sequential run would.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [&str; 3] = [
        "apiVersion: v1\nkind: Pod\nmetadata: {name: kube-apiserver, namespace: kube-system}\nspec:\n  containers:\n  - name: a\n    command: [kube-apiserver, --kubelet-client-certificate=/c, --kubelet-client-key=/k]\n",
        "kind: KubeletConfiguration\napiVersion: kubelet.config.k8s.io/v1beta1\nserverTLSBootstrap: true\n",
        "kind: Pod\nspec: [unclosed\n",
    ];

    fn tree() -> tempfile::TempDir {
        let tmp = tempfile::tempdir().expect("tempdir");
        // More than two batches, in two directories, with names whose order is not numeric.
        for i in 0..(2 * BATCH + 37) {
            let dir = tmp.path().join(if i % 2 == 0 { "a" } else { "b" });
            std::fs::create_dir_all(&dir).expect("mkdir");
            std::fs::write(dir.join(format!("{i}.yaml")), KINDS[i % 3]).expect("write");
        }
        tmp
    }

    #[test]
    fn parallel_records_are_the_sequential_ones_in_the_same_order() {
        let tmp = tree();
        let paths = vec![tmp.path().to_path_buf(), tmp.path().join("a/1.yaml")];
        let policy = Policy::default();
        let sequential: Vec<Record> = check::inputs(&paths)
            .flat_map(|i| check::audit_input(&i, &policy))
            .collect();
        let parallel: Vec<Record> = audit_paths(&paths, &policy, |r| r.collect());
        assert!(sequential.len() > 4 * BATCH, "{}", sequential.len());
        assert!(parallel == sequential, "order or content differs");
        // One thread or many: the same.
        let batch: Vec<Input> = check::inputs(&paths).take(BATCH).collect();
        assert!(audit_batch(&batch, &policy, 1) == audit_batch(&batch, &policy, 3));
    }

    #[test]
    fn a_writer_that_stops_early_stops_the_judging() {
        let tmp = tree();
        let policy = Policy::default();
        let first = audit_paths(&[tmp.path().to_path_buf()], &policy, |r| r.next());
        assert!(first.is_some());
    }
}
