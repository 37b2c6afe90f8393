//! The stable contract of a run: check ids, levels, verdicts, exit codes. Every sink
//! (terminal, JSON, JUnit, Markdown, HTML) reads these types and the records built from them.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A stable check id, `<role>.<area>.<name>` (design.md "The core types"), never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct CheckId(&'static str);

/// Why a string is not a check id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("check id {id:?}: {problem}")]
pub struct CheckIdError {
    pub id: String,
    pub problem: &'static str,
}

impl CheckId {
    /// Validates the grammar: role `rs` or `as`, then two or more dot-separated parts of
    /// lower-case letters, digits and `-`.
    pub fn new(id: &'static str) -> Result<Self, CheckIdError> {
        let problem = |problem| CheckIdError {
            id: id.to_owned(),
            problem,
        };
        let parts: Vec<&str> = id.split('.').collect();
        if parts.len() < 3 {
            return Err(problem("needs <role>.<area>.<name>"));
        }
        if Role::from_prefix(parts[0]).is_none() {
            return Err(problem("role must be rs or as"));
        }
        let part_ok = |p: &str| {
            !p.is_empty()
                && !p.starts_with('-')
                && !p.ends_with('-')
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        if !parts.iter().all(|p| part_ok(p)) {
            return Err(problem(
                "parts are lower-case letters, digits and inner '-'",
            ));
        }
        Ok(Self(id))
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }

    pub fn role(&self) -> Role {
        Role::from_prefix(self.0.split('.').next().unwrap_or_default()).unwrap_or(Role::Rs)
    }

    /// The area: the middle part(s), e.g. `token` in `rs.token.aud-wrong`.
    pub fn area(&self) -> &'static str {
        let first = self.0.find('.').map_or(0, |i| i + 1);
        let last = self.0.rfind('.').unwrap_or(self.0.len());
        &self.0[first..last.max(first)]
    }
}

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Which party a check tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The MCP server as an OAuth protected resource.
    Rs,
    /// Its authorization server.
    As,
}

impl Role {
    fn from_prefix(p: &str) -> Option<Self> {
        match p {
            "rs" => Some(Role::Rs),
            "as" => Some(Role::As),
            _ => None,
        }
    }
}

