//! Spec §1.2: how the token is presented.

use crate::catalog::{mcp, rfc};
use crate::check::{CheckMeta, Need, Outcome};
use crate::engine::calibrate::{judge, negative_control, positive_control};
use crate::engine::context::Context;
use crate::engine::probe::{self, Credential};
use crate::engine::runner::Check;
use crate::expect::{self, Part};
use crate::model::{Level, Verdict};

pub const BEARER_VALID: CheckMeta = CheckMeta {
    id: "rs.token.bearer-valid",
    row: "rs-bearer-valid",
    title: "Accepts a valid Bearer token",
    summary: "The positive control: a valid access token for this resource is accepted.",
    level: Level::Must,
    refs: &[mcp(
        "Token Requirements",
        "a valid access token is accepted",
    )],
    needs: &[Need::MintedToken],
    tags: &[],
    broken_by: &["reject-everything"],
};

pub const QUERY_IGNORED: CheckMeta = CheckMeta {
    id: "rs.token.query-ignored",
    row: "rs-token-query-ignored",
    title: "Never authenticates with a token in the URI query",
    summary: "A valid token in ?access_token= with no Authorization header is never accepted.",
    level: Level::Must,
    refs: &[rfc(
        "OAuth 2.1",
        "§5.1",
        "resource servers must not accept access tokens in the query string",
        "https://datatracker.ietf.org/doc/draft-ietf-oauth-v2-1/",
    )],
    needs: &[Need::MintedToken],
    tags: &[],
    broken_by: &["accept-query-token"],
};

pub fn checks() -> Vec<Check<Context>> {
    vec![
        Check::new(BEARER_VALID, |ctx| {
            Box::pin(async move {
                match positive_control(ctx).await {
                    Ok(_) => Outcome::new(Verdict::Pass, "the valid token was accepted"),
                    // The positive control itself is the check: a refusal is a failure here.
                    Err(o) => Outcome {
                        verdict: Verdict::Fail,
                        expected: vec!["[MUST] HTTP 200 with a JSON-RPC result".into()],
                        actual: o.message.clone(),
                        ..o
                    },
                }
            })
        }),
        Check::new(QUERY_IGNORED, |ctx| {
            Box::pin(async move {
                if let Err(o) = negative_control(ctx).await {
                    return o;
                }
                if let Err(o) = positive_control(ctx).await {
                    return o;
                }
                let token = ctx.valid_token().unwrap_or_default();
                let url = format!("{}?access_token={token}", ctx.endpoint);
                let request = probe::rpc(&url, &Credential::None, None, &probe::initialize_body());
                let exchange = ctx.driver.send(request).await;
                judge(Level::Must, exchange, |r| {
                    expect::unauthenticated(r).only(&[Part::NotAccepted, Part::No5xx])
                })
            })
        }),
    ]
}
