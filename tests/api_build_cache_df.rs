//! The build cache as `GET /system/df` lists it (`BuildCache`, `BuilderSize`), as the docker
//! CLI's `system df` and strata's own show it, and as `POST /build/prune` removes it: the same
//! records by the same IDs, the same bytes. Built from the offline busybox.

mod api_support;
mod common;

use std::collections::BTreeSet;
use std::fs;

use api_support::Service;
use common::Strata;
use serde_json::Value;

fn df(svc: &Service) -> Value {
    let r = svc.curl(&[], "/v1.50/system/df");
    assert_eq!(r.status, 200, "{r:?}");
    r.json()
}

fn build_cache_row(out: &str) -> String {
    out.lines()
        .find(|l| l.starts_with("Build Cache|"))
        .unwrap_or_else(|| panic!("no Build Cache row in:\n{out}"))
        .to_string()
}

#[test]
fn system_df_lists_the_cache_build_prune_removes() {
    let s = Strata::new();
    let svc = Service::start(&s, &["--time", "0"]);
    s.import_busybox("busybox");
    let v = df(&svc);
    assert_eq!(v["BuildCache"].as_array().unwrap().len(), 0, "{v}");
    assert_eq!(v["BuilderSize"], 0, "{v}");

    // A build through the socket (classic builder) and one with a RUN cache mount.
    let ctx = s.scratch("bcdf-ctx");
    fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nRUN echo one > /one\nRUN echo two > /two\n",
    )
    .unwrap();
    svc.docker_command()
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "-q", "-t", "bcdf:1", ctx.to_str().unwrap()])
        .output()
        .map(|o| assert!(o.status.success(), "{o:?}"))
        .unwrap();
    let mnt = s.scratch("bcdf-mnt");
    fs::write(
        mnt.join("Dockerfile"),
        "FROM busybox\nRUN --mount=type=cache,target=/c,id=bcdf echo kept > /c/f && cp /c/f /f\n",
    )
    .unwrap();
    s.ok(&["build", "-q", "-t", "bcdf:2", mnt.to_str().unwrap()]);

    let v = df(&svc);
    let records = v["BuildCache"].as_array().unwrap().clone();
    assert!(records.len() >= 4, "{v}");
    let mut total = 0;
    for r in &records {
        assert!(!r["ID"].as_str().unwrap().is_empty(), "{r}");
        assert!(r["Size"].as_u64().unwrap() > 0, "{r}");
        assert_eq!(r["InUse"], false, "{r}");
        assert_eq!(r["Shared"], false, "{r}");
        assert!(r["CreatedAt"].as_str().unwrap().ends_with('Z'), "{r}");
        assert!(r["LastUsedAt"].as_str().unwrap().ends_with('Z'), "{r}");
        total += r["Size"].as_u64().unwrap();
    }
    assert_eq!(v["BuilderSize"].as_u64().unwrap(), total, "{v}");
    let described: Vec<&str> = records
        .iter()
        .filter(|r| r["Type"] == "regular")
        .filter_map(|r| r["Description"].as_str())
        .collect();
    assert!(
        described.iter().any(|d| d.contains("echo one > /one")),
        "{described:?}"
    );
    assert!(
        records.iter().any(|r| r["Type"] == "exec.cachemount"),
        "{v}"
    );

    // The docker CLI's row counts the same records; strata's own row agrees.
    let n = records.len();
    let docker_row = build_cache_row(&svc.docker_ok(&[
        "system",
        "df",
        "--format",
        "{{.Type}}|{{.TotalCount}}|{{.Active}}",
    ]));
    assert_eq!(docker_row, format!("Build Cache|{n}|0"));
    let strata_row = build_cache_row(&s.ok(&[
        "system",
        "df",
        "--format",
        "{{.Type}}|{{.TotalCount}}|{{.Active}}",
    ]));
    assert_eq!(strata_row, format!("Build Cache|{n}|0"));

    // `build/prune?all=1` removes exactly those records, and their bytes.
    let ids: BTreeSet<String> = records
        .iter()
        .map(|r| r["ID"].as_str().unwrap().to_string())
        .collect();
    let r = svc.curl(&["-X", "POST"], "/v1.50/build/prune?all=1");
    assert_eq!(r.status, 200, "{r:?}");
    let pruned = r.json();
    let deleted: BTreeSet<String> = pruned["CachesDeleted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .collect();
    assert_eq!(deleted, ids);
    assert_eq!(
        pruned["SpaceReclaimed"].as_u64().unwrap(),
        total,
        "{pruned}"
    );
    let v = df(&svc);
    assert_eq!(v["BuildCache"].as_array().unwrap().len(), 0, "{v}");
    assert_eq!(v["BuilderSize"], 0, "{v}");
    assert_eq!(
        build_cache_row(&svc.docker_ok(&[
            "system",
            "df",
            "--format",
            "{{.Type}}|{{.TotalCount}}|{{.Active}}",
        ])),
        "Build Cache|0|0"
    );
    // The images stay.
    s.ok(&["inspect", "bcdf:1"]);
}
