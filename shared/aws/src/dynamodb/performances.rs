//! [`Performances`]: the `performances` table, one item per performance (the hall as sections of rows
//! with seat counts), and its `byStatus` index for listing what is on sale, soonest first.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use ticketing_core::catalog::{CancellationProgress, PerformanceRecord, PerformanceStatus};
use ticketing_core::domain::PerformanceId;
use ticketing_core::idempotency::Completion;
use ticketing_core::ports::{
    Consistency, CreateError, LayoutLock, Page, PageKey, Performances, StoreError, UpdateError,
};

use super::expr::{conditional, conditional_output, from_item, key, n, put_new, s, to_item, Item};
use super::keys::complete_key_item;
use super::tx::{Cancelled, Tx};
use super::{unavailable, DynamoStore, Tables};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Performance,
    Key,
}

fn version(v: u64) -> AttributeValue {
    n(i64::try_from(v).unwrap_or(i64::MAX))
}

#[async_trait]
impl Performances for DynamoStore {
    async fn create_performance(
        &self,
        record: &PerformanceRecord,
        idempotency: Option<&Completion>,
    ) -> Result<(), CreateError> {
        let item = to_item(record)?;
        let Some(completion) = idempotency else {
            let put = self
                .client
                .put_item()
                .table_name(&self.tables.performances)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(performanceId)")
                .send()
                .await;
            return if conditional(put)? {
                Ok(())
            } else {
                Err(CreateError::Exists)
            };
        };
        let mut tx = Tx::new();
        tx.push(
            Part::Performance,
            put_new(&self.tables.performances, item, "performanceId")?,
        );
        tx.push(Part::Key, complete_key_item(&self.tables, completion)?);
        match self.transact(tx).await {
            Ok(()) => Ok(()),
            Err(Cancelled::Refused(refusal)) if refusal.failed_on(|p| *p == Part::Performance).is_some() => {
                Err(CreateError::Exists)
            }
            Err(Cancelled::Refused(refusal)) if refusal.failed_on(|p| *p == Part::Key).is_some() => {
                Err(CreateError::KeyTaken)
            }
            Err(Cancelled::Refused(refusal)) => Err(refusal.into_error().into()),
            Err(Cancelled::Other(e)) => Err(e.into()),
        }
    }

    async fn performance(
        &self,
        id: &PerformanceId,
        consistency: Consistency,
    ) -> Result<Option<PerformanceRecord>, StoreError> {
        self.get(
            &self.tables.performances,
            key("performanceId", id.as_str()),
            consistency,
        )
        .await
    }

    async fn update_performance(
        &self,
        record: &PerformanceRecord,
        read_version: u64,
        layout_changed: bool,
    ) -> Result<(), UpdateError> {
        let condition = if layout_changed {
            "attribute_exists(performanceId) AND version = :read AND layoutLocked = :unlocked"
        } else {
            "attribute_exists(performanceId) AND version = :read"
        };
        let mut put = self
            .client
            .put_item()
            .table_name(&self.tables.performances)
            .set_item(Some(to_item(record)?))
            .condition_expression(condition)
            .expression_attribute_values(":read", version(read_version));
        if layout_changed {
            put = put.expression_attribute_values(":unlocked", AttributeValue::Bool(false));
        }
        if conditional(put.send().await)? {
            return Ok(());
        }
        // Refused: say why from the item as it stands now.
        match self.performance(&record.performance_id, Consistency::Strong).await? {
            None => Err(UpdateError::NotFound),
            Some(now) if now.version != read_version => Err(UpdateError::Moved),
            Some(_) => Err(UpdateError::LayoutLocked),
        }
    }

    async fn lock_layout(&self, id: &PerformanceId, layout_version: u64) -> Result<LayoutLock, StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.tables.performances)
            .set_key(Some(key("performanceId", id.as_str())))
            .update_expression("SET layoutLocked = :locked ADD version :one")
            .condition_expression("attribute_exists(performanceId) AND layoutVersion = :layout")
            .expression_attribute_values(":locked", AttributeValue::Bool(true))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":layout", version(layout_version))
            // The lock as it was: set already means another booking locked it since it was read.
            .return_values(ReturnValue::UpdatedOld)
            .send()
            .await;
        let Some(out) = conditional_output(update)? else {
            return Ok(LayoutLock::Changed);
        };
        let before = out.attributes.as_ref().and_then(|old| old.get("layoutLocked"));
        Ok(if before == Some(&AttributeValue::Bool(true)) {
            LayoutLock::LockedBefore
        } else {
            LayoutLock::Locked
        })
    }

    async fn record_cancellation(&self, id: &PerformanceId, progress: &CancellationProgress) -> Result<(), StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.tables.performances)
            .set_key(Some(key("performanceId", id.as_str())))
            .update_expression("SET cancellation = :progress")
            .condition_expression("attribute_exists(performanceId)")
            .expression_attribute_values(":progress", AttributeValue::M(to_item(progress)?))
            .send()
            .await;
        conditional(update).map(|_| ())
    }

    async fn performances(
        &self,
        status: PerformanceStatus,
        limit: u32,
        after: Option<&PageKey>,
    ) -> Result<Page, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.tables.performances)
            .index_name(Tables::PERFORMANCES_BY_STATUS)
            .key_condition_expression("#status = :status")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", s(status.as_str()))
            .scan_index_forward(true)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX));
        if let Some(after) = after {
            let start: Item = [
                ("status".to_owned(), s(status.as_str())),
                ("startsAt".to_owned(), s(after.starts_at.to_rfc3339())),
                ("performanceId".to_owned(), s(after.performance_id.as_str())),
            ]
            .into();
            query = query.set_exclusive_start_key(Some(start));
        }
        let out = query.send().await.map_err(unavailable)?;
        let performances: Vec<PerformanceRecord> = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(from_item)
            .collect::<Result<_, _>>()?;
        // More may follow when DynamoDB stopped at the limit; the last one listed is where to go on.
        let next = out.last_evaluated_key.and(performances.last()).map(|p| PageKey {
            starts_at: p.starts_at,
            performance_id: p.performance_id.clone(),
        });
        Ok(Page { performances, next })
    }
}
