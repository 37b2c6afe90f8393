//! From the command line to a token source: which source the flags name, where its
//! authorization server is (the target's PRM names it; `--token-endpoint` overrides), and
//! whether real credentials may go there ([`OriginPolicy`]).

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use mock_idp::keys::SigningKey;
use serde_json::Value;

use super::{
    Acquire, AuthCode, Client, ClientAuth, ClientCredentials, DeviceCode, GivenFrom, Grant,
    IssuedTokens, Login, OriginPolicy, OtherResource, Request, SourceError, TokenCommand,
    TokenSource, secret_from_env,
};

/// The token-source flags of `run` (issue 13: a deployed server with its real authorization
/// server).
#[derive(Debug, Clone, Default, Args)]
pub struct SourceArgs {
    /// A token the user already has, from this environment variable.
    #[arg(
        long,
        value_name = "VAR",
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub token_env: Option<String>,
    /// A token the user already has, from this file.
    #[arg(
        long,
        value_name = "PATH",
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub token_file: Option<PathBuf>,
    /// A token on the command line (it lands in shell history: prefer --token-env).
    #[arg(
        long,
        value_name = "TOKEN",
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub token: Option<String>,
    /// A command printing a fresh token (or JSON with access_token), run whenever one is due.
    #[arg(
        long,
        value_name = "CMD",
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub token_command: Option<String>,
    /// Obtain tokens with the client credentials grant.
    #[arg(
        long,
        requires = "client_id",
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub client_credentials: bool,
    /// Obtain tokens with the device authorization grant (RFC 8628).
    #[arg(
        long,
        requires = "client_id",
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub device_code: bool,
    /// Obtain tokens with the authorization code grant (PKCE S256, redirect to a loopback
    /// listener): the authorization URL is printed and opened in a browser, or given to
    /// --login-command.
    #[arg(
        long,
        requires = "client_id",
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub auth_code: bool,
    /// With --auth-code (and for the as.* checks that need a login): the port of the loopback
    /// redirect URI http://127.0.0.1:PORT/callback (default: an ephemeral port).
    #[arg(
        long,
        value_name = "PORT",
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub redirect_port: Option<u16>,
    /// With --auth-code, and for the as.* checks that need a login: run
    /// `sh -c 'CMD <authorization-url>'` (the URL also in MCP_AUTHSPEC_AUTHORIZATION_URL) to
    /// log in without a person, e.g. a Playwright script.
    #[arg(
        long,
        value_name = "CMD",
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub login_command: Option<String>,
    /// With --auth-code, and for the as.* checks that need a login: log in with the built-in
    /// form driver (cookies kept, same-origin redirects followed, one HTML login form filled,
    /// approval pages submitted) as this user; the password comes from --login-password-env.
    #[arg(
        long,
        value_name = "USER",
        requires = "login_password_env",
        conflicts_with = "login_command",
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub login_user: Option<String>,
    /// The environment variable holding the --login-user password (never an argument).
    #[arg(
        long,
        value_name = "VAR",
        requires = "login_user",
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub login_password_env: Option<String>,
    /// The name of the login form's user-name input, when the form driver does not find it.
    #[arg(
        long,
        value_name = "NAME",
        requires = "login_user",
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub login_user_field: Option<String>,
    /// The name of the login form's password input, when the form driver does not find it.
    #[arg(
        long,
        value_name = "NAME",
        requires = "login_user",
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub login_password_field: Option<String>,
    /// How long a login may take, in seconds (default: 300).
    #[arg(
        long,
        value_name = "SECS",
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub login_timeout: Option<u64>,
    /// The OAuth client the grant runs as.
    #[arg(
        long,
        value_name = "ID",
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub client_id: Option<String>,
    /// The environment variable holding the client secret (never an argument).
    #[arg(
        long,
        value_name = "VAR",
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub client_secret_env: Option<String>,
    /// The file holding the client secret (instead of --client-secret-env).
    #[arg(
        long,
        value_name = "PATH",
        conflicts_with = "client_secret_env",
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub client_secret_file: Option<PathBuf>,
    /// How the client authenticates (default: basic with a secret, none without).
    #[arg(
        long,
        value_enum,
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub client_auth: Option<ClientAuthArg>,
    /// The client's private key (PKCS#8 PEM) for --client-auth private-key-jwt.
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub client_key: Option<PathBuf>,
    /// The token endpoint, instead of the one the authorization server's metadata names.
    #[arg(
        long,
        value_name = "URL",
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub token_endpoint: Option<String>,
    /// With --device-code: run CMD '<verification_uri>' '<user_code>' to approve without a person.
    #[arg(
        long,
        value_name = "CMD",
        requires = "device_code",
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub device_approve_command: Option<String>,
    /// The RFC 8707 resource tokens are requested for (default: the target's PRM resource).
    #[arg(
        long,
        value_name = "URI",
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub resource: Option<String>,
    /// Also obtain DPoP-bound tokens for the tool's proof key (with a grant), so the
    /// rs.dpop.* proof checks run.
    #[arg(
        long,
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub dpop: bool,
    /// A second subject's token (cross-user checks), from this environment variable.
    #[arg(
        long,
        value_name = "VAR",
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub second_token_env: Option<String>,
    /// A second subject's token, from this file.
    #[arg(
        long,
        value_name = "PATH",
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub second_token_file: Option<PathBuf>,
    /// A command printing a second subject's token.
    #[arg(
        long,
        value_name = "CMD",
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub second_token_command: Option<String>,
    /// A second client for the client credentials grant (its own subject).
    #[arg(
        long,
        value_name = "ID",
        requires = "client_credentials",
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub second_client_id: Option<String>,
    /// The environment variable holding the second client's secret.
    #[arg(
        long,
        value_name = "VAR",
        requires = "second_client_id",
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub second_client_secret_env: Option<String>,
    /// The file holding the second client's secret (instead of --second-client-secret-env).
    #[arg(
        long,
        value_name = "PATH",
        requires = "second_client_id",
        conflicts_with = "second_client_secret_env",
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub second_client_secret_file: Option<PathBuf>,
    /// A resource the authorization server also issues tokens for, which is not the target:
    /// the grant obtains a token for it, which the target must refuse (rs.token.aud-wrong).
    #[arg(
        long,
        value_name = "URI",
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub other_resource: Option<String>,
    // RFC 8693 token exchange (the as.exchange.* rows)
    /// The confidential client (client_secret_basic) the as.exchange.* rows exchange tokens
    /// as: an MCP server's client, allowed the token exchange grant, that the authorization
    /// server lets exchange tokens issued for the run's resource. Without it the rows register
    /// one (dynamic client registration).
    #[arg(
        long,
        value_name = "ID",
        requires = "exchange_client_secret_env",
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub exchange_client_id: Option<String>,
    /// The environment variable holding --exchange-client-id's secret (never an argument).
    #[arg(
        long,
        value_name = "VAR",
        requires = "exchange_client_id",
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub exchange_client_secret_env: Option<String>,
    /// A confidential client (client_secret_basic) registered at the authorization server for
    /// the as.* rows that act as one (PKCE downgrade, code-reuse revocation, client vs user
    /// tokens); without it they register one each (dynamic client registration).
    #[arg(
        long,
        value_name = "ID",
        requires = "confidential_client_secret_env",
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub confidential_client_id: Option<String>,
    /// The environment variable holding --confidential-client-id's secret (never an argument).
    #[arg(
        long,
        value_name = "VAR",
        requires = "confidential_client_id",
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub confidential_client_secret_env: Option<String>,
    /// A redirect URI registered for --confidential-client-id, for the rows that run a code
    /// flow as it (http://127.0.0.1/callback lets a login end at the run's listener).
    #[arg(
        long,
        value_name = "URI",
        requires = "confidential_client_id",
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub confidential_redirect_uri: Option<String>,
    /// Also allow real credentials to go to this origin (repeatable).
    #[arg(
        long = "allow-origin",
        value_name = "ORIGIN",
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub allow_origins: Vec<String>,
    /// Allow real credentials over plain HTTP to a host that is not loopback.
    #[arg(
        long,
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub allow_insecure_http: bool,
    /// For as.token.code-expired: wait this long before redeeming a fresh code, the longest
    /// code lifetime the run accepts (660 holds codes to OAuth 2.1's recommended 10 minutes;
    /// at most 3600).
    #[arg(
        long,
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(1..=crate::catalog::MAX_CODE_EXPIRY_WAIT_SECONDS),
        help_heading = "Token source (the target's own authorization server)"
    )]
    pub code_expiry_wait: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClientAuthArg {
    Basic,
    Post,
    PrivateKeyJwt,
    None,
}

