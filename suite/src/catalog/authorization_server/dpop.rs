//! Spec §2.5: DPoP at the authorization server (RFC 9449 §5, §6, §8, §10, §11.1). The rows
//! apply when the metadata lists `dpop_signing_alg_values_supported` (spec §0.1); DPoP is
//! optional for an MCP authorization server, so without it they are Skip.
//!
//! Each row is data: token requests, each with its grant (a fresh code, the same code again,
//! the refresh token, a code pushed by PAR), its `DPoP` fields and what the endpoint must do
//! with it ([`Expect`]), and pushed authorization requests (RFC 9126) judged the same way;
//! or a judgement of the positive control's answer. The engine ([`run_dpop_row`]) gets codes
//! the way the token rows do ([`super::token`]: a login step without `--login-command` makes
//! the row NotEvaluated) and first runs the positive control, a code redeemed with a valid
//! proof by `K_c`. Proofs are the tool's own ([`ProofBuilder`]): every defect is built on
//! purpose, never through a library that refuses to. Built proofs carry the server's latest
//! `DPoP-Nonce` and a `use_dpop_nonce` answer is retried once, as a client does, unless the
//! request is about nonces itself.

use mock_idp::alg::Algorithm;
use mock_idp::dpop::{ProofBuilder, SignatureMode};
use mock_idp::keys::SigningKey;
use serde_json::{Value, json};

use crate::catalog::dpop::{ProofField, rfc9449, sep1932};
use crate::check::{CheckMeta, Need, Outcome};
use crate::engine::authorization_server::{AsClient, AsContext, IssuedCode};
use crate::engine::context::{DPOP_ALGS, DpopClient, LazyRing, jkt_of};
use crate::expect::Assertion;
use crate::http::{Exchange, ProbeRequest};
use crate::model::{Level, Verdict};
use crate::wire::oauth::is_valid_dpop_nonce;

use super::token::{
    Answer, DEFAULT_RESOURCE, Due, Prepared, Redeemed, TokenProbe, access_token_claims, code_with,
    finish, graded, jwt_claims, no_code, pairs, redeemed, refusal, rule, token_request,
};
use super::{Judged, as_meta};

/// What `ath` is computed over in the token-endpoint proof that carries one (no such token
/// exists: the claim is bogus on purpose, spec as-dpop-ath-at-token).
const NO_SUCH_ACCESS_TOKEN: &str = "mcp-authspec-no-such-access-token";
/// A nonce no authorization server issued.
const WRONG_NONCE: &str = "mcp-authspec-not-an-issued-nonce";
/// The secret the HS256 proof is MACed with.
const HMAC_SECRET: &[u8] = b"mcp-authspec-dpop-hmac-secret";

/// The errors a refused defective proof may carry (spec as-dpop-invalid-proof: OIDF also
/// accepts invalid_request and invalid_grant).
const PROOF_REFUSED: &[&str] = &["invalid_dpop_proof", "invalid_request", "invalid_grant"];
/// The errors of a proof refused for its age when it carries no nonce: a server that demands
/// or offers nonces may ask for one instead (RFC 9449 §4.3 check 11 allows freshness by nonce,
/// spec OQ-3).
const STALE_REFUSED: &[&str] = &[
    "invalid_dpop_proof",
    "invalid_request",
    "invalid_grant",
    "use_dpop_nonce",
];
/// The errors of a request refused for its proof key or its missing proof.
const KEY_REFUSED: &[&str] = &["invalid_grant", "invalid_dpop_proof"];

/// Which client the row acts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientSetup {
    /// The run's client.
    Run,
    /// A client registered for the row at the registration endpoint with
    /// `dpop_bound_access_tokens: true` (Skip without a registration endpoint).
    RegisteredBound,
}

/// The grant a request carries.
pub(crate) enum Grant {
    /// None: the request is itself a pushed authorization request (RFC 9126, at the PAR
    /// endpoint) of a valid authorization request with these extra parameters.
    Push(Vec<(String, String)>),
    /// A code from a valid pushed request that carried these `DPoP` fields, sent by reference.
    Pushed(Proofs),
    /// A fresh code of the row's client, asked for with these extra authorization parameters.
    FreshCode(Vec<(String, String)>),
    /// The code of the request before, again.
    SameCode,
    /// The positive control's refresh token.
    Refresh,
}

/// The `DPoP` header fields of a request.
pub(crate) enum Proofs {
    None,
    Fields(Vec<ProofField>),
    /// The exact proof the request before sent last (a replay).
    Previous,
}

/// What the token endpoint must do with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// A token: the control of the requests after it (an Error otherwise). Not sent once a
    /// request that was due a refusal got a token (the grant may be spent; the row fails).
    Control,
    /// A token, graded at this level.
    Token(Level),
    /// Refused with 400 and no token (graded at the row's level), the error one of these
    /// (graded at the level given).
    Refused(&'static [&'static str], Level),
    /// Refused with any 4xx and no token (the error code is unspecified, OQ-25; recorded).
    NoToken(&'static [&'static str]),
    /// RFC 9449 §8: 400 `use_dpop_nonce` with exactly one `DPoP-Nonce` of NQCHARs.
    NonceChallenge,
    /// If a token comes back, it claims no binding: `token_type` Bearer and no `cnf` (INFO).
    UnboundIfIssued,
}

/// One token request of a row.
pub(crate) struct DpopProbe {
    /// The request in a few words ("a redemption whose proof has typ JWT").
    pub what: String,
    pub grant: Grant,
    pub proofs: Proofs,
    /// Built proofs carry the latest server nonce, and `use_dpop_nonce` is retried once.
    pub with_nonce: bool,
    pub expect: Expect,
}

