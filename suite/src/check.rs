//! A check: its metadata next to its logic (zizmor style), and what it concludes.

use std::time::Duration;

use crate::expect::Grade;
use crate::http::{Exchange, RecordedResponse};
use crate::model::{CheckId, Level, Profile, SpecVersion, Verdict};
use crate::sentence;

/// Where a requirement comes from: document, section, the requirement in one line, a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecRef {
    pub source: &'static str,
    pub section: &'static str,
    pub requirement: &'static str,
    pub url: &'static str,
}

/// What a check needs from the run to be evaluated at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Need {
    /// Only anonymous requests.
    Anonymous,
    /// A valid token (from any source).
    ValidToken,
    /// Tokens minted with chosen defects: the target must trust the embedded mock IdP.
    MintedToken,
    /// DPoP-bound tokens for the tool's key (minted, or `--dpop` with a grant).
    Dpop,
    /// A tool call whose side effect is observable.
    Canary,
    /// A JWT access token (stimuli derived from a real token need its JWS form).
    JwtAccessToken,
    /// An opaque access token (stimuli derived from a real opaque token).
    OpaqueAccessToken,
    /// A token for a second subject (the cross-user checks).
    SecondPrincipal,
    /// A valid token of the trusted issuer for another resource (minted, or a grant's token
    /// for `--other-resource`).
    OtherResourceToken,
    /// An OAuth client of the authorization server under test (`as.*` rows that send
    /// authorization requests): the mock IdP's own, or `--client-id` with `--redirect-uri`.
    AsClient,
    /// A wait longer than the authorization server's code lifetime (`--code-expiry-wait`).
    CodeExpiryWait,
}

/// Where a requirement binds at the check's `level` (design.md "Where a verdict applies"):
/// always, only under a profile the target claims, or only in some MCP revisions. Elsewhere
/// it binds at `otherwise` (INFO for a rule the target is not subject to: "would fail under
/// …"). Read once per check by the runner; checks grade at their full `level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applies {
    Always,
    UnderProfile {
        profile: Profile,
        otherwise: Level,
    },
    InVersions {
        versions: &'static [SpecVersion],
        otherwise: Level,
    },
}

impl Applies {
    /// Where the requirement binds, in words ("always", "under the RFC 9068 JWT access-token
    /// profile; otherwise INFO").
    pub fn describe(self) -> String {
        match self {
            Applies::Always => "always".to_owned(),
            Applies::UnderProfile { profile, otherwise } => {
                format!(
                    "under {} (--profile {profile}); otherwise {otherwise}",
                    profile.title()
                )
            }
            Applies::InVersions {
                versions,
                otherwise,
            } => {
                let names: Vec<&str> = versions.iter().map(|v| v.as_str()).collect();
                format!("in MCP {}; otherwise {otherwise}", names.join(", "))
            }
        }
    }

    /// `version` and `profiles` changed as little as needed for the requirement to bind at
    /// its own level (to demonstrate or prove it): its profile added, or its newest version.
    pub fn binding(
        self,
        version: SpecVersion,
        mut profiles: Vec<Profile>,
    ) -> (SpecVersion, Vec<Profile>) {
        match self {
            Applies::Always => (version, profiles),
            Applies::UnderProfile { profile, .. } => {
                if !profiles.contains(&profile) {
                    profiles.push(profile);
                }
                (version, profiles)
            }
            Applies::InVersions { versions, .. } => {
                let version = if versions.contains(&version) {
                    version
                } else {
                    versions.last().copied().unwrap_or(version)
                };
                (version, profiles)
            }
        }
    }

    /// The level in force for a run of `version` with `profiles`, and, when it is weaker than
    /// the check's own, the condition that would raise it.
    pub fn level_in_force(
        self,
        level: Level,
        version: SpecVersion,
        profiles: &[Profile],
    ) -> (Level, Option<String>) {
        match self {
            Applies::Always => (level, None),
            Applies::UnderProfile { profile, otherwise } => {
                if profiles.contains(&profile) {
                    (level, None)
                } else {
                    (otherwise, Some(format!("under {}", profile.title())))
                }
            }
            Applies::InVersions {
                versions,
                otherwise,
            } => {
                if versions.contains(&version) {
                    (level, None)
                } else {
                    let names: Vec<&str> = versions.iter().map(|v| v.as_str()).collect();
                    (otherwise, Some(format!("under MCP {}", names.join(" or "))))
                }
            }
        }
    }
}