/// What the run learned about the target that a source needs (plain data from discovery).
#[derive(Debug, Clone, Default)]
pub struct TargetFacts {
    pub endpoint: String,
    /// The PRM `resource` (else the endpoint).
    pub resource: String,
    /// The scope a token should carry (challenge, else `scopes_supported`).
    pub scope_hint: Option<String>,
    /// The first authorization server the PRM names and its metadata, when found.
    pub authorization_server: Option<AuthorizationServer>,
}

#[derive(Debug, Clone, Default)]
pub struct AuthorizationServer {
    pub issuer: String,
    pub token_endpoint: Option<String>,
    pub device_authorization_endpoint: Option<String>,
    pub authorization_endpoint: Option<String>,
    /// `authorization_response_iss_parameter_supported` (RFC 9207): authorization responses
    /// carry `iss`.
    pub iss_parameter_supported: bool,
    pub jwks_uri: Option<String>,
}

impl SourceArgs {
    /// `--code-expiry-wait` as a duration.
    pub fn code_expiry_wait_duration(&self) -> Option<std::time::Duration> {
        self.code_expiry_wait.map(std::time::Duration::from_secs)
    }

    /// The token exchange rows' client (`--exchange-client-id`, its secret read from
    /// --exchange-client-secret-env now), when given.
    pub fn exchange_client(
        &self,
    ) -> Result<Option<crate::engine::authorization_server::ConfidentialClient>, SourceError> {
        let (Some(client_id), Some(var)) =
            (&self.exchange_client_id, &self.exchange_client_secret_env)
        else {
            return Ok(None);
        };
        let secret = secret_from_env(var, "--exchange-client-secret-env")?;
        Ok(Some(
            crate::engine::authorization_server::ConfidentialClient {
                client_id: client_id.clone(),
                secret: super::auth_code::Secret::new(secret),
                redirect_uri: None,
            },
        ))
    }

