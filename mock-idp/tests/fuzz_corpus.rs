//! The fuzz corpus on stable: every checked-in input of the JOSE/DPoP targets
//! (`fuzz/corpus/<target>/`) and every saved reproducer (`fuzz/regressions/<target>/`) goes
//! through the same `mock_idp::fuzzing` entry point the fuzzer calls, with the same
//! assertions. The differential target uses the fuzz crate's own jsonwebtoken adapter (the
//! file is shared, so both sides compare with the same reference).

#[path = "../../fuzz/src/jsonwebtoken_reference.rs"]
mod jsonwebtoken_reference;

use mock_idp::fuzzing;
use mock_idp::fuzzing::corpus::{inputs, replay};

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
