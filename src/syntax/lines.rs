//! Byte offset → 1-based line and character column, for the spans of the syntax tree.

use super::ast::Span;

/// The start offset of every physical line of a source text.
#[derive(Debug, Clone)]
pub(crate) struct LineIndex<'a> {
    source: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(source: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(
            source
                .bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex { source, starts }
    }

    /// The 1-based line holding byte `offset`.
    pub(crate) fn line(&self, offset: usize) -> u32 {
        let idx = self.starts.partition_point(|&s| s <= offset);
        idx.max(1) as u32
    }

    /// A span from `start` to `end` (byte offsets into the source).
    pub(crate) fn span(&self, start: usize, end: usize) -> Span {
        let line = self.line(start);
        let line_start = self.starts[line as usize - 1];
        let start = start.min(self.source.len());
        // A BOM is not a column.
        let line_start = if line_start == 0 && self.source.starts_with('\u{feff}') {
            3.min(start)
        } else {
            line_start
        };
        let column = self
            .source
            .get(line_start..start)
            .map_or(1, |s| s.chars().count() + 1) as u32;
        Span {
            start,
            end: end.max(start),
            line,
            column,
        }
    }

    /// Byte range of physical line `line` (1-based), without its `\n`.
    pub(crate) fn line_range(&self, line: u32) -> (usize, usize) {
        let i = (line as usize).saturating_sub(1).min(self.starts.len() - 1);
        let start = self.starts[i];
        let end = self
            .starts
            .get(i + 1)
            .map_or(self.source.len(), |&next| next - 1);
        (start, end)
    }

    pub(crate) fn line_count(&self) -> u32 {
        self.starts.len() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns() {
        let src = "ab\nc♥d\n\nx";
        let idx = LineIndex::new(src);
        let cases = [
            (0, 1, 1),
            (1, 1, 2),
            (3, 2, 1),
            (4, 2, 2),
            (7, 2, 3),
            (9, 3, 1),
            (10, 4, 1),
        ];
        for (off, line, col) in cases {
            let s = idx.span(off, off);
            assert_eq!((s.line, s.column), (line, col), "offset {off}");
        }
        assert_eq!(idx.line_range(2), (3, 8));
        assert_eq!(idx.line_range(4), (10, 11));
        assert_eq!(idx.line_count(), 4);
    }
}
