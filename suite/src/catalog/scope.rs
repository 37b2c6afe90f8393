//! Spec §1.6: scope and step-up. The checks call the step-up tool, which needs `extra` on top
//! of the minimum scope `min` that `V` carries, with tokens whose scope varies; each token gets
//! a session of its own. Tool calls hold `Context::tool_calls_exclusive`, so the canary count
//! other checks read is not moved by them.

use mock_idp::token::TokenSpec;
use serde_json::Value;

use crate::catalog::request_auth::{flip_case, observation};
use crate::catalog::{mcp, rfc};
use crate::check::{Applies, CheckMeta, Need, Outcome};
use crate::engine::calibrate::{judge, open_session};
use crate::engine::context::Context;
use crate::engine::probe::{self, Credential};
use crate::engine::runner::{Check, CheckFuture};
use crate::expect::{self, Grade, Part};
use crate::http::{Exchange, RecordedResponse};
use crate::model::{Level, SpecVersion, Verdict};

const RFC6749: &str = "https://www.rfc-editor.org/rfc/rfc6749";
const RFC9068: &str = "https://www.rfc-editor.org/rfc/rfc9068";
const MCP_DRAFT_AUTH: &str =
    "https://modelcontextprotocol.io/specification/draft/basic/authorization";

pub const INSUFFICIENT: CheckMeta = CheckMeta {
    id: "rs.scope.insufficient",
    row: "rs-scope-insufficient",
    title: "Answers a call that needs more scope with 403 insufficient_scope",
    summary: "A valid token without the scope a tool needs gets 403 and a step-up challenge naming it, never 401.",
    level: Level::Must,
    applies: Applies::Always,
    deadline: None,
    refs: &[mcp(
        "Runtime Insufficient Scope Errors",
        "insufficient scope gets 403 with error=insufficient_scope",
    )],
    needs: &[Need::MintedToken, Need::Canary],
    tags: &[],
    broken_by: &["scope-401", "scope-403-bare"],
};

pub const NOT_401: CheckMeta = CheckMeta {
    id: "rs.scope.not-401",
    row: "rs-scope-not-401",
    title: "Never answers a lack of scope with 401 invalid_token",
    summary: "A valid token that lacks a tool's scope is not answered with 401 or invalid_token: clients drop the token on those, so step-up could never happen.",
    level: Level::Must,
    applies: Applies::Always,
    deadline: None,
    refs: &[mcp(
        "Error Handling",
        "403 is for insufficient scope; 401 is for missing or invalid tokens",
    )],
    needs: &[Need::MintedToken],
    tags: &[],
    broken_by: &["scope-401"],
};

pub const SINGLE_CHALLENGE: CheckMeta = CheckMeta {
    id: "rs.scope.single-challenge",
    row: "rs-scope-single-challenge",
    title: "Names every needed scope in one step-up challenge",
    summary: "Once min plus the extra scope is shown to be accepted and min alone refused, following the 403 (a token with min plus the challenged scopes) succeeds on the first retry, without a second 403. Written for MCP 2026-07-28 (V3); V2 also recommended naming already granted scopes, which this check does not require (OQ-8).",
    level: Level::Should,
    applies: Applies::InVersions {
        versions: &[SpecVersion::V2026_07_28],
        otherwise: Level::Info,
    },
    deadline: None,
    refs: &[rfc(
        "MCP 2026-07-28 Authorization",
        "Server Scope Management",
        "one challenge names every scope the operation needs",
        MCP_DRAFT_AUTH,
    )],
    needs: &[Need::MintedToken],
    tags: &[],
    broken_by: &["scope-challenge-incomplete"],
};

