//! Server nonces (RFC 9449 §8, §9). They apply when the target demands one: a fresh valid
//! proof without a nonce is answered with `use_dpop_nonce`. A target that accepts it never
//! demands nonces, and these checks are Skip with that reason.

use super::{
    DpopRequest, Fixture, ProofField, applicability, at, demanded_nonce, fixture, meta, observe,
    rfc9449,
};
use crate::check::{CheckMeta, Outcome};
use crate::engine::calibrate::{judge, negative_control};
use crate::engine::context::Context;
use crate::engine::runner::Check;
use crate::expect::{self, Part};
use crate::http::Exchange;
use crate::model::{Level, Verdict};

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

pub const DOWNGRADE: CheckMeta = meta(
    "rs.dpop.nonce-downgrade",
    "rs-dpop-nonce-downgrade",
    "Keeps demanding nonces once it has issued one",
    "After the target issued a nonce and accepted a proof carrying it, a valid proof without \
     a nonce is refused (use_dpop_nonce or invalid_dpop_proof), never accepted. Skip when the \
     target never demands a nonce.",
    &[rfc9449(
        "§11.3",
        "proofs without the nonce are refused once nonces are in use",
    )],
    &["dpop-nonce-downgrade"],
);

pub const CROSS_SERVER: CheckMeta = at(
    meta(
        "rs.dpop.nonce-cross-server",
        "rs-dpop-nonce-cross-server",
        "Refuses a nonce the authorization server issued",
        "A proof carrying a nonce issued by the embedded IdP's token endpoint (a nonce the \
         authorization server honours) is refused with use_dpop_nonce. Skip when the target \
         never demands a nonce.",
        &[rfc9449(
            "§9",
            "a nonce is accepted only by the server that issued it",
        )],
        &["dpop-nonce-any-value"],
    ),
    Level::Should,
);

pub const UNPREDICTABLE: CheckMeta = at(
    meta(
        "rs.dpop.nonce-unpredictable",
        "rs-dpop-nonce-header",
        "Issues a different, patternless nonce each time",
        "Four successive use_dpop_nonce answers carry four different nonces that are not \
         consecutive numbers (a counter or a clock). A heuristic: RFC 9449 §8 makes nonces \
         unpredictable, which no black-box test can prove. Skip when the target never demands \
         a nonce.",
        &[rfc9449("§8", "nonce values are unpredictable")],
        &["dpop-nonce-constant"],
    ),
    Level::Should,
);

/// Nonces collected by rs.dpop.nonce-unpredictable.
const NONCE_SAMPLES: usize = 4;

/// The ids of the checks that apply only to targets demanding nonces.
pub const IDS: &[&str] = &[
    FLOW.id,
    WRONG.id,
    DOWNGRADE.id,
    CROSS_SERVER.id,
    UNPREDICTABLE.id,
];

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
        return Err(Outcome::undeclared_need());
    };
    negative_control(ctx).await?;
    let first = without_nonce(ctx, &fx).await;
    if first.response.as_ref().is_ok_and(expect::is_accepted) && ctx.dpop.nonce().is_some() {
        return Err(Outcome::error(
            "the target accepted a valid proof without a nonce although it demanded nonces \
             earlier in this run, so its nonce flow cannot be judged (see \
             rs.dpop.nonce-downgrade)",
            vec![first],
        ));
    }
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

/// A proof with exactly this nonce (or none), sent as it is.
async fn with_nonce(ctx: &Context, fx: &Fixture, nonce: Option<&str>) -> Exchange {
    let mut proof = fx.proof(ctx);
    if let Some(n) = nonce {
        proof = proof.nonce(n);
    }
    let request = DpopRequest::dpop(&fx.token, ProofField::Raw(proof.sign(fx.key)));
    ctx.initialize(&request.credential_for_raw()).await
}

/// A nonce the target issued and accepts right now (calibrated), or why there is none.
async fn working_nonce(ctx: &Context) -> Result<(Fixture, String), Outcome> {
    let (fx, _, nonce) = demanded(ctx).await?;
    let control = with_nonce(ctx, &fx, Some(&nonce)).await;
    if !control.response.as_ref().is_ok_and(expect::is_accepted) {
        return Err(Outcome::error(
            format!("a proof with the issued nonce was {}", observe(&control)),
            vec![control],
        ));
    }
    Ok((fx, nonce))
}

