//! Clients: the pre-registered ones (documented constants below, present at every issuer),
//! redirect-URI matching (exact, plus any port for loopback, RFC 8252 §7.3) and the
//! redirect-URI rules dynamic registration enforces.

use serde_json::{Map, Value};

/// A confidential client: `client_secret_basic` or `client_secret_post`; grants
/// `authorization_code`, `refresh_token`, `client_credentials`, device code, token exchange
/// (of no resource's tokens: it stands for none); JWT access tokens.
pub const CONFIDENTIAL_CLIENT_ID: &str = "authspec-confidential";
pub const CONFIDENTIAL_CLIENT_SECRET: &str = "authspec-confidential-secret";
/// Its redirect URIs (two, so a request without `redirect_uri` is ambiguous).
pub const CONFIDENTIAL_REDIRECT_URIS: [&str; 2] = ["https://client.test/cb", "http://127.0.0.1/cb"];

/// A public client (`token_endpoint_auth_method: none`) with loopback redirect URIs (any
/// port accepted); grants `authorization_code`, `refresh_token` and device code.
pub const PUBLIC_CLIENT_ID: &str = "authspec-public";
pub const PUBLIC_REDIRECT_URIS: [&str; 3] = [
    "http://127.0.0.1/callback",
    "http://[::1]/callback",
    "http://localhost/callback",
];

/// A resource server's client: no grants, may call the introspection endpoint.
pub const RESOURCE_SERVER_CLIENT_ID: &str = "authspec-resource-server";
pub const RESOURCE_SERVER_CLIENT_SECRET: &str = "authspec-resource-server-secret";

/// A confidential client whose access tokens are opaque (resolved by introspection); grants
/// `authorization_code`, `refresh_token`, `client_credentials`, device code.
pub const OPAQUE_CLIENT_ID: &str = "authspec-opaque";
pub const OPAQUE_CLIENT_SECRET: &str = "authspec-opaque-secret";
pub const OPAQUE_REDIRECT_URI: &str = "http://127.0.0.1/cb";

/// The device authorization grant (RFC 8628 §3.4).
pub const DEVICE_CODE_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Grant types the server implements.
pub(crate) const GRANT_TYPES: [&str; 5] = [
    "authorization_code",
    "refresh_token",
    "client_credentials",
    DEVICE_CODE_GRANT_TYPE,
    super::exchange::TOKEN_EXCHANGE_GRANT_TYPE,
];

/// `token_endpoint_auth_method` (RFC 7591 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthMethod {
    None,
    ClientSecretBasic,
    ClientSecretPost,
}

impl ClientAuthMethod {
    pub const ALL: [ClientAuthMethod; 3] = [
        ClientAuthMethod::ClientSecretBasic,
        ClientAuthMethod::ClientSecretPost,
        ClientAuthMethod::None,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ClientAuthMethod::None => "none",
            ClientAuthMethod::ClientSecretBasic => "client_secret_basic",
            ClientAuthMethod::ClientSecretPost => "client_secret_post",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// What the token endpoint hands out as access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenFormat {
    /// An RFC 9068 JWT signed with the issuer's key.
    #[default]
    Jwt,
    /// A random handle, resolved through the introspection endpoint.
    Opaque,
}

/// A registered client.
#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    /// `None` for public clients.
    pub client_secret: Option<String>,
    pub auth_method: ClientAuthMethod,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    /// Space-separated scopes the client may obtain; `None` means every supported scope.
    pub scope: Option<String>,
    pub token_format: TokenFormat,
    /// RFC 9449 §5.2: every token request must carry a DPoP proof.
    pub dpop_bound_access_tokens: bool,
    /// May call the introspection endpoint (confidential clients only).
    pub may_introspect: bool,
    /// The resources (RFC 8707 identifiers) this client stands for: a resource server's own
    /// client, which may exchange the tokens issued for them (RFC 8693, see `exchange`).
    pub resources: Vec<String>,
    /// The registration response (RFC 7591 §3.2.1), for dynamically registered clients.
    pub metadata: Map<String, Value>,
}

