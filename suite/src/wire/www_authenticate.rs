//! `WWW-Authenticate` parsing (RFC 9110 §11.6.1, §5.6).
//!
//! Every verdict about a 401 rests on this parser, and targets are untrusted, so it is exact
//! about the grammar: several challenges per field value and several field lines; `token68`
//! versus `auth-param`; quoted strings with escapes and commas; optional whitespace around `=`;
//! case-insensitive scheme and parameter names. Repeated parameters are kept and reported
//! (RFC 6750 §3 forbids them), unknown ones are kept (RFC 9449 §7.1 says ignore them).
//!
//! ```text
//! WWW-Authenticate = #challenge
//! challenge        = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//! auth-param       = token BWS "=" BWS ( token / quoted-string )
//! token68          = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
//! ```

use std::fmt;

/// One challenge: a scheme with either a `token68` or a list of parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme as sent (compare with `is_scheme`, which ignores case).
    pub scheme: String,
    pub token68: Option<String>,
    /// Parameters in order, names as sent, values unquoted.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// Case-insensitive scheme comparison (RFC 9110 §11.1).
    pub fn is_scheme(&self, scheme: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(scheme)
    }

    /// The first value of a parameter, name compared case-insensitively.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Lower-cased names that occur more than once in this challenge.
    pub fn duplicate_params(&self) -> Vec<String> {
        let mut seen: Vec<String> = Vec::new();
        let mut dups: Vec<String> = Vec::new();
        for (name, _) in &self.params {
            let lower = name.to_ascii_lowercase();
            if seen.contains(&lower) {
                if !dups.contains(&lower) {
                    dups.push(lower);
                }
            } else {
                seen.push(lower);
            }
        }
        dups
    }
}

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.scheme)?;
        if let Some(t) = &self.token68 {
            return write!(f, " {t}");
        }
        for (i, (name, value)) in self.params.iter().enumerate() {
            let sep = if i == 0 { " " } else { ", " };
            write!(f, "{sep}{name}=\"")?;
            // A quoted-pair for each `\` and `"`, written straight out (no escaped copy).
            let mut rest = value.as_str();
            while let Some(k) = rest.find(['\\', '"']) {
                f.write_str(&rest[..k])?;
                f.write_str(if rest.as_bytes()[k] == b'"' {
                    "\\\""
                } else {
                    "\\\\"
                })?;
                rest = &rest[k + 1..];
            }
            f.write_str(rest)?;
            f.write_str("\"")?;
        }
        Ok(())
    }
}

/// Where and why a field value is not a valid challenge list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("WWW-Authenticate syntax error at byte {offset}: {problem}")]
pub struct SyntaxError {
    pub offset: usize,
    pub problem: &'static str,
}

/// Parses every field line of a response's `WWW-Authenticate` header into one list.
pub fn parse_all<'a>(
    field_values: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<Challenge>, SyntaxError> {
    let mut out = Vec::new();
    for value in field_values {
        out.extend(parse(value)?);
    }
    Ok(out)
}

/// Parses one field value.
pub fn parse(value: &str) -> Result<Vec<Challenge>, SyntaxError> {
    let mut p = Parser {
        text: value,
        s: value.as_bytes(),
        i: 0,
    };
    let mut challenges = Vec::new();
    p.skip_list_separators();
    while !p.at_end() {
        challenges.push(p.challenge()?);
        p.skip_ows();
        if p.at_end() {
            break;
        }
        if !p.eat(b',') {
            return Err(p.error("expected ',' between challenges"));
        }
        p.skip_list_separators();
    }
    Ok(challenges)
}

/// A byte class as a lookup table: the parser asks it for every byte of every challenge, and
/// one load is cheaper than the comparisons a list search makes.
const fn byte_class(extra: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        table[extra[i] as usize] = true;
        i += 1;
    }
    table
}

const TCHAR: [bool; 256] = byte_class(b"!#$%&'*+-.^_`|~");
const TOKEN68_CHAR: [bool; 256] = byte_class(b"-._~+/");

fn is_tchar(c: u8) -> bool {
    TCHAR[usize::from(c)]
}

fn is_token68_char(c: u8) -> bool {
    TOKEN68_CHAR[usize::from(c)]
}

