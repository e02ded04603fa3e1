//! `list-my-bookings`: wiring only; the behaviour lives in `ticketing::api::list_my_bookings`.

use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    ticketing::wiring::init_tracing();
    let app = &ticketing::wiring::dynamo_app().await?;
    run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(ticketing::api::list_my_bookings(app, req).await)
    }))
    .await
}
