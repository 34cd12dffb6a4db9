//! `upperdir_changes_against` on hand-made upper and lower directories (no mount), so every
//! comparison rule is pinned down exactly, including ones a kernel mount cannot be forced into.

use std::path::{Path, PathBuf};

use super::*;
use crate::snapshot::fsops;

const T: i64 = 1_600_000_000;

/// A regular file with fixed mode and mtime, creating its parents.
fn file(p: &Path, content: &[u8], mode: u32, mtime: i64) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, content).unwrap();
    fsops::chmod(p, mode).unwrap();
    fsops::set_mtime(p, mtime).unwrap();
}

fn dir(p: &Path, mode: u32) {
    std::fs::create_dir_all(p).unwrap();
    fsops::chmod(p, mode).unwrap();
}

fn whiteout(p: &Path) {
    fsops::mknod(p, libc::S_IFCHR, 0).unwrap();
}

struct Tree {
    _t: tempfile::TempDir,
    upper: PathBuf,
    lowers: Vec<PathBuf>,
}

/// Lowers l1 (top) over l0, and an upper holding one case per name.
fn tree() -> Tree {
    let t = tempfile::tempdir().unwrap();
    let upper = t.path().join("upper");
    let (l1, l0) = (t.path().join("l1"), t.path().join("l0"));
    for d in [&upper, &l1, &l0] {
        dir(d, 0o755);
    }
    for l in [&l0, &l1] {
        for (name, content) in [
            ("same", "same"),
            ("chmod", "chmod"),
            ("touched", "touched"),
            ("content", "aaaa"),
            ("grown", "g"),
            ("xattr", "x"),
            ("origin", "o"),
            ("meta", "metacopy data"),
        ] {
            file(&l.join(name), content.as_bytes(), 0o644, T);
        }
        dir(&l.join("d"), 0o755);
        file(&l.join("d/same"), b"d", 0o644, T);
        dir(&l.join("dmode"), 0o755);
        dir(&l.join("opq"), 0o755);
        file(&l.join("opq/kept"), b"k", 0o644, T);
        std::os::unix::fs::symlink("target", l.join("link")).unwrap();
        std::os::unix::fs::symlink("target", l.join("relink")).unwrap();
        file(&l.join("del"), b"del", 0o644, T);
    }
    // Only in l0, hidden by l1: the top-most layer is what an upper entry is compared to.
    file(&l0.join("shadowed"), b"old", 0o644, T);
    file(&l1.join("shadowed"), b"new", 0o644, T);
    file(&l0.join("gone/x"), b"x", 0o644, T);
    whiteout(&l1.join("gone"));

    let u = &upper;
    file(&u.join("same"), b"same", 0o644, T);
    file(&u.join("chmod"), b"chmod", 0o600, T);
    file(&u.join("touched"), b"touched", 0o644, T + 1);
    file(&u.join("content"), b"aaab", 0o644, T);
    file(&u.join("grown"), b"gg", 0o644, T);
    file(&u.join("xattr"), b"x", 0o644, T);
    fsops::lsetxattr(&u.join("xattr"), b"user.note", b"1").unwrap();
    file(&u.join("origin"), b"o", 0o644, T);
    fsops::lsetxattr(&u.join("origin"), b"trusted.overlay.origin", b"fh").unwrap();
    // A metacopy upper file: right size, no data, marked.
    file(&u.join("meta"), &[0; 13], 0o644, T);
    fsops::lsetxattr(&u.join("meta"), b"trusted.overlay.metacopy", b"").unwrap();
    file(&u.join("shadowed"), b"old", 0o644, T);
    file(&u.join("new"), b"n", 0o644, T);
    dir(&u.join("d"), 0o755);
    file(&u.join("d/same"), b"d", 0o644, T);
    file(&u.join("d/added"), b"a", 0o644, T);
    dir(&u.join("dmode"), 0o700);
    dir(&u.join("opq"), 0o755);
    fsops::set_opaque(&u.join("opq")).unwrap();
    file(&u.join("opq/kept"), b"k", 0o644, T);
    dir(&u.join("fresh"), 0o755);
    fsops::set_opaque(&u.join("fresh")).unwrap();
    file(&u.join("gone/x"), b"x", 0o644, T);
    std::os::unix::fs::symlink("target", u.join("link")).unwrap();
    std::os::unix::fs::symlink("elsewhere", u.join("relink")).unwrap();
    whiteout(&u.join("del"));
    whiteout(&u.join("never"));
    for p in [
        u.join("link"),
        u.join("relink"),
        l1.join("link"),
        l0.join("link"),
    ] {
        fsops::set_mtime(&p, T).unwrap();
    }
    for p in [l1.join("relink"), l0.join("relink")] {
        fsops::set_mtime(&p, T).unwrap();
    }
    Tree {
        _t: t,
        upper,
        lowers: vec![l1, l0],
    }
}

