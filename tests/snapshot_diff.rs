//! `upperdir_changes_against` over a real overlay mount: lowerdirs unpacked from layer blobs
//! as snapshots are, changes made through the merged dir, the upperdir read after unmounting.
//! The change list must be exact (copy-ups that changed nothing left out), and the layer
//! written from it must rebuild the merged view on top of the flattened lower layers.

mod layer_support;

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use strata::snapshot::diff::upperdir_changes_against;
use strata::snapshot::{
    unpack_layer_with, write_changes_layer, write_dir_layer, Change, LayerOptions, UnpackOptions,
    WhiteoutMode,
};
use strata::util::safe_path::OnEscape;

const T: i64 = 1_500_000_000;

fn write(root: &Path, rel: &str, data: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, data).unwrap();
    layer_support::set_mtime(&p, T);
}

/// Unmounts on drop, so a failing assertion never leaves a mount behind.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = umount2(&self.0, MntFlags::MNT_DETACH);
    }
}

/// A scratch area with two lower snapshots (overlay whiteout mode, as `Snapshots` makes them)
/// and the same two layers applied to `flat` by deletion.
struct Setup {
    t: tempfile::TempDir,
    lowers: Vec<PathBuf>,
}

impl Setup {
    fn p(&self, s: &str) -> PathBuf {
        self.t.path().join(s)
    }

    fn new() -> Setup {
        let t = tempfile::tempdir().unwrap();
        let s = Setup {
            lowers: vec![t.path().join("l1"), t.path().join("l0")],
            t,
        };
        for d in ["b0", "b1", "l0", "l1", "flat", "upper", "work", "merged"] {
            std::fs::create_dir(s.p(d)).unwrap();
        }
        let b0 = s.p("b0");
        for (f, c) in [
            ("bin/busybox", "BB"),
            ("etc/chmod_same", "a"),
            ("etc/openw", "o"),
            ("etc/rewrite", "same"),
            ("etc/append", "ap"),
            ("etc/chown", "c"),
            ("etc/motd", "motd"),
            ("etc/del", "d"),
            ("var/cache/a", "a"),
            ("var/cache/b", "b"),
            ("data/moved", "m"),
            ("usr/share/doc/readme", "r"),
        ] {
            write(&b0, f, c);
        }
        // Layer 1 changes etc/append and deletes etc/motd.
        let b1 = s.p("b1");
        write(&b1, "etc/append", "ap1");
        let opts = LayerOptions::default();
        let mut blob0 = vec![];
        write_dir_layer(&b0, &opts, &mut blob0).unwrap();
        let mut blob1 = vec![];
        let changes1 = [
            Change::Modified("etc/append".into()),
            Change::Deleted("etc/motd".into()),
        ];
        write_changes_layer(&b1, &changes1, &opts, &mut blob1).unwrap();
        let overlay = UnpackOptions::default();
        let flat = UnpackOptions {
            whiteouts: WhiteoutMode::Delete,
            symlinks: OnEscape::Clamp,
        };
        for (blob, snap) in [(&blob0, "l0"), (&blob1, "l1")] {
            let tar = layer_support::decompress_all(blob);
            unpack_layer_with(&mut &tar[..], &s.p(snap), &overlay).unwrap();
            unpack_layer_with(&mut &tar[..], &s.p("flat"), &flat).unwrap();
        }
        s
    }

    fn mount(&self, extra: &str) -> Mounted {
        let data = format!(
            "lowerdir={}:{},upperdir={},workdir={}{extra}",
            self.lowers[0].display(),
            self.lowers[1].display(),
            self.p("upper").display(),
            self.p("work").display()
        );
        let merged = self.p("merged");
        mount(
            Some("overlay"),
            &merged,
            Some("overlay"),
            MsFlags::empty(),
            Some(data.as_str()),
        )
        .unwrap_or_else(|e| panic!("mount overlay {data}: {e}"));
        Mounted(merged)
    }
}

/// A full listing minus hard-link grouping (a layer may split a pair whose other half it
/// leaves out; the content and metadata must still match).
fn listing(root: &Path) -> Vec<(String, layer_support::Node)> {
    layer_support::listing(root)
        .into_iter()
        .map(|(k, mut n)| {
            n.links.clear();
            (k, n)
        })
        .collect()
}

