//! Spec §2.3: the token endpoint. Each row is a list of token requests, sent in order, and
//! what the endpoint must do with each ([`Due`]); or a judgement of a valid redemption's
//! answer. The engine ([`run_token_row`]) first prepares what the row's requests need
//! ([`Setup`]): a code comes from a valid authorization request (PKCE S256, `resource=R`), and
//! every row that needs one is calibrated by a positive control, a code redeemed for tokens.
//! An authorization server that answers the authorization request with a login step gives a
//! code only through a login (`--login-command`, [`AsContext::request_code`]): without one
//! those rows are NotEvaluated, never a pass. Rows that need no code run against any token
//! endpoint.
//!
//! A refusal for another right reason is no failure: the row's level grades that the request
//! was refused (400, no token); which `error` code came back is recorded (INFO) unless the
//! requirement names it.

use serde_json::{Map, Value};

use crate::catalog::{mcp, rfc};
use crate::check::{CheckMeta, Need, Outcome};
use crate::engine::authorization_server::{AsClient, AsContext, AuthzAnswer, IssuedCode};
use crate::expect::{Assertion, Grade, Part};
use crate::http::{Exchange, ProbeRequest, RecordedResponse};
use crate::model::{Level, Verdict};
use crate::wire::oauth::is_valid_error_text;

use super::{Judged, OAUTH21, RFC8707, RFC9700, as_meta, under_rfc9068};

/// The resource a code flow names when the run knows none: a loopback URL every test
/// authorization server accepts (nothing listens there; only the token's `aud` is read).
pub(crate) const DEFAULT_RESOURCE: &str = "http://127.0.0.1:9/mcp";
/// Another resource than the one a code was authorized for.
const OTHER_RESOURCE: &str = "http://127.0.0.1:9/other-mcp";
/// A resource no authorization server can know: `.invalid` never names a host (RFC 6761 §6.4).
const UNKNOWN_RESOURCE: &str = "https://mcp-authspec.invalid/mcp";
/// A client id no authorization server has registered.
const UNKNOWN_CLIENT: &str = "mcp-authspec-unknown-client";
/// Access tokens living longer than this warn (a tool choice, spec as-token-short-lived).
const SHORT_LIVED_SECONDS: i64 = 3600;

const RFC6749: &str = "https://www.rfc-editor.org/rfc/rfc6749";
const RFC9068: &str = "https://www.rfc-editor.org/rfc/rfc9068";

/// What a row needs before its requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Setup {
    /// Nothing: the requests carry no code.
    Nothing,
    /// A fresh code, after the positive control (another code redeemed for tokens).
    Code,
    /// The tokens of a valid redemption, which is the positive control itself.
    Tokens,
    /// After the positive control, a code requested for another resource choice than `R`.
    CodeFor(ResourceChoice),
    /// After the positive control, the tokens of a code requested and redeemed for another
    /// resource choice than `R`.
    TokensFor(ResourceChoice),
    /// [`Setup::Code`], and a second client the run registers ([`Prepared::other_client`]).
    CodeAndOtherClient,
    /// [`Setup::Tokens`], and a second client the run registers ([`Prepared::other_client`]).
    TokensAndOtherClient,
}

/// The resource of a row's own code request, when it is not `R`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResourceChoice {
    /// [`UNKNOWN_RESOURCE`]: a refusal, at either endpoint, is what the row wants.
    Unknown,
    /// No `resource` parameter: a refusal is allowed (RFC 8707 §2: the server MAY demand one).
    Omitted,
}

impl ResourceChoice {
    fn resource(self) -> Option<&'static str> {
        match self {
            ResourceChoice::Unknown => Some(UNKNOWN_RESOURCE),
            ResourceChoice::Omitted => None,
        }
    }

    fn describe(self) -> String {
        match self {
            ResourceChoice::Unknown => format!("for the unknown resource {UNKNOWN_RESOURCE}"),
            ResourceChoice::Omitted => "without a resource parameter".to_owned(),
        }
    }
}

/// The answer to a valid redemption: a 200 whose JSON body has an `access_token`.
pub(crate) struct Redeemed {
    pub exchange: Exchange,
    pub body: Map<String, Value>,
}

impl Redeemed {
    pub(crate) fn str(&self, name: &str) -> Option<&str> {
        self.body.get(name).and_then(Value::as_str)
    }
}

/// What the engine prepared for a row's requests.
pub(crate) struct Prepared<'a> {
    pub ctx: &'a AsContext,
    /// The run's client, when it has one (rows that need a code always have one).
    pub client: Option<&'a AsClient>,
    /// `R`: the resource every code is requested for.
    pub resource: String,
    /// The fresh code ([`Setup::Code`]) or the one redeemed ([`Setup::Tokens`]).
    pub code: Option<IssuedCode>,
    /// The valid redemption's answer ([`Setup::Tokens`]).
    pub redeemed: Option<Redeemed>,
    /// A second public client, registered by the run for the row ([`Setup::CodeAndOtherClient`],
    /// [`Setup::TokensAndOtherClient`]).
    pub other_client: Option<AsClient>,
}

impl Prepared<'_> {
    fn client_id(&self) -> &str {
        self.client.map_or(UNKNOWN_CLIENT, |c| c.client_id.as_str())
    }

    /// The form of a valid redemption of the prepared code.
    pub(crate) fn redemption(&self) -> Vec<(String, String)> {
        let Some(code) = &self.code else {
            return Vec::new();
        };
        redemption_form(code, Some(&code.verifier), Some(self.client_id()))
    }

    /// A refresh of `refresh_token` with `extra` parameters.
    pub(crate) fn refresh(
        &self,
        refresh_token: &str,
        extra: &[(&str, &str)],
    ) -> Vec<(String, String)> {
        let mut form = pairs(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", self.client_id()),
        ]);
        form.extend(pairs(extra));
        form
    }

    pub(crate) fn refresh_token(&self) -> Result<&str, String> {
        self.redeemed
            .as_ref()
            .and_then(|r| r.str("refresh_token"))
            .ok_or_else(|| {
                "the authorization server issued no refresh token to the client's code \
                 redemption: there is nothing to refresh"
                    .to_owned()
            })
    }
}

/// The form redeeming `code`: with `verifier` when one is sent, `client_id` when the client
/// names itself in the form (a public client; a confidential one authenticates instead), and
/// the resource the code was requested for.
pub(crate) fn redemption_form(
    code: &IssuedCode,
    verifier: Option<&str>,
    client_id: Option<&str>,
) -> Vec<(String, String)> {
    let mut form = pairs(&[
        ("grant_type", "authorization_code"),
        ("code", &code.code),
        ("redirect_uri", &code.redirect_uri),
    ]);
    if let Some(verifier) = verifier {
        form.extend(pairs(&[("code_verifier", verifier)]));
    }
    if let Some(client_id) = client_id {
        form.extend(pairs(&[("client_id", client_id)]));
    }
    if !code.resource.is_empty() {
        form.extend(pairs(&[("resource", &code.resource)]));
    }
    form
}

pub(crate) fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

pub(crate) fn set(form: &mut Vec<(String, String)>, name: &str, value: &str) {
    form.retain(|(k, _)| k != name);
    form.push((name.to_owned(), value.to_owned()));
}

fn remove(form: &mut Vec<(String, String)>, name: &str) {
    form.retain(|(k, _)| k != name);
}

/// What the endpoint must do with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Due {
    /// Refused with 400 (or 401 with `invalid_client`), never a token; the `error` is one of
    /// `errors`, graded at `error_level`.
    Refused {
        errors: &'static [&'static str],
        error_level: Level,
    },
    /// Failed HTTP Basic client authentication: 401, a `Basic` challenge, `invalid_client`.
    ClientRefused,
    /// A token: the positive control of the requests after it (an Error otherwise).
    Issued,
    /// An error answer in the standard form (OAuth 2.1 §3.2.4).
    ErrorShape,
    /// Never a token whose audience is this resource: a refusal (its `error`, one of
    /// `errors`, recorded), or a token for another audience (recorded).
    NoTokenFor {
        resource: &'static str,
        errors: &'static [&'static str],
    },
}

/// One token request of a row.
pub(crate) struct TokenProbe {
    /// The request in a few words ("a redemption without code_verifier").
    pub what: String,
    pub form: Vec<(String, String)>,
    /// HTTP Basic client credentials (id, secret).
    pub basic: Option<(String, String)>,
    pub due: Due,
    /// How long to wait before sending it (a code left to expire).
    pub after: Option<std::time::Duration>,
}

pub(crate) fn probe(what: impl Into<String>, form: Vec<(String, String)>, due: Due) -> TokenProbe {
    TokenProbe {
        what: what.into(),
        form,
        basic: None,
        due,
        after: None,
    }
}

