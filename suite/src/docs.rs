//! The requirement catalogue inside the project (issue 12 item 8): `docs/catalogue.md` (one
//! table of every check) and `docs/checks/<id>.md` (one page per check), generated from the
//! checks' metadata by `mcp-authspec docs` and kept in sync by `suite/tests/docs.rs`. The other
//! files of `docs/` are written by hand; the generator neither reads nor touches them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::check::{Applies, CheckMeta, Need};
use crate::model::Level;

/// The command that regenerates the generated files, from the repository's root.
pub const REGENERATE: &str = "cargo run -p suite --bin mcp-authspec -- docs";

/// The generated folder for one page per check, inside `docs/`.
pub const CHECKS_DIR: &str = "checks";

/// The catalogue's file name, inside `docs/`.
pub const CATALOGUE: &str = "catalogue.md";

/// Every generated file: its path relative to `docs/` and its text, in catalogue order.
pub fn generate() -> Vec<(String, String)> {
    let metas: Vec<CheckMeta> = crate::catalog::metas();
    let mut files = vec![(CATALOGUE.to_owned(), catalogue(&metas))];
    files.extend(
        metas
            .iter()
            .map(|m| (format!("{CHECKS_DIR}/{}.md", m.id), page(m))),
    );
    files
}

/// Writes every generated file under `dir` and removes check pages no check has any more;
/// returns how many files were written.
pub fn write(dir: &Path) -> Result<usize, String> {
    let files = generate();
    let checks = dir.join(CHECKS_DIR);
    std::fs::create_dir_all(&checks)
        .map_err(|e| format!("cannot create {}: {e}", checks.display()))?;
    for stale in stale_pages(dir, &files) {
        let path = dir.join(&stale);
        std::fs::remove_file(&path)
            .map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
    }
    for (name, text) in &files {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(files.len())
}

/// How the generated files under `dir` differ from what the checks' metadata gives: one line
/// per file missing, different or stale (a page of a check that no longer exists). Empty when
/// they agree.
pub fn differences(dir: &Path) -> Vec<String> {
    let files = generate();
    let mut out = Vec::new();
    for (name, text) in &files {
        match std::fs::read_to_string(dir.join(name)) {
            Ok(found) if found == *text => {}
            Ok(found) => out.push(format!("{name} differs{}", first_difference(&found, text))),
            Err(_) => out.push(format!("{name} is missing")),
        }
    }
    for stale in stale_pages(dir, &files) {
        out.push(format!("{stale} belongs to no check"));
    }
    out
}

/// ": line N is …, expected …" for the first line that differs.
fn first_difference(found: &str, expected: &str) -> String {
    let mut found_lines = found.lines();
    for (i, want) in expected.lines().enumerate() {
        match found_lines.next() {
            Some(got) if got == want => {}
            got => {
                return format!(
                    " (line {}: {:?}, generated: {want:?})",
                    i + 1,
                    got.unwrap_or("end of file")
                );
            }
        }
    }
    " (it has more lines)".to_owned()
}

/// `checks/*.md` files under `dir` that no generated file names.
fn stale_pages(dir: &Path, files: &[(String, String)]) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir.join(CHECKS_DIR)) else {
        return Vec::new();
    };
    let mut stale: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("{CHECKS_DIR}/{n}"))
        .filter(|n| !files.iter().any(|(name, _)| name == n))
        .collect();
    stale.sort();
    stale
}

/// A table cell: pipes escaped, line breaks folded.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// Where a check binds at its level, in a few words for the table.
fn binds_short(applies: Applies) -> String {
    match applies {
        Applies::Always => "always".to_owned(),
        Applies::UnderProfile { profile, otherwise } => {
            format!("`--profile {}` (else {otherwise})", profile.as_str())
        }
        Applies::InVersions {
            versions,
            otherwise,
        } => {
            let names: Vec<&str> = versions.iter().map(|v| v.as_str()).collect();
            format!("MCP {} (else {otherwise})", names.join(", "))
        }
    }
}

