//! RFC 9449 §4.3 check 12 and §7: `ath`, the key binding (`cnf.jkt`), and the scheme a
//! DPoP-bound token is presented with.

use mock_idp::b64;

use super::{
    DpopRequest, ProofField, Row, Stimulus, applicability, at, calibrate, dpop_control, fixture,
    meta, rfc9449, send, sep1932,
};
use crate::catalog::mcp;
use crate::catalog::request_auth::several;
use crate::check::{CheckMeta, Outcome};
use crate::engine::calibrate::judge;
use crate::engine::context::{Context, jkt_of};
use crate::engine::runner::Check;
use crate::expect;
use crate::model::Level;

/// base64url(SHA-256(token)) in another encoding.
fn reencoded(token: &str, hex: bool) -> String {
    let hash = b64::decode_strict(&mock_idp::jwk::access_token_hash(token)).unwrap_or_default();
    if hex {
        return hash.iter().map(|b| format!("{b:02x}")).collect();
    }
    // Standard alphabet with padding: the classic interop mistake.
    let url = b64::encode(&hash);
    let mut std: String = url
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    while !std.len().is_multiple_of(4) {
        std.push('=');
    }
    std
}

pub const ROWS: &[Row] = &[
    Row {
        meta: meta(
            "rs.dpop.scheme-case",
            "rs-dpop-scheme-case",
            "Takes the DPoP scheme name in any case",
            "Authorization: dpop Vd and DPOP Vd with a valid proof are accepted.",
            &[rfc9449(
                "§7.1; RFC 9110 §11.1",
                "auth-scheme names are case-insensitive",
            )],
            &["dpop-scheme-case-sensitive"],
        ),
        stimuli: |ctx, fx| {
            ["dpop", "DPOP"]
                .into_iter()
                .map(|scheme| {
                    Stimulus::new(
                        format!("{scheme} Vd"),
                        DpopRequest {
                            authorization: vec![format!("{scheme} {}", fx.token)],
                            proofs: vec![ProofField::built(fx.proof(ctx), fx.key)],
                            query: None,
                            title_case_names: false,
                        },
                    )
                })
                .collect()
        },
        grade: expect::accepted,
    },
    Row {
        meta: meta(
            "rs.dpop.ath-missing",
            "rs-dpop-ath-missing",
            "Refuses a proof without ath",
            "A proof sent with an access token but without ath is refused.",
            &[rfc9449(
                "§4.2, §7",
                "ath is required when a token is presented",
            )],
            &["dpop-ignore-ath"],
        ),
        stimuli: |ctx, fx| vec![Stimulus::new("no ath", fx.request(fx.proof(ctx).no_ath()))],
        grade: expect::dpop_invalid,
    },
    Row {
        meta: meta(
            "rs.dpop.ath-wrong",
            "rs-dpop-ath-wrong",
            "Refuses a proof whose ath is not the token's hash",
            "ath as the hash of another token, the hash in standard base64 with padding, in hex, \
             and the hash of \"DPoP \" + Vd are each refused.",
            &[rfc9449(
                "§4.3 check 12",
                "ath is base64url(SHA-256(the presented token))",
            )],
            &["dpop-ignore-ath"],
        ),
        stimuli: |ctx, fx| {
            let wrong = [
                (
                    "hash of another token",
                    mock_idp::jwk::access_token_hash("another-token"),
                ),
                ("standard base64 with padding", reencoded(&fx.token, false)),
                ("hex", reencoded(&fx.token, true)),
                (
                    "hash of \"DPoP \" + Vd",
                    mock_idp::jwk::access_token_hash(&format!("DPoP {}", fx.token)),
                ),
            ];
            wrong
                .into_iter()
                .map(|(what, ath)| Stimulus::new(what, fx.request(fx.proof(ctx).ath(&ath))))
                .collect()
        },
        grade: expect::dpop_invalid,
    },
    Row {
        meta: meta(
            "rs.dpop.key-mismatch",
            "rs-dpop-key-mismatch",
            "Refuses a proof by another key than the token is bound to",
            "Vd is bound to K_c; a proof signed by K_c2 (valid in every other respect) is refused: \
             401 with a DPoP challenge, invalid_token or invalid_dpop_proof (OQ-12).",
            &[rfc9449(
                "§4.3 check 12, §6, §7.1",
                "the proof key is the token's cnf.jkt",
            )],
            &["dpop-ignore-jkt"],
        ),
        stimuli: |ctx, fx| {
            let other = ctx.dpop.other_key();
            vec![Stimulus::new(
                "proof by K_c2",
                DpopRequest::dpop(&fx.token, ProofField::built(fx.proof(ctx), other)),
            )]
        },
        grade: expect::dpop_binding,
    },
    Row {
        meta: meta(
            "rs.dpop.downgrade-bearer",
            "rs-dpop-downgrade-bearer",
            "Refuses a DPoP-bound token presented as a Bearer token",
            "Authorization: Bearer Vd without a proof is refused with 401.",
            &[rfc9449(
                "§7.2",
                "a DPoP-bound token is not accepted as a Bearer token",
            )],
            &["dpop-accept-bearer-downgrade"],
        ),
        stimuli: |_, fx| {
            vec![Stimulus::new(
                "Bearer Vd, no proof",
                DpopRequest {
                    authorization: vec![format!("Bearer {}", fx.token)],
                    proofs: Vec::new(),
                    query: None,
                    title_case_names: false,
                },
            )]
        },
        grade: expect::invalid_token,
    },
    Row {
        meta: meta(
            "rs.dpop.downgrade-bearer-with-proof",
            "rs-dpop-downgrade-bearer-with-proof",
            "Refuses a DPoP-bound token under the Bearer scheme even with a proof",
            "Authorization: Bearer Vd with a valid proof attached is refused with 401.",
            &[rfc9449(
                "§7.2",
                "the DPoP scheme is required for DPoP-bound tokens",
            )],
            &["dpop-accept-bearer-downgrade"],
        ),
        stimuli: |ctx, fx| {
            vec![Stimulus::new(
                "Bearer Vd with P",
                DpopRequest {
                    authorization: vec![format!("Bearer {}", fx.token)],
                    proofs: vec![ProofField::built(fx.proof(ctx), fx.key)],
                    query: None,
                    title_case_names: false,
                },
            )]
        },
        grade: expect::token_or_dpop_refusal,
    },
    Row {
        meta: at(
            meta(
                "rs.dpop.unbound-token",
                "rs-dpop-unbound-token",
                "Refuses an unbound token under the DPoP scheme (recorded)",
                "Authorization: DPoP V (no cnf) with a proof whose ath is V's hash: refusal with a \
                 DPoP challenge is preferred; acceptance is reported as Info (OQ-13).",
                &[rfc9449(
                    "§7.1",
                    "the proof key must match the token's bound key",
                )],
                &["dpop-accept-unbound"],
            ),
            Level::Info,
        ),
        stimuli: |ctx, fx| {
            let Some(unbound) = ctx.valid_token() else {
                return Vec::new();
            };
            vec![Stimulus::new(
                "DPoP V with P",
                DpopRequest::dpop(&unbound, ProofField::built(ctx.proof(&unbound), fx.key)),
            )]
        },
        grade: expect::dpop_binding,
    },
    Row {
        meta: meta(
            "rs.dpop.audience-still-checked",
            "rs-dpop-audience-still-checked",
            "Checks the audience of DPoP-bound tokens too",
            "Vd for another audience, with a valid proof for its key, is refused with 401.",
            &[
                sep1932(
                    "Integration with MCP Security Model",
                    "audience validation stays",
                ),
                mcp(
                    "Token Handling",
                    "servers accept only tokens issued for them",
                ),
            ],
            &["ignore-aud"],
        ),
        stimuli: |ctx, fx| {
            let Some(spec) = ctx.valid_spec() else {
                return Vec::new();
            };
            let spec = spec
                .aud("https://other-resource.invalid/mcp")
                .cnf_jkt(&jkt_of(fx.key));
            let Some(token) = ctx.mint(&spec) else {
                return Vec::new();
            };
            vec![Stimulus::new(
                "Vd[aud→other] with P",
                DpopRequest::dpop(&token, ProofField::built(ctx.proof(&token), fx.key)),
            )]
        },
        grade: expect::token_or_dpop_refusal,
    },
];

