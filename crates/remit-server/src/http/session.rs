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
        .route("/login/oidc", get(oidc_start))
        .route("/login/oidc/callback", get(oidc_callback))
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
    /// The trust's identity provider's name, where staff may sign in through it.
    provider: Option<String>,
    /// Whether the username and password form is offered.
    passwords: bool,
}

impl LoginPage {
    fn new(state: &AppState, username: &str, message: Option<String>, next: &str) -> Self {
        Self {
            username: username.to_owned(),
            message,
            next: next_page(next).to_owned(),
            provider: state.config.oidc.as_ref().map(|o| o.label.clone()),
            passwords: state.config.password_sign_in,
        }
    }
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
    State(state): State<AppState>,
    query: Result<axum::extract::Query<LoginQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Html<String>, AppError> {
    let next = query.map(|q| q.0.next).unwrap_or_default();
    render(&LoginPage::new(&state, "", None, &next))
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

fn login_again(state: &AppState, status: StatusCode, username: &str, message: String, next: &str) -> Response {
    match render(&LoginPage::new(state, username, Some(message), next)) {
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
        return login_again(&state, StatusCode::UNPROCESSABLE_ENTITY, "", message, &form.next);
    }
    if !state.config.password_sign_in {
        let message = match &state.config.oidc {
            Some(o) => format!("Sign-in with a password is turned off here: sign in with {}.", o.label),
            None => "Sign-in with a password is turned off here.".to_owned(),
        };
        return login_again(&state, StatusCode::FORBIDDEN, "", message, &form.next);
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
        Ok(Err((status, message))) => login_again(&state, status, &shown, message, &form.next),
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
    start_session(state, headers, (staff_id, name), "session.sign-in", None)
        .await
        .map(Ok)
}

/// Starts a session for a person whose sign-in succeeded, audited as `action`, keeping the ID token it began with
/// (for the provider's sign-out): the `Set-Cookie` value.
async fn start_session(
    state: &AppState,
    headers: &HeaderMap,
    (staff_id, name): (i64, &str),
    action: &str,
    id_token: Option<&str>,
) -> Result<String, AppError> {
    let store = &state.store;
    // Whatever session the browser held before, sign-in starts a new one with a new id.
    if let Some(old) = session_cookie(headers) {
        store.end_session(&old).await?;
    }
    let mut tx = store.begin().await?;
    let session = tx.create_session(staff_id).await?;
    if let Some(t) = id_token {
        tx.set_session_id_token(&session.id, t).await?;
    }
    tx.commit(AuditDraft::permit(
        format!("staff:{name}"),
        action,
        format!("staff:{name}"),
    ))
    .await?;
    Ok(session_set_cookie(&session.id, state))
}

/// `GET /login/oidc?next=…`: off to the trust's provider, with the flow kept for the way back.
async fn oidc_start(
    State(state): State<AppState>,
    query: Result<axum::extract::Query<LoginQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let Some(oidc) = state.config.oidc.clone() else {
        return Err(AppError::NotFound(
            "sign-in through an identity provider is not set up here".into(),
        ));
    };
    let next = query.map(|q| q.0.next).unwrap_or_default();
    let (url, csrf, flow) = oidc.begin(next_page(&next));
    state.store.put_oidc_flow(&csrf, &flow).await?;
    let mut res = Redirect::to(&url).into_response();
    let cookie = crate::http::oidc::state_set_cookie(
        state.config.secure_cookies,
        &csrf,
        remit_store::session::OIDC_FLOW_MINUTES * 60,
    );
    if let Ok(v) = header::HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(res)
}

#[derive(Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /login/oidc/callback`: the provider's answer; a session for the staff member it names, or the sign-in page
/// saying why not.
#[tracing::instrument(skip_all)]
async fn oidc_callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<axum::extract::Query<Callback>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let Some(oidc) = state.config.oidc.clone() else {
        return Err(AppError::NotFound(
            "sign-in through an identity provider is not set up here".into(),
        ));
    };
    let again = |message: String| {
        let mut res = login_again(&state, StatusCode::FORBIDDEN, "", message, "/");
        if let Ok(v) =
            header::HeaderValue::from_str(&crate::http::oidc::state_set_cookie(state.config.secure_cookies, "", 0))
        {
            res.headers_mut().insert(header::SET_COOKIE, v);
        }
        res
    };
    let refuse =
        |target: String, reason: String| AuditDraft::deny("anonymous", "session.sign-in-oidc", target, vec![reason]);
    let q = query.map(|q| q.0).unwrap_or(Callback {
        code: None,
        state: None,
        error: None,
    });
    let incomplete = "The answer from the identity provider was incomplete. Sign in again.";
    let Some(csrf) = q.state else {
        return Ok(again(incomplete.into()));
    };
    // The state must be the one this browser was given, and the flow still open: nothing else is read or written
    // for an answer this browser did not ask for.
    if crate::http::oidc::state_cookie(&headers, state.config.secure_cookies).as_deref() != Some(csrf.as_str()) {
        return Ok(again(
            "This sign-in was not started in this browser. Sign in again.".into(),
        ));
    }
    let Some(flow) = state.store.take_oidc_flow(&csrf).await? else {
        return Ok(again(
            "This sign-in took too long or was used already. Sign in again.".into(),
        ));
    };
    if let Some(e) = q.error {
        let e: String = e.chars().filter(char::is_ascii_graphic).take(64).collect();
        state
            .store
            .record(refuse("staff:unknown".into(), format!("the provider answered `{e}`")))
            .await?;
        let why = match e.as_str() {
            "access_denied" => "you were not signed in, or chose not to go on",
            "login_required" | "interaction_required" | "consent_required" => "it needs you to sign in there first",
            _ => "it could not sign you in",
        };
        return Ok(again(format!("{} answered that {why}. Sign in again.", oidc.label)));
    }
    let Some(code) = q.code else {
        return Ok(again(incomplete.into()));
    };
    let signed = match oidc.finish(&code, &flow).await {
        Ok(s) => s,
        Err(reason) => {
            tracing::warn!(%reason, "sign-in through the identity provider failed");
            state.store.record(refuse("staff:unknown".into(), reason)).await?;
            return Ok(again(format!(
                "{} did not confirm who you are. Sign in again.",
                oidc.label
            )));
        }
    };
    // Who it is: the staff member an administrator linked to the identity, or the username exactly as given.
    let found = match signed.claim {
        crate::http::oidc::Claim::Subject => state
            .store
            .staff_by_oidc_subject(&signed.value)
            .await?
            .map(|(id, u, status)| (id, u.to_string(), status)),
        crate::http::oidc::Claim::PreferredUsername => match Username::parse(&signed.value) {
            Ok(u) if u.as_str() == signed.value => state
                .store
                .credentials_of(&u)
                .await?
                .map(|(id, _, status)| (id, u.to_string(), status)),
            _ => None,
        },
    };
    let shown: String = signed.value.chars().filter(|c| c.is_ascii_graphic()).take(64).collect();
    let Some((staff_id, name, status)) = found else {
        state
            .store
            .record(refuse(
                format!("oidc:{shown}"),
                "no staff member is linked to this identity".into(),
            ))
            .await?;
        return Ok(again(format!(
            "You signed in as `{shown}` with {}, but no remit staff member is linked to that identity. Ask your \
             system administrator to link it to you.",
            oidc.label
        )));
    };
    if status != StaffStatus::Active {
        state
            .store
            .record(refuse(format!("staff:{name}"), "the account is suspended".into()))
            .await?;
        return Ok(again(
            "This account is suspended. Ask your system administrator.".into(),
        ));
    }
    let cookie = start_session(
        &state,
        &headers,
        (staff_id, &name),
        "session.sign-in-oidc",
        Some(&signed.id_token),
    )
    .await?;
    let mut res = Redirect::to(next_page(&flow.next)).into_response();
    for c in [
        cookie,
        crate::http::oidc::state_set_cookie(state.config.secure_cookies, "", 0),
    ] {
        if let Ok(v) = header::HeaderValue::from_str(&c) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(res)
}

async fn logout(State(state): State<AppState>, actor: Actor) -> Result<Response, AppError> {
    let mut id_token = None;
    if let crate::http::auth::Credential::Session { id, .. } = &actor.credential {
        if state.config.oidc.is_some() {
            id_token = state.store.session_id_token(id).await?;
        }
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
    // The provider's session ends too, where it offers an end-session endpoint.
    let to = state
        .config
        .oidc
        .as_ref()
        .map_or_else(|| "/login".to_owned(), |o| o.after_sign_out(id_token.as_deref()));
    let mut res = Redirect::to(&to).into_response();
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
