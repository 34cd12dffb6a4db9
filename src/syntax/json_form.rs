//! The exec form's JSON: decoding the string literals the grammar has checked, and telling a
//! valid JSON array (of anything) from text that only starts with `[`.

/// Decodes one JSON string literal, quotes included. Lone surrogates become U+FFFD, as Go's
/// encoding/json does.
pub(crate) fn decode_string(lit: &str) -> String {
    let inner = lit
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(lit);
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('u') => {
                let hi = hex4(&mut chars);
                if (0xD800..0xDC00).contains(&hi) {
                    // A high surrogate pairs only with an immediately following `\uDC00..DFFF`.
                    let rest = chars.as_str();
                    if let Some(lo_hex) = rest.strip_prefix("\\u") {
                        let mut it = lo_hex.chars();
                        let lo = hex4(&mut it);
                        if (0xDC00..0xE000).contains(&lo) {
                            let cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                            out.push(char::from_u32(cp).unwrap_or('\u{fffd}'));
                            chars = it;
                            continue;
                        }
                    }
                    out.push('\u{fffd}');
                } else {
                    out.push(char::from_u32(hi).unwrap_or('\u{fffd}'));
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// Go's encoding/json refuses documents nested deeper than this; BuildKit then reads the line
/// as text, and so do we.
const MAX_JSON_DEPTH: usize = 10_000;

/// What the parser does before a JSON array: expect a value, a key, or what follows a value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Want {
    Value,
    /// Just after `[`: a value or the `]` of an empty array.
    ValueOrClose,
    Key,
    /// Just after `{`: a key or the `}` of an empty object.
    KeyOrClose,
    Next,
}

/// True when `text` is exactly one JSON array (surrounding JSON white space allowed), as Go's
/// `json.Unmarshal` into a slice would accept it. Iterative: the nesting is kept in a vector, so
/// arbitrarily deep input costs heap, not stack.
pub(crate) fn is_json_array(text: &str) -> bool {
    json_array_end(text.as_bytes()).is_some()
}

fn json_array_end(b: &[u8]) -> Option<()> {
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'[') {
        return None;
    }
    let mut open: Vec<u8> = Vec::new();
    let mut want = Want::Value;
    loop {
        i = skip_ws(b, i);
        let c = *b.get(i)?;
        let closes = matches!(
            (want, c),
            (Want::ValueOrClose, b']') | (Want::KeyOrClose, b'}')
        );
        match want {
            _ if closes => {}
            Want::Value | Want::ValueOrClose => {
                match c {
                    b'[' | b'{' => {
                        if open.len() == MAX_JSON_DEPTH {
                            return None;
                        }
                        open.push(c);
                        i += 1;
                        want = if c == b'[' {
                            Want::ValueOrClose
                        } else {
                            Want::KeyOrClose
                        };
                        continue;
                    }
                    b'"' => i = string_end(b, i)?,
                    b'-' | b'0'..=b'9' => i = number_end(b, i)?,
                    _ => {
                        let lit = [&b"true"[..], b"false", b"null"]
                            .into_iter()
                            .find(|l| b[i..].starts_with(l))?;
                        i += lit.len();
                    }
                }
                want = Want::Next;
                continue;
            }
            Want::Key | Want::KeyOrClose => {
                if c != b'"' {
                    return None;
                }
                i = skip_ws(b, string_end(b, i)?);
                if b.get(i) != Some(&b':') {
                    return None;
                }
                i += 1;
                want = Want::Value;
                continue;
            }
            Want::Next => match (c, open.last()) {
                (b',', Some(b'[')) => {
                    i += 1;
                    want = Want::Value;
                    continue;
                }
                (b',', Some(b'{')) => {
                    i += 1;
                    want = Want::Key;
                    continue;
                }
                (b']', Some(b'[')) | (b'}', Some(b'{')) => {}
                _ => return None,
            },
        }
        // `c` closes the innermost array or object.
        i += 1;
        open.pop();
        if open.is_empty() {
            return (skip_ws(b, i) == b.len()).then_some(());
        }
        want = Want::Next;
    }
}

/// JSON white space.
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\r' | b'\n')) {
        i += 1;
    }
    i
}

/// The end of the string literal opening at `i`.
fn string_end(b: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    loop {
        match *b.get(i)? {
            b'"' => return Some(i + 1),
            0..=0x1f => return None,
            b'\\' => match *b.get(i + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                b'u' => {
                    let hex = b.get(i + 2..i + 6)?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return None;
                    }
                    i += 6;
                }
                _ => return None,
            },
            _ => i += 1,
        }
    }
}

/// The end of the number starting at `i`: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
fn number_end(b: &[u8], mut i: usize) -> Option<usize> {
    let digits = |i: usize| {
        b[i.min(b.len())..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count()
    };
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i)? {
        b'0' => i += 1,
        b'1'..=b'9' => i += digits(i),
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        let n = digits(i + 1);
        if n == 0 {
            return None;
        }
        i += 1 + n;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let n = digits(i);
        if n == 0 {
            return None;
        }
        i += n;
    }
    Some(i)
}

fn hex4(chars: &mut std::str::Chars<'_>) -> u32 {
    let mut v = 0;
    for _ in 0..4 {
        v = v * 16 + chars.next().and_then(|c| c.to_digit(16)).unwrap_or(0);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::{decode_string, is_json_array, MAX_JSON_DEPTH};

    #[test]
    fn json_arrays() {
        let cases = [
            ("[]", true),
            (" [ ] ", true),
            ("[1, 2.5e-3, -0, true, false, null]", true),
            (r#"["a", {"k": [1, {}], "l": "\u00e9\n"}, []]"#, true),
            ("[[[[]]]]", true),
            ("[1 2]", false),
            ("[1,]", false),
            ("[01]", false),
            ("[1.]", false),
            ("[-]", false),
            ("[1e]", false),
            ("[tru]", false),
            (r#"["\x"]"#, false),
            (r#"["\u12g4"]"#, false),
            ("[\"a\tb\"]", false),
            (r#"[{"k" 1}]"#, false),
            (r#"[{1: 2}]"#, false),
            ("[{]", false),
            ("[}", false),
            ("[]]", false),
            ("[] x", false),
            ("[[]", false),
            ("[", false),
            ("{}", false),
            ("[ -f x ] && y", false),
        ];
        for (text, want) in cases {
            assert_eq!(is_json_array(text), want, "{text}");
        }
    }

    #[test]
    fn json_nesting_is_heap_not_stack() {
        // Go's limit, exactly; far deeper input is refused without recursion.
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(is_json_array(&deep(MAX_JSON_DEPTH)));
        assert!(!is_json_array(&deep(MAX_JSON_DEPTH + 1)));
        let huge = deep(1_000_000);
        let r = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || is_json_array(&huge))
            .unwrap()
            .join()
            .unwrap();
        assert!(!r);
    }

    #[test]
    fn decodes_escapes() {
        let cases = [
            (r#""""#, ""),
            (r#""a""#, "a"),
            (r#""abc 123""#, "abc 123"),
            (r#""♥""#, "♥"),
            (
                r#""\" \\ \/ \b \f \n \r \t \u0000""#,
                "\" \\ / \u{8} \u{c} \n \r \t \u{0}",
            ),
            (r#""\ud83d\ude00""#, "😀"),
            (r#""\ud83dx""#, "\u{fffd}x"),
            (r#""\u00e9""#, "é"),
        ];
        for (lit, want) in cases {
            assert_eq!(decode_string(lit), want, "{lit}");
        }
    }
}
