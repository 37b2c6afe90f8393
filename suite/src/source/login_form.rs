//! The built-in login form driver (`--login-user`, `--login-password-env`): a small user agent
//! for the plain user-name/password pages most authorization servers show in test tenants.
//!
//! It GETs the authorization URL, keeps a cookie jar, follows redirects on the authorization
//! server's origin only, fills the one login form (the form with a password input) and submits
//! it with every hidden input kept, then submits the approval forms that follow (consent or
//! "continue" pages: forms without a text or password input, by their approving button, never
//! one named like deny or cancel), for a bounded number of pages. It stops at the redirect to
//! the client's redirect URI, which it does not follow: the caller delivers it to the loopback
//! listener, so the response is read exactly as after a login command.
//!
//! Every request goes through the recording [`Driver`] (bounded bodies, deadlines). The
//! password comes only from an environment variable, is never printed (a [`Secret`]), and is
//! removed from the recorded credential POST; session cookies are redacted like every
//! credential header.

use std::sync::Arc;

use reqwest::cookie::CookieStore as _;
use scraper::{ElementRef, Html, Selector};

use super::SourceError;
use super::auth_code::Secret;
use crate::http::{Driver, Exchange, ProbeRequest};

/// Requests one login may send (redirects, pages, form posts together).
pub const MAX_REQUESTS: usize = 16;

/// Forms one login may submit (the login form and the approval pages after it).
pub const MAX_FORMS: usize = 4;

/// What the recorded credential POST carries instead of the password.
pub const PASSWORD_REMOVED: &str = "[password removed]";

/// Words that name a button refusing the request: never pressed.
const REFUSING: [&str; 7] = [
    "deny", "cancel", "abort", "reject", "decline", "refuse", "no",
];

/// Words that name a button approving the request: preferred.
const APPROVING: [&str; 9] = [
    "approve",
    "allow",
    "accept",
    "authorize",
    "consent",
    "continue",
    "confirm",
    "yes",
    "grant",
];

/// `--login-user` / `--login-password-env` (with the field names overridable).
#[derive(Debug, Clone)]
pub struct FormLogin {
    pub user: String,
    pub password: Secret,
    /// `--login-user-field`: the name of the user-name input, when the heuristics miss it.
    pub user_field: Option<String>,
    /// `--login-password-field`: the name of the password input.
    pub password_field: Option<String>,
}

impl FormLogin {
    /// The password from the environment variable `var` (never from an argument).
    pub fn from_env(
        user: String,
        var: &str,
        user_field: Option<String>,
        password_field: Option<String>,
    ) -> Result<Self, SourceError> {
        let password = password_from_env(var)?;
        Ok(Self {
            user,
            password: Secret::new(password),
            user_field,
            password_field,
        })
    }
}

/// A password from the environment variable `var`, as it is (no trimming: spaces may be part
/// of it).
pub fn password_from_env(var: &str) -> Result<String, SourceError> {
    match std::env::var(var) {
        Ok(p) if !p.is_empty() => Ok(p),
        Ok(_) => Err(SourceError(format!(
            "--login-password-env: the environment variable {var} is empty"
        ))),
        Err(_) => Err(SourceError(format!(
            "--login-password-env: the environment variable {var} is not set"
        ))),
    }
}

/// A redirect that answered a form POST after the credentials went out.
#[derive(Debug, Clone)]
pub struct PostRedirect {
    pub status: u16,
    /// True when it answered the credential POST itself (false: a later approval POST, the
    /// credential POST having answered with a page).
    pub credential_post: bool,
    /// The POST (its password removed) and the redirect.
    pub exchange: Exchange,
}

/// What the driver saw that the authorization-UI rows grade.
#[derive(Debug, Clone, Default)]
pub struct FormObservation {
    /// The first HTML page the authorization request led to (after same-origin redirects).
    pub first_page: Option<Exchange>,
    /// The first redirect answering a form POST from the credential POST on.
    pub post_redirect: Option<PostRedirect>,
    /// Every exchange of the login, in order (passwords removed).
    pub exchanges: Vec<Exchange>,
}

/// Where following the authorization URL ended.
#[derive(Debug, Clone)]
pub enum Landing {
    /// An HTML page on the authorization server's origin (200): its exchange.
    Page(Exchange),
    /// A redirect to the client's redirect URI: its `Location`, resolved.
    Client(url::Url),
}

