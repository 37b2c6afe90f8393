//! Spec §1.2: sessions are bound to the principal that opened them.

use crate::catalog::mcp;
use crate::check::{Applies, CheckMeta, Need, Outcome};
use crate::engine::context::Context;
use crate::engine::probe::{self, Credential};
use crate::engine::runner::{Check, CheckFuture};
use crate::expect;
use crate::model::{Level, SpecVersion, Verdict};

pub const CROSS_USER: CheckMeta = CheckMeta {
    id: "rs.session.cross-user",
    row: "rs-session-bound-to-user",
    title: "Refuses another user's token on a session",
    summary: "A session opened by alice cannot be used with bob's valid token.",
    level: Level::Should,
    applies: Applies::InVersions {
        versions: &[SpecVersion::V2025_06_18, SpecVersion::V2025_11_25],
        otherwise: Level::Info,
    },
    deadline: None,
    refs: &[mcp(
        "Security Best Practices: Session Hijacking",
        "bind session ids to user-specific information",
    )],
    needs: &[Need::MintedToken],
    tags: &["session hijacking"],
    broken_by: &["session-not-bound"],
};

fn cross_user(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let (Some(spec), Some(_)) = (ctx.valid_spec(), ctx.idp.as_ref()) else {
            return Outcome::new(
                Verdict::NotEvaluated,
                "needs tokens minted by the embedded mock IdP",
            );
        };
        let alice =
            Credential::Bearer(ctx.mint(&spec.clone().subject("alice")).unwrap_or_default());
        let bob = Credential::Bearer(ctx.mint(&spec.subject("bob")).unwrap_or_default());
        let init = ctx.initialize(&alice).await;
        let accepted = init
            .response
            .as_ref()
            .ok()
            .filter(|r| expect::is_accepted(r));
        let Some(accepted) = accepted else {
            return Outcome::error(
                "positive control: initialize with a valid token was not accepted",
                vec![init],
            );
        };
        let Some(session) = accepted.header("mcp-session-id").map(str::to_owned) else {
            return Outcome::new(
                Verdict::Skip,
                "the target issues no Mcp-Session-Id, so there is no session to bind",
            );
        };
        let own = ctx
            .send(&alice, Some(&session), &probe::tools_list_body())
            .await;
        if !own.response.as_ref().is_ok_and(expect::is_accepted) {
            return Outcome::error(
                "positive control: alice could not use her own session",
                vec![init, own],
            );
        }
        let other = ctx
            .send(&bob, Some(&session), &probe::tools_list_body())
            .await;
        let accepted = other.response.as_ref().is_ok_and(expect::is_accepted);
        let expected =
            vec!["[SHOULD] bob's token on alice's session is refused (401, 403 or 404)".to_owned()];
        if accepted {
            Outcome {
                expected,
                actual: "HTTP 200 with a JSON-RPC result".into(),
                evidence: vec![init, other],
                ..Outcome::new(
                    Verdict::Warn,
                    "another user's token was accepted on the session",
                )
            }
        } else {
            Outcome {
                expected,
                ..Outcome::new(Verdict::Pass, "the session is bound to its user")
            }
        }
    })
}

pub fn checks() -> Vec<Check<Context>> {
    vec![Check::new(CROSS_USER, cross_user)]
}
