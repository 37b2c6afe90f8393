//! Spec §2.3/§2.4 rows that act as a confidential client, which each row registers for itself
//! (RFC 7591, `client_secret_basic`; deleted with the run's other registrations): a code
//! requested without PKCE and redeemed with a verifier (PKCE downgrade), the revocation of a
//! reused code's tokens seen through token introspection (RFC 7662, where a client may ask
//! about its own tokens), and a client-credentials token set beside a user's.
//!
//! The run's own client is public and has no secret, so it can do none of these; without open
//! registration the rows are NotEvaluated.

use serde_json::{Map, Value, json};

use crate::catalog::rfc;
use crate::check::{CheckMeta, Outcome};
use crate::engine::authorization_server::{
    AsClient, AsContext, AuthzAnswer, ConfidentialClient, IssuedCode,
};
use crate::engine::runner::{Check, CheckFuture};
use crate::http::Exchange;
use crate::model::{Level, Verdict};

use super::token::{
    Answer, CODE, DEFAULT_RESOURCE, Due, TokenProbe, access_token_claims, answer_to, finish,
    form_post, no_code, pairs, probe, refusal, rule, send,
};
use super::{OAUTH21, RFC9700, as_meta};

const RFC7662: &str = "https://www.rfc-editor.org/rfc/rfc7662";
const RFC9068: &str = "https://www.rfc-editor.org/rfc/rfc9068";

/// A confidential client a row registered: where its codes go, and its credentials.
struct Confidential {
    client: AsClient,
    credentials: ConfidentialClient,
}

impl Confidential {
    /// A token request of this client, authenticated with HTTP Basic.
    fn request(
        &self,
        what: impl Into<String>,
        form: Vec<(String, String)>,
        due: Due,
    ) -> TokenProbe {
        TokenProbe {
            basic: Some(self.credentials.basic()),
            ..probe(what, form, due)
        }
    }

    /// The redemption of `code` (with its verifier when it has one).
    fn redemption(&self, code: &IssuedCode, verifier: Option<&str>) -> Vec<(String, String)> {
        super::token::redemption_form(code, verifier, None)
    }
}

/// The resource `R` every code is requested for.
fn resource_of(ctx: &AsContext) -> String {
    ctx.resource
        .clone()
        .unwrap_or_else(|| DEFAULT_RESOURCE.to_owned())
}

/// The confidential client of the row: `--confidential-client-id` when given, else one it
/// registers (`client_secret_basic`) with `grant_types` (with the code grant, a native client
/// with the loopback redirect URI a login can end at).
async fn register(
    ctx: &AsContext,
    grant_types: &[&str],
    evidence: &mut Vec<Exchange>,
) -> Result<Confidential, Outcome> {
    let code_flow = grant_types.contains(&"authorization_code");
    if let Some(given) = &ctx.confidential_client {
        let redirect_uri = match (&given.redirect_uri, code_flow) {
            (Some(uri), _) => uri.clone(),
            (None, false) => String::new(),
            (None, true) => {
                return Err(Outcome::new(
                    Verdict::NotEvaluated,
                    format!(
                        "this row runs a code flow as the confidential client {} \
                         (--confidential-client-id), which needs one of its registered \
                         redirect URIs: give --confidential-redirect-uri",
                        given.client_id
                    ),
                ));
            }
        };
        return Ok(Confidential {
            client: AsClient {
                client_id: given.client_id.clone(),
                redirect_uri,
            },
            credentials: given.clone(),
        });
    }
    let redirect_uris: Vec<String> = if code_flow {
        vec![crate::engine::registration::loopback_redirect_uri()]
    } else {
        Vec::new()
    };
    let metadata = json!({
        "redirect_uris": redirect_uris,
        "token_endpoint_auth_method": "client_secret_basic",
        "grant_types": grant_types,
        "response_types": if code_flow { vec!["code"] } else { Vec::new() },
        "client_name": "mcp-authspec conformance run (confidential client)",
        "application_type": "native",
    });
    let what = format!("a confidential client ({})", grant_types.join(", "));
    let (client, answer) =
        super::register_row_client_answer(ctx, &metadata, &what, Verdict::NotEvaluated, evidence)
            .await?;
    match answer.member("client_secret").and_then(Value::as_str) {
        Some(secret) if !secret.is_empty() => Ok(Confidential {
            credentials: ConfidentialClient {
                client_id: client.client_id.clone(),
                secret: crate::source::auth_code::Secret::new(secret),
                redirect_uri: Some(client.redirect_uri.clone()),
            },
            client,
        }),
        _ => Err(Outcome::error(
            format!(
                "setup: the registration endpoint registered {what} as client {} without a \
                 client_secret",
                client.client_id
            ),
            vec![answer.exchange],
        )),
    }
}

