//! Spec §2.2: the authorization endpoint. Each row is a list of authorization requests, each
//! a valid request with one thing changed, and what the endpoint must do with it. The engine
//! ([`run_authorization_row`]) first sends the valid request (the positive control: it must
//! lead to a code or to a login step, not to an error), then each probe, and reads each answer
//! without following it ([`classify_authz`]). A probe answered by a login step proves nothing
//! either way (the server may refuse after the login): with login automation (`--login-command`
//! or the form driver) a probe that names the client's own redirect URI is followed through the
//! login to what comes back to the client ([`after_login`]); otherwise it is NotEvaluated,
//! never a pass.

use crate::catalog::request_auth::observation;
use crate::catalog::{mcp, rfc};
use crate::check::{CheckMeta, Need, Outcome, SpecRef};
use crate::engine::authorization_server::{AsClient, AsContext, AuthzAnswer, classify_authz};
use crate::expect::{Assertion, Grade, Part};
use crate::http::{Exchange, ProbeRequest};
use crate::model::{Level, Verdict};

use super::{OAUTH21, RFC8707, RFC9700};

const RFC8252: &str = "https://www.rfc-editor.org/rfc/rfc8252";

/// A row's metadata: it sends authorization requests as the run's client.
const fn meta(
    id: &'static str,
    row: &'static str,
    title: &'static str,
    summary: &'static str,
    level: Level,
    refs: &'static [SpecRef],
    broken_by: &'static [&'static str],
) -> CheckMeta {
    super::as_meta(
        id,
        row,
        title,
        summary,
        level,
        refs,
        &[Need::AsClient],
        broken_by,
    )
}

/// What the endpoint must do with a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Due {
    /// Refused: an error redirect (ideally with this `error`) or an error page; never a code.
    Refused(&'static str),
    /// Never sent to a client URI: an error page (an unverified client or redirect URI).
    NoRedirect,
    /// Recorded only (INFO): what it did is reported, nothing is required.
    Recorded,
    /// Not refused: the flow goes on (a code, or a login step) as for a valid request.
    Proceeds,
}

/// One authorization request of a row.
pub(crate) struct AuthzProbe {
    /// The request in a few words ("code_challenge_method=S512").
    pub what: String,
    pub params: Vec<(String, String)>,
    /// The redirect URI the request names (mutated ones differ from the client's).
    pub redirect_uri: String,
    pub due: Due,
}

/// A valid request for `client` with `edit` applied to its parameters.
pub(crate) fn probe(
    ctx: &AsContext,
    client: &AsClient,
    what: impl Into<String>,
    due: Due,
    edit: impl FnOnce(&mut Vec<(String, String)>),
) -> AuthzProbe {
    let mut params = ctx.valid_authorization_params(client);
    edit(&mut params);
    let redirect_uri = params
        .iter()
        .find(|(k, _)| k == "redirect_uri")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| client.redirect_uri.clone());
    AuthzProbe {
        what: what.into(),
        params,
        redirect_uri,
        due,
    }
}

pub(crate) fn set(params: &mut Vec<(String, String)>, name: &str, value: &str) {
    params.retain(|(k, _)| k != name);
    params.push((name.to_owned(), value.to_owned()));
}

pub(crate) fn remove(params: &mut Vec<(String, String)>, name: &str) {
    params.retain(|(k, _)| k != name);
}

fn add(params: &mut Vec<(String, String)>, name: &str, value: &str) {
    params.push((name.to_owned(), value.to_owned()));
}