pub const HIERARCHY: CheckMeta = CheckMeta {
    id: "rs.scope.hierarchy",
    row: "rs-scope-hierarchy",
    title: "Accepts a broader scope that implies the needed one",
    summary: "min plus the broader scope the operator declares to imply the tool's extra scope is accepted [A]. Skipped without that declaration: hierarchies are not discoverable (OQ-28).",
    level: Level::Must,
    applies: Applies::InVersions {
        versions: &[SpecVersion::V2026_07_28],
        otherwise: Level::Info,
    },
    deadline: None,
    refs: &[rfc(
        "MCP 2026-07-28 Authorization",
        "Step-Up Authorization Flow",
        "servers account for scope hierarchies when they check scopes",
        MCP_DRAFT_AUTH,
    )],
    needs: &[Need::MintedToken],
    tags: &[],
    broken_by: &["ignore-scope-hierarchy"],
};

pub const ORDER_DUPES: CheckMeta = CheckMeta {
    id: "rs.scope.order-dupes",
    row: "rs-scope-order-dupes",
    title: "Decides the same whatever the order or repetition of scope values",
    summary: "\"min extra\", \"extra min\" and \"min min extra\" give the same outcome on the canary tool (needs min) and on the step-up tool (needs both): scope is a set.",
    level: Level::Must,
    applies: Applies::Always,
    deadline: None,
    refs: &[rfc(
        "RFC 6749",
        "§3.3",
        "scope is a list of space-delimited values whose order does not matter",
        RFC6749,
    )],
    needs: &[Need::MintedToken, Need::Canary],
    tags: &["parser differential"],
    broken_by: &["scope-first-only"],
};

pub const CASE: CheckMeta = CheckMeta {
    id: "rs.scope.case",
    row: "rs-scope-case",
    title: "Compares scope values case-sensitively",
    summary: "min plus the extra scope with its case flipped does not grant the extra scope: 403 insufficient_scope [F] (RFC 6749 §3.3: scope values are case-sensitive).",
    level: Level::Should,
    applies: Applies::Always,
    deadline: None,
    refs: &[rfc(
        "RFC 6749",
        "§3.3",
        "scope values are case-sensitive strings",
        RFC6749,
    )],
    needs: &[Need::MintedToken],
    tags: &[],
    broken_by: &["scope-case-insensitive"],
};

pub const FORMAT: CheckMeta = CheckMeta {
    id: "rs.scope.format",
    row: "rs-scope-format",
    title: "Reads the scope claim as a space-delimited string",
    summary: "scope \"min extra\" as a string is accepted by the step-up tool [A] (SHOULD, RFC 9068 §2.2.3). The vendor forms (scope as an array, scp as an array) are recorded as Info when they grant access; refusing them is preferred, and rs-claim-types judges the array as a MUST.",
    level: Level::Should,
    applies: Applies::Always,
    deadline: None,
    refs: &[rfc(
        "RFC 9068",
        "§2.2.3",
        "scope is a JSON string of space-delimited values",
        RFC9068,
    )],
    needs: &[Need::MintedToken],
    tags: &[],
    broken_by: &["scope-first-only"],
};

/// What needs the extra scope.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Operation {
    /// A tool whose call needs more than the valid token's scope (per-tool scopes).
    Tool(String),
    /// Every request (spec OQ-33): the target requires its scopes on every request, so
    /// `initialize` itself is the operation, and `V` without them is the lacking token.
    EveryRequest,
}

impl Operation {
    fn describe(&self) -> String {
        match self {
            Operation::Tool(tool) => format!("tool {tool}"),
            Operation::EveryRequest => "initialize".to_owned(),
        }
    }
}

/// What every step-up check works with.
struct StepUpCase {
    tool: Operation,
    spec: TokenSpec,
    /// The scope values of `V`.
    min: Vec<String>,
    /// The scope values the tool needs beyond `min`.
    extra: Vec<String>,
    parent: Option<String>,
}

impl StepUpCase {
    fn from(ctx: &Context) -> Result<Self, Outcome> {
        let Some(spec) = ctx.valid_spec() else {
            return Err(Outcome::undeclared_need());
        };
        if let Some(step_up) = &ctx.step_up {
            return Ok(Self {
                tool: Operation::Tool(step_up.tool.clone()),
                spec,
                min: words(&ctx.scope),
                extra: words(&step_up.extra_scope),
                parent: step_up.parent_scope.clone(),
            });
        }
        if ctx
            .calibration
            .found()
            .is_some_and(|found| found.scope_required)
        {
            return Ok(Self {
                tool: Operation::EveryRequest,
                spec,
                min: Vec::new(),
                extra: words(&ctx.scope),
                parent: None,
            });
        }
        Err(Outcome::new(
            Verdict::NotEvaluated,
            "needs an operation that requires a scope: the target accepted a valid token without \
             any scope, and no tool that needs more was named (--step-up-tool NAME)",
        ))
    }

