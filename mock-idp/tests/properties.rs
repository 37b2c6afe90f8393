//! Invariants of the JOSE core, stated as properties (proptest).

use mock_idp::alg::Algorithm;
use mock_idp::b64;
use mock_idp::json::JsonObject;
use mock_idp::jwk::Jwk;
use mock_idp::jws::{Jws, ParseOptions, Verifier};
use mock_idp::keys::SigningKey;
use mock_idp::token::TokenSpec;
use proptest::prelude::*;
use serde_json::Value;
use std::sync::OnceLock;

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[ -~\u{e9}\u{1F600}]{0,12}".prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,5}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn object() -> impl Strategy<Value = JsonObject> {
    prop::collection::vec(("[a-z_]{1,6}", json_value()), 0..6).prop_map(|members| {
        let mut o = JsonObject::new();
        for (k, v) in members {
            o.push_duplicate(k, v);
        }
        o
    })
}

struct Keys {
    es256: SigningKey,
    eddsa: SigningKey,
    token_es256: String,
    token_eddsa: String,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let es256 = SigningKey::generate(Algorithm::Es256)
            .unwrap()
            .with_kid("k1");
        let eddsa = SigningKey::generate(Algorithm::EdDsa)
            .unwrap()
            .with_kid("k2");
        let spec = TokenSpec::access_token("https://as", "https://rs/mcp", "alice", "c", "s");
        Keys {
            token_es256: spec.mint(&es256),
            token_eddsa: spec.mint(&eddsa),
            es256,
            eddsa,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// parse ∘ serialise is the identity for JSON objects, duplicates and order included.
    #[test]
    fn json_object_round_trips(o in object()) {
        let bytes = o.to_bytes();
        let back = JsonObject::parse(&bytes).unwrap();
        prop_assert_eq!(back.members(), o.members());
        prop_assert_eq!(back.to_bytes(), bytes);
    }

    /// Base64url: strict decoding inverts encoding.
    #[test]
    fn b64_round_trips(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        prop_assert_eq!(b64::decode_strict(&b64::encode(&bytes)).unwrap(), bytes);
    }

    /// A minted token parses back to the same header and claims.
    #[test]
    fn header_and_claims_round_trip(claims in object(), typ in "[a-z+]{1,10}") {
        let k = keys();
        let mut spec = TokenSpec::new().typ(&typ);
        for (name, value) in claims.members() {
            spec = spec.duplicate_claim(name, value.clone());
        }
        let token = spec.mint(&k.es256);
        let jws = Jws::parse_with(&token, &ParseOptions::lenient()).unwrap();
        prop_assert_eq!(jws.header(), &spec.final_header(&k.es256));
        let parsed = jws.claims_lenient().unwrap();
        prop_assert_eq!(parsed.members(), claims.members());
    }

    /// Any change of any single byte of a signed token makes verification fail (or parsing).
    #[test]
    fn any_single_byte_change_breaks_the_token(pos in any::<prop::sample::Index>(), byte in any::<u8>(), eddsa in any::<bool>()) {
        let k = keys();
        let (token, key, alg) = if eddsa {
            (&k.token_eddsa, &k.eddsa, Algorithm::EdDsa)
        } else {
            (&k.token_es256, &k.es256, Algorithm::Es256)
        };
        let mut bytes = token.as_bytes().to_vec();
        let i = pos.index(bytes.len());
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        let Ok(text) = String::from_utf8(bytes) else { return Ok(()) };
        let verifier = Verifier::new(&[alg]).with_key(key.verifying_key());
        let accepted = Jws::parse(&text).ok().is_some_and(|j| verifier.verify(&j).is_ok());
        prop_assert!(!accepted, "a one-byte change at {} was accepted", i);
    }

    /// JWK serialisation round-trips and keeps the thumbprint.
    #[test]
    fn jwk_round_trips(alg in prop::sample::select(vec![Algorithm::Es256, Algorithm::Es384, Algorithm::EdDsa]), kid in "[a-z0-9-]{0,8}") {
        let key = SigningKey::generate(alg).unwrap().with_kid(kid);
        let jwk = key.public_jwk();
        let back = Jwk::from_json(&jwk.to_json()).unwrap();
        prop_assert_eq!(back.thumbprint(), jwk.thumbprint());
        prop_assert_eq!(back, jwk);
    }

    /// The compact parser never panics on arbitrary text.
    #[test]
    fn parser_never_panics(text in "[A-Za-z0-9_=+/. \\-]{0,200}") {
        let _ = Jws::parse(&text);
        let _ = Jws::parse_with(&text, &ParseOptions::lenient());
    }
}

/// Any JWK (every key type, optional members, extra members) round-trips through JSON with
/// the same thumbprint.
fn any_jwk() -> impl Strategy<Value = Jwk> {
    use mock_idp::jwk::JwkKey;
    let bytes = |n: std::ops::Range<usize>| prop::collection::vec(any::<u8>(), n);
    let key = prop_oneof![
        (bytes(32..33), bytes(32..33)).prop_map(|(x, y)| JwkKey::Ec {
            crv: "P-256".into(),
            x,
            y
        }),
        (bytes(1..300), bytes(1..4)).prop_map(|(n, e)| JwkKey::Rsa { n, e }),
        bytes(32..33).prop_map(|x| JwkKey::Okp {
            crv: "Ed25519".into(),
            x
        }),
        bytes(0..64).prop_map(|k| JwkKey::Oct { k }),
    ];
    (
        key,
        prop::option::of("[ -~]{0,12}"),
        prop::option::of("[A-Z0-9]{2,6}"),
        prop::option::of(prop::sample::select(vec!["sig", "enc"])),
        prop::option::of(prop::collection::vec("[a-z]{1,8}", 0..3)),
        prop::collection::btree_map("x_[a-z]{1,5}", json_leaf(), 0..3),
    )
        .prop_map(|(key, kid, alg, key_use, key_ops, extra)| {
            let mut jwk = Jwk::new(key);
            jwk.kid = kid;
            jwk.alg = alg;
            jwk.key_use = key_use.map(str::to_owned);
            jwk.key_ops = key_ops;
            jwk.extra = extra.into_iter().collect();
            jwk
        })
}

/// The fixed DPoP request of the fuzz targets, and a fresh validator per case (no replay
/// state shared between cases).
mod dpop_support {
    use mock_idp::alg::Algorithm;
    use mock_idp::dpop::{DpopValidator, ProofBuilder, RequestContext, ValidatorConfig};
    use mock_idp::fuzzing::{self, ACCESS_TOKEN, DPOP_METHOD, DPOP_URL, FIXED_NOW};

