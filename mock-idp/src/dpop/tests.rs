//! Validator tests: every algorithm accepted; for each RFC 9449 §4.3 check, proofs valid but
//! for one defect refused by exactly that check, with the defect-free twin accepted; `htu`
//! normalisation; the `iat` window; replay (bound, expiry, atomicity).

use std::sync::{Arc, Barrier, OnceLock};

use serde_json::{Value, json};

use super::*;
use crate::alg::{Algorithm, EcCurve};
use crate::jwk::{self, Jwk, JwkKey};
use crate::jws::{self, Jws};
use crate::keys::{SignatureError, SigningKey};
use crate::{b64, ecdsa};

const URL: &str = "https://mcp.test/mcp";
const NOW: i64 = 1_700_000_000;
const TOKEN: &str = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";

/// One key per algorithm for the whole test binary (RSA generation is slow).
fn key(alg: Algorithm) -> SigningKey {
    static KEYS: OnceLock<Vec<SigningKey>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        Algorithm::ALL
            .iter()
            .map(|&a| SigningKey::generate(a).unwrap())
            .collect()
    });
    keys.iter().find(|k| k.alg() == alg).unwrap().clone()
}

fn other_key(alg: Algorithm) -> SigningKey {
    static KEYS: OnceLock<Vec<SigningKey>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        [Algorithm::Es256, Algorithm::Rs256]
            .iter()
            .map(|&a| SigningKey::generate(a).unwrap())
            .collect()
    });
    keys.iter().find(|k| k.alg() == alg).unwrap().clone()
}

fn es256() -> SigningKey {
    key(Algorithm::Es256)
}

fn validator() -> DpopValidator {
    DpopValidator::new(ValidatorConfig::default())
}

/// A valid proof for POST `URL` at `NOW`.
fn base() -> ProofBuilder {
    ProofBuilder::new("POST", URL).now(NOW)
}

fn ctx() -> RequestContext<'static> {
    RequestContext::new("POST", URL)
}

