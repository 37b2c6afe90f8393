//! A stimulus derived from an issued token is the one forged with the key that issued it.

use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::b64;
use crate::forge::tests::{lenient, mac_verifies, segments};
use crate::forge::{
    ForgeContext, HmacHash, NEEDS_PUBLISHED_KEY, NEEDS_SIGNING_KEY, PublicKeyForm, Structure,
    public_jwk_bytes, public_key_bytes,
};
use crate::jwk::JwkSet;
use crate::jws::{self, Segment, Verifier, VerifyError};
use crate::keys::SignatureError;
use crate::keystore::KeyRing;

const LISTENER: &str = "http://127.0.0.1:9/jwks.json";

/// A mock AS and an attacker, generated once for every test.
struct Issuer {
    ring: KeyRing,
    /// The ring's JWKS as its endpoint serves it, read back as a client reads it.
    published: JwkSet,
    /// Ed25519, whose signatures are deterministic: attacker-signed stimuli compare byte for
    /// byte.
    attacker: SigningKey,
}

static ISSUER: OnceLock<Issuer> = OnceLock::new();

fn issuer() -> &'static Issuer {
    ISSUER.get_or_init(|| {
        let ring = KeyRing::generate("trusted").unwrap();
        // What `server::jwks` serves: the ring's keys, public members only.
        let mut set = ring.jwks();
        set.keys = set.keys.iter().map(Jwk::to_public).collect();
        let text = set.to_json().to_string();
        let published = JwkSet::from_json(&serde_json::from_str(&text).unwrap()).unwrap();
        Issuer {
            ring,
            published,
            attacker: SigningKey::generate(Algorithm::EdDsa)
                .unwrap()
                .with_kid("rogue-1"),
        }
    })
}

impl Issuer {
    fn published_key(&self, key: &SigningKey) -> Jwk {
        self.published.find(key.kid().unwrap()).unwrap().clone()
    }

    /// A token of `key` as the AS issues it, with its published key attached.
    fn issue(&self, key: &SigningKey, spec: &TokenSpec) -> IssuedToken {
        IssuedToken::parse(&spec.mint(key))
            .unwrap()
            .with_public_key(self.published_key(key))
    }

    fn derive_ctx<'a>(&'a self, issued: &'a IssuedToken) -> DeriveContext<'a> {
        DeriveContext {
            issued,
            attacker: &self.attacker,
            listener_url: LISTENER,
        }
    }
}

fn spec() -> TokenSpec {
    TokenSpec::access_token(
        "https://as.test",
        "https://rs.test/mcp",
        "alice",
        "c1",
        "mcp",
    )
}

/// The attacks that need a signature by the AS key (never derivable).
fn needs_signing_key(attack: &Attack) -> bool {
    matches!(
        attack,
        Attack::Crit(_)
            | Attack::RsaFamilySwitch
            | Attack::ForeignKid(_)
            | Attack::CurveRelabeled
            | Attack::EcdsaWrongHash
            | Attack::DuplicateAud { .. }
            | Attack::NestedUnsignedInner
    )
}

/// The attacks whose output does not depend on `V` and is random.
fn random_output(attack: &Attack) -> bool {
    matches!(
        attack,
        Attack::Malformed(Structure::JweShaped | Structure::Random)
    )
}

fn not_applicable(attack: &Attack, reason: &'static str) -> Result<String, NotApplicable> {
    Err(NotApplicable {
        attack: attack.name(),
        reason,
    })
}

fn signed_by(key: &SigningKey, token: &str) -> bool {
    let j = lenient(token);
    key.verifying_key()
        .verify(key.alg(), j.signing_input(), j.signature(), false)
        .is_ok()
}

