//! Output helpers shared by the image commands, matching the docker CLI: human sizes and
//! durations (go-units), tab-aligned tables, JSON with Docker's indentation.

use std::io::Write;

use serde::Serialize;

/// `HumanSize` with 3 significant digits and decimal units: `4.26MB`, `187kB`, `0B`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    // %.3g: three significant digits, trailing zeros dropped.
    let s = if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("{s}{}", UNITS[i])
}

pub use crate::store::time::human_duration;

/// `N units ago` for an RFC 3339 time, `N/A` when there is none.
pub fn since(created: Option<&str>, now: i64) -> String {
    match created.and_then(crate::store::time::parse_rfc3339) {
        Some(t) => format!("{} ago", human_duration(now - t)),
        None => "N/A".into(),
    }
}

/// Rows aligned as the docker CLI's tabwriter does (min width 10, padding 3); the last column
/// is not padded.
pub fn render_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let cols = header.len();
    let mut widths = vec![0usize; cols];
    for row in std::iter::once(&header.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .chain(rows.iter())
    {
        for (i, cell) in row.iter().enumerate().take(cols) {
            widths[i] = widths[i].max(cell.chars().count() + 3).max(10);
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|s| s.to_string()).collect();
    for row in std::iter::once(&header).chain(rows.iter()) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate().take(cols) {
            line.push_str(cell);
            if i + 1 < cols {
                let pad = widths[i] - cell.chars().count();
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Rows through a Docker `--format` (Go template, `json`, or `table …`): one line per row;
/// a `table` template gets its header row (titles from `headers`) and aligned columns, as the
/// docker CLI's tabwriter aligns them.
pub fn render_rows(
    format: &str,
    rows: &[serde_json::Value],
    headers: &[(&str, &str)],
) -> Result<String, super::gotemplate::TemplateError> {
    let t = super::gotemplate::Template::parse(&super::gotemplate::expand_shorthand(format))?;
    let mut lines = Vec::new();
    for r in rows {
        lines.push(t.render_strict(r)?);
    }
    if !t.table {
        return Ok(lines.iter().map(|l| format!("{l}\n")).collect());
    }
    let header: Vec<String> = t.header(headers).split('\t').map(str::to_string).collect();
    let cells: Vec<Vec<String>> = lines
        .iter()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect();
    let titles: Vec<&str> = header.iter().map(String::as_str).collect();
    Ok(render_table(&titles, &cells))
}

/// `inspect -f`: the template once per object, over the object's JSON as Docker decodes it, so
/// a key the object lacks prints `<no value>` rather than failing.
pub fn render_inspect(
    format: &str,
    objects: &[serde_json::Value],
) -> Result<String, super::gotemplate::TemplateError> {
    let t = super::gotemplate::Template::parse(&super::gotemplate::expand_shorthand(format))?;
    let mut out = String::new();
    for o in objects {
        out.push_str(&t.render(o)?);
        out.push('\n');
    }
    Ok(out)
}

/// JSON indented with 4 spaces, as `docker inspect` prints it.
pub fn to_docker_json<T: Serialize>(value: &T) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    value
        .serialize(&mut ser)
        .expect("JSON values always serialise");
    String::from_utf8(buf).expect("serde_json writes UTF-8")
}

/// `stringutils.Ellipsis`: at most `max` characters, the last one `…` when cut.
pub fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A prune's report section as Docker prints it: `Deleted Containers:`, one item per line, a
/// blank line; nothing when nothing went.
pub fn deleted_section<S: AsRef<str>>(title: &str, items: &[S]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let mut out = format!("Deleted {title}:\n");
    for i in items {
        out.push_str(i.as_ref());
        out.push('\n');
    }
    out.push('\n');
    out
}

/// `untagged: busybox:latest` / `deleted: sha256:…` lines of an image removal.
pub fn removal_lines(events: &[crate::store::image::RemoveEvent]) -> Vec<String> {
    use crate::store::image::RemoveEvent;
    events
        .iter()
        .map(|e| match e {
            RemoveEvent::Untagged(t) => format!("untagged: {}", t.familiar_string()),
            RemoveEvent::Deleted(id) => format!("deleted: {id}"),
        })
        .collect()
}

/// Writes to stdout, ignoring a closed pipe (`strata images | head`).
pub fn print(s: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(s.as_bytes());
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_go_units() {
        let cases = [
            (0, "0B"),
            (999, "999B"),
            (1000, "1kB"),
            (1234, "1.23kB"),
            (4_261_550, "4.26MB"),
            (77_800_000, "77.8MB"),
            (187_000_000, "187MB"),
            (1_500_000_000, "1.5GB"),
        ];
        for (n, want) in cases {
            assert_eq!(human_size(n), want, "{n}");
        }
    }

    #[test]
    fn durations_like_go_units() {
        let cases = [
            (0, "Less than a second"),
            (1, "1 second"),
            (59, "59 seconds"),
            (60, "About a minute"),
            (119, "About a minute"),
            (120, "2 minutes"),
            (3599, "59 minutes"),
            (3600, "About an hour"),
            (7200, "2 hours"),
            (47 * 3600, "47 hours"),
            (48 * 3600, "2 days"),
            (14 * 86400, "2 weeks"),
            (60 * 86400, "2 months"),
            (3 * 365 * 86400, "3 years"),
        ];
        for (s, want) in cases {
            assert_eq!(human_duration(s), want, "{s}");
        }
        assert_eq!(since(Some("1970-01-01T00:00:00Z"), 7200), "2 hours ago");
        assert_eq!(since(None, 7200), "N/A");
    }

    #[test]
    fn rows_fail_whole_on_an_unknown_field() {
        let rows = [
            serde_json::json!({"Names": "a"}),
            serde_json::json!({"Names": "b"}),
        ];
        assert_eq!(render_rows("{{.Names}}", &rows, &[]).unwrap(), "a\nb\n");
        let err = render_rows("{{.Names}} {{.Nmes}}", &rows, &[]).unwrap_err();
        assert!(
            err.to_string().contains("can't evaluate field Nmes"),
            "{err}"
        );
        assert_eq!(
            render_rows("table {{.Names}}", &rows, &[("Names", "NAMES")]).unwrap(),
            "NAMES\na\nb\n"
        );
    }

    #[test]
    fn table_columns_align_like_docker() {
        let t = render_table(
            &["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
            &[vec![
                "busybox".into(),
                "latest".into(),
                "0123456789ab".into(),
                "2 hours ago".into(),
                "4.26MB".into(),
            ]],
        );
        assert_eq!(
            t,
            "REPOSITORY   TAG       IMAGE ID       CREATED       SIZE\n\
             busybox      latest    0123456789ab   2 hours ago   4.26MB\n"
        );
        assert_eq!(ellipsis("abcdef", 4), "abc…");
        assert_eq!(ellipsis("abc", 4), "abc");
    }
}
