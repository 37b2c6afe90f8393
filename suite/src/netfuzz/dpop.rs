//! Mutated DPoP proofs (spec rs-dpop-fuzz), for targets that advertise DPoP.
//!
//! Every input is one mutation of a fresh valid proof `P` for a fresh DPoP-bound token `Vd`
//! (new `jti`, `iat` of the target's clock, its latest nonce): at the JSON level (member
//! deletion, type swaps, unicode, padding up to [`MAX_PADDING`], member order, whitespace,
//! escapes), re-signed with `K_c` so the signature still verifies and the target must judge
//! the members; or at the byte level, on the compact proof after signing.
//!
//! Oracle: never 5xx, never unanswered past the deadline, and [A] only when the mutation
//! preserves the proof's meaning. That is computed on the concrete bytes, not listed by hand
//! ([`preserves_meaning`]): the decoded header and claims equal the original's as JSON values
//! (RFC 8259: member order and whitespace carry no meaning, `\u` escapes denote the same
//! string), up to a different non-empty `jti` (any unique string will do, RFC 9449 §4.2) and
//! the padding member (RFC 9449 §4.2 lets proofs carry further members); or, at the byte
//! level, every segment decodes to the same bytes.

use std::sync::{Arc, Mutex};

use mock_idp::keys::SigningKey;
use mock_idp::{b64, jws};
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;
use reqwest::header::HeaderMap;
use serde_json::{Map, Value};

use super::claims::accepted_control;
use super::{NotApplicable, Probe, Rendered, Violation};
use crate::engine::context::Context;
use crate::model::Verdict;

/// Largest padding member: keeps the compact proof (base64url, 4/3 larger) under 1 MB.
pub const MAX_PADDING: usize = 750 * 1024;
/// Name of the padding member (unknown to any profile).
pub const PADDING_MEMBER: &str = "x-mcp-authspec-padding";

/// Which JSON object of the proof a mutation edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Header,
    Claims,
}

/// JSON whitespace written around every structural character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spacing {
    Space,
    Newline,
    Tab,
    CarriageReturn,
}

impl Spacing {
    fn text(self) -> &'static str {
        match self {
            Spacing::Space => " ",
            Spacing::Newline => "\n",
            Spacing::Tab => "\t",
            Spacing::CarriageReturn => "\r\n",
        }
    }
}

/// A value of another JSON type (or another string) put in place of a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replacement {
    Null,
    True,
    False,
    Zero,
    Float,
    EmptyString,
    JwtTool,
    EmptyArray,
    EmptyObject,
    /// The original value inside an array.
    Wrapped,
}

impl Replacement {
    fn apply(self, original: &Value) -> Value {
        match self {
            Replacement::Null => Value::Null,
            Replacement::True => Value::Bool(true),
            Replacement::False => Value::Bool(false),
            Replacement::Zero => Value::from(0),
            Replacement::Float => Value::from(1.5),
            Replacement::EmptyString => Value::from(""),
            Replacement::JwtTool => Value::from("jwt_tool"),
            Replacement::EmptyArray => Value::Array(Vec::new()),
            Replacement::EmptyObject => Value::Object(Map::new()),
            Replacement::Wrapped => Value::Array(vec![original.clone()]),
        }
    }
}

/// A unicode edit of a string member (a non-string member becomes the edited text of its JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnicodeEdit {
    /// `é` appended.
    AppendAccent,
    /// The first Latin letter replaced by its Cyrillic look-alike (`a` → `а`, `P` → `Р`, …).
    Homoglyph,
    /// A zero-width space inserted after the first character.
    ZeroWidth,
    /// Every ASCII letter and digit in its full-width form.
    FullWidth,
    /// A character outside the BMP (a surrogate pair in UTF-16) appended.
    Astral,
}

