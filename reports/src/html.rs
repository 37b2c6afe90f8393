//! The HTML report: one self-contained file a person opens offline. Summary (counts, exit code
//! and its reason, what was tested), filters by verdict, area and level, then every check with
//! its requirement, the acceptable outcomes, what came back and its exchanges, credentials shown
//! by fingerprint with their decoded JOSE header and claims.
//!
//! Safety: everything a record holds may come from a hostile target (response bodies, headers,
//! error texts), so every string is HTML-escaped and control characters are made visible; no
//! record data ever goes inside the `<script>` element. A Content-Security-Policy forbids every
//! fetch (no fonts, images, styles or scripts by URL) and lets only [`SCRIPT`] run, by its hash.
//! The page is complete without JavaScript; the script only wires the filters.

use std::fmt::Write as _;

use serde_json::Value;

use crate::event::Report;
use crate::model::{Level, Verdict, profiles_line};
use crate::record::{CheckRecord, CredentialRecord, DocsSite, ExchangeOutcome, ExchangeRecord};
use crate::utc::UtcTime;

/// The only script of the page: wires the filters and buttons, then sets
/// `document.body.dataset.ready = "1"` (a browser test reads that marker). It reads record
/// data only from `data-*` attributes and contains no `<`, so it can never close itself.
pub const SCRIPT: &str = r#"
(function () {
  "use strict";
  var form = document.getElementById("filters");
  var checks = [].slice.call(document.querySelectorAll("details.check"));
  var areas = [].slice.call(document.querySelectorAll("section.area"));
  var shown = document.getElementById("shown");
  function boxes(name) {
    return [].slice.call(form.querySelectorAll("input[name=" + name + "]"));
  }
  function chosen(name) {
    var set = {};
    boxes(name).forEach(function (box) { if (box.checked) { set[box.value] = true; } });
    return set;
  }
  function apply() {
    var v = chosen("verdict"), r = chosen("role"), a = chosen("area"), l = chosen("level"), n = 0;
    checks.forEach(function (c) {
      var show = !!(v[c.dataset.verdict] && r[c.dataset.role] && a[c.dataset.area] &&
        l[c.dataset.level]);
      c.hidden = !show;
      if (show) { n += 1; }
    });
    areas.forEach(function (s) {
      s.hidden = !s.querySelector("details.check:not([hidden])");
    });
    shown.textContent = n + " of " + checks.length + " checks shown";
  }
  function everything() {
    ["verdict", "role", "area", "level"].forEach(function (name) {
      boxes(name).forEach(function (box) { box.checked = true; });
    });
    apply();
  }
  function expand(open) {
    [].forEach.call(document.querySelectorAll("main details"), function (d) { d.open = open; });
  }
  var actions = {
    problems: function () {
      boxes("verdict").forEach(function (box) {
        box.checked = box.value === "fail" || box.value === "error" || box.value === "warn";
      });
      apply();
    },
    all: everything,
    expand: function () { expand(true); },
    collapse: function () { expand(false); }
  };
  function reveal() {
    var id = decodeURIComponent(location.hash.slice(1));
    var target = id ? document.getElementById(id) : null;
    if (target && target.classList.contains("check")) {
      if (target.hidden) { everything(); }
      target.open = true;
      target.scrollIntoView();
    }
  }
  form.addEventListener("change", apply);
  form.addEventListener("submit", function (e) { e.preventDefault(); });
  form.addEventListener("click", function (e) {
    var act = e.target.getAttribute("data-action");
    if (act && actions.hasOwnProperty(act)) { actions[act](); }
  });
  window.addEventListener("hashchange", reveal);
  form.hidden = false;
  apply();
  reveal();
  document.body.dataset.ready = "1";
})();
"#;

/// The CSP source of [`SCRIPT`]: `'sha256-<base64 of its SHA-256>'`. A suite test recomputes
/// it and headless Chromium refuses to run the script when it is stale.
pub const SCRIPT_CSP_HASH: &str = "'sha256-xjJxJzHuJ440hLRFFq6ZoIB4ajKEvBtYbNwr52sn3O8='";

