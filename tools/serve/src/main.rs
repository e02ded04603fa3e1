//! `make run`: the whole API on 127.0.0.1:$PORT (default 3000) over the in-memory store, with the
//! worker fed by the events table's change stream, the hold expiries scheduled from the bookings
//! table's and waiting on an in-process delay queue, all in this one process.

use std::sync::Arc;

use ticketing_aws::config;
use ticketing_testkit::http_server::serve;
use ticketing_testkit::in_process::run_expiries;
use ticketing_testkit::local::{memory_api, route, MemoryApi};
use ticketing_testkit::mapping::{run_scheduler, run_worker, Mapping};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    config::init_tracing();
    let port = config::port();
    // The simulated gateway calls this very server back for payments it answers "processing".
    let url = std::env::var("PG_WEBHOOK_URL").unwrap_or_else(|_| format!("http://127.0.0.1:{port}/webhooks/pg"));
    let MemoryApi { store, api, due } = memory_api(&url).await?;
    let api = Arc::new(api);
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    tracing::info!(address = %listener.local_addr()?, "ticketing API listening (in-memory store)");

    let worker = run_worker(&store, &api.settle_events, Mapping::default());
    let scheduler = run_scheduler(&store, &api.schedule_expiries);
    let expiries = run_expiries(due, &api.expire_holds, api.expiries.as_ref());
    let served = Arc::clone(&api);
    let http = serve(listener, move |req| {
        let api = Arc::clone(&served);
        async move { route(&api, req).await }
    });
    tokio::select! {
        () = worker => {}
        () = scheduler => {}
        () = expiries => {}
        () = http => {}
        _ = tokio::signal::ctrl_c() => tracing::info!("stopping"),
    }
    Ok(())
}
