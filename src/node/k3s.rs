//! k3s/RKE2 configuration with drop-ins: `config.yaml` (if present), then `config.yaml.d/`
//! `*.yaml`/`*.yml` in name order, merged as k3s's code does it (`engine::read::sources::
//! k3s_args::merge`): a later value for a key replaces the earlier one, lists included; a key
//! written with a `+` suffix appends to it instead. The merged object is judged once; a fix is
//! written back into the file each item came from (a new item goes to the file that last wrote
//! that key).

use crate::engine::policy::Policy;
use crate::engine::read::sources::{k3s_args, looks_like_k3s};
use crate::engine::{self, verdict};
use crate::node::fix::Fixed;
use crate::node::inputs::{self, Format, Item, Parsed};
use json_patch::PatchOperation;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A main configuration file and its drop-ins, in the order k3s reads them.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub main: PathBuf,
    pub dropins: Vec<PathBuf>,
}

fn dropin_dir(main: &Path) -> PathBuf {
    let mut name = main.file_name().unwrap_or_default().to_os_string();
    name.push(".d");
    main.with_file_name(name)
}

/// The group `path` belongs to: `path` is a main file with a `NAME.d` directory of YAML
/// drop-ins, or one of those drop-ins. `None` for anything else.
pub fn group_of(path: &Path) -> Option<Group> {
    let parent = path.parent()?;
    let main = match parent.file_name().and_then(|n| n.to_str()) {
        // k3s reads the drop-ins also when the main file does not exist.
        Some(dir)
            if dir.ends_with(".d") && !parent.with_file_name(&dir[..dir.len() - 2]).is_dir() =>
        {
            parent.with_file_name(&dir[..dir.len() - 2])
        }
        _ => path.to_path_buf(),
    };
    // k3s `dotDFiles`: every entry but directories whose name ends in .yaml or .yml, any case,
    // in name order.
    let mut dropins: Vec<PathBuf> = std::fs::read_dir(dropin_dir(&main))
        .ok()?
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                let n = n.to_ascii_lowercase();
                n.ends_with(".yaml") || n.ends_with(".yml")
            })
        })
        .collect();
    dropins.sort();
    if dropins.is_empty() {
        return None;
    }
    Some(Group { main, dropins })
}

impl Group {
    pub fn files(&self) -> impl Iterator<Item = &PathBuf> {
        std::iter::once(&self.main).chain(&self.dropins)
    }
}

/// One file of a group as read.
struct File {
    path: PathBuf,
    text: String,
    value: Map<String, Value>,
}

/// Where each item of the merged object came from.
#[derive(Default)]
struct Provenance {
    /// key → for each item (or the scalar) of the merged value: (file, pointer in that file).
    items: BTreeMap<String, Vec<(usize, String)>>,
    /// key → (file, key as written there) that last wrote it: new items go there.
    container: BTreeMap<String, (usize, String)>,
}

fn read(group: &Group) -> Result<Vec<File>, String> {
    group
        .files()
        // A missing main file is fine when drop-ins exist (k3s `readConfigFile`).
        .filter(|p| *p != &group.main || group.main.exists())
        .map(|p| {
            let text = inputs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
            let value = if text.trim().is_empty() {
                Map::new()
            } else {
                match serde_yaml_ng::from_str::<Value>(&text) {
                    Ok(Value::Object(m)) => m,
                    Ok(Value::Null) => Map::new(),
                    Ok(_) => return Err(format!("{}: not a YAML mapping", p.display())),
                    Err(e) => return Err(format!("{}: invalid YAML: {e}", p.display())),
                }
            };
            Ok(File {
                path: p.clone(),
                text,
                value,
            })
        })
        .collect()
}

fn merge(files: &[File]) -> (Value, Provenance) {
    let maps: Vec<&Map<String, Value>> = files.iter().map(|f| &f.value).collect();
    let m = k3s_args::merge(&maps);
    let prov = Provenance {
        items: m.items,
        container: m.container,
    };
    (Value::Object(m.value), prov)
}

fn esc(t: &str) -> String {
    t.replace('~', "~0").replace('/', "~1")
}

