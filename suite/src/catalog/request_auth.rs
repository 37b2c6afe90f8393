//! Spec §1.2: every request is authenticated, by exactly one well-formed credential, before
//! anything is processed.

use serde_json::json;

use crate::catalog::{mcp, rfc};
use crate::check::{CheckMeta, Need, Outcome};
use crate::engine::calibrate::{judge, negative_control, open_session, positive_control};
use crate::engine::context::Context;
use crate::engine::probe::{self, Credential};
use crate::engine::runner::{Check, CheckFuture};
use crate::expect::{self, Part};
use crate::model::{Level, Verdict};

const RFC6750: &str = "https://www.rfc-editor.org/rfc/rfc6750";

pub const SCHEME_CASE: CheckMeta = CheckMeta {
    id: "rs.token.scheme-case",
    row: "rs-scheme-case-insensitive",
    title: "Matches the Bearer scheme without regard to case",
    summary: "bearer, BEARER and bEaReR are the same auth-scheme (RFC 9110 §11.1).",
    level: Level::Must,
    refs: &[rfc(
        "RFC 9110",
        "§11.1",
        "auth-scheme names are case-insensitive",
        "https://www.rfc-editor.org/rfc/rfc9110",
    )],
    needs: &[Need::MintedToken],
    tags: &[],
    broken_by: &["case-sensitive-scheme"],
};

pub const MULTIPLE_AUTHORIZATION: CheckMeta = CheckMeta {
    id: "rs.auth.multiple-authorization-headers",
    row: "rs-multiple-authorization-headers",
    title: "Refuses two Authorization header fields",
    summary: "A request with two credentials is malformed: 400 invalid_request preferred, never accepted.",
    level: Level::Should,
    refs: &[rfc(
        "RFC 6750",
        "§3.1",
        "a request with more than one credential is invalid_request",
        RFC6750,
    )],
    needs: &[Need::MintedToken],
    tags: &["parser differential"],
    broken_by: &["first-authorization-wins"],
};

pub const EVERY_REQUEST: CheckMeta = CheckMeta {
    id: "rs.auth.every-request",
    row: "rs-auth-every-request",
    title: "Authenticates every request, not only the first of a session",
    summary: "A session id is never proof of identity: a request with the session but no token gets 401.",
    level: Level::Must,
    refs: &[mcp(
        "Token Requirements",
        "authorization is included in every HTTP request, even within a session",
    )],
    needs: &[Need::MintedToken],
    tags: &["session hijacking"],
    broken_by: &["session-is-authentication"],
};

pub const NO_PROCESSING: CheckMeta = CheckMeta {
    id: "rs.auth.no-processing-before-auth",
    row: "rs-no-processing-before-auth",
    title: "A refused request has no effect",
    summary: "Tool calls refused for bad credentials never reach the tool (the canary does not move).",
    level: Level::Must,
    refs: &[mcp(
        "Security Considerations",
        "validate tokens before processing the request",
    )],
    needs: &[Need::MintedToken, Need::Canary],
    tags: &[],
    broken_by: &["process-before-auth"],
};

fn scheme_case(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        if let Err(o) = positive_control(ctx).await {
            return o;
        }
        let Some(token) = ctx.valid_token() else {
            return Outcome::new(
                Verdict::NotEvaluated,
                "needs tokens minted by the embedded mock IdP",
            );
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
        Outcome::new(Verdict::Pass, "every spelling of the scheme was accepted")
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
        let credential = Credential::Headers(vec![
            ("authorization".into(), format!("Bearer {token}")),
            ("authorization".into(), "Bearer second-credential".into()),
        ]);
        let exchange = ctx.initialize(&credential).await;
        judge(Level::Should, exchange, expect::malformed_request)
    })
}

fn every_request(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let Some(token) = ctx.valid_token() else {
            return Outcome::new(
                Verdict::NotEvaluated,
                "needs tokens minted by the embedded mock IdP",
            );
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

fn no_processing(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let Some(canary) = &ctx.canary else {
            return Outcome::new(
                Verdict::NotEvaluated,
                "needs an observable canary tool (the embedded demo has one)",
            );
        };
        let Some(token) = ctx.valid_token() else {
            return Outcome::new(
                Verdict::NotEvaluated,
                "needs tokens minted by the embedded mock IdP",
            );
        };
        // Calibration: a valid call moves the canary by exactly one.
        let valid = Credential::Bearer(token);
        let session = match open_session(ctx, &valid).await {
            Ok(s) => s,
            Err(o) => return o,
        };
        let call = probe::tools_call_body(&canary.tool, json!({}));
        let before = (canary.count)();
        let control = ctx.send(&valid, Some(&session), &call).await;
        if (canary.count)() != before + 1 {
            return Outcome::error(
                "positive control: a valid canary call did not move the canary",
                vec![control],
            );
        }
        let mut evidence = Vec::new();
        for bad in [Credential::None, Credential::Bearer("garbage".into())] {
            let before = (canary.count)();
            let exchange = ctx.send(&bad, Some(&session), &call).await;
            let moved = (canary.count)() != before;
            evidence.push(exchange);
            if moved {
                return Outcome {
                    expected: vec!["[MUST] a refused tool call has no side effect".into()],
                    actual: "the canary tool ran for a request with bad credentials".into(),
                    evidence,
                    ..Outcome::new(
                        Verdict::Fail,
                        "the request was processed before authentication",
                    )
                };
            }
        }
        Outcome::new(Verdict::Pass, "refused calls left the canary untouched")
    })
}

pub fn checks() -> Vec<Check<Context>> {
    vec![
        Check::new(SCHEME_CASE, scheme_case),
        Check::new(MULTIPLE_AUTHORIZATION, multiple_authorization),
        Check::new(EVERY_REQUEST, every_request),
        Check::new(NO_PROCESSING, no_processing),
    ]
}
