//! The storage contract: what every store must do, checked the same way on each implementation. Each
//! case is a function over a fresh store; [`contract_tests!`](crate::contract_tests) makes each one
//! its own test for a store.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use ticketing_core::app::load_catalog;
use ticketing_core::catalog::Catalog;
use ticketing_core::domain::ledger;
use ticketing_core::domain::payment::{PaymentEvent, PaymentEventType, PgResult};
use ticketing_core::domain::refund::Refund;
use ticketing_core::domain::seats::SeatLock;
use ticketing_core::domain::{
    BookingId, BookingStatus, ChargeId, Currency, IntentStatus, Money, PaymentMethod, PerformanceId, Quantity, SeatId,
    SeatState, Timestamp, UserId,
};
use ticketing_core::ports::{
    Applied, Bookings, Consistency, HoldError, HoldRequest, Holds, LayoutLock, NewHold, PaymentOutcome, Payments,
    Performances, RecordError, Release, SeatLocks, Settlement, Settlements, TakenSeat,
};

use crate::inspect::Inspect;
use ticketing_core::audit::AuditSource;
use ticketing_core::ports::{Inbox, RefundOwed};

/// Everything the contract exercises.
pub trait Store:
    SeatLocks + Holds + Payments + Bookings + Settlements + Inbox + Performances + Inspect + AuditSource
{
}
impl<T: SeatLocks + Holds + Payments + Bookings + Settlements + Inbox + Performances + Inspect + AuditSource> Store
    for T
{
}

/// One test per case of the contract, each on a fresh store: `contract_tests!(fixture)`, where
/// `fixture` (evaluated in an async test) dereferences to the store and keeps alive what it needs.
#[macro_export]
macro_rules! contract_tests {
    ($fixture:expr) => {
        $crate::contract_tests!(@cases $fixture;
            a_seat_is_held_once,
            lapsed_locks_go_only_as_they_were_seen,
            a_payment_is_recorded_once_and_only_in_time,
            settling_is_atomic_and_idempotent,
            releasing_frees_only_own_seats,
            history_is_newest_first_per_user,
            an_expiry_and_a_payment_exclude_each_other,
            a_refund_owed_is_booked_once_with_its_note,
            a_user_holds_at_most_the_seat_limit_and_a_release_gives_room_back,
            a_layout_is_locked_at_the_version_read_and_says_if_it_was_already
        );
    };
    (@cases $fixture:expr; $($case:ident),*) => {
        $(
            #[tokio::test]
            async fn $case() {
                let fixture = $fixture;
                $crate::contract::$case(&*fixture).await;
            }
        )*
    };
}

const T0: i64 = 1_800_000_000_000;
const HOLD_MS: i64 = 600_000;

fn at(ms: i64) -> Timestamp {
    Timestamp::from_millis(T0 + ms)
}

fn perf() -> PerformanceId {
    PerformanceId::try_from("perf_contract").expect("valid")
}

fn seat(id: &str) -> SeatId {
    SeatId::try_from(id).expect("valid")
}

fn hold(user: &str, seats: &[&str], created: i64, replaces: Vec<SeatLock>) -> NewHold {
    let request = HoldRequest {
        booking_id: BookingId::generate(),
        user_id: UserId::try_from(user).expect("valid"),
        performance_id: perf(),
        quantity: Quantity::try_from(seats.len() as u32).expect("valid"),
        payment_method: PaymentMethod::CreditCard,
        total: Money::new(
            30_000 * seats.len() as i64,
            Currency::try_from("KRW".to_owned()).expect("valid"),
        ),
    };
    let seat_ids = seats.iter().map(|s| seat(s)).collect();
    NewHold::pending(&request, seat_ids, &replaces, at(created), (HOLD_MS / 1000) as u64)
}

