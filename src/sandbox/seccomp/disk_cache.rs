//! The default profile's compiled programs kept between processes, so a `run` does not parse
//! Docker's profile and compile it again (~300 µs, on the way to the fork): one small file per
//! (strata binary, kernel release, capability set) under a runtime directory only this user can
//! write (`/run/strata/seccomp` for root, `$XDG_RUNTIME_DIR/strata/seccomp` otherwise; both are
//! tmpfs, emptied at boot, when the kernel may change).
//!
//! A filter read from a file is only as trustworthy as the file, so a cached program is used
//! only when the directory and the file belong to this user and nobody else can write them;
//! anything else (absent, foreign, truncated, another format) is compiled afresh and the file
//! rewritten atomically. The key names the binary by its inode and mtime, so a rebuilt strata
//! never reads a program compiled by the old one.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::layout::Program;

const MAGIC: &[u8] = b"strata-seccomp-bpf-v1\n";
/// The kernel's BPF_MAXINSNS: no real program is longer.
const MAX_INSNS: usize = 4096;
const MAX_PROGRAMS: usize = 16;

/// The cached programs for `caps`, or `compile()`'s, which are then cached.
pub fn load_or_compile<E>(
    caps: &[u32],
    release: &str,
    compile: impl FnOnce() -> Result<Vec<Program>, E>,
) -> Result<Vec<Program>, E> {
    let Some(path) = cache_dir().and_then(|d| Some(d.join(key(caps, release)?))) else {
        return compile();
    };
    if let Some(programs) = read_trusted(&path) {
        return Ok(programs);
    }
    let programs = compile()?;
    // A cache that cannot be written only costs the next run a compile.
    let _ = write_atomic(&path, &encode(&programs));
    Ok(programs)
}

fn cache_dir() -> Option<PathBuf> {
    let base = if nix::unistd::geteuid().is_root() {
        PathBuf::from("/run/strata")
    } else {
        PathBuf::from(std::env::var_os("XDG_RUNTIME_DIR")?).join("strata")
    };
    let dir = base.join("seccomp");
    if !dir.is_dir() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .ok()?;
    }
    owned_by_us(&fs::symlink_metadata(&dir).ok()?).then_some(dir)
}

/// Not a symlink, ours, and writable by nobody else.
fn owned_by_us(m: &fs::Metadata) -> bool {
    !m.file_type().is_symlink()
        && m.uid() == nix::unistd::geteuid().as_raw()
        && m.mode() & 0o022 == 0
}

/// The file name for this binary, kernel and capability set.
fn key(caps: &[u32], release: &str) -> Option<String> {
    let exe = fs::metadata("/proc/self/exe").ok()?;
    let mut h = blake3::Hasher::new();
    h.update(MAGIC);
    for n in [exe.dev(), exe.ino(), exe.size()] {
        h.update(&n.to_le_bytes());
    }
    h.update(&exe.mtime().to_le_bytes());
    h.update(&exe.mtime_nsec().to_le_bytes());
    h.update(release.as_bytes());
    h.update(&[0]);
    for c in caps {
        h.update(&c.to_le_bytes());
    }
    Some(format!("default-{}", &h.finalize().to_hex()[..32]))
}

fn read_trusted(path: &Path) -> Option<Vec<Program>> {
    let mut f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .ok()?;
    if !owned_by_us(&f.metadata().ok()?) {
        return None;
    }
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).ok()?;
    decode(&bytes)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".tmp-{}", std::process::id()));
    let mut f: File = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    fs::rename(&tmp, path).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

/// `MAGIC`, the program count, then each program's length and instructions, little-endian.
fn encode(programs: &[Program]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&(programs.len() as u32).to_le_bytes());
    for p in programs {
        out.extend_from_slice(&(p.len() as u32).to_le_bytes());
        for i in p {
            out.extend_from_slice(&i.code.to_le_bytes());
            out.extend_from_slice(&[i.jt, i.jf]);
            out.extend_from_slice(&i.k.to_le_bytes());
        }
    }
    out
}

fn decode(bytes: &[u8]) -> Option<Vec<Program>> {
    let mut rest = bytes.strip_prefix(MAGIC)?;
    let mut take = |n: usize| -> Option<&[u8]> {
        let (head, tail) = (rest.get(..n)?, rest.get(n..)?);
        rest = tail;
        Some(head)
    };
    let u32_at = |b: &[u8]| u32::from_le_bytes(b.try_into().expect("4 bytes"));
    let count = u32_at(take(4)?) as usize;
    if count > MAX_PROGRAMS {
        return None;
    }
    let mut programs = Vec::with_capacity(count);
    for _ in 0..count {
        let len = u32_at(take(4)?) as usize;
        if len == 0 || len > MAX_INSNS {
            return None;
        }
        let mut p = Vec::with_capacity(len);
        for _ in 0..len {
            let b = take(8)?;
            p.push(libc::sock_filter {
                code: u16::from_le_bytes([b[0], b[1]]),
                jt: b[2],
                jf: b[3],
                k: u32_at(&b[4..8]),
            });
        }
        programs.push(p);
    }
    rest.is_empty().then_some(programs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insn(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
        libc::sock_filter { code, jt, jf, k }
    }

    fn same(a: &[Program], b: &[Program]) -> bool {
        let flat = |ps: &[Program]| -> Vec<(u16, u8, u8, u32)> {
            ps.iter()
                .flat_map(|p| p.iter().map(|i| (i.code, i.jt, i.jf, i.k)))
                .collect()
        };
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.len() == y.len()) && flat(a) == flat(b)
    }

    #[test]
    fn programs_round_trip_and_damaged_files_are_refused() {
        let programs = vec![
            vec![insn(0x20, 0, 0, 4), insn(0x15, 1, 0, 0xc000_003e)],
            vec![insn(0x06, 0, 0, 0x7fff_0000)],
        ];
        let bytes = encode(&programs);
        assert!(same(&decode(&bytes).unwrap(), &programs));
        for bad in [
            &bytes[..bytes.len() - 1],              // truncated
            &bytes[1..],                            // another format
            &[bytes.as_slice(), &[0]].concat()[..], // trailing bytes
            &encode(&[Vec::new()])[..],             // an empty program
        ] {
            assert!(decode(bad).is_none());
        }
    }

    #[test]
    fn a_cached_program_is_used_and_a_foreign_file_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p");
        let programs = vec![vec![insn(0x06, 0, 0, 0x7fff_0000)]];
        write_atomic(&path, &encode(&programs)).unwrap();
        assert!(same(&read_trusted(&path).unwrap(), &programs));
        // Writable by others: not trusted.
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o666)).unwrap();
        assert!(read_trusted(&path).is_none());
        // A symlink to a good file: not followed.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(read_trusted(&link).is_none());
    }

    #[test]
    fn the_key_changes_with_caps_and_kernel() {
        let a = key(&[0, 1], "6.1.0").unwrap();
        assert_ne!(a, key(&[0, 1, 2], "6.1.0").unwrap());
        assert_ne!(a, key(&[0, 1], "6.2.0").unwrap());
        assert_eq!(a, key(&[0, 1], "6.1.0").unwrap());
    }
}
