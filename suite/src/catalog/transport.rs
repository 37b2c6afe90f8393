//! Spec §1.8: transport-adjacent resource-server checks: TLS, CORS for browser clients, which
//! error wins when a request is wrong in two ways, and which MCP methods need no token.

use serde_json::{Value, json};

use crate::catalog::prm::{graded, named_prm_urls};
use crate::catalog::request_auth::observation;
use crate::catalog::{mcp, rfc};
use crate::check::{Applies, CheckMeta, Need, Outcome};
use crate::engine::calibrate::positive_control;
use crate::engine::context::Context;
use crate::engine::probe::{self, Credential};
use crate::engine::runner::{Check, CheckFuture};
use crate::expect::{self, Assertion, Part};
use crate::http::{Exchange, ProbeRequest, RecordedResponse};
use crate::model::{Level, Verdict};
use crate::wire::jsonrpc::RpcOutcome;
use crate::wire::metadata::is_https_or_loopback;

const RFC6750: &str = "https://www.rfc-editor.org/rfc/rfc6750";
const RFC9449: &str = "https://www.rfc-editor.org/rfc/rfc9449";
const RFC9728: &str = "https://www.rfc-editor.org/rfc/rfc9728";
const MCP_TRANSPORTS: &str =
    "https://modelcontextprotocol.io/specification/2025-11-25/basic/transports";

pub const TLS: CheckMeta = CheckMeta {
    id: "rs.transport.tls",
    row: "rs-tls",
    title: "Serves the endpoint and its metadata over TLS",
    summary: "The MCP endpoint, every resource_metadata URL, the PRM URL and every listed authorization server are https (plain http only on a loopback host, for test deployments). When the endpoint is https, its http:// variant never accepts a valid token; that probe uses only a token minted by the embedded IdP, never a user's credential, and does not apply to a loopback http endpoint.",
    level: Level::Must,
    applies: Applies::Always,
    deadline: None,
    refs: &[
        rfc(
            "RFC 6750",
            "§5.3",
            "bearer tokens are only ever sent over TLS",
            RFC6750,
        ),
        rfc(
            "RFC 9728",
            "§7.1",
            "protected resource metadata is served over TLS",
            RFC9728,
        ),
    ],
    needs: &[Need::Anonymous],
    tags: &[],
    broken_by: &["resource-metadata-plain-http"],
};

pub const CORS_EXPOSE: CheckMeta = CheckMeta {
    id: "rs.transport.cors-expose",
    row: "rs-cors-expose",
    title: "Records whether browser clients can read the challenge",
    summary: "A CORS preflight and an unauthenticated request, both from a browser client's Origin. Preferred: the preflight allows that origin and the Authorization header, and the 401 exposes WWW-Authenticate (and DPoP-Nonce when DPoP is advertised) through Access-Control-Expose-Headers, so a browser client can start discovery. Anything else is recorded as Info: it matters only for browser clients (RFC 9449 §7.1, §8 notes).",
    level: Level::Info,
    applies: Applies::Always,
    deadline: None,
    refs: &[rfc(
        "RFC 9449",
        "§7.1, §8",
        "browser clients need WWW-Authenticate and DPoP-Nonce exposed by CORS",
        RFC9449,
    )],
    needs: &[Need::Anonymous],
    tags: &[],
    broken_by: &["no-cors-expose"],
};

pub const ERROR_PRECEDENCE: CheckMeta = CheckMeta {
    id: "rs.transport.error-precedence",
    row: "rs-error-precedence",
    title: "Records which error wins for an unauthenticated request that is also invalid",
    summary: "Requests without a token that also carry a foreign Origin, or an unsupported MCP-Protocol-Version. Preferred (OQ-20): the authentication challenge [U], or the other refusal (403, 400) that reveals nothing beyond a 401 (no session, nothing only an authenticated initialize shows, such as the server's name). The order is recorded; any other answer is Info. The V3 Mcp-Method mismatch waits for V3 probes.",
    level: Level::Info,
    applies: Applies::Always,
    deadline: None,
    refs: &[
        mcp(
            "Security Considerations",
            "unauthenticated requests get no data beyond the challenge (error order unspecified, OQ-20)",
        ),
        rfc(
            "MCP 2025-11-25 Transports",
            "Security Warning; Protocol Version Header",
            "servers validate Origin (403 when invalid) and answer an unsupported version with 400",
            MCP_TRANSPORTS,
        ),
    ],
    needs: &[Need::Anonymous],
    tags: &[],
    broken_by: &["origin-check-leaks"],
};

