//! Spec §1.3–§1.5: token validation, one file per spec section. Each row is data: a stimulus
//! built from `V` (or a forged token) and the bundle it is graded by (the invalid-token bundle
//! [X] unless the row says otherwise); the runner calibrates around every stimulus.
//!
//! Two shapes of row:
//! - `row(...)`: every stimulus token is graded by the row's bundle at the row's level
//!   (`.level()` and `.graded_by()` change those);
//! - `probed(...)`: labelled [`Probe`]s, each with its own expectation, built against the
//!   target's clock: rows that mix a graded case with recorded ones (spec "record"), or whose
//!   preferred outcome is acceptance.
//!
//! A row is about JWT access tokens minted by the embedded mock IdP, or (`.opaque()`, spec
//! INTRO) about opaque tokens the target introspects there; its controls use `V` in that form.

mod attacks;
pub(crate) use attacks::without_fetch;
mod audience;
mod validation;

use mock_idp::forge::{Attack, DeriveContext, ForgeContext, PublicKeyForm};
use mock_idp::server::IssuerKind;
use serde_json::{Value, json};

use crate::catalog::{mcp, rfc};
use crate::check::{Applies, CheckMeta, Need, Outcome, SpecRef};
use crate::engine::calibrate::{judge_stimulus, negative_control, positive_control};
use crate::engine::context::Context;
use crate::engine::probe::Credential;
use crate::engine::runner::Check;
use crate::expect::{self, Grade};
use crate::http::{Exchange, RecordedResponse};
use crate::model::{Level, Profile, Verdict};

const RFC9068: &str = "https://www.rfc-editor.org/rfc/rfc9068";
const RFC8725: &str = "https://www.rfc-editor.org/rfc/rfc8725";
const RFC7519: &str = "https://www.rfc-editor.org/rfc/rfc7519";
const RFC7515: &str = "https://www.rfc-editor.org/rfc/rfc7515";
const RFC7662: &str = "https://www.rfc-editor.org/rfc/rfc7662";

/// Rows that bind only under the RFC 9068 profile (spec §0.1 JWT-AT) and are recorded
/// otherwise.
const JWT_AT_ONLY: Applies = Applies::UnderProfile {
    profile: Profile::Rfc9068,
    otherwise: Level::Info,
};

/// What a row derivable from a real token needs: a valid token in JWS form.
pub(super) const DERIVABLE: &[Need] = &[Need::ValidToken, Need::JwtAccessToken];

/// What an opaque-token row derivable from a real token needs: a valid opaque token.
const DERIVABLE_OPAQUE: &[Need] = &[Need::ValidToken, Need::OpaqueAccessToken];

/// Builds the stimulus tokens of a row (several for rows with variants).
type Stimuli = fn(&Context) -> Option<Vec<String>>;

/// Builds the labelled probes of a row; the second argument is the target's clock
/// (`ctx.now()`, Unix seconds), the base of every time-based stimulus (spec §0.4).
type Probes = fn(&Context, i64) -> Option<Vec<Probe>>;

/// Grades the response to one stimulus.
type Grader = fn(&RecordedResponse) -> Grade;

/// Sums up what a probed row saw, for its message (e.g. the observed clock leeway).
type Summary = fn(&[Seen]) -> Option<String>;

/// How a row builds its stimuli.
#[derive(Clone, Copy)]
enum Stimulus {
    /// Tokens, each graded by the row's bundle at the row's level.
    Tokens(Stimuli),
    /// Labelled probes, each with its own expectation.
    Probes(Probes),
}

/// Which kind of access token a row is about, and so which `V` its controls present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenFormat {
    /// JWT access tokens signed by the embedded IdP (spec JWT-AT).
    Jwt,
    /// Opaque tokens the target introspects at the embedded IdP (spec INTRO); the row is Skip
    /// when the target takes the JWT `V` but not an opaque one.
    Opaque,
}

/// One row of the token tables: metadata, stimuli, and how each stimulus is graded.
struct Row {
    meta: CheckMeta,
    stimulus: Stimulus,
    grade: Grader,
    format: TokenFormat,
    summary: Option<Summary>,
    /// What a stimulus of a row of uniform tokens is, for the message ("an unsigned token");
    /// by default the title's object ("Refuses a token without aud" → "a token without aud").
    stimulus_name: Option<&'static str>,
}

