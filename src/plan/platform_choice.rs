//! Picking one manifest of an image index (or Docker manifest list) for a platform, as
//! containerd's default matcher does; shared by pulls, the store's own indexes and caches.

use serde_json::Value;

use crate::digest::Digest;
use crate::plan::platform::Platform;

/// One entry of an index or manifest list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexChoice {
    pub digest: Digest,
    pub platform: Option<Platform>,
}

/// The entries of an index or manifest list.
pub fn index_entries(bytes: &[u8]) -> Result<Vec<IndexChoice>, String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let list = v
        .get("manifests")
        .and_then(Value::as_array)
        .ok_or("no manifests list")?;
    list.iter()
        .map(|e| {
            let platform = e.get("platform").map(|p| {
                let s = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("");
                let variant = s("variant");
                Platform::new(
                    s("os"),
                    s("architecture"),
                    (!variant.is_empty()).then_some(variant),
                )
            });
            Ok(IndexChoice {
                digest: e
                    .get("digest")
                    .and_then(Value::as_str)
                    .and_then(|d| d.parse().ok())
                    .ok_or("an index entry has no sha256 digest")?,
                platform,
            })
        })
        .collect()
}

/// The entry for `want`: same OS and architecture, and the same variant when one is wanted
/// (an entry without variant matches any); the first match wins, as containerd picks.
pub fn choose_platform(entries: &[IndexChoice], want: &Platform) -> Option<Digest> {
    let fits = |p: &Platform, strict: bool| {
        p.os == want.os
            && p.architecture == want.architecture
            && (p.variant == want.variant || (!strict && p.variant.is_none()))
    };
    let find = |strict: bool| {
        entries
            .iter()
            .find(|e| e.platform.as_ref().is_some_and(|p| fits(p, strict)))
            .map(|e| e.digest)
    };
    find(true).or_else(|| find(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Digest {
        Digest::of(s.as_bytes())
    }

    #[test]
    fn platform_choice() {
        let e = |name: &str, p: Option<&str>| IndexChoice {
            digest: d(name),
            platform: p.map(|p| Platform::parse(p).unwrap()),
        };
        let entries = vec![
            e("amd64", Some("linux/amd64")),
            e("armv6", Some("linux/arm/v6")),
            e("armv7", Some("linux/arm/v7")),
            e("arm64", Some("linux/arm64/v8")),
            e("attest", None),
            e("win", Some("windows/amd64")),
        ];
        for (want, got) in [
            ("linux/amd64", Some("amd64")),
            ("linux/arm/v7", Some("armv7")),
            ("linux/arm/v6", Some("armv6")),
            ("linux/arm64", Some("arm64")),
            ("windows/amd64", Some("win")),
            ("linux/s390x", None),
            ("linux/amd64/v3", Some("amd64")),
        ] {
            let want = Platform::parse(want).unwrap();
            assert_eq!(choose_platform(&entries, &want), got.map(d), "{want}");
        }
    }
}
