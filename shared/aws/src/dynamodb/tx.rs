//! Transactions whose items carry labels: a refusal is read by label, never by position, so the items
//! of a transaction can be reordered or added to without changing what a refusal means.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{CancellationReason, TransactWriteItem};
use rand::Rng;
use ticketing_core::ports::StoreError;

use super::{unavailable, DynamoStore};

/// How many times a transaction is tried again after conflicting with a concurrent one.
pub(super) const CONFLICT_RETRIES: usize = 3;

/// The items of one TransactWriteItems, each with what it stands for.
pub(super) struct Tx<L> {
    items: Vec<TransactWriteItem>,
    labels: Vec<L>,
}

impl<L> Tx<L> {
    pub(super) fn new() -> Self {
        Self {
            items: Vec::new(),
            labels: Vec::new(),
        }
    }

    pub(super) fn push(&mut self, label: L, item: TransactWriteItem) {
        self.items.push(item);
        self.labels.push(label);
    }
}

/// Why a transaction did not commit.
pub(super) enum Cancelled<L> {
    /// DynamoDB's reason for each item, with the item's label.
    Refused(Refusal<L>),
    Other(StoreError),
}

/// The reasons of a cancelled transaction, by label.
pub(super) struct Refusal<L> {
    reasons: Vec<(L, CancellationReason)>,
}

fn code(r: &CancellationReason) -> &str {
    r.code().unwrap_or("None")
}

fn is_condition_failure(r: &CancellationReason) -> bool {
    code(r) == "ConditionalCheckFailed"
}

impl<L> Refusal<L> {
    /// The items whose condition failed, with the reason (which holds the old item when asked for).
    pub(super) fn failed(&self) -> impl Iterator<Item = (&L, &CancellationReason)> {
        self.reasons
            .iter()
            .filter(|(_, r)| is_condition_failure(r))
            .map(|(l, r)| (l, r))
    }

    /// The first item matching `which` whose condition failed.
    pub(super) fn failed_on(&self, which: impl Fn(&L) -> bool) -> Option<&CancellationReason> {
        self.failed().find(|(l, _)| which(l)).map(|(_, r)| r)
    }

    /// Cancelled only by conflicts with concurrent transactions: trying again may commit.
    fn only_conflicts(&self) -> bool {
        self.reasons.iter().any(|(_, r)| code(r) == "TransactionConflict")
            && self
                .reasons
                .iter()
                .all(|(_, r)| matches!(code(r), "None" | "TransactionConflict"))
    }

    /// Only failed conditions and conflicts with concurrent transactions: a lost race, not a fault.
    pub(super) fn lost_race(&self) -> bool {
        self.reasons
            .iter()
            .all(|(_, r)| matches!(code(r), "None" | "ConditionalCheckFailed" | "TransactionConflict"))
    }

    /// A store error that names every reason.
    pub(super) fn into_error(self) -> StoreError {
        let codes: Vec<&str> = self.reasons.iter().map(|(_, r)| code(r)).collect();
        StoreError::Unavailable(format!("transaction cancelled: {codes:?}"))
    }
}

impl DynamoStore {
    /// Runs a transaction, again (a bounded number of times) while it only conflicted with concurrent
    /// transactions on the same items: such a conflict says nothing about the conditions.
    pub(super) async fn transact<L: Clone>(&self, tx: Tx<L>) -> Result<(), Cancelled<L>> {
        let mut retries = 0;
        loop {
            match self.transact_once(&tx).await {
                Err(Cancelled::Refused(refusal)) if refusal.only_conflicts() && retries < CONFLICT_RETRIES => {
                    retries += 1;
                    let backoff = rand::rng().random_range(1..=(5u64 << retries));
                    tokio::time::sleep(std::time::Duration::from_millis(backoff)).await;
                }
                result => return result,
            }
        }
    }

    async fn transact_once<L: Clone>(&self, tx: &Tx<L>) -> Result<(), Cancelled<L>> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(tx.items.clone()))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) => match e.into_err() {
                TransactWriteItemsError::TransactionCanceledException(c) => {
                    let reasons = c.cancellation_reasons.unwrap_or_default();
                    Err(Cancelled::Refused(Refusal {
                        reasons: tx.labels.iter().cloned().zip(reasons).collect(),
                    }))
                }
                other => Err(Cancelled::Other(unavailable(other))),
            },
            Err(other) => Err(Cancelled::Other(unavailable(other))),
        }
    }
}
