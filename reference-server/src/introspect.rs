//! Opaque tokens: RFC 7662 introspection with client credentials. Fails closed: when the
//! endpoint cannot answer, the request gets 503, never acceptance.

use serde_json::{Map, Value};

use crate::config::IntrospectionConfig;
use crate::credentials::{AuthFailure, Principal};
use crate::fault::Fault;
use crate::jwks::fetch_json;
use crate::jwt::{audience_matches, parse_scopes};
use crate::server::Shared;

/// Asks the authorization server about `token` and checks its answer like a JWT's claims:
/// `active: true`, `aud` naming this resource, `iss` (when given) the trusted issuer, `exp`
/// and `nbf` (when given) current, a subject, and no sender constraint.
pub async fn validate(
    shared: &Shared,
    cfg: &IntrospectionConfig,
    token: &str,
) -> Result<Principal, AuthFailure> {
    // Not sent on: an authorization server may refuse so large a request (oidc-provider answers
    // 413), which would read as the endpoint failing rather than as a bad token.
    if token.len() > MAX_TOKEN_BYTES {
        return Err(AuthFailure::invalid("token too long to introspect"));
    }
    // `introspection-cache-prefix`: the answer cached under the token's first characters.
    let cache_key = shared
        .has(Fault::IntrospectionCachePrefix)
        .then(|| token.chars().take(CACHE_PREFIX_CHARS).collect::<String>());
    let cache = || {
        shared
            .introspection_cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    };
    if let Some(answer) = cache_key.as_ref().and_then(|k| cache().get(k).cloned()) {
        return judge(shared, token, answer);
    }
    let req = shared
        .http
        .post(&cfg.endpoint)
        .basic_auth(&cfg.client_id, Some(&cfg.client_secret))
        .header("accept", "application/json")
        .form(&[("token", token), ("token_type_hint", "access_token")])
        .timeout(cfg.timeout);
    let answer = match fetch_json(req).await {
        Ok(Value::Object(map)) => map,
        Ok(_) => {
            return unavailable(
                shared,
                token,
                "introspection answer is not an object".into(),
            );
        }
        Err(e) => return unavailable(shared, token, format!("introspection failed: {e}")),
    };
    if let Some(key) = cache_key
        && answer.get("active") == Some(&Value::Bool(true))
    {
        cache().insert(key, answer.clone());
    }
    judge(shared, token, answer)
}

/// The longest token sent to the introspection endpoint (Node's default request-head limit).
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// How many leading characters of a token key the `introspection-cache-prefix` cache.
const CACHE_PREFIX_CHARS: usize = 16;

/// Checks an introspection answer about `token` like a JWT's claims.
fn judge(
    shared: &Shared,
    token: &str,
    answer: Map<String, Value>,
) -> Result<Principal, AuthFailure> {
    let lax = shared.has(Fault::AcceptInactive);
    if !lax && answer.get("active") != Some(&Value::Bool(true)) {
        return Err(AuthFailure::invalid("token is not active"));
    }
    let now = mock_idp::unix_now();
    let leeway = shared.config.leeway_secs;
    let number = |name: &str| answer.get(name).and_then(Value::as_i64);
    if let Some(exp) = number("exp")
        && now >= exp + leeway
        && !shared.has(Fault::AcceptExpired)
    {
        return Err(AuthFailure::invalid(crate::jwt::TOKEN_EXPIRED));
    }
    if let Some(nbf) = number("nbf")
        && nbf > now + leeway
        && !shared.has(Fault::IgnoreNbf)
    {
        return Err(AuthFailure::invalid("token not yet valid"));
    }
    if let Some(iss) = answer.get("iss")
        && iss.as_str() != Some(shared.config.issuer.as_str())
        && !shared.has(Fault::IgnoreIss)
    {
        return Err(AuthFailure::invalid("iss is not the trusted issuer"));
    }
    if !shared.has(Fault::IgnoreAud) {
        let auds: Vec<&str> = match answer.get("aud") {
            Some(Value::String(a)) => vec![a.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let absent_ok = lax && !answer.contains_key("aud");
        if !absent_ok && !auds.iter().any(|a| audience_matches(shared, a)) {
            return Err(AuthFailure::invalid("aud does not name this resource"));
        }
    }
    if answer.contains_key("cnf")
        || answer
            .get("token_type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("DPoP"))
    {
        return Err(AuthFailure::invalid(
            "sender-constrained token presented as Bearer",
        ));
    }
    let subject = ["sub", "client_id"]
        .iter()
        .find_map(|n| answer.get(*n).and_then(Value::as_str))
        .map(str::to_owned)
        .or_else(|| lax.then(|| "unknown".to_owned()));
    let Some(subject) = subject else {
        return Err(AuthFailure::invalid("no subject"));
    };
    let scope = answer.get("scope").and_then(Value::as_str);
    Ok(Principal {
        subject,
        scopes: parse_scopes(shared, scope),
        token: Some(token.to_owned()),
    })
}

fn unavailable(shared: &Shared, token: &str, why: String) -> Result<Principal, AuthFailure> {
    if shared.has(Fault::IntrospectionFailOpen) {
        return Ok(Principal {
            subject: "unknown".into(),
            scopes: [shared.config.base_scope.clone()].into(),
            token: Some(token.to_owned()),
        });
    }
    Err(AuthFailure::Unavailable(why))
}
