//! Table tests for `spec.rs`: every mount kind with its defaults and aliases, and every error.

use super::values::clean_path;
use super::*;

fn bind(target: &str, source: &str, from: Option<&str>, readwrite: bool) -> RunMount {
    RunMount::Bind(BindMount {
        target: target.into(),
        source: source.into(),
        from: from.map(Into::into),
        readwrite,
    })
}

fn cache(id: &str, target: &str) -> CacheMount {
    CacheMount {
        id: id.into(),
        target: target.into(),
        sharing: Sharing::Shared,
        from: None,
        source: None,
        mode: 0o755,
        uid: 0,
        gid: 0,
        readonly: false,
    }
}

fn secret(id: &str, target: Option<&str>, env: Option<&str>) -> SecretMount {
    SecretMount {
        id: id.into(),
        target: target.map(Into::into),
        env: env.map(Into::into),
        required: false,
        mode: 0o400,
        uid: 0,
        gid: 0,
    }
}

fn ssh(id: &str, target: Option<&str>) -> SshMount {
    SshMount {
        id: id.into(),
        target: target.map(Into::into),
        required: false,
        mode: 0o600,
        uid: 0,
        gid: 0,
    }
}

#[test]
fn parses_every_kind_with_defaults_and_aliases() {
    let cases: Vec<(&str, RunMount)> = vec![
        // bind: the default type, read-only unless rw
        ("target=/src", bind("/src", "/", None, false)),
        ("type=bind,dst=/src", bind("/src", "/", None, false)),
        (
            "type=BIND,destination=/s,src=app",
            bind("/s", "app", None, false),
        ),
        (
            "target=/s,source=/app,from=build",
            bind("/s", "/app", Some("build"), false),
        ),
        ("target=/s,rw", bind("/s", "/", None, true)),
        ("target=/s,readwrite=true", bind("/s", "/", None, true)),
        ("target=/s,RW=1", bind("/s", "/", None, true)),
        ("target=/s,ro=false", bind("/s", "/", None, true)),
        ("target=/s,rw,ro", bind("/s", "/", None, false)),
        ("target=/s,readonly=True", bind("/s", "/", None, false)),
        ("target=/a,target=/b", bind("/b", "/", None, false)),
        ("target=rel/dir", bind("rel/dir", "/", None, false)),
        ("\"target=/a,b\",src=x", bind("/a,b", "x", None, false)),
        ("\"target=/a\"\"q\"", bind("/a\"q", "/", None, false)),
        ("target=/s,id=ignored", bind("/s", "/", None, false)),
        // cache: id defaults to the cleaned target, writable
        (
            "type=cache,target=/root/.cache",
            RunMount::Cache(cache("/root/.cache", "/root/.cache")),
        ),
        (
            "type=cache,target=/c//d/./e/",
            RunMount::Cache(cache("/c/d/e", "/c//d/./e/")),
        ),
        (
            "type=cache,target=go/pkg",
            RunMount::Cache(cache("go/pkg", "go/pkg")),
        ),
        (
            "type=cache,id=gomod,target=/go",
            RunMount::Cache(cache("gomod", "/go")),
        ),
        (
            "type=cache,target=/c,sharing=LOCKED,mode=0700,uid=1000,gid=50,ro",
            RunMount::Cache(CacheMount {
                sharing: Sharing::Locked,
                mode: 0o700,
                uid: 1000,
                gid: 50,
                readonly: true,
                ..cache("/c", "/c")
            }),
        ),
        (
            "type=cache,target=/c,sharing=private,from=base,source=/seed,mode=755",
            RunMount::Cache(CacheMount {
                sharing: Sharing::Private,
                from: Some("base".into()),
                source: Some("/seed".into()),
                ..cache("/c", "/c")
            }),
        ),
        (
            "type=cache,target=/c,sharing=shared",
            RunMount::Cache(cache("/c", "/c")),
        ),
        // tmpfs
        (
            "type=tmpfs,target=/t",
            RunMount::Tmpfs(TmpfsMount {
                target: "/t".into(),
                size: None,
            }),
        ),
        (
            "type=tmpfs,dst=/t,size=64m",
            RunMount::Tmpfs(TmpfsMount {
                target: "/t".into(),
                size: Some(64 << 20),
            }),
        ),
        (
            "type=tmpfs,dst=/t,size=0",
            RunMount::Tmpfs(TmpfsMount {
                target: "/t".into(),
                size: None,
            }),
        ),
        // secret: id from source or target, target from id unless only env is asked
        (
            "type=secret,id=aws",
            RunMount::Secret(secret("aws", Some("/run/secrets/aws"), None)),
        ),
        (
            "type=secret,source=aws",
            RunMount::Secret(secret("aws", Some("/run/secrets/aws"), None)),
        ),
        (
            "type=secret,id=a/b",
            RunMount::Secret(secret("a/b", Some("/run/secrets/b"), None)),
        ),
        (
            "type=secret,target=/root/.npmrc",
            RunMount::Secret(secret(".npmrc", Some("/root/.npmrc"), None)),
        ),
        (
            "type=secret,id=tok,env=TOKEN",
            RunMount::Secret(secret("tok", None, Some("TOKEN"))),
        ),
        (
            "type=secret,id=tok,env=TOKEN,target=/t",
            RunMount::Secret(secret("tok", Some("/t"), Some("TOKEN"))),
        ),
        (
            "type=secret,id=k,required,mode=0440,uid=1,gid=2",
            RunMount::Secret(SecretMount {
                required: true,
                mode: 0o440,
                uid: 1,
                gid: 2,
                ..secret("k", Some("/run/secrets/k"), None)
            }),
        ),
        (
            "type=secret,id=k,required=false",
            RunMount::Secret(secret("k", Some("/run/secrets/k"), None)),
        ),
        // ssh
        ("type=ssh", RunMount::Ssh(ssh("default", None))),
        (
            "type=ssh,id=gh,target=/agent.sock",
            RunMount::Ssh(ssh("gh", Some("/agent.sock"))),
        ),
        (
            "type=ssh,required=true,mode=0666,uid=1000",
            RunMount::Ssh(SshMount {
                required: true,
                mode: 0o666,
                uid: 1000,
                ..ssh("default", None)
            }),
        ),
    ];
    for (spec, want) in cases {
        assert_eq!(
            parse_mount(spec).unwrap_or_else(|e| panic!("{spec}: {e}")),
            want,
            "{spec}"
        );
    }
}

