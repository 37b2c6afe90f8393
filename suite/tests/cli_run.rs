//! `mcp-authspec run` and `list` as a user runs them: exit codes 0, 1, 2, 3 and 4 each from a
//! real run, the JSON report's shape, and no token in any output.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mcp-authspec"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn the_embedded_demo_passes_and_exits_0() {
    // With no arguments at all, the binary runs the embedded demo.
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("PASS  rs.token.aud-wrong"));
}

#[test]
fn a_demo_fault_fails_its_checks_exits_1_and_writes_redacted_json() {
    let json = std::env::temp_dir().join(format!("run-{}.json", mock_idp::random_b64url(6)));
    let o = run(&[
        "run",
        "--demo-fault",
        "accept-alg-none",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("FAIL  rs.token.alg-none"), "{out}");
    let text = std::fs::read_to_string(&json).unwrap();
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["schema_version"], 1);
    let failed: Vec<_> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["verdict"] == "fail")
        .collect();
    // The alg-none row, and no-processing-before-auth, which calls the canary with an alg
    // none token among every other negative credential.
    let ids: Vec<&str> = failed.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        ["rs.auth.no-processing-before-auth", "rs.token.alg-none"],
        "{out}"
    );
    let failed: Vec<_> = failed
        .into_iter()
        .filter(|c| c["id"] == "rs.token.alg-none")
        .collect();
    for key in [
        "id",
        "title",
        "level",
        "verdict",
        "message",
        "expected",
        "actual",
        "evidence",
        "duration_ms",
    ] {
        assert!(failed[0].get(key).is_some(), "{key}");
    }
    assert!(!failed[0]["evidence"].as_array().unwrap().is_empty());
    assert_eq!(report["summary"]["fail"], 2);
    // No JWT (every one starts with the base64url of '{"', then a dot and more) in the
    // terminal or the JSON; a random value may hold "eyJ" by chance, a dot never follows.
    let jws_shaped = |s: &str| {
        s.match_indices("eyJ").any(|(i, _)| {
            s[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
                .any(|c| c == '.')
        })
    };
    assert!(!jws_shaped(&text) && !jws_shaped(&out));
    let _ = std::fs::remove_file(json);
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(run(&["run", "--demo-fault", "nope"]).status.code(), Some(2));
    assert_eq!(
        run(&[
            "run",
            "--target",
            "http://127.0.0.1:1/mcp",
            "--demo-fault",
            "ignore-aud"
        ])
        .status
        .code(),
        Some(2)
    );
}

#[test]
fn an_unreachable_target_exits_3() {
    let o = run(&[
        "run",
        "--target",
        "http://127.0.0.1:1/mcp",
        "--idp-listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stdout(&o));
}

#[test]
fn no_selected_check_exits_4() {
    assert_eq!(run(&["run", "--check", "no.such.*"]).status.code(), Some(4));
}

#[test]
fn list_prints_every_check() {
    let o = run(&["list"]);
    assert!(o.status.success());
    let out = stdout(&o);
    for id in [
        "rs.challenge.no-token",
        "rs.token.aud-wrong",
        "rs.token.expired",
        "rs.token.exp-missing",
        "rs.token.nbf-future",
        "rs.scope.insufficient",
        "rs.token.iss-rogue",
        "rs.token.iss-other-tenant",
        "rs.session.cross-user",
    ] {
        assert!(out.lines().any(|l| l.starts_with(id)), "{id}");
    }
}

#[test]
fn a_closed_stdout_is_not_a_panic() {
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcp-authspec"))
        .arg("run")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close our end of stdout at once, as `| head -0` would.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0));
}

/// `run --as` without `--client-id` against an authorization server offering dynamic client
/// registration (issue 14): the run registers its own public native client, says so, acts as
/// it, and deletes every client it registered (its own and the registration rows') through
/// RFC 7592 before it ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_as_run_registers_its_own_client_and_deletes_every_registration() {
    use mock_idp::server::{IdpConfig, IssuerKind, MockIdp};
    let idp = MockIdp::start(IdpConfig {
        // It fetches client ID metadata documents from the run's listener (its test CA).
        cimd: suite::engine::listener::mock_idp_cimd(),
        ..IdpConfig::default()
    })
    .await
    .unwrap();
    let issuer = idp.issuer().to_owned();
    let o = tokio::task::spawn_blocking(move || run(&["run", "--as", &issuer]))
        .await
        .unwrap();
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("as.* checks act as client dyn-")
            && out.contains("a public native client this run registered"),
        "{out}"
    );
    assert!(out.contains("PASS  as.dcr.success"), "{out}");
    let made = out
        .lines()
        .find_map(|l| l.strip_prefix("Dynamic client registration: the run registered "))
        .expect("the run says what it registered");
    let count: usize = made.split(' ').next().unwrap().parse().unwrap();
    assert!(count >= 10, "{made}");
    assert!(
        made.contains(&format!("and deleted {count} of them")),
        "{made}"
    );
    assert_eq!(idp.registered_clients(IssuerKind::Trusted), 0);
    idp.shutdown().await;
}

/// `--confidential-client-id` (issue 14): the rows that act as a confidential client use the
/// pre-registered one instead of registering their own, so they run against an authorization
/// server whose registration endpoint wants an initial access token (NotEvaluated without it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pre_registered_confidential_client_stands_in_for_registration() {
    use mock_idp::server::{
        AsFault, CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET, IdpConfig, MockIdp,
        PUBLIC_CLIENT_ID, PUBLIC_REDIRECT_URIS,
    };
    let idp = MockIdp::start(IdpConfig {
        faults: [AsFault::DcrInitialTokenRequired].into(),
        ..IdpConfig::default()
    })
    .await
    .unwrap();
    let issuer = idp.issuer().to_owned();
    let rows = [
        "as.token.pkce-downgrade",
        "as.token.code-reuse-revokes",
        "as.at.client-vs-user",
    ];
    let run_with = move |confidential: bool| {
        let mut args = vec![
            "run",
            "--as",
            &issuer,
            "--client-id",
            PUBLIC_CLIENT_ID,
            "--redirect-uri",
            PUBLIC_REDIRECT_URIS[0],
        ];
        for row in rows {
            args.extend(["--check", row]);
        }
        if confidential {
            args.extend([
                "--confidential-client-id",
                CONFIDENTIAL_CLIENT_ID,
                "--confidential-client-secret-env",
                "AUTHSPEC_TEST_CONFIDENTIAL_SECRET",
                "--confidential-redirect-uri",
                "http://127.0.0.1/cb",
            ]);
        }
        let out = Command::new(env!("CARGO_BIN_EXE_mcp-authspec"))
            .args(&args)
            .env(
                "AUTHSPEC_TEST_CONFIDENTIAL_SECRET",
                CONFIDENTIAL_CLIENT_SECRET,
            )
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let (without, with) = tokio::task::spawn_blocking(move || (run_with(false), run_with(true)))
        .await
        .unwrap();
    for row in rows {
        assert!(
            without.contains(&format!("N/E   {row}")),
            "{row} without a confidential client:\n{without}"
        );
        assert!(
            with.contains(&format!("PASS  {row}")),
            "{row} as {CONFIDENTIAL_CLIENT_ID}:\n{with}"
        );
    }
    assert!(!with.contains(CONFIDENTIAL_CLIENT_SECRET), "{with}");
}
