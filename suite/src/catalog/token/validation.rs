//! Spec §1.4: JWT access-token validation (RFC 9068, RFC 7519, RFC 7515): claims, header,
//! structure, the issuer's keys (JWKS refresh and rotation), and the introspection of opaque
//! tokens (RFC 7662).

use std::time::{Duration, Instant};

use mock_idp::dpop::ProofBuilder;
use mock_idp::forge::{CritForm, Structure, opaque_variants};
use mock_idp::keys::SigningKey;
use mock_idp::server::{CONFIDENTIAL_CLIENT_ID, DEFAULT_SUBJECT, IntrospectionScript};
use mock_idp::token::TokenSpec;
use mock_idp::{jws, random_b64url};

use super::*;

/// A resource that is certainly not the target.
const OTHER_RESOURCE: &str = "https://other.test/mcp";

/// How long ago the exp-leeway probes' tokens expired, in seconds; the last one is beyond "a
/// few minutes" (RFC 9068 §4) and must be refused, the others are recorded.
const EXPIRED_FOR: [i64; 6] = [5, 30, 90, 180, 300, 900];

/// What the leeway probes show: the largest accepted and the smallest refused expiry age.
fn leeway_summary(seen: &[Seen]) -> Option<String> {
    let ages = || EXPIRED_FOR.iter().copied().zip(seen);
    let accepted = ages().filter(|(_, s)| s.accepted).map(|(a, _)| a).max();
    let refused = ages().filter(|(_, s)| !s.accepted).map(|(a, _)| a).min();
    Some(match (accepted, refused) {
        (None, Some(r)) => format!("observed leeway: under {r} s (every expired token refused)"),
        (Some(a), Some(r)) if a < r => format!("observed leeway: at least {a} s, under {r} s"),
        (Some(a), Some(r)) => {
            format!("observed leeway: inconsistent (accepted {a} s after exp, refused {r} s)")
        }
        (Some(a), None) => {
            format!("observed leeway: at least {a} s (every expired token accepted)")
        }
        (None, None) => return None,
    })
}

/// A valid ID token of the trusted issuer for the confidential client (OIDC Core §2):
/// `typ: JWT`, `aud` = the client, `azp`, `nonce`, `auth_time`, no `scope`.
fn id_token(ctx: &Context, now: i64) -> Option<TokenSpec> {
    let idp = ctx.idp.as_ref()?;
    Some(
        TokenSpec::new()
            .typ("JWT")
            .claim("iss", idp.issuer())
            .claim("sub", DEFAULT_SUBJECT)
            .claim("aud", CONFIDENTIAL_CLIENT_ID)
            .claim("exp", now + 300)
            .claim("iat", now)
            .claim("auth_time", now - 60)
            .claim("nonce", random_b64url(12))
            .claim("azp", CONFIDENTIAL_CLIENT_ID),
    )
}

/// The JWTs of other protocols (RFC 8725 §3.12), as their protocol shapes them: none is
/// accepted by a correct resource server with or without the RFC 9068 profile. `V`'s own
/// claims under another `typ` test explicit typing, which is rs.token.typ (OQ-34).
fn other_jwt_kinds(ctx: &Context, now: i64) -> Option<Vec<Probe>> {
    let idp = ctx.idp.as_ref()?;
    let issuer = idp.issuer();
    let v = ctx.valid_token()?;
    // The client's own key: proofs and client assertions are signed by the client.
    let client_key = SigningKey::generate(mock_idp::alg::Algorithm::Es256)
        .ok()?
        .with_kid("client-key");
    let logout_event = json!({"http://schemas.openid.net/event/backchannel-logout": {}});
    let logout = TokenSpec::new()
        .typ("logout+jwt")
        .claim("iss", issuer)
        .claim("sub", DEFAULT_SUBJECT)
        .claim("aud", CONFIDENTIAL_CLIENT_ID)
        .claim("iat", now)
        .claim("exp", now + 120)
        .claim("jti", random_b64url(16))
        .claim("sid", random_b64url(8))
        .claim("events", logout_event);
    let assertion = TokenSpec::new()
        .claim("iss", CONFIDENTIAL_CLIENT_ID)
        .claim("sub", CONFIDENTIAL_CLIENT_ID)
        .claim("aud", idp.token_endpoint())
        .claim("iat", now)
        .claim("exp", now + 60)
        .claim("jti", random_b64url(16));
    let statement = TokenSpec::new()
        .claim("iss", issuer)
        .claim("software_id", "mcp-authspec-client")
        .claim("software_version", "1")
        .claim("client_name", "mcp-authspec")
        .claim("redirect_uris", json!(["http://127.0.0.1/callback"]))
        .claim("iat", now);
    let metadata = TokenSpec::new()
        .claim("iss", issuer)
        .claim("issuer", issuer)
        .claim("token_endpoint", idp.token_endpoint())
        .claim("jwks_uri", idp.jwks_url())
        .claim("iat", now)
        .claim("exp", now + 3600);
    Some(vec![
        Probe::refused(
            "a DPoP proof for this request (typ dpop+jwt, signed by the client key)",
            ProofBuilder::new("POST", &ctx.endpoint)
                .now(now)
                .ath_for(&v)
                .sign(&client_key),
        ),
        Probe::refused(
            "a private_key_jwt client assertion (aud = the token endpoint)",
            assertion.mint(&client_key),
        ),
        Probe::refused(
            "a back-channel logout token of the issuer (typ logout+jwt)",
            ctx.mint(&logout)?,
        ),
        Probe::refused(
            "a software statement signed by the issuer",
            ctx.mint(&statement)?,
        ),
        Probe::refused(
            "the issuer's signed authorization server metadata",
            ctx.mint(&metadata)?,
        ),
    ])
}

