//! Fuzzing entry points: one function per fuzz target, holding the logic and its assertions.
//!
//! Each `fuzz/fuzz_targets/*.rs` is a one-line call into this module, and `cargo test` replays
//! the checked-in corpus (`fuzz/corpus/<target>/`) and saved reproducers (`fuzz/regressions/`)
//! through the very same functions on stable (`tests/fuzz_corpus.rs`), as rustls does. A
//! function panics only when an invariant is broken; hostile input alone must never make it
//! panic, hang or accept.
//!
//! Everything is fixed so runs are reproducible: the keys are the public test keys of
//! `fixtures/keys`, the clock is [`FIXED_NOW`], the request context is [`DPOP_METHOD`] on
//! [`DPOP_URL`] with [`ACCESS_TOKEN`].

use std::sync::OnceLock;

use serde_json::Value;

use crate::alg::Algorithm;
use crate::dpop::{DpopError, DpopValidator, RequestContext, ValidatorConfig};
use crate::json::JsonObject;
use crate::jwk::{self, Jwk, JwkSet};
use crate::jws::{Jws, JwsError, ParseOptions, Verifier, VerifyError};
use crate::keys::{SigningKey, VerifyingKey};
use crate::token::TokenSpec;
use crate::{b64, keystore};

/// The clock every target runs at (2027-01-15T08:00:00Z).
pub const FIXED_NOW: i64 = 1_800_000_000;
/// The issuer the access-token target trusts.
pub const ISSUER: &str = "https://idp.fuzz.test/trusted";
/// The audience (resource) the access-token target is.
pub const AUDIENCE: &str = "https://mcp.fuzz.test/mcp";
/// The request a DPoP proof must match.
pub const DPOP_METHOD: &str = "POST";
pub const DPOP_URL: &str = "https://mcp.fuzz.test/mcp";
/// The access token presented with the proof (`ath` must hash it).
pub const ACCESS_TOKEN: &str = "fuzz-access-token";
/// Algorithms the token verifiers allow.
pub const ALLOWED: [Algorithm; 3] = [Algorithm::Es256, Algorithm::EdDsa, Algorithm::Rs256];

/// The fixture signing keys (public test keys, never to be trusted elsewhere), kid
/// `fixture-<alg>`.
pub fn fixture_key(alg: Algorithm) -> &'static SigningKey {
    static KEYS: OnceLock<Vec<SigningKey>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        let pems = [
            (
                Algorithm::Es256,
                include_str!("../../fixtures/keys/fixture-es256.pem"),
            ),
            (
                Algorithm::EdDsa,
                include_str!("../../fixtures/keys/fixture-eddsa.pem"),
            ),
            (
                Algorithm::Rs256,
                include_str!("../../fixtures/keys/fixture-rs256.pem"),
            ),
        ];
        pems.iter()
            .map(|(alg, pem)| {
                SigningKey::from_pem(*alg, pem)
                    .expect("fixture key loads")
                    .with_kid(keystore::kid_for("fixture", *alg))
            })
            .collect()
    });
    keys.iter()
        .find(|k| k.alg() == alg)
        .expect("a fixture key per allowed algorithm")
}

/// The verifier the token targets use: [`ALLOWED`] and the fixture keys, low-S required.
pub fn fixed_verifier() -> &'static Verifier {
    static VERIFIER: OnceLock<Verifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        Verifier::new(&ALLOWED)
            .with_keys(ALLOWED.map(|a| fixture_key(a).verifying_key()))
            .require_low_s(true)
    })
}

/// JSON equality up to the last bit of non-integer numbers: serde_json's default float parser
/// is not correctly rounded (the `float_roundtrip` feature is off), so `1.79e41` may come back
/// one ULP away. Harmless for JOSE, which verifies the bytes received, never re-serialised ones.
pub fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => x == y || (x - y).abs() <= x.abs().max(y.abs()) * 1e-15,
                _ => false,
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_json(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| ka == kb && same_json(va, vb))
        }
        _ => a == b,
    }
}

fn assert_same_members(a: &[(String, Value)], b: &[(String, Value)]) {
    let same = a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((ka, va), (kb, vb))| ka == kb && same_json(va, vb));
    assert!(same, "members differ:\n  {a:?}\n  {b:?}");
}

fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// Target `jws_compact`: the compact JWS parser, strict and lenient.
///
/// Invariants: strict acceptance implies lenient acceptance of the same parts; a strictly
/// parsed token re-encodes to exactly its input (canonical base64url, three segments); its
/// header has no duplicate member; the signing input is `header.payload` as received.
pub fn jws_compact(data: &[u8]) {
    let Some(token) = text(data) else { return };
    let lenient = Jws::parse_with(token, &ParseOptions::lenient());
    let Ok(jws) = Jws::parse(token) else { return };
    let lenient = lenient.expect("strict acceptance implies lenient acceptance");
    assert_eq!(lenient.header(), jws.header());
    assert_eq!(lenient.payload(), jws.payload());
    assert_eq!(lenient.signature(), jws.signature());
    let [h, p, s] = jws.segments();
    assert_eq!(format!("{h}.{p}.{s}"), token);
    assert_eq!(
        b64::encode(jws.payload()),
        p,
        "payload segment is canonical"
    );
    assert_eq!(
        b64::encode(jws.signature()),
        s,
        "signature segment is canonical"
    );
    assert_eq!(jws.signing_input(), format!("{h}.{p}").as_bytes());
    assert!(jws.header().duplicates().is_empty());
    let reparsed = JsonObject::parse(&jws.header().to_bytes()).expect("a header re-serialises");
    assert_same_members(reparsed.members(), jws.header().members());
    // Signature verification is the access_token target's job (it costs more than parsing).
    let _ = jws.claims();
}

