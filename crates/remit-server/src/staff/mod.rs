//! Staff and competencies: my work (tasks, scope, competencies and CPD), the education lead's competency matrix and
//! sign-off (`remit_services::competency`), as JSON who I am, what a person may do, and a scope question, and as
//! FHIR staff as `Practitioner` and `PractitionerRole`.

use crate::AppState;
use axum::routing::{get, post};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

mod api;
mod fhir;
pub(crate) mod pages;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .route("/me", get(pages::my_work))
        .route("/me/cpd", post(pages::add_cpd))
        .route("/me/progression", get(pages::my_progression))
        .route(
            "/me/revalidation",
            get(pages::my_revalidation).post(pages::add_evidence),
        )
        .route("/education", get(pages::education))
        .route("/education/sign-off", post(pages::sign_off))
        .route("/education/enrol", post(pages::enrol))
        .routes(routes!(api::me))
        .routes(routes!(api::scope_check))
        .routes(routes!(api::staff_scope))
        .routes(routes!(api::progression))
        .routes(routes!(api::next_level))
        .routes(routes!(api::enrol, api::enrolments))
        .routes(routes!(api::revalidation))
        .routes(routes!(api::add_evidence))
        .route("/fhir/Practitioner", get(fhir::search_practitioners))
        .route("/fhir/Practitioner/{username}", get(fhir::read_practitioner))
        .route("/fhir/PractitionerRole", get(fhir::search_practitioner_roles))
        .route("/fhir/PractitionerRole/{username}", get(fhir::read_practitioner_role))
}
