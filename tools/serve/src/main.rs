//! `make run`: the whole API on 127.0.0.1:$PORT (default 3000) over the in-memory store, with the
//! worker fed by the store's change stream and the hold expiries of an in-process delay queue, all in
//! this one process.

mod http_server;

use http_server::serve;
use std::sync::Arc;
use ticketing::stream::Mapping;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ticketing::wiring::init_tracing();
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
    let (app, due) = ticketing::wiring::memory_app()?;
    // The simulated gateway calls this very server back for payments it answers "processing".
    let url = std::env::var("PG_WEBHOOK_URL").unwrap_or_else(|_| format!("http://127.0.0.1:{port}/webhooks/pg"));
    let app = Arc::new(app.with_gateway(ticketing::wiring::local_gateway(&url)?));
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    tracing::info!(address = %listener.local_addr()?, "ticketing API listening (in-memory store)");

    let (store, clock) = (&app.store, app.clock.as_ref());
    let worker = ticketing::stream::run_in_process(store, &app, Mapping::default());
    let queue = app.expiries.clone().ok_or("the in-memory app has an expiry queue")?;
    let expiries = ticketing::expiry::run_in_process(due, store, clock, queue);
    let api_app = Arc::clone(&app);
    let api = serve(listener, move |req| {
        let app = Arc::clone(&api_app);
        async move { ticketing::api::route(&app, req).await }
    });
    tokio::select! {
        () = worker => {}
        () = expiries => {}
        () = api => {}
        _ = tokio::signal::ctrl_c() => tracing::info!("stopping"),
    }
    Ok(())
}
