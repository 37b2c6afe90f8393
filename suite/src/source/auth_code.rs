//! `--auth-code`: the OAuth 2.1 authorization code grant (OAuth 2.1 §4.1) with PKCE S256
//! (RFC 7636) and the target's RFC 8707 `resource` in both the authorization request and the
//! token request.
//!
//! The redirect goes to a listener the tool runs on `http://127.0.0.1:PORT/callback`
//! (RFC 8252 §7.3; `--redirect-port`, else an ephemeral port). The authorization URL is
//! printed to stderr and opened in a browser when a person is at the terminal, or given to
//! `--login-command CMD` (as the last argument and in `MCP_AUTHSPEC_AUTHORIZATION_URL`), which
//! drives the login to the redirect without a person. The response's `state` must be the one
//! sent, and its `iss` (RFC 9207), when present — or always, when the metadata says the server
//! sends it — the authorization server's issuer.
//!
//! A token that is due is renewed with the refresh token, when one was issued (with the same
//! DPoP key and resource), else by logging in again. Codes, PKCE verifiers and refresh tokens
//! are [`Secret`]s: never printed, never in a debug print.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use mock_idp::keys::SigningKey;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use super::SourceError;
use super::grant::{Answer, Request, issued, post_form, shell_quote};

/// How long a login may take (a person typing a password, a slow login script).
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(300);

/// The path of the loopback redirect URI.
pub const REDIRECT_PATH: &str = "/callback";

/// The environment variable a login command finds the authorization URL in.
pub const AUTHORIZATION_URL_ENV: &str = "MCP_AUTHSPEC_AUTHORIZATION_URL";

/// After the login command ended, how long the redirect may still take to arrive.
const AFTER_COMMAND: Duration = Duration::from_secs(10);

/// How long one connection to the listener may take to send its request head.
const REQUEST_HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// At most this much of a request head is read.
const MAX_REQUEST_HEAD: usize = 16 * 1024;

/// A credential held in memory: its Debug is redacted, and it is only read through
/// [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A PKCE pair (RFC 7636): the verifier stays with the tool, the S256 challenge goes in the
/// authorization request.
#[derive(Debug)]
pub struct Pkce {
    pub verifier: Secret,
    pub challenge: String,
}

impl Pkce {
    /// 32 bytes from the system CSPRNG, base64url: a 43-character verifier (RFC 7636 §4.1).
    pub fn generate() -> Self {
        Self::from_verifier(mock_idp::random_b64url(32))
    }

    /// `challenge` = BASE64URL(SHA256(ASCII(verifier))) (RFC 7636 §4.2).
    pub fn from_verifier(verifier: String) -> Self {
        let challenge = mock_idp::jwk::pkce_s256(&verifier);
        Self {
            verifier: Secret(verifier),
            challenge,
        }
    }
}

/// How the person (or the script playing one) logs in.
#[derive(Debug, Clone)]
pub struct Login {
    /// `--login-command`: run by `sh -c` with the authorization URL appended.
    pub command: Option<String>,
    /// `--login-user` with `--login-password-env`: the built-in form driver logs in
    /// ([`super::login_form`]); exclusive with `command`.
    pub form: Option<super::login_form::FormLogin>,
    /// `--redirect-port`: 0 for an ephemeral port.
    pub redirect_port: u16,
    /// How long the login may take.
    pub timeout: Duration,
}

/// `--auth-code`.
pub struct AuthCode {
    pub request: Request,
    pub authorization_endpoint: String,
    /// The authorization server's issuer identifier, which `iss` must equal (RFC 9207 §2.4).
    pub issuer: String,
    /// The metadata says `authorization_response_iss_parameter_supported`: a response
    /// without `iss` is refused.
    pub iss_required: bool,
    pub login: Login,
    /// Refresh tokens by the thumbprint of the DPoP key they are bound to ("" for Bearer).
    refresh: Mutex<BTreeMap<String, Secret>>,
}

/// What arrived at the redirect URI.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Callback {
    pub code: Option<Secret>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

