//! The JWT attack catalogue as data: Wycheproof-shaped vectors forged against the checked-in
//! fixture keys (`fixtures/keys/`) with fixed claims, stored in
//! `fixtures/vectors/jwt-attacks.json` (regenerate with
//! `cargo run -p mock-idp --example vectors`).
//!
//! Every vector names its [`Attack`] (name, comment, flags = bug type, CVEs, reference), says
//! what a strict verifier must conclude (`result`: `invalid`, or `acceptable` for the
//! malleated high-S signature, spec rs-ecdsa-high-s) and why (`error`: the refusal of
//! [`strict_verifier`], as [`verdict`] renders it). ECDSA and PSS signatures and the random
//! structural stimuli are randomized, so a regenerated file differs in those tokens only; the
//! replay test (`mock-idp/tests/vectors.rs`) checks every stored token still has its defect.

use std::path::Path;

use serde_json::{Value, json};

use super::{Attack, CritForm, ForgeContext, HmacHash, PublicKeyForm, ScalarDefect, Structure};
use crate::alg::Algorithm;
use crate::jws::{Jws, JwsError, Verifier, VerifyError};
use crate::keys::{KeyError, SignatureError, SigningKey};
use crate::keystore::kid_for;
use crate::token::TokenSpec;

/// The `schema` value of the vector file: the JSON Schema beside it in fixtures/vectors.
pub const SCHEMA: &str = "jwt_attack_test_schema_v1.json";
/// The issuer of every vector token (the `iss` a verifier of these vectors trusts).
pub const ISSUER: &str = "https://as.example";
/// The resource every vector token is for.
pub const AUDIENCE: &str = "https://mcp.example/mcp";
/// Where the trusted issuer's JWKS would live (the `jku` that names it, with a foreign key).
pub const TRUSTED_JWKS_URL: &str = "https://as.example/jwks";
/// The attacker's key URL named by `jku`/`x5u` (nothing listens there).
pub const LISTENER_URL: &str = "http://127.0.0.1:9/jwks.json";
/// `iat` of every vector token: 2026-01-01T00:00:00Z.
pub const ISSUED_AT: i64 = 1_767_225_600;
/// `exp` of every vector token: 2100-01-01T00:00:00Z, so expiry never hides the defect.
pub const EXPIRES_AT: i64 = 4_102_444_800;

/// The algorithms the strict verifier allows: the asymmetric ones the fixture keys cover.
pub const ALLOWED: [Algorithm; 5] = [
    Algorithm::Es256,
    Algorithm::Es384,
    Algorithm::Rs256,
    Algorithm::Ps256,
    Algorithm::EdDsa,
];

/// The fixture keys the vectors are forged against: the trusted issuer's (ES256, ES384,
/// RS256, PS256) and the attacker's (the Ed25519 fixture key, which the verifier does not
/// trust; Ed25519 signatures are deterministic, so attacker-signed vectors are too).
#[derive(Debug, Clone)]
pub struct VectorKeys {
    pub trusted: Vec<SigningKey>,
    pub attacker: SigningKey,
}

/// Why the fixture keys could not be read.
#[derive(Debug, thiserror::Error)]
pub enum VectorKeyError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Key { path: String, source: KeyError },
}

impl VectorKeys {
    /// Reads `fixture-<alg>.pem` from `dir` (never generates: the vectors are only meaningful
    /// against the checked-in keys).
    pub fn from_dir(dir: &Path) -> Result<Self, VectorKeyError> {
        let load = |alg: Algorithm| {
            let kid = kid_for("fixture", alg);
            let path = dir.join(format!("{kid}.pem"));
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(&path).map_err(|source| VectorKeyError::Io {
                path: shown.clone(),
                source,
            })?;
            SigningKey::from_pem(alg, &text)
                .map(|k| k.with_kid(kid))
                .map_err(|source| VectorKeyError::Key {
                    path: shown,
                    source,
                })
        };
        Ok(Self {
            trusted: [
                Algorithm::Es256,
                Algorithm::Es384,
                Algorithm::Rs256,
                Algorithm::Ps256,
            ]
            .into_iter()
            .map(load)
            .collect::<Result<_, _>>()?,
            attacker: load(Algorithm::EdDsa)?,
        })
    }

