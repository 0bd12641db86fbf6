//! FHIR Condition (a diagnosis) and MedicationRequest (a prescription), through `remit_services::imaging`.

use crate::AppState;
use crate::http::auth::Actor;
use crate::http::fhir::{FhirError, JSON, created, done, invalid, parse_body, value_at};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use remit_domain::clinical::{Diagnosis, Prescription};
use remit_fhir::clinical as fc;
use remit_services::imaging;

#[tracing::instrument(skip_all)]
pub(crate) async fn create_condition(
    State(state): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, FhirError> {
    let v = parse_body(&headers, &body, JSON)?;
    let (patient, text, snomed) = fc::condition_from_fhir(&v).map_err(invalid)?;
    let d = Diagnosis::parse(&text, snomed.as_deref()).map_err(value_at("Condition.code"))?;
    let by = actor.profile.staff.username.clone();
    let r = done(imaging::diagnose(&state.store, &state.pack, &patient, &by, &d, &actor.audit_name()).await?)?;
    let body = fc::condition_to_fhir(
        r.id,
        &r.patient,
        &r.by,
        &r.at,
        &r.content.text,
        r.content.snomed.as_deref(),
    );
    Ok(created(&body, "Condition"))
}

#[tracing::instrument(skip_all)]
pub(crate) async fn create_medication_request(
    State(state): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, FhirError> {
    let v = parse_body(&headers, &body, JSON)?;
    let (patient, medicine, dose, route, frequency) = fc::medication_request_from_fhir(&v).map_err(invalid)?;
    let p = Prescription::parse(&medicine, &dose, &route, &frequency)
        .map_err(value_at("MedicationRequest.dosageInstruction[0]"))?;
    let by = actor.profile.staff.username.clone();
    let r = done(imaging::prescribe(&state.store, &state.pack, &patient, &by, &p, &actor.audit_name()).await?)?;
    let body = fc::medication_request_to_fhir(r.id, &r.patient, &r.by, &r.at, &r.content);
    Ok(created(&body, "MedicationRequest"))
}
