//! The token endpoint (OAuth 2.1 §3.2): `client_credentials`, `authorization_code` with PKCE
//! S256, `refresh_token` with rotation, the RFC 8628 device code (polled), RFC 8693 token
//! exchange (its policy in [`super::exchange`]); RFC 8707
//! `resource` → `aud`; DPoP binding (RFC 9449 §5) with optional nonces. Access tokens are
//! RFC 9068 JWTs (or opaque handles for clients configured so).
//!
//! Checks run in this order, so a DPoP nonce challenge never burns a code or counts as a
//! poll: body and parameters, grant type, client authentication, DPoP proof, then the grant.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::AsFault;
use super::cimd::CimdLookup;
use super::client_auth::authenticate;
use super::clients::{Client, DEVICE_CODE_GRANT_TYPE, GRANT_TYPES, TokenFormat};
use super::dpop_check::check_proof;
use super::error::{OAuthError, json_answer};
use super::exchange::TOKEN_EXCHANGE_GRANT_TYPE;
use super::params::{Params, is_pkce_string, read_form};
use super::policy::{
    audience, check_resources, grant_scope, narrow_resources, narrow_scope, resources_within_grant,
};
use super::state::{IssuerCtx, IssuerState, RefreshGrant};
use crate::jwk::pkce_s256;
use crate::random_b64url;
use crate::token::TokenSpec;

pub(crate) async fn token(
    State(ctx): State<IssuerCtx>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let faults = &ctx.shared.config.faults;
    let answer = if faults.contains(&AsFault::RejectEverything) {
        Err(OAuthError::invalid_request(
            super::authorize::REFUSES_EVERYTHING,
        ))
    } else {
        handle(&ctx, &headers, body).await
    };
    let misshaped = match &answer {
        Ok(_) => faults.contains(&AsFault::TokenSuccessShape),
        Err(_) => faults.contains(&AsFault::TokenErrorShape),
    };
    let mut resp = json_answer(StatusCode::OK, answer);
    if misshaped {
        let h = resp.headers_mut();
        h.remove(header::CACHE_CONTROL);
        h.remove(header::PRAGMA);
        if faults.contains(&AsFault::TokenErrorShape) && resp.status() != StatusCode::OK {
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
        }
    }
    resp
}

/// The request parameters and answer members that are credentials.
const SECRET_PARAMETERS: [&str; 8] = [
    "client_secret",
    "subject_token",
    "actor_token",
    "client_assertion",
    "code",
    "code_verifier",
    "refresh_token",
    "device_code",
];
const SECRET_ANSWERS: [&str; 2] = ["access_token", "refresh_token"];

async fn handle(ctx: &IssuerCtx, headers: &HeaderMap, body: Body) -> Result<Value, OAuthError> {
    let shared = &ctx.shared;
    let params = read_form(headers, body, shared.config.max_body_bytes).await?;
    shared.record_exchanged(SECRET_PARAMETERS.iter().flat_map(|n| params.all(n)));
    let cimd = CimdLookup::resolve(shared, params.get("client_id")).await;
    let answer = grant(ctx, headers, &params, &cimd);
    if let Ok(body) = &answer {
        shared.record_exchanged(SECRET_ANSWERS.iter().filter_map(|n| body[n].as_str()));
    }
    answer
}

