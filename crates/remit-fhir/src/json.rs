//! A FHIR request body read once, into a tree that borrows its strings from the body.
//!
//! [`Json`] keeps an object's members in order in a `Vec` (no hashing, unlike `serde_json::Value` with the
//! `preserve_order` feature the policy engine's crates turn on), borrows every string without an escape from the
//! body, and is itself a `Deserializer`: the FHIR model's check reads from it without a copy of a string, and the
//! set, task or request is then read from the same tree (docs/decisions/0006).
//!
//! An object with the same key twice is refused as it is read (RFC 8259 leaves such a document's meaning open; FHIR
//! JSON does not allow it), so a member found by [`Json::get`] is the only one of its name.

use std::borrow::Cow;
use std::fmt;

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::forward_to_deserialize_any;
use serde_json::{Number, Value};

/// A JSON document whose strings borrow from the text it was read from where they can (those with an escape are
/// owned).
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    /// Members in the order written, no key twice.
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

static NULL: Json<'static> = Json::Null;

impl<'a> Json<'a> {
    /// Reads a document from `text`.
    pub fn parse(text: &'a [u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(text)
    }

    /// The same document, borrowing from `value` (for checking JSON remit built itself).
    pub fn from_value(value: &'a Value) -> Self {
        match value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => Json::Number(n.clone()),
            Value::String(s) => Json::String(Cow::Borrowed(s)),
            Value::Array(items) => Json::Array(items.iter().map(Json::from_value).collect()),
            Value::Object(members) => Json::Object(
                members
                    .iter()
                    .map(|(k, v)| (Cow::Borrowed(k.as_str()), Json::from_value(v)))
                    .collect(),
            ),
        }
    }

    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        match self {
            Json::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The element at a JSON pointer (`/request/method`); as `Value::pointer`, without `~` escapes.
    pub fn pointer(&self, pointer: &str) -> Option<&Json<'a>> {
        let mut here = self;
        for step in pointer.strip_prefix('/')?.split('/') {
            here = match here {
                Json::Object(_) => here.get(step)?,
                Json::Array(items) => items.get(step.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(here)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Json<'a>]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Number(n) => n.as_f64(),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }
}

/// As `Value`'s indexing: a missing member, or indexing what is not an object, gives `Null`.
impl<'a> std::ops::Index<&str> for Json<'a> {
    type Output = Json<'a>;
    fn index(&self, key: &str) -> &Json<'a> {
        self.get(key).unwrap_or(&NULL)
    }
}

impl<'a> std::ops::Index<usize> for Json<'a> {
    type Output = Json<'a>;
    fn index(&self, i: usize) -> &Json<'a> {
        self.as_array().and_then(|items| items.get(i)).unwrap_or(&NULL)
    }
}

impl<'de> de::Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Reading)
    }
}

/// Builds a [`Json`] from what a parser reads.
struct Reading;

impl<'de> Visitor<'de> for Reading {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Json<'de>, E> {
        Number::from_f64(n)
            .map(Json::Number)
            .ok_or_else(|| E::custom("a number must be finite"))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s)))
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Json<'de>, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut members: Vec<(Cow<'de, str>, Json<'de>)> = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
        while let Some(Key(key)) = map.next_key()? {
            let value = map.next_value()?;
            members.push((key, value));
        }
        if let Some(twice) = repeated_key(&members) {
            return Err(de::Error::custom(format_args!(
                "the key `{}` appears twice in one object",
                clipped(twice)
            )));
        }
        Ok(Json::Object(members))
    }
}

/// A key as long as an error message should quote.
fn clipped(key: &str) -> &str {
    match key.char_indices().nth(64) {
        Some((end, _)) => &key[..end],
        None => key,
    }
}

/// The first key that an object has twice. Small objects (every FHIR element) are compared pairwise; large ones
/// sorted, so that a hostile body of many keys costs `n log n`.
fn repeated_key<'k>(members: &'k [(Cow<'_, str>, Json<'_>)]) -> Option<&'k str> {
    if members.len() <= 16 {
        return members
            .iter()
            .enumerate()
            .find(|(i, (k, _))| members[..*i].iter().any(|(earlier, _)| earlier == k))
            .map(|(_, (k, _))| k.as_ref());
    }
    let mut keys: Vec<&str> = members.iter().map(|(k, _)| k.as_ref()).collect();
    keys.sort_unstable();
    keys.windows(2).find(|w| w[0] == w[1]).map(|w| w[0])
}

