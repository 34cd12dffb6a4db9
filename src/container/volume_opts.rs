//! The `local` volume driver's options (`type`, `device`, `o`, `size`) as dockerd validates
//! them, and the mount they ask for, with `o` split into mount flags and filesystem data the
//! way dockerd's mount package splits it. Pure: `volume_mount` performs the mount.

use std::collections::BTreeMap;

use nix::mount::MsFlags;

/// Why `volume create` refuses the options, in dockerd's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    #[error("invalid option: {0:?}")]
    Unknown(String),
    #[error("missing required option: {0:?}")]
    Missing(&'static str),
    #[error("port not allowed in CIFS device URL, include 'port' in 'o='")]
    CifsPort,
    #[error("invalid size: '{0}'")]
    BadSize(String),
    /// strata keeps volumes on whatever filesystem the store is on, with no project quotas.
    #[error("quota size requested but no quota support")]
    NoQuota,
}

const KNOWN: &[&str] = &["type", "o", "device", "size"];

/// Each option that, when given, needs the others listed (dockerd's `mandatoryOpts`).
const REQUIRES: &[(&str, &[&str])] = &[
    ("device", &["type"]),
    ("type", &["device"]),
    ("o", &["device", "type"]),
];

/// Checks a `local` volume's options as dockerd does at `volume create`.
pub fn validate(opts: &BTreeMap<String, String>) -> Result<(), OptionsError> {
    if let Some(k) = opts.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(OptionsError::Unknown(k.clone()));
    }
    if let (Some("cifs"), Some(dev)) = (
        opts.get("type").map(String::as_str),
        opts.get("device").filter(|d| !d.is_empty()),
    ) {
        if url_has_port(dev) {
            return Err(OptionsError::CifsPort);
        }
    }
    if let Some(size) = opts.get("size") {
        match ram_in_bytes(size) {
            None => return Err(OptionsError::BadSize(size.clone())),
            Some(n) if n > 0 => return Err(OptionsError::NoQuota),
            Some(_) => {}
        }
    }
    for (opt, needs) in REQUIRES {
        if opts.contains_key(*opt) {
            if let Some(missing) = needs.iter().find(|n| !opts.contains_key(**n)) {
                return Err(OptionsError::Missing(missing));
            }
        }
    }
    Ok(())
}

/// Whether the options ask for a mount at all (a `type` or a `device`); without one the
/// volume is a plain directory, as dockerd's `needsMount` decides.
pub fn needs_mount(opts: &BTreeMap<String, String>) -> bool {
    ["type", "device"]
        .iter()
        .any(|k| opts.get(*k).is_some_and(|v| !v.is_empty()))
}

/// The `mount(2)` calls a volume's options ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountPlan {
    pub device: String,
    pub fstype: String,
    /// Everything in `o` that is a mount flag, propagation flags apart.
    pub flags: MsFlags,
    /// Propagation flags (`shared`, `rprivate`…), set by a second call as the kernel needs.
    pub propagation: MsFlags,
    /// The rest of `o`, handed to the filesystem (`size=1m,uid=1000`).
    pub data: String,
}

impl MountPlan {
    /// A read-only bind needs a remount to take the flag, as the kernel ignores it at first.
    pub fn remount_readonly(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND | MsFlags::MS_RDONLY)
    }
}

/// The mount for options that need one (`needs_mount`); only a missing device is refused
/// here, the rest is the kernel's to judge.
pub fn plan(opts: &BTreeMap<String, String>) -> Result<MountPlan, MissingDevice> {
    let get = |k: &str| opts.get(k).cloned().unwrap_or_default();
    let device = get("device");
    if device.is_empty() {
        return Err(MissingDevice);
    }
    let (all, data) = split_options(&get("o"));
    let propagation =
        MsFlags::MS_SHARED | MsFlags::MS_PRIVATE | MsFlags::MS_SLAVE | MsFlags::MS_UNBINDABLE;
    let prop = if all.intersects(propagation) {
        all & (propagation | MsFlags::MS_REC | MsFlags::MS_SILENT)
    } else {
        MsFlags::empty()
    };
    Ok(MountPlan {
        device,
        fstype: get("type"),
        flags: all - propagation,
        propagation: prop,
        data,
    })
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("missing device in volume options")]
pub struct MissingDevice;