fn grant(
    ctx: &IssuerCtx,
    headers: &HeaderMap,
    params: &Params,
    cimd: &CimdLookup,
) -> Result<Value, OAuthError> {
    let shared = &ctx.shared;
    let faults = &shared.config.faults;
    if !faults.contains(&AsFault::TokenDuplicateParamsAccepted) {
        // RFC 8707 §2 and RFC 8693 §2.1 let a request name several targets.
        params.refuse_duplicates(&["resource", "audience"])?;
    }
    let grant_type = params.required("grant_type")?;
    let password = grant_type == "password" && faults.contains(&AsFault::TokenPasswordGrant);
    if !GRANT_TYPES.contains(&grant_type) && !password {
        return Err(OAuthError::unsupported_grant_type(format!(
            "grant_type {grant_type} is not supported"
        )));
    }
    let now = shared.now();
    let mut st = ctx.issuer().lock();
    let client = authenticate(&st, headers, params, cimd).map_err(|e| {
        if e.basic_challenge && faults.contains(&AsFault::TokenInvalidClient400) {
            OAuthError::invalid_client(e.description)
        } else {
            e
        }
    })?;
    if !client.allows_grant(grant_type) && !password {
        return Err(OAuthError::unauthorized_client(format!(
            "client may not use grant_type {grant_type}"
        )));
    }
    let jkt = check_proof(ctx, &mut st, headers, "token", now)?;
    if client.dpop_bound_access_tokens
        && jkt.is_none()
        && !faults.contains(&AsFault::DpopBoundClientUnenforced)
    {
        return Err(OAuthError::invalid_dpop_proof(
            "client is registered with dpop_bound_access_tokens: a DPoP proof is required",
        ));
    }
    let req = Request {
        ctx,
        client: &client,
        params,
        jkt: jkt.as_deref(),
        now,
    };
    match grant_type {
        "client_credentials" => req.client_credentials(&mut st),
        "authorization_code" => req.authorization_code(&mut st),
        DEVICE_CODE_GRANT_TYPE => req.device_code(&mut st),
        "password" => req.password(&mut st),
        TOKEN_EXCHANGE_GRANT_TYPE => req.token_exchange(&mut st),
        _ => req.refresh_token(&mut st),
    }
}

/// One authenticated token request.
struct Request<'a> {
    ctx: &'a IssuerCtx,
    client: &'a Client,
    params: &'a Params,
    /// Thumbprint of the validated DPoP proof's key.
    jkt: Option<&'a str>,
    now: i64,
}

/// What to issue.
struct Issue<'a> {
    subject: &'a str,
    scope: &'a str,
    resources: &'a [String],
    family: u64,
    /// `Some(scope)` to issue a refresh token carrying that scope.
    refresh_scope: Option<&'a str>,
    refresh_jkt: Option<&'a str>,
    /// RFC 8693: the actor (`act.sub`, §4.1) and the `issued_token_type` (§2.2.1) of an
    /// exchanged token.
    exchanged: Option<Exchanged<'a>>,
}

/// How an exchanged token differs from a granted one.
#[derive(Clone, Copy)]
struct Exchanged<'a> {
    actor: &'a str,
    issued_token_type: &'a str,
}