impl UnicodeEdit {
    fn apply(self, text: &str) -> String {
        match self {
            UnicodeEdit::AppendAccent => format!("{text}\u{e9}"),
            UnicodeEdit::Homoglyph => {
                let mut done = false;
                text.chars()
                    .map(|c| {
                        let look_alike = match c {
                            'a' => 'а',
                            'e' => 'е',
                            'o' => 'о',
                            'p' => 'р',
                            'c' => 'с',
                            'P' => 'Р',
                            'O' => 'О',
                            'S' => 'Ѕ',
                            'T' => 'Т',
                            _ => c,
                        };
                        if done || look_alike == c {
                            c
                        } else {
                            done = true;
                            look_alike
                        }
                    })
                    .collect()
            }
            UnicodeEdit::ZeroWidth => {
                let mut chars = text.chars();
                let first: String = chars.next().into_iter().collect();
                format!("{first}\u{200b}{}", chars.as_str())
            }
            UnicodeEdit::FullWidth => text
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        char::from_u32(c as u32 - 0x20 + 0xff00).unwrap_or(c)
                    } else {
                        c
                    }
                })
                .collect(),
            UnicodeEdit::Astral => format!("{text}\u{1f511}"),
        }
    }
}

/// A byte-level edit of the compact proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteEdit {
    /// The byte at the index replaced by this printable ASCII byte.
    Replace(u8),
    /// This printable ASCII byte inserted before the index.
    Insert(u8),
    Delete,
}

/// One mutation of a valid proof. Member indexes count the part's members in order, modulo
/// their number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    /// Whitespace around every structural character of the part (meaning kept).
    Whitespace { part: Part, spacing: Spacing },
    /// The part's members rotated left (meaning kept).
    Reorder { part: Part, by: usize },
    /// Every string of the part written as `\u` escapes (meaning kept).
    Escaped { part: Part },
    /// A member left out.
    Delete { part: Part, member: usize },
    /// A member's value replaced.
    Retype {
        part: Part,
        member: usize,
        value: Replacement,
    },
    /// A unicode edit of a member's value.
    Unicode {
        part: Part,
        member: usize,
        edit: UnicodeEdit,
    },
    /// A padding member of this many bytes added (a huge proof).
    Pad { part: Part, bytes: usize },
    /// A byte edit of the compact proof after signing, at this index (modulo its length).
    Byte { index: usize, edit: ByteEdit },
}

fn part() -> impl Strategy<Value = Part> {
    prop_oneof![Just(Part::Header), Just(Part::Claims)]
}

/// Every mutation the fuzzer sends.
pub fn mutation() -> impl Strategy<Value = Mutation> {
    let member = 0usize..8;
    let printable = 0x20u8..=0x7e;
    prop_oneof![
        4 => (part(), member.clone(), prop::sample::select(&[
            Replacement::Null, Replacement::True, Replacement::False, Replacement::Zero,
            Replacement::Float, Replacement::EmptyString, Replacement::JwtTool,
            Replacement::EmptyArray, Replacement::EmptyObject, Replacement::Wrapped,
        ][..]))
            .prop_map(|(part, member, value)| Mutation::Retype { part, member, value }),
        3 => (part(), member.clone())
            .prop_map(|(part, member)| Mutation::Delete { part, member }),
        3 => (part(), member, prop::sample::select(&[
            UnicodeEdit::AppendAccent, UnicodeEdit::Homoglyph, UnicodeEdit::ZeroWidth,
            UnicodeEdit::FullWidth, UnicodeEdit::Astral,
        ][..]))
            .prop_map(|(part, member, edit)| Mutation::Unicode { part, member, edit }),
        4 => (any::<usize>(), prop_oneof![
            printable.clone().prop_map(ByteEdit::Replace),
            printable.prop_map(ByteEdit::Insert),
            Just(ByteEdit::Delete),
        ])
            .prop_map(|(index, edit)| Mutation::Byte { index, edit }),
        2 => (part(), prop::sample::select(&[
            Spacing::Space, Spacing::Newline, Spacing::Tab, Spacing::CarriageReturn,
        ][..]))
            .prop_map(|(part, spacing)| Mutation::Whitespace { part, spacing }),
        2 => (part(), 1usize..8).prop_map(|(part, by)| Mutation::Reorder { part, by }),
        1 => part().prop_map(|part| Mutation::Escaped { part }),
        1 => (part(), prop_oneof![3 => 1usize..8192, 1 => 8192usize..=MAX_PADDING])
            .prop_map(|(part, bytes)| Mutation::Pad { part, bytes }),
    ]
}

/// How one JSON object is written.
#[derive(Debug, Clone, Copy, Default)]
struct Style {
    spacing: &'static str,
    escaped: bool,
}

