//! `mcp-authspec explain <id>`: everything the catalogue knows about one check, and how to see
//! it fail against the reference server.

use std::fmt::Write as _;

use reference_server::Fault;

use crate::demo_faults::DemoFault;

use crate::check::CheckMeta;

/// The explanation of one check, as plain text.
pub fn explain(meta: &CheckMeta) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}  ({})", meta.id, meta.level);
    let _ = writeln!(out, "{}", meta.title);
    let _ = writeln!(out);
    let _ = writeln!(out, "{}", meta.summary);
    let _ = writeln!(out);
    let _ = writeln!(out, "Spec row:    {}", meta.row);
    let _ = writeln!(out, "Catalogue:   {}", reports::record::docs_page(meta.id));
    for r in meta.refs {
        let _ = writeln!(
            out,
            "Requirement: {} {}: {}\n             {}",
            r.source, r.section, r.requirement, r.url
        );
    }
    let _ = writeln!(
        out,
        "Level:       {} (a broken {} gives {})",
        meta.level,
        meta.level,
        meta.level.broken_verdict()
    );
    let _ = writeln!(out, "Binds:       {}", meta.applies.describe());
    if !meta.needs.is_empty() {
        let needs: Vec<String> = meta.needs.iter().map(|n| format!("{n:?}")).collect();
        let _ = writeln!(out, "Needs:       {}", needs.join(", "));
    }
    if !meta.tags.is_empty() {
        let _ = writeln!(out, "Tags:        {}", meta.tags.join(", "));
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Fails against the {} with these fault profiles:",
        crate::demo_faults::party_of(meta.id)
    );
    for combo in meta.broken_by {
        let described: Vec<String> = combo
            .split('+')
            .map(|name| match DemoFault::parse(name) {
                Some(f) => format!("{name} ({})", f.description()),
                None => name.to_owned(),
            })
            .collect();
        let _ = writeln!(out, "  {}", described.join(" + "));
    }
    if let Some(first) = meta.broken_by.first() {
        let flags: Vec<String> = first.split('+').map(crate::demo_faults::flag_for).collect();
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "See it fail:  mcp-authspec run {} --check {}",
            flags.join(" "),
            meta.id
        );
        let _ = writeln!(out, "See it pass:  mcp-authspec run --check {}", meta.id);
    }
    out
}

/// Runs the check against the embedded demo, compliant and then with its first fault
/// profile, and shows what it sends (credentials decoded, never in full), which answers it
/// accepts, and what the faulty server answers instead.
pub async fn demonstrate(meta: &CheckMeta) -> Result<String, String> {
    use std::collections::BTreeSet;

    if meta.id.starts_with("as.") {
        return demonstrate_on_mock_idp(meta).await;
    }

    use crate::engine::runner::RunOptions;
    use crate::engine::select::{Glob, Selection};
    use crate::engine::session::{Embedded, TokenDefaults, context, run_checks};

    let selection = Selection {
        include: vec![Glob::new(meta.id)],
        skip: vec![],
    };
    let run = |faults: BTreeSet<Fault>| {
        let selection = selection.clone();
        async move {
            let env = Embedded::start(&faults).await?;
            let mut ctx = context(
                &env.server.mcp_url(),
                Some(env.idp.clone()),
                &TokenDefaults::default(),
                Some(Embedded::step_up()),
                Some(env.canary()),
                crate::http::Limits::default(),
            )
            .await?;
            // Where the requirement binds at its own level: the demo's profiles, plus the
            // check's own profile or version.
            let (version, profiles) = meta
                .applies
                .binding(crate::model::SpecVersion::NEWEST, Embedded::profiles());
            ctx.spec_version = version;
            ctx.declare_profiles(&profiles);
            let results = run_checks(&ctx, &selection, RunOptions::default(), |_, _| {}).await;
            env.server.shutdown().await;
            results
                .into_iter()
                .next()
                .map(|(_, outcome)| outcome)
                .ok_or_else(|| "the check did not run".to_owned())
        }
    };
    let mut out = String::new();
    let (version, profiles) = meta
        .applies
        .binding(crate::model::SpecVersion::NEWEST, Embedded::profiles());
    let _ = writeln!(
        out,
        "In force for this demonstration: MCP {version}, profiles {}",
        crate::model::profiles_line(&profiles)
    );
    let compliant = run(BTreeSet::new()).await?;
    let _ = writeln!(
        out,
        "Against the compliant reference server: {} — {}",
        compliant.verdict, compliant.message
    );
    for e in &compliant.evidence {
        let record = crate::output::exchange(e);
        let _ = writeln!(
            out,
            "  Stimulus: {} {}",
            record.request.method, record.request.url
        );
        for c in &record.credentials {
            let scheme = c.scheme.as_deref().unwrap_or("");
            let _ = writeln!(out, "    {}: {scheme} {}", c.carrier, c.fingerprint);
            for (what, value) in [("header", &c.jose_header), ("claims", &c.claims)] {
                if let Some(v) = value {
                    let _ = writeln!(out, "      {what} {v}");
                }
            }
        }
    }
    for e in &compliant.expected {
        let _ = writeln!(out, "  Accepts:  {e}");
    }
    if let Some(combo) = meta.broken_by.first() {
        let faults = combo
            .split('+')
            .map(|f| f.parse::<Fault>().map_err(|e| e.to_string()))
            .collect::<Result<BTreeSet<_>, _>>()?;
        let broken = run(faults).await?;
        let _ = writeln!(
            out,
            "Against the reference server with {combo}: {} — {}",
            broken.verdict, broken.message
        );
        if !broken.actual.is_empty() {
            let _ = writeln!(out, "  Actual:   {}", broken.actual);
        }
    }
    Ok(out)
}

