//! FHIR ServiceRequest (a referral) and DiagnosticReport (a report), through `remit_services::imaging`.

use crate::AppState;
use crate::http::auth::Actor;
use crate::http::fhir::{FhirError, JSON, created, done, fhir_json, invalid, not_found, parse_body, value_at};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use remit_fhir::clinical as fc;
use remit_services::imaging::Referral;
use remit_services::scope::Item;
use remit_services::{imaging, scope};

#[tracing::instrument(skip_all)]
pub(crate) async fn create_service_request(
    State(state): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, FhirError> {
    let v = parse_body(&headers, &body, JSON)?;
    let (patient, examination, clinical_info) = fc::referral_from_fhir(&v).map_err(invalid)?;
    state
        .imaging
        .examination(&examination)
        .map_err(value_at("ServiceRequest.code"))?;
    let r = Referral {
        patient,
        examination,
        clinical_info,
        by: actor.profile.staff.username.clone(),
    };
    let req = done(imaging::refer(&state.store, &state.pack, &state.imaging, &r, &actor.audit_name()).await?)?;
    let title = state
        .imaging
        .examination(&req.examination)
        .ok()
        .map(|e| e.title.as_str());
    Ok(created(&fc::request_to_fhir(&req, title), "ServiceRequest"))
}

async fn readable_request(
    state: &AppState,
    actor: &Actor,
    id: &str,
    kind: &str,
) -> Result<remit_store::imaging::RequestView, FhirError> {
    let id: i64 = id.parse().map_err(|_| not_found(kind))?;
    let r = state.store.imaging_request(id).await.map_err(|_| not_found(kind))?;
    done(scope::open_item(&state.store, &state.pack, actor, Item::Request(&r)).await?)?;
    Ok(r)
}

#[tracing::instrument(skip_all)]
pub(crate) async fn read_service_request(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let r = readable_request(&state, &actor, &id, "ServiceRequest").await?;
    let title = state.imaging.examination(&r.examination).ok().map(|e| e.title.as_str());
    Ok(fhir_json(StatusCode::OK, &fc::request_to_fhir(&r, title)))
}

#[tracing::instrument(skip_all)]
pub(crate) async fn create_diagnostic_report(
    State(state): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, FhirError> {
    let v = parse_body(&headers, &body, JSON)?;
    let (id, findings, conclusion) = fc::report_from_fhir(&v).map_err(invalid)?;
    let by = actor.profile.staff.username.clone();
    let r = done(
        imaging::report(
            &state.store,
            &state.pack,
            id,
            &by,
            &findings,
            &conclusion,
            &actor.audit_name(),
        )
        .await?,
    )?;
    let body = fc::report_to_fhir(&r).ok_or_else(|| not_found("DiagnosticReport"))?;
    Ok(created(&body, "DiagnosticReport"))
}

#[tracing::instrument(skip_all)]
pub(crate) async fn read_diagnostic_report(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let r = readable_request(&state, &actor, &id, "DiagnosticReport").await?;
    let body = fc::report_to_fhir(&r).ok_or_else(|| not_found("DiagnosticReport"))?;
    Ok(fhir_json(StatusCode::OK, &body))
}
