//! Compact JWS (RFC 7515 §7.1): parse, sign over exact bytes, verify with an allow-list.
//!
//! The parser is the one every verdict rests on, so it refuses loudly and precisely: exactly
//! three segments, strict base64url, a JSON-object header without duplicate members, size
//! limits. A lenient mode exists only to read back the malformed tokens the forgers produce.

use serde_json::Value;

use crate::alg::Algorithm;
use crate::b64::{self, B64Error};
use crate::json::{JsonError, JsonObject};
use crate::keys::{SignatureError, SigningKey, VerifyingKey};

/// Size limits applied before any decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_token_bytes: usize,
    pub max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_token_bytes: 32 * 1024,
            max_header_bytes: 8 * 1024,
        }
    }
}

/// How tolerant the parser is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    pub limits: Limits,
    /// Accept padding, `+`/`/`, whitespace and non-canonical trailing bits.
    pub lenient_base64: bool,
    /// Accept duplicate JSON member names (they stay visible in `JsonObject::duplicates`).
    pub allow_duplicates: bool,
}

impl ParseOptions {
    pub fn strict() -> Self {
        Self {
            limits: Limits::default(),
            lenient_base64: false,
            allow_duplicates: false,
        }
    }

    /// For inspecting forged tokens: nothing but the segment count and JSON syntax is enforced.
    pub fn lenient() -> Self {
        Self {
            limits: Limits {
                max_token_bytes: 4 * 1024 * 1024,
                max_header_bytes: 1024 * 1024,
            },
            lenient_base64: true,
            allow_duplicates: true,
        }
    }
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self::strict()
    }
}

/// Which part of a compact JWS a problem is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    Header,
    Payload,
    Signature,
}

/// Why a string is not an acceptable compact JWS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    #[error("token is {len} bytes, more than the limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("compact JWS needs exactly 3 dot-separated segments, found {found}")]
    SegmentCount { found: usize },
    #[error("{segment:?} segment is empty")]
    EmptySegment { segment: Segment },
    #[error("{segment:?} segment is not strict base64url: {error}")]
    Base64 { segment: Segment, error: B64Error },
    #[error("{segment:?} is not a JSON object: {error}")]
    Json { segment: Segment, error: JsonError },
    #[error("{segment:?} has duplicate member {path:?}")]
    DuplicateMember { segment: Segment, path: String },
}

