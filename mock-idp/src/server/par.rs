//! Pushed authorization requests (RFC 9126) with DPoP (RFC 9449 §10.1): the client pushes the
//! parameters of an authorization request (form, authenticated as at the token endpoint) and
//! gets a one-time `request_uri` to send to the authorization endpoint with its `client_id`.
//! A DPoP proof at the push binds the code to its key (as `dpop_jkt` would), and a `dpop_jkt`
//! pushed with a proof by another key is refused.
//!
//! The pushed parameters are validated when the `request_uri` is used, as the authorization
//! endpoint validates any request: a test IdP need not refuse them twice.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::AsFault;
use super::cimd::CimdLookup;
use super::client_auth::authenticate;
use super::dpop_check::check_proof;
use super::error::{OAuthError, json_answer};
use super::params::read_form;
use super::state::{IssuerCtx, PushedRequest};
use crate::random_b64url;

/// The path of the endpoint below the issuer.
pub(crate) const PAR_PATH: &str = "par";
/// RFC 9126 §2.2: the `request_uri` prefix.
pub(crate) const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
/// How long a pushed request may wait for its use, in seconds.
const PUSHED_LIFETIME: i64 = 60;

/// Client authentication parameters, which are not part of the authorization request.
const CLIENT_AUTH: [&str; 3] = ["client_secret", "client_assertion", "client_assertion_type"];

pub(crate) async fn push(State(ctx): State<IssuerCtx>, headers: HeaderMap, body: Body) -> Response {
    let answer = if ctx
        .shared
        .config
        .faults
        .contains(&super::AsFault::RejectEverything)
    {
        Err(OAuthError::invalid_request(
            super::authorize::REFUSES_EVERYTHING,
        ))
    } else {
        handle(&ctx, &headers, body).await
    };
    json_answer(StatusCode::CREATED, answer)
}

async fn handle(ctx: &IssuerCtx, headers: &HeaderMap, body: Body) -> Result<Value, OAuthError> {
    let shared = &ctx.shared;
    let params = read_form(headers, body, shared.config.max_body_bytes).await?;
    if params.get("request_uri").is_some() {
        return Err(OAuthError::invalid_request(
            "request_uri cannot be pushed (RFC 9126 §2.1)",
        ));
    }
    let cimd = CimdLookup::resolve(shared, params.get("client_id")).await;
    let now = shared.now();
    let mut st = ctx.issuer().lock();
    let client = authenticate(&st, headers, &params, &cimd)?;
    let unbound = shared.config.faults.contains(&AsFault::DpopParUnbound);
    let proof_jkt = if unbound {
        None
    } else {
        check_proof(ctx, &mut st, headers, PAR_PATH, now)?
    };
    let mut pairs: Vec<(String, String)> = params
        .pairs()
        .iter()
        .filter(|(k, _)| !CLIENT_AUTH.contains(&k.as_str()))
        .cloned()
        .collect();
    match (proof_jkt, params.get("dpop_jkt")) {
        (Some(proof), Some(named)) if proof != named => {
            return Err(OAuthError::invalid_dpop_proof(
                "dpop_jkt is not the thumbprint of the DPoP proof's key (RFC 9449 §10.1)",
            ));
        }
        (Some(proof), None) => pairs.push(("dpop_jkt".to_owned(), proof)),
        _ => {}
    }
    pairs.retain(|(k, _)| k != "client_id");
    pairs.push(("client_id".to_owned(), client.client_id.clone()));
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&pairs)
        .finish();
    let request_uri = format!("{REQUEST_URI_PREFIX}{}", random_b64url(32));
    st.maybe_prune(now);
    st.pushed.insert(
        request_uri.clone(),
        PushedRequest {
            client_id: client.client_id,
            query,
            expires_at: now + PUSHED_LIFETIME,
        },
    );
    Ok(json!({ "request_uri": request_uri, "expires_in": PUSHED_LIFETIME }))
}
