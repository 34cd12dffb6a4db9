//! `strata login`/`logout` against a real TLS + htpasswd registry on 127.0.0.1: the CA is trusted
//! only through a certs.d directory (`STRATA_CERTS_D`), the credential lands in `DOCKER_CONFIG`.

mod registry_tls_support;

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use registry_tls_support::{TlsRegistry, PASSWORD, USER};

const STRATA: &str = env!("CARGO_BIN_EXE_strata");

/// A Docker config dir and a certs.d dir for one strata client.
struct Client {
    tmp: tempfile::TempDir,
    docker_config: PathBuf,
    certs_d: PathBuf,
}

impl Client {
    /// A client whose certs.d trusts `ca` for `host` (or nothing, when `ca` is `None`).
    fn new(host: &str, ca: Option<&Path>) -> Client {
        let tmp = tempfile::Builder::new()
            .prefix("strata-login-")
            .tempdir()
            .unwrap();
        let docker_config = tmp.path().join("docker");
        let certs_d = tmp.path().join("certs.d");
        fs::create_dir_all(certs_d.join(host)).unwrap();
        if let Some(ca) = ca {
            fs::copy(ca, certs_d.join(host).join("ca.crt")).unwrap();
        }
        Client {
            tmp,
            docker_config,
            certs_d,
        }
    }

    fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut cmd = Command::new(STRATA);
        cmd.arg("--root")
            .arg(self.tmp.path().join("root"))
            .args(args)
            .env("DOCKER_CONFIG", &self.docker_config)
            .env("STRATA_CERTS_D", &self.certs_d)
            .env_remove("SSL_CERT_FILE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawning strata");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    fn config_path(&self) -> PathBuf {
        self.docker_config.join("config.json")
    }

    fn config(&self) -> serde_json::Value {
        serde_json::from_slice(&fs::read(self.config_path()).unwrap()).unwrap()
    }
}

fn describe(args: &[&str], out: &Output, reg: &TlsRegistry) -> String {
    format!(
        "strata {args:?}\nexit: {}\nstdout:\n{}\nstderr:\n{}\nregistry log (tail):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        reg.log()
            .lines()
            .rev()
            .take(15)
            .collect::<Vec<_>>()
            .join("\n")
    )
}

