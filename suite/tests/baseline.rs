//! Baselines as a user runs them: `baseline write` from a failing run, then `run --baseline`:
//! the listed failures are expected (exit 0), an unlisted failure still fails the run, a
//! listed check that passes again fails it as stale, and a baseline without reasons is a
//! usage error. `explain` shows a check and how to see it fail.

use std::path::PathBuf;
use std::process::{Command, Output};

fn mcp_authspec(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mcp-authspec"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn temp(name: &str) -> TempFile {
    TempFile(std::env::temp_dir().join(format!("{name}-{}", mock_idp::random_b64url(8))))
}

#[test]
fn a_baseline_round_trip_with_expected_unlisted_and_stale_entries() {
    let file = temp("baseline.toml");
    let path = file.0.display().to_string();
    let aud = ["--check", "rs.token.aud-*"];

    let written = mcp_authspec(
        &[
            &[
                "baseline",
                "write",
                &path,
                "--reason",
                "audience fix ships in v2",
            ][..],
            &["--demo-fault", "ignore-aud"],
            &aud,
        ]
        .concat(),
    );
    assert_eq!(written.status.code(), Some(0), "{}", stdout(&written));
    let text = std::fs::read_to_string(&file.0).unwrap();
    assert!(text.contains("check = \"rs.token.aud-wrong\""), "{text}");
    assert!(
        text.contains("reason = \"audience fix ships in v2\""),
        "{text}"
    );

    // The same failures again: expected, so the run succeeds and says so.
    let known = mcp_authspec(
        &[
            &["run", "--baseline", &path, "--demo-fault", "ignore-aud"][..],
            &aud,
        ]
        .concat(),
    );
    assert_eq!(known.status.code(), Some(0), "{}", stdout(&known));
    assert!(
        stdout(&known).contains("(expected by baseline)"),
        "{}",
        stdout(&known)
    );
    assert!(stdout(&known).contains("known failure(s) expected by the baseline"));

    // Another failure the baseline does not list still fails the run.
    let unlisted = mcp_authspec(&[
        "run",
        "--baseline",
        &path,
        "--demo-fault",
        "ignore-aud",
        "--demo-fault",
        "accept-expired",
        "--check",
        "rs.token.aud-*",
        "--check",
        "rs.token.expired",
    ]);
    assert_eq!(unlisted.status.code(), Some(1), "{}", stdout(&unlisted));

    // Fixed server: the listed checks pass, so the entries are stale and the run fails.
    let fixed = mcp_authspec(&[&["run", "--baseline", &path][..], &aud].concat());
    assert_eq!(fixed.status.code(), Some(1), "{}", stdout(&fixed));
    assert!(
        stdout(&fixed).contains("stale baseline entry \"rs.token.aud-wrong\""),
        "{}",
        stdout(&fixed)
    );
}

#[test]
fn a_baseline_without_a_reason_is_a_usage_error() {
    let file = temp("bad-baseline.toml");
    std::fs::write(
        &file.0,
        "[[expected]]\ncheck = \"rs.token.aud-wrong\"\nreason = \"\"\n",
    )
    .unwrap();
    let out = mcp_authspec(&[
        "run",
        "--baseline",
        &file.0.display().to_string(),
        "--check",
        "rs.token.aud-wrong",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no reason"));
    let empty_reason = mcp_authspec(&[
        "baseline",
        "write",
        &file.0.display().to_string(),
        "--reason",
        " ",
    ]);
    assert_eq!(empty_reason.status.code(), Some(2));
}

#[test]
fn explain_shows_the_requirement_and_how_to_see_it_fail() {
    let out = mcp_authspec(&["explain", "rs.token.aud-wrong"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    for expected in [
        "rs.token.aud-wrong  (MUST)",
        "rs-aud-wrong",
        "https://www.rfc-editor.org/rfc/rfc9068",
        "ignore-aud (does not check aud)",
        "See it fail:  mcp-authspec run --demo-fault ignore-aud --check rs.token.aud-wrong",
        // Shown live: the stimulus decoded, what is accepted, and what the faulty server does.
        "Against the compliant reference server: pass",
        "authorization: Bearer sha256:",
        "\"aud\":\"https://other.test/mcp\"",
        "Accepts:  [MUST] status is 401",
        "Against the reference server with ignore-aud: fail",
    ] {
        assert!(text.contains(expected), "{expected:?} in\n{text}");
    }
    let unknown = mcp_authspec(&["explain", "rs.token.nope"]);
    assert_eq!(unknown.status.code(), Some(2));
}
