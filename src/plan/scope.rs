//! ARG/ENV scoping as BuildKit's Dockerfile front end does it: build args, predefined platform
//! and proxy args, the global (before the first FROM) scope and per-stage scopes. A pure model
//! that knows nothing of the AST: callers feed it declarations in Dockerfile order.
//!
//! What BuildKit does, and so what this implements:
//! - Global scope: starts with the predefined args ([`PREDEFINED_ARGS`], each overridable by a
//!   build arg). `ARG name[=default]`: a build arg of that name wins, else the default is
//!   expanded with what is visible so far, else nothing changes. It is what FROM lines see.
//! - A stage starts with its base image's env (plus a default `PATH` when missing). Global
//!   args are not visible until redeclared. `ARG name` (no default) takes the build arg, else
//!   the global value (global ARGs and predefined args alike), else it is declared but unset.
//!   `ARG name=default`: the build arg wins over the default.
//! - ARG values live in the same build-time environment as ENV, and the later one wins in
//!   both directions: `ENV X` after `ARG X` overrides it, and (a BuildKit quirk) `ARG X=v`
//!   after `ENV X` overrides it for expansion and RUN — the image config keeps the ENV.
//! - All pairs of one ENV instruction are expanded against the environment from before that
//!   instruction: in `ENV a=1 b=$a`, `$a` is the old `a` (unset → empty).
//! - A stage built `FROM` another stage inherits its environment, ARG values included
//!   ([`StageScope::inherit`]).
//! - Proxy build args (`HTTP_PROXY`, … matched case-insensitively, as BuildKit does) reach
//!   RUN's process environment without an ARG declaration, under both spellings; they are
//!   not visible to expansion and not part of [`StageScope::vars`] (the cache key's input) or
//!   [`StageScope::history_args`] unless declared with ARG.

use std::collections::BTreeSet;

use crate::plan::platform::Platform;
use crate::syntax::expand::{process_word, ExpandError, Expanded, Vars};

#[cfg(test)]
mod tests;

/// Args BuildKit defines in the global scope from the target and build platforms.
pub const PREDEFINED_ARGS: [&str; 11] = [
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDOSVERSION",
    "BUILDARCH",
    "BUILDVARIANT",
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETOSVERSION",
    "TARGETARCH",
    "TARGETVARIANT",
    "TARGETSTAGE",
];

/// Build args usable without an ARG declaration (they reach RUN only).
pub const PROXY_ARGS: [&str; 10] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// ARGs that configure BuildKit itself and are never put in the environment.
const NON_ENV_ARGS: [&str; 2] = ["BUILDKIT_SBOM_SCAN_CONTEXT", "BUILDKIT_SBOM_SCAN_STAGE"];

/// `PATH` given to a stage whose base image sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("invalid --build-arg {flag:?}: the name is empty")]
    EmptyBuildArgName { flag: String },
    /// Expanding `word` (an ARG default, or an ENV key or value) failed.
    #[error("cannot expand {word:?}: {source}")]
    Expand {
        word: String,
        #[source]
        source: ExpandError,
    },
}

/// An ordered name → value list; setting an existing name replaces it in place (the
/// semantics of an image config's `Env`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvList {
    pairs: Vec<(String, String)>,
}

impl EnvList {
    pub fn new() -> Self {
        Self::default()
    }

