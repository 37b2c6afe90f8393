//! Spec §1.2: every request is authenticated, by exactly one well-formed credential, before
//! anything is processed.

use mock_idp::forge::{Attack, ForgeContext};
use mock_idp::server::IssuerKind;
use mock_idp::token::TokenSpec;

use crate::catalog::{mcp, rfc};
use crate::check::{Applies, CheckMeta, Need, Outcome};
use crate::engine::calibrate::{judge, negative_control, open_session, positive_control, refusal};
use crate::engine::context::Context;
use crate::engine::probe::{self, Credential};
use crate::engine::runner::{Check, CheckFuture};
use crate::expect::{self, Assertion, Grade, Part};
use crate::http::{Exchange, ProbeRequest, RecordedResponse};
use crate::model::{Level, SpecVersion, Verdict};

const RFC6750: &str = "https://www.rfc-editor.org/rfc/rfc6750";
const OAUTH21: &str = "https://datatracker.ietf.org/doc/draft-ietf-oauth-v2-1/";

pub const SCHEME_CASE: CheckMeta = CheckMeta {
    id: "rs.token.scheme-case",
    row: "rs-scheme-case-insensitive",
    title: "Matches the Bearer scheme without regard to case",
    summary: "bearer, BEARER and bEaReR are the same auth-scheme (RFC 9110 §11.1) and are accepted; the token itself is case-sensitive, so a case-flipped token gets 401 invalid_token [X].",
    level: Level::Must,
    applies: Applies::Always,
    deadline: None,
    refs: &[rfc(
        "RFC 9110",
        "§11.1",
        "auth-scheme names are case-insensitive",
        "https://www.rfc-editor.org/rfc/rfc9110",
    )],
    needs: &[Need::ValidToken],
    tags: &[],
    broken_by: &["case-sensitive-scheme"],
};

pub const MULTIPLE_AUTHORIZATION: CheckMeta = CheckMeta {
    id: "rs.auth.multiple-authorization-headers",
    row: "rs-multiple-authorization-headers",
    title: "Refuses two Authorization header fields",
    summary: "V and a second credential, as two Authorization fields or one comma-joined field, each with V first and with V last (a server that reads only the first or only the last field must not pass): 400 invalid_request [Q] preferred (RFC 6750 §3.1 SHOULD), 401 tolerated (OQ-1), never accepted.",
    level: Level::Should,
    applies: Applies::Always,
    deadline: None,
    refs: &[rfc(
        "RFC 6750",
        "§3.1",
        "a request with more than one credential is invalid_request",
        RFC6750,
    )],
    needs: &[Need::ValidToken],
    tags: &["parser differential"],
    broken_by: &[
        "first-authorization-wins",
        "last-authorization-wins",
        "lenient-credentials",
    ],
};

pub const EVERY_REQUEST: CheckMeta = CheckMeta {
    id: "rs.auth.every-request",
    row: "rs-auth-every-request",
    title: "Authenticates every request, not only the first of a session",
    summary: "A session id is never proof of identity: a request with the session but no token gets 401.",
    level: Level::Must,
    applies: Applies::Always,
    deadline: None,
    refs: &[mcp(
        "Token Requirements",
        "authorization is included in every HTTP request, even within a session",
    )],
    needs: &[Need::ValidToken],
    tags: &["session hijacking"],
    broken_by: &["session-is-authentication"],
};

pub const NO_PROCESSING: CheckMeta = CheckMeta {
    id: "rs.auth.no-processing-before-auth",
    row: "rs-no-processing-before-auth",
    title: "A refused request has no effect",
    summary: "The canary tool is called with every negative credential whose refusal is a MUST: none, a token that does not parse, V plus a second word, expired, not yet valid, another audience, an untrusted issuer, a broken signature, alg none, and with DPoP a bound token without a proof and under Bearer. None of them runs the tool (the canary does not move) or gets a JSON-RPC result.",
    level: Level::Must,
    applies: Applies::Always,
    deadline: None,
    refs: &[mcp(
        "Security Considerations",
        "validate tokens before processing the request",
    )],
    needs: &[Need::MintedToken, Need::Canary],
    tags: &[],
    broken_by: &["process-before-auth", "process-before-exp-check"],
};

