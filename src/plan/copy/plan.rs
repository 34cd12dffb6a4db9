//! `plan_copy`: turns a request and a source tree into [`CopyItem`]s — which files go where, with
//! final modes and owners — without touching the destination. The result is what a cache key
//! is computed from and what `apply_copy` executes.

use std::collections::{BTreeSet, HashMap};

use super::chmod::Chmod;
use super::dest::{dest_path, is_dir_shaped, url_file_name};
use super::select::{expand, walk_contents, ExcludeMatcher, Match};
use super::spec::{CopyItem, CopyRequest, Entry, EntryKind, ItemSource, Target};
use super::tree::{SourceKind, SourceMeta, SourceTree};
use super::{detect, CopyError};
use crate::util::passwd::{resolve_chown, GroupEntry, PasswdEntry};

/// What planning needs besides the request: the destination's users and groups (for
/// `--chown` names) and the `--exclude` matcher built from `req.excludes`.
pub struct PlanContext<'a> {
    pub passwd: &'a [PasswdEntry],
    pub groups: &'a [GroupEntry],
    pub exclude: &'a dyn ExcludeMatcher,
}

/// Whether a source is a remote URL (ADD only).
pub fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

/// Plans a COPY/ADD: expands sources, checks the destination shape, walks directories and
/// settles every entry's mode and owner.
pub fn plan_copy(
    tree: &dyn SourceTree,
    req: &CopyRequest,
    ctx: &PlanContext<'_>,
) -> Result<Vec<CopyItem>, CopyError> {
    let chmod = match &req.chmod {
        Some(spec) => {
            Some(Chmod::parse(spec).map_err(|_| CopyError::BadChmod { spec: spec.clone() })?)
        }
        None => None,
    };
    let chown =
        match &req.chown {
            Some(spec) => Some(resolve_chown(spec, ctx.passwd, ctx.groups).map_err(|err| {
                CopyError::Chown {
                    spec: spec.clone(),
                    err,
                }
            })?),
            None => None,
        };
    let owner = |m: &SourceMeta| -> (u32, u32) {
        match chown {
            Some(ids) => ids,
            // COPY --from keeps the source's owners (moby/moby#38599); the build context's
            // files become 0:0 ("Without this flag, files are created with UID and GID of 0").
            None if req.from_stage => (m.uid, m.gid),
            None => (0, 0),
        }
    };
    let mode_of = |m: u32, is_dir: bool| chmod.as_ref().map_or(m, |c| c.apply(m, is_dir));
    let entry = |rel: String, src: &str, m: &SourceMeta, kind: EntryKind| {
        let is_dir = kind == EntryKind::Dir;
        let is_link = matches!(kind, EntryKind::Symlink { .. });
        let (uid, gid) = owner(m);
        Entry {
            rel,
            src: src.to_string(),
            mode: if is_link {
                0o777
            } else {
                mode_of(m.mode, is_dir)
            },
            uid,
            gid,
            mtime: Some(m.mtime),
            kind,
        }
    };

    let dest = dest_path(&req.workdir, &req.dest);
    let dir_shaped = is_dir_shaped(&req.dest);
    let base = CopyItem {
        origin: String::new(),
        source: ItemSource::Inline(Vec::new()),
        target: Target::DirContents { dir: dest.clone() },
        entries: Vec::new(),
        parent_owner: chown.unwrap_or((0, 0)),
        chmod: req.chmod.clone(),
        chown,
        checksum: None,
        unpack_remote: false,
    };

    if req.checksum.is_some() && !req.sources.iter().all(|s| is_url(s)) {
        return Err(CopyError::ChecksumNotRemote);
    }
    let mut items = Vec::new();
    let mut selected = 0usize;
    // The parser keeps heredoc openers out of the source list; BuildKit copies every heredoc
    // of the instruction as a source all the same, so one not named there is added after them.
    let heredoc_only = req
        .heredocs
        .iter()
        .map(|(name, _)| name)
        .filter(|name| !req.sources.contains(name));
    for source in req.sources.iter().chain(heredoc_only) {
        if let Some((name, content)) = req.heredocs.iter().find(|(n, _)| n == source) {
            selected += 1;
            let (uid, gid) = chown.unwrap_or((0, 0));
            // BuildKit writes a heredoc with Mkfile mode 0644 before copying it.
            items.push(CopyItem {
                origin: source.clone(),
                source: ItemSource::Inline(content.clone()),
                target: Target::File {
                    path: dest.clone(),
                    name: name.clone(),
                    into_dir: dir_shaped,
                },
                entries: vec![Entry {
                    rel: String::new(),
                    src: String::new(),
                    kind: EntryKind::File {
                        size: content.len() as u64,
                    },
                    mode: mode_of(0o644, false),
                    uid,
                    gid,
                    mtime: None,
                }],
                ..base.clone()
            });
            continue;
        }
        if is_url(source) {
            if !req.is_add {
                return Err(CopyError::UrlInCopy {
                    url: source.clone(),
                });
            }
            selected += 1;
            let name = url_file_name(source).unwrap_or_default();
            if dir_shaped && name.is_empty() {
                return Err(CopyError::UrlNoFileName {
                    url: source.clone(),
                });
            }
            items.push(CopyItem {
                origin: source.clone(),
                source: ItemSource::Url(source.clone()),
                target: Target::File {
                    path: dest.clone(),
                    name,
                    into_dir: dir_shaped,
                },
                checksum: req.checksum.clone(),
                unpack_remote: req.unpack == Some(true),
                ..base.clone()
            });
            continue;
        }
        if req.parents {
            let (pivot, matches) = expand_parents(tree, source)?;
            selected += matches.len();
            if matches.is_empty() {
                continue;
            }
            let mut entries = Vec::new();
            let mut seen = BTreeSet::new();
            let mut links = HashMap::new();
            for m in &matches {
                let kept: Vec<String> = m
                    .written
                    .strip_prefix(pivot.as_slice())
                    .unwrap_or(&m.written)
                    .to_vec();
                // The kept parent directories, with the source's own metadata (BuildKit copies
                // them through include patterns, so they are copied, not created).
                for depth in 1..kept.len() {
                    let rel = kept[..depth].join("/");
                    if !seen.insert(rel.clone()) {
                        continue;
                    }
                    let mut written = pivot.clone();
                    written.extend_from_slice(&kept[..depth]);
                    let resolved = super::select::follow(tree, &written)?
                        .ok_or_else(|| CopyError::NotFound { path: rel.clone() })?;
                    let meta = lstat(tree, &resolved)?;
                    entries.push(entry(rel, &resolved, &meta, EntryKind::Dir));
                }
                let rel = kept.join("/");
                // With --parents, excludes see paths as kept below the pivot.
                if ctx.exclude.excluded(&rel, m.meta.kind == SourceKind::Dir)
                    || !seen.insert(rel.clone())
                {
                    continue;
                }
                push_match(
                    tree,
                    ctx.exclude,
                    m,
                    &rel,
                    &mut entries,
                    &mut seen,
                    &mut links,
                    &entry,
                )?;
            }
            items.push(CopyItem {
                origin: source.clone(),
                source: ItemSource::Tree(pivot.join("/")),
                target: Target::DirContents { dir: dest.clone() },
                entries,
                ..base.clone()
            });
            continue;
        }
        for m in expand(tree, source, false)? {
            if m.by_wildcard
                && ctx
                    .exclude
                    .excluded(&m.written.join("/"), m.meta.kind == SourceKind::Dir)
            {
                continue;
            }
            selected += 1;
            let origin = source.clone();
            match &m.meta.kind {
                SourceKind::Dir => {
                    let mut entries = Vec::new();
                    let mut links = HashMap::new();
                    for (rel, meta) in walk_contents(tree, &m.resolved, ctx.exclude)? {
                        let src = super::select::sub(&m.resolved, &rel);
                        let kind = kind_of(&meta, &rel, &mut links);
                        entries.push(entry(rel, &src, &meta, kind));
                    }
                    items.push(CopyItem {
                        origin,
                        source: ItemSource::Tree(m.resolved.clone()),
                        target: Target::DirContents { dir: dest.clone() },
                        entries,
                        ..base.clone()
                    });
                }
                SourceKind::File { .. }
                    if req.is_add
                        && req.unpack != Some(false)
                        && detect::is_tar_archive(
                            tree.open(&m.resolved)
                                .map_err(|e| CopyError::io("open source", &m.resolved, e))?,
                        ) =>
                {
                    // "Local tar archives are unpacked by default": into dest as a directory.
                    items.push(CopyItem {
                        origin,
                        source: ItemSource::Tree(m.resolved.clone()),
                        target: Target::Unpack { dir: dest.clone() },
                        ..base.clone()
                    });
                }
                _ => {
                    let name = m.written.last().cloned().unwrap_or_default();
                    let kind = kind_of(&m.meta, "", &mut HashMap::new());
                    items.push(CopyItem {
                        origin,
                        source: ItemSource::Tree(m.resolved.clone()),
                        target: Target::File {
                            path: dest.clone(),
                            name,
                            into_dir: dir_shaped,
                        },
                        entries: vec![entry(String::new(), &m.resolved, &m.meta, kind)],
                        ..base.clone()
                    });
                }
            }
        }
    }
    // "If you specify multiple source files, either directly or using a wildcard, then the
    // destination must be a directory (must end with a slash /)."
    if (req.sources.len() > 1 || selected > 1) && !dir_shaped {
        return Err(CopyError::NeedDirDest {
            cmd: req.command_name(),
        });
    }
    Ok(items)
}

