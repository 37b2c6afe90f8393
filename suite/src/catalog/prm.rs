//! Spec §1.1: protected resource metadata (RFC 9728): where it is served, that anyone can
//! read it, its members, and that what it names resolves and matches the server's behaviour.

use serde_json::Value;

use crate::catalog::request_auth::observation;
use crate::catalog::{mcp, rfc};
use crate::check::{CheckMeta, Need, Outcome};
use crate::engine::calibrate::{negative_control, positive_control};
use crate::engine::context::Context;
use crate::engine::probe::{self, Credential};
use crate::engine::runner::{Check, CheckFuture};
use crate::expect::{self, Assertion, Grade, Part};
use crate::http::{Exchange, ProbeRequest, RecordedResponse};
use crate::model::{Level, Verdict};
use crate::wire::discovery::{as_metadata_urls, prm_urls, same_identifier};
use crate::wire::metadata::{Document, Finding, is_https_or_loopback, parse_prm};

const RFC9728: &str = "https://www.rfc-editor.org/rfc/rfc9728";
const RFC8414: &str = "https://www.rfc-editor.org/rfc/rfc8414";
const RFC8707: &str = "https://www.rfc-editor.org/rfc/rfc8707";
const OAUTH21: &str = "https://datatracker.ietf.org/doc/draft-ietf-oauth-v2-1/";

pub const WELL_KNOWN: CheckMeta = CheckMeta {
    id: "rs.prm.wellknown",
    row: "rs-prm-wellknown",
    title: "Serves protected resource metadata at a well-known URL",
    summary: "The path-inserted or the root well-known PRM URL answers 200 with a JSON object, without a token.",
    level: Level::Must,
    refs: &[rfc(
        "RFC 9728",
        "§3, §3.1",
        "PRM is published at the well-known URI built from the resource",
        RFC9728,
    )],
    needs: &[Need::Anonymous],
    tags: &[],
    broken_by: &["no-resource-metadata"],
};

pub const RESOURCE_IDENTICAL: CheckMeta = CheckMeta {
    id: "rs.prm.resource-identical",
    row: "rs-prm-resource-identical",
    title: "PRM resource equals the resource it was fetched for",
    summary: "RFC 9728 §3.3: the resource member is identical to the identifier the client used, code point for code point.",
    level: Level::Must,
    refs: &[rfc(
        "RFC 9728",
        "§3.3",
        "resource must be identical to the URL the metadata was requested for",
        RFC9728,
    )],
    needs: &[Need::Anonymous],
    tags: &[],
    broken_by: &["prm-resource-mismatch"],
};

pub const UNAUTHENTICATED: CheckMeta = CheckMeta {
    id: "rs.prm.unauthenticated",
    row: "rs-prm-unauthenticated",
    title: "Serves protected resource metadata without a token",
    summary: "Clients read the PRM before they hold a token: every URL named in resource_metadata, and the PRM discovery found, answer GET without credentials with 200; no well-known PRM URL answers 401 or 403. Recorded as INFO in the message: whether a GET with a bogus Authorization header turns into a 401.",
    level: Level::Must,
    refs: &[rfc(
        "RFC 9728",
        "§3, §5",
        "clients fetch the metadata to learn how to obtain a token, so it needs none",
        RFC9728,
    )],
    needs: &[Need::Anonymous],
    tags: &[],
    broken_by: &["prm-requires-token"],
};

pub const RESOURCE_FORMAT: CheckMeta = CheckMeta {
    id: "rs.prm.resource-format",
    row: "rs-prm-resource-format",
    title: "PRM resource is an https URL without fragment or query",
    summary: "resource is an absolute https URL (plain http tolerated on a loopback host) with no fragment (MUST) and no query (SHOULD).",
    level: Level::Must,
    refs: &[
        rfc(
            "RFC 9728",
            "§1.2",
            "a resource identifier is an https URL with no fragment, and preferably no query",
            RFC9728,
        ),
        rfc(
            "RFC 8707",
            "§2",
            "a resource indicator is absolute, has no fragment, and should have no query",
            RFC8707,
        ),
    ],
    needs: &[Need::Anonymous],
    tags: &[],
    broken_by: &["prm-resource-fragment"],
};

pub const AUTHORIZATION_SERVERS: CheckMeta = CheckMeta {
    id: "rs.prm.authorization-servers",
    row: "rs-prm-authorization-servers",
    title: "PRM lists at least one authorization server",
    summary: "authorization_servers is a non-empty array of issuer identifiers: absolute https URLs (plain http tolerated on a loopback host) with no query and no fragment (RFC 8414 §2).",
    level: Level::Must,
    refs: &[
        mcp(
            "Authorization Server Location",
            "the PRM includes authorization_servers with at least one authorization server",
        ),
        rfc(
            "RFC 8414",
            "§2",
            "an issuer identifier is an https URL with no query or fragment",
            RFC8414,
        ),
    ],
    needs: &[Need::Anonymous],
    tags: &[],
    broken_by: &["prm-no-authorization-servers"],
};