/// What a row does once the positive control passed.
pub(crate) enum DpopPlan {
    /// Requests sent in order; `Err` says why the row does not apply (Skip).
    Requests(fn(&Fixture) -> Result<Vec<DpopProbe>, String>),
    /// A judgement of the positive control's answer.
    Redemption(fn(&Fixture) -> Judged),
}

/// A row of the DPoP catalogue.
pub(crate) struct DpopRow {
    pub meta: CheckMeta,
    pub client: ClientSetup,
    pub plan: DpopPlan,
}

/// What the engine prepared for a row's requests.
pub(crate) struct Fixture<'a> {
    pub ctx: &'a AsContext,
    pub client: AsClient,
    /// `R`: the resource every code is requested for.
    pub resource: String,
    /// The token endpoint: every proof's `htu`.
    pub endpoint: String,
    /// The RFC 9126 pushed authorization request endpoint, when the metadata names one.
    pub par_endpoint: Option<String>,
    /// `K_c`: the key of every valid proof.
    pub key: &'static SigningKey,
    /// `K_c2`: a key of the same algorithm no grant is bound to.
    pub other_key: &'static SigningKey,
    /// The nonce the server supplied last, if any.
    pub nonce: Option<String>,
    /// Whether the server answered the positive control with `use_dpop_nonce`.
    pub nonce_demanded: bool,
    /// The positive control's answer.
    pub redeemed: Redeemed,
}

impl Fixture<'_> {
    /// A valid proof for the token endpoint, unsigned yet.
    fn proof(&self) -> ProofBuilder {
        ProofBuilder::new("POST", &self.endpoint)
    }

    /// One field: `builder` signed by `K_c` when sent.
    fn field(&self, builder: ProofBuilder) -> Proofs {
        Proofs::Fields(vec![ProofField::built(builder, self.key)])
    }

    fn valid(&self) -> Proofs {
        self.field(self.proof())
    }
}

fn fresh() -> Grant {
    Grant::FreshCode(Vec::new())
}

fn request(what: impl Into<String>, grant: Grant, proofs: Proofs, expect: Expect) -> DpopProbe {
    DpopProbe {
        what: what.into(),
        grant,
        proofs,
        with_nonce: true,
        expect,
    }
}

// ---- the engine --------------------------------------------------------------------------

/// Where a request goes.
#[derive(Debug, Clone, Copy)]
enum Endpoint<'u> {
    Token,
    /// The pushed authorization request endpoint at this URL.
    Par(&'u str),
}

impl Endpoint<'_> {
    fn name(self) -> &'static str {
        match self {
            Endpoint::Token => "the token endpoint",
            Endpoint::Par(_) => "the pushed authorization request endpoint",
        }
    }
}

/// Sends token requests with `DPoP` fields, keeping the server's latest nonce and the last
/// proof sent.
struct Sender<'a> {
    ctx: &'a AsContext,
    nonce: Option<String>,
    nonce_demanded: bool,
    last_proof: Option<String>,
}

impl Sender<'_> {
    async fn send(
        &mut self,
        endpoint: Endpoint<'_>,
        form: &[(String, String)],
        proofs: &Proofs,
        with_nonce: bool,
        evidence: &mut Vec<Exchange>,
    ) -> Exchange {
        let mut retried = false;
        loop {
            let nonce = if with_nonce { self.nonce.clone() } else { None };
            let fields: Vec<String> = match proofs {
                Proofs::None => Vec::new(),
                Proofs::Previous => self.last_proof.iter().cloned().collect(),
                Proofs::Fields(fields) => {
                    fields.iter().map(|f| f.render(nonce.as_deref())).collect()
                }
            };
            let mut request = match endpoint {
                Endpoint::Token => token_request(self.ctx, &plain(String::new(), form.to_vec())),
                Endpoint::Par(url) => {
                    let mut request = ProbeRequest::new("POST", url)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .header("accept", "application/json");
                    let body = url::form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(form)
                        .finish();
                    request.body = Some(body.into_bytes());
                    request
                }
            };
            for field in &fields {
                request = request.header("dpop", field);
            }
            let exchange = self.ctx.driver.send(request).await;
            evidence.push(exchange.clone());
            if let Some(last) = fields.last() {
                self.last_proof = Some(last.clone());
            }
            let Ok(resp) = &exchange.response else {
                return exchange;
            };
            // RFC 9449 §8: a nonce may come with any answer; later proofs carry the newest.
            if let Some(n) = resp.header("dpop-nonce") {
                self.nonce = Some(n.to_owned());
            }
            let challenged = Answer::of(resp).error() == Some("use_dpop_nonce");
            self.nonce_demanded |= challenged;
            let built = matches!(proofs, Proofs::Fields(_));
            if challenged && with_nonce && built && !retried {
                retried = true;
                continue;
            }
            return exchange;
        }
    }
}

/// A token request of the token rows' kind (form only; the `DPoP` fields are added here).
fn plain(what: String, form: Vec<(String, String)>) -> TokenProbe {
    super::token::probe(what, form, Due::Issued)
}

/// The metadata's DPoP algorithms, or why the row does not apply.
fn dpop_algorithms(ctx: &AsContext) -> Result<Vec<String>, Outcome> {
    let Some((_, document)) = ctx.documents.primary() else {
        return Err(Outcome::error(
            format!(
                "no metadata document of {} could be read (see as.metadata.available)",
                ctx.issuer
            ),
            ctx.documents.exchanges(),
        ));
    };
    let algs: Vec<String> = document
        .strings("dpop_signing_alg_values_supported")
        .into_iter()
        .map(str::to_owned)
        .collect();
    if algs.is_empty() {
        return Err(Outcome::new(
            Verdict::Skip,
            "the metadata lists no dpop_signing_alg_values_supported: the authorization server \
             does not offer DPoP, which is optional for an MCP authorization server",
        ));
    }
    Ok(algs)
}