/// The endpoints every row here needs, or the Error that says which is missing.
fn endpoints(ctx: &AsContext) -> Result<(), Outcome> {
    if ctx.authorization_endpoint().is_none() || ctx.token_endpoint().is_none() {
        return Err(Outcome::error(
            "the metadata names no authorization_endpoint or token_endpoint (see \
             as.metadata.required)",
            ctx.documents.exchanges(),
        ));
    }
    Ok(())
}

/// Sends `probe`; the answer's JSON body when a token came back, else the answer in words.
async fn exchange_for_token(
    ctx: &AsContext,
    probe: &TokenProbe,
    evidence: &mut Vec<Exchange>,
) -> Result<Map<String, Value>, String> {
    let exchange = send(ctx, probe).await;
    evidence.push(exchange.clone());
    super::token::redeemed(&exchange)
}

/// The positive control's Error: `probe` got no token.
fn control_failed(probe: &TokenProbe, why: &str, evidence: Vec<Exchange>) -> Outcome {
    Outcome::error(
        format!(
            "positive control: the token endpoint answered {} with {why}, so nothing after it \
             can be judged",
            probe.what
        ),
        evidence,
    )
}

// ---- as.token.pkce-downgrade -------------------------------------------------------------

/// A code of `conf` requested without `code_challenge`; Skip when the server demands PKCE.
async fn code_without_pkce(
    ctx: &AsContext,
    conf: &Confidential,
    resource: &str,
    evidence: &mut Vec<Exchange>,
) -> Result<IssuedCode, Outcome> {
    match ctx.request_code_without_pkce(&conf.client, resource).await {
        Ok(code) => {
            evidence.push(code.exchange.clone());
            Ok(code)
        }
        Err((
            answer @ (AuthzAnswer::ErrorRedirect { .. } | AuthzAnswer::ErrorPage { .. }),
            exchange,
        )) => Err(Outcome {
            evidence: vec![exchange],
            ..Outcome::new(
                Verdict::Skip,
                format!(
                    "the authorization endpoint answered an authorization request of the \
                     confidential client {} without code_challenge with {}: it demands PKCE of \
                     every client, so no downgrade is possible (as.authorize.pkce-required \
                     grades that)",
                    conf.client.client_id,
                    answer.describe()
                ),
            )
        }),
        Err((answer, exchange)) => Err(no_code(ctx, &conf.client, resource, answer, exchange)),
    }
}

async fn pkce_downgrade(ctx: &AsContext) -> Outcome {
    if let Err(outcome) = endpoints(ctx) {
        return outcome;
    }
    let mut evidence = Vec::new();
    let resource = resource_of(ctx);
    let conf = match register(ctx, &["authorization_code"], &mut evidence).await {
        Ok(conf) => conf,
        Err(outcome) => return outcome,
    };
    // Positive control: a code issued without a challenge is redeemed without a verifier.
    let code = match code_without_pkce(ctx, &conf, &resource, &mut evidence).await {
        Ok(code) => code,
        Err(outcome) => return outcome,
    };
    let control = conf.request(
        "a redemption without code_verifier of a code requested without code_challenge",
        conf.redemption(&code, None),
        Due::Issued,
    );
    if let Err(why) = exchange_for_token(ctx, &control, &mut evidence).await {
        return control_failed(&control, &why, evidence);
    }
    let code = match code_without_pkce(ctx, &conf, &resource, &mut evidence).await {
        Ok(code) => code,
        Err(outcome) => return outcome,
    };
    let verifier = mock_idp::random_b64url(32);
    let downgrade = conf.request(
        "a redemption with a code_verifier of a code requested without code_challenge",
        conf.redemption(&code, Some(&verifier)),
        Due::Issued,
    );
    let resp = match answer_to(ctx, &downgrade, &mut evidence).await {
        Ok(r) => r,
        Err(outcome) => return outcome,
    };
    let answer = Answer::of(&resp);
    let did = format!(
        "the token endpoint answered {} (confidential client {}) with {}",
        downgrade.what,
        conf.client.client_id,
        answer.describe()
    );
    let assertions = refusal(
        Level::Must,
        &downgrade.what,
        &["invalid_request", "invalid_grant"],
        Level::Info,
        &answer,
        &did,
    );
    finish(
        Level::Must,
        assertions,
        evidence,
        format!(
            "a confidential client may omit PKCE, and then {}: {}",
            downgrade.what,
            answer.describe()
        ),
    )
}

