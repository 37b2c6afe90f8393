//! Discovery URLs and identifiers, as an MCP client derives them.
//!
//! - Protected resource metadata (RFC 9728 §3, §3.1; MCP V2+ order): the well-known suffix is
//!   inserted between host and path; a path that is only `/` counts as empty; the query stays;
//!   then the root well-known URL as fallback.
//! - Authorization server metadata (RFC 8414 §3, §3.1; MCP V2+ order): a trailing `/` of the
//!   issuer is removed before insertion; RFC 8414 path insertion, then OpenID Connect with path
//!   insertion, then OpenID Connect appended to the path.
//! - The canonical resource identifier (MCP "Canonical Server URI", RFC 8707 §2).

use url::Url;

pub const PRM_WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";
pub const OAUTH_AS_WELL_KNOWN: &str = "/.well-known/oauth-authorization-server";
pub const OIDC_WELL_KNOWN: &str = "/.well-known/openid-configuration";

/// Why a URL cannot be used as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlProblem {
    #[error("{0:?} is not an absolute URL: {1}")]
    NotAbsolute(String, String),
    #[error("{0:?} has no host")]
    NoHost(String),
    #[error("{0:?} has a fragment, which a resource or issuer identifier must not have")]
    Fragment(String),
}

fn parse_absolute(input: &str) -> Result<Url, UrlProblem> {
    let url =
        Url::parse(input).map_err(|e| UrlProblem::NotAbsolute(input.to_owned(), e.to_string()))?;
    if url.host_str().is_none() {
        return Err(UrlProblem::NoHost(input.to_owned()));
    }
    Ok(url)
}

/// `scheme://host[:port]` of a URL.
fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// The PRM URLs to try for a resource, in MCP V2+ order (spec §3.2 tp-prm-url-build).
pub fn prm_urls(resource: &str) -> Result<Vec<String>, UrlProblem> {
    let url = parse_absolute(resource)?;
    let root = format!("{}{PRM_WELL_KNOWN}", origin(&url));
    let path = url.path();
    let mut urls = Vec::new();
    if !path.is_empty() && path != "/" {
        let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
        urls.push(format!("{root}{path}{query}"));
    }
    urls.push(root);
    Ok(urls)
}

/// The AS metadata URLs to try for an issuer, in MCP V2+ order (spec §3.2 tp-asm-url-build).
pub fn as_metadata_urls(issuer: &str) -> Result<Vec<String>, UrlProblem> {
    let url = parse_absolute(issuer)?;
    let base = origin(&url);
    let path = url.path().trim_end_matches('/');
    Ok(if path.is_empty() {
        vec![
            format!("{base}{OAUTH_AS_WELL_KNOWN}"),
            format!("{base}{OIDC_WELL_KNOWN}"),
        ]
    } else {
        vec![
            format!("{base}{OAUTH_AS_WELL_KNOWN}{path}"),
            format!("{base}{OIDC_WELL_KNOWN}{path}"),
            format!("{base}{path}{OIDC_WELL_KNOWN}"),
        ]
    })
}

/// A canonical resource identifier and what was adjusted to get it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalResource {
    pub value: String,
    pub warnings: Vec<String>,
}

/// Derives `R` from an MCP endpoint URL (spec §3.2 tp-canonical-resource): absolute, no
/// fragment, lower-case scheme and host, no trailing slash (with a warning when one was removed).
pub fn canonical_resource(endpoint: &str) -> Result<CanonicalResource, UrlProblem> {
    let url = parse_absolute(endpoint)?;
    if url.fragment().is_some() {
        return Err(UrlProblem::Fragment(endpoint.to_owned()));
    }
    // `Url` lower-cases scheme and host and drops a default port.
    let mut value = url.to_string();
    let mut warnings = Vec::new();
    if value.ends_with('/') && url.query().is_none() {
        value.pop();
        if url.path() != "/" {
            warnings.push(format!("trailing slash removed from {endpoint:?}"));
        }
    }
    Ok(CanonicalResource { value, warnings })
}

/// Identifier comparison for `issuer`, `iss`, `resource`, `aud`: simple string equality after
/// JSON unescaping, no normalisation of any kind (spec §3.2 tp-identifier-compare).
pub fn same_identifier(a: &str, b: &str) -> bool {
    a == b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prm_urls_follow_rfc9728_insertion() {
        let w = PRM_WELL_KNOWN;
        assert_eq!(
            prm_urls("https://h/mcp").unwrap(),
            [format!("https://h{w}/mcp"), format!("https://h{w}")]
        );
        assert_eq!(prm_urls("https://h").unwrap(), [format!("https://h{w}")]);
        assert_eq!(prm_urls("https://h/").unwrap(), [format!("https://h{w}")]);
        assert_eq!(
            prm_urls("https://h/a/b?t=1").unwrap(),
            [format!("https://h{w}/a/b?t=1"), format!("https://h{w}")]
        );
        assert_eq!(
            prm_urls("https://h/mcp/").unwrap()[0],
            format!("https://h{w}/mcp/")
        );
        assert_eq!(
            prm_urls("http://127.0.0.1:8080/mcp").unwrap()[0],
            format!("http://127.0.0.1:8080{w}/mcp")
        );
    }

    #[test]
    fn as_metadata_urls_follow_the_mcp_order() {
        assert_eq!(
            as_metadata_urls("https://as/tenant1").unwrap(),
            [
                "https://as/.well-known/oauth-authorization-server/tenant1",
                "https://as/.well-known/openid-configuration/tenant1",
                "https://as/tenant1/.well-known/openid-configuration",
            ]
        );
        assert_eq!(
            as_metadata_urls("https://as").unwrap(),
            [
                "https://as/.well-known/oauth-authorization-server",
                "https://as/.well-known/openid-configuration",
            ]
        );
        assert_eq!(
            as_metadata_urls("https://as/tenant1/").unwrap(),
            as_metadata_urls("https://as/tenant1").unwrap()
        );
    }

    #[test]
    fn canonical_resource_cases() {
        assert!(matches!(
            canonical_resource("mcp.example.com"),
            Err(UrlProblem::NotAbsolute(..))
        ));
        assert!(matches!(
            canonical_resource("https://mcp.example.com#f"),
            Err(UrlProblem::Fragment(_))
        ));
        let r = canonical_resource("HTTPS://MCP.example.com/mcp/").unwrap();
        assert_eq!(r.value, "https://mcp.example.com/mcp");
        assert_eq!(r.warnings.len(), 1);
        assert_eq!(
            canonical_resource("https://h:443/mcp").unwrap().value,
            "https://h/mcp"
        );
    }

    #[test]
    fn identifiers_compare_without_normalisation() {
        for other in ["https://as/", "https://AS", "https://as:443", "https://as "] {
            assert!(!same_identifier("https://as", other), "{other}");
        }
        assert!(!same_identifier("https://as/\u{e9}", "https://as/e\u{301}"));
        assert!(same_identifier("https://as", "https://as"));
    }
}
