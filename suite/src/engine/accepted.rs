//! Calibration finds before it judges (design.md): before any negative stimulus, the run finds
//! the signing algorithm, audience, scope and token type that make the valid token `V`
//! accepted, and reports them. Every stimulus that is not about one of these uses what was
//! found, so a target whose validator takes only RS256 (or only EdDSA) runs to the same
//! verdicts as one that takes ES256. A target that accepts nothing gets one Error saying what
//! was tried (`rs.token.bearer-valid`), not one per check.

use std::sync::Arc;

use mock_idp::alg::Algorithm;
use mock_idp::server::{IssuerKind, MockIdp, ResourceProfile};
use mock_idp::token::TokenSpec;

use crate::engine::clock::ServerClock;
use crate::engine::discovery::Discovery;
use crate::engine::probe::{self, Credential};
use crate::expect;
use crate::http::{Driver, Exchange};

/// The algorithms the mock IdP can sign `V` with, in the order they are tried.
pub const CANDIDATE_ALGS: [Algorithm; 5] = [
    Algorithm::Es256,
    Algorithm::Rs256,
    Algorithm::Ps256,
    Algorithm::EdDsa,
    Algorithm::Es384,
];

/// The `typ` values tried for `V`: the RFC 9068 one, then the generic one many ASes emit.
pub const CANDIDATE_TYPS: [&str; 2] = ["at+jwt", "JWT"];

/// What the target accepts as `V`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedToken {
    /// The algorithm `V` and every stimulus not about the algorithm are signed with.
    pub alg: Algorithm,
    /// Every candidate algorithm the target accepted (with the same claims).
    pub algs: Vec<Algorithm>,
    pub audience: String,
    /// Where the accepted audience came from.
    pub audience_source: AudienceSource,
    pub scope: String,
    /// Whether `V` without any scope is refused: the target requires `scope` on every
    /// request (spec OQ-33), which the scope checks then use.
    pub scope_required: bool,
    /// `typ` of `V`.
    pub typ: &'static str,
}

/// Where the audience of `V` came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudienceSource {
    /// The PRM `resource` (or the endpoint, when there is no PRM): what clients request
    /// tokens for (RFC 8707, RFC 9728).
    Resource,
    /// The endpoint URL, after a token for the PRM `resource` was refused.
    EndpointNotResource,
    /// `--audience`.
    Given,
}

impl AcceptedToken {
    /// One line for the run's header.
    pub fn describe(&self) -> String {
        let algs: Vec<&str> = self.algs.iter().map(|a| a.name()).collect();
        format!(
            "valid token: {} (accepted: {}), typ {}, aud {}, scope {:?}{}",
            self.alg,
            algs.join(", "),
            self.typ,
            self.audience,
            self.scope,
            if self.scope_required {
                " (required on every request)"
            } else {
                ""
            }
        )
    }
}

/// One token calibration sent, and what came back in a few words.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub alg: Algorithm,
    pub typ: &'static str,
    pub audience: String,
    pub scope: String,
    pub answer: String,
}

/// Why no valid token was accepted: every combination tried and what came back.
#[derive(Debug, Clone)]
pub struct CalibrationFailure {
    pub tried: Vec<Attempt>,
    /// The exchanges of the first and the last attempt.
    pub evidence: Vec<Exchange>,
}

impl CalibrationFailure {
    /// One plain sentence: what was tried and what came back.
    pub fn describe(&self) -> String {
        let list = |values: &[String]| values.join(", ");
        let answers = distinct(self.tried.iter().map(|t| t.answer.clone()));
        format!(
            "the target accepted no valid token signed by the trusted issuer: {} tokens tried \
             (algorithms {}; typ {}; aud {}; scope {}), answered {}",
            self.tried.len(),
            list(&distinct(
                self.tried.iter().map(|t| t.alg.name().to_owned())
            )),
            list(&distinct(self.tried.iter().map(|t| t.typ.to_owned()))),
            list(&distinct(self.tried.iter().map(|t| t.audience.clone()))),
            list(&distinct(
                self.tried.iter().map(|t| format!("{:?}", t.scope))
            )),
            answers.join(" / ")
        )
    }
}