    pub fn builder() -> ProofBuilder {
        ProofBuilder::new(DPOP_METHOD, DPOP_URL)
            .now(FIXED_NOW)
            .jti("fixed-jti")
            .ath_for(ACCESS_TOKEN)
    }

    pub fn key() -> &'static mock_idp::keys::SigningKey {
        fuzzing::fixture_key(Algorithm::Es256)
    }

    pub fn accepted(proof: &str) -> bool {
        let validator = DpopValidator::new(ValidatorConfig::default());
        let ctx = RequestContext::new(DPOP_METHOD, DPOP_URL)
            .with_access_token(ACCESS_TOKEN)
            .with_expected_jkt(fuzzing::dpop_bound_jkt());
        validator.validate(&[proof], &ctx, FIXED_NOW).is_ok()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_jwk_round_trips(jwk in any_jwk()) {
        let back = Jwk::from_json(&jwk.to_json()).unwrap();
        prop_assert_eq!(back.thumbprint(), jwk.thumbprint());
        prop_assert_eq!(back, jwk);
    }

    /// The DPoP validator refuses a valid proof with any one header member or claim changed
    /// to any other value, signature kept.
    #[test]
    fn dpop_refuses_any_member_changed(which in any::<prop::sample::Index>(), value in json_value()) {
        let proof = dpop_support::builder().sign(dpop_support::key());
        prop_assert!(dpop_support::accepted(&proof));
        let jws = Jws::parse(&proof).unwrap();
        let (mut header, mut claims) = (jws.header().clone(), jws.claims().unwrap());
        let names: Vec<(bool, String)> = header.members().iter().map(|(n, _)| (true, n.clone()))
            .chain(claims.members().iter().map(|(n, _)| (false, n.clone())))
            .collect();
        let (in_header, name) = &names[which.index(names.len())];
        let target = if *in_header { &mut header } else { &mut claims };
        prop_assume!(target.get(name) != Some(&value));
        target.set(name.clone(), value);
        let mutated = format!(
            "{}.{}.{}",
            b64::encode(header.to_bytes()),
            b64::encode(claims.to_bytes()),
            jws.segments()[2]
        );
        prop_assert!(!dpop_support::accepted(&mutated), "{} changed and accepted", name);
    }

    /// Re-signing does not help: a proof whose htm, htu, ath, typ or iat is changed (iat out of
    /// the window) is refused even when validly signed by the bound key.
    #[test]
    fn dpop_refuses_semantic_changes_even_when_resigned(
        which in 0usize..5,
        text in "[ -~]{0,24}",
        iat_shift in prop_oneof![301i64..100_000, -100_000i64..-301],
    ) {
        use mock_idp::fuzzing::{ACCESS_TOKEN, DPOP_METHOD, DPOP_URL, FIXED_NOW};
        let b = dpop_support::builder();
        let (name, differs) = match which {
            0 => ("htm", text != DPOP_METHOD),
            1 => ("htu", text != DPOP_URL),
            2 => ("ath", text != mock_idp::jwk::access_token_hash(ACCESS_TOKEN)),
            3 => ("typ", text != "dpop+jwt"),
            _ => ("iat", true),
        };
        prop_assume!(differs);
        let b = match name {
            "typ" => b.typ(&text),
            "iat" => b.iat(FIXED_NOW + iat_shift),
            _ => b.claim(name, text.as_str()),
        };
        let proof = b.sign(dpop_support::key());
        prop_assert!(!dpop_support::accepted(&proof), "{} → {:?} accepted", name, text);
    }
}
