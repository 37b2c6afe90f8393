//! The terminal sink: one aligned line per check as it finishes, then every non-pass again as a
//! block (requirement with section and link, acceptable outcomes, what came back, the redacted
//! exchanges), then the summary with the exit code's reason.

use std::fmt::Write as _;
use std::io::Write;

use crate::event::{Event, RunEnd, RunInfo, Sink, Summary};
use crate::model::Verdict;
use crate::record::{CheckRecord, ExchangeOutcome};

/// Width of the id column: the longest id in the catalogue fits.
const ID_WIDTH: usize = 40;

/// `PASS  rs.token.aud-wrong   Refuses a token for another audience  [12 ms]`
pub fn line(c: &CheckRecord) -> String {
    let baseline = if c.baseline.is_some() {
        " (expected by baseline)"
    } else {
        ""
    };
    format!(
        "{}  {:<ID_WIDTH$} {}  [{} ms]{baseline}",
        c.verdict.label(),
        c.id,
        c.title,
        c.duration_ms
    )
}

/// The block shown for a non-passing check.
pub fn detail(c: &CheckRecord) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "── {} {} ({})",
        c.verdict.label().trim(),
        c.id,
        c.level
    );
    for r in &c.refs {
        let _ = writeln!(
            out,
            "   Requirement: {} {}: {} <{}>",
            r.source, r.section, r.requirement, r.url
        );
    }
    if let Some(reason) = &c.baseline {
        let _ = writeln!(out, "   Baseline:    {reason}");
    }
    let _ = writeln!(out, "   Verdict:     {}", c.message);
    for e in &c.expected {
        let _ = writeln!(out, "   Expected:    {e}");
    }
    if !c.actual.is_empty() {
        let _ = writeln!(out, "   Actual:      {}", c.actual);
    }
    for e in &c.evidence {
        let auth: Vec<String> = e
            .credentials
            .iter()
            .map(|cr| match &cr.scheme {
                Some(scheme) => format!("{}: {scheme} {}", cr.carrier, cr.fingerprint),
                None => format!("{}: {}", cr.carrier, cr.fingerprint),
            })
            .collect();
        let answer = match &e.outcome {
            ExchangeOutcome::Response(r) => {
                let www: Vec<&str> = r
                    .headers
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case("www-authenticate"))
                    .map(|(_, v)| v.as_str())
                    .collect();
                if www.is_empty() {
                    format!("HTTP {}", r.status)
                } else {
                    format!("HTTP {} WWW-Authenticate: {}", r.status, www.join(" | "))
                }
            }
            ExchangeOutcome::Error(err) => err.clone(),
        };
        let _ = writeln!(
            out,
            "   Exchange:    {} {} [{}] → {answer}",
            e.request.method,
            e.request.url,
            auth.join(", ")
        );
    }
    out
}

/// The closing summary: counts, what was not evaluated and why, the exit code's reason.
pub fn summary(records: &[CheckRecord], end: &RunEnd) -> String {
    let s = Summary::of(records);
    let mut out = format!(
        "{} checks: {} pass, {} fail, {} warn, {} error, {} not evaluated, {} skip, {} info.",
        s.total(),
        s.count(Verdict::Pass),
        s.count(Verdict::Fail),
        s.count(Verdict::Warn),
        s.count(Verdict::Error),
        s.count(Verdict::NotEvaluated),
        s.count(Verdict::Skip),
        s.count(Verdict::Info)
    );
    for c in records
        .iter()
        .filter(|c| c.verdict == Verdict::NotEvaluated)
    {
        let _ = write!(out, "\n  not evaluated: {} — {}", c.id, c.message);
    }
    let _ = write!(out, "\nExit {}: {}.", end.exit_code, end.reason);
    out
}

/// Which checks the terminal shows (nextest's `--status-level` / `--final-status-level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StatusLevel {
    /// Nothing.
    None,
    /// Failures and errors.
    Fail,
    /// … and warnings.
    Warn,
    /// … and info, skip and not evaluated.
    NonPass,
    /// Every check.
    All,
}

impl StatusLevel {
    pub fn shows(self, verdict: Verdict) -> bool {
        let needed = match verdict {
            Verdict::Fail | Verdict::Error => StatusLevel::Fail,
            Verdict::Warn => StatusLevel::Warn,
            Verdict::Info | Verdict::Skip | Verdict::NotEvaluated => StatusLevel::NonPass,
            Verdict::Pass => StatusLevel::All,
        };
        self >= needed
    }
}

/// Writes to any output; write errors (a closed pipe) are ignored so a run never dies of them.
pub struct Terminal<W: Write> {
    out: W,
    status: StatusLevel,
    final_status: StatusLevel,
    finished: Vec<CheckRecord>,
}

impl<W: Write> Terminal<W> {
    pub fn new(out: W, status: StatusLevel, final_status: StatusLevel) -> Self {
        Self {
            out,
            status,
            final_status,
            finished: Vec::new(),
        }
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    fn say(&mut self, text: &str) {
        let _ = writeln!(self.out, "{text}");
    }
}

impl<W: Write> Sink for Terminal<W> {
    fn event(&mut self, event: &Event<'_>) {
        match event {
            Event::RunStarted(RunInfo {
                target, profile, ..
            }) => {
                let text = format!("Target {target} ({profile})\n");
                self.say(&text);
            }
            Event::CheckStarted { .. } => {}
            Event::CheckFinished(record) => {
                if self.status.shows(record.verdict) {
                    self.say(&line(record));
                }
                self.finished.push((*record).clone());
            }
            Event::RunFinished(end) => {
                let blocks: Vec<String> = self
                    .finished
                    .iter()
                    .filter(|c| c.verdict != Verdict::Pass && self.final_status.shows(c.verdict))
                    .map(detail)
                    .collect();
                if !blocks.is_empty() {
                    self.say("");
                    for block in blocks {
                        let _ = write!(self.out, "{block}");
                    }
                }
                let text = summary(&self.finished, end);
                self.say("");
                self.say(&text);
            }
        }
    }
}
