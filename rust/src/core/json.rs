//! Strict JSON for token headers and payloads (docs/spec.md §4, "Strict JSON").
//!
//! serde_json does the grammar, UTF-8, escapes, lone surrogates and number range; this module
//! adds what it leaves out: duplicate member names at every depth (two parsers reading different
//! values is how python-jwt's claims were forged, CVE-2022-39227) and a depth limit. A member
//! whose type is wrong for its claim does not stop the parse: it is recorded, and the claim check
//! reports it after the whole document has proved to be valid JSON, so that the error class does
//! not depend on where in the document the problem sits.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

pub use serde_json::Error;

/// A member value as claim checks see it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'de> {
    /// A string.
    Str(Cow<'de, str>),
    /// A number, as a double.
    Num(f64),
    /// `true`, `false`, `null`, an array or an object.
    Other,
}

/// Receives the members of a top-level object.
pub trait Members<'de> {
    /// Reads the value of member `key`. `value` deserializes it; `level` is the depth the value
    /// sits at (1 for the top-level object's members' parent) and must be passed on to [`Skip`].
    fn member<D: Deserializer<'de>>(&mut self, key: &str, value: D, limits: Limits) -> Result<(), D::Error>;
}

/// Nesting bound for one document.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Depth of the container holding the value being read (the top-level object is 1).
    pub level: usize,
    /// Deepest container allowed.
    pub max_depth: usize,
}

impl Limits {
    fn enter<E: de::Error>(self) -> Result<Self, E> {
        let level = self.level + 1;
        if level > self.max_depth {
            return Err(E::custom(format_args!("JSON nested deeper than {}", self.max_depth)));
        }
        Ok(Self { level, ..self })
    }
}

/// Parses `text` as a strict JSON object, handing each member to `members`.
pub fn parse_object<'de, M: Members<'de>>(text: &'de str, max_depth: usize, members: M) -> Result<M, Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let members = ObjectSeed {
        members,
        limits: Limits { level: 0, max_depth },
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(members)
}

/// Member names seen in one object. Linear for the handful real tokens carry; hashed (with a
/// keyed hasher, since the names may come from an attacker) past that.
struct Seen<'de> {
    small: Vec<Cow<'de, str>>,
    large: HashSet<Cow<'de, str>>,
}

impl<'de> Seen<'de> {
    const SMALL: usize = 16;

    fn new() -> Self {
        Self {
            small: Vec::new(),
            large: HashSet::new(),
        }
    }

    /// Records `key`; false when it was already there.
    fn insert(&mut self, key: Cow<'de, str>) -> bool {
        if self.large.is_empty() {
            if self.small.contains(&key) {
                return false;
            }
            if self.small.len() < Self::SMALL {
                self.small.push(key);
                return true;
            }
            self.large.extend(self.small.drain(..));
        }
        self.large.insert(key)
    }
}

fn duplicate<E: de::Error>(key: &str) -> E {
    E::custom(format_args!("duplicate member name {:?}", Truncated(key)))
}

struct Truncated<'a>(&'a str);

impl fmt::Display for Truncated<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cut = self.0.char_indices().nth(40).map_or(self.0.len(), |(i, _)| i);
        f.write_str(self.0.get(..cut).unwrap_or_default())
    }
}

impl fmt::Debug for Truncated<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// A member name, borrowed from the input when it has no escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
}

struct ObjectSeed<M> {
    members: M,
    limits: Limits,
}

impl<'de, M: Members<'de>> DeserializeSeed<'de> for ObjectSeed<M> {
    type Value = M;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<M, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, M: Members<'de>> Visitor<'de> for ObjectSeed<M> {
    type Value = M;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<M, A::Error> {
        let limits = self.limits.enter()?;
        let mut seen = Seen::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if !seen.insert(key.clone()) {
                return Err(duplicate(&key));
            }
            map.next_value_seed(MemberSeed {
                members: &mut self.members,
                key: &key,
                limits,
            })?;
        }
        Ok(self.members)
    }
}

struct MemberSeed<'s, M> {
    members: &'s mut M,
    key: &'s str,
    limits: Limits,
}

impl<'de, M: Members<'de>> DeserializeSeed<'de> for MemberSeed<'_, M> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        self.members.member(self.key, deserializer, self.limits)
    }
}

/// Validates and discards any value (depth and duplicate names included).
#[derive(Clone, Copy)]
pub struct Skip(pub Limits);

impl<'de> DeserializeSeed<'de> for Skip {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(ValueSeed(self.0)).map(|_| ())
    }
}

/// Reads any value into a [`Value`], validating containers with [`Skip`].
#[derive(Clone, Copy)]
pub struct ValueSeed(pub Limits);

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed {
    type Value = Value<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Value::Other)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Value::Other)
    }

    #[allow(clippy::cast_precision_loss)] // NumericDates sit far below 2^53; larger values only need to stay large
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Value::Num(v as f64))
    }

    #[allow(clippy::cast_precision_loss)]
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Value::Num(v as f64))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Value::Num(v))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Value::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Value::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let inner = self.0.enter()?;
        while seq.next_element_seed(Skip(inner))?.is_some() {}
        Ok(Value::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let inner = self.0.enter()?;
        let mut seen = Seen::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if !seen.insert(key.clone()) {
                return Err(duplicate(&key));
            }
            map.next_value_seed(Skip(inner))?;
        }
        Ok(Value::Other)
    }
}

