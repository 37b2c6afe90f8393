//! Spec §2.6: dynamic client registration (RFC 7591), and the two §2.2 rows that need a client
//! the run registers itself (several redirect URIs; a plain-http redirect URI). Every row
//! applies only when the metadata names a `registration_endpoint`: registration is MAY since
//! MCP 2025-06-18, so without one the rows are Skip.
//!
//! Each row is a list of registration requests (sub-cases), each graded on its own, so a
//! non-pass names the sub-case and what came back. The rows that refuse something are
//! calibrated first by the valid registration (a public native client with a loopback
//! redirect URI): a server that refuses every registration cannot pass them. Every client a
//! row registers is remembered in [`AsContext::registrations`] and deleted at the end of the
//! run (RFC 7592) where the server allows it.

use serde_json::{Value, json};

use crate::catalog::request_auth::observation;
use crate::catalog::{mcp, rfc};
use crate::check::{CheckMeta, Need, Outcome};
use crate::engine::authorization_server::{AsClient, AsContext};
use crate::engine::registration::{
    RegistrationAnswer, loopback_redirect_uri, native_client_metadata, register,
};
use crate::engine::runner::{Check, CheckFuture};
use crate::expect::{Assertion, Part};
use crate::model::{Level, Verdict};

use super::OAUTH21;
use super::authorize::{Due, probe, remove, run_requests_of, set};

const RFC7591: &str = "https://www.rfc-editor.org/rfc/rfc7591";
const OIDC_REGISTRATION: &str = "https://openid.net/specs/openid-connect-registration-1_0.html";

/// What a registration row needs: nothing but the registration endpoint.
const ANONYMOUS: &[Need] = &[Need::Anonymous];

/// The valid registration every row starts from: the run's kind of client.
fn valid_metadata() -> Value {
    native_client_metadata(&[&loopback_redirect_uri()])
}

/// The valid registration with `members` replaced.
fn valid_with(members: Value) -> Value {
    let mut metadata = valid_metadata();
    if let (Value::Object(m), Value::Object(changes)) = (&mut metadata, members) {
        m.extend(changes);
    }
    metadata
}

/// The registration endpoint, or the Skip of a server without one (an Error when no metadata
/// could be read: then nothing says whether it has one).
fn endpoint(ctx: &AsContext) -> Result<String, Outcome> {
    if ctx.documents.primary().is_none() {
        return Err(Outcome::error(
            format!(
                "no metadata document of {} could be read, so whether it offers dynamic client \
                 registration is unknown (see as.metadata.available)",
                ctx.issuer
            ),
            ctx.documents.exchanges(),
        ));
    }
    let Some(endpoint) = ctx.registration_endpoint() else {
        return Err(Outcome::new(
            Verdict::Skip,
            "the metadata names no registration_endpoint: dynamic client registration is \
             optional (MAY) since MCP 2025-06-18, and this server does not offer it",
        ));
    };
    Ok(endpoint.to_owned())
}

async fn register_at(ctx: &AsContext, endpoint: &str, metadata: &Value) -> RegistrationAnswer {
    register(&ctx.driver, &ctx.registrations, endpoint, metadata).await
}

/// Whether an answer asks for an initial access token (RFC 7591 §3: a protected endpoint).
fn asks_for_token(answer: &RegistrationAnswer) -> bool {
    matches!(answer.status, Some(401 | 403))
}

/// The outcome of a row whose valid registration was refused for want of an initial access
/// token: the row cannot be evaluated by this run.
fn wants_a_token(answer: RegistrationAnswer) -> Outcome {
    Outcome {
        evidence: vec![answer.exchange.clone()],
        ..Outcome::new(
            Verdict::NotEvaluated,
            format!(
                "the registration endpoint answered a valid registration with {}: it wants an \
                 initial access token, which this run does not have (see as.dcr.open)",
                answer.describe()
            ),
        )
    }
}