impl Row {
    /// The row at another level (SHOULD rows warn, INFO rows record).
    const fn level(mut self, level: Level) -> Self {
        self.meta.level = level;
        self
    }

    /// The row graded by another bundle than [X].
    const fn graded_by(mut self, grade: Grader, summary: &'static str) -> Self {
        self.grade = grade;
        self.meta.summary = summary;
        self
    }

    /// The row's one-line summary: for rows with a preferred outcome, which one and why.
    const fn summary(mut self, summary: &'static str) -> Self {
        self.meta.summary = summary;
        self
    }

    /// Where the row binds at its level (a profile, some spec versions); elsewhere the runner
    /// lowers it.
    const fn applies(mut self, applies: Applies) -> Self {
        self.meta.applies = applies;
        self
    }

    /// A row whose stimuli can be derived from a real token (no key of the authorization
    /// server needed): it runs against a deployment with its own authorization server too.
    const fn derivable(mut self) -> Self {
        self.meta.needs = DERIVABLE;
        self
    }

    /// A row with its own needs (read by the runner).
    const fn needs(mut self, needs: &'static [Need]) -> Self {
        self.meta.needs = needs;
        self
    }

    /// A spec INTRO row: its stimuli and controls are opaque tokens.
    const fn opaque(mut self) -> Self {
        self.format = TokenFormat::Opaque;
        self
    }

    /// An opaque-token row whose stimuli can be derived from a real opaque token: with the
    /// mock IdP it is a spec INTRO row; against a deployment whose authorization server issues
    /// opaque tokens, its `V` is the issued one.
    const fn opaque_derivable(mut self) -> Self {
        self.format = TokenFormat::Opaque;
        self.meta.needs = DERIVABLE_OPAQUE;
        self
    }

    /// Names the row's stimuli for its message, where the title does not.
    const fn stimulus(mut self, name: &'static str) -> Self {
        self.stimulus_name = Some(name);
        self
    }

    /// Adds a line summing up the observations to the row's message.
    const fn summarised(mut self, summary: Summary) -> Self {
        self.summary = Some(summary);
        self
    }
}

const fn meta(
    id: &'static str,
    spec_row: &'static str,
    title: &'static str,
    refs: &'static [SpecRef],
    tags: &'static [&'static str],
    broken_by: &'static [&'static str],
) -> CheckMeta {
    CheckMeta {
        id,
        row: spec_row,
        title,
        summary: "A token with this defect is refused with 401 invalid_token and does nothing.",
        level: Level::Must,
        applies: Applies::Always,
        deadline: None,
        refs,
        needs: &[Need::MintedToken],
        tags,
        broken_by,
    }
}

const fn row(
    id: &'static str,
    spec_row: &'static str,
    title: &'static str,
    refs: &'static [SpecRef],
    tags: &'static [&'static str],
    broken_by: &'static [&'static str],
    stimuli: Stimuli,
) -> Row {
    Row {
        meta: meta(id, spec_row, title, refs, tags, broken_by),
        stimulus: Stimulus::Tokens(stimuli),
        grade: expect::invalid_token,
        format: TokenFormat::Jwt,
        summary: None,
        stimulus_name: None,
    }
}

/// A row of labelled probes (each carries its expectation; the row's level caps them).
const fn probed(
    id: &'static str,
    spec_row: &'static str,
    title: &'static str,
    refs: &'static [SpecRef],
    tags: &'static [&'static str],
    broken_by: &'static [&'static str],
    probes: Probes,
) -> Row {
    Row {
        meta: meta(id, spec_row, title, refs, tags, broken_by),
        stimulus: Stimulus::Probes(probes),
        grade: expect::invalid_token,
        format: TokenFormat::Jwt,
        summary: None,
        stimulus_name: None,
    }
}

/// How the response to one probe is judged.
#[derive(Clone, Copy)]
enum Expect {
    /// Graded by a bundle at a level.
    Graded(Level, Grader),
    /// Recorded (spec "record"): acceptance and a proper [X] refusal are both fine and are
    /// reported; anything else is graded by [X] at this level.
    Recorded(Level),
}

/// One labelled stimulus of a probed row.
struct Probe {
    /// What the stimulus is, for the message (`aud = R + "/"`).
    what: String,
    token: String,
    expect: Expect,
}