pub const UNAUTHENTICATED_METHODS: CheckMeta = CheckMeta {
    id: "rs.transport.unauthenticated-methods",
    row: "rs-unauthenticated-methods",
    title: "Records which MCP methods are served without a token",
    summary: "initialize, server/discover (V3 discovery), ping and tools/list without a token. Preferred: each gets the authentication challenge [U], the safe answer, since V1/V2 authorize every request; a method served anyway is recorded as Info (V3 leaves server/discover open, OQ-19).",
    level: Level::Info,
    applies: Applies::Always,
    deadline: None,
    refs: &[mcp(
        "Token Requirements",
        "authorization is included in every HTTP request from client to server",
    )],
    needs: &[Need::Anonymous],
    tags: &[],
    broken_by: &["allow-anonymous"],
};

/// The status line, or the transport error.
fn status_of(exchange: &Exchange) -> String {
    match &exchange.response {
        Ok(r) => format!("HTTP {}", r.status),
        Err(e) => e.to_string(),
    }
}

/// The endpoint with `http` as scheme, when it is https.
fn plain_http_variant(endpoint: &str) -> Option<String> {
    let mut url = url::Url::parse(endpoint).ok()?;
    if url.scheme() != "https" {
        return None;
    }
    url.set_scheme("http").ok()?;
    Some(url.to_string())
}

/// Whether the http:// variant of an https endpoint accepts `V` (a redirect, a refusal or
/// no listener at all are all fine).
async fn plain_http_refused(
    ctx: &Context,
    http_url: &str,
    evidence: &mut Vec<Exchange>,
) -> Result<Assertion, Outcome> {
    let Some(token) = ctx.valid_token() else {
        return Err(Outcome::new(
            Verdict::NotEvaluated,
            "the endpoint is https, and its http:// variant can be probed only with a token minted by the embedded IdP",
        ));
    };
    positive_control(ctx).await?;
    let exchange = ctx
        .driver
        .send(probe::rpc(
            http_url,
            &Credential::Bearer(token),
            None,
            &probe::initialize_body(),
        ))
        .await;
    let accepted = exchange.response.as_ref().is_ok_and(expect::is_accepted);
    let rule = observation(
        Part::NotAccepted,
        Level::Must,
        format!("{http_url} (plain http) does not accept a valid token"),
        !accepted,
        format!("{}: accepted over plain http", status_of(&exchange)),
    );
    evidence.push(exchange);
    Ok(rule)
}

fn tls(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let challenge = ctx.initialize(&Credential::None).await;
        let mut urls = vec![("the MCP endpoint", ctx.endpoint.clone())];
        if let Ok(r) = &challenge.response {
            urls.extend(
                named_prm_urls(r)
                    .into_iter()
                    .map(|u| ("resource_metadata", u)),
            );
        }
        if let Some(prm_url) = &ctx.discovery.prm_url {
            urls.push(("the PRM URL discovery read", prm_url.clone()));
        }
        if let Some(prm) = &ctx.discovery.prm {
            urls.extend(
                prm.strings("authorization_servers")
                    .into_iter()
                    .map(|u| ("the authorization server", u.to_owned())),
            );
        }
        let mut assertions: Vec<Assertion> = urls
            .iter()
            .map(|(what, url)| {
                observation(
                    Part::Status,
                    Level::Must,
                    format!("{what} {url} is https (plain http only on a loopback host)"),
                    is_https_or_loopback(url),
                    url.clone(),
                )
            })
            .collect();
        let mut evidence = vec![challenge];
        evidence.extend(
            ctx.discovery
                .exchanges
                .iter()
                .filter(|e| Some(&e.request.url) == ctx.discovery.prm_url.as_ref())
                .cloned(),
        );
        let variant = match plain_http_variant(&ctx.endpoint) {
            Some(http_url) => {
                match plain_http_refused(ctx, &http_url, &mut evidence).await {
                    Ok(rule) => {
                        assertions.push(rule);
                        "; its http:// variant refuses a valid token"
                    }
                    // A failed control (Error) or no token (NotEvaluated): a broken scheme
                    // still fails the row, but the schemes alone cannot pass it.
                    Err(outcome) => {
                        let schemes = graded(Level::Must, assertions, evidence, "");
                        return if schemes.verdict == Verdict::Pass {
                            outcome
                        } else {
                            schemes
                        };
                    }
                }
            }
            None => "; the endpoint is not https, so no http:// variant applies",
        };
        graded(
            Level::Must,
            assertions,
            evidence,
            format!("every URL is https or on a loopback host{variant}"),
        )
    })
}

