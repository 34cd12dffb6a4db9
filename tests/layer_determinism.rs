//! Determinism: the same tree gives byte-identical blobs whatever the creation order, atimes
//! and (with SOURCE_DATE_EPOCH) mtimes, for every compression, including multi-block gzip.

mod layer_support;

use std::path::Path;

use layer_support::*;
use strata::digest::Digest;
use strata::snapshot::{write_dir_layer, Compression, LayerOptions};

const FILES: &[(&str, usize)] = &[
    ("a/one", 10),
    ("a/two", 5000),
    ("a-b", 3),
    ("b/c/d/deep", 100),
    ("big/blob", 5 << 20), // several 1 MiB gzip blocks
    ("z", 0),
];

fn content(name: &str, len: usize) -> Vec<u8> {
    let seed = name
        .bytes()
        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    (0..len)
        .map(|i| {
            if i % 3 == 0 {
                b'a' + (i % 26) as u8
            } else {
                (seed.wrapping_mul(i as u64 + 1) >> 17) as u8
            }
        })
        .collect()
}

/// Builds the tree, creating files in the given order, then stamps every path with
/// `mtime_base + i` (and a different atime).
fn build(root: &Path, reverse: bool, mtime_base: i64) {
    let mut files: Vec<_> = FILES.to_vec();
    if reverse {
        files.reverse();
    }
    for (name, len) in &files {
        let p = root.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content(name, *len)).unwrap();
    }
    std::fs::hard_link(root.join("a/one"), root.join("hard")).unwrap();
    std::os::unix::fs::symlink("a/one", root.join("sym")).unwrap();
    let mut all: Vec<_> = walkdir::WalkDir::new(root)
        .min_depth(1)
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .collect();
    all.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for (i, p) in all.iter().enumerate() {
        set_mtime(p, mtime_base + i as i64 * 7);
    }
}

fn blob(root: &Path, compression: Compression, epoch: Option<i64>) -> (Vec<u8>, Digest) {
    let mut out = vec![];
    let opts = LayerOptions {
        compression,
        source_date_epoch: epoch,
    };
    let d = write_dir_layer(root, &opts, &mut out).unwrap();
    assert_eq!(d.digest, Digest::of(&out));
    assert_eq!(d.diff_id, Digest::of(&decompress_all(&out)));
    (out, d.diff_id)
}

const ALL: [Compression; 3] = [
    Compression::None,
    Compression::Gzip { level: 6 },
    Compression::Zstd { level: 3 },
];

#[test]
fn epoch_makes_differently_made_trees_identical() {
    let t = tempfile::tempdir().unwrap();
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    build(&a, false, 1_700_000_000);
    build(&b, true, 1_650_000_000);
    let epoch = Some(1_600_000_000);
    for c in ALL {
        let (ba, _) = blob(&a, c, epoch);
        let (bb, _) = blob(&b, c, epoch);
        assert!(ba == bb, "{c:?}: blobs differ");
    }
}

#[test]
fn same_tree_same_bytes_and_mtimes_matter_without_epoch() {
    let t = tempfile::tempdir().unwrap();
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    build(&a, false, 1_700_000_000);
    build(&b, true, 1_700_000_000);
    for c in ALL {
        let first = blob(&a, c, None);
        assert!(first == blob(&a, c, None), "{c:?}: two runs differ");
        assert!(
            first == blob(&b, c, None),
            "{c:?}: creation order leaked in"
        );
    }
    // The mtimes are recorded: shift one and the diff ID moves.
    set_mtime(&a.join("z"), 1_000);
    assert_ne!(
        blob(&a, Compression::None, None).1,
        blob(&b, Compression::None, None).1
    );
    // An epoch above every mtime changes nothing.
    assert!(blob(&b, Compression::None, None) == blob(&b, Compression::None, Some(2_000_000_000)));
}

#[test]
fn system_tools_accept_the_blobs() {
    let t = tempfile::tempdir().unwrap();
    let a = t.path().join("a");
    build(&a, false, 1_700_000_000);
    for (c, tool) in [
        (Compression::Gzip { level: 6 }, "gzip"),
        (Compression::Zstd { level: 3 }, "zstd"),
    ] {
        let (bytes, diff_id) = blob(&a, c, Some(1_600_000_000));
        let p = t.path().join("blob");
        std::fs::write(&p, &bytes).unwrap();
        let out = sh(&format!(
            "{tool} -t {p} && {tool} -dc {p} | sha256sum",
            p = p.display()
        ));
        assert_eq!(&out[..64], diff_id.hex());
        let names = sh(&format!("{tool} -dc {} | tar -tf -", p.display()));
        let want =
            "a/\na/one\na/two\na-b\nb/\nb/c/\nb/c/d/\nb/c/d/deep\nbig/\nbig/blob\nhard\nsym\nz\n";
        assert_eq!(names, want, "{tool}: order is by path components");
    }
}

#[test]
fn sockets_are_skipped() {
    let t = tempfile::tempdir().unwrap();
    let a = t.path().join("a");
    build(&a, false, 1_700_000_000);
    let _sock = std::os::unix::net::UnixListener::bind(a.join("a/sock")).unwrap();
    let (tar, _) = blob(&a, Compression::None, None);
    let names: Vec<String> = tar::Archive::new(&tar[..])
        .entries()
        .unwrap()
        .map(|e| String::from_utf8_lossy(&e.unwrap().path_bytes()).into_owned())
        .collect();
    assert!(names.contains(&"a/one".to_string()), "{names:?}");
    assert!(
        !names.iter().any(|n| n.contains("sock")),
        "socket archived: {names:?}"
    );
}
