//! Request parameters: bounded body reading, content-type checks, and form/query parsing that
//! sees duplicates (serde_urlencoded silently keeps one of them).

use axum::body::Body;
use axum::http::{HeaderMap, header};

use super::error::OAuthError;

/// Parameters of a form body or query string, in order, duplicates kept.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub fn parse(bytes: &[u8]) -> Self {
        Self {
            pairs: url::form_urlencoded::parse(bytes).into_owned().collect(),
        }
    }

    /// The value of `name`. A parameter sent without a value counts as omitted (OAuth 2.1
    /// §3.1), so empty values are skipped.
    /// Every parameter, in order (repeats and empty values included).
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// Every parameter name, in order (repeats included).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.pairs.iter().map(|(k, _)| k.as_str())
    }

    /// Whether `name` is present with an empty value.
    pub fn has_empty(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, v)| k == name && v.is_empty())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name`, or `invalid_request` saying it is required.
    pub fn required(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("{name} is required")))
    }

    /// Every non-empty value of `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// The first parameter name given more than once with a value, other than those in
    /// `repeatable` (RFC 8707 `resource` may repeat).
    pub fn duplicate(&self, repeatable: &[&str]) -> Option<&str> {
        let mut seen: Vec<&str> = Vec::new();
        for (k, v) in &self.pairs {
            if v.is_empty() || repeatable.contains(&k.as_str()) {
                continue;
            }
            if seen.contains(&k.as_str()) {
                return Some(k);
            }
            seen.push(k);
        }
        None
    }

    /// `Err(invalid_request)` naming the first duplicate.
    pub fn refuse_duplicates(&self, repeatable: &[&str]) -> Result<(), OAuthError> {
        match self.duplicate(repeatable) {
            Some(name) => Err(OAuthError::invalid_request(format!(
                "parameter {name} is repeated"
            ))),
            None => Ok(()),
        }
    }
}

/// True if the single `Content-Type` header has this media type (parameters such as
/// `charset` allowed, case-insensitive).
pub(crate) fn has_media_type(headers: &HeaderMap, expected: &str) -> bool {
    let mut values = headers.get_all(header::CONTENT_TYPE).iter();
    let (Some(v), None) = (values.next(), values.next()) else {
        return false;
    };
    v.to_str().is_ok_and(|s| {
        s.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .eq_ignore_ascii_case(expected)
    })
}

/// Reads the body, refusing more than `limit` bytes with `invalid_request`.
pub(crate) async fn read_body(body: Body, limit: usize) -> Result<Vec<u8>, OAuthError> {
    axum::body::to_bytes(body, limit)
        .await
        .map(|b| b.to_vec())
        .map_err(|_| {
            OAuthError::invalid_request(format!(
                "request body is unreadable or larger than {limit} bytes"
            ))
        })
}

/// Reads a form body: checks the content type, the size, and UTF-8.
pub(crate) async fn read_form(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Params, OAuthError> {
    if !has_media_type(headers, "application/x-www-form-urlencoded") {
        return Err(OAuthError::invalid_request(
            "Content-Type must be application/x-www-form-urlencoded",
        ));
    }
    let bytes = read_body(body, limit).await?;
    if std::str::from_utf8(&bytes).is_err() {
        return Err(OAuthError::invalid_request("request body is not UTF-8"));
    }
    let params = Params::parse(&bytes);
    if params.pairs.iter().any(|(k, v)| {
        k.contains(char::REPLACEMENT_CHARACTER) || v.contains(char::REPLACEMENT_CHARACTER)
    }) {
        return Err(OAuthError::invalid_request(
            "parameters do not percent-decode to UTF-8",
        ));
    }
    Ok(params)
}

/// RFC 3986 unreserved characters, 43 to 128 of them: the PKCE verifier and challenge syntax
/// (RFC 7636 §4.1, §4.2).
pub(crate) fn is_pkce_string(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Percent-decoding with `+` as space (`application/x-www-form-urlencoded`), as RFC 6749
/// §2.3.1 prescribes for the Basic credentials. `None` on bad escapes or non-UTF-8.
pub(crate) fn form_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_and_empty_values() {
        let p = Params::parse(b"a=1&b=&b=2&resource=x&resource=y&c=3&a=4");
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), Some("2"));
        assert_eq!(p.all("resource").collect::<Vec<_>>(), ["x", "y"]);
        assert_eq!(p.duplicate(&["resource"]), Some("a"));
        let p = Params::parse(b"scope=&scope=x&resource=a&resource=b");
        assert_eq!(p.duplicate(&["resource"]), None);
        assert_eq!(p.duplicate(&[]), Some("resource"));
    }

    #[test]
    fn media_type_matching() {
        let mut h = HeaderMap::new();
        assert!(!has_media_type(&h, "application/json"));
        h.insert(
            header::CONTENT_TYPE,
            "Application/JSON; charset=utf-8".parse().unwrap(),
        );
        assert!(has_media_type(&h, "application/json"));
        h.append(header::CONTENT_TYPE, "application/json".parse().unwrap());
        assert!(!has_media_type(&h, "application/json"), "two headers");
    }

    #[test]
    fn pkce_syntax_and_form_decoding() {
        assert!(is_pkce_string(&"a".repeat(43)));
        assert!(!is_pkce_string(&"a".repeat(42)));
        assert!(!is_pkce_string(&"a".repeat(129)));
        assert!(!is_pkce_string(&format!("{}+", "a".repeat(43))));
        assert_eq!(form_decode("a%3Ab+c").as_deref(), Some("a:b c"));
        assert_eq!(form_decode("%zz"), None);
        assert_eq!(form_decode("%4"), None);
        assert_eq!(form_decode("%+f"), None);
        assert_eq!(form_decode("%ff"), None);
    }
}
