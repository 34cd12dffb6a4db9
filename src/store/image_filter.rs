//! `images --filter KEY=VALUE` as Docker reads it (pure): which images, under which of their
//! tags, a listing shows. The same key given twice matches either value (`reference`), except
//! `label`, where every value must match; different keys must all match. `before`/`since` name
//! another image, whose creation time the caller looks up (`ImageFilters::bounds`).
//!
//! Docker's engine hides "intermediate" images (untagged parents of other images, made by the
//! classic builder) unless `-a`; strata never records a parent, so every untagged image is a
//! dangling leaf and is listed.

use std::collections::BTreeMap;

use crate::reference::Reference;

/// The filter keys `images` takes.
pub const KEYS: &[&str] = &["before", "dangling", "label", "reference", "since", "until"];

/// Why a `--filter` value is refused; messages are Docker's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("bad format of filter (expected name=value): {0}")]
    Format(String),
    #[error("invalid filter '{0}'")]
    Key(String),
    #[error("invalid filter '{key}={value}'")]
    Value { key: String, value: String },
    #[error("syntax error in pattern: {0}")]
    Pattern(String),
}

/// The values `pairs` (from [`split_filters`]) give for `key`, in order.
pub fn filter_values<'a>(pairs: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    pairs
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// `--filter` values split into `(key, value)`, keys lowercased and both trimmed, as the
/// docker CLI sends them; keys are checked against `keys`.
pub fn split_filters(
    specs: &[String],
    keys: &[&str],
) -> Result<Vec<(String, String)>, FilterError> {
    let mut out = Vec::new();
    for s in specs {
        let Some((k, v)) = s.split_once('=') else {
            return Err(FilterError::Format(s.clone()));
        };
        let k = k.trim().to_ascii_lowercase();
        if !keys.contains(&k.as_str()) {
            return Err(FilterError::Key(k));
        }
        out.push((k, v.trim().to_string()));
    }
    Ok(out)
}

/// A boolean filter value as Docker's `GetBoolOrDefault` takes it (`true`/`1`, `false`/`0`,
/// any case); several different values are refused.
pub fn bool_value(key: &str, values: &[&str]) -> Result<Option<bool>, FilterError> {
    let mut out = None;
    for v in values {
        let b = match v.to_ascii_lowercase().as_str() {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => {
                return Err(FilterError::Value {
                    key: key.into(),
                    value: v.to_string(),
                })
            }
        };
        if out.is_some_and(|o| o != b) {
            return Err(FilterError::Value {
                key: key.into(),
                value: values.join(","),
            });
        }
        out = Some(b);
    }
    Ok(out)
}

/// `label=KEY` or `label=KEY=VALUE`, as (key, value).
pub fn label_spec(v: &str) -> (String, Option<String>) {
    match v.split_once('=') {
        Some((k, val)) => (k.to_string(), Some(val.to_string())),
        None => (v.to_string(), None),
    }
}

/// Docker's `MatchKVList`: every spec's key is present (with its value, when one is given).
pub fn labels_match(specs: &[(String, Option<String>)], labels: &BTreeMap<String, String>) -> bool {
    specs.iter().all(|(k, v)| match (labels.get(k), v) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(have), Some(want)) => have == want,
    })
}

/// Parsed `images --filter` values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageFilters {
    dangling: Option<bool>,
    references: Vec<String>,
    labels: Vec<(String, Option<String>)>,
    before: Option<String>,
    since: Option<String>,
    /// Unix seconds.
    until: Option<i64>,
}

/// `before`/`since` resolved to creation times (Unix seconds) by the caller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bounds {
    pub before: Option<i64>,
    pub since: Option<i64>,
}

/// What the filters see of one image.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub tags: &'a [Reference],
    /// Unix seconds, `None` when the config has no (valid) `created`.
    pub created: Option<i64>,
    pub labels: Option<&'a BTreeMap<String, String>>,
}