    /// From OCI config entries `NAME=VALUE` (an entry without `=` is `NAME` set to "").
    pub fn from_oci<I, S>(entries: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut list = EnvList::new();
        for e in entries {
            let (k, v) = e.as_ref().split_once('=').unwrap_or((e.as_ref(), ""));
            list.set(k, v);
        }
        list
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn set(&mut self, name: &str, value: &str) {
        match self.pairs.iter_mut().find(|(k, _)| k == name) {
            Some((_, v)) => value.clone_into(v),
            None => self.pairs.push((name.to_owned(), value.to_owned())),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// As OCI config entries `NAME=VALUE`.
    pub fn to_oci(&self) -> Vec<String> {
        self.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }
}

impl Vars for EnvList {
    fn get(&self, name: &str) -> Option<&str> {
        EnvList::get(self, name)
    }
}

/// The user's `--build-arg` flags, in order; a later flag for the same name replaces the
/// value. `--build-arg NAME` (no `=`) takes its value from the process environment when the
/// args are resolved, and is not set if that variable is absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildArgs {
    entries: Vec<(String, Option<String>)>,
}

impl BuildArgs {
    pub fn new() -> Self {
        Self::default()
    }

    /// Splits one flag value: `NAME=VALUE` or `NAME`.
    pub fn parse_flag(flag: &str) -> Result<(String, Option<String>), ScopeError> {
        let (name, value) = match flag.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (flag, None),
        };
        if name.is_empty() {
            return Err(ScopeError::EmptyBuildArgName {
                flag: flag.to_owned(),
            });
        }
        Ok((name.to_owned(), value))
    }

    pub fn from_flags<I, S>(flags: I) -> Result<Self, ScopeError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut args = BuildArgs::new();
        for f in flags {
            let (name, value) = Self::parse_flag(f.as_ref())?;
            args.insert(name, value);
        }
        Ok(args)
    }

    pub fn insert(&mut self, name: impl Into<String>, value: Option<String>) {
        let name = name.into();
        match self.entries.iter_mut().find(|(k, _)| *k == name) {
            Some((_, v)) => *v = value,
            None => self.entries.push((name, value)),
        }
    }

    /// Resolves `NAME`-only flags with `lookup` (the process environment in production).
    pub fn resolve_with(&self, lookup: impl Fn(&str) -> Option<String>) -> ResolvedBuildArgs {
        let mut values = EnvList::new();
        for (name, value) in &self.entries {
            if let Some(v) = value.clone().or_else(|| lookup(name)) {
                values.set(name, &v);
            }
        }
        ResolvedBuildArgs {
            values,
            requested: self.entries.iter().map(|(k, _)| k.clone()).collect(),
        }
    }

    /// Resolves `NAME`-only flags from this process's environment.
    pub fn resolve_from_process_env(&self) -> ResolvedBuildArgs {
        self.resolve_with(|name| std::env::var(name).ok())
    }
}

/// Build args with their values settled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedBuildArgs {
    values: EnvList,
    requested: Vec<String>,
}

impl ResolvedBuildArgs {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name)
    }

    /// Args that have a value.
    pub fn values(&self) -> &EnvList {
        &self.values
    }

    /// Every name the user passed, with or without a value.
    pub fn requested(&self) -> &[String] {
        &self.requested
    }

    /// The proxy variables BuildKit gives RUN from build args: names matched
    /// case-insensitively (the last in byte order wins), non-empty values, each exported under
    /// both its upper- and lower-case name.
    pub fn proxy_env(&self) -> Vec<(String, String)> {
        let mut keys: Vec<(&str, &str)> = self.values.iter().collect();
        keys.sort_unstable();
        let mut out = Vec::new();
        for kind in [
            "http_proxy",
            "https_proxy",
            "ftp_proxy",
            "no_proxy",
            "all_proxy",
        ] {
            let value = keys
                .iter()
                .rev()
                .find(|(k, _)| k.eq_ignore_ascii_case(kind))
                .map(|(_, v)| *v);
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                out.push((kind.to_ascii_uppercase(), v.to_owned()));
                out.push((kind.to_owned(), v.to_owned()));
            }
        }
        out
    }
}

/// Inputs of the predefined global args.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PredefinedArgs {
    pub target: Platform,
    pub build: Platform,
    /// The stage being built (`--target`, else the last stage's name, possibly empty).
    pub target_stage: String,
}

impl PredefinedArgs {
    /// Name and value of each of [`PREDEFINED_ARGS`]; variant and OS version are set but
    /// empty when the platform has none.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let (b, t) = (&self.build, &self.target);
        vec![
            ("BUILDPLATFORM", b.to_string()),
            ("BUILDOS", b.os.clone()),
            ("BUILDOSVERSION", String::new()),
            ("BUILDARCH", b.architecture.clone()),
            ("BUILDVARIANT", b.variant_str().to_owned()),
            ("TARGETPLATFORM", t.to_string()),
            ("TARGETOS", t.os.clone()),
            ("TARGETOSVERSION", String::new()),
            ("TARGETARCH", t.architecture.clone()),
            ("TARGETVARIANT", t.variant_str().to_owned()),
            ("TARGETSTAGE", self.target_stage.clone()),
        ]
    }
}