/// A list of strings as a claim sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum StrList<'de> {
    /// Every entry is a string, and there are at most the allowed number.
    List(Vec<Cow<'de, str>>),
    /// More entries than allowed.
    TooLong,
    /// An entry that is not a string.
    NotStrings,
    /// Not a list: the value it was instead.
    NotList(Value<'de>),
}

/// Reads a list of at most `max` strings. Past `max`, entries are still validated but no longer
/// stored, so an oversized list costs no memory.
#[derive(Clone, Copy)]
pub struct StrListSeed {
    pub limits: Limits,
    pub max: usize,
}

impl<'de> DeserializeSeed<'de> for StrListSeed {
    type Value = StrList<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrListSeed {
    type Value = StrList<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let inner = self.limits.enter()?;
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(self.max));
        let mut result = None;
        while let Some(item) = seq.next_element_seed(ValueSeed(inner))? {
            match item {
                Value::Str(s) if result.is_none() && items.len() < self.max => items.push(s),
                Value::Str(_) if result.is_none() => result = Some(StrList::TooLong),
                Value::Str(_) => {}
                _ => result = Some(StrList::NotStrings),
            }
        }
        Ok(result.unwrap_or(StrList::List(items)))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        ValueSeed(self.limits).visit_bool(v).map(StrList::NotList)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(StrList::NotList(Value::Other))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        ValueSeed(self.limits).visit_u64(v).map(StrList::NotList)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        ValueSeed(self.limits).visit_i64(v).map(StrList::NotList)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        ValueSeed(self.limits).visit_f64(v).map(StrList::NotList)
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(StrList::NotList(Value::Str(Cow::Borrowed(v))))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(StrList::NotList(Value::Str(Cow::Owned(v.to_owned()))))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        ValueSeed(self.limits).visit_map(map).map(StrList::NotList)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect(Vec<(String, Value<'static>)>);

    impl<'de> Members<'de> for Collect {
        fn member<D: Deserializer<'de>>(&mut self, key: &str, value: D, limits: Limits) -> Result<(), D::Error> {
            let v = match ValueSeed(limits).deserialize(value)? {
                Value::Str(s) => Value::Str(Cow::Owned(s.into_owned())),
                Value::Num(n) => Value::Num(n),
                Value::Other => Value::Other,
            };
            self.0.push((key.to_owned(), v));
            Ok(())
        }
    }

    fn parse(text: &str, depth: usize) -> Result<Vec<(String, Value<'static>)>, Error> {
        parse_object(text, depth, Collect::default()).map(|c| c.0)
    }

    #[test]
    fn accepts_plain_objects() {
        let got = parse(r#" {"a":"x","b":1.5,"c":[1,{"d":null}]} "#, 8).unwrap();
        assert_eq!(got[0], ("a".into(), Value::Str("x".into())));
        assert_eq!(got[1], ("b".into(), Value::Num(1.5)));
        assert_eq!(got[2], ("c".into(), Value::Other));
    }

    #[test]
    fn refuses_what_the_spec_refuses() {
        for bad in [
            r#"{"a":1,"a":2}"#,
            r#"{"a":1,"\u0061":2}"#,
            r#"{"x":{"a":1,"a":2}}"#,
            r#"{"x":[{"a":1,"a":2}]}"#,
            r#"{"a":NaN}"#,
            r#"{"a":Infinity}"#,
            r#"{"a":1e400}"#,
            r#"{"a":"\ud800"}"#,
            r#"{"a":"\udc00x"}"#,
            "\u{feff}{}",
            "[]",
            "1",
            r#"{"a":1} x"#,
            r#"{"a":01}"#,
            "{\"a\":\"\u{1}\"}",
        ] {
            assert!(parse(bad, 8).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn depth_counts_the_top_level_object_as_one() {
        assert!(parse(r#"{"a":[[[[[[[1]]]]]]]}"#, 8).is_ok());
        assert!(parse(r#"{"a":[[[[[[[[1]]]]]]]]}"#, 8).is_err());
        assert!(parse(r#"{"a":[1]}"#, 2).is_ok());
        assert!(parse(r#"{"a":[[1]]}"#, 2).is_err());
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse(&deep, 8).is_err());
    }

    #[test]
    fn many_members_are_checked_for_duplicates_too() {
        let mut text = String::from("{");
        for i in 0..100 {
            use std::fmt::Write as _;
            let _ = write!(text, "\"k{i}\":{i},");
        }
        text.push_str("\"k7\":0}");
        assert!(parse(&text, 8).is_err());
    }
}
