//! Spec §1.1: protected resource metadata (RFC 9728): where it is served, that anyone can
//! read it, its members, and that what it names resolves and matches the server's behaviour.
//!
//! Files by topic: [`location`] (the well-known URL, `resource` identical to the endpoint,
//! readable without a token), [`members`] (`resource` format, `authorization_servers` and
//! that each resolves, the §3.2 shape), [`bearer_methods`] (`bearer_methods_supported`
//! against the server's behaviour), [`signed`] (`signed_metadata` and its signature). This
//! file holds what several of them use: fetching the PRM and AS metadata, and grading.

mod bearer_methods;
mod location;
pub(crate) mod members;
mod signed;

pub use bearer_methods::BEARER_METHODS;
pub use location::{RESOURCE_IDENTICAL, UNAUTHENTICATED, WELL_KNOWN};
pub use members::{AS_RESOLVES, AUTHORIZATION_SERVERS, RESOURCE_FORMAT, SHAPE};
pub use signed::{SIGNED_METADATA, SIGNED_METADATA_SIGNATURE, needs_signed_metadata};

use crate::check::Outcome;
use crate::engine::context::Context;
use crate::engine::runner::Check;
use crate::expect::{self, Assertion, Grade};
use crate::http::{Exchange, ProbeRequest, RecordedResponse};
use crate::model::{Level, Verdict};
use crate::wire::discovery::as_metadata_urls;
use crate::wire::metadata::{Document, parse_prm};

const RFC9728: &str = "https://www.rfc-editor.org/rfc/rfc9728";
const RFC8414: &str = "https://www.rfc-editor.org/rfc/rfc8414";
const OAUTH21: &str = "https://datatracker.ietf.org/doc/draft-ietf-oauth-v2-1/";

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

pub fn checks() -> Vec<Check<Context>> {
    let mut checks = location::checks();
    checks.extend(members::checks());
    checks.extend(bearer_methods::checks());
    checks.extend(signed::checks());
    checks
}
