//! The stored attack vectors (fixtures/vectors/jwt-attacks.json) replayed against our strict
//! verifier with the fixture keys, and checked against the forge catalogue they come from:
//! same tests in the same order with the same names and provenance; every stored token still
//! has its defect (refused with the stored error, or accepted when `acceptable`); deterministic
//! forgeries are byte-identical to a fresh forge.

use std::collections::BTreeSet;
use std::path::PathBuf;

use mock_idp::forge::Attack;
use mock_idp::forge::vectors::{
    self, AUDIENCE, Expected, ISSUER, SCHEMA, VectorKeys, build, strict_verifier, verdict,
};
use mock_idp::jws::{Jws, ParseOptions};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn stored() -> (Value, usize) {
    let text = std::fs::read_to_string(root().join("fixtures/vectors/jwt-attacks.json"))
        .expect("vector file present (cargo run -p mock-idp --example vectors)");
    (serde_json::from_str(&text).unwrap(), text.len())
}

fn keys() -> VectorKeys {
    VectorKeys::from_dir(&root().join("fixtures/keys")).unwrap()
}

fn tests_of(file: &Value) -> Vec<(String, &Value)> {
    file["testGroups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| {
            let alg = g["victimAlg"].as_str().unwrap().to_owned();
            g["tests"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |t| (alg.clone(), t))
        })
        .collect()
}

/// Every field of a vector but the token (and the error of a randomized one, whose DER length
/// or base64 alphabet may differ).
fn metadata(test: &Value, with_error: bool) -> Value {
    let mut t = test.clone();
    let obj = t.as_object_mut().unwrap();
    obj.remove("token");
    if !with_error {
        obj.remove("error");
    }
    t
}

#[test]
fn the_file_is_small_and_shaped_like_wycheproof() {
    let (file, len) = stored();
    assert!(len < 200 * 1024, "{len} bytes");
    assert_eq!(file["schema"], SCHEMA);
    assert_eq!(file["algorithm"], "JWS");
    let tests = tests_of(&file);
    assert_eq!(file["numberOfTests"], tests.len());
    let ids: Vec<u64> = tests
        .iter()
        .map(|(_, t)| t["tcId"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, (1..=tests.len() as u64).collect::<Vec<_>>());
    for (_, t) in &tests {
        for field in ["name", "comment", "reference", "result", "token"] {
            assert!(t[field].is_string(), "{field} of {}", t["tcId"]);
        }
        assert!(t["flags"].as_array().is_some_and(|f| !f.is_empty()));
        assert!(t["cves"].is_array());
    }
    // The JSON Schema the file names, beside it: required members present, no others in a test.
    let schema_text =
        std::fs::read_to_string(root().join("fixtures/vectors").join(SCHEMA)).unwrap();
    let schema: Value = serde_json::from_str(&schema_text).unwrap();
    let names = |v: &Value| -> BTreeSet<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap().to_owned())
            .collect()
    };
    for member in names(&schema["required"]) {
        assert!(file.get(&member).is_some(), "{member}");
    }
    let test_schema = &schema["properties"]["testGroups"]["items"]["properties"]["tests"]["items"];
    let required = names(&test_schema["required"]);
    for (_, t) in &tests {
        let present: BTreeSet<String> = t.as_object().unwrap().keys().cloned().collect();
        assert_eq!(present, required, "{}", t["tcId"]);
    }
}

#[test]
fn the_file_agrees_with_the_forge_catalogue() {
    let (file, _) = stored();
    let keys = keys();
    let fresh = build(&keys);
    let again = build(&keys);
    let stored_tests = tests_of(&file);
    let fresh_tests = tests_of(&fresh);
    let again_tests = tests_of(&again);
    assert_eq!(
        stored_tests.len(),
        fresh_tests.len(),
        "regenerate: cargo run -p mock-idp --example vectors"
    );
    let mut randomized = 0;
    for ((alg, s), ((_, f), (_, a))) in stored_tests
        .iter()
        .zip(fresh_tests.iter().zip(&again_tests))
    {
        let deterministic = f["token"] == a["token"];
        assert_eq!(
            metadata(s, deterministic),
            metadata(f, deterministic),
            "{alg} vector {} differs from the catalogue",
            s["tcId"]
        );
        if deterministic {
            assert_eq!(s["token"], f["token"], "{alg} {}", s["name"]);
        } else {
            randomized += 1;
        }
    }
    assert!(
        randomized > 0 && randomized < stored_tests.len() / 2,
        "{randomized}"
    );
    // Everything but the test groups is fixed.
    let header = |v: &Value| {
        let mut v = v.clone();
        v.as_object_mut().unwrap().remove("testGroups");
        v
    };
    assert_eq!(header(&file), header(&fresh));
    // The whole catalogue is in the file: on the ES256 victim, and the RSA-only attacks on
    // the RS256 one.
    let names: BTreeSet<&str> = stored_tests
        .iter()
        .map(|(_, t)| t["name"].as_str().unwrap())
        .collect();
    for attack in Attack::catalogue() {
        assert!(names.contains(attack.name().as_str()), "{}", attack.name());
    }
}

#[test]
fn every_stored_token_still_has_its_defect() {
    let (file, _) = stored();
    let keys = keys();
    let strict = strict_verifier(&keys);
    let low_s = strict_verifier(&keys).require_low_s(true);
    let mut acceptable = 0;
    for (alg, t) in tests_of(&file) {
        let token = t["token"].as_str().unwrap();
        let what = format!("{alg} {} {}", t["tcId"], t["name"]);
        let result = t["result"].as_str().unwrap();
        match [Expected::Invalid, Expected::Acceptable]
            .into_iter()
            .find(|e| e.as_str() == result)
        {
            Some(Expected::Invalid) => {
                assert_eq!(
                    verdict(&strict, token).err().as_deref(),
                    Some(
                        t["error"]
                            .as_str()
                            .expect("invalid vectors name their error")
                    ),
                    "{what}"
                );
            }
            Some(Expected::Acceptable) => {
                acceptable += 1;
                assert!(t["error"].is_null(), "{what}");
                assert_eq!(verdict(&strict, token), Ok(()), "{what}");
                assert_eq!(
                    verdict(&low_s, token),
                    Err("verify: EcdsaRange(HighS)".to_owned()),
                    "{what}: acceptable only because low-S is not required"
                );
            }
            None => panic!("{what}: unexpected result {result}"),
        }
        // Where the token still reads as a JWT, it carries the fixed claims: the defect is
        // in the JOSE layer, never in an expired or foreign claim set.
        if let Ok(jws) = Jws::parse_with(token, &ParseOptions::lenient())
            && let Ok(claims) = jws.claims_lenient()
            && claims.contains("iss")
        {
            assert_eq!(claims.get_str("iss"), Some(ISSUER), "{what}");
            assert_eq!(
                claims.get_first("aud").and_then(Value::as_str),
                Some(AUDIENCE),
                "{what}"
            );
            assert_eq!(
                claims.get("exp").and_then(Value::as_i64),
                Some(vectors::EXPIRES_AT),
                "{what}"
            );
        }
    }
    assert_eq!(acceptable, 2, "high-S on ES256 and ES384");
}