#[test]
fn copied_up_entries_are_left_out() {
    let tr = tree();
    let got = upperdir_changes_against(&tr.upper, &tr.lowers).unwrap();
    let p = PathBuf::from;
    let want = vec![
        Change::Modified(p("chmod")),
        Change::Modified(p("content")),
        // d: same metadata, left out; its children are still compared.
        Change::Added(p("d/added")),
        Change::Deleted(p("del")),
        Change::Modified(p("dmode")),
        // fresh: opaque, but nothing below to hide.
        Change::Added(p("fresh")),
        // gone: whited out in l1, so the l0 copy does not count.
        Change::Added(p("gone")),
        Change::Added(p("gone/x")),
        Change::Modified(p("grown")),
        // link: same target; meta: metacopy with equal metadata; origin: only overlay xattrs.
        Change::Added(p("new")),
        Change::OpaqueDir(p("opq")),
        Change::Added(p("opq/kept")), // equal to the lower file, but the lower is hidden
        Change::Modified(p("relink")),
        Change::Modified(p("shadowed")), // equal to l0's, not to l1's
        Change::Modified(p("touched")),
        Change::Modified(p("xattr")),
    ];
    assert_eq!(got, want);
}

#[test]
fn a_copy_up_with_a_new_hard_link_is_kept() {
    let tr = tree();
    std::fs::hard_link(tr.upper.join("same"), tr.upper.join("same-too")).unwrap();
    let got = upperdir_changes_against(&tr.upper, &tr.lowers).unwrap();
    let p = PathBuf::from;
    assert!(got.contains(&Change::Modified(p("same"))), "{got:?}");
    assert!(got.contains(&Change::Added(p("same-too"))), "{got:?}");
}

#[test]
fn without_lowers_everything_is_added() {
    let tr = tree();
    // With nothing below, a metacopy file could not exist; take it out.
    std::fs::remove_file(tr.upper.join("meta")).unwrap();
    let got = upperdir_changes_against(&tr.upper, &[]).unwrap();
    // Whiteouts over nothing vanish, opaque directories are plain; every other entry is new.
    let want: Vec<Change> = [
        "chmod", "content", "d", "d/added", "d/same", "dmode", "fresh", "gone", "gone/x", "grown",
        "link", "new", "opq", "opq/kept", "origin", "relink", "same", "shadowed", "touched",
        "xattr",
    ]
    .iter()
    .map(|n| Change::Added(PathBuf::from(n)))
    .collect();
    assert_eq!(got, want);
}

#[test]
fn metacopy_with_changed_metadata_is_refused() {
    let tr = tree();
    fsops::chmod(&tr.upper.join("meta"), 0o600).unwrap();
    let err = upperdir_changes_against(&tr.upper, &tr.lowers).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::Unsupported);
    assert!(err.to_string().contains("metacopy=off"), "{err}");
    assert!(err.to_string().contains("meta\""), "{err}");
}

#[test]
fn redirect_is_refused() {
    let tr = tree();
    fsops::lsetxattr(&tr.upper.join("d"), b"trusted.overlay.redirect", b"/dmode").unwrap();
    let err = upperdir_changes_against(&tr.upper, &tr.lowers).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::Unsupported);
    assert!(err.to_string().contains("redirect_dir=off"), "{err}");
}

#[test]
fn content_compare_stops_at_first_difference_and_sees_the_last_block() {
    let t = tempfile::tempdir().unwrap();
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    let mut data = vec![7u8; 200 * 1024 + 3];
    std::fs::write(&a, &data).unwrap();
    std::fs::write(&b, &data).unwrap();
    assert!(same_content(&a, &b).unwrap());
    *data.last_mut().unwrap() = 8;
    std::fs::write(&b, &data).unwrap();
    assert!(!same_content(&a, &b).unwrap());
    std::fs::write(&a, b"").unwrap();
    std::fs::write(&b, b"").unwrap();
    assert!(same_content(&a, &b).unwrap());
}