/// `bad` is refused by check `step` (with the matching error code) and its defect-free twin
/// `good` is then accepted by the same validator. Returns the refusal.
fn refused_at_then_twin_accepted(
    step: u8,
    bad: (&[&str], &RequestContext<'_>),
    good: (&[&str], &RequestContext<'_>),
    v: &DpopValidator,
) -> DpopError {
    let err = v
        .validate(bad.0, bad.1, NOW)
        .expect_err(&format!("defect for check {step} was accepted"));
    assert_eq!(err.step(), step, "{err:?}");
    let code = if step == 10 {
        USE_DPOP_NONCE
    } else {
        INVALID_DPOP_PROOF
    };
    assert_eq!(err.error_code(), code, "{err:?}");
    assert!(err.message().contains(&format!("check {step}:")));
    if let Err(e) = v.validate(good.0, good.1, NOW) {
        panic!("twin of the check-{step} defect refused: {e:?}");
    }
    err
}

/// The common case: a proof defect under the default context.
fn proof_defect(
    step: u8,
    defect: impl FnOnce(ProofBuilder) -> ProofBuilder,
    key: &SigningKey,
) -> DpopError {
    let b = base();
    let bad = defect(b.clone()).sign(key);
    let good = b.sign(key);
    refused_at_then_twin_accepted(step, (&[&bad], &ctx()), (&[&good], &ctx()), &validator())
}

#[test]
fn a_valid_proof_passes_for_every_default_algorithm() {
    for alg in [
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::Rs256,
        Algorithm::Ps256,
        Algorithm::EdDsa,
    ] {
        let k = key(alg);
        let b = base().nonce("n");
        let proof = b.sign(&k);
        let got = validator()
            .validate(&[&proof], &ctx(), NOW)
            .unwrap_or_else(|e| panic!("{alg}: {e:?}"));
        assert_eq!(got.alg, alg);
        assert_eq!(got.jkt, k.public_jwk().thumbprint());
        assert_eq!(got.jwk.thumbprint(), got.jkt);
        assert_eq!(got.iat, NOW);
        assert_eq!(got.htm, "POST");
        assert_eq!(got.htu, URL);
        assert_eq!(got.nonce.as_deref(), Some("n"));
        assert_eq!(Some(got.jti.as_str()), b.jti_value());
    }
    // ES512 is not in the default list but is accepted when configured.
    let v = DpopValidator::new(ValidatorConfig {
        allowed_algs: vec![Algorithm::Es512],
        ..ValidatorConfig::default()
    });
    let proof = base().sign(&key(Algorithm::Es512));
    assert!(v.validate(&[&proof], &ctx(), NOW).is_ok());
}

#[test]
fn a_resource_server_proof_with_ath_and_bound_key_passes() {
    let k = es256();
    let jkt = k.public_jwk().thumbprint();
    let proof = base().ath_for(TOKEN).sign(&k);
    let c = ctx().with_access_token(TOKEN).with_expected_jkt(&jkt);
    let got = validator().validate(&[&proof], &c, NOW).unwrap();
    assert_eq!(
        got.ath.as_deref(),
        Some(jwk::access_token_hash(TOKEN).as_str())
    );
}

#[test]
fn validator_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<DpopValidator>();
    assert_send_sync::<Arc<DpopValidator>>();
}

// ---- check 1 ----

#[test]
fn check_1_exactly_one_dpop_field() {
    let k = es256();
    let b = base();
    let (p1, p2) = (b.sign(&k), base().sign(&k));
    let joined = format!("{p1}, {p2}");
    let cases: [(&[&str], &str); 4] = [
        (&[], "none"),
        (&[&p1, &p2], "two fields"),
        (&[&p1, &p1], "the same proof twice"),
        (&[&joined], "one field, two proofs"),
    ];
    for (values, name) in cases {
        let v = validator();
        let err = refused_at_then_twin_accepted(1, (values, &ctx()), (&[&p1], &ctx()), &v);
        match name {
            "none" => assert_eq!(err, DpopError::MissingHeader),
            "one field, two proofs" => assert_eq!(err, DpopError::MultipleValues { count: 2 }),
            _ => assert_eq!(err, DpopError::MultipleHeaders { count: 2 }),
        }
    }
}

// ---- check 2 ----

#[test]
fn check_2_a_single_well_formed_jwt() {
    let k = es256();
    let good = base().sign(&k);
    let [h, p, s] = Jws::parse(&good).unwrap().segments().map(str::to_owned);
    let (header, _) = base().parts(&k);
    let not_json = jws::sign_raw(&header.to_bytes(), b"not json", &k);
    let array = jws::sign_raw(&header.to_bytes(), b"[1]", &k);
    let dup_claim = base().duplicate_claim("htm", "POST").sign(&k);
    let dup_header = base().duplicate_header("typ", "dpop+jwt").sign(&k);
    let crit = base()
        .header("crit", json!(["x-ext"]))
        .header("x-ext", 1)
        .sign(&k);
    let oversized = base().claim("pad", "x".repeat(9000)).sign(&k);
    let padded = format!("{h}.{p}.{s}=");
    for bad in [
        "abc".to_owned(),
        String::new(),
        format!("{h}.{p}"),
        format!("{h}.{p}.{s}.{p}.{s}"),
        padded,
        format!("{h}.{p}.{s} x"),
        not_json,
        array,
        dup_claim,
        dup_header,
        crit,
        oversized.clone(),
    ] {
        // Each value is refused by check 2; the twin is a fresh valid proof.
        let twin = base().sign(&k);
        refused_at_then_twin_accepted(2, (&[&bad], &ctx()), (&[&twin], &ctx()), &validator());
    }
    assert!(matches!(
        validator().validate(&[&oversized], &ctx(), NOW),
        Err(DpopError::TooLarge { max: 8192, .. })
    ));
    // The limit is configurable, and applies to the whole proof.
    let v = DpopValidator::new(ValidatorConfig {
        max_proof_bytes: good.len() - 1,
        ..ValidatorConfig::default()
    });
    assert!(matches!(
        v.validate(&[&good], &ctx(), NOW),
        Err(DpopError::TooLarge { .. })
    ));
}

// ---- check 3 ----

#[test]
fn check_3_required_members() {
    let k = es256();
    for name in ["typ", "alg", "jwk"] {
        let err = proof_defect(3, |b| b.remove_header(name), &k);
        assert_eq!(
            err,
            DpopError::MissingMember {
                part: Part::Header,
                name
            }
        );
    }
    for name in ["jti", "htm", "htu", "iat"] {
        let err = proof_defect(3, |b| b.remove_claim(name), &k);
        assert_eq!(
            err,
            DpopError::MissingMember {
                part: Part::Claims,
                name
            }
        );
    }
    // alg renamed (present as alg2 only).
    proof_defect(3, |b| b.remove_header("alg").header("alg2", "ES256"), &k);
}

#[test]
fn check_3_ath_is_required_when_an_access_token_is_presented() {
    let k = es256();
    let with_token = ctx().with_access_token(TOKEN);
    let bad = base().sign(&k);
    let good = base().ath_for(TOKEN).sign(&k);
    let err = refused_at_then_twin_accepted(
        3,
        (&[&bad], &with_token),
        (&[&good], &with_token),
        &validator(),
    );
    assert_eq!(
        err,
        DpopError::MissingMember {
            part: Part::Claims,
            name: "ath"
        }
    );
    // Without an access token (token endpoint) ath is neither required nor checked (OQ-26).
    let bogus_ath = base().ath("bogus").sign(&k);
    assert!(validator().validate(&[&bogus_ath], &ctx(), NOW).is_ok());
}

// ---- check 4 ----

#[test]
fn check_4_typ_is_exactly_dpop_jwt() {
    let k = es256();
    for typ in [
        json!("JWT"),
        json!("at+jwt"),
        json!("DPOP+JWT"),
        json!("application/dpop+jwt"),
        json!("dpop+jwt+wrongyousee"),
        json!(" dpop+jwt"),
        json!(1),
        json!(null),
    ] {
        let err = proof_defect(4, |b| b.header("typ", typ.clone()), &k);
        assert!(matches!(err, DpopError::WrongTyp(_)));
    }
}

// ---- check 5 ----

#[test]
fn check_5_alg_none_symmetric_unknown_or_unsupported() {
    let k = es256();
    for none in ["none", "nOnE"] {
        let err = proof_defect(5, |b| b.alg(none).signature(SignatureMode::Empty), &k);
        assert_eq!(err, DpopError::AlgNone(none.into()));
    }
    let err = proof_defect(5, |b| b.alg("ES999"), &k);
    assert_eq!(err, DpopError::AlgUnsupported("ES999".into()));
    let err = proof_defect(5, |b| b.alg("HS512"), &k);
    assert_eq!(err, DpopError::AlgSymmetric("HS512".into()));
    let err = proof_defect(5, |b| b.header("alg", 7), &k);
    assert!(matches!(err, DpopError::AlgNotString(_)));

    // HS256 MACed with the oct key it embeds: refused even when HS256 is configured.
    let hmac = SigningKey::hmac(b"0123456789abcdef0123456789abcdef");
    let v = DpopValidator::new(ValidatorConfig {
        allowed_algs: vec![Algorithm::Hs256, Algorithm::Es256],
        ..ValidatorConfig::default()
    });
    let bad = base().sign(&hmac);
    assert_eq!(
        Jws::parse(&bad).unwrap().header().get("jwk").unwrap()["kty"],
        "oct"
    );
    let good = base().sign(&k);
    let err = refused_at_then_twin_accepted(5, (&[&bad], &ctx()), (&[&good], &ctx()), &v);
    assert_eq!(err, DpopError::AlgSymmetric("HS256".into()));
}

#[test]
fn check_5_alg_outside_the_allow_list() {
    // An RS256 proof (valid RSA-2048 key) when only ES256 is accepted.
    let v = DpopValidator::new(ValidatorConfig {
        allowed_algs: vec![Algorithm::Es256],
        ..ValidatorConfig::default()
    });
    let bad = base().sign(&key(Algorithm::Rs256));
    let good = base().sign(&es256());
    let err = refused_at_then_twin_accepted(5, (&[&bad], &ctx()), (&[&good], &ctx()), &v);
    assert_eq!(err, DpopError::AlgNotAllowed(Algorithm::Rs256));
    // ES512 is not in the default list.
    let es512 = key(Algorithm::Es512);
    let bad = base().sign(&es512);
    let good = base().sign(&es256());
    refused_at_then_twin_accepted(5, (&[&bad], &ctx()), (&[&good], &ctx()), &validator());
}

#[test]
fn check_5_alg_must_fit_the_jwk() {
    let es384 = key(Algorithm::Es384);
    // alg ES256 over a P-384 key (signed with ES384, so only the header lies).
    let err = proof_defect(5, |b| b.alg("ES256"), &es384);
    assert!(matches!(
        err,
        DpopError::AlgKeyMismatch {
            alg: Algorithm::Es256,
            ..
        }
    ));
    // alg ES256 with an RSA jwk.
    let rsa = key(Algorithm::Rs256);
    proof_defect(5, |b| b.alg("ES256"), &rsa);
    // alg EdDSA with an Ed448 jwk.
    let ed = key(Algorithm::EdDsa);
    let mut ed448 = jwk_json(&ed);
    ed448["crv"] = json!("Ed448");
    proof_defect(5, |b| b.header("jwk", ed448.clone()), &ed);
    // The jwk restricts itself to another alg.
    let mut restricted = jwk_json(&es384);
    restricted["alg"] = json!("ES512");
    let err = proof_defect(5, |b| b.header("jwk", restricted.clone()), &es384);
    assert!(matches!(err, DpopError::AlgKeyMismatch { .. }));
    // ...while the matching alg member, kid, use and key_ops are accepted (thumbprint unchanged).
    let mut decorated = jwk_json(&es384);
    decorated["alg"] = json!("ES384");
    decorated["kid"] = json!("k");
    decorated["use"] = json!("sig");
    decorated["key_ops"] = json!(["verify"]);
    let proof = base().header("jwk", decorated).sign(&es384);
    let jkt = es384.public_jwk().thumbprint();
    let c = ctx().with_expected_jkt(&jkt);
    assert!(validator().validate(&[&proof], &c, NOW).is_ok());
}

/// The key's minimal public JWK as JSON.
fn jwk_json(k: &SigningKey) -> Value {
    proof::minimal_public_jwk(k).to_json()
}

// ---- check 6 ----

#[test]
fn check_6_signature_verifies_with_the_embedded_jwk() {
    let k = es256();
    let err = proof_defect(6, ProofBuilder::corrupt_signature, &k);
    assert!(matches!(err, DpopError::BadSignature(_)));
    // Signed by key B while the header carries key A.
    let err = proof_defect(6, |b| b.signed_by(&other_key(Algorithm::Es256)), &k);
    assert_eq!(err, DpopError::BadSignature(SignatureError::Invalid));
    // RSA and EdDSA too.
    for alg in [Algorithm::Rs256, Algorithm::Ps256, Algorithm::EdDsa] {
        proof_defect(6, ProofBuilder::corrupt_signature, &key(alg));
    }
    // "Psychic" all-zero ECDSA signature; a DER-encoded signature.
    proof_defect(6, |b| b.signature(SignatureMode::Raw(vec![0; 64])), &k);
    let der = {
        let jws = Jws::parse(&base().sign(&k)).unwrap();
        ecdsa::raw_to_der(jws.signature())
    };
    proof_defect(6, |b| b.signature(SignatureMode::Raw(der.clone())), &k);
}

#[test]
fn check_6_the_jwk_must_be_a_valid_public_key() {
    let k = es256();
    // A point off the curve (y changed), the proof otherwise signed by k.
    let mut off_curve = proof::minimal_public_jwk(&k);
    if let JwkKey::Ec { y, .. } = &mut off_curve.key {
        y[31] ^= 1;
    }
    let err = proof_defect(6, |b| b.jwk(&off_curve), &k);
    assert!(matches!(err, DpopError::InvalidJwk(_)));
    // A 31-byte coordinate; an unknown kty; a jwk that is not an object.
    let mut short = jwk_json(&k);
    short["x"] = json!(b64::encode([1u8; 31]));
    proof_defect(6, |b| b.header("jwk", short.clone()), &k);
    proof_defect(6, |b| b.header("jwk", json!({"kty": "XYZ"})), &k);
    proof_defect(6, |b| b.header("jwk", "not a jwk"), &k);
}

/// An RS256 proof by a 1024-bit RSA key (made with OpenSSL: aws-lc cannot sign with one), for
/// POST https://mcp.test/mcp at iat 1700000000, jti "weak-rsa-1".
const WEAK_RSA_PROOF: &str = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IlJTMjU2IiwiandrIjp7Imt0eSI6IlJTQSIsIm4iOiJ0SVlfYVlrNUd2cklja0h1OU11N083XzlNemttTDBGZ3U2UXF1VnNNQmlBVnNUMk4weEJlOUc2X01CUldHLVdwR29GRTdRbnpCWWM0aThBMkNGdTV5dEk2N3NNbWExandCdWJTbGZlZ3FyNzBtSTJsYnJNOWlLcjRxMkdDNU00bVlBaHZPcHBmUWJWR0RFM3R3QnZCYjNxOHJwVDh6bUhNTjlXYm1TUC0zLWsiLCJlIjoiQVFBQiJ9fQ.eyJqdGkiOiJ3ZWFrLXJzYS0xIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vbWNwLnRlc3QvbWNwIiwiaWF0IjoxNzAwMDAwMDAwfQ.RovXcUmmgAvYyIPm4si1KM-r4Zd8MZAc56aph1O1ex5Y9fq1DJNled_giIESPvQdEXm2YcyvJWu2SqCfeq_KVvyta_gSLsImoVGhOrQq5J3-7o7e37d9poAGrkM15hE4NzYtQ9X0FL4jEATDrMZqMaqR5YTYmwyWvVcNjVr-cVo";

#[test]
fn check_6_rsa_keys_under_2048_bits_are_refused() {
    assert_eq!(
        validator().validate(&[WEAK_RSA_PROOF], &ctx(), NOW),
        Err(DpopError::WeakRsaKey { bits: 1024 })
    );
    // Its only defect is the key size: the signature is valid under a legacy 1024-bit verifier.
    let jws = Jws::parse(WEAK_RSA_PROOF).unwrap();
    let jwk = Jwk::from_json(jws.header().get("jwk").unwrap()).unwrap();
    let JwkKey::Rsa { n, e } = &jwk.key else {
        panic!("RSA jwk expected")
    };
    use aws_lc_rs::signature::{
        RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY, RsaPublicKeyComponents,
    };
    assert!(
        RsaPublicKeyComponents { n, e }
            .verify(
                &RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
                jws.signing_input(),
                jws.signature()
            )
            .is_ok()
    );
}

// ---- check 7 ----

#[test]
fn check_7_no_private_key_in_jwk() {
    for alg in [Algorithm::Es256, Algorithm::Rs256, Algorithm::EdDsa] {
        let err = proof_defect(7, ProofBuilder::private_jwk, &key(alg));
        let DpopError::PrivateKeyInJwk(members) = err else {
            panic!("{alg}: {err:?}")
        };
        assert!(members.contains(&"d".to_owned()), "{alg}");
    }
}

// ---- check 8 ----

#[test]
fn check_8_htm_is_the_method_case_included() {
    let k = es256();
    for htm in [
        json!("GET"),
        json!("PUT"),
        json!("post"),
        json!("POST "),
        json!(1),
    ] {
        let err = proof_defect(8, |b| b.claim("htm", htm.clone()), &k);
        assert!(matches!(err, DpopError::HtmMismatch { .. }));
    }
}

// ---- check 9 ----

#[test]
fn check_9_htu_names_the_request_uri() {
    let k = es256();
    for variant in [
        HtuVariant::TrailingSlash,
        HtuVariant::Host("other.test".into()),
        HtuVariant::Port(8443),
        HtuVariant::Scheme("http".into()),
        HtuVariant::Path("/other-mcp".into()),
        HtuVariant::Path("/MCP".into()),
    ] {
        let err = proof_defect(9, |b| b.htu_variant(variant.clone()), &k);
        assert!(matches!(err, DpopError::HtuMismatch { .. }), "{variant:?}");
    }
    for htu in [
        json!("/mcp"),
        json!("mcp.test/mcp"),
        json!(42),
        json!("https://mcp.test/m cp"),
    ] {
        let err = proof_defect(9, |b| b.claim("htu", htu.clone()), &k);
        assert!(matches!(err, DpopError::HtuInvalid { .. }), "{htu}");
    }
    // The AS token endpoint is another URI.
    proof_defect(9, |b| b.htu("https://as.test/token"), &k);
}

#[test]
fn check_9_htu_is_compared_after_normalisation() {
    let k = es256();
    let v = validator();
    for htu in [
        "HTTPS://MCP.test:443/mcp?x#y",
        "https://mcp.test/mcp?x=1#frag",
        "https://MCP.TEST/mcp",
        "https://mcp.test:443/mcp",
        "https://mcp.test/%6Dcp",
        "https://mcp.test/m%63p",
    ] {
        let proof = base().htu(htu).sign(&k);
        assert!(v.validate(&[&proof], &ctx(), NOW).is_ok(), "{htu}");
    }
    for variant in [
        HtuVariant::UpperCaseSchemeHost,
        HtuVariant::ExplicitDefaultPort,
        HtuVariant::PercentEncodeUnreserved,
        HtuVariant::QueryFragment {
            query: Some("x=1".into()),
            fragment: Some("f".into()),
        },
    ] {
        let proof = base().htu_variant(variant.clone()).sign(&k);
        assert!(v.validate(&[&proof], &ctx(), NOW).is_ok(), "{variant:?}");
    }
    // The request itself may carry a query; a %7E in the request matches ~ in htu.
    let proof = base().sign(&k);
    let c = RequestContext::new("POST", "https://mcp.test/mcp?session=1");
    assert!(v.validate(&[&proof], &c, NOW).is_ok());
    let proof = base().htu("https://mcp.test/~u").sign(&k);
    let c = RequestContext::new("POST", "https://mcp.test/%7Eu");
    assert!(v.validate(&[&proof], &c, NOW).is_ok());
    // An unusable request URL is reported, not matched.
    let proof = base().sign(&k);
    let c = RequestContext::new("POST", "/mcp");
    assert!(matches!(
        v.validate(&[&proof], &c, NOW),
        Err(DpopError::RequestUrlInvalid { .. })
    ));
}

// ---- check 10 ----

#[test]
fn check_10_nonce_when_the_server_demands_one() {
    let k = es256();
    let accept = |n: &str| n == "server-nonce-1";
    let c = ctx().with_nonce(NonceCheck::Required(&accept));
    let good = base().nonce("server-nonce-1").sign(&k);
    for (bad, expected) in [
        (base().sign(&k), DpopError::NonceMissing),
        (base().nonce("bogus").sign(&k), DpopError::NonceInvalid),
        (base().nonce("").sign(&k), DpopError::NonceInvalid),
        (
            base().claim("nonce", json!(["server-nonce-1"])).sign(&k),
            DpopError::NonceInvalid,
        ),
    ] {
        let err = refused_at_then_twin_accepted(10, (&[&bad], &c), (&[&good], &c), &validator());
        assert_eq!(err, expected);
        assert_eq!(err.error_code(), "use_dpop_nonce");
    }
    // Not demanded: any nonce claim is ignored.
    let proof = base().nonce("anything").sign(&k);
    assert!(validator().validate(&[&proof], &ctx(), NOW).is_ok());
}

// ---- check 11 ----

#[test]
fn check_11_iat_window() {
    let k = es256();
    for offset in [-360, 360, -3600, 3600, -301, 301] {
        let err = proof_defect(11, |b| b.iat_offset(offset), &k);
        assert!(
            matches!(
                err,
                DpopError::IatTooOld { .. } | DpopError::IatInFuture { .. }
            ),
            "{offset}"
        );
        assert_eq!(matches!(err, DpopError::IatTooOld { .. }), offset < 0);
    }
    let v = validator();
    for offset in [-10, 10, -300, 300, 0] {
        let proof = base().iat_offset(offset).sign(&k);
        assert!(v.validate(&[&proof], &ctx(), NOW).is_ok(), "{offset}");
    }
    // A narrower configured window.
    let strict = DpopValidator::new(ValidatorConfig {
        iat_past_secs: 5,
        iat_future_secs: 0,
        ..ValidatorConfig::default()
    });
    for (offset, ok) in [(-5, true), (-6, false), (0, true), (1, false)] {
        let proof = base().iat_offset(offset).sign(&k);
        assert_eq!(
            strict.validate(&[&proof], &ctx(), NOW).is_ok(),
            ok,
            "{offset}"
        );
    }
}

#[test]
fn check_11_iat_is_a_numeric_date() {
    let k = es256();
    for iat in [
        json!(NOW.to_string()),
        json!(null),
        json!(true),
        json!([NOW]),
    ] {
        let err = proof_defect(11, |b| b.claim("iat", iat.clone()), &k);
        assert!(matches!(err, DpopError::IatNotNumeric(_)), "{iat}");
    }
    // A fractional NumericDate is valid.
    let proof = base().claim("iat", json!(NOW as f64 + 0.5)).sign(&k);
    assert_eq!(
        validator().validate(&[&proof], &ctx(), NOW).unwrap().iat,
        NOW
    );
}

#[test]
fn check_11_exp_and_nbf() {
    let k = es256();
    let err = proof_defect(11, |b| b.claim("exp", NOW - 60), &k);
    assert_eq!(
        err,
        DpopError::Expired {
            exp: NOW - 60,
            now: NOW
        }
    );
    proof_defect(11, |b| b.claim("exp", NOW), &k);
    proof_defect(11, |b| b.claim("exp", "soon"), &k);
    proof_defect(11, |b| b.claim("nbf", NOW + 3600), &k);
    // Valid nbf and exp are tolerated.
    let proof = base().claim("nbf", NOW).claim("exp", NOW + 300).sign(&k);
    assert!(validator().validate(&[&proof], &ctx(), NOW).is_ok());
}

#[test]
fn check_11_jti_must_be_usable() {
    let k = es256();
    for defect in [
        ProofBuilder::empty_jti as fn(ProofBuilder) -> ProofBuilder,
        |b| b.huge_jti(257),
        |b| b.huge_jti(4000),
        |b| b.claim("jti", 12345),
        |b| b.claim("jti", json!(null)),
    ] {
        let err = proof_defect(11, defect, &k);
        assert!(matches!(err, DpopError::BadJti(_)), "{err:?}");
    }
    // 256 bytes is the largest accepted by default.
    let proof = base().huge_jti(256).sign(&k);
    assert!(validator().validate(&[&proof], &ctx(), NOW).is_ok());
    // A 64 KB jti never gets that far: the proof is too large (check 2).
    let proof = base().huge_jti(64 * 1024).sign(&k);
    assert!(matches!(
        validator().validate(&[&proof], &ctx(), NOW),
        Err(DpopError::TooLarge { .. })
    ));
}

// ---- check 12 ----

#[test]
fn check_12_ath_is_the_hash_of_the_presented_token() {
    let k = es256();
    let c = ctx().with_access_token(TOKEN);
    let good = base().ath_for(TOKEN).sign(&k);
    let digest = b64::decode_strict(&jwk::access_token_hash(TOKEN)).unwrap();
    let std_padded = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&digest)
    };
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    for bad_ath in [
        json!(jwk::access_token_hash("another-token")),
        json!(std_padded),
        json!(hex),
        json!(jwk::access_token_hash(&format!("DPoP {TOKEN}"))),
        json!(""),
        json!(42),
    ] {
        let bad = base().claim("ath", bad_ath.clone()).sign(&k);
        let err = refused_at_then_twin_accepted(12, (&[&bad], &c), (&[&good], &c), &validator());
        assert_eq!(err, DpopError::AthMismatch, "{bad_ath}");
        assert!(err.is_binding_failure());
    }
}

