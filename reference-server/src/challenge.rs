//! Refusals: the `WWW-Authenticate: Bearer` challenges of RFC 6750 §3 with the RFC 9728
//! `resource_metadata` parameter, and their status codes (401, 400, 403, 503). With DPoP on,
//! 401s also carry a `DPoP` challenge (RFC 9449 §7.1) with `algs` and `resource_metadata`
//! (spec OQ-14): second beside Bearer, first (with the error) when a DPoP request failed, and
//! alone on a DPoP-only server.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::config::DpopMode;
use crate::credentials::{AuthFailure, DpopFailure};
use crate::fault::Fault;
use crate::server::Shared;

/// `error_description` keeps only the characters RFC 6750 §3 allows.
fn description_chars(text: &str) -> String {
    text.chars()
        .filter(|&c| c == ' ' || c == '!' || (('#'..='~').contains(&c) && c != '\\'))
        .take(200)
        .collect()
}

/// The scope a request without a token needs.
fn needed_scope(shared: &Shared) -> String {
    let mut scope = shared.config.base_scope.clone();
    if shared.has(Fault::AdvertiseOfflineAccess) {
        scope.push_str(" offline_access");
    }
    scope
}

/// The PRM URL named in `resource_metadata`. The fault names it by the unspecified bind
/// address, as servers that build URLs from their listening socket do: plain http on a host
/// that is not loopback (connecting to it still reaches this machine, so no probe leaves it).
fn advertised_prm_url(shared: &Shared) -> String {
    if !shared.has(Fault::ResourceMetadataPlainHttp) {
        return shared.prm_url.clone();
    }
    let Ok(mut url) = url::Url::parse(&shared.prm_url) else {
        return shared.prm_url.clone();
    };
    if url.set_host(Some("0.0.0.0")).is_err() || url.set_scheme("http").is_err() {
        return shared.prm_url.clone();
    }
    url.to_string()
}

/// A Bearer challenge with these parameters, in this order.
fn challenge(shared: &Shared, error: Option<(&str, &str)>, scope: Option<String>) -> String {
    let mut params = Vec::new();
    if let Some((code, description)) = error {
        params.push(format!("error=\"{code}\""));
        params.push(format!(
            "error_description=\"{}\"",
            description_chars(description)
        ));
    }
    if let Some(scope) = scope {
        params.push(format!("scope=\"{scope}\""));
        if shared.has(Fault::MalformedChallenge) {
            params.push(format!("scope=\"{scope}\""));
        }
    }
    if !shared.has(Fault::NoResourceMetadata) && !shared.has(Fault::NoResourceMetadataParam) {
        params.push(format!(
            "resource_metadata=\"{}\"",
            advertised_prm_url(shared)
        ));
    }
    if params.is_empty() {
        "Bearer".to_owned()
    } else {
        format!("Bearer {}", params.join(", "))
    }
}

/// A DPoP challenge (RFC 9449 §7.1): the error when there is one, `algs`, `scope` and
/// `resource_metadata`.
fn dpop_challenge(shared: &Shared, error: Option<(&str, &str)>, scope: Option<String>) -> String {
    let mut params = Vec::new();
    if let Some((code, description)) = error {
        params.push(format!("error=\"{code}\""));
        params.push(format!(
            "error_description=\"{}\"",
            description_chars(description)
        ));
    }
    params.push(format!(
        "algs=\"{}\"",
        shared.dpop.advertised_algs(&shared.config).join(" ")
    ));
    if let Some(scope) = scope {
        params.push(format!("scope=\"{scope}\""));
    }
    if !shared.has(Fault::NoResourceMetadata) && !shared.has(Fault::NoResourceMetadataParam) {
        params.push(format!(
            "resource_metadata=\"{}\"",
            advertised_prm_url(shared)
        ));
    }
    format!("DPoP {}", params.join(", "))
}

/// Whether refusals carry a DPoP challenge.
fn offers_dpop(shared: &Shared) -> bool {
    crate::dpop::enabled(&shared.config) && !shared.has(Fault::DpopBearerChallenge)
}

