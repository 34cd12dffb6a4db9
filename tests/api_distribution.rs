//! `GET /distribution/{name}/json` of `strata system service` as docker-py's
//! `images.get_registry_data` uses it: against Debian's `docker-registry` on 127.0.0.1 (a
//! pushed image, an index put there by hand, a missing repository) and a scripted registry
//! that wants the credential `X-Registry-Auth` carries. Nothing leaves loopback.

mod api_support;
mod common;
mod registry_support;

use api_support::Service;
use common::Strata;
use registry_support::scripted::serve;
use registry_support::Registry;
use serde_json::{json, Value};

#[test]
fn registry_data_of_an_image_and_an_index() {
    let s = Strata::new();
    let reg = Registry::start();
    let svc = Service::start(&s, &["--time", "0"]);
    s.import_busybox("busybox");
    let remote = format!("{}/rd/busybox:1", reg.host());
    svc.docker_ok(&["tag", "busybox", &remote]);
    let pushed = svc.docker_ok(&["push", &remote]);
    let digest = pushed
        .split_whitespace()
        .find(|w| w.starts_with("sha256:"))
        .unwrap_or_else(|| panic!("no digest in {pushed}"))
        .to_string();

    let r = svc.python_json(&format!(
        r#"
import docker, hashlib, json, urllib.request
host = {host:?}
c = docker.from_env()
r = {{}}
arch = c.version()['Arch']
rd = c.images.get_registry_data(host + '/rd/busybox:1')
r['id'] = rd.id
r['short'] = rd.short_id
r['attrs'] = rd.attrs
r['arch'] = arch
r['has_host'] = [rd.has_platform('linux/' + arch), rd.has_platform({{'os': 'linux'}})]
r['has_other'] = rd.has_platform('linux/s390x')
r['by_digest'] = c.images.get_registry_data(host + '/rd/busybox@' + rd.id).id

# An index naming the same manifest for two platforms, put on the registry directly.
desc = rd.attrs['Descriptor']
index = json.dumps({{'schemaVersion': 2,
    'mediaType': 'application/vnd.oci.image.index.v1+json',
    'manifests': [
        dict(desc, platform={{'architecture': arch, 'os': 'linux'}}),
        dict(desc, platform={{'architecture': 'arm', 'os': 'linux', 'variant': 'v7'}}),
    ]}}).encode()
req = urllib.request.Request('http://' + host + '/v2/rd/busybox/manifests/multi', data=index,
    method='PUT', headers={{'Content-Type': 'application/vnd.oci.image.index.v1+json'}})
urllib.request.urlopen(req).read()
multi = c.images.get_registry_data(host + '/rd/busybox:multi')
r['multi_desc'] = multi.attrs['Descriptor']
r['multi_want'] = ['sha256:' + hashlib.sha256(index).hexdigest(), len(index)]
r['multi_platforms'] = multi.attrs['Platforms']
r['multi_has'] = [multi.has_platform('linux/arm/v7'), multi.has_platform('linux/arm64')]

try:
    c.images.get_registry_data(host + '/rd/nosuch:1')
    r['missing'] = 'found'
except docker.errors.NotFound as e:
    r['missing'] = [e.status_code, e.explanation]
print(json.dumps(r))
"#,
        host = reg.host()
    ));
    let arch = r["arch"].as_str().unwrap().to_string();
    assert_eq!(r["id"], digest, "{r}");
    assert_eq!(r["short"], digest[..19], "{r}");
    let attrs = &r["attrs"];
    assert_eq!(attrs["Descriptor"]["digest"], digest, "{r}");
    assert!(
        attrs["Descriptor"]["mediaType"]
            .as_str()
            .unwrap()
            .ends_with("manifest.v1+json")
            || attrs["Descriptor"]["mediaType"]
                .as_str()
                .unwrap()
                .ends_with("manifest.v2+json"),
        "{r}"
    );
    assert!(attrs["Descriptor"]["size"].as_u64().unwrap() > 100, "{r}");
    assert_eq!(
        attrs["Platforms"],
        json!([{"architecture": arch, "os": "linux"}]),
        "{r}"
    );
    assert_eq!(r["has_host"], json!([true, true]), "{r}");
    assert_eq!(r["has_other"], false, "{r}");
    assert_eq!(r["by_digest"], digest, "{r}");
    assert_eq!(
        r["multi_desc"],
        json!({
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": r["multi_want"][0],
            "size": r["multi_want"][1],
        }),
        "{r}"
    );
    assert_eq!(
        r["multi_platforms"],
        json!([
            {"architecture": arch, "os": "linux"},
            {"architecture": "arm", "os": "linux", "variant": "v7"}
        ]),
        "{r}"
    );
    assert_eq!(r["multi_has"], json!([true, false]), "{r}");
    assert_eq!(r["missing"][0], 404, "{r}");
    // The registry's own code and message, as dockerd relays them.
    assert_eq!(r["missing"][1], "manifest unknown: manifest unknown", "{r}");

    // Shapes curl sees: a path without `/json` is no endpoint; an image ID names no
    // repository; a malformed name is a 400.
    assert_eq!(
        svc.curl(&[], &format!("/v1.50/distribution/{remote}"))
            .status,
        404
    );
    let bad = svc.curl(&[], "/v1.50/distribution/Bad/Name/json");
    assert_eq!(bad.status, 400, "{bad:?}");
    assert!(bad.json()["message"]
        .as_str()
        .unwrap()
        .starts_with("invalid reference format"));
}

