//! The JSON API of diagnosing and prescribing.

use crate::AppState;
use crate::http::auth::Actor;
use crate::http::error::{AppError, done};
use crate::http::gate::Opened;
use crate::http::openapi::ApiJson;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use remit_domain::clinical::{Diagnosis, Prescription};
use remit_services::imaging;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DiagnoseBody {
    diagnosis: String,
    /// A SNOMED CT concept id.
    #[serde(default)]
    code: Option<String>,
}

/// Record a diagnosis (needs `clinical.diagnose`).
#[utoipa::path(post, path = "/api/patients/{nhs_number}/diagnoses", tag = "clinical",
    params(("nhs_number" = String, Path, description = "The patient's NHS number")), request_body = DiagnoseBody,
    responses((status = 201, body = Object), (status = 401, body = Object), (status = 403, body = Object),
        (status = 404, body = Object), (status = 422, body = Object)))]
pub(crate) async fn diagnose(
    State(state): State<AppState>,
    actor: Actor,
    Opened(record): Opened,
    ApiJson(b): ApiJson<DiagnoseBody>,
) -> Result<Response, AppError> {
    let nhs = record.patient.nhs_number;
    let by = actor.profile.staff.username.clone();
    // Who may act is decided before what they sent is judged.
    let (store, pack, who) = (&state.store, &state.pack, actor.audit_name());
    done(imaging::refused_whatever_the_content(store, pack, &nhs, &by, imaging::Clinical::Diagnosis, &who).await?)?;
    let d = Diagnosis::parse(&b.diagnosis, b.code.as_deref())?;
    let out = done(imaging::diagnose(&state.store, &state.pack, &nhs, &by, &d, &actor.audit_name()).await?)?;
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PrescribeBody {
    medicine: String,
    /// An amount and unit, e.g. `500 mg`.
    dose: String,
    route: String,
    frequency: String,
}

/// Record a prescription (needs `medicines.prescribe`).
#[utoipa::path(post, path = "/api/patients/{nhs_number}/prescriptions", tag = "clinical",
    params(("nhs_number" = String, Path, description = "The patient's NHS number")), request_body = PrescribeBody,
    responses((status = 201, body = Object), (status = 401, body = Object), (status = 403, body = Object),
        (status = 404, body = Object), (status = 422, body = Object)))]
pub(crate) async fn prescribe(
    State(state): State<AppState>,
    actor: Actor,
    Opened(record): Opened,
    ApiJson(b): ApiJson<PrescribeBody>,
) -> Result<Response, AppError> {
    let nhs = record.patient.nhs_number;
    let by = actor.profile.staff.username.clone();
    // Who may act is decided before what they sent is judged.
    let (store, pack, who) = (&state.store, &state.pack, actor.audit_name());
    done(imaging::refused_whatever_the_content(store, pack, &nhs, &by, imaging::Clinical::Prescription, &who).await?)?;
    let p = Prescription::parse(&b.medicine, &b.dose, &b.route, &b.frequency)?;
    let out = done(imaging::prescribe(&state.store, &state.pack, &nhs, &by, &p, &actor.audit_name()).await?)?;
    Ok((StatusCode::CREATED, Json(out)).into_response())
}
