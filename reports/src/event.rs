//! The run's event stream (nextest style): run started, check started, check finished, run
//! finished. Every sink consumes the same events, so no two outputs can disagree. Live sinks
//! (the terminal) act on each event; file sinks render the [`Report`] a [`Collector`] builds
//! from the same stream.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{Profile, Verdict};
use crate::record::CheckRecord;

/// What the run is about, known before the first check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInfo {
    pub tool_version: String,
    /// The MCP specification version in force (`--spec-version`).
    pub spec_version: String,
    /// The profiles in force: declared (`--profile`) or detected from the target.
    pub profiles: Vec<Profile>,
    /// What calibration found the target to accept as a valid token, in one line.
    pub calibration: String,
    /// Where the run's valid tokens come from: minted by a mock IdP the target trusts, or a
    /// token source of the target's own authorization server (issue 13), in one line.
    #[serde(default)]
    pub token_source: String,
    /// The MCP endpoint under test.
    pub target: String,
    /// How the target was set up: `embedded demo (compliant)`, `embedded demo (faults: …)`,
    /// `target with the run's mock IdP`.
    pub profile: String,
    /// How many checks were selected.
    pub selected: usize,
    /// When the run started, in seconds since the epoch.
    pub started_unix: i64,
}

/// Counts per verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    counts: BTreeMap<Verdict, usize>,
}

impl Summary {
    pub fn of<'a>(records: impl IntoIterator<Item = &'a CheckRecord>) -> Self {
        let mut summary = Summary::default();
        for r in records {
            *summary.counts.entry(r.verdict).or_default() += 1;
        }
        summary
    }

    pub fn count(&self, verdict: Verdict) -> usize {
        self.counts.get(&verdict).copied().unwrap_or(0)
    }

    pub fn total(&self) -> usize {
        self.counts.values().sum()
    }
}

/// `{"pass": n, …, "total": n}` with every verdict present.
impl Serialize for Summary {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(Verdict::ALL.len() + 1))?;
        for v in Verdict::ALL {
            map.serialize_entry(v.as_str(), &self.count(v))?;
        }
        map.serialize_entry("total", &self.total())?;
        map.end()
    }
}

/// How the run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunEnd {
    pub exit_code: u8,
    /// Why the exit code is what it is, in one sentence.
    pub reason: String,
    pub duration_ms: u64,
}

/// One event of the stream.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    RunStarted(&'a RunInfo),
    CheckStarted { id: &'a str },
    CheckFinished(&'a CheckRecord),
    RunFinished(&'a RunEnd),
}

/// A consumer of the event stream.
pub trait Sink {
    fn event(&mut self, event: &Event<'_>);
}

/// Everything a file sink renders: the whole run, in catalogue order.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub info: RunInfo,
    pub checks: Vec<CheckRecord>,
    pub end: Option<RunEnd>,
}

impl Report {
    pub fn summary(&self) -> Summary {
        Summary::of(&self.checks)
    }

    /// Checks grouped by area (`token`, `prm`, …), areas in first-seen order.
    pub fn by_area(&self) -> Vec<AreaGroup<'_>> {
        let mut areas: Vec<AreaGroup<'_>> = Vec::new();
        for c in &self.checks {
            match areas
                .iter_mut()
                .find(|g| g.role == c.role() && g.area == c.area())
            {
                Some(group) => group.checks.push(c),
                None => areas.push(AreaGroup {
                    role: c.role(),
                    area: c.area(),
                    checks: vec![c],
                }),
            }
        }
        areas
    }
}

/// The checks of one area of one role (`rs.token` and `as.token` are two areas), in run order.
#[derive(Debug, Clone)]
pub struct AreaGroup<'a> {
    /// `rs` or `as`.
    pub role: &'a str,
    /// The middle part of the ids: `token`.
    pub area: &'a str,
    pub checks: Vec<&'a CheckRecord>,
}

impl AreaGroup<'_> {
    /// `rs.token`: unique in a report, unlike the area alone.
    pub fn key(&self) -> String {
        format!("{}.{}", self.role, self.area)
    }
}

/// Builds the [`Report`] from the stream.
#[derive(Debug, Default)]
pub struct Collector {
    report: Option<Report>,
}

impl Collector {
    /// The report so far (`None` before the run started).
    pub fn report(&self) -> Option<&Report> {
        self.report.as_ref()
    }

    pub fn into_report(self) -> Option<Report> {
        self.report
    }
}

impl Sink for Collector {
    fn event(&mut self, event: &Event<'_>) {
        match event {
            Event::RunStarted(info) => {
                self.report = Some(Report {
                    info: (*info).clone(),
                    checks: Vec::new(),
                    end: None,
                });
            }
            Event::CheckStarted { .. } => {}
            Event::CheckFinished(record) => {
                if let Some(r) = &mut self.report {
                    r.checks.push((*record).clone());
                }
            }
            Event::RunFinished(end) => {
                if let Some(r) = &mut self.report {
                    r.end = Some((*end).clone());
                }
            }
        }
    }
}

/// Sends each event to several sinks, in order.
#[derive(Default)]
pub struct Fanout<'s> {
    sinks: Vec<&'s mut dyn Sink>,
}

impl<'s> Fanout<'s> {
    pub fn new(sinks: Vec<&'s mut dyn Sink>) -> Self {
        Self { sinks }
    }
}

impl Sink for Fanout<'_> {
    fn event(&mut self, event: &Event<'_>) {
        for sink in &mut self.sinks {
            sink.event(event);
        }
    }
}
