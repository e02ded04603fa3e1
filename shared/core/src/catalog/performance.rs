//! A performance as the box office keeps it: what is on, when, where, at what prices, in which hall,
//! and whether it is on sale.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::domain::{Currency, EventId, Money, PerformanceId, SeatId, Timestamp};

/// Where a performance stands: `draft -> on_sale -> closed`, or `cancelled` from `draft` or `on_sale`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PerformanceStatus {
    Draft,
    OnSale,
    Closed,
    Cancelled,
}

impl PerformanceStatus {
    pub const ALL: [Self; 4] = [Self::Draft, Self::OnSale, Self::Closed, Self::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::OnSale => "on_sale",
            Self::Closed => "closed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether a performance may move from `self` to `next`. Staying put is no move.
    pub fn can_become(self, next: Self) -> bool {
        use PerformanceStatus as S;
        self == next
            || matches!(
                (self, next),
                (S::Draft, S::OnSale) | (S::OnSale, S::Closed) | (S::Draft | S::OnSale, S::Cancelled)
            )
    }
}

/// The seats of one row: `seats` numbered from 1 (`A1` … `A20`), or, for a hall read from a
/// `PERFORMANCES_FILE` whose row is not numbered so, the seat ids as listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    pub row: String,
    pub seats: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seat_ids: Option<Vec<SeatId>>,
}

impl Row {
    /// The row's seat ids in order.
    pub fn seat_ids(&self) -> Vec<SeatId> {
        match &self.seat_ids {
            Some(ids) => ids.clone(),
            None => (1..=self.seats)
                .filter_map(|n| SeatId::try_from(format!("{}{n}", self.row)).ok())
                .collect(),
        }
    }
}

/// A part of the hall with one price: its rows, front to back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Section {
    pub name: String,
    /// The price of one seat, in minor units of the performance's currency.
    pub price: i64,
    pub rows: Vec<Row>,
}

impl Section {
    pub fn seat_count(&self) -> u64 {
        self.rows.iter().map(|r| u64::from(r.seats)).sum()
    }
}

/// A performance as stored: one item of the `performances` table, the hall kept as sections of rows
/// with seat counts (a 50,000-seat hall is a few KB).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PerformanceRecord {
    pub performance_id: PerformanceId,
    pub title: String,
    pub venue: String,
    pub starts_at: Timestamp,
    pub sales_open_at: Timestamp,
    pub sales_close_at: Timestamp,
    pub currency: Currency,
    pub max_seats_per_booking: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_seats_per_user: Option<u32>,
    pub sections: Vec<Section>,
    pub status: PerformanceStatus,
    /// Set once a seat was held: from then on the sections and prices stay as they are.
    #[serde(default)]
    pub layout_locked: bool,
    /// Raised by every change of the sections or prices; a first hold locks the layout it read.
    #[serde(default)]
    pub layout_version: u64,
    /// Raised by every change, which is conditioned on the version it read.
    pub version: u64,
    #[serde(with = "crate::domain::millis")]
    pub created_at: Timestamp,
    #[serde(with = "crate::domain::millis")]
    pub updated_at: Timestamp,
    /// For a cancelled performance: how far the cancellation of its bookings got.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation: Option<CancellationProgress>,
}

/// How far the worker got cancelling a cancelled performance's bookings (and refunding the paid ones).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancellationProgress {
    pub bookings_cancelled: u64,
    pub refunds_asked: u64,
    /// Bookings still holding seats after the last batch (payments still being processed among them).
    pub remaining: u64,
    pub batches: u32,
    pub finished: bool,
    pub updated_at: Timestamp,
}

/// Asks the worker to cancel a cancelled performance's bookings, one bounded batch per event; each
/// batch publishes the next while bookings remain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShowCancellation {
    pub event_id: EventId,
    #[serde(rename = "type")]
    pub kind: String,
    pub performance_id: PerformanceId,
    /// The performance's version that cancelled it, and the batch.
    pub version: u64,
    pub batch: u32,
    pub occurred_at: Timestamp,
}

impl ShowCancellation {
    /// The inbox's `type` of these events.
    pub const TYPE: &'static str = "PERFORMANCE_CANCELLED";

    pub fn new(performance: &PerformanceId, version: u64, batch: u32, at: Timestamp) -> Self {
        let id = format!("evt_cancel_{performance}_v{version}_b{batch}");
        Self {
            event_id: EventId::try_from(id).unwrap_or_else(|_| EventId::generate()),
            kind: Self::TYPE.to_owned(),
            performance_id: performance.clone(),
            version,
            batch,
            occurred_at: at,
        }
    }

    /// The event of the next batch.
    pub fn next(&self, at: Timestamp) -> Self {
        Self::new(&self.performance_id, self.version, self.batch + 1, at)
    }
}

/// Why a booking cannot be made for a performance now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotBookable {
    NotOnSale(PerformanceStatus),
    SalesNotOpen,
    SalesClosed,
}

/// A performance with its hall laid out seat by seat, as bookings and the seat map use it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Performance {
    pub record: PerformanceRecord,
    /// Every seat, in hall order: seats next to each other in a row stand next to each other here.
    pub seats: Vec<SeatId>,
    /// The section (index into `record.sections`) of each seat of `seats`.
    section_of: HashMap<SeatId, usize>,
}

impl Performance {
    pub fn new(record: PerformanceRecord) -> Self {
        let mut seats = Vec::new();
        let mut section_of = HashMap::new();
        for (index, section) in record.sections.iter().enumerate() {
            for row in &section.rows {
                for seat in row.seat_ids() {
                    section_of.insert(seat.clone(), index);
                    seats.push(seat);
                }
            }
        }
        Self {
            record,
            seats,
            section_of,
        }
    }

