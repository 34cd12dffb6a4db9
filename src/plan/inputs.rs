//! The input digest of a COPY/ADD: a pure function of the planned [`CopyItem`]s and their
//! files' content hashes, over a canonical, versioned byte stream. It covers what ends up in
//! the destination — dest-side paths, types, permission bits (setuid etc. included), owners
//! as written, symlink and hard-link targets, contents — and nothing host-specific: no
//! mtimes, inode numbers, source-side paths or the user's spelling of the sources.
//!
//! Note: this reads `exec::copy` types (the planner's output), a layer-4 module seen from
//! layer 2; the types are pure data.

use std::fmt;

use crate::plan::context::ContentHash;
use crate::plan::copy::{CopyItem, EntryKind, ItemSource, Target};

/// Schema tag hashed first; bump it when the stream's layout or meaning changes.
pub const COPY_INPUTS_SCHEMA: &str = "strata.copy-inputs.v1";

/// The blake3 of a COPY/ADD's canonical input stream, printed as `blake3:<hex>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InputDigest([u8; 32]);

impl InputDigest {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        blake3::Hash::from_bytes(self.0).to_hex().to_string()
    }
}

impl fmt::Display for InputDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "blake3:{}", self.to_hex())
    }
}

impl fmt::Debug for InputDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why an input digest could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum InputsError {
    /// The content hash of a source file was not supplied.
    #[error("no content hash for {path:?} (copied by {origin:?})")]
    MissingContent { path: String, origin: String },
}

