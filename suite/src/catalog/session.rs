//! Spec §1.2: sessions are bound to the principal that opened them.

use crate::catalog::mcp;
use crate::catalog::request_auth::{answer, observation, reaction};
use crate::check::{Applies, CheckMeta, Need, Outcome};
use crate::engine::calibrate::judge;
use crate::engine::context::Context;
use crate::engine::probe::{self, Credential};
use crate::engine::runner::{Check, CheckFuture};
use crate::expect::{self, Grade, Part};
use crate::http::RecordedResponse;
use crate::model::{Level, SpecVersion, Verdict};

pub const CROSS_USER: CheckMeta = CheckMeta {
    id: "rs.session.cross-user",
    row: "rs-session-bound-to-user",
    title: "Refuses another user's token on a session",
    summary: "A session opened by alice cannot be used with bob's valid token: once each token works on its own session, bob's on alice's is refused with 401, 403 or 404. A 400 is no evidence of a binding, a 5xx is a server error, not a refusal.",
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
    needs: &[Need::ValidToken, Need::SecondPrincipal],
    tags: &["session hijacking"],
    broken_by: &[
        "session-not-bound",
        "session-mismatch-500",
        "session-mismatch-400",
    ],
};

/// Opens a session with `credential` and uses it for `tools/list`: the session id, or the
/// failed control (an Error naming `who`).
async fn own_session(ctx: &Context, who: &str, credential: &Credential) -> Result<String, Outcome> {
    let init = ctx.initialize(credential).await;
    let accepted = init
        .response
        .as_ref()
        .ok()
        .filter(|r| expect::is_accepted(r));
    let Some(accepted) = accepted else {
        return Err(Outcome::error(
            format!(
                "positive control: initialize with {who}'s valid token got {}",
                answer(&init)
            ),
            vec![init],
        ));
    };
    let Some(session) = accepted.header("mcp-session-id").map(str::to_owned) else {
        return Err(Outcome::new(
            Verdict::Skip,
            "the target issues no Mcp-Session-Id, so there is no session to bind",
        ));
    };
    let own = ctx
        .send(credential, Some(&session), &probe::tools_list_body())
        .await;
    if !own.response.as_ref().is_ok_and(expect::is_accepted) {
        return Err(Outcome::error(
            format!(
                "positive control: {who}'s tools/list on {who}'s own session got {}, so a \
                 refusal on another session would prove nothing",
                answer(&own)
            ),
            vec![init, own],
        ));
    }
    Ok(session)
}

/// The row's refusals: 401, 403 or 404. A 400 is no evidence of a binding (it may be about
/// anything in the request), and a 5xx is a server error, not a refusal (design rule 2).
fn bound_refusal(resp: &RecordedResponse) -> Grade {
    Grade {
        assertions: vec![
            observation(
                Part::NotAccepted,
                Level::Should,
                "bob's token on alice's session is not accepted",
                !expect::is_accepted(resp),
                format!("HTTP {} and a JSON-RPC result", resp.status),
            ),
            observation(
                Part::No5xx,
                Level::Must,
                "no 5xx answer",
                resp.status < 500,
                format!("HTTP {}", resp.status),
            ),
            observation(
                Part::Status,
                Level::Should,
                "refused with 401, 403 or 404",
                matches!(resp.status, 401 | 403 | 404),
                format!("HTTP {}", resp.status),
            ),
        ],
    }
}

fn cross_user(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let (alice, bob) = match ctx.two_principals().await {
            Ok((a, b)) => (Credential::Bearer(a), Credential::Bearer(b)),
            Err(why) => {
                return Outcome::error(format!("positive control: {why}"), Vec::new());
            }
        };
        // Controls: each valid token works on its own session, so a refusal of bob's on
        // alice's is about the binding, not about bob's token.
        let session = match own_session(ctx, "alice", &alice).await {
            Ok(s) => s,
            Err(o) => return o,
        };
        if let Err(o) = own_session(ctx, "bob", &bob).await {
            return o;
        }
        let other = ctx
            .send(&bob, Some(&session), &probe::tools_list_body())
            .await;
        let stimulus = "bob's valid token on alice's session (tools/list)";
        let outcome = judge(Level::Should, other.clone(), bound_refusal);
        if outcome.verdict == Verdict::Pass {
            return Outcome {
                message: format!(
                    "the target refused {stimulus} with {}: the session is bound to its user",
                    answer(&other)
                ),
                ..outcome
            };
        }
        let status = other.response.as_ref().map_or(0, |r| r.status);
        let message = match status {
            500.. => format!(
                "the target answered {stimulus} with {}, a server error, not a refusal",
                answer(&other)
            ),
            1..=499 if !other.response.as_ref().is_ok_and(expect::is_accepted) => format!(
                "the target answered {stimulus} with {}, not one of the refusals that show a \
                 binding (401, 403, 404)",
                answer(&other)
            ),
            _ => reaction(stimulus, &other),
        };
        Outcome {
            message,
            actual: answer(&other),
            ..outcome
        }
    })
}

pub fn checks() -> Vec<Check<Context>> {
    vec![Check::new(CROSS_USER, cross_user)]
}
