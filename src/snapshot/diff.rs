//! An overlayfs upperdir as a change list: 0/0 character devices are deletions, directories
//! marked `trusted.overlay.opaque=y` replace the lower directory, everything else was added or
//! changed. The classification of one entry is pure; [`upperdir_changes`] walks the disk.

use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::layer::Change;

/// What is known about one upperdir entry, enough to classify it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpperEntry {
    pub is_dir: bool,
    pub is_char_device: bool,
    pub rdev: u64,
    /// The directory carries `trusted.overlay.opaque=y`.
    pub opaque: bool,
}

/// The change an upperdir entry at `path` stands for.
pub fn classify(path: PathBuf, e: UpperEntry) -> Change {
    if e.is_char_device && e.rdev == 0 {
        Change::Deleted(path)
    } else if e.is_dir && e.opaque {
        Change::OpaqueDir(path)
    } else {
        // Without the lower layers at hand "added" and "modified" are written alike.
        Change::Added(path)
    }
}

/// Walks `upper` and returns its changes, paths relative to `upper`, in walk order.
pub fn upperdir_changes(upper: &Path) -> io::Result<Vec<Change>> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(upper)
        .min_depth(1)
        .follow_links(false)
    {
        let entry = entry.map_err(io::Error::from)?;
        let md = entry.metadata().map_err(io::Error::from)?;
        let ft = md.file_type();
        let opaque = ft.is_dir()
            && super::source::read_raw_xattr(entry.path(), super::fsops::OVERLAY_OPAQUE)?
                .is_some_and(|v| v == b"y");
        let rel = entry
            .path()
            .strip_prefix(upper)
            .expect("walkdir stays under its root")
            .to_path_buf();
        out.push(classify(
            rel,
            UpperEntry {
                is_dir: ft.is_dir(),
                is_char_device: ft.is_char_device(),
                rdev: md.rdev(),
                opaque,
            },
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_table() {
        let e = |is_dir, is_char_device, rdev, opaque| UpperEntry {
            is_dir,
            is_char_device,
            rdev,
            opaque,
        };
        let p = || PathBuf::from("x");
        let cases = [
            (e(false, true, 0, false), Change::Deleted(p())),
            (e(false, true, 0x103, false), Change::Added(p())), // a real device, e.g. null
            (e(true, false, 0, true), Change::OpaqueDir(p())),
            (e(true, false, 0, false), Change::Added(p())),
            (e(false, false, 0, false), Change::Added(p())),
        ];
        for (entry, want) in cases {
            assert_eq!(classify(p(), entry), want, "{entry:?}");
        }
    }
}
