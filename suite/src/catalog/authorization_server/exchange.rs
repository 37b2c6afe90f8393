//! RFC 8693 token exchange at the authorization server: an MCP server that calls an upstream
//! API must not pass the client's token through (MCP Security Best Practices, "Token
//! Passthrough"); it exchanges the token it received (audience `R`) for one for the upstream
//! `U`, as a confidential client of the authorization server. The rows check that such an
//! exchange cannot widen audience or scope, and that the server refuses subject tokens that
//! are not the exchanging client's to exchange.
//!
//! Each row is calibrated by a positive control: the run's user token for `R` (a code flow of
//! the run's client, as the token rows get theirs) exchanged for `U` by the exchanging client
//! must give a token, else the row is an Error. The exchanging client is
//! `--exchange-client-id` (client_secret_basic), else a confidential client the row registers
//! with the grant and `"resource": R` (RFC 9728's name for the resource a server stands for;
//! a server that ties exchanging clients to resources otherwise needs the flags). `U` is
//! `--other-resource`, else [`UPSTREAM`]. The rows apply when the metadata lists the grant in
//! `grant_types_supported` (Skip otherwise: token exchange is optional).

use serde_json::{Map, Value, json};

use crate::catalog::rfc;
use crate::check::{CheckMeta, Need, Outcome};
use crate::engine::authorization_server::{AsClient, AsContext, ConfidentialClient};
use crate::engine::runner::{Check, CheckFuture};
use crate::expect::Assertion;
use crate::http::Exchange;
use crate::model::{Level, Verdict};

use super::token::{
    Answer, DEFAULT_RESOURCE, Due, TokenProbe, access_token_claims, answer_to, code_with, finish,
    grade, pairs, redeemed, rule, token_request,
};
use super::{OAUTH21, RFC8707, as_meta};

/// The grant type (RFC 8693 §2.1).
pub(crate) const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The subject token type of an access token (RFC 8693 §3).
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// The target tokens are exchanged for when the run names none: a loopback URL that stands
/// for an upstream API (nothing listens there; only the issued token is read).
const UPSTREAM: &str = "http://127.0.0.1:9/upstream-api";
/// A target no authorization server can know: `.invalid` never names a host (RFC 6761 §6.4).
const UNKNOWN_TARGET: &str = "https://mcp-authspec.invalid/upstream-api";
/// A subject token that is no token at all.
const GARBAGE_TOKEN: &str = "mcp-authspec-not-a-token";

const RFC8693: &str = "https://www.rfc-editor.org/rfc/rfc8693";
const RFC6749: &str = "https://www.rfc-editor.org/rfc/rfc6749";

/// What the engine prepared for a row.
pub(crate) struct Prepared<'a> {
    ctx: &'a AsContext,
    /// The run's client, whose user tokens are exchanged.
    client: &'a AsClient,
    exchanger: Exchanger,
    /// `R`: the resource the subject token was issued for, which the exchanger stands for.
    resource: String,
    /// `U`: the target of every exchange.
    target: String,
    /// The run's user token for `R` and the scope it was granted.
    subject: Granted,
    /// The positive control: `subject` exchanged for `target`, and its answer's body.
    control: Exchange,
    control_body: Map<String, Value>,
}

/// A user token with its granted scope (the token response's, else the token's claim).
struct Granted {
    token: String,
    scope: Vec<String>,
}

/// The client that exchanges, and how the run got it.
struct Exchanger {
    client: ConfidentialClient,
    /// "client X (--exchange-client-id)" or "client X (registered for the row)".
    describe: String,
}

impl Exchanger {
    /// An exchange of `subject_token` by this client for `target` (unless `extra` names
    /// another `resource`), with `extra` parameters.
    fn exchange(
        &self,
        what: impl Into<String>,
        subject_token: &str,
        target: &str,
        extra: &[(&str, &str)],
        due: Due,
    ) -> TokenProbe {
        let mut form = pairs(&[
            ("grant_type", GRANT_TYPE),
            ("subject_token", subject_token),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
        ]);
        form.extend(pairs(extra));
        if !form.iter().any(|(k, _)| k == "resource") {
            form.extend(pairs(&[("resource", target)]));
        }
        TokenProbe {
            what: what.into(),
            form,
            basic: Some(self.client.basic()),
            due,
            after: None,
        }
    }
}

