//! One expanded instruction → one `Op` (plus the inputs its final key waits on), given the
//! stage's current SHELL, USER and WORKDIR and the already resolved `--from` sources.

use crate::plan::graph::op::{
    Command, ConfigChange, CopyOp, CopySource, ExecOp, HealthcheckConfig, HeredocData, Input,
    MountSpec, Op, DEFAULT_SHELL,
};
use crate::plan::resolve::expand_diagnostic;
use crate::plan::scope::StageScope;
use crate::syntax::expand::expand_heredoc_body;
use crate::syntax::heredoc::chomp;
use crate::syntax::{Diagnostic, Healthcheck, Heredoc, Instruction, ShellOrExec, Word};

/// The config state later instructions depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Cfg {
    pub user: String,
    pub workdir: String,
    pub shell: Vec<String>,
}

impl Cfg {
    pub fn new(user: &str, workdir: &str, shell: &[String]) -> Self {
        Cfg {
            user: user.to_owned(),
            workdir: if workdir.is_empty() {
                "/".to_owned()
            } else {
                workdir.to_owned()
            },
            shell: if shell.is_empty() {
                DEFAULT_SHELL.iter().map(|s| s.to_string()).collect()
            } else {
                shell.to_vec()
            },
        }
    }
}

/// `--from` of a COPY/ADD and the bind mounts of a RUN, resolved by the caller (which knows
/// the stages). `onbuild_text` is the trigger of an ONBUILD instruction, as written.
#[derive(Debug, Default)]
pub(super) struct Prepared {
    pub copy_from: Option<CopySource>,
    pub mounts: Vec<MountSpec>,
    pub onbuild_text: Option<String>,
}

/// `type=` and `from=` of a `--mount` value (comma-separated `key=value` fields).
pub(super) fn mount_fields(spec: &str) -> (String, Option<String>) {
    let mut kind = "bind".to_owned();
    let mut from = None;
    for f in spec.split(',') {
        if let Some((k, v)) = f.split_once('=') {
            match k.trim().to_ascii_lowercase().as_str() {
                "type" => kind = v.trim().to_ascii_lowercase(),
                "from" => from = Some(v.trim().to_owned()),
                _ => {}
            }
        }
    }
    (kind, from)
}

fn texts(ws: &[Word]) -> Vec<String> {
    ws.iter().map(|w| w.text.clone()).collect()
}

fn command(c: &ShellOrExec) -> Command {
    match c {
        ShellOrExec::Shell(w) => Command::Shell(w.text.clone()),
        ShellOrExec::Exec(ws) => Command::Exec(texts(ws)),
    }
}

/// Lexical clean of an absolute path (`.`/`..`/duplicate slashes), as Go's `path.Clean`.
fn clean_abs(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// A relative COPY/ADD destination made absolute against the workdir, as BuildKit does: a trailing
/// slash (and `.` or an empty dest) means "into this directory" and is kept.
pub(super) fn copy_dest(workdir: &str, dest: &str) -> String {
    if dest.starts_with('/') {
        // BuildKit keeps an absolute dest as written (`..` is resolved in the rootfs later).
        return dest.to_owned();
    }
    let into_dir = dest.is_empty() || dest == "." || dest.ends_with('/');
    let mut out = join_workdir(workdir, dest);
    if into_dir && !out.ends_with('/') {
        out.push('/');
    }
    out
}

/// WORKDIR `requested` seen with the current workdir `current`.
pub(super) fn join_workdir(current: &str, requested: &str) -> String {
    if requested.starts_with('/') {
        clean_abs(requested)
    } else {
        clean_abs(&format!("{current}/{requested}"))
    }
}

fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://") || s.starts_with("git@")
}

fn heredoc(h: &Heredoc, scope: Option<&StageScope>) -> Result<HeredocData, Diagnostic> {
    let mut content = if h.chomp {
        chomp(&h.content)
    } else {
        h.content.clone()
    };
    if let (true, Some(scope)) = (h.expand, scope) {
        content = expand_heredoc_body(&content, scope.vars())
            .map_err(|e| {
                let w = Word {
                    text: h.name.clone(),
                    span: h.span,
                };
                expand_diagnostic(&w, &e)
            })?
            .value;
    }
    Ok(HeredocData {
        name: h.name.clone(),
        fd: h.fd,
        expand: h.expand,
        content,
    })
}

