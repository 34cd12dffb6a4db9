//! Graph shape (pruning, stage order, ONBUILD, config ops, errors) as tables over small
//! Dockerfiles, and the helpers the key tests share.

use std::collections::BTreeMap;

use super::*;
use crate::plan::scope::BuildArgs;

pub(super) fn opts(args: &[&str], target: Option<&str>) -> PlanOptions {
    let p = Platform::parse("linux/amd64").unwrap();
    PlanOptions {
        build_args: BuildArgs::from_flags(args.iter().copied())
            .unwrap()
            .resolve_with(|_| None),
        target: target.map(str::to_owned),
        target_platform: p.clone(),
        build_platform: p,
        entitlements: vec!["network.host".into(), "security.insecure".into()],
        prefix_platform: false,
    }
}

pub(super) fn graph(src: &str, args: &[&str]) -> BuildGraph {
    plan(src, &opts(args, None), &NoImages).unwrap_or_else(|e| panic!("{src:?}: {e}"))
}

/// A fixed digest per input description, so final keys are reproducible.
pub(super) fn fixed_input(_: &Node, i: &Input) -> InputDigest {
    let s = serde_json::to_string(i).unwrap();
    InputDigest::from_bytes(*crate::digest::Digest::of(s.as_bytes()).as_bytes())
}

/// (description, Dockerfile a, build args a, Dockerfile b, build args b)
pub(super) type Pair<'a> = (&'a str, &'a str, &'a [&'a str], &'a str, &'a [&'a str]);

/// A [`Pair`] plus the text of the node whose key must differ.
pub(super) type Differ<'a> = (
    &'a str,
    &'a str,
    &'a [&'a str],
    &'a str,
    &'a [&'a str],
    &'a str,
);

pub(super) fn key_of(g: &BuildGraph, text: &str) -> CacheKey {
    g.nodes
        .iter()
        .find(|n| n.meta.text == text)
        .unwrap_or_else(|| panic!("no node {text:?}"))
        .partial_key
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
            "FROM a\nARG F\nCOPY --from=$F /x /y\n",
            None,
            3,
            13,
            "empty",
        ),
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
    assert_eq!(c.dest, "/go/src");
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
        (h.test.clone(), h.options.retries),
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
fn copy_dest_and_workdir_resolution() {
    // (workdir, dest, expected) for COPY; (current, requested, expected) for WORKDIR.
    let copies = [
        ("/src", ".", "/src/"),
        ("/src", "", "/src/"),
        ("/src", "sub/", "/src/sub/"),
        ("/src", "file", "/src/file"),
        ("/src", "../up", "/up"),
        ("/", "./x/", "/x/"),
        ("/src", "/abs/../kept", "/abs/../kept"),
    ];
    for (wd, dest, want) in copies {
        assert_eq!(convert::copy_dest(wd, dest), want, "COPY {dest} in {wd}");
    }
    let workdirs = [
        ("/", "a", "/a"),
        ("/a", "b/../c", "/a/c"),
        ("/a", "/x//y/", "/x/y"),
        ("/a", "../../..", "/"),
    ];
    for (cur, req, want) in workdirs {
        assert_eq!(
            convert::join_workdir(cur, req),
            want,
            "WORKDIR {req} in {cur}"
        );
    }
}

#[test]
fn a_stage_on_a_stage_inherits_its_platform() {
    let src =
        "FROM --platform=linux/arm64 alpine AS a\nFROM a AS b\nFROM --platform=linux/amd64 b\n";
    let g = graph(src, &[]);
    let platforms: Vec<&str> = g.stages.iter().map(|s| s.platform.as_str()).collect();
    assert_eq!(platforms, ["linux/arm64", "linux/arm64", "linux/amd64"]);
}

#[test]
fn store_trigger_errors_point_at_the_childs_from() {
    let mut images = BTreeMap::new();
    let bad = |t: &str| BaseImage {
        onbuild: vec![t.to_string()],
        ..Default::default()
    };
    // (trigger, message fragment)
    let cases = [
        ("WORKDIR ${D:?needs D}", "needs D"),
        ("RUNN x", "unknown instruction"),
        ("FROM x", "isn't allowed"),
    ];
    for (trigger, frag) in cases {
        images.insert("base".to_string(), bad(trigger));
        let e = plan("# c\nFROM base\n", &opts(&[], None), &images).unwrap_err();
        let d = e.diagnostic().unwrap();
        assert_eq!((d.span.line, d.span.column), (2, 1), "{trigger}: {e}");
        assert!(d.message.contains(frag), "{trigger}: {}", d.message);
    }
}