pub const AS_RESOLVES: CheckMeta = CheckMeta {
    id: "rs.prm.as-resolves",
    row: "rs-prm-as-resolves",
    title: "Every listed authorization server resolves to metadata with that issuer",
    summary: "For each authorization_servers entry, the AS metadata URLs are tried in the MCP order (RFC 8414 path insertion, OpenID Connect path insertion, OpenID Connect appended); the first 200 is a JSON object whose issuer equals the entry byte for byte. Clients must reject a mismatch, so one makes the server unusable.",
    level: Level::Must,
    refs: &[
        mcp(
            "Authorization Server Metadata Discovery",
            "clients try the RFC 8414 and OpenID Connect well-known URLs in order",
        ),
        rfc(
            "RFC 8414",
            "§3.3",
            "the issuer in the metadata is identical to the issuer the URL was built from",
            RFC8414,
        ),
    ],
    needs: &[Need::Anonymous],
    tags: &[],
    broken_by: &["prm-issuer-mismatch"],
};

pub const SHAPE: CheckMeta = CheckMeta {
    id: "rs.prm.shape",
    row: "rs-prm-shape",
    title: "Serves PRM as a JSON object without empty members",
    summary: "The PRM answers 200 with Content-Type application/json and a JSON object; members with zero values are omitted (no [] except bearer_methods_supported, to which RFC 9728 §2 gives a meaning); the registered array members are arrays of strings; member names are unique (SHOULD). Unknown members are allowed.",
    level: Level::Must,
    refs: &[
        rfc(
            "RFC 9728",
            "§3.2",
            "a 200 application/json object; parameters with zero values are omitted",
            RFC9728,
        ),
        rfc(
            "RFC 9728",
            "§2",
            "the registered members and their JSON types",
            RFC9728,
        ),
    ],
    needs: &[Need::Anonymous],
    tags: &[],
    broken_by: &["prm-empty-array"],
};

pub const BEARER_METHODS: CheckMeta = CheckMeta {
    id: "rs.prm.bearer-methods",
    row: "rs-prm-bearer-methods-consistent",
    title: "PRM bearer_methods_supported omits query and matches behaviour",
    summary: "When bearer_methods_supported is present it does not list query (MCP clients must not put tokens in the URI), it lists header (the server takes header tokens), and the server behaves as advertised: a token in the query, or in a form body, is not used when that method is not listed. Graded SHOULD, the row's consistency level; rs.token.query-ignored grades the query MUST itself.",
    level: Level::Should,
    refs: &[
        rfc(
            "RFC 9728",
            "§2",
            "bearer_methods_supported lists the methods the resource supports",
            RFC9728,
        ),
        rfc(
            "OAuth 2.1",
            "§5.1",
            "resource servers ignore access tokens in the URI query",
            OAUTH21,
        ),
    ],
    needs: &[Need::Anonymous],
    tags: &[],
    broken_by: &[
        "prm-advertises-query",
        "accept-query-token",
        "accept-form-token",
    ],
};

pub const SIGNED_METADATA: CheckMeta = CheckMeta {
    id: "rs.prm.signed-metadata",
    row: "rs-prm-signed-metadata",
    title: "PRM signed_metadata is a signed JWS naming its issuer",
    summary: "When the PRM carries signed_metadata (RFC 9728 §2.2, optional: Skip without it), it \
              is a compact JWS [MUST] whose alg is not none [MUST] and whose claims are a JSON \
              object with an iss string [MUST]. Plain members whose value differs from the signed \
              claim are recorded (INFO): the signed values take precedence (§3.3). \
              rs.prm.signed-metadata-signature checks the signature itself.",
    level: Level::Must,
    refs: &[rfc(
        "RFC 9728",
        "§2.2",
        "signed_metadata is a JWT, digitally signed or MACed, with an iss claim",
        RFC9728,
    )],
    needs: &[Need::Anonymous],
    tags: &["alg none"],
    broken_by: &["prm-signed-metadata-unsigned"],
};

pub const SIGNED_METADATA_SIGNATURE: CheckMeta = CheckMeta {
    id: "rs.prm.signed-metadata-signature",
    row: "rs-prm-signed-metadata",
    title: "PRM signed_metadata verifies with its issuer's keys",
    summary: "When the PRM carries signed_metadata (Skip without it), its iss is resolved like an \
              authorization server (RFC 8414, then OpenID Connect discovery), and the signature \
              verifies under its alg with a key of that issuer's JWKS (the one its kid names). \
              A client treats a bad signature as an error (SHOULD), so metadata that does not \
              verify is metadata clients discard.",
    level: Level::Should,
    refs: &[
        rfc(
            "RFC 9728",
            "§2.2",
            "the signed metadata is signed by the party its iss names",
            RFC9728,
        ),
        rfc(
            "RFC 9728",
            "§3.3",
            "signed metadata is validated; a bad signature is an error",
            RFC9728,
        ),
    ],
    needs: &[Need::Anonymous],
    tags: &[],
    broken_by: &["prm-signed-metadata-bad-signature"],
};