// ---- as.token.code-reuse-revokes ---------------------------------------------------------

/// What the introspection endpoint said about a token.
enum Introspected {
    Active(Map<String, Value>),
    Inactive,
    /// No `active` answer: the answer in words.
    Unanswered(String),
}

/// Asks the introspection endpoint about `token`, as `conf` (RFC 7662 §2.1).
async fn introspect(
    ctx: &AsContext,
    endpoint: &str,
    conf: &Confidential,
    token: &str,
    evidence: &mut Vec<Exchange>,
) -> Introspected {
    let form = pairs(&[("token", token), ("token_type_hint", "access_token")]);
    let basic = conf.credentials.basic();
    let exchange = ctx
        .driver
        .send(form_post(endpoint, &form, Some(&basic)))
        .await;
    evidence.push(exchange.clone());
    let resp = match &exchange.response {
        Ok(r) => r,
        Err(e) => return Introspected::Unanswered(format!("no answer ({e})")),
    };
    let answer = Answer::of(resp);
    match (
        resp.status,
        answer.member("active").and_then(Value::as_bool),
    ) {
        (200, Some(true)) => Introspected::Active(answer.body.unwrap_or_default()),
        (200, Some(false)) => Introspected::Inactive,
        _ => Introspected::Unanswered(answer.describe()),
    }
}

async fn code_reuse_revokes(ctx: &AsContext) -> Outcome {
    if let Err(outcome) = endpoints(ctx) {
        return outcome;
    }
    let Some(introspection) = ctx.introspection_endpoint() else {
        return Outcome::new(
            Verdict::Skip,
            "the metadata names no introspection_endpoint: whether a reused code's tokens are \
             revoked cannot be observed (the run asks no resource server)",
        );
    };
    let mut evidence = Vec::new();
    let resource = resource_of(ctx);
    let conf = match register(ctx, &["authorization_code"], &mut evidence).await {
        Ok(conf) => conf,
        Err(outcome) => return outcome,
    };
    let code = match ctx
        .request_code_with(&conf.client, Some(&resource), &[])
        .await
    {
        Ok(code) => code,
        Err((answer, exchange)) => {
            return no_code(ctx, &conf.client, &resource, answer, exchange);
        }
    };
    evidence.push(code.exchange.clone());
    let form = conf.redemption(&code, Some(&code.verifier));
    let first = conf.request("a valid code redemption", form.clone(), Due::Issued);
    let body = match exchange_for_token(ctx, &first, &mut evidence).await {
        Ok(body) => body,
        Err(why) => return control_failed(&first, &why, evidence),
    };
    let token = body
        .get("access_token")
        .and_then(Value::as_str)
        .unwrap_or_default();
    // Positive control: the client is told about its own fresh token.
    match introspect(ctx, introspection, &conf, token, &mut evidence).await {
        Introspected::Active(_) => {}
        Introspected::Inactive => {
            return Outcome {
                evidence,
                ..Outcome::new(
                    Verdict::Skip,
                    format!(
                        "the introspection endpoint answered active:false for the fresh access \
                         token of client {}, which asked: it tells this client nothing about \
                         its tokens, so their revocation cannot be observed",
                        conf.client.client_id
                    ),
                )
            };
        }
        Introspected::Unanswered(why) => {
            return Outcome {
                evidence,
                ..Outcome::new(
                    Verdict::Skip,
                    format!(
                        "the introspection endpoint answered client {} asking about its own \
                         fresh access token with {why}: it does not serve this client, so the \
                         revocation cannot be observed",
                        conf.client.client_id
                    ),
                )
            };
        }
    }
    // The reuse itself is as.token.code-reuse's to grade; here only what it does to the
    // first tokens.
    let second = conf.request(
        "a second redemption of the same code",
        form,
        Due::Refused {
            errors: &["invalid_grant"],
            error_level: Level::Info,
        },
    );
    let reused = send(ctx, &second).await;
    evidence.push(reused.clone());
    let reused = reused
        .response
        .as_ref()
        .map(|r| Answer::of(r).describe())
        .unwrap_or_else(|e| format!("no answer ({e})"));
    let after = introspect(ctx, introspection, &conf, token, &mut evidence).await;
    let said = match &after {
        Introspected::Active(_) => "active:true".to_owned(),
        Introspected::Inactive => "active:false".to_owned(),
        Introspected::Unanswered(why) => why.clone(),
    };
    let assertions = vec![rule(
        Level::Should,
        "the access token of a code's first redemption is revoked once the code is presented \
         again",
        matches!(after, Introspected::Inactive),
        &format!(
            "after the token endpoint answered a second redemption of a code with {reused}, \
             the introspection endpoint answered {said} for the first redemption's access token"
        ),
    )];
    finish(
        Level::Should,
        assertions,
        evidence,
        format!(
            "after a second redemption of its code ({reused}), the first access token \
             introspects as inactive"
        ),
    )
}