fn b64(s: &str) -> String {
    let out = Command::new("base64")
        .arg("-w0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(s.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn login_saves_a_verified_credential_and_logout_removes_it() {
    let reg = TlsRegistry::start();
    let host = reg.host();
    let client = Client::new(&host, Some(&reg.ca_cert));
    // Other settings in the user's file survive the login.
    fs::create_dir_all(&client.docker_config).unwrap();
    fs::write(client.config_path(), r#"{"psFormat": "keep-me"}"#).unwrap();

    let args = ["login", "-u", USER, "--password-stdin", &host];
    let out = client.run(&args, &format!("{PASSWORD}\n"));
    let what = describe(&args, &out, &reg);
    assert!(out.status.success(), "{what}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Login Succeeded\n",
        "{what}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains(PASSWORD),
        "{what}"
    );

    let config = client.config();
    assert_eq!(
        config["auths"][&host]["auth"].as_str(),
        Some(b64(&format!("{USER}:{PASSWORD}")).as_str()),
        "{config}"
    );
    assert_eq!(config["psFormat"], "keep-me");
    let mode = fs::metadata(client.config_path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // The credential was checked: the registry challenged us, then authorized the retry.
    let log = reg.log();
    assert!(log.contains(r#""GET /v2/ HTTP/1.1" 401"#), "{log}");
    assert!(log.contains(r#""GET /v2/ HTTP/1.1" 200"#), "{log}");
    assert!(log.contains("authorized request"), "{log}");

    let args = ["logout", &host];
    let out = client.run(&args, "");
    let what = describe(&args, &out, &reg);
    assert!(out.status.success(), "{what}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("Removing login credentials for {host}\n"),
        "{what}"
    );
    let config = client.config();
    assert!(config["auths"].get(&host).is_none(), "{config}");
    assert_eq!(config["psFormat"], "keep-me");

    let out = client.run(&args, "");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("Not logged in to {host}\n")
    );
}

#[test]
fn wrong_password_is_unauthorized_and_saves_nothing() {
    let reg = TlsRegistry::start();
    let host = reg.host();
    let client = Client::new(&host, Some(&reg.ca_cert));
    let args = ["login", "-u", USER, "--password-stdin", &host];
    let out = client.run(&args, "not-the-password\n");
    let what = describe(&args, &out, &reg);
    assert!(!out.status.success(), "{what}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The registry's own words after ours.
    assert!(
        stderr.contains("unauthorized: authentication required"),
        "{what}"
    );
    assert!(!stderr.contains("not-the-password"), "{what}");
    assert!(!client.config_path().exists(), "{what}");
    assert!(out.stdout.is_empty(), "{what}");
}

#[test]
fn untrusted_certificate_is_a_certificate_error() {
    let reg = TlsRegistry::start();
    let host = reg.host();
    // certs.d has a directory for the host, but no CA in it.
    let client = Client::new(&host, None);
    let args = ["login", "-u", USER, "--password-stdin", &host];
    let out = client.run(&args, PASSWORD);
    let what = describe(&args, &out, &reg);
    assert!(!out.status.success(), "{what}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("failed to verify certificate"), "{what}");
    assert!(stderr.contains(&host), "{what}");
    assert!(!client.config_path().exists(), "{what}");
}

#[test]
fn login_refuses_incomplete_arguments() {
    // No registry is contacted: these fail before any request.
    let client = Client::new("127.0.0.1:9", None);
    for (args, want) in [
        (
            &["login", "--password-stdin", "127.0.0.1:9"][..],
            "must provide --username with --password-stdin",
        ),
        (
            &["login", "-u", "x", "127.0.0.1:9"][..],
            "cannot perform an interactive login from a non TTY device",
        ),
        (
            &["login", "-u", "x", "--password-stdin", "127.0.0.1:9"][..],
            "password is empty",
        ),
    ] {
        let out = client.run(args, "");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert!(!client.config_path().exists());
    }
}

/// The store of `client` gets a one-layer image `name` imported from a tiny rootfs.
fn import_small(client: &Client, name: &str) {
    let rootfs = client.tmp.path().join("rootfs");
    fs::create_dir_all(rootfs.join("etc")).unwrap();
    fs::write(rootfs.join("etc/hello"), "hello over tls\n").unwrap();
    let out = client.run(&["import", rootfs.to_str().unwrap(), name], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn after_login_push_and_pull_work_over_tls_and_a_wrong_password_is_unauthorized() {
    let reg = TlsRegistry::start();
    let host = reg.host();
    let remote = format!("{host}/team/small:1");

    // Without credentials the push is refused in the user's terms.
    let anon = Client::new(&host, Some(&reg.ca_cert));
    import_small(&anon, &remote);
    let out = anon.run(&["push", &remote], "");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.to_lowercase().contains("unauthorized"), "{err}");

    // A wrong password does not log in, and a push still fails the same way.
    let out = anon.run(&["login", "-u", USER, "--password-stdin", &host], "nope\n");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unauthorized"));

    let pusher = Client::new(&host, Some(&reg.ca_cert));
    import_small(&pusher, &remote);
    let out = pusher.run(
        &["login", "-u", USER, "--password-stdin", &host],
        &format!("{PASSWORD}\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = pusher.run(&["push", &remote], "");
    let pushed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", describe(&["push"], &out, &reg));
    assert!(pushed.contains("digest: sha256:"), "{pushed}");
    assert!(!pushed.contains(PASSWORD) && !String::from_utf8_lossy(&out.stderr).contains(PASSWORD));

    // A second client logs in and pulls it back, over TLS trusted through certs.d only.
    let puller = Client::new(&host, Some(&reg.ca_cert));
    let out = puller.run(
        &["login", "-u", USER, "--password-stdin", &host],
        &format!("{PASSWORD}\n"),
    );
    assert!(out.status.success());
    let out = puller.run(&["pull", &remote], "");
    assert!(out.status.success(), "{}", describe(&["pull"], &out, &reg));
    let digest = pushed
        .split_whitespace()
        .find(|w| w.starts_with("sha256:"))
        .unwrap()
        .to_string();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&digest),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
