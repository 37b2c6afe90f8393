//! Target discovery as an MCP client does it (spec §1.1, MCP V2+ discovery order): an
//! anonymous request for the challenge and its `resource_metadata`; otherwise the path-inserted
//! then the root well-known PRM URL; then, for each listed authorization server, RFC 8414 path
//! insertion, then OpenID discovery. Every exchange is kept so the discovery checks can grade
//! each step.

use crate::engine::probe::{self, Credential};
use crate::http::{Driver, Exchange, ProbeRequest};
use crate::wire::discovery::{as_metadata_urls, prm_urls};
use crate::wire::metadata::{Document, parse_as_metadata, parse_prm};
use crate::wire::www_authenticate::{self, Challenge};

/// How the PRM was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrmSource {
    /// From `resource_metadata` in the 401 challenge.
    Challenge,
    /// From the path-inserted well-known URL.
    PathInserted,
    /// From the root well-known URL.
    Root,
}

/// One authorization server's metadata, as found.
#[derive(Debug, Clone)]
pub struct AsMetadata {
    pub issuer: String,
    pub url: String,
    pub document: Document,
}

/// Everything discovery learned, with the exchanges that show it.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    pub endpoint: String,
    /// Challenges of the anonymous request (empty when it was not a 401 or had none).
    pub challenges: Vec<Challenge>,
    pub prm_url: Option<String>,
    pub prm_source: Option<PrmSource>,
    pub prm: Option<Document>,
    pub authorization_servers: Vec<AsMetadata>,
    /// Problems met on the way (each also visible in `exchanges`).
    pub notes: Vec<String>,
    pub exchanges: Vec<Exchange>,
}

impl Discovery {
    /// The resource identifier: PRM `resource`, else the endpoint.
    pub fn resource(&self) -> &str {
        self.prm
            .as_ref()
            .and_then(|p| p.str("resource"))
            .unwrap_or(&self.endpoint)
    }

    /// The scope a valid token should carry: the challenge's `scope`, else PRM `scopes_supported`.
    pub fn scope_hint(&self) -> Option<String> {
        self.challenges
            .iter()
            .find_map(|c| c.param("scope").map(str::to_owned))
            .or_else(|| {
                let scopes = self.prm.as_ref()?.strings("scopes_supported");
                (!scopes.is_empty()).then(|| scopes.join(" "))
            })
    }
}

async fn get_json(driver: &Driver, url: &str, out: &mut Discovery) -> Option<Vec<u8>> {
    let exchange = driver
        .send(ProbeRequest::new("GET", url).header("accept", "application/json"))
        .await;
    let body = match &exchange.response {
        Ok(r) if r.status == 200 => Some(r.body.clone()),
        Ok(r) => {
            out.notes.push(format!("GET {url}: HTTP {}", r.status));
            None
        }
        Err(e) => {
            out.notes.push(format!("GET {url}: {e}"));
            None
        }
    };
    out.exchanges.push(exchange);
    body
}

/// Runs discovery against an MCP endpoint.
pub async fn discover(driver: &Driver, endpoint: &str) -> Discovery {
    let mut out = Discovery {
        endpoint: endpoint.to_owned(),
        ..Discovery::default()
    };
    let exchange = driver
        .send(probe::rpc(
            endpoint,
            &Credential::None,
            None,
            &probe::initialize_body(),
        ))
        .await;
    if let Ok(resp) = &exchange.response {
        match www_authenticate::parse_all(resp.header_values("www-authenticate")) {
            Ok(challenges) => out.challenges = challenges,
            Err(e) => out.notes.push(format!("challenge does not parse: {e}")),
        }
    } else if let Err(e) = &exchange.response {
        out.notes.push(format!("anonymous request failed: {e}"));
    }
    out.exchanges.push(exchange);

    let from_header = out
        .challenges
        .iter()
        .find_map(|c| c.param("resource_metadata").map(str::to_owned));
    let mut candidates: Vec<(String, PrmSource)> = Vec::new();
    if let Some(url) = from_header {
        candidates.push((url, PrmSource::Challenge));
    }
    match prm_urls(endpoint) {
        Ok(urls) => {
            let n = urls.len();
            for (i, url) in urls.into_iter().enumerate() {
                let source = if i + 1 == n {
                    PrmSource::Root
                } else {
                    PrmSource::PathInserted
                };
                candidates.push((url, source));
            }
        }
        Err(e) => out.notes.push(e.to_string()),
    }
    for (url, source) in candidates {
        let Some(body) = get_json(driver, &url, &mut out).await else {
            continue;
        };
        // RFC 9728 §3.3: `resource` must equal the URL the client requested (challenge case)
        // or the identifier the suffix was inserted into; both are the endpoint here.
        match parse_prm(&body, endpoint) {
            Ok(doc) => {
                out.prm_url = Some(url);
                out.prm_source = Some(source);
                out.prm = Some(doc);
                break;
            }
            Err(e) => out.notes.push(format!("PRM at {url}: {e}")),
        }
    }

    let issuers: Vec<String> = out
        .prm
        .as_ref()
        .map(|p| {
            p.strings("authorization_servers")
                .into_iter()
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    for issuer in issuers {
        let urls = match as_metadata_urls(&issuer) {
            Ok(urls) => urls,
            Err(e) => {
                out.notes.push(e.to_string());
                continue;
            }
        };
        for url in urls {
            let Some(body) = get_json(driver, &url, &mut out).await else {
                continue;
            };
            match parse_as_metadata(&body, &issuer) {
                Ok(document) => {
                    out.authorization_servers.push(AsMetadata {
                        issuer: issuer.clone(),
                        url,
                        document,
                    });
                    break;
                }
                Err(e) => out.notes.push(format!("AS metadata at {url}: {e}")),
            }
        }
    }
    out
}
