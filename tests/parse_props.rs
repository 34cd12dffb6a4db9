//! `parse`, `lower` and `dump` never panic, on random text and on mutated real-world Dockerfiles.

mod shared_dir;

use std::fs;
use std::path::PathBuf;

use proptest::prelude::*;
use strata::syntax;

fn corpus() -> Vec<String> {
    let mut files: Vec<PathBuf> = walk(shared_dir::conformance("real-world"));
    files.sort();
    files
        .iter()
        .map(|p| String::from_utf8_lossy(&fs::read(p).unwrap()).into_owned())
        .collect()
}

fn walk(dir: PathBuf) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(p));
        } else if p.extension().is_some_and(|x| x == "Dockerfile") {
            out.push(p);
        }
    }
    out
}

/// Runs the whole front end; the outcome may be an error, never a panic.
fn exercise(src: &str) {
    match syntax::parse(src) {
        Ok(df) => {
            let _ = syntax::dump(&df);
            let (_, diags) = syntax::lower(&df);
            for d in &diags {
                let _ = syntax::render("Dockerfile", src, d);
            }
        }
        Err(e) => {
            let _ = syntax::render("Dockerfile", src, &e.to_diagnostic());
        }
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    InsertByte(usize, u8),
    DeleteByte(usize),
    DuplicateByte(usize),
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    InsertText(usize, &'static str),
}

/// Characters that matter to the grammar.
const SPICE: &[&str] = &[
    "\\",
    "`",
    "\\\n",
    "`\n",
    "\n",
    "\r\n",
    "\"",
    "'",
    "[",
    "]",
    "<<",
    "<<-EOF\n",
    "EOF\n",
    "#",
    "# escape=`\n",
    "--",
    "--x=",
    "=",
    " ",
    "\t",
    "\u{feff}",
    "\u{a0}",
    "é",
    "ONBUILD ",
    "{",
    ",",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::InsertByte(i, b)),
        any::<usize>().prop_map(Mutation::DeleteByte),
        any::<usize>().prop_map(Mutation::DuplicateByte),
        any::<usize>().prop_map(Mutation::DeleteLine),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (any::<usize>(), prop::sample::select(SPICE)).prop_map(|(i, s)| Mutation::InsertText(i, s)),
    ]
}

fn apply(src: &str, m: &Mutation) -> String {
    let mut bytes = src.as_bytes().to_vec();
    let n = bytes.len().max(1);
    let mut lines: Vec<&str> = src.split_inclusive('\n').collect();
    let ln = lines.len().max(1);
    match *m {
        Mutation::InsertByte(i, b) => bytes.insert(i % (bytes.len() + 1), b),
        Mutation::DeleteByte(i) if !bytes.is_empty() => {
            bytes.remove(i % n);
        }
        Mutation::DuplicateByte(i) if !bytes.is_empty() => {
            let b = bytes[i % n];
            bytes.insert(i % n, b);
        }
        Mutation::DeleteLine(i) if !lines.is_empty() => {
            lines.remove(i % ln);
            return lines.concat();
        }
        Mutation::DuplicateLine(i) if !lines.is_empty() => {
            let l = lines[i % ln];
            lines.insert(i % ln, l);
            return lines.concat();
        }
        Mutation::SwapLines(a, b) if !lines.is_empty() => {
            lines.swap(a % ln, b % ln);
            return lines.concat();
        }
        Mutation::InsertText(i, s) => {
            let at = i % (bytes.len() + 1);
            bytes.splice(at..at, s.bytes());
        }
        _ => {}
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(src in "(?s)[ -~\t\n\r\\\\`\"'\\[\\]<#=é\u{a0}]{0,200}") {
        exercise(&src);
    }

    #[test]
    fn random_lines_never_panic(lines in prop::collection::vec(
        prop::sample::select(vec![
            "FROM a AS b", "RUN echo \\", "RUN <<EOF", "EOF", "COPY <<A <<B /d", "A", "B",
            "# escape=`", "# syntax=x", "ENV a=b c", "ENV a", "LABEL \"x=y\" z", "ARG x=\"y z\"",
            "CMD [\"a\", 1]", "CMD [\"a\"", "  # c", "", "   ", "\\", "`", "ONBUILD ONBUILD",
            "HEALTHCHECK --interval=x CMD", "COPY --from=x --link=y a", "RUN --mount=type=cache \\",
            "\u{feff}FROM x", "VOLUME [\"\"]", "ONBUILD RUN <<X", "X",
        ]),
        0..24,
    )) {
        exercise(&lines.join("\n"));
    }

    #[test]
    fn mutated_corpus_never_panics(
        file in any::<prop::sample::Index>(),
        muts in prop::collection::vec(mutation(), 1..6),
    ) {
        thread_local!(static CORPUS: Vec<String> = corpus());
        let src = CORPUS.with(|c| c[file.index(c.len())].clone());
        let mutated = muts.iter().fold(src, |s, m| apply(&s, m));
        exercise(&mutated);
    }
}
