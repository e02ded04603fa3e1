//! The hold's expiry, sent once the hold is written: the bookings table's stream brings every new
//! booking here (only a committed transaction puts one there), and its expiry goes onto the delay queue,
//! due when its hold lapses. The stream keeps a booking until its expiry is sent (a failed send is
//! retried, then dead-lettered and alarmed), so no committed hold lacks its expiry and no expiry names
//! a hold that was never written, while `POST /bookings` waits for nothing but its own transaction.

use std::sync::Arc;
use std::time::Duration;

use tracing::{error, info};

use crate::domain::{Booking, Clock};
use crate::metrics::{self, Metric};
use crate::ports::{delay_until, ExpiryQueue, HoldExpiry, QueueError, MAX_DELAY};

/// Sent this long after the hold lapses, the expiry finds it lapsed by the expirer's clock too (one that
/// arrives early is sent again for the rest, a wasted round).
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(1);

/// The schedule-expiries use case.
pub struct ScheduleExpiries {
    queue: Arc<dyn ExpiryQueue>,
    clock: Arc<dyn Clock>,
}

impl ScheduleExpiries {
    pub fn new(queue: Arc<dyn ExpiryQueue>, clock: Arc<dyn Clock>) -> Self {
        Self { queue, clock }
    }

    /// Sends each new booking's expiry, due [`EXPIRY_MARGIN`] after its hold lapses (at once if it has
    /// already); one result per booking, in order. A booking sent twice (a retried batch) expires once:
    /// the expirer acts only on a pending booking whose hold has lapsed.
    pub async fn schedule(&self, bookings: &[Booking]) -> Vec<Result<(), QueueError>> {
        let now = self.clock.now();
        let expiries: Vec<(HoldExpiry, Duration)> = bookings
            .iter()
            .map(|b| {
                let delay = (delay_until(b.hold_expires_at, now) + EXPIRY_MARGIN).min(MAX_DELAY);
                (HoldExpiry::for_booking(b), delay)
            })
            .collect();
        let results = self.queue.schedule_all(&expiries).await;
        for (booking, result) in bookings.iter().zip(&results) {
            let span = tracing::info_span!("schedule_expiry", booking_id = %booking.booking_id);
            let _in = span.enter();
            match result {
                Ok(()) => {
                    info!(due = %booking.hold_expires_at, "hold's expiry scheduled");
                    metrics::count(Metric::ExpiriesScheduled);
                    let lag = now.as_millis().saturating_sub(booking.created_at.as_millis()).max(0);
                    metrics::record(Metric::ExpiryLag, lag as f64);
                }
                Err(e) => error!(error = %e, "hold's expiry not sent; reported for retry"),
            }
        }
        results
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::domain::{
        BookingId, BookingStatus, Currency, ManualClock, Money, PaymentMethod, PerformanceId, Quantity, Timestamp,
        UserId,
    };

    #[derive(Default)]
    struct Recorded(Mutex<Vec<(HoldExpiry, Duration)>>);

    #[async_trait]
    impl ExpiryQueue for Recorded {
        async fn schedule(&self, expiry: &HoldExpiry, delay: Duration) -> Result<(), QueueError> {
            if expiry.user_id.as_str() == "down" {
                return Err(QueueError("refused".to_owned()));
            }
            self.0.lock().expect("lock").push((expiry.clone(), delay));
            Ok(())
        }
    }

    fn booking(user: &str, created: i64, lapses: i64) -> Booking {
        let booking_id = BookingId::generate();
        Booking {
            payment_intent_id: booking_id.payment_intent_id(),
            booking_id,
            user_id: UserId::try_from(user).expect("valid"),
            performance_id: PerformanceId::try_from("perf_001").expect("valid"),
            quantity: Quantity::try_from(1).expect("valid"),
            seat_ids: Vec::new(),
            status: BookingStatus::Pending,
            total: Money::new(30_000, Currency::try_from("KRW".to_owned()).expect("valid")),
            payment_method: PaymentMethod::CreditCard,
            created_at: Timestamp::from_millis(created),
            hold_expires_at: Timestamp::from_millis(lapses),
            updated_at: Timestamp::from_millis(created),
            refund: None,
            seats_counted: false,
        }
    }

    #[tokio::test]
    async fn each_expiry_is_due_a_margin_after_its_hold_lapses_never_before_now_nor_past_the_queue_s_limit() {
        let queue = Arc::new(Recorded::default());
        let clock = Arc::new(ManualClock::at(Timestamp::from_millis(100_000)));
        let scheduler = ScheduleExpiries::new(queue.clone(), clock);
        let bookings = [
            booking("a", 100_000, 700_000),
            booking("b", 10_000, 50_000),
            booking("c", 100_000, 100_000 + 3_600_000),
            booking("down", 100_000, 700_000),
        ];
        let results = scheduler.schedule(&bookings).await;
        assert!(results[..3].iter().all(Result::is_ok));
        assert!(results[3].is_err(), "one refused send is reported, the others stand");
        let sent = queue.0.lock().expect("lock").clone();
        let delays: Vec<(String, Duration)> = sent.iter().map(|(e, d)| (e.user_id.as_str().to_owned(), *d)).collect();
        assert_eq!(
            delays,
            [
                ("a".to_owned(), Duration::from_secs(600) + EXPIRY_MARGIN),
                ("b".to_owned(), EXPIRY_MARGIN),
                ("c".to_owned(), MAX_DELAY),
            ]
        );
        assert_eq!(sent[0].0, HoldExpiry::for_booking(&bookings[0]));
    }
}
