//! RFC 9449 §4.3 checks 1–11 on the proof, and the positive control rs.dpop.valid.

use mock_idp::alg::Algorithm;
use mock_idp::alg::EcCurve;
use mock_idp::b64;
use mock_idp::dpop::SignatureMode;
use mock_idp::ecdsa;
use mock_idp::keys::SigningKey;
use serde_json::json;

use super::{
    DpopRequest, Fixture, ProofField, Row, Stimulus, applicability, at, combined, meta, rfc9449,
    send, sep1932,
};
use crate::check::{CheckMeta, Outcome};
use crate::engine::calibrate::{judge, positive_control};
use crate::engine::context::{Context, jkt_of};
use crate::engine::runner::Check;
use crate::expect;
use crate::model::Level;

pub const VALID: CheckMeta = meta(
    "rs.dpop.valid",
    "rs-dpop-valid",
    "Accepts a DPoP-bound token with a valid proof",
    "Authorization: DPoP Vd with a fresh valid proof is accepted, for every proof algorithm the \
     target advertises (ES256, ES384, RS256, PS256, EdDSA as it names them) with a token minted \
     for that key, and for a token the embedded IdP's token endpoint issued to a client that \
     proved its key (as a real client obtains one). The positive control of every DPoP row.",
    &[
        rfc9449("§7.1", "a DPoP-bound token with a valid proof is accepted"),
        sep1932(
            "Access Token Presentation",
            "clients send DPoP tokens with a proof",
        ),
    ],
    &["dpop-ath-padded"],
);

/// The `iat` refusal rows (waived under server nonces, OQ-3).
pub(crate) const IAT_STALE: &str = "rs.dpop.iat-stale";
pub(crate) const IAT_FUTURE: &str = "rs.dpop.iat-future";

/// A stimulus: `Vd` with `P` edited.
fn edited(what: &str, fx: &Fixture, proof: mock_idp::dpop::ProofBuilder) -> Stimulus {
    Stimulus::new(what, fx.request(proof))
}

/// A stimulus with an exact proof text.
fn raw(what: &str, fx: &Fixture, proof: String) -> Stimulus {
    Stimulus::new(what, DpopRequest::dpop(&fx.token, ProofField::Raw(proof)))
}

/// Proofs by `K_c` of another algorithm, each with `Vd` bound to that key, the header `alg`
/// optionally replaced (the signature stays the key's own).
fn other_key_stimuli(ctx: &Context, cases: &[(&str, Algorithm, Option<&str>)]) -> Vec<Stimulus> {
    cases
        .iter()
        .filter_map(|&(what, alg, header_alg)| {
            let key = ctx.dpop.key_for(alg)?;
            let token = ctx.mint(&ctx.bound_spec(key)?)?;
            let mut proof = ctx.proof(&token);
            if let Some(a) = header_alg {
                proof = proof.alg(a);
            }
            Some(Stimulus::new(
                what,
                DpopRequest::dpop(&token, ProofField::built(proof, key)),
            ))
        })
        .collect()
}

fn valid_text(ctx: &Context, fx: &Fixture) -> String {
    fx.proof(ctx).sign(fx.key)
}