/// Why a login through the form driver did not reach the redirect URI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    #[error(
        "no login or approval form on the page at {0} (the form driver fills plain HTML forms; a script-driven login needs --login-command)"
    )]
    NoForm(String),
    #[error(
        "the login form came back after the credential POST (wrong user name or password for --login-user / --login-password-env?)"
    )]
    LoginRejected,
    #[error("the approval form at {0} has only refusing buttons (deny, cancel, …)")]
    NoApprovingButton(String),
    #[error(
        "more than {MAX_REQUESTS} requests or {MAX_FORMS} forms without reaching the redirect URI"
    )]
    TooManySteps,
    #[error(
        "a redirect to {0}, off the authorization server's origin {1}: the form driver follows only that origin"
    )]
    OtherOrigin(String, String),
    #[error("the page at {0} is larger than the body limit")]
    TooLarge(String),
    #[error("{0} answered HTTP {1}, neither a page nor a redirect")]
    Status(String, u16),
    #[error("{0}: {1}")]
    Transport(String, String),
    #[error("the login did not finish within {0} s")]
    TimedOut(u64),
    #[error("{0}")]
    BadUrl(String),
}

impl From<FormError> for SourceError {
    fn from(e: FormError) -> Self {
        SourceError(format!("the login form driver: {e}"))
    }
}

/// One HTML form as the driver reads it.
#[derive(Debug, Clone)]
struct Form {
    action: url::Url,
    post: bool,
    inputs: Vec<Input>,
    /// Submit buttons: (name, value, label).
    buttons: Vec<Button>,
}

#[derive(Debug, Clone)]
struct Input {
    name: String,
    kind: String,
    value: String,
    autocomplete: String,
    id: String,
    checked: bool,
}

#[derive(Debug, Clone)]
struct Button {
    name: String,
    value: String,
    label: String,
}

impl Button {
    fn words(&self) -> String {
        format!("{} {} {}", self.name, self.value, self.label).to_ascii_lowercase()
    }

    fn refuses(&self) -> bool {
        has_word(&self.words(), &REFUSING)
    }

    fn approves(&self) -> bool {
        has_word(&self.words(), &APPROVING)
    }
}

/// Whether `text` holds one of `words` as a word (letters around it do not count: "notice" is
/// no "no").
fn has_word(text: &str, words: &[&str]) -> bool {
    text.split(|c: char| !c.is_ascii_alphabetic())
        .any(|w| words.contains(&w))
}

/// Inputs a person types into (text-like ones).
fn is_text(kind: &str) -> bool {
    matches!(kind, "text" | "email" | "tel" | "" | "search" | "url")
}

impl Form {
    fn password_input(&self, wanted: Option<&str>) -> Option<&Input> {
        match wanted {
            Some(name) => self.inputs.iter().find(|i| i.name == name),
            None => self.inputs.iter().find(|i| i.kind == "password"),
        }
    }

    /// The user-name input: the one named by the override, else by autocomplete, type and
    /// name, else the only text input.
    fn user_input(&self, wanted: Option<&str>) -> Option<&Input> {
        if let Some(name) = wanted {
            return self.inputs.iter().find(|i| i.name == name);
        }
        let text: Vec<&Input> = self.inputs.iter().filter(|i| is_text(&i.kind)).collect();
        let named = |words: &[&str]| {
            text.iter().copied().find(|i| {
                let hay = format!("{} {}", i.name, i.id).to_ascii_lowercase();
                words.iter().any(|w| hay.contains(w))
            })
        };
        text.iter()
            .copied()
            .find(|i| i.autocomplete.split_whitespace().any(|t| t == "username"))
            .or_else(|| text.iter().copied().find(|i| i.kind == "email"))
            .or_else(|| named(&["user", "login", "email", "account", "identifier"]))
            .or_else(|| (text.len() == 1).then(|| text[0]))
    }

    fn is_login(&self) -> bool {
        self.inputs.iter().any(|i| i.kind == "password")
    }

    /// An approval step: nothing to type, at least one button or a plain submit.
    fn is_approval(&self) -> bool {
        !self.is_login() && !self.inputs.iter().any(|i| is_text(&i.kind))
    }

