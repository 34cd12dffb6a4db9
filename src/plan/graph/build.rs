//! Stages → graph: pick the target, walk only the stages it needs (through FROM, `COPY
//! --from` and `--mount from=`), expanding each stage's instructions in order with its scope,
//! as `check.rs` does, and emit one node per instruction. A stage the target does not need is
//! never expanded, so its errors do not matter.

use std::collections::HashMap;

use crate::digest::CacheKey;
use crate::plan::graph::convert::{convert, mount_fields, Cfg, Prepared};
use crate::plan::graph::key::partial_key;
use crate::plan::graph::op::{CopySource, Input, MountSpec, Op};
use crate::plan::graph::{
    BuildGraph, ImageResolver, Node, NodeMeta, PlanError, PlanOptions, StageInfo,
};
use crate::plan::platform::Platform;
use crate::plan::resolve::{resolve_from, resolve_in_stage, scope_diagnostic};
use crate::plan::scope::{GlobalScope, PredefinedArgs, StageScope};
use crate::plan::stages::{split_stages, Stage, StageRef, Stages};
use crate::reference::Reference;
use crate::syntax::{lower, parse, Diagnostic, Instruction, Severity, Span, Spanned, Word};

/// A node inside its stage before global ids are assigned: (stage, position).
type Ref = (usize, usize);

struct Draft {
    op: Op,
    parent: Option<Ref>,
    key_parent: Option<Ref>,
    deps: Vec<Ref>,
    inputs: Vec<Input>,
    partial_key: CacheKey,
    line: u32,
    text: String,
    /// What progress shows instead of `text`: a FROM's expanded base, as BuildKit names it.
    label: Option<String>,
    onbuild: bool,
    history_args: Vec<(String, String)>,
}

/// An ONBUILD trigger waiting to run in a child stage.
#[derive(Clone)]
struct Trigger {
    instr: Spanned<Instruction>,
    text: String,
    /// For a store image's trigger, whose spans point into the trigger text: where its errors
    /// are reported instead (the child's FROM).
    relocate: Option<Span>,
}

struct StageOut {
    drafts: Vec<Draft>,
    scope: StageScope,
    cfg: Cfg,
    platform: Platform,
    /// ONBUILD instructions of this stage: they run in a stage built FROM it.
    triggers: Vec<Trigger>,
    last_fs: Ref,
}

struct Builder<'a> {
    source: &'a str,
    escape: char,
    stages: &'a Stages<'a>,
    global: GlobalScope,
    opts: &'a PlanOptions,
    images: &'a dyn ImageResolver,
    out: Vec<Option<StageOut>>,
    in_progress: Vec<bool>,
}

/// Plans the build of `opts.target` (default: the last stage) from the Dockerfile `source`.
pub fn plan(
    source: &str,
    opts: &PlanOptions,
    images: &dyn ImageResolver,
) -> Result<BuildGraph, PlanError> {
    let df = parse(source).map_err(|e| PlanError::Syntax(e.to_diagnostic()))?;
    let (instrs, diags) = lower(&df);
    if let Some(d) = diags.into_iter().find(|d| d.severity == Severity::Error) {
        return Err(PlanError::Syntax(d));
    }
    let stages = split_stages(&instrs).map_err(PlanError::Syntax)?;
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for s in &stages.stages {
        if let Some(name) = &s.name {
            if let Some(first) = seen.insert(name, s.name_span) {
                return Err(PlanError::Invalid(Diagnostic::error(
                    s.name_span,
                    format!(
                        "duplicate stage name {name:?}: already used on line {}",
                        first.line
                    ),
                )));
            }
        }
    }
    let target = match &opts.target {
        Some(name) => stages
            .find(name)
            .ok_or_else(|| PlanError::UnknownTarget { name: name.clone() })?,
        None => stages.stages.len() - 1,
    };
    let predefined = PredefinedArgs {
        target: opts.target_platform.clone(),
        build: opts.build_platform.clone(),
        target_stage: stages.stages[target].name.clone().unwrap_or_default(),
    };
    let mut global = GlobalScope::new(opts.build_args.clone(), &predefined, df.escape);
    for ins in &stages.global_args {
        if let Instruction::Arg(decls) = &ins.node {
            for d in decls {
                global
                    .declare_arg(&d.name.text, d.default.as_ref().map(|w| w.text.as_str()))
                    .map_err(|e| {
                        PlanError::Invalid(scope_diagnostic(
                            d.default.as_ref().unwrap_or(&d.name),
                            e,
                        ))
                    })?;
            }
        }
    }
    let n = stages.stages.len();
    let mut b = Builder {
        source,
        escape: df.escape,
        stages: &stages,
        global,
        opts,
        images,
        out: (0..n).map(|_| None).collect(),
        in_progress: vec![false; n],
    };
    b.build_stage(target, stages.stages[target].from_span)?;
    Ok(b.assemble(target))
}

