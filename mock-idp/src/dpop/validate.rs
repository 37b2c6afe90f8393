//! The DPoP proof validator: RFC 9449 §4.3 checks 1–12 in order, plus `jti` replay detection.
//!
//! Decisions where the RFC leaves room (documented here and in the module doc):
//! * A member's *presence* is check 3; its *type* is judged by the check that uses it (`typ` 4,
//!   `alg` 5, `jwk` 6, `htm` 8, `htu` 9, `nonce` 10, `iat`/`exp`/`nbf`/`jti` 11, `ath` 12).
//! * `ath` is a required claim when an access token is presented (§4.2, §7.1), so its absence
//!   is check 3; a wrong value is check 12. Without an access token `ath` is ignored (OQ-26).
//! * Check 5 compares `alg` with the key *type* of `jwk` (kty, crv, and the JWK's own `alg`
//!   member when it has one); a `jwk` that is not a usable public key at all (malformed,
//!   unsupported curve, point off the curve) fails check 6, where the key is needed.
//! * Check 7 runs after check 6 as in the RFC: a proof validly signed by the key whose private
//!   JWK it embeds fails check 7 and nothing earlier.
//! * Check 11 also covers `exp` (refused when not after now), `nbf` (refused beyond the future
//!   allowance), the `jti` shape (a non-empty string of at most `max_jti_bytes`) and replay
//!   (§11.1). The replay cache is consulted *last*, after check 12, so only proofs that pass
//!   everything else occupy it (a proof refused for a missing nonce does not burn its `jti`).
//! * A `crit` header is refused at check 2: no DPoP extension is understood (RFC 7515 §4.1.11).

use serde_json::Value;

use crate::alg::{Algorithm, KeyFamily};
use crate::json::JsonObject;
use crate::jwk::{self, Jwk, JwkKey};
use crate::jws::{Jws, Limits, ParseOptions};
use crate::keys::VerifyingKey;

use super::error::{DpopError, Part};
use super::htu;
use super::proof::DPOP_TYP;
use super::replay::{ReplayCache, ReplayRefusal};

/// Validator settings. `Default` gives the values named on each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatorConfig {
    /// Accepted proof algorithms (default ES256, ES384, PS256, RS256, EdDSA). Symmetric
    /// algorithms are refused even when listed.
    pub allowed_algs: Vec<Algorithm>,
    /// How old `iat` may be, in seconds (default 300).
    pub iat_past_secs: i64,
    /// How far ahead `iat` may be, in seconds (default 300).
    pub iat_future_secs: i64,
    /// Largest accepted proof, in bytes (default 8192).
    pub max_proof_bytes: usize,
    /// Replay cache entries (default 65,536); 0 disables replay detection.
    pub replay_capacity: usize,
    /// Largest accepted `jti`, in bytes (default 256).
    pub max_jti_bytes: usize,
    /// Refuse ECDSA signatures with s > n/2 (default false: both forms are valid ECDSA).
    pub require_low_s: bool,
    /// Checks skipped on purpose, to build deliberately faulty verifiers (the reference
    /// server's DPoP fault profiles). Empty by default; a real verifier never sets it.
    pub skipped: Vec<SkippedCheck>,
}

/// A §4.3 check a deliberately faulty verifier leaves out. A skipped claim check also stops
/// requiring the claim, as a verifier that never reads a member does not miss it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkippedCheck {
    /// Check 4: any `typ` (still required to be present).
    Typ,
    /// Checks 5 and 6: `alg` (none, symmetric, unknown, not fitting the key) and the
    /// signature go unverified; the `jwk` must still parse.
    Signature,
    /// Check 7: private members in `jwk` are tolerated.
    PrivateJwk,
    /// Check 8, and `htm` may be absent.
    Htm,
    /// Check 9, and `htu` may be absent.
    Htu,
    /// Check 11's `iat` window, and `iat` may be absent.
    Iat,
    /// Check 12's `ath`, and `ath` may be absent.
    Ath,
    /// Check 12's key binding (`cnf.jkt`).
    Jkt,
    /// The optional `exp` and `nbf` claims are never read (an expired proof passes).
    ExpNbf,
    /// Any string `jti` is taken, empty or of any length.
    JtiBounds,
}

