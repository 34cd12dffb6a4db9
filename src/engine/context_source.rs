//! The context argument of `strata build` made into a local directory, as `docker build` and
//! BuildKit read it: `-` (stdin), a directory, a tarball, an HTTP(S) URL, or a git remote.
//! Blocking: downloads run on the calling thread through `ureq`, git as a child process.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::owned_tmp::OwnedDir;
use ureq::tls::{RootCerts, TlsConfig};

use super::context_mirror::Mirror;
use super::context_tar::{extract_if_tar, sync_if_tar, Contents, TarError};

/// What the user passed as the build context, sorted by kind; see [`classify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextArg {
    Stdin,
    Dir(PathBuf),
    /// A local file, extracted when it is a (compressed) tar.
    Tarball(PathBuf),
    /// An HTTP(S) URL that is not a git remote: a tar, or the Dockerfile itself.
    Url(String),
    Git(GitSource),
}

/// A git context: `remote[#ref][:subdir]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitSource {
    /// What `git fetch` is given.
    pub remote: String,
    /// Branch, tag or commit; the remote's `HEAD` when absent.
    pub reference: Option<String>,
    /// The directory inside the checkout that is the context.
    pub subdir: Option<String>,
}

/// The context as a local directory.
#[derive(Debug)]
pub struct Materialized {
    pub dir: PathBuf,
    /// The Dockerfile itself, when stdin or the URL held one instead of an archive; the
    /// context is then the empty `dir`.
    pub dockerfile: Option<Vec<u8>>,
    /// Owns `dir` when it was made here; removed on drop.
    _temp: Option<OwnedDir>,
    /// Holds `dir` when it is a kept mirror; released, not removed, on drop.
    _mirror: Option<Mirror>,
}

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("creating a temporary context directory in {dir:?}: {source}")]
    TempDir { dir: PathBuf, source: io::Error },
    #[error("build context {path:?}: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error("build context {path:?} is neither a directory nor a tar archive (plain, gzip, xz, bzip2 or zstd)")]
    NotAnArchive { path: PathBuf },
    #[error("build context {origin}: {source}")]
    Unpack { origin: String, source: TarError },
    #[error("downloading build context {url}: {reason}")]
    Download { url: String, reason: String },
    #[error("git build context {url}: {step}: {detail}")]
    Git {
        url: String,
        step: String,
        detail: String,
    },
    #[error("git build context {url}: subdirectory {subdir:?} {reason}")]
    GitSubdir {
        url: String,
        subdir: String,
        reason: &'static str,
    },
}

/// Sorts a context argument the way the docker CLI does: `-`, then an existing directory (even
/// one named like `github.com/…`), then a git remote, then an HTTP(S) URL; anything else is
/// taken for a tarball. Touches the filesystem only to ask whether `arg` is a directory.
pub fn classify(arg: &str) -> ContextArg {
    if arg == "-" {
        ContextArg::Stdin
    } else if Path::new(arg).is_dir() {
        ContextArg::Dir(PathBuf::from(arg))
    } else if let Some(git) = parse_git(arg) {
        ContextArg::Git(git)
    } else if arg.starts_with("http://") || arg.starts_with("https://") {
        ContextArg::Url(arg.to_string())
    } else {
        ContextArg::Tarball(PathBuf::from(arg))
    }
}

/// A git remote with an optional `#ref:subdir` fragment, as BuildKit accepts it: `git://` and
/// `ssh://` URLs, `user@host:path`, HTTP(S) URLs whose path ends in `.git`, and the legacy
/// `github.com/owner/repo` (fetched over HTTPS).
pub fn parse_git(arg: &str) -> Option<GitSource> {
    let (base, fragment) = match arg.split_once('#') {
        Some((base, fragment)) => (base, Some(fragment)),
        None => (arg, None),
    };
    let remote = if let Some(path) = base.strip_prefix("github.com/") {
        format!("https://github.com/{path}")
    } else if ["git://", "ssh://"].iter().any(|p| base.starts_with(p)) || is_scp_like(base) {
        base.to_string()
    } else if ["http://", "https://"].iter().any(|p| base.starts_with(p)) {
        let path = base.split('?').next().unwrap_or(base);
        if !path.ends_with(".git") {
            return None;
        }
        base.to_string()
    } else {
        return None;
    };
    let (reference, subdir) = fragment
        .map(|f| f.split_once(':').unwrap_or((f, "")))
        .unwrap_or_default();
    let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
    Some(GitSource {
        remote,
        reference: some(reference),
        subdir: some(subdir),
    })
}

