//! The capacity each request consumed, as DynamoDB reports it (`ReturnConsumedCapacity`): how
//! `make bench` measures the cost of a booking. Off unless a log is attached to the store.

use std::sync::Mutex;

use aws_sdk_dynamodb::types::ConsumedCapacity;

/// One DynamoDB request and the capacity it consumed, as DynamoDB reported it.
#[derive(Clone, Debug, PartialEq)]
pub struct Consumed {
    pub operation: &'static str,
    /// Per table: (table, read units, write units).
    pub tables: Vec<(String, f64, f64)>,
}

/// Whether a request reads or writes: where DynamoDB reports only a total, it is of that kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    Read,
    Write,
}

/// Every request of the booking path with the capacity it consumed.
#[derive(Debug, Default)]
pub struct CapacityLog {
    requests: Mutex<Vec<Consumed>>,
}

impl CapacityLog {
    pub fn take(&self) -> Vec<Consumed> {
        std::mem::take(&mut *self.requests.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub(crate) fn push(&self, operation: &'static str, access: Access, consumed: &[ConsumedCapacity]) {
        let tables = consumed
            .iter()
            .map(|c| {
                let table = c.table_name().unwrap_or_default().to_owned();
                let total = c.capacity_units().unwrap_or(0.0);
                let (read, write) = match (c.read_capacity_units(), c.write_capacity_units(), access) {
                    (None, None, Access::Write) => (0.0, total),
                    (None, None, Access::Read) => (total, 0.0),
                    (read, write, _) => (read.unwrap_or(0.0), write.unwrap_or(0.0)),
                };
                (table, read, write)
            })
            .collect();
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Consumed { operation, tables });
    }
}
