//! Opaque page cursors: a DynamoDB `LastEvaluatedKey` (string attributes only) as base64url
//! JSON. A cursor is checked against the list it is used with before it reaches DynamoDB.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(String);

impl Cursor {
    /// Accept a cursor from a client; it is validated when used.
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        if text.is_empty() || text.len() > 2048 {
            return Err(StoreError::InvalidCursor);
        }
        Ok(Self(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn from_key(key: &HashMap<String, AttributeValue>) -> Option<Self> {
        let map: BTreeMap<&str, &str> = key
            .iter()
            .filter_map(|(k, v)| v.as_s().ok().map(|s| (k.as_str(), s.as_str())))
            .collect();
        let json = serde_json::to_vec(&map).ok()?;
        Some(Self(URL_SAFE_NO_PAD.encode(json)))
    }

    /// The value of `attr` in the cursor's key (which list it belongs to), before it is
    /// checked with [`to_key`](Self::to_key).
    pub(crate) fn value_of(&self, attr: &str) -> Result<String, StoreError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(&self.0)
            .map_err(|_| StoreError::InvalidCursor)?;
        let map: BTreeMap<String, String> =
            serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)?;
        map.get(attr).cloned().ok_or(StoreError::InvalidCursor)
    }

    /// Decode, insisting that `partition_attr` equals `partition_value` so a cursor from one
    /// list cannot be replayed against another.
    pub(crate) fn to_key(
        &self,
        partition_attr: &str,
        partition_value: &str,
    ) -> Result<HashMap<String, AttributeValue>, StoreError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(&self.0)
            .map_err(|_| StoreError::InvalidCursor)?;
        let map: BTreeMap<String, String> =
            serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)?;
        if map.get(partition_attr).map(String::as_str) != Some(partition_value) || map.len() > 4 {
            return Err(StoreError::InvalidCursor);
        }
        Ok(map
            .into_iter()
            .map(|(k, v)| (k, AttributeValue::S(v)))
            .collect())
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_another_partition_or_garbage() {
        let key: HashMap<String, AttributeValue> = [
            ("pk".to_string(), AttributeValue::S("REQUEST#1".into())),
            ("sk".to_string(), AttributeValue::S("REQUEST".into())),
        ]
        .into();
        let c = Cursor::from_key(&key).unwrap();
        assert_eq!(c.to_key("pk", "REQUEST#1").unwrap(), key);
        assert!(matches!(
            c.to_key("pk", "REQUEST#2"),
            Err(StoreError::InvalidCursor)
        ));
        let garbage = Cursor::parse("not*base64").unwrap();
        assert!(matches!(
            garbage.to_key("pk", "x"),
            Err(StoreError::InvalidCursor)
        ));
        assert!(Cursor::parse("").is_err());
    }
}