/// `K_c` and `K_c2` for the first algorithm the server lists that the tool signs with.
fn keys_for(algs: &[String]) -> Result<(&'static SigningKey, &'static SigningKey), Outcome> {
    static OTHER: LazyRing = LazyRing::new("dpop-client-2");
    let client = DpopClient::new();
    let other = &OTHER;
    DPOP_ALGS
        .iter()
        .find(|alg| algs.iter().any(|a| a == alg.name()))
        .and_then(|&alg| Some((client.key_for(alg)?, other.get(alg)?)))
        .ok_or_else(|| {
            Outcome::new(
                Verdict::Skip,
                format!(
                    "dpop_signing_alg_values_supported is {algs:?}: none of the algorithms the \
                     tool signs proofs with ({})",
                    DPOP_ALGS.map(Algorithm::name).join(", ")
                ),
            )
        })
}

/// Registers a public client with `dpop_bound_access_tokens: true` and the run's client's
/// redirect URI (RFC 7591; RFC 9449 §5.2).
async fn register_bound_client(
    ctx: &AsContext,
    run_client: &AsClient,
    evidence: &mut Vec<Exchange>,
) -> Result<AsClient, Outcome> {
    let mut metadata =
        crate::engine::registration::native_client_metadata(&[&run_client.redirect_uri]);
    metadata["client_name"] = json!("mcp-authspec DPoP-bound client");
    metadata["dpop_bound_access_tokens"] = json!(true);
    super::register_row_client(
        ctx,
        &metadata,
        "a public client with dpop_bound_access_tokens true",
        Verdict::Skip,
        evidence,
    )
    .await
}

/// Where a request goes and its form, or the outcome when no code could be had.
async fn grant_form<'f>(
    fixture: &'f Fixture<'_>,
    sender: &mut Sender<'_>,
    grant: &Grant,
    code: &mut Option<IssuedCode>,
    evidence: &mut Vec<Exchange>,
) -> Result<(Endpoint<'f>, Vec<(String, String)>), Outcome> {
    let prepared = |code: Option<IssuedCode>| Prepared {
        ctx: fixture.ctx,
        client: Some(&fixture.client),
        resource: fixture.resource.clone(),
        code,
        redeemed: None,
        other_client: None,
    };
    match grant {
        Grant::FreshCode(extra) => {
            let issued = code_with(
                fixture.ctx,
                &fixture.client,
                &fixture.resource,
                extra,
                evidence,
            )
            .await?;
            *code = Some(issued);
            Ok((Endpoint::Token, prepared(code.clone()).redemption()))
        }
        Grant::SameCode => Ok((Endpoint::Token, prepared(code.clone()).redemption())),
        Grant::Refresh => {
            let rt = fixture.redeemed.str("refresh_token").unwrap_or_default();
            Ok((Endpoint::Token, prepared(None).refresh(rt, &[])))
        }
        Grant::Push(extra) => {
            let par = fixture.par_endpoint.as_deref().unwrap_or_default();
            let pushable = fixture
                .ctx
                .request_to_push(&fixture.client, &fixture.resource, extra);
            Ok((Endpoint::Par(par), pushable.params))
        }
        Grant::Pushed(proofs) => {
            let issued = pushed_code(fixture, sender, proofs, evidence).await?;
            *code = Some(issued);
            Ok((Endpoint::Token, prepared(code.clone()).redemption()))
        }
    }
}

/// A code from a valid pushed authorization request carrying `proofs`, sent by reference.
async fn pushed_code(
    fixture: &Fixture<'_>,
    sender: &mut Sender<'_>,
    proofs: &Proofs,
    evidence: &mut Vec<Exchange>,
) -> Result<IssuedCode, Outcome> {
    let (ctx, client) = (fixture.ctx, &fixture.client);
    let par = fixture.par_endpoint.as_deref().unwrap_or_default();
    let pushable = ctx.request_to_push(client, &fixture.resource, &[]);
    let exchange = sender
        .send(Endpoint::Par(par), &pushable.params, proofs, true, evidence)
        .await;
    let request_uri = exchange.response.as_ref().ok().and_then(|r| {
        let body = Answer::of(r).body?;
        let uri = body.get("request_uri")?.as_str()?.to_owned();
        (200..300).contains(&r.status).then_some(uri)
    });
    let Some(request_uri) = request_uri else {
        let answer = exchange
            .response
            .as_ref()
            .map_or_else(|e| format!("no answer ({e})"), |r| Answer::of(r).describe());
        return Err(Outcome::error(
            format!(
                "positive control: the pushed authorization request endpoint answered a valid \
                 pushed request of client {} with a valid DPoP proof with {answer}, no \
                 request_uri, so no code could be had",
                client.client_id
            ),
            evidence.clone(),
        ));
    };
    match ctx.code_by_reference(client, &pushable, &request_uri).await {
        Ok(issued) => {
            evidence.push(issued.exchange.clone());
            Ok(issued)
        }
        Err((answer, exchange)) => Err(no_code(ctx, client, &fixture.resource, answer, exchange)),
    }
}

