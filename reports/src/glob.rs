//! Check-id globs (`--check`, `--skip`, baseline entries): `*` matches any run of characters,
//! `?` one character; everything else is literal.

/// An id pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob(String);

impl Glob {
    pub fn new(pattern: &str) -> Self {
        Self(pattern.to_owned())
    }

    /// The pattern as written.
    pub fn pattern(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, id: &str) -> bool {
        glob_match(self.0.as_bytes(), id.as_bytes())
    }
}

fn glob_match(p: &[u8], s: &[u8]) -> bool {
    // Iterative matcher with single-star backtracking: linear in practice, no recursion.
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, si));
                pi += 1;
            }
            Some(&c) if c == b'?' || c == s[si] => {
                pi += 1;
                si += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    pi = sp + 1;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let g = Glob::new;
        assert!(g("rs.token.*").matches("rs.token.aud-wrong"));
        assert!(!g("rs.token.*").matches("rs.dpop.replay"));
        assert!(g("rs.*.replay*").matches("rs.dpop.replay-race"));
        assert!(g("*").matches(""));
        assert!(g("rs.?pop.*").matches("rs.dpop.x"));
        assert!(!g("rs.token").matches("rs.token.x"));
        assert!(g("**a*b*").matches("xxaxxb"));
    }
}
