//! Spec §1.5: the JWT attack catalogue (jwt_tool modes and relatives). Stimuli come from the
//! forgers of `mock_idp::forge`, each with its provenance (the same catalogue is stored as data
//! in fixtures/vectors/jwt-attacks.json).
//!
//! Most rows forge from `V` with the trusted issuer's signing key as the victim; rows about one
//! key type (RSA padding, ECDSA curves) pick the victim key of that type from the trusted
//! issuer's key ring, which its JWKS publishes. The `jku`/`x5u` rows also watch the tool's
//! loopback listener: a target that fetches a URL taken from a token header is reported even
//! when it then refuses the token (the SSRF half of the row, SHOULD).

use mock_idp::alg::Algorithm;
use mock_idp::forge::{ClaimEdit, HmacHash, IssuedToken, ScalarDefect, cert};

use super::*;
use crate::engine::listener::Listener;
use crate::expect::{Assertion, Part};

const RFC7518: &str = "https://www.rfc-editor.org/rfc/rfc7518";

/// Listener topics of the rows that serve attacker documents.
const JKU_TOPIC: &str = "rs.token.jku-spoof";
const X5U_TOPIC: &str = "rs.token.x5u-x5c-spoof";

/// The `jku`/`x5u` value of rows that do not serve anything (nothing listens there).
const NO_LISTENER: &str = "http://127.0.0.1:9/jwks.json";

/// How much longer than the baseline refusal the `|sleep 10` kid may take (spec
/// rs-kid-injection: "< 5 s beyond baseline").
const KID_SLEEP_BOUND: std::time::Duration = std::time::Duration::from_secs(5);

pub(super) const KID_INJECTION_LATENCY: CheckMeta = CheckMeta {
    id: "rs.token.kid-injection-latency",
    row: "rs-kid-injection",
    title: "A kid holding a shell command does not delay the answer",
    summary: "V forged with kid \"|sleep 10\" (HS256, empty secret) is refused no more than 5 s \
              later than the same forgery with a harmless unknown kid (the baseline): a longer \
              answer means the kid reached a shell. The SHOULD half of rs-kid-injection (no \
              injection side effect); rs.token.kid-injection grades the refusal itself (MUST).",
    level: Level::Should,
    applies: Applies::Always,
    deadline: None,
    refs: &[rfc(
        "RFC 8725",
        "§3.10",
        "kid is sanitised before any lookup; it is never passed to a command",
        RFC8725,
    )],
    needs: DERIVABLE,
    tags: &["kid injection", "command injection"],
    broken_by: &["kid-command-sleep"],
};

/// Spec rs-kid-injection, latency half: baseline and stimulus differ only in their kid, and
/// are sent one after the other between the controls.
fn kid_injection_latency(ctx: &Context) -> crate::engine::runner::CheckFuture<'_> {
    Box::pin(async move {
        let forge = |kid: &'static str| {
            forged(ctx, &[Attack::KidInjection { kid, secret: b"" }]).and_then(|mut t| t.pop())
        };
        let (Some(baseline), Some(sleep)) = (forge("no-such-key"), forge("|sleep 10")) else {
            return not_evaluated();
        };
        if let Err(o) = negative_control(ctx).await {
            return o;
        }
        if let Err(o) = positive_control(ctx).await {
            return o;
        }
        let baseline = ctx.initialize(&Credential::Bearer(baseline)).await;
        let stimulus = ctx.initialize(&Credential::Bearer(sleep)).await;
        if let Err(o) = positive_control(ctx).await {
            return o;
        }
        let extra = stimulus.elapsed.saturating_sub(baseline.elapsed);
        let timing = format!(
            "baseline (kid \"no-such-key\") answered in {:.2} s, kid \"|sleep 10\" in {:.2} s",
            baseline.elapsed.as_secs_f64(),
            stimulus.elapsed.as_secs_f64()
        );
        let mut assertions = vec![Assertion {
            part: Part::NotAccepted,
            level: Level::Should,
            requirement: format!(
                "the answer to kid \"|sleep 10\" comes less than {} s after the baseline's",
                KID_SLEEP_BOUND.as_secs()
            ),
            holds: stimulus.response.is_ok() && extra < KID_SLEEP_BOUND,
            actual: format!(
                "{timing} ({})",
                match &stimulus.response {
                    Ok(_) => format!("{:.2} s longer", extra.as_secs_f64()),
                    Err(e) => e.to_string(),
                }
            ),
        }];
        if let Ok(r) = &stimulus.response {
            assertions.extend(
                expect::invalid_token(r)
                    .only(&[Part::NotAccepted])
                    .assertions,
            );
        }
        let outcome = Outcome::from_grade(
            Level::Should,
            &Grade { assertions },
            vec![baseline, stimulus],
        );
        if outcome.verdict == Verdict::Pass {
            Outcome::new(Verdict::Pass, timing)
        } else {
            outcome
        }
    })
}

