//! Where a verdict applies (design.md): what this run cannot evaluate, and the level each
//! requirement binds at in the spec version and profiles in force. Decided here, once, for
//! every check; no check repeats it.

use crate::check::{CheckMeta, Need, Outcome, cap};
use crate::engine::accepted::Calibration;
use crate::engine::context::Context;
use crate::engine::runner::Applicability;
use crate::model::{Level, Verdict};

/// The spec row whose check is the positive control itself (spec §1.2 rs-bearer-valid): it
/// reports a failed calibration, which every other token check would otherwise repeat.
const POSITIVE_CONTROL_ROW: &str = "rs-bearer-valid";

impl Applicability for Context {
    fn precluded(&self, meta: &CheckMeta) -> Option<Outcome> {
        let Calibration::Failed(failure) = &self.calibration else {
            return None;
        };
        if meta.row == POSITIVE_CONTROL_ROW {
            return Some(Outcome {
                expected: vec![
                    "[MUST] a valid token signed by the trusted issuer is accepted".into(),
                ],
                actual: failure.describe(),
                ..Outcome::error(failure.describe(), failure.evidence.clone())
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

    fn in_force(&self, meta: &CheckMeta, mut outcome: Outcome) -> Outcome {
        let (level, raised_under) =
            meta.applies
                .level_in_force(meta.level, self.spec_version, &self.profiles);
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
}