/// Target `jose_header`: the JSON object parser behind every header and claims set, and the
/// verifier's header handling (alg, crit, kid).
///
/// Invariants: parse ∘ serialise is the identity (order and duplicates kept); a header alone
/// never makes a token verify — whatever it says, a token with a signature made by no key is
/// refused (an `alg: none` or a `crit` slip would show here).
pub fn jose_header(data: &[u8]) {
    let Ok(header) = JsonObject::parse(data) else {
        return;
    };
    let bytes = header.to_bytes();
    let back = JsonObject::parse(&bytes).expect("serialised object parses");
    assert_same_members(back.members(), header.members());
    // Top-level duplicates survive; nested objects are serde_json values (last member wins).
    let top_level = |o: &JsonObject| -> Vec<String> {
        let mut d: Vec<String> = o
            .duplicates()
            .iter()
            .filter(|p| !p.contains(['.', '[']))
            .cloned()
            .collect();
        d.sort();
        d
    };
    assert_eq!(top_level(&back), top_level(&header));
    for (name, _) in header.members() {
        assert_eq!(header.get(name), header.get_all(name).last());
    }
    let token = crate::jws::encode_compact(data, br#"{"sub":"x"}"#, &[0u8; 64]);
    if let Ok(jws) = Jws::parse_with(&token, &ParseOptions::lenient()) {
        assert!(
            fixed_verifier().verify(&jws).is_err(),
            "a header made a token with a zero signature verify: {token}"
        );
    }
}

/// Target `jwk`: JWK and JWK Set parsing and the RFC 7638 thumbprint.
///
/// Invariants: a parsed JWK serialises and parses back to itself with the same thumbprint;
/// its public form has the same thumbprint and no private material (except `oct`, which is
/// secret by nature); a JWK Set accounts for every member of `keys`.
pub fn jwk(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if let Ok(jwk) = Jwk::from_json(&value) {
        let thumbprint = jwk.thumbprint();
        assert_eq!(thumbprint.len(), 43, "SHA-256 in unpadded base64url");
        let back = Jwk::from_json(&jwk.to_json()).expect("a serialised JWK parses");
        assert_eq!(back.key, jwk.key);
        assert!(
            same_json(&back.to_json(), &jwk.to_json()),
            "{back:?} != {jwk:?}"
        );
        assert_eq!(back.thumbprint(), thumbprint);
        let public = jwk.to_public();
        assert_eq!(public.thumbprint(), thumbprint);
        assert!(public.private_members.is_empty());
        if !matches!(public.key, jwk::JwkKey::Oct { .. }) {
            assert!(!public.has_private_material());
        }
        let _ = VerifyingKey::from_jwk(&jwk);
    }
    if let Ok(set) = JwkSet::from_json(&value) {
        let listed = value["keys"].as_array().map_or(0, Vec::len);
        assert_eq!(set.keys.len() + set.rejected.len(), listed);
        let _ = JwkSet::from_json(&set.to_json()).expect("a serialised set parses");
    }
}

/// Why the fixed access-token validator refused a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessTokenRefusal {
    Parse(JwsError),
    Typ,
    Signature(VerifyError),
    Claims(JwsError),
    Claim(&'static str),
}

/// RFC 9068 §4 validation at [`FIXED_NOW`] for [`AUDIENCE`], trusting [`ISSUER`] with the
/// fixture keys: strict parse, `typ` at+jwt, signature, claims without duplicates, `exp`,
/// `nbf`, `iss`, `aud`, `sub`. Returns the claims of an accepted token.
pub fn validate_access_token(token: &str) -> Result<JsonObject, AccessTokenRefusal> {
    let jws = Jws::parse(token).map_err(AccessTokenRefusal::Parse)?;
    let typ_ok = jws.typ().is_some_and(|t| {
        t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
    });
    if !typ_ok {
        return Err(AccessTokenRefusal::Typ);
    }
    fixed_verifier()
        .verify(&jws)
        .map_err(AccessTokenRefusal::Signature)?;
    let claims = jws.claims().map_err(AccessTokenRefusal::Claims)?;
    let date = |name| claims.get(name).and_then(Value::as_i64);
    match date("exp") {
        Some(exp) if exp > FIXED_NOW => {}
        _ => return Err(AccessTokenRefusal::Claim("exp")),
    }
    if claims.contains("nbf") && date("nbf").is_none_or(|nbf| nbf > FIXED_NOW) {
        return Err(AccessTokenRefusal::Claim("nbf"));
    }
    if claims.get_str("iss") != Some(ISSUER) {
        return Err(AccessTokenRefusal::Claim("iss"));
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == AUDIENCE,
        Some(Value::Array(items)) => items.iter().any(|a| a == AUDIENCE),
        _ => false,
    };
    if !aud_ok {
        return Err(AccessTokenRefusal::Claim("aud"));
    }
    if claims.get_str("sub").is_none() {
        return Err(AccessTokenRefusal::Claim("sub"));
    }
    Ok(claims)
}

/// Target `access_token`: [`validate_access_token`].
///
/// Invariant: an accepted token is one a fixture key signed, under an allowed algorithm and
/// the key its `kid` names, re-checked here with the key directly; and it is unexpired.
pub fn access_token(data: &[u8]) {
    let Some(token) = text(data) else { return };
    let Ok(claims) = validate_access_token(token) else {
        return;
    };
    let jws = Jws::parse(token).expect("accepted tokens parse");
    let alg = jws.alg().and_then(Algorithm::from_name).expect("named alg");
    assert!(
        ALLOWED.contains(&alg),
        "accepted alg {alg} off the allow-list"
    );
    let key = fixture_key(alg);
    if let Some(kid) = jws.kid() {
        assert_eq!(Some(kid), key.kid(), "accepted under a kid naming no key");
    }
    key.verifying_key()
        .verify(alg, jws.signing_input(), jws.signature(), true)
        .expect("accepted token's signature verifies with its key");
    assert!(
        claims
            .get("exp")
            .and_then(Value::as_i64)
            .unwrap_or(i64::MIN)
            > FIXED_NOW
    );
}

/// The thumbprint access tokens in the DPoP target are bound to: the fixture ES256 key's.
pub fn dpop_bound_jkt() -> &'static str {
    static JKT: OnceLock<String> = OnceLock::new();
    JKT.get_or_init(|| fixture_key(Algorithm::Es256).public_jwk().thumbprint())
}