/// The grade of one answer (nothing for a control, which the engine checks itself).
fn judge(level: Level, probe: &DpopProbe, endpoint: Endpoint, answer: &Answer) -> Vec<Assertion> {
    let did = format!(
        "{} answered {} with {}",
        endpoint.name(),
        probe.what,
        answer.describe()
    );
    let issued = answer.token_issued();
    match probe.expect {
        Expect::Control => Vec::new(),
        Expect::Token(at) => vec![rule(
            at,
            format!("{} gets a token", probe.what),
            issued,
            &did,
        )],
        Expect::Refused(errors, error_level) => {
            refusal(level, &probe.what, errors, error_level, answer, &did)
        }
        Expect::NoToken(errors) => {
            let mut rules = vec![rule(
                level,
                format!("{} is refused (a 4xx answer), no token issued", probe.what),
                !issued && (400..500).contains(&answer.resp.status),
                &did,
            )];
            if !issued {
                rules.push(rule(
                    Level::Info,
                    format!("the error for {} is {}", probe.what, errors.join(" or ")),
                    errors.contains(&answer.error().unwrap_or_default()),
                    &did,
                ));
            }
            rules
        }
        Expect::NonceChallenge => {
            let nonces = answer.resp.header_values("dpop-nonce");
            let headers = format!("{did} and DPoP-Nonce fields {nonces:?}");
            vec![
                rule(
                    level,
                    format!("{} gets HTTP 400 with error=use_dpop_nonce", probe.what),
                    answer.resp.status == 400 && answer.error() == Some("use_dpop_nonce"),
                    &did,
                ),
                rule(
                    level,
                    format!(
                        "the answer to {} has exactly one DPoP-Nonce field of NQCHARs",
                        probe.what
                    ),
                    nonces.len() == 1 && nonces.iter().all(|n| is_valid_dpop_nonce(n)),
                    &headers,
                ),
            ]
        }
        Expect::UnboundIfIssued => {
            if !issued {
                return Vec::new();
            }
            let token_type = answer
                .member("token_type")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let cnf = answer
                .member("access_token")
                .and_then(Value::as_str)
                .and_then(access_token_claims)
                .and_then(|c| c.get("cnf").cloned());
            vec![rule(
                Level::Info,
                format!(
                    "a token issued to {} claims no binding (token_type Bearer, no cnf)",
                    probe.what
                ),
                token_type.eq_ignore_ascii_case("bearer") && cnf.is_none(),
                &format!(
                    "{did}, token_type {token_type:?} and cnf {}",
                    cnf.map_or_else(|| "absent".to_owned(), |c| c.to_string())
                ),
            )]
        }
    }
}

/// Runs a row: applicability, client, positive control, then its requests or judgement.
pub(crate) async fn run_dpop_row(ctx: &AsContext, row: &DpopRow) -> Outcome {
    let Some(endpoint) = ctx.token_endpoint().map(str::to_owned) else {
        return Outcome::error(
            "the metadata names no token_endpoint (see as.metadata.required)",
            ctx.documents.exchanges(),
        );
    };
    let (key, other_key) = match dpop_algorithms(ctx).and_then(|algs| keys_for(&algs)) {
        Ok(keys) => keys,
        Err(outcome) => return outcome,
    };
    let Some(run_client) = ctx.client.as_ref() else {
        return Outcome::undeclared_need();
    };
    if ctx.authorization_endpoint().is_none() {
        return Outcome::error(
            "the metadata names no authorization_endpoint (see as.metadata.required)",
            ctx.documents.exchanges(),
        );
    }
    let mut evidence = Vec::new();
    let client = match row.client {
        ClientSetup::Run => run_client.clone(),
        ClientSetup::RegisteredBound => {
            match register_bound_client(ctx, run_client, &mut evidence).await {
                Ok(c) => c,
                Err(outcome) => return outcome,
            }
        }
    };
    let resource = ctx
        .resource
        .clone()
        .unwrap_or_else(|| DEFAULT_RESOURCE.to_owned());
    let mut sender = Sender {
        ctx,
        nonce: None,
        nonce_demanded: false,
        last_proof: None,
    };
    // The positive control: a fresh code redeemed with a valid proof by K_c.
    let code = match code_with(ctx, &client, &resource, &[], &mut evidence).await {
        Ok(code) => code,
        Err(outcome) => return outcome,
    };
    let form = Prepared {
        ctx,
        client: Some(&client),
        resource: resource.clone(),
        code: Some(code),
        redeemed: None,
        other_client: None,
    }
    .redemption();
    let control = ProofField::built(ProofBuilder::new("POST", &endpoint), key);
    let exchange = sender
        .send(
            Endpoint::Token,
            &form,
            &Proofs::Fields(vec![control]),
            true,
            &mut evidence,
        )
        .await;
    let body = match redeemed(&exchange) {
        Ok(body) => body,
        Err(why) => {
            return Outcome::error(
                format!(
                    "positive control: the token endpoint answered a valid redemption of a \
                     fresh code of client {} with a valid DPoP proof ({} key) with {why}, so \
                     nothing can be judged",
                    client.client_id,
                    key.alg().name()
                ),
                evidence,
            );
        }
    };
    let fixture = Fixture {
        ctx,
        client,
        resource,
        endpoint,
        par_endpoint: ctx
            .pushed_authorization_request_endpoint()
            .map(str::to_owned),
        key,
        other_key,
        nonce: sender.nonce.clone(),
        nonce_demanded: sender.nonce_demanded,
        redeemed: Redeemed { exchange, body },
    };
    let level = row.meta.level;
    let probes = match row.plan {
        DpopPlan::Redemption(judgement) => {
            return match judgement(&fixture) {
                Judged::Graded {
                    assertions, pass, ..
                } => finish(level, assertions, evidence, pass),
                Judged::NotApplicable(why) => Outcome::new(Verdict::Skip, why),
                Judged::Unreadable(why, evidence) => Outcome::error(why, evidence),
            };
        }
        DpopPlan::Requests(build) => match build(&fixture) {
            Ok(probes) => probes,
            Err(why) => return Outcome::new(Verdict::Skip, why),
        },
    };
    let mut assertions = Vec::new();
    let mut seen = Vec::new();
    let mut refusal_broken = false;
    let mut code = None;
    for probe in &probes {
        if probe.expect == Expect::Control && refusal_broken {
            continue;
        }
        let granted = grant_form(
            &fixture,
            &mut sender,
            &probe.grant,
            &mut code,
            &mut evidence,
        )
        .await;
        let (endpoint, form) = match granted {
            Ok(granted) => granted,
            Err(outcome) => return outcome,
        };
        let exchange = sender
            .send(
                endpoint,
                &form,
                &probe.proofs,
                probe.with_nonce,
                &mut evidence,
            )
            .await;
        let resp = match &exchange.response {
            Ok(r) => r,
            Err(e) => {
                return Outcome::error(
                    format!("{} did not answer {} ({e})", endpoint.name(), probe.what),
                    evidence,
                );
            }
        };
        let answer = Answer::of(resp);
        if probe.expect == Expect::Control && !answer.token_issued() {
            return Outcome::error(
                format!(
                    "positive control: {} answered {} with {}, so the requests around it \
                     cannot be judged",
                    endpoint.name(),
                    probe.what,
                    answer.describe()
                ),
                evidence,
            );
        }
        let refused_due = matches!(
            probe.expect,
            Expect::Refused(..) | Expect::NoToken(_) | Expect::NonceChallenge
        );
        refusal_broken |= refused_due && answer.token_issued();
        assertions.extend(judge(level, probe, endpoint, &answer));
        seen.push(format!("{}: {}", probe.what, answer.describe()));
    }
    finish(level, assertions, evidence, seen.join("; "))
}

