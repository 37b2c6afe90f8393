//! Token validation of the compliant protected resource, with each fault's one deviation.

use std::collections::{BTreeSet, HashMap};

use axum::http::HeaderMap;
use mock_idp::alg::Algorithm;
use mock_idp::json::JsonObject;
use mock_idp::jwk::Jwk;
use mock_idp::jws::{Jws, Verifier};
use mock_idp::keys::{SigningKey, VerifyingKey};
use serde_json::Value;

use crate::fault::Fault;
use crate::server::Shared;

/// Who a valid token speaks for.
#[derive(Debug, Clone)]
pub struct Principal {
    pub subject: String,
    pub scopes: BTreeSet<String>,
}

/// Why a request is not authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// No usable credentials: 401 with the bare challenge.
    NoToken,
    /// A malformed request (two Authorization fields, empty credential): 400 invalid_request.
    Malformed(&'static str),
    /// A bad token: 401 invalid_token.
    Invalid(String),
    /// The server broke (the `error-500-on-garbage` fault only).
    Crash,
}

const ALLOWED: [Algorithm; 5] = [
    Algorithm::Es256,
    Algorithm::Es384,
    Algorithm::Rs256,
    Algorithm::Ps256,
    Algorithm::EdDsa,
];

/// Takes the token from the request as RFC 6750 §2.1 says (header only).
pub fn bearer_token(
    shared: &Shared,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<String, AuthFailure> {
    let values: Vec<_> = headers.get_all("authorization").iter().collect();
    let values = if shared.has(Fault::FirstAuthorizationWins) {
        values.into_iter().take(1).collect()
    } else {
        values
    };
    match values.as_slice() {
        [] => {
            if shared.has(Fault::AcceptQueryToken)
                && let Some(t) = query.get("access_token")
            {
                return Ok(t.clone());
            }
            Err(AuthFailure::NoToken)
        }
        [one] => {
            let text = one
                .to_str()
                .map_err(|_| AuthFailure::Malformed("Authorization is not ASCII"))?;
            let (scheme, rest) = text.split_once(' ').unwrap_or((text, ""));
            let scheme_ok = if shared.has(Fault::CaseSensitiveScheme) {
                scheme == "Bearer"
            } else {
                scheme.eq_ignore_ascii_case("bearer")
            };
            if !scheme_ok {
                // An unsupported scheme counts as no usable credentials (OAuth 2.1 §5.3.2).
                return Err(AuthFailure::NoToken);
            }
            let token = rest.trim_start_matches(' ');
            if token.is_empty() || token.contains([' ', ',', '"']) {
                return Err(AuthFailure::Malformed(
                    "Bearer credential is not a single b64token",
                ));
            }
            Ok(token.to_owned())
        }
        _ => Err(AuthFailure::Malformed(
            "more than one Authorization header field",
        )),
    }
}

/// Validates a JWT access token (RFC 9068 §4).
pub async fn validate(shared: &Shared, token: &str) -> Result<Principal, AuthFailure> {
    let invalid = |why: &str| AuthFailure::Invalid(why.to_owned());
    if shared.has(Fault::RejectEverything) {
        return Err(invalid("token refused"));
    }
    let jws = match Jws::parse(token) {
        Ok(j) => j,
        Err(_) if shared.has(Fault::Error500OnGarbage) => return Err(AuthFailure::Crash),
        Err(e) => return Err(AuthFailure::Invalid(format!("malformed token: {e}"))),
    };
    let header = jws.header();
    if !shared.has(Fault::IgnoreTyp) {
        let typ_ok = jws.typ().is_some_and(|t| {
            t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
        });
        if !typ_ok {
            return Err(invalid("typ must be at+jwt"));
        }
    }
    verify_signature(shared, &jws, header).await?;
    let claims = jws
        .claims()
        .map_err(|e| AuthFailure::Invalid(format!("claims: {e}")))?;
    check_claims(shared, &claims)
}

async fn verify_signature(
    shared: &Shared,
    jws: &Jws,
    header: &JsonObject,
) -> Result<(), AuthFailure> {
    let alg = jws.alg().unwrap_or_default();
    if shared.has(Fault::SkipSignature)
        || (shared.has(Fault::AcceptAlgNone) && alg.eq_ignore_ascii_case("none"))
    {
        return Ok(());
    }
    let keys = shared.jwks.keys_for(jws.kid()).await;
    if shared.has(Fault::Hs256PublicKey) && alg == "HS256" {
        // The classic confusion: the verification "key" bytes of an RSA/EC key fed to HMAC.
        let ok = keys.iter().any(|k| {
            let secret = k.to_public().to_json().to_string();
            SigningKey::hmac(secret.as_bytes())
                .verifying_key()
                .verify(
                    Algorithm::Hs256,
                    jws.signing_input(),
                    jws.signature(),
                    false,
                )
                .is_ok()
        });
        return ok
            .then_some(())
            .ok_or_else(|| AuthFailure::Invalid("bad signature".into()));
    }
    if shared.has(Fault::TrustEmbeddedJwk)
        && let Some(embedded) = header.get("jwk")
    {
        let ok = Jwk::from_json(embedded)
            .ok()
            .and_then(|j| VerifyingKey::from_jwk(&j.to_public()).ok())
            .zip(Algorithm::from_name(alg))
            .is_some_and(|(k, a)| {
                k.verify(a, jws.signing_input(), jws.signature(), false)
                    .is_ok()
            });
        return ok
            .then_some(())
            .ok_or_else(|| AuthFailure::Invalid("bad signature".into()));
    }
    let verifier = Verifier::new(&ALLOWED)
        .with_keys(keys.iter().filter_map(|k| VerifyingKey::from_jwk(k).ok()));
    verifier
        .verify(jws)
        .map(|_| ())
        .map_err(|e| AuthFailure::Invalid(format!("signature: {e}")))
}

fn numeric(claims: &JsonObject, name: &str) -> Result<Option<i64>, AuthFailure> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| AuthFailure::Invalid(format!("{name} is out of range"))),
        Some(_) => Err(AuthFailure::Invalid(format!("{name} is not a NumericDate"))),
    }
}

