//! Hard links to files of lower layers: a layer whose tar links `bin/x` to `bin/busybox`, which
//! only a lower layer holds. Unpacked alone (as a snapshot dir) that link has no target; with
//! the lower snapshot dirs it becomes a copy of the lower file, and `Snapshots::ensure_chain`
//! makes such layers while still unpacking in parallel.

mod layer_support;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use strata::digest::Digest;
use strata::snapshot::tar_layout::{encode_header, padding, EntryHeader, Kind, TRAILER};
use strata::snapshot::unpack::unpack_layer_over;
use strata::snapshot::{
    lowerdir_option, unpack_layer, BlobOpener, Snapshots, UnpackError, UnpackOptions,
};

/// A tar built entry by entry with full control of the metadata.
#[derive(Default)]
struct Tar(Vec<u8>);

impl Tar {
    fn add(&mut self, path: &str, kind: Kind, data: &[u8], mode: u32, uid: u64) -> &mut Self {
        let h = EntryHeader {
            path: path.as_bytes().to_vec(),
            kind,
            mode,
            uid,
            gid: uid,
            mtime: 1_000_000,
            xattrs: if data.is_empty() {
                vec![]
            } else {
                vec![(b"user.origin".to_vec(), path.as_bytes().to_vec())]
            },
        };
        encode_header(&h, &mut self.0);
        self.0.extend_from_slice(data);
        self.0.resize(self.0.len() + padding(data.len() as u64), 0);
        self
    }
    fn dir(&mut self, path: &str) -> &mut Self {
        self.add(path, Kind::Dir, b"", 0o755, 0)
    }
    fn file(&mut self, path: &str, data: &[u8]) -> &mut Self {
        let size = data.len() as u64;
        self.add(path, Kind::File { size }, data, 0o4751, 7)
    }
    fn link(&mut self, path: &str, target: &str) -> &mut Self {
        let target = target.as_bytes().to_vec();
        self.add(path, Kind::HardLink { target }, b"", 0o644, 0)
    }
    fn finish(&mut self) -> Vec<u8> {
        let mut v = self.0.clone();
        v.extend_from_slice(&TRAILER);
        v
    }
}

/// The base: busybox and a file layer 1 replaces.
fn base() -> Vec<u8> {
    Tar::default()
        .dir("bin")
        .file("bin/busybox", b"BUSYBOX")
        .file("bin/sh", b"old sh")
        .file("bin/rm", b"rm")
        .finish()
}

/// Layer 1 (a RUN step): links to lower files, one of them replaced in a middle layer when
/// used with `middle()`, and a link to one of its own links.
fn links_layer() -> Vec<u8> {
    Tar::default()
        .dir("bin")
        .link("bin/x", "bin/busybox")
        .link("bin/y", "bin/busybox")
        .link("bin/z", "bin/x")
        .link("bin/sh2", "bin/sh")
        .finish()
}

fn check_links(dest: &Path, sh: &str) {
    let md = |n: &str| std::fs::symlink_metadata(dest.join(n)).unwrap();
    for n in ["bin/x", "bin/y", "bin/z"] {
        assert_eq!(std::fs::read(dest.join(n)).unwrap(), b"BUSYBOX", "{n}");
        let m = md(n);
        // The lower file's metadata, not the link entry's.
        assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o4751, 7, 7), "{n}");
        assert_eq!(m.mtime(), 1_000_000, "{n}");
        assert_eq!(
            layer_support::getxattr(&dest.join(n), b"user.origin").as_deref(),
            Some(&b"bin/busybox"[..]),
            "{n}"
        );
    }
    // One copy, linked within the layer: x, y and z are one inode of their own.
    assert_eq!(md("bin/x").ino(), md("bin/y").ino());
    assert_eq!(md("bin/x").ino(), md("bin/z").ino());
    assert_eq!(md("bin/x").nlink(), 3);
    assert_eq!(std::fs::read_to_string(dest.join("bin/sh2")).unwrap(), sh);
    assert_eq!(md("bin/sh2").nlink(), 1);
    // The directory keeps the mtime its entry gave it.
    assert_eq!(md("bin").mtime(), 1_000_000);
    assert!(
        !dest.join("bin/busybox").exists(),
        "the target itself is not copied"
    );
}

fn unpacked(t: &Path, name: &str, tar: &[u8], lowers: &[PathBuf]) -> PathBuf {
    let d = t.join(name);
    std::fs::create_dir(&d).unwrap();
    unpack_layer_over(&mut &tar[..], &d, &UnpackOptions::default(), lowers).unwrap();
    d
}

