//! SARIF 2.1.0 (OASIS), for code scanning: one rule per check of the run, one result per
//! failure, warning and error. A test validates real output against the OASIS schema.
//!
//! | verdict | result |
//! |---|---|
//! | Fail, Error | `level: error` |
//! | Warn | `level: warning` |
//! | Pass, Info, Skip, NotEvaluated | none (the rule is still listed) |
//! | Fail, Warn or Error a baseline expects | the same, with an external suppression giving the baseline's reason |
//!
//! A check tests a deployed server, not a line of source, but code scanning refuses a whole
//! upload when one result has no location with a file path ("expected at least one location",
//! "expected artifact location") or has a URL with a scheme as that path. So each result's
//! physical location is the target as a relative path (`mcp.example/mcp`, `127.0.0.1_8080/mcp`),
//! line 1, and its logical location the target URL itself.

use serde_json::{Value, json};

use crate::event::Report;
use crate::model::{Level, Verdict, exit};
use crate::record::{CheckRecord, DocsSite, docs_page};
use crate::terminal::exchange_line;
use crate::utc::UtcTime;

/// The SARIF version written.
pub const SARIF_VERSION: &str = "2.1.0";

/// The OASIS schema of [`SARIF_VERSION`] (errata 01), as the document's `$schema`.
pub const SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The name of each result's one partial fingerprint: check id and target, so code scanning
/// keeps one alert per check and server across runs.
pub const FINGERPRINT: &str = "mcpAuthspecCheckTarget/v1";

/// Exchanges written into a result's message; the other reports hold them all.
const MESSAGE_EXCHANGES_MAX: usize = 10;

/// The report as a SARIF log, linking check pages at `docs`.
pub fn log(report: &Report, docs: &DocsSite) -> Value {
    let info = &report.info;
    let rules: Vec<Value> = report.checks.iter().map(|c| rule(c, docs)).collect();
    let results: Vec<Value> = report
        .checks
        .iter()
        .enumerate()
        .filter_map(|(index, c)| result(c, index, &info.target))
        .collect();
    json!({
        "$schema": SCHEMA_URI,
        "version": SARIF_VERSION,
        "runs": [{
            "tool": {"driver": {
                "name": "mcp-authspec",
                "version": info.tool_version,
                "semanticVersion": info.tool_version,
                "informationUri": docs.uri("README.md"),
                "rules": rules,
            }},
            "invocations": [invocation(report)],
            "results": results,
        }],
    })
}

/// The report as pretty-printed SARIF text with a final newline.
pub fn render(report: &Report, docs: &DocsSite) -> String {
    let mut text = serde_json::to_string_pretty(&log(report, docs)).unwrap_or_default();
    text.push('\n');
    text
}

/// A rule's default level: how much breaking the check's requirement matters.
pub fn rule_level(level: Level) -> &'static str {
    match level {
        Level::Must => "error",
        Level::Should => "warning",
        Level::May | Level::Info => "note",
    }
}

/// A result's level, or `None` for the verdicts that get no result.
pub fn result_level(verdict: Verdict) -> Option<&'static str> {
    match verdict {
        Verdict::Fail | Verdict::Error => Some("error"),
        Verdict::Warn => Some("warning"),
        Verdict::Pass | Verdict::Info | Verdict::Skip | Verdict::NotEvaluated => None,
    }
}

/// SARIF's `name` is an identifier: the id in PascalCase (`rs.token.aud-wrong` →
/// `RsTokenAudWrong`).
pub fn rule_name(id: &str) -> String {
    id.split(['.', '-'])
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

/// Where a result is, for code scanning: the target's host, port and path as a relative path
/// (no scheme, user information or query; `:` and anything outside a path's plain characters
/// become `_`).
pub fn target_path(target: &str) -> String {
    let without_scheme = target.split_once("://").map_or(target, |(_, rest)| rest);
    let without_query = without_scheme
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .trim_end_matches('/');
    let authority_end = without_query.find('/').unwrap_or(without_query.len());
    let without_query = match without_query[..authority_end].rfind('@') {
        Some(at) => &without_query[at + 1..],
        None => without_query,
    };
    let path: String = without_query
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-._~/%".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if path.is_empty() {
        "target".to_owned()
    } else {
        path
    }
}