/// The valid registration, as the positive control of a row: `Err` is the row's outcome
/// when it fails (NotEvaluated when the endpoint wants an initial access token).
async fn control(ctx: &AsContext) -> Result<(String, RegistrationAnswer), Outcome> {
    let endpoint = endpoint(ctx)?;
    let answer = register_at(ctx, &endpoint, &valid_metadata()).await;
    if answer.client_id().is_some() {
        return Ok((endpoint, answer));
    }
    let outcome = if asks_for_token(&answer) {
        wants_a_token(answer)
    } else {
        Outcome::error(
            format!(
                "positive control: a valid registration (a public native client with redirect \
                 URI {}) got {}, so no refusal can be judged (see as.dcr.success)",
                loopback_redirect_uri(),
                answer.describe()
            ),
            vec![answer.exchange.clone()],
        )
    };
    Err(outcome)
}

/// One assertion about a registration answer.
fn about(level: Level, requirement: String, holds: bool, answer: &RegistrationAnswer) -> Assertion {
    observation(Part::Status, level, requirement, holds, answer.describe())
}

/// Grades a row's assertions with the exchanges that show them.
fn graded(
    meta: &CheckMeta,
    assertions: Vec<Assertion>,
    answers: &[&RegistrationAnswer],
    pass: String,
) -> Outcome {
    let evidence = answers.iter().map(|a| a.exchange.clone()).collect();
    crate::catalog::prm::graded(meta.level, assertions, evidence, pass)
}

/// `as.dcr.success`
pub(super) const SUCCESS: CheckMeta = super::as_meta(
    "as.dcr.success",
    "as-dcr-success",
    "Registers a client with a complete response",
    "A registration of a public native client (loopback redirect URI, token_endpoint_auth_method none, the code and refresh grants, client_name, application_type native) gets 201 with a client_id; every registered member comes back (possibly replaced); no client_secret for a none client; client_secret_expires_at whenever a client_secret is issued.",
    Level::Must,
    &[
        rfc(
            "RFC 7591",
            "§3.2.1",
            "the response contains the client_id and all registered metadata",
            RFC7591,
        ),
        rfc(
            "RFC 7591",
            "§3.2.1",
            "client_secret_expires_at is required if client_secret is issued",
            RFC7591,
        ),
    ],
    ANONYMOUS,
    &["as-dcr-secret-for-public"],
);

pub(super) async fn success(ctx: &AsContext) -> Outcome {
    let endpoint = match endpoint(ctx) {
        Ok(e) => e,
        Err(skip) => return skip,
    };
    let sent = valid_metadata();
    let answer = register_at(ctx, &endpoint, &sent).await;
    if answer.exchange.response.is_err() {
        return Outcome::error(
            format!("the registration endpoint gave {}", answer.describe()),
            vec![answer.exchange],
        );
    }
    if asks_for_token(&answer) {
        return wants_a_token(answer);
    }
    let registered = answer.client_id().is_some();
    let mut assertions = vec![
        about(
            Level::Must,
            "a valid registration is answered 2xx with a client_id".into(),
            registered,
            &answer,
        ),
        about(
            Level::Should,
            "the answer's status is 201 Created".into(),
            answer.status == Some(201),
            &answer,
        ),
    ];
    if registered {
        for name in sent.as_object().into_iter().flat_map(|m| m.keys()) {
            assertions.push(about(
                Level::Must,
                format!("the registered member {name} comes back in the answer"),
                answer.member(name).is_some(),
                &answer,
            ));
        }
        let method = answer
            .member("token_endpoint_auth_method")
            .and_then(Value::as_str)
            .unwrap_or("none");
        let secret = answer.member("client_secret").is_some();
        if method == "none" {
            assertions.push(about(
                Level::Must,
                "no client_secret for a client registered with token_endpoint_auth_method none"
                    .into(),
                !secret,
                &answer,
            ));
        }
        if secret {
            assertions.push(about(
                Level::Must,
                "client_secret_expires_at comes with the client_secret".into(),
                answer.member("client_secret_expires_at").is_some(),
                &answer,
            ));
        }
    }
    graded(
        &SUCCESS,
        assertions,
        &[&answer],
        format!(
            "a public native client was registered ({}) with every member echoed and no secret",
            answer.describe()
        ),
    )
}

