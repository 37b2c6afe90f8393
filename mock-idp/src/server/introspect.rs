//! RFC 7662 token introspection. Callers authenticate as a confidential client: one allowed to
//! introspect (e.g. `RESOURCE_SERVER_CLIENT_ID`) learns about every token, any other about its
//! own tokens only. Scripted tokens get their scripted answer;
//! opaque tokens are looked up; JWT access tokens issued by this issuer are verified
//! (signature, `iss`, `exp`, `nbf`, revocation). Anything else is `{"active": false}`.

use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::cimd::CimdLookup;
use super::client_auth::authenticate;
use super::error::{OAuthError, json_no_store};
use super::params::read_form;
use super::state::{Issuer, IssuerCtx, IssuerState};
use crate::jws::Jws;

/// What the introspection endpoint answers for a scripted token, whatever the token's state:
/// the defective or hostile answers a resource server must survive (spec rs-introspection-*).
/// The caller still authenticates as usual; only the answer is scripted.
#[derive(Debug, Clone, PartialEq)]
pub enum IntrospectionScript {
    /// `200` with exactly this JSON body (e.g. `{"active":false}`, or claims naming another
    /// audience).
    Answer(Value),
    /// This status (4xx/5xx; anything else counts as 500) with an OAuth error body.
    Status(u16),
    /// `200`, `Content-Type: application/json`, and a body that is not JSON.
    Malformed,
    /// The scripted answer, sent only after this delay (a stalled authorization server).
    Delayed(Duration, Box<IntrospectionScript>),
}

/// What one introspection request gets.
enum Answer {
    Json(Value),
    Scripted(IntrospectionScript),
}

pub(crate) async fn introspect(
    State(ctx): State<IssuerCtx>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match handle(&ctx, &headers, body).await {
        Ok(Answer::Json(v)) => json_no_store(StatusCode::OK, &v),
        Ok(Answer::Scripted(script)) => scripted(script).await,
        Err(e) => e.into_response(),
    }
}

/// Plays a script (the state lock is no longer held, so a delay stalls only this answer).
async fn scripted(mut script: IntrospectionScript) -> Response {
    loop {
        match script {
            IntrospectionScript::Delayed(delay, then) => {
                tokio::time::sleep(delay.min(MAX_SCRIPTED_DELAY)).await;
                script = *then;
            }
            IntrospectionScript::Answer(v) => return json_no_store(StatusCode::OK, &v),
            IntrospectionScript::Status(code) => {
                let status = StatusCode::from_u16(code)
                    .ok()
                    .filter(|s| s.is_client_error() || s.is_server_error())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let body = json!({
                    "error": "server_error",
                    "error_description": "scripted introspection failure",
                });
                return json_no_store(status, &body);
            }
            IntrospectionScript::Malformed => {
                let mut resp = (StatusCode::OK, "{\"active\": tru").into_response();
                resp.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                return resp;
            }
        }
    }
}

/// A scripted stall never holds a connection longer than this.
const MAX_SCRIPTED_DELAY: Duration = Duration::from_secs(60);

async fn handle(ctx: &IssuerCtx, headers: &HeaderMap, body: Body) -> Result<Answer, OAuthError> {
    let params = read_form(headers, body, ctx.shared.config.max_body_bytes).await?;
    params.refuse_duplicates(&[])?;
    let st = ctx.issuer().lock();
    // URL clients are public: none may introspect, so none is resolved.
    let client = authenticate(&st, headers, &params, &CimdLookup::default())?;
    if client.is_public() {
        return Err(OAuthError::invalid_client_challenge(
            "introspection requires client authentication",
        ));
    }
    let token = params.required("token")?;
    if client.may_introspect
        && let Some(script) = st.scripted.get(token)
    {
        return Ok(Answer::Scripted(script.clone()));
    }
    let now = ctx.shared.now();
    // A confidential client that is no resource server learns only about its own tokens
    // (RFC 7662 §2.2: inactive for a token the caller may not know about). A token naming no
    // client (minted so only under a fault) is answered as to a resource server.
    let known = lookup(ctx.issuer(), &st, token, now).filter(|claims| {
        let owner = claims.get("client_id").and_then(Value::as_str);
        client.may_introspect || owner.is_none_or(|owner| owner == client.client_id)
    });
    Ok(Answer::Json(match known {
        Some(mut claims) => {
            claims.insert("active".into(), json!(true));
            Value::Object(claims)
        }
        None => json!({ "active": false }),
    }))
}

/// The claims of an active token, `None` if it is unknown, expired, revoked or not ours.
pub(crate) fn lookup(
    issuer: &Issuer,
    st: &IssuerState,
    token: &str,
    now: i64,
) -> Option<Map<String, Value>> {
    if let Some(t) = st.opaque.get(token) {
        return time_valid(&t.claims, now, false).then(|| t.claims.clone());
    }
    let jws = Jws::parse(token).ok()?;
    let signature = super::token::signature_of(token);
    let ours =
        issuer.verifier.verify(&jws).is_ok() || st.unpublished_signatures.contains_key(signature);
    if !ours {
        return None;
    }
    if st.revoked_jtis.contains_key(signature) {
        return None;
    }
    let claims = jws.claims().ok()?.to_map();
    if claims.get("iss").and_then(Value::as_str) != Some(issuer.id.as_str())
        || !time_valid(&claims, now, true)
    {
        return None;
    }
    if let Some(jti) = claims.get("jti").and_then(Value::as_str)
        && st.revoked_jtis.contains_key(jti)
    {
        return None;
    }
    let mut claims = claims;
    let token_type = if claims.contains_key("cnf") {
        "DPoP"
    } else {
        "Bearer"
    };
    claims
        .entry("token_type")
        .or_insert_with(|| json!(token_type));
    Some(claims)
}

/// `exp` in the future (required for JWTs) and `nbf` not in the future.
fn time_valid(claims: &Map<String, Value>, now: i64, exp_required: bool) -> bool {
    let exp_ok = match claims.get("exp") {
        None => !exp_required,
        Some(v) => v.as_i64().is_some_and(|exp| now < exp),
    };
    let nbf_ok = match claims.get("nbf") {
        None => true,
        Some(v) => v.as_i64().is_some_and(|nbf| nbf <= now),
    };
    exp_ok && nbf_ok
}
