//! Every forger's output, parsed back, has exactly the intended defect.

use super::*;
use crate::ecdsa::RangeError;
use crate::jws::{JwsError, ParseOptions, Verifier, VerifyError};
use crate::keys::SignatureError;

struct Keys {
    victim: SigningKey,
    attacker: SigningKey,
    spec: TokenSpec,
}

fn keys(victim: Algorithm, attacker: Algorithm) -> Keys {
    Keys {
        victim: SigningKey::generate(victim).unwrap().with_kid("k1"),
        attacker: SigningKey::generate(attacker).unwrap().with_kid("rogue-1"),
        spec: TokenSpec::access_token(
            "https://as.test",
            "https://rs.test/mcp",
            "alice",
            "c1",
            "mcp",
        ),
    }
}

impl Keys {
    fn ctx(&self) -> ForgeContext<'_> {
        ForgeContext {
            victim: &self.victim,
            attacker: &self.attacker,
            listener_url: "http://127.0.0.1:9/jwks.json",
            spec: &self.spec,
        }
    }
    fn forge(&self, attack: Attack) -> String {
        attack.forge(&self.ctx()).unwrap_or_else(|e| panic!("{e}"))
    }
    fn verifier(&self, allowed: &[Algorithm]) -> Verifier {
        Verifier::new(allowed).with_key(self.victim.verifying_key())
    }
    fn strict(&self) -> Verifier {
        self.verifier(&[self.victim.alg()])
    }
    fn valid(&self) -> String {
        self.spec.mint(&self.victim)
    }
}

fn lenient(token: &str) -> jws::Jws {
    jws::Jws::parse_with(token, &ParseOptions::lenient()).unwrap()
}

fn verify(v: &Verifier, token: &str) -> Result<(), VerifyError> {
    v.verify(&jws::Jws::parse(token).expect("strictly parseable"))
        .map(|_| ())
}

/// Whether the token's signature is an HMAC-SHA256 over its signing input with `secret`
/// (a naive verifier that trusts whatever secret it is handed).
fn mac_verifies(token: &str, secret: &[u8]) -> bool {
    let j = lenient(token);
    SigningKey::hmac(secret)
        .verifying_key()
        .verify(Algorithm::Hs256, j.signing_input(), j.signature(), false)
        .is_ok()
}

fn segments(token: &str) -> Vec<&str> {
    token.split('.').collect()
}

#[test]
fn no_forgery_passes_a_strict_verifier() {
    // The only forgery a strict verifier accepts is a high-S signature: valid ECDSA, refused
    // only under a low-S policy. (A nested token fails here because its payload is not a
    // claims object.)
    let beyond_the_verifier = [Attack::HighS.name()];
    let k = keys(Algorithm::Es256, Algorithm::Es256);
    let v = k.strict();
    for attack in Attack::catalogue() {
        let Ok(token) = attack.forge(&k.ctx()) else {
            continue;
        };
        let accepted = jws::Jws::parse(&token)
            .ok()
            .filter(|j| v.verify(j).is_ok() && j.claims().is_ok())
            .is_some();
        assert_eq!(
            accepted,
            beyond_the_verifier.contains(&attack.name()),
            "{}",
            attack.name()
        );
        assert!(!attack.provenance().bug_type.is_empty());
    }
}

#[test]
fn alg_none_in_four_spellings() {
    let k = keys(Algorithm::Es256, Algorithm::Es256);
    for spelling in ["none", "None", "NONE", "nOnE"] {
        for keep_signature in [false, true] {
            let t = k.forge(Attack::AlgNone {
                spelling,
                keep_signature,
            });
            let j = lenient(&t);
            assert_eq!(j.alg(), Some(spelling));
            assert_eq!(j.signature().is_empty(), !keep_signature);
            assert_eq!(
                verify(&k.strict(), &t),
                Err(VerifyError::AlgNone(spelling.into()))
            );
        }
    }
}

#[test]
fn stripped_and_broken_signatures_keep_the_other_segments() {
    let k = keys(Algorithm::Es256, Algorithm::Es256);
    let valid = k.valid();
    let stripped = k.forge(Attack::SignatureStripped);
    assert_eq!(segments(&stripped)[..2], segments(&valid)[..2]);
    assert_eq!(segments(&stripped)[2], "");
    assert_eq!(lenient(&stripped).alg(), Some("ES256"));
    let broken = tamper(&valid, &Tamper::BreakSignature);
    let (a, b) = (segments(&valid)[2], segments(&broken)[2]);
    assert_eq!(a.len(), b.len());
    assert_eq!(a[..a.len() - 4], b[..b.len() - 4]);
    assert_ne!(a[a.len() - 4..], b[b.len() - 4..]);
    assert_eq!(
        verify(&k.strict(), &broken),
        Err(VerifyError::Signature(SignatureError::Invalid))
    );
}

