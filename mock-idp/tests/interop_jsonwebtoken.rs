//! Cross-check of the JOSE core against an independent implementation, the `jsonwebtoken`
//! crate: our tokens verify there with our published JWK, and its tokens verify here.

use mock_idp::alg::Algorithm;
use mock_idp::jws::{Jws, Verifier};
use mock_idp::keys::SigningKey;
use mock_idp::token::TokenSpec;

const ASYMMETRIC: [(Algorithm, jsonwebtoken::Algorithm); 5] = [
    (Algorithm::Es256, jsonwebtoken::Algorithm::ES256),
    (Algorithm::Es384, jsonwebtoken::Algorithm::ES384),
    (Algorithm::Rs256, jsonwebtoken::Algorithm::RS256),
    (Algorithm::Ps256, jsonwebtoken::Algorithm::PS256),
    (Algorithm::EdDsa, jsonwebtoken::Algorithm::EdDSA),
];

fn their_key(key: &SigningKey) -> jsonwebtoken::DecodingKey {
    let jwk: jsonwebtoken::jwk::Jwk =
        serde_json::from_value(key.public_jwk().to_json()).expect("jsonwebtoken reads our JWK");
    jsonwebtoken::DecodingKey::from_jwk(&jwk).expect("usable JWK")
}

#[test]
fn our_tokens_verify_with_jsonwebtoken() {
    for (ours, theirs) in ASYMMETRIC {
        let key = SigningKey::generate(ours).unwrap().with_kid("k1");
        let token =
            TokenSpec::access_token("https://as.test", "https://rs.test/mcp", "alice", "c1", "s")
                .mint(&key);
        let mut validation = jsonwebtoken::Validation::new(theirs);
        validation.set_audience(&["https://rs.test/mcp"]);
        validation.set_issuer(&["https://as.test"]);
        let data = jsonwebtoken::decode::<serde_json::Value>(&token, &their_key(&key), &validation)
            .unwrap_or_else(|e| panic!("{ours}: {e}"));
        assert_eq!(data.claims["sub"], "alice");
        assert_eq!(data.header.typ.as_deref(), Some("at+jwt"));
        // And a tampered payload is refused there too.
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = mock_idp::b64::encode(br#"{"sub":"mallory"}"#);
        assert!(
            jsonwebtoken::decode::<serde_json::Value>(
                &parts.join("."),
                &their_key(&key),
                &validation
            )
            .is_err()
        );
    }
}

#[test]
fn jsonwebtoken_tokens_verify_with_our_verifier() {
    for (ours, theirs) in ASYMMETRIC {
        let key = SigningKey::generate(ours).unwrap().with_kid("k1");
        let pem = key.to_pkcs8_pem().unwrap();
        let enc = match ours {
            Algorithm::Es256 | Algorithm::Es384 => {
                jsonwebtoken::EncodingKey::from_ec_pem(pem.as_bytes())
            }
            Algorithm::EdDsa => jsonwebtoken::EncodingKey::from_ed_pem(pem.as_bytes()),
            _ => jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()),
        }
        .unwrap();
        let mut header = jsonwebtoken::Header::new(theirs);
        header.kid = Some("k1".into());
        let token =
            jsonwebtoken::encode(&header, &serde_json::json!({"sub": "bob"}), &enc).unwrap();
        let jws = Jws::parse(&token).unwrap();
        // jsonwebtoken does not normalise ECDSA to low-S, so low-S is not required here.
        let verifier = Verifier::new(&[ours]).with_key(key.verifying_key());
        verifier
            .verify(&jws)
            .unwrap_or_else(|e| panic!("{ours}: {e}"));
        assert_eq!(jws.claims().unwrap().get_str("sub"), Some("bob"));
    }
}

#[test]
fn hs256_agrees_both_ways() {
    let key = SigningKey::hmac(b"0123456789abcdef0123456789abcdef").with_kid("h");
    let token = TokenSpec::new()
        .claim("sub", "carol")
        .claim("exp", 4_000_000_000i64)
        .mint(&key);
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_aud = false;
    let dk = jsonwebtoken::DecodingKey::from_secret(b"0123456789abcdef0123456789abcdef");
    jsonwebtoken::decode::<serde_json::Value>(&token, &dk, &validation).unwrap();
}
