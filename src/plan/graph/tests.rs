//! Key properties and graph shape, as tables over small Dockerfiles.

use std::collections::BTreeMap;

use super::*;
use crate::plan::scope::BuildArgs;

fn opts(args: &[&str], target: Option<&str>) -> PlanOptions {
    let p = Platform::parse("linux/amd64").unwrap();
    PlanOptions {
        build_args: BuildArgs::from_flags(args.iter().copied())
            .unwrap()
            .resolve_with(|_| None),
        target: target.map(str::to_owned),
        target_platform: p.clone(),
        build_platform: p,
    }
}

fn graph(src: &str, args: &[&str]) -> BuildGraph {
    plan(src, &opts(args, None), &NoImages).unwrap_or_else(|e| panic!("{src:?}: {e}"))
}

/// A fixed digest per input description, so final keys are reproducible.
fn fixed_input(_: &Node, i: &Input) -> InputDigest {
    let s = serde_json::to_string(i).unwrap();
    InputDigest::from_bytes(*crate::digest::Digest::of(s.as_bytes()).as_bytes())
}

/// (description, Dockerfile a, build args a, Dockerfile b, build args b)
type Pair<'a> = (&'a str, &'a str, &'a [&'a str], &'a str, &'a [&'a str]);

/// A [`Pair`] plus the text of the node whose key must differ.
type Differ<'a> = (
    &'a str,
    &'a str,
    &'a [&'a str],
    &'a str,
    &'a [&'a str],
    &'a str,
);

fn key_of(g: &BuildGraph, text: &str) -> CacheKey {
    g.nodes
        .iter()
        .find(|n| n.meta.text == text)
        .unwrap_or_else(|| panic!("no node {text:?}"))
        .partial_key
}

#[test]
fn keys_equal_when_only_cosmetics_change() {
    // (description, a, args a, b, args b): every node key must be equal.
    let cases: &[Pair] = &[
        (
            "comments, blank lines, line numbers, keyword case, spacing",
            "FROM alpine\nRUN make\nCOPY a /b\n",
            &[],
            "# a comment\n\nfrom   alpine\n\n# more\nrun make\ncopy  a   /b\n",
            &[],
        ),
        (
            "renamed stage",
            "FROM alpine AS build\nRUN make\nFROM busybox\nCOPY --from=build /x /y\n",
            &[],
            "FROM alpine AS compile\nRUN make\nFROM busybox\nCOPY --from=compile /x /y\n",
            &[],
        ),
        (
            "COPY --from by name or by index",
            "FROM alpine AS build\nRUN make\nFROM busybox\nCOPY --from=build /x /y\n",
            &[],
            "FROM alpine AS build\nRUN make\nFROM busybox\nCOPY --from=0 /x /y\n",
            &[],
        ),
        (
            "FROM a renamed stage",
            "FROM alpine AS one\nRUN make\nFROM one\nRUN test\n",
            &[],
            "FROM alpine AS two\nRUN make\nFROM TWO\nRUN test\n",
            &[],
        ),
        (
            "--mount from= a renamed stage",
            "FROM alpine AS one\nFROM busybox\nRUN --mount=from=one,target=/m ls\n",
            &[],
            "FROM alpine AS two\nFROM busybox\nRUN --mount=from=two,target=/m ls\n",
            &[],
        ),
        (
            "a build arg no ARG declares",
            "FROM alpine\nRUN make\n",
            &["V=1"],
            "FROM alpine\nRUN make\n",
            &["V=2"],
        ),
        (
            "a global ARG not redeclared in the stage",
            "ARG V=1\nFROM alpine\nRUN make\n",
            &[],
            "ARG V=2\nFROM alpine\nRUN make\n",
            &[],
        ),
        (
            "proxy build args",
            "FROM alpine\nRUN make\n",
            &["HTTP_PROXY=http://a:1", "no_proxy=x"],
            "FROM alpine\nRUN make\n",
            &["HTTP_PROXY=http://user:secret@b:2"],
        ),
        (
            "an ENV the COPY does not use",
            "FROM alpine\nENV A=1\nCOPY x /y\n",
            &[],
            "FROM alpine\nENV A=2\nCOPY x /y\n",
            &[],
        ),
        (
            "an ARG declared in the stage but used by no RUN and no expansion",
            "FROM alpine\nARG V\nCOPY x /y\n",
            &["V=1"],
            "FROM alpine\nARG V\nCOPY x /y\n",
            &["V=2"],
        ),
    ];
    for (what, a, aa, b, ab) in cases {
        let (ga, gb) = (graph(a, aa), graph(b, ab));
        let fs = |g: &BuildGraph| -> Vec<CacheKey> {
            g.nodes
                .iter()
                .filter(|n| n.op.touches_fs())
                .map(|n| n.partial_key)
                .collect()
        };
        assert_eq!(fs(&ga), fs(&gb), "{what}");
        assert_eq!(
            ga.final_keys(fixed_input)[ga.output()],
            gb.final_keys(fixed_input)[gb.output()],
            "{what}: output final key"
        );
    }
}

