//! The context of the `as.*` checks (design.md "Role"): the authorization server under test,
//! named by the target's PRM or by `--as`, and what one anonymous read of its discovery
//! documents found. Every metadata URL form is fetched once, at setup, whether or not an
//! earlier form answered, because the checks grade each form (spec §2.1: path insertion,
//! documents that disagree); each check carries the exchanges it grades as its evidence.

use crate::check::{CheckMeta, Need, Outcome};
use crate::engine::runner::Applicability;
use crate::http::{Driver, Exchange, ProbeRequest};
use crate::model::{Profile, SpecVersion, Verdict};
use crate::wire::discovery::as_metadata_urls;
use crate::wire::metadata::{Document, parse_as_metadata};

/// Where a metadata document was looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataForm {
    /// RFC 8414 §3.1: `/.well-known/oauth-authorization-server` inserted before the path.
    Oauth,
    /// OpenID Connect Discovery with the well-known suffix inserted (MCP V2+ order).
    OpenIdInserted,
    /// OpenID Connect Discovery §4: the suffix appended to the issuer.
    OpenIdAppended,
    /// The RFC 8414 suffix appended to the issuer: not an RFC 8414 location, looked at only to
    /// tell a misplaced document from a missing one.
    OauthAppended,
}

impl MetadataForm {
    pub fn is_oauth(self) -> bool {
        matches!(self, MetadataForm::Oauth | MetadataForm::OauthAppended)
    }

    pub fn describe(self) -> &'static str {
        match self {
            MetadataForm::Oauth => "RFC 8414 (path-inserted)",
            MetadataForm::OpenIdInserted => "OpenID (path-inserted)",
            MetadataForm::OpenIdAppended => "OpenID (appended)",
            MetadataForm::OauthAppended => "RFC 8414 suffix appended (not an RFC 8414 location)",
        }
    }
}

/// One metadata URL and what it answered.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub form: MetadataForm,
    pub url: String,
    pub exchange: Exchange,
    /// The document, when the answer was a 200 JSON object.
    pub document: Option<Document>,
    /// Why there is no document, when there is none.
    pub problem: Option<String>,
}

/// Everything the anonymous read of the authorization server found.
#[derive(Debug, Clone, Default)]
pub struct AsDocuments {
    pub fetched: Vec<Fetched>,
    /// The JWK Set of the first document's `jwks_uri`, when there is one.
    pub jwks: Option<Fetched>,
}

impl AsDocuments {
    /// The documents found, in MCP discovery order (the misplaced RFC 8414 one last).
    pub fn documents(&self) -> impl Iterator<Item = (&Fetched, &Document)> {
        self.fetched
            .iter()
            .filter_map(|f| f.document.as_ref().map(|d| (f, d)))
            .filter(|(f, _)| f.form != MetadataForm::OauthAppended)
    }

    /// The document an MCP client would use: the first found in discovery order.
    pub fn primary(&self) -> Option<(&Fetched, &Document)> {
        self.documents().next()
    }

    pub fn of_form(&self, form: MetadataForm) -> Option<&Fetched> {
        self.fetched.iter().find(|f| f.form == form)
    }

    /// Every exchange of the read, for evidence.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.fetched
            .iter()
            .chain(&self.jwks)
            .map(|f| f.exchange.clone())
            .collect()
    }
}

/// The OAuth client the run acts as at the authorization endpoint: a pre-registered public
/// client and one of its redirect URIs (a loopback one lets any port through, RFC 8252).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsClient {
    pub client_id: String,
    pub redirect_uri: String,
}

/// What the authorization endpoint did with one request, told apart from its answer alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthzAnswer {
    /// Back to the redirect URI the request named, with a code.
    Code,
    /// Back to the redirect URI the request named, with `error`.
    ErrorRedirect { error: String },
    /// A redirect to a URI off the authorization server's origin that is not the one the
    /// request named.
    Elsewhere { location: String },
    /// Further steps at the authorization server (a login or consent page, or a redirect to
    /// one on its own origin): the request was not refused, but nothing was decided yet.
    Login,
    /// An answer without a redirect that is no login page: the error page.
    ErrorPage { status: u16 },
    /// No HTTP answer.
    NoAnswer(String),
}

