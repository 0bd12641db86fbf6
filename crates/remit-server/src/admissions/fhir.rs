//! `GET /fhir/Encounter/{id}` and `GET /fhir/Encounter?patient=…`: a patient's stays, for whoever may read
//! their record.

use crate::AppState;
use crate::http::auth::Actor;
use crate::http::fhir::{FhirError, done, fhir_json, not_found, search_of, search_records};
use crate::http::gate::{BreakGlass, open_record};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use remit_fhir::encounter::stay_to_fhir;
use remit_fhir::search;

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

/// `GET /fhir/Encounter?patient=…`: a patient's stays, searched as FHIR says, newest first.
#[tracing::instrument(skip_all)]
pub(crate) async fn search_encounters(
    State(state): State<AppState>,
    actor: Actor,
    bg: BreakGlass,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, FhirError> {
    let search = search_of(&search::ENCOUNTER, &headers, &params)?;
    search_records(&state, &actor, &bg, &headers, &search, |nhs| {
        let store = state.store.clone();
        async move { Ok(store.stays(&nhs, None).await?.iter().map(stay_to_fhir).collect()) }
    })
    .await
}