#[test]
fn keys_differ_when_the_step_changes() {
    // (description, a, args a, b, args b, text of the node whose key must differ)
    let cases: &[Differ] = &[
        (
            "a build arg a RUN can see",
            "FROM alpine\nARG V\nRUN echo $V\n",
            &["V=1"],
            "FROM alpine\nARG V\nRUN echo $V\n",
            &["V=2"],
            "RUN echo $V",
        ),
        (
            "a declared ARG busts a RUN even if the command does not mention it",
            "FROM alpine\nARG V\nRUN make\n",
            &["V=1"],
            "FROM alpine\nARG V\nRUN make\n",
            &["V=2"],
            "RUN make",
        ),
        (
            "an ENV before a RUN",
            "FROM alpine\nENV A=1\nRUN make\n",
            &[],
            "FROM alpine\nENV A=2\nRUN make\n",
            &[],
            "RUN make",
        ),
        (
            "an ENV the COPY's expansion uses",
            "FROM alpine\nENV D=/a\nCOPY x $D\n",
            &[],
            "FROM alpine\nENV D=/b\nCOPY x $D\n",
            &[],
            "COPY x $D",
        ),
        (
            "the parent changed",
            "FROM alpine\nRUN one\nRUN two\n",
            &[],
            "FROM alpine\nRUN uno\nRUN two\n",
            &[],
            "RUN two",
        ),
        (
            "the base image",
            "FROM alpine:3.19\nRUN make\n",
            &[],
            "FROM alpine:3.20\nRUN make\n",
            &[],
            "RUN make",
        ),
        (
            "USER before a RUN",
            "FROM alpine\nUSER a\nRUN make\n",
            &[],
            "FROM alpine\nUSER b\nRUN make\n",
            &[],
            "RUN make",
        ),
        (
            "WORKDIR before a COPY",
            "FROM alpine\nWORKDIR /a\nCOPY x y\n",
            &[],
            "FROM alpine\nWORKDIR /b\nCOPY x y\n",
            &[],
            "COPY x y",
        ),
        (
            "a global ARG used in FROM",
            "ARG T=3.19\nFROM alpine:$T\nCOPY x y\n",
            &[],
            "ARG T=3.20\nFROM alpine:$T\nCOPY x y\n",
            &[],
            "COPY x y",
        ),
        (
            "the COPY's chown",
            "FROM alpine\nCOPY --chown=1 x y\n",
            &[],
            "FROM alpine\nCOPY --chown=2 x y\n",
            &[],
            "COPY --chown=1 x y",
        ),
    ];
    for (what, a, aa, b, ab, text) in cases {
        let (ga, gb) = (graph(a, aa), graph(b, ab));
        let kb = gb
            .nodes
            .iter()
            .find(|n| n.id == ga.nodes.iter().find(|n| n.meta.text == *text).unwrap().id)
            .unwrap()
            .partial_key;
        assert_ne!(key_of(&ga, text), kb, "{what}");
    }
}

#[test]
fn same_instruction_on_same_parent_has_the_same_key() {
    let g = graph(
        "FROM alpine AS a\nRUN make\nFROM alpine AS b\nRUN make\nFROM busybox\nCOPY --from=a /x /a\nCOPY --from=b /x /b\n",
        &[],
    );
    let runs: Vec<_> = g
        .nodes
        .iter()
        .filter(|n| n.meta.text == "RUN make")
        .collect();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].partial_key, runs[1].partial_key);
    assert_ne!(runs[0].stage, runs[1].stage);
}

