//! Attack stimuli derived from a token a real authorization server issued. Its compact text
//! and the AS's published JWKS are all there is: an attack that must be signed by the AS key
//! is not applicable, and every other one is built by the same code as [`Attack::forge`].

use std::borrow::Cow;

use serde_json::Value;

use super::{Attack, NotApplicable, Tamper, Victim, tamper};
use crate::alg::Algorithm;
use crate::json::JsonObject;
use crate::jwk::Jwk;
use crate::jws::{Jws, JwsError, ParseOptions};
use crate::keys::SigningKey;
use crate::token::TokenSpec;

/// Why an access token cannot be read as a JWT: an opaque token, a JWE, a broken string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAJwt {
    #[error("not a compact JWS with a JSON claims set: {0}")]
    Jws(#[from] JwsError),
    #[error("the JWS header has no string alg")]
    NoAlg,
}

/// An access token issued by an authorization server, read as a compact JWS. The segment
/// texts are kept as issued, so whatever a derived stimulus does not change stays
/// byte-identical.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    jws: Jws,
    claims_object: JsonObject,
    header: Value,
    claims: Value,
    alg: String,
    kid: Option<String>,
    public_key: Option<Jwk>,
}

impl IssuedToken {
    /// Reads a compact JWS whose payload is a JSON object. Base64url must be strict (a real
    /// AS writes it so, and the tampering steps assume it); duplicate members are tolerated
    /// and stay visible in the header's [`JsonObject`].
    pub fn parse(compact: &str) -> Result<Self, NotAJwt> {
        let options = ParseOptions {
            lenient_base64: false,
            ..ParseOptions::lenient()
        };
        let jws = Jws::parse_with(compact, &options)?;
        let claims_object = jws.claims_lenient()?;
        let alg = jws.alg().ok_or(NotAJwt::NoAlg)?.to_owned();
        Ok(Self {
            header: Value::Object(jws.header().to_map()),
            claims: Value::Object(claims_object.to_map()),
            kid: jws.kid().map(str::to_owned),
            alg,
            claims_object,
            jws,
            public_key: None,
        })
    }

    /// Attaches the AS's published key that verifies this token (the caller picks it from the
    /// JWKS, by `kid`): the attacks on the public key need it.
    pub fn with_public_key(mut self, jwk: Jwk) -> Self {
        self.public_key = Some(jwk);
        self
    }

    /// The token exactly as issued.
    pub fn compact(&self) -> &str {
        self.jws.as_str()
    }

    /// The header, payload and signature texts as issued.
    pub fn segments(&self) -> [&str; 3] {
        self.jws.segments()
    }

    /// The decoded header (an object; of duplicate members the last).
    pub fn header(&self) -> &Value {
        &self.header
    }

    /// The decoded claims set (an object; of duplicate members the last).
    pub fn claims(&self) -> &Value {
        &self.claims
    }

    pub fn alg(&self) -> &str {
        &self.alg
    }

    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The published key attached with [`Self::with_public_key`].
    pub fn public_key(&self) -> Option<&Jwk> {
        self.public_key.as_ref()
    }

    /// The token with one claim changed and the payload re-encoded (compact JSON, member
    /// order kept); header and the AS's original signature keep their exact text, so only a
    /// signature check can refuse it.
    pub fn edited(&self, edit: &ClaimEdit) -> String {
        let mut claims = self.claims_object.clone();
        edit.apply(&mut claims);
        tamper(self.compact(), &Tamper::ReplacePayload(claims))
    }

    /// What the forgers know of the AS: its token, `alg`, `kid` and published key, no
    /// private key.
    fn victim(&self) -> Victim<'_> {
        Victim {
            valid: Box::new(|| self.compact().to_owned()),
            header: self.jws.header().clone(),
            spec: Cow::Owned(self.as_spec()),
            alg: Algorithm::from_name(&self.alg),
            kid: self.kid(),
            public_jwk: self.public_key.as_ref().map(Cow::Borrowed),
            signer: None,
        }
    }

    /// The token as a spec to re-sign: header and claims in issued order, without `alg` and
    /// `kid`, which the re-signing key supplies as it does for a minted token.
    fn as_spec(&self) -> TokenSpec {
        let header = self
            .jws
            .header()
            .members()
            .iter()
            .filter(|(name, _)| name != "alg" && name != "kid");
        let spec = header.fold(TokenSpec::new(), |spec, (name, value)| {
            if spec.header_json().contains(name) {
                spec.duplicate_header(name, value.clone())
            } else {
                spec.header(name, value.clone())
            }
        });
        let claims = self.claims_object.members().iter();
        claims.fold(spec, |spec, (name, value)| {
            if spec.claims_json().contains(name) {
                spec.duplicate_claim(name, value.clone())
            } else {
                spec.claim(name, value.clone())
            }
        })
    }
}

/// What [`Attack::derive`] works from: a token of the AS, no AS private key.
#[derive(Debug, Clone, Copy)]
pub struct DeriveContext<'a> {
    /// A valid token the target accepts, with the AS's published key when it is known.
    pub issued: &'a IssuedToken,
    /// A key the target must not trust.
    pub attacker: &'a SigningKey,
    /// A URL under the tool's control, for `jku`/`x5u`.
    pub listener_url: &'a str,
}

