//! What `--explain` remembers about one cache key: the instruction, its key parent, the build
//! args in scope, the digests of its non-file inputs and one compact line per file a COPY/ADD
//! selected. Built from what computing the key already produced, so explaining never re-hashes.

use serde::{Deserialize, Serialize};

use crate::plan::context::ContentHash;
use crate::plan::copy::{CopyItem, EntryKind, ItemSource, Target};

/// Everything a later build compares its own key's inputs with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// `ck:<hex>`.
    pub key: String,
    /// The instruction as written (continuations joined).
    pub text: String,
    /// The key parent's key and instruction text; `None` for a stage's first node.
    pub parent: Option<ParentRef>,
    /// The op's identity as canonical JSON (expanded command, env, options).
    pub identity: String,
    /// Build args in scope (`ARG` values), in declaration order.
    pub args: Vec<(String, String)>,
    /// Non-file inputs: `("base image busybox", "sha256:…")`, `("url https://…", "in:…")`.
    pub inputs: Vec<(String, String)>,
    /// Files a COPY/ADD selected, sorted by path.
    pub files: Vec<FileFact>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentRef {
    pub key: String,
    pub text: String,
}

/// One selected file as the key saw it, serialised as a JSON array (`[path, kind, mode, uid,
/// gid, content]`) to keep records of big contexts small.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FileFact(
    /// Destination-side path (`/app/src/main.rs`); for an archive ADD, the archive's
    /// destination directory followed by ` (archive <source>)`.
    pub String,
    /// `f` file, `d` directory, `l` symlink, `h` hard link, `s` special, `a` archive.
    pub char,
    /// Permission bits.
    pub u32,
    pub u32,
    pub u32,
    /// First 16 bytes of the content's blake3 in hex, a symlink's or hard link's target, or
    /// empty.
    pub String,
);

impl FileFact {
    pub fn path(&self) -> &str {
        &self.0
    }
}

/// The facts of planned COPY items. `content` is the lookup the key itself used.
pub fn copy_facts(
    items: &[CopyItem],
    content: &dyn Fn(&str) -> Option<ContentHash>,
) -> Vec<FileFact> {
    let short = |h: Option<ContentHash>| {
        h.map(|h| {
            h.as_bytes()[..16]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        })
        .unwrap_or_default()
    };
    let mut out = Vec::new();
    for item in items {
        let base = match &item.target {
            Target::DirContents { dir } => dir.clone(),
            Target::File {
                path,
                name,
                into_dir,
            } => {
                if *into_dir {
                    join(path, name)
                } else {
                    path.clone()
                }
            }
            Target::Unpack { dir } => {
                if let ItemSource::Tree(src) = &item.source {
                    let path = format!("{dir} (archive {src})");
                    out.push(FileFact(path, 'a', 0, 0, 0, short(content(src))));
                }
                continue;
            }
        };
        if let ItemSource::Url(url) = &item.source {
            out.push(FileFact(
                format!("{base} ({url})"),
                'f',
                0,
                0,
                0,
                String::new(),
            ));
            continue;
        }
        let inline = match &item.source {
            ItemSource::Inline(data) => Some(ContentHash::of(data)),
            _ => None,
        };
        for e in &item.entries {
            let path = if e.rel.is_empty() {
                base.clone()
            } else {
                join(&base, &e.rel)
            };
            let (kind, what) = match &e.kind {
                EntryKind::Dir => ('d', String::new()),
                EntryKind::File { .. } => ('f', short(inline.or_else(|| content(&e.src)))),
                EntryKind::Symlink { target } => ('l', target.clone()),
                EntryKind::Hardlink { first } => ('h', first.clone()),
                EntryKind::Special { rdev, .. } => ('s', rdev.to_string()),
            };
            out.push(FileFact(path, kind, e.mode, e.uid, e.gid, what));
        }
    }
    out.sort();
    // A later item overwriting an earlier one's path wins, as it does on disk.
    out.dedup_by(|later, earlier| later.0 == earlier.0);
    out
}

fn join(dir: &str, rel: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{rel}")
    } else {
        format!("{dir}/{rel}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::copy::Entry;

    fn entry(rel: &str, src: &str, kind: EntryKind, mode: u32) -> Entry {
        Entry {
            rel: rel.into(),
            src: src.into(),
            kind,
            mode,
            uid: 0,
            gid: 0,
            mtime: None,
        }
    }

    fn item(source: ItemSource, target: Target, entries: Vec<Entry>) -> CopyItem {
        CopyItem {
            origin: "x".into(),
            source,
            target,
            entries,
            parent_owner: (0, 0),
            chmod: None,
            chown: None,
            checksum: None,
            unpack_remote: false,
        }
    }

    #[test]
    fn facts_name_destination_paths_with_short_content_hashes() {
        let items = vec![item(
            ItemSource::Tree("src".into()),
            Target::DirContents { dir: "/app".into() },
            vec![
                entry("", "src", EntryKind::Dir, 0o755),
                entry("b.txt", "src/b.txt", EntryKind::File { size: 1 }, 0o644),
                entry(
                    "l",
                    "src/l",
                    EntryKind::Symlink {
                        target: "b.txt".into(),
                    },
                    0o777,
                ),
            ],
        )];
        let facts = copy_facts(&items, &|p| {
            (p == "src/b.txt").then(|| ContentHash::from_bytes([0xab; 32]))
        });
        assert_eq!(
            facts,
            vec![
                FileFact("/app".into(), 'd', 0o755, 0, 0, String::new()),
                FileFact("/app/b.txt".into(), 'f', 0o644, 0, 0, "ab".repeat(16)),
                FileFact("/app/l".into(), 'l', 0o777, 0, 0, "b.txt".into()),
            ]
        );
    }

    #[test]
    fn single_files_archives_and_urls_get_one_fact_each() {
        let items = vec![
            item(
                ItemSource::Tree("a.txt".into()),
                Target::File {
                    path: "/dst/".into(),
                    name: "a.txt".into(),
                    into_dir: true,
                },
                vec![entry("", "a.txt", EntryKind::File { size: 1 }, 0o600)],
            ),
            item(
                ItemSource::Tree("t.tar".into()),
                Target::Unpack { dir: "/x".into() },
                vec![],
            ),
            item(
                ItemSource::Url("http://h/f".into()),
                Target::File {
                    path: "/f".into(),
                    name: "f".into(),
                    into_dir: false,
                },
                vec![],
            ),
        ];
        let facts = copy_facts(&items, &|_| Some(ContentHash::from_bytes([1; 32])));
        let paths: Vec<_> = facts.iter().map(|f| f.path().to_string()).collect();
        assert_eq!(
            paths,
            ["/dst/a.txt", "/f (http://h/f)", "/x (archive t.tar)"]
        );
        assert_eq!(facts[0].1, 'f');
        assert_eq!(facts[2].1, 'a');
        assert_eq!(facts[2].5, "01".repeat(16));
    }

    #[test]
    fn records_round_trip_through_json_compactly() {
        let r = KeyRecord {
            key: "ck:00".into(),
            text: "COPY . /app".into(),
            parent: Some(ParentRef {
                key: "ck:11".into(),
                text: "FROM busybox".into(),
            }),
            identity: "{}".into(),
            args: vec![("V".into(), "1".into())],
            inputs: vec![],
            files: vec![FileFact("/app/a".into(), 'f', 0o644, 0, 0, "ff".into())],
        };
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains(r#"["/app/a","f",420,0,0,"ff"]"#), "{json}");
        assert_eq!(serde_json::from_str::<KeyRecord>(&json).unwrap(), r);
    }
}