/// The instruction as written, continuation lines joined and whitespace collapsed.
fn display_text(raw: &str, escape: char) -> String {
    let mut joined = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == escape {
            let mut look = chars.clone();
            while look
                .peek()
                .is_some_and(|c| *c == ' ' || *c == '\t' || *c == '\r')
            {
                look.next();
            }
            if look.peek() == Some(&'\n') {
                look.next();
                chars = look;
                joined.push(' ');
                continue;
            }
        }
        joined.push(c);
    }
    joined.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Builder<'_> {
    fn text(&self, span: Span) -> String {
        self.source
            .get(span.start..span.end)
            .map(|raw| display_text(raw, self.escape))
            .unwrap_or_default()
    }

    /// Builds stage `index` and, first, every stage it needs. `at` locates the reference that
    /// asked for it, for the cycle error.
    fn build_stage(&mut self, index: usize, at: Span) -> Result<(), PlanError> {
        if self.out[index].is_some() {
            return Ok(());
        }
        if self.in_progress[index] {
            return Err(PlanError::Cycle {
                stage: index,
                span: at,
            });
        }
        self.in_progress[index] = true;
        let stage = &self.stages.stages[index];
        let mut st = self.start_stage(stage)?;
        let triggers = std::mem::take(&mut st.triggers);
        for t in &triggers {
            self.step(stage, &mut st, &t.instr, Some(&t.text), t.instr.span.line)
                .map_err(|e| match (e, t.relocate) {
                    (PlanError::Invalid(d), Some(at)) => invalid(
                        at,
                        format!(
                            "in ONBUILD trigger {:?} of the base image: {}",
                            t.text, d.message
                        ),
                    ),
                    (e, _) => e,
                })?;
        }
        for ins in stage.instructions {
            self.step(stage, &mut st, ins, None, ins.span.line)?;
        }
        self.in_progress[index] = false;
        self.out[index] = Some(st);
        Ok(())
    }

    /// The FROM node and the stage's starting scope and config; `triggers` holds the base's
    /// ONBUILD triggers, to run first.
    fn start_stage(&mut self, stage: &Stage<'_>) -> Result<StageOut, PlanError> {
        let from = Instruction::From {
            image: stage.image.clone(),
            platform: stage.platform.cloned(),
            alias: None,
        };
        let r = resolve_from(&from, self.global.vars(), self.escape).map_err(PlanError::Invalid)?;
        let Instruction::From {
            image, platform, ..
        } = r.instruction
        else {
            unreachable!("resolve_from keeps FROM")
        };
        if image.text.is_empty() {
            return Err(invalid(
                stage.image.span,
                format!("base name ({}) should not be blank", stage.image.text),
            ));
        }
        let explicit_platform = platform.is_some();
        let mut platform = match &platform {
            Some(p) => Platform::parse(&p.text).map_err(|e| invalid(p.span, e.to_string()))?,
            None => self.opts.target_platform.clone(),
        };
        let line = stage.from_span.line;
        let text = self.text(stage.from_span);
        let reference = self
            .stages
            .resolve_from(&image.text, stage.index)
            .map_err(|e| invalid(stage.image.span, format!("FROM: {e}")))?;
        // BuildKit names the step by the base alone, its args expanded, an image normalised
        // (`docker.io/library/alpine:latest`); no --platform flag, no AS.
        let label = match Reference::parse(&image.text) {
            Ok(r) if matches!(reference, StageRef::Image) && image.text != "scratch" => {
                format!("FROM {r}")
            }
            _ => format!("FROM {}", image.text),
        };
        let (op, scope, cfg, triggers, parent, key_parent, inputs) = match reference {
            StageRef::Stage(j) => {
                self.build_stage(j, stage.image.span)?;
                let base = self.out[j].as_ref().expect("built above");
                let last = (j, base.drafts.len() - 1);
                // A stage built on a stage runs on that stage's platform unless told otherwise.
                if !explicit_platform {
                    platform = base.platform.clone();
                }
                (
                    Op::StageRef { stage: j },
                    StageScope::inherit(&base.scope),
                    base.cfg.clone(),
                    base.triggers.clone(),
                    Some(last),
                    Some(base.last_fs),
                    Vec::new(),
                )
            }
            StageRef::Image if image.text == "scratch" => (
                Op::Scratch {
                    platform: platform.to_string(),
                },
                StageScope::new(&self.global, Vec::<String>::new()),
                Cfg::new("", "", &[]),
                Vec::new(),
                None,
                None,
                Vec::new(),
            ),
            StageRef::Image => {
                if let Some(why) = self.images.platform_mismatch(&image.text, &platform) {
                    return Err(invalid(stage.image.span, why));
                }
                let base = self
                    .images
                    .resolve(&image.text, &platform)
                    .unwrap_or_default();
                let mut triggers = Vec::new();
                for t in &base.onbuild {
                    triggers.push(store_trigger(t, stage.from_span, &image.text)?);
                }
                (
                    Op::Base {
                        image: image.text.clone(),
                        platform: platform.to_string(),
                    },
                    StageScope::new(&self.global, &base.env),
                    Cfg::new(&base.user, &base.working_dir, &base.shell),
                    triggers,
                    None,
                    None,
                    vec![Input::BaseImage {
                        reference: image.text.clone(),
                        platform: platform.to_string(),
                    }],
                )
            }
        };
        let parent_key = key_parent.map(|r| self.key_of(r));
        let partial_key = partial_key(&op, parent_key.as_ref());
        Ok(StageOut {
            drafts: vec![Draft {
                op,
                parent,
                key_parent,
                deps: Vec::new(),
                inputs,
                partial_key,
                line,
                text,
                label: Some(label),
                onbuild: false,
                history_args: Vec::new(),
            }],
            scope,
            cfg,
            platform,
            triggers,
            last_fs: (stage.index, 0),
        })
    }

    fn key_of(&self, (stage, pos): Ref) -> CacheKey {
        self.out[stage]
            .as_ref()
            .expect("referenced stages are built")
            .drafts[pos]
            .partial_key
    }

    /// Resolves a `--from` value to a source, building the stage it names.
    fn source_of(
        &mut self,
        current: usize,
        word: &Word,
        what: &str,
    ) -> Result<(CopySource, Option<Ref>), PlanError> {
        if word.text.is_empty() {
            return Err(invalid(word.span, format!("{what}: the value is empty")));
        }
        match self.stages.resolve_copy_from(&word.text, current) {
            Ok(StageRef::Stage(k)) => {
                self.build_stage(k, word.span)?;
                let out = self.out[k].as_ref().expect("built above");
                Ok((CopySource::Stage(k), Some((k, out.drafts.len() - 1))))
            }
            Ok(StageRef::Image) => Ok((CopySource::Image(word.text.clone()), None)),
            Err(e) => Err(invalid(word.span, format!("{what}: {e}"))),
        }
    }

    /// Expands one instruction (of the stage, or a trigger from its base) and appends its node.
    fn step(
        &mut self,
        stage: &Stage<'_>,
        st: &mut StageOut,
        ins: &Spanned<Instruction>,
        trigger_text: Option<&str>,
        line: u32,
    ) -> Result<(), PlanError> {
        let resolved = resolve_in_stage(&ins.node, &mut st.scope).map_err(PlanError::Invalid)?;
        let mut prepared = Prepared::default();
        let mut deps = Vec::new();
        match &resolved.instruction {
            Instruction::Copy(c) | Instruction::Add(c) => {
                if let Some(from) = &c.from {
                    let (src, dep) = self.source_of(stage.index, from, "--from")?;
                    prepared.copy_from = Some(src);
                    deps.extend(dep);
                }
            }
            Instruction::Run(r) => {
                for m in &r.mounts {
                    let (kind, from) = mount_fields(&m.text);
                    let source = match (kind.as_str(), from) {
                        ("bind", None) => Some(CopySource::Context),
                        (_, Some(f)) => {
                            let w = Word {
                                text: f,
                                span: m.span,
                            };
                            let (src, dep) = self.source_of(stage.index, &w, "--mount from")?;
                            deps.extend(dep);
                            (kind == "bind").then_some(src)
                        }
                        _ => None,
                    };
                    prepared.mounts.push(MountSpec {
                        spec: m.text.clone(),
                        kind,
                        source,
                    });
                }
            }
            Instruction::Onbuild(inner) => {
                let text = self.text(inner.span);
                st.triggers.push(Trigger {
                    instr: (**inner).clone(),
                    text: text.clone(),
                    relocate: None,
                });
                prepared.onbuild_text = Some(text);
            }
            _ => {}
        }
        if let Instruction::Run(r) = &resolved.instruction {
            entitled(r, &self.opts.entitlements).map_err(PlanError::Invalid)?;
        }
        let (op, inputs) = convert(&resolved.instruction, &mut st.cfg, &st.scope, prepared)
            .map_err(PlanError::Invalid)?;
        let here = (stage.index, st.drafts.len());
        let prev = (stage.index, st.drafts.len() - 1);
        // A filesystem op chains on the last filesystem op, so config-only steps in between
        // (ENV, LABEL, …) do not bust it; a config op chains on its parent, so keys stay
        // unique along a stage.
        let key_parent = if op.touches_fs() { st.last_fs } else { prev };
        let parent_key = st.drafts[key_parent.1].partial_key;
        let partial_key = partial_key(&op, Some(&parent_key));
        if op.touches_fs() {
            st.last_fs = here;
        }
        let key_parent = Some(key_parent);
        let history_args = if matches!(op, Op::Exec(_)) {
            st.scope.history_args()
        } else {
            Vec::new()
        };
        let text = match trigger_text {
            Some(t) => t.to_owned(),
            None => self.text(ins.span),
        };
        st.drafts.push(Draft {
            op,
            parent: Some(prev),
            key_parent,
            deps,
            inputs,
            partial_key,
            line,
            text,
            label: None,
            onbuild: trigger_text.is_some(),
            history_args,
        });
        Ok(())
    }

    /// Numbers the drafts of the built stages in file order (a topological order: stages only
    /// refer to earlier ones) and labels them.
    fn assemble(self, target: usize) -> BuildGraph {
        let multi = self.stages.stages.len() > 1;
        let mut offsets = vec![0usize; self.out.len()];
        let mut next = 0;
        for (i, o) in self.out.iter().enumerate() {
            if let Some(o) = o {
                offsets[i] = next;
                next += o.drafts.len();
            }
        }
        let id = |(s, p): Ref| offsets[s] + p;
        let mut nodes = Vec::with_capacity(next);
        let mut infos = Vec::new();
        for (i, o) in self.out.into_iter().enumerate() {
            let Some(o) = o else { continue };
            let stage = &self.stages.stages[i];
            let name = stage.name.clone();
            let mut prefix = match (&name, multi) {
                (_, false) => String::new(),
                (Some(n), true) => format!("{n} "),
                (None, true) => format!("stage-{i} "),
            };
            if self.opts.prefix_platform {
                let target = &self.opts.target_platform;
                prefix = format!(
                    "{}{} {prefix}",
                    o.platform,
                    platform_arrow(&o.platform, target)
                );
            }
            let total = o.drafts.iter().filter(|d| d.op.touches_fs()).count();
            let mut n = 0;
            infos.push(StageInfo {
                index: i,
                name: name.clone(),
                platform: o.platform.to_string(),
                first: offsets[i],
                last: offsets[i] + o.drafts.len() - 1,
            });
            for d in o.drafts {
                let label = if d.op.touches_fs() {
                    n += 1;
                    format!(
                        "[{prefix}{n}/{total}] {}",
                        d.label.as_ref().unwrap_or(&d.text)
                    )
                } else {
                    format!("[{}] {}", prefix.trim_end(), d.text).replacen("[] ", "", 1)
                };
                nodes.push(Node {
                    id: nodes.len(),
                    stage: i,
                    parent: d.parent.map(id),
                    key_parent: d.key_parent.map(id),
                    deps: d.deps.into_iter().map(id).collect(),
                    op: d.op,
                    inputs: d.inputs,
                    partial_key: d.partial_key,
                    meta: NodeMeta {
                        stage_name: name.clone(),
                        label,
                        line: d.line,
                        text: d.text,
                        onbuild: d.onbuild,
                        history_args: d.history_args,
                    },
                });
            }
        }
        BuildGraph {
            target,
            stages: infos,
            nodes,
        }
    }
}