impl Callback {
    /// The parameters of the redirect's query (a repeated parameter keeps its first value).
    pub fn parse(query: &str) -> Self {
        let mut out = Callback::default();
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let value = value.into_owned();
            let slot = match name.as_ref() {
                "state" => &mut out.state,
                "iss" => &mut out.iss,
                "error" => &mut out.error,
                "error_description" => &mut out.error_description,
                "code" => {
                    if out.code.is_none() {
                        out.code = Some(Secret(value));
                    }
                    continue;
                }
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(value);
            }
        }
        out
    }

    /// The code, once the response is shown to answer this request of this authorization
    /// server: `iss` first (RFC 9207 §2.4), then `state`, then an `error`.
    pub fn accept(
        self,
        expected_state: &str,
        issuer: &str,
        iss_required: bool,
    ) -> Result<Secret, SourceError> {
        match self.iss.as_deref() {
            Some(iss) if iss != issuer => {
                return Err(SourceError(format!(
                    "--auth-code: the authorization response names iss {iss:?}, not the \
                     authorization server {issuer:?} the request went to (RFC 9207: a mix-up); \
                     its code is not used"
                )));
            }
            None if iss_required => {
                return Err(SourceError(format!(
                    "--auth-code: the authorization response has no iss, though the metadata of \
                     {issuer} says authorization_response_iss_parameter_supported (RFC 9207 \
                     §2.4); its code is not used"
                )));
            }
            _ => {}
        }
        if self.state.as_deref() != Some(expected_state) {
            let what = if self.state.is_some() {
                "another state"
            } else {
                "no state"
            };
            return Err(SourceError(format!(
                "--auth-code: the authorization response carries {what} than the request sent \
                 (state mismatch: a response to another request, or a forged one); its code is \
                 not used"
            )));
        }
        if let Some(error) = self.error {
            let description = self
                .error_description
                .map(|d| format!(" ({})", d.chars().take(200).collect::<String>()))
                .unwrap_or_default();
            return Err(SourceError(format!(
                "--auth-code: the authorization server answered error={error}{description} at \
                 the redirect URI"
            )));
        }
        self.code.ok_or_else(|| {
            SourceError(
                "--auth-code: the authorization response has neither code nor error".to_owned(),
            )
        })
    }
}

/// The slot of a refresh token: the thumbprint of the DPoP key it is bound to.
fn slot(dpop: Option<&SigningKey>) -> String {
    dpop.map(|k| k.public_jwk().thumbprint())
        .unwrap_or_default()
}

impl AuthCode {
    pub fn new(
        request: Request,
        authorization_endpoint: String,
        issuer: String,
        iss_required: bool,
        login: Login,
    ) -> Self {
        Self {
            request,
            authorization_endpoint,
            issuer,
            iss_required,
            login,
            refresh: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn describe(&self) -> String {
        let how = match (&self.login.command, &self.login.form) {
            (Some(command), _) => format!("login by {}", login_command_name(command)),
            (None, Some(form)) => format!("login by the form driver as {}", form.user),
            (None, None) => "login in a browser".to_owned(),
        };
        format!(
            "authorization code + PKCE at {} as client {} ({}), {how}",
            self.authorization_endpoint,
            self.request.client.id,
            self.request.client.auth.name()
        )
    }

    /// A fresh token: by the refresh token of the same key when one was issued, else by a
    /// login and the code it gives.
    pub(super) async fn obtain(
        &self,
        http: &reqwest::Client,
        dpop: Option<&SigningKey>,
    ) -> Result<(String, Option<i64>, bool), SourceError> {
        let slot = slot(dpop);
        let kept = self
            .refresh
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&slot);
        if let Some(refresh_token) = kept {
            let fields = [
                ("grant_type", "refresh_token".to_owned()),
                ("refresh_token", refresh_token.expose().to_owned()),
                ("resource", self.request.resource.clone()),
            ];
            let answer = self.token_request(http, &fields, dpop).await?;
            match issued(&answer, "--auth-code, refresh token") {
                Ok(token) => {
                    // A server that does not rotate keeps the old one valid (RFC 6749 §6).
                    self.keep_refresh(slot, &answer, Some(refresh_token));
                    return Ok(token);
                }
                Err(e) => eprintln!("note: {e}; logging in again"),
            }
        }
        let (code, redirect_uri, pkce) = self.login(dpop).await?;
        let fields = [
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.expose().to_owned()),
            ("redirect_uri", redirect_uri),
            ("code_verifier", pkce.verifier.expose().to_owned()),
            ("resource", self.request.resource.clone()),
        ];
        let answer = self.token_request(http, &fields, dpop).await?;
        let token = issued(&answer, "--auth-code")?;
        self.keep_refresh(slot, &answer, None);
        Ok(token)
    }

