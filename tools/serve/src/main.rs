//! `make run`: the whole API on 127.0.0.1:$PORT (default 3000) over the in-memory store, with the
//! worker fed by the store's change stream in the same process.

use std::sync::Arc;
use ticketing::stream::{run_in_process, Mapping};
mod http_server;

use http_server::serve;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ticketing::wiring::init_tracing();
    let app = Arc::new(ticketing::wiring::memory_app()?);
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    tracing::info!(address = %listener.local_addr()?, "ticketing API listening (in-memory store)");

    let worker_app = Arc::clone(&app);
    let worker = async move {
        let app = worker_app.as_ref();
        run_in_process(&app.store, &app.store, app.clock.as_ref(), Mapping::default()).await;
    };
    let api = serve(listener, move |req| {
        let app = Arc::clone(&app);
        async move { ticketing::api::route(&app, req).await }
    });
    tokio::select! {
        () = worker => {}
        () = api => {}
        _ = tokio::signal::ctrl_c() => tracing::info!("stopping"),
    }
    Ok(())
}