/// The grade of one probe's answer.
fn grade(level: Level, probe: &AuthzProbe, answer: &AuthzAnswer) -> Vec<Assertion> {
    let seen = answer.describe();
    let rule = |level, requirement: String, holds| {
        observation(Part::Status, level, requirement, holds, seen.clone())
    };
    match probe.due {
        Due::Refused(error) => {
            let refused = matches!(
                answer,
                AuthzAnswer::ErrorRedirect { .. } | AuthzAnswer::ErrorPage { .. }
            );
            let mut rules = vec![rule(
                level,
                format!(
                    "{} is refused (an error redirect or an error page), no code issued",
                    probe.what
                ),
                refused,
            )];
            // Recorded only: a server may refuse for another reason it is right about (a
            // hybrid response type without its nonce is an invalid_request).
            if let AuthzAnswer::ErrorRedirect { error: sent } = answer {
                rules.push(rule(
                    Level::Info,
                    format!("the error for {} is {error}", probe.what),
                    sent == error,
                ));
            }
            rules
        }
        Due::NoRedirect => vec![rule(
            level,
            format!(
                "{} gets an error page, never a redirect to {}",
                probe.what, probe.redirect_uri
            ),
            !answer.redirects_to_client(),
        )],
        Due::Proceeds => vec![rule(
            level,
            format!(
                "{} is not refused: the flow goes on (a code or a login step)",
                probe.what
            ),
            matches!(answer, AuthzAnswer::Code | AuthzAnswer::Login),
        )],
        Due::Recorded => vec![rule(
            Level::Info,
            format!("{} is refused", probe.what),
            !matches!(answer, AuthzAnswer::Code | AuthzAnswer::Login),
        )],
    }
}

/// Runs a row of authorization requests (calibrated by the valid request).
pub(crate) async fn run_authorization_row(
    ctx: &AsContext,
    meta: &CheckMeta,
    probes: fn(&AsContext, &AsClient) -> Vec<AuthzProbe>,
) -> Outcome {
    let Some(client) = ctx.client.clone() else {
        return Outcome::undeclared_need();
    };
    let probes = probes(ctx, &client);
    run_requests_of(ctx, meta, &client, probes).await
}

/// Runs `probes` as `client` (calibrated by the client's valid request): the engine of the
/// rows above, and of the rows that register a client of their own.
pub(crate) async fn run_requests_of(
    ctx: &AsContext,
    meta: &CheckMeta,
    client: &AsClient,
    probes: Vec<AuthzProbe>,
) -> Outcome {
    if ctx.authorization_endpoint().is_none() {
        return Outcome::error(
            "the metadata names no authorization_endpoint (see as.metadata.required)",
            ctx.documents.exchanges(),
        );
    }
    if probes.is_empty() {
        return Outcome::new(
            Verdict::Skip,
            format!(
                "no request of this row applies to client {} with redirect URI {}",
                client.client_id, client.redirect_uri
            ),
        );
    }
    let origin = ctx.authorization_origin();
    let control = ctx.authorize(&ctx.valid_authorization_params(client)).await;
    let answer = classify_authz(&control, &client.redirect_uri, &origin);
    if !matches!(answer, AuthzAnswer::Code | AuthzAnswer::Login) {
        return Outcome::error(
            format!(
                "positive control: a valid authorization request of client {} (PKCE S256, \
                 redirect_uri {}) got {}, so no refusal can be judged",
                client.client_id,
                client.redirect_uri,
                answer.describe()
            ),
            vec![control],
        );
    }
    let mut assertions = Vec::new();
    let mut evidence: Vec<Exchange> = Vec::new();
    let mut undecided = Vec::new();
    for mut probe in probes {
        let exchange = ctx.authorize(&probe.params).await;
        let mut answer = classify_authz(&exchange, &probe.redirect_uri, &origin);
        if answer == AuthzAnswer::Login && matches!(probe.due, Due::Refused(_) | Due::NoRedirect) {
            match after_login(ctx, client, &probe).await {
                Some(decided) => {
                    answer = decided;
                    probe.what = format!("{} (followed through the login)", probe.what);
                }
                None => {
                    undecided.push(probe.what.clone());
                    continue;
                }
            }
        }
        if let AuthzAnswer::NoAnswer(e) = &answer {
            return Outcome::error(
                format!(
                    "{}: the authorization endpoint did not answer ({e})",
                    probe.what
                ),
                vec![exchange],
            );
        }
        let rules = grade(meta.level, &probe, &answer);
        let broken = rules.iter().any(|r| !r.holds);
        assertions.extend(rules);
        // Evidence: every exchange that broke a rule, else the first.
        if broken || evidence.is_empty() {
            evidence.push(exchange);
        }
    }
    if assertions.is_empty() {
        return Outcome::new(
            Verdict::NotEvaluated,
            format!(
                "the authorization server asked for a login before deciding on {}: {}",
                undecided.join(", "),
                if ctx.login.is_some() {
                    "the login did not end at the client's redirect URI, so what the server \
                     decided after it was not seen"
                } else {
                    "a refusal after the login is seen only with login automation: give \
                     --login-command CMD, or --login-user and --login-password-env"
                }
            ),
        );
    }
    let mut outcome = Outcome::from_grade(meta.level, &Grade { assertions }, evidence);
    if outcome.verdict == Verdict::Pass {
        outcome.message = format!(
            "every request was answered as required{}",
            if undecided.is_empty() {
                String::new()
            } else {
                format!(
                    " ({} needed a login first and is not judged)",
                    undecided.join(", ")
                )
            }
        );
    }
    outcome
}

