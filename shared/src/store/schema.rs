//! The one table's key schema and indexes, defined once. Tests create tables from it and a
//! test checks `infra/template.yaml` against it.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};

use super::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexDef {
    pub name: &'static str,
    pub hash_key: &'static str,
    pub range_key: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableDef {
    pub hash_key: &'static str,
    pub range_key: &'static str,
    pub indexes: &'static [IndexDef],
    /// Epoch seconds after which DynamoDB may delete a finished record.
    pub ttl_attribute: &'static str,
}

/// Sparse: only items that a sweep must look at again carry `due_status`/`due_at`.
pub const DUE_INDEX: IndexDef = IndexDef {
    name: "by_due",
    hash_key: "due_status",
    range_key: "due_at",
};

pub const REQUESTER_INDEX: IndexDef = IndexDef {
    name: "by_requester",
    hash_key: "requester_sub",
    range_key: "created_key",
};

/// Sparse: only requests that are pending, scheduled, approved or active carry `open_requester`, so
/// counting a requester's open requests reads only those.
pub const OPEN_INDEX: IndexDef = IndexDef {
    name: "by_open_requester",
    hash_key: "open_requester",
    range_key: "created_key",
};

pub const TABLE: TableDef = TableDef {
    hash_key: "pk",
    range_key: "sk",
    indexes: &[DUE_INDEX, REQUESTER_INDEX, OPEN_INDEX],
    ttl_attribute: "expires_at",
};

impl TableDef {
    /// Every key attribute (all strings), table and indexes, without repeats.
    pub fn key_attributes(&self) -> Vec<&'static str> {
        let mut names = vec![self.hash_key, self.range_key];
        for i in self.indexes {
            for n in [i.hash_key, i.range_key] {
                if !names.contains(&n) {
                    names.push(n);
                }
            }
        }
        names
    }
}

fn key(name: &str, kind: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(|e| StoreError::backend("CreateTable", e.to_string(), false))
}

/// Create the table (on-demand billing, both indexes projecting all attributes).
pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
    let mut req = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(TABLE.hash_key, KeyType::Hash)?)
        .key_schema(key(TABLE.range_key, KeyType::Range)?);
    for name in TABLE.key_attributes() {
        req = req.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| StoreError::backend("CreateTable", e.to_string(), false))?,
        );
    }
    for index in TABLE.indexes {
        req = req.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index.name)
                .key_schema(key(index.hash_key, KeyType::Hash)?)
                .key_schema(key(index.range_key, KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(|e| StoreError::backend("CreateTable", e.to_string(), false))?,
        );
    }
    req.send()
        .await
        .map_err(|e| StoreError::from_sdk("CreateTable", &e))?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            aws_sdk_dynamodb::types::TimeToLiveSpecification::builder()
                .attribute_name(TABLE.ttl_attribute)
                .enabled(true)
                .build()
                .map_err(|e| StoreError::backend("UpdateTimeToLive", e.to_string(), false))?,
        )
        .send()
        .await
        .map_err(|e| StoreError::from_sdk("UpdateTimeToLive", &e))?;
    Ok(())
}
