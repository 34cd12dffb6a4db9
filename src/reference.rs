//! Image references (`busybox`, `user/app:1.0`, `localhost:5000/x@sha256:…`), parsed and
//! normalised as Docker does (`busybox` ↔ `docker.io/library/busybox:latest`).

use std::fmt;
use std::str::FromStr;

use crate::digest::Digest;

/// The registry Docker assumes when a reference names none.
pub const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_REPO_PREFIX: &str = "library/";
pub const DEFAULT_TAG: &str = "latest";
const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// Why a string is not a valid image reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("invalid reference format: {0:?}")]
    InvalidFormat(String),
    #[error("invalid reference format: repository name must be lowercase: {0:?}")]
    NameNotLowercase(String),
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexName(String),
    #[error(
        "invalid reference format: repository name must not be longer than 255 characters: {0:?}"
    )]
    NameTooLong(String),
    #[error("invalid tag format in {0:?}")]
    InvalidTag(String),
    #[error(
        "invalid digest in reference {0:?}: only sha256 with 64 lower-case hex digits is supported"
    )]
    InvalidDigest(String),
}

/// A fully normalised image reference: domain, path, and a tag and/or digest. A reference
/// parsed without either gets the tag `latest`, as `docker` does.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parses and normalises; adds `:latest` when there is neither tag nor digest.
    pub fn parse(s: &str) -> Result<Self, ReferenceError> {
        let mut r = Self::parse_name_only(s)?;
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some(DEFAULT_TAG.to_string());
        }
        Ok(r)
    }

    /// Parses and normalises, without adding a default tag.
    pub fn parse_name_only(s: &str) -> Result<Self, ReferenceError> {
        if is_hex64(s) {
            return Err(ReferenceError::HexName(s.to_string()));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((n, d)) => {
                let digest = d
                    .parse::<Digest>()
                    .map_err(|_| ReferenceError::InvalidDigest(s.to_string()))?;
                (n, Some(digest))
            }
            None => (s, None),
        };
        // A tag follows the last ':' unless that ':' belongs to a port in the domain, i.e. a
        // '/' comes after it.
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i + 1..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err(ReferenceError::InvalidTag(s.to_string()));
            }
        }
        if name.is_empty() {
            return Err(ReferenceError::InvalidFormat(s.to_string()));
        }
        let (domain, path) = split_domain(name);
        if !valid_domain(&domain) {
            return Err(ReferenceError::InvalidFormat(s.to_string()));
        }
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(ReferenceError::NameNotLowercase(s.to_string()));
        }
        if !valid_path(&path) {
            return Err(ReferenceError::InvalidFormat(s.to_string()));
        }
        if domain.len() + 1 + path.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(ReferenceError::NameTooLong(s.to_string()));
        }
        Ok(Reference {
            domain,
            path,
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// A reference built from its parts, validated as a parsed one would be.
    pub fn with_tag(&self, tag: &str) -> Result<Self, ReferenceError> {
        if !valid_tag(tag) {
            return Err(ReferenceError::InvalidTag(tag.to_string()));
        }
        Ok(Reference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        })
    }

    /// The same repository with `digest` and no tag (a RepoDigest).
    pub fn with_digest(&self, digest: Digest) -> Self {
        Reference {
            tag: None,
            digest: Some(digest),
            ..self.clone()
        }
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }
    /// The path inside the registry: `library/busybox`.
    pub fn path(&self) -> &str {
        &self.path
    }
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The full repository name: `docker.io/library/busybox`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The short repository name as `docker images` shows it: `busybox`, `user/app`,
    /// `localhost:5000/x`.
    pub fn familiar(&self) -> String {
        if self.domain != DEFAULT_DOMAIN {
            return self.repository();
        }
        match self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
            Some(rest) if !rest.contains('/') => rest.to_string(),
            _ => self.path.clone(),
        }
    }

    /// The short form with tag and digest: `busybox:latest`, `user/app@sha256:…`.
    pub fn familiar_string(&self) -> String {
        let mut s = self.familiar();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(&d.to_string());
        }
        s
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// True for exactly 64 lower-case hex digits (an image ID without its `sha256:`).
pub fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Docker's rule: the first component is a registry when it contains `.` or `:`, is
/// `localhost`, or has upper-case letters; otherwise the name lives on Docker Hub.
fn split_domain(name: &str) -> (String, String) {
    let (mut domain, mut path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.to_lowercase() != first =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    if domain == LEGACY_DEFAULT_DOMAIN {
        domain = DEFAULT_DOMAIN.to_string();
    }
    if domain == DEFAULT_DOMAIN && !path.contains('/') {
        path = format!("{OFFICIAL_REPO_PREFIX}{path}");
    }
    (domain, path)
}

/// `[\w][\w.-]{0,127}`
fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && is_word(b[0])
        && b[1..].iter().all(|&c| is_word(c) || c == b'.' || c == b'-')
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Host name components separated by `.` (or a bracketed IPv6 address), then an optional
/// `:port`.
fn valid_domain(d: &str) -> bool {
    let (host, port) = if let Some(rest) = d.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        if v6.is_empty() || !v6.bytes().all(|c| c.is_ascii_hexdigit() || c == b':') {
            return false;
        }
        match after.strip_prefix(':') {
            Some(p) => ("", Some(p)),
            None if after.is_empty() => ("", None),
            None => return false,
        }
    } else {
        match d.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (d, None),
        }
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
            return false;
        }
    }
    if d.starts_with('[') {
        return true;
    }
    !host.is_empty()
        && host.split('.').all(|comp| {
            let b = comp.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
        })
}

