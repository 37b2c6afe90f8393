//! Run output until the report sinks land: one terminal line per check, each non-pass's
//! evidence at the end, and the JSON document (schema_version 1). Evidence is always redacted.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::check::{CheckMeta, Outcome};
use crate::http::Exchange;
use crate::http::redact::{redact_header_value, redact_request};
use crate::model::{Verdict, duration_ms};

/// `PASS  rs.token.aud-wrong  Refuses a token for another audience  [12 ms]`
pub fn line(meta: &CheckMeta, outcome: &Outcome) -> String {
    format!(
        "{}  {:<38} {}  [{} ms]",
        outcome.verdict.label(),
        meta.id,
        meta.title,
        duration_ms(&outcome.duration)
    )
}

/// The redacted form of an exchange, as JSON.
pub fn exchange_json(e: &Exchange) -> Value {
    let request = redact_request(&e.request);
    let response = match &e.response {
        Ok(r) => json!({
            "status": r.status,
            "headers": r.headers.iter().map(|(n, v)| json!([n, redact_header_value(n, v)])).collect::<Vec<_>>(),
            "body": String::from_utf8_lossy(&r.body[..r.body.len().min(4096)]),
            "truncated": r.truncated,
        }),
        Err(err) => json!({ "error": err.to_string() }),
    };
    json!({
        "request": {
            "method": request.method,
            "url": request.url,
            "headers": request.headers.iter().map(|(n, v)| json!([n, v])).collect::<Vec<_>>(),
        },
        "response": response,
        "elapsed_ms": duration_ms(&e.elapsed),
    })
}

/// The block printed for a non-passing check.
pub fn detail(meta: &CheckMeta, outcome: &Outcome) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "── {} {} ({})",
        outcome.verdict.label().trim(),
        meta.id,
        meta.level
    );
    for r in meta.refs {
        let _ = writeln!(
            out,
            "   Requirement: {} {}: {} <{}>",
            r.source, r.section, r.requirement, r.url
        );
    }
    let _ = writeln!(out, "   Verdict:     {}", outcome.message);
    for e in &outcome.expected {
        let _ = writeln!(out, "   Expected:    {e}");
    }
    if !outcome.actual.is_empty() {
        let _ = writeln!(out, "   Actual:      {}", outcome.actual);
    }
    for e in &outcome.evidence {
        let r = redact_request(&e.request);
        let status = match &e.response {
            Ok(resp) => {
                let www = resp.header_values("www-authenticate").join(" | ");
                format!(
                    "HTTP {} {}",
                    resp.status,
                    if www.is_empty() {
                        String::new()
                    } else {
                        format!("WWW-Authenticate: {www}")
                    }
                )
            }
            Err(err) => err.to_string(),
        };
        let auth = r
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("authorization"))
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            out,
            "   Exchange:    {} {} [{}] → {}",
            r.method,
            r.url,
            auth,
            status.trim()
        );
    }
    out
}

/// Counts per verdict.
pub fn summary(results: &[(CheckMeta, Outcome)]) -> Value {
    let mut counts = serde_json::Map::new();
    for v in Verdict::ALL {
        let n = results.iter().filter(|(_, o)| o.verdict == v).count();
        counts.insert(v.as_str().to_owned(), json!(n));
    }
    counts.insert("total".into(), json!(results.len()));
    Value::Object(counts)
}

/// The JSON report, schema_version 1.
pub fn json_report(target: &str, results: &[(CheckMeta, Outcome)]) -> Value {
    json!({
        "schema_version": 1,
        "tool": {"name": "mcp-authspec", "version": env!("CARGO_PKG_VERSION")},
        "target": target,
        "checks": results.iter().map(|(m, o)| json!({
            "id": m.id,
            "title": m.title,
            "level": m.level,
            "verdict": o.verdict,
            "message": o.message,
            "expected": o.expected,
            "actual": o.actual,
            "evidence": o.evidence.iter().map(exchange_json).collect::<Vec<_>>(),
            "duration_ms": duration_ms(&o.duration),
        })).collect::<Vec<_>>(),
        "summary": summary(results),
    })
}