    /// The trusted key of `alg`.
    pub fn victim(&self, alg: Algorithm) -> Option<&SigningKey> {
        self.trusted.iter().find(|k| k.alg() == alg)
    }

    fn kid_of(&self, alg: Algorithm) -> String {
        self.victim(alg)
            .and_then(SigningKey::kid)
            .unwrap_or_default()
            .to_owned()
    }
}

/// The verifier every vector is judged by: [`ALLOWED`], the trusted keys only, no header key,
/// no `crit` extension understood, low-S not required (RFC 7518 has no low-S rule).
pub fn strict_verifier(keys: &VectorKeys) -> Verifier {
    Verifier::new(&ALLOWED).with_keys(keys.trusted.iter().map(SigningKey::verifying_key))
}

/// The valid token `V` of the vectors: fixed claims, no randomness.
pub fn valid_spec() -> TokenSpec {
    TokenSpec::access_token(ISSUER, AUDIENCE, "alice", "vector-client", "mcp:read")
        .iat(ISSUED_AT)
        .exp(EXPIRES_AT)
        .jti("vector-0001")
}

/// What a strict verifier concludes about a vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// Refused.
    Invalid,
    /// A valid signature in a form some verifiers refuse on purpose (high-S).
    Acceptable,
}

impl Expected {
    pub fn as_str(self) -> &'static str {
        match self {
            Expected::Invalid => "invalid",
            Expected::Acceptable => "acceptable",
        }
    }
}

/// The expected result of an attack.
pub fn expected(attack: &Attack) -> Expected {
    match attack {
        Attack::HighS => Expected::Acceptable,
        _ => Expected::Invalid,
    }
}

/// Strict parse, [`strict_verifier`]-style verification and claims parse: `Ok` when the
/// token is accepted, else a stable code naming the refusal (`parse: …`, `verify: …`,
/// `claims: …`).
pub fn verdict(verifier: &Verifier, token: &str) -> Result<(), String> {
    let jws = Jws::parse(token).map_err(|e| format!("parse: {}", jws_code(&e)))?;
    verifier
        .verify(&jws)
        .map_err(|e| format!("verify: {}", verify_code(&e)))?;
    jws.claims()
        .map_err(|e| format!("claims: {}", jws_code(&e)))?;
    Ok(())
}

fn jws_code(e: &JwsError) -> String {
    match e {
        JwsError::TooLarge { .. } => "TooLarge".into(),
        JwsError::SegmentCount { found } => format!("SegmentCount({found})"),
        JwsError::EmptySegment { segment } => format!("EmptySegment({segment:?})"),
        JwsError::Base64 { segment, .. } => format!("Base64({segment:?})"),
        JwsError::Json { segment, .. } => format!("Json({segment:?})"),
        JwsError::DuplicateMember { segment, path } => {
            format!("DuplicateMember({segment:?}, {path})")
        }
    }
}

fn verify_code(e: &VerifyError) -> String {
    use crate::ecdsa::RangeError;
    match e {
        // The length of a DER signature varies with its random r and s: name the kind only.
        VerifyError::Signature(SignatureError::EcdsaRange(RangeError::Length { .. })) => {
            "EcdsaRange(Length)".into()
        }
        VerifyError::Signature(SignatureError::EcdsaRange(r)) => format!("EcdsaRange({r:?})"),
        VerifyError::Signature(SignatureError::KeyAlgorithmMismatch { alg, kty }) => {
            format!("KeyAlgorithmMismatch({alg}, {kty})")
        }
        VerifyError::Signature(SignatureError::Invalid) => "SignatureInvalid".into(),
        other => format!("{other:?}"),
    }
}

