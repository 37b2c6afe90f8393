//! DPoP proof builder (RFC 9449 §4.2) in which every header parameter and claim can be set,
//! left out or broken, and the signature made valid, corrupted or by another key.
//!
//! Defaults give a valid proof: header `{typ: "dpop+jwt", alg: <the key's>, jwk: <the key's
//! public JWK: kty and key members only>}`, claims `{jti: 128 random bits, htm, htu, iat: now}`,
//! signed by the key. `alg`, `jwk` and `iat` are resolved at signing time; everything else is
//! fixed when set, so `clone()` + `sign()` twice yields the same `jti` (a replay).

use serde_json::Value;

use crate::alg::Algorithm;
use crate::json::JsonObject;
use crate::jwk::{self, Jwk};
use crate::keys::{KeyError, SigningKey};
use crate::{b64, jws};

use super::htu::HtuVariant;

/// The proof's `typ` (RFC 9449 §4.2).
pub const DPOP_TYP: &str = "dpop+jwt";

/// How the signature segment is made.
#[derive(Debug, Clone, Default)]
pub enum SignatureMode {
    /// Signed by the key given to [`ProofBuilder::sign`].
    #[default]
    Valid,
    /// A valid signature with one bit flipped in its middle.
    Corrupted,
    /// Signed by another key (the embedded `jwk` still defaults to the signing key's).
    ByKey(SigningKey),
    /// An empty signature segment (as with `alg: none`).
    Empty,
    /// These exact bytes.
    Raw(Vec<u8>),
}

/// Where the default `jwk` header comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JwkSource {
    /// The signing key's public JWK (kty and key members only).
    Public,
    /// The signing key's private JWK (`d`, and `p`, `q`, … for RSA): leaks private material.
    Private,
}

/// Header members that come first, in this order, when present.
const HEADER_ORDER: [&str; 3] = ["typ", "alg", "jwk"];
/// Claims that come first, in this order, when present.
const CLAIMS_ORDER: [&str; 4] = ["jti", "htm", "htu", "iat"];

/// Builds one DPoP proof. See the module doc for the defaults.
#[derive(Debug, Clone)]
pub struct ProofBuilder {
    /// Explicitly set header members (typ is set by `new`).
    header: JsonObject,
    /// Explicitly set claims (jti, htm, htu are set by `new`).
    claims: JsonObject,
    header_removed: Vec<String>,
    claims_removed: Vec<String>,
    header_dups: Vec<(String, Value)>,
    claim_dups: Vec<(String, Value)>,
    jwk_source: JwkSource,
    /// Reference time for the default `iat`; `unix_now()` at signing when `None`.
    now: Option<i64>,
    iat_offset: i64,
    signature: SignatureMode,
    sign_as: Option<Algorithm>,
}

impl ProofBuilder {
    /// A valid proof for `method` on `url` (used verbatim as `htu`; pass it without query and
    /// fragment, as RFC 9449 §4.2 asks).
    pub fn new(method: &str, url: &str) -> Self {
        let mut header = JsonObject::new();
        header.set("typ", DPOP_TYP);
        let mut claims = JsonObject::new();
        claims.set("jti", crate::random_b64url(16));
        claims.set("htm", method);
        claims.set("htu", url);
        Self {
            header,
            claims,
            header_removed: Vec::new(),
            claims_removed: Vec::new(),
            header_dups: Vec::new(),
            claim_dups: Vec::new(),
            jwk_source: JwkSource::Public,
            now: None,
            iat_offset: 0,
            signature: SignatureMode::Valid,
            sign_as: None,
        }
    }

    // ---- generic access to any member ----

