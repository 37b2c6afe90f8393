//! Expected-response bundles (spec §0.4) as small reusable predicates, OIDF style: each
//! sub-assertion carries its own level, and a bundle's verdict is the worst broken level.
//! "Accepted" is precise (design rule 2): 2xx with a JSON-RPC `result`, never just "not 401".

use crate::http::RecordedResponse;
use crate::model::{Level, Verdict};
use crate::wire::jsonrpc::{self, RpcOutcome};
use crate::wire::oauth::is_valid_error_text;
use crate::wire::www_authenticate::{self, Challenge};

/// Which part of a bundle a sub-assertion checks, so a check can grade just some parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    NotAccepted,
    No5xx,
    Status,
    Challenge,
    ResourceMetadata,
    NoErrorParam,
    ScopeParam,
    ErrorCode,
    ErrorDescription,
    /// The `algs` parameter of a DPoP challenge.
    DpopAlgs,
    /// The `DPoP-Nonce` header.
    DpopNonce,
}

/// One graded sub-assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    pub part: Part,
    pub level: Level,
    /// What was required, e.g. "status is 401".
    pub requirement: String,
    pub holds: bool,
    /// What was seen when it does not hold.
    pub actual: String,
}

/// The requirement of every refusal: the stimulus did not get a JSON-RPC result.
pub const NOT_ACCEPTED: &str = "not accepted (no 2xx JSON-RPC result)";
/// The requirement of every refusal: no server error for a bad credential.
pub const NO_5XX: &str = "no 5xx answer to a bad credential";
/// The requirement of [A]: the stimulus is accepted.
pub const ACCEPTED: &str = "accepted: 2xx with a JSON-RPC result";

/// The graded sub-assertions of one response against one bundle.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grade {
    pub assertions: Vec<Assertion>,
}

impl Grade {
    fn check(
        &mut self,
        part: Part,
        level: Level,
        requirement: impl Into<String>,
        holds: bool,
        actual: impl Into<String>,
    ) {
        self.assertions.push(Assertion {
            part,
            level,
            requirement: requirement.into(),
            holds,
            actual: if holds { String::new() } else { actual.into() },
        });
    }

    /// Fail if a MUST is broken, Warn if a SHOULD is, Info for MAY/INFO, else Pass.
    pub fn verdict(&self) -> Verdict {
        self.assertions
            .iter()
            .filter(|a| !a.holds)
            .map(|a| a.level.broken_verdict())
            .min_by_key(|v| match v {
                Verdict::Fail => 0,
                Verdict::Warn => 1,
                _ => 2,
            })
            .unwrap_or(Verdict::Pass)
    }

    /// Only the sub-assertions about these parts.
    pub fn only(mut self, parts: &[Part]) -> Self {
        self.assertions.retain(|a| parts.contains(&a.part));
        self
    }

    /// Without the sub-assertions about these parts.
    pub fn without(mut self, parts: &[Part]) -> Self {
        self.assertions.retain(|a| !parts.contains(&a.part));
        self
    }

    pub fn broken(&self) -> impl Iterator<Item = &Assertion> {
        self.assertions.iter().filter(|a| !a.holds)
    }

    /// The acceptable outcomes, one line per sub-assertion.
    pub fn expected(&self) -> Vec<String> {
        self.assertions
            .iter()
            .map(|a| format!("[{}] {}", a.level, a.requirement))
            .collect()
    }
}

/// The parsed challenges of a response, or the syntax error.
pub fn challenges(
    resp: &RecordedResponse,
) -> Result<Vec<Challenge>, www_authenticate::SyntaxError> {
    www_authenticate::parse_all(resp.header_values("www-authenticate"))
}

/// What the body says as JSON-RPC.
pub fn rpc_outcome(resp: &RecordedResponse) -> RpcOutcome {
    jsonrpc::classify(resp.header("content-type"), &resp.body)
}

/// [A]: 2xx (200, or 202 for notifications) with a JSON-RPC `result`.
pub fn is_accepted(resp: &RecordedResponse) -> bool {
    match resp.status {
        200 => rpc_outcome(resp).is_result(),
        202 => true,
        _ => false,
    }
}

fn describe(resp: &RecordedResponse) -> String {
    let rpc = match rpc_outcome(resp) {
        RpcOutcome::Result(_) => "JSON-RPC result".to_owned(),
        RpcOutcome::Error { code, message } => format!("JSON-RPC error {code:?} {message:?}"),
        RpcOutcome::Empty => "empty body".to_owned(),
        RpcOutcome::NotJsonRpc(_) => "non-JSON-RPC body".to_owned(),
    };
    format!("HTTP {} with {rpc}", resp.status)
}