/// Everything about a check except its logic.
#[derive(Debug, Clone, Copy)]
pub struct CheckMeta {
    pub id: &'static str,
    /// The row id in the requirement catalogue (`rs-aud-wrong`).
    pub row: &'static str,
    pub title: &'static str,
    pub summary: &'static str,
    /// The level the check grades at, where the requirement binds fully.
    pub level: Level,
    /// Where it binds at that level; elsewhere the runner lowers the verdict.
    pub applies: Applies,
    /// How long the check may run, when longer than the run's per-check deadline (a check
    /// that waits out a target's cache).
    pub deadline: Option<std::time::Duration>,
    pub refs: &'static [SpecRef],
    pub needs: &'static [Need],
    /// CVE ids and bug types the check exercises.
    pub tags: &'static [&'static str],
    /// Reference-server fault profiles that make this check fail (proven by a test).
    pub broken_by: &'static [&'static str],
}

impl CheckMeta {
    /// The validated id; a malformed id is a programming error caught by the catalogue test.
    pub fn check_id(&self) -> CheckId {
        CheckId::new(self.id).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// What a check concluded, with the evidence that proves it.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub verdict: Verdict,
    pub message: String,
    /// The acceptable observations.
    pub expected: Vec<String>,
    /// What was observed instead (empty on a pass).
    pub actual: String,
    pub evidence: Vec<Exchange>,
    pub duration: Duration,
}

impl Outcome {
    /// What a check concludes when the run cannot give what it needs although the runner let
    /// it run: its `needs` are incomplete, a bug in mcp-authspec (the runner decides
    /// applicability from declared needs, design.md).
    pub fn undeclared_need() -> Self {
        Outcome::error(
            "a bug in mcp-authspec: this check needs tokens this run cannot give, and its \
             declared needs do not say so",
            Vec::new(),
        )
    }

    pub fn new(verdict: Verdict, message: impl Into<String>) -> Self {
        Self {
            verdict,
            message: message.into(),
            expected: Vec::new(),
            actual: String::new(),
            evidence: Vec::new(),
            duration: Duration::ZERO,
        }
    }

    /// The outcome of a grade about documents or several exchanges, for a check of `level`: a
    /// broken sub-assertion never earns more than the check's own level allows. A non-pass
    /// names the broken requirements (the worst first) with what each saw.
    pub fn from_grade(level: Level, grade: &Grade, evidence: Vec<Exchange>) -> Self {
        let verdict = cap(grade.verdict(), level);
        let (message, actual) = match verdict {
            Verdict::Pass => (sentence::about_grade(grade), String::new()),
            _ => (sentence::about_grade(grade), sentence::observed(grade)),
        };
        Self {
            verdict,
            message,
            expected: grade.expected(),
            actual,
            evidence,
            duration: Duration::ZERO,
        }
    }

    /// The outcome of grading one response: the message says in one sentence what the server
    /// did to `stimulus` (when the check names it) and what was due; Actual is what came back.
    pub fn from_response(
        level: Level,
        grade: &Grade,
        stimulus: Option<&str>,
        response: &RecordedResponse,
        evidence: Vec<Exchange>,
    ) -> Self {
        let verdict = cap(grade.verdict(), level);
        let actual = match verdict {
            Verdict::Pass => String::new(),
            _ => sentence::actual(grade, response),
        };
        Self {
            verdict,
            message: sentence::about_response(grade, stimulus, response),
            expected: grade.expected(),
            actual,
            evidence,
            duration: Duration::ZERO,
        }
    }

    /// Could not judge (a control failed, unreachable, timeout).
    pub fn error(message: impl Into<String>, evidence: Vec<Exchange>) -> Self {
        Self {
            evidence,
            ..Self::new(Verdict::Error, message)
        }
    }
}

/// A SHOULD-level check cannot Fail, an INFO-level check cannot Warn (design rule 5).
pub(crate) fn cap(verdict: Verdict, level: Level) -> Verdict {
    match (verdict, level) {
        (Verdict::Fail, Level::Should) => Verdict::Warn,
        (Verdict::Fail | Verdict::Warn, Level::May | Level::Info) => Verdict::Info,
        (v, _) => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_caps_the_verdict() {
        assert_eq!(cap(Verdict::Fail, Level::Must), Verdict::Fail);
        assert_eq!(cap(Verdict::Fail, Level::Should), Verdict::Warn);
        assert_eq!(cap(Verdict::Warn, Level::Info), Verdict::Info);
        assert_eq!(cap(Verdict::Pass, Level::Info), Verdict::Pass);
        assert_eq!(cap(Verdict::Error, Level::Should), Verdict::Error);
    }
}
