//! X-ray exposures under IR(ME)R: referral, justification, pregnancy enquiry, exposure and report, the department's
//! worklists, a patient's dose history and an operator's activity; as pages (`/imaging/…`), JSON (`/api/imaging/…`)
//! and FHIR (ServiceRequest, DiagnosticReport). Every route calls `remit_services::imaging`.

use crate::AppState;
use axum::routing::{get, post};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

mod api;
mod fhir;
mod pages;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .route("/imaging", get(pages::worklists))
        .route("/imaging/requests/{id}", get(pages::request_page))
        .route("/imaging/requests/{id}/{step}", post(pages::request_step))
        .routes(routes!(api::refer))
        .routes(routes!(api::show))
        .routes(routes!(api::justify))
        .routes(routes!(api::reject))
        .routes(routes!(api::pregnancy))
        .routes(routes!(api::expose))
        .routes(routes!(api::report))
        .routes(routes!(api::review_dose))
        .routes(routes!(api::worklist))
        .routes(routes!(api::dose_history))
        .routes(routes!(api::operator_activity))
        .route(
            "/fhir/ServiceRequest",
            post(fhir::create_service_request).get(fhir::search_service_requests),
        )
        .route("/fhir/ServiceRequest/{id}", get(fhir::read_service_request))
        .route(
            "/fhir/DiagnosticReport",
            post(fhir::create_diagnostic_report).get(fhir::search_diagnostic_reports),
        )
        .route("/fhir/DiagnosticReport/{id}", get(fhir::read_diagnostic_report))
}
