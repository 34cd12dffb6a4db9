//! Bench fixtures on disk: the writable copy of `../shared/bench/scenarios`, the generated
//! contexts, the RUN-less Dockerfiles and the base-only template store.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the fixtures come from and go.
pub struct Dirs {
    /// `../shared/bench` (read-only).
    pub shared: PathBuf,
    /// `target/bench-e2e`.
    pub work: PathBuf,
}

impl Dirs {
    pub fn new() -> Dirs {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        Dirs {
            shared: crate::shared_dir::root().join("bench"),
            work: manifest.join("target/bench-e2e"),
        }
    }

    /// The writable scenario directory (the build context).
    pub fn context(&self, scenario: &str) -> PathBuf {
        self.work.join("scenarios").join(scenario)
    }

    pub fn template_store(&self) -> PathBuf {
        self.work.join("base-store")
    }

    pub fn store(&self) -> PathBuf {
        self.work.join("store")
    }

    /// Replaced stores, deleted after the last build (see [`discard`]).
    pub fn trash(&self) -> PathBuf {
        self.work.join("trash")
    }
}

/// Copies the scenarios' files (not the generated contexts) into `work/scenarios`, refreshing
/// Dockerfiles that changed upstream. The copies are made writable: the source is read-only.
pub fn copy_scenarios(dirs: &Dirs) -> Result<(), String> {
    let src = dirs.shared.join("scenarios");
    let entries = fs::read_dir(&src).map_err(|e| format!("{}: {e}", src.display()))?;
    for scenario in entries {
        let scenario = scenario.map_err(|e| e.to_string())?;
        if !scenario.path().is_dir() {
            continue;
        }
        let dst = dirs.context(&scenario.file_name().to_string_lossy());
        fs::create_dir_all(&dst).map_err(|e| format!("{}: {e}", dst.display()))?;
        for file in fs::read_dir(scenario.path()).map_err(|e| e.to_string())? {
            let file = file.map_err(|e| e.to_string())?;
            if !file.path().is_file() {
                continue;
            }
            let to = dst.join(file.file_name());
            let bytes = fs::read(file.path()).map_err(|e| e.to_string())?;
            if fs::read(&to).ok().as_deref() != Some(&bytes[..]) {
                let _ = fs::remove_file(&to);
                fs::write(&to, &bytes).map_err(|e| format!("{}: {e}", to.display()))?;
            }
        }
    }
    Ok(())
}