fn lstat(tree: &dyn SourceTree, rel: &str) -> Result<SourceMeta, CopyError> {
    tree.lstat(rel)
        .map_err(|e| CopyError::io("lstat source", rel, e))?
        .ok_or_else(|| CopyError::NotFound {
            path: rel.to_string(),
        })
}

/// The entry kind for a source, turning a second name of an already-seen inode into a hard link.
fn kind_of(meta: &SourceMeta, rel: &str, links: &mut HashMap<(u64, u64), String>) -> EntryKind {
    match &meta.kind {
        SourceKind::Dir => EntryKind::Dir,
        SourceKind::Symlink { target } => EntryKind::Symlink {
            target: target.clone(),
        },
        SourceKind::Special { file_type, rdev } => EntryKind::Special {
            file_type: *file_type,
            rdev: *rdev,
        },
        SourceKind::File { size } => match meta.link_id {
            Some(id) => match links.get(&id) {
                Some(first) => EntryKind::Hardlink {
                    first: first.clone(),
                },
                None => {
                    links.insert(id, rel.to_string());
                    EntryKind::File { size: *size }
                }
            },
            None => EntryKind::File { size: *size },
        },
    }
}

/// Adds one `--parents` match at `rel`: the match itself, and for a directory its contents.
#[allow(clippy::too_many_arguments)]
fn push_match(
    tree: &dyn SourceTree,
    exclude: &dyn ExcludeMatcher,
    m: &Match,
    rel: &str,
    entries: &mut Vec<Entry>,
    seen: &mut BTreeSet<String>,
    links: &mut HashMap<(u64, u64), String>,
    entry: &dyn Fn(String, &str, &SourceMeta, EntryKind) -> Entry,
) -> Result<(), CopyError> {
    let kind = kind_of(&m.meta, rel, links);
    let is_dir = kind == EntryKind::Dir;
    entries.push(entry(rel.to_string(), &m.resolved, &m.meta, kind));
    if is_dir {
        let under = Under {
            inner: exclude,
            prefix: rel,
        };
        for (crel, meta) in walk_contents(tree, &m.resolved, &under)? {
            let full = super::select::sub(rel, &crel);
            if !seen.insert(full.clone()) {
                continue;
            }
            let src = super::select::sub(&m.resolved, &crel);
            let kind = kind_of(&meta, &full, links);
            entries.push(entry(full, &src, &meta, kind));
        }
    }
    Ok(())
}