/// Whether a check applies only to targets whose PRM carries `signed_metadata` (Skip on
/// others, such as the default demo).
pub fn needs_signed_metadata(id: &str) -> bool {
    [SIGNED_METADATA.id, SIGNED_METADATA_SIGNATURE.id].contains(&id)
}

/// Claims of signed metadata that describe the JWT, not the resource.
const JWT_CLAIMS: &[&str] = &["iss", "iat", "exp", "nbf", "jti", "sub", "aud"];

/// The PRM and its `signed_metadata` string; `Err` is the outcome when there is nothing to
/// judge (no PRM: Error; no member: Skip).
async fn signed_metadata_of(
    ctx: &Context,
) -> Result<(Document, Exchange, Option<String>), Outcome> {
    let (prm, exchange) = prm_document(ctx).await?;
    let value = match prm.object.get("signed_metadata") {
        None => {
            return Err(Outcome::new(
                Verdict::Skip,
                "the PRM carries no signed_metadata (optional, RFC 9728 §2.2)",
            ));
        }
        Some(value) => value.as_str().map(str::to_owned),
    };
    Ok((prm, exchange, value))
}

fn signed_metadata(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let (prm, exchange, value) = match signed_metadata_of(ctx).await {
            Ok(found) => found,
            Err(outcome) => return outcome,
        };
        let jws = value.as_deref().map(mock_idp::jws::Jws::parse);
        let mut assertions = vec![
            observation(
                Part::Status,
                Level::Must,
                "signed_metadata is a string",
                value.is_some(),
                "another JSON type",
            ),
            observation(
                Part::Status,
                Level::Must,
                "signed_metadata is a compact JWS",
                matches!(jws, Some(Ok(_))),
                match &jws {
                    Some(Err(e)) => e.to_string(),
                    _ => "not a string".into(),
                },
            ),
        ];
        let Some(Ok(jws)) = jws else {
            return graded(Level::Must, assertions, vec![exchange], "");
        };
        let alg = jws.alg().unwrap_or_default();
        assertions.push(observation(
            Part::Status,
            Level::Must,
            "its alg is present and not none",
            !alg.is_empty() && !alg.eq_ignore_ascii_case("none"),
            format!("alg {alg:?}"),
        ));
        let claims = jws.claims();
        let iss = claims
            .as_ref()
            .ok()
            .and_then(|c| c.get_str("iss").map(str::to_owned));
        assertions.push(observation(
            Part::Status,
            Level::Must,
            "its claims are a JSON object with an iss string",
            iss.is_some(),
            match &claims {
                Ok(_) => "no iss string".to_owned(),
                Err(e) => e.to_string(),
            },
        ));
        let mut conflicts = Vec::new();
        if let Ok(claims) = &claims {
            for (name, signed) in claims.members() {
                if JWT_CLAIMS.contains(&name.as_str()) {
                    continue;
                }
                if let Some(plain) = prm.object.get(name)
                    && plain != signed
                {
                    conflicts.push(format!("{name}: plain {plain}, signed {signed}"));
                }
            }
        }
        assertions.push(observation(
            Part::Status,
            Level::Info,
            "plain members agree with the signed claims (the signed values take precedence)",
            conflicts.is_empty(),
            conflicts.join("; "),
        ));
        graded(
            Level::Must,
            assertions,
            vec![exchange],
            format!(
                "signed_metadata is a JWS (alg {alg}) attested by {}",
                iss.unwrap_or_default()
            ),
        )
    })
}

/// The keys of `issuer`'s JWKS, found through its metadata; the exchanges either way.
async fn issuer_keys(
    ctx: &Context,
    issuer: &str,
) -> (Result<Vec<mock_idp::jwk::Jwk>, String>, Vec<Exchange>) {
    let (found, mut evidence) = resolve_issuer(ctx, issuer).await;
    let Some(found) = found else {
        return (Err(format!("no metadata of {issuer:?} answered")), evidence);
    };
    let jwks_uri = found
        .response
        .as_ref()
        .ok()
        .and_then(|r| mock_idp::json::JsonObject::parse(&r.body).ok())
        .filter(|doc| doc.get_str("issuer") == Some(issuer))
        .and_then(|doc| doc.get_str("jwks_uri").map(str::to_owned));
    evidence.push(found);
    let Some(jwks_uri) = jwks_uri else {
        return (
            Err(format!(
                "the metadata of {issuer:?} names no jwks_uri (or another issuer)"
            )),
            evidence,
        );
    };
    let fetched = ctx.driver.send(get_metadata(&jwks_uri)).await;
    let keys = match &fetched.response {
        Ok(r) if r.status == 200 => serde_json::from_slice::<Value>(&r.body)
            .map_err(|e| e.to_string())
            .and_then(|v| mock_idp::jwk::JwkSet::from_json(&v).map_err(|e| e.to_string()))
            .map(|set| set.keys),
        Ok(r) => Err(format!("{jwks_uri} answered HTTP {}", r.status)),
        Err(e) => Err(format!("{jwks_uri}: {e}")),
    };
    evidence.push(fetched);
    (keys, evidence)
}

