//! `jti` replay detection (RFC 9449 §11.1; SHOULD per OQ-2): the identical proof twice, the
//! same proof re-signed (a different proof string, the same `jti`), and the replay race: one
//! valid proof sent K times at once, where more than one acceptance means the replay cache's
//! check and insert are not atomic.

use std::time::{Duration, Instant};

use super::{
    DpopRequest, Fixture, ProofField, applicability, calibrate, combined, dpop_control, fixture,
    meta, observe, rfc9449, send, sep1932,
};
use crate::check::{CheckMeta, Outcome};
use crate::engine::calibrate::judge;
use crate::engine::context::Context;
use crate::engine::probe::Credential;
use crate::engine::runner::Check;
use crate::expect;
use crate::http::Exchange;
use crate::model::{Level, Verdict};

/// Copies sent at once by rs.dpop.replay-race (bounded: one proof, K requests to the named
/// target only).
pub const DEFAULT_RACE_COPIES: usize = 32;
/// The largest K the race accepts.
pub const MAX_RACE_COPIES: usize = 256;

pub const REPLAY: CheckMeta = CheckMeta {
    level: Level::Should,
    ..meta(
        "rs.dpop.replay",
        "rs-dpop-replay",
        "Refuses a replayed proof",
        "A valid proof is accepted once; the identical proof sent again is refused with 401 and \
         a DPoP challenge. Acceptance warns: jti tracking is SHOULD (RFC 9449) and MAY \
         (SEP-1932), OQ-2.",
        &[
            rfc9449("§11.1", "servers can store jti to refuse replays"),
            sep1932(
                "Replay Protection",
                "jti tracking not required; iat window instead",
            ),
        ],
        &["dpop-no-replay-cache"],
    )
};

pub const RESIGNED: CheckMeta = CheckMeta {
    level: Level::Should,
    ..meta(
        "rs.dpop.replay-resigned",
        "rs-dpop-replay-malleated",
        "Keys replay detection on jti, not on the proof's bytes",
        "The same header and claims (same jti, same iat) signed twice give two different ES256 \
         proof strings, and the first signature with s replaced by n - s a third: after the \
         first is accepted, both others are refused. Skip when the identical replay is \
         accepted.",
        &[rfc9449("§11.1", "replays are detected by jti")],
        &["dpop-replay-by-bytes"],
    )
};

pub const RACE: CheckMeta = CheckMeta {
    level: Level::Should,
    ..meta(
        "rs.dpop.replay-race",
        "rs-dpop-replay-race",
        "Accepts a proof at most once under concurrency",
        "One valid proof is sent K times at once over K open connections, in rounds of K = 2, \
         4, 8, 16, 32 (a fresh proof each; loopback or the named target only), stopping at the \
         first round where more than one copy is accepted: then the replay cache checks and \
         records in two steps. Evidence: how many were accepted per round, with the timings. \
         Skip when a sequential replay is accepted (no replay detection to race).",
        &[rfc9449("§11.1", "a jti is accepted once")],
        &["dpop-replay-race"],
    )
};

/// What a replay race saw.
#[derive(Debug, Clone)]
pub struct RaceResult {
    pub copies: usize,
    pub accepted: usize,
    /// Time from the first send to the last answer.
    pub wall: Duration,
    /// The slowest and fastest single answers.
    pub slowest: Duration,
    pub fastest: Duration,
    pub exchanges: Vec<Exchange>,
}

impl RaceResult {
    pub fn summary(&self) -> String {
        format!(
            "{} of {} concurrent copies accepted; answers in {:.1}–{:.1} ms, all within {:.1} ms",
            self.accepted,
            self.copies,
            self.fastest.as_secs_f64() * 1e3,
            self.slowest.as_secs_f64() * 1e3,
            self.wall.as_secs_f64() * 1e3,
        )
    }
}