#[test]
fn copy_from_keys_on_selected_files_not_the_source_stage() {
    let a = "FROM alpine AS build\nRUN make\nFROM busybox\nCOPY --from=build /out /out\n";
    let b =
        "FROM alpine AS build\nRUN make && make docs\nFROM busybox\nCOPY --from=build /out /out\n";
    let (ga, gb) = (graph(a, &[]), graph(b, &[]));
    let copy = |g: &BuildGraph| {
        g.nodes
            .iter()
            .find(|n| matches!(n.op, Op::Copy(_)))
            .unwrap()
            .clone()
    };
    let (ca, cb) = (copy(&ga), copy(&gb));
    assert_ne!(
        key_of(&ga, "RUN make"),
        key_of(&gb, "RUN make && make docs")
    );
    assert_eq!(ca.partial_key, cb.partial_key);
    assert_eq!(
        ca.inputs,
        vec![Input::CopyFiles {
            source: CopySource::Stage(0)
        }]
    );
    assert_eq!(ca.deps, vec![ga.stages[0].last]);
    // Same selected files → same final key; different files → different.
    let same = |_: &Node, _: &Input| InputDigest::from_bytes([7; 32]);
    assert_eq!(ga.final_keys(same)[ca.id], gb.final_keys(same)[cb.id]);
    let other = |n: &Node, i: &Input| {
        if n.id == cb.id {
            InputDigest::from_bytes([8; 32])
        } else {
            same(n, i)
        }
    };
    assert_ne!(ga.final_keys(same)[ca.id], gb.final_keys(other)[cb.id]);
}

#[test]
fn final_keys_chain_through_inputs() {
    let g = graph("FROM alpine\nRUN one\nCOPY . /src\nRUN two\n", &[]);
    let copy = g
        .nodes
        .iter()
        .find(|n| matches!(n.op, Op::Copy(_)))
        .unwrap()
        .id;
    let before = g.final_keys(fixed_input);
    let after = g.final_keys(|n, i| {
        if n.id == copy {
            InputDigest::from_bytes([1; 32])
        } else {
            fixed_input(n, i)
        }
    });
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        if i < copy {
            assert_eq!(b, a, "node {i} precedes the COPY");
        } else {
            assert_ne!(b, a, "node {i} follows the changed COPY");
        }
    }
    // Recomputing one node by hand gives the same key as the batch.
    let n = &g.nodes[copy];
    let parent = before[n.key_parent.unwrap()];
    assert_eq!(
        finalize_key(
            &n.partial_key,
            Some(&parent),
            &[fixed_input(n, &n.inputs[0])]
        ),
        before[copy]
    );
}

#[test]
fn proxy_args_reach_run_but_not_keys_or_dumps() {
    let g = graph(
        "FROM alpine\nRUN make\n",
        &["HTTPS_PROXY=http://u:pw@p:3128"],
    );
    let Op::Exec(e) = &g.nodes[1].op else {
        panic!()
    };
    assert!(e
        .process_env()
        .contains(&("https_proxy".into(), "http://u:pw@p:3128".into())));
    assert!(!e
        .env
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("https_proxy")));
    assert!(!dump::dump_plan(&g).contains("pw@p"));
}

#[test]
fn target_pruning() {
    let src = "FROM alpine AS broken\nWORKDIR ${X:?must be set}\nFROM busybox AS good\nRUN ok\n\
               FROM good AS uses\nCOPY --from=broken /a /b\n";
    let g = plan(src, &opts(&[], Some("GOOD")), &NoImages).unwrap();
    assert_eq!(
        g.stages.iter().map(|s| s.index).collect::<Vec<_>>(),
        vec![1]
    );
    assert_eq!(g.nodes.len(), 2);
    for target in [Some("broken"), None] {
        let e = plan(src, &opts(&[], target), &NoImages).unwrap_err();
        let d = e.diagnostic().unwrap();
        assert_eq!((d.span.line, d.span.column), (2, 9), "{target:?}: {e}");
        assert!(d.message.contains("must be set"), "{}", d.message);
    }
    assert_eq!(
        plan(src, &opts(&[], Some("nope")), &NoImages).unwrap_err(),
        PlanError::UnknownTarget {
            name: "nope".into()
        }
    );
}