/// A JSON string with every character as a `\u` escape (UTF-16 code units).
fn escaped_string(text: &str) -> String {
    let mut out = String::from("\"");
    let mut units = [0u16; 2];
    for c in text.chars() {
        for unit in c.encode_utf16(&mut units) {
            out.push_str(&format!("\\u{unit:04x}"));
        }
    }
    out.push('"');
    out
}

fn write_object(members: &[(String, Value)], style: Style) -> String {
    let ws = style.spacing;
    let string = |s: &str| {
        if style.escaped {
            escaped_string(s)
        } else {
            Value::from(s).to_string()
        }
    };
    let body: Vec<String> = members
        .iter()
        .map(|(name, value)| {
            let value = match value {
                Value::String(s) => string(s),
                other => other.to_string(),
            };
            format!("{ws}{}{ws}:{ws}{value}{ws}", string(name))
        })
        .collect();
    format!("{ws}{{{}}}{ws}", body.join(","))
}

/// Whether the mutated objects mean what the originals meant (see the module doc).
pub fn preserves_meaning(original: &Value, mutated: &Value) -> bool {
    let normal = |v: &Value| -> Value {
        let mut v = v.clone();
        if let Some(obj) = v.as_object_mut() {
            obj.remove(PADDING_MEMBER);
            if obj
                .get("jti")
                .and_then(Value::as_str)
                .is_some_and(|j| !j.is_empty())
            {
                obj.insert("jti".into(), Value::from("<any unique string>"));
            }
        }
        v
    };
    normal(original) == normal(mutated)
}

