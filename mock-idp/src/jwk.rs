//! JSON Web Keys (RFC 7517) for the key types we use, and RFC 7638 thumbprints.
//!
//! Parsing is strict about what matters to a verifier: required members present and
//! base64url-canonical, EC coordinates of the curve's exact size, and private members
//! (`d`, `p`, `q`, …) reported rather than silently dropped — a DPoP proof carrying them must be
//! refusable (RFC 9449 §4.3 #7).

use aws_lc_rs::digest;
use serde_json::{Map, Value, json};

use crate::alg::EcCurve;
use crate::b64::{self, B64Error};

/// Members that only a private key has, per key type (RFC 7518 §6.2.2, §6.3.2, RFC 8037 §2).
const EC_PRIVATE: &[&str] = &["d"];
const RSA_PRIVATE: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth"];

/// The key material of a JWK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwkKey {
    /// `kty: EC`. The curve stays a string so unknown curves can be represented and refused later.
    Ec { crv: String, x: Vec<u8>, y: Vec<u8> },
    /// `kty: RSA`, public modulus and exponent, big-endian.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// `kty: OKP` (RFC 8037), e.g. Ed25519.
    Okp { crv: String, x: Vec<u8> },
    /// `kty: oct`: a symmetric key (always secret).
    Oct { k: Vec<u8> },
}

/// A parsed JWK.
#[derive(Debug, Clone, PartialEq)]
pub struct Jwk {
    pub key: JwkKey,
    pub kid: Option<String>,
    pub alg: Option<String>,
    pub key_use: Option<String>,
    pub key_ops: Option<Vec<String>>,
    /// Names of private-key members that were present (`d`, `p`, …), in document order.
    pub private_members: Vec<String>,
    /// Every other member, kept as given (including the private members' values).
    pub extra: Map<String, Value>,
}

/// Why a JSON value is not a usable JWK.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwkError {
    #[error("JWK is not a JSON object")]
    NotObject,
    #[error("JWK member {0:?} is missing")]
    Missing(&'static str),
    #[error("JWK member {0:?} is not a string")]
    NotString(String),
    #[error("JWK member {member:?} is not strict base64url: {error}")]
    Base64 {
        member: &'static str,
        error: B64Error,
    },
    #[error("unsupported kty {0:?}")]
    UnsupportedKty(String),
    #[error("EC coordinate {member:?} has {found} octets, {expected} expected for {crv}")]
    CoordinateLength {
        member: &'static str,
        crv: &'static str,
        expected: usize,
        found: usize,
    },
    #[error("key_ops is not an array of strings")]
    BadKeyOps,
}

impl Jwk {
    /// A public JWK with no optional members.
    pub fn new(key: JwkKey) -> Self {
        Self {
            key,
            kid: None,
            alg: None,
            key_use: None,
            key_ops: None,
            private_members: Vec::new(),
            extra: Map::new(),
        }
    }

