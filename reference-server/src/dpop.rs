//! DPoP at the resource server (RFC 9449 §7, SEP-1932): the proof that must come with a
//! DPoP-bound token, its binding to the token (`ath`, `cnf.jkt`), `jti` replay detection,
//! server nonces (§8, §9), and the §1.7 fault profiles.
//!
//! Documented choices: the proof's `htu` is compared with the endpoint URL on the bound address
//! (`http://<addr>/mcp`); a DPoP-bound token under the Bearer scheme is refused in every mode
//! (§7.2); an unbound token under the DPoP scheme is refused (spec OQ-13); nonces live 5
//! minutes and the last 1024 issued are honoured; a failed proof gets 401 with a `DPoP`
//! challenge carrying `error` and `algs` (SEP-1932: every failed step), a binding failure
//! `invalid_token` (RFC 9449 Figure 16), a nonce failure `use_dpop_nonce` with one
//! `DPoP-Nonce` header.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use mock_idp::alg::Algorithm;
use mock_idp::dpop::{
    DpopError, DpopValidator, NonceCheck, RequestContext, SkippedCheck, ValidatedProof,
    ValidatorConfig,
};
use mock_idp::forge::weak_rsa;
use mock_idp::jws::Jws;

use crate::config::{Config, DpopMode};
use crate::credentials::{AuthFailure, DpopFailure, Principal};
use crate::fault::Fault;
use crate::server::Shared;

/// How long an issued nonce is honoured, seconds.
const NONCE_LIFETIME: i64 = 300;
/// How many issued nonces are remembered.
const MAX_NONCES: usize = 1024;
/// The simulated round trip between the lookup and the insert of the racy replay store
/// (fault `dpop-replay-race`): what a GET then SET against a remote cache costs.
const RACY_STORE_ROUND_TRIP: Duration = Duration::from_millis(2);
/// Entries the racy store keeps before it forgets the oldest (bounded, like the real cache).
const RACY_STORE_CAPACITY: usize = 65_536;

/// The DPoP side of the server: validator (with its atomic replay cache), nonces, and the
/// non-atomic replay store of the race fault.
pub struct DpopState {
    validator: DpopValidator,
    /// The URL proofs must name in `htu`.
    endpoint: String,
    nonces: Mutex<VecDeque<(String, i64)>>,
    racy_seen: Mutex<VecDeque<String>>,
    racy_set: Mutex<HashSet<String>>,
    /// Fault `dpop-nonce-downgrade`: the key thumbprints a nonce was issued to.
    nonce_issued_to: Mutex<HashSet<String>>,
    /// Faults `dpop-trust-jku`, `dpop-accept-weak-rsa`: checks everything but the signature,
    /// which was verified beforehand (with the fetched key, or with a key under 2048 bits).
    presigned_validator: DpopValidator,
}

/// The validator settings a server with these faults uses.
fn validator_config(config: &Config) -> ValidatorConfig {
    let has = |f: Fault| config.faults.contains(&f);
    let mut skipped = Vec::new();
    for (fault, check) in [
        (Fault::DpopLaxTyp, SkippedCheck::Typ),
        (Fault::DpopSkipSignature, SkippedCheck::Signature),
        (Fault::DpopAcceptPrivateJwk, SkippedCheck::PrivateJwk),
        (Fault::DpopIgnoreHtm, SkippedCheck::Htm),
        (Fault::DpopIgnoreHtu, SkippedCheck::Htu),
        (Fault::DpopIgnoreIat, SkippedCheck::Iat),
        (Fault::DpopIgnoreAth, SkippedCheck::Ath),
        // Checked in `check_proof` against the wrong encoding instead.
        (Fault::DpopAthPadded, SkippedCheck::Ath),
        (Fault::DpopIgnoreJkt, SkippedCheck::Jkt),
        // Compared in `check_proof` over every jwk member instead.
        (Fault::DpopThumbprintAllMembers, SkippedCheck::Jkt),
        // Compared in `check_proof` with a trailing slash forgiven instead.
        (Fault::DpopHtuTrailingSlash, SkippedCheck::Htu),
        (Fault::DpopIgnoreExp, SkippedCheck::ExpNbf),
        (Fault::DpopJtiUnchecked, SkippedCheck::JtiBounds),
    ] {
        if has(fault) {
            skipped.push(check);
        }
    }
    // The race fault keeps its own, non-atomic store instead of the validator's cache.
    let no_cache = has(Fault::DpopNoReplayCache)
        || has(Fault::DpopReplayRace)
        || has(Fault::DpopReplayByBytes);
    let allowed = if has(Fault::DpopAlgsUnenforced) {
        &Algorithm::ALL[..]
    } else {
        &config.dpop_algs[..]
    };
    ValidatorConfig {
        allowed_algs: allowed
            .iter()
            .copied()
            .filter(|a| !a.is_symmetric())
            .collect(),
        replay_capacity: if no_cache { 0 } else { 65_536 },
        iat_future_secs: if has(Fault::DpopIatNoFuture) { 2 } else { 300 },
        max_proof_bytes: if has(Fault::DpopJtiUnchecked) {
            1 << 20
        } else {
            ValidatorConfig::default().max_proof_bytes
        },
        skipped,
        ..ValidatorConfig::default()
    }
}