/// `user@host:path`, scp's form of an SSH remote. The user must start with a letter or digit
/// so the remote can never be read as an option by git.
fn is_scp_like(s: &str) -> bool {
    let Some((user, rest)) = s.split_once('@') else {
        return false;
    };
    let Some((host, path)) = rest.split_once(':') else {
        return false;
    };
    let user_ok = user.starts_with(|c: char| c.is_ascii_alphanumeric())
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.".contains(c));
    user_ok && host_ok && !path.is_empty()
}

/// Makes `arg` a local directory. Stdin, URLs and tarballs are unpacked into a fresh
/// `context-*` directory under `tmp_parent`, removed when the result is dropped; a directory
/// is used in place.
pub fn materialize(
    arg: &ContextArg,
    stdin: &mut dyn Read,
    tmp_parent: &Path,
) -> Result<Materialized, ContextError> {
    match arg {
        ContextArg::Stdin => unpack(stdin, "from stdin", tmp_parent),
        ContextArg::Dir(dir) => Ok(Materialized {
            dir: dir.clone(),
            dockerfile: None,
            _temp: None,
            _mirror: None,
        }),
        ContextArg::Tarball(path) => {
            let file = File::open(path).map_err(|source| ContextError::Open {
                path: path.clone(),
                source,
            })?;
            let out = unpack(file, &format!("{path:?}"), tmp_parent)?;
            if out.dockerfile.is_some() {
                return Err(ContextError::NotAnArchive { path: path.clone() });
            }
            Ok(out)
        }
        ContextArg::Url(url) => unpack(download(url)?, url, tmp_parent),
        ContextArg::Git(git) => fetch_git(git, tmp_parent),
    }
}

/// A context stream (a tar, or the Dockerfile alone) synced into the held `mirror` (see
/// `context_mirror`), which stays held until the result is dropped. A failed sync leaves the
/// mirror empty.
pub fn materialize_mirrored(
    reader: &mut dyn Read,
    origin: &str,
    mirror: Mirror,
) -> Result<Materialized, ContextError> {
    match sync_if_tar(reader, mirror.dir()) {
        Ok(contents) => Ok(Materialized {
            dir: mirror.dir().to_path_buf(),
            dockerfile: match contents {
                Contents::Tar => None,
                Contents::Other(bytes) => Some(bytes),
            },
            _temp: None,
            _mirror: Some(mirror),
        }),
        Err(source) => {
            mirror.wipe();
            Err(ContextError::Unpack {
                origin: origin.to_string(),
                source,
            })
        }
    }
}

fn temp_dir(tmp_parent: &Path) -> Result<OwnedDir, ContextError> {
    OwnedDir::new_in(tmp_parent, "context-").map_err(|source| ContextError::TempDir {
        dir: tmp_parent.to_path_buf(),
        source,
    })
}

/// Extracts a (compressed) tar stream into a new temp dir, or keeps any other bytes as the
/// Dockerfile next to an empty one.
fn unpack(
    reader: impl Read,
    origin: &str,
    tmp_parent: &Path,
) -> Result<Materialized, ContextError> {
    let temp = temp_dir(tmp_parent)?;
    let contents = extract_if_tar(reader, temp.path()).map_err(|source| ContextError::Unpack {
        origin: origin.to_string(),
        source,
    })?;
    let dockerfile = match contents {
        Contents::Tar => None,
        Contents::Other(bytes) => Some(bytes),
    };
    Ok(Materialized {
        dir: temp.path().to_path_buf(),
        dockerfile,
        _temp: Some(temp),
        _mirror: None,
    })
}