    /// `min` and then `more`, without repeats.
    fn min_and(&self, more: &[String]) -> String {
        let mut all = self.min.clone();
        for w in more {
            if !all.contains(w) {
                all.push(w.clone());
            }
        }
        all.join(" ")
    }

    fn full(&self) -> String {
        self.min_and(&self.extra)
    }

    /// `V` with this scope; an empty one means no scope claim at all.
    fn with_scope(&self, scope: &str) -> TokenSpec {
        if scope.is_empty() {
            self.spec.clone().without_claim("scope")
        } else {
            self.spec.clone().scope(scope)
        }
    }

    /// The extra scope as one string.
    fn extra(&self) -> String {
        self.extra.join(" ")
    }
}

/// A token's scope for a message: `scope "a b"`, or `no scope claim`.
fn scope_words(scope: &str) -> String {
    if scope.is_empty() {
        "no scope claim".to_owned()
    } else {
        format!("scope {scope:?}")
    }
}

fn words(scope: &str) -> Vec<String> {
    scope
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Performs the operation with the token of `spec`: a tool is called in a session of its own
/// (a refused `initialize` is then a failed control, `Err`); on a target that requires its
/// scope on every request, `initialize` is the operation and its answer the exchange.
async fn call_tool(ctx: &Context, spec: &TokenSpec, op: &Operation) -> Result<Exchange, Outcome> {
    let Some(token) = ctx.mint(spec) else {
        return Err(Outcome::undeclared_need());
    };
    let credential = Credential::Bearer(token);
    let tool = match op {
        Operation::EveryRequest => return Ok(ctx.initialize(&credential).await),
        Operation::Tool(tool) => tool,
    };
    let session = open_session(ctx, &credential).await?;
    Ok(ctx
        .send(
            &credential,
            Some(&session),
            &probe::tools_call_body(tool, ctx.arguments_for(tool)),
        )
        .await)
}

/// As `call_tool`, but a token refused at `initialize` is an answer too: that exchange.
async fn call_tool_or_refusal(ctx: &Context, spec: &TokenSpec, op: &Operation) -> Exchange {
    let credential = Credential::Bearer(ctx.mint(spec).unwrap_or_default());
    let init = ctx.initialize(&credential).await;
    let Operation::Tool(tool) = op else {
        return init;
    };
    let session = init
        .response
        .as_ref()
        .ok()
        .filter(|r| expect::is_accepted(r))
        .and_then(|r| r.header("mcp-session-id").map(str::to_owned));
    match session {
        Some(session) => {
            ctx.send(
                &credential,
                Some(&session),
                &probe::tools_call_body(tool, ctx.arguments_for(tool)),
            )
            .await
        }
        None => init,
    }
}

fn accepted(exchange: &Exchange) -> bool {
    exchange.response.as_ref().is_ok_and(expect::is_accepted)
}

fn seen(exchange: &Exchange) -> String {
    match &exchange.response {
        Ok(r) => match r.header("www-authenticate") {
            Some(w) => format!("HTTP {} ({w})", r.status),
            None => format!("HTTP {}", r.status),
        },
        Err(e) => e.to_string(),
    }
}

/// The positive control of the step-up checks: `min ∪ extra` is enough for the tool, so a
/// refusal with less is about scope and nothing else.
async fn full_scope_control(ctx: &Context, case: &StepUpCase) -> Result<(), Outcome> {
    let control = call_tool(ctx, &case.with_scope(&case.full()), &case.tool).await?;
    if accepted(&control) {
        Ok(())
    } else {
        Err(Outcome::error(
            format!(
                "positive control: {} was refused with scope {:?}: {}",
                case.tool.describe(),
                case.full(),
                seen(&control)
            ),
            vec![control],
        ))
    }
}

/// The negative control: `min` alone is not enough, so the tool really needs the extra scope.
async fn min_scope_control(ctx: &Context, case: &StepUpCase) -> Result<Exchange, Outcome> {
    let refused = call_tool(ctx, &case.with_scope(&case.min.join(" ")), &case.tool).await?;
    if accepted(&refused) {
        Err(Outcome::error(
            "negative control: the tool accepted a token without its extra scope, so nothing about scope can be judged",
            vec![refused],
        ))
    } else {
        Ok(refused)
    }
}

/// [A] as the graded expectation of a positive observation.
fn acceptance(level: Level, what: String) -> impl Fn(&RecordedResponse) -> Grade {
    move |r| Grade {
        assertions: vec![observation(
            Part::NotAccepted,
            level,
            format!("{what} is accepted [A]"),
            expect::is_accepted(r),
            format!("HTTP {}", r.status),
        )],
    }
}

fn insufficient(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let case = match StepUpCase::from(ctx) {
            Ok(c) => c,
            Err(o) => return o,
        };
        let _exclusive = ctx.tool_calls_exclusive().await;
        if let Err(o) = full_scope_control(ctx, &case).await {
            return o;
        }
        let call = match call_tool(ctx, &case.with_scope(&case.min.join(" ")), &case.tool).await {
            Ok(c) => c,
            Err(o) => return o,
        };
        let needed = case.extra();
        judge(Level::Must, call, move |r| {
            expect::insufficient_scope(r, &needed)
        })
    })
}