pub const ROWS: &[Row] = &[
    Row {
        meta: meta(
            "rs.dpop.missing-proof",
            "rs-dpop-missing-proof",
            "Refuses a DPoP-bound token without a proof",
            "Authorization: DPoP Vd with no DPoP header field is refused: 401 with a DPoP challenge.",
            &[
                rfc9449(
                    "§7.1",
                    "the resource server checks that a proof was received",
                ),
                sep1932("Access Token Presentation", "every failed step gets 401"),
            ],
            &["dpop-proof-optional"],
        ),
        stimuli: |_, fx| {
            vec![Stimulus::new(
                "no DPoP field",
                DpopRequest::dpop_fields(&fx.token, Vec::new()),
            )]
        },
        grade: expect::dpop_invalid,
    },
    Row {
        meta: meta(
            "rs.dpop.header-name-case",
            "rs-dpop-header-name-case",
            "Finds the proof whatever the case of the DPoP field name",
            "Vd with a valid proof in a field named Dpop (every field name title-cased on the \
             wire) is accepted; all other probes send the name as dpop. The all-capitals DPOP \
             of the spec row cannot be sent: the HTTP client writes names in lower or title \
             case only.",
            &[rfc9449(
                "§4.1; RFC 9110 §5.1",
                "field names are case-insensitive",
            )],
            &["dpop-header-name-case-sensitive"],
        ),
        stimuli: |ctx, fx| {
            let mut request = fx.request(fx.proof(ctx));
            request.title_case_names = true;
            vec![Stimulus::new("Dpop: P (title case)", request)]
        },
        grade: expect::accepted,
    },
    Row {
        meta: meta(
            "rs.dpop.multiple-proofs",
            "rs-dpop-multiple-proofs",
            "Refuses more than one DPoP proof",
            "Two DPoP fields (a valid proof, then another), and one field holding two proofs \
             separated by a comma, are refused: 400 or 401 (OQ-1), never accepted.",
            &[rfc9449("§4.3 check 1", "exactly one DPoP header field")],
            &["dpop-first-proof-wins"],
        ),
        stimuli: |ctx, fx| {
            let first = valid_text(ctx, fx);
            let second = valid_text(ctx, fx);
            vec![
                Stimulus::new(
                    "two DPoP fields",
                    DpopRequest::dpop_fields(
                        &fx.token,
                        vec![
                            ProofField::Raw(first.clone()),
                            ProofField::Raw(second.clone()),
                        ],
                    ),
                ),
                raw("one field with P1, P2", fx, format!("{first}, {second}")),
            ]
        },
        grade: expect::dpop_invalid_or_malformed,
    },
    Row {
        meta: meta(
            "rs.dpop.not-jwt",
            "rs-dpop-not-jwt",
            "Refuses a proof that is not a well-formed JWT",
            "`abc`, the first two segments of a valid proof, five segments, and a proof whose \
             payload is not JSON are refused with 401 and a DPoP challenge.",
            &[rfc9449(
                "§4.3 check 2",
                "the proof is a single well-formed JWT",
            )],
            &["dpop-proof-optional"],
        ),
        stimuli: |ctx, fx| {
            let valid = valid_text(ctx, fx);
            let two: Vec<&str> = valid.split('.').take(2).collect();
            let header = valid.split('.').next().unwrap_or_default();
            vec![
                raw("abc", fx, "abc".into()),
                raw("two segments", fx, two.join(".")),
                raw("five segments", fx, format!("{valid}.e30.e30")),
                raw(
                    "payload not JSON",
                    fx,
                    format!(
                        "{header}.{}.{}",
                        b64::encode("not json"),
                        b64::encode("sig")
                    ),
                ),
            ]
        },
        grade: expect::dpop_invalid,
    },
    Row {
        meta: meta(
            "rs.dpop.missing-claims",
            "rs-dpop-missing-claims",
            "Refuses a proof missing a required member",
            "A proof without jti, htm, htu or iat, or whose header lacks typ, alg (renamed to \
             alg2) or jwk, is refused: one stimulus each.",
            &[rfc9449(
                "§4.2, §4.3 check 3",
                "all required claims and header parameters are present",
            )],
            &["dpop-ignore-htm"],
        ),
        stimuli: |ctx, fx| {
            let mut s: Vec<Stimulus> = ["jti", "htm", "htu", "iat"]
                .into_iter()
                .map(|c| edited(&format!("no {c}"), fx, fx.proof(ctx).remove_claim(c)))
                .collect();
            s.push(edited("no typ", fx, fx.proof(ctx).remove_header("typ")));
            s.push(edited(
                "alg renamed alg2",
                fx,
                fx.proof(ctx).remove_header("alg").header("alg2", "ES256"),
            ));
            s.push(edited("no jwk", fx, fx.proof(ctx).no_jwk()));
            s
        },
        grade: expect::dpop_invalid,
    },
    Row {
        meta: meta(
            "rs.dpop.typ",
            "rs-dpop-typ",
            "Refuses a proof whose typ is not dpop+jwt",
            "typ JWT, at+jwt and dpop+jwt+wrongyousee are each refused.",
            &[rfc9449("§4.3 check 4", "typ is dpop+jwt")],
            &["dpop-lax-typ"],
        ),
        stimuli: |ctx, fx| {
            ["JWT", "at+jwt", "dpop+jwt+wrongyousee"]
                .into_iter()
                .map(|t| edited(&format!("typ {t}"), fx, fx.proof(ctx).typ(t)))
                .collect()
        },
        grade: expect::dpop_invalid,
    },
    Row {
        meta: meta(
            "rs.dpop.alg-none",
            "rs-dpop-alg-none",
            "Refuses an unsigned proof",
            "A proof with alg none and an empty signature is refused.",
            &[rfc9449("§4.3 check 5, §11.6", "alg is not none")],
            &["dpop-skip-signature"],
        ),
        stimuli: |ctx, fx| {
            vec![edited(
                "alg none, empty signature",
                fx,
                fx.proof(ctx).alg("none").signature(SignatureMode::Empty),
            )]
        },
        grade: expect::dpop_invalid,
    },
    Row {
        meta: meta(
            "rs.dpop.alg-symmetric",
            "rs-dpop-alg-symmetric",
            "Refuses a proof signed with a symmetric algorithm",
            "A proof with alg HS256 MACed with a secret, once with the client's public jwk and \
             once with an oct jwk holding the secret, is refused.",
            &[
                rfc9449("§4.2, §11.6", "no MAC algorithms for proofs"),
                sep1932("Algorithm Security", "asymmetric algorithms only"),
            ],
            &["dpop-skip-signature"],
        ),
        stimuli: |ctx, fx| {
            let secret = b"mcp-authspec-dpop-hmac-secret".to_vec();
            let mac = || SignatureMode::ByKey(SigningKey::hmac(&secret));
            vec![
                edited(
                    "HS256 with the client jwk",
                    fx,
                    fx.proof(ctx).sign_as(Algorithm::Hs256).signature(mac()),
                ),
                edited(
                    "HS256 with an oct jwk",
                    fx,
                    fx.proof(ctx)
                        .sign_as(Algorithm::Hs256)
                        .header("jwk", json!({"kty": "oct", "k": b64::encode(&secret)}))
                        .signature(mac()),
                ),
            ]
        },
        grade: expect::dpop_invalid,
    },
    Row {
        meta: meta(
            "rs.dpop.alg-unsupported",
            "rs-dpop-alg-unsupported",
            "Refuses a proof algorithm the target does not advertise",
            "A valid ES512 proof (its token bound to that key) is refused when the target does \
             not list ES512; no stimulus when it does.",
            &[rfc9449(
                "§4.3 check 5",
                "alg is supported and acceptable per local policy",
            )],
            &["dpop-algs-unenforced"],
        ),
        stimuli: |ctx, _| {
            if ctx.dpop_advertised_alg_names().iter().any(|a| a == "ES512") {
                return Vec::new();
            }
            other_key_stimuli(ctx, &[("ES512 proof", Algorithm::Es512, None)])
        },
        grade: expect::dpop_invalid,
    },
    Row {
        meta: meta(
            "rs.dpop.alg-key-mismatch",
            "rs-dpop-alg-key-mismatch",
            "Refuses a proof whose alg does not fit its jwk",
            "alg ES256 on a proof signed by a P-384 key (ES384) and on one signed by an RSA key \
             (RS256), each token bound to the proof's key, are refused.",
            &[rfc9449(
                "§4.3 checks 5–6; RFC 7518 §3.4",
                "alg fits the embedded key",
            )],
            &["dpop-skip-signature"],
        ),
        stimuli: |ctx, _| {
            other_key_stimuli(
                ctx,
                &[
                    ("alg ES256, P-384 jwk", Algorithm::Es384, Some("ES256")),
                    ("alg ES256, RSA jwk", Algorithm::Rs256, Some("ES256")),
                ],
            )
        },
        grade: expect::dpop_invalid,
    },
    Row {
        meta: meta(
            "rs.dpop.psychic",
            "rs-dpop-psychic",
            "Refuses malformed ECDSA proof signatures",
            "An ES256 proof whose signature is 64 zero bytes (r = s = 0, CVE-2022-21449), one \
             whose r is the curve order n (s = 1), a valid signature DER-encoded instead of R‖S, \
             and one with a byte appended to a valid signature, are refused.",
            &[rfc9449(
                "§4.3 check 6; RFC 7518 §3.4",
                "the signature verifies",
            )],
            &["dpop-skip-signature"],
        ),
        stimuli: |ctx, fx| {
            let valid = fx.proof(ctx).sign(fx.key);
            let sig = valid.rsplit('.').next().unwrap_or_default();
            let raw = b64::decode_strict(sig).unwrap_or_default();
            let mut longer = raw.clone();
            longer.push(0);
            let mut r_is_n = ecdsa::curve_order(EcCurve::P256);
            r_is_n.extend(std::iter::repeat_n(0, 31));
            r_is_n.push(1);
            vec![
                edited(
                    "r = s = 0",
                    fx,
                    fx.proof(ctx).signature(SignatureMode::Raw(vec![0; 64])),
                ),
                edited(
                    "r = n, s = 1",
                    fx,
                    fx.proof(ctx).signature(SignatureMode::Raw(r_is_n)),
                ),
                edited(
                    "DER-encoded signature",
                    fx,
                    fx.proof(ctx)
                        .signature(SignatureMode::Raw(ecdsa::raw_to_der(&raw))),
                ),
                edited(
                    "one trailing byte",
                    fx,
                    fx.proof(ctx).signature(SignatureMode::Raw(longer)),
                ),
            ]
        },
        grade: expect::dpop_invalid,
    },
    Row {
        meta: meta(
            "rs.dpop.bad-signature",
            "rs-dpop-bad-signature",
            "Refuses a proof whose signature does not verify",
            "A proof with one signature bit flipped, and one signed by another key than its jwk, \
             are refused.",
            &[rfc9449(
                "§4.3 check 6",
                "the signature verifies with the embedded jwk",
            )],
            &["dpop-skip-signature"],
        ),
        stimuli: |ctx, fx| {
            vec![
                edited("corrupted signature", fx, fx.proof(ctx).corrupt_signature()),
                edited(
                    "signed by K_c2, jwk of K_c",
                    fx,
                    fx.proof(ctx).signed_by(ctx.dpop.other_key()),
                ),
            ]
        },
        grade: expect::dpop_invalid,
    },
    Row {
        meta: meta(
            "rs.dpop.private-jwk",
            "rs-dpop-private-jwk",
            "Refuses a proof whose jwk carries the private key",
            "A proof validly signed by the key whose private JWK (with d) it embeds is refused. \
             The key is a throwaway made for this stimulus (its token bound to it), since \
             reports show the proof's decoded header.",
            &[rfc9449(
                "§4.2, §4.3 check 7",
                "the jwk holds no private key",
            )],
            &["dpop-accept-private-jwk"],
        ),
        stimuli: |ctx, _| {
            // Never K_c: this proof publishes its key's private half.
            let Ok(throwaway) = SigningKey::generate(Algorithm::Es256) else {
                return Vec::new();
            };
            let Some(token) = ctx.bound_spec(&throwaway).and_then(|s| ctx.mint(&s)) else {
                return Vec::new();
            };
            let mut proof = ctx.proof(&token).private_jwk();
            if let Some(n) = ctx.dpop.nonce() {
                proof = proof.nonce(&n);
            }
            vec![Stimulus::new(
                "jwk with d (a throwaway key)",
                DpopRequest::dpop(&token, ProofField::Raw(proof.sign(&throwaway))),
            )]
        },
        grade: expect::dpop_invalid,
    },
    Row {
        meta: meta(
            "rs.dpop.htm-mismatch",
            "rs-dpop-htm",
            "Refuses a proof for another HTTP method",
            "On a POST, proofs with htm PUT, GET and post (methods are case-sensitive) are refused.",
            &[rfc9449("§4.3 check 8", "htm matches the request method")],
            &["dpop-ignore-htm"],
        ),
        stimuli: |ctx, fx| {
            ["PUT", "GET", "post"]
                .into_iter()
                .map(|m| edited(&format!("htm {m}"), fx, fx.proof(ctx).htm(m)))
                .collect()
        },
        grade: expect::dpop_invalid,
    },
    Row {
        meta: meta(
            IAT_STALE,
            "rs-dpop-iat-stale",
            "Refuses a proof created too long ago",
            "Proofs dated 1 hour and 6 minutes before the target's clock are refused (SEP-1932: \
             a ±5 min window; OQ-3).",
            &[
                rfc9449("§4.3 check 11, §11.1", "the proof's age is bounded"),
                sep1932("Proof Validation", "iat within ±5 minutes"),
            ],
            &["dpop-ignore-iat"],
        ),
        stimuli: |ctx, fx| {
            [("iat now-3600", -3600), ("iat now-360", -360)]
                .into_iter()
                .map(|(what, off)| edited(what, fx, fx.proof(ctx).iat_offset(off)))
                .collect()
        },
        grade: expect::dpop_invalid,
    },
    Row {
        meta: meta(
            IAT_FUTURE,
            "rs-dpop-iat-future",
            "Refuses a proof dated too far ahead",
            "Proofs dated 1 hour and 6 minutes after the target's clock are refused (OQ-3).",
            &[
                rfc9449("§4.3 check 11, §11.1", "only a small future allowance"),
                sep1932("Proof Validation", "iat within ±5 minutes"),
            ],
            &["dpop-ignore-iat"],
        ),
        stimuli: |ctx, fx| {
            [("iat now+3600", 3600), ("iat now+360", 360)]
                .into_iter()
                .map(|(what, off)| edited(what, fx, fx.proof(ctx).iat_offset(off)))
                .collect()
        },
        grade: expect::dpop_invalid,
    },
    Row {
        meta: meta(
            "rs.dpop.iat-type",
            "rs-dpop-iat-type",
            "Refuses a proof whose iat is not a NumericDate",
            "iat as a numeric string of the current time, and iat null, are refused.",
            &[rfc9449("§4.2; RFC 7519 §2", "iat is a NumericDate")],
            &["dpop-ignore-iat"],
        ),
        stimuli: |ctx, fx| {
            let now = ctx.now();
            vec![
                edited(
                    "iat string",
                    fx,
                    fx.proof(ctx).claim("iat", now.to_string()),
                ),
                edited("iat null", fx, fx.proof(ctx).claim("iat", json!(null))),
            ]
        },
        grade: expect::dpop_invalid,
    },
    Row {
        meta: at(
            meta(
                "rs.dpop.iat-skew-ok",
                "rs-dpop-iat-skew-ok",
                "Accepts proofs with a few seconds of clock skew",
                "Proofs dated 10 s before and 10 s after the target's clock are accepted (OQ-3).",
                &[rfc9449("§11.1", "a slightly future iat may be accepted")],
                &["dpop-iat-no-future"],
            ),
            Level::Should,
        ),
        stimuli: |ctx, fx| {
            [("iat now-10", -10), ("iat now+10", 10)]
                .into_iter()
                .map(|(what, off)| edited(what, fx, fx.proof(ctx).iat_offset(off)))
                .collect()
        },
        grade: expect::accepted,
    },
];

