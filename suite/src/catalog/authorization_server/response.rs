//! Spec §2.2 and §2.1: what the authorization response carries back to the client — `state`
//! exactly as sent (as-authz-state), and RFC 9207 `iss` in success and error responses, equal
//! to the metadata's `issuer`, advertised exactly when sent (as-authz-iss, as-meta-iss-flag).
//! The response is read from the redirect's `Location`, or at the tool's loopback listener
//! after a login (`--login-command`); without either, the rows are NotEvaluated.

use crate::catalog::request_auth::observation;
use crate::catalog::{mcp, rfc};
use crate::check::{CheckMeta, Need, Outcome};
use crate::engine::authorization_server::{AsClient, AsContext, AuthzAnswer, AuthzResponse};
use crate::expect::{Assertion, Grade, Part};
use crate::http::Exchange;
use crate::model::{Level, SpecVersion, Verdict};

use super::{OAUTH21, as_meta};

const RFC9207: &str = "https://www.rfc-editor.org/rfc/rfc9207";

pub(super) const STATE: CheckMeta = as_meta(
    "as.authorize.state",
    "as-authz-state",
    "Returns state exactly",
    "The authorization response carries state byte for byte as the request sent it: a 64-character random state, and a 2 KB one (which may instead be refused with invalid_request, but never cut).",
    Level::Must,
    &[rfc(
        "OAuth 2.1",
        "§4.1.2",
        "state is required in the response if it was in the request, with the exact value",
        OAUTH21,
    )],
    &[Need::AsClient],
    &["as-state-truncated"],
);

pub(super) const ISS: CheckMeta = as_meta(
    "as.authorize.iss",
    "as-authz-iss",
    "Sends iss in authorization responses, as its metadata says",
    "A successful and an error authorization response (code_challenge_method=S512) each carry iss equal to the metadata's issuer, code point for code point (RFC 9207; MUST when the metadata advertises authorization_response_iss_parameter_supported, SHOULD under MCP 2026-07-28 otherwise, recorded before), and the metadata advertises the parameter exactly when the responses carry it (as-meta-iss-flag).",
    Level::Must,
    &[
        rfc(
            "RFC 9207",
            "§2",
            "iss in the authorization response, equal to the issuer identifier",
            RFC9207,
        ),
        rfc(
            "RFC 9207",
            "§3",
            "authorization_response_iss_parameter_supported",
            RFC9207,
        ),
        mcp(
            "Authorization Response Validation",
            "clients validate iss in the authorization response",
        ),
    ],
    &[Need::AsClient],
    &["as-no-iss", "as-iss-missing-on-error"],
);

/// What came back to the client for one request.
enum Came {
    Response(AuthzResponse),
    /// Refused at an error page: nothing was sent back to the client.
    ErrorPage,
    /// A login step and no login command: the response cannot be seen.
    NeedsLogin,
}

/// Why a row could not read a response: a login is needed.
fn needs_login(what: &str) -> Outcome {
    Outcome::new(
        Verdict::NotEvaluated,
        format!(
            "the authorization server answered {what} with a login step: the response is seen \
             only after a login; give --login-command CMD (the client's --redirect-uri must be \
             http://127.0.0.1/callback or http://localhost/callback)"
        ),
    )
}

/// What one request brought back, or the Error that ends the row.
async fn response_to(
    ctx: &AsContext,
    client: &AsClient,
    params: &[(String, String)],
    what: &str,
    evidence: &mut Vec<Exchange>,
) -> Result<Came, Outcome> {
    match ctx.authorization_response(client, params).await {
        Ok((response, exchange)) => {
            evidence.push(exchange);
            Ok(Came::Response(response))
        }
        Err((AuthzAnswer::Login, _)) => Ok(Came::NeedsLogin),
        Err((AuthzAnswer::ErrorPage { .. }, exchange)) => {
            evidence.push(exchange);
            Ok(Came::ErrorPage)
        }
        Err((answer, exchange)) => Err(Outcome::error(
            format!("{what} got {}", answer.describe()),
            vec![exchange],
        )),
    }
}

fn with_param(params: &mut Vec<(String, String)>, name: &str, value: &str) {
    params.retain(|(k, _)| k != name);
    params.push((name.to_owned(), value.to_owned()));
}

fn graded(
    level: Level,
    assertions: Vec<Assertion>,
    evidence: Vec<Exchange>,
    pass: String,
) -> Outcome {
    let mut outcome = Outcome::from_grade(level, &Grade { assertions }, evidence);
    if outcome.verdict == Verdict::Pass {
        outcome.message = pass;
    }
    outcome
}

