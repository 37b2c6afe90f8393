//! Protected resource metadata (RFC 9728) and authorization server metadata (RFC 8414, OIDC
//! Discovery) parsing with structured findings (spec §3.2 tp-prm-validate, tp-asm-validate).
//!
//! Parsing keeps duplicate members visible (a finding, not a silent last-wins) and ignores
//! unknown members. Findings are facts; the checks decide their severity.

use mock_idp::json::{JsonError, JsonObject};
use serde_json::Value;

/// A fact about a metadata document that a check may grade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A required member is absent.
    Missing(&'static str),
    /// A member has the wrong JSON type.
    WrongType {
        member: String,
        expected: &'static str,
    },
    /// A member is an empty array (RFC 8414 §3.2, RFC 9728 §3.2: omit instead).
    EmptyArray(String),
    /// A member name occurs twice.
    Duplicate(String),
    /// The identifier differs from the one the document was fetched for (RFC 9728 §3.3,
    /// RFC 8414 §3.3): no normalisation applied.
    IdentifierMismatch { expected: String, found: String },
    /// A URL member is not an absolute https URL (loopback http allowed and reported apart).
    NotHttps { member: String, value: String },
    /// `none` listed as a signing algorithm.
    NoneAlgorithm(String),
    /// A symmetric algorithm listed where only asymmetric ones are allowed (DPoP).
    SymmetricAlgorithm { member: String, alg: String },
    /// `code_challenge_methods_supported` is absent or lacks `S256`.
    NoS256,
}

/// Why bytes are not a metadata document at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("metadata is not a JSON object: {0}")]
    NotJsonObject(#[from] JsonError),
}

/// A parsed metadata document: the raw object plus findings.
#[derive(Debug, Clone)]
pub struct Document {
    pub object: JsonObject,
    pub findings: Vec<Finding>,
}

impl Document {
    pub fn str(&self, member: &str) -> Option<&str> {
        self.object.get_str(member)
    }

    /// The strings of an array member (non-strings skipped; they are reported as findings).
    pub fn strings(&self, member: &str) -> Vec<&str> {
        self.object
            .get(member)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    pub fn bool(&self, member: &str) -> Option<bool> {
        self.object.get(member).and_then(Value::as_bool)
    }

    pub fn has(&self, finding: &Finding) -> bool {
        self.findings.contains(finding)
    }
}

const PRM_ARRAYS: &[&str] = &[
    "authorization_servers",
    "scopes_supported",
    "bearer_methods_supported",
    "resource_signing_alg_values_supported",
    "authorization_details_types_supported",
    "dpop_signing_alg_values_supported",
];
const PRM_URLS: &[&str] = &[
    "resource",
    "jwks_uri",
    "resource_documentation",
    "resource_policy_uri",
    "resource_tos_uri",
];
const AS_ARRAYS: &[&str] = &[
    "scopes_supported",
    "response_types_supported",
    "response_modes_supported",
    "grant_types_supported",
    "token_endpoint_auth_methods_supported",
    "token_endpoint_auth_signing_alg_values_supported",
    "code_challenge_methods_supported",
    "dpop_signing_alg_values_supported",
    "introspection_endpoint_auth_methods_supported",
    "revocation_endpoint_auth_methods_supported",
    "protected_resources",
];
const AS_URLS: &[&str] = &[
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "registration_endpoint",
    "introspection_endpoint",
    "revocation_endpoint",
];

/// Parses protected resource metadata fetched for `expected_resource`.
pub fn parse_prm(bytes: &[u8], expected_resource: &str) -> Result<Document, MetadataError> {
    let object = JsonObject::parse(bytes)?;
    let mut findings = common_findings(&object, PRM_ARRAYS, PRM_URLS);
    match object.get("resource") {
        None => findings.push(Finding::Missing("resource")),
        Some(Value::String(r)) if r != expected_resource => {
            findings.push(Finding::IdentifierMismatch {
                expected: expected_resource.to_owned(),
                found: r.clone(),
            })
        }
        _ => {}
    }
    if !object.contains("authorization_servers") {
        findings.push(Finding::Missing("authorization_servers"));
    }
    check_dpop_algs(&object, &mut findings);
    Ok(Document { object, findings })
}

/// Parses authorization server metadata fetched for `expected_issuer`.
pub fn parse_as_metadata(bytes: &[u8], expected_issuer: &str) -> Result<Document, MetadataError> {
    let object = JsonObject::parse(bytes)?;
    let mut findings = common_findings(&object, AS_ARRAYS, AS_URLS);
    for required in [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "response_types_supported",
    ] {
        if !object.contains(required) {
            findings.push(Finding::Missing(required));
        }
    }
    if let Some(Value::String(iss)) = object.get("issuer")
        && iss != expected_issuer
    {
        findings.push(Finding::IdentifierMismatch {
            expected: expected_issuer.to_owned(),
            found: iss.clone(),
        });
    }
    let s256 = object
        .get("code_challenge_methods_supported")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|m| m == "S256"));
    if !s256 {
        findings.push(Finding::NoS256);
    }
    for member in [
        "token_endpoint_auth_signing_alg_values_supported",
        "introspection_endpoint_auth_signing_alg_values_supported",
        "revocation_endpoint_auth_signing_alg_values_supported",
    ] {
        if let Some(Value::Array(algs)) = object.get(member)
            && algs.iter().any(|a| a == "none")
        {
            findings.push(Finding::NoneAlgorithm(member.to_owned()));
        }
    }
    check_dpop_algs(&object, &mut findings);
    Ok(Document { object, findings })
}