    /// The confidential client of the as.* rows that act as one (`--confidential-client-id`,
    /// its secret read from --confidential-client-secret-env now), when given.
    pub fn confidential_client(
        &self,
    ) -> Result<Option<crate::engine::authorization_server::ConfidentialClient>, SourceError> {
        let (Some(client_id), Some(var)) = (
            &self.confidential_client_id,
            &self.confidential_client_secret_env,
        ) else {
            return Ok(None);
        };
        let secret = secret_from_env(var, "--confidential-client-secret-env")?;
        Ok(Some(
            crate::engine::authorization_server::ConfidentialClient {
                client_id: client_id.clone(),
                secret: super::auth_code::Secret::new(secret),
                redirect_uri: self.confidential_redirect_uri.clone(),
            },
        ))
    }

    /// The form driver's login (`--login-user`, its password read from --login-password-env
    /// now), when asked for.
    pub fn form_login(&self) -> Result<Option<super::login_form::FormLogin>, SourceError> {
        let (Some(user), Some(var)) = (&self.login_user, &self.login_password_env) else {
            return Ok(None);
        };
        super::login_form::FormLogin::from_env(
            user.clone(),
            var,
            self.login_user_field.clone(),
            self.login_password_field.clone(),
        )
        .map(Some)
    }

    /// Whether any flag names a token source (the run then meets the target with its own
    /// authorization server instead of hosting a mock IdP).
    pub fn any(&self) -> bool {
        self.primary_count() > 0
    }