fn not_401(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let case = match StepUpCase::from(ctx) {
            Ok(c) => c,
            Err(o) => return o,
        };
        let _exclusive = ctx.tool_calls_exclusive().await;
        if let Err(o) = full_scope_control(ctx, &case).await {
            return o;
        }
        let call = match call_tool(ctx, &case.with_scope(&case.min.join(" ")), &case.tool).await {
            Ok(c) => c,
            Err(o) => return o,
        };
        judge(Level::Must, call, |r| {
            let errors: Vec<String> = expect::challenges(r)
                .map(|list| {
                    list.iter()
                        .filter_map(|c| c.param("error").map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            Grade {
                assertions: vec![
                    observation(
                        Part::NotAccepted,
                        Level::Must,
                        "not accepted without the needed scope",
                        !expect::is_accepted(r),
                        format!("HTTP {} with a JSON-RPC result", r.status),
                    ),
                    observation(
                        Part::No5xx,
                        Level::Must,
                        "no 5xx answer",
                        r.status < 500,
                        format!("HTTP {}", r.status),
                    ),
                    observation(
                        Part::Status,
                        Level::Must,
                        "status is not 401",
                        r.status != 401,
                        "HTTP 401",
                    ),
                    observation(
                        Part::ErrorCode,
                        Level::Must,
                        "no error=\"invalid_token\"",
                        !errors.iter().any(|e| e == "invalid_token"),
                        format!("error={errors:?}"),
                    ),
                ],
            }
        })
    })
}

fn single_challenge(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let case = match StepUpCase::from(ctx) {
            Ok(c) => c,
            Err(o) => return o,
        };
        let _exclusive = ctx.tool_calls_exclusive().await;
        // Controls: min ∪ extra is enough and min alone is not, so a refused retry is about
        // the challenge, not about a call that fails whatever the scope.
        if let Err(o) = full_scope_control(ctx, &case).await {
            return o;
        }
        let first = match min_scope_control(ctx, &case).await {
            Ok(e) => e,
            Err(o) => return o,
        };
        let challenged = first.response.as_ref().ok().and_then(|r| {
            let scope = expect::challenges(r)
                .ok()?
                .into_iter()
                .filter(|c| c.is_scheme("Bearer") || c.is_scheme("DPoP"))
                .find_map(|c| c.param("scope").map(str::to_owned));
            (r.status == 403).then_some(scope).flatten()
        });
        let expected = vec![
            "[SHOULD] the 403 challenge names scopes, and min plus them is accepted on the first retry"
                .to_owned(),
        ];
        let Some(challenged) = challenged else {
            return Outcome {
                expected,
                actual: seen(&first),
                message: format!(
                    "the target answered {} (token with {}) with {}, not a 403 challenge naming \
                     a scope to step up to",
                    case.tool.describe(),
                    scope_words(&case.min.join(" ")),
                    seen(&first)
                ),
                evidence: vec![first],
                ..Outcome::new(Verdict::Warn, "")
            };
        };
        let retry_scope = case.min_and(&words(&challenged));
        let retry = match call_tool(ctx, &case.with_scope(&retry_scope), &case.tool).await {
            Ok(e) => e,
            Err(o) => return o,
        };
        if accepted(&retry) {
            return Outcome {
                expected,
                ..Outcome::new(
                    Verdict::Pass,
                    format!("the retry with scope {retry_scope:?} was accepted"),
                )
            };
        }
        Outcome {
            expected,
            actual: format!(
                "the challenge named {challenged:?}; the retry with {retry_scope:?} got {}",
                seen(&retry)
            ),
            message: format!(
                "the target refused the retry of {} with the challenged scope {retry_scope:?}: \
                 {}, although {:?} is accepted",
                case.tool.describe(),
                seen(&retry),
                case.full()
            ),
            evidence: vec![first, retry],
            ..Outcome::new(Verdict::Warn, "")
        }
    })
}