/// What came back to the client after logging in for `probe`, when the run has login
/// automation and the probe names the client's own redirect URI (the login ends at a listener
/// standing in for it; a mutated redirect URI cannot be observed that way). `None` when it
/// cannot be seen.
async fn after_login(
    ctx: &AsContext,
    client: &AsClient,
    probe: &AuthzProbe,
) -> Option<AuthzAnswer> {
    if ctx.login.is_none() || probe.redirect_uri != client.redirect_uri {
        return None;
    }
    let (response, _) = ctx
        .authorization_response(client, &probe.params)
        .await
        .ok()?;
    match (response.param("error"), response.param("code")) {
        (Some(error), _) => Some(AuthzAnswer::ErrorRedirect {
            error: error.to_owned(),
        }),
        (None, Some(_)) => Some(AuthzAnswer::Code),
        (None, None) => None,
    }
}

/// A request row of the catalogue.
pub(crate) struct AuthzRow {
    pub meta: CheckMeta,
    pub probes: fn(&AsContext, &AsClient) -> Vec<AuthzProbe>,
}

fn pkce_required(ctx: &AsContext, client: &AsClient) -> Vec<AuthzProbe> {
    vec![probe(
        ctx,
        client,
        "a request without code_challenge",
        Due::Refused("invalid_request"),
        |p| {
            remove(p, "code_challenge");
            remove(p, "code_challenge_method");
        },
    )]
}

fn pkce_method_unsupported(ctx: &AsContext, client: &AsClient) -> Vec<AuthzProbe> {
    vec![probe(
        ctx,
        client,
        "code_challenge_method=S512",
        Due::Refused("invalid_request"),
        |p| set(p, "code_challenge_method", "S512"),
    )]
}

fn pkce_plain(ctx: &AsContext, client: &AsClient) -> Vec<AuthzProbe> {
    vec![probe(
        ctx,
        client,
        "code_challenge_method=plain",
        Due::Recorded,
        |p| {
            set(p, "code_challenge", &mock_idp::random_b64url(32));
            set(p, "code_challenge_method", "plain");
        },
    )]
}

fn pkce_challenge_syntax(ctx: &AsContext, client: &AsClient) -> Vec<AuthzProbe> {
    vec![
        probe(
            ctx,
            client,
            "a 42-character code_challenge",
            Due::Refused("invalid_request"),
            |p| set(p, "code_challenge", &"a".repeat(42)),
        ),
        probe(
            ctx,
            client,
            "a code_challenge with + and /",
            Due::Refused("invalid_request"),
            |p| set(p, "code_challenge", &format!("{}+/", "A".repeat(41))),
        ),
    ]
}