/// Where a check binds, in a sentence for its page.
fn binds_long(meta: &CheckMeta) -> String {
    let level = meta.level;
    match meta.applies {
        Applies::Always => format!(
            "Always: every MCP revision, with or without a declared profile. A broken {level} \
             gives {}.",
            verdict_of(level)
        ),
        Applies::UnderProfile { profile, otherwise } => format!(
            "At {level} (a break gives {}) when the target is under {} (`--profile {}`, or \
             detected). Otherwise the same observation is reported at {otherwise} ({}), its \
             message starting \"would {} under …\".",
            verdict_of(level),
            profile.title(),
            profile.as_str(),
            verdict_of(otherwise),
            would(level)
        ),
        Applies::InVersions {
            versions,
            otherwise,
        } => {
            let names: Vec<&str> = versions.iter().map(|v| v.as_str()).collect();
            format!(
                "At {level} (a break gives {}) in MCP {} (`--spec-version`; the default is the \
                 newest revision). In other revisions the same observation is reported at \
                 {otherwise} ({}), its message starting \"would {} under …\".",
                verdict_of(level),
                names.join(" and "),
                verdict_of(otherwise),
                would(level)
            )
        }
    }
}

/// FAIL, WARN, INFO: as the terminal prints a verdict.
fn verdict_of(level: Level) -> String {
    level.broken_verdict().to_string().to_uppercase()
}

fn would(level: Level) -> &'static str {
    match level {
        Level::Must => "fail",
        _ => "warn",
    }
}

/// What a need asks of the run, in words.
fn need(n: Need) -> &'static str {
    match n {
        Need::Anonymous => "anonymous requests only",
        Need::ValidToken => "a valid token the target accepts (found by calibration)",
        Need::MintedToken => {
            "tokens minted with chosen defects: the target trusts the mock IdP this run hosts"
        }
        Need::Dpop => {
            "DPoP-bound tokens for the tool's key: minted by the mock IdP, or `--dpop` with a \
             grant against the target's own authorization server (Skip for a target without DPoP)"
        }
        Need::JwtAccessToken => {
            "a JWT access token (stimuli derived from a real token need its JWS form; \
             NotEvaluated when the authorization server issues opaque tokens)"
        }
        Need::OpaqueAccessToken => {
            "an opaque access token: introspected at the mock IdP, or issued by the target's own \
             authorization server (NotEvaluated when it issues JWTs)"
        }
        Need::SecondPrincipal => {
            "a token for a second subject: minted, or a `--second-…` token source"
        }
        Need::AsClient => {
            "a public client registered at the authorization server under test: the mock IdP's \
             own in the demo, or `--client-id` with one of its registered `--redirect-uri`s"
        }
        Need::CodeExpiryWait => {
            "a wait longer than codes may live: `--code-expiry-wait SECONDS` (NotEvaluated \
             without it, since the wait takes minutes)"
        }
        Need::OtherResourceToken => {
            "a valid token of the trusted issuer for another resource: minted, or obtained by a \
             grant with `--other-resource URI`"
        }
        Need::Canary => {
            "a tool call whose side effect the run can observe (the reference server's canary \
             tool; NotEvaluated elsewhere)"
        }
    }
}

/// Where the embedded demo cannot show a check (it is Skip there): what the check applies to,
/// the server `suite/tests/catalogue.rs` proves it against, and whether the `--demo-fault`
/// line still shows the failure.
struct Special {
    note: &'static str,
    /// The fault itself makes the demo serve what the check needs (signed metadata).
    fault_line_fails: bool,
}

/// The reference server the check is proven against, when it is not the embedded demo's.
fn special_server(m: &CheckMeta) -> Option<Special> {
    let id = m.id;
    if crate::catalog::token::needs_introspection(id) {
        Some(Special {
            note: if m.needs.contains(&Need::OpaqueAccessToken) {
                "With the mock IdP, this check applies only to a target that introspects opaque \
                 tokens there (spec INTRO rows); against a deployment with its own \
                 authorization server, only when that server issues opaque tokens. It is Skip \
                 against the embedded demo, which validates JWTs locally. \
                 `suite/tests/catalogue.rs` proves it against a reference server configured for \
                 introspection, `compat/tests/real_as_run.rs` against one introspecting at \
                 oidc-provider."
            } else {
                "This check applies only to a target that introspects opaque tokens at the \
                 mock IdP (spec INTRO rows); it is Skip against the embedded demo, which \
                 validates JWTs locally. `suite/tests/catalogue.rs` proves it against a \
                 reference server configured for introspection."
            },
            fault_line_fails: false,
        })
    } else if crate::catalog::dpop::needs_dpop_nonce(id) {
        Some(Special {
            note: "This check applies only to a target that demands DPoP nonces; it is Skip \
                   against the embedded demo. `suite/tests/catalogue.rs` proves it against a \
                   reference server with nonces on (as `mcp-authspec demo-server --dpop-nonce` \
                   serves, with `--fault` for the faults below).",
            fault_line_fails: false,
        })
    } else if crate::catalog::prm::needs_signed_metadata(id) {
        Some(Special {
            note: "This check applies only to a PRM that carries `signed_metadata`; the \
                   embedded demo serves one only with a `prm-signed-metadata-*` fault (a JWS in \
                   every PRM body would put a token-shaped string in every report), so without \
                   one it is Skip there. `suite/tests/catalogue.rs` proves it passes against a \
                   reference server that signs its metadata.",
            fault_line_fails: true,
        })
    } else {
        None
    }
}

