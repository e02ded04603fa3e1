//! Double-entry bookkeeping: every money movement is one transaction of a debit and a credit of the
//! same amount, so the ledger always sums to zero.

use super::refund::Refund;
use super::{BookingId, EventId, Money, Timestamp};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Account {
    /// What customers owe, or have paid, for their bookings.
    CustomerPayable,
    /// What the merchant (the organiser) has earned.
    MerchantBalance,
    /// Money the gateway took for a booking that did not get its seats: owed back to the customer.
    RefundsPayable,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Direction {
    Debit,
    Credit,
}

/// One line of the ledger. `amount` is positive; `direction` says which side it is on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerEntry {
    pub transaction_id: String,
    pub entry_id: String,
    pub account: Account,
    pub direction: Direction,
    pub amount: Money,
    pub booking_id: BookingId,
    pub event_id: EventId,
    pub created_at: Timestamp,
    /// For a reversal: the transaction it reverses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverses: Option<String>,
}

impl LedgerEntry {
    /// Debits count positive and credits negative, so a balanced ledger sums to zero.
    pub fn signed_amount(&self) -> i64 {
        match self.direction {
            Direction::Debit => self.amount.amount,
            Direction::Credit => -self.amount.amount,
        }
    }
}

/// The ledger transaction that settles a paid booking. Its id follows from the booking, so a booking
/// can be settled once only, whatever delivers the event.
pub fn capture(booking_id: &BookingId, amount: &Money, event_id: &EventId, at: Timestamp) -> [LedgerEntry; 2] {
    let id = capture_transaction_id(booking_id);
    transaction(id, Account::MerchantBalance, booking_id, amount, event_id, at)
}

/// The ledger transaction that books money the gateway took for a booking that ended without its seats
/// (a payment that succeeded after the hold lapsed or the booking failed) as owed back to the customer.
/// Its id follows from `reference`, what took the money (the charge, or the event that reported it), so
/// the money is owed once however often it is reported.
pub fn refund_owed(
    booking_id: &BookingId,
    amount: &Money,
    event_id: &EventId,
    reference: &str,
    at: Timestamp,
) -> [LedgerEntry; 2] {
    let id = refund_owed_transaction_id(reference);
    transaction(id, Account::RefundsPayable, booking_id, amount, event_id, at)
}

/// The ledger transaction of a succeeded refund: a new transaction that reverses the one that took the
/// money (the capture: debit `MERCHANT_BALANCE`; a refund owed: debit `REFUNDS_PAYABLE`; credit
/// `CUSTOMER_PAYABLE`), naming it. Its id follows from the refund, so a refund is booked once.
pub fn reversal(booking_id: &BookingId, refund: &Refund, event_id: &EventId, at: Timestamp) -> [LedgerEntry; 2] {
    let from = if refund.reverses.starts_with(REFUND_OWED_PREFIX) {
        Account::RefundsPayable
    } else {
        Account::MerchantBalance
    };
    let entry = |account, direction, n: u8| LedgerEntry {
        entry_id: format!("{n}"),
        transaction_id: reversal_transaction_id(refund),
        account,
        direction,
        amount: refund.amount.clone(),
        booking_id: booking_id.clone(),
        event_id: event_id.clone(),
        created_at: at,
        reverses: Some(refund.reverses.clone()),
    };
    [
        entry(from, Direction::Debit, 1),
        entry(Account::CustomerPayable, Direction::Credit, 2),
    ]
}

/// The id of a refund's reversal.
pub fn reversal_transaction_id(refund: &Refund) -> String {
    format!("txn_{}", refund.refund_id)
}

const REFUND_OWED_PREFIX: &str = "txn_refund_owed_";

/// The id of the transaction that books money taken for an ended booking as owed back.
pub fn refund_owed_transaction_id(reference: &str) -> String {
    format!("{REFUND_OWED_PREFIX}{reference}")
}

/// Money received from the customer (debit `CUSTOMER_PAYABLE`) and credited to `to`.
fn transaction(
    transaction_id: String,
    to: Account,
    booking_id: &BookingId,
    amount: &Money,
    event_id: &EventId,
    at: Timestamp,
) -> [LedgerEntry; 2] {
    let entry = |account, direction, n: u8| LedgerEntry {
        entry_id: format!("{n}"),
        transaction_id: transaction_id.clone(),
        account,
        direction,
        amount: amount.clone(),
        booking_id: booking_id.clone(),
        event_id: event_id.clone(),
        created_at: at,
        reverses: None,
    };
    [
        entry(Account::CustomerPayable, Direction::Debit, 1),
        entry(to, Direction::Credit, 2),
    ]
}

/// The id of the transaction that settles a booking.
pub fn capture_transaction_id(booking_id: &BookingId) -> String {
    format!("txn_capture_{booking_id}")
}

/// The sum of the signed amounts: zero for a balanced set of entries of one currency.
pub fn balance<'a>(entries: impl IntoIterator<Item = &'a LedgerEntry>) -> i64 {
    entries.into_iter().map(LedgerEntry::signed_amount).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Currency;

    #[test]
    fn a_capture_is_balanced_and_named_after_its_booking() {
        let booking = BookingId::try_from("b1").expect("valid");
        let event = EventId::try_from("e1").expect("valid");
        let money = Money::new(60_000, Currency::try_from("KRW".to_owned()).expect("valid"));
        let entries = capture(&booking, &money, &event, Timestamp::from_millis(0));
        assert_eq!(balance(&entries), 0);
        assert_eq!(entries[0].transaction_id, entries[1].transaction_id);
        assert_eq!(entries[0].transaction_id, "txn_capture_b1");
        assert_eq!(
            (entries[0].account, entries[0].direction),
            (Account::CustomerPayable, Direction::Debit)
        );
        assert_eq!(
            (entries[1].account, entries[1].direction),
            (Account::MerchantBalance, Direction::Credit)
        );
        assert_eq!(entries[0].signed_amount(), 60_000);
    }

    #[test]
    fn a_refund_owed_is_balanced_and_named_after_what_took_the_money() {
        let booking = BookingId::try_from("b1").expect("valid");
        let event = EventId::try_from("evt_late").expect("valid");
        let money = Money::new(60_000, Currency::try_from("KRW".to_owned()).expect("valid"));
        let entries = refund_owed(&booking, &money, &event, "ch_1", Timestamp::from_millis(0));
        assert_eq!(balance(&entries), 0);
        assert_eq!(entries[0].transaction_id, "txn_refund_owed_ch_1");
        assert_eq!(
            (entries[1].account, entries[1].direction),
            (Account::RefundsPayable, Direction::Credit)
        );
    }
}
