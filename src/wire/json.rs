//! Building blocks of the typed wire structs: a field read in the shape destctl expects, with
//! whatever else the service sent kept as it came ([`Json`]); object keys read without
//! allocating ([`Key`]); unmanaged object fields kept as raw JSON text ([`RawFields`]).
//!
//! The planner must produce exactly the same patch whatever a live object holds, so a field of
//! an unexpected type is not an error: it is kept as a [`serde_json::Value`] (rare, small) and
//! compares unequal to anything desired, as a JSON compare would.

use chrono::NaiveDate;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// The JSON shape a [`Shaped`] type is read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// A string or a number.
    Scalar,
    /// An object.
    Object,
    /// An array.
    Array,
}

/// A type read from one JSON shape; any other shape becomes [`Json::Other`].
pub trait Shaped: Sized {
    /// The shape this type is read from.
    const SHAPE: Shape = Shape::Scalar;
    /// From a string (`Scalar` types); `None` keeps the string as [`Json::Other`].
    fn from_wire_str(_s: &str) -> Option<Self> {
        None
    }
    /// From an integer (`Scalar` types).
    fn from_wire_i64(_n: i64) -> Option<Self> {
        None
    }
}

impl Shaped for String {
    fn from_wire_str(s: &str) -> Option<Self> {
        Some(s.to_owned())
    }
}

impl Shaped for i64 {
    fn from_wire_i64(n: i64) -> Option<Self> {
        Some(n)
    }
}

/// A date is read only from its canonical `YYYY-MM-DD` form, so that it compares equal exactly
/// when the strings would.
impl Shaped for NaiveDate {
    fn from_wire_str(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        let digits = |r: std::ops::Range<usize>| -> Option<u32> {
            b[r].iter().try_fold(0u32, |n, c| {
                c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
            })
        };
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let year = i32::try_from(digits(0..4)?).ok()?;
        NaiveDate::from_ymd_opt(year, digits(5..7)?, digits(8..10)?)
    }
}

impl<T> Shaped for Vec<T> {
    const SHAPE: Shape = Shape::Array;
}

impl Shaped for serde_json::Map<String, Value> {
    const SHAPE: Shape = Shape::Object;
}

/// A field as destctl expects it ([`Json::Typed`]) or anything else the service sent
/// ([`Json::Other`], `null` included). Absence is the `Option` around it.
#[derive(Clone, Debug, PartialEq)]
pub enum Json<T> {
    /// The expected shape.
    Typed(T),
    /// Another JSON value, kept as it came.
    Other(Box<Value>),
}

impl<T> Json<T> {
    /// The typed value, if the field had the expected shape.
    pub fn typed(&self) -> Option<&T> {
        match self {
            Json::Typed(t) => Some(t),
            Json::Other(_) => None,
        }
    }

    /// Whether the field is JSON `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Json::Other(v) if v.is_null())
    }
}

impl Json<String> {
    /// The string, if the field is one.
    pub fn as_str(&self) -> Option<&str> {
        self.typed().map(String::as_str)
    }

    /// The field as JSON.
    pub fn to_value(&self) -> Value {
        match self {
            Json::Typed(s) => Value::String(s.clone()),
            Json::Other(v) => (**v).clone(),
        }
    }
}

impl Json<NaiveDate> {
    /// The field as JSON (a typed date as `YYYY-MM-DD`).
    pub fn to_value(&self) -> Value {
        match self {
            Json::Typed(d) => Value::String(d.to_string()),
            Json::Other(v) => (**v).clone(),
        }
    }
}

impl<'de, T: Shaped + Deserialize<'de>> Deserialize<'de> for Json<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor(PhantomData))
    }
}

struct JsonVisitor<T>(PhantomData<T>);

impl<T> JsonVisitor<T> {
    fn other<E>(v: Value) -> Result<Json<T>, E> {
        Ok(Json::Other(Box::new(v)))
    }
}

