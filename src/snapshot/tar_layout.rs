//! The pure tar layout of a layer: entry ordering and byte-exact ustar/PAX headers. No I/O here,
//! so every header decision is unit-tested as data.
//!
//! Canonical choices (each one fixed so the same tree always gives the same bytes):
//! - names are relative, without a leading `./`; directories end in `/`; the root itself is not
//!   written;
//! - the mode field holds only the permission bits and setuid/setgid/sticky (`0o7777`);
//! - uname/gname are empty, atime/ctime are never written;
//! - a name or link target longer than 100 bytes goes into a PAX `path`/`linkpath` record (the
//!   ustar `prefix` split is not used); numbers too large for their octal field go to PAX too;
//! - xattrs become `SCHILY.xattr.<name>` PAX records, sorted by name;
//! - every PAX header block is named `././@PaxHeader` with mode, owner and mtime 0.

use std::cmp::Ordering;

pub const BLOCK: usize = 512;

/// What kind of tar entry, with the data each kind needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    File {
        size: u64,
    },
    /// A hard link to an earlier entry of the same archive, named by its archive path.
    HardLink {
        target: Vec<u8>,
    },
    Symlink {
        target: Vec<u8>,
    },
    Dir,
    Char {
        major: u32,
        minor: u32,
    },
    Block {
        major: u32,
        minor: u32,
    },
    Fifo,
}

/// Everything that goes into one entry's header(s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryHeader {
    /// Relative path bytes, `/`-separated, no leading `./` and no trailing `/`.
    pub path: Vec<u8>,
    pub kind: Kind,
    /// Permission bits plus setuid/setgid/sticky (masked to `0o7777`).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Whole seconds since the epoch.
    pub mtime: i64,
    /// Extended attributes as (name, value), in any order; written sorted.
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Xattrs that describe the host rather than the file, so they never go into a layer:
/// SELinux labels are assigned by the host policy, and `trusted.overlay.*` (`user.overlay.*` on
/// the `userxattr` mounts of a rootless build) is overlayfs's own bookkeeping in an upperdir
/// (whiteouts and opaque dirs become tar whiteouts instead).
pub fn xattr_is_portable(name: &[u8]) -> bool {
    name != b"security.selinux"
        && !name.starts_with(b"trusted.overlay.")
        && !name.starts_with(b"user.overlay.")
}

/// Orders archive paths component by component, so a directory comes right before its
/// contents: byte order of the whole path, with `/` ranking below every other byte. The opaque
/// marker `.wh..wh..opq` ranks first inside its directory, right after the directory entry.
pub fn cmp_paths(a: &[u8], b: &[u8]) -> Ordering {
    let mut ai = a.split(|&c| c == b'/');
    let mut bi = b.split(|&c| c == b'/');
    loop {
        match (ai.next(), bi.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => match cmp_names(x, y) {
                Ordering::Equal => continue,
                o => return o,
            },
        }
    }
}

/// Orders two names inside one directory: bytes, except that the opaque marker comes first.
pub fn cmp_names(a: &[u8], b: &[u8]) -> Ordering {
    fn key(c: &[u8]) -> (u8, &[u8]) {
        if c == super::whiteout::OPAQUE.as_bytes() {
            (0, &[])
        } else {
            (1, c)
        }
    }
    key(a).cmp(&key(b))
}