impl Probe {
    /// Must be refused: [X], MUST.
    fn refused(what: impl Into<String>, token: String) -> Self {
        Self::graded(what, token, Level::Must, expect::invalid_token)
    }

    /// Must be accepted: [A], MUST.
    fn accepted(what: impl Into<String>, token: String) -> Self {
        Self::graded(what, token, Level::Must, expect::accepted)
    }

    /// Either outcome is fine; which one is reported.
    fn recorded(what: impl Into<String>, token: String) -> Self {
        Self {
            what: what.into(),
            token,
            expect: Expect::Recorded(Level::Info),
        }
    }

    fn graded(what: impl Into<String>, token: String, level: Level, grade: Grader) -> Self {
        Self {
            what: what.into(),
            token,
            expect: Expect::Graded(level, grade),
        }
    }

    /// The same expectation at another level.
    fn at(mut self, level: Level) -> Self {
        self.expect = match self.expect {
            Expect::Graded(_, grade) => Expect::Graded(level, grade),
            Expect::Recorded(_) => Expect::Recorded(level),
        };
        self
    }
}

/// What one probe saw, for summaries.
struct Seen {
    what: String,
    accepted: bool,
    /// One line: "accepted", "refused: HTTP 401 invalid_token", …
    observed: String,
}

/// `V` with every forger of `attacks` applied (those that do not fit the keys left out).
fn forged(ctx: &Context, attacks: &[Attack]) -> Option<Vec<String>> {
    Some(
        forge_each(ctx, "http://127.0.0.1:9/jwks.json", attacks)?
            .into_iter()
            .flatten()
            .collect(),
    )
}

/// Each attack applied to `V`: forged with the trusted issuer's key when the mock IdP mints,
/// else derived from the real token the token source issued (no key of its authorization
/// server needed; attacks that need one give `None`). `listener_url` is what `jku`/`x5u` name.
fn forge_each(
    ctx: &Context,
    listener_url: &str,
    attacks: &[Attack],
) -> Option<Vec<Option<String>>> {
    let attacker = ctx.attacker_key();
    if let Some(idp) = &ctx.idp {
        let spec = ctx.valid_spec()?;
        let fctx = ForgeContext {
            victim: idp.key_for(IssuerKind::Trusted, ctx.token_alg()),
            attacker,
            listener_url,
            spec: &spec,
        };
        return Some(attacks.iter().map(|a| a.forge(&fctx).ok()).collect());
    }
    let issued = ctx.issued_jws()?;
    let dctx = DeriveContext {
        issued: &issued,
        attacker,
        listener_url,
    };
    Some(attacks.iter().map(|a| a.derive(&dctx).ok()).collect())
}

/// One forged token with its attack's description as the probe label.
fn forged_probe(ctx: &Context, attack: Attack) -> Option<Probe> {
    let token = forged(ctx, std::slice::from_ref(&attack))?.pop()?;
    Some(Probe::refused(attack.description(), token))
}

fn one(
    ctx: &Context,
    edit: impl Fn(mock_idp::token::TokenSpec) -> mock_idp::token::TokenSpec,
) -> Option<Vec<String>> {
    Some(vec![ctx.mint(&edit(ctx.valid_spec()?))?])
}

/// The claims `V` stands for, as an introspection answer would carry them (without
/// `active`): spec §0.3 "For INTRO runs, V is an opaque handle whose introspection answer
/// carries the same claims".
fn introspection_claims(ctx: &Context, now: i64) -> Value {
    let mut claims = json!({
        "sub": mock_idp::server::DEFAULT_SUBJECT,
        "aud": ctx.audience,
        "client_id": mock_idp::server::CONFIDENTIAL_CLIENT_ID,
        "token_type": "Bearer",
        "iat": now,
        "exp": now + 300,
    });
    if !ctx.scope.is_empty() {
        claims["scope"] = json!(ctx.scope);
    }
    if let Some(idp) = &ctx.idp {
        claims["iss"] = json!(idp.issuer());
    }
    claims
}

/// `V` as an opaque token registered at the embedded IdP.
fn opaque_valid(ctx: &Context) -> Option<String> {
    let idp = ctx.idp.as_ref()?;
    Some(idp.register_opaque(introspection_claims(ctx, ctx.now())))
}