impl DpopState {
    pub fn new(config: &Config, endpoint: String) -> Self {
        Self {
            validator: DpopValidator::new(validator_config(config)),
            endpoint,
            nonces: Mutex::new(VecDeque::new()),
            racy_seen: Mutex::new(VecDeque::new()),
            racy_set: Mutex::new(HashSet::new()),
            nonce_issued_to: Mutex::new(HashSet::new()),
            presigned_validator: DpopValidator::new(ValidatorConfig {
                skipped: vec![SkippedCheck::Signature],
                ..validator_config(config)
            }),
        }
    }

    /// The proof algorithms advertised (PRM `dpop_signing_alg_values_supported`, `algs`).
    pub fn advertised_algs(&self, config: &Config) -> Vec<String> {
        // What the configuration allows, whatever the validator (fault) really takes.
        let mut algs: Vec<String> = config
            .dpop_algs
            .iter()
            .filter(|a| !a.is_symmetric())
            .map(|a| a.name().to_owned())
            .collect();
        if config.faults.contains(&Fault::DpopAdvertiseHs256) {
            algs.push(Algorithm::Hs256.name().to_owned());
        }
        algs
    }

    /// A fresh nonce, remembered for `NONCE_LIFETIME` (fault `dpop-nonce-constant`: always
    /// the same one).
    pub fn issue_nonce(&self, config: &Config) -> String {
        let nonce = if config.faults.contains(&Fault::DpopNonceConstant) {
            "mcp-authspec-constant-nonce".to_owned()
        } else {
            mock_idp::random_b64url(24)
        };
        let now = mock_idp::unix_now();
        let mut nonces = self.nonces.lock().unwrap_or_else(|p| p.into_inner());
        while nonces.len() >= MAX_NONCES {
            nonces.pop_front();
        }
        nonces.push_back((nonce.clone(), now));
        nonce
    }

    fn nonce_valid(&self, config: &Config, nonce: &str) -> bool {
        if config.faults.contains(&Fault::DpopNonceAnyValue) {
            return true;
        }
        let now = mock_idp::unix_now();
        let nonces = self.nonces.lock().unwrap_or_else(|p| p.into_inner());
        nonces
            .iter()
            .any(|(n, at)| n == nonce && now - at <= NONCE_LIFETIME)
    }

    /// Fault `dpop-replay-race`: look up, wait for the store, then insert. Two requests with
    /// the same proof inside the round trip both see it as new.
    async fn racy_check_then_insert(&self, key: String) -> bool {
        let seen = self
            .racy_set
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&key);
        if seen {
            return false;
        }
        tokio::time::sleep(RACY_STORE_ROUND_TRIP).await;
        let mut set = self.racy_set.lock().unwrap_or_else(|p| p.into_inner());
        let mut order = self.racy_seen.lock().unwrap_or_else(|p| p.into_inner());
        if order.len() >= RACY_STORE_CAPACITY
            && let Some(old) = order.pop_front()
        {
            set.remove(&old);
        }
        if set.insert(key.clone()) {
            order.push_back(key);
        }
        true
    }
}

impl DpopState {
    /// Fault `dpop-replay-by-bytes`: an atomic first-use test on the proof's text.
    fn first_use_of_text(&self, text: String) -> bool {
        let mut set = self.racy_set.lock().unwrap_or_else(|p| p.into_inner());
        let mut order = self.racy_seen.lock().unwrap_or_else(|p| p.into_inner());
        if set.contains(&text) {
            return false;
        }
        if order.len() >= RACY_STORE_CAPACITY
            && let Some(old) = order.pop_front()
        {
            set.remove(&old);
        }
        set.insert(text.clone());
        order.push_back(text);
        true
    }
}

