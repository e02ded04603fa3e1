//! The DynamoDB Streams consumer of the bookings table: each new booking's hold expiry onto the delay
//! queue, the whole batch's in as few requests as the queue allows.

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use ticketing_core::app::ScheduleExpiries;
use ticketing_core::domain::Booking;
use tracing::{error, info};

use super::stream_failures;

/// Schedules the expiry of every booking the batch inserts and reports the records whose expiry was not
/// sent (read again, then given up to the on-failure destination). A change to a booking (its status)
/// is nothing to schedule: the deployed mapping's filter passes only inserts, and the rest are skipped
/// here all the same.
pub async fn schedule_expiries(scheduler: &ScheduleExpiries, batch: Event) -> DynamoDbEventResponse {
    let mut failed = Vec::new();
    let mut inserted: Vec<(String, Booking)> = Vec::new();
    for record in batch.records.iter().filter(|r| r.event_name == "INSERT") {
        let id = sequence_number(record);
        match serde_dynamo::from_item::<_, Booking>(record.change.new_image.clone()) {
            Ok(booking) => inserted.push((id, booking)),
            Err(e) => {
                error!(stream_event_id = %record.event_id, error = %e, "not a booking; reported for retry");
                failed.push(id);
            }
        }
    }
    let (ids, bookings): (Vec<String>, Vec<Booking>) = inserted.into_iter().unzip();
    let results = scheduler.schedule(&bookings).await;
    failed.extend(
        ids.into_iter()
            .zip(results)
            .filter_map(|(id, result)| result.is_err().then_some(id)),
    );
    info!(
        records = batch.records.len(),
        bookings = bookings.len(),
        failed = failed.len(),
        "batch scheduled"
    );
    stream_failures(failed)
}

fn sequence_number(record: &EventRecord) -> String {
    record
        .change
        .sequence_number
        .clone()
        .unwrap_or_else(|| record.event_id.clone())
}