/// The refusal is the MUST; a fresh nonce in it is only a SHOULD (RFC 9449 §8: MAY supply).
fn nonce_refused(resp: &crate::http::RecordedResponse) -> expect::Grade {
    expect::dpop_nonce_demanded(resp).only(&[
        Part::NotAccepted,
        Part::No5xx,
        Part::Status,
        Part::ErrorCode,
    ])
}

async fn wrong(ctx: &Context) -> Outcome {
    let (fx, _) = match working_nonce(ctx).await {
        Ok(x) => x,
        Err(o) => return o,
    };
    let exchange = with_nonce(ctx, &fx, Some("bogus")).await;
    judge(WRONG.level, exchange, nonce_refused)
}

/// rs.dpop.nonce-downgrade: a nonce in use (from earlier in the run, or demanded now), then a
/// proof without one.
async fn downgrade(ctx: &Context) -> Outcome {
    if let Some(o) = applicability(ctx).await {
        return o;
    }
    let Some(fx) = fixture(ctx) else {
        return Outcome::undeclared_need();
    };
    if let Err(o) = negative_control(ctx).await {
        return o;
    }
    // The latest nonce, retried once with a fresh one when the target demands it.
    let control = super::send(ctx, &fx.request(fx.proof(ctx))).await;
    if !control.response.as_ref().is_ok_and(expect::is_accepted) {
        return Outcome::error(
            format!("DPoP positive control: {}", observe(&control)),
            vec![control],
        );
    }
    if ctx.dpop.nonce().is_none() {
        return Outcome::new(
            Verdict::Skip,
            "the target never demanded a nonce: it does not use nonces",
        );
    }
    let exchange = with_nonce(ctx, &fx, None).await;
    judge(DOWNGRADE.level, exchange, expect::dpop_nonce_or_invalid)
}

/// rs.dpop.nonce-cross-server: the authorization server's nonce at the resource server.
async fn cross_server(ctx: &Context) -> Outcome {
    let Some(idp) = ctx.idp.clone() else {
        return Outcome::new(
            Verdict::NotEvaluated,
            "needs a nonce from the embedded mock IdP's token endpoint",
        );
    };
    let (fx, _) = match working_nonce(ctx).await {
        Ok(x) => x,
        Err(o) => return o,
    };
    let foreign = idp.issue_dpop_nonce();
    let exchange = with_nonce(ctx, &fx, Some(&foreign)).await;
    judge(CROSS_SERVER.level, exchange, nonce_refused)
}

/// rs.dpop.nonce-unpredictable: successive demanded nonces differ and count nothing.
async fn unpredictable(ctx: &Context) -> Outcome {
    let (fx, first, nonce) = match demanded(ctx).await {
        Ok(x) => x,
        Err(o) => return o,
    };
    let mut nonces = vec![nonce];
    let mut evidence = vec![first];
    while nonces.len() < NONCE_SAMPLES {
        let exchange = without_nonce(ctx, &fx).await;
        let Some(n) = demanded_nonce(&exchange) else {
            return Outcome::error(
                format!(
                    "a valid proof without a nonce was {} after the target had demanded one",
                    observe(&exchange)
                ),
                vec![exchange],
            );
        };
        nonces.push(n);
        evidence.push(exchange);
    }
    let distinct: std::collections::BTreeSet<&String> = nonces.iter().collect();
    let numbers: Option<Vec<u128>> = nonces.iter().map(|n| n.parse().ok()).collect();
    let counting = numbers.is_some_and(|ns| ns.windows(2).all(|w| w[1].abs_diff(w[0]) <= 1_000));
    let seen = nonces.join(", ");
    let (verdict, message) = if distinct.len() < nonces.len() {
        (
            Level::Should.broken_verdict(),
            format!("the same nonce came back more than once: {seen}"),
        )
    } else if counting {
        (
            Level::Should.broken_verdict(),
            format!("the nonces are numbers close together (a counter or a clock): {seen}"),
        )
    } else {
        (
            Verdict::Pass,
            format!("{NONCE_SAMPLES} different nonces with no numeric pattern"),
        )
    };
    Outcome {
        evidence,
        ..Outcome::new(verdict, message)
    }
}

pub fn checks() -> Vec<Check<Context>> {
    vec![
        Check::new(FLOW, |ctx| Box::pin(flow(ctx))),
        Check::new(WRONG, |ctx| Box::pin(wrong(ctx))),
        Check::new(DOWNGRADE, |ctx| Box::pin(downgrade(ctx))),
        Check::new(CROSS_SERVER, |ctx| Box::pin(cross_server(ctx))),
        Check::new(UNPREDICTABLE, |ctx| Box::pin(unpredictable(ctx))),
    ]
}
