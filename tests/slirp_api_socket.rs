//! slirp4netns's API socket (used to publish ports) lives in the run's state directory under
//! the store; a store whose path is longer than a socket address (108 bytes) still publishes
//! ports. Needs root and slirp4netns.

mod common;

use common::Strata;

#[test]
fn ports_publish_through_slirp4netns_with_a_long_store_path() {
    let mut s = Strata::new();
    s.root = s.scratch(&"long-store-path-".repeat(7)).join("root");
    assert!(s.root.as_os_str().len() > 108, "{}", s.root.display());
    s.import_busybox("busybox");
    let out = s.ok(&[
        "run",
        "--rm",
        "--network",
        "slirp4netns",
        "-p",
        "127.0.0.1::80",
        "busybox",
        "echo",
        "published",
    ]);
    assert_eq!(out, "published\n");
}
