//! Spec §1.7: DPoP at the resource server (RFC 9449, SEP-1932). The rows apply to targets that
//! advertise DPoP (a `DPoP` challenge or PRM DPoP members, spec §0.1); against others they are
//! Skip. Labelled "extension, draft" (OQ-27).
//!
//! Each table row is data: labelled stimuli built from `Vd` (`V` bound to the client key
//! `K_c`) and a fresh proof `P`, each graded by a bundle ([D], [DT], [X], [A]) at the row's
//! level. The runner calibrates around them (spec §0.4): a refused request without
//! credentials, then `Vd` with a valid `P` accepted before and after the stimuli. Proofs carry
//! the target's latest nonce and a `use_dpop_nonce` answer is retried once with the new one,
//! as a client does, so the rows also run against targets that demand nonces.
//!
//! Files by topic: [`proof`] (RFC 9449 §4.3 checks 1–8 and 10–11), [`htu`] (check 9),
//! [`claims`] (§4.2 optional members, `jti`), [`keys`] (the proof key: thumbprint, invalid
//! points, key URLs, a proof as a token), [`binding`] (check 12, scheme downgrades),
//! [`replay`] (`jti` replay and the replay race), [`nonce`] (§8, §9), [`metadata`] (PRM
//! members and the challenge).

mod binding;
mod claims;
mod htu;
mod keys;
mod metadata;
mod nonce;
mod proof;
pub mod replay;

use mock_idp::dpop::ProofBuilder;
use mock_idp::keys::SigningKey;

use crate::catalog::rfc;
use crate::check::{Applies, CheckMeta, Need, Outcome, SpecRef};
use crate::engine::calibrate::{judge, negative_control, positive_control};
use crate::engine::context::Context;
use crate::engine::probe::Credential;
use crate::engine::runner::Check;
use crate::expect::{self, Grade};
use crate::http::{Exchange, RecordedResponse};
use crate::model::{Level, Verdict};

pub(crate) const RFC9449: &str = "https://www.rfc-editor.org/rfc/rfc9449";
pub(crate) const SEP1932: &str =
    "https://github.com/modelcontextprotocol/modelcontextprotocol/pull/1932";

/// A reference to RFC 9449.
pub(crate) const fn rfc9449(section: &'static str, requirement: &'static str) -> SpecRef {
    rfc("RFC 9449", section, requirement, RFC9449)
}

/// A reference to the SEP-1932 DPoP profile (draft, OQ-27).
pub(crate) const fn sep1932(section: &'static str, requirement: &'static str) -> SpecRef {
    rfc("SEP-1932 (draft)", section, requirement, SEP1932)
}

/// Grades one response.
pub(crate) type Grader = fn(&RecordedResponse) -> Grade;

/// One `DPoP` header field of a probe.
#[derive(Clone)]
pub(crate) enum ProofField {
    /// Signed when sent, with the target's latest nonce unless the builder sets one.
    Built(Box<ProofBuilder>, &'static SigningKey),
    /// These exact bytes (malformed proofs, replays).
    Raw(String),
}

impl ProofField {
    pub(crate) fn built(builder: ProofBuilder, key: &'static SigningKey) -> Self {
        ProofField::Built(Box::new(builder), key)
    }

    pub(crate) fn render(&self, nonce: Option<&str>) -> String {
        match self {
            ProofField::Built(builder, key) => {
                let builder = match nonce {
                    Some(n) => builder.as_ref().clone().nonce(n),
                    None => builder.as_ref().clone(),
                };
                builder
                    .try_sign(key)
                    .unwrap_or_else(|e| format!("unsignable-proof-{e}"))
            }
            ProofField::Raw(text) => text.clone(),
        }
    }
}

/// A DPoP probe: its `Authorization` field values and its `DPoP` fields, in order.
#[derive(Clone)]
pub(crate) struct DpopRequest {
    pub authorization: Vec<String>,
    pub proofs: Vec<ProofField>,
    /// A query string sent on the endpoint URL (the proof's `htu` stays without it).
    pub query: Option<&'static str>,
    /// Field names go out title-cased (`Dpop:`), not in lower case.
    pub title_case_names: bool,
}

impl DpopRequest {
    /// `Authorization: DPoP <token>` with one proof.
    pub(crate) fn dpop(token: &str, proof: ProofField) -> Self {
        Self {
            authorization: vec![format!("DPoP {token}")],
            proofs: vec![proof],
            query: None,
            title_case_names: false,
        }
    }