/// `V` with `exp` written as the JSON number `1e400` (beyond every float: RFC 7519 §2
/// NumericDate), validly signed.
fn exp_overflowing(ctx: &Context) -> Option<String> {
    const MARK: i64 = 4_242_424_242;
    let idp = ctx.idp.as_ref()?;
    let key = idp.key_for(IssuerKind::Trusted, ctx.token_alg());
    let spec = ctx.valid_spec()?.exp(MARK);
    let payload = String::from_utf8(spec.claims_json().to_bytes())
        .ok()?
        .replacen(&MARK.to_string(), "1e400", 1);
    Some(jws::sign_raw(
        &spec.final_header(key).to_bytes(),
        payload.as_bytes(),
        key,
    ))
}

pub(super) const ROWS: &[Row] = &[
    row(
        "rs.token.expired",
        "rs-exp-past",
        "Refuses an expired token",
        &[
            mcp("Token Handling", "expired tokens get 401"),
            rfc("RFC 7519", "§4.1.4", "exp is checked", RFC7519),
        ],
        &[],
        &["accept-expired"],
        |ctx| {
            let now = ctx.now();
            one(ctx, |s| s.iat(now - 1200).exp(now - 600))
        },
    ),
    probed(
        "rs.token.exp-leeway",
        "rs-exp-leeway",
        "Allows at most a few minutes of clock leeway on exp",
        &[rfc(
            "RFC 9068",
            "§4",
            "a small leeway for clock skew, no more than a few minutes",
            RFC9068,
        )],
        &[],
        &["leeway-huge", "accept-expired"],
        |ctx, now| {
            let spec = ctx.valid_spec()?;
            EXPIRED_FOR
                .iter()
                .map(|&age| {
                    let token = ctx.mint(&spec.clone().iat(now - age - 300).exp(now - age))?;
                    let what = format!("exp {age} s ago");
                    Some(if age > 300 {
                        Probe::refused(what, token)
                    } else {
                        Probe::recorded(what, token)
                    })
                })
                .collect()
        },
    )
    .summarised(leeway_summary)
    .summary(
        "A token expired 900 s ago (beyond a few minutes) is refused (MUST, RFC 9068 §4); \
         tokens expired 5 to 300 s ago may be accepted within the target's leeway: recorded, \
         with the observed leeway in the message.",
    ),
    row(
        "rs.token.exp-missing",
        "rs-exp-missing",
        "Refuses a token without exp",
        &[rfc("RFC 9068", "§2.2", "exp is required", RFC9068)],
        &[],
        &["accept-no-exp"],
        |ctx| one(ctx, |s| s.without_claim("exp")),
    )
    .applies(Applies::UnderProfile {
        profile: Profile::Rfc9068,
        otherwise: Level::Should,
    })
    .summary(
        "A token without exp is refused with 401 invalid_token: accepted, it never expires and \
         hands whoever holds it a credential for good (OQ-29). MUST under the RFC 9068 profile \
         (§2.2 exp REQUIRED); otherwise a warning.",
    ),
    row(
        "rs.token.nbf-future",
        "rs-nbf-future",
        "Refuses a token that is not yet valid",
        &[rfc("RFC 7519", "§4.1.5", "nbf is checked", RFC7519)],
        &[],
        &["ignore-nbf"],
        |ctx| {
            let now = ctx.now();
            one(ctx, |s| s.nbf(now + 3600))
        },
    ),
    probed(
        "rs.token.iat-future",
        "rs-iat-future",
        "Refuses a token issued in the future",
        &[rfc(
            "RFC 9068",
            "§2.2",
            "iat is required (no check rule is given: OQ-22)",
            RFC9068,
        )],
        &[],
        &["ignore-iat"],
        |ctx, now| {
            let token = ctx.mint(&ctx.valid_spec()?.iat(now + 3600).exp(now + 3900))?;
            Some(vec![Probe::refused(
                "iat 1 h ahead of the target's clock",
                token,
            )])
        },
    )
    .level(Level::Info)
    .summary(
        "A token whose iat is an hour ahead: refusal with 401 invalid_token is preferred \
         (OQ-22), acceptance is recorded. RFC 9068 §2.2 makes iat a producer's claim and gives \
         the resource server no rule, and exp still bounds the token's life, so accepting it \
         hands an attacker nothing.",
    ),
    probed(
        "rs.token.claim-types",
        "rs-claim-types",
        "Refuses claims of the wrong JSON type without a 5xx",
        &[
            rfc(
                "RFC 7519",
                "§2",
                "NumericDate is a JSON number; StringOrURI is a string",
                RFC7519,
            ),
            rfc(
                "RFC 9068",
                "§2.2.3",
                "scope is a space-delimited string",
                RFC9068,
            ),
        ],
        &["type confusion"],
        &["lax-claim-types"],
        |ctx, now| {
            let idp = ctx.idp.as_ref()?;
            let spec = ctx.valid_spec()?;
            let edit = |f: &dyn Fn(TokenSpec) -> TokenSpec| ctx.mint(&f(spec.clone()));
            let scope_words: Vec<&str> = ctx.scope.split(' ').filter(|s| !s.is_empty()).collect();
            // OQ-29: the types are rules for the producer; the level says what acceptance
            // hands an attacker.
            Some(vec![
                // A numeric string in the future may be coerced (recorded); one in the past
                // that is accepted was never compared: such a token never expires.
                Probe::recorded(
                    "exp as a numeric string (in the future)",
                    edit(&|s| s.claim("exp", (now + 300).to_string()))?,
                ),
                Probe::refused(
                    "exp as a numeric string (in the past)",
                    edit(&|s| s.claim("exp", (now - 600).to_string()))?,
                )
                .at(Level::Should),
                Probe::refused("exp = 1e400", exp_overflowing(ctx)?).at(Level::Should),
                // A NumericDate in the past: accepting it is accepting an expired token.
                Probe::refused("exp = -1", edit(&|s| s.claim("exp", -1))?),
                // No audience at all: accepting it means aud was not matched against R.
                Probe::refused("aud = {}", edit(&|s| s.claim("aud", json!({})))?),
                Probe::recorded(
                    "iss = [I] (an array)",
                    edit(&|s| s.claim("iss", json!([idp.issuer()])))?,
                ),
                Probe::recorded("sub = 123 (a number)", edit(&|s| s.claim("sub", 123))?),
                // rs-scope-format records the array form as a vendor variant.
                Probe::recorded(
                    "scope as a JSON array",
                    edit(&|s| s.claim("scope", json!(scope_words)))?,
                ),
            ])
        },
    ),
    probed(
        "rs.token.required-claims",
        "rs-required-claims",
        "Refuses a token without sub, client_id, iat or jti",
        &[rfc(
            "RFC 9068",
            "§2.2",
            "sub, client_id, iat and jti are required",
            RFC9068,
        )],
        &[],
        &["lax-required-claims"],
        |ctx, _| {
            let spec = ctx.valid_spec()?;
            ["sub", "client_id", "iat", "jti"]
                .into_iter()
                .map(|claim| {
                    let token = ctx.mint(&spec.clone().without_claim(claim))?;
                    Some(Probe::refused(format!("without {claim}"), token))
                })
                .collect()
        },
    )
    .level(Level::Should)
    .applies(Applies::UnderProfile {
        profile: Profile::Rfc9068,
        otherwise: Level::Info,
    })
    .summary(
        "Each of sub, client_id, iat and jti (REQUIRED in RFC 9068 §2.2) removed in turn: \
         refusal with 401 invalid_token is preferred; the RFC states no reaction, so \
         acceptance is a warning under the RFC 9068 profile and recorded otherwise.",
    ),
    row(
        "rs.token.typ",
        "rs-typ-at-jwt",
        "Accepts only typ at+jwt access tokens",
        &[rfc("RFC 9068", "§4", "typ must be at+jwt", RFC9068)],
        &["JWT confusion"],
        &["ignore-typ"],
        |ctx| {
            let spec = ctx.valid_spec()?;
            // V's own claims under other types (OQ-34): only explicit typing tells them apart.
            let events = json!({"http://schemas.openid.net/event/backchannel-logout": {}});
            Some(vec![
                ctx.mint(&spec.clone().typ("JWT"))?,
                ctx.mint(&spec.clone().without_header("typ"))?,
                ctx.mint(&spec.clone().typ("dpop+jwt"))?,
                ctx.mint(&spec.clone().typ("id_token+jwt"))?,
                ctx.mint(
                    &spec
                        .clone()
                        .typ("logout+jwt")
                        .claim("events", events.clone())
                        .claim("sid", random_b64url(8)),
                )?,
                ctx.mint(&spec.typ("secevent+jwt").claim("events", events))?,
            ])
        },
    )
    .applies(JWT_AT_ONLY)
    .summary(
        "V with typ JWT, without typ, and with typ dpop+jwt, id_token+jwt, logout+jwt (with \
         events and sid) and secevent+jwt (with events) is refused with 401 invalid_token: \
         RFC 9068 §4 makes checking typ a MUST for resource servers of that profile. Without \
         it the row is recorded (OQ-10, OQ-34): many authorization servers stamp typ JWT.",
    )
    .stimulus("a token typed other than at+jwt, or untyped"),
    probed(
        "rs.token.typ-variants",
        "rs-typ-variants",
        "Accepts the media-type form application/at+jwt",
        &[rfc(
            "RFC 9068",
            "§4",
            "typ is at+jwt or application/at+jwt",
            RFC9068,
        )],
        &[],
        &["typ-exact"],
        |ctx, _| {
            let spec = ctx.valid_spec()?;
            Some(vec![
                Probe::accepted(
                    "typ application/at+jwt",
                    ctx.mint(&spec.clone().typ("application/at+jwt"))?,
                ),
                Probe::recorded("typ AT+JWT", ctx.mint(&spec.typ("AT+JWT"))?),
            ])
        },
    )
    .applies(JWT_AT_ONLY)
    .summary(
        "V with typ application/at+jwt is accepted (MUST for resource servers of the RFC 9068 \
         profile; recorded otherwise); typ AT+JWT is recorded (media types ignore case, \
         OQ-10).",
    ),
    probed(
        "rs.token.id-token",
        "rs-id-token-as-at",
        "Refuses an ID token of the trusted issuer as an access token",
        &[
            rfc(
                "RFC 9068",
                "§5",
                "ID tokens and access tokens must not be confused",
                RFC9068,
            ),
            rfc(
                "RFC 8725",
                "§3.12",
                "mutually exclusive validation rules per kind of JWT",
                RFC8725,
            ),
        ],
        &["ID token confusion"],
        &["accept-id-token"],
        |ctx, now| {
            let id = id_token(ctx, now)?;
            Some(vec![
                Probe::refused(
                    "an OIDC ID token (aud = client_id, typ JWT, nonce, auth_time, azp, no scope)",
                    ctx.mint(&id)?,
                ),
                // Many IdPs stamp jti and client_id on every JWT they sign: then only typ and
                // aud tell the ID token apart.
                Probe::refused(
                    "the same ID token with jti and client_id",
                    ctx.mint(
                        &id.claim("jti", random_b64url(16))
                            .claim("client_id", CONFIDENTIAL_CLIENT_ID),
                    )?,
                ),
            ])
        },
    ),
    probed(
        "rs.token.other-jwt-kinds",
        "rs-other-jwt-kinds",
        "Refuses JWTs of other kinds from the same issuer or client",
        &[rfc(
            "RFC 8725",
            "§3.12",
            "a JWT of one kind is never accepted as another",
            RFC8725,
        )],
        &["JWT confusion"],
        &["ignore-typ+ignore-aud+lax-required-claims"],
        other_jwt_kinds,
    ),
    row(
        "rs.token.not-a-jwt",
        "rs-not-a-jwt",
        "Refuses garbage and truncated tokens without a 5xx",
        &[rfc(
            "RFC 6750",
            "§3.1",
            "malformed tokens are invalid_token",
            "https://www.rfc-editor.org/rfc/rfc6750",
        )],
        &[],
        &["error-500-on-garbage"],
        |ctx| {
            let v = ctx.valid_token()?;
            Some(vec![
                mock_idp::random_b64url(32),
                v[..v.len() / 2].to_owned(),
                "a.b.c".into(),
            ])
        },
    )
    .stimulus("a garbage or truncated token"),
    row(
        "rs.token.jwe",
        "rs-jwe-token",
        "Refuses an encrypted token it cannot decrypt",
        &[rfc(
            "RFC 9068",
            "§4",
            "decrypt only when encryption was agreed",
            RFC9068,
        )],
        &[],
        &["error-500-on-garbage"],
        |ctx| forged(ctx, &[Attack::Malformed(Structure::JweShaped)]),
    ),
    row(
        "rs.token.jws-json",
        "rs-jws-json-serialization",
        "Refuses a JWS in the JSON serialisation",
        &[rfc(
            "RFC 7519",
            "§7.2",
            "a JWT uses the compact serialisation",
            RFC7519,
        )],
        &[],
        &["error-500-on-garbage"],
        |ctx| forged(ctx, &[Attack::Malformed(Structure::JwsJsonSerialization)]),
    ),
    probed(
        "rs.token.duplicate-members",
        "rs-duplicate-members",
        "Never lets a duplicate header or claim name weaken validation",
        &[
            rfc(
                "RFC 7515",
                "§4",
                "duplicate header names are refused or the last one wins",
                RFC7515,
            ),
            rfc(
                "RFC 7519",
                "§4",
                "duplicate claim names are refused or the last one wins",
                RFC7519,
            ),
        ],
        &["parser differential"],
        &["accept-duplicate-claims"],
        |ctx, _| {
            Some(vec![
                forged_probe(ctx, Attack::DuplicateAlgNone)?,
                forged_probe(
                    ctx,
                    Attack::DuplicateAud {
                        other: OTHER_RESOURCE,
                    },
                )?,
            ])
        },
    ),
    row(
        "rs.token.crit-unknown",
        "rs-crit-unknown",
        "Refuses a token whose crit names an extension it does not understand",
        &[rfc(
            "RFC 7515",
            "§4.1.11",
            "a JWS with a critical extension the recipient does not understand is invalid",
            RFC7515,
        )],
        &[],
        &["accept-crit-unknown", "ignore-crit"],
        |ctx| forged(ctx, &[Attack::Crit(CritForm::Unknown)]),
    ),
    probed(
        "rs.token.crit-malformed",
        "rs-crit-malformed",
        "Refuses an empty crit, or one naming a registered or an absent parameter",
        &[rfc(
            "RFC 7515",
            "§4.1.11",
            "producers must not emit these crit forms; recipients may refuse them",
            RFC7515,
        )],
        &[],
        &["lax-crit", "ignore-crit"],
        |ctx, _| {
            [CritForm::Empty, CritForm::Registered, CritForm::Absent]
                .into_iter()
                .map(|form| forged_probe(ctx, Attack::Crit(form)))
                .collect()
        },
    )
    .level(Level::Info)
    .summary(
        "crit [], crit [\"alg\"] and crit naming an absent header, each validly signed: \
         recorded. RFC 7515 §4.1.11 forbids producers to emit them and lets recipients treat \
         them as invalid, so refusal and acceptance both conform (OQ-29); the MUST case is \
         rs.token.crit-unknown.",
    ),
    row(
        "rs.token.b64-noncanonical",
        "rs-b64-noncanonical",
        "Refuses token segments that are not strict base64url",
        &[rfc(
            "RFC 7515",
            "§2",
            "base64url without padding, + or /",
            RFC7515,
        )],
        &["lenient parsing"],
        &["lenient-base64"],
        // A line break cannot be sent: HTTP field values must not contain CR or LF.
        |ctx| {
            forged(
                ctx,
                &[Structure::Padding, Structure::StandardAlphabet].map(Attack::Malformed),
            )
        },
    )
    .level(Level::Info)
    .graded_by(
        expect::invalid_token_or_malformed,
        "V with = padding, or with + and / for - and _: refusal (401 invalid_token or 400 \
         invalid_request, OQ-1) or acceptance is recorded. RFC 7515 §2 is the producer's \
         encoding rule; a leniently decoded copy carries the same signed bytes, so accepting it \
         gives an attacker at most a second spelling of a token they already hold (as \
         rs.token.ecdsa-high-s).",
    )
    .stimulus("a token whose segments are not strict base64url"),
    probed(
        "rs.token.nested",
        "rs-nested-jwt",
        "Validates every layer of a nested JWT",
        &[rfc(
            "RFC 8725",
            "§3.3",
            "every layer of a nested JWT is validated",
            RFC8725,
        )],
        &["nested JWT"],
        &["nested-inner-only"],
        |ctx, _| {
            Some(vec![
                forged_probe(ctx, Attack::NestedAttackerOuter)?,
                forged_probe(ctx, Attack::NestedUnsignedInner)?,
            ])
        },
    ),
    row(
        "rs.token.kid-unknown",
        "rs-kid-unknown",
        "Refuses a token signed with a key the issuer never published",
        &[rfc(
            "RFC 8725",
            "§3.10",
            "keys come from the issuer's JWKS only",
            RFC8725,
        )],
        &[],
        &["skip-signature"],
        |ctx| {
            let idp = ctx.idp.as_ref()?;
            let spec = ctx.valid_spec()?.kid("nope");
            Some(vec![
                spec.mint(idp.key_for(IssuerKind::Rogue, ctx.token_alg())),
            ])
        },
    ),
];

