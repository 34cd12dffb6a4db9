//! Hostile archives: entries that would land outside the destination are refused with an
//! error naming the entry, and nothing outside the destination changes.

mod layer_support;

use std::path::Path;

use layer_support::*;
use strata::snapshot::tar_layout::Kind;
use strata::snapshot::{unpack_layer, unpack_layer_with, UnpackError, UnpackOptions, WhiteoutMode};
use strata::util::safe_path::OnEscape;

/// A sandbox: `base/outside` holds a canary file, `base/a/b/dest` is the destination, so
/// `../../x` style links from inside dest would reach `base`.
fn sandbox() -> (tempfile::TempDir, std::path::PathBuf) {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(t.path().join("outside")).unwrap();
    std::fs::write(t.path().join("outside/canary"), "untouched").unwrap();
    let dest = t.path().join("a/b/dest");
    std::fs::create_dir_all(&dest).unwrap();
    (t, dest)
}

fn outside_listing(base: &Path) -> Vec<(String, Node)> {
    listing(base)
        .into_iter()
        .filter(|(k, _)| !k.starts_with("a/b/dest"))
        .filter(|(k, _)| k != "a" && k != "a/b") // their mtimes are not ours to judge
        .collect()
}

fn check_refused(tar: Vec<u8>, entry: &str, why: &str) {
    let (t, dest) = sandbox();
    let before = outside_listing(t.path());
    let err = unpack_layer(&mut &tar[..], &dest).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, UnpackError::Escape { .. }),
        "{entry}: {err:?}"
    );
    assert!(
        msg.contains(&format!("{entry:?}")),
        "error must name {entry:?}: {msg}"
    );
    assert!(msg.contains(why), "error must say {why:?}: {msg}");
    assert_eq!(
        outside_listing(t.path()),
        before,
        "{entry}: something outside changed"
    );
    assert!(!t.path().join("x").exists() && !t.path().join("a/x").exists());
}

#[test]
fn dotdot_name_is_refused() {
    check_refused(
        RawTar::default().file("../x", b"evil").finish(),
        "../x",
        "\"..\"",
    );
    check_refused(
        RawTar::default().file("ok/../../x", b"evil").finish(),
        "ok/../../x",
        "\"..\"",
    );
}

#[test]
fn absolute_name_is_refused() {
    check_refused(
        RawTar::default().file("/abs", b"evil").finish(),
        "/abs",
        "absolute",
    );
}

#[test]
fn write_through_absolute_symlink_is_refused() {
    let tar = RawTar::default()
        .symlink("etc", "/etc")
        .file("etc/passwd", b"root::0:0")
        .finish();
    check_refused(tar, "etc/passwd", "points to absolute path");
}

#[test]
fn write_through_climbing_symlink_is_refused() {
    let tar = RawTar::default()
        .symlink("up", "../../../outside")
        .file("up/canary", b"overwritten")
        .finish();
    check_refused(tar, "up/canary", "leaves the root");
    // The same through a nested link that climbs step by step.
    let tar = RawTar::default()
        .dir("d")
        .symlink("d/l", "..")
        .symlink("d/m", "l/../..")
        .file("d/m/x", b"evil")
        .finish();
    check_refused(tar, "d/m/x", "leaves the root");
}

#[test]
fn hard_link_out_is_refused() {
    let tar = RawTar::default()
        .entry(
            "h",
            Kind::HardLink {
                target: b"../../../outside/canary".to_vec(),
            },
            b"",
        )
        .finish();
    check_refused(tar, "h", "\"..\"");
    let tar = RawTar::default()
        .symlink("l", "/")
        .entry(
            "h",
            Kind::HardLink {
                target: b"l/etc/passwd".to_vec(),
            },
            b"",
        )
        .finish();
    check_refused(tar, "h", "points to absolute path");
}

#[test]
fn whiteout_through_symlink_is_refused() {
    let tar = RawTar::default()
        .symlink("up", "../../../outside")
        .file("up/.wh.canary", b"")
        .finish();
    let (t, dest) = sandbox();
    let opts = UnpackOptions {
        whiteouts: WhiteoutMode::Delete,
        symlinks: OnEscape::Refuse,
    };
    let err = unpack_layer_with(&mut &tar[..], &dest, &opts).unwrap_err();
    assert!(err.to_string().contains("up/.wh.canary"), "{err}");
    assert_eq!(
        std::fs::read_to_string(t.path().join("outside/canary")).unwrap(),
        "untouched"
    );
}

#[test]
fn replacing_a_symlink_never_writes_through_it() {
    // A later entry with the symlink's own name replaces the link, not its target.
    let (t, dest) = sandbox();
    let target = t.path().join("outside/canary");
    let tar = RawTar::default()
        .symlink("f", target.to_str().unwrap())
        .file("f", b"replaced")
        .finish();
    unpack_layer(&mut &tar[..], &dest).unwrap();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched");
    assert_eq!(std::fs::read_to_string(dest.join("f")).unwrap(), "replaced");
}

#[test]
fn clamp_mode_keeps_writes_inside() {
    // With chroot semantics the same hostile links resolve inside the destination.
    let (t, dest) = sandbox();
    let before = outside_listing(t.path());
    let tar = RawTar::default()
        .symlink("etc", "/real/etc")
        .file("etc/passwd", b"inside")
        .symlink("up", "../../../outside")
        .file("up/canary", b"inside too")
        .finish();
    let opts = UnpackOptions {
        whiteouts: WhiteoutMode::Delete,
        symlinks: OnEscape::Clamp,
    };
    unpack_layer_with(&mut &tar[..], &dest, &opts).unwrap();
    assert_eq!(
        std::fs::read_to_string(dest.join("outside/canary")).unwrap(),
        "inside too"
    );
    assert_eq!(outside_listing(t.path()), before);
}

#[test]
fn inside_relative_symlinks_are_followed() {
    let (_t, dest) = sandbox();
    let tar = RawTar::default()
        .dir("usr/lib")
        .symlink("lib", "usr/lib")
        .file("lib/libc.so", b"elf")
        .finish();
    unpack_layer(&mut &tar[..], &dest).unwrap();
    assert_eq!(std::fs::read(dest.join("usr/lib/libc.so")).unwrap(), b"elf");
}