#[test]
fn rejects_bad_specs_with_the_option_at_fault() {
    let cases = [
        ("", "empty mount spec"),
        ("target=/a,\"src", "misplaced quote in mount spec"),
        ("target=/a\"b\"", "misplaced quote"),
        ("\"target=/a\"x", "misplaced quote"),
        (
            "target=/a,bogus",
            "mount option \"bogus\" must be a key=value pair",
        ),
        ("target=/a,foo=1", "unknown mount option \"foo\""),
        (
            "type=volume,target=/a",
            "unsupported mount type \"volume\": expected bind, cache",
        ),
        ("type=bind", "mount type=bind needs a target"),
        ("type=cache,target=", "mount type=cache needs a target"),
        ("type=tmpfs,size=1m", "mount type=tmpfs needs a target"),
        ("target=/", "invalid mount target \"/\""),
        ("type=cache,target=/x/..", "invalid mount target \"/x/..\""),
        (
            "target=/a,ro=yes",
            "invalid value \"yes\" for mount option \"ro\": expected true or false",
        ),
        (
            "target=/a,rw=2",
            "invalid value \"2\" for mount option \"rw\"",
        ),
        (
            "type=secret,id=a,required=maybe",
            "invalid value \"maybe\" for mount option \"required\"",
        ),
        (
            "type=cache,target=/c,mode=0789",
            "invalid mode \"0789\": expected an octal number",
        ),
        ("type=cache,target=/c,mode=", "invalid mode \"\""),
        (
            "type=cache,target=/c,uid=-1",
            "invalid uid \"-1\": expected a decimal number",
        ),
        ("type=cache,target=/c,gid=x", "invalid gid \"x\""),
        (
            "type=tmpfs,target=/t,size=12q",
            "invalid tmpfs size \"12q\"",
        ),
        (
            "type=cache,target=/c,sharing=x",
            "invalid sharing mode \"x\": expected shared, private or locked",
        ),
        (
            "target=/a,mode=0700",
            "mount option \"mode\" is not allowed for type=bind",
        ),
        (
            "type=tmpfs,target=/t,uid=1",
            "mount option \"uid\" is not allowed for type=tmpfs",
        ),
        (
            "type=tmpfs,target=/t,gid=1",
            "mount option \"gid\" is not allowed for type=tmpfs",
        ),
        (
            "type=cache,target=/c,required",
            "mount option \"required\" is not allowed for type=cache",
        ),
        (
            "target=/a,size=1m",
            "mount option \"size\" is not allowed for type=bind",
        ),
        (
            "type=secret,id=a,sharing=locked",
            "mount option \"sharing\" is not allowed for type=secret",
        ),
        (
            "type=secret,id=a,from=x",
            "mount option \"from\" is not allowed for type=secret",
        ),
        (
            "type=ssh,source=x",
            "mount option \"source\" is not allowed for type=ssh",
        ),
        (
            "type=secret",
            "mount type=secret needs an id, a source or a target",
        ),
        ("type=secret,env=X", "mount type=secret needs an id"),
        (
            "type=secret,source=a,id=b",
            "sets both source \"a\" and id \"b\"",
        ),
    ];
    for (spec, want) in cases {
        let err = parse_mount(spec).expect_err(spec).to_string();
        assert!(err.contains(want), "{spec}: got {err:?}, want {want:?}");
    }
}

#[test]
fn sizes_follow_docker_ram_in_bytes() {
    let ok = [
        ("0", 0),
        ("4096", 4096),
        ("10b", 10),
        ("1k", 1024),
        ("1K", 1024),
        ("2kb", 2048),
        ("2KiB", 2048),
        ("64m", 64 << 20),
        ("64 MB", 64 << 20),
        ("1.5g", 3 << 29),
        ("1g", 1 << 30),
        ("2t", 2 << 40),
        ("1p", 1 << 50),
    ];
    for (s, want) in ok {
        assert_eq!(
            parse_size(s).unwrap_or_else(|e| panic!("{s}: {e}")),
            want,
            "{s}"
        );
    }
    for bad in [
        "",
        "m",
        "-1",
        "1.",
        ".5",
        "1.2.3",
        "1x",
        "1mm",
        "1  m",
        "1kbb",
        "99999999999p",
    ] {
        assert!(parse_size(bad).is_err(), "{bad:?} should be rejected");
    }
}

#[test]
fn clean_path_matches_go_path_clean() {
    let cases = [
        ("/a/b/", "/a/b"),
        ("/a//b/./c", "/a/b/c"),
        ("/../a", "/a"),
        ("a/../..", ".."),
        ("a/..", "."),
        ("", "."),
        ("/", "/"),
        ("./x/", "x"),
    ];
    for (p, want) in cases {
        assert_eq!(clean_path(p), want, "{p:?}");
    }
}