#[test]
fn located_errors() {
    // (source, target, line, column, message fragment)
    let cases: &[(&str, Option<&str>, u32, u32, &str)] = &[
        (
            "FROM a AS t\nCOPY --from=later /a /b\nFROM b AS later\n",
            Some("t"),
            2,
            13,
            "defined later",
        ),
        (
            "FROM later AS t\nFROM b AS later\n",
            Some("t"),
            1,
            6,
            "defined later",
        ),
        (
            "FROM a AS x\nFROM b AS X\n",
            None,
            2,
            11,
            "duplicate stage name",
        ),
        ("FROM ${NOPE}\n", None, 1, 6, "should not be blank"),
        ("FROM --platform=linux/*/x a\n", None, 1, 17, "wildcards"),
        (
            "FROM a\nRUN --mount=from=9,target=/x ls\n",
            None,
            2,
            13,
            "out of range",
        ),
        ("FROM a\nRUNN x\n", None, 2, 1, "unknown instruction"),
        (
            "FROM a\nFROM b\nCOPY --from=1 /x /y\n",
            None,
            3,
            13,
            "refers to itself",
        ),
    ];
    for (src, target, line, col, frag) in cases {
        let e = plan(src, &opts(&[], *target), &NoImages).unwrap_err();
        let d = e.diagnostic().unwrap();
        assert_eq!((d.span.line, d.span.column), (*line, *col), "{src:?}: {e}");
        assert!(d.message.contains(frag), "{src:?}: {}", d.message);
    }
}