/// The 401 of a failed DPoP request: the DPoP challenge with the error, then a bare Bearer
/// one on a server that takes both; a fresh nonce with `use_dpop_nonce`.
fn dpop_refusal(shared: &Shared, failure: &DpopFailure, scope: Option<String>) -> Response {
    let error = Some((failure.code, failure.description.as_str()));
    let body = json!({"error": failure.code, "error_description": description_chars(&failure.description)});
    let challenges = if !offers_dpop(shared) {
        vec![challenge(shared, error, scope)]
    } else if shared.config.dpop == DpopMode::Required {
        vec![dpop_challenge(shared, error, scope)]
    } else {
        vec![
            dpop_challenge(shared, error, scope.clone()),
            challenge(shared, None, scope),
        ]
    };
    let challenges = if shared.has(Fault::NoWwwAuthenticate) {
        Vec::new()
    } else {
        challenges
    };
    let mut resp = with_challenges(StatusCode::UNAUTHORIZED, body, challenges);
    if let Some(v) = failure
        .nonce
        .as_deref()
        .and_then(|n| HeaderValue::from_str(n).ok())
    {
        resp.headers_mut().insert("dpop-nonce", v);
        // RFC 9449 §8.2: a nonce must not be cached.
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

fn with_challenges(status: StatusCode, body: serde_json::Value, www: Vec<String>) -> Response {
    let mut resp = (status, axum::Json(body)).into_response();
    for v in www.iter().filter_map(|w| HeaderValue::from_str(w).ok()) {
        resp.headers_mut().append(header::WWW_AUTHENTICATE, v);
    }
    resp
}

fn with_challenge(status: StatusCode, body: serde_json::Value, www: Option<String>) -> Response {
    let mut resp = (status, axum::Json(body)).into_response();
    if let Some(v) = www.and_then(|w| HeaderValue::from_str(&w).ok()) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

/// The answer to a request that is not authenticated.
pub fn refusal(shared: &Shared, failure: &AuthFailure) -> Response {
    let scope = (!shared.has(Fault::NoScopeInChallenge)).then(|| needed_scope(shared));
    let (status, code, description) = match failure {
        AuthFailure::NoToken if shared.has(Fault::ErrorOnNoToken) => (
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
            "no token".to_owned(),
        ),
        AuthFailure::UnsupportedScheme if shared.has(Fault::ErrorOnUnsupportedScheme) => (
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
            "unsupported scheme".to_owned(),
        ),
        AuthFailure::NoToken | AuthFailure::UnsupportedScheme => {
            (StatusCode::UNAUTHORIZED, None, String::new())
        }
        AuthFailure::Malformed(why) => (
            StatusCode::BAD_REQUEST,
            Some("invalid_request"),
            (*why).to_owned(),
        ),
        AuthFailure::Invalid(why) => (StatusCode::UNAUTHORIZED, Some("invalid_token"), why.clone()),
        AuthFailure::Unavailable(why) => {
            let mut resp = (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({"error": "temporarily_unavailable", "error_description": description_chars(why)})),
            )
                .into_response();
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            return resp;
        }
        AuthFailure::Crash => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
        }
        AuthFailure::Dpop(failure) => return dpop_refusal(shared, failure, scope),
    };
    let www = match code {
        // 400 is no authentication challenge, but RFC 6750 §3.1 still names the error there.
        Some(c) if status == StatusCode::BAD_REQUEST => {
            challenge(shared, Some((c, &description)), None)
        }
        Some(c) => challenge(shared, Some((c, &description)), scope.clone()),
        None => challenge(shared, None, scope.clone()),
    };
    let body = match code {
        Some(c) => json!({"error": c, "error_description": description_chars(&description)}),
        None => {
            json!({"error": "unauthorized", "error_description": "a Bearer access token is required"})
        }
    };
    let error = code.map(|c| (c, description.as_str()));
    let challenges = match (status, shared.config.dpop) {
        (StatusCode::UNAUTHORIZED, DpopMode::Required) if offers_dpop(shared) => {
            vec![dpop_challenge(shared, error, scope)]
        }
        (StatusCode::UNAUTHORIZED, _) if offers_dpop(shared) => {
            vec![www, dpop_challenge(shared, None, scope)]
        }
        _ => vec![www],
    };
    let challenges = if shared.has(Fault::NoWwwAuthenticate) && status == StatusCode::UNAUTHORIZED {
        Vec::new()
    } else {
        challenges
    };
    with_challenges(status, body, challenges)
}

/// The step-up answer (RFC 6750 §3.1, MCP "Runtime Insufficient Scope Errors"): 403 naming
/// every scope the operation needs.
pub fn insufficient_scope(shared: &Shared, needed: &[String], granted: &[String]) -> Response {
    let missing: Vec<&str> = needed
        .iter()
        .filter(|s| !granted.contains(s))
        .map(String::as_str)
        .collect();
    let description = format!("needs {}", missing.join(" "));
    if shared.has(Fault::Scope401) {
        let www = challenge(shared, Some(("invalid_token", &description)), None);
        return with_challenge(
            StatusCode::UNAUTHORIZED,
            json!({"error": "invalid_token"}),
            Some(www),
        );
    }
    let scope = if shared.has(Fault::ScopeChallengeIncomplete) {
        granted.join(" ")
    } else {
        needed.join(" ")
    };
    let www = (!shared.has(Fault::Scope403Bare)).then(|| {
        challenge(
            shared,
            Some(("insufficient_scope", &description)),
            Some(scope),
        )
    });
    with_challenge(
        StatusCode::FORBIDDEN,
        json!({"error": "insufficient_scope", "error_description": description}),
        www,
    )
}