pub(super) async fn state(ctx: &AsContext) -> Outcome {
    let Some(client) = ctx.client.clone() else {
        return Outcome::undeclared_need();
    };
    let mut evidence = Vec::new();
    let mut assertions = Vec::new();
    let short = mock_idp::random_b64url(48);
    let long = format!("{}{}", mock_idp::random_b64url(32), "s".repeat(2048 - 43));
    for (what, sent, may_refuse) in [
        ("a valid request with a 64-character state", &short, false),
        ("a valid request with a 2 KB state", &long, true),
    ] {
        let mut params = ctx.valid_authorization_params(&client);
        with_param(&mut params, "state", sent);
        let response = match response_to(ctx, &client, &params, what, &mut evidence).await {
            Ok(Came::Response(r)) => Some(r),
            // A valid request refused at an error page: the control failed, not this rule.
            Ok(Came::ErrorPage) if !may_refuse => {
                return Outcome::error(
                    format!(
                        "positive control: {what} of client {} got an error page, so nothing \
                         came back to the client to compare",
                        client.client_id
                    ),
                    evidence,
                );
            }
            Ok(Came::ErrorPage) => None,
            Ok(Came::NeedsLogin) => return needs_login(what),
            Err(o) => return o,
        };
        let echoed = response.as_ref().and_then(|r| r.param("state"));
        let refused = response.as_ref().is_none_or(|r| r.param("error").is_some());
        let holds = echoed == Some(sent.as_str()) || (may_refuse && refused && echoed.is_none());
        let seen = match echoed {
            Some(s) if s.len() != sent.len() => {
                format!(
                    "state came back with {} of {} characters",
                    s.len(),
                    sent.len()
                )
            }
            Some(_) => "state came back changed".to_owned(),
            None if response.is_none() => "an error page, nothing sent back".to_owned(),
            None => "no state came back".to_owned(),
        };
        assertions.push(observation(
            Part::Status,
            Level::Must,
            format!("{what}: state comes back exactly as sent"),
            holds,
            seen,
        ));
    }
    graded(
        Level::Must,
        assertions,
        evidence,
        "state came back byte for byte, the 2 KB one too (or was refused whole)".into(),
    )
}

/// The request of as.authorize.iss whose answer is its positive control.
const VALID: &str = "the successful response to a valid request";

pub(super) async fn iss(ctx: &AsContext) -> Outcome {
    let Some(client) = ctx.client.clone() else {
        return Outcome::undeclared_need();
    };
    let advertised = ctx
        .documents
        .primary()
        .and_then(|(_, d)| d.bool("authorization_response_iss_parameter_supported"))
        == Some(true);
    // RFC 9207 binds a server that advertises the parameter; MCP 2026-07-28 asks every
    // authorization server for it; before, it is recorded.
    let level = if advertised {
        Level::Must
    } else if ctx.spec_version == SpecVersion::V2026_07_28 {
        Level::Should
    } else {
        Level::Info
    };
    let mut evidence = Vec::new();
    let mut assertions = Vec::new();
    let mut sent_any = false;
    let mut login_needed = Vec::new();
    let valid = ctx.valid_authorization_params(&client);
    let mut error_request = valid.clone();
    with_param(&mut error_request, "code_challenge_method", "S512");
    for (what, params) in [
        (VALID, valid),
        (
            "the error response to code_challenge_method=S512",
            error_request,
        ),
    ] {
        let response = match response_to(ctx, &client, &params, what, &mut evidence).await {
            Ok(Came::Response(r)) => r,
            // The valid request refused at an error page: the control failed, not this rule.
            Ok(Came::ErrorPage) if what == VALID => {
                return Outcome::error(
                    format!(
                        "positive control: a valid authorization request of client {} got an \
                         error page, so no response came back to read",
                        client.client_id
                    ),
                    evidence,
                );
            }
            Ok(Came::ErrorPage) => continue,
            Ok(Came::NeedsLogin) => {
                login_needed.push(what);
                continue;
            }
            Err(o) => return o,
        };
        let got = response.param("iss");
        sent_any |= got.is_some();
        assertions.push(observation(
            Part::Status,
            level,
            format!("{what} carries iss equal to {:?}", ctx.issuer),
            got == Some(ctx.issuer.as_str()),
            match got {
                Some(other) => format!("iss is {other:?}"),
                None => "no iss".to_owned(),
            },
        ));
    }
    if assertions.is_empty() {
        return match login_needed.first() {
            Some(what) => needs_login(what),
            None => Outcome::new(
                Verdict::NotEvaluated,
                "neither request was answered with a redirect to the client, so no response \
                 could be read",
            ),
        };
    }
    assertions.push(observation(
        Part::Status,
        Level::Must,
        "authorization_response_iss_parameter_supported is true exactly when responses carry iss",
        advertised == sent_any,
        if advertised {
            "advertised, but no response carried iss".to_owned()
        } else {
            "responses carry iss, but the metadata does not advertise it".to_owned()
        },
    ));
    graded(
        Level::Must,
        assertions,
        evidence,
        format!(
            "iss {:?} came back in every response read, and the metadata {} it{}",
            ctx.issuer,
            if advertised {
                "advertises"
            } else {
                "does not advertise"
            },
            match login_needed.first() {
                Some(what) => format!(" ({what} needs a login and was not read)"),
                None => String::new(),
            }
        ),
    )
}
