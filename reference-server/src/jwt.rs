//! JWT access-token validation (RFC 9068 §4, RFC 8725), with each fault's one deviation.
//!
//! Order: parse (strict base64url, no duplicate header members) → `typ` → signature (alg
//! allow-list, `crit`, key from the issuer's JWKS only) → claims (types, times, `iss`, `aud`,
//! required claims, scope). Header-supplied keys (`jwk`, `jku`, `x5u`, `x5c`) are never used,
//! and ECDSA signatures must be low-S (spec rs-ecdsa-high-s: the refusal is the safer answer).

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;

use mock_idp::alg::{Algorithm, EcCurve, KeyFamily};
use mock_idp::b64;
use mock_idp::ecdsa::RangeError;
use mock_idp::forge::HmacHash;
use mock_idp::json::JsonObject;
use mock_idp::jwk::Jwk;
use mock_idp::jws::{Jws, ParseOptions};
use mock_idp::keys::{SigningKey, VerifyingKey};
use serde_json::{Map, Value};

use crate::credentials::{AuthFailure, Principal};
use crate::fault::Fault;
use crate::jwks;
use crate::server::Shared;

/// Header parameters registered by RFC 7515/7516/7518/7519; `crit` must not list them.
const REGISTERED_HEADER_PARAMS: &[&str] = &[
    "alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit", "enc",
    "zip", "epk", "apu", "apv", "iv", "tag", "p2s", "p2c",
];

/// A `kid` longer than this crashes the `error-500-on-long-kid` fault's key lookup.
const LONG_KID: usize = 64;

/// Why an expired token is refused (the `process-before-exp-check` fault looks for it).
pub const TOKEN_EXPIRED: &str = "token expired";

/// Tolerated expiry for the `leeway-huge` fault.
const HUGE_LEEWAY: i64 = 86_400;

type Validation<'a> = Pin<Box<dyn Future<Output = Result<Principal, AuthFailure>> + Send + 'a>>;

/// Validates a JWT access token.
pub fn validate<'a>(shared: &'a Shared, token: &'a str) -> Validation<'a> {
    Box::pin(validate_at_depth(shared, token, 0))
}

async fn validate_at_depth(
    shared: &Shared,
    token: &str,
    depth: u8,
) -> Result<Principal, AuthFailure> {
    let owned;
    let token = if shared.has(Fault::LenientBase64) {
        owned = canonical_base64(token);
        owned.as_str()
    } else {
        token
    };
    let jws = match Jws::parse_with(token, &ParseOptions::strict()) {
        Ok(j) => j,
        Err(_) if shared.has(Fault::Error500OnGarbage) => return Err(AuthFailure::Crash),
        Err(e) => return Err(AuthFailure::invalid(format!("malformed token: {e}"))),
    };
    let header = jws.header();
    if shared.has(Fault::Error500OnLongKid) && jws.kid().is_some_and(|k| k.len() > LONG_KID) {
        return Err(AuthFailure::Crash);
    }
    if shared.has(Fault::NestedInnerOnly)
        && depth == 0
        && header
            .get_str("cty")
            .is_some_and(|c| c.eq_ignore_ascii_case("JWT"))
    {
        let inner = String::from_utf8(jws.payload().to_vec())
            .map_err(|_| AuthFailure::invalid("nested token is not text"))?;
        return Box::pin(validate_at_depth(shared, inner.trim(), depth + 1)).await;
    }
    check_typ(shared, header)?;
    verify_signature(shared, &jws).await?;
    let claims = if shared.has(Fault::AcceptDuplicateClaims) {
        jws.claims_lenient().map(first_wins)
    } else {
        jws.claims()
    }
    .map_err(|e| AuthFailure::invalid(format!("claims: {e}")))?;
    // Fault `error-500-on-null-claim`: a typed decoding of the verified claims that crashes on
    // a JSON null (only validly signed tokens get here, so only the claims fuzzer finds it).
    if shared.has(Fault::Error500OnNullClaim) && claims.members().iter().any(|(_, v)| v.is_null()) {
        return Err(AuthFailure::Crash);
    }
    let mut principal = check_claims(shared, &claims)?;
    principal.token = Some(token.to_owned());
    Ok(principal)
}