/// The positive control of a row: `V` in the row's token format is accepted. An opaque `V`
/// refused before any stimulus, while the JWT `V` is accepted, means the target does not
/// introspect at the embedded IdP: the row does not apply (Skip). Refused together with the
/// JWT `V`, or after the stimuli, the control broke (Error).
async fn control(ctx: &Context, format: TokenFormat, before: bool) -> Result<(), Outcome> {
    match format {
        TokenFormat::Jwt => positive_control(ctx).await.map(|_| ()),
        // Against a real authorization server, `V` is the token it issued (opaque, as the
        // row's needs require).
        TokenFormat::Opaque if ctx.idp.is_none() => positive_control(ctx).await.map(|_| ()),
        TokenFormat::Opaque => {
            let Some(token) = opaque_valid(ctx) else {
                return Err(not_evaluated());
            };
            let exchange = ctx.initialize(&Credential::Bearer(token)).await;
            if exchange.response.as_ref().is_ok_and(expect::is_accepted) {
                return Ok(());
            }
            let seen = observe(&exchange);
            Err(if before {
                // Only a target that takes the JWT V shows it merely does not introspect here;
                // one that refuses both forms cannot be judged at all.
                if let Err(mut jwt_control) = positive_control(ctx).await {
                    jwt_control.message = format!(
                        "positive controls: the opaque V was {seen}, and {}",
                        jwt_control.message
                    );
                    jwt_control.evidence.insert(0, exchange);
                    return Err(jwt_control);
                }
                Outcome {
                    evidence: vec![exchange],
                    ..Outcome::new(
                        Verdict::Skip,
                        format!(
                            "the target takes JWT access tokens but not opaque tokens \
                             introspected at the embedded mock IdP (an opaque V, reported active \
                             with V's claims, was {seen}): spec INTRO rows apply only to targets \
                             that introspect there"
                        ),
                    )
                }
            } else {
                Outcome::error(
                    format!(
                        "positive control after the stimuli: the opaque V was {seen}, so no \
                         refusal can be judged"
                    ),
                    vec![exchange],
                )
            })
        }
    }
}

fn not_evaluated() -> Outcome {
    Outcome::undeclared_need()
}

/// Answers slower than this have their time reported (a stalled dependency shows).
const SLOW_ANSWER: std::time::Duration = std::time::Duration::from_secs(1);

/// One line about a response: accepted, or how it refused (and after how long, when slow).
fn observe(exchange: &Exchange) -> String {
    let seen = describe_answer(exchange);
    if exchange.elapsed >= SLOW_ANSWER {
        format!("{seen} after {:.1} s", exchange.elapsed.as_secs_f64())
    } else {
        seen
    }
}

fn describe_answer(exchange: &Exchange) -> String {
    match &exchange.response {
        Err(e) => format!("not answered ({e})"),
        Ok(r) if expect::is_accepted(r) => "accepted".into(),
        Ok(r) if r.status >= 500 => format!("answered HTTP {} (a server error)", r.status),
        Ok(r) => {
            let error = expect::challenges(r)
                .ok()
                .and_then(|cs| {
                    cs.iter()
                        .find_map(|c| c.param("error").map(|e| format!(" {e}")))
                })
                .unwrap_or_default();
            format!("refused: HTTP {}{error}", r.status)
        }
    }
}

/// How bad a verdict is, worst first.
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

/// The weaker of two levels (a probe never grades above its row).
fn weaker(a: Level, b: Level) -> Level {
    a.max(b)
}

/// A probe's label as the object of "accepted …" / "refused …": labels that are noun
/// phrases stay as they are ("an OIDC ID token …", "V[iss→A1] signed with A2's key"); the
/// others name a token's defect ("exp 900 s ago" → "a token with exp 900 s ago").
fn stimulus_phrase(what: &str) -> String {
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| what.starts_with(p));
    if starts(&["a ", "an ", "the ", "V[", "V ", "V's "]) {
        what.to_owned()
    } else if starts(&["without ", "with ", "signed ", "MACed "]) {
        format!("a token {what}")
    } else if starts(&["introspection "]) {
        format!("an opaque token whose {what}")
    } else {
        format!("a token with {what}")
    }
}