impl Attack {
    /// The stimulus [`Self::forge`] would build, from a token a real AS issued: the issued
    /// text is `V`, the attached published key is the victim's public key. Attacks that need
    /// a signature by the AS key are [`NotApplicable`] with
    /// [`NEEDS_SIGNING_KEY`](super::NEEDS_SIGNING_KEY); attacks on the public key without an
    /// attached key, with [`NEEDS_PUBLISHED_KEY`](super::NEEDS_PUBLISHED_KEY).
    pub fn derive(&self, ctx: &DeriveContext) -> Result<String, NotApplicable> {
        self.build(&ctx.issued.victim(), ctx.attacker, ctx.listener_url)
    }
}

/// One claim changed in an issued token whose original signature is kept
/// ([`IssuedToken::edited`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimEdit {
    /// `aud` replaced by this string.
    Audience(String),
    AudienceRemoved,
    /// `exp` set to this Unix time (one in the past makes an expired token).
    Expiry(i64),
    ExpiryRemoved,
    /// `scope` replaced (or added).
    Scope(String),
    /// `sub` replaced.
    Subject(String),
    /// `iss` replaced.
    Issuer(String),
    IssuerRemoved,
}

impl ClaimEdit {
    /// A short stable name, e.g. `aud-replaced`.
    pub fn name(&self) -> &'static str {
        match self {
            ClaimEdit::Audience(_) => "aud-replaced",
            ClaimEdit::AudienceRemoved => "aud-removed",
            ClaimEdit::Expiry(_) => "exp-replaced",
            ClaimEdit::ExpiryRemoved => "exp-removed",
            ClaimEdit::Scope(_) => "scope-replaced",
            ClaimEdit::Subject(_) => "sub-replaced",
            ClaimEdit::Issuer(_) => "iss-replaced",
            ClaimEdit::IssuerRemoved => "iss-removed",
        }
    }

    /// One line saying what the edited token is, for reports.
    pub fn description(&self) -> String {
        let edit = match self {
            ClaimEdit::Audience(aud) => format!("aud replaced by {aud:?}"),
            ClaimEdit::AudienceRemoved => "aud removed".into(),
            ClaimEdit::Expiry(exp) => format!("exp set to {exp}"),
            ClaimEdit::ExpiryRemoved => "exp removed".into(),
            ClaimEdit::Scope(scope) => format!("scope replaced by {scope:?}"),
            ClaimEdit::Subject(sub) => format!("sub replaced by {sub:?}"),
            ClaimEdit::Issuer(iss) => format!("iss replaced by {iss:?}"),
            ClaimEdit::IssuerRemoved => "iss removed".into(),
        };
        format!("{edit}, the authorization server's original signature kept")
    }

    /// The claim this edit changes.
    pub fn claim(&self) -> &'static str {
        match self {
            ClaimEdit::Audience(_) | ClaimEdit::AudienceRemoved => "aud",
            ClaimEdit::Expiry(_) | ClaimEdit::ExpiryRemoved => "exp",
            ClaimEdit::Scope(_) => "scope",
            ClaimEdit::Subject(_) => "sub",
            ClaimEdit::Issuer(_) | ClaimEdit::IssuerRemoved => "iss",
        }
    }

    fn apply(&self, claims: &mut JsonObject) {
        let name = self.claim();
        match self {
            ClaimEdit::Audience(value)
            | ClaimEdit::Scope(value)
            | ClaimEdit::Subject(value)
            | ClaimEdit::Issuer(value) => claims.set(name, value.as_str()),
            ClaimEdit::Expiry(exp) => claims.set(name, *exp),
            ClaimEdit::AudienceRemoved | ClaimEdit::ExpiryRemoved | ClaimEdit::IssuerRemoved => {
                claims.remove(name);
            }
        }
    }
}

/// Near misses of an opaque (non-JWT) token, labelled: cut by one character, the last
/// character changed within its class, one character appended. Each differs from the token
/// and from the others; an empty variant is never produced.
pub fn opaque_variants(token: &str) -> Vec<(&'static str, String)> {
    let mut stem = token.chars();
    let Some(last) = stem.next_back() else {
        return vec![("char-appended", "A".to_owned())];
    };
    let stem = stem.as_str();
    let other = same_class_successor(last);
    let mut variants = Vec::with_capacity(3);
    if !stem.is_empty() {
        variants.push(("truncated-by-one", stem.to_owned()));
    }
    variants.push(("last-char-changed", format!("{stem}{other}")));
    variants.push(("char-appended", format!("{token}{other}")));
    variants
}

/// Character classes a token alphabet is made of; punctuation is paired so a base64url,
/// base64 or unreserved character stays one.
const CHARACTER_CLASSES: [&str; 7] = [
    "0123456789",
    "abcdefghijklmnopqrstuvwxyz",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "-_",
    ".~",
    "+/",
    "!\"#$%&'()*,:;<=>?@[\\]^`{|}",
];

/// The next character of `c`'s class, cyclically; outside the classes, the next Unicode
/// scalar value outside them too. Never `c` itself: a format check cannot tell the change.
fn same_class_successor(c: char) -> char {
    let class_of = |c: char| CHARACTER_CLASSES.iter().find(|class| class.contains(c));
    match class_of(c) {
        Some(class) => class
            .chars()
            .skip_while(|&k| k != c)
            .nth(1)
            .or_else(|| class.chars().next())
            .unwrap_or(c),
        None => (u32::from(c) + 1..=u32::from(char::MAX))
            .filter_map(char::from_u32)
            .find(|&k| class_of(k).is_none())
            .unwrap_or('\0'),
    }
}

#[cfg(test)]
#[path = "derive_tests.rs"]
mod tests;
