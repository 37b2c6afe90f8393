//! Where a verdict applies (design.md): what this run cannot evaluate, and the level each
//! requirement binds at in the spec version and profiles in force. Decided here, once, for
//! every check; no check repeats it.

use crate::check::{CheckMeta, Need, Outcome, cap};
use crate::engine::accepted::Calibration;
use crate::engine::context::Context;
use crate::engine::runner::Applicability;
use crate::model::{Level, Profile, SpecVersion, Verdict};

/// The spec row whose check is the positive control itself (spec §1.2 rs-bearer-valid): it
/// reports a failed calibration, which every other token check would otherwise repeat.
const POSITIVE_CONTROL_ROW: &str = "rs-bearer-valid";

/// What to run against for checks that need tokens with chosen claims.
pub const MINT_HINT: &str = "run against a server that also trusts `mcp-authspec idp serve` \
                             (README, \"Against your own deployment\")";

impl Context {
    /// Which of the check's needs this run cannot meet, in one sentence naming what would
    /// meet it (design.md: unmet needs give NotEvaluated naming the flag).
    fn unmet_need(&self, meta: &CheckMeta) -> Option<String> {
        if self.idp.is_some() {
            return None;
        }
        let issued = self.issued.as_ref()?;
        let calibrated = match &self.calibration {
            Calibration::Issued(found) => Some(found),
            _ => None,
        };
        meta.needs.iter().find_map(|need| match need {
            Need::MintedToken => Some(format!(
                "needs tokens with chosen claims signed by a key the target trusts, which only \
                 the mock IdP can mint: {MINT_HINT}"
            )),
            Need::Dpop if issued.bound.is_none() => Some(
                "needs DPoP-bound tokens for the tool's key: add --dpop to a grant \
                 (--client-credentials, --device-code, --auth-code)"
                    .to_owned(),
            ),
            Need::JwtAccessToken if calibrated.is_some_and(|c| !c.jwt) => Some(
                "needs a JWT access token to derive stimuli from, and the authorization server \
                 issued an opaque one"
                    .to_owned(),
            ),
            Need::OpaqueAccessToken if calibrated.is_some_and(|c| c.jwt) => Some(
                "needs an opaque access token to derive stimuli from, and the authorization \
                 server issued a JWT (whose alterations the signature checks cover)"
                    .to_owned(),
            ),
            Need::SecondPrincipal if issued.second.is_none() => Some(
                "needs a token for a second subject: add --second-token-env, \
                 --second-token-command or --second-client-id"
                    .to_owned(),
            ),
            Need::OtherResourceToken => match &issued.other_resource {
                None => Some(
                    "needs a real token for another resource: add --other-resource URI (a \
                     resource the authorization server also issues tokens for) to a grant"
                        .to_owned(),
                ),
                Some(other) => other.failure().map(|why| {
                    format!(
                        "the authorization server issued no token for --other-resource {}: {why}",
                        other.resource
                    )
                }),
            },
            _ => None,
        })
    }
}

impl Applicability for Context {
    fn precluded(&self, meta: &CheckMeta) -> Option<Outcome> {
        if let Some(unmet) = self.unmet_need(meta) {
            return Some(Outcome::new(Verdict::NotEvaluated, unmet));
        }
        let (failure, evidence) = self.calibration.failure()?;
        if meta.row == POSITIVE_CONTROL_ROW {
            return Some(Outcome {
                expected: vec![
                    "[MUST] a valid token signed by the trusted issuer is accepted".into(),
                ],
                actual: failure.clone(),
                ..Outcome::error(failure, evidence)
            });
        }
        let needs_token = meta
            .needs
            .iter()
            .any(|n| matches!(n, Need::ValidToken | Need::MintedToken | Need::Dpop));
        needs_token.then(|| {
            Outcome::new(
                Verdict::NotEvaluated,
                "needs a valid token the target accepts, and calibration found none (see \
                 rs.token.bearer-valid for what was tried; --audience, --scope and \
                 --signing-alg fix the valid token's parameters)",
            )
        })
    }

    fn in_force(&self, meta: &CheckMeta, outcome: Outcome) -> Outcome {
        at_level_in_force(meta, outcome, self.spec_version, &self.profiles)
    }
}

/// The outcome at the level the check's requirement binds at in `version` with `profiles`
/// (whatever the role): a Fail or Warn beyond it is lowered, saying what it would have been.
pub(crate) fn at_level_in_force(
    meta: &CheckMeta,
    mut outcome: Outcome,
    version: SpecVersion,
    profiles: &[Profile],
) -> Outcome {
    let (level, raised_under) = meta.applies.level_in_force(meta.level, version, profiles);
    let lowered = cap(outcome.verdict, level);
    if lowered == outcome.verdict {
        return outcome;
    }
    let would = match outcome.verdict {
        Verdict::Fail => "would fail",
        _ => "would warn",
    };
    let condition = raised_under.unwrap_or_else(|| format!("at level {}", meta.level));
    let not_subject = if level == Level::Info {
        ", a rule this run does not hold the target to"
    } else {
        ""
    };
    outcome.message = format!("{would} {condition}{not_subject}: {}", outcome.message);
    outcome.verdict = lowered;
    outcome
}
