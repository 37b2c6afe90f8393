//! Signing and verifying keys for every algorithm we use, backed by aws-lc-rs.
//!
//! aws-lc-rs is already in the tree (rustls) and is several times faster than the pure-Rust
//! curves, which the minting goal of ≥ 20,000 ES256 tokens/s needs. Keys are parsed once and
//! kept parsed; signing never re-reads PKCS#8.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::encoding::{AsBigEndian, AsDer};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, ParsedPublicKey, RsaKeyPair,
};
use aws_lc_rs::{hmac, rsa};
use serde_json::{Value, json};

use crate::alg::{Algorithm, EcCurve, KeyFamily};
use crate::jwk::{Jwk, JwkKey};
use crate::{b64, der, ecdsa};

/// Why a key could not be made, loaded or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("key generation failed for {0}")]
    Generate(Algorithm),
    #[error("PKCS#8 key refused for {alg}: {reason}")]
    Pkcs8 { alg: Algorithm, reason: String },
    #[error("PEM: {0}")]
    Pem(String),
    #[error("unsupported curve {0:?}")]
    UnsupportedCurve(String),
    #[error("public key is not valid for {kty}: {reason}")]
    InvalidPublicKey { kty: &'static str, reason: String },
    #[error("{alg} cannot be used with this {kty} key")]
    AlgorithmMismatch { alg: Algorithm, kty: &'static str },
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("{alg} cannot be verified with a {kty} key")]
    KeyAlgorithmMismatch { alg: Algorithm, kty: &'static str },
    #[error("ECDSA signature refused: {0}")]
    EcdsaRange(#[from] ecdsa::RangeError),
    #[error("signature does not verify")]
    Invalid,
}

// Lives behind an Arc, so the variant size difference costs nothing.
#[allow(clippy::large_enum_variant)]
enum Material {
    Ec(EcdsaKeyPair, EcCurve),
    Rsa(RsaKeyPair),
    Ed(Ed25519KeyPair),
    Hmac(Vec<u8>, hmac::Key),
}

/// A private signing key with its algorithm and optional `kid`. Cheap to clone.
#[derive(Clone)]
pub struct SigningKey {
    alg: Algorithm,
    kid: Option<String>,
    material: Arc<Material>,
    /// PKCS#8 v1 DER of the private key; empty for HMAC secrets.
    pkcs8: Arc<Vec<u8>>,
}

impl fmt::Debug for SigningKey {
    // Never print key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn ec_signing(curve: EcCurve) -> &'static signature::EcdsaSigningAlgorithm {
    match curve {
        EcCurve::P256 => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        EcCurve::P384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        EcCurve::P521 => &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
    }
}

fn ec_verification(curve: EcCurve) -> &'static signature::EcdsaVerificationAlgorithm {
    match curve {
        EcCurve::P256 => &signature::ECDSA_P256_SHA256_FIXED,
        EcCurve::P384 => &signature::ECDSA_P384_SHA384_FIXED,
        EcCurve::P521 => &signature::ECDSA_P521_SHA512_FIXED,
    }
}

impl SigningKey {
    /// A fresh random key for `alg` (RSA keys are 2048 bits).
    pub fn generate(alg: Algorithm) -> Result<Self, KeyError> {
        let fail = |_| KeyError::Generate(alg);
        match alg.key_family() {
            KeyFamily::Ec(curve) => {
                let kp = EcdsaKeyPair::generate(ec_signing(curve)).map_err(fail)?;
                let der = kp.to_pkcs8v1().map_err(fail)?.as_ref().to_vec();
                Ok(Self::new(alg, Material::Ec(kp, curve), der))
            }
            KeyFamily::Rsa => {
                let kp = RsaKeyPair::generate(rsa::KeySize::Rsa2048).map_err(fail)?;
                let der = kp.as_der().map_err(fail)?.as_ref().to_vec();
                Ok(Self::new(alg, Material::Rsa(kp), der))
            }
            KeyFamily::Ed25519 => {
                let kp = Ed25519KeyPair::generate().map_err(fail)?;
                let der = kp.to_pkcs8v1().map_err(fail)?.as_ref().to_vec();
                Ok(Self::new(alg, Material::Ed(kp), der))
            }
            KeyFamily::Symmetric => {
                let mut secret = vec![0u8; 32];
                SystemRandom::new().fill(&mut secret).map_err(fail)?;
                Ok(Self::hmac(&secret))
            }
        }
    }

    /// An HS256 key over exactly these secret bytes (empty and public-key secrets included:
    /// the forgers need both).
    pub fn hmac(secret: &[u8]) -> Self {
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
        Self::new(
            Algorithm::Hs256,
            Material::Hmac(secret.to_vec(), key),
            Vec::new(),
        )
    }

    fn new(alg: Algorithm, material: Material, pkcs8: Vec<u8>) -> Self {
        Self {
            alg,
            kid: None,
            material: Arc::new(material),
            pkcs8: Arc::new(pkcs8),
        }
    }

    /// Loads a PKCS#8 v1/v2 DER private key for `alg`.
    pub fn from_pkcs8_der(alg: Algorithm, der: &[u8]) -> Result<Self, KeyError> {
        let refused = |reason: String| KeyError::Pkcs8 { alg, reason };
        let material = match alg.key_family() {
            KeyFamily::Ec(curve) => Material::Ec(
                EcdsaKeyPair::from_pkcs8(ec_signing(curve), der)
                    .map_err(|e| refused(e.to_string()))?,
                curve,
            ),
            KeyFamily::Rsa => {
                Material::Rsa(RsaKeyPair::from_pkcs8(der).map_err(|e| refused(e.to_string()))?)
            }
            KeyFamily::Ed25519 => Material::Ed(
                Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                    .map_err(|e| refused(e.to_string()))?,
            ),
            KeyFamily::Symmetric => return Err(refused("HMAC keys are raw secrets".into())),
        };
        Ok(Self::new(alg, material, der.to_vec()))
    }

    /// Loads a `PRIVATE KEY` PEM (PKCS#8).
    pub fn from_pem(alg: Algorithm, pem_text: &str) -> Result<Self, KeyError> {
        let block = pem::parse(pem_text).map_err(|e| KeyError::Pem(e.to_string()))?;
        if block.tag() != "PRIVATE KEY" {
            return Err(KeyError::Pem(format!(
                "expected a PRIVATE KEY (PKCS#8) block, found {}",
                block.tag()
            )));
        }
        Self::from_pkcs8_der(alg, block.contents())
    }

    /// PKCS#8 PEM of the private key (`None` for HMAC secrets).
    pub fn to_pkcs8_pem(&self) -> Option<String> {
        (!self.pkcs8.is_empty()).then(|| {
            pem::encode(&pem::Pem::new(
                "PRIVATE KEY",
                self.pkcs8.as_slice().to_vec(),
            ))
        })
    }

    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// Signs with the key's own algorithm.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.sign_as(self.alg, message)
            .expect("a key always signs with its own algorithm")
    }

    /// Signs with another algorithm of the same key family (RS256 ↔ PS256); refuses others.
    /// ECDSA signatures are fixed-size R‖S in low-S form.
    pub fn sign_as(&self, alg: Algorithm, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mismatch = || KeyError::AlgorithmMismatch {
            alg,
            kty: self.kty(),
        };
        let rng = SystemRandom::new();
        match (&*self.material, alg) {
            (Material::Ec(kp, curve), _) if alg.key_family() == KeyFamily::Ec(*curve) => {
                let sig = kp.sign(&rng, message).map_err(|_| mismatch())?;
                Ok(ecdsa::normalize_low_s(*curve, sig.as_ref().to_vec()))
            }
            (Material::Rsa(kp), Algorithm::Rs256 | Algorithm::Ps256) => {
                let encoding: &'static dyn signature::RsaEncoding = if alg == Algorithm::Rs256 {
                    &signature::RSA_PKCS1_SHA256
                } else {
                    &signature::RSA_PSS_SHA256
                };
                let mut sig = vec![0u8; kp.public_modulus_len()];
                kp.sign(encoding, &rng, message, &mut sig)
                    .map_err(|_| mismatch())?;
                Ok(sig)
            }
            (Material::Ed(kp), Algorithm::EdDsa) => Ok(kp.sign(message).as_ref().to_vec()),
            (Material::Hmac(_, key), Algorithm::Hs256) => {
                Ok(hmac::sign(key, message).as_ref().to_vec())
            }
            _ => Err(mismatch()),
        }
    }

    fn kty(&self) -> &'static str {
        match &*self.material {
            Material::Ec(..) => "EC",
            Material::Rsa(_) => "RSA",
            Material::Ed(_) => "OKP",
            Material::Hmac(..) => "oct",
        }
    }

    /// The public JWK, with `kid`, `alg` and `use: sig`. For HMAC keys this is the `oct` key
    /// itself (which is secret).
    pub fn public_jwk(&self) -> Jwk {
        let key = match &*self.material {
            Material::Ec(kp, curve) => {
                let point = kp.public_key().as_ref();
                let n = curve.coordinate_len();
                JwkKey::Ec {
                    crv: curve.name().to_owned(),
                    x: point[1..1 + n].to_vec(),
                    y: point[1 + n..].to_vec(),
                }
            }
            Material::Rsa(kp) => JwkKey::Rsa {
                n: kp
                    .public_key()
                    .modulus()
                    .big_endian_without_leading_zero()
                    .to_vec(),
                e: kp
                    .public_key()
                    .exponent()
                    .big_endian_without_leading_zero()
                    .to_vec(),
            },
            Material::Ed(kp) => JwkKey::Okp {
                crv: "Ed25519".to_owned(),
                x: kp.public_key().as_ref().to_vec(),
            },
            Material::Hmac(secret, _) => JwkKey::Oct { k: secret.clone() },
        };
        let mut jwk = Jwk::new(key);
        jwk.kid = self.kid.clone();
        jwk.alg = Some(self.alg.name().to_owned());
        jwk.key_use = Some("sig".to_owned());
        jwk
    }

    /// The JWK including private members (`d`; and `p`, `q`, `dp`, `dq`, `qi` for RSA).
    /// Used for the test-key fixtures and for proofs that leak private material on purpose.
    pub fn private_jwk(&self) -> Value {
        let mut v = self.public_jwk().to_json();
        match &*self.material {
            Material::Ec(kp, _) => {
                if let Ok(d) = kp.private_key().as_be_bytes() {
                    v["d"] = json!(b64::encode(d.as_ref()));
                }
            }
            Material::Ed(kp) => {
                if let Ok(seed) = kp.seed().and_then(|s| s.as_be_bytes()) {
                    v["d"] = json!(b64::encode(seed.as_ref()));
                }
            }
            Material::Rsa(_) => {
                if let Some(parts) = rsa_private_parts(&self.pkcs8) {
                    for (name, value) in ["d", "p", "q", "dp", "dq", "qi"].into_iter().zip(parts) {
                        v[name] = json!(b64::encode(value));
                    }
                }
            }
            Material::Hmac(..) => {}
        }
        v
    }

    /// SubjectPublicKeyInfo DER of the public key (`None` for HMAC secrets).
    pub fn public_key_spki_der(&self) -> Option<Vec<u8>> {
        match &*self.material {
            Material::Ec(kp, _) => kp.public_key().as_der().ok().map(|d| d.as_ref().to_vec()),
            Material::Rsa(kp) => kp.public_key().as_der().ok().map(|d| d.as_ref().to_vec()),
            Material::Ed(kp) => kp.public_key().as_der().ok().map(|d| d.as_ref().to_vec()),
            Material::Hmac(..) => None,
        }
    }

    /// The verifying key for this signing key.
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey::from_jwk(&self.public_jwk()).expect("own public key is valid")
    }
}

