//! Messages a person reads once (issue 12 item 8): a non-pass says in one plain sentence what
//! the server did to which stimulus — "accepted a token without exp: HTTP 200 with a JSON-RPC
//! result, no challenge", "refused with HTTP 400 and no WWW-Authenticate, where 401 with a
//! Bearer challenge is due" — built from the broken sub-assertions (the worst first) and what
//! came back. The Actual line shows what came back (status, challenges, body, how it ended),
//! not the expectation's label; the Expected list stays the bundle's sub-assertions.

use crate::expect::{self, Assertion, Grade, Part};
use crate::http::RecordedResponse;
use crate::model::Level;
use crate::wire::jsonrpc::RpcOutcome;
use crate::wire::www_authenticate::Challenge;

/// Longest excerpt of a body or a JSON-RPC error message quoted in a sentence or an Actual.
const EXCERPT_CHARS: usize = 80;

/// How many broken requirements a sentence about documents names.
const MAX_NAMED: usize = 2;

/// What a broken sub-assertion asks for, as a phrase that fits "where … is due".
#[derive(Debug, Clone, PartialEq, Eq)]
enum Due {
    /// A status: `401`, `400 or 401`, `a status other than 401`.
    Status(String),
    /// A challenge: `a Bearer challenge`, `a DPoP challenge`.
    Challenge(String),
    /// Anything else with a name: `error="invalid_token"`, `a resource_metadata parameter`.
    Item(String),
}

/// The phrase for an assertion of the shared bundles (expect.rs); `None` for a requirement
/// written by one check, which the sentence then quotes as it is.
fn due(a: &Assertion) -> Option<Due> {
    let r = a.requirement.as_str();
    let item = |s: &str| Some(Due::Item(s.to_owned()));
    match a.part {
        Part::NotAccepted if r == expect::NOT_ACCEPTED => item("a refusal"),
        Part::No5xx if r == expect::NO_5XX => item("an answer other than 5xx"),
        Part::Status => {
            if r == expect::ACCEPTED {
                item("acceptance (2xx with a JSON-RPC result)")
            } else if let Some(s) = r.strip_prefix("status is not ") {
                Some(Due::Status(format!("a status other than {s}")))
            } else {
                r.strip_prefix("status is ")
                    .map(|s| Due::Status(s.to_owned()))
            }
        }
        Part::Challenge => r
            .find(" in WWW-Authenticate")
            .map(|i| Due::Challenge(r[..i].replace(" (or DPoP)", ""))),
        Part::ResourceMetadata | Part::ScopeParam if r.ends_with(" parameter present") => {
            Some(Due::Item(format!(
                "a {} parameter",
                r.trim_end_matches(" parameter present")
            )))
        }
        Part::ScopeParam => r
            .strip_prefix("scope names ")
            .map(|s| Due::Item(format!("a scope parameter naming {s}"))),
        Part::NoErrorParam => item("no error parameter"),
        Part::ErrorCode if r.contains("error=") => item(r),
        Part::ErrorDescription => item("an error_description of NQSCHAR only"),
        Part::DpopAlgs => item("an algs parameter naming the proof algorithms"),
        Part::DpopNonce if r.starts_with("exactly one DPoP-Nonce") => {
            item("exactly one DPoP-Nonce header of NQCHAR")
        }
        Part::DpopNonce if r.starts_with("Cache-Control: no-store") => {
            item("Cache-Control: no-store")
        }
        _ => None,
    }
}

/// How bad a broken assertion is, worst first.
fn rank(level: Level) -> u8 {
    match level {
        Level::Must => 0,
        Level::Should => 1,
        Level::May => 2,
        Level::Info => 3,
    }
}