fn invalid(span: Span, message: String) -> PlanError {
    PlanError::Invalid(Diagnostic::error(span, message))
}

/// Parses one ONBUILD trigger of a store image; errors point at the child's FROM.
fn store_trigger(text: &str, from: Span, image: &str) -> Result<Trigger, PlanError> {
    let fail = |msg: String| invalid(from, format!("ONBUILD trigger {text:?} of {image}: {msg}"));
    let df = parse(text).map_err(|e| fail(e.to_diagnostic().message))?;
    let (mut instrs, diags) = lower(&df);
    if let Some(d) = diags.into_iter().find(|d| d.severity == Severity::Error) {
        return Err(fail(d.message));
    }
    if instrs.len() != 1 {
        return Err(fail("expected exactly one instruction".into()));
    }
    let mut instr = instrs.remove(0);
    // The trigger's own spans point into its text, not the Dockerfile: use the FROM line.
    instr.span = from;
    if matches!(
        instr.node,
        Instruction::From { .. } | Instruction::Onbuild(_)
    ) {
        return Err(fail(format!(
            "{} isn't allowed as an ONBUILD trigger",
            instr.node.name()
        )));
    }
    Ok(Trigger {
        instr,
        text: display_text(text, '\\'),
        relocate: Some(from),
    })
}

