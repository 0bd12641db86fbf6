//! `GET /fhir/Encounter/{id}` and `GET /fhir/Encounter?patient=…&status=…`: a patient's stays, for whoever may read
//! their record.

use crate::AppState;
use crate::http::auth::Actor;
use crate::http::fhir::{FhirError, done, fhir_json, not_found};
use crate::http::gate::{BreakGlass, open_record};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use remit_domain::adt::StayStatus;
use remit_domain::nhs::NhsNumber;
use remit_fhir::encounter::stay_to_fhir;
use remit_fhir::{Issue, NHS_NUMBER_SYSTEM, searchset};

fn bad_param(name: &str, msg: impl Into<String>) -> FhirError {
    FhirError::with(
        StatusCode::BAD_REQUEST,
        vec![Issue::new("value", msg).at(name.to_owned())],
    )
}

/// `GET /fhir/Encounter/{id}`: a stay, for whoever may read its patient's record.
#[tracing::instrument(skip_all)]
pub(crate) async fn read_encounter(
    State(state): State<AppState>,
    actor: Actor,
    bg: BreakGlass,
    Path(id): Path<String>,
) -> Result<Response, FhirError> {
    let id: i64 = id.parse().map_err(|_| not_found("Encounter"))?;
    let stay = state.store.stay(id).await.map_err(|_| not_found("Encounter"))?;
    done(open_record(&state, &actor, &stay.nhs_number, &bg).await?)?;
    Ok(fhir_json(StatusCode::OK, &stay_to_fhir(&stay)))
}

/// `GET /fhir/Encounter?patient=…[&status=…]`: a patient's stays, newest first.
#[tracing::instrument(skip_all)]
pub(crate) async fn search_encounters(
    State(state): State<AppState>,
    actor: Actor,
    bg: BreakGlass,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, FhirError> {
    let (mut patient, mut status) = (None, None);
    for (k, v) in &params {
        match k.as_str() {
            "patient" | "subject" => {
                let raw = v.strip_prefix("Patient/").unwrap_or(v);
                let raw = raw.strip_prefix(&format!("{NHS_NUMBER_SYSTEM}|")).unwrap_or(raw);
                patient = Some(NhsNumber::parse(raw).map_err(|e| bad_param("patient", e.to_string()))?);
            }
            "status" => status = Some(StayStatus::parse(v).map_err(|e| bad_param("status", e.message()))?),
            other => {
                return Err(bad_param(
                    other,
                    "not a search parameter of Encounter here (patient, status)",
                ));
            }
        }
    }
    let patient = patient.ok_or_else(|| bad_param("patient", "search by patient=Patient/{NHS number}"))?;
    done(open_record(&state, &actor, &patient, &bg).await?)?;
    let stays = state.store.stays(&patient, status).await?;
    Ok(fhir_json(
        StatusCode::OK,
        &searchset(stays.iter().map(stay_to_fhir).collect()),
    ))
}