#[test]
fn only_needed_stages_in_dependency_order() {
    let src = "FROM a AS unused\nRUN x\nFROM b AS lib\nRUN y\nFROM c AS tool\n\
               FROM d\nCOPY --from=lib /l /l\nRUN --mount=type=bind,from=tool,target=/t t\n\
               RUN --mount=type=cache,target=/c c\n";
    let g = graph(src, &[]);
    assert_eq!(
        g.stages.iter().map(|s| s.index).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    for n in &g.nodes {
        for d in n
            .deps
            .iter()
            .chain(n.parent.iter())
            .chain(n.key_parent.iter())
        {
            assert!(*d < n.id, "node {} depends on later node {d}", n.id);
        }
    }
    let mount = g
        .nodes
        .iter()
        .find(|n| n.meta.text.contains("from=tool"))
        .unwrap();
    assert_eq!(mount.deps, vec![g.stages[1].last]);
    assert_eq!(
        mount.inputs,
        vec![Input::MountFiles {
            index: 0,
            source: CopySource::Stage(2)
        }]
    );
    let cache = g.nodes.last().unwrap();
    assert!(cache.inputs.is_empty() && cache.deps.is_empty());
    assert_eq!(g.output(), g.nodes.len() - 1);
}

#[test]
fn onbuild_of_a_same_file_stage_runs_first_in_the_child_only() {
    let src = "FROM alpine AS base\nENV A=1\nONBUILD RUN echo $A\nONBUILD COPY x /x\n\
               FROM base AS child\nRUN after\nFROM child\nRUN grandchild\n";
    let g = graph(src, &[]);
    let texts: Vec<(usize, &str, bool)> = g
        .nodes
        .iter()
        .map(|n| (n.stage, n.meta.text.as_str(), n.meta.onbuild))
        .collect();
    assert_eq!(
        texts,
        vec![
            (0, "FROM alpine AS base", false),
            (0, "ENV A=1", false),
            (0, "ONBUILD RUN echo $A", false),
            (0, "ONBUILD COPY x /x", false),
            (1, "FROM base AS child", false),
            (1, "RUN echo $A", true),
            (1, "COPY x /x", true),
            (1, "RUN after", false),
            (2, "FROM child", false),
            (2, "RUN grandchild", false),
        ]
    );
    assert_eq!(g.nodes[5].meta.line, 3);
    assert_eq!(g.nodes[4].parent, Some(3));
    assert_eq!(g.nodes[4].key_parent, Some(0));
    let Op::Config {
        change: ConfigChange::Onbuild(t),
    } = &g.nodes[2].op
    else {
        panic!()
    };
    assert_eq!(t, "RUN echo $A");
}

#[test]
fn store_image_config_feeds_expansion_and_triggers() {
    let mut images = BTreeMap::new();
    images.insert(
        "golang:1".to_string(),
        BaseImage {
            env: vec!["GOPATH=/go".into()],
            working_dir: "/go".into(),
            onbuild: vec!["COPY . $GOPATH/src".into()],
            ..Default::default()
        },
    );
    let g = plan(
        "FROM golang:1\nWORKDIR src\nRUN go build\n",
        &opts(&[], None),
        &images,
    )
    .unwrap();
    let ops: Vec<&Op> = g.nodes.iter().map(|n| &n.op).collect();
    let Op::Copy(c) = ops[1] else {
        panic!("{ops:?}")
    };
    assert_eq!((c.dest.as_str(), c.workdir.as_str()), ("/go/src", "/go"));
    assert!(g.nodes[1].meta.onbuild);
    let Op::Config {
        change: ConfigChange::Workdir { path, .. },
    } = ops[2]
    else {
        panic!()
    };
    assert_eq!(path, "/go/src");
    let Op::Exec(e) = ops[3] else { panic!() };
    assert!(e.env.contains(&("GOPATH".into(), "/go".into())));
    assert_eq!(e.workdir, "/go/src");
    assert_eq!(
        g.nodes[0].inputs,
        vec![Input::BaseImage {
            reference: "golang:1".into(),
            platform: "linux/amd64".into()
        }]
    );
}

#[test]
fn config_ops() {
    let src = "FROM scratch\nWORKDIR a\nWORKDIR ../b/./c\nSHELL [\"/bin/bash\", \"-ec\"]\n\
               CMD run it\nENTRYPOINT [\"/e\"]\nHEALTHCHECK --retries=2 CMD check\nUSER app\n\
               ARG X=1\nLABEL k=v\n";
    let g = graph(src, &[]);
    let changes: Vec<&ConfigChange> = g
        .nodes
        .iter()
        .filter_map(|n| match &n.op {
            Op::Config { change } => Some(change),
            _ => None,
        })
        .collect();
    let bash = |s: &str| vec!["/bin/bash".to_string(), "-ec".into(), s.into()];
    assert_eq!(
        changes[..4],
        [
            &ConfigChange::Workdir {
                path: "/a".into(),
                mkdir: true,
                user: String::new()
            },
            &ConfigChange::Workdir {
                path: "/b/c".into(),
                mkdir: true,
                user: String::new()
            },
            &ConfigChange::Shell(vec!["/bin/bash".into(), "-ec".into()]),
            &ConfigChange::Cmd(bash("run it")),
        ]
    );
    let ConfigChange::Healthcheck(h) = changes[5] else {
        panic!()
    };
    assert_eq!(
        (h.test.clone(), h.retries),
        (vec!["CMD-SHELL".into(), "check".into()], Some(2))
    );
    assert_eq!(
        changes[7],
        &ConfigChange::Arg(vec![("X".into(), Some("1".into()))])
    );
    let labels: Vec<&str> = g.nodes.iter().map(|n| n.meta.label.as_str()).collect();
    assert_eq!(
        labels[..3],
        [
            "[1/3] FROM scratch",
            "[2/3] WORKDIR a",
            "[3/3] WORKDIR ../b/./c"
        ]
    );
    assert_eq!(labels[3], "SHELL [\"/bin/bash\", \"-ec\"]");
}

#[test]
fn canonical_json_sorts_keys() {
    let v: serde_json::Value = serde_json::from_str(r#"{"b":[{"z":1,"a":null}],"a":"x"}"#).unwrap();
    assert_eq!(
        key::canonical_json(&v),
        r#"{"a":"x","b":[{"a":null,"z":1}]}"#
    );
}

#[test]
fn keys_are_unique_within_a_graph() {
    let src = "FROM alpine AS a\nENV A=1\nENV A=1\nRUN x\nRUN x\nLABEL l=1\nLABEL l=1\n\
               FROM a\nENV A=1\nRUN x\n";
    let g = graph(src, &[]);
    let mut keys: Vec<CacheKey> = g.nodes.iter().map(|n| n.partial_key).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), g.nodes.len());
}
