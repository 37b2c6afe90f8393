//! The compatibility bed's data and its judgement (design.md, `compat/`).
//!
//! Each folder of `compat/` with a `stack.toml` is a minimal MCP resource server built on a
//! token-validation library we did not write. `expected.toml` beside it lists every check whose
//! verdict on that stack is not Pass, each with `why`: the requirement (spec row, RFC section or
//! open question) that makes the verdict right for this stack, or `TODO: tool bug — …` for a
//! verdict known to be the tool's mistake. `tests/bed.rs` runs the catalogue against every stack
//! and compares.
//!
//! [`authorization_server`] starts a real third-party authorization server (oidc-provider) on
//! loopback for tests of the mode that obtains real tokens (`tests/third_party_as.rs`).

pub mod authorization_server;

pub use authorization_server::{AsOptions, ThirdPartyAs};

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use reports::model::Verdict;
use reports::record::CheckRecord;
use serde::Deserialize;

/// What `why` says when a bless met a verdict nobody has justified yet; it fails the bed.
pub const UNJUSTIFIED: &str = "TODO: justify";

/// One stack, from its `stack.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stack {
    /// The folder name (also the report's file name).
    #[serde(skip)]
    pub name: String,
    #[serde(skip)]
    pub dir: PathBuf,
    /// `npm`, `pypi` or `crates`.
    pub ecosystem: String,
    /// The token-validation library under test and its exact version.
    pub library: String,
    pub version: String,
    /// Everything else the wrapper runs on (framework, HTTP server), with versions.
    pub runs_on: String,
    /// How the library is configured, and where its documentation shows it.
    pub configured: String,
    /// The scope the stack requires on every request, if any.
    #[serde(default)]
    pub scope: Option<String>,
    /// Profiles the stack claims (`rfc9068`: it is an RFC 9068 JWT access-token validator), for
    /// the run to declare once the tool takes `--profile` (issue 12 item 2).
    #[serde(default)]
    pub profiles: Vec<String>,
    /// The command that starts the stack, run in its folder. `{cargo}` stands for the cargo
    /// that runs the bed.
    pub start: Vec<String>,
    /// A path (relative to the folder) that exists once the runtime is installed; a stack
    /// without it is skipped (an error under `CI`). None: always installed (Rust).
    #[serde(default)]
    pub installed: Option<String>,
    /// The command that installs it from its lock file (documentation; `.ci/run` runs it).
    pub install: String,
    /// Seconds to wait for the ready line (a Rust stack may compile first).
    #[serde(default = "default_start_timeout")]
    pub start_timeout: u64,
}

fn default_start_timeout() -> u64 {
    60
}

impl Stack {
    pub fn load(dir: &Path) -> Result<Self, String> {
        let path = dir.join("stack.toml");
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut stack: Stack =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        stack.name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("{}: folder name is not UTF-8", dir.display()))?
            .to_owned();
        stack.dir = dir.to_owned();
        if stack.start.is_empty() {
            return Err(format!("{}: `start` is empty", path.display()));
        }
        Ok(stack)
    }

    /// Every stack under `root` (folders with a `stack.toml`), by name.
    pub fn discover(root: &Path) -> Result<Vec<Self>, String> {
        let mut stacks = Vec::new();
        let entries = std::fs::read_dir(root).map_err(|e| format!("{}: {e}", root.display()))?;
        for entry in entries {
            let dir = entry.map_err(|e| e.to_string())?.path();
            if dir.join("stack.toml").is_file() {
                stacks.push(Self::load(&dir)?);
            }
        }
        stacks.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(stacks)
    }

    /// Whether the runtime is installed (node_modules, a venv), when the stack needs one.
    pub fn is_installed(&self) -> bool {
        self.installed
            .as_ref()
            .is_none_or(|p| self.dir.join(p).exists())
    }

    pub fn expected_path(&self) -> PathBuf {
        self.dir.join("expected.toml")
    }
}

/// One entry of `expected.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub id: String,
    pub verdict: Verdict,
    /// One line: why this verdict is right for this stack (or `TODO: tool bug — …`).
    #[serde(default)]
    pub why: String,
}

impl Entry {
    pub fn is_justified(&self) -> bool {
        let why = self.why.trim();
        !why.is_empty() && why != UNJUSTIFIED
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    check: Vec<Entry>,
}

/// A stack's expected verdicts: every check absent from it is expected to pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expected {
    pub entries: BTreeMap<String, Entry>,
}