/// Whether `jws` verifies under its alg with one of `keys` (the one its kid names, if any).
fn verifies_with(jws: &mock_idp::jws::Jws, keys: &[mock_idp::jwk::Jwk]) -> Result<(), String> {
    let alg = jws.alg().unwrap_or_default();
    let Some(algorithm) = mock_idp::alg::Algorithm::from_name(alg) else {
        return Err(format!("alg {alg:?} is no signature algorithm"));
    };
    let named: Vec<_> = keys
        .iter()
        .filter(|k| jws.kid().is_none_or(|kid| k.kid.as_deref() == Some(kid)))
        .filter_map(|k| mock_idp::keys::VerifyingKey::from_jwk(&k.to_public()).ok())
        .collect();
    if named.is_empty() {
        return Err(format!(
            "the issuer's JWKS has no usable key with kid {:?}",
            jws.kid()
        ));
    }
    named
        .iter()
        .any(|k| {
            k.verify(algorithm, jws.signing_input(), jws.signature(), false)
                .is_ok()
        })
        .then_some(())
        .ok_or_else(|| format!("the {alg} signature verifies with none of the issuer's keys"))
}

fn signed_metadata_signature(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let (_, exchange, value) = match signed_metadata_of(ctx).await {
            Ok(found) => found,
            Err(outcome) => return outcome,
        };
        let mut evidence = vec![exchange];
        let parsed = value
            .as_deref()
            .ok_or_else(|| "signed_metadata is not a string".to_owned())
            .and_then(|v| mock_idp::jws::Jws::parse(v).map_err(|e| e.to_string()));
        let verdict = match parsed {
            Err(why) => Err(why),
            Ok(jws) => match jws
                .claims()
                .ok()
                .and_then(|c| c.get_str("iss").map(str::to_owned))
            {
                None => Err("it has no iss, so no issuer's keys to verify it with".to_owned()),
                Some(iss) => {
                    let (keys, exchanges) = issuer_keys(ctx, &iss).await;
                    evidence.extend(exchanges);
                    keys.and_then(|keys| verifies_with(&jws, &keys))
                        .map(|()| iss)
                }
            },
        };
        let assertions = vec![observation(
            Part::Status,
            Level::Should,
            "signed_metadata verifies with a key of the issuer its iss names",
            verdict.is_ok(),
            verdict.as_ref().err().cloned().unwrap_or_default(),
        )];
        graded(
            Level::Should,
            assertions,
            evidence,
            format!(
                "signed_metadata verifies with the keys of {}",
                verdict.unwrap_or_default()
            ),
        )
    })
}

fn well_known(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let urls = match prm_urls(&ctx.endpoint) {
            Ok(u) => u,
            Err(e) => return Outcome::error(e.to_string(), Vec::new()),
        };
        let mut evidence = Vec::new();
        for url in &urls {
            let exchange = ctx.driver.send(get_metadata(url)).await;
            let ok = exchange.response.as_ref().is_ok_and(|r| {
                r.status == 200 && mock_idp::json::JsonObject::parse(&r.body).is_ok()
            });
            evidence.push(exchange);
            if ok {
                return Outcome::new(Verdict::Pass, format!("PRM served at {url}"));
            }
        }
        Outcome {
            expected: vec![format!(
                "[MUST] 200 with a JSON object at one of {}",
                urls.join(", ")
            )],
            actual: evidence
                .iter()
                .map(|e| match &e.response {
                    Ok(r) => format!("{} → HTTP {}", e.request.url, r.status),
                    Err(err) => format!("{} → {err}", e.request.url),
                })
                .collect::<Vec<_>>()
                .join("; "),
            evidence,
            ..Outcome::new(
                Verdict::Fail,
                "no well-known PRM URL answered with metadata",
            )
        }
    })
}

fn resource_identical(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let Some(prm) = &ctx.discovery.prm else {
            return Outcome::error(
                "no PRM was found, so its resource cannot be compared",
                ctx.discovery.exchanges.clone(),
            );
        };
        let expected = vec![format!("[MUST] resource == {:?}", ctx.endpoint)];
        match prm.findings.iter().find(|f| {
            matches!(
                f,
                Finding::IdentifierMismatch { .. } | Finding::Missing("resource")
            )
        }) {
            None => Outcome {
                expected,
                ..Outcome::new(Verdict::Pass, "resource is identical")
            },
            Some(f) => Outcome {
                expected,
                actual: format!("{f:?}"),
                evidence: ctx.discovery.exchanges.clone(),
                ..Outcome::new(
                    Verdict::Fail,
                    "PRM resource differs from the resource it was fetched for",
                )
            },
        }
    })
}

/// A metadata GET without credentials.
fn get_metadata(url: &str) -> ProbeRequest {
    ProbeRequest::new("GET", url).header("accept", "application/json")
}

fn status_of(exchange: &Exchange) -> String {
    match &exchange.response {
        Ok(r) => format!("HTTP {}", r.status),
        Err(e) => e.to_string(),
    }
}

