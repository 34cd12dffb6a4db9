//! Helpers shared by the layer integration tests: tree listings for comparison, raw tar
//! building for hostile archives, and small syscall wrappers.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::CString;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::process::Command;

use strata::snapshot::tar_layout::{encode_header, padding, EntryHeader, Kind, TRAILER};

/// Everything about one path that a layer must preserve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: &'static str,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Directory mtimes included: unpack must restore them after filling the directory.
    pub mtime: i64,
    pub content: Vec<u8>,
    pub rdev: u64,
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    /// For regular files: the sorted paths sharing this inode.
    pub links: Vec<String>,
}

/// A listing of `root` (not the root itself) keyed by relative path.
pub fn listing(root: &Path) -> BTreeMap<String, Node> {
    let mut inodes: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(root).min_depth(1) {
        let e = e.unwrap();
        let rel = e
            .path()
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let md = e.path().symlink_metadata().unwrap();
        let ft = md.file_type();
        let (kind, content) = if ft.is_file() {
            inodes.entry(md.ino()).or_default().push(rel.clone());
            ("file", std::fs::read(e.path()).unwrap())
        } else if ft.is_dir() {
            ("dir", vec![])
        } else if ft.is_symlink() {
            (
                "symlink",
                std::fs::read_link(e.path())
                    .unwrap()
                    .as_os_str()
                    .as_bytes()
                    .to_vec(),
            )
        } else if ft.is_char_device() {
            ("char", vec![])
        } else if ft.is_block_device() {
            ("block", vec![])
        } else if ft.is_fifo() {
            ("fifo", vec![])
        } else {
            ("other", vec![])
        };
        out.insert(
            rel,
            Node {
                kind,
                mode: md.mode() & 0o7777,
                uid: md.uid(),
                gid: md.gid(),
                mtime: md.mtime(),
                content,
                rdev: md.rdev(),
                xattrs: xattrs(e.path()),
                links: vec![],
            },
        );
    }
    for paths in inodes.values() {
        for p in paths {
            out.get_mut(p).unwrap().links = paths.clone();
        }
    }
    out
}

pub fn xattrs(p: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let c = CString::new(p.as_os_str().as_bytes()).unwrap();
    let mut names = vec![0u8; 4096];
    let n = unsafe { libc::llistxattr(c.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    assert!(n >= 0, "llistxattr {p:?}");
    names.truncate(n as usize);
    let mut out = vec![];
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        out.push((name.to_vec(), getxattr(p, name).unwrap()));
    }
    out.sort();
    out
}

pub fn getxattr(p: &Path, name: &[u8]) -> Option<Vec<u8>> {
    let c = CString::new(p.as_os_str().as_bytes()).unwrap();
    let n = CString::new(name).unwrap();
    let mut buf = vec![0u8; 4096];
    let r = unsafe { libc::lgetxattr(c.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if r < 0 {
        return None;
    }
    buf.truncate(r as usize);
    Some(buf)
}

pub fn setxattr(p: &Path, name: &str, value: &[u8]) {
    let c = CString::new(p.as_os_str().as_bytes()).unwrap();
    let n = CString::new(name).unwrap();
    let r = unsafe {
        libc::lsetxattr(
            c.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    assert_eq!(
        r,
        0,
        "setxattr {name} on {p:?}: {}",
        std::io::Error::last_os_error()
    );
}

pub fn mknod(p: &Path, fmt: libc::mode_t, mode: libc::mode_t, major: u32, minor: u32) {
    let c = CString::new(p.as_os_str().as_bytes()).unwrap();
    let r = unsafe { libc::mknod(c.as_ptr(), fmt | mode, libc::makedev(major, minor)) };
    assert_eq!(r, 0, "mknod {p:?}: {}", std::io::Error::last_os_error());
}

pub fn set_mtime(p: &Path, secs: i64) {
    let c = CString::new(p.as_os_str().as_bytes()).unwrap();
    let t = libc::timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    let r = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            [t, t].as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    assert_eq!(r, 0);
}

/// A tar archive written entry by entry with arbitrary (even hostile) names.
#[derive(Default)]
pub struct RawTar(pub Vec<u8>);

impl RawTar {
    pub fn entry(&mut self, path: &str, kind: Kind, data: &[u8]) -> &mut Self {
        let h = EntryHeader {
            path: path.as_bytes().to_vec(),
            kind,
            mode: 0o755,
            uid: 0,
            gid: 0,
            mtime: 1_000_000,
            xattrs: vec![],
        };
        encode_header(&h, &mut self.0);
        self.0.extend_from_slice(data);
        self.0.resize(self.0.len() + padding(data.len() as u64), 0);
        self
    }
    pub fn file(&mut self, path: &str, data: &[u8]) -> &mut Self {
        self.entry(
            path,
            Kind::File {
                size: data.len() as u64,
            },
            data,
        )
    }
    pub fn dir(&mut self, path: &str) -> &mut Self {
        self.entry(path, Kind::Dir, b"")
    }
    pub fn symlink(&mut self, path: &str, target: &str) -> &mut Self {
        self.entry(
            path,
            Kind::Symlink {
                target: target.as_bytes().to_vec(),
            },
            b"",
        )
    }
    pub fn finish(&mut self) -> Vec<u8> {
        let mut v = self.0.clone();
        v.extend_from_slice(&TRAILER);
        v
    }
}

/// Runs a shell pipeline and returns stdout, failing the test with stderr if it fails.
pub fn sh(script: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(script).output().unwrap();
    assert!(
        out.status.success(),
        "command failed: {script}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub fn decompress_all(blob: &[u8]) -> Vec<u8> {
    let mut out = vec![];
    strata::snapshot::decompress(Box::new(std::io::Cursor::new(blob.to_vec())))
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// Every path under `root` with its content ("<dir>" for directories): the view a reader of the
/// filesystem gets, for comparing overlay mounts with flattened layers.
pub fn view(root: &Path) -> BTreeSet<(String, String)> {
    walkdir::WalkDir::new(root)
        .min_depth(1)
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            let rel = e.path().strip_prefix(root).unwrap().display().to_string();
            let c = if e.file_type().is_dir() {
                "<dir>".to_string()
            } else {
                std::fs::read_to_string(e.path()).unwrap()
            };
            (rel, c)
        })
        .collect()
}
