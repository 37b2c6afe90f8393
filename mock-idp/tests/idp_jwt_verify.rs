//! Tokens of the running IdP verify with the independent `jsonwebtoken` crate against the
//! JWKS fetched over HTTP; rogue and other-tenant tokens do not pass as trusted ones.

mod idp_support;

use idp_support::{http, post_form, start};
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
use mock_idp::alg::Algorithm;
use mock_idp::server::{CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET, IssuerKind, MockIdp};
use serde_json::Value;

const AUD: &str = "https://mcp.test/mcp";

async fn fetch_jwks(idp: &MockIdp, kind: IssuerKind) -> jsonwebtoken::jwk::JwkSet {
    let url = idp.urls(kind).jwks_uri;
    http().get(url).send().await.unwrap().json().await.unwrap()
}

fn their_alg(alg: Algorithm) -> jsonwebtoken::Algorithm {
    match alg {
        Algorithm::Es256 => jsonwebtoken::Algorithm::ES256,
        Algorithm::Es384 => jsonwebtoken::Algorithm::ES384,
        Algorithm::Rs256 => jsonwebtoken::Algorithm::RS256,
        Algorithm::Ps256 => jsonwebtoken::Algorithm::PS256,
        Algorithm::EdDsa => jsonwebtoken::Algorithm::EdDSA,
        other => panic!("no asymmetric mapping for {other}"),
    }
}

/// Verifies like a careful resource server would: key by `kid` from the JWKS, algorithm
/// from the JWK, `aud` and `iss` pinned, `typ` checked by hand.
fn verify(
    token: &str,
    jwks: &jsonwebtoken::jwk::JwkSet,
    iss: &str,
    aud: &str,
) -> Result<Value, String> {
    let header = decode_header(token).map_err(|e| e.to_string())?;
    if header.typ.as_deref() != Some("at+jwt") {
        return Err(format!("typ is {:?}", header.typ));
    }
    let kid = header.kid.ok_or("no kid")?;
    let jwk = jwks
        .find(&kid)
        .ok_or_else(|| format!("kid {kid} not in JWKS"))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[aud]);
    validation.set_issuer(&[iss]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    decode::<Value>(token, &key, &validation)
        .map(|d| d.claims)
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn minted_tokens_verify_against_the_served_jwks() {
    let idp = start().await;
    let jwks = fetch_jwks(&idp, IssuerKind::Trusted).await;
    assert_eq!(
        jwks.keys.len(),
        idp.key_ring(IssuerKind::Trusted).keys().len()
    );

    let v = idp.mint(&idp.valid_token_spec(AUD, "mcp:read"));
    let claims = verify(&v, &jwks, idp.issuer(), AUD).expect("V verifies");
    assert_eq!(claims["sub"], "test-user");
    assert_eq!(claims["client_id"], CONFIDENTIAL_CLIENT_ID);
    assert_eq!(claims["scope"], "mcp:read");
    for c in ["iat", "exp", "jti"] {
        assert!(claims.get(c).is_some(), "{c}");
    }

    // Every key of the ring is published and usable.
    for key in idp.key_ring(IssuerKind::Trusted).keys() {
        let token = idp.valid_token_spec(AUD, "mcp:read").mint(key);
        verify(&token, &jwks, idp.issuer(), AUD).unwrap_or_else(|e| panic!("{}: {e}", key.alg()));
        let _ = their_alg(key.alg());
    }

    // Wrong audience and wrong issuer are refused by the independent verifier.
    assert!(verify(&v, &jwks, idp.issuer(), "https://other.test/mcp").is_err());
    assert!(verify(&v, &jwks, "https://evil.test", AUD).is_err());
    idp.shutdown().await;
}

#[tokio::test]
async fn issued_tokens_verify_against_the_served_jwks() {
    let idp = start().await;
    let jwks = fetch_jwks(&idp, IssuerKind::Trusted).await;
    let (status, body) = post_form(
        &http(),
        &idp.token_endpoint(),
        Some((CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET)),
        &[
            ("grant_type", "client_credentials"),
            ("resource", AUD),
            ("scope", "mcp:read mcp:write"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap();
    let claims = verify(token, &jwks, idp.issuer(), AUD).expect("issued token verifies");
    assert_eq!(claims["scope"], "mcp:read mcp:write");
    assert_eq!(claims["client_id"], CONFIDENTIAL_CLIENT_ID);
    let header = decode_header(token).unwrap();
    assert_eq!(header.kid.as_deref(), Some("trusted-es256"));
    idp.shutdown().await;
}

#[tokio::test]
async fn rogue_and_other_tenant_tokens() {
    let idp = start().await;
    let trusted = fetch_jwks(&idp, IssuerKind::Trusted).await;
    let rogue = fetch_jwks(&idp, IssuerKind::Rogue).await;
    let other = fetch_jwks(&idp, IssuerKind::OtherTenant).await;

    // Ix: own keys, published at its own jwks_uri, unknown to the trusted JWKS.
    let rogue_token = idp.mint_rogue(&idp.token_spec_for(IssuerKind::Rogue, AUD, "mcp:read"));
    verify(&rogue_token, &rogue, idp.issuer_of(IssuerKind::Rogue), AUD).expect("Ix verifies");
    let err = verify(&rogue_token, &trusted, idp.issuer(), AUD).unwrap_err();
    assert!(err.contains("not in JWKS"), "{err}");
    // Even claiming the trusted iss, the rogue key is not trusted.
    let forged = idp.mint_rogue(&idp.valid_token_spec(AUD, "mcp:read"));
    assert!(verify(&forged, &trusted, idp.issuer(), AUD).is_err());

    // Other tenant: same keys as the trusted issuer, different iss.
    let other_token = idp.mint_as(
        IssuerKind::OtherTenant,
        &idp.token_spec_for(IssuerKind::OtherTenant, AUD, "mcp:read"),
    );
    let other_iss = idp.issuer_of(IssuerKind::OtherTenant);
    assert_ne!(other_iss, idp.issuer());
    verify(&other_token, &other, other_iss, AUD).expect("other tenant verifies at home");
    verify(&other_token, &trusted, other_iss, AUD)
        .expect("signature verifies with the trusted JWKS: the keys are shared");
    let err = verify(&other_token, &trusted, idp.issuer(), AUD).unwrap_err();
    assert!(err.contains("Issuer") || err.contains("iss"), "{err}");
    idp.shutdown().await;
}
