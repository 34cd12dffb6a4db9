//! Platforms (`os/arch[/variant]`): parsing and normalisation as containerd's `platforms`
//! package does it (Parse followed by Normalize), the host platform, and display.

use std::fmt;
use std::str::FromStr;

/// A normalised platform: `linux/arm64`, `linux/arm/v7`, `linux/amd64/v3`, …
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    /// `None` when the canonical form has no variant (arm64 v8 and amd64 v1 are implied).
    pub variant: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlatformError {
    #[error("invalid platform {spec:?}: wildcards are not supported")]
    Wildcard { spec: String },
    #[error("invalid platform {spec:?}: component {part:?} must match [A-Za-z0-9_.-]+")]
    BadComponent { spec: String, part: String },
    #[error("invalid platform {spec:?}: OS versions and features are not supported")]
    OsOptions { spec: String },
    #[error("invalid platform {spec:?}: unknown operating system or architecture")]
    Unknown { spec: String },
    #[error("invalid platform {spec:?}: expected os/arch[/variant]")]
    TooManyParts { spec: String },
}

impl Platform {
    /// A platform from its parts, normalised.
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Self {
        let (architecture, variant) = normalize_arch(architecture, variant.unwrap_or(""));
        Platform {
            os: normalize_os(os),
            architecture,
            variant: (!variant.is_empty()).then_some(variant),
        }
    }

    /// Parses `os`, `arch`, `os/arch` or `os/arch/variant` and normalises it (`aarch64` →
    /// `arm64`, `x86_64` → `amd64`, `armhf` → `arm/v7`, `armel` → `arm/v6`, `i386` → `386`,
    /// `arm` → `arm/v7`, `arm64/v8` → `arm64`, `macos` → `darwin`; case-insensitive). A lone
    /// OS takes the host architecture, a lone architecture the host OS.
    pub fn parse(spec: &str) -> Result<Self, PlatformError> {
        let err_spec = || spec.to_owned();
        if spec.contains('*') {
            return Err(PlatformError::Wildcard { spec: err_spec() });
        }
        let parts: Vec<&str> = spec.splitn(4, '/').collect();
        for (i, part) in parts.iter().enumerate() {
            if i == 0 && part.contains('(') {
                return Err(PlatformError::OsOptions { spec: err_spec() });
            }
            let allowed =
                |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-' || (i > 0 && c == '.');
            if part.is_empty() || !part.chars().all(allowed) {
                return Err(PlatformError::BadComponent {
                    spec: err_spec(),
                    part: (*part).to_owned(),
                });
            }
        }
        let (os, arch, variant) = match parts[..] {
            [one] => {
                let os = normalize_os(one);
                if is_known_os(&os) {
                    let host = Platform::host();
                    (os, host.architecture, host.variant.unwrap_or_default())
                } else {
                    let (arch, variant) = normalize_arch(one, "");
                    if !is_known_arch(&arch) {
                        return Err(PlatformError::Unknown { spec: err_spec() });
                    }
                    (Platform::host().os, arch, variant)
                }
            }
            [os, arch] => {
                let (arch, variant) = normalize_arch(arch, "");
                (normalize_os(os), arch, variant)
            }
            [os, arch, variant] => {
                let (arch, variant) = normalize_arch(arch, variant);
                (normalize_os(os), arch, variant)
            }
            _ => return Err(PlatformError::TooManyParts { spec: err_spec() }),
        };
        // containerd accepts any os/arch pair and leaves the failure to the first pull; a typo
        // here would otherwise build nothing useful, so only Go's known names pass.
        if !is_known_os(&os) || !is_known_arch(&arch) {
            return Err(PlatformError::Unknown { spec: err_spec() });
        }
        // containerd's Parse keeps what was typed ("linux/arm" without v7, "arm64/v8" with
        // it); BuildKit then normalises, which is the form its TARGET*/BUILD* args show.
        Ok(Platform::new(&os, &arch, Some(&variant)))
    }

    /// The platform this process runs on.
    pub fn host() -> Self {
        let little = cfg!(target_endian = "little");
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "x86" => "386",
            "aarch64" => "arm64",
            "arm" => "arm",
            "powerpc64" if little => "ppc64le",
            "powerpc64" => "ppc64",
            "powerpc" => "ppc",
            "mips64" if little => "mips64le",
            "mips" if little => "mipsle",
            "loongarch64" => "loong64",
            "wasm32" => "wasm",
            other => other,
        };
        Platform::new(std::env::consts::OS, arch, None)
    }

    /// The variant, or `""` — the value of `TARGETVARIANT`/`BUILDVARIANT`.
    pub fn variant_str(&self) -> &str {
        self.variant.as_deref().unwrap_or("")
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = PlatformError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Platform::parse(s)
    }
}

fn normalize_os(os: &str) -> String {
    let os = os.to_ascii_lowercase();
    match os.as_str() {
        "macos" => "darwin".to_owned(),
        _ => os,
    }
}