/// How records name a group: its main file and how many drop-ins joined it.
pub fn source_name(group: &Group) -> String {
    format!(
        "{} (+{} drop-ins)",
        group.main.display(),
        group.dropins.len()
    )
}

/// The merged configuration of a group, as `check` judges it (one object).
pub fn parsed_group(group: &Group) -> Result<Parsed, String> {
    let files = read(group)?;
    let (merged, _) = merge(&files);
    Ok(Parsed {
        format: Format::Yaml,
        items: vec![Item::Object {
            doc: 0,
            item: None,
            value: merged,
        }],
    })
}

/// Is `group` a k3s/RKE2 configuration (its merged content says so)?
pub fn is_k3s(group: &Group) -> bool {
    read(group).is_ok_and(|files| looks_like_k3s(&merge(&files).0))
}

/// An operation on the merged object, as an operation on one file of the group.
fn to_file(op: &PatchOperation, prov: &mut Provenance) -> Option<(usize, PatchOperation)> {
    let path = op.path().to_string();
    let mut toks = path.splitn(3, '/').skip(1);
    let key = toks.next()?.replace("~1", "/").replace("~0", "~");
    let rest = toks.next();
    let (file, pointer) = match rest {
        None => {
            // A key no file writes yet is created in the main file; later items follow it.
            let (f, k) = prov
                .container
                .entry(key.clone())
                .or_insert((0, key.clone()))
                .clone();
            (f, format!("/{}", esc(&k)))
        }
        Some("-") => {
            let (f, k) = prov.container.get(&key)?.clone();
            (f, format!("/{}/-", esc(&k)))
        }
        Some(idx) => {
            let (i, tail) = idx.split_once('/').map_or((idx, ""), |(a, b)| (a, b));
            let (f, p) = prov.items.get(&key)?.get(i.parse::<usize>().ok()?)?.clone();
            let tail = if tail.is_empty() {
                String::new()
            } else {
                format!("/{tail}")
            };
            (f, format!("{p}{tail}"))
        }
    };
    let ptr = json_patch::jsonptr::PointerBuf::parse(pointer).ok()?;
    let op = match op.clone() {
        PatchOperation::Add(mut o) => {
            o.path = ptr;
            PatchOperation::Add(o)
        }
        PatchOperation::Replace(mut o) => {
            o.path = ptr;
            PatchOperation::Replace(o)
        }
        _ => return None,
    };
    Some((file, op))
}

/// Fix a group: each file's new text (unchanged files included), with notes on the main file.
pub fn fix_group(group: &Group, policy: &Policy) -> Result<Vec<(PathBuf, String, Fixed)>, String> {
    let files = read(group)?;
    let (merged, mut prov) = merge(&files);
    let eval = engine::evaluate(&merged, policy).map_err(|e| e.to_string())?;
    let v = verdict::judge(policy, &eval, "", "");
    let rules = v.all_remediable_rules();
    let rem = engine::remediate_evaluation(&merged, &eval, policy, &|r| rules.contains(&r));
    let mut per_file: BTreeMap<usize, Vec<PatchOperation>> = BTreeMap::new();
    for op in &rem.patch {
        let (f, op) = to_file(op, &mut prov).ok_or_else(|| {
            format!(
                "cannot place the change at {} in a file of the group",
                op.path()
            )
        })?;
        per_file.entry(f).or_default().push(op);
    }
    let mut out = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let mut fixed = Fixed {
            text: file.text.clone(),
            ..Fixed::default()
        };
        if let Some(ops) = per_file.get(&i) {
            fixed.text = engine::remediate::edit_doc(&file.text, 0, ops)
                .map_err(|e| format!("{}: cannot edit in place: {e}", file.path.display()))?;
        }
        if i == 0 {
            let name = "k3s/RKE2 config";
            fixed.notes = rem
                .fixed
                .iter()
                .map(|r| format!("{name}: fixed {r}"))
                .collect();
            fixed.remaining = rem
                .not_remediable
                .iter()
                .map(|(r, why)| format!("{name}: {r}: {why}"))
                .collect();
            fixed.warnings = rem
                .warnings
                .iter()
                .map(|w| format!("{name}: {w}"))
                .collect();
        }
        out.push((file.path.clone(), file.text.clone(), fixed));
    }
    Ok(out)
}