    pub fn id(&self) -> &PerformanceId {
        &self.record.performance_id
    }

    pub fn currency(&self) -> &Currency {
        &self.record.currency
    }

    pub fn max_seats_per_user(&self) -> Option<u32> {
        self.record.max_seats_per_user
    }

    /// The section `seat` belongs to.
    pub fn section_of(&self, seat: &SeatId) -> Option<&Section> {
        self.section_index(seat).and_then(|i| self.record.sections.get(i))
    }

    /// The index of the section `seat` belongs to, in `record.sections`.
    pub fn section_index(&self, seat: &SeatId) -> Option<usize> {
        self.section_of.get(seat).copied()
    }

    pub fn section(&self, name: &str) -> Option<&Section> {
        self.record.sections.iter().find(|s| s.name == name)
    }

    /// The seats of the section named `name`, in hall order.
    pub fn seats_in(&self, name: &str) -> Vec<SeatId> {
        self.section(name)
            .map(|s| s.rows.iter().flat_map(Row::seat_ids).collect())
            .unwrap_or_default()
    }

    /// What `seats` cost together, or `None` for a seat of no section or an overflow.
    pub fn price_of(&self, seats: &[SeatId]) -> Option<Money> {
        let mut total: i64 = 0;
        for seat in seats {
            total = total.checked_add(self.section_of(seat)?.price)?;
        }
        Some(Money::new(total, self.record.currency.clone()))
    }

    /// Whether a booking can be made at `now`.
    pub fn bookable_at(&self, now: Timestamp) -> Result<(), NotBookable> {
        let r = &self.record;
        if r.status != PerformanceStatus::OnSale {
            return Err(NotBookable::NotOnSale(r.status));
        }
        if now < r.sales_open_at {
            return Err(NotBookable::SalesNotOpen);
        }
        if now >= r.sales_close_at {
            return Err(NotBookable::SalesClosed);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(sections: Vec<Section>) -> PerformanceRecord {
        PerformanceRecord {
            performance_id: PerformanceId::try_from("p1").expect("id"),
            title: "t".to_owned(),
            venue: "v".to_owned(),
            starts_at: Timestamp::from_millis(3_000),
            sales_open_at: Timestamp::from_millis(1_000),
            sales_close_at: Timestamp::from_millis(2_000),
            currency: Currency::try_from("KRW".to_owned()).expect("currency"),
            max_seats_per_booking: 4,
            max_seats_per_user: None,
            sections,
            status: PerformanceStatus::OnSale,
            layout_locked: false,
            layout_version: 0,
            version: 1,
            created_at: Timestamp::from_millis(0),
            updated_at: Timestamp::from_millis(0),
            cancellation: None,
        }
    }

    fn row(name: &str, seats: u32) -> Row {
        Row {
            row: name.to_owned(),
            seats,
            seat_ids: None,
        }
    }

    #[test]
    fn lays_the_hall_out_section_by_section_and_prices_each_seat_by_its_section() {
        let perf = Performance::new(record(vec![
            Section {
                name: "VIP".to_owned(),
                price: 100,
                rows: vec![row("A", 2)],
            },
            Section {
                name: "R".to_owned(),
                price: 10,
                rows: vec![row("B", 3), row("C", 1)],
            },
        ]));
        let ids: Vec<&str> = perf.seats.iter().map(SeatId::as_str).collect();
        assert_eq!(ids, ["A1", "A2", "B1", "B2", "B3", "C1"]);
        let seats = |s: &[&str]| {
            s.iter()
                .map(|&i| SeatId::try_from(i).expect("seat"))
                .collect::<Vec<_>>()
        };
        assert_eq!(perf.price_of(&seats(&["A2", "B1"])).map(|m| m.amount), Some(110));
        assert_eq!(perf.price_of(&seats(&["Z9"])), None);
        assert_eq!(perf.seats_in("R").len(), 4);
        assert_eq!(perf.section_of(&seats(&["C1"])[0]).map(|s| s.name.as_str()), Some("R"));
    }

    #[test]
    fn bookable_only_on_sale_within_the_window() {
        let mut r = record(vec![]);
        let on_sale = Performance::new(r.clone());
        assert_eq!(
            on_sale.bookable_at(Timestamp::from_millis(999)),
            Err(NotBookable::SalesNotOpen)
        );
        assert_eq!(on_sale.bookable_at(Timestamp::from_millis(1_000)), Ok(()));
        assert_eq!(
            on_sale.bookable_at(Timestamp::from_millis(2_000)),
            Err(NotBookable::SalesClosed)
        );
        r.status = PerformanceStatus::Draft;
        assert_eq!(
            Performance::new(r).bookable_at(Timestamp::from_millis(1_500)),
            Err(NotBookable::NotOnSale(PerformanceStatus::Draft))
        );
    }

    #[test]
    fn moves_only_forward_or_to_cancelled() {
        use PerformanceStatus as S;
        assert!(S::Draft.can_become(S::OnSale) && S::OnSale.can_become(S::Closed));
        assert!(S::Draft.can_become(S::Cancelled) && S::OnSale.can_become(S::Cancelled));
        assert!(!S::OnSale.can_become(S::Draft) && !S::Closed.can_become(S::OnSale));
        assert!(!S::Closed.can_become(S::Cancelled) && !S::Cancelled.can_become(S::OnSale));
        assert!(!S::Draft.can_become(S::Closed));
    }
}
