//! OAuth syntax facts the checks judge against (RFC 6749 Appendix A, RFC 9449 §8.1).

use std::collections::BTreeSet;

/// NQCHAR = %x21 / %x23-5B / %x5D-7E (RFC 6749 Appendix A): no space, `"` or `\`.
pub fn is_nqchar(c: char) -> bool {
    matches!(c, '\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e')
}

/// NQSCHAR = %x20-21 / %x23-5B / %x5D-7E: NQCHAR plus space.
pub fn is_nqschar(c: char) -> bool {
    c == ' ' || is_nqchar(c)
}

/// A `DPoP-Nonce` value must be `1*NQCHAR` (RFC 9449 §8.1; spec §3.3 tp-dpop-nonce-syntax).
pub fn is_valid_dpop_nonce(value: &str) -> bool {
    !value.is_empty() && value.chars().all(is_nqchar)
}

/// `error` and `error_description` values must be `1*NQSCHAR` (RFC 6749 §5.2, RFC 6750 §3;
/// spec §3.3 tp-oauth-error-charset).
pub fn is_valid_error_text(value: &str) -> bool {
    !value.is_empty() && value.chars().all(is_nqschar)
}

/// A scope value as a set: space-delimited, case-sensitive, order and repeats ignored
/// (RFC 6749 §3.3; spec §3.3 tp-scope-parse).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scope {
    pub tokens: BTreeSet<String>,
    /// Tokens that are not `1*NQCHAR`.
    pub malformed: Vec<String>,
}

impl Scope {
    pub fn parse(value: &str) -> Self {
        let mut scope = Scope::default();
        for token in value.split(' ').filter(|t| !t.is_empty()) {
            if !token.chars().all(is_nqchar) {
                scope.malformed.push(token.to_owned());
            }
            scope.tokens.insert(token.to_owned());
        }
        scope
    }

    pub fn contains(&self, token: &str) -> bool {
        self.tokens.contains(token)
    }

    /// True when every token of `needed` is granted here.
    pub fn covers(&self, needed: &Scope) -> bool {
        needed.tokens.is_subset(&self.tokens)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpop_nonce_syntax() {
        assert!(is_valid_dpop_nonce("abc"));
        for bad in ["a b", "a\"b", "a\\b", ""] {
            assert!(!is_valid_dpop_nonce(bad), "{bad:?}");
        }
    }

    #[test]
    fn scope_parse_is_set_valued_and_case_sensitive() {
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(Scope::parse("a  b").tokens, set(&["a", "b"]));
        assert_eq!(Scope::parse("b a").tokens, set(&["a", "b"]));
        assert_eq!(Scope::parse("A a").tokens, set(&["A", "a"]));
        assert!(Scope::parse("a b").covers(&Scope::parse("b")));
        assert!(!Scope::parse("a").covers(&Scope::parse("A")));
    }

    #[test]
    fn error_text_charset() {
        assert!(is_valid_error_text("invalid_token"));
        assert!(is_valid_error_text("token expired"));
        assert!(!is_valid_error_text("bad \"quote\""));
        assert!(!is_valid_error_text("back\\slash"));
        assert!(!is_valid_error_text("caf\u{e9}"));
    }
}