fn rule(c: &CheckRecord, docs: &DocsSite) -> Value {
    let mut tags = c.tags.clone();
    tags.extend([c.role().to_owned(), c.area().to_owned()]);
    let full_description = if c.summary.is_empty() {
        &c.title
    } else {
        &c.summary
    };
    json!({
        "id": c.id,
        "name": rule_name(&c.id),
        "shortDescription": {"text": c.title},
        "fullDescription": {"text": full_description},
        "defaultConfiguration": {"level": rule_level(c.level)},
        "help": {"text": help_text(c), "markdown": help_markdown(c, docs)},
        "helpUri": docs.page_uri(&c.id),
        "properties": {
            "tags": tags,
            "role": c.role(),
            "area": c.area(),
            "requirementLevel": c.level,
            "row": c.row,
        },
    })
}

fn help_text(c: &CheckRecord) -> String {
    let mut text = format!("{} ({}, catalogue row {})", c.title, c.level, c.row);
    for r in &c.refs {
        text.push_str(&format!(
            "\nRequirement: {} {}: {} <{}>",
            r.source, r.section, r.requirement, r.url
        ));
    }
    text.push_str(&format!("\nCatalogue page: {}", docs_page(&c.id)));
    text
}

fn help_markdown(c: &CheckRecord, docs: &DocsSite) -> String {
    use crate::markdown::escape;
    let mut text = format!(
        "**{}** ({}, catalogue row {})\n",
        escape(&c.title),
        c.level,
        escape(&c.row)
    );
    for r in &c.refs {
        text.push_str(&format!(
            "\n- [{} {}]({}): {}",
            escape(&r.source),
            escape(&r.section),
            r.url,
            escape(&r.requirement)
        ));
    }
    text.push_str(&format!(
        "\n\nCatalogue page: [{}]({})\n",
        docs_page(&c.id),
        docs.page_uri(&c.id)
    ));
    text
}

fn result(c: &CheckRecord, rule_index: usize, target: &str) -> Option<Value> {
    let level = result_level(c.verdict)?;
    let mut result = json!({
        "ruleId": c.id,
        "ruleIndex": rule_index,
        "level": level,
        "message": {"text": message(c)},
        "locations": [{
            "physicalLocation": {
                "artifactLocation": {"uri": target_path(target)},
                "region": {"startLine": 1},
            },
            "logicalLocations": [{"kind": "resource", "fullyQualifiedName": target}],
        }],
        "partialFingerprints": {FINGERPRINT: format!("{}|{target}", c.id)},
        "properties": {
            "verdict": c.verdict,
            "expected": c.expected,
            "actual": c.actual,
        },
    });
    if let (Some(reason), Value::Object(map)) = (&c.baseline, &mut result) {
        // The baseline file is a suppression kept outside the scanned source.
        map.insert(
            "suppressions".into(),
            json!([{"kind": "external", "status": "accepted", "justification": reason}]),
        );
    }
    Some(result)
}

/// The one plain sentence of what the target did, then the exchanges that show it. Never
/// empty: code scanning refuses a result without message text.
fn message(c: &CheckRecord) -> String {
    let mut text = [&c.message, &c.actual, &c.title]
        .into_iter()
        .find(|text| !text.is_empty())
        .cloned()
        .unwrap_or_else(|| c.id.clone());
    for e in c.evidence.iter().take(MESSAGE_EXCHANGES_MAX) {
        text.push_str("\nExchange: ");
        text.push_str(&exchange_line(e));
    }
    if c.evidence.len() > MESSAGE_EXCHANGES_MAX {
        text.push_str(&format!(
            "\n… and {} more exchanges (in the JSON and HTML reports)",
            c.evidence.len() - MESSAGE_EXCHANGES_MAX
        ));
    }
    text
}

/// The run as SARIF sees it: whether the tool did its job (it judged the target, whatever the
/// verdicts), the exit code and its reason, the times, and the run's header.
fn invocation(report: &Report) -> Value {
    let info = &report.info;
    let mut invocation = json!({
        "executionSuccessful": execution_successful(report),
        "startTimeUtc": UtcTime::from_unix(info.started_unix).rfc3339(),
        "properties": {
            "target": info.target,
            "profile": info.profile,
            "specVersion": info.spec_version,
            "profiles": info.profiles,
            "calibration": info.calibration,
            "tokenSource": info.token_source,
            "selected": info.selected,
            "summary": report.summary(),
        },
    });
    let (Some(end), Value::Object(map)) = (&report.end, &mut invocation) else {
        return invocation;
    };
    let seconds = i64::try_from(end.duration_ms.div_ceil(1000)).unwrap_or(i64::MAX);
    let end_time = UtcTime::from_unix(info.started_unix.saturating_add(seconds));
    map.insert("endTimeUtc".into(), json!(end_time.rfc3339()));
    map.insert("exitCode".into(), json!(end.exit_code));
    map.insert("exitCodeDescription".into(), json!(end.reason));
    if !execution_successful(report) {
        map.insert(
            "toolExecutionNotifications".into(),
            json!([{"level": "error", "message": {"text": end.reason}}]),
        );
    }
    invocation
}