#[test]
fn derive_equals_forge_for_every_derivable_attack() {
    let idp = issuer();
    let attacker = &idp.attacker;
    let (mut compared, mut compared_with_forge) = (0, 0);
    for key in idp.ring.keys() {
        let spec = spec();
        let issued = idp.issue(key, &spec);
        let token = issued.compact().to_owned();
        let forge_ctx = ForgeContext {
            victim: key,
            attacker,
            listener_url: LISTENER,
            spec: &spec,
        };
        // `forge` with its V pinned to the issued token: ECDSA and PSS tokens are randomized,
        // so a fresh mint would differ in the signature the stimuli reuse.
        let pinned = Victim {
            valid: Box::new(|| token.clone()),
            ..Victim::minted(key, &spec)
        };
        // RS256 and EdDSA mint the same V again: there `forge` itself must agree.
        let deterministic_v = spec.mint(key) == token;
        let mut derived_count = 0;
        for attack in every_attack() {
            let name = format!("{} {}", key.alg(), attack.name());
            let derived = attack.derive(&idp.derive_ctx(&issued));
            if needs_signing_key(&attack) {
                assert_eq!(
                    derived,
                    not_applicable(&attack, NEEDS_SIGNING_KEY),
                    "{name}"
                );
                continue;
            }
            let forged = attack.build(&pinned, attacker, LISTENER);
            match (&derived, &forged) {
                (Err(d), Err(f)) => assert_eq!(d, f, "{name}"),
                (Ok(d), Ok(f)) if random_output(&attack) => {
                    assert_eq!(segments(d).len(), segments(f).len(), "{name}");
                    derived_count += 1;
                }
                (Ok(d), Ok(f)) => {
                    assert_eq!(d, f, "{name}");
                    if deterministic_v {
                        assert_eq!(Ok(d), attack.forge(&forge_ctx).as_ref(), "{name}");
                        compared_with_forge += 1;
                    }
                    derived_count += 1;
                    compared += 1;
                }
                _ => panic!("{name}: derived {derived:?}, forged {forged:?}"),
            }
        }
        // 78 of the attacks need no AS signature. Not on this key type: the ten ECDSA rows
        // but on EC keys, the ES256-sized signature on ES384, PKCS#1 (under HS256, HS384 and
        // HS512) but on RSA, another key type than the (Ed25519) attacker's on Ed25519.
        let expected = match key.alg() {
            Algorithm::Es256 => 75,
            Algorithm::Es384 => 74,
            Algorithm::EdDsa => 64,
            _ => 68,
        };
        assert_eq!(derived_count, expected, "{}", key.alg());
    }
    // All but the two random structures of each key compare byte for byte.
    assert_eq!(compared, 75 + 74 + 68 + 68 + 64 - 5 * 2);
    assert_eq!(compared_with_forge, 68 + 64 - 2 * 2, "RS256 and EdDSA");
}

#[test]
fn attacker_signed_stimuli_verify_with_the_attacker_key_over_the_issued_claims() {
    let idp = issuer();
    let attacker = &idp.attacker;
    for key in idp.ring.keys() {
        let issued = idp.issue(key, &spec());
        let ctx = idp.derive_ctx(&issued);
        let victim_kid = issued.kid();
        let cases = [
            (
                Attack::EmbeddedJwk {
                    keep_victim_kid: false,
                },
                None,
            ),
            (
                Attack::EmbeddedJwk {
                    keep_victim_kid: true,
                },
                victim_kid,
            ),
            (
                Attack::Resigned {
                    keep_victim_kid: false,
                },
                attacker.kid(),
            ),
            (
                Attack::Resigned {
                    keep_victim_kid: true,
                },
                victim_kid,
            ),
            (Attack::Jku, attacker.kid()),
            (Attack::X5u, attacker.kid()),
            (Attack::JkuAt("https://as.test/jwks".into()), attacker.kid()),
            (Attack::X5c, attacker.kid()),
            (Attack::KidWithOtherKeyType, victim_kid),
        ];
        for (attack, kid) in cases {
            let name = format!("{} {}", key.alg(), attack.name());
            let Ok(t) = attack.derive(&ctx) else {
                // Only the same-family case is out: the attacker key is Ed25519.
                assert_eq!(
                    (key.alg(), attack),
                    (Algorithm::EdDsa, Attack::KidWithOtherKeyType)
                );
                continue;
            };
            assert!(signed_by(attacker, &t), "{name}");
            let j = lenient(&t);
            assert_eq!(j.alg(), Some("EdDSA"), "{name}");
            assert_eq!(j.kid(), kid, "{name}");
            let claims = Value::Object(j.claims().unwrap().to_map());
            assert_eq!(&claims, issued.claims(), "{name}");
        }
        // The rogue issuer's token: the issued claims but iss, signed by the attacker key.
        let rogue = "http://127.0.0.1:9/rogue";
        let t = Attack::RogueIssuer(rogue.into()).derive(&ctx).unwrap();
        assert!(signed_by(attacker, &t));
        assert_eq!(lenient(&t).kid(), attacker.kid());
        let mut claims = Value::Object(lenient(&t).claims().unwrap().to_map());
        assert_eq!(claims["iss"], rogue);
        claims["iss"] = issued.claims()["iss"].clone();
        assert_eq!(&claims, issued.claims());
        let outer = Attack::NestedAttackerOuter.derive(&ctx).unwrap();
        assert!(signed_by(attacker, &outer));
        assert_eq!(lenient(&outer).payload(), issued.compact().as_bytes());
    }
}

