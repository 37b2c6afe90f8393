//! Secrets never leave the tool: tokens, proofs, client secrets and private keys are replaced
//! by a fingerprint (the first 12 hex characters of their SHA-256) before any sink sees them.
//! Decoded JOSE headers and claims of a token are not secret and may be shown beside it, once
//! every private key member of a JWK in them is removed (a DPoP proof's or a forged token's
//! `jwk` may carry one, even of a throwaway key: secret scanners cannot tell).

use aws_lc_rs::digest;
use serde_json::Value;

use super::ProbeRequest;

/// Headers whose values are credentials.
/// (`set-cookie`: an authorization server's login session, which the form driver receives.)
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "dpop",
    "cookie",
    "set-cookie",
    "proxy-authorization",
];

/// `sha256:` and the first 12 hex characters of the SHA-256 of `secret`.
pub fn fingerprint(secret: &str) -> String {
    let d = digest::digest(&digest::SHA256, secret.as_bytes());
    let hex: String = d.as_ref()[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// A header value with its credential part fingerprinted: `Bearer sha256:…`, `DPoP sha256:…`.
pub fn redact_header_value(name: &str, value: &str) -> String {
    // An authorization server's redirect carries the code (or, implicit, a token) in the URL.
    if name.eq_ignore_ascii_case("location") {
        return redact_url(value);
    }
    if !SECRET_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name)) {
        return value.to_owned();
    }
    match value.split_once(' ') {
        Some((scheme, credential)) if name.eq_ignore_ascii_case("authorization") => {
            format!("{scheme} {}", fingerprint(credential.trim()))
        }
        _ => fingerprint(value),
    }
}

/// The private members of a JWK (RFC 7518 §6.2.2 EC and OKP `d`; §6.3.2 RSA `d`, `p`, `q`,
/// `dp`, `dq`, `qi`, `oth`; §6.4.1 symmetric `k`).
pub const PRIVATE_JWK_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// What a private key member's value becomes in every report.
pub const PRIVATE_MEMBER_REMOVED: &str = "[private key member removed]";

/// A decoded JOSE header or claim set with the value of every private member of every JWK in
/// it replaced by [`PRIVATE_MEMBER_REMOVED`], at any depth. A JWK is an object with a `kty`,
/// the value of a `jwk` member (also one without `kty`: a proof may omit it), or an element of
/// a `keys` array.
pub fn without_private_key_members(value: Value) -> Value {
    scrub(value, false)
}

fn scrub(value: Value, is_key: bool) -> Value {
    match value {
        Value::Object(map) => {
            let is_key = is_key || map.contains_key("kty");
            Value::Object(
                map.into_iter()
                    .map(|(name, v)| {
                        if is_key && PRIVATE_JWK_MEMBERS.contains(&name.as_str()) {
                            (name, Value::String(PRIVATE_MEMBER_REMOVED.to_owned()))
                        } else {
                            let key_inside = name == "jwk" || name == "keys";
                            (name, scrub(v, key_inside))
                        }
                    })
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(|v| scrub(v, is_key)).collect()),
        other => other,
    }
}

/// The request with every credential redacted: credential headers, an `access_token` query
/// parameter, and an `access_token` member of a form body (RFC 6750 §2.2, which the tool sends
/// with a real token when the token source is the target's own authorization server). Other
/// bodies are JSON-RPC messages the tool wrote and are kept.
pub fn redact_request(request: &ProbeRequest) -> ProbeRequest {
    let form = request.headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("content-type")
            && v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
    });
    let body = match &request.body {
        Some(bytes) if form => Some(match std::str::from_utf8(bytes) {
            Ok(text) => redact_pairs(text).into_bytes(),
            // Not text: it cannot be searched for the member, so it goes whole.
            Err(_) => fingerprint(&String::from_utf8_lossy(bytes)).into_bytes(),
        }),
        other => other.clone(),
    };
    ProbeRequest {
        url: redact_url(&request.url),
        headers: request
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), redact_header_value(n, v)))
            .collect(),
        body,
        ..request.clone()
    }
}

/// Parameters whose value is a credential wherever a URL or form carries it (a token
/// request's form carries the code, the PKCE verifier, a refresh token or a client secret).
pub const CREDENTIAL_PARAMETERS: [&str; 10] = [
    "access_token",
    // RFC 8693 §2.1: the tokens a token exchange presents.
    "subject_token",
    "actor_token",
    "code",
    "id_token",
    "refresh_token",
    "code_verifier",
    "client_secret",
    "device_code",
    "client_assertion",
];

