//! Table tests for ARG/ENV scoping, one rule per test.

use super::*;

fn platform(s: &str) -> Platform {
    Platform::parse(s).unwrap()
}

fn predefined() -> PredefinedArgs {
    PredefinedArgs {
        target: platform("linux/arm/v7"),
        build: platform("linux/amd64"),
        target_stage: "final".into(),
    }
}

fn build_args(flags: &[&str]) -> ResolvedBuildArgs {
    BuildArgs::from_flags(flags)
        .unwrap()
        .resolve_with(|name| match name {
            "FROM_ENV" => Some("env-value".into()),
            _ => None,
        })
}

fn global(flags: &[&str]) -> GlobalScope {
    GlobalScope::new(build_args(flags), &predefined(), '\\')
}

fn get<'a>(l: &'a EnvList, name: &str) -> Option<&'a str> {
    l.get(name)
}

#[test]
fn build_arg_flags() {
    // None: the flag is rejected.
    type Want<'a> = Option<(&'a str, Option<&'a str>)>;
    let cases: &[(&str, Want)] = &[
        ("A=1", Some(("A", Some("1")))),
        ("A=", Some(("A", Some("")))),
        ("A=b=c", Some(("A", Some("b=c")))),
        ("A", Some(("A", None))),
        ("=x", None),
        ("", None),
    ];
    for (flag, want) in cases {
        let got = BuildArgs::parse_flag(flag);
        match want {
            Some((n, v)) => assert_eq!(
                got.unwrap(),
                (n.to_string(), v.map(str::to_owned)),
                "{flag:?}"
            ),
            None => assert!(got.is_err(), "{flag:?}"),
        }
    }
    let r = build_args(&["A=1", "FROM_ENV", "ABSENT", "A=2"]);
    assert_eq!(r.get("A"), Some("2"));
    assert_eq!(r.get("FROM_ENV"), Some("env-value"));
    assert_eq!(r.get("ABSENT"), None);
    assert_eq!(r.requested(), ["A", "FROM_ENV", "ABSENT"]);
}

#[test]
fn predefined_args_in_global_scope() {
    let g = global(&[]);
    let cases: &[(&str, &str)] = &[
        ("TARGETPLATFORM", "linux/arm/v7"),
        ("TARGETOS", "linux"),
        ("TARGETARCH", "arm"),
        ("TARGETVARIANT", "v7"),
        ("BUILDPLATFORM", "linux/amd64"),
        ("BUILDOS", "linux"),
        ("BUILDARCH", "amd64"),
        ("BUILDVARIANT", ""),
        ("TARGETSTAGE", "final"),
    ];
    for (name, want) in cases {
        assert_eq!(get(g.vars(), name), Some(*want), "{name}");
    }
    // A FROM line sees them.
    let from = process_word(
        "img:${TARGETARCH}${TARGETVARIANT:+-$TARGETVARIANT}",
        '\\',
        g.vars(),
    );
    assert_eq!(from.unwrap().value, "img:arm-v7");
    // A build arg overrides a predefined arg.
    let g = global(&["TARGETARCH=riscv64"]);
    assert_eq!(get(g.vars(), "TARGETARCH"), Some("riscv64"));
}

#[test]
fn global_arg_defaults_and_build_args() {
    let mut g = global(&["B=from-flag"]);
    let a = g.declare_arg("A", Some("a-${TARGETOS}")).unwrap();
    assert_eq!(
        (a.value.as_deref(), a.source),
        (Some("a-linux"), ArgSource::Default)
    );
    // A default referring to an earlier ARG.
    let c = g.declare_arg("C", Some("$A/c")).unwrap();
    assert_eq!(c.value.as_deref(), Some("a-linux/c"));
    // The build arg overrides the default, which is then not even expanded.
    let b = g.declare_arg("B", Some("${BROKEN")).unwrap();
    assert_eq!(
        (b.value.as_deref(), b.source),
        (Some("from-flag"), ArgSource::BuildArg)
    );
    // No default, no build arg: declared, not set.
    let d = g.declare_arg("D", None).unwrap();
    assert_eq!((d.value, d.source), (None, ArgSource::Unset));
    assert_eq!(get(g.vars(), "D"), None);
    // Undefined variables in a default are reported.
    let e = g.declare_arg("E", Some("${NOPE}x")).unwrap();
    assert_eq!(e.unmatched.iter().collect::<Vec<_>>(), ["NOPE"]);
    // Expansion errors name the word.
    let err = g.declare_arg("F", Some("${F")).unwrap_err();
    assert!(
        matches!(err, ScopeError::Expand { ref word, .. } if word == "${F"),
        "{err:?}"
    );
    // A failed declaration is not recorded.
    assert_eq!(g.declared(), ["A", "C", "B", "D", "E"]);
}