fn outcome(h: &NewHold, success: bool, now: i64) -> PaymentOutcome {
    let b = &h.booking;
    PaymentOutcome {
        payment_intent_id: b.payment_intent_id.clone(),
        status: if success {
            IntentStatus::Succeeded
        } else {
            IntentStatus::Failed
        },
        pg: PgResult {
            charge_id: Some(ChargeId::generate()),
            is_success: Some(success),
            failure_code: (!success).then(|| "DECLINE_2".to_owned()),
            processed_at: at(now),
            resolves_at: None,
            refund_declines: 0,
        },
        event: Some(PaymentEvent::of(
            b,
            if success {
                PaymentEventType::PaymentSucceeded
            } else {
                PaymentEventType::PaymentFailed
            },
            None,
            at(now),
            PaymentEvent::SOURCE_PG_SIMULATOR,
        )),
        locks_held_until: None,
        idempotency: None,
    }
}

fn settlement(h: &NewHold, event: &PaymentEvent, now: i64) -> Settlement {
    let b = &h.booking;
    Settlement {
        booking_id: b.booking_id.clone(),
        user_id: b.user_id.clone(),
        performance_id: b.performance_id.clone(),
        seat_ids: b.seat_ids.clone(),
        entries: ledger::capture(&b.booking_id, &b.total, &event.event_id, at(now)),
        at: at(now),
        intent: None,
    }
}

fn release(h: &NewHold, now: i64) -> Release {
    let b = &h.booking;
    Release {
        booking_id: b.booking_id.clone(),
        user_id: b.user_id.clone(),
        counted: b.seats_counted,
        performance_id: b.performance_id.clone(),
        seat_ids: b.seat_ids.clone(),
        to: BookingStatus::Failed,
        at: at(now),
        intent: None,
        idempotency: None,
    }
}

fn expiry(h: &NewHold, now: i64) -> Release {
    Release {
        to: BookingStatus::Expired,
        intent: Some((h.booking.payment_intent_id.clone(), IntentStatus::Cancelled)),
        ..release(h, now)
    }
}

async fn lock_of<S: Store>(store: &S, id: &str) -> Option<SeatLock> {
    store
        .seat_locks(&perf(), Consistency::Strong)
        .await
        .expect("locks")
        .into_iter()
        .find(|l| l.seat_id.as_str() == id)
}

async fn status_of<S: Store>(store: &S, h: &NewHold) -> BookingStatus {
    store
        .booking(&h.booking.user_id, &h.booking.booking_id, Consistency::Strong)
        .await
        .expect("read")
        .expect("exists")
        .status
}

