//! The JSON API of the IR(ME)R chain: refer, justify or reject, pregnancy enquiry, expose, report, the
//! department's worklist, a patient's dose history and an operator's activity.

use crate::AppState;
use crate::http::auth::Actor;
use crate::http::error::{AppError, done};
use crate::http::gate::Opened;
use crate::http::openapi::{ApiJson, ApiPath};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use remit_domain::imaging::{ExposureRecord, Pregnancy, Repeat, Stage};
use remit_domain::nhs::NhsNumber;
use remit_domain::staff::Username;
use remit_policy::Supervision;
use remit_services::imaging::{Exposure, Referral, Verdict};
use remit_services::scope::Item;
use remit_services::{imaging, scope};
use remit_store::imaging::{DoseRow, RequestView};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReferBody {
    /// The patient's NHS number.
    patient: String,
    /// The examination's id in the catalogue, e.g. `chest-pa`.
    examination: String,
    /// Enough clinical information for a practitioner to justify the exposure.
    clinical_info: String,
}

/// Refer a patient for an X-ray (as the signed-in referrer).
#[utoipa::path(post, path = "/api/imaging/requests", tag = "imaging", request_body = ReferBody,
    responses((status = 201, body = Object), (status = 400, body = Object), (status = 401, body = Object),
        (status = 403, body = Object), (status = 404, body = Object), (status = 422, body = Object)))]
pub(crate) async fn refer(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(b): ApiJson<ReferBody>,
) -> Result<(StatusCode, Json<RequestView>), AppError> {
    let r = Referral {
        patient: NhsNumber::parse(&b.patient)?,
        examination: b.examination,
        clinical_info: b.clinical_info,
        by: actor.profile.staff.username.clone(),
    };
    let out = done(imaging::refer(&state.store, &state.pack, &state.imaging, &r, &actor.audit_name()).await?)?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// One request with its exposure and report.
#[utoipa::path(get, path = "/api/imaging/requests/{id}", tag = "imaging",
    params(("id" = i64, Path, description = "The request's id")),
    responses((status = 200, body = Object), (status = 401, body = Object), (status = 403, body = Object),
        (status = 404, body = Object)))]
pub(crate) async fn show(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<RequestView>, AppError> {
    let r = state.store.imaging_request(id).await?;
    done(scope::open_item(&state.store, &state.pack, &actor, Item::Request(&r)).await?)?;
    Ok(Json(r))
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DecisionBody {
    /// A note on the justification, or the reason for a rejection (required to reject).
    #[serde(default)]
    note: String,
}

/// Justify a request as an IR(ME)R practitioner.
#[utoipa::path(post, path = "/api/imaging/requests/{id}/justify", tag = "imaging",
    params(("id" = i64, Path, description = "The request's id")), request_body = DecisionBody,
    responses((status = 200, body = Object), (status = 401, body = Object), (status = 403, body = Object),
        (status = 404, body = Object), (status = 409, body = Object), (status = 422, body = Object)))]
pub(crate) async fn justify(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<DecisionBody>,
) -> Result<Json<RequestView>, AppError> {
    let by = actor.profile.staff.username.clone();
    Ok(Json(done(
        imaging::decide(
            &state.store,
            &state.pack,
            id,
            &by,
            Verdict::Justify,
            &b.note,
            &actor.audit_name(),
        )
        .await?,
    )?))
}

/// Reject a request, with the reason the referrer sees.
#[utoipa::path(post, path = "/api/imaging/requests/{id}/reject", tag = "imaging",
    params(("id" = i64, Path, description = "The request's id")), request_body = DecisionBody,
    responses((status = 200, body = Object), (status = 401, body = Object), (status = 403, body = Object),
        (status = 404, body = Object), (status = 409, body = Object), (status = 422, body = Object)))]
pub(crate) async fn reject(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<DecisionBody>,
) -> Result<Json<RequestView>, AppError> {
    let by = actor.profile.staff.username.clone();
    Ok(Json(done(
        imaging::decide(
            &state.store,
            &state.pack,
            id,
            &by,
            Verdict::Reject,
            &b.note,
            &actor.audit_name(),
        )
        .await?,
    )?))
}