/// Decodes each segment leniently and re-encodes it canonically (the `lenient-base64` fault:
/// what a verifier that normalises before checking the signature does).
fn canonical_base64(token: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return token.to_owned();
    }
    let decoded: Option<Vec<Vec<u8>>> = parts.iter().map(|p| b64::decode_lenient(p).ok()).collect();
    match decoded {
        Some(d) => d.iter().map(b64::encode).collect::<Vec<_>>().join("."),
        None => token.to_owned(),
    }
}

/// The first value of every member name (the `accept-duplicate-claims` fault).
fn first_wins(obj: JsonObject) -> JsonObject {
    let mut map = Map::new();
    for (k, v) in obj.members() {
        if !map.contains_key(k) {
            map.insert(k.clone(), v.clone());
        }
    }
    JsonObject::from_map(map)
}

fn check_typ(shared: &Shared, header: &JsonObject) -> Result<(), AuthFailure> {
    if shared.has(Fault::IgnoreTyp) || shared.has(Fault::AcceptIdToken) {
        return Ok(());
    }
    let typ = match header.get("typ") {
        None => None,
        Some(Value::String(t)) => Some(t.as_str()),
        Some(_) => return Err(AuthFailure::invalid("typ is not a string")),
    };
    let at_jwt = |t: &str| {
        if shared.has(Fault::TypExact) {
            t == "at+jwt"
        } else {
            t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
        }
    };
    let ok = if shared.config.rfc9068_profile {
        typ.is_some_and(at_jwt)
    } else {
        // Without the profile: plain JWTs pass, other explicitly typed JWTs (ID tokens, DPoP
        // proofs, logout tokens) are still refused (RFC 8725 §3.11).
        typ.is_none_or(|t| at_jwt(t) || t.eq_ignore_ascii_case("JWT"))
    };
    if ok {
        Ok(())
    } else {
        Err(AuthFailure::invalid("typ must be at+jwt"))
    }
}

fn check_crit(shared: &Shared, header: &JsonObject) -> Result<(), String> {
    let Some(crit) = header.get("crit") else {
        return Ok(());
    };
    if shared.has(Fault::IgnoreCrit) {
        return Ok(());
    }
    let lax = shared.has(Fault::LaxCrit);
    let malformed = |why: String| if lax { Ok(()) } else { Err(why) };
    let Some(names) = crit.as_array() else {
        return malformed("crit is not an array".into());
    };
    if names.is_empty() {
        malformed("crit is empty".into())?;
    }
    for name in names {
        let Some(name) = name.as_str() else {
            malformed("crit has a non-string member".into())?;
            continue;
        };
        if REGISTERED_HEADER_PARAMS.contains(&name) {
            malformed(format!("crit lists registered parameter {name:?}"))?;
        } else if !header.contains(name) {
            malformed(format!("crit lists absent parameter {name:?}"))?;
        } else if !shared.has(Fault::AcceptCritUnknown) {
            // This server understands no JWS extension.
            return Err(format!("crit extension {name:?} is not understood"));
        }
    }
    Ok(())
}

/// Verifies with keys chosen like `mock_idp::jws::Verifier`: the key named by `kid` (when
/// present), which must fit `alg` (one key, one algorithm: RFC 8725 §3.1), and whose JWK
/// `alg`, when it has one, is `alg`. The §1.5 faults loosen exactly one of these rules.
fn verify_with(
    shared: &Shared,
    keys: &[VerifyingKey],
    alg: Algorithm,
    jws: &Jws,
) -> Result<(), String> {
    let usable_with = |k: &VerifyingKey, alg: Algorithm| {
        let pinned_alg_ok = k.jwk().alg.as_deref().is_none_or(|a| a == alg.name())
            || (shared.has(Fault::RsaAnyPadding) && alg.key_family() == KeyFamily::Rsa);
        k.fits(alg) && pinned_alg_ok
    };
    // (key, the algorithm it is verified under)
    let candidates: Vec<(&VerifyingKey, Algorithm)> = match jws.header().get("kid") {
        Some(kid) => {
            let kid = kid.as_str().unwrap_or_default();
            let named: Vec<_> = keys.iter().filter(|k| k.kid() == Some(kid)).collect();
            if named.is_empty() {
                return Err(format!("no key with kid {kid:?}"));
            }
            let fitting: Vec<_> = named
                .iter()
                .copied()
                .filter(|k| usable_with(k, alg))
                .map(|k| (k, alg))
                .collect();
            if !fitting.is_empty() {
                fitting
            } else if shared.has(Fault::EcdsaCurveFromKey)
                && matches!(alg.key_family(), KeyFamily::Ec(_))
            {
                // The key decides: its own curve and hash, whatever alg says.
                named
                    .into_iter()
                    .filter_map(|k| Some((k, own_ecdsa_alg(k)?)))
                    .collect()
            } else if shared.has(Fault::KidAlgFallback) {
                keys.iter()
                    .filter(|k| usable_with(k, alg))
                    .map(|k| (k, alg))
                    .collect()
            } else {
                Vec::new()
            }
        }
        None => keys
            .iter()
            .filter(|k| usable_with(k, alg))
            .map(|k| (k, alg))
            .collect(),
    };
    if candidates.is_empty() {
        return Err(format!("no key usable with {alg}"));
    }
    candidates
        .iter()
        .any(|(k, alg)| signature_verifies(shared, k, *alg, jws))
        .then_some(())
        .ok_or_else(|| "bad signature".to_owned())
}

