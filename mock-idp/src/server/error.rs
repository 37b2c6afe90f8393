//! OAuth error responses (RFC 6749 §5.2, RFC 7591 §3.2.2, RFC 8628 §3.5, RFC 9449 §5, §8),
//! JSON responses that must not be cached, and the HTML pages of the authorization endpoint
//! and the device verification URI.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An OAuth error: `{"error", "error_description"}` with its status code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
    /// Add `WWW-Authenticate: Basic` (client authentication through the Authorization header
    /// failed, RFC 6749 §5.2).
    pub basic_challenge: bool,
    /// A fresh nonce for `DPoP-Nonce` (RFC 9449 §8).
    pub dpop_nonce: Option<String>,
    /// Extra headers (`Allow` on 405).
    pub allow: Option<&'static str>,
}

impl OAuthError {
    pub fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
            basic_challenge: false,
            dpop_nonce: None,
            allow: None,
        }
    }

    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", d)
    }
    /// Client authentication failed through the Authorization header, or was absent: 401
    /// with a Basic challenge.
    pub fn invalid_client_challenge(d: impl Into<String>) -> Self {
        Self {
            basic_challenge: true,
            ..Self::new(StatusCode::UNAUTHORIZED, "invalid_client", d)
        }
    }
    /// Client authentication with body parameters failed: 400.
    pub fn invalid_client(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_client", d)
    }
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", d)
    }
    pub fn unauthorized_client(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unauthorized_client", d)
    }
    pub fn unsupported_grant_type(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unsupported_grant_type", d)
    }
    pub fn invalid_scope(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", d)
    }
    pub fn invalid_target(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_target", d)
    }
    pub fn invalid_dpop_proof(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_dpop_proof", d)
    }
    pub fn use_dpop_nonce(nonce: String) -> Self {
        Self {
            dpop_nonce: Some(nonce),
            ..Self::new(
                StatusCode::BAD_REQUEST,
                "use_dpop_nonce",
                "Authorization server requires nonce in DPoP proof",
            )
        }
    }
    pub fn authorization_pending() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "authorization_pending",
            "the user has not decided yet; keep polling",
        )
    }
    /// The client polled faster than `interval` seconds, the interval in force from now on.
    pub fn slow_down(interval: u32) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "slow_down",
            format!("polling too fast: wait at least {interval} s between polls"),
        )
    }
    pub fn expired_token(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "expired_token", d)
    }
    pub fn access_denied(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "access_denied", d)
    }
    pub fn invalid_redirect_uri(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_redirect_uri", d)
    }
    pub fn invalid_client_metadata(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_client_metadata", d)
    }
    pub fn method_not_allowed(allow: &'static str) -> Self {
        Self {
            allow: Some(allow),
            ..Self::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request",
                format!("method not allowed; use {allow}"),
            )
        }
    }
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "invalid_request", "no such endpoint")
    }
}

/// `error_description` may only hold %x20-21 / %x23-5B / %x5D-7E (RFC 6749 §5.2): no `"`,
/// no `\`, no control or non-ASCII characters. Anything else becomes `'` or `?`.
pub(crate) fn sanitize_description(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' => '\'',
            '\\' => '/',
            ' '..='~' => c,
            _ => '?',
        })
        .collect()
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": self.error,
            "error_description": sanitize_description(&self.description),
        });
        let mut resp = json_no_store(self.status, &body);
        let headers = resp.headers_mut();
        if self.basic_challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"mock-idp\", charset=\"UTF-8\""),
            );
        }
        if let Some(nonce) = self.dpop_nonce
            && let Ok(v) = HeaderValue::from_str(&nonce)
        {
            headers.insert("dpop-nonce", v);
        }
        if let Some(allow) = self.allow {
            headers.insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        resp
    }
}

/// An endpoint's JSON answer: the body with `status`, or the OAuth error.
pub(crate) fn json_answer(status: StatusCode, result: Result<Value, OAuthError>) -> Response {
    match result {
        Ok(body) => json_no_store(status, &body),
        Err(e) => e.into_response(),
    }
}

/// A JSON response with `Cache-Control: no-store` and `Pragma: no-cache`.
pub(crate) fn json_no_store(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, axum::Json(body)).into_response();
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

/// Headers every authorization-endpoint response carries: not framable, not cacheable.
pub(crate) fn harden_authorization_response(resp: &mut Response) {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("frame-ancestors 'none'"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// The authorization endpoint's error page: shown instead of redirecting when the client or
/// its redirect URI cannot be trusted (RFC 6749 §4.1.2.1). Never carries `Location`.
pub(crate) fn error_page(error: &'static str, description: &str) -> Response {
    let content = format!(
        "<p><code>{}</code></p><p>{}</p>",
        html_escape(error),
        html_escape(description)
    );
    html_page(StatusCode::BAD_REQUEST, "Authorization error", &content)
}

/// A hardened HTML page; `content` is markup the caller has already escaped.
pub(crate) fn html_page(status: StatusCode, title: &str, content: &str) -> Response {
    let title = html_escape(title);
    let html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1>{content}</body></html>\n"
    );
    let mut resp = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response();
    harden_authorization_response(&mut resp);
    resp
}

pub(crate) fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_stay_in_the_rfc6749_charset() {
        assert_eq!(sanitize_description("bad \"x\" \\ é\n"), "bad 'x' / ??");
    }

    #[test]
    fn error_page_escapes_and_does_not_redirect() {
        let resp = error_page("invalid_request", "<script>alert(1)</script>");
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert!(resp.headers().get(header::LOCATION).is_none());
        assert_eq!(resp.headers()[header::X_FRAME_OPTIONS], "DENY");
    }

    #[test]
    fn basic_challenge_and_nonce_headers() {
        let resp = OAuthError::invalid_client_challenge("x").into_response();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert!(
            resp.headers()[header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .starts_with("Basic ")
        );
        assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-store");
        let resp = OAuthError::use_dpop_nonce("n-1".into()).into_response();
        assert_eq!(resp.headers().get_all("dpop-nonce").iter().count(), 1);
    }
}
