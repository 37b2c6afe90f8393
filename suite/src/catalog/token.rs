//! Spec §1.3–§1.5: token validation. Each row is data: a stimulus built from `V` (or a forged
//! token) and the invalid-token bundle [X]; the runner calibrates around every stimulus.

use mock_idp::forge::{Attack, ForgeContext, PublicKeyForm};
use mock_idp::server::IssuerKind;
use mock_idp::unix_now;

use crate::catalog::{mcp, rfc};
use crate::check::{CheckMeta, Need, Outcome, SpecRef};
use crate::engine::calibrate::{judge, negative_control, positive_control};
use crate::engine::context::Context;
use crate::engine::probe::Credential;
use crate::engine::runner::Check;
use crate::expect;
use crate::model::{Level, Verdict};

const RFC9068: &str = "https://www.rfc-editor.org/rfc/rfc9068";
const RFC8725: &str = "https://www.rfc-editor.org/rfc/rfc8725";
const RFC7519: &str = "https://www.rfc-editor.org/rfc/rfc7519";

/// Builds the stimulus tokens of a row (several for rows with variants).
type Stimuli = fn(&Context) -> Option<Vec<String>>;

struct Row {
    meta: CheckMeta,
    stimuli: Stimuli,
}

const fn row(
    id: &'static str,
    spec_row: &'static str,
    title: &'static str,
    refs: &'static [SpecRef],
    tags: &'static [&'static str],
    broken_by: &'static [&'static str],
    stimuli: Stimuli,
) -> Row {
    Row {
        meta: CheckMeta {
            id,
            row: spec_row,
            title,
            summary: "A token with this defect is refused with 401 invalid_token and does nothing.",
            level: Level::Must,
            refs,
            needs: &[Need::MintedToken],
            tags,
            broken_by,
        },
        stimuli,
    }
}

fn forged(ctx: &Context, attacks: &[Attack]) -> Option<Vec<String>> {
    let idp = ctx.idp.as_ref()?;
    let spec = ctx.valid_spec()?;
    let fctx = ForgeContext {
        victim: idp.signing_key(IssuerKind::Trusted),
        attacker: idp.signing_key(IssuerKind::Rogue),
        listener_url: "http://127.0.0.1:9/jwks.json",
        spec: &spec,
    };
    Some(attacks.iter().filter_map(|a| a.forge(&fctx).ok()).collect())
}

fn one(
    ctx: &Context,
    edit: impl Fn(mock_idp::token::TokenSpec) -> mock_idp::token::TokenSpec,
) -> Option<Vec<String>> {
    Some(vec![ctx.mint(&edit(ctx.valid_spec()?))?])
}

