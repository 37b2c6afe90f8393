//! Spec §1.2: how the token is presented.

use mock_idp::unix_now;

use crate::catalog::request_auth::observation;
use crate::catalog::{mcp, rfc};
use crate::check::{Applies, CheckMeta, Need, Outcome};
use crate::engine::accepted::AudienceSource;
use crate::engine::calibrate::{judge, negative_control, positive_control};
use crate::engine::context::Context;
use crate::engine::probe::{self, Credential};
use crate::engine::runner::{Check, CheckFuture};
use crate::expect::{self, Grade, Part};
use crate::http::{ProbeRequest, RecordedResponse};
use crate::model::{Level, Verdict};
use crate::wire::www_authenticate::Challenge;

const RFC6750: &str = "https://www.rfc-editor.org/rfc/rfc6750";
const OAUTH21: &str = "https://datatracker.ietf.org/doc/draft-ietf-oauth-v2-1/";

pub const BEARER_VALID: CheckMeta = CheckMeta {
    id: "rs.token.bearer-valid",
    row: "rs-bearer-valid",
    title: "Accepts a valid Bearer token",
    summary: "The positive control: a valid access token for this resource is accepted.",
    level: Level::Must,
    applies: Applies::Always,
    deadline: None,
    refs: &[mcp(
        "Token Requirements",
        "a valid access token is accepted",
    )],
    needs: &[Need::ValidToken],
    tags: &[],
    broken_by: &["prm-resource-mismatch"],
};

pub const QUERY_IGNORED: CheckMeta = CheckMeta {
    id: "rs.token.query-ignored",
    row: "rs-token-query-ignored",
    title: "Never authenticates with a token in the URI query",
    summary: "A valid token in ?access_token= with no Authorization header is never accepted.",
    level: Level::Must,
    applies: Applies::Always,
    deadline: None,
    refs: &[rfc(
        "OAuth 2.1",
        "§5.1",
        "resource servers must not accept access tokens in the query string",
        "https://datatracker.ietf.org/doc/draft-ietf-oauth-v2-1/",
    )],
    needs: &[Need::ValidToken],
    tags: &[],
    broken_by: &["accept-query-token"],
};

pub const QUERY_PLUS_HEADER: CheckMeta = CheckMeta {
    id: "rs.token.query-plus-header",
    row: "rs-token-query-plus-header",
    title: "Records what a header token plus a query token gives",
    summary: "A valid header token with another (expired) token in ?access_token=. Preferred: the query is ignored and the request accepted [A] (OAuth 2.1 §5.1: resource servers ignore query tokens). Recorded as Info: a refusal as two methods [Q] (RFC 6750 §2, OQ-21), or an invalid_token answer, which shows the query token was evaluated.",
    level: Level::Info,
    applies: Applies::Always,
    deadline: None,
    refs: &[
        rfc(
            "OAuth 2.1",
            "§5.1",
            "resource servers ignore access tokens in the URI query",
            OAUTH21,
        ),
        rfc(
            "RFC 6750",
            "§2",
            "clients use no more than one method to transmit the token",
            RFC6750,
        ),
    ],
    needs: &[Need::MintedToken],
    tags: &[],
    broken_by: &["query-token-wins"],
};

pub const TWO_METHODS: CheckMeta = CheckMeta {
    id: "rs.token.two-methods",
    row: "rs-token-two-methods",
    title: "Refuses a token presented in the header and a form body at once",
    summary: "Authorization: Bearer V plus a form body access_token=V: 400 invalid_request preferred (RFC 6750 §3.1 SHOULD), 401 tolerated (OQ-1). The body is not MCP, so [A] cannot occur: a 400 without invalid_request means the request got past authentication and failed at the MCP layer, i.e. the two methods were not refused. Applies only to a target that reads form-body tokens at all (OQ-30): when a body token alone gets 401, the check passes with that observation.",
    level: Level::Should,
    applies: Applies::Always,
    deadline: None,
    refs: &[
        rfc(
            "RFC 6750",
            "§3.1",
            "a request using more than one method for the token is invalid_request (400)",
            RFC6750,
        ),
        rfc(
            "OAuth 2.1",
            "§5.3.2",
            "invalid_request: the request uses more than one method for the access token",
            OAUTH21,
        ),
    ],
    needs: &[Need::ValidToken],
    tags: &["parser differential"],
    broken_by: &["accept-form-token"],
};

