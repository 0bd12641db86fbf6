//! Vital signs and escalation: the ward board, the patient's chart and history, recording a set (with its live
//! score), observations missed, pregnancy status, the scale 2 prescription, the escalation inbox and the live
//! stream that open boards and inboxes listen to; the same work as JSON (`/api/patients/…`, `/api/sets/…`,
//! `/api/escalations/…`) and as FHIR (a transaction Bundle of a set, Observation, Patient). Every route calls
//! `remit_services::obs`.

use crate::AppState;
use axum::routing::{get, post};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

mod api;
mod chart;
mod fhir;
mod live;
mod pages;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .route("/wards/{place}", get(pages::ward_board))
        .route("/patients/{nhs}", get(pages::patient_page))
        .route("/patients/{nhs}/observations/new", get(pages::new_set_page))
        .route("/patients/{nhs}/observations", post(pages::record_set))
        .route("/patients/{nhs}/observations/missed", post(pages::record_missed))
        .route("/patients/{nhs}/pregnancy", post(pages::record_pregnancy))
        .route(
            "/patients/{nhs}/prescribe",
            get(pages::prescribe_page).post(pages::prescribe),
        )
        .route(
            "/observations/{version}/amend",
            get(pages::correct_page).post(pages::correct),
        )
        .route(
            "/observations/{version}/entered-in-error",
            post(pages::entered_in_error),
        )
        .route("/inbox", get(pages::inbox))
        .route("/escalations/{id}/acknowledge", post(pages::acknowledge))
        .route("/escalations/{id}/review", post(pages::review))
        .route("/events", get(live::events))
        .routes(routes!(api::record_set, api::list_sets))
        .routes(routes!(api::set_history))
        .routes(routes!(api::amend_set))
        .routes(routes!(api::set_entered_in_error))
        .routes(routes!(api::prescribe_scale2))
        .routes(routes!(api::overdue))
        .routes(routes!(api::escalations))
        .routes(routes!(api::escalation))
        .routes(routes!(api::inbox))
        .routes(routes!(api::acknowledge))
        .routes(routes!(api::review))
        .routes(routes!(api::score))
        .routes(routes!(api::missed))
        .routes(routes!(api::pregnancy))
        .route("/fhir", post(fhir::transaction))
        .route(
            "/fhir/Observation",
            post(fhir::create_observation).get(fhir::search_observations),
        )
        .route(
            "/fhir/Observation/{id}",
            get(fhir::read_observation).put(fhir::update_observation),
        )
        .route("/fhir/Observation/{id}/_history", get(fhir::observation_history))
        .route("/fhir/Observation/{id}/_history/{vid}", get(fhir::observation_version))
        .route("/fhir/Patient", get(fhir::search_patients))
        .route("/fhir/Patient/{nhs}", get(fhir::read_patient))
        .route("/fhir/Flag", get(fhir::search_flags))
        .route("/fhir/Flag/{id}", get(fhir::read_flag))
}