/// An object's key, borrowed from the text where it can be.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// The model (or anything) read from the tree, strings borrowed from it, as `serde_json` reads from a `&Value`.
impl<'de> Deserializer<'de> for &'de Json<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self {
            Json::Null => visitor.visit_unit(),
            Json::Bool(b) => visitor.visit_bool(*b),
            Json::Number(n) => n.deserialize_any(visitor),
            Json::String(s) => visitor.visit_borrowed_str(s),
            Json::Array(items) => {
                let mut seq = Items(items.iter());
                let value = visitor.visit_seq(&mut seq)?;
                match seq.0.len() {
                    0 => Ok(value),
                    _ => Err(de::Error::invalid_length(items.len(), &"fewer elements in the array")),
                }
            }
            Json::Object(members) => {
                let mut map = Members {
                    members: members.iter(),
                    value: None,
                };
                let value = visitor.visit_map(&mut map)?;
                match map.members.len() {
                    0 => Ok(value),
                    _ => Err(de::Error::invalid_length(members.len(), &"fewer members in the object")),
                }
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self {
            Json::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self {
            Json::String(s) => visitor.visit_enum(BorrowedStrDeserializer::new(s)),
            Json::Object(members) if members.len() == 1 => {
                visitor.visit_enum(de::value::MapAccessDeserializer::new(Members {
                    members: members.iter(),
                    value: None,
                }))
            }
            _ => Err(de::Error::invalid_type(
                self.unexpected(),
                &"a string or an object of one member",
            )),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_unit()
    }

    fn is_human_readable(&self) -> bool {
        true
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit unit_struct seq
        tuple tuple_struct map struct identifier
    }
}

impl<'de> IntoDeserializer<'de, serde_json::Error> for &'de Json<'de> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl Json<'_> {
    /// What an error says was found instead.
    fn unexpected(&self) -> de::Unexpected<'_> {
        match self {
            Json::Null => de::Unexpected::Unit,
            Json::Bool(b) => de::Unexpected::Bool(*b),
            Json::Number(_) => de::Unexpected::Other("a number"),
            Json::String(s) => de::Unexpected::Str(s),
            Json::Array(_) => de::Unexpected::Seq,
            Json::Object(_) => de::Unexpected::Map,
        }
    }
}

/// An array's elements, read in turn.
struct Items<'de>(std::slice::Iter<'de, Json<'de>>);

impl<'de> SeqAccess<'de> for Items<'de> {
    type Error = serde_json::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Self::Error> {
        self.0.next().map(|item| seed.deserialize(item)).transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

/// An object's members, read in turn: the key (borrowed), then its value.
struct Members<'de> {
    members: std::slice::Iter<'de, (Cow<'de, str>, Json<'de>)>,
    value: Option<&'de Json<'de>>,
}

impl<'de> MapAccess<'de> for Members<'de> {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Self::Error> {
        match self.members.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(BorrowedStrDeserializer::new(key)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Self::Error> {
        match self.value.take() {
            Some(value) => seed.deserialize(value),
            None => Err(de::Error::custom("a value was read before its key")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.members.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[test]
    fn strings_without_escapes_are_borrowed_from_the_text() {
        let text = br#"{"a": "plain", "b": "esc\"aped", "c": [1, -2, 3.5, true, null]}"#;
        let doc = Json::parse(text).unwrap();
        assert!(matches!(doc.get("a"), Some(Json::String(Cow::Borrowed("plain")))));
        assert!(matches!(doc.get("b"), Some(Json::String(Cow::Owned(s))) if s == "esc\"aped"));
        assert_eq!(doc["c"][2].as_f64(), Some(3.5));
        assert!(doc["c"][4].is_null() && doc["missing"].is_null() && doc["a"]["x"].is_null());
        assert!(matches!(doc.pointer("/c/3"), Some(Json::Bool(true))));
    }

    #[test]
    fn a_key_twice_in_one_object_is_refused_small_or_large() {
        let e = Json::parse(br#"{"a": 1, "b": {"k": 1, "k": 2}}"#).unwrap_err();
        assert!(e.to_string().contains("the key `k` appears twice"), "{e}");
        let mut many: Vec<String> = (0..40).map(|i| format!("\"k{i}\": {i}")).collect();
        many.push("\"k7\": 0".into());
        let text = format!("{{{}}}", many.join(","));
        assert!(Json::parse(text.as_bytes()).unwrap_err().to_string().contains("`k7`"));
        let once: Vec<String> = (0..40).map(|i| format!("\"k{i}\": {i}")).collect();
        assert!(Json::parse(format!("{{{}}}", once.join(",")).as_bytes()).is_ok());
    }

    #[test]
    fn types_read_from_the_tree_as_from_a_value() {
        #[derive(Debug, PartialEq, serde::Deserialize)]
        #[serde(tag = "kind")]
        enum Shape {
            Circle { r: f64, tags: Option<Vec<String>> },
            Unit,
        }
        #[derive(Debug, PartialEq, serde::Deserialize)]
        enum Colour {
            Red,
            Mix(u8),
        }
        for v in [
            json!({"kind": "Circle", "r": 2, "tags": ["x", "y"]}),
            json!({"kind": "Circle", "r": 2.5, "tags": null}),
            json!({"kind": "Unit"}),
            json!({"kind": "Square"}),
            json!({"kind": "Circle", "r": "two"}),
            json!([1, 2]),
        ] {
            // Accepted and refused alike (the words of a refusal may differ), and read alike.
            let from_tree = Shape::deserialize(&Json::from_value(&v));
            let from_value = Shape::deserialize(&v);
            assert_eq!(from_tree.is_ok(), from_value.is_ok(), "{v}");
            assert_eq!(from_tree.ok(), from_value.ok(), "{v}");
        }
        for v in [
            json!("Red"),
            json!({"Mix": 3}),
            json!({"Mix": 300}),
            json!("Blue"),
            json!(1),
        ] {
            let from_tree = Colour::deserialize(&Json::from_value(&v));
            let from_value = Colour::deserialize(&v);
            assert_eq!(from_tree.is_ok(), from_value.is_ok(), "{v}");
            assert_eq!(from_tree.ok(), from_value.ok(), "{v}");
        }
    }
}
