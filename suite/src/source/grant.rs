//! OAuth grants the tool runs against the target's own authorization server: client
//! credentials (RFC 6749 §4.4), the device authorization grant (RFC 8628) and the
//! authorization code grant with PKCE (`auth_code.rs`), each with the
//! RFC 8707 `resource` of the target and, with `--dpop`, a proof of the tool's key
//! (RFC 9449 §5, with the `use_dpop_nonce` retry of §8).
//!
//! Token endpoint exchanges are never recorded as evidence: they carry the client secret, the
//! device code, the authorization code, the PKCE verifier and the issued tokens.

use std::time::Duration;

use mock_idp::dpop::ProofBuilder;
use mock_idp::keys::SigningKey;
use mock_idp::token::TokenSpec;
use serde_json::Value;

use super::SourceError;
use super::auth_code::AuthCode;

/// How long one request to the authorization server may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// At most this much of an authorization server's answer is read.
const MAX_ANSWER: usize = 256 * 1024;

/// How the client authenticates at the token endpoint (RFC 6749 §2.3, RFC 7523).
pub enum ClientAuth {
    /// A public client: `client_id` only.
    None,
    /// `client_secret_basic`.
    Basic(String),
    /// `client_secret_post`.
    Post(String),
    /// `private_key_jwt`: an assertion signed with the client's key.
    PrivateKeyJwt(SigningKey),
}

impl ClientAuth {
    pub(super) fn name(&self) -> &'static str {
        match self {
            ClientAuth::None => "none",
            ClientAuth::Basic(_) => "client_secret_basic",
            ClientAuth::Post(_) => "client_secret_post",
            ClientAuth::PrivateKeyJwt(_) => "private_key_jwt",
        }
    }
}

/// A client of the authorization server.
pub struct Client {
    pub id: String,
    pub auth: ClientAuth,
}

/// What every grant asks for.
pub struct Request {
    pub token_endpoint: String,
    pub client: Client,
    /// RFC 8707 `resource`: the target's resource identifier.
    pub resource: String,
    /// Requested scope; none when empty.
    pub scope: String,
}

/// `--client-credentials`.
pub struct ClientCredentials {
    pub request: Request,
}

/// `--device-code`: the verification URI and user code go to stderr, and the tool polls at
/// the interval the authorization server gives.
pub struct DeviceCode {
    pub request: Request,
    pub device_authorization_endpoint: String,
    /// Run with the verification URI and user code, instead of waiting for a person (CI).
    pub approve_command: Option<String>,
}

pub enum Grant {
    ClientCredentials(ClientCredentials),
    DeviceCode(DeviceCode),
    /// `--auth-code`.
    AuthCode(Box<AuthCode>),
}

/// An answer of the authorization server, parsed.
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) body: Value,
    dpop_nonce: Option<String>,
}

impl Answer {
    fn error(&self) -> Option<&str> {
        self.body.get("error").and_then(Value::as_str)
    }

    /// One phrase: "HTTP 400 invalid_client (client authentication failed)".
    fn describe(&self) -> String {
        let mut out = format!("HTTP {}", self.status);
        if let Some(e) = self.error() {
            out.push(' ');
            out.push_str(e);
        }
        if let Some(d) = self.body.get("error_description").and_then(Value::as_str) {
            let d: String = d.chars().take(200).collect();
            out.push_str(&format!(" ({d})"));
        }
        out
    }
}

impl Grant {
    fn request(&self) -> &Request {
        match self {
            Grant::ClientCredentials(g) => &g.request,
            Grant::DeviceCode(g) => &g.request,
            Grant::AuthCode(g) => &g.request,
        }
    }

    pub fn describe(&self) -> String {
        let r = self.request();
        let grant = match self {
            Grant::ClientCredentials(_) => "client credentials",
            Grant::DeviceCode(_) => "device code",
            Grant::AuthCode(g) => return g.describe(),
        };
        format!(
            "{grant} at {} as client {} ({})",
            r.token_endpoint,
            r.client.id,
            r.client.auth.name()
        )
    }

    /// Runs the grant: the access token, its `expires_in`, and whether it is DPoP-bound
    /// (`token_type` DPoP).
    pub async fn obtain(
        &self,
        dpop: Option<&SigningKey>,
    ) -> Result<(String, Option<i64>, bool), SourceError> {
        let http = http_client()?;
        let fields = match self {
            Grant::ClientCredentials(_) => vec![("grant_type", "client_credentials".to_owned())],
            Grant::DeviceCode(device) => {
                let code = device.authorize(&http).await?;
                return device.poll(&http, &code, dpop).await;
            }
            Grant::AuthCode(auth_code) => return auth_code.obtain(&http, dpop).await,
        };
        let answer = token_request(&http, self.request(), &fields, dpop).await?;
        issued(&answer, &self.describe())
    }
}