/// An exclude matcher asked about paths below `prefix`.
struct Under<'a> {
    inner: &'a dyn ExcludeMatcher,
    prefix: &'a str,
}

impl ExcludeMatcher for Under<'_> {
    fn excluded(&self, rel: &str, is_dir: bool) -> bool {
        self.inner
            .excluded(&super::select::sub(self.prefix, rel), is_dir)
    }

    fn may_reinclude_below(&self, dir: &str) -> bool {
        self.inner
            .may_reinclude_below(&super::select::sub(self.prefix, dir))
    }
}

/// Splits a `--parents` source at its `/./` pivot (rsync's `--relative` marker) and expands it;
/// returns the pivot's components and the matches.
fn expand_parents(
    tree: &dyn SourceTree,
    source: &str,
) -> Result<(Vec<String>, Vec<Match>), CopyError> {
    let pivot = match source.find("/./") {
        Some(i) => super::select::clean_components(&source[..i]),
        None => Vec::new(),
    };
    let matches = expand(tree, source, true)?;
    Ok((pivot, matches))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::copy::{MemTree, NoExcludes};

    fn plan(sources: &[&str], heredocs: &[&str], dest: &str) -> Result<Vec<CopyItem>, CopyError> {
        let req = CopyRequest {
            sources: sources.iter().map(|s| s.to_string()).collect(),
            heredocs: heredocs
                .iter()
                .map(|h| (h.to_string(), b"body\n".to_vec()))
                .collect(),
            dest: dest.to_string(),
            workdir: "/".to_string(),
            ..Default::default()
        };
        let ctx = PlanContext {
            passwd: &[],
            groups: &[],
            exclude: &NoExcludes,
        };
        plan_copy(&MemTree::new(), &req, &ctx)
    }

    fn targets(items: &[CopyItem]) -> Vec<(String, Target)> {
        items
            .iter()
            .map(|i| (i.origin.clone(), i.target.clone()))
            .collect()
    }

    #[test]
    fn heredocs_are_sources_whether_or_not_the_source_list_names_them() {
        let file = |name: &str| Target::File {
            path: "/h".into(),
            name: name.into(),
            into_dir: false,
        };
        // The parser's shape: `COPY <<EOT /h` has no sources, one heredoc.
        let got = plan(&[], &["EOT"], "/h").unwrap();
        assert_eq!(targets(&got), [("EOT".to_string(), file("EOT"))]);
        // Named in the list too: copied once, not twice.
        let got = plan(&["EOT"], &["EOT"], "/h").unwrap();
        assert_eq!(targets(&got), [("EOT".to_string(), file("EOT"))]);
        // Two heredocs are several sources: the dest must be a directory.
        assert!(matches!(
            plan(&[], &["A", "B"], "/h"),
            Err(CopyError::NeedDirDest { .. })
        ));
    }
}