pub const UNSUPPORTED_SCHEME: CheckMeta = CheckMeta {
    id: "rs.auth.unsupported-scheme",
    row: "rs-auth-unsupported-scheme",
    title: "Treats credentials in an unsupported scheme as no credentials",
    summary: "Basic or Token credentials get the bare 401 challenge [U], without an error code: OAuth 2.1 §5.3.2 gives no error information for an unsupported method.",
    level: Level::Should,
    applies: Applies::Always,
    deadline: None,
    refs: &[rfc(
        "OAuth 2.1",
        "§5.3.2",
        "a request without a usable authentication method gets no error code",
        OAUTH21,
    )],
    needs: &[Need::ValidToken],
    tags: &[],
    broken_by: &["error-on-unsupported-scheme"],
};

pub const MALFORMED_CREDENTIALS: CheckMeta = CheckMeta {
    id: "rs.auth.malformed-credentials",
    row: "rs-auth-malformed-credentials",
    title: "Refuses syntactically broken Bearer credentials without a 5xx",
    summary: "Bearer without a token, with only spaces, with two words, with a quote, comma or tab inside, or 64 KB long: never accepted, never 5xx; 400 invalid_request [Q] or 401 invalid_token [X] both pass (OQ-1); Bearer with nothing after it is no credentials, so the bare challenge [U] passes too, and the 64 KB one may be refused by the HTTP layer as too large: 431, 413, a 400 without a challenge, or a status line and a closed connection (OQ-31).",
    level: Level::Must,
    applies: Applies::Always,
    deadline: None,
    refs: &[
        rfc(
            "RFC 6750",
            "§2.1",
            "credentials are \"Bearer\" 1*SP b64token: exactly one token",
            RFC6750,
        ),
        rfc(
            "RFC 6750",
            "§3.1",
            "a malformed request is invalid_request (400), a malformed token invalid_token (401)",
            RFC6750,
        ),
    ],
    needs: &[Need::ValidToken],
    tags: &["parser differential", "fuzz seed"],
    broken_by: &["lenient-credentials", "error-500-on-garbage"],
};

pub const ALL_METHODS: CheckMeta = CheckMeta {
    id: "rs.auth.all-methods-protected",
    row: "rs-all-methods-protected",
    title: "Needs a token for GET and DELETE on the MCP endpoint too",
    summary: "GET (the SSE stream) and DELETE (ending a session) without a token get 401 [U], or 405 where the method is unsupported; the session survives the unauthenticated DELETE.",
    level: Level::Must,
    applies: Applies::InVersions {
        versions: &[SpecVersion::V2025_06_18, SpecVersion::V2025_11_25],
        otherwise: Level::Info,
    },
    deadline: None,
    refs: &[mcp(
        "Token Requirements",
        "authorization is included in every HTTP request from client to server",
    )],
    needs: &[Need::ValidToken],
    tags: &["session hijacking"],
    broken_by: &["unauthenticated-delete"],
};

/// One graded observation outside the §0.4 bundles, for checks with their own oracle.
pub(crate) fn observation(
    part: Part,
    level: Level,
    requirement: impl Into<String>,
    holds: bool,
    actual: impl Into<String>,
) -> Assertion {
    Assertion {
        part,
        level,
        requirement: requirement.into(),
        holds,
        actual: if holds { String::new() } else { actual.into() },
    }
}

/// The worse of two outcomes (Error, then Fail, Warn, Info, Pass), so a row with several
/// stimuli reports its worst one.
pub(crate) fn worse(a: Outcome, b: Outcome) -> Outcome {
    if rank(b.verdict) < rank(a.verdict) {
        b
    } else {
        a
    }
}

/// How bad a verdict is, worst first.
fn rank(v: Verdict) -> u8 {
    match v {
        Verdict::Error => 0,
        Verdict::Fail => 1,
        Verdict::Warn => 2,
        Verdict::Info => 3,
        _ => 4,
    }
}