/// What a row does once prepared.
pub(crate) enum Plan {
    /// Requests sent in order, each graded by its [`Due`]; `Err` says why the row does not
    /// apply (Skip).
    Requests(fn(&Prepared) -> Result<Vec<TokenProbe>, String>),
    /// A judgement of the valid redemption's answer.
    Redemption(fn(&Prepared, &Redeemed) -> Judged),
}

/// A row of the token-endpoint catalogue.
pub(crate) struct TokenRow {
    pub meta: CheckMeta,
    pub setup: Setup,
    pub plan: Plan,
}

/// What an answer to a token request says, read leniently (the JSON body whatever its
/// content type: the error-shape row grades the form, the other rows what was decided).
pub(crate) struct Answer<'a> {
    pub resp: &'a RecordedResponse,
    pub body: Option<Map<String, Value>>,
}

impl<'a> Answer<'a> {
    pub(crate) fn of(resp: &'a RecordedResponse) -> Self {
        let body = serde_json::from_slice::<Value>(&resp.body)
            .ok()
            .and_then(|v| match v {
                Value::Object(m) => Some(m),
                _ => None,
            });
        Self { resp, body }
    }

    pub(crate) fn member(&self, name: &str) -> Option<&Value> {
        self.body.as_ref().and_then(|b| b.get(name))
    }

    pub(crate) fn error(&self) -> Option<&str> {
        self.member("error").and_then(Value::as_str)
    }

    pub(crate) fn token_issued(&self) -> bool {
        (200..300).contains(&self.resp.status)
            && self
                .member("access_token")
                .and_then(Value::as_str)
                .is_some_and(|t| !t.is_empty())
    }

    /// In a few words: "HTTP 400 with error=invalid_grant", "HTTP 200 with an access token".
    pub(crate) fn describe(&self) -> String {
        let status = self.resp.status;
        if self.token_issued() {
            format!("HTTP {status} and an access token")
        } else if let Some(error) = self.error() {
            format!("HTTP {status}, error={error}")
        } else {
            format!("HTTP {status}, no error code")
        }
    }

    pub(crate) fn no_store(&self) -> bool {
        self.resp.header_values("cache-control").iter().any(|v| {
            v.split(',')
                .any(|d| d.trim().eq_ignore_ascii_case("no-store"))
        })
    }

    pub(crate) fn json_typed(&self) -> bool {
        self.resp.header("content-type").is_some_and(|t| {
            t.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .eq_ignore_ascii_case("application/json")
        })
    }
}

/// An assertion whose `actual` is the sentence of what the server did.
pub(crate) fn rule(
    level: Level,
    requirement: impl Into<String>,
    holds: bool,
    did: &str,
) -> Assertion {
    crate::catalog::request_auth::observation(Part::Status, level, requirement, holds, did)
}

/// The grade of one answer.
pub(crate) fn grade(level: Level, probe: &TokenProbe, answer: &Answer) -> Vec<Assertion> {
    let did = format!(
        "the token endpoint answered {} with {}",
        probe.what,
        answer.describe()
    );
    let error = answer.error().unwrap_or_default();
    let status = answer.resp.status;
    match probe.due {
        Due::Refused {
            errors,
            error_level,
        } => refusal(level, &probe.what, errors, error_level, answer, &did),
        Due::ClientRefused => {
            let basic = crate::expect::challenges(answer.resp)
                .is_ok_and(|list| list.iter().any(|c| c.is_scheme("basic")));
            let challenge_did = format!(
                "{did} and WWW-Authenticate: {}",
                answer.resp.header_values("www-authenticate").join(", ")
            );
            vec![
                rule(
                    level,
                    format!("{} gets HTTP 401, no token", probe.what),
                    status == 401 && !answer.token_issued(),
                    &did,
                ),
                rule(
                    level,
                    format!("{} gets a WWW-Authenticate: Basic challenge", probe.what),
                    basic,
                    &challenge_did,
                ),
                rule(
                    level,
                    format!("the error for {} is invalid_client", probe.what),
                    error == "invalid_client",
                    &did,
                ),
            ]
        }
        Due::Issued => Vec::new(),
        Due::NoTokenFor { resource, errors } => {
            if !answer.token_issued() {
                return vec![
                    rule(
                        level,
                        format!("{} gets no token for {resource}", probe.what),
                        true,
                        &did,
                    ),
                    rule(
                        Level::Info,
                        format!("the error for {} is {}", probe.what, errors.join(" or ")),
                        errors.contains(&error),
                        &did,
                    ),
                ];
            }
            let token = answer
                .member("access_token")
                .and_then(Value::as_str)
                .unwrap_or_default();
            match token_audience(token) {
                Some(aud) => vec![rule(
                    level,
                    format!("{} gets no token whose aud is {resource}", probe.what),
                    !audience_contains(&aud, resource),
                    &format!("{did} whose aud is {aud}"),
                )],
                None => vec![rule(
                    Level::Info,
                    format!(
                        "{} gets no token for {resource} (an opaque token's audience is not \
                         read)",
                        probe.what
                    ),
                    false,
                    &format!("{did}, an opaque token whose audience was not read"),
                )],
            }
        }
        Due::ErrorShape => {
            let shape = format!(
                "{did}, Content-Type {:?}, Cache-Control {:?}",
                answer.resp.header("content-type").unwrap_or_default(),
                answer.resp.header_values("cache-control").join(", ")
            );
            vec![
                rule(
                    level,
                    format!(
                        "{} gets HTTP 400 (401 only with invalid_client)",
                        probe.what
                    ),
                    status == 400 || (status == 401 && error == "invalid_client"),
                    &did,
                ),
                rule(
                    level,
                    format!(
                        "the error answer to {} is application/json with an error in the \
                         allowed characters",
                        probe.what
                    ),
                    answer.json_typed() && is_valid_error_text(error),
                    &shape,
                ),
                rule(
                    level,
                    format!(
                        "the error answer to {} has Cache-Control: no-store",
                        probe.what
                    ),
                    answer.no_store(),
                    &shape,
                ),
            ]
        }
    }
}

/// The `aud` of an access token in JWS form (read, not verified); `None` for an opaque one.
fn token_audience(token: &str) -> Option<Value> {
    let jws =
        mock_idp::jws::Jws::parse_with(token, &mock_idp::jws::ParseOptions::lenient()).ok()?;
    let claims = jws.claims_lenient().ok()?;
    Some(claims.get("aud").cloned().unwrap_or(Value::Null))
}

/// `aud` (a string or an array of strings) names `resource`.
fn audience_contains(aud: &Value, resource: &str) -> bool {
    match aud {
        Value::String(s) => s == resource,
        Value::Array(a) => a.iter().any(|v| v.as_str() == Some(resource)),
        _ => false,
    }
}

/// The grade of a request due a refusal: HTTP 400 (401 with `invalid_client`) and no token at
/// `level`; its error one of `errors`, at `error_level`. `did` is what the server did.
pub(crate) fn refusal(
    level: Level,
    what: &str,
    errors: &[&str],
    error_level: Level,
    answer: &Answer,
    did: &str,
) -> Vec<Assertion> {
    let error = answer.error().unwrap_or_default();
    let status = answer.resp.status;
    let refused =
        !answer.token_issued() && (status == 400 || (status == 401 && error == "invalid_client"));
    let mut rules = vec![rule(
        level,
        format!("{what} is refused with HTTP 400 (401 for invalid_client), no token issued"),
        refused,
        did,
    )];
    if !answer.token_issued() {
        rules.push(rule(
            error_level,
            format!("the error for {what} is {}", errors.join(" or ")),
            errors.contains(&error),
            did,
        ));
    }
    rules
}

/// Sends one token request (a form POST, redirects not followed), after its wait.
pub(crate) async fn send(ctx: &AsContext, probe: &TokenProbe) -> Exchange {
    if let Some(wait) = probe.after {
        tokio::time::sleep(wait).await;
    }
    ctx.driver.send(token_request(ctx, probe)).await
}

/// [`send`], recorded in `evidence`: the answer, or the Error of a token endpoint that did not
/// answer `probe` (with every exchange so far).
pub(crate) async fn answer_to(
    ctx: &AsContext,
    probe: &TokenProbe,
    evidence: &mut Vec<Exchange>,
) -> Result<RecordedResponse, Outcome> {
    let exchange = send(ctx, probe).await;
    evidence.push(exchange.clone());
    exchange.response.map_err(|e| {
        Outcome::error(
            format!("the token endpoint did not answer {} ({e})", probe.what),
            std::mem::take(evidence),
        )
    })
}

/// One token request as sent: a form POST to the token endpoint.
pub(crate) fn token_request(ctx: &AsContext, probe: &TokenProbe) -> ProbeRequest {
    let endpoint = ctx.token_endpoint().unwrap_or_default();
    form_post(endpoint, &probe.form, probe.basic.as_ref())
}

