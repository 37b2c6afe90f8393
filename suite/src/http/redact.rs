//! Secrets never leave the tool: tokens, proofs, client secrets and private keys are replaced
//! by a fingerprint (the first 12 hex characters of their SHA-256) before any sink sees them.
//! Decoded JOSE headers and claims of a token are not secret and may be shown beside it.

use aws_lc_rs::digest;

use super::ProbeRequest;

/// Headers whose values are credentials.
const SECRET_HEADERS: &[&str] = &["authorization", "dpop", "cookie", "proxy-authorization"];

/// `sha256:` and the first 12 hex characters of the SHA-256 of `secret`.
pub fn fingerprint(secret: &str) -> String {
    let d = digest::digest(&digest::SHA256, secret.as_bytes());
    let hex: String = d.as_ref()[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// A header value with its credential part fingerprinted: `Bearer sha256:…`, `DPoP sha256:…`.
pub fn redact_header_value(name: &str, value: &str) -> String {
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

/// The request with every credential header redacted. Bodies are kept: probe bodies are
/// JSON-RPC messages the tool wrote, never credentials.
pub fn redact_request(request: &ProbeRequest) -> ProbeRequest {
    ProbeRequest {
        url: redact_url(&request.url),
        headers: request
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), redact_header_value(n, v)))
            .collect(),
        ..request.clone()
    }
}

/// The URL with the value of any `access_token` query parameter fingerprinted.
pub fn redact_url(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some(("access_token", value)) => format!("access_token={}", fingerprint(value)),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