/// `text` with the case of its ASCII letters swapped (tokens and scope values are
/// case-sensitive, auth-scheme names are not).
pub(crate) fn flip_case(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_uppercase() {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect()
}

/// What came back, in a few words: `HTTP 200 and a JSON-RPC result`, `HTTP 401 and a Bearer
/// challenge with error="invalid_token"`, `HTTP 400 and no challenge`.
pub(crate) fn answer(exchange: &Exchange) -> String {
    let r = match &exchange.response {
        Ok(r) => r,
        Err(e) => return format!("no answer ({e})"),
    };
    if expect::is_accepted(r) {
        return format!("HTTP {} and a JSON-RPC result", r.status);
    }
    let challenge = expect::challenges(r)
        .ok()
        .and_then(|list| list.into_iter().next());
    match challenge {
        Some(c) => match c.param("error") {
            Some(e) => format!(
                "HTTP {} and a {} challenge with error=\"{e}\"",
                r.status, c.scheme
            ),
            None => format!("HTTP {} and a bare {} challenge", r.status, c.scheme),
        },
        None => format!("HTTP {} and no challenge", r.status),
    }
}

/// One plain sentence: what the target did to `stimulus`.
pub(crate) fn reaction(stimulus: &str, exchange: &Exchange) -> String {
    match &exchange.response {
        Err(e) => format!("the target did not answer {stimulus}: {e}"),
        Ok(r) if expect::is_accepted(r) => {
            format!("the target accepted {stimulus}: {}", answer(exchange))
        }
        Ok(_) => format!("the target answered {stimulus} with {}", answer(exchange)),
    }
}

/// The labelled stimuli of one row, each graded: the worst outcome, its message the plain
/// sentence about its stimulus, what every stimulus got as the actual line, and the evidence
/// of every stimulus that did not pass. `pass` is the message when all pass.
pub(crate) fn several(results: Vec<(String, Exchange, Outcome)>, pass: &str) -> Outcome {
    let actual = results
        .iter()
        .map(|(what, exchange, _)| format!("{what}: {}", answer(exchange)))
        .collect::<Vec<_>>()
        .join("; ");
    let mut worst: Option<(String, Exchange, Outcome)> = None;
    let mut evidence = Vec::new();
    for (what, exchange, outcome) in results {
        if outcome.verdict != Verdict::Pass {
            evidence.push(exchange.clone());
        }
        if worst
            .as_ref()
            .is_none_or(|(_, _, w)| rank(outcome.verdict) < rank(w.verdict))
        {
            worst = Some((what, exchange, outcome));
        }
    }
    let Some((what, exchange, outcome)) = worst else {
        return Outcome::new(Verdict::NotEvaluated, "no stimulus was sent");
    };
    if outcome.verdict == Verdict::Pass {
        return Outcome {
            expected: outcome.expected,
            ..Outcome::new(Verdict::Pass, pass)
        };
    }
    Outcome {
        message: reaction(&what, &exchange),
        actual,
        evidence,
        ..outcome
    }
}

fn scheme_case(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        if let Err(o) = negative_control(ctx).await {
            return o;
        }
        if let Err(o) = positive_control(ctx).await {
            return o;
        }
        let Some(token) = ctx.valid_token() else {
            return Outcome::undeclared_need();
        };
        for scheme in ["bearer", "BEARER", "bEaReR"] {
            let credential =
                Credential::Headers(vec![("authorization".into(), format!("{scheme} {token}"))]);
            let exchange = ctx.initialize(&credential).await;
            if !exchange.response.as_ref().is_ok_and(expect::is_accepted) {
                return Outcome {
                    expected: vec![format!(
                        "[MUST] \"{scheme} <token>\" is accepted like \"Bearer <token>\""
                    )],
                    actual: match &exchange.response {
                        Ok(r) => format!("HTTP {}", r.status),
                        Err(e) => e.to_string(),
                    },
                    evidence: vec![exchange],
                    ..Outcome::new(
                        Verdict::Fail,
                        format!("the scheme spelled {scheme:?} was not accepted"),
                    )
                };
            }
        }
        // The row's note: only the scheme is case-insensitive; a case-flipped token is invalid.
        let flipped = ctx.initialize(&Credential::Bearer(flip_case(&token))).await;
        let outcome = judge(Level::Must, flipped, expect::invalid_token);
        if let Err(o) = positive_control(ctx).await {
            return o;
        }
        if outcome.verdict != Verdict::Pass {
            return Outcome {
                message: format!(
                    "the case-flipped token was not refused as invalid: {}",
                    outcome.message
                ),
                ..outcome
            };
        }
        Outcome::new(
            Verdict::Pass,
            "every spelling of the scheme was accepted and the case-flipped token refused",
        )
    })
}