/// Whether the byte-edited proof decodes to the same bytes as the original (non-canonical
/// base64url trailing bits only), as the target reads it (surrounding spaces trimmed).
fn same_bytes(original: &str, mutated: &str) -> bool {
    let decode = |text: &str| -> Option<Vec<Vec<u8>>> {
        let parts: Vec<&str> = text.split('.').collect();
        if parts.len() != 3 {
            return None;
        }
        parts.iter().map(|p| b64::decode_lenient(p).ok()).collect()
    };
    let mutated = mutated.trim_matches([' ', '\t']);
    match (decode(original), decode(mutated)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

fn apply_byte_edit(proof: &str, index: usize, edit: ByteEdit) -> String {
    let mut bytes = proof.as_bytes().to_vec();
    if bytes.is_empty() {
        return proof.to_owned();
    }
    let at = index % bytes.len();
    match edit {
        ByteEdit::Replace(b) => bytes[at] = b,
        ByteEdit::Insert(b) => bytes.insert(at, b),
        ByteEdit::Delete => {
            bytes.remove(at);
        }
    }
    // Only printable ASCII goes in, so the text stays UTF-8.
    String::from_utf8(bytes).unwrap_or_else(|_| proof.to_owned())
}

/// The DPoP strategy against one target.
pub struct DpopProbe {
    ctx: Arc<Context>,
    key: &'static SigningKey,
    /// The target's latest `DPoP-Nonce`, which later proofs carry (RFC 9449 §8).
    nonce: Mutex<Option<String>>,
}

impl DpopProbe {
    /// Applies when the target advertises DPoP (spec §0.1); calibrates (spec §0.4): `V` is
    /// accepted as Bearer (the target trusts the mock IdP), and `Vd` with a valid `P` (after
    /// one nonce round, as a client does) under the DPoP scheme.
    pub async fn prepare(ctx: Arc<Context>, http: &reqwest::Client) -> Result<Self, NotApplicable> {
        if !ctx.dpop_advertised() {
            return Err(NotApplicable {
                verdict: Verdict::Skip,
                reason:
                    "the target does not advertise DPoP (no DPoP challenge, no PRM DPoP members)"
                        .into(),
            });
        }
        let Some(bearer) = ctx.valid_token() else {
            return Err(NotApplicable {
                verdict: Verdict::NotEvaluated,
                reason: "no mock IdP the target trusts: DPoP-bound tokens cannot be minted".into(),
            });
        };
        let alg = ctx.dpop_algs()[0];
        let key = ctx.dpop.key_for(alg).unwrap_or_else(|| ctx.dpop.key());
        let probe = Self {
            ctx,
            key,
            nonce: Mutex::new(None),
        };
        // The Bearer control tells "does not trust the IdP" from "refuses DPoP"; a target
        // that accepts no Bearer token at all (DPoP required) is judged by the DPoP control.
        let bearer_ok = accepted_control(
            &probe.ctx,
            http,
            &[("authorization", format!("Bearer {bearer}"))],
        )
        .await;
        let mut last = String::new();
        for _ in 0..2 {
            let fields = probe.fields(None)?.fields;
            match super::post(http, &probe.ctx.endpoint, &fields).await {
                Ok(Ok(answer)) if answer.accepted() => return Ok(probe),
                Ok(Ok(answer)) => {
                    probe.learn_nonce(Some(&answer.headers));
                    last = format!("HTTP {}", answer.status);
                }
                Ok(Err(e)) | Err(e) => last = e,
            }
        }
        match bearer_ok {
            Err(not_trusted) if not_trusted.verdict == Verdict::NotEvaluated => Err(not_trusted),
            _ => Err(NotApplicable {
                verdict: Verdict::Error,
                reason: format!(
                    "the positive control failed: Vd with a valid proof was not accepted ({})",
                    last
                ),
            }),
        }
    }

    fn learn_nonce(&self, response: Option<&HeaderMap>) {
        if let Some(nonce) = response
            .and_then(|h| h.get("dpop-nonce"))
            .and_then(|v| v.to_str().ok())
        {
            *self.nonce.lock().unwrap_or_else(|p| p.into_inner()) = Some(nonce.to_owned());
        }
    }

    /// `Authorization: DPoP <Vd>` and `DPoP: <P mutated>`, and whether acceptance is allowed.
    fn fields(&self, mutation: Option<&Mutation>) -> Result<Rendered, NotApplicable> {
        let fail = |reason: &str| NotApplicable {
            verdict: Verdict::NotEvaluated,
            reason: reason.to_owned(),
        };
        let spec = self
            .ctx
            .bound_spec(self.key)
            .ok_or_else(|| fail("no mock IdP"))?;
        let token = self.ctx.mint(&spec).ok_or_else(|| fail("no mock IdP"))?;
        let mut builder = self.ctx.proof(&token);
        if let Some(nonce) = self.nonce.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            builder = builder.nonce(&nonce);
        }
        let (header, claims) = builder.parts(self.key);
        let original = [header.members().to_vec(), claims.members().to_vec()];
        let (proof, may_accept) = mutate(&original, mutation, self.key);
        Ok(Rendered {
            fields: vec![("authorization", format!("DPoP {token}")), ("dpop", proof)],
            may_accept,
        })
    }
}

/// The signed proof with the mutation applied, and whether it keeps the proof's meaning.
fn mutate(
    original: &[Vec<(String, Value)>; 2],
    mutation: Option<&Mutation>,
    key: &SigningKey,
) -> (String, bool) {
    let mut parts = original.clone();
    let mut styles = [Style::default(); 2];
    let index = |p: Part| match p {
        Part::Header => 0,
        Part::Claims => 1,
    };
    match mutation {
        None | Some(Mutation::Byte { .. }) => {}
        Some(Mutation::Whitespace { part, spacing }) => {
            styles[index(*part)].spacing = spacing.text()
        }
        Some(Mutation::Reorder { part, by }) => {
            let members = &mut parts[index(*part)];
            if !members.is_empty() {
                let by = by % members.len();
                members.rotate_left(by);
            }
        }
        Some(Mutation::Escaped { part }) => styles[index(*part)].escaped = true,
        Some(Mutation::Delete { part, member }) => {
            let members = &mut parts[index(*part)];
            if !members.is_empty() {
                members.remove(member % members.len());
            }
        }
        Some(Mutation::Retype {
            part,
            member,
            value,
        }) => {
            let members = &mut parts[index(*part)];
            let n = members.len();
            if let Some((_, v)) = members.get_mut(member % n.max(1)) {
                *v = value.apply(v);
            }
        }
        Some(Mutation::Unicode { part, member, edit }) => {
            let members = &mut parts[index(*part)];
            let n = members.len();
            if let Some((_, v)) = members.get_mut(member % n.max(1)) {
                let text = match &*v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                *v = Value::from(edit.apply(&text));
            }
        }
        Some(Mutation::Pad { part, bytes }) => parts[index(*part)].push((
            PADDING_MEMBER.to_owned(),
            Value::from("p".repeat((*bytes).min(MAX_PADDING))),
        )),
    }
    let header = write_object(&parts[0], styles[0]);
    let claims = write_object(&parts[1], styles[1]);
    let signed = jws::sign_raw(header.as_bytes(), claims.as_bytes(), key);
    let as_value = |members: &[(String, Value)]| Value::Object(members.iter().cloned().collect());
    match mutation {
        Some(Mutation::Byte { index, edit }) => {
            let edited = apply_byte_edit(&signed, *index, *edit);
            let same = same_bytes(&signed, &edited);
            (edited, same)
        }
        _ => {
            let reparsed = |text: &str| serde_json::from_str::<Value>(text).ok();
            let keeps = |i: usize, text: &str| {
                reparsed(text).is_some_and(|v| preserves_meaning(&as_value(&original[i]), &v))
            };
            let same = keeps(0, &header) && keeps(1, &claims);
            (signed, same)
        }
    }
}

impl Probe for DpopProbe {
    type Input = Mutation;

    fn strategy(&self) -> BoxedStrategy<Mutation> {
        mutation().boxed()
    }

    fn render(&self, input: &Mutation) -> Result<Rendered, String> {
        self.fields(Some(input)).map_err(|e| e.reason)
    }

    fn after_answer(&self, _input: &Mutation, response: Option<&HeaderMap>) -> Option<Violation> {
        self.learn_nonce(response);
        None
    }

    fn describe(&self, input: &Mutation) -> String {
        format!("Vd with a valid proof mutated: {input:?}")
    }

    fn carries_valid_credentials(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mock_idp::alg::Algorithm;
    use mock_idp::dpop::ProofBuilder;

    fn original(key: &SigningKey) -> [Vec<(String, Value)>; 2] {
        let (h, c) = ProofBuilder::new("POST", "http://127.0.0.1:1/mcp")
            .ath_for("t")
            .parts(key);
        [h.members().to_vec(), c.members().to_vec()]
    }

    #[test]
    fn meaning_is_kept_only_by_layout_and_fresh_jti() {
        let key = SigningKey::generate(Algorithm::Es256).unwrap();
        let o = original(&key);
        let keeps = |m: Mutation| mutate(&o, Some(&m), &key).1;
        assert!(mutate(&o, None, &key).1);
        for part in [Part::Header, Part::Claims] {
            assert!(keeps(Mutation::Whitespace {
                part,
                spacing: Spacing::CarriageReturn
            }));
            assert!(keeps(Mutation::Reorder { part, by: 1 }));
            assert!(keeps(Mutation::Escaped { part }));
            assert!(keeps(Mutation::Pad { part, bytes: 10 }));
            assert!(!keeps(Mutation::Delete { part, member: 1 }));
            assert!(!keeps(Mutation::Retype {
                part,
                member: 1,
                value: Replacement::Null
            }));
        }
        // Claim 0 is jti: another non-empty string is as good.
        let jti = |value| Mutation::Retype {
            part: Part::Claims,
            member: 0,
            value,
        };
        assert!(keeps(jti(Replacement::JwtTool)));
        assert!(!keeps(jti(Replacement::EmptyString)));
        assert!(keeps(Mutation::Unicode {
            part: Part::Claims,
            member: 0,
            edit: UnicodeEdit::Astral
        }));
        // Claim 1 is htm.
        assert!(!keeps(Mutation::Unicode {
            part: Part::Claims,
            member: 1,
            edit: UnicodeEdit::Homoglyph
        }));
        assert!(!keeps(Mutation::Byte {
            index: 5,
            edit: ByteEdit::Delete
        }));
        assert!(!keeps(Mutation::Byte {
            index: 5,
            edit: ByteEdit::Insert(b'.')
        }));
    }

    #[test]
    fn escapes_and_homoglyphs() {
        assert_eq!(escaped_string("P\u{1f511}"), r#""\u0050\ud83d\udd11""#);
        assert_eq!(UnicodeEdit::Homoglyph.apply("POST"), "РOST");
        assert_eq!(UnicodeEdit::FullWidth.apply("a1"), "ａ１");
        let huge = mutate(
            &original(&SigningKey::generate(Algorithm::Es256).unwrap()),
            Some(&Mutation::Pad {
                part: Part::Claims,
                bytes: MAX_PADDING,
            }),
            &SigningKey::generate(Algorithm::Es256).unwrap(),
        )
        .0;
        assert!(huge.len() <= 1024 * 1024, "{}", huge.len());
    }
}