/// The outcome of assertions about documents and several exchanges, with `pass_message` when
/// they all hold.
pub(crate) fn graded(
    level: Level,
    assertions: Vec<Assertion>,
    evidence: Vec<Exchange>,
    pass_message: impl Into<String>,
) -> Outcome {
    let outcome = Outcome::from_grade(level, &Grade { assertions }, evidence);
    if outcome.verdict == Verdict::Pass {
        Outcome {
            message: pass_message.into(),
            ..outcome
        }
    } else {
        outcome
    }
}

/// Fetches the PRM discovery found, again and without credentials, so each check carries its
/// own evidence; `Err` is the outcome when there is none to read (rs.prm.wellknown says why).
pub(crate) async fn prm_document(ctx: &Context) -> Result<(Document, Exchange), Outcome> {
    let Some(url) = &ctx.discovery.prm_url else {
        return Err(Outcome::error(
            "discovery found no protected resource metadata to inspect (see rs.prm.wellknown)",
            ctx.discovery.exchanges.clone(),
        ));
    };
    let exchange = ctx.driver.send(get_metadata(url)).await;
    let parsed = match &exchange.response {
        Ok(r) if r.status == 200 => parse_prm(&r.body, &ctx.endpoint).map_err(|e| e.to_string()),
        Ok(r) => Err(format!("HTTP {}", r.status)),
        Err(e) => Err(e.to_string()),
    };
    match parsed {
        Ok(document) => Ok((document, exchange)),
        Err(why) => Err(Outcome::error(
            format!("the PRM at {url} could not be read again: {why}"),
            vec![exchange],
        )),
    }
}

/// The `resource_metadata` URLs of a response's challenges.
pub(crate) fn named_prm_urls(resp: &RecordedResponse) -> Vec<String> {
    expect::challenges(resp)
        .unwrap_or_default()
        .iter()
        .filter_map(|c| c.param("resource_metadata").map(str::to_owned))
        .collect()
}

/// Where a PRM URL came from, which decides what it must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PrmUrlKind {
    /// Named in resource_metadata, or where discovery read the PRM: must answer 200.
    Named,
    /// A well-known fallback nobody named: may be absent, but not behind a token.
    WellKnown,
}

fn unauthenticated(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let challenge = ctx.initialize(&Credential::None).await;
        let mut urls: Vec<(String, PrmUrlKind)> = Vec::new();
        let mut add = |url: String, kind: PrmUrlKind| {
            if !urls.iter().any(|(u, _)| *u == url) {
                urls.push((url, kind));
            }
        };
        if let Ok(r) = &challenge.response {
            named_prm_urls(r)
                .into_iter()
                .for_each(|u| add(u, PrmUrlKind::Named));
        }
        if let Some(found) = &ctx.discovery.prm_url {
            add(found.clone(), PrmUrlKind::Named);
        }
        prm_urls(&ctx.endpoint)
            .unwrap_or_default()
            .into_iter()
            .for_each(|u| add(u, PrmUrlKind::WellKnown));
        let mut evidence = vec![challenge];
        let mut assertions = Vec::new();
        let mut readable: Option<String> = None;
        for (url, kind) in urls {
            let exchange = ctx.driver.send(get_metadata(&url)).await;
            let status = exchange.response.as_ref().map(|r| r.status).ok();
            if status == Some(200) && readable.is_none() {
                readable = Some(url.clone());
            }
            assertions.push(match kind {
                PrmUrlKind::Named => observation(
                    Part::Status,
                    Level::Must,
                    format!("GET {url} without a token answers 200"),
                    status == Some(200),
                    status_of(&exchange),
                ),
                PrmUrlKind::WellKnown => observation(
                    Part::Status,
                    Level::Must,
                    format!("GET {url} without a token is not refused for lack of one (401, 403)"),
                    !matches!(status, Some(401 | 403)),
                    status_of(&exchange),
                ),
            });
            evidence.push(exchange);
        }
        let Some(readable) = readable else {
            let outcome = graded(Level::Must, assertions, evidence, "");
            return if outcome.verdict == Verdict::Pass {
                Outcome::error(
                    "no protected resource metadata was found to read (see rs.prm.wellknown)",
                    outcome.evidence,
                )
            } else {
                outcome
            };
        };
        // INFO only: a client holding a stale token may still send it with the GET.
        let bogus = ctx
            .driver
            .send(get_metadata(&readable).header("authorization", "Bearer bogus-token"))
            .await;
        let info = match bogus.response.as_ref().map(|r| r.status) {
            Ok(200) => "INFO: with a bogus Authorization header it still answers 200".to_owned(),
            Ok(401) => "INFO: with a bogus Authorization header it turns into a 401".to_owned(),
            Ok(s) => format!("INFO: with a bogus Authorization header it answers HTTP {s}"),
            Err(e) => format!("INFO: with a bogus Authorization header: {e}"),
        };
        evidence.push(bogus);
        let outcome = graded(
            Level::Must,
            assertions,
            evidence,
            format!("readable without a token at {readable}"),
        );
        Outcome {
            message: format!("{}; {info}", outcome.message),
            ..outcome
        }
    })
}