/// The attack checks that are not rows of the token table.
pub(super) fn checks() -> Vec<Check<Context>> {
    vec![Check::new(KID_INJECTION_LATENCY, kid_injection_latency)]
}

/// `V` forged by each attack, with the trusted issuer's key of `victim` as the victim key;
/// none when the target accepts no `V` signed with `victim` (the attack would prove nothing).
fn forged_against(ctx: &Context, victim: Algorithm, attacks: &[Attack]) -> Option<Vec<String>> {
    if !ctx.accepts_alg(victim) {
        return Some(Vec::new());
    }
    let idp = ctx.idp.as_ref()?;
    let spec = ctx.valid_spec()?;
    let fctx = ForgeContext {
        victim: idp.key_ring(IssuerKind::Trusted).get(victim)?,
        attacker: idp.key_for(IssuerKind::Rogue, ctx.token_alg()),
        listener_url: NO_LISTENER,
        spec: &spec,
    };
    Some(attacks.iter().filter_map(|a| a.forge(&fctx).ok()).collect())
}

/// One labelled MUST-refuse probe forged against the trusted key of `victim`.
fn refused_against(ctx: &Context, victim: Algorithm, attack: Attack) -> Option<Probe> {
    let token = forged_against(ctx, victim, std::slice::from_ref(&attack))?.pop()?;
    Some(Probe::refused(
        format!("{} ({victim} key)", attack.description()),
        token,
    ))
}

/// The `kid` under which the trusted issuer publishes its key of `alg`.
fn trusted_kid(ctx: &Context, alg: Algorithm) -> Option<String> {
    let idp = ctx.idp.as_ref()?;
    Some(
        idp.key_ring(IssuerKind::Trusted)
            .get(alg)?
            .kid()?
            .to_owned(),
    )
}

/// [X] plus "the listener saw no request for this topic's documents" (SHOULD: RFC 8725 §3.10,
/// a header-named URL is never fetched). The fetch is a side effect, so it is graded as part
/// of "not accepted". Probes are sent and graded one at a time and a target fetches before it
/// answers, so the requests since the previous grade are this stimulus's.
fn invalid_token_without_fetch(resp: &RecordedResponse, topic: &'static str) -> Grade {
    without_fetch(expect::invalid_token(resp), topic)
}

/// `grade` plus "the listener saw no request for `topic`" (SHOULD, RFC 8725 §3.10).
pub(crate) fn without_fetch(mut grade: Grade, topic: &'static str) -> Grade {
    let hits = Listener::shared().map_or(0, |l| l.take_new_hits(topic));
    grade.assertions.push(Assertion {
        part: Part::NotAccepted,
        level: Level::Should,
        requirement: "no request to a URL the JOSE header names".into(),
        holds: hits == 0,
        actual: if hits == 0 {
            String::new()
        } else {
            format!("the tool's listener received {hits} request(s) for it")
        },
    });
    grade
}

fn jku_graded(resp: &RecordedResponse) -> Grade {
    invalid_token_without_fetch(resp, JKU_TOPIC)
}

fn x5u_graded(resp: &RecordedResponse) -> Grade {
    invalid_token_without_fetch(resp, X5U_TOPIC)
}

/// rs-jku-spoof: `jku` = the listener serving `K_x` (kid matching, signed by `K_x`), and `jku`
/// = the trusted issuer's own JWKS URL with a `K_x` signature.
fn jku_probes(ctx: &Context, _now: i64) -> Option<Vec<Probe>> {
    let listener = Listener::shared()?;
    let attacker = ctx.attacker_key();
    listener.begin(JKU_TOPIC);
    let jwks = json!({ "keys": [attacker.public_jwk().to_public().to_json()] });
    let url = listener.publish_for(
        JKU_TOPIC,
        "jwks.json",
        "application/json",
        jwks.to_string().into_bytes(),
    );
    let mut cases = vec![(
        "jku = the tool's listener serving K_x, kid of K_x, signed by K_x",
        Attack::Jku,
    )];
    if let Some(trusted) = ctx.trusted_jwks_url() {
        cases.push((
            "jku = the trusted issuer's JWKS URL, signed by K_x",
            Attack::JkuAt(trusted),
        ));
    }
    listener_probes(ctx, &url, &cases, jku_graded)
}

