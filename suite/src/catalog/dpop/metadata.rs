//! What a DPoP target says about itself: PRM `dpop_signing_alg_values_supported` and
//! `dpop_bound_access_tokens_required` (RFC 9728 §2), and the `DPoP` challenge (RFC 9449
//! §7.1), each held against what it does.

use mock_idp::alg::Algorithm;

use super::{applicability, at, calibrate, fixture, meta, observe, rfc9449, send, sep1932};
use crate::catalog::rfc;
use crate::check::{CheckMeta, Outcome};
use crate::engine::context::Context;
use crate::engine::probe::Credential;
use crate::engine::runner::Check;
use crate::expect::{self, Grade, Part};
use crate::http::Exchange;
use crate::model::{Level, Profile, Verdict};

const RFC9728: &str = "https://www.rfc-editor.org/rfc/rfc9728";

pub const ALGS: CheckMeta = CheckMeta {
    needs: &[crate::check::Need::Dpop, crate::check::Need::Anonymous],
    ..meta(
        "rs.dpop.advertised-algs",
        "rs-dpop-challenge-shape",
        "Advertises asymmetric proof algorithms only, consistently",
        "PRM dpop_signing_alg_values_supported and the DPoP challenge's algs name only \
         asymmetric JWS algorithms (never none, never HS*), and the two lists agree.",
        &[
            rfc9449(
                "§5.1, §7.1",
                "proof algorithms are asymmetric; algs lists them",
            ),
            sep1932("Algorithm Security", "asymmetric algorithms only"),
            rfc(
                "RFC 9728",
                "§2",
                "dpop_signing_alg_values_supported",
                RFC9728,
            ),
        ],
        &["dpop-advertise-hs256"],
    )
};

pub const REQUIRED: CheckMeta = meta(
    "rs.dpop.required-consistent",
    "rs-dpop-required",
    "Refuses Bearer tokens when DPoP is required",
    "When PRM dpop_bound_access_tokens_required is true, or the operator declares the DPoP \
     profile (--profile dpop), Authorization: Bearer V is refused with 401; otherwise there \
     is nothing to hold the server to.",
    &[rfc(
        "RFC 9728",
        "§2",
        "dpop_bound_access_tokens_required: always DPoP-bound tokens",
        RFC9728,
    )],
    &["dpop-prm-claims-required"],
);

pub const CHALLENGE: CheckMeta = at(
    meta(
        "rs.dpop.challenge-shape",
        "rs-dpop-challenge-shape",
        "Names the DPoP scheme and its algorithms in every 401",
        "The 401 to a request without credentials carries a DPoP challenge with algs and \
         resource_metadata (OQ-14) and no error; the 401 to a failed DPoP request carries a DPoP \
         challenge with an error.",
        &[
            rfc9449("§7.1", "algs SHOULD; error when credentials were sent"),
            rfc(
                "RFC 9728",
                "§5.1",
                "resource_metadata may ride on the DPoP challenge",
                RFC9728,
            ),
        ],
        &["dpop-bearer-challenge"],
    ),
    Level::Should,
);