/// [MUST] the refusal is a 401 (every 401 bundle shares this part).
fn status_is_401(g: &mut Grade, resp: &RecordedResponse) {
    g.check(
        Part::Status,
        Level::Must,
        "status is 401",
        resp.status == 401,
        format!("HTTP {}", resp.status),
    );
}

/// The common part of every refusal: never accepted, never 5xx (spec §0.4 rules).
fn refusal_basics(g: &mut Grade, resp: &RecordedResponse) {
    g.check(
        Part::NotAccepted,
        Level::Must,
        NOT_ACCEPTED,
        !is_accepted(resp),
        describe(resp),
    );
    g.check(
        Part::No5xx,
        Level::Must,
        NO_5XX,
        resp.status < 500,
        format!("HTTP {}", resp.status),
    );
}

/// The first challenge of a response in one of `schemes`, or what was seen instead.
fn challenge_in(resp: &RecordedResponse, schemes: &[&str]) -> (Option<Challenge>, String) {
    match challenges(resp) {
        Ok(list) => {
            let seen = list
                .iter()
                .map(|c| c.scheme.clone())
                .collect::<Vec<_>>()
                .join(", ");
            let found = list
                .into_iter()
                .find(|c| schemes.iter().any(|s| c.is_scheme(s)));
            let seen = if seen.is_empty() {
                "no WWW-Authenticate".into()
            } else {
                format!("schemes: {seen}")
            };
            (found, seen)
        }
        Err(e) => (None, e.to_string()),
    }
}

fn bearer_challenge(resp: &RecordedResponse) -> (Option<Challenge>, String) {
    challenge_in(resp, &["Bearer", "DPoP"])
}

/// An `error_description`, when present, stays in the RFC 6750 §3 character set (MUST).
fn error_description_charset(g: &mut Grade, challenge: &Challenge) {
    if let Some(e) = challenge.param("error_description") {
        g.check(
            Part::ErrorDescription,
            Level::Must,
            "error_description is one or more NQSCHAR (RFC 6749 Appendix A.5)",
            is_valid_error_text(e),
            if e.is_empty() {
                "error_description=\"\" (empty)"
            } else {
                e
            },
        );
    }
}

/// [U] unauthenticated challenge.
pub fn unauthenticated(resp: &RecordedResponse) -> Grade {
    let mut g = Grade::default();
    refusal_basics(&mut g, resp);
    status_is_401(&mut g, resp);
    let (challenge, seen) = bearer_challenge(resp);
    g.check(
        Part::Challenge,
        Level::Must,
        "a Bearer (or DPoP) challenge in WWW-Authenticate",
        challenge.is_some(),
        seen,
    );
    if let Some(c) = challenge {
        g.check(
            Part::ResourceMetadata,
            Level::Must,
            "resource_metadata parameter present",
            c.param("resource_metadata").is_some(),
            c.to_string(),
        );
        g.check(
            Part::NoErrorParam,
            Level::Should,
            "no error parameter without credentials",
            c.param("error").is_none(),
            c.to_string(),
        );
        g.check(
            Part::ScopeParam,
            Level::Should,
            "scope parameter present",
            c.param("scope").is_some(),
            c.to_string(),
        );
    }
    g
}

/// [X] invalid token.
pub fn invalid_token(resp: &RecordedResponse) -> Grade {
    let mut g = Grade::default();
    refusal_basics(&mut g, resp);
    status_is_401(&mut g, resp);
    let (challenge, seen) = bearer_challenge(resp);
    g.check(
        Part::Challenge,
        Level::Must,
        "a Bearer (or DPoP) challenge in WWW-Authenticate",
        challenge.is_some(),
        seen,
    );
    if let Some(c) = challenge {
        g.check(
            Part::ErrorCode,
            Level::Should,
            "error=\"invalid_token\"",
            c.param("error") == Some("invalid_token"),
            c.to_string(),
        );
        g.check(
            Part::ResourceMetadata,
            Level::Should,
            "resource_metadata parameter present",
            c.param("resource_metadata").is_some(),
            c.to_string(),
        );
        error_description_charset(&mut g, &c);
    }
    g
}

