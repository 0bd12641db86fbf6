//! FHIR Condition (a diagnosis) and MedicationRequest (a prescription): created through `remit_services::imaging`,
//! read and searched by whoever may read the patient's record.

use crate::AppState;
use crate::http::auth::Actor;
use crate::http::fhir::{
    FhirError, JSON, created, done, fhir_json, invalid, not_found, parse_body, search_of, search_records, value_at,
};
use crate::http::gate::{BreakGlass, open_record};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use remit_domain::clinical::{Diagnosis, Prescription};
use remit_fhir::clinical as fc;
use remit_fhir::search;
use remit_services::imaging;
use remit_services::imaging::Recorded;
use serde_json::Value;

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
    Ok(created(&condition(&r), "Condition"))
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
    Ok(created(&medication_request(&r), "MedicationRequest"))
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

fn condition(r: &Recorded<Diagnosis>) -> Value {
    fc::condition_to_fhir(
        r.id,
        &r.patient,
        &r.by,
        &r.at,
        &r.content.text,
        r.content.snomed.as_deref(),
    )
}

fn medication_request(r: &Recorded<Prescription>) -> Value {
    fc::medication_request_to_fhir(r.id, &r.patient, &r.by, &r.at, &r.content)
}

/// `GET /fhir/Condition/{id}`: a diagnosis, for whoever may read the patient's record.
#[tracing::instrument(skip_all)]
pub(crate) async fn read_condition(
    State(state): State<AppState>,
    actor: Actor,
    bg: BreakGlass,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let id: i64 = id.parse().map_err(|_| not_found("Condition"))?;
    let r = state.store.diagnosis(id).await.map_err(|_| not_found("Condition"))?;
    done(open_record(&state, &actor, &r.patient, &bg).await?)?;
    Ok(fhir_json(StatusCode::OK, &condition(&r)))
}

/// `GET /fhir/MedicationRequest/{id}`: a prescription, for whoever may read the patient's record.
#[tracing::instrument(skip_all)]
pub(crate) async fn read_medication_request(
    State(state): State<AppState>,
    actor: Actor,
    bg: BreakGlass,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let id: i64 = id.parse().map_err(|_| not_found("MedicationRequest"))?;
    let r = state
        .store
        .prescription(id)
        .await
        .map_err(|_| not_found("MedicationRequest"))?;
    done(open_record(&state, &actor, &r.patient, &bg).await?)?;
    Ok(fhir_json(StatusCode::OK, &medication_request(&r)))
}

/// `GET /fhir/Condition?patient=…`: a patient's diagnoses, searched as FHIR says.
#[tracing::instrument(skip_all)]
pub(crate) async fn search_conditions(
    State(state): State<AppState>,
    actor: Actor,
    bg: BreakGlass,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, FhirError> {
    let search = search_of(&search::CONDITION, &headers, &params)?;
    search_records(&state, &actor, &bg, &headers, &search, |nhs| {
        let store = state.store.clone();
        async move { Ok(store.diagnoses_of(&nhs).await?.iter().map(condition).collect()) }
    })
    .await
}

/// `GET /fhir/MedicationRequest?patient=…`: a patient's prescriptions, searched as FHIR says.
#[tracing::instrument(skip_all)]
pub(crate) async fn search_medication_requests(
    State(state): State<AppState>,
    actor: Actor,
    bg: BreakGlass,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, FhirError> {
    let search = search_of(&search::MEDICATION_REQUEST, &headers, &params)?;
    search_records(&state, &actor, &bg, &headers, &search, |nhs| {
        let store = state.store.clone();
        async move {
            Ok(store
                .prescriptions_of(&nhs)
                .await?
                .iter()
                .map(medication_request)
                .collect())
        }
    })
    .await
}