/// The sub-cases of a row that must be refused: what is sent, the level of its refusal, and
/// what the answer may do instead of refusing (the values replaced: RFC 7591 §3.2.1).
struct Refusal {
    what: &'static str,
    metadata: Value,
    level: Level,
    /// The registration error code due.
    error: &'static str,
    /// Whether an accepted registration's answer shows the offending values replaced.
    replaced: fn(&RegistrationAnswer) -> bool,
}

fn never_replaced(_: &RegistrationAnswer) -> bool {
    false
}

/// Sends each sub-case after the control and grades it on its own.
async fn refusals(ctx: &AsContext, meta: &CheckMeta, cases: Vec<Refusal>) -> Outcome {
    let (endpoint, control) = match control(ctx).await {
        Ok(c) => c,
        Err(outcome) => return outcome,
    };
    let mut assertions = Vec::new();
    let mut answers = Vec::new();
    for case in &cases {
        let answer = register_at(ctx, &endpoint, &case.metadata).await;
        if answer.exchange.response.is_err() {
            return Outcome::error(
                format!(
                    "{}: the registration endpoint gave {}",
                    case.what,
                    answer.describe()
                ),
                vec![answer.exchange],
            );
        }
        let refused = answer.client_id().is_none();
        let replaced = !refused && (case.replaced)(&answer);
        assertions.push(about(
            case.level,
            format!("{} is refused (no client registered)", case.what),
            refused || replaced,
            &answer,
        ));
        if refused {
            assertions.push(about(
                Level::Should,
                format!("{} gets 400 with error={}", case.what, case.error),
                answer.status == Some(400) && answer.error() == Some(case.error),
                &answer,
            ));
        }
        answers.push(answer);
    }
    let broken = assertions.iter().any(|a| !a.holds);
    let mut shown: Vec<&RegistrationAnswer> = answers.iter().collect();
    if !broken {
        shown.insert(0, &control);
    }
    let seen: Vec<String> = cases
        .iter()
        .zip(&answers)
        .map(|(case, answer)| format!("{}: {}", case.what, answer.describe()))
        .collect();
    graded(
        meta,
        assertions,
        &shown,
        format!(
            "every sub-case was refused (or registered with its values replaced): {}",
            seen.join("; ")
        ),
    )
}

/// `as.dcr.invalid-redirect`
pub(super) const INVALID_REDIRECT: CheckMeta = super::as_meta(
    "as.dcr.invalid-redirect",
    "as-dcr-invalid-redirect",
    "Refuses registering bad redirect URIs",
    "Registrations whose redirect_uris is [http://client.test/cb] (plain http off loopback), [https://c.test/cb#f] (a fragment), [/cb] (relative) or [javascript:alert(1)] are each refused (MUST), with 400 invalid_redirect_uri (SHOULD).",
    Level::Must,
    &[
        rfc(
            "RFC 7591",
            "§3.2.2",
            "invalid_redirect_uri: the value of one or more redirection URIs is invalid",
            RFC7591,
        ),
        mcp(
            "Communication Security",
            "all redirect URIs must be either localhost or use HTTPS",
        ),
    ],
    ANONYMOUS,
    &["as-dcr-redirect-unchecked", "as-redirect-http-allowed"],
);