/// Runs `gen-contexts.py` for the contexts `which` (`s1`, `s2`) that are not complete yet. A
/// `.done` marker per context tells a finished tree from one an interrupted run left behind,
/// which is regenerated with `--force`.
pub fn gen_contexts(dirs: &Dirs, which: &[&str]) -> Result<(), String> {
    for &w in which {
        let marker = dirs.work.join(format!("context-{w}.done"));
        if marker.exists() {
            continue;
        }
        eprintln!("e2e: generating the {w} context (once; reused afterwards)");
        let status = Command::new("python3")
            .arg(dirs.shared.join("gen-contexts.py"))
            .arg("--force")
            .arg(w)
            .env("BENCH_DIR", &dirs.work)
            .status()
            .map_err(|e| format!("python3 gen-contexts.py: {e}"))?;
        if !status.success() {
            return Err(format!("gen-contexts.py {w} failed: {status}"));
        }
        fs::write(&marker, b"").map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The Dockerfile with its RUN instructions (and their continuation lines) removed.
pub fn strip_runs(dockerfile: &str) -> String {
    let mut out = String::new();
    let mut in_run = false;
    for line in dockerfile.lines() {
        let continued = line.trim_end().ends_with('\\');
        if in_run {
            in_run = continued;
            continue;
        }
        let word = line.split_whitespace().next().unwrap_or("");
        if word.eq_ignore_ascii_case("RUN") {
            in_run = continued;
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Writes the RUN-less Dockerfile of `scenario` outside its context (so `COPY . .` copies the
/// same files in both variants) and returns its path.
pub fn norun_dockerfile(dirs: &Dirs, scenario: &str) -> Result<PathBuf, String> {
    let src = dirs.context(scenario).join("Dockerfile");
    let text = fs::read_to_string(&src).map_err(|e| format!("{}: {e}", src.display()))?;
    let dir = dirs.work.join("dockerfiles");
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let path = dir.join(format!("{scenario}.norun.Dockerfile"));
    fs::write(&path, strip_runs(&text)).map_err(|e| e.to_string())?;
    Ok(path)
}

/// Makes a fresh template store holding only the `busybox` base, made like
/// `examples/demo.sh` and `../shared/bench/make-bases.sh` do: the static /bin/busybox with its
/// applet links, /etc/passwd and /etc/group for root, /tmp 1777, PATH and `CMD ["/bin/sh"]`.
/// `STRATA_BENCH_DEBIAN_ROOTFS` (a rootfs tarball or directory, e.g. from
/// `make-bases.sh --debian`, or a debootstrap directory) adds `debian` and `debian:bookworm`
/// when `debian` (s5 is selected).
pub fn make_template_store(dirs: &Dirs, strata: &Path, debian: bool) -> Result<(), String> {
    let busybox = Path::new("/bin/busybox");
    if !busybox.exists() {
        return Err("/bin/busybox is missing: apt-get install busybox-static".into());
    }
    let store = dirs.template_store();
    let rootfs = dirs.work.join("busybox-rootfs");
    // Into the trash, not deleted: the first builds would pay for it (see `discard`).
    discard(&dirs.trash(), &store)?;
    discard(&dirs.trash(), &rootfs)?;
    for d in ["bin", "etc", "root", "tmp", "proc", "sys", "dev"] {
        fs::create_dir_all(rootfs.join(d)).map_err(|e| e.to_string())?;
    }
    fs::copy(busybox, rootfs.join("bin/busybox")).map_err(|e| e.to_string())?;
    let list = Command::new(busybox)
        .arg("--list")
        .output()
        .map_err(|e| format!("busybox --list: {e}"))?;
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" && !applet.is_empty() {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet))
                .map_err(|e| format!("applet {applet}: {e}"))?;
        }
    }
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(rootfs.join("tmp"), fs::Permissions::from_mode(0o1777))
        .map_err(|e| e.to_string())?;
    fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n")
        .map_err(|e| e.to_string())?;
    fs::write(rootfs.join("etc/group"), "root:x:0:\n").map_err(|e| e.to_string())?;
    import(strata, &store, &rootfs, "busybox", true, None)?;
    discard(&dirs.trash(), &rootfs)?;
    let rootfs = std::env::var_os("STRATA_BENCH_DEBIAN_ROOTFS").filter(|_| debian);
    if let Some(debian) = rootfs {
        import(
            strata,
            &store,
            Path::new(&debian),
            "debian:bookworm",
            false,
            None,
        )?;
        let out = Command::new(strata)
            .env("STRATA_ROOT", &store)
            .args(["tag", "debian:bookworm", "debian"])
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "strata tag debian: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    Ok(())
}

/// `strata import` of the rootfs `src` as `tag` into `store`; `busybox` adds the busybox
/// image's PATH and CMD, `platform` (`os/arch`) marks a foreign platform's rootfs.
pub fn import(
    strata: &Path,
    store: &Path,
    src: &Path,
    tag: &str,
    busybox: bool,
    platform: Option<&str>,
) -> Result<(), String> {
    let mut cmd = Command::new(strata);
    cmd.env("STRATA_ROOT", store).arg("import");
    if let Some(p) = platform {
        cmd.args(["--platform", p]);
    }
    if busybox {
        cmd.args([
            "--change",
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--change",
            r#"CMD ["/bin/sh"]"#,
        ]);
    }
    let out = cmd
        .arg(src)
        .arg(tag)
        .output()
        .map_err(|e| format!("strata import: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "strata import {tag}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

/// Whether the template store has an image named `reference`.
pub fn has_image(strata: &Path, store: &Path, reference: &str) -> bool {
    Command::new(strata)
        .env("STRATA_ROOT", store)
        .args(["inspect", reference])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Replaces the working store with a copy of the base-only template: no build cache, no stat
/// cache, no built images.
pub fn fresh_store(dirs: &Dirs) -> Result<(), String> {
    let store = dirs.store();
    discard(&dirs.trash(), &store)?;
    let status = Command::new("cp")
        .arg("-a")
        .arg(dirs.template_store())
        .arg(&store)
        .status()
        .map_err(|e| format!("cp -a: {e}"))?;
    if !status.success() {
        return Err(format!("cp -a of the template store failed: {status}"));
    }
    Ok(())
}

pub fn remove(path: &Path) -> Result<(), String> {
    match fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(format!("cannot remove {}: {e}", path.display()))
        }
        _ => Ok(()),
    }
}

/// Moves `path` (if it exists) into `trash` instead of deleting it. This machine's root
/// filesystem is ext4 without a journal, where allocating an inode skips every inode deleted in
/// the last 60 s (360 s while its inode-table block is dirty; `recently_deleted` in
/// fs/ext4/ialloc.c), one buffer lookup each: deleting a 20,000-file store right before a timed
/// build made the next build's file creations quadratic (perf: 60% of s2's samples under
/// `find_inode_bit`, the COPY twice as slow). A rename deletes nothing.
pub fn discard(trash: &Path, path: &Path) -> Result<(), String> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    if fs::symlink_metadata(path).is_err() {
        return Ok(());
    }
    fs::create_dir_all(trash).map_err(|e| format!("{}: {e}", trash.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let to = trash.join(format!(
        "{name}.{}.{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    fs::rename(path, &to).map_err(|e| format!("move {} to {}: {e}", path.display(), to.display()))
}

/// Free space, in GB, of the filesystem holding `path`.
pub fn free_gb(path: &Path) -> Result<f64, String> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: statvfs is plain old data; all-zero is valid and statvfs overwrites it.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a pointer to a live statvfs.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(format!(
            "statvfs {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(st.f_bavail as f64 * st.f_frsize as f64 / 1e9)
}

/// Below this much free space the trash is emptied mid-run (the next build then pays for the
/// deletion, see [`discard`]); the machine must keep 10 GB free.
pub const MIN_FREE_GB: f64 = 15.0;

/// Empties the trash when the disk runs low; Ok(true) when it had to.
pub fn ensure_space(dirs: &Dirs) -> Result<bool, String> {
    if free_gb(&dirs.work)? >= MIN_FREE_GB {
        return Ok(false);
    }
    remove(&dirs.trash())?;
    Ok(true)
}
