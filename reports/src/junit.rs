//! JUnit XML for CI, written with the junit-report crate and valid against the Jenkins JUnit
//! schema (our rewrite of its structure is `fixtures/junit/jenkins-junit.xsd`; a test runs
//! xmllint). One `<testsuite>` per area, one `<testcase classname="mcp-authspec.<role>.<area>"
//! name="<id>">` per check:
//!
//! | verdict | JUnit |
//! |---|---|
//! | Fail | `<failure type="MUST <row>">` with requirement / expected / actual / exchanges |
//! | Error | `<error>` |
//! | Skip, NotEvaluated | `<skipped message=…>` |
//! | Warn | passing case with a `system-out` line and a suite property (`--strict`: `<failure type="SHOULD <row>">`) |
//! | Info | passing case with a `system-out` line |
//! | a failure a baseline expects | `<skipped type="baseline">` with the baseline's reason |
//!
//! junit-report writes no `<properties>`, so they are added to each `<testsuite>` by a
//! quick-xml pass over its output (the schema allows them before the test cases).

use junit_report::{Duration, OffsetDateTime, ReportBuilder, TestCase, TestSuiteBuilder};
use quick_xml::events::{BytesEnd, BytesStart, Event};
use quick_xml::{Reader, Writer};

use crate::event::Report;
use crate::model::Verdict;
use crate::record::CheckRecord;
use crate::terminal;

/// Why the JUnit document could not be written.
#[derive(Debug, thiserror::Error)]
pub enum JunitError {
    #[error("junit-report: {0}")]
    Build(#[from] junit_report::Error),
    #[error("adding properties: {0}")]
    Xml(String),
}

/// The report as a JUnit XML document. `strict` turns warnings into failures.
pub fn render(report: &Report, strict: bool) -> Result<String, JunitError> {
    let timestamp = OffsetDateTime::from_unix_timestamp(report.info.started_unix)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let mut builder = ReportBuilder::new();
    let mut properties = Vec::new();
    for group in report.by_area() {
        let suite_name = format!("mcp-authspec.{}", group.key());
        let checks = group.checks;
        let mut suite_properties = vec![
            ("target".to_owned(), report.info.target.clone()),
            ("tool_version".to_owned(), report.info.tool_version.clone()),
            ("spec_version".to_owned(), report.info.spec_version.clone()),
            (
                "profiles".to_owned(),
                crate::model::profiles_line(&report.info.profiles),
            ),
            ("profile".to_owned(), report.info.profile.clone()),
            ("token_source".to_owned(), report.info.token_source.clone()),
        ];
        let cases: Vec<TestCase> = checks
            .iter()
            .map(|c| {
                if c.verdict == Verdict::Warn && !strict && c.baseline.is_none() {
                    suite_properties.push((format!("warning:{}", c.id), c.message.clone()));
                }
                test_case(c, &suite_name, strict)
            })
            .collect();
        properties.push(suite_properties);
        builder.add_testsuite(
            TestSuiteBuilder::new(&suite_name)
                .set_timestamp(timestamp)
                .add_testcases(cases)
                .build(),
        );
    }
    let mut xml = Vec::new();
    builder.build().write_xml(&mut xml)?;
    add_properties(&xml, &properties)
}

/// Text that XML 1.0 can carry, also inside CDATA: characters XML forbids (most controls,
/// U+FFFE, U+FFFF) become U+FFFD, and `]]>` is split. A hostile target's answer ends up in
/// these strings, and a broken document would lose every result.
pub fn xml_safe(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => '\u{FFFD}',
            c => c,
        })
        .collect();
    clean.replace("]]>", "]] >")
}