/// Where an ARG declaration got its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgSource {
    /// `--build-arg`.
    BuildArg,
    /// The declaration's default, expanded.
    Default,
    /// The global scope (a global ARG or a predefined arg).
    Global,
    /// Declared without a value.
    Unset,
}

/// The outcome of one `ARG name[=default]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    pub name: String,
    pub value: Option<String>,
    pub source: ArgSource,
    /// Variables the default referred to that were not set (for "undefined variable" lint).
    pub unmatched: BTreeSet<String>,
}

fn expand(word: &str, escape: char, env: &EnvList) -> Result<Expanded, ScopeError> {
    process_word(word, escape, env).map_err(|source| ScopeError::Expand {
        word: word.to_owned(),
        source,
    })
}

/// The scope before the first FROM: what FROM lines (image and `--platform`) see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalScope {
    escape: char,
    build_args: ResolvedBuildArgs,
    vars: EnvList,
    declared: Vec<String>,
}

impl GlobalScope {
    pub fn new(build_args: ResolvedBuildArgs, predefined: &PredefinedArgs, escape: char) -> Self {
        let mut vars = EnvList::new();
        for (name, value) in predefined.pairs() {
            vars.set(name, build_args.get(name).unwrap_or(&value));
        }
        GlobalScope {
            escape,
            build_args,
            vars,
            declared: Vec::new(),
        }
    }

    /// A global `ARG name[=default]`, in file order.
    pub fn declare_arg(
        &mut self,
        name: &str,
        default: Option<&str>,
    ) -> Result<ArgDecl, ScopeError> {
        let decl = arg_value(
            name,
            default,
            &self.build_args,
            &self.vars,
            self.vars.get(name),
            self.escape,
        )?;
        if let Some(v) = &decl.value {
            self.vars.set(name, v);
        }
        if !self.declared.iter().any(|d| d == name) {
            self.declared.push(name.to_owned());
        }
        Ok(decl)
    }

    /// Variables visible to FROM lines.
    pub fn vars(&self) -> &EnvList {
        &self.vars
    }

    pub fn build_args(&self) -> &ResolvedBuildArgs {
        &self.build_args
    }

    /// Names declared by global ARG instructions, in first-declaration order.
    pub fn declared(&self) -> &[String] {
        &self.declared
    }

    pub fn escape(&self) -> char {
        self.escape
    }
}

/// The variables of one build stage as its instructions are applied in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageScope {
    escape: char,
    build_args: ResolvedBuildArgs,
    global: EnvList,
    /// Build-time environment: base env, ENV and ARG values; what expansion and RUN see.
    env: EnvList,
    /// What the image config's Env gets: base env and ENV only.
    image_env: EnvList,
    /// ARG declarations in order, with the value each got.
    args: Vec<(String, Option<String>)>,
}

impl StageScope {
    /// A stage `FROM` an image whose config has `base_env` (`NAME=VALUE` entries).
    pub fn new<I, S>(global: &GlobalScope, base_env: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut env = EnvList::from_oci(base_env);
        if !env.contains("PATH") {
            env.set("PATH", DEFAULT_PATH);
        }
        StageScope {
            escape: global.escape,
            build_args: global.build_args.clone(),
            global: global.vars.clone(),
            image_env: env.clone(),
            env,
            args: Vec::new(),
        }
    }

    /// A stage `FROM` another stage: it continues from that stage's environment, ARG values
    /// included, as BuildKit does.
    pub fn inherit(parent: &StageScope) -> Self {
        parent.clone()
    }

    /// `ARG name[=default]` inside the stage.
    pub fn declare_arg(
        &mut self,
        name: &str,
        default: Option<&str>,
    ) -> Result<ArgDecl, ScopeError> {
        let decl = arg_value(
            name,
            default,
            &self.build_args,
            &self.env,
            self.global.get(name),
            self.escape,
        )?;
        if let Some(v) = &decl.value {
            if !NON_ENV_ARGS.contains(&name) {
                self.env.set(name, v);
            }
        }
        self.args.push((name.to_owned(), decl.value.clone()));
        Ok(decl)
    }

