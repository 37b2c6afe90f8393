//! The PRM's members: `resource`, `authorization_servers` and the servers they name, and the
//! RFC 9728 §3.2 shape of the document.

use serde_json::Value;

use crate::catalog::request_auth::observation;
use crate::catalog::{mcp, rfc};
use crate::check::{Applies, CheckMeta, Need, Outcome};
use crate::engine::context::Context;
use crate::engine::runner::{Check, CheckFuture};
use crate::expect::{Assertion, Part};
use crate::http::RecordedResponse;
use crate::model::Level;
use crate::wire::discovery::same_identifier;
use crate::wire::metadata::{Finding, is_https_or_loopback, parse_prm};

use super::{RFC8414, RFC9728, get_metadata, graded, prm_document, resolve_issuer, status_of};

const RFC8707: &str = "https://www.rfc-editor.org/rfc/rfc8707";

pub const RESOURCE_FORMAT: CheckMeta = CheckMeta {
    id: "rs.prm.resource-format",
    row: "rs-prm-resource-format",
    title: "PRM resource is an https URL without fragment or query",
    summary: "resource is an absolute https URL (plain http tolerated on a loopback host) with no fragment (MUST) and no query (SHOULD).",
    level: Level::Must,
    applies: Applies::Always,
    deadline: None,
    refs: &[
        rfc(
            "RFC 9728",
            "§1.2",
            "a resource identifier is an https URL with no fragment, and preferably no query",
            RFC9728,
        ),
        rfc(
            "RFC 8707",
            "§2",
            "a resource indicator is absolute, has no fragment, and should have no query",
            RFC8707,
        ),
    ],
    needs: &[Need::Anonymous],
    tags: &[],
    broken_by: &["prm-resource-fragment"],
};

pub const AUTHORIZATION_SERVERS: CheckMeta = CheckMeta {
    id: "rs.prm.authorization-servers",
    row: "rs-prm-authorization-servers",
    title: "PRM lists at least one authorization server",
    summary: "authorization_servers is a non-empty array of issuer identifiers: absolute https URLs (plain http tolerated on a loopback host) with no query and no fragment (RFC 8414 §2).",
    level: Level::Must,
    applies: Applies::Always,
    deadline: None,
    refs: &[
        mcp(
            "Authorization Server Location",
            "the PRM includes authorization_servers with at least one authorization server",
        ),
        rfc(
            "RFC 8414",
            "§2",
            "an issuer identifier is an https URL with no query or fragment",
            RFC8414,
        ),
    ],
    needs: &[Need::Anonymous],
    tags: &[],
    broken_by: &["prm-no-authorization-servers"],
};

pub const AS_RESOLVES: CheckMeta = CheckMeta {
    id: "rs.prm.as-resolves",
    row: "rs-prm-as-resolves",
    title: "Every listed authorization server resolves to metadata with that issuer",
    summary: "For each authorization_servers entry, the AS metadata URLs are tried in the MCP order (RFC 8414 path insertion, OpenID Connect path insertion, OpenID Connect appended); the first 200 is a JSON object whose issuer equals the entry byte for byte. Clients must reject a mismatch, so one makes the server unusable.",
    level: Level::Must,
    applies: Applies::Always,
    deadline: None,
    refs: &[
        mcp(
            "Authorization Server Metadata Discovery",
            "clients try the RFC 8414 and OpenID Connect well-known URLs in order",
        ),
        rfc(
            "RFC 8414",
            "§3.3",
            "the issuer in the metadata is identical to the issuer the URL was built from",
            RFC8414,
        ),
    ],
    needs: &[Need::Anonymous],
    tags: &[],
    broken_by: &["prm-issuer-mismatch"],
};

pub const SHAPE: CheckMeta = CheckMeta {
    id: "rs.prm.shape",
    row: "rs-prm-shape",
    title: "Serves PRM as a JSON object without empty members",
    summary: "The PRM answers 200 with Content-Type application/json and a JSON object; members with zero values are omitted (no [] except bearer_methods_supported, to which RFC 9728 §2 gives a meaning); the registered array members are arrays of strings; member names are unique (SHOULD). Unknown members are allowed.",
    level: Level::Must,
    applies: Applies::Always,
    deadline: None,
    refs: &[
        rfc(
            "RFC 9728",
            "§3.2",
            "a 200 application/json object; parameters with zero values are omitted",
            RFC9728,
        ),
        rfc(
            "RFC 9728",
            "§2",
            "the registered members and their JSON types",
            RFC9728,
        ),
    ],
    needs: &[Need::Anonymous],
    tags: &[],
    broken_by: &["prm-empty-array"],
};