impl Prepared<'_> {
    /// An exchange of `subject_token` for `U` by the exchanger.
    fn exchange(
        &self,
        what: impl Into<String>,
        subject_token: &str,
        extra: &[(&str, &str)],
        due: Due,
    ) -> ExchangeProbe {
        ExchangeProbe {
            request: self
                .exchanger
                .exchange(what, subject_token, &self.target, extra, due),
            token_within_scope: false,
        }
    }
}

/// One exchange request of a row.
struct ExchangeProbe {
    request: TokenProbe,
    /// A token is no failure when its scope stays within the subject token's (the request's
    /// `Due` grades a refusal).
    token_within_scope: bool,
}

/// The requests a row sends after the positive control.
enum Requests {
    None,
    /// Built from what was prepared, sent in order.
    Built(fn(&Prepared) -> Vec<ExchangeProbe>),
    /// A foreign subject token: the run's user token for `U`, exchanged by the exchanger.
    ForeignSubject,
}

pub(crate) struct ExchangeRow {
    meta: CheckMeta,
    /// A judgement of the positive control's answer.
    control: Option<fn(&Prepared) -> Vec<Assertion>>,
    requests: Requests,
}

/// The errors a refused subject token may carry: RFC 8693 §2.2.2 names invalid_request;
/// invalid_grant is how many servers read RFC 6749 §5.2 for it.
const SUBJECT_REFUSED: &[&str] = &["invalid_request", "invalid_grant"];

pub(super) fn checks() -> impl Iterator<Item = Check<AsContext>> {
    ROWS.iter().map(|row| {
        Check::new(row.meta, move |ctx: &AsContext| -> CheckFuture<'_> {
            Box::pin(run_exchange_row(ctx, row))
        })
    })
}

async fn run_exchange_row(ctx: &AsContext, row: &ExchangeRow) -> Outcome {
    let mut evidence = Vec::new();
    let prepared = match prepare(ctx, &mut evidence).await {
        Ok(p) => p,
        Err(outcome) => return outcome,
    };
    let level = row.meta.level;
    let mut assertions = row
        .control
        .map(|judge| judge(&prepared))
        .unwrap_or_default();
    let mut done = vec![format!(
        "a valid exchange by {} of a user token for {} got a token for {}",
        prepared.exchanger.describe, prepared.resource, prepared.target
    )];
    let probes = match row.requests {
        Requests::None => Vec::new(),
        Requests::Built(build) => build(&prepared),
        Requests::ForeignSubject => {
            match user_token(ctx, prepared.client, &prepared.target, &mut evidence).await {
                Ok(foreign) => foreign_subject(&prepared, &foreign.token),
                Err(outcome) => return outcome,
            }
        }
    };
    for probe in &probes {
        let request = &probe.request;
        let resp = match answer_to(ctx, request, &mut evidence).await {
            Ok(r) => r,
            Err(outcome) => return outcome,
        };
        let answer = Answer::of(&resp);
        if probe.token_within_scope && answer.token_issued() {
            assertions.push(scope_within_subject(&prepared, request, &answer));
        } else {
            assertions.extend(grade(level, request, &answer));
        }
        done.push(request.what.clone());
    }
    finish(
        level,
        assertions,
        evidence,
        format!("as required: {}", done.join("; ")),
    )
}

/// The scope of the token a widening request got is within the subject token's.
fn scope_within_subject(p: &Prepared, request: &TokenProbe, answer: &Answer) -> Assertion {
    let requested = request
        .form
        .iter()
        .find(|(k, _)| k == "scope")
        .map_or("", |(_, v)| v.as_str());
    // RFC 8693 §2.2.1: scope is omitted only when it is the requested one.
    let issued = answer
        .member("scope")
        .and_then(Value::as_str)
        .unwrap_or(requested);
    let beyond: Vec<&str> = issued
        .split(' ')
        .filter(|s| !s.is_empty() && !p.subject.scope.iter().any(|g| g == s))
        .collect();
    rule(
        Level::Should,
        format!(
            "{} gets invalid_scope or a scope within the subject token's (\"{}\")",
            request.what,
            p.subject.scope.join(" ")
        ),
        beyond.is_empty(),
        &format!(
            "the token endpoint answered {} with a token for scope \"{issued}\", beyond the \
             subject token's by \"{}\"",
            request.what,
            beyond.join(" ")
        ),
    )
}

