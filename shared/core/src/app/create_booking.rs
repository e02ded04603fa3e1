//! `POST /bookings`: check the performance is on sale, choose seats (within a section if asked) from
//! what this process has seen of the hall, and write the pending booking, its payment intent and its
//! seat locks at once: one request to DynamoDB in the common case, and nothing else on the way (the
//! hold's expiry is sent from the bookings table's stream once the booking is written:
//! [`super::ScheduleExpiries`]). A race lost to another booking is retried with what its refusal told.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tracing::{info, warn, Instrument};

use super::performance_cache::PerformanceCache;
use super::seat_search::{find_seats, Hall, Halls, SeatChoice};
use super::FlowError;
use super::Idempotency;
use crate::catalog::Performance;
use crate::domain::{Booking, BookingId, Clock, PaymentMethod, PerformanceId, Quantity, SeatId, UserId};
use crate::idempotency::Remember;
use crate::metrics::{self, Metric};
use crate::ports::{HoldError, HoldRequest, Holds, IdempotencyKeys, LayoutLock, NewHold, Performances, SeatLocks};

/// How many times a booking reads the performance again after its layout changed under it.
const LAYOUT_ATTEMPTS: u32 = 3;

/// How many times a booking chooses again after losing a seat to a concurrent booking.
const HOLD_ATTEMPTS: u32 = 25;

/// A customer's booking request, parsed.
#[derive(Clone, Debug)]
pub struct BookingRequest {
    pub performance_id: PerformanceId,
    pub quantity: Quantity,
    pub payment_method: PaymentMethod,
    /// Only seats of this section.
    pub section: Option<String>,
}

/// How long a new booking holds its seats unpaid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HoldPolicy {
    pub hold_seconds: u64,
}

impl Default for HoldPolicy {
    fn default() -> Self {
        Self { hold_seconds: 600 }
    }
}

/// The create-booking use case, with everything it needs.
pub struct CreateBooking<S> {
    store: Arc<S>,
    performances: Arc<PerformanceCache<S>>,
    clock: Arc<dyn Clock>,
    policy: HoldPolicy,
    /// What this process has seen of the halls it sells.
    halls: Halls,
}

impl<S: IdempotencyKeys> CreateBooking<S> {
    /// The idempotency keys of this route.
    pub fn idempotency(&self) -> Idempotency<'_> {
        Idempotency::new(self.store.as_ref(), self.clock.as_ref())
    }
}

impl<S: SeatLocks + Holds + Performances> CreateBooking<S> {
    pub fn new(
        store: Arc<S>,
        performances: Arc<PerformanceCache<S>>,
        clock: Arc<dyn Clock>,
        policy: HoldPolicy,
    ) -> Self {
        Self {
            store,
            performances,
            clock,
            policy,
            halls: Halls::default(),
        }
    }