#[test]
fn copy_ups_that_change_nothing_are_left_out() {
    let s = Setup::new();
    let guard = s.mount("");
    let m = s.p("merged");
    let m = |rel: &str| m.join(rel);
    // Copied up, nothing different.
    std::fs::set_permissions(
        m("etc/chmod_same"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    drop(
        std::fs::OpenOptions::new()
            .write(true)
            .open(m("etc/openw"))
            .unwrap(),
    );
    // Real changes. A hard link copies busybox up, and the copy must go in the layer with
    // its new name, or the two come apart on unpack.
    std::fs::hard_link(m("bin/busybox"), m("bin/x")).unwrap();
    std::fs::write(m("etc/rewrite"), "same").unwrap(); // same bytes, new mtime
    std::fs::OpenOptions::new()
        .append(true)
        .open(m("etc/append"))
        .unwrap()
        .write_all(b"+")
        .unwrap();
    std::os::unix::fs::lchown(m("etc/chown"), Some(1000), Some(1000)).unwrap();
    std::fs::remove_file(m("etc/del")).unwrap();
    std::fs::write(m("etc/motd"), "back").unwrap(); // deleted by layer 1, made again
    std::fs::remove_dir_all(m("var/cache")).unwrap();
    std::fs::create_dir(m("var/cache")).unwrap();
    std::fs::write(m("var/cache/c"), "c").unwrap();
    std::fs::write(m("usr/share/doc/new"), "n").unwrap();
    std::fs::rename(m("data/moved"), m("data/renamed")).unwrap();
    let merged = listing(&s.p("merged"));
    drop(guard);

    // The kernel did copy these up; leaving them out is our doing.
    for copied in ["etc/chmod_same", "etc/openw", "bin/busybox", "usr/share"] {
        assert!(s.p("upper").join(copied).exists(), "{copied} not copied up");
    }
    let changes = upperdir_changes_against(&s.p("upper"), &s.lowers).unwrap();
    let p = PathBuf::from;
    assert_eq!(
        changes,
        [
            Change::Modified(p("bin/busybox")),
            Change::Added(p("bin/x")),
            Change::Deleted(p("data/moved")),
            Change::Added(p("data/renamed")),
            Change::Modified(p("etc/append")),
            Change::Modified(p("etc/chown")),
            Change::Deleted(p("etc/del")),
            Change::Added(p("etc/motd")),
            Change::Modified(p("etc/rewrite")),
            Change::Added(p("usr/share/doc/new")),
            Change::OpaqueDir(p("var/cache")),
            Change::Added(p("var/cache/c")),
        ]
    );

    // The layer from this list, applied over the flattened lower layers, is the merged view.
    let mut blob = vec![];
    write_changes_layer(&s.p("upper"), &changes, &LayerOptions::default(), &mut blob).unwrap();
    let tar = layer_support::decompress_all(&blob);
    let flat = UnpackOptions {
        whiteouts: WhiteoutMode::Delete,
        symlinks: OnEscape::Clamp,
    };
    unpack_layer_with(&mut &tar[..], &s.p("flat"), &flat).unwrap();
    assert_eq!(listing(&s.p("flat")), merged);
    let bx = std::fs::symlink_metadata(s.p("flat/bin/x")).unwrap();
    assert_eq!((bx.uid(), bx.mode() & 0o7777), (0, 0o644));
}

#[test]
fn metacopy_copy_ups_count_as_the_lower_file() {
    let s = Setup::new();
    let guard = s.mount(",metacopy=on");
    let m = s.p("merged");
    std::fs::set_permissions(
        m.join("etc/chmod_same"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    drop(guard);
    let up = s.p("upper/etc/chmod_same");
    assert!(
        layer_support::getxattr(&up, b"trusted.overlay.metacopy").is_some(),
        "the kernel made no metacopy copy-up; this test needs metacopy=on to work"
    );
    assert_eq!(
        upperdir_changes_against(&s.p("upper"), &s.lowers).unwrap(),
        []
    );

    // A metadata change on such a file cannot be written from the upperdir: refused.
    let guard = s.mount(",metacopy=on");
    std::fs::set_permissions(
        m.join("etc/openw"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    drop(guard);
    let err = upperdir_changes_against(&s.p("upper"), &s.lowers).unwrap_err();
    assert!(err.to_string().contains("etc/openw"), "{err}");
    assert!(err.to_string().contains("metacopy=off"), "{err}");
}

#[test]
fn renamed_lower_directory_with_redirect_dir_is_refused() {
    let s = Setup::new();
    let guard = s.mount(",redirect_dir=on");
    std::fs::rename(s.p("merged/data"), s.p("merged/data2")).unwrap();
    drop(guard);
    let err = upperdir_changes_against(&s.p("upper"), &s.lowers).unwrap_err();
    assert!(err.to_string().contains("data2"), "{err}");
    assert!(err.to_string().contains("redirect_dir=off"), "{err}");
}
