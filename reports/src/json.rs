//! The JSON report, `schema_version` 1. Its JSON Schema is `reports/schema/report-v1.json`
//! (a test validates real output against it). Fields are only ever added within a version.

use serde_json::{Value, json};

use crate::event::Report;

/// The version of the document's shape.
pub const SCHEMA_VERSION: u32 = 1;

/// The report as a JSON value.
pub fn render(report: &Report) -> Value {
    let info = &report.info;
    let mut doc = json!({
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "mcp-authspec", "version": info.tool_version},
        "spec_version": info.spec_version,
        "profiles": info.profiles,
        "calibration": info.calibration,
        "token_source": info.token_source,
        "target": info.target,
        "profile": info.profile,
        "checks": report.checks.iter().map(|c| {
            let mut check = serde_json::to_value(c).unwrap_or(Value::Null);
            if let Value::Object(map) = &mut check {
                map.insert("role".into(), json!(c.role()));
                map.insert("area".into(), json!(c.area()));
            }
            check
        }).collect::<Vec<_>>(),
        "summary": report.summary(),
    });
    if let (Some(end), Value::Object(map)) = (&report.end, &mut doc) {
        map.insert("exit_code".into(), json!(end.exit_code));
        map.insert("exit_reason".into(), json!(end.reason));
        map.insert("duration_ms".into(), json!(end.duration_ms));
    }
    doc
}

/// The report as pretty-printed JSON text with a final newline.
pub fn render_text(report: &Report) -> String {
    let mut text = serde_json::to_string_pretty(&render(report)).unwrap_or_default();
    text.push('\n');
    text
}