fn multiple_authorization(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        if let Err(o) = negative_control(ctx).await {
            return o;
        }
        if let Err(o) = positive_control(ctx).await {
            return o;
        }
        let token = ctx.valid_token().unwrap_or_default();
        let valid = format!("Bearer {token}");
        let other = "Bearer second-credential";
        let field = |value: String| vec![("authorization".to_owned(), value)];
        let two = |first: &str, second: &str| {
            let mut fields = field(first.to_owned());
            fields.extend(field(second.to_owned()));
            fields
        };
        // Both orders, so a server that reads only the first field and one that reads only the
        // last both meet V; then the one comma-joined line a proxy may merge them into.
        let forms = [
            (
                "two Authorization fields with the valid token first",
                two(&valid, other),
            ),
            (
                "two Authorization fields with the valid token last",
                two(other, &valid),
            ),
            (
                "one comma-joined Authorization field with the valid token first",
                field(format!("{valid}, {other}")),
            ),
            (
                "one comma-joined Authorization field with the valid token last",
                field(format!("{other}, {valid}")),
            ),
        ];
        let mut results = Vec::new();
        for (name, fields) in forms {
            let exchange = ctx.initialize(&Credential::Headers(fields)).await;
            let outcome = judge(Level::Should, exchange.clone(), expect::malformed_request);
            results.push((name.to_owned(), exchange, outcome));
        }
        if let Err(o) = positive_control(ctx).await {
            return o;
        }
        several(
            results,
            "both credentials in either order, as two fields or one comma-joined field, were \
             refused as malformed",
        )
    })
}

/// `grade` without its scope-parameter sub-assertion when the target needs no scope (there
/// is none for a challenge to name).
fn scope_hint_if_due(ctx: &Context, grade: Grade) -> Grade {
    if ctx.scope_hint_due() {
        grade
    } else {
        grade.without(&[Part::ScopeParam])
    }
}

fn unsupported_scheme(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let token = ctx.valid_token().unwrap_or_default();
        let mut worst: Option<Outcome> = None;
        for value in ["Basic dXNlcjpwYXNz".to_owned(), format!("Token {token}")] {
            let credential = Credential::Headers(vec![("authorization".into(), value)]);
            let outcome = refusal(ctx, Level::Should, credential, |r| {
                scope_hint_if_due(ctx, expect::unauthenticated(r))
            })
            .await;
            worst = Some(match worst {
                Some(w) => worse(w, outcome),
                None => outcome,
            });
        }
        worst.unwrap_or_else(|| Outcome::new(Verdict::NotEvaluated, "no stimulus"))
    })
}

/// The malformed credentials of the row, each with a name for the report and its bundle.
fn malformed_credentials(token: &str) -> Vec<(&'static str, String, Grader)> {
    let split = (0..=token.len() / 2)
        .rev()
        .find(|&i| token.is_char_boundary(i))
        .unwrap_or(0);
    let with = |c: char| format!("Bearer {}{c}{}", &token[..split], &token[split..]);
    let malformed: Grader = expect::invalid_token_or_malformed;
    vec![
        (
            "Bearer with nothing after it",
            "Bearer".to_owned(),
            expect::empty_credential,
        ),
        // HTTP strips the trailing spaces, so this reaches the target as `Bearer` alone
        // (OQ-31).
        (
            "Bearer followed by spaces only",
            "Bearer    ".to_owned(),
            expect::empty_credential,
        ),
        (
            "a valid token plus a second word",
            format!("Bearer {token} extra"),
            malformed,
        ),
        ("a token with a double quote inside", with('"'), malformed),
        ("a token with a comma inside", with(','), malformed),
        (
            "a token with a tab (control character) inside",
            with('\t'),
            malformed,
        ),
        (
            "a 64 KB token",
            format!("Bearer {}", "A".repeat(64 * 1024)),
            oversized,
        ),
    ]
}

