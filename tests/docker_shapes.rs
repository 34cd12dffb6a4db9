//! strata's JSON next to Docker 28's, field by field: `inspect` of a container, `ps --format
//! json` and `images --format json` (root: a real running container) against the shapes
//! recorded in `testdata/docker28/` (see its README). Names, nesting, key order and value types
//! must match; values may differ. Maps keyed by data (ports, networks, labels) are compared by
//! the shape of their entries.

mod common;
mod run_support;

use serde_json::Value;

use run_support::Env;

/// Keys whose objects are maps from data (a port, a network name, a label) to values.
const MAPS: &[&str] = &[
    "PortBindings",
    "Ports",
    "Networks",
    "Labels",
    "ExposedPorts",
    "Volumes",
    "Options",
    "Containers",
    "Tmpfs",
    "Config/Labels",
];

fn golden(name: &str) -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/docker28")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every way `ours` differs in shape from `want`, one line each.
fn compare(path: &str, want: &Value, ours: &Value, out: &mut Vec<String>) {
    if kind(want) != kind(ours) {
        out.push(format!(
            "{path}: Docker has {}, strata {}",
            kind(want),
            kind(ours)
        ));
        return;
    }
    let key = path.rsplit('/').next().unwrap_or(path);
    match (want, ours) {
        (Value::Object(w), Value::Object(o)) if MAPS.contains(&key) => {
            if let (Some(wv), Some(ov)) = (w.values().next(), o.values().next()) {
                compare(&format!("{path}/*"), wv, ov, out);
            }
        }
        (Value::Object(w), Value::Object(o)) => {
            for k in w.keys().filter(|k| !o.contains_key(*k)) {
                out.push(format!("{path}/{k}: missing"));
            }
            for k in o.keys().filter(|k| !w.contains_key(*k)) {
                out.push(format!("{path}/{k}: not in Docker's"));
            }
            let wk: Vec<&String> = w.keys().filter(|k| o.contains_key(*k)).collect();
            let ok: Vec<&String> = o.keys().filter(|k| w.contains_key(*k)).collect();
            if wk != ok {
                out.push(format!("{path}: key order {ok:?}, Docker's {wk:?}"));
            }
            for (k, wv) in w {
                if let Some(ov) = o.get(k) {
                    compare(&format!("{path}/{k}"), wv, ov, out);
                }
            }
        }
        (Value::Array(w), Value::Array(o)) => {
            if let (Some(wv), Some(ov)) = (w.first(), o.first()) {
                compare(&format!("{path}/0"), wv, ov, out);
            }
        }
        _ => {}
    }
}

fn assert_shape(name: &str, ours: &Value) {
    let mut diffs = Vec::new();
    compare("", &golden(name), ours, &mut diffs);
    assert!(
        diffs.is_empty(),
        "{name}: strata's JSON differs from Docker 28's:\n{}\n--- strata's:\n{}",
        diffs.join("\n"),
        serde_json::to_string_pretty(ours).unwrap()
    );
}

#[test]
fn container_ps_and_image_json_have_dockers_shape() {
    let e = Env::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    e.code(
        &[
            "run",
            "-d",
            "--name",
            "web",
            "-p",
            &format!("{port}:80"),
            "-v",
            "data:/data",
            "busybox",
            "httpd",
            "-f",
        ],
        0,
    );
    e.eventually(10, "running", || {
        e.s.ok(&["inspect", "-f", "{{.State.Running}}", "web"])
            .trim()
            == "true"
    });
    let inspect: Value = serde_json::from_str(&e.s.ok(&["inspect", "web"])).unwrap();
    assert_shape("container_inspect.json", &inspect[0]);
    let ps: Value = serde_json::from_str(e.s.ok(&["ps", "--format", "json"]).trim()).unwrap();
    assert_shape("ps_format_json.json", &ps);
    let images: Value =
        serde_json::from_str(e.s.ok(&["images", "--format", "json"]).trim()).unwrap();
    assert_shape("images_format_json.json", &images);
    let volume: Value = serde_json::from_str(&e.s.ok(&["volume", "inspect", "data"])).unwrap();
    assert_shape("volume_inspect.json", &volume[0]);
    let volumes: Value =
        serde_json::from_str(e.s.ok(&["volume", "ls", "--format", "json"]).trim()).unwrap();
    assert_shape("volume_ls_format_json.json", &volumes);
    e.code(&["rm", "-f", "web"], 0);

    e.code(&["network", "create", "app"], 0);
    e.code(
        &[
            "run",
            "-d",
            "--name",
            "api",
            "--network",
            "app",
            "busybox",
            "sleep",
            "100",
        ],
        0,
    );
    let network: Value = serde_json::from_str(&e.s.ok(&["network", "inspect", "app"])).unwrap();
    assert_shape("network_inspect.json", &network[0]);
    let networks =
        e.s.ok(&["network", "ls", "--filter", "name=app", "--format", "json"]);
    let networks: Value = serde_json::from_str(networks.trim()).unwrap();
    assert_shape("network_ls_format_json.json", &networks);
    e.code(&["rm", "-f", "api"], 0);
}

#[test]
fn the_comparison_sees_missing_extra_reordered_and_retyped_fields() {
    let want = golden("container_inspect.json");
    let mut ours = want.clone();
    let obj = ours.as_object_mut().unwrap();
    obj.shift_remove("Driver");
    obj.insert("Extra".into(), Value::Bool(true));
    ours["State"]["Pid"] = Value::String("1".into());
    ours["HostConfig"]["PortBindings"]["80/tcp"][0]
        .as_object_mut()
        .unwrap()
        .shift_remove("HostIp");
    let mut diffs = Vec::new();
    compare("", &want, &ours, &mut diffs);
    assert_eq!(
        diffs,
        [
            "/Driver: missing",
            "/Extra: not in Docker's",
            "/State/Pid: Docker has number, strata string",
            "/HostConfig/PortBindings/*/0/HostIp: missing",
        ]
    );
    let mut reordered = serde_json::Map::new();
    let w = want.as_object().unwrap();
    for k in w.keys().rev() {
        reordered.insert(k.clone(), w[k].clone());
    }
    let mut diffs = Vec::new();
    compare("", &want, &Value::Object(reordered), &mut diffs);
    assert_eq!(diffs.len(), 1, "{diffs:?}");
    assert!(diffs[0].starts_with(": key order"), "{diffs:?}");
}