// ---- as.at.client-vs-user ----------------------------------------------------------------

/// The `sub` of an access token: read from a JWT, else asked of the introspection endpoint by
/// `conf` (whose token it must be). `Err` is why it cannot be read.
async fn subject_of(
    ctx: &AsContext,
    token: &str,
    conf: Option<&Confidential>,
    evidence: &mut Vec<Exchange>,
) -> Result<Option<String>, String> {
    let sub =
        |claims: &Map<String, Value>| claims.get("sub").and_then(Value::as_str).map(str::to_owned);
    if let Some(claims) = access_token_claims(token) {
        return Ok(sub(&claims));
    }
    let (Some(endpoint), Some(conf)) = (ctx.introspection_endpoint(), conf) else {
        return Err("it is opaque and not introspected".into());
    };
    match introspect(ctx, endpoint, conf, token, evidence).await {
        Introspected::Active(claims) => Ok(sub(&claims)),
        Introspected::Inactive => Err("it is opaque and introspects as inactive".into()),
        Introspected::Unanswered(why) => Err(format!(
            "it is opaque and the introspection endpoint answered {why}"
        )),
    }
}

async fn client_vs_user(ctx: &AsContext) -> Outcome {
    if let Err(outcome) = endpoints(ctx) {
        return outcome;
    }
    let offered = ctx
        .documents
        .primary()
        .and_then(|(_, d)| d.object.get("grant_types_supported"))
        .and_then(Value::as_array)
        .is_none_or(|grants| grants.iter().any(|g| g == "client_credentials"));
    if !offered {
        return Outcome::new(
            Verdict::Skip,
            "grant_types_supported does not list client_credentials: no token is issued \
             without a user",
        );
    }
    let mut evidence = Vec::new();
    let user = match super::token::user_tokens(ctx, &mut evidence).await {
        Ok(user) => user,
        Err(outcome) => return outcome,
    };
    let user_token = user.str("access_token").unwrap_or_default().to_owned();
    let user_sub = match subject_of(ctx, &user_token, None, &mut evidence).await {
        Ok(Some(sub)) => sub,
        Ok(None) => {
            return Outcome::new(
                Verdict::Skip,
                "the user's access token has no sub (as.at.claims grades that): there is no \
                 user subject to compare with",
            );
        }
        Err(why) => {
            return Outcome::new(
                Verdict::Skip,
                format!("the user's access token has no readable sub: {why}"),
            );
        }
    };
    let conf = match register(ctx, &["client_credentials"], &mut evidence).await {
        Ok(conf) => conf,
        Err(outcome) => return outcome,
    };
    let resource = resource_of(ctx);
    let request = conf.request(
        format!("a client credentials request for resource {resource}"),
        pairs(&[
            ("grant_type", "client_credentials"),
            ("resource", &resource),
        ]),
        Due::Issued,
    );
    let body = match exchange_for_token(ctx, &request, &mut evidence).await {
        Ok(body) => body,
        Err(why) => {
            return Outcome {
                evidence,
                ..Outcome::new(
                    Verdict::Skip,
                    format!(
                        "the token endpoint answered {} of the confidential client {} with \
                         {why}: no client credentials token to compare",
                        request.what, conf.client.client_id
                    ),
                )
            };
        }
    };
    let token = body
        .get("access_token")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let client_sub = match subject_of(ctx, token, Some(&conf), &mut evidence).await {
        Ok(sub) => sub,
        Err(why) => {
            return Outcome::new(
                Verdict::Skip,
                format!("the client credentials access token has no readable sub: {why}"),
            );
        }
    };
    let seen = client_sub
        .as_deref()
        .map_or_else(|| "no sub".to_owned(), |s| format!("sub {s:?}"));
    let assertions = vec![rule(
        Level::Should,
        "a client credentials token's sub is not a user's",
        client_sub.as_deref() != Some(user_sub.as_str()),
        &format!(
            "the token endpoint answered {} of client {} with an access token whose sub is the \
             user's, {user_sub:?}",
            request.what, conf.client.client_id
        ),
    )];
    finish(
        Level::Should,
        assertions,
        evidence,
        format!(
            "the client credentials token of client {} has {seen}; the user's has sub \
             {user_sub:?}",
            conf.client.client_id
        ),
    )
}