/// The stimulus of a row of uniform tokens: its name, or the title's object ("Refuses a token
/// for another audience" → "a token for another audience"), numbered when the row has several.
fn row_stimulus(meta: &CheckMeta, name: Option<&str>, i: usize, n: usize) -> String {
    let what = name
        .or_else(|| meta.title.strip_prefix("Refuses "))
        .unwrap_or("its stimulus token");
    if n > 1 {
        format!("{what} (stimulus {} of {n})", i + 1)
    } else {
        what.to_owned()
    }
}

/// Judges one probe's exchange; the message names `stimulus`, the probe's label as the
/// object of the sentence.
fn judge_probe(row_level: Level, stimulus: &str, expect: Expect, exchange: Exchange) -> Outcome {
    match expect {
        Expect::Graded(level, grade) => {
            judge_stimulus(weaker(level, row_level), Some(stimulus), exchange, grade)
        }
        Expect::Recorded(level) => {
            if exchange.response.as_ref().is_ok_and(expect::is_accepted) {
                Outcome {
                    evidence: vec![exchange],
                    ..Outcome::new(Verdict::Pass, format!("accepted {stimulus} (recorded)"))
                }
            } else {
                judge_stimulus(
                    weaker(level, row_level),
                    Some(stimulus),
                    exchange,
                    expect::invalid_token,
                )
            }
        }
    }
}