/// How one malformed credential's answer is graded.
type Grader = fn(&RecordedResponse) -> Grade;

/// The 64 KB token: refused by the HTTP layer as too large (OQ-31), or [Q]/[X] (OQ-1).
fn oversized(resp: &RecordedResponse) -> Grade {
    expect::oversized_credential(resp, expect::invalid_token_or_malformed)
}

fn malformed(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let Some(token) = ctx.valid_token() else {
            return Outcome::undeclared_need();
        };
        if let Err(o) = negative_control(ctx).await {
            return o;
        }
        if let Err(o) = positive_control(ctx).await {
            return o;
        }
        let mut worst = Outcome::new(Verdict::Pass, "every malformed credential was refused");
        for (name, value, grade) in malformed_credentials(&token) {
            let credential = Credential::Headers(vec![("authorization".into(), value)]);
            let exchange = ctx.initialize(&credential).await;
            let outcome = judge(Level::Must, exchange, |r| scope_hint_if_due(ctx, grade(r)));
            let outcome = Outcome {
                message: format!("{name}: {}", outcome.message),
                ..outcome
            };
            worst = worse(worst, outcome);
        }
        if let Err(o) = positive_control(ctx).await {
            return o;
        }
        worst
    })
}

/// A non-POST request to the endpoint on `session`, without credentials.
fn bare_request(ctx: &Context, method: &str, session: &str) -> ProbeRequest {
    ProbeRequest::new(method, &ctx.endpoint)
        .header("accept", "text/event-stream")
        .header("mcp-protocol-version", probe::PROTOCOL_VERSION)
        .header("mcp-session-id", session)
}

/// [U] (the parts about authentication), or 405 for a method the endpoint does not offer.
fn unauthenticated_or_unsupported(resp: &RecordedResponse) -> Grade {
    if resp.status == 405 {
        return Grade {
            assertions: vec![observation(
                Part::Status,
                Level::Must,
                "405: the method is not offered at all",
                true,
                "",
            )],
        };
    }
    expect::unauthenticated(resp).only(&[
        Part::NotAccepted,
        Part::No5xx,
        Part::Status,
        Part::Challenge,
    ])
}

fn all_methods(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let Some(token) = ctx.valid_token() else {
            return Outcome::undeclared_need();
        };
        if let Err(o) = negative_control(ctx).await {
            return o;
        }
        let valid = Credential::Bearer(token);
        let session = match open_session(ctx, &valid).await {
            Ok(s) => s,
            Err(o) => return o,
        };
        let mut worst = Outcome::new(Verdict::Pass, "GET and DELETE need a token");
        let mut evidence: Vec<Exchange> = Vec::new();
        for method in ["GET", "DELETE"] {
            let exchange = ctx.driver.send(bare_request(ctx, method, &session)).await;
            evidence.push(exchange.clone());
            let outcome = judge(Level::Must, exchange, unauthenticated_or_unsupported);
            worst = worse(
                worst,
                Outcome {
                    message: format!("{method} without a token: {}", outcome.message),
                    ..outcome
                },
            );
        }
        if worst.verdict != Verdict::Pass {
            return worst;
        }
        // A refused DELETE has no effect: the session still serves its owner.
        let after = ctx
            .send(&valid, Some(&session), &probe::tools_list_body())
            .await;
        if !after.response.as_ref().is_ok_and(expect::is_accepted) {
            evidence.push(after);
            return Outcome {
                expected: vec![
                    "[MUST] a DELETE without a token leaves the session usable by its owner".into(),
                ],
                actual: "the owner's next request on the session was not accepted".into(),
                evidence,
                ..Outcome::new(
                    Verdict::Fail,
                    "the unauthenticated DELETE ended the session",
                )
            };
        }
        worst
    })
}