/// The words of `o` that are mount flags (set or cleared in order), the rest joined as data.
fn split_options(o: &str) -> (MsFlags, String) {
    let mut flags = MsFlags::empty();
    let mut data = Vec::new();
    for word in o.split(',') {
        match flag(word) {
            Some((clear, f)) if clear => flags.remove(f),
            Some((_, f)) => flags.insert(f),
            None => data.push(word),
        }
    }
    (flags, data.join(","))
}

/// (clears?, flag) of a mount option word, as dockerd's table has them; `defaults` is no flag
/// there, so it goes to the filesystem with the data.
fn flag(word: &str) -> Option<(bool, MsFlags)> {
    use MsFlags as F;
    Some(match word {
        "ro" => (false, F::MS_RDONLY),
        "rw" => (true, F::MS_RDONLY),
        "suid" => (true, F::MS_NOSUID),
        "nosuid" => (false, F::MS_NOSUID),
        "dev" => (true, F::MS_NODEV),
        "nodev" => (false, F::MS_NODEV),
        "exec" => (true, F::MS_NOEXEC),
        "noexec" => (false, F::MS_NOEXEC),
        "sync" => (false, F::MS_SYNCHRONOUS),
        "async" => (true, F::MS_SYNCHRONOUS),
        "dirsync" => (false, F::MS_DIRSYNC),
        "remount" => (false, F::MS_REMOUNT),
        "mand" => (false, F::MS_MANDLOCK),
        "nomand" => (true, F::MS_MANDLOCK),
        "atime" => (true, F::MS_NOATIME),
        "noatime" => (false, F::MS_NOATIME),
        "diratime" => (true, F::MS_NODIRATIME),
        "nodiratime" => (false, F::MS_NODIRATIME),
        "bind" => (false, F::MS_BIND),
        "rbind" => (false, F::MS_BIND | F::MS_REC),
        "unbindable" => (false, F::MS_UNBINDABLE),
        "runbindable" => (false, F::MS_UNBINDABLE | F::MS_REC),
        "private" => (false, F::MS_PRIVATE),
        "rprivate" => (false, F::MS_PRIVATE | F::MS_REC),
        "shared" => (false, F::MS_SHARED),
        "rshared" => (false, F::MS_SHARED | F::MS_REC),
        "slave" => (false, F::MS_SLAVE),
        "rslave" => (false, F::MS_SLAVE | F::MS_REC),
        "relatime" => (false, F::MS_RELATIME),
        "norelatime" => (true, F::MS_RELATIME),
        "strictatime" => (false, F::MS_STRICTATIME),
        "nostrictatime" => (true, F::MS_STRICTATIME),
        _ => return None,
    })
}

/// A failed `mount(2)` as dockerd's mount package words it:
/// `mount SRC:DST, flags: 0x1000, data: size=1m: no such file or directory`.
pub fn mount_error(
    op: &str,
    source: &str,
    target: &std::path::Path,
    flags: MsFlags,
    data: &str,
    errno: nix::errno::Errno,
) -> String {
    let mut out = format!("{op} ");
    if !source.is_empty() {
        out.push_str(source);
        out.push(':');
    }
    out.push_str(&target.display().to_string());
    if !flags.is_empty() {
        out.push_str(&format!(", flags: {:#x}", flags.bits()));
    }
    if !data.is_empty() {
        out.push_str(&format!(", data: {data}"));
    }
    out.push_str(": ");
    out.push_str(&go_errno(errno));
    out
}

/// Go spells errno texts in lower case ("no such file or directory").
fn go_errno(e: nix::errno::Errno) -> String {
    let desc = e.desc();
    let mut c = desc.chars();
    match c.next() {
        Some(first) => first.to_lowercase().chain(c).collect(),
        None => desc.to_string(),
    }
}

/// Whether a CIFS device URL (`//host:445/share`) names a port.
fn url_has_port(dev: &str) -> bool {
    let rest = match dev.split_once("://") {
        Some((_, r)) => r,
        None => match dev.strip_prefix("//") {
            Some(r) => r,
            None => return false,
        },
    };
    let host = rest.split('/').next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let after_bracket = host.rsplit_once(']').map_or(host, |(_, h)| h);
    after_bracket
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.is_empty())
}

