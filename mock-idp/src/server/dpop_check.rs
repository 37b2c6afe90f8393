//! DPoP proofs at the token endpoint (RFC 9449 §5, §8, §11.1): validated with `crate::dpop`
//! (`htm` POST, `htu` the token endpoint, no access token; replayed `jti`s refused by the
//! validator's cache), with server nonces demanded when nonce mode is on.

use axum::http::HeaderMap;

use super::error::OAuthError;
use super::state::{IssuerCtx, IssuerState};
use crate::dpop::{DpopValidator, NonceCheck, RequestContext, ValidatorConfig};

/// The validator the token endpoints share.
pub(crate) fn validator() -> DpopValidator {
    DpopValidator::new(ValidatorConfig::default())
}

/// The thumbprint of the proof's key, `None` without a `DPoP` header.
pub(crate) fn check_proof(
    ctx: &IssuerCtx,
    st: &mut IssuerState,
    headers: &HeaderMap,
    now: i64,
) -> Result<Option<String>, OAuthError> {
    let values = headers
        .get_all("dpop")
        .iter()
        .map(|v| v.to_str())
        .collect::<Result<Vec<&str>, _>>()
        .map_err(|_| OAuthError::invalid_dpop_proof("DPoP header is not visible ASCII"))?;
    if values.is_empty() {
        return Ok(None);
    }
    let url = ctx.issuer().endpoint("token");
    let result = {
        let state: &IssuerState = st;
        let nonce_ok = |n: &str| state.nonce_valid(n, now);
        let nonce = if ctx.shared.dpop_nonce_required() {
            NonceCheck::Required(&nonce_ok)
        } else {
            NonceCheck::NotRequired
        };
        let request = RequestContext {
            method: "POST",
            url: &url,
            access_token: None,
            expected_jkt: None,
            nonce,
        };
        ctx.shared.dpop.validate(&values, &request, now)
    };
    match result {
        Ok(proof) => Ok(Some(proof.jkt)),
        Err(e) if e.error_code() == "use_dpop_nonce" => {
            Err(OAuthError::use_dpop_nonce(st.issue_nonce(now)))
        }
        Err(e) => Err(OAuthError::invalid_dpop_proof(e.message())),
    }
}
