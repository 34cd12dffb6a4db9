//! An overlay upperdir becomes a change layer: changes made through a real overlay mount,
//! written with `upperdir_changes` + `write_changes_layer` and applied on top of the base,
//! give exactly the merged view the kernel showed.

mod layer_support;

use std::process::Command;

use strata::snapshot::{
    unpack_layer_with, upperdir_changes, write_changes_layer, write_dir_layer, LayerOptions,
    UnpackOptions, WhiteoutMode,
};
use strata::util::safe_path::OnEscape;

fn run(cmd: &mut Command) {
    let st = cmd.status().unwrap();
    assert!(st.success(), "{cmd:?}");
}

#[test]
fn upperdir_round_trips_through_a_change_layer() {
    let t = tempfile::tempdir().unwrap();
    let p = |s: &str| t.path().join(s);
    for d in ["lower", "upper", "work", "merged", "flat"] {
        std::fs::create_dir(p(d)).unwrap();
    }
    for (f, c) in [
        ("etc/passwd", "root"),
        ("etc/group", "g"),
        ("var/lib/a", "a"),
        ("var/lib/b", "b"),
    ] {
        let f = p("lower").join(f);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, c).unwrap();
    }
    let opt = format!(
        "lowerdir={},upperdir={},workdir={}",
        p("lower").display(),
        p("upper").display(),
        p("work").display()
    );
    run(Command::new("mount")
        .args(["-t", "overlay", "overlay", "-o", &opt])
        .arg(p("merged")));
    let m = p("merged");
    std::fs::remove_file(m.join("etc/passwd")).unwrap();
    std::fs::write(m.join("etc/group"), "changed").unwrap();
    std::fs::remove_dir_all(m.join("var/lib")).unwrap();
    std::fs::create_dir(m.join("var/lib")).unwrap(); // overlay makes this opaque
    std::fs::write(m.join("var/lib/c"), "c").unwrap();
    std::fs::write(m.join("new"), "n").unwrap();
    let merged = layer_support::view(&m);
    run(Command::new("umount").arg(&m));

    let changes = upperdir_changes(&p("upper")).unwrap();
    let opts = LayerOptions::default();
    let mut base = vec![];
    write_dir_layer(&p("lower"), &opts, &mut base).unwrap();
    let mut diff = vec![];
    write_changes_layer(&p("upper"), &changes, &opts, &mut diff).unwrap();

    let flat = UnpackOptions {
        whiteouts: WhiteoutMode::Delete,
        symlinks: OnEscape::Clamp,
    };
    for blob in [&base, &diff] {
        let tar = layer_support::decompress_all(blob);
        unpack_layer_with(&mut &tar[..], &p("flat"), &flat).unwrap();
    }
    assert_eq!(
        layer_support::view(&p("flat")),
        merged,
        "changes: {changes:?}"
    );
}
