//! Secrets never leak (issue: "a test runs a full demo with every sink on and searches every
//! output for every secret and token value used"). The whole catalogue runs in-process against
//! the embedded reference server with faults (so failures carry evidence), every sink renders
//! the run, and every output is searched for every credential the run sent (taken from the
//! unredacted evidence), the mock IdP's client secrets and its private keys. A second test
//! does the same through the binary with `--out`, looking for anything shaped like a JWT.

use std::collections::BTreeSet;
use std::sync::Arc;

use mock_idp::server::{
    CONFIDENTIAL_CLIENT_SECRET, IdpConfig, IssuerKind, MockIdp, OPAQUE_CLIENT_SECRET,
    RESOURCE_SERVER_CLIENT_SECRET,
};
use reports::event::{Collector, Event, Fanout, RunEnd, RunInfo, Sink};
use reports::terminal::{StatusLevel, Terminal};
use suite::engine::runner::RunOptions;
use suite::engine::select::Selection;
use suite::engine::session::{Embedded, TokenDefaults, context, run_checks};
use suite::http::{Exchange, Limits};

/// Every credential a request carried, exactly as sent.
fn credentials_sent(e: &Exchange) -> Vec<String> {
    let mut found = Vec::new();
    for (name, value) in &e.request.headers {
        if name.eq_ignore_ascii_case("authorization") || name.eq_ignore_ascii_case("dpop") {
            found.push(value.clone());
            if let Some((_, credential)) = value.split_once(' ') {
                found.push(credential.trim().to_owned());
            }
        }
    }
    if let Some((_, query)) = e.request.url.split_once('?') {
        for pair in query.split('&') {
            if let Some(("access_token", token)) = pair.split_once('=') {
                found.push(token.to_owned());
            }
        }
    }
    found.retain(|s| s.len() >= 8);
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn no_sink_shows_a_token_a_client_secret_or_a_private_key() {
    let idp = Arc::new(MockIdp::start(IdpConfig::default()).await.unwrap());
    let faults: BTreeSet<_> = ["ignore-aud", "accept-query-token", "skip-signature"]
        .iter()
        .map(|f| f.parse().unwrap())
        .collect();
    let env = Embedded::start_with(idp.clone(), &faults).await.unwrap();
    let ctx = context(
        &env.server.mcp_url(),
        Some(idp.clone()),
        &TokenDefaults::default(),
        Some(Embedded::step_up()),
        Some(env.canary()),
        Limits::default(),
    )
    .await
    .unwrap();

    let info = RunInfo {
        tool_version: "test".into(),
        spec_version: "2025-11-25".into(),
        profiles: Vec::new(),
        calibration: String::new(),
        target: ctx.endpoint.clone(),
        profile: "secrets test".into(),
        selected: 0,
        started_unix: 0,
    };
    let mut terminal = Terminal::new(Vec::new(), StatusLevel::All, StatusLevel::All);
    let mut collector = Collector::default();
    let mut secrets: BTreeSet<String> = BTreeSet::new();
    {
        let mut stream = Fanout::new(vec![&mut terminal, &mut collector]);
        stream.event(&Event::RunStarted(&info));
        run_checks(
            &ctx,
            &Selection::default(),
            RunOptions::default(),
            |meta, o| {
                for e in &o.evidence {
                    secrets.extend(credentials_sent(e));
                }
                stream.event(&Event::CheckFinished(&suite::output::record(meta, o)));
            },
        )
        .await;
        stream.event(&Event::RunFinished(&RunEnd {
            exit_code: 1,
            reason: "test".into(),
            duration_ms: 0,
        }));
    }
    env.server.shutdown().await;
    let report = collector.into_report().unwrap();
    assert!(
        report.checks.iter().any(|c| !c.evidence.is_empty()),
        "the faults must produce failures with evidence"
    );
    assert!(
        secrets.len() > 20,
        "the run sent credentials: {}",
        secrets.len()
    );

    secrets.extend(
        [
            CONFIDENTIAL_CLIENT_SECRET,
            RESOURCE_SERVER_CLIENT_SECRET,
            OPAQUE_CLIENT_SECRET,
        ]
        .map(str::to_owned),
    );
    for kind in [IssuerKind::Trusted, IssuerKind::Rogue] {
        let key = idp.signing_key(kind);
        if let Some(d) = key.private_jwk().get("d").and_then(|d| d.as_str()) {
            secrets.insert(d.to_owned());
        }
        if let Some(pem) = key.to_pkcs8_pem() {
            // Any full line of the base64 body is enough to give the key away.
            secrets.extend(
                pem.lines()
                    .filter(|l| !l.starts_with("-----") && l.len() >= 32)
                    .map(str::to_owned),
            );
        }
    }

    let outputs = [
        (
            "terminal",
            String::from_utf8(terminal.into_inner()).unwrap(),
        ),
        ("json", reports::json::render_text(&report)),
        ("junit", reports::junit::render(&report, true).unwrap()),
        ("markdown", reports::markdown::render(&report)),
        ("html", reports::html::render(&report)),
    ];
    for (sink, text) in &outputs {
        assert!(text.len() > 1000, "{sink} rendered the run");
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{sink} shows a secret (first characters {:?})",
                &secret[..8]
            );
        }
    }
}

#[test]
fn the_binarys_outputs_hold_nothing_shaped_like_a_token() {
    let dir = std::env::temp_dir().join(format!("secrets-{}", mock_idp::random_b64url(8)));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mcp-authspec"))
        .args(["run", "--demo-fault", "skip-signature", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let mut texts = vec![(
        "stdout".to_owned(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )];
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        texts.push((
            path.display().to_string(),
            std::fs::read_to_string(&path).unwrap(),
        ));
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(texts.len() >= 4, "terminal plus every report file");
    for (name, text) in texts {
        // A compact JWS starts with a base64url JSON object: `eyJ`, then a dot and more.
        for (i, _) in text.match_indices("eyJ") {
            let run: String = text[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
                .collect();
            assert!(
                run.matches('.').count() < 1 || run.len() < 24,
                "{name} holds a token-shaped string: {}…",
                &run[..run.len().min(16)]
            );
        }
        assert!(!text.contains(CONFIDENTIAL_CLIENT_SECRET), "{name}");
    }
}