/// How binding the tested requirement is (spec §0.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Level {
    #[serde(rename = "MUST")]
    Must,
    #[serde(rename = "SHOULD")]
    Should,
    #[serde(rename = "MAY")]
    May,
    #[serde(rename = "INFO")]
    Info,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::May => "MAY",
            Level::Info => "INFO",
        }
    }

    /// The verdict a broken requirement of this level earns (design rule 5).
    pub fn broken_verdict(self) -> Verdict {
        match self {
            Level::Must => Verdict::Fail,
            Level::Should => Verdict::Warn,
            Level::May | Level::Info => Verdict::Info,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The MCP specification revisions whose authorization rules the catalogue knows (spec §0.1:
/// V1, V2, V3). Ordered: later revisions compare greater.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SpecVersion {
    #[serde(rename = "2025-06-18")]
    V2025_06_18,
    #[serde(rename = "2025-11-25")]
    V2025_11_25,
    #[serde(rename = "2026-07-28")]
    V2026_07_28,
}

impl SpecVersion {
    pub const ALL: [SpecVersion; 3] = [
        SpecVersion::V2025_06_18,
        SpecVersion::V2025_11_25,
        SpecVersion::V2026_07_28,
    ];
    /// The default of a run: the newest revision.
    pub const NEWEST: SpecVersion = SpecVersion::V2026_07_28;

    pub fn as_str(self) -> &'static str {
        match self {
            SpecVersion::V2025_06_18 => "2025-06-18",
            SpecVersion::V2025_11_25 => "2025-11-25",
            SpecVersion::V2026_07_28 => "2026-07-28",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl fmt::Display for SpecVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A profile a resource server can claim, under which more rows bind (spec §0.1 JWT-AT, DPoP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Profile {
    /// The RFC 9068 JWT access-token profile: `typ` checked, required claims.
    #[serde(rename = "rfc9068")]
    Rfc9068,
    /// DPoP required (RFC 9449, SEP-1932): only DPoP-bound tokens are accepted.
    #[serde(rename = "dpop")]
    Dpop,
}

impl Profile {
    pub const ALL: [Profile; 2] = [Profile::Rfc9068, Profile::Dpop];

    /// The name on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Rfc9068 => "rfc9068",
            Profile::Dpop => "dpop",
        }
    }

    /// The name in a sentence ("would fail under RFC 9068").
    pub fn title(self) -> &'static str {
        match self {
            Profile::Rfc9068 => "the RFC 9068 JWT access-token profile",
            Profile::Dpop => "the DPoP-required profile",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The profiles in force as one line for a report header: `rfc9068, dpop`, or `none declared`.
pub fn profiles_line(profiles: &[Profile]) -> String {
    if profiles.is_empty() {
        "none declared".to_owned()
    } else {
        profiles
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The judgement of one check (design.md "The core types").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    /// A MUST broken.
    Fail,
    /// A SHOULD broken.
    Warn,
    /// Observed only.
    Info,
    /// Not applicable: the target does not claim the capability.
    Skip,
    /// Applicable, but this run cannot test it (always with the reason and the enabling flag).
    NotEvaluated,
    /// Could not judge: a control failed, unreachable, timeout.
    Error,
}

impl Verdict {
    pub const ALL: [Verdict; 7] = [
        Verdict::Pass,
        Verdict::Fail,
        Verdict::Warn,
        Verdict::Info,
        Verdict::Skip,
        Verdict::NotEvaluated,
        Verdict::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Warn => "warn",
            Verdict::Info => "info",
            Verdict::Skip => "skip",
            Verdict::NotEvaluated => "not_evaluated",
            Verdict::Error => "error",
        }
    }

    /// The fixed-width label of the terminal line.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Warn => "WARN",
            Verdict::Info => "INFO",
            Verdict::Skip => "SKIP",
            Verdict::NotEvaluated => "N/E ",
            Verdict::Error => "ERR ",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Named exit codes (design.md "Exit codes"), independent of output format.
pub mod exit {
    /// All applicable MUST checks pass (warnings allowed unless `--strict`).
    pub const SUCCESS: u8 = 0;
    /// Failures or errors, or a stale baseline entry.
    pub const FAILURES: u8 = 1;
    /// Usage or configuration error.
    pub const USAGE: u8 = 2;
    /// The target could not be evaluated at all (unreachable, calibration failed).
    pub const NOT_EVALUATED: u8 = 3;
    /// No check selected.
    pub const NO_CHECKS: u8 = 4;
}

/// Serialises a duration as whole milliseconds.
pub fn duration_ms(d: &Duration) -> u64 {
    d.as_millis().min(u128::from(u64::MAX)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_id_grammar() {
        let id = CheckId::new("rs.token.aud-wrong").unwrap();
        assert_eq!(id.role(), Role::Rs);
        assert_eq!(id.area(), "token");
        assert_eq!(
            CheckId::new("as.pkce.plain-rejected").unwrap().role(),
            Role::As
        );
        for bad in [
            "rs.token",
            "xx.token.a",
            "rs.Token.a",
            "rs..a",
            "rs.token.a-",
            "rs.token.a_b",
        ] {
            assert!(CheckId::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn levels_map_to_verdicts() {
        assert_eq!(Level::Must.broken_verdict(), Verdict::Fail);
        assert_eq!(Level::Should.broken_verdict(), Verdict::Warn);
        assert_eq!(Level::Info.broken_verdict(), Verdict::Info);
        assert_eq!(
            serde_json::to_string(&Verdict::NotEvaluated).unwrap(),
            "\"not_evaluated\""
        );
        assert_eq!(serde_json::to_string(&Level::Must).unwrap(), "\"MUST\"");
    }
}
