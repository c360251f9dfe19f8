//! The benchmark's moto (transactions rolled back by an undo log, not a table copy) ends every
//! transaction in the state stock moto does: the same scenarios run against both, and after
//! each the two tables are equal and as DynamoDB documents (all applied, or none).

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, Projection, ProjectionType, Put, ScalarAttributeType,
    TransactWriteItem, Update,
};
use test_harness::{MotoServer, aws_config_at};

const TABLE: &str = "undo-log";

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn key(pk: &str, sk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([("pk".into(), s(pk)), ("sk".into(), s(sk))])
}

fn item(pk: &str, sk: &str, v: &str) -> HashMap<String, AttributeValue> {
    let mut i = key(pk, sk);
    i.insert("v".into(), s(v));
    i.insert("due".into(), s("d"));
    i
}

async fn client(endpoint: &str) -> Client {
    let c = Client::new(&aws_config_at(endpoint, false).await);
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let ks = |n: &str, t| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .unwrap()
    };
    c.create_table()
        .table_name(TABLE)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .attribute_definitions(attr("due"))
        .key_schema(ks("pk", KeyType::Hash))
        .key_schema(ks("sk", KeyType::Range))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("by_due")
                .key_schema(ks("due", KeyType::Hash))
                .key_schema(ks("sk", KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("create table");
    for (pk, sk) in [("a", "1"), ("b", "1"), ("b", "2")] {
        c.put_item()
            .table_name(TABLE)
            .set_item(Some(item(pk, sk, "0")))
            .send()
            .await
            .expect("seed");
    }
    c
}

/// The table and its index, in key order, as comparable text.
async fn state(c: &Client) -> (Vec<String>, Vec<String>) {
    let render = |items: Vec<HashMap<String, AttributeValue>>| {
        let mut out: Vec<String> = items
            .into_iter()
            .map(|i| {
                let mut kv: Vec<_> = i.into_iter().map(|(k, v)| format!("{k}={v:?}")).collect();
                kv.sort();
                kv.join(",")
            })
            .collect();
        out.sort();
        out
    };
    let table = c.scan().table_name(TABLE).send().await.expect("scan");
    let index = c
        .query()
        .table_name(TABLE)
        .index_name("by_due")
        .key_condition_expression("due = :d")
        .expression_attribute_values(":d", s("d"))
        .send()
        .await
        .expect("query");
    (
        render(table.items.unwrap_or_default()),
        render(index.items.unwrap_or_default()),
    )
}

fn put(i: HashMap<String, AttributeValue>, cond: Option<&str>) -> TransactWriteItem {
    TransactWriteItem::builder()
        .put(
            Put::builder()
                .table_name(TABLE)
                .set_item(Some(i))
                .set_condition_expression(cond.map(Into::into))
                .build()
                .unwrap(),
        )
        .build()
}

fn update(pk: &str, sk: &str, v: &str) -> TransactWriteItem {
    TransactWriteItem::builder()
        .update(
            Update::builder()
                .table_name(TABLE)
                .set_key(Some(key(pk, sk)))
                .update_expression("SET v = :v, extra = :v")
                .expression_attribute_values(":v", s(v))
                .build()
                .unwrap(),
        )
        .build()
}

fn delete(pk: &str, sk: &str) -> TransactWriteItem {
    TransactWriteItem::builder()
        .delete(
            Delete::builder()
                .table_name(TABLE)
                .set_key(Some(key(pk, sk)))
                .build()
                .unwrap(),
        )
        .build()
}

fn must_exist(pk: &str, sk: &str) -> TransactWriteItem {
    TransactWriteItem::builder()
        .condition_check(
            ConditionCheck::builder()
                .table_name(TABLE)
                .set_key(Some(key(pk, sk)))
                .condition_expression("attribute_exists(pk)")
                .build()
                .unwrap(),
        )
        .build()
}

/// Each scenario: the transaction, and whether DynamoDB applies it.
fn scenarios() -> Vec<(&'static str, Vec<TransactWriteItem>, bool)> {
    vec![
        (
            "an update, a create and a delete, then a failed condition: none applied",
            vec![
                update("a", "1", "1"),
                put(item("c", "1", "1"), None),
                delete("b", "1"),
                must_exist("zz", "1"),
            ],
            false,
        ),
        (
            "a failed condition first, valid writes after it: none applied",
            vec![
                put(item("a", "1", "2"), Some("attribute_not_exists(pk)")),
                update("b", "2", "2"),
                put(item("d", "1", "2"), None),
            ],
            false,
        ),
        (
            "two writes of one item: refused, none applied",
            vec![update("b", "2", "3"), put(item("b", "2", "3"), None)],
            false,
        ),
        (
            "a valid transaction: all applied",
            vec![
                update("a", "1", "4"),
                delete("b", "1"),
                put(item("c", "1", "4"), Some("attribute_not_exists(pk)")),
            ],
            true,
        ),
        (
            "after it, a put over the new item and a failed check: the new item as it was",
            vec![put(item("c", "1", "5"), None), must_exist("b", "1")],
            false,
        ),
    ]
}

#[tokio::test]
async fn the_undo_log_leaves_every_transaction_as_stock_moto_does() {
    let stock_server = MotoServer::start(false);
    let patched_server = MotoServer::start(true);
    let stock = client(&stock_server.endpoint).await;
    let patched = client(&patched_server.endpoint).await;
    assert_eq!(state(&stock).await, state(&patched).await, "seeded alike");
    for (what, items, applies) in scenarios() {
        let before = state(&patched).await;
        let a = stock
            .transact_write_items()
            .set_transact_items(Some(items.clone()))
            .send()
            .await;
        let b = patched
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        assert_eq!(a.is_ok(), applies, "stock moto: {what}: {a:?}");
        assert_eq!(b.is_ok(), applies, "undo log: {what}: {b:?}");
        let after = state(&patched).await;
        assert_eq!(state(&stock).await, after, "{what}");
        assert_eq!(before == after, !applies, "{what}: {after:?}");
    }
    // The end state, spelled out: the valid transaction's writes and nothing else.
    let (table, _) = state(&patched).await;
    assert_eq!(table.len(), 3, "{table:?}");
    assert!(
        table
            .iter()
            .any(|i| i.contains("pk=S(\"c\")") && i.contains("v=S(\"4\")"))
    );
    assert!(!table.iter().any(|i| i.contains("pk=S(\"d\")")));
}