/// Mutations of a registered redirect URI that name another URI (spec as-authz-redirect-exact;
/// a loopback URI's port is not among them: RFC 8252 §7.3 lets it vary).
pub(crate) fn redirect_mutations(registered: &str) -> Vec<(String, String)> {
    let Ok(url) = url::Url::parse(registered) else {
        return Vec::new();
    };
    let scheme = url.scheme();
    let host = url.host_str().unwrap_or_default();
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let path = url.path();
    let base = format!("{scheme}://{host}{port}");
    let other_scheme = if scheme == "https" { "http" } else { "https" };
    let mut out = vec![
        ("a trailing slash".to_owned(), format!("{base}{path}/")),
        (
            "an extra path segment".to_owned(),
            format!("{base}{path}/x"),
        ),
        ("an added query".to_owned(), format!("{base}{path}?x=1")),
        (
            "an upper-case path".to_owned(),
            format!("{base}{}", path.to_uppercase()),
        ),
        (
            "another scheme".to_owned(),
            format!("{other_scheme}://{host}{port}{path}"),
        ),
        (
            "another host".to_owned(),
            format!("{scheme}://evil.test{port}{path}"),
        ),
        (
            "a suffixed host".to_owned(),
            format!("{scheme}://{host}.evil.test{port}{path}"),
        ),
        (
            "user info".to_owned(),
            format!("{scheme}://user@{host}{port}{path}"),
        ),
        ("a fragment".to_owned(), format!("{base}{path}#f")),
    ];
    if let Some(first) = path.chars().nth(1) {
        out.push((
            "a percent-encoded path character".to_owned(),
            format!("{base}/%{:02X}{}", first as u32, &path[2..]),
        ));
    }
    let loopback = matches!(host, "127.0.0.1" | "[::1]" | "localhost");
    if !loopback {
        out.push((
            "another port".to_owned(),
            format!("{scheme}://{host}:8443{path}"),
        ));
    }
    out.retain(|(_, uri)| uri != registered);
    out
}

fn redirect_exact(ctx: &AsContext, client: &AsClient) -> Vec<AuthzProbe> {
    redirect_mutations(&client.redirect_uri)
        .into_iter()
        .map(|(what, uri)| {
            probe(
                ctx,
                client,
                format!("redirect_uri {uri} ({what})"),
                Due::NoRedirect,
                |p| set(p, "redirect_uri", &uri),
            )
        })
        .collect()
}

fn bad_client(ctx: &AsContext, client: &AsClient) -> Vec<AuthzProbe> {
    vec![probe(
        ctx,
        client,
        "client_id=nope-unknown-client",
        Due::NoRedirect,
        |p| set(p, "client_id", "nope-unknown-client"),
    )]
}

fn response_type(ctx: &AsContext, client: &AsClient) -> Vec<AuthzProbe> {
    ["token", "code id_token"]
        .into_iter()
        .map(|rt| {
            probe(
                ctx,
                client,
                format!("response_type={rt}"),
                Due::Refused("unsupported_response_type"),
                |p| set(p, "response_type", rt),
            )
        })
        .collect()
}

fn resource_invalid(ctx: &AsContext, client: &AsClient) -> Vec<AuthzProbe> {
    [
        ("a relative resource", "/mcp".to_owned()),
        (
            "a resource with a fragment",
            format!(
                "{}#f",
                ctx.resource.as_deref().unwrap_or("https://mcp.example/mcp")
            ),
        ),
    ]
    .into_iter()
    .map(|(what, value)| {
        probe(
            ctx,
            client,
            format!("{what} ({value})"),
            Due::Refused("invalid_target"),
            |p| set(p, "resource", &value),
        )
    })
    .collect()
}

