//! DPoP proofs at the token endpoint and the PAR endpoint (RFC 9449 §5, §8, §10.1, §11.1):
//! validated with `crate::dpop` (`htm` POST, `htu` the endpoint, no access token; replayed `jti`s refused by the
//! validator's cache), with server nonces demanded when nonce mode is on.

use axum::http::HeaderMap;

use std::collections::BTreeSet;

use super::AsFault;
use super::error::OAuthError;
use super::state::{IssuerCtx, IssuerState};
use crate::dpop::{DpopValidator, NonceCheck, RequestContext, SkippedCheck, ValidatorConfig};

/// The validator the token endpoints share, with the defects the faults give it.
pub(crate) fn validator(faults: &BTreeSet<AsFault>) -> DpopValidator {
    let mut config = ValidatorConfig::default();
    if faults.contains(&AsFault::DpopSignatureUnchecked) {
        config.skipped.push(SkippedCheck::Signature);
    }
    if faults.contains(&AsFault::DpopReplayAccepted) {
        config.replay_capacity = 0;
    }
    if faults.contains(&AsFault::DpopIatStrict) {
        config.iat_past_secs = 5;
        config.iat_future_secs = 0;
    }
    DpopValidator::new(config)
}

/// The thumbprint of the proof's key, `None` without a `DPoP` header. `endpoint` is the path
/// below the issuer the request was sent to (`token`, `par`).
pub(crate) fn check_proof(
    ctx: &IssuerCtx,
    st: &mut IssuerState,
    headers: &HeaderMap,
    endpoint: &str,
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
    // The token endpoint as the metadata names it: the URL clients put in htu.
    let mut url = ctx.issuer().endpoint(endpoint);
    if endpoint == "token"
        && ctx
            .shared
            .config
            .faults
            .contains(&AsFault::TokenEndpointPlainHttp)
    {
        url = super::metadata::bind_address(&ctx.shared, &url);
    }
    let result = {
        let state: &IssuerState = st;
        let any_nonce = ctx
            .shared
            .config
            .faults
            .contains(&AsFault::DpopNonceValueUnchecked);
        let nonce_ok = |n: &str| any_nonce || state.nonce_valid(n, now);
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
        Ok(proof)
            if proof.ath.is_some()
                && ctx.shared.config.faults.contains(&AsFault::DpopAthRefused) =>
        {
            Err(OAuthError::invalid_dpop_proof(
                "a token-endpoint proof must not carry ath",
            ))
        }
        Ok(proof) => Ok(Some(proof.jkt)),
        Err(e) if e.error_code() == "use_dpop_nonce" => {
            Err(OAuthError::use_dpop_nonce(st.issue_nonce(now)))
        }
        Err(e) => Err(OAuthError::invalid_dpop_proof(e.message())),
    }
}
