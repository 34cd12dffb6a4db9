//! Decoding of the JSON string literals of the exec form (the grammar has already checked them).

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

fn hex4(chars: &mut std::str::Chars<'_>) -> u32 {
    let mut v = 0;
    for _ in 0..4 {
        v = v * 16 + chars.next().and_then(|c| c.to_digit(16)).unwrap_or(0);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::decode_string;

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
