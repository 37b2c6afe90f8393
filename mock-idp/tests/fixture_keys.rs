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

/// The ring with kid prefix `prefix` in `folder` (under fixtures/keys) is consistent.
fn ring_is_consistent(folder: &str, prefix: &str) {
    for alg in RING_ALGORITHMS {
        let kid = kid_for(prefix, alg);
        let file = |suffix: &str| format!("{folder}{kid}{suffix}");
        let pem = std::fs::read_to_string(fixtures().join(file(".pem"))).unwrap();
        let key = SigningKey::from_pem(alg, &pem)
            .unwrap()
            .with_kid(kid.clone());
        let public = Jwk::from_json(&read_json(&file(".jwk.json"))).unwrap();
        assert_eq!(public, key.public_jwk(), "{kid}");
        assert!(!public.has_private_material(), "{kid}");
        let private = Jwk::from_json(&read_json(&file(".private.jwk.json"))).unwrap();
        assert!(private.private_members.contains(&"d".to_owned()), "{kid}");
        assert_eq!(private.thumbprint(), public.thumbprint(), "{kid}");
        let sig = key.sign(b"fixture");
        VerifyingKey::from_jwk(&public)
            .unwrap()
            .verify(alg, b"fixture", &sig, true)
            .unwrap();
    }
}

#[test]
fn every_fixture_key_is_consistent() {
    ring_is_consistent("", "fixture");
}

/// The demo's rings: the files agree, and the binary embeds the same keys.
#[test]
fn every_demo_key_is_consistent_and_embedded() {
    for prefix in ["trusted", "rogue", "second", "dpop-client", "dpop-client-2"] {
        ring_is_consistent("demo/", prefix);
        let embedded = mock_idp::keystore::demo_ring(prefix).unwrap();
        for key in embedded.keys() {
            let kid = key.kid().unwrap();
            let public = Jwk::from_json(&read_json(&format!("demo/{kid}.jwk.json"))).unwrap();
            assert_eq!(public, key.public_jwk(), "{kid}");
        }
    }
}
