//! Refusing paths that climb out, at `load` time: names in the archive itself, and names and
//! links inside each layer tar, so an archive that could only fail (or do harm) when an image is
//! unpacked is refused before anything of it enters the store.
//!
//! Inside a layer the rules are the unpacker's and Docker's: an entry name may not be absolute or
//! hold `..` (what `snapshot::unpack` refuses); a hard link's target likewise; a symlink may
//! point anywhere absolute (it is read inside the container) but a relative target may not climb
//! above the layer's root (Docker's "invalid symlink" breakout check).

use std::io::Read;

use crate::snapshot::unpack::archive_components;

/// An entry whose name or link leaves the root it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escape {
    pub entry: String,
    pub reason: String,
}

/// The entry's name, or why it is refused.
pub(super) fn check_name(raw: &[u8]) -> Result<(), String> {
    archive_components(raw).map(|_| ()).map_err(str::to_string)
}

/// Whether the relative symlink target `target`, at the entry `link`, climbs above the root.
/// `link` itself is a checked name (no `..`, not absolute).
pub(super) fn climbs_out(link: &[u8], target: &[u8]) -> bool {
    let mut depth = link
        .split(|&b| b == b'/')
        .filter(|c| !matches!(*c, b"" | b"."))
        .count()
        .saturating_sub(1);
    for c in target.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." if depth == 0 => return true,
            b".." => depth -= 1,
            _ => depth += 1,
        }
    }
    false
}

/// The first entry of a layer tar (already decompressed) that climbs out, if any. Where the
/// tar stops making sense the check stops too: what was read is clean, and the unpacker, which
/// reads the same entries in the same order, fails at that same point before going further.
pub fn check_layer(tar: &mut dyn Read) -> Option<Escape> {
    let mut ar = tar::Archive::new(tar);
    for entry in ar.entries().ok()? {
        let entry = entry.ok()?;
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader
        ) {
            continue;
        }
        let raw = entry.path_bytes().into_owned();
        let escape = |reason: String| {
            Some(Escape {
                entry: String::from_utf8_lossy(&raw).into_owned(),
                reason,
            })
        };
        if let Err(r) = check_name(&raw) {
            return escape(r);
        }
        let target = entry.link_name_bytes().map(|t| t.into_owned());
        match (kind, target) {
            (tar::EntryType::Link, Some(t)) => {
                if let Err(r) = check_name(&t) {
                    return escape(format!("hard link target {:?}: {r}", lossy(&t)));
                }
            }
            (tar::EntryType::Symlink, Some(t)) if !t.starts_with(b"/") && climbs_out(&raw, &t) => {
                return escape(format!(
                    "symlink target {:?} climbs above the root",
                    lossy(&t)
                ));
            }
            _ => {}
        }
    }
    None
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar of (name, kind, link target) entries, names written raw into the header.
    fn tar_of(entries: &[(&str, tar::EntryType, &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, kind, target) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_size(0);
            h.set_mode(0o644);
            let gnu = h.as_gnu_mut().unwrap();
            gnu.name[..name.len()].copy_from_slice(name.as_bytes());
            gnu.linkname[..target.len()].copy_from_slice(target.as_bytes());
            h.set_cksum();
            b.append(&h, &[][..]).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn layer_escapes_table() {
        use tar::EntryType::{Directory as D, Link as H, Regular as F, Symlink as S};
        // (entries, the refused entry and reason, or None)
        #[rustfmt::skip]
        type Entry<'a> = (&'a str, tar::EntryType, &'a str);
        type Refused<'a> = Option<(&'a str, &'a str)>;
        let cases: &[(&[Entry], Refused)] = &[
            (&[("a/", D, ""), ("a/b", F, ""), ("./c", F, "")], None),
            (&[("etc/mtab", S, "/proc/mounts")], None),
            (&[("a/b/l", S, "../../c")], None),
            (&[("a/l", S, "../x/../y")], None),
            (&[("h", H, "a/b")], None),
            (&[("../x", F, "")], Some(("../x", "\"..\" in path"))),
            (
                &[("a/../../x", F, "")],
                Some(("a/../../x", "\"..\" in path")),
            ),
            (
                &[("/etc/passwd", F, "")],
                Some(("/etc/passwd", "absolute path")),
            ),
            (
                &[("ok", F, ""), ("h", H, "/etc/shadow")],
                Some(("h", "hard link target \"/etc/shadow\": absolute path")),
            ),
            (
                &[("h", H, "../x")],
                Some(("h", "hard link target \"../x\": \"..\" in path")),
            ),
            (
                &[("a/l", S, "../../etc")],
                Some(("a/l", "symlink target \"../../etc\" climbs above the root")),
            ),
            (
                &[("l", S, "..")],
                Some(("l", "symlink target \"..\" climbs above the root")),
            ),
        ];
        for (entries, want) in cases {
            let tar = tar_of(entries);
            let got = check_layer(&mut &tar[..]);
            let got = got.as_ref().map(|e| (e.entry.as_str(), e.reason.as_str()));
            assert_eq!(got, *want, "{entries:?}");
        }
        // Not a tar at all: nothing to refuse here (the unpacker reports it).
        assert_eq!(check_layer(&mut &[0x5au8; 2048][..]), None);
    }
}