/// The ECDSA algorithm of an EC key's own curve.
fn own_ecdsa_alg(key: &VerifyingKey) -> Option<Algorithm> {
    match key.jwk().ec_curve()? {
        EcCurve::P256 => Some(Algorithm::Es256),
        EcCurve::P384 => Some(Algorithm::Es384),
        EcCurve::P521 => Some(Algorithm::Es512),
    }
}

/// One signature check. Compliant: ECDSA signatures are exactly R‖S, with 1 ≤ r, s < n and
/// in low-S form (the malleated twin of a valid signature is refused, spec rs-ecdsa-high-s).
fn signature_verifies(shared: &Shared, key: &VerifyingKey, alg: Algorithm, jws: &Jws) -> bool {
    let mut sig = jws.signature().to_vec();
    if let KeyFamily::Ec(curve) = alg.key_family() {
        let size = 2 * curve.coordinate_len();
        if shared.has(Fault::EcdsaLenientLength) && sig.len() != size {
            sig = match mock_idp::ecdsa::der_to_raw(&sig, curve) {
                Some(raw) => raw,
                None => sig.get(..size).map(<[u8]>::to_vec).unwrap_or(sig),
            };
        }
        if shared.has(Fault::EcdsaNoRangeCheck)
            && matches!(
                mock_idp::ecdsa::check_range(curve, &sig, false),
                Err(RangeError::RZero
                    | RangeError::SZero
                    | RangeError::RTooLarge
                    | RangeError::STooLarge)
            )
        {
            return true;
        }
    }
    let require_low_s = !shared.has(Fault::AcceptHighS);
    key.verify(alg, jws.signing_input(), &sig, require_low_s)
        .is_ok()
}

/// `r = s = 0` in the raw or DER form.
fn is_psychic(sig: &[u8]) -> bool {
    (matches!(sig.len(), 64 | 96) && sig.iter().all(|&b| b == 0))
        || sig == [0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00]
}

/// The byte forms of a public key a confused HS256 verifier uses as the secret.
fn public_key_secrets(jwk: &Jwk) -> Vec<Vec<u8>> {
    let mut forms = vec![jwk.to_public().to_json().to_string().into_bytes()];
    match &jwk.key {
        mock_idp::jwk::JwkKey::Ec { x, y, .. } => {
            let mut point = vec![0x04];
            point.extend_from_slice(x);
            point.extend_from_slice(y);
            forms.push(point);
        }
        mock_idp::jwk::JwkKey::Rsa { n, .. } => forms.push(n.clone()),
        _ => {}
    }
    forms
}

/// The longest wait of `kid-command-sleep`: beyond the 5 s latency bound of rs-kid-injection,
/// well within a client's request deadline.
const KID_SLEEP_CAP_SECS: u64 = 6;