pub(super) async fn invalid_redirect(ctx: &AsContext) -> Outcome {
    let cases = [
        (
            "redirect_uris [http://client.test/cb] (plain http, not loopback)",
            "http://client.test/cb",
        ),
        (
            "redirect_uris [https://c.test/cb#f] (a fragment)",
            "https://c.test/cb#f",
        ),
        ("redirect_uris [/cb] (relative)", "/cb"),
        ("redirect_uris [javascript:alert(1)]", "javascript:alert(1)"),
    ]
    .into_iter()
    .map(|(what, uri)| Refusal {
        what,
        metadata: valid_with(json!({ "redirect_uris": [uri] })),
        level: Level::Must,
        error: "invalid_redirect_uri",
        replaced: never_replaced,
    })
    .collect();
    refusals(ctx, &INVALID_REDIRECT, cases).await
}

/// `as.dcr.invalid-metadata`
pub(super) const INVALID_METADATA: CheckMeta = super::as_meta(
    "as.dcr.invalid-metadata",
    "as-dcr-invalid-metadata",
    "Refuses inconsistent client metadata",
    "A registration with both jwks and jwks_uri is refused (MUST: RFC 7591 §2 forbids both); grant_types [implicit] with response_types [code], and token_endpoint_auth_method bogus, are refused or have their values replaced in the answer (SHOULD); refusals are 400 invalid_client_metadata (SHOULD).",
    Level::Must,
    &[
        rfc(
            "RFC 7591",
            "§2",
            "the jwks_uri and jwks parameters must not both be present",
            RFC7591,
        ),
        rfc(
            "RFC 7591",
            "§2.1",
            "grant_types and response_types should be consistent",
            RFC7591,
        ),
    ],
    ANONYMOUS,
    &["as-dcr-jwks-with-jwks-uri"],
);

/// A P-256 public key (RFC 7517 Appendix A.1), for a `jwks` member.
fn public_jwks() -> Value {
    json!({"keys": [{
        "kty": "EC",
        "crv": "P-256",
        "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
        "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM",
        "use": "sig",
        "kid": "authspec-dcr-1"
    }]})
}

