//! Why a step missed the cache: the differences between the record of its new key and the
//! record of the key the same step had last time. Pure.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde_json::Value;

use super::record::{FileFact, KeyRecord};

/// One difference. `Display` gives the line `--explain` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    /// `--no-cache` (or `--no-cache-filter` naming the stage): the cache was not consulted.
    NoCache,
    /// No earlier build of this step is recorded in this store.
    FirstBuild,
    /// The key is the one recorded before, but its cache entry is gone (pruned).
    EntryMissing,
    /// The step this one builds on has a new key.
    ParentChanged { parent: String },
    /// The instruction's text changed.
    InstructionChanged { before: String, after: String },
    /// A build arg in scope changed (added or removed: `None`).
    BuildArg {
        name: String,
        before: Option<String>,
        after: Option<String>,
    },
    /// An environment value of a RUN changed (not one a build arg explains).
    Env {
        name: String,
        before: Option<String>,
        after: Option<String>,
    },
    /// A non-file input (base image, URL body, bind-mounted files) has a new digest.
    Input {
        name: String,
        before: Option<String>,
        after: Option<String>,
    },
    /// A selected file changed.
    File { path: String, change: FileChange },
    /// Further files changed beyond the ones listed.
    MoreFiles { count: usize },
    /// Something else in the instruction's options changed (the field of its identity).
    Option { field: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileChange {
    Added,
    Removed,
    Content,
    Mode,
    Owner,
    Type,
}

/// How many changed files are named before the rest is counted.
pub const MAX_FILES: usize = 20;

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opt = |v: &Option<String>| match v {
            Some(v) => format!("{v:?}"),
            None => "(unset)".to_string(),
        };
        match self {
            Reason::NoCache => f.write_str("the cache was disabled for it (--no-cache)"),
            Reason::FirstBuild => f.write_str("no earlier build of this step is recorded"),
            Reason::EntryMissing => {
                f.write_str("same key as last time, but its cache entry was removed (pruned)")
            }
            Reason::ParentChanged { parent } => write!(f, "parent changed: {parent}"),
            Reason::InstructionChanged { before, after } => {
                write!(f, "instruction changed: {before:?} -> {after:?}")
            }
            Reason::BuildArg {
                name,
                before,
                after,
            } => write!(
                f,
                "build arg {name} changed: {} -> {}",
                opt(before),
                opt(after)
            ),
            Reason::Env {
                name,
                before,
                after,
            } => write!(f, "env {name} changed: {} -> {}", opt(before), opt(after)),
            Reason::Input {
                name,
                before,
                after,
            } => write!(f, "{name} changed: {} -> {}", opt(before), opt(after)),
            Reason::File { path, change } => {
                let what = match change {
                    FileChange::Added => "added",
                    FileChange::Removed => "removed",
                    FileChange::Content => "content changed",
                    FileChange::Mode => "mode changed",
                    FileChange::Owner => "owner changed",
                    FileChange::Type => "type changed",
                };
                write!(f, "file {path}: {what}")
            }
            Reason::MoreFiles { count } => write!(f, "… and {count} more changed files"),
            Reason::Option { field } => write!(f, "option {field} changed"),
        }
    }
}

/// The differences from `before` (the step's previous key) to `now`.
pub fn compare(before: &KeyRecord, now: &KeyRecord) -> Vec<Reason> {
    if before.key == now.key {
        return vec![Reason::EntryMissing];
    }
    let mut out = Vec::new();
    if before.parent.as_ref().map(|p| &p.key) != now.parent.as_ref().map(|p| &p.key) {
        if let Some(p) = &now.parent {
            out.push(Reason::ParentChanged {
                parent: p.text.clone(),
            });
        }
    }
    if before.text != now.text {
        out.push(Reason::InstructionChanged {
            before: before.text.clone(),
            after: now.text.clone(),
        });
    }
    let args = changed_pairs(&before.args, &now.args);
    let arg_names: Vec<&str> = args.iter().map(|(n, _, _)| n.as_str()).collect();
    for (name, b, a) in &args {
        out.push(Reason::BuildArg {
            name: name.clone(),
            before: b.clone(),
            after: a.clone(),
        });
    }
    for (name, b, a) in changed_pairs(&before.inputs, &now.inputs) {
        out.push(Reason::Input {
            name,
            before: b,
            after: a,
        });
    }
    identity_reasons(&before.identity, &now.identity, &arg_names, &mut out);
    file_reasons(&before.files, &now.files, &mut out);
    out
}