    fn primary_count(&self) -> usize {
        [
            self.token_env.is_some(),
            self.token_file.is_some(),
            self.token.is_some(),
            self.token_command.is_some(),
            self.client_credentials,
            self.device_code,
            self.auth_code,
        ]
        .iter()
        .filter(|b| **b)
        .count()
    }

    /// The token source the flags name, resolved against what the target says.
    pub async fn resolve(
        &self,
        target: &TargetFacts,
        scope: Option<&str>,
        dpop_key: &'static SigningKey,
    ) -> Result<IssuedTokens, SourceError> {
        if self.primary_count() > 1 {
            return Err(SourceError(
                "name one token source: --token-env, --token-file, --token, --token-command, \
                 --client-credentials, --device-code or --auth-code"
                    .into(),
            ));
        }
        let mut policy = OriginPolicy::default();
        policy.allow_insecure_http = self.allow_insecure_http;
        policy.allow(&target.endpoint)?;
        for origin in &self.allow_origins {
            policy.allow(origin)?;
        }
        policy.check(&target.endpoint, "real access tokens")?;
        let is_grant = self.client_credentials || self.device_code || self.auth_code;
        if self.dpop && !is_grant {
            return Err(SourceError(
                "--dpop needs a grant (--client-credentials, --device-code or --auth-code): a \
                 given token is bound to someone else's key, if to any"
                    .into(),
            ));
        }
        let primary_secret = match (&self.client_secret_env, &self.client_secret_file) {
            (Some(var), _) if is_grant => Some(secret_from_env(var, "--client-secret-env")?),
            (None, Some(path)) if is_grant => Some(secret_from_file(path)?),
            _ => None,
        };
        let primary = if is_grant {
            Arc::new(Acquire::Grant(self.grant(
                target,
                scope,
                &mut policy,
                self.client_id.as_deref().unwrap_or_default(),
                primary_secret.clone(),
            )?))
        } else {
            Arc::new(self.given_or_command(
                self.token_env.as_deref(),
                self.token_file.as_ref(),
                self.token.as_deref(),
                self.token_command.as_deref(),
            )?)
        };
        let second = if let Some(id) = &self.second_client_id {
            let secret = match (
                &self.second_client_secret_env,
                &self.second_client_secret_file,
            ) {
                (Some(var), _) => Some(secret_from_env(var, "--second-client-secret-env")?),
                (None, Some(path)) => Some(secret_from_file(path)?),
                (None, None) => None,
            };
            Some(Arc::new(Acquire::Grant(self.grant(
                target,
                scope,
                &mut policy,
                id,
                secret,
            )?)))
        } else if self.second_token_env.is_some()
            || self.second_token_file.is_some()
            || self.second_token_command.is_some()
        {
            Some(Arc::new(self.given_or_command(
                self.second_token_env.as_deref(),
                self.second_token_file.as_ref(),
                None,
                self.second_token_command.as_deref(),
            )?))
        } else {
            None
        };
        let other_resource = match &self.other_resource {
            Some(_) if !is_grant => {
                return Err(SourceError(
                    "--other-resource needs a grant (--client-credentials, --device-code or \
                     --auth-code) to ask the authorization server for a token for it"
                        .into(),
                ));
            }
            Some(uri) if uri == &target.resource => {
                return Err(SourceError(format!(
                    "--other-resource {uri} is the target's own resource: name another one"
                )));
            }
            Some(uri) => {
                let for_other = SourceArgs {
                    resource: Some(uri.clone()),
                    ..self.clone()
                };
                let grant = for_other.grant(
                    target,
                    scope,
                    &mut policy,
                    self.client_id.as_deref().unwrap_or_default(),
                    primary_secret.clone(),
                )?;
                Some(OtherResource::new(
                    uri.clone(),
                    TokenSource::new(Arc::new(Acquire::Grant(grant)), None),
                ))
            }
            None => None,
        };
        let published_keys = match target
            .authorization_server
            .as_ref()
            .and_then(|a| a.jwks_uri.as_deref())
        {
            Some(uri) => fetch_jwks(uri).await,
            None => None,
        };
        Ok(IssuedTokens {
            bearer: Some(TokenSource::new(primary.clone(), None)),
            bound: self
                .dpop
                .then(|| TokenSource::new(primary.clone(), Some(dpop_key))),
            second: second.map(|s| TokenSource::new(s, None)),
            other_resource,
            published_keys,
        })
    }