/// The `cnf.jkt` a token is bound to, read from a JWT whose signature was already verified;
/// `None` for unbound and opaque tokens.
pub fn bound_jkt(token: &str) -> Option<String> {
    let claims = Jws::parse(token).ok()?.claims_lenient().ok()?;
    claims.get("cnf")?.get("jkt")?.as_str().map(str::to_owned)
}

/// The `DPoP` header field values of a request, every field kept (check 1 counts them).
pub fn proof_fields(headers: &axum::http::HeaderMap) -> Vec<String> {
    headers
        .get_all("dpop")
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect()
}

fn failure(config: &Config, code: &'static str, why: String, nonce: Option<String>) -> AuthFailure {
    let nonce = nonce.filter(|_| !config.faults.contains(&Fault::DpopNonceNoHeader));
    AuthFailure::Dpop(DpopFailure {
        code,
        description: why,
        nonce,
    })
}

/// Checks the proof of a request made with `Authorization: DPoP <token>` whose token is
/// otherwise valid (RFC 9449 §7.1): present, valid per §4.3, bound to the token.
pub async fn check_proof(
    shared: &Shared,
    method: &str,
    query: Option<&str>,
    token: &str,
    fields: &[String],
) -> Result<(), AuthFailure> {
    let (state, config) = (&shared.dpop, &shared.config);
    let has = |f: Fault| config.faults.contains(&f);
    let refuse = |why: &str| Err(failure(config, "invalid_dpop_proof", why.to_owned(), None));
    let presigned = if has(Fault::DpopTrustJku) && verify_with_jku(shared, fields).await? {
        true
    } else {
        has(Fault::DpopAcceptWeakRsa) && verify_weak_rsa(config, fields)?
    };
    let Some(proof) = validate_proof(state, config, method, token, fields, presigned)? else {
        return Ok(());
    };
    let parts = fields.first().and_then(|f| Jws::parse(f).ok());
    let claims = parts.as_ref().and_then(|p| p.claims_lenient().ok());
    if has(Fault::DpopStrictMembers)
        && let (Some(jws), Some(claims)) = (&parts, &claims)
    {
        let header_ok = jws
            .header()
            .members()
            .iter()
            .all(|(n, _)| ["typ", "alg", "jwk"].contains(&n.as_str()));
        let claims_ok = claims
            .members()
            .iter()
            .all(|(n, _)| ["jti", "htm", "htu", "iat", "ath", "nonce"].contains(&n.as_str()));
        if !header_ok || !claims_ok {
            return refuse("the proof carries members RFC 9449 does not define");
        }
    }
    if has(Fault::DpopThumbprintAllMembers)
        && all_members_thumbprint(&proof.jwk.to_json()) != bound_jkt(token).unwrap_or_default()
    {
        return Err(failure(
            config,
            "invalid_token",
            "the proof key is not the key the token is bound to".into(),
            None,
        ));
    }
    if has(Fault::DpopHtuTrailingSlash) {
        let htu = claims
            .as_ref()
            .and_then(|c| c.get_str("htu"))
            .unwrap_or_default();
        let trimmed =
            |u: &str| mock_idp::dpop::htu::normalize(u).map(|n| n.trim_end_matches('/').to_owned());
        if trimmed(htu).ok() != trimmed(&state.endpoint).ok() {
            return refuse("htu does not name this endpoint");
        }
    }
    if has(Fault::DpopHtuQueryStrict) && (query.is_some() || proof.htu.contains(['?', '#'])) {
        return refuse("htu is not exactly this request's URI");
    }
    if has(Fault::DpopAthPadded) && proof.ath.as_deref() != Some(&padded_ath(token)) {
        return refuse("ath is not the (standard base64) hash of the token");
    }
    if has(Fault::DpopHtuExact) && proof.htu != state.endpoint {
        return refuse("htu is not exactly the endpoint URL");
    }
    if has(Fault::DpopReplayRace) {
        let key = format!("{}\n{}", proof.htu, proof.jti);
        if !state.racy_check_then_insert(key).await {
            return refuse("RFC 9449 §11.1: jti was already used (replayed proof)");
        }
    }
    if has(Fault::DpopReplayByBytes) && !state.first_use_of_text(fields.join(",")) {
        return refuse("this exact proof was already used");
    }
    Ok(())
}