    /// Sets a header parameter (replacing a default such as `typ`, `alg` or `jwk`).
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.header_removed.retain(|n| n != name);
        self.header.set(name, value);
        self
    }

    /// Sets a claim (replacing a default such as `jti` or `iat`).
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims_removed.retain(|n| n != name);
        self.claims.set(name, value);
        self
    }

    /// Leaves a header parameter out (defaults included).
    pub fn remove_header(mut self, name: &str) -> Self {
        self.header.remove(name);
        self.header_dups.retain(|(n, _)| n != name);
        self.header_removed.push(name.to_owned());
        self
    }

    /// Leaves a claim out (defaults included).
    pub fn remove_claim(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self.claim_dups.retain(|(n, _)| n != name);
        self.claims_removed.push(name.to_owned());
        self
    }

    /// Appends a second header member of this name (a duplicate on purpose).
    pub fn duplicate_header(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.header_dups.push((name.to_owned(), value.into()));
        self
    }

    /// Appends a second claim of this name (a duplicate on purpose).
    pub fn duplicate_claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claim_dups.push((name.to_owned(), value.into()));
        self
    }

    // ---- header ----

    pub fn typ(self, typ: &str) -> Self {
        self.header("typ", typ)
    }

    /// The `alg` header value only; the signature still uses the key's algorithm unless
    /// [`ProofBuilder::sign_as`] says otherwise.
    pub fn alg(self, alg: &str) -> Self {
        self.header("alg", alg)
    }

    /// Signs under another algorithm of the key's family (PS256 with an RSA key made for
    /// RS256); the default `alg` header follows.
    pub fn sign_as(mut self, alg: Algorithm) -> Self {
        self.sign_as = Some(alg);
        self
    }

    /// Embeds this JWK instead of the signing key's.
    pub fn jwk(self, jwk: &Jwk) -> Self {
        self.header("jwk", jwk.to_json())
    }

    /// Embeds another key's public JWK (the proof is still signed by the signing key).
    pub fn jwk_of(self, other: &SigningKey) -> Self {
        self.jwk(&minimal_public_jwk(other))
    }

    /// Embeds the signing key's private JWK (private members leaked).
    pub fn private_jwk(mut self) -> Self {
        self.header.remove("jwk");
        self.header_removed.retain(|n| n != "jwk");
        self.jwk_source = JwkSource::Private;
        self
    }

    pub fn no_jwk(self) -> Self {
        self.remove_header("jwk")
    }

    // ---- signature ----

    pub fn signature(mut self, mode: SignatureMode) -> Self {
        self.signature = mode;
        self
    }

    pub fn corrupt_signature(self) -> Self {
        self.signature(SignatureMode::Corrupted)
    }

    /// Signs with `other` while the embedded `jwk` stays the one of the key given to `sign`.
    pub fn signed_by(self, other: &SigningKey) -> Self {
        self.signature(SignatureMode::ByKey(other.clone()))
    }

    // ---- claims ----

    pub fn htm(self, method: &str) -> Self {
        self.claim("htm", method)
    }

    pub fn htu(self, url: &str) -> Self {
        self.claim("htu", url)
    }

    /// Rewrites the current `htu` text (query/fragment appended, upper-case scheme and host,
    /// explicit default port, percent-encoded unreserved character, trailing slash, …).
    pub fn htu_variant(self, variant: HtuVariant) -> Self {
        let current = self.claims.get_str("htu").unwrap_or_default().to_owned();
        self.htu(&variant.apply(&current))
    }

    /// Reference time for the default `iat` and for [`ProofBuilder::iat_offset`].
    pub fn now(mut self, now: i64) -> Self {
        self.now = Some(now);
        self
    }

    /// An absolute `iat`.
    pub fn iat(self, iat: i64) -> Self {
        self.claim("iat", iat)
    }

    /// `iat` = reference time + `offset` seconds (negative: in the past).
    pub fn iat_offset(mut self, offset: i64) -> Self {
        self.claims.remove("iat");
        self.claims_removed.retain(|n| n != "iat");
        self.iat_offset = offset;
        self
    }

    pub fn jti(self, jti: &str) -> Self {
        self.claim("jti", jti)
    }

    pub fn no_jti(self) -> Self {
        self.remove_claim("jti")
    }

    pub fn empty_jti(self) -> Self {
        self.jti("")
    }

    /// A `jti` of `len` characters.
    pub fn huge_jti(self, len: usize) -> Self {
        self.jti(&"J".repeat(len))
    }

    /// The `jti` the proof will carry, if it is a string.
    pub fn jti_value(&self) -> Option<&str> {
        self.claims.get_str("jti")
    }

    /// `ath` = base64url(SHA-256(access_token)).
    pub fn ath_for(self, access_token: &str) -> Self {
        self.claim("ath", jwk::access_token_hash(access_token))
    }

    /// A raw `ath` value.
    pub fn ath(self, ath: &str) -> Self {
        self.claim("ath", ath)
    }

    pub fn no_ath(self) -> Self {
        self.remove_claim("ath")
    }

    pub fn nonce(self, nonce: &str) -> Self {
        self.claim("nonce", nonce)
    }

    // ---- output ----

    /// The header and claims that [`ProofBuilder::sign`] would sign with `key`.
    pub fn parts(&self, key: &SigningKey) -> (JsonObject, JsonObject) {
        let alg = self.sign_as.unwrap_or(key.alg());
        let mut header = JsonObject::new();
        for name in HEADER_ORDER {
            let value = match (self.header.get(name), name) {
                (Some(v), _) => Some(v.clone()),
                _ if self.header_removed.iter().any(|n| n == name) => None,
                (None, "alg") => Some(Value::from(alg.name())),
                (None, "jwk") => Some(match self.jwk_source {
                    JwkSource::Public => minimal_public_jwk(key).to_json(),
                    JwkSource::Private => minimal_private_jwk(key),
                }),
                _ => None,
            };
            if let Some(v) = value {
                header.set(name, v);
            }
        }
        for (name, v) in self.header.members() {
            if !HEADER_ORDER.contains(&name.as_str()) {
                header.set(name.clone(), v.clone());
            }
        }
        for (name, v) in &self.header_dups {
            header.push_duplicate(name.clone(), v.clone());
        }

        let mut claims = JsonObject::new();
        for name in CLAIMS_ORDER {
            let value = match (self.claims.get(name), name) {
                (Some(v), _) => Some(v.clone()),
                _ if self.claims_removed.iter().any(|n| n == name) => None,
                (None, "iat") => Some(Value::from(
                    self.now
                        .unwrap_or_else(crate::unix_now)
                        .saturating_add(self.iat_offset),
                )),
                _ => None,
            };
            if let Some(v) = value {
                claims.set(name, v);
            }
        }
        for (name, v) in self.claims.members() {
            if !CLAIMS_ORDER.contains(&name.as_str()) {
                claims.set(name.clone(), v.clone());
            }
        }
        for (name, v) in &self.claim_dups {
            claims.push_duplicate(name.clone(), v.clone());
        }
        (header, claims)
    }

    /// The compact proof; fails only when the key cannot sign under `sign_as`.
    pub fn try_sign(&self, key: &SigningKey) -> Result<String, KeyError> {
        let (header, claims) = self.parts(key);
        let (h, p) = (header.to_bytes(), claims.to_bytes());
        let signer = match &self.signature {
            SignatureMode::ByKey(other) => other,
            _ => key,
        };
        let alg = match (&self.signature, self.sign_as) {
            (_, Some(alg)) => alg,
            (SignatureMode::ByKey(other), None) => other.alg(),
            _ => key.alg(),
        };
        let token = jws::sign_raw_as(&h, &p, signer, alg)?;
        let signing_input = &token[..token.rfind('.').unwrap_or(token.len())];
        let with_sig = |sig: &[u8]| format!("{signing_input}.{}", b64::encode(sig));
        Ok(match &self.signature {
            SignatureMode::Valid | SignatureMode::ByKey(_) => token,
            SignatureMode::Corrupted => {
                let mut sig =
                    b64::decode_strict(&token[signing_input.len() + 1..]).unwrap_or_default();
                let mid = sig.len() / 2;
                if let Some(b) = sig.get_mut(mid) {
                    *b ^= 0x01;
                }
                with_sig(&sig)
            }
            SignatureMode::Empty => with_sig(&[]),
            SignatureMode::Raw(bytes) => with_sig(bytes),
        })
    }

    /// The compact proof.
    ///
    /// # Panics
    /// When the key cannot sign under the algorithm set with [`ProofBuilder::sign_as`].
    pub fn sign(&self, key: &SigningKey) -> String {
        self.try_sign(key)
            .expect("the key signs under the requested algorithm")
    }
}