/// A token shaped like another AS's: `typ` before `alg`, an `x5t`, claims the mock does
/// not write, non-ASCII text and an escaped slash in the payload.
fn foreign_token(key: &SigningKey) -> String {
    let header = format!(
        r#"{{"typ":"JWT","alg":"{}","x5t":"nOo3ZDrODXEK1jKWhXslHR_KXEg","kid":"{}"}}"#,
        key.alg().name(),
        key.kid().unwrap()
    );
    let claims = r#"{"aud":"api:\/\/mcp","iss":"https://login.test/t/v2.0","iat":1767225600,"exp":4102444800,"scp":"mcp.read","name":"Zoë","roles":["a","b"],"ver":"2.0"}"#;
    jws::sign_raw(header.as_bytes(), claims.as_bytes(), key)
}

#[test]
fn a_foreign_token_keeps_its_texts_where_the_attack_does_not_change_them() {
    let idp = issuer();
    let key = idp.ring.get(Algorithm::Rs256).unwrap();
    let token = foreign_token(key);
    let issued = IssuedToken::parse(&token)
        .unwrap()
        .with_public_key(idp.published_key(key));
    let ctx = idp.derive_ctx(&issued);
    let original = segments(&token);
    for spelling in ["none", "nOnE"] {
        for keep_signature in [false, true] {
            let t = Attack::AlgNone {
                spelling,
                keep_signature,
            }
            .derive(&ctx)
            .unwrap();
            let j = lenient(&t);
            let members: Vec<&str> = j.header().members().iter().map(|m| m.0.as_str()).collect();
            assert_eq!(
                members,
                ["typ", "alg", "x5t", "kid"],
                "alg replaced in place"
            );
            assert_eq!(j.alg(), Some(spelling));
            assert_eq!(segments(&t)[1], original[1], "payload text kept");
            let signature = if keep_signature { original[2] } else { "" };
            assert_eq!(segments(&t)[2], signature);
        }
    }
    let stripped = Attack::SignatureStripped.derive(&ctx).unwrap();
    assert_eq!(stripped, format!("{}.{}.", original[0], original[1]));
    let broken = Attack::SignatureBroken.derive(&ctx).unwrap();
    assert_eq!(segments(&broken)[..2], original[..2]);
    assert_ne!(segments(&broken)[2], original[2]);
    let trailing = Attack::SignatureTrailingBytes.derive(&ctx).unwrap();
    assert_eq!(segments(&trailing)[..2], original[..2]);
    // HS256 over the issued claims, with the issued kid, MACed with the published key.
    let spki = public_jwk_bytes(&idp.published_key(key), PublicKeyForm::SpkiPem).unwrap();
    let t = Attack::KidWithHmac.derive(&ctx).unwrap();
    assert!(mac_verifies(&t, &spki));
    let j = lenient(&t);
    assert_eq!((j.alg(), j.kid()), (Some("HS256"), issued.kid()));
    assert_eq!(
        j.header().get_str("x5t"),
        Some("nOo3ZDrODXEK1jKWhXslHR_KXEg")
    );
    assert_eq!(
        &Value::Object(j.claims().unwrap().to_map()),
        issued.claims()
    );
    // ECDSA rows do not apply to an RSA token, whatever the AS.
    let err = Attack::HighS.derive(&ctx).unwrap_err();
    assert_eq!(err.reason, "needs an ECDSA victim key");
}