#[test]
fn check_12_the_proof_key_is_the_bound_key() {
    // The token is bound to K_c; the proof, valid in every other respect, is by K_c2.
    let kc = es256();
    let kc2 = other_key(Algorithm::Es256);
    let jkt = kc.public_jwk().thumbprint();
    let c = ctx().with_access_token(TOKEN).with_expected_jkt(&jkt);
    let bad = base().ath_for(TOKEN).sign(&kc2);
    let good = base().ath_for(TOKEN).sign(&kc);
    let err = refused_at_then_twin_accepted(12, (&[&bad], &c), (&[&good], &c), &validator());
    assert_eq!(
        err,
        DpopError::JktMismatch {
            found: kc2.public_jwk().thumbprint(),
            expected: jkt.clone()
        }
    );
    // Also without an access token (a code or refresh token bound to a key, RFC 9449 §5, §10).
    let c = ctx().with_expected_jkt(&jkt);
    let bad = base().sign(&kc2);
    let good = base().sign(&kc);
    refused_at_then_twin_accepted(12, (&[&bad], &c), (&[&good], &c), &validator());
}

// ---- replay (RFC 9449 §11.1, reported as check 11) ----

#[test]
fn replay_the_same_proof_twice_is_refused() {
    let k = es256();
    let v = validator();
    let proof = base().sign(&k);
    assert!(v.validate(&[&proof], &ctx(), NOW).is_ok());
    let err = v.validate(&[&proof], &ctx(), NOW + 1).unwrap_err();
    assert_eq!(err, DpopError::Replayed);
    assert_eq!(err.step(), 11);
    assert_eq!(err.error_code(), INVALID_DPOP_PROOF);
    // Same jti with a malleated (n - s) ECDSA signature: a different string, still a replay.
    let jws = Jws::parse(&proof).unwrap();
    let flipped = ecdsa::flip_s(EcCurve::P256, jws.signature());
    let [h, p, _] = jws.segments();
    let malleated = format!("{h}.{p}.{}", b64::encode(flipped));
    assert_ne!(malleated, proof);
    assert_eq!(
        v.validate(&[&malleated], &ctx(), NOW + 1),
        Err(DpopError::Replayed)
    );
    // The same jti for another URI is a different proof context (RFC 9449 §11.1).
    let b = base();
    let elsewhere = b.clone().htu("https://mcp.test/other").sign(&k);
    let here = b.sign(&k);
    assert!(v.validate(&[&here], &ctx(), NOW).is_ok());
    let c = RequestContext::new("POST", "https://mcp.test/other");
    assert!(v.validate(&[&elsewhere], &c, NOW).is_ok());
}

