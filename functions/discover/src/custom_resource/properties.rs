//! A custom resource's `ResourceProperties` as an API spec.
//!
//! CloudFormation hands every scalar property to the function as a string: `30` arrives as
//! `"30"`, `true` as `"true"`, also inside lists and objects. Which of them were numbers or
//! booleans only the target type knows, so [`Lenient`] is a deserializer over the JSON value
//! that turns a string into a number or a boolean exactly where the spec asks for one, and
//! leaves every other string alone (a `max_duration` of `"8h"`, a permission named `"30"`).
//! Written by hand because no maintained crate does this for arbitrary serde types: serde_with
//! and serde-aux need an attribute on every field of the shared model. Free-form JSON inside a
//! spec (a custom permission's document `query`) asks for no type, so its strings stay strings.

use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{DeserializeOwned, Deserializer, Error as _, IntoDeserializer, Visitor};
use serde_json::{Map, Value};

/// The properties CloudFormation itself defines on every custom resource: not part of a spec.
const CLOUDFORMATION_PROPERTIES: [&str; 2] = ["ServiceToken", "ServiceTimeout"];

/// Why a custom resource's properties are not a spec: a stable code and a readable message.
#[derive(Debug, thiserror::Error)]
pub enum PropertiesError {
    #[error("ResourceProperties must be an object")]
    NotAnObject,
    #[error("the Name property is required: a string, the integration's or flow's name")]
    MissingName,
    #[error("the properties could not be read: {0}")]
    Invalid(String),
}

impl PropertiesError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotAnObject | Self::Invalid(_) => "invalid_properties",
            Self::MissingName => "missing_name",
        }
    }
}

/// `ResourceProperties` read as the resource's name and the spec of type `T`.
pub fn parse<T: DeserializeOwned>(properties: &Value) -> Result<(String, T), PropertiesError> {
    let mut map: Map<String, Value> = properties
        .as_object()
        .cloned()
        .ok_or(PropertiesError::NotAnObject)?;
    for key in CLOUDFORMATION_PROPERTIES {
        map.remove(key);
    }
    let name = match map.remove("Name") {
        Some(Value::String(n)) => n,
        _ => return Err(PropertiesError::MissingName),
    };
    let spec = T::deserialize(Lenient(Value::Object(map)))
        .map_err(|e| PropertiesError::Invalid(e.to_string()))?;
    Ok((name, spec))
}

/// A JSON value whose strings also read as the numbers and booleans they spell.
struct Lenient(Value);

impl<'de> IntoDeserializer<'de, serde_json::Error> for Lenient {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

impl Lenient {
    /// Lists and objects are walked with every element lenient too; scalars as they are.
    fn visit_container<'de, V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, serde_json::Error> {
        match self.0 {
            Value::Array(items) => {
                let mut seq = SeqDeserializer::new(items.into_iter().map(Lenient));
                let value = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(value)
            }
            Value::Object(entries) => {
                let mut map =
                    MapDeserializer::new(entries.into_iter().map(|(k, v)| (k, Lenient(v))));
                let value = visitor.visit_map(&mut map)?;
                map.end()?;
                Ok(value)
            }
            other => other.deserialize_any(visitor),
        }
    }
}

/// A string that spells a number, read as one; anything else as the JSON value it is (whose
/// type error then names what was expected).
macro_rules! lenient_number {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            match &self.0 {
                Value::String(s) => {
                    let s = s.trim();
                    if let Ok(n) = s.parse::<u64>() {
                        visitor.visit_u64(n)
                    } else if let Ok(n) = s.parse::<i64>() {
                        visitor.visit_i64(n)
                    } else if let Ok(n) = s.parse::<f64>().map_err(|_| ()).and_then(|n| if n.is_finite() { Ok(n) } else { Err(()) }) {
                        visitor.visit_f64(n)
                    } else {
                        Err(serde_json::Error::custom(format!("invalid type: string {s:?}, expected a number")))
                    }
                }
                _ => self.0.$method(visitor),
            }
        }
    )*};
}