/// The rules for one URL member: absolute, https (loopback http tolerated), no fragment, and
/// the query at `query_level` (None: not judged).
fn url_rules(what: &str, value: &str, query_level: Option<Level>) -> Vec<Assertion> {
    let parsed = url::Url::parse(value);
    let mut rules = vec![
        observation(
            Part::Status,
            Level::Must,
            format!("{what} is an absolute URL"),
            parsed.as_ref().is_ok_and(|u| u.has_host()),
            format!("{value:?}"),
        ),
        observation(
            Part::Status,
            Level::Must,
            format!("{what} is https (plain http only on a loopback host)"),
            is_https_or_loopback(value),
            format!("{value:?}"),
        ),
        observation(
            Part::Status,
            Level::Must,
            format!("{what} has no fragment"),
            parsed.as_ref().is_ok_and(|u| u.fragment().is_none()) && !value.contains('#'),
            format!("{value:?}"),
        ),
    ];
    if let Some(level) = query_level {
        rules.push(observation(
            Part::Status,
            level,
            format!("{what} has no query"),
            parsed.as_ref().is_ok_and(|u| u.query().is_none()),
            format!("{value:?}"),
        ));
    }
    rules
}

fn resource_format(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let (prm, exchange) = match prm_document(ctx).await {
            Ok(found) => found,
            Err(outcome) => return outcome,
        };
        let assertions = match prm.object.get("resource") {
            Some(Value::String(resource)) => url_rules("resource", resource, Some(Level::Should)),
            other => vec![observation(
                Part::Status,
                Level::Must,
                "resource is present, as a string",
                false,
                format!("{other:?}"),
            )],
        };
        graded(
            Level::Must,
            assertions,
            vec![exchange],
            format!(
                "resource {:?} is an https (or loopback http) URL without fragment or query",
                prm.str("resource").unwrap_or_default()
            ),
        )
    })
}

fn authorization_servers(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let (prm, exchange) = match prm_document(ctx).await {
            Ok(found) => found,
            Err(outcome) => return outcome,
        };
        let member = prm.object.get("authorization_servers");
        let entries: Option<Vec<&str>> = member
            .and_then(Value::as_array)
            .and_then(|a| a.iter().map(Value::as_str).collect());
        let mut assertions = vec![observation(
            Part::Status,
            Level::Must,
            "authorization_servers is a non-empty JSON array of strings",
            entries.as_ref().is_some_and(|e| !e.is_empty()),
            match member {
                None => "absent".to_owned(),
                Some(v) => v.to_string(),
            },
        )];
        for entry in entries.iter().flatten() {
            assertions.extend(url_rules(
                &format!("issuer {entry:?}"),
                entry,
                Some(Level::Must),
            ));
        }
        graded(
            Level::Must,
            assertions,
            vec![exchange],
            format!("authorization_servers: {:?}", entries.unwrap_or_default()),
        )
    })
}

/// The first AS metadata URL that answers 200, in MCP order, with its exchanges.
async fn resolve_issuer(ctx: &Context, issuer: &str) -> (Option<Exchange>, Vec<Exchange>) {
    let mut tried = Vec::new();
    for url in as_metadata_urls(issuer).unwrap_or_default() {
        let exchange = ctx.driver.send(get_metadata(&url)).await;
        if exchange.response.as_ref().is_ok_and(|r| r.status == 200) {
            return (Some(exchange), tried);
        }
        tried.push(exchange);
    }
    (None, tried)
}

fn as_resolves(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let (prm, exchange) = match prm_document(ctx).await {
            Ok(found) => found,
            Err(outcome) => return outcome,
        };
        let issuers: Vec<String> = prm
            .strings("authorization_servers")
            .into_iter()
            .map(str::to_owned)
            .collect();
        if issuers.is_empty() {
            return Outcome::error(
                "the PRM lists no authorization server to resolve (see rs.prm.authorization-servers)",
                vec![exchange],
            );
        }
        let mut evidence = vec![exchange];
        let mut assertions = Vec::new();
        for issuer in &issuers {
            let (found, tried) = resolve_issuer(ctx, issuer).await;
            let attempts = tried
                .iter()
                .map(|e| format!("{} → {}", e.request.url, status_of(e)))
                .collect::<Vec<_>>()
                .join("; ");
            evidence.extend(tried);
            let Some(found) = found else {
                assertions.push(observation(
                    Part::Status,
                    Level::Must,
                    format!("{issuer:?} resolves: one of its metadata URLs answers 200"),
                    false,
                    attempts,
                ));
                continue;
            };
            let body = found
                .response
                .as_ref()
                .map(|r| r.body.clone())
                .unwrap_or_default();
            let found_issuer = mock_idp::json::JsonObject::parse(&body)
                .ok()
                .and_then(|o| o.get_str("issuer").map(str::to_owned));
            assertions.push(observation(
                Part::Status,
                Level::Must,
                format!("the first metadata that answers for {issuer:?} has issuer == {issuer:?}"),
                found_issuer
                    .as_deref()
                    .is_some_and(|i| same_identifier(i, issuer)),
                format!(
                    "{} has issuer {}",
                    found.request.url,
                    found_issuer.map_or("absent (or no JSON object)".to_owned(), |i| format!(
                        "{i:?}"
                    ))
                ),
            ));
            evidence.push(found);
        }
        graded(
            Level::Must,
            assertions,
            evidence,
            format!("every listed issuer resolves to its own metadata: {issuers:?}"),
        )
    })
}