/// Applicability, the exchanging client, the subject token and the positive control.
async fn prepare<'a>(
    ctx: &'a AsContext,
    evidence: &mut Vec<Exchange>,
) -> Result<Prepared<'a>, Outcome> {
    let Some((_, document)) = ctx.documents.primary() else {
        return Err(Outcome::error(
            format!(
                "no metadata document of {} could be read (see as.metadata.available)",
                ctx.issuer
            ),
            ctx.documents.exchanges(),
        ));
    };
    if !document
        .strings("grant_types_supported")
        .contains(&GRANT_TYPE)
    {
        return Err(Outcome::new(
            Verdict::Skip,
            format!(
                "the authorization server does not offer token exchange: its metadata's \
                 grant_types_supported does not list {GRANT_TYPE}"
            ),
        ));
    }
    if ctx.token_endpoint().is_none() {
        return Err(Outcome::error(
            "the metadata names no token_endpoint (see as.metadata.required)",
            ctx.documents.exchanges(),
        ));
    }
    let Some(client) = &ctx.client else {
        return Err(Outcome::undeclared_need());
    };
    let resource = ctx
        .resource
        .clone()
        .unwrap_or_else(|| DEFAULT_RESOURCE.to_owned());
    let target = ctx
        .exchange_target
        .clone()
        .unwrap_or_else(|| UPSTREAM.to_owned());
    let exchanger = exchanger(ctx, &resource, evidence).await?;
    let subject = user_token(ctx, client, &resource, evidence).await?;
    let control = exchanger.exchange(
        "a valid token exchange",
        &subject.token,
        &target,
        &[],
        Due::Issued,
    );
    let exchange = ctx.driver.send(token_request(ctx, &control)).await;
    evidence.push(exchange.clone());
    match redeemed(&exchange) {
        Ok(control_body) => Ok(Prepared {
            ctx,
            client,
            exchanger,
            resource,
            target,
            subject,
            control: exchange,
            control_body,
        }),
        Err(why) => Err(Outcome::error(
            format!(
                "positive control: the token endpoint answered an exchange by {} of a user \
                 token for {resource} (subject_token_type access_token, resource {target}) \
                 with {why}, so nothing can be judged (the authorization server must let that \
                 client exchange tokens issued for {resource}; --other-resource names the \
                 target)",
                exchanger.describe
            ),
            vec![exchange],
        )),
    }
}

/// The flags that give the rows an exchanging client.
const EXCHANGE_FLAGS: &str = "--exchange-client-id ID and --exchange-client-secret-env VAR";

/// The exchanging client: given, or registered for the row (RFC 7591) standing for
/// `resource`; NotEvaluated naming the flags when neither is possible.
async fn exchanger(
    ctx: &AsContext,
    resource: &str,
    evidence: &mut Vec<Exchange>,
) -> Result<Exchanger, Outcome> {
    if let Some(client) = &ctx.exchange_client {
        return Ok(Exchanger {
            describe: format!("client {} (--exchange-client-id)", client.client_id),
            client: client.clone(),
        });
    }
    let Some(endpoint) = ctx.registration_endpoint() else {
        return Err(Outcome::new(
            Verdict::NotEvaluated,
            format!(
                "these rows exchange tokens as a confidential client allowed the token \
                 exchange grant: give {EXCHANGE_FLAGS} (the metadata names no \
                 registration_endpoint to register one)"
            ),
        ));
    };
    let metadata = json!({
        "client_name": "mcp-authspec token exchange (an MCP server)",
        "grant_types": [GRANT_TYPE],
        "token_endpoint_auth_method": "client_secret_basic",
        "resource": resource,
    });
    let answer =
        crate::engine::registration::register(&ctx.driver, &ctx.registrations, endpoint, &metadata)
            .await;
    evidence.push(answer.exchange.clone());
    let secret = answer.member("client_secret").and_then(Value::as_str);
    match (answer.client_id(), secret) {
        (Some(client_id), Some(secret)) => Ok(Exchanger {
            describe: format!("client {client_id} (registered for the row)"),
            client: ConfidentialClient {
                client_id: client_id.to_owned(),
                secret: crate::source::auth_code::Secret::new(secret),
                redirect_uri: None,
            },
        }),
        _ if answer.status.is_some_and(|s| (200..500).contains(&s)) => Err(Outcome {
            evidence: vec![answer.exchange.clone()],
            ..Outcome::new(
                Verdict::NotEvaluated,
                format!(
                    "the registration endpoint {endpoint} answered the registration of a \
                     confidential client with the token exchange grant with {} and no \
                     client_secret: give {EXCHANGE_FLAGS}",
                    answer.describe()
                ),
            )
        }),
        _ => Err(Outcome::error(
            format!(
                "setup: the registration endpoint {endpoint} answered the registration of a \
                 confidential client with the token exchange grant with {}",
                answer.describe()
            ),
            vec![answer.exchange],
        )),
    }
}