impl<'de> Deserializer<'de> for Lenient {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.visit_container(visitor)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match &self.0 {
            Value::String(s) if s == "true" => visitor.visit_bool(true),
            Value::String(s) if s == "false" => visitor.visit_bool(false),
            Value::String(s) => Err(serde_json::Error::custom(format!(
                "invalid type: string {s:?}, expected true or false"
            ))),
            _ => self.0.deserialize_bool(visitor),
        }
    }

    lenient_number! {
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            other => visitor.visit_some(Lenient(other)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Array(_) => self.visit_container(visitor),
            other => other.deserialize_seq(visitor),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Object(_) => self.visit_container(visitor),
            other => other.deserialize_map(visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        // The specs' enums are plain names (`"elasticsearch"`, `"group"`): nothing to convert.
        self.0.deserialize_enum(name, variants, visitor)
    }

    serde::forward_to_deserialize_any! {
        char str string bytes byte_buf unit unit_struct identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        on: bool,
        days: Option<u32>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Spec {
        count: u32,
        ratio: f64,
        offset: i64,
        label: String,
        #[serde(default)]
        flag: bool,
        inner: Inner,
        list: Vec<Inner>,
        names: Vec<String>,
        free: Option<Map<String, Value>>,
    }

    #[test]
    fn strings_become_numbers_and_booleans_only_where_the_spec_asks() {
        let (name, spec): (String, Spec) = parse(&json!({
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:discover",
            "ServiceTimeout": "300",
            "Name": "prod",
            "count": "30",
            "ratio": "0.5",
            "offset": "-2",
            "label": "30",
            "flag": "true",
            "inner": {"on": "false", "days": "7"},
            "list": [{"on": "true"}],
            "names": ["1", "true"],
            "free": {"boost": "2", "match": {"a": "true"}}
        }))
        .unwrap();
        assert_eq!(name, "prod");
        assert_eq!(
            spec,
            Spec {
                count: 30,
                ratio: 0.5,
                offset: -2,
                label: "30".into(),
                flag: true,
                inner: Inner {
                    on: false,
                    days: Some(7)
                },
                list: vec![Inner {
                    on: true,
                    days: None
                }],
                names: vec!["1".into(), "true".into()],
                free: Some(
                    json!({"boost": "2", "match": {"a": "true"}})
                        .as_object()
                        .unwrap()
                        .clone()
                ),
            }
        );
    }

    #[test]
    fn typed_json_still_reads() {
        let (_, inner): (String, Inner) =
            parse(&json!({"Name": "x", "on": true, "days": 3})).unwrap();
        assert_eq!(
            inner,
            Inner {
                on: true,
                days: Some(3)
            }
        );
    }

    #[test]
    fn bad_properties_are_refused_with_a_reason() {
        let err = parse::<Inner>(&json!({"on": "true"})).unwrap_err();
        assert_eq!(err.code(), "missing_name");
        let err = parse::<Inner>(&json!({"Name": 7, "on": "true"})).unwrap_err();
        assert_eq!(err.code(), "missing_name");
        let err = parse::<Inner>(&json!(["Name"])).unwrap_err();
        assert_eq!(err.code(), "invalid_properties");
        for (props, says) in [
            (json!({"Name": "x", "on": "yes"}), "expected true or false"),
            (
                json!({"Name": "x", "on": "true", "days": "seven"}),
                "expected a number",
            ),
            (json!({"Name": "x", "on": "true", "days": "-1"}), "u32"),
            (json!({"Name": "x", "on": "true", "days": "1e99"}), "u32"),
            (
                json!({"Name": "x", "on": "true", "days": "NaN"}),
                "expected a number",
            ),
            (
                json!({"Name": "x", "on": "true", "extra": "1"}),
                "unknown field `extra`",
            ),
            (json!({"Name": "x", "on": ["true"]}), "expected a boolean"),
        ] {
            let err = parse::<Inner>(&props).unwrap_err();
            assert_eq!(err.code(), "invalid_properties", "{props}");
            assert!(err.to_string().contains(says), "{props}: {err}");
        }
    }
}