/// Entries of two name/value lists that differ, in name order.
fn changed_pairs(
    before: &[(String, String)],
    now: &[(String, String)],
) -> Vec<(String, Option<String>, Option<String>)> {
    let b: BTreeMap<&str, &str> = before
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let a: BTreeMap<&str, &str> = now.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut names: Vec<&str> = b.keys().chain(a.keys()).copied().collect();
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .filter(|n| b.get(n) != a.get(n))
        .map(|n| {
            (
                n.to_string(),
                b.get(n).map(|v| v.to_string()),
                a.get(n).map(|v| v.to_string()),
            )
        })
        .collect()
}

/// Env changes of a RUN that no build arg explains, then any other changed field of the op's
/// identity (only when the instruction text itself did not change, which says it already).
fn identity_reasons(before: &str, now: &str, arg_names: &[&str], out: &mut Vec<Reason>) {
    if before == now {
        return;
    }
    let (Ok(Value::Object(b)), Ok(Value::Object(a))) = (
        serde_json::from_str::<Value>(before),
        serde_json::from_str::<Value>(now),
    ) else {
        return;
    };
    let text_changed = out
        .iter()
        .any(|r| matches!(r, Reason::InstructionChanged { .. }));
    let mut fields: Vec<&String> = b.keys().chain(a.keys()).collect();
    fields.sort();
    fields.dedup();
    for field in fields {
        if b.get(field) == a.get(field) {
            continue;
        }
        if field == "env" {
            let pairs = |v: Option<&Value>| -> Vec<(String, String)> {
                serde_json::from_value(v.cloned().unwrap_or(Value::Null)).unwrap_or_default()
            };
            for (name, before, after) in changed_pairs(&pairs(b.get(field)), &pairs(a.get(field))) {
                if !arg_names.contains(&name.as_str()) {
                    out.push(Reason::Env {
                        name,
                        before,
                        after,
                    });
                }
            }
        } else if !text_changed && field != "kind" {
            out.push(Reason::Option {
                field: field.clone(),
            });
        }
    }
}

