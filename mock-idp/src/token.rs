//! `TokenSpec`: describe any JWT — valid RFC 9068 access token or something defective — and
//! mint it with any key. Post-signing tampering lives in `forge`.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::alg::Algorithm;
use crate::json::JsonObject;
use crate::jwk::Jwk;
use crate::keys::SigningKey;
use crate::{b64, jws, random_b64url, unix_now};

/// Default access-token lifetime in seconds.
pub const DEFAULT_LIFETIME: i64 = 300;

/// A JWT under construction: header and claims as ordered JSON objects.
///
/// `alg` and `kid` are filled in from the signing key at mint time unless they were set or
/// removed explicitly, so `without_header("kid")` really produces a token with no `kid`.
#[derive(Debug, Clone, Default)]
pub struct TokenSpec {
    header: JsonObject,
    claims: JsonObject,
    explicit_header: BTreeSet<String>,
}

impl TokenSpec {
    /// An empty header and claims set.
    pub fn new() -> Self {
        Self::default()
    }

    /// A valid RFC 9068 access token `V` (spec §0.3): `typ: at+jwt`, `iss`, `aud`, `sub`,
    /// `client_id`, `scope`, `iat` = now, `exp` = now + 300, random `jti`.
    pub fn access_token(
        issuer: &str,
        audience: &str,
        subject: &str,
        client_id: &str,
        scope: &str,
    ) -> Self {
        let now = unix_now();
        let mut spec = Self::new()
            .typ("at+jwt")
            .claim("iss", issuer)
            .claim("aud", audience)
            .claim("sub", subject)
            .claim("client_id", client_id);
        if !scope.is_empty() {
            spec = spec.claim("scope", scope);
        }
        spec.claim("iat", now)
            .claim("exp", now + DEFAULT_LIFETIME)
            .claim("jti", random_b64url(16))
    }

