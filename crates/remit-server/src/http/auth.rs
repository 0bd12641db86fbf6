//! Who is asking: a bearer token (systems, the CLI's API clients) or a session cookie (people in a browser).
//!
//! Cookie-authenticated requests that change something must also prove they come from remit's own pages: the
//! session's CSRF token in the `csrf` form field or the `x-csrf-token` header, and no cross-site `Origin`.

use crate::AppState;
use crate::http::error::{AppError, unauthorized};
use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use remit_services::Principal;
use remit_store::Versions;
use remit_store::staff::StaffProfile;

pub const SESSION_COOKIE: &str = "remit_session";

/// How the actor proved who they are.
#[derive(Debug, Clone)]
pub enum Credential {
    Token,
    /// A signed-in browser session, ended after `idle_seconds` without a request; its pages that do not update
    /// themselves ask for the inbox's count every `poll_seconds`.
    Session {
        id: String,
        csrf_token: String,
        idle_seconds: i64,
        poll_seconds: u64,
    },
}

/// The authenticated staff member behind a request, as they stand now: the [`Principal`] the services act for,
/// and how they proved who they are.
#[derive(Debug, Clone)]
pub struct Actor {
    pub principal: Principal,
    pub credential: Credential,
}

impl std::ops::Deref for Actor {
    type Target = Principal;

    fn deref(&self) -> &Principal {
        &self.principal
    }
}

impl Actor {
    fn new(profile: StaffProfile, versions: Versions, credential: Credential) -> Self {
        Self {
            principal: Principal { profile, versions },
            credential,
        }
    }

    /// How long the session lasts without a request, in seconds (none for a bearer token): pages warn before it ends.
    pub fn idle_seconds(&self) -> i64 {
        match &self.credential {
            Credential::Session { idle_seconds, .. } => *idle_seconds,
            Credential::Token => 0,
        }
    }

    /// How often a page that does not update itself asks for the inbox's count, in seconds.
    pub fn poll_seconds(&self) -> u64 {
        match &self.credential {
            Credential::Session { poll_seconds, .. } => *poll_seconds,
            Credential::Token => 0,
        }
    }

    /// The CSRF token to put in forms (empty for token clients, which do not use forms).
    pub fn csrf_token(&self) -> &str {
        match &self.credential {
            Credential::Session { csrf_token, .. } => csrf_token,
            Credential::Token => "",
        }
    }
}

impl FromRequestParts<AppState> for Actor {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(actor) = parts.extensions.get::<Actor>() {
            return Ok(actor.clone());
        }
        // A handler of a route that confirms its own authentication asked for an actor: confirmed by a query here.
        match parts.extensions.get::<Claimed>() {
            Some(claimed) => claimed.clone().confirm_by_query(state).await,
            None => Err(AppError::Unauthorized),
        }
    }
}

/// Routes (method and path) whose handler confirms a bearer token's holder itself ([`Claimed`]): there, a holder
/// unchanged since the store last read them costs no query of its own. The ward board, read all day by ward systems
/// and open boards, confirms them with the versions its own statement reads (one round trip rather than two); a set
/// posted as a FHIR transaction, sent by devices and systems many times a minute, by the versions its commit finds
/// ([`remit_store::Store::under`]: its commands write nothing unless they stand). Every other route, and a route
/// here asked for by a session, is authenticated in full before its handler runs.
const CONFIRMED_BY_HANDLER: &[(Method, &str)] = &[(Method::GET, "/wards/{place}"), (Method::POST, "/fhir")];

/// The actor of a route in [`CONFIRMED_BY_HANDLER`]: authenticated in full, or a bearer token's holder as the store
/// keeps them ([`remit_store::Store::kept_token_holder`]), not yet confirmed. The handler reads for
/// [`Claimed::staff_id`] and confirms with the versions read in the same statement before it shows or changes
/// anything ([`Claimed::confirm`]).
#[derive(Debug, Clone)]
pub struct Claimed {
    actor: Actor,
    /// The token, while its holder is not yet confirmed.
    unconfirmed: Option<String>,
}

impl Claimed {
    /// Whom the handler reads for: the actor it will be once confirmed.
    pub fn staff_id(&self) -> i64 {
        self.actor.profile.id
    }

