//! The one error type of the HTTP boundary. Client errors carry text safe to show; everything else becomes an opaque
//! 500 whose cause is logged once, inside the request's span (which carries the request id).

use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use remit_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("authentication required")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    /// A policy refusal, with every unmet requirement.
    #[error("refused: {}", .0.join(" "))]
    Refused(Vec<String>),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooManyRequests(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("internal error")]
    Internal(String),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => AppError::NotFound(m),
            StoreError::Conflict(m) => AppError::Conflict(m),
            StoreError::Invalid(m) => AppError::Unprocessable(m),
            e @ StoreError::Unconfirmed => AppError::Conflict(e.to_string()),
            other => AppError::Internal(other.to_string()),
        }
    }
}

/// Logs a failure of the server's own once, inside the request's span (which carries the request id), and answers
/// the text the asker sees instead: nothing of the cause.
pub(crate) fn internal(cause: &str) -> String {
    tracing::error!(cause = %cause, "internal error");
    "internal error: the server log has the details under this response's x-request-id".to_owned()
}

impl From<remit_domain::InvalidValue> for AppError {
    fn from(e: remit_domain::InvalidValue) -> Self {
        AppError::Unprocessable(e.to_string())
    }
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) | AppError::Refused(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            AppError::Internal(cause) => internal(cause),
            other => other.to_string(),
        };
        let body = match &self {
            AppError::Refused(reasons) => serde_json::json!({ "error": message, "reasons": reasons }),
            _ => serde_json::json!({ "error": message }),
        };
        let mut res = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"remit\""),
            );
        }
        res
    }
}

/// A 401 for a person in a browser: a page that sends them to sign in. Systems get JSON.
pub fn unauthorized(headers: &HeaderMap) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if wants_html {
        let page = crate::http::pages::SignInNeeded.render_html();
        let mut res = (StatusCode::UNAUTHORIZED, page).into_response();
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer realm=\"remit\""),
        );
        res
    } else {
        AppError::Unauthorized.into_response()
    }
}

/// Unknown routes: 404 for a signed-in caller, and 401 like every protected route for anyone else, so that probing
/// does not reveal which routes exist.
pub async fn not_found(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
    headers: HeaderMap,
) -> Response {
    match crate::http::auth::authenticate(&state, &headers).await {
        Ok(Some(_)) => AppError::NotFound("no such page or endpoint".into()).into_response(),
        Ok(None) => unauthorized(&headers),
        Err(e) => e.into_response(),
    }
}

/// Renders an askama template, mapping a render failure to a 500.
pub fn render(t: &impl askama::Template) -> Result<Html<String>, AppError> {
    t.render()
        .map(Html)
        .map_err(|e| AppError::Internal(format!("template: {e}")))
}

pub(crate) fn done<T>(o: remit_services::scope::Outcome<T>) -> Result<T, AppError> {
    match o {
        remit_services::scope::Outcome::Done(v) => Ok(v),
        remit_services::scope::Outcome::Refused(reasons) => Err(AppError::Refused(reasons)),
    }
}