/// SHA-256 of the token in standard base64 with padding (fault `dpop-ath-padded`).
fn padded_ath(token: &str) -> String {
    let mut text: String = mock_idp::jwk::access_token_hash(token)
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    while !text.len().is_multiple_of(4) {
        text.push('=');
    }
    text
}

/// The synchronous part of `check_proof`: the §4.3 checks; `None` when a fault lets a request
/// without a usable proof through.
fn validate_proof(
    state: &DpopState,
    config: &Config,
    method: &str,
    token: &str,
    fields: &[String],
    presigned: bool,
) -> Result<Option<ValidatedProof>, AuthFailure> {
    let has = |f: Fault| config.faults.contains(&f);
    let jkt = bound_jkt(token);
    if jkt.is_none() && !has(Fault::DpopAcceptUnbound) {
        return Err(failure(
            config,
            "invalid_token",
            "the DPoP scheme needs a DPoP-bound token (cnf.jkt)".into(),
            None,
        ));
    }
    // Fault `dpop-500-on-non-string-member`: a typed decoding of the proof that crashes on a
    // member of an unexpected JSON type (reached only with a valid bound token).
    if has(Fault::Dpop500OnNonStringMember) && fields.iter().any(|f| has_mistyped_member(f)) {
        return Err(AuthFailure::Crash);
    }
    let mut values: Vec<&str> = fields.iter().map(String::as_str).collect();
    if has(Fault::DpopFirstProofWins) {
        values.truncate(1);
        if let Some(first) = values.first_mut() {
            *first = first.split(',').next().unwrap_or_default().trim();
        }
    }
    let nonce_check = |n: &str| state.nonce_valid(config, n);
    let mut ctx = RequestContext::new(method, &state.endpoint).with_access_token(token);
    if let Some(jkt) = &jkt {
        ctx = ctx.with_expected_jkt(jkt);
    }
    // Fault `dpop-nonce-downgrade`: a key that was issued a nonce may leave it out.
    let downgraded = has(Fault::DpopNonceDowngrade)
        && jkt.as_ref().is_some_and(|k| {
            state
                .nonce_issued_to
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(k)
        })
        && !fields.first().is_some_and(|f| carries_claim(f, "nonce"));
    if config.dpop_nonce && !downgraded {
        ctx = ctx.with_nonce(NonceCheck::Required(&nonce_check));
    }
    let validator = if presigned {
        &state.presigned_validator
    } else {
        &state.validator
    };
    match validator.validate(&values, &ctx, mock_idp::unix_now()) {
        Ok(proof) => Ok(Some(proof)),
        Err(DpopError::MissingHeader | DpopError::Malformed(_))
            if has(Fault::DpopProofOptional) =>
        {
            Ok(None)
        }
        Err(e @ (DpopError::NonceMissing | DpopError::NonceInvalid)) => {
            if has(Fault::DpopNonceDowngrade)
                && let Some(k) = &jkt
            {
                state
                    .nonce_issued_to
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(k.clone());
            }
            Err(failure(
                config,
                e.error_code(),
                e.message(),
                Some(state.issue_nonce(config)),
            ))
        }
        Err(e @ DpopError::JktMismatch { .. }) => {
            Err(failure(config, "invalid_token", e.message(), None))
        }
        Err(e) => Err(failure(config, e.error_code(), e.message(), None)),
    }
}

/// A proof member of a type a typed decoder does not expect (fault
/// `dpop-500-on-non-string-member`): `typ`, `alg`, `jti`, `htm`, `htu`, `ath`, `nonce` not a
/// string, `iat` not a number, `jwk` not an object. Unparseable proofs are not "mistyped".
fn has_mistyped_member(proof: &str) -> bool {
    let Ok(jws) = Jws::parse(proof) else {
        return false;
    };
    let Ok(claims) = jws.claims_lenient() else {
        return false;
    };
    let wrong =
        |obj: &mock_idp::json::JsonObject, name: &str, ok: fn(&serde_json::Value) -> bool| {
            obj.get(name).is_some_and(|v| !ok(v))
        };
    ["typ", "alg"]
        .iter()
        .any(|n| wrong(jws.header(), n, serde_json::Value::is_string))
        || wrong(jws.header(), "jwk", serde_json::Value::is_object)
        || ["jti", "htm", "htu", "ath", "nonce"]
            .iter()
            .any(|n| wrong(&claims, n, serde_json::Value::is_string))
        || wrong(&claims, "iat", serde_json::Value::is_number)
}

/// Whether DPoP is on at all.
pub fn enabled(config: &Config) -> bool {
    config.dpop != DpopMode::Off
}