#[test]
fn registry_data_with_and_without_the_credential_it_needs() {
    // base64("u:p")
    let (port, seen) = serve(|line, auth, _| {
        let unauthorized = (
            401,
            vec![("WWW-Authenticate", r#"Basic realm="t""#.to_string())],
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#.into(),
        );
        if auth != Some("Basic dTpw") {
            return unauthorized;
        }
        if line.starts_with("GET /v2/locked/manifests/1 ") {
            let index = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","size":1,"platform":{"architecture":"riscv64","os":"linux"}}]}"#;
            return (
                200,
                vec![(
                    "Content-Type",
                    "application/vnd.oci.image.index.v1+json".to_string(),
                )],
                index.into(),
            );
        }
        (200, vec![], "{}".into())
    });
    let s = Strata::new();
    let svc = Service::start(&s, &["--time", "0"]);
    let r = svc.python_json(&format!(
        r#"
import docker, json
c = docker.from_env()
name = '127.0.0.1:{port}/locked:1'
r = {{}}
try:
    c.images.get_registry_data(name)
    r['anonymous'] = 'found'
except docker.errors.APIError as e:
    r['anonymous'] = [e.status_code, e.explanation]
rd = c.images.get_registry_data(name, auth_config={{'username': 'u', 'password': 'p'}})
r['platforms'] = rd.attrs['Platforms']
r['has'] = rd.has_platform('linux/riscv64')
print(json.dumps(r))
"#
    ));
    assert_eq!(
        r["anonymous"],
        json!([401, "unauthorized: authentication required"]),
        "{r}"
    );
    assert_eq!(
        r["platforms"],
        json!([{"architecture": "riscv64", "os": "linux"}]),
        "{r}"
    );
    assert_eq!(r["has"], true, "{r}");
    // The credential reached the registry only from the request that carried it.
    let seen = seen.lock().unwrap();
    assert!(seen.iter().any(|x| x.auth.as_deref() == Some("Basic dTpw")));
}

/// A v1 search answer with three repositories.
const SEARCH_ANSWER: &str = r#"{"num_results":3,"query":"app","results":[
    {"name":"team/app","description":"the app","star_count":12,"is_official":false,"is_automated":false},
    {"name":"app","description":"official app","star_count":40,"is_official":true,"is_automated":false},
    {"name":"other/app-tools","description":"","star_count":1,"is_official":false,"is_automated":false}]}"#;