/// d, p, q, dp, dq, qi from PKCS#8 { version, algId, OCTET STRING { RSAPrivateKey } }.
fn rsa_private_parts(pkcs8: &[u8]) -> Option<Vec<Vec<u8>>> {
    let (body, _) = der::take(pkcs8, 0x30)?;
    let (_, body) = der::take(body, 0x02)?;
    let (_, body) = der::take(body, 0x30)?;
    let (octets, _) = der::take(body, 0x04)?;
    let (mut rsa_key, _) = der::take(octets, 0x30)?;
    let mut ints = Vec::new();
    while !rsa_key.is_empty() {
        let (int, rest) = der::take(rsa_key, 0x02)?;
        ints.push(der::strip_zeros(int).to_vec());
        rsa_key = rest;
    }
    // version, n, e, d, p, q, dp, dq, qi
    (ints.len() >= 9).then(|| ints[3..9].to_vec())
}

#[allow(clippy::large_enum_variant)]
enum Verifier {
    Ec(EcCurve, ParsedPublicKey),
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Ed(ParsedPublicKey),
    Hmac(hmac::Key),
}

/// A public key (or HMAC secret) ready to verify, parsed once from its JWK.
#[derive(Clone)]
pub struct VerifyingKey {
    jwk: Jwk,
    inner: Arc<Verifier>,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kty", &self.jwk.kty())
            .field("kid", &self.jwk.kid)
            .finish_non_exhaustive()
    }
}