    /// Every successful control's value (hidden inputs and the rest as the page set them).
    fn kept_fields(&self) -> Vec<(String, String)> {
        self.inputs
            .iter()
            .filter(|i| !i.name.is_empty())
            .filter(|i| !matches!(i.kind.as_str(), "checkbox" | "radio") || i.checked)
            .map(|i| (i.name.clone(), i.value.clone()))
            .collect()
    }
}

fn selector(css: &str) -> Selector {
    Selector::parse(css).expect("static selector")
}

/// Every form of the page, its action resolved against `page_url`.
fn forms_of(html: &str, page_url: &url::Url) -> Vec<Form> {
    let doc = Html::parse_document(html);
    let form_sel = selector("form");
    let input_sel = selector("input, textarea, select");
    let button_sel = selector("button, input[type=submit], input[type=image]");
    // A <base href> changes what relative actions resolve against.
    let base = doc
        .select(&selector("base[href]"))
        .next()
        .and_then(|b| b.value().attr("href"))
        .and_then(|h| page_url.join(h).ok())
        .unwrap_or_else(|| page_url.clone());
    doc.select(&form_sel)
        .filter_map(|form| {
            let attr = |e: &ElementRef, n: &str| e.value().attr(n).unwrap_or_default().to_owned();
            let action = form.value().attr("action").unwrap_or_default();
            let action = if action.trim().is_empty() {
                page_url.clone()
            } else {
                base.join(action.trim()).ok()?
            };
            let post = attr(&form, "method").eq_ignore_ascii_case("post");
            let inputs = form
                .select(&input_sel)
                .filter_map(|i| {
                    let tag = i.value().name();
                    let kind = match tag {
                        "input" => attr(&i, "type").to_ascii_lowercase(),
                        other => other.to_owned(),
                    };
                    if matches!(
                        kind.as_str(),
                        "submit" | "image" | "button" | "reset" | "file"
                    ) {
                        return None;
                    }
                    let value = match tag {
                        "textarea" => i.text().collect(),
                        "select" => i
                            .select(&selector("option"))
                            .find(|o| o.value().attr("selected").is_some())
                            .or_else(|| i.select(&selector("option")).next())
                            .map(|o| {
                                o.value()
                                    .attr("value")
                                    .map(str::to_owned)
                                    .unwrap_or_else(|| o.text().collect())
                            })
                            .unwrap_or_default(),
                        _ => attr(&i, "value"),
                    };
                    Some(Input {
                        name: attr(&i, "name"),
                        kind,
                        value,
                        autocomplete: attr(&i, "autocomplete").to_ascii_lowercase(),
                        id: attr(&i, "id"),
                        checked: i.value().attr("checked").is_some(),
                    })
                })
                .collect();
            let buttons = form
                .select(&button_sel)
                .filter(|b| {
                    let kind = attr(b, "type").to_ascii_lowercase();
                    b.value().name() == "input" || kind.is_empty() || kind == "submit"
                })
                .map(|b| Button {
                    name: attr(&b, "name"),
                    value: attr(&b, "value"),
                    label: b.text().collect::<String>().trim().to_owned(),
                })
                .collect();
            Some(Form {
                action,
                post,
                inputs,
                buttons,
            })
        })
        .collect()
}

/// The fields to submit for the approving button of an approval form (the first approving
/// one, else the first that does not refuse; a form without buttons submits as is).
fn approval_fields(form: &Form) -> Result<Vec<(String, String)>, FormError> {
    let mut fields = form.kept_fields();
    if form.buttons.is_empty() {
        return Ok(fields);
    }
    let button = form
        .buttons
        .iter()
        .find(|b| b.approves() && !b.refuses())
        .or_else(|| form.buttons.iter().find(|b| !b.refuses()))
        .ok_or_else(|| FormError::NoApprovingButton(form.action.to_string()))?;
    if !button.name.is_empty() {
        fields.push((button.name.clone(), button.value.clone()));
    }
    Ok(fields)
}

/// A request the agent sends: a GET, or a form POST (its body, and the same body with the
/// password removed for the record).
#[derive(Debug, Clone)]
struct Step {
    url: url::Url,
    form: Option<(String, String)>,
    /// True for a POST from the credential POST on.
    after_credentials: bool,
    credential_post: bool,
}

