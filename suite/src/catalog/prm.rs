//! Spec §1.1: protected resource metadata (RFC 9728).

use crate::catalog::rfc;
use crate::check::{CheckMeta, Need, Outcome};
use crate::engine::context::Context;
use crate::engine::runner::Check;
use crate::http::ProbeRequest;
use crate::model::{Level, Verdict};
use crate::wire::discovery::prm_urls;
use crate::wire::metadata::Finding;

const RFC9728: &str = "https://www.rfc-editor.org/rfc/rfc9728";

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

fn well_known(ctx: &Context) -> crate::engine::runner::CheckFuture<'_> {
    Box::pin(async move {
        let urls = match prm_urls(&ctx.endpoint) {
            Ok(u) => u,
            Err(e) => return Outcome::error(e.to_string(), Vec::new()),
        };
        let mut evidence = Vec::new();
        for url in &urls {
            let exchange = ctx
                .driver
                .send(ProbeRequest::new("GET", url).header("accept", "application/json"))
                .await;
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

fn resource_identical(ctx: &Context) -> crate::engine::runner::CheckFuture<'_> {
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

pub fn checks() -> Vec<Check<Context>> {
    vec![
        Check::new(WELL_KNOWN, well_known),
        Check::new(RESOURCE_IDENTICAL, resource_identical),
    ]
}