impl Client {
    /// A confidential client with every grant and JWT access tokens.
    pub fn confidential(client_id: &str, secret: &str, redirect_uris: &[&str]) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: Some(secret.into()),
            auth_method: ClientAuthMethod::ClientSecretBasic,
            redirect_uris: redirect_uris.iter().map(|s| s.to_string()).collect(),
            grant_types: GRANT_TYPES.map(String::from).to_vec(),
            scope: None,
            token_format: TokenFormat::Jwt,
            dpop_bound_access_tokens: false,
            may_introspect: true,
            resources: Vec::new(),
            metadata: Map::new(),
        }
    }

    /// A public client (`none`) with the code, refresh and device code grants.
    pub fn public(client_id: &str, redirect_uris: &[&str]) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: None,
            auth_method: ClientAuthMethod::None,
            redirect_uris: redirect_uris.iter().map(|s| s.to_string()).collect(),
            grant_types: [
                "authorization_code",
                "refresh_token",
                DEVICE_CODE_GRANT_TYPE,
            ]
            .map(String::from)
            .to_vec(),
            scope: None,
            token_format: TokenFormat::Jwt,
            dpop_bound_access_tokens: false,
            may_introspect: false,
            resources: Vec::new(),
            metadata: Map::new(),
        }
    }

    /// The clients every issuer starts with.
    pub fn preregistered() -> Vec<Client> {
        let rs = Client {
            grant_types: Vec::new(),
            redirect_uris: Vec::new(),
            ..Client::confidential(
                RESOURCE_SERVER_CLIENT_ID,
                RESOURCE_SERVER_CLIENT_SECRET,
                &[],
            )
        };
        let opaque = Client {
            token_format: TokenFormat::Opaque,
            ..Client::confidential(
                OPAQUE_CLIENT_ID,
                OPAQUE_CLIENT_SECRET,
                &[OPAQUE_REDIRECT_URI],
            )
        };
        vec![
            Client::confidential(
                CONFIDENTIAL_CLIENT_ID,
                CONFIDENTIAL_CLIENT_SECRET,
                &CONFIDENTIAL_REDIRECT_URIS,
            ),
            Client::public(PUBLIC_CLIENT_ID, &PUBLIC_REDIRECT_URIS),
            rs,
            opaque,
        ]
    }

    pub fn is_public(&self) -> bool {
        self.client_secret.is_none()
    }

    pub fn allows_grant(&self, grant_type: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant_type)
    }

    /// True if `requested` is one of the registered redirect URIs, compared as strings; a
    /// registered loopback `http` URI matches the same URI with any port (RFC 8252 §7.3).
    pub fn redirect_uri_matches(&self, requested: &str) -> bool {
        self.redirect_uris.iter().any(|registered| {
            registered == requested
                || matches!(
                    (loopback_parts(registered), loopback_parts(requested)),
                    (Some((h1, r1)), Some((h2, r2))) if h1 == h2 && r1 == r2
                )
        })
    }

    /// Whether `scope` (space-separated) is within what the client may obtain.
    pub(crate) fn allows_scopes<'a>(&self, mut scopes: impl Iterator<Item = &'a str>) -> bool {
        match &self.scope {
            None => true,
            Some(allowed) => scopes.all(|s| allowed.split(' ').any(|a| a == s)),
        }
    }
}

/// Hosts a loopback redirect URI may name.
const LOOPBACK_HOSTS: [&str; 3] = ["127.0.0.1", "[::1]", "localhost"];

/// For `http://<loopback host>[:port]<rest>`: the host and the rest (path, query, fragment),
/// read from the raw string so no normalisation hides a difference.
fn loopback_parts(uri: &str) -> Option<(&str, &str)> {
    let after = uri.strip_prefix("http://")?;
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    let (host, port) = if authority.starts_with('[') {
        let close = authority.find(']')?;
        (&authority[..=close], &authority[close + 1..])
    } else {
        match authority.find(':') {
            Some(i) => (&authority[..i], &authority[i..]),
            None => (authority, ""),
        }
    };
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    (LOOPBACK_HOSTS.contains(&host) && port_ok).then_some((host, rest))
}

/// Registration rules for a redirect URI: absolute, no fragment, no userinfo, and `https`
/// or loopback `http` (MCP "Communication Security"; RFC 7591 §2; RFC 8252 §7.3).
pub(crate) fn check_redirect_uri(uri: &str) -> Result<(), String> {
    if uri.contains('#') {
        return Err(format!("redirect URI {uri} has a fragment"));
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("redirect URI contains whitespace or control characters".into());
    }
    let url = url::Url::parse(uri).map_err(|_| format!("redirect URI {uri} is not absolute"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("redirect URI {uri} carries user information"));
    }
    match url.scheme() {
        "https" if url.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
        "http" if loopback_parts(uri).is_some() => Ok(()),
        "http" => Err(format!(
            "redirect URI {uri} uses http on a non-loopback host"
        )),
        other => Err(format!("redirect URI scheme {other} is not allowed")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_matching_with_loopback_ports() {
        let c = Client::confidential("c", "s", &["https://client.test/cb", "http://127.0.0.1/cb"]);
        assert!(c.redirect_uri_matches("https://client.test/cb"));
        assert!(c.redirect_uri_matches("http://127.0.0.1:53117/cb"));
        assert!(c.redirect_uri_matches("http://127.0.0.1/cb"));
        for bad in [
            "https://client.test/cb/",
            "https://client.test/cb/x",
            "https://client.test/cb?x=1",
            "https://client.test/CB",
            "https://CLIENT.test/cb",
            "http://client.test/cb",
            "https://client.test:8443/cb",
            "https://evil.client.test/cb",
            "https://client.test.evil/cb",
            "https://user@client.test/cb",
            "https://client.test/cb#f",
            "https://client.test/%63b",
            "http://127.0.0.1:53117/cb/",
            "http://localhost:53117/cb",
            "http://127.0.0.1:x/cb",
            "http://user@127.0.0.1/cb",
            "http://127.0.0.1:123456/cb",
        ] {
            assert!(!c.redirect_uri_matches(bad), "{bad}");
        }
        let p = Client::public("p", &PUBLIC_REDIRECT_URIS);
        assert!(p.redirect_uri_matches("http://[::1]:8080/callback"));
        assert!(p.redirect_uri_matches("http://localhost:9/callback"));
    }

    #[test]
    fn registration_redirect_rules() {
        for ok in [
            "https://c.test/cb",
            "http://127.0.0.1:53117/cb",
            "http://localhost/cb",
            "http://[::1]/cb",
        ] {
            assert_eq!(check_redirect_uri(ok), Ok(()), "{ok}");
        }
        for bad in [
            "http://client.test/cb",
            "https://c.test/cb#f",
            "/cb",
            "javascript:alert(1)",
            "data:text/html,x",
            "https://u:p@c.test/cb",
            "http://127.0.0.1.evil.test/cb",
            "",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
    }
}
