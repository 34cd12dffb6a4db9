//! Printing `--explain`: one block per rebuilt step, its reasons indented below it.

use std::io::Write;

use crate::exec::explain::Explained;

/// Writes the explanation to `out` (stderr, next to the progress output). Write errors are
/// ignored: the build itself succeeded.
pub fn print(explained: &[Explained], out: &mut dyn Write) {
    if explained.is_empty() {
        let _ = writeln!(out, "explain: every step came from the cache");
        return;
    }
    let _ = writeln!(
        out,
        "explain: {} step{} rebuilt",
        explained.len(),
        if explained.len() == 1 { "" } else { "s" }
    );
    for e in explained {
        let _ = writeln!(out, "  {} (line {})", e.label, e.line);
        for r in &e.reasons {
            let _ = writeln!(out, "    - {r}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::explain::Reason;

    #[test]
    fn each_step_then_its_reasons() {
        let mut out = Vec::new();
        print(
            &[Explained {
                step: 2,
                label: "[2/3] RUN make".into(),
                line: 3,
                reasons: vec![Reason::ParentChanged {
                    parent: "COPY . /src".into(),
                }],
            }],
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "explain: 1 step rebuilt\n  [2/3] RUN make (line 3)\n    - parent changed: COPY . /src\n"
        );
    }
}