fn strings(answer: &RegistrationAnswer, name: &str) -> Vec<String> {
    answer
        .member(name)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

pub(super) async fn invalid_metadata(ctx: &AsContext) -> Outcome {
    let cases = vec![
        Refusal {
            what: "both jwks and jwks_uri",
            metadata: valid_with(json!({
                "jwks": public_jwks(),
                "jwks_uri": "https://client.example/jwks.json",
            })),
            level: Level::Must,
            error: "invalid_client_metadata",
            replaced: |a| a.member("jwks").is_none() || a.member("jwks_uri").is_none(),
        },
        Refusal {
            what: "grant_types [implicit] with response_types [code]",
            metadata: valid_with(json!({
                "grant_types": ["implicit"],
                "response_types": ["code"],
            })),
            level: Level::Should,
            error: "invalid_client_metadata",
            replaced: |a| {
                strings(a, "grant_types") != ["implicit"]
                    || strings(a, "response_types") != ["code"]
            },
        },
        Refusal {
            what: "token_endpoint_auth_method bogus",
            metadata: valid_with(json!({ "token_endpoint_auth_method": "bogus" })),
            level: Level::Should,
            error: "invalid_client_metadata",
            replaced: |a| {
                a.member("token_endpoint_auth_method")
                    .and_then(Value::as_str)
                    .is_some_and(|m| m != "bogus")
            },
        },
    ];
    refusals(ctx, &INVALID_METADATA, cases).await
}

/// `as.dcr.public-needs-pkce`
pub(super) const PUBLIC_NEEDS_PKCE: CheckMeta = super::as_meta(
    "as.dcr.public-needs-pkce",
    "as-dcr-public-needs-pkce",
    "Requires PKCE of a registered public client",
    "A client registered with token_endpoint_auth_method none sends an authorization request without code_challenge: it is refused (an error redirect or an error page), no code issued.",
    Level::Must,
    &[
        rfc(
            "OAuth 2.1",
            "§4.1.2.1",
            "a public client's request without code_challenge is an invalid request",
            OAUTH21,
        ),
        super::PKCE_ENFORCED,
    ],
    ANONYMOUS,
    &["as-dcr-public-pkce-optional", "as-pkce-optional"],
);

/// The client a successful registration answer created, with its first redirect URI.
fn client_of(answer: &RegistrationAnswer, redirect_uri: &str) -> Option<AsClient> {
    Some(AsClient {
        client_id: answer.client_id()?.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
    })
}

pub(super) async fn public_needs_pkce(ctx: &AsContext) -> Outcome {
    let (_, control) = match control(ctx).await {
        Ok(c) => c,
        Err(outcome) => return outcome,
    };
    let Some(client) = client_of(&control, &loopback_redirect_uri()) else {
        return Outcome::undeclared_need();
    };
    let without = probe(
        ctx,
        &client,
        format!(
            "a request of the registered public client {} without code_challenge",
            client.client_id
        ),
        Due::Refused("invalid_request"),
        |p| {
            remove(p, "code_challenge");
            remove(p, "code_challenge_method");
        },
    );
    let mut outcome = run_requests_of(ctx, &PUBLIC_NEEDS_PKCE, &client, vec![without]).await;
    if outcome.verdict == Verdict::Pass {
        outcome.message = format!(
            "the registered public client {}'s request without code_challenge was refused",
            client.client_id
        );
    }
    outcome
}

/// `as.dcr.application-type`
pub(super) const APPLICATION_TYPE: CheckMeta = super::as_meta(
    "as.dcr.application-type",
    "as-dcr-application-type",
    "Registers native clients with loopback redirects",
    "A registration with application_type native and a loopback redirect URI succeeds and stays native in the answer; the same with application_type web is recorded (OpenID Connect lets a server refuse web clients on localhost). Recorded (INFO): the MCP rule on application_type binds clients.",
    Level::Info,
    &[
        mcp(
            "Application Type and Redirect URI Constraints",
            "native clients with loopback redirect URIs register with application_type native",
        ),
        rfc(
            "OpenID Connect Registration",
            "§2",
            "application_type web or native; web clients use https and no localhost",
            OIDC_REGISTRATION,
        ),
    ],
    ANONYMOUS,
    &["as-dcr-native-as-web"],
);

pub(super) async fn application_type(ctx: &AsContext) -> Outcome {
    let (endpoint, native) = match control(ctx).await {
        Ok(c) => c,
        Err(outcome) => return outcome,
    };
    let kept = native
        .member("application_type")
        .and_then(Value::as_str)
        .is_none_or(|t| t == "native");
    let assertions = vec![observation(
        Part::Status,
        Level::Info,
        "a native client with a loopback redirect URI is registered as native",
        kept,
        format!(
            "{} as application_type {}",
            native.describe(),
            native.member("application_type").unwrap_or(&Value::Null)
        ),
    )];
    let web = register_at(
        ctx,
        &endpoint,
        &valid_with(json!({ "application_type": "web" })),
    )
    .await;
    graded(
        &APPLICATION_TYPE,
        assertions,
        &[&native, &web],
        format!(
            "a native client with a loopback redirect URI was registered as native; the same \
             client as application_type web got {} (recorded)",
            web.describe()
        ),
    )
}

/// `as.dcr.open`
pub(super) const OPEN: CheckMeta = super::as_meta(
    "as.dcr.open",
    "as-dcr-open",
    "Allows registration without an initial access token",
    "A registration without Authorization is answered on its merits (201 for a valid one), not with 401 or 403 asking for an initial access token (RFC 7591 §3: servers should allow unauthenticated registration, possibly rate-limited).",
    Level::Should,
    &[rfc(
        "RFC 7591",
        "§3",
        "the registration endpoint may be open; initial access tokens are optional",
        RFC7591,
    )],
    ANONYMOUS,
    &["as-dcr-initial-token-required"],
);

pub(super) async fn open(ctx: &AsContext) -> Outcome {
    let endpoint = match endpoint(ctx) {
        Ok(e) => e,
        Err(skip) => return skip,
    };
    let answer = register_at(ctx, &endpoint, &valid_metadata()).await;
    match answer.status {
        None => Outcome::error(
            format!("the registration endpoint gave {}", answer.describe()),
            vec![answer.exchange],
        ),
        Some(500..) => Outcome::error(
            format!(
                "the registration endpoint answered a valid registration with {}",
                answer.describe()
            ),
            vec![answer.exchange],
        ),
        Some(_) => graded(
            &OPEN,
            vec![about(
                Level::Should,
                "a registration without Authorization is not refused for want of an initial \
                 access token (no 401 or 403)"
                    .into(),
                !asks_for_token(&answer),
                &answer,
            )],
            &[&answer],
            format!(
                "a registration without Authorization got {}",
                answer.describe()
            ),
        ),
    }
}

/// `as.dcr.no-cache`
pub(super) const NO_CACHE: CheckMeta = super::as_meta(
    "as.dcr.no-cache",
    "as-dcr-no-cache",
    "Answers registrations with Cache-Control: no-store",
    "The answer to a successful registration (which may carry a client secret and a registration access token) has Cache-Control: no-store.",
    Level::Should,
    &[
        rfc(
            "RFC 7591",
            "§3.2.1",
            "the registration response carries client credentials",
            RFC7591,
        ),
        rfc(
            "OAuth 2.1",
            "§3.2.3",
            "responses with credentials carry Cache-Control: no-store (by analogy)",
            OAUTH21,
        ),
    ],
    ANONYMOUS,
    &["as-dcr-cacheable"],
);

pub(super) async fn no_cache(ctx: &AsContext) -> Outcome {
    let (_, answer) = match control(ctx).await {
        Ok(c) => c,
        Err(outcome) => return outcome,
    };
    let cache_control = answer
        .exchange
        .response
        .as_ref()
        .ok()
        .map(|r| r.header_values("cache-control").join(", "))
        .unwrap_or_default();
    let no_store = cache_control
        .split(',')
        .any(|d| d.trim().eq_ignore_ascii_case("no-store"));
    graded(
        &NO_CACHE,
        vec![observation(
            Part::Status,
            Level::Should,
            "the registration answer has Cache-Control: no-store",
            no_store,
            format!(
                "{} with Cache-Control: {cache_control:?}",
                answer.describe()
            ),
        )],
        &[&answer],
        "the registration answer has Cache-Control: no-store".into(),
    )
}

/// `as.authorize.redirect-missing`
pub(super) const REDIRECT_MISSING: CheckMeta = super::as_meta(
    "as.authorize.redirect-missing",
    "as-authz-redirect-missing",
    "Requires redirect_uri when several are registered",
    "The run registers a client with two redirect URIs; its authorization request without redirect_uri gets an error page, never a redirect (to either URI). Skip without a registration endpoint.",
    Level::Must,
    &[rfc(
        "OAuth 2.1",
        "§4.1.1",
        "redirect_uri is required when several redirect URIs are registered",
        OAUTH21,
    )],
    ANONYMOUS,
    &["as-redirect-default-of-several"],
);

pub(super) async fn redirect_missing(ctx: &AsContext) -> Outcome {
    let (endpoint, _) = match control(ctx).await {
        Ok(c) => c,
        Err(outcome) => return outcome,
    };
    let first = loopback_redirect_uri();
    let second = format!("{}/second", first);
    let answer = register_at(
        ctx,
        &endpoint,
        &valid_with(json!({ "redirect_uris": [first, second] })),
    )
    .await;
    let Some(client) = client_of(&answer, &first) else {
        return Outcome::error(
            format!(
                "registering a client with the redirect URIs {first} and {second} got {}, so \
                 there is no client to send the request",
                answer.describe()
            ),
            vec![answer.exchange],
        );
    };
    let without = probe(
        ctx,
        &client,
        format!(
            "a request of client {} (redirect URIs {first} and {second}) without redirect_uri",
            client.client_id
        ),
        Due::NoRedirect,
        |p| remove(p, "redirect_uri"),
    );
    let mut outcome = run_requests_of(ctx, &REDIRECT_MISSING, &client, vec![without]).await;
    if outcome.verdict == Verdict::Pass {
        outcome.message = format!(
            "client {} registered two redirect URIs; its request without redirect_uri got an \
             error page",
            client.client_id
        );
    }
    outcome
}

/// `as.authorize.redirect-uri-scheme`
pub(super) const REDIRECT_URI_SCHEME: CheckMeta = super::as_meta(
    "as.authorize.redirect-uri-scheme",
    "as-authz-redirect-uri-scheme",
    "Never redirects to a plain-http redirect URI off loopback",
    "The run registers a client with a loopback redirect URI and http://client.test/cb: the registration is refused, or the authorization request naming http://client.test/cb gets an error page, never a redirect. Skip without a registration endpoint.",
    Level::Must,
    &[
        mcp(
            "Communication Security",
            "all redirect URIs must be either localhost or use HTTPS",
        ),
        rfc(
            "OAuth 2.1",
            "§1.5",
            "redirect URIs use TLS, loopback excepted",
            OAUTH21,
        ),
    ],
    ANONYMOUS,
    &["as-redirect-http-allowed"],
);

pub(super) async fn redirect_uri_scheme(ctx: &AsContext) -> Outcome {
    let (endpoint, control) = match control(ctx).await {
        Ok(c) => c,
        Err(outcome) => return outcome,
    };
    let loopback = loopback_redirect_uri();
    let plain = "http://client.test/cb";
    let answer = register_at(
        ctx,
        &endpoint,
        &valid_with(json!({ "redirect_uris": [loopback, plain] })),
    )
    .await;
    let Some(client) = client_of(&answer, &loopback) else {
        let mut outcome = Outcome::new(
            Verdict::Pass,
            format!(
                "registering the redirect URI {plain} was refused ({})",
                answer.describe()
            ),
        );
        outcome.evidence = vec![control.exchange, answer.exchange];
        return outcome;
    };
    let to_plain = probe(
        ctx,
        &client,
        format!(
            "redirect_uri {plain}, registered by client {}",
            client.client_id
        ),
        Due::NoRedirect,
        |p| set(p, "redirect_uri", plain),
    );
    let mut outcome = run_requests_of(ctx, &REDIRECT_URI_SCHEME, &client, vec![to_plain]).await;
    if outcome.verdict == Verdict::Pass {
        outcome.message = format!(
            "{plain} was registered ({}), but the authorization endpoint does not redirect to it",
            answer.describe()
        );
    }
    outcome.evidence.insert(0, answer.exchange);
    outcome
}

/// The rows of this file, in catalogue order.
pub(super) fn checks() -> Vec<Check<AsContext>> {
    fn check(
        meta: CheckMeta,
        run: for<'a> fn(&'a AsContext) -> CheckFuture<'a>,
    ) -> Check<AsContext> {
        Check::new(meta, run)
    }
    vec![
        check(REDIRECT_MISSING, |ctx| Box::pin(redirect_missing(ctx))),
        check(REDIRECT_URI_SCHEME, |ctx| {
            Box::pin(redirect_uri_scheme(ctx))
        }),
        check(SUCCESS, |ctx| Box::pin(success(ctx))),
        check(INVALID_REDIRECT, |ctx| Box::pin(invalid_redirect(ctx))),
        check(INVALID_METADATA, |ctx| Box::pin(invalid_metadata(ctx))),
        check(PUBLIC_NEEDS_PKCE, |ctx| Box::pin(public_needs_pkce(ctx))),
        check(APPLICATION_TYPE, |ctx| Box::pin(application_type(ctx))),
        check(OPEN, |ctx| Box::pin(open(ctx))),
        check(NO_CACHE, |ctx| Box::pin(no_cache(ctx))),
    ]
}
