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

/// Any challenge: parameters, a token68, or the scheme alone.
fn any_challenge() -> impl Strategy<Value = Challenge> {
    let scheme = "[A-Za-z][A-Za-z0-9-]{0,8}";
    prop_oneof![
        challenge(),
        (scheme, "[A-Za-z0-9._~+/-]{1,20}={0,2}").prop_map(|(scheme, t)| Challenge {
            scheme,
            token68: Some(t),
            params: Vec::new(),
        }),
        scheme.prop_map(|scheme| Challenge {
            scheme,
            token68: None,
            params: Vec::new(),
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// parse ∘ serialise is the identity for every kind of challenge, also across field lines.
    #[test]
    fn any_challenges_round_trip(lines in prop::collection::vec(prop::collection::vec(any_challenge(), 1..4), 1..3)) {
        let texts: Vec<String> = lines
            .iter()
            .map(|l| l.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))
            .collect();
        let all: Vec<Challenge> = lines.concat();
        prop_assert_eq!(
            suite::wire::www_authenticate::parse_all(texts.iter().map(String::as_str)).unwrap(),
            all
        );
    }

    /// The fuzz target's invariants hold on arbitrary bytes too (not only on the corpus).
    #[test]
    fn wire_fuzz_entry_points_hold(data in prop::collection::vec(any::<u8>(), 0..200)) {
        suite::fuzzing::www_authenticate(&data);
        suite::fuzzing::prm(&data);
        suite::fuzzing::as_metadata(&data);
    }
}