    pub fn kty(&self) -> &'static str {
        match self.key {
            JwkKey::Ec { .. } => "EC",
            JwkKey::Rsa { .. } => "RSA",
            JwkKey::Okp { .. } => "OKP",
            JwkKey::Oct { .. } => "oct",
        }
    }

    /// The EC curve, when it is one we know.
    pub fn ec_curve(&self) -> Option<EcCurve> {
        match &self.key {
            JwkKey::Ec { crv, .. } => EcCurve::from_name(crv),
            _ => None,
        }
    }

    /// True if the JWK carries private or symmetric key material.
    pub fn has_private_material(&self) -> bool {
        !self.private_members.is_empty() || matches!(self.key, JwkKey::Oct { .. })
    }

    /// Parses a JWK from a JSON value.
    pub fn from_json(value: &Value) -> Result<Self, JwkError> {
        let obj = value.as_object().ok_or(JwkError::NotObject)?;
        let kty = str_member(obj, "kty")?.ok_or(JwkError::Missing("kty"))?;
        let (key, private_names): (JwkKey, &[&str]) = match kty {
            "EC" => {
                let crv = str_member(obj, "crv")?.ok_or(JwkError::Missing("crv"))?;
                let x = b64_member(obj, "x")?;
                let y = b64_member(obj, "y")?;
                if let Some(curve) = EcCurve::from_name(crv) {
                    for (member, v) in [("x", &x), ("y", &y)] {
                        if v.len() != curve.coordinate_len() {
                            return Err(JwkError::CoordinateLength {
                                member,
                                crv: curve.name(),
                                expected: curve.coordinate_len(),
                                found: v.len(),
                            });
                        }
                    }
                }
                (
                    JwkKey::Ec {
                        crv: crv.to_owned(),
                        x,
                        y,
                    },
                    EC_PRIVATE,
                )
            }
            "RSA" => (
                JwkKey::Rsa {
                    n: b64_member(obj, "n")?,
                    e: b64_member(obj, "e")?,
                },
                RSA_PRIVATE,
            ),
            "OKP" => {
                let crv = str_member(obj, "crv")?.ok_or(JwkError::Missing("crv"))?;
                (
                    JwkKey::Okp {
                        crv: crv.to_owned(),
                        x: b64_member(obj, "x")?,
                    },
                    EC_PRIVATE,
                )
            }
            "oct" => (
                JwkKey::Oct {
                    k: b64_member(obj, "k")?,
                },
                &[],
            ),
            other => return Err(JwkError::UnsupportedKty(other.to_owned())),
        };
        let key_ops = match obj.get("key_ops") {
            None => None,
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .map(|v| v.as_str().map(str::to_owned).ok_or(JwkError::BadKeyOps))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(_) => return Err(JwkError::BadKeyOps),
        };
        let structural: &[&str] = match key {
            JwkKey::Ec { .. } => &["kty", "crv", "x", "y"],
            JwkKey::Rsa { .. } => &["kty", "n", "e"],
            JwkKey::Okp { .. } => &["kty", "crv", "x"],
            JwkKey::Oct { .. } => &["kty", "k"],
        };
        let mut extra = Map::new();
        let mut private_members = Vec::new();
        for (name, v) in obj {
            if private_names.contains(&name.as_str()) {
                private_members.push(name.clone());
            }
            let known = structural.contains(&name.as_str())
                || matches!(name.as_str(), "kid" | "alg" | "use" | "key_ops");
            if !known {
                extra.insert(name.clone(), v.clone());
            }
        }
        Ok(Self {
            key,
            kid: str_member(obj, "kid")?.map(str::to_owned),
            alg: str_member(obj, "alg")?.map(str::to_owned),
            key_use: str_member(obj, "use")?.map(str::to_owned),
            key_ops,
            private_members,
            extra,
        })
    }

    /// Serialises the JWK: key members, then `kid`/`alg`/`use`/`key_ops`, then extras
    /// (which include any private members it was parsed with).
    pub fn to_json(&self) -> Value {
        let mut m = self.required_members();
        if let Some(kid) = &self.kid {
            m.insert("kid".into(), json!(kid));
        }
        if let Some(alg) = &self.alg {
            m.insert("alg".into(), json!(alg));
        }
        if let Some(u) = &self.key_use {
            m.insert("use".into(), json!(u));
        }
        if let Some(ops) = &self.key_ops {
            m.insert("key_ops".into(), json!(ops));
        }
        for (k, v) in &self.extra {
            m.insert(k.clone(), v.clone());
        }
        Value::Object(m)
    }

    /// The same key with every private and unknown member dropped.
    pub fn to_public(&self) -> Jwk {
        Jwk {
            private_members: Vec::new(),
            extra: Map::new(),
            ..self.clone()
        }
    }

    /// The members RFC 7638 §3.2 names for this key type (sorted, as serde_json's map sorts).
    fn required_members(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("kty".into(), json!(self.kty()));
        match &self.key {
            JwkKey::Ec { crv, x, y } => {
                m.insert("crv".into(), json!(crv));
                m.insert("x".into(), json!(b64::encode(x)));
                m.insert("y".into(), json!(b64::encode(y)));
            }
            JwkKey::Rsa { n, e } => {
                m.insert("e".into(), json!(b64::encode(e)));
                m.insert("n".into(), json!(b64::encode(n)));
            }
            JwkKey::Okp { crv, x } => {
                m.insert("crv".into(), json!(crv));
                m.insert("x".into(), json!(b64::encode(x)));
            }
            JwkKey::Oct { k } => {
                m.insert("k".into(), json!(b64::encode(k)));
            }
        }
        m
    }

    /// RFC 7638 JWK thumbprint with SHA-256, base64url: required members only, in
    /// lexicographic order, no whitespace.
    pub fn thumbprint(&self) -> String {
        // serde_json's default Map is a BTreeMap, so keys serialise in lexicographic order.
        let canonical =
            serde_json::to_vec(&Value::Object(self.required_members())).expect("map serialises");
        sha256_b64url(&canonical)
    }
}

fn str_member<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, JwkError> {
    match obj.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(JwkError::NotString(name.to_owned())),
    }
}