pub const BOTH_SCHEMES: CheckMeta = at(
    meta(
        "rs.dpop.both-schemes",
        "rs-dpop-both-schemes",
        "Refuses Bearer and DPoP credentials together",
        "Authorization: Bearer Vd and Authorization: DPoP Vd as two fields with a valid proof, in \
         both orders (a server that reads only the first field and one that reads only the last \
         must both meet the DPoP credential), are refused as ambiguous: 400 invalid_request \
         preferred, 401 tolerated (OQ-1), never accepted.",
        &[rfc9449(
            "§7.2, Figure 19",
            "two schemes in one request are refused",
        )],
        &["first-authorization-wins", "last-authorization-wins"],
    ),
    Level::Should,
);

async fn both_schemes(ctx: &Context) -> Outcome {
    if let Some(o) = applicability(ctx).await {
        return o;
    }
    let Some(fx) = fixture(ctx) else {
        return Outcome::undeclared_need();
    };
    if let Err(o) = calibrate(ctx, &fx).await {
        return o;
    }
    let bearer = format!("Bearer {}", fx.token);
    let dpop = format!("DPoP {}", fx.token);
    // The row's order (Bearer first), then the other: whichever field a server reads alone,
    // one of the two requests hands it DPoP Vd with its proof.
    let orders = [
        (
            "the DPoP-bound token as Bearer, then as DPoP, in two Authorization fields with a valid proof",
            vec![bearer.clone(), dpop.clone()],
        ),
        (
            "the DPoP-bound token as DPoP, then as Bearer, in two Authorization fields with a valid proof",
            vec![dpop, bearer],
        ),
    ];
    let mut results = Vec::new();
    for (what, authorization) in orders {
        let request = DpopRequest {
            authorization,
            proofs: vec![ProofField::built(fx.proof(ctx), fx.key)],
            query: None,
            title_case_names: false,
        };
        let exchange = send(ctx, &request).await;
        let outcome = judge(Level::Should, exchange.clone(), expect::malformed_request);
        results.push((what.to_owned(), exchange, outcome));
    }
    if let Err(o) = dpop_control(ctx, &fx, "after the stimuli").await {
        return o;
    }
    several(
        results,
        "Bearer and DPoP credentials together were refused as malformed in both orders",
    )
}

pub(crate) fn checks() -> Vec<Check<Context>> {
    vec![Check::new(BOTH_SCHEMES, |ctx| Box::pin(both_schemes(ctx)))]
}
