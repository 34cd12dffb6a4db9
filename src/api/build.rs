//! `POST /build` (the classic builder's protocol: a tar context body, options in the query,
//! progress streamed as `{"stream": …}` lines) and `POST /build/prune`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{self, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use bollard_stubs::models::BuildPruneResponse;
use serde_json::json;

use super::body_reader::body_reader;
use super::build_progress::Classic;
use super::error::{chain, ApiError};
use super::query::{bool_param, filters, first_values, Params};
use super::{blocking, registry_auth, stream, State};
use crate::engine::build::prune::{parse_duration, BuildPruneRequest};
use crate::engine::build::{
    self, BuildError, BuildHooks, BuildRequest, Dockerfile, PullPolicy, RunDefaults,
};
use crate::engine::context_mirror;
use crate::engine::context_source::{self, ContextArg, ContextError, Materialized};
use crate::engine::context_tar::TarError;
use crate::exec::{ExecError, StepError};
use crate::plan::platform::Platform;
use crate::plan::scope::BuildArgs;
use crate::reference::Reference;
use crate::util::safe_path::{resolve, OnEscape};

/// How much of a request body after its context's end-of-archive is read before answering.
const DRAIN_LIMIT: u64 = 1 << 20;

/// The query of `POST /build`, checked before the body is read.
#[derive(Debug, Default, PartialEq)]
pub struct BuildParams {
    pub dockerfile: String,
    pub tags: Vec<Reference>,
    pub build_args: Vec<(String, Option<String>)>,
    pub labels: Vec<(String, String)>,
    pub target: Option<String>,
    pub no_cache: bool,
    pub pull: bool,
    pub quiet: bool,
    pub platform: Option<Platform>,
    pub cache_from: Vec<String>,
    pub remote: Option<String>,
    pub run_defaults: RunDefaults,
}

fn json_param<T: serde::de::DeserializeOwned>(
    params: &Params,
    key: &str,
) -> Result<Option<T>, ApiError> {
    match params.get(key).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => serde_json::from_str(v)
            .map(Some)
            .map_err(|e| ApiError::bad_request(format!("invalid {key} value {v:?}: {e}"))),
    }
}

