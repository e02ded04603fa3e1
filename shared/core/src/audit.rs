//! The ledger audit: the promises of the ledger and of the seat locks, checked over everything stored.
//! Every ledger transaction balances, the ledger sums to zero, every confirmed booking is settled
//! exactly once for its own amount and currency, every captured payment either settles one confirmed
//! booking or is refunded exactly once (a cancelled booking's capture is reversed, or its refund is still
//! in progress), every reversal names an existing transaction and reverses it exactly, no other booking
//! is settled, every sold seat belongs to a confirmed booking, every confirmed booking owns exactly its
//! own seats, sold, and a cancelled booking owns no seat.

use crate::domain::ledger::{self, Account, LedgerEntry};
use crate::domain::seats::SeatLock;
use crate::domain::{Booking, BookingId, BookingStatus, SeatState};
use crate::ports::StoreError;
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// Reads everything an audit needs. It reads whole tables, which no request path ever does.
#[async_trait]
pub trait AuditSource: Send + Sync {
    async fn all_bookings(&self) -> Result<Vec<Booking>, StoreError>;
    async fn all_ledger_entries(&self) -> Result<Vec<LedgerEntry>, StoreError>;
    async fn all_seat_locks(&self) -> Result<Vec<SeatLock>, StoreError>;
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct AuditReport {
    pub bookings: usize,
    pub confirmed: usize,
    pub ledger_transactions: usize,
    pub ledger_entries: usize,
    pub ledger_total: i64,
    pub sold_seats: usize,
    /// Money taken for bookings that did not get their seats, owed back and not refunded yet: booking,
    /// amount, currency.
    pub refunds_owed: Vec<(BookingId, i64, String)>,
    /// Transactions reversed by a succeeded refund.
    pub reversals: usize,
    /// Refunds asked and not succeeded yet (pending, or declined and tried again): booking, amount,
    /// currency.
    pub refunds_in_progress: Vec<(BookingId, i64, String)>,
    /// Per performance id: what it sold, by the bookings, the seat locks and the ledger (what
    /// `GET /performances/{id}/sales` must agree with).
    pub performances: BTreeMap<String, Sales>,
    pub breaches: Vec<String>,
}

/// What a performance sold, as the audit counts it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sales {
    /// Seats sold to its confirmed bookings.
    pub sold_seats: u64,
    pub confirmed_bookings: u64,
    /// What the ledger captured for its confirmed bookings.
    pub gross_amount: i64,
}

impl AuditReport {
    pub fn is_clean(&self) -> bool {
        self.breaches.is_empty()
    }
}

impl fmt::Display for AuditReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "bookings:            {} ({} confirmed)",
            self.bookings, self.confirmed
        )?;
        writeln!(
            f,
            "ledger transactions: {} ({} entries)",
            self.ledger_transactions, self.ledger_entries
        )?;
        writeln!(f, "ledger total:        {} (must be 0)", self.ledger_total)?;
        writeln!(f, "sold seats:          {}", self.sold_seats)?;
        for (performance, sales) in &self.performances {
            writeln!(
                f,
                "  - {performance}: {} seats, {} confirmed bookings, {} captured",
                sales.sold_seats, sales.confirmed_bookings, sales.gross_amount
            )?;
        }
        writeln!(f, "refunds owed:        {}", self.refunds_owed.len())?;
        for (booking, amount, currency) in &self.refunds_owed {
            writeln!(f, "  - booking {booking}: {amount} {currency}")?;
        }
        writeln!(f, "refunds succeeded:   {} (reversals)", self.reversals)?;
        writeln!(f, "refunds in progress: {}", self.refunds_in_progress.len())?;
        for (booking, amount, currency) in &self.refunds_in_progress {
            writeln!(f, "  - booking {booking}: {amount} {currency}")?;
        }
        if self.breaches.is_empty() {
            writeln!(f, "audit clean: 0 breaches")
        } else {
            writeln!(f, "audit FAILED: {} breaches", self.breaches.len())?;
            self.breaches.iter().try_for_each(|b| writeln!(f, "  - {b}"))
        }
    }
}

/// Audits what `source` holds.
pub async fn run(source: &dyn AuditSource) -> Result<AuditReport, StoreError> {
    Ok(check(
        &source.all_bookings().await?,
        &source.all_ledger_entries().await?,
        &source.all_seat_locks().await?,
    ))
}

