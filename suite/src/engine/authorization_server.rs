//! The context of the `as.*` checks (design.md "Role"): the authorization server under test,
//! named by the target's PRM or by `--as`, and what one anonymous read of its discovery
//! documents found. Every metadata URL form is fetched once, at setup, whether or not an
//! earlier form answered, because the checks grade each form (spec §2.1: path insertion,
//! documents that disagree); each check carries the exchanges it grades as its evidence.

use crate::check::{CheckMeta, Outcome};
use crate::engine::runner::Applicability;
use crate::http::{Driver, Exchange, ProbeRequest};
use crate::model::{Profile, SpecVersion};
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
        }
    }
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
    fn precluded(&self, _meta: &CheckMeta) -> Option<Outcome> {
        None
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
