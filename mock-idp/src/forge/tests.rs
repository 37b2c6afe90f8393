//! Every forger's output, parsed back, has exactly the intended defect.

use super::*;
use crate::b64::{self, B64Error};
use crate::ecdsa::RangeError;
use crate::json::JsonObject;
use crate::jws::{Jws, JwsError, Verifier, VerifyError};
use crate::keys::{SignatureError, VerifyingKey};

struct Keys {
    victim: SigningKey,
    attacker: SigningKey,
    spec: TokenSpec,
}

const LISTENER: &str = "http://127.0.0.1:9/jwks.json";

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
            listener_url: LISTENER,
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
    fn curve(&self) -> EcCurve {
        match self.victim.alg().key_family() {
            KeyFamily::Ec(c) => c,
            _ => panic!("not an EC victim"),
        }
    }
}

pub(super) fn lenient(token: &str) -> Jws {
    Jws::parse_with(token, &ParseOptions::lenient()).unwrap()
}

fn verify(v: &Verifier, token: &str) -> Result<(), VerifyError> {
    v.verify(&Jws::parse(token).expect("strictly parseable"))
        .map(|_| ())
}

fn range(e: RangeError) -> VerifyError {
    VerifyError::Signature(SignatureError::EcdsaRange(e))
}

fn mismatch(r: Result<(), VerifyError>) -> bool {
    matches!(
        r,
        Err(VerifyError::Signature(
            SignatureError::KeyAlgorithmMismatch { .. }
        ))
    )
}

/// Whether the token's signature is an HMAC-SHA256 over its signing input with `secret`
/// (a naive verifier that trusts whatever secret it is handed).
/// Whether the token's signature is the MAC its `alg` (HS256, HS384, HS512) names under
/// `secret`.
pub(super) fn mac_verifies(token: &str, secret: &[u8]) -> bool {
    let j = lenient(token);
    j.alg()
        .and_then(HmacHash::from_alg)
        .is_some_and(|hash| hash.verify(secret, j.signing_input(), j.signature()))
}

pub(super) fn segments(token: &str) -> Vec<&str> {
    token.split('.').collect()
}

#[test]
fn catalogue_is_data_with_names_descriptions_and_provenance() {
    let all = Attack::catalogue();
    let mut names: Vec<String> = all.iter().map(Attack::name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), all.len(), "names are unique");
    for a in &all {
        assert!(!a.description().is_empty(), "{}", a.name());
        assert!(!a.provenance().bug_type.is_empty(), "{}", a.name());
        assert!(!a.provenance().reference.is_empty(), "{}", a.name());
    }
    let cves = |a: Attack| a.provenance().cves;
    assert_eq!(cves(Attack::SignatureStripped), ["CVE-2020-28042"]);
    assert_eq!(
        cves(Attack::HmacWithPublicKey {
            form: PublicKeyForm::Raw,
            hash: HmacHash::Sha512
        }),
        ["CVE-2016-10555"]
    );
    assert_eq!(
        cves(Attack::HmacEmptySecret),
        ["CVE-2019-20933", "CVE-2020-28637"]
    );
    assert_eq!(
        cves(Attack::PsychicSignature { der: true }),
        ["CVE-2022-21449"]
    );
    assert_eq!(
        cves(Attack::EmbeddedJwk {
            keep_victim_kid: false
        }),
        ["CVE-2018-0114"]
    );
    assert_eq!(Attack::Jku.provenance().reference, "jwt_tool -X s");
}

#[test]
fn no_forgery_passes_a_strict_verifier() {
    // The only forgery a strict verifier accepts is a high-S signature: valid ECDSA, refused
    // only under a low-S policy. (A nested token fails here because its payload is not a
    // claims object.)
    for (victim, attacker) in [
        (Algorithm::Es256, Algorithm::Es256),
        (Algorithm::Es384, Algorithm::Rs256),
        (Algorithm::Rs256, Algorithm::Es256),
    ] {
        let k = keys(victim, attacker);
        let v = k.strict();
        let mut forged = 0;
        for attack in Attack::catalogue() {
            let Ok(token) = attack.forge(&k.ctx()) else {
                continue;
            };
            forged += 1;
            let accepted = Jws::parse(&token)
                .ok()
                .filter(|j| v.verify(j).is_ok() && j.claims().is_ok())
                .is_some();
            assert_eq!(
                accepted,
                attack == Attack::HighS,
                "{victim} {}",
                attack.name()
            );
        }
        assert!(forged > 50, "{victim}: {forged}");
    }
}

#[test]
fn alg_none_in_four_spellings_with_empty_or_original_signature() {
    let k = keys(Algorithm::Es256, Algorithm::Es256);
    let valid = k.valid();
    let original_header = b64::encode(k.spec.final_header(&k.victim).to_bytes());
    for spelling in ["none", "None", "NONE", "nOnE"] {
        for keep_signature in [false, true] {
            let t = k.forge(Attack::AlgNone {
                spelling,
                keep_signature,
            });
            let j = lenient(&t);
            assert_eq!(j.alg(), Some(spelling));
            assert_eq!(j.header().members()[0].0, "alg", "alg replaced in place");
            assert_eq!(j.kid(), Some("k1"));
            assert_eq!(segments(&t)[1], segments(&valid)[1], "payload text kept");
            assert_eq!(j.signature().is_empty(), !keep_signature);
            if keep_signature {
                // The kept signature is the original one: it covers the original header.
                let original_input = format!("{original_header}.{}", segments(&t)[1]);
                let vk = k.victim.verifying_key();
                vk.verify(
                    Algorithm::Es256,
                    original_input.as_bytes(),
                    j.signature(),
                    false,
                )
                .unwrap();
                assert!(
                    vk.verify(Algorithm::Es256, j.signing_input(), j.signature(), false)
                        .is_err()
                );
            }
            assert_eq!(
                verify(&k.strict(), &t),
                Err(VerifyError::AlgNone(spelling.into()))
            );
        }
    }
}