// ---- the rows' requests --------------------------------------------------------------------

fn invalid_proof(f: &Fixture) -> Result<Vec<DpopProbe>, String> {
    let refused = Expect::Refused(PROOF_REFUSED, Level::Must);
    let hmac = SigningKey::hmac(HMAC_SECRET);
    let valid_text = ProofField::built(f.proof(), f.key).render(f.nonce.as_deref());
    let two_segments = valid_text
        .rsplit_once('.')
        .map_or_else(|| valid_text.clone(), |(head, _)| head.to_owned());
    let defects: Vec<(&str, Proofs)> = vec![
        (
            "a proof whose signature is corrupted",
            f.field(f.proof().corrupt_signature()),
        ),
        ("a proof with typ JWT", f.field(f.proof().typ("JWT"))),
        (
            "a proof with alg none and an empty signature",
            f.field(f.proof().alg("none").signature(SignatureMode::Empty)),
        ),
        (
            "a proof with alg HS256, MACed with a secret",
            f.field(
                f.proof()
                    .sign_as(Algorithm::Hs256)
                    .signature(SignatureMode::ByKey(hmac)),
            ),
        ),
        (
            "a proof whose jwk holds the private key",
            f.field(f.proof().private_jwk()),
        ),
        ("a proof with htm GET", f.field(f.proof().htm("GET"))),
        (
            "a proof whose htu is the resource URL, not the token endpoint",
            f.field(f.proof().htu(&f.resource)),
        ),
        ("a proof without jti", f.field(f.proof().no_jti())),
        (
            "two DPoP header fields, each a valid proof",
            Proofs::Fields(vec![
                ProofField::built(f.proof(), f.key),
                ProofField::built(f.proof(), f.key),
            ]),
        ),
        (
            "a proof of two segments (its signature cut off)",
            Proofs::Fields(vec![ProofField::Raw(two_segments)]),
        ),
    ];
    let mut probes: Vec<DpopProbe> = defects
        .into_iter()
        .map(|(what, proofs)| {
            request(
                format!("a code redemption with {what}"),
                fresh(),
                proofs,
                refused,
            )
        })
        .collect();
    // Without a nonce: a server nonce proves freshness in place of iat (OQ-3), so a stale
    // iat is judged only on a proof without one.
    for (when, offset) in [("one hour ago", -3600), ("one hour ahead", 3600)] {
        probes.push(DpopProbe {
            with_nonce: false,
            ..request(
                format!("a code redemption with a proof without nonce whose iat is {when}"),
                fresh(),
                f.field(f.proof().iat_offset(offset)),
                Expect::Refused(STALE_REFUSED, Level::Must),
            )
        });
    }
    Ok(probes)
}

fn iat_skew(f: &Fixture) -> Result<Vec<DpopProbe>, String> {
    Ok([-10, 10]
        .into_iter()
        .map(|skew| {
            let when = if skew < 0 { "behind" } else { "ahead" };
            request(
                format!("a code redemption with a proof whose iat is 10 s {when}"),
                fresh(),
                f.field(f.proof().iat_offset(skew)),
                Expect::Token(Level::Should),
            )
        })
        .collect())
}

fn nonce(f: &Fixture) -> Result<Vec<DpopProbe>, String> {
    if !f.nonce_demanded {
        return Err(
            "the authorization server did not demand a DPoP nonce (no use_dpop_nonce to a \
             proof without one): nonces are optional (RFC 9449 §8)"
                .into(),
        );
    }
    Ok(vec![
        DpopProbe {
            with_nonce: false,
            ..request(
                "a code redemption with a proof without nonce, after the server issued one",
                fresh(),
                f.valid(),
                Expect::NonceChallenge,
            )
        },
        request(
            "the same redemption retried with the nonce supplied",
            Grant::SameCode,
            f.valid(),
            Expect::Token(Level::Must),
        ),
        DpopProbe {
            with_nonce: false,
            ..request(
                format!("a code redemption with a proof whose nonce is {WRONG_NONCE:?}"),
                fresh(),
                f.field(f.proof().nonce(WRONG_NONCE)),
                Expect::Refused(&["use_dpop_nonce", "invalid_dpop_proof"], Level::Info),
            )
        },
    ])
}