#[test]
fn hmac_with_public_key_bytes_is_a_real_mac_over_those_bytes() {
    let k = keys(Algorithm::Rs256, Algorithm::Es256);
    for form in PublicKeyForm::ALL {
        let t = k.forge(Attack::HmacWithPublicKey(form));
        let secret = public_key_bytes(&k.victim, form).unwrap();
        assert!(mac_verifies(&t, &secret), "{form:?}");
        assert_eq!(
            verify(&k.strict(), &t),
            Err(VerifyError::AlgNotAllowed(Algorithm::Hs256))
        );
        assert!(matches!(
            verify(&k.verifier(&[Algorithm::Rs256, Algorithm::Hs256]), &t),
            Err(VerifyError::Signature(
                SignatureError::KeyAlgorithmMismatch { .. }
            ))
        ));
    }
    let text = |f| String::from_utf8(public_key_bytes(&k.victim, f).unwrap()).unwrap();
    assert!(text(PublicKeyForm::Pkcs1Pem).starts_with("-----BEGIN RSA PUBLIC KEY-----\n"));
    assert!(text(PublicKeyForm::SpkiPem).ends_with("-----END PUBLIC KEY-----\n"));
    assert!(text(PublicKeyForm::SpkiPemNoTrailingNewline).ends_with("-----END PUBLIC KEY-----"));
    // The PKCS#1 form really is the RSA key: its DER holds the modulus.
    let n = public_key_bytes(&k.victim, PublicKeyForm::Raw).unwrap();
    let pkcs1 = pem::parse(text(PublicKeyForm::Pkcs1Pem)).unwrap();
    assert!(pkcs1.contents().windows(n.len()).any(|w| w == n.as_slice()));
    // No PKCS#1 form for an EC key.
    let ec = keys(Algorithm::Es256, Algorithm::Es256);
    assert!(
        Attack::HmacWithPublicKey(PublicKeyForm::Pkcs1Pem)
            .forge(&ec.ctx())
            .is_err()
    );
}

#[test]
fn blank_and_weak_hmac_secrets() {
    let k = keys(Algorithm::Es256, Algorithm::Es256);
    for (attack, secret) in [
        (Attack::HmacEmptySecret, &b""[..]),
        (Attack::HmacWeakSecret("secret"), b"secret"),
    ] {
        let t = k.forge(attack);
        assert!(mac_verifies(&t, secret));
        assert_eq!(lenient(&t).kid(), Some("k1"));
    }
}

#[test]
fn ecdsa_range_and_encoding_forgeries() {
    for (alg, len) in [(Algorithm::Es256, 64), (Algorithm::Es384, 96)] {
        let k = keys(alg, Algorithm::Es256);
        let v = k.strict();
        let raw = k.forge(Attack::PsychicSignature { der: false });
        assert_eq!(lenient(&raw).signature(), vec![0u8; len]);
        assert_eq!(verify(&v, &raw), Err(RangeError::RZero.into_verify()));
        let der = k.forge(Attack::PsychicSignature { der: true });
        assert_eq!(segments(&der)[2], "MAYCAQACAQA");
        for (defect, err) in [
            (ScalarDefect::RIsZero, RangeError::RZero),
            (ScalarDefect::SIsZero, RangeError::SZero),
            (ScalarDefect::RIsOrder, RangeError::RTooLarge),
            (ScalarDefect::SIsOrder, RangeError::STooLarge),
        ] {
            let t = k.forge(Attack::ScalarOutOfRange(defect));
            assert_eq!(verify(&v, &t), Err(err.into_verify()), "{defect:?}");
        }
        let curve = match alg {
            Algorithm::Es256 => EcCurve::P256,
            _ => EcCurve::P384,
        };
        let high = k.forge(Attack::HighS);
        let sig = lenient(&high).signature().to_vec();
        assert!(ecdsa::is_high_s(curve, &sig[len / 2..]));
        assert!(
            verify(&v, &high).is_ok(),
            "high-S is a valid ECDSA signature"
        );
        assert_eq!(
            verify(&v.clone().require_low_s(true), &high),
            Err(RangeError::HighS.into_verify())
        );
        let der_sig = k.forge(Attack::DerSignature);
        let bytes = lenient(&der_sig).signature().to_vec();
        assert_eq!(bytes[0], 0x30);
        let back = ecdsa::der_to_raw(&bytes, curve).unwrap();
        let j = lenient(&der_sig);
        k.victim
            .verifying_key()
            .verify(alg, j.signing_input(), &back, false)
            .unwrap();
        assert!(matches!(
            verify(&v, &der_sig),
            Err(VerifyError::Signature(SignatureError::EcdsaRange(
                RangeError::Length { .. }
            )))
        ));
        assert_eq!(
            lenient(&k.forge(Attack::SignatureTruncated))
                .signature()
                .len(),
            63
        );
        assert_eq!(
            lenient(&k.forge(Attack::SignatureTrailingBytes))
                .signature()
                .len(),
            len + 16
        );
    }
    let k = keys(Algorithm::Es256, Algorithm::Es256);
    assert_eq!(
        lenient(&k.forge(Attack::SignatureWrongCurveSize))
            .signature()
            .len(),
        96
    );
    let rsa = keys(Algorithm::Rs256, Algorithm::Es256);
    assert!(Attack::HighS.forge(&rsa.ctx()).is_err());
}

