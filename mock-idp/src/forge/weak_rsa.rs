//! RSA keys under 2048 bits, which RFC 7518 §3.3 forbids and the crypto backend refuses to
//! sign or verify with: RSASSA-PKCS1-v1_5 with SHA-256 (RS256, RFC 8017 §8.2) on big integers,
//! for stimuli a verifier must refuse (spec rs-dpop-weak-rsa, tp-key-factory) and for the
//! reference-server fault that accepts them. Not constant time: test keys only.

use std::sync::OnceLock;

use aws_lc_rs::digest;
use num_bigint::BigUint;
use serde_json::{Value, json};

use crate::b64;

/// The DER `DigestInfo` prefix of a SHA-256 hash (RFC 8017 §9.2, note 1).
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// A private RSA key of any size.
pub struct WeakRsaKey {
    n: BigUint,
    e: BigUint,
    d: BigUint,
}

impl WeakRsaKey {
    /// The 1024-bit fixture key (`fixtures/keys/weak/`).
    pub fn fixture_1024() -> &'static WeakRsaKey {
        static KEY: OnceLock<WeakRsaKey> = OnceLock::new();
        KEY.get_or_init(|| {
            let jwk: Value = serde_json::from_str(include_str!(
                "../../../fixtures/keys/weak/rsa1024.private.jwk.json"
            ))
            .expect("the weak key fixture is JSON");
            Self::from_private_jwk(&jwk).expect("the weak key fixture has n, e and d")
        })
    }

    /// From a private RSA JWK (`n`, `e`, `d`; CRT members are not needed).
    pub fn from_private_jwk(jwk: &Value) -> Option<Self> {
        let int = |name: &str| {
            let text = jwk.get(name)?.as_str()?;
            Some(BigUint::from_bytes_be(&b64::decode_strict(text).ok()?))
        };
        Some(Self {
            n: int("n")?,
            e: int("e")?,
            d: int("d")?,
        })
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> u64 {
        self.n.bits()
    }

    /// The public JWK: `kty`, `n`, `e` (the RFC 7638 thumbprint members).
    pub fn public_jwk(&self) -> Value {
        json!({
            "kty": "RSA",
            "n": b64::encode(self.n.to_bytes_be()),
            "e": b64::encode(self.e.to_bytes_be()),
        })
    }

    /// The RS256 signature of `message`.
    pub fn sign_rs256(&self, message: &[u8]) -> Vec<u8> {
        let k = modulus_len(&self.n);
        let em = BigUint::from_bytes_be(&encode_pkcs1_sha256(message, k));
        left_pad(em.modpow(&self.d, &self.n).to_bytes_be(), k)
    }
}

/// Verifies an RS256 signature with the public key (`n`, `e` big-endian) whatever its size.
pub fn verify_rs256(n: &[u8], e: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let n = BigUint::from_bytes_be(n);
    let k = modulus_len(&n);
    // A signature representative must be exactly k bytes and below n (RFC 8017 §8.2.2).
    if k < SHA256_DIGEST_INFO.len() + 32 + 11 || signature.len() != k {
        return false;
    }
    let s = BigUint::from_bytes_be(signature);
    if s >= n {
        return false;
    }
    let m = left_pad(s.modpow(&BigUint::from_bytes_be(e), &n).to_bytes_be(), k);
    m == encode_pkcs1_sha256(message, k)
}

fn modulus_len(n: &BigUint) -> usize {
    n.bits().div_ceil(8) as usize
}

fn left_pad(mut bytes: Vec<u8>, len: usize) -> Vec<u8> {
    if bytes.len() < len {
        let mut padded = vec![0; len - bytes.len()];
        padded.append(&mut bytes);
        return padded;
    }
    bytes
}

/// EMSA-PKCS1-v1_5 (RFC 8017 §9.2): 00 01 FF…FF 00 DigestInfo(SHA-256(m)), `k` bytes.
fn encode_pkcs1_sha256(message: &[u8], k: usize) -> Vec<u8> {
    let hash = digest::digest(&digest::SHA256, message);
    let t_len = SHA256_DIGEST_INFO.len() + hash.as_ref().len();
    let mut em = vec![0x00, 0x01];
    em.resize(k.saturating_sub(t_len + 1), 0xff);
    em.push(0x00);
    em.extend_from_slice(&SHA256_DIGEST_INFO);
    em.extend_from_slice(hash.as_ref());
    em
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{
        RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY, RsaPublicKeyComponents,
    };

    fn public_parts(key: &WeakRsaKey) -> (Vec<u8>, Vec<u8>) {
        (key.n.to_bytes_be(), key.e.to_bytes_be())
    }

    #[test]
    fn the_fixture_is_1024_bits_and_signs_what_the_backend_verifies() {
        let key = WeakRsaKey::fixture_1024();
        assert_eq!(key.bits(), 1024);
        let message = b"header.claims";
        let sig = key.sign_rs256(message);
        assert_eq!(sig.len(), 128);
        let (n, e) = public_parts(key);
        // Independent check: the backend's legacy verifier accepts the signature.
        RsaPublicKeyComponents { n: &n, e: &e }
            .verify(
                &RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
                message,
                &sig,
            )
            .expect("aws-lc-rs verifies our PKCS#1 v1.5 signature");
        assert!(verify_rs256(&n, &e, message, &sig));
    }

    #[test]
    fn verification_refuses_other_messages_and_altered_signatures() {
        let key = WeakRsaKey::fixture_1024();
        let (n, e) = public_parts(key);
        let sig = key.sign_rs256(b"m");
        assert!(!verify_rs256(&n, &e, b"m2", &sig));
        let mut flipped = sig.clone();
        flipped[64] ^= 1;
        assert!(!verify_rs256(&n, &e, b"m", &flipped));
        assert!(!verify_rs256(&n, &e, b"m", &sig[1..]));
        assert!(!verify_rs256(&n, &e, b"m", &[]));
        assert!(!verify_rs256(&[], &e, b"m", &sig));
    }

    #[test]
    fn the_public_jwk_has_only_the_thumbprint_members() {
        let jwk = WeakRsaKey::fixture_1024().public_jwk();
        let mut names: Vec<&str> = jwk
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        assert_eq!(names, ["e", "kty", "n"]);
    }
}
