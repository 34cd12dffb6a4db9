//! `strata build` settings for reproducible outputs: `--output` (Docker's `-o` syntax) parsed
//! into the engine's typed [`Output`], `SOURCE_DATE_EPOCH` / `--source-date-epoch`, and handing
//! the export to the engine (`engine::build::export`) with the file or stdout it goes to.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use crate::engine::build::export::{export_names, export_to_path, export_to_writer, ExportKind};
pub use crate::engine::build::export::{Dest, Output};
use crate::reference::Reference;
use crate::store::{Image, Store};

/// Parses an `--output` value as Docker does: `type=T,k=v,…`, or a bare `DIR` for
/// `type=local,dest=DIR` and `-` for `type=tar,dest=-`.
pub fn parse_output(spec: &str) -> Result<Output, String> {
    if spec == "-" {
        return Ok(Output::Export {
            kind: ExportKind::RootfsTar,
            dest: Dest::Stdout,
            names: Vec::new(),
        });
    }
    if !spec.contains('=') {
        return Ok(Output::Export {
            kind: ExportKind::Rootfs,
            dest: Dest::Path(PathBuf::from(spec)),
            names: Vec::new(),
        });
    }
    let (mut ty, mut dest, mut push, mut tar) = (None, None, None, None);
    let mut names = Vec::new();
    for field in spec.split(',') {
        let Some((k, v)) = field.split_once('=') else {
            return Err(format!("invalid field {field:?}: expected KEY=VALUE"));
        };
        let flag = |v: &str| match v {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(format!("invalid {k}={v:?}: expected true or false")),
        };
        match k {
            "type" => ty = Some(v.to_string()),
            "dest" => dest = Some(v.to_string()),
            "push" => push = Some(flag(v)?),
            "tar" => tar = Some(flag(v)?),
            "name" => names.push(v.to_string()),
            _ => return Err(format!("unknown field {k:?}")),
        }
    }
    let ty = ty.ok_or("missing type=")?;
    let kind = match ty.as_str() {
        "image" | "registry" => {
            if dest.is_some() || tar.is_some() {
                return Err(format!("type={ty} takes no dest= or tar="));
            }
            return Ok(Output::Image {
                push: push.unwrap_or(ty == "registry"),
                names,
            });
        }
        "oci" if tar == Some(false) => ExportKind::OciLayout,
        "oci" => ExportKind::OciArchive,
        "docker" => ExportKind::DockerArchive,
        "local" => ExportKind::Rootfs,
        "tar" => ExportKind::RootfsTar,
        other => {
            return Err(format!(
                "unknown type={other:?}: expected image, registry, oci, docker, local or tar"
            ))
        }
    };
    if push.is_some() {
        return Err(format!("type={ty} takes no push="));
    }
    if tar.is_some() && ty != "oci" {
        return Err(format!("type={ty} takes no tar="));
    }
    let dest = match dest.as_deref() {
        None | Some("") => return Err(format!("type={ty} needs dest=")),
        Some("-") if kind.is_stream() => Dest::Stdout,
        Some("-") => {
            return Err(format!(
                "type={ty} writes a directory: dest=- is not possible"
            ))
        }
        Some(p) => Dest::Path(PathBuf::from(p)),
    };
    Ok(Output::Export { kind, dest, names })
}

/// The epoch of a reproducible build: `--source-date-epoch`, else `--build-arg
/// SOURCE_DATE_EPOCH=…` (how BuildKit takes it), else the `SOURCE_DATE_EPOCH` environment
/// variable (an empty value counts as unset, as in the reproducible-builds spec). Whole
/// seconds, not negative.
pub fn source_date_epoch(
    flag: Option<&str>,
    build_arg: Option<&str>,
    env: Option<&str>,
) -> Result<Option<i64>, String> {
    let (what, v) = match (flag, build_arg, env) {
        (Some(f), _, _) => ("--source-date-epoch", f),
        (None, Some(b), _) if !b.is_empty() => ("--build-arg SOURCE_DATE_EPOCH", b),
        (None, _, Some(e)) if !e.is_empty() => ("SOURCE_DATE_EPOCH", e),
        _ => return Ok(None),
    };
    match v.trim().parse::<i64>() {
        Ok(n) if n >= 0 => Ok(Some(n)),
        _ => Err(format!(
            "invalid {what} {v:?}: expected whole seconds since 1970"
        )),
    }
}

