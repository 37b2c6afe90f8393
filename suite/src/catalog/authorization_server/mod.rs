//! Spec §2: the authorization server under test, driven as an OAuth client would. Files follow
//! the spec's sections: [`metadata`] (§2.1 metadata and discovery), [`authorize`] (§2.2 the
//! authorization endpoint), [`token`] (§2.3 the token endpoint), [`access_token`] (§2.4 the
//! JWT access tokens it issues), [`dpop`] (§2.5 DPoP at the authorization server),
//! [`registration`] (§2.6 dynamic client registration, and the
//! §2.2 rows that need a client of the run's own), [`cimd`] (§2.7 client ID metadata
//! documents), [`exchange`] (RFC 8693 token exchange).
//!
//! Rows are data (metadata plus a pure judgement over what the run read from the authorization
//! server), run by one engine: a judgement grades assertions, each at its own level, or says
//! why the row does not apply to this authorization server (Skip).

mod access_token;
mod authorize;
mod cimd;
// §2.1/§2.3/§2.4 remaining rows: the ones acting as a confidential client.
mod confidential;
mod dpop;
// RFC 8693 token exchange
mod exchange;
mod metadata;
mod registration;
mod response;
mod token;
mod ui;

use crate::check::{CheckMeta, Outcome};
use crate::engine::authorization_server::{AsContext, Fetched};
use crate::engine::runner::{Check, CheckFuture};
use crate::expect::Assertion;
use crate::http::Exchange;
use crate::wire::metadata::Document;

pub(crate) const RFC8414: &str = "https://www.rfc-editor.org/rfc/rfc8414";
pub(crate) const RFC8707: &str = "https://www.rfc-editor.org/rfc/rfc8707";
pub(crate) const RFC9700: &str = "https://www.rfc-editor.org/rfc/rfc9700";
pub(crate) const OAUTH21: &str = "https://datatracker.ietf.org/doc/draft-ietf-oauth-v2-1/";

/// RFC 9700 §2.1.1, cited by the rows that enforce PKCE at either endpoint.
pub(crate) const PKCE_ENFORCED: crate::check::SpecRef = crate::catalog::rfc(
    "RFC 9700",
    "§2.1.1",
    "authorization servers enforce PKCE",
    RFC9700,
);
pub(crate) const OIDC_DISCOVERY: &str =
    "https://openid.net/specs/openid-connect-discovery-1_0.html";

/// The metadata of an `as.*` row (binding in every version unless the row says otherwise).
#[allow(clippy::too_many_arguments)]
pub(crate) const fn as_meta(
    id: &'static str,
    row: &'static str,
    title: &'static str,
    summary: &'static str,
    level: crate::model::Level,
    refs: &'static [crate::check::SpecRef],
    needs: &'static [crate::check::Need],
    broken_by: &'static [&'static str],
) -> CheckMeta {
    CheckMeta {
        id,
        row,
        title,
        summary,
        level,
        applies: crate::check::Applies::Always,
        deadline: None,
        refs,
        needs,
        tags: &[],
        broken_by,
    }
}

/// `meta` binding under the RFC 9068 profile, which no metadata declares (spec §0.1 JWT-AT),
/// and at `otherwise` elsewhere.
pub(crate) const fn under_rfc9068(
    mut meta: CheckMeta,
    otherwise: crate::model::Level,
) -> CheckMeta {
    meta.applies = crate::check::Applies::UnderProfile {
        profile: crate::model::Profile::Rfc9068,
        otherwise,
    };
    meta
}

/// A client a row registers for itself (RFC 7591) through the run's registrations, so the
/// clean-up deletes it (RFC 7592): `metadata` names its redirect URI, `what` says what it is
/// for. Without a registration endpoint the row's outcome is `without_endpoint`; a closed
/// endpoint (401, 403: it wants an initial access token) makes it NotEvaluated; any other
/// failure is an Error of the row's setup.
pub(crate) async fn register_row_client(
    ctx: &AsContext,
    metadata: &serde_json::Value,
    what: &str,
    without_endpoint: crate::model::Verdict,
    evidence: &mut Vec<Exchange>,
) -> Result<crate::engine::authorization_server::AsClient, Outcome> {
    register_row_client_answer(ctx, metadata, what, without_endpoint, evidence)
        .await
        .map(|(client, _)| client)
}

/// [`register_row_client`], with the registration answer (a confidential client's secret).
pub(crate) async fn register_row_client_answer(
    ctx: &AsContext,
    metadata: &serde_json::Value,
    what: &str,
    without_endpoint: crate::model::Verdict,
    evidence: &mut Vec<Exchange>,
) -> Result<
    (
        crate::engine::authorization_server::AsClient,
        crate::engine::registration::RegistrationAnswer,
    ),
    Outcome,
> {
    let Some(endpoint) = ctx.registration_endpoint() else {
        return Err(Outcome::new(
            without_endpoint,
            format!("this row registers {what}, and the metadata names no registration_endpoint"),
        ));
    };
    let answer =
        crate::engine::registration::register(&ctx.driver, &ctx.registrations, endpoint, metadata)
            .await;
    evidence.push(answer.exchange.clone());
    let redirect_uri = metadata["redirect_uris"][0].as_str().unwrap_or_default();
    if let Some(client_id) = answer.client_id() {
        let client = crate::engine::authorization_server::AsClient {
            client_id: client_id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
        };
        return Ok((client, answer));
    }
    let said = format!(
        "the registration endpoint {endpoint} answered the registration of {what} with {}",
        answer.describe()
    );
    Err(if matches!(answer.status, Some(401 | 403)) {
        Outcome {
            evidence: vec![answer.exchange.clone()],
            ..Outcome::new(
                crate::model::Verdict::NotEvaluated,
                format!("{said}: it wants an initial access token (see as.dcr.open)"),
            )
        }
    } else {
        Outcome::error(
            format!("setup: {said}, no client_id"),
            vec![answer.exchange],
        )
    })
}