/// The result of calibration.
#[derive(Debug, Clone)]
pub enum Calibration {
    /// No tokens can be minted in this run (no embedded IdP): nothing to find.
    NotRun,
    Found(AcceptedToken),
    Failed(CalibrationFailure),
    /// The token source's token was accepted: what it is.
    Issued(IssuedAccepted),
    /// The token source gave no token, or the target refused it.
    IssuedRefused(IssuedRefusal),
}

/// A token the target's own authorization server issued, accepted by the target.
#[derive(Debug, Clone)]
pub struct IssuedAccepted {
    /// The token source, in words.
    pub source: String,
    /// `alg` of a JWT access token (none for an opaque one).
    pub alg: Option<String>,
    pub typ: Option<String>,
    /// Whether the token is a JWS compact JWT (derived stimuli need one).
    pub jwt: bool,
    /// Whether a DPoP-bound token (`--dpop`) was accepted with a proof too.
    pub bound_accepted: bool,
}

impl IssuedAccepted {
    pub fn describe(&self) -> String {
        let form = match (&self.alg, self.jwt) {
            (Some(alg), true) => format!(
                "a {alg} JWT (typ {})",
                self.typ.as_deref().unwrap_or("absent")
            ),
            _ => "an opaque token".to_owned(),
        };
        let bound = if self.bound_accepted {
            "; its DPoP-bound token with a proof of the tool's key was accepted too"
        } else {
            ""
        };
        format!("valid token from {}: {form}, accepted{bound}", self.source)
    }
}

/// Why the token source's token cannot serve as `V`.
#[derive(Debug, Clone)]
pub struct IssuedRefusal {
    pub why: String,
    pub evidence: Vec<Exchange>,
}

impl Calibration {
    /// One line for reports.
    pub fn describe(&self) -> String {
        match self {
            Calibration::NotRun => "no calibration: no tokens are minted in this run".into(),
            Calibration::Found(a) => a.describe(),
            Calibration::Failed(f) => f.describe(),
            Calibration::Issued(i) => i.describe(),
            Calibration::IssuedRefused(r) => r.why.clone(),
        }
    }

    /// Why no valid token is available, with the exchanges that show it.
    pub fn failure(&self) -> Option<(String, Vec<Exchange>)> {
        match self {
            Calibration::Failed(f) => Some((f.describe(), f.evidence.clone())),
            Calibration::IssuedRefused(r) => Some((r.why.clone(), r.evidence.clone())),
            _ => None,
        }
    }

    pub fn found(&self) -> Option<&AcceptedToken> {
        match self {
            Calibration::Found(a) => Some(a),
            _ => None,
        }
    }
}

/// Valid-token parameters the user fixed (`--audience`, `--scope`, `--signing-alg`): each
/// fixed value is the only candidate calibration tries.
#[derive(Debug, Clone, Default)]
pub struct TokenDefaults {
    pub audience: Option<String>,
    pub scope: Option<String>,
    pub signing_alg: Option<Algorithm>,
}

/// The valid token `V` (spec §0.3) for these parameters, dated by the target's clock.
pub fn valid_spec(
    idp: &MockIdp,
    clock: &ServerClock,
    audience: &str,
    scope: &str,
    typ: &str,
) -> TokenSpec {
    let spec = idp.valid_token_spec(audience, scope).typ(typ);
    if clock.offset_secs() == 0 {
        return spec;
    }
    let now = idp.now() + clock.offset_secs();
    spec.iat(now).exp(now + idp.config().access_token_lifetime)
}