#[test]
fn global_arg_not_visible_in_stage_until_redeclared() {
    let mut g = global(&[]);
    g.declare_arg("VERSION", Some("1.2")).unwrap();
    let mut s = StageScope::new(&g, ["HOME=/root"]);
    assert_eq!(s.expand("v$VERSION").unwrap().value, "v");
    assert_eq!(s.expand("$TARGETARCH").unwrap().value, "");
    let d = s.declare_arg("VERSION", None).unwrap();
    assert_eq!(
        (d.value.as_deref(), d.source),
        (Some("1.2"), ArgSource::Global)
    );
    assert_eq!(s.expand("v$VERSION").unwrap().value, "v1.2");
}

#[test]
fn predefined_arg_in_stage_after_declaration() {
    let g = global(&[]);
    let mut s = StageScope::new(&g, Vec::<String>::new());
    assert_eq!(get(s.vars(), "TARGETARCH"), None);
    let d = s.declare_arg("TARGETARCH", None).unwrap();
    assert_eq!(
        (d.value.as_deref(), d.source),
        (Some("arm"), ArgSource::Global)
    );
    assert_eq!(get(s.vars(), "TARGETARCH"), Some("arm"));
    assert_eq!(get(s.vars(), "TARGETOS"), None);
}

#[test]
fn stage_arg_build_arg_overrides_default_and_global() {
    let mut g = global(&["X=flag"]);
    g.declare_arg("X", Some("global")).unwrap();
    let mut s = StageScope::new(&g, Vec::<String>::new());
    let cases: &[(&str, Option<&str>, Option<&str>, ArgSource)] = &[
        ("X", Some("default"), Some("flag"), ArgSource::BuildArg),
        ("X", None, Some("flag"), ArgSource::BuildArg),
        ("Y", Some("dflt-$X"), Some("dflt-flag"), ArgSource::Default),
        ("Z", None, None, ArgSource::Unset),
    ];
    for (name, default, want, source) in cases {
        let d = s.declare_arg(name, *default).unwrap();
        assert_eq!((d.value.as_deref(), d.source), (*want, *source), "{name}");
        assert_eq!(get(s.vars(), name), *want, "{name}");
    }
}

#[test]
fn env_wins_over_earlier_arg() {
    let g = global(&["V=arg"]);
    let mut s = StageScope::new(&g, Vec::<String>::new());
    s.declare_arg("V", None).unwrap();
    s.apply_env(&[("V", "env")]).unwrap();
    assert_eq!(get(s.vars(), "V"), Some("env"));
    assert_eq!(get(s.image_env(), "V"), Some("env"));
    assert_eq!(s.history_args(), [("V".to_string(), "env".to_string())]);
}

#[test]
fn arg_after_env_overrides_build_time_env_only() {
    let g = global(&[]);
    let mut s = StageScope::new(&g, ["V=base"]);
    s.declare_arg("V", Some("arg")).unwrap();
    assert_eq!(get(s.vars(), "V"), Some("arg"));
    assert_eq!(get(s.image_env(), "V"), Some("base"));
    // Without a value the ARG changes nothing.
    s.declare_arg("W", None).unwrap();
    s.set_env("W", "env");
    s.declare_arg("W", None).unwrap();
    assert_eq!(get(s.vars(), "W"), Some("env"));
}