fn duplicate_params(ctx: &AsContext, client: &AsClient) -> Vec<AuthzProbe> {
    vec![
        probe(
            ctx,
            client,
            "state twice",
            Due::Refused("invalid_request"),
            |p| add(p, "state", "second-state"),
        ),
        probe(
            ctx,
            client,
            "code_challenge twice",
            Due::Refused("invalid_request"),
            |p| {
                add(
                    p,
                    "code_challenge",
                    &mock_idp::jwk::pkce_s256("another-verifier-value"),
                )
            },
        ),
    ]
}

fn unknown_params(ctx: &AsContext, client: &AsClient) -> Vec<AuthzProbe> {
    vec![probe(
        ctx,
        client,
        "a valid request with foo=bar added",
        Due::Proceeds,
        |p| add(p, "foo", "bar"),
    )]
}

fn empty_params(ctx: &AsContext, client: &AsClient) -> Vec<AuthzProbe> {
    vec![probe(
        ctx,
        client,
        "a valid request with an empty scope= (as if omitted)",
        Due::Proceeds,
        |p| set(p, "scope", ""),
    )]
}

/// A loopback redirect URI without a port, sent with one (RFC 8252 §7.3).
fn with_port(uri: &str) -> Option<String> {
    let url = url::Url::parse(uri).ok()?;
    let loopback = matches!(url.host_str()?, "127.0.0.1" | "[::1]" | "localhost");
    (url.scheme() == "http" && loopback && url.port().is_none()).then(|| {
        let mut url = url.clone();
        let _ = url.set_port(Some(53117));
        url.to_string()
    })
}

fn loopback_port(ctx: &AsContext, client: &AsClient) -> Vec<AuthzProbe> {
    with_port(&client.redirect_uri)
        .map(|uri| {
            probe(
                ctx,
                client,
                format!("redirect_uri {uri} (the registered loopback URI with a port)"),
                Due::Proceeds,
                |p| set(p, "redirect_uri", &uri),
            )
        })
        .into_iter()
        .collect()
}