/// Appends the header block(s) for `e` to `out`: an optional PAX extended header and the ustar
/// header. File data (for `Kind::File`) follows, padded with [`padding`].
pub fn encode_header(e: &EntryHeader, out: &mut Vec<u8>) {
    let mut name = e.path.clone();
    if e.kind == Kind::Dir {
        name.push(b'/');
    }
    let (typeflag, size, link): (u8, u64, &[u8]) = match &e.kind {
        Kind::File { size } => (b'0', *size, b""),
        Kind::HardLink { target } => (b'1', 0, target),
        Kind::Symlink { target } => (b'2', 0, target),
        Kind::Char { .. } => (b'3', 0, b""),
        Kind::Block { .. } => (b'4', 0, b""),
        Kind::Dir => (b'5', 0, b""),
        Kind::Fifo => (b'6', 0, b""),
    };

    let mut pax: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    if name.len() > 100 {
        pax.push((b"path".to_vec(), name.clone()));
    }
    if link.len() > 100 {
        pax.push((b"linkpath".to_vec(), link.to_vec()));
    }
    let uid_fits = e.uid <= MAX_OCTAL_8;
    let gid_fits = e.gid <= MAX_OCTAL_8;
    let size_fits = size <= MAX_OCTAL_12;
    let mtime_fits = e.mtime >= 0 && (e.mtime as u64) <= MAX_OCTAL_12;
    if !uid_fits {
        pax.push((b"uid".to_vec(), e.uid.to_string().into_bytes()));
    }
    if !gid_fits {
        pax.push((b"gid".to_vec(), e.gid.to_string().into_bytes()));
    }
    if !size_fits {
        pax.push((b"size".to_vec(), size.to_string().into_bytes()));
    }
    if !mtime_fits {
        pax.push((b"mtime".to_vec(), e.mtime.to_string().into_bytes()));
    }
    let mut xattrs: Vec<&(Vec<u8>, Vec<u8>)> = e.xattrs.iter().collect();
    xattrs.sort();
    for (k, v) in xattrs {
        let mut key = b"SCHILY.xattr.".to_vec();
        key.extend_from_slice(k);
        pax.push((key, v.clone()));
    }
    pax.sort();

    if !pax.is_empty() {
        let mut records = Vec::new();
        for (k, v) in &pax {
            pax_record(k, v, &mut records);
        }
        let mut h = [0u8; BLOCK];
        put_bytes(&mut h[0..100], b"././@PaxHeader");
        octal(&mut h[100..108], 0);
        octal(&mut h[108..116], 0);
        octal(&mut h[116..124], 0);
        octal(&mut h[124..136], records.len() as u64);
        octal(&mut h[136..148], 0);
        h[156] = b'x';
        finish_ustar(&mut h);
        out.extend_from_slice(&h);
        out.extend_from_slice(&records);
        out.resize(out.len() + padding(records.len() as u64), 0);
    }

    let mut h = [0u8; BLOCK];
    put_bytes(&mut h[0..100], truncate(&name, 100));
    octal(&mut h[100..108], u64::from(e.mode & 0o7777));
    octal(&mut h[108..116], if uid_fits { e.uid } else { 0 });
    octal(&mut h[116..124], if gid_fits { e.gid } else { 0 });
    octal(&mut h[124..136], if size_fits { size } else { 0 });
    octal(
        &mut h[136..148],
        if mtime_fits { e.mtime as u64 } else { 0 },
    );
    h[156] = typeflag;
    put_bytes(&mut h[157..257], truncate(link, 100));
    if let Kind::Char { major, minor } | Kind::Block { major, minor } = e.kind {
        octal(&mut h[329..337], u64::from(major));
        octal(&mut h[337..345], u64::from(minor));
    }
    finish_ustar(&mut h);
    out.extend_from_slice(&h);
}

/// Zero bytes needed after `len` bytes of data to reach a block boundary.
pub fn padding(len: u64) -> usize {
    ((BLOCK as u64 - len % BLOCK as u64) % BLOCK as u64) as usize
}

/// The end-of-archive marker: two zero blocks.
pub const TRAILER: [u8; 2 * BLOCK] = [0; 2 * BLOCK];

const MAX_OCTAL_8: u64 = 0o7777777;
const MAX_OCTAL_12: u64 = 0o77777777777;

fn truncate(b: &[u8], n: usize) -> &[u8] {
    &b[..b.len().min(n)]
}

fn put_bytes(field: &mut [u8], v: &[u8]) {
    field[..v.len()].copy_from_slice(v);
}

/// Zero-padded octal digits filling the field but its last byte, which stays NUL.
fn octal(field: &mut [u8], mut v: u64) {
    let n = field.len() - 1;
    for i in (0..n).rev() {
        field[i] = b'0' + (v & 7) as u8;
        v >>= 3;
    }
    field[n] = 0;
}

fn finish_ustar(h: &mut [u8; BLOCK]) {
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    // Six octal digits, NUL, space: the traditional layout every reader accepts.
    octal(&mut h[148..155], u64::from(sum));
    h[155] = b' ';
}