/// Whether a Content-Type names application/json (parameters such as charset allowed).
fn is_json_media_type(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|ct| {
        ct.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
    })
}

/// The RFC 9728 §3.2 shape of one PRM response.
fn shape_rules(resp: &RecordedResponse, expected_resource: &str) -> Vec<Assertion> {
    let mut rules = vec![
        observation(
            Part::Status,
            Level::Must,
            "status is 200",
            resp.status == 200,
            format!("HTTP {}", resp.status),
        ),
        observation(
            Part::Status,
            Level::Must,
            "Content-Type is application/json",
            is_json_media_type(resp.header("content-type")),
            format!("{:?}", resp.header("content-type")),
        ),
    ];
    let document = parse_prm(&resp.body, expected_resource);
    rules.push(observation(
        Part::Status,
        Level::Must,
        "the body is a JSON object",
        document.is_ok(),
        document
            .as_ref()
            .err()
            .map(ToString::to_string)
            .unwrap_or_default(),
    ));
    let Ok(document) = document else {
        return rules;
    };
    let empty: Vec<&str> = document
        .findings
        .iter()
        .filter_map(|f| match f {
            // RFC 9728 §2: an empty bearer_methods_supported means "no bearer method".
            Finding::EmptyArray(m) if m != "bearer_methods_supported" => Some(m.as_str()),
            _ => None,
        })
        .collect();
    rules.push(observation(
        Part::Status,
        Level::Must,
        "no member is an empty array (zero values are omitted), except bearer_methods_supported",
        empty.is_empty(),
        format!("empty: {empty:?}"),
    ));
    let wrong: Vec<String> = document
        .findings
        .iter()
        .filter_map(|f| match f {
            Finding::WrongType { member, expected } => Some(format!("{member} is not {expected}")),
            _ => None,
        })
        .collect();
    rules.push(observation(
        Part::Status,
        Level::Must,
        "registered members have their RFC 9728 §2 JSON types",
        wrong.is_empty(),
        wrong.join("; "),
    ));
    let duplicates: Vec<&str> = document
        .findings
        .iter()
        .filter_map(|f| match f {
            Finding::Duplicate(m) => Some(m.as_str()),
            _ => None,
        })
        .collect();
    rules.push(observation(
        Part::Status,
        Level::Should,
        "member names are unique (RFC 8259 §4)",
        duplicates.is_empty(),
        format!("repeated: {duplicates:?}"),
    ));
    rules
}

fn shape(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let Some(url) = &ctx.discovery.prm_url else {
            return Outcome::error(
                "discovery found no protected resource metadata to inspect (see rs.prm.wellknown)",
                ctx.discovery.exchanges.clone(),
            );
        };
        let exchange = ctx.driver.send(get_metadata(url)).await;
        let assertions = match &exchange.response {
            Ok(r) => shape_rules(r, &ctx.endpoint),
            Err(e) => {
                return Outcome::error(format!("no usable response: {e}"), vec![exchange]);
            }
        };
        graded(
            Level::Must,
            assertions,
            vec![exchange],
            format!("{url} is a JSON object without empty members"),
        )
    })
}

