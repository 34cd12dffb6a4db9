//! Round trip: a tree with every kind of entry is written as a layer and unpacked back, for
//! each compression, and must come back identical; the digests must match independent tools.

mod layer_support;

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

use layer_support::*;
use strata::snapshot::{unpack_layer, write_dir_layer, Compression, LayerOptions};

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn chown(p: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid)).unwrap();
}

/// Builds the tree and returns the relative paths it is expected to contain.
fn build_tree(root: &Path) {
    let w = |rel: &str, data: &[u8]| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data).unwrap();
    };
    w("etc/passwd", b"root:x:0:0::/root:/bin/sh\n");
    w("bin/su", b"\x7fELF pretend");
    // chown clears setuid, so it goes first.
    chown(&root.join("bin/su"), 1000, 1001);
    chmod(&root.join("bin/su"), 0o4755);
    let long_dir = format!("{}/{}", "deep".repeat(20), "dir".repeat(20));
    let long_name = format!("{long_dir}/{}.txt", "n".repeat(120));
    w(&long_name, b"long name contents");
    w("ünïcødé/日本語.txt", "こんにちは".as_bytes());
    std::fs::hard_link(root.join("etc/passwd"), root.join("etc/passwd-hard")).unwrap();
    std::fs::hard_link(root.join(&long_name), root.join("a-short-link")).unwrap();
    symlink("../etc/passwd", root.join("bin/rel-link")).unwrap();
    symlink("/absolute/target", root.join("abs-link")).unwrap();
    symlink("t".repeat(180), root.join("long-target-link")).unwrap();
    std::fs::create_dir(root.join("shared")).unwrap();
    chown(&root.join("shared"), 0, 50);
    chmod(&root.join("shared"), 0o2775);
    std::fs::create_dir(root.join("tmp")).unwrap();
    chmod(&root.join("tmp"), 0o1777);
    std::fs::create_dir(root.join("dev")).unwrap();
    mknod(&root.join("dev/null"), libc::S_IFCHR, 0o666, 1, 3);
    mknod(&root.join("dev/loop9"), libc::S_IFBLK, 0o660, 7, 9);
    mknod(&root.join("fifo"), libc::S_IFIFO, 0o640, 0, 0);
    chmod(&root.join("dev/null"), 0o666); // undo the umask
    w("caps", b"binary with caps");
    setxattr(&root.join("caps"), "user.comment", b"hello");
    setxattr(&root.join("caps"), "user.binary", &[0, 1, 2, 255]);
    setxattr(&root.join("shared"), "user.dir", b"x");
    w("empty", b"");
    // A file larger than one compression block, to exercise the multi-block paths.
    let big: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    w("big.bin", &big);
    // Fixed mtimes everywhere (directories last, since filling them moved theirs).
    let mut paths: Vec<_> = walkdir::WalkDir::new(root)
        .min_depth(1)
        .contents_first(true)
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .collect();
    paths.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for (i, p) in paths.iter().enumerate() {
        set_mtime(p, 1_600_000_000 + i as i64);
    }
}

fn round_trip(compression: Compression) {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir(&src).unwrap();
    build_tree(&src);
    let before = listing(&src);

    let blob_path = t.path().join("blob");
    let mut blob = std::fs::File::create(&blob_path).unwrap();
    let opts = LayerOptions {
        compression,
        source_date_epoch: None,
    };
    let d = write_dir_layer(&src, &opts, &mut blob).unwrap();
    drop(blob);
    let bytes = std::fs::read(&blob_path).unwrap();
    assert_eq!(d.size, bytes.len() as u64);
    assert_eq!(d.media_type, compression.media_type());

    // Independent checks of both digests and of the archive with the system tools.
    let sum = |cmd: &str| sh(&format!("{cmd} | sha256sum"))[..64].to_string();
    let b = blob_path.display();
    assert_eq!(
        sum(&format!("cat {b}")),
        d.digest.hex(),
        "digest of the blob"
    );
    let unz = match compression {
        Compression::None => format!("cat {b}"),
        Compression::Gzip { .. } => format!("gzip -dc {b}"),
        Compression::Zstd { .. } => format!("zstd -dc {b}"),
    };
    assert_eq!(
        sum(&unz),
        d.diff_id.hex(),
        "diff ID of the uncompressed tar"
    );
    let tv = sh(&format!("{unz} | tar -tvf -"));
    assert!(
        tv.contains("-rwsr-xr-x 1000/1001"),
        "setuid + numeric owner in tar -tv:\n{tv}"
    );
    assert!(
        tv.contains("etc/passwd-hard link to etc/passwd"),
        "hard link in tar -tv:\n{tv}"
    );
    assert!(tv.contains(&"n".repeat(120)), "long name in tar -tv");
    assert!(
        tv.lines().any(|l| l.starts_with("crw-rw-rw- 0/0")
            && l.contains(" 1,3 ")
            && l.ends_with("dev/null")),
        "char device:\n{tv}"
    );
    assert!(tv.contains("drwxrwsr-x 0/50"), "setgid dir:\n{tv}");
    assert!(tv.contains("drwxrwxrwt"), "sticky dir:\n{tv}");
    let tar = decompress_all(&bytes);
    let has = |needle: &[u8]| tar.windows(needle.len()).any(|w| w == needle);
    assert!(
        has(b" SCHILY.xattr.user.comment=hello\n"),
        "xattr PAX record"
    );
    assert!(
        has(b" SCHILY.xattr.user.binary=\x00\x01\x02\xff\n"),
        "binary xattr PAX record"
    );

    let dest = t.path().join("dest");
    std::fs::create_dir(&dest).unwrap();
    let stats = unpack_layer(&mut &tar[..], &dest).unwrap();
    assert_eq!(stats.entries as usize, before.len());
    let after = listing(&dest);
    for (k, v) in &before {
        assert_eq!(after.get(k), Some(v), "{k} differs after the round trip");
    }
    assert_eq!(before.len(), after.len());
}

#[test]
fn round_trip_gzip() {
    round_trip(Compression::Gzip { level: 6 });
}

#[test]
fn round_trip_zstd() {
    round_trip(Compression::Zstd { level: 3 });
}

#[test]
fn round_trip_uncompressed() {
    round_trip(Compression::None);
}

/// Archives made by GNU tar (GNU long-name records and `./` prefixes, or POSIX pax with xattrs)
/// unpack to the same tree.
#[test]
fn gnu_tar_archives_unpack_identically() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir(&src).unwrap();
    build_tree(&src);
    let before = listing(&src);
    for format in ["gnu", "posix"] {
        let tar_path = t.path().join(format!("{format}.tar"));
        sh(&format!(
            "tar --format={format} --xattrs --xattrs-include='user.*' --numeric-owner -C {} -cf {} .",
            src.display(),
            tar_path.display()
        ));
        let dest = t.path().join(format!("dest-{format}"));
        std::fs::create_dir(&dest).unwrap();
        let mut f = std::fs::File::open(&tar_path).unwrap();
        unpack_layer(&mut f, &dest).unwrap();
        let mut after = listing(&dest);
        if format == "gnu" {
            // The GNU format has no xattrs; everything else must match.
            for (k, v) in after.iter_mut() {
                v.xattrs = before[k].xattrs.clone();
            }
        }
        for (k, v) in &before {
            assert_eq!(after.get(k), Some(v), "{format}: {k} differs");
        }
        assert_eq!(before.len(), after.len(), "{format}");
    }
}