fn every_request(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let Some(token) = ctx.valid_token() else {
            return Outcome::undeclared_need();
        };
        let session = match open_session(ctx, &Credential::Bearer(token)).await {
            Ok(s) => s,
            Err(o) => return o,
        };
        let exchange = ctx
            .send(&Credential::None, Some(&session), &probe::tools_list_body())
            .await;
        judge(Level::Must, exchange, |r| {
            expect::unauthenticated(r).only(&[Part::NotAccepted, Part::No5xx, Part::Status])
        })
    })
}

/// An audience no target is.
const OTHER_AUDIENCE: &str = "https://other-resource.invalid/mcp";

/// The negative credentials of spec §1.2–§1.5 and §1.7 whose refusal is a MUST, each with
/// what it is (rs-no-processing-before-auth: "every credential from the negative rows"). The
/// DPoP-bound ones only when the target advertises DPoP (a Bearer-only server may ignore
/// `cnf`).
fn negative_credentials(ctx: &Context) -> Option<Vec<(&'static str, Credential)>> {
    let idp = ctx.idp.as_ref()?;
    let spec = ctx.valid_spec()?;
    let now = ctx.now();
    let token = ctx.mint(&spec)?;
    let bearer = |spec: TokenSpec| ctx.mint(&spec).map(Credential::Bearer);
    let victim = ForgeContext {
        victim: idp.key_for(IssuerKind::Trusted, ctx.token_alg()),
        attacker: idp.key_for(IssuerKind::Rogue, ctx.token_alg()),
        listener_url: "http://127.0.0.1:9/jwks.json",
        spec: &spec,
    };
    let forged = |attack: Attack| attack.forge(&victim).ok().map(Credential::Bearer);
    let untrusted = spec
        .clone()
        .iss(idp.issuer_of(IssuerKind::Rogue))
        .mint(idp.key_for(IssuerKind::Rogue, ctx.token_alg()));
    let mut list = vec![
        ("a call without credentials", Credential::None),
        (
            "a token that does not parse (Bearer garbage)",
            Credential::Bearer("garbage".into()),
        ),
        (
            "V plus a second word (Bearer V extra)",
            Credential::Headers(vec![(
                "authorization".into(),
                format!("Bearer {token} extra"),
            )]),
        ),
        (
            "a token expired 600 s ago",
            bearer(spec.clone().iat(now - 1200).exp(now - 600))?,
        ),
        (
            "a token not valid for another hour (nbf)",
            bearer(spec.clone().nbf(now + 3600))?,
        ),
        (
            "a token for another audience",
            bearer(spec.clone().aud(OTHER_AUDIENCE))?,
        ),
        (
            "a token from an untrusted issuer, signed with its key",
            Credential::Bearer(untrusted),
        ),
        (
            "a token with a broken signature",
            forged(Attack::SignatureBroken)?,
        ),
        (
            "an unsigned token (alg none)",
            forged(Attack::AlgNone {
                spelling: "none",
                keep_signature: false,
            })?,
        ),
    ];
    if ctx.dpop_advertised() {
        let bound = ctx.bound_token()?;
        list.push((
            "a DPoP-bound token under the DPoP scheme without a proof",
            Credential::Headers(vec![("authorization".into(), format!("DPoP {bound}"))]),
        ));
        list.push((
            "a DPoP-bound token under the Bearer scheme",
            Credential::Bearer(bound),
        ));
    }
    Some(list)
}

/// One canary call with a negative credential: what it set in motion.
struct Processed {
    what: &'static str,
    exchange: Exchange,
    /// How many times the canary ran.
    moved: u64,
}

impl Processed {
    /// Whether the tool ran, or its result came back.
    fn broken(&self) -> bool {
        self.moved > 0
            || self
                .exchange
                .response
                .as_ref()
                .is_ok_and(|r| expect::rpc_outcome(r).is_result())
    }

    /// What the target did, in one sentence.
    fn sentence(&self) -> String {
        let what = self.what;
        let ran = if self.moved > 0 {
            "ran the canary tool"
        } else {
            "did not run the canary tool"
        };
        match &self.exchange.response {
            Err(e) => format!("the target {ran} for {what} and did not answer: {e}"),
            Ok(r) if expect::is_accepted(r) => format!(
                "the target accepted {what} and {ran}: {}",
                answer(&self.exchange)
            ),
            Ok(r) if expect::rpc_outcome(r).is_result() => format!(
                "the target refused {what} (HTTP {}) but its body holds a JSON-RPC result, and \
                 it {ran}",
                r.status
            ),
            Ok(_) => format!(
                "the target refused {what} ({}) but ran the canary tool first",
                answer(&self.exchange)
            ),
        }
    }
}