/// The rules for one URL member: absolute, https (loopback http tolerated), no fragment, and
/// the query at `query_level` (None: not judged).
pub(crate) fn url_rules(what: &str, value: &str, query_level: Option<Level>) -> Vec<Assertion> {
    let parsed = url::Url::parse(value);
    let mut rules = vec![
        observation(
            Part::Status,
            Level::Must,
            format!("{what} is an absolute URL"),
            parsed.as_ref().is_ok_and(|u| u.has_host()),
            format!("{value:?}"),
        ),
        observation(
            Part::Status,
            Level::Must,
            format!("{what} is https (plain http only on a loopback host)"),
            is_https_or_loopback(value),
            format!("{value:?}"),
        ),
        observation(
            Part::Status,
            Level::Must,
            format!("{what} has no fragment"),
            parsed.as_ref().is_ok_and(|u| u.fragment().is_none()) && !value.contains('#'),
            format!("{value:?}"),
        ),
    ];
    if let Some(level) = query_level {
        rules.push(observation(
            Part::Status,
            level,
            format!("{what} has no query"),
            parsed.as_ref().is_ok_and(|u| u.query().is_none()),
            format!("{value:?}"),
        ));
    }
    rules
}

fn resource_format(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let (prm, exchange) = match prm_document(ctx).await {
            Ok(found) => found,
            Err(outcome) => return outcome,
        };
        let assertions = match prm.object.get("resource") {
            Some(Value::String(resource)) => url_rules("resource", resource, Some(Level::Should)),
            other => vec![observation(
                Part::Status,
                Level::Must,
                "resource is present, as a string",
                false,
                format!("{other:?}"),
            )],
        };
        graded(
            Level::Must,
            assertions,
            vec![exchange],
            format!(
                "resource {:?} is an https (or loopback http) URL without fragment or query",
                prm.str("resource").unwrap_or_default()
            ),
        )
    })
}

fn authorization_servers(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let (prm, exchange) = match prm_document(ctx).await {
            Ok(found) => found,
            Err(outcome) => return outcome,
        };
        let member = prm.object.get("authorization_servers");
        let entries: Option<Vec<&str>> = member
            .and_then(Value::as_array)
            .and_then(|a| a.iter().map(Value::as_str).collect());
        let mut assertions = vec![observation(
            Part::Status,
            Level::Must,
            "authorization_servers is a non-empty JSON array of strings",
            entries.as_ref().is_some_and(|e| !e.is_empty()),
            match member {
                None => "absent".to_owned(),
                Some(v) => v.to_string(),
            },
        )];
        for entry in entries.iter().flatten() {
            assertions.extend(url_rules(
                &format!("issuer {entry:?}"),
                entry,
                Some(Level::Must),
            ));
        }
        graded(
            Level::Must,
            assertions,
            vec![exchange],
            format!("authorization_servers: {:?}", entries.unwrap_or_default()),
        )
    })
}

fn as_resolves(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let (prm, exchange) = match prm_document(ctx).await {
            Ok(found) => found,
            Err(outcome) => return outcome,
        };
        let issuers: Vec<String> = prm
            .strings("authorization_servers")
            .into_iter()
            .map(str::to_owned)
            .collect();
        if issuers.is_empty() {
            return Outcome::error(
                "the PRM lists no authorization server to resolve (see rs.prm.authorization-servers)",
                vec![exchange],
            );
        }
        let mut evidence = vec![exchange];
        let mut assertions = Vec::new();
        for issuer in &issuers {
            let (found, tried) = resolve_issuer(ctx, issuer).await;
            let attempts = tried
                .iter()
                .map(|e| format!("{} → {}", e.request.url, status_of(e)))
                .collect::<Vec<_>>()
                .join("; ");
            evidence.extend(tried);
            let Some(found) = found else {
                assertions.push(observation(
                    Part::Status,
                    Level::Must,
                    format!("{issuer:?} resolves: one of its metadata URLs answers 200"),
                    false,
                    attempts,
                ));
                continue;
            };
            let body = found
                .response
                .as_ref()
                .map(|r| r.body.clone())
                .unwrap_or_default();
            let found_issuer = mock_idp::json::JsonObject::parse(&body)
                .ok()
                .and_then(|o| o.get_str("issuer").map(str::to_owned));
            assertions.push(observation(
                Part::Status,
                Level::Must,
                format!("the first metadata that answers for {issuer:?} has issuer == {issuer:?}"),
                found_issuer
                    .as_deref()
                    .is_some_and(|i| same_identifier(i, issuer)),
                format!(
                    "{} has issuer {}",
                    found.request.url,
                    found_issuer.map_or("absent (or no JSON object)".to_owned(), |i| format!(
                        "{i:?}"
                    ))
                ),
            ));
            evidence.push(found);
        }
        graded(
            Level::Must,
            assertions,
            evidence,
            format!("every listed issuer resolves to its own metadata: {issuers:?}"),
        )
    })
}

/// Whether a Content-Type names application/json (parameters such as charset allowed).
fn is_json_media_type(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|ct| {
        ct.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
    })
}

