//! Spec §2.2, the authorization UI: the pages a valid authorization request leads to cannot be
//! framed by other origins (as-authz-clickjacking), and the redirect answering the login
//! form's credential POST is no 307 (as-authz-no-307). Both walk the pages as a browser would,
//! with the form driver's user agent ([`crate::source::login_form`]): cookies kept, redirects
//! followed on the authorization server's origin only, never to the client.

use crate::catalog::request_auth::observation;
use crate::catalog::rfc;
use crate::check::{CheckMeta, Need, Outcome};
use crate::engine::authorization_server::{AsClient, AsContext};
use crate::expect::{Assertion, Part};
use crate::http::{Exchange, RecordedResponse};
use crate::model::{Level, Verdict};
use crate::source::login_form::{Agent, FormError, FormLogin, Landing};

use super::{OAUTH21, RFC9700, as_meta};

pub(super) const CLICKJACKING: CheckMeta = as_meta(
    "as.authorize.clickjacking",
    "as-authz-clickjacking",
    "Its login page cannot be framed",
    "The page a valid authorization request leads to (after same-origin redirects) carries Content-Security-Policy frame-ancestors that excludes foreign origins, or, without that directive, X-Frame-Options DENY or SAMEORIGIN. A server that redirects back at once (no page) is skipped.",
    Level::Must,
    &[rfc(
        "RFC 9700",
        "§4.16",
        "authorization servers prevent clickjacking: their pages may not be framed by other origins",
        RFC9700,
    )],
    &[Need::AsClient],
    &["as-login-framable"],
);

pub(super) const NO_307: CheckMeta = as_meta(
    "as.authorize.no-307",
    "as-authz-no-307",
    "Does not answer the credential POST with 307",
    "The built-in form driver logs in; the redirect answering the credential POST (or, when that answers with a consent page, the approval POST) is not 307, which would make the browser re-POST the user's credentials to the client; 303 is preferred, 302 passes and is recorded.",
    Level::Must,
    &[
        rfc(
            "RFC 9700",
            "§4.12",
            "an authorization server redirecting a request that may carry credentials MUST NOT use 307",
            RFC9700,
        ),
        rfc(
            "OAuth 2.1",
            "§7.5.3",
            "303 See Other is recommended after a POST; 307 is not used",
            OAUTH21,
        ),
    ],
    &[Need::AsClient],
    &["as-login-redirect-307"],
);

/// A user agent about to walk a valid authorization request of the run's client: the
/// request's URL and the agent.
fn walk(ctx: &AsContext) -> Result<(url::Url, Agent), Outcome> {
    let Some(client) = ctx.client.clone() else {
        return Err(Outcome::undeclared_need());
    };
    let url = valid_request_url(ctx, &client)?;
    let agent = Agent::new(ctx.driver.clone(), &url, &client.redirect_uri)
        .map_err(|e| Outcome::error(e.to_string(), Vec::new()))?;
    Ok((url, agent))
}

/// The authorization URL of a valid request of `client`.
fn valid_request_url(ctx: &AsContext, client: &AsClient) -> Result<url::Url, Outcome> {
    let Some(endpoint) = ctx.authorization_endpoint() else {
        return Err(Outcome::error(
            "the metadata names no authorization_endpoint (see as.metadata.required)",
            ctx.documents.exchanges(),
        ));
    };
    let mut url = url::Url::parse(endpoint).map_err(|e| {
        Outcome::error(
            format!("the authorization_endpoint {endpoint} is no URL: {e}"),
            ctx.documents.exchanges(),
        )
    })?;
    url.query_pairs_mut()
        .extend_pairs(ctx.valid_authorization_params(client));
    Ok(url)
}

/// What a walk that ended early says: a redirect off the origin is a federated login this run
/// cannot follow; anything else could not be judged.
fn ended(e: FormError, what: &str, evidence: Vec<Exchange>) -> Outcome {
    match e {
        FormError::OtherOrigin(..) => {
            let mut outcome = Outcome::new(
                Verdict::NotEvaluated,
                format!(
                    "{what}: {e}; the page there belongs to another server (a federated login)"
                ),
            );
            outcome.evidence = evidence;
            outcome
        }
        // The valid request, the row's positive control, got no page to judge.
        e => Outcome::error(format!("positive control: {what}: {e}"), evidence),
    }
}

