//! The authorization endpoint (RFC 6749 §4.1.1, OAuth 2.1 §4.1): auto-approves the test user,
//! or in login mode (`IdpConfig::login`) shows a valid request's login form ([`super::login`]).
//!
//! Until the client and its redirect URI are established, every problem gets an error page
//! (400, no `Location`). After that, errors are sent back to the redirect URI with `error`,
//! `error_description`, `state` and `iss` (RFC 9207); success sends `code`, `state` and `iss`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::AsFault;
use super::cimd::{CimdLookup, NoClient, is_url_client_id};
use super::error::{error_page, harden_authorization_response};
use super::params::{Params, is_pkce_string};
use super::policy::{check_resources, grant_scope};
use super::state::{CodeGrant, IssuerCtx};
use crate::random_b64url;

pub(crate) async fn authorize(State(ctx): State<IssuerCtx>, uri: Uri) -> Response {
    if ctx
        .shared
        .config
        .faults
        .contains(&AsFault::RejectEverything)
    {
        return error_page("access_denied", REFUSES_EVERYTHING);
    }
    let query = uri.query().unwrap_or_default();
    let cimd = resolve_client(&ctx, query).await;
    if ctx.shared.config.login.is_some() && !approves_at_once(&ctx, query, &cimd) {
        return super::login::login_page(&ctx, query, None);
    }
    let mut resp = handle(&ctx, query, &cimd);
    harden_authorization_response(&mut resp);
    resp
}

/// The request's URL `client_id` resolved (spec §2.7), before the synchronous checks.
async fn resolve_client(ctx: &IssuerCtx, query: &str) -> CimdLookup {
    let params = Params::parse(query.as_bytes());
    CimdLookup::resolve(&ctx.shared, params.get("client_id")).await
}

/// Why [`AsFault::RejectEverything`] refuses a request, at every endpoint.
pub(crate) const REFUSES_EVERYTHING: &str = "this server refuses every request";

/// Whether the request is answered without a login: any error (sent back or shown) is, since
/// the login comes after the request was found valid.
fn approves_at_once(ctx: &IssuerCtx, query: &str, cimd: &CimdLookup) -> bool {
    let answer = handle_checked(ctx, query, false, cimd);
    answer.is_err()
}