pub fn check(bookings: &[Booking], entries: &[LedgerEntry], locks: &[SeatLock]) -> AuditReport {
    let mut report = AuditReport {
        bookings: bookings.len(),
        confirmed: bookings.iter().filter(|b| b.status == BookingStatus::Confirmed).count(),
        ledger_entries: entries.len(),
        ledger_total: ledger::balance(entries),
        sold_seats: locks.iter().filter(|l| l.status == SeatState::Sold).count(),
        ..AuditReport::default()
    };
    let by_id: HashMap<&BookingId, &Booking> = bookings.iter().map(|b| (&b.booking_id, b)).collect();

    let mut transactions: BTreeMap<&str, Vec<&LedgerEntry>> = BTreeMap::new();
    for entry in entries {
        transactions.entry(&entry.transaction_id).or_default().push(entry);
    }
    report.ledger_transactions = transactions.len();
    let reversed = check_reversals(&transactions, &mut report);
    let mut settled: HashMap<&BookingId, usize> = HashMap::new();
    for (id, lines) in &transactions {
        if lines.iter().any(|l| l.reverses.is_some()) {
            continue;
        }
        let balance = ledger::balance(lines.iter().copied());
        if balance != 0 {
            report
                .breaches
                .push(format!("transaction {id} does not balance: {balance}"));
        }
        if lines.iter().any(|l| l.amount.currency != lines[0].amount.currency) {
            report.breaches.push(format!("transaction {id} mixes currencies"));
        }
        if lines.len() != 2 {
            report.breaches.push(format!(
                "transaction {id} has {} entries, not a debit and a credit",
                lines.len()
            ));
        }
        if lines.iter().any(|l| l.account == Account::RefundsPayable) {
            if reversed.contains(id) {
                continue;
            }
            report.refunds_owed.push((
                lines[0].booking_id.clone(),
                lines[0].amount.amount,
                lines[0].amount.currency.as_str().to_owned(),
            ));
        } else {
            *settled.entry(&lines[0].booking_id).or_default() += 1;
        }
    }
    for (booking, _, _) in &report.refunds_owed {
        let status = by_id.get(booking).map(|b| b.status);
        if status == Some(BookingStatus::Confirmed) {
            report.breaches.push(format!(
                "confirmed booking {booking} also has a refund owed: it got its seats"
            ));
        }
    }
    if report.ledger_total != 0 {
        report
            .breaches
            .push(format!("the ledger sums to {}, not 0", report.ledger_total));
    }
    for booking in bookings {
        let times = settled.get(&booking.booking_id).copied().unwrap_or(0);
        let capture = ledger::capture_transaction_id(&booking.booking_id);
        match (booking.status, times) {
            (BookingStatus::Confirmed, 1) if reversed.contains(capture.as_str()) => report.breaches.push(format!(
                "confirmed booking {} has its capture refunded",
                booking.booking_id
            )),
            (BookingStatus::Confirmed, 1) => {}
            (BookingStatus::Confirmed, n) => report
                .breaches
                .push(format!("confirmed booking {} is settled {n} times", booking.booking_id)),
            (_, 0) => {}
            // A cancelled booking was paid: its capture is reversed, or its refund is on its way.
            (BookingStatus::Cancelled, 1) if reversed.contains(capture.as_str()) => {}
            (BookingStatus::Cancelled, 1) if booking.refund.as_ref().is_some_and(|r| r.is_open()) => {}
            (status, n) => report.breaches.push(format!(
                "{} booking {} is settled {n} times",
                status.as_str(),
                booking.booking_id
            )),
        }
    }
    for booking in bookings.iter().filter(|b| b.status == BookingStatus::Confirmed) {
        check_confirmed(booking, &transactions, locks, &mut report.breaches);
        let sales = report
            .performances
            .entry(booking.performance_id.as_str().to_owned())
            .or_default();
        sales.confirmed_bookings += 1;
        sales.sold_seats += locks
            .iter()
            .filter(|l| l.booking_id == booking.booking_id && l.status == SeatState::Sold)
            .count() as u64;
        sales.gross_amount += transactions
            .values()
            .filter(|lines| {
                lines[0].booking_id == booking.booking_id
                    && lines
                        .iter()
                        .all(|l| l.account != Account::RefundsPayable && l.reverses.is_none())
            })
            .map(|lines| lines[0].amount.amount)
            .sum::<i64>();
    }
    for (booking, _) in settled.iter().filter(|(b, _)| !by_id.contains_key(*b)) {
        report
            .breaches
            .push(format!("the ledger settles booking {booking}, which does not exist"));
    }
    for booking in bookings {
        if let Some(refund) = booking.refund.as_ref().filter(|r| r.is_open()) {
            report.refunds_in_progress.push((
                booking.booking_id.clone(),
                refund.amount.amount,
                refund.amount.currency.as_str().to_owned(),
            ));
        }
    }
    for lock in locks {
        let cancelled = by_id
            .get(&lock.booking_id)
            .is_some_and(|b| b.status == BookingStatus::Cancelled);
        if cancelled {
            report.breaches.push(format!(
                "seat {} of {} is still {} for cancelled booking {}",
                lock.seat_id,
                lock.performance_id,
                lock.status.as_str(),
                lock.booking_id
            ));
        }
    }
    for lock in locks.iter().filter(|l| l.status == SeatState::Sold) {
        let owner = by_id.get(&lock.booking_id).map(|b| b.status);
        if owner != Some(BookingStatus::Confirmed) {
            let owner = owner.map_or("missing", BookingStatus::as_str);
            report.breaches.push(format!(
                "seat {} of {} is sold to booking {}, which is {owner}",
                lock.seat_id, lock.performance_id, lock.booking_id
            ));
        }
    }
    report
}
/// Every reversal names a transaction that exists, and undoes it exactly: the same amount and currency,
/// each account on the other side; a transaction is reversed at most once. The reversed transactions.
fn check_reversals<'a>(
    transactions: &BTreeMap<&'a str, Vec<&'a LedgerEntry>>,
    report: &mut AuditReport,
) -> std::collections::HashSet<&'a str> {
    let mut reversed = std::collections::HashSet::new();
    for (id, lines) in transactions {
        let Some(target) = lines.iter().find_map(|l| l.reverses.as_deref()) else {
            continue;
        };
        report.reversals += 1;
        let Some((original_id, original)) = transactions.get_key_value(target) else {
            report.breaches.push(format!(
                "reversal {id} names transaction {target}, which does not exist"
            ));
            continue;
        };
        if !reversed.insert(*original_id) {
            report
                .breaches
                .push(format!("transaction {target} is reversed more than once"));
        }
        let undoes = |line: &LedgerEntry| {
            original
                .iter()
                .any(|o| o.account == line.account && o.direction != line.direction && o.amount == line.amount)
        };
        if lines.len() != original.len() || !lines.iter().all(|l| undoes(l)) {
            report
                .breaches
                .push(format!("reversal {id} does not undo transaction {target} exactly"));
        }
    }
    reversed
}

