//! Spec §1.3, the MCP core of token passthrough: the server neither forwards the client's
//! token upstream nor accepts a token that was issued for the upstream API (confused deputy).

use std::time::Duration;

use aws_lc_rs::digest::{SHA256, digest};

use crate::catalog::request_auth::worse;
use crate::catalog::{mcp, rfc};
use crate::check::{Applies, CheckMeta, Need, Outcome};
use crate::engine::calibrate::{open_session, refusal};
use crate::engine::context::Context;
use crate::engine::probe::{self, Credential};
use crate::engine::runner::{Check, CheckFuture};
use crate::expect;
use crate::model::{Level, Verdict};

pub(crate) const SECURITY_BP: &str =
    "https://modelcontextprotocol.io/specification/2025-11-25/basic/security_best_practices";

pub const PASSTHROUGH: CheckMeta = CheckMeta {
    id: "rs.token.passthrough",
    row: "rs-token-passthrough",
    title: "Never forwards the client's access token upstream",
    summary: "A valid canary call makes the target call its upstream API (played by the harness); the upstream never sees the client's token, neither its exact bytes nor its SHA-256 (hex or base64), in the request line, any header or the body.",
    level: Level::Must,
    applies: Applies::Always,
    deadline: None,
    refs: &[
        mcp(
            "Access Token Privilege Restriction",
            "MCP servers must not pass the client's access token through to upstream APIs",
        ),
        rfc(
            "MCP Security Best Practices",
            "Token Passthrough",
            "a server that calls upstream APIs uses its own, separate token",
            SECURITY_BP,
        ),
    ],
    needs: &[Need::ValidToken, Need::Canary],
    tags: &["token passthrough", "confused deputy"],
    broken_by: &["token-passthrough"],
};

pub const FOREIGN_AUDIENCE: CheckMeta = CheckMeta {
    id: "rs.token.foreign-audience",
    row: "rs-foreign-token-not-accepted",
    title: "Refuses a token the same AS issued for the upstream API",
    summary: "A valid token whose aud is the upstream API (the canary's upstream when known, an upstream API co-hosted on the MCP server's origin, else a generic upstream URL) gets 401 invalid_token [X]: the MCP server accepts no token issued for another resource.",
    level: Level::Must,
    applies: Applies::Always,
    deadline: None,
    refs: &[
        mcp(
            "Token Handling",
            "MCP servers accept only tokens issued for them and pass through no others",
        ),
        rfc(
            "RFC 8707",
            "§2",
            "the audience of a token names the resource it may be used at",
            "https://www.rfc-editor.org/rfc/rfc8707",
        ),
    ],
    needs: &[Need::MintedToken],
    tags: &["confused deputy"],
    broken_by: &["ignore-aud", "aud-same-origin"],
};

/// The audience of an upstream API when the run knows none (no harness upstream).
const GENERIC_UPSTREAM_API: &str = "https://upstream-api.test/v1";
/// How long an upstream call may lag behind the canary's answer (targets may call async).
const UPSTREAM_GRACE: Duration = Duration::from_secs(2);

/// The forms in which a forwarded token would show: its bytes and its SHA-256 digest (hex in
/// both cases, base64url and standard base64).
fn token_forms(token: &str) -> Vec<(&'static str, String)> {
    let hash = digest(&SHA256, token.as_bytes());
    let hex: String = hash.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    let b64url = mock_idp::b64::encode(hash.as_ref());
    let mut b64 = b64url.replace('-', "+").replace('_', "/");
    b64.push('=');
    vec![
        ("the token itself", token.to_owned()),
        ("its SHA-256 in hex", hex.clone()),
        ("its SHA-256 in upper-case hex", hex.to_ascii_uppercase()),
        ("its SHA-256 in base64url", b64url),
        ("its SHA-256 in base64", b64),
    ]
}

/// Where in a raw HTTP request `needle` occurs: "the request line", "header <name>" or "the
/// body"; `None` when it does not.
fn locate(raw: &[u8], needle: &str) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    if lines.next().is_some_and(|l| l.contains(needle)) {
        return Some("the request line".into());
    }
    if let Some(line) = lines.find(|l| l.contains(needle)) {
        let name = line.split_once(':').map_or(line, |(n, _)| n).trim();
        return Some(format!("header {name}"));
    }
    body.contains(needle).then(|| "the body".into())
}

