//! Delivery markers (see [`crate::store::deliveries`]): `DELIVERY#<event>` / `<channel>#<digest>`.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};

use super::{DynamoStore, n, s};
use crate::store::StoreError;
use crate::store::deliveries::{Claim, DELIVERY_RETENTION, DeliveryKey, DeliveryStore};
use crate::store::schema::TABLE;

const SENDING: &str = "sending";
const SENT: &str = "sent";

fn pk(key: &DeliveryKey) -> String {
    format!("DELIVERY#{}", key.event)
}

#[async_trait]
impl DeliveryStore for DynamoStore {
    async fn claim_delivery(
        &self,
        key: &DeliveryKey,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Claim, StoreError> {
        let item = HashMap::from([
            ("pk".to_string(), s(pk(key))),
            ("sk".to_string(), s(key.sort_key())),
            ("entity".to_string(), s("delivery")),
            ("state".to_string(), s(SENDING)),
            (
                "lease_until".to_string(),
                n((now + lease).timestamp_millis()),
            ),
            (
                TABLE.ttl_attribute.to_string(),
                self.expires_at(now, DELIVERY_RETENTION),
            ),
        ]);
        let out = self
            .client
            .put_item()
            .table_name(&self.cfg.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR (#s = :sending AND #l < :now)")
            .expression_attribute_names("#s", "state")
            .expression_attribute_names("#l", "lease_until")
            .expression_attribute_values(":sending", s(SENDING))
            .expression_attribute_values(":now", n(now.timestamp_millis()))
            .send()
            .await;
        match out {
            Ok(_) => Ok(Claim::Claimed),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                let found = self.get_item(pk(key), key.sort_key()).await?;
                let state = found
                    .as_ref()
                    .and_then(|i| i.get("state"))
                    .and_then(|v| v.as_s().ok());
                Ok(match state.map(String::as_str) {
                    Some(SENT) => Claim::Sent {
                        detail: found
                            .as_ref()
                            .and_then(|i| i.get("detail"))
                            .and_then(|v| v.as_s().ok())
                            .cloned(),
                    },
                    _ => Claim::InFlight,
                })
            }
            Err(e) => Err(StoreError::from_sdk("PutItem", &e)),
        }
    }

    async fn complete_delivery(
        &self,
        key: &DeliveryKey,
        now: DateTime<Utc>,
        detail: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.cfg.table)
            .key("pk", s(pk(key)))
            .key("sk", s(key.sort_key()))
            .expression_attribute_names("#s", "state")
            .expression_attribute_values(":sent", s(SENT))
            .expression_attribute_values(":at", n(now.timestamp()));
        update = match detail {
            Some(d) => update
                .update_expression("SET #s = :sent, sent_at = :at, detail = :d REMOVE lease_until")
                .expression_attribute_values(":d", s(d)),
            None => update.update_expression("SET #s = :sent, sent_at = :at REMOVE lease_until"),
        };
        update
            .send()
            .await
            .map_err(|e| StoreError::from_sdk("UpdateItem", &e))?;
        Ok(())
    }

    async fn release_delivery(&self, key: &DeliveryKey) -> Result<(), StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.cfg.table)
            .key("pk", s(pk(key)))
            .key("sk", s(key.sort_key()))
            .condition_expression("#s = :sending")
            .expression_attribute_names("#s", "state")
            .expression_attribute_values(":sending", AttributeValue::S(SENDING.into()))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            // Sent meanwhile (or already gone): nothing to release.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(StoreError::from_sdk("DeleteItem", &e)),
        }
    }

    async fn sent_detail(&self, key: &DeliveryKey) -> Result<Option<String>, StoreError> {
        let found = self.get_item(pk(key), key.sort_key()).await?;
        Ok(found
            .filter(|i| {
                i.get("state")
                    .and_then(|v| v.as_s().ok())
                    .map(String::as_str)
                    == Some(SENT)
            })
            .and_then(|i| i.get("detail").and_then(|v| v.as_s().ok()).cloned()))
    }
}