fn check_claims(shared: &Shared, claims: &JsonObject) -> Result<Principal, AuthFailure> {
    let invalid = |why: &str| Err(AuthFailure::Invalid(why.to_owned()));
    let now = mock_idp::unix_now();
    let leeway = shared.config.leeway_secs;
    match numeric(claims, "exp")? {
        None if !shared.has(Fault::AcceptNoExp) => return invalid("exp is required"),
        Some(exp) if exp + leeway < now && !shared.has(Fault::AcceptExpired) => {
            return invalid("token expired");
        }
        _ => {}
    }
    if let Some(nbf) = numeric(claims, "nbf")?
        && nbf - leeway > now
        && !shared.has(Fault::IgnoreNbf)
    {
        return invalid("token not yet valid");
    }
    if let Some(iat) = numeric(claims, "iat")?
        && iat - leeway > now
    {
        return invalid("token issued in the future");
    }
    if !shared.has(Fault::IgnoreIss) && claims.get_str("iss") != Some(shared.config.issuer.as_str())
    {
        return invalid("iss is not the trusted issuer");
    }
    if !shared.has(Fault::IgnoreAud) {
        let resource = shared.resource.as_str();
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => a == resource,
            Some(Value::Array(items)) => items.iter().any(|a| a == resource),
            _ => false,
        };
        if !aud_ok {
            return invalid("aud does not name this resource");
        }
    }
    let Some(subject) = claims.get_str("sub") else {
        return invalid("sub is required");
    };
    let scopes = match claims.get("scope") {
        None => BTreeSet::new(),
        Some(Value::String(s)) => s
            .split(' ')
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect(),
        Some(_) => return invalid("scope is not a string"),
    };
    Ok(Principal {
        subject: subject.to_owned(),
        scopes,
    })
}