    /// `Authorization: DPoP <token>` with these proof fields (none, or several).
    pub(crate) fn dpop_fields(token: &str, proofs: Vec<ProofField>) -> Self {
        Self {
            authorization: vec![format!("DPoP {token}")],
            proofs,
            query: None,
            title_case_names: false,
        }
    }

    fn credential(&self, nonce: Option<&str>) -> Credential {
        let mut fields: Vec<(String, String)> = self
            .authorization
            .iter()
            .map(|a| ("authorization".to_owned(), a.clone()))
            .collect();
        fields.extend(
            self.proofs
                .iter()
                .map(|p| ("dpop".to_owned(), p.render(nonce))),
        );
        Credential::Headers(fields)
    }

    /// The headers as they are, proofs signed without a nonce unless they set one (for checks
    /// that drive the nonce exchange themselves).
    pub(crate) fn credential_for_raw(&self) -> Credential {
        self.credential(None)
    }

    fn has_built_proof(&self) -> bool {
        self.proofs
            .iter()
            .any(|p| matches!(p, ProofField::Built(..)))
    }
}

/// The nonce a `use_dpop_nonce` answer supplies, if it is one.
pub(crate) fn demanded_nonce(exchange: &Exchange) -> Option<String> {
    let r = exchange.response.as_ref().ok()?;
    let (challenge, _) = expect::dpop_challenge(r);
    if r.status != 401 || challenge?.param("error") != Some("use_dpop_nonce") {
        return None;
    }
    r.header("dpop-nonce").map(str::to_owned)
}

/// Sends a DPoP probe (`initialize`) with the latest nonce; a `use_dpop_nonce` answer with a
/// fresh nonce is retried once with it (RFC 9449 §8).
pub(crate) async fn send(ctx: &Context, request: &DpopRequest) -> Exchange {
    let nonce = ctx.dpop.nonce();
    let exchange = initialize(ctx, request, nonce.as_deref()).await;
    match demanded_nonce(&exchange) {
        Some(fresh) if request.has_built_proof() && Some(&fresh) != nonce.as_ref() => {
            ctx.dpop.set_nonce(&fresh);
            initialize(ctx, request, Some(&fresh)).await
        }
        _ => exchange,
    }
}

async fn initialize(ctx: &Context, request: &DpopRequest, nonce: Option<&str>) -> Exchange {
    let credential = request.credential(nonce);
    match request.query {
        _ if request.title_case_names => ctx.initialize_title_case(&credential).await,
        Some(query) => ctx.initialize_with_query(query, &credential).await,
        None => ctx.initialize(&credential).await,
    }
}

/// What a row needs from the run: `Vd` bound to `K_c`.
pub(crate) struct Fixture {
    pub token: String,
    pub key: &'static SigningKey,
}

impl Fixture {
    /// A valid `P` for `Vd` (edit it for a stimulus).
    pub(crate) fn proof(&self, ctx: &Context) -> ProofBuilder {
        ctx.proof(&self.token)
    }

    /// `Authorization: DPoP Vd` with this proof signed by `K_c`.
    pub(crate) fn request(&self, proof: ProofBuilder) -> DpopRequest {
        DpopRequest::dpop(&self.token, ProofField::built(proof, self.key))
    }
}

/// One labelled stimulus; `grade` overrides the row's bundle.
pub(crate) struct Stimulus {
    pub what: String,
    pub request: DpopRequest,
    pub grade: Option<Grader>,
}

impl Stimulus {
    pub(crate) fn new(what: impl Into<String>, request: DpopRequest) -> Self {
        Self {
            what: what.into(),
            request,
            grade: None,
        }
    }