/// Candidates in the order tried, without repeats.
fn distinct(values: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// Finds the first accepted combination (typ, audience, scope, algorithm, in that nesting,
/// most likely first), then which other algorithms the target accepts with it. Bounded:
/// at most |typ| × |aud| × |scope| × |alg| requests (2 × 2 × 3 × 5) when nothing is accepted.
pub async fn calibrate(
    driver: &Driver,
    endpoint: &str,
    idp: &Arc<MockIdp>,
    clock: &ServerClock,
    discovery: &Discovery,
    overrides: &TokenDefaults,
) -> Calibration {
    let audiences = match &overrides.audience {
        Some(a) => vec![a.clone()],
        None => distinct([discovery.resource().to_owned(), endpoint.to_owned()]),
    };
    let scopes = match &overrides.scope {
        Some(s) => vec![s.clone()],
        None => {
            let all = discovery
                .prm
                .as_ref()
                .map(|p| p.strings("scopes_supported").join(" "))
                .unwrap_or_default();
            distinct([
                discovery.scope_hint().unwrap_or_default(),
                all,
                String::new(),
            ])
        }
    };
    let algs: Vec<Algorithm> = match overrides.signing_alg {
        Some(a) => vec![a],
        None => CANDIDATE_ALGS.to_vec(),
    };
    let attempt = |alg: Algorithm, typ: &'static str, aud: &str, scope: &str| {
        let token =
            valid_spec(idp, clock, aud, scope, typ).mint(idp.key_for(IssuerKind::Trusted, alg));
        async move {
            driver
                .send(probe::rpc(
                    endpoint,
                    &Credential::Bearer(token),
                    None,
                    &probe::initialize_body(),
                ))
                .await
        }
    };
    let mut tried = Vec::new();
    let mut evidence: Vec<Exchange> = Vec::new();
    for typ in CANDIDATE_TYPS {
        for aud in &audiences {
            for scope in &scopes {
                for &alg in &algs {
                    let exchange = attempt(alg, typ, aud, scope).await;
                    if exchange.response.as_ref().is_ok_and(expect::is_accepted) {
                        let mut accepted = vec![alg];
                        for &other in algs.iter().filter(|a| **a != alg) {
                            let e = attempt(other, typ, aud, scope).await;
                            if e.response.as_ref().is_ok_and(expect::is_accepted) {
                                accepted.push(other);
                            }
                        }
                        let audience_source = if overrides.audience.is_some() {
                            AudienceSource::Given
                        } else if *aud == discovery.resource() {
                            AudienceSource::Resource
                        } else {
                            AudienceSource::EndpointNotResource
                        };
                        let scope_required = !scope.is_empty()
                            && !attempt(alg, typ, aud, "")
                                .await
                                .response
                                .as_ref()
                                .is_ok_and(expect::is_accepted);
                        let found = AcceptedToken {
                            alg,
                            algs: accepted,
                            audience: aud.clone(),
                            audience_source,
                            scope: scope.clone(),
                            scope_required,
                            typ,
                        };
                        // Tokens the IdP's endpoints issue for this resource (DPoP-bound ones
                        // from its token endpoint) follow what the target accepts.
                        idp.register_resource(
                            aud,
                            ResourceProfile {
                                scopes: scope
                                    .split(' ')
                                    .filter(|s| !s.is_empty())
                                    .map(str::to_owned)
                                    .collect(),
                                signing_alg: alg,
                            },
                        );
                        return Calibration::Found(found);
                    }
                    tried.push(Attempt {
                        alg,
                        typ,
                        audience: aud.clone(),
                        scope: scope.clone(),
                        answer: answer(&exchange),
                    });
                    if evidence.is_empty() {
                        evidence.push(exchange);
                    } else {
                        evidence.truncate(1);
                        evidence.push(exchange);
                    }
                }
            }
        }
    }
    Calibration::Failed(CalibrationFailure { tried, evidence })
}