/// A form POST to an OAuth endpoint, with HTTP Basic client credentials (id, secret) when
/// given (RFC 6749 §2.3.1: each form-urlencoded first).
pub(crate) fn form_post(
    endpoint: &str,
    form: &[(String, String)],
    basic: Option<&(String, String)>,
) -> ProbeRequest {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let mut request = ProbeRequest::new("POST", endpoint)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json");
    if let Some((id, secret)) = basic {
        use base64::Engine as _;
        let encode =
            |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let credentials = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            encode(id),
            encode(secret)
        ));
        request = request.header("authorization", &format!("Basic {credentials}"));
    }
    request.body = Some(body.into_bytes());
    request
}

/// The sentence of an outcome that is not a pass: what the server did to which request (the
/// worst broken assertion), and what was due.
pub(crate) fn finish(
    level: Level,
    assertions: Vec<Assertion>,
    evidence: Vec<Exchange>,
    pass: String,
) -> Outcome {
    let grade = Grade { assertions };
    let mut outcome = Outcome::from_grade(level, &grade, evidence);
    let rank = |l: Level| match l {
        Level::Must => 0,
        Level::Should => 1,
        _ => 2,
    };
    let mut broken: Vec<&Assertion> = grade.broken().collect();
    broken.sort_by_key(|a| rank(a.level));
    match broken.first() {
        None => outcome.message = pass,
        Some(worst) => {
            let more = match broken.len() - 1 {
                0 => String::new(),
                n => format!(" ({n} more broken: see Expected)"),
            };
            outcome.message = format!("{}; required: {}{more}", worst.actual, worst.requirement);
        }
    }
    outcome
}

/// The code redemption every code row is calibrated by, as a request.
fn redemption_probe(prepared: &Prepared) -> TokenProbe {
    probe(
        "a valid code redemption",
        prepared.redemption(),
        Due::Issued,
    )
}

/// The JSON body of a positive control's answer with a token, or why there is none.
pub(crate) fn redeemed(exchange: &Exchange) -> Result<Map<String, Value>, String> {
    match &exchange.response {
        Err(e) => Err(format!("no answer ({e})")),
        Ok(r) => {
            let answer = Answer::of(r);
            match (answer.token_issued(), &answer.body) {
                (true, Some(body)) => Ok(body.clone()),
                _ => Err(answer.describe()),
            }
        }
    }
}

/// A code for the row, or the outcome when the authorization endpoint gave none.
async fn code_for(
    ctx: &AsContext,
    client: &AsClient,
    resource: &str,
    evidence: &mut Vec<Exchange>,
) -> Result<IssuedCode, Outcome> {
    code_with(ctx, client, resource, &[], evidence).await
}

/// [`code_for`] with `extra` authorization request parameters.
pub(crate) async fn code_with(
    ctx: &AsContext,
    client: &AsClient,
    resource: &str,
    extra: &[(String, String)],
    evidence: &mut Vec<Exchange>,
) -> Result<IssuedCode, Outcome> {
    match ctx.request_code_with(client, Some(resource), extra).await {
        Ok(code) => {
            evidence.push(code.exchange.clone());
            Ok(code)
        }
        Err((answer, exchange)) => Err(no_code(ctx, client, resource, answer, exchange)),
    }
}

/// The outcome of a row whose valid authorization request of `client` got `answer`, no code:
/// NotEvaluated for a login step (no login command), else an Error of the positive control.
pub(crate) fn no_code(
    ctx: &AsContext,
    client: &AsClient,
    resource: &str,
    answer: AuthzAnswer,
    exchange: Exchange,
) -> Outcome {
    match answer {
        AuthzAnswer::Login => Outcome::new(
            Verdict::NotEvaluated,
            format!(
                "the authorization server answered a valid authorization request of client {} \
                 with a login step: this row redeems a code, which needs a login; give \
                 --login-command CMD (it must drive the login to the redirect), or \
                 --login-user and --login-password-env for the built-in form driver (the \
                 client's --redirect-uri must be http://127.0.0.1/callback or \
                 http://localhost/callback)",
                client.client_id
            ),
        ),
        answer => Outcome::error(
            format!(
                "positive control: a valid authorization request of client {} (PKCE S256, \
                 redirect_uri {}, resource {}, scope {}) got {}, so no code could be redeemed \
                 (--scope sets the scope asked for)",
                client.client_id,
                client.redirect_uri,
                if resource.is_empty() {
                    "none"
                } else {
                    resource
                },
                ctx.scope.as_deref().unwrap_or("none"),
                answer.describe()
            ),
            vec![exchange],
        ),
    }
}

/// Prepares what `setup` needs: the positive control (a code redeemed) and a fresh code.
async fn prepare<'a>(
    ctx: &'a AsContext,
    setup: Setup,
    evidence: &mut Vec<Exchange>,
) -> Result<Prepared<'a>, Outcome> {
    let resource = ctx
        .resource
        .clone()
        .unwrap_or_else(|| DEFAULT_RESOURCE.to_owned());
    let mut prepared = Prepared {
        ctx,
        client: ctx.client.as_ref(),
        resource,
        code: None,
        redeemed: None,
        other_client: None,
    };
    if setup == Setup::Nothing {
        return Ok(prepared);
    }
    let Some(client) = prepared.client else {
        return Err(Outcome::undeclared_need());
    };
    if ctx.authorization_endpoint().is_none() {
        return Err(Outcome::error(
            "the metadata names no authorization_endpoint (see as.metadata.required)",
            ctx.documents.exchanges(),
        ));
    }
    prepared.code = Some(code_for(ctx, client, &prepared.resource, evidence).await?);
    let exchange = send(ctx, &redemption_probe(&prepared)).await;
    evidence.push(exchange.clone());
    match redeemed(&exchange) {
        Ok(body) => prepared.redeemed = Some(Redeemed { exchange, body }),
        Err(why) => {
            return Err(Outcome::error(
                format!(
                    "positive control: the token endpoint answered a valid redemption of a \
                     fresh code (PKCE verifier, redirect_uri {}) with {why}, so no refusal can \
                     be judged",
                    client.redirect_uri
                ),
                vec![exchange],
            ));
        }
    }
    match setup {
        Setup::Code => {
            prepared.code = Some(code_for(ctx, client, &prepared.resource, evidence).await?);
            prepared.redeemed = None;
        }
        Setup::CodeFor(choice) | Setup::TokensFor(choice) => {
            prepared.code = Some(code_for_choice(ctx, client, choice, evidence).await?);
            prepared.redeemed = None;
            if matches!(setup, Setup::TokensFor(_)) {
                prepared.redeemed = Some(redeem_for_choice(&prepared, choice, evidence).await?);
            }
        }
        Setup::CodeAndOtherClient => {
            prepared.code = Some(code_for(ctx, client, &prepared.resource, evidence).await?);
            prepared.redeemed = None;
            prepared.other_client = Some(other_client(ctx, evidence).await?);
        }
        Setup::TokensAndOtherClient => {
            prepared.other_client = Some(other_client(ctx, evidence).await?);
        }
        Setup::Nothing | Setup::Tokens => {}
    }
    Ok(prepared)
}

/// The positive control of the code rows on its own: a fresh code of the run's client for
/// `R`, redeemed; its tokens (a user's), or the outcome that stops the row.
pub(crate) async fn user_tokens(
    ctx: &AsContext,
    evidence: &mut Vec<Exchange>,
) -> Result<Redeemed, Outcome> {
    let prepared = prepare(ctx, Setup::Tokens, evidence).await?;
    prepared.redeemed.ok_or_else(Outcome::undeclared_need)
}

/// A second public native client, registered for the row (and deleted with the run's other
/// registrations): NotEvaluated when the server offers no open registration.
async fn other_client(ctx: &AsContext, evidence: &mut Vec<Exchange>) -> Result<AsClient, Outcome> {
    let redirect_uri = crate::engine::registration::loopback_redirect_uri();
    super::register_row_client(
        ctx,
        &crate::engine::registration::native_client_metadata(&[&redirect_uri]),
        "a second public client",
        Verdict::NotEvaluated,
        evidence,
    )
    .await
}

/// A code requested `choice`; the authorization endpoint refusing it is the row's pass (an
/// unknown resource refused, or a resource demanded).
async fn code_for_choice(
    ctx: &AsContext,
    client: &AsClient,
    choice: ResourceChoice,
    evidence: &mut Vec<Exchange>,
) -> Result<IssuedCode, Outcome> {
    match ctx.request_code_for(client, choice.resource()).await {
        Ok(code) => {
            evidence.push(code.exchange.clone());
            Ok(code)
        }
        Err((
            answer @ (AuthzAnswer::ErrorRedirect { .. } | AuthzAnswer::ErrorPage { .. }),
            exchange,
        )) => {
            evidence.push(exchange);
            Err(finish(
                Level::Info,
                Vec::new(),
                std::mem::take(evidence),
                format!(
                    "the authorization endpoint refused the authorization request {} with {}",
                    choice.describe(),
                    answer.describe()
                ),
            ))
        }
        Err((answer, exchange)) => Err(no_code(
            ctx,
            client,
            choice.resource().unwrap_or_default(),
            answer,
            exchange,
        )),
    }
}