    pub(crate) fn graded(mut self, grade: Grader) -> Self {
        self.grade = Some(grade);
        self
    }
}

/// Builds a row's stimuli.
pub(crate) type Stimuli = fn(&Context, &Fixture) -> Vec<Stimulus>;

/// One table row: metadata, stimuli, the bundle each stimulus is graded by.
pub(crate) struct Row {
    pub meta: CheckMeta,
    pub stimuli: Stimuli,
    pub grade: Grader,
}

/// The metadata of a DPoP row (MUST, needs `Vd`: minted, or issued with `--dpop`).
pub(crate) const fn meta(
    id: &'static str,
    spec_row: &'static str,
    title: &'static str,
    summary: &'static str,
    refs: &'static [SpecRef],
    broken_by: &'static [&'static str],
) -> CheckMeta {
    CheckMeta {
        id,
        row: spec_row,
        title,
        summary,
        level: Level::Must,
        applies: Applies::Always,
        deadline: None,
        refs,
        needs: &[Need::Dpop],
        tags: &["dpop", "extension-draft"],
        broken_by,
    }
}

/// The same metadata at another level.
pub(crate) const fn at(mut meta: CheckMeta, level: Level) -> CheckMeta {
    meta.level = level;
    meta
}

/// NotEvaluated without minted tokens; Skip when the target does not advertise DPoP, but
/// only once the Bearer positive control shows it takes `V` (a target that refuses
/// everything cannot be judged at all: Error, never Skip).
pub(crate) async fn applicability(ctx: &Context) -> Option<Outcome> {
    if ctx.dpop_advertised() {
        return None;
    }
    if let Err(o) = positive_control(ctx).await {
        return Some(o);
    }
    Some(Outcome::new(
        Verdict::Skip,
        "the target takes Bearer tokens and does not advertise DPoP (no DPoP challenge, no PRM \
         DPoP members)",
    ))
}

/// `Vd` for `K_c`.
pub(crate) fn fixture(ctx: &Context) -> Option<Fixture> {
    Some(Fixture {
        token: ctx.bound_token()?,
        key: ctx.dpop.key(),
    })
}

/// The DPoP positive control: `Vd` with a fresh valid `P` is accepted.
pub(crate) async fn dpop_control(ctx: &Context, fx: &Fixture, when: &str) -> Result<(), Outcome> {
    let exchange = send(ctx, &fx.request(fx.proof(ctx))).await;
    if exchange.response.as_ref().is_ok_and(expect::is_accepted) {
        return Ok(());
    }
    Err(Outcome::error(
        format!(
            "DPoP positive control {when}: {} — Vd with a valid proof was not accepted, so no \
             refusal can be judged",
            observe(&exchange)
        ),
        vec![exchange],
    ))
}

/// Negative control, then the DPoP positive control.
pub(crate) async fn calibrate(ctx: &Context, fx: &Fixture) -> Result<(), Outcome> {
    negative_control(ctx).await?;
    dpop_control(ctx, fx, "before the stimuli").await
}

/// One line about a response: accepted, or how it was refused.
pub(crate) fn observe(exchange: &Exchange) -> String {
    match &exchange.response {
        Err(e) => format!("not answered ({e})"),
        Ok(r) if expect::is_accepted(r) => "accepted".into(),
        Ok(r) => {
            let error = expect::challenges(r)
                .ok()
                .and_then(|cs| {
                    cs.iter()
                        .find_map(|c| c.param("error").map(|e| format!(" {} {e}", c.scheme)))
                })
                .unwrap_or_default();
            format!("refused: HTTP {}{error}", r.status)
        }
    }
}

fn severity(v: Verdict) -> u8 {
    match v {
        Verdict::Error => 0,
        Verdict::Fail => 1,
        Verdict::Warn => 2,
        Verdict::Info => 3,
        Verdict::Pass => 4,
        _ => 5,
    }
}

/// The worst outcome, every stimulus's observation in the message, the evidence of every
/// stimulus that did not pass.
pub(crate) fn combined(results: Vec<(String, Outcome)>) -> Outcome {
    let lines = results
        .iter()
        .map(|(what, o)| format!("{what}: {}", o.actual_or_seen()))
        .collect::<Vec<_>>()
        .join("; ");
    let Some(worst) = (0..results.len()).min_by_key(|&i| (severity(results[i].1.verdict), i))
    else {
        return Outcome::new(Verdict::NotEvaluated, "no stimulus was sent");
    };
    let mut evidence = Vec::new();
    let mut chosen = None;
    for (i, (what, outcome)) in results.into_iter().enumerate() {
        if i == worst {
            chosen = Some((what, outcome));
        } else if outcome.verdict != Verdict::Pass {
            evidence.extend(outcome.evidence);
        }
    }
    let Some((what, mut outcome)) = chosen else {
        return Outcome::new(Verdict::NotEvaluated, "no stimulus was sent");
    };
    outcome.evidence.extend(evidence);
    let head = if outcome.verdict == Verdict::Pass {
        "every stimulus as expected".to_owned()
    } else {
        format!("{what}: {}", outcome.message)
    };
    outcome.message = format!("{head} — seen: {lines}");
    outcome
}

