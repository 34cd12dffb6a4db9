//! The pure data of a COPY/ADD: the request as the Dockerfile spelled it (already expanded) and
//! the plan that selection turns it into (what is copied where, with final modes and owners).

/// One COPY or ADD instruction, with every word already expanded by the frontend.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyRequest {
    /// Sources as written: paths relative to the source root (a leading `/` or `..` is clamped
    /// to the root, as Docker does), wildcards allowed; for ADD also `http(s)://` URLs.
    pub sources: Vec<String>,
    /// The destination as written; relative ones are relative to `workdir`.
    pub dest: String,
    /// The stage's WORKDIR (absolute), for a relative `dest`.
    pub workdir: String,
    /// `--chown=user[:group]` as written (resolved against the destination's passwd/group).
    pub chown: Option<String>,
    /// `--chmod=` octal (`755`) or symbolic (`u+x,go-w`).
    pub chmod: Option<String>,
    /// `--link`: recorded only; where files land is the same.
    pub link: bool,
    /// `--parents`: keep the sources' parent directories below the source root (or below a
    /// `/./` pivot in the source path).
    pub parents: bool,
    /// `--exclude=` patterns (dockerignore syntax), matched by the [`ExcludeMatcher`] given to
    /// [`plan_copy`](super::plan_copy).
    ///
    /// [`ExcludeMatcher`]: super::ExcludeMatcher
    pub excludes: Vec<String>,
    /// ADD rather than COPY: local archives are extracted, URLs allowed.
    pub is_add: bool,
    /// `COPY --from=…`: the source is another stage or image, whose owners are kept when there
    /// is no `--chown` (the build context's files become 0:0 instead).
    pub from_stage: bool,
    /// Heredoc sources: a source equal to a name here takes this content instead of a file.
    pub heredocs: Vec<(String, Vec<u8>)>,
    /// ADD `--checksum=sha256:…` for a URL source.
    pub checksum: Option<String>,
    /// ADD `--unpack=`: `None` is Docker's default (local archives unpacked, URLs not).
    pub unpack: Option<bool>,
}

impl CopyRequest {
    /// The instruction's name as Docker's messages spell it.
    pub fn command_name(&self) -> &'static str {
        if self.is_add {
            "ADD"
        } else {
            "COPY"
        }
    }
}

/// A modification time, seconds and nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MTime {
    pub secs: i64,
    pub nanos: u32,
}

/// What one planned entry is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EntryKind {
    Dir,
    File {
        size: u64,
    },
    Symlink {
        target: String,
    },
    /// A second name of a file copied earlier in the same item (relative path of that entry).
    Hardlink {
        first: String,
    },
    /// A character or block device, or a fifo, recreated with `mknod`.
    Special {
        file_type: u32,
        rdev: u64,
    },
}

/// One file, directory or link to write, relative to its item's base on both sides.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Entry {
    /// Path below the item's source base (read side) and below the placed target (write side);
    /// empty for a single-file item, where the entry *is* the target.
    pub rel: String,
    /// Where to read it in the source tree (every symlink resolved); empty for inline and
    /// remote content.
    pub src: String,
    pub kind: EntryKind,
    /// Final permission bits (`0o7777`), `--chmod` already applied.
    pub mode: u32,
    /// Final owner, `--chown` or the default already applied.
    pub uid: u32,
    pub gid: u32,
    /// The source's mtime, kept as Docker does; `None` means "when written" (heredocs).
    pub mtime: Option<MTime>,
}

/// Where an item's content comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ItemSource {
    /// A path in the source tree with every symlink already resolved inside the tree
    /// (`""` is the root); entries are read below it.
    Tree(String),
    /// Heredoc content, written as the single entry.
    Inline(Vec<u8>),
    /// A remote file, fetched at apply time through a [`Fetch`](super::Fetch).
    Url(String),
}

/// How an item is placed in the destination.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// The entries merge into directory `dir` (absolute in the destination rootfs, symlinks not
    /// yet resolved), created with its missing parents if needed.
    DirContents { dir: String },
    /// A single non-directory written at `path`, or at `path/name` when `into_dir` (the dest
    /// ended with `/`) or when `path` turns out to be an existing directory.
    File {
        path: String,
        name: String,
        into_dir: bool,
    },
    /// ADD of a local (or `--unpack=true` remote) tar archive: extracted into directory `dir`.
    Unpack { dir: String },
}

/// One selected source and what it turns into.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CopyItem {
    /// The source as the user wrote it, for messages.
    pub origin: String,
    pub source: ItemSource,
    pub target: Target,
    /// Entries in write order (parents before children). Empty for `Unpack` and `Url` items,
    /// whose content is only known when applied.
    pub entries: Vec<Entry>,
    /// Owner of directories created because they were missing on the way to the target:
    /// the `--chown` user, else root (BuildKit's `MkdirAll` chowns what it creates —
    /// moby/buildkit#1941, tonistiigi/fsutil#49).
    pub parent_owner: (u32, u32),
    /// `--chmod` as written, kept for the entries only known at apply time (URLs).
    pub chmod: Option<String>,
    /// `--chown` resolved, for entries only known at apply time (archive members, URLs).
    pub chown: Option<(u32, u32)>,
    /// ADD `--checksum` for a URL item.
    pub checksum: Option<String>,
    /// ADD `--unpack=true` on a URL: extract the body if it is an archive.
    pub unpack_remote: bool,
}

/// A path written in the destination, relative to the destination root, for the layer writer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Changed {
    pub path: String,
    pub kind: ChangeKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeKind {
    /// Did not exist before.
    Added,
    /// Existed and was replaced or had its metadata changed.
    Modified,
}