    fn given_or_command(
        &self,
        env: Option<&str>,
        file: Option<&PathBuf>,
        value: Option<&str>,
        command: Option<&str>,
    ) -> Result<Acquire, SourceError> {
        if let Some(var) = env {
            let token = secret_from_env(var, "--token-env")?;
            return Ok(Acquire::Given {
                token,
                origin: GivenFrom::Env(var.to_owned()),
            });
        }
        if let Some(path) = file {
            let token = std::fs::read_to_string(path)
                .map_err(|e| SourceError(format!("--token-file {}: {e}", path.display())))?;
            return Ok(Acquire::Given {
                token: token.trim().to_owned(),
                origin: GivenFrom::File(path.clone()),
            });
        }
        if let Some(token) = value {
            eprintln!(
                "warning: --token puts the token in your shell history and in the process list; \
                 prefer --token-env or --token-file"
            );
            return Ok(Acquire::Given {
                token: token.to_owned(),
                origin: GivenFrom::Argument,
            });
        }
        match command {
            Some(command) => Ok(Acquire::Command(TokenCommand {
                command: command.to_owned(),
            })),
            None => Err(SourceError("no token source was named".into())),
        }
    }

    fn grant(
        &self,
        target: &TargetFacts,
        scope: Option<&str>,
        policy: &mut OriginPolicy,
        client_id: &str,
        secret: Option<String>,
    ) -> Result<Grant, SourceError> {
        let metadata = target.authorization_server.as_ref();
        if let Some(a) = metadata {
            policy.allow(&a.issuer)?;
        }
        let token_endpoint = match (&self.token_endpoint, metadata) {
            (Some(url), _) => {
                // Named by the user: allowed by naming it.
                policy.allow(url)?;
                url.clone()
            }
            (
                None,
                Some(AuthorizationServer {
                    token_endpoint: Some(url),
                    ..
                }),
            ) => url.clone(),
            (None, Some(a)) => {
                return Err(SourceError(format!(
                    "the metadata of {} names no token_endpoint: give --token-endpoint",
                    a.issuer
                )));
            }
            (None, None) => {
                return Err(SourceError(
                    "the target names no authorization server whose metadata could be read \
                     (PRM authorization_servers, RFC 8414 / OpenID discovery): give \
                     --token-endpoint"
                        .into(),
                ));
            }
        };
        let what = if self.auth_code {
            "the authorization code"
        } else {
            "client credentials"
        };
        policy.check(&token_endpoint, what)?;
        let auth = match (self.client_auth, secret) {
            (Some(ClientAuthArg::PrivateKeyJwt), _) => {
                let path = self.client_key.as_ref().ok_or_else(|| {
                    SourceError("--client-auth private-key-jwt needs --client-key FILE".into())
                })?;
                ClientAuth::PrivateKeyJwt(read_client_key(path)?)
            }
            (Some(ClientAuthArg::None), _) | (None, None) => ClientAuth::None,
            (Some(ClientAuthArg::Post), Some(secret)) => ClientAuth::Post(secret),
            (Some(ClientAuthArg::Basic) | None, Some(secret)) => ClientAuth::Basic(secret),
            (Some(ClientAuthArg::Basic | ClientAuthArg::Post), None) => {
                return Err(SourceError(
                    "--client-auth basic/post needs --client-secret-env VAR or \
                     --client-secret-file PATH"
                        .into(),
                ));
            }
        };
        let request = Request {
            token_endpoint,
            client: Client {
                id: client_id.to_owned(),
                auth,
            },
            resource: self
                .resource
                .clone()
                .unwrap_or_else(|| target.resource.clone()),
            scope: scope
                .map(str::to_owned)
                .or_else(|| target.scope_hint.clone())
                .unwrap_or_default(),
        };
        if self.device_code {
            let endpoint = metadata
                .and_then(|a| a.device_authorization_endpoint.clone())
                .ok_or_else(|| {
                    SourceError(
                        "--device-code: the authorization server's metadata names no \
                         device_authorization_endpoint"
                            .into(),
                    )
                })?;
            policy.check(&endpoint, "the device authorization request")?;
            return Ok(Grant::DeviceCode(DeviceCode {
                request,
                device_authorization_endpoint: endpoint,
                approve_command: self.device_approve_command.clone(),
            }));
        }
        if self.auth_code {
            let (endpoint, issuer, iss_required) = match metadata {
                Some(AuthorizationServer {
                    authorization_endpoint: Some(endpoint),
                    issuer,
                    iss_parameter_supported,
                    ..
                }) => (endpoint.clone(), issuer.clone(), *iss_parameter_supported),
                _ => {
                    return Err(SourceError(
                        "--auth-code: the target names no authorization server whose metadata \
                         has an authorization_endpoint (PRM authorization_servers, RFC 8414 / \
                         OpenID discovery)"
                            .into(),
                    ));
                }
            };
            policy.check(&endpoint, "the authorization request (the login)")?;
            return Ok(Grant::AuthCode(Box::new(AuthCode::new(
                request,
                endpoint,
                issuer,
                iss_required,
                Login {
                    command: self.login_command.clone(),
                    form: self.form_login()?,
                    redirect_port: self.redirect_port.unwrap_or(0),
                    timeout: self.login_timeout.map_or(
                        super::auth_code::LOGIN_TIMEOUT,
                        std::time::Duration::from_secs,
                    ),
                },
            ))));
        }
        Ok(Grant::ClientCredentials(ClientCredentials { request }))
    }
}

