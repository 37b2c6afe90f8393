//! RFC 9449 §4.3 check 9: `htu` names the request URI, compared after RFC 3986 §6.2.2–6.2.3
//! normalisation and ignoring query and fragment (OQ-4, OQ-5).

use mock_idp::dpop::HtuVariant;

use super::{Fixture, Row, Stimulus, at, meta, rfc9449};
use crate::expect;
use crate::model::Level;

/// A stimulus: `Vd` with `P` edited.
fn edited(what: &str, fx: &Fixture, proof: mock_idp::dpop::ProofBuilder) -> Stimulus {
    Stimulus::new(what, fx.request(proof))
}

pub const ROWS: &[Row] = &[
    Row {
        meta: meta(
            "rs.dpop.htu-mismatch",
            "rs-dpop-htu-mismatch",
            "Refuses a proof for another URI",
            "Proofs whose htu names another scheme, host, port or path, or the authorization \
             server's token endpoint, are refused.",
            &[rfc9449("§4.3 check 9", "htu matches the request URI")],
            &["dpop-ignore-htu"],
        ),
        stimuli: |ctx, fx| {
            let url = url::Url::parse(&ctx.endpoint).ok();
            let other_scheme = match url.as_ref().map(url::Url::scheme) {
                Some("https") => "http",
                _ => "https",
            };
            let other_port = url
                .as_ref()
                .and_then(url::Url::port_or_known_default)
                .map_or(8443, |p| if p == 65535 { 65534 } else { p + 1 });
            let mut s = vec![
                ("another scheme", HtuVariant::Scheme(other_scheme.into())),
                (
                    "another host",
                    HtuVariant::Host("mcp-authspec.invalid".into()),
                ),
                ("another port", HtuVariant::Port(other_port)),
                ("another path", HtuVariant::Path("/other-mcp".into())),
            ]
            .into_iter()
            .map(|(what, v)| edited(what, fx, fx.proof(ctx).htu_variant(v)))
            .collect::<Vec<_>>();
            if let Some(idp) = &ctx.idp {
                s.push(edited(
                    "the token endpoint",
                    fx,
                    fx.proof(ctx).htu(&idp.token_endpoint()),
                ));
            }
            s
        },
        grade: expect::dpop_invalid,
    },
    Row {
        meta: at(
            meta(
                "rs.dpop.htu-normalisation",
                "rs-dpop-htu-normalisation",
                "Compares htu after normalisation",
                "Proofs whose htu differs from the endpoint only by an upper-case scheme and \
                 host, an explicit default port (when the endpoint names none) or a \
                 percent-encoded unreserved character are accepted (OQ-5: case and port SHOULD).",
                &[rfc9449(
                    "§4.3 check 9",
                    "normalise per RFC 3986 §6.2.2–6.2.3 before comparing",
                )],
                &["dpop-htu-exact"],
            ),
            Level::Should,
        ),
        stimuli: |ctx, fx| {
            [
                (
                    "upper-case scheme and host",
                    HtuVariant::UpperCaseSchemeHost,
                ),
                ("explicit default port", HtuVariant::ExplicitDefaultPort),
                (
                    "percent-encoded unreserved",
                    HtuVariant::PercentEncodeUnreserved,
                ),
            ]
            .into_iter()
            // A variant that changes nothing (a port already written out) proves nothing.
            .filter(|(_, v)| v.apply(&ctx.endpoint) != ctx.endpoint)
            .map(|(what, v)| {
                edited(what, fx, fx.proof(ctx).htu_variant(v)).graded(expect::accepted)
            })
            .collect()
        },
        grade: expect::accepted,
    },
    Row {
        meta: at(
            meta(
                "rs.dpop.htu-query-fragment",
                "rs-dpop-htu-query-fragment",
                "Ignores query and fragment when comparing htu (recorded)",
                "A proof whose htu adds ?x=1#frag to the endpoint, and a request sent to the \
                 endpoint with ?x=1 whose proof names the plain endpoint: RFC 9449 §4.3 says to \
                 compare ignoring query and fragment, so acceptance passes; a refusal is \
                 recorded as Info, never a failure (OQ-4: the MCP conformance judge refuses).",
                &[rfc9449(
                    "§4.3 check 9, §4.2",
                    "htu is compared without query and fragment",
                )],
                &["dpop-htu-query-strict"],
            ),
            Level::Info,
        ),
        stimuli: |ctx, fx| {
            let mut request_with_query = fx.request(fx.proof(ctx));
            request_with_query.query = Some("x=1");
            vec![
                edited(
                    "htu with ?x=1#frag",
                    fx,
                    fx.proof(ctx).htu_variant(HtuVariant::QueryFragment {
                        query: Some("x=1".into()),
                        fragment: Some("frag".into()),
                    }),
                ),
                Stimulus::new("request to ?x=1, htu without it", request_with_query),
            ]
        },
        grade: expect::accepted,
    },
    Row {
        meta: at(
            meta(
                "rs.dpop.htu-trailing-slash",
                "rs-dpop-htu-trailing-slash",
                "Treats a trailing slash in htu as another path (recorded)",
                "A proof whose htu is the endpoint with a trailing slash added (or removed) names \
                 another path under RFC 3986 §6.2.2–6.2.3, so a refusal passes; acceptance is \
                 recorded as Info (OQ-5: the slash is unspecified).",
                &[rfc9449(
                    "§4.3 check 9; RFC 3986 §6.2.2–6.2.3",
                    "no slash equivalence except for an empty path",
                )],
                &["dpop-htu-trailing-slash"],
            ),
            Level::Info,
        ),
        stimuli: |ctx, fx| {
            vec![edited(
                "htu with the trailing slash toggled",
                fx,
                fx.proof(ctx).htu_variant(HtuVariant::TrailingSlash),
            )]
        },
        grade: expect::dpop_invalid,
    },
];