/// The redemption of a code requested `choice`: its tokens, or the row's pass when the token
/// endpoint refuses it.
async fn redeem_for_choice(
    prepared: &Prepared<'_>,
    choice: ResourceChoice,
    evidence: &mut Vec<Exchange>,
) -> Result<Redeemed, Outcome> {
    let what = format!(
        "a valid redemption of a code requested {}",
        choice.describe()
    );
    let exchange = send(
        prepared.ctx,
        &probe(what.clone(), prepared.redemption(), Due::Issued),
    )
    .await;
    evidence.push(exchange.clone());
    match redeemed(&exchange) {
        Ok(body) => Ok(Redeemed { exchange, body }),
        Err(why) if exchange.response.is_ok() => Err(finish(
            Level::Info,
            Vec::new(),
            std::mem::take(evidence),
            format!("the token endpoint refused {what} with {why}"),
        )),
        Err(why) => Err(Outcome::error(
            format!("the token endpoint did not answer {what} ({why})"),
            std::mem::take(evidence),
        )),
    }
}

/// Runs a row: prepares it, then sends its requests or judges the redemption.
pub(crate) async fn run_token_row(ctx: &AsContext, row: &TokenRow) -> Outcome {
    if ctx.token_endpoint().is_none() {
        return Outcome::error(
            "the metadata names no token_endpoint (see as.metadata.required)",
            ctx.documents.exchanges(),
        );
    }
    let mut evidence = Vec::new();
    let prepared = match prepare(ctx, row.setup, &mut evidence).await {
        Ok(p) => p,
        Err(outcome) => return outcome,
    };
    let level = row.meta.level;
    let probes = match row.plan {
        Plan::Redemption(judge) => {
            let Some(redemption) = &prepared.redeemed else {
                return Outcome::undeclared_need();
            };
            return match judge(&prepared, redemption) {
                Judged::Graded {
                    assertions, pass, ..
                } => finish(level, assertions, evidence, pass),
                Judged::NotApplicable(why) => Outcome::new(Verdict::Skip, why),
                Judged::Unreadable(why, evidence) => Outcome::error(why, evidence),
            };
        }
        Plan::Requests(build) => match build(&prepared) {
            Ok(probes) => probes,
            Err(why) => return Outcome::new(Verdict::Skip, why),
        },
    };
    let mut assertions = Vec::new();
    let mut done = Vec::new();
    for probe in &probes {
        let resp = match answer_to(ctx, probe, &mut evidence).await {
            Ok(r) => r,
            Err(outcome) => return outcome,
        };
        let answer = Answer::of(&resp);
        if probe.due == Due::Issued && !answer.token_issued() {
            return Outcome::error(
                format!(
                    "positive control: the token endpoint answered {} with {}, so the \
                     requests after it cannot be judged",
                    probe.what,
                    answer.describe()
                ),
                evidence,
            );
        }
        assertions.extend(grade(level, probe, &answer));
        done.push(probe.what.clone());
    }
    finish(
        level,
        assertions,
        evidence,
        format!("as required: {}", done.join("; ")),
    )
}

// ---- the rows' requests ------------------------------------------------------------------

/// `errors` recorded only (INFO): a refusal for another right reason is no failure.
const fn recorded(errors: &'static [&'static str]) -> Due {
    Due::Refused {
        errors,
        error_level: Level::Info,
    }
}

fn pkce_missing_verifier(p: &Prepared) -> Result<Vec<TokenProbe>, String> {
    let mut form = p.redemption();
    remove(&mut form, "code_verifier");
    Ok(vec![probe(
        "a redemption without code_verifier",
        form,
        recorded(&["invalid_grant"]),
    )])
}

fn pkce_wrong_verifier(p: &Prepared) -> Result<Vec<TokenProbe>, String> {
    let mut form = p.redemption();
    set(&mut form, "code_verifier", &mock_idp::random_b64url(32));
    Ok(vec![probe(
        "a redemption with another valid-syntax code_verifier",
        form,
        recorded(&["invalid_grant"]),
    )])
}

fn code_reuse(p: &Prepared) -> Result<Vec<TokenProbe>, String> {
    Ok(vec![probe(
        "a second redemption of a code already redeemed",
        p.redemption(),
        recorded(&["invalid_grant"]),
    )])
}

fn code_expired(p: &Prepared) -> Result<Vec<TokenProbe>, String> {
    let wait = p.ctx.code_expiry_wait.unwrap_or_default();
    let mut late = probe(
        format!(
            "a valid redemption of a code {} s after it was issued",
            wait.as_secs()
        ),
        p.redemption(),
        recorded(&["invalid_grant"]),
    );
    late.after = Some(wait);
    Ok(vec![late])
}

fn redirect_mismatch(p: &Prepared) -> Result<Vec<TokenProbe>, String> {
    let mut form = p.redemption();
    let other = p
        .code
        .as_ref()
        .map(|c| format!("{}-other", c.redirect_uri.trim_end_matches('/')))
        .unwrap_or_default();
    set(&mut form, "redirect_uri", &other);
    Ok(vec![probe(
        format!("a redemption with redirect_uri {other} (not the authorization request's)"),
        form,
        recorded(&["invalid_grant"]),
    )])
}

/// Client credentials with a made-up secret (the request is otherwise a valid grant).
fn basic_probe(what: String, client_id: &str) -> TokenProbe {
    TokenProbe {
        what,
        form: pairs(&[("grant_type", "client_credentials")]),
        basic: Some((client_id.to_owned(), "mcp-authspec-wrong-secret".to_owned())),
        due: Due::ClientRefused,
        after: None,
    }
}

fn invalid_client(p: &Prepared) -> Result<Vec<TokenProbe>, String> {
    let mut probes = vec![basic_probe(
        format!("HTTP Basic authentication of the unknown client {UNKNOWN_CLIENT}"),
        UNKNOWN_CLIENT,
    )];
    if let Some(client) = p.client {
        probes.push(basic_probe(
            format!(
                "HTTP Basic authentication of client {} with a wrong secret",
                client.client_id
            ),
            &client.client_id,
        ));
    }
    Ok(probes)
}

fn duplicate_params(p: &Prepared) -> Result<Vec<TokenProbe>, String> {
    let mut form = p.redemption();
    let code = p.code.as_ref().map(|c| c.code.clone()).unwrap_or_default();
    form.push(("code".to_owned(), code));
    Ok(vec![probe(
        "a redemption with the code parameter twice",
        form,
        recorded(&["invalid_request"]),
    )])
}

const GRANT_REFUSED: &[&str] = &["unsupported_grant_type", "unauthorized_client"];

fn grant_types(p: &Prepared) -> Result<Vec<TokenProbe>, String> {
    Ok(vec![
        probe(
            "grant_type=password",
            pairs(&[
                ("grant_type", "password"),
                ("username", "mcp-authspec-user"),
                ("password", "mcp-authspec-password"),
                ("client_id", p.client_id()),
            ]),
            recorded(GRANT_REFUSED),
        ),
        probe(
            "grant_type=foo",
            pairs(&[("grant_type", "foo"), ("client_id", p.client_id())]),
            recorded(GRANT_REFUSED),
        ),
    ])
}

fn error_shape(p: &Prepared) -> Result<Vec<TokenProbe>, String> {
    let client_id = p.client_id();
    let unknown_code = mock_idp::random_b64url(32);
    let verifier = mock_idp::random_b64url(32);
    let redirect_uri = p
        .client
        .map_or("http://127.0.0.1/callback", |c| c.redirect_uri.as_str());
    let mut basic = basic_probe(
        format!("HTTP Basic authentication of the unknown client {UNKNOWN_CLIENT}"),
        UNKNOWN_CLIENT,
    );
    basic.due = Due::ErrorShape;
    Ok(vec![
        probe(
            "a request without grant_type",
            pairs(&[("client_id", client_id)]),
            Due::ErrorShape,
        ),
        probe(
            "grant_type=foo",
            pairs(&[("grant_type", "foo"), ("client_id", client_id)]),
            Due::ErrorShape,
        ),
        probe(
            "a redemption of a code never issued",
            pairs(&[
                ("grant_type", "authorization_code"),
                ("code", &unknown_code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", &verifier),
                ("client_id", client_id),
            ]),
            Due::ErrorShape,
        ),
        basic,
    ])
}

fn resource_mismatch(p: &Prepared) -> Result<Vec<TokenProbe>, String> {
    let mut form = p.redemption();
    set(&mut form, "resource", OTHER_RESOURCE);
    Ok(vec![probe(
        format!(
            "a redemption for resource {OTHER_RESOURCE} of a code authorized for {}",
            p.resource
        ),
        form,
        recorded(&["invalid_target"]),
    )])
}

fn resource_unknown(p: &Prepared) -> Result<Vec<TokenProbe>, String> {
    Ok(vec![probe(
        format!("a redemption of a code requested for the unknown resource {UNKNOWN_RESOURCE}"),
        p.redemption(),
        recorded(&["invalid_target"]),
    )])
}

fn refresh_resource_binding(p: &Prepared) -> Result<Vec<TokenProbe>, String> {
    let rt = p.refresh_token()?;
    Ok(vec![probe(
        format!(
            "a refresh for resource {OTHER_RESOURCE} of a grant for {}",
            p.resource
        ),
        p.refresh(rt, &[("resource", OTHER_RESOURCE)]),
        Due::NoTokenFor {
            resource: OTHER_RESOURCE,
            errors: &["invalid_target", "invalid_grant"],
        },
    )])
}

/// The second client's id (the engine registered it before the row's requests).
fn other_client_id<'p>(p: &'p Prepared) -> &'p str {
    p.other_client
        .as_ref()
        .map_or(UNKNOWN_CLIENT, |c| c.client_id.as_str())
}

