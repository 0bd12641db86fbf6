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
    decide_first(&state, &actor, &v, imaging::Clinical::Diagnosis).await?;
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
    decide_first(&state, &actor, &v, imaging::Clinical::Prescription).await?;
    let (patient, medicine, dose, route, frequency) = fc::medication_request_from_fhir(&v).map_err(invalid)?;
    let p = Prescription::parse(&medicine, &dose, &route, &frequency)
        .map_err(value_at("MedicationRequest.dosageInstruction[0]"))?;
    let by = actor.profile.staff.username.clone();
    let r = done(imaging::prescribe(&state.store, &state.pack, &patient, &by, &p, &actor.audit_name()).await?)?;
    let body = fc::medication_request_to_fhir(r.id, &r.patient, &r.by, &r.at, &r.content);
    Ok(created(&body, "MedicationRequest"))
}

/// Refuses, before the content is judged, someone the policy refuses whatever they sent for this patient: 403 with
/// every reason, not a 422 about a dose they may not give at all. A body whose patient cannot be read is left to the
/// content's checks, which name the `subject`.
async fn decide_first(
    state: &AppState,
    actor: &Actor,
    v: &remit_fhir::Json<'_>,
    what: imaging::Clinical,
) -> Result<(), FhirError> {
    let Some(patient) = fc::subject_if_readable(v) else {
        return Ok(());
    };
    let by = &actor.profile.staff.username;
    done(
        imaging::refused_whatever_the_content(&state.store, &state.pack, &patient, by, what, &actor.audit_name())
            .await?,
    )
}