#[test]
fn stripped_signature_keeps_header_and_payload_bytes() {
    let k = keys(Algorithm::Es256, Algorithm::Es256);
    let valid = k.valid();
    let stripped = k.forge(Attack::SignatureStripped);
    assert_eq!(segments(&stripped)[..2], segments(&valid)[..2]);
    assert_eq!(segments(&stripped)[2], "");
    assert!(stripped.ends_with('.'));
    assert_eq!(lenient(&stripped).alg(), Some("ES256"));
    assert_eq!(
        verify(&k.strict(), &stripped),
        Err(range(RangeError::Length {
            expected: 64,
            found: 0
        }))
    );
}

#[test]
fn broken_signature_changes_exactly_the_last_four_characters() {
    for alg in [Algorithm::Es256, Algorithm::Es384, Algorithm::Rs256] {
        let k = keys(alg, Algorithm::Es256);
        let valid = k.valid();
        let broken = tamper(&valid, &Tamper::BreakSignature);
        assert_eq!(segments(&broken)[..2], segments(&valid)[..2], "{alg}");
        let (a, b) = (segments(&valid)[2], segments(&broken)[2]);
        assert_eq!(a.len(), b.len());
        let n = a.len();
        assert_eq!(a[..n - 4], b[..n - 4], "{alg}");
        for i in n - 4..n {
            assert_ne!(a.as_bytes()[i], b.as_bytes()[i], "{alg} char {i}");
        }
        // Still canonical base64url of the same size: only the signature check catches it.
        assert_eq!(
            b64::decode_strict(b).unwrap().len(),
            lenient(&valid).signature().len()
        );
        assert_eq!(
            verify(&k.strict(), &broken),
            Err(VerifyError::Signature(SignatureError::Invalid)),
            "{alg}"
        );
        assert_eq!(k.forge(Attack::SignatureBroken).len(), valid.len());
    }
    // Every remainder class of unpadded base64url stays canonical.
    for len in [3usize, 4, 5, 6] {
        let text = b64::encode(vec![0x5Au8; len]);
        let changed = tamper::change_last_chars(&text, 4);
        assert_eq!(b64::decode_strict(&changed).unwrap().len(), len, "{text}");
        assert_ne!(changed, text);
    }
}

#[test]
fn hmac_with_rsa_public_key_bytes_is_a_real_mac_over_those_bytes() {
    let k = keys(Algorithm::Rs256, Algorithm::Es256);
    for hash in HmacHash::ALL {
        for form in PublicKeyForm::ALL {
            let t = k.forge(Attack::HmacWithPublicKey { form, hash });
            let secret = public_key_bytes(&k.victim, form).unwrap();
            let j = lenient(&t);
            assert_eq!(j.alg(), Some(hash.alg()));
            assert_eq!(j.kid(), Some("k1"));
            assert_eq!(j.signature().len(), hash.mac(b"", b"").len());
            assert!(mac_verifies(&t, &secret), "{hash:?} {form:?}");
            assert!(!mac_verifies(&t, &secret[1..]), "{hash:?} {form:?}");
            if hash == HmacHash::Sha256 {
                assert_eq!(
                    verify(&k.strict(), &t),
                    Err(VerifyError::AlgNotAllowed(Algorithm::Hs256))
                );
                assert!(mismatch(verify(
                    &k.verifier(&[Algorithm::Rs256, Algorithm::Hs256]),
                    &t
                )));
            } else {
                assert!(verify(&k.strict(), &t).is_err(), "{hash:?} {form:?}");
            }
        }
    }
    let bytes = |f| public_key_bytes(&k.victim, f).unwrap();
    let text = |f| String::from_utf8(bytes(f)).unwrap();
    assert!(text(PublicKeyForm::Pkcs1Pem).starts_with("-----BEGIN RSA PUBLIC KEY-----\n"));
    assert!(text(PublicKeyForm::SpkiPem).starts_with("-----BEGIN PUBLIC KEY-----\n"));
    assert!(text(PublicKeyForm::SpkiPem).ends_with("-----END PUBLIC KEY-----\n"));
    assert_eq!(
        text(PublicKeyForm::SpkiPemNoTrailingNewline) + "\n",
        text(PublicKeyForm::SpkiPem)
    );
    assert_eq!(
        bytes(PublicKeyForm::SpkiDer),
        k.victim.public_key_spki_der().unwrap()
    );
    let jwk: serde_json::Value = serde_json::from_slice(&bytes(PublicKeyForm::JwkJson)).unwrap();
    assert_eq!(jwk, k.victim.public_jwk().to_json());
    // The PKCS#1 form is RSAPublicKey ::= SEQUENCE { n, e } of this very key.
    let JwkKey::Rsa { n, e } = k.victim.public_jwk().key else {
        unreachable!()
    };
    assert_eq!(bytes(PublicKeyForm::Raw), n);
    let pkcs1 = pem::parse(text(PublicKeyForm::Pkcs1Pem)).unwrap();
    let (body, rest) = der::take(pkcs1.contents(), 0x30).unwrap();
    assert!(rest.is_empty());
    let (n_der, body) = der::take(body, 0x02).unwrap();
    let (e_der, body) = der::take(body, 0x02).unwrap();
    assert!(body.is_empty());
    assert_eq!(der::strip_zeros(n_der), n);
    assert_eq!(der::strip_zeros(e_der), e);
}