/// The source-tree paths whose content hashes [`copy_input_digest`] needs: regular files of
/// tree items, and the archives of `Unpack` items. Sorted, without duplicates.
pub fn content_paths(items: &[CopyItem]) -> Vec<&str> {
    let mut out = Vec::new();
    for item in items {
        match (&item.source, &item.target) {
            (ItemSource::Tree(src), Target::Unpack { .. }) => out.push(src.as_str()),
            (ItemSource::Tree(_), _) => out.extend(
                item.entries
                    .iter()
                    .filter(|e| matches!(e.kind, EntryKind::File { .. }))
                    .map(|e| e.src.as_str()),
            ),
            _ => {}
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The digest of a COPY/ADD's inputs. `content` gives the blake3 of a source-tree file by the
/// path [`content_paths`] lists. Items keep their order (a later source overwrites an earlier
/// one); the entries of an item are taken sorted by dest-side path.
///
/// URL items contribute the URL, `--checksum` and `--unpack` only: their content is known when
/// fetched, so the caller must fold it in (or rely on `--checksum`).
pub fn copy_input_digest(
    items: &[CopyItem],
    content: &dyn Fn(&str) -> Option<ContentHash>,
) -> Result<InputDigest, InputsError> {
    let mut s = Stream(blake3::Hasher::new());
    s.bytes(COPY_INPUTS_SCHEMA.as_bytes());
    s.u64(items.len() as u64);
    for item in items {
        let hash_of = |path: &str| {
            content(path).ok_or_else(|| InputsError::MissingContent {
                path: path.to_string(),
                origin: item.origin.clone(),
            })
        };
        match &item.target {
            Target::DirContents { dir } => {
                s.u8(1);
                s.bytes(dir.as_bytes());
            }
            Target::File {
                path,
                name,
                into_dir,
            } => {
                s.u8(2);
                s.bytes(path.as_bytes());
                s.bytes(name.as_bytes());
                s.u8(u8::from(*into_dir));
            }
            Target::Unpack { dir } => {
                s.u8(3);
                s.bytes(dir.as_bytes());
            }
        }
        // The content written as a single file for inline and remote items; the archive for
        // unpacked ones. A tree item's source path is not part of the key.
        let inline = match &item.source {
            ItemSource::Tree(src) => {
                s.u8(1);
                if let Target::Unpack { .. } = item.target {
                    s.hash(&hash_of(src)?);
                }
                None
            }
            ItemSource::Inline(data) => {
                s.u8(2);
                Some(ContentHash::of(data))
            }
            ItemSource::Url(url) => {
                s.u8(3);
                s.bytes(url.as_bytes());
                s.opt_str(item.checksum.as_deref());
                s.u8(u8::from(item.unpack_remote));
                None
            }
        };
        s.u32(item.parent_owner.0);
        s.u32(item.parent_owner.1);
        // Modes and owners of what is only known when applied (archive members, downloads);
        // for the other items they are already in the entries.
        if matches!(item.source, ItemSource::Url(_)) || matches!(item.target, Target::Unpack { .. })
        {
            s.opt_str(item.chmod.as_deref());
            match item.chown {
                Some((u, g)) => {
                    s.u8(1);
                    s.u32(u);
                    s.u32(g);
                }
                None => s.u8(0),
            }
        }
        let mut order: Vec<usize> = (0..item.entries.len()).collect();
        order.sort_by(|&a, &b| item.entries[a].rel.cmp(&item.entries[b].rel));
        s.u64(order.len() as u64);
        for i in order {
            let e = &item.entries[i];
            s.bytes(e.rel.as_bytes());
            match &e.kind {
                EntryKind::Dir => s.u8(1),
                EntryKind::File { size } => {
                    s.u8(2);
                    s.u64(*size);
                    let h = match inline {
                        Some(h) => h,
                        None => hash_of(&e.src)?,
                    };
                    s.hash(&h);
                }
                EntryKind::Symlink { target } => {
                    s.u8(3);
                    s.bytes(target.as_bytes());
                }
                EntryKind::Hardlink { first } => {
                    s.u8(4);
                    s.bytes(first.as_bytes());
                }
                EntryKind::Special { file_type, rdev } => {
                    s.u8(5);
                    s.u32(*file_type);
                    s.u64(*rdev);
                }
            }
            s.u32(e.mode & 0o7777);
            s.u32(e.uid);
            s.u32(e.gid);
        }
    }
    Ok(InputDigest(*s.0.finalize().as_bytes()))
}

/// The canonical stream: fixed-width little-endian integers, length-prefixed byte strings, so
/// no two different inputs share an encoding.
struct Stream(blake3::Hasher);

impl Stream {
    fn u8(&mut self, v: u8) {
        self.0.update(&[v]);
    }
    fn u32(&mut self, v: u32) {
        self.0.update(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.update(&v.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        self.0.update(b);
    }
    fn hash(&mut self, h: &ContentHash) {
        self.0.update(h.as_bytes());
    }
    fn opt_str(&mut self, v: Option<&str>) {
        match v {
            Some(v) => {
                self.u8(1);
                self.bytes(v.as_bytes());
            }
            None => self.u8(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::copy::{
        plan_copy, CopyRequest, MTime, MemTree, NoExcludes, PlanContext, SourceTree,
    };
    use std::io::Read;

    fn digest(tree: &MemTree, req: &CopyRequest) -> InputDigest {
        let ctx = PlanContext {
            passwd: &[],
            groups: &[],
            exclude: &NoExcludes,
        };
        let items = plan_copy(tree, req, &ctx).unwrap();
        let read = |p: &str| {
            let mut data = Vec::new();
            tree.open(p).ok()?.read_to_end(&mut data).ok()?;
            Some(ContentHash::of(&data))
        };
        copy_input_digest(&items, &read).unwrap()
    }

    fn base() -> MemTree {
        let mut t = MemTree::new();
        t.dir("app", 0o755);
        t.file("app/main.rs", 0o644, b"fn main() {}");
        t.file("app/run.sh", 0o755, b"#!/bin/sh\n");
        t.dir("app/lib", 0o755);
        t.file("app/lib/a.txt", 0o644, b"aaa");
        t.symlink("app/link", "lib/a.txt");
        t
    }

    fn req(chown: Option<&str>) -> CopyRequest {
        CopyRequest {
            sources: vec!["app".into()],
            dest: "/srv/".into(),
            workdir: "/".into(),
            chown: chown.map(str::to_string),
            ..CopyRequest::default()
        }
    }

    #[test]
    fn what_changes_the_digest() {
        let d0 = digest(&base(), &req(None));
        type Edit = fn(&mut MemTree, &mut CopyRequest);
        let same: &[(&str, Edit)] = &[
            ("nothing", |_, _| {}),
            ("mtime", |t, _| {
                t.file("app/main.rs", 0o644, b"fn main() {}").mtime = MTime { secs: 99, nanos: 5 };
            }),
            ("source owner (context files are written 0:0)", |t, _| {
                t.file("app/main.rs", 0o644, b"fn main() {}").uid = 1234;
            }),
            ("source spelling", |_, r| r.sources = vec!["./app/".into()]),
        ];
        let different: &[(&str, Edit)] = &[
            ("one byte", |t, _| {
                t.file("app/main.rs", 0o644, b"fn main() {;");
            }),
            ("chmod +x", |t, _| {
                t.file("app/main.rs", 0o755, b"fn main() {}");
            }),
            ("setuid", |t, _| {
                t.file("app/run.sh", 0o4755, b"#!/bin/sh\n");
            }),
            ("rename", |t, _| {
                // Moves app/run.sh to app/lib/run.sh (MemTree cannot delete: rebuild it).
                let mut n = MemTree::new();
                n.dir("app", 0o755);
                n.file("app/main.rs", 0o644, b"fn main() {}");
                n.dir("app/lib", 0o755);
                n.file("app/lib/run.sh", 0o755, b"#!/bin/sh\n");
                n.file("app/lib/a.txt", 0o644, b"aaa");
                n.symlink("app/link", "lib/a.txt");
                *t = n;
            }),
            ("symlink target", |t, _| {
                t.symlink("app/link", "lib/b.txt");
            }),
            ("new empty dir", |t, _| {
                t.dir("app/empty", 0o755);
            }),
            ("--chown", |_, r| r.chown = Some("1000:1000".into())),
            ("--chmod", |_, r| r.chmod = Some("600".into())),
            ("dest", |_, r| r.dest = "/opt/".into()),
        ];
        for (name, edit) in same.iter().chain(different) {
            let (mut t, mut r) = (base(), req(None));
            edit(&mut t, &mut r);
            let d = digest(&t, &r);
            let want_same = same.iter().any(|(n, _)| n == name);
            assert_eq!(d == d0, want_same, "{name}: {d} vs {d0}");
        }
    }

    #[test]
    fn chown_users_are_distinct() {
        let t = base();
        let a = digest(&t, &req(Some("1:1")));
        let b = digest(&t, &req(Some("1:2")));
        let c = digest(&t, &req(Some("2:1")));
        assert!(a != b && b != c && a != c);
    }

    #[test]
    fn heredoc_content_counts() {
        let t = MemTree::new();
        let mut r = CopyRequest {
            sources: vec!["EOF".into()],
            dest: "/x".into(),
            workdir: "/".into(),
            heredocs: vec![("EOF".into(), b"one".to_vec())],
            ..CopyRequest::default()
        };
        let a = digest(&t, &r);
        r.heredocs[0].1 = b"two".to_vec();
        assert_ne!(a, digest(&t, &r));
    }

    #[test]
    fn missing_content_names_the_file() {
        let t = base();
        let ctx = PlanContext {
            passwd: &[],
            groups: &[],
            exclude: &NoExcludes,
        };
        let items = plan_copy(&t, &req(None), &ctx).unwrap();
        assert_eq!(
            content_paths(&items),
            ["app/lib/a.txt", "app/main.rs", "app/run.sh"]
        );
        let err = copy_input_digest(&items, &|_| None).unwrap_err();
        assert!(
            matches!(&err, InputsError::MissingContent { path, origin } if path == "app/lib/a.txt" && origin == "app"),
            "{err}"
        );
    }

    /// A random context tree: file name → (content, mode, mtime seconds, uid).
    type Files = std::collections::BTreeMap<String, (Vec<u8>, u32, i64, u32)>;

    fn tree_of(files: &Files) -> MemTree {
        let mut t = MemTree::new();
        t.dir("app", 0o755);
        t.dir("app/sub", 0o755);
        for (name, (data, mode, mtime, uid)) in files {
            let m = t.file(&format!("app/{name}"), *mode, data);
            m.mtime = MTime {
                secs: *mtime,
                nanos: 0,
            };
            m.uid = *uid;
        }
        t
    }

    fn files() -> impl proptest::strategy::Strategy<Value = Files> {
        use proptest::prelude::*;
        let name = prop_oneof!["[a-c]{1,3}", "sub/[a-c]{1,3}"];
        let mode = prop_oneof![Just(0o644u32), Just(0o755), Just(0o600), Just(0o4755)];
        let file = (
            proptest::collection::vec(any::<u8>(), 1..64),
            mode,
            any::<i64>(),
            0..3u32,
        );
        proptest::collection::btree_map(name, file, 1..8)
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(64))]

        #[test]
        fn digest_ignores_mtimes_and_source_owners_but_not_content_or_modes(
            files in files(),
            pick in 0usize..8,
            byte in 0usize..64,
        ) {
            let r = req(None);
            let d0 = digest(&tree_of(&files), &r);
            let mut other = files.clone();
            for (i, f) in other.values_mut().enumerate() {
                f.2 = f.2.wrapping_add(1 + i as i64);
                f.3 += 7;
            }
            proptest::prop_assert_eq!(digest(&tree_of(&other), &r), d0);

            let name = files.keys().nth(pick % files.len()).unwrap().clone();
            let mut flipped = files.clone();
            let data = &mut flipped.get_mut(&name).unwrap().0;
            let at = byte % data.len();
            data[at] ^= 1;
            proptest::prop_assert_ne!(digest(&tree_of(&flipped), &r), d0);

            let mut chmodded = files.clone();
            chmodded.get_mut(&name).unwrap().1 ^= 0o100;
            proptest::prop_assert_ne!(digest(&tree_of(&chmodded), &r), d0);
        }
    }
}
