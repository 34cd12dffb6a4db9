//! Heredoc bodies: reading the raw lines up to a terminator, and chomping them at build time.

/// Reads a heredoc body starting at byte `offset` of `source`: raw lines (line endings kept) up
/// to the line equal to `name` (trailing CR/LF ignored; leading tabs ignored when `chomp`).
/// Returns the content and the offset after the terminator line, or `None` if the file ends
/// first.
pub(crate) fn read_body(
    source: &str,
    offset: usize,
    name: &str,
    chomp: bool,
) -> Option<(String, usize)> {
    let mut pos = offset;
    let mut content = String::new();
    while pos < source.len() {
        let rest = &source[pos..];
        let len = rest.find('\n').map_or(rest.len(), |i| i + 1);
        let raw = &rest[..len];
        let mut candidate = raw.trim_end_matches(['\r', '\n']);
        if chomp {
            candidate = candidate.trim_start_matches('\t');
        }
        pos += len;
        if candidate == name {
            return Some((content, pos));
        }
        content.push_str(raw);
    }
    None
}

/// Strips the leading tabs of every body line, as `<<-` asks.
pub fn chomp(content: &str) -> String {
    content
        .split_inclusive('\n')
        .map(|l| l.trim_start_matches('\t'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies() {
        type Case<'a> = (&'a str, &'a str, bool, Option<(&'a str, usize)>);
        let cases: &[Case] = &[
            ("EOF\n", "EOF", false, Some(("", 4))),
            ("a\nb\nEOF\nnext", "EOF", false, Some(("a\nb\n", 8))),
            ("a\r\nEOF\r\n", "EOF", false, Some(("a\r\n", 8))),
            ("\tx\n\tEOF\n", "EOF", true, Some(("\tx\n", 8))),
            ("\tx\n\tEOF\n", "EOF", false, None),
            ("x\nEOF", "EOF", false, Some(("x\n", 5))),
            ("x\nEOFX\n", "EOF", false, None),
        ];
        for (src, name, ch, want) in cases {
            let got = read_body(src, 0, name, *ch);
            assert_eq!(
                got.as_ref().map(|(c, p)| (c.as_str(), *p)),
                *want,
                "{src:?}"
            );
        }
    }

    #[test]
    fn chomping() {
        assert_eq!(chomp("\thello\n\t\tworld\n"), "hello\nworld\n");
        assert_eq!(chomp("a\n\n\tb"), "a\n\nb");
    }
}