impl ImageFilters {
    /// Parses the `--filter` values; `now` (Unix seconds) anchors a relative `until=1h`.
    pub fn parse(specs: &[String], now: i64) -> Result<ImageFilters, FilterError> {
        let pairs = split_filters(specs, KEYS)?;
        let values = |key: &str| filter_values(&pairs, key);
        let mut f = ImageFilters {
            dangling: bool_value("dangling", &values("dangling"))?,
            ..Default::default()
        };
        for p in values("reference") {
            // Docker matches with Go's path.Match, which refuses a bad pattern wherever it is.
            check_pattern(p)?;
            f.references.push(p.to_string());
        }
        f.labels = values("label").into_iter().map(label_spec).collect();
        // Docker keeps one of several `before`/`since` values; strata keeps the last given.
        f.before = values("before").last().map(|s| s.to_string());
        f.since = values("since").last().map(|s| s.to_string());
        if let Some(u) = values("until").last() {
            let ns = crate::store::events::parse_time(u, i128::from(now) * 1_000_000_000).map_err(
                |_| FilterError::Value {
                    key: "until".into(),
                    value: u.to_string(),
                },
            )?;
            f.until = Some((ns.div_euclid(1_000_000_000)) as i64);
        }
        Ok(f)
    }

    pub fn is_empty(&self) -> bool {
        *self == ImageFilters::default()
    }

    /// Adds `images REPO[:TAG]`'s argument, which Docker sends as a `reference` filter.
    pub fn add_reference(&mut self, pattern: &str) -> Result<(), FilterError> {
        check_pattern(pattern)?;
        self.references.push(pattern.to_string());
        Ok(())
    }

    /// Resolves `before`/`since` with `created_of` (the creation time of the image a value
    /// names; an error when there is no such image, as Docker refuses the listing then).
    pub fn bounds<E>(
        &self,
        created_of: impl Fn(&str) -> Result<Option<i64>, E>,
    ) -> Result<Bounds, E> {
        let mut b = Bounds::default();
        if let Some(r) = &self.before {
            b.before = created_of(r)?;
        }
        if let Some(r) = &self.since {
            b.since = created_of(r)?;
        }
        Ok(b)
    }

    /// The rows `c` gets: `None` when the image is not listed, else its tags that pass (an
    /// empty list is the one `<none>` row of an untagged image).
    pub fn rows<'a>(&self, c: &Candidate<'a>, bounds: &Bounds) -> Option<Vec<&'a Reference>> {
        if let Some(t) = bounds.before {
            if c.created.is_none_or(|created| created >= t) {
                return None;
            }
        }
        if let Some(t) = bounds.since {
            if c.created.is_none_or(|created| created <= t) {
                return None;
            }
        }
        if let Some(t) = self.until {
            if c.created.is_none_or(|created| created >= t) {
                return None;
            }
        }
        if !self.labels.is_empty() {
            let empty = BTreeMap::new();
            if !labels_match(&self.labels, c.labels.unwrap_or(&empty)) {
                return None;
            }
        }
        let tags: Vec<&Reference> = c
            .tags
            .iter()
            .filter(|t| {
                self.references.is_empty() || self.references.iter().any(|p| ref_matches(p, t))
            })
            .collect();
        if tags.is_empty() {
            // Untagged (or no tag matched): only a dangling image gets its `<none>` row, and
            // not when a reference pattern or `dangling=false` asks for names.
            let dangling = c.tags.is_empty();
            if !dangling || !self.references.is_empty() || self.dangling == Some(false) {
                return None;
            }
            return Some(Vec::new());
        }
        if self.dangling == Some(true) {
            return None;
        }
        Some(tags)
    }
}

/// Docker's `FamiliarMatch`: the pattern against `busybox:latest`, then against `busybox`.
pub fn ref_matches(pattern: &str, r: &Reference) -> bool {
    path_match(pattern, &r.familiar_string()).unwrap_or(false)
        || path_match(pattern, &r.familiar()).unwrap_or(false)
}

/// Checks a pattern as Go's `path.Match` would before matching anything.
pub fn check_pattern(pattern: &str) -> Result<(), FilterError> {
    path_match(pattern, "").map(|_| ())
}

/// Go's `path.Match`: `*` is any run of characters but `/`, `?` one character but `/`,
/// `[a-z]`/`[^a-z]` a class, `\` escapes. A malformed pattern is an error wherever it is.
pub fn path_match(pattern: &str, name: &str) -> Result<bool, FilterError> {
    let p: Vec<char> = pattern.chars().collect();
    let bad = || FilterError::Pattern(pattern.to_string());
    // Validate the whole pattern first, so a match never hides a malformed tail.
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '\\' => {
                if i + 1 >= p.len() {
                    return Err(bad());
                }
                i += 2;
            }
            '[' => i = class(&p, i, None).ok_or_else(bad)?.1,
            _ => i += 1,
        }
    }
    let s: Vec<char> = name.chars().collect();
    Ok(matches_from(&p, &s))
}