/// BuildKit's entitlements: `RUN --network=host` needs `--allow network.host` and
/// `RUN --security=insecure` needs `--allow security.insecure`, or the plan fails at the flag.
fn entitled(r: &crate::syntax::ast::Run, allowed: &[String]) -> Result<(), Diagnostic> {
    let flags = [
        (&r.network, "host", "network.host"),
        (&r.security, "insecure", "security.insecure"),
    ];
    for (flag, value, entitlement) in flags {
        if let Some(w) = flag.as_ref().filter(|w| w.text == value) {
            if !allowed.iter().any(|a| a == entitlement) {
                return Err(Diagnostic::error(
                    w.span,
                    format!(
                        "{entitlement} is not allowed: RUN asks for {value}; \
                         build with --allow {entitlement} to grant it"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// BuildKit's mark on a stage that runs on another platform than the one it builds for
/// (`FROM --platform=$BUILDPLATFORM`): `->arm64`, `->arm64/v8`, or the whole target when the
/// OS differs; empty when they agree.
pub(super) fn platform_arrow(stage: &Platform, target: &Platform) -> String {
    let variant = target
        .variant
        .as_deref()
        .map(|v| format!("/{v}"))
        .unwrap_or_default();
    if stage.os != target.os {
        format!("->{target}")
    } else if stage.architecture != target.architecture {
        format!("->{}{variant}", target.architecture)
    } else if stage.variant != target.variant {
        format!("->{}", target.variant.as_deref().unwrap_or_default())
    } else {
        String::new()
    }
}
