//! FHIR ServiceRequest (a referral) and DiagnosticReport (a report): created through `remit_services::imaging`,
//! read and searched by whoever may read the request.

use crate::AppState;
use crate::http::auth::Actor;
use crate::http::fhir::{
    FhirError, JSON, created, done, fhir_json, invalid, not_found, parse_body, readable_patients, search_answer,
    search_of, value_at,
};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use remit_domain::nhs::NhsNumber;
use remit_domain::place::PlaceCode;
use remit_fhir::Issue;
use remit_fhir::clinical as fc;
use remit_fhir::search::{self, Search};
use remit_services::imaging::Referral;
use remit_services::scope::Item;
use remit_services::{imaging, scope};
use remit_store::imaging::RequestView;
use serde_json::Value;

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

/// A patient's X-ray requests that the reader may read (as its referrer, or on the patient's ward or in the
/// department), each as FHIR by `to_fhir`, and the Patient where a page may include it.
async fn searched_requests(
    state: &AppState,
    actor: &Actor,
    search: &Search,
    to_fhir: impl Fn(&RequestView) -> Option<Value>,
) -> Result<(Vec<Value>, Vec<Value>), FhirError> {
    let mut candidates = Vec::new();
    let mut patients = Vec::new();
    for id in search.pinned(&["patient", "subject"]).unwrap_or_default() {
        let nhs = NhsNumber::parse(&id)
            .map_err(|e| FhirError::bad(Issue::new("value", format!("patient: {e}")).at("patient")))?;
        for r in state.store.imaging_requests_of(&nhs).await? {
            if !scope::may_read_item(&state.store, &state.pack, actor, Item::Request(&r)).await? {
                continue;
            }
            if let Some(v) = to_fhir(&r) {
                if search.includes_anything() && search.matches(&v) {
                    patients.push((r.patient.clone(), PlaceCode::parse(&r.department).ok()));
                }
                candidates.push(v);
            }
        }
    }
    let pool = readable_patients(state, actor, patients).await?;
    Ok((candidates, pool))
}

/// `GET /fhir/ServiceRequest?patient=…`: a patient's X-ray requests, searched as FHIR says.
#[tracing::instrument(skip_all)]
pub(crate) async fn search_service_requests(
    State(state): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, FhirError> {
    let search = search_of(&search::SERVICE_REQUEST, &headers, &params)?;
    let (candidates, pool) = searched_requests(&state, &actor, &search, |r| {
        let title = state.imaging.examination(&r.examination).ok().map(|e| e.title.as_str());
        Some(fc::request_to_fhir(r, title))
    })
    .await?;
    Ok(search_answer(&state, &headers, &search, candidates, &pool))
}

/// `GET /fhir/DiagnosticReport?patient=…`: the reports of a patient's X-ray requests, searched as FHIR says; with
/// `_include=DiagnosticReport:based-on`, the requests.
#[tracing::instrument(skip_all)]
pub(crate) async fn search_diagnostic_reports(
    State(state): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, FhirError> {
    let search = search_of(&search::DIAGNOSTIC_REPORT, &headers, &params)?;
    let requests = std::sync::Mutex::new(Vec::new());
    let (candidates, mut pool) = searched_requests(&state, &actor, &search, |r| {
        let report = fc::report_to_fhir(r)?;
        if search.includes_anything() {
            let title = state.imaging.examination(&r.examination).ok().map(|e| e.title.as_str());
            requests.lock().ok()?.push(fc::request_to_fhir(r, title));
        }
        Some(report)
    })
    .await?;
    pool.extend(requests.into_inner().unwrap_or_default());
    Ok(search_answer(&state, &headers, &search, candidates, &pool))
}