/// The Origin of a browser-based MCP client (the MCP Inspector's default address).
const BROWSER_ORIGIN: &str = "http://localhost:6274";

/// Whether a comma-separated CORS header lists `name` (case-insensitive), or `*` where the
/// wildcard counts (it never covers Authorization in Access-Control-Allow-Headers).
fn lists(value: Option<&str>, name: &str, wildcard: bool) -> bool {
    value.is_some_and(|v| {
        v.split(',')
            .map(str::trim)
            .any(|item| item.eq_ignore_ascii_case(name) || (wildcard && item == "*"))
    })
}

fn allows_origin(resp: &RecordedResponse) -> bool {
    resp.header("access-control-allow-origin")
        .is_some_and(|o| o == "*" || o == BROWSER_ORIGIN)
}

/// DPoP is advertised by a challenge or by PRM members (spec §0.1 DPoP tag).
fn dpop_advertised(ctx: &Context) -> bool {
    ctx.discovery.challenges.iter().any(|c| c.is_scheme("DPoP"))
        || ctx.discovery.prm.as_ref().is_some_and(|p| {
            p.object.contains("dpop_signing_alg_values_supported")
                || p.object.contains("dpop_bound_access_tokens_required")
        })
}

fn cors_rules(
    preflight: &RecordedResponse,
    actual: &RecordedResponse,
    dpop: bool,
) -> Vec<Assertion> {
    let shown = |r: &RecordedResponse, name: &str| {
        format!("HTTP {}, {name}: {:?}", r.status, r.header(name))
    };
    let expose = actual.header("access-control-expose-headers");
    let mut rules = vec![
        observation(
            Part::Status,
            Level::Info,
            format!("the preflight from {BROWSER_ORIGIN} answers 2xx allowing that origin"),
            (200..300).contains(&preflight.status) && allows_origin(preflight),
            shown(preflight, "access-control-allow-origin"),
        ),
        observation(
            Part::Status,
            Level::Info,
            "the preflight allows the Authorization request header",
            lists(
                preflight.header("access-control-allow-headers"),
                "authorization",
                false,
            ),
            shown(preflight, "access-control-allow-headers"),
        ),
        observation(
            Part::Status,
            Level::Info,
            "the 401 allows the origin to read it",
            allows_origin(actual),
            shown(actual, "access-control-allow-origin"),
        ),
        observation(
            Part::Challenge,
            Level::Info,
            "Access-Control-Expose-Headers lists WWW-Authenticate",
            lists(expose, "www-authenticate", true),
            shown(actual, "access-control-expose-headers"),
        ),
    ];
    if dpop {
        rules.push(observation(
            Part::Challenge,
            Level::Info,
            "Access-Control-Expose-Headers lists DPoP-Nonce (DPoP is advertised)",
            lists(expose, "dpop-nonce", true),
            shown(actual, "access-control-expose-headers"),
        ));
    }
    rules
}

fn cors_expose(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let preflight = ctx
            .driver
            .send(
                ProbeRequest::new("OPTIONS", &ctx.endpoint)
                    .header("origin", BROWSER_ORIGIN)
                    .header("access-control-request-method", "POST")
                    .header(
                        "access-control-request-headers",
                        "authorization, content-type, mcp-protocol-version",
                    ),
            )
            .await;
        let mut request = probe::rpc(
            &ctx.endpoint,
            &Credential::None,
            None,
            &probe::initialize_body(),
        );
        request = request.header("origin", BROWSER_ORIGIN);
        let actual = ctx.driver.send(request).await;
        let (Ok(p), Ok(a)) = (&preflight.response, &actual.response) else {
            return Outcome::error(
                format!(
                    "no usable response: preflight {}, request {}",
                    status_of(&preflight),
                    status_of(&actual)
                ),
                vec![preflight, actual],
            );
        };
        let rules = cors_rules(p, a, dpop_advertised(ctx));
        graded(
            Level::Info,
            rules,
            vec![preflight, actual],
            "a browser client can send the token and read the challenge",
        )
    })
}

/// An Origin no MCP server should allow.
const FOREIGN_ORIGIN: &str = "https://attacker.example";