/// One test group: the victim key's algorithm and the attacks forged against it.
pub fn groups(keys: &VectorKeys) -> Vec<(Algorithm, Vec<Attack>)> {
    let mut es256 = Attack::catalogue();
    es256.extend([
        Attack::JkuAt(TRUSTED_JWKS_URL.to_owned()),
        Attack::ForeignKid(keys.kid_of(Algorithm::Rs256)),
    ]);
    let mut es384 = vec![
        Attack::PsychicSignature { der: false },
        Attack::PsychicSignature { der: true },
    ];
    es384.extend(
        [
            ScalarDefect::RIsZero,
            ScalarDefect::SIsZero,
            ScalarDefect::RIsOrder,
            ScalarDefect::SIsOrder,
        ]
        .map(Attack::ScalarOutOfRange),
    );
    es384.extend([
        Attack::HighS,
        Attack::DerSignature,
        Attack::SignatureTruncated,
        Attack::SignatureTrailingBytes,
        Attack::CurveRelabeled,
        Attack::EcdsaWrongHash,
        Attack::ForeignKid(keys.kid_of(Algorithm::Es256)),
    ]);
    let mut rs256 = vec![
        Attack::AlgNone {
            spelling: "none",
            keep_signature: false,
        },
        Attack::SignatureStripped,
        Attack::SignatureBroken,
        Attack::SignatureTrailingBytes,
    ];
    for hash in HmacHash::ALL {
        rs256.extend(PublicKeyForm::ALL.map(|form| Attack::HmacWithPublicKey { form, hash }));
    }
    rs256.extend([
        Attack::KidWithHmac,
        Attack::KidWithOtherKeyType,
        Attack::RsaFamilySwitch,
        Attack::ForeignKid(keys.kid_of(Algorithm::Es256)),
        Attack::Crit(CritForm::Unknown),
        Attack::Malformed(Structure::Padding),
    ]);
    vec![
        (Algorithm::Es256, es256),
        (Algorithm::Es384, es384),
        (Algorithm::Rs256, rs256),
    ]
}

/// The forge context of a group.
pub fn context<'a>(
    keys: &'a VectorKeys,
    victim: &'a SigningKey,
    spec: &'a TokenSpec,
) -> ForgeContext<'a> {
    ForgeContext {
        victim,
        attacker: &keys.attacker,
        listener_url: LISTENER_URL,
        spec,
    }
}

/// The whole vector file. Attacks that do not apply to a group's key are left out.
pub fn build(keys: &VectorKeys) -> Value {
    let spec = valid_spec();
    let verifier = strict_verifier(keys);
    let mut tc_id = 0;
    let mut groups_json = Vec::new();
    for (alg, attacks) in groups(keys) {
        let Some(victim) = keys.victim(alg) else {
            continue;
        };
        let ctx = context(keys, victim, &spec);
        let mut tests = Vec::new();
        for attack in attacks {
            let Ok(token) = attack.forge(&ctx) else {
                continue;
            };
            tc_id += 1;
            let p = attack.provenance();
            let error = verdict(&verifier, &token).err();
            tests.push(json!({
                "tcId": tc_id,
                "name": attack.name(),
                "comment": attack.description(),
                "flags": [p.bug_type],
                "cves": p.cves,
                "reference": p.reference,
                "result": expected(&attack).as_str(),
                "error": error,
                "token": token,
            }));
        }
        groups_json.push(json!({
            "type": "JwtAttackTest",
            "victimAlg": alg.name(),
            "victimKid": victim.kid(),
            "tests": tests,
        }));
    }
    json!({
        "algorithm": "JWS",
        "schema": SCHEMA,
        "generator": "cargo run -p mock-idp --example vectors",
        "numberOfTests": tc_id,
        "header": [
            "Forged JWT access tokens, one per attack of mock_idp::forge, against the fixture keys in fixtures/keys.",
            "result: what a strict verifier concludes; error: why it refuses (mock_idp::forge::vectors::verdict).",
            "ECDSA, PSS and random stimuli are randomized: regenerating changes those tokens only.",
        ],
        "keys": {
            "folder": "fixtures/keys",
            "trusted": keys.trusted.iter().map(SigningKey::kid).collect::<Vec<_>>(),
            "attacker": keys.attacker.kid(),
        },
        "verifier": {
            "allowed": ALLOWED.map(Algorithm::name),
            "requireLowS": false,
            "understoodCrit": [],
        },
        "claims": Value::Object(spec.claims_json().to_map()),
        "listenerUrl": LISTENER_URL,
        "testGroups": groups_json,
    })
}