impl AuthzAnswer {
    /// In a few words, for sentences.
    pub fn describe(&self) -> String {
        match self {
            AuthzAnswer::Code => "a redirect back with a code".into(),
            AuthzAnswer::ErrorRedirect { error } => format!("a redirect back with error={error}"),
            AuthzAnswer::Elsewhere { location } => format!("a redirect to {location}"),
            AuthzAnswer::Login => "a login step at the authorization server".into(),
            AuthzAnswer::ErrorPage { status } => format!("an error page (HTTP {status})"),
            AuthzAnswer::NoAnswer(e) => format!("no answer ({e})"),
        }
    }

    /// Whether the answer sends the user agent to a client URI at all (a code or an error).
    pub fn redirects_to_client(&self) -> bool {
        matches!(
            self,
            AuthzAnswer::Code | AuthzAnswer::ErrorRedirect { .. } | AuthzAnswer::Elsewhere { .. }
        )
    }
}

/// Reads the authorization endpoint's answer to a request that named `redirect_uri`.
pub fn classify_authz(exchange: &Exchange, redirect_uri: &str, as_origin: &str) -> AuthzAnswer {
    let resp = match &exchange.response {
        Ok(r) => r,
        Err(e) => return AuthzAnswer::NoAnswer(e.to_string()),
    };
    if (300..400).contains(&resp.status) {
        let Some(location) = resp.header("location") else {
            return AuthzAnswer::ErrorPage {
                status: resp.status,
            };
        };
        let target = url::Url::parse(location)
            .or_else(|_| url::Url::parse(as_origin).and_then(|base| base.join(location)));
        let Ok(target) = target else {
            return AuthzAnswer::ErrorPage {
                status: resp.status,
            };
        };
        let without_response = {
            let mut base = target.clone();
            base.set_query(None);
            base.set_fragment(None);
            base.to_string()
        };
        let named = url::Url::parse(redirect_uri).map(|mut u| {
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        });
        if named.as_deref() == Ok(without_response.as_str()) {
            let pairs: Vec<(String, String)> = target
                .query_pairs()
                .chain(
                    target
                        .fragment()
                        .map(|f| url::form_urlencoded::parse(f.as_bytes()))
                        .into_iter()
                        .flatten(),
                )
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            if let Some((_, error)) = pairs.iter().find(|(k, _)| k == "error") {
                return AuthzAnswer::ErrorRedirect {
                    error: error.clone(),
                };
            }
            if pairs
                .iter()
                .any(|(k, _)| k == "code" || k == "access_token")
            {
                return AuthzAnswer::Code;
            }
        }
        if target.origin().ascii_serialization() == as_origin {
            return AuthzAnswer::Login;
        }
        return AuthzAnswer::Elsewhere {
            location: location.to_owned(),
        };
    }
    let body = String::from_utf8_lossy(&resp.body).to_ascii_lowercase();
    let login_form = (200..300).contains(&resp.status)
        && body.contains("<form")
        && (body.contains("type=\"password\"")
            || body.contains("type='password'")
            || body.contains("type=password"));
    if login_form {
        AuthzAnswer::Login
    } else {
        AuthzAnswer::ErrorPage {
            status: resp.status,
        }
    }
}

/// A code the authorization endpoint issued, with what it was requested with.
#[derive(Debug, Clone)]
pub struct IssuedCode {
    pub code: String,
    /// The PKCE verifier whose S256 challenge the request carried.
    pub verifier: String,
    pub redirect_uri: String,
    /// The resource the request named ("" when it named none).
    pub resource: String,
    /// The authorization request and its redirect.
    pub exchange: Exchange,
}

/// The `code` of the query of a redirect's `Location`.
fn code_of(exchange: &Exchange) -> Option<String> {
    let location = exchange.response.as_ref().ok()?.header("location")?;
    let url = url::Url::parse(location).ok()?;
    url.query_pairs()
        .find(|(k, v)| k == "code" && !v.is_empty())
        .map(|(_, v)| v.into_owned())
}

/// An authorization request sent for a code, as far as reading its code needs.
struct CodeRequest<'a> {
    /// The parameters sent (again, through the login, when one is needed).
    params: Vec<(String, String)>,
    /// The request's `state`, which the redirect after a login must carry.
    state: Option<String>,
    redirect_uri: &'a str,
    /// How a login step is passed, if it can be.
    login: Option<&'a crate::source::auth_code::Login>,
    /// The PKCE verifier of the request's challenge.
    verifier: String,
    resource: &'a str,
}