/// What an outcome saw, for the summary line.
trait Seen {
    fn actual_or_seen(&self) -> String;
}

impl Seen for Outcome {
    fn actual_or_seen(&self) -> String {
        self.evidence
            .first()
            .map(observe)
            .unwrap_or_else(|| self.message.clone())
    }
}

/// Sends every stimulus of `stimuli` between the controls and grades each at `level`.
pub(crate) async fn run_stimuli(
    ctx: &Context,
    fx: &Fixture,
    level: Level,
    default_grade: Grader,
    stimuli: Vec<Stimulus>,
) -> Outcome {
    if stimuli.is_empty() {
        // Rows build no stimulus only where their premise does not hold (ES512 is advertised,
        // say): the row does not apply.
        return Outcome::new(
            Verdict::Skip,
            "no stimulus applies to this target (the check's summary says when that is)",
        );
    }
    if let Err(o) = calibrate(ctx, fx).await {
        return o;
    }
    let mut results = Vec::with_capacity(stimuli.len());
    for stimulus in stimuli {
        let exchange = send(ctx, &stimulus.request).await;
        let grade = stimulus.grade.unwrap_or(default_grade);
        results.push((stimulus.what, judge(level, exchange, grade)));
    }
    if let Err(o) = dpop_control(ctx, fx, "after the stimuli").await {
        return o;
    }
    combined(results)
}

async fn run_row(ctx: &Context, row: &Row) -> Outcome {
    if let Some(o) = applicability(ctx).await {
        return o;
    }
    let Some(fx) = fixture(ctx) else {
        return Outcome::undeclared_need();
    };
    let stimuli = (row.stimuli)(ctx, &fx);
    let outcome = run_stimuli(ctx, &fx, row.meta.level, row.grade, stimuli).await;
    waive_iat_under_nonces(ctx, row.meta.id, outcome)
}

/// OQ-3: RFC 9449 §4.3 check 11 lets a server bound a proof's age through its nonce instead of
/// `iat`, so against a target that demands nonces (every proof here carried a fresh one) an
/// accepted stale or future `iat` is not held against it: Skip, with what was seen.
fn waive_iat_under_nonces(ctx: &Context, id: &str, outcome: Outcome) -> Outcome {
    let iat_refusal = [proof::IAT_STALE, proof::IAT_FUTURE].contains(&id);
    if !iat_refusal || ctx.dpop.nonce().is_none() || !matches!(outcome.verdict, Verdict::Fail) {
        return outcome;
    }
    Outcome {
        verdict: Verdict::Skip,
        message: format!(
            "waived (OQ-3): the target demands server nonces, which RFC 9449 §4.3 check 11 \
             allows as the freshness check in place of iat — {}",
            outcome.message
        ),
        ..outcome
    }
}

/// The DPoP checks, in spec order.
pub fn checks() -> Vec<Check<Context>> {
    let rows = |rows: &'static [Row]| {
        rows.iter()
            .map(|row| Check::new(row.meta, move |ctx| Box::pin(run_row(ctx, row))))
    };
    let mut checks = proof::checks();
    checks.extend(rows(proof::ROWS));
    checks.extend(rows(htu::ROWS));
    checks.extend(rows(claims::ROWS));
    checks.extend(rows(keys::ROWS));
    checks.extend(rows(binding::ROWS));
    checks.extend(binding::checks());
    checks.extend(replay::checks());
    checks.extend(nonce::checks());
    checks.extend(metadata::checks());
    checks
}

/// Whether a check applies only to targets that demand DPoP nonces (Skip elsewhere).
pub fn needs_dpop_nonce(id: &str) -> bool {
    nonce::IDS.contains(&id)
}
