//! The proof key: RFC 7638 thumbprints (§6.1), invalid EC points (RFC 7518 §6.2.1), key
//! selection that header URLs must not redirect (§4.3 check 6, RFC 8725 §3.10), and a proof
//! never passing as an access token (RFC 8725 §3.12).

use mock_idp::b64;
use mock_idp::dpop::proof::minimal_public_jwk;
use mock_idp::forge::weak_rsa::WeakRsaKey;
use serde_json::{Value, json};

use super::{DpopRequest, Fixture, ProofField, Row, Stimulus, meta, rfc9449};
use crate::catalog::token::without_fetch;
use crate::engine::context::Context;
use crate::engine::listener::Listener;
use crate::expect::{self, Grade};
use crate::http::RecordedResponse;

/// Listener topic of the proofs that name a key URL.
const KEY_URL_TOPIC: &str = "dpop-key-url";

/// RFC 7638 §3: SHA-256 over the required members in lexicographic order, no whitespace.
fn rfc7638_thumbprint(members: &[(&str, &str)]) -> String {
    let mut sorted = members.to_vec();
    sorted.sort_unstable();
    let body = sorted
        .iter()
        .map(|(k, v)| format!("{}:{}", json!(k), json!(v)))
        .collect::<Vec<_>>()
        .join(",");
    mock_idp::jwk::sha256_b64url(format!("{{{body}}}").as_bytes())
}

/// `Vd` bound to the thumbprint of `jwk` (an EC JWK, valid or not), with a proof by `K_c` that
/// embeds `jwk` instead of the signing key's own.
fn with_embedded_ec_jwk(ctx: &Context, fx: &Fixture, what: &str, jwk: Value) -> Option<Stimulus> {
    let member = |name: &str| jwk.get(name).and_then(Value::as_str).unwrap_or_default();
    let jkt = rfc7638_thumbprint(&[
        ("crv", member("crv")),
        ("kty", member("kty")),
        ("x", member("x")),
        ("y", member("y")),
    ]);
    let token = ctx.mint(&ctx.valid_spec()?.cnf_jkt(&jkt))?;
    let proof = ctx.proof(&token).header("jwk", jwk);
    Some(Stimulus::new(
        what,
        DpopRequest::dpop(&token, ProofField::built(proof, fx.key)),
    ))
}

/// The client key's public EC JWK with coordinate `name` replaced.
fn ec_jwk_with(fx: &Fixture, name: &str, value: Value) -> Value {
    let mut jwk = minimal_public_jwk(fx.key).to_json();
    jwk[name] = value;
    jwk
}

/// An EC coordinate, decoded.
fn coordinate(jwk: &Value, name: &str) -> Vec<u8> {
    jwk.get(name)
        .and_then(Value::as_str)
        .and_then(|v| b64::decode_strict(v).ok())
        .unwrap_or_default()
}

/// An RS256 proof by the 1024-bit fixture key, which no backend signs with, built by hand.
fn weak_rsa_stimulus(ctx: &Context) -> Option<Stimulus> {
    let weak = WeakRsaKey::fixture_1024();
    let jwk = weak.public_jwk();
    let member = |name: &str| jwk.get(name).and_then(Value::as_str).unwrap_or_default();
    let jkt = rfc7638_thumbprint(&[("e", member("e")), ("kty", "RSA"), ("n", member("n"))]);
    let token = ctx.mint(&ctx.valid_spec()?.cnf_jkt(&jkt))?;
    let mut proof = ctx.proof(&token).header("jwk", jwk).alg("RS256");
    if let Some(nonce) = ctx.dpop.nonce() {
        proof = proof.nonce(&nonce);
    }
    // `parts` takes a key only for defaults, and alg and jwk are both set.
    let (header, claims) = proof.parts(ctx.dpop.key());
    let input = format!(
        "{}.{}",
        b64::encode(header.to_bytes()),
        b64::encode(claims.to_bytes())
    );
    let signature = b64::encode(weak.sign_rs256(input.as_bytes()));
    Some(Stimulus::new(
        format!("RS256 proof by a {}-bit key", weak.bits()),
        DpopRequest::dpop(&token, ProofField::Raw(format!("{input}.{signature}"))),
    ))
}

fn accepted_without_fetch(resp: &RecordedResponse) -> Grade {
    without_fetch(expect::accepted(resp), KEY_URL_TOPIC)
}

fn refused_without_fetch(resp: &RecordedResponse) -> Grade {
    without_fetch(expect::dpop_invalid(resp), KEY_URL_TOPIC)
}