    /// The actor, if the holder still stands under `read` (the versions read with the handler's statement), or else
    /// as read afresh; 401 if the token no longer stands (revoked, its holder suspended).
    pub async fn confirm(self, state: &AppState, read: Versions) -> Result<Actor, AppError> {
        if self.unconfirmed.is_none() {
            return Ok(self.actor);
        }
        if read.confirm(self.actor.versions) {
            let mut actor = self.actor;
            actor.principal.versions = read;
            return Ok(confirmed(actor));
        }
        self.confirm_by_query(state).await
    }

    /// The actor as kept, for a handler whose one write confirms them in its own commit, with the versions that
    /// commit must find unchanged (`None`: already confirmed). Nothing is to be shown or written for them otherwise:
    /// on any answer but that commit's success, the handler confirms them by a query and decides again.
    pub fn provisional(&self) -> (&Actor, Option<Versions>) {
        (&self.actor, self.unconfirmed.as_ref().map(|_| self.actor.versions))
    }

    /// The actor, once the commit of a write made under [`Claimed::provisional`]'s versions has succeeded (which
    /// confirms them).
    pub fn committed(self) -> Actor {
        if self.unconfirmed.is_some() {
            confirmed(self.actor)
        } else {
            self.actor
        }
    }

    /// The actor as the database has them now (a query), for a handler whose statement read no versions.
    pub async fn confirm_by_query(self, state: &AppState) -> Result<Actor, AppError> {
        let Some(token) = self.unconfirmed else {
            return Ok(self.actor);
        };
        match state.store.token_holder(&token).await? {
            // A token is never given to someone else; what was read for the claimed holder is theirs.
            Some((profile, versions)) if profile.id == self.actor.profile.id => {
                Ok(confirmed(Actor::new(profile, versions, Credential::Token)))
            }
            _ => Err(AppError::Unauthorized),
        }
    }
}

/// An actor once authenticated: named in the request's span (its log lines), as the middleware names those it
/// authenticates in full.
fn confirmed(actor: Actor) -> Actor {
    tracing::Span::current().record("staff", actor.profile.staff.username.as_str());
    actor
}

impl<S: Send + Sync> FromRequestParts<S> for Claimed {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(claimed) = parts.extensions.get::<Claimed>() {
            return Ok(claimed.clone());
        }
        let actor = parts.extensions.get::<Actor>().cloned().ok_or(AppError::Unauthorized)?;
        Ok(Claimed {
            actor,
            unconfirmed: None,
        })
    }
}

/// A bearer token's holder as the store keeps them, for a route in [`CONFIRMED_BY_HANDLER`].
fn kept_claim(state: &AppState, req: &Request) -> Option<Claimed> {
    let route = req.extensions().get::<MatchedPath>()?;
    if !CONFIRMED_BY_HANDLER
        .iter()
        .any(|(method, path)| method == req.method() && *path == route.as_str())
    {
        return None;
    }
    let token = bearer_token(req.headers().get(header::AUTHORIZATION)?)?;
    let (profile, versions) = state.store.kept_token_holder(token)?;
    Some(Claimed {
        actor: Actor::new(profile, versions, Credential::Token),
        unconfirmed: Some(token.to_owned()),
    })
}

/// The token of an `Authorization: Bearer …` header.
fn bearer_token(auth: &HeaderValue) -> Option<&str> {
    auth.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

/// The session cookie's value, if the request carries one.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    cookie(headers, SESSION_COOKIE)
}

/// The value of the cookie `name`, if the request carries it.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The header a page's own background requests carry (the header's inbox count): they are not activity, so they do
/// not move a session's idle clock, and a ward PC left open still signs out.
pub const BACKGROUND: &str = "x-remit-background";

/// Finds the actor behind the request's credentials. `Ok(None)`: no valid credentials. A session's idle clock moves
/// on, unless the request says it is the page's own ([`BACKGROUND`]).
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Option<Actor>, AppError> {
    authenticate_with(state, headers, !headers.contains_key(BACKGROUND)).await
}

/// Whether the credential of a request made earlier still stands (not signed out, expired or revoked, its holder
/// not suspended), and its holder as they are now; a session's idle clock is not moved by asking.
pub async fn still_standing(state: &AppState, headers: &HeaderMap) -> Result<Option<Actor>, AppError> {
    authenticate_with(state, headers, false).await
}