/// Converts one expanded instruction (never FROM) and updates `cfg` for USER, WORKDIR and
/// SHELL. `scope` is the stage scope after the instruction was applied.
pub(super) fn convert(
    ins: &Instruction,
    cfg: &mut Cfg,
    scope: &StageScope,
    prepared: Prepared,
) -> Result<(Op, Vec<Input>), Diagnostic> {
    let config = |change| Op::Config { change };
    let pairs = |kvs: &[crate::syntax::KeyValue]| -> Vec<(String, String)> {
        kvs.iter()
            .map(|kv| (kv.key.text.clone(), kv.value.text.clone()))
            .collect()
    };
    let op = match ins {
        Instruction::Run(r) => {
            let env: Vec<(String, String)> = scope
                .vars()
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            let proxy_env = scope.run_env().split_off(env.len());
            let inputs = prepared
                .mounts
                .iter()
                .enumerate()
                .filter_map(|(index, m)| {
                    m.source
                        .clone()
                        .map(|source| Input::MountFiles { index, source })
                })
                .collect();
            let heredocs = r
                .heredocs
                .iter()
                .map(|h| heredoc(h, None))
                .collect::<Result<_, _>>()?;
            let op = Op::Exec(ExecOp {
                command: command(&r.command),
                shell: cfg.shell.clone(),
                env,
                proxy_env,
                user: cfg.user.clone(),
                workdir: cfg.workdir.clone(),
                mounts: prepared.mounts,
                network: r.network.as_ref().map(|w| w.text.clone()),
                security: r.security.as_ref().map(|w| w.text.clone()),
                heredocs,
            });
            return Ok((op, inputs));
        }
        Instruction::Copy(c) | Instruction::Add(c) => {
            let from = prepared.copy_from.unwrap_or(CopySource::Context);
            let add = matches!(ins, Instruction::Add(_));
            let sources = texts(&c.sources);
            let mut inputs = Vec::new();
            if sources.iter().any(|s| !(add && is_url(s))) {
                inputs.push(Input::CopyFiles {
                    source: from.clone(),
                });
            }
            if add {
                inputs.extend(
                    sources
                        .iter()
                        .filter(|s| is_url(s))
                        .map(|url| Input::Url { url: url.clone() }),
                );
            }
            let heredocs = c
                .heredocs
                .iter()
                .map(|h| heredoc(h, Some(scope)))
                .collect::<Result<_, _>>()?;
            let op = Op::Copy(CopyOp {
                add,
                from,
                sources,
                dest: copy_dest(&cfg.workdir, &c.dest.text),
                chown: c.chown.as_ref().map(|w| w.text.clone()),
                chmod: c.chmod.as_ref().map(|w| w.text.clone()),
                link: c.link,
                parents: c.parents,
                exclude: texts(&c.exclude),
                checksum: c.checksum.as_ref().map(|w| w.text.clone()),
                keep_git_dir: c.keep_git_dir,
                unpack: c.unpack,
                heredocs,
            });
            return Ok((op, inputs));
        }
        Instruction::Cmd(c) => config(ConfigChange::Cmd(command(c).argv(&cfg.shell))),
        Instruction::Entrypoint(c) => config(ConfigChange::Entrypoint(command(c).argv(&cfg.shell))),
        Instruction::Shell(ws) => {
            cfg.shell = texts(ws);
            config(ConfigChange::Shell(cfg.shell.clone()))
        }
        Instruction::Label(kvs) => config(ConfigChange::Label(pairs(kvs))),
        Instruction::Env(kvs) => config(ConfigChange::Env(pairs(kvs))),
        Instruction::Maintainer(w) => config(ConfigChange::Maintainer(w.text.clone())),
        Instruction::Expose(ws) => config(ConfigChange::Expose(texts(ws))),
        Instruction::Volume(ws) => config(ConfigChange::Volume(texts(ws))),
        Instruction::User(w) => {
            cfg.user = w.text.clone();
            config(ConfigChange::User(cfg.user.clone()))
        }
        Instruction::Workdir(w) => {
            cfg.workdir = join_workdir(&cfg.workdir, &w.text);
            config(ConfigChange::Workdir {
                path: cfg.workdir.clone(),
                mkdir: true,
                user: cfg.user.clone(),
            })
        }
        Instruction::Arg(decls) => config(ConfigChange::Arg(
            decls
                .iter()
                .map(|d| {
                    let v = scope.vars().get(&d.name.text).map(str::to_owned);
                    (d.name.text.clone(), v)
                })
                .collect(),
        )),
        Instruction::Onbuild(_) => config(ConfigChange::Onbuild(
            prepared.onbuild_text.unwrap_or_default(),
        )),
        Instruction::StopSignal(w) => config(ConfigChange::StopSignal(w.text.clone())),
        Instruction::Healthcheck(h) => config(ConfigChange::Healthcheck(match h {
            Healthcheck::None => HealthcheckConfig {
                test: vec!["NONE".into()],
                options: Default::default(),
            },
            Healthcheck::Cmd { options, command } => HealthcheckConfig {
                test: match command {
                    ShellOrExec::Shell(w) => vec!["CMD-SHELL".into(), w.text.clone()],
                    ShellOrExec::Exec(ws) => {
                        std::iter::once("CMD".to_owned()).chain(texts(ws)).collect()
                    }
                },
                options: options.clone(),
            },
        })),
        Instruction::From { .. } => unreachable!("FROM starts a stage and is never converted"),
    };
    Ok((op, Vec::new()))
}