/// The key's public JWK with only `kty` and the key members (no kid, alg, use).
pub fn minimal_public_jwk(key: &SigningKey) -> Jwk {
    let mut jwk = key.public_jwk();
    jwk.kid = None;
    jwk.alg = None;
    jwk.key_use = None;
    jwk.key_ops = None;
    jwk
}

/// The key's private JWK without kid, alg and use, so the private members are its only defect.
fn minimal_private_jwk(key: &SigningKey) -> Value {
    let mut v = key.private_jwk();
    if let Some(m) = v.as_object_mut() {
        for name in ["kid", "alg", "use", "key_ops"] {
            m.remove(name);
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jws::Jws;
    use serde_json::json;

    fn es256() -> SigningKey {
        SigningKey::generate(Algorithm::Es256).unwrap()
    }

    #[test]
    fn defaults_make_the_rfc_shape() {
        let k = es256();
        let proof = ProofBuilder::new("POST", "https://mcp.test/mcp")
            .now(1_700_000_000)
            .sign(&k);
        let jws = Jws::parse(&proof).unwrap();
        let h = jws.header();
        let names: Vec<_> = h.members().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["typ", "alg", "jwk"]);
        assert_eq!(h.get_str("typ"), Some("dpop+jwt"));
        assert_eq!(h.get_str("alg"), Some("ES256"));
        let jwk = Jwk::from_json(h.get("jwk").unwrap()).unwrap();
        assert_eq!(jwk.thumbprint(), k.public_jwk().thumbprint());
        assert_eq!(jwk.to_json().as_object().unwrap().len(), 4, "kty crv x y");
        let c = jws.claims().unwrap();
        let names: Vec<_> = c.members().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["jti", "htm", "htu", "iat"]);
        assert_eq!(c.get("iat"), Some(&json!(1_700_000_000)));
        assert!(b64::decode_strict(c.get_str("jti").unwrap()).unwrap().len() >= 16);
        assert!(
            k.verifying_key()
                .verify(Algorithm::Es256, jws.signing_input(), jws.signature(), true)
                .is_ok()
        );
    }

    #[test]
    fn every_member_can_be_set_removed_or_duplicated() {
        let k = es256();
        let b = ProofBuilder::new("POST", "https://mcp.test/mcp")
            .now(100)
            .iat_offset(-10)
            .typ("JWT")
            .alg("none")
            .no_jwk()
            .header("x-foo", 1)
            .claim("tx", "a")
            .remove_claim("htm")
            .duplicate_claim("htu", "https://other.test/")
            .ath_for("tok")
            .nonce("n1")
            .jti("j");
        let (h, c) = b.parts(&k);
        assert_eq!(h.to_string(), r#"{"typ":"JWT","alg":"none","x-foo":1}"#);
        assert_eq!(
            c.to_string(),
            format!(
                r#"{{"jti":"j","htu":"https://mcp.test/mcp","iat":90,"tx":"a","ath":"{}","nonce":"n1","htu":"https://other.test/"}}"#,
                jwk::access_token_hash("tok")
            )
        );
        let (h, _) = b
            .clone()
            .remove_header("typ")
            .remove_header("alg")
            .parts(&k);
        assert_eq!(h.to_string(), r#"{"x-foo":1}"#);
        let (_, c) = b.no_jti().remove_claim("iat").no_ath().parts(&k);
        assert!(!c.contains("jti") && !c.contains("iat") && !c.contains("ath"));
    }

    #[test]
    fn jwk_and_signature_choices() {
        let k = es256();
        let other = es256();
        let b = ProofBuilder::new("POST", "https://mcp.test/mcp");
        let jwk_of =
            |p: &str| Jwk::from_json(Jws::parse(p).unwrap().header().get("jwk").unwrap()).unwrap();
        let leaked = jwk_of(&b.clone().private_jwk().sign(&k));
        assert_eq!(leaked.private_members, ["d"]);
        assert_eq!(leaked.thumbprint(), k.public_jwk().thumbprint());
        let swapped = jwk_of(&b.clone().jwk_of(&other).sign(&k));
        assert_eq!(swapped.thumbprint(), other.public_jwk().thumbprint());

        let verifies = |p: &str, key: &SigningKey| {
            let jws = Jws::parse(p).unwrap();
            key.verifying_key()
                .verify(key.alg(), jws.signing_input(), jws.signature(), false)
                .is_ok()
        };
        let by_other = b.clone().signed_by(&other).sign(&k);
        assert_eq!(jwk_of(&by_other).thumbprint(), k.public_jwk().thumbprint());
        assert!(verifies(&by_other, &other) && !verifies(&by_other, &k));
        assert!(!verifies(&b.clone().corrupt_signature().sign(&k), &k));
        assert!(
            b.clone()
                .signature(SignatureMode::Empty)
                .sign(&k)
                .ends_with('.')
        );
        assert!(verifies(&b.sign(&k), &k));

        let rsa = SigningKey::generate(Algorithm::Rs256).unwrap();
        let pss = ProofBuilder::new("GET", "https://h/")
            .sign_as(Algorithm::Ps256)
            .sign(&rsa);
        assert_eq!(Jws::parse(&pss).unwrap().alg(), Some("PS256"));
        assert!(
            ProofBuilder::new("GET", "https://h/")
                .sign_as(Algorithm::Es256)
                .try_sign(&rsa)
                .is_err()
        );
    }

    #[test]
    fn clones_share_the_jti_and_new_builders_do_not() {
        let a = ProofBuilder::new("POST", "https://h/");
        assert_eq!(a.clone().jti_value(), a.jti_value());
        assert_ne!(
            ProofBuilder::new("POST", "https://h/").jti_value(),
            a.jti_value()
        );
        assert_eq!(a.huge_jti(300).jti_value().map(str::len), Some(300));
    }
}
