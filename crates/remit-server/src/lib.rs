//! The HTTP face of remit: pages for people, JSON for systems, and the operational endpoints.
//!
//! [`app`] builds the whole router from an [`AppState`]; `main` only binds it, so tests drive the same router.
//!
//! **Invariants:** every route except `/health` and sign-in sits behind [`auth::require_auth`], which answers 401
//! before any handler runs when no valid session or bearer token is presented; and every route whose path names a
//! patient sits behind [`patient_gate::gate`], which opens the record to the signed-in person or refuses, audited,
//! before its handler runs.
#![forbid(unsafe_code)]

mod api;
mod auth;
pub mod competency;
pub mod demo;
mod error;
mod fhir;
mod fhir_clinical;
mod fhir_obs;
pub mod imaging;
mod imaging_api;
mod metrics;
pub mod obs;
mod obs_api;
mod pages;
mod patient_gate;
pub mod scope;
pub mod tasks;
pub mod uk;
mod ward_pages;
mod work_pages;
mod writes;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::HeaderName;
use axum::middleware;
use axum::routing::get;
use remit_domain::pay::PayTable;
use remit_policy::PolicyPack;
use remit_store::Store;
use remit_store::session::SessionLimits;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing::Span;

pub use api::openapi;
pub use auth::Actor;

pub use error::AppError;
pub use metrics::Metrics;

/// Settings a deployment may change.
#[derive(Debug, Clone)]
pub struct Config {
    pub sessions: SessionLimits,
    /// Mark the session cookie `Secure` (set when remit is served over HTTPS, directly or behind a proxy).
    pub secure_cookies: bool,
    /// The largest request body accepted; larger ones get 413 before they are read.
    pub body_limit: usize,
    /// The most people one supervisor should supervise at once; delegating beyond it warns.
    pub max_supervisees: usize,
    /// Proxies whose `X-Forwarded-For` names the client (sign-in throttling counts by the client's address).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Connections served at once; further ones wait to be accepted.
    pub max_connections: usize,
    /// A connection must send a request's whole header within this long, and one idle between requests is closed
    /// after it.
    pub header_timeout: Duration,
    /// A request's body must have arrived within this long of the request's start, else reading it fails (a 4xx);
    /// a handler, once it has the body, is never cut short (a write is answered as it ended).
    pub request_timeout: Duration,
    /// Live event streams one person may hold open at once.
    pub max_streams_per_person: usize,
    /// How often an open event stream checks that its reader's credential still stands, between announcements.
    pub stream_check: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            sessions: SessionLimits::default(),
            secure_cookies: false,
            body_limit: 1024 * 1024,
            max_supervisees: 4,
            trusted_proxies: Vec::new(),
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_streams_per_person: 8,
            stream_check: Duration::from_secs(10),
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub pack: Arc<PolicyPack>,
    pub pay: Arc<PayTable>,
    /// The examination catalogue and local DRLs.
    pub imaging: Arc<remit_domain::imaging::Catalogue>,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    pub events: Arc<Events>,
}

/// News for open pages: each escalation raised, acknowledged, reviewed or moved along its cascade is announced with
/// the place of its patient, and the server-sent event streams of ward boards and inboxes pass on to each reader only
/// the announcements of places they may see.
pub struct Events {
    tx: tokio::sync::broadcast::Sender<Change>,
    seq: std::sync::atomic::AtomicU64,
    /// Open streams per person (staff id), held to [`Config::max_streams_per_person`].
    open: std::sync::Mutex<std::collections::HashMap<i64, usize>>,
}

/// One announcement: its number, and the place it is about.
#[derive(Debug, Clone)]
pub struct Change {
    pub seq: u64,
    pub place: Arc<str>,
}

impl Default for Events {
    fn default() -> Self {
        Self {
            tx: tokio::sync::broadcast::channel(64).0,
            seq: std::sync::atomic::AtomicU64::new(0),
            open: std::sync::Mutex::default(),
        }
    }
}