/// A confirmed booking's settlement is for its own amount, and it owns exactly its own seats, sold.
fn check_confirmed(
    booking: &Booking,
    transactions: &BTreeMap<&str, Vec<&LedgerEntry>>,
    locks: &[SeatLock],
    breaches: &mut Vec<String>,
) {
    let id = &booking.booking_id;
    let wrong_amount = transactions
        .values()
        .flatten()
        .filter(|e| &e.booking_id == id && e.account != Account::RefundsPayable)
        .find(|e| e.amount != booking.total);
    if let Some(entry) = wrong_amount {
        breaches.push(format!(
            "confirmed booking {id} is settled for {} {}, not its {} {}",
            entry.amount.amount,
            entry.amount.currency.as_str(),
            booking.total.amount,
            booking.total.currency.as_str()
        ));
    }
    let mut sold: Vec<&str> = locks
        .iter()
        .filter(|l| &l.booking_id == id && l.status == SeatState::Sold && l.performance_id == booking.performance_id)
        .map(|l| l.seat_id.as_str())
        .collect();
    let mut own: Vec<&str> = booking.seat_ids.iter().map(|s| s.as_str()).collect();
    sold.sort_unstable();
    own.sort_unstable();
    if sold != own {
        breaches.push(format!(
            "confirmed booking {id} owns the sold seats [{}], not its seats [{}]",
            sold.join(", "),
            own.join(", ")
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::refund::Refund;
    use crate::domain::{
        Currency, EventId, Money, PaymentIntentId, PaymentMethod, PerformanceId, Quantity, SeatId, Timestamp, UserId,
    };

    fn booking(seats: &[&str]) -> Booking {
        let id = BookingId::try_from("b-1").expect("valid");
        Booking {
            booking_id: id.clone(),
            user_id: UserId::try_from("u").expect("valid"),
            performance_id: PerformanceId::try_from("p").expect("valid"),
            quantity: Quantity::try_from(2).expect("valid"),
            seat_ids: seats.iter().map(|s| SeatId::try_from(*s).expect("valid")).collect(),
            status: BookingStatus::Confirmed,
            total: krw(60_000),
            payment_method: PaymentMethod::CreditCard,
            payment_intent_id: PaymentIntentId::try_from("pi_b-1").expect("valid"),
            created_at: Timestamp::from_millis(0),
            hold_expires_at: Timestamp::from_millis(1),
            updated_at: Timestamp::from_millis(0),
            refund: None,
            seats_counted: false,
        }
    }

    fn krw(amount: i64) -> Money {
        Money::new(amount, Currency::try_from("KRW".to_owned()).expect("valid"))
    }

    fn sold(b: &Booking, seat: &str) -> SeatLock {
        SeatLock {
            performance_id: b.performance_id.clone(),
            seat_id: SeatId::try_from(seat).expect("valid"),
            booking_id: b.booking_id.clone(),
            user_id: b.user_id.clone(),
            status: SeatState::Sold,
            locked_until: None,
        }
    }

    fn capture(b: &Booking, amount: &Money) -> [LedgerEntry; 2] {
        ledger::capture(&b.booking_id, amount, &EventId::generate(), Timestamp::from_millis(0))
    }

    #[test]
    fn a_confirmed_booking_settled_for_its_amount_with_its_seats_is_clean() {
        let b = booking(&["A1", "A2"]);
        let report = check(
            std::slice::from_ref(&b),
            &capture(&b, &b.total),
            &[sold(&b, "A1"), sold(&b, "A2")],
        );
        assert!(report.is_clean(), "{report}");
    }

    #[test]
    fn a_settlement_for_another_amount_or_currency_is_a_breach() {
        let b = booking(&["A1", "A2"]);
        let seats = [sold(&b, "A1"), sold(&b, "A2")];
        let report = check(std::slice::from_ref(&b), &capture(&b, &krw(59_999)), &seats);
        assert_eq!(
            report.breaches,
            ["confirmed booking b-1 is settled for 59999 KRW, not its 60000 KRW"]
        );
        let usd = Money::new(60_000, Currency::try_from("USD".to_owned()).expect("valid"));
        let report = check(std::slice::from_ref(&b), &capture(&b, &usd), &seats);
        assert_eq!(
            report.breaches,
            ["confirmed booking b-1 is settled for 60000 USD, not its 60000 KRW"]
        );
    }

    #[test]
    fn a_refund_owed_for_an_ended_booking_is_listed_and_for_a_confirmed_one_is_a_breach() {
        let mut expired = booking(&["A1", "A2"]);
        expired.status = BookingStatus::Expired;
        let owed = ledger::refund_owed(
            &expired.booking_id,
            &expired.total,
            &EventId::generate(),
            "ch_1",
            Timestamp::from_millis(0),
        );
        let report = check(std::slice::from_ref(&expired), &owed, &[]);
        assert!(report.is_clean(), "{report}");
        assert_eq!(
            report.refunds_owed,
            [(expired.booking_id.clone(), 60_000, "KRW".to_owned())]
        );
        assert!(
            report
                .to_string()
                .contains("refunds owed:        1\n  - booking b-1: 60000 KRW"),
            "{report}"
        );
        let confirmed = booking(&["A1", "A2"]);
        let entries = [capture(&confirmed, &confirmed.total), owed].concat();
        let seats = [sold(&confirmed, "A1"), sold(&confirmed, "A2")];
        let report = check(std::slice::from_ref(&confirmed), &entries, &seats);
        assert_eq!(
            report.breaches,
            ["confirmed booking b-1 also has a refund owed: it got its seats"]
        );
    }

    #[test]
    fn a_confirmed_booking_missing_a_seat_or_owning_another_is_a_breach() {
        let b = booking(&["A1", "A2"]);
        let report = check(std::slice::from_ref(&b), &capture(&b, &b.total), &[sold(&b, "A1")]);
        assert_eq!(
            report.breaches,
            ["confirmed booking b-1 owns the sold seats [A1], not its seats [A1, A2]"]
        );
        let extra = [sold(&b, "A1"), sold(&b, "A2"), sold(&b, "A3")];
        let report = check(std::slice::from_ref(&b), &capture(&b, &b.total), &extra);
        assert_eq!(
            report.breaches,
            ["confirmed booking b-1 owns the sold seats [A1, A2, A3], not its seats [A1, A2]"]
        );
    }

    fn cancelled_with_refund(b: &Booking, status: crate::domain::refund::RefundStatus) -> Booking {
        let mut refund = Refund::new(
            b.total.clone(),
            &ledger::capture_transaction_id(&b.booking_id),
            Timestamp::from_millis(0),
        );
        refund.status = status;
        Booking {
            status: BookingStatus::Cancelled,
            refund: Some(refund),
            ..b.clone()
        }
    }

    #[test]
    fn a_cancelled_booking_is_refunded_exactly_once_or_has_its_refund_in_progress() {
        use crate::domain::refund::RefundStatus;
        let paid = booking(&["A1", "A2"]);
        let done = cancelled_with_refund(&paid, RefundStatus::Succeeded);
        let reversal = ledger::reversal(
            &done.booking_id,
            done.refund.as_ref().expect("a refund"),
            &EventId::generate(),
            Timestamp::from_millis(1),
        );
        let entries = [capture(&paid, &paid.total), reversal.clone()].concat();
        let report = check(std::slice::from_ref(&done), &entries, &[]);
        assert!(report.is_clean(), "{report}");
        assert_eq!((report.reversals, report.ledger_total), (1, 0));

        let waiting = cancelled_with_refund(&paid, RefundStatus::Failed);
        let report = check(std::slice::from_ref(&waiting), &capture(&paid, &paid.total), &[]);
        assert!(report.is_clean(), "{report}");
        assert_eq!(
            report.refunds_in_progress,
            [(paid.booking_id.clone(), 60_000, "KRW".to_owned())]
        );

        let twice = [capture(&paid, &paid.total), reversal.clone(), reversal].concat();
        let report = check(std::slice::from_ref(&done), &twice, &[]);
        assert!(!report.is_clean(), "a reversal written twice is a breach: {report}");
    }

    #[test]
    fn a_reversal_of_nothing_or_of_another_amount_is_a_breach() {
        let paid = booking(&["A1"]);
        let done = cancelled_with_refund(&paid, crate::domain::refund::RefundStatus::Succeeded);
        let refund = done.refund.clone().expect("a refund");
        let mut wrong = ledger::reversal(
            &done.booking_id,
            &refund,
            &EventId::generate(),
            Timestamp::from_millis(1),
        );
        for line in &mut wrong {
            line.amount = krw(59_000);
        }
        let entries = [capture(&paid, &paid.total), wrong].concat();
        let report = check(std::slice::from_ref(&done), &entries, &[]);
        assert!(
            report
                .breaches
                .iter()
                .any(|b| b.contains("does not undo transaction txn_capture_b-1 exactly")),
            "{report}"
        );
        let orphan = ledger::reversal(
            &done.booking_id,
            &refund,
            &EventId::generate(),
            Timestamp::from_millis(1),
        );
        let report = check(std::slice::from_ref(&done), &orphan, &[]);
        assert!(
            report
                .breaches
                .iter()
                .any(|b| b.contains("names transaction txn_capture_b-1, which does not exist")),
            "{report}"
        );
    }

    #[test]
    fn a_cancelled_booking_that_still_owns_a_seat_is_a_breach() {
        let paid = booking(&["A1"]);
        let done = cancelled_with_refund(&paid, crate::domain::refund::RefundStatus::Pending);
        let report = check(
            std::slice::from_ref(&done),
            &capture(&paid, &paid.total),
            &[sold(&paid, "A1")],
        );
        assert!(
            report
                .breaches
                .iter()
                .any(|b| b.contains("is still sold for cancelled booking b-1")),
            "{report}"
        );
    }
}
