//! Delegated tasks: moving one's own along from "my work" (`/tasks/{id}/{move}`), and FHIR Task for systems
//! (create, read, search, moves by JSON Patch or operation). Every route calls `remit_services::tasks`.

use crate::AppState;
use axum::routing::{get, post};
use utoipa_axum::router::OpenApiRouter;

mod fhir;
mod pages;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .route("/tasks/{id}/{move}", post(pages::task_move))
        .route("/patients/{nhs}/tasks", post(pages::delegate))
        .route("/fhir/Task", post(fhir::create_task).get(fhir::search_tasks))
        .route("/fhir/Task/{id}", get(fhir::read_task).patch(fhir::patch_task))
        .route("/fhir/Task/{id}/{operation}", post(fhir::task_operation))
}