#[test]
fn run_nodes_carry_history_args() {
    let g = graph(
        "FROM a\nARG A=1\nARG B\nENV A=2\nRUN x\nCOPY y z\n",
        &["B=b"],
    );
    let hist: Vec<&[(String, String)]> = g
        .nodes
        .iter()
        .map(|n| n.meta.history_args.as_slice())
        .collect();
    assert_eq!(
        hist[4],
        [("A".to_string(), "2".to_string()), ("B".into(), "b".into())]
    );
    assert!(hist[5].is_empty());
}

#[test]
fn a_from_label_names_its_base_expanded_as_buildkit_does() {
    let src = "ARG V=3.19\nARG TARGETARCH\n\
               FROM --platform=$BUILDPLATFORM alpine:$V AS tools\nFROM tools AS b\n\
               FROM bb-$TARGETARCH\nCOPY --from=b / /\n";
    let mut o = opts(&[], None);
    o.target_platform = Platform::parse("linux/arm64").unwrap();
    let g = plan(src, &o, &NoImages).unwrap();
    let labels: Vec<&str> = g.nodes.iter().map(|n| n.meta.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "[tools 1/1] FROM docker.io/library/alpine:3.19",
            "[b 1/1] FROM tools",
            "[stage-2 1/2] FROM docker.io/library/bb-arm64:latest",
            "[stage-2 2/2] COPY --from=b / /",
        ]
    );
    // The step's own text, which errors quote, stays as written.
    assert_eq!(
        g.nodes[0].meta.text,
        "FROM --platform=$BUILDPLATFORM alpine:$V AS tools"
    );
}

#[test]
fn labels_name_each_stage_platform_when_several_are_built() {
    let src = "FROM --platform=$BUILDPLATFORM scratch AS cross\nCOPY a /a\n\
               FROM scratch\nCOPY --from=cross /a /a\nENV X=1\n";
    // (target platform, prefix_platform, labels of the fs-touching steps and the ENV)
    let cases: [(&str, bool, [&str; 5]); 3] = [
        (
            "linux/arm64",
            true,
            [
                "[linux/amd64->arm64 cross 1/2] FROM scratch",
                "[linux/amd64->arm64 cross 2/2] COPY a /a",
                "[linux/arm64 stage-1 1/2] FROM scratch",
                "[linux/arm64 stage-1 2/2] COPY --from=cross /a /a",
                "[linux/arm64 stage-1] ENV X=1",
            ],
        ),
        (
            "linux/amd64",
            true,
            [
                "[linux/amd64 cross 1/2] FROM scratch",
                "[linux/amd64 cross 2/2] COPY a /a",
                "[linux/amd64 stage-1 1/2] FROM scratch",
                "[linux/amd64 stage-1 2/2] COPY --from=cross /a /a",
                "[linux/amd64 stage-1] ENV X=1",
            ],
        ),
        (
            "linux/arm64",
            false,
            [
                "[cross 1/2] FROM scratch",
                "[cross 2/2] COPY a /a",
                "[stage-1 1/2] FROM scratch",
                "[stage-1 2/2] COPY --from=cross /a /a",
                "[stage-1] ENV X=1",
            ],
        ),
    ];
    for (target, prefix, want) in cases {
        let mut o = opts(&[], None);
        o.target_platform = Platform::parse(target).unwrap();
        o.prefix_platform = prefix;
        let g = plan(src, &o, &NoImages).unwrap();
        let labels: Vec<&str> = g.nodes.iter().map(|n| n.meta.label.as_str()).collect();
        assert_eq!(labels, want, "{target} prefix={prefix}");
    }
    let arrows = [
        ("linux/amd64", "linux/arm/v7", "->arm/v7"),
        ("linux/arm/v6", "linux/arm/v7", "->v7"),
        ("linux/amd64", "windows/amd64", "->windows/amd64"),
        ("linux/amd64", "linux/amd64", ""),
    ];
    for (stage, target, want) in arrows {
        let (s, t) = (
            Platform::parse(stage).unwrap(),
            Platform::parse(target).unwrap(),
        );
        assert_eq!(build::platform_arrow(&s, &t), want, "{stage} for {target}");
    }
}

#[test]
fn syntax_errors_apart_from_dispatch_errors() {
    // (source, target, found before any stage is walked)
    let cases: &[(&str, Option<&str>, bool)] = &[
        ("FROM a\nRUNN x\n", None, true),
        ("RUN x\n", None, true),
        ("FROM a\n", Some("nope"), true),
        ("FROM ${NOPE}\n", None, false),
        ("FROM a\nWORKDIR ${X:?must be set}\n", None, false),
        ("FROM a AS x\nFROM b AS X\n", None, false),
        ("FROM a\nFROM b\nCOPY --from=1 /x /y\n", None, false),
    ];
    for (src, target, syntax) in cases {
        let e = plan(src, &opts(&[], *target), &NoImages).unwrap_err();
        assert_eq!(e.is_syntax(), *syntax, "{src:?}: {e}");
    }
}
