//! Login mode of the authorization endpoint (`IdpConfig::login`): a valid authorization
//! request gets an HTML login form instead of a code. The form POSTs the user name, the
//! password, the request itself and a token derived from the login cookie (a double-submit
//! check, so a user agent without a cookie jar cannot log in; the cookie's value itself is
//! never in a page). A wrong password shows the form
//! again (200); the right one answers 303 to the redirect URI with the code, or first a consent
//! page whose "Allow" does. The pages send `frame-ancestors 'none'` and `X-Frame-Options: DENY`
//! (RFC 9700 §4.16) unless a fault says otherwise.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

use super::AsFault;
use super::config::LoginConfig;
use super::error::{html_escape, html_page};
use super::params::{Params, read_form};
use super::state::IssuerCtx;
use crate::random_b64url;

/// The login form's POST target, under the issuer.
pub(crate) const LOGIN_PATH: &str = "authorize/login";
/// The consent page's POST target, under the issuer.
pub(crate) const CONSENT_PATH: &str = "authorize/consent";
/// The login session cookie, whose digest the form's `csrf` field must carry.
const LOGIN_COOKIE: &str = "mock_idp_login";

/// The issuer's path in its public URL (`/trusted`, or `/prefix/trusted` behind a proxy).
fn issuer_path(ctx: &IssuerCtx) -> String {
    url::Url::parse(&ctx.issuer().id)
        .map(|u| u.path().trim_end_matches('/').to_owned())
        .unwrap_or_default()
}

/// A login-mode page: hardened like every authorization page, without the framing protection
/// under `as-login-framable`.
fn page(ctx: &IssuerCtx, status: StatusCode, title: &str, content: &str) -> Response {
    let mut resp = html_page(status, title, content);
    if ctx.shared.config.faults.contains(&AsFault::LoginFramable) {
        resp.headers_mut().remove(header::X_FRAME_OPTIONS);
        resp.headers_mut().remove(header::CONTENT_SECURITY_POLICY);
    }
    resp
}

fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
        html_escape(value)
    )
}

/// The `csrf` field that goes with a login session.
fn csrf_of(session: &str) -> String {
    crate::jwk::pkce_s256(&format!("csrf.{session}"))
}

/// The login form for the authorization request `query`; a fresh login session cookie unless
/// the form is shown again (`again`: the session and why).
pub(crate) fn login_page(ctx: &IssuerCtx, query: &str, again: Option<(&str, &str)>) -> Response {
    let session = again.map_or_else(|| random_b64url(16), |(session, _)| session.to_owned());
    let notice = again
        .map(|(_, why)| format!("<p role=\"alert\">{}</p>", html_escape(why)))
        .unwrap_or_default();
    let content = format!(
        "{notice}<form method=\"post\" action=\"{path}/{LOGIN_PATH}\">{request}{csrf_field}\
         <label>User name <input type=\"text\" name=\"username\" autocomplete=\"username\"></label>\
         <label>Password <input type=\"password\" name=\"password\" \
         autocomplete=\"current-password\"></label>\
         <button type=\"submit\">Sign in</button></form>",
        path = html_escape(&issuer_path(ctx)),
        request = hidden("request", query),
        csrf_field = hidden("csrf", &csrf_of(&session)),
    );
    let mut resp = page(ctx, StatusCode::OK, "Sign in", &content);
    if again.is_none() {
        let cookie = format!(
            "{LOGIN_COOKIE}={session}; Path={}/authorize; HttpOnly; SameSite=Lax",
            issuer_path(ctx)
        );
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            resp.headers_mut().insert(header::SET_COOKIE, value);
        }
    }
    resp
}

/// What proves to the consent page that the login succeeded: bound to the login session and
/// the password, so it cannot be made without both.
fn login_proof(session: &str, password: &str) -> String {
    crate::jwk::pkce_s256(&format!("proof.{session}.{password}"))
}

