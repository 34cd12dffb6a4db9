//! Cache key properties: what must and must not change a key, as tables over small Dockerfiles.

use super::tests::{fixed_input, graph, key_of, Differ, Pair};
use super::*;

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

/// Instructions of a multi-stage file; comments and blank lines are inserted between them.
const LINES: [&str; 9] = [
    "ARG BASE=alpine",
    "FROM $BASE AS build",
    "ARG V=1",
    "ENV P=/opt/$V",
    "RUN make $P",
    "COPY src/ $P/",
    "FROM busybox",
    "COPY --from=build /opt /opt",
    "CMD [\"/opt/run\"]",
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    #[test]
    fn comments_and_blank_lines_never_change_keys(
        fillers in proptest::collection::vec(0u8..4, LINES.len()),
    ) {
        let plain = LINES.join("\n") + "\n";
        let mut noisy = String::new();
        for (line, filler) in LINES.iter().zip(&fillers) {
            noisy.push_str(match filler {
                0 => "",
                1 => "\n",
                2 => "# a comment\n",
                _ => "  \n# two\n\n",
            });
            noisy.push_str(line);
            noisy.push('\n');
        }
        let keys = |src: &str| -> Vec<CacheKey> {
            graph(src, &[]).nodes.iter().map(|n| n.partial_key).collect()
        };
        proptest::prop_assert_eq!(keys(&plain), keys(&noisy));
    }
}