/// A token response's token, lifetime and binding, or the error in a sentence.
pub(super) fn issued(
    answer: &Answer,
    what: &str,
) -> Result<(String, Option<i64>, bool), SourceError> {
    match answer.body.get("access_token").and_then(Value::as_str) {
        Some(token) if answer.status == 200 => {
            let bound = answer
                .body
                .get("token_type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case("DPoP"));
            let expires_in = answer.body.get("expires_in").and_then(Value::as_i64);
            Ok((token.to_owned(), expires_in, bound))
        }
        _ => Err(SourceError(format!(
            "{what}: the token endpoint answered {}",
            answer.describe()
        ))),
    }
}

fn http_client() -> Result<reqwest::Client, SourceError> {
    // No redirects: a token endpoint that redirects elsewhere would take the secret with it.
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|e| SourceError(format!("HTTP client: {e}")))
}

/// POSTs a form (client authentication added) and, when the server demands a DPoP nonce,
/// retries once with it.
pub(super) async fn post_form(
    http: &reqwest::Client,
    url: &str,
    client: &Client,
    fields: &[(&str, String)],
    dpop: Option<&SigningKey>,
) -> Result<Answer, SourceError> {
    let mut nonce: Option<String> = None;
    loop {
        let mut builder = http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json");
        let mut pairs: Vec<(&str, String)> = fields.to_vec();
        match &client.auth {
            ClientAuth::None => pairs.push(("client_id", client.id.clone())),
            ClientAuth::Basic(secret) => {
                // RFC 6749 §2.3.1: each part form-urlencoded before base64.
                let enc = |s: &str| {
                    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                };
                let pair = format!("{}:{}", enc(&client.id), enc(secret));
                builder = builder.header(
                    "authorization",
                    format!("Basic {}", base64_standard(pair.as_bytes())),
                );
            }
            ClientAuth::Post(secret) => {
                pairs.push(("client_id", client.id.clone()));
                pairs.push(("client_secret", secret.clone()));
            }
            ClientAuth::PrivateKeyJwt(key) => {
                pairs.push(("client_id", client.id.clone()));
                pairs.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
                ));
                pairs.push(("client_assertion", client_assertion(key, &client.id, url)));
            }
        }
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs.iter().map(|(n, v)| (*n, v.as_str())))
            .finish();
        if let Some(key) = dpop {
            let mut proof = ProofBuilder::new("POST", url);
            if let Some(n) = &nonce {
                proof = proof.nonce(n);
            }
            builder = builder.header("dpop", proof.sign(key));
        }
        let response = builder
            .body(body)
            .send()
            .await
            .map_err(|e| SourceError(format!("POST {url}: {}", describe_reqwest(&e))))?;
        let status = response.status().as_u16();
        if (300..400).contains(&status) {
            return Err(SourceError(format!(
                "POST {url}: answered a redirect (HTTP {status}), which is not followed with \
                 credentials"
            )));
        }
        let dpop_nonce = response
            .headers()
            .get("dpop-nonce")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = read_limited(response).await?;
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let answer = Answer {
            status,
            body,
            dpop_nonce,
        };
        let wants_nonce = answer.error() == Some("use_dpop_nonce");
        match (&answer.dpop_nonce, nonce.is_some()) {
            (Some(n), false) if dpop.is_some() && wants_nonce => nonce = Some(n.clone()),
            _ => return Ok(answer),
        }
    }
}

async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, SourceError> {
    let mut out = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| SourceError(format!("reading the answer: {}", describe_reqwest(&e))))?
    {
        out.extend_from_slice(&chunk);
        if out.len() > MAX_ANSWER {
            return Err(SourceError(format!(
                "the authorization server's answer exceeds {MAX_ANSWER} bytes"
            )));
        }
    }
    Ok(out)
}

fn describe_reqwest(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(&format!(": {s}"));
        source = s.source();
    }
    out
}