trait IntoVerify {
    fn into_verify(self) -> VerifyError;
}
impl IntoVerify for RangeError {
    fn into_verify(self) -> VerifyError {
        VerifyError::Signature(SignatureError::EcdsaRange(self))
    }
}

#[test]
fn header_key_attacks() {
    let k = keys(Algorithm::Es256, Algorithm::Es256);
    for keep_victim_kid in [false, true] {
        let t = k.forge(Attack::EmbeddedJwk { keep_victim_kid });
        let j = lenient(&t);
        assert_eq!(
            j.header().get("jwk"),
            Some(&k.attacker.public_jwk().to_json())
        );
        assert_eq!(j.kid(), keep_victim_kid.then_some("k1"));
        assert_eq!(
            verify(&k.strict(), &t),
            Err(VerifyError::Signature(SignatureError::Invalid))
        );
        // It does verify with the embedded key: the trap is real.
        let embedded = crate::jwk::Jwk::from_json(j.header().get("jwk").unwrap()).unwrap();
        crate::keys::VerifyingKey::from_jwk(&embedded)
            .unwrap()
            .verify(Algorithm::Es256, j.signing_input(), j.signature(), false)
            .unwrap();
    }
    for (attack, member) in [(Attack::Jku, "jku"), (Attack::X5u, "x5u")] {
        let t = k.forge(attack);
        assert_eq!(
            lenient(&t).header().get_str(member),
            Some("http://127.0.0.1:9/jwks.json")
        );
        assert_eq!(
            verify(&k.strict(), &t),
            Err(VerifyError::UnknownKid("rogue-1".into()))
        );
    }
}

#[test]
fn kid_injection_payloads() {
    let k = keys(Algorithm::Es256, Algorithm::Es256);
    for (kid, secret) in KID_INJECTIONS {
        let t = k.forge(Attack::KidInjection { kid, secret });
        let j = lenient(&t);
        assert_eq!(j.kid(), Some(kid));
        assert_eq!(j.alg(), Some("HS256"));
        assert!(mac_verifies(&t, secret), "{kid:?}");
        assert_eq!(
            verify(&k.strict(), &t),
            Err(VerifyError::AlgNotAllowed(Algorithm::Hs256))
        );
    }
}

#[test]
fn crit_forms() {
    let k = keys(Algorithm::Es256, Algorithm::Es256);
    assert_eq!(
        verify(&k.strict(), &k.forge(Attack::Crit(CritForm::Unknown))),
        Err(VerifyError::CritNotUnderstood(vec!["x-foo".into()]))
    );
    for form in [CritForm::Empty, CritForm::Registered, CritForm::Absent] {
        let t = k.forge(Attack::Crit(form));
        assert!(
            matches!(verify(&k.strict(), &t), Err(VerifyError::CritMalformed(_))),
            "{form:?}"
        );
    }
}

#[test]
fn one_key_one_algorithm() {
    let k = keys(Algorithm::Es256, Algorithm::Rs256);
    let v = k.verifier(&[Algorithm::Es256, Algorithm::Rs256, Algorithm::Hs256]);
    for attack in [Attack::KidWithHmac, Attack::KidWithOtherKeyType] {
        let t = k.forge(attack.clone());
        assert_eq!(lenient(&t).kid(), Some("k1"));
        assert!(
            matches!(
                verify(&v, &t),
                Err(VerifyError::Signature(
                    SignatureError::KeyAlgorithmMismatch { .. }
                ))
            ),
            "{}",
            attack.name()
        );
    }
    let r = keys(Algorithm::Rs256, Algorithm::Es256);
    let t = r.forge(Attack::RsaFamilySwitch);
    let j = lenient(&t);
    assert_eq!(j.alg(), Some("PS256"));
    let mut unpinned = r.victim.public_jwk();
    unpinned.alg = None;
    crate::keys::VerifyingKey::from_jwk(&unpinned)
        .unwrap()
        .verify(Algorithm::Ps256, j.signing_input(), j.signature(), false)
        .unwrap();
    assert!(matches!(
        verify(&r.verifier(&[Algorithm::Rs256, Algorithm::Ps256]), &t),
        Err(VerifyError::Signature(
            SignatureError::KeyAlgorithmMismatch { .. }
        ))
    ));
}

