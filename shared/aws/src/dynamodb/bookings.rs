//! [`Bookings`]: a customer's booking, and a customer's bookings: the table is keyed by customer and
//! booking id (time-ordered), so a customer's list is one Query, newest first, without an index.

use async_trait::async_trait;
use ticketing_core::domain::{Booking, BookingId, UserId};
use ticketing_core::ports::{Bookings, Consistency, StoreError};

use super::expr::{booking_key, from_item, s};
use super::{unavailable, DynamoStore};

#[async_trait]
impl Bookings for DynamoStore {
    async fn booking(
        &self,
        user: &UserId,
        id: &BookingId,
        consistency: Consistency,
    ) -> Result<Option<Booking>, StoreError> {
        self.get(&self.tables.bookings, booking_key(user, id), consistency)
            .await
    }

    async fn bookings_of(&self, user: &UserId, limit: usize) -> Result<Vec<Booking>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.tables.bookings)
            .key_condition_expression("userId = :u")
            .expression_attribute_values(":u", s(user.as_str()))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(unavailable)?;
        let mut bookings: Vec<Booking> = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(from_item)
            .collect::<Result<_, _>>()?;
        bookings.sort_by_key(|b| std::cmp::Reverse(b.created_at));
        Ok(bookings)
    }
}
