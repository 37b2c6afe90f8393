//! The Markdown summary: short enough for a CI step summary or a pull-request comment. Counts,
//! then each problem with its requirement and a one-line actual; passes are only counted.

use std::fmt::Write as _;

use crate::event::Report;
use crate::model::Verdict;
use crate::record::CheckRecord;

/// Longest `actual` shown in the table; the full text is in the other reports.
const ACTUAL_MAX_CHARS: usize = 160;

/// The report as Markdown.
pub fn render(report: &Report) -> String {
    let summary = report.summary();
    let mut out = String::new();
    let _ = writeln!(out, "## mcp-authspec: {}", escape(&report.info.target));
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{} · MCP {} · profiles: {} · mcp-authspec {}",
        escape(&report.info.profile),
        escape(&report.info.spec_version),
        escape(&crate::model::profiles_line(&report.info.profiles)),
        escape(&report.info.tool_version)
    );
    if !report.info.token_source.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "Token source: {}", escape(&report.info.token_source));
    }
    if !report.info.calibration.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "Calibration: {}", escape(&report.info.calibration));
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "| verdict | checks |");
    let _ = writeln!(out, "|---|---:|");
    for v in Verdict::ALL {
        let n = summary.count(v);
        if n > 0 {
            let _ = writeln!(out, "| {} | {n} |", v.as_str());
        }
    }
    let _ = writeln!(out, "| **total** | **{}** |", summary.total());
    if let Some(end) = &report.end {
        let _ = writeln!(out);
        let _ = writeln!(out, "Exit code {}: {}", end.exit_code, escape(&end.reason));
    }
    let listed: Vec<&CheckRecord> = report
        .checks
        .iter()
        .filter(|c| !matches!(c.verdict, Verdict::Pass))
        .collect();
    if listed.is_empty() {
        return out;
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "| verdict | check | level | requirement | actual |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for c in listed {
        let requirement = c
            .refs
            .first()
            .map(|r| {
                format!(
                    "[{} {}]({}): {}",
                    escape(&r.source),
                    escape(&r.section),
                    r.url,
                    escape(&r.requirement)
                )
            })
            .unwrap_or_default();
        let actual = if c.actual.is_empty() {
            &c.message
        } else {
            &c.actual
        };
        let baseline = c
            .baseline
            .as_ref()
            .map(|reason| format!(" (baseline: {})", escape(reason)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "| {}{baseline} | `{}` | {} | {requirement} | {} |",
            c.verdict.as_str(),
            c.id,
            c.level,
            escape(&shorten(actual, ACTUAL_MAX_CHARS))
        );
    }
    out
}

/// Text safe inside a table cell: no line breaks, pipes, or Markdown/HTML markup.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '\n' | '\r' | '\t' => out.push(' '),
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' => {
                out.push('\\');
                out.push(ch);
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

fn shorten(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max_chars).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cannot_break_the_table_or_inject_markup() {
        assert_eq!(escape("a|b\nc"), "a\\|b c");
        assert_eq!(escape("<script>"), "\\<script\\>");
        assert_eq!(escape("x\u{7}y"), "xy");
        assert_eq!(shorten("abcdef", 3), "abc…");
        assert_eq!(shorten("abc", 3), "abc");
    }
}