fn matches_from(p: &[char], s: &[char]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some('*') => {
            let rest = &p[1..];
            for i in 0..=s.len() {
                if matches_from(rest, &s[i..]) {
                    return true;
                }
                if i < s.len() && s[i] == '/' {
                    return false;
                }
            }
            false
        }
        Some('?') => !s.is_empty() && s[0] != '/' && matches_from(&p[1..], &s[1..]),
        Some('[') => match (s.first(), class(p, 0, s.first().copied())) {
            (Some(_), Some((true, end))) => matches_from(&p[end..], &s[1..]),
            _ => false,
        },
        Some('\\') => !s.is_empty() && s[0] == p[1] && matches_from(&p[2..], &s[1..]),
        Some(&c) => !s.is_empty() && s[0] == c && matches_from(&p[1..], &s[1..]),
    }
}

/// The class starting at `p[start] == '['`: whether `ch` is in it (false without one) and the
/// index after its `]`; `None` when malformed (empty, unclosed, a range missing an end).
fn class(p: &[char], start: usize, ch: Option<char>) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negated = p.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut matched = false;
    let mut ranges = 0;
    loop {
        if p.get(i) == Some(&']') && ranges > 0 {
            i += 1;
            break;
        }
        let (lo, next) = class_char(p, i)?;
        i = next;
        let mut hi = lo;
        if p.get(i) == Some(&'-') {
            let (h, next) = class_char(p, i + 1)?;
            hi = h;
            i = next;
        }
        if ch.is_some_and(|c| lo <= c && c <= hi) {
            matched = true;
        }
        ranges += 1;
    }
    Some((matched != negated, i))
}

