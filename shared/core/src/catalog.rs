//! The performance catalog: what is on, its price and its hall. Built in, or read from the JSON file
//! named by `PERFORMANCES_FILE`.

use crate::domain::{Currency, Money, PerformanceId, SeatId};
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::path::Path;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Performance {
    pub performance_id: PerformanceId,
    pub title: String,
    /// The price of one seat.
    pub price: Money,
    /// Every seat, in hall order: seats next to each other in a row stand next to each other here.
    pub seats: Vec<SeatId>,
    /// The most seats one user may hold (unexpired) or have bought at once; none: no limit.
    pub max_seats_per_user: Option<u32>,
}

#[derive(Clone, Debug, Default)]
pub struct Catalog {
    performances: HashMap<PerformanceId, Performance>,
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
        let krw = Currency::try_from("KRW".to_owned()).ok();
        let entries = [
            ("perf_001", "The Phantom of the Opera", 30_000, hall('A'..='J', 20)),
            ("perf_002", "Hamlet", 55_000, hall('A'..='E', 10)),
        ];
        let performances = entries
            .into_iter()
            .filter_map(|(id, title, price, seats)| {
                Some(Performance {
                    performance_id: PerformanceId::try_from(id).ok()?,
                    title: title.to_owned(),
                    price: Money::new(price, krw.clone()?),
                    seats,
                    max_seats_per_user: Some(8),
                })
            })
            .collect::<Vec<_>>();
        Self::from_performances(performances).unwrap_or_default()
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
        let performances = file
            .performances
            .into_iter()
            .map(|p| Performance {
                performance_id: p.performance_id,
                title: p.title,
                price: Money::new(p.price, p.currency),
                seats: p.seats,
                max_seats_per_user: p.max_seats_per_user,
            })
            .collect();
        Self::from_performances(performances)
    }

    fn from_performances(list: Vec<Performance>) -> Result<Self, CatalogError> {
        let mut performances = HashMap::new();
        for p in list {
            if p.price.amount <= 0 {
                return Err(CatalogError::Invalid(format!(
                    "{}: price must be positive",
                    p.performance_id
                )));
            }
            if p.seats.is_empty() {
                return Err(CatalogError::Invalid(format!(
                    "{}: a performance needs seats",
                    p.performance_id
                )));
            }
            if p.max_seats_per_user == Some(0) {
                return Err(CatalogError::Invalid(format!(
                    "{}: maxSeatsPerUser must be at least 1",
                    p.performance_id
                )));
            }
            let distinct: HashSet<&SeatId> = p.seats.iter().collect();
            if distinct.len() != p.seats.len() {
                return Err(CatalogError::Invalid(format!(
                    "{}: a seat is listed twice",
                    p.performance_id
                )));
            }
            let id = p.performance_id.clone();
            if performances.insert(id.clone(), p).is_some() {
                return Err(CatalogError::Invalid(format!("{id}: listed twice")));
            }
        }
        Ok(Self { performances })
    }

    pub fn performance(&self, id: &PerformanceId) -> Option<&Performance> {
        self.performances.get(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_has_perf_001_with_200_seats_at_30000() {
        let catalog = Catalog::builtin();
        let perf = catalog
            .performance(&PerformanceId::try_from("perf_001").expect("valid"))
            .expect("perf_001");
        assert_eq!(perf.price.amount, 30_000);
        assert_eq!(perf.price.currency.as_str(), "KRW");
        assert_eq!(perf.seats.len(), 200);
        assert_eq!(perf.seats.first().map(SeatId::as_str), Some("A1"));
        assert_eq!(perf.seats.last().map(SeatId::as_str), Some("J20"));
        assert_eq!(perf.max_seats_per_user, Some(8));
    }

    #[test]
    fn reads_the_documented_file_format() {
        let json = r#"{"performances": [{"performanceId": "perf_x", "title": "Small", "price": 1000,
            "currency": "KRW", "seats": ["A1", "A2", "B1"]}]}"#;
        let catalog = Catalog::from_json(json).expect("valid catalog");
        let perf = catalog
            .performance(&PerformanceId::try_from("perf_x").expect("valid"))
            .expect("perf_x");
        assert_eq!(perf.seats.len(), 3);
        assert_eq!(perf.max_seats_per_user, None, "no limit unless the file sets one");
        let limited = r#"{"performances": [{"performanceId": "p", "title": "t", "price": 1, "currency": "KRW",
            "seats": ["A1"], "maxSeatsPerUser": 4}]}"#;
        let catalog = Catalog::from_json(limited).expect("valid catalog");
        let perf = catalog
            .performance(&PerformanceId::try_from("p").expect("valid"))
            .expect("p");
        assert_eq!(perf.max_seats_per_user, Some(4));
        assert!(catalog
            .performance(&PerformanceId::try_from("perf_001").expect("valid"))
            .is_none());
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
    }
}
