//! Authorization server metadata (RFC 8414 §2), served at the path-inserted RFC 8414 URL and at
//! both OpenID discovery URLs. `issuer` is exactly the issuer identifier; no member is an
//! empty array (RFC 8414 §3.2).

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::AsFault;
use super::clients::{ClientAuthMethod, GRANT_TYPES};
use super::device::DEVICE_AUTHORIZATION_PATH;
use super::state::{Issuer, IssuerCtx, Shared};
use crate::dpop::ValidatorConfig;

/// DPoP proof algorithms the token endpoint accepts (asymmetric only).
pub(crate) fn dpop_algs(config: &ValidatorConfig) -> Vec<&'static str> {
    config
        .allowed_algs
        .iter()
        .filter(|a| !a.is_symmetric())
        .map(|a| a.name())
        .collect()
}

/// The metadata document of one issuer.
pub(crate) fn document(shared: &Shared, issuer: &Issuer) -> Value {
    // Every algorithm the issuer signs with: the configured one first, then the rest of its
    // ring (tokens for a resource that accepts another algorithm are signed with that one).
    // Validators that take their allow-list from this member (Auth0's express library does)
    // would otherwise refuse all but the first.
    let mut signing = vec![shared.config.signing_alg.name()];
    for key in issuer.ring.keys() {
        let name = key.alg().name();
        if !signing.contains(&name) {
            signing.push(name);
        }
    }
    let secret_methods = [
        ClientAuthMethod::ClientSecretBasic.name(),
        ClientAuthMethod::ClientSecretPost.name(),
    ];
    let mut doc = json!({
        "issuer": issuer.id,
        "authorization_endpoint": issuer.endpoint("authorize"),
        "token_endpoint": issuer.endpoint("token"),
        "jwks_uri": issuer.endpoint("jwks"),
        "registration_endpoint": issuer.endpoint("register"),
        "introspection_endpoint": issuer.endpoint("introspect"),
        "device_authorization_endpoint": issuer.endpoint(DEVICE_AUTHORIZATION_PATH),
        "pushed_authorization_request_endpoint": issuer.endpoint(super::par::PAR_PATH),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": GRANT_TYPES,
        "token_endpoint_auth_methods_supported":
            ClientAuthMethod::ALL.map(ClientAuthMethod::name),
        "introspection_endpoint_auth_methods_supported": secret_methods,
        "code_challenge_methods_supported": ["S256"],
        "dpop_signing_alg_values_supported": dpop_algs(shared.dpop.config()),
        "authorization_response_iss_parameter_supported": true,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": signing,
    });
    if !shared.config.scopes_supported.is_empty() {
        doc["scopes_supported"] = json!(shared.config.scopes_supported);
    }
    // Spec §2.7 (as-meta-cimd-flag): URL client ids are fetched as client ID metadata documents.
    if !shared.config.faults.contains(&AsFault::CimdUnsupported) {
        doc["client_id_metadata_document_supported"] = json!(true);
    }
    if !shared.config.protected_resources.is_empty() {
        doc["protected_resources"] = json!(shared.config.protected_resources);
    }
    let doc = with_faults(shared, doc);
    with_signed_metadata(shared, issuer, doc)
}

/// The resource [`AsFault::ProtectedResourcesWithoutResource`] lists instead of the real ones
/// (`.invalid` never names a host, RFC 6761 §6.4).
const OTHER_PROTECTED_RESOURCE: &str = "https://other.mcp-authspec.invalid/mcp";

/// The issuer [`AsFault::SignedMetadataWrongIssuer`] names in `signed_metadata`.
const OTHER_ATTESTER: &str = "https://attester.mcp-authspec.invalid";

/// `doc` with `signed_metadata` (RFC 8414 §2.1): its members as the claims of a JWS signed with
/// the issuer's access-token key (published in its JWKS), `iss` the issuer itself.
fn with_signed_metadata(shared: &Shared, issuer: &Issuer, mut doc: Value) -> Value {
    let Value::Object(members) = &doc else {
        return doc;
    };
    let faults = &shared.config.faults;
    let attester = if faults.contains(&AsFault::SignedMetadataWrongIssuer) {
        OTHER_ATTESTER
    } else {
        issuer.id.as_str()
    };
    let mut spec = crate::token::TokenSpec::new();
    for (name, value) in members {
        spec = spec.claim(name, value.clone());
    }
    let spec = spec.claim("iss", attester).claim("iat", shared.now());
    let key = issuer.signing_key(shared.config.signing_alg);
    let signed = if faults.contains(&AsFault::SignedMetadataUnsigned) {
        spec.alg("none").without_header("kid").unsigned(key)
    } else {
        spec.mint(key)
    };
    doc["signed_metadata"] = json!(signed);
    doc
}

/// `url`'s path on the bind address over plain http (a host that is not loopback), as the
/// plain-http faults advertise it.
pub(crate) fn bind_address(shared: &Shared, url: &str) -> String {
    let path = url::Url::parse(url)
        .map(|u| u.path().to_owned())
        .unwrap_or_default();
    let port = url::Url::parse(&shared.base_url)
        .ok()
        .and_then(|u| u.port())
        .unwrap_or(80);
    format!("http://0.0.0.0:{port}{path}")
}

