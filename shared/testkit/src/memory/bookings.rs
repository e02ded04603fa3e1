//! [`Bookings`]: by id, and a user's newest first.

use async_trait::async_trait;
use ticketing_core::domain::{Booking, BookingId, UserId};
use ticketing_core::ports::{Bookings, Consistency, StoreError};

use super::MemoryStore;

#[async_trait]
impl Bookings for MemoryStore {
    async fn booking(&self, user: &UserId, id: &BookingId, _: Consistency) -> Result<Option<Booking>, StoreError> {
        Ok(self.state().bookings.get(id).filter(|b| &b.user_id == user).cloned())
    }

    async fn bookings_of(&self, user: &UserId, limit: usize) -> Result<Vec<Booking>, StoreError> {
        let state = self.state();
        let mut mine: Vec<Booking> = state
            .bookings
            .values()
            .filter(|b| &b.user_id == user)
            .cloned()
            .collect();
        mine.sort_by_key(|b| std::cmp::Reverse(b.created_at));
        mine.truncate(limit);
        Ok(mine)
    }
}