async fn run_row(ctx: &Context, row: &Row) -> Outcome {
    // Stimuli derived from a real token must come from one valid for a while: a refusal of
    // one that expired meanwhile would prove nothing.
    if let Err(why) = ctx.refresh_tokens().await {
        return Outcome::error(format!("positive control: {why}"), Vec::new());
    }
    let probes = match row.stimulus {
        Stimulus::Tokens(stimuli) => stimuli(ctx).map(|tokens| {
            let n = tokens.len();
            tokens
                .into_iter()
                .enumerate()
                .map(|(i, token)| Probe {
                    what: row_stimulus(&row.meta, row.stimulus_name, i, n),
                    token,
                    expect: Expect::Graded(row.meta.level, row.grade),
                })
                .collect::<Vec<_>>()
        }),
        Stimulus::Probes(build) => build(ctx, ctx.now()),
    };
    let Some(probes) = probes.filter(|p| !p.is_empty()) else {
        return match ctx.calibration.found() {
            // Rows attacking one algorithm's keys have no stimulus for a target that accepts
            // no token signed with it.
            Some(found) => Outcome::new(
                Verdict::Skip,
                format!(
                    "no stimulus applies: the target accepts valid tokens signed with {} only, \
                     and this row attacks keys of other algorithms",
                    found
                        .algs
                        .iter()
                        .map(|a| a.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            None => Outcome::new(
                Verdict::NotEvaluated,
                "no stimulus could be built for this target",
            ),
        };
    };
    if let Err(o) = negative_control(ctx).await {
        return o;
    }
    if let Err(o) = control(ctx, row.format, true).await {
        return o;
    }
    let mut results = Vec::with_capacity(probes.len());
    for probe in probes {
        let exchange = ctx.initialize(&Credential::Bearer(probe.token)).await;
        let seen = observe(&exchange);
        let accepted = exchange.response.as_ref().is_ok_and(expect::is_accepted);
        let stimulus = match row.stimulus {
            Stimulus::Tokens(_) => probe.what.clone(),
            Stimulus::Probes(_) => stimulus_phrase(&probe.what),
        };
        let outcome = judge_probe(row.meta.level, &stimulus, probe.expect, exchange);
        results.push((
            Seen {
                what: probe.what,
                accepted,
                observed: seen,
            },
            outcome,
        ));
    }
    if let Err(o) = control(ctx, row.format, false).await {
        return o;
    }
    match row.stimulus {
        Stimulus::Tokens(_) => worst_of(results),
        Stimulus::Probes(_) => combined(results, row.summary),
    }
}

/// The worst outcome as it is (rows of uniform stimuli: the first of equally bad ones).
fn worst_of(results: Vec<(Seen, Outcome)>) -> Outcome {
    let mut worst: Option<Outcome> = None;
    for (_, outcome) in results {
        if worst
            .as_ref()
            .is_none_or(|w| severity(outcome.verdict) < severity(w.verdict))
        {
            worst = Some(outcome);
        }
    }
    worst.unwrap_or_else(|| Outcome::new(Verdict::NotEvaluated, "no stimulus was sent"))
}

/// The worst outcome, with every probe's observation in the message and the evidence of
/// every probe that did not pass.
fn combined(results: Vec<(Seen, Outcome)>, summary: Option<Summary>) -> Outcome {
    let (seen, outcomes): (Vec<Seen>, Vec<Outcome>) = results.into_iter().unzip();
    let lines = seen
        .iter()
        .map(|s| format!("{}: {}", s.what, s.observed))
        .collect::<Vec<_>>()
        .join("; ");
    let note = summary.and_then(|f| f(&seen));
    let Some(worst_index) = (0..outcomes.len()).min_by_key(|&i| (severity(outcomes[i].verdict), i))
    else {
        return Outcome::new(Verdict::NotEvaluated, "no stimulus was sent");
    };
    let mut evidence = Vec::new();
    let mut worst = None;
    for (i, outcome) in outcomes.into_iter().enumerate() {
        if i == worst_index {
            worst = Some(outcome);
        } else if outcome.verdict != Verdict::Pass {
            evidence.extend(outcome.evidence);
        }
    }
    let Some(mut outcome) = worst else {
        return Outcome::new(Verdict::NotEvaluated, "no stimulus was sent");
    };
    outcome.evidence.extend(evidence);
    // The worst probe's message names its stimulus already.
    let head = if outcome.verdict == Verdict::Pass {
        "every stimulus as expected".to_owned()
    } else {
        outcome.message.clone()
    };
    outcome.message = match note {
        Some(note) => format!("{head} — {note} — seen: {lines}"),
        None => format!("{head} — seen: {lines}"),
    };
    outcome
}

/// The token checks, in spec order (§1.3, §1.4, §1.5).
pub fn checks() -> Vec<Check<Context>> {
    let rows = |rows: &'static [Row]| {
        rows.iter()
            .map(|row| Check::new(row.meta, move |ctx| Box::pin(run_row(ctx, row))))
    };
    let mut checks: Vec<Check<Context>> = rows(audience::ROWS).collect();
    checks.extend(audience::checks());
    checks.extend(rows(validation::ROWS));
    checks.extend(validation::jwks_checks());
    checks.extend(rows(validation::INTROSPECTION_ROWS));
    checks.extend(rows(attacks::ROWS));
    checks.extend(attacks::checks());
    checks
}

/// Whether a check applies only to targets that introspect opaque tokens at the embedded
/// mock IdP (spec INTRO rows); against other targets it is Skip.
pub fn needs_introspection(id: &str) -> bool {
    [
        audience::ROWS,
        validation::ROWS,
        validation::INTROSPECTION_ROWS,
        attacks::ROWS,
    ]
    .into_iter()
    .flatten()
    .any(|row| row.meta.id == id && row.format == TokenFormat::Opaque)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::ProbeRequest;

    fn exchange(status: u16, www: Option<&str>, body: &str) -> Exchange {
        let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        if let Some(w) = www {
            headers.push(("www-authenticate".to_owned(), w.to_owned()));
        }
        Exchange {
            request: ProbeRequest::new("POST", "http://127.0.0.1:9/mcp"),
            response: Ok(RecordedResponse {
                status,
                headers,
                body: body.as_bytes().to_vec(),
                truncated: false,
                body_incomplete: None,
            }),
            elapsed: std::time::Duration::from_millis(5),
            retried_after: None,
        }
    }

    fn accepted() -> Exchange {
        exchange(200, None, r#"{"jsonrpc":"2.0","id":1,"result":{}}"#)
    }

    fn refused() -> Exchange {
        exchange(
            401,
            Some(r#"Bearer error="invalid_token", resource_metadata="http://x""#),
            "{}",
        )
    }

    fn seen(what: &str, e: &Exchange) -> Seen {
        Seen {
            what: what.into(),
            accepted: e.response.as_ref().is_ok_and(expect::is_accepted),
            observed: observe(e),
        }
    }

    #[test]
    fn a_recorded_probe_passes_on_either_acceptable_outcome() {
        let recorded = Expect::Recorded(Level::Info);
        for e in [accepted(), refused()] {
            assert_eq!(
                judge_probe(Level::Must, "x", recorded, e).verdict,
                Verdict::Pass
            );
        }
        let crash = exchange(500, None, "boom");
        assert_eq!(
            judge_probe(Level::Must, "x", recorded, crash).verdict,
            Verdict::Info
        );
    }

    #[test]
    fn a_probe_never_grades_above_its_row() {
        let must_refuse = Expect::Graded(Level::Must, expect::invalid_token);
        assert_eq!(
            judge_probe(Level::Must, "x", must_refuse, accepted()).verdict,
            Verdict::Fail
        );
        assert_eq!(
            judge_probe(Level::Should, "x", must_refuse, accepted()).verdict,
            Verdict::Warn
        );
        assert_eq!(
            judge_probe(Level::Info, "x", must_refuse, accepted()).verdict,
            Verdict::Info
        );
    }

    #[test]
    fn the_worst_probe_decides_and_every_observation_is_reported() {
        let probes = [("exp 5 s ago", refused()), ("aud = {}", accepted())];
        let results: Vec<(Seen, Outcome)> = probes
            .into_iter()
            .map(|(what, e)| {
                let s = seen(what, &e);
                let expect = Expect::Graded(Level::Info, expect::invalid_token);
                (
                    s,
                    judge_probe(Level::Info, &stimulus_phrase(what), expect, e),
                )
            })
            .collect();
        let outcome = combined(results, None);
        // An Info after a Pass still shows: INFO rows report what deviates.
        assert_eq!(outcome.verdict, Verdict::Info);
        // One sentence about the worst probe, naming its stimulus, then every observation.
        assert!(
            outcome.message.starts_with(
                "accepted a token with aud = {}: HTTP 200 with a JSON-RPC result, no challenge \
                 — seen: "
            ),
            "{}",
            outcome.message
        );
        assert!(
            outcome
                .message
                .contains("exp 5 s ago: refused: HTTP 401 invalid_token; aud = {}: accepted"),
            "{}",
            outcome.message
        );
        assert_eq!(outcome.evidence.len(), 1);
    }

    #[test]
    fn uniform_rows_keep_the_first_of_equally_bad_outcomes() {
        let fail = |message: &str| (seen("x", &accepted()), Outcome::new(Verdict::Fail, message));
        let pass = (seen("y", &refused()), Outcome::new(Verdict::Pass, "ok"));
        let outcome = worst_of(vec![pass, fail("first"), fail("second")]);
        assert_eq!(
            (outcome.verdict, outcome.message.as_str()),
            (Verdict::Fail, "first")
        );
    }

    #[test]
    fn probe_labels_become_the_object_of_the_sentence() {
        for (label, phrase) in [
            ("without sub", "a token without sub"),
            ("exp 900 s ago", "a token with exp 900 s ago"),
            (
                "an OIDC ID token (aud = client_id)",
                "an OIDC ID token (aud = client_id)",
            ),
            (
                "V[iss→A1] signed with A2's key",
                "V[iss→A1] signed with A2's key",
            ),
            (
                "signed by the AS's ES256 key",
                "a token signed by the AS's ES256 key",
            ),
            (
                "introspection answers active false with V's claims",
                "an opaque token whose introspection answers active false with V's claims",
            ),
        ] {
            assert_eq!(stimulus_phrase(label), phrase);
        }
        let aud_wrong = meta(
            "rs.token.x",
            "rs-x",
            "Refuses a token for another audience",
            &[],
            &[],
            &[],
        );
        assert_eq!(
            row_stimulus(&aud_wrong, None, 1, 3),
            "a token for another audience (stimulus 2 of 3)"
        );
        let signature = meta("rs.token.x", "rs-x", "Checks the signature", &[], &[], &[]);
        assert_eq!(row_stimulus(&signature, None, 0, 1), "its stimulus token");
        assert_eq!(
            row_stimulus(
                &signature,
                Some("a token whose signature was altered"),
                0,
                1
            ),
            "a token whose signature was altered"
        );
    }

    #[test]
    fn slow_answers_show_their_time() {
        let mut e = refused();
        e.elapsed = std::time::Duration::from_millis(2500);
        assert_eq!(observe(&e), "refused: HTTP 401 invalid_token after 2.5 s");
    }
}
