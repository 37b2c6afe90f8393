//! What a sink knows about one finished check: plain, serialisable data. Records are built by
//! the runner with every secret already replaced by a fingerprint, so no sink can leak one.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{Level, Verdict};

/// Where a requirement comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecRefRecord {
    /// The document, e.g. `RFC 9068` or `MCP 2025-11-25 Authorization`.
    pub source: String,
    pub section: String,
    /// The requirement in one line, in our words.
    pub requirement: String,
    pub url: String,
}

/// A credential seen in an exchange, shown by fingerprint with its decoded, non-secret parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CredentialRecord {
    /// The header that carried it (`authorization`, `dpop`) or `query`/`body`.
    pub carrier: String,
    /// `Bearer`, `DPoP`, … when the carrier has a scheme.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// `sha256:` and 12 hex characters of the credential's SHA-256.
    pub fingerprint: String,
    /// The decoded JOSE header, when the credential is a JWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jose_header: Option<Value>,
    /// The decoded claims, when the credential is a JWS with a JSON payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<Value>,
}

/// The request side of an exchange, redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
}

/// The response side of an exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseRecord {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The start of the body as text (lossy UTF-8).
    pub body: String,
    /// Whether the body was cut (by the tool's size limit or for the report).
    pub truncated: bool,
    /// Set when the target stopped sending before the end of the body (closed or reset the
    /// connection, or ran past the deadline): why, in one sentence. Status and headers are as
    /// received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_incomplete: Option<String>,
}

/// What came back for a request: a response, or why there was none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExchangeOutcome {
    Response(ResponseRecord),
    /// Timeout, connection refused, body too large, …
    Error(String),
}

/// One request and what came back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExchangeRecord {
    pub request: RequestRecord,
    /// Serialised as a `response` or an `error` member.
    #[serde(flatten)]
    pub outcome: ExchangeOutcome,
    pub elapsed_ms: u64,
    /// Set when the request was sent a second time on a new connection because the first
    /// attempt met a connection closed before any answer: that first failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retried_after: Option<String>,
    /// The credentials the request carried, decoded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credentials: Vec<CredentialRecord>,
}

/// A finished check as every sink sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckRecord {
    /// `<role>.<area>.<name>`.
    pub id: String,
    /// The row of spec/requirements.md.
    pub row: String,
    pub title: String,
    pub summary: String,
    pub level: Level,
    pub verdict: Verdict,
    pub message: String,
    /// The acceptable observations.
    pub expected: Vec<String>,
    /// What was observed instead (empty on a pass).
    pub actual: String,
    pub evidence: Vec<ExchangeRecord>,
    pub duration_ms: u64,
    pub refs: Vec<SpecRefRecord>,
    /// CVE ids and bug types the check exercises.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Set when a baseline lists this check: the reason it gives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
}

impl CheckRecord {
    /// `rs` or `as`.
    pub fn role(&self) -> &str {
        self.id.split('.').next().unwrap_or_default()
    }

    /// The middle part(s) of the id: `token` in `rs.token.aud-wrong`.
    pub fn area(&self) -> &str {
        let first = self.id.find('.').map_or(0, |i| i + 1);
        let last = self.id.rfind('.').unwrap_or(self.id.len()).max(first);
        &self.id[first..last]
    }

    /// Whether this check is a problem for the run: a failure or an error, or a warning under
    /// `--strict`, unless a baseline expects it.
    pub fn is_problem(&self, strict: bool) -> bool {
        let bad = match self.verdict {
            Verdict::Fail | Verdict::Error => true,
            Verdict::Warn => strict,
            _ => false,
        };
        bad && self.baseline.is_none()
    }
}

/// The exit code of a finished run (design.md "Exit codes"): no check selected, target not
/// reachable, a problem ([`CheckRecord::is_problem`]) or a stale baseline entry, else success.
pub fn exit_code(records: &[CheckRecord], strict: bool, reachable: bool, stale: usize) -> u8 {
    use crate::model::exit;
    if records.is_empty() {
        exit::NO_CHECKS
    } else if !reachable {
        exit::NOT_EVALUATED
    } else if stale > 0 || records.iter().any(|r| r.is_problem(strict)) {
        exit::FAILURES
    } else {
        exit::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, verdict: Verdict) -> CheckRecord {
        CheckRecord {
            id: id.into(),
            row: "rs-x".into(),
            title: "t".into(),
            summary: "s".into(),
            level: Level::Must,
            verdict,
            message: String::new(),
            expected: vec![],
            actual: String::new(),
            evidence: vec![],
            duration_ms: 0,
            refs: vec![],
            tags: vec![],
            baseline: None,
        }
    }

    #[test]
    fn role_and_area_come_from_the_id() {
        let r = record("rs.token.aud-wrong", Verdict::Pass);
        assert_eq!((r.role(), r.area()), ("rs", "token"));
        let r = record("rs.dpop.nonce.flow", Verdict::Pass);
        assert_eq!(r.area(), "dpop.nonce");
    }

    #[test]
    fn problems_depend_on_verdict_strictness_and_baseline() {
        assert!(record("rs.a.b", Verdict::Fail).is_problem(false));
        assert!(record("rs.a.b", Verdict::Error).is_problem(false));
        assert!(!record("rs.a.b", Verdict::Warn).is_problem(false));
        assert!(record("rs.a.b", Verdict::Warn).is_problem(true));
        assert!(!record("rs.a.b", Verdict::Info).is_problem(true));
        let mut known = record("rs.a.b", Verdict::Fail);
        known.baseline = Some("tracked upstream".into());
        assert!(!known.is_problem(true));
    }

    #[test]
    fn exit_codes_follow_the_design() {
        let pass = [record("rs.a.b", Verdict::Pass)];
        let warn = [record("rs.a.b", Verdict::Warn)];
        assert_eq!(exit_code(&[], false, true, 0), 4);
        assert_eq!(exit_code(&pass, false, false, 0), 3);
        assert_eq!(exit_code(&pass, false, true, 0), 0);
        assert_eq!(exit_code(&pass, false, true, 1), 1, "stale baseline entry");
        assert_eq!(exit_code(&warn, false, true, 0), 0);
        assert_eq!(exit_code(&warn, true, true, 0), 1);
    }
}
