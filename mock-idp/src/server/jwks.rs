//! The JWK Set endpoint: public keys only, each with `kid`, `alg` and `use: sig`.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::state::{Issuer, IssuerCtx};

/// The issuer's public JWK Set. The other-tenant issuer publishes the trusted ring.
pub(crate) fn document(issuer: &Issuer) -> Value {
    let mut set = issuer.ring.jwks();
    set.keys = set.keys.iter().map(|k| k.to_public()).collect();
    set.to_json()
}

pub(crate) async fn serve(State(ctx): State<IssuerCtx>) -> Response {
    let mut resp = (StatusCode::OK, axum::Json(document(ctx.issuer()))).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    resp
}
