//! Every report of a real run (embedded mock IdP and reference server with two faults): the
//! terminal, JSON, JUnit and Markdown agree, match their snapshots (ports, timings, token
//! fingerprints and claim values normalised), the JSON validates against
//! `reports/schema/report-v1.json` and the JUnit against `fixtures/junit/jenkins-junit.xsd`.
//!
//! The validators are external programs (Python's jsonschema, xmllint). Under CI (`CI` set)
//! they must exist; elsewhere a missing one is reported on stderr and that validation skipped.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const CHECKS: &[&str] = &[
    "rs.challenge.no-token",
    "rs.challenge.scope-hint",
    "rs.token.bearer-valid",
    "rs.token.aud-wrong",
    "rs.token.expired",
];

struct Run {
    stdout: String,
    code: Option<i32>,
    dir: PathBuf,
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run_with_every_report() -> Run {
    let dir = std::env::temp_dir().join(format!("reports-{}", mock_idp::random_b64url(8)));
    let mut args = vec![
        "run".to_owned(),
        "--demo-fault".into(),
        "ignore-aud".into(),
        "--demo-fault".into(),
        "no-scope-in-challenge".into(),
        "--concurrency".into(),
        "1".into(),
        "--out".into(),
        dir.display().to_string(),
    ];
    for id in CHECKS {
        args.extend(["--check".to_owned(), (*id).to_owned()]);
    }
    let out: Output = Command::new(env!("CARGO_BIN_EXE_mcp-authspec"))
        .args(&args)
        .output()
        .unwrap();
    Run {
        stdout: String::from_utf8(out.stdout).unwrap(),
        code: out.status.code(),
        dir,
    }
}

/// Replaces what changes from run to run: loopback ports, durations, fingerprints, dates.
fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("127.0.0.1:") {
        out.push_str(&rest[..i + "127.0.0.1:".len()]);
        rest = &rest[i + "127.0.0.1:".len()..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        out.push_str(if digits > 0 { "PORT" } else { "" });
        rest = &rest[digits..];
    }
    out.push_str(rest);
    let mut out = replace_after(&out, "sha256:", |c| c.is_ascii_hexdigit(), "FINGERPRINT");
    for (marker, stop) in [("[", " ms]"), ("time=\"", "\""), ("timestamp=\"", "\"")] {
        out = replace_between(&out, marker, stop, "N");
    }
    out
}

/// Replaces the run of characters matching `keep` after each `marker`.
fn replace_after(text: &str, marker: &str, keep: impl Fn(char) -> bool, with: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(marker) {
        out.push_str(&rest[..i + marker.len()]);
        rest = &rest[i + marker.len()..];
        let n: usize = rest
            .chars()
            .take_while(|c| keep(*c))
            .map(char::len_utf8)
            .sum();
        out.push_str(if n > 0 { with } else { "" });
        rest = &rest[n..];
    }
    out.push_str(rest);
    out
}

/// Replaces the text between `open` and the next `close` when it is a number or a date.
fn replace_between(text: &str, open: &str, close: &str, with: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(open) {
        out.push_str(&rest[..i + open.len()]);
        rest = &rest[i + open.len()..];
        match rest.find(close) {
            Some(j)
                if j > 0
                    && rest[..j]
                        .chars()
                        .all(|c| c.is_ascii_digit() || ".:-TZ".contains(c)) =>
            {
                out.push_str(with);
                rest = &rest[j..];
            }
            _ => {}
        }
    }
    out.push_str(rest);
    out
}

/// The JSON with volatile members replaced, then normalised as text.
fn normalise_json(doc: &Value) -> String {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    match k.as_str() {
                        "duration_ms" | "elapsed_ms" | "iat" | "exp" | "nbf" | "jti" => {
                            *v = Value::String("N".into())
                        }
                        _ => walk(v),
                    }
                }
            }
            // A header pair whose value differs per run.
            Value::Array(pair)
                if pair.len() == 2
                    && pair[0]
                        .as_str()
                        .is_some_and(|n| ["date", "mcp-session-id"].contains(&n)) =>
            {
                pair[1] = Value::String("N".into());
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    let mut doc = doc.clone();
    walk(&mut doc);
    normalise(&serde_json::to_string_pretty(&doc).unwrap())
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Runs an external validator; `Err` when the program is missing (allowed outside CI only).
fn validate(program: &str, args: &[&str]) -> Result<Output, String> {
    match Command::new(program).args(args).output() {
        Ok(out) => Ok(out),
        Err(e) if std::env::var_os("CI").is_none() => Err(format!("{program}: {e}")),
        Err(e) => panic!("{program} is required under CI: {e}"),
    }
}

fn repo_file(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
        .display()
        .to_string()
}

#[test]
fn every_report_of_one_run_agrees_and_matches_its_snapshot() {
    let run = run_with_every_report();
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    let json: Value = serde_json::from_str(&read(&run.dir, "report.json")).unwrap();
    let junit = read(&run.dir, "junit.xml");
    let markdown = read(&run.dir, "summary.md");

    // The sinks agree: the same checks with the same verdicts everywhere.
    let checks = json["checks"].as_array().unwrap();
    assert_eq!(checks.len(), CHECKS.len());
    for c in checks {
        let (id, verdict) = (c["id"].as_str().unwrap(), c["verdict"].as_str().unwrap());
        let label = verdict.to_ascii_uppercase();
        assert!(
            run.stdout
                .lines()
                .any(|l| l.starts_with(&label) && l.contains(id)),
            "terminal line for {id} {verdict}"
        );
        assert!(junit.contains(&format!("name=\"{id}\"")), "junit {id}");
        match verdict {
            "fail" => {
                assert!(markdown.contains(&format!("`{id}`")), "markdown {id}");
                let case = &junit[junit.find(&format!("name=\"{id}\"")).unwrap()..];
                assert!(case[..case.find("</testcase>").unwrap()].contains("<failure"));
            }
            "pass" => assert!(!markdown.contains(&format!("`{id}`")), "{id}"),
            _ => {}
        }
    }
    assert_eq!(json["exit_code"], 1);
    assert_eq!(json["summary"]["total"], CHECKS.len());

    insta::assert_snapshot!("terminal", normalise(&run.stdout));
    insta::assert_snapshot!("json", normalise_json(&json));
    insta::assert_snapshot!("junit", normalise(&junit));
    insta::assert_snapshot!("markdown", normalise(&markdown));
}

#[test]
fn the_json_report_validates_against_its_schema() {
    let run = run_with_every_report();
    let script = "import json, sys, jsonschema\n\
                  schema = json.load(open(sys.argv[1]))\n\
                  jsonschema.Draft202012Validator.check_schema(schema)\n\
                  jsonschema.Draft202012Validator(schema).validate(json.load(open(sys.argv[2])))\n";
    let report = run.dir.join("report.json").display().to_string();
    let schema = repo_file("reports/schema/report-v1.json");
    match validate("python3", &["-c", script, &schema, &report]) {
        Ok(out) => assert!(
            out.status.success(),
            "schema validation failed (pip install jsonschema?): {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(why) => eprintln!("JSON Schema validation skipped: {why}"),
    }
    // The schema is not a formality: a wrong verdict is refused.
    let mut broken: Value = serde_json::from_str(&read(&run.dir, "report.json")).unwrap();
    broken["checks"][0]["verdict"] = "maybe".into();
    let broken_path = run.dir.join("broken.json");
    std::fs::write(&broken_path, broken.to_string()).unwrap();
    if let Ok(out) = validate(
        "python3",
        &["-c", script, &schema, &broken_path.display().to_string()],
    ) {
        assert!(
            !out.status.success(),
            "an unknown verdict must not validate"
        );
    }
}

#[test]
fn the_junit_report_validates_against_the_jenkins_schema() {
    let run = run_with_every_report();
    let junit = run.dir.join("junit.xml").display().to_string();
    let xsd = repo_file("fixtures/junit/jenkins-junit.xsd");
    match validate("xmllint", &["--noout", "--schema", &xsd, &junit]) {
        Ok(out) => assert!(
            out.status.success(),
            "xmllint: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(why) => eprintln!("JUnit schema validation skipped: {why}"),
    }
}