/// rs-x5u-x5c-spoof: `x5c` = a self-signed certificate for `K_x`; `x5u` = the listener serving
/// that certificate as PEM. Both signed by `K_x` with its kid.
fn x5_probes(ctx: &Context, _now: i64) -> Option<Vec<Probe>> {
    let listener = Listener::shared()?;
    let attacker = ctx.attacker_key();
    listener.begin(X5U_TOPIC);
    let pem = cert::self_signed(attacker).map(|der| cert::to_pem(&der))?;
    let url = listener.publish_for(
        X5U_TOPIC,
        "cert.pem",
        "application/pem-certificate-chain",
        pem.into_bytes(),
    );
    let cases = [
        (
            "x5c = a self-signed certificate for K_x, signed by K_x",
            Attack::X5c,
        ),
        (
            "x5u = the tool's listener serving that certificate, signed by K_x",
            Attack::X5u,
        ),
    ];
    listener_probes(ctx, &url, &cases, x5u_graded)
}

/// MUST-refuse probes of attacks whose `jku`/`x5u` names the listener at `url`, each graded by
/// `grade` (which also watches the listener); attacks that do not fit the keys are left out.
fn listener_probes(
    ctx: &Context,
    url: &str,
    cases: &[(&'static str, Attack)],
    grade: Grader,
) -> Option<Vec<Probe>> {
    let attacks: Vec<Attack> = cases.iter().map(|(_, a)| a.clone()).collect();
    let tokens = forge_each(ctx, url, &attacks)?;
    Some(
        cases
            .iter()
            .zip(tokens)
            .filter_map(|((what, _), token)| Some(Probe::graded(*what, token?, Level::Must, grade)))
            .collect(),
    )
}

/// rs-broken-signature: the signature altered, and single claims edited under the original
/// signature (what an attacker holding one real token tries first).
fn broken_signature_probes(ctx: &Context, now: i64) -> Option<Vec<Probe>> {
    let mut probes = vec![forged_probe(ctx, Attack::SignatureBroken)?];
    let valid = IssuedToken::parse(&ctx.valid_token()?).ok()?;
    let scope = format!("{} admin", ctx.scope).trim().to_owned();
    let edits = [
        ClaimEdit::Audience(format!("{}/other", ctx.audience.trim_end_matches('/'))),
        ClaimEdit::Expiry(now + 365 * 86_400),
        ClaimEdit::Scope(scope),
        ClaimEdit::Subject("mcp-authspec-other-subject".into()),
        ClaimEdit::Issuer("https://attacker.invalid".into()),
    ];
    probes.extend(
        edits
            .iter()
            .map(|edit| Probe::refused(edit.description(), valid.edited(edit))),
    );
    Some(probes)
}

/// rs-alg-confusion-hmac-pubkey: `V` MACed under each of `hashes` with the issuer's public key
/// in each byte form; on the trusted issuer's RSA key too, since PKCS#1 PEM exists only for RSA.
fn public_key_hmacs(ctx: &Context, hashes: &[HmacHash]) -> Option<Vec<String>> {
    let attacks: Vec<Attack> = hashes
        .iter()
        .flat_map(|&hash| PublicKeyForm::ALL.map(|form| Attack::HmacWithPublicKey { form, hash }))
        .collect();
    let mut tokens = forged(ctx, &attacks)?;
    tokens.extend(forged_against(ctx, Algorithm::Rs256, &attacks).unwrap_or_default());
    Some(tokens)
}

/// rs-kid-alg-mismatch: the AS's own kids with an algorithm of another key type.
fn kid_alg_probes(ctx: &Context, _now: i64) -> Option<Vec<Probe>> {
    let rsa_kid = trusted_kid(ctx, Algorithm::Rs256)?;
    let es_kid = trusted_kid(ctx, Algorithm::Es256)?;
    let label = |kid: &str, alg: &str, how: &str| format!("kid {kid:?} with alg {alg}, {how}");
    let forged_one = |victim, attack| forged_against(ctx, victim, &[attack])?.pop();
    Some(
        [
            forged_one(Algorithm::Es256, Attack::KidWithHmac)
                .map(|t| Probe::refused(label(&es_kid, "HS256", "MACed with that key's PEM"), t)),
            forged_one(Algorithm::Rs256, Attack::KidWithHmac)
                .map(|t| Probe::refused(label(&rsa_kid, "HS256", "MACed with that key's PEM"), t)),
            forged_one(Algorithm::Es256, Attack::ForeignKid(rsa_kid.clone())).map(|t| {
                Probe::refused(label(&rsa_kid, "ES256", "signed by the AS's ES256 key"), t)
            }),
        ]
        .into_iter()
        .flatten()
        .collect(),
    )
}

/// rs-ecdsa-curve-alg-mismatch: the P-384 key under an ES256 label; ES384 over SHA-256; and
/// the mirror images on the P-256 key.
fn curve_alg_probes(ctx: &Context, _now: i64) -> Option<Vec<Probe>> {
    Some(
        [
            refused_against(ctx, Algorithm::Es384, Attack::CurveRelabeled),
            refused_against(ctx, Algorithm::Es384, Attack::EcdsaWrongHash),
            refused_against(ctx, Algorithm::Es256, Attack::CurveRelabeled),
            refused_against(ctx, Algorithm::Es256, Attack::EcdsaWrongHash),
        ]
        .into_iter()
        .flatten()
        .collect(),
    )
}

pub(super) const ROWS: &[Row] = &[
    row(
        "rs.token.alg-none",
        "rs-alg-none",
        "Refuses unsigned tokens in every spelling of none",
        &[rfc(
            "RFC 8725",
            "§3.1",
            "alg none is never accepted",
            RFC8725,
        )],
        &["CVE-2015-2951"],
        &["accept-alg-none"],
        |ctx| {
            let attacks: Vec<Attack> = ["none", "None", "NONE", "nOnE"]
                .into_iter()
                .map(|spelling| Attack::AlgNone {
                    spelling,
                    keep_signature: false,
                })
                .collect();
            forged(ctx, &attacks)
        },
    )
    .stimulus("an unsigned token (alg none in one of its spellings)")
    .derivable(),
    row(
        "rs.token.null-signature",
        "rs-null-signature",
        "Refuses a token whose signature was stripped",
        &[rfc(
            "RFC 7515",
            "§5.2",
            "the signature is validated",
            RFC7515,
        )],
        &["CVE-2020-28042"],
        &["accept-null-signature", "skip-signature"],
        |ctx| forged(ctx, &[Attack::SignatureStripped]),
    )
    .derivable(),
    probed(
        "rs.token.broken-signature",
        "rs-broken-signature",
        "Checks the signature",
        &[rfc("RFC 9068", "§4", "the signature is validated", RFC9068)],
        &[],
        &["skip-signature"],
        broken_signature_probes,
    )
    .summary(
        "V with its last signature characters changed, and V with one claim edited (aud, exp, \
         scope, sub, iss) under the original signature, are each refused with 401 \
         invalid_token: the signature covers every claim.",
    )
    .derivable(),
    row(
        "rs.token.hs256-public-key",
        "rs-alg-confusion-hmac-pubkey",
        "Refuses HS256 tokens MACed with the public key",
        &[rfc("RFC 8725", "§3.1", "one key, one algorithm", RFC8725)],
        &["CVE-2016-10555"],
        &["hs256-public-key", "hs256-kid-pem"],
        |ctx| public_key_hmacs(ctx, &[HmacHash::Sha256]),
    )
    .stimulus("an HS256 token MACed with the issuer's public key")
    .derivable(),
    row(
        "rs.token.hs384-hs512-public-key",
        "rs-alg-confusion-hmac-pubkey",
        "Refuses HS384 and HS512 tokens MACed with the public key",
        &[
            rfc("RFC 8725", "§3.1", "one key, one algorithm", RFC8725),
            rfc(
                "RFC 7518",
                "§3.2",
                "HS384 and HS512 are MACs with a shared secret, not a public key",
                RFC7518,
            ),
        ],
        &["CVE-2016-10555"],
        &["hs384-hs512-public-key"],
        |ctx| public_key_hmacs(ctx, &[HmacHash::Sha384, HmacHash::Sha512]),
    )
    .summary(
        "V relabelled HS384 and HS512 and MACed with the issuer's public key in each byte form \
         (SPKI PEM with and without its trailing newline, PKCS#1 PEM, DER, JWK JSON, raw) is \
         refused with 401 invalid_token. rs.token.hs256-public-key alone misses a verifier that \
         refuses HS256 by name but takes the longer HMAC algorithms with the public key.",
    )
    .stimulus("an HS384 or HS512 token MACed with the issuer's public key")
    .derivable(),
    row(
        "rs.token.blank-hmac-secret",
        "rs-blank-hmac-secret",
        "Refuses HS256 tokens MACed with an empty secret",
        &[rfc(
            "RFC 8725",
            "§3.5",
            "no guessable HMAC secrets; one key, one algorithm",
            RFC8725,
        )],
        &["CVE-2019-20933", "CVE-2020-28637"],
        &["accept-blank-hmac", "skip-signature"],
        |ctx| forged(ctx, &[Attack::HmacEmptySecret]),
    )
    .stimulus("an HS256 token MACed with an empty secret")
    .derivable(),
    row(
        "rs.token.weak-hmac-secret",
        "rs-weak-hmac-secret",
        "Refuses HS256 tokens MACed with a dictionary secret",
        &[rfc(
            "RFC 8725",
            "§3.5",
            "HMAC keys have enough entropy; human-memorable secrets are not keys",
            RFC8725,
        )],
        &["jwt_tool jwt-common.txt"],
        &["accept-weak-hmac"],
        |ctx| {
            forged(
                ctx,
                &mock_idp::forge::WEAK_SECRETS.map(Attack::HmacWeakSecret),
            )
        },
    )
    .summary(
        "HS256 tokens MACed with each of the first entries of a common-secret wordlist are \
         refused with 401 invalid_token. An RS that really shares an HS256 secret with its AS \
         is tested offline instead (spec rs-weak-hmac-secret note).",
    )
    .stimulus("an HS256 token MACed with a dictionary secret")
    .derivable(),
    row(
        "rs.token.embedded-jwk",
        "rs-embedded-jwk",
        "Never trusts a key embedded in the token header",
        &[rfc(
            "RFC 8725",
            "§3.10",
            "header-supplied keys are not trusted",
            RFC8725,
        )],
        &["CVE-2018-0114"],
        &["trust-embedded-jwk"],
        |ctx| {
            forged(
                ctx,
                &[
                    Attack::EmbeddedJwk {
                        keep_victim_kid: false,
                    },
                    Attack::EmbeddedJwk {
                        keep_victim_kid: true,
                    },
                ],
            )
        },
    )
    .stimulus("a token signed by a key embedded in its own header")
    .derivable(),
    probed(
        "rs.token.jku-spoof",
        "rs-jku-spoof",
        "Neither trusts nor fetches the jku header",
        &[
            rfc(
                "RFC 8725",
                "§3.10",
                "keys named by the token (jku) are not trusted; header URLs are not fetched",
                RFC8725,
            ),
            rfc(
                "RFC 7515",
                "§4.1.2",
                "jku is a URL for the key set; using it is the recipient's choice",
                RFC7515,
            ),
        ],
        &["jwt_tool -X s", "SSRF"],
        &["trust-jku"],
        jku_probes,
    )
    .summary(
        "A token whose jku names a key set the tool serves (holding K_x, kid matching, signed \
         by K_x) is refused with 401 invalid_token [MUST], and the tool's listener sees no \
         request [SHOULD, SSRF]; so is one whose jku names the AS's real JWKS but which K_x \
         signed.",
    )
    .derivable(),
    probed(
        "rs.token.x5u-x5c-spoof",
        "rs-x5u-x5c-spoof",
        "Neither trusts nor fetches x5u and x5c",
        &[
            rfc(
                "RFC 8725",
                "§3.10",
                "keys named or carried by the token (x5u, x5c) are not trusted",
                RFC8725,
            ),
            rfc(
                "RFC 7515",
                "§4.1.5, §4.1.6",
                "x5u and x5c identify a certificate (chain); it must be validated before use",
                RFC7515,
            ),
        ],
        &["SSRF", "header certificate trusted"],
        &["trust-x5c", "trust-x5u"],
        x5_probes,
    )
    .summary(
        "A token carrying a self-signed certificate for K_x in x5c, and one whose x5u names the \
         tool's listener serving it, both signed by K_x, are refused with 401 invalid_token \
         [MUST]; the listener sees no request [SHOULD, SSRF].",
    )
    .derivable(),
    row(
        "rs.token.kid-injection",
        "rs-kid-injection",
        "Never lets a hostile kid select a key",
        &[rfc(
            "RFC 8725",
            "§3.10",
            "kid is sanitised and never trusted to locate keys",
            RFC8725,
        )],
        &["kid injection"],
        &["hmac-kid-lookup", "skip-signature"],
        |ctx| {
            let attacks: Vec<Attack> = mock_idp::forge::KID_INJECTIONS
                .iter()
                .map(|&(kid, secret)| Attack::KidInjection { kid, secret })
                .collect();
            forged(ctx, &attacks)
        },
    )
    .stimulus("a token whose kid is a path, query or command")
    .derivable(),
    probed(
        "rs.token.kid-alg-mismatch",
        "rs-kid-alg-mismatch",
        "Refuses the AS's own kid with an algorithm of another key type",
        &[rfc(
            "RFC 8725",
            "§3.1",
            "each key is used with exactly one algorithm; kid and alg must agree",
            RFC8725,
        )],
        &["CVE-2016-10555", "one key, several algorithms"],
        &["hs256-kid-pem", "kid-alg-fallback"],
        kid_alg_probes,
    )
    .summary(
        "Tokens naming the AS's EC and RSA keys by kid but with alg HS256 (MACed with that \
         key's PEM), and one naming the RSA key but with alg ES256 (signed by the AS's ES256 \
         key), are refused with 401 invalid_token: the kid binds one key and its algorithm.",
    ),
    row(
        "rs.token.alg-family-switch",
        "rs-alg-family-switch",
        "Refuses an RSA key used under the other RSA algorithm",
        &[
            rfc(
                "RFC 8725",
                "§3.1",
                "each key is used with exactly one algorithm",
                RFC8725,
            ),
            rfc(
                "RFC 7517",
                "§4.4",
                "the JWK alg member names the algorithm the key is for",
                "https://www.rfc-editor.org/rfc/rfc7517",
            ),
        ],
        &["one key, several algorithms"],
        &["rsa-any-padding"],
        |ctx| {
            let mut tokens = forged_against(ctx, Algorithm::Rs256, &[Attack::RsaFamilySwitch])?;
            tokens.extend(forged_against(
                ctx,
                Algorithm::Ps256,
                &[Attack::RsaFamilySwitch],
            )?);
            Some(tokens)
        },
    )
    .level(Level::Should)
    .summary(
        "Preferred (spec rs-alg-family-switch, SHOULD): a token signed by the AS's RS256 key \
         under PS256, and by its PS256 key under RS256, is refused with 401 invalid_token, \
         because the JWK's alg pins each key to one algorithm (RFC 8725 §3.1). The signature \
         is genuine, so acceptance is a Warn, not a Fail.",
    )
    .stimulus("a token whose RSA key is used under the other RSA algorithm"),
    row(
        "rs.token.psychic-signature",
        "rs-psychic-signature",
        "Refuses ECDSA signatures with r = s = 0",
        &[rfc(
            "RFC 7518",
            "§3.4",
            "ECDSA signatures are validated",
            RFC7518,
        )],
        &["CVE-2022-21449"],
        &[
            "accept-psychic-signature",
            "ecdsa-no-range-check",
            "skip-signature",
        ],
        |ctx| {
            forged(
                ctx,
                &[
                    Attack::PsychicSignature { der: false },
                    Attack::PsychicSignature { der: true },
                ],
            )
        },
    )
    .stimulus("a token whose ECDSA signature is r = s = 0"),
    row(
        "rs.token.ecdsa-range",
        "rs-ecdsa-range",
        "Refuses ECDSA signatures with r or s out of range",
        &[rfc(
            "RFC 7518",
            "§3.4",
            "ECDSA signatures are validated (SEC1 §4.1.4: 1 <= r, s <= n-1)",
            RFC7518,
        )],
        &["CVE-2022-21449"],
        &["ecdsa-no-range-check", "skip-signature"],
        |ctx| {
            use ScalarDefect::*;
            let attacks = [RIsZero, SIsZero, RIsOrder, SIsOrder].map(Attack::ScalarOutOfRange);
            let mut tokens = forged_against(ctx, Algorithm::Es256, &attacks)?;
            tokens.extend(forged_against(ctx, Algorithm::Es384, &attacks)?);
            Some(tokens)
        },
    )
    .stimulus("a token whose ECDSA r or s is out of range"),
    row(
        "rs.token.ecdsa-length",
        "rs-ecdsa-length",
        "Refuses ECDSA signatures of the wrong size or encoding",
        &[rfc(
            "RFC 7518",
            "§3.4",
            "R and S are fixed-size octet strings",
            RFC7518,
        )],
        &["Keycloak R-24 pattern"],
        &["ecdsa-lenient-length", "skip-signature"],
        |ctx| {
            forged(
                ctx,
                &[
                    Attack::SignatureTrailingBytes,
                    Attack::SignatureTruncated,
                    Attack::DerSignature,
                    Attack::SignatureWrongCurveSize,
                ],
            )
        },
    )
    .stimulus("a token whose ECDSA signature has the wrong size or encoding"),
    probed(
        "rs.token.ecdsa-curve-alg-mismatch",
        "rs-ecdsa-curve-alg-mismatch",
        "Refuses ECDSA signatures whose curve or hash is not the one alg names",
        &[rfc(
            "RFC 7518",
            "§3.4",
            "ES256 is P-256 with SHA-256, ES384 is P-384 with SHA-384",
            RFC7518,
        )],
        &["alg does not bind curve and hash"],
        &["ecdsa-curve-from-key"],
        curve_alg_probes,
    )
    .summary(
        "An ES256 header naming the AS's P-384 key (signed by it), an ES384 token signed over \
         SHA-256, and their mirror images on the P-256 key are refused with 401 invalid_token: \
         alg fixes both the curve and the hash.",
    ),
    row(
        "rs.token.ecdsa-high-s",
        "rs-ecdsa-high-s",
        "Refuses the malleated (high-S) twin of a valid ECDSA signature",
        &[rfc(
            "RFC 7518",
            "§3.4",
            "ECDSA signature format; no low-S rule (both s and n - s verify)",
            RFC7518,
        )],
        &["ECDSA malleability"],
        &["accept-high-s"],
        |ctx| {
            let mut tokens = forged_against(ctx, Algorithm::Es256, &[Attack::HighS])?;
            tokens.extend(forged_against(ctx, Algorithm::Es384, &[Attack::HighS])?);
            Some(tokens)
        },
    )
    .level(Level::Info)
    .summary(
        "Recorded (spec rs-ecdsa-high-s, INFO: RFC 7518 has no low-S rule). Preferred: V with s \
         replaced by n - s is refused with 401 invalid_token. That is the safer answer: the \
         malleated copy is a different token string with the same claims, so replay caches, \
         revocation and deny lists keyed on the token bytes miss it (see \
         rs-dpop-replay-malleated). Acceptance is reported as Info.",
    )
    .stimulus("a token carrying the malleated (high-S) twin of its valid ECDSA signature"),
];

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    fn proper_refusal() -> RecordedResponse {
        RecordedResponse {
            status: 401,
            headers: vec![(
                "www-authenticate".into(),
                "Bearer error=\"invalid_token\", resource_metadata=\
                 \"https://rs.test/.well-known/oauth-protected-resource\""
                    .into(),
            )],
            body: Vec::new(),
            truncated: false,
            body_incomplete: None,
        }
    }

    fn fetch(url: &str) {
        let rest = url.strip_prefix("http://").unwrap();
        let (host, path) = rest.split_at(rest.find('/').unwrap());
        let mut s = std::net::TcpStream::connect(host).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nhost: {host}\r\n\r\n").unwrap();
        s.read_to_end(&mut Vec::new()).unwrap();
    }

    /// The SHOULD half of rs-jku-spoof: a target that fetches the header URL and then refuses
    /// properly gets a Warn on this MUST row, for the stimulus that caused the fetch only.
    #[test]
    fn a_fetch_before_a_proper_refusal_is_a_should_breach() {
        let listener = Listener::shared().unwrap();
        listener.begin(JKU_TOPIC);
        let url = listener.publish_for(JKU_TOPIC, "jwks.json", "application/json", b"{}".to_vec());
        assert_eq!(jku_graded(&proper_refusal()).verdict(), Verdict::Pass);
        fetch(&url);
        let grade = jku_graded(&proper_refusal());
        assert_eq!(grade.verdict(), Verdict::Warn);
        assert_eq!(
            Outcome::from_grade(Level::Must, &grade, Vec::new()).verdict,
            Verdict::Warn
        );
        assert_eq!(jku_graded(&proper_refusal()).verdict(), Verdict::Pass);
    }
}
