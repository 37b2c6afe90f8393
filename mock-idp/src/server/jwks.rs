//! The JWK Set endpoint: public keys only, each with `kid`, `alg` and `use: sig`: the ring's
//! keys, then any key published beside them (a rotated-in key). Every request is counted.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::AsFault;
use super::state::{Issuer, IssuerCtx};
use crate::keys::SigningKey;

/// The issuer's public JWK Set. The other-tenant issuer publishes the trusted ring.
pub(crate) fn document(issuer: &Issuer) -> Value {
    let mut set = issuer.ring.jwks();
    set.keys
        .extend(issuer.lock().published.iter().map(SigningKey::public_jwk));
    set.keys = set.keys.iter().map(|k| k.to_public()).collect();
    set.to_json()
}

pub(crate) async fn serve(State(ctx): State<IssuerCtx>) -> Response {
    ctx.issuer().jwks_requests.fetch_add(1, Ordering::SeqCst);
    let document = if ctx.shared.config.faults.contains(&AsFault::JwksPrivateKey) {
        // The fault: the ring's keys with their private members.
        let keys: Vec<Value> = ctx
            .issuer()
            .ring
            .keys()
            .iter()
            .map(SigningKey::private_jwk)
            .collect();
        serde_json::json!({ "keys": keys })
    } else {
        document(ctx.issuer())
    };
    let mut resp = (StatusCode::OK, axum::Json(document)).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    resp
}