impl Expected {
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut entries = BTreeMap::new();
        for entry in file.check {
            if entry.verdict == Verdict::Pass {
                return Err(format!(
                    "{}: a pass is expected by leaving the check out",
                    entry.id
                ));
            }
            if let Some(old) = entries.insert(entry.id.clone(), entry) {
                return Err(format!("{} is listed twice", old.id));
            }
        }
        Ok(Self { entries })
    }

    /// The file at `path`; a missing file expects every check to pass.
    pub fn load(path: &Path) -> Result<Self, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    pub fn verdict(&self, id: &str) -> Verdict {
        self.entries.get(id).map_or(Verdict::Pass, |e| e.verdict)
    }

    /// What a run changed against this file: verdicts that differ, listed checks that did not
    /// run, and entries without a justification.
    pub fn compare(&self, records: &[CheckRecord]) -> Vec<Difference> {
        let mut out = Vec::new();
        for r in records {
            let expected = self.verdict(&r.id);
            let note = if expected != r.verdict {
                one_line(&r.message)
            } else if self.entries.get(&r.id).is_some_and(|e| !e.is_justified()) {
                format!("no justification: replace `why = \"{UNJUSTIFIED}\"`")
            } else {
                continue;
            };
            out.push(Difference {
                id: r.id.clone(),
                expected: Some(expected),
                got: Some(r.verdict),
                note,
            });
        }
        for entry in self.entries.values() {
            if !records.iter().any(|r| r.id == entry.id) {
                out.push(Difference {
                    id: entry.id.clone(),
                    expected: Some(entry.verdict),
                    got: None,
                    note: "no such check ran (renamed or removed?)".into(),
                });
            }
        }
        out
    }

    /// The file a bless writes from `records`: every non-pass with the `why` this file gave it
    /// (kept as long as the verdict is the same), `TODO: justify` for the others.
    pub fn bless(&self, stack: &str, records: &[CheckRecord]) -> String {
        let mut text = format!(
            "# Expected verdicts of the catalogue on the `{stack}` stack: every check not listed passes.\n\
             # `why` cites the requirement (spec row, RFC section or open question) that makes the\n\
             # verdict right for this stack; `TODO: tool bug — …` marks a verdict that is the tool's\n\
             # mistake, to re-bless once fixed. Rewritten by `COMPAT_BLESS=1 cargo test -p compat\n\
             # --test bed` (which keeps every `why` whose verdict stays).\n"
        );
        for r in records.iter().filter(|r| r.verdict != Verdict::Pass) {
            let why = self
                .entries
                .get(&r.id)
                .filter(|e| e.verdict == r.verdict)
                .map_or(UNJUSTIFIED, |e| e.why.as_str());
            let _ = write!(
                text,
                "\n[[check]]\nid = {}\nverdict = {}\nwhy = {}\n",
                toml_string(&r.id),
                toml_string(r.verdict.as_str()),
                toml_string(why)
            );
        }
        text
    }
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// A check whose verdict is not what `expected.toml` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub id: String,
    pub expected: Option<Verdict>,
    pub got: Option<Verdict>,
    /// The outcome's message (first line), or why the entry itself is wrong.
    pub note: String,
}

fn one_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    let mut out: String = line.chars().take(160).collect();
    if out.len() < line.len() || text.lines().nth(1).is_some() {
        out.push('…');
    }
    out
}

/// The differences as an aligned table: check, expected, got, message.
pub fn table(differences: &[Difference]) -> String {
    let label = |v: Option<Verdict>| v.map_or("-", Verdict::as_str);
    let width = differences
        .iter()
        .map(|d| d.id.len())
        .max()
        .unwrap_or(0)
        .max("check".len());
    let mut out = format!(
        "{:<width$}  {:<13}  {:<13}  message\n",
        "check", "expected", "got"
    );
    for d in differences {
        let _ = writeln!(
            out,
            "{:<width$}  {:<13}  {:<13}  {}",
            d.id,
            label(d.expected),
            label(d.got),
            d.note
        );
    }
    out
}

/// How many checks got each verdict, in `Verdict::ALL` order.
pub fn tally(records: &[CheckRecord]) -> [usize; Verdict::ALL.len()] {
    Verdict::ALL.map(|v| records.iter().filter(|r| r.verdict == v).count())
}

/// Verdict counts of a run, in `Verdict::ALL` order, e.g. `pass 120 · fail 2 · warn 5`.
pub fn counts(records: &[CheckRecord]) -> String {
    Verdict::ALL
        .iter()
        .zip(tally(records))
        .filter(|(_, n)| *n > 0)
        .map(|(v, n)| format!("{} {n}", v.as_str()))
        .collect::<Vec<_>>()
        .join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, verdict: Verdict) -> CheckRecord {
        CheckRecord {
            id: id.into(),
            row: String::new(),
            title: String::new(),
            summary: String::new(),
            level: reports::model::Level::Must,
            verdict,
            message: format!("{id} message\nsecond line"),
            expected: vec![],
            actual: String::new(),
            evidence: vec![],
            duration_ms: 1,
            refs: vec![],
            tags: vec![],
            baseline: None,
        }
    }

    const FILE: &str = r#"