/// The RFC 9728 §3.2 shape of one PRM response.
fn shape_rules(resp: &RecordedResponse, expected_resource: &str) -> Vec<Assertion> {
    let mut rules = vec![
        observation(
            Part::Status,
            Level::Must,
            "status is 200",
            resp.status == 200,
            format!("HTTP {}", resp.status),
        ),
        observation(
            Part::Status,
            Level::Must,
            "Content-Type is application/json",
            is_json_media_type(resp.header("content-type")),
            format!("{:?}", resp.header("content-type")),
        ),
    ];
    let document = parse_prm(&resp.body, expected_resource);
    rules.push(observation(
        Part::Status,
        Level::Must,
        "the body is a JSON object",
        document.is_ok(),
        document
            .as_ref()
            .err()
            .map(ToString::to_string)
            .unwrap_or_default(),
    ));
    let Ok(document) = document else {
        return rules;
    };
    let empty: Vec<&str> = document
        .findings
        .iter()
        .filter_map(|f| match f {
            // RFC 9728 §2: an empty bearer_methods_supported means "no bearer method".
            Finding::EmptyArray(m) if m != "bearer_methods_supported" => Some(m.as_str()),
            _ => None,
        })
        .collect();
    rules.push(observation(
        Part::Status,
        Level::Must,
        "no member is an empty array (zero values are omitted), except bearer_methods_supported",
        empty.is_empty(),
        format!("empty: {empty:?}"),
    ));
    let wrong: Vec<String> = document
        .findings
        .iter()
        .filter_map(|f| match f {
            Finding::WrongType { member, expected } => Some(format!("{member} is not {expected}")),
            _ => None,
        })
        .collect();
    rules.push(observation(
        Part::Status,
        Level::Must,
        "registered members have their RFC 9728 §2 JSON types",
        wrong.is_empty(),
        wrong.join("; "),
    ));
    let duplicates: Vec<&str> = document
        .findings
        .iter()
        .filter_map(|f| match f {
            Finding::Duplicate(m) => Some(m.as_str()),
            _ => None,
        })
        .collect();
    rules.push(observation(
        Part::Status,
        Level::Should,
        "member names are unique (RFC 8259 §4)",
        duplicates.is_empty(),
        format!("repeated: {duplicates:?}"),
    ));
    rules
}

fn shape(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let Some(url) = &ctx.discovery.prm_url else {
            return Outcome::error(
                "discovery found no protected resource metadata to inspect (see rs.prm.wellknown)",
                ctx.discovery.exchanges.clone(),
            );
        };
        let exchange = ctx.driver.send(get_metadata(url)).await;
        let assertions = match &exchange.response {
            Ok(r) => shape_rules(r, &ctx.endpoint),
            Err(e) => {
                return Outcome::error(format!("no usable response: {e}"), vec![exchange]);
            }
        };
        graded(
            Level::Must,
            assertions,
            vec![exchange],
            format!("{url} is a JSON object without empty members"),
        )
    })
}

pub(super) fn checks() -> Vec<Check<Context>> {
    vec![
        Check::new(RESOURCE_FORMAT, resource_format),
        Check::new(AUTHORIZATION_SERVERS, authorization_servers),
        Check::new(AS_RESOLVES, as_resolves),
        Check::new(SHAPE, shape),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broken(rules: Vec<Assertion>) -> Vec<(Level, String)> {
        rules
            .into_iter()
            .filter(|a| !a.holds)
            .map(|a| (a.level, a.requirement))
            .collect()
    }

    #[test]
    fn url_rules_grade_scheme_fragment_and_query() {
        assert!(broken(url_rules("r", "https://mcp.test/mcp", Some(Level::Should))).is_empty());
        assert!(
            broken(url_rules(
                "r",
                "http://127.0.0.1:8080/mcp",
                Some(Level::Must)
            ))
            .is_empty()
        );
        let plain = broken(url_rules("r", "http://mcp.test/mcp", None));
        assert_eq!(plain.len(), 1);
        assert!(plain[0].1.contains("https"));
        let fragment = broken(url_rules("r", "https://mcp.test/mcp#f", None));
        assert!(fragment[0].1.contains("fragment"));
        let query = broken(url_rules(
            "r",
            "https://mcp.test/mcp?t=1",
            Some(Level::Should),
        ));
        assert_eq!(query, [(Level::Should, "r has no query".to_owned())]);
        assert!(broken(url_rules("r", "mcp.test", None)).len() >= 2);
    }

    fn prm_response(content_type: &str, body: &str) -> RecordedResponse {
        RecordedResponse {
            status: 200,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.as_bytes().to_vec(),
            truncated: false,
            body_incomplete: None,
        }
    }

    #[test]
    fn shape_allows_only_an_empty_bearer_methods_list() {
        let good = r#"{"resource":"https://h/mcp","authorization_servers":["https://as"],"bearer_methods_supported":[],"x-extension":1}"#;
        let rules = shape_rules(
            &prm_response("application/json; charset=utf-8", good),
            "https://h/mcp",
        );
        assert!(broken(rules).is_empty());
        let empty = r#"{"resource":"https://h/mcp","authorization_servers":["https://as"],"scopes_supported":[]}"#;
        let rules = broken(shape_rules(
            &prm_response("application/json", empty),
            "https://h/mcp",
        ));
        assert_eq!(rules.len(), 1);
        assert!(rules[0].1.contains("empty array"));
        let html = broken(shape_rules(
            &prm_response("text/html", "<html>"),
            "https://h/mcp",
        ));
        assert_eq!(html.len(), 2, "{html:?}");
    }
}