/// Members of a JSON answer (a token response, a registration response: RFC 7591 §3.2.1,
/// RFC 7592 §3) whose value is a credential.
const CREDENTIAL_MEMBERS: [&str; 7] = [
    "access_token",
    "refresh_token",
    "id_token",
    "device_code",
    "client_secret",
    "registration_access_token",
    // Metadata signed as a JWT (RFC 8414 §2.1, RFC 9728 §2.2) is public, not a credential; it is
    // fingerprinted all the same so that no report holds anything shaped like a token, and a
    // reader never has to tell a signed statement from a leaked token.
    "signed_metadata",
];

/// A JSON body with the string value of every credential member (a token response's
/// `access_token`, `refresh_token`, `id_token`), at any depth, fingerprinted. Any other body,
/// and a JSON body without such a member, is kept byte for byte.
pub fn redact_json_body(body: String) -> String {
    fn walk(value: &mut Value) -> bool {
        match value {
            Value::Object(map) => {
                let mut changed = false;
                for (name, v) in map.iter_mut() {
                    match v {
                        Value::String(secret)
                            if CREDENTIAL_MEMBERS.contains(&name.as_str())
                                && !secret.is_empty() =>
                        {
                            *secret = fingerprint(secret);
                            changed = true;
                        }
                        _ => changed |= walk(v),
                    }
                }
                changed
            }
            Value::Array(items) => items.iter_mut().fold(false, |c, v| walk(v) | c),
            _ => false,
        }
    }
    let Ok(mut value) = serde_json::from_str::<Value>(&body) else {
        return body;
    };
    if walk(&mut value) {
        serde_json::to_string(&value).unwrap_or_default()
    } else {
        body
    }
}

/// The value of every credential parameter of `name=value&…` text (a form body), decoded.
pub fn credential_parameter_values(pairs: &str) -> Vec<String> {
    url::form_urlencoded::parse(pairs.as_bytes())
        .filter(|(name, value)| CREDENTIAL_PARAMETERS.contains(&name.as_ref()) && !value.is_empty())
        .map(|(_, value)| value.into_owned())
        .collect()
}

/// The URL with the value of every credential parameter (an `access_token` query parameter,
/// an authorization response's `code` or tokens, in the query or the fragment) fingerprinted.
pub fn redact_url(url: &str) -> String {
    let (rest, fragment) = match url.split_once('#') {
        Some((rest, fragment)) => (rest, Some(fragment)),
        None => (url, None),
    };
    let mut out = match rest.split_once('?') {
        Some((base, query)) => format!("{base}?{}", redact_pairs(query)),
        None => rest.to_owned(),
    };
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(&redact_pairs(fragment));
    }
    out
}