/// One PAX record: `"<len> <key>=<value>\n"` where `<len>` counts the whole record.
fn pax_record(key: &[u8], value: &[u8], out: &mut Vec<u8>) {
    let rest = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = rest + 1;
    while len != rest + len.to_string().len() {
        len = rest + len.to_string().len();
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, kind: Kind) -> EntryHeader {
        EntryHeader {
            path: path.as_bytes().to_vec(),
            kind,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 0,
            xattrs: vec![],
        }
    }

    fn field(h: &[u8], r: std::ops::Range<usize>) -> String {
        String::from_utf8_lossy(&h[r])
            .trim_end_matches('\0')
            .to_string()
    }

    #[test]
    fn ordering_table() {
        // (a, b, expected)
        let cases: &[(&str, &str, Ordering)] = &[
            ("a", "a/b", Ordering::Less),
            ("a/b", "a-b", Ordering::Less), // plain byte order would put "a-b" first
            ("a/z", "a.b", Ordering::Less),
            ("a/.wh..wh..opq", "a/!", Ordering::Less),
            ("a", "a/.wh..wh..opq", Ordering::Less),
            ("a/.wh.x", "a/x", Ordering::Less),
            ("b", "a/x", Ordering::Greater),
            ("é", "z", Ordering::Greater),
            ("x", "x", Ordering::Equal),
        ];
        for (a, b, want) in cases {
            assert_eq!(cmp_paths(a.as_bytes(), b.as_bytes()), *want, "{a} vs {b}");
        }
    }

    #[test]
    fn pax_record_lengths_count_themselves() {
        let cases: &[(&str, &str, &str)] = &[
            ("path", "abc", "12 path=abc\n"),
            ("path", "a234", "13 path=a234\n"),
            // 98 bytes before the length, so the length needs three digits.
            ("k", &"v".repeat(94), ""),
        ];
        for (k, v, want) in cases {
            let mut out = Vec::new();
            pax_record(k.as_bytes(), v.as_bytes(), &mut out);
            let text = String::from_utf8(out.clone()).unwrap();
            let (n, _) = text.split_once(' ').unwrap();
            assert_eq!(n.parse::<usize>().unwrap(), out.len(), "{text:?}");
            if !want.is_empty() {
                assert_eq!(text, *want);
            }
        }
    }

    #[test]
    fn header_fields_table() {
        // (entry, name, mode, size, typeflag, linkname, devmajor, devminor)
        let mut suid = entry("bin/su", Kind::File { size: 5 });
        suid.mode = 0o104755;
        suid.uid = 1000;
        suid.gid = 50;
        suid.mtime = 1_700_000_000;
        let cases: Vec<(EntryHeader, &str, &str, &str, u8, &str, &str)> = vec![
            (suid, "bin/su", "0004755", "00000000005", b'0', "", ""),
            (
                entry("etc", Kind::Dir),
                "etc/",
                "0000644",
                "00000000000",
                b'5',
                "",
                "",
            ),
            (
                entry(
                    "l",
                    Kind::Symlink {
                        target: b"../x".to_vec(),
                    },
                ),
                "l",
                "0000644",
                "00000000000",
                b'2',
                "../x",
                "",
            ),
            (
                entry(
                    "h",
                    Kind::HardLink {
                        target: b"bin/su".to_vec(),
                    },
                ),
                "h",
                "0000644",
                "00000000000",
                b'1',
                "bin/su",
                "",
            ),
            (
                entry("dev/null", Kind::Char { major: 1, minor: 3 }),
                "dev/null",
                "0000644",
                "00000000000",
                b'3',
                "",
                "0000001",
            ),
            (
                entry("p", Kind::Fifo),
                "p",
                "0000644",
                "00000000000",
                b'6',
                "",
                "",
            ),
        ];
        for (e, name, mode, size, tf, link, major) in cases {
            let mut out = Vec::new();
            encode_header(&e, &mut out);
            assert_eq!(out.len(), BLOCK, "{name}: no PAX header expected");
            assert_eq!(field(&out, 0..100), name);
            assert_eq!(field(&out, 100..108), mode, "{name}");
            assert_eq!(field(&out, 124..136), size, "{name}");
            assert_eq!(out[156], tf, "{name}");
            assert_eq!(field(&out, 157..257), link, "{name}");
            assert_eq!(field(&out, 329..337), major, "{name}");
            assert_eq!(field(&out, 265..297), "", "uname must be empty");
            assert_eq!(&out[257..265], b"ustar\x0000");
            // The checksum is over the block with the checksum field read as spaces.
            let mut copy = out.clone();
            copy[148..156].fill(b' ');
            let sum: u32 = copy.iter().map(|&b| u32::from(b)).sum();
            assert_eq!(field(&out, 148..155), format!("{sum:06o}"), "{name}");
        }
    }

    #[test]
    fn long_names_and_xattrs_use_pax() {
        let long = format!("{}/{}", "d".repeat(80), "f".repeat(60));
        let mut e = entry(
            &long,
            Kind::Symlink {
                target: "t".repeat(150).into_bytes(),
            },
        );
        e.xattrs = vec![
            (b"user.b".to_vec(), b"2".to_vec()),
            (b"user.a".to_vec(), vec![0, 255]),
        ];
        e.uid = 1 << 40;
        e.mtime = -5;
        let mut out = Vec::new();
        encode_header(&e, &mut out);
        assert_eq!(out[156], b'x');
        let size = usize::from_str_radix(&field(&out, 124..135), 8).unwrap();
        let records = &out[BLOCK..BLOCK + size];
        let mut want = Vec::new();
        pax_record(b"SCHILY.xattr.user.a", &[0, 255], &mut want);
        pax_record(b"SCHILY.xattr.user.b", b"2", &mut want);
        pax_record(b"linkpath", "t".repeat(150).as_bytes(), &mut want);
        pax_record(b"mtime", b"-5", &mut want);
        pax_record(b"path", long.as_bytes(), &mut want);
        pax_record(b"uid", (1u64 << 40).to_string().as_bytes(), &mut want);
        assert_eq!(records, &want[..]);
        let main = &out[out.len() - BLOCK..];
        assert_eq!(out.len() % BLOCK, 0);
        assert_eq!(main[156], b'2');
        assert_eq!(field(main, 0..100), long[..100]);
        assert_eq!(field(main, 108..116), "0000000");
    }

    #[test]
    fn padding_table() {
        for (len, want) in [(0u64, 0usize), (1, 511), (511, 1), (512, 0), (513, 511)] {
            assert_eq!(padding(len), want, "{len}");
        }
    }

    #[test]
    fn host_xattrs_are_dropped() {
        for (name, keep) in [
            ("security.selinux", false),
            ("trusted.overlay.opaque", false),
            ("user.overlay.opaque", false),
            ("user.overlay.origin", false),
            ("security.capability", true),
            ("user.x", true),
        ] {
            assert_eq!(xattr_is_portable(name.as_bytes()), keep, "{name}");
        }
    }
}