/// The broken assertions, the worst level first (stable within a level).
fn broken_worst_first(grade: &Grade) -> Vec<&Assertion> {
    let mut broken: Vec<&Assertion> = grade.broken().collect();
    broken.sort_by_key(|a| rank(a.level));
    broken
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// What is due at one level: the status and challenge merged ("401 with a Bearer
/// challenge"), then the rest.
fn due_phrase(dues: &[Due]) -> Option<String> {
    let status = dues.iter().find_map(|d| match d {
        Due::Status(s) => Some(s.clone()),
        _ => None,
    });
    let challenge = dues.iter().find_map(|d| match d {
        Due::Challenge(c) => Some(c.clone()),
        _ => None,
    });
    let mut items: Vec<String> = Vec::new();
    match (status, challenge) {
        (Some(s), Some(c)) => items.push(format!("{s} with {c}")),
        (Some(s), None) => items.push(s),
        (None, Some(c)) => items.push(c),
        (None, None) => {}
    }
    let has_status = dues.iter().any(|d| matches!(d, Due::Status(_)));
    for d in dues {
        if let Due::Item(i) = d {
            // A 5xx that is not the due status says no more than the status does.
            if has_status && i == "an answer other than 5xx" {
                continue;
            }
            if !items.contains(i) {
                items.push(i.clone());
            }
        }
    }
    let verb = if items.len() == 1 { "is" } else { "are" };
    (!items.is_empty()).then(|| format!("{} {verb} due", and_list(&items)))
}

/// ", where 401 with a Bearer challenge is due, and error=… is due at SHOULD; not met: …":
/// what the broken assertions ask for, grouped by level, the worst first; requirements of
/// one check's own are quoted with what was seen.
fn where_due(broken: &[&Assertion], skip_refusal: bool) -> String {
    let mut out = String::new();
    let mut own: Vec<String> = Vec::new();
    let mut first_level: Option<Level> = None;
    let mut levels: Vec<Level> = broken.iter().map(|a| a.level).collect();
    levels.dedup();
    for level in levels {
        let dues: Vec<Due> = broken
            .iter()
            .filter(|a| a.level == level)
            .filter_map(|a| match due(a) {
                Some(d) => Some(d),
                None => {
                    own.push(own_requirement(a));
                    None
                }
            })
            .filter(|d| !(skip_refusal && matches!(d, Due::Item(i) if i == "a refusal")))
            .collect();
        let Some(phrase) = due_phrase(&dues) else {
            continue;
        };
        match first_level {
            None => {
                first_level = Some(level);
                out.push_str(&format!(", where {phrase}"));
            }
            Some(_) => out.push_str(&format!(", and {phrase} at {level}")),
        }
    }
    own.dedup();
    if !own.is_empty() {
        out.push_str(&format!("; not met: {}", own.join("; ")));
    }
    out
}

/// A requirement of a check's own with what was seen: `no request to … (the listener …)`.
fn own_requirement(a: &Assertion) -> String {
    if a.actual.is_empty() {
        a.requirement.clone()
    } else {
        format!("{} ({})", a.requirement, a.actual)
    }
}

/// The first `n` characters of `s`, with an ellipsis when cut.
fn excerpt(s: &str, n: usize) -> String {
    let mut out: String = s.chars().take(n).collect();
    if s.chars().count() > n {
        out.push('…');
    }
    out
}

/// The challenges of a response: parsed, or the raw field values when they do not parse.
fn challenges(resp: &RecordedResponse) -> Result<Vec<Challenge>, Vec<String>> {
    expect::challenges(resp).map_err(|_| {
        resp.header_values("www-authenticate")
            .into_iter()
            .map(str::to_owned)
            .collect()
    })
}

/// "no WWW-Authenticate", "a Bearer challenge (error=\"invalid_token\")", "Bearer and DPoP
/// challenges", "an unparseable WWW-Authenticate".
fn challenge_summary(resp: &RecordedResponse) -> String {
    match challenges(resp) {
        Ok(list) if list.is_empty() => "no WWW-Authenticate".to_owned(),
        Ok(list) => {
            let mut schemes: Vec<String> = Vec::new();
            for c in &list {
                if !schemes.iter().any(|s| c.is_scheme(s)) {
                    schemes.push(c.scheme.clone());
                }
            }
            let named = if schemes.len() == 1 {
                format!("a {} challenge", schemes[0])
            } else {
                format!("{} challenges", and_list(&schemes))
            };
            match list.iter().find_map(|c| c.param("error")) {
                Some(e) => format!("{named} (error=\"{}\")", excerpt(e, EXCERPT_CHARS)),
                None => named,
            }
        }
        Err(_) => "an unparseable WWW-Authenticate".to_owned(),
    }
}

/// What the body is, in a few words: "a JSON-RPC result", "JSON-RPC error -32600", "an
/// empty body", "a body that is no JSON-RPC response".
fn body_kind(resp: &RecordedResponse) -> String {
    match expect::rpc_outcome(resp) {
        RpcOutcome::Result(_) => "a JSON-RPC result".to_owned(),
        RpcOutcome::Error {
            code: Some(code), ..
        } => format!("JSON-RPC error {code}"),
        RpcOutcome::Empty => "an empty body".to_owned(),
        RpcOutcome::Error { code: None, .. } | RpcOutcome::NotJsonRpc(_) => {
            "a body that is no JSON-RPC response".to_owned()
        }
    }
}

/// The body for the Actual line: the JSON-RPC result or error, or the start of the text.
fn body_detail(resp: &RecordedResponse) -> String {
    match expect::rpc_outcome(resp) {
        RpcOutcome::Result(_) => "a JSON-RPC result".to_owned(),
        RpcOutcome::Error {
            code: Some(code),
            message,
        } => format!(
            "JSON-RPC error {code} {:?}",
            excerpt(&message, EXCERPT_CHARS)
        ),
        RpcOutcome::Empty => "an empty body".to_owned(),
        RpcOutcome::Error { code: None, .. } | RpcOutcome::NotJsonRpc(_) => {
            let text = String::from_utf8_lossy(&resp.body);
            format!("body {}", excerpt(text.trim(), EXCERPT_CHARS))
        }
    }
}

/// What came back, in a few words. `after_colon` gives "HTTP 200 with a JSON-RPC result, no
/// challenge"; otherwise the words follow "with": "HTTP 200, a JSON-RPC result and no
/// challenge". Refusals name their status and challenge only ("HTTP 400 and no
/// WWW-Authenticate"), since their body says nothing the grade needs.
pub fn came_back(resp: &RecordedResponse, after_colon: bool) -> String {
    let status = format!("HTTP {}", resp.status);
    let challenge = match challenge_summary(resp) {
        s if s == "no WWW-Authenticate" && (200..300).contains(&resp.status) => {
            "no challenge".to_owned()
        }
        s => s,
    };
    let mut out = if (200..300).contains(&resp.status) {
        let body = body_kind(resp);
        if after_colon {
            format!("{status} with {body}, {challenge}")
        } else {
            format!("{status}, {body} and {challenge}")
        }
    } else {
        format!("{status} and {challenge}")
    };
    if let Some(why) = &resp.body_incomplete {
        out.push_str(&format!(", then {why}"));
    }
    out
}

/// The sentence about a response graded by `grade`: what the server did (accepted, refused,
/// answered) to the stimulus (when the check names it), what came back, and what was due.
pub fn about_response(grade: &Grade, stimulus: Option<&str>, resp: &RecordedResponse) -> String {
    let broken = broken_worst_first(grade);
    let accepted = expect::is_accepted(resp);
    let verb = if accepted {
        "accepted"
    } else if (400..500).contains(&resp.status) {
        "refused"
    } else {
        "answered"
    };
    let head = match stimulus {
        Some(s) => format!("{verb} {s}: {}", came_back(resp, true)),
        None => format!("{verb} with {}", came_back(resp, false)),
    };
    if broken.is_empty() {
        return format!("{head}, as required");
    }
    // An acceptance that should have been a refusal says it all: what else the refusal
    // should have carried (401, a challenge) adds nothing.
    let refused_due = broken
        .iter()
        .any(|a| a.part == Part::NotAccepted && a.requirement == expect::NOT_ACCEPTED);
    if accepted && refused_due {
        let own: Vec<&Assertion> = broken.into_iter().filter(|a| due(a).is_none()).collect();
        return format!("{head}{}", where_due(&own, true));
    }
    format!("{head}{}", where_due(&broken, false))
}

/// The sentence about a grade of documents or of several exchanges (no one response): the
/// broken requirements, the worst first, each with what was seen.
pub fn about_grade(grade: &Grade) -> String {
    let broken = broken_worst_first(grade);
    if broken.is_empty() {
        return "every requirement holds".to_owned();
    }
    let mut lines: Vec<String> = broken.iter().map(|a| own_requirement(a)).collect();
    lines.dedup();
    // One sentence: the two worst, and how many more the Expected list and Actual show.
    let more = lines.len().saturating_sub(MAX_NAMED);
    lines.truncate(MAX_NAMED);
    let tail = match more {
        0 => String::new(),
        n => format!("; and {n} more"),
    };
    format!("not met: {}{tail}", lines.join("; "))
}

/// The Actual line for a graded response: the status, every challenge as sent (or the raw
/// field when it does not parse), the body as JSON-RPC, how the answer ended, and what a
/// check's own requirements saw beyond the response.
pub fn actual(grade: &Grade, resp: &RecordedResponse) -> String {
    let mut parts = vec![format!("HTTP {}", resp.status)];
    match challenges(resp) {
        Ok(list) if list.is_empty() => parts.push("no WWW-Authenticate".to_owned()),
        Ok(list) => parts.push(format!(
            "WWW-Authenticate: {}",
            list.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Err(raw) => parts.push(format!(
            "WWW-Authenticate that does not parse: {}",
            raw.join(" | ")
        )),
    }
    parts.push(body_detail(resp));
    if resp.truncated {
        parts.push("body cut at the size limit".to_owned());
    }
    if let Some(why) = &resp.body_incomplete {
        parts.push(format!("then {why}"));
    }
    let mut text = parts.join("; ");
    for a in broken_worst_first(grade) {
        let derived = a.actual.is_empty()
            || a.actual.starts_with("HTTP ")
            || a.actual.starts_with("schemes: ")
            || text.contains(&a.actual);
        if !derived {
            text.push_str("; ");
            text.push_str(&a.actual);
        }
    }
    text
}

/// The Actual line for a grade without one response: what each broken requirement saw, once.
pub fn observed(grade: &Grade) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for a in broken_worst_first(grade) {
        if !a.actual.is_empty() && !seen.contains(&a.actual.as_str()) {
            seen.push(&a.actual);
        }
    }
    seen.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> RecordedResponse {
        RecordedResponse::fake(status, headers, body)
    }

    const RESULT: &str = r#"{"jsonrpc":"2.0","id":1,"result":{}}"#;
    const JSON: (&str, &str) = ("content-type", "application/json");

    #[test]
    fn an_acceptance_names_the_stimulus_and_what_came_back() {
        let r = resp(200, &[JSON], RESULT);
        let g = expect::invalid_token(&r);
        assert_eq!(
            about_response(&g, Some("a token without exp"), &r),
            "accepted a token without exp: HTTP 200 with a JSON-RPC result, no challenge"
        );
        assert_eq!(
            about_response(&g, None, &r),
            "accepted with HTTP 200, a JSON-RPC result and no challenge"
        );
        assert_eq!(
            actual(&g, &r),
            "HTTP 200; no WWW-Authenticate; a JSON-RPC result"
        );
    }

    #[test]
    fn a_refusal_says_what_was_due() {
        let r = resp(400, &[], "");
        let g = expect::invalid_token(&r);
        assert_eq!(
            about_response(&g, None, &r),
            "refused with HTTP 400 and no WWW-Authenticate, where 401 with a Bearer challenge \
             is due"
        );
        let x = resp(
            401,
            &[(
                "www-authenticate",
                r#"Bearer error="invalid_request", resource_metadata="http://x""#,
            )],
            "",
        );
        assert_eq!(
            about_response(
                &expect::invalid_token(&x),
                Some("a token with aud = R + \"/\""),
                &x
            ),
            "refused a token with aud = R + \"/\": HTTP 401 and a Bearer challenge \
             (error=\"invalid_request\"), where error=\"invalid_token\" is due"
        );
    }

    #[test]
    fn lesser_levels_follow_the_worst() {
        let r = resp(
            401,
            &[(
                "www-authenticate",
                r#"Bearer error="invalid_token", resource_metadata="http://x""#,
            )],
            "",
        );
        let g = expect::insufficient_scope(&r, "mcp:write");
        assert_eq!(
            about_response(&g, None, &r),
            "refused with HTTP 401 and a Bearer challenge (error=\"invalid_token\"), where 403 \
             is due, and error=\"insufficient_scope\" and a scope parameter naming \
             \"mcp:write\" are due at SHOULD"
        );
        assert_eq!(
            actual(&g, &r),
            "HTTP 401; WWW-Authenticate: Bearer error=\"invalid_token\", \
             resource_metadata=\"http://x\"; an empty body"
        );
    }

    #[test]
    fn a_server_error_is_answered_not_refused() {
        let r = resp(500, &[], "boom");
        let g = expect::invalid_token(&r);
        assert_eq!(
            about_response(&g, Some("a token that is not a JWT"), &r),
            "answered a token that is not a JWT: HTTP 500 and no WWW-Authenticate, where 401 \
             with a Bearer challenge is due"
        );
        assert_eq!(actual(&g, &r), "HTTP 500; no WWW-Authenticate; body boom");
    }

    #[test]
    fn acceptance_due() {
        let r = resp(
            401,
            &[("www-authenticate", r#"Bearer error="invalid_token""#)],
            "",
        );
        assert_eq!(
            about_response(&expect::accepted(&r), Some("a token with typ AT+JWT"), &r),
            "refused a token with typ AT+JWT: HTTP 401 and a Bearer challenge \
             (error=\"invalid_token\"), where acceptance (2xx with a JSON-RPC result) is due"
        );
    }

    #[test]
    fn a_checks_own_requirement_is_quoted_with_what_it_saw() {
        let r = resp(200, &[JSON], RESULT);
        let mut g = expect::invalid_token(&r);
        g.assertions.push(Assertion {
            part: Part::NotAccepted,
            level: Level::Should,
            requirement: "no request to a URL the JOSE header names".into(),
            holds: false,
            actual: "the tool's listener received 1 request(s) for it".into(),
        });
        let text = about_response(&g, Some("a token with jku = the listener"), &r);
        assert_eq!(
            text,
            "accepted a token with jku = the listener: HTTP 200 with a JSON-RPC result, no \
             challenge; not met: no request to a URL the JOSE header names (the tool's \
             listener received 1 request(s) for it)"
        );
        assert!(actual(&g, &r).ends_with("; the tool's listener received 1 request(s) for it"));
        assert_eq!(
            about_grade(&g).split(';').next(),
            Some("not met: not accepted (no 2xx JSON-RPC result) (HTTP 200 with JSON-RPC result)")
        );
    }

    #[test]
    fn a_pass_says_what_came_back() {
        let r = resp(
            401,
            &[(
                "www-authenticate",
                r#"Bearer error="invalid_token", resource_metadata="http://x""#,
            )],
            "",
        );
        assert_eq!(
            about_response(&expect::invalid_token(&r), None, &r),
            "refused with HTTP 401 and a Bearer challenge (error=\"invalid_token\"), as required"
        );
    }
}