/// A run that judged its checks succeeded as an execution, failures or not; one that could not
/// reach the target, selected nothing or has not finished did not.
fn execution_successful(report: &Report) -> bool {
    report
        .end
        .as_ref()
        .is_some_and(|end| matches!(end.exit_code, exit::SUCCESS | exit::FAILURES))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{RunEnd, RunInfo};
    use crate::record::{
        ExchangeOutcome, ExchangeRecord, RequestRecord, ResponseRecord, sample_check,
    };

    fn check(id: &str, level: Level, verdict: Verdict) -> CheckRecord {
        let mut check = sample_check(id, verdict, level);
        check.message = format!("what {id} saw");
        check.tags = vec!["CVE-2015-9235".into()];
        check.evidence = vec![ExchangeRecord {
            request: RequestRecord {
                method: "POST".into(),
                url: "https://mcp.example:8443/mcp".into(),
                headers: vec![],
            },
            outcome: ExchangeOutcome::Response(ResponseRecord {
                status: 200,
                headers: vec![("www-authenticate".into(), "Bearer".into())],
                body: String::new(),
                truncated: false,
                body_incomplete: None,
            }),
            elapsed_ms: 1,
            retried_after: None,
            credentials: vec![],
        }];
        check
    }

    fn report(checks: Vec<CheckRecord>, exit_code: u8) -> Report {
        Report {
            info: RunInfo {
                tool_version: "1.2.3".into(),
                spec_version: "2026-07-28".into(),
                profiles: vec![],
                calibration: "ES256".into(),
                token_source: "mock IdP".into(),
                target: "https://mcp.example:8443/mcp?x=1".into(),
                profile: "target".into(),
                selected: checks.len(),
                started_unix: 1_796_674_055,
            },
            checks,
            end: Some(RunEnd {
                exit_code,
                reason: "1 failed, 1 errored".into(),
                duration_ms: 1500,
            }),
        }
    }

    fn every_verdict() -> Report {
        report(
            vec![
                check("rs.token.pass", Level::Must, Verdict::Pass),
                check("rs.token.fail", Level::Must, Verdict::Fail),
                check("rs.challenge.warn", Level::Should, Verdict::Warn),
                check("rs.token.error", Level::Must, Verdict::Error),
                check("rs.prm.info", Level::Info, Verdict::Info),
                check("rs.prm.skip", Level::May, Verdict::Skip),
                check("rs.dpop.ne", Level::Must, Verdict::NotEvaluated),
            ],
            exit::FAILURES,
        )
    }

    #[test]
    fn one_rule_per_check_and_one_result_per_problem() {
        let log = log(&every_verdict(), &DocsSite::SourceTree);
        let run = &log["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        assert_eq!(rules.len(), 7);
        let levels: Vec<&str> = rules
            .iter()
            .map(|r| r["defaultConfiguration"]["level"].as_str().unwrap())
            .collect();
        assert_eq!(
            levels,
            [
                "error", "error", "warning", "error", "note", "note", "error"
            ]
        );
        let results: Vec<(&str, u64, &str, &str)> = run["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["ruleId"].as_str().unwrap(),
                    r["ruleIndex"].as_u64().unwrap(),
                    r["level"].as_str().unwrap(),
                    r["properties"]["verdict"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            results,
            [
                ("rs.token.fail", 1, "error", "fail"),
                ("rs.challenge.warn", 2, "warning", "warn"),
                ("rs.token.error", 3, "error", "error"),
            ]
        );
    }

    #[test]
    fn rules_describe_the_check_and_link_its_catalogue_page() {
        let log = log(&every_verdict(), &DocsSite::SourceTree);
        let rule = &log["runs"][0]["tool"]["driver"]["rules"][1];
        assert_eq!(rule["id"], "rs.token.fail");
        assert_eq!(rule["name"], "RsTokenFail");
        assert_eq!(rule["shortDescription"]["text"], "title of rs.token.fail");
        assert_eq!(rule["fullDescription"]["text"], "what it checks");
        let help_uri = rule["helpUri"].as_str().unwrap();
        assert!(
            help_uri.starts_with("file:///") && help_uri.ends_with("/docs/checks/rs.token.fail.md"),
            "{help_uri}"
        );
        assert_eq!(
            help_uri,
            DocsSite::SourceTree.page_uri("rs.token.fail"),
            "the HTML links the same"
        );
        let published = DocsSite::published(
            url::Url::parse("https://forge.example/o/mcp-authspec/blob/abc123").unwrap(),
        );
        let log = super::log(&every_verdict(), &published);
        let driver = &log["runs"][0]["tool"]["driver"];
        assert_eq!(
            driver["rules"][1]["helpUri"],
            "https://forge.example/o/mcp-authspec/blob/abc123/docs/checks/rs.token.fail.md"
        );
        assert_eq!(
            driver["informationUri"],
            "https://forge.example/o/mcp-authspec/blob/abc123/README.md"
        );
        let markdown = rule["help"]["markdown"].as_str().unwrap();
        assert!(
            markdown.contains("[RFC 6750 §3](https://www.rfc-editor.org/rfc/rfc6750#section-3)")
        );
        assert!(rule["help"]["text"].as_str().unwrap().contains("MUST"));
        assert_eq!(
            rule["properties"]["tags"],
            json!(["CVE-2015-9235", "rs", "token"])
        );
    }

    #[test]
    fn results_carry_the_sentence_the_exchange_a_location_and_a_fingerprint() {
        let log = log(&every_verdict(), &DocsSite::SourceTree);
        let result = &log["runs"][0]["results"][0];
        assert_eq!(
            result["message"]["text"],
            "what rs.token.fail saw\nExchange: POST https://mcp.example:8443/mcp [] → HTTP 200 WWW-Authenticate: Bearer"
        );
        let location = &result["locations"][0];
        assert_eq!(
            location["physicalLocation"]["artifactLocation"]["uri"],
            "mcp.example_8443/mcp"
        );
        assert_eq!(
            location["logicalLocations"][0]["fullyQualifiedName"],
            "https://mcp.example:8443/mcp?x=1"
        );
        assert_eq!(
            result["partialFingerprints"][FINGERPRINT],
            "rs.token.fail|https://mcp.example:8443/mcp?x=1"
        );
        assert!(result.get("suppressions").is_none());
    }

    #[test]
    fn a_baselined_problem_is_an_external_suppression() {
        let mut known = check("rs.token.known", Level::Must, Verdict::Fail);
        known.baseline = Some("tracked in ticket 7".into());
        let log = log(&report(vec![known], exit::SUCCESS), &DocsSite::SourceTree);
        let suppression = &log["runs"][0]["results"][0]["suppressions"][0];
        assert_eq!(suppression["kind"], "external");
        assert_eq!(suppression["justification"], "tracked in ticket 7");
    }

    #[test]
    fn the_invocation_says_whether_the_target_was_judged() {
        let log = log(&every_verdict(), &DocsSite::SourceTree);
        let invocation = &log["runs"][0]["invocations"][0];
        assert_eq!(invocation["executionSuccessful"], true);
        assert_eq!(invocation["exitCode"], 1);
        assert_eq!(invocation["startTimeUtc"], "2026-12-07T20:07:35Z");
        assert_eq!(invocation["endTimeUtc"], "2026-12-07T20:07:37Z");
        assert_eq!(invocation["properties"]["summary"]["fail"], 1);
        assert!(invocation.get("toolExecutionNotifications").is_none());

        let unreachable = report(vec![], exit::NOT_EVALUATED);
        let invocation =
            &super::log(&unreachable, &DocsSite::SourceTree)["runs"][0]["invocations"][0];
        assert_eq!(invocation["executionSuccessful"], false);
        assert_eq!(
            invocation["toolExecutionNotifications"][0]["message"]["text"],
            "1 failed, 1 errored"
        );
    }

    #[test]
    fn names_and_paths_are_what_code_scanning_takes() {
        assert_eq!(
            rule_name("rs.dpop.nonce.htm-mismatch"),
            "RsDpopNonceHtmMismatch"
        );
        assert_eq!(
            target_path("http://127.0.0.1:8080/mcp/"),
            "127.0.0.1_8080/mcp"
        );
        assert_eq!(target_path("http://[::1]:9/a b"), "___1__9/a_b");
        assert_eq!(target_path("https://mcp.example"), "mcp.example");
        assert_eq!(
            target_path("https://u:p@mcp.example/a@b"),
            "mcp.example/a_b"
        );
        assert_eq!(target_path(""), "target");
        assert_eq!(rule_level(Level::May), "note");
        assert_eq!(result_level(Verdict::Info), None);
    }
}
