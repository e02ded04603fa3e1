//! Performances: what is on, when, at what prices, in which hall, and whether it is on sale. Operators
//! keep them in the `performances` table ([`crate::app::ManagePerformances`]); the built-in catalog and
//! a `PERFORMANCES_FILE` ([`Catalog`]) are loaded into it by the local stacks at start.
//!
//! - [`performance`]: the performance as stored, and laid out seat by seat for bookings.
//! - [`draft`]: the rules every performance keeps, each broken one its own error.

pub mod draft;
pub mod performance;

pub use draft::InvalidPerformance;
pub use performance::{
    CancellationProgress, NotBookable, Performance, PerformanceRecord, PerformanceStatus, Row, Section,
    ShowCancellation,
};

use std::collections::HashSet;
use std::path::Path;

use serde::Deserialize;

use crate::domain::{seats, Currency, PerformanceId, Quantity, SeatId, Timestamp};

/// The section of a performance read from a file, which has one price for the whole hall.
pub const FILE_SECTION: &str = "General";
/// The venue of a performance read from a file, which names none.
pub const FILE_VENUE: &str = "Main Hall";
/// A file's performances are on sale from the epoch until this (2100-01-01T00:00:00Z), and start then.
const FILE_SALES_CLOSE: Timestamp = Timestamp::from_millis(4_102_444_800_000);

