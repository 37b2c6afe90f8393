//! `signed_metadata` (RFC 9728 §2.2): a signed JWS naming its issuer, and that its signature
//! verifies with that issuer's keys.

use serde_json::Value;

use crate::catalog::request_auth::observation;
use crate::catalog::rfc;
use crate::check::{Applies, CheckMeta, Need, Outcome};
use crate::engine::context::Context;
use crate::engine::runner::{Check, CheckFuture};
use crate::expect::Part;
use crate::http::Exchange;
use crate::model::{Level, Verdict};
use crate::wire::metadata::Document;

use super::{RFC9728, get_metadata, graded, prm_document, resolve_issuer};

pub const SIGNED_METADATA: CheckMeta = CheckMeta {
    id: "rs.prm.signed-metadata",
    row: "rs-prm-signed-metadata",
    title: "PRM signed_metadata is a signed JWS naming its issuer",
    summary: "When the PRM carries signed_metadata (RFC 9728 §2.2, optional: Skip without it), it \
              is a compact JWS [MUST] whose alg is not none [MUST] and whose claims are a JSON \
              object with an iss string [MUST]. Plain members whose value differs from the signed \
              claim are recorded (INFO): the signed values take precedence (§3.3). \
              rs.prm.signed-metadata-signature checks the signature itself.",
    level: Level::Must,
    applies: Applies::Always,
    deadline: None,
    refs: &[rfc(
        "RFC 9728",
        "§2.2",
        "signed_metadata is a JWT, digitally signed or MACed, with an iss claim",
        RFC9728,
    )],
    needs: &[Need::Anonymous],
    tags: &["alg none"],
    broken_by: &["prm-signed-metadata-unsigned"],
};

pub const SIGNED_METADATA_SIGNATURE: CheckMeta = CheckMeta {
    id: "rs.prm.signed-metadata-signature",
    row: "rs-prm-signed-metadata",
    title: "PRM signed_metadata verifies with its issuer's keys",
    summary: "When the PRM carries signed_metadata (Skip without it), its iss is resolved like an \
              authorization server (RFC 8414, then OpenID Connect discovery), and the signature \
              verifies under its alg with a key of that issuer's JWKS (the one its kid names). \
              A client treats a bad signature as an error (SHOULD), so metadata that does not \
              verify is metadata clients discard.",
    level: Level::Should,
    applies: Applies::Always,
    deadline: None,
    refs: &[
        rfc(
            "RFC 9728",
            "§2.2",
            "the signed metadata is signed by the party its iss names",
            RFC9728,
        ),
        rfc(
            "RFC 9728",
            "§3.3",
            "signed metadata is validated; a bad signature is an error",
            RFC9728,
        ),
    ],
    needs: &[Need::Anonymous],
    tags: &[],
    broken_by: &["prm-signed-metadata-bad-signature"],
};

/// Whether a check applies only to targets whose PRM carries `signed_metadata` (Skip on
/// others, such as the default demo).
pub fn needs_signed_metadata(id: &str) -> bool {
    [SIGNED_METADATA.id, SIGNED_METADATA_SIGNATURE.id].contains(&id)
}

/// Claims of signed metadata that describe the JWT, not the resource.
const JWT_CLAIMS: &[&str] = &["iss", "iat", "exp", "nbf", "jti", "sub", "aud"];

/// The PRM and its `signed_metadata` string; `Err` is the outcome when there is nothing to
/// judge (no PRM: Error; no member: Skip).
async fn signed_metadata_of(
    ctx: &Context,
) -> Result<(Document, Exchange, Option<String>), Outcome> {
    let (prm, exchange) = prm_document(ctx).await?;
    let value = match prm.object.get("signed_metadata") {
        None => {
            return Err(Outcome::new(
                Verdict::Skip,
                "the PRM carries no signed_metadata (optional, RFC 9728 §2.2)",
            ));
        }
        Some(value) => value.as_str().map(str::to_owned),
    };
    Ok((prm, exchange, value))
}

fn signed_metadata(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let (prm, exchange, value) = match signed_metadata_of(ctx).await {
            Ok(found) => found,
            Err(outcome) => return outcome,
        };
        let jws = value.as_deref().map(mock_idp::jws::Jws::parse);
        let mut assertions = vec![
            observation(
                Part::Status,
                Level::Must,
                "signed_metadata is a string",
                value.is_some(),
                "another JSON type",
            ),
            observation(
                Part::Status,
                Level::Must,
                "signed_metadata is a compact JWS",
                matches!(jws, Some(Ok(_))),
                match &jws {
                    Some(Err(e)) => e.to_string(),
                    _ => "not a string".into(),
                },
            ),
        ];
        let Some(Ok(jws)) = jws else {
            return graded(Level::Must, assertions, vec![exchange], "");
        };
        let alg = jws.alg().unwrap_or_default();
        assertions.push(observation(
            Part::Status,
            Level::Must,
            "its alg is present and not none",
            !alg.is_empty() && !alg.eq_ignore_ascii_case("none"),
            format!("alg {alg:?}"),
        ));
        let claims = jws.claims();
        let iss = claims
            .as_ref()
            .ok()
            .and_then(|c| c.get_str("iss").map(str::to_owned));
        assertions.push(observation(
            Part::Status,
            Level::Must,
            "its claims are a JSON object with an iss string",
            iss.is_some(),
            match &claims {
                Ok(_) => "no iss string".to_owned(),
                Err(e) => e.to_string(),
            },
        ));
        let mut conflicts = Vec::new();
        if let Ok(claims) = &claims {
            for (name, signed) in claims.members() {
                if JWT_CLAIMS.contains(&name.as_str()) {
                    continue;
                }
                if let Some(plain) = prm.object.get(name)
                    && plain != signed
                {
                    conflicts.push(format!("{name}: plain {plain}, signed {signed}"));
                }
            }
        }
        assertions.push(observation(
            Part::Status,
            Level::Info,
            "plain members agree with the signed claims (the signed values take precedence)",
            conflicts.is_empty(),
            conflicts.join("; "),
        ));
        graded(
            Level::Must,
            assertions,
            vec![exchange],
            format!(
                "signed_metadata is a JWS (alg {alg}) attested by {}",
                iss.unwrap_or_default()
            ),
        )
    })
}

