//! The differential target's reference: the `jsonwebtoken` crate verifying a compact JWS with
//! the same fixture keys (ES256, EdDSA) and allow-list as `mock_idp::fuzzing::differential_jws`.
//! Time and audience rules are off on both sides: only the JWS layer is compared.

use std::collections::HashSet;
use std::sync::OnceLock;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use mock_idp::fuzzing::fixture_key;

/// One key and one validation per algorithm: jsonwebtoken refuses a validation whose
/// algorithms are not all of the key's family.
struct Reference {
    es256: (DecodingKey, Validation),
    eddsa: (DecodingKey, Validation),
}

fn validation(alg: Algorithm) -> Validation {
    let mut validation = Validation::new(alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims = HashSet::new();
    validation
}

fn decoding_key(alg: mock_idp::alg::Algorithm) -> DecodingKey {
    let jwk: jsonwebtoken::jwk::Jwk =
        serde_json::from_value(fixture_key(alg).public_jwk().to_json())
            .expect("jsonwebtoken reads the fixture JWK");
    DecodingKey::from_jwk(&jwk).expect("usable fixture JWK")
}

fn reference() -> &'static Reference {
    static REFERENCE: OnceLock<Reference> = OnceLock::new();
    REFERENCE.get_or_init(|| Reference {
        es256: (
            decoding_key(mock_idp::alg::Algorithm::Es256),
            validation(Algorithm::ES256),
        ),
        eddsa: (
            decoding_key(mock_idp::alg::Algorithm::EdDsa),
            validation(Algorithm::EdDSA),
        ),
    })
}

/// jsonwebtoken's verdict on `token`: the key and validation are those of the header's `alg`
/// (jsonwebtoken takes a single key per call; any other alg meets the ES256 ones and is
/// refused); claims must be a JSON object.
pub fn verdict(token: &str) -> Result<(), String> {
    let r = reference();
    let header = jsonwebtoken::decode_header(token).map_err(|e| format!("header: {e}"))?;
    let (key, validation) = match header.alg {
        Algorithm::EdDSA => &r.eddsa,
        _ => &r.es256,
    };
    jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(token, key, validation)
        .map(|_| ())
        .map_err(|e| format!("decode: {e}"))
}
