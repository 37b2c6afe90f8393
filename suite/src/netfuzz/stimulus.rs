//! What the network fuzzer sends: malformed credentials as structured values, so proptest can
//! shrink a failing one part by part (a shorter `kid`, fewer claims, a plainer scheme).
//!
//! No stimulus carries a signature by a key the target trusts, so a correct target refuses
//! every one of them (spec rs-auth-malformed-credentials, rs-not-a-jwt, rs-dpop-fuzz).

use std::fmt;

use mock_idp::b64;
use proptest::prelude::*;
use serde_json::Value;

/// How a JWT-shaped credential is laid out on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `header.payload.signature`.
    Compact,
    /// `header.payload` (two segments).
    NoSignature,
    /// `header.payload.signature.extra` (four segments).
    ExtraSegment,
    /// Every segment padded with `=`.
    Padded,
    /// The header segment in the standard alphabet with `+` and `/`.
    StandardAlphabet,
}

/// A JWT-shaped credential: a JOSE header and claims of odd values, a signature of random bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct JwtShape {
    pub alg: String,
    pub typ: Option<String>,
    pub kid: Option<String>,
    /// Further header members.
    pub header: Vec<(String, Value)>,
    pub claims: Vec<(String, Value)>,
    pub signature: Vec<u8>,
    pub layout: Layout,
}

impl JwtShape {
    fn header_json(&self) -> String {
        let mut members = vec![format!("\"alg\":{}", Value::from(self.alg.as_str()))];
        if let Some(typ) = &self.typ {
            members.push(format!("\"typ\":{}", Value::from(typ.as_str())));
        }
        if let Some(kid) = &self.kid {
            members.push(format!("\"kid\":{}", Value::from(kid.as_str())));
        }
        members.extend(
            self.header
                .iter()
                .map(|(k, v)| format!("{}:{v}", Value::from(k.as_str()))),
        );
        format!("{{{}}}", members.join(","))
    }

    fn claims_json(&self) -> String {
        let members: Vec<String> = self
            .claims
            .iter()
            .map(|(k, v)| format!("{}:{v}", Value::from(k.as_str())))
            .collect();
        format!("{{{}}}", members.join(","))
    }

    /// The credential text.
    pub fn render(&self) -> String {
        let header = b64::encode(self.header_json());
        let claims = b64::encode(self.claims_json());
        let signature = b64::encode(&self.signature);
        match self.layout {
            Layout::Compact => format!("{header}.{claims}.{signature}"),
            Layout::NoSignature => format!("{header}.{claims}"),
            Layout::ExtraSegment => format!("{header}.{claims}.{signature}.{signature}"),
            Layout::Padded => {
                let pad = |s: String| {
                    let n = (4 - s.len() % 4) % 4;
                    s + &"=".repeat(n)
                };
                format!("{}.{}.{}", pad(header), pad(claims), pad(signature))
            }
            Layout::StandardAlphabet => format!(
                "{}.{claims}.{signature}",
                header.replace('-', "+").replace('_', "/")
            ),
        }
    }
}

/// The token part of a credential.
#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    /// Printable text that is not a JWT.
    Garbage(String),
    Jwt(JwtShape),
}

impl Token {
    pub fn render(&self) -> String {
        match self {
            Token::Garbage(text) => text.clone(),
            Token::Jwt(shape) => shape.render(),
        }
    }
}

/// One request's credentials: an `Authorization` field and maybe a `DPoP` field.
#[derive(Debug, Clone, PartialEq)]
pub struct Stimulus {
    /// The auth-scheme as sent (`Bearer`, `bearer`, `DPoP`, …).
    pub scheme: String,
    /// Spaces between scheme and token (RFC 6750: exactly one is the norm; more is malformed).
    pub spaces: usize,
    pub token: Token,
    /// A `DPoP` header field value.
    pub dpop: Option<Token>,
}

impl Stimulus {
    /// The `Authorization` field value.
    pub fn authorization(&self) -> String {
        format!(
            "{}{}{}",
            self.scheme,
            " ".repeat(self.spaces),
            self.token.render()
        )
    }

    /// The `DPoP` field value, if any.
    pub fn dpop(&self) -> Option<String> {
        self.dpop.as_ref().map(Token::render)
    }

    /// The header fields, in order.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![("authorization", self.authorization())];
        if let Some(dpop) = self.dpop() {
            headers.push(("dpop", dpop));
        }
        headers
    }
}

impl Stimulus {
    /// The credential decoded for a reader: the JWT's header and claims, signature size and
    /// layout, or "text" for a token that is not JWT-shaped.
    pub fn describe(&self) -> String {
        let token = |t: &Token| match t {
            Token::Garbage(text) => format!("{}-byte text", text.len()),
            Token::Jwt(shape) => format!(
                "JWT header {} claims {}, {}-byte signature, {:?} layout",
                shape.header_json(),
                shape.claims_json(),
                shape.signature.len(),
                shape.layout
            ),
        };
        let mut out = format!(
            "scheme {:?} + {} space(s) + {}",
            self.scheme,
            self.spaces,
            token(&self.token)
        );
        if let Some(dpop) = &self.dpop {
            out.push_str(&format!("; DPoP: {}", token(dpop)));
        }
        out
    }
}