impl Default for ValidatorConfig {
    fn default() -> Self {
        Self {
            allowed_algs: vec![
                Algorithm::Es256,
                Algorithm::Es384,
                Algorithm::Ps256,
                Algorithm::Rs256,
                Algorithm::EdDsa,
            ],
            iat_past_secs: 300,
            iat_future_secs: 300,
            max_proof_bytes: 8192,
            replay_capacity: 65_536,
            max_jti_bytes: 256,
            require_low_s: false,
            skipped: Vec::new(),
        }
    }
}

/// Whether the server demands a nonce (RFC 9449 §8, §9), and how to judge one.
#[derive(Clone, Copy)]
pub enum NonceCheck<'a> {
    NotRequired,
    /// The proof must carry a `nonce` for which the callback returns true.
    Required(&'a dyn Fn(&str) -> bool),
}

impl std::fmt::Debug for NonceCheck<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NonceCheck::NotRequired => "NotRequired",
            NonceCheck::Required(_) => "Required(..)",
        })
    }
}

/// The request the proof must match.
#[derive(Debug, Clone, Copy)]
pub struct RequestContext<'a> {
    /// The HTTP method, compared case-sensitively with `htm`.
    pub method: &'a str,
    /// The absolute request URI (query and fragment are ignored).
    pub url: &'a str,
    /// The access token sent with the proof (resource server): `ath` becomes required and
    /// must match. `None` at the token endpoint.
    pub access_token: Option<&'a str>,
    /// The thumbprint the token (or code, or refresh token) is bound to: `cnf.jkt`.
    pub expected_jkt: Option<&'a str>,
    pub nonce: NonceCheck<'a>,
}

impl<'a> RequestContext<'a> {
    /// No access token, no bound key, no nonce: a token-endpoint request.
    pub fn new(method: &'a str, url: &'a str) -> Self {
        Self {
            method,
            url,
            access_token: None,
            expected_jkt: None,
            nonce: NonceCheck::NotRequired,
        }
    }

    pub fn with_access_token(mut self, token: &'a str) -> Self {
        self.access_token = Some(token);
        self
    }

    pub fn with_expected_jkt(mut self, jkt: &'a str) -> Self {
        self.expected_jkt = Some(jkt);
        self
    }

    pub fn with_nonce(mut self, nonce: NonceCheck<'a>) -> Self {
        self.nonce = nonce;
        self
    }
}

/// What an accepted proof established.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedProof {
    /// RFC 7638 thumbprint of `jwk` (the value for `cnf.jkt`).
    pub jkt: String,
    pub jwk: Jwk,
    pub alg: Algorithm,
    pub jti: String,
    /// `iat`, truncated to whole seconds.
    pub iat: i64,
    pub htm: String,
    /// `htu` as sent.
    pub htu: String,
    pub nonce: Option<String>,
    pub ath: Option<String>,
}

/// Validates proofs; `Send + Sync`, share it behind an `Arc`. Holds the replay cache.
#[derive(Debug)]
pub struct DpopValidator {
    config: ValidatorConfig,
    replay: ReplayCache,
}

/// A JSON value for an error message, shortened.
fn show(v: &Value) -> String {
    let mut s = v.to_string();
    if s.len() > 80 {
        let mut end = 77;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("...");
    }
    s
}

/// A JSON number as whole seconds (floats truncated towards negative infinity, saturating).
fn numeric_date(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f.floor() as i64)),
        _ => None,
    }
}

/// Whether `alg` can be used with this JWK (RFC 7518 §3.4: the curve is part of the alg).
fn key_fit(alg: Algorithm, jwk: &Jwk) -> Result<(), String> {
    let fits = match (&jwk.key, alg.key_family()) {
        (JwkKey::Ec { .. }, KeyFamily::Ec(curve)) => jwk.ec_curve() == Some(curve),
        (JwkKey::Rsa { .. }, KeyFamily::Rsa) => true,
        (JwkKey::Okp { crv, .. }, KeyFamily::Ed25519) => crv == "Ed25519",
        _ => false,
    };
    if !fits {
        let what = match &jwk.key {
            JwkKey::Ec { crv, .. } | JwkKey::Okp { crv, .. } => format!("{} {crv}", jwk.kty()),
            _ => jwk.kty().to_owned(),
        };
        return Err(format!("the jwk is {what}"));
    }
    match &jwk.alg {
        Some(a) if a != alg.name() => Err(format!("the jwk is restricted to alg {a:?}")),
        _ => Ok(()),
    }
}