/// Path components `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` separated by `/`.
fn valid_path(p: &str) -> bool {
    p.split('/').all(valid_path_component)
}

fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    /// (input, normalised, familiar repository)
    #[test]
    fn valid_references_normalise_like_docker() {
        let d = format!("busybox@{D}");
        let pd = format!("localhost:5000/ns/name:tag@{D}");
        let full_d = format!("docker.io/library/busybox@{D}");
        let full_pd = format!("localhost:5000/ns/name:tag@{D}");
        let cases: Vec<(&str, &str, &str)> = vec![
            ("busybox", "docker.io/library/busybox:latest", "busybox"),
            ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox"),
            (
                "library/busybox",
                "docker.io/library/busybox:latest",
                "busybox",
            ),
            (
                "docker.io/busybox",
                "docker.io/library/busybox:latest",
                "busybox",
            ),
            (
                "index.docker.io/busybox",
                "docker.io/library/busybox:latest",
                "busybox",
            ),
            (
                "docker.io/library/busybox:latest",
                "docker.io/library/busybox:latest",
                "busybox",
            ),
            ("user/app", "docker.io/user/app:latest", "user/app"),
            (
                "user/app:v1.0-rc_1",
                "docker.io/user/app:v1.0-rc_1",
                "user/app",
            ),
            ("library/a/b", "docker.io/library/a/b:latest", "library/a/b"),
            ("localhost/x", "localhost/x:latest", "localhost/x"),
            (
                "localhost:5000/x",
                "localhost:5000/x:latest",
                "localhost:5000/x",
            ),
            (
                "localhost:5000/x:5000",
                "localhost:5000/x:5000",
                "localhost:5000/x",
            ),
            (
                "quay.io/org/img:tag",
                "quay.io/org/img:tag",
                "quay.io/org/img",
            ),
            (
                "example.com:443/a/b/c",
                "example.com:443/a/b/c:latest",
                "example.com:443/a/b/c",
            ),
            ("Foo/bar", "Foo/bar:latest", "Foo/bar"),
            ("[::1]:5000/x", "[::1]:5000/x:latest", "[::1]:5000/x"),
            ("a.b/c__d", "a.b/c__d:latest", "a.b/c__d"),
            (
                "my-reg.io/x---y",
                "my-reg.io/x---y:latest",
                "my-reg.io/x---y",
            ),
            ("x.y_z", "docker.io/library/x.y_z:latest", "x.y_z"),
            ("img:_tag", "docker.io/library/img:_tag", "img"),
            (&d, &full_d, "busybox"),
            (&pd, &full_pd, "localhost:5000/ns/name"),
        ];
        for (input, normalised, familiar) in cases {
            let r: Reference = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.to_string(), normalised, "{input}");
            assert_eq!(r.familiar(), familiar, "{input}");
            // Normalised forms parse back to themselves.
            assert_eq!(normalised.parse::<Reference>().unwrap(), r, "{normalised}");
        }
    }

    #[test]
    fn invalid_references_are_rejected() {
        let long = format!("a/{}", "b".repeat(260));
        let long_tag = format!("img:{}", "t".repeat(129));
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let cases: Vec<&str> = vec![
            "",
            ":tag",
            "UPPER",
            "user/App",
            "docker.io/Library/busybox",
            "busybox:",
            "busybox:-tag",
            "busybox:.tag",
            "busybox:ta/g",
            "busybox@sha256:abc",
            "busybox@md5:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "-busybox",
            "busybox-",
            "bus..ybox",
            "bus___ybox",
            "a//b",
            "a/",
            "/a",
            "-host.io/x",
            "host.io:port/x",
            "host.io:/x",
            "bus ybox",
            "busybox::tag",
            hex,
            &long,
            &long_tag,
        ];
        for input in cases {
            assert!(
                input.parse::<Reference>().is_err(),
                "{input:?} was accepted as {:?}",
                input.parse::<Reference>()
            );
        }
    }

    #[test]
    fn accessors_and_familiar_string() {
        let r: Reference = "localhost:5000/ns/app:v2".parse().unwrap();
        assert_eq!(r.domain(), "localhost:5000");
        assert_eq!(r.path(), "ns/app");
        assert_eq!(r.tag(), Some("v2"));
        assert_eq!(r.digest(), None);
        assert_eq!(r.repository(), "localhost:5000/ns/app");
        assert_eq!(r.familiar_string(), "localhost:5000/ns/app:v2");

        let b: Reference = "busybox".parse().unwrap();
        assert_eq!(b.familiar_string(), "busybox:latest");
        let with_d = b.with_digest(D.parse().unwrap());
        assert_eq!(with_d.to_string(), format!("docker.io/library/busybox@{D}"));
        assert_eq!(with_d.familiar_string(), format!("busybox@{D}"));
        assert_eq!(
            b.with_tag("x").unwrap().to_string(),
            "docker.io/library/busybox:x"
        );
        assert!(b.with_tag("no/slash").is_err());

        let n = Reference::parse_name_only("busybox").unwrap();
        assert_eq!(n.tag(), None);
        assert_eq!(n.to_string(), "docker.io/library/busybox");
    }

    #[test]
    fn errors_name_the_reference() {
        let e = "user/App".parse::<Reference>().unwrap_err();
        assert!(e.to_string().contains("user/App"), "{e}");
        assert!(matches!(e, ReferenceError::NameNotLowercase(_)));
    }
}
