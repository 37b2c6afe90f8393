//! Invariants of the wire parsers, stated as properties (proptest).

use proptest::prelude::*;
use suite::wire::www_authenticate::{Challenge, parse};

fn challenge() -> impl Strategy<Value = Challenge> {
    (
        "[A-Za-z][A-Za-z0-9-]{0,8}",
        prop::collection::vec(("[a-z_]{1,8}", "[ -~]{0,16}"), 1..5),
    )
        .prop_map(|(scheme, params)| Challenge {
            scheme,
            token68: None,
            params,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The WWW-Authenticate parser never panics, whatever it is fed.
    #[test]
    fn www_authenticate_never_panics(text in "\\PC{0,120}") {
        let _ = parse(&text);
    }

    /// Same, on inputs made of the grammar's own punctuation.
    #[test]
    fn www_authenticate_never_panics_on_punctuation(text in "[A-Za-z=,\" \\\\\t]{0,80}") {
        let _ = parse(&text);
    }

    /// parse ∘ serialise is the identity for challenge lists.
    #[test]
    fn challenges_round_trip(list in prop::collection::vec(challenge(), 1..4)) {
        let text = list.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        prop_assert_eq!(parse(&text).unwrap(), list);
    }
}