/// [Q] malformed request: 400 invalid_request preferred, 401 tolerated (OQ-1), never [A].
pub fn malformed_request(resp: &RecordedResponse) -> Grade {
    let mut g = Grade::default();
    refusal_basics(&mut g, resp);
    g.check(
        Part::Status,
        Level::Must,
        "status is 400 or 401",
        resp.status == 400 || resp.status == 401,
        format!("HTTP {}", resp.status),
    );
    if resp.status == 400 {
        let (challenge, seen) = bearer_challenge(resp);
        g.check(
            Part::ErrorCode,
            Level::Should,
            "error=\"invalid_request\"",
            challenge.as_ref().and_then(|c| c.param("error")) == Some("invalid_request"),
            seen,
        );
    }
    g
}

/// [F] insufficient scope; `needed` is the scope the operation requires.
pub fn insufficient_scope(resp: &RecordedResponse, needed: &str) -> Grade {
    let mut g = Grade::default();
    refusal_basics(&mut g, resp);
    g.check(
        Part::Status,
        Level::Must,
        "status is 403",
        resp.status == 403,
        format!("HTTP {}", resp.status),
    );
    let (challenge, seen) = bearer_challenge(resp);
    g.check(
        Part::Challenge,
        Level::Must,
        "a Bearer challenge in WWW-Authenticate",
        challenge.is_some(),
        seen,
    );
    if let Some(c) = challenge {
        g.check(
            Part::ErrorCode,
            Level::Should,
            "error=\"insufficient_scope\"",
            c.param("error") == Some("insufficient_scope"),
            c.to_string(),
        );
        let names_needed = c.param("scope").is_some_and(|s| {
            crate::wire::oauth::Scope::parse(s).covers(&crate::wire::oauth::Scope::parse(needed))
        });
        g.check(
            Part::ScopeParam,
            Level::Should,
            format!("scope names {needed:?}"),
            names_needed,
            c.to_string(),
        );
        g.check(
            Part::ResourceMetadata,
            Level::Should,
            "resource_metadata parameter present",
            c.param("resource_metadata").is_some(),
            c.to_string(),
        );
    }
    g
}

/// [A] accept: 200 (or 202 for notifications) with a JSON-RPC `result`, for stimuli the
/// target must take (a valid variant of `V`).
pub fn accepted(resp: &RecordedResponse) -> Grade {
    let mut g = Grade::default();
    g.check(
        Part::Status,
        Level::Must,
        ACCEPTED,
        is_accepted(resp),
        describe(resp),
    );
    g
}

/// A token whose validation could not complete (introspection failed) is refused: 401, or 503
/// for an unavailable dependency; never accepted, never another 5xx (spec
/// rs-introspection-failure).
pub fn fails_closed(resp: &RecordedResponse) -> Grade {
    let mut g = Grade::default();
    g.check(
        Part::NotAccepted,
        Level::Must,
        NOT_ACCEPTED,
        !is_accepted(resp),
        describe(resp),
    );
    g.check(
        Part::Status,
        Level::Must,
        "status is 401 or 503",
        resp.status == 401 || resp.status == 503,
        format!("HTTP {}", resp.status),
    );
    g
}

/// [X] for a 401 answer, [Q] for a 400 one: a token that is not a strict b64token may be
/// treated as a malformed request (OQ-1); never accepted, never 5xx.
pub fn invalid_token_or_malformed(resp: &RecordedResponse) -> Grade {
    if resp.status == 400 {
        malformed_request(resp)
    } else {
        invalid_token(resp)
    }
}

// ---- DPoP bundles (spec §0.4 [D], [DT], [N]) ----

/// The first `DPoP` challenge of a response, or what was seen instead.
pub fn dpop_challenge(resp: &RecordedResponse) -> (Option<Challenge>, String) {
    challenge_in(resp, &["DPoP"])
}