fn test_case(c: &CheckRecord, classname: &str, strict: bool) -> TestCase {
    let time = Duration::milliseconds(i64::try_from(c.duration_ms).unwrap_or(i64::MAX));
    let detail = xml_safe(&terminal::detail(c));
    let one_line = xml_safe(&if c.actual.is_empty() {
        c.message.clone()
    } else {
        format!("{} — {}", c.message, c.actual)
    });
    let mut case = match (c.verdict, &c.baseline) {
        (Verdict::Fail | Verdict::Error | Verdict::Warn, Some(reason)) => {
            TestCase::skipped_with_cause(
                &c.id,
                "baseline",
                &xml_safe(&format!("expected by the baseline: {reason}")),
            )
        }
        (Verdict::Fail, None) => {
            let mut t =
                TestCase::failure(&c.id, time, &format!("{} {}", c.level, c.row), &one_line);
            t.set_system_out(&detail);
            t
        }
        (Verdict::Warn, None) if strict => {
            let mut t =
                TestCase::failure(&c.id, time, &format!("{} {}", c.level, c.row), &one_line);
            t.set_system_out(&detail);
            t
        }
        (Verdict::Error, None) => {
            let mut t = TestCase::error(&c.id, time, "could not judge", &one_line);
            t.set_system_out(&detail);
            t
        }
        (Verdict::Skip, _) => TestCase::skipped_with_cause(&c.id, "skip", &xml_safe(&c.message)),
        (Verdict::NotEvaluated, _) => {
            TestCase::skipped_with_cause(&c.id, "not_evaluated", &xml_safe(&c.message))
        }
        (Verdict::Warn, None) => {
            let mut t = TestCase::success(&c.id, time);
            t.set_system_out(&format!("WARN ({} {}): {one_line}", c.level, c.row));
            t
        }
        (Verdict::Info, _) => {
            let mut t = TestCase::success(&c.id, time);
            t.set_system_out(&format!("INFO: {one_line}"));
            t
        }
        (Verdict::Pass, _) => TestCase::success(&c.id, time),
    };
    case.set_classname(classname);
    case
}

/// Inserts a `<properties>` element as the first child of the n-th `<testsuite>`.
fn add_properties(xml: &[u8], per_suite: &[Vec<(String, String)>]) -> Result<String, JunitError> {
    let xml_err = |e: &dyn std::fmt::Display| JunitError::Xml(e.to_string());
    let mut reader = Reader::from_reader(xml);
    let mut writer = Writer::new(Vec::new());
    let mut suite = 0usize;
    let mut buf = Vec::new();
    loop {
        let event = reader.read_event_into(&mut buf).map_err(|e| xml_err(&e))?;
        match event {
            Event::Eof => break,
            Event::Start(start) if start.name().as_ref() == b"testsuite" => {
                writer
                    .write_event(Event::Start(start))
                    .map_err(|e| xml_err(&e))?;
                write_properties(&mut writer, per_suite.get(suite)).map_err(|e| xml_err(&e))?;
                suite += 1;
            }
            Event::Empty(start) if start.name().as_ref() == b"testsuite" => {
                let end = BytesEnd::new("testsuite");
                writer
                    .write_event(Event::Start(start))
                    .map_err(|e| xml_err(&e))?;
                write_properties(&mut writer, per_suite.get(suite)).map_err(|e| xml_err(&e))?;
                writer
                    .write_event(Event::End(end))
                    .map_err(|e| xml_err(&e))?;
                suite += 1;
            }
            other => writer.write_event(other).map_err(|e| xml_err(&e))?,
        }
        buf.clear();
    }
    String::from_utf8(writer.into_inner()).map_err(|e| xml_err(&e))
}