/// A parsed compact JWS. The original text is kept so the signing input is exactly the bytes
/// that were received.
#[derive(Debug, Clone)]
pub struct Jws {
    token: String,
    header_end: usize,
    payload_end: usize,
    header: JsonObject,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl Jws {
    /// Strict parse with default limits.
    pub fn parse(token: &str) -> Result<Self, JwsError> {
        Self::parse_with(token, &ParseOptions::strict())
    }

    pub fn parse_with(token: &str, opts: &ParseOptions) -> Result<Self, JwsError> {
        if token.len() > opts.limits.max_token_bytes {
            return Err(JwsError::TooLarge {
                len: token.len(),
                max: opts.limits.max_token_bytes,
            });
        }
        // Splitting and searching by `char` go through memchr; a byte-by-byte count would be
        // the costliest loop of the parser under fuzzing instrumentation.
        let (h, p, s) = match token.split_once('.') {
            Some((h, rest)) => match rest.split_once('.') {
                Some((p, s)) if !s.contains('.') => (h, p, s),
                _ => {
                    return Err(JwsError::SegmentCount {
                        found: token.matches('.').count() + 1,
                    });
                }
            },
            None => return Err(JwsError::SegmentCount { found: 1 }),
        };
        if h.is_empty() {
            return Err(JwsError::EmptySegment {
                segment: Segment::Header,
            });
        }
        if h.len() > opts.limits.max_header_bytes {
            return Err(JwsError::TooLarge {
                len: h.len(),
                max: opts.limits.max_header_bytes,
            });
        }
        let decode = |segment: Segment, text: &str| {
            if opts.lenient_base64 {
                b64::decode_lenient(text)
            } else {
                b64::decode_strict(text)
            }
            .map_err(|error| JwsError::Base64 { segment, error })
        };
        let header_bytes = decode(Segment::Header, h)?;
        let payload = decode(Segment::Payload, p)?;
        let signature = decode(Segment::Signature, s)?;
        let header = parse_object(Segment::Header, &header_bytes, opts.allow_duplicates)?;
        Ok(Self {
            token: token.to_owned(),
            header_end: h.len(),
            payload_end: h.len() + 1 + p.len(),
            header,
            payload,
            signature,
        })
    }

    pub fn header(&self) -> &JsonObject {
        &self.header
    }

    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// `BASE64URL(header) || '.' || BASE64URL(payload)` exactly as received.
    pub fn signing_input(&self) -> &[u8] {
        &self.token.as_bytes()[..self.payload_end]
    }

    /// The three encoded segments as received.
    pub fn segments(&self) -> [&str; 3] {
        [
            &self.token[..self.header_end],
            &self.token[self.header_end + 1..self.payload_end],
            &self.token[self.payload_end + 1..],
        ]
    }

    pub fn as_str(&self) -> &str {
        &self.token
    }

    /// The `alg` header value when it is a string.
    pub fn alg(&self) -> Option<&str> {
        self.header.get_str("alg")
    }

    pub fn kid(&self) -> Option<&str> {
        self.header.get_str("kid")
    }

    pub fn typ(&self) -> Option<&str> {
        self.header.get_str("typ")
    }

    /// The payload as a JWT claims set (a JSON object).
    pub fn claims(&self) -> Result<JsonObject, JwsError> {
        parse_object(Segment::Payload, &self.payload, false)
    }

    /// The claims set, tolerating duplicate members (they stay visible).
    pub fn claims_lenient(&self) -> Result<JsonObject, JwsError> {
        parse_object(Segment::Payload, &self.payload, true)
    }
}

fn parse_object(segment: Segment, bytes: &[u8], allow_dups: bool) -> Result<JsonObject, JwsError> {
    let obj = JsonObject::parse(bytes).map_err(|error| JwsError::Json { segment, error })?;
    if !allow_dups && let Some(path) = obj.duplicates().first() {
        return Err(JwsError::DuplicateMember {
            segment,
            path: path.clone(),
        });
    }
    Ok(obj)
}

/// Assembles a compact JWS from raw segment bytes without signing.
pub fn encode_compact(header: &[u8], payload: &[u8], signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64::encode(header),
        b64::encode(payload),
        b64::encode(signature)
    )
}

/// Signs over exactly these header and payload bytes with the key's algorithm, whatever the
/// header says (spec §3.3 tp-jws-raw-mint: duplicates, odd whitespace and unknown `alg` must be
/// producible).
pub fn sign_raw(header: &[u8], payload: &[u8], key: &SigningKey) -> String {
    sign_raw_as(header, payload, key, key.alg()).expect("a key always signs with its own algorithm")
}

/// Signs over the given header and payload with the key, under `alg` (e.g. PS256 with an
/// RS256 key); fails only if the key cannot produce that algorithm.
pub fn sign_raw_as(
    header: &[u8],
    payload: &[u8],
    key: &SigningKey,
    alg: Algorithm,
) -> Result<String, crate::keys::KeyError> {
    let mut input = format!("{}.{}", b64::encode(header), b64::encode(payload));
    let sig = key.sign_as(alg, input.as_bytes())?;
    input.push('.');
    input.push_str(&b64::encode(sig));
    Ok(input)
}

/// Header parameters registered by RFC 7515/7518/7519; `crit` must not list them
/// (RFC 7515 §4.1.11).
const REGISTERED_HEADER_PARAMS: &[&str] = &[
    "alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit", "enc",
    "zip", "epk", "apu", "apv", "iv", "tag", "p2s", "p2c",
];

