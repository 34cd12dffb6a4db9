//! Build facts for `strata version`: the git commit and its time, and the compiler's version.
//! Each is optional: without git, or outside strata's own checkout (a crate tarball, a vendored
//! copy inside another repository), the commit is `unknown` and the time empty, so an offline
//! or clean build never fails here. `STRATA_GIT_COMMIT` in the environment overrides the commit
//! (for packagers building from a tarball).

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=STRATA_GIT_COMMIT");
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .arg("-C")
            .arg(&dir)
            .args(args)
            .output()
            .ok()?;
        let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (out.status.success() && !s.is_empty()).then_some(s)
    };
    // Only strata's own repository counts, not one it happens to sit inside.
    let own = git(&["rev-parse", "--show-toplevel"]).is_some_and(|top| {
        Path::new(&top).canonicalize().ok() == Path::new(&dir).canonicalize().ok()
    });
    let (mut commit, mut time) = ("unknown".to_string(), String::new());
    if own {
        if let Some(c) = git(&["rev-parse", "--short=7", "HEAD"]) {
            commit = c;
        }
        if let Some(t) = git(&["log", "-1", "--format=%ct"]) {
            time = t;
        }
        // Build again when HEAD moves: HEAD itself, and the branch it names (in the common
        // git dir, which a worktree shares), loose or packed. Only existing files are named:
        // cargo reruns the script every time for a missing one.
        let mut watch = Vec::new();
        if let Some(git_dir) = git(&["rev-parse", "--absolute-git-dir"]) {
            watch.push(Path::new(&git_dir).join("HEAD"));
        }
        if let (Some(common), Some(branch)) = (
            git(&["rev-parse", "--path-format=absolute", "--git-common-dir"]),
            git(&["symbolic-ref", "-q", "HEAD"]),
        ) {
            watch.push(Path::new(&common).join(&branch));
            watch.push(Path::new(&common).join("packed-refs"));
        }
        for p in watch.iter().filter(|p| p.exists()) {
            println!("cargo:rerun-if-changed={}", p.display());
        }
    }
    if let Ok(c) = std::env::var("STRATA_GIT_COMMIT") {
        if !c.is_empty() {
            commit = c;
        }
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc_version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "n/a".into());
    println!("cargo:rustc-env=STRATA_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=STRATA_BUILD_TIME={time}");
    println!("cargo:rustc-env=STRATA_RUSTC_VERSION={rustc_version}");
}
