//! `GET /containers/json` of `strata system service`: order, `all`, `limit`, `filters` and
//! `size` as dockerd answers them, and a listing that stays true while the `strata` CLI (another
//! process on the same store) changes containers behind the service's back: the service keeps
//! parsed records between listings and must notice every change. Containers use
//! `--network none`: nothing leaves loopback.

mod api_support;
mod common;

use std::thread::sleep;
use std::time::Duration;

use api_support::Service;
use common::Strata;
use serde_json::Value;

fn service() -> (Strata, Service) {
    let s = Strata::new();
    let svc = Service::start(&s, &["--time", "0"]);
    s.import_busybox("busybox");
    (s, svc)
}

/// The listing at `query`, as (name, state) pairs in the order the service gave them.
fn names(svc: &Service, query: &str) -> Vec<(String, String)> {
    let r = svc.curl(&[], &format!("/containers/json{query}"));
    assert_eq!(r.status, 200, "{query}: {}", r.body);
    let list = r.json();
    (list
        .as_array()
        .unwrap_or_else(|| panic!("{query}: {list}"))
        .iter())
    .map(|c| {
        let name = c["Names"][0].as_str().unwrap().trim_start_matches('/');
        (name.to_string(), c["State"].as_str().unwrap().to_string())
    })
    .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// `filters` as the docker client encodes them, URL-escaped.
fn filters(json: &str) -> String {
    let mut out = String::from("filters=");
    for b in json.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[test]
fn order_all_limit_filters_and_size() {
    let (_s, svc) = service();
    for (name, label) in [("ls-a", "k=v"), ("ls-b", "k=w"), ("ls-c", "k=v")] {
        svc.docker_ok(&[
            "create",
            "--network",
            "none",
            "--name",
            name,
            "--label",
            label,
            "busybox",
            "true",
        ]);
    }
    svc.docker_ok(&[
        "create",
        "--network",
        "none",
        "--name",
        "ls-x",
        "busybox",
        "sh",
        "-c",
        "exit 3",
    ]);
    svc.docker_ok(&["start", "ls-x"]);
    assert_eq!(svc.docker_ok(&["wait", "ls-x"]).trim(), "3");

    // Newest first; without `all` only running ones (none here).
    let all = pairs(&[
        ("ls-x", "exited"),
        ("ls-c", "created"),
        ("ls-b", "created"),
        ("ls-a", "created"),
    ]);
    assert_eq!(names(&svc, "?all=1"), all);
    assert_eq!(names(&svc, "?all=true"), all);
    assert_eq!(names(&svc, ""), vec![]);
    // `limit`: the N newest of every state; 0 and negative (old clients send -1) mean none.
    assert_eq!(names(&svc, "?limit=2"), all[..2].to_vec());
    assert_eq!(names(&svc, "?all=1&limit=-1"), all);
    assert_eq!(names(&svc, "?all=1&limit=0"), all);
    let bad = svc.curl(&[], "/containers/json?limit=two");
    assert_eq!(bad.status, 400, "{}", bad.body);

    // Filters: labels must all match, other keys any of their values; a status filter (or
    // `exited`) looks at every container without `all`.
    let q = |f: &str| format!("?all=1&{}", filters(f));
    assert_eq!(
        names(&svc, &q(r#"{"label":{"k=v":true}}"#)),
        pairs(&[("ls-c", "created"), ("ls-a", "created")])
    );
    assert_eq!(
        names(&svc, &q(r#"{"label":["k"],"name":["ls-b","ls-x"]}"#)),
        pairs(&[("ls-b", "created")])
    );
    let exited = pairs(&[("ls-x", "exited")]);
    assert_eq!(
        names(&svc, &format!("?{}", filters(r#"{"status":["exited"]}"#))),
        exited
    );
    assert_eq!(
        names(&svc, &format!("?{}", filters(r#"{"exited":["3"]}"#))),
        exited
    );
    assert_eq!(names(&svc, &q(r#"{"exited":["0"]}"#)), vec![]);
    assert_eq!(
        names(&svc, &q(r#"{"before":["ls-b"]}"#)),
        pairs(&[("ls-a", "created")])
    );
    let bad = svc.curl(
        &[],
        &format!("/containers/json?{}", filters(r#"{"bogus":["x"]}"#)),
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(bad.json()["message"], "invalid filter 'bogus'");

    // `size`: SizeRw and SizeRootFs only when asked for; the image counts in SizeRootFs.
    let plain = svc.curl(&[], "/containers/json?all=1").json();
    assert!(plain[0].get("SizeRw").is_none(), "{}", plain[0]);
    let sized = svc.curl(&[], "/containers/json?all=1&size=1").json();
    for c in sized.as_array().unwrap() {
        let rw = c["SizeRw"].as_i64().unwrap_or_else(|| panic!("{c}"));
        let root = c["SizeRootFs"].as_i64().unwrap();
        assert!(rw >= 0 && root > rw, "{c}");
    }
    // The docker CLI's own view of the same.
    let ps = svc.docker_ok(&["ps", "-a", "-n", "2", "--format", "{{.Names}} {{.Status}}"]);
    let ps: Vec<&str> = ps.lines().collect();
    assert_eq!(ps.len(), 2, "{ps:?}");
    assert!(ps[0].starts_with("ls-x Exited (3)"), "{ps:?}");
    assert_eq!(ps[1], "ls-c Created");
}

#[test]
fn listing_follows_changes_made_by_another_process() {
    let (s, svc) = service();
    for name in ["lc-1", "lc-2", "lc-3"] {
        svc.docker_ok(&[
            "create",
            "--network",
            "none",
            "--name",
            name,
            "busybox",
            "true",
        ]);
    }
    let before = pairs(&[
        ("lc-3", "created"),
        ("lc-2", "created"),
        ("lc-1", "created"),
    ]);
    assert_eq!(names(&svc, "?all=1"), before);
    // Old enough that the service trusts what it parsed: a later write must still show.
    sleep(Duration::from_millis(1200));
    assert_eq!(names(&svc, "?all=1"), before);

    s.ok(&["rename", "lc-2", "lc-2b"]);
    s.ok(&["rm", "lc-3"]);
    s.ok(&["start", "lc-1"]);
    s.ok(&["wait", "lc-1"]);
    s.ok(&[
        "create",
        "--network",
        "none",
        "--name",
        "lc-4",
        "busybox",
        "true",
    ]);
    assert_eq!(
        names(&svc, "?all=1"),
        pairs(&[
            ("lc-4", "created"),
            ("lc-2b", "created"),
            ("lc-1", "exited"),
        ])
    );
    let list = svc.curl(&[], "/containers/json?all=1").json();
    let one: &Value = (list.as_array().unwrap().iter())
        .find(|c| c["Names"][0] == "/lc-1")
        .unwrap();
    assert!(
        one["Status"].as_str().unwrap().starts_with("Exited (0)"),
        "{one}"
    );
    // And the same once more with the new records trusted.
    sleep(Duration::from_millis(1200));
    s.ok(&["rm", "lc-4"]);
    assert_eq!(
        names(&svc, "?all=1"),
        pairs(&[("lc-2b", "created"), ("lc-1", "exited")])
    );
}