// ---- the rows ----------------------------------------------------------------------------

const PKCE_DOWNGRADE: CheckMeta = as_meta(
    "as.token.pkce-downgrade",
    "as-token-pkce-downgrade",
    "Refuses a code_verifier for a code issued without a challenge",
    "A confidential client the row registers (client_secret_basic) asks for a code without code_challenge; when the server issues one, a code so issued is redeemed without a verifier (the positive control), and another with a code_verifier: that redemption is refused with HTTP 400 and no token (PKCE downgrade); the error is recorded (invalid_request or invalid_grant). Skip when the server demands PKCE of every client (as.authorize.pkce-required grades that); NotEvaluated without open registration.",
    Level::Must,
    &[
        rfc(
            "RFC 9700",
            "§2.1.1, §4.8.2",
            "a token request with a code_verifier is accepted only if the authorization request had a code_challenge",
            RFC9700,
        ),
        rfc(
            "OAuth 2.1",
            "§4.1.3, §7.5.1",
            "PKCE downgrade attacks are mitigated; confidential clients may omit PKCE",
            OAUTH21,
        ),
    ],
    CODE,
    &["as-token-pkce-downgrade"],
);

const CODE_REUSE_REVOKES: CheckMeta = as_meta(
    "as.token.code-reuse-revokes",
    "as-token-code-reuse",
    "Revokes the tokens of a code presented twice",
    "A confidential client the row registers redeems a code, introspects its access token (RFC 7662; the positive control: active), presents the code again, and introspects the first access token again: it is inactive (SHOULD; as.token.code-reuse grades the refusal itself). Skip without an introspection_endpoint, or when it tells the client nothing about its own token; NotEvaluated without open registration.",
    Level::Should,
    &[
        rfc(
            "OAuth 2.1",
            "§4.1.3",
            "a code used more than once is denied, and the tokens issued with it should be revoked",
            OAUTH21,
        ),
        rfc(
            "RFC 7662",
            "§2.2",
            "active is false for a revoked token",
            RFC7662,
        ),
    ],
    CODE,
    &["as-code-reuse-keeps-tokens", "as-token-code-reuse"],
);

const CLIENT_VS_USER: CheckMeta = as_meta(
    "as.at.client-vs-user",
    "as-at-client-vs-user",
    "Keeps client credentials tokens apart from users' tokens",
    "The sub of a user's access token (a code flow of the run's client) is compared with the sub of a client credentials token of a confidential client the row registers (grant_types [client_credentials], resource R): they differ (a client's sub colliding with a user's lets the client pass for the user). Opaque tokens are read by introspection where the client may ask, else Skip; Skip when client_credentials is not offered; NotEvaluated without open registration.",
    Level::Should,
    &[rfc(
        "RFC 9068",
        "§5, §6",
        "a client credentials token's sub must not be confused with a resource owner's",
        RFC9068,
    )],
    CODE,
    &["as-client-credentials-user-sub"],
);

/// The checks of this file, in catalogue order.
pub(super) fn checks() -> Vec<Check<AsContext>> {
    vec![
        Check::new(PKCE_DOWNGRADE, |ctx: &AsContext| -> CheckFuture<'_> {
            Box::pin(pkce_downgrade(ctx))
        }),
        Check::new(CODE_REUSE_REVOKES, |ctx: &AsContext| -> CheckFuture<'_> {
            Box::pin(code_reuse_revokes(ctx))
        }),
        Check::new(CLIENT_VS_USER, |ctx: &AsContext| -> CheckFuture<'_> {
            Box::pin(client_vs_user(ctx))
        }),
    ]
}