#[test]
fn attacks_on_the_public_key_need_the_published_key() {
    let idp = issuer();
    for key in idp.ring.keys() {
        let with_key = idp.issue(key, &spec());
        let without_key = IssuedToken::parse(with_key.compact()).unwrap();
        assert!(without_key.public_key().is_none());
        for attack in Attack::catalogue() {
            let derived = attack.derive(&idp.derive_ctx(&without_key));
            if matches!(
                attack,
                Attack::HmacWithPublicKey { .. } | Attack::KidWithHmac
            ) {
                assert_eq!(derived, not_applicable(&attack, NEEDS_PUBLISHED_KEY));
            } else {
                let with = attack.derive(&idp.derive_ctx(&with_key));
                assert_eq!(derived.is_ok(), with.is_ok(), "{}", attack.name());
            }
        }
    }
}

#[test]
fn hmac_forms_use_the_jwks_member_as_published() {
    let idp = issuer();
    let key = idp.ring.get(Algorithm::Es256).unwrap();
    // A JWKS member with members the mock does not publish: they are part of the JSON form.
    let mut member = idp.published_key(key).to_json();
    member["x5t"] = json!("nOo3ZDrODXEK1jKWhXslHR_KXEg");
    member["x5c"] = json!(["MIIC"]);
    let issued = IssuedToken::parse(&spec().mint(key))
        .unwrap()
        .with_public_key(Jwk::from_json(&member).unwrap());
    let ctx = idp.derive_ctx(&issued);
    for hash in HmacHash::ALL {
        let attack = |form| Attack::HmacWithPublicKey { form, hash };
        let t = attack(PublicKeyForm::JwkJson).derive(&ctx).unwrap();
        assert_eq!(lenient(&t).alg(), Some(hash.alg()));
        assert!(mac_verifies(&t, member.to_string().as_bytes()), "{hash:?}");
        for form in [
            PublicKeyForm::SpkiPem,
            PublicKeyForm::SpkiDer,
            PublicKeyForm::Raw,
        ] {
            let t = attack(form).derive(&ctx).unwrap();
            assert!(mac_verifies(&t, &public_key_bytes(key, form).unwrap()));
        }
        assert_eq!(
            attack(PublicKeyForm::Pkcs1Pem)
                .derive(&ctx)
                .unwrap_err()
                .reason,
            "this byte form does not exist for the key type"
        );
    }
}

#[test]
fn claim_edits_keep_the_header_and_the_original_signature() {
    let idp = issuer();
    let key = idp.ring.get(Algorithm::Es256).unwrap();
    let issued = idp.issue(key, &spec());
    let original = issued.segments();
    let edits = [
        (
            ClaimEdit::Audience("https://other.test/mcp".into()),
            json!("https://other.test/mcp"),
        ),
        (ClaimEdit::AudienceRemoved, Value::Null),
        (ClaimEdit::Expiry(1_000_000_000), json!(1_000_000_000)),
        (ClaimEdit::ExpiryRemoved, Value::Null),
        (ClaimEdit::Scope("admin".into()), json!("admin")),
        (ClaimEdit::Subject("mallory".into()), json!("mallory")),
        (
            ClaimEdit::Issuer("https://evil.test".into()),
            json!("https://evil.test"),
        ),
        (ClaimEdit::IssuerRemoved, Value::Null),
    ];
    let strict = Verifier::new(&[Algorithm::Es256]).with_key(key.verifying_key());
    let mut names = Vec::new();
    for (edit, expected) in edits {
        let t = issued.edited(&edit);
        assert_eq!(segments(&t)[0], original[0], "{}", edit.name());
        assert_eq!(segments(&t)[2], original[2], "{}", edit.name());
        let j = Jws::parse(&t).unwrap();
        let claims = j.claims().unwrap();
        assert_eq!(
            claims.get(edit.claim()).cloned().unwrap_or(Value::Null),
            expected,
            "{}",
            edit.name()
        );
        // Every other claim is untouched and the payload is compact JSON.
        let mut others = issued.claims().clone();
        let mut edited = Value::Object(claims.to_map());
        others.as_object_mut().unwrap().remove(edit.claim());
        edited.as_object_mut().unwrap().remove(edit.claim());
        assert_eq!(edited, others, "{}", edit.name());
        assert_eq!(j.payload(), claims.to_bytes());
        assert_eq!(
            strict.verify(&j).map(|_| ()),
            Err(VerifyError::Signature(SignatureError::Invalid)),
            "{}",
            edit.name()
        );
        assert!(edit.description().ends_with("original signature kept"));
        names.push(edit.name());
    }
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 8, "names are unique");
}