#[test]
fn env_values_see_only_earlier_variables() {
    let g = global(&[]);
    let mut s = StageScope::new(&g, ["a=old"]);
    let set = s
        .apply_env(&[("a", "1"), ("b", "$a"), ("c", "${b:-none}")])
        .unwrap();
    let want: Vec<(String, String)> = [("a", "1"), ("b", "old"), ("c", "none")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(set, want);
    // The next instruction sees all of them.
    assert_eq!(s.expand("$a$b$c").unwrap().value, "1oldnone");
    // Keys are expanded too.
    s.apply_env(&[("K_$a", "x")]).unwrap();
    assert_eq!(get(s.vars(), "K_1"), Some("x"));
    assert!(s.apply_env(&[("bad", "${")]).is_err());
}

#[test]
fn base_env_and_default_path() {
    let g = global(&[]);
    let s = StageScope::new(&g, ["HOME=/root", "NOVALUE"]);
    assert_eq!(get(s.vars(), "HOME"), Some("/root"));
    assert_eq!(get(s.vars(), "NOVALUE"), Some(""));
    assert_eq!(get(s.vars(), "PATH"), Some(DEFAULT_PATH));
    assert_eq!(
        s.image_env().to_oci(),
        ["HOME=/root", "NOVALUE=", &format!("PATH={DEFAULT_PATH}")]
    );
    let s = StageScope::new(&g, ["PATH=/bin"]);
    assert_eq!(get(s.vars(), "PATH"), Some("/bin"));
}

#[test]
fn arg_scope_ends_with_stage_unless_inherited() {
    let g = global(&[]);
    let mut first = StageScope::new(&g, Vec::<String>::new());
    first.declare_arg("ONLY_FIRST", Some("1")).unwrap();
    let second = StageScope::new(&g, Vec::<String>::new());
    assert_eq!(get(second.vars(), "ONLY_FIRST"), None);
    let child = StageScope::inherit(&first);
    assert_eq!(get(child.vars(), "ONLY_FIRST"), Some("1"));
    assert_eq!(child.declared().collect::<Vec<_>>(), ["ONLY_FIRST"]);
}

#[test]
fn proxy_args() {
    let g = global(&[
        "https_proxy=http://p:3128",
        "HTTP_PROXY=http://q",
        "Http_Proxy=http://r",
    ]);
    let mut s = StageScope::new(&g, Vec::<String>::new());
    // Not visible to expansion nor the env that feeds cache keys.
    assert_eq!(s.expand("$https_proxy").unwrap().value, "");
    assert_eq!(get(s.vars(), "HTTP_PROXY"), None);
    // RUN gets both spellings; among case variants the last in byte order wins.
    let run = s.run_env();
    let find = |k: &str| run.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(find("HTTPS_PROXY"), Some("http://p:3128"));
    assert_eq!(find("https_proxy"), Some("http://p:3128"));
    assert_eq!(find("HTTP_PROXY"), Some("http://r"));
    assert_eq!(find("http_proxy"), Some("http://r"));
    assert!(s.history_args().is_empty());
    // Declared with ARG, it becomes an ordinary variable and shows in history.
    s.declare_arg("HTTP_PROXY", None).unwrap();
    assert_eq!(get(s.vars(), "HTTP_PROXY"), Some("http://q"));
    let run = s.run_env();
    assert_eq!(run.iter().filter(|(n, _)| n == "HTTP_PROXY").count(), 1);
    assert_eq!(
        s.history_args(),
        [("HTTP_PROXY".to_string(), "http://q".to_string())]
    );
}

#[test]
fn run_env_and_history() {
    let g = global(&["B=2"]);
    let mut s = StageScope::new(&g, ["PATH=/bin"]);
    s.declare_arg("A", Some("1")).unwrap();
    s.declare_arg("B", None).unwrap();
    s.declare_arg("UNSET", None).unwrap();
    s.set_env("E", "e");
    s.declare_arg("A", Some("again")).unwrap();
    let run: Vec<String> = s
        .run_env()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    assert_eq!(run, ["PATH=/bin", "A=again", "B=2", "E=e"]);
    let hist: Vec<String> = s
        .history_args()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    assert_eq!(hist, ["A=again", "B=2", "UNSET="]);
    assert_eq!(s.image_env().to_oci(), ["PATH=/bin", "E=e"]);
}

#[test]
fn sbom_args_stay_out_of_env() {
    let g = global(&["BUILDKIT_SBOM_SCAN_STAGE=true"]);
    let mut s = StageScope::new(&g, Vec::<String>::new());
    let d = s.declare_arg("BUILDKIT_SBOM_SCAN_STAGE", None).unwrap();
    assert_eq!(d.value.as_deref(), Some("true"));
    assert_eq!(get(s.vars(), "BUILDKIT_SBOM_SCAN_STAGE"), None);
}

#[test]
fn unused_build_args_reported() {
    let args = build_args(&[
        "USED_GLOBAL=1",
        "USED_STAGE=2",
        "NOT_USED=3",
        "HTTP_PROXY=x",
        "TARGETARCH=arm64",
        "ABSENT",
    ]);
    let mut g = GlobalScope::new(args.clone(), &predefined(), '\\');
    g.declare_arg("USED_GLOBAL", None).unwrap();
    let mut s = StageScope::new(&g, Vec::<String>::new());
    s.declare_arg("USED_STAGE", None).unwrap();
    let other = StageScope::new(&g, Vec::<String>::new());
    assert_eq!(
        unused_build_args(&args, &g, [&s, &other]),
        ["NOT_USED", "ABSENT"]
    );
    assert_eq!(
        unused_build_args(&args, &g, []),
        ["USED_STAGE", "NOT_USED", "ABSENT"]
    );
}
