//! The terminal sink: one aligned line per check as it finishes, then every non-pass again as a
//! block (requirement with section and link, acceptable outcomes, what came back, the redacted
//! exchanges), then the summary with the exit code's reason.

use std::fmt::Write as _;
use std::io::Write;

use crate::event::{Event, RunEnd, RunInfo, Sink, Summary};
use crate::model::Verdict;
use crate::record::{CheckRecord, ExchangeOutcome, ExchangeRecord};

/// Width of the id column: the longest id in the catalogue fits.
const ID_WIDTH: usize = 40;

/// How the terminal looks: colours, and a live progress line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Style {
    /// ANSI colours on the verdict labels.
    pub color: bool,
    /// A `[done/total]` line rewritten in place while checks run (a TTY only).
    pub progress: bool,
}

impl Style {
    /// Plain text: what CI logs and pipes get.
    pub const PLAIN: Style = Style {
        color: false,
        progress: false,
    };

    /// The style for an output: `color` is the user's `--color` choice (`None` = auto);
    /// auto means colours and progress on a terminal only, and never when `NO_COLOR` is set
    /// to a non-empty value (no-color.org).
    pub fn for_output(is_terminal: bool, color: Option<bool>, no_color_env: Option<&str>) -> Self {
        let no_color = no_color_env.is_some_and(|v| !v.is_empty());
        Style {
            color: color.unwrap_or(is_terminal && !no_color),
            progress: is_terminal,
        }
    }
}

/// The verdict label, coloured when asked (the width stays that of the plain label).
pub fn label(verdict: Verdict, color: bool) -> String {
    if !color {
        return verdict.label().to_owned();
    }
    let code = match verdict {
        Verdict::Pass => "32",
        Verdict::Fail => "1;31",
        Verdict::Error => "1;35",
        Verdict::Warn => "33",
        Verdict::Info | Verdict::Skip | Verdict::NotEvaluated => "36",
    };
    format!("\x1b[{code}m{}\x1b[0m", verdict.label())
}

/// `PASS  rs.token.aud-wrong   Refuses a token for another audience  [12 ms]`
pub fn line(c: &CheckRecord) -> String {
    styled_line(c, false)
}

fn styled_line(c: &CheckRecord, color: bool) -> String {
    let baseline = if c.baseline.is_some() {
        " (expected by baseline)"
    } else {
        ""
    };
    format!(
        "{}  {:<ID_WIDTH$} {}  [{} ms]{baseline}",
        label(c.verdict, color),
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
        let _ = writeln!(out, "   Exchange:    {}", exchange_line(e));
    }
    out
}

/// One exchange in one line: `GET <url> [authorization: Bearer sha256:…] → HTTP 401
/// WWW-Authenticate: …`, credentials as fingerprints (the record holds no secret).
pub fn exchange_line(e: &ExchangeRecord) -> String {
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
            let head = if www.is_empty() {
                format!("HTTP {}", r.status)
            } else {
                format!("HTTP {} WWW-Authenticate: {}", r.status, www.join(" | "))
            };
            match &r.body_incomplete {
                Some(why) => format!("{head} (body incomplete: {why})"),
                None => head,
            }
        }
        ExchangeOutcome::Error(err) => err.clone(),
    };
    format!(
        "{} {} [{}] → {answer}",
        e.request.method,
        e.request.url,
        auth.join(", ")
    )
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
    style: Style,
    selected: usize,
    progress_shown: bool,
    finished: Vec<CheckRecord>,
}

impl<W: Write> Terminal<W> {
    /// Plain output (no colours, no progress line).
    pub fn new(out: W, status: StatusLevel, final_status: StatusLevel) -> Self {
        Self::styled(out, status, final_status, Style::PLAIN)
    }

    pub fn styled(out: W, status: StatusLevel, final_status: StatusLevel, style: Style) -> Self {
        Self {
            out,
            status,
            final_status,
            style,
            selected: 0,
            progress_shown: false,
            finished: Vec::new(),
        }
    }

    /// Erases the progress line so the next text starts on a clean line.
    fn clear_progress(&mut self) {
        if self.progress_shown {
            let _ = write!(self.out, "\r\x1b[2K");
            self.progress_shown = false;
        }
    }

