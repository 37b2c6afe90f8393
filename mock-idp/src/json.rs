//! A JSON object that keeps its members in order, duplicates included.
//!
//! serde_json keeps the last of two equal member names silently; RFC 7515 §4 and RFC 7519 §4
//! make duplicates a reason to refuse (or at least to notice), and the mutation engine must be
//! able to produce them. Parsing records every duplicate name, at any depth, as a path.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Why bytes could not be read as a JSON object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    #[error("not UTF-8")]
    NotUtf8,
    #[error("not JSON: {0}")]
    Syntax(String),
    #[error("JSON value is not an object")]
    NotObject,
}

/// An ordered JSON object whose member list may contain the same name twice.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JsonObject {
    members: Vec<(String, Value)>,
    /// Paths of duplicate member names found while parsing (`alg`, `cnf.jkt`, `keys[0].kid`).
    duplicates: Vec<String>,
}

impl JsonObject {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses bytes that must hold one JSON object.
    pub fn parse(bytes: &[u8]) -> Result<Self, JsonError> {
        let text = std::str::from_utf8(bytes).map_err(|_| JsonError::NotUtf8)?;
        let mut duplicates = Vec::new();
        let mut not_object = false;
        let mut de = serde_json::Deserializer::from_str(text);
        let members = TopLevel {
            duplicates: &mut duplicates,
            not_object: &mut not_object,
        }
        .deserialize(&mut de)
        .map_err(|e| {
            // A flag rather than the error's text: formatting serde_json's message (with its
            // line and column) is the costliest part of refusing bad input.
            if not_object {
                JsonError::NotObject
            } else {
                JsonError::Syntax(e.to_string())
            }
        })?;
        de.end().map_err(|e| JsonError::Syntax(e.to_string()))?;
        Ok(Self {
            members,
            duplicates,
        })
    }

    /// Builds an object from a serde_json map (no duplicates possible).
    pub fn from_map(map: Map<String, Value>) -> Self {
        Self {
            members: map.into_iter().collect(),
            duplicates: Vec::new(),
        }
    }

    /// Paths of duplicate member names seen while parsing.
    pub fn duplicates(&self) -> &[String] {
        &self.duplicates
    }

    /// The value of the *last* member with this name: what most JSON libraries resolve to.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.members
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// The value of the *first* member with this name: what a first-wins parser sees.
    pub fn get_first(&self, name: &str) -> Option<&Value> {
        self.members.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// Every value given for this name, in document order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.members
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v)
    }

    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_str)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.members.iter().any(|(k, _)| k == name)
    }

    /// Sets a member, replacing every existing member of that name in place (or appending).
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<Value>) {
        let name = name.into();
        let value = value.into();
        match self.members.iter().position(|(k, _)| *k == name) {
            Some(i) => {
                self.members[i].1 = value;
                let mut seen = false;
                self.members.retain(|(k, _)| {
                    if *k != name {
                        return true;
                    }
                    let keep = !seen;
                    seen = true;
                    keep
                });
            }
            None => self.members.push((name, value)),
        }
    }

    /// Appends a member even if the name exists: produces a duplicate on purpose.
    pub fn push_duplicate(&mut self, name: impl Into<String>, value: impl Into<Value>) {
        self.members.push((name.into(), value.into()));
    }

    /// Removes every member of that name; returns the last removed value.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let mut last = None;
        self.members.retain_mut(|(k, v)| {
            if k == name {
                last = Some(std::mem::take(v));
                false
            } else {
                true
            }
        });
        last
    }

    pub fn members(&self) -> &[(String, Value)] {
        &self.members
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// A serde_json map (last occurrence wins).
    pub fn to_map(&self) -> Map<String, Value> {
        self.members.iter().cloned().collect()
    }

    /// Compact serialisation, in member order, duplicates kept.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 * self.members.len() + 2);
        out.push(b'{');
        for (i, (k, v)) in self.members.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            // Writing a String or Value into a Vec cannot fail.
            serde_json::to_writer(&mut out, k).expect("string serialises");
            out.push(b':');
            serde_json::to_writer(&mut out, v).expect("value serialises");
        }
        out.push(b'}');
        out
    }
}

impl fmt::Display for JsonObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

impl From<Map<String, Value>> for JsonObject {
    fn from(map: Map<String, Value>) -> Self {
        Self::from_map(map)
    }
}

const NOT_OBJECT: &str = "expected a JSON object";

struct TopLevel<'a> {
    duplicates: &'a mut Vec<String>,
    /// Set when the top-level value is refused for not being an object.
    not_object: &'a mut bool,
}

impl TopLevel<'_> {
    fn refuse<E: de::Error>(self) -> E {
        *self.not_object = true;
        E::custom(NOT_OBJECT)
    }
}

