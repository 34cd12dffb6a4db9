//! Tests for `secrets.rs`: the `--secret` flag table, and loading values from files and env.

use super::*;

fn src(id: &str, from: SecretFrom) -> SecretSource {
    SecretSource {
        id: id.into(),
        from,
    }
}

fn file(p: &str) -> SecretFrom {
    SecretFrom::File(p.into())
}

fn env(v: &str) -> SecretFrom {
    SecretFrom::Env(v.into())
}

fn fake_env(vars: &[(&str, &str)]) -> EnvLookup {
    let vars: HashMap<String, OsString> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), OsString::from(v)))
        .collect();
    Box::new(move |k| vars.get(k).cloned())
}

#[test]
fn parses_docker_secret_flags() {
    let cases = [
        (
            "id=npm,src=/home/u/.npmrc",
            src("npm", file("/home/u/.npmrc")),
        ),
        ("id=npm,source=rel/npmrc", src("npm", file("rel/npmrc"))),
        ("ID=npm,SRC=f", src("npm", file("f"))),
        ("src=/home/u/.npmrc", src(".npmrc", file("/home/u/.npmrc"))),
        ("type=file,id=k,src=f", src("k", file("f"))),
        ("type=file,id=k", src("k", file("k"))),
        ("id=kube,env=KUBECONFIG", src("kube", env("KUBECONFIG"))),
        ("env=KUBECONFIG", src("KUBECONFIG", env("KUBECONFIG"))),
        ("type=env,id=tok,src=GH_TOKEN", src("tok", env("GH_TOKEN"))),
        ("type=env,src=GH_TOKEN", src("GH_TOKEN", env("GH_TOKEN"))),
        ("type=env,id=GH_TOKEN", src("GH_TOKEN", env("GH_TOKEN"))),
        ("id=API_TOKEN", src("API_TOKEN", SecretFrom::EnvOrFile)),
        ("\"id=a,b\",src=f", src("a,b", file("f"))),
    ];
    for (flag, want) in cases {
        let got = parse_secret_flag(flag).unwrap_or_else(|e| panic!("{flag}: {e}"));
        assert_eq!(got, want, "{flag}");
    }
}

#[test]
fn rejects_bad_secret_flags() {
    let cases = [
        ("id", "field \"id\" must be a key=value pair"),
        ("id=a,path=/x", "unknown key \"path\""),
        (
            "id=a,type=ssh",
            "unsupported type \"ssh\": expected file or env",
        ),
        ("type=file", "needs an id"),
        ("id=", "needs an id"),
        (
            "id=a,src=f,env=V",
            "sets both a file and an environment variable",
        ),
        ("id=a,\"src=f", "misplaced quote"),
    ];
    for (flag, want) in cases {
        let err = parse_secret_flag(flag).expect_err(flag).to_string();
        assert!(err.contains(want), "{flag}: got {err:?}, want {want:?}");
    }
}

#[test]
fn id_alone_takes_the_env_var_when_set_else_the_file() {
    let flags = vec![
        src("SET", SecretFrom::EnvOrFile),
        src("UNSET", SecretFrom::EnvOrFile),
    ];
    let s = Secrets::with_env(flags, fake_env(&[("SET", "from-env")]));
    assert_eq!(s.sources["SET"].0, env("SET"));
    assert_eq!(s.sources["UNSET"].0, file("UNSET"));
    assert_eq!(s.get("SET").unwrap().unwrap().as_bytes(), b"from-env");
}

#[test]
fn loads_files_and_env_once_and_lazily() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tok");
    let missing = dir.path().join("missing");
    let flags = vec![
        src("f", SecretFrom::File(path.clone())),
        src("e", env("TOKEN")),
        src("unset", env("NOPE")),
        // Read lazily: a missing file is only an error when the secret is used.
        src("gone", SecretFrom::File(missing.clone())),
    ];
    let s = Secrets::with_env(flags, fake_env(&[("TOKEN", "t0k")]));
    std::fs::write(&path, b"hunter2\n").unwrap();

    assert_eq!(s.get("f").unwrap().unwrap().as_bytes(), b"hunter2\n");
    std::fs::write(&path, b"changed").unwrap();
    assert_eq!(
        s.get("f").unwrap().unwrap().as_bytes(),
        b"hunter2\n",
        "kept for the build"
    );
    assert_eq!(s.get("e").unwrap().unwrap().as_bytes(), b"t0k");
    assert_eq!(s.get("unset").unwrap().unwrap().as_bytes(), b"");
    assert!(s.get("other").unwrap().is_none());
    assert!(s.contains("f") && !s.contains("other"));

    let err = s.get("gone").unwrap_err().to_string();
    assert!(
        err.contains("secret \"gone\": cannot read") && err.contains(&*missing.to_string_lossy()),
        "{err}"
    );
}

#[test]
fn later_flag_with_the_same_id_wins() {
    let flags = vec![src("a", env("ONE")), src("a", env("TWO"))];
    let s = Secrets::with_env(flags, fake_env(&[("ONE", "1"), ("TWO", "2")]));
    assert_eq!(s.get("a").unwrap().unwrap().as_bytes(), b"2");
}

#[test]
fn refuses_secrets_over_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big");
    std::fs::write(&path, vec![b'x'; MAX_SECRET_SIZE as usize + 1]).unwrap();
    let at_limit = dir.path().join("ok");
    std::fs::write(&at_limit, vec![b'x'; MAX_SECRET_SIZE as usize]).unwrap();
    let s = Secrets::new(vec![
        src("big", SecretFrom::File(path)),
        src("ok", SecretFrom::File(at_limit)),
    ]);
    let err = s.get("big").unwrap_err().to_string();
    assert!(err.contains("secret \"big\" is 512001 bytes"), "{err}");
    assert_eq!(
        s.get("ok").unwrap().unwrap().as_bytes().len(),
        MAX_SECRET_SIZE as usize
    );
}

#[test]
fn debug_never_prints_a_value() {
    let s = Secrets::with_env(
        vec![src("tok", env("T"))],
        fake_env(&[("T", "s3cr3t-value")]),
    );
    let v = s.get("tok").unwrap().unwrap();
    let dumped = format!("{v:?} {s:?} {:?}", Some(&v));
    assert!(!dumped.contains("s3cr3t"), "{dumped}");
    assert!(
        dumped.contains("12 bytes redacted") && dumped.contains("tok"),
        "{dumped}"
    );
}