fn no_processing(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let Some(canary) = &ctx.canary else {
            return Outcome::new(
                Verdict::NotEvaluated,
                "needs an observable canary tool (the embedded demo has one)",
            );
        };
        let (Some(token), Some(stimuli)) = (ctx.valid_token(), negative_credentials(ctx)) else {
            return Outcome::undeclared_need();
        };
        // Calibration: a valid call moves the canary by exactly one, before and after the
        // stimuli (no other check calls a tool meanwhile).
        let _exclusive = ctx.tool_calls_exclusive().await;
        let valid = Credential::Bearer(token);
        let session = match open_session(ctx, &valid).await {
            Ok(s) => s,
            Err(o) => return o,
        };
        let call = probe::tools_call_body(&canary.tool, ctx.arguments_for(&canary.tool));
        let control = |when: &'static str| {
            let call = &call;
            let session = &session;
            let valid = &valid;
            async move {
                let before = (canary.count)();
                let exchange = ctx.send(valid, Some(session), call).await;
                let moved = (canary.count)().saturating_sub(before);
                if moved == 1 && exchange.response.as_ref().is_ok_and(expect::is_accepted) {
                    return Ok(());
                }
                Err(Outcome::error(
                    format!(
                        "positive control {when}: a canary call with V got {} and moved the \
                         canary by {moved}, not 1",
                        answer(&exchange)
                    ),
                    vec![exchange],
                ))
            }
        };
        if let Err(o) = control("before the stimuli").await {
            return o;
        }
        let mut seen = Vec::new();
        for (what, credential) in stimuli {
            let before = (canary.count)();
            let exchange = ctx.send(&credential, Some(&session), &call).await;
            let moved = (canary.count)().saturating_sub(before);
            seen.push(Processed {
                what,
                exchange,
                moved,
            });
        }
        if let Err(o) = control("after the stimuli").await {
            return o;
        }
        // The negative control: a call without credentials is refused.
        if seen
            .first()
            .is_some_and(|p| p.exchange.response.as_ref().is_ok_and(expect::is_accepted))
        {
            let first = seen.swap_remove(0);
            return Outcome::error(
                format!(
                    "negative control: {} — no refusal can be judged",
                    first.sentence()
                ),
                vec![first.exchange],
            );
        }
        let expected = vec![
            "[MUST] a call refused for its credentials does not run the tool (the canary stays \
             still)"
                .to_owned(),
            "[MUST] and its answer holds no JSON-RPC result".to_owned(),
        ];
        let count = seen.len();
        let broken: Vec<Processed> = seen.into_iter().filter(Processed::broken).collect();
        let Some(first) = broken.first() else {
            return Outcome {
                expected,
                ..Outcome::new(
                    Verdict::Pass,
                    format!(
                        "the {count} calls with negative credentials were refused and left the \
                         canary untouched"
                    ),
                )
            };
        };
        let message = first.sentence();
        Outcome {
            expected,
            actual: broken
                .iter()
                .map(|p| {
                    format!(
                        "{}: {}, canary moved by {}",
                        p.what,
                        answer(&p.exchange),
                        p.moved
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
            evidence: broken.into_iter().map(|p| p.exchange).collect(),
            ..Outcome::new(Verdict::Fail, message)
        }
    })
}

pub fn checks() -> Vec<Check<Context>> {
    vec![
        Check::new(SCHEME_CASE, scheme_case),
        Check::new(UNSUPPORTED_SCHEME, unsupported_scheme),
        Check::new(MALFORMED_CREDENTIALS, malformed),
        Check::new(MULTIPLE_AUTHORIZATION, multiple_authorization),
        Check::new(EVERY_REQUEST, every_request),
        Check::new(ALL_METHODS, all_methods),
        Check::new(NO_PROCESSING, no_processing),
    ]
}
