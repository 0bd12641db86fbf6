//! Signing in and out, the front page, and the static files every page loads. Sign-in caps the username's and
//! password's length before any work and takes a try from the store's throttles before it checks the password.

use crate::AppState;
use crate::http::auth::{
    Actor, SourceAddress, check_same_origin, session_clear_cookie, session_cookie, session_set_cookie,
};
use crate::http::error::{AppError, render};
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use remit_domain::audit::AuditDraft;
use remit_domain::staff::{StaffStatus, Username};
use remit_store::credentials::verify_password;
use remit_store::session::{Throttle, ThrottleKeys, normalise_username};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;

pub fn public_router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        // Static files only are compressed (the design system's stylesheet is 278 KB, 30 KB gzipped): pages carry
        // CSRF tokens beside what people typed, which compression could leak (BREACH).
        .route(
            "/static/{file}",
            get(static_file).layer(tower_http::compression::CompressionLayer::new()),
        )
        .route("/assets/images/{file}", get(nhsuk_icon))
}

/// The NHS.UK frontend library's version, vendored in `static/nhsuk-frontend/` (its README says how to upgrade).
macro_rules! nhsuk {
    ($file:literal) => {
        include_str!(concat!("../../static/nhsuk-frontend/", $file))
    };
}

/// remit's stylesheet and scripts, compiled in: open to all (the sign-in page needs the stylesheet), and carrying
/// nothing about anyone. Pages load them rather than carry inline script or style, which the
/// Content-Security-Policy forbids.
const STATIC: &[(&str, &str, &str)] = &[
    (
        "nhsuk-frontend-10.6.1.min.css",
        "text/css; charset=utf-8",
        nhsuk!("nhsuk-frontend-10.6.1.min.css"),
    ),
    (
        "nhsuk-frontend-10.6.1.min.js",
        "text/javascript; charset=utf-8",
        nhsuk!("nhsuk-frontend-10.6.1.min.js"),
    ),
    (
        "components.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/components.js"),
    ),
    (
        "remit.css",
        "text/css; charset=utf-8",
        include_str!("../../static/remit.css"),
    ),
    (
        "live.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/live.js"),
    ),
    (
        "header.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/header.js"),
    ),
    (
        "record.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/record.js"),
    ),
];

/// The icons the NHS.UK stylesheet names by absolute path (`/assets/images/…`).
const NHSUK_ICONS: &[(&str, &str, &str)] = &[
    (
        "nhsuk-icon-arrow-down.svg",
        "image/svg+xml",
        nhsuk!("nhsuk-icon-arrow-down.svg"),
    ),
    (
        "nhsuk-icon-arrow-up-down.svg",
        "image/svg+xml",
        nhsuk!("nhsuk-icon-arrow-up-down.svg"),
    ),
    (
        "nhsuk-icon-arrow-up.svg",
        "image/svg+xml",
        nhsuk!("nhsuk-icon-arrow-up.svg"),
    ),
    ("nhsuk-icon-cross.svg", "image/svg+xml", nhsuk!("nhsuk-icon-cross.svg")),
];

async fn static_file(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    serve(STATIC, &file)
}

async fn nhsuk_icon(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    serve(NHSUK_ICONS, &file)
}

/// One of `files` by name. The vendored stylesheet and script (`nhsuk-frontend-<version>…`) carry their version in
/// their names and never change, so browsers may keep them for a year; remit's own files and the icons (whose names
/// stay the same across versions) for five minutes, so a new release reaches ward PCs soon.
fn serve(files: &[(&str, &'static str, &'static str)], file: &str) -> Response {
    match files.iter().find(|(name, _, _)| *name == file) {
        Some((name, kind, body)) => (
            [
                (header::CONTENT_TYPE, *kind),
                (
                    header::CACHE_CONTROL,
                    if name.starts_with("nhsuk-frontend-") {
                        "public, max-age=31536000, immutable"
                    } else {
                        "public, max-age=300"
                    },
                ),
            ],
            *body,
        )
            .into_response(),
        None => AppError::NotFound("no such file".into()).into_response(),
    }
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .route("/", get(front))
        .route("/logout", post(logout))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    username: String,
    message: Option<String>,
    /// The page of remit's to return to once signed in.
    next: String,
}

