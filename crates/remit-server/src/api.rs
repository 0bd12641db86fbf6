//! The JSON API for what FHIR has no resource for.

use axum::routing::get;
use axum::{Json, Router};
use remit_store::staff::StaffProfile;

use crate::AppState;
use crate::auth::Actor;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/me", get(me))
}

/// The signed-in staff member as remit sees them now: level, registrations, entitlements, duty, competencies.
async fn me(actor: Actor) -> Json<StaffProfile> {
    Json(actor.profile)
}