// ---- the issuer's keys: bounded refetch and rotation ----

/// Tokens with unknown kids sent in one burst, and the JWKS requests they may cause.
const REFETCH_BURST: usize = 10;
const MAX_REFETCHES: u64 = 3;
/// How long a refetch may still arrive after the burst (a target fetching in the background).
const REFETCH_SETTLE: Duration = Duration::from_millis(250);

/// How long after its first use a rotated-in key has to be picked up (OQ-32: common JWKS
/// clients refetch on an unknown kid at most once per 30 s), and how often it is tried at most.
const ROTATION_WINDOW: Duration = Duration::from_secs(60);
const ROTATION_POLL: Duration = Duration::from_secs(2);
const ROTATION_FIRST_POLL: Duration = Duration::from_millis(50);

const REFETCH_BOUNDED: CheckMeta = CheckMeta {
    id: "rs.token.jwks-refetch-bounded",
    row: "rs-kid-unknown",
    title: "Refetches the issuer's JWKS at a bounded rate for unknown kids",
    summary: "A burst of tokens with unknown kids causes at most a few JWKS requests at the \
              embedded IdP (SHOULD: a bounded refresh, so hostile tokens cannot turn the target \
              into a JWKS hammer). Their refusal is graded by rs.token.kid-unknown.",
    level: Level::Should,
    applies: Applies::Always,
    deadline: None,
    refs: &[
        rfc(
            "RFC 8725",
            "§3.10",
            "an unknown kid is refused after at most a bounded refresh",
            RFC8725,
        ),
        rfc(
            "RFC 9068",
            "§4",
            "use the keys the issuer publishes",
            RFC9068,
        ),
    ],
    needs: &[Need::MintedToken],
    tags: &["JWKS hammering"],
    broken_by: &["no-jwks-rate-limit"],
};

