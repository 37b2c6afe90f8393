//! The fuzz corpus on stable: every checked-in input of the JOSE/DPoP targets
//! (`fuzz/corpus/<target>/`) and every saved reproducer (`fuzz/regressions/<target>/`) goes
//! through the same `mock_idp::fuzzing` entry point the fuzzer calls, with the same
//! assertions. The differential target uses the fuzz crate's own jsonwebtoken adapter (the
//! file is shared, so both sides compare with the same reference).

#[path = "../../fuzz/src/jsonwebtoken_reference.rs"]
mod jsonwebtoken_reference;

use std::path::PathBuf;

use mock_idp::fuzzing;

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// Every file under `corpus/<target>` and `regressions/<target>`.
fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for folder in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz_dir().join(folder).join(target)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_file() {
                let bytes = std::fs::read(&path).unwrap();
                out.push((path, bytes));
            }
        }
    }
    out.sort();
    out
}

/// Runs `entry` on every input of `target`; names each input that broke an invariant.
fn replay(target: &str, entry: &(dyn Fn(&[u8]) + std::panic::RefUnwindSafe)) {
    let inputs = inputs(target);
    assert!(
        inputs.len() >= 3,
        "fuzz/corpus/{target} has {} inputs; regenerate the seed corpus",
        inputs.len()
    );
    let failures: Vec<String> = inputs
        .iter()
        .filter(|(_, data)| std::panic::catch_unwind(|| entry(data)).is_err())
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert!(
        failures.is_empty(),
        "inputs breaking {target}: {failures:?}"
    );
}

#[test]
fn jws_compact_corpus() {
    replay("jws_compact", &fuzzing::jws_compact);
}

#[test]
fn jose_header_corpus() {
    replay("jose_header", &fuzzing::jose_header);
}

#[test]
fn jwk_corpus() {
    replay("jwk", &fuzzing::jwk);
}

#[test]
fn access_token_corpus() {
    replay("access_token", &fuzzing::access_token);
}

#[test]
fn dpop_proof_corpus() {
    replay("dpop_proof", &fuzzing::dpop_proof);
}

#[test]
fn round_trip_corpus() {
    replay("round_trip", &fuzzing::round_trip);
}

#[test]
fn differential_jws_corpus() {
    replay("differential_jws", &|data| {
        fuzzing::differential_jws(data, &jsonwebtoken_reference::verdict)
    });
}

/// The seeds are real: the fixed validator accepts the valid ones, so the fuzzer starts from
/// inputs that reach the deepest checks.
#[test]
fn the_corpus_reaches_acceptance() {
    let accepted = inputs("access_token")
        .iter()
        .filter(|(_, d)| {
            std::str::from_utf8(d).is_ok_and(|t| fuzzing::validate_access_token(t).is_ok())
        })
        .count();
    assert!(accepted >= 3, "{accepted} accepted access-token seeds");
}
