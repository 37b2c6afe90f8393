//! The HTML report of a real run (embedded demo with the `ignore-aud` fault, the token checks):
//! one self-contained file with every check the JSON report has, no token or client secret, a
//! Content-Security-Policy whose script hash matches the inline script — and, when Debian's
//! `chromium` is installed, headless Chromium loads the file offline with no console message (no
//! script error, no CSP violation, no blocked fetch), runs the script (which sets
//! `data-ready="1"` on `<body>` last) and shows the summary.
//!
//! Under CI (`CI` set) Chromium is required; elsewhere a missing one is reported on stderr and
//! only the browser part is skipped.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Where Debian (and some other distributions) install the browser.
const CHROMIUM: &[&str] = &["/usr/bin/chromium", "/usr/bin/chromium-browser"];

/// A cold headless start takes one to three seconds; a wedged browser fails the test instead
/// of hanging it.
const BROWSER_DEADLINE: Duration = Duration::from_secs(120);

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("html-{}", mock_idp::random_b64url(8)));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Run {
    code: Option<i32>,
    html: String,
    json: Value,
    html_path: PathBuf,
}

fn run(dir: &Path) -> Run {
    let html_path = dir.join("report.html");
    let json_path = dir.join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_mcp-authspec"))
        .args(["run", "--demo-fault", "ignore-aud", "--check", "rs.token.*"])
        .args(["--status-level", "none", "--final-status-level", "none"])
        .arg("--html")
        .arg(&html_path)
        .arg("--json")
        .arg(&json_path)
        .output()
        .unwrap();
    assert!(
        html_path.exists(),
        "no HTML report; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Run {
        code: out.status.code(),
        html: std::fs::read_to_string(&html_path).unwrap(),
        json: serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap(),
        html_path,
    }
}

#[test]
fn html_report_is_complete_self_contained_and_loads_in_chromium() {
    let dir = TempDir::new();
    let run = run(&dir.0);
    assert_eq!(run.code, Some(1), "ignore-aud fails token checks");
    let html = &run.html;
    let checks = run.json["checks"].as_array().unwrap();
    assert!(!checks.is_empty());

    // Every check, and the summary the JSON report has.
    for c in checks {
        let id = c["id"].as_str().unwrap();
        assert!(html.contains(&format!("id=\"check-{id}\"")), "{id} missing");
    }
    let summary = &run.json["summary"];
    for (verdict, count) in summary.as_object().unwrap() {
        let needle = if verdict == "total" {
            format!("<li class=\"total\"><b>{count}</b>total</li>")
        } else {
            format!("data-verdict=\"{verdict}\"><b>{count}</b>")
        };
        assert!(html.contains(&needle), "summary: {needle}");
    }
    let exit_line = format!("Exit code 1: {}", run.json["exit_reason"].as_str().unwrap());
    assert!(html.contains(&exit_line), "{exit_line}");
    assert!(html.contains("<form id=\"filters\" hidden"));
    assert!(html.contains("&quot;aud&quot;:"), "decoded claims shown");

    // No secret: tokens and proofs are fingerprints, decoded parts are JSON, not base64url.
    assert!(!html.contains("eyJ"), "a JWT-looking string in the HTML");
    assert!(!html.contains(mock_idp::server::CONFIDENTIAL_CLIENT_SECRET));
    assert!(!html.contains("PRIVATE KEY"));
    assert!(html.contains("sha256:"));

    // Self-contained: nothing loaded by URL, and the CSP admits exactly the inline script.
    for forbidden in ["<link", "<img", "<iframe", "@import", "url(", " src=\""] {
        assert!(!html.contains(forbidden), "{forbidden}");
    }
    let script = between(html, "<script>", "</script>");
    assert_eq!(script, reports::html::SCRIPT);
    let hash = format!("'sha256-{}'", base64(sha256(script.as_bytes()).as_ref()));
    assert_eq!(
        hash,
        reports::html::SCRIPT_CSP_HASH,
        "update reports::html::SCRIPT_CSP_HASH to {hash}"
    );
    assert!(html.contains(&format!(
        "content=\"default-src &#39;none&#39;; script-src {}",
        hash.replace('\'', "&#39;")
    )));

    let Some(browser) = CHROMIUM.iter().copied().find(|p| Path::new(p).exists()) else {
        if std::env::var_os("CI").is_some() {
            panic!(
                "headless Chromium is required under CI to check the HTML report \
                 (Debian: apt-get install chromium); none of {CHROMIUM:?} exists"
            );
        }
        eprintln!(
            "note: no Chromium at {CHROMIUM:?}; the browser check of the HTML report is skipped"
        );
        return;
    };
    let started = Instant::now();
    let (dom, log) = headless_dump(browser, &run.html_path, &dir.0);
    eprintln!("chromium loaded the report in {:?}", started.elapsed());

    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(
        console.is_empty(),
        "console messages (script errors, CSP violations, blocked loads):\n{}",
        console.join("\n")
    );
    assert!(
        dom.contains("<body data-ready=\"1\">"),
        "the script did not finish; DOM starts:\n{}\nlog:\n{log}",
        &dom[..dom.len().min(2000)]
    );
    assert!(dom.contains("<section id=\"summary\" aria-label=\"Summary\">"));
    assert!(dom.contains(&exit_line));
    assert!(
        dom.contains(&format!("<b>{}</b>total", summary["total"])),
        "summary counts"
    );
    // The script showed the filters and counted the checks.
    assert!(dom.contains("<form id=\"filters\" aria-label=\"Filters\">"));
    let shown = format!("{n} of {n} checks shown", n = checks.len());
    assert!(dom.contains(&shown), "{shown}");
}

/// Loads the file in headless Chromium with a fresh profile and no network; returns the DOM
/// after the load event and Chromium's log (console messages appear as `INFO:CONSOLE` lines).
fn headless_dump(browser: &str, page: &Path, dir: &Path) -> (String, String) {
    let dom_path = dir.join("dom.html");
    let log_path = dir.join("chromium.log");
    let url = url::Url::from_file_path(page).unwrap();
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg("--dump-dom")
        .arg(url.as_str())
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .stdin(Stdio::null())
        .stdout(File::create(&dom_path).unwrap())
        .stderr(File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + BROWSER_DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium did not finish within {BROWSER_DEADLINE:?}; log:\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(
        status.success(),
        "chromium exited with {status}; log:\n{log}"
    );
    (std::fs::read_to_string(&dom_path).unwrap(), log)
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).expect(start) + start.len();
    let to = from + text[from..].find(end).expect(end);
    &text[from..to]
}

fn sha256(data: &[u8]) -> aws_lc_rs::digest::Digest {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
}

/// Standard base64 with padding, as CSP hash sources are written.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