/// Sends one fresh valid proof `copies` times at once (bounded by `MAX_RACE_COPIES`).
pub(crate) async fn race(ctx: &Context, fx: &Fixture, copies: usize) -> RaceResult {
    let copies = copies.clamp(2, MAX_RACE_COPIES);
    let proof = fx.proof(ctx).sign(fx.key);
    let proof = match ctx.dpop.nonce() {
        Some(n) => fx.proof(ctx).nonce(&n).sign(fx.key),
        None => proof,
    };
    let request = DpopRequest::dpop(&fx.token, ProofField::Raw(proof));
    // Open the K connections first (anonymous requests), so the copies leave together
    // instead of one connection handshake apart.
    futures::future::join_all((0..copies).map(|_| ctx.initialize(&Credential::None))).await;
    let started = Instant::now();
    let exchanges: Vec<Exchange> =
        futures::future::join_all((0..copies).map(|_| send(ctx, &request))).await;
    let wall = started.elapsed();
    let accepted = exchanges
        .iter()
        .filter(|e| e.response.as_ref().is_ok_and(expect::is_accepted))
        .count();
    let slowest = exchanges
        .iter()
        .map(|e| e.elapsed)
        .max()
        .unwrap_or_default();
    let fastest = exchanges
        .iter()
        .map(|e| e.elapsed)
        .min()
        .unwrap_or_default();
    RaceResult {
        copies,
        accepted,
        wall,
        slowest,
        fastest,
        exchanges,
    }
}

/// One race with `copies` copies of a fresh proof for `Vd`, without the controls: the
/// measurement entry point (`None` when no DPoP-bound token can be minted).
pub async fn race_once(ctx: &Context, copies: usize) -> Option<RaceResult> {
    let fx = fixture(ctx)?;
    Some(race(ctx, &fx, copies).await)
}

/// Sends `proof` twice; the first must be accepted (else Error), the second is graded.
async fn twice(
    ctx: &Context,
    fx: &Fixture,
    first: String,
    second: String,
) -> Result<Exchange, Outcome> {
    let one = send(ctx, &DpopRequest::dpop(&fx.token, ProofField::Raw(first))).await;
    if !one.response.as_ref().is_ok_and(expect::is_accepted) {
        return Err(Outcome::error(
            format!("the first use of a valid proof was {}", observe(&one)),
            vec![one],
        ));
    }
    Ok(send(ctx, &DpopRequest::dpop(&fx.token, ProofField::Raw(second))).await)
}

/// A valid proof text with the current nonce; `builder` kept for re-signing.
fn fresh(ctx: &Context, fx: &Fixture) -> mock_idp::dpop::ProofBuilder {
    let proof = fx.proof(ctx);
    match ctx.dpop.nonce() {
        Some(n) => proof.nonce(&n),
        None => proof,
    }
}

async fn prepared(ctx: &Context) -> Result<Fixture, Outcome> {
    if let Some(o) = applicability(ctx).await {
        return Err(o);
    }
    let Some(fx) = fixture(ctx) else {
        return Err(Outcome::undeclared_need());
    };
    calibrate(ctx, &fx).await?;
    Ok(fx)
}

async fn replay(ctx: &Context) -> Outcome {
    let fx = match prepared(ctx).await {
        Ok(fx) => fx,
        Err(o) => return o,
    };
    let proof = fresh(ctx, &fx).sign(fx.key);
    let second = match twice(ctx, &fx, proof.clone(), proof).await {
        Ok(e) => e,
        Err(o) => return o,
    };
    if let Err(o) = dpop_control(ctx, &fx, "after the replay").await {
        return o;
    }
    judge(REPLAY.level, second, expect::dpop_invalid)
}

async fn resigned(ctx: &Context) -> Outcome {
    let fx = match prepared(ctx).await {
        Ok(fx) => fx,
        Err(o) => return o,
    };
    // First: is there replay detection at all?
    let proof = fresh(ctx, &fx).sign(fx.key);
    match twice(ctx, &fx, proof.clone(), proof).await {
        Ok(e) if e.response.as_ref().is_ok_and(expect::is_accepted) => {
            return Outcome {
                evidence: vec![e],
                ..Outcome::new(
                    Verdict::Skip,
                    "the identical replay was accepted (see rs.dpop.replay): nothing to key on",
                )
            };
        }
        Ok(_) => {}
        Err(o) => return o,
    }
    let builder = fresh(ctx, &fx);
    let first = builder.sign(fx.key);
    let mut second = builder.sign(fx.key);
    // ECDSA signatures are randomised; re-sign until the text differs (a few tries at most).
    for _ in 0..4 {
        if second != first {
            break;
        }
        second = builder.sign(fx.key);
    }
    let malleated = malleate(&first);
    let exchange = match twice(ctx, &fx, first, second).await {
        Ok(e) => e,
        Err(o) => return o,
    };
    let mut results = vec![(
        "re-signed".to_owned(),
        judge(RESIGNED.level, exchange, expect::dpop_invalid),
    )];
    if let Some(malleated) = malleated {
        let exchange = send(
            ctx,
            &DpopRequest::dpop(&fx.token, ProofField::Raw(malleated)),
        )
        .await;
        results.push((
            "signature (r, n - s)".to_owned(),
            judge(RESIGNED.level, exchange, expect::dpop_invalid),
        ));
    }
    if let Err(o) = dpop_control(ctx, &fx, "after the re-signed replay").await {
        return o;
    }
    combined(results)
}