/// The `N` of a `sleep N` that a shell would run from `kid` (`kid-command-sleep`, simulated:
/// nothing is executed): the command follows a shell separator (`|`, `;`, `&`, `` ` ``, `$(`).
fn shell_sleep_seconds(kid: &str) -> Option<u64> {
    let (before, after) = kid.split_once("sleep ")?;
    let before = before.trim_end();
    if !(before.ends_with(['|', ';', '&', '`']) || before.ends_with("$(")) {
        return None;
    }
    let digits: String = after
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The shared secret a weakly configured server verifies HS256 with (`accept-weak-hmac`).
const WEAK_SECRET: &[u8] = b"secret";

/// What a naive kid lookup returns (`hmac-kid-lookup`), simulated without touching any file
/// or database: a path ending in `/dev/null` reads as empty; `' UNION SELECT '<v>` yields `<v>`.
fn naive_kid_lookup(kid: &str) -> Option<Vec<u8>> {
    if kid.ends_with("/dev/null") {
        return Some(Vec::new());
    }
    let (_, selected) = kid.split_once("UNION SELECT '")?;
    let (value, _) = selected.split_once('\'')?;
    Some(value.as_bytes().to_vec())
}

/// The HMAC secrets the enabled HS256 faults would verify with (none when compliant: HS256 is
/// not on the allow-list and no key is symmetric).
fn hmac_secrets(shared: &Shared, jws: &Jws, keys: &[VerifyingKey]) -> Vec<Vec<u8>> {
    let mut secrets = Vec::new();
    if shared.has(Fault::Hs256PublicKey) {
        secrets.extend(keys.iter().flat_map(|k| public_key_secrets(k.jwk())));
    }
    let kid = jws.header().get_str("kid");
    if shared.has(Fault::Hs256KidPem)
        && let Some(kid) = kid
    {
        secrets.extend(
            keys.iter()
                .filter(|k| k.kid() == Some(kid))
                .filter_map(|k| mock_idp::forge::cert::spki_pem(k.jwk()))
                .map(String::into_bytes),
        );
    }
    if shared.has(Fault::AcceptBlankHmac) {
        secrets.push(Vec::new());
    }
    if shared.has(Fault::AcceptWeakHmac) {
        secrets.push(WEAK_SECRET.to_vec());
    }
    if shared.has(Fault::HmacKidLookup)
        && let Some(secret) = kid.and_then(naive_kid_lookup)
    {
        secrets.push(secret);
    }
    secrets
}

async fn verify_signature(shared: &Shared, jws: &Jws) -> Result<(), AuthFailure> {
    let invalid = |why: String| AuthFailure::Invalid(format!("signature: {why}"));
    let alg_name = match jws.header().get("alg") {
        Some(Value::String(a)) => a.as_str(),
        Some(_) => return Err(invalid("alg is not a string".into())),
        None => return Err(invalid("no alg".into())),
    };
    // crit belongs to JWS processing, whatever the signature check does.
    check_crit(shared, jws.header()).map_err(invalid)?;
    if shared.has(Fault::KidCommandSleep)
        && let Some(seconds) = jws.kid().and_then(shell_sleep_seconds)
    {
        // What handing the kid to a shell would cost; capped, so the demo stays quick.
        tokio::time::sleep(std::time::Duration::from_secs(
            seconds.min(KID_SLEEP_CAP_SECS),
        ))
        .await;
    }
    if shared.has(Fault::SkipSignature) {
        return Ok(());
    }
    if alg_name.eq_ignore_ascii_case("none") {
        return if shared.has(Fault::AcceptAlgNone) {
            Ok(())
        } else {
            Err(invalid("alg none".into()))
        };
    }
    let alg = Algorithm::from_name(alg_name);
    if shared.has(Fault::AcceptNullSignature) && alg.is_some() && jws.signature().is_empty() {
        return Ok(());
    }
    if shared.has(Fault::TrustEmbeddedJwk)
        && let Some(embedded) = jws.header().get("jwk")
    {
        let key = Jwk::from_json(embedded)
            .ok()
            .and_then(|j| VerifyingKey::from_jwk(&j.to_public()).ok());
        return match (key, alg) {
            (Some(k), Some(a)) => k
                .verify(a, jws.signing_input(), jws.signature(), false)
                .map_err(|e| invalid(e.to_string())),
            _ => Err(invalid("unusable embedded jwk".into())),
        };
    }
    if shared.has(Fault::TrustX5c)
        && let (Some(first), Some(a)) = (first_x5c_certificate(jws.header()), alg)
    {
        let key = jwks::certificate_key(&first).map_err(|e| invalid(format!("x5c: {e}")))?;
        return key
            .verify(a, jws.signing_input(), jws.signature(), false)
            .map_err(|e| invalid(e.to_string()));
    }
    if shared.has(Fault::TrustJku)
        && let (Some(jku), Some(a)) = (jws.header().get_str("jku"), alg)
        && jwks::is_loopback_url(jku)
    {
        let keys = jwks::fetch_keys(&shared.http, jku)
            .await
            .map_err(|e| invalid(format!("jku: {e}")))?;
        return verify_with(shared, &keys, a, jws).map_err(invalid);
    }
    if shared.has(Fault::TrustX5u)
        && let (Some(x5u), Some(a)) = (jws.header().get_str("x5u"), alg)
        && jwks::is_loopback_url(x5u)
    {
        let key = jwks::fetch_certificate_key(&shared.http, x5u)
            .await
            .map_err(|e| invalid(format!("x5u: {e}")))?;
        return key
            .verify(a, jws.signing_input(), jws.signature(), false)
            .map_err(|e| invalid(e.to_string()));
    }
    let keys = trusted_or_foreign_keys(shared, jws).await;
    if shared.has(Fault::Hs384Hs512PublicKey)
        && let Some(hash) = HmacHash::from_alg(alg_name).filter(|h| *h != HmacHash::Sha256)
    {
        let ok = keys
            .iter()
            .flat_map(|k| public_key_secrets(k.jwk()))
            .any(|secret| hash.verify(&secret, jws.signing_input(), jws.signature()));
        return ok
            .then_some(())
            .ok_or_else(|| invalid("bad signature".into()));
    }
    if alg == Some(Algorithm::Hs256) {
        let secrets = hmac_secrets(shared, jws, &keys);
        if !secrets.is_empty() {
            let ok = secrets.iter().any(|secret| {
                SigningKey::hmac(secret)
                    .verifying_key()
                    .verify(
                        Algorithm::Hs256,
                        jws.signing_input(),
                        jws.signature(),
                        false,
                    )
                    .is_ok()
            });
            return ok
                .then_some(())
                .ok_or_else(|| invalid("bad signature".into()));
        }
    }
    let Some(alg) = alg.filter(|a| shared.config.allowed_algs.contains(a)) else {
        return Err(invalid(format!("alg {alg_name:?} is not allowed")));
    };
    if shared.has(Fault::AcceptPsychicSignature)
        && matches!(
            alg.key_family(),
            KeyFamily::Ec(EcCurve::P256 | EcCurve::P384)
        )
        && is_psychic(jws.signature())
    {
        return Ok(());
    }
    verify_with(shared, &keys, alg, jws).map_err(invalid)
}

/// The first certificate of an `x5c` header (standard base64 DER, RFC 7515 §4.1.6).
fn first_x5c_certificate(header: &JsonObject) -> Option<Vec<u8>> {
    let first = header.get("x5c")?.as_array()?.first()?.as_str()?;
    b64::decode_lenient(first).ok()
}

/// The keys of the trusted issuer the (not yet verified) token names in `iss`: an additional
/// issuer's own keys when `iss` is exactly one of them, else the main issuer's (a token
/// naming no trusted issuer is refused by the claims check anyway). With
/// `issuer-keys-pooled`, every trusted issuer's keys; with `accept-rogue-issuer`, the keys of
/// whatever issuer the token names.
async fn trusted_or_foreign_keys(shared: &Shared, jws: &Jws) -> Vec<VerifyingKey> {
    let iss = jws
        .claims_lenient()
        .ok()
        .and_then(|claims| claims.get_str("iss").map(str::to_owned));
    if shared.has(Fault::AcceptRogueIssuer)
        && let Some(iss) = iss.as_deref()
        && !shared.trusted_issuers().any(|t| t == iss)
        && jwks::is_loopback_url(iss)
    {
        if let Ok(uri) = jwks::discover_jwks_uri(&shared.http, iss).await
            && jwks::is_loopback_url(&uri)
        {
            return jwks::fetch_keys(&shared.http, &uri)
                .await
                .unwrap_or_default();
        }
        return Vec::new();
    }
    if shared.has(Fault::IssuerKeysPooled) {
        let mut pooled = shared.jwks.keys_for(jws.kid()).await;
        for (_, cache) in &shared.issuer_keys {
            pooled.extend(cache.keys_for(jws.kid()).await);
        }
        return pooled;
    }
    match shared
        .issuer_keys
        .iter()
        .find(|(issuer, _)| Some(issuer.as_str()) == iss.as_deref())
    {
        Some((_, cache)) => cache.keys_for(jws.kid()).await,
        None => shared.jwks.keys_for(jws.kid()).await,
    }
}

/// Claim readers that honour `lax-claim-types`.
struct Claims<'a> {
    obj: &'a JsonObject,
    lax: bool,
}