    /// A token request with the client's authentication (and a DPoP proof of `dpop`); the
    /// fields carry `resource` but never `scope`, which the grant already fixed.
    async fn token_request(
        &self,
        http: &reqwest::Client,
        fields: &[(&str, String)],
        dpop: Option<&SigningKey>,
    ) -> Result<Answer, SourceError> {
        post_form(
            http,
            &self.request.token_endpoint,
            &self.request.client,
            fields,
            dpop,
        )
        .await
    }

    fn keep_refresh(&self, slot: String, answer: &Answer, old: Option<Secret>) {
        let new = answer
            .body
            .get("refresh_token")
            .and_then(Value::as_str)
            .map(Secret::new)
            .or(old);
        if let Some(token) = new {
            self.refresh
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(slot, token);
        }
    }

    /// The authorization request (OAuth 2.1 §4.1.1).
    pub fn authorization_url(
        &self,
        redirect_uri: &str,
        pkce: &Pkce,
        state: &str,
        dpop: Option<&SigningKey>,
    ) -> Result<url::Url, SourceError> {
        let mut url = url::Url::parse(&self.authorization_endpoint).map_err(|e| {
            SourceError(format!(
                "authorization_endpoint {}: {e}",
                self.authorization_endpoint
            ))
        })?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &self.request.client.id)
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("code_challenge", &pkce.challenge)
                .append_pair("code_challenge_method", "S256")
                .append_pair("state", state)
                .append_pair("resource", &self.request.resource);
            if !self.request.scope.is_empty() {
                query.append_pair("scope", &self.request.scope);
            }
            if let Some(key) = dpop {
                // RFC 9449 §10: the code is bound to the key that will redeem it.
                query.append_pair("dpop_jkt", &key.public_jwk().thumbprint());
            }
        }
        Ok(url)
    }

    /// One login: the listener, the authorization URL to the person or the login command,
    /// the redirect checked. The code, the redirect URI it was sent to, and the PKCE pair.
    async fn login(
        &self,
        dpop: Option<&SigningKey>,
    ) -> Result<(Secret, String, Pkce), SourceError> {
        let pkce = Pkce::generate();
        let state = mock_idp::random_b64url(16);
        let done = login_redirect(&self.login, "127.0.0.1", |redirect_uri| {
            self.authorization_url(redirect_uri, &pkce, &state, dpop)
        })
        .await?;
        // What arrived says more than the command's exit (an error, a forgery).
        let code = done
            .callback
            .accept(&state, &self.issuer, self.iss_required)?;
        if let Some(failed) = done.command_failed {
            return Err(failed);
        }
        Ok((code, done.redirect_uri, pkce))
    }
}

/// Loopback listeners bound ahead of a login whose redirect URI must be known before the login
/// starts (a pushed authorization request names it, RFC 9126): the login takes the listener of
/// its port from here instead of binding again, when another socket may hold the port.
static RESERVED: Mutex<BTreeMap<u16, std::net::TcpListener>> = Mutex::new(BTreeMap::new());

/// Binds a loopback listener on an ephemeral port and keeps it for the login that will name
/// the port ([`login_redirect`] with `redirect_port` set to it).
pub fn reserve_redirect_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    let port = listener.local_addr()?.port();
    RESERVED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(port, listener);
    Ok(port)
}

/// Closes a reserved listener no login took.
pub fn release_redirect_port(port: u16) {
    RESERVED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&port);
}

/// The listener for a login's redirect: the reserved one of `port`, else a new one.
async fn bind_redirect_listener(port: u16) -> std::io::Result<TcpListener> {
    let reserved = RESERVED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&port);
    match reserved {
        Some(listener) if port != 0 => {
            listener.set_nonblocking(true)?;
            TcpListener::from_std(listener)
        }
        _ => TcpListener::bind(("127.0.0.1", port)).await,
    }
}

/// What one login delivered to the loopback redirect URI.
pub struct LoggedIn {
    pub callback: Callback,
    /// The redirect URI the authorization request named (the listener's).
    pub redirect_uri: String,
    /// The login command failed although a redirect arrived.
    pub command_failed: Option<SourceError>,
}