    /// One ENV instruction: every key and value is expanded against the environment from
    /// before the instruction, then all pairs are set in order. Returns the expanded pairs.
    pub fn apply_env<K, V>(&mut self, pairs: &[(K, V)]) -> Result<Vec<(String, String)>, ScopeError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut out = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            let key = expand(k.as_ref(), self.escape, &self.env)?.value;
            let value = expand(v.as_ref(), self.escape, &self.env)?.value;
            out.push((key, value));
        }
        for (k, v) in &out {
            self.set_env(k, v);
        }
        Ok(out)
    }

    /// Sets one already-expanded ENV variable.
    pub fn set_env(&mut self, name: &str, value: &str) {
        self.env.set(name, value);
        self.image_env.set(name, value);
    }

    /// Variables for expanding the next instruction's words (and the env part of a cache key).
    pub fn vars(&self) -> &EnvList {
        &self.env
    }

    /// Expands one word of the next instruction.
    pub fn expand(&self, word: &str) -> Result<Expanded, ExpandError> {
        process_word(word, self.escape, &self.env)
    }

    /// The image config's Env: base env plus ENV instructions (never ARGs).
    pub fn image_env(&self) -> &EnvList {
        &self.image_env
    }

    /// A RUN step's process environment: [`Self::vars`] (base env, ENV, set ARGs) followed by
    /// proxy variables from build args whose names are not already set.
    pub fn run_env(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .env
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        for (k, v) in self.build_args.proxy_env() {
            if !self.env.contains(&k) {
                out.push((k, v));
            }
        }
        out
    }

    /// The `|N NAME=VALUE …` part of a RUN history entry: declared ARGs in first-declaration
    /// order, each with its current value in the environment (an ENV set later shows through),
    /// else its declared value, else empty.
    pub fn history_args(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (name, value) in &self.args {
            let v = self
                .env
                .get(name)
                .or(value.as_deref())
                .unwrap_or("")
                .to_owned();
            match out.iter_mut().find(|(k, _)| k == name) {
                Some(slot) => slot.1 = v,
                None => out.push((name.clone(), v)),
            }
        }
        out
    }

    /// Names declared by ARG in this stage (and, after [`Self::inherit`], its parents).
    pub fn declared(&self) -> impl Iterator<Item = &str> {
        self.args.iter().map(|(k, _)| k.as_str())
    }

    pub fn escape(&self) -> char {
        self.escape
    }
}

/// Build args the user passed that no ARG (global or in the given stages) declared, for
/// Docker's "[Warning] One or more build-args … were not consumed". Proxy and predefined
/// args never count as unused. In the order the user passed them.
pub fn unused_build_args<'a>(
    args: &ResolvedBuildArgs,
    global: &GlobalScope,
    stages: impl IntoIterator<Item = &'a StageScope>,
) -> Vec<String> {
    let mut used: BTreeSet<&str> = global.declared().iter().map(String::as_str).collect();
    for s in stages {
        used.extend(s.declared());
    }
    args.requested()
        .iter()
        .filter(|n| {
            !used.contains(n.as_str())
                && !PROXY_ARGS.contains(&n.as_str())
                && !PREDEFINED_ARGS.contains(&n.as_str())
        })
        .cloned()
        .collect()
}

/// An ARG's value, by Docker's precedence: a `--build-arg` wins, then the default (expanded with
/// `vars`, the variables visible before the ARG), then `fallback` (the global ARG of that name),
/// else declared but unset.
fn arg_value(
    name: &str,
    default: Option<&str>,
    build_args: &ResolvedBuildArgs,
    vars: &EnvList,
    fallback: Option<&str>,
    escape: char,
) -> Result<ArgDecl, ScopeError> {
    let mut unmatched = BTreeSet::new();
    let (value, source) = if let Some(v) = build_args.get(name) {
        (Some(v.to_owned()), ArgSource::BuildArg)
    } else if let Some(d) = default {
        let e = expand(d, escape, vars)?;
        unmatched = e.unmatched;
        (Some(e.value), ArgSource::Default)
    } else if let Some(v) = fallback {
        (Some(v.to_owned()), ArgSource::Global)
    } else {
        (None, ArgSource::Unset)
    };
    Ok(ArgDecl {
        name: name.to_owned(),
        value,
        source,
        unmatched,
    })
}