fn hierarchy(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let case = match StepUpCase::from(ctx) {
            Ok(c) => c,
            Err(o) => return o,
        };
        let Some(parent) = case.parent.clone() else {
            return Outcome::new(
                Verdict::Skip,
                "no scope hierarchy is declared for the target (hierarchies are not discoverable, OQ-28)",
            );
        };
        let _exclusive = ctx.tool_calls_exclusive().await;
        if let Err(o) = full_scope_control(ctx, &case).await {
            return o;
        }
        if let Err(o) = min_scope_control(ctx, &case).await {
            return o;
        }
        let scope = case.min_and(&[parent]);
        let call = match call_tool(ctx, &case.with_scope(&scope), &case.tool).await {
            Ok(c) => c,
            Err(o) => return o,
        };
        judge(
            Level::Must,
            call,
            acceptance(Level::Must, format!("scope {scope:?}")),
        )
    })
}

fn order_dupes(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let case = match StepUpCase::from(ctx) {
            Ok(c) => c,
            Err(o) => return o,
        };
        // Per-tool scopes: the canary (needs min) and the step-up tool (needs both). Scope on
        // every request: `initialize` alone.
        let operations = match (&case.tool, &ctx.canary) {
            (Operation::Tool(_), None) => {
                return Outcome::new(
                    Verdict::NotEvaluated,
                    "needs a tool that requires only the minimum scope (the canary; \
                     --canary-tool NAME)",
                );
            }
            (Operation::Tool(_), Some(canary)) => {
                vec![Operation::Tool(canary.tool.clone()), case.tool.clone()]
            }
            (Operation::EveryRequest, _) => vec![Operation::EveryRequest],
        };
        let canonical = case.full();
        let reversed = words(&canonical)
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join(" ");
        let first = case
            .min
            .first()
            .or(case.extra.first())
            .cloned()
            .unwrap_or_default();
        let repeated = format!("{first} {canonical}");
        let _exclusive = ctx.tool_calls_exclusive().await;
        for (n, tool) in operations.iter().enumerate() {
            let reference = match call_tool(ctx, &case.with_scope(&canonical), tool).await {
                Ok(e) => e,
                Err(o) => return o,
            };
            if !accepted(&reference) && (n == 0 || case.tool == Operation::EveryRequest) {
                return Outcome::error(
                    format!(
                        "positive control: {} was refused with scope {canonical:?}",
                        tool.describe()
                    ),
                    vec![reference],
                );
            }
            for variant in [&reversed, &repeated] {
                let exchange = match call_tool(ctx, &case.with_scope(variant), tool).await {
                    Ok(e) => e,
                    Err(o) => return o,
                };
                if accepted(&exchange) != accepted(&reference) {
                    return Outcome {
                        expected: vec![format!(
                            "[MUST] scope {variant:?} decides like {canonical:?}"
                        )],
                        actual: format!(
                            "{}: {canonical:?} got {}, {variant:?} got {}",
                            tool.describe(),
                            seen(&reference),
                            seen(&exchange)
                        ),
                        evidence: vec![reference, exchange],
                        ..Outcome::new(
                            Verdict::Fail,
                            "the order or repetition of scope values changed the decision",
                        )
                    };
                }
            }
        }
        Outcome::new(
            Verdict::Pass,
            "order and repetition of scope values did not change any decision",
        )
    })
}