/// One login through a loopback listener on `host` (127.0.0.1, or the host of a registered
/// loopback redirect URI): `url_for` builds the authorization URL for the listener's redirect
/// URI, which goes to the login command or a person's browser; what arrives at the redirect is
/// returned unchecked (the caller checks `state` and `iss`).
pub async fn login_redirect(
    login: &Login,
    host: &str,
    url_for: impl FnOnce(&str) -> Result<url::Url, SourceError>,
) -> Result<LoggedIn, SourceError> {
    let listener = bind_redirect_listener(login.redirect_port)
        .await
        .map_err(|e| {
            SourceError(format!(
                "cannot listen on 127.0.0.1:{} for the redirect: {e}",
                login.redirect_port
            ))
        })?;
    let port = listener
        .local_addr()
        .map_err(|e| SourceError(format!("the redirect listener: {e}")))?
        .port();
    let redirect_uri = format!("http://{host}:{port}{REDIRECT_PATH}");
    let url = url_for(&redirect_uri)?;
    let timeout = login.timeout;
    let mut waiting = tokio::spawn(wait_for_callback(listener, timeout));
    let _abort = AbortOnDrop(waiting.abort_handle());
    if let Some(form) = &login.form {
        return form_login(form, &url, redirect_uri, timeout, &mut waiting).await;
    }
    eprintln!("To let mcp-authspec obtain a token, sign in at:\n  {url}");
    match &login.command {
        Some(command) => {
            let ran = run_login_command(command, url.as_str(), timeout).await;
            let grace = if ran.is_ok() {
                AFTER_COMMAND
            } else {
                Duration::from_secs(1)
            };
            let arrived = match tokio::time::timeout(grace, &mut waiting).await {
                Ok(Ok(Ok(callback))) => Some(callback),
                _ => None,
            };
            match (ran, arrived) {
                (ran, Some(callback)) => Ok(LoggedIn {
                    callback,
                    redirect_uri,
                    command_failed: ran.err(),
                }),
                (Err(e), None) => Err(e),
                (Ok(()), None) => Err(SourceError(format!(
                    "{} finished but no redirect reached {redirect_uri} within {} s after it: it \
                     must drive the login until the authorization server redirects there",
                    login_command_name(command),
                    AFTER_COMMAND.as_secs()
                ))),
            }
        }
        None => {
            open_browser(url.as_str());
            match (&mut waiting).await {
                Ok(result) => Ok(LoggedIn {
                    callback: result?,
                    redirect_uri,
                    command_failed: None,
                }),
                Err(e) => Err(SourceError(format!("the redirect listener: {e}"))),
            }
        }
    }
}

/// One login by the built-in form driver: it stops at the redirect to the listener, which it
/// then delivers there by a GET without cookies, as a browser would (the listener reads it).
async fn form_login(
    form: &super::login_form::FormLogin,
    url: &url::Url,
    redirect_uri: String,
    timeout: Duration,
    waiting: &mut tokio::task::JoinHandle<Result<Callback, SourceError>>,
) -> Result<LoggedIn, SourceError> {
    let driver = crate::http::Driver::new(crate::http::Limits::default())
        .map_err(|e| SourceError(e.to_string()))?;
    let (reached, _) =
        super::login_form::log_in(driver.clone(), url, &redirect_uri, form, timeout).await;
    let target = reached?;
    let delivered = driver
        .send(crate::http::ProbeRequest::new("GET", target.as_str()))
        .await;
    if let Err(e) = delivered.response {
        return Err(SourceError(format!(
            "the login form driver reached the redirect but could not deliver it to the              listener: {e}"
        )));
    }
    match tokio::time::timeout(AFTER_COMMAND, waiting).await {
        Ok(Ok(Ok(callback))) => Ok(LoggedIn {
            callback,
            redirect_uri,
            command_failed: None,
        }),
        Ok(Ok(Err(e))) => Err(e),
        _ => Err(SourceError(format!(
            "the redirect the form driver delivered did not reach {redirect_uri}"
        ))),
    }
}

/// Aborts the listener task when the login ends, however it ends.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `sh -c 'CMD <url>'` with the URL also in [`AUTHORIZATION_URL_ENV`]: its stdout and
/// stderr go to the tool's stderr, its exit code is checked, its time is bounded.
async fn run_login_command(command: &str, url: &str, timeout: Duration) -> Result<(), SourceError> {
    let name = login_command_name(command);
    let full = format!("{command} {}", shell_quote(url));
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(&full)
        .env(AUTHORIZATION_URL_ENV, url)
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::io::stderr()))
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| SourceError(format!("{name}: could not start: {e}")))?;
    let status = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(status) => status.map_err(|e| SourceError(format!("{name}: {e}")))?,
        Err(_) => {
            return Err(SourceError(format!(
                "{name} did not finish within {} s",
                timeout.as_secs()
            )));
        }
    };
    if !status.success() {
        return Err(SourceError(format!(
            "{name} failed ({status}); its stderr is above"
        )));
    }
    Ok(())
}

