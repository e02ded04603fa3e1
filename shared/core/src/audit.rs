//! The ledger audit: the promises of the ledger and of the seat locks, checked over everything stored.
//! Every ledger transaction balances, the ledger sums to zero, every confirmed booking is settled
//! exactly once, no other booking is settled, and every sold seat belongs to a confirmed booking.

use crate::domain::ledger::{self, LedgerEntry};
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
    pub breaches: Vec<String>,
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
    let mut settled: HashMap<&BookingId, usize> = HashMap::new();
    for (id, lines) in &transactions {
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
        *settled.entry(&lines[0].booking_id).or_default() += 1;
    }
    if report.ledger_total != 0 {
        report
            .breaches
            .push(format!("the ledger sums to {}, not 0", report.ledger_total));
    }
    for booking in bookings {
        let times = settled.get(&booking.booking_id).copied().unwrap_or(0);
        match (booking.status, times) {
            (BookingStatus::Confirmed, 1) => {}
            (BookingStatus::Confirmed, n) => report
                .breaches
                .push(format!("confirmed booking {} is settled {n} times", booking.booking_id)),
            (_, 0) => {}
            (status, n) => report.breaches.push(format!(
                "{} booking {} is settled {n} times",
                status.as_str(),
                booking.booking_id
            )),
        }
    }
    for (booking, _) in settled.iter().filter(|(b, _)| !by_id.contains_key(*b)) {
        report
            .breaches
            .push(format!("the ledger settles booking {booking}, which does not exist"));
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