/// Why a parsed JWS was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("header has no alg")]
    MissingAlg,
    #[error("alg is not a string")]
    AlgNotString,
    #[error("alg {0:?} means an unsecured JWS")]
    AlgNone(String),
    #[error("alg {0:?} is not a supported algorithm")]
    AlgUnknown(String),
    #[error("alg {0} is not in the allow-list")]
    AlgNotAllowed(Algorithm),
    #[error("crit is malformed: {0}")]
    CritMalformed(String),
    #[error("crit names extensions not understood: {0:?}")]
    CritNotUnderstood(Vec<String>),
    #[error("no key with kid {0:?}")]
    UnknownKid(String),
    #[error("no key usable with {0}")]
    NoKeyForAlg(Algorithm),
    #[error(transparent)]
    Signature(#[from] SignatureError),
}

/// A verifier: an algorithm allow-list, a key set, and policy. Header-supplied keys (`jwk`,
/// `jku`, `x5u`, `x5c`) are never consulted (RFC 8725 §3.10).
#[derive(Debug, Clone)]
pub struct Verifier {
    allowed: Vec<Algorithm>,
    keys: Vec<VerifyingKey>,
    require_low_s: bool,
    understood_crit: Vec<String>,
}

impl Verifier {
    pub fn new(allowed: &[Algorithm]) -> Self {
        Self {
            allowed: allowed.to_vec(),
            keys: Vec::new(),
            require_low_s: false,
            understood_crit: Vec::new(),
        }
    }

    pub fn with_key(mut self, key: VerifyingKey) -> Self {
        self.keys.push(key);
        self
    }

    pub fn with_keys(mut self, keys: impl IntoIterator<Item = VerifyingKey>) -> Self {
        self.keys.extend(keys);
        self
    }

    /// Refuse ECDSA signatures whose s is above n/2.
    pub fn require_low_s(mut self, yes: bool) -> Self {
        self.require_low_s = yes;
        self
    }

    /// Declare a `crit` extension as understood.
    pub fn understand_crit(mut self, name: impl Into<String>) -> Self {
        self.understood_crit.push(name.into());
        self
    }

    pub fn allowed(&self) -> &[Algorithm] {
        &self.allowed
    }