fn replay(f: &Fixture) -> Result<Vec<DpopProbe>, String> {
    Ok(vec![
        request(
            "a code redemption with a valid proof",
            fresh(),
            f.valid(),
            Expect::Control,
        ),
        request(
            "a redemption of another fresh code with the identical proof again",
            fresh(),
            Proofs::Previous,
            Expect::Refused(PROOF_REFUSED, Level::Info),
        ),
    ])
}

fn refresh_bound(f: &Fixture) -> Result<Vec<DpopProbe>, String> {
    if f.redeemed.str("refresh_token").is_none() {
        return Err(
            "the authorization server issued no refresh token to the code redemption with a \
             proof: there is no refresh token to bind"
                .into(),
        );
    }
    let other = Proofs::Fields(vec![ProofField::built(f.proof(), f.other_key)]);
    Ok(vec![
        request(
            "a refresh of the public client's refresh token with a proof by another key",
            Grant::Refresh,
            other,
            Expect::Refused(KEY_REFUSED, Level::Info),
        ),
        request(
            "a refresh of the public client's refresh token without a DPoP proof",
            Grant::Refresh,
            Proofs::None,
            Expect::Refused(KEY_REFUSED, Level::Info),
        ),
        request(
            "a refresh with a proof by the key the refresh token was issued to",
            Grant::Refresh,
            f.valid(),
            Expect::Control,
        ),
    ])
}

fn bound_client(f: &Fixture) -> Result<Vec<DpopProbe>, String> {
    Ok(vec![request(
        format!(
            "a code redemption without a DPoP proof by client {}, registered with \
             dpop_bound_access_tokens true",
            f.client.client_id
        ),
        fresh(),
        Proofs::None,
        // RFC 9449 names no error for this (OQ-25); the codes a refusal uses in practice.
        Expect::NoToken(&[
            "invalid_dpop_proof",
            "invalid_request",
            "invalid_client",
            "invalid_grant",
        ]),
    )])
}

fn jkt_binding(f: &Fixture) -> Result<Vec<DpopProbe>, String> {
    let bound = || Grant::FreshCode(pairs(&[("dpop_jkt", &jkt_of(f.key))]));
    Ok(vec![
        request(
            "a redemption, with a proof by that key, of a code requested with dpop_jkt",
            bound(),
            f.valid(),
            Expect::Control,
        ),
        request(
            "a redemption, with a proof by another key, of a code requested with dpop_jkt",
            bound(),
            Proofs::Fields(vec![ProofField::built(f.proof(), f.other_key)]),
            Expect::Refused(KEY_REFUSED, Level::Info),
        ),
    ])
}

fn par_binding(f: &Fixture) -> Result<Vec<DpopProbe>, String> {
    let Some(par) = f.par_endpoint.as_deref() else {
        return Err(
            "the metadata names no pushed_authorization_request_endpoint: the server does not \
             offer PAR (RFC 9126), to which RFC 9449 §10.1 applies"
                .into(),
        );
    };
    let pushed_by = |key: &'static SigningKey| {
        Proofs::Fields(vec![ProofField::built(ProofBuilder::new("POST", par), key)])
    };
    Ok(vec![
        request(
            "a pushed authorization request whose dpop_jkt is another key's thumbprint than \
             its proof's",
            Grant::Push(pairs(&[("dpop_jkt", &jkt_of(f.other_key))])),
            pushed_by(f.key),
            Expect::Refused(&["invalid_dpop_proof", "invalid_request"], Level::Info),
        ),
        request(
            "a redemption, with a proof by the key of the push's proof, of a code pushed with \
             a proof",
            Grant::Pushed(pushed_by(f.key)),
            f.valid(),
            Expect::Control,
        ),
        request(
            "a redemption, with a proof by another key, of a code pushed with a proof",
            Grant::Pushed(pushed_by(f.key)),
            Proofs::Fields(vec![ProofField::built(f.proof(), f.other_key)]),
            Expect::Refused(KEY_REFUSED, Level::Info),
        ),
    ])
}

fn holder_of_key(_: &Fixture) -> Result<Vec<DpopProbe>, String> {
    Ok(vec![request(
        "a code redemption without a DPoP header",
        fresh(),
        Proofs::None,
        Expect::UnboundIfIssued,
    )])
}

fn ath_at_token(f: &Fixture) -> Result<Vec<DpopProbe>, String> {
    Ok(vec![request(
        "a code redemption with a proof carrying an ath claim (the hash of no token)",
        fresh(),
        f.field(f.proof().ath_for(NO_SUCH_ACCESS_TOKEN)),
        Expect::Token(Level::Info),
    )])
}

// ---- the judgements of the positive control ---------------------------------------------

fn token_type(f: &Fixture) -> Judged {
    let token_type = f.redeemed.str("token_type").unwrap_or_default().to_owned();
    let cnf = jwt_claims(&f.redeemed).and_then(|c| c.get("cnf").cloned());
    let dpop = token_type.eq_ignore_ascii_case("dpop");
    // Bearer is allowed when the server chose not to bind (RFC 9449 §5: MAY), which a JWT
    // with a cnf member contradicts.
    let unbound_bearer = token_type.eq_ignore_ascii_case("bearer") && cnf.is_none();
    let did = format!(
        "the token endpoint answered a code redemption with a valid DPoP proof with token_type \
         {token_type:?} and an access token whose cnf is {}",
        cnf.as_ref()
            .map_or_else(|| "absent or unreadable".to_owned(), Value::to_string)
    );
    graded(
        vec![rule(
            Level::Must,
            "a token bound through DPoP is reported as token_type DPoP (Bearer only when the \
             server did not bind it)",
            dpop || unbound_bearer,
            &did,
        )],
        if dpop {
            "a code redemption with a valid proof got token_type DPoP".to_owned()
        } else {
            "a code redemption with a valid proof got an unbound Bearer token: the server chose \
             not to bind it (RFC 9449 §5 allows this)"
                .to_owned()
        },
    )
}

