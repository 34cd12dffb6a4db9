//! Destination paths, pure: a dest made absolute against WORKDIR and cleaned (it can never climb
//! above `/`), whether it names a directory by its spelling, and the file name a URL gives.

use super::select::clean_components;

/// The absolute, cleaned destination: "If the destination path doesn't begin with a leading
/// slash, it's interpreted as relative to the working directory of the build container."
pub fn dest_path(workdir: &str, dest: &str) -> String {
    let joined = if dest.starts_with('/') {
        dest.to_string()
    } else {
        format!("{}/{}", workdir, dest)
    };
    format!("/{}", clean_components(&joined).join("/"))
}

/// Whether the destination as written names a directory: "Trailing slashes are significant.
/// `COPY test.txt /abs` creates a file at `/abs`, whereas `COPY test.txt /abs/` creates
/// `/abs/test.txt`." BuildKit treats `.` (and a trailing `/.` or `..`) the same way, since such
/// a path can only be a directory.
pub fn is_dir_shaped(dest: &str) -> bool {
    dest.ends_with('/')
        || dest == "."
        || dest == ".."
        || dest.ends_with("/.")
        || dest.ends_with("/..")
}

/// The file name an ADD of a URL into a directory gets: the last segment of the URL's path
/// ("ADD http://example.com/foobar / would create the file /foobar"); empty when the path has
/// none (`http://example.com`, which Docker refuses for a directory destination).
pub fn url_file_name(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.split(['?', '#']).next().unwrap_or("");
    let path = path.split_once('/').map_or("", |(_, p)| p);
    let name = path.rsplit('/').find(|s| !s.is_empty())?;
    Some(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dest_path_table() {
        let rows = [
            ("/", "/abs/", "/abs"),
            ("/usr/src/app", "rel/", "/usr/src/app/rel"),
            ("/app", ".", "/app"),
            ("/app", "./x/../y", "/app/y"),
            ("/app", "../../../..", "/"),
            ("/", "../../etc", "/etc"),
            ("/w", "/abs/./f", "/abs/f"),
        ];
        for (wd, dest, want) in rows {
            assert_eq!(dest_path(wd, dest), want, "{wd} + {dest}");
        }
    }

    #[test]
    fn dir_shape_table() {
        for d in ["/abs/", ".", "..", "x/.", "x/..", "/"] {
            assert!(is_dir_shaped(d), "{d}");
        }
        for d in ["/abs", "x", "app.jar", "./x"] {
            assert!(!is_dir_shaped(d), "{d}");
        }
    }

    #[test]
    fn url_names() {
        let rows = [
            ("http://example.com/foobar", Some("foobar")),
            (
                "https://example.com/a/b/c.tar.gz?x=1#frag",
                Some("c.tar.gz"),
            ),
            ("https://example.com/dir/", Some("dir")),
            ("http://example.com", None),
            ("http://example.com/", None),
        ];
        for (url, want) in rows {
            assert_eq!(url_file_name(url).as_deref(), want, "{url}");
        }
    }
}
