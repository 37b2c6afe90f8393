//! Where the PRM is served, that it names this resource, and that anyone can read it.

use crate::catalog::request_auth::observation;
use crate::catalog::rfc;
use crate::check::{Applies, CheckMeta, Need, Outcome};
use crate::engine::context::Context;
use crate::engine::discovery::PrmSource;
use crate::engine::probe::Credential;
use crate::engine::runner::{Check, CheckFuture};
use crate::expect::Part;
use crate::model::{Level, SpecVersion, Verdict};
use crate::wire::discovery::prm_urls;
use crate::wire::metadata::Finding;

use super::{RFC9728, get_metadata, graded, named_prm_urls, status_of};

pub const WELL_KNOWN: CheckMeta = CheckMeta {
    id: "rs.prm.wellknown",
    row: "rs-prm-wellknown",
    title: "Serves protected resource metadata at a well-known URL",
    summary: "The path-inserted or the root well-known PRM URL answers 200 with a JSON object, without a token.",
    level: Level::Must,
    applies: Applies::Always,
    deadline: None,
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
    applies: Applies::Always,
    deadline: None,
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
    applies: Applies::Always,
    deadline: None,
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
        // rs-prm-wellknown: MUST from 2025-11-25 when no challenge names the PRM; SHOULD when
        // one does, and in 2025-06-18 (which requires the header instead).
        let named = ctx.discovery.prm_source == Some(PrmSource::Challenge);
        let level = if ctx.spec_version >= SpecVersion::V2025_11_25 && !named {
            Level::Must
        } else {
            Level::Should
        };
        Outcome {
            expected: vec![format!(
                "[{level}] 200 with a JSON object at one of {}",
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
                level.broken_verdict(),
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
            Some(f) => {
                let (actual, message) = match f {
                    Finding::IdentifierMismatch { expected, found } => (
                        format!("resource {found:?}"),
                        format!("the PRM fetched for {expected:?} names the resource {found:?}"),
                    ),
                    _ => (
                        "no resource member".to_owned(),
                        "the PRM names no resource".to_owned(),
                    ),
                };
                Outcome {
                    expected,
                    actual,
                    evidence: ctx.discovery.exchanges.clone(),
                    ..Outcome::new(Verdict::Fail, message)
                }
            }
        }
    })
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

pub(super) fn checks() -> Vec<Check<Context>> {
    vec![
        Check::new(WELL_KNOWN, well_known),
        Check::new(UNAUTHENTICATED, unauthenticated),
        Check::new(RESOURCE_IDENTICAL, resource_identical),
    ]
}