pub(super) static ROWS: &[AuthzRow] = &[
    AuthzRow {
        meta: meta(
            "as.authorize.pkce-required",
            "as-authz-pkce-required",
            "Refuses an authorization request without PKCE",
            "A public client's authorization request without code_challenge is refused (an error redirect with invalid_request, or an error page); no code is issued.",
            Level::Must,
            &[
                rfc(
                    "OAuth 2.1",
                    "§4.1.1",
                    "clients use PKCE; servers require it",
                    OAUTH21,
                ),
                super::PKCE_ENFORCED,
            ],
            &["as-pkce-optional"],
        ),
        probes: pkce_required,
    },
    AuthzRow {
        meta: meta(
            "as.authorize.pkce-method-unsupported",
            "as-authz-pkce-method-unsupported",
            "Refuses an unknown PKCE method",
            "code_challenge_method=S512 is refused with invalid_request.",
            Level::Must,
            &[rfc(
                "OAuth 2.1",
                "§4.1.2.1",
                "an unsupported code challenge method is an invalid request",
                OAUTH21,
            )],
            &["as-pkce-any-method"],
        ),
        probes: pkce_method_unsupported,
    },
    AuthzRow {
        meta: meta(
            "as.authorize.pkce-plain",
            "as-authz-pkce-plain",
            "Records whether PKCE plain is accepted",
            "code_challenge_method=plain: OAuth 2.1 draft-13 lets it through for clients that cannot do S256, later drafts forbid it (OQ-16). What the server does is recorded (INFO); refusing is preferred.",
            Level::Info,
            &[rfc(
                "OAuth 2.1",
                "§4.1.1",
                "S256 is mandatory to implement; plain is discouraged",
                OAUTH21,
            )],
            &["as-pkce-plain-accepted"],
        ),
        probes: pkce_plain,
    },
    AuthzRow {
        meta: meta(
            "as.authorize.pkce-challenge-syntax",
            "as-authz-pkce-challenge-syntax",
            "Refuses a malformed PKCE challenge",
            "A code_challenge of 42 characters, and one with characters outside the unreserved set (+ and /), are refused with invalid_request.",
            Level::Should,
            &[rfc(
                "OAuth 2.1",
                "§4.1.1",
                "the challenge is 43 to 128 unreserved characters",
                OAUTH21,
            )],
            &["as-pkce-lenient-syntax"],
        ),
        probes: pkce_challenge_syntax,
    },
    AuthzRow {
        meta: meta(
            "as.authorize.redirect-exact",
            "as-authz-redirect-exact",
            "Matches redirect_uri exactly",
            "A registered redirect URI changed in one way (trailing slash, extra segment, query, case, scheme, host, suffixed host, user info, fragment, percent-encoding, and for non-loopback URIs the port) gets an error page, never a redirect to the changed URI.",
            Level::Must,
            &[
                mcp(
                    "Open Redirection",
                    "authorization servers must validate exact redirect URIs",
                ),
                rfc(
                    "RFC 9700",
                    "§4.1.3",
                    "exact string matching of redirect URIs",
                    RFC9700,
                ),
            ],
            &["as-redirect-prefix-match"],
        ),
        probes: redirect_exact,
    },
    AuthzRow {
        meta: meta(
            "as.authorize.bad-client-no-redirect",
            "as-authz-bad-client-no-redirect",
            "Never redirects for an unknown client",
            "An authorization request naming an unknown client_id with a valid-looking redirect_uri gets an error page, never a redirect (the redirect URI cannot be verified).",
            Level::Must,
            &[rfc(
                "OAuth 2.1",
                "§4.1.2.1",
                "without a valid client, do not redirect",
                OAUTH21,
            )],
            &["as-redirect-for-unknown-client"],
        ),
        probes: bad_client,
    },
    AuthzRow {
        meta: meta(
            "as.authorize.response-type",
            "as-authz-response-type",
            "Refuses response types other than code",
            "response_type=token (the implicit grant OAuth 2.1 removed) and response_type=code id_token are refused with unsupported_response_type or an error page.",
            Level::Should,
            &[
                rfc(
                    "OAuth 2.1",
                    "§10.1",
                    "the implicit grant is removed",
                    OAUTH21,
                ),
                rfc(
                    "RFC 9700",
                    "§2.1.2",
                    "clients should not use the implicit grant",
                    RFC9700,
                ),
            ],
            &["as-response-type-any"],
        ),
        probes: response_type,
    },
    AuthzRow {
        meta: meta(
            "as.authorize.resource-invalid",
            "as-authz-resource-invalid",
            "Refuses a malformed resource indicator",
            "A relative resource (/mcp) and one with a fragment are refused with invalid_target (RFC 8707 §2: an absolute URI without fragment).",
            Level::Should,
            &[rfc(
                "RFC 8707",
                "§2",
                "resource is an absolute URI without a fragment; invalid_target",
                RFC8707,
            )],
            &["as-resource-unchecked"],
        ),
        probes: resource_invalid,
    },
    AuthzRow {
        meta: meta(
            "as.authorize.duplicate-params",
            "as-authz-duplicate-params",
            "Refuses a repeated request parameter",
            "An authorization request with state twice, or code_challenge twice, is refused with invalid_request: OAuth 2.1 §3.1 forbids repeated parameters.",
            Level::Must,
            &[rfc(
                "OAuth 2.1",
                "§3.1",
                "request and response parameters must not be included more than once",
                OAUTH21,
            )],
            &["as-duplicate-params-accepted"],
        ),
        probes: duplicate_params,
    },
    AuthzRow {
        meta: meta(
            "as.authorize.unknown-params",
            "as-authz-unknown-params",
            "Ignores unknown request parameters",
            "A valid authorization request with an unrecognised parameter (foo=bar) goes on as the valid one does (a code, or a login step): OAuth 2.1 §3.1 says unknown parameters are ignored.",
            Level::Must,
            &[rfc(
                "OAuth 2.1",
                "§3.1",
                "the authorization server must ignore unrecognized request parameters",
                OAUTH21,
            )],
            &["as-unknown-params-refused"],
        ),
        probes: unknown_params,
    },
    AuthzRow {
        meta: meta(
            "as.authorize.empty-params",
            "as-authz-empty-params",
            "Treats an empty parameter as omitted",
            "A valid authorization request with scope= (no value) goes on as the same request without scope does: OAuth 2.1 §3.1 says parameters sent without a value are treated as omitted.",
            Level::Must,
            &[rfc(
                "OAuth 2.1",
                "§3.1",
                "parameters sent without a value must be treated as if they were omitted",
                OAUTH21,
            )],
            &["as-empty-scope-refused"],
        ),
        probes: empty_params,
    },
    AuthzRow {
        meta: meta(
            "as.authorize.loopback-port",
            "as-authz-redirect-loopback-port",
            "Lets a native client's loopback redirect use any port",
            "With a registered loopback redirect URI without a port (http://127.0.0.1/callback), a request naming it with a port (:53117) goes on: OAuth 2.1 and RFC 8252 §7.3 let the port vary. Skip for a client whose redirect URI is not such a loopback URI.",
            Level::Must,
            &[
                rfc(
                    "OAuth 2.1",
                    "§4.1.1",
                    "the authorization server must allow any port for loopback redirect URIs",
                    OAUTH21,
                ),
                rfc(
                    "RFC 8252",
                    "§7.3",
                    "loopback interface redirection, any port",
                    RFC8252,
                ),
            ],
            &["as-loopback-port-fixed"],
        ),
        probes: loopback_port,
    },
];

