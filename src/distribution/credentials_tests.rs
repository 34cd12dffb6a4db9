//! Table tests for the Docker config file and credential helpers, each in a temp config dir; the
//! helpers are shell scripts found through an explicit search path, never the process's `PATH`.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use serde_json::json;

use super::*;

fn write_config(dir: &Path, v: &Value) {
    fs::write(dir.join("config.json"), serde_json::to_vec(v).unwrap()).unwrap();
}

fn read_config(dir: &Path) -> Value {
    serde_json::from_slice(&fs::read(dir.join("config.json")).unwrap()).unwrap()
}

fn pw(u: &str, p: &str) -> Option<Credential> {
    Some(Credential::password(u, p))
}

#[test]
fn config_keys_follow_docker() {
    for (input, key) in [
        ("docker.io", DOCKER_HUB_KEY),
        ("index.docker.io", DOCKER_HUB_KEY),
        ("registry-1.docker.io", DOCKER_HUB_KEY),
        ("https://index.docker.io/v1/", DOCKER_HUB_KEY),
        ("", DOCKER_HUB_KEY),
        ("localhost:5000", "localhost:5000"),
        ("127.0.0.1:5000", "127.0.0.1:5000"),
        ("https://reg.example.com/v2/", "reg.example.com"),
        ("http://reg.example.com:8443", "reg.example.com:8443"),
        ("ghcr.io", "ghcr.io"),
        ("[::1]:5000", "[::1]:5000"),
    ] {
        assert_eq!(config_key(input), key, "{input:?}");
    }
}

#[test]
fn lookup_reads_auths_entries() {
    let cases: &[(&str, Value, &str, Option<Credential>)] = &[
        (
            "base64 auth",
            json!({"auths": {"reg:5000": {"auth": "dXNlcjpwYTpzcw=="}}}),
            "reg:5000",
            pw("user", "pa:ss"),
        ),
        (
            "https key with a path matches host:port",
            json!({"auths": {"https://reg:5000/v1/": {"auth": "dXNlcjpwYXNz"}}}),
            "reg:5000",
            pw("user", "pass"),
        ),
        (
            "hub alias",
            json!({"auths": {"https://index.docker.io/v1/": {"auth": "aHViOnNlY3JldA=="}}}),
            "docker.io",
            pw("hub", "secret"),
        ),
        (
            "hub written as a bare host",
            json!({"auths": {"docker.io": {"auth": "aHViOnNlY3JldA=="}}}),
            "registry-1.docker.io",
            pw("hub", "secret"),
        ),
        (
            "plain username/password fields",
            json!({"auths": {"reg": {"username": "u", "password": "p"}}}),
            "reg",
            pw("u", "p"),
        ),
        (
            "identity token",
            json!({"auths": {"reg": {"auth": "dTo=", "identitytoken": "tok"}}}),
            "reg",
            Some(Credential {
                username: "u".into(),
                secret: "tok".into(),
                identity_token: true,
            }),
        ),
        (
            "other registry only",
            json!({"auths": {"other:5000": {"auth": "dXNlcjpwYXNz"}}}),
            "reg:5000",
            None,
        ),
        (
            "port matters",
            json!({"auths": {"reg:5001": {"auth": "dXNlcjpwYXNz"}}}),
            "reg:5000",
            None,
        ),
        (
            "empty entry left by a credential store",
            json!({"auths": {"reg": {}}}),
            "reg",
            None,
        ),
        ("no auths at all", json!({"HttpHeaders": {}}), "reg", None),
    ];
    for (name, config, host, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        write_config(dir.path(), config);
        let got = lookup_in(dir.path(), host).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&got, want, "{name}");
    }
}

#[test]
fn lookup_without_a_file_finds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(lookup_in(&dir.path().join("absent"), "reg").unwrap(), None);
}

#[test]
fn malformed_configs_are_errors_without_secrets() {
    for (config, want) in [
        ("{", "invalid JSON"),
        ("[]", "not a JSON object"),
        (
            r#"{"auths": {"reg": {"auth": "!!secret!!"}}}"#,
            "not base64",
        ),
        (
            r#"{"auths": {"reg": {"auth": "bm9jb2xvbg=="}}}"#,
            "not base64",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("config.json"), config).unwrap();
        let err = lookup_in(dir.path(), "reg").unwrap_err().to_string();
        assert!(err.contains(want), "{config}: {err}");
        assert!(!err.contains("secret") && !err.contains("nocolon"), "{err}");
        assert!(err.contains("config.json"), "{err}");
    }
}