#[test]
fn replay_refused_proofs_do_not_burn_their_jti() {
    let k = es256();
    let v = validator();
    let accept = |n: &str| n == "n1";
    let c = ctx().with_nonce(NonceCheck::Required(&accept));
    let b = base().jti("fixed-jti");
    let without_nonce = b.clone().sign(&k);
    assert_eq!(
        v.validate(&[&without_nonce], &c, NOW),
        Err(DpopError::NonceMissing)
    );
    let with_nonce = b.nonce("n1").sign(&k);
    assert!(v.validate(&[&with_nonce], &c, NOW).is_ok());
    assert_eq!(v.replay_cache().len(), 1);
}

#[test]
fn replay_cache_is_bounded_evicts_the_oldest_and_never_readmits_it() {
    let k = es256();
    let v = DpopValidator::new(ValidatorConfig {
        replay_capacity: 3,
        ..ValidatorConfig::default()
    });
    let proofs: Vec<String> = (0..4).map(|i| base().iat(NOW - 4 + i).sign(&k)).collect();
    for p in &proofs {
        assert!(v.validate(&[p], &ctx(), NOW).is_ok());
        assert!(v.replay_cache().len() <= 3);
    }
    // Capacity 3, fourth proof: accepted, the oldest (iat NOW-4) evicted.
    assert_eq!(v.replay_cache().len(), 3);
    // The evicted proof is still refused (the floor), the others as plain replays.
    assert!(matches!(
        v.validate(&[&proofs[0]], &ctx(), NOW),
        Err(DpopError::ReplayHorizon { .. })
    ));
    for p in &proofs[1..] {
        assert_eq!(v.validate(&[p], &ctx(), NOW), Err(DpopError::Replayed));
    }
    // A fresh proof no newer than the evicted one cannot be vouched for; a newer one is fine.
    let old = base().iat(NOW - 4).sign(&k);
    let err = v.validate(&[&old], &ctx(), NOW).unwrap_err();
    assert_eq!(err.step(), 11);
    assert!(matches!(err, DpopError::ReplayHorizon { .. }));
    let fresh = base().sign(&k);
    assert!(v.validate(&[&fresh], &ctx(), NOW).is_ok());
    assert_eq!(v.replay_cache().len(), 3);
}