fn cnf(f: &Fixture) -> Judged {
    let Some(claims) = jwt_claims(&f.redeemed) else {
        return Judged::NotApplicable(
            "the access token is opaque: its cnf can only be read by introspection, which needs \
             credentials of a resource server the run does not have"
                .into(),
        );
    };
    let token_type = f.redeemed.str("token_type").unwrap_or_default();
    let cnf = claims.get("cnf").cloned();
    if token_type.eq_ignore_ascii_case("bearer") && cnf.is_none() {
        return Judged::NotApplicable(
            "the server did not bind the token (token_type Bearer, no cnf): there is no binding \
             to compare (as.dpop.token-type records this)"
                .into(),
        );
    }
    let want = jkt_of(f.key);
    let got = cnf
        .as_ref()
        .and_then(|c| c.get("jkt"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    graded(
        vec![rule(
            Level::Must,
            format!("the bound access token's cnf.jkt is the proof key's thumbprint {want}"),
            got.as_deref() == Some(want.as_str()),
            &format!(
                "the token endpoint answered a code redemption with a valid DPoP proof with \
                 token_type {token_type:?} and an access token whose cnf is {}",
                cnf.map_or_else(|| "absent".to_owned(), |c| c.to_string())
            ),
        )],
        format!("the access token's cnf.jkt is the proof key's thumbprint {want}"),
    )
}

// ---- the catalogue ---------------------------------------------------------------------------

const CLIENT: &[Need] = &[Need::AsClient];

pub(super) static ROWS: &[DpopRow] = &[
    DpopRow {
        meta: as_meta(
            "as.dpop.token-type",
            "as-dpop-token-type",
            "Reports a DPoP-bound token as token_type DPoP",
            "A code redeemed with a valid DPoP proof (htm POST, htu the token endpoint, no ath) gets token_type DPoP (case-insensitive); Bearer passes only for a token the server chose not to bind (no cnf).",
            Level::Must,
            &[
                rfc9449("§5", "a DPoP-bound access token has token_type DPoP"),
                sep1932(
                    "Token binding",
                    "the authorization server binds the token to the proof key",
                ),
            ],
            CLIENT,
            &["as-dpop-token-type-bearer"],
        ),
        client: ClientSetup::Run,
        plan: DpopPlan::Redemption(token_type),
    },
    DpopRow {
        meta: as_meta(
            "as.dpop.cnf",
            "as-dpop-cnf",
            "Binds the access token to the proof key (cnf.jkt)",
            "The JWT access token of a code redeemed with a valid proof carries cnf.jkt equal to the RFC 7638 thumbprint of the proof key. An opaque token is Skip (introspection needs a resource server's credentials), as is a token the server did not bind (Bearer, no cnf).",
            Level::Must,
            &[rfc9449(
                "§6, §6.1",
                "cnf.jkt is the SHA-256 thumbprint of the proof's jwk",
            )],
            CLIENT,
            &["as-dpop-cnf-missing"],
        ),
        client: ClientSetup::Run,
        plan: DpopPlan::Redemption(cnf),
    },
    DpopRow {
        // A fresh code per defect: thirteen logins behind a login page, beyond the default
        // 30 s on a loaded machine.
        meta: CheckMeta {
            deadline: Some(std::time::Duration::from_secs(120)),
            ..as_meta(
                "as.dpop.invalid-proof",
                "as-dpop-invalid-proof",
                "Refuses code redemptions with invalid DPoP proofs",
                "Each defect, on a redemption of its own fresh code, is refused with HTTP 400 and no token, error invalid_dpop_proof (invalid_request or invalid_grant also accepted, as OIDF does): a corrupted signature; typ JWT; alg none; alg HS256; a private jwk; htm GET; htu the resource URL; no jti; two DPoP fields; a proof of two segments; and, on proofs without a nonce (a server nonce stands in for iat, OQ-3), iat an hour behind or ahead, which may also get use_dpop_nonce.",
                Level::Must,
                &[rfc9449(
                    "§4.3, §5",
                    "a proof failing any check is refused with invalid_dpop_proof",
                )],
                CLIENT,
                &["as-dpop-signature-unchecked"],
            )
        },
        client: ClientSetup::Run,
        plan: DpopPlan::Requests(invalid_proof),
    },
    DpopRow {
        meta: as_meta(
            "as.dpop.iat-skew",
            "as-dpop-iat-skew",
            "Accepts proofs with a few seconds of clock skew",
            "Code redemptions with a proof whose iat is 10 s behind, and one whose iat is 10 s ahead, each get a token.",
            Level::Should,
            &[rfc9449(
                "§11.1",
                "servers allow for clock skew within their acceptance window",
            )],
            CLIENT,
            &["as-dpop-iat-strict"],
        ),
        client: ClientSetup::Run,
        plan: DpopPlan::Requests(iat_skew),
    },
    DpopRow {
        meta: as_meta(
            "as.dpop.nonce",
            "as-dpop-nonce",
            "Demands and checks DPoP nonces when it uses them",
            "When the server answered the positive control's proof with use_dpop_nonce: a proof without nonce (after one was issued) gets HTTP 400 use_dpop_nonce with exactly one DPoP-Nonce of NQCHARs; the same redemption retried with that nonce gets a token; a proof with a nonce never issued is refused (the error is recorded). Skip when the server demands no nonce.",
            Level::Must,
            &[rfc9449(
                "§8, §8.1, §11.3",
                "a demanded nonce is required and checked; DPoP-Nonce is 1*NQCHAR",
            )],
            CLIENT,
            &["as-dpop-nonce-value-unchecked"],
        ),
        client: ClientSetup::Run,
        plan: DpopPlan::Requests(nonce),
    },
    DpopRow {
        meta: as_meta(
            "as.dpop.replay",
            "as-dpop-replay",
            "Refuses a replayed token-endpoint proof",
            "A proof accepted with one code is sent again, byte for byte, to redeem another fresh code: refused with HTTP 400 and no token (the error is recorded: invalid_dpop_proof, or invalid_request or invalid_grant as for any invalid proof).",
            Level::Should,
            &[rfc9449(
                "§11.1",
                "servers can store jti values to detect replayed proofs",
            )],
            CLIENT,
            &["as-dpop-replay-accepted"],
        ),
        client: ClientSetup::Run,
        plan: DpopPlan::Requests(replay),
    },
    DpopRow {
        meta: as_meta(
            "as.dpop.refresh-bound",
            "as-dpop-refresh-bound",
            "Binds a public client's refresh token to its DPoP key",
            "The refresh token of a code redeemed with a proof by K_c is refused (HTTP 400, no token) with a proof by another key and with no proof; a refresh with a proof by K_c then gets a token (the control). The error is recorded (invalid_grant or invalid_dpop_proof). Skip when no refresh token is issued.",
            Level::Must,
            &[rfc9449(
                "§5",
                "refresh tokens issued to public clients are bound to the DPoP key",
            )],
            CLIENT,
            &["as-dpop-refresh-unbound"],
        ),
        client: ClientSetup::Run,
        plan: DpopPlan::Requests(refresh_bound),
    },
    DpopRow {
        meta: as_meta(
            "as.dpop.bound-client",
            "as-dpop-bound-client",
            "Requires a proof from a client registered with dpop_bound_access_tokens",
            "A public client registered at the registration endpoint with dpop_bound_access_tokens true redeems a code with a proof (the control), then another code without one: refused with a 4xx and no token (the error code is unspecified, OQ-25: recorded). Skip without a registration endpoint.",
            Level::Must,
            &[
                rfc9449(
                    "§5.2",
                    "a client registered with dpop_bound_access_tokens must always use DPoP",
                ),
                sep1932("Client Registration Metadata", "dpop_bound_access_tokens"),
            ],
            CLIENT,
            &["as-dpop-bound-client-unenforced"],
        ),
        client: ClientSetup::RegisteredBound,
        plan: DpopPlan::Requests(bound_client),
    },
    DpopRow {
        meta: as_meta(
            "as.dpop.jkt-binding",
            "as-dpop-jkt-binding",
            "Binds a code to the key named by dpop_jkt",
            "A code requested with dpop_jkt = thumbprint(K_c) is redeemed with a proof by K_c (the control); another such code, redeemed with a proof by K_c2, is refused with HTTP 400 and no token (the error is recorded).",
            Level::Must,
            &[rfc9449(
                "§10",
                "a proof key not matching dpop_jkt is refused",
            )],
            CLIENT,
            &["as-dpop-jkt-ignored"],
        ),
        client: ClientSetup::Run,
        plan: DpopPlan::Requests(jkt_binding),
    },
    DpopRow {
        meta: as_meta(
            "as.dpop.par-binding",
            "as-dpop-par-binding",
            "Binds a pushed authorization request to its DPoP proof key",
            "When the server offers PAR (RFC 9126): a push whose dpop_jkt is not the thumbprint of its proof's key is refused with HTTP 400 (the error is recorded); a code pushed with a proof by K_c is redeemed with a proof by K_c (the control), and another such code, redeemed with a proof by K_c2, is refused with HTTP 400 and no token. Skip without a PAR endpoint.",
            Level::Must,
            &[rfc9449(
                "§10.1",
                "a PAR proof binds the code; dpop_jkt and the PAR proof key must agree",
            )],
            CLIENT,
            // A pushed proof binds the code as dpop_jkt does: ignoring the binding breaks both.
            &["as-dpop-par-unbound", "as-dpop-jkt-ignored"],
        ),
        client: ClientSetup::Run,
        plan: DpopPlan::Requests(par_binding),
    },
    DpopRow {
        meta: as_meta(
            "as.dpop.holder-of-key-required",
            "as-dpop-holder-of-key-required",
            "Whether a code redemption without a proof gets a token (recorded)",
            "A code redeemed without a DPoP header: a Bearer token (MCP does not require sender constraint) or a refusal (FAPI 2.0 holder-of-key) is recorded; a token that claims a binding it cannot have (token_type DPoP or a cnf) is reported as Info.",
            Level::Info,
            &[rfc9449("§5", "without a proof the token is not DPoP-bound")],
            CLIENT,
            &["as-dpop-token-type-unconditional"],
        ),
        client: ClientSetup::Run,
        plan: DpopPlan::Requests(holder_of_key),
    },
    DpopRow {
        meta: as_meta(
            "as.dpop.ath-at-token",
            "as-dpop-ath-at-token",
            "Whether a token-endpoint proof carrying ath is accepted (recorded)",
            "A code redeemed with an otherwise valid proof carrying a bogus ath: RFC 9449 requires ath only with access tokens and allows other claims, so a token passes; a refusal (as the OIDF reference authorization server does) is recorded as Info (OQ-26).",
            Level::Info,
            &[rfc9449(
                "§4.2",
                "ath is used with access tokens; other claims may be present",
            )],
            CLIENT,
            &["as-dpop-ath-refused"],
        ),
        client: ClientSetup::Run,
        plan: DpopPlan::Requests(ath_at_token),
    },
];
