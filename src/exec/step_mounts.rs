//! RUN `--mount`s turned into sandbox mounts: bind mounts of the context or of another stage's
//! or image's files (with the input digest their key needs), persistent cache directories,
//! tmpfs, and secrets (a file the sandbox binds, see `secret_file`, or an env variable).
//! Everything here lives only as long as the step: guards unmount and delete on drop.

use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::StepError;
use super::remote_cache::input_memo_key;
use super::rootfs::{mount_view, mount_writable, step_dir};
use super::secret_file::SecretFile;
use super::step_copy::{self, CopyFrom};
use super::steps::Executor;
use crate::digest::CacheKey;
use crate::exec::mounts::{acquire, parse_mount, RunMount, Secrets};
use crate::plan::graph::{CopyOp, CopySource, ExecOp, Input, InputDigest, Node};
use crate::sandbox::Mount;

/// Where a bind mount's files are on the host, and what keeps them there.
pub struct BindSource {
    pub host_root: PathBuf,
    /// The context (for hashing through the stat cache) or a mounted view.
    context: bool,
    _guards: Vec<Box<dyn Any + Send>>,
}

/// The mounts of one RUN, ready for the sandbox.
#[derive(Default)]
pub struct PreparedMounts {
    pub mounts: Vec<Mount>,
    /// Secrets exposed as environment variables (never logged, never keyed).
    pub env: Vec<(String, String)>,
    secrets: Vec<SecretFile>,
    _guards: Vec<Box<dyn Any + Send>>,
}

impl PreparedMounts {
    /// The sandbox has made its mounts (its command runs): the secrets' files leave the host,
    /// living on only in the sandbox's mount namespace.
    pub fn sandbox_started(&self) {
        for s in &self.secrets {
            s.withdraw();
        }
    }
}

fn absolute(target: &str, workdir: &str) -> PathBuf {
    if target.starts_with('/') {
        PathBuf::from(target)
    } else {
        Path::new(if workdir.is_empty() { "/" } else { workdir }).join(target)
    }
}