fn code_other_client(p: &Prepared) -> Result<Vec<TokenProbe>, String> {
    let other = other_client_id(p);
    let mut form = p.redemption();
    set(&mut form, "client_id", other);
    Ok(vec![probe(
        format!(
            "a redemption by client {other} of a code issued to client {}",
            p.client_id()
        ),
        form,
        recorded(&["invalid_grant"]),
    )])
}

fn refresh_client_binding(p: &Prepared) -> Result<Vec<TokenProbe>, String> {
    let rt = p.refresh_token()?;
    let other = other_client_id(p);
    let mut form = p.refresh(rt, &[]);
    set(&mut form, "client_id", other);
    Ok(vec![probe(
        format!(
            "a refresh by client {other} with a refresh token issued to client {}",
            p.client_id()
        ),
        form,
        recorded(&["invalid_grant"]),
    )])
}

fn refresh_rotation(p: &Prepared) -> Result<Vec<TokenProbe>, String> {
    let rt1 = p.refresh_token()?;
    Ok(vec![
        probe(
            "a refresh with the first refresh token",
            p.refresh(rt1, &[]),
            Due::Issued,
        ),
        probe(
            "a second refresh with the same, already used refresh token",
            p.refresh(rt1, &[]),
            recorded(&["invalid_grant"]),
        ),
    ])
}

fn refresh_scope_escalation(p: &Prepared) -> Result<Vec<TokenProbe>, String> {
    let rt = p.refresh_token()?;
    let granted: Vec<String> = p
        .redeemed
        .as_ref()
        .and_then(|r| r.str("scope"))
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let scope = wider_scope(p.ctx, &granted);
    Ok(vec![probe(
        format!(
            "a refresh asking for scope \"{scope}\" (granted: \"{}\")",
            granted.join(" ")
        ),
        p.refresh(rt, &[("scope", &scope)]),
        recorded(&["invalid_scope"]),
    )])
}

/// `granted` plus one scope more: one the server supports that was not granted, else one it
/// cannot know (the stimulus of the scope-escalation rows).
pub(crate) fn wider_scope(ctx: &AsContext, granted: &[String]) -> String {
    let supported = ctx
        .documents
        .primary()
        .map(|(_, d)| d.strings("scopes_supported"))
        .unwrap_or_default();
    let wider = supported
        .into_iter()
        .find(|s| !granted.iter().any(|g| g == s) && *s != "openid" && *s != "offline_access")
        .unwrap_or("mcp-authspec:wider");
    let mut scope = granted.to_vec();
    scope.push(wider.to_owned());
    scope.join(" ")
}

// ---- the judgements of a redemption --------------------------------------------------------

pub(crate) fn graded(assertions: Vec<Assertion>, pass: String) -> Judged {
    Judged::Graded {
        assertions,
        evidence: Vec::new(),
        pass,
    }
}

fn success_shape(_: &Prepared, r: &Redeemed) -> Judged {
    let Ok(resp) = &r.exchange.response else {
        return Judged::Unreadable("no answer".into(), vec![r.exchange.clone()]);
    };
    let answer = Answer::of(resp);
    let token_type = r.str("token_type").unwrap_or_default();
    let did = |what: String| format!("the token endpoint answered a valid code redemption {what}");
    let assertions = vec![
        rule(
            Level::Must,
            "the token response is application/json",
            answer.json_typed(),
            &did(format!(
                "with Content-Type {:?}",
                resp.header("content-type").unwrap_or_default()
            )),
        ),
        rule(
            Level::Must,
            "token_type is Bearer or DPoP (case-insensitive)",
            token_type.eq_ignore_ascii_case("bearer") || token_type.eq_ignore_ascii_case("dpop"),
            &did(format!("with token_type {token_type:?}")),
        ),
        rule(
            Level::Must,
            "the token response has Cache-Control: no-store",
            answer.no_store(),
            &did(format!(
                "with Cache-Control {:?}",
                resp.header_values("cache-control").join(", ")
            )),
        ),
        rule(
            Level::Should,
            "the token response has expires_in (RECOMMENDED)",
            r.body.get("expires_in").is_some_and(Value::is_number),
            &did("without a numeric expires_in".into()),
        ),
    ];
    graded(
        assertions,
        format!(
            "a valid code redemption got HTTP 200 application/json with an access token, \
             token_type {token_type}, Cache-Control: no-store and expires_in"
        ),
    )
}

/// The claims of the access token when it is a JWS (read, not verified).
pub(crate) fn jwt_claims(r: &Redeemed) -> Option<Map<String, Value>> {
    access_token_claims(r.str("access_token")?)
}

/// The claims of an access token when it is a JWS (read, not verified).
pub(crate) fn access_token_claims(token: &str) -> Option<Map<String, Value>> {
    let jws =
        mock_idp::jws::Jws::parse_with(token, &mock_idp::jws::ParseOptions::lenient()).ok()?;
    jws.claims_lenient().ok().map(|c| c.to_map())
}

fn aud(p: &Prepared, r: &Redeemed) -> Judged {
    let Some(claims) = jwt_claims(r) else {
        return Judged::NotApplicable(
            "the access token is opaque: its audience cannot be read without introspection, \
             which this check does not do"
                .into(),
        );
    };
    let aud = claims.get("aud").cloned().unwrap_or(Value::Null);
    let contains = match &aud {
        Value::String(s) => *s == p.resource,
        Value::Array(a) => a.iter().any(|v| v.as_str() == Some(p.resource.as_str())),
        _ => false,
    };
    graded(
        vec![rule(
            Level::Should,
            format!(
                "the access token's aud contains the resource {}",
                p.resource
            ),
            contains,
            &format!(
                "the token endpoint answered a code flow for resource {} with an access token \
                 whose aud is {aud}",
                p.resource
            ),
        )],
        format!(
            "the access token's aud is {aud}, which contains {}",
            p.resource
        ),
    )
}

fn default_aud(_: &Prepared, r: &Redeemed) -> Judged {
    let Some(aud) = r.str("access_token").and_then(token_audience) else {
        return Judged::NotApplicable(
            "the access token of the redemption without resource is opaque: its audience \
             cannot be read without introspection, which this check does not do"
                .into(),
        );
    };
    let present = match &aud {
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => {
            !a.is_empty() && a.iter().all(|v| v.as_str().is_some_and(|s| !s.is_empty()))
        }
        _ => false,
    };
    graded(
        vec![rule(
            Level::Must,
            "an access token issued for a request without resource has an aud (a default \
             resource indicator)",
            present,
            &format!(
                "the token endpoint answered a code flow without a resource parameter with an \
                 access token whose aud is {aud}"
            ),
        )],
        format!("a code flow without resource gives an access token whose aud is {aud}"),
    )
}

fn short_lived(_: &Prepared, r: &Redeemed) -> Judged {
    let expires_in = r.body.get("expires_in").and_then(Value::as_i64);
    let lifetime =
        jwt_claims(r).and_then(|c| Some(c.get("exp")?.as_i64()? - c.get("iat")?.as_i64()?));
    if expires_in.is_none() && lifetime.is_none() {
        return Judged::NotApplicable(
            "the token response has no expires_in and the access token no readable exp and \
             iat: its lifetime is unknown"
                .into(),
        );
    }
    let mut assertions = Vec::new();
    let mut seen = Vec::new();
    for (name, value) in [("expires_in", expires_in), ("exp − iat", lifetime)] {
        let Some(seconds) = value else { continue };
        seen.push(format!("{name} {seconds} s"));
        assertions.push(rule(
            Level::Should,
            format!("the access token lives at most {SHORT_LIVED_SECONDS} s ({name})"),
            seconds <= SHORT_LIVED_SECONDS,
            &format!(
                "the token endpoint answered a valid code redemption with an access token \
                 whose {name} is {seconds} s"
            ),
        ));
    }
    graded(
        assertions,
        format!("access tokens are short-lived: {}", seen.join(", ")),
    )
}

