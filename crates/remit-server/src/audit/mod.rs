//! The audit log for administrators, with its chain's verification.

mod pages;

use axum::routing::get;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().route("/audit", get(pages::audit))
}