impl Request<'_> {
    fn client_credentials(&self, st: &mut IssuerState) -> Result<Value, OAuthError> {
        if self.client.is_public() {
            return Err(OAuthError::unauthorized_client(
                "public clients cannot use client_credentials",
            ));
        }
        let subject = if self
            .ctx
            .shared
            .config
            .faults
            .contains(&AsFault::ClientCredentialsUserSub)
        {
            self.ctx.shared.config.subject.clone()
        } else {
            self.client.client_id.clone()
        };
        self.issue_requested(st, &subject)
    }

    /// Tokens for `subject` with the scope and resources the request names, no refresh token
    /// (a grant without a user's approval: client credentials, the password grant).
    fn issue_requested(&self, st: &mut IssuerState, subject: &str) -> Result<Value, OAuthError> {
        let config = &self.ctx.shared.config;
        let scope = grant_scope(&self.ctx.shared, self.client, self.params.get("scope"))?;
        let resources = check_resources(config, self.params.all("resource"))?;
        let family = st.new_family();
        Ok(self.issue(
            st,
            Issue {
                subject,
                scope: &scope,
                resources: &resources,
                family,
                refresh_scope: None,
                refresh_jkt: None,
                exchanged: None,
            },
        ))
    }

    fn authorization_code(&self, st: &mut IssuerState) -> Result<Value, OAuthError> {
        let config = &self.ctx.shared.config;
        let code = self.params.required("code")?;
        let grant =
            st.codes.get(code).cloned().ok_or_else(|| {
                OAuthError::invalid_grant("unknown or expired authorization code")
            })?;
        let faults = &self.ctx.shared.config.faults;
        if let Some(family) = grant.redeemed
            && !faults.contains(&AsFault::TokenCodeReuse)
        {
            if faults.contains(&AsFault::CodeReuseKeepsTokens) {
                return Err(OAuthError::invalid_grant("authorization code already used"));
            }
            st.revoke_family(family);
            return Err(OAuthError::invalid_grant(
                "authorization code already used; the tokens issued with it are revoked",
            ));
        }
        if self.now >= grant.expires_at {
            return Err(OAuthError::invalid_grant("authorization code expired"));
        }
        if grant.client_id != self.client.client_id
            && !self
                .ctx
                .shared
                .config
                .faults
                .contains(&AsFault::CodeClientUnbound)
        {
            return Err(OAuthError::invalid_grant(
                "authorization code was issued to another client",
            ));
        }
        match self.params.get("redirect_uri") {
            Some(r) if r == grant.redirect_uri => {}
            Some(_) if faults.contains(&AsFault::TokenRedirectUnchecked) => {}
            Some(_) => {
                return Err(OAuthError::invalid_grant(
                    "redirect_uri differs from the authorization request",
                ));
            }
            None if grant.redirect_uri_explicit => {
                return Err(OAuthError::invalid_grant(
                    "redirect_uri is required: the authorization request named one",
                ));
            }
            None => {}
        }
        let without_challenge = grant.code_challenge.is_empty();
        let verifier = match self.params.get("code_verifier") {
            // RFC 9700 §4.8.2: a verifier for a code issued without a challenge is a PKCE
            // downgrade (an attacker stripped the challenge from the authorization request).
            Some(_) if without_challenge && !faults.contains(&AsFault::TokenPkceDowngrade) => {
                return Err(OAuthError::invalid_grant(
                    "code_verifier sent for a code issued without code_challenge",
                ));
            }
            Some(v) => v,
            None if without_challenge || faults.contains(&AsFault::TokenPkceVerifierOptional) => "",
            None => return Err(OAuthError::invalid_grant("code_verifier is required")),
        };
        if !verifier.is_empty() && !is_pkce_string(verifier) {
            return Err(OAuthError::invalid_grant(
                "code_verifier must be 43 to 128 unreserved characters",
            ));
        }
        let unchecked = verifier.is_empty()
            || without_challenge
            || faults.contains(&AsFault::TokenPkceVerifierUnchecked);
        if !unchecked && pkce_s256(verifier) != grant.code_challenge {
            return Err(OAuthError::invalid_grant(
                "code_verifier does not match the code_challenge",
            ));
        }
        let jkt_ignored = faults.contains(&AsFault::DpopJktIgnored);
        if let Some(bound) = grant.dpop_jkt.as_ref().filter(|_| !jkt_ignored) {
            match self.jkt {
                None => {
                    return Err(OAuthError::invalid_dpop_proof(
                        "the code is bound to a DPoP key (dpop_jkt): a proof is required",
                    ));
                }
                Some(jkt) if jkt != bound => {
                    return Err(OAuthError::invalid_grant(
                        "DPoP proof key differs from the dpop_jkt of the authorization request",
                    ));
                }
                Some(_) => {}
            }
        }
        let requested = check_resources(config, self.params.all("resource"))?;
        let resources = if faults.contains(&AsFault::TokenResourceUnbound) && !requested.is_empty()
        {
            requested
        } else {
            resources_within_grant(&grant.resources, requested)?
        };
        let family = st.new_family();
        if let Some(g) = st.codes.get_mut(code) {
            g.redeemed = Some(family);
            g.expires_at = self.tokens_outlived();
        }
        Ok(self.issue_user_grant(st, family, &grant.subject, &grant.scope, &resources))
    }

    /// RFC 8628 §3.4: one poll. A used device code is refused and its tokens revoked, as for
    /// a reused authorization code.
    fn device_code(&self, st: &mut IssuerState) -> Result<Value, OAuthError> {
        let config = &self.ctx.shared.config;
        let device_code = self.params.required("device_code")?;
        if let Some(family) = st.devices.redeemed_family(device_code) {
            st.revoke_family(family);
            return Err(OAuthError::invalid_grant(
                "device_code already used; the tokens issued with it are revoked",
            ));
        }
        // Checked before the poll, so a malformed request does not count as one.
        let requested = check_resources(config, self.params.all("resource"))?;
        let approved = st.devices.poll(
            device_code,
            &self.client.client_id,
            self.ctx.shared.now_millis(),
            &config.device,
        )?;
        let resources = resources_within_grant(&approved.resources, requested)?;
        let family = st.new_family();
        st.devices
            .redeem(device_code, family, self.tokens_outlived());
        Ok(self.issue_user_grant(st, family, &approved.subject, &approved.scope, &resources))
    }

    /// The removed resource owner password grant, issued only under
    /// [`AsFault::TokenPasswordGrant`] (any username and password).
    fn password(&self, st: &mut IssuerState) -> Result<Value, OAuthError> {
        let subject = self.params.required("username")?;
        self.params.required("password")?;
        self.issue_requested(st, subject)
    }

    /// Until when a redeemed grant is remembered: as long as its tokens live, to revoke them
    /// on reuse.
    fn tokens_outlived(&self) -> i64 {
        let config = &self.ctx.shared.config;
        self.now
            + config
                .refresh_token_lifetime
                .max(config.access_token_lifetime)
    }

    /// The tokens of a grant the user approved, with a refresh token if the client may
    /// refresh.
    fn issue_user_grant(
        &self,
        st: &mut IssuerState,
        family: u64,
        subject: &str,
        scope: &str,
        resources: &[String],
    ) -> Value {
        let refresh = self.client.allows_grant("refresh_token");
        self.issue(
            st,
            Issue {
                subject,
                scope,
                resources,
                family,
                refresh_scope: refresh.then_some(scope),
                refresh_jkt: self.refresh_binding(None),
                exchanged: None,
            },
        )
    }

    fn refresh_token(&self, st: &mut IssuerState) -> Result<Value, OAuthError> {
        let config = &self.ctx.shared.config;
        let token = self.params.required("refresh_token")?;
        let grant = st
            .refresh_tokens
            .get(token)
            .cloned()
            .ok_or_else(|| OAuthError::invalid_grant("unknown or expired refresh token"))?;
        if grant.client_id != self.client.client_id
            && !config.faults.contains(&AsFault::RefreshClientUnbound)
        {
            return Err(OAuthError::invalid_grant(
                "refresh token was issued to another client",
            ));
        }
        let reuse_allowed = self
            .ctx
            .shared
            .config
            .faults
            .contains(&AsFault::RefreshNoRotation);
        if (grant.used && !reuse_allowed) || st.family_revoked(grant.family) {
            if !config.faults.contains(&AsFault::RefreshReuseKeepsFamily) {
                st.revoke_family(grant.family);
            }
            return Err(OAuthError::invalid_grant(
                "refresh token already used or revoked; its token family is revoked",
            ));
        }
        if self.now >= grant.expires_at {
            return Err(OAuthError::invalid_grant("refresh token expired"));
        }
        if let Some(bound) = &grant.jkt {
            match self.jkt {
                None => {
                    return Err(OAuthError::invalid_dpop_proof(
                        "refresh token is DPoP-bound: a proof with its key is required",
                    ));
                }
                Some(jkt) if jkt != bound => {
                    return Err(OAuthError::invalid_grant(
                        "refresh token is bound to another DPoP key",
                    ));
                }
                Some(_) => {}
            }
        }
        let scope = if config.faults.contains(&AsFault::RefreshScopeWidened) {
            grant_scope(&self.ctx.shared, self.client, self.params.get("scope"))?
        } else {
            narrow_scope(&grant.scope, self.params.get("scope"))?
        };
        let requested = check_resources(config, self.params.all("resource"))?;
        let resources =
            if config.faults.contains(&AsFault::RefreshResourceUnbound) && !requested.is_empty() {
                requested
            } else {
                narrow_resources(&grant.resources, requested)?
            };
        if let Some(g) = st.refresh_tokens.get_mut(token) {
            g.used = true;
        }
        Ok(self.issue(
            st,
            Issue {
                subject: &grant.subject,
                scope: &scope,
                resources: &resources,
                family: grant.family,
                refresh_scope: Some(&grant.scope),
                refresh_jkt: self.refresh_binding(grant.jkt.as_deref()),
                exchanged: None,
            },
        ))
    }

    /// RFC 8693: a token for the exchange's target, no refresh token (the subject token's
    /// holder exchanges again when it needs a new one).
    fn token_exchange(&self, st: &mut IssuerState) -> Result<Value, OAuthError> {
        let exchange = super::exchange::decide(
            &self.ctx.shared,
            self.ctx.issuer(),
            st,
            self.client,
            self.params,
            self.now,
        )?;
        let family = st.new_family();
        Ok(self.issue(
            st,
            Issue {
                subject: &exchange.subject,
                scope: &exchange.scope,
                resources: &exchange.resources,
                family,
                refresh_scope: None,
                refresh_jkt: None,
                exchanged: Some(Exchanged {
                    actor: &self.client.client_id,
                    issued_token_type: exchange.issued_token_type,
                }),
            },
        ))
    }

    /// RFC 9449 §5: a public client's refresh token is bound to its DPoP key; a confidential
    /// client's is already bound to its credentials.
    fn refresh_binding<'b>(&'b self, existing: Option<&'b str>) -> Option<&'b str> {
        let unbound = self
            .ctx
            .shared
            .config
            .faults
            .contains(&AsFault::DpopRefreshUnbound);
        existing.or(if self.client.is_public() && !unbound {
            self.jkt
        } else {
            None
        })
    }

    /// Mints the access token (and refresh token) and records them in their family.
    fn issue(&self, st: &mut IssuerState, i: Issue<'_>) -> Value {
        let shared = &self.ctx.shared;
        let config = &shared.config;
        let issuer = self.ctx.issuer();
        let lifetime = if config.faults.contains(&AsFault::TokenLongLived) {
            24 * 3600
        } else {
            config.access_token_lifetime
        };
        let exp = self.now + lifetime;
        let jti = random_b64url(16);
        let aud = if config.faults.contains(&AsFault::TokenAudDefault) {
            audience(config, &[])
        } else {
            audience(config, i.resources)
        };
        let signing_alg = shared.signing_alg_for(&aud);
        let bound = self.jkt.is_some();
        let token_type = if config.faults.contains(&AsFault::DpopTokenTypeUnconditional)
            || (bound && !config.faults.contains(&AsFault::DpopTokenTypeBearer))
        {
            "DPoP"
        } else {
            "Bearer"
        };
        // The key the access token names in cnf.jkt.
        let cnf_jkt = self
            .jkt
            .filter(|_| !config.faults.contains(&AsFault::DpopCnfMissing));
        let mut family_expiry = exp;
        let access_token = match self.client.token_format {
            TokenFormat::Jwt => {
                let mut spec = TokenSpec::access_token(
                    &issuer.id,
                    "",
                    i.subject,
                    &self.client.client_id,
                    i.scope,
                )
                .claim("aud", aud)
                .iat(self.now)
                .exp(exp)
                .jti(&jti);
                if let Some(jkt) = cnf_jkt {
                    spec = spec.cnf_jkt(jkt);
                }
                if let Some(e) = i.exchanged {
                    spec = spec.claim("act", json!({ "sub": e.actor }));
                }
                if i.resources.is_empty() && config.faults.contains(&AsFault::DefaultAudMissing) {
                    spec = spec.without_claim("aud");
                }
                let token =
                    mint_access_token(spec, &config.faults, issuer.signing_key(signing_alg));
                let signature = signature_of(&token).to_owned();
                if config.faults.contains(&AsFault::AtKeyUnpublished) {
                    st.unpublished_signatures.insert(signature.clone(), exp);
                }
                if let Some(f) = st.families.get_mut(&i.family) {
                    f.access_jtis.push((jti, exp));
                    f.access_jtis.push((signature, exp));
                }
                token
            }
            TokenFormat::Opaque => {
                let handle = random_b64url(32);
                let mut claims = Map::new();
                claims.insert("iss".into(), json!(issuer.id));
                claims.insert("sub".into(), json!(i.subject));
                claims.insert("aud".into(), aud);
                claims.insert("client_id".into(), json!(self.client.client_id));
                if !i.scope.is_empty() {
                    claims.insert("scope".into(), json!(i.scope));
                }
                claims.insert("iat".into(), json!(self.now));
                claims.insert("exp".into(), json!(exp));
                claims.insert("jti".into(), json!(jti));
                claims.insert("token_type".into(), json!(token_type));
                if let Some(jkt) = cnf_jkt {
                    claims.insert("cnf".into(), json!({ "jkt": jkt }));
                }
                if let Some(e) = i.exchanged {
                    claims.insert("act".into(), json!({ "sub": e.actor }));
                }
                st.opaque
                    .insert(handle.clone(), super::state::OpaqueToken { claims });
                if let Some(f) = st.families.get_mut(&i.family) {
                    f.opaque.push(handle.clone());
                }
                handle
            }
        };
        let mut body = json!({
            "access_token": access_token,
            "token_type": token_type,
            "expires_in": lifetime,
        });
        if !i.scope.is_empty() {
            body["scope"] = json!(i.scope);
        }
        if let Some(e) = i.exchanged
            && !config.faults.contains(&AsFault::ExchangeSuccessShape)
        {
            body["issued_token_type"] = json!(e.issued_token_type);
        }
        if let Some(refresh_scope) = i.refresh_scope {
            let rt = random_b64url(32);
            let expires_at = self.now + config.refresh_token_lifetime;
            family_expiry = family_expiry.max(expires_at);
            st.refresh_tokens.insert(
                rt.clone(),
                RefreshGrant {
                    family: i.family,
                    client_id: self.client.client_id.clone(),
                    subject: i.subject.to_owned(),
                    scope: refresh_scope.to_owned(),
                    resources: i.resources.to_vec(),
                    jkt: i.refresh_jkt.map(str::to_owned),
                    expires_at,
                    used: false,
                },
            );
            if let Some(f) = st.families.get_mut(&i.family) {
                f.refresh.push(rt.clone());
            }
            body["refresh_token"] = json!(rt);
        }
        if let Some(f) = st.families.get_mut(&i.family) {
            f.expires_at = f.expires_at.max(family_expiry);
        }
        st.maybe_prune(self.now);
        body
    }
}

/// The signature segment of a compact JWS, which tells one issued token from another.
pub(crate) fn signature_of(token: &str) -> &str {
    token.rsplit('.').next().unwrap_or_default()
}

/// Signs an access token, with the §2.4 faults applied.
fn mint_access_token(
    mut spec: TokenSpec,
    faults: &std::collections::BTreeSet<AsFault>,
    key: &crate::keys::SigningKey,
) -> String {
    if faults.contains(&AsFault::AtTypJwt) {
        spec = spec.typ("JWT");
    }
    if faults.contains(&AsFault::AtClaimsMissing) {
        spec = spec.without_claim("client_id").without_claim("jti");
    }
    if faults.contains(&AsFault::AtKeyUnpublished) {
        // A retired key that signing still uses: cheap to make, since only the fault needs it.
        if let Ok(retired) = crate::keys::SigningKey::generate(crate::alg::Algorithm::Es256) {
            return spec.kid("mcp-authspec-retired").mint(&retired);
        }
    }
    spec.mint(key)
}