impl Events {
    /// Tells subscribers that an escalation of a patient in `place` changed.
    pub fn escalation_raised(&self, place: &str) {
        let seq = self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        // No subscriber is not an error.
        let _ = self.tx.send(Change {
            seq,
            place: Arc::from(place),
        });
    }

    /// Tells open streams to check at once that their readers' credentials still stand (a sign-out here).
    pub fn credentials_changed(&self) {
        let _ = self.tx.send(Change {
            seq: 0,
            place: Arc::from(""),
        });
    }

    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Change> {
        self.tx.subscribe()
    }

    /// Holds one of `staff`'s stream places, if fewer than `max` are open; the place is given back when the guard
    /// is dropped (the stream ends).
    pub fn hold_stream(self: &Arc<Self>, staff: i64, max: usize) -> Option<StreamGuard> {
        let mut open = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = open.entry(staff).or_default();
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(StreamGuard {
            events: self.clone(),
            staff,
        })
    }
}

/// One open event stream of a person's, given back when dropped.
pub struct StreamGuard {
    events: Arc<Events>,
    staff: i64,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let mut open = self
            .events
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.staff) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.staff);
            }
        }
    }
}

impl AppState {
    pub fn new(store: Store, pack: Arc<PolicyPack>, config: Config) -> Self {
        Self {
            store,
            pack,
            pay: Arc::new(PayTable::shipped()),
            imaging: Arc::new(remit_domain::imaging::Catalogue::shipped()),
            config: Arc::new(config),
            metrics: Arc::new(Metrics::default()),
            events: Arc::new(Events::default()),
        }
    }

    /// Uses another examination catalogue than the one compiled in.
    pub fn with_imaging_catalogue(mut self, catalogue: Arc<remit_domain::imaging::Catalogue>) -> Self {
        self.imaging = catalogue;
        self
    }

    /// Uses another Agenda for Change pay table than the one compiled in.
    pub fn with_pay_table(mut self, table: Arc<PayTable>) -> Self {
        self.pay = table;
        self
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Request ids: random, short, and never derived from the request.
#[derive(Clone, Copy, Default)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        let id = &remit_store::credentials::random_secret()[..16];
        axum::http::HeaderValue::from_str(id).ok().map(RequestId::new)
    }
}

/// A client's request id is kept only if it is a plain token of bounded length (a correlation id from a proxy in
/// front); anything else is dropped and the server makes its own, so that nothing a client sends can forge log
/// fields or plant text in the logs.
async fn plain_request_id(mut req: Request) -> Request {
    let plain = req.headers().get(REQUEST_ID).is_some_and(|v| {
        let b = v.as_bytes();
        !b.is_empty()
            && b.len() <= 64
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
    });
    if !plain {
        req.headers_mut().remove(REQUEST_ID);
    }
    req
}