/// The sources of the `frame-ancestors` directive of one CSP header value, if it has one.
fn frame_ancestors(policy: &str) -> Option<Vec<String>> {
    policy.split(';').find_map(|directive| {
        let mut tokens = directive.split_ascii_whitespace();
        let name = tokens.next()?;
        name.eq_ignore_ascii_case("frame-ancestors")
            .then(|| tokens.map(str::to_ascii_lowercase).collect())
    })
}

/// Whether every source of a frame-ancestors list is the page's own origin (`'none'`,
/// `'self'`, or that origin spelled out).
fn excludes_foreign(sources: &[String], own_origin: &str) -> bool {
    sources.iter().all(|s| {
        s == "'none'" || s == "'self'" || s.trim_end_matches('/') == own_origin.to_ascii_lowercase()
    })
}

/// Framing protection of a page: `Ok` says how it is protected, `Err` why it is not.
/// A `frame-ancestors` directive, when present, is what browsers obey (CSP Level 2 §7.7.1
/// has it override X-Frame-Options); every enforced policy must allow a frame for it to load.
pub(crate) fn framing_protection(
    resp: &RecordedResponse,
    own_origin: &str,
) -> Result<String, String> {
    let directives: Vec<Vec<String>> = resp
        .header_values("content-security-policy")
        .into_iter()
        .filter_map(frame_ancestors)
        .collect();
    if !directives.is_empty() {
        return match directives.iter().find(|d| excludes_foreign(d, own_origin)) {
            Some(d) => Ok(format!(
                "Content-Security-Policy frame-ancestors {}",
                d.join(" ")
            )),
            None => Err(format!(
                "Content-Security-Policy frame-ancestors {} lets other origins frame it",
                directives[0].join(" ")
            )),
        };
    }
    let xfo = resp.header("x-frame-options").map(str::trim);
    match xfo {
        Some(v) if v.eq_ignore_ascii_case("deny") || v.eq_ignore_ascii_case("sameorigin") => {
            Ok(format!("X-Frame-Options {v}"))
        }
        Some(v) => Err(format!(
            "no frame-ancestors directive, and X-Frame-Options {v:?} is neither DENY nor SAMEORIGIN"
        )),
        None => Err("neither Content-Security-Policy frame-ancestors nor X-Frame-Options".into()),
    }
}