fn case_sensitive(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let case = match StepUpCase::from(ctx) {
            Ok(c) => c,
            Err(o) => return o,
        };
        let flipped: Vec<String> = case.extra.iter().map(|s| flip_case(s)).collect();
        if flipped == case.extra {
            return Outcome::new(
                Verdict::Skip,
                "the extra scope has no letters whose case could change",
            );
        }
        let _exclusive = ctx.tool_calls_exclusive().await;
        if let Err(o) = full_scope_control(ctx, &case).await {
            return o;
        }
        let call = match call_tool(ctx, &case.with_scope(&case.min_and(&flipped)), &case.tool).await
        {
            Ok(c) => c,
            Err(o) => return o,
        };
        let needed = case.extra();
        judge(Level::Should, call, move |r| {
            expect::insufficient_scope(r, &needed)
        })
    })
}

fn scope_format(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let case = match StepUpCase::from(ctx) {
            Ok(c) => c,
            Err(o) => return o,
        };
        let _exclusive = ctx.tool_calls_exclusive().await;
        if let Err(o) = min_scope_control(ctx, &case).await {
            return o;
        }
        let full = case.full();
        let string = match call_tool(ctx, &case.with_scope(&full), &case.tool).await {
            Ok(c) => c,
            Err(o) => return o,
        };
        let outcome = judge(
            Level::Should,
            string,
            acceptance(Level::Should, format!("scope as the string {full:?}")),
        );
        if outcome.verdict != Verdict::Pass {
            return outcome;
        }
        let values = Value::from(words(&full));
        let vendor_forms = [
            (
                "scope as a JSON array",
                case.spec.clone().claim("scope", values.clone()),
            ),
            (
                "scp as a JSON array (no scope claim)",
                case.spec
                    .clone()
                    .without_claim("scope")
                    .claim("scp", values),
            ),
        ];
        let mut granted = Vec::new();
        let mut evidence = Vec::new();
        for (form, spec) in vendor_forms {
            // A vendor form may be refused as a malformed token already at initialize.
            let exchange = call_tool_or_refusal(ctx, &spec, &case.tool).await;
            if accepted(&exchange) {
                granted.push(form);
                evidence.push(exchange);
            }
        }
        if granted.is_empty() {
            return Outcome::new(
                Verdict::Pass,
                "the scope string was honoured; the vendor forms granted nothing",
            );
        }
        Outcome {
            expected: vec![
                "[SHOULD] the scope string is honoured".into(),
                "[INFO] preferred: vendor forms grant nothing".into(),
            ],
            actual: format!("access granted with {}", granted.join(" and ")),
            evidence,
            ..Outcome::new(
                Verdict::Info,
                "the scope string was honoured, and vendor scope forms granted access too",
            )
        }
    })
}

pub fn checks() -> Vec<Check<Context>> {
    vec![
        Check::new(INSUFFICIENT, insufficient),
        Check::new(NOT_401, not_401),
        Check::new(SINGLE_CHALLENGE, single_challenge),
        Check::new(HIERARCHY, hierarchy),
        Check::new(ORDER_DUPES, order_dupes),
        Check::new(CASE, case_sensitive),
        Check::new(FORMAT, scope_format),
    ]
}