/// The body of a 2xx answer to GET `url`. Proxies come from the environment, except for
/// loopback hosts, which a proxy cannot reach for us.
pub(crate) fn download(url: &str) -> Result<impl Read + 'static, ContextError> {
    let fail = |reason: String| ContextError::Download {
        url: url.to_string(),
        reason,
    };
    let proxy = if is_loopback(url) {
        None
    } else {
        ureq::Proxy::try_from_env()
    };
    let stall = Some(Duration::from_secs(120));
    let agent = ureq::Agent::config_builder()
        // Error statuses come back as responses so the message can carry them.
        .http_status_as_error(false)
        .proxy(proxy)
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(stall)
        .timeout_per_read(stall)
        .tls_config(
            TlsConfig::builder()
                .root_certs(RootCerts::PlatformVerifier)
                .build(),
        )
        .build()
        .new_agent();
    let response = agent.get(url).call().map_err(|e| fail(e.to_string()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(fail(format!("bad response status {status}")));
    }
    Ok(response.into_body().into_reader())
}

/// Whether `url` names `localhost` or a loopback address.
pub(crate) fn is_loopback(url: &str) -> bool {
    let Ok(uri) = url.parse::<ureq::http::Uri>() else {
        return false;
    };
    let host = uri.host().unwrap_or_default();
    let ip = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || ip
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Variables that would point git at another repository than the one made here.
const GIT_REPO_ENV: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
];

/// A shallow fetch of one ref into a temp dir, checked out with its submodules; then every
/// `.git` is removed, as BuildKit does unless asked to keep it.
fn fetch_git(git: &GitSource, tmp_parent: &Path) -> Result<Materialized, ContextError> {
    let url = git.remote.as_str();
    let subdir_err = |subdir: &str, reason| ContextError::GitSubdir {
        url: url.to_string(),
        subdir: subdir.to_string(),
        reason,
    };
    if let Some(sub) = &git.subdir {
        let lexical_ok = Path::new(sub)
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        if !lexical_ok {
            return Err(subdir_err(sub, "must be a relative path without `..`"));
        }
    }
    let reference = git.reference.as_deref().unwrap_or("HEAD");
    if reference.starts_with('-') {
        return Err(ContextError::Git {
            url: url.to_string(),
            step: "checking the ref".into(),
            detail: format!("{reference:?} is not a ref"),
        });
    }
    let temp = temp_dir(tmp_parent)?;
    let root = temp.path();
    run_git(url, root, &["init", "--quiet"])?;
    run_git(url, root, &["remote", "add", "origin", url])?;
    let fetch = [
        "fetch",
        "--quiet",
        "--depth=1",
        "--no-tags",
        "origin",
        reference,
    ];
    run_git(url, root, &fetch)?;
    run_git(url, root, &["checkout", "--quiet", "FETCH_HEAD"])?;
    if root.join(".gitmodules").exists() {
        let update = [
            "submodule",
            "update",
            "--quiet",
            "--init",
            "--recursive",
            "--depth=1",
        ];
        run_git(url, root, &update)?;
    }
    remove_git_metadata(root).map_err(|e| ContextError::Git {
        url: url.to_string(),
        step: "removing .git".into(),
        detail: e.to_string(),
    })?;
    let dir = match &git.subdir {
        None => root.to_path_buf(),
        Some(sub) => {
            // The checkout may hold symlinks; the resolved subdir must stay inside it.
            let real = root
                .join(sub)
                .canonicalize()
                .map_err(|_| subdir_err(sub, "does not exist in the checkout"))?;
            let real_root = root
                .canonicalize()
                .map_err(|_| subdir_err(sub, "cannot be resolved"))?;
            if !real.starts_with(&real_root) {
                return Err(subdir_err(sub, "resolves outside the checkout"));
            }
            if !real.is_dir() {
                return Err(subdir_err(sub, "is not a directory"));
            }
            real
        }
    };
    Ok(Materialized {
        dir,
        dockerfile: None,
        _temp: Some(temp),
        _mirror: None,
    })
}

/// Runs `git args…` in `dir`, never prompting; a failure carries git's stderr.
fn run_git(url: &str, dir: &Path, args: &[&str]) -> Result<(), ContextError> {
    let mut command = Command::new("git");
    command
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null());
    for var in GIT_REPO_ENV {
        command.env_remove(var);
    }
    let fail = |detail: String| ContextError::Git {
        url: url.to_string(),
        step: format!("git {}", args.join(" ")),
        detail,
    };
    let output = command
        .output()
        .map_err(|e| fail(format!("cannot run git: {e}")))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    let detail = if stderr.is_empty() {
        output.status.to_string()
    } else {
        stderr
    };
    Err(fail(detail))
}