pub const FORM_BODY_ONLY: CheckMeta = CheckMeta {
    id: "rs.token.form-body-only",
    row: "rs-token-form-body-only",
    title: "Records whether a token in a form body alone is used",
    summary: "A form body access_token=V and no header. Preferred: refused by authentication ([U], or [Q]), since MCP clients must use the Authorization header; using the body token is a MAY (OAuth 2.1 §5.1.2) and passes only when PRM bearer_methods_supported lists \"body\", otherwise it is recorded as Info.",
    level: Level::May,
    applies: Applies::Always,
    deadline: None,
    refs: &[
        mcp(
            "Token Requirements",
            "clients send the access token in the Authorization header",
        ),
        rfc(
            "OAuth 2.1",
            "§5.1.2",
            "resource servers may accept the token in a form-encoded body",
            OAUTH21,
        ),
    ],
    needs: &[Need::ValidToken],
    tags: &[],
    broken_by: &["accept-form-token"],
};

/// `initialize` with the credential, but with `access_token=<token>` as a form body (RFC 6750
/// §2.2); also the PRM `bearer_methods_supported` probe, with no credential.
pub(crate) fn form_request(ctx: &Context, credential: &Credential, token: &str) -> ProbeRequest {
    let mut request = probe::rpc(&ctx.endpoint, credential, None, &probe::initialize_body());
    request
        .headers
        .retain(|(name, _)| !name.eq_ignore_ascii_case("content-type"));
    request.headers.push((
        "content-type".into(),
        "application/x-www-form-urlencoded".into(),
    ));
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("access_token", token)
        .finish();
    request.body = Some(body.into_bytes());
    request
}

/// The Bearer challenge of a response, if it parses.
fn bearer_challenge(resp: &RecordedResponse) -> Option<Challenge> {
    expect::challenges(resp)
        .ok()?
        .into_iter()
        .find(|c| c.is_scheme("Bearer"))
}

/// Whether the refusal came from authentication: a 401, or a 400 whose challenge says
/// invalid_request (RFC 6750 §3.1). Anything else, for a body that is not MCP, means the
/// request got past authentication and failed later, at the MCP layer.
fn refused_by_authentication(resp: &RecordedResponse) -> bool {
    match resp.status {
        401 => true,
        400 => {
            bearer_challenge(resp).and_then(|c| c.param("error").map(str::to_owned))
                == Some("invalid_request".to_owned())
        }
        _ => false,
    }
}

fn query_plus_header(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let (Some(header_token), Some(spec)) = (ctx.valid_token(), ctx.valid_spec()) else {
            return Outcome::undeclared_need();
        };
        // The query carries another, expired token: if the server evaluates it at all, the
        // answer says invalid_token, which an ignored query cannot cause.
        let now = unix_now();
        let query_token = ctx
            .mint(&spec.subject("query-user").iat(now - 900).exp(now - 600))
            .unwrap_or_default();
        if let Err(o) = negative_control(ctx).await {
            return o;
        }
        if let Err(o) = positive_control(ctx).await {
            return o;
        }
        let url = format!("{}?access_token={query_token}", ctx.endpoint);
        let request = probe::rpc(
            &url,
            &Credential::Bearer(header_token),
            None,
            &probe::initialize_body(),
        );
        let exchange = ctx.driver.send(request).await;
        if let Err(o) = positive_control(ctx).await {
            return o;
        }
        let expected = vec![
            "[INFO] preferred: the query is ignored and the header token accepted [A]".to_owned(),
            "[INFO] recorded: refused as two methods [Q] (400 invalid_request or 401)".to_owned(),
        ];
        let (verdict, message, actual) = match &exchange.response {
            Err(e) => return Outcome::error(format!("no usable response: {e}"), vec![exchange]),
            Ok(r) if expect::is_accepted(r) => (
                Verdict::Pass,
                "the query token was ignored and the header token accepted".to_owned(),
                String::new(),
            ),
            Ok(r) if r.status >= 500 => (
                Verdict::Info,
                "the server failed on a token in the query".to_owned(),
                format!("HTTP {}", r.status),
            ),
            Ok(r) if bearer_challenge(r).and_then(|c| c.param("error").map(str::to_owned))
                == Some("invalid_token".to_owned()) =>
            {
                (
                    Verdict::Info,
                    "the query token was evaluated: its defect decided the answer, although a valid header token was present".to_owned(),
                    format!("HTTP {} invalid_token", r.status),
                )
            }
            Ok(r) => (
                Verdict::Info,
                "the request was refused, as carrying two token methods (OQ-21)".to_owned(),
                format!("HTTP {}", r.status),
            ),
        };
        Outcome {
            expected,
            actual,
            evidence: vec![exchange],
            ..Outcome::new(verdict, message)
        }
    })
}