#[test]
fn save_keeps_other_fields_and_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let before = json!({
        "auths": {"other:1": {"auth": "b3RoZXI6eA=="}},
        "HttpHeaders": {"User-Agent": "x"},
        "psFormat": "table {{.ID}}",
        "proxies": {"default": {"httpProxy": "http://p:3128"}},
    });
    write_config(dir.path(), &before);
    fs::set_permissions(
        dir.path().join("config.json"),
        fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    save_in(
        dir.path(),
        "reg:5000",
        &Credential::password("user", "pass"),
    )
    .unwrap();
    let after = read_config(dir.path());
    assert_eq!(after["auths"]["reg:5000"], json!({"auth": "dXNlcjpwYXNz"}));
    for field in ["HttpHeaders", "psFormat", "proxies"] {
        assert_eq!(after[field], before[field], "{field}");
    }
    assert_eq!(after["auths"]["other:1"], before["auths"]["other:1"]);
    // Key order is kept too, so a diff of the user's file stays small.
    let keys: Vec<&String> = after.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["auths", "HttpHeaders", "psFormat", "proxies"]);
    let mode = fs::metadata(dir.path().join("config.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(
        lookup_in(dir.path(), "reg:5000").unwrap(),
        pw("user", "pass")
    );
}

#[test]
fn save_creates_the_directory_and_hub_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("new/.docker");
    let tok = Credential {
        username: "me".into(),
        secret: "refresh".into(),
        identity_token: true,
    };
    save_in(&dir, "docker.io", &tok).unwrap();
    let v = read_config(&dir);
    assert_eq!(
        v["auths"][DOCKER_HUB_KEY],
        json!({"auth": "bWU6", "identitytoken": "refresh"})
    );
    assert_eq!(lookup_in(&dir, "index.docker.io").unwrap(), Some(tok));
    let mode = fs::metadata(&dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[test]
fn erase_removes_every_spelling_of_the_registry() {
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        &json!({"auths": {
            "reg:5000": {"auth": "dXNlcjpwYXNz"},
            "https://reg:5000/v1/": {"auth": "dXNlcjpwYXNz"},
            "keep:5000": {"auth": "dXNlcjpwYXNz"},
        }, "credHelpers": {}}),
    );
    assert!(erase_in(dir.path(), "reg:5000").unwrap());
    let v = read_config(dir.path());
    assert_eq!(v["auths"], json!({"keep:5000": {"auth": "dXNlcjpwYXNz"}}));
    assert_eq!(v["credHelpers"], json!({}));
    assert!(!erase_in(dir.path(), "reg:5000").unwrap());
    assert!(!erase_in(&dir.path().join("none"), "reg:5000").unwrap());
}

#[test]
fn debug_never_shows_the_secret() {
    let c = Credential::password("alice", "hunter2");
    let shown = format!("{c:?}");
    assert!(
        shown.contains("alice") && !shown.contains("hunter2"),
        "{shown}"
    );
    assert_eq!(c.basic_auth(), "Basic YWxpY2U6aHVudGVyMg==");
}

/// A fake `docker-credential-test` keeping one file per server URL in its own directory, plus a
/// `docker-credential-broken` that always fails.
struct Helpers {
    dir: tempfile::TempDir,
}

/// Writes a script from another process: a write descriptor open in this one would be
/// inherited by a child another test forks meanwhile, and executing the script before that
/// child reaches its own exec fails with ETXTBSY (a flaky "Text file busy").
fn write_executable(path: &Path, text: &str) {
    use std::io::Write;
    let mut sh = std::process::Command::new("sh")
        .args(["-c", r#"cat > "$1" && chmod 755 "$1""#, "sh"])
        .arg(path)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    sh.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    assert!(sh.wait().unwrap().success(), "writing {}", path.display());
}

impl Helpers {
    fn new() -> Helpers {
        let dir = tempfile::tempdir().unwrap();
        let script = r#"#!/bin/sh
d=$(dirname "$0")
case "$1" in
get)
  IFS= read -r url || true
  printf '%s' "$url" > "$d/get-input"
  f="$d/cred-$(printf '%s' "$url" | tr -c 'a-zA-Z0-9' _)"
  if [ -f "$f" ]; then cat "$f"; else echo "credentials not found in native keychain"; exit 1; fi ;;
store)
  cat > "$d/stored" ;;
erase)
  IFS= read -r url || true
  f="$d/cred-$(printf '%s' "$url" | tr -c 'a-zA-Z0-9' _)"
  [ -f "$f" ] || { echo "credentials not found in native keychain"; exit 1; }
  rm "$f" ;;
*) exit 3 ;;
esac
"#;
        let broken = "#!/bin/sh\necho 'keychain is locked' >&2\nexit 2\n";
        for (name, text) in [("test", script), ("broken", broken)] {
            let p = dir.path().join(format!("docker-credential-{name}"));
            write_executable(&p, text);
        }
        Helpers { dir }
    }

    fn put(&self, url: &str, username: &str, secret: &str) {
        let safe: String = url
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let v = json!({"ServerURL": url, "Username": username, "Secret": secret});
        fs::write(self.dir.path().join(format!("cred-{safe}")), v.to_string()).unwrap();
    }

    fn store_for(&self, config: &Path) -> CredStore {
        CredStore::new(config).with_helper_path(self.dir.path())
    }
}