/// The `state` of authorization request parameters.
fn state_of(params: &[(String, String)]) -> Option<String> {
    params
        .iter()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.clone())
}

/// A valid authorization request prepared to be pushed (RFC 9126), then sent by reference.
#[derive(Debug, Clone)]
pub struct PushableRequest {
    /// The parameters to push.
    pub params: Vec<(String, String)>,
    verifier: String,
    resource: String,
    redirect_uri: String,
    /// The login that delivers the code, its listener on the port `redirect_uri` names.
    login: Option<crate::source::auth_code::Login>,
}

/// The parameters of an authorization response as the client received them.
#[derive(Debug, Clone, Default)]
pub struct AuthzResponse {
    pub params: Vec<(String, String)>,
}

impl AuthzResponse {
    /// The first value of a parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The context of a run against an authorization server.
pub struct AsContext {
    pub driver: Driver,
    /// The issuer identifier under test, exactly as the PRM or `--as` gave it.
    pub issuer: String,
    /// The resource `R` whose PRM named the issuer, when there is an MCP target.
    pub resource: Option<String>,
    pub spec_version: SpecVersion,
    pub profiles: Vec<Profile>,
    pub documents: AsDocuments,
    /// The client the authorization-endpoint rows act as, when the run has one.
    pub client: Option<AsClient>,
    /// How a login is done when the authorization server asks for one (`--login-command`, or
    /// a person at a browser); without it, rows that need a code stop at the login step.
    pub login: Option<crate::source::auth_code::Login>,
    /// The scope valid authorization requests ask for (`--scope`, else the challenge's or the
    /// PRM's); none when the run knows none.
    pub scope: Option<String>,
    /// Every client the run registered (its own, and the registration rows'), deleted at the
    /// end of the run (RFC 7592) where the server allows it.
    pub registrations: crate::engine::registration::Registrations,
    /// The public https base URL of the client ID metadata documents the run hosts
    /// (`--cimd-base-url`); `None`: the listener's own https socket.
    pub cimd_base_url: Option<String>,
    /// How long as.token.code-expired waits before redeeming a code (`--code-expiry-wait`):
    /// the longest code lifetime the run accepts. None leaves the row NotEvaluated.
    pub code_expiry_wait: Option<std::time::Duration>,
    /// The confidential client the RFC 8693 token exchange rows exchange tokens as
    /// (`--exchange-client-id`); without it they register one.
    pub exchange_client: Option<ConfidentialClient>,
    /// The confidential client the rows that act as one use (`--confidential-client-id`);
    /// without it they register one each.
    pub confidential_client: Option<ConfidentialClient>,
    /// The target those rows exchange tokens for (`--other-resource`: a resource the
    /// authorization server knows that is not `R`).
    pub exchange_target: Option<String>,
}

/// A confidential client authenticating with `client_secret_basic`.
#[derive(Debug, Clone)]
pub struct ConfidentialClient {
    pub client_id: String,
    pub secret: crate::source::auth_code::Secret,
    /// A redirect URI registered for it, for code flows (none: it runs none).
    pub redirect_uri: Option<String>,
}

impl ConfidentialClient {
    /// Its HTTP Basic credentials (id, secret), for a token request.
    pub fn basic(&self) -> (String, String) {
        (self.client_id.clone(), self.secret.expose().to_owned())
    }
}

impl AsContext {
    /// Reads the issuer's discovery documents (anonymous GETs only).
    pub async fn discover(driver: Driver, issuer: &str, resource: Option<String>) -> Self {
        let documents = read_documents(&driver, issuer).await;
        Self {
            driver,
            issuer: issuer.to_owned(),
            resource,
            spec_version: SpecVersion::NEWEST,
            profiles: Vec::new(),
            documents,
            client: None,
            login: None,
            scope: None,
            registrations: Default::default(),
            cimd_base_url: None,
            code_expiry_wait: None,
            exchange_client: None,
            confidential_client: None,
            exchange_target: None,
        }
    }

    /// The RFC 7591 registration endpoint the metadata names.
    pub fn registration_endpoint(&self) -> Option<&str> {
        self.documents
            .primary()
            .and_then(|(_, d)| d.str("registration_endpoint"))
    }

    /// The authorization endpoint the metadata names.
    pub fn authorization_endpoint(&self) -> Option<&str> {
        self.documents
            .primary()
            .and_then(|(_, d)| d.str("authorization_endpoint"))
    }

