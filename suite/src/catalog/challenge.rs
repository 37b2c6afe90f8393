//! Spec §1.1: the challenge to a request without credentials.

use crate::catalog::{mcp, rfc};
use crate::check::{CheckMeta, Need};
use crate::engine::calibrate::judge;
use crate::engine::context::Context;
use crate::engine::probe::Credential;
use crate::engine::runner::Check;
use crate::expect::{self, Grade, Part};
use crate::http::RecordedResponse;
use crate::model::Level;

const RFC6750: &str = "https://www.rfc-editor.org/rfc/rfc6750";

pub const NO_TOKEN: CheckMeta = CheckMeta {
    id: "rs.challenge.no-token",
    row: "rs-401-no-token",
    title: "Refuses a request without credentials with a challenge",
    summary: "An MCP request with no Authorization header gets 401 and a Bearer challenge.",
    level: Level::Must,
    refs: &[
        mcp(
            "Error Handling",
            "invalid or missing authorization gets HTTP 401",
        ),
        rfc(
            "RFC 6750",
            "§3",
            "a 401 carries a WWW-Authenticate challenge",
            RFC6750,
        ),
    ],
    needs: &[Need::Anonymous],
    tags: &[],
    broken_by: &["no-www-authenticate"],
};

pub const RESOURCE_METADATA: CheckMeta = CheckMeta {
    id: "rs.challenge.resource-metadata",
    row: "rs-401-resource-metadata",
    title: "Names the protected resource metadata in every 401",
    summary: "The challenge carries resource_metadata, for requests without a token and with a bad one.",
    level: Level::Must,
    refs: &[mcp(
        "Protected Resource Metadata Discovery Requirements",
        "servers name their PRM in WWW-Authenticate resource_metadata",
    )],
    needs: &[Need::Anonymous],
    tags: &[],
    broken_by: &["no-resource-metadata"],
};

pub const NO_ERROR_WITHOUT_CREDS: CheckMeta = CheckMeta {
    id: "rs.challenge.no-error-without-creds",
    row: "rs-401-no-error-without-creds",
    title: "Puts no error code in the challenge to a request without credentials",
    summary: "RFC 6750 §3.1: without credentials the challenge should carry no error information.",
    level: Level::Should,
    refs: &[rfc(
        "RFC 6750",
        "§3.1",
        "no error code when the request lacks authentication",
        RFC6750,
    )],
    needs: &[Need::Anonymous],
    tags: &[],
    broken_by: &["error-on-no-token"],
};

pub const SCOPE_HINT: CheckMeta = CheckMeta {
    id: "rs.challenge.scope-hint",
    row: "rs-401-scope-hint",
    title: "Names the needed scopes in the 401 challenge",
    summary: "MCP V2+ scope selection: the challenge's scope parameter tells the client what to ask for.",
    level: Level::Should,
    refs: &[mcp(
        "Scope Selection Strategy",
        "the 401 challenge should include scope",
    )],
    needs: &[Need::Anonymous],
    tags: &[],
    broken_by: &["no-scope-in-challenge"],
};

fn anonymous<'a>(
    ctx: &'a Context,
    meta: &CheckMeta,
    grade: fn(&RecordedResponse) -> Grade,
) -> crate::engine::runner::CheckFuture<'a> {
    let level = meta.level;
    Box::pin(async move {
        let exchange = ctx.initialize(&Credential::None).await;
        judge(level, exchange, grade)
    })
}

fn no_token_grade(r: &RecordedResponse) -> Grade {
    expect::unauthenticated(r).only(&[
        Part::NotAccepted,
        Part::No5xx,
        Part::Status,
        Part::Challenge,
    ])
}

/// resource_metadata on a 401 (MUST in V1, so graded MUST whatever the bundle says); a
/// missing challenge means a missing parameter too.
fn resource_metadata_grade(grade: Grade) -> Grade {
    let mut g = grade.only(&[Part::Challenge, Part::ResourceMetadata]);
    for a in &mut g.assertions {
        a.level = Level::Must;
    }
    g
}

pub fn checks() -> Vec<Check<Context>> {
    vec![
        Check::new(NO_TOKEN, |ctx| anonymous(ctx, &NO_TOKEN, no_token_grade)),
        Check::new(RESOURCE_METADATA, |ctx: &Context| {
            Box::pin(async move {
                let bare = ctx.initialize(&Credential::None).await;
                let first = judge(Level::Must, bare, |r| {
                    resource_metadata_grade(expect::unauthenticated(r))
                });
                if first.verdict != crate::model::Verdict::Pass {
                    return first;
                }
                let garbage = ctx.initialize(&Credential::Bearer("garbage".into())).await;
                judge(Level::Must, garbage, |r| {
                    resource_metadata_grade(expect::invalid_token(r))
                })
            })
        }),
        Check::new(NO_ERROR_WITHOUT_CREDS, |ctx| {
            anonymous(ctx, &NO_ERROR_WITHOUT_CREDS, |r| {
                expect::unauthenticated(r).only(&[Part::NoErrorParam])
            })
        }),
        Check::new(SCOPE_HINT, |ctx| {
            anonymous(ctx, &SCOPE_HINT, |r| {
                expect::unauthenticated(r).only(&[Part::ScopeParam])
            })
        }),
    ]
}