    fn show_progress(&mut self) {
        if self.style.progress {
            let failing = self
                .finished
                .iter()
                .filter(|c| matches!(c.verdict, Verdict::Fail | Verdict::Error))
                .count();
            let _ = write!(
                self.out,
                "[{}/{}] checks finished, {failing} failing",
                self.finished.len(),
                self.selected
            );
            let _ = self.out.flush();
            self.progress_shown = true;
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
                target,
                profile,
                selected,
                spec_version,
                profiles,
                calibration,
                token_source,
                ..
            }) => {
                self.selected = *selected;
                let mut text = format!(
                    "Target {target} ({profile})\nMCP {spec_version}, profiles in force: {}\n",
                    crate::model::profiles_line(profiles)
                );
                if !token_source.is_empty() {
                    text.push_str(&format!("Token source: {token_source}\n"));
                }
                if !calibration.is_empty() {
                    text.push_str(&format!("Calibration: {calibration}\n"));
                }
                self.say(&text);
            }
            Event::CheckStarted { .. } => {}
            Event::CheckFinished(record) => {
                self.clear_progress();
                if self.status.shows(record.verdict) {
                    let text = styled_line(record, self.style.color);
                    self.say(&text);
                }
                self.finished.push((*record).clone());
                self.show_progress();
            }
            Event::RunFinished(end) => {
                self.clear_progress();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Level;

    fn record(id: &str, verdict: Verdict) -> CheckRecord {
        CheckRecord {
            id: id.into(),
            row: "rs-row".into(),
            title: "title".into(),
            summary: String::new(),
            level: Level::Must,
            verdict,
            message: "m".into(),
            expected: vec![],
            actual: String::new(),
            evidence: vec![],
            duration_ms: 3,
            refs: vec![],
            tags: vec![],
            baseline: None,
        }
    }

    fn info(selected: usize) -> RunInfo {
        RunInfo {
            tool_version: "0".into(),
            spec_version: "x".into(),
            profiles: Vec::new(),
            calibration: String::new(),
            token_source: String::new(),
            target: "t".into(),
            profile: "p".into(),
            selected,
            started_unix: 0,
        }
    }

    fn run(style: Style, status: StatusLevel) -> String {
        let mut t = Terminal::styled(Vec::new(), status, StatusLevel::NonPass, style);
        t.event(&Event::RunStarted(&info(2)));
        t.event(&Event::CheckFinished(&record("rs.a.pass", Verdict::Pass)));
        t.event(&Event::CheckFinished(&record("rs.a.fail", Verdict::Fail)));
        t.event(&Event::RunFinished(&RunEnd {
            exit_code: 1,
            reason: "1 failed".into(),
            duration_ms: 1,
        }));
        String::from_utf8(t.into_inner()).unwrap()
    }

    #[test]
    fn colour_follows_the_choice_the_terminal_and_no_color() {
        assert!(Style::for_output(true, None, None).color);
        assert!(!Style::for_output(false, None, None).color);
        assert!(!Style::for_output(true, None, Some("1")).color);
        assert!(Style::for_output(true, None, Some("")).color);
        assert!(Style::for_output(false, Some(true), Some("1")).color);
        assert!(!Style::for_output(true, Some(false), None).color);
        assert!(!Style::for_output(false, Some(true), None).progress);
    }

    #[test]
    fn plain_output_has_no_escape_codes_and_styled_output_has_them() {
        let plain = run(Style::PLAIN, StatusLevel::All);
        assert!(!plain.contains('\x1b'), "{plain:?}");
        assert!(plain.contains("PASS  rs.a.pass"));
        let styled = run(
            Style {
                color: true,
                progress: true,
            },
            StatusLevel::All,
        );
        assert!(styled.contains("\x1b[1;31mFAIL\x1b[0m"), "{styled:?}");
        assert!(styled.contains("[2/2] checks finished, 1 failing"));
        // Every progress line is erased before anything else is written.
        for (at, _) in styled.match_indices(" failing") {
            assert!(
                styled[at + " failing".len()..].starts_with("\r\x1b[2K"),
                "{styled:?}"
            );
        }
    }

    #[test]
    fn status_levels_choose_the_lines() {
        let fails_only = run(Style::PLAIN, StatusLevel::Fail);
        assert!(!fails_only.contains("PASS  rs.a.pass"));
        assert!(fails_only.contains("FAIL  rs.a.fail"));
        assert!(fails_only.contains("── FAIL rs.a.fail"), "final block");
        let none = run(Style::PLAIN, StatusLevel::None);
        assert!(!none.contains("FAIL  rs.a.fail"));
        assert!(none.contains("Exit 1: 1 failed."));
    }
}