/// The user agent: the recording driver, a cookie jar, and the origin it stays on.
pub struct Agent {
    driver: Driver,
    jar: Arc<reqwest::cookie::Jar>,
    origin: url::Origin,
    /// The client's redirect URI (scheme, host, port and path), where the agent stops.
    redirect_uri: url::Url,
    observed: FormObservation,
    sent: usize,
}

/// The redirect URI without query or fragment, to compare with.
fn bare(url: &url::Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

impl Agent {
    pub fn new(driver: Driver, start: &url::Url, redirect_uri: &str) -> Result<Self, FormError> {
        let redirect_uri = url::Url::parse(redirect_uri)
            .map_err(|e| FormError::BadUrl(format!("redirect URI {redirect_uri}: {e}")))?;
        Ok(Self {
            driver,
            jar: Arc::new(reqwest::cookie::Jar::default()),
            origin: start.origin(),
            redirect_uri,
            observed: FormObservation::default(),
            sent: 0,
        })
    }

    /// What was observed so far.
    pub fn observed(&self) -> &FormObservation {
        &self.observed
    }

    pub fn into_observed(self) -> FormObservation {
        self.observed
    }

    /// Sends one step with the jar's cookies, keeps the answer's cookies, and records the
    /// exchange with the password removed.
    async fn send(&mut self, step: &Step) -> Result<Exchange, FormError> {
        self.sent += 1;
        if self.sent > MAX_REQUESTS {
            return Err(FormError::TooManySteps);
        }
        let method = if step.form.is_some() { "POST" } else { "GET" };
        let mut request = ProbeRequest::new(method, step.url.as_str());
        if let Some(cookies) = self.jar.cookies(&step.url)
            && let Ok(cookies) = cookies.to_str()
        {
            request = request.header("cookie", cookies);
        }
        if let Some((body, _)) = &step.form {
            request = request.header("content-type", "application/x-www-form-urlencoded");
            request.body = Some(body.clone().into_bytes());
        }
        let mut exchange = self.driver.send(request).await;
        if let Some((_, recorded)) = &step.form {
            exchange.request.body = Some(recorded.clone().into_bytes());
        }
        if let Ok(r) = &exchange.response {
            let values: Vec<reqwest::header::HeaderValue> = r
                .header_values("set-cookie")
                .into_iter()
                .filter_map(|v| reqwest::header::HeaderValue::from_str(v).ok())
                .collect();
            self.jar.set_cookies(&mut values.iter(), &step.url);
        }
        self.observed.exchanges.push(exchange.clone());
        Ok(exchange)
    }

    /// Follows `step` and the same-origin redirects after it, to a page or to the client.
    async fn land(&mut self, mut step: Step) -> Result<Landing, FormError> {
        loop {
            let exchange = self.send(&step).await?;
            let response = match &exchange.response {
                Ok(r) => r,
                Err(e) => return Err(FormError::Transport(step.url.to_string(), e.to_string())),
            };
            if (300..400).contains(&response.status)
                && let Some(location) = response.header("location")
            {
                let target = step
                    .url
                    .join(location)
                    .map_err(|e| FormError::BadUrl(format!("Location {location}: {e}")))?;
                if step.after_credentials && self.observed.post_redirect.is_none() {
                    self.observed.post_redirect = Some(PostRedirect {
                        status: response.status,
                        credential_post: step.credential_post,
                        exchange: exchange.clone(),
                    });
                }
                if bare(&target) == bare(&self.redirect_uri) {
                    return Ok(Landing::Client(target));
                }
                if target.origin() != self.origin {
                    return Err(FormError::OtherOrigin(
                        crate::http::redact::redact_url(target.as_str()),
                        self.origin.ascii_serialization(),
                    ));
                }
                // 307/308 repeat the request as it was; the others become a GET.
                let repeat = matches!(response.status, 307 | 308);
                step = Step {
                    url: target,
                    form: if repeat { step.form.clone() } else { None },
                    after_credentials: repeat && step.after_credentials,
                    credential_post: repeat && step.credential_post,
                };
                continue;
            }
            if response.truncated {
                return Err(FormError::TooLarge(step.url.to_string()));
            }
            if !(200..300).contains(&response.status) {
                return Err(FormError::Status(step.url.to_string(), response.status));
            }
            if self.observed.first_page.is_none() {
                self.observed.first_page = Some(exchange.clone());
            }
            return Ok(Landing::Page(exchange));
        }
    }

    /// GETs `url` and follows its same-origin redirects: the first page, or the redirect to
    /// the client when the server asks nothing of the user.
    pub async fn open(&mut self, url: &url::Url) -> Result<Landing, FormError> {
        self.land(Step {
            url: url.clone(),
            form: None,
            after_credentials: false,
            credential_post: false,
        })
        .await
    }

    /// The whole login from `url`: the redirect to the client's redirect URI (not followed).
    pub async fn log_in(
        &mut self,
        url: &url::Url,
        login: &FormLogin,
    ) -> Result<url::Url, FormError> {
        let mut landing = self.open(url).await?;
        let mut credentials_sent = false;
        for _ in 0..MAX_FORMS {
            let page = match landing {
                Landing::Client(target) => return Ok(target),
                Landing::Page(page) => page,
            };
            let page_url =
                url::Url::parse(&page.request.url).map_err(|e| FormError::BadUrl(e.to_string()))?;
            let html = page
                .response
                .as_ref()
                .map(|r| String::from_utf8_lossy(&r.body).into_owned())
                .unwrap_or_default();
            let forms = forms_of(&html, &page_url);
            let step = if let Some(form) = forms.iter().find(|f| f.is_login()) {
                if credentials_sent {
                    return Err(FormError::LoginRejected);
                }
                credentials_sent = true;
                let (body, recorded) = login_fields(form, login)?;
                Step {
                    url: form.action.clone(),
                    form: Some((body, recorded)),
                    after_credentials: true,
                    credential_post: true,
                }
            } else if let Some(form) = forms.iter().find(|f| f.is_approval()) {
                let fields = approval_fields(form)?;
                let body = encode(&fields);
                let mut url = form.action.clone();
                if form.post {
                    Step {
                        url,
                        form: Some((body.clone(), body)),
                        after_credentials: credentials_sent,
                        credential_post: false,
                    }
                } else {
                    url.set_query(Some(&body));
                    Step {
                        url,
                        form: None,
                        after_credentials: false,
                        credential_post: false,
                    }
                }
            } else {
                return Err(FormError::NoForm(redacted(&page_url)));
            };
            landing = self.land(step).await?;
        }
        match landing {
            Landing::Client(target) => Ok(target),
            Landing::Page(_) => Err(FormError::TooManySteps),
        }
    }
}

fn redacted(url: &url::Url) -> String {
    crate::http::redact::redact_url(url.as_str())
}

fn encode(fields: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

/// The login form's body, and the same body with the password removed (for the record).
fn login_fields(form: &Form, login: &FormLogin) -> Result<(String, String), FormError> {
    let password = form
        .password_input(login.password_field.as_deref())
        .ok_or_else(|| {
            FormError::NoForm(format!(
                "{} (no password input named {:?})",
                form.action,
                login.password_field.as_deref().unwrap_or_default()
            ))
        })?
        .name
        .clone();
    let user = form
        .user_input(login.user_field.as_deref())
        .map(|i| i.name.clone())
        .ok_or_else(|| {
            FormError::NoForm(format!(
                "{} (no user-name input found: name it with --login-user-field)",
                form.action
            ))
        })?;
    let mut fields = form.kept_fields();
    fields.retain(|(n, _)| *n != user && *n != password);
    fields.push((user.clone(), login.user.clone()));
    let mut recorded = fields.clone();
    fields.push((password.clone(), login.password.expose().to_owned()));
    recorded.push((password, PASSWORD_REMOVED.to_owned()));
    // A named submit button (a "Sign in" with a value) goes too, as a browser sends it.
    if let Some(button) = form
        .buttons
        .iter()
        .find(|b| !b.refuses() && !b.name.is_empty())
    {
        fields.push((button.name.clone(), button.value.clone()));
        recorded.push((button.name.clone(), button.value.clone()));
    }
    Ok((encode(&fields), encode(&recorded)))
}

/// A whole login by the form driver within `timeout`: the redirect to the client, and what it
/// observed.
pub async fn log_in(
    driver: Driver,
    url: &url::Url,
    redirect_uri: &str,
    login: &FormLogin,
    timeout: std::time::Duration,
) -> (Result<url::Url, FormError>, FormObservation) {
    let mut agent = match Agent::new(driver, url, redirect_uri) {
        Ok(agent) => agent,
        Err(e) => return (Err(e), FormObservation::default()),
    };
    let result = match tokio::time::timeout(timeout, agent.log_in(url, login)).await {
        Ok(result) => result,
        Err(_) => Err(FormError::TimedOut(timeout.as_secs())),
    };
    (result, agent.into_observed())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page_url() -> url::Url {
        url::Url::parse("https://as.example/t/authorize?x=1").unwrap()
    }

    fn login() -> FormLogin {
        FormLogin {
            user: "alice".into(),
            password: Secret::new("s3cret pw"),
            user_field: None,
            password_field: None,
        }
    }

    #[test]
    fn the_login_form_is_found_filled_and_its_hidden_inputs_kept() {
        let html = r#"<form action="/search"><input name="q"></form>
            <form method="POST" action="login?step=1">
              <input type="hidden" name="csrf" value="tok&amp;1">
              <input name="remember" type="checkbox" value="on">
              <input id="email" name="login" type="text" autocomplete="username">
              <input name="pw" type="password">
              <button type="submit" name="op" value="signin">Sign in</button>
            </form>"#;
        let forms = forms_of(html, &page_url());
        let form = forms.iter().find(|f| f.is_login()).unwrap();
        assert_eq!(form.action.as_str(), "https://as.example/t/login?step=1");
        assert!(form.post);
        let (body, recorded) = login_fields(form, &login()).unwrap();
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        assert!(
            pairs.contains(&("csrf".into(), "tok&1".into())),
            "{pairs:?}"
        );
        assert!(pairs.contains(&("login".into(), "alice".into())));
        assert!(pairs.contains(&("pw".into(), "s3cret pw".into())));
        assert!(pairs.contains(&("op".into(), "signin".into())));
        assert!(!pairs.iter().any(|(n, _)| n == "remember"), "unchecked");
        assert!(!recorded.contains("s3cret"), "{recorded}");
        assert!(recorded.contains("password+removed"), "{recorded}");
    }

    #[test]
    fn field_names_can_be_given_when_the_heuristics_miss() {
        let html = r#"<form method="post"><input name="a"><input name="b">
            <input name="p1" type="password"><input name="p2" type="password"></form>"#;
        let forms = forms_of(html, &page_url());
        let form = &forms[0];
        assert_eq!(form.action, page_url(), "no action: the page itself");
        assert!(
            login_fields(form, &login()).is_err(),
            "two text inputs, no hint"
        );
        let given = FormLogin {
            user_field: Some("b".into()),
            password_field: Some("p2".into()),
            ..login()
        };
        let (body, _) = login_fields(form, &given).unwrap();
        assert!(
            body.contains("b=alice") && body.contains("p2=s3cret+pw"),
            "{body}"
        );
    }

    #[test]
    fn an_approval_form_is_submitted_by_its_approving_button() {
        let html = r#"<form method="post" action="consent">
            <input type="hidden" name="uid" value="42">
            <button type="submit" name="decision" value="deny">Deny</button>
            <button type="submit" name="decision" value="approve">Allow</button></form>"#;
        let forms = forms_of(html, &page_url());
        assert!(forms[0].is_approval());
        let fields = approval_fields(&forms[0]).unwrap();
        assert_eq!(
            fields,
            vec![
                ("uid".to_owned(), "42".to_owned()),
                ("decision".to_owned(), "approve".to_owned())
            ]
        );
        let only_no = r#"<form method="post"><button name="x" value="cancel">Cancel</button>
            <input type="submit" name="abort" value="Abort"></form>"#;
        let forms = forms_of(only_no, &page_url());
        assert!(matches!(
            approval_fields(&forms[0]),
            Err(FormError::NoApprovingButton(_))
        ));
        // A plain "Continue" with no name is pressed; "notice" is not "no".
        let plain = r#"<form method="post"><input type="hidden" name="notice" value="1">
            <button>Continue</button></form>"#;
        let forms = forms_of(plain, &page_url());
        assert_eq!(approval_fields(&forms[0]).unwrap().len(), 1);
    }

    #[test]
    fn debug_never_shows_the_password() {
        let printed = format!("{:?}", login());
        assert!(!printed.contains("s3cret"), "{printed}");
    }
}
