//! Baselines: known failures, each with a mandatory reason (in the spirit of the official MCP
//! conformance suite's expected-failures file). A listed failure is reported as expected and
//! does not fail the run; an unlisted one does; a listed entry whose checks now all pass is
//! stale and fails the run, so a baseline can only shrink.
//!
//! ```toml
//! [[expected]]
//! check = "rs.token.aud-*"      # a check id or a glob
//! reason = "audience check lands with the v2 gateway (ticket 12)"
//! ```

use serde::{Deserialize, Serialize};

use crate::glob::Glob;
use crate::model::Verdict;
use crate::record::CheckRecord;

/// Why a baseline file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BaselineError {
    #[error("baseline is not valid TOML: {0}")]
    Syntax(String),
    #[error("baseline entry {index} ({check:?}) has no reason: every known failure says why")]
    MissingReason { index: usize, check: String },
    #[error(
        "baseline entry {index}: {check:?} is not a check id or glob (lower-case letters, digits, '.', '-', '*', '?')"
    )]
    BadPattern { index: usize, check: String },
}

/// One known failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// A check id or a glob over ids.
    pub check: String,
    /// Why the failure is expected (mandatory).
    pub reason: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    #[serde(default)]
    expected: Vec<Entry>,
}

/// A parsed baseline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Baseline {
    entries: Vec<Entry>,
}

/// A baseline entry that no longer describes a failure: every check it matched passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleEntry {
    pub check: String,
    pub reason: String,
    /// The checks it matched in this run, all passing now.
    pub now_passing: Vec<String>,
}

/// Whether a verdict is a failure a baseline can expect.
fn is_failure(verdict: Verdict) -> bool {
    matches!(verdict, Verdict::Fail | Verdict::Error | Verdict::Warn)
}

