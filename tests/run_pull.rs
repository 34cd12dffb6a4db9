//! `strata run` of an image the store lacks pulls it first (from the loopback registry), then
//! runs it; an image that no registry has is strata's error, 125, and creates nothing.

mod common;
mod registry_support;
mod run_support;

use registry_support::Registry;
use run_support::Env;

#[test]
fn run_pulls_a_missing_image_then_runs_it() {
    let reg = Registry::start();
    let pusher = Env::new();
    pusher.image_with("hello", &[r#"CMD ["echo", "hello from the registry"]"#]);
    let remote = format!("{}/team/hello:1", reg.host());
    pusher.s.ok(&["tag", "hello", &remote]);
    pusher.s.ok(&["push", &remote]);

    // Another, empty store.
    let e = Env::new();
    let (out, err) = e.code(&["run", "--rm", "--network", "none", &remote], 0);
    assert_eq!(out, "hello from the registry\n", "{err}");
    e.s.ok(&["inspect", &remote]);
    assert!(e.container_dirs().is_empty(), "--rm left a container");

    let missing = format!("{}/team/nothing:1", reg.host());
    let (_, err) = e.code(&["run", "--rm", &missing], 125);
    assert!(err.contains("nothing"), "{err}");
    assert!(e.container_dirs().is_empty());
}
