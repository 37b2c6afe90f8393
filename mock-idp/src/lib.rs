//! mock-idp: the JOSE/DPoP core of mcp-authspec and its embedded mock identity provider.
//!
//! Layers, bottom up: `b64`, `json` and `der` (encodings); `alg`, `ecdsa`, `keys` and `jwk`
//! (keys and signatures); `jws` (compact parse, sign, verify); `token` (access-token minting),
//! `forge` (attack stimuli), `dpop` (proofs and their validation); `server` (the HTTP IdP).

pub mod alg;
pub mod b64;
pub(crate) mod der;
pub mod dpop;
pub mod ecdsa;
pub mod forge;
pub mod fuzzing;
pub mod json;
pub mod jwk;
pub mod jws;
pub mod keys;
pub mod keystore;
pub mod server;
pub mod token;

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `n` random bytes, base64url-encoded: identifiers, nonces, secrets.
pub fn random_b64url(n: usize) -> String {
    use aws_lc_rs::rand::SecureRandom;
    let mut buf = vec![0u8; n];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut buf)
        .expect("system randomness available");
    b64::encode(buf)
}
