//! Staff as FHIR `Practitioner` and `PractitionerRole`: read and searched by anyone signed in, as the staff scope
//! (`/api/staff/{username}/scope`) is; nothing here is about a patient.

use crate::AppState;
use crate::http::auth::Actor;
use crate::http::fhir::{FhirError, fhir_json, not_found, search_answer, search_of};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use remit_domain::staff::{StaffProfile, Username};
use remit_fhir::practitioner as fp;
use remit_fhir::search::{self, Search};
use serde_json::Value;

fn practitioner(state: &AppState, p: &StaffProfile) -> Value {
    fp::practitioner(p, |id| {
        state
            .pack
            .competencies()
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.title.clone())
    })
}

async fn profile(state: &AppState, username: &str, kind: &str) -> Result<StaffProfile, FhirError> {
    let u = Username::parse(username).map_err(|_| not_found(kind))?;
    state.store.staff_profile(&u).await.map_err(|_| not_found(kind))
}

/// `GET /fhir/Practitioner/{username}`.
#[tracing::instrument(skip_all)]
pub(crate) async fn read_practitioner(
    State(state): State<AppState>,
    _actor: Actor,
    Path(username): Path<String>,
) -> Result<Response, FhirError> {
    let p = profile(&state, &username, "Practitioner").await?;
    Ok(fhir_json(StatusCode::OK, &practitioner(&state, &p)))
}

/// `GET /fhir/PractitionerRole/{username}`.
#[tracing::instrument(skip_all)]
pub(crate) async fn read_practitioner_role(
    State(state): State<AppState>,
    _actor: Actor,
    Path(username): Path<String>,
) -> Result<Response, FhirError> {
    let p = profile(&state, &username, "PractitionerRole").await?;
    Ok(fhir_json(StatusCode::OK, &fp::practitioner_role(&p)))
}

/// Staff whose summary (username, name, whether active) can match the search, as whole profiles: a search by name
/// reads only the profiles of those it names.
async fn candidates(state: &AppState, search: &Search) -> Result<Vec<StaffProfile>, FhirError> {
    let mut out = Vec::new();
    for s in state.store.list_staff().await? {
        let light = fp::practitioner_summary(s.staff.username.as_str(), s.staff.name.as_str(), s.staff.is_active());
        if search.matches_on(&light, &["_id", "name", "active"]) {
            out.push(state.store.staff_profile(&s.staff.username).await?);
        }
    }
    Ok(out)
}

/// `GET /fhir/Practitioner?identifier=…&name=…&active=…`.
#[tracing::instrument(skip_all)]
pub(crate) async fn search_practitioners(
    State(state): State<AppState>,
    _actor: Actor,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, FhirError> {
    let search = search_of(&search::PRACTITIONER, &headers, &params)?;
    let found: Vec<Value> = candidates(&state, &search)
        .await?
        .iter()
        .map(|p| practitioner(&state, p))
        .collect();
    Ok(search_answer(&state, &headers, &search, found, &[]))
}

/// `GET /fhir/PractitionerRole?practitioner=…&location=…&role=…`; `_include=PractitionerRole:practitioner`.
#[tracing::instrument(skip_all)]
pub(crate) async fn search_practitioner_roles(
    State(state): State<AppState>,
    _actor: Actor,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, FhirError> {
    let search = search_of(&search::PRACTITIONER_ROLE, &headers, &params)?;
    let profiles = match search.pinned(&["practitioner", "_id"]) {
        Some(names) => {
            let mut out = Vec::new();
            for n in names {
                if let Ok(u) = Username::parse(&n)
                    && let Ok(p) = state.store.staff_profile(&u).await
                {
                    out.push(p);
                }
            }
            out
        }
        None => candidates(&state, &search).await?,
    };
    let found: Vec<Value> = profiles.iter().map(fp::practitioner_role).collect();
    let pool: Vec<Value> = if search.includes_anything() {
        profiles.iter().map(|p| practitioner(&state, p)).collect()
    } else {
        Vec::new()
    };
    Ok(search_answer(&state, &headers, &search, found, &pool))
}