/// The login command in messages and reports: only its program, since its arguments may
/// hold credentials.
fn login_command_name(command: &str) -> String {
    let program = command.split_whitespace().next().unwrap_or_default();
    format!("--login-command ({program} …)")
}

/// Opens the URL in the desktop's browser, when a person is at the terminal and an opener
/// (`xdg-open`, `open`) is installed; otherwise the printed URL is all.
fn open_browser(url: &str) {
    use std::io::IsTerminal as _;
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        eprintln!("  (open it in a browser; waiting for the redirect)");
        return;
    }
    let Some(opener) = ["xdg-open", "open"].into_iter().find(|name| on_path(name)) else {
        eprintln!("  (open it in a browser; waiting for the redirect)");
        return;
    };
    let spawned = std::process::Command::new(opener)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match spawned {
        Ok(mut child) => {
            // Reaped in the background: the opener returns at once or when the browser ends.
            std::thread::spawn(move || child.wait());
            eprintln!("  (opened in your browser; waiting for the redirect)");
        }
        Err(_) => eprintln!("  (open it in a browser; waiting for the redirect)"),
    }
}

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()))
}

/// Waits for the one request to the redirect path, answers it with a small page, and gives
/// its parameters. Other paths (a browser's favicon) get 404 and the wait goes on.
async fn wait_for_callback(
    listener: TcpListener,
    timeout: Duration,
) -> Result<Callback, SourceError> {
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(String, TcpStream)>(1);
    let wait = async {
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        if let Some((query, stream)) = read_callback(stream).await {
                            let _ = tx.send((query, stream)).await;
                        }
                    });
                }
                Some((query, mut stream)) = rx.recv() => {
                    let callback = Callback::parse(&query);
                    let _ = respond(&mut stream, 200, &page(&callback)).await;
                    return callback;
                }
            }
        }
    };
    tokio::time::timeout(timeout, wait).await.map_err(|_| {
        SourceError(format!(
            "--auth-code: no redirect reached http://127.0.0.1:{port}{REDIRECT_PATH} within {} s \
             (--login-timeout)",
            timeout.as_secs()
        ))
    })
}