    /// The origin of the authorization endpoint (where login steps happen).
    pub fn authorization_origin(&self) -> String {
        self.authorization_endpoint()
            .and_then(|e| url::Url::parse(e).ok())
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default()
    }

    /// A valid authorization request's parameters for `client`: code flow, PKCE S256, a
    /// random state, and `resource` when the run knows the resource.
    pub fn valid_authorization_params(&self, client: &AsClient) -> Vec<(String, String)> {
        self.authorization_params_for(client, &mock_idp::random_b64url(32))
    }

    /// [`Self::valid_authorization_params`] with the challenge of `verifier`.
    fn authorization_params_for(&self, client: &AsClient, verifier: &str) -> Vec<(String, String)> {
        let mut params = vec![
            ("response_type", "code".to_owned()),
            ("client_id", client.client_id.clone()),
            ("redirect_uri", client.redirect_uri.clone()),
            ("state", mock_idp::random_b64url(16)),
            ("code_challenge", mock_idp::jwk::pkce_s256(verifier)),
            ("code_challenge_method", "S256".to_owned()),
        ];
        if let Some(scope) = &self.scope {
            params.push(("scope", scope.clone()));
        }
        if let Some(resource) = &self.resource {
            params.push(("resource", resource.clone()));
        }
        params.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    /// The token endpoint the metadata names.
    pub fn token_endpoint(&self) -> Option<&str> {
        self.documents
            .primary()
            .and_then(|(_, d)| d.str("token_endpoint"))
    }

    /// Asks the authorization endpoint for a code with a valid request of `client` for
    /// `resource` (PKCE S256 with a fresh verifier). `Err` is the answer when it was no code
    /// (a login step, an error), with its exchange.
    pub async fn request_code(
        &self,
        client: &AsClient,
        resource: &str,
    ) -> Result<IssuedCode, (AuthzAnswer, Exchange)> {
        self.request_code_with(client, Some(resource), &[]).await
    }

    /// A code for a valid request of `client` for `resource` without `code_challenge` (a
    /// confidential client may omit PKCE, OAuth 2.1 §7.5.1): the code's `verifier` is empty.
    pub async fn request_code_without_pkce(
        &self,
        client: &AsClient,
        resource: &str,
    ) -> Result<IssuedCode, (AuthzAnswer, Exchange)> {
        let mut params = self.valid_authorization_params(client);
        params.retain(|(k, _)| k != "code_challenge" && k != "code_challenge_method");
        let exchange = self.authorize(&params).await;
        let request = CodeRequest {
            state: state_of(&params),
            params,
            redirect_uri: &client.redirect_uri,
            login: self.login.as_ref(),
            verifier: String::new(),
            resource,
        };
        self.code_from(exchange, request).await
    }

    /// The introspection endpoint (RFC 7662) the metadata names.
    pub fn introspection_endpoint(&self) -> Option<&str> {
        self.documents
            .primary()
            .and_then(|(_, d)| d.str("introspection_endpoint"))
    }

    /// [`Self::request_code`] naming `resource`, or no resource at all (then the code's
    /// `resource` is empty).
    pub async fn request_code_for(
        &self,
        client: &AsClient,
        resource: Option<&str>,
    ) -> Result<IssuedCode, (AuthzAnswer, Exchange)> {
        self.request_code_with(client, resource, &[]).await
    }

    /// [`Self::request_code_for`] with `extra` parameters added to the valid request (RFC 9449
    /// §10 `dpop_jkt`, …).
    pub async fn request_code_with(
        &self,
        client: &AsClient,
        resource: Option<&str>,
        extra: &[(String, String)],
    ) -> Result<IssuedCode, (AuthzAnswer, Exchange)> {
        let verifier = mock_idp::random_b64url(32);
        let mut params = self.authorization_params_for(client, &verifier);
        params.retain(|(k, _)| k != "resource");
        if let Some(resource) = resource {
            params.push(("resource".to_owned(), resource.to_owned()));
        }
        params.extend_from_slice(extra);
        let resource = resource.unwrap_or_default();
        let exchange = self.authorize(&params).await;
        let request = CodeRequest {
            state: state_of(&params),
            params,
            redirect_uri: &client.redirect_uri,
            login: self.login.as_ref(),
            verifier,
            resource,
        };
        self.code_from(exchange, request).await
    }

    /// The code the answer `exchange` to `request` gives: in its redirect, or, when it is a
    /// login step and the run can log in, at the listener after the login.
    async fn code_from(
        &self,
        exchange: Exchange,
        request: CodeRequest<'_>,
    ) -> Result<IssuedCode, (AuthzAnswer, Exchange)> {
        let answer = classify_authz(
            &exchange,
            request.redirect_uri,
            &self.authorization_origin(),
        );
        if answer == AuthzAnswer::Login
            && let Some(login) = request.login
            && let Some(host) = loopback_callback_host(request.redirect_uri)
        {
            return self.code_by_login(login, &host, request, exchange).await;
        }
        let code = (answer == AuthzAnswer::Code)
            .then(|| code_of(&exchange))
            .flatten();
        match code {
            Some(code) => Ok(IssuedCode {
                code,
                verifier: request.verifier,
                redirect_uri: request.redirect_uri.to_owned(),
                resource: request.resource.to_owned(),
                exchange,
            }),
            None => Err((answer, exchange)),
        }
    }

    /// The same request through a login: to a listener at the client's loopback redirect URI
    /// (its port chosen by the listener, RFC 8252 §7.3), driven by the login command.
    async fn code_by_login(
        &self,
        login: &crate::source::auth_code::Login,
        host: &str,
        request: CodeRequest<'_>,
        exchange: Exchange,
    ) -> Result<IssuedCode, (AuthzAnswer, Exchange)> {
        let failed = |why: String| (AuthzAnswer::NoAnswer(why), exchange.clone());
        let (response, redirect_uri) = self
            .response_by_login(login, host, request.params)
            .await
            .map_err(failed)?;
        if response.param("state") != request.state.as_deref() {
            return Err(failed(
                "the redirect after the login carried another state than the request".into(),
            ));
        }
        if let Some(error) = response.param("error") {
            return Err((
                AuthzAnswer::ErrorRedirect {
                    error: error.to_owned(),
                },
                exchange,
            ));
        }
        let code = response
            .param("code")
            .ok_or_else(|| failed("the redirect after the login carried no code".into()))?;
        Ok(IssuedCode {
            code: code.to_owned(),
            verifier: request.verifier,
            redirect_uri,
            resource: request.resource.to_owned(),
            exchange,
        })
    }

    /// One login for the request `params` (their `redirect_uri` replaced by the listener's):
    /// what arrived at the redirect, and the redirect URI. `state` is the request's own.
    async fn response_by_login(
        &self,
        login: &crate::source::auth_code::Login,
        host: &str,
        mut params: Vec<(String, String)>,
    ) -> Result<(AuthzResponse, String), String> {
        let endpoint = self.authorization_endpoint().unwrap_or_default().to_owned();
        let done = crate::source::auth_code::login_redirect(login, host, |redirect_uri| {
            params.retain(|(k, _)| k != "redirect_uri");
            params.push(("redirect_uri".to_owned(), redirect_uri.to_owned()));
            let mut url = url::Url::parse(&endpoint)
                .map_err(|e| crate::source::SourceError(format!("{endpoint}: {e}")))?;
            url.query_pairs_mut().extend_pairs(&params);
            Ok(url)
        })
        .await
        .map_err(|e| format!("the login did not deliver a redirect: {e}"))?;
        let c = done.callback;
        let params = [
            ("code", c.code.map(|s| s.expose().to_owned())),
            ("state", c.state),
            ("iss", c.iss),
            ("error", c.error),
            ("error_description", c.error_description),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
        .collect();
        Ok((AuthzResponse { params }, done.redirect_uri))
    }

    /// What the client gets back for one authorization request: the parameters of the
    /// redirect to it, read from the `Location` when the server answers at once, or at the
    /// loopback listener after a login (`--login-command`). `Err` is any other answer (an
    /// error page, a login step with no login command), with the request's exchange.
    pub async fn authorization_response(
        &self,
        client: &AsClient,
        params: &[(String, String)],
    ) -> Result<(AuthzResponse, Exchange), (AuthzAnswer, Exchange)> {
        let exchange = self.authorize(params).await;
        let redirect_uri = params
            .iter()
            .find(|(k, _)| k == "redirect_uri")
            .map_or(client.redirect_uri.as_str(), |(_, v)| v.as_str());
        let answer = classify_authz(&exchange, redirect_uri, &self.authorization_origin());
        match answer {
            AuthzAnswer::Code | AuthzAnswer::ErrorRedirect { .. } => {
                let location = exchange
                    .response
                    .as_ref()
                    .ok()
                    .and_then(|r| r.header("location"))
                    .and_then(|l| url::Url::parse(l).ok());
                let params = location
                    .map(|u| {
                        u.query_pairs()
                            .map(|(k, v)| (k.into_owned(), v.into_owned()))
                            .collect()
                    })
                    .unwrap_or_default();
                Ok((AuthzResponse { params }, exchange))
            }
            AuthzAnswer::Login => {
                let (Some(login), Some(host)) =
                    (&self.login, loopback_callback_host(&client.redirect_uri))
                else {
                    return Err((AuthzAnswer::Login, exchange));
                };
                match self.response_by_login(login, &host, params.to_vec()).await {
                    Ok((response, _)) => Ok((response, exchange)),
                    Err(why) => Err((AuthzAnswer::NoAnswer(why), exchange)),
                }
            }
            other => Err((other, exchange)),
        }
    }

    /// The RFC 9126 pushed authorization request endpoint the metadata names.
    pub fn pushed_authorization_request_endpoint(&self) -> Option<&str> {
        self.documents
            .primary()
            .and_then(|(_, d)| d.str("pushed_authorization_request_endpoint"))
    }

    /// A valid request of `client` for `resource` (PKCE S256 with a fresh verifier), plus
    /// `extra`, to push (RFC 9126) and then send by reference ([`Self::code_by_reference`]).
    /// With a login, its redirect URI names a free loopback port, which the login's listener
    /// takes: the pushed request must name the redirect URI before the login starts.
    pub fn request_to_push(
        &self,
        client: &AsClient,
        resource: &str,
        extra: &[(String, String)],
    ) -> PushableRequest {
        let verifier = mock_idp::random_b64url(32);
        let mut params = self.authorization_params_for(client, &verifier);
        params.retain(|(k, _)| k != "resource");
        params.push(("resource".to_owned(), resource.to_owned()));
        params.extend_from_slice(extra);
        // Bound now and kept for the login, so no other socket takes the port meanwhile.
        let fixed_port = || crate::source::auth_code::reserve_redirect_port().ok();
        let mut redirect_uri = client.redirect_uri.clone();
        let mut login = None;
        if let (Some(l), Some(host)) = (&self.login, loopback_callback_host(&client.redirect_uri))
            && let Some(port) = fixed_port()
        {
            redirect_uri = format!(
                "http://{host}:{port}{}",
                crate::source::auth_code::REDIRECT_PATH
            );
            login = Some(crate::source::auth_code::Login {
                redirect_port: port,
                ..l.clone()
            });
        }
        params.retain(|(k, _)| k != "redirect_uri");
        params.push(("redirect_uri".to_owned(), redirect_uri.clone()));
        PushableRequest {
            params,
            verifier,
            resource: resource.to_owned(),
            redirect_uri,
            login,
        }
    }

    /// Sends a pushed request by reference, `client_id` and `request_uri` (RFC 9126 §4), and
    /// reads its code as [`Self::request_code`] does (through the login when one is needed).
    pub async fn code_by_reference(
        &self,
        client: &AsClient,
        pushed: &PushableRequest,
        request_uri: &str,
    ) -> Result<IssuedCode, (AuthzAnswer, Exchange)> {
        let params = vec![
            ("client_id".to_owned(), client.client_id.clone()),
            ("request_uri".to_owned(), request_uri.to_owned()),
        ];
        let exchange = self.authorize(&params).await;
        let request = CodeRequest {
            params,
            state: state_of(&pushed.params),
            redirect_uri: &pushed.redirect_uri,
            login: pushed.login.as_ref(),
            verifier: pushed.verifier.clone(),
            resource: &pushed.resource,
        };
        let code = self.code_from(exchange, request).await;
        // A listener reserved for a login that did not happen (the server needed none).
        if let Some(login) = &pushed.login {
            crate::source::auth_code::release_redirect_port(login.redirect_port);
        }
        code
    }

    /// Sends one authorization request (GET; the answer's redirect is not followed).
    pub async fn authorize(&self, params: &[(String, String)]) -> Exchange {
        let endpoint = self.authorization_endpoint().unwrap_or_default();
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        let separator = if endpoint.contains('?') { '&' } else { '?' };
        self.driver
            .send(ProbeRequest::new(
                "GET",
                &format!("{endpoint}{separator}{query}"),
            ))
            .await
    }
}

/// The host of a loopback redirect URI whose path is the tool's listener's (`/callback`): a
/// login can end there, on whatever port the listener gets.
fn loopback_callback_host(redirect_uri: &str) -> Option<String> {
    let url = url::Url::parse(redirect_uri).ok()?;
    let host = url.host_str()?.to_owned();
    // The listener binds 127.0.0.1, which `localhost` names too.
    let loopback = matches!(host.as_str(), "127.0.0.1" | "localhost");
    (url.scheme() == "http" && loopback && url.path() == crate::source::auth_code::REDIRECT_PATH)
        .then_some(host)
}

/// A metadata GET without credentials.
fn get_json(url: &str) -> ProbeRequest {
    ProbeRequest::new("GET", url).header("accept", "application/json")
}

async fn read(driver: &Driver, form: MetadataForm, url: String, issuer: &str) -> Fetched {
    let exchange = driver.send(get_json(&url)).await;
    let (document, problem) = match &exchange.response {
        Ok(r) if r.status == 200 => match parse_as_metadata(&r.body, issuer) {
            Ok(d) => (Some(d), None),
            Err(e) => (None, Some(e.to_string())),
        },
        Ok(r) => (None, Some(format!("HTTP {}", r.status))),
        Err(e) => (None, Some(e.to_string())),
    };
    Fetched {
        form,
        url,
        exchange,
        document,
        problem,
    }
}

async fn read_documents(driver: &Driver, issuer: &str) -> AsDocuments {
    let Ok(urls) = as_metadata_urls(issuer) else {
        return AsDocuments::default();
    };
    // as_metadata_urls gives RFC 8414, OpenID inserted, then (for an issuer with a path)
    // OpenID appended.
    let forms = [
        MetadataForm::Oauth,
        MetadataForm::OpenIdInserted,
        MetadataForm::OpenIdAppended,
    ];
    let mut fetched = Vec::new();
    for (form, url) in forms.into_iter().zip(urls) {
        fetched.push(read(driver, form, url, issuer).await);
    }
    let path = url::Url::parse(issuer)
        .map(|u| u.path().trim_end_matches('/').to_owned())
        .unwrap_or_default();
    if !path.is_empty() {
        let appended = format!(
            "{}/.well-known/oauth-authorization-server",
            issuer.trim_end_matches('/')
        );
        fetched.push(read(driver, MetadataForm::OauthAppended, appended, issuer).await);
    }
    let mut documents = AsDocuments {
        fetched,
        jwks: None,
    };
    let jwks_uri = documents
        .primary()
        .and_then(|(_, d)| d.str("jwks_uri").map(str::to_owned));
    if let Some(uri) = jwks_uri {
        let exchange = driver.send(get_json(&uri)).await;
        let problem = match &exchange.response {
            Ok(r) if r.status == 200 => None,
            Ok(r) => Some(format!("HTTP {}", r.status)),
            Err(e) => Some(e.to_string()),
        };
        documents.jwks = Some(Fetched {
            form: MetadataForm::Oauth,
            url: uri,
            exchange,
            document: None,
            problem,
        });
    }
    documents
}

impl Applicability for AsContext {
    fn precluded(&self, meta: &CheckMeta) -> Option<Outcome> {
        let needs_client = meta.needs.contains(&Need::AsClient);
        if needs_client && self.client.is_none() {
            return Some(Outcome::new(
                Verdict::NotEvaluated,
                "needs a public client registered at the authorization server: give --client-id \
                 and one of its registered --redirect-uri values",
            ));
        }
        let needs_wait = meta.needs.contains(&Need::CodeExpiryWait);
        (needs_wait && self.code_expiry_wait.is_none()).then(|| {
            Outcome::new(
                Verdict::NotEvaluated,
                "redeems a code after waiting longer than codes may live, which takes minutes: \
                 give --code-expiry-wait SECONDS (660 holds codes to OAuth 2.1's recommended \
                 10 minutes)",
            )
        })
    }

    fn in_force(&self, meta: &CheckMeta, outcome: Outcome) -> Outcome {
        crate::engine::applicability::at_level_in_force(
            meta,
            outcome,
            self.spec_version,
            &self.profiles,
        )
    }
}