// ---- unguessable values ------------------------------------------------------------------

/// How many codes as.token.guessing asks for at most, and for how long.
const GUESS_SAMPLES: usize = 20;
const GUESS_BUDGET: std::time::Duration = std::time::Duration::from_secs(20);
/// OAuth 2.1 §7.7: the probability of guessing a value is at most 2^-128.
const GUESS_BITS: f64 = 128.0;

/// Why `values` (issued one after another) look guessable, by a heuristic: repeated values,
/// too few bits for their length and observed alphabet, or consecutive values equal in half
/// their positions or more (a counter or a clock). `None` when nothing shows.
pub(crate) fn guessability(values: &[String]) -> Option<String> {
    let distinct: std::collections::BTreeSet<&String> = values.iter().collect();
    if distinct.len() < values.len() {
        return Some(format!(
            "{} of {} values repeat",
            values.len() - distinct.len(),
            values.len()
        ));
    }
    let alphabet: std::collections::BTreeSet<char> =
        values.iter().flat_map(|v| v.chars()).collect();
    let bits_per_char = (alphabet.len().max(2) as f64).log2();
    let shortest = values.iter().map(|v| v.chars().count()).min()?;
    let bits = shortest as f64 * bits_per_char;
    if bits < GUESS_BITS {
        return Some(format!(
            "the shortest is {shortest} characters of a {}-character alphabet, about {bits:.0} \
             bits at best",
            alphabet.len()
        ));
    }
    for pair in values.windows(2) {
        // Characters equal at the same position: about 1 in 64 for random base64url values,
        // most of them for a counter or a clock, wherever it sits.
        let same = pair[0]
            .chars()
            .zip(pair[1].chars())
            .filter(|(a, b)| a == b)
            .count();
        let longest = pair[0].chars().count().max(pair[1].chars().count());
        if same * 2 >= longest {
            return Some(format!(
                "consecutive values agree in {same} of {longest} positions ({:?}, {:?}): a \
                 counter or a clock",
                pair[0], pair[1]
            ));
        }
    }
    None
}

/// as.token.guessing: codes asked for one after another (at most [`GUESS_SAMPLES`], for at
/// most [`GUESS_BUDGET`]), each redeemed for its refresh token, judged by [`guessability`].
pub(super) async fn guessing(ctx: &AsContext) -> Outcome {
    let Some(client) = ctx.client.as_ref() else {
        return Outcome::undeclared_need();
    };
    if ctx.authorization_endpoint().is_none() || ctx.token_endpoint().is_none() {
        return Outcome::error(
            "the metadata names no authorization_endpoint or token_endpoint (see \
             as.metadata.required)",
            ctx.documents.exchanges(),
        );
    }
    let resource = ctx
        .resource
        .clone()
        .unwrap_or_else(|| DEFAULT_RESOURCE.to_owned());
    let started = std::time::Instant::now();
    let mut evidence = Vec::new();
    let mut codes = Vec::new();
    let mut refresh_tokens = Vec::new();
    while codes.len() < GUESS_SAMPLES && started.elapsed() < GUESS_BUDGET {
        // Only the first exchanges are kept: the samples themselves are the evidence.
        let mut seen = Vec::new();
        let code = match code_for(ctx, client, &resource, &mut seen).await {
            Ok(code) => code,
            Err(outcome) if codes.is_empty() => return outcome,
            Err(_) => break,
        };
        let prepared = Prepared {
            ctx,
            client: Some(client),
            resource: resource.clone(),
            code: Some(code),
            redeemed: None,
            other_client: None,
        };
        let exchange = send(ctx, &redemption_probe(&prepared)).await;
        if let Ok(body) = redeemed(&exchange)
            && let Some(rt) = body.get("refresh_token").and_then(Value::as_str)
        {
            refresh_tokens.push(rt.to_owned());
        }
        if evidence.len() < 2 {
            evidence.extend(seen);
            evidence.push(exchange);
        }
        if let Some(code) = prepared.code {
            codes.push(code.code);
        }
    }
    let mut assertions = Vec::new();
    let mut judged = Vec::new();
    for (kind, values) in [
        ("authorization codes", &codes),
        ("refresh tokens", &refresh_tokens),
    ] {
        if values.len() < 2 {
            continue;
        }
        judged.push(format!("{} {kind}", values.len()));
        let concern = guessability(values);
        assertions.push(rule(
            Level::Info,
            format!("{kind} are unguessable (at least 128 bits, no visible counter or clock)"),
            concern.is_none(),
            &format!(
                "of {} {kind} issued one after another, {}",
                values.len(),
                concern.unwrap_or_default()
            ),
        ));
    }
    if assertions.is_empty() {
        return Outcome::new(
            Verdict::NotEvaluated,
            format!(
                "fewer than two codes could be sampled in {} s",
                GUESS_BUDGET.as_secs()
            ),
        );
    }
    finish(
        Level::Info,
        assertions,
        evidence,
        format!(
            "nothing guessable shows in {} issued one after another",
            judged.join(" and ")
        ),
    )
}

/// The row of as.token.guessing.
pub(super) const GUESSING: CheckMeta = as_meta(
    "as.token.guessing",
    "as-token-guessing",
    "Issues codes and refresh tokens no one can guess",
    "Up to 20 codes (for at most 20 s) are asked for one after another and redeemed; the codes and the refresh tokens are judged by a heuristic: no repeats, at least 128 bits by length and observed alphabet, and consecutive values not equal in half their positions (a counter or a clock). Recorded (INFO): a heuristic cannot prove randomness.",
    Level::Info,
    &[rfc(
        "OAuth 2.1",
        "§7.7",
        "the probability of an attacker guessing a code or token is at most 2^-128",
        OAUTH21,
    )],
    CODE,
    &["as-guessable-codes"],
);

/// as.refresh.reuse-revokes: after a replayed refresh token is refused, the refresh token that
/// replaced it is refused too (the whole family revoked, OAuth 2.1 §4.3.1): the server cannot
/// tell whether the attacker or the client replayed, so neither may keep refreshing.
pub(super) async fn refresh_reuse_revokes(ctx: &AsContext) -> Outcome {
    if ctx.token_endpoint().is_none() {
        return Outcome::error(
            "the metadata names no token_endpoint (see as.metadata.required)",
            ctx.documents.exchanges(),
        );
    }
    let mut evidence = Vec::new();
    let prepared = match prepare(ctx, Setup::Tokens, &mut evidence).await {
        Ok(p) => p,
        Err(outcome) => return outcome,
    };
    let rt1 = match prepared.refresh_token() {
        Ok(rt) => rt.to_owned(),
        Err(why) => return Outcome::new(Verdict::Skip, why),
    };
    let first = probe(
        "a refresh with the first refresh token",
        prepared.refresh(&rt1, &[]),
        Due::Issued,
    );
    let exchange = send(ctx, &first).await;
    evidence.push(exchange.clone());
    let rt2 = match redeemed(&exchange) {
        Ok(body) => match body.get("refresh_token").and_then(Value::as_str) {
            Some(rt2) if rt2 != rt1 => rt2.to_owned(),
            _ => {
                return Outcome::new(
                    Verdict::Skip,
                    "the refresh answer carried no new refresh token: the server does not \
                     rotate refresh tokens here (as.refresh.rotation and as.dpop.refresh-bound \
                     grade the alternatives)",
                );
            }
        },
        Err(answer) => {
            return Outcome::error(
                format!(
                    "positive control: the token endpoint answered {} with {answer}, so no \
                     replay can be judged",
                    first.what
                ),
                evidence,
            );
        }
    };
    let replay = probe(
        "the first refresh token again",
        prepared.refresh(&rt1, &[]),
        recorded(&["invalid_grant"]),
    );
    // Whether the replay is refused is as.refresh.rotation's to grade; a server that honours
    // it detected nothing, and its second refresh token stays usable all the same.
    evidence.push(send(ctx, &replay).await);
    let after = probe(
        "a refresh with the second refresh token after the first was replayed",
        prepared.refresh(&rt2, &[]),
        recorded(&["invalid_grant"]),
    );
    let assertions = match answer_to(ctx, &after, &mut evidence).await {
        Ok(resp) => grade(REFRESH_REUSE_REVOKES.level, &after, &Answer::of(&resp)),
        Err(outcome) => return outcome,
    };
    finish(
        REFRESH_REUSE_REVOKES.level,
        assertions,
        evidence,
        "after the first refresh token was replayed, the one that replaced it was refused too"
            .to_owned(),
    )
}