fn passthrough(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let Some(canary) = &ctx.canary else {
            return Outcome::new(
                Verdict::NotEvaluated,
                "needs an upstream-calling canary tool (the embedded demo has one)",
            );
        };
        let Some(upstream) = &canary.upstream else {
            return Outcome::new(
                Verdict::NotEvaluated,
                "no harness-controlled upstream is observable: the canary's upstream calls cannot be inspected",
            );
        };
        let Some(token) = ctx.valid_token() else {
            return Outcome::undeclared_need();
        };
        let _exclusive = ctx.tool_calls_exclusive().await;
        let valid = Credential::Bearer(token.clone());
        let session = match open_session(ctx, &valid).await {
            Ok(s) => s,
            Err(o) => return o,
        };
        let mark = upstream.len();
        let call = ctx
            .send(
                &valid,
                Some(&session),
                &probe::tools_call_body(&canary.tool, ctx.arguments_for(&canary.tool)),
            )
            .await;
        if !call.response.as_ref().is_ok_and(expect::is_accepted) {
            return Outcome::error(
                "positive control: the canary call with a valid token was not accepted",
                vec![call],
            );
        }
        let waited = tokio::time::Instant::now();
        while upstream.len() == mark && waited.elapsed() < UPSTREAM_GRACE {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let received = upstream.since(mark);
        if received.is_empty() {
            return Outcome::error(
                "positive control: the canary call reached no upstream, so nothing can be judged",
                vec![call],
            );
        }
        let forwarded = received.iter().find_map(|raw| {
            token_forms(&token)
                .into_iter()
                .find_map(|(form, needle)| locate(raw, &needle).map(|at| (form, at)))
        });
        let expected =
            vec!["[MUST] the upstream never receives the client's token (bytes or SHA-256)".into()];
        match forwarded {
            Some((form, at)) => Outcome {
                expected,
                actual: format!("the upstream request carried {form} in {at}"),
                evidence: vec![call],
                ..Outcome::new(
                    Verdict::Fail,
                    "the client's access token was passed through to the upstream API",
                )
            },
            None => Outcome {
                expected,
                ..Outcome::new(
                    Verdict::Pass,
                    format!(
                        "{} upstream request(s), none carrying the client's token",
                        received.len()
                    ),
                )
            },
        }
    })
}

/// The upstream APIs a token could have been issued for: the harness upstream when known,
/// else a generic one, and an API co-hosted on the MCP server's origin.
fn upstream_audiences(ctx: &Context) -> Vec<String> {
    let harness = ctx
        .canary
        .as_ref()
        .and_then(|c| c.upstream.as_ref())
        .map(|u| u.url().to_owned());
    let mut audiences = vec![harness.unwrap_or_else(|| GENERIC_UPSTREAM_API.to_owned())];
    if let Ok(resource) = url::Url::parse(&ctx.audience)
        && resource.origin().is_tuple()
    {
        audiences.push(format!("{}/api", resource.origin().ascii_serialization()));
    }
    audiences.retain(|a| a != &ctx.audience);
    audiences
}

fn foreign_audience(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let Some(spec) = ctx.valid_spec() else {
            return Outcome::undeclared_need();
        };
        let mut worst: Option<Outcome> = None;
        for audience in upstream_audiences(ctx) {
            let token = ctx.mint(&spec.clone().aud(&audience)).unwrap_or_default();
            let outcome = refusal(
                ctx,
                Level::Must,
                Credential::Bearer(token),
                expect::invalid_token,
            )
            .await;
            let outcome = Outcome {
                message: format!("aud {audience}: {}", outcome.message),
                ..outcome
            };
            worst = Some(match worst {
                Some(w) => worse(w, outcome),
                None => outcome,
            });
        }
        worst.unwrap_or_else(|| {
            Outcome::new(
                Verdict::NotEvaluated,
                "no upstream audience differs from the resource",
            )
        })
    })
}

pub fn checks() -> Vec<Check<Context>> {
    vec![
        Check::new(PASSTHROUGH, passthrough),
        Check::new(FOREIGN_AUDIENCE, foreign_audience),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forwarded_token_is_found_where_it_is() {
        let raw =
            b"POST /upstream?t=abc HTTP/1.1\r\nAuthorization: Bearer xyz\r\n\r\n{\"k\":\"qrs\"}";
        assert_eq!(locate(raw, "abc").as_deref(), Some("the request line"));
        assert_eq!(locate(raw, "xyz").as_deref(), Some("header Authorization"));
        assert_eq!(locate(raw, "qrs").as_deref(), Some("the body"));
        assert_eq!(locate(raw, "nope"), None);
    }

    #[test]
    fn the_digest_forms_are_those_of_sha256() {
        let forms = token_forms("abc");
        let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert!(forms.iter().any(|(_, f)| f == hex));
        assert!(forms.iter().any(|(_, f)| f == &hex.to_ascii_uppercase()));
        assert!(
            forms
                .iter()
                .any(|(_, f)| f == "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=")
        );
    }
}