fn write_properties(
    writer: &mut Writer<Vec<u8>>,
    properties: Option<&Vec<(String, String)>>,
) -> std::io::Result<()> {
    let Some(properties) = properties.filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    writer.write_event(Event::Start(BytesStart::new("properties")))?;
    for (name, value) in properties {
        let (name, value) = (xml_safe(name), xml_safe(value));
        let property = BytesStart::new("property")
            .with_attributes([("name", name.as_str()), ("value", value.as_str())]);
        writer.write_event(Event::Empty(property))?;
    }
    writer.write_event(Event::End(BytesEnd::new("properties")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::RunInfo;
    use crate::model::Level;

    fn report(message: &str, verdicts: &[(&str, Verdict)]) -> Report {
        Report {
            info: RunInfo {
                tool_version: "0".into(),
                spec_version: "2025-11-25".into(),
                profiles: Vec::new(),
                calibration: String::new(),
                token_source: String::new(),
                target: "http://127.0.0.1:1/mcp".into(),
                profile: "test".into(),
                selected: verdicts.len(),
                started_unix: 0,
            },
            checks: verdicts
                .iter()
                .map(|(id, verdict)| CheckRecord {
                    id: (*id).into(),
                    row: "rs-row".into(),
                    title: "title".into(),
                    summary: String::new(),
                    level: Level::Must,
                    verdict: *verdict,
                    message: message.into(),
                    expected: vec!["[MUST] 401".into()],
                    actual: message.into(),
                    evidence: vec![],
                    duration_ms: 1,
                    refs: vec![],
                    tags: vec![],
                    baseline: None,
                })
                .collect(),
            end: None,
        }
    }

    /// Every element of the document, read back with a strict XML reader.
    fn elements(xml: &str) -> Vec<String> {
        let mut reader = Reader::from_str(xml);
        let mut names = Vec::new();
        loop {
            match reader.read_event().expect("well-formed XML") {
                Event::Eof => return names,
                Event::Start(e) | Event::Empty(e) => {
                    names.push(String::from_utf8_lossy(e.name().as_ref()).into_owned())
                }
                _ => {}
            }
        }
    }

    #[test]
    fn each_role_and_area_is_its_own_suite() {
        let xml = render(
            &report(
                "m",
                &[
                    ("rs.token.aud-wrong", Verdict::Pass),
                    ("as.token.success-shape", Verdict::Pass),
                    ("as.metadata.jwks", Verdict::Pass),
                ],
            ),
            false,
        )
        .unwrap();
        for suite in [
            "mcp-authspec.rs.token",
            "mcp-authspec.as.token",
            "mcp-authspec.as.metadata",
        ] {
            assert!(xml.contains(&format!(" name=\"{suite}\"")), "{xml}");
        }
        assert!(
            xml.contains(
                "name=\"as.token.success-shape\" time=\"0.001\" classname=\"mcp-authspec.as.token\""
            ),
            "{xml}"
        );
    }

    #[test]
    fn hostile_text_from_a_target_keeps_the_document_well_formed() {
        let hostile = "a\u{0}b\u{1b}[31m ]]> <script>&\"' \u{FFFF}";
        let xml = render(&report(hostile, &[("rs.token.x", Verdict::Fail)]), false).unwrap();
        assert!(!xml.contains('\u{0}') && !xml.contains('\u{1b}') && !xml.contains('\u{FFFF}'));
        let names = elements(&xml);
        assert!(names.contains(&"failure".to_owned()), "{names:?}");
    }

    #[test]
    fn verdicts_map_to_junit_elements_and_strict_fails_warnings() {
        let checks = [
            ("rs.token.fail", Verdict::Fail),
            ("rs.token.error", Verdict::Error),
            ("rs.prm.skip", Verdict::Skip),
            ("rs.prm.ne", Verdict::NotEvaluated),
            ("rs.prm.warn", Verdict::Warn),
        ];
        let lenient = render(&report("m", &checks), false).unwrap();
        let names = elements(&lenient);
        let count = |n: &str| names.iter().filter(|x| *x == n).count();
        assert_eq!(count("testsuite"), 2, "one suite per area");
        assert_eq!(count("failure"), 1);
        assert_eq!(count("error"), 1);
        assert_eq!(count("skipped"), 2);
        assert_eq!(count("properties"), 2);
        assert!(lenient.contains("name=\"warning:rs.prm.warn\""));
        let strict = render(&report("m", &checks), true).unwrap();
        assert_eq!(
            elements(&strict).iter().filter(|x| *x == "failure").count(),
            2
        );
        assert!(strict.contains("type=\"MUST rs-row\""));
    }

    #[test]
    fn a_baseline_turns_an_expected_failure_into_a_skip() {
        let mut r = report("m", &[("rs.token.known", Verdict::Fail)]);
        r.checks[0].baseline = Some("tracked in ticket 7".into());
        let xml = render(&r, true).unwrap();
        assert!(!elements(&xml).contains(&"failure".to_owned()));
        assert!(xml.contains("type=\"baseline\""));
        assert!(xml.contains("tracked in ticket 7"));
    }
}