/// A protocol revision no server speaks.
const UNSUPPORTED_VERSION: &str = "1900-01-01";

/// One doubly-wrong request: what else is wrong, and the status of that other refusal.
struct Precedence {
    what: &'static str,
    other_status: u16,
    request: ProbeRequest,
}

fn precedence_stimuli(ctx: &Context) -> Vec<Precedence> {
    let anonymous = || {
        probe::rpc(
            &ctx.endpoint,
            &Credential::None,
            None,
            &probe::initialize_body(),
        )
    };
    let mut wrong_version = anonymous();
    wrong_version
        .headers
        .retain(|(n, _)| !n.eq_ignore_ascii_case("mcp-protocol-version"));
    wrong_version = wrong_version.header("mcp-protocol-version", UNSUPPORTED_VERSION);
    vec![
        Precedence {
            what: "a foreign Origin",
            other_status: 403,
            request: anonymous().header("origin", FOREIGN_ORIGIN),
        },
        Precedence {
            what: "an unsupported MCP-Protocol-Version",
            other_status: 400,
            request: wrong_version,
        },
    ]
}

/// What an unauthenticated request must not learn, taken from an authenticated `initialize`
/// and from the plain 401 (which shows what every anonymous client learns anyway).
struct Secrets {
    server_name: Option<String>,
    plain_refusal: Option<RecordedResponse>,
}

async fn secrets(ctx: &Context, plain: &Exchange) -> Secrets {
    let server_name = match positive_control(ctx).await {
        Ok(init) => init
            .response
            .ok()
            .and_then(|r| match expect::rpc_outcome(&r) {
                RpcOutcome::Result(v) => v
                    .pointer("/serverInfo/name")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                _ => None,
            }),
        Err(_) => None,
    };
    Secrets {
        // Very short names would match by chance.
        server_name: server_name.filter(|n| n.len() >= 4),
        plain_refusal: plain.response.as_ref().ok().cloned(),
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
}

/// What this answer reveals beyond the plain 401, if anything.
fn leak(resp: &RecordedResponse, secrets: &Secrets) -> Option<String> {
    if expect::is_accepted(resp) {
        return Some("a JSON-RPC result".into());
    }
    let plain = secrets.plain_refusal.as_ref();
    if resp.header("mcp-session-id").is_some()
        && plain.is_none_or(|p| p.header("mcp-session-id").is_none())
    {
        return Some("an Mcp-Session-Id".into());
    }
    if let Some(name) = &secrets.server_name
        && contains(&resp.body, name)
        && plain.is_none_or(|p| !contains(&p.body, name))
    {
        return Some(format!("the server's name {name:?}"));
    }
    None
}

/// Which check answered, and whether that is a preferred order.
fn precedence_finding(
    stimulus: &Precedence,
    resp: &RecordedResponse,
    secrets: &Secrets,
) -> (bool, String) {
    let auth_first = expect::unauthenticated(resp)
        .only(&[
            Part::NotAccepted,
            Part::No5xx,
            Part::Status,
            Part::Challenge,
        ])
        .verdict()
        == Verdict::Pass;
    if auth_first {
        return (true, "authentication first (401 challenge)".into());
    }
    let leaked = leak(resp, secrets);
    match leaked {
        None if resp.status == stimulus.other_status => (
            true,
            format!(
                "the other check first (HTTP {}), revealing nothing",
                resp.status
            ),
        ),
        None => (false, format!("HTTP {}, not the challenge", resp.status)),
        Some(what) => (false, format!("HTTP {} revealing {what}", resp.status)),
    }
}

fn error_precedence(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let plain = ctx.initialize(&Credential::None).await;
        let secrets = secrets(ctx, &plain).await;
        let mut rules = Vec::new();
        let mut order = Vec::new();
        let mut evidence = vec![plain];
        for stimulus in precedence_stimuli(ctx) {
            let exchange = ctx.driver.send(stimulus.request.clone()).await;
            let Ok(resp) = &exchange.response else {
                return Outcome::error(
                    format!(
                        "no usable response to {}: {}",
                        stimulus.what,
                        status_of(&exchange)
                    ),
                    vec![exchange],
                );
            };
            let (preferred, finding) = precedence_finding(&stimulus, resp, &secrets);
            order.push(format!("{}: {finding}", stimulus.what));
            rules.push(observation(
                Part::Status,
                Level::Info,
                format!(
                    "without a token and with {}: the 401 challenge, or a {} revealing nothing beyond it",
                    stimulus.what, stimulus.other_status
                ),
                preferred,
                finding,
            ));
            evidence.push(exchange);
        }
        let outcome = graded(Level::Info, rules, evidence, "");
        Outcome {
            message: order.join("; "),
            ..outcome
        }
    })
}