#[test]
fn duplicate_members() {
    let k = keys(Algorithm::Es256, Algorithm::Es256);
    let t = k.forge(Attack::DuplicateAlgNone);
    assert!(matches!(
        jws::Jws::parse(&t),
        Err(JwsError::DuplicateMember {
            segment: Segment::Header,
            ..
        })
    ));
    let j = lenient(&t);
    assert_eq!(j.header().get_first("alg"), Some(&json!("ES256")));
    assert_eq!(j.alg(), Some("none"));
    assert!(j.signature().is_empty());
    let t = k.forge(Attack::DuplicateAud {
        other: "https://other.test/mcp",
    });
    let j = jws::Jws::parse(&t).unwrap();
    assert!(k.strict().verify(&j).is_ok(), "validly signed");
    assert!(matches!(
        j.claims(),
        Err(JwsError::DuplicateMember {
            segment: Segment::Payload,
            ..
        })
    ));
    let claims = j.claims_lenient().unwrap();
    assert_eq!(claims.get_first("aud"), Some(&json!("https://rs.test/mcp")));
    assert_eq!(claims.get("aud"), Some(&json!("https://other.test/mcp")));
}

#[test]
fn structural_defects() {
    let k = keys(Algorithm::Es256, Algorithm::Es256);
    let parse = |s: Structure| jws::Jws::parse(&k.forge(Attack::Malformed(s)));
    assert!(matches!(
        parse(Structure::Padding),
        Err(JwsError::Base64 {
            error: crate::b64::B64Error::Padding { .. },
            ..
        })
    ));
    assert!(matches!(
        parse(Structure::StandardAlphabet),
        Err(JwsError::Base64 {
            error: crate::b64::B64Error::InvalidCharacter { .. },
            ..
        })
    ));
    assert!(matches!(
        parse(Structure::LineBreak),
        Err(JwsError::Base64 {
            error: crate::b64::B64Error::Whitespace { .. },
            ..
        })
    ));
    for (s, found) in [
        (Structure::TwoSegments, 2),
        (Structure::FourSegments, 4),
        (Structure::JwsJsonSerialization, 1),
        (Structure::JweShaped, 5),
        (Structure::Random, 1),
    ] {
        assert_eq!(
            parse(s).unwrap_err(),
            JwsError::SegmentCount { found },
            "{s:?}"
        );
    }
    assert!(parse(Structure::CutInHalf).is_err());
    assert!(
        parse(Structure::EmptyMiddleSegment)
            .unwrap()
            .claims()
            .is_err()
    );
    // The padded and line-broken forms still decode leniently to the original payload.
    let valid = jws::Jws::parse(&k.valid()).unwrap();
    for s in [Structure::Padding, Structure::LineBreak] {
        assert_eq!(
            lenient(&k.forge(Attack::Malformed(s))).payload(),
            valid.payload()
        );
    }
    // The JWS JSON form carries the original three segments.
    let json_form = k.forge(Attack::Malformed(Structure::JwsJsonSerialization));
    let doc: serde_json::Value =
        serde_json::from_slice(&crate::b64::decode_strict(&json_form).unwrap()).unwrap();
    assert_eq!(doc["protected"], json!(valid.segments()[0]));
}

#[test]
fn nested_tokens() {
    let k = keys(Algorithm::Es256, Algorithm::Es256);
    let outer = jws::Jws::parse(&k.forge(Attack::NestedAttackerOuter)).unwrap();
    assert_eq!(outer.header().get_str("cty"), Some("JWT"));
    assert_eq!(
        k.strict().verify(&outer).map(|_| ()),
        Err(VerifyError::Signature(SignatureError::Invalid))
    );
    let inner = jws::Jws::parse(std::str::from_utf8(outer.payload()).unwrap()).unwrap();
    assert!(
        k.strict().verify(&inner).is_ok(),
        "the wrapped token is valid"
    );
    let outer = jws::Jws::parse(&k.forge(Attack::NestedUnsignedInner)).unwrap();
    assert!(
        k.strict().verify(&outer).is_ok(),
        "the outer layer is validly signed"
    );
    let inner = lenient(std::str::from_utf8(outer.payload()).unwrap());
    assert_eq!(
        k.strict().verify(&inner).map(|_| ()),
        Err(VerifyError::AlgNone("none".into()))
    );
}
