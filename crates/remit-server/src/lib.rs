//! The HTTP face of remit: pages for people, JSON for systems, FHIR for integrations, and the operational
//! endpoints.
//!
//! One folder a feature — [`observations`], [`imaging`], [`clinical`], [`tasks`], [`staff`], [`audit`], [`pay`] —
//! each owning its routes in every interface it has (pages, JSON API, FHIR) and exposing one `router()`; [`http`] is
//! the plumbing they share (authentication, the patient gate, errors, extractors, rendering, OpenAPI, metrics,
//! layers). [`app`] merges the feature routers; `main` only binds it, so tests drive the same router.
//!
//! **Invariants:** every route except `/health`, the FHIR CapabilityStatement (`/fhir/metadata`), the static files
//! and sign-in sits behind
//! [`http::auth::require_auth`], which answers 401 before any handler runs when no valid session or bearer token is
//! presented; and every route whose path names a patient sits behind [`http::gate::gate`], which opens the record to
//! the signed-in person or refuses, audited, before its handler runs.
#![forbid(unsafe_code)]

mod admissions;
mod audit;
mod clinical;
pub mod delivery;
mod http;
mod imaging;
mod observations;
mod pay;
mod serve;
mod staff;
mod tasks;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::middleware;
use axum::routing::get;
use remit_domain::pay::PayTable;
use remit_policy::PolicyPack;
use remit_store::Store;
use remit_store::session::SessionLimits;
use utoipa_axum::router::OpenApiRouter;

pub use admissions::mllp;
pub use http::error::AppError;
pub use http::events::{Change, Events};
pub use http::metrics::Metrics;
pub use http::oidc;
pub use serve::serve;

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
    /// How often a page that does not update itself (a form, my work) asks for the inbox's count, to raise the
    /// alert of a new escalation.
    pub inbox_poll: Duration,
    /// Where escalations are delivered outside remit (a paging gateway), if anywhere: the escalation's pages then
    /// say how its delivery stands.
    pub delivery: Option<delivery::Delivery>,
    /// The trust's OpenID Connect provider, if staff sign in through it.
    pub oidc: Option<Arc<oidc::Oidc>>,
    /// Whether staff may sign in with a password remit keeps (the embedded default; turned off where the trust's
    /// provider is the only way in).
    pub password_sign_in: bool,
    /// How long, once told to stop, the server goes on serving while `/health` says it is stopping, so that a load
    /// balancer's health check takes it out before it stops accepting (none when it runs alone).
    pub drain: Duration,
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
            inbox_poll: Duration::from_secs(20),
            delivery: None,
            oidc: None,
            password_sign_in: true,
            drain: Duration::ZERO,
        }
    }
}

/// What every handler can reach. Extractors and middleware clone it several times a request: a clone is one count on
/// one shared allocation ([`Shared`], reached through `Deref`), not one on each part.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of [`AppState`].
#[derive(Clone)]
pub struct Shared {
    pub store: Store,
    pub pack: Arc<PolicyPack>,
    pub pay: Arc<PayTable>,
    /// The examination catalogue and local DRLs.
    pub imaging: Arc<remit_domain::imaging::Catalogue>,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    pub events: Arc<Events>,
    /// How the server stands: stopping, and whether it hears other processes' changes.
    pub standing: Arc<Standing>,
}

/// How the server stands, for `/health`.
#[derive(Debug, Default)]
pub struct Standing {
    /// Told to stop: `/health` says so, and a load balancer takes the instance out.
    pub stopping: std::sync::atomic::AtomicBool,
    /// The follower of other processes' changes has lost its way (see `remit_store::changes`).
    pub deaf: std::sync::atomic::AtomicBool,
}

impl AppState {
    pub fn new(store: Store, pack: Arc<PolicyPack>, config: Config) -> Self {
        let events = Arc::new(Events::new(store.changes().clone()));
        Self(Arc::new(Shared {
            store,
            pack,
            pay: Arc::new(PayTable::shipped()),
            imaging: Arc::new(remit_domain::imaging::Catalogue::shipped()),
            config: Arc::new(config),
            metrics: Arc::new(Metrics::default()),
            events,
            standing: Arc::default(),
        }))
    }

    /// Uses another examination catalogue than the one compiled in.
    pub fn with_imaging_catalogue(mut self, catalogue: Arc<remit_domain::imaging::Catalogue>) -> Self {
        Arc::make_mut(&mut self.0).imaging = catalogue;
        self
    }

    /// Uses another Agenda for Change pay table than the one compiled in.
    pub fn with_pay_table(mut self, table: Arc<PayTable>) -> Self {
        Arc::make_mut(&mut self.0).pay = table;
        self
    }
}

/// Every feature's routes, with the OpenAPI document of their JSON API.
fn features() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(http::openapi::base())
        .merge(observations::router())
        .merge(admissions::router())
        .merge(imaging::router())
        .merge(clinical::router())
        .merge(tasks::router())
        .merge(staff::router())
        .merge(audit::router())
        .merge(pay::router())
        .merge(http::session::router())
        .merge(http::metrics::router())
}

/// The generated OpenAPI document, for tools that want it without a server.
pub fn openapi() -> utoipa::openapi::OpenApi {
    features().into_openapi()
}

/// The whole application.
pub fn app(state: AppState) -> Router {
    let (features, doc) = features().split_for_parts();
    let doc = Arc::new(doc);
    let protected = features
        .route(
            "/api/openapi.json",
            get(move || async move { axum::Json((*doc).clone()) }),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), http::gate::gate))
        .route_layer(middleware::from_fn_with_state(state.clone(), http::auth::require_auth));
    let public = Router::new()
        .route("/health", get(health))
        .route("/fhir/metadata", get(http::fhir::metadata))
        .merge(http::session::public_router());
    let router = Router::new()
        .merge(public)
        .merge(protected)
        .fallback(http::error::not_found)
        .with_state(state.clone());
    http::layers::wrap(router, &state)
}

/// Readiness, for a load balancer: ready (200) only when the database answers, every migration this build knows is
/// applied, and the server is not stopping; else 503, saying which. Open to all, says nothing about patients.
async fn health(axum::extract::State(state): axum::extract::State<AppState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    use std::sync::atomic::Ordering::Relaxed;
    let stopping = state.standing.stopping.load(Relaxed);
    let changes = if state.standing.deaf.load(Relaxed) {
        "lost"
    } else {
        "following"
    };
    let (database, migrations) = match state.store.migrations().await {
        Ok(m) => ("ok", Some(m)),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            ("unreachable", None)
        }
    };
    let ready = !stopping && migrations.as_ref().is_some_and(remit_store::Migrations::ready);
    let status = match (ready, stopping) {
        (true, _) => "ready",
        (false, true) => "stopping",
        (false, false) => "unavailable",
    };
    let body = axum::Json(serde_json::json!({
        "status": status,
        "database": database,
        "migrations": migrations,
        "changes": changes,
    }));
    if ready {
        body.into_response()
    } else {
        (axum::http::StatusCode::SERVICE_UNAVAILABLE, body).into_response()
    }
}