/// The methods probed without a token: a name for the report and the body.
fn anonymous_methods() -> Vec<(&'static str, Value)> {
    vec![
        ("initialize", probe::initialize_body()),
        (
            "server/discover",
            json!({"jsonrpc": "2.0", "id": 4, "method": "server/discover", "params": {}}),
        ),
        ("ping", json!({"jsonrpc": "2.0", "id": 5, "method": "ping"})),
        ("tools/list", probe::tools_list_body()),
    ]
}

fn unauthenticated_methods(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let mut rules = Vec::new();
        let mut served = Vec::new();
        let mut evidence = Vec::new();
        for (method, body) in anonymous_methods() {
            let exchange = ctx.send(&Credential::None, None, &body).await;
            let Ok(resp) = &exchange.response else {
                return Outcome::error(
                    format!("no usable response to {method}: {}", status_of(&exchange)),
                    vec![exchange],
                );
            };
            let challenged = expect::unauthenticated(resp)
                .only(&[
                    Part::NotAccepted,
                    Part::No5xx,
                    Part::Status,
                    Part::Challenge,
                ])
                .verdict()
                == Verdict::Pass;
            if expect::is_accepted(resp) {
                served.push(method);
            }
            rules.push(observation(
                Part::Status,
                Level::Info,
                format!("{method} without a token gets the 401 challenge [U]"),
                challenged,
                format!(
                    "HTTP {}{}",
                    resp.status,
                    if expect::is_accepted(resp) {
                        " with a JSON-RPC result: served without a token"
                    } else {
                        ""
                    }
                ),
            ));
            evidence.push(exchange);
        }
        let outcome = graded(
            Level::Info,
            rules,
            evidence,
            "every probed method needs a token",
        );
        if served.is_empty() {
            outcome
        } else {
            Outcome {
                message: format!("served without a token: {}", served.join(", ")),
                ..outcome
            }
        }
    })
}

pub fn checks() -> Vec<Check<Context>> {
    vec![
        Check::new(TLS, tls),
        Check::new(CORS_EXPOSE, cors_expose),
        Check::new(ERROR_PRECEDENCE, error_precedence),
        Check::new(UNAUTHENTICATED_METHODS, unauthenticated_methods),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cors_lists_are_token_lists() {
        assert!(lists(
            Some("WWW-Authenticate, Mcp-Session-Id"),
            "www-authenticate",
            false
        ));
        assert!(lists(Some("*"), "www-authenticate", true));
        assert!(!lists(Some("*"), "authorization", false));
        assert!(!lists(
            Some("X-WWW-Authenticate-Foo"),
            "www-authenticate",
            true
        ));
        assert!(!lists(None, "www-authenticate", true));
    }

    #[test]
    fn only_https_endpoints_have_a_plain_variant() {
        assert_eq!(
            plain_http_variant("https://mcp.test/mcp").as_deref(),
            Some("http://mcp.test/mcp")
        );
        assert_eq!(plain_http_variant("http://127.0.0.1:8080/mcp"), None);
    }

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> RecordedResponse {
        RecordedResponse::fake(status, headers, body)
    }

    #[test]
    fn a_leak_is_what_the_plain_401_does_not_show() {
        let secrets = Secrets {
            server_name: Some("acme-mcp".into()),
            plain_refusal: Some(response(401, &[], r#"{"error":"unauthorized"}"#)),
        };
        assert_eq!(
            leak(&response(403, &[], "Origin not allowed"), &secrets),
            None
        );
        assert!(
            leak(
                &response(403, &[], r#"{"serverInfo":{"name":"acme-mcp"}}"#),
                &secrets
            )
            .is_some()
        );
        assert!(leak(&response(403, &[("mcp-session-id", "s1")], ""), &secrets).is_some());
        // The name is no leak when every anonymous client sees it anyway.
        let public = Secrets {
            plain_refusal: Some(response(401, &[], "acme-mcp needs a token")),
            ..secrets
        };
        assert_eq!(
            leak(&response(403, &[], "acme-mcp: bad origin"), &public),
            None
        );
    }
}