/// A client secret from a file (trailing newline dropped).
fn secret_from_file(path: &PathBuf) -> Result<String, SourceError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SourceError(format!("client secret file {}: {e}", path.display())))?;
    let secret = text.trim();
    if secret.is_empty() {
        return Err(SourceError(format!(
            "client secret file {}: the file is empty",
            path.display()
        )));
    }
    Ok(secret.to_owned())
}

/// The client's key for `private_key_jwt`, whichever algorithm its PEM fits.
fn read_client_key(path: &PathBuf) -> Result<SigningKey, SourceError> {
    use mock_idp::alg::Algorithm;
    let pem = std::fs::read_to_string(path)
        .map_err(|e| SourceError(format!("--client-key {}: {e}", path.display())))?;
    [
        Algorithm::Rs256,
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::EdDsa,
    ]
    .into_iter()
    .find_map(|alg| SigningKey::from_pem(alg, &pem).ok())
    .ok_or_else(|| {
        SourceError(format!(
            "--client-key {}: not a PKCS#8 PEM private key of RSA, P-256, P-384 or Ed25519",
            path.display()
        ))
    })
}

/// The authorization server's JWKS, for stimuli that confuse a published key with a secret
/// (public data: no credential goes with the request).
async fn fetch_jwks(uri: &str) -> Option<Value> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(15))
        .build()
        .ok()?;
    let response = client.get(uri).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    let bytes = response.bytes().await.ok()?;
    if bytes.len() > 512 * 1024 {
        return None;
    }
    let jwks: Value = serde_json::from_slice(&bytes).ok()?;
    jwks.get("keys")?.as_array()?;
    Some(jwks)
}