/// Where to go once signed in: a page of remit's own (a path, not another site's address), or the front page.
fn next_page(next: &str) -> &str {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && next.len() <= 512
        && next.chars().all(|c| c.is_ascii_graphic());
    if local && !next.starts_with("/login") {
        next
    } else {
        "/"
    }
}

#[derive(Deserialize, Default)]
struct LoginQuery {
    #[serde(default)]
    next: String,
}

async fn login_page(
    query: Result<axum::extract::Query<LoginQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Html<String>, AppError> {
    let next = query.map(|q| q.0.next).unwrap_or_default();
    render(&LoginPage {
        username: String::new(),
        message: None,
        next: next_page(&next).to_owned(),
    })
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

const WRONG: &str = "Wrong username or password.";

fn login_again(status: StatusCode, username: &str, message: String, next: &str) -> Response {
    match render(&LoginPage {
        username: username.to_owned(),
        message: Some(message),
        next: next_page(next).to_owned(),
    }) {
        Ok(page) => (status, page).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The longest username and password a sign-in form may carry: checked before any other work, so that neither a
/// password hash nor an audit entry is ever made of a megabyte.
pub(crate) const USERNAME_MAX: usize = 64;
pub(crate) const PASSWORD_MAX: usize = 1024;

#[tracing::instrument(skip_all)]
async fn login(
    State(state): State<AppState>,
    source: SourceAddress,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    if let Err(e) = check_same_origin(&headers) {
        return e.into_response();
    }
    if form.username.len() > USERNAME_MAX || form.password.len() > PASSWORD_MAX {
        let message = format!(
            "A username is at most {USERNAME_MAX} characters and a password at most {PASSWORD_MAX}: nothing was checked."
        );
        return login_again(StatusCode::UNPROCESSABLE_ENTITY, "", message, &form.next);
    }
    let name = normalise_username(&form.username);
    let shown = form.username.trim().to_owned();
    match login_inner(&state, &headers, &source, &name, &form.password).await {
        Ok(Ok(cookie)) => {
            let mut res = Redirect::to(next_page(&form.next)).into_response();
            if let Ok(v) = header::HeaderValue::from_str(&cookie) {
                res.headers_mut().insert(header::SET_COOKIE, v);
            }
            res
        }
        Ok(Err((status, message))) => login_again(status, &shown, message, &form.next),
        Err(e) => e.into_response(),
    }
}

/// `Ok(Ok(cookie))` on success; `Ok(Err(..))` a refusal to show on the form. Every attempt takes a try from the
/// throttle before its password is checked (counted as a failure until it succeeds), so parallel attempts cannot
/// check more passwords than the throttle allows; a throttled attempt is refused and audited without a check.
async fn login_inner(
    state: &AppState,
    headers: &HeaderMap,
    source: &SourceAddress,
    name: &str,
    password: &str,
) -> Result<Result<String, (StatusCode, String)>, AppError> {
    let store = &state.store;
    let target = format!("staff:{name}");
    let refuse = |reason: String| AuditDraft::deny("anonymous", "session.sign-in", target.clone(), vec![reason]);
    let keys = ThrottleKeys::new(&source.0, name);
    let taken = match store.take_sign_in_try(&keys).await? {
        Throttle::Go(taken) => taken,
        Throttle::WaitUntil(until) => {
            let wait = (until - store.now()).num_seconds().max(1);
            store
                .record(refuse(format!(
                    "throttled: too many failed sign-ins; next try in {wait} s"
                )))
                .await?;
            let wait_text = if wait == 1 {
                "1 second".to_owned()
            } else if wait < 120 {
                format!("{wait} seconds")
            } else {
                format!("{} minutes", (wait + 59) / 60)
            };
            return Ok(Err((
                StatusCode::TOO_MANY_REQUESTS,
                format!("Too many failed sign-ins for this username or from this computer. Try again in {wait_text}."),
            )));
        }
    };
    let username = Username::parse(name).ok();
    let found = match &username {
        Some(u) => store.credentials_of(u).await?,
        None => None,
    };
    let stored_hash = found.as_ref().and_then(|(_, h, _)| h.clone());
    let candidate = password.to_owned();
    let password_ok = tokio::task::spawn_blocking(move || verify_password(&candidate, stored_hash.as_deref()))
        .await
        .map_err(|e| AppError::Internal(format!("password check: {e}")))?;
    let (staff_id, status) = match (found, password_ok) {
        (Some((id, _, status)), true) => (id, status),
        _ => {
            store.record(refuse("wrong username or password".into())).await?;
            return Ok(Err((StatusCode::UNAUTHORIZED, WRONG.into())));
        }
    };
    store.sign_in_succeeded(taken).await?;
    if status != StaffStatus::Active {
        store.record(refuse("the account is suspended".into())).await?;
        return Ok(Err((
            StatusCode::FORBIDDEN,
            "This account is suspended. Ask your system administrator.".into(),
        )));
    }
    // Whatever session the browser held before, sign-in starts a new one with a new id.
    if let Some(old) = session_cookie(headers) {
        store.end_session(&old).await?;
    }
    let mut tx = store.begin().await?;
    let session = tx.create_session(staff_id).await?;
    tx.commit(AuditDraft::permit(
        format!("staff:{name}"),
        "session.sign-in",
        format!("staff:{name}"),
    ))
    .await?;
    Ok(Ok(session_set_cookie(&session.id, state)))
}

async fn logout(State(state): State<AppState>, actor: Actor) -> Result<Response, AppError> {
    if let crate::http::auth::Credential::Session { id, .. } = &actor.credential {
        let mut tx = state.store.begin().await?;
        tx.end_session(id).await?;
        tx.commit(AuditDraft::permit(
            actor.audit_name(),
            "session.sign-out",
            actor.audit_name(),
        ))
        .await?;
        state.events.credentials_changed();
    }
    let mut res = Redirect::to("/login").into_response();
    if let Ok(v) = header::HeaderValue::from_str(&session_clear_cookie(&state)) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(res)
}

/// `/` sends a person on duty to their ward's board, anyone else to their own page.
/// Where a person starts: a radiographer on duty in a department to the worklists, anyone else on duty to the board
/// of the first place they are on duty in, an education lead to the competency matrix, an administrator to the
/// audit log, everyone else to their own work.
async fn front(State(state): State<AppState>, actor: Actor) -> Result<Redirect, AppError> {
    let places = state.store.places().await?;
    let department = |code: &remit_domain::place::PlaceCode| {
        places
            .iter()
            .any(|p| &p.code == code && p.kind == remit_domain::place::PlaceKind::Department)
    };
    let on_duty = &actor.profile.on_duty;
    Ok(if actor.has_imaging_role() && on_duty.iter().any(department) {
        Redirect::to("/imaging")
    } else if let Some(w) = on_duty.first() {
        Redirect::to(&format!("/wards/{w}"))
    } else if actor.is_education_lead() && !actor.is_admin() {
        Redirect::to("/education")
    } else if actor.is_admin() {
        Redirect::to("/audit")
    } else {
        Redirect::to("/me")
    })
}

#[cfg(test)]
mod tests {
    use super::next_page;

    /// After sign-in the browser goes back only to a page of remit's own: never to another site's address, however
    /// written, nor round to the sign-in page again.
    #[test]
    fn sign_in_returns_only_to_remits_own_pages() {
        for (next, to) in [
            (
                "/patients/9990001375/observations/new",
                "/patients/9990001375/observations/new",
            ),
            ("/inbox?acknowledged=3", "/inbox?acknowledged=3"),
            ("", "/"),
            ("//evil.example/", "/"),
            ("https://evil.example/", "/"),
            ("/\\evil.example", "/"),
            ("/login?next=/x", "/"),
            ("/a b", "/"),
            ("javascript:alert(1)", "/"),
        ] {
            assert_eq!(next_page(next), to, "{next}");
        }
    }
}