pub(super) async fn clickjacking(ctx: &AsContext) -> Outcome {
    let (url, mut agent) = match walk(ctx) {
        Ok(walk) => walk,
        Err(outcome) => return outcome,
    };
    let landing = agent.open(&url).await;
    let evidence = agent.observed().exchanges.clone();
    let page = match landing {
        Ok(Landing::Page(page)) => page,
        Ok(Landing::Client(_)) => {
            return Outcome::new(
                Verdict::Skip,
                "a valid authorization request was answered with a redirect back to the client \
                 at once (no login or consent page, e.g. a pre-approved client): there is no \
                 page to frame",
            );
        }
        Err(e) => return ended(e, "a valid authorization request", evidence),
    };
    let Ok(resp) = &page.response else {
        return Outcome::error("the page was not read", evidence);
    };
    let page_origin = url::Url::parse(&page.request.url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let protection = framing_protection(resp, &page_origin);
    let assertions: Vec<Assertion> = vec![observation(
        Part::Status,
        Level::Must,
        "the login page sends frame-ancestors excluding other origins, or X-Frame-Options DENY/SAMEORIGIN",
        protection.is_ok(),
        protection
            .as_ref()
            .err()
            .map(|why| format!("the page at {} sends {why}", page.request.url))
            .unwrap_or_default(),
    )];
    crate::catalog::prm::graded(
        Level::Must,
        assertions,
        evidence,
        format!(
            "the page a valid authorization request leads to cannot be framed by other origins ({})",
            protection.unwrap_or_default()
        ),
    )
}

/// Why the row needs the form driver.
fn needs_form_driver(why: &str) -> Outcome {
    Outcome::new(
        Verdict::NotEvaluated,
        format!(
            "{why}: the redirect answering the credential POST is seen only when the tool \
             submits the login form itself; give --login-user USER --login-password-env VAR \
             (a --login-command logs in out of the tool's sight)"
        ),
    )
}

pub(super) async fn no_307(ctx: &AsContext) -> Outcome {
    let (url, mut agent) = match walk(ctx) {
        Ok(walk) => walk,
        Err(outcome) => return outcome,
    };
    let form: Option<&FormLogin> = ctx.login.as_ref().and_then(|l| l.form.as_ref());
    let Some(form) = form else {
        // Without the form driver, only whether there is a login at all can be told.
        return match agent.open(&url).await {
            Ok(Landing::Client(_)) => no_login_step(),
            Ok(Landing::Page(_)) => {
                needs_form_driver("a valid authorization request leads to a login page")
            }
            Err(e) => ended(
                e,
                "a valid authorization request",
                agent.observed().exchanges.clone(),
            ),
        };
    };
    let timeout = ctx
        .login
        .as_ref()
        .map_or(crate::source::auth_code::LOGIN_TIMEOUT, |l| l.timeout);
    let logged_in = tokio::time::timeout(timeout, agent.log_in(&url, form)).await;
    let observed = agent.into_observed();
    let evidence = observed.exchanges.clone();
    match logged_in {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return ended(e, "the login by the form driver", evidence),
        Err(_) => {
            return Outcome::error(
                format!("the login did not finish within {} s", timeout.as_secs()),
                evidence,
            );
        }
    }
    let Some(redirect) = observed.post_redirect else {
        return no_login_step();
    };
    let which = if redirect.credential_post {
        "the credential POST"
    } else {
        "the approval POST after the login page"
    };
    let status = redirect.status;
    let assertions = vec![
        observation(
            Part::Status,
            Level::Must,
            format!("{which} is not answered with 307 (which re-POSTs the credentials)"),
            status != 307,
            format!("{which} was answered with 307 Temporary Redirect"),
        ),
        observation(
            Part::Status,
            Level::Should,
            format!("{which} is not answered with 308, which also repeats the POST"),
            status != 308,
            format!("{which} was answered with 308 Permanent Redirect"),
        ),
    ];
    let note = match status {
        303 => "303 See Other, as recommended".to_owned(),
        302 => "302 Found (passes: browsers follow it with a GET; 303 is preferred)".to_owned(),
        other => format!("HTTP {other}"),
    };
    crate::catalog::prm::graded(
        Level::Must,
        assertions,
        evidence,
        format!("{which} was answered with {note}"),
    )
}

fn no_login_step() -> Outcome {
    Outcome::new(
        Verdict::Skip,
        "a valid authorization request was answered with a redirect back to the client at once \
         (no login form, e.g. a pre-approved client): there is no credential POST",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(headers: &[(&str, &str)]) -> RecordedResponse {
        RecordedResponse::fake(200, headers, "<form></form>")
    }

    const ORIGIN: &str = "https://as.example";

    #[test]
    fn framing_protection_follows_what_browsers_obey() {
        for ok in [
            vec![(
                "Content-Security-Policy",
                "default-src 'self'; frame-ancestors 'none'",
            )],
            vec![(
                "content-security-policy",
                "frame-ancestors 'self' https://as.example",
            )],
            vec![("X-Frame-Options", "deny")],
            vec![("X-Frame-Options", " SAMEORIGIN ")],
            // Two policies: both apply, one forbids.
            vec![
                ("content-security-policy", "frame-ancestors *"),
                ("content-security-policy", "frame-ancestors 'none'"),
            ],
        ] {
            assert!(framing_protection(&page(&ok), ORIGIN).is_ok(), "{ok:?}");
        }
        for bad in [
            vec![],
            vec![("Content-Security-Policy", "default-src 'self'")],
            vec![("X-Frame-Options", "ALLOW-FROM https://evil.test")],
            vec![(
                "Content-Security-Policy-Report-Only",
                "frame-ancestors 'none'",
            )],
            // frame-ancestors overrides X-Frame-Options in browsers.
            vec![
                ("Content-Security-Policy", "frame-ancestors *"),
                ("X-Frame-Options", "DENY"),
            ],
            vec![("Content-Security-Policy", "frame-ancestors 'self' https:")],
        ] {
            let why = framing_protection(&page(&bad), ORIGIN).unwrap_err();
            assert!(!why.is_empty(), "{bad:?}");
        }
    }
}