    /// Sets a header parameter (replacing any earlier value).
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.explicit_header.insert(name.to_owned());
        self.header.set(name, value);
        self
    }

    /// Removes a header parameter; `alg` and `kid` then stay absent at mint time.
    pub fn without_header(mut self, name: &str) -> Self {
        self.explicit_header.insert(name.to_owned());
        self.header.remove(name);
        self
    }

    pub fn alg(self, alg: &str) -> Self {
        self.header("alg", alg)
    }
    pub fn typ(self, typ: &str) -> Self {
        self.header("typ", typ)
    }
    pub fn kid(self, kid: &str) -> Self {
        self.header("kid", kid)
    }
    pub fn jku(self, url: &str) -> Self {
        self.header("jku", url)
    }
    pub fn x5u(self, url: &str) -> Self {
        self.header("x5u", url)
    }
    /// Embeds a JWK in the header (RFC 7515 §4.1.3).
    pub fn jwk(self, jwk: &Jwk) -> Self {
        self.header("jwk", jwk.to_json())
    }
    /// Sets `crit`; the caller adds the listed parameters (or leaves them out on purpose).
    pub fn crit(self, names: &[&str]) -> Self {
        self.header("crit", json!(names))
    }

    /// Sets a claim (replacing any earlier value).
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.set(name, value);
        self
    }

    pub fn without_claim(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    pub fn iss(self, iss: &str) -> Self {
        self.claim("iss", iss)
    }
    pub fn aud(self, aud: &str) -> Self {
        self.claim("aud", aud)
    }
    pub fn aud_array(self, auds: &[&str]) -> Self {
        self.claim("aud", json!(auds))
    }
    pub fn subject(self, sub: &str) -> Self {
        self.claim("sub", sub)
    }
    pub fn client_id(self, client_id: &str) -> Self {
        self.claim("client_id", client_id)
    }
    pub fn scope(self, scope: &str) -> Self {
        self.claim("scope", scope)
    }
    pub fn iat(self, t: i64) -> Self {
        self.claim("iat", t)
    }
    pub fn nbf(self, t: i64) -> Self {
        self.claim("nbf", t)
    }
    pub fn exp(self, t: i64) -> Self {
        self.claim("exp", t)
    }
    pub fn jti(self, jti: &str) -> Self {
        self.claim("jti", jti)
    }
    /// Binds the token to a DPoP key (RFC 9449 §6.1).
    pub fn cnf_jkt(self, thumbprint: &str) -> Self {
        self.claim("cnf", json!({ "jkt": thumbprint }))
    }

    /// Appends a duplicate claim on purpose (parser-differential stimuli).
    pub fn duplicate_claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.push_duplicate(name, value);
        self
    }

    /// Appends a duplicate header parameter on purpose.
    pub fn duplicate_header(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.explicit_header.insert(name.to_owned());
        self.header.push_duplicate(name, value);
        self
    }

    pub fn header_json(&self) -> &JsonObject {
        &self.header
    }

    pub fn claims_json(&self) -> &JsonObject {
        &self.claims
    }

    /// The header that minting with `key` will sign: `alg` and `kid` from the key unless set
    /// or removed explicitly; `alg` first, as libraries write it.
    pub fn final_header(&self, key: &SigningKey) -> JsonObject {
        let mut header = JsonObject::new();
        if !self.explicit_header.contains("alg") {
            header.set("alg", key.alg().name());
        }
        for (name, value) in self.header.members() {
            header.push_duplicate(name.clone(), value.clone());
        }
        if !self.explicit_header.contains("kid")
            && let Some(kid) = key.kid()
        {
            header.set("kid", kid);
        }
        header
    }

    /// Signs with `key`. An explicit `alg` of the same key family (PS256 on an RSA key) is
    /// honoured; any other explicit `alg` (`none`, `HS256` on an EC key…) is written as given
    /// while the signature is the key's own — use `forge` for signatures that match such a lie.
    pub fn mint(&self, key: &SigningKey) -> String {
        let header = self.final_header(key).to_bytes();
        let payload = self.claims.to_bytes();
        match self
            .header
            .get_str("alg")
            .and_then(Algorithm::from_name)
            .filter(|a| *a != key.alg())
        {
            Some(other) => jws::sign_raw_as(&header, &payload, key, other)
                .unwrap_or_else(|_| jws::sign_raw(&header, &payload, key)),
            None => jws::sign_raw(&header, &payload, key),
        }
    }

    /// The unsigned `header.payload.` form (for forgers that supply their own signature).
    pub fn unsigned(&self, key: &SigningKey) -> String {
        format!(
            "{}.{}.",
            b64::encode(self.final_header(key).to_bytes()),
            b64::encode(self.claims.to_bytes())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jws::{Jws, Verifier};

    #[test]
    fn access_token_has_the_rfc9068_shape_and_verifies() {
        let key = SigningKey::generate(Algorithm::Es256)
            .unwrap()
            .with_kid("k1");
        let token =
            TokenSpec::access_token("https://as", "https://rs/mcp", "alice", "c1", "mcp:read")
                .mint(&key);
        let jws = Jws::parse(&token).unwrap();
        assert_eq!(jws.typ(), Some("at+jwt"));
        assert_eq!(jws.kid(), Some("k1"));
        assert_eq!(jws.alg(), Some("ES256"));
        let claims = jws.claims().unwrap();
        for c in [
            "iss",
            "aud",
            "sub",
            "client_id",
            "scope",
            "iat",
            "exp",
            "jti",
        ] {
            assert!(claims.contains(c), "{c}");
        }
        let v = Verifier::new(&[Algorithm::Es256]).with_key(key.verifying_key());
        assert!(v.verify(&jws).is_ok());
    }

    #[test]
    fn explicit_removal_and_overrides_survive_minting() {
        let key = SigningKey::generate(Algorithm::Rs256)
            .unwrap()
            .with_kid("k1");
        let token = TokenSpec::new()
            .without_header("kid")
            .alg("PS256")
            .aud_array(&["a", "b"])
            .duplicate_claim("aud", "c")
            .cnf_jkt("abc")
            .mint(&key);
        let jws = Jws::parse_with(&token, &crate::jws::ParseOptions::lenient()).unwrap();
        assert_eq!(jws.kid(), None);
        assert_eq!(jws.alg(), Some("PS256"));
        let claims = jws.claims_lenient().unwrap();
        assert_eq!(claims.duplicates(), ["aud"]);
        assert_eq!(claims.get_first("aud"), Some(&json!(["a", "b"])));
        // PS256 was honoured: the token verifies under PS256 with a key not pinned to RS256.
        let mut jwk = key.public_jwk();
        jwk.alg = None;
        let vk = crate::keys::VerifyingKey::from_jwk(&jwk).unwrap();
        assert!(
            vk.verify(
                Algorithm::Ps256,
                jws.signing_input(),
                jws.signature(),
                false
            )
            .is_ok()
        );
    }
}
