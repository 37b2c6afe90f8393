//! RFC 9449 §4.2: the members a proof may carry beyond the required ones (`exp`, `nbf`,
//! unknown parameters) and the shape of its `jti`.

use super::{Fixture, Row, Stimulus, at, meta, rfc9449};
use crate::expect;
use crate::model::Level;

/// RFC 9449 §11.1 lets servers refuse a needlessly large `jti`; the spec row sends 64 KB.
const OVERSIZED_JTI_BYTES: usize = 64 * 1024;

/// A stimulus: `Vd` with `P` edited.
fn edited(what: &str, fx: &Fixture, proof: mock_idp::dpop::ProofBuilder) -> Stimulus {
    Stimulus::new(what, fx.request(proof))
}

pub const ROWS: &[Row] = &[
    Row {
        meta: at(
            meta(
                "rs.dpop.exp-nbf-tolerated",
                "rs-dpop-exp-nbf",
                "Tolerates valid exp and nbf claims in a proof",
                "A proof that also carries nbf = now and exp = now + 300 s (the target's clock) \
                 is accepted: RFC 9449 §4.2 allows further claims.",
                &[rfc9449(
                    "§4.2; RFC 7519 §4.1.4–4.1.5",
                    "extra claims are allowed",
                )],
                &["dpop-strict-members"],
            ),
            Level::Should,
        ),
        stimuli: |ctx, fx| {
            let now = ctx.now();
            vec![edited(
                "nbf now, exp now+300",
                fx,
                fx.proof(ctx).claim("nbf", now).claim("exp", now + 300),
            )]
        },
        grade: expect::accepted,
    },
    Row {
        meta: meta(
            "rs.dpop.exp-expired",
            "rs-dpop-exp-nbf",
            "Refuses a proof whose exp has passed",
            "A proof that is otherwise fresh (iat now) but carries exp = now - 60 s is refused.",
            &[rfc9449(
                "§4.2; RFC 7519 §4.1.4",
                "a JWT must not be accepted on or after its exp",
            )],
            &["dpop-ignore-exp"],
        ),
        stimuli: |ctx, fx| {
            vec![edited(
                "exp now-60",
                fx,
                fx.proof(ctx).claim("exp", ctx.now() - 60),
            )]
        },
        grade: expect::dpop_invalid,
    },
    Row {
        meta: meta(
            "rs.dpop.extra-members",
            "rs-dpop-extra-members",
            "Ignores unknown proof header parameters and claims",
            "A proof that also carries the header parameter x-foo and the claim tx_id is \
             accepted.",
            &[rfc9449("§4.2", "a proof may carry other members")],
            &["dpop-strict-members"],
        ),
        stimuli: |ctx, fx| {
            vec![edited(
                "header x-foo, claim tx_id",
                fx,
                fx.proof(ctx)
                    .header("x-foo", "bar")
                    .claim("tx_id", "mcp-authspec-tx-1"),
            )]
        },
        grade: expect::accepted,
    },
    Row {
        meta: meta(
            "rs.dpop.jti-empty",
            "rs-dpop-jti-bad",
            "Refuses a proof with an empty jti",
            "A proof whose jti is the empty string is refused (a jti must identify the proof).",
            &[rfc9449("§4.2", "jti is a unique identifier")],
            &["dpop-jti-unchecked"],
        ),
        stimuli: |ctx, fx| vec![edited("jti \"\"", fx, fx.proof(ctx).empty_jti())],
        grade: expect::dpop_invalid,
    },
    Row {
        meta: at(
            meta(
                "rs.dpop.jti-oversized",
                "rs-dpop-jti-bad",
                "Refuses a proof with a 64 KB jti, without a crash",
                "A proof whose jti is 64 KB long is refused — with a DPoP challenge, or by the \
                 HTTP layer as too large (431, 413, any 400, or a status line and a closed \
                 connection, OQ-31) — and never answered with 5xx.",
                &[rfc9449("§11.1", "a needlessly large jti may be refused")],
                &["dpop-jti-unchecked"],
            ),
            Level::Should,
        ),
        stimuli: |ctx, fx| {
            vec![edited(
                "jti of 64 KB",
                fx,
                fx.proof(ctx).huge_jti(OVERSIZED_JTI_BYTES),
            )]
        },
        grade: expect::dpop_invalid_or_too_large,
    },
];