    /// Allocates seats and writes the pending booking, its payment intent and its seat locks at once.
    /// A race lost to another booking is retried with a fresh read, spreading over the free seats.
    /// With `remember`, the request's idempotency key is completed with the response in the same
    /// transaction.
    pub async fn create(
        &self,
        user: UserId,
        request: BookingRequest,
        remember: Option<Remember<'_, Booking>>,
    ) -> Result<Booking, FlowError> {
        let perf = self.bookable(&request.performance_id).await?;
        let limit = perf.record.max_seats_per_booking;
        if request.quantity.get() > limit {
            return Err(FlowError::QuantityOverLimit { limit });
        }
        let hall: Cow<'_, [SeatId]> = match &request.section {
            None => Cow::Borrowed(&perf.seats),
            Some(name) if perf.section(name).is_some() => Cow::Owned(perf.seats_in(name)),
            Some(name) => return Err(FlowError::UnknownSection(name.clone())),
        };
        if perf
            .max_seats_per_user()
            .is_some_and(|limit| request.quantity.get() > limit)
        {
            return Err(limit_reached(&perf));
        }
        let hold = HoldRequest {
            booking_id: BookingId::generate(),
            user_id: user,
            performance_id: request.performance_id,
            quantity: request.quantity,
            payment_method: request.payment_method,
            total: perf.price_of(&[]).ok_or(FlowError::PriceOverflow)?,
        };
        let span = tracing::info_span!("create_booking", booking_id = %hold.booking_id, performance_id = %perf.id());
        self.hold_seats(&perf, &hall, &hold, remember.as_ref())
            .instrument(span)
            .await
    }

    /// The performance, on sale within its window, its layout locked against changes (once, before
    /// its first hold). When the lock shows that others book the performance at this instant (the
    /// moment of a sale), the seat search spreads out from this booking's first hold.
    async fn bookable(&self, id: &PerformanceId) -> Result<Arc<Performance>, FlowError> {
        for _ in 0..LAYOUT_ATTEMPTS {
            let perf = self.performances.for_booking(id).await?;
            match self.performances.lock_layout(&perf).await? {
                LayoutLock::Locked => return Ok(perf),
                LayoutLock::LockedBefore => {
                    // Rather than meet the others on the front seats and be refused there.
                    self.halls.crowded(perf.id(), self.clock.now());
                    return Ok(perf);
                }
                LayoutLock::Changed => {}
            }
        }
        Err(FlowError::PerformanceContended(id.clone()))
    }

    async fn hold_seats(
        &self,
        perf: &Performance,
        hall: &[SeatId],
        request: &HoldRequest,
        remember: Option<&Remember<'_, Booking>>,
    ) -> Result<Booking, FlowError> {
        let quantity = usize::try_from(request.quantity.get()).unwrap_or(usize::MAX);
        let mut refused: HashSet<SeatId> = HashSet::new();
        for attempt in 0..HOLD_ATTEMPTS {
            let now = self.clock.now();
            let hall = Hall {
                performance: perf.id(),
                seats: hall,
            };
            let (choice, reads) = find_seats(self.store.as_ref(), hall, quantity, &refused, &self.halls, now).await?;
            let (seats, replaces) = match choice {
                SeatChoice::Found { seats, replaces } => (seats, replaces),
                SeatChoice::SoldOut { free } => {
                    info!(free, "seats unavailable");
                    metrics::count(Metric::SeatsUnavailable);
                    return Err(FlowError::SeatsUnavailable(perf.id().clone()));
                }
            };
            // Each seat at its section's price.
            let priced = HoldRequest {
                total: perf.price_of(&seats).ok_or(FlowError::PriceOverflow)?,
                ..request.clone()
            };
            let mut hold = NewHold::pending(&priced, seats, &replaces, now, self.policy.hold_seconds)
                .limited_to(perf.max_seats_per_user());
            hold.idempotency = remember.map(|r| r.completion(&hold.booking));
            match self.store.hold(&hold, now).await {
                Ok(()) => {
                    self.halls.held(perf.id(), &hold.locks);
                    info!(seats = %seat_list(&hold.booking.seat_ids), attempt, reads, "booking created");
                    metrics::count(Metric::BookingsCreated);
                    return Ok(hold.booking);
                }
                Err(HoldError::SeatsTaken(taken)) => {
                    self.halls.refused(perf.id(), taken, &mut refused, now);
                    // Losing again and again means a crowd on the same seats: give it a moment to move.
                    if attempt >= 2 {
                        let backoff = rand::rng().random_range(1..=(2u64 << attempt.min(5)));
                        tokio::time::sleep(Duration::from_millis(backoff)).await;
                    }
                }
                Err(HoldError::KeyTaken) => return Err(FlowError::KeyTaken),
                Err(HoldError::LimitReached) => {
                    info!(limit = ?perf.max_seats_per_user(), "the customer's seat limit is reached");
                    return Err(limit_reached(perf));
                }
                Err(HoldError::Store(e)) => return Err(e.into()),
            }
        }
        warn!(attempts = HOLD_ATTEMPTS, "gave up after losing every race for seats");
        metrics::count(Metric::SeatsUnavailable);
        Err(FlowError::SeatsContended(perf.id().clone()))
    }
}

fn limit_reached(perf: &Performance) -> FlowError {
    FlowError::SeatLimitReached {
        performance: perf.id().clone(),
        limit: perf.max_seats_per_user().unwrap_or_default(),
    }
}

fn seat_list(seats: &[SeatId]) -> String {
    seats.iter().map(SeatId::as_str).collect::<Vec<_>>().join(",")
}