impl BuildParams {
    pub fn parse(pairs: &[(String, String)]) -> Result<BuildParams, ApiError> {
        let params: Params = first_values(pairs);
        let tags = pairs
            .iter()
            .filter(|(k, v)| k == "t" && !v.is_empty())
            .map(|(_, t)| {
                Reference::parse(t).map_err(|e| {
                    ApiError::bad_request(format!("invalid reference format: {t:?}: {e}"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(t) = tags.iter().find(|t| t.digest().is_some()) {
            return Err(ApiError::bad_request(format!(
                "refusing to create a tag with a digest reference: {:?}",
                t.familiar_string()
            )));
        }
        let mut build_args: Vec<(String, Option<String>)> =
            json_param::<HashMap<String, Option<String>>>(&params, "buildargs")?
                .unwrap_or_default()
                .into_iter()
                .collect();
        build_args.sort();
        let mut labels: Vec<(String, String)> =
            json_param::<HashMap<String, String>>(&params, "labels")?
                .unwrap_or_default()
                .into_iter()
                .collect();
        labels.sort();
        let platform = match params.get("platform").filter(|v| !v.is_empty()) {
            Some(p) => Some(Platform::parse(p).map_err(|e| ApiError::bad_request(e.to_string()))?),
            None => None,
        };
        let remote = params.get("remote").filter(|v| !v.is_empty()).cloned();
        let cache_from = json_param::<Vec<String>>(&params, "cachefrom")?.unwrap_or_default();
        for key in ["memory", "memswap", "cpushares", "cpuquota", "cpuperiod"] {
            if let Some(v) = params.get(key).filter(|v| !v.is_empty()) {
                v.parse::<i64>().map_err(|_| {
                    ApiError::bad_request(format!("invalid {key} value {v:?}: not a number"))
                })?;
            }
        }
        let shm_size = match params.get("shmsize").filter(|v| !v.is_empty()) {
            Some(v) => Some(v.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!("invalid shmsize value {v:?}: not a number"))
            })?),
            None => None,
        }
        .filter(|n| *n > 0);
        // A network or container is looked up when a RUN starts, as dockerd's builder does.
        let network =
            build::run_network::run_default(params.get("networkmode").map(String::as_str));
        let extra_hosts = pairs
            .iter()
            .filter(|(k, _)| k == "extrahosts")
            .flat_map(|(_, v)| v.split(','))
            .filter(|h| !h.trim().is_empty())
            .map(extra_host)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(BuildParams {
            dockerfile: params
                .get("dockerfile")
                .filter(|v| !v.is_empty())
                .cloned()
                .unwrap_or_else(|| "Dockerfile".into()),
            tags,
            build_args,
            labels,
            target: params.get("target").filter(|v| !v.is_empty()).cloned(),
            no_cache: bool_param(&params, "nocache"),
            pull: bool_param(&params, "pull"),
            quiet: bool_param(&params, "q"),
            platform,
            cache_from,
            remote,
            run_defaults: RunDefaults {
                network,
                extra_hosts,
                shm_size,
            },
        })
    }
}

/// `name:address` (or `name=address`, as newer clients write it) for `/etc/hosts`.
fn extra_host(h: &str) -> Result<(String, String), ApiError> {
    let h = h.trim();
    let split = if h.contains('=') {
        h.split_once('=')
    } else {
        h.split_once(':')
    };
    match split {
        Some((name, addr)) if !name.is_empty() && addr.parse::<std::net::IpAddr>().is_ok() => {
            Ok((name.to_string(), addr.to_string()))
        }
        _ => Err(ApiError::bad_request(format!(
            "invalid IP address in add-host: {h:?}"
        ))),
    }
}

/// Only remote contexts a server may fetch: git or HTTP(S), never a path on this host.
fn remote_arg(remote: &str) -> Result<ContextArg, ApiError> {
    if let Some(git) = context_source::parse_git(remote) {
        return Ok(ContextArg::Git(git));
    }
    if remote.starts_with("http://") || remote.starts_with("https://") {
        return Ok(ContextArg::Url(remote.to_string()));
    }
    Err(ApiError::bad_request(format!(
        "remote context {remote:?} is neither a git repository nor an http(s) URL"
    )))
}

/// A context that could not be unpacked; a truncated archive is Go's `unexpected EOF`, as
/// dockerd answers it.
fn context_error(e: ContextError) -> ApiError {
    match e {
        ContextError::Unpack {
            source: TarError::Truncated(_),
            ..
        } => ApiError::internal("unexpected EOF"),
        ContextError::Download { .. } | ContextError::Git { .. } => {
            ApiError::bad_request(chain(&e))
        }
        _ => ApiError::internal(chain(&e)),
    }
}

/// The context directory and its Dockerfile (`dockerfile` inside it; Docker's classic
/// builder falls back to `dockerfile` for the default name).
fn dockerfile(ctx: &Materialized, name: &str) -> Result<Dockerfile, ApiError> {
    if let Some(bytes) = &ctx.dockerfile {
        return dockerfile_text(name, None, bytes.clone());
    }
    let missing = || ApiError::internal(format!("Cannot locate specified Dockerfile: {name}"));
    let mut candidates = vec![name.to_string()];
    if name == "Dockerfile" {
        candidates.push("dockerfile".into());
    }
    for c in candidates {
        let path = resolve(&ctx.dir, Path::new(&c), OnEscape::Refuse, true)
            .map_err(|e| ApiError::bad_request(format!("the Dockerfile {c:?}: {e}")))?;
        if path.is_file() {
            let bytes = std::fs::read(&path)
                .map_err(|e| ApiError::internal(format!("cannot read {c}: {e}")))?;
            return dockerfile_text(name, Some(path), bytes);
        }
    }
    Err(missing())
}

fn dockerfile_text(
    name: &str,
    path: Option<PathBuf>,
    bytes: Vec<u8>,
) -> Result<Dockerfile, ApiError> {
    let text = crate::syntax::source::decode_or_render(name, bytes)
        .map_err(|r| ApiError::bad_request(r.trim_end().to_string()))?;
    Ok(Dockerfile {
        path,
        shown: name.to_string(),
        text,
    })
}

/// Errors dockerd's classic builder answers with an HTTP status: those it finds before its
/// first `Step` line (parsing, the target, the platform).
fn refused_outright(e: &BuildError) -> bool {
    matches!(e, BuildError::Syntax(_) | BuildError::BadPlatform(_))
}

/// Docker's in-stream error; a RUN that exited non-zero reads as the classic builder says it,
/// with the exit code as the error's code.
fn in_stream_error(e: &BuildError) -> serde_json::Value {
    if let BuildError::Exec(ExecError::Step { source, .. }) = e {
        // dockerd's step container failed to start: its error alone.
        if let StepError::Network(failure) = &**source {
            return stream::error_message(&chain(&**failure));
        }
        if let StepError::RunFailed {
            command,
            exit_code: Some(code),
            ..
        } = &**source
        {
            let message = format!("The command '{command}' returned a non-zero code: {code}");
            return json!({
                "errorDetail": { "code": code, "message": message },
                "error": message,
            });
        }
    }
    stream::error_message(&chain(e))
}

pub async fn build(
    extract::State(s): extract::State<Arc<State>>,
    Query(pairs): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let p = BuildParams::parse(&pairs)?;
    let auths = registry_auth::config(&headers)?;
    let root = s.root.clone();
    // Read as it arrives: syncing the context overlaps with its upload.
    let upload = match &p.remote {
        Some(_) => None,
        None => Some(body_reader(body)),
    };
    let arg = p.remote.as_deref().map(remote_arg).transpose()?;
    let tag_names: Vec<String> = p.tags.iter().map(|t| t.familiar_string()).collect();
    let mirror_key = context_mirror::key(&tag_names, &p.dockerfile);
    let r = root.clone();
    let ctx = tokio::task::spawn_blocking(move || -> Result<Materialized, ApiError> {
        let tmp = build::temp_area(&r).map_err(|e| ApiError::internal(chain(&e)))?;
        let ctx = match (&arg, upload) {
            (Some(arg), _) => context_source::materialize(arg, &mut std::io::empty(), &tmp),
            (None, Some(mut input)) => {
                // A busy (or unusable) mirror: this build unpacks into a temp directory.
                let ctx = match context_mirror::acquire(&r, &mirror_key) {
                    Ok(Some(mirror)) => context_source::materialize_mirrored(
                        &mut input,
                        "from the request body",
                        mirror,
                    ),
                    _ => context_source::materialize(&ContextArg::Stdin, &mut input, &tmp),
                };
                // Extraction stops at the first end-of-archive block; the client is still
                // writing the second (and the chunked trailer). Answering (say, a 400 for a
                // Dockerfile that does not parse) and closing before reading them breaks the
                // client's write, which then reports a broken pipe instead of the answer.
                let _ = std::io::copy(
                    &mut std::io::Read::take(&mut input, DRAIN_LIMIT),
                    &mut std::io::sink(),
                );
                ctx
            }
            (None, None) => unreachable!("a context without remote is streamed"),
        };
        ctx.map_err(context_error)
    })
    .await
    .map_err(|e| ApiError::internal(format!("the build failed: {e}")))??;
    let (ctx, df) = {
        let df = dockerfile(&ctx, &p.dockerfile)?;
        (ctx, df)
    };
    let mut args = BuildArgs::new();
    for (k, v) in &p.build_args {
        args.insert(k.clone(), v.clone());
    }
    let req = BuildRequest {
        context_dir: ctx.dir.clone(),
        dockerfile: Some(df),
        tags: p.tags.clone(),
        // A name without a value arrives as null: Docker leaves such an ARG at its default.
        build_args: args.resolve_with(|_| None),
        target: p.target.clone(),
        platforms: p.platform.clone().into_iter().collect(),
        no_cache: p.no_cache,
        labels: p.labels.clone(),
        pull: if p.pull {
            PullPolicy::Always
        } else {
            PullPolicy::Missing
        },
        auths,
        cache_images: p.cache_from.clone(),
        run_defaults: p.run_defaults.clone(),
        ..Default::default()
    };
    let tags: Vec<String> = p.tags.iter().map(|t| t.familiar_string()).collect();
    let quiet = p.quiet;
    stream::run_cancellable(move |out, interrupt| {
        // Removed when the build ends, whichever way.
        let _ctx = ctx;
        let store = crate::store::Store::open(&root)?;
        let classic = Classic::new(out, quiet, &store);
        let sent = AtomicBool::new(false);
        let notice = |n| {
            sent.store(true, Ordering::SeqCst);
            classic.notice(n)
        };
        let hooks = BuildHooks {
            progress: &classic,
            notice: &notice,
            interrupt: Some(interrupt),
        };
        let result = build::build(&store, &req, &hooks, &mut |g| {
            sent.store(true, Ordering::SeqCst);
            classic.planned(g)
        });
        match result {
            Ok(built) => {
                classic.built(&built.outcome.image, &tags);
                Ok(())
            }
            // The client is gone: nobody is left to tell.
            Err(e) if e.is_interrupted() => Ok(()),
            // What dockerd refuses before it writes anything (a Dockerfile that does not
            // parse, an unknown target, a bad platform) is a plain error reply; whatever its
            // builder finds while dispatching (a stage reference, an expansion, a base image
            // to pull, a failing step) travels in the stream.
            Err(e) if refused_outright(&e) && !sent.load(Ordering::SeqCst) => Err(e.into()),
            Err(e) => {
                let _ = out.send(in_stream_error(&e));
                Ok(())
            }
        }
    })
    .await
}

/// `POST /build/prune?all=&filters=&keep-storage=`: strata's build cache GC, answered as
/// Docker's `BuildPruneResponse`.
pub async fn prune(
    extract::State(s): extract::State<Arc<State>>,
    Query(p): Query<Params>,
) -> Result<Json<BuildPruneResponse>, ApiError> {
    let mut req = BuildPruneRequest {
        all: bool_param(&p, "all"),
        ..Default::default()
    };
    for key in ["keep-storage", "reserved-space", "max-used-space"] {
        if let Some(v) = p.get(key).filter(|v| !v.is_empty() && *v != "0") {
            let n = v.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!("{key} is in an invalid format: {v:?}"))
            })?;
            req.keep_storage = Some(req.keep_storage.map_or(n, |k| k.min(n)));
        }
    }
    for f in filters(&p)? {
        let (k, v) = f.split_once('=').unwrap_or((&f, ""));
        match k {
            "until" | "unused-for" | "unused_for" => {
                req.until =
                    Some(parse_duration(v).map_err(|e| ApiError::bad_request(e.to_string()))?)
            }
            // Every strata cache record is of the one kind these name.
            "type" | "inuse" | "shared" | "private" => {}
            _ => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("invalid filter '{k}'"),
                ))
            }
        }
    }
    let root = s.root.clone();
    let report = blocking(move || build::prune::prune(&root, &req)).await?;
    Ok(Json(BuildPruneResponse {
        caches_deleted: Some(report.deleted),
        space_reclaimed: Some(report.reclaimed as i64),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn params() {
        let p = BuildParams::parse(&pairs(&[
            ("t", "a:1"),
            ("t", "b"),
            ("buildargs", r#"{"X":"1","Y":null}"#),
            ("labels", r#"{"l":"v"}"#),
            ("target", "build"),
            ("nocache", "1"),
            ("q", "true"),
            ("cachefrom", r#"["c:1"]"#),
            ("dockerfile", "sub/Dockerfile.x"),
        ]))
        .unwrap();
        let tags: Vec<String> = p.tags.iter().map(|t| t.familiar_string()).collect();
        assert_eq!(tags, ["a:1", "b:latest"]);
        assert_eq!(
            p.build_args,
            [("X".into(), Some("1".into())), ("Y".into(), None)]
        );
        assert_eq!(p.labels, [("l".into(), "v".into())]);
        assert_eq!(p.target.as_deref(), Some("build"));
        assert!(p.no_cache && p.quiet && !p.pull);
        assert_eq!(p.cache_from, ["c:1"]);
        assert_eq!(p.dockerfile, "sub/Dockerfile.x");
        assert_eq!(BuildParams::parse(&[]).unwrap().dockerfile, "Dockerfile");
        let p = BuildParams::parse(&pairs(&[
            ("networkmode", "host"),
            ("extrahosts", "a:10.0.0.1,b=::1"),
            ("extrahosts", "c:10.0.0.3"),
            ("shmsize", "1048576"),
        ]))
        .unwrap();
        assert_eq!(
            p.run_defaults,
            RunDefaults {
                network: Some("host".into()),
                extra_hosts: vec![
                    ("a".into(), "10.0.0.1".into()),
                    ("b".into(), "::1".into()),
                    ("c".into(), "10.0.0.3".into())
                ],
                shm_size: Some(1 << 20),
            }
        );
        // Networks and containers pass as named; a RUN looks them up.
        for mode in ["app", "container:db"] {
            let p = BuildParams::parse(&pairs(&[("networkmode", mode)])).unwrap();
            assert_eq!(p.run_defaults.network.as_deref(), Some(mode));
        }
        let p = BuildParams::parse(&pairs(&[("networkmode", "bridge")])).unwrap();
        assert_eq!(p.run_defaults.network, None);
    }

    #[test]
    fn bad_params() {
        for (q, want) in [
            (("t", "Bad:Tag"), "invalid reference format"),
            (("buildargs", "{"), "invalid buildargs value"),
            (("labels", "[1]"), "invalid labels value"),
            (("cachefrom", "x"), "invalid cachefrom value"),
            (("shmsize", "big"), "invalid shmsize value"),
            (("extrahosts", "nohost"), "invalid IP address"),
            (("extrahosts", "h:not-ip"), "invalid IP address"),
        ] {
            let e = BuildParams::parse(&pairs(&[q])).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{q:?}");
            assert!(e.message.contains(want), "{q:?}: {}", e.message);
        }
    }

    #[test]
    fn remotes() {
        assert!(matches!(
            remote_arg("https://h/c.tar.gz"),
            Ok(ContextArg::Url(_))
        ));
        assert!(matches!(
            remote_arg("https://h/r.git#main"),
            Ok(ContextArg::Git(_))
        ));
        assert!(remote_arg("/etc").is_err());
        assert!(remote_arg("ctx.tar").is_err());
    }
}