/// Target `dpop_proof`: the RFC 9449 §4.3 validator against a fixed request. The input is the
/// `DPoP` header: one field value per line, so check 1 (one field) is reachable too.
///
/// Invariants: every refusal names a check 1–12 and an OAuth error code; an accepted proof
/// matches the request (method, `ath`, bound key), carries no private key, is fresh, and is
/// refused as a replay when presented again.
pub fn dpop_proof(data: &[u8]) {
    let Some(text) = text(data) else { return };
    let fields: Vec<&str> = text.split('\n').collect();
    let validator = DpopValidator::new(ValidatorConfig {
        replay_capacity: 8,
        ..ValidatorConfig::default()
    });
    let ctx = RequestContext::new(DPOP_METHOD, DPOP_URL)
        .with_access_token(ACCESS_TOKEN)
        .with_expected_jkt(dpop_bound_jkt());
    let proof = match validator.validate(&fields, &ctx, FIXED_NOW) {
        Ok(proof) => proof,
        Err(e) => {
            assert!((1..=12).contains(&e.step()), "{e:?} names no check");
            assert!(matches!(
                e.error_code(),
                crate::dpop::INVALID_DPOP_PROOF | crate::dpop::USE_DPOP_NONCE
            ));
            let _ = e.to_string();
            return;
        }
    };
    assert_eq!(proof.htm, DPOP_METHOD);
    assert_eq!(proof.jkt, proof.jwk.thumbprint());
    assert_eq!(proof.jkt, dpop_bound_jkt());
    assert!(!proof.jwk.has_private_material());
    assert!(validator.config().allowed_algs.contains(&proof.alg));
    assert!(!proof.alg.is_symmetric());
    assert!((proof.iat - FIXED_NOW).abs() <= 300);
    assert_eq!(
        proof.ath.as_deref(),
        Some(jwk::access_token_hash(ACCESS_TOKEN).as_str())
    );
    assert_eq!(
        validator.validate(&fields, &ctx, FIXED_NOW),
        Err(DpopError::Replayed),
        "an accepted proof was accepted twice"
    );
}

/// Target `round_trip`: mint → parse gives back the same header and claims, and the token
/// verifies. Input: a key selector byte, then header members and claims as two JSON objects
/// separated by a NUL byte.
pub fn round_trip(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let alg = if selector % 2 == 0 {
        Algorithm::Es256
    } else {
        Algorithm::EdDsa
    };
    let mut parts = rest.splitn(2, |&b| b == 0);
    let (Some(h), Some(c)) = (parts.next(), parts.next()) else {
        return;
    };
    let (Ok(header), Ok(claims)) = (JsonObject::parse(h), JsonObject::parse(c)) else {
        return;
    };
    let key = fixture_key(alg);
    let mut spec = TokenSpec::new();
    for (name, value) in header.members() {
        spec = spec.duplicate_header(name, value.clone());
    }
    for (name, value) in claims.members() {
        spec = spec.duplicate_claim(name, value.clone());
    }
    let token = spec.mint(key);
    let jws = Jws::parse_with(&token, &ParseOptions::lenient()).expect("a minted token parses");
    assert_same_members(jws.header().members(), spec.final_header(key).members());
    assert_same_members(
        jws.claims_lenient().expect("claims parse").members(),
        claims.members(),
    );
    let controls_key = ["alg", "kid", "crit"].iter().any(|n| header.contains(n));
    if !controls_key {
        fixed_verifier()
            .verify(&jws)
            .expect("a token minted with a fixture key verifies");
    }
}

/// The reference verdict in the differential target: `Ok` when the other implementation
/// accepts the token, `Err` with its reason when it refuses.
pub type ReferenceVerdict = Result<(), String>;

/// Our verdict in the differential target: strict parse, a verifier of ES256 and EdDSA with
/// the fixture keys (high-S accepted, as ECDSA itself does: the low-S rule is policy, not JWS),
/// claims a JSON object without duplicates.
fn our_jws_verdict(token: &str) -> Result<(), String> {
    static VERIFIER: OnceLock<Verifier> = OnceLock::new();
    let verifier = VERIFIER.get_or_init(|| {
        let algs = [Algorithm::Es256, Algorithm::EdDsa];
        Verifier::new(&algs).with_keys(algs.map(|a| fixture_key(a).verifying_key()))
    });
    let jws = Jws::parse(token).map_err(|e| format!("parse: {e}"))?;
    verifier.verify(&jws).map_err(|e| format!("verify: {e}"))?;
    jws.claims().map_err(|e| format!("claims: {e}"))?;
    Ok(())
}

/// Refusals of ours that a verifier ignoring the rule legitimately does not share: duplicate
/// member names (RFC 7515 §4, RFC 7519 §4: we refuse, serde keeps the last) and `crit`
/// (RFC 7515 §4.1.11: we refuse what we do not understand, jsonwebtoken ignores `crit`).
fn deliberate_strictness(token: &str) -> bool {
    let Ok(jws) = Jws::parse_with(token, &ParseOptions::lenient()) else {
        return false;
    };
    jws.header().contains("crit")
        || !jws.header().duplicates().is_empty()
        || jws
            .claims_lenient()
            .is_ok_and(|c| !c.duplicates().is_empty())
}

