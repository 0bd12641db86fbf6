//! The JSON API's shared parts: the OpenAPI document's title and security, and the extractors that answer a
//! malformed body (400/422, 413 when too large) or a path id that cannot be one (404) as remit's JSON errors.

use crate::http::error::AppError;
use axum::Json;
use axum::extract::{FromRequest, Request};
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(
    info(title = "remit API", description = "Scope-of-practice checks and staff data for what FHIR has no resource for."),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

/// The document's own parts (title, security), to which every feature's routes add theirs.
pub(crate) fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// Path parameters whose rejections are remit's errors: an id that cannot be one names nothing (404, JSON).
pub struct ApiPath<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for ApiPath<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Self(v)),
            Err(e) => Err(AppError::NotFound(format!("path: {}", e.body_text()))),
        }
    }
}

/// A JSON body whose rejections are remit's errors: 400 for malformed JSON, 422 naming the field otherwise.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::rejection::JsonRejection;
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Self(v)),
            Err(JsonRejection::JsonDataError(e)) => {
                let text = e.body_text();
                let detail = text.split_once(": ").map_or(text.as_str(), |(_, d)| d);
                Err(AppError::Unprocessable(format!("body: {detail}")))
            }
            Err(JsonRejection::JsonSyntaxError(_)) => Err(AppError::BadRequest("body: not valid JSON".into())),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(AppError::BadRequest(
                "send the body as JSON with `Content-Type: application/json`".into(),
            )),
            Err(other) if other.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                Err(AppError::TooLarge("body: larger than the server accepts".into()))
            }
            Err(other) => Err(AppError::BadRequest(format!("body: {}", other.body_text()))),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    /// What was wrong, naming the field.
    error: String,
}

/// The break-glass header, as the OpenAPI document shows it.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[expect(
    dead_code,
    reason = "read by scope::BreakGlass; declared here for the OpenAPI document"
)]
pub(crate) struct BreakGlassHeader {
    /// Why you must read this record outside your duty (an emergency): opens it for reading only, and the read is
    /// audited with the reason.
    #[param(rename = "Remit-Break-Glass")]
    break_glass: Option<String>,
}