/// What a row concluded about the authorization server.
pub(crate) enum Judged {
    /// Assertions about what was read, with the exchanges that show it and the sentence of a
    /// pass.
    Graded {
        assertions: Vec<Assertion>,
        evidence: Vec<Exchange>,
        pass: String,
    },
    /// The row does not apply: the server does not offer what it is about.
    NotApplicable(String),
    /// Nothing to judge (no metadata document was found): an Error pointing at the row that
    /// grades its absence.
    Unreadable(String, Vec<Exchange>),
}

/// A metadata document the run read, with where it was read.
pub(crate) type Found<'a> = (&'a Fetched, &'a Document);

/// What a row judges.
pub(crate) enum Judge {
    /// Everything the run read (rows about where documents are, or whether there are any).
    Context(fn(&AsContext) -> Judged),
    /// The metadata documents found, in discovery order: a row about their content, which
    /// has nothing to judge (an Error) when there is none.
    Documents(fn(&AsContext, &[Found]) -> Judged),
}

/// A row of the authorization-server catalogue.
pub(crate) struct Row {
    pub meta: CheckMeta,
    pub judge: Judge,
}

fn judge(ctx: &AsContext, row: &Row) -> Judged {
    // No HTTP answer at any discovery URL says nothing about what the server serves.
    let answered = ctx
        .documents
        .fetched
        .iter()
        .any(|f| f.exchange.response.is_ok());
    if !answered {
        return Judged::Unreadable(
            format!(
                "the authorization server {} did not answer any metadata request",
                ctx.issuer
            ),
            ctx.documents.exchanges(),
        );
    }
    match row.judge {
        Judge::Context(judge) => judge(ctx),
        Judge::Documents(judge) => {
            let found: Vec<Found> = ctx.documents.documents().collect();
            if found.is_empty() {
                return Judged::Unreadable(
                    format!(
                        "no metadata document of {} could be read (see as.metadata.available)",
                        ctx.issuer
                    ),
                    ctx.documents.exchanges(),
                );
            }
            judge(ctx, &found)
        }
    }
}

fn run_row(ctx: &AsContext, row: &Row) -> Outcome {
    match judge(ctx, row) {
        Judged::Graded {
            assertions,
            evidence,
            pass,
        } => crate::catalog::prm::graded(row.meta.level, assertions, evidence, pass),
        Judged::NotApplicable(why) => Outcome::new(crate::model::Verdict::Skip, why),
        Judged::Unreadable(why, evidence) => Outcome::error(why, evidence),
    }
}

fn check_of(row: &'static Row) -> Check<AsContext> {
    Check::new(row.meta, move |ctx: &AsContext| -> CheckFuture<'_> {
        Box::pin(async move { run_row(ctx, row) })
    })
}

fn authorization_check(row: &'static authorize::AuthzRow) -> Check<AsContext> {
    Check::new(row.meta, move |ctx: &AsContext| -> CheckFuture<'_> {
        Box::pin(authorize::run_authorization_row(ctx, &row.meta, row.probes))
    })
}

fn token_check(row: &'static token::TokenRow) -> Check<AsContext> {
    Check::new(row.meta, move |ctx: &AsContext| -> CheckFuture<'_> {
        Box::pin(token::run_token_row(ctx, row))
    })
}

/// Every `as.*` check, in catalogue order.
pub fn checks() -> Vec<Check<AsContext>> {
    let mut checks: Vec<Check<AsContext>> = metadata::ROWS.iter().map(check_of).collect();
    checks.extend(authorize::ROWS.iter().map(authorization_check));
    checks.push(Check::new(
        response::STATE,
        |ctx: &AsContext| -> CheckFuture<'_> { Box::pin(response::state(ctx)) },
    ));
    checks.push(Check::new(
        response::ISS,
        |ctx: &AsContext| -> CheckFuture<'_> { Box::pin(response::iss(ctx)) },
    ));
    checks.push(Check::new(
        authorize::NO_CORS,
        |ctx: &AsContext| -> CheckFuture<'_> { Box::pin(authorize::no_cors(ctx)) },
    ));
    checks.push(Check::new(
        ui::CLICKJACKING,
        |ctx: &AsContext| -> CheckFuture<'_> { Box::pin(ui::clickjacking(ctx)) },
    ));
    checks.push(Check::new(
        ui::NO_307,
        |ctx: &AsContext| -> CheckFuture<'_> { Box::pin(ui::no_307(ctx)) },
    ));
    checks.extend(token::ROWS.iter().map(token_check));
    checks.push(Check::new(
        token::REFRESH_REUSE_REVOKES,
        |ctx: &AsContext| -> CheckFuture<'_> { Box::pin(token::refresh_reuse_revokes(ctx)) },
    ));
    checks.push(Check::new(
        token::GUESSING,
        |ctx: &AsContext| -> CheckFuture<'_> { Box::pin(token::guessing(ctx)) },
    ));
    checks.extend(access_token::ROWS.iter().map(token_check));
    // §2.1/§2.3/§2.4 remaining rows: a confidential client the row registers.
    checks.extend(confidential::checks());
    checks.extend(dpop::ROWS.iter().map(|row| {
        Check::new(row.meta, move |ctx: &AsContext| -> CheckFuture<'_> {
            Box::pin(dpop::run_dpop_row(ctx, row))
        })
    }));
    checks.extend(registration::checks());
    checks.extend(cimd::checks());
    // RFC 8693 token exchange
    checks.extend(exchange::checks());
    checks
}