/// The one-line description of each fault of a `+`-joined combination.
fn fault_descriptions(combo: &str) -> String {
    combo
        .split('+')
        .map(|name| match crate::demo_faults::DemoFault::parse(name) {
            Some(f) => f.description().to_owned(),
            None => "(not a fault of the reference server or the mock IdP)".to_owned(),
        })
        .collect::<Vec<_>>()
        .join("; and ")
}

/// `mcp-authspec run --demo-fault a --demo-fault b --check ID`.
pub fn fail_line(meta: &CheckMeta, combo: &str) -> String {
    let flags: Vec<String> = combo.split('+').map(crate::demo_faults::flag_for).collect();
    format!("mcp-authspec run {} --check {}", flags.join(" "), meta.id)
}

/// `docs/catalogue.md`: every check in one table.
fn catalogue(metas: &[CheckMeta]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Requirement catalogue");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "<!-- Generated from the checks' metadata by `mcp-authspec docs`; do not edit. \
         Regenerate with `{REGENERATE}`. -->"
    );
    let _ = writeln!(out);
    let mut levels: BTreeMap<&str, usize> = BTreeMap::new();
    for m in metas {
        *levels.entry(m.level.as_str()).or_default() += 1;
    }
    let counts: Vec<String> = [Level::Must, Level::Should, Level::May, Level::Info]
        .iter()
        .filter_map(|l| levels.get(l.as_str()).map(|n| format!("{n} {l}")))
        .collect();
    let _ = writeln!(
        out,
        "Every check `mcp-authspec run` knows ({} checks: {}), in the order it runs them. Each \
         id links to the check's page: its requirement with references, what it needs, where it \
         binds, and the reference-server fault that makes it fail with the command line to see \
         it. **Spec row** is the row of the project's requirement catalogue the check tests. \
         **Level** is the level it grades at where it binds; **Binds** says where that is \
         (`always`, only under a declared profile, or only in some MCP revisions; elsewhere the \
         runner reports the same observation at the level in brackets). Why a level is what it \
         is: [levels.md](levels.md).",
        metas.len(),
        counts.join(", ")
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "| id | spec row | level | binds | title |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for m in metas {
        let _ = writeln!(
            out,
            "| [`{id}`]({CHECKS_DIR}/{id}.md) | `{}` | {} | {} | {} |",
            m.row,
            m.level,
            binds_short(m.applies),
            cell(m.title),
            id = m.id,
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "The network fuzzer (`mcp-authspec fuzz`) reports three more checks, one per strategy: \
         `rs.fuzz.malformed-credential`, `rs.fuzz.odd-claims` and `rs.fuzz.dpop-proof` (see the \
         README, \"Network fuzzing of a live target\")."
    );
    out
}

