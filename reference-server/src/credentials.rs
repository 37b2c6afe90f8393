//! Who is asking: the Bearer (or, with DPoP on, DPoP) credential taken from the request as
//! RFC 6750 §2.1 and RFC 9449 §7.1 say (the `Authorization` header only), and why a request
//! has none.

use std::collections::BTreeSet;

use axum::http::{HeaderMap, header};

use crate::fault::Fault;
use crate::server::Shared;

/// Who a valid token speaks for.
#[derive(Debug, Clone)]
pub struct Principal {
    pub subject: String,
    pub scopes: BTreeSet<String>,
    /// The presented token (only ever forwarded upstream by the `token-passthrough` fault).
    pub token: Option<String>,
}

/// Why a request is not authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization` header: 401 with the bare challenge.
    NoToken,
    /// Credentials in a scheme other than Bearer: treated as no usable credentials (OAuth 2.1
    /// §5.3.2), 401 with the bare challenge.
    UnsupportedScheme,
    /// A malformed request (two Authorization fields, two methods, a credential that is not
    /// one b64token): 400 invalid_request.
    Malformed(&'static str),
    /// A bad token: 401 invalid_token.
    Invalid(String),
    /// The introspection endpoint could not answer: 503, never acceptance.
    Unavailable(String),
    /// The server broke (the `error-500-on-garbage` fault only).
    Crash,
    /// A request under the DPoP scheme failed: its proof, its binding, or its token
    /// (401 with a `DPoP` challenge).
    Dpop(DpopFailure),
}

/// Why a DPoP request was refused, as its challenge says it (RFC 9449 §7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpopFailure {
    /// `invalid_dpop_proof`, `use_dpop_nonce` or `invalid_token`.
    pub code: &'static str,
    pub description: String,
    /// A fresh nonce for the `DPoP-Nonce` header (with `use_dpop_nonce`).
    pub nonce: Option<String>,
}

/// The authentication scheme a credential came with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Bearer,
    /// RFC 9449 §7.1 (only recognised with DPoP on).
    Dpop,
}

impl AuthFailure {
    pub fn invalid(why: impl Into<String>) -> Self {
        AuthFailure::Invalid(why.into())
    }
}

/// The parts of a request credentials may hide in.
pub struct RequestParts<'a> {
    /// The HTTP method (a DPoP proof's `htm` must name it).
    pub method: &'a str,
    pub headers: &'a HeaderMap,
    pub query: Option<&'a str>,
    pub body: &'a [u8],
}

fn form_value(encoded: &[u8], name: &str) -> Option<String> {
    url::form_urlencoded::parse(encoded)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// One credential word: not empty, no whitespace, comma, quote or control character. Anything
/// else that is not a valid token (odd characters, `=` inside) is a bad *token* (401
/// invalid_token), not a malformed request.
pub fn is_single_credential(s: &str) -> bool {
    !s.is_empty()
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == ',' || c == '"')
}

/// The `last-authorization-wins` fault's reading of one field: a comma-joined list of
/// credentials (each `scheme token`, as a proxy merges two fields) gives its last member;
/// anything else is the field itself.
fn last_listed_credential(text: &str) -> &str {
    let members: Vec<&str> = text.split(',').map(str::trim).collect();
    let is_list = members.len() > 1
        && members
            .iter()
            .all(|m| m.split(' ').filter(|w| !w.is_empty()).count() == 2);
    match members.last() {
        Some(last) if is_list => last,
        _ => text,
    }
}

/// Takes the token and its scheme from the request. Only the `Authorization` header counts;
/// a token in the query is ignored (OAuth 2.1 §5.1), a token in a form body is ignored alone
/// and refused together with a header (two methods, RFC 6750 §2).
pub fn presented_token(
    shared: &Shared,
    req: &RequestParts<'_>,
) -> Result<(Scheme, String), AuthFailure> {
    let mut values: Vec<_> = req.headers.get_all(header::AUTHORIZATION).iter().collect();
    if shared.has(Fault::FirstAuthorizationWins) {
        values.truncate(1);
    }
    if shared.has(Fault::LastAuthorizationWins) {
        values.drain(..values.len().saturating_sub(1));
    }
    let is_form = req
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    let form_token = is_form
        .then(|| form_value(req.body, "access_token"))
        .flatten();
    match values.as_slice() {
        [] => {
            if shared.has(Fault::AcceptQueryToken)
                && let Some(t) = req
                    .query
                    .and_then(|q| form_value(q.as_bytes(), "access_token"))
            {
                return Ok((Scheme::Bearer, t));
            }
            if shared.has(Fault::AcceptFormToken)
                && let Some(t) = form_token
            {
                return Ok((Scheme::Bearer, t));
            }
            Err(AuthFailure::NoToken)
        }
        [one] => {
            let text = one
                .to_str()
                .map_err(|_| AuthFailure::Malformed("Authorization is not visible ASCII"))?;
            let text = if shared.has(Fault::LastAuthorizationWins) {
                last_listed_credential(text)
            } else {
                text
            };
            let (scheme, rest) = text.split_once(' ').unwrap_or((text, ""));
            let bearer = if shared.has(Fault::CaseSensitiveScheme) {
                scheme == "Bearer"
            } else {
                scheme.eq_ignore_ascii_case("bearer")
            };
            let dpop = crate::dpop::enabled(&shared.config)
                && if shared.has(Fault::DpopSchemeCaseSensitive) {
                    scheme == "DPoP"
                } else {
                    scheme.eq_ignore_ascii_case("dpop")
                };
            let scheme = match (bearer, dpop) {
                (true, _) => Scheme::Bearer,
                (_, true) => Scheme::Dpop,
                _ => return Err(AuthFailure::UnsupportedScheme),
            };
            if shared.has(Fault::QueryTokenWins)
                && let Some(t) = req
                    .query
                    .and_then(|q| form_value(q.as_bytes(), "access_token"))
            {
                return Ok((scheme, t));
            }
            if form_token.is_some() && !shared.has(Fault::AcceptFormToken) {
                return Err(AuthFailure::Malformed(
                    "the token is presented by more than one method",
                ));
            }
            let token = if shared.has(Fault::LenientCredentials) {
                rest.split([' ', '\t', ','])
                    .find(|w| !w.is_empty())
                    .unwrap_or_default()
            } else {
                rest.trim_start_matches(' ')
            };
            if !is_single_credential(token) {
                return Err(AuthFailure::Malformed(
                    "the Bearer credential is not a single token",
                ));
            }
            Ok((scheme, token.to_owned()))
        }
        _ => Err(AuthFailure::Malformed(
            "more than one Authorization header field",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_credential() {
        for ok in ["abc", "a.b.c", "A-_~+/9", "abc==", "a=b.c", "é"] {
            assert!(is_single_credential(ok), "{ok}");
        }
        for bad in ["", "a b", "a,b", "a\"b", "a\tb", "a\u{7f}"] {
            assert!(!is_single_credential(bad), "{bad}");
        }
    }
}
