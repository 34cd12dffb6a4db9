//! `diff`: what a container changed in its filesystem, as `docker diff` lists it: `A` added,
//! `C` changed, `D` deleted, one path per line in path order. Read from the overlay's upper
//! directory: a whiteout (char device 0:0) is a deletion, an entry the image's layers have is
//! a change, anything else an addition.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::error::ContainerError;

/// One line of `docker diff`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// `A`, `C` or `D`.
    pub kind: char,
    /// Absolute inside the container.
    pub path: String,
}

/// Where the sandbox mounts its own files: not the container's changes.
const MOUNTPOINTS: &[&str] = &[
    "/dev",
    "/proc",
    "/sys",
    "/etc/hosts",
    "/etc/hostname",
    "/etc/resolv.conf",
];

/// Bytes of the regular files in `upper`: what the container wrote (`ps -s`, `SizeRw`).
pub fn upper_size(upper: &Path) -> u64 {
    walkdir::WalkDir::new(upper)
        .into_iter()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

/// The changes recorded in `upper` over `lowers` (the image's layers, top first).
pub fn changes(upper: &Path, lowers: &[PathBuf]) -> Result<Vec<Change>, ContainerError> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(upper)
        .min_depth(1)
        .sort_by_file_name()
    {
        let entry = entry.map_err(|e| ContainerError::Io {
            op: "walk",
            path: upper.to_path_buf(),
            source: e.into(),
        })?;
        let rel = entry.path().strip_prefix(upper).unwrap_or(entry.path());
        let path = format!("/{}", rel.display());
        let meta = entry.metadata().map_err(|e| ContainerError::Io {
            op: "stat",
            path: entry.path().to_path_buf(),
            source: e.into(),
        })?;
        let whiteout = meta.file_type().is_char_device() && meta.rdev() == 0;
        let in_lower = lowers
            .iter()
            .any(|l| l.join(rel).symlink_metadata().is_ok());
        let kind = match (whiteout, in_lower) {
            (true, _) => 'D',
            (false, true) => 'C',
            (false, false) => 'A',
        };
        out.push(Change { kind, path });
    }
    Ok(hide_mountpoints(out))
}

/// Drops the sandbox's mountpoints, and directories that only hold them (copied up so the
/// mountpoint could be made) when the image has them too.
fn hide_mountpoints(all: Vec<Change>) -> Vec<Change> {
    let hidden = |p: &str| {
        MOUNTPOINTS
            .iter()
            .any(|m| p == *m || p.starts_with(&format!("{m}/")))
    };
    let kept: Vec<Change> = all.into_iter().filter(|c| !hidden(&c.path)).collect();
    let has_child = |dir: &str| {
        let prefix = format!("{dir}/");
        kept.iter().any(|c| c.path.starts_with(&prefix))
    };
    let only_for_mounts = |c: &Change| {
        c.kind == 'C'
            && MOUNTPOINTS
                .iter()
                .any(|m| m.starts_with(&format!("{}/", c.path)))
            && !has_child(&c.path)
    };
    kept.iter()
        .filter(|c| !only_for_mounts(c))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_entries_become_docker_diff_lines() {
        let t = tempfile::tempdir().unwrap();
        let (upper, lower) = (t.path().join("u"), t.path().join("l"));
        for d in ["etc", "usr/bin", "var"] {
            std::fs::create_dir_all(lower.join(d)).unwrap();
        }
        std::fs::write(lower.join("etc/passwd"), "root").unwrap();
        std::fs::write(lower.join("var/gone"), "x").unwrap();
        std::fs::create_dir_all(upper.join("etc")).unwrap();
        std::fs::write(upper.join("etc/passwd"), "root2").unwrap();
        std::fs::write(upper.join("etc/new"), "n").unwrap();
        std::fs::write(upper.join("etc/hosts"), "h").unwrap();
        std::fs::create_dir_all(upper.join("var")).unwrap();
        // A whiteout needs mknod (root); a plain file stands in where that is refused.
        let wh = upper.join("var/gone");
        let made = nix::sys::stat::mknod(
            &wh,
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o600),
            0,
        )
        .is_ok();
        std::fs::create_dir_all(upper.join("data/sub")).unwrap();
        std::fs::create_dir_all(upper.join("dev")).unwrap();
        let got: Vec<String> = changes(&upper, &[lower])
            .unwrap()
            .iter()
            .map(|c| format!("{} {}", c.kind, c.path))
            .collect();
        let gone = if made { "D /var/gone" } else { "C /var/gone" };
        assert_eq!(
            got,
            [
                "A /data",
                "A /data/sub",
                "C /etc",
                "A /etc/new",
                "C /etc/passwd",
                "C /var",
                gone
            ]
        );
    }

    #[test]
    fn a_dir_copied_up_only_for_mountpoints_is_hidden() {
        let c = |k, p: &str| Change {
            kind: k,
            path: p.into(),
        };
        let got = hide_mountpoints(vec![c('C', "/etc"), c('A', "/etc/hosts"), c('A', "/x")]);
        assert_eq!(got, vec![c('A', "/x")]);
    }
}