impl Executor<'_> {
    /// The host directory behind each bind mount with a source (`None` for other mounts).
    pub fn bind_sources(
        &self,
        node: &Node,
        op: &ExecOp,
    ) -> Result<Vec<Option<BindSource>>, StepError> {
        let mut out = Vec::with_capacity(op.mounts.len());
        for m in &op.mounts {
            let Some(source) = &m.source else {
                out.push(None);
                continue;
            };
            out.push(Some(match source {
                CopySource::Context => BindSource {
                    host_root: self
                        .context
                        .expect("a bind of the context walks it")
                        .tree
                        .root()
                        .to_path_buf(),
                    context: true,
                    _guards: Vec::new(),
                },
                CopySource::Stage(i) => {
                    let st = self.stage_result(*i)?;
                    self.view_of(&self.lowerdirs(&st)?)?
                }
                CopySource::Image(r) => {
                    let st = self.base(node, r)?;
                    self.view_of(&self.lowerdirs(&st)?)?
                }
            }));
        }
        Ok(out)
    }

    fn view_of(&self, lowers: &[PathBuf]) -> Result<BindSource, StepError> {
        let dir = step_dir(self.store, "view")?;
        let (m, path) = mount_view(dir.path(), lowers)?;
        let mut guards: Vec<Box<dyn Any + Send>> = Vec::new();
        // The mount goes before its directory.
        if let Some(m) = m {
            guards.push(Box::new(m));
        }
        guards.push(Box::new(dir));
        Ok(BindSource {
            host_root: path,
            context: false,
            _guards: guards,
        })
    }

    /// The memo key of a RUN mount's files: `None` for the context (hashed through its stat
    /// cache anyway).
    pub(super) fn mount_memo_key(
        &self,
        node: &Node,
        index: usize,
        source: &CopySource,
    ) -> Result<Option<CacheKey>, StepError> {
        let src = match source {
            CopySource::Context => return Ok(None),
            CopySource::Stage(i) => self.stage_result(*i)?,
            CopySource::Image(r) => Arc::new(self.base(node, r)?),
        };
        Ok(Some(input_memo_key(&src.layers, &node.partial_key, index)))
    }

    /// Every keyed mount's input digest, when all are remembered.
    pub(super) fn remembered_mount_inputs(
        &self,
        node: &Node,
    ) -> Result<Option<Vec<InputDigest>>, StepError> {
        let mut out = Vec::with_capacity(node.inputs.len());
        for i in &node.inputs {
            let Input::MountFiles { index, source } = i else {
                return Ok(None);
            };
            let Some(k) = self.mount_memo_key(node, *index, source)? else {
                return Ok(None);
            };
            match self.input_memo_get(&k) {
                Some(d) => out.push(d),
                None => return Ok(None),
            }
        }
        Ok(Some(out))
    }

    /// The key input of the `index`th mount: its files as a COPY of `source` would see them.
    pub fn mount_digest(
        &self,
        op: &ExecOp,
        index: usize,
        src: &BindSource,
    ) -> Result<InputDigest, StepError> {
        let RunMount::Bind(b) = parse_mount(&op.mounts[index].spec)? else {
            return Err(StepError::Unsupported(
                "only bind mounts have files to key".into(),
            ));
        };
        let copy = CopyOp {
            add: false,
            from: CopySource::Context,
            sources: vec![b.source.clone()],
            dest: "/mnt/".into(),
            chown: None,
            chmod: None,
            link: false,
            parents: false,
            exclude: Vec::new(),
            checksum: None,
            keep_git_dir: None,
            unpack: None,
            heredocs: Vec::new(),
        };
        let from = if src.context {
            CopyFrom::Context(self.context.expect("context walked"))
        } else {
            CopyFrom::Dir(src.host_root.clone())
        };
        Ok(step_copy::input_digest(&copy, &from)?.digest)
    }

    /// The sandbox mounts for `op`, set up under the step directory `dir`.
    pub fn prepare_mounts(
        &self,
        op: &ExecOp,
        sources: &[Option<BindSource>],
        dir: &Path,
        secrets: Option<&Secrets>,
    ) -> Result<PreparedMounts, StepError> {
        let mut out = PreparedMounts::default();
        for (i, spec) in op.mounts.iter().enumerate() {
            match parse_mount(&spec.spec)? {
                RunMount::Bind(b) => {
                    let src = sources[i].as_ref().expect("bind sources were resolved");
                    let inner = b.source.trim_start_matches('/');
                    let host = crate::util::safe_path::resolve(
                        &src.host_root,
                        Path::new(inner),
                        crate::util::safe_path::OnEscape::Clamp,
                        true,
                    )
                    .map_err(|e| {
                        StepError::Invalid(format!("--mount source {:?}: {e}", b.source))
                    })?;
                    let host = if b.readwrite {
                        // Writes go to a throwaway upperdir: "rw" changes are discarded.
                        let sub = dir.join(format!("bind{i}"));
                        std::fs::create_dir(&sub).map_err(StepError::io("create", &sub))?;
                        let (m, _) = mount_writable(&sub, &[host])?;
                        let p = m.path().to_path_buf();
                        out._guards.push(Box::new(m));
                        p
                    } else {
                        host
                    };
                    out.mounts.push(Mount::Bind {
                        source: host,
                        target: absolute(&b.target, &op.workdir),
                        readonly: !b.readwrite,
                    });
                }
                RunMount::Cache(c) => {
                    let guard = acquire(self.store.root(), &c)?;
                    out.mounts.push(Mount::Bind {
                        source: guard.path().to_path_buf(),
                        target: absolute(&c.target, &op.workdir),
                        readonly: c.readonly,
                    });
                    out._guards.push(Box::new(guard));
                }
                RunMount::Tmpfs(t) => out.mounts.push(Mount::Tmpfs {
                    target: absolute(&t.target, &op.workdir),
                    size_bytes: t.size,
                }),
                RunMount::Secret(s) => {
                    let value = match secrets.map(|all| all.get(&s.id)).transpose()?.flatten() {
                        Some(v) => v,
                        None if s.required => {
                            return Err(StepError::Invalid(format!(
                                "secret {:?} is required but was not given (--secret id={},src=…)",
                                s.id, s.id
                            )))
                        }
                        None => continue,
                    };
                    if let Some(var) = &s.env {
                        out.env.push((
                            var.clone(),
                            String::from_utf8_lossy(value.as_bytes()).into_owned(),
                        ));
                    }
                    if s.env.is_none() || s.target.is_some() {
                        let target = s
                            .target
                            .clone()
                            .unwrap_or_else(|| format!("/run/secrets/{}", s.id));
                        let file = SecretFile::write(
                            &self.store.tmp_dir(),
                            value.as_bytes(),
                            s.mode,
                            s.uid,
                            s.gid,
                        )?;
                        out.mounts.push(Mount::Bind {
                            source: file.path().to_path_buf(),
                            target: absolute(&target, &op.workdir),
                            readonly: true,
                        });
                        out.secrets.push(file);
                    }
                }
                RunMount::Ssh(_) => {
                    return Err(StepError::Unsupported(
                        "RUN --mount=type=ssh is not supported".into(),
                    ))
                }
            }
        }
        Ok(out)
    }
}
