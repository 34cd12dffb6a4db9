//! Everyday Docker scripts, run unchanged with strata as `docker` (root): each file in
//! `tests/docker_scripts/` runs under bash with a `docker` wrapper first on PATH that calls this
//! build's strata on a store holding busybox, and must exit 0.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::Strata;

fn run_script(name: &str) {
    let s = Strata::new();
    s.import_busybox("busybox");
    let bin = s.scratch("bin");
    let wrapper = bin.join("docker");
    let strata = env!("CARGO_BIN_EXE_strata");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec {strata} --root {} \"$@\"\n",
            s.root.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/docker_scripts")
        .join(name);
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("bash");
    cmd.arg(&script).env("PATH", path);
    // The harness's own settings (STRATA_DNS…) reach the wrapper's strata.
    for (k, v) in s.command(&["version"]).get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    let out = cmd.output().unwrap();
    // Whatever the script left running goes with the store.
    let ids = s.ok(&["ps", "-aq"]);
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if !ids.is_empty() {
        let mut args = vec!["rm", "-f"];
        args.extend(ids);
        let _ = s.command(&args).output();
    }
    assert!(
        out.status.success(),
        "{name}: {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn lifecycle() {
    run_script("lifecycle.sh");
}

#[test]
fn restart_policies() {
    run_script("restart_policies.sh");
}

#[test]
fn filters_templates() {
    run_script("filters_templates.sh");
}

#[test]
fn build_contexts() {
    run_script("build_contexts.sh");
}