/// `initialize` with `access_token=<token>` as a form body and no Authorization header.
fn form_token_request(ctx: &Context, token: &str) -> ProbeRequest {
    let mut request = probe::rpc(
        &ctx.endpoint,
        &Credential::None,
        None,
        &probe::initialize_body(),
    );
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

/// Refused for lack of usable credentials: a 401, or a 400 whose challenge says
/// invalid_request (RFC 6750 §3.1). Anything else, for a body that is no MCP message, means
/// the request got past authentication with the form token.
fn refused_by_authentication(resp: &RecordedResponse) -> bool {
    match resp.status {
        401 => true,
        400 => expect::challenges(resp).is_ok_and(|cs| {
            cs.iter()
                .any(|c| c.param("error") == Some("invalid_request"))
        }),
        _ => false,
    }
}

/// How the server treats the token methods PRM does not list (calibrated).
async fn unlisted_methods_refused(
    ctx: &Context,
    methods: &[&str],
    token: &str,
    evidence: &mut Vec<Exchange>,
) -> Result<Vec<Assertion>, Outcome> {
    negative_control(ctx).await?;
    positive_control(ctx).await?;
    let mut rules = Vec::new();
    if !methods.contains(&"query") {
        let url = format!("{}?access_token={token}", ctx.endpoint);
        let exchange = ctx
            .driver
            .send(probe::rpc(
                &url,
                &Credential::None,
                None,
                &probe::initialize_body(),
            ))
            .await;
        let used = exchange.response.as_ref().is_ok_and(expect::is_accepted);
        rules.push(observation(
            Part::NotAccepted,
            Level::Should,
            "query is not listed, so a token in ?access_token= is not used",
            !used,
            format!("{}: the query token was accepted", status_of(&exchange)),
        ));
        evidence.push(exchange);
    }
    if !methods.contains(&"body") {
        let exchange = ctx.driver.send(form_token_request(ctx, token)).await;
        let refused = exchange
            .response
            .as_ref()
            .is_ok_and(refused_by_authentication);
        rules.push(observation(
            Part::NotAccepted,
            Level::Should,
            "body is not listed, so a token in a form body is refused by authentication (401, or 400 invalid_request)",
            refused,
            format!(
                "{} without an authentication challenge: the form-body token was used",
                status_of(&exchange)
            ),
        ));
        evidence.push(exchange);
    }
    positive_control(ctx).await?;
    Ok(rules)
}

fn bearer_methods(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let (prm, exchange) = match prm_document(ctx).await {
            Ok(found) => found,
            Err(outcome) => return outcome,
        };
        if !prm.object.contains("bearer_methods_supported") {
            return Outcome::new(
                Verdict::Pass,
                "bearer_methods_supported is absent: nothing advertised to contradict",
            );
        }
        let methods = prm.strings("bearer_methods_supported");
        let mut assertions = vec![
            observation(
                Part::Status,
                Level::Should,
                "query is not listed",
                !methods.contains(&"query"),
                format!("{methods:?}"),
            ),
            observation(
                Part::Status,
                Level::Should,
                "header is listed (MCP clients send the token in the Authorization header)",
                methods.contains(&"header"),
                format!("{methods:?}"),
            ),
        ];
        let mut evidence = vec![exchange];
        let behaviour = match ctx.valid_token() {
            Some(token) => {
                match unlisted_methods_refused(ctx, &methods, &token, &mut evidence).await {
                    Ok(rules) => {
                        assertions.extend(rules);
                        "and the server behaves as advertised"
                    }
                    Err(outcome) => return outcome,
                }
            }
            None => "behaviour not probed: no token can be minted in this run",
        };
        graded(
            Level::Should,
            assertions,
            evidence,
            format!("bearer_methods_supported {methods:?} {behaviour}"),
        )
    })
}

pub fn checks() -> Vec<Check<Context>> {
    vec![
        Check::new(WELL_KNOWN, well_known),
        Check::new(UNAUTHENTICATED, unauthenticated),
        Check::new(RESOURCE_IDENTICAL, resource_identical),
        Check::new(RESOURCE_FORMAT, resource_format),
        Check::new(AUTHORIZATION_SERVERS, authorization_servers),
        Check::new(AS_RESOLVES, as_resolves),
        Check::new(SHAPE, shape),
        Check::new(BEARER_METHODS, bearer_methods),
        Check::new(SIGNED_METADATA, signed_metadata),
        Check::new(SIGNED_METADATA_SIGNATURE, signed_metadata_signature),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broken(rules: Vec<Assertion>) -> Vec<(Level, String)> {
        rules
            .into_iter()
            .filter(|a| !a.holds)
            .map(|a| (a.level, a.requirement))
            .collect()
    }

    #[test]
    fn url_rules_grade_scheme_fragment_and_query() {
        assert!(broken(url_rules("r", "https://mcp.test/mcp", Some(Level::Should))).is_empty());
        assert!(
            broken(url_rules(
                "r",
                "http://127.0.0.1:8080/mcp",
                Some(Level::Must)
            ))
            .is_empty()
        );
        let plain = broken(url_rules("r", "http://mcp.test/mcp", None));
        assert_eq!(plain.len(), 1);
        assert!(plain[0].1.contains("https"));
        let fragment = broken(url_rules("r", "https://mcp.test/mcp#f", None));
        assert!(fragment[0].1.contains("fragment"));
        let query = broken(url_rules(
            "r",
            "https://mcp.test/mcp?t=1",
            Some(Level::Should),
        ));
        assert_eq!(query, [(Level::Should, "r has no query".to_owned())]);
        assert!(broken(url_rules("r", "mcp.test", None)).len() >= 2);
    }

    fn prm_response(content_type: &str, body: &str) -> RecordedResponse {
        RecordedResponse {
            status: 200,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.as_bytes().to_vec(),
            truncated: false,
        }
    }

    #[test]
    fn shape_allows_only_an_empty_bearer_methods_list() {
        let good = r#"{"resource":"https://h/mcp","authorization_servers":["https://as"],"bearer_methods_supported":[],"x-extension":1}"#;
        let rules = shape_rules(
            &prm_response("application/json; charset=utf-8", good),
            "https://h/mcp",
        );
        assert!(broken(rules).is_empty());
        let empty = r#"{"resource":"https://h/mcp","authorization_servers":["https://as"],"scopes_supported":[]}"#;
        let rules = broken(shape_rules(
            &prm_response("application/json", empty),
            "https://h/mcp",
        ));
        assert_eq!(rules.len(), 1);
        assert!(rules[0].1.contains("empty array"));
        let html = broken(shape_rules(
            &prm_response("text/html", "<html>"),
            "https://h/mcp",
        ));
        assert_eq!(html.len(), 2, "{html:?}");
    }
}