/// The keys of `issuer`'s JWKS, found through its metadata; the exchanges either way.
async fn issuer_keys(
    ctx: &Context,
    issuer: &str,
) -> (Result<Vec<mock_idp::jwk::Jwk>, String>, Vec<Exchange>) {
    let (found, mut evidence) = resolve_issuer(ctx, issuer).await;
    let Some(found) = found else {
        return (Err(format!("no metadata of {issuer:?} answered")), evidence);
    };
    let jwks_uri = found
        .response
        .as_ref()
        .ok()
        .and_then(|r| mock_idp::json::JsonObject::parse(&r.body).ok())
        .filter(|doc| doc.get_str("issuer") == Some(issuer))
        .and_then(|doc| doc.get_str("jwks_uri").map(str::to_owned));
    evidence.push(found);
    let Some(jwks_uri) = jwks_uri else {
        return (
            Err(format!(
                "the metadata of {issuer:?} names no jwks_uri (or another issuer)"
            )),
            evidence,
        );
    };
    let fetched = ctx.driver.send(get_metadata(&jwks_uri)).await;
    let keys = match &fetched.response {
        Ok(r) if r.status == 200 => serde_json::from_slice::<Value>(&r.body)
            .map_err(|e| e.to_string())
            .and_then(|v| mock_idp::jwk::JwkSet::from_json(&v).map_err(|e| e.to_string()))
            .map(|set| set.keys),
        Ok(r) => Err(format!("{jwks_uri} answered HTTP {}", r.status)),
        Err(e) => Err(format!("{jwks_uri}: {e}")),
    };
    evidence.push(fetched);
    (keys, evidence)
}

/// Whether `jws` verifies under its alg with one of `keys` (the one its kid names, if any).
fn verifies_with(jws: &mock_idp::jws::Jws, keys: &[mock_idp::jwk::Jwk]) -> Result<(), String> {
    let alg = jws.alg().unwrap_or_default();
    let Some(algorithm) = mock_idp::alg::Algorithm::from_name(alg) else {
        return Err(format!("alg {alg:?} is no signature algorithm"));
    };
    let named: Vec<_> = keys
        .iter()
        .filter(|k| jws.kid().is_none_or(|kid| k.kid.as_deref() == Some(kid)))
        .filter_map(|k| mock_idp::keys::VerifyingKey::from_jwk(&k.to_public()).ok())
        .collect();
    if named.is_empty() {
        return Err(format!(
            "the issuer's JWKS has no usable key with kid {:?}",
            jws.kid()
        ));
    }
    named
        .iter()
        .any(|k| {
            k.verify(algorithm, jws.signing_input(), jws.signature(), false)
                .is_ok()
        })
        .then_some(())
        .ok_or_else(|| format!("the {alg} signature verifies with none of the issuer's keys"))
}

fn signed_metadata_signature(ctx: &Context) -> CheckFuture<'_> {
    Box::pin(async move {
        let (_, exchange, value) = match signed_metadata_of(ctx).await {
            Ok(found) => found,
            Err(outcome) => return outcome,
        };
        let mut evidence = vec![exchange];
        let parsed = value
            .as_deref()
            .ok_or_else(|| "signed_metadata is not a string".to_owned())
            .and_then(|v| mock_idp::jws::Jws::parse(v).map_err(|e| e.to_string()));
        let verdict = match parsed {
            Err(why) => Err(why),
            Ok(jws) => match jws
                .claims()
                .ok()
                .and_then(|c| c.get_str("iss").map(str::to_owned))
            {
                None => Err("it has no iss, so no issuer's keys to verify it with".to_owned()),
                Some(iss) => {
                    let (keys, exchanges) = issuer_keys(ctx, &iss).await;
                    evidence.extend(exchanges);
                    keys.and_then(|keys| verifies_with(&jws, &keys))
                        .map(|()| iss)
                }
            },
        };
        let assertions = vec![observation(
            Part::Status,
            Level::Should,
            "signed_metadata verifies with a key of the issuer its iss names",
            verdict.is_ok(),
            verdict.as_ref().err().cloned().unwrap_or_default(),
        )];
        graded(
            Level::Should,
            assertions,
            evidence,
            format!(
                "signed_metadata verifies with the keys of {}",
                verdict.unwrap_or_default()
            ),
        )
    })
}

pub(super) fn checks() -> Vec<Check<Context>> {
    vec![
        Check::new(SIGNED_METADATA, signed_metadata),
        Check::new(SIGNED_METADATA_SIGNATURE, signed_metadata_signature),
    ]
}
