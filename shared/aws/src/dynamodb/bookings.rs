//! [`Bookings`]: a booking by id, and a user's bookings through the `byUser` index.

use async_trait::async_trait;
use ticketing_core::domain::{Booking, BookingId, UserId};
use ticketing_core::ports::{Bookings, Consistency, StoreError};

use super::expr::{from_item, key, s};
use super::{unavailable, DynamoStore, Tables};

#[async_trait]
impl Bookings for DynamoStore {
    async fn booking(&self, id: &BookingId, consistency: Consistency) -> Result<Option<Booking>, StoreError> {
        self.get(&self.tables.bookings, key("bookingId", id.as_str()), consistency)
            .await
    }

    async fn bookings_of(&self, user: &UserId, limit: usize) -> Result<Vec<Booking>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.tables.bookings)
            .index_name(Tables::BOOKINGS_BY_USER)
            .key_condition_expression("userId = :u")
            .expression_attribute_values(":u", s(user.as_str()))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(unavailable)?;
        out.items.unwrap_or_default().into_iter().map(from_item).collect()
    }
}