impl Baseline {
    pub fn parse(text: &str) -> Result<Self, BaselineError> {
        let file: File = toml::from_str(text).map_err(|e| BaselineError::Syntax(e.to_string()))?;
        for (index, entry) in file.expected.iter().enumerate() {
            let pattern_ok = !entry.check.is_empty()
                && entry
                    .check
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-*?".contains(&b));
            if !pattern_ok {
                return Err(BaselineError::BadPattern {
                    index,
                    check: entry.check.clone(),
                });
            }
            if entry.reason.trim().is_empty() {
                return Err(BaselineError::MissingReason {
                    index,
                    check: entry.check.clone(),
                });
            }
        }
        Ok(Self {
            entries: file.expected,
        })
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Marks a failing record with the reason of the first entry that matches it (done as
    /// each check finishes, so every sink shows the failure as expected).
    pub fn mark(&self, record: &mut CheckRecord) {
        if !is_failure(record.verdict) || record.baseline.is_some() {
            return;
        }
        if let Some(entry) = self
            .entries
            .iter()
            .find(|e| Glob::new(&e.check).matches(&record.id))
        {
            record.baseline = Some(entry.reason.clone());
        }
    }

    /// The entries whose checks all passed in this run. An entry that matches no check of
    /// the run (not selected) is not stale: the run says nothing about it.
    pub fn stale(&self, records: &[CheckRecord]) -> Vec<StaleEntry> {
        self.entries
            .iter()
            .filter_map(|entry| {
                let glob = Glob::new(&entry.check);
                let matched: Vec<&CheckRecord> =
                    records.iter().filter(|r| glob.matches(&r.id)).collect();
                let all_pass =
                    !matched.is_empty() && matched.iter().all(|r| r.verdict == Verdict::Pass);
                all_pass.then(|| StaleEntry {
                    check: entry.check.clone(),
                    reason: entry.reason.clone(),
                    now_passing: matched.iter().map(|r| r.id.clone()).collect(),
                })
            })
            .collect()
    }

    /// [`Self::mark`] on every record, then [`Self::stale`].
    pub fn apply(&self, records: &mut [CheckRecord]) -> Vec<StaleEntry> {
        records.iter_mut().for_each(|r| self.mark(r));
        self.stale(records)
    }

    /// A baseline listing every failing check of a run, each with `reason`.
    pub fn from_failures(records: &[CheckRecord], reason: &str) -> Self {
        Self {
            entries: records
                .iter()
                .filter(|r| is_failure(r.verdict))
                .map(|r| Entry {
                    check: r.id.clone(),
                    reason: reason.to_owned(),
                })
                .collect(),
        }
    }

    /// The baseline as TOML, with a header saying how it is used.
    pub fn to_toml(&self) -> String {
        let file = File {
            expected: self.entries.clone(),
        };
        let body = toml::to_string(&file).unwrap_or_default();
        format!(
            "# mcp-authspec baseline: known failures, each with the reason it is expected.\n\
             # Listed failures do not fail a run; a listed check that passes again does (stale).\n\
             # Use with: mcp-authspec run --baseline <this file>\n\n{body}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Level;

    fn record(id: &str, verdict: Verdict) -> CheckRecord {
        CheckRecord {
            id: id.into(),
            row: String::new(),
            title: String::new(),
            summary: String::new(),
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
    fn listed_failures_are_expected_unlisted_ones_are_not_and_passing_entries_are_stale() {
        let baseline = Baseline::parse(
            r#"
            [[expected]]
            check = "rs.token.aud-*"
            reason = "ticket 12"

            [[expected]]
            check = "rs.prm.shape"
            reason = "fixed last week?"

            [[expected]]
            check = "rs.dpop.*"
            reason = "not selected in this run"
            "#,
        )
        .unwrap();
        let mut records = vec![
            record("rs.token.aud-wrong", Verdict::Fail),
            record("rs.token.aud-missing", Verdict::Pass),
            record("rs.token.expired", Verdict::Fail),
            record("rs.prm.shape", Verdict::Pass),
        ];
        let stale = baseline.apply(&mut records);
        assert_eq!(records[0].baseline.as_deref(), Some("ticket 12"));
        assert!(!records[0].is_problem(true));
        assert_eq!(records[1].baseline, None, "a pass is not marked");
        assert!(records[2].is_problem(false), "unlisted failure");
        assert_eq!(stale.len(), 1);
        assert_eq!(stale[0].check, "rs.prm.shape");
        assert_eq!(stale[0].now_passing, ["rs.prm.shape"]);
    }

    #[test]
    fn reasons_are_mandatory_and_patterns_checked() {
        let missing = "[[expected]]\ncheck = \"rs.token.x\"\nreason = \"  \"\n";
        assert!(matches!(
            Baseline::parse(missing),
            Err(BaselineError::MissingReason { index: 0, .. })
        ));
        let no_reason_key = "[[expected]]\ncheck = \"rs.token.x\"\n";
        assert!(matches!(
            Baseline::parse(no_reason_key),
            Err(BaselineError::Syntax(_))
        ));
        let bad = "[[expected]]\ncheck = \"rs token\"\nreason = \"r\"\n";
        assert!(matches!(
            Baseline::parse(bad),
            Err(BaselineError::BadPattern { .. })
        ));
        assert!(matches!(
            Baseline::parse("expected = 3"),
            Err(BaselineError::Syntax(_))
        ));
        assert_eq!(Baseline::parse("").unwrap().entries().len(), 0);
    }

    #[test]
    fn written_baselines_parse_back_and_list_every_failure() {
        let records = vec![
            record("rs.token.aud-wrong", Verdict::Fail),
            record("rs.token.expired", Verdict::Pass),
            record("rs.challenge.scope-hint", Verdict::Warn),
            record("rs.session.cross-user", Verdict::Error),
        ];
        let written = Baseline::from_failures(&records, "known \"quoted\" reason").to_toml();
        let parsed = Baseline::parse(&written).unwrap();
        let ids: Vec<&str> = parsed.entries().iter().map(|e| e.check.as_str()).collect();
        assert_eq!(
            ids,
            [
                "rs.token.aud-wrong",
                "rs.challenge.scope-hint",
                "rs.session.cross-user"
            ]
        );
        assert_eq!(parsed.entries()[0].reason, "known \"quoted\" reason");
    }
}
