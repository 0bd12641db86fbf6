//! The HTTP face of remit: pages for people, JSON for systems, and the operational endpoints.
//!
//! [`app`] builds the whole router from an [`AppState`]; `main` only binds it, so tests drive the same router.
//!
//! **Invariant:** every route except `/health` and sign-in sits behind [`auth::require_auth`], which answers 401
//! before any handler runs when no valid session or bearer token is presented.
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
}

impl Default for Config {
    fn default() -> Self {
        Self {
            sessions: SessionLimits::default(),
            secure_cookies: false,
            body_limit: 1024 * 1024,
            max_supervisees: 4,
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

/// News for open pages: each escalation raised, acknowledged or reviewed bumps a counter that subscribers (the
/// server-sent event streams of ward boards and inboxes) are told about.
pub struct Events {
    tx: tokio::sync::broadcast::Sender<u64>,
    seq: std::sync::atomic::AtomicU64,
}

impl Default for Events {
    fn default() -> Self {
        Self {
            tx: tokio::sync::broadcast::channel(64).0,
            seq: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl Events {
    /// Tells subscribers that escalations changed.
    pub fn escalation_raised(&self) {
        let n = self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        // No subscriber is not an error.
        let _ = self.tx.send(n);
    }

    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<u64> {
        self.tx.subscribe()
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

/// The headers every answer carries: no sniffing of content types, no framing by another site, no referrer sent to
/// another site (same-origin: a form post keeps its `Origin`, which the CSRF check reads), nothing kept by a
/// browser's or proxy's cache (ward PCs are shared, and most answers name patients or staff);
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
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static("frame-ancestors 'none'"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
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
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::require_auth));

    let public = Router::new()
        .route("/health", get(health))
        .merge(pages::public_router());

    let body_limit = state.config.body_limit;
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
        .layer(RequestBodyLimitLayer::new(body_limit))
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

/// Serves until `shutdown` resolves, then finishes the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown).await
}