#[test]
fn hmac_with_ec_public_key_bytes_uses_the_forms_that_apply() {
    let k = keys(Algorithm::Es256, Algorithm::Es256);
    for form in PublicKeyForm::ALL {
        let hash = HmacHash::Sha256;
        let forged = Attack::HmacWithPublicKey { form, hash }.forge(&k.ctx());
        if form == PublicKeyForm::Pkcs1Pem {
            assert!(forged.is_err(), "no PKCS#1 form for an EC key");
            continue;
        }
        let t = forged.unwrap();
        assert!(
            mac_verifies(&t, &public_key_bytes(&k.victim, form).unwrap()),
            "{form:?}"
        );
        assert!(mismatch(verify(
            &k.verifier(&[Algorithm::Es256, Algorithm::Hs256]),
            &t
        )));
    }
    let raw = public_key_bytes(&k.victim, PublicKeyForm::Raw).unwrap();
    assert_eq!((raw.len(), raw[0]), (65, 0x04));
    // An HMAC victim has no public key at all.
    let h = keys(Algorithm::Hs256, Algorithm::Es256);
    for form in PublicKeyForm::ALL {
        for hash in HmacHash::ALL {
            assert!(
                Attack::HmacWithPublicKey { form, hash }
                    .forge(&h.ctx())
                    .is_err()
            );
        }
    }
}

#[test]
fn blank_weak_and_caller_given_hmac_secrets() {
    let k = keys(Algorithm::Es256, Algorithm::Es256);
    for (attack, secret) in [
        (Attack::HmacEmptySecret, &b""[..]),
        (Attack::HmacWeakSecret("secret"), b"secret"),
        (Attack::HmacSecret(b"hunter2".to_vec()), b"hunter2"),
    ] {
        let name = attack.name();
        let t = k.forge(attack);
        let j = lenient(&t);
        assert_eq!(j.alg(), Some("HS256"));
        assert_eq!(j.kid(), Some("k1"));
        assert!(mac_verifies(&t, secret), "{name}");
        assert!(!mac_verifies(&t, b"other"), "{name}");
        assert!(mismatch(verify(
            &k.verifier(&[Algorithm::Es256, Algorithm::Hs256]),
            &t
        )));
    }
}

#[test]
fn psychic_and_out_of_range_ecdsa_signatures() {
    for (alg, len) in [(Algorithm::Es256, 64), (Algorithm::Es384, 96)] {
        let k = keys(alg, Algorithm::Es256);
        let v = k.strict();
        let n = ecdsa::curve_order(k.curve());
        let raw = k.forge(Attack::PsychicSignature { der: false });
        assert_eq!(lenient(&raw).alg(), Some(alg.name()));
        assert_eq!(lenient(&raw).signature(), vec![0u8; len]);
        assert_eq!(verify(&v, &raw), Err(range(RangeError::RZero)));
        let der_form = k.forge(Attack::PsychicSignature { der: true });
        assert_eq!(segments(&der_form)[2], "MAYCAQACAQA");
        assert_eq!(lenient(&der_form).signature(), [0x30, 6, 2, 1, 0, 2, 1, 0]);
        assert_eq!(
            verify(&v, &der_form),
            Err(range(RangeError::Length {
                expected: len,
                found: 8
            }))
        );
        for (defect, err) in [
            (ScalarDefect::RIsZero, RangeError::RZero),
            (ScalarDefect::SIsZero, RangeError::SZero),
            (ScalarDefect::RIsOrder, RangeError::RTooLarge),
            (ScalarDefect::SIsOrder, RangeError::STooLarge),
        ] {
            let t = k.forge(Attack::ScalarOutOfRange(defect));
            let sig = lenient(&t).signature().to_vec();
            let (r, s) = sig.split_at(len / 2);
            let (bad, kept) = match defect {
                ScalarDefect::RIsZero | ScalarDefect::RIsOrder => (r, s),
                ScalarDefect::SIsZero | ScalarDefect::SIsOrder => (s, r),
            };
            let expected_bad = match defect {
                ScalarDefect::RIsZero | ScalarDefect::SIsZero => vec![0u8; len / 2],
                _ => n.clone(),
            };
            assert_eq!(bad, expected_bad, "{alg} {defect:?}");
            // The other scalar is the valid signature's: in range.
            assert!(ecdsa::cmp_be(kept, &n).is_lt() && kept.iter().any(|&b| b != 0));
            assert_eq!(verify(&v, &t), Err(range(err)), "{alg} {defect:?}");
        }
    }
}