fn supervision(s: &Option<String>, sup: &Option<String>) -> Result<(Supervision, Option<Username>), AppError> {
    let s = s
        .as_deref()
        .map(Supervision::parse)
        .transpose()?
        .unwrap_or(Supervision::None);
    Ok((s, sup.as_deref().map(Username::parse).transpose()?))
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PregnancyBody {
    /// no-possibility, not-pregnant, could-be, is-pregnant or declined.
    answer: String,
    /// none (default), indirect or direct.
    #[serde(default)]
    supervision: Option<String>,
    #[serde(default)]
    supervisor: Option<String>,
}

/// Record the pregnancy enquiry's answer, where the catalogue asks for one; could-be, is-pregnant and declined return the
/// request to the practitioner. An answer holds for that request on that day only.
#[utoipa::path(post, path = "/api/imaging/requests/{id}/pregnancy", tag = "imaging",
    params(("id" = i64, Path, description = "The request's id")), request_body = PregnancyBody,
    responses((status = 200, body = Object), (status = 401, body = Object), (status = 403, body = Object),
        (status = 404, body = Object), (status = 409, body = Object), (status = 422, body = Object)))]
pub(crate) async fn pregnancy(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<PregnancyBody>,
) -> Result<Json<RequestView>, AppError> {
    let answer = Pregnancy::parse(&b.answer)?;
    let (s, sup) = supervision(&b.supervision, &b.supervisor)?;
    let op = imaging::Operator {
        by: actor.profile.staff.username.clone(),
        supervision: s,
        supervisor: sup,
    };
    let o = imaging::pregnancy(
        &state.store,
        (&state.pack, &state.imaging),
        id,
        &op,
        answer,
        &actor.audit_name(),
    )
    .await?;
    Ok(Json(done(o)?))
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RepeatBody {
    projection: String,
    reason: String,
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExposeBody {
    #[serde(default)]
    supervision: Option<String>,
    #[serde(default)]
    supervisor: Option<String>,
    /// The projections taken, e.g. ["PA"].
    projections: Vec<String>,
    /// kVp, 40-150.
    kv: f64,
    /// mAs, 0.01-1000, two decimal places.
    mas: f64,
    /// Dose-area product of the whole exposure, Gy·cm², three decimal places (the sum of `projection_dap` when both
    /// are given).
    #[serde(default)]
    dap: Option<f64>,
    /// Each projection's dose-area product, Gy·cm², in the order of `projections`: needed where the examination's
    /// DRL is set per projection.
    #[serde(default)]
    projection_dap: Vec<f64>,
    /// Source-to-image distance, cm, 50-400.
    sid_cm: f64,
    #[serde(default)]
    repeats: Vec<RepeatBody>,
}

/// Record an exposure as its operator. A DAP above the local DRL is flagged for review.
#[utoipa::path(post, path = "/api/imaging/requests/{id}/expose", tag = "imaging",
    params(("id" = i64, Path, description = "The request's id")), request_body = ExposeBody,
    responses((status = 200, body = Object), (status = 401, body = Object), (status = 403, body = Object),
        (status = 404, body = Object), (status = 409, body = Object), (status = 422, body = Object)))]
pub(crate) async fn expose(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<ExposeBody>,
) -> Result<Json<RequestView>, AppError> {
    let repeats: Vec<Repeat> = b
        .repeats
        .into_iter()
        .map(|r| Repeat {
            projection: r.projection,
            reason: r.reason,
        })
        .collect();
    let (s, sup) = supervision(&b.supervision, &b.supervisor)?;
    let e = Exposure {
        request: id,
        by: actor.profile.staff.username.clone(),
        supervision: s,
        supervisor: sup,
        record: ExposureRecord::parse(
            &b.projections,
            b.kv,
            b.mas,
            (b.dap, &b.projection_dap),
            b.sid_cm,
            &repeats,
        )?,
    };
    Ok(Json(done(
        imaging::expose(&state.store, &state.pack, &state.imaging, &e, &actor.audit_name()).await?,
    )?))
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReportBody {
    #[serde(default)]
    findings: String,
    conclusion: String,
}

/// Report an exposed request.
#[utoipa::path(post, path = "/api/imaging/requests/{id}/report", tag = "imaging",
    params(("id" = i64, Path, description = "The request's id")), request_body = ReportBody,
    responses((status = 200, body = Object), (status = 401, body = Object), (status = 403, body = Object),
        (status = 404, body = Object), (status = 409, body = Object), (status = 422, body = Object)))]
pub(crate) async fn report(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<ReportBody>,
) -> Result<Json<RequestView>, AppError> {
    let by = actor.profile.staff.username.clone();
    Ok(Json(done(
        imaging::report(
            &state.store,
            &state.pack,
            id,
            &by,
            &b.findings,
            &b.conclusion,
            &actor.audit_name(),
        )
        .await?,
    )?))
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReviewDoseBody {
    /// What the review found (the patient's size, a repeat, equipment to check).
    note: String,
}

/// Record the review of an exposure above its DRL (an IR(ME)R practitioner; once only).
#[utoipa::path(post, path = "/api/imaging/requests/{id}/review-dose", tag = "imaging",
    params(("id" = i64, Path, description = "The request's id")), request_body = ReviewDoseBody,
    responses((status = 200, body = Object), (status = 401, body = Object), (status = 403, body = Object),
        (status = 404, body = Object), (status = 409, body = Object), (status = 422, body = Object)))]