const ROTATION: CheckMeta = CheckMeta {
    id: "rs.token.jwks-rotation",
    row: "rs-jwks-rotation",
    title: "Picks up a key newly published in the issuer's JWKS",
    summary: "A new key k2 is published in the embedded IdP's JWKS right after calibration (the \
              target has cached the old set) and used late in the run: V signed with k2 is \
              accepted within 60 s of its first use (SHOULD, OQ-32). Still refused after the \
              target fetched the JWKS that lists k2 is a warning; not refetched within 60 s is \
              a longer cache, recorded as Info.",
    level: Level::Should,
    applies: Applies::Always,
    deadline: Some(Duration::from_secs(90)),
    refs: &[rfc(
        "RFC 9068",
        "§4",
        "validate with the keys the authorization server currently publishes",
        RFC9068,
    )],
    needs: &[Need::MintedToken],
    tags: &["key rotation"],
    broken_by: &["jwks-pinned-keys"],
};

/// The checks of the issuer's JWKS, which count and publish at the embedded IdP.
pub(super) fn jwks_checks() -> Vec<Check<Context>> {
    vec![
        Check::new(REFETCH_BOUNDED, |ctx| Box::pin(jwks_refetch_bounded(ctx))),
        Check::new(ROTATION, |ctx| Box::pin(jwks_rotation(ctx))),
    ]
}