/// The compliant document broken as the configured fault profiles say.
fn with_faults(shared: &Shared, mut doc: Value) -> Value {
    let bind_address = |url: &str| bind_address(shared, url);
    for fault in &shared.config.faults {
        let Value::Object(map) = &mut doc else {
            break;
        };
        match fault {
            AsFault::IssuerTrailingSlash | AsFault::IssuerFragment => {
                let suffix = if *fault == AsFault::IssuerFragment {
                    "#tenant"
                } else {
                    "/"
                };
                if let Some(Value::String(issuer)) = map.get_mut("issuer") {
                    issuer.push_str(suffix);
                }
            }
            AsFault::MetadataNoResponseTypes => {
                map.remove("response_types_supported");
            }
            AsFault::NoPkceAdvertised => {
                map.remove("code_challenge_methods_supported");
            }
            AsFault::PkcePlainOnly => {
                map.insert("code_challenge_methods_supported".into(), json!(["plain"]));
            }
            AsFault::MetadataEmptyArray => {
                map.insert("ui_locales_supported".into(), json!([]));
            }
            AsFault::AuthSigningAlgNone => {
                map.insert(
                    "token_endpoint_auth_signing_alg_values_supported".into(),
                    json!(["ES256", "none"]),
                );
            }
            AsFault::RegistrationPlainHttp | AsFault::TokenEndpointPlainHttp => {
                let member = if *fault == AsFault::RegistrationPlainHttp {
                    "registration_endpoint"
                } else {
                    "token_endpoint"
                };
                if let Some(Value::String(url)) = map.get_mut(member) {
                    *url = bind_address(url);
                }
            }
            AsFault::ProtectedResourcesWithoutResource => {
                map.insert(
                    "protected_resources".into(),
                    json!([OTHER_PROTECTED_RESOURCE]),
                );
            }
            AsFault::DpopAlgsSymmetric => {
                if let Some(Value::Array(algs)) = map.get_mut("dpop_signing_alg_values_supported") {
                    algs.push(json!("HS256"));
                }
            }
            // Served elsewhere (router, JWKS, OpenID documents, the endpoints).
            _ => {}
        }
    }
    doc
}

/// `GET` of an RFC 8414 metadata URL.
pub(crate) async fn serve(State(ctx): State<IssuerCtx>) -> Response {
    answer(document(&ctx.shared, ctx.issuer()))
}

/// `GET` of an OpenID configuration URL: the same document, unless a fault makes it differ.
pub(crate) async fn serve_openid(State(ctx): State<IssuerCtx>) -> Response {
    let mut doc = document(&ctx.shared, ctx.issuer());
    if ctx
        .shared
        .config
        .faults
        .contains(&AsFault::OidcDocumentDiffers)
        && let Some(Value::String(url)) = doc.get_mut("token_endpoint")
    {
        url.push_str("-openid");
    }
    answer(doc)
}

fn answer(doc: Value) -> Response {
    let mut resp = (StatusCode::OK, axum::Json(doc)).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    resp
}

/// The metadata URLs of an issuer, in MCP discovery order (spec §3.2 tp-asm-url-build):
/// RFC 8414 path-inserted, OpenID path-inserted, OpenID appended. For an issuer without a path
/// the last two coincide and are given once.
pub(crate) fn metadata_urls(issuer: &str) -> Vec<String> {
    let Ok(url) = url::Url::parse(issuer) else {
        return Vec::new();
    };
    let origin = url.origin().ascii_serialization();
    let path = url.path().trim_end_matches('/');
    let mut urls = vec![
        format!("{origin}/.well-known/oauth-authorization-server{path}"),
        format!("{origin}/.well-known/openid-configuration{path}"),
    ];
    let appended = format!("{origin}{path}/.well-known/openid-configuration");
    if !urls.contains(&appended) {
        urls.push(appended);
    }
    urls
}

#[cfg(test)]
mod tests {
    use super::*;

    // Spec §3.2 tp-asm-url-build.
    #[test]
    fn metadata_url_forms() {
        assert_eq!(
            metadata_urls("https://as/tenant1"),
            [
                "https://as/.well-known/oauth-authorization-server/tenant1",
                "https://as/.well-known/openid-configuration/tenant1",
                "https://as/tenant1/.well-known/openid-configuration",
            ]
        );
        assert_eq!(
            metadata_urls("https://as"),
            [
                "https://as/.well-known/oauth-authorization-server",
                "https://as/.well-known/openid-configuration",
            ]
        );
        assert_eq!(
            metadata_urls("https://as/tenant1/"),
            metadata_urls("https://as/tenant1")
        );
        assert_eq!(
            metadata_urls("http://127.0.0.1:8080/a/b")[0],
            "http://127.0.0.1:8080/.well-known/oauth-authorization-server/a/b"
        );
    }

    #[test]
    fn dpop_algs_are_asymmetric() {
        let algs = dpop_algs(&ValidatorConfig::default());
        assert!(algs.contains(&"ES256"));
        assert!(!algs.iter().any(|a| a.starts_with("HS") || *a == "none"));
    }
}
