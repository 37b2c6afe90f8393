//! Server nonces (RFC 9449 §8, §9). They apply when the target demands one: a fresh valid
//! proof without a nonce is answered with `use_dpop_nonce`. A target that accepts it never
//! demands nonces, and these checks are Skip with that reason.

use super::{
    DpopRequest, Fixture, ProofField, applicability, demanded_nonce, fixture, meta, observe,
    rfc9449,
};
use crate::check::{CheckMeta, Outcome};
use crate::engine::calibrate::{judge, negative_control};
use crate::engine::context::Context;
use crate::engine::runner::Check;
use crate::expect::{self, Part};
use crate::http::Exchange;
use crate::model::Verdict;

pub const FLOW: CheckMeta = meta(
    "rs.dpop.nonce-flow",
    "rs-dpop-nonce-flow",
    "Demands a nonce properly and accepts the retry",
    "A valid proof without a nonce gets 401 with a DPoP challenge error=\"use_dpop_nonce\", \
     exactly one DPoP-Nonce header of NQCHAR (MUST) and Cache-Control: no-store (SHOULD); the \
     retry with that nonce is accepted. Skip when the target never demands a nonce.",
    &[
        rfc9449(
            "§9",
            "the resource server supplies a nonce with use_dpop_nonce",
        ),
        rfc9449(
            "§8, §8.1, §8.2",
            "one DPoP-Nonce header, NQCHAR, not cached",
        ),
    ],
    &["dpop-nonce-no-header"],
);

pub const WRONG: CheckMeta = meta(
    "rs.dpop.nonce-wrong",
    "rs-dpop-nonce-wrong",
    "Refuses a wrong nonce",
    "After a nonce was issued, a proof carrying the nonce \"bogus\" is refused with 401 and \
     use_dpop_nonce. Skip when the target never demands a nonce.",
    &[rfc9449(
        "§8, §9",
        "a nonce that is not the expected one is refused",
    )],
    &["dpop-nonce-any-value"],
);

/// The ids of the checks that apply only to targets demanding nonces.
pub const IDS: &[&str] = &[FLOW.id, WRONG.id];

/// A valid proof without a nonce: the first exchange of every nonce check.
async fn without_nonce(ctx: &Context, fx: &Fixture) -> Exchange {
    let proof = fx.proof(ctx).sign(fx.key);
    ctx.initialize(&DpopRequest::dpop(&fx.token, ProofField::Raw(proof)).credential_for_raw())
        .await
}

/// The first exchange, or why the check does not apply (Skip) or cannot be judged.
async fn demanded(ctx: &Context) -> Result<(Fixture, Exchange, String), Outcome> {
    if let Some(o) = applicability(ctx).await {
        return Err(o);
    }
    let Some(fx) = fixture(ctx) else {
        return Err(Outcome::new(
            Verdict::NotEvaluated,
            "no DPoP-bound token can be minted",
        ));
    };
    negative_control(ctx).await?;
    let first = without_nonce(ctx, &fx).await;
    if first.response.as_ref().is_ok_and(expect::is_accepted) {
        return Err(Outcome {
            evidence: vec![first],
            ..Outcome::new(
                Verdict::Skip,
                "the target accepted a valid proof without a nonce: it does not demand nonces",
            )
        });
    }
    let is_nonce_answer = first.response.as_ref().is_ok_and(|r| {
        r.status == 401
            && expect::dpop_challenge(r)
                .0
                .is_some_and(|c| c.param("error") == Some("use_dpop_nonce"))
    });
    if !is_nonce_answer {
        return Err(Outcome::error(
            format!(
                "a valid proof without a nonce was {}, neither accepted nor answered with \
                 use_dpop_nonce",
                observe(&first)
            ),
            vec![first],
        ));
    }
    let nonce = demanded_nonce(&first).unwrap_or_default();
    Ok((fx, first, nonce))
}

async fn flow(ctx: &Context) -> Outcome {
    let (fx, first, nonce) = match demanded(ctx).await {
        Ok(x) => x,
        Err(o) => return o,
    };
    let demand = judge(FLOW.level, first, expect::dpop_nonce_demanded);
    if demand.verdict != Verdict::Pass {
        return demand;
    }
    ctx.dpop.set_nonce(&nonce);
    let retry = fx.proof(ctx).nonce(&nonce).sign(fx.key);
    let exchange = ctx
        .initialize(&DpopRequest::dpop(&fx.token, ProofField::Raw(retry)).credential_for_raw())
        .await;
    judge(FLOW.level, exchange, expect::accepted)
}

async fn wrong(ctx: &Context) -> Outcome {
    let (fx, _, nonce) = match demanded(ctx).await {
        Ok(x) => x,
        Err(o) => return o,
    };
    // Calibrated: the issued nonce works.
    let good = fx.proof(ctx).nonce(&nonce).sign(fx.key);
    let control = ctx
        .initialize(&DpopRequest::dpop(&fx.token, ProofField::Raw(good)).credential_for_raw())
        .await;
    if !control.response.as_ref().is_ok_and(expect::is_accepted) {
        return Outcome::error(
            format!("a proof with the issued nonce was {}", observe(&control)),
            vec![control],
        );
    }
    let bogus = fx.proof(ctx).nonce("bogus").sign(fx.key);
    let exchange = ctx
        .initialize(&DpopRequest::dpop(&fx.token, ProofField::Raw(bogus)).credential_for_raw())
        .await;
    // The refusal is the MUST; a fresh nonce in it is only a SHOULD (RFC 9449 §8: MAY supply).
    judge(WRONG.level, exchange, |r| {
        expect::dpop_nonce_demanded(r).only(&[
            Part::NotAccepted,
            Part::No5xx,
            Part::Status,
            Part::ErrorCode,
        ])
    })
}

pub fn checks() -> Vec<Check<Context>> {
    vec![
        Check::new(FLOW, |ctx| Box::pin(flow(ctx))),
        Check::new(WRONG, |ctx| Box::pin(wrong(ctx))),
    ]
}
