//! `strata system service` image writes driven by the real docker CLI and curl: push to and
//! pull from Debian's `docker-registry` on 127.0.0.1, and the pull of a missing repository.
//! Nothing leaves loopback.

mod api_support;
mod common;
mod registry_support;

use api_support::Service;
use common::Strata;
use registry_support::Registry;

/// The store's temp area (`store::layout::TMP_DIR`).
const TMP: &str = "tmp";

#[test]
fn docker_push_then_pull_restores_the_same_image() {
    let s = Strata::new();
    let reg = Registry::start();
    let svc = Service::start(&s, &[]);
    let id = s.import_busybox("busybox");
    let remote = format!("{}/x:1", reg.host());
    svc.docker_ok(&["tag", "busybox", &remote]);

    let pushed = svc.docker_ok(&["push", &remote]);
    assert!(
        pushed.contains(&format!("The push refers to repository [{}/x]", reg.host())),
        "{pushed}"
    );
    assert!(pushed.contains("Pushed"), "{pushed}");
    assert!(pushed.contains("1: digest: sha256:"), "{pushed}");
    // Pushing again finds every layer there.
    let again = svc.docker_ok(&["push", &remote]);
    assert!(again.contains("Layer already exists"), "{again}");

    svc.docker_ok(&["rmi", &remote]);
    svc.docker_ok(&["rmi", "busybox"]);
    let gone = svc.docker_fails(&["image", "inspect", &remote]);
    assert!(gone.contains("No such image"), "{gone}");
    // Reclaims the blobs too, so the pull downloads every layer.
    svc.docker_ok(&["image", "prune", "-a", "-f"]);

    let pulled = svc.docker_ok(&["pull", &remote]);
    assert!(pulled.contains("1: Pulling from x"), "{pulled}");
    assert!(pulled.contains("Pull complete"), "{pulled}");
    assert!(pulled.contains("Digest: sha256:"), "{pulled}");
    assert!(
        pulled.contains(&format!("Status: Downloaded newer image for {remote}")),
        "{pulled}"
    );
    let got = svc.docker_ok(&["image", "inspect", "-f", "{{.Id}}", &remote]);
    assert_eq!(got.trim(), id.trim());

    let up_to_date = svc.docker_ok(&["pull", &remote]);
    assert!(
        up_to_date.contains(&format!("Status: Image is up to date for {remote}")),
        "{up_to_date}"
    );
    // The same store: the CLI sees what the API pulled.
    let listed = s.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(listed.contains(&remote), "{listed}");
}

#[test]
fn pull_of_a_missing_repository_is_a_404_with_the_registry_message() {
    let s = Strata::new();
    let reg = Registry::start();
    let svc = Service::start(&s, &[]);
    let missing = format!("{}/nope:1", reg.host());
    let err = svc.docker_fails(&["pull", &missing]);
    assert!(err.contains("not found"), "{err}");

    let r = svc.curl(
        &["-X", "POST"],
        &format!("/v1.50/images/create?fromImage={}/nope&tag=1", reg.host()),
    );
    assert_eq!(r.status, 404, "{r:?}");
    let msg = r.json()["message"].as_str().unwrap_or_default().to_string();
    assert!(
        msg.contains("pulling") && msg.contains("not found"),
        "{msg}"
    );
    // The service keeps serving.
    assert_eq!(svc.curl(&[], "/_ping").body, "OK");
}

#[test]
fn push_with_registry_auth_header_and_stream_shape() {
    let s = Strata::new();
    let reg = Registry::start();
    let svc = Service::start(&s, &[]);
    s.import_busybox("busybox");
    let remote = format!("{}/y:2", reg.host());
    svc.docker_ok(&["tag", "busybox", &remote]);
    // base64url of {"username":"u","password":"p"}: an open registry ignores it.
    let r = svc.curl(
        &[
            "-X",
            "POST",
            "-H",
            "X-Registry-Auth: eyJ1c2VybmFtZSI6InUiLCJwYXNzd29yZCI6InAifQ==",
        ],
        &format!("/v1.50/images/{}/y/push?tag=2", reg.host()),
    );
    assert_eq!(r.status, 200, "{r:?}");
    let lines: Vec<serde_json::Value> = r
        .body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let aux = lines
        .iter()
        .find_map(|l| l.get("aux"))
        .unwrap_or_else(|| panic!("no aux in {lines:?}"));
    assert_eq!(aux["Tag"], "2");
    assert!(aux["Digest"].as_str().unwrap().starts_with("sha256:"));
    assert!(aux["Size"].as_u64().unwrap() > 0);
    assert!(lines.iter().all(|l| l.get("error").is_none()), "{lines:?}");
}

#[test]
fn docker_save_then_load_round_trips() {
    let s = Strata::new();
    let svc = Service::start(&s, &[]);
    let id = s.import_busybox("busybox");
    svc.docker_ok(&["tag", "busybox", "localhost/two:1"]);
    let tar = s.scratch("out").join("x.tar");
    let tar = tar.to_str().unwrap();
    svc.docker_ok(&["save", "-o", tar, "busybox", "localhost/two:1"]);
    let listing = common::tool("tar", &["-tf", tar]);
    assert!(listing.contains("manifest.json"), "{listing}");

    svc.docker_ok(&["rmi", "busybox", "localhost/two:1"]);
    assert!(svc
        .docker_fails(&["image", "inspect", "busybox"])
        .contains("No such image"));
    let loaded = svc.docker_ok(&["load", "-i", tar]);
    assert!(loaded.contains("Loaded image: busybox:latest"), "{loaded}");
    assert!(loaded.contains("Loaded image: localhost/two:1"), "{loaded}");
    let got = svc.docker_ok(&["image", "inspect", "-f", "{{.Id}}", "localhost/two:1"]);
    assert_eq!(got.trim(), id.trim());

    // The single-image form streams the same kind of archive.
    let r = svc.curl(&[], "/v1.50/images/busybox/get");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/x-tar"));
    assert!(r.body.contains("manifest.json"));
    let missing = svc.curl(&[], "/v1.50/images/get?names=nope");
    assert_eq!(missing.status, 404, "{missing:?}");
}

#[test]
fn load_of_a_truncated_archive_fails_and_loads_nothing() {
    let s = Strata::new();
    let svc = Service::start(&s, &[]);
    s.import_busybox("busybox");
    let tar = s.scratch("out").join("x.tar");
    let tar_s = tar.to_str().unwrap();
    svc.docker_ok(&["save", "-o", tar_s, "busybox"]);
    svc.docker_ok(&["rmi", "busybox"]);
    let bytes = std::fs::read(&tar).unwrap();
    let cut = s.scratch("out").join("cut.tar");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let r = svc.curl(
        &[
            "-X",
            "POST",
            "-H",
            "Expect:",
            "--data-binary",
            &format!("@{}", cut.display()),
        ],
        "/v1.50/images/load",
    );
    // As dockerd's: 200, the failure the stream's message.
    assert_eq!(r.status, 200, "{r:?}");
    let line = r.json();
    assert!(
        line["errorDetail"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("reading the archive")),
        "{r:?}"
    );
    let err = svc.docker_fails(&["load", "-i", cut.to_str().unwrap()]);
    assert!(err.contains("reading the archive"), "{err}");
    assert!(svc
        .docker_fails(&["image", "inspect", "busybox"])
        .contains("No such image"));
    let tmp: Vec<_> = std::fs::read_dir(s.root.join(TMP))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        tmp.iter()
            .all(|n| !n.to_string_lossy().starts_with("api-load-")),
        "{tmp:?}"
    );
    assert_eq!(svc.curl(&[], "/_ping").body, "OK");
}