impl<'de, T: Shaped + Deserialize<'de>> Visitor<'de> for JsonVisitor<T> {
    type Value = Json<T>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json<T>, E> {
        Self::other(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json<T>, E> {
        match T::from_wire_i64(v) {
            Some(t) => Ok(Json::Typed(t)),
            None => Self::other(Value::from(v)),
        }
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json<T>, E> {
        match i64::try_from(v).ok().and_then(T::from_wire_i64) {
            Some(t) => Ok(Json::Typed(t)),
            None => Self::other(Value::from(v)),
        }
    }
    fn visit_f64<E>(self, v: f64) -> Result<Json<T>, E> {
        Self::other(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json<T>, E> {
        match T::from_wire_str(v) {
            Some(t) => Ok(Json::Typed(t)),
            None => Self::other(Value::String(v.to_owned())),
        }
    }
    fn visit_unit<E>(self) -> Result<Json<T>, E> {
        Self::other(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Json<T>, E> {
        Self::other(Value::Null)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Json<T>, A::Error> {
        if T::SHAPE == Shape::Object {
            T::deserialize(MapAccessDeserializer::new(map)).map(Json::Typed)
        } else {
            Value::deserialize(MapAccessDeserializer::new(map)).and_then(Self::other)
        }
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Json<T>, A::Error> {
        if T::SHAPE == Shape::Array {
            T::deserialize(SeqAccessDeserializer::new(seq)).map(Json::Typed)
        } else {
            Value::deserialize(SeqAccessDeserializer::new(seq)).and_then(Self::other)
        }
    }
}

/// `deserialize_with` for an `Option<Json<T>>` field: present (even `null`) is `Some`.
pub fn present<'de, D: Deserializer<'de>, T: Shaped + Deserialize<'de>>(
    d: D,
) -> Result<Option<Json<T>>, D::Error> {
    Json::deserialize(d).map(Some)
}

/// `deserialize_with` for an `Option<T>` field read leniently: any other shape is `None`, as
/// `Value::as_str` and the like would read it.
pub fn loose<'de, D: Deserializer<'de>, T: Shaped + Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    Ok(match Json::<T>::deserialize(d)? {
        Json::Typed(t) => Some(t),
        Json::Other(_) => None,
    })
}

/// `deserialize_with` for a list of strings read leniently: other items are skipped, another
/// shape is an empty list.
pub fn loose_strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match Json::<Vec<Json<String>>>::deserialize(d)? {
        Json::Typed(items) => items
            .into_iter()
            .filter_map(|i| match i {
                Json::Typed(s) => Some(s),
                Json::Other(_) => None,
            })
            .collect(),
        Json::Other(_) => Vec::new(),
    })
}

/// An object key, borrowed from the input when it has no escapes.
pub struct Key<'de>(pub Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// The fields of an object that destctl does not manage, in their order, kept together as the
/// raw JSON text of one object (`{"createTime":…,"updateTime":…}`, one allocation): carried over
/// verbatim by a `replace`, never walked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawFields(Option<Box<str>>);

impl RawFields {
    /// Reads the next value of `map` as the raw field `key`.
    pub fn read<'de, A: MapAccess<'de>>(
        &mut self,
        key: Cow<'de, str>,
        map: &mut A,
    ) -> Result<(), A::Error> {
        let raw: Box<RawValue> = map.next_value()?;
        let mut text = self.0.take().map(String::from).unwrap_or_default();
        text.pop();
        text.push(if text.is_empty() { '{' } else { ',' });
        text.push_str(&Value::String(key.into_owned()).to_string());
        text.push(':');
        text.push_str(raw.get());
        text.push('}');
        self.0 = Some(text.into_boxed_str());
        Ok(())
    }

    /// The raw JSON text of the fields as one object, if there are any.
    pub fn text(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// Every field as JSON, in order (the raw text parsed again: for the rare `replace`).
    pub fn values(&self) -> serde_json::Map<String, Value> {
        self.0
            .as_deref()
            .map(|t| serde_json::from_str(t).expect("an object written from valid JSON"))
            .unwrap_or_default()
    }

    /// Field `key`, as JSON.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.values().shift_remove(key)
    }
}

/// A word of the Flow Service's vocabulary (`PLATFORM_SEGMENT`, `DAILY_FULL_EXPORT`, `DAILY`,
/// `SCHEDULED`, `17:00`, …): a known word is kept as a `&'static str` (no allocation per
/// selector), any other string as its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word(Cow<'static, str>);

impl Word {
    /// The word.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The words kept without allocation: selector types, export modes, frequencies, trigger types.
/// Only an allocation saving: any other string is kept as it came.
const KNOWN_WORDS: &[&str] = &[
    "PLATFORM_SEGMENT",
    "JSON_PATH",
    "ATTRIBUTE",
    "DAILY_FULL_EXPORT",
    "FIRST_FULL_THEN_INCREMENTAL",
    "ONCE",
    "DAILY",
    "WEEKLY",
    "MONTHLY",
    "EVERY_3_HOURS",
    "EVERY_6_HOURS",
    "EVERY_8_HOURS",
    "EVERY_12_HOURS",
    "AFTER_SEGMENT_EVAL",
    "SCHEDULED",
];

/// The full hours `00:00` … `23:00` (a schedule's `startTime`).
const HOURS: [&str; 24] = [
    "00:00", "01:00", "02:00", "03:00", "04:00", "05:00", "06:00", "07:00", "08:00", "09:00",
    "10:00", "11:00", "12:00", "13:00", "14:00", "15:00", "16:00", "17:00", "18:00", "19:00",
    "20:00", "21:00", "22:00", "23:00",
];

impl Shaped for Word {
    fn from_wire_str(s: &str) -> Option<Self> {
        let known = KNOWN_WORDS.iter().chain(&HOURS).find(|w| **w == s);
        Some(Word(match known {
            Some(w) => Cow::Borrowed(w),
            None => Cow::Owned(s.to_owned()),
        }))
    }
}

impl<'de> Deserialize<'de> for Word {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Cow::<'de, str>::deserialize(d)?;
        Ok(Word::from_wire_str(&s).expect("every string is a word"))
    }
}

impl Json<Word> {
    /// The word, if the field is a string.
    pub fn as_str(&self) -> Option<&str> {
        self.typed().map(Word::as_str)
    }

    /// The field as JSON.
    pub fn to_value(&self) -> Value {
        match self {
            Json::Typed(w) => Value::String(w.as_str().to_owned()),
            Json::Other(v) => (**v).clone(),
        }
    }
}
