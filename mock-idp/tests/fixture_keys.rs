//! The checked-in test keys in fixtures/keys agree with themselves: each PEM loads, its public
//! JWK file is the key's public JWK, its private JWK file carries the private members, and a
//! signature made with the PEM verifies with the key read from the JWK file.

use std::path::PathBuf;

use mock_idp::jwk::Jwk;
use mock_idp::keys::{SigningKey, VerifyingKey};
use mock_idp::keystore::{RING_ALGORITHMS, kid_for};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/keys")
}

fn read_json(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(fixtures().join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn every_fixture_key_is_consistent() {
    for alg in RING_ALGORITHMS {
        let kid = kid_for("fixture", alg);
        let pem = std::fs::read_to_string(fixtures().join(format!("{kid}.pem"))).unwrap();
        let key = SigningKey::from_pem(alg, &pem)
            .unwrap()
            .with_kid(kid.clone());
        let public = Jwk::from_json(&read_json(&format!("{kid}.jwk.json"))).unwrap();
        assert_eq!(public, key.public_jwk(), "{kid}");
        assert!(!public.has_private_material(), "{kid}");
        let private = Jwk::from_json(&read_json(&format!("{kid}.private.jwk.json"))).unwrap();
        assert!(private.private_members.contains(&"d".to_owned()), "{kid}");
        assert_eq!(private.thumbprint(), public.thumbprint(), "{kid}");
        let sig = key.sign(b"fixture");
        VerifyingKey::from_jwk(&public)
            .unwrap()
            .verify(alg, b"fixture", &sig, true)
            .unwrap();
    }
}
