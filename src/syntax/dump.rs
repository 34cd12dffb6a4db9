//! BuildKit's parse dump (`(from "x")` lines) of the raw nodes, for the conformance goldens.

use super::ast::{Dockerfile, Node};

/// The whole file: one `(…)` line per instruction, ending with a newline.
pub fn dump(df: &Dockerfile) -> String {
    let mut out = String::new();
    for node in &df.nodes {
        out.push('(');
        out.push_str(&dump_node(node));
        out.push_str(")\n");
    }
    out
}

/// One node without its parentheses: keyword, `[flags]`, arguments or a nested `(…)`.
pub fn dump_node(node: &Node) -> String {
    let mut s = node.keyword.text.to_lowercase();
    if !node.flags.is_empty() {
        s.push_str(" [");
        for (i, f) in node.flags.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            s.push_str(&go_quote(&f.text));
        }
        s.push(']');
    }
    if let Some(nested) = &node.nested {
        s.push_str(" (");
        s.push_str(&dump_node(nested));
        s.push(')');
    }
    for a in &node.args {
        s.push(' ');
        s.push_str(&go_quote(&a.text));
    }
    // Go trims the assembled string.
    s.trim().to_string()
}

/// Go's `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if (c as u32) < 0x80 || is_print(c) => out.push(c),
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// An approximation of Go's `unicode.IsPrint` for non-ASCII: everything but controls, spaces
/// other than U+0020, format characters, private use and non-characters. (Unassigned code points
/// print as themselves here; Go escapes them.)
fn is_print(c: char) -> bool {
    let u = c as u32;
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let format = matches!(u,
        0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x890..=0x891 | 0x8E2 | 0x180E
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF
        | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F);
    let private = matches!(u, 0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD);
    let nonchar = (0xFDD0..=0xFDEF).contains(&u) || (u & 0xFFFE) == 0xFFFE;
    !(format || private || nonchar)
}

#[cfg(test)]
mod tests {
    use super::go_quote;

    #[test]
    fn quoting_like_go() {
        let cases = [
            ("", r#""""#),
            ("a b", r#""a b""#),
            ("\"\\", r#""\"\\""#),
            ("\u{7}\u{8}\u{c}\n\r\t\u{b}", r#""\a\b\f\n\r\t\v""#),
            ("\u{0}\u{1f}\u{7f}", r#""\x00\x1f\x7f""#),
            ("♥☃한", "\"♥☃한\""),
            (
                "\u{a0}\u{200b}\u{feff}\u{85}",
                r#""\u00a0\u200b\ufeff\u0085""#,
            ),
            ("\u{F0000}", r#""\U000f0000""#),
            ("é", "\"é\""),
        ];
        for (input, want) in cases {
            assert_eq!(go_quote(input), want, "{input:?}");
        }
    }
}
