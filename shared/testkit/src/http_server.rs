//! A small HTTP/1.1 server that hands each request to a Lambda HTTP handler, as API Gateway would.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use lambda_http::{Body, Request, Response};
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use ticketing_aws::http::{ApiError, MAX_BODY_BYTES};
use tokio::net::TcpListener;
use tracing::warn;

/// Reads the body (up to the API's limit) and turns the request into the one a Lambda function gets.
async fn to_lambda(req: hyper::Request<Incoming>) -> Result<Request, ApiError> {
    let (parts, body) = req.into_parts();
    let bytes = Limited::new(body, MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|_| ApiError::payload_too_large())?
        .to_bytes();
    let body = match String::from_utf8(bytes.to_vec()) {
        Ok(text) if text.is_empty() => Body::Empty,
        Ok(text) => Body::Text(text),
        Err(e) => Body::Binary(e.into_bytes()),
    };
    Ok(Request::from_parts(parts, body))
}

fn to_hyper(res: Response<Body>) -> Response<Full<Bytes>> {
    let (parts, body) = res.into_parts();
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(text) => Bytes::from(text),
        Body::Binary(data) => Bytes::from(data),
        other => Bytes::copy_from_slice(other.as_ref()),
    };
    Response::from_parts(parts, Full::new(bytes))
}

/// Serves `handler` on `listener` until the returned future is dropped.
pub async fn serve<H, F>(listener: TcpListener, handler: H)
where
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let handler = Arc::new(handler);
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                warn!(error = %e, "accept failed");
                continue;
            }
        };
        let handler = Arc::clone(&handler);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let handler = Arc::clone(&handler);
                async move {
                    let response = match to_lambda(req).await {
                        Ok(req) => handler(req).await,
                        Err(e) => e.into_response(),
                    };
                    Ok::<_, Infallible>(to_hyper(response))
                }
            });
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                warn!(error = %e, "connection ended with an error");
            }
        });
    }
}