#[test]
fn replay_entries_expire_with_the_iat_window() {
    let k = es256();
    let v = DpopValidator::new(ValidatorConfig {
        replay_capacity: 3,
        ..ValidatorConfig::default()
    });
    let a = base().sign(&k);
    let b = base().sign(&k);
    assert!(v.validate(&[&a], &ctx(), NOW).is_ok());
    assert!(v.validate(&[&b], &ctx(), NOW).is_ok());
    // At NOW + 300 both are still acceptable by iat, so still remembered.
    assert_eq!(
        v.validate(&[&a], &ctx(), NOW + 300),
        Err(DpopError::Replayed)
    );
    assert_eq!(v.replay_cache().len(), 2);
    // At NOW + 301 the window refuses them by iat...
    assert!(matches!(
        v.validate(&[&a], &ctx(), NOW + 301),
        Err(DpopError::IatTooOld { .. })
    ));
    // ...and the next call purges their entries.
    let later = NOW + 400;
    let p = ProofBuilder::new("POST", URL).now(later).sign(&k);
    assert!(v.validate(&[&p], &ctx(), later).is_ok());
    assert_eq!(v.replay_cache().len(), 1, "a and b expired");
    assert_eq!(v.replay_cache().floor(), NOW + 300);
}

#[test]
fn replay_detection_can_be_disabled() {
    let v = DpopValidator::new(ValidatorConfig {
        replay_capacity: 0,
        ..ValidatorConfig::default()
    });
    let proof = base().sign(&es256());
    assert!(v.validate(&[&proof], &ctx(), NOW).is_ok());
    assert!(v.validate(&[&proof], &ctx(), NOW).is_ok());
}