fn file_reasons(before: &[FileFact], now: &[FileFact], out: &mut Vec<Reason>) {
    let mut changes = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < before.len() || j < now.len() {
        let (b, a) = (before.get(i), now.get(j));
        match (b, a) {
            (Some(b), Some(a)) if b.0 == a.0 => {
                let change = if b.1 != a.1 {
                    Some(FileChange::Type)
                } else if b.5 != a.5 {
                    Some(FileChange::Content)
                } else if b.2 != a.2 {
                    Some(FileChange::Mode)
                } else if (b.3, b.4) != (a.3, a.4) {
                    Some(FileChange::Owner)
                } else {
                    None
                };
                if let Some(c) = change {
                    changes.push((a.0.clone(), c));
                }
                i += 1;
                j += 1;
            }
            (Some(b), Some(a)) if b.0 < a.0 => {
                changes.push((b.0.clone(), FileChange::Removed));
                i += 1;
            }
            (Some(_), Some(a)) | (None, Some(a)) => {
                changes.push((a.0.clone(), FileChange::Added));
                j += 1;
            }
            (Some(b), None) => {
                changes.push((b.0.clone(), FileChange::Removed));
                i += 1;
            }
            (None, None) => break,
        }
    }
    let extra = changes.len().saturating_sub(MAX_FILES);
    for (path, change) in changes.into_iter().take(MAX_FILES) {
        out.push(Reason::File { path, change });
    }
    if extra > 0 {
        out.push(Reason::MoreFiles { count: extra });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::explain::record::ParentRef;

    fn rec(key: &str) -> KeyRecord {
        KeyRecord {
            key: key.into(),
            text: "RUN make".into(),
            parent: Some(ParentRef {
                key: "ck:p".into(),
                text: "COPY . /src".into(),
            }),
            identity: r#"{"env":[["PATH","/bin"],["V","1"]],"kind":"exec","user":"0"}"#.into(),
            args: vec![("V".into(), "1".into())],
            inputs: vec![],
            files: vec![],
        }
    }

    fn file(path: &str, mode: u32, uid: u32, hash: &str) -> FileFact {
        FileFact(path.into(), 'f', mode, uid, uid, hash.into())
    }

    #[test]
    fn same_key_means_the_entry_went_away() {
        assert_eq!(
            compare(&rec("ck:1"), &rec("ck:1")),
            vec![Reason::EntryMissing]
        );
    }

    #[test]
    fn a_new_parent_key_is_reported_with_the_parents_text() {
        let mut now = rec("ck:2");
        now.parent.as_mut().unwrap().key = "ck:q".into();
        assert_eq!(
            compare(&rec("ck:1"), &now),
            vec![Reason::ParentChanged {
                parent: "COPY . /src".into()
            }]
        );
    }

    #[test]
    fn a_build_arg_is_named_once_not_again_as_env() {
        let mut now = rec("ck:2");
        now.args = vec![("V".into(), "2".into())];
        now.identity = r#"{"env":[["PATH","/bin"],["V","2"]],"kind":"exec","user":"0"}"#.into();
        let r = compare(&rec("ck:1"), &now);
        assert_eq!(
            r,
            vec![Reason::BuildArg {
                name: "V".into(),
                before: Some("1".into()),
                after: Some("2".into())
            }]
        );
        assert_eq!(r[0].to_string(), r#"build arg V changed: "1" -> "2""#);
    }

    #[test]
    fn env_and_option_changes_are_told_apart() {
        let mut now = rec("ck:2");
        now.identity =
            r#"{"env":[["PATH","/usr/bin"],["V","1"]],"kind":"exec","user":"1000"}"#.into();
        assert_eq!(
            compare(&rec("ck:1"), &now),
            vec![
                Reason::Env {
                    name: "PATH".into(),
                    before: Some("/bin".into()),
                    after: Some("/usr/bin".into())
                },
                Reason::Option {
                    field: "user".into()
                }
            ]
        );
    }

    #[test]
    fn files_added_removed_and_changed_in_content_mode_or_owner() {
        let mut before = rec("ck:1");
        let mut now = rec("ck:2");
        before.files = vec![
            file("/a", 0o644, 0, "1"),
            file("/b", 0o644, 0, "1"),
            file("/c", 0o644, 0, "1"),
            file("/d", 0o644, 0, "1"),
            file("/gone", 0o644, 0, "1"),
        ];
        now.files = vec![
            file("/a", 0o644, 0, "1"),
            file("/b", 0o644, 0, "2"),
            file("/c", 0o755, 0, "1"),
            file("/d", 0o644, 7, "1"),
            file("/new", 0o644, 0, "1"),
        ];
        let r = compare(&before, &now);
        let shown: Vec<String> = r.iter().map(|r| r.to_string()).collect();
        assert_eq!(
            shown,
            [
                "file /b: content changed",
                "file /c: mode changed",
                "file /d: owner changed",
                "file /gone: removed",
                "file /new: added",
            ]
        );
    }

    #[test]
    fn long_file_lists_are_cut_with_a_count() {
        let mut now = rec("ck:2");
        now.files = (0..MAX_FILES + 5)
            .map(|i| file(&format!("/f{i:03}"), 0o644, 0, "1"))
            .collect();
        let r = compare(&rec("ck:1"), &now);
        assert_eq!(r.len(), MAX_FILES + 1);
        assert_eq!(r.last(), Some(&Reason::MoreFiles { count: 5 }));
    }

    #[test]
    fn a_new_base_digest_is_an_input_change() {
        let mut before = rec("ck:1");
        let mut now = rec("ck:2");
        before.inputs = vec![("base image busybox".into(), "sha256:aa".into())];
        now.inputs = vec![("base image busybox".into(), "sha256:bb".into())];
        assert_eq!(
            compare(&before, &now)[0].to_string(),
            r#"base image busybox changed: "sha256:aa" -> "sha256:bb""#
        );
    }
}