#[test]
fn parse_refuses_what_is_not_a_jwt_and_keeps_the_texts() {
    let jws_error = |token: &str| match IssuedToken::parse(token) {
        Err(NotAJwt::Jws(e)) => e,
        other => panic!("{token}: {other:?}"),
    };
    let opaque = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
    assert!(matches!(jws_error(opaque), JwsError::Base64 { .. }));
    assert_eq!(
        jws_error("2YotnFZFEjr1zCsicMWpAA"),
        JwsError::SegmentCount { found: 1 }
    );
    assert_eq!(jws_error("a.b.c.d.e"), JwsError::SegmentCount { found: 5 });
    let header = b64::encode(r#"{"alg":"ES256"}"#);
    let payload = b64::encode(r#"{"sub":"a"}"#);
    assert!(matches!(
        jws_error(&format!("{header}.{}.", b64::encode("[1]"))),
        JwsError::Json {
            segment: Segment::Payload,
            ..
        }
    ));
    assert!(matches!(
        jws_error(&format!("{header}=.{payload}.")),
        JwsError::Base64 {
            segment: Segment::Header,
            ..
        }
    ));
    let no_alg = format!("{}.{payload}.", b64::encode(r#"{"alg":1,"kid":"k"}"#));
    assert_eq!(IssuedToken::parse(&no_alg).unwrap_err(), NotAJwt::NoAlg);
    assert!(NotAJwt::NoAlg.to_string().contains("alg"));

    let idp = issuer();
    let key = idp.ring.get(Algorithm::Ps256).unwrap();
    let token = foreign_token(key);
    let issued = IssuedToken::parse(&token).unwrap();
    assert_eq!(issued.compact(), token);
    assert_eq!(issued.segments().join("."), token);
    assert_eq!((issued.alg(), issued.kid()), ("PS256", key.kid()));
    assert_eq!(issued.header()["x5t"], "nOo3ZDrODXEK1jKWhXslHR_KXEg");
    assert_eq!(issued.claims()["aud"], "api://mcp");
    assert_eq!(issued.claims()["name"], "Zoë");
    let unsigned = format!("{header}.{payload}.");
    let issued = IssuedToken::parse(&unsigned).unwrap();
    assert_eq!((issued.alg(), issued.kid()), ("ES256", None));
    assert_eq!(issued.segments()[2], "");
}

/// The variants are distinct from the token and from each other, never empty, and the
/// changed character keeps its class.
fn check_opaque_variants(token: &str) {
    let variants = opaque_variants(token);
    let n = token.chars().count();
    assert_eq!(variants.len(), if n > 1 { 3 } else { n + 1 }, "{token:?}");
    if let (Some(last), Some((_, changed))) = (
        token.chars().last(),
        variants
            .iter()
            .find(|(label, _)| *label == "last-char-changed"),
    ) {
        let class = |c: char| CHARACTER_CLASSES.iter().position(|class| class.contains(c));
        assert_eq!(
            changed.chars().last().map(class),
            Some(class(last)),
            "{token:?}"
        );
    }
    for (i, (label, v)) in variants.iter().enumerate() {
        assert!(!v.is_empty(), "{token:?} {label}");
        assert_ne!(v, token, "{token:?} {label}");
        for (other_label, w) in &variants[i + 1..] {
            assert_ne!(v, w, "{token:?} {label} {other_label}");
        }
    }
}

#[test]
fn opaque_variants_are_near_misses() {
    for token in [
        "",
        "a",
        "9",
        "Z",
        "-",
        "é",
        "\u{10FFFF}",
        "\u{D7FF}",
        " ",
        "a\u{1F}",
        "2YotnFZFEjr1zCsicMWpAA",
        "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU",
        "tok_",
        "abc=",
    ] {
        check_opaque_variants(token);
    }
    let v = opaque_variants("2YotnFZFEjr1zCsicMWpAz");
    assert_eq!(
        v,
        [
            ("truncated-by-one", "2YotnFZFEjr1zCsicMWpA".to_owned()),
            ("last-char-changed", "2YotnFZFEjr1zCsicMWpAa".to_owned()),
            ("char-appended", "2YotnFZFEjr1zCsicMWpAza".to_owned()),
        ]
    );
    for (c, next) in [
        ('9', '0'),
        ('Z', 'A'),
        ('-', '_'),
        ('_', '-'),
        ('~', '.'),
        ('/', '+'),
    ] {
        assert_eq!(same_class_successor(c), next);
    }
}

/// Header `alg` values a token may carry, known to this crate or not.
fn alg_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(vec![
            "ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA", "HS256", "none", "RS512",
        ])
        .prop_map(Value::from),
        "[ -~]{0,8}".prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[ -~\u{e9}\u{1F600}]{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,4}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An object whose members may repeat, over a few names that matter to the forgers.
fn object() -> impl Strategy<Value = JsonObject> {
    let name = prop_oneof![
        "[a-z]{1,4}",
        prop::sample::select(vec!["kid", "aud", "typ"]).prop_map(str::to_owned)
    ];
    prop::collection::vec((name, json_value()), 0..5).prop_map(|members| {
        let mut object = JsonObject::new();
        for (name, value) in members {
            object.push_duplicate(name, value);
        }
        object
    })
}

/// A compact JWS with an arbitrary header (always a string `alg`), claims and signature.
fn arbitrary_jwt() -> impl Strategy<Value = String> {
    (
        alg_value(),
        object(),
        object(),
        prop_oneof![
            prop::sample::select(vec![0usize, 63, 64, 96, 256]).prop_map(|n| vec![0x5a; n]),
            prop::collection::vec(any::<u8>(), 0..100),
        ],
    )
        .prop_map(|(alg, mut header, claims, signature)| {
            header.push_duplicate("alg", alg);
            jws::encode_compact(&header.to_bytes(), &claims.to_bytes(), &signature)
        })
}

fn every_attack() -> Vec<Attack> {
    let mut all = Attack::catalogue();
    all.extend([
        Attack::JkuAt("https://as.test/jwks".into()),
        Attack::ForeignKid("other".into()),
        Attack::HmacSecret(b"hunter2".to_vec()),
        Attack::RogueIssuer("http://127.0.0.1:9/rogue".into()),
    ]);
    all
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn parse_never_panics(input in prop_oneof![any::<String>(), "[A-Za-z0-9._=+/ -]{0,80}"]) {
        let _ = IssuedToken::parse(&input);
        check_opaque_variants(&input);
    }

    #[test]
    fn derive_and_edit_never_panic_on_any_jwt(token in arbitrary_jwt(), with_key in 0usize..6) {
        let idp = issuer();
        let issued = IssuedToken::parse(&token).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let issued = match idp.ring.keys().get(with_key) {
            Some(key) => issued.with_public_key(idp.published_key(key)),
            None => issued,
        };
        for attack in every_attack() {
            if let Err(e) = attack.derive(&idp.derive_ctx(&issued)) {
                prop_assert_eq!(e.attack, attack.name());
            }
        }
        for edit in [ClaimEdit::AudienceRemoved, ClaimEdit::Expiry(0), ClaimEdit::Subject("m".into())] {
            let t = issued.edited(&edit);
            prop_assert_eq!(segments(&t)[0], issued.segments()[0]);
            prop_assert_eq!(segments(&t)[2], issued.segments()[2]);
        }
    }
}