impl VerifyingKey {
    /// Parses and validates the public key (EC points must lie on their curve).
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, KeyError> {
        let invalid =
            |kty: &'static str, reason: String| KeyError::InvalidPublicKey { kty, reason };
        let inner = match &jwk.key {
            JwkKey::Ec { crv, x, y } => {
                let curve = EcCurve::from_name(crv)
                    .ok_or_else(|| KeyError::UnsupportedCurve(crv.clone()))?;
                let mut point = Vec::with_capacity(1 + x.len() + y.len());
                point.push(0x04);
                point.extend_from_slice(x);
                point.extend_from_slice(y);
                let parsed = ParsedPublicKey::new(ec_verification(curve), &point)
                    .map_err(|e| invalid("EC", e.to_string()))?;
                Verifier::Ec(curve, parsed)
            }
            JwkKey::Rsa { n, e } => Verifier::Rsa {
                n: n.clone(),
                e: e.clone(),
            },
            JwkKey::Okp { crv, x } => {
                if crv != "Ed25519" {
                    return Err(KeyError::UnsupportedCurve(crv.clone()));
                }
                Verifier::Ed(
                    ParsedPublicKey::new(&signature::ED25519, x)
                        .map_err(|e| invalid("OKP", e.to_string()))?,
                )
            }
            JwkKey::Oct { k } => Verifier::Hmac(hmac::Key::new(hmac::HMAC_SHA256, k)),
        };
        Ok(Self {
            jwk: jwk.clone(),
            inner: Arc::new(inner),
        })
    }

    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    pub fn kid(&self) -> Option<&str> {
        self.jwk.kid.as_deref()
    }