impl Claims<'_> {
    /// A NumericDate (RFC 7519 §2): a finite JSON number within range.
    fn date(&self, name: &str) -> Result<Option<i64>, AuthFailure> {
        let bad = || AuthFailure::invalid(format!("{name} is not a NumericDate"));
        match self.obj.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => Ok(Some(i)),
                (None, Some(f)) if f.is_finite() && f.abs() < 1e15 => Ok(Some(f as i64)),
                _ => Err(bad()),
            },
            Some(Value::String(s)) if self.lax => s.trim().parse().map(Some).map_err(|_| bad()),
            Some(_) => Err(bad()),
        }
    }

    /// A string claim.
    fn string(&self, name: &str) -> Result<Option<String>, AuthFailure> {
        let bad = || AuthFailure::invalid(format!("{name} is not a string"));
        match self.obj.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) if self.lax => Ok(Some(n.to_string())),
            Some(Value::Array(a)) if self.lax => a
                .first()
                .and_then(Value::as_str)
                .map(|s| Some(s.to_owned()))
                .ok_or_else(bad),
            Some(_) => Err(bad()),
        }
    }

    /// `aud`: a string or an array of strings.
    fn audiences(&self) -> Result<Option<Vec<String>>, AuthFailure> {
        let bad = || AuthFailure::invalid("aud is not a string or an array of strings");
        match self.obj.get("aud") {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(vec![s.clone()])),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned).ok_or_else(bad))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(bad()),
        }
    }

    /// `scope`: a space-delimited string (RFC 9068 §2.2.3).
    fn scope(&self) -> Result<Option<String>, AuthFailure> {
        match self.obj.get("scope") {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Array(items)) if self.lax => Ok(Some(
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" "),
            )),
            Some(_) => Err(AuthFailure::invalid("scope is not a string")),
        }
    }
}