/// A clause of the contract.
pub async fn an_expiry_and_a_payment_exclude_each_other<S: Store>(store: &S) {
    let h = hold("u1", &["G1", "G2"], 0, vec![]);
    store.hold(&h, at(0)).await.expect("hold");
    assert_eq!(
        store.release(&expiry(&h, HOLD_MS - 1)).await.expect("early"),
        Applied::NotDue
    );
    assert_eq!(status_of(store, &h).await, BookingStatus::Pending);
    assert_eq!(
        store.release(&expiry(&h, HOLD_MS)).await.expect("expire"),
        Applied::Done
    );
    assert_eq!(status_of(store, &h).await, BookingStatus::Expired);
    let intent = store
        .payment_intent(&h.booking.payment_intent_id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(intent.status, IntentStatus::Cancelled);
    assert!(lock_of(store, "G1").await.is_none() && lock_of(store, "G2").await.is_none());
    assert!(matches!(
        store
            .record_payment(&outcome(&h, true, HOLD_MS - 1), at(HOLD_MS - 1))
            .await,
        Err(RecordError::NotPayable(_))
    ));
    assert_eq!(
        store.release(&expiry(&h, HOLD_MS + 1)).await.expect("again"),
        Applied::AlreadyFinal(BookingStatus::Expired)
    );

    let paid = hold("u1", &["G3"], 0, vec![]);
    store.hold(&paid, at(0)).await.expect("hold");
    store
        .record_payment(&outcome(&paid, true, HOLD_MS - 1), at(HOLD_MS - 1))
        .await
        .expect("paid just in time");
    assert_eq!(
        store.release(&expiry(&paid, HOLD_MS)).await.expect("expire"),
        Applied::IntentSettledOtherwise
    );
    assert_eq!(status_of(store, &paid).await, BookingStatus::Pending);
    assert_eq!(
        lock_of(store, "G3").await.map(|l| l.booking_id),
        Some(paid.booking.booking_id.clone())
    );
}

/// A clause of the contract.
pub async fn a_seat_is_held_once<S: Store>(store: &S) {
    let first = hold("u1", &["A1", "A2"], 0, vec![]);
    store.hold(&first, at(0)).await.expect("first hold");
    let clash = hold("u2", &["A2", "A3"], 1, vec![]);
    match store.hold(&clash, at(1)).await {
        Err(HoldError::SeatsTaken(refused)) => assert_eq!(
            refused,
            [TakenSeat {
                seat_id: seat("A2"),
                lock: first.locks.iter().find(|l| l.seat_id == seat("A2")).cloned(),
            }],
            "names the refused seat with the lock that holds it"
        ),
        other => panic!("a held seat must be refused, got {other:?}"),
    }
    assert!(lock_of(store, "A3").await.is_none(), "a failed hold writes nothing");
    assert!(store
        .booking(&clash.booking.user_id, &clash.booking.booking_id, Consistency::Strong)
        .await
        .expect("read")
        .is_none());
    let a2 = lock_of(store, "A2").await.expect("A2 locked");
    assert_eq!(a2.booking_id, first.booking.booking_id);
    assert_eq!(a2.status, SeatState::Locked);
    // Claiming a live lock as if it had lapsed fails too.
    let pretend = hold("u2", &["A2"], 2, vec![a2]);
    assert!(matches!(
        store.hold(&pretend, at(2)).await,
        Err(HoldError::SeatsTaken(_))
    ));
}

/// A clause of the contract.
pub async fn lapsed_locks_go_only_as_they_were_seen<S: Store>(store: &S) {
    let old = hold("u1", &["B1"], 0, vec![]);
    store.hold(&old, at(0)).await.expect("hold");
    let seen = lock_of(store, "B1").await.expect("locked");
    let later = HOLD_MS + 1;
    assert!(seen.is_lapsed(at(later)));
    // Not naming the lapsed lock fails: the seat is not unlocked.
    let blind = hold("u2", &["B1"], later, vec![]);
    assert!(matches!(
        store.hold(&blind, at(later)).await,
        Err(HoldError::SeatsTaken(_))
    ));
    let taker = hold("u2", &["B1"], later, vec![seen.clone()]);
    store.hold(&taker, at(later)).await.expect("a lapsed lock is free");
    assert_eq!(
        lock_of(store, "B1").await.map(|l| l.booking_id),
        Some(taker.booking.booking_id.clone())
    );
    // The old booking can no longer be paid.
    let late = outcome(&old, true, later + 1);
    assert!(matches!(
        store.record_payment(&late, at(later + 1)).await,
        Err(RecordError::NotPayable(_))
    ));
    let intent = store
        .payment_intent(&old.booking.payment_intent_id)
        .await
        .expect("read")
        .expect("exists");
    assert!(intent.seats_released_at.is_some());
    // A second taker that saw the same lapsed lock loses.
    let second = hold("u3", &["B1"], later, vec![seen]);
    assert!(matches!(
        store.hold(&second, at(later)).await,
        Err(HoldError::SeatsTaken(_))
    ));

    // The lapsed lock of a paid booking is not free.
    let paid = hold("u1", &["B2"], 0, vec![]);
    store.hold(&paid, at(0)).await.expect("hold");
    store
        .record_payment(&outcome(&paid, true, 10), at(10))
        .await
        .expect("paid in time");
    let lapsed = lock_of(store, "B2").await.expect("locked");
    let grab = hold("u2", &["B2", "B3"], later, vec![lapsed]);
    match store.hold(&grab, at(later)).await {
        Err(HoldError::SeatsTaken(refused)) => assert_eq!(
            refused.iter().map(|t| &t.seat_id).collect::<Vec<_>>(),
            [&seat("B2")],
            "names the refused seat"
        ),
        other => panic!("the lapsed lock of a paid booking must be refused, got {other:?}"),
    }
}

/// A clause of the contract.
pub async fn a_payment_is_recorded_once_and_only_in_time<S: Store>(store: &S) {
    let h = hold("u1", &["C1"], 0, vec![]);
    store.hold(&h, at(0)).await.expect("hold");
    store
        .record_payment(&outcome(&h, false, 5), at(5))
        .await
        .expect("declined payment recorded");
    let intent = store
        .payment_intent(&h.booking.payment_intent_id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(intent.status, IntentStatus::Failed);
    assert_eq!(intent.pg_mock_data.map(|p| p.is_success), Some(Some(false)));
    match store.record_payment(&outcome(&h, true, 6), at(6)).await {
        Err(RecordError::NotPayable(current)) => assert_eq!(current.status, IntentStatus::Failed),
        other => panic!("a second payment must be refused, got {other:?}"),
    }

    let lapsing = hold("u1", &["C2"], 0, vec![]);
    store.hold(&lapsing, at(0)).await.expect("hold");
    match store
        .record_payment(&outcome(&lapsing, true, HOLD_MS), at(HOLD_MS))
        .await
    {
        Err(RecordError::NotPayable(current)) => assert_eq!(current.status, IntentStatus::Pending),
        other => panic!("a payment after the hold lapsed must be refused, got {other:?}"),
    }
    let missing = hold("u1", &["C3"], 0, vec![]);
    assert!(matches!(
        store.record_payment(&outcome(&missing, true, 1), at(1)).await,
        Err(RecordError::NotFound)
    ));
}

/// A clause of the contract.
pub async fn settling_is_atomic_and_idempotent<S: Store>(store: &S) {
    let h = hold("u1", &["D1", "D2"], 0, vec![]);
    store.hold(&h, at(0)).await.expect("hold");
    let paid = outcome(&h, true, 10);
    store.record_payment(&paid, at(10)).await.expect("paid");
    let s = settlement(&h, paid.event.as_ref().expect("an event"), 20);
    assert_eq!(store.settle(&s).await.expect("settle"), Applied::Done);
    assert_eq!(status_of(store, &h).await, BookingStatus::Confirmed);
    for id in ["D1", "D2"] {
        let lock = lock_of(store, id).await.expect("still there");
        assert_eq!((lock.status, lock.locked_until), (SeatState::Sold, None));
    }
    let entries = store.ledger_of(&h.booking.booking_id).await.expect("ledger");
    assert_eq!(entries.len(), 2);
    assert_eq!(ledger::balance(&entries), 0);
    // Again, even with a new event id and time: nothing changes.
    let again = settlement(&h, outcome(&h, true, 30).event.as_ref().expect("an event"), 40);
    assert_eq!(
        store.settle(&again).await.expect("settle"),
        Applied::AlreadyFinal(BookingStatus::Confirmed)
    );
    assert_eq!(store.ledger_of(&h.booking.booking_id).await.expect("ledger"), entries);
    assert_eq!(
        store.release(&release(&h, 50)).await.expect("release"),
        Applied::AlreadyFinal(BookingStatus::Confirmed)
    );
    assert_eq!(lock_of(store, "D1").await.map(|l| l.status), Some(SeatState::Sold));

    let ghost = hold("u1", &["D3"], 0, vec![]);
    let s = settlement(&ghost, outcome(&ghost, true, 1).event.as_ref().expect("an event"), 1);
    assert_eq!(store.settle(&s).await.expect("settle"), Applied::NoSuchBooking);
    assert!(store
        .ledger_of(&ghost.booking.booking_id)
        .await
        .expect("ledger")
        .is_empty());
}

/// A clause of the contract.
pub async fn releasing_frees_only_own_seats<S: Store>(store: &S) {
    let h = hold("u1", &["E1", "E2"], 0, vec![]);
    store.hold(&h, at(0)).await.expect("hold");
    store
        .record_payment(&outcome(&h, false, 5), at(5))
        .await
        .expect("declined");
    // E2's lapsed lock went to somebody else before the worker ran.
    let later = HOLD_MS + 1;
    let seen = lock_of(store, "E2").await.expect("locked");
    let other = hold("u2", &["E2"], later, vec![seen]);
    store
        .hold(&other, at(later))
        .await
        .expect("lapsed seat of a failed payment is free");
    assert_eq!(
        store.release(&release(&h, later + 1)).await.expect("release"),
        Applied::Done
    );
    assert_eq!(status_of(store, &h).await, BookingStatus::Failed);
    assert!(lock_of(store, "E1").await.is_none());
    assert_eq!(
        lock_of(store, "E2").await.map(|l| l.booking_id),
        Some(other.booking.booking_id.clone())
    );
    assert_eq!(
        store.release(&release(&h, later + 2)).await.expect("again"),
        Applied::AlreadyFinal(BookingStatus::Failed)
    );
    assert!(store.ledger_of(&h.booking.booking_id).await.expect("ledger").is_empty());
}

/// A clause of the contract.
pub async fn history_is_newest_first_per_user<S: Store>(store: &S) {
    let user = UserId::try_from("history_user").expect("valid");
    let mut ids = Vec::new();
    for (i, s) in ["F1", "F2", "F3"].iter().enumerate() {
        let h = hold("history_user", &[s], i as i64 * 1000, vec![]);
        store.hold(&h, at(i as i64 * 1000)).await.expect("hold");
        ids.push(h.booking.booking_id);
    }
    let mine: Vec<BookingId> = store
        .bookings_of(&user, 10)
        .await
        .expect("history")
        .into_iter()
        .map(|b| b.booking_id)
        .collect();
    ids.reverse();
    assert_eq!(mine, ids);
    assert_eq!(store.bookings_of(&user, 2).await.expect("history").len(), 2);
    let nobody = UserId::try_from("nobody").expect("valid");
    assert!(store.bookings_of(&nobody, 10).await.expect("history").is_empty());
}

/// A clause of the contract.
pub async fn a_refund_owed_is_booked_once_with_its_note<S: Store>(store: &S) {
    let h = hold("u1", &["H1"], 0, vec![]);
    store.hold(&h, at(0)).await.expect("hold");
    store.release(&expiry(&h, HOLD_MS)).await.expect("expired");
    let paid = outcome(&h, true, HOLD_MS + 5);
    let event = paid.event.expect("an event");
    store.put_event(&event.event_id, &event).await.expect("stored");
    let owed = RefundOwed {
        user_id: h.booking.user_id.clone(),
        entries: ledger::refund_owed(
            &h.booking.booking_id,
            &h.booking.total,
            &event.event_id,
            event.event_id.as_str(),
            at(HOLD_MS + 5),
        ),
        event_id: event.event_id.clone(),
        note: "REFUND_OWED: late".to_owned(),
        at: at(HOLD_MS + 5),
        refund: Refund::new(
            h.booking.total.clone(),
            &ledger::refund_owed_transaction_id(event.event_id.as_str()),
            at(HOLD_MS + 5),
        ),
    };
    assert!(store.owe_refund(&owed).await.expect("booked"));
    assert!(
        !store.owe_refund(&owed).await.expect("again"),
        "a redelivery books nothing"
    );
    let entries: Vec<_> = store
        .all_ledger_entries()
        .await
        .expect("ledger")
        .into_iter()
        .filter(|e| e.booking_id == h.booking.booking_id)
        .collect();
    assert_eq!(entries.len(), 2);
    assert_eq!(ledger::balance(&entries), 0);
    let noted = store.event(&event.event_id).await.expect("read").expect("stored");
    assert!(
        matches!(noted.get("note"), Some(serde_dynamo::AttributeValue::S(n)) if n == "REFUND_OWED: late"),
        "{noted:?}"
    );
    assert_eq!(
        status_of(store, &h).await,
        BookingStatus::Expired,
        "the booking stays as it ended"
    );
}

/// A clause of the contract.
pub async fn a_user_holds_at_most_the_seat_limit_and_a_release_gives_room_back<S: Store>(store: &S) {
    let limited = |user: &str, seats: &[&str], created: i64| hold(user, seats, created, vec![]).limited_to(Some(3));
    let first = limited("limited_user", &["J1", "J2"], 0);
    store.hold(&first, at(0)).await.expect("2 of 3");
    let over = limited("limited_user", &["J3", "J4"], 1);
    assert!(matches!(store.hold(&over, at(1)).await, Err(HoldError::LimitReached)));
    assert!(lock_of(store, "J3").await.is_none(), "a refused hold writes nothing");
    // Another user has a limit of their own; without a limit nothing is refused.
    store
        .hold(&limited("another_user", &["J5", "J6"], 2), at(2))
        .await
        .expect("their own 2 of 3");
    store
        .hold(&limited("limited_user", &["J7"], 3), at(3))
        .await
        .expect("3 of 3");
    // The first booking fails: its two seats leave the count.
    store.release(&release(&first, 10)).await.expect("released");
    store
        .hold(&limited("limited_user", &["J3", "J4"], 11), at(11))
        .await
        .expect("room again");
    let unlimited = hold("limited_user", &["J8", "J9"], 12, vec![]);
    store.hold(&unlimited, at(12)).await.expect("no limit, no refusal");
    // Not counted without a limit: its release leaves the count alone (3 of 3 still).
    store.release(&release(&unlimited, 13)).await.expect("released");
    let over = limited("limited_user", &["K1"], 14);
    assert!(matches!(store.hold(&over, at(14)).await, Err(HoldError::LimitReached)));
}

/// A clause of the contract.
pub async fn a_layout_is_locked_at_the_version_read_and_says_if_it_was_already<S: Store>(store: &S) {
    let catalog = Catalog::from_json(
        r#"{"performances": [{"performanceId": "perf_layout", "title": "t", "price": 100, "currency": "KRW",
            "seats": ["A1", "A2"]}]}"#,
    )
    .unwrap();
    load_catalog(store, &catalog, at(0)).await.unwrap();
    let id = PerformanceId::try_from("perf_layout").unwrap();
    let read = store.performance(&id, Consistency::Strong).await.unwrap().unwrap();
    assert!(!read.layout_locked);
    // A layout changed since it was read is not locked.
    let moved = store.lock_layout(&id, read.layout_version + 1).await.unwrap();
    assert_eq!(moved, LayoutLock::Changed);
    let missing = PerformanceId::try_from("perf_missing").unwrap();
    assert_eq!(store.lock_layout(&missing, 0).await.unwrap(), LayoutLock::Changed);
    // Two bookings that read it unlocked: the first locks it, the second learns it came second.
    assert_eq!(
        store.lock_layout(&id, read.layout_version).await.unwrap(),
        LayoutLock::Locked
    );
    let second = store.lock_layout(&id, read.layout_version).await.unwrap();
    assert_eq!(second, LayoutLock::LockedBefore);
    let after = store.performance(&id, Consistency::Strong).await.unwrap().unwrap();
    assert!(after.layout_locked);
    assert_eq!(after.version, read.version + 2, "each lock moves the version");
}