/// Bits of a big-endian modulus.
fn modulus_bits(n: &[u8]) -> usize {
    let n = match n.iter().position(|&b| b != 0) {
        Some(i) => &n[i..],
        None => return 0,
    };
    n.len() * 8 - n[0].leading_zeros() as usize
}

impl DpopValidator {
    pub fn new(config: ValidatorConfig) -> Self {
        let replay = ReplayCache::new(config.replay_capacity);
        Self { config, replay }
    }

    pub fn config(&self) -> &ValidatorConfig {
        &self.config
    }

    /// The `jti` replay cache.
    pub fn replay_cache(&self) -> &ReplayCache {
        &self.replay
    }

    fn skips(&self, check: SkippedCheck) -> bool {
        self.config.skipped.contains(&check)
    }

    /// Validates the `DPoP` header field values of one request (every field received, in
    /// order) against `ctx` at time `now` (seconds since the epoch).
    pub fn validate(
        &self,
        dpop_header_values: &[&str],
        ctx: &RequestContext<'_>,
        now: i64,
    ) -> Result<ValidatedProof, DpopError> {
        let cfg = &self.config;

        // 1. Exactly one DPoP header field, holding one value.
        let proof = match dpop_header_values {
            [] => return Err(DpopError::MissingHeader),
            [one] => one.trim_matches([' ', '\t']),
            many => {
                return Err(DpopError::MultipleHeaders { count: many.len() });
            }
        };
        if proof.contains(',') {
            return Err(DpopError::MultipleValues {
                count: proof.split(',').count(),
            });
        }

        // 2. A single well-formed JWT (strict base64url, JSON objects, no duplicate members).
        if proof.len() > cfg.max_proof_bytes {
            return Err(DpopError::TooLarge {
                len: proof.len(),
                max: cfg.max_proof_bytes,
            });
        }
        let opts = ParseOptions {
            limits: Limits {
                max_token_bytes: cfg.max_proof_bytes,
                max_header_bytes: cfg.max_proof_bytes,
            },
            ..ParseOptions::strict()
        };
        let jws = Jws::parse_with(proof, &opts).map_err(DpopError::Malformed)?;
        let claims = jws.claims().map_err(DpopError::Malformed)?;
        let header = jws.header();
        if let Some(crit) = header.get("crit") {
            return Err(DpopError::CritNotUnderstood(show(crit)));
        }

        // 3. Required members present.
        for name in ["typ", "alg", "jwk"] {
            if !header.contains(name) {
                return Err(DpopError::MissingMember {
                    part: Part::Header,
                    name,
                });
            }
        }
        let mut required = vec!["jti"];
        for (name, check) in [
            ("htm", SkippedCheck::Htm),
            ("htu", SkippedCheck::Htu),
            ("iat", SkippedCheck::Iat),
        ] {
            if !self.skips(check) {
                required.push(name);
            }
        }
        if ctx.access_token.is_some() && !self.skips(SkippedCheck::Ath) {
            required.push("ath");
        }
        for name in required {
            if !claims.contains(name) {
                return Err(DpopError::MissingMember {
                    part: Part::Claims,
                    name,
                });
            }
        }

        // 4. typ.
        let typ = header.get("typ").unwrap_or(&Value::Null);
        if typ.as_str() != Some(DPOP_TYP) && !self.skips(SkippedCheck::Typ) {
            return Err(DpopError::WrongTyp(show(typ)));
        }

        // 5. alg: asymmetric, not none, allowed, and fitting the jwk's key type.
        let jwk_value = header.get("jwk").unwrap_or(&Value::Null);
        let parsed_jwk = Jwk::from_json(jwk_value);
        let (alg, jwk) = if self.skips(SkippedCheck::Signature) {
            // The faulty verifier: whatever alg says, nothing is verified.
            let alg = self.check_alg(header).unwrap_or(Algorithm::Es256);
            let jwk = parsed_jwk.map_err(|e| DpopError::InvalidJwk(e.to_string()))?;
            (alg, jwk)
        } else {
            let alg = self.check_alg(header)?;
            if let Ok(jwk) = &parsed_jwk {
                key_fit(alg, jwk).map_err(|reason| DpopError::AlgKeyMismatch { alg, reason })?;
            }

            // 6. Signature with the embedded jwk (which must be a valid public key).
            let jwk = parsed_jwk.map_err(|e| DpopError::InvalidJwk(e.to_string()))?;
            if let JwkKey::Rsa { n, .. } = &jwk.key {
                let bits = modulus_bits(n);
                if bits < 2048 {
                    return Err(DpopError::WeakRsaKey { bits });
                }
            }
            let vk =
                VerifyingKey::from_jwk(&jwk).map_err(|e| DpopError::InvalidJwk(e.to_string()))?;
            vk.verify(alg, jws.signing_input(), jws.signature(), cfg.require_low_s)
                .map_err(DpopError::BadSignature)?;
            (alg, jwk)
        };

        // 7. No private key material in jwk.
        if jwk.has_private_material() && !self.skips(SkippedCheck::PrivateJwk) {
            return Err(DpopError::PrivateKeyInJwk(jwk.private_members.clone()));
        }

        // 8. htm equals the method, case-sensitively.
        let htm = claims.get("htm").unwrap_or(&Value::Null);
        if htm.as_str() != Some(ctx.method) && !self.skips(SkippedCheck::Htm) {
            return Err(DpopError::HtmMismatch {
                found: show(htm),
                expected: ctx.method.to_owned(),
            });
        }

        // 9. htu equals the request URI, ignoring query and fragment, after normalisation.
        let request_norm = htu::normalize(ctx.url).map_err(|e| DpopError::RequestUrlInvalid {
            url: ctx.url.to_owned(),
            reason: e.to_string(),
        })?;
        let request_htu = Value::from(ctx.url);
        let htu_value = match claims.get("htu") {
            // The faulty verifier reads the request URI in place of htu.
            _ if self.skips(SkippedCheck::Htu) => &request_htu,
            Some(v) => v,
            None => &Value::Null,
        };
        let Some(htu_str) = htu_value.as_str() else {
            return Err(DpopError::HtuInvalid {
                found: show(htu_value),
                reason: "not a string".into(),
            });
        };
        let htu_norm = htu::normalize(htu_str).map_err(|e| DpopError::HtuInvalid {
            found: htu_str.chars().take(200).collect(),
            reason: e.to_string(),
        })?;
        if htu_norm != request_norm {
            return Err(DpopError::HtuMismatch {
                found: show(htu_value),
                expected: ctx.url.to_owned(),
            });
        }

        // 10. The server nonce, when one is demanded (use_dpop_nonce).
        let nonce = match claims.get("nonce") {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        if let NonceCheck::Required(accept) = ctx.nonce {
            match claims.get("nonce") {
                None => return Err(DpopError::NonceMissing),
                Some(Value::String(s)) if accept(s) => {}
                Some(_) => return Err(DpopError::NonceInvalid),
            }
        }

        // 11. Freshness: iat window, exp, nbf, and a usable jti.
        let iat = self.check_time(&claims, now)?;
        let jti = match claims.get("jti") {
            Some(Value::String(s)) if self.skips(SkippedCheck::JtiBounds) => s.clone(),
            Some(Value::String(s)) if s.is_empty() => {
                return Err(DpopError::BadJti("empty".into()));
            }
            Some(Value::String(s)) if s.len() > cfg.max_jti_bytes => {
                return Err(DpopError::BadJti(format!(
                    "{} bytes, more than {}",
                    s.len(),
                    cfg.max_jti_bytes
                )));
            }
            Some(Value::String(s)) => s.clone(),
            other => {
                return Err(DpopError::BadJti(format!(
                    "{} is not a string",
                    show(other.unwrap_or(&Value::Null))
                )));
            }
        };

        // 12. Access-token binding: ath, and the key thumbprint against cnf.jkt.
        let ath = claims.get_str("ath").map(str::to_owned);
        if let Some(token) = ctx.access_token
            && !self.skips(SkippedCheck::Ath)
            && ath.as_deref() != Some(jwk::access_token_hash(token).as_str())
        {
            return Err(DpopError::AthMismatch);
        }
        let jkt = jwk.thumbprint();
        if let Some(expected) = ctx.expected_jkt
            && !self.skips(SkippedCheck::Jkt)
            && expected != jkt
        {
            return Err(DpopError::JktMismatch {
                found: jkt,
                expected: expected.to_owned(),
            });
        }

        // 11 (§11.1), last: the jti has not been used with this htu. Atomic check-and-insert.
        let valid_until = iat.saturating_add(cfg.iat_past_secs);
        self.replay
            .check_and_insert(&htu_norm, &jti, valid_until, now)
            .map_err(|r| match r {
                ReplayRefusal::Replayed => DpopError::Replayed,
                ReplayRefusal::Horizon { floor } => DpopError::ReplayHorizon { valid_until, floor },
            })?;

        Ok(ValidatedProof {
            jkt,
            jwk,
            alg,
            jti,
            iat,
            htm: ctx.method.to_owned(),
            htu: htu_str.to_owned(),
            nonce,
            ath,
        })
    }

    fn check_alg(&self, header: &JsonObject) -> Result<Algorithm, DpopError> {
        let name = match header.get("alg") {
            Some(Value::String(s)) => s.as_str(),
            other => {
                return Err(DpopError::AlgNotString(show(other.unwrap_or(&Value::Null))));
            }
        };
        if name.eq_ignore_ascii_case("none") {
            return Err(DpopError::AlgNone(name.to_owned()));
        }
        // MAC algorithms, registered or not (HS256, hs512, …).
        if name.len() > 2 && name.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("HS")) {
            return Err(DpopError::AlgSymmetric(name.to_owned()));
        }
        let alg =
            Algorithm::from_name(name).ok_or_else(|| DpopError::AlgUnsupported(name.to_owned()))?;
        if alg.is_symmetric() {
            return Err(DpopError::AlgSymmetric(name.to_owned()));
        }
        if !self.config.allowed_algs.contains(&alg) {
            return Err(DpopError::AlgNotAllowed(alg));
        }
        Ok(alg)
    }