/// The run's user token for `resource` (a code flow of `client`, redeemed).
async fn user_token(
    ctx: &AsContext,
    client: &AsClient,
    resource: &str,
    evidence: &mut Vec<Exchange>,
) -> Result<Granted, Outcome> {
    let code = code_with(ctx, client, resource, &[], evidence).await?;
    let probe = super::token::probe(
        format!("a valid code redemption for {resource}"),
        super::token::redemption_form(&code, Some(&code.verifier), Some(&client.client_id)),
        Due::Issued,
    );
    let exchange = ctx.driver.send(token_request(ctx, &probe)).await;
    evidence.push(exchange.clone());
    let body = redeemed(&exchange).map_err(|why| {
        Outcome::error(
            format!(
                "positive control: the token endpoint answered {} with {why}, so there is no \
                 subject token to exchange",
                probe.what
            ),
            vec![exchange.clone()],
        )
    })?;
    let token = body["access_token"].as_str().unwrap_or_default().to_owned();
    let scope = body
        .get("scope")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| {
            access_token_claims(&token)?
                .get("scope")?
                .as_str()
                .map(str::to_owned)
        })
        .or_else(|| ctx.scope.clone())
        .unwrap_or_default();
    Ok(Granted {
        token,
        scope: scope
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

// ---- the rows' judgements and requests ---------------------------------------------------

fn success_shape(p: &Prepared) -> Vec<Assertion> {
    let Ok(resp) = &p.control.response else {
        return Vec::new();
    };
    let answer = Answer::of(resp);
    let member = |name: &str| p.control_body.get(name).and_then(Value::as_str);
    let did = |what: String| format!("the token endpoint answered a valid token exchange {what}");
    let token_type = member("token_type").unwrap_or_default();
    vec![
        rule(
            Level::Must,
            "the exchange response is application/json",
            answer.json_typed(),
            &did(format!(
                "with Content-Type {:?}",
                resp.header("content-type").unwrap_or_default()
            )),
        ),
        rule(
            Level::Must,
            "the exchange response has issued_token_type (RFC 8693 §2.2.1)",
            member("issued_token_type").is_some_and(|t| !t.is_empty()),
            &did("without issued_token_type".into()),
        ),
        rule(
            Level::Must,
            "the exchange response has token_type",
            !token_type.is_empty(),
            &did("without token_type".into()),
        ),
        rule(
            Level::Must,
            "the exchange response has Cache-Control: no-store",
            answer.no_store(),
            &did(format!(
                "with Cache-Control {:?}",
                resp.header_values("cache-control").join(", ")
            )),
        ),
        rule(
            Level::Should,
            "the exchange response has expires_in (RECOMMENDED)",
            p.control_body
                .get("expires_in")
                .is_some_and(Value::is_number),
            &did("without a numeric expires_in".into()),
        ),
    ]
}

/// An unknown target gets no token.
fn unknown_target(p: &Prepared) -> Vec<ExchangeProbe> {
    vec![p.exchange(
        format!("an exchange for the unknown target {UNKNOWN_TARGET}"),
        &p.subject.token,
        &[("resource", UNKNOWN_TARGET)],
        Due::Refused {
            errors: &["invalid_target"],
            error_level: Level::Should,
        },
    )]
}

/// The issued token's `aud` is the requested target alone (read from a JWT; an opaque
/// token's audience is recorded as unread).
fn audience_of_control(p: &Prepared) -> Vec<Assertion> {
    let token = p
        .control_body
        .get("access_token")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let did = "the token endpoint answered a valid token exchange";
    match access_token_claims(token).and_then(|c| c.get("aud").cloned()) {
        Some(aud) => {
            let only_target = match &aud {
                Value::String(s) => *s == p.target,
                Value::Array(items) => {
                    !items.is_empty() && items.iter().all(|v| v.as_str() == Some(&p.target))
                }
                _ => false,
            };
            vec![rule(
                Level::Should,
                format!(
                    "the exchanged token's aud is the requested target {} alone",
                    p.target
                ),
                only_target,
                &format!("{did} for {} with a token whose aud is {aud}", p.target),
            )]
        }
        None => vec![rule(
            Level::Info,
            format!("the exchanged token's aud is {} alone", p.target),
            false,
            &format!("{did} with a token whose aud could not be read (opaque, or no aud)"),
        )],
    }
}

fn scope_widened(p: &Prepared) -> Vec<ExchangeProbe> {
    let scope = super::token::wider_scope(p.ctx, &p.subject.scope);
    vec![p.exchange(
        format!(
            "an exchange asking for scope \"{scope}\" (the subject token's: \"{}\")",
            p.subject.scope.join(" ")
        ),
        &p.subject.token,
        &[("scope", &scope)],
        Due::Refused {
            errors: &["invalid_scope"],
            error_level: Level::Info,
        },
    )]
    .into_iter()
    .map(|probe| ExchangeProbe {
        token_within_scope: true,
        ..probe
    })
    .collect()
}

fn foreign_subject(p: &Prepared, foreign: &str) -> Vec<ExchangeProbe> {
    vec![p.exchange(
        format!(
            "an exchange by {} of a user token issued for {} (not {})",
            p.exchanger.describe, p.target, p.resource
        ),
        foreign,
        &[],
        Due::Refused {
            errors: SUBJECT_REFUSED,
            error_level: Level::Info,
        },
    )]
}

fn invalid_subject(p: &Prepared) -> Vec<ExchangeProbe> {
    let refused = Due::Refused {
        errors: SUBJECT_REFUSED,
        error_level: Level::Should,
    };
    vec![
        p.exchange(
            "an exchange of the user token with a character of its signature changed",
            &altered(&p.subject.token),
            &[],
            refused,
        ),
        p.exchange(
            format!("an exchange of the subject token {GARBAGE_TOKEN:?}"),
            GARBAGE_TOKEN,
            &[],
            refused,
        ),
    ]
}

/// `token` with one character of its last segment (a JWS signature; an opaque token's
/// middle) changed, away from the end, whose base64url character may carry only padding bits.
fn altered(token: &str) -> String {
    let start = token.rfind('.').map_or(0, |i| i + 1);
    let at = start + (token.len() - start) / 2;
    let Some(c) = token[at..].chars().next() else {
        return format!("{token}A");
    };
    let swapped = if c == 'A' { 'B' } else { 'A' };
    format!("{}{swapped}{}", &token[..at], &token[at + c.len_utf8()..])
}

// ---- the catalogue ---------------------------------------------------------------------------

const EXCHANGE_REQUEST: crate::check::SpecRef = rfc(
    "RFC 8693",
    "§2.1",
    "the authorization server validates the subject token; client authentication lets it \
     check who may exchange whose tokens",
    RFC8693,
);
const EXCHANGE_ERROR: crate::check::SpecRef = rfc(
    "RFC 8693",
    "§2.2.2",
    "an invalid or unacceptable subject token is refused (invalid_request); a target the \
     server will not issue for gets invalid_target",
    RFC8693,
);
const PASSTHROUGH: crate::check::SpecRef = rfc(
    "MCP Security Best Practices",
    "Token Passthrough",
    "a server calling upstream APIs uses a separate token for them, never the client's",
    crate::catalog::passthrough::SECURITY_BP,
);
const NEEDS: &[Need] = &[Need::AsClient];

static ROWS: &[ExchangeRow] = &[
    ExchangeRow {
        meta: as_meta(
            "as.exchange.success-shape",
            "as-exchange-success-shape",
            "Answers a token exchange in the standard form",
            "A valid token exchange (a user token for R, exchanged for U by a confidential client that stands for R) gets HTTP 200 application/json with access_token, issued_token_type and token_type, and Cache-Control: no-store (MUST); expires_in is RECOMMENDED (a missing one warns).",
            Level::Must,
            &[
                rfc(
                    "RFC 8693",
                    "§2.2.1",
                    "access_token, issued_token_type and token_type are REQUIRED; expires_in RECOMMENDED",
                    RFC8693,
                ),
                rfc(
                    "RFC 6749",
                    "§5.1",
                    "a token response carries Cache-Control: no-store",
                    RFC6749,
                ),
                PASSTHROUGH,
            ],
            NEEDS,
            &["as-exchange-success-shape", "as-token-success-shape"],
        ),
        control: Some(success_shape),
        requests: Requests::None,
    },
    ExchangeRow {
        meta: as_meta(
            "as.exchange.audience",
            "as-exchange-audience",
            "Does not widen the audience of an exchanged token",
            "The token a valid exchange for U issues has aud U alone, not the subject token's audience R as well; an exchange for an unknown target (https://mcp-authspec.invalid/upstream-api) is refused with no token, invalid_target (SHOULD). An opaque token's audience is recorded as unread.",
            Level::Should,
            &[
                rfc(
                    "RFC 8707",
                    "§2",
                    "the authorization server should audience-restrict tokens to the indicated resource",
                    RFC8707,
                ),
                EXCHANGE_ERROR,
                PASSTHROUGH,
            ],
            NEEDS,
            &["as-exchange-audience-widened", "as-resource-any"],
        ),
        control: Some(audience_of_control),
        requests: Requests::Built(unknown_target),
    },
    ExchangeRow {
        meta: as_meta(
            "as.exchange.scope",
            "as-exchange-scope",
            "Does not widen the scope of an exchanged token",
            "An exchange asking for the subject token's scope plus one more (a scopes_supported value it lacks) is refused (invalid_scope recorded) or gets a scope within the subject token's; a response without scope means the requested one (RFC 8693 §2.2.1).",
            Level::Should,
            &[
                rfc(
                    "RFC 8693",
                    "§5",
                    "the scope restricts the contexts in which delegated rights can be used",
                    RFC8693,
                ),
                rfc(
                    "OAuth 2.1",
                    "§4.3.1",
                    "a grant never widens the scope the resource owner granted (as for refresh)",
                    OAUTH21,
                ),
            ],
            NEEDS,
            &["as-exchange-scope-widened"],
        ),
        control: None,
        requests: Requests::Built(scope_widened),
    },
    ExchangeRow {
        meta: as_meta(
            "as.exchange.foreign-subject",
            "as-exchange-foreign-subject",
            "Refuses to exchange a token issued for another resource",
            "The run's user token for U (not R, the resource the exchanging client stands for) exchanged by that client is refused with HTTP 400 and no token; the error is recorded (invalid_request is RFC 8693 §2.2.2's). Otherwise any client allowed the grant could turn any token it holds into one for any target.",
            Level::Should,
            &[EXCHANGE_REQUEST, EXCHANGE_ERROR, PASSTHROUGH],
            NEEDS,
            &["as-exchange-foreign-subject"],
        ),
        control: None,
        requests: Requests::ForeignSubject,
    },
    ExchangeRow {
        meta: as_meta(
            "as.exchange.invalid-subject",
            "as-exchange-invalid-subject",
            "Refuses to exchange an invalid subject token",
            "The user token with a character of its signature changed, and a subject token that is no token, are each refused with HTTP 400 and no token (MUST: the server validates the subject token); the error is invalid_request (RFC 8693 §2.2.2) or invalid_grant (SHOULD).",
            Level::Must,
            &[EXCHANGE_REQUEST, EXCHANGE_ERROR],
            NEEDS,
            &["as-exchange-subject-unverified"],
        ),
        control: None,
        requests: Requests::Built(invalid_subject),
    },
];
