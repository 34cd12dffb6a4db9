//! Dockerfile bytes to text: the one place that decides a Dockerfile is not UTF-8, and says
//! where, so `build`, `check` and `debug parse` report it the same way.

use super::ast::Span;
use super::error::Diagnostic;

/// The first byte of a Dockerfile that does not start a valid UTF-8 sequence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the Dockerfile is not valid UTF-8: byte 0x{byte:02x} at offset {offset}")]
pub struct NotUtf8 {
    /// Byte offset in the file.
    pub offset: usize,
    pub byte: u8,
    /// 1-based line, and 1-based column in characters, as other diagnostics count them.
    pub line: u32,
    pub column: u32,
}

impl NotUtf8 {
    pub fn to_diagnostic(&self) -> Diagnostic {
        let span = Span {
            start: self.offset,
            end: self.offset + 1,
            line: self.line,
            column: self.column,
        };
        Diagnostic::error(span, self.to_string())
    }
}

/// The file as text, or where its first invalid byte is.
pub fn decode(bytes: Vec<u8>) -> Result<String, NotUtf8> {
    String::from_utf8(bytes).map_err(|e| locate(e.as_bytes(), e.utf8_error().valid_up_to()))
}

/// [`decode`], the failure rendered as every located error is (`NAME:LINE:COL: error: …`, the
/// line, a caret), for the front doors that print it.
pub fn decode_or_render(name: &str, bytes: Vec<u8>) -> Result<String, String> {
    String::from_utf8(bytes).map_err(|e| {
        let err = locate(e.as_bytes(), e.utf8_error().valid_up_to());
        let shown = String::from_utf8_lossy(e.as_bytes());
        super::error::render(name, &shown, &err.to_diagnostic())
    })
}

/// The error for `bytes`, valid UTF-8 up to `offset`.
fn locate(bytes: &[u8], offset: usize) -> NotUtf8 {
    let valid = std::str::from_utf8(&bytes[..offset]).unwrap_or_default();
    let line_start = valid.rfind('\n').map_or(0, |i| i + 1);
    let line = &valid[line_start..];
    // A BOM is not a column.
    let line = line.strip_prefix('\u{feff}').unwrap_or(line);
    NotUtf8 {
        offset,
        byte: bytes[offset],
        line: valid.matches('\n').count() as u32 + 1,
        column: line.chars().count() as u32 + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_the_first_invalid_byte() {
        // (bytes, (offset, byte, line, column))
        type Where = (usize, u8, u32, u32);
        let cases: &[(&[u8], Where)] = &[
            (b"\xff", (0, 0xff, 1, 1)),
            (b"FROM a\nRUN \xc3(", (11, 0xc3, 2, 5)),
            (
                b"FROM a\n\nLABEL x=\"\xc3\xa9\xe2\x82\"\n",
                (19, 0xe2, 3, 11),
            ),
            (b"\xef\xbb\xbfFROM \x80", (8, 0x80, 1, 6)),
            (b"FROM a\r\nRUN \xed\xa0\x80", (12, 0xed, 2, 5)),
        ];
        for (bytes, (offset, byte, line, column)) in cases {
            let e = decode(bytes.to_vec()).unwrap_err();
            assert_eq!(
                (e.offset, e.byte, e.line, e.column),
                (*offset, *byte, *line, *column),
                "{bytes:?}"
            );
        }
        assert_eq!(decode(b"FROM a\n".to_vec()).unwrap(), "FROM a\n");
        let e = decode(b"FROM a\nRUN \xff\n".to_vec()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the Dockerfile is not valid UTF-8: byte 0xff at offset 11"
        );
    }
}