    /// iat within the window; exp not past; nbf not beyond the future allowance.
    fn check_time(&self, claims: &JsonObject, now: i64) -> Result<i64, DpopError> {
        let cfg = &self.config;
        let iat_value = claims.get("iat").unwrap_or(&Value::Null);
        let ignore_iat = self.skips(SkippedCheck::Iat);
        let iat = match numeric_date(iat_value) {
            Some(iat) => iat,
            None if ignore_iat => now,
            None => return Err(DpopError::IatNotNumeric(show(iat_value))),
        };
        let age = now.saturating_sub(iat);
        if age > cfg.iat_past_secs && !ignore_iat {
            return Err(DpopError::IatTooOld {
                iat,
                age,
                max: cfg.iat_past_secs,
            });
        }
        if iat.saturating_sub(now) > cfg.iat_future_secs && !ignore_iat {
            return Err(DpopError::IatInFuture {
                iat,
                ahead: iat.saturating_sub(now),
                max: cfg.iat_future_secs,
            });
        }
        for claim in ["exp", "nbf"] {
            if self.skips(SkippedCheck::ExpNbf) {
                break;
            }
            let Some(v) = claims.get(claim) else {
                continue;
            };
            let t = numeric_date(v).ok_or_else(|| DpopError::TimeClaimNotNumeric {
                claim,
                value: show(v),
            })?;
            if claim == "exp" && t <= now {
                return Err(DpopError::Expired { exp: t, now });
            }
            if claim == "nbf" && t.saturating_sub(now) > cfg.iat_future_secs {
                return Err(DpopError::NotYetValid { nbf: t, now });
            }
        }
        Ok(iat)
    }
}