impl fmt::Display for Stimulus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, value)) in self.headers().iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{name}: {value}")?;
        }
        Ok(())
    }
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1.0e300f64..1.0e300).prop_map(Value::from),
        "[ -~]{0,24}".prop_map(Value::from),
        prop::collection::vec("[a-z]{0,6}".prop_map(Value::from), 0..3).prop_map(Value::Array),
    ]
}

fn members(names: &'static [&'static str]) -> impl Strategy<Value = Vec<(String, Value)>> {
    prop::collection::vec(
        (
            prop_oneof![
                prop::sample::select(names).prop_map(str::to_owned),
                "[a-z_]{1,8}"
            ],
            json_leaf(),
        ),
        0..5,
    )
}

const ALGS: &[&str] = &[
    "ES256", "RS256", "PS256", "EdDSA", "ES384", "HS256", "none", "None", "", "ES999",
];
const HEADER_NAMES: &[&str] = &["crit", "jku", "x5u", "jwk", "cty", "x5c", "zip", "b64"];
const CLAIM_NAMES: &[&str] = &[
    "iss",
    "aud",
    "sub",
    "exp",
    "nbf",
    "iat",
    "jti",
    "scope",
    "client_id",
    "cnf",
    "azp",
];
const SCHEMES: &[&str] = &["Bearer", "bearer", "BEARER", "DPoP", "Basic", "Token", ""];

fn layout() -> impl Strategy<Value = Layout> {
    prop_oneof![
        6 => Just(Layout::Compact),
        1 => Just(Layout::NoSignature),
        1 => Just(Layout::ExtraSegment),
        1 => Just(Layout::Padded),
        1 => Just(Layout::StandardAlphabet),
    ]
}

/// JWT-shaped tokens: parseable often, so the target's deeper checks are reached.
pub fn jwt_shape() -> impl Strategy<Value = JwtShape> {
    (
        prop_oneof![
            4 => prop::sample::select(ALGS).prop_map(str::to_owned),
            // Any characters: byte-slicing validators trip over multi-byte ones.
            1 => "\\PC{0,4}",
        ],
        prop::option::of(prop_oneof![
            Just("at+jwt".to_owned()),
            Just("JWT".to_owned()),
            Just("dpop+jwt".to_owned()),
            "[ -~]{0,12}",
        ]),
        prop::option::of("[A-Za-z0-9_-]{0,160}"),
        members(HEADER_NAMES),
        members(CLAIM_NAMES),
        prop::collection::vec(any::<u8>(), 0..96),
        layout(),
    )
        .prop_map(
            |(alg, typ, kid, header, claims, signature, layout)| JwtShape {
                alg,
                typ,
                kid,
                header,
                claims,
                signature,
                layout,
            },
        )
}

fn token() -> impl Strategy<Value = Token> {
    prop_oneof![
        3 => jwt_shape().prop_map(Token::Jwt),
        1 => "[!-~]{0,64}".prop_map(Token::Garbage),
        1 => "[ -~]{0,256}".prop_map(Token::Garbage),
    ]
}

/// Every stimulus the fuzzer sends.
pub fn stimulus() -> impl Strategy<Value = Stimulus> {
    (
        prop_oneof![
            4 => Just("Bearer".to_owned()),
            1 => prop::sample::select(SCHEMES).prop_map(str::to_owned),
        ],
        prop_oneof![4 => Just(1usize), 1 => 0usize..4],
        token(),
        prop::option::weighted(0.25, token()),
    )
        .prop_map(|(scheme, spaces, token, dpop)| Stimulus {
            scheme,
            spaces,
            token,
            dpop,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    #[test]
    fn stimuli_are_valid_header_values_and_never_signed() {
        let mut runner = TestRunner::deterministic();
        for _ in 0..500 {
            let s = stimulus().new_tree(&mut runner).unwrap().current();
            for (_, value) in s.headers() {
                assert!(value.bytes().all(|b| b == b' ' || b.is_ascii_graphic()));
            }
        }
    }

    #[test]
    fn a_compact_shape_parses_as_a_jws() {
        let shape = JwtShape {
            alg: "ES256".into(),
            typ: Some("at+jwt".into()),
            kid: Some("k".repeat(70)),
            header: vec![],
            claims: vec![("sub".into(), Value::from("a"))],
            signature: vec![1; 64],
            layout: Layout::Compact,
        };
        let jws = mock_idp::jws::Jws::parse(&shape.render()).unwrap();
        assert_eq!(jws.kid().map(str::len), Some(70));
    }
}
