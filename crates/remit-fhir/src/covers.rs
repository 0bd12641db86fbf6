//! The quick form of [`crate::parse_strict`]'s check: does the model's value, as it would serialise, keep every
//! element of the input? Serialising the model into a JSON tree and comparing the trees (the full check) costs more
//! than parsing; this walks the input alongside the serialisation instead, building nothing.
//!
//! It answers only "certainly kept" or "not sure": anything it does not follow exactly as `serde_json::to_value`
//! would (enum variants with content, tuple variants, maps with more than 64 keys, …) is "not sure", and the full
//! check decides. So a body it passes is one the full check passes: for every object of the input that serialises as
//! an object, no member is null and every member's key is written, its value checked the same way; for every array
//! that serialises as an array, each element of both is checked pairwise.

use std::borrow::Cow;

use serde::Serialize;
use serde::ser::{self, Impossible, SerializeMap, SerializeStruct};
use serde_json::Value;

use crate::Json;

/// Whether `value`, serialised, certainly keeps every element of `input` (see the module comment).
pub(crate) fn covers<T: Serialize>(input: &Json<'_>, value: &T) -> bool {
    value.serialize(Covers(Some(input))).is_ok()
}

/// "Not sure": the full check decides.
#[derive(Debug)]
pub(crate) struct Miss;

impl std::fmt::Display for Miss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not certainly kept")
    }
}

impl std::error::Error for Miss {}

impl ser::Error for Miss {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Miss
    }
}

/// Serialises into nothing, checking against the input at the same place (none: nothing there to keep).
struct Covers<'a>(Option<&'a Json<'a>>);

impl Covers<'_> {
    /// A value written as an object or array where the input has one is not followed: not sure.
    fn leaf(&self) -> Result<(), Miss> {
        match self.0 {
            Some(Json::Object(_) | Json::Array(_)) => Err(Miss),
            _ => Ok(()),
        }
    }
}

macro_rules! scalars {
    ($($method:ident: $t:ty),*) => {
        $(fn $method(self, _: $t) -> Result<(), Miss> { Ok(()) })*
    };
}

impl<'a> ser::Serializer for Covers<'a> {
    type Ok = ();
    type Error = Miss;
    type SerializeSeq = Seq<'a>;
    type SerializeTuple = Seq<'a>;
    type SerializeTupleStruct = Seq<'a>;
    type SerializeTupleVariant = Impossible<(), Miss>;
    type SerializeMap = Obj<'a>;
    type SerializeStruct = Obj<'a>;
    type SerializeStructVariant = Impossible<(), Miss>;

    // A scalar written where the input has an object or array: the full check does not look inside either.
    scalars!(serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
        serialize_i128: i128, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64,
        serialize_u128: u128, serialize_f32: f32, serialize_f64: f64, serialize_char: char, serialize_str: &str,
        serialize_bytes: &[u8], serialize_unit_struct: &'static str);

    fn serialize_none(self) -> Result<(), Miss> {
        Ok(())
    }

    fn serialize_unit(self) -> Result<(), Miss> {
        Ok(())
    }

    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result<(), Miss> {
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Miss> {
        value.serialize(self)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result<(), Miss> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Miss> {
        self.leaf()
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Seq<'a>, Miss> {
        Ok(Seq {
            input: match self.0 {
                Some(Json::Array(items)) => Some(items),
                _ => None,
            },
            next: 0,
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<Seq<'a>, Miss> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Seq<'a>, Miss> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Impossible<(), Miss>, Miss> {
        Err(Miss)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Obj<'a>, Miss> {
        Obj::new(self.0)
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Obj<'a>, Miss> {
        Obj::new(self.0)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Impossible<(), Miss>, Miss> {
        Err(Miss)
    }

    fn collect_str<T: std::fmt::Display + ?Sized>(self, _: &T) -> Result<(), Miss> {
        Ok(())
    }
}

/// An array being written: element `next` is checked against the input's element at the same index, if any.
struct Seq<'a> {
    input: Option<&'a [Json<'a>]>,
    next: usize,
}

impl Seq<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Miss> {
        if let Some(item) = self.input.and_then(|items| items.get(self.next)) {
            value.serialize(Covers(Some(item)))?;
        }
        self.next += 1;
        Ok(())
    }
}

// The three ways serde writes an array, each an element at a time.
macro_rules! arrays {
    ($($kind:ident::$method:ident),*) => {
        $(impl ser::$kind for Seq<'_> {
            type Ok = ();
            type Error = Miss;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Miss> {
                self.element(value)
            }
            fn end(self) -> Result<(), Miss> {
                Ok(())
            }
        })*
    };
}

arrays!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field
);

/// An object being written: which of the input object's members (by position) have been written, and the member a
/// key just written names.
struct Obj<'a> {
    input: Option<&'a [(Cow<'a, str>, Json<'a>)]>,
    written: u64,
    pending: Option<(usize, &'a Json<'a>)>,
}

impl<'a> Obj<'a> {
    fn new(input: Option<&'a Json<'a>>) -> Result<Self, Miss> {
        let input = match input {
            Some(Json::Object(members)) if members.len() > 64 => return Err(Miss),
            Some(Json::Object(members)) => Some(members.as_slice()),
            _ => None,
        };
        Ok(Self {
            input,
            written: 0,
            pending: None,
        })
    }