#[test]
fn high_s_der_and_wrong_length_ecdsa_signatures() {
    for (alg, len) in [(Algorithm::Es256, 64), (Algorithm::Es384, 96)] {
        let k = keys(alg, Algorithm::Es256);
        let v = k.strict();
        let curve = k.curve();
        let high = k.forge(Attack::HighS);
        let sig = lenient(&high).signature().to_vec();
        assert!(ecdsa::is_high_s(curve, &sig[len / 2..]));
        assert_eq!(
            verify(&v, &high),
            Ok(()),
            "high-S is a valid ECDSA signature"
        );
        assert_eq!(
            verify(&v.clone().require_low_s(true), &high),
            Err(range(RangeError::HighS))
        );
        let der_sig = k.forge(Attack::DerSignature);
        let j = lenient(&der_sig);
        assert_eq!(j.signature()[0], 0x30);
        let back = ecdsa::der_to_raw(j.signature(), curve).unwrap();
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
        for (attack, found) in [
            (Attack::SignatureTruncated, 63),
            (Attack::SignatureTrailingBytes, len + 16),
        ] {
            let t = k.forge(attack);
            assert_eq!(lenient(&t).signature().len(), found);
            assert_eq!(
                verify(&v, &t),
                Err(range(RangeError::Length {
                    expected: len,
                    found
                }))
            );
        }
    }
    let k = keys(Algorithm::Es256, Algorithm::Es256);
    let t = k.forge(Attack::SignatureWrongCurveSize);
    assert_eq!(lenient(&t).alg(), Some("ES256"));
    assert_eq!(
        verify(&k.strict(), &t),
        Err(range(RangeError::Length {
            expected: 64,
            found: 96
        }))
    );
    // EC-only forgers refuse other keys instead of panicking.
    let rsa = keys(Algorithm::Rs256, Algorithm::Es256);
    for attack in [
        Attack::HighS,
        Attack::DerSignature,
        Attack::SignatureTruncated,
        Attack::PsychicSignature { der: false },
        Attack::ScalarOutOfRange(ScalarDefect::RIsOrder),
    ] {
        let err = attack.forge(&rsa.ctx()).unwrap_err();
        assert_eq!(err.attack, attack.name());
    }
    let es384 = keys(Algorithm::Es384, Algorithm::Es256);
    assert!(Attack::SignatureWrongCurveSize.forge(&es384.ctx()).is_err());
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
        VerifyingKey::from_jwk(&embedded)
            .unwrap()
            .verify(Algorithm::Es256, j.signing_input(), j.signature(), false)
            .unwrap();
    }
    for (attack, member) in [(Attack::Jku, "jku"), (Attack::X5u, "x5u")] {
        let t = k.forge(attack);
        let j = lenient(&t);
        assert_eq!(j.header().get_str(member), Some(LISTENER));
        assert_eq!(j.kid(), Some("rogue-1"), "kid matches the listener's key");
        k.attacker
            .verifying_key()
            .verify(Algorithm::Es256, j.signing_input(), j.signature(), false)
            .unwrap();
        assert_eq!(
            verify(&k.strict(), &t),
            Err(VerifyError::UnknownKid("rogue-1".into()))
        );
    }
}

#[test]
fn kid_injection_payloads() {
    let k = keys(Algorithm::Es256, Algorithm::Es256);
    let kids: Vec<&str> = KID_INJECTIONS.iter().map(|(kid, _)| *kid).collect();
    for kid in [
        "",
        "../../../../../../dev/null",
        "/dev/null",
        "x' UNION SELECT '1';--",
        "|sleep 10",
        "/invalid_path",
    ] {
        assert!(kids.contains(&kid), "{kid:?}");
    }
    assert!(KID_INJECTIONS.contains(&("/dev/null", b"\0")));
    assert!(KID_INJECTIONS.contains(&("x' UNION SELECT '1';--", b"1")));
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
        assert_eq!(
            verify(&k.verifier(&[Algorithm::Hs256]), &t),
            Err(VerifyError::UnknownKid(kid.into()))
        );
    }
}

#[test]
fn crit_forms() {
    let k = keys(Algorithm::Es256, Algorithm::Es256);
    let unknown = k.forge(Attack::Crit(CritForm::Unknown));
    let j = lenient(&unknown);
    assert_eq!(j.header().get("crit"), Some(&json!(["x-foo"])));
    assert_eq!(j.header().get("x-foo"), Some(&json!(1)));
    assert_eq!(
        verify(&k.strict(), &unknown),
        Err(VerifyError::CritNotUnderstood(vec!["x-foo".into()]))
    );
    // Validly signed: a verifier that understands x-foo accepts it.
    assert_eq!(
        verify(&k.strict().understand_crit("x-foo"), &unknown),
        Ok(())
    );
    for (form, crit) in [
        (CritForm::Empty, json!([])),
        (CritForm::Registered, json!(["alg"])),
        (CritForm::Absent, json!(["x-absent"])),
    ] {
        let t = k.forge(Attack::Crit(form));
        assert_eq!(lenient(&t).header().get("crit"), Some(&crit));
        assert!(
            matches!(verify(&k.strict(), &t), Err(VerifyError::CritMalformed(_))),
            "{form:?}"
        );
    }
}