fn origin(url: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()
        .filter(|u| u.has_host())
        .map(|u| u.origin().ascii_serialization())
}

/// `aud` names this resource: exactly, or as the same URL with a differently cased scheme or
/// host or an explicit default port (MCP "Canonical Server URI").
pub fn audience_matches(shared: &Shared, aud: &str) -> bool {
    let resource = shared.resource.as_str();
    if aud == resource {
        return true;
    }
    if shared.has(Fault::AudSameOrigin) && origin(aud).is_some_and(|o| Some(o) == origin(resource))
    {
        return true;
    }
    if shared.has(Fault::AudCaseSensitive) {
        return false;
    }
    matches!(
        (url::Url::parse(aud), url::Url::parse(resource)),
        (Ok(a), Ok(r)) if a.has_host() && a == r
    )
}

fn issuer_matches(shared: &Shared, iss: &str) -> bool {
    let trusted = shared.config.issuer.as_str();
    if shared.trusted_issuers().any(|t| t == iss) || shared.has(Fault::AcceptRogueIssuer) {
        return true;
    }
    if shared.has(Fault::AcceptOtherTenant)
        && origin(iss).is_some_and(|o| Some(o) == origin(trusted))
    {
        return true;
    }
    if shared.has(Fault::IssNormalized) {
        let norm = |s: &str| {
            url::Url::parse(s)
                .map(|u| u.to_string().trim_end_matches('/').to_owned())
                .unwrap_or_else(|_| s.trim_end_matches('/').to_owned())
        };
        return norm(iss) == norm(trusted);
    }
    false
}

/// Parses the scope value into the set the server decides on.
pub fn parse_scopes(shared: &Shared, scope: Option<&str>) -> BTreeSet<String> {
    let mut words = scope
        .unwrap_or_default()
        .split(' ')
        .filter(|t| !t.is_empty());
    if shared.has(Fault::ScopeFirstOnly) {
        return words.next().map(str::to_owned).into_iter().collect();
    }
    words.map(str::to_owned).collect()
}