/// Target `differential_jws`: our JWS verification against another implementation on the
/// same keys (the fixture ES256 and EdDSA keys) and allow-list (ES256, EdDSA). Any
/// disagreement on accept/reject, other than [`deliberate_strictness`], panics with both
/// answers. `reference` is the other implementation (the fuzz crate passes jsonwebtoken).
pub fn differential_jws(data: &[u8], reference: &dyn Fn(&str) -> ReferenceVerdict) {
    let Some(token) = text(data) else { return };
    let ours = our_jws_verdict(token);
    let theirs = reference(token);
    if ours.is_ok() != theirs.is_ok() {
        let excused = ours.is_err() && deliberate_strictness(token);
        assert!(
            excused,
            "verifiers disagree on {token:?}\n  ours:   {ours:?}\n  theirs: {theirs:?}"
        );
    }
}

/// The checked-in fuzz material on stable, for the corpus-replay tests of every crate that
/// has fuzz targets (`tests/fuzz_corpus.rs` in mock-idp and suite).
pub mod corpus {
    use std::panic::RefUnwindSafe;
    use std::path::PathBuf;

    /// The repository's `fuzz/` folder (tests run from the source tree).
    pub fn fuzz_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
    }

    /// Every file under `fuzz/corpus/<target>` and `fuzz/regressions/<target>`, sorted by path.
    pub fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        for folder in ["corpus", "regressions"] {
            let Ok(entries) = std::fs::read_dir(fuzz_dir().join(folder).join(target)) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_file() {
                    let bytes = std::fs::read(&path)
                        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
                    out.push((path, bytes));
                }
            }
        }
        out.sort();
        out
    }

    /// Runs `entry` on every input of `target` and panics naming each input that broke an
    /// invariant (all of them, not only the first), or when the corpus is missing.
    pub fn replay(target: &str, entry: &(dyn Fn(&[u8]) + RefUnwindSafe)) {
        let inputs = inputs(target);
        assert!(
            inputs.len() >= 3,
            "fuzz/corpus/{target} has {} inputs; regenerate the seed corpus",
            inputs.len()
        );
        let failures: Vec<String> = inputs
            .iter()
            .filter(|(_, data)| std::panic::catch_unwind(|| entry(data)).is_err())
            .map(|(path, _)| path.display().to_string())
            .collect();
        assert!(
            failures.is_empty(),
            "inputs breaking {target}: {failures:?}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid_access_token(alg: Algorithm) -> String {
        TokenSpec::new()
            .typ("at+jwt")
            .iss(ISSUER)
            .aud(AUDIENCE)
            .subject("alice")
            .exp(FIXED_NOW + 300)
            .mint(fixture_key(alg))
    }

    #[test]
    fn the_fixed_validator_accepts_a_valid_token_and_refuses_its_expired_twin() {
        for alg in ALLOWED {
            let token = valid_access_token(alg);
            assert!(validate_access_token(&token).is_ok(), "{alg}");
            access_token(token.as_bytes());
        }
        let expired = TokenSpec::new()
            .typ("at+jwt")
            .iss(ISSUER)
            .aud(AUDIENCE)
            .subject("alice")
            .exp(FIXED_NOW)
            .mint(fixture_key(Algorithm::Es256));
        assert_eq!(
            validate_access_token(&expired),
            Err(AccessTokenRefusal::Claim("exp"))
        );
    }

    #[test]
    fn a_valid_proof_is_accepted_once() {
        let proof = crate::dpop::ProofBuilder::new(DPOP_METHOD, DPOP_URL)
            .now(FIXED_NOW)
            .ath_for(ACCESS_TOKEN)
            .sign(fixture_key(Algorithm::Es256));
        dpop_proof(proof.as_bytes());
    }

    #[test]
    fn entry_points_take_empty_and_garbage_input() {
        for data in [&b""[..], b"\xff\xfe", b"{}", b"a.b.c", b"\0{}\0{}"] {
            jws_compact(data);
            jose_header(data);
            jwk(data);
            access_token(data);
            dpop_proof(data);
            round_trip(data);
            differential_jws(data, &|_| Err("refused".into()));
        }
    }

    #[test]
    #[should_panic(expected = "verifiers disagree")]
    fn a_disagreement_is_a_crash() {
        differential_jws(valid_access_token(Algorithm::Es256).as_bytes(), &|_| {
            Err("refused".into())
        });
    }
}
