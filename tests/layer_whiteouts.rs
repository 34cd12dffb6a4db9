//! Whiteouts end to end: change layers that delete a file, replace a directory (opaque) and
//! delete then re-create, unpacked as overlay lowerdirs (checked through a real overlay mount)
//! and applied by deletion into one flattened rootfs.

mod layer_support;

use std::collections::BTreeSet;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use layer_support::*;
use strata::digest::Digest;
use strata::snapshot::{
    chain_id, lowerdir_option, unpack_layer_with, write_changes_layer, write_dir_layer, BlobOpener,
    Change, LayerOptions, Snapshots, UnpackOptions, WhiteoutMode,
};
use strata::util::safe_path::OnEscape;

fn write(root: &Path, rel: &str, data: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

/// The base layer and three change layers, as blobs (gzip).
struct Layers {
    blobs: Vec<Vec<u8>>,
    diff_ids: Vec<Digest>,
}

fn build(t: &Path) -> Layers {
    let opts = LayerOptions::default();
    let mut blobs = vec![];
    let mut diff_ids = vec![];
    let mut push = |f: &dyn Fn(&mut Vec<u8>) -> strata::snapshot::LayerDigests| {
        let mut out = vec![];
        let d = f(&mut out);
        assert_eq!(d.digest, Digest::of(&out));
        diff_ids.push(d.diff_id);
        blobs.push(out);
    };

    // L0: etc/{passwd,group}, d/{a,b,sub/c}, keep/x
    let l0 = t.join("l0");
    write(&l0, "etc/passwd", "old passwd");
    write(&l0, "etc/group", "group");
    write(&l0, "d/a", "a");
    write(&l0, "d/b", "b");
    write(&l0, "d/sub/c", "c");
    write(&l0, "keep/x", "x");
    push(&|out| write_dir_layer(&l0, &opts, out).unwrap());

    // L1: deletes etc/passwd; replaces d by an opaque dir holding only n.
    let l1 = t.join("l1");
    std::fs::create_dir_all(l1.join("etc")).unwrap();
    write(&l1, "d/n", "new");
    let changes = [
        Change::Deleted("etc/passwd".into()),
        Change::OpaqueDir("d".into()),
        Change::Added("d/n".into()),
    ];
    push(&|out| write_changes_layer(&l1, &changes, &opts, out).unwrap());

    // L2: re-creates etc/passwd; deletes and re-creates keep/ as a fresh directory in one layer.
    let l2 = t.join("l2");
    write(&l2, "etc/passwd", "new passwd");
    write(&l2, "keep/y", "y");
    let changes = [
        Change::Added("etc/passwd".into()),
        Change::Deleted("keep".into()),
        Change::Added("keep".into()),
        Change::Added("keep/y".into()),
    ];
    push(&|out| write_changes_layer(&l2, &changes, &opts, out).unwrap());
    Layers { blobs, diff_ids }
}

fn expected_final() -> BTreeSet<(String, String)> {
    [
        ("d", "<dir>"),
        ("d/n", "new"),
        ("etc", "<dir>"),
        ("etc/group", "group"),
        ("etc/passwd", "new passwd"),
        ("keep", "<dir>"),
        ("keep/y", "y"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect()
}

#[test]
fn change_layer_tar_lists_whiteouts_in_order() {
    let t = tempfile::tempdir().unwrap();
    let layers = build(t.path());
    let names: Vec<String> = tar::Archive::new(&decompress_all(&layers.blobs[1])[..])
        .entries()
        .unwrap()
        .map(|e| String::from_utf8_lossy(&e.unwrap().path_bytes()).into_owned())
        .collect();
    assert_eq!(
        names,
        ["d/", "d/.wh..wh..opq", "d/n", "etc/", "etc/.wh.passwd"],
        "parents from disk, opaque marker right after its directory"
    );
    let tar = decompress_all(&layers.blobs[1]);
    let mut a = tar::Archive::new(&tar[..]);
    for e in a.entries().unwrap() {
        let e = e.unwrap();
        if e.path_bytes().ends_with(b".wh.passwd") {
            let h = e.header();
            assert_eq!(
                (h.mode().unwrap(), h.uid().unwrap(), h.mtime().unwrap()),
                (0, 0, 0)
            );
        }
    }
}

#[test]
fn flattened_apply_deletes() {
    let t = tempfile::tempdir().unwrap();
    let layers = build(t.path());
    let root = t.path().join("rootfs");
    std::fs::create_dir(&root).unwrap();
    let opts = UnpackOptions {
        whiteouts: WhiteoutMode::Delete,
        symlinks: OnEscape::Clamp,
    };
    for blob in &layers.blobs {
        unpack_layer_with(&mut &decompress_all(blob)[..], &root, &opts).unwrap();
    }
    assert_eq!(layer_support::view(&root), expected_final());
}

#[test]
fn overlay_snapshots_mount_to_the_same_view() {
    let t = tempfile::tempdir().unwrap();
    let layers = build(t.path());
    let store = t.path().join("store");
    let snaps = Snapshots::new(&store);
    let openers: Vec<(Digest, BlobOpener)> = layers
        .diff_ids
        .iter()
        .zip(&layers.blobs)
        .map(|(d, b)| {
            let b = b.clone();
            let open: BlobOpener = Box::new(move || {
                Ok(Box::new(std::io::Cursor::new(b)) as Box<dyn std::io::Read + Send>)
            });
            (*d, open)
        })
        .collect();
    let dirs = snaps.ensure_chain(openers).unwrap();
    // Top first; each keyed by the chain ID of its prefix.
    let want: Vec<PathBuf> = (1..=3)
        .rev()
        .map(|n| {
            store
                .join("snapshots-v1")
                .join(chain_id(&layers.diff_ids[..n]).hex())
        })
        .collect();
    assert_eq!(dirs, want);

    // The representation inside each lowerdir.
    let l1 = &dirs[1];
    let wh = std::fs::symlink_metadata(l1.join("etc/passwd")).unwrap();
    assert!(
        wh.file_type().is_char_device() && wh.rdev() == 0,
        "overlay whiteout"
    );
    assert_eq!(
        getxattr(&l1.join("d"), b"trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert_eq!(
        getxattr(&dirs[0].join("keep"), b"trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert!(getxattr(&dirs[0].join("etc"), b"trusted.overlay.opaque").is_none());

    // And what the kernel makes of it.
    let mnt = t.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let mut opt = std::ffi::OsString::from("lowerdir=");
    opt.push(lowerdir_option(&dirs));
    let st = Command::new("mount")
        .arg("-t")
        .arg("overlay")
        .arg("overlay")
        .arg("-o")
        .arg(&opt)
        .arg(&mnt)
        .status()
        .unwrap();
    assert!(st.success(), "mount overlay {opt:?}");
    let seen = layer_support::view(&mnt);
    let _ = Command::new("umount").arg(&mnt).status();
    assert_eq!(seen, expected_final());

    // A second ensure finds everything in place and unpacks nothing.
    let again: Vec<(Digest, BlobOpener)> = layers
        .diff_ids
        .iter()
        .map(|d| {
            let open: BlobOpener = Box::new(|| panic!("must not reopen an existing snapshot"));
            (*d, open)
        })
        .collect();
    assert_eq!(snaps.ensure_chain(again).unwrap(), dirs);
    assert_eq!(
        std::fs::read_dir(store.join("tmp")).unwrap().count(),
        0,
        "no temp leftovers"
    );
}

#[test]
fn wrong_diff_id_is_refused_and_leaves_nothing() {
    let t = tempfile::tempdir().unwrap();
    let layers = build(t.path());
    let store = t.path().join("store");
    let snaps = Snapshots::new(&store);
    let bogus = Digest::of(b"not this layer");
    let blob = layers.blobs[0].clone();
    let open: BlobOpener =
        Box::new(move || Ok(Box::new(std::io::Cursor::new(blob)) as Box<dyn std::io::Read + Send>));
    let err = snaps.ensure(&bogus, &bogus, open).unwrap_err();
    assert!(
        err.to_string().contains("does not match its diff ID"),
        "{err}"
    );
    assert!(!snaps.exists(&bogus));
    assert_eq!(std::fs::read_dir(store.join("tmp")).unwrap().count(), 0);
}

#[test]
fn flattened_whiteout_of_a_missing_dir_creates_nothing() {
    let t = tempfile::tempdir().unwrap();
    let tar = layer_support::RawTar::default()
        .file("gone/.wh.x", b"")
        .file("gone2/.wh..wh..opq", b"")
        .finish();
    let opts = UnpackOptions {
        whiteouts: WhiteoutMode::Delete,
        symlinks: OnEscape::Refuse,
    };
    let stats = unpack_layer_with(&mut &tar[..], t.path(), &opts).unwrap();
    assert_eq!(stats.whiteouts, 2);
    assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 0);
}