/// [D] / [DT]: 401 with a `DPoP` challenge whose `error` is one of `codes` (SHOULD) and
/// which names its `algs` (SHOULD); never accepted, never 5xx.
fn dpop_refusal(resp: &RecordedResponse, codes: &[&str]) -> Grade {
    let mut g = Grade::default();
    refusal_basics(&mut g, resp);
    status_is_401(&mut g, resp);
    let (challenge, seen) = dpop_challenge(resp);
    g.check(
        Part::Challenge,
        Level::Must,
        "a DPoP challenge in WWW-Authenticate (SEP-1932)",
        challenge.is_some(),
        seen,
    );
    if let Some(c) = challenge {
        let wanted = codes
            .iter()
            .map(|c| format!("error=\"{c}\""))
            .collect::<Vec<_>>()
            .join(" or ");
        g.check(
            Part::ErrorCode,
            Level::Should,
            wanted,
            c.param("error").is_some_and(|e| codes.contains(&e)),
            c.to_string(),
        );
        g.check(
            Part::DpopAlgs,
            Level::Should,
            "algs parameter names the proof algorithms (RFC 9449 §7.1)",
            c.param("algs").is_some_and(|a| !a.trim().is_empty()),
            c.to_string(),
        );
        error_description_charset(&mut g, &c);
    }
    g
}

/// [D] DPoP proof invalid: 401, a DPoP challenge, `error="invalid_dpop_proof"` (SHOULD),
/// `algs` (SHOULD).
pub fn dpop_invalid(resp: &RecordedResponse) -> Grade {
    dpop_refusal(resp, &["invalid_dpop_proof"])
}

/// [DT] DPoP binding failure: as [D], `invalid_token` (RFC 9449 Figure 16) or
/// `invalid_dpop_proof` (OQ-12).
pub fn dpop_binding(resp: &RecordedResponse) -> Grade {
    dpop_refusal(resp, &["invalid_token", "invalid_dpop_proof"])
}

/// [N] or [D]: a proof without the demanded nonce is refused, with `use_dpop_nonce` or
/// `invalid_dpop_proof` (RFC 9449 §11.3).
pub fn dpop_nonce_or_invalid(resp: &RecordedResponse) -> Grade {
    dpop_refusal(resp, &["use_dpop_nonce", "invalid_dpop_proof"])
}

/// OQ-31: whether an answer to an oversized request is a refusal by the HTTP layer, before
/// authentication looked at it — `431` (fields too large), `413` (too large), a `400` without
/// a challenge, or any other 4xx without a challenge whose connection closed right after its
/// status line and headers (`body_incomplete`). The status is the evidence; a challenge would
/// mean the authentication layer answered, and is graded as such.
pub fn is_http_layer_size_refusal(resp: &RecordedResponse) -> bool {
    let challenged = !resp.header_values("www-authenticate").is_empty();
    match resp.status {
        413 | 431 => true,
        400 => !challenged,
        401..=499 => !challenged && resp.body_incomplete.is_some(),
        _ => false,
    }
}

/// The oversized-credential rows (rs-auth-malformed-credentials' 64 KB token, rs-dpop-jti-bad's
/// 64 KB `jti`): a size refusal by the HTTP layer passes (OQ-31); any other answer is graded
/// by `otherwise`, the row's own bundle.
pub fn oversized_credential(
    resp: &RecordedResponse,
    otherwise: impl Fn(&RecordedResponse) -> Grade,
) -> Grade {
    if !is_http_layer_size_refusal(resp) {
        return otherwise(resp);
    }
    let mut g = Grade::default();
    refusal_basics(&mut g, resp);
    g.check(
        Part::Status,
        Level::Must,
        "refused by the HTTP layer as too large (431, 413, a 400 without a challenge, or a \
         status line and a closed connection), OQ-31",
        true,
        "",
    );
    g
}

/// A 64 KB DPoP proof: a size refusal by the HTTP layer (OQ-31), or any 400 (OQ-1), or [D];
/// never accepted, never 5xx.
pub fn dpop_invalid_or_too_large(resp: &RecordedResponse) -> Grade {
    oversized_credential(resp, |r| {
        if r.status == 400 {
            let mut g = Grade::default();
            refusal_basics(&mut g, r);
            g
        } else {
            dpop_invalid(r)
        }
    })
}

/// `Authorization: Bearer` with nothing after it is no credentials (OQ-31): the bare
/// challenge [U] (a 401 whose challenge has no `error`) passes, as do [X] and [Q].
pub fn empty_credential(resp: &RecordedResponse) -> Grade {
    let bare = resp.status == 401
        && bearer_challenge(resp)
            .0
            .is_some_and(|c| c.param("error").is_none());
    if bare {
        unauthenticated(resp)
    } else {
        invalid_token_or_malformed(resp)
    }
}

/// [D] for a 401, [Q] for a 400: malformed DPoP requests (two proofs) may be either (OQ-1).
pub fn dpop_invalid_or_malformed(resp: &RecordedResponse) -> Grade {
    if resp.status == 400 {
        malformed_request(resp)
    } else {
        dpop_invalid(resp)
    }
}