#[test]
fn helpers_are_asked_before_the_file() {
    let helpers = Helpers::new();
    helpers.put("reg:5000", "huser", "hsecret");
    helpers.put(DOCKER_HUB_KEY, "<token>", "idtok");
    let cases: &[(&str, Value, &str, Option<Credential>, &str)] = &[
        (
            "credsStore wins over auths",
            json!({"credsStore": "test", "auths": {"reg:5000": {"auth": "dXNlcjpwYXNz"}}}),
            "reg:5000",
            pw("huser", "hsecret"),
            "reg:5000",
        ),
        (
            "credHelpers for the host",
            json!({"credHelpers": {"reg:5000": "test"}}),
            "reg:5000",
            pw("huser", "hsecret"),
            "reg:5000",
        ),
        (
            "credHelpers beats credsStore",
            json!({"credsStore": "broken", "credHelpers": {"reg:5000": "test"}}),
            "reg:5000",
            pw("huser", "hsecret"),
            "reg:5000",
        ),
        (
            "hub gets its URL key and a token",
            json!({"credHelpers": {"docker.io": "test"}}),
            "docker.io",
            Some(Credential {
                username: String::new(),
                secret: "idtok".into(),
                identity_token: true,
            }),
            DOCKER_HUB_KEY,
        ),
        (
            "helper knows nothing",
            json!({"credsStore": "test"}),
            "unknown:1",
            None,
            "unknown:1",
        ),
        (
            "another host's helper is not used",
            json!({"credHelpers": {"other": "broken"}, "auths": {"reg:5000": {"auth": "dXNlcjpwYXNz"}}}),
            "reg:5000",
            pw("user", "pass"),
            "",
        ),
    ];
    for (name, config, host, want, asked) in cases {
        let dir = tempfile::tempdir().unwrap();
        write_config(dir.path(), config);
        let _ = fs::remove_file(helpers.dir.path().join("get-input"));
        let got = helpers
            .store_for(dir.path())
            .lookup(host)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&got, want, "{name}");
        let input = fs::read_to_string(helpers.dir.path().join("get-input")).unwrap_or_default();
        assert_eq!(input, *asked, "{name}: server URL given to the helper");
    }
}

#[test]
fn helper_failures_name_the_helper() {
    let helpers = Helpers::new();
    for (config, want) in [
        (
            json!({"credsStore": "broken"}),
            "credential helper docker-credential-broken get failed: keychain is locked",
        ),
        (
            json!({"credHelpers": {"reg": "nonesuch"}}),
            "credential helper docker-credential-nonesuch not found in PATH",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        write_config(dir.path(), &config);
        let err = helpers.store_for(dir.path()).lookup("reg").unwrap_err();
        assert_eq!(err.to_string(), want);
    }
}

#[test]
fn save_and_erase_go_through_the_helper() {
    let helpers = Helpers::new();
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &json!({"credsStore": "test", "auths": {}}));
    let store = helpers.store_for(dir.path());
    store
        .save("reg:5000", &Credential::password("u", "s3cret"))
        .unwrap();
    let stored: Value =
        serde_json::from_slice(&fs::read(helpers.dir.path().join("stored")).unwrap()).unwrap();
    assert_eq!(
        stored,
        json!({"ServerURL": "reg:5000", "Username": "u", "Secret": "s3cret"})
    );
    // The file gets an empty marker entry and never the secret.
    let text = fs::read_to_string(dir.path().join("config.json")).unwrap();
    assert!(!text.contains("s3cret"), "{text}");
    assert_eq!(read_config(dir.path())["auths"], json!({"reg:5000": {}}));

    helpers.put("reg:5000", "u", "s3cret");
    assert!(store.erase("reg:5000").unwrap());
    assert_eq!(store.lookup("reg:5000").unwrap(), None);
    assert_eq!(read_config(dir.path())["auths"], json!({}));
    assert!(!store.erase("reg:5000").unwrap());
}