/// rs.dpop.valid: every advertised algorithm, and a token from the IdP's token endpoint.
async fn valid(ctx: &Context) -> Outcome {
    if let Some(o) = applicability(ctx).await {
        return o;
    }
    if let Err(o) = crate::engine::calibrate::negative_control(ctx).await {
        return o;
    }
    if let Err(o) = positive_control(ctx).await {
        return o;
    }
    let mut results = Vec::new();
    for alg in ctx.dpop_algs() {
        let Some(key) = ctx.dpop.key_for(alg) else {
            continue;
        };
        let Some(token) = ctx.bound_spec(key).and_then(|s| ctx.mint(&s)) else {
            continue;
        };
        let fx = Fixture { token, key };
        let exchange = send(ctx, &fx.request(fx.proof(ctx))).await;
        results.push((
            format!("{alg} proof, minted Vd"),
            judge(Level::Must, exchange, expect::accepted),
        ));
    }
    let key = ctx.dpop.key();
    match ctx.dpop_token_from_idp(key).await {
        Ok(token) => {
            let fx = Fixture { token, key };
            let exchange = send(ctx, &fx.request(fx.proof(ctx))).await;
            results.push((
                "ES256 proof, token from the IdP token endpoint".to_owned(),
                judge(Level::Must, exchange, expect::accepted),
            ));
        }
        Err(e) => {
            return Outcome::error(
                format!("the embedded IdP issued no DPoP-bound token: {e}"),
                Vec::new(),
            );
        }
    }
    let mut outcome = combined(results);
    let bound = jkt_of(key);
    outcome.message = format!("{} (client key thumbprint {bound})", outcome.message);
    outcome
}

/// rs.dpop.valid, then the table rows of this file.
pub fn checks() -> Vec<Check<Context>> {
    vec![Check::new(VALID, |ctx| Box::pin(valid(ctx)))]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_ids_are_unique_and_every_row_has_a_fault() {
        let mut ids: Vec<&str> = ROWS.iter().map(|r| r.meta.id).collect();
        ids.push(VALID.id);
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n);
        assert!(ROWS.iter().all(|r| !r.meta.broken_by.is_empty()));
    }
}