/// Writes the export `output` asks for (nothing for `type=image`, which the build already
/// committed to the store).
pub fn write_output(
    store: &Store,
    image: &Image,
    output: &Output,
    tags: &[Reference],
    epoch: Option<i64>,
) -> Result<()> {
    let Output::Export { kind, dest, names } = output else {
        return Ok(());
    };
    let all = export_names(tags, names)?;
    match dest {
        Dest::Path(p) => export_to_path(store, image, &all, *kind, epoch, p)
            .with_context(|| format!("cannot write the output to {}", p.display())),
        Dest::Stdout => {
            if std::io::stdout().is_terminal() {
                bail!("cowardly refusing to write an archive to a terminal: redirect stdout");
            }
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            export_to_writer(store, image, &all, *kind, epoch, &mut out)
                .context("cannot write the output to stdout")?;
            out.flush().context("cannot write to stdout")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn export(kind: ExportKind, dest: &str) -> Output {
        Output::Export {
            kind,
            dest: if dest == "-" {
                Dest::Stdout
            } else {
                Dest::Path(dest.into())
            },
            names: vec![],
        }
    }

    #[test]
    fn parse_output_table() {
        use ExportKind::*;
        let image = |push| Output::Image {
            push,
            names: vec![],
        };
        let cases: Vec<(&str, Result<Output, &str>)> = vec![
            ("type=image", Ok(image(false))),
            ("type=image,push=true", Ok(image(true))),
            ("type=registry", Ok(image(true))),
            ("type=oci,dest=o.tar", Ok(export(OciArchive, "o.tar"))),
            ("type=oci,dest=lay,tar=false", Ok(export(OciLayout, "lay"))),
            (
                "type=oci,tar=true,dest=o.tar",
                Ok(export(OciArchive, "o.tar")),
            ),
            ("type=docker,dest=d.tar", Ok(export(DockerArchive, "d.tar"))),
            ("type=local,dest=out", Ok(export(Rootfs, "out"))),
            ("type=tar,dest=-", Ok(export(RootfsTar, "-"))),
            ("type=oci,dest=-", Ok(export(OciArchive, "-"))),
            ("out/dir", Ok(export(Rootfs, "out/dir"))),
            ("-", Ok(export(RootfsTar, "-"))),
            ("type=local,dest=-", Err("writes a directory")),
            ("type=oci,tar=false,dest=-", Err("writes a directory")),
            ("type=tar", Err("needs dest=")),
            ("type=local,dest=", Err("needs dest=")),
            ("type=docker,dest=x,push=true", Err("takes no push=")),
            ("type=tar,dest=x,tar=false", Err("takes no tar=")),
            ("type=image,dest=x", Err("takes no dest=")),
            ("type=oci,dest=x,tar=maybe", Err("expected true or false")),
            ("type=cacheonly", Err("unknown type")),
            ("type=oci,dest=x,compression=zstd", Err("unknown field")),
            ("dest=x", Err("missing type=")),
            ("type=local,dest=x,oops", Err("expected KEY=VALUE")),
        ];
        for (input, want) in cases {
            match (parse_output(input), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{input}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{input}: {got}"),
                (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn names_are_collected() {
        let o = parse_output("type=docker,dest=d.tar,name=a:1,name=b").unwrap();
        assert_eq!(o.names(), ["a:1".to_string(), "b".to_string()]);
    }

    #[test]
    fn epoch_table() {
        type Case<'a> = (
            [Option<&'a str>; 3], // flag, build arg, env
            Result<Option<i64>, &'a str>,
        );
        let cases: &[Case] = &[
            ([None, None, None], Ok(None)),
            ([None, None, Some("")], Ok(None)),
            ([None, Some(""), Some("")], Ok(None)),
            ([None, None, Some("1700000000")], Ok(Some(1_700_000_000))),
            ([None, Some("9"), Some("1700000000")], Ok(Some(9))),
            ([None, Some(""), Some("3")], Ok(Some(3))),
            ([Some("5"), Some("9"), Some("1700000000")], Ok(Some(5))),
            ([Some("0"), None, None], Ok(Some(0))),
            ([None, None, Some("-1")], Err("SOURCE_DATE_EPOCH")),
            (
                [None, Some("x"), None],
                Err("--build-arg SOURCE_DATE_EPOCH"),
            ),
            ([Some("yesterday"), None, None], Err("--source-date-epoch")),
            ([Some(""), None, Some("7")], Err("--source-date-epoch")),
        ];
        for ([flag, arg, env], want) in cases {
            match (source_date_epoch(*flag, *arg, *env), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, *want, "{flag:?} {arg:?} {env:?}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{got}"),
                (got, want) => panic!("{flag:?} {arg:?} {env:?}: got {got:?}, want {want:?}"),
            }
        }
    }
}