fn base64_standard(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// An RFC 7523 client assertion for `private_key_jwt`.
fn client_assertion(key: &SigningKey, client_id: &str, token_endpoint: &str) -> String {
    let now = mock_idp::unix_now();
    let mut spec = TokenSpec::new()
        .iss(client_id)
        .subject(client_id)
        .aud(token_endpoint)
        .iat(now)
        .exp(now + 60)
        .jti(&mock_idp::random_b64url(16))
        .typ("JWT");
    if let Some(kid) = key.kid() {
        spec = spec.kid(kid);
    }
    spec.mint(key)
}

/// The token request of a grant: its own fields, then `resource` and `scope`.
async fn token_request(
    http: &reqwest::Client,
    request: &Request,
    grant_fields: &[(&str, String)],
    dpop: Option<&SigningKey>,
) -> Result<Answer, SourceError> {
    let mut fields = grant_fields.to_vec();
    fields.push(("resource", request.resource.clone()));
    if !request.scope.is_empty() {
        fields.push(("scope", request.scope.clone()));
    }
    post_form(
        http,
        &request.token_endpoint,
        &request.client,
        &fields,
        dpop,
    )
    .await
}

/// What the device authorization endpoint gave (RFC 8628 §3.2).
struct DeviceAuthorization {
    device_code: String,
    interval: Duration,
    expires_in: Duration,
}

/// The longest RFC 8628 polling the tool does, whatever `expires_in` says.
const MAX_DEVICE_WAIT: Duration = Duration::from_secs(900);

impl DeviceCode {
    async fn authorize(&self, http: &reqwest::Client) -> Result<DeviceAuthorization, SourceError> {
        let mut fields = vec![("resource", self.request.resource.clone())];
        if !self.request.scope.is_empty() {
            fields.push(("scope", self.request.scope.clone()));
        }
        let answer = post_form(
            http,
            &self.device_authorization_endpoint,
            &self.request.client,
            &fields,
            None,
        )
        .await?;
        let field = |name: &str| answer.body.get(name).and_then(Value::as_str);
        let (Some(device_code), Some(user_code)) = (field("device_code"), field("user_code"))
        else {
            return Err(SourceError(format!(
                "device authorization at {}: answered {} without device_code and user_code",
                self.device_authorization_endpoint,
                answer.describe()
            )));
        };
        let uri = field("verification_uri")
            .or_else(|| field("verification_url"))
            .unwrap_or("(no verification_uri given)");
        eprintln!("To let mcp-authspec obtain a token, open {uri} and enter the code {user_code}");
        if let Some(complete) = field("verification_uri_complete") {
            eprintln!("  (or open {complete})");
        }
        if let Some(command) = &self.approve_command {
            let full = format!("{command} {} {}", shell_quote(uri), shell_quote(user_code));
            let status = tokio::process::Command::new("sh")
                .arg("-c")
                .arg(&full)
                .stdin(std::process::Stdio::null())
                .status()
                .await
                .map_err(|e| SourceError(format!("--device-approve-command: {e}")))?;
            if !status.success() {
                return Err(SourceError(format!(
                    "--device-approve-command failed ({status})"
                )));
            }
        }
        let secs = |name: &str, default: u64| {
            answer
                .body
                .get(name)
                .and_then(Value::as_u64)
                .unwrap_or(default)
        };
        Ok(DeviceAuthorization {
            device_code: device_code.to_owned(),
            interval: Duration::from_secs(secs("interval", 5)),
            expires_in: Duration::from_secs(secs("expires_in", 600)).min(MAX_DEVICE_WAIT),
        })
    }

    /// Polls the token endpoint (RFC 8628 §3.4–3.5): waits `interval`, slows down by 5 s
    /// when told, stops at expiry or a refusal.
    async fn poll(
        &self,
        http: &reqwest::Client,
        code: &DeviceAuthorization,
        dpop: Option<&SigningKey>,
    ) -> Result<(String, Option<i64>, bool), SourceError> {
        let started = std::time::Instant::now();
        let mut interval = code.interval;
        let fields = [
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:device_code".to_owned(),
            ),
            ("device_code", code.device_code.clone()),
        ];
        loop {
            tokio::time::sleep(interval).await;
            if started.elapsed() > code.expires_in {
                return Err(SourceError(
                    "device code: nobody approved the request before it expired".into(),
                ));
            }
            let answer = token_request(http, &self.request, &fields, dpop).await?;
            match answer.error() {
                Some("authorization_pending") => {}
                Some("slow_down") => interval += Duration::from_secs(5),
                _ => return issued(&answer, "device code"),
            }
        }
    }
}

/// `s` as one `sh` word.
pub(super) fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quote_keeps_one_word() {
        assert_eq!(shell_quote("a'b c"), r"'a'\''b c'");
    }
}