#[test]
fn image_search_is_forwarded_to_the_registry_the_term_names() {
    let (port, seen) = serve(|line, _, _| {
        if line.starts_with("GET /v1/search?q=app&n=") {
            return (200, vec![], SEARCH_ANSWER.into());
        }
        (404, vec![], "404 page not found\n".into())
    });
    let reg = Registry::start();
    let s = Strata::new();
    let svc = Service::start(&s, &["--time", "0"]);
    let r = svc.python_json(&format!(
        r#"
import docker, json
c = docker.from_env()
r = {{}}
found = c.images.search('127.0.0.1:{port}/app')
r['all'] = found
r['limited'] = [x['name'] for x in c.api.search('127.0.0.1:{port}/app', limit=2)]
def err(term, **kw):
    try:
        c.api.search(term, **kw)
        return 'found'
    except docker.errors.APIError as e:
        return [e.status_code, e.explanation]
r['no_search'] = err('{reg}/app')
r['scheme'] = err('http://127.0.0.1:{port}/app')
r['limit'] = err('127.0.0.1:{port}/app', limit=101)
print(json.dumps(r))
"#,
        reg = reg.host()
    ));
    assert_eq!(
        r["all"],
        json!([
            {"name": "team/app", "description": "the app", "star_count": 12,
             "is_official": false, "is_automated": false},
            {"name": "app", "description": "official app", "star_count": 40,
             "is_official": true, "is_automated": false},
            {"name": "other/app-tools", "description": "", "star_count": 1,
             "is_official": false, "is_automated": false}
        ]),
        "{r}"
    );
    assert_eq!(
        r["limited"],
        json!(["team/app", "app", "other/app-tools"]),
        "{r}"
    );
    // Filters apply to what the registry answered.
    let names = |filters: &str| -> Value {
        let reply = svc.curl(
            &[
                "-G",
                "--data-urlencode",
                &format!("term=127.0.0.1:{port}/app"),
                "--data-urlencode",
                &format!("filters={filters}"),
            ],
            "/v1.50/images/search",
        );
        assert_eq!(reply.status, 200, "{reply:?}");
        reply
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["name"].clone())
            .collect()
    };
    assert_eq!(names(r#"{"is-official":["true"]}"#), json!(["app"]));
    assert_eq!(names(r#"{"stars":["10"]}"#), json!(["team/app", "app"]));
    let bad = svc.curl(
        &[
            "-G",
            "--data-urlencode",
            "term=x/y",
            "--data-urlencode",
            r#"filters={"bogus":["1"]}"#,
        ],
        "/v1.50/images/search",
    );
    assert_eq!(bad.status, 400, "{bad:?}");
    // Debian's registry has no v1 search: dockerd's 500.
    assert_eq!(
        r["no_search"],
        json!([500, "Unexpected status code 404"]),
        "{r}"
    );
    assert_eq!(r["scheme"][0], 400, "{r}");
    assert!(
        r["scheme"][1]
            .as_str()
            .unwrap()
            .contains("should not have a scheme"),
        "{r}"
    );
    assert_eq!(
        r["limit"],
        json!([400, "limit 101 is outside the range of [1, 100]"]),
        "{r}"
    );
    // The limit travels as `n` (25 unless given), the term without its registry as `q`.
    let lines: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|x| x.line.clone())
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("GET /v1/search?q=app&n=25 ")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("GET /v1/search?q=app&n=2 ")),
        "{lines:?}"
    );

    // The docker CLI's table.
    let out = svc.docker_ok(&["search", &format!("127.0.0.1:{port}/app")]);
    let mut rows = out.lines();
    let header = rows.next().unwrap_or_default();
    assert!(
        header.starts_with("NAME") && header.contains("STARS") && header.contains("OFFICIAL"),
        "{out}"
    );
    let team = out
        .lines()
        .find(|l| l.starts_with("team/app "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(team.contains("the app") && team.contains("12"), "{out}");
}
