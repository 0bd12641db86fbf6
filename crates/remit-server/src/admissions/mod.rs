//! Admissions, transfers and discharges: the patient administration system's ADT feed over MLLP (`mllp`), and each
//! patient's stays as FHIR `Encounter` (read, and search by patient and status), opened by the patient gate like the
//! rest of the record. Who left a place with work open is on its board (`observations`).

use crate::AppState;
use axum::routing::get;
use utoipa_axum::router::OpenApiRouter;

mod fhir;
pub mod mllp;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .route("/fhir/Encounter", get(fhir::search_encounters))
        .route("/fhir/Encounter/{id}", get(fhir::read_encounter))
}
