//! The rules a performance keeps, whoever writes it: an operator creating or changing it, or a
//! `PERFORMANCES_FILE` loaded at start. Each broken rule is its own error, so the answer can say which
//! field is wrong.

use std::collections::HashSet;

use super::performance::{PerformanceRecord, Section};
use crate::domain::Quantity;

/// The most seats a hall may have.
pub const MAX_SEATS: u64 = 100_000;
/// The longest title, venue, section or row name, in characters.
pub const MAX_TITLE: usize = 200;
pub const MAX_NAME: usize = 40;
pub const MAX_ROW_NAME: usize = 8;

/// Which rule a performance breaks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPerformance {
    #[error("performanceId must be 1 to 64 characters of letters, digits, '-', '_', '.', ':' or '@'")]
    PerformanceId,
    #[error("title must be 1 to {MAX_TITLE} characters")]
    Title,
    #[error("venue must be 1 to {MAX_TITLE} characters")]
    Venue,
    #[error("startsAt must be an RFC 3339 time")]
    StartsAt,
    #[error("salesOpenAt must be an RFC 3339 time")]
    SalesOpenAt,
    #[error("salesCloseAt must be an RFC 3339 time")]
    SalesCloseAt,
    #[error("salesCloseAt must be after salesOpenAt")]
    SalesWindow,
    #[error("startsAt must not be before salesCloseAt")]
    StartsBeforeSalesClose,
    #[error("currency must be a three-letter ISO 4217 code")]
    Currency,
    #[error("maxSeatsPerBooking must be an integer from {} to {}", Quantity::MIN, Quantity::MAX)]
    MaxSeatsPerBooking,
    #[error("maxSeatsPerUser must be a positive integer, or null for no limit")]
    MaxSeatsPerUser,
    #[error("sections must be a non-empty list of {{name, price, rows}}")]
    Sections,
    #[error("a performance needs seats")]
    NoSeats,
    #[error("a hall has at most {MAX_SEATS} seats")]
    TooManySeats,
    #[error("a section's name must be 1 to {MAX_NAME} characters")]
    SectionName,
    #[error("section {0:?} is listed twice")]
    DuplicateSection(String),
    #[error("a section's price must be a positive integer in minor units")]
    Price,
    #[error("a row must be 1 to {MAX_ROW_NAME} letters, '-' or '_' (its seats are the row and a number: A1, A2, …)")]
    RowName,
    #[error("row {0:?} is listed twice")]
    DuplicateRow(String),
    #[error("a row's seats must be a positive integer")]
    RowSeats,
    #[error("status must be one of draft, on_sale, closed, cancelled")]
    Status,
}

/// Checks everything but the id (typed already): text lengths, the windows' order, the limits and the
/// layout.
pub fn check(record: &PerformanceRecord) -> Result<(), InvalidPerformance> {
    let length = |s: &str| s.trim().chars().count();
    if !(1..=MAX_TITLE).contains(&length(&record.title)) {
        return Err(InvalidPerformance::Title);
    }
    if !(1..=MAX_TITLE).contains(&length(&record.venue)) {
        return Err(InvalidPerformance::Venue);
    }
    if record.sales_close_at <= record.sales_open_at {
        return Err(InvalidPerformance::SalesWindow);
    }
    if record.starts_at < record.sales_close_at {
        return Err(InvalidPerformance::StartsBeforeSalesClose);
    }
    if !(Quantity::MIN..=Quantity::MAX).contains(&record.max_seats_per_booking) {
        return Err(InvalidPerformance::MaxSeatsPerBooking);
    }
    if record.max_seats_per_user == Some(0) {
        return Err(InvalidPerformance::MaxSeatsPerUser);
    }
    check_layout(&record.sections)
}

/// The hall: named sections with positive prices, uniquely named rows of seats, at least one seat and
/// at most [`MAX_SEATS`].
pub fn check_layout(sections: &[Section]) -> Result<(), InvalidPerformance> {
    if sections.is_empty() {
        return Err(InvalidPerformance::NoSeats);
    }
    let mut section_names = HashSet::new();
    let mut row_names = HashSet::new();
    let mut seats: u64 = 0;
    for section in sections {
        if section.rows.is_empty() {
            return Err(InvalidPerformance::NoSeats);
        }
        if !(1..=MAX_NAME).contains(&section.name.trim().chars().count()) {
            return Err(InvalidPerformance::SectionName);
        }
        if !section_names.insert(section.name.as_str()) {
            return Err(InvalidPerformance::DuplicateSection(section.name.clone()));
        }
        if section.price <= 0 {
            return Err(InvalidPerformance::Price);
        }
        for row in &section.rows {
            // A row named by a file lists its seats; one an operator names is numbered from 1, so its
            // name must not end the way a seat number does.
            if row.seat_ids.is_none() && !valid_row_name(&row.row) {
                return Err(InvalidPerformance::RowName);
            }
            // A file's listed rows are checked seat by seat instead (no seat twice).
            if row.seat_ids.is_none() && !row_names.insert(row.row.as_str()) {
                return Err(InvalidPerformance::DuplicateRow(row.row.clone()));
            }
            if row.seats == 0 {
                return Err(InvalidPerformance::RowSeats);
            }
            seats += u64::from(row.seats);
            if seats > MAX_SEATS {
                return Err(InvalidPerformance::TooManySeats);
            }
        }
    }
    if seats == 0 {
        return Err(InvalidPerformance::NoSeats);
    }
    Ok(())
}

fn valid_row_name(name: &str) -> bool {
    (1..=MAX_ROW_NAME).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphabetic() || matches!(c, '-' | '_'))
}