/// What a page may load: its own scripts, styles and requests only, no inline script or style, no plug-ins, no
/// framing, and forms that post back to remit.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// The headers every answer carries: no sniffing of content types, no framing by another site, no referrer sent to
/// another site (same-origin: a form post keeps its `Origin`, which the CSRF check reads), the [`CSP`], nothing kept
/// by a browser's or proxy's cache unless the answer says otherwise (only remit's static files do: ward PCs are
/// shared, and most answers name patients or staff);
/// HSTS when remit is served over HTTPS (`--secure-cookies`).
async fn protective_headers(
    axum::extract::State(secure): axum::extract::State<bool>,
    mut res: axum::response::Response,
) -> axum::response::Response {
    use axum::http::HeaderValue;
    use axum::http::header;
    let h = res.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    if secure {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    res
}

/// The whole application.
pub fn app(state: AppState) -> Router {
    let protected = Router::new()
        .merge(pages::router())
        .merge(ward_pages::router())
        .merge(work_pages::router())
        .merge(api::router())
        .merge(metrics::router())
        .merge(fhir::router())
        .route_layer(middleware::from_fn_with_state(state.clone(), patient_gate::gate))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::require_auth));

    let public = Router::new()
        .route("/health", get(health))
        .merge(pages::public_router());

    let body_limit = state.config.body_limit;
    let request_timeout = state.config.request_timeout;
    Router::new()
        .merge(public)
        .merge(protected)
        .fallback(error::not_found)
        .with_state(state.clone())
        .layer(middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(middleware::map_response_with_state(
            state.config.secure_cookies,
            protective_headers,
        ))
        .layer(middleware::from_fn_with_state(state.store.backend(), writes::on_write_threads))
        // The limit inside the deadline, so that a body too large is answered 413 as it streams in.
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(middleware::map_request_with_state(request_timeout, body_deadline))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    // The route template, never the path itself: paths can carry NHS numbers.
                    let route = req
                        .extensions()
                        .get::<MatchedPath>()
                        .map_or("unmatched", MatchedPath::as_str)
                        .to_owned();
                    let request_id = req
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-")
                        .to_owned();
                    tracing::info_span!("request", %request_id, method = %req.method(), %route, staff = tracing::field::Empty)
                })
                .on_request(())
                .on_response(|res: &axum::response::Response, latency: Duration, _span: &Span| {
                    tracing::info!(status = res.status().as_u16(), latency_ms = latency.as_secs_f64() * 1000.0, "response");
                })
                .on_failure(()),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, RandomRequestId))
        .layer(middleware::map_request(plain_request_id))
}

/// Gives the request's body a deadline: frames after it are an error for whoever reads the body, so a client that
/// trickles a body cannot hold a connection and a handler for long.
async fn body_deadline(axum::extract::State(within): axum::extract::State<Duration>, req: Request) -> Request {
    let (parts, body) = req.into_parts();
    let body = Deadline {
        body,
        sleep: Box::pin(tokio::time::sleep(within)),
    };
    Request::from_parts(parts, axum::body::Body::new(body))
}

struct Deadline {
    body: axum::body::Body,
    sleep: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl http_body::Body for Deadline {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        use std::future::Future as _;
        // What has arrived is read whenever the handler asks; only waiting for more is cut short.
        let frame = std::pin::Pin::new(&mut self.body).poll_frame(cx);
        if frame.is_pending() && self.sleep.as_mut().poll(cx).is_ready() {
            return std::task::Poll::Ready(Some(Err(axum::Error::new("the request body did not arrive in time"))));
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// Liveness and database reachability; open to all, says nothing about patients.
async fn health(axum::extract::State(state): axum::extract::State<AppState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    match state.store.ping().await {
        Ok(()) => axum::Json(serde_json::json!({"status": "ok", "database": "ok"})).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({"status": "unavailable", "database": "unreachable"})),
            )
                .into_response()
        }
    }
}

/// How long requests in flight are given to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Serves until `shutdown` resolves, then finishes the requests in flight (for up to [`SHUTDOWN_GRACE`]).
///
/// Each connection is bounded: at most `max_connections` are served at once (further ones wait in the listen
/// queue), a request's header must arrive within `header_timeout` (and an idle keep-alive connection is closed after
/// it), and a request's body must have arrived within `request_timeout` (see [`app`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;

    let config = state.config.clone();
    let router = app(state);
    let slots = Arc::new(tokio::sync::Semaphore::new(config.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => slot.map_err(std::io::Error::other)?,
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = router
            .clone()
            .map_request(move |mut req: Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                req
            });
        let conn = builder.serve_connection(
            TokioIo::new(stream),
            hyper_util::service::TowerToHyperService::new(service),
        );
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // A client that goes away or times out is not the server's error.
            let _ = conn.await;
            drop(slot);
        });
    }
    // No new connections; those open get a moment to finish (event streams never would).
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await.is_err() {
        tracing::info!("connections still open at shutdown were closed");
    }
    Ok(())
}