    /// Whether `alg` fits this key's type and curve (RFC 7518 §3.4: `alg` binds curve and hash).
    pub fn fits(&self, alg: Algorithm) -> bool {
        matches!(
            (&*self.inner, alg.key_family()),
            (Verifier::Ec(c, _), KeyFamily::Ec(ac)) if *c == ac
        ) || matches!(
            (&*self.inner, alg.key_family()),
            (Verifier::Rsa { .. }, KeyFamily::Rsa)
                | (Verifier::Ed(_), KeyFamily::Ed25519)
                | (Verifier::Hmac(_), KeyFamily::Symmetric)
        )
    }

    /// Verifies `signature` over `message` under `alg`. ECDSA signatures must be R‖S of the
    /// exact size with 1 ≤ r, s < n (and s ≤ n/2 when `require_low_s`); RSA keys must have at
    /// least 2048 bits.
    pub fn verify(
        &self,
        alg: Algorithm,
        message: &[u8],
        sig: &[u8],
        require_low_s: bool,
    ) -> Result<(), SignatureError> {
        if !self.fits(alg) {
            return Err(SignatureError::KeyAlgorithmMismatch {
                alg,
                kty: self.jwk.kty(),
            });
        }
        let ok = match &*self.inner {
            Verifier::Ec(curve, key) => {
                ecdsa::check_range(*curve, sig, require_low_s)?;
                key.verify_sig(message, sig).is_ok()
            }
            Verifier::Rsa { n, e } => {
                let params = if alg == Algorithm::Rs256 {
                    &signature::RSA_PKCS1_2048_8192_SHA256
                } else {
                    &signature::RSA_PSS_2048_8192_SHA256
                };
                signature::RsaPublicKeyComponents { n, e }
                    .verify(params, message, sig)
                    .is_ok()
            }
            Verifier::Ed(key) => key.verify_sig(message, sig).is_ok(),
            Verifier::Hmac(key) => hmac::verify(key, message, sig).is_ok(),
        };
        ok.then_some(()).ok_or(SignatureError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_signs_and_verifies_and_refuses_a_flipped_bit() {
        for alg in Algorithm::ALL {
            let key = SigningKey::generate(alg).unwrap().with_kid("k1");
            let sig = key.sign(b"hello");
            let vk = key.verifying_key();
            assert_eq!(vk.verify(alg, b"hello", &sig, true), Ok(()), "{alg}");
            let mut bad = sig.clone();
            bad[0] ^= 1;
            assert!(vk.verify(alg, b"hello", &bad, false).is_err(), "{alg}");
            assert!(vk.verify(alg, b"hellp", &sig, false).is_err(), "{alg}");
        }
    }

    #[test]
    fn pem_round_trip_keeps_the_key() {
        for alg in [
            Algorithm::Es256,
            Algorithm::Es384,
            Algorithm::Rs256,
            Algorithm::EdDsa,
        ] {
            let key = SigningKey::generate(alg).unwrap();
            let pem = key.to_pkcs8_pem().unwrap();
            let again = SigningKey::from_pem(alg, &pem).unwrap();
            assert_eq!(again.public_jwk(), key.public_jwk());
        }
    }

    #[test]
    fn private_jwk_has_private_members_and_public_jwk_has_none() {
        let rsa = SigningKey::generate(Algorithm::Rs256).unwrap();
        let private = crate::jwk::Jwk::from_json(&rsa.private_jwk()).unwrap();
        let mut members = private.private_members.clone();
        members.sort();
        assert_eq!(members, ["d", "dp", "dq", "p", "q", "qi"]);
        let ec = SigningKey::generate(Algorithm::Es256).unwrap();
        let private = crate::jwk::Jwk::from_json(&ec.private_jwk()).unwrap();
        assert_eq!(private.private_members, ["d"]);
        assert!(!ec.public_jwk().has_private_material());
    }

    #[test]
    fn rsa_key_signs_under_both_rsa_algorithms_only() {
        let key = SigningKey::generate(Algorithm::Rs256).unwrap();
        let pss = key.sign_as(Algorithm::Ps256, b"m").unwrap();
        assert_eq!(
            key.verifying_key()
                .verify(Algorithm::Ps256, b"m", &pss, false),
            Ok(())
        );
        assert!(key.sign_as(Algorithm::Es256, b"m").is_err());
    }

    #[test]
    fn off_curve_points_are_refused() {
        let key = SigningKey::generate(Algorithm::Es256).unwrap();
        let mut jwk = key.public_jwk();
        if let JwkKey::Ec { y, .. } = &mut jwk.key {
            y[31] ^= 1;
        }
        assert!(matches!(
            VerifyingKey::from_jwk(&jwk),
            Err(KeyError::InvalidPublicKey { .. })
        ));
    }

    #[test]
    fn curve_must_match_alg() {
        let key = SigningKey::generate(Algorithm::Es384).unwrap();
        let sig = key.sign(b"m");
        assert!(matches!(
            key.verifying_key()
                .verify(Algorithm::Es256, b"m", &sig, false),
            Err(SignatureError::KeyAlgorithmMismatch { .. })
        ));
    }
}
