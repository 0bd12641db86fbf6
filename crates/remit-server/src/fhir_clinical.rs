//! FHIR for X-ray work and clinical decisions: `ServiceRequest` (a referral), `DiagnosticReport` (its report),
//! `Condition` (a diagnosis) and `MedicationRequest` (a prescription). Each create goes through `imaging`, so the
//! policy decides; a refusal is 403 with one issue per unmet requirement.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use remit_domain::clinical::{Diagnosis, Prescription};
use remit_fhir::Issue;
use remit_fhir::clinical as fc;
use serde_json::Value;

use crate::AppState;
use crate::auth::Actor;
use crate::fhir::{FhirError, fhir_json, parse_body};
use crate::imaging::{self, Referral};
use crate::scope::Outcome;

const JSON: &[&str] = &["application/fhir+json", "application/json"];

use crate::fhir::invalid;

fn value_at(at: &'static str) -> impl Fn(remit_domain::InvalidValue) -> FhirError {
    move |e| invalid(Issue::new("value", e.to_string()).at(at))
}

fn done<T>(o: Outcome<T>) -> Result<T, FhirError> {
    match o {
        Outcome::Done(v) => Ok(v),
        Outcome::Refused(reasons) => Err(FhirError::forbidden(reasons)),
    }
}

fn created(body: &Value, kind: &str) -> Response {
    let mut res = fhir_json(StatusCode::CREATED, body);
    if let Ok(loc) = HeaderValue::from_str(&format!("/fhir/{kind}/{}", body["id"].as_str().unwrap_or_default())) {
        res.headers_mut().insert(header::LOCATION, loc);
    }
    res
}

fn not_found(kind: &str) -> FhirError {
    FhirError::with(
        StatusCode::NOT_FOUND,
        vec![Issue::new("not-found", format!("no such {kind}"))],
    )
}

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
    if let Some(reasons) = crate::imaging_api::refusal(state, actor, &r)
        .await
        .map_err(|e| FhirError::with(e.status(), vec![Issue::new("forbidden", e.to_string())]))?
    {
        return Err(FhirError::forbidden(reasons));
    }
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
