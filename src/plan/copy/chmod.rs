//! `--chmod` values: octal (`755`, `0644`) or chmod(1) symbolic clauses (`u+x`, `go-w`,
//! `a=r,u+w`, `+x`, `u=rwX,go=rX`, `g=u`), which BuildKit accepts since Dockerfile 1.14
//! (moby/buildkit#1951; the reference's "COPY --chmod" section).

use std::fmt;

/// A parsed `--chmod`: either an absolute mode or clauses applied to each entry's own mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chmod {
    Octal(u32),
    Symbolic(Vec<Clause>),
}

/// `[ugoa]*` followed by one or more `op perms` actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    /// Bits of `0o7777` the clause may touch, from its `who` letters.
    who: u32,
    /// No `who` letter was written: acts as `a` (BuildKit applies no umask).
    implicit_all: bool,
    actions: Vec<Action>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Action {
    op: char,
    perm: Perm,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Perm {
    /// Letters among `rwxXst`.
    Bits {
        rwx: u32,
        cap_x: bool,
        setid: bool,
        sticky: bool,
    },
    /// Copy of another class's current bits (`g=u`).
    Copy(char),
}

/// The value given to `--chmod` is not a mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadChmod(pub String);

impl fmt::Display for BadChmod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid chmod parameter {:?}", self.0)
    }
}

const USR: u32 = 0o4700;
const GRP: u32 = 0o2070;
const OTH: u32 = 0o1007;

impl Chmod {
    /// Parses a `--chmod` value.
    pub fn parse(spec: &str) -> Result<Chmod, BadChmod> {
        let bad = || BadChmod(spec.to_string());
        if spec.is_empty() {
            return Err(bad());
        }
        if spec.bytes().all(|b| b.is_ascii_digit()) {
            let v = u32::from_str_radix(spec, 8).map_err(|_| bad())?;
            if v > 0o7777 {
                return Err(bad());
            }
            return Ok(Chmod::Octal(v));
        }
        let mut clauses = Vec::new();
        for text in spec.split(',') {
            clauses.push(parse_clause(text).ok_or_else(bad)?);
        }
        Ok(Chmod::Symbolic(clauses))
    }

    /// The mode an entry gets, from its source mode (`0o7777` bits) and whether it is a
    /// directory (which matters for `X`).
    pub fn apply(&self, mode: u32, is_dir: bool) -> u32 {
        match self {
            Chmod::Octal(v) => *v,
            Chmod::Symbolic(clauses) => clauses
                .iter()
                .fold(mode & 0o7777, |m, c| c.apply(m, is_dir)),
        }
    }
}

fn parse_clause(text: &str) -> Option<Clause> {
    let mut chars = text.chars().peekable();
    let mut who = 0;
    let mut implicit_all = true;
    while let Some(&c) = chars.peek() {
        let bits = match c {
            'u' => USR,
            'g' => GRP,
            'o' => OTH,
            'a' => USR | GRP | OTH,
            _ => break,
        };
        who |= bits;
        implicit_all = false;
        chars.next();
    }
    if implicit_all {
        who = USR | GRP | OTH;
    }
    let mut actions = Vec::new();
    while let Some(op) = chars.next() {
        if !matches!(op, '+' | '-' | '=') {
            return None;
        }
        let perm = match chars.peek() {
            Some(&c @ ('u' | 'g' | 'o')) => {
                chars.next();
                Perm::Copy(c)
            }
            _ => {
                let (mut rwx, mut cap_x, mut setid, mut sticky) = (0, false, false, false);
                while let Some(&c) = chars.peek() {
                    match c {
                        'r' => rwx |= 0o444,
                        'w' => rwx |= 0o222,
                        'x' => rwx |= 0o111,
                        'X' => cap_x = true,
                        's' => setid = true,
                        't' => sticky = true,
                        _ => break,
                    }
                    chars.next();
                }
                Perm::Bits {
                    rwx,
                    cap_x,
                    setid,
                    sticky,
                }
            }
        };
        actions.push(Action { op, perm });
    }
    if actions.is_empty() {
        return None;
    }
    Some(Clause {
        who,
        implicit_all,
        actions,
    })
}

impl Clause {
    fn apply(&self, mut mode: u32, is_dir: bool) -> u32 {
        for a in &self.actions {
            let bits = match &a.perm {
                Perm::Bits {
                    rwx,
                    cap_x,
                    setid,
                    sticky,
                } => {
                    let mut b = *rwx;
                    // Linux chmod(1) (and POSIX 2024) honour X with every operator
                    // (moby/buildkit#5835 moved BuildKit to that reading).
                    if *cap_x && (is_dir || mode & 0o111 != 0) {
                        b |= 0o111;
                    }
                    if *setid {
                        b |= 0o6000;
                    }
                    if *sticky {
                        b |= 0o1000;
                    }
                    b & self.who
                }
                Perm::Copy(from) => {
                    let src = match from {
                        'u' => (mode >> 6) & 7,
                        'g' => (mode >> 3) & 7,
                        _ => mode & 7,
                    };
                    (src * 0o111) & self.who & 0o777
                }
            };
            mode = match a.op {
                '+' => mode | bits,
                '-' => mode & !bits,
                _ => {
                    // `=` clears the classes named (their rwx; setid/sticky only when named
                    // explicitly, as chmod(1) keeps them for `a=` on directories otherwise).
                    let mut clear = self.who & 0o777;
                    if !self.implicit_all {
                        clear |= self.who & 0o7000 & !(if is_dir { 0o6000 } else { 0 });
                    }
                    (mode & !clear) | bits
                }
            };
        }
        mode
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal_and_symbolic_table() {
        // (spec, source mode, is_dir, expected)
        let rows: &[(&str, u32, bool, u32)] = &[
            ("755", 0o644, false, 0o755),
            ("0644", 0o755, true, 0o644),
            ("4755", 0o644, false, 0o4755),
            ("0", 0o644, false, 0),
            ("u+x", 0o644, false, 0o744),
            ("+x", 0o644, false, 0o755),
            ("a+x", 0o600, false, 0o711),
            ("go-w", 0o666, false, 0o644),
            ("a=r,u+w", 0o777, false, 0o644),
            ("u=rwX,go=rX", 0o600, false, 0o644),
            ("u=rwX,go=rX", 0o700, false, 0o755),
            ("u=rwX,go=rX", 0o700, true, 0o755),
            ("u=rwX,go=rX", 0o600, true, 0o755),
            ("g=u", 0o740, false, 0o770),
            ("o=g", 0o750, false, 0o755),
            ("u+s", 0o755, false, 0o4755),
            ("g+s", 0o755, true, 0o2755),
            ("+t", 0o777, true, 0o1777),
            ("o-rwx", 0o777, false, 0o770),
            ("u-w+x", 0o644, false, 0o544),
            ("=", 0o755, false, 0o000),
            ("a+X", 0o644, false, 0o644),
            ("a+X", 0o644, true, 0o755),
        ];
        for &(spec, mode, dir, want) in rows {
            let c = Chmod::parse(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
            assert_eq!(
                c.apply(mode, dir),
                want,
                "{spec} on {mode:o} (dir {dir}) gave {:o}",
                c.apply(mode, dir)
            );
        }
    }

    #[test]
    fn rejects_non_modes() {
        for bad in [
            "", "8", "17777", "u", "x+", "u+q", "rwx", "u+x,", "0o755", "-1",
        ] {
            assert_eq!(Chmod::parse(bad), Err(BadChmod(bad.to_string())), "{bad:?}");
        }
    }
}
