//! RFC 8693 token exchange at the token endpoint: the policy of the grant (what may be
//! exchanged, by whom, for what); the token endpoint mints what it decides.
//!
//! The compliant policy, for an MCP server that exchanges the token it received (audience =
//! its resource `R`) for a token to an upstream API `U`:
//!
//! - Only a confidential client registered (or configured) with the grant may exchange
//!   (`unauthorized_client` otherwise): RFC 8693 §2.1 warns that without client
//!   authentication anyone holding a token could launder it through the server.
//! - The subject token is an access token this issuer minted, verified (signature, `iss`,
//!   `exp`, not revoked) and issued for a resource the exchanging client stands for: one of
//!   the client's [`Client::resources`]. A resource server's client is registered with the
//!   `resource` identifier its protected resource metadata publishes (RFC 9728 §2), so only
//!   the server a token was issued for can exchange it (Keycloak's rule, "the subject token's
//!   audience must contain the requesting client", with the resource standing for the client).
//!   Any failure is `invalid_request` (RFC 8693 §2.2.2).
//! - Actor tokens (delegation chains) are refused with `invalid_request`: the mock records the
//!   exchanging client as the actor (`act`, RFC 8693 §4.1) and takes no other.
//! - The target (`resource` and `audience`, each an absolute URI the server knows) is required;
//!   an unknown one is `invalid_target`. The issued token's `aud` is exactly the target.
//! - `scope` is at most the subject token's (`invalid_scope` beyond it); omitted, the subject
//!   token's scope is kept.

use serde_json::{Map, Value};

use super::AsFault;
use super::clients::Client;
use super::error::OAuthError;
use super::introspect::lookup;
use super::params::Params;
use super::policy::{check_resources, grant_scope, narrow_scope};
use super::state::{Issuer, IssuerState, Shared};

/// The grant type (RFC 8693 §2.1).
pub const TOKEN_EXCHANGE_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// Token type identifiers (RFC 8693 §3) the exchange takes and issues.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
pub const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";

/// What an accepted exchange issues.
pub(crate) struct Exchange {
    /// `sub` of the subject token, kept.
    pub subject: String,
    pub scope: String,
    /// The issued token's audience.
    pub resources: Vec<String>,
    /// `issued_token_type` (RFC 8693 §2.2.1).
    pub issued_token_type: &'static str,
}

/// Decides an exchange by `client`: what to issue, or the refusal.
pub(crate) fn decide(
    shared: &Shared,
    issuer: &Issuer,
    st: &IssuerState,
    client: &Client,
    params: &Params,
    now: i64,
) -> Result<Exchange, OAuthError> {
    let faults = &shared.config.faults;
    if client.is_public() {
        return Err(OAuthError::unauthorized_client(
            "token exchange is for confidential clients only",
        ));
    }
    if params.get("actor_token").is_some() || params.get("actor_token_type").is_some() {
        return Err(OAuthError::invalid_request(
            "actor tokens are not supported: the exchanging client is the actor",
        ));
    }
    let subject_token = params.required("subject_token")?;
    match params.required("subject_token_type")? {
        ACCESS_TOKEN_TYPE | JWT_TOKEN_TYPE => {}
        other => {
            return Err(OAuthError::invalid_request(format!(
                "subject_token_type {other} is not supported (access_token or jwt)"
            )));
        }
    }
    let issued_token_type = match params.get("requested_token_type") {
        None | Some(ACCESS_TOKEN_TYPE) => ACCESS_TOKEN_TYPE,
        Some(JWT_TOKEN_TYPE) => JWT_TOKEN_TYPE,
        Some(other) => {
            return Err(OAuthError::invalid_request(format!(
                "requested_token_type {other} is not issued (access_token or jwt)"
            )));
        }
    };
    let claims = if faults.contains(&AsFault::ExchangeSubjectUnverified) {
        unverified_claims(subject_token)
    } else {
        lookup(issuer, st, subject_token, now)
    }
    .ok_or_else(|| {
        OAuthError::invalid_request(
            "subject_token is not a valid, unexpired access token of this issuer",
        )
    })?;
    let subject_audience = strings(claims.get("aud"));
    let stands_for = subject_audience
        .iter()
        .any(|a| client.resources.contains(a));
    if !stands_for && !faults.contains(&AsFault::ExchangeForeignSubject) {
        return Err(OAuthError::invalid_request(
            "subject_token was not issued for a resource this client stands for",
        ));
    }
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .ok_or_else(|| OAuthError::invalid_request("subject_token has no sub"))?
        .to_owned();
    let targets = check_resources(
        &shared.config,
        params.all("resource").chain(params.all("audience")),
    )?;
    if targets.is_empty() {
        return Err(OAuthError::invalid_request(
            "name the token's target with resource or audience",
        ));
    }
    let subject_scope = claims
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let scope = match params.get("scope") {
        Some(wider) if faults.contains(&AsFault::ExchangeScopeWidened) => {
            grant_scope(shared, client, Some(wider))?
        }
        requested => narrow_scope(subject_scope, requested)?,
    };
    let mut resources = targets;
    if faults.contains(&AsFault::ExchangeAudienceWidened) {
        for a in subject_audience {
            if !resources.contains(&a) {
                resources.push(a);
            }
        }
    }
    Ok(Exchange {
        subject,
        scope,
        resources,
        issued_token_type,
    })
}

/// The claims of a JWT, signature, issuer and lifetime unchecked (the unverified fault).
fn unverified_claims(token: &str) -> Option<Map<String, Value>> {
    let jws = crate::jws::Jws::parse(token).ok()?;
    Some(jws.claims().ok()?.to_map())
}

/// A string or an array of strings, as a list.
fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}
