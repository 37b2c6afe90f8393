//! `bearer_methods_supported`: what it lists, and that the server behaves as advertised.

use crate::catalog::presentation::form_request;
use crate::catalog::request_auth::observation;
use crate::catalog::rfc;
use crate::check::{Applies, CheckMeta, Need, Outcome};
use crate::engine::calibrate::{negative_control, positive_control};
use crate::engine::context::Context;
use crate::engine::probe::{self, Credential};
use crate::engine::runner::{Check, CheckFuture};
use crate::expect::{self, Assertion, Part};
use crate::http::{Exchange, RecordedResponse};
use crate::model::{Level, Verdict};

use super::{OAUTH21, RFC9728, graded, prm_document, status_of};

pub const BEARER_METHODS: CheckMeta = CheckMeta {
    id: "rs.prm.bearer-methods",
    row: "rs-prm-bearer-methods-consistent",
    title: "PRM bearer_methods_supported omits query and matches behaviour",
    summary: "When bearer_methods_supported is present it does not list query (MCP clients must not put tokens in the URI), it lists header (the server takes header tokens), and the server behaves as advertised: a token in the query, or in a form body, is not used when that method is not listed. Graded SHOULD, the row's consistency level; rs.token.query-ignored grades the query MUST itself.",
    level: Level::Should,
    applies: Applies::Always,
    deadline: None,
    refs: &[
        rfc(
            "RFC 9728",
            "§2",
            "bearer_methods_supported lists the methods the resource supports",
            RFC9728,
        ),
        rfc(
            "OAuth 2.1",
            "§5.1",
            "resource servers ignore access tokens in the URI query",
            OAUTH21,
        ),
    ],
    needs: &[Need::Anonymous, Need::ValidToken],
    tags: &[],
    broken_by: &[
        "prm-advertises-query",
        "accept-query-token",
        "accept-form-token",
    ],
};

/// Refused for lack of usable credentials: a 401, or a 400 whose challenge says
/// invalid_request (RFC 6750 §3.1). Anything else, for a body that is no MCP message, means
/// the request got past authentication with the form token.
fn refused_by_authentication(resp: &RecordedResponse) -> bool {
    match resp.status {
        401 => true,
        400 => expect::challenges(resp).is_ok_and(|cs| {
            cs.iter()
                .any(|c| c.param("error") == Some("invalid_request"))
        }),
        _ => false,
    }
}

/// How the server treats the token methods PRM does not list (calibrated).
async fn unlisted_methods_refused(
    ctx: &Context,
    methods: &[&str],
    token: &str,
    evidence: &mut Vec<Exchange>,
) -> Result<Vec<Assertion>, Outcome> {
    negative_control(ctx).await?;
    positive_control(ctx).await?;
    let mut rules = Vec::new();
    if !methods.contains(&"query") {
        let url = format!("{}?access_token={token}", ctx.endpoint);
        let exchange = ctx
            .driver
            .send(probe::rpc(
                &url,
                &Credential::None,
                None,
                &probe::initialize_body(),
            ))
            .await;
        let used = exchange.response.as_ref().is_ok_and(expect::is_accepted);
        rules.push(observation(
            Part::NotAccepted,
            Level::Should,
            "query is not listed, so a token in ?access_token= is not used",
            !used,
            format!("{}: the query token was accepted", status_of(&exchange)),
        ));
        evidence.push(exchange);
    }
    if !methods.contains(&"body") {
        let exchange = ctx
            .driver
            .send(form_request(ctx, &Credential::None, token))
            .await;
        let refused = exchange
            .response
            .as_ref()
            .is_ok_and(refused_by_authentication);
        rules.push(observation(
            Part::NotAccepted,
            Level::Should,
            "body is not listed, so a token in a form body is refused by authentication (401, or 400 invalid_request)",
            refused,
            format!(
                "{} without an authentication challenge: the form-body token was used",
                status_of(&exchange)
            ),
        ));
        evidence.push(exchange);
    }
    positive_control(ctx).await?;
    Ok(rules)
}

fn bearer_methods(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let (prm, exchange) = match prm_document(ctx).await {
            Ok(found) => found,
            Err(outcome) => return outcome,
        };
        if !prm.object.contains("bearer_methods_supported") {
            return Outcome::new(
                Verdict::Pass,
                "bearer_methods_supported is absent: nothing advertised to contradict",
            );
        }
        let methods = prm.strings("bearer_methods_supported");
        let mut assertions = vec![
            observation(
                Part::Status,
                Level::Should,
                "query is not listed",
                !methods.contains(&"query"),
                format!("{methods:?}"),
            ),
            observation(
                Part::Status,
                Level::Should,
                "header is listed (MCP clients send the token in the Authorization header)",
                methods.contains(&"header"),
                format!("{methods:?}"),
            ),
        ];
        let mut evidence = vec![exchange];
        let behaviour = match ctx.valid_token() {
            Some(token) => {
                match unlisted_methods_refused(ctx, &methods, &token, &mut evidence).await {
                    Ok(rules) => {
                        assertions.extend(rules);
                        "and the server behaves as advertised"
                    }
                    Err(outcome) => return outcome,
                }
            }
            None => "behaviour not probed: no token can be minted in this run",
        };
        graded(
            Level::Should,
            assertions,
            evidence,
            format!("bearer_methods_supported {methods:?} {behaviour}"),
        )
    })
}

pub(super) fn checks() -> Vec<Check<Context>> {
    vec![Check::new(BEARER_METHODS, bearer_methods)]
}
