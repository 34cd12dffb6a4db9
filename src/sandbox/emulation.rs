//! Foreign-architecture programs run through the kernel's binfmt_misc handlers (Debian's
//! `qemu-user-static` registers `qemu-<arch>` through `binfmt-support`). A handler must carry
//! the F (fix-binary) flag: the kernel then opens the interpreter when it is registered, so it
//! is found from inside a sandbox whose mount namespace has no `/usr/libexec/qemu-binfmt`.

use std::path::{Path, PathBuf};

/// Where the kernel shows binfmt_misc's handlers.
pub const BINFMT_MISC: &str = "/proc/sys/fs/binfmt_misc";

/// A test hook: a directory read instead of [`BINFMT_MISC`] when strata checks for a handler
/// (the kernel still runs the real ones), so a test can show the error for a missing, disabled
/// or flagless handler on a machine that has it.
pub const BINFMT_MISC_ENV: &str = "STRATA_BINFMT_MISC";

/// The directory strata looks up handlers in: [`BINFMT_MISC`], or the test hook's.
pub fn binfmt_dir() -> PathBuf {
    std::env::var_os(BINFMT_MISC_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(BINFMT_MISC))
}

const INSTALL: &str = "apt-get install qemu-user-static binfmt-support";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmulationError {
    #[error("running {arch} programs needs emulation, but binfmt_misc is not mounted at {}: mount -t binfmt_misc binfmt_misc {BINFMT_MISC}, then {INSTALL}", .dir.display())]
    NotMounted { arch: String, dir: PathBuf },
    #[error("running {arch} programs needs emulation, but no binfmt_misc handler {handler} is registered: {INSTALL} (then update-binfmts --enable {handler})")]
    Missing { arch: String, handler: String },
    #[error("running {arch} programs needs emulation, but the binfmt_misc handler {handler} is disabled: update-binfmts --enable {handler}")]
    Disabled { arch: String, handler: String },
    #[error("the binfmt_misc handler {handler} (for {arch}) lacks the F (fix-binary) flag, so its interpreter {interpreter} cannot be found inside the sandbox: {INSTALL} registers it with F")]
    NoFixBinary {
        arch: String,
        handler: String,
        interpreter: String,
    },
    #[error("no emulator is known for architecture {arch:?}")]
    Unsupported { arch: String },
}

/// Whether programs of `arch` (an OCI architecture) run without emulation on a host of
/// `host_arch`.
pub fn runs_natively(host_arch: &str, arch: &str) -> bool {
    host_arch == arch || matches!((host_arch, arch), ("amd64", "386") | ("arm64", "arm"))
}

/// qemu's name for an OCI architecture (the `qemu-<name>` handler).
pub fn qemu_name(arch: &str) -> Option<&'static str> {
    Some(match arch {
        "amd64" => "x86_64",
        "386" => "i386",
        "arm64" => "aarch64",
        "arm" => "arm",
        "ppc64le" => "ppc64le",
        "ppc64" => "ppc64",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "mips64le" => "mips64el",
        "mips64" => "mips64",
        "mipsle" => "mipsel",
        "mips" => "mips",
        "loong64" => "loongarch64",
        _ => return None,
    })
}

/// A registered handler as its binfmt_misc file shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handler {
    pub enabled: bool,
    pub interpreter: String,
    pub flags: String,
}

/// Parses a handler file (`enabled`, `interpreter …`, `flags: …`, …).
pub fn parse_handler(text: &str) -> Handler {
    let mut h = Handler {
        enabled: false,
        interpreter: String::new(),
        flags: String::new(),
    };
    for line in text.lines() {
        if line == "enabled" {
            h.enabled = true;
        } else if let Some(i) = line.strip_prefix("interpreter ") {
            h.interpreter = i.to_string();
        } else if let Some(f) = line.strip_prefix("flags:") {
            h.flags = f.trim().to_string();
        }
    }
    h
}

/// Checks that programs of `arch` can run here: natively, or through a usable handler under
/// `binfmt_dir` (normally [`BINFMT_MISC`]).
pub fn check(host_arch: &str, arch: &str, binfmt_dir: &Path) -> Result<(), EmulationError> {
    if runs_natively(host_arch, arch) {
        return Ok(());
    }
    let name = qemu_name(arch).ok_or_else(|| EmulationError::Unsupported {
        arch: arch.to_string(),
    })?;
    let handler = format!("qemu-{name}");
    if !binfmt_dir.join("status").exists() {
        return Err(EmulationError::NotMounted {
            arch: arch.to_string(),
            dir: binfmt_dir.to_path_buf(),
        });
    }
    let Ok(text) = std::fs::read_to_string(binfmt_dir.join(&handler)) else {
        return Err(EmulationError::Missing {
            arch: arch.to_string(),
            handler,
        });
    };
    let h = parse_handler(&text);
    if !h.enabled {
        return Err(EmulationError::Disabled {
            arch: arch.to_string(),
            handler,
        });
    }
    if !h.flags.contains('F') {
        return Err(EmulationError::NoFixBinary {
            arch: arch.to_string(),
            handler,
            interpreter: h.interpreter,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_and_qemu_names() {
        let cases = [
            ("amd64", "amd64", true, Some("x86_64")),
            ("amd64", "386", true, Some("i386")),
            ("amd64", "arm64", false, Some("aarch64")),
            ("amd64", "arm", false, Some("arm")),
            ("arm64", "amd64", false, Some("x86_64")),
            ("amd64", "riscv64", false, Some("riscv64")),
            ("amd64", "mips64le", false, Some("mips64el")),
            ("amd64", "wasm", false, None),
        ];
        for (host, arch, native, qemu) in cases {
            assert_eq!(runs_natively(host, arch), native, "{host} runs {arch}");
            assert_eq!(qemu_name(arch), qemu, "{arch}");
        }
    }

    #[test]
    fn handler_states() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let err = |arch: &str| check("amd64", arch, d).unwrap_err();
        assert!(matches!(err("arm64"), EmulationError::NotMounted { .. }));
        std::fs::write(d.join("status"), "enabled\n").unwrap();
        let e = err("arm64");
        assert!(matches!(e, EmulationError::Missing { .. }), "{e}");
        assert!(e
            .to_string()
            .contains("apt-get install qemu-user-static binfmt-support"));
        let handler = |state: &str, flags: &str| {
            format!("{state}\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: {flags}\noffset 0\nmagic 7f454c46\n")
        };
        std::fs::write(d.join("qemu-aarch64"), handler("disabled", "PF")).unwrap();
        assert!(matches!(err("arm64"), EmulationError::Disabled { .. }));
        std::fs::write(d.join("qemu-aarch64"), handler("enabled", "P")).unwrap();
        assert!(matches!(err("arm64"), EmulationError::NoFixBinary { .. }));
        std::fs::write(d.join("qemu-aarch64"), handler("enabled", "POCF")).unwrap();
        assert_eq!(check("amd64", "arm64", d), Ok(()));
        assert_eq!(check("amd64", "amd64", Path::new("/nonexistent")), Ok(()));
        assert!(matches!(err("wasm"), EmulationError::Unsupported { .. }));
    }
}