/// The ES256 proof with its signature's s replaced by n - s: another valid signature over
/// the same header and claims (ECDSA malleability), so the same `jti` in a new text.
fn malleate(proof: &str) -> Option<String> {
    let (input, sig) = proof.rsplit_once('.')?;
    let sig = mock_idp::b64::decode_strict(sig).ok()?;
    let flipped = mock_idp::ecdsa::flip_s(mock_idp::alg::EcCurve::P256, &sig);
    Some(format!("{input}.{}", mock_idp::b64::encode(flipped)))
}

async fn replay_race(ctx: &Context) -> Outcome {
    let fx = match prepared(ctx).await {
        Ok(fx) => fx,
        Err(o) => return o,
    };
    let proof = fresh(ctx, &fx).sign(fx.key);
    match twice(ctx, &fx, proof.clone(), proof).await {
        Ok(e) if e.response.as_ref().is_ok_and(expect::is_accepted) => {
            return Outcome {
                evidence: vec![e],
                ..Outcome::new(
                    Verdict::Skip,
                    "a sequential replay was accepted (see rs.dpop.replay): no replay cache to race",
                )
            };
        }
        Ok(_) => {}
        Err(o) => return o,
    }
    let rounds = escalating_race(ctx, &fx, DEFAULT_RACE_COPIES).await;
    if let Err(o) = dpop_control(ctx, &fx, "after the race").await {
        return o;
    }
    let summary = rounds
        .iter()
        .map(RaceResult::summary)
        .collect::<Vec<_>>()
        .join("; ");
    let Some(last) = rounds.last() else {
        return Outcome::new(Verdict::NotEvaluated, "no race was run");
    };
    if let Some(refused) = rounds.iter().find(|r| r.accepted == 0) {
        return Outcome::error(
            format!("no copy of a fresh valid proof was accepted: {summary}"),
            refused.exchanges.iter().take(1).cloned().collect(),
        );
    }
    if last.accepted <= 1 {
        return Outcome::new(Verdict::Pass, format!("rounds: {summary}"));
    }
    let evidence: Vec<Exchange> = last
        .exchanges
        .iter()
        .filter(|e| e.response.as_ref().is_ok_and(expect::is_accepted))
        .take(3)
        .cloned()
        .collect();
    Outcome {
        expected: vec![format!(
            "[{}] at most one of K concurrent copies of one proof accepted (K = 2, 4, … {})",
            RACE.level, DEFAULT_RACE_COPIES
        )],
        actual: last.summary(),
        evidence,
        ..Outcome::new(
            RACE.level.broken_verdict(),
            format!("the replay cache is not atomic: {summary}"),
        )
    }
}

/// Races of K = 2, 4, 8, … up to `max` copies (a fresh proof each), stopping at the first
/// round with more than one acceptance (or none). Small rounds land inside a short race
/// window together; large ones out-number a server's cores, so both are tried.
pub(crate) async fn escalating_race(ctx: &Context, fx: &Fixture, max: usize) -> Vec<RaceResult> {
    let max = max.clamp(2, MAX_RACE_COPIES);
    let mut rounds = Vec::new();
    let mut k = 2;
    loop {
        let result = race(ctx, fx, k.min(max)).await;
        let done = result.accepted != 1 || k >= max;
        rounds.push(result);
        if done {
            return rounds;
        }
        k *= 2;
    }
}

/// The check's stimulus without its controls (the measurement entry point): the escalating
/// race up to `max` copies.
pub async fn escalating_race_once(ctx: &Context, max: usize) -> Option<Vec<RaceResult>> {
    let fx = fixture(ctx)?;
    Some(escalating_race(ctx, &fx, max).await)
}

pub fn checks() -> Vec<Check<Context>> {
    vec![
        Check::new(REPLAY, |ctx| Box::pin(replay(ctx))),
        Check::new(RESIGNED, |ctx| Box::pin(resigned(ctx))),
        Check::new(RACE, |ctx| Box::pin(replay_race(ctx))),
    ]
}