const STYLE: &str = r#"
:root{--fg:#1f2328;--bg:#fff;--muted:#59636e;--line:#d1d9e0;--code:#f6f8fa;
--pass:#1a7f37;--fail:#cf222e;--warn:#9a6700;--info:#0969da;--skip:#6e7781;--ne:#8250df;--error:#bc4c00}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--muted:#9198a1;--line:#3d444d;
--code:#151b23;--pass:#238636;--fail:#da3633;--warn:#9e6a03;--info:#1f6feb;--skip:#656c76;--ne:#8957e5;--error:#bd561d}}
*{box-sizing:border-box}
[hidden]{display:none!important}
body{margin:0 auto;max-width:76rem;padding:1rem 1.25rem 3rem;font:15px/1.45 system-ui,sans-serif;color:var(--fg);background:var(--bg)}
a{color:var(--info)}
h1{font-size:1.4rem;margin:.2rem 0 .7rem}
h2{font-size:1.1rem;margin:1.3rem 0 .5rem;padding-bottom:.2rem;border-bottom:1px solid var(--line)}
h2 small,.muted{color:var(--muted);font-weight:normal}
h3{font-size:.95rem;margin:.8rem 0 .3rem}
h4{font-size:.8rem;margin:.5rem 0 .1rem;color:var(--muted);text-transform:uppercase;letter-spacing:.03em}
code,pre,.mono{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{background:var(--code);border:1px solid var(--line);border-radius:4px;padding:.45rem .6rem;margin:.2rem 0;
overflow:auto;white-space:pre-wrap;overflow-wrap:anywhere;max-height:30rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.3rem 0}
dt{color:var(--muted);font-weight:600}
dd{margin:0;min-width:0;overflow-wrap:anywhere}
dd ul{margin:0;padding-left:1.1rem}
.counts{display:flex;flex-wrap:wrap;gap:.5rem;list-style:none;padding:0;margin:.6rem 0}
.counts li{border:1px solid var(--line);border-left-width:5px;border-radius:5px;padding:.2rem .7rem;min-width:6.5rem}
.counts b{display:block;font-size:1.35rem}
.counts li.zero{opacity:.5}
.exit{font-weight:600;padding:.4rem .7rem;border-radius:5px;border:1px solid var(--line);border-left:5px solid var(--fail)}
.exit.ok{border-left-color:var(--pass)}
ul.problems{list-style:none;padding:0;margin:.4rem 0}
ul.problems li{margin:.15rem 0}
.badge{display:inline-block;min-width:3.7rem;text-align:center;font:600 12px/1.7 ui-monospace,monospace;color:#fff;border-radius:4px;padding:0 .3rem}
.v-pass{--v:var(--pass)}.v-fail{--v:var(--fail)}.v-warn{--v:var(--warn)}.v-info{--v:var(--info)}
.v-skip{--v:var(--skip)}.v-not_evaluated{--v:var(--ne)}.v-error{--v:var(--error)}
.badge{background:var(--v)}.counts li{border-left-color:var(--v,var(--line))}
#filters{display:flex;flex-wrap:wrap;gap:.4rem 1.4rem;align-items:center;border:1px solid var(--line);border-radius:6px;padding:.5rem .8rem;margin:1rem 0}
#filters fieldset{border:0;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:.1rem .8rem;align-items:center}
#filters legend{float:left;font-weight:600;padding:0;margin-right:.2rem}
#filters label{white-space:nowrap}
#filters button{font:inherit;font-size:.85rem;padding:.1rem .5rem}
#shown{color:var(--muted);margin:0}
details.check{border:1px solid var(--line);border-radius:6px;margin:.35rem 0}
details.check>summary{cursor:pointer;padding:.35rem .6rem;display:flex;flex-wrap:wrap;gap:.2rem .7rem;align-items:baseline}
details.check[open]>summary{border-bottom:1px solid var(--line)}
summary .title{flex:1 1 18rem}
summary .level,summary .ms{color:var(--muted);font-size:.85em}
.check .body{padding:.3rem .9rem .7rem}
.check .about{margin:.2rem 0 .4rem;color:var(--muted)}
details.exchange{border-left:3px solid var(--line);margin:.45rem 0;padding-left:.6rem}
details.exchange>summary{cursor:pointer;font:13px/1.5 ui-monospace,monospace;overflow-wrap:anywhere}
.decoded{display:grid;grid-template-columns:repeat(auto-fit,minmax(17rem,1fr));gap:0 .7rem}
.cred{margin:.4rem 0}
"#;

/// A non-passing check shows its exchanges opened when it has at most this many.
const OPEN_EXCHANGES_MAX: usize = 3;

/// Longest body excerpt shown; records are already bounded, this keeps the page light anyway.
const BODY_MAX_CHARS: usize = 16 * 1024;

/// The report as one self-contained HTML5 document.
pub fn render(report: &Report, docs: &DocsSite) -> String {
    let info = &report.info;
    let mut out = String::with_capacity(64 * 1024 + report.checks.len() * 4096);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"mcp-authspec {}\">\n\
         <title>mcp-authspec: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(&content_security_policy()),
        esc(&info.tool_version),
        esc(&info.target)
    );
    let _ = writeln!(out, "<header>\n<h1>mcp-authspec report</h1>");
    let _ = writeln!(out, "<dl class=\"run\">");
    let mut fact = |name: &str, value: &str| {
        let _ = writeln!(out, "<dt>{name}</dt><dd>{value}</dd>");
    };
    fact("Target", &format!("<code>{}</code>", esc(&info.target)));
    fact("Profile", &esc(&info.profile));
    fact("MCP specification", &esc(&info.spec_version));
    fact("Profiles in force", &esc(&profiles_line(&info.profiles)));
    fact("Token source", &esc(&info.token_source));
    fact("Calibration", &esc(&info.calibration));
    fact("Tool", &format!("mcp-authspec {}", esc(&info.tool_version)));
    fact(
        "Started",
        &UtcTime::from_unix(info.started_unix).to_string(),
    );
    if let Some(end) = &report.end {
        fact("Duration", &format!("{} ms", end.duration_ms));
    }
    fact("Checks selected", &info.selected.to_string());
    let _ = writeln!(out, "</dl>\n</header>");
    summary(&mut out, report);
    filters(&mut out, report);
    let _ = writeln!(out, "<main>");
    for group in report.by_area() {
        let checks = group.checks.clone();
        let _ = writeln!(
            out,
            "<section class=\"area\" data-area=\"{a}\">\n<h2>{a} <small>{n} check{s}</small></h2>",
            a = esc(&group.key()),
            n = checks.len(),
            s = if checks.len() == 1 { "" } else { "s" }
        );
        for c in checks {
            check(&mut out, c, docs);
        }
        let _ = writeln!(out, "</section>");
    }
    let _ = writeln!(out, "</main>\n<script>{SCRIPT}</script>\n</body>\n</html>");
    out
}

/// No fetch of any kind; inline style; only [`SCRIPT`] may run.
fn content_security_policy() -> String {
    format!(
        "default-src 'none'; script-src {SCRIPT_CSP_HASH}; style-src 'unsafe-inline'; \
         base-uri 'none'; form-action 'none'"
    )
}

fn summary(out: &mut String, report: &Report) {
    let counts = report.summary();
    let _ = writeln!(
        out,
        "<section id=\"summary\" aria-label=\"Summary\">\n<h2>Summary</h2>"
    );
    match &report.end {
        Some(end) => {
            let _ = writeln!(
                out,
                "<p class=\"exit{}\">Exit code {}: {}</p>",
                if end.exit_code == 0 { " ok" } else { "" },
                end.exit_code,
                esc(&end.reason)
            );
        }
        None => {
            let _ = writeln!(
                out,
                "<p class=\"exit\">The run did not finish: no exit code.</p>"
            );
        }
    }
    let _ = writeln!(out, "<ul class=\"counts\">");
    for v in Verdict::ALL {
        let n = counts.count(v);
        let _ = writeln!(
            out,
            "<li class=\"v-{}{}\" data-verdict=\"{}\"><b>{n}</b>{}</li>",
            v.as_str(),
            if n == 0 { " zero" } else { "" },
            v.as_str(),
            verdict_name(v)
        );
    }
    let _ = writeln!(
        out,
        "<li class=\"total\"><b>{}</b>total</li>\n</ul>",
        counts.total()
    );
    let problems: Vec<&CheckRecord> = report
        .checks
        .iter()
        .filter(|c| c.verdict != Verdict::Pass)
        .collect();
    if !problems.is_empty() {
        let _ = writeln!(out, "<h3>Not passing</h3>\n<ul class=\"problems\">");
        for c in problems {
            let baseline = if c.baseline.is_some() {
                " <span class=\"muted\">(expected by baseline)</span>"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "<li>{} <a href=\"#{}\"><code>{}</code></a> {}{baseline}</li>",
                badge(c.verdict),
                esc(&anchor(c)),
                esc(&c.id),
                esc(&c.title)
            );
        }
        let _ = writeln!(out, "</ul>");
    }
    let _ = writeln!(out, "</section>");
}

/// The filter form: hidden until the script shows it, since it does nothing without one.
fn filters(out: &mut String, report: &Report) {
    let counts = report.summary();
    let _ = writeln!(
        out,
        "<form id=\"filters\" hidden aria-label=\"Filters\">\n<fieldset><legend>Verdict</legend>"
    );
    for v in Verdict::ALL.into_iter().filter(|v| counts.count(*v) > 0) {
        let _ = writeln!(
            out,
            "<label><input type=\"checkbox\" name=\"verdict\" value=\"{}\" checked> {} ({})</label>",
            v.as_str(),
            verdict_name(v),
            counts.count(v)
        );
    }
    let _ = writeln!(out, "</fieldset>\n<fieldset><legend>Role</legend>");
    for (role, name) in [("rs", "MCP server"), ("as", "authorization server")] {
        let n = report.checks.iter().filter(|c| c.role() == role).count();
        if n > 0 {
            let _ = writeln!(
                out,
                "<label><input type=\"checkbox\" name=\"role\" value=\"{role}\" checked> {name} ({n})</label>"
            );
        }
    }
    let _ = writeln!(out, "</fieldset>\n<fieldset><legend>Area</legend>");
    for group in report.by_area() {
        let _ = writeln!(
            out,
            "<label><input type=\"checkbox\" name=\"area\" value=\"{a}\" checked> {a} ({})</label>",
            group.checks.len(),
            a = esc(&group.key())
        );
    }
    let _ = writeln!(out, "</fieldset>\n<fieldset><legend>Level</legend>");
    for level in [Level::Must, Level::Should, Level::May, Level::Info] {
        let n = report.checks.iter().filter(|c| c.level == level).count();
        if n > 0 {
            let _ = writeln!(
                out,
                "<label><input type=\"checkbox\" name=\"level\" value=\"{l}\" checked> {l} ({n})</label>",
                l = level.as_str()
            );
        }
    }
    let _ = writeln!(
        out,
        "</fieldset>\n<fieldset>\
         <button type=\"button\" data-action=\"problems\">Problems only</button>\
         <button type=\"button\" data-action=\"all\">Show all</button>\
         <button type=\"button\" data-action=\"expand\">Expand all</button>\
         <button type=\"button\" data-action=\"collapse\">Collapse all</button>\
         </fieldset>\n<p id=\"shown\" aria-live=\"polite\"></p>\n</form>"
    );
}

fn check(out: &mut String, c: &CheckRecord, docs: &DocsSite) {
    let open = if c.verdict == Verdict::Pass {
        ""
    } else {
        " open"
    };
    let baseline_note = if c.baseline.is_some() {
        " <span class=\"muted\">expected by baseline</span>"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "<details class=\"check\" id=\"{}\" data-verdict=\"{}\" data-role=\"{}\" data-area=\"{}.{}\" data-level=\"{}\"{open}>\n\
         <summary>{} <code class=\"id\">{}</code> <span class=\"title\">{}</span>{baseline_note} \
         <span class=\"level\">{}</span> <span class=\"ms\">{} ms</span></summary>\n<div class=\"body\">",
        esc(&anchor(c)),
        c.verdict.as_str(),
        esc(c.role()),
        esc(c.role()),
        esc(c.area()),
        c.level.as_str(),
        badge(c.verdict),
        esc(&c.id),
        esc(&c.title),
        c.level.as_str(),
        c.duration_ms
    );
    if !c.summary.is_empty() {
        let _ = writeln!(out, "<p class=\"about\">{}</p>", esc(&c.summary));
    }
    let _ = writeln!(out, "<dl class=\"facts\">");
    let _ = write!(out, "<dt>Requirement</dt><dd>");
    if c.refs.is_empty() {
        let _ = write!(out, "<span class=\"muted\">row {}</span>", esc(&c.row));
    } else {
        let _ = write!(out, "<ul>");
        for r in &c.refs {
            let source = format!("{} {}", r.source, r.section);
            let _ = write!(
                out,
                "<li>{}: {}</li>",
                spec_link(&r.url, &source),
                esc(&r.requirement)
            );
        }
        let _ = write!(out, "</ul>");
    }
    let _ = writeln!(out, "</dd>");
    let _ = writeln!(
        out,
        "<dt>Row</dt><dd><code>{}</code> · {} · catalogue page <a href=\"{}\"><code>{}</code></a></dd>",
        esc(&c.row),
        c.level.as_str(),
        esc(&docs.page_uri(&c.id)),
        esc(&crate::record::docs_page(&c.id))
    );
    if let Some(reason) = &c.baseline {
        let _ = writeln!(out, "<dt>Baseline</dt><dd>{}</dd>", esc(reason));
    }
    let _ = write!(out, "<dt>Expected</dt><dd>");
    if c.expected.is_empty() {
        let _ = write!(out, "<span class=\"muted\">—</span>");
    } else {
        let _ = write!(out, "<ul>");
        for e in &c.expected {
            let _ = write!(out, "<li>{}</li>", esc(e));
        }
        let _ = write!(out, "</ul>");
    }
    let _ = writeln!(out, "</dd>");
    let actual = if !c.actual.is_empty() {
        format!("<pre>{}</pre>", esc(&c.actual))
    } else if c.verdict == Verdict::Pass {
        "<span class=\"muted\">as expected</span>".to_owned()
    } else {
        "<span class=\"muted\">—</span>".to_owned()
    };
    let _ = writeln!(out, "<dt>Actual</dt><dd>{actual}</dd>");
    let _ = writeln!(out, "<dt>Result</dt><dd>{}</dd>", esc(&c.message));
    if !c.tags.is_empty() {
        let tags: Vec<String> = c.tags.iter().map(|t| esc(t)).collect();
        let _ = writeln!(out, "<dt>Tags</dt><dd>{}</dd>", tags.join(", "));
    }
    let _ = writeln!(out, "</dl>");
    if !c.evidence.is_empty() {
        let _ = writeln!(out, "<h3>Exchanges ({})</h3>", c.evidence.len());
        // A non-pass opens its evidence when it is short enough to read at once.
        let open = c.verdict != Verdict::Pass && c.evidence.len() <= OPEN_EXCHANGES_MAX;
        for (i, e) in c.evidence.iter().enumerate() {
            exchange(out, i + 1, e, open);
        }
    }
    let _ = writeln!(out, "</div>\n</details>");
}

fn exchange(out: &mut String, n: usize, e: &ExchangeRecord, open: bool) {
    let answer = match &e.outcome {
        ExchangeOutcome::Response(r) => format!("HTTP {}", r.status),
        ExchangeOutcome::Error(err) => format!("error: {}", first_line(err)),
    };
    let _ = writeln!(
        out,
        "<details class=\"exchange\"{}>\n<summary>#{n} {} {} → {} · {} ms</summary>",
        if open { " open" } else { "" },
        esc(&e.request.method),
        esc(&e.request.url),
        esc(&answer),
        e.elapsed_ms
    );
    let mut request = format!("{} {}", e.request.method, e.request.url);
    for (name, value) in &e.request.headers {
        let _ = write!(request, "\n{name}: {value}");
    }
    let _ = writeln!(out, "<h4>Request</h4>\n<pre>{}</pre>", esc(&request));
    for cred in &e.credentials {
        credential(out, cred);
    }
    match &e.outcome {
        ExchangeOutcome::Response(r) => {
            let mut head = format!("HTTP {}", r.status);
            for (name, value) in &r.headers {
                let _ = write!(head, "\n{name}: {value}");
            }
            let _ = writeln!(out, "<h4>Response</h4>\n<pre>{}</pre>", esc(&head));
            let cut = r.body.chars().count() > BODY_MAX_CHARS;
            let body: String = r.body.chars().take(BODY_MAX_CHARS).collect();
            let note = if r.truncated || cut {
                " <span class=\"muted\">(excerpt: cut)</span>"
            } else {
                ""
            };
            if body.is_empty() {
                let _ = writeln!(out, "<h4>Body</h4>\n<p class=\"muted\">(empty){note}</p>");
            } else {
                let _ = writeln!(out, "<h4>Body{note}</h4>\n<pre>{}</pre>", esc(&body));
            }
            if let Some(why) = &r.body_incomplete {
                let _ = writeln!(out, "<p class=\"muted\">Body incomplete: {}.</p>", esc(why));
            }
        }
        ExchangeOutcome::Error(err) => {
            let _ = writeln!(out, "<h4>No response</h4>\n<pre>{}</pre>", esc(err));
        }
    }
    if let Some(first) = &e.retried_after {
        let _ = writeln!(
            out,
            "<p class=\"muted\">Sent a second time on a new connection; the first attempt \
             failed: {}.</p>",
            esc(first)
        );
    }
    let _ = writeln!(out, "</details>");
}

/// A credential: where it was, its fingerprint, and its decoded, non-secret parts.
fn credential(out: &mut String, cred: &CredentialRecord) {
    let scheme = cred
        .scheme
        .as_deref()
        .map(|s| format!(" {}", esc(s)))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "<div class=\"cred\">\n<h4>Credential</h4>\n<p class=\"mono\">{}:{scheme} <b>{}</b></p>",
        esc(&cred.carrier),
        esc(&cred.fingerprint)
    );
    if cred.jose_header.is_some() || cred.claims.is_some() {
        let _ = writeln!(out, "<div class=\"decoded\">");
        if let Some(header) = &cred.jose_header {
            let _ = writeln!(
                out,
                "<div><h4>JOSE header</h4>\n<pre>{}</pre></div>",
                esc(&pretty(header))
            );
        }
        if let Some(claims) = &cred.claims {
            let times = claim_times(claims);
            let _ = writeln!(
                out,
                "<div><h4>Claims</h4>\n<pre>{}</pre>{}</div>",
                esc(&pretty(claims)),
                if times.is_empty() {
                    String::new()
                } else {
                    format!("<p class=\"muted mono\">{}</p>", esc(&times))
                }
            );
        }
        let _ = writeln!(out, "</div>");
    }
    let _ = writeln!(out, "</div>");
}

/// `iat`, `nbf` and `exp` as dates, when they are numbers.
fn claim_times(claims: &Value) -> String {
    ["iat", "nbf", "exp"]
        .iter()
        .filter_map(|name| {
            let t = claims.get(*name)?.as_i64()?;
            Some(format!("{name} {}", UtcTime::from_unix(t)))
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// A link to a specification, only for `http(s)` URLs; anything else is shown as text.
fn spec_link(url: &str, text: &str) -> String {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        format!(
            "<a href=\"{}\" rel=\"noreferrer noopener\" target=\"_blank\">{}</a>",
            esc(url),
            esc(text)
        )
    } else if url.is_empty() {
        esc(text)
    } else {
        format!("{} <span class=\"muted\">({})</span>", esc(text), esc(url))
    }
}

fn anchor(c: &CheckRecord) -> String {
    format!("check-{}", c.id)
}

fn badge(v: Verdict) -> String {
    format!(
        "<span class=\"badge v-{}\">{}</span>",
        v.as_str(),
        v.label().trim()
    )
}

fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::NotEvaluated => "not evaluated",
        other => other.as_str(),
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// Text safe in element content and in double- or single-quoted attribute values. Control
/// characters become visible (`␛` for ESC), and characters that only confuse a reader
/// (C1 controls, bidirectional overrides, noncharacters) become U+FFFD.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(ch),
            '\u{0}'..='\u{1f}' => {
                out.push(char::from_u32(0x2400 + ch as u32).unwrap_or('\u{FFFD}'))
            }
            '\u{7f}' => out.push('\u{2421}'),
            '\u{80}'..='\u{9f}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{fdd0}'..='\u{fdef}' => out.push('\u{FFFD}'),
            c if (c as u32) & 0xfffe == 0xfffe => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{RunEnd, RunInfo};
    use crate::record::sample_check as check;
    use crate::record::{RequestRecord, ResponseRecord, SpecRefRecord};
    use serde_json::json;

    const HOSTILE: &str = "</script><script>alert(1)</script> \"quoted\" 'single' \
                           <img src=x onerror=alert(2)> &amp; \u{0}\u{1b}[31m\u{202e}";

    fn exchange(body: &str, header: &str) -> ExchangeRecord {
        ExchangeRecord {
            request: RequestRecord {
                method: "POST".into(),
                url: "http://127.0.0.1:1/mcp?access_token=sha256:0123456789ab".into(),
                headers: vec![
                    ("authorization".into(), "Bearer sha256:0123456789ab".into()),
                    ("x-note".into(), header.into()),
                ],
            },
            outcome: ExchangeOutcome::Response(ResponseRecord {
                status: 401,
                headers: vec![("www-authenticate".into(), header.into())],
                body: body.into(),
                truncated: false,
                body_incomplete: None,
            }),
            elapsed_ms: 7,
            retried_after: None,
            credentials: vec![CredentialRecord {
                carrier: "authorization".into(),
                scheme: Some("Bearer".into()),
                fingerprint: "sha256:0123456789ab".into(),
                jose_header: Some(json!({"alg": "ES256", "typ": "at+jwt", "kid": header})),
                claims: Some(
                    json!({"aud": "http://127.0.0.1:1/mcp", "exp": 1_800_000_000, "note": header}),
                ),
            }],
        }
    }

    fn report() -> Report {
        let mut failing = check("rs.token.aud-wrong", Verdict::Fail, Level::Must);
        failing.actual = format!("HTTP 200 with {HOSTILE}");
        failing.message = HOSTILE.into();
        failing.evidence = vec![exchange(HOSTILE, HOSTILE)];
        failing.refs.push(SpecRefRecord {
            source: "bad".into(),
            section: "§0".into(),
            requirement: HOSTILE.into(),
            url: "javascript:alert(3)".into(),
        });
        let mut warned = check("rs.prm.cache", Verdict::Warn, Level::Should);
        warned.baseline = Some(format!("tracked upstream {HOSTILE}"));
        let mut errored = check("rs.prm.reachable", Verdict::Error, Level::Must);
        errored.evidence = vec![ExchangeRecord {
            outcome: ExchangeOutcome::Error("timeout <b>".into()),
            credentials: vec![],
            ..exchange("", "")
        }];
        Report {
            info: RunInfo {
                tool_version: "0.1.0".into(),
                spec_version: "2025-11-25".into(),
                profiles: Vec::new(),
                calibration: String::new(),
                token_source: String::new(),
                target: format!("http://127.0.0.1:1/mcp{HOSTILE}"),
                profile: "embedded demo: ignore-aud".into(),
                selected: 5,
                started_unix: 1_795_425_003,
            },
            checks: vec![
                check("rs.token.bearer-valid", Verdict::Pass, Level::Must),
                failing,
                warned,
                errored,
                check("rs.dpop.nonce.flow", Verdict::NotEvaluated, Level::May),
                check(&format!("rs.x{HOSTILE}.y"), Verdict::Info, Level::Info),
                check("as.token.success-shape", Verdict::Pass, Level::Must),
            ],
            end: Some(RunEnd {
                exit_code: 1,
                reason: "1 failed, 1 errored".into(),
                duration_ms: 42,
            }),
        }
    }

    /// Every tag of the document, `<` to `>`, in order. Every `<` the renderer writes starts a
    /// tag, since all data is escaped (and neither the style nor the script contains one).
    fn tags(html: &str) -> Vec<&str> {
        html.match_indices('<')
            .map(|(i, _)| &html[i..i + html[i..].find('>').expect("tag closed") + 1])
            .collect()
    }

    fn tag_name(tag: &str) -> String {
        tag[1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '/' || *c == '!')
            .collect::<String>()
            .to_ascii_lowercase()
    }

    #[test]
    fn hostile_text_renders_as_text() {
        let html = render(&report(), &DocsSite::SourceTree);
        assert_eq!(html.matches("<script").count(), 1, "only our script");
        assert_eq!(html.matches("</script").count(), 1);
        assert!(html.contains("&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("&quot;quoted&quot; &#39;single&#39;"));
        assert!(html.contains("&amp;amp;"));
        assert!(!html.contains('\u{0}') && !html.contains('\u{1b}') && !html.contains('\u{202e}'));
        assert!(html.contains("\u{2400}\u{241b}[31m\u{FFFD}"));
        let allowed = [
            "!doctype", "html", "head", "meta", "title", "style", "body", "header", "h1", "h2",
            "h3", "h4", "dl", "dt", "dd", "code", "section", "p", "ul", "li", "b", "span", "a",
            "form", "fieldset", "legend", "label", "input", "button", "main", "details", "summary",
            "div", "pre", "small", "script",
        ];
        for tag in tags(&html) {
            let name = tag_name(tag);
            let name = name.trim_start_matches('/');
            assert!(allowed.contains(&name), "unexpected tag {tag}");
        }
        // The hostile id stays inside its quoted attributes.
        assert!(html.contains("data-area=\"rs.x&lt;/script&gt;"));
        assert!(!html.contains("onerror=alert(2)>"));
    }

    #[test]
    fn nothing_is_loaded_from_anywhere() {
        let html = render(&report(), &DocsSite::SourceTree);
        assert!(html.contains("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src &#39;none&#39;; script-src &#39;sha256-"));
        assert!(!STYLE.contains("url(") && !STYLE.contains("@import"));
        // No tag loads anything; every href is an <a> to a spec (http(s)), to the check's
        // catalogue page (file:) or to this page.
        let mut hrefs = 0;
        for tag in tags(&html) {
            // The tag without its (escaped, double-quoted) attribute values.
            let lower: String = tag
                .split('"')
                .step_by(2)
                .collect::<Vec<_>>()
                .join("\"\"")
                .to_ascii_lowercase();
            for attr in [
                " src=",
                " srcset=",
                " poster=",
                " data=",
                " action=",
                " background=",
            ] {
                assert!(!lower.contains(attr), "{tag}");
            }
            assert!(
                !["link", "img", "iframe", "object", "embed", "base"]
                    .contains(&tag_name(tag).as_str())
            );
            if let Some(i) = tag.find(" href=\"") {
                hrefs += 1;
                assert_eq!(tag_name(tag), "a", "href outside <a>: {tag}");
                let target = &tag[i + 7..];
                assert!(
                    target.starts_with("https://")
                        || target.starts_with("http://")
                        || target.starts_with("file:///")
                        || target.starts_with("#check-"),
                    "{tag}"
                );
            }
        }
        assert!(hrefs > 0);
        assert!(!html.contains("javascript:alert(3)\""));
        assert!(html.contains("(javascript:alert(3))"));
    }

    #[test]
    fn every_check_is_rendered_with_its_evidence() {
        let report = report();
        let html = render(&report, &DocsSite::SourceTree);
        for c in &report.checks {
            assert!(
                html.contains(&format!("id=\"{}\"", esc(&anchor(c)))),
                "{}",
                c.id
            );
            assert!(html.contains(&format!("<code class=\"id\">{}</code>", esc(&c.id))));
        }
        assert_eq!(html.matches("<details class=\"check\"").count(), 7);
        assert!(html.contains("Exit code 1: 1 failed, 1 errored"));
        assert!(html.contains("<li class=\"v-fail\" data-verdict=\"fail\"><b>1</b>fail</li>"));
        assert!(html.contains("<li class=\"total\"><b>7</b>total</li>"));
        assert!(html.contains("2026-11-23 09:10:03 UTC"));
        // Credentials: fingerprint and pretty-printed decoded parts, with dates.
        assert!(html.contains("<b>sha256:0123456789ab</b>"));
        assert!(html.contains("&quot;alg&quot;: &quot;ES256&quot;"));
        assert!(html.contains("exp 2027-01-15 08:00:00 UTC"));
        assert!(html.contains("Baseline</dt><dd>tracked upstream"));
        assert!(html.contains("<h4>No response</h4>\n<pre>timeout &lt;b&gt;</pre>"));
        assert!(html.contains("<a href=\"https://www.rfc-editor.org/rfc/rfc6750#section-3\""));
        // Non-passes open, passes closed.
        assert!(html.contains("id=\"check-rs.token.aud-wrong\" data-verdict=\"fail\" data-role=\"rs\" data-area=\"rs.token\" data-level=\"MUST\" open>"));
        assert!(html.contains("id=\"check-rs.token.bearer-valid\" data-verdict=\"pass\" data-role=\"rs\" data-area=\"rs.token\" data-level=\"MUST\">"));
        assert!(html.contains("id=\"check-as.token.success-shape\" data-verdict=\"pass\" data-role=\"as\" data-area=\"as.token\""));
    }

    #[test]
    fn filters_cover_verdicts_roles_areas_and_levels() {
        let html = render(&report(), &DocsSite::SourceTree);
        assert!(html.contains("<form id=\"filters\" hidden"));
        for v in ["pass", "fail", "warn", "error", "not_evaluated", "info"] {
            assert!(
                html.contains(&format!("name=\"verdict\" value=\"{v}\" checked")),
                "{v}"
            );
        }
        assert!(
            !html.contains("name=\"verdict\" value=\"skip\""),
            "only verdicts present"
        );
        // Areas are per role: rs.token and as.token are two.
        for a in ["rs.token", "rs.prm", "rs.dpop.nonce", "as.token"] {
            assert!(
                html.contains(&format!("name=\"area\" value=\"{a}\" checked")),
                "{a}"
            );
            assert!(html.contains(&format!("<section class=\"area\" data-area=\"{a}\">")));
        }
        assert!(html.contains("name=\"role\" value=\"rs\" checked> MCP server (6)"));
        assert!(html.contains("name=\"role\" value=\"as\" checked> authorization server (1)"));
        for l in ["MUST", "SHOULD", "MAY", "INFO"] {
            assert!(
                html.contains(&format!("name=\"level\" value=\"{l}\" checked")),
                "{l}"
            );
        }
        for action in ["problems", "all", "expand", "collapse"] {
            assert!(html.contains(&format!("data-action=\"{action}\"")));
        }
    }

    #[test]
    fn the_script_cannot_be_broken_out_of() {
        assert!(!SCRIPT.contains('<'));
        assert!(SCRIPT.contains("document.body.dataset.ready = \"1\""));
        let hash = SCRIPT_CSP_HASH
            .strip_prefix("'sha256-")
            .and_then(|h| h.strip_suffix('\''))
            .unwrap();
        assert_eq!(hash.len(), 44);
        assert!(!STYLE.contains('<') && !STYLE.contains("url("));
    }

    #[test]
    fn long_bodies_are_cut() {
        let mut report = report();
        report.checks[1].evidence = vec![exchange(&"a".repeat(BODY_MAX_CHARS + 10), "h")];
        let html = render(&report, &DocsSite::SourceTree);
        assert!(html.contains("(excerpt: cut)"));
        assert!(!html.contains(&"a".repeat(BODY_MAX_CHARS + 1)));
    }
}
