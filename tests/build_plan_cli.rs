//! `strata build --dump-plan`: the build graph as JSON, with base images looked up in the store,
//! keys that ignore cosmetics (stage names) and follow what a step can see (build args), and
//! located errors.

mod common;

use std::fs;
use std::path::Path;

use common::{busybox_rootfs, Strata};
use serde_json::Value;

fn context(s: &Strata, name: &str, dockerfile: &str) -> String {
    let dir = s.scratch(name);
    fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    fs::write(dir.join("app.txt"), "app\n").unwrap();
    dir.to_str().unwrap().to_string()
}

fn dump(s: &Strata, args: &[&str]) -> Value {
    let mut full = vec!["build", "--dump-plan"];
    full.extend_from_slice(args);
    serde_json::from_str(&s.ok(&full)).expect("--dump-plan prints JSON")
}

fn keys(plan: &Value) -> Vec<String> {
    plan["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["partial_key"].as_str().unwrap().to_string())
        .collect()
}

fn base_with_env(s: &Strata) {
    let rootfs = s.scratch("rootfs");
    busybox_rootfs(&rootfs);
    s.ok(&[
        "import",
        "--change",
        "ENV APP_HOME=/srv/app",
        rootfs.to_str().unwrap(),
        "base",
    ]);
}

#[test]
fn base_image_env_from_the_store_feeds_expansion() {
    let s = Strata::new();
    base_with_env(&s);
    let ctx = context(&s, "ctx", "FROM base\nWORKDIR $APP_HOME\nCOPY app.txt .\n");
    let plan = dump(&s, &[&ctx]);
    let nodes = plan["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3, "{plan:#}");
    assert_eq!(nodes[0]["op"]["kind"], "base");
    assert_eq!(nodes[0]["op"]["image"], "base");
    let workdir = serde_json::to_string(&nodes[1]["op"]).unwrap();
    assert!(workdir.contains("/srv/app"), "{workdir}");
    // The relative COPY destination resolves against that WORKDIR.
    let copy = serde_json::to_string(&nodes[2]["op"]).unwrap();
    assert!(copy.contains("/srv/app/"), "{copy}");
    assert_eq!(nodes[2]["line"], 3);
}

#[test]
fn stage_names_are_cosmetic_and_build_args_reach_only_what_sees_them() {
    let s = Strata::new();
    base_with_env(&s);
    let a = context(
        &s,
        "a",
        "FROM base AS builder\nARG V=1\nRUN echo $V > /v\nFROM base\nCOPY --from=builder /v /v\n",
    );
    let b = context(
        &s,
        "b",
        "# renamed stage, extra comment\nFROM base AS compile\nARG V=1\n\nRUN echo $V > /v\nFROM base\nCOPY --from=compile /v /v\n",
    );
    let plan_a = dump(&s, &[&a]);
    assert_eq!(keys(&plan_a), keys(&dump(&s, &[&b])));
    // A build arg changes the RUN that sees it, and nothing in the other stage.
    let plan_v2 = dump(&s, &["--build-arg", "V=2", &a]);
    let (ka, kv) = (keys(&plan_a), keys(&plan_v2));
    let run = plan_a["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .position(|n| n["op"]["kind"] == "exec")
        .expect("a RUN node");
    assert_ne!(ka[run], kv[run]);
    let last_stage_first = plan_a["stages"][1]["first"].as_u64().unwrap() as usize;
    assert_eq!(ka[last_stage_first..], kv[last_stage_first..]);
    // An unused build arg changes nothing.
    assert_eq!(ka, keys(&dump(&s, &["--build-arg", "UNUSED=x", &a])));
}

#[test]
fn target_prunes_unneeded_stages_and_errors_are_located() {
    let s = Strata::new();
    let ctx = context(
        &s,
        "ctx",
        "FROM busybox AS ok\nRUN true\nFROM busybox AS broken\nWORKDIR ${NOPE:?must be set}\n",
    );
    // The broken stage is not needed for --target ok.
    let plan = dump(&s, &["--target", "ok", &ctx]);
    assert_eq!(plan["stages"].as_array().unwrap().len(), 1, "{plan:#}");
    let err = s.fails(&["build", "--dump-plan", &ctx]);
    let file = Path::new(&ctx).join("Dockerfile");
    assert!(
        err.contains(&format!("{}:4:9: error:", file.display())) && err.contains("must be set"),
        "{err}"
    );
    let err = s.fails(&["build", "--dump-plan", "--target", "nope", &ctx]);
    assert!(err.contains("\"nope\""), "{err}");
    // A real build of the broken target fails the same way, before anything runs.
    let err = s.fails(&["build", &ctx]);
    assert!(
        err.contains(":4:9: error:") && err.contains("must be set"),
        "{err}"
    );
}