pub const ROWS: &[Row] = &[
    Row {
        meta: meta(
            "rs.dpop.thumbprint-members",
            "rs-dpop-thumbprint-members",
            "Computes the key thumbprint over the required JWK members only",
            "A proof whose jwk also carries kid, alg, use and key_ops is accepted for Vd bound \
             to the RFC 7638 thumbprint of the same key: optional members do not enter the \
             thumbprint.",
            &[rfc9449(
                "§6.1; RFC 7638 §3.2",
                "the thumbprint uses only the required members",
            )],
            &["dpop-thumbprint-all-members"],
        ),
        stimuli: |ctx, fx| {
            let mut jwk = minimal_public_jwk(fx.key).to_json();
            jwk["kid"] = json!("mcp-authspec-client-key");
            jwk["alg"] = json!(fx.key.alg().name());
            jwk["use"] = json!("sig");
            jwk["key_ops"] = json!(["verify"]);
            vec![Stimulus::new(
                "jwk with kid, alg, use, key_ops",
                fx.request(fx.proof(ctx).header("jwk", jwk)),
            )]
        },
        grade: expect::accepted,
    },
    Row {
        meta: meta(
            "rs.dpop.jwk-invalid-point",
            "rs-dpop-jwk-invalid-point",
            "Refuses an EC jwk that is not a valid point of its curve",
            "Proofs whose jwk has a y coordinate off the curve, an x of 31 bytes (one dropped), \
             or crv P-256 with P-384-sized coordinates are refused; each token is bound to that \
             jwk's thumbprint, so only the key check can refuse it.",
            &[rfc9449(
                "§4.3 check 6; RFC 7518 §6.2.1.2; RFC 8725 §3.4",
                "the embedded key is a valid public key",
            )],
            &["dpop-skip-signature"],
        ),
        stimuli: |ctx, fx| {
            if fx.key.alg() != mock_idp::alg::Algorithm::Es256 {
                return Vec::new();
            }
            let own = minimal_public_jwk(fx.key).to_json();
            let mut off_curve_y = coordinate(&own, "y");
            if let Some(last) = off_curve_y.last_mut() {
                *last ^= 0x01;
            }
            let short_x = coordinate(&own, "x").split_off(1);
            let p384 = [vec![0x5a; 48], vec![0xa5; 48]];
            [
                (
                    "y off the curve",
                    ec_jwk_with(fx, "y", json!(b64::encode(&off_curve_y))),
                ),
                (
                    "x of 31 bytes",
                    ec_jwk_with(fx, "x", json!(b64::encode(&short_x))),
                ),
                (
                    "crv P-256 with 48-byte coordinates",
                    json!({
                        "kty": "EC",
                        "crv": "P-256",
                        "x": b64::encode(&p384[0]),
                        "y": b64::encode(&p384[1]),
                    }),
                ),
            ]
            .into_iter()
            .filter_map(|(what, jwk)| with_embedded_ec_jwk(ctx, fx, what, jwk))
            .collect()
        },
        grade: expect::dpop_invalid,
    },
    Row {
        meta: meta(
            "rs.dpop.weak-rsa",
            "rs-dpop-weak-rsa",
            "Refuses an RSA proof key under 2048 bits",
            "An RS256 proof signed by a 1024-bit RSA key that it embeds, for a token bound to \
             that key, is refused. No stimulus when the target does not advertise RS256.",
            &[
                rfc9449("§11.6", "only secure algorithms and keys"),
                rfc9449(
                    "§4.3 check 6; RFC 7518 §3.3",
                    "RSA keys of 2048 bits or more",
                ),
            ],
            &["dpop-accept-weak-rsa"],
        ),
        stimuli: |ctx, _| {
            if !ctx.dpop_advertised_alg_names().iter().any(|a| a == "RS256") {
                return Vec::new();
            }
            weak_rsa_stimulus(ctx).into_iter().collect()
        },
        grade: expect::dpop_invalid,
    },
    Row {
        meta: meta(
            "rs.dpop.no-key-fetch",
            "rs-dpop-no-key-fetch",
            "Verifies proofs with the embedded jwk only, fetching nothing",
            "A valid proof that also names the tool's listener in jku and x5u (serving another \
             key K_x) and a kid is accepted; a proof signed by K_x with the client's jwk and \
             that jku is refused (MUST). The listener must see no request (SHOULD).",
            &[
                rfc9449(
                    "§4.3 check 6",
                    "the signature verifies with the embedded jwk",
                ),
                rfc9449("§4.3; RFC 8725 §3.10", "header-named URLs are not fetched"),
            ],
            &["dpop-trust-jku"],
        ),
        stimuli: |ctx, fx| {
            let Some(listener) = Listener::shared() else {
                return Vec::new();
            };
            let attacker = ctx.dpop.other_key();
            listener.begin(KEY_URL_TOPIC);
            let jwks = json!({ "keys": [minimal_public_jwk(attacker).to_json()] });
            let url = listener.publish_for(
                KEY_URL_TOPIC,
                "dpop-jwks.json",
                "application/json",
                jwks.to_string().into_bytes(),
            );
            let naming = |p: mock_idp::dpop::ProofBuilder| {
                p.header("jku", url.as_str())
                    .header("x5u", url.as_str())
                    .header("kid", "mcp-authspec-listener-key")
            };
            vec![
                Stimulus::new(
                    "valid proof naming the listener in jku, x5u and kid",
                    fx.request(naming(fx.proof(ctx))),
                )
                .graded(accepted_without_fetch),
                Stimulus::new(
                    "signed by K_x (served at jku), jwk of K_c",
                    fx.request(naming(fx.proof(ctx)).signed_by(attacker)),
                )
                .graded(refused_without_fetch),
            ]
        },
        grade: refused_without_fetch,
    },
    Row {
        meta: meta(
            "rs.dpop.proof-as-token",
            "rs-dpop-proof-as-token",
            "Never accepts a DPoP proof as the access token",
            "Authorization: DPoP P with DPoP: P (a valid proof presented as its own token), and \
             Authorization: Bearer P, are refused with 401.",
            &[rfc9449(
                "§4; RFC 8725 §3.12",
                "a proof is not an access token",
            )],
            &["dpop-proof-as-token"],
        ),
        stimuli: |ctx, fx| {
            let proof = fx.proof(ctx).sign(fx.key);
            vec![
                Stimulus::new(
                    "DPoP P with DPoP: P",
                    DpopRequest::dpop(&proof, ProofField::Raw(proof.clone())),
                ),
                Stimulus::new(
                    "Bearer P",
                    DpopRequest {
                        authorization: vec![format!("Bearer {proof}")],
                        proofs: Vec::new(),
                        query: None,
                        title_case_names: false,
                    },
                ),
            ]
        },
        grade: expect::token_or_dpop_refusal,
    },
];
