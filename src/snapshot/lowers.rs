//! What a stack of overlayfs lowerdirs shows at a path, read from the layer directories
//! themselves: the top-most entry wins, a 0/0 character device hides everything below it, a
//! directory marked opaque hides the same directory in the layers below, and a non-directory
//! ends the merge of the directories above it.
//!
//! Only what unpacked snapshot dirs contain is understood: `trusted.overlay.redirect` and
//! metacopy files never occur there (they are made by the kernel in an upperdir, not by unpack).

use std::ffi::OsStr;
use std::fs::Metadata;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

use super::fsops::OVERLAY_OPAQUE;
use super::source::read_raw_xattr;

/// The overlayfs whiteout: a character device with device number 0/0.
pub fn is_whiteout(md: &Metadata) -> bool {
    md.file_type().is_char_device() && md.rdev() == 0
}

/// `dir` carries the overlayfs opaque marker (`y`), in the trusted or (userxattr mounts) user
/// namespace.
pub fn is_opaque(dir: &Path) -> io::Result<bool> {
    for name in [OVERLAY_OPAQUE, "user.overlay.opaque"] {
        let v = read_raw_xattr(dir, name).map_err(context("read xattrs of", dir))?;
        if v.as_deref() == Some(b"y") {
            return Ok(true);
        }
    }
    Ok(false)
}

/// What the layers merged into one directory show for one of its names.
#[derive(Debug, Default)]
pub struct Child {
    /// The visible entry (its path in the top-most layer holding it), if any.
    pub top: Option<(PathBuf, Metadata)>,
    /// When the visible entry is a directory: that directory in every layer whose copy is merged
    /// into it, top first. Empty otherwise.
    pub dirs: Vec<PathBuf>,
}

/// Looks `name` up in `layers`: one directory merged from several layers, given as that
/// directory's path in each of them, top first (each must be a real directory).
pub fn child(layers: &[PathBuf], name: &OsStr) -> io::Result<Child> {
    let mut out = Child::default();
    for layer in layers {
        let p = layer.join(name);
        let md = match std::fs::symlink_metadata(&p) {
            Ok(md) => md,
            Err(e) if missing(&e) => continue,
            Err(e) => return Err(context("lstat", &p)(e)),
        };
        if is_whiteout(&md) {
            break;
        }
        let is_dir = md.is_dir();
        if out.top.is_none() {
            out.top = Some((p.clone(), md));
        }
        if !is_dir {
            // A non-directory hides everything below it; under a directory it just ends the
            // merge (the directory above already won).
            break;
        }
        let opaque = is_opaque(&p)?;
        out.dirs.push(p);
        if opaque {
            break;
        }
    }
    Ok(out)
}

/// The entry the union of `lowerdirs` (top first) shows at the relative path `rel`, as its path
/// in the layer that provides it. `None` when no layer has it, a whiteout hides it, or a
/// component on the way is not a directory. `rel` is taken literally: symlinks are not followed.
pub fn lookup(lowerdirs: &[PathBuf], rel: &Path) -> io::Result<Option<(PathBuf, Metadata)>> {
    let names: Vec<&OsStr> = rel
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(Ok(n)),
            Component::CurDir => None,
            _ => Some(Err(())),
        })
        .collect::<Result<_, _>>()
        .map_err(|()| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("lower layer lookup of {rel:?}: not a plain relative path"),
            )
        })?;
    let Some((last, parents)) = names.split_last() else {
        return Ok(None);
    };
    let mut layers = lowerdirs.to_vec();
    for name in parents {
        layers = child(&layers, name)?.dirs;
        if layers.is_empty() {
            return Ok(None);
        }
    }
    Ok(child(&layers, last)?.top)
}

fn missing(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR)
}

/// Adds what was being done to which path to an I/O error, keeping its kind.
pub fn context(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> io::Error {
    let path = path.to_path_buf();
    move |e| io::Error::new(e.kind(), format!("{op} {path:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::fsops;

    /// Three layers, top first: l2 over l1 over l0.
    fn layers(t: &Path) -> Vec<PathBuf> {
        let l: Vec<PathBuf> = ["l2", "l1", "l0"].iter().map(|n| t.join(n)).collect();
        let file = |p: &Path, c: &str| {
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, c).unwrap();
        };
        let whiteout = |p: &Path| {
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            fsops::mknod(p, libc::S_IFCHR, 0).unwrap();
        };
        // l0: the base.
        file(&l[2].join("a/x"), "x0");
        file(&l[2].join("a/y"), "y0");
        file(&l[2].join("o/old"), "old");
        file(&l[2].join("f"), "f0");
        file(&l[2].join("gone/z"), "z0");
        file(&l[2].join("d2f/inner"), "i0");
        // l1: changes x, deletes y and gone, makes o opaque with a new file, replaces f by a
        // directory and d2f by a file.
        file(&l[1].join("a/x"), "x1");
        whiteout(&l[1].join("a/y"));
        whiteout(&l[1].join("gone"));
        file(&l[1].join("o/new"), "new");
        fsops::set_opaque(&l[1].join("o")).unwrap();
        std::fs::create_dir_all(l[1].join("f")).unwrap();
        file(&l[1].join("f/in"), "in");
        file(&l[1].join("d2f"), "now a file");
        // l2: only adds a/w.
        file(&l[0].join("a/w"), "w2");
        l
    }

    #[test]
    fn lookup_follows_overlay_rules() {
        let t = tempfile::tempdir().unwrap();
        let l = layers(t.path());
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            ("a/w", Some(("l2", "w2"))),
            ("a/x", Some(("l1", "x1"))),
            ("a/y", None),
            ("gone/z", None),
            ("gone", None),
            ("o/new", Some(("l1", "new"))),
            ("o/old", None), // hidden by the opaque o in l1
            ("f/in", Some(("l1", "in"))),
            ("d2f", Some(("l1", "now a file"))),
            ("d2f/inner", None), // through a non-directory
            ("nothing/here", None),
        ];
        for (rel, want) in cases {
            let got = lookup(&l, Path::new(rel)).unwrap();
            match (got, want) {
                (None, None) => {}
                (Some((p, md)), Some((layer, content))) => {
                    assert_eq!(p, t.path().join(layer).join(rel), "{rel}");
                    assert!(md.is_file(), "{rel}");
                    assert_eq!(std::fs::read_to_string(&p).unwrap(), *content, "{rel}");
                }
                (got, want) => panic!("{rel}: got {got:?}, want {want:?}"),
            }
        }
        // A directory merged from several layers lists each layer's copy, top first.
        let a = child(&l, OsStr::new("a")).unwrap();
        assert_eq!(
            a.dirs,
            [t.path().join("l2/a"), l[1].join("a"), l[2].join("a")]
        );
        // An opaque directory stops the merge at its own layer.
        let o = child(&l, OsStr::new("o")).unwrap();
        assert_eq!(o.dirs, [l[1].join("o")]);
        // A directory over a file: the file below does not merge in.
        let f = child(&l, OsStr::new("f")).unwrap();
        assert_eq!(f.dirs, [l[1].join("f")]);
        assert!(lookup(&l, Path::new("../x")).is_err());
    }
}