async fn jwks_refetch_bounded(ctx: &Context) -> Outcome {
    let Some(idp) = ctx.idp.as_ref() else {
        return not_evaluated();
    };
    let Some(spec) = ctx.valid_spec() else {
        return not_evaluated();
    };
    if let Err(o) = negative_control(ctx).await {
        return o;
    }
    if let Err(o) = positive_control(ctx).await {
        return o;
    }
    let rogue = idp.key_for(IssuerKind::Rogue, ctx.token_alg());
    let before = idp.jwks_requests(IssuerKind::Trusted);
    let started = Instant::now();
    let mut evidence = Vec::new();
    let mut accepted = 0;
    let tag = random_b64url(6);
    for i in 0..REFETCH_BURST {
        let token = spec.clone().kid(&format!("unknown-{tag}-{i}")).mint(rogue);
        let exchange = ctx.initialize(&Credential::Bearer(token)).await;
        if exchange.response.as_ref().is_ok_and(expect::is_accepted) {
            accepted += 1;
        }
        if evidence.is_empty() {
            evidence.push(exchange);
        }
    }
    let burst = started.elapsed();
    tokio::time::sleep(REFETCH_SETTLE).await;
    let fetched = idp
        .jwks_requests(IssuerKind::Trusted)
        .saturating_sub(before);
    if let Err(o) = positive_control(ctx).await {
        return o;
    }
    let seen = format!(
        "{fetched} JWKS request(s) at the embedded IdP for {REFETCH_BURST} tokens with unknown \
         kids sent within {} ms",
        burst.as_millis()
    );
    let refused_note = if accepted > 0 {
        format!(" ({accepted} of them accepted: see rs.token.kid-unknown)")
    } else {
        String::new()
    };
    let bounded = fetched <= MAX_REFETCHES;
    Outcome {
        expected: vec![format!(
            "[SHOULD] at most {MAX_REFETCHES} JWKS requests for {REFETCH_BURST} tokens with \
             unknown kids in one burst"
        )],
        actual: if bounded { String::new() } else { seen.clone() },
        evidence: if bounded { Vec::new() } else { evidence },
        ..Outcome::new(
            if bounded {
                Verdict::Pass
            } else {
                Verdict::Warn
            },
            format!("{seen}{refused_note}"),
        )
    }
}

