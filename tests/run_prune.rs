//! Pruning never takes a container's root filesystem: an image whose tag is gone but which a
//! container still uses keeps its blobs and snapshots through `system prune -a` and
//! `builder prune --all`, and the container starts again afterwards.

mod common;
mod run_support;

use run_support::Env;

#[test]
fn prune_keeps_the_images_and_snapshots_of_existing_containers() {
    let e = Env::new();
    e.image_with("mine", &[r#"CMD ["sh"]"#]);
    e.code(
        &[
            "run",
            "--name",
            "keep",
            "--network",
            "none",
            "mine",
            "sh",
            "-c",
            "echo kept > /f",
        ],
        0,
    );
    // Docker refuses to untag an image a container uses without -f; forced, it goes.
    e.s.ok(&["rmi", "-f", "mine"]);
    // `system prune` would remove the stopped container itself, as Docker's does.
    e.s.ok(&["image", "prune", "-a", "-f"]);
    e.s.ok(&["builder", "prune", "--all"]);
    let snapshots = std::fs::read_dir(e.s.root.join("snapshots-v1"))
        .unwrap()
        .count();
    assert!(snapshots > 0, "the container's snapshot went");
    // The stopped container runs again on its own image and upperdir.
    e.code(&["start", "keep"], 0);
    let (code, _) = e.code(&["wait", "keep"], 0);
    assert_eq!(code.trim(), "0");
    let tar = e.s.root.join("keep.tar");
    e.code(&["export", "keep", "-o", tar.to_str().unwrap()], 0);
    let listing = common::tool("tar", &["-tf", tar.to_str().unwrap()]);
    assert!(
        listing.lines().any(|l| l.trim_start_matches("./") == "f"),
        "{listing}"
    );
    assert!(listing.contains("bin/busybox"), "{listing}");
    // Once the container is gone, the image may go too.
    e.code(&["rm", "keep"], 0);
    e.s.ok(&["system", "prune", "-a", "-f"]);
    let left = std::fs::read_dir(e.s.root.join("snapshots-v1"))
        .unwrap()
        .count();
    assert_eq!(left, 0, "nothing uses the snapshots any more");
}
