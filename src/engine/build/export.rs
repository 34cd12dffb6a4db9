//! Exporting a built image besides the store (`--output`): what the user asked for as a typed
//! [`Output`], and writing it: an oci-archive or OCI layout directory, a docker-archive, or
//! the final rootfs as a directory or a tar. Files and
//! directories are made under a temp name next to the destination and renamed into place, so a
//! failed export leaves nothing half-written. A multi-platform image exports whole: its index
//! in the OCI kinds, one directory per platform in the rootfs kinds.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::plan::platform::Platform;
use crate::reference::Reference;
use crate::snapshot::unpack::{decompress, unpack_layer_with, UnpackOptions, WhiteoutMode};
use crate::snapshot::{write_dir_layer, Compression, LayerError, LayerOptions, UnpackError};
use crate::store::archive::{self, ArchiveError, SaveFormat, SaveItem};
use crate::store::image::Image;
use crate::store::{digest_of, Store, StoreError};
use crate::util::safe_path::OnEscape;

/// Where an `--output` goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dest {
    Path(PathBuf),
    /// `dest=-`: stdout, for the stream kinds.
    Stdout,
}

/// What `--output` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// `type=image` (the default: the store) or `type=registry` (push as well).
    Image { push: bool, names: Vec<String> },
    Export {
        kind: ExportKind,
        dest: Dest,
        names: Vec<String>,
    },
}

impl Output {
    pub fn pushes(&self) -> bool {
        matches!(self, Output::Image { push: true, .. })
    }

    /// Whether the export goes to stdout (which then carries nothing else).
    pub fn to_stdout(&self) -> bool {
        matches!(
            self,
            Output::Export {
                dest: Dest::Stdout,
                ..
            }
        )
    }

    /// Names from `name=`, recorded in the image store or the archive besides the `-t` tags.
    pub fn names(&self) -> &[String] {
        match self {
            Output::Image { names, .. } | Output::Export { names, .. } => names,
        }
    }
}

/// The names an export records: the build's tags, then each `name=` not among them.
pub fn export_names(tags: &[Reference], names: &[String]) -> Result<Vec<Reference>, ExportError> {
    let mut all = tags.to_vec();
    for n in names {
        let r = Reference::parse(n).map_err(|e| ExportError::BadName {
            name: n.clone(),
            message: e.to_string(),
        })?;
        if !all.contains(&r) {
            all.push(r);
        }
    }
    Ok(all)
}

/// What `--output` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    /// `type=oci`: a tar of an OCI image layout.
    OciArchive,
    /// `type=oci,tar=false`: an OCI image layout directory.
    OciLayout,
    /// `type=docker`: a docker-archive, as `docker save` writes it.
    DockerArchive,
    /// `type=local`: the final rootfs as a directory.
    Rootfs,
    /// `type=tar`: the final rootfs as a tar.
    RootfsTar,
}

impl ExportKind {
    /// Whether the result is one stream (so it can go to stdout).
    pub fn is_stream(self) -> bool {
        !matches!(self, ExportKind::OciLayout | ExportKind::Rootfs)
    }
}