async fn jwks_rotation(ctx: &Context) -> Outcome {
    let (Some(idp), Some(spec), Some(rotated)) =
        (ctx.idp.as_ref(), ctx.valid_spec(), ctx.rotated_key.as_ref())
    else {
        return not_evaluated();
    };
    if let Err(o) = negative_control(ctx).await {
        return o;
    }
    if let Err(o) = positive_control(ctx).await {
        return o;
    }
    let kid = rotated.key.kid().unwrap_or_default().to_owned();
    let first_use = Instant::now();
    let mut attempts = 0;
    let outcome = loop {
        attempts += 1;
        let exchange = ctx
            .initialize(&Credential::Bearer(
                spec.clone().jti(&random_b64url(16)).mint(&rotated.key),
            ))
            .await;
        let accepted = exchange.response.as_ref().is_ok_and(expect::is_accepted);
        let waited = first_use.elapsed();
        if !accepted && waited < ROTATION_WINDOW {
            // A quarter of the time waited so far: quick after a short cooldown, every 2 s
            // under a long one, never more than a quarter late.
            tokio::time::sleep((waited / 4).clamp(ROTATION_FIRST_POLL, ROTATION_POLL)).await;
            continue;
        }
        let published = rotated.published.elapsed().as_secs();
        let mut outcome =
            crate::engine::calibrate::judge(Level::Should, exchange, expect::accepted);
        if accepted {
            outcome.message = format!(
                "V signed with the new key {kid} accepted {} s after its first use ({published} s \
                 after it was published, attempt {attempts})",
                waited.as_secs()
            );
            break outcome;
        }
        let refetched = idp
            .jwks_requests(IssuerKind::Trusted)
            .saturating_sub(rotated.jwks_requests_before);
        if refetched == 0 {
            // A plain cache longer than the window: nothing shows it would never refresh.
            outcome.verdict = Verdict::Info;
            outcome.message = format!(
                "V signed with the new key {kid} was refused for {} s after its first use and the \
                 target did not fetch the JWKS in the {published} s since k2 was published: a \
                 key cache longer than that (recorded, OQ-32)",
                waited.as_secs()
            );
        } else {
            outcome.message = format!(
                "V signed with the new key {kid} was still refused {} s after its first use, \
                 although the target fetched the JWKS that lists it {refetched} time(s) since it \
                 was published: it does not trust rotated keys",
                waited.as_secs()
            );
        }
        break outcome;
    };
    if let Err(o) = positive_control(ctx).await {
        return o;
    }
    outcome
}

