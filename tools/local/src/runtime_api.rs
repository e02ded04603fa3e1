//! A stand-in for the Lambda Runtime API (the interface a function's process polls for invocations), so
//! that `make bench` runs the release binaries of the functions as Lambda runs them: each process polls
//! `GET /2018-06-01/runtime/invocation/next`, handles one invocation at a time and posts its response.
//! Several processes polling one stand-in are several execution environments of one function.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot, watch};

const PREFIX: &str = "/2018-06-01/runtime";
/// How long an invocation may take before [`RuntimeApi::invoke`] gives up on it.
const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("the function reported an error: {0}")]
    Function(String),
    #[error("no response within {0:?}")]
    Timeout(Duration),
    #[error("the runtime API stand-in has stopped")]
    Stopped,
}

struct Invocation {
    payload: Bytes,
    reply: oneshot::Sender<Result<Bytes, InvokeError>>,
}

struct Shared {
    /// Invocations not yet handed to a process; the processes' polls take turns on the receiver.
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>,
    /// Invocations handed out, by request id, waiting for their response.
    running: Mutex<HashMap<String, oneshot::Sender<Result<Bytes, InvokeError>>>>,
    /// How many polls for the next invocation have arrived.
    polls: watch::Sender<u64>,
    function: String,
}

/// The stand-in, serving on 127.0.0.1 until dropped.
pub struct RuntimeApi {
    address: SocketAddr,
    submit: mpsc::UnboundedSender<Invocation>,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    /// Serves the runtime API of `function` on a free port of 127.0.0.1.
    pub async fn start(function: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let (submit, queue) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            queue: tokio::sync::Mutex::new(queue),
            running: Mutex::new(HashMap::new()),
            polls: watch::channel(0).0,
            function: function.to_owned(),
        });
        let server = tokio::spawn(serve(listener, Arc::clone(&shared)));
        Ok(Self {
            address,
            submit,
            shared,
            server,
        })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API` for the function's processes.
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    /// Invokes the function with `payload` and returns its response, once one of its processes has
    /// handled it.
    pub async fn invoke(&self, payload: Vec<u8>) -> Result<Bytes, InvokeError> {
        let (reply, response) = oneshot::channel();
        self.submit
            .send(Invocation {
                payload: payload.into(),
                reply,
            })
            .map_err(|_| InvokeError::Stopped)?;
        match tokio::time::timeout(TIMEOUT, response).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(InvokeError::Stopped),
            Err(_) => Err(InvokeError::Timeout(TIMEOUT)),
        }
    }

    /// Waits until `count` polls for the next invocation have arrived in all.
    pub async fn polled(&self, count: u64) {
        let mut polls = self.shared.polls.subscribe();
        let _ = polls.wait_for(|n| *n >= count).await;
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let mut connections = tokio::task::JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        let shared = Arc::clone(&shared);
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let shared = Arc::clone(&shared);
                async move { Ok::<_, Infallible>(handle(&shared, req).await) }
            });
            // A process that exits drops its connection; nothing to report.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
}

async fn handle(shared: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return reply(StatusCode::NOT_FOUND, "unknown path");
    };
    match (req.method(), rest) {
        (&Method::GET, "/invocation/next") => next(shared).await,
        (&Method::POST, "/init/error") => {
            let body = body_of(req).await;
            tracing::error!(function = %shared.function, error = %String::from_utf8_lossy(&body), "init failed");
            reply(StatusCode::ACCEPTED, "")
        }
        (&Method::POST, rest) => {
            let Some((id, outcome)) = rest.strip_prefix("/invocation/").and_then(|r| r.split_once('/')) else {
                return reply(StatusCode::NOT_FOUND, "unknown path");
            };
            let (id, outcome) = (id.to_owned(), outcome.to_owned());
            let body = body_of(req).await;
            let waiting = shared.running.lock().ok().and_then(|mut r| r.remove(&id));
            let Some(waiting) = waiting else {
                return reply(StatusCode::BAD_REQUEST, "unknown request id");
            };
            let result = match outcome.as_str() {
                "response" => Ok(body),
                _ => Err(InvokeError::Function(String::from_utf8_lossy(&body).into_owned())),
            };
            let _ = waiting.send(result);
            reply(StatusCode::ACCEPTED, "")
        }
        _ => reply(StatusCode::NOT_FOUND, "unknown path"),
    }
}

async fn body_of(req: Request<Incoming>) -> Bytes {
    req.into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default()
}

/// Long-polls for the next invocation and hands it out with the headers the runtime reads.
async fn next(shared: &Shared) -> Response<Full<Bytes>> {
    shared.polls.send_modify(|n| *n += 1);
    let invocation = shared.queue.lock().await.recv().await;
    let Some(invocation) = invocation else {
        return reply(StatusCode::GONE, "stopped");
    };
    let id = uuid::Uuid::new_v4().to_string();
    let deadline = SystemTime::now()
        .checked_add(TIMEOUT)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis());
    if let Ok(mut running) = shared.running.lock() {
        running.insert(id.clone(), invocation.reply);
    }
    let mut response = reply(StatusCode::OK, invocation.payload);
    let headers = [
        ("lambda-runtime-aws-request-id", id),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            format!("arn:aws:lambda:us-east-1:000000000000:function:{}", shared.function),
        ),
        (
            "lambda-runtime-trace-id",
            format!("Root=1-00000000-{}", uuid::Uuid::new_v4().simple()),
        ),
    ];
    for (name, value) in headers {
        if let Ok(value) = value.parse() {
            response.headers_mut().insert(name, value);
        }
    }
    response
}
