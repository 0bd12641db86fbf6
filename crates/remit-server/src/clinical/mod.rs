//! The clinical line no assistant practitioner crosses: diagnosing and prescribing, asked of the policy like every
//! other action, as JSON (`/api/patients/{nhs_number}/diagnoses`, `…/prescriptions`) and FHIR (Condition,
//! MedicationRequest). Every route calls `remit_services::imaging::{diagnose, prescribe}`.

use crate::AppState;
use axum::routing::{get, post};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

mod api;
mod fhir;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api::diagnose))
        .routes(routes!(api::prescribe))
        .route(
            "/fhir/Condition",
            post(fhir::create_condition).get(fhir::search_conditions),
        )
        .route("/fhir/Condition/{id}", get(fhir::read_condition))
        .route(
            "/fhir/MedicationRequest",
            post(fhir::create_medication_request).get(fhir::search_medication_requests),
        )
        .route("/fhir/MedicationRequest/{id}", get(fhir::read_medication_request))
}
