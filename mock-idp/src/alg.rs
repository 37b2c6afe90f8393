//! JWS algorithms this crate signs and verifies (RFC 7518 §3, RFC 8037 §3.1).

use std::fmt;

/// A JWS `alg` value we can sign and verify with. Anything else in a header (`none`,
/// `HS512`, `nOnE`, …) stays a string and is never mapped onto one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Es256,
    Es384,
    Es512,
    Rs256,
    Ps256,
    EdDsa,
    Hs256,
}

/// The family of key an algorithm needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyFamily {
    Ec(EcCurve),
    Rsa,
    Ed25519,
    Symmetric,
}

/// NIST curves used by ES256/ES384/ES512.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EcCurve {
    P256,
    P384,
    P521,
}

impl EcCurve {
    /// The JWK `crv` name.
    pub fn name(self) -> &'static str {
        match self {
            EcCurve::P256 => "P-256",
            EcCurve::P384 => "P-384",
            EcCurve::P521 => "P-521",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "P-256" => Some(EcCurve::P256),
            "P-384" => Some(EcCurve::P384),
            "P-521" => Some(EcCurve::P521),
            _ => None,
        }
    }

    /// Octets of one coordinate or one signature half (RFC 7518 §3.4, §6.2.1.2).
    pub fn coordinate_len(self) -> usize {
        match self {
            EcCurve::P256 => 32,
            EcCurve::P384 => 48,
            EcCurve::P521 => 66,
        }
    }
}

impl Algorithm {
    pub const ALL: [Algorithm; 7] = [
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::Es512,
        Algorithm::Rs256,
        Algorithm::Ps256,
        Algorithm::EdDsa,
        Algorithm::Hs256,
    ];

    /// The registered `alg` name.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
            Algorithm::Es512 => "ES512",
            Algorithm::Rs256 => "RS256",
            Algorithm::Ps256 => "PS256",
            Algorithm::EdDsa => "EdDSA",
            Algorithm::Hs256 => "HS256",
        }
    }

    /// Exact, case-sensitive lookup (RFC 7515 §4.1.1: `alg` is case-sensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    pub fn key_family(self) -> KeyFamily {
        match self {
            Algorithm::Es256 => KeyFamily::Ec(EcCurve::P256),
            Algorithm::Es384 => KeyFamily::Ec(EcCurve::P384),
            Algorithm::Es512 => KeyFamily::Ec(EcCurve::P521),
            Algorithm::Rs256 | Algorithm::Ps256 => KeyFamily::Rsa,
            Algorithm::EdDsa => KeyFamily::Ed25519,
            Algorithm::Hs256 => KeyFamily::Symmetric,
        }
    }

    pub fn is_symmetric(self) -> bool {
        self.key_family() == KeyFamily::Symmetric
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_case_sensitive() {
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(a.name()), Some(a));
        }
        assert_eq!(Algorithm::from_name("es256"), None);
        assert_eq!(Algorithm::from_name("none"), None);
    }
}