#[test]
fn one_key_one_algorithm() {
    // EC victim: its kid with HS256 (MACed with its own SPKI PEM) and with RS256.
    let k = keys(Algorithm::Es256, Algorithm::Rs256);
    let v = k.verifier(&[Algorithm::Es256, Algorithm::Rs256, Algorithm::Hs256]);
    let t = k.forge(Attack::KidWithHmac);
    assert_eq!(lenient(&t).alg(), Some("HS256"));
    assert!(mac_verifies(
        &t,
        &public_key_bytes(&k.victim, PublicKeyForm::SpkiPem).unwrap()
    ));
    for attack in [Attack::KidWithHmac, Attack::KidWithOtherKeyType] {
        let t = k.forge(attack.clone());
        assert_eq!(lenient(&t).kid(), Some("k1"));
        assert!(mismatch(verify(&v, &t)), "{}", attack.name());
    }
    // RSA victim: its kid with ES256, signed by the attacker's EC key.
    let r = keys(Algorithm::Rs256, Algorithm::Es256);
    let t = r.forge(Attack::KidWithOtherKeyType);
    let j = lenient(&t);
    assert_eq!((j.alg(), j.kid()), (Some("ES256"), Some("k1")));
    assert!(mismatch(verify(
        &r.verifier(&[Algorithm::Rs256, Algorithm::Es256]),
        &t
    )));
    let same = keys(Algorithm::Rs256, Algorithm::Rs256);
    assert!(Attack::KidWithOtherKeyType.forge(&same.ctx()).is_err());
    // RS256 -> PS256 with the same key: a valid PSS signature, refused by the pinned JWK.
    let t = r.forge(Attack::RsaFamilySwitch);
    let j = lenient(&t);
    assert_eq!(j.alg(), Some("PS256"));
    let mut unpinned = r.victim.public_jwk();
    unpinned.alg = None;
    VerifyingKey::from_jwk(&unpinned)
        .unwrap()
        .verify(Algorithm::Ps256, j.signing_input(), j.signature(), false)
        .unwrap();
    assert!(mismatch(verify(
        &r.verifier(&[Algorithm::Rs256, Algorithm::Ps256]),
        &t
    )));
    assert!(Attack::RsaFamilySwitch.forge(&k.ctx()).is_err());
}

#[test]
fn duplicate_members() {
    let k = keys(Algorithm::Es256, Algorithm::Es256);
    let t = k.forge(Attack::DuplicateAlgNone);
    assert_eq!(
        Jws::parse(&t).unwrap_err(),
        JwsError::DuplicateMember {
            segment: Segment::Header,
            path: "alg".into()
        }
    );
    let j = lenient(&t);
    assert_eq!(j.header().duplicates(), ["alg"]);
    assert_eq!(j.header().members()[0], ("alg".into(), json!("ES256")));
    assert_eq!(j.header().members().last().unwrap().1, json!("none"));
    assert_eq!(j.alg(), Some("none"), "last-wins parsers see none");
    assert!(j.signature().is_empty());
    assert_eq!(segments(&t)[1], segments(&k.valid())[1]);
    let t = k.forge(Attack::DuplicateAud {
        other: "https://other.test/mcp",
    });
    let j = Jws::parse(&t).unwrap();
    assert!(k.strict().verify(&j).is_ok(), "validly signed");
    assert_eq!(
        j.claims().unwrap_err(),
        JwsError::DuplicateMember {
            segment: Segment::Payload,
            path: "aud".into()
        }
    );
    let claims = j.claims_lenient().unwrap();
    assert_eq!(claims.duplicates(), ["aud"]);
    assert_eq!(claims.get_first("aud"), Some(&json!("https://rs.test/mcp")));
    assert_eq!(claims.get("aud"), Some(&json!("https://other.test/mcp")));
}