fn two_methods(ctx: &Context) -> CheckFuture<'_> {
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
        // OQ-30: two methods need a second method. A token in a form body alone that is
        // refused as no credentials (401) shows the target does not read body tokens at all.
        let body_only = ctx
            .driver
            .send(form_request(ctx, &Credential::None, &token))
            .await;
        if let Ok(r) = &body_only.response
            && r.status == 401
        {
            return Outcome::new(
                Verdict::Pass,
                "the target does not read tokens in a form body (a body token alone got HTTP \
                 401), so a header plus a body token is one method, not two (OQ-30)",
            );
        }
        let request = form_request(ctx, &Credential::Bearer(token.clone()), &token);
        let exchange = ctx.driver.send(request).await;
        if let Err(o) = positive_control(ctx).await {
            return o;
        }
        let mut outcome = judge(Level::Should, exchange, expect::malformed_request);
        outcome.evidence.insert(0, body_only);
        outcome
    })
}

fn form_body_only(ctx: &Context) -> CheckFuture<'_> {
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
        let exchange = ctx
            .driver
            .send(form_request(ctx, &Credential::None, &token))
            .await;
        let body_advertised = ctx
            .discovery
            .prm
            .as_ref()
            .is_some_and(|prm| prm.strings("bearer_methods_supported").contains(&"body"));
        judge(Level::May, exchange, |r| Grade {
            assertions: vec![
                observation(
                    Part::NotAccepted,
                    Level::Must,
                    "not accepted (the body is no MCP message)",
                    !expect::is_accepted(r),
                    format!("HTTP {}", r.status),
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
                    Level::May,
                    "refused by authentication (401, or 400 invalid_request), unless PRM bearer_methods_supported lists body",
                    body_advertised || refused_by_authentication(r),
                    format!(
                        "HTTP {} without an authentication challenge: the request got past authentication, so the form-body token was used, and PRM does not list body",
                        r.status
                    ),
                ),
            ],
        })
    })
}

pub fn checks() -> Vec<Check<Context>> {
    vec![
        Check::new(BEARER_VALID, |ctx: &Context| {
            Box::pin(async move {
                // Calibration found what the target accepts; a token for the resource its PRM
                // names is what every client requests (RFC 8707, RFC 9728 §2).
                if let Some(found) = ctx.calibration.found()
                    && found.audience_source == AudienceSource::EndpointNotResource
                {
                    return Outcome {
                        expected: vec![format!(
                            "[MUST] V with aud = the PRM resource {} is accepted",
                            ctx.discovery.resource()
                        )],
                        actual: format!(
                            "refused with aud = {}, accepted only with aud = {}",
                            ctx.discovery.resource(),
                            found.audience
                        ),
                        ..Outcome::new(
                            Verdict::Fail,
                            format!(
                                "refused a valid token for the resource its PRM names ({}) and \
                                 accepted one for {} instead: clients request tokens for the \
                                 PRM resource",
                                ctx.discovery.resource(),
                                found.audience
                            ),
                        )
                    };
                }
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
        Check::new(QUERY_PLUS_HEADER, query_plus_header),
        Check::new(TWO_METHODS, two_methods),
        Check::new(FORM_BODY_ONLY, form_body_only),
    ]
}
