//! Group proofs (see [`crate::store::group_proofs`]): `GROUPPROOF#<email>` / `PROOF`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{DynamoStore, from_item, n, s, to_item};
use crate::store::StoreError;
use crate::store::group_proofs::{GroupProof, GroupProofStore};
use crate::store::schema::TABLE;

const SK: &str = "PROOF";

fn pk(email: &str) -> String {
    format!("GROUPPROOF#{email}")
}

#[async_trait]
impl GroupProofStore for DynamoStore {
    async fn put_group_proof(
        &self,
        proof: &GroupProof,
        keep_until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut item = to_item(proof, "group proof", &proof.email)?;
        item.insert("pk".into(), s(pk(&proof.email)));
        item.insert("sk".into(), s(SK));
        item.insert("entity".into(), s("group_proof"));
        item.insert("proven_ms".into(), n(proof.proven_at.timestamp_millis()));
        item.insert(TABLE.ttl_attribute.into(), n(keep_until.timestamp()));
        let out = self
            .client
            .put_item()
            .table_name(&self.cfg.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR proven_ms <= :p")
            .expression_attribute_values(":p", n(proof.proven_at.timestamp_millis()))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            // A newer login's proof is kept: nothing to do.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(StoreError::from_sdk("PutItem", &e)),
        }
    }

    async fn group_proof(&self, email: &str) -> Result<Option<GroupProof>, StoreError> {
        self.get_item(pk(email), SK.into())
            .await?
            .map(|i| from_item(i, "group proof"))
            .transpose()
    }
}