/// Docker's `RAMInBytes`: a number with an optional binary unit (`512`, `1m`, `2GiB`).
fn ram_in_bytes(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let unit = unit.trim().to_ascii_lowercase();
    let unit = unit
        .strip_suffix("ib")
        .or(unit.strip_suffix('b'))
        .unwrap_or(&unit);
    let mult: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        _ => return None,
    };
    Some((n * mult as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn validation_as_dockerd() {
        use OptionsError as E;
        type Case<'a> = (&'a [(&'a str, &'a str)], Result<(), E>);
        let cases: &[Case] = &[
            (&[], Ok(())),
            (&[("type", "tmpfs"), ("device", "tmpfs")], Ok(())),
            (
                &[("type", "tmpfs"), ("device", "tmpfs"), ("o", "size=1m")],
                Ok(()),
            ),
            (&[("foo", "bar")], Err(E::Unknown("foo".into()))),
            (
                &[("type", "tmpfs"), ("x", "1")],
                Err(E::Unknown("x".into())),
            ),
            (&[("type", "tmpfs")], Err(E::Missing("device"))),
            (&[("device", "/d")], Err(E::Missing("type"))),
            (&[("o", "bind")], Err(E::Missing("device"))),
            (&[("o", "bind"), ("device", "/d")], Err(E::Missing("type"))),
            (&[("size", "0")], Ok(())),
            (&[("size", "10m")], Err(E::NoQuota)),
            (&[("size", "lots")], Err(E::BadSize("lots".into()))),
            (
                &[("type", "cifs"), ("device", "//srv:445/share")],
                Err(E::CifsPort),
            ),
            (&[("type", "cifs"), ("device", "//srv/share")], Ok(())),
        ];
        for (given, want) in cases {
            assert_eq!(&validate(&opts(given)), want, "{given:?}");
        }
    }

    #[test]
    fn o_splits_into_flags_and_data() {
        use MsFlags as F;
        let cases: &[(&str, F, F, &str)] = &[
            (
                "size=1m,uid=1000",
                F::empty(),
                F::empty(),
                "size=1m,uid=1000",
            ),
            ("bind", F::MS_BIND, F::empty(), ""),
            ("bind,ro", F::MS_BIND | F::MS_RDONLY, F::empty(), ""),
            ("ro,rw,noexec", F::MS_NOEXEC, F::empty(), ""),
            (
                "rbind,rprivate",
                F::MS_BIND | F::MS_REC,
                F::MS_PRIVATE | F::MS_REC,
                "",
            ),
            (
                "defaults,nosuid,mode=700",
                F::MS_NOSUID,
                F::empty(),
                "defaults,mode=700",
            ),
            ("", F::empty(), F::empty(), ""),
        ];
        for (o, flags, prop, data) in cases {
            let p = plan(&opts(&[("type", "x"), ("device", "d"), ("o", o)])).unwrap();
            assert_eq!(
                (p.flags, p.propagation, p.data.as_str()),
                (*flags, *prop, *data),
                "{o}"
            );
        }
        assert!(plan(&opts(&[("type", "tmpfs")])).is_err());
        assert!(plan(&opts(&[
            ("type", "none"),
            ("device", "/x"),
            ("o", "bind,ro")
        ]))
        .unwrap()
        .remount_readonly());
    }

    #[test]
    fn needs_a_type_or_device() {
        assert!(!needs_mount(&opts(&[])));
        assert!(!needs_mount(&opts(&[("size", "0")])));
        assert!(needs_mount(&opts(&[("type", "tmpfs")])));
        assert!(needs_mount(&opts(&[("device", "/x")])));
    }

    #[test]
    fn mount_errors_in_dockerds_words() {
        use nix::errno::Errno;
        let t = std::path::Path::new("/s/volumes-v1/v/_data");
        assert_eq!(
            mount_error("mount", "/nope", t, MsFlags::MS_BIND, "", Errno::ENOENT),
            "mount /nope:/s/volumes-v1/v/_data, flags: 0x1000: no such file or directory"
        );
        assert_eq!(
            mount_error(
                "mount",
                "tmpfs",
                t,
                MsFlags::empty(),
                "size=x",
                Errno::EINVAL
            ),
            "mount tmpfs:/s/volumes-v1/v/_data, data: size=x: invalid argument"
        );
    }

    #[test]
    fn sizes() {
        let cases = [
            ("0", Some(0)),
            ("512", Some(512)),
            ("1k", Some(1024)),
            ("1m", Some(1 << 20)),
            ("2GiB", Some(2 << 30)),
            ("1.5k", Some(1536)),
            ("x", None),
            ("1q", None),
        ];
        for (s, want) in cases {
            assert_eq!(ram_in_bytes(s), want, "{s}");
        }
    }
}