fn b64_member(obj: &Map<String, Value>, name: &'static str) -> Result<Vec<u8>, JwkError> {
    let s = str_member(obj, name)?.ok_or(JwkError::Missing(name))?;
    b64::decode_strict(s).map_err(|error| JwkError::Base64 {
        member: name,
        error,
    })
}

/// A JWK Set (RFC 7517 §5). Keys that fail to parse are kept as errors, not dropped
/// silently, so a caller can report them.
#[derive(Debug, Clone, Default)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
    pub rejected: Vec<(usize, JwkError)>,
}

impl JwkSet {
    pub fn from_json(value: &Value) -> Result<Self, JwkError> {
        let keys = value
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(JwkError::Missing("keys"))?;
        let mut set = JwkSet::default();
        for (i, k) in keys.iter().enumerate() {
            match Jwk::from_json(k) {
                Ok(jwk) => set.keys.push(jwk),
                Err(e) => set.rejected.push((i, e)),
            }
        }
        Ok(set)
    }

    pub fn to_json(&self) -> Value {
        json!({ "keys": self.keys.iter().map(Jwk::to_json).collect::<Vec<_>>() })
    }

    pub fn find(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|k| k.kid.as_deref() == Some(kid))
    }
}

/// base64url(SHA-256(bytes)), unpadded: the shape of `ath`, PKCE S256 and RFC 7638
/// thumbprints.
pub fn sha256_b64url(bytes: &[u8]) -> String {
    b64::encode(digest::digest(&digest::SHA256, bytes))
}

/// `ath` (RFC 9449 §4.2): base64url(SHA-256(ASCII access token)).
pub fn access_token_hash(access_token: &str) -> String {
    sha256_b64url(access_token.as_bytes())
}

/// PKCE S256 code challenge (RFC 7636 §4.2).
pub fn pkce_s256(verifier: &str) -> String {
    sha256_b64url(verifier.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Spec §3.3 tp-jwk-thumbprint: RFC 7638 §3.1 RSA example.
    #[test]
    fn rfc7638_rsa_example_thumbprint() {
        let jwk = Jwk::from_json(&json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        }))
        .unwrap();
        assert_eq!(
            jwk.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    // RFC 9449 §4.2 example proof key; extra members do not change the thumbprint.
    #[test]
    fn rfc9449_ec_example_thumbprint_ignores_optional_members() {
        let base = json!({
            "kty": "EC",
            "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
            "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
            "crv": "P-256"
        });
        let jwk = Jwk::from_json(&base).unwrap();
        assert_eq!(
            jwk.thumbprint(),
            "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
        );
        let mut decorated = base.clone();
        decorated["kid"] = json!("k");
        decorated["alg"] = json!("ES256");
        decorated["use"] = json!("sig");
        decorated["key_ops"] = json!(["verify"]);
        assert_eq!(
            Jwk::from_json(&decorated).unwrap().thumbprint(),
            jwk.thumbprint()
        );
    }

    // Spec §3.3 tp-ath and tp-pkce-s256.
    #[test]
    fn ath_and_pkce_vectors() {
        assert_eq!(
            access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
        assert_eq!(
            pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn private_members_are_reported() {
        let mut v = json!({
            "kty": "EC", "crv": "P-256",
            "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
            "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"
        });
        assert!(!Jwk::from_json(&v).unwrap().has_private_material());
        v["d"] = json!("AQAB");
        let jwk = Jwk::from_json(&v).unwrap();
        assert_eq!(jwk.private_members, ["d"]);
        assert!(jwk.has_private_material());
        assert!(jwk.to_public().to_json().get("d").is_none());
        assert!(jwk.to_json().get("d").is_some());
    }

    #[test]
    fn malformed_jwks_are_refused_by_kind() {
        assert_eq!(Jwk::from_json(&json!([])), Err(JwkError::NotObject));
        assert_eq!(Jwk::from_json(&json!({})), Err(JwkError::Missing("kty")));
        assert_eq!(
            Jwk::from_json(&json!({"kty":"XYZ"})),
            Err(JwkError::UnsupportedKty("XYZ".into()))
        );
        // A 31-octet x (leading zero dropped) on P-256.
        let short = b64::encode([1u8; 31]);
        let y = b64::encode([1u8; 32]);
        assert!(matches!(
            Jwk::from_json(&json!({"kty":"EC","crv":"P-256","x":short,"y":y})),
            Err(JwkError::CoordinateLength {
                member: "x",
                found: 31,
                ..
            })
        ));
        assert!(matches!(
            Jwk::from_json(&json!({"kty":"RSA","n":"AQAB=","e":"AQAB"})),
            Err(JwkError::Base64 { member: "n", .. })
        ));
    }
}