/// Reads one request head; the query of a GET to the redirect path, else answers 404 (or
/// nothing, for a connection that sends no request in time).
async fn read_callback(mut stream: TcpStream) -> Option<(String, TcpStream)> {
    let mut head = Vec::new();
    let read = async {
        let mut buf = [0u8; 2048];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() <= MAX_REQUEST_HEAD {
            let n = stream.read(&mut buf).await.ok()?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        Some(())
    };
    tokio::time::timeout(REQUEST_HEAD_TIMEOUT, read)
        .await
        .ok()??;
    let line = head.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?.trim_end();
    let mut parts = line.split(' ');
    let (method, target) = (parts.next()?, parts.next()?);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if method == "GET" && path == REDIRECT_PATH {
        return Some((query.to_owned(), stream));
    }
    let _ = respond(&mut stream, 404, "<p>Not found.</p>").await;
    None
}

/// The page the browser shows: what the tool got, never the code.
fn page(callback: &Callback) -> String {
    match (&callback.error, &callback.code) {
        (Some(error), _) => format!(
            "<p>mcp-authspec: the authorization server answered <b>{}</b>{}. See the terminal.</p>",
            html_escape(error),
            callback
                .error_description
                .as_deref()
                .map(|d| format!(": {}", html_escape(d)))
                .unwrap_or_default()
        ),
        (None, Some(_)) => {
            "<p>mcp-authspec got the authorization code. You can close this window.</p>".to_owned()
        }
        (None, None) => "<p>mcp-authspec: this redirect carries neither code nor error. See the \
                         terminal.</p>"
            .to_owned(),
    }
}

fn html_escape(s: &str) -> String {
    s.chars()
        .take(300)
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

async fn respond(stream: &mut TcpStream, status: u16, body: &str) -> std::io::Result<()> {
    let reason = if status == 200 { "OK" } else { "Not Found" };
    let html = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>mcp-authspec</title></head>\
         <body>{body}</body></html>"
    );
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: text/html; charset=utf-8\r\n\
         cache-control: no-store\r\nreferrer-policy: no-referrer\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{html}",
        html.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_is_the_rfc_7636_appendix_b_vector() {
        let pkce = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into());
        assert_eq!(
            pkce.challenge,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let fresh = Pkce::generate();
        let v = fresh.verifier.expose();
        assert!((43..=128).contains(&v.len()), "{}", v.len());
        assert!(
            v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        );
        assert_ne!(v, Pkce::generate().verifier.expose(), "not random");
        assert_eq!(fresh.challenge, mock_idp::jwk::pkce_s256(v));
    }

    const ISSUER: &str = "https://as.example";

    fn callback(query: &str) -> Callback {
        Callback::parse(query)
    }

    #[test]
    fn the_code_of_a_matching_response_is_accepted() {
        let code = callback("code=c0de&state=s1&iss=https%3A%2F%2Fas.example")
            .accept("s1", ISSUER, true)
            .unwrap();
        assert_eq!(code.expose(), "c0de");
        // No iss is fine when the metadata does not promise one.
        assert!(
            callback("code=c&state=s1")
                .accept("s1", ISSUER, false)
                .is_ok()
        );
    }

    #[test]
    fn a_state_mismatch_is_refused() {
        for query in ["code=c&state=other", "code=c"] {
            let err = callback(query).accept("s1", ISSUER, false).unwrap_err();
            assert!(err.0.contains("state mismatch"), "{err}");
            assert!(!err.0.contains("c&"), "{err}");
        }
    }

    #[test]
    fn an_iss_mismatch_is_refused_before_anything_else() {
        let err = callback("code=c&state=s1&iss=https%3A%2F%2Fevil.example")
            .accept("s1", ISSUER, false)
            .unwrap_err();
        assert!(err.0.contains("RFC 9207"), "{err}");
        assert!(err.0.contains("evil.example"), "{err}");
        let missing = callback("code=c&state=s1")
            .accept("s1", ISSUER, true)
            .unwrap_err();
        assert!(missing.0.contains("no iss"), "{missing}");
    }

    #[test]
    fn an_error_response_is_said_in_a_sentence() {
        let err = callback("error=access_denied&error_description=the+user+said+no&state=s1")
            .accept("s1", ISSUER, false)
            .unwrap_err();
        assert!(
            err.0.contains("error=access_denied (the user said no)"),
            "{err}"
        );
    }

    #[test]
    fn debug_never_shows_codes_verifiers_or_refresh_tokens() {
        let c = callback("code=SECRETCODE&state=s1");
        let pkce = Pkce::from_verifier("SECRETVERIFIER-0123456789-0123456789-0123456".into());
        let refresh = Secret::new("SECRETREFRESH");
        let printed = format!("{c:?} {pkce:?} {refresh:?}");
        assert!(!printed.contains("SECRET"), "{printed}");
        assert!(printed.contains("<redacted>"), "{printed}");
    }

    #[test]
    fn the_page_never_shows_the_code_and_escapes_errors() {
        assert!(!page(&callback("code=SECRETCODE")).contains("SECRETCODE"));
        let p = page(&callback("error=%3Cscript%3E"));
        assert!(
            p.contains("&lt;script&gt;") && !p.contains("<script>"),
            "{p}"
        );
    }

    #[tokio::test]
    async fn the_listener_answers_the_callback_and_ignores_other_paths() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let waiting = tokio::spawn(wait_for_callback(listener, Duration::from_secs(20)));
        let client = reqwest::Client::new();
        let favicon = client
            .get(format!("http://127.0.0.1:{port}/favicon.ico"))
            .send()
            .await
            .unwrap();
        assert_eq!(favicon.status(), 404);
        let page = client
            .get(format!(
                "http://127.0.0.1:{port}/callback?code=SECRETCODE&state=s"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let text = page.text().await.unwrap();
        assert!(text.contains("got the authorization code") && !text.contains("SECRETCODE"));
        let got = waiting.await.unwrap().unwrap();
        assert_eq!(got.state.as_deref(), Some("s"));
        assert_eq!(got.code.unwrap().expose(), "SECRETCODE");
    }

    #[tokio::test]
    async fn nobody_at_the_listener_is_a_bounded_wait() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let err = wait_for_callback(listener, Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(err.0.contains("no redirect reached"), "{err}");
    }
}
