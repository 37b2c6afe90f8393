//! The authorization endpoint (RFC 6749 §4.1.1, OAuth 2.1 §4.1): auto-approves the test user.
//!
//! Until the client and its redirect URI are established, every problem gets an error page
//! (400, no `Location`). After that, errors are sent back to the redirect URI with `error`,
//! `error_description`, `state` and `iss` (RFC 9207); success sends `code`, `state` and `iss`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::AsFault;
use super::error::{error_page, harden_authorization_response};
use super::params::{Params, is_pkce_string};
use super::policy::{check_resources, grant_scope};
use super::state::{CodeGrant, IssuerCtx};
use crate::random_b64url;

pub(crate) async fn authorize(State(ctx): State<IssuerCtx>, uri: Uri) -> Response {
    let mut resp = handle(&ctx, uri.query().unwrap_or_default());
    harden_authorization_response(&mut resp);
    resp
}

/// The parameters the endpoint knows (the `as-unknown-params-refused` fault refuses others).
const KNOWN_PARAMETERS: [&str; 13] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "resource",
    "dpop_jkt",
    "response_mode",
    "request",
    "request_uri",
    "nonce",
];

/// Where an error or a code is sent.
struct Reply<'a> {
    redirect_uri: String,
    state: Option<&'a str>,
    iss: &'a str,
    faults: &'a std::collections::BTreeSet<AsFault>,
}

impl Reply<'_> {
    fn send(&self, pairs: &[(&str, &str)]) -> Response {
        let Ok(mut url) = url::Url::parse(&self.redirect_uri) else {
            return error_page("invalid_request", "redirect_uri cannot be used");
        };
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in pairs {
                q.append_pair(k, v);
            }
            if let Some(state) = self.state {
                if self.faults.contains(&AsFault::StateTruncated) {
                    let cut: String = state.chars().take(32).collect();
                    q.append_pair("state", &cut);
                } else {
                    q.append_pair("state", state);
                }
            }
            let is_error = pairs.iter().any(|(k, _)| *k == "error");
            let omit_iss = self.faults.contains(&AsFault::NoIss)
                || (is_error && self.faults.contains(&AsFault::IssMissingOnError));
            if !omit_iss {
                q.append_pair("iss", self.iss);
            }
        }
        match HeaderValue::from_str(url.as_str()) {
            Ok(location) => {
                let mut resp = StatusCode::FOUND.into_response();
                resp.headers_mut().insert(header::LOCATION, location);
                resp
            }
            Err(_) => error_page("invalid_request", "redirect_uri cannot be used"),
        }
    }

    fn error(&self, error: &str, description: &str) -> Response {
        self.send(&[("error", error), ("error_description", description)])
    }
}

/// `OPTIONS` at the authorization endpoint: only the `as-authorize-cors` fault answers a CORS
/// preflight (the endpoint is navigated to, never fetched by scripts: OAuth 2.1 §3.1).
pub(crate) async fn preflight(State(ctx): State<IssuerCtx>, headers: HeaderMap) -> Response {
    if !ctx.shared.config.faults.contains(&AsFault::AuthorizeCors) {
        return super::error::OAuthError::method_not_allowed("GET, HEAD").into_response();
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    if let Some(origin) = headers.get(header::ORIGIN) {
        resp.headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    }
    resp.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET"),
    );
    resp
}