/// Whether a proof's claims hold `name` (any value).
fn carries_claim(proof: &str, name: &str) -> bool {
    Jws::parse(proof)
        .ok()
        .and_then(|j| j.claims_lenient().ok())
        .is_some_and(|c| c.contains(name))
}

/// Fault `dpop-thumbprint-all-members`: SHA-256 over every member of the JWK, sorted, where
/// RFC 7638 §3.2 takes only the required ones.
fn all_members_thumbprint(jwk: &serde_json::Value) -> String {
    let sorted: std::collections::BTreeMap<&String, &serde_json::Value> = jwk
        .as_object()
        .map(|o| o.iter().collect())
        .unwrap_or_default();
    let text = serde_json::to_string(&sorted).unwrap_or_default();
    mock_idp::jwk::sha256_b64url(text.as_bytes())
}

/// Fault `dpop-trust-jku`: when the proof names a loopback `jku`, fetch it and verify the
/// signature with its keys. `Ok(true)`: verified that way (the embedded jwk is not used for
/// the signature); `Ok(false)`: no jku, the normal path applies.
async fn verify_with_jku(shared: &Shared, fields: &[String]) -> Result<bool, AuthFailure> {
    let Some(jws) = fields.first().and_then(|f| Jws::parse(f).ok()) else {
        return Ok(false);
    };
    let Some(jku) = jws.header().get_str("jku").map(str::to_owned) else {
        return Ok(false);
    };
    let refuse = |why: String| failure(&shared.config, "invalid_dpop_proof", why, None);
    if !crate::jwks::is_loopback_url(&jku) {
        return Err(refuse("jku is not reachable".into()));
    }
    let alg = jws
        .header()
        .get_str("alg")
        .and_then(Algorithm::from_name)
        .ok_or_else(|| refuse("unknown alg".into()))?;
    let keys = crate::jwks::fetch_keys(&shared.http, &jku)
        .await
        .map_err(|e| refuse(format!("jku: {e}")))?;
    let verified = keys.iter().any(|k| {
        k.fits(alg)
            && k.verify(alg, jws.signing_input(), jws.signature(), false)
                .is_ok()
    });
    if verified {
        Ok(true)
    } else {
        Err(refuse(
            "the signature does not verify with the jku keys".into(),
        ))
    }
}

/// Fault `dpop-accept-weak-rsa`: an RS256 proof whose embedded RSA key has fewer than 2048
/// bits is verified anyway. `Ok(true)`: verified that way; `Ok(false)`: not such a proof.
fn verify_weak_rsa(config: &Config, fields: &[String]) -> Result<bool, AuthFailure> {
    let Some(jws) = fields.first().and_then(|f| Jws::parse(f).ok()) else {
        return Ok(false);
    };
    let header = jws.header();
    let Some(jwk) = header.get("jwk") else {
        return Ok(false);
    };
    let part = |name: &str| {
        jwk.get(name)
            .and_then(serde_json::Value::as_str)
            .and_then(|v| mock_idp::b64::decode_strict(v).ok())
    };
    let (Some(n), Some(e)) = (part("n"), part("e")) else {
        return Ok(false);
    };
    let weak = n.len() < 256 && jwk.get("kty").and_then(serde_json::Value::as_str) == Some("RSA");
    if !weak || header.get_str("alg") != Some("RS256") {
        return Ok(false);
    }
    if weak_rsa::verify_rs256(&n, &e, jws.signing_input(), jws.signature()) {
        Ok(true)
    } else {
        Err(failure(
            config,
            "invalid_dpop_proof",
            "the signature does not verify".into(),
            None,
        ))
    }
}

/// Fault `dpop-proof-as-token`: a JWT whose header embeds a `jwk` and verifies with it is a
/// self-contained token (the subject is the key's thumbprint).
pub fn proof_as_token(shared: &Shared, token: &str) -> Option<Principal> {
    let jws = Jws::parse(token).ok()?;
    let jwk = mock_idp::jwk::Jwk::from_json(jws.header().get("jwk")?).ok()?;
    let alg = Algorithm::from_name(jws.header().get_str("alg")?)?;
    mock_idp::keys::VerifyingKey::from_jwk(&jwk.to_public())
        .ok()?
        .verify(alg, jws.signing_input(), jws.signature(), false)
        .ok()?;
    Some(Principal {
        subject: jwk.thumbprint(),
        scopes: [shared.config.base_scope.clone()].into(),
        token: None,
    })
}