/// `docs/checks/<id>.md`: one check.
fn page(m: &CheckMeta) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# `{}` — {}", m.id, m.title);
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "<!-- Generated from the check's metadata by `mcp-authspec docs`; do not edit. \
         Regenerate with `{REGENERATE}`. -->"
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "{}", m.summary);
    let _ = writeln!(out);
    let _ = writeln!(out, "| | |");
    let _ = writeln!(out, "|---|---|");
    let _ = writeln!(out, "| spec row | `{}` |", m.row);
    let _ = writeln!(
        out,
        "| level | {} (a broken {} gives {}) |",
        m.level,
        m.level,
        verdict_of(m.level)
    );
    let _ = writeln!(out, "| binds | {} |", cell(&binds_short(m.applies)));
    if !m.tags.is_empty() {
        let _ = writeln!(out, "| tags | {} |", cell(&m.tags.join(", ")));
    }
    if let Some(d) = m.deadline {
        let _ = writeln!(
            out,
            "| deadline | {} s (the run's per-check deadline does not apply) |",
            d.as_secs()
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "## Requirement");
    let _ = writeln!(out);
    for r in m.refs {
        let _ = writeln!(
            out,
            "- **{} {}**: {} — <{}>",
            r.source, r.section, r.requirement, r.url
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "## Where it binds");
    let _ = writeln!(out);
    let _ = writeln!(out, "{}", binds_long(m));
    let _ = writeln!(out);
    let _ = writeln!(out, "## What it needs");
    let _ = writeln!(out);
    if m.needs.is_empty() {
        let _ = writeln!(out, "Nothing beyond the target's URL.");
    }
    for n in m.needs {
        let _ = writeln!(out, "- {}", need(*n));
    }
    let special = special_server(m);
    if let Some(special) = &special {
        let _ = writeln!(out);
        let _ = writeln!(out, "{}", special.note);
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "## How it fails");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{}",
        if m.id.starts_with("as.") {
            "The mock IdP fails this check with each of these authorization-server fault \
             profiles (`suite/tests/as_catalogue.rs` proves it, and that the compliant mock IdP \
             passes):"
        } else {
            "The reference server fails this check with each of these fault profiles \
             (`suite/tests/catalogue.rs` proves it, and that the compliant server passes):"
        }
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "| fault | what the server does wrong |");
    let _ = writeln!(out, "|---|---|");
    for combo in m.broken_by {
        let names: Vec<String> = combo.split('+').map(|f| format!("`{f}`")).collect();
        let _ = writeln!(
            out,
            "| {} | {} |",
            names.join(" + "),
            cell(&fault_descriptions(combo))
        );
    }
    let _ = writeln!(out);
    let skip = "   # Skip on the embedded demo (see above)";
    let (fails, passes) = match &special {
        None => ("   # fails", "   # passes"),
        Some(s) if s.fault_line_fails => ("   # fails", skip),
        Some(_) => (skip, skip),
    };
    let _ = writeln!(out, "```sh");
    if let Some(first) = m.broken_by.first() {
        let _ = writeln!(out, "{}{fails}", fail_line(m, first));
    }
    let _ = writeln!(out, "mcp-authspec run --check {}{passes}", m.id);
    let _ = writeln!(
        out,
        "mcp-authspec explain {}   # both, with what is sent and what comes back",
        m.id
    );
    let _ = writeln!(out, "```");
    let _ = writeln!(out);
    let _ = writeln!(out, "[All checks](../{CATALOGUE})");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_page_per_check_and_a_row_each_in_the_catalogue() {
        let files = generate();
        let checks = crate::catalog::metas();
        assert_eq!(files.len(), checks.len() + 1);
        let (name, catalogue) = &files[0];
        assert_eq!(name, CATALOGUE);
        for c in &checks {
            let link = format!("[`{id}`]({CHECKS_DIR}/{id}.md)", id = c.id);
            assert!(catalogue.contains(&link), "{}", c.id);
            let (_, page) = files
                .iter()
                .find(|(n, _)| *n == format!("{CHECKS_DIR}/{}.md", c.id))
                .expect("a page");
            for r in c.refs {
                assert!(page.contains(r.url), "{}", c.id);
            }
            for combo in c.broken_by {
                assert!(page.contains(&fail_line(c, combo)) || page.contains(combo));
            }
            assert!(page.contains("--demo-"), "{}", c.id);
            // The path the reports and `explain` print for the check.
            let linked = format!("docs/{CHECKS_DIR}/{}.md", c.id);
            assert_eq!(reports::record::docs_page(c.id), linked);
        }
    }

    #[test]
    fn differences_name_missing_changed_and_stale_files() {
        let dir = std::env::temp_dir().join(format!("docs-{}", mock_idp::random_b64url(8)));
        assert!(differences(&dir).iter().any(|d| d.ends_with("is missing")));
        write(&dir).unwrap();
        assert_eq!(differences(&dir), Vec::<String>::new());
        std::fs::write(dir.join(CATALOGUE), "# edited\n").unwrap();
        std::fs::write(dir.join(CHECKS_DIR).join("rs.gone.md"), "").unwrap();
        std::fs::write(dir.join("levels.md"), "hand-written\n").unwrap();
        let found = differences(&dir);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].starts_with("catalogue.md differs (line 1"),
            "{found:?}"
        );
        assert_eq!(found[1], "checks/rs.gone.md belongs to no check");
        write(&dir).unwrap();
        assert_eq!(differences(&dir), Vec::<String>::new());
        assert_eq!(
            std::fs::read_to_string(dir.join("levels.md")).unwrap(),
            "hand-written\n",
            "hand-written files are left alone"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