/// [X] or [D]/[DT]: a 401 refusal, Bearer or DPoP challenge, whatever the error code.
pub fn token_or_dpop_refusal(resp: &RecordedResponse) -> Grade {
    let mut g = Grade::default();
    refusal_basics(&mut g, resp);
    status_is_401(&mut g, resp);
    let (challenge, seen) = bearer_challenge(resp);
    g.check(
        Part::Challenge,
        Level::Must,
        "a Bearer or DPoP challenge in WWW-Authenticate",
        challenge.is_some(),
        seen,
    );
    g
}

/// [N] nonce demanded: 401, a DPoP challenge with `error="use_dpop_nonce"`, exactly one
/// `DPoP-Nonce` header of NQCHAR (MUST, RFC 9449 §8, §8.1), not cacheable (SHOULD, §8.2).
pub fn dpop_nonce_demanded(resp: &RecordedResponse) -> Grade {
    let mut g = Grade::default();
    refusal_basics(&mut g, resp);
    status_is_401(&mut g, resp);
    let (challenge, seen) = dpop_challenge(resp);
    g.check(
        Part::ErrorCode,
        Level::Must,
        "a DPoP challenge with error=\"use_dpop_nonce\"",
        challenge
            .as_ref()
            .is_some_and(|c| c.param("error") == Some("use_dpop_nonce")),
        challenge.map(|c| c.to_string()).unwrap_or(seen),
    );
    let nonces = resp.header_values("dpop-nonce");
    g.check(
        Part::DpopNonce,
        Level::Must,
        "exactly one DPoP-Nonce header, its value 1*NQCHAR",
        nonces.len() == 1 && crate::wire::oauth::is_valid_dpop_nonce(nonces[0]),
        format!("{} DPoP-Nonce field(s): {nonces:?}", nonces.len()),
    );
    let no_store = resp
        .header_values("cache-control")
        .iter()
        .any(|v| v.to_ascii_lowercase().contains("no-store"));
    g.check(
        Part::DpopNonce,
        Level::Should,
        "Cache-Control: no-store (RFC 9449 §8.2)",
        no_store,
        format!("cache-control: {:?}", resp.header_values("cache-control")),
    );
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> RecordedResponse {
        RecordedResponse::fake(status, headers, body)
    }

    const RESULT: &str = r#"{"jsonrpc":"2.0","id":1,"result":{}}"#;

    #[test]
    fn acceptance_needs_a_jsonrpc_result() {
        assert!(is_accepted(&resp(
            200,
            &[("content-type", "application/json")],
            RESULT
        )));
        assert!(!is_accepted(&resp(
            200,
            &[],
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"x"}}"#
        )));
        assert!(!is_accepted(&resp(200, &[], "<html>login</html>")));
        assert!(!is_accepted(&resp(302, &[("location", "/login")], "")));
    }

    #[test]
    fn compliant_challenge_passes_u() {
        let r = resp(
            401,
            &[(
                "www-authenticate",
                r#"Bearer resource_metadata="https://h/.well-known/oauth-protected-resource/mcp", scope="mcp:read""#,
            )],
            "",
        );
        assert_eq!(unauthenticated(&r).verdict(), Verdict::Pass);
    }

    #[test]
    fn u_grades_each_part_by_level() {
        // error= in a bare challenge is a SHOULD: Warn.
        let r = resp(
            401,
            &[(
                "www-authenticate",
                r#"Bearer error="invalid_token", resource_metadata="https://x", scope="a""#,
            )],
            "",
        );
        let g = unauthenticated(&r);
        assert_eq!(g.verdict(), Verdict::Warn);
        assert_eq!(g.broken().count(), 1);
        // No challenge at all is a MUST: Fail.
        assert_eq!(
            unauthenticated(&resp(401, &[], "")).verdict(),
            Verdict::Fail
        );
        // Accepting is a Fail whatever else.
        let g = unauthenticated(&resp(200, &[], RESULT));
        assert_eq!(g.verdict(), Verdict::Fail);
        assert!(
            crate::sentence::observed(&g).contains("JSON-RPC result"),
            "{g:?}"
        );
    }

    #[test]
    fn x_q_and_f() {
        let x = resp(
            401,
            &[(
                "www-authenticate",
                r#"Bearer error="invalid_token", resource_metadata="https://x""#,
            )],
            "",
        );
        assert_eq!(invalid_token(&x).verdict(), Verdict::Pass);
        assert_eq!(
            invalid_token(&resp(500, &[], "boom")).verdict(),
            Verdict::Fail
        );
        let q = resp(
            400,
            &[("www-authenticate", r#"Bearer error="invalid_request""#)],
            "",
        );
        assert_eq!(malformed_request(&q).verdict(), Verdict::Pass);
        assert_eq!(malformed_request(&x).verdict(), Verdict::Pass);
        let f = resp(
            403,
            &[(
                "www-authenticate",
                r#"Bearer error="insufficient_scope", scope="mcp:read mcp:write", resource_metadata="https://x""#,
            )],
            "",
        );
        assert_eq!(insufficient_scope(&f, "mcp:write").verdict(), Verdict::Pass);
        assert_eq!(insufficient_scope(&x, "mcp:write").verdict(), Verdict::Fail);
    }

    #[test]
    fn size_refusals_by_the_http_layer() {
        let cut = |status, headers: &[(&str, &str)]| RecordedResponse {
            body_incomplete: Some("the connection was reset before the end of the body".into()),
            ..resp(status, headers, "")
        };
        let q = [("www-authenticate", r#"Bearer error="invalid_request""#)];
        let x = [("www-authenticate", r#"Bearer error="invalid_token""#)];
        for refusal in [
            resp(431, &[("connection", "close")], ""),
            resp(413, &[], ""),
            resp(400, &[], "Bad Request"),
            cut(400, &[]),
            cut(404, &[]),
        ] {
            assert!(is_http_layer_size_refusal(&refusal), "{refusal:?}");
            let g = oversized_credential(&refusal, invalid_token_or_malformed);
            assert_eq!(g.verdict(), Verdict::Pass, "{refusal:?}");
            assert_eq!(dpop_invalid_or_too_large(&refusal).verdict(), Verdict::Pass);
        }
        // Before OQ-31 a 400 without a challenge was graded [Q] and warned.
        assert_eq!(
            invalid_token_or_malformed(&resp(400, &[], "")).verdict(),
            Verdict::Warn
        );
        // A challenge, or a whole 401, means the authentication layer answered: the row's
        // bundle grades it.
        for answered in [resp(400, &q, ""), cut(401, &x), resp(401, &[], "")] {
            assert!(!is_http_layer_size_refusal(&answered), "{answered:?}");
        }
        let g = oversized_credential(&resp(401, &[], ""), invalid_token_or_malformed);
        assert_eq!(g.verdict(), Verdict::Fail, "a 401 without a challenge");
        // Never a refusal: a 5xx or an acceptance, cut short or not.
        for wrong in [
            cut(500, &[]),
            resp(503, &[], ""),
            cut(200, &[]),
            resp(200, &[("content-type", "application/json")], RESULT),
        ] {
            assert!(!is_http_layer_size_refusal(&wrong), "{wrong:?}");
            let g = oversized_credential(&wrong, invalid_token_or_malformed);
            assert_eq!(g.verdict(), Verdict::Fail, "{wrong:?}");
            assert_eq!(dpop_invalid_or_too_large(&wrong).verdict(), Verdict::Fail);
        }
    }

    #[test]
    fn an_empty_bearer_credential_is_no_credentials() {
        let bare = resp(
            401,
            &[(
                "www-authenticate",
                r#"Bearer resource_metadata="https://x", scope="a""#,
            )],
            "",
        );
        assert_eq!(empty_credential(&bare).verdict(), Verdict::Pass);
        // What the row graded it by before OQ-31: [X], whose error code is missing.
        assert_eq!(invalid_token_or_malformed(&bare).verdict(), Verdict::Warn);
        let x = resp(
            401,
            &[(
                "www-authenticate",
                r#"Bearer error="invalid_token", resource_metadata="https://x""#,
            )],
            "",
        );
        let q = resp(
            400,
            &[("www-authenticate", r#"Bearer error="invalid_request""#)],
            "",
        );
        assert_eq!(empty_credential(&x).verdict(), Verdict::Pass);
        assert_eq!(empty_credential(&q).verdict(), Verdict::Pass);
        for wrong in [
            resp(401, &[], ""),
            resp(500, &[], ""),
            resp(200, &[("content-type", "application/json")], RESULT),
        ] {
            assert_eq!(
                empty_credential(&wrong).verdict(),
                Verdict::Fail,
                "{wrong:?}"
            );
        }
    }
}
