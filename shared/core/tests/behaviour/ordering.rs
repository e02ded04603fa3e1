//! One charge, every order: the payment's own answer and any number of notifications about one charge
//! end, in any order, in one consistent state. The first outcome applied stands; events that agree end
//! the same whatever their order; a success reported for a charge that failed is money owed back, once;
//! never a confirmation and a refund owed for the same booking.

use lambda_http::http::StatusCode;
use ticketing_core::app::InboxEvent;
use ticketing_core::audit;
use ticketing_core::domain::ledger::Account;
use ticketing_core::domain::payment::{PaymentEvent, PaymentEventType};
use ticketing_core::domain::{BookingStatus, ChargeId, Currency, EventId};
use ticketing_core::webhook::{Notification, NotificationData, NotificationType, StoredNotification};
use ticketing_testkit::test_app::{booking_id, Fixture, Setup, TestApp, TestStore, USER};

use crate::helpers::on_both_stores;

/// One report of the charge's outcome: the payment's own answer, or a gateway notification.
#[derive(Clone, Copy, Debug)]
enum Report {
    Own { succeeded: bool },
    Notified { succeeded: bool },
}

use Report::{Notified, Own};

fn permutations(reports: &[Report]) -> Vec<Vec<Report>> {
    if reports.len() <= 1 {
        return vec![reports.to_vec()];
    }
    let mut all = Vec::new();
    for i in 0..reports.len() {
        let mut rest = reports.to_vec();
        let first = rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, first);
            all.push(tail);
        }
    }
    all
}

/// Books 2 seats, pays with `cvv`, then applies `reports` in order; the booking's end.
async fn run<S: TestStore>(app: &TestApp<S>, cvv: &str, reports: &[Report]) -> (BookingStatus, usize, usize) {
    let (_, created) = app.book(USER, 2).await;
    let id = booking_id(&created);
    let (code, paid) = app.pay(USER, id.as_str(), cvv).await;
    assert_eq!(code, StatusCode::OK, "{paid}");
    let charge = ChargeId::try_from(paid["pgMockData"]["chargeId"].as_str().expect("a charge")).expect("valid");
    let booking = app.booking(&id).await;
    let now = app.clock.now();
    for report in reports {
        let event = match *report {
            Own { succeeded } => {
                let (kind, failure) = if succeeded {
                    (PaymentEventType::PaymentSucceeded, None)
                } else {
                    (PaymentEventType::PaymentFailed, Some("DECLINE_2".to_owned()))
                };
                let event = PaymentEvent::of(&booking, kind, failure, now, PaymentEvent::SOURCE_PG_SIMULATOR);
                app.store.put_event(&event.event_id, &event).await.expect("stored");
                InboxEvent::Payment(event)
            }
            Notified { succeeded } => {
                let notification = Notification {
                    id: EventId::generate(),
                    kind: if succeeded {
                        NotificationType::PaymentSucceeded
                    } else {
                        NotificationType::PaymentFailed
                    },
                    created: 0,
                    data: NotificationData {
                        booking_id: id.clone(),
                        charge_id: charge.clone(),
                        amount: 60_000,
                        currency: Currency::try_from("KRW".to_owned()).expect("valid"),
                        failure_code: (!succeeded).then(|| "DECLINE_2".to_owned()),
                        refund_id: None,
                    },
                };
                let stored = StoredNotification::of(&notification, now);
                app.store.put_event(&notification.id, &stored).await.expect("stored");
                InboxEvent::Notification(stored)
            }
        };
        app.api.settle_events.apply(&event).await.expect("applied or noted");
    }
    let status = app.booking(&id).await.status;
    let captures = app.store.ledger_of(&id).await.expect("ledger").len() / 2;
    // Each refund owed is one transaction with one line into REFUNDS_PAYABLE.
    let refunds_owed = app
        .store
        .all_ledger_entries()
        .await
        .expect("ledger")
        .iter()
        .filter(|e| e.booking_id == id && e.account == Account::RefundsPayable)
        .count();
    (status, captures, refunds_owed)
}

on_both_stores!(every_order_of_a_charges_reports_ends_as_its_first_outcome_applied);

async fn every_order_of_a_charges_reports_ends_as_its_first_outcome_applied<S: TestStore>(fixture: Fixture<S>) {
    let app = Setup::seats(3 * 24 * 2).build(fixture).await;
    let scenarios = [
        // Processing: only notifications, two of each outcome.
        (
            "777",
            vec![
                Notified { succeeded: true },
                Notified { succeeded: true },
                Notified { succeeded: false },
                Notified { succeeded: false },
            ],
        ),
        // Answered at once: the answer, notifications that agree and one that contradicts.
        (
            "120",
            vec![
                Own { succeeded: true },
                Notified { succeeded: true },
                Notified { succeeded: false },
                Notified { succeeded: true },
            ],
        ),
        (
            "442",
            vec![
                Own { succeeded: false },
                Notified { succeeded: false },
                Notified { succeeded: true },
                Notified { succeeded: false },
            ],
        ),
    ];
    let mut runs = 0;
    for (cvv, reports) in &scenarios {
        for order in permutations(reports) {
            let (status, captures, refunds_owed) = run(&app, cvv, &order).await;
            // The charge's first outcome: the gateway's answer, or the first notification of a charge it
            // was processing.
            let first_success = match (*cvv, order[0]) {
                ("777", Notified { succeeded } | Own { succeeded }) => succeeded,
                (cvv, _) => cvv == "120",
            };
            let any_success = order
                .iter()
                .any(|r| matches!(r, Own { succeeded: true } | Notified { succeeded: true }));
            let expected = if first_success {
                (BookingStatus::Confirmed, 1, 0)
            } else {
                (BookingStatus::Failed, 0, usize::from(any_success))
            };
            assert_eq!((status, captures, refunds_owed), expected, "CVV {cvv}, {order:?}");
            runs += 1;
        }
    }
    assert_eq!(runs, 72);
    let report = audit::run(app.store.as_ref()).await.expect("audit");
    assert!(report.is_clean(), "{report}");
    // CVV 777: the 12 orders that begin with a failure; CVV 442: all 24 (each reports a success).
    assert_eq!(
        report.refunds_owed.len(),
        12 + 24,
        "every failed charge reported a success is owed once"
    );
}