/// An `as.*` check against the compliant mock IdP, then with its first fault profile.
async fn demonstrate_on_mock_idp(meta: &CheckMeta) -> Result<String, String> {
    use mock_idp::server::{AsFault, IdpConfig, MockIdp};

    use crate::engine::authorization_server::AsContext;
    use crate::engine::runner::RunOptions;
    use crate::engine::select::{Glob, Selection};

    let selection = Selection {
        include: vec![Glob::new(meta.id)],
        skip: vec![],
    };
    let run = |faults: std::collections::BTreeSet<AsFault>| {
        let selection = selection.clone();
        async move {
            let idp = MockIdp::start(IdpConfig {
                faults,
                cimd: crate::engine::listener::mock_idp_cimd(),
                ..IdpConfig::default()
            })
            .await
            .map_err(|e| e.to_string())?;
            let driver = crate::http::Driver::new(crate::http::Limits::default())
                .map_err(|e| e.to_string())?;
            let ctx = AsContext::discover(driver, idp.issuer(), None).await;
            let results = crate::engine::session::run_as_checks(
                &ctx,
                &selection,
                RunOptions::default(),
                |_, _| {},
            )
            .await;
            results
                .into_iter()
                .next()
                .map(|(_, outcome)| outcome)
                .ok_or_else(|| "the check did not run".to_owned())
        }
    };
    let mut out = String::new();
    let compliant = run(Default::default()).await?;
    let _ = writeln!(
        out,
        "Against the compliant mock IdP: {} — {}",
        compliant.verdict, compliant.message
    );
    for e in &compliant.evidence {
        let _ = writeln!(out, "  Read: {} {}", e.request.method, e.request.url);
    }
    for e in &compliant.expected {
        let _ = writeln!(out, "  Accepts:  {e}");
    }
    if let Some(combo) = meta.broken_by.first() {
        let faults = combo
            .split('+')
            .map(|f| f.parse::<AsFault>().map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        let broken = run(faults).await?;
        let _ = writeln!(
            out,
            "Against the mock IdP with {combo}: {} — {}",
            broken.verdict, broken.message
        );
        if !broken.actual.is_empty() {
            let _ = writeln!(out, "  Actual:   {}", broken.actual);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_check_explains_itself_with_a_fault_that_breaks_it() {
        for check in crate::catalog::metas() {
            let text = explain(&check);
            assert!(text.starts_with(check.id), "{text}");
            assert!(text.contains(check.row), "{}", check.id);
            let page = format!("docs/checks/{}.md", check.id);
            assert!(text.contains(&page), "{}", check.id);
            assert!(text.contains("See it fail:"), "{}", check.id);
            for r in check.refs {
                assert!(text.contains(r.url), "{}", check.id);
            }
        }
    }
}