    /// The input's member called `key`, with its position.
    fn member(&self, key: &str) -> Option<(usize, &'a Json<'a>)> {
        self.input?
            .iter()
            .enumerate()
            .find(|(_, (k, _))| *k == key)
            .map(|(i, (_, v))| (i, v))
    }

    fn write<T: Serialize + ?Sized>(&mut self, member: Option<(usize, &'a Json<'a>)>, value: &T) -> Result<(), Miss> {
        if let Some((i, v)) = member {
            value.serialize(Covers(Some(v)))?;
            self.written |= 1 << i;
        }
        Ok(())
    }

    /// Every member of the input written, none of them null.
    fn finish(self) -> Result<(), Miss> {
        match self.input {
            None => Ok(()),
            Some(members) => {
                let all = if members.len() == 64 {
                    u64::MAX
                } else {
                    (1u64 << members.len()) - 1
                };
                if self.written == all && !members.iter().any(|(_, v)| v.is_null()) {
                    Ok(())
                } else {
                    Err(Miss)
                }
            }
        }
    }
}

impl SerializeMap for Obj<'_> {
    type Ok = ();
    type Error = Miss;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Miss> {
        // Keys as `serde_json` writes them (strings; numbers and booleans as their text).
        let key = key.serialize(serde_json::value::Serializer).map_err(|_| Miss)?;
        let key = match key {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return Err(Miss),
        };
        self.pending = self.member(&key);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Miss> {
        let member = self.pending.take();
        self.write(member, value)
    }
    fn end(self) -> Result<(), Miss> {
        self.finish()
    }
}

impl SerializeStruct for Obj<'_> {
    type Ok = ();
    type Error = Miss;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Miss> {
        let member = self.member(key);
        self.write(member, value)
    }
    fn end(self) -> Result<(), Miss> {
        self.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fhir_model::r4b::resources::{Bundle, Patient, Task};
    use serde_json::json;

    /// Where every object in `v` is, as JSON pointers.
    fn objects(v: &Value, at: String, out: &mut Vec<String>) {
        match v {
            Value::Object(members) => {
                for (k, m) in members {
                    objects(m, format!("{at}/{k}"), out);
                }
                out.push(at);
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    objects(item, format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }

    /// The quick check against the full one, for one body the model parses: it may pass only what the full check
    /// passes. Says whether it passed.
    fn agree<T: serde::de::DeserializeOwned + Serialize>(input: &Value, resource: &str) -> bool {
        let input = &Json::from_value(input);
        let Ok(parsed) = T::deserialize(input) else {
            return false;
        };
        let quick = covers(input, &parsed);
        assert!(
            !quick || crate::kept_whole(input, &parsed, resource).is_ok(),
            "passed quickly but not in full: {input:?}"
        );
        quick
    }

    #[test]
    fn the_quick_check_passes_what_remit_is_sent() {
        assert!(agree::<Bundle>(&crate::obs::tests::bundle(), "Bundle"));
        let task = json!({"resourceType": "Task", "status": "requested", "intent": "order",
            "meta": {"profile": ["http://example.org/task"]}, "note": [{"text": "x"}],
            "extension": [{"url": "http://example.org/e", "valueString": "y"}]});
        assert!(agree::<Task>(&task, "Task"));
        let patient = json!({"resourceType": "Patient", "identifier": [{"system": crate::NHS_NUMBER_SYSTEM,
            "value": "9990002746"}], "name": [{"family": "Jones", "given": ["David"]}], "gender": "male",
            "birthDate": "1948-03-02", "_birthDate": {"extension": [{"url": "http://example.org/t",
            "valueDateTime": "1948-03-02T04:00:00Z"}]}});
        assert!(agree::<Patient>(&patient, "Patient"));
    }

    #[test]
    fn the_quick_check_never_passes_what_the_full_check_refuses() {
        let bundle = crate::obs::tests::bundle();
        let mut places = Vec::new();
        objects(&bundle, String::new(), &mut places);
        assert!(places.len() > 40, "{} objects", places.len());
        for at in &places {
            // An unknown element in each object, and each member of it null in turn.
            let mut doc = bundle.clone();
            doc.pointer_mut(at)
                .and_then(Value::as_object_mut)
                .expect("an object")
                .insert("colour".into(), json!("red"));
            assert!(!agree::<Bundle>(&doc, "Bundle"), "an unknown element at `{at}` passed");
            assert!(crate::parse_strict::<Bundle>(&Json::from_value(&doc), "Bundle").is_err());
            let keys: Vec<String> = bundle
                .pointer(at)
                .and_then(Value::as_object)
                .expect("an object")
                .keys()
                .cloned()
                .collect();
            for k in keys {
                let mut doc = bundle.clone();
                doc.pointer_mut(at)
                    .and_then(Value::as_object_mut)
                    .expect("an object")
                    .insert(k.clone(), Value::Null);
                assert!(!agree::<Bundle>(&doc, "Bundle"), "`{at}/{k}` null passed");
            }
        }
    }
}