impl<'de> DeserializeSeed<'de> for TopLevel<'_> {
    type Value = Vec<(String, Value)>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopLevel<'_> {
    type Value = Vec<(String, Value)>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(NOT_OBJECT)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members: Vec<(String, Value)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if members.iter().any(|(k, _)| *k == key) {
                self.duplicates.push(key.clone());
            }
            let value = map.next_value_seed(Nested {
                duplicates: self.duplicates,
                path: Path::Member {
                    parent: None,
                    name: &key,
                },
            })?;
            members.push((key, value));
        }
        Ok(members)
    }
    // Any non-object top-level value is refused with a recognisable message.
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Err(self.refuse())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Err(self.refuse())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Err(self.refuse())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Err(self.refuse())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Err(self.refuse())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(self.refuse())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(self.refuse())
    }
}

/// Where a nested value sits (`cnf.jkt`, `keys[0].kid`). Kept as a chain of borrows on the
/// stack and written out only when a duplicate is found, so valid input builds no path strings.
#[derive(Clone, Copy)]
enum Path<'p> {
    Member {
        parent: Option<&'p Path<'p>>,
        name: &'p str,
    },
    Index {
        parent: &'p Path<'p>,
        index: usize,
    },
}

impl Path<'_> {
    fn render(&self) -> String {
        let mut out = String::new();
        self.write_to(&mut out);
        out
    }

    fn write_to(&self, out: &mut String) {
        use std::fmt::Write as _;
        match self {
            Path::Member { parent: None, name } => out.push_str(name),
            Path::Member {
                parent: Some(parent),
                name,
            } => {
                parent.write_to(out);
                out.push('.');
                out.push_str(name);
            }
            Path::Index { parent, index } => {
                parent.write_to(out);
                // Writing into a String cannot fail.
                let _ = write!(out, "[{index}]");
            }
        }
    }
}

/// Builds a `serde_json::Value`, recording duplicate member names below the top level.
struct Nested<'a, 'p> {
    duplicates: &'a mut Vec<String>,
    path: Path<'p>,
}

impl<'de> DeserializeSeed<'de> for Nested<'_, '_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Nested<'_, '_> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        let mut i = 0usize;
        while let Some(v) = seq.next_element_seed(Nested {
            duplicates: self.duplicates,
            path: Path::Index {
                parent: &self.path,
                index: i,
            },
        })? {
            items.push(v);
            i += 1;
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = Path::Member {
                parent: Some(&self.path),
                name: &key,
            };
            if out.contains_key(&key) {
                self.duplicates.push(path.render());
            }
            let v = map.next_value_seed(Nested {
                duplicates: self.duplicates,
                path,
            })?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Spec §3.3 tp-json-dupes.
    #[test]
    fn duplicates_are_flagged_and_both_values_kept() {
        let o = JsonObject::parse(br#"{"alg":"RS256","alg":"none"}"#).unwrap();
        assert_eq!(o.duplicates(), ["alg"]);
        assert_eq!(o.get_str("alg"), Some("none"));
        assert_eq!(o.get_first("alg").and_then(Value::as_str), Some("RS256"));
        assert_eq!(o.get_all("alg").count(), 2);
        assert_eq!(o.to_bytes(), br#"{"alg":"RS256","alg":"none"}"#);
    }

    #[test]
    fn nested_duplicates_have_paths() {
        let o = JsonObject::parse(br#"{"cnf":{"jkt":"a","jkt":"b"},"k":[{"x":1,"x":2}]}"#).unwrap();
        assert_eq!(o.duplicates(), ["cnf.jkt", "k[0].x"]);
        let deep = JsonObject::parse(br#"{"a":[1,[{"b":{"c":1,"c":{"d":0,"d":1}}}]],"a":2}"#);
        assert_eq!(
            deep.unwrap().duplicates(),
            ["a[1][0].b.c", "a[1][0].b.c.d", "a"]
        );
    }

    #[test]
    fn non_objects_and_garbage_are_refused_by_kind() {
        assert_eq!(JsonObject::parse(b"[1]"), Err(JsonError::NotObject));
        assert_eq!(JsonObject::parse(b"\"x\""), Err(JsonError::NotObject));
        assert_eq!(JsonObject::parse(b"\xff"), Err(JsonError::NotUtf8));
        assert!(matches!(JsonObject::parse(b"{"), Err(JsonError::Syntax(_))));
        assert!(matches!(
            JsonObject::parse(b"{} x"),
            Err(JsonError::Syntax(_))
        ));
        assert!(matches!(
            JsonObject::parse(br#"{"exp":1e400}"#),
            Err(JsonError::Syntax(_))
        ));
    }

    #[test]
    fn set_replaces_all_occurrences_and_remove_drops_them() {
        let mut o = JsonObject::parse(br#"{"a":1,"b":2,"a":3}"#).unwrap();
        o.set("a", 9);
        assert_eq!(o.to_bytes(), br#"{"a":9,"b":2}"#);
        o.push_duplicate("b", 5);
        assert_eq!(o.remove("b"), Some(Value::from(5)));
        assert_eq!(o.to_bytes(), br#"{"a":9}"#);
    }
}