pub(crate) async fn review_dose(
    State(state): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<ReviewDoseBody>,
) -> Result<Json<RequestView>, AppError> {
    let by = actor.profile.staff.username.clone();
    Ok(Json(done(
        imaging::review_drl(&state.store, &state.pack, id, &by, &b.note, &actor.audit_name()).await?,
    )?))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct WorklistQuery {
    /// awaiting-justification, awaiting-exposure, awaiting-report or drl-exceeded.
    stage: String,
}

/// A worklist, oldest first, among the requests the reader may see.
#[utoipa::path(get, path = "/api/imaging/worklist", tag = "imaging", params(WorklistQuery),
    responses((status = 200, body = [Object]), (status = 401, body = Object), (status = 422, body = Object)))]
pub(crate) async fn worklist(
    State(state): State<AppState>,
    actor: Actor,
    query: Result<Query<WorklistQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<RequestView>>, AppError> {
    let Query(q) = query.map_err(|e| AppError::Unprocessable(format!("query: {}", e.body_text())))?;
    let stage = Stage::parse(&q.stage)?;
    let mut out = Vec::new();
    for r in state.store.imaging_worklist(stage).await? {
        if scope::may_read_item(&state.store, &state.pack, &actor, Item::Request(&r)).await? {
            out.push(r);
        }
    }
    Ok(Json(out))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct FormatQuery {
    /// `json` (default) or `csv`.
    #[serde(default)]
    format: Option<String>,
}

fn doses(
    rows: Vec<DoseRow>,
    q: Result<Query<FormatQuery>, axum::extract::rejection::QueryRejection>,
    cumulative: bool,
) -> Result<Response, AppError> {
    let Query(q) = q.map_err(|e| AppError::Unprocessable(format!("query: {}", e.body_text())))?;
    match q.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(rows).into_response()),
        "csv" => Ok((
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            remit_services::imaging::dose_csv(&rows, cumulative),
        )
            .into_response()),
        other => Err(AppError::Unprocessable(format!(
            "format: `{}` is not json or csv",
            other.chars().take(20).collect::<String>()
        ))),
    }
}

/// A patient's exposures with the cumulative DAP (`?format=csv` to export).
#[utoipa::path(get, path = "/api/patients/{nhs_number}/dose-history", tag = "imaging",
    params(("nhs_number" = String, Path, description = "The patient's NHS number"), FormatQuery),
    responses((status = 200, content((Object = "application/json"), (String = "text/csv"))), (status = 401, body = Object), (status = 403, body = Object),
        (status = 404, body = Object), (status = 422, body = Object)))]
pub(crate) async fn dose_history(
    State(state): State<AppState>,
    Opened(record): Opened,
    q: Result<Query<FormatQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    // Opened by the gate on the patient's ward, or in the imaging department (see `patient_gate::also_at`).
    doses(state.store.dose_history(record.id).await?, q, true)
}

/// An operator's exposures (`?format=csv` to export): for the operator, and for practitioners and administrators.
#[utoipa::path(get, path = "/api/imaging/operators/{username}/activity", tag = "imaging",
    params(("username" = String, Path, description = "The operator"), FormatQuery),
    responses((status = 200, content(([Object] = "application/json"), (String = "text/csv"))), (status = 401, body = Object), (status = 403, body = Object),
        (status = 404, body = Object), (status = 422, body = Object)))]
pub(crate) async fn operator_activity(
    State(state): State<AppState>,
    actor: Actor,
    Path(username): Path<String>,
    q: Result<Query<FormatQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let u = Username::parse(&username)?;
    let id = state.store.staff_id(&u).await?;
    let me = &actor.profile;
    let allowed = me.staff.username == u
        || me
            .entitlements
            .contains(&remit_domain::staff::Entitlement::IrmerPractitioner)
        || me.staff.roles.contains(&remit_domain::staff::Role::Admin);
    if !allowed {
        let why = "An operator's activity is for the operator, IR(ME)R practitioners and administrators.".to_owned();
        let target = format!("staff:{u}");
        let reasons = scope::refuse_read(&state.store, &actor, "imaging.operator-activity", &target, vec![why]).await?;
        return Err(AppError::Refused(reasons));
    }
    doses(state.store.operator_activity(id).await?, q, false)
}