fn handle(ctx: &IssuerCtx, query: &str) -> Response {
    let shared = &ctx.shared;
    let faults = &shared.config.faults;
    let issuer = ctx.issuer();
    let params = Params::parse(query.as_bytes());
    if !faults.contains(&AsFault::DuplicateParamsAccepted) {
        for name in ["client_id", "redirect_uri"] {
            if params.all(name).nth(1).is_some() {
                return error_page("invalid_request", &format!("{name} is repeated"));
            }
        }
    }
    let Some(client_id) = params.get("client_id") else {
        return error_page("invalid_request", "client_id is required");
    };
    let Some(client) = issuer.lock().clients.get(client_id).cloned() else {
        if faults.contains(&AsFault::RedirectForUnknownClient)
            && let Some(redirect_uri) = params.get("redirect_uri")
        {
            let reply = Reply {
                redirect_uri: redirect_uri.to_owned(),
                state: params.get("state"),
                iss: &issuer.id,
                faults,
            };
            return reply.error("invalid_client", "unknown client_id");
        }
        return error_page("invalid_client", "unknown client_id");
    };
    if let Some(request_uri) = params
        .get("request_uri")
        .filter(|u| u.starts_with(super::par::REQUEST_URI_PREFIX))
    {
        // RFC 9126 §4: the pushed request stands for the whole request (used once); until
        // it is found, no redirect URI is known.
        let pushed = {
            let mut st = issuer.lock();
            st.pushed
                .remove(request_uri)
                .filter(|p| p.client_id == client.client_id && shared.now() < p.expires_at)
        };
        return match pushed {
            Some(p) => handle(ctx, &p.query),
            None => error_page(
                "invalid_request_uri",
                "request_uri is unknown, expired, used, or another client's",
            ),
        };
    }
    let explicit = params.get("redirect_uri");
    let prefix_match = |r: &str| {
        faults.contains(&AsFault::RedirectPrefixMatch)
            && client
                .redirect_uris
                .iter()
                .any(|u| r.starts_with(u.as_str()))
    };
    let matches = |r: &str| {
        if faults.contains(&AsFault::LoopbackPortFixed) {
            client.redirect_uris.iter().any(|u| u == r)
        } else {
            client.redirect_uri_matches(r)
        }
    };
    let redirect_uri = match explicit {
        Some(r) if matches(r) || prefix_match(r) => r.to_owned(),
        Some(_) => {
            return error_page(
                "invalid_request",
                "redirect_uri is not registered for this client",
            );
        }
        None => match client.redirect_uris.as_slice() {
            [only] => only.clone(),
            [] => return error_page("invalid_request", "client has no redirect URI"),
            _ => {
                return error_page(
                    "invalid_request",
                    "redirect_uri is required: the client registered several",
                );
            }
        },
    };
    let reply = Reply {
        redirect_uri: redirect_uri.clone(),
        state: params.get("state"),
        iss: &issuer.id,
        faults,
    };
    if let Some(name) = params.duplicate(&["resource"])
        && !faults.contains(&AsFault::DuplicateParamsAccepted)
    {
        return reply.error("invalid_request", &format!("parameter {name} is repeated"));
    }
    if faults.contains(&AsFault::UnknownParamsRefused)
        && let Some(name) = params.names().find(|n| !KNOWN_PARAMETERS.contains(n))
    {
        return reply.error("invalid_request", &format!("unknown parameter {name}"));
    }
    if faults.contains(&AsFault::EmptyScopeRefused) && params.has_empty("scope") {
        return reply.error("invalid_scope", "scope is empty");
    }
    if params.get("request").is_some() {
        return reply.error("request_not_supported", "request objects are not supported");
    }
    if params.get("request_uri").is_some() {
        return reply.error("request_uri_not_supported", "request_uri is not supported");
    }
    match params.get("response_type") {
        None => return reply.error("invalid_request", "response_type is required"),
        Some("code") => {}
        Some(_) if faults.contains(&AsFault::ResponseTypeAny) => {}
        Some(_) => {
            return reply.error("unsupported_response_type", "only response_type=code");
        }
    }
    if params.get("response_mode").is_some_and(|m| m != "query") {
        return reply.error("invalid_request", "only response_mode=query is supported");
    }
    if !client.allows_grant("authorization_code") {
        return reply.error(
            "unauthorized_client",
            "client may not use the authorization code grant",
        );
    }
    let challenge = match params.get("code_challenge") {
        Some(c) => c,
        None if faults.contains(&AsFault::PkceOptional) => "",
        None => {
            return reply.error("invalid_request", "code_challenge is required (PKCE S256)");
        }
    };
    match params.get("code_challenge_method") {
        Some("S256") => {}
        None if challenge.is_empty() => {}
        None => {
            return reply.error("invalid_request", "code_challenge_method=S256 is required");
        }
        Some("plain") if faults.contains(&AsFault::PkcePlainAccepted) => {}
        Some("plain") => {
            return reply.error("invalid_request", "PKCE method plain is not supported");
        }
        Some(_) if faults.contains(&AsFault::PkceAnyMethod) => {}
        Some(_) => {
            return reply.error("invalid_request", "unsupported code_challenge_method");
        }
    }
    let lenient = faults.contains(&AsFault::PkceLenientSyntax) || challenge.is_empty();
    if !lenient && (challenge.len() != 43 || !is_pkce_string(challenge)) {
        return reply.error(
            "invalid_request",
            "code_challenge must be 43 base64url characters",
        );
    }
    let scope = match grant_scope(shared, &client, params.get("scope")) {
        Ok(s) => s,
        Err(e) => return reply.error(e.error, &e.description),
    };
    let resources = match check_resources(&shared.config, params.all("resource")) {
        Ok(r) => r,
        Err(_) if faults.contains(&AsFault::ResourceUnchecked) => {
            params.all("resource").map(str::to_owned).collect()
        }
        Err(e) => return reply.error(e.error, &e.description),
    };
    let dpop_jkt = params.get("dpop_jkt");
    if dpop_jkt.is_some_and(|j| crate::b64::decode_strict(j).map(|b| b.len()) != Ok(32)) {
        return reply.error(
            "invalid_request",
            "dpop_jkt is not a SHA-256 JWK thumbprint",
        );
    }
    let code = random_b64url(32);
    let now = shared.now();
    {
        let mut st = issuer.lock();
        st.maybe_prune(now);
        st.codes.insert(
            code.clone(),
            CodeGrant {
                client_id: client.client_id.clone(),
                redirect_uri,
                redirect_uri_explicit: explicit.is_some(),
                code_challenge: challenge.to_owned(),
                subject: shared.config.subject.clone(),
                scope,
                resources,
                dpop_jkt: dpop_jkt.map(str::to_owned),
                expires_at: now + shared.config.code_lifetime,
                redeemed: None,
            },
        );
    }
    reply.send(&[("code", &code)])
}