/// The performances of the built-in catalog or of a `PERFORMANCES_FILE`: on sale, their window open.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    performances: Vec<PerformanceRecord>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read the performance catalog {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("the performance catalog is not valid: {0}")]
    Invalid(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CatalogFile {
    performances: Vec<PerformanceFile>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PerformanceFile {
    performance_id: PerformanceId,
    title: String,
    price: i64,
    currency: Currency,
    seats: Vec<SeatId>,
    #[serde(default)]
    max_seats_per_user: Option<u32>,
}

impl Catalog {
    /// The built-in catalog: `perf_001`, ₩30,000 a seat, rows A–J of 20 seats; `perf_002`, ₩55,000,
    /// rows A–E of 10 seats; at most 8 seats per user for each.
    pub fn builtin() -> Self {
        let hall = |rows: std::ops::RangeInclusive<char>, per_row: u32| -> Vec<SeatId> {
            rows.flat_map(|row| (1..=per_row).map(move |n| format!("{row}{n}")))
                .filter_map(|id| SeatId::try_from(id).ok())
                .collect()
        };
        let entries = [
            ("perf_001", "The Phantom of the Opera", 30_000, hall('A'..='J', 20)),
            ("perf_002", "Hamlet", 55_000, hall('A'..='E', 10)),
        ];
        let files = entries
            .into_iter()
            .filter_map(|(id, title, price, seats)| {
                Some(PerformanceFile {
                    performance_id: PerformanceId::try_from(id).ok()?,
                    title: title.to_owned(),
                    price,
                    currency: Currency::try_from("KRW".to_owned()).ok()?,
                    seats,
                    max_seats_per_user: Some(8),
                })
            })
            .collect();
        Self::from_files(files).unwrap_or_default()
    }

    pub fn from_file(path: &Path) -> Result<Self, CatalogError> {
        let text = std::fs::read_to_string(path).map_err(|source| CatalogError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json(&text)
    }

    pub fn from_json(text: &str) -> Result<Self, CatalogError> {
        let file: CatalogFile = serde_json::from_str(text).map_err(|e| CatalogError::Invalid(e.to_string()))?;
        Self::from_files(file.performances)
    }

    fn from_files(list: Vec<PerformanceFile>) -> Result<Self, CatalogError> {
        let mut ids = HashSet::new();
        let mut performances = Vec::new();
        for p in list {
            let invalid = |why: &str| CatalogError::Invalid(format!("{}: {why}", p.performance_id));
            if !ids.insert(p.performance_id.clone()) {
                return Err(invalid("listed twice"));
            }
            let distinct: HashSet<&SeatId> = p.seats.iter().collect();
            if distinct.len() != p.seats.len() {
                return Err(invalid("a seat is listed twice"));
            }
            let record = PerformanceRecord {
                performance_id: p.performance_id.clone(),
                title: p.title.clone(),
                venue: FILE_VENUE.to_owned(),
                starts_at: FILE_SALES_CLOSE,
                sales_open_at: Timestamp::from_millis(0),
                sales_close_at: FILE_SALES_CLOSE,
                currency: p.currency.clone(),
                max_seats_per_booking: Quantity::MAX,
                max_seats_per_user: p.max_seats_per_user,
                sections: vec![Section {
                    name: FILE_SECTION.to_owned(),
                    price: p.price,
                    rows: rows_of(&p.seats),
                }],
                status: PerformanceStatus::OnSale,
                layout_locked: false,
                layout_version: 0,
                version: 1,
                created_at: Timestamp::from_millis(0),
                updated_at: Timestamp::from_millis(0),
                cancellation: None,
            };
            draft::check(&record).map_err(|e| invalid(&e.to_string()))?;
            performances.push(record);
        }
        Ok(Self { performances })
    }

    pub fn performances(&self) -> &[PerformanceRecord] {
        &self.performances
    }

    pub fn performance(&self, id: &PerformanceId) -> Option<Performance> {
        self.performances
            .iter()
            .find(|p| &p.performance_id == id)
            .map(|p| Performance::new(p.clone()))
    }
}

/// A file's seats as rows: a row numbered `A1`, `A2`, … in order is kept as its count, any other as
/// its list of seat ids.
fn rows_of(hall: &[SeatId]) -> Vec<Row> {
    seats::rows(hall)
        .into_iter()
        .filter_map(|seats| {
            let name = seats.first()?.row().to_owned();
            let count = u32::try_from(seats.len()).ok()?;
            let numbered = seats
                .iter()
                .zip(1..)
                .all(|(seat, n): (&SeatId, u32)| seat.as_str() == format!("{name}{n}"));
            Some(Row {
                row: name,
                seats: count,
                seat_ids: (!numbered).then(|| seats.to_vec()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> PerformanceId {
        PerformanceId::try_from(text).expect("valid")
    }

    #[test]
    fn builtin_has_perf_001_with_200_seats_at_30000() {
        let perf = Catalog::builtin().performance(&id("perf_001")).expect("perf_001");
        assert_eq!(perf.price_of(&perf.seats[..1]).map(|m| m.amount), Some(30_000));
        assert_eq!(perf.currency().as_str(), "KRW");
        assert_eq!(perf.seats.len(), 200);
        assert_eq!(perf.seats.first().map(SeatId::as_str), Some("A1"));
        assert_eq!(perf.seats.last().map(SeatId::as_str), Some("J20"));
        assert_eq!(perf.max_seats_per_user(), Some(8));
        assert_eq!(perf.record.status, PerformanceStatus::OnSale);
        assert_eq!(
            perf.record.sections[0].rows.len(),
            10,
            "ten rows of counts, not 200 ids"
        );
        assert!(perf.record.sections[0].rows.iter().all(|r| r.seat_ids.is_none()));
    }

    #[test]
    fn reads_the_documented_file_format() {
        let json = r#"{"performances": [{"performanceId": "perf_x", "title": "Small", "price": 1000,
            "currency": "KRW", "seats": ["A1", "A2", "B1"]}]}"#;
        let catalog = Catalog::from_json(json).expect("valid catalog");
        let perf = catalog.performance(&id("perf_x")).expect("perf_x");
        assert_eq!(perf.seats.len(), 3);
        assert_eq!(perf.max_seats_per_user(), None, "no limit unless the file sets one");
        let limited = r#"{"performances": [{"performanceId": "p", "title": "t", "price": 1, "currency": "KRW",
            "seats": ["A1"], "maxSeatsPerUser": 4}]}"#;
        let catalog = Catalog::from_json(limited).expect("valid catalog");
        assert_eq!(catalog.performance(&id("p")).expect("p").max_seats_per_user(), Some(4));
        assert!(catalog.performance(&id("perf_001")).is_none());
    }

    #[test]
    fn keeps_a_files_seats_as_listed_when_they_are_not_numbered_from_one() {
        let json = r#"{"performances": [{"performanceId": "p", "title": "t", "price": 5, "currency": "KRW",
            "seats": ["A2", "A3", "B1", "B2", "S"]}]}"#;
        let perf = Catalog::from_json(json)
            .expect("valid catalog")
            .performance(&id("p"))
            .expect("p");
        let ids: Vec<&str> = perf.seats.iter().map(SeatId::as_str).collect();
        assert_eq!(ids, ["A2", "A3", "B1", "B2", "S"]);
        let rows = &perf.record.sections[0].rows;
        assert!(rows[0].seat_ids.is_some() && rows[1].seat_ids.is_none() && rows[2].seat_ids.is_some());
    }

    #[test]
    fn rejects_bad_catalogs() {
        let dup = r#"{"performances": [{"performanceId": "p", "title": "t", "price": 1, "currency": "KRW", "seats": ["A1", "A1"]}]}"#;
        assert!(Catalog::from_json(dup).is_err());
        let free = r#"{"performances": [{"performanceId": "p", "title": "t", "price": 0, "currency": "KRW", "seats": ["A1"]}]}"#;
        assert!(Catalog::from_json(free).is_err());
        assert!(Catalog::from_json("{}").is_err());
        let zero = r#"{"performances": [{"performanceId": "p", "title": "t", "price": 1, "currency": "KRW", "seats": ["A1"], "maxSeatsPerUser": 0}]}"#;
        assert!(Catalog::from_json(zero).is_err());
        let empty =
            r#"{"performances": [{"performanceId": "p", "title": "t", "price": 1, "currency": "KRW", "seats": []}]}"#;
        assert!(Catalog::from_json(empty).is_err());
    }
}