pub(super) const REFRESH_REUSE_REVOKES: CheckMeta = as_meta(
    "as.refresh.reuse-revokes",
    "as-refresh-rotation",
    "Revokes the refresh token family when a used refresh token is replayed",
    "A refresh with the first refresh token gets a second; the first is replayed (as.refresh.rotation grades its refusal); then the second is refused too, HTTP 400 and no token: the server cannot tell the client from an attacker, so the family is revoked. Skip when refresh answers carry no new refresh token.",
    Level::Should,
    &[rfc(
        "OAuth 2.1",
        "§4.3.1",
        "on a replayed refresh token the authorization server revokes the active refresh token",
        OAUTH21,
    )],
    CODE,
    &["as-refresh-reuse-keeps-family", "as-refresh-no-rotation"],
);

// ---- the catalogue ---------------------------------------------------------------------------

/// What a row needs: rows that redeem codes need the run's client.
pub(super) const CODE: &[Need] = &[Need::AsClient];
const NO_CODE: &[Need] = &[Need::Anonymous];

pub(super) static ROWS: &[TokenRow] = &[
    TokenRow {
        meta: as_meta(
            "as.token.success-shape",
            "as-token-success-shape",
            "Answers a code redemption in the standard form",
            "A valid code redemption (PKCE verifier, resource R) gets HTTP 200 application/json with access_token, token_type Bearer or DPoP (case-insensitive) and Cache-Control: no-store (MUST); expires_in is RECOMMENDED (a missing one warns).",
            Level::Must,
            &[rfc(
                "OAuth 2.1",
                "§3.2.3",
                "access_token, token_type, Cache-Control: no-store; expires_in RECOMMENDED",
                OAUTH21,
            )],
            CODE,
            &["as-token-success-shape"],
        ),
        setup: Setup::Tokens,
        plan: Plan::Redemption(success_shape),
    },
    TokenRow {
        meta: as_meta(
            "as.token.pkce-missing-verifier",
            "as-token-pkce-missing-verifier",
            "Refuses a code redemption without code_verifier",
            "A code issued for a PKCE challenge, redeemed without code_verifier, is refused with HTTP 400 and no token; the error is recorded (invalid_grant is the spec's, another refusal is no failure).",
            Level::Must,
            &[
                rfc(
                    "OAuth 2.1",
                    "§4.1.3",
                    "the code_verifier is verified against the code_challenge",
                    OAUTH21,
                ),
                super::PKCE_ENFORCED,
            ],
            CODE,
            &["as-token-pkce-verifier-optional"],
        ),
        setup: Setup::Code,
        plan: Plan::Requests(pkce_missing_verifier),
    },
    TokenRow {
        meta: as_meta(
            "as.token.pkce-wrong-verifier",
            "as-token-pkce-wrong-verifier",
            "Refuses a code redemption with a wrong code_verifier",
            "A code redeemed with another code_verifier of valid syntax (43 unreserved characters) is refused with HTTP 400 and no token; the error is recorded (invalid_grant is the spec's).",
            Level::Must,
            &[rfc(
                "OAuth 2.1",
                "§4.1.3",
                "the code_verifier must match the code_challenge",
                OAUTH21,
            )],
            CODE,
            &["as-token-pkce-verifier-unchecked"],
        ),
        setup: Setup::Code,
        plan: Plan::Requests(pkce_wrong_verifier),
    },
    TokenRow {
        meta: as_meta(
            "as.token.code-reuse",
            "as-token-code-reuse",
            "Refuses a second redemption of a code",
            "A code redeemed once is redeemed again at once: the second redemption is refused with HTTP 400 and no token (MUST); the error is recorded. Whether the first redemption's tokens are revoked (SHOULD) is not checked: it needs the authorization server's introspection credentials.",
            Level::Must,
            &[rfc(
                "OAuth 2.1",
                "§4.1.3",
                "a code is used once; a second use is denied (and its tokens should be revoked)",
                OAUTH21,
            )],
            CODE,
            &["as-token-code-reuse"],
        ),
        setup: Setup::Tokens,
        plan: Plan::Requests(code_reuse),
    },
    TokenRow {
        meta: CheckMeta {
            deadline: Some(std::time::Duration::from_secs(
                crate::catalog::MAX_CODE_EXPIRY_WAIT_SECONDS + 60,
            )),
            ..as_meta(
                "as.token.code-expired",
                "as-token-code-expired",
                "Refuses a code redeemed after it should have expired",
                "A fresh code is left unredeemed for --code-expiry-wait SECONDS (the longest code lifetime the run accepts: 660 holds the server to OAuth 2.1's recommended 10 minutes), then redeemed as a valid request: it is refused with HTTP 400 and no token; the error is recorded (invalid_grant is the spec's). NotEvaluated without the flag, since the wait takes minutes.",
                Level::Should,
                &[rfc(
                    "OAuth 2.1",
                    "§4.1.2",
                    "the authorization code must expire shortly after it is issued; a maximum lifetime of 10 minutes is RECOMMENDED",
                    OAUTH21,
                )],
                &[Need::AsClient, Need::CodeExpiryWait],
                &["as-code-never-expires"],
            )
        },
        setup: Setup::Code,
        plan: Plan::Requests(code_expired),
    },
    TokenRow {
        meta: as_meta(
            "as.token.redirect-mismatch",
            "as-token-redirect-mismatch",
            "Refuses a redemption naming another redirect_uri",
            "A code redeemed with a redirect_uri other than the authorization request's (its path with -other appended) is refused with HTTP 400 and no token; the error is recorded (invalid_grant is the spec's).",
            Level::Must,
            &[
                rfc(
                    "OAuth 2.1",
                    "§10.2",
                    "redirect_uri at the token endpoint matches the authorization request's",
                    OAUTH21,
                ),
                rfc(
                    "RFC 6749",
                    "§4.1.3",
                    "ensure the redirect_uri is identical to the authorization request's",
                    RFC6749,
                ),
            ],
            CODE,
            &["as-token-redirect-unchecked"],
        ),
        setup: Setup::Code,
        plan: Plan::Requests(redirect_mismatch),
    },
    TokenRow {
        meta: as_meta(
            "as.token.code-other-client",
            "as-token-code-other-client",
            "Refuses a code presented by another client",
            "A code issued to the run's client, redeemed by a second public client the run registers for the row, is refused with HTTP 400 and no token; the error is recorded (invalid_grant is the spec's). NotEvaluated when the server offers no open registration (no second client).",
            Level::Must,
            &[rfc(
                "OAuth 2.1",
                "§4.1.3",
                "the code was issued to the authenticated confidential client, or to the client_id of a public client",
                OAUTH21,
            )],
            CODE,
            &["as-code-client-unbound"],
        ),
        setup: Setup::CodeAndOtherClient,
        plan: Plan::Requests(code_other_client),
    },
    TokenRow {
        meta: as_meta(
            "as.token.invalid-client",
            "as-token-invalid-client",
            "Answers failed HTTP Basic client authentication with 401",
            "HTTP Basic client authentication with a wrong secret, for an unknown client and for the run's client, gets HTTP 401, a WWW-Authenticate: Basic challenge and error=invalid_client.",
            Level::Must,
            &[rfc(
                "OAuth 2.1",
                "§3.2.4",
                "invalid_client; 401 with a WWW-Authenticate challenge when the Authorization header was used",
                OAUTH21,
            )],
            NO_CODE,
            &["as-token-invalid-client-400"],
        ),
        setup: Setup::Nothing,
        plan: Plan::Requests(invalid_client),
    },
    TokenRow {
        meta: as_meta(
            "as.token.duplicate-params",
            "as-token-duplicate-params",
            "Refuses a token request with a repeated parameter",
            "A valid code redemption with the code parameter twice is refused with HTTP 400 and no token; the error is recorded (invalid_request is the spec's).",
            Level::Must,
            &[rfc(
                "OAuth 2.1",
                "§3.2",
                "request parameters must not be included more than once",
                OAUTH21,
            )],
            CODE,
            &["as-token-duplicate-params-accepted"],
        ),
        setup: Setup::Code,
        plan: Plan::Requests(duplicate_params),
    },
    TokenRow {
        meta: as_meta(
            "as.token.grant-types",
            "as-token-grant-types",
            "Refuses the password grant and unknown grants",
            "grant_type=password (removed by OAuth 2.1, forbidden by RFC 9700) and grant_type=foo are refused with HTTP 400 and no token; the error is recorded (unsupported_grant_type or unauthorized_client).",
            Level::Must,
            &[
                rfc(
                    "OAuth 2.1",
                    "§3.2.4",
                    "unsupported_grant_type; the password grant is removed",
                    OAUTH21,
                ),
                rfc(
                    "RFC 9700",
                    "§2.4",
                    "the resource owner password credentials grant must not be used",
                    RFC9700,
                ),
            ],
            NO_CODE,
            &["as-token-password-grant"],
        ),
        setup: Setup::Nothing,
        plan: Plan::Requests(grant_types),
    },
    TokenRow {
        meta: as_meta(
            "as.token.error-shape",
            "as-token-error-shape",
            "Answers token errors in the standard JSON form",
            "Error answers (no grant_type, grant_type=foo, a code never issued, an unknown client in HTTP Basic) are HTTP 400 (401 only with invalid_client), application/json with an error in the allowed characters, and Cache-Control: no-store.",
            Level::Must,
            &[rfc(
                "OAuth 2.1",
                "§3.2.4",
                "error responses: 400 (or 401), application/json, error in %x20-21 / %x23-5B / %x5D-7E",
                OAUTH21,
            )],
            NO_CODE,
            &["as-token-error-shape"],
        ),
        setup: Setup::Nothing,
        plan: Plan::Requests(error_shape),
    },
    TokenRow {
        meta: as_meta(
            "as.token.aud",
            "as-token-aud",
            "Restricts the access token's audience to the resource",
            "A code flow naming resource R (the run's resource, else http://127.0.0.1:9/mcp) gives a JWT access token whose aud contains R. An opaque token is not read (Skip: no introspection).",
            Level::Should,
            &[
                rfc(
                    "RFC 8707",
                    "§2",
                    "audience-restrict the token to the resource",
                    RFC8707,
                ),
                mcp(
                    "Token Audience Binding and Validation",
                    "clients send resource; servers validate the audience",
                ),
            ],
            CODE,
            &["as-token-aud-default"],
        ),
        setup: Setup::Tokens,
        plan: Plan::Redemption(aud),
    },
    TokenRow {
        meta: as_meta(
            "as.token.resource-mismatch",
            "as-token-resource-mismatch",
            "Refuses a redemption for a resource not authorized",
            "A code authorized for resource R, redeemed for another resource (http://127.0.0.1:9/other-mcp), is refused with HTTP 400 and no token; the error is recorded (invalid_target is the spec's).",
            Level::Should,
            &[rfc(
                "RFC 8707",
                "§2.2",
                "the token request's resource is verified against the grant; invalid_target",
                RFC8707,
            )],
            CODE,
            &["as-token-resource-unbound"],
        ),
        setup: Setup::Code,
        plan: Plan::Requests(resource_mismatch),
    },
    TokenRow {
        meta: as_meta(
            "as.token.resource-unknown",
            "as-token-resource-unknown",
            "Issues no token for an unknown resource",
            "A code flow naming a resource no server can have (https://mcp-authspec.invalid/mcp, a reserved name) is refused at the authorization endpoint or its redemption is refused with HTTP 400 and no token; the error is recorded (invalid_target is the spec's). A token with a default audience is the failure this row catches.",
            Level::Should,
            &[rfc(
                "RFC 8707",
                "§2",
                "an unknown or unacceptable resource gets invalid_target",
                RFC8707,
            )],
            CODE,
            &["as-resource-any"],
        ),
        setup: Setup::CodeFor(ResourceChoice::Unknown),
        plan: Plan::Requests(resource_unknown),
    },
    TokenRow {
        meta: under_rfc9068(
            as_meta(
                "as.token.default-aud",
                "as-token-default-aud",
                "Gives a token requested without resource a default audience",
                "A code flow whose requests name no resource gives a JWT access token with an aud (RFC 9068 §3: a default resource indicator). Refusing the request instead is allowed (RFC 8707 §2: the server MAY demand a resource). MUST under the RFC 9068 profile (--profile rfc9068); recorded otherwise. An opaque token Skips.",
                Level::Must,
                &[
                    rfc(
                        "RFC 9068",
                        "§3",
                        "without a resource parameter, a default resource indicator is used in aud",
                        RFC9068,
                    ),
                    rfc(
                        "RFC 8707",
                        "§2",
                        "the authorization server may require a resource",
                        RFC8707,
                    ),
                ],
                CODE,
                &["as-default-aud-missing"],
            ),
            Level::Info,
        ),
        setup: Setup::TokensFor(ResourceChoice::Omitted),
        plan: Plan::Redemption(default_aud),
    },
    TokenRow {
        meta: as_meta(
            "as.token.short-lived",
            "as-token-short-lived",
            "Issues short-lived access tokens",
            "The access token of a code redemption lives at most an hour: expires_in and, for a JWT, exp − iat above 3600 s warn (the threshold is the tool's choice).",
            Level::Should,
            &[mcp(
                "Token Theft",
                "authorization servers should issue short-lived access tokens",
            )],
            CODE,
            &["as-token-long-lived"],
        ),
        setup: Setup::Tokens,
        plan: Plan::Redemption(short_lived),
    },
    TokenRow {
        meta: as_meta(
            "as.refresh.rotation",
            "as-refresh-rotation",
            "Rotates a public client's refresh tokens",
            "The refresh token of a code redemption is used once (the positive control: new tokens), then again: the second use is refused with HTTP 400 and no token; the error is recorded (invalid_grant is the spec's). Skip when no refresh token is issued.",
            Level::Must,
            &[
                mcp(
                    "Token Theft",
                    "authorization servers must rotate refresh tokens for public clients",
                ),
                rfc(
                    "OAuth 2.1",
                    "§4.3.1",
                    "refresh token replay is detected by rotation or sender constraint",
                    OAUTH21,
                ),
            ],
            CODE,
            &["as-refresh-no-rotation"],
        ),
        setup: Setup::Tokens,
        plan: Plan::Requests(refresh_rotation),
    },
    TokenRow {
        meta: as_meta(
            "as.refresh.scope-escalation",
            "as-refresh-scope-escalation",
            "Refuses a refresh that widens the scope",
            "A refresh asking for the granted scope plus one not granted (from scopes_supported) is refused with HTTP 400 and no token; the error is recorded (invalid_scope is the spec's). Skip when no refresh token is issued.",
            Level::Must,
            &[rfc(
                "OAuth 2.1",
                "§4.3.1",
                "the requested scope must not include any scope not originally granted",
                OAUTH21,
            )],
            CODE,
            &["as-refresh-scope-widened"],
        ),
        setup: Setup::Tokens,
        plan: Plan::Requests(refresh_scope_escalation),
    },
    TokenRow {
        meta: as_meta(
            "as.refresh.resource-binding",
            "as-refresh-resource-binding",
            "Keeps a refresh token bound to its resources",
            "A refresh naming another resource (http://127.0.0.1:9/other-mcp) than the grant's never gets a token whose aud is that resource: refused with HTTP 400 (the error recorded: invalid_target or invalid_grant), or a token for the granted audience (recorded). An opaque token's audience is not read (recorded). Skip when no refresh token is issued.",
            Level::Must,
            &[
                rfc(
                    "OAuth 2.1",
                    "§3.2.3",
                    "refresh tokens are bound to the scope and resource servers consented to",
                    OAUTH21,
                ),
                rfc(
                    "RFC 8707",
                    "§2.2",
                    "a resource not granted gets invalid_target",
                    RFC8707,
                ),
            ],
            CODE,
            &["as-refresh-resource-unbound"],
        ),
        setup: Setup::Tokens,
        plan: Plan::Requests(refresh_resource_binding),
    },
    TokenRow {
        meta: as_meta(
            "as.refresh.client-binding",
            "as-refresh-client-binding",
            "Refuses a refresh token presented by another client",
            "The refresh token of the run's client's code redemption, presented by a second public client the run registers for the row, is refused with HTTP 400 and no token; the error is recorded (invalid_grant is the spec's). Skip when no refresh token is issued; NotEvaluated when the server offers no open registration (no second client).",
            Level::Must,
            &[rfc(
                "OAuth 2.1",
                "§4.3, §4.3.1",
                "the refresh token was issued to the client presenting it",
                OAUTH21,
            )],
            CODE,
            &["as-refresh-client-unbound"],
        ),
        setup: Setup::TokensAndOtherClient,
        plan: Plan::Requests(refresh_client_binding),
    },
];

#[cfg(test)]
mod tests {
    use super::guessability;

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| (*v).to_owned()).collect()
    }

    #[test]
    fn random_values_show_nothing() {
        let values: Vec<String> = (0..20).map(|_| mock_idp::random_b64url(32)).collect();
        assert_eq!(guessability(&values), None);
    }

    #[test]
    fn repeats_short_values_and_counters_show() {
        let same = mock_idp::random_b64url(32);
        assert!(
            guessability(&[same.clone(), same])
                .unwrap()
                .contains("repeat")
        );
        assert!(
            guessability(&strings(&["abc123", "xyz789"]))
                .unwrap()
                .contains("bits")
        );
        let counter: Vec<String> = (0..5)
            .map(|n| format!("17650000000000{n:04}-{}", "x".repeat(40)))
            .collect();
        assert!(guessability(&counter).is_some());
        let clock = strings(&["17651000000120001", "17651000000130002"]);
        assert!(guessability(&clock).unwrap().contains("bits"));
    }
}