#[test]
fn link_to_a_lower_file_fails_alone_and_copies_with_lowers() {
    let t = tempfile::tempdir().unwrap();
    // The bug: alone, the link has no target.
    let alone = t.path().join("alone");
    std::fs::create_dir(&alone).unwrap();
    let err = unpack_layer(&mut &links_layer()[..], &alone).unwrap_err();
    assert!(matches!(err, UnpackError::Invalid { .. }), "{err:?}");
    assert!(err.to_string().contains("bin/x"), "{err}");
    assert!(err.to_string().contains("neither in this layer"), "{err}");

    let l0 = unpacked(t.path(), "l0", &base(), &[]);
    let l1 = unpacked(t.path(), "l1", &links_layer(), std::slice::from_ref(&l0));
    check_links(&l1, "old sh");
    assert_ne!(
        std::fs::metadata(l1.join("bin/x")).unwrap().ino(),
        std::fs::metadata(l0.join("bin/busybox")).unwrap().ino(),
        "a copy, not a link into the lower snapshot"
    );
}

#[test]
fn lower_lookup_takes_the_top_layer_and_honours_whiteouts() {
    let t = tempfile::tempdir().unwrap();
    let l0 = unpacked(t.path(), "l0", &base(), &[]);
    // A middle layer replaces sh and deletes rm.
    let middle = Tar::default()
        .file("bin/sh", b"new sh")
        .file("bin/.wh.rm", b"")
        .finish();
    let lm = unpacked(t.path(), "lm", &middle, std::slice::from_ref(&l0));
    let lowers = vec![lm, l0];
    let l1 = unpacked(t.path(), "l1", &links_layer(), &lowers);
    check_links(&l1, "new sh");

    let to_deleted = Tar::default().link("bin/rm2", "bin/rm").finish();
    let d = t.path().join("d");
    std::fs::create_dir(&d).unwrap();
    let err = unpack_layer_over(&mut &to_deleted[..], &d, &UnpackOptions::default(), &lowers)
        .unwrap_err();
    assert!(err.to_string().contains("bin/rm"), "{err}");
}

#[test]
fn a_later_entry_replaces_a_pending_link() {
    let t = tempfile::tempdir().unwrap();
    let l0 = unpacked(t.path(), "l0", &base(), &[]);
    let tar = Tar::default()
        .link("bin/x", "bin/busybox")
        .file("bin/x", b"replaced")
        .finish();
    let l1 = unpacked(t.path(), "l1", &tar, &[l0]);
    assert_eq!(std::fs::read(l1.join("bin/x")).unwrap(), b"replaced");
}

fn opener(tar: Vec<u8>) -> (Digest, BlobOpener<'static>) {
    let d = Digest::of(&tar);
    let open: BlobOpener =
        Box::new(move || Ok(Box::new(std::io::Cursor::new(tar)) as Box<dyn std::io::Read + Send>));
    (d, open)
}

struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = umount2(&self.0, MntFlags::MNT_DETACH);
    }
}

#[test]
fn ensure_chain_makes_links_into_lower_snapshots() {
    let t = tempfile::tempdir().unwrap();
    let store = t.path().join("store");
    let snaps = Snapshots::new(&store);
    // Layer 2 links to a file that is itself a link layer 1 made from the base: the layers
    // with such links must be completed base first.
    let top = Tar::default().link("bin/w", "bin/x").finish();
    let layers = vec![opener(base()), opener(links_layer()), opener(top.clone())];
    let dirs = snaps.ensure_chain(layers).unwrap();
    assert_eq!(dirs.len(), 3);
    check_links(&dirs[1], "old sh");
    assert_eq!(std::fs::read(dirs[0].join("bin/w")).unwrap(), b"BUSYBOX");
    assert_eq!(std::fs::read_dir(store.join("tmp")).unwrap().count(), 0);

    // What the kernel shows over them.
    let mnt = t.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let mut opt = String::from("lowerdir=");
    opt.push_str(lowerdir_option(&dirs).to_str().unwrap());
    mount(
        Some("overlay"),
        &mnt,
        Some("overlay"),
        MsFlags::MS_RDONLY,
        Some(opt.as_str()),
    )
    .unwrap();
    let guard = Mounted(mnt.clone());
    for n in ["busybox", "x", "y", "z", "w"] {
        assert_eq!(
            std::fs::read(mnt.join("bin").join(n)).unwrap(),
            b"BUSYBOX",
            "{n}"
        );
    }
    drop(guard);

    // Alone, the top layer cannot be made, and leaves nothing behind.
    let alone = Snapshots::new(&t.path().join("other"));
    let (d, open) = opener(top);
    let err = alone.ensure(&d, &d, open).unwrap_err();
    assert!(err.to_string().contains("bin/w"), "{err}");
    assert!(!alone.exists(&d));
    assert_eq!(
        std::fs::read_dir(t.path().join("other/tmp"))
            .unwrap()
            .count(),
        0
    );
}