/// Removes every `.git` below `root`: the repository's and the submodules' (a tree cannot
/// track an entry of that name, so all of them are git's own).
fn remove_git_metadata(root: &Path) -> io::Result<()> {
    let mut found = Vec::new();
    let mut walker = walkdir::WalkDir::new(root).min_depth(1).into_iter();
    while let Some(entry) = walker.next() {
        let entry = entry.map_err(io::Error::from)?;
        if entry.file_name() == ".git" {
            let is_dir = entry.file_type().is_dir();
            if is_dir {
                walker.skip_current_dir();
            }
            found.push((entry.into_path(), is_dir));
        }
    }
    for (path, is_dir) in found {
        if is_dir {
            fs::remove_dir_all(path)?;
        } else {
            fs::remove_file(path)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::{TcpListener, TcpStream};

    fn git(remote: &str, reference: Option<&str>, subdir: Option<&str>) -> ContextArg {
        ContextArg::Git(GitSource {
            remote: remote.into(),
            reference: reference.map(Into::into),
            subdir: subdir.map(Into::into),
        })
    }

    #[test]
    fn classify_table() {
        let here = env!("CARGO_MANIFEST_DIR");
        let url = |s: &str| ContextArg::Url(s.into());
        let tarball = |s: &str| ContextArg::Tarball(s.into());
        #[rustfmt::skip]
        let cases = [
            ("-", ContextArg::Stdin),
            (here, ContextArg::Dir(here.into())),
            ("ctx.tar.gz", tarball("ctx.tar.gz")),
            ("-u@host:x", tarball("-u@host:x")),
            ("https://host/ctx.tar.gz", url("https://host/ctx.tar.gz")),
            ("http://host/Dockerfile", url("http://host/Dockerfile")),
            ("https://host/x.git.tar", url("https://host/x.git.tar")),
            ("https://host/x.git", git("https://host/x.git", None, None)),
            ("https://host/x.git?a=b#v1", git("https://host/x.git?a=b", Some("v1"), None)),
            ("https://host/x.git#v1:sub/dir", git("https://host/x.git", Some("v1"), Some("sub/dir"))),
            ("https://host/x.git#:sub", git("https://host/x.git", None, Some("sub"))),
            ("https://host/x.git#main", git("https://host/x.git", Some("main"), None)),
            ("https://host/x.git#", git("https://host/x.git", None, None)),
            ("http://host/x.git#v1:", git("http://host/x.git", Some("v1"), None)),
            ("git://host/repo#v2", git("git://host/repo", Some("v2"), None)),
            ("ssh://git@host/repo", git("ssh://git@host/repo", None, None)),
            ("git@github.com:a/b.git#main", git("git@github.com:a/b.git", Some("main"), None)),
            ("me@host:repo#:docker", git("me@host:repo", None, Some("docker"))),
            ("github.com/a/b", git("https://github.com/a/b", None, None)),
            ("github.com/a/b#dev:docker", git("https://github.com/a/b", Some("dev"), Some("docker"))),
        ];
        for (arg, want) in cases {
            assert_eq!(classify(arg), want, "{arg}");
        }
    }

    #[test]
    fn parse_git_rejects_non_git() {
        let cases = [
            "https://host/ctx.tar.gz",
            "https://host/repo",
            "ctx/dir",
            "-u@host:x",
            "git@host:",
            "git@:path",
            "a b@host:path",
            "ftp://host/x.git",
        ];
        for arg in cases {
            assert_eq!(parse_git(arg), None, "{arg}");
        }
    }

    /// A small tar (`Dockerfile` = "FROM scratch\n") compressed by xz(1); the xz encoder is
    /// not among the dependencies' enabled features.
    const XZ_TAR: &str = "fd377a585a000004e6d6b446020021011c00000010cf58cce027ff00725d00221bc866dc\
        0964e1a65c41c242374503896c16edd26d2624c790d3cddcbfcf669a73343fa487b5db4a0b34387f527f5002\
        9718c5f6a221626858572a61a9c38371dde646573b7314ff4e33e8c43a86f8999e24ceae5dd6b366617476a9\
        414e146f96fee8a0ecdc02daa5bfd6f90a8fa6ce000000001b64d5fd3e8f6a8100018e01805000004e106a5b\
        b1c467fb020000000004595a";

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn dockerfile_tar() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_size(13);
        h.set_mode(0o644);
        b.append_data(&mut h, "Dockerfile", &b"FROM scratch\n"[..])
            .unwrap();
        b.into_inner().unwrap()
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    /// `arg` materialized with an empty stdin.
    fn open(arg: &str, tmp: &Path) -> Result<Materialized, ContextError> {
        materialize(&classify(arg), &mut io::empty(), tmp)
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = walkdir::WalkDir::new(dir)
            .min_depth(1)
            .into_iter()
            .map(|e| {
                e.unwrap()
                    .path()
                    .strip_prefix(dir)
                    .unwrap()
                    .display()
                    .to_string()
            })
            .collect();
        names.sort();
        names
    }

    #[test]
    fn stdin_holds_a_dockerfile_or_a_tar() {
        let tmp = tempfile::tempdir().unwrap();
        let text = b"FROM scratch\n".to_vec();
        let cases = [
            ("dockerfile", text.clone(), Some(text.clone())),
            ("gzipped dockerfile", gzip(&text), Some(text.clone())),
            ("tar", dockerfile_tar(), None),
            ("tar.gz", gzip(&dockerfile_tar()), None),
            ("tar.xz", unhex(XZ_TAR), None),
        ];
        for (what, input, want) in cases {
            let got = materialize(&ContextArg::Stdin, &mut &input[..], tmp.path()).unwrap();
            assert_eq!(got.dockerfile, want, "{what}");
            let extracted = fs::read(got.dir.join("Dockerfile")).ok();
            assert_eq!(extracted.is_some(), want.is_none(), "{what}");
            assert!(extracted.is_none_or(|bytes| bytes == text), "{what}");
            assert_eq!(
                listing(&got.dir).len(),
                usize::from(want.is_none()),
                "{what}"
            );
            let dir = got.dir.clone();
            drop(got);
            assert!(!dir.exists(), "{what}: temp dir left behind");
        }
    }

    #[test]
    fn tarball_is_sniffed_not_named() {
        let tmp = tempfile::tempdir().unwrap();
        let zst = tmp.path().join("context.bin");
        fs::write(&zst, zstd::encode_all(&dockerfile_tar()[..], 3).unwrap()).unwrap();
        let got = open(zst.to_str().unwrap(), tmp.path()).unwrap();
        assert_eq!(listing(&got.dir), ["Dockerfile"]);

        let text = tmp.path().join("ctx.tar");
        fs::write(&text, b"FROM scratch\n").unwrap();
        let err = open(text.to_str().unwrap(), tmp.path()).unwrap_err();
        assert!(matches!(err, ContextError::NotAnArchive { ref path } if *path == text));
        let missing = tmp.path().join("missing");
        let err = open(missing.to_str().unwrap(), tmp.path()).unwrap_err();
        assert!(matches!(err, ContextError::Open { ref path, .. } if *path == missing));
    }

    /// Answers `n` requests: `/ctx.tar.gz` and `/Dockerfile` with 200, anything else with 404.
    fn serve(n: usize) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming().take(n) {
                let mut stream: TcpStream = stream.unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                reader.read_line(&mut request).unwrap();
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap() > 2 {
                    line.clear();
                }
                let path = request.split(' ').nth(1).unwrap_or("");
                let (status, body) = match path {
                    "/ctx.tar.gz" => ("200 OK", gzip(&dockerfile_tar())),
                    "/Dockerfile" => ("200 OK", b"FROM scratch\n".to_vec()),
                    _ => ("404 Not Found", b"nope".to_vec()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                stream.write_all(head.as_bytes()).unwrap();
                stream.write_all(&body).unwrap();
            }
        });
        base
    }

    #[test]
    fn urls_are_downloaded() {
        let tmp = tempfile::tempdir().unwrap();
        let base = serve(3);
        let tar = open(&format!("{base}/ctx.tar.gz"), tmp.path()).unwrap();
        assert_eq!(
            (listing(&tar.dir), &tar.dockerfile),
            (vec!["Dockerfile".into()], &None)
        );
        let text = open(&format!("{base}/Dockerfile"), tmp.path()).unwrap();
        let dockerfile = Some(b"FROM scratch\n".to_vec());
        assert_eq!((listing(&text.dir), text.dockerfile), (vec![], dockerfile));
        let missing = format!("{base}/missing");
        let err = open(&missing, tmp.path()).unwrap_err().to_string();
        assert!(err.contains(&missing) && err.contains("404"), "{err}");
    }

    /// Stops the `git daemon` this test started, even when the test fails.
    struct Daemon(std::process::Child);

    impl Drop for Daemon {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn sh_git(dir: &Path, args: &[&str]) {
        let status = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }

    #[test]
    fn git_remotes_are_fetched_at_a_ref_and_subdir() {
        if Command::new("git").arg("--version").output().is_err() {
            eprintln!("skipped: no git on PATH");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("repo");
        fs::create_dir_all(repo.join("sub")).unwrap();
        sh_git(&repo, &["-c", "init.defaultBranch=main", "init", "--quiet"]);
        fs::write(repo.join("sub/a.txt"), "v1\n").unwrap();
        fs::write(repo.join("top.txt"), "top\n").unwrap();
        std::os::unix::fs::symlink("/etc", repo.join("out")).unwrap();
        sh_git(&repo, &["add", "."]);
        sh_git(&repo, &["commit", "--quiet", "-m", "one"]);
        sh_git(&repo, &["tag", "-a", "-m", "v1", "v1"]);
        fs::write(repo.join("sub/a.txt"), "v2\n").unwrap();
        sh_git(&repo, &["commit", "--quiet", "-am", "two"]);

        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let base_path = format!("--base-path={}", tmp.path().display());
        // `git-daemon` itself, not the `git` wrapper, so that killing the child stops it.
        let exec_path = Command::new("git")
            .arg("--exec-path")
            .output()
            .unwrap()
            .stdout;
        let exec_path = PathBuf::from(String::from_utf8(exec_path).unwrap().trim());
        let _daemon = Daemon(
            Command::new(exec_path.join("git-daemon"))
                .args([
                    "--reuseaddr",
                    "--export-all",
                    "--listen=127.0.0.1",
                    &base_path,
                ])
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let ready = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(50));
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(ready, "git daemon did not start");

        let remote = format!("git://127.0.0.1:{port}/repo");
        let work = tmp.path().join("work");
        fs::create_dir(&work).unwrap();
        let fetch = |arg: &str| open(arg, &work);

        let tagged = fetch(&format!("{remote}#v1:sub")).unwrap();
        assert_eq!(listing(&tagged.dir), ["a.txt"]);
        assert_eq!(fs::read(tagged.dir.join("a.txt")).unwrap(), b"v1\n");
        let head = fetch(&remote).unwrap();
        assert_eq!(listing(&head.dir), ["out", "sub", "sub/a.txt", "top.txt"]);
        assert_eq!(fs::read(head.dir.join("sub/a.txt")).unwrap(), b"v2\n");

        #[rustfmt::skip]
        let failures = [
            (format!("{remote}#nosuchref"), "nosuchref"),
            (format!("{remote}#v1:../x"), "without `..`"),
            (format!("{remote}#v1:out"), "outside the checkout"),
            (format!("{remote}#v1:top.txt"), "not a directory"),
            (format!("{remote}#v1:nope"), "does not exist"),
            (format!("git://127.0.0.1:{port}/absent"), "absent"),
        ];
        for (arg, want) in failures {
            let err = fetch(&arg).unwrap_err().to_string();
            let names_url = err.contains(&remote[..remote.len() - 5]);
            assert!(names_url && err.contains(want), "{arg}: {err}");
        }
        drop((tagged, head));
        assert!(listing(&work).is_empty(), "temp dirs left behind");
    }
}