fn common_findings(object: &JsonObject, arrays: &[&str], urls: &[&str]) -> Vec<Finding> {
    let mut findings: Vec<Finding> = object
        .duplicates()
        .iter()
        .map(|d| Finding::Duplicate(d.clone()))
        .collect();
    for &member in arrays {
        match object.get(member) {
            None => {}
            Some(Value::Array(a)) if a.is_empty() => {
                findings.push(Finding::EmptyArray(member.to_owned()))
            }
            Some(Value::Array(a)) if a.iter().all(Value::is_string) => {}
            Some(_) => findings.push(Finding::WrongType {
                member: member.to_owned(),
                expected: "array of strings",
            }),
        }
    }
    for &member in urls {
        match object.get(member) {
            None => {}
            Some(Value::String(u)) if !is_https_or_loopback(u) => {
                findings.push(Finding::NotHttps {
                    member: member.to_owned(),
                    value: u.clone(),
                })
            }
            Some(Value::String(_)) => {}
            Some(_) => findings.push(Finding::WrongType {
                member: member.to_owned(),
                expected: "string",
            }),
        }
    }
    findings
}

fn check_dpop_algs(object: &JsonObject, findings: &mut Vec<Finding>) {
    let member = "dpop_signing_alg_values_supported";
    if let Some(Value::Array(algs)) = object.get(member) {
        for alg in algs.iter().filter_map(Value::as_str) {
            if alg.eq_ignore_ascii_case("none") {
                findings.push(Finding::NoneAlgorithm(member.to_owned()));
            } else if alg.starts_with("HS") {
                findings.push(Finding::SymmetricAlgorithm {
                    member: member.to_owned(),
                    alg: alg.to_owned(),
                });
            }
        }
    }
}

/// `https`, or `http` on a loopback host (test deployments).
pub fn is_https_or_loopback(value: &str) -> bool {
    let Ok(url) = url::Url::parse(value) else {
        return false;
    };
    match url.scheme() {
        "https" => true,
        "http" => match url.host() {
            Some(url::Host::Domain(d)) => d == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_prm_has_no_findings() {
        let doc = parse_prm(
            br#"{"resource":"https://mcp.test/mcp","authorization_servers":["https://as.test"],"scopes_supported":["mcp"],"x-unknown":1}"#,
            "https://mcp.test/mcp",
        )
        .unwrap();
        assert_eq!(doc.findings, []);
        assert_eq!(doc.strings("authorization_servers"), ["https://as.test"]);
    }

    #[test]
    fn prm_findings() {
        let doc = parse_prm(
            br#"{"resource":"https://mcp.test/mcp/","scopes_supported":[],"jwks_uri":"http://evil.test/j","resource":"https://mcp.test/mcp/","dpop_signing_alg_values_supported":["ES256","HS256","none"]}"#,
            "https://mcp.test/mcp",
        )
        .unwrap();
        for f in [
            Finding::Duplicate("resource".into()),
            Finding::EmptyArray("scopes_supported".into()),
            Finding::Missing("authorization_servers"),
            Finding::IdentifierMismatch {
                expected: "https://mcp.test/mcp".into(),
                found: "https://mcp.test/mcp/".into(),
            },
            Finding::NotHttps {
                member: "jwks_uri".into(),
                value: "http://evil.test/j".into(),
            },
            Finding::SymmetricAlgorithm {
                member: "dpop_signing_alg_values_supported".into(),
                alg: "HS256".into(),
            },
            Finding::NoneAlgorithm("dpop_signing_alg_values_supported".into()),
        ] {
            assert!(doc.has(&f), "{f:?} in {:?}", doc.findings);
        }
        assert!(parse_prm(b"[]", "x").is_err());
    }

    #[test]
    fn as_metadata_findings() {
        let good = br#"{"issuer":"https://as.test/t1","authorization_endpoint":"https://as.test/a","token_endpoint":"https://as.test/t","response_types_supported":["code"],"code_challenge_methods_supported":["S256"]}"#;
        assert_eq!(
            parse_as_metadata(good, "https://as.test/t1")
                .unwrap()
                .findings,
            []
        );
        let doc = parse_as_metadata(
            br#"{"issuer":"https://as.test/t1/","token_endpoint":"https://as.test/t","code_challenge_methods_supported":["plain"],"token_endpoint_auth_signing_alg_values_supported":["none"]}"#,
            "https://as.test/t1",
        )
        .unwrap();
        for f in [
            Finding::Missing("authorization_endpoint"),
            Finding::Missing("response_types_supported"),
            Finding::NoS256,
            Finding::NoneAlgorithm("token_endpoint_auth_signing_alg_values_supported".into()),
        ] {
            assert!(doc.has(&f), "{f:?}");
        }
        assert!(
            doc.findings
                .iter()
                .any(|f| matches!(f, Finding::IdentifierMismatch { .. }))
        );
    }

    #[test]
    fn loopback_http_is_tolerated() {
        assert!(is_https_or_loopback("http://127.0.0.1:8080/x"));
        assert!(is_https_or_loopback("http://[::1]/x"));
        assert!(is_https_or_loopback("http://localhost/x"));
        assert!(!is_https_or_loopback("http://127.example/x"));
        assert!(!is_https_or_loopback("ftp://h/x"));
    }
}