/// One character of a class (`\x` escapes it); `-` and `]` may not stand alone here.
fn class_char(p: &[char], i: usize) -> Option<(char, usize)> {
    match p.get(i)? {
        '-' | ']' => None,
        '\\' => Some((*p.get(i + 1)?, i + 2)),
        &c => Some((c, i + 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_match_like_go() {
        for (pattern, name, want) in [
            ("abc", "abc", Ok(true)),
            ("*", "abc", Ok(true)),
            ("*c", "abc", Ok(true)),
            ("a*", "a", Ok(true)),
            ("a*", "ab/c", Ok(false)),
            ("a*/b", "abc/b", Ok(true)),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", Ok(true)),
            ("a*b?c*x", "abxbbxdbxebxczzx", Ok(true)),
            ("ab[c]", "abc", Ok(true)),
            ("ab[b-d]", "abc", Ok(true)),
            ("ab[e-g]", "abc", Ok(false)),
            ("ab[^c]", "abc", Ok(false)),
            ("ab[^e-g]", "abc", Ok(true)),
            ("a\\*b", "a*b", Ok(true)),
            ("a\\*b", "ab", Ok(false)),
            ("a?b", "a☺b", Ok(true)),
            ("a?b", "a/b", Ok(false)),
            ("*:v1", "app:v1", Ok(true)),
            ("*:v1", "user/app:v1", Ok(false)),
            ("*/*:v1", "user/app:v1", Ok(true)),
            ("busy*", "busybox", Ok(true)),
            ("busy*", "busybox:latest", Ok(true)),
            ("[", "a", Err(())),
            ("[^", "a", Err(())),
            ("[]a]", "]", Err(())),
            ("[-]", "-", Err(())),
            ("[x-]", "x", Err(())),
            ("a[", "x", Err(())),
            ("\\", "a", Err(())),
            ("[a-b-c]", "a", Err(())),
            ("*x", "xxx", Ok(true)),
        ] {
            let got = path_match(pattern, name).map_err(|_| ());
            assert_eq!(got, want, "{pattern:?} {name:?}");
        }
    }

    fn r(s: &str) -> Reference {
        Reference::parse(s).unwrap()
    }

    /// Lists the rows an image gets as text: `-` hidden, `<none>`, or its familiar tags.
    fn show(f: &ImageFilters, c: &Candidate, b: &Bounds) -> String {
        match f.rows(c, b) {
            None => "-".into(),
            Some(t) if t.is_empty() => "<none>".into(),
            Some(t) => t
                .iter()
                .map(|t| t.familiar_string())
                .collect::<Vec<_>>()
                .join(" "),
        }
    }

    #[test]
    fn filters_select_rows_as_dockers() {
        let tagged = vec![r("busybox:latest"), r("user/app:v1"), r("app:v1")];
        let labels: BTreeMap<String, String> =
            [("a".to_string(), "1".to_string()), ("b".into(), "".into())].into();
        let img = Candidate {
            tags: &tagged,
            created: Some(100),
            labels: Some(&labels),
        };
        let none = Candidate {
            tags: &[],
            created: Some(50),
            labels: None,
        };
        let all = "busybox:latest user/app:v1 app:v1";
        let cases: &[(&[&str], &str, &str)] = &[
            (&[], all, "<none>"),
            (&["dangling=true"], "-", "<none>"),
            (&["dangling=TRUE"], "-", "<none>"),
            (&["dangling=1"], "-", "<none>"),
            (&["dangling=false"], all, "-"),
            (&["reference=busy*"], "busybox:latest", "-"),
            (&["reference=busybox"], "busybox:latest", "-"),
            (&["reference=*:v1"], "app:v1", "-"),
            (&["reference=*/*:v1"], "user/app:v1", "-"),
            (
                &["reference=*:v1", "reference=*/*:v1"],
                "user/app:v1 app:v1",
                "-",
            ),
            (&["reference=nothing"], "-", "-"),
            (&["label=a"], all, "-"),
            (&["label=a=1"], all, "-"),
            (&["label=a=2"], "-", "-"),
            (&["label=b="], all, "-"),
            (&["label=a", "label=b"], all, "-"),
            (&["label=a", "label=c"], "-", "-"),
            (&["label=a", "reference=app"], "app:v1", "-"),
            (&["until=101"], all, "<none>"),
            (&["until=100"], "-", "<none>"),
            (&["until=60"], "-", "<none>"),
            (&["until=40"], "-", "-"),
            (&[" Dangling = true "], "-", "<none>"),
        ];
        for (specs, want_img, want_none) in cases {
            let specs: Vec<String> = specs.iter().map(|s| s.to_string()).collect();
            let f = ImageFilters::parse(&specs, 1000).unwrap();
            let b = Bounds::default();
            assert_eq!(show(&f, &img, &b), *want_img, "{specs:?} tagged");
            assert_eq!(show(&f, &none, &b), *want_none, "{specs:?} untagged");
        }
    }

    #[test]
    fn before_and_since_compare_creation_times() {
        let tags = vec![r("x")];
        let c = |created| Candidate {
            tags: &tags,
            created,
            labels: None,
        };
        let f = ImageFilters::default();
        for (before, since, created, listed) in [
            (Some(10), None, Some(9), true),
            (Some(10), None, Some(10), false),
            (Some(10), None, None, false),
            (None, Some(10), Some(11), true),
            (None, Some(10), Some(10), false),
            (Some(20), Some(10), Some(15), true),
            (Some(20), Some(10), Some(25), false),
        ] {
            let b = Bounds { before, since };
            assert_eq!(
                f.rows(&c(created), &b).is_some(),
                listed,
                "{b:?} {created:?}"
            );
        }
        let specs = vec!["before=a".to_string(), "since=b".to_string()];
        let f = ImageFilters::parse(&specs, 0).unwrap();
        let b = f
            .bounds(|r| match r {
                "a" => Ok(Some(5)),
                "b" => Ok(Some(1)),
                _ => Err(()),
            })
            .unwrap();
        assert_eq!(
            b,
            Bounds {
                before: Some(5),
                since: Some(1)
            }
        );
        let specs = vec!["since=missing".to_string()];
        let f = ImageFilters::parse(&specs, 0).unwrap();
        assert!(f
            .bounds(|_| Err::<Option<i64>, _>("no such image"))
            .is_err());
    }

    #[test]
    fn bad_filters_are_named() {
        for (spec, msg) in [
            (
                "dangling",
                "bad format of filter (expected name=value): dangling",
            ),
            ("colour=red", "invalid filter 'colour'"),
            ("dangling=maybe", "invalid filter 'dangling=maybe'"),
            ("reference=[", "syntax error in pattern"),
            ("until=soon", "invalid filter 'until=soon'"),
        ] {
            let e = ImageFilters::parse(&[spec.to_string()], 0)
                .unwrap_err()
                .to_string();
            assert!(e.contains(msg), "{spec}: {e}");
        }
        let both = ["dangling=true".to_string(), "dangling=false".to_string()];
        assert_eq!(
            ImageFilters::parse(&both, 0).unwrap_err().to_string(),
            "invalid filter 'dangling=true,false'"
        );
    }
}
