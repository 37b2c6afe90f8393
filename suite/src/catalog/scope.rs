//! Spec §1.6: scope and step-up.

use serde_json::json;

use crate::catalog::mcp;
use crate::check::{CheckMeta, Need, Outcome};
use crate::engine::calibrate::{judge, open_session};
use crate::engine::context::Context;
use crate::engine::probe::{self, Credential};
use crate::engine::runner::{Check, CheckFuture};
use crate::expect;
use crate::model::{Level, Verdict};

pub const INSUFFICIENT: CheckMeta = CheckMeta {
    id: "rs.scope.insufficient",
    row: "rs-scope-insufficient",
    title: "Answers a call that needs more scope with 403 insufficient_scope",
    summary: "A valid token without the scope a tool needs gets 403 and a step-up challenge naming it, never 401.",
    level: Level::Must,
    refs: &[mcp(
        "Runtime Insufficient Scope Errors",
        "insufficient scope gets 403 with error=insufficient_scope",
    )],
    needs: &[Need::MintedToken, Need::Canary],
    tags: &[],
    broken_by: &["scope-401"],
};

fn insufficient(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let Some(step_up) = &ctx.step_up else {
            return Outcome::new(
                Verdict::NotEvaluated,
                "needs a tool that requires an extra scope (the embedded demo has one)",
            );
        };
        let Some(token) = ctx.valid_token() else {
            return Outcome::new(
                Verdict::NotEvaluated,
                "needs tokens minted by the embedded mock IdP",
            );
        };
        let credential = Credential::Bearer(token);
        let session = match open_session(ctx, &credential).await {
            Ok(s) => s,
            Err(o) => return o,
        };
        let call = ctx
            .send(
                &credential,
                Some(&session),
                &probe::tools_call_body(&step_up.tool, json!({})),
            )
            .await;
        let needed = step_up.extra_scope.clone();
        judge(Level::Must, call, move |r| {
            expect::insufficient_scope(r, &needed)
        })
    })
}

pub fn checks() -> Vec<Check<Context>> {
    vec![Check::new(INSUFFICIENT, insufficient)]
}