fn consent_page(ctx: &IssuerCtx, query: &str, session: &str, proof: &str) -> Response {
    let client = Params::parse(query.as_bytes())
        .get("client_id")
        .unwrap_or_default()
        .to_owned();
    // Deny comes first: a user agent must choose the approving button, not the first one.
    let content = format!(
        "<p>Allow <b>{}</b> to act for you?</p><form method=\"post\" action=\"consent\">\
         {}{}{}<button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\
         <button type=\"submit\" name=\"decision\" value=\"approve\">Allow</button></form>",
        html_escape(&client),
        hidden("request", query),
        hidden("csrf", &csrf_of(session)),
        hidden("proof", proof),
    );
    page(ctx, StatusCode::OK, "Allow access", &content)
}

fn refused(ctx: &IssuerCtx, status: StatusCode, why: &str) -> Response {
    page(
        ctx,
        status,
        "Sign-in failed",
        &format!("<p>{}</p>", html_escape(why)),
    )
}

/// A form POST of login mode: its fields, the login session (its cookie shown to match the
/// `csrf` field), and the login configuration.
struct Submission {
    params: Params,
    session: String,
    config: LoginConfig,
}

async fn read_submission(
    ctx: &IssuerCtx,
    headers: &HeaderMap,
    body: Body,
) -> Result<Submission, Response> {
    let Some(config) = ctx.shared.config.login.clone() else {
        return Err(refused(
            ctx,
            StatusCode::NOT_FOUND,
            "login mode is off: the authorization endpoint approves by itself",
        ));
    };
    let params = read_form(headers, body, ctx.shared.config.max_body_bytes)
        .await
        .map_err(|e| refused(ctx, StatusCode::BAD_REQUEST, &e.description))?;
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == LOGIN_COOKIE)
        .map(|(_, value)| value.to_owned());
    match (cookie, params.get("csrf")) {
        (Some(session), Some(csrf)) if csrf_of(&session) == csrf => Ok(Submission {
            params,
            session,
            config,
        }),
        _ => Err(refused(
            ctx,
            StatusCode::BAD_REQUEST,
            "the login cookie is missing or does not match the form (cookies must be kept)",
        )),
    }
}

/// The approved request's redirect, answering a POST: 303, so the user agent follows with a
/// GET (OAuth 2.1 §7.5.3); 307 under `as-login-redirect-307`, which re-POSTs the form.
async fn redirect_after_post(ctx: &IssuerCtx, query: &str) -> Response {
    let mut resp = super::authorize::approved(ctx, query).await;
    if resp.status() == StatusCode::FOUND {
        *resp.status_mut() = if ctx
            .shared
            .config
            .faults
            .contains(&AsFault::LoginRedirect307)
        {
            StatusCode::TEMPORARY_REDIRECT
        } else {
            StatusCode::SEE_OTHER
        };
    }
    resp
}

/// `POST <I>/authorize/login`: the credentials.
pub(crate) async fn login(
    State(ctx): State<IssuerCtx>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match read_submission(&ctx, &headers, body).await {
        Ok(submission) => credentials(&ctx, submission).await,
        Err(resp) => resp,
    }
}

async fn credentials(ctx: &IssuerCtx, submission: Submission) -> Response {
    let Submission {
        params,
        session,
        config,
    } = submission;
    let query = params.get("request").unwrap_or_default();
    let right = params.get("username") == Some(config.username.as_str())
        && params.get("password") == Some(config.password.as_str());
    if !right {
        return login_page(ctx, query, Some((&session, "Wrong user name or password.")));
    }
    if config.consent {
        return consent_page(
            ctx,
            query,
            &session,
            &login_proof(&session, &config.password),
        );
    }
    redirect_after_post(ctx, query).await
}

/// `POST <I>/authorize/consent`: the user's decision after the login.
pub(crate) async fn consent(
    State(ctx): State<IssuerCtx>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match read_submission(&ctx, &headers, body).await {
        Ok(submission) => decision(&ctx, submission).await,
        Err(resp) => resp,
    }
}

async fn decision(ctx: &IssuerCtx, submission: Submission) -> Response {
    let Submission {
        params,
        session,
        config,
    } = submission;
    if params.get("proof") != Some(login_proof(&session, &config.password).as_str()) {
        return refused(ctx, StatusCode::BAD_REQUEST, "sign in first");
    }
    match params.get("decision") {
        Some("approve") => {
            redirect_after_post(ctx, params.get("request").unwrap_or_default()).await
        }
        _ => refused(ctx, StatusCode::FORBIDDEN, "You denied the client access."),
    }
}
