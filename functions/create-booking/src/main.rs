//! `create-booking`: wiring only; the behaviour lives in `ticketing::api::create_booking`.

use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    ticketing::wiring::init_tracing();
    let app = &ticketing::wiring::dynamo_app_with_expiries().await?;
    run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(ticketing::api::create_booking(app, req).await)
    }))
    .await
}