async fn authenticate_with(state: &AppState, headers: &HeaderMap, refresh: bool) -> Result<Option<Actor>, AppError> {
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        // A request that names a bearer token stands or falls by it: no fallback to a cookie.
        let Some(token) = bearer_token(auth) else {
            return Ok(None);
        };
        let Some((profile, versions)) = state.store.token_holder(token).await? else {
            return Ok(None);
        };
        return Ok(Some(Actor::new(profile, versions, Credential::Token)));
    }
    let Some(id) = session_cookie(headers) else {
        return Ok(None);
    };
    let session = if refresh {
        state.store.session(&id, state.config.sessions).await?
    } else {
        state.store.session_standing(&id, state.config.sessions).await?
    };
    let Some(session) = session else {
        return Ok(None);
    };
    let (profile, versions) = state.store.session_holder(&session).await?;
    if !profile.staff.is_active() {
        return Ok(None);
    }
    Ok(Some(Actor::new(
        profile,
        versions,
        Credential::Session {
            id,
            csrf_token: session.csrf_token,
            idle_seconds: state.config.sessions.idle.num_seconds(),
            poll_seconds: state.config.inbox_poll.as_secs().max(1),
        },
    )))
}

/// Refuses a request whose `Origin` or `Sec-Fetch-Site` says it was sent by another site's page.
pub fn check_same_origin(headers: &HeaderMap) -> Result<(), AppError> {
    let refused =
        || AppError::Forbidden("cross-site requests are refused: submit the form from remit's own page".into());
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && site == "cross-site"
    {
        return Err(refused());
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
        if origin == "null" || origin_host != host {
            return Err(refused());
        }
    }
    Ok(())
}

/// The middleware on every protected route.
pub async fn require_auth(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(claimed) = kept_claim(&state, &req) {
        // Named in the logs once the handler confirms it.
        let mut req = req;
        req.extensions_mut().insert(claimed);
        return next.run(req).await;
    }
    let actor = match authenticate(&state, req.headers()).await {
        Ok(Some(actor)) => actor,
        Ok(None) => return unauthorized(req.headers()),
        Err(e) => return e.into_response(),
    };
    let actor = confirmed(actor);
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let req = if unsafe_method && let Credential::Session { csrf_token, .. } = &actor.credential {
        if let Err(e) = check_same_origin(req.headers()) {
            return e.into_response();
        }
        match check_csrf(req, csrf_token, state.config.body_limit).await {
            Ok(req) => req,
            Err(e) => return e.into_response(),
        }
    } else {
        req
    };
    let mut req = req;
    req.extensions_mut().insert(actor);
    next.run(req).await
}

/// Checks the CSRF token in the header or, for a form, in its `csrf` field (the body is read and put back).
async fn check_csrf(req: Request, expected: &str, limit: usize) -> Result<Request, AppError> {
    let missing =
        || AppError::Forbidden("the form has expired or did not come from remit: reload the page and try again".into());
    if let Some(h) = req.headers().get("x-csrf-token") {
        return if constant_time_eq(h.as_bytes(), expected.as_bytes()) {
            Ok(req)
        } else {
            Err(missing())
        };
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(missing());
    }
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, limit)
        .await
        .map_err(|_| AppError::BadRequest("the request body could not be read".into()))?;
    let given = form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.into_owned());
    match given {
        Some(t) if constant_time_eq(t.as_bytes(), expected.as_bytes()) => {
            Ok(Request::from_parts(parts, Body::from(bytes)))
        }
        _ => Err(missing()),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The `Set-Cookie` value that starts a session.
pub fn session_set_cookie(id: &str, state: &AppState) -> String {
    let secure = if state.config.secure_cookies { "; Secure" } else { "" };
    format!(
        "{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        state.config.sessions.absolute.num_seconds()
    )
}

/// The `Set-Cookie` value that removes it from the browser.
pub fn session_clear_cookie(state: &AppState) -> String {
    let secure = if state.config.secure_cookies { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}")
}

/// The address a request came from, as sign-in throttling counts it: the connection's peer, or, when the peer is a
/// proxy the deployment trusts (`--trusted-proxy`), the last address that proxy added to `X-Forwarded-For` (the one
/// it saw; addresses further left were written by the client and prove nothing). `unknown` when neither is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceAddress(pub String);

impl FromRequestParts<AppState> for SourceAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        let Some(peer) = peer else {
            return Ok(Self("unknown".into()));
        };
        if state.config.trusted_proxies.contains(&peer) {
            let forwarded = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|a| a.trim().parse::<std::net::IpAddr>().ok())
                .next_back();
            if let Some(client) = forwarded {
                return Ok(Self(client.to_string()));
            }
        }
        Ok(Self(peer.to_string()))
    }
}
