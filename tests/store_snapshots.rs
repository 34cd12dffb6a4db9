//! Every imported layer is also kept unpacked once, in `snapshots-v1/<chainID>`, shared by every
//! image that has it, and pruned when no image uses it.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;

use common::{busybox_rootfs, Strata};

fn snapshot_dirs(s: &Strata) -> Vec<String> {
    let mut out: Vec<String> = match fs::read_dir(s.root.join("snapshots-v1")) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

#[test]
fn import_keeps_one_shared_snapshot_per_chain() {
    let s = Strata::new();
    let rootfs = s.scratch("rootfs");
    busybox_rootfs(&rootfs);
    fs::write(rootfs.join("etc/motd"), "snapshot me\n").unwrap();
    let id = s.ok(&["import", rootfs.to_str().unwrap(), "one"]);
    let inspect: serde_json::Value = serde_json::from_str(&s.ok(&["inspect", id.trim()])).unwrap();
    // One layer: its chain ID is its diff ID.
    let diff_id = inspect[0]["RootFS"]["Layers"][0].as_str().unwrap();
    let hex = diff_id.strip_prefix("sha256:").unwrap().to_string();
    assert_eq!(snapshot_dirs(&s), vec![hex.clone()]);

    let snap = s.root.join("snapshots-v1").join(&hex);
    assert_eq!(
        fs::read_to_string(snap.join("etc/motd")).unwrap(),
        "snapshot me\n"
    );
    assert!(fs::symlink_metadata(snap.join("bin/sh"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        fs::metadata(snap.join("tmp")).unwrap().mode() & 0o7777,
        0o1777
    );

    // The same content under another tag (and with another compression) shares the snapshot.
    let ino = fs::metadata(&snap).unwrap().ino();
    s.ok(&[
        "import",
        "--compression",
        "zstd",
        rootfs.to_str().unwrap(),
        "two",
    ]);
    assert_eq!(snapshot_dirs(&s), vec![hex.clone()]);
    assert_eq!(
        fs::metadata(&snap).unwrap().ino(),
        ino,
        "snapshot was redone"
    );

    // Still used by "two" after "one" goes; gone once nothing uses it.
    s.ok(&["rmi", "one"]);
    s.ok(&["system", "prune", "-f"]);
    assert_eq!(snapshot_dirs(&s), vec![hex]);
    s.ok(&["rmi", "two"]);
    s.ok(&["system", "prune", "-f"]);
    assert_eq!(snapshot_dirs(&s), Vec::<String>::new());
}