fn check_claims(shared: &Shared, obj: &JsonObject) -> Result<Principal, AuthFailure> {
    let claims = Claims {
        obj,
        lax: shared.has(Fault::LaxClaimTypes),
    };
    let now = mock_idp::unix_now();
    let leeway = shared.config.leeway_secs;
    let exp_leeway = if shared.has(Fault::LeewayHuge) {
        HUGE_LEEWAY
    } else {
        leeway
    };
    let profile = shared.config.rfc9068_profile && !shared.has(Fault::LaxRequiredClaims);
    match claims.date("exp")? {
        None if !shared.has(Fault::AcceptNoExp) => {
            return Err(AuthFailure::invalid("exp is required"));
        }
        Some(exp) if now >= exp.saturating_add(exp_leeway) && !shared.has(Fault::AcceptExpired) => {
            return Err(AuthFailure::invalid(TOKEN_EXPIRED));
        }
        _ => {}
    }
    if let Some(nbf) = claims.date("nbf")?
        && nbf > now + leeway
        && !shared.has(Fault::IgnoreNbf)
    {
        return Err(AuthFailure::invalid("token not yet valid"));
    }
    match claims.date("iat")? {
        None if profile => return Err(AuthFailure::invalid("iat is required")),
        Some(iat) if iat > now + leeway && !shared.has(Fault::IgnoreIat) => {
            return Err(AuthFailure::invalid("token issued in the future"));
        }
        _ => {}
    }
    if !shared.has(Fault::IgnoreIss) {
        match claims.string("iss")? {
            None if shared.has(Fault::AcceptNoIss) => {}
            None => return Err(AuthFailure::invalid("iss is required")),
            Some(iss) if !issuer_matches(shared, &iss) => {
                return Err(AuthFailure::invalid("iss is not the trusted issuer"));
            }
            Some(_) => {}
        }
    }
    let client_id = claims.string("client_id")?;
    // The lax validator checks aud only when it is a string or an array: an object slips
    // past (the type-confusion bypass rs.token.claim-types looks for).
    let aud_type_skipped = claims.lax && matches!(obj.get("aud"), Some(Value::Object(_)));
    if !shared.has(Fault::IgnoreAud) && !aud_type_skipped {
        let Some(auds) = claims.audiences()? else {
            return Err(AuthFailure::invalid("aud is required"));
        };
        let azp = claims.string("azp").ok().flatten();
        let for_client = |a: &String| {
            shared.has(Fault::AcceptIdToken)
                && (Some(a) == azp.as_ref() || Some(a) == client_id.as_ref())
        };
        if !auds
            .iter()
            .any(|a| audience_matches(shared, a) || for_client(a))
        {
            return Err(AuthFailure::invalid("aud does not name this resource"));
        }
    }
    let Some(subject) = claims.string("sub")? else {
        return Err(AuthFailure::invalid("sub is required"));
    };
    let jti = claims.string("jti")?;
    if profile && (client_id.is_none() || jti.is_none()) {
        return Err(AuthFailure::invalid("client_id and jti are required"));
    }
    let scope = claims.scope()?;
    Ok(Principal {
        subject,
        scopes: parse_scopes(shared, scope.as_deref()),
        token: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_naive_kid_lookup_reads_what_the_injections_name() {
        assert_eq!(naive_kid_lookup("../../../../../../dev/null"), Some(vec![]));
        assert_eq!(naive_kid_lookup("/dev/null"), Some(vec![]));
        assert_eq!(
            naive_kid_lookup("x' UNION SELECT '1';--"),
            Some(b"1".to_vec())
        );
        assert_eq!(naive_kid_lookup("trusted-es256"), None);
        assert_eq!(shell_sleep_seconds("|sleep 10"), Some(10));
        assert_eq!(shell_sleep_seconds("x; sleep 3 #"), Some(3));
        assert_eq!(shell_sleep_seconds("$(sleep 2)"), Some(2));
        assert_eq!(shell_sleep_seconds("sleep 10"), None);
        assert_eq!(shell_sleep_seconds("|sleep x"), None);
        assert_eq!(naive_kid_lookup("x' UNION SELECT 'open"), None);
    }
}