#[test]
fn replay_check_is_atomic_under_concurrency() {
    const THREADS: usize = 32;
    let k = es256();
    let v = Arc::new(validator());
    for round in 0..20 {
        let proof = Arc::new(base().sign(&k));
        let barrier = Arc::new(Barrier::new(THREADS));
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let (v, proof, barrier) = (v.clone(), proof.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    v.validate(&[proof.as_str()], &ctx(), NOW)
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let ok = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(ok, 1, "round {round}: {ok} successes");
        assert!(
            results
                .iter()
                .filter_map(|r| r.as_ref().err())
                .all(|e| *e == DpopError::Replayed)
        );
    }
}

/// Each skipped check lets exactly its defect through (and the claim it reads may be absent);
/// every other defect is still refused. These build the reference server's DPoP faults.
#[test]
fn skipped_checks_let_only_their_defect_through() {
    let k = es256();
    let jkt = minimal_public_jwk_thumbprint(&k);
    let rs_ctx = || {
        RequestContext::new("POST", URL)
            .with_access_token(TOKEN)
            .with_expected_jkt(&jkt)
    };
    let cases: [(SkippedCheck, ProofBuilder); 10] = [
        (SkippedCheck::Typ, base().ath_for(TOKEN).typ("JWT")),
        (
            SkippedCheck::Signature,
            base().ath_for(TOKEN).corrupt_signature(),
        ),
        (
            SkippedCheck::PrivateJwk,
            base().ath_for(TOKEN).private_jwk(),
        ),
        (SkippedCheck::Htm, base().ath_for(TOKEN).remove_claim("htm")),
        (
            SkippedCheck::Htu,
            base().ath_for(TOKEN).htu("https://other.test/x"),
        ),
        (SkippedCheck::Iat, base().ath_for(TOKEN).iat_offset(-3600)),
        (SkippedCheck::Ath, base()),
        (
            SkippedCheck::Jkt,
            base()
                .ath_for(TOKEN)
                .signed_by(&other_key(Algorithm::Es256))
                .jwk_of(&other_key(Algorithm::Es256)),
        ),
        (
            SkippedCheck::ExpNbf,
            base().ath_for(TOKEN).claim("exp", NOW - 60),
        ),
        (SkippedCheck::JtiBounds, base().ath_for(TOKEN).empty_jti()),
    ];
    for (skipped, defective) in &cases {
        let lenient = DpopValidator::new(ValidatorConfig {
            skipped: vec![*skipped],
            ..ValidatorConfig::default()
        });
        let proof = defective.sign(&k);
        assert!(
            lenient.validate(&[&proof], &rs_ctx(), NOW).is_ok(),
            "{skipped:?} lets its defect through"
        );
        assert!(
            validator().validate(&[&proof], &rs_ctx(), NOW).is_err(),
            "{skipped:?}: the strict validator refuses it"
        );
        for (other, other_defect) in &cases {
            if other == skipped {
                continue;
            }
            let proof = other_defect.sign(&k);
            assert!(
                lenient.validate(&[&proof], &rs_ctx(), NOW).is_err(),
                "skipping {skipped:?} lets {other:?}'s defect through"
            );
        }
    }
}

fn minimal_public_jwk_thumbprint(key: &SigningKey) -> String {
    super::proof::minimal_public_jwk(key).thumbprint()
}