// ---- opaque tokens: RFC 7662 introspection (spec INTRO) ----

/// How long a stalled introspection answer is held back: longer than the timeouts resource
/// servers commonly use for it, shorter than this tool's own request deadline.
const INTROSPECTION_STALL: Duration = Duration::from_secs(7);

/// rs-not-a-jwt for opaque tokens: the opaque `V` (introspected at the mock IdP, or issued by
/// a real AS) is accepted, and each of its near misses refused.
fn opaque_altered_probes(ctx: &Context, _now: i64) -> Option<Vec<Probe>> {
    let v = match ctx.idp {
        Some(_) => opaque_valid(ctx)?,
        None => ctx.valid_token()?,
    };
    let mut probes = vec![Probe::accepted("the opaque V as issued", v.clone())];
    probes.extend(opaque_variants(&v).into_iter().map(|(label, token)| {
        let what = match label {
            "truncated-by-one" => "the opaque V without its last character",
            "last-char-changed" => "the opaque V with its last character changed",
            "char-appended" => "the opaque V with one character appended",
            other => other,
        };
        Probe::refused(what, token)
    }));
    Some(probes)
}

pub(super) const INTROSPECTION_ROWS: &[Row] = &[
    probed(
        "rs.token.introspection-inactive",
        "rs-introspection-inactive",
        "Refuses a token the introspection endpoint reports inactive",
        &[rfc(
            "RFC 7662",
            "§2.2",
            "active false means the token is not usable",
            RFC7662,
        )],
        &[],
        &["accept-inactive"],
        |ctx, now| {
            let idp = ctx.idp.as_ref()?;
            let script = |answer| {
                idp.script_introspection(IssuerKind::Trusted, IntrospectionScript::Answer(answer))
            };
            let mut with_claims = introspection_claims(ctx, now);
            with_claims["active"] = json!(false);
            Some(vec![
                Probe::refused(
                    "introspection answers {\"active\":false}",
                    script(json!({"active": false})),
                ),
                Probe::refused(
                    "introspection answers active false with V's claims",
                    script(with_claims),
                ),
            ])
        },
    )
    .opaque(),
    probed(
        "rs.token.introspection-aud",
        "rs-introspection-aud",
        "Refuses an active token whose introspected audience is another resource",
        &[
            mcp(
                "Token Handling",
                "servers accept only tokens issued for them (audience)",
            ),
            rfc("RFC 7662", "§2.2", "aud of the introspected token", RFC7662),
        ],
        &["token passthrough"],
        &["ignore-aud"],
        |ctx, now| {
            let idp = ctx.idp.as_ref()?;
            let mut claims = introspection_claims(ctx, now);
            claims["aud"] = json!(OTHER_RESOURCE);
            Some(vec![Probe::refused(
                "introspection answers active true, aud another resource",
                idp.register_opaque(claims),
            )])
        },
    )
    .opaque(),
    probed(
        "rs.token.introspection-failure",
        "rs-introspection-failure",
        "Fails closed when introspection fails",
        &[mcp(
            "Security Considerations",
            "no data to unauthorised parties: a token that cannot be validated is refused",
        )],
        &["fail open"],
        &["introspection-fail-open"],
        |ctx, _| {
            let idp = ctx.idp.as_ref()?;
            let script = |s| idp.script_introspection(IssuerKind::Trusted, s);
            let fails_closed =
                |what: &str, token| Probe::graded(what, token, Level::Must, expect::fails_closed);
            Some(vec![
                fails_closed(
                    "introspection answers HTTP 500",
                    script(IntrospectionScript::Status(500)),
                ),
                fails_closed(
                    "introspection answers malformed JSON",
                    script(IntrospectionScript::Malformed),
                ),
                fails_closed(
                    "introspection stalls 7 s, then answers active false",
                    script(IntrospectionScript::Delayed(
                        INTROSPECTION_STALL,
                        Box::new(IntrospectionScript::Answer(json!({"active": false}))),
                    )),
                ),
            ])
        },
    )
    .summary(
        "When the introspection endpoint answers 500, malformed JSON, or stalls, the token is \
         refused with 401 or 503 (MUST*: never accepted, no other 5xx).",
    )
    .opaque(),
    probed(
        "rs.token.opaque-altered",
        "rs-not-a-jwt",
        "Refuses an opaque token cut short or with a character changed or appended",
        &[
            rfc(
                "RFC 6750",
                "§3.1",
                "a malformed or otherwise invalid token is invalid_token",
                "https://www.rfc-editor.org/rfc/rfc6750",
            ),
            rfc(
                "RFC 7662",
                "§2.2",
                "a token the authorization server did not issue is not active",
                RFC7662,
            ),
        ],
        &["token prefix match"],
        &["introspection-cache-prefix"],
        opaque_altered_probes,
    )
    .summary(
        "The opaque V is accepted, and V without its last character, with its last character \
         changed (within its character class) and with one character appended are each refused \
         with 401 invalid_token: an opaque token is matched whole, never by a prefix. V is an \
         opaque token the mock IdP introspects, or the one a real authorization server issued \
         (a run whose authorization server issues JWTs covers their alterations with the \
         signature rows).",
    )
    .opaque_derivable(),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(accepted: &[bool]) -> Vec<Seen> {
        accepted
            .iter()
            .map(|&accepted| Seen {
                what: String::new(),
                accepted,
                observed: String::new(),
            })
            .collect()
    }

    #[test]
    fn the_leeway_summary_brackets_the_observed_leeway() {
        let summary = |a: &[bool]| leeway_summary(&seen(a)).unwrap();
        assert_eq!(
            summary(&[true, true, false, false, false, false]),
            "observed leeway: at least 30 s, under 90 s"
        );
        assert!(summary(&[false; 6]).contains("every expired token refused"));
        assert!(summary(&[true; 6]).contains("at least 900 s"));
        assert!(summary(&[false, true, false, false, false, false]).contains("inconsistent"));
    }
}
