//! `create-booking`: wiring only; the behaviour lives in `ticketing::api::create_booking`.

use lambda_http::{run, service_fn, Error, Request};
use ticketing::wiring::{dynamo_app, expiry_queue, init_tracing};

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    let app = &dynamo_app().await?.with_expiries(expiry_queue().await?);
    run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(ticketing::api::create_booking(app, req).await)
    }))
    .await
}
