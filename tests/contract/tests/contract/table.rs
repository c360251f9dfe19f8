//! The template's table is exactly `shared::store::schema::TABLE`: the code's queries and the
//! tests' tables are built from it, so a drift here would break production only.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use shared::store::schema::TABLE;

use crate::common::{resources_of, template};

fn key_schema(hash: &str, range: &str) -> Value {
    json!([
        { "AttributeName": hash, "KeyType": "HASH" },
        { "AttributeName": range, "KeyType": "RANGE" },
    ])
}

#[test]
fn the_template_table_is_the_table_the_code_defines() {
    let t = template();
    let tables = resources_of(&t, "AWS::DynamoDB::Table");
    assert_eq!(tables.len(), 1, "one table (single-table design)");
    let (id, table) = tables[0];
    let p = &table["Properties"];

    assert_eq!(
        p["BillingMode"], "PAY_PER_REQUEST",
        "{id}: on-demand billing"
    );
    assert_eq!(
        p["KeySchema"],
        key_schema(TABLE.hash_key, TABLE.range_key),
        "{id}: key schema"
    );

    let attributes: BTreeMap<&str, &str> = p["AttributeDefinitions"]
        .as_array()
        .expect("AttributeDefinitions")
        .iter()
        .map(|a| {
            (
                a["AttributeName"].as_str().expect("AttributeName"),
                a["AttributeType"].as_str().expect("AttributeType"),
            )
        })
        .collect();
    let expected: BTreeMap<&str, &str> = TABLE
        .key_attributes()
        .into_iter()
        .map(|n| (n, "S"))
        .collect();
    assert_eq!(
        attributes, expected,
        "{id}: every key attribute, all strings, nothing else"
    );

    let indexes: BTreeMap<&str, &Value> = p["GlobalSecondaryIndexes"]
        .as_array()
        .expect("GlobalSecondaryIndexes")
        .iter()
        .map(|i| (i["IndexName"].as_str().expect("IndexName"), i))
        .collect();
    assert_eq!(
        indexes.keys().copied().collect::<Vec<_>>(),
        {
            let mut names: Vec<&str> = TABLE.indexes.iter().map(|i| i.name).collect();
            names.sort_unstable();
            names
        },
        "{id}: the global secondary indexes"
    );
    for index in TABLE.indexes {
        let gsi = indexes[index.name];
        assert_eq!(
            gsi["KeySchema"],
            key_schema(index.hash_key, index.range_key),
            "{id}: index {}",
            index.name
        );
        assert_eq!(
            gsi["Projection"],
            json!({ "ProjectionType": "ALL" }),
            "{id}: index {} projects every attribute",
            index.name
        );
        assert!(
            gsi.get("ProvisionedThroughput").is_none(),
            "{id}: index {} is on-demand like its table",
            index.name
        );
    }
    assert!(
        p.get("LocalSecondaryIndexes").is_none(),
        "{id}: no local indexes"
    );

    assert_eq!(
        p["TimeToLiveSpecification"],
        json!({ "AttributeName": TABLE.ttl_attribute, "Enabled": true }),
        "{id}: TTL on the attribute finished records carry"
    );
    assert_eq!(
        p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], true,
        "{id}: point-in-time recovery"
    );
    assert_eq!(
        p["SSESpecification"]["SSEEnabled"], true,
        "{id}: encryption with a KMS key"
    );
    assert_eq!(
        table["DeletionPolicy"], "Retain",
        "{id}: state outlives the stack"
    );
}