    /// Checks alg, crit, selects the key (by `kid` when present) and verifies the signature.
    pub fn verify<'a>(&'a self, jws: &Jws) -> Result<&'a VerifyingKey, VerifyError> {
        let alg = match jws.header().get("alg") {
            None => return Err(VerifyError::MissingAlg),
            Some(Value::String(s)) => s.as_str(),
            Some(_) => return Err(VerifyError::AlgNotString),
        };
        if alg.eq_ignore_ascii_case("none") {
            return Err(VerifyError::AlgNone(alg.to_owned()));
        }
        let alg =
            Algorithm::from_name(alg).ok_or_else(|| VerifyError::AlgUnknown(alg.to_owned()))?;
        if !self.allowed.contains(&alg) {
            return Err(VerifyError::AlgNotAllowed(alg));
        }
        self.check_crit(jws.header())?;
        // One key, one algorithm (RFC 8725 §3.1): a JWK that names its alg is used with no other.
        let usable = |k: &&VerifyingKey| {
            k.fits(alg) && k.jwk().alg.as_deref().is_none_or(|a| a == alg.name())
        };
        let candidates: Vec<&VerifyingKey> = match jws.header().get("kid") {
            Some(kid) => {
                let kid = kid.as_str().unwrap_or_default();
                let named: Vec<_> = self.keys.iter().filter(|k| k.kid() == Some(kid)).collect();
                if named.is_empty() {
                    return Err(VerifyError::UnknownKid(kid.to_owned()));
                }
                let fitting: Vec<_> = named.iter().copied().filter(usable).collect();
                if fitting.is_empty() {
                    let k = named[0];
                    return Err(SignatureError::KeyAlgorithmMismatch {
                        alg,
                        kty: k.jwk().kty(),
                    }
                    .into());
                }
                fitting
            }
            None => self.keys.iter().filter(usable).collect(),
        };
        let mut last = VerifyError::NoKeyForAlg(alg);
        for key in candidates {
            match key.verify(
                alg,
                jws.signing_input(),
                jws.signature(),
                self.require_low_s,
            ) {
                Ok(()) => return Ok(key),
                Err(e) => last = e.into(),
            }
        }
        Err(last)
    }

    fn check_crit(&self, header: &JsonObject) -> Result<(), VerifyError> {
        let Some(crit) = header.get("crit") else {
            return Ok(());
        };
        let names = crit
            .as_array()
            .ok_or_else(|| VerifyError::CritMalformed("not an array".into()))?;
        if names.is_empty() {
            return Err(VerifyError::CritMalformed("empty array".into()));
        }
        let mut not_understood = Vec::new();
        for name in names {
            let name = name
                .as_str()
                .ok_or_else(|| VerifyError::CritMalformed("non-string member".into()))?;
            if REGISTERED_HEADER_PARAMS.contains(&name) {
                return Err(VerifyError::CritMalformed(format!(
                    "lists registered parameter {name:?}"
                )));
            }
            if !header.contains(name) {
                return Err(VerifyError::CritMalformed(format!(
                    "lists absent parameter {name:?}"
                )));
            }
            if !self.understood_crit.iter().any(|u| u == name) {
                not_understood.push(name.to_owned());
            }
        }
        if not_understood.is_empty() {
            Ok(())
        } else {
            Err(VerifyError::CritNotUnderstood(not_understood))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(alg: Algorithm) -> SigningKey {
        SigningKey::generate(alg).unwrap().with_kid("k1")
    }

    fn signed(key: &SigningKey, header: &str) -> String {
        sign_raw(header.as_bytes(), br#"{"sub":"a"}"#, key)
    }

    #[test]
    fn round_trip_per_algorithm() {
        for alg in Algorithm::ALL {
            let k = key(alg);
            let token = signed(&k, &format!(r#"{{"alg":"{alg}","kid":"k1"}}"#));
            let jws = Jws::parse(&token).unwrap();
            assert_eq!(jws.alg(), Some(alg.name()));
            assert_eq!(jws.claims().unwrap().get_str("sub"), Some("a"));
            let v = Verifier::new(&[alg]).with_key(k.verifying_key());
            assert!(v.verify(&jws).is_ok(), "{alg}");
        }
    }

    #[test]
    fn parse_refuses_each_structural_defect_by_name() {
        let k = key(Algorithm::Es256);
        let good = signed(&k, r#"{"alg":"ES256"}"#);
        let [h, p, s] = Jws::parse(&good).unwrap().segments().map(str::to_owned);
        assert_eq!(
            Jws::parse(&format!("{h}.{p}")).unwrap_err(),
            JwsError::SegmentCount { found: 2 }
        );
        assert_eq!(
            Jws::parse(&format!("{h}.{p}.{s}.x.y")).unwrap_err(),
            JwsError::SegmentCount { found: 5 }
        );
        assert_eq!(
            Jws::parse(&format!(".{p}.{s}")).unwrap_err(),
            JwsError::EmptySegment {
                segment: Segment::Header
            }
        );
        assert!(matches!(
            Jws::parse(&format!("{h}=.{p}.{s}")).unwrap_err(),
            JwsError::Base64 {
                segment: Segment::Header,
                error: B64Error::Padding { .. }
            }
        ));
        let arr = b64::encode("[1]");
        assert!(matches!(
            Jws::parse(&format!("{arr}.{p}.{s}")).unwrap_err(),
            JwsError::Json {
                segment: Segment::Header,
                error: JsonError::NotObject
            }
        ));
        let dup = b64::encode(r#"{"alg":"ES256","alg":"none"}"#);
        assert_eq!(
            Jws::parse(&format!("{dup}.{p}.{s}")).unwrap_err(),
            JwsError::DuplicateMember {
                segment: Segment::Header,
                path: "alg".into()
            }
        );
        // The lenient parser reads it and shows both values.
        let lenient = Jws::parse_with(&format!("{dup}.{p}.{s}"), &ParseOptions::lenient()).unwrap();
        assert_eq!(lenient.header().duplicates(), ["alg"]);
        let huge = "a".repeat(40 * 1024);
        assert!(matches!(
            Jws::parse(&huge).unwrap_err(),
            JwsError::TooLarge { .. }
        ));
    }

    #[test]
    fn signing_input_is_the_received_bytes() {
        let k = key(Algorithm::Hs256);
        let raw_header = br#"{ "alg" : "HS256" }"#;
        let token = sign_raw(raw_header, b"{}", &k);
        let jws = Jws::parse(&token).unwrap();
        assert_eq!(b64::decode_strict(jws.segments()[0]).unwrap(), raw_header);
        assert!(
            Verifier::new(&[Algorithm::Hs256])
                .with_key(k.verifying_key())
                .verify(&jws)
                .is_ok()
        );
    }

    #[test]
    fn verifier_enforces_alg_kid_and_crit() {
        let k = key(Algorithm::Es256);
        let v = Verifier::new(&[Algorithm::Es256]).with_key(k.verifying_key());
        let check = |header: &str| {
            v.verify(&Jws::parse(&signed(&k, header)).unwrap())
                .map(|_| ())
        };
        assert_eq!(check(r#"{"kid":"k1"}"#), Err(VerifyError::MissingAlg));
        assert_eq!(
            check(r#"{"alg":"nOnE"}"#),
            Err(VerifyError::AlgNone("nOnE".into()))
        );
        assert_eq!(
            check(r#"{"alg":"ES999"}"#),
            Err(VerifyError::AlgUnknown("ES999".into()))
        );
        assert_eq!(
            check(r#"{"alg":"RS256"}"#),
            Err(VerifyError::AlgNotAllowed(Algorithm::Rs256))
        );
        assert_eq!(
            check(r#"{"alg":"ES256","kid":"nope"}"#),
            Err(VerifyError::UnknownKid("nope".into()))
        );
        assert_eq!(check(r#"{"alg":"ES256","kid":"k1"}"#), Ok(()));
        assert_eq!(
            check(r#"{"alg":"ES256","crit":["x-foo"],"x-foo":1}"#),
            Err(VerifyError::CritNotUnderstood(vec!["x-foo".into()]))
        );
        assert!(matches!(
            check(r#"{"alg":"ES256","crit":[]}"#),
            Err(VerifyError::CritMalformed(_))
        ));
        assert!(matches!(
            check(r#"{"alg":"ES256","crit":["alg"]}"#),
            Err(VerifyError::CritMalformed(_))
        ));
        assert!(matches!(
            check(r#"{"alg":"ES256","crit":["x-absent"]}"#),
            Err(VerifyError::CritMalformed(_))
        ));
        let understanding = v.clone().understand_crit("x-foo");
        let t = signed(&k, r#"{"alg":"ES256","crit":["x-foo"],"x-foo":1}"#);
        assert!(understanding.verify(&Jws::parse(&t).unwrap()).is_ok());
    }

    #[test]
    fn a_jwk_that_names_its_alg_is_not_used_with_another() {
        let k = key(Algorithm::Rs256);
        let v = Verifier::new(&[Algorithm::Rs256, Algorithm::Ps256]).with_key(k.verifying_key());
        let t = sign_raw_as(
            br#"{"alg":"PS256","kid":"k1"}"#,
            b"{}",
            &k,
            Algorithm::Ps256,
        )
        .unwrap();
        assert!(matches!(
            v.verify(&Jws::parse(&t).unwrap()),
            Err(VerifyError::Signature(
                SignatureError::KeyAlgorithmMismatch { .. }
            ))
        ));
    }
}