/// `name=value&…` (a query, a fragment or a form body) with every credential value
/// fingerprinted.
fn redact_pairs(pairs: &str) -> String {
    pairs
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) if CREDENTIAL_PARAMETERS.contains(&name) && !value.is_empty() => {
                format!("{name}={}", fingerprint(value))
            }
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_authorization_response_code_in_a_location_is_fingerprinted() {
        let location =
            "http://127.0.0.1/callback?code=SplxlOBeZQQYbYS6WxSbIA&state=xyz&iss=http%3A%2F%2Fas";
        let redacted = redact_header_value("Location", location);
        assert!(!redacted.contains("SplxlOBeZQQYbYS6WxSbIA"), "{redacted}");
        assert!(redacted.contains(&fingerprint("SplxlOBeZQQYbYS6WxSbIA")));
        assert!(redacted.contains("state=xyz&iss=http%3A%2F%2Fas"));
        let implicit = "https://client/cb#access_token=2YotnFZFEjr1zCsicMWpAA&token_type=Bearer";
        assert!(!redact_url(implicit).contains("2YotnFZFEjr1zCsicMWpAA"));
        // code_challenge is no credential, and a URL without one is kept.
        let request = "https://as/authorize?code_challenge=abc&response_type=code";
        assert_eq!(redact_url(request), request);
    }

    #[test]
    fn a_token_request_form_and_a_token_response_are_fingerprinted() {
        let mut form = ProbeRequest::new("POST", "http://127.0.0.1/token")
            .header("content-type", "application/x-www-form-urlencoded");
        form.body = Some(
            b"grant_type=authorization_code&code=CODE-123456&code_verifier=VERIFIER-123456\
              &refresh_token=RT-123456&client_secret=SECRET-123456&client_id=public"
                .to_vec(),
        );
        let body = String::from_utf8(redact_request(&form).body.unwrap()).unwrap();
        for secret in [
            "CODE-123456",
            "VERIFIER-123456",
            "RT-123456",
            "SECRET-123456",
        ] {
            assert!(!body.contains(secret), "{secret} in {body}");
            assert!(body.contains(&fingerprint(secret)), "{body}");
        }
        assert!(
            body.contains("grant_type=authorization_code") && body.contains("client_id=public")
        );
        assert_eq!(
            credential_parameter_values("code=a%2Bb&client_id=x&code_verifier=v"),
            ["a+b", "v"]
        );

        let answer = r#"{"access_token":"AT-123456","token_type":"Bearer","refresh_token":"RT-654321","nested":{"id_token":"ID-123456"},"expires_in":300}"#;
        let shown = redact_json_body(answer.to_owned());
        for secret in ["AT-123456", "RT-654321", "ID-123456"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
            assert!(shown.contains(&fingerprint(secret)));
        }
        assert!(
            shown.contains("\"token_type\":\"Bearer\"") && shown.contains("\"expires_in\":300")
        );
        // Bodies without a credential member, and bodies that are no JSON, are kept as sent.
        let error = r#"{ "error": "invalid_grant" }"#;
        assert_eq!(redact_json_body(error.to_owned()), error);
        assert_eq!(
            redact_json_body("access_token=x".to_owned()),
            "access_token=x"
        );
    }

    #[test]
    fn no_private_key_member_of_any_jwk_survives() {
        let header = serde_json::json!({
            "alg": "ES256",
            "typ": "dpop+jwt",
            "k": "not a key: the header itself is no JWK",
            "jwk": {"kty": "EC", "crv": "P-256", "x": "X", "y": "Y", "d": "SECRET-D"},
            "x-nested": {"cnf": {"jwk": {"kty": "oct", "k": "SECRET-K"}}},
            "x-no-kty": {"jwk": {"crv": "P-256", "d": "SECRET-D2"}},
            "jwks": {"keys": [{"kty": "RSA", "n": "N", "e": "AQAB", "d": "SECRET-RSA-D",
                "p": "P", "q": "Q", "dp": "DP", "dq": "DQ", "qi": "QI",
                "oth": [{"r": "R", "d": "D", "t": "T"}]}]},
        });
        let shown = without_private_key_members(header).to_string();
        for secret in [
            "SECRET-D",
            "SECRET-K",
            "SECRET-D2",
            "SECRET-RSA-D",
            "\"P\"",
            "\"QI\"",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains(PRIVATE_MEMBER_REMOVED));
        // Public members and the header's own names stay.
        for public in ["\"x\":\"X\"", "\"n\":\"N\"", "\"k\":\"not a key"] {
            assert!(shown.contains(public), "{public} missing from {shown}");
        }
    }

    #[test]
    fn credentials_are_fingerprinted_and_nothing_else() {
        let token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln";
        let r = ProbeRequest::new("POST", "http://127.0.0.1/mcp")
            .header("Authorization", &format!("Bearer {token}"))
            .header("DPoP", "proof.proof.proof")
            .header("Accept", "application/json");
        let red = redact_request(&r);
        let text = format!("{red:?}");
        assert!(!text.contains(token));
        assert!(!text.contains("proof.proof.proof"));
        assert!(text.contains(&format!("Bearer {}", fingerprint(token))));
        assert_eq!(red.headers[2].1, "application/json");
        assert_eq!(fingerprint("x").len(), "sha256:".len() + 12);
        let q = redact_url(&format!("http://h/mcp?a=1&access_token={token}"));
        assert!(!q.contains(token) && q.starts_with("http://h/mcp?a=1&access_token=sha256:"));
    }

    #[test]
    fn a_token_in_a_form_body_is_fingerprinted_and_json_bodies_are_kept() {
        let token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZWFsIn0.c2ln";
        let mut form = ProbeRequest::new("POST", "http://127.0.0.1/mcp").header(
            "Content-Type",
            "application/x-www-form-urlencoded; charset=utf-8",
        );
        form.body = Some(format!("x=1&access_token={token}").into_bytes());
        let red = redact_request(&form);
        let body = String::from_utf8(red.body.unwrap()).unwrap();
        assert_eq!(body, format!("x=1&access_token={}", fingerprint(token)));
        let mut json = ProbeRequest::new("POST", "http://127.0.0.1/mcp")
            .header("content-type", "application/json");
        json.body = Some(br#"{"access_token":"kept: the tool wrote it"}"#.to_vec());
        assert_eq!(redact_request(&json).body, json.body);
    }
}
