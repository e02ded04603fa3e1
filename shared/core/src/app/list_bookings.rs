//! `GET /bookings/my`: a customer's bookings, newest first.

use std::sync::Arc;

use super::FlowError;
use crate::domain::{Booking, UserId};
use crate::ports::Bookings;

/// The list-my-bookings use case.
pub struct ListBookings<S> {
    store: Arc<S>,
}

impl<S: Bookings> ListBookings<S> {
    /// The most bookings one listing returns.
    pub const LIMIT: usize = 100;

    pub fn new(store: Arc<S>) -> Self {
        Self { store }
    }

    pub async fn of(&self, user: &UserId) -> Result<Vec<Booking>, FlowError> {
        Ok(self.store.bookings_of(user, Self::LIMIT).await?)
    }
}