/// `as.authorize.no-cors`: a preflight from a foreign origin gets no CORS permission.
pub(super) const NO_CORS: CheckMeta = CheckMeta {
    needs: &[Need::Anonymous],
    ..meta(
        "as.authorize.no-cors",
        "as-authz-no-cors",
        "Does not allow CORS at the authorization endpoint",
        "A CORS preflight (OPTIONS with Origin: https://evil.test) at the authorization endpoint gets no Access-Control-Allow-Origin for that origin: the endpoint is navigated to, never fetched by scripts.",
        Level::Must,
        &[rfc(
            "OAuth 2.1",
            "§3.1",
            "the authorization endpoint does not support CORS",
            OAUTH21,
        )],
        &["as-authorize-cors"],
    )
};

pub(super) async fn no_cors(ctx: &AsContext) -> Outcome {
    let Some(endpoint) = ctx.authorization_endpoint() else {
        return Outcome::error(
            "the metadata names no authorization_endpoint (see as.metadata.required)",
            ctx.documents.exchanges(),
        );
    };
    let origin = "https://evil.test";
    let exchange = ctx
        .driver
        .send(
            ProbeRequest::new("OPTIONS", endpoint)
                .header("origin", origin)
                .header("access-control-request-method", "GET"),
        )
        .await;
    let resp = match &exchange.response {
        Ok(r) => r,
        Err(e) => {
            return Outcome::error(
                format!("the authorization endpoint did not answer a preflight ({e})"),
                vec![exchange],
            );
        }
    };
    let allowed = resp
        .header("access-control-allow-origin")
        .map(str::to_owned);
    let permits = allowed
        .as_deref()
        .is_some_and(|a| a == "*" || a.eq_ignore_ascii_case(origin));
    let assertion = observation(
        Part::Status,
        Level::Must,
        format!("no Access-Control-Allow-Origin for {origin}"),
        !permits,
        format!(
            "HTTP {} with Access-Control-Allow-Origin: {}",
            resp.status,
            allowed.unwrap_or_default()
        ),
    );
    let mut outcome = Outcome::from_grade(
        Level::Must,
        &Grade {
            assertions: vec![assertion],
        },
        vec![exchange.clone()],
    );
    if outcome.verdict == Verdict::Pass {
        outcome.message = format!(
            "a preflight from {origin} got HTTP {} without permission to read the answer",
            resp.status
        );
    }
    outcome
}