/// The answer to a request the user has approved (the login form's or the consent page's POST
/// names it): its redirect with a code, or with the error a request has.
pub(crate) async fn approved(ctx: &IssuerCtx, query: &str) -> Response {
    let cimd = resolve_client(ctx, query).await;
    let mut resp = handle(ctx, query, &cimd);
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

fn handle(ctx: &IssuerCtx, query: &str, cimd: &CimdLookup) -> Response {
    match handle_checked(ctx, query, true, cimd) {
        Ok(resp) | Err(resp) => resp,
    }
}

/// The request checked in order; `Err` is an error answer. With `issue`, a valid request gets
/// its code (`Ok`); without, nothing is issued and `Ok` is an empty answer.
// Both sides are the answer to send; one per request, so their size does not matter.
#[allow(clippy::result_large_err)]
fn handle_checked(
    ctx: &IssuerCtx,
    query: &str,
    issue: bool,
    cimd: &CimdLookup,
) -> Result<Response, Response> {
    let shared = &ctx.shared;
    let faults = &shared.config.faults;
    let issuer = ctx.issuer();
    let params = Params::parse(query.as_bytes());
    if !faults.contains(&AsFault::DuplicateParamsAccepted) {
        for name in ["client_id", "redirect_uri"] {
            if params.all(name).nth(1).is_some() {
                return Err(error_page(
                    "invalid_request",
                    &format!("{name} is repeated"),
                ));
            }
        }
    }
    let Some(client_id) = params.get("client_id") else {
        return Err(error_page("invalid_request", "client_id is required"));
    };
    let found = cimd.find(&issuer.lock(), client_id);
    let client = match found {
        Ok(client) => client,
        // A URL client id whose document is unusable is an unknown client: an error page.
        Err(no @ NoClient::Document(_)) => {
            return Err(error_page("invalid_client", &no.reason("")));
        }
        Err(NoClient::Unregistered) => return Err(unknown_client(ctx, &params)),
    };
    if let Some(request_uri) = params
        .get("request_uri")
        .filter(|u| u.starts_with(super::par::REQUEST_URI_PREFIX))
    {
        // RFC 9126 §4: the pushed request stands for the whole request (used once, when it
        // is issued for: checking it before a login leaves it in place); until it is found,
        // no redirect URI is known.
        let pushed = {
            let mut st = issuer.lock();
            let found = st
                .pushed
                .get(request_uri)
                .filter(|p| p.client_id == client.client_id && shared.now() < p.expires_at)
                .map(|p| p.query.clone());
            if issue {
                st.pushed.remove(request_uri);
            }
            found
        };
        return match pushed {
            Some(query) => handle_checked(ctx, &query, issue, cimd),
            None => Err(error_page(
                "invalid_request_uri",
                "request_uri is unknown, expired, used, or another client's",
            )),
        };
    }
    let explicit = params.get("redirect_uri");
    // The URL-client faults take any redirect_uri (as-cimd-document-unchecked: when the
    // document listed none).
    let cimd_unchecked = is_url_client_id(&client.client_id)
        && (faults.contains(&AsFault::CimdRedirectUnchecked)
            || (faults.contains(&AsFault::CimdDocumentUnchecked)
                && client.redirect_uris.is_empty()));
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
        Some(r) if matches(r) || prefix_match(r) || cimd_unchecked => r.to_owned(),
        Some(_) => {
            return Err(error_page(
                "invalid_request",
                "redirect_uri is not registered for this client",
            ));
        }
        None => match client.redirect_uris.as_slice() {
            [only] => only.clone(),
            [] => return Err(error_page("invalid_request", "client has no redirect URI")),
            [first, ..] if faults.contains(&AsFault::RedirectDefaultOfSeveral) => first.clone(),
            _ => {
                return Err(error_page(
                    "invalid_request",
                    "redirect_uri is required: the client registered several",
                ));
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
        return Err(reply.error("invalid_request", &format!("parameter {name} is repeated")));
    }
    if faults.contains(&AsFault::UnknownParamsRefused)
        && let Some(name) = params.names().find(|n| !KNOWN_PARAMETERS.contains(n))
    {
        return Err(reply.error("invalid_request", &format!("unknown parameter {name}")));
    }
    if faults.contains(&AsFault::EmptyScopeRefused) && params.has_empty("scope") {
        return Err(reply.error("invalid_scope", "scope is empty"));
    }
    if params.get("request").is_some() {
        return Err(reply.error("request_not_supported", "request objects are not supported"));
    }
    if params.get("request_uri").is_some() {
        return Err(reply.error("request_uri_not_supported", "request_uri is not supported"));
    }
    match params.get("response_type") {
        None => return Err(reply.error("invalid_request", "response_type is required")),
        Some("code") => {}
        Some(_) if faults.contains(&AsFault::ResponseTypeAny) => {}
        Some(_) => {
            return Err(reply.error("unsupported_response_type", "only response_type=code"));
        }
    }
    if params.get("response_mode").is_some_and(|m| m != "query") {
        return Err(reply.error("invalid_request", "only response_mode=query is supported"));
    }
    if !client.allows_grant("authorization_code") {
        return Err(reply.error(
            "unauthorized_client",
            "client may not use the authorization code grant",
        ));
    }
    let challenge = match params.get("code_challenge") {
        Some(c) => c,
        // OAuth 2.1 §7.5.1, RFC 9700 §2.1.1: PKCE is required of public clients, RECOMMENDED
        // for confidential ones (their code is also bound to their credentials). Such a code
        // then refuses any code_verifier (RFC 9700 §4.8.2, PKCE downgrade).
        None if !client.is_public() => "",
        None if faults.contains(&AsFault::PkceOptional) => "",
        // Only dynamically registered clients have a registration answer.
        None if faults.contains(&AsFault::DcrPublicPkceOptional)
            && client.is_public()
            && !client.metadata.is_empty() =>
        {
            ""
        }
        None => {
            return Err(reply.error("invalid_request", "code_challenge is required (PKCE S256)"));
        }
    };
    match params.get("code_challenge_method") {
        Some("S256") => {}
        None if challenge.is_empty() => {}
        None => {
            return Err(reply.error("invalid_request", "code_challenge_method=S256 is required"));
        }
        Some("plain") if faults.contains(&AsFault::PkcePlainAccepted) => {}
        Some("plain") => {
            return Err(reply.error("invalid_request", "PKCE method plain is not supported"));
        }
        Some(_) if faults.contains(&AsFault::PkceAnyMethod) => {}
        Some(_) => {
            return Err(reply.error("invalid_request", "unsupported code_challenge_method"));
        }
    }
    let lenient = faults.contains(&AsFault::PkceLenientSyntax) || challenge.is_empty();
    if !lenient && (challenge.len() != 43 || !is_pkce_string(challenge)) {
        return Err(reply.error(
            "invalid_request",
            "code_challenge must be 43 base64url characters",
        ));
    }
    let scope = match grant_scope(shared, &client, params.get("scope")) {
        Ok(s) => s,
        Err(e) => return Err(reply.error(e.error, &e.description)),
    };
    let resources = match check_resources(&shared.config, params.all("resource")) {
        Ok(r) => r,
        Err(_) if faults.contains(&AsFault::ResourceUnchecked) => {
            params.all("resource").map(str::to_owned).collect()
        }
        Err(e) => return Err(reply.error(e.error, &e.description)),
    };
    let dpop_jkt = params.get("dpop_jkt");
    if dpop_jkt.is_some_and(|j| crate::b64::decode_strict(j).map(|b| b.len()) != Ok(32)) {
        return Err(reply.error(
            "invalid_request",
            "dpop_jkt is not a SHA-256 JWK thumbprint",
        ));
    }
    if !issue {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let code = if faults.contains(&AsFault::GuessableCodes) {
        guessable_code()
    } else {
        random_b64url(32)
    };
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
                expires_at: now + code_lifetime(&shared.config),
                redeemed: None,
            },
        );
    }
    Ok(reply.send(&[("code", &code)]))
}

/// The answer to a request whose client is not registered: an error page, or under
/// `as-redirect-for-unknown-client` an error sent to the redirect URI it names.
fn unknown_client(ctx: &IssuerCtx, params: &Params) -> Response {
    let faults = &ctx.shared.config.faults;
    if faults.contains(&AsFault::RedirectForUnknownClient)
        && let Some(redirect_uri) = params.get("redirect_uri")
    {
        let reply = Reply {
            redirect_uri: redirect_uri.to_owned(),
            state: params.get("state"),
            iss: &ctx.issuer().id,
            faults,
        };
        return reply.error("invalid_client", "unknown client_id");
    }
    error_page("invalid_client", "unknown client_id")
}

/// How long a code can be redeemed: the configured lifetime, or (under
/// [`AsFault::CodeNeverExpires`]) ten years, which no pruning reaches.
fn code_lifetime(config: &super::IdpConfig) -> i64 {
    if config.faults.contains(&AsFault::CodeNeverExpires) {
        10 * 365 * 24 * 3600
    } else {
        config.code_lifetime
    }
}

/// A code made of the clock and a counter, as some home-grown servers make them
/// ([`AsFault::GuessableCodes`]).
fn guessable_code() -> String {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 10_000;
    format!("{millis}{n:04}")
}