[[check]]
id = "rs.a.fail"
verdict = "fail"
why = "RFC 9068 §4: the stack accepts it"

[[check]]
id = "rs.a.warn"
verdict = "warn"
why = "TODO: tool bug — OQ-32"
"#;

    #[test]
    fn a_run_matching_the_file_has_no_difference() {
        let expected = Expected::parse(FILE).unwrap();
        let run = [
            record("rs.a.fail", Verdict::Fail),
            record("rs.a.warn", Verdict::Warn),
            record("rs.a.pass", Verdict::Pass),
        ];
        assert_eq!(expected.compare(&run), []);
    }

    #[test]
    fn every_kind_of_difference_is_found() {
        let expected = Expected::parse(FILE).unwrap();
        let run = [
            record("rs.a.fail", Verdict::Pass),
            record("rs.a.pass", Verdict::Error),
        ];
        let found = expected.compare(&run);
        let ids: Vec<_> = found
            .iter()
            .map(|d| (d.id.as_str(), d.expected, d.got))
            .collect();
        assert_eq!(
            ids,
            [
                ("rs.a.fail", Some(Verdict::Fail), Some(Verdict::Pass)),
                ("rs.a.pass", Some(Verdict::Pass), Some(Verdict::Error)),
                ("rs.a.warn", Some(Verdict::Warn), None),
            ]
        );
        assert_eq!(found[1].note, "rs.a.pass message…");
        let shown = table(&found);
        assert!(shown.starts_with("check      expected"), "{shown}");
        assert!(shown.contains("rs.a.pass  pass           error          rs.a.pass message…"));
    }

    #[test]
    fn an_entry_without_justification_fails_even_when_the_verdict_matches() {
        let expected = Expected::parse(
            "[[check]]\nid = \"rs.a.b\"\nverdict = \"warn\"\nwhy = \"TODO: justify\"\n",
        )
        .unwrap();
        let found = expected.compare(&[record("rs.a.b", Verdict::Warn)]);
        assert_eq!(found.len(), 1);
        assert!(found[0].note.contains("no justification"));
        let missing = Expected::parse("[[check]]\nid = \"rs.a.b\"\nverdict = \"warn\"\n").unwrap();
        assert_eq!(missing.compare(&[record("rs.a.b", Verdict::Warn)]).len(), 1);
    }

    #[test]
    fn the_file_refuses_passes_and_duplicates() {
        assert!(Expected::parse("[[check]]\nid = \"a\"\nverdict = \"pass\"\nwhy = \"x\"").is_err());
        let twice = "[[check]]\nid = \"a\"\nverdict = \"fail\"\nwhy = \"x\"\n[[check]]\nid = \"a\"\nverdict = \"warn\"\nwhy = \"y\"";
        assert!(Expected::parse(twice).unwrap_err().contains("twice"));
        assert!(Expected::parse("[[check]]\nid = \"a\"\nverdict = \"maybe\"").is_err());
    }

    #[test]
    fn bless_keeps_the_reasons_of_unchanged_verdicts_only() {
        let expected = Expected::parse(FILE).unwrap();
        let run = [
            record("rs.a.fail", Verdict::Fail),
            record("rs.a.warn", Verdict::Error),
            record("rs.a.new", Verdict::Info),
            record("rs.a.pass", Verdict::Pass),
        ];
        let text = expected.bless("demo", &run);
        let again = Expected::parse(&text).unwrap();
        assert_eq!(again.entries.len(), 3);
        assert_eq!(
            again.entries["rs.a.fail"].why,
            "RFC 9068 §4: the stack accepts it"
        );
        assert_eq!(again.entries["rs.a.warn"].why, UNJUSTIFIED);
        assert_eq!(again.entries["rs.a.warn"].verdict, Verdict::Error);
        assert_eq!(again.entries["rs.a.new"].why, UNJUSTIFIED);
        assert!(
            again
                .compare(&run)
                .iter()
                .all(|d| d.note.contains("no justification"))
        );
    }

    #[test]
    fn counts_name_only_verdicts_that_occur() {
        let run = [
            record("a", Verdict::Pass),
            record("b", Verdict::Pass),
            record("c", Verdict::Warn),
        ];
        assert_eq!(counts(&run), "pass 2 · warn 1");
    }
}