fn normalize_arch(arch: &str, variant: &str) -> (String, String) {
    let arch = arch.to_ascii_lowercase();
    let variant = variant.to_ascii_lowercase();
    let (a, v): (&str, String) = match arch.as_str() {
        "i386" => ("386", String::new()),
        "x86_64" | "x86-64" | "amd64" => (
            "amd64",
            if variant == "v1" {
                String::new()
            } else {
                variant
            },
        ),
        "aarch64" | "arm64" => (
            "arm64",
            if variant == "8" || variant == "v8" {
                String::new()
            } else {
                variant
            },
        ),
        "armhf" => ("arm", "v7".to_owned()),
        "armel" => ("arm", "v6".to_owned()),
        "arm" => (
            "arm",
            match variant.as_str() {
                "" | "7" => "v7".to_owned(),
                "5" | "6" | "8" => format!("v{variant}"),
                _ => variant,
            },
        ),
        _ => return (arch, variant),
    };
    (a.to_owned(), v)
}

fn is_known_os(os: &str) -> bool {
    matches!(
        os,
        "aix"
            | "android"
            | "darwin"
            | "dragonfly"
            | "freebsd"
            | "hurd"
            | "illumos"
            | "ios"
            | "js"
            | "linux"
            | "nacl"
            | "netbsd"
            | "openbsd"
            | "plan9"
            | "solaris"
            | "windows"
            | "zos"
    )
}

fn is_known_arch(arch: &str) -> bool {
    matches!(
        arch,
        "386"
            | "amd64"
            | "amd64p32"
            | "arm"
            | "armbe"
            | "arm64"
            | "arm64be"
            | "ppc64"
            | "ppc64le"
            | "loong64"
            | "mips"
            | "mipsle"
            | "mips64"
            | "mips64le"
            | "mips64p32"
            | "mips64p32le"
            | "ppc"
            | "riscv"
            | "riscv64"
            | "s390"
            | "s390x"
            | "sparc"
            | "sparc64"
            | "wasm"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        let cases: &[(&str, &str)] = &[
            ("linux/amd64", "linux/amd64"),
            ("linux/arm64", "linux/arm64"),
            ("linux/arm64/v8", "linux/arm64"),
            ("linux/arm64/8", "linux/arm64"),
            ("linux/aarch64", "linux/arm64"),
            ("linux/arm64/v9", "linux/arm64/v9"),
            ("linux/arm/v7", "linux/arm/v7"),
            ("linux/arm", "linux/arm/v7"),
            ("linux/arm/7", "linux/arm/v7"),
            ("linux/arm/6", "linux/arm/v6"),
            ("linux/arm/v5", "linux/arm/v5"),
            ("linux/armhf", "linux/arm/v7"),
            ("linux/armel", "linux/arm/v6"),
            ("linux/x86_64", "linux/amd64"),
            ("linux/x86-64", "linux/amd64"),
            ("linux/amd64/v1", "linux/amd64"),
            ("linux/amd64/v3", "linux/amd64/v3"),
            ("linux/i386", "linux/386"),
            ("Linux/AMD64", "linux/amd64"),
            ("macos/arm64", "darwin/arm64"),
            ("linux/riscv64", "linux/riscv64"),
            ("linux/ppc64le", "linux/ppc64le"),
            ("linux/s390x", "linux/s390x"),
            ("windows/amd64", "windows/amd64"),
        ];
        for &(spec, want) in cases {
            let p = Platform::parse(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
            assert_eq!(p.to_string(), want, "spec {spec:?}");
            assert_eq!(
                Platform::parse(&p.to_string()).unwrap(),
                p,
                "round trip {spec:?}"
            );
        }
    }

    #[test]
    fn single_component_uses_host() {
        let host = Platform::host();
        let p = Platform::parse("arm64").unwrap();
        assert_eq!(
            (p.os.as_str(), p.architecture.as_str()),
            (host.os.as_str(), "arm64")
        );
        let p = Platform::parse("x86_64").unwrap();
        assert_eq!(p.architecture, "amd64");
        let p = Platform::parse("linux").unwrap();
        assert_eq!(p.architecture, host.architecture);
    }

    #[test]
    fn errors() {
        type IsErr = fn(&PlatformError) -> bool;
        let cases: &[(&str, IsErr)] = &[
            ("linux/*", |e| matches!(e, PlatformError::Wildcard { .. })),
            ("", |e| matches!(e, PlatformError::BadComponent { .. })),
            ("linux//amd64", |e| {
                matches!(e, PlatformError::BadComponent { .. })
            }),
            ("linux/am d64", |e| {
                matches!(e, PlatformError::BadComponent { .. })
            }),
            ("lin.ux/amd64", |e| {
                matches!(e, PlatformError::BadComponent { .. })
            }),
            ("windows(10.0)/amd64", |e| {
                matches!(e, PlatformError::OsOptions { .. })
            }),
            ("nonsense", |e| matches!(e, PlatformError::Unknown { .. })),
            ("linux/nonsense", |e| {
                matches!(e, PlatformError::Unknown { .. })
            }),
            ("plan10/amd64", |e| {
                matches!(e, PlatformError::Unknown { .. })
            }),
            ("linux/arm64/v8/x", |e| {
                matches!(e, PlatformError::TooManyParts { .. })
            }),
        ];
        for (spec, is) in cases {
            let e = Platform::parse(spec).expect_err(spec);
            assert!(is(&e), "{spec:?} gave {e:?}");
        }
    }

    #[test]
    fn host_is_normalised() {
        let h = Platform::host();
        assert_eq!(h.os, "linux");
        assert!(is_known_arch(&h.architecture), "{h}");
        assert_eq!(Platform::parse(&h.to_string()).unwrap(), h);
        assert_eq!(h.variant_str(), h.variant.as_deref().unwrap_or(""));
    }
}