/// What came back, in a few words.
fn answer(exchange: &Exchange) -> String {
    match &exchange.response {
        Err(e) => format!("no answer ({e})"),
        Ok(r) => {
            let error = expect::challenges(r)
                .ok()
                .and_then(|cs| cs.iter().find_map(|c| c.param("error").map(str::to_owned)));
            match error {
                Some(e) => format!("HTTP {} {e}", r.status),
                None => format!("HTTP {}", r.status),
            }
        }
    }
}

/// Calibration with a token source (the target's own authorization server): the source's
/// Bearer token must be accepted, and with `--dpop` its DPoP-bound token with a proof of the
/// tool's key. Nothing is searched: the authorization server decides the token's form.
pub async fn calibrate_issued(
    driver: &Driver,
    endpoint: &str,
    issued: &crate::source::IssuedTokens,
    dpop_key: &mock_idp::keys::SigningKey,
) -> Calibration {
    let refused = |why: String, evidence: Vec<Exchange>| {
        Calibration::IssuedRefused(IssuedRefusal { why, evidence })
    };
    let now = mock_idp::unix_now();
    let mut evidence = Vec::new();
    let mut first = None;
    if let Some(bearer) = &issued.bearer {
        let token = match bearer.ensure_fresh(now).await {
            Ok(t) => t,
            Err(e) => return refused(format!("no valid token: {e}"), evidence),
        };
        let exchange = driver
            .send(probe::rpc(
                endpoint,
                &Credential::Bearer(token.token.clone()),
                None,
                &probe::initialize_body(),
            ))
            .await;
        if !exchange.response.as_ref().is_ok_and(expect::is_accepted) {
            let why = format!(
                "the target refused the valid token from {} ({}): check --scope, --resource \
                 and that the target trusts this authorization server",
                bearer.describe(),
                answer(&exchange)
            );
            evidence.push(exchange);
            return refused(why, evidence);
        }
        first = Some(token);
    }
    if let Some(other) = &issued.other_resource {
        // Obtained up front, so the runner can say why when the authorization server refuses.
        other.renew(now).await;
    }
    let mut bound_accepted = false;
    if let Some(bound) = &issued.bound {
        let token = match bound.ensure_fresh(now).await {
            Ok(t) => t,
            Err(e) => return refused(format!("no DPoP-bound token: {e}"), evidence),
        };
        let mut nonce: Option<String> = None;
        for _ in 0..2 {
            let mut proof = mock_idp::dpop::ProofBuilder::new("POST", endpoint)
                .ath_for(&token.token)
                .now(mock_idp::unix_now());
            if let Some(n) = &nonce {
                proof = proof.nonce(n);
            }
            let exchange = driver
                .send(probe::rpc(
                    endpoint,
                    &Credential::Dpop {
                        token: token.token.clone(),
                        proof: proof.sign(dpop_key),
                    },
                    None,
                    &probe::initialize_body(),
                ))
                .await;
            if exchange.response.as_ref().is_ok_and(expect::is_accepted) {
                bound_accepted = true;
                break;
            }
            let offered = exchange
                .response
                .as_ref()
                .ok()
                .and_then(|r| r.header("dpop-nonce").map(str::to_owned));
            match offered {
                Some(n) if nonce.is_none() => nonce = Some(n),
                _ => {
                    let why = format!(
                        "the target refused the DPoP-bound token from {} with a proof of the \
                         tool's key ({})",
                        bound.describe(),
                        answer(&exchange)
                    );
                    evidence.push(exchange);
                    return refused(why, evidence);
                }
            }
        }
        first = first.or(Some(token));
    }
    let Some(token) = first else {
        return refused("no token source was configured".into(), evidence);
    };
    let header = token
        .token
        .split('.')
        .next()
        .and_then(|h| mock_idp::b64::decode_lenient(h).ok())
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    let field = |name: &str| {
        header
            .as_ref()
            .and_then(|h| h.get(name))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    Calibration::Issued(IssuedAccepted {
        source: issued.describe(),
        alg: field("alg"),
        typ: field("typ"),
        jwt: token.claims().is_some(),
        bound_accepted,
    })
}