#[test]
fn tampering_keeps_untouched_segments_byte_identical() {
    let k = keys(Algorithm::Es256, Algorithm::Es256);
    let valid = k.valid();
    let orig = segments(&valid);
    let header = JsonObject::parse(br#"{"alg":"ES256","kid":"other"}"#).unwrap();
    let t = tamper(&valid, &Tamper::ReplaceHeader(header.clone()));
    assert_eq!(segments(&t)[1..], orig[1..]);
    assert_eq!(lenient(&t).header(), &header);
    assert_eq!(
        verify(&k.strict(), &t),
        Err(VerifyError::UnknownKid("other".into()))
    );
    let payload = JsonObject::parse(br#"{"sub":"mallory"}"#).unwrap();
    let t = tamper(&valid, &Tamper::ReplacePayload(payload));
    assert_eq!((segments(&t)[0], segments(&t)[2]), (orig[0], orig[2]));
    assert_eq!(lenient(&t).payload(), br#"{"sub":"mallory"}"#);
    assert_eq!(
        verify(&k.strict(), &t),
        Err(VerifyError::Signature(SignatureError::Invalid))
    );
    // Padding on each segment: only that segment changes, by trailing `=` only.
    for (i, segment) in [Segment::Header, Segment::Payload, Segment::Signature]
        .into_iter()
        .enumerate()
    {
        let t = tamper(&valid, &Tamper::PadSegment(segment));
        let got = segments(&t);
        for other in (0..3).filter(|&o| o != i) {
            assert_eq!(got[other], orig[other]);
        }
        let added = got[i].strip_prefix(orig[i]).unwrap();
        assert!(!added.is_empty() && added.chars().all(|c| c == '='));
        assert!(matches!(
            Jws::parse(&t),
            Err(JwsError::Base64 {
                segment: s,
                error: B64Error::Padding { .. }
            }) if s == segment
        ));
        assert_eq!(t.replace('=', ""), valid);
    }
    // The standard alphabet: same bytes, other characters.
    let text = "ab-_cd";
    let t = tamper(
        &format!("{text}.{text}.{text}"),
        &Tamper::StandardAlphabet(Segment::Payload),
    );
    assert_eq!(t, "ab-_cd.ab+/cd.ab-_cd");
    let t = tamper(&valid, &Tamper::LineBreak);
    assert_eq!(t.matches('\n').count(), 1);
    assert_eq!(t.replace('\n', ""), valid);
    assert_eq!(tamper(&valid, &Tamper::TwoSegments), orig[..2].join("."));
    assert_eq!(
        tamper(&valid, &Tamper::FourSegments),
        format!("{valid}.{}", orig[2])
    );
    assert_eq!(tamper(&valid, &Tamper::CutInHalf).len(), valid.len() / 2);
    assert!(valid.starts_with(&tamper(&valid, &Tamper::CutInHalf)));
    assert_eq!(
        tamper(&valid, &Tamper::EmptyMiddleSegment),
        format!("{}..{}", orig[0], orig[2])
    );
    let doc: serde_json::Value =
        serde_json::from_slice(&b64::decode_strict(&tamper(&valid, &Tamper::AsJwsJson)).unwrap())
            .unwrap();
    assert_eq!(
        doc,
        json!({"protected": orig[0], "payload": orig[1], "signature": orig[2]})
    );
}

#[test]
fn structural_defects() {
    let k = keys(Algorithm::Es256, Algorithm::Es256);
    let forge = |s: Structure| k.forge(Attack::Malformed(s));
    let parse = |s: Structure| Jws::parse(&forge(s));
    assert!(matches!(
        parse(Structure::Padding),
        Err(JwsError::Base64 {
            segment: Segment::Payload,
            error: B64Error::Padding { .. }
        })
    ));
    assert!(matches!(
        parse(Structure::StandardAlphabet),
        Err(JwsError::Base64 {
            error: B64Error::InvalidCharacter { .. },
            ..
        })
    ));
    assert!(matches!(
        parse(Structure::LineBreak),
        Err(JwsError::Base64 {
            segment: Segment::Payload,
            error: B64Error::Whitespace { .. }
        })
    ));
    // Undoing each non-canonical change gives back a valid token: nothing else was touched.
    for _ in 0..8 {
        let t = forge(Structure::StandardAlphabet);
        assert!(t.contains(['+', '/']));
        let undone = t.replace('+', "-").replace('/', "_");
        assert_eq!(verify(&k.strict(), &undone), Ok(()), "{t}");
    }
    let undone = forge(Structure::Padding).replace('=', "");
    assert_eq!(verify(&k.strict(), &undone), Ok(()));
    let undone = forge(Structure::LineBreak).replace('\n', "");
    assert_eq!(verify(&k.strict(), &undone), Ok(()));
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
    let empty_middle = parse(Structure::EmptyMiddleSegment).unwrap();
    assert!(empty_middle.payload().is_empty());
    assert!(empty_middle.claims().is_err());
    let jwe = forge(Structure::JweShaped);
    let header = JsonObject::parse(&b64::decode_strict(segments(&jwe)[0]).unwrap()).unwrap();
    assert_eq!(header.get_str("enc"), Some("A256GCM"));
    assert!(segments(&jwe).iter().all(|s| b64::decode_strict(s).is_ok()));
    assert_eq!(
        b64::decode_strict(&forge(Structure::Random)).unwrap().len(),
        32
    );
    let json_form = forge(Structure::JwsJsonSerialization);
    let doc: serde_json::Value =
        serde_json::from_slice(&b64::decode_strict(&json_form).unwrap()).unwrap();
    let inner = format!(
        "{}.{}.{}",
        doc["protected"].as_str().unwrap(),
        doc["payload"].as_str().unwrap(),
        doc["signature"].as_str().unwrap()
    );
    assert_eq!(verify(&k.strict(), &inner), Ok(()), "carries a valid token");
}

#[test]
fn nested_tokens() {
    let k = keys(Algorithm::Es256, Algorithm::Es256);
    let outer = Jws::parse(&k.forge(Attack::NestedAttackerOuter)).unwrap();
    assert_eq!(outer.header().get_str("cty"), Some("JWT"));
    assert_eq!(
        k.strict().verify(&outer).map(|_| ()),
        Err(VerifyError::Signature(SignatureError::Invalid))
    );
    k.attacker
        .verifying_key()
        .verify(
            Algorithm::Es256,
            outer.signing_input(),
            outer.signature(),
            false,
        )
        .unwrap();
    let inner = Jws::parse(std::str::from_utf8(outer.payload()).unwrap()).unwrap();
    assert!(
        k.strict().verify(&inner).is_ok(),
        "the wrapped token is valid"
    );
    let outer = Jws::parse(&k.forge(Attack::NestedUnsignedInner)).unwrap();
    assert_eq!(outer.header().get_str("cty"), Some("JWT"));
    assert!(
        k.strict().verify(&outer).is_ok(),
        "the outer layer is validly signed"
    );
    let inner = lenient(std::str::from_utf8(outer.payload()).unwrap());
    assert!(inner.signature().is_empty());
    assert_eq!(
        k.strict().verify(&inner).map(|_| ()),
        Err(VerifyError::AlgNone("none".into()))
    );
}

#[test]
fn mint_then_tamper() {
    let k = keys(Algorithm::Es256, Algorithm::Es256);
    let steps = [Tamper::StripSignature, Tamper::PadSegment(Segment::Header)];
    let t = k.spec.mint_tampered(&k.victim, &steps);
    let orig = k.valid();
    assert_eq!(segments(&t)[1], segments(&orig)[1]);
    assert!(segments(&t)[0].ends_with('='));
    assert_eq!(segments(&t)[2], "");
    assert_eq!(
        tamper_all(&orig, &steps[..1]),
        Tamper::StripSignature.apply(&orig)
    );
}

#[test]
fn nothing_panics_on_odd_keys_or_strings() {
    let steps = [
        Tamper::ReplaceHeader(JsonObject::new()),
        Tamper::ReplacePayload(JsonObject::new()),
        Tamper::SetSignature(vec![]),
        Tamper::BreakSignature,
        Tamper::StripSignature,
        Tamper::PadSegment(Segment::Signature),
        Tamper::StandardAlphabet(Segment::Header),
        Tamper::LineBreak,
        Tamper::TwoSegments,
        Tamper::FourSegments,
        Tamper::CutInHalf,
        Tamper::EmptyMiddleSegment,
        Tamper::AsJwsJson,
        Tamper::FlipS(EcCurve::P256),
        Tamper::DerSignature,
        Tamper::TruncateSignature(63),
        Tamper::AppendToSignature(vec![1]),
    ];
    for input in [
        "",
        ".",
        "..",
        "....",
        "a",
        "é",
        "é.€€.ü",
        "€€€€",
        "a.b.=",
        "x.y.é€",
    ] {
        for step in &steps {
            let _ = tamper(input, step);
        }
    }
    // Key types the attacks were not written for: each attack forges or says why not.
    for (victim, attacker) in [
        (Algorithm::Hs256, Algorithm::Hs256),
        (Algorithm::EdDsa, Algorithm::Es256),
        (Algorithm::Es512, Algorithm::EdDsa),
        (Algorithm::Ps256, Algorithm::Es384),
    ] {
        let k = keys(victim, attacker);
        for attack in Attack::catalogue() {
            let _ = attack.forge(&k.ctx());
        }
    }
    // A victim key without a kid: the attacks that reuse it are not applicable.
    let k = keys(Algorithm::Es256, Algorithm::Rs256);
    let no_kid = SigningKey::generate(Algorithm::Es256).unwrap();
    let ctx = ForgeContext {
        victim: &no_kid,
        ..k.ctx()
    };
    assert_eq!(ctx.victim_kid(), None);
    for attack in [
        Attack::EmbeddedJwk {
            keep_victim_kid: true,
        },
        Attack::KidWithHmac,
        Attack::KidWithOtherKeyType,
    ] {
        assert!(attack.forge(&ctx).is_err(), "{}", attack.name());
    }
    let t = Attack::HmacEmptySecret.forge(&ctx).unwrap();
    assert_eq!(lenient(&t).kid(), None, "no empty kid invented");
}

#[test]
fn self_signed_certificates_carry_the_key_and_read_back() {
    for alg in [
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::Rs256,
        Algorithm::EdDsa,
    ] {
        let key = SigningKey::generate(alg).unwrap().with_kid("x");
        let der = cert::self_signed(&key).unwrap();
        let read = cert::public_jwk(&der).unwrap();
        let mut expected = key.public_jwk();
        expected.kid = None;
        expected.alg = None;
        expected.key_use = None;
        assert_eq!(read, expected, "{alg}");
        let pem = cert::to_pem(&der);
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"), "{alg}");
        assert_eq!(cert::from_pem(&pem), std::slice::from_ref(&der), "{alg}");
        // The certificate's own signature verifies with its key: it really is self-signed.
        let (body, _) = crate::der::take(&der, 0x30).unwrap();
        let (tbs_contents, rest) = crate::der::take(body, 0x30).unwrap();
        let tbs = &body[..body.len() - rest.len()];
        assert!(tbs.ends_with(tbs_contents));
        let (_, rest) = crate::der::take(rest, 0x30).unwrap();
        let (bits, _) = crate::der::take(rest, 0x03).unwrap();
        let sig = match alg.key_family() {
            KeyFamily::Ec(curve) => crate::ecdsa::der_to_raw(&bits[1..], curve).unwrap(),
            _ => bits[1..].to_vec(),
        };
        key.verifying_key().verify(alg, tbs, &sig, false).unwrap();
    }
    let pss = SigningKey::generate(Algorithm::Ps256).unwrap();
    assert_eq!(cert::self_signed(&pss), None);
    assert_eq!(cert::self_signed(&SigningKey::hmac(b"k")), None);
    for junk in [&b""[..], b"\x30\x00", b"\x30\x03\x30\x01\x00", &[0x30; 40]] {
        assert_eq!(cert::public_jwk(junk), None);
    }
    assert!(cert::from_pem("not pem").is_empty());
}

#[test]
fn x5c_and_jku_at_another_url() {
    let k = keys(Algorithm::Es256, Algorithm::Es256);
    let t = k.forge(Attack::X5c);
    let j = lenient(&t);
    let x5c = j.header().get("x5c").and_then(|v| v.as_array()).unwrap();
    assert_eq!(x5c.len(), 1);
    let der = base64::engine::general_purpose::STANDARD
        .decode(x5c[0].as_str().unwrap())
        .unwrap();
    let key = VerifyingKey::from_jwk(&cert::public_jwk(&der).unwrap()).unwrap();
    key.verify(Algorithm::Es256, j.signing_input(), j.signature(), false)
        .unwrap();
    assert_eq!(j.kid(), Some("rogue-1"));
    assert_eq!(
        verify(&k.strict(), &t),
        Err(VerifyError::UnknownKid("rogue-1".into()))
    );
    let url = "https://as.test/jwks";
    let t = k.forge(Attack::JkuAt(url.into()));
    let j = lenient(&t);
    assert_eq!(j.header().get_str("jku"), Some(url));
    k.attacker
        .verifying_key()
        .verify(Algorithm::Es256, j.signing_input(), j.signature(), false)
        .unwrap();
    // An RSA-PSS attacker has no certificate form here: not applicable, no panic.
    let pss = keys(Algorithm::Es256, Algorithm::Ps256);
    assert!(Attack::X5c.forge(&pss.ctx()).is_err());
}

#[test]
fn kid_and_alg_bind_the_key_curve_and_hash() {
    use aws_lc_rs::signature::{ECDSA_P256_SHA384_ASN1, ECDSA_P384_SHA256_ASN1, UnparsedPublicKey};
    // A kid naming another key of the issuer, validly signed by the victim.
    let k = keys(Algorithm::Es256, Algorithm::Rs256);
    let other = SigningKey::generate(Algorithm::Rs256)
        .unwrap()
        .with_kid("k-rsa");
    let both = k
        .verifier(&[Algorithm::Es256, Algorithm::Rs256])
        .with_key(other.verifying_key());
    let t = k.forge(Attack::ForeignKid("k-rsa".into()));
    let j = lenient(&t);
    assert_eq!((j.alg(), j.kid()), (Some("ES256"), Some("k-rsa")));
    k.victim
        .verifying_key()
        .verify(Algorithm::Es256, j.signing_input(), j.signature(), true)
        .unwrap();
    assert!(mismatch(verify(&both, &t)));
    // ES384 key, ES256 label (and the reverse): the signature is the key's own.
    for (victim, label, sig_len) in [
        (Algorithm::Es384, "ES256", 96),
        (Algorithm::Es256, "ES384", 64),
    ] {
        let k = keys(victim, Algorithm::Es256);
        let t = k.forge(Attack::CurveRelabeled);
        let j = lenient(&t);
        assert_eq!(j.alg(), Some(label));
        assert_eq!(j.signature().len(), sig_len);
        k.victim
            .verifying_key()
            .verify(victim, j.signing_input(), j.signature(), true)
            .unwrap();
        let v = k.verifier(&[Algorithm::Es256, Algorithm::Es384]);
        assert!(mismatch(verify(&v, &t)), "{victim}");
    }
    // alg unchanged, the other hash: verifies only as P-384/SHA-256 (P-256/SHA-384).
    for (victim, other_hash) in [
        (Algorithm::Es384, &ECDSA_P384_SHA256_ASN1),
        (Algorithm::Es256, &ECDSA_P256_SHA384_ASN1),
    ] {
        let k = keys(victim, Algorithm::Es256);
        let t = k.forge(Attack::EcdsaWrongHash);
        let j = lenient(&t);
        assert_eq!(j.alg(), Some(victim.name()));
        assert_eq!(j.kid(), Some("k1"));
        let point = k.victim.public_key_spki_der().unwrap();
        let point = &point[point.len() - (2 * k.curve().coordinate_len() + 1)..];
        UnparsedPublicKey::new(other_hash, point)
            .verify(j.signing_input(), &crate::ecdsa::raw_to_der(j.signature()))
            .unwrap();
        assert!(!crate::ecdsa::is_high_s(
            k.curve(),
            &j.signature()[k.curve().coordinate_len()..]
        ));
        assert_eq!(
            verify(&k.strict(), &t),
            Err(VerifyError::Signature(SignatureError::Invalid)),
            "{victim}"
        );
    }
    let r = keys(Algorithm::Rs256, Algorithm::Es256);
    for attack in [Attack::CurveRelabeled, Attack::EcdsaWrongHash] {
        assert!(attack.forge(&r.ctx()).is_err(), "{}", attack.name());
    }
}

#[test]
fn spki_from_a_public_jwk_matches_the_signing_key() {
    for alg in [
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::Es512,
        Algorithm::Rs256,
        Algorithm::Ps256,
        Algorithm::EdDsa,
    ] {
        let key = SigningKey::generate(alg).unwrap().with_kid("k");
        let jwk = key.public_jwk();
        assert_eq!(cert::spki_der(&jwk), key.public_key_spki_der(), "{alg}");
        assert_eq!(
            cert::spki_pem(&jwk).map(String::into_bytes),
            public_key_bytes(&key, PublicKeyForm::SpkiPem),
            "{alg}"
        );
    }
    assert_eq!(cert::spki_der(&SigningKey::hmac(b"k").public_jwk()), None);
}