struct Parser<'a> {
    text: &'a str,
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// The text from `start` to here: token and token68 characters are ASCII, so both ends
    /// are character boundaries (the lossy copy is never taken; it keeps this panic-free).
    fn owned_since(&self, start: usize) -> String {
        self.text.get(start..self.i).map_or_else(
            || String::from_utf8_lossy(&self.s[start..self.i]).into_owned(),
            str::to_owned,
        )
    }

    fn error(&self, problem: &'static str) -> SyntaxError {
        SyntaxError {
            offset: self.i,
            problem,
        }
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    /// `#rule` lists allow empty elements: skip whitespace and stray commas.
    fn skip_list_separators(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.i += 1;
        }
    }

    fn token(&mut self) -> Option<String> {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        (self.i > start).then(|| self.owned_since(start))
    }

    fn challenge(&mut self) -> Result<Challenge, SyntaxError> {
        let scheme = self
            .token()
            .ok_or_else(|| self.error("expected an auth-scheme token"))?;
        let mut challenge = Challenge {
            scheme,
            token68: None,
            params: Vec::new(),
        };
        // Without at least one SP the challenge has no parameters.
        if self.peek() != Some(b' ') {
            return Ok(challenge);
        }
        let after_scheme = self.i;
        self.skip_ows();
        if self.at_end() || self.peek() == Some(b',') {
            return Ok(challenge);
        }
        if self.looks_like_param() {
            challenge.params.push(self.param()?);
            loop {
                let before = self.i;
                self.skip_ows();
                if !self.eat(b',') {
                    self.i = before;
                    break;
                }
                self.skip_list_separators();
                if self.looks_like_param() {
                    challenge.params.push(self.param()?);
                } else {
                    // The next list element is a new challenge: leave the comma for `parse`.
                    self.i = before;
                    break;
                }
            }
            return Ok(challenge);
        }
        let start = self.i;
        while self.peek().is_some_and(is_token68_char) {
            self.i += 1;
        }
        while self.peek() == Some(b'=') {
            self.i += 1;
        }
        if self.i == start {
            self.i = after_scheme;
            return Err(self.error("expected token68 or auth-param after the scheme"));
        }
        challenge.token68 = Some(self.owned_since(start));
        Ok(challenge)
    }

    /// `token BWS "="` followed by something other than another `=` (which would be token68).
    fn looks_like_param(&self) -> bool {
        let mut j = self.i;
        let start = j;
        while self.s.get(j).copied().is_some_and(is_tchar) {
            j += 1;
        }
        if j == start {
            return false;
        }
        while matches!(self.s.get(j), Some(b' ' | b'\t')) {
            j += 1;
        }
        if self.s.get(j) != Some(&b'=') {
            return false;
        }
        j += 1;
        while matches!(self.s.get(j), Some(b' ' | b'\t')) {
            j += 1;
        }
        !matches!(self.s.get(j), Some(b'=') | Some(b',') | None)
    }

    fn param(&mut self) -> Result<(String, String), SyntaxError> {
        let name = self
            .token()
            .ok_or_else(|| self.error("expected a parameter name"))?;
        self.skip_ows();
        if !self.eat(b'=') {
            return Err(self.error("expected '=' after the parameter name"));
        }
        self.skip_ows();
        let value = if self.peek() == Some(b'"') {
            self.quoted_string()?
        } else {
            self.token()
                .ok_or_else(|| self.error("expected a token or quoted-string value"))?
        };
        Ok((name, value))
    }

    fn quoted_string(&mut self) -> Result<String, SyntaxError> {
        let open = self.i;
        self.i += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => {
                    self.i = open;
                    return Err(self.error("unterminated quoted-string"));
                }
                Some(b'"') => {
                    self.i += 1;
                    return String::from_utf8(out)
                        .map_err(|_| self.error("quoted-string is not UTF-8"));
                }
                Some(b'\\') => {
                    self.i += 1;
                    match self.peek() {
                        Some(c) if c == b'\t' || c >= 0x20 && c != 0x7f => {
                            out.push(c);
                            self.i += 1;
                        }
                        _ => return Err(self.error("bad quoted-pair")),
                    }
                }
                Some(c) if c == b'\t' || c >= 0x20 && c != 0x7f => {
                    out.push(c);
                    self.i += 1;
                }
                Some(_) => return Err(self.error("control character in quoted-string")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(c: &Challenge) -> Vec<(&str, &str)> {
        c.params
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }

    // Spec §3.1 tp-www-auth-grammar: the five corpus lines.
    #[test]
    fn several_challenges_with_commas_in_quotes() {
        let c = parse(r#"Bearer realm="a, b", error="invalid_token", DPoP algs="ES256 PS256""#)
            .unwrap();
        assert_eq!(c.len(), 2);
        assert!(c[0].is_scheme("bearer"));
        assert_eq!(
            params(&c[0]),
            [("realm", "a, b"), ("error", "invalid_token")]
        );
        assert!(c[1].is_scheme("DPoP"));
        assert_eq!(c[1].param("ALGS"), Some("ES256 PS256"));
    }

    #[test]
    fn bare_schemes_and_bws_around_equals() {
        let c = parse(r#"Bearer, DPoP algs="ES256""#).unwrap();
        assert_eq!(c.len(), 2);
        assert!(c[0].params.is_empty() && c[0].token68.is_none());
        let c = parse(r#"bearer Resource_Metadata = "https://x""#).unwrap();
        assert_eq!(c[0].param("resource_metadata"), Some("https://x"));
    }

    #[test]
    fn token68_and_escaped_quotes() {
        let c = parse("Basic abc==").unwrap();
        assert_eq!(c[0].token68.as_deref(), Some("abc=="));
        let c = parse(
            r#"Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple""#,
        )
        .unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(
            params(&c[0]),
            [
                ("realm", "apps"),
                ("type", "1"),
                ("title", "Login to \"apps\"")
            ]
        );
        assert_eq!(c[1].param("realm"), Some("simple"));
    }

    // tp-www-auth-dup-params and tp-www-auth-unknown-params.
    #[test]
    fn duplicates_reported_and_unknown_params_kept() {
        let c = parse(r#"Bearer error="a", Error="b""#).unwrap();
        assert_eq!(c[0].duplicate_params(), ["error"]);
        assert_eq!(c[0].param("error"), Some("a"));
        let c = parse(r#"DPoP algs="ES256", foo="bar", max_age=5"#).unwrap();
        assert_eq!(c[0].param("foo"), Some("bar"));
        assert_eq!(c[0].param("max_age"), Some("5"));
    }

    #[test]
    fn several_field_lines_are_one_list() {
        let c = parse_all([
            r#"Bearer resource_metadata="https://r""#,
            "DPoP algs=\"ES256\"",
        ])
        .unwrap();
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn malformed_values_are_refused_with_a_position() {
        assert_eq!(
            parse(r#"Bearer realm="x"#).unwrap_err().problem,
            "unterminated quoted-string"
        );
        // Grammatically `realm=` is a token68, not a parameter without a value.
        assert_eq!(
            parse("Bearer realm=").unwrap()[0].token68.as_deref(),
            Some("realm=")
        );
        assert!(parse(r#"Bearer realm="a" x"#).is_err());
        assert!(parse("Bearer realm=\"a\", =b").is_err());
        assert!(parse("=x").is_err());
        assert!(parse("Bearer realm=\"a\u{1}\"").is_err());
        assert_eq!(parse("").unwrap(), []);
        assert_eq!(parse(" , ,").unwrap(), []);
    }

    #[test]
    fn display_escapes_as_the_two_replacements_did() {
        for value in ["", "plain", "a\\b", "q\"q", "\\\"", "\"\\x\\\\\"", "é\"€\\"] {
            let challenge = Challenge {
                scheme: "Bearer".into(),
                token68: None,
                params: vec![("error_description".into(), value.into())],
            };
            let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
            assert_eq!(
                challenge.to_string(),
                format!("Bearer error_description=\"{escaped}\"")
            );
        }
    }

    #[test]
    fn byte_tables_are_the_grammar_classes() {
        for c in 0..=u8::MAX {
            let tchar = c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c);
            let token68 = c.is_ascii_alphanumeric() || b"-._~+/".contains(&c);
            assert_eq!(is_tchar(c), tchar, "{c:#x}");
            assert_eq!(is_token68_char(c), token68, "{c:#x}");
        }
    }

    #[test]
    fn display_round_trips() {
        let text = r#"Bearer error="invalid_token", resource_metadata="https://x/.well-known/oauth-protected-resource""#;
        let c = parse(text).unwrap();
        assert_eq!(parse(&c[0].to_string()).unwrap(), c);
    }
}