/// Whether an alg name is asymmetric and not `none`.
fn asymmetric(name: &str) -> bool {
    !name.eq_ignore_ascii_case("none")
        && !name.to_ascii_uppercase().starts_with("HS")
        && Algorithm::from_name(name).is_none_or(|a| !a.is_symmetric())
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

async fn advertised_algs(ctx: &Context) -> Outcome {
    if !ctx.dpop_advertised() {
        return Outcome::new(Verdict::Skip, "the target does not advertise DPoP");
    }
    let prm: Vec<String> = ctx
        .discovery
        .prm
        .as_ref()
        .map(|p| {
            p.strings("dpop_signing_alg_values_supported")
                .into_iter()
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let challenge: Vec<String> = ctx
        .discovery
        .challenges
        .iter()
        .filter(|c| c.is_scheme("DPoP"))
        .filter_map(|c| c.param("algs"))
        .flat_map(|a| {
            a.split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    let mut g = Grade::default();
    let bad_prm: Vec<&String> = prm.iter().filter(|a| !asymmetric(a)).collect();
    let bad_challenge: Vec<&String> = challenge.iter().filter(|a| !asymmetric(a)).collect();
    g.assertions.push(assertion(
        Level::Must,
        "PRM dpop_signing_alg_values_supported names asymmetric algorithms only",
        bad_prm.is_empty(),
        format!("also lists {bad_prm:?}"),
    ));
    g.assertions.push(assertion(
        Level::Must,
        "the DPoP challenge's algs names asymmetric algorithms only",
        bad_challenge.is_empty(),
        format!("also lists {bad_challenge:?}"),
    ));
    if !prm.is_empty() && !challenge.is_empty() {
        let (p, c) = (sorted(prm.clone()), sorted(challenge.clone()));
        g.assertions.push(assertion(
            Level::Should,
            "PRM and challenge name the same algorithms",
            p == c,
            format!("PRM {p:?}, challenge {c:?}"),
        ));
    }
    let evidence: Vec<Exchange> = ctx.discovery.exchanges.iter().take(2).cloned().collect();
    let mut outcome = Outcome::from_grade(ALGS.level, &g, evidence);
    if outcome.verdict == Verdict::Pass {
        outcome.evidence.clear();
        outcome.message = format!("PRM {prm:?}, challenge algs {challenge:?}");
    }
    outcome
}

fn assertion(level: Level, requirement: &str, holds: bool, actual: String) -> expect::Assertion {
    expect::Assertion {
        part: Part::DpopAlgs,
        level,
        requirement: requirement.to_owned(),
        holds,
        actual: if holds { String::new() } else { actual },
    }
}

async fn required_consistent(ctx: &Context) -> Outcome {
    if let Some(o) = applicability(ctx).await {
        return o;
    }
    let Some(fx) = fixture(ctx) else {
        return Outcome::undeclared_need();
    };
    if let Err(o) = calibrate(ctx, &fx).await {
        return o;
    }
    // Detected from PRM dpop_bound_access_tokens_required, or declared with --profile dpop.
    if !ctx.profiles.contains(&Profile::Dpop) {
        return Outcome::new(
            Verdict::Pass,
            "neither the PRM (dpop_bound_access_tokens_required) nor the operator (--profile \
             dpop) says DPoP-bound tokens are required; Bearer tokens may be taken",
        );
    }
    let Some(v) = ctx.valid_token() else {
        return Outcome::undeclared_need();
    };
    let exchange = ctx.initialize(&Credential::Bearer(v)).await;
    crate::engine::calibrate::judge(REQUIRED.level, exchange, expect::token_or_dpop_refusal)
}

async fn challenge_shape(ctx: &Context) -> Outcome {
    if let Some(o) = applicability(ctx).await {
        return o;
    }
    let Some(fx) = fixture(ctx) else {
        return Outcome::undeclared_need();
    };
    if let Err(o) = calibrate(ctx, &fx).await {
        return o;
    }
    let bare = ctx.initialize(&Credential::None).await;
    let failed = send(ctx, &fx.request(fx.proof(ctx).htm("PUT"))).await;
    let mut g = Grade::default();
    let dpop = |e: &Exchange| {
        e.response
            .as_ref()
            .ok()
            .and_then(|r| expect::dpop_challenge(r).0)
    };
    let bare_dpop = dpop(&bare);
    let failed_dpop = dpop(&failed);
    let show = |c: &Option<crate::wire::www_authenticate::Challenge>, e: &Exchange| {
        c.as_ref()
            .map(|c| c.to_string())
            .unwrap_or_else(|| format!("no DPoP challenge ({})", observe(e)))
    };
    g.assertions.push(assertion(
        Level::Should,
        "no credentials: a DPoP challenge with algs",
        bare_dpop
            .as_ref()
            .is_some_and(|c| c.param("algs").is_some()),
        show(&bare_dpop, &bare),
    ));
    g.assertions.push(assertion(
        Level::Should,
        "no credentials: the DPoP challenge has no error",
        bare_dpop
            .as_ref()
            .is_some_and(|c| c.param("error").is_none()),
        show(&bare_dpop, &bare),
    ));
    g.assertions.push(assertion(
        Level::Should,
        "no credentials: the DPoP challenge names resource_metadata (OQ-14)",
        bare_dpop
            .as_ref()
            .is_some_and(|c| c.param("resource_metadata").is_some()),
        show(&bare_dpop, &bare),
    ));
    g.assertions.push(assertion(
        Level::Should,
        "failed DPoP request: a DPoP challenge with error",
        failed_dpop
            .as_ref()
            .is_some_and(|c| c.param("error").is_some()),
        show(&failed_dpop, &failed),
    ));
    Outcome::from_grade(CHALLENGE.level, &g, vec![bare, failed])
}

pub fn checks() -> Vec<Check<Context>> {
    vec![
        Check::new(ALGS, |ctx| Box::pin(advertised_algs(ctx))),
        Check::new(REQUIRED, |ctx| Box::pin(required_consistent(ctx))),
        Check::new(CHALLENGE, |ctx| Box::pin(challenge_shape(ctx))),
    ]
}