const ROWS: &[Row] = &[
    row(
        "rs.token.aud-wrong",
        "rs-aud-wrong",
        "Refuses a token for another audience",
        &[
            mcp(
                "Token Handling",
                "servers accept only tokens issued for them (audience)",
            ),
            rfc("RFC 9068", "§4", "aud must name the resource", RFC9068),
        ],
        &["token passthrough"],
        &["ignore-aud"],
        |ctx| one(ctx, |s| s.aud("https://other.test/mcp")),
    ),
    row(
        "rs.token.aud-missing",
        "rs-aud-missing",
        "Refuses a token without aud",
        &[rfc("RFC 9068", "§2.2", "aud is required", RFC9068)],
        &[],
        &["ignore-aud"],
        |ctx| one(ctx, |s| s.without_claim("aud")),
    ),
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
        |ctx| one(ctx, |s| s.iat(unix_now() - 1200).exp(unix_now() - 600)),
    ),
    row(
        "rs.token.exp-missing",
        "rs-exp-missing",
        "Refuses a token without exp",
        &[rfc("RFC 9068", "§2.2", "exp is required", RFC9068)],
        &[],
        &["accept-no-exp"],
        |ctx| one(ctx, |s| s.without_claim("exp")),
    ),
    row(
        "rs.token.nbf-future",
        "rs-nbf-future",
        "Refuses a token that is not yet valid",
        &[rfc("RFC 7519", "§4.1.5", "nbf is checked", RFC7519)],
        &[],
        &["ignore-nbf"],
        |ctx| one(ctx, |s| s.nbf(unix_now() + 3600)),
    ),
    row(
        "rs.token.iss-rogue",
        "rs-iss-untrusted",
        "Refuses a token from an untrusted issuer",
        &[rfc(
            "RFC 9068",
            "§4",
            "iss must be the trusted authorization server",
            RFC9068,
        )],
        &[],
        &["skip-signature+ignore-iss"],
        |ctx| {
            let idp = ctx.idp.as_ref()?;
            let spec = idp.token_spec_for(IssuerKind::Rogue, &ctx.audience, &ctx.scope);
            Some(vec![idp.mint_rogue(&spec)])
        },
    ),
    row(
        "rs.token.iss-other-tenant",
        "rs-iss-key-mismatch",
        "Refuses a token of another tenant signed with a shared key",
        &[rfc(
            "RFC 8725",
            "§3.8",
            "validate the issuer, not only the key",
            RFC8725,
        )],
        &["multi-tenant issuer mix-up"],
        &["ignore-iss"],
        |ctx| {
            let idp = ctx.idp.as_ref()?;
            let spec = idp.token_spec_for(IssuerKind::OtherTenant, &ctx.audience, &ctx.scope);
            Some(vec![idp.mint_as(IssuerKind::OtherTenant, &spec)])
        },
    ),
    row(
        "rs.token.alg-none",
        "rs-alg-none",
        "Refuses unsigned tokens in every spelling of none",
        &[rfc(
            "RFC 8725",
            "§3.1",
            "alg none is never accepted",
            RFC8725,
        )],
        &["CVE-2015-2951"],
        &["accept-alg-none"],
        |ctx| {
            let attacks: Vec<Attack> = ["none", "None", "NONE", "nOnE"]
                .into_iter()
                .map(|spelling| Attack::AlgNone {
                    spelling,
                    keep_signature: false,
                })
                .collect();
            forged(ctx, &attacks)
        },
    ),
    row(
        "rs.token.hs256-public-key",
        "rs-alg-confusion-hmac-pubkey",
        "Refuses HS256 tokens MACed with the public key",
        &[rfc("RFC 8725", "§3.1", "one key, one algorithm", RFC8725)],
        &["CVE-2016-10555"],
        &["hs256-public-key"],
        |ctx| forged(ctx, &PublicKeyForm::ALL.map(Attack::HmacWithPublicKey)),
    ),
    row(
        "rs.token.embedded-jwk",
        "rs-embedded-jwk",
        "Never trusts a key embedded in the token header",
        &[rfc(
            "RFC 8725",
            "§3.10",
            "header-supplied keys are not trusted",
            RFC8725,
        )],
        &["CVE-2018-0114"],
        &["trust-embedded-jwk"],
        |ctx| {
            forged(
                ctx,
                &[
                    Attack::EmbeddedJwk {
                        keep_victim_kid: false,
                    },
                    Attack::EmbeddedJwk {
                        keep_victim_kid: true,
                    },
                ],
            )
        },
    ),
    row(
        "rs.token.broken-signature",
        "rs-broken-signature",
        "Checks the signature",
        &[rfc("RFC 9068", "§4", "the signature is validated", RFC9068)],
        &[],
        &["skip-signature"],
        |ctx| forged(ctx, &[Attack::SignatureBroken]),
    ),
    row(
        "rs.token.null-signature",
        "rs-null-signature",
        "Refuses a token whose signature was stripped",
        &[rfc(
            "RFC 7515",
            "§5.2",
            "the signature is validated",
            "https://www.rfc-editor.org/rfc/rfc7515",
        )],
        &["CVE-2020-28042"],
        &["skip-signature"],
        |ctx| forged(ctx, &[Attack::SignatureStripped]),
    ),
    row(
        "rs.token.iss-missing",
        "rs-iss-missing",
        "Refuses a token without iss",
        &[rfc("RFC 9068", "§2.2", "iss is required", RFC9068)],
        &[],
        &["ignore-iss"],
        |ctx| one(ctx, |s| s.without_claim("iss")),
    ),
    row(
        "rs.token.iss-exact",
        "rs-iss-exact",
        "Compares iss without normalisation",
        &[rfc(
            "RFC 9068",
            "§4",
            "iss must exactly match the issuer",
            RFC9068,
        )],
        &[],
        &["ignore-iss"],
        |ctx| {
            let idp = ctx.idp.as_ref()?;
            let issuer = idp.issuer();
            let spec = ctx.valid_spec()?;
            Some(vec![
                ctx.mint(&spec.clone().iss(&format!("{issuer}/")))?,
                ctx.mint(&spec.iss(&issuer.to_ascii_uppercase()))?,
            ])
        },
    ),
    row(
        "rs.token.aud-client-id",
        "rs-aud-client-id",
        "Refuses a token whose audience is the client",
        &[rfc("RFC 8725", "§3.9", "audience is validated", RFC8725)],
        &["ID token confusion"],
        &["ignore-aud"],
        |ctx| one(ctx, |s| s.aud(mock_idp::server::CONFIDENTIAL_CLIENT_ID)),
    ),
    row(
        "rs.token.aud-sibling-path",
        "rs-aud-sibling-path",
        "Refuses a token for another MCP server on the same origin",
        &[mcp(
            "Token Handling",
            "tokens are issued for this specific resource",
        )],
        &["multi-tenant host"],
        &["ignore-aud"],
        |ctx| {
            let url = url::Url::parse(&ctx.audience).ok()?;
            let sibling = format!("{}/other-mcp", url.origin().ascii_serialization());
            one(ctx, |s| s.aud(&sibling))
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
            Some(vec![spec.mint(idp.signing_key(IssuerKind::Rogue))])
        },
    ),
    row(
        "rs.token.hmac-secrets",
        "rs-blank-hmac-secret",
        "Refuses HS256 tokens with blank or common secrets",
        &[rfc(
            "RFC 8725",
            "§3.5",
            "no guessable HMAC secrets; one key, one algorithm",
            RFC8725,
        )],
        &["CVE-2019-20933", "CVE-2020-28637"],
        &["skip-signature"],
        |ctx| {
            let mut attacks = vec![Attack::HmacEmptySecret];
            attacks.extend(mock_idp::forge::WEAK_SECRETS.map(Attack::HmacWeakSecret));
            forged(ctx, &attacks)
        },
    ),
    row(
        "rs.token.kid-injection",
        "rs-kid-injection",
        "Never lets a hostile kid select a key",
        &[rfc(
            "RFC 8725",
            "§3.10",
            "kid is sanitised and never trusted to locate keys",
            RFC8725,
        )],
        &["kid injection"],
        &["skip-signature"],
        |ctx| {
            let attacks: Vec<Attack> = mock_idp::forge::KID_INJECTIONS
                .iter()
                .map(|&(kid, secret)| Attack::KidInjection { kid, secret })
                .collect();
            forged(ctx, &attacks)
        },
    ),
    row(
        "rs.token.ecdsa-range",
        "rs-ecdsa-range",
        "Refuses ECDSA signatures with r or s out of range",
        &[rfc(
            "RFC 7518",
            "§3.4",
            "ECDSA signatures are validated",
            "https://www.rfc-editor.org/rfc/rfc7518",
        )],
        &["CVE-2022-21449"],
        &["skip-signature"],
        |ctx| {
            use mock_idp::forge::ScalarDefect::*;
            forged(
                ctx,
                &[RIsZero, SIsZero, RIsOrder, SIsOrder].map(Attack::ScalarOutOfRange),
            )
        },
    ),
    row(
        "rs.token.ecdsa-length",
        "rs-ecdsa-length",
        "Refuses ECDSA signatures of the wrong size or encoding",
        &[rfc(
            "RFC 7518",
            "§3.4",
            "R and S are fixed-size octet strings",
            "https://www.rfc-editor.org/rfc/rfc7518",
        )],
        &["Keycloak R-24 pattern"],
        &["skip-signature"],
        |ctx| {
            forged(
                ctx,
                &[
                    Attack::SignatureTrailingBytes,
                    Attack::SignatureTruncated,
                    Attack::DerSignature,
                    Attack::SignatureWrongCurveSize,
                ],
            )
        },
    ),
    row(
        "rs.token.psychic-signature",
        "rs-psychic-signature",
        "Refuses ECDSA signatures with r = s = 0",
        &[rfc(
            "RFC 7518",
            "§3.4",
            "ECDSA signatures are validated",
            "https://www.rfc-editor.org/rfc/rfc7518",
        )],
        &["CVE-2022-21449"],
        &["skip-signature"],
        |ctx| {
            forged(
                ctx,
                &[
                    Attack::PsychicSignature { der: false },
                    Attack::PsychicSignature { der: true },
                ],
            )
        },
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
            Some(vec![
                ctx.mint(&spec.clone().typ("JWT"))?,
                ctx.mint(&spec.clone().without_header("typ"))?,
                ctx.mint(&spec.typ("dpop+jwt"))?,
            ])
        },
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
    ),
];