/// Why an export failed; each variant names the path or layer at fault.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path} exists and is not an empty directory")]
    NotEmpty { path: PathBuf },
    #[error("this output is a directory, it cannot be written to a stream")]
    NotAStream,
    #[error("invalid name {name:?}: {message}")]
    BadName { name: String, message: String },
    #[error("unpacking layer {layer}")]
    Unpack {
        layer: String,
        #[source]
        source: UnpackError,
    },
    #[error("writing the rootfs tar")]
    Tar(#[source] LayerError),
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> ExportError {
    let path = path.to_path_buf();
    move |source| ExportError::Io { op, path, source }
}

/// Writes a stream kind of export of `image` to `out`; `names` are recorded in archives;
/// `epoch` clamps the mtimes of a rootfs tar (as it clamps new layers).
pub fn export_to_writer(
    store: &Store,
    image: &Image,
    names: &[Reference],
    kind: ExportKind,
    epoch: Option<i64>,
    out: &mut dyn Write,
) -> Result<(), ExportError> {
    let items = || {
        vec![SaveItem {
            image: image.clone(),
            tags: names.to_vec(),
        }]
    };
    match kind {
        ExportKind::OciArchive => archive::save(store, &items(), SaveFormat::Oci, out)?,
        ExportKind::DockerArchive => archive::save(store, &items(), SaveFormat::Docker, out)?,
        ExportKind::RootfsTar => {
            let tmp = store.temp_dir()?;
            let root = tmp.path().join("rootfs");
            unpack_rootfs_per_platform(store, image, &root)?;
            let opts = LayerOptions {
                compression: Compression::None,
                source_date_epoch: epoch,
            };
            write_dir_layer(&root, &opts, out).map_err(ExportError::Tar)?;
        }
        ExportKind::OciLayout | ExportKind::Rootfs => return Err(ExportError::NotAStream),
    }
    Ok(())
}

/// Writes the export of `image` to `dest`: a file for stream kinds, a directory otherwise (a
/// layout directory must not exist or be empty; a rootfs directory may hold files already:
/// the rootfs is merged in, replacing files of the same name).
pub fn export_to_path(
    store: &Store,
    image: &Image,
    names: &[Reference],
    kind: ExportKind,
    epoch: Option<i64>,
    dest: &Path,
) -> Result<(), ExportError> {
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(io_err("create", &parent))?;
    if kind.is_stream() {
        let tmp = tempfile::Builder::new()
            .prefix(".strata-output-")
            .tempfile_in(&parent)
            .map_err(io_err("create a temp file in", &parent))?;
        let mut w = BufWriter::new(tmp);
        export_to_writer(store, image, names, kind, epoch, &mut w)?;
        let tmp = w
            .into_inner()
            .map_err(|e| io_err("write", dest)(e.into_error()))?;
        tmp.as_file().sync_all().map_err(io_err("sync", dest))?;
        tmp.persist(dest)
            .map_err(|e| io_err("rename into", dest)(e.error))?;
        return Ok(());
    }
    let tmp = tempfile::Builder::new()
        .prefix(".strata-output-")
        .tempdir_in(&parent)
        .map_err(io_err("create a temp dir in", &parent))?;
    let made = tmp.path().join("out");
    match kind {
        ExportKind::OciLayout => {
            let file = tmp.path().join("layout.tar");
            let mut w = BufWriter::new(File::create(&file).map_err(io_err("create", &file))?);
            export_to_writer(store, image, names, ExportKind::OciArchive, epoch, &mut w)?;
            w.flush().map_err(io_err("write", &file))?;
            drop(w);
            fs::create_dir(&made).map_err(io_err("create", &made))?;
            let f = File::open(&file).map_err(io_err("open", &file))?;
            tar::Archive::new(f)
                .unpack(&made)
                .map_err(io_err("unpack the layout into", &made))?;
            replace_empty_dir(&made, dest)?;
        }
        ExportKind::Rootfs => {
            unpack_rootfs_per_platform(store, image, &made)?;
            if is_empty_or_missing(dest)? {
                replace_empty_dir(&made, dest)?;
            } else {
                merge_into(&made, dest)?;
            }
        }
        _ => unreachable!("stream kinds returned above"),
    }
    Ok(())
}

/// The rootfs of `image` unpacked into `root`; for a multi-platform image, each platform's
/// under `root/<os>_<arch>[_<variant>]`, the directory names BuildKit's local and tar
/// exporters give them.
fn unpack_rootfs_per_platform(
    store: &Store,
    image: &Image,
    root: &Path,
) -> Result<(), ExportError> {
    let Some(index) = &image.index else {
        return unpack_rootfs(store, image, root);
    };
    fs::create_dir(root).map_err(io_err("create", root))?;
    let index_digest = index.digest()?.to_string();
    for m in &index.manifests {
        let Some(p) = m.platform() else { continue };
        let platform = Platform::new(
            &p.os().to_string(),
            &p.architecture().to_string(),
            p.variant().as_deref(),
        );
        let child = store.resolve_platform(&index_digest, Some(&platform))?;
        unpack_rootfs(store, &child, &root.join(platform_dir(&platform)))?;
    }
    Ok(())
}

/// BuildKit's directory name for a platform's output: its `os/arch[/variant]` with `_`.
pub fn platform_dir(p: &Platform) -> String {
    p.to_string().replace('/', "_")
}

/// Unpacks every layer of `image`, bottom first, into `root` (created here) as one flattened
/// tree: whiteouts delete, symlinks resolve as under a chroot.
pub fn unpack_rootfs(store: &Store, image: &Image, root: &Path) -> Result<(), ExportError> {
    fs::create_dir(root).map_err(io_err("create", root))?;
    let opts = UnpackOptions {
        whiteouts: WhiteoutMode::Delete,
        symlinks: OnEscape::Clamp,
    };
    for l in image.layers() {
        let d = digest_of(l.digest())?;
        let blob = store.open_blob(&d)?;
        let unpack_err = |source| ExportError::Unpack {
            layer: d.to_string(),
            source,
        };
        let mut tar = decompress(Box::new(io::BufReader::new(blob)))
            .map_err(|e| unpack_err(UnpackError::Read(e)))?;
        unpack_layer_with(&mut tar, root, &opts).map_err(unpack_err)?;
    }
    Ok(())
}

fn is_empty_or_missing(dest: &Path) -> Result<bool, ExportError> {
    match fs::read_dir(dest) {
        Ok(mut d) => Ok(d.next().is_none()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(io_err("read", dest)(e)),
    }
}

/// Renames `made` to `dest`, which must be missing or an empty directory.
fn replace_empty_dir(made: &Path, dest: &Path) -> Result<(), ExportError> {
    if !is_empty_or_missing(dest)? {
        return Err(ExportError::NotEmpty {
            path: dest.to_path_buf(),
        });
    }
    if dest.exists() {
        fs::remove_dir(dest).map_err(io_err("remove", dest))?;
    }
    fs::rename(made, dest).map_err(io_err("rename into", dest))
}

/// Moves the tree `made` into the existing directory `dest` as Docker's local exporter writes
/// into one: directories merge, anything else of the same name is replaced, and what only
/// `dest` has stays.
fn merge_into(made: &Path, dest: &Path) -> Result<(), ExportError> {
    for e in fs::read_dir(made).map_err(io_err("read", made))? {
        let e = e.map_err(io_err("read", made))?;
        let from = e.path();
        let target = dest.join(e.file_name());
        let from_md = fs::symlink_metadata(&from).map_err(io_err("lstat", &from))?;
        match fs::symlink_metadata(&target) {
            Ok(md) if md.is_dir() && from_md.is_dir() => {
                merge_into(&from, &target)?;
                copy_dir_meta(&from_md, &target)?;
                continue;
            }
            Ok(md) if md.is_dir() => {
                fs::remove_dir_all(&target).map_err(io_err("remove", &target))?
            }
            Ok(_) => fs::remove_file(&target).map_err(io_err("remove", &target))?,
            Err(_) => {}
        }
        fs::rename(&from, &target).map_err(io_err("rename into", &target))?;
    }
    Ok(())
}

/// Gives the merged directory `target` the owner, mode and mtime the rootfs has for it.
fn copy_dir_meta(md: &fs::Metadata, target: &Path) -> Result<(), ExportError> {
    use std::os::unix::fs::MetadataExt;
    std::os::unix::fs::chown(target, Some(md.uid()), Some(md.gid()))
        .map_err(io_err("chown", target))?;
    fs::set_permissions(target, fs::Permissions::from_mode(md.mode() & 0o7777))
        .map_err(io_err("chmod", target))?;
    let mtime = md.modified().map_err(io_err("stat", target))?;
    File::open(target)
        .and_then(|f| f.set_modified(mtime))
        .map_err(io_err("set the mtime of", target))
}
