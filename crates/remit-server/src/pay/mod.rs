//! The Agenda for Change pay check: is a pay point right for a role's band, as a page and as JSON.

use crate::AppState;
use axum::routing::get;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

mod api;
mod pages;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .route("/pay", get(pages::pay_page))
        .routes(routes!(api::pay_check))
}