async fn run_row(ctx: &Context, row: &Row) -> Outcome {
    let Some(stimuli) = (row.stimuli)(ctx) else {
        return Outcome::new(
            Verdict::NotEvaluated,
            "needs tokens minted by the embedded mock IdP, which the target must trust",
        );
    };
    if let Err(o) = negative_control(ctx).await {
        return o;
    }
    if let Err(o) = positive_control(ctx).await {
        return o;
    }
    let mut worst: Option<Outcome> = None;
    for token in stimuli {
        let exchange = ctx.initialize(&Credential::Bearer(token)).await;
        let outcome = judge(row.meta.level, exchange, expect::invalid_token);
        let rank = |v: Verdict| match v {
            Verdict::Error => 0,
            Verdict::Fail => 1,
            Verdict::Warn => 2,
            _ => 3,
        };
        if worst
            .as_ref()
            .is_none_or(|w| rank(outcome.verdict) < rank(w.verdict))
        {
            worst = Some(outcome);
        }
    }
    if let Err(o) = positive_control(ctx).await {
        return o;
    }
    worst.unwrap_or_else(|| {
        Outcome::new(
            Verdict::NotEvaluated,
            "no stimulus could be built for this target",
        )
    })
}

pub fn checks() -> Vec<Check<Context>> {
    ROWS.iter()
        .map(|row| Check::new(row.meta, move |ctx| Box::pin(run_row(ctx, row))))
        .collect()
}
